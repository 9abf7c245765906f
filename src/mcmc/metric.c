/*
 * Euclidean metrics for Hamiltonian Monte Carlo: unit, diagonal and dense (Betancourt 2017,
 * "A conceptual introduction to Hamiltonian Monte Carlo", Sec. 4.2). Dense products go
 * through BLAS (dsymv, dtrsv, dtrmv) and the factorisation through LAPACK's dpotrf.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

/* Fortran BLAS/LAPACK entry points of OpenBLAS (column-major, arguments by reference). */
void dsymv_(const char *uplo, const int *n, const double *alpha, const double *a, const int *lda,
            const double *x, const int *incx, const double *beta, double *y, const int *incy);
void dtrmv_(const char *uplo, const char *trans, const char *diag, const int *n, const double *a,
            const int *lda, double *x, const int *incx);
void dtrsv_(const char *uplo, const char *trans, const char *diag, const int *n, const double *a,
            const int *lda, double *x, const int *incx);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);

const char *ps_metric_kind_name(ps_metric_kind kind)
{
    switch (kind) {
    case PS_METRIC_UNIT:
        return "unit";
    case PS_METRIC_DIAG:
        return "diag";
    case PS_METRIC_DENSE:
        return "dense";
    }
    return NULL;
}

ps_status ps_metric_kind_parse(const char *name, ps_metric_kind *kind)
{
    if (name != NULL) {
        if (strcmp(name, "unit") == 0 || strcmp(name, "unit_e") == 0) {
            *kind = PS_METRIC_UNIT;
            return PS_OK;
        }
        if (strcmp(name, "diag") == 0 || strcmp(name, "diag_e") == 0) {
            *kind = PS_METRIC_DIAG;
            return PS_OK;
        }
        if (strcmp(name, "dense") == 0 || strcmp(name, "dense_e") == 0) {
            *kind = PS_METRIC_DENSE;
            return PS_OK;
        }
    }
    return ps_error(PS_ERR_CONFIG, "unknown metric '%s' (valid: unit, diag, dense)",
                    name ? name : "(null)");
}

size_t ps_metric_size(ps_metric_kind kind, size_t dim)
{
    switch (kind) {
    case PS_METRIC_UNIT:
        return 0;
    case PS_METRIC_DIAG:
        return dim;
    case PS_METRIC_DENSE:
        return dim * dim;
    }
    return 0;
}

void ps_metric_fini(ps_metric *metric)
{
    if (metric == NULL)
        return;
    ps_free_ptr(&metric->inv_metric);
    ps_free_ptr(&metric->inv_sqrt);
    ps_free_ptr(&metric->sqrt_diag);
    ps_free_ptr(&metric->chol);
    ps_free_ptr(&metric->scratch);
}

static void set_identity(double *a, size_t dim)
{
    memset(a, 0, dim * dim * sizeof *a);
    for (size_t i = 0; i < dim; i++)
        a[i * dim + i] = 1.0;
}

ps_status ps_metric_init(ps_metric *metric, ps_metric_kind kind, size_t dim)
{
    ps_status status = PS_OK;
    memset(metric, 0, sizeof *metric);
    metric->kind = kind;
    metric->dim = dim;
    if (dim > (size_t)INT_MAX || (kind == PS_METRIC_DENSE && dim > 46340))
        return ps_error(PS_ERR_CONFIG, "%s metric of dimension %zu is too large for BLAS",
                        ps_metric_kind_name(kind), dim);
    switch (kind) {
    case PS_METRIC_UNIT:
        break;
    case PS_METRIC_DIAG:
        PS_TRY(ps_alloc_array(&metric->inv_metric, dim, sizeof(double), "diagonal metric"));
        PS_TRY(ps_alloc_array(&metric->inv_sqrt, dim, sizeof(double), "diagonal metric"));
        PS_TRY(ps_alloc_array(&metric->sqrt_diag, dim, sizeof(double), "diagonal metric"));
        for (size_t i = 0; i < dim; i++)
            metric->inv_metric[i] = metric->inv_sqrt[i] = metric->sqrt_diag[i] = 1.0;
        break;
    case PS_METRIC_DENSE:
        PS_TRY(ps_alloc_array(&metric->inv_metric, dim * dim, sizeof(double), "dense metric"));
        PS_TRY(ps_alloc_array(&metric->chol, dim * dim, sizeof(double), "dense metric"));
        PS_TRY(ps_alloc_array(&metric->scratch, dim * dim, sizeof(double), "dense metric"));
        set_identity(metric->inv_metric, dim);
        set_identity(metric->chol, dim);
        break;
    default:
        return ps_error(PS_ERR_CONFIG, "invalid metric kind %d", (int)kind);
    }
    return PS_OK;
done:
    ps_metric_fini(metric);
    return status;
}

static void diag_refresh(ps_metric *metric)
{
    for (size_t i = 0; i < metric->dim; i++) {
        metric->sqrt_diag[i] = sqrt(metric->inv_metric[i]);
        metric->inv_sqrt[i] = 1.0 / metric->sqrt_diag[i];
    }
}

/* Factorises a (lower triangle, full storage) into out; true when positive definite. */
static bool cholesky(const double *a, double *out, size_t dim)
{
    int n = (int)dim, info = 0;
    memcpy(out, a, dim * dim * sizeof *out);
    if (dim == 0)
        return true;
    dpotrf_("L", &n, out, &n, &info);
    if (info != 0)
        return false;
    for (size_t j = 0; j < dim; j++)
        for (size_t i = 0; i < j; i++)
            out[j * dim + i] = 0.0;
    for (size_t i = 0; i < dim; i++)
        if (!(out[i * dim + i] > 0.0) || !isfinite(out[i * dim + i]))
            return false;
    return true;
}

static void set_dense(ps_metric *metric, const double *a, bool *repaired, char *warning,
                      size_t warning_size)
{
    size_t dim = metric->dim;
    double *cand = metric->scratch;
    bool finite = true;
    /* Symmetric from the lower triangle, so that products do not depend on the storage of
     * the upper one. */
    for (size_t j = 0; j < dim; j++) {
        for (size_t i = j; i < dim; i++) {
            double v = a[j * dim + i];
            if (!isfinite(v))
                finite = false;
            cand[j * dim + i] = cand[i * dim + j] = v;
        }
    }
    if (!finite) {
        *repaired = true;
        if (warning)
            snprintf(warning, warning_size,
                     "the dense metric estimate has non-finite elements; the previous metric "
                     "is kept");
        return;
    }
    if (cholesky(cand, metric->chol, dim)) {
        memcpy(metric->inv_metric, cand, dim * dim * sizeof *cand);
        return;
    }
    /* Not positive definite: add a growing jitter to the diagonal until dpotrf succeeds. */
    double scale = 0.0;
    for (size_t i = 0; i < dim; i++)
        scale = fmax(scale, fabs(cand[i * dim + i]));
    if (!(scale > 0.0))
        scale = 1.0;
    double jitter = 0.0;
    for (int k = 12; k >= 1; k--) {
        double add = scale * pow(10.0, -k) - jitter;
        jitter += add;
        for (size_t i = 0; i < dim; i++)
            cand[i * dim + i] += add;
        if (cholesky(cand, metric->chol, dim)) {
            memcpy(metric->inv_metric, cand, dim * dim * sizeof *cand);
            *repaired = true;
            if (warning)
                snprintf(warning, warning_size,
                         "the dense metric estimate is not positive definite; added %.3g to "
                         "its diagonal",
                         jitter);
            return;
        }
    }
    /* Fall back to the diagonal of the estimate. */
    for (size_t j = 0; j < dim; j++) {
        double d = a[j * dim + j];
        if (!(d > 0.0) || !isfinite(d))
            d = metric->inv_metric[j * dim + j];
        for (size_t i = 0; i < dim; i++)
            cand[j * dim + i] = 0.0;
        cand[j * dim + j] = d;
    }
    memcpy(metric->inv_metric, cand, dim * dim * sizeof *cand);
    if (!cholesky(metric->inv_metric, metric->chol, dim)) {
        set_identity(metric->inv_metric, dim);
        set_identity(metric->chol, dim);
    }
    *repaired = true;
    if (warning)
        snprintf(warning, warning_size,
                 "the dense metric estimate is not positive definite even with a jitter of "
                 "%.3g on its diagonal; only its diagonal is used",
                 jitter);
}

void ps_metric_set(ps_metric *metric, const double *inv_metric, bool *repaired, char *warning,
                   size_t warning_size)
{
    bool fixed = false;
    if (warning && warning_size > 0)
        warning[0] = '\0';
    switch (metric->kind) {
    case PS_METRIC_UNIT:
        break;
    case PS_METRIC_DIAG: {
        size_t bad = 0, first_bad = 0;
        for (size_t i = 0; i < metric->dim; i++) {
            double v = inv_metric[i];
            if (v > 0.0 && isfinite(v)) {
                metric->inv_metric[i] = v;
            } else {
                if (bad++ == 0)
                    first_bad = i;
            }
        }
        diag_refresh(metric);
        if (bad > 0) {
            fixed = true;
            if (warning)
                snprintf(warning, warning_size,
                         "the diagonal metric estimate has %zu non-finite or non-positive "
                         "element(s) (first: element %zu = %g); they keep their previous values",
                         bad, first_bad, inv_metric[first_bad]);
        }
        break;
    }
    case PS_METRIC_DENSE:
        set_dense(metric, inv_metric, &fixed, warning, warning_size);
        break;
    }
    if (repaired)
        *repaired = fixed;
}

void ps_metric_copy(ps_metric *dst, const ps_metric *src)
{
    size_t n = ps_metric_size(src->kind, src->dim);
    if (n == 0)
        return;
    memcpy(dst->inv_metric, src->inv_metric, n * sizeof(double));
    if (src->kind == PS_METRIC_DIAG) {
        memcpy(dst->inv_sqrt, src->inv_sqrt, n * sizeof(double));
        memcpy(dst->sqrt_diag, src->sqrt_diag, n * sizeof(double));
    } else {
        memcpy(dst->chol, src->chol, n * sizeof(double));
    }
}

void ps_metric_sample_momentum(const ps_metric *metric, ps_rng *rng, double *p)
{
    size_t dim = metric->dim;
    for (size_t i = 0; i < dim; i++)
        p[i] = ps_rng_normal(rng);
    switch (metric->kind) {
    case PS_METRIC_UNIT:
        break;
    case PS_METRIC_DIAG:
        for (size_t i = 0; i < dim; i++)
            p[i] *= metric->inv_sqrt[i];
        break;
    case PS_METRIC_DENSE: {
        /* With inv_metric = L L^T, p = L^{-T} u has covariance (L L^T)^{-1} = M. */
        int n = (int)dim, one = 1;
        if (n > 0)
            dtrsv_("L", "T", "N", &n, metric->chol, &n, p, &one);
        break;
    }
    }
}

void ps_metric_dtau_dp(const ps_metric *metric, const double *p, double *p_sharp)
{
    size_t dim = metric->dim;
    switch (metric->kind) {
    case PS_METRIC_UNIT:
        memcpy(p_sharp, p, dim * sizeof *p);
        break;
    case PS_METRIC_DIAG: {
        const double *a = metric->inv_metric;
        for (size_t i = 0; i < dim; i++)
            p_sharp[i] = a[i] * p[i];
        break;
    }
    case PS_METRIC_DENSE: {
        int n = (int)dim, one = 1;
        double alpha = 1.0, beta = 0.0;
        if (n > 0)
            dsymv_("L", &n, &alpha, metric->inv_metric, &n, p, &one, &beta, p_sharp, &one);
        break;
    }
    }
}

double ps_metric_kinetic(size_t dim, const double *p, const double *p_sharp)
{
    return 0.5 * ps_dot_fixed(p, p_sharp, dim);
}

void ps_metric_kick_drift(const ps_metric *metric, double half, const double *grad, double eps,
                          double *p, double *p_sharp, double *q)
{
    size_t dim = metric->dim;
    switch (metric->kind) {
    case PS_METRIC_UNIT:
        for (size_t i = 0; i < dim; i++) {
            double pi = p[i] + half * grad[i];
            p[i] = pi;
            p_sharp[i] = pi;
            q[i] += eps * pi;
        }
        break;
    case PS_METRIC_DIAG: {
        const double *a = metric->inv_metric;
        for (size_t i = 0; i < dim; i++) {
            double pi = p[i] + half * grad[i];
            double si = a[i] * pi;
            p[i] = pi;
            p_sharp[i] = si;
            q[i] += eps * si;
        }
        break;
    }
    case PS_METRIC_DENSE:
        for (size_t i = 0; i < dim; i++)
            p[i] += half * grad[i];
        ps_metric_dtau_dp(metric, p, p_sharp);
        for (size_t i = 0; i < dim; i++)
            q[i] += eps * p_sharp[i];
        break;
    }
}

double ps_metric_kick_kinetic(const ps_metric *metric, double half, const double *grad, double *p,
                              double *p_sharp)
{
    size_t dim = metric->dim;
    if (metric->kind == PS_METRIC_DENSE) {
        for (size_t i = 0; i < dim; i++)
            p[i] += half * grad[i];
        ps_metric_dtau_dp(metric, p, p_sharp);
        return 0.5 * ps_dot_fixed(p, p_sharp, dim);
    }
    const double *a = metric->kind == PS_METRIC_DIAG ? metric->inv_metric : NULL;
    double s0 = 0.0, s1 = 0.0;
    size_t i = 0;
    for (; i + 2 <= dim; i += 2) {
        double p0 = p[i] + half * grad[i], p1 = p[i + 1] + half * grad[i + 1];
        double q0 = a ? a[i] * p0 : p0, q1 = a ? a[i + 1] * p1 : p1;
        p[i] = p0;
        p[i + 1] = p1;
        p_sharp[i] = q0;
        p_sharp[i + 1] = q1;
        s0 += p0 * q0;
        s1 += p1 * q1;
    }
    for (; i < dim; i++) {
        double p0 = p[i] + half * grad[i];
        double q0 = a ? a[i] * p0 : p0;
        p[i] = p0;
        p_sharp[i] = q0;
        s0 += p0 * q0;
    }
    return 0.5 * (s0 + s1);
}

void ps_metric_sample_proposal(const ps_metric *metric, ps_rng *rng, double scale, double *delta)
{
    size_t dim = metric->dim;
    for (size_t i = 0; i < dim; i++)
        delta[i] = ps_rng_normal(rng);
    switch (metric->kind) {
    case PS_METRIC_UNIT:
        break;
    case PS_METRIC_DIAG:
        for (size_t i = 0; i < dim; i++)
            delta[i] *= metric->sqrt_diag[i];
        break;
    case PS_METRIC_DENSE: {
        /* L u has covariance L L^T = inv_metric. */
        int n = (int)dim, one = 1;
        if (n > 0)
            dtrmv_("L", "N", "N", &n, metric->chol, &n, delta, &one);
        break;
    }
    }
    for (size_t i = 0; i < dim; i++)
        delta[i] *= scale;
}
