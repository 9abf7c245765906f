/*
 * eight_schools_noncentered, exactly ../shared/bench/models/eight_schools_noncentered.stan:
 *
 *     data { int<lower=0> J; array[J] real y; array[J] real<lower=0> sigma; }
 *     parameters { real mu; real<lower=0> tau; vector[J] theta_tilde; }
 *     transformed parameters { vector[J] theta = mu + tau * theta_tilde; }
 *     model {
 *       mu ~ normal(0, 5);  tau ~ cauchy(0, 5);  theta_tilde ~ normal(0, 1);
 *       y ~ normal(theta, sigma);
 *     }
 *
 * Data: {"J": 8, "y": [...], "sigma": [...]}. Unconstrained: (mu, log tau, theta_tilde);
 * tau = exp(u) with log-Jacobian u. With propto (Stan's `~`):
 *
 *     log p = -mu^2/50 - log(1 + tau^2/25) + u - theta_tilde'theta_tilde/2
 *             - sum_j (y_j - theta_j)^2 / (2 sigma_j^2)
 *
 * and without propto also -log 5 - log sqrt(2 pi) (mu), -log pi - log 5 (tau),
 * -J log sqrt(2 pi) (theta_tilde), -sum_j (log sigma_j + log sqrt(2 pi)) (y).
 */
#include <math.h>
#include <stdlib.h>

#include "bs_test_model.h"

const char tm_model_name[] = "eight_schools_noncentered";

typedef struct eight_schools {
    size_t J;
    double *y, *sigma;
    double constant; /* the terms propto drops */
} eight_schools;

void tm_destruct(tm_model *m)
{
    eight_schools *e = m->impl;
    if (e == NULL)
        return;
    free(e->y);
    free(e->sigma);
    free(e);
}

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long J;
    if (tm_data_int(data, "J", 0, 100000000, &J, err) != 0)
        return -1;
    eight_schools *e = calloc(1, sizeof *e);
    if (e == NULL)
        return tm_fail(err, "out of memory");
    m->impl = e;
    e->J = (size_t)J;
    e->y = calloc(e->J + 1, sizeof(double));
    e->sigma = calloc(e->J + 1, sizeof(double));
    if (e->y == NULL || e->sigma == NULL)
        return tm_fail(err, "out of memory");
    if (tm_data_reals(data, "y", e->J, e->y, err) != 0 ||
        tm_data_reals(data, "sigma", e->J, e->sigma, err) != 0)
        return -1;
    e->constant =
        -log(5.0) - TM_LOG_SQRT_2PI - log(TM_PI) - log(5.0) - (double)e->J * TM_LOG_SQRT_2PI;
    for (size_t j = 0; j < e->J; j++) {
        /* Stan checks >= 0 here and positivity in normal(); both are done at once. */
        if (!(e->sigma[j] > 0) || isinf(e->sigma[j]))
            return tm_fail(err, "Exception: sigma[%zu] is %g, but must be positive and finite",
                           j + 1, e->sigma[j]);
        e->constant += -log(e->sigma[j]) - TM_LOG_SQRT_2PI;
    }
    size_t dims[1] = {e->J};
    if (tm_declare(m, "mu", false, 0, NULL, err) || tm_declare(m, "tau", false, 0, NULL, err) ||
        tm_declare(m, "theta_tilde", false, 1, dims, err) ||
        tm_declare(m, "theta", true, 1, dims, err))
        return -1;
    return 0;
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)err;
    const eight_schools *e = m->impl;
    double mu = theta[0], u = theta[1], tau = exp(u);
    const double *tt = theta + 2;
    double t = tau / 5.0;
    double sum = -0.5 * mu * mu / 25.0 - log1p(t * t) + (jacobian ? u : 0.0);
    double d_mu = -mu / 25.0;
    double d_tau = -2.0 * tau / 25.0 / (1.0 + t * t);
    for (size_t j = 0; j < e->J; j++) {
        double th = mu + tau * tt[j];
        double r = (e->y[j] - th) / (e->sigma[j] * e->sigma[j]);
        sum += -0.5 * tt[j] * tt[j] - 0.5 * (e->y[j] - th) * r;
        d_mu += r;
        d_tau += r * tt[j];
        if (grad)
            grad[2 + j] = -tt[j] + r * tau;
    }
    *lp = sum + (propto ? 0.0 : e->constant);
    if (grad) {
        grad[0] = d_mu;
        grad[1] = d_tau * tau + (jacobian ? 1.0 : 0.0);
    }
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)err;
    const eight_schools *e = m->impl;
    double tau = exp(theta[1]);
    out[0] = theta[0];
    out[1] = tau;
    for (size_t j = 0; j < e->J; j++) {
        out[2 + j] = theta[2 + j];
        if (include_tp)
            out[2 + e->J + j] = theta[0] + tau * theta[2 + j];
    }
    return 0;
}
