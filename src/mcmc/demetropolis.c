/*
 * Differential-evolution Metropolis step methods, for models without a gradient:
 *
 *   demetropolis   DE-MC (ter Braak 2006, "A Markov Chain Monte Carlo version of the genetic
 *                  algorithm Differential Evolution: easy Bayesian computing for real
 *                  parameter spaces", Statistics and Computing 16). The proposal for chain
 *                  i is x_i + lambda (x_r1 - x_r2) + epsilon with r1 != r2 two other chains
 *                  drawn uniformly, epsilon ~ N(0, scaling^2 I).
 *   demetropolisz  DE-MCz (ter Braak and Vrugt 2008, "Differential Evolution Markov Chain
 *                  with snooker updater and fewer chains", Statistics and Computing 18):
 *                  r1 != r2 are drawn from an archive Z of past states of all chains; with
 *                  probability de_snooker the move is a snooker update (Sec. 2.2 of the
 *                  paper) instead.
 *
 * The chains' states or the archive come from the driver as a ps_population_view; the
 * candidates in it must stay fixed while the chain steps, which makes each step a
 * Metropolis update of this chain conditional on the others (the proposal is a translation
 * by a vector that does not depend on x_i, hence symmetric). The driver keeps that
 * condition by updating the population in two halves in turn (DESIGN.md Section 7).
 *
 * Defaults and tuning are PyMC's (pymc.step_methods.metropolis.DEMetropolis, DEMetropolisZ):
 * lambda = 2.38 / sqrt(2 d), the optimal factor for Gaussian targets (ter Braak 2006,
 * Sec. 3), scaling 0.001, and during warmup, every tune_interval iterations, the scaling
 * (or lambda) is multiplied by Metropolis's acceptance-rate factor
 * (ps_metropolis_tune_factor) for the interval's acceptance rate.
 *
 * The scaling lives in the chain's step size (so it is saved with the chain); lambda and
 * the tuning counters are the method's state.
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

typedef struct de_state {
    double *q_prop;
    double lambda;
    int64_t steps_until_tune;
    int64_t accepted_sum;
} de_state;

static void de_destroy(void *state)
{
    de_state *s = state;
    if (s == NULL)
        return;
    ps_free(s->q_prop);
    ps_free(s);
}

static ps_status de_setup(ps_chain *chain, void **out)
{
    de_state *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating the differential-evolution workspace");
    ps_status status = ps_alloc_array(&s->q_prop, chain->dim > 0 ? chain->dim : 1, sizeof(double),
                                      "differential-evolution workspace");
    if (status != PS_OK) {
        de_destroy(s);
        return status;
    }
    double d = chain->dim > 0 ? (double)chain->dim : 1.0;
    s->lambda = chain->settings.de_lambda > 0.0 ? chain->settings.de_lambda : 2.38 / sqrt(2.0 * d);
    s->steps_until_tune = chain->settings.tune_interval;
    *out = s;
    return PS_OK;
}

/* Row `i` of the candidates of the view. */
static const double *candidate(const ps_population_view *v, size_t dim, size_t i)
{
    size_t row = v->candidates != NULL ? v->candidates[i] : i;
    return v->states + row * dim;
}

/* Two distinct uniform indices below n (n >= 2). */
static void draw_pair(ps_rng *rng, size_t n, size_t *a, size_t *b)
{
    *a = (size_t)ps_rng_uniform_int(rng, n);
    *b = (size_t)ps_rng_uniform_int(rng, n - 1);
    if (*b >= *a)
        (*b)++;
}

/*
 * The parallel-direction proposal (ter Braak 2006, Eq. 2): x + lambda (x_r1 - x_r2) + e,
 * e ~ N(0, scaling^2 I). With fewer than two candidates (an archive that is still too
 * small) the move is the noise alone, as PyMC's DEMetropolisZ does.
 */
static void propose_parallel(ps_chain *chain, const de_state *s, double scaling, double *q_prop)
{
    size_t dim = chain->dim;
    const ps_population_view *v = &chain->population;
    if (v->n_candidates >= 2) {
        size_t a, b;
        draw_pair(&chain->rng, v->n_candidates, &a, &b);
        const double *r1 = candidate(v, dim, a), *r2 = candidate(v, dim, b);
        for (size_t i = 0; i < dim; i++)
            q_prop[i] =
                chain->q[i] + s->lambda * (r1[i] - r2[i]) + scaling * ps_rng_normal(&chain->rng);
    } else {
        for (size_t i = 0; i < dim; i++)
            q_prop[i] = chain->q[i] + scaling * ps_rng_normal(&chain->rng);
    }
}

/*
 * The snooker update (ter Braak and Vrugt 2008, Sec. 2.2 and Fig. 2): draw three distinct
 * archive states z, z_r1, z_r2; move x along the line through x and z by gamma times the
 * difference of the orthogonal projections of z_r1 and z_r2 onto that line, gamma ~
 * U(1.2, 2.2) (around 2.38 / sqrt(2), the optimal factor for a one-dimensional move). The
 * Metropolis ratio carries the factor (||x_p - z|| / ||x - z||)^(d - 1). Sets *log_jac to
 * the log of that factor; returns false (no move) when x coincides with z.
 */
static bool propose_snooker(ps_chain *chain, double *q_prop, double *log_jac)
{
    size_t dim = chain->dim, n = chain->population.n_candidates;
    const ps_population_view *v = &chain->population;
    size_t a, b;
    draw_pair(&chain->rng, n, &a, &b);
    size_t c = (size_t)ps_rng_uniform_int(&chain->rng, n - 2);
    size_t lo = a < b ? a : b, hi = a < b ? b : a;
    if (c >= lo)
        c++;
    if (c >= hi)
        c++;
    double gamma = 1.2 + ps_rng_uniform(&chain->rng);
    const double *z = candidate(v, dim, c), *r1 = candidate(v, dim, a), *r2 = candidate(v, dim, b);
    double norm2 = 0.0, along = 0.0;
    for (size_t i = 0; i < dim; i++) {
        double u = chain->q[i] - z[i];
        norm2 += u * u;
        along += (r1[i] - r2[i]) * u;
    }
    if (!(norm2 > 0.0) || !isfinite(norm2))
        return false;
    double step = gamma * along / norm2, norm2_prop = 0.0;
    for (size_t i = 0; i < dim; i++) {
        double u = chain->q[i] - z[i];
        q_prop[i] = chain->q[i] + step * u;
        norm2_prop += (q_prop[i] - z[i]) * (q_prop[i] - z[i]);
    }
    *log_jac = 0.5 * (double)(dim - 1) * (log(norm2_prop) - log(norm2));
    return true;
}

static ps_status de_step(ps_chain *chain, void *state, ps_iter_stats *stats)
{
    de_state *s = state;
    const ps_chain_settings *set = &chain->settings;
    bool tuning = set->adapt && ps_chain_in_warmup(chain) && set->de_tune != PS_DE_TUNE_NONE;
    if (tuning && s->steps_until_tune <= 0) {
        double factor =
            ps_metropolis_tune_factor((double)s->accepted_sum / (double)set->tune_interval);
        if (set->de_tune == PS_DE_TUNE_SCALING)
            chain->step_size *= factor;
        else
            s->lambda *= factor;
        s->steps_until_tune = set->tune_interval;
        s->accepted_sum = 0;
    }
    double scaling = chain->step_size, lambda = s->lambda;
    double log_jac = 0.0;
    bool moved = true;
    if (chain->method->population == PS_POPULATION_ARCHIVE && set->de_snooker > 0.0 &&
        chain->population.n_candidates >= 3 && ps_rng_uniform(&chain->rng) < set->de_snooker)
        moved = propose_snooker(chain, s->q_prop, &log_jac);
    else
        propose_parallel(chain, s, scaling, s->q_prop);

    double lp0 = chain->lp, lp_prop = -INFINITY;
    if (moved) {
        ps_status status = ps_model_log_density(chain->model, chain->ws, s->q_prop, &lp_prop);
        if (status == PS_ERR_NUMERIC)
            lp_prop = -INFINITY;
        else if (status != PS_OK)
            return status;
    }
    double log_ratio = lp_prop - lp0 + log_jac;
    bool finite = moved && isfinite(lp_prop) && !isnan(log_ratio);
    bool accepted = finite && log(ps_rng_uniform(&chain->rng)) < log_ratio;
    if (accepted)
        ps_chain_set_point(chain, s->q_prop, NULL, lp_prop);
    s->steps_until_tune--;
    if (accepted)
        s->accepted_sum++;

    stats->lp = chain->lp;
    stats->accepted = accepted;
    stats->acceptance_rate = !finite ? 0.0 : (log_ratio >= 0.0 ? 1.0 : exp(log_ratio));
    stats->step_size = scaling;
    stats->lambda = lambda;
    stats->tree_depth = 0;
    stats->n_steps = moved ? 1 : 0; /* log-density evaluations */
    stats->diverging = false;
    stats->reached_max_treedepth = false;
    stats->energy = -chain->lp;
    stats->energy_error = lp0 - chain->lp;
    return PS_OK;
}

enum { DE_STATE_SIZE = 24 };

static size_t de_state_size(const void *state)
{
    (void)state;
    return DE_STATE_SIZE;
}

static void de_save(const void *state, unsigned char *buf)
{
    const de_state *s = state;
    ps_writer w = {buf, 0, DE_STATE_SIZE};
    ps_put_f64(&w, s->lambda);
    ps_put_u64(&w, (uint64_t)s->steps_until_tune);
    ps_put_u64(&w, (uint64_t)s->accepted_sum);
}

static void de_restore(void *state, const unsigned char *buf)
{
    de_state *s = state;
    ps_reader r = {buf, 0, DE_STATE_SIZE, false};
    s->lambda = ps_get_f64(&r);
    s->steps_until_tune = (int64_t)ps_get_u64(&r);
    s->accepted_sum = (int64_t)ps_get_u64(&r);
}

/* PyMC's DEMetropolis statistics (accept is acceptance_rate here, clipped at 1 as the
 * other methods report it). */
static const ps_stat_info de_stats[] = {{"lp", PS_STAT_REAL},
                                        {"accepted", PS_STAT_BOOL},
                                        {"acceptance_rate", PS_STAT_REAL},
                                        {"scaling", PS_STAT_REAL},
                                        {"lambda", PS_STAT_REAL}};

static void de_stat_values(const ps_iter_stats *s, double *v)
{
    v[0] = s->lp;
    v[1] = s->accepted ? 1.0 : 0.0;
    v[2] = s->acceptance_rate;
    v[3] = s->step_size;
    v[4] = s->lambda;
}

const ps_step_method ps_step_demetropolis = {
    .name = "demetropolis",
    .uses_gradient = false,
    .uses_step_size = false,
    .setup = de_setup,
    .destroy = de_destroy,
    .step = de_step,
    .adapt = NULL,
    .metric_installed = NULL,
    .state_size = de_state_size,
    .save = de_save,
    .restore = de_restore,
    .population = PS_POPULATION_CURRENT,
    .stats = de_stats,
    .n_stats = sizeof de_stats / sizeof de_stats[0],
    .stat_values = de_stat_values,
};

const ps_step_method ps_step_demetropolisz = {
    .name = "demetropolisz",
    .uses_gradient = false,
    .uses_step_size = false,
    .setup = de_setup,
    .destroy = de_destroy,
    .step = de_step,
    .adapt = NULL,
    .metric_installed = NULL,
    .state_size = de_state_size,
    .save = de_save,
    .restore = de_restore,
    .population = PS_POPULATION_ARCHIVE,
    .stats = de_stats,
    .n_stats = sizeof de_stats / sizeof de_stats[0],
    .stat_values = de_stat_values,
};
