/*
 * Hamiltonian dynamics shared by the HMC step methods: model evaluation with the
 * sampler's treatment of numerical failures, the leapfrog integrator, and Stan's step-size
 * heuristic.
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

double ps_log_sum_exp(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    if (a > b)
        return a + log1p(exp(b - a));
    return b + log1p(exp(a - b));
}

ps_status ps_chain_eval(ps_chain *chain, const double *q, double *lp, double *grad, bool *usable)
{
    ps_status status = ps_model_log_density_gradient(chain->model, chain->ws, q, lp, grad);
    if (status == PS_ERR_NUMERIC) {
        /* The model rejected the point: a result, not an error (DESIGN.md, invariant 3). */
        *lp = -INFINITY;
        *usable = false;
        return PS_OK;
    }
    if (status != PS_OK)
        return status;
    *usable = isfinite(*lp) != 0;
    return PS_OK;
}

ps_status ps_leapfrog(ps_chain *chain, ps_phase_point *z, double eps, double *h)
{
    double half = 0.5 * eps;
    double *q = z->q, *p = z->p, *p_sharp = z->p_sharp, *grad = z->grad;
    /* The gradient of the potential is -grad log density, so the momentum moves along
     * +grad. */
    ps_metric_kick_drift(&chain->metric, half, grad, eps, p, p_sharp, q);
    bool usable = false;
    PS_CHECK(ps_chain_eval(chain, q, &z->lp, grad, &usable));
    if (!usable) {
        *h = INFINITY;
        return PS_OK;
    }
    /* A non-finite gradient makes the kinetic energy infinite or NaN; a NaN energy counts
     * as +inf (Stan's base_nuts), so it ends the trajectory as a divergence. */
    double kinetic = ps_metric_kick_kinetic(&chain->metric, half, grad, p, p_sharp);
    double energy = -z->lp + kinetic;
    *h = isnan(energy) ? INFINITY : energy;
    return PS_OK;
}

double ps_phase_point_refresh(ps_chain *chain, ps_phase_point *z)
{
    ps_metric_sample_momentum(&chain->metric, &chain->rng, z->p);
    ps_metric_dtau_dp(&chain->metric, z->p, z->p_sharp);
    return -z->lp + ps_metric_kinetic(chain->dim, z->p, z->p_sharp);
}

void ps_phase_point_copy(size_t dim, ps_phase_point *dst, const ps_phase_point *src)
{
    memcpy(dst->q, src->q, dim * sizeof(double));
    memcpy(dst->p, src->p, dim * sizeof(double));
    memcpy(dst->p_sharp, src->p_sharp, dim * sizeof(double));
    memcpy(dst->grad, src->grad, dim * sizeof(double));
    dst->lp = src->lp;
}

/* Resets z to the chain's current point (momentum is drawn afterwards). */
static void load_current(ps_chain *chain, ps_phase_point *z)
{
    memcpy(z->q, chain->q, chain->dim * sizeof(double));
    memcpy(z->grad, chain->grad, chain->dim * sizeof(double));
    z->lp = chain->lp;
}

/* One trial of the heuristic: H0 - H after one leapfrog step from a fresh momentum. */
static ps_status trial(ps_chain *chain, double eps, double *delta_h)
{
    ps_phase_point *z = &chain->scratch;
    load_current(chain, z);
    double h0 = ps_phase_point_refresh(chain, z);
    double h = 0.0;
    PS_CHECK(ps_leapfrog(chain, z, eps, &h));
    *delta_h = h0 - h;
    return PS_OK;
}

ps_status ps_chain_init_stepsize(ps_chain *chain)
{
    /* Stan's base_hmc::init_stepsize (the heuristic of Hoffman and Gelman 2014, Alg. 4,
     * with Stan's target of 0.8 for the one-step acceptance probability). */
    double eps = chain->step_size;
    if (eps == 0.0 || eps > 1e7 || isnan(eps))
        return PS_OK;
    const double log_target = log(0.8);
    double delta_h = 0.0;
    PS_CHECK(trial(chain, eps, &delta_h));
    int direction = delta_h > log_target ? 1 : -1;
    for (;;) {
        PS_CHECK(trial(chain, eps, &delta_h));
        if (direction == 1 && !(delta_h > log_target))
            break;
        if (direction == -1 && !(delta_h < log_target))
            break;
        eps = direction == 1 ? 2.0 * eps : 0.5 * eps;
        chain->step_size = eps;
        if (eps > 1e7)
            return ps_error(PS_ERR_NUMERIC,
                            "chain %llu: the step size grew beyond 1e7 in the step-size "
                            "heuristic: the posterior is improper; please check the model",
                            (unsigned long long)chain->settings.chain_id);
        if (eps == 0.0)
            return ps_error(PS_ERR_NUMERIC,
                            "chain %llu: no acceptably small step size could be found (the "
                            "step-size heuristic reached 0); perhaps the posterior is not "
                            "continuous",
                            (unsigned long long)chain->settings.chain_id);
    }
    chain->step_size = eps;
    return PS_OK;
}
