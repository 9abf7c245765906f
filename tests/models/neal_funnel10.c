/*
 * neal_funnel10, as ../shared/bench/models/neal_funnel10.stan (Neal 2003, the centred
 * funnel; K = 9 gives 10 dimensions):
 *
 *     data { int<lower=1> K; }
 *     parameters { real v; vector[K] x; }
 *     model { v ~ normal(0, 3); x ~ normal(0, exp(v / 2)); }
 *
 * Data: {"K": 9}. With propto (the scale of x is a parameter, so its log stays):
 *
 *     log p = -v^2/18 - K v/2 - exp(-v) x'x / 2
 *
 * and without propto also -log 3 - (K + 1) log sqrt(2 pi). Exact marginals: v ~ N(0, 3);
 * x_k has mean 0 and sd sqrt(E exp(v)) = exp(9/4) = 9.4877.
 */
#include <math.h>
#include <stdlib.h>

#include "bs_test_model.h"

const char tm_model_name[] = "neal_funnel10";

typedef struct funnel {
    size_t K;
} funnel;

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long K;
    if (tm_data_int(data, "K", 1, 100000000, &K, err) != 0)
        return -1;
    funnel *f = malloc(sizeof *f);
    if (f == NULL)
        return tm_fail(err, "out of memory");
    f->K = (size_t)K;
    m->impl = f;
    size_t dims[1] = {f->K};
    if (tm_declare(m, "v", false, 0, NULL, err) || tm_declare(m, "x", false, 1, dims, err))
        return -1;
    return 0;
}

void tm_destruct(tm_model *m)
{
    free(m->impl);
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)jacobian;
    (void)err;
    const funnel *f = m->impl;
    double v = theta[0], inv_var = exp(-v);
    double ss = 0.0;
    for (size_t k = 0; k < f->K; k++) {
        ss += theta[1 + k] * theta[1 + k];
        if (grad)
            grad[1 + k] = -theta[1 + k] * inv_var;
    }
    double K = (double)f->K;
    *lp = -v * v / 18.0 - 0.5 * K * v - 0.5 * inv_var * ss -
          (propto ? 0.0 : log(3.0) + (K + 1.0) * TM_LOG_SQRT_2PI);
    if (grad)
        grad[0] = -v / 9.0 - 0.5 * K + 0.5 * inv_var * ss;
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)include_tp;
    (void)err;
    const funnel *f = m->impl;
    for (size_t k = 0; k <= f->K; k++)
        out[k] = theta[k];
    return 0;
}
