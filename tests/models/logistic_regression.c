/*
 * logistic_regression, exactly ../shared/bench/models/logistic_regression.stan:
 *
 *     data { int<lower=0> N; int<lower=1> D; matrix[N, D] X;
 *            array[N] int<lower=0, upper=1> y; }
 *     parameters { real alpha; vector[D] beta; }
 *     model { alpha ~ normal(0, 2.5); beta ~ normal(0, 2.5);
 *             y ~ bernoulli_logit_glm(X, alpha, beta); }
 *
 * Data: {"N": 5000, "D": 25, "X": [[...] x N rows], "y": [0, 1, ...]}.
 * With eta = alpha + X beta:
 *
 *     log p = -(alpha^2 + beta'beta) / 12.5 + sum_i (y_i eta_i - log(1 + exp(eta_i)))
 *
 * (propto; otherwise also -(1 + D)(log 2.5 + log sqrt(2 pi)); the likelihood has no
 * constant term). Gradient: r = y - inv_logit(eta), d alpha = -alpha/6.25 + sum r,
 * d beta = -beta/6.25 + X'r. X is kept column-major for BLAS dgemv (X beta and X'r).
 */
#include <math.h>
#include <stdlib.h>

#include "bs_test_model.h"
#include "tm_blas.h"

const char tm_model_name[] = "logistic_regression";

typedef struct logistic {
    int N, D;
    double *X; /* column-major N x D, leading dimension max(N, 1) */
    int *y;
} logistic;

void tm_destruct(tm_model *m)
{
    logistic *l = m->impl;
    if (l == NULL)
        return;
    free(l->X);
    free(l->y);
    free(l);
}

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long N, D;
    if (tm_data_int(data, "N", 0, 100000000, &N, err) != 0 ||
        tm_data_int(data, "D", 1, 100000, &D, err) != 0)
        return -1;
    logistic *l = calloc(1, sizeof *l);
    if (l == NULL)
        return tm_fail(err, "out of memory");
    m->impl = l;
    l->N = (int)N;
    l->D = (int)D;
    l->X = calloc((size_t)(N > 0 ? N : 1) * (size_t)D, sizeof(double));
    l->y = calloc((size_t)N + 1, sizeof(int));
    if (l->X == NULL || l->y == NULL)
        return tm_fail(err, "out of memory");
    if (tm_data_matrix(data, "X", (size_t)N, (size_t)D, l->X, err) != 0 ||
        tm_data_ints(data, "y", (size_t)N, 0, 1, l->y, err) != 0)
        return -1;
    size_t dims[1] = {(size_t)D};
    if (tm_declare(m, "alpha", false, 0, NULL, err) || tm_declare(m, "beta", false, 1, dims, err))
        return -1;
    return 0;
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)jacobian;
    const logistic *l = m->impl;
    double alpha = theta[0];
    const double *beta = theta + 1;
    double sum = -alpha * alpha / 12.5;
    for (int k = 0; k < l->D; k++)
        sum += -beta[k] * beta[k] / 12.5;
    if (!propto)
        sum -= (1.0 + l->D) * (log(2.5) + TM_LOG_SQRT_2PI);
    double d_alpha = -alpha / 6.25;
    if (l->N > 0) {
        double *eta = malloc((size_t)l->N * sizeof(double));
        if (eta == NULL)
            return tm_fail(err, "out of memory");
        int one = 1, lda = l->N;
        double d_one = 1.0, d_zero = 0.0;
        dgemv_("N", &l->N, &l->D, &d_one, l->X, &lda, beta, &one, &d_zero, eta, &one, 1);
        for (int i = 0; i < l->N; i++) {
            /* One exp and one log per observation: with t = exp(-|e|) in (0, 1],
             * log(1 + exp(e)) = max(e, 0) + log(1 + t) and inv_logit(e) = 1/(1 + t) for
             * e >= 0, t/(1 + t) otherwise. log(1 + t) rather than log1p(t): its absolute
             * error stays below an ulp of log 2, which is what a sum needs, and it is
             * faster. The residual y - inv_logit(e) is kept in eta for X'r. */
            double e = alpha + eta[i];
            double t = exp(-fabs(e));
            double p = e >= 0 ? 1.0 / (1.0 + t) : t / (1.0 + t);
            sum += l->y[i] * e - (e > 0 ? e : 0.0) - log(1.0 + t);
            eta[i] = l->y[i] - p;
            d_alpha += eta[i];
        }
        if (grad) {
            for (int k = 0; k < l->D; k++)
                grad[1 + k] = -beta[k] / 6.25;
            dgemv_("T", &l->N, &l->D, &d_one, l->X, &lda, eta, &one, &d_one, grad + 1, &one, 1);
        }
        free(eta);
    } else if (grad) {
        for (int k = 0; k < l->D; k++)
            grad[1 + k] = -beta[k] / 6.25;
    }
    if (grad)
        grad[0] = d_alpha;
    *lp = sum;
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)include_tp;
    (void)err;
    const logistic *l = m->impl;
    for (int k = 0; k <= l->D; k++)
        out[k] = theta[k];
    return 0;
}
