/*
 * Random-walk Metropolis (Metropolis et al. 1953) with PyMC's tuning of the proposal
 * scale: the proposal is x + scaling * N(0, inv_metric) (the metric's diagonal, or its
 * Cholesky factor when dense, comes from the windowed warmup), and during warmup, every
 * tune_interval iterations, the scaling is multiplied according to the acceptance rate of
 * the interval (PyMC's pymc.step_methods.metropolis.tune):
 *   < 0.001: x 0.1,  < 0.05: x 0.5,  < 0.2: x 0.9,  > 0.95: x 10,  > 0.75: x 2,
 *   > 0.5: x 1.1,  else unchanged.
 * The scaling lives in the chain's step size. When a new metric is installed the scaling
 * restarts at 2.38 / sqrt(dim), the optimal scale relative to the posterior's covariance
 * for Gaussian targets (Roberts, Gelman and Gilks 1997).
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

typedef struct metropolis_state {
    double *q_prop;
    int64_t steps_until_tune;
    int64_t accepted_sum;
} metropolis_state;

static void metropolis_destroy(void *state)
{
    metropolis_state *s = state;
    if (s == NULL)
        return;
    ps_free(s->q_prop);
    ps_free(s);
}

static ps_status metropolis_setup(ps_chain *chain, void **out)
{
    metropolis_state *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating the Metropolis workspace");
    ps_status status = ps_alloc_array(&s->q_prop, chain->dim > 0 ? chain->dim : 1, sizeof(double),
                                      "Metropolis workspace");
    if (status != PS_OK) {
        metropolis_destroy(s);
        return status;
    }
    s->steps_until_tune = chain->settings.tune_interval;
    *out = s;
    return PS_OK;
}

double ps_metropolis_tune_factor(double acc_rate)
{
    if (acc_rate < 0.001)
        return 0.1;
    if (acc_rate < 0.05)
        return 0.5;
    if (acc_rate < 0.2)
        return 0.9;
    if (acc_rate > 0.95)
        return 10.0;
    if (acc_rate > 0.75)
        return 2.0;
    if (acc_rate > 0.5)
        return 1.1;
    return 1.0;
}

static ps_status metropolis_step(ps_chain *chain, void *state, ps_iter_stats *stats)
{
    metropolis_state *s = state;
    size_t dim = chain->dim;
    bool tuning = chain->settings.adapt && ps_chain_in_warmup(chain);
    if (tuning && s->steps_until_tune <= 0) {
        double rate = (double)s->accepted_sum / (double)chain->settings.tune_interval;
        chain->step_size *= ps_metropolis_tune_factor(rate);
        s->steps_until_tune = chain->settings.tune_interval;
        s->accepted_sum = 0;
    }
    double scaling = chain->step_size;
    ps_metric_sample_proposal(&chain->metric, &chain->rng, scaling, s->q_prop);
    for (size_t i = 0; i < dim; i++)
        s->q_prop[i] += chain->q[i];
    double lp_prop = -INFINITY;
    ps_status status = ps_model_log_density(chain->model, chain->ws, s->q_prop, &lp_prop);
    if (status == PS_ERR_NUMERIC)
        lp_prop = -INFINITY;
    else if (status != PS_OK)
        return status;
    double lp0 = chain->lp;
    double log_ratio = lp_prop - lp0;
    bool finite = isfinite(lp_prop) != 0;
    bool accepted = finite && log(ps_rng_uniform(&chain->rng)) < log_ratio;
    if (accepted)
        ps_chain_set_point(chain, s->q_prop, NULL, lp_prop);
    s->steps_until_tune--;
    if (accepted)
        s->accepted_sum++;

    stats->lp = chain->lp;
    stats->acceptance_rate = !finite ? 0.0 : (log_ratio >= 0.0 ? 1.0 : exp(log_ratio));
    stats->step_size = scaling;
    stats->tree_depth = 0;
    stats->n_steps = 1;
    stats->diverging = false;
    stats->reached_max_treedepth = false;
    stats->energy = -chain->lp;
    stats->energy_error = lp0 - chain->lp;
    return PS_OK;
}

static ps_status metropolis_metric_installed(ps_chain *chain, void *state)
{
    (void)state;
    chain->step_size = chain->dim > 0 ? 2.38 / sqrt((double)chain->dim) : 1.0;
    return PS_OK;
}

static size_t metropolis_state_size(const void *state)
{
    (void)state;
    return 16;
}

static void metropolis_save(const void *state, unsigned char *buf)
{
    const metropolis_state *s = state;
    ps_writer w = {buf, 0, 16};
    ps_put_u64(&w, (uint64_t)s->steps_until_tune);
    ps_put_u64(&w, (uint64_t)s->accepted_sum);
}

static void metropolis_restore(void *state, const unsigned char *buf)
{
    metropolis_state *s = state;
    ps_reader r = {buf, 0, 16, false};
    s->steps_until_tune = (int64_t)ps_get_u64(&r);
    s->accepted_sum = (int64_t)ps_get_u64(&r);
}

const ps_step_method ps_step_metropolis = {
    .name = "metropolis",
    .uses_gradient = false,
    .uses_step_size = false,
    .setup = metropolis_setup,
    .destroy = metropolis_destroy,
    .step = metropolis_step,
    .adapt = NULL,
    .metric_installed = metropolis_metric_installed,
    .state_size = metropolis_state_size,
    .save = metropolis_save,
    .restore = metropolis_restore,
};
