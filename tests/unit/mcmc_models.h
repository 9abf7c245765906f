/*
 * Small C models for the mcmc unit tests, built through ps_model_create: a Gaussian with
 * a given mean and covariance (through its precision), and broken variants that return
 * NaN everywhere, reject a region, or give NaN gradients or log densities in a region.
 * Header-only (static functions) so each test program takes what it needs.
 */
#ifndef PS_TEST_MCMC_MODELS_H
#define PS_TEST_MCMC_MODELS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/model.h"

typedef enum test_fault {
    FAULT_NONE = 0,
    FAULT_NAN_EVERYWHERE,  /* log density NaN at every point */
    FAULT_REJECT_REGION,   /* PS_ERR_NUMERIC when x[0] > threshold */
    FAULT_NAN_GRAD_REGION, /* gradient NaN when x[0] > threshold */
    FAULT_INF_LP_REGION,   /* log density +inf when x[0] > threshold */
    FAULT_NAN_GRAD_ALWAYS, /* finite log density, NaN gradient everywhere */
    FAULT_NAN_AFTER_FIRST  /* finite at the first evaluation only, NaN afterwards */
} test_fault;

typedef struct test_gauss {
    size_t dim;
    double *mean;
    double *prec; /* dim*dim precision matrix, row-major (symmetric) */
    test_fault fault;
    double threshold;
    long evaluations;
} test_gauss;

typedef struct test_gauss_ws {
    double *diff;
    char message[64];
} test_gauss_ws;

static inline void test_gauss_destroy(void *impl)
{
    test_gauss *g = impl;
    ps_free(g->mean);
    ps_free(g->prec);
    ps_free(g);
}

static inline ps_status test_gauss_ws_create(const void *impl, void **ws)
{
    const test_gauss *g = impl;
    test_gauss_ws *w = ps_calloc(1, sizeof *w);
    if (w == NULL)
        return ps_error(PS_ERR_MEM, "test model workspace");
    w->diff = ps_calloc(g->dim + 1, sizeof(double));
    if (w->diff == NULL) {
        ps_free(w);
        return ps_error(PS_ERR_MEM, "test model workspace");
    }
    *ws = w;
    return PS_OK;
}

static inline void test_gauss_ws_destroy(void *ws)
{
    test_gauss_ws *w = ws;
    ps_free(w->diff);
    ps_free(w);
}

static inline const char *test_gauss_ws_message(const void *ws)
{
    return ((const test_gauss_ws *)ws)->message;
}

static inline ps_status test_gauss_lpg(const void *impl, void *ws, const double *x, double *lp,
                                       double *grad)
{
    test_gauss *g = (test_gauss *)impl;
    test_gauss_ws *w = ws;
    size_t d = g->dim;
    g->evaluations++;
    w->message[0] = '\0';
    bool in_region = d > 0 && x[0] > g->threshold;
    if (g->fault == FAULT_REJECT_REGION && in_region) {
        snprintf(w->message, sizeof w->message, "x[1] = %g exceeds %g", x[0], g->threshold);
        *lp = -INFINITY;
        return PS_ERR_NUMERIC;
    }
    for (size_t i = 0; i < d; i++)
        w->diff[i] = x[i] - g->mean[i];
    double quad = 0.0;
    for (size_t i = 0; i < d; i++) {
        double row = 0.0;
        for (size_t j = 0; j < d; j++)
            row += g->prec[i * d + j] * w->diff[j];
        quad += w->diff[i] * row;
        if (grad)
            grad[i] = -row;
    }
    *lp = -0.5 * quad;
    if (g->fault == FAULT_NAN_EVERYWHERE ||
        (g->fault == FAULT_NAN_AFTER_FIRST && g->evaluations > 1))
        *lp = NAN;
    if (g->fault == FAULT_INF_LP_REGION && in_region)
        *lp = INFINITY;
    if (grad &&
        (g->fault == FAULT_NAN_GRAD_ALWAYS || (g->fault == FAULT_NAN_GRAD_REGION && in_region)))
        grad[d - 1] = NAN;
    return PS_OK;
}

static inline ps_status test_gauss_constrain(const void *impl, void *ws, const double *x,
                                             double *out)
{
    const test_gauss *g = impl;
    (void)ws;
    memcpy(out, x, g->dim * sizeof(double));
    return PS_OK;
}

static const ps_model_ops test_gauss_ops = {
    .name = "test_gauss",
    .destroy = test_gauss_destroy,
    .workspace_create = test_gauss_ws_create,
    .workspace_destroy = test_gauss_ws_destroy,
    .log_density_gradient = test_gauss_lpg,
    .log_density = NULL,
    .constrain = test_gauss_constrain,
    .workspace_message = test_gauss_ws_message,
};

/*
 * Creates a Gaussian model with the given mean (NULL: zero) and precision (row-major
 * dim*dim; NULL: from sd, the diagonal standard deviations; both NULL: identity).
 * *impl_out (may be NULL) receives the implementation to inspect evaluation counts.
 */
static inline ps_status test_gauss_create(size_t dim, const double *mean, const double *prec,
                                          const double *sd, test_fault fault, double threshold,
                                          ps_model **out, test_gauss **impl_out)
{
    test_gauss *g = ps_calloc(1, sizeof *g);
    if (g == NULL)
        return ps_error(PS_ERR_MEM, "test model");
    g->dim = dim;
    g->fault = fault;
    g->threshold = threshold;
    g->mean = ps_calloc(dim + 1, sizeof(double));
    g->prec = ps_calloc(dim * dim + 1, sizeof(double));
    if (g->mean == NULL || g->prec == NULL) {
        test_gauss_destroy(g);
        return ps_error(PS_ERR_MEM, "test model");
    }
    for (size_t i = 0; i < dim; i++) {
        g->mean[i] = mean ? mean[i] : 0.0;
        for (size_t j = 0; j < dim; j++) {
            if (prec)
                g->prec[i * dim + j] = prec[i * dim + j];
            else if (i == j)
                g->prec[i * dim + j] = sd ? 1.0 / (sd[i] * sd[i]) : 1.0;
        }
    }
    ps_var_info var;
    memset(&var, 0, sizeof var);
    var.name = "x";
    var.ndim = 1;
    var.dims[0] = dim;
    ps_model_desc desc = {dim, NULL, &var, 1, NULL, "test Gaussian"};
    if (impl_out)
        *impl_out = g;
    return ps_model_create(&test_gauss_ops, g, &desc, out);
}

/* Inverts a symmetric positive definite matrix (row-major) by Gauss-Jordan; test use. */
static inline int test_invert(size_t n, const double *a, double *inv)
{
    double *m = calloc(n * 2 * n, sizeof(double));
    if (m == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            m[i * 2 * n + j] = a[i * n + j];
        m[i * 2 * n + n + i] = 1.0;
    }
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(m[r * 2 * n + c]) > fabs(m[piv * 2 * n + c]))
                piv = r;
        if (m[piv * 2 * n + c] == 0.0) {
            free(m);
            return 0;
        }
        for (size_t k = 0; k < 2 * n; k++) {
            double t = m[c * 2 * n + k];
            m[c * 2 * n + k] = m[piv * 2 * n + k];
            m[piv * 2 * n + k] = t;
        }
        double d = m[c * 2 * n + c];
        for (size_t k = 0; k < 2 * n; k++)
            m[c * 2 * n + k] /= d;
        for (size_t r = 0; r < n; r++) {
            if (r == c)
                continue;
            double f = m[r * 2 * n + c];
            for (size_t k = 0; k < 2 * n; k++)
                m[r * 2 * n + k] -= f * m[c * 2 * n + k];
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            inv[i * n + j] = m[i * 2 * n + n + j];
    free(m);
    return 1;
}

#endif
