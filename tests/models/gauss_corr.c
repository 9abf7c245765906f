/*
 * gauss_corr: a multivariate normal with mean mu and covariance Sigma from the data, as
 * ../shared/bench/models/gauss100_corr.stan (which has mu = 0):
 *
 *     data { int<lower=1> D; cov_matrix[D] Sigma; vector[D] mu; // mu optional, default 0 }
 *     transformed data { matrix[D, D] L = cholesky_decompose(Sigma); }
 *     parameters { vector[D] x; }
 *     model { x ~ multi_normal_cholesky(mu, L); }
 *
 * Data: {"D": 3, "Sigma": [[...], [...], [...]], "mu": [...]} (Sigma as an array of rows;
 * the format of ../shared/bench/data/gauss100_corr.json).
 *
 * With z = L^{-1} (x - mu): log p(x) = -z'z / 2 (propto; L is data, so Stan drops
 * log det L with the 2 pi term), and -z'z/2 - sum(log diag L) - D log(sqrt(2 pi))
 * otherwise. The gradient is -Sigma^{-1} (x - mu) = -L^{-T} z. The Cholesky factor is
 * computed once (LAPACK dpotrf); each evaluation costs two triangular solves, O(D^2).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bs_test_model.h"
#include "tm_blas.h"

const char tm_model_name[] = "gauss_corr";

typedef struct gauss_corr {
    int D;
    double *L;  /* lower Cholesky factor, column-major D x D */
    double *mu; /* D */
    double log_det_L;
} gauss_corr;

void tm_destruct(tm_model *m)
{
    gauss_corr *g = m->impl;
    if (g == NULL)
        return;
    free(g->L);
    free(g->mu);
    free(g);
}

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long D;
    if (tm_data_int(data, "D", 1, 20000, &D, err) != 0)
        return -1;
    gauss_corr *g = calloc(1, sizeof *g);
    if (g == NULL)
        return tm_fail(err, "out of memory");
    m->impl = g;
    g->D = (int)D;
    size_t n = (size_t)D;
    g->L = malloc(n * n * sizeof(double));
    g->mu = calloc(n, sizeof(double));
    if (g->L == NULL || g->mu == NULL)
        return tm_fail(err, "out of memory");
    if (tm_data_matrix(data, "Sigma", n, n, g->L, err) != 0)
        return -1;
    if (tm_data_has(data, "mu") && tm_data_reals(data, "mu", n, g->mu, err) != 0)
        return -1;
    /* Stan's cov_matrix check: symmetric to an absolute 1e-8, then positive definite. */
    for (size_t j = 0; j < n; j++) {
        for (size_t i = j + 1; i < n; i++) {
            if (!(fabs(g->L[i + j * n] - g->L[j + i * n]) <= 1e-8))
                return tm_fail(err,
                               "Exception: Sigma is not symmetric. Sigma[%zu,%zu] = %g, but "
                               "Sigma[%zu,%zu] = %g",
                               i + 1, j + 1, g->L[i + j * n], j + 1, i + 1, g->L[j + i * n]);
        }
    }
    int info = 0;
    dpotrf_("L", &g->D, g->L, &g->D, &info, 1);
    if (info != 0)
        return tm_fail(err, "Exception: cholesky_decompose: Matrix Sigma is not positive definite");
    g->log_det_L = 0.0;
    for (size_t i = 0; i < n; i++) {
        g->log_det_L += log(g->L[i + i * n]);
        for (size_t j = i + 1; j < n; j++)
            g->L[i + j * n] = 0.0; /* the strict upper triangle still holds Sigma */
    }
    size_t dims[1] = {n};
    return tm_declare(m, "x", false, 1, dims, err);
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)jacobian;
    const gauss_corr *g = m->impl;
    size_t n = (size_t)g->D;
    double *z = grad ? grad : malloc(n * sizeof(double));
    if (z == NULL)
        return tm_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        z[i] = theta[i] - g->mu[i];
    int one = 1;
    dtrsv_("L", "N", "N", &g->D, g->L, &g->D, z, &one, 1, 1, 1);
    double q = 0.0;
    for (size_t i = 0; i < n; i++)
        q += z[i] * z[i];
    *lp = -0.5 * q - (propto ? 0.0 : g->log_det_L + (double)n * TM_LOG_SQRT_2PI);
    if (grad) {
        dtrsv_("L", "T", "N", &g->D, g->L, &g->D, grad, &one, 1, 1, 1);
        for (size_t i = 0; i < n; i++)
            grad[i] = -grad[i];
    } else {
        free(z);
    }
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)include_tp;
    (void)err;
    const gauss_corr *g = m->impl;
    memcpy(out, theta, (size_t)g->D * sizeof(double));
    return 0;
}
