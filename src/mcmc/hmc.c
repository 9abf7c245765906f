/*
 * Static Hamiltonian Monte Carlo as Stan's base_static_hmc: L = max(1, floor(T / eps))
 * leapfrog steps for an integration time T (2 pi by default), then a Metropolis
 * acceptance of the end point with probability min(1, exp(H0 - H)) (Neal 2011, "MCMC
 * using Hamiltonian dynamics", Sec. 5.2). A model failure or non-finite energy in the
 * trajectory stops it early: the proposal is rejected and counted as a divergence, as is
 * an energy error above max_delta_h.
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

typedef struct hmc_state {
    double *block;
    ps_phase_point z;
} hmc_state;

static void hmc_destroy(void *state)
{
    hmc_state *s = state;
    if (s == NULL)
        return;
    ps_free(s->block);
    ps_free(s);
}

static ps_status hmc_setup(ps_chain *chain, void **out)
{
    ps_status status = PS_OK;
    size_t stride = chain->dim > 0 ? chain->dim : 1;
    hmc_state *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating the HMC workspace");
    PS_TRY(ps_alloc_array(&s->block, 4 * stride, sizeof(double), "HMC workspace"));
    s->z.q = s->block;
    s->z.p = s->block + stride;
    s->z.p_sharp = s->block + 2 * stride;
    s->z.grad = s->block + 3 * stride;
    *out = s;
    return PS_OK;
done:
    hmc_destroy(s);
    return status;
}

/* Stan's update_L_: the number of steps for the current nominal step size. */
static int64_t n_steps_for(double int_time, double eps)
{
    double l = floor(int_time / eps);
    if (!(l >= 1.0))
        return 1;
    if (l > 1e15)
        return (int64_t)1e15;
    return (int64_t)l;
}

static ps_status hmc_step(ps_chain *chain, void *state, ps_iter_stats *stats)
{
    hmc_state *s = state;
    size_t dim = chain->dim;
    ps_phase_point *z = &s->z;
    double eps = chain->step_size;
    int64_t n_steps = n_steps_for(chain->settings.int_time, eps);

    memcpy(z->q, chain->q, dim * sizeof(double));
    memcpy(z->grad, chain->grad, dim * sizeof(double));
    z->lp = chain->lp;
    double h0 = ps_phase_point_refresh(chain, z);
    double h = h0;
    int64_t done = 0;
    while (done < n_steps) {
        PS_CHECK(ps_leapfrog(chain, z, eps, &h));
        done++;
        if (isinf(h))
            break;
    }
    bool diverging = h - h0 > chain->settings.max_delta_h;
    double accept_prob = exp(h0 - h);
    bool accept = true;
    if (accept_prob < 1.0 && ps_rng_uniform(&chain->rng) > accept_prob)
        accept = false;
    double energy = h0;
    if (accept && !isinf(h)) {
        ps_chain_set_point(chain, z->q, z->grad, z->lp);
        energy = h;
    }
    stats->lp = chain->lp;
    stats->acceptance_rate = accept_prob > 1.0 ? 1.0 : accept_prob;
    stats->step_size = eps;
    stats->tree_depth = 0;
    stats->n_steps = done;
    stats->diverging = diverging;
    stats->reached_max_treedepth = false;
    stats->energy = energy;
    stats->energy_error = energy - h0;
    return PS_OK;
}

static void hmc_adapt(ps_chain *chain, void *state, const ps_iter_stats *stats)
{
    (void)state;
    chain->step_size = ps_dual_averaging_learn(&chain->da, stats->acceptance_rate);
}

static ps_status hmc_metric_installed(ps_chain *chain, void *state)
{
    (void)state;
    PS_CHECK(ps_chain_init_stepsize(chain));
    ps_dual_averaging_set_mu(&chain->da, chain->step_size);
    ps_dual_averaging_restart(&chain->da);
    return PS_OK;
}

const ps_step_method ps_step_hmc = {
    .name = "hmc",
    .uses_gradient = true,
    .uses_step_size = true,
    .setup = hmc_setup,
    .destroy = hmc_destroy,
    .step = hmc_step,
    .adapt = hmc_adapt,
    .metric_installed = hmc_metric_installed,
    .state_size = NULL,
    .save = NULL,
    .restore = NULL,
};
