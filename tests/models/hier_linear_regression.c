/*
 * hier_linear_regression, exactly ../shared/bench/models/hier_linear_regression.stan:
 *
 *     data { int<lower=1> N; int<lower=1> J; array[N] int<lower=1, upper=J> g;
 *            vector[N] x; vector[N] y; }
 *     parameters { real mu_a; real mu_b; real<lower=0> tau_a; real<lower=0> tau_b;
 *                  real<lower=0> sigma_y; vector[J] z_a; vector[J] z_b; }
 *     transformed parameters { vector[J] a = mu_a + tau_a * z_a;
 *                              vector[J] b = mu_b + tau_b * z_b; }
 *     model { mu_a ~ normal(0, 5); mu_b ~ normal(0, 5);
 *             tau_a ~ normal(0, 2); tau_b ~ normal(0, 2); sigma_y ~ normal(0, 2);
 *             z_a ~ std_normal(); z_b ~ std_normal();
 *             y ~ normal(a[g] + b[g] .* x, sigma_y); }
 *
 * Data: {"N": 2000, "J": 50, "g": [1..J], "x": [...], "y": [...]}.
 * Unconstrained: (mu_a, mu_b, log tau_a, log tau_b, log sigma_y, z_a, z_b), 5 + 2J values.
 * With m_i = a[g_i] + b[g_i] x_i and propto:
 *
 *     log p = -(mu_a^2 + mu_b^2)/50 - (tau_a^2 + tau_b^2 + sigma_y^2)/8
 *             - (z_a'z_a + z_b'z_b)/2 - N log sigma_y - sum_i (y_i - m_i)^2 / (2 sigma_y^2)
 *             + log tau_a + log tau_b + log sigma_y          (Jacobians)
 *
 * (log sigma_y stays: sigma_y is a parameter). Without propto also
 * 2(-log 5 - c) + 3(-log 2 - c) - 2J c - N c with c = log sqrt(2 pi); the half-normals are
 * not renormalised (no truncation in the program, as in Stan).
 */
#include <math.h>
#include <stdlib.h>

#include "bs_test_model.h"

const char tm_model_name[] = "hier_linear_regression";

typedef struct hier {
    size_t N, J;
    int *g; /* 0-based groups */
    double *x, *y;
} hier;

void tm_destruct(tm_model *m)
{
    hier *h = m->impl;
    if (h == NULL)
        return;
    free(h->g);
    free(h->x);
    free(h->y);
    free(h);
}

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long N, J;
    if (tm_data_int(data, "N", 1, 100000000, &N, err) != 0 ||
        tm_data_int(data, "J", 1, 10000000, &J, err) != 0)
        return -1;
    hier *h = calloc(1, sizeof *h);
    if (h == NULL)
        return tm_fail(err, "out of memory");
    m->impl = h;
    h->N = (size_t)N;
    h->J = (size_t)J;
    h->g = calloc(h->N, sizeof(int));
    h->x = calloc(h->N, sizeof(double));
    h->y = calloc(h->N, sizeof(double));
    if (h->g == NULL || h->x == NULL || h->y == NULL)
        return tm_fail(err, "out of memory");
    if (tm_data_ints(data, "g", h->N, 1, J, h->g, err) != 0 ||
        tm_data_reals(data, "x", h->N, h->x, err) != 0 ||
        tm_data_reals(data, "y", h->N, h->y, err) != 0)
        return -1;
    for (size_t i = 0; i < h->N; i++)
        h->g[i] -= 1;
    size_t dims[1] = {h->J};
    if (tm_declare(m, "mu_a", false, 0, NULL, err) || tm_declare(m, "mu_b", false, 0, NULL, err) ||
        tm_declare(m, "tau_a", false, 0, NULL, err) ||
        tm_declare(m, "tau_b", false, 0, NULL, err) ||
        tm_declare(m, "sigma_y", false, 0, NULL, err) ||
        tm_declare(m, "z_a", false, 1, dims, err) || tm_declare(m, "z_b", false, 1, dims, err) ||
        tm_declare(m, "a", true, 1, dims, err) || tm_declare(m, "b", true, 1, dims, err))
        return -1;
    return 0;
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)err;
    const hier *h = m->impl;
    size_t J = h->J;
    double mu_a = theta[0], mu_b = theta[1];
    double tau_a = exp(theta[2]), tau_b = exp(theta[3]), sigma = exp(theta[4]);
    const double *z_a = theta + 5, *z_b = theta + 5 + J;
    double sum =
        -(mu_a * mu_a + mu_b * mu_b) / 50.0 - (tau_a * tau_a + tau_b * tau_b + sigma * sigma) / 8.0;
    for (size_t j = 0; j < J; j++)
        sum += -0.5 * (z_a[j] * z_a[j] + z_b[j] * z_b[j]);
    /* The gradients with respect to a_j and b_j are accumulated in the z slots of grad. */
    double *ga = grad ? grad + 5 : NULL, *gb = grad ? grad + 5 + J : NULL;
    if (grad)
        for (size_t j = 0; j < 2 * J; j++)
            grad[5 + j] = 0.0;
    double ssr = 0.0, inv_var = 1.0 / (sigma * sigma);
    for (size_t i = 0; i < h->N; i++) {
        int j = h->g[i];
        double mean = mu_a + tau_a * z_a[j] + (mu_b + tau_b * z_b[j]) * h->x[i];
        double resid = h->y[i] - mean;
        ssr += resid * resid;
        if (grad) {
            ga[j] += resid * inv_var;
            gb[j] += resid * inv_var * h->x[i];
        }
    }
    sum += -(double)h->N * log(sigma) - 0.5 * ssr * inv_var;
    if (jacobian)
        sum += theta[2] + theta[3] + theta[4];
    if (!propto)
        sum += 2.0 * (-log(5.0) - TM_LOG_SQRT_2PI) + 3.0 * (-log(2.0) - TM_LOG_SQRT_2PI) -
               (double)(2 * J + h->N) * TM_LOG_SQRT_2PI;
    *lp = sum;
    if (grad) {
        double d_mu_a = -mu_a / 25.0, d_mu_b = -mu_b / 25.0;
        double d_tau_a = -tau_a / 4.0, d_tau_b = -tau_b / 4.0;
        for (size_t j = 0; j < J; j++) {
            d_mu_a += ga[j];
            d_mu_b += gb[j];
            d_tau_a += ga[j] * z_a[j];
            d_tau_b += gb[j] * z_b[j];
            ga[j] = -z_a[j] + tau_a * ga[j];
            gb[j] = -z_b[j] + tau_b * gb[j];
        }
        double d_sigma = -(double)h->N / sigma + ssr / (sigma * sigma * sigma) - sigma / 4.0;
        double jac = jacobian ? 1.0 : 0.0;
        grad[0] = d_mu_a;
        grad[1] = d_mu_b;
        grad[2] = d_tau_a * tau_a + jac;
        grad[3] = d_tau_b * tau_b + jac;
        grad[4] = d_sigma * sigma + jac;
    }
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)err;
    const hier *h = m->impl;
    size_t J = h->J;
    out[0] = theta[0];
    out[1] = theta[1];
    out[2] = exp(theta[2]);
    out[3] = exp(theta[3]);
    out[4] = exp(theta[4]);
    for (size_t j = 0; j < 2 * J; j++)
        out[5 + j] = theta[5 + j];
    if (include_tp) {
        for (size_t j = 0; j < J; j++) {
            out[5 + 2 * J + j] = out[0] + out[2] * theta[5 + j];
            out[5 + 3 * J + j] = out[1] + out[3] * theta[5 + J + j];
        }
    }
    return 0;
}
