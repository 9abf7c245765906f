/*
 * The chain: one Markov chain over a shared, immutable model. It owns its RNG stream
 * (seed, chain id), model workspace, step-method workspace, metric and adaptation state,
 * and runs Stan's warmup (Stan Reference Manual, "HMC algorithm parameters"): dual
 * averaging of the step size at every warmup iteration, and at the end of each slow
 * window a new metric from the window's draws, the step-size heuristic, a new shrinkage
 * target mu = log(10 eps) and a restart of dual averaging. At the end of warmup the step
 * size becomes exp(x_bar).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

/* The registry of step methods, in the order their names are listed. */
static const ps_step_method *const step_methods[] = {&ps_step_nuts, &ps_step_hmc,
                                                     &ps_step_metropolis, &ps_step_demetropolis,
                                                     &ps_step_demetropolisz};
#define N_STEP_METHODS (sizeof step_methods / sizeof step_methods[0])

const char *ps_step_method_names(void)
{
    return "nuts, hmc, metropolis, demetropolis, demetropolisz";
}

static const ps_step_method *find_method(const char *name)
{
    for (size_t i = 0; i < N_STEP_METHODS; i++)
        if (name != NULL && strcmp(step_methods[i]->name, name) == 0)
            return step_methods[i];
    return NULL;
}

/* The statistics of the Hamiltonian methods (and Metropolis), with the names and order of
 * Stan's and ArviZ's sample_stats. */
static const ps_stat_info hamiltonian_stats[] = {
    {"lp", PS_STAT_REAL},        {"acceptance_rate", PS_STAT_REAL}, {"step_size", PS_STAT_REAL},
    {"tree_depth", PS_STAT_INT}, {"n_steps", PS_STAT_INT},          {"diverging", PS_STAT_BOOL},
    {"energy", PS_STAT_REAL},    {"energy_error", PS_STAT_REAL}};

static void hamiltonian_stat_values(const ps_iter_stats *s, double *v)
{
    v[0] = s->lp;
    v[1] = s->acceptance_rate;
    v[2] = s->step_size;
    v[3] = (double)s->tree_depth;
    v[4] = (double)s->n_steps;
    v[5] = s->diverging ? 1.0 : 0.0;
    v[6] = s->energy;
    v[7] = s->energy_error;
}

const ps_stat_info *ps_step_method_stats(const char *algorithm, size_t *n)
{
    const ps_step_method *m = find_method(algorithm);
    *n = 0;
    if (m == NULL)
        return NULL;
    if (m->stats == NULL) {
        *n = sizeof hamiltonian_stats / sizeof hamiltonian_stats[0];
        return hamiltonian_stats;
    }
    *n = m->n_stats;
    return m->stats;
}

void ps_chain_stat_values(const ps_chain *chain, const ps_iter_stats *stats, double *values)
{
    if (chain->method->stat_values != NULL)
        chain->method->stat_values(stats, values);
    else
        hamiltonian_stat_values(stats, values);
}

ps_population_kind ps_step_method_population(const char *algorithm)
{
    const ps_step_method *m = find_method(algorithm);
    return m != NULL ? m->population : PS_POPULATION_NONE;
}

void ps_chain_set_population(ps_chain *chain, const ps_population_view *view)
{
    chain->population = *view;
}

ps_status ps_de_tune_parse(const char *name, ps_de_tune *tune)
{
    static const char *const names[] = {"scaling", "lambda", "none"};
    for (int i = 0; i < 3; i++) {
        if (name != NULL && strcmp(name, names[i]) == 0) {
            *tune = (ps_de_tune)i;
            return PS_OK;
        }
    }
    return ps_error(PS_ERR_CONFIG,
                    "unknown differential-evolution tuning target '%s' (valid: scaling, lambda, "
                    "none)",
                    name ? name : "(null)");
}

void ps_chain_settings_default(ps_chain_settings *s)
{
    memset(s, 0, sizeof *s);
    s->algorithm = "nuts";
    s->metric = PS_METRIC_DIAG;
    s->max_treedepth = 10;
    s->target_accept = 0.8;
    s->warmup = 1000;
    s->adapt = true;
    s->pooled_metric = false;
    s->init_radius = 2.0;
    s->step_size = 1.0;
    s->int_time = 6.283185307179586476925286766559;
    s->max_delta_h = 1000.0;
    s->init_buffer = 75;
    s->term_buffer = 50;
    s->base_window = 25;
    s->gamma = 0.05;
    s->t0 = 10.0;
    s->kappa = 0.75;
    s->tune_interval = 100;
    s->de_lambda = 0.0;
    s->de_scaling = 0.001;
    s->de_tune = PS_DE_TUNE_SCALING;
    s->de_snooker = 0.0;
    s->init_attempts = 100;
    s->seed = 0;
    s->chain_id = 0;
}

void ps_chain_warn(ps_chain *chain, const char *fmt, ...)
{
    if (chain->n_warnings < PS_CHAIN_MAX_WARNINGS) {
        char *out = chain->warnings[chain->n_warnings];
        int n = snprintf(out, PS_CHAIN_WARNING_SIZE,
                         "chain %llu: ", (unsigned long long)chain->settings.chain_id);
        if (n < 0 || n >= PS_CHAIN_WARNING_SIZE)
            n = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out + n, PS_CHAIN_WARNING_SIZE - (size_t)n, fmt, ap);
        va_end(ap);
    }
    chain->n_warnings++;
}

int ps_chain_warning_count(const ps_chain *chain)
{
    return chain->n_warnings;
}

const char *ps_chain_warning(const ps_chain *chain, int i)
{
    int kept =
        chain->n_warnings < PS_CHAIN_MAX_WARNINGS ? chain->n_warnings : PS_CHAIN_MAX_WARNINGS;
    return i >= 0 && i < kept ? chain->warnings[i] : NULL;
}

void ps_chain_clear_warnings(ps_chain *chain)
{
    chain->n_warnings = 0;
}

static ps_status check_settings(const ps_chain_settings *s)
{
#define BAD(...) return ps_error(PS_ERR_CONFIG, __VA_ARGS__)
    if (find_method(s->algorithm) == NULL)
        BAD("unknown sampling algorithm '%s' (valid: %s)", s->algorithm ? s->algorithm : "(null)",
            ps_step_method_names());
    if (ps_metric_kind_name(s->metric) == NULL)
        BAD("invalid metric kind %d (valid: unit, diag, dense)", (int)s->metric);
    if (s->max_treedepth < 1 || s->max_treedepth > 30)
        BAD("max_treedepth must be between 1 and 30, got %d", s->max_treedepth);
    if (!(s->target_accept > 0.0 && s->target_accept < 1.0))
        BAD("target_accept must lie strictly between 0 and 1, got %g", s->target_accept);
    if (s->warmup < 0)
        BAD("warmup must not be negative, got %lld", (long long)s->warmup);
    if (!(s->init_radius >= 0.0) || !isfinite(s->init_radius))
        BAD("the initialisation radius must be finite and non-negative, got %g", s->init_radius);
    if (!(s->step_size > 0.0) || !isfinite(s->step_size))
        BAD("the initial step size must be positive and finite, got %g", s->step_size);
    if (!(s->int_time > 0.0) || !isfinite(s->int_time))
        BAD("the HMC integration time must be positive and finite, got %g", s->int_time);
    if (!(s->max_delta_h > 0.0))
        BAD("the divergence threshold must be positive, got %g", s->max_delta_h);
    if (s->init_buffer < 0 || s->term_buffer < 0 || s->base_window < 1)
        BAD("adaptation windows need init_buffer >= 0, term_buffer >= 0, base_window >= 1 "
            "(got %lld, %lld, %lld)",
            (long long)s->init_buffer, (long long)s->term_buffer, (long long)s->base_window);
    if (!(s->gamma > 0.0) || !(s->t0 >= 0.0) || !(s->kappa > 0.0 && s->kappa <= 1.0))
        BAD("dual averaging needs gamma > 0, t0 >= 0, 0 < kappa <= 1 (got %g, %g, %g)", s->gamma,
            s->t0, s->kappa);
    if (s->tune_interval < 1)
        BAD("tune_interval must be at least 1, got %d", s->tune_interval);
    if (!(s->de_lambda >= 0.0) || !isfinite(s->de_lambda))
        BAD("the DE factor lambda must be finite and non-negative (0: 2.38 / sqrt(2 d)), got %g",
            s->de_lambda);
    if (!(s->de_scaling > 0.0) || !isfinite(s->de_scaling))
        BAD("the DE noise scaling must be positive and finite, got %g", s->de_scaling);
    if ((int)s->de_tune < 0 || (int)s->de_tune > (int)PS_DE_TUNE_NONE)
        BAD("invalid DE tuning target %d (valid: scaling, lambda, none)", (int)s->de_tune);
    if (!(s->de_snooker >= 0.0 && s->de_snooker <= 1.0))
        BAD("the snooker probability must lie in [0, 1], got %g", s->de_snooker);
    if (s->init_attempts < 1)
        BAD("init_attempts must be at least 1, got %d", s->init_attempts);
#undef BAD
    return PS_OK;
}

void ps_chain_destroy(ps_chain **chain)
{
    if (chain == NULL || *chain == NULL)
        return;
    ps_chain *c = *chain;
    if (c->method && c->method_state)
        c->method->destroy(c->method_state);
    ps_model_workspace_destroy(&c->ws);
    ps_metric_fini(&c->metric);
    ps_welford_fini(&c->window_acc);
    ps_free(c->q);
    ps_free(c->grad);
    ps_free(c->scratch.q);
    ps_free(c->scratch.p);
    ps_free(c->scratch.p_sharp);
    ps_free(c->scratch.grad);
    ps_free(c->q_init);
    ps_free(c->metric_buf);
    ps_free(c);
    *chain = NULL;
}

ps_status ps_chain_create(const ps_model *model, const ps_chain_settings *settings, ps_chain **out)
{
    ps_status status = PS_OK;
    *out = NULL;
    PS_CHECK(check_settings(settings));
    /* Population methods move by differences of states and use no metric. */
    ps_chain_settings adjusted = *settings;
    if (find_method(settings->algorithm)->population != PS_POPULATION_NONE)
        adjusted.metric = PS_METRIC_UNIT;
    settings = &adjusted;
    ps_chain *c = ps_calloc(1, sizeof *c);
    if (c == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating a chain");
    c->model = model;
    c->settings = *settings;
    c->method = find_method(settings->algorithm);
    snprintf(c->algorithm, sizeof c->algorithm, "%s", c->method->name);
    c->settings.algorithm = c->algorithm;
    c->dim = ps_model_dim(model);
    size_t n = c->dim > 0 ? c->dim : 1;

    PS_TRY(ps_model_workspace_create(model, &c->ws));
    PS_TRY(ps_metric_init(&c->metric, settings->metric, c->dim));
    if (settings->metric != PS_METRIC_UNIT)
        PS_TRY(ps_welford_init(&c->window_acc, c->dim, settings->metric == PS_METRIC_DENSE));
    PS_TRY(ps_alloc_array(&c->q, n, sizeof(double), "chain position"));
    PS_TRY(ps_alloc_array(&c->grad, n, sizeof(double), "chain gradient"));
    PS_TRY(ps_alloc_array(&c->scratch.q, n, sizeof(double), "chain workspace"));
    PS_TRY(ps_alloc_array(&c->scratch.p, n, sizeof(double), "chain workspace"));
    PS_TRY(ps_alloc_array(&c->scratch.p_sharp, n, sizeof(double), "chain workspace"));
    PS_TRY(ps_alloc_array(&c->scratch.grad, n, sizeof(double), "chain workspace"));
    PS_TRY(ps_alloc_array(&c->q_init, n, sizeof(double), "chain workspace"));
    size_t msize = ps_metric_size(settings->metric, c->dim);
    PS_TRY(
        ps_alloc_array(&c->metric_buf, msize > 0 ? msize : 1, sizeof(double), "chain workspace"));
    PS_TRY(c->method->setup(c, &c->method_state));

    ps_rng_init(&c->rng, settings->seed, settings->chain_id);
    c->step_size =
        c->method->population != PS_POPULATION_NONE ? settings->de_scaling : settings->step_size;
    ps_dual_averaging_init(&c->da, settings->target_accept, settings->gamma, settings->t0,
                           settings->kappa);
    ps_dual_averaging_set_mu(&c->da, settings->step_size);

    char warning[PS_CHAIN_WARNING_SIZE];
    ps_window_schedule_init(&c->windows, settings->warmup, settings->init_buffer,
                            settings->term_buffer, settings->base_window, warning, sizeof warning);
    c->adapt_metric = settings->adapt && settings->metric != PS_METRIC_UNIT &&
                      settings->warmup > 0 && c->windows.active;
    if (settings->adapt && settings->metric != PS_METRIC_UNIT && warning[0] != '\0')
        ps_chain_warn(c, "%s", warning);
    c->warmup_done = settings->warmup == 0;
    *out = c;
    return PS_OK;
done:
    ps_chain_destroy(&c);
    return status;
}

void ps_chain_set_point(ps_chain *chain, const double *q, const double *grad, double lp)
{
    if (q != chain->q)
        memcpy(chain->q, q, chain->dim * sizeof(double));
    if (grad != NULL && grad != chain->grad)
        memcpy(chain->grad, grad, chain->dim * sizeof(double));
    chain->lp = lp;
}

/* Evaluates a candidate initial point; *reason receives why it is unusable. */
static ps_status try_point(ps_chain *chain, const double *q, double *lp, double *grad, bool *usable,
                           char *reason, size_t reason_size)
{
    ps_status status;
    *usable = false;
    if (chain->method->uses_gradient) {
        status = ps_model_log_density_gradient(chain->model, chain->ws, q, lp, grad);
    } else {
        memset(grad, 0, chain->dim * sizeof(double));
        status = ps_model_log_density(chain->model, chain->ws, q, lp);
    }
    if (status == PS_ERR_NUMERIC) {
        const char *msg = ps_model_workspace_message(chain->ws);
        snprintf(reason, reason_size, "the model rejected the point%s%s", *msg ? ": " : "", msg);
        return PS_OK;
    }
    if (status != PS_OK)
        return status;
    if (!isfinite(*lp)) {
        snprintf(reason, reason_size, "log density = %g", *lp);
        return PS_OK;
    }
    if (chain->method->uses_gradient) {
        for (size_t i = 0; i < chain->dim; i++) {
            if (!isfinite(grad[i])) {
                snprintf(reason, reason_size, "log density = %g but gradient[%zu] (%s) = %g", *lp,
                         i, ps_model_unc_name(chain->model, i), grad[i]);
                return PS_OK;
            }
        }
    }
    *usable = true;
    return PS_OK;
}

ps_status ps_chain_init(ps_chain *chain, const double *init)
{
    size_t dim = chain->dim;
    unsigned long long id = (unsigned long long)chain->settings.chain_id;
    double r = chain->settings.init_radius;
    int attempts = init != NULL ? 1 : chain->settings.init_attempts;
    char reason[256] = "";
    double lp = -INFINITY;
    bool usable = false;
    int attempt = 0;
    while (attempt < attempts && !usable) {
        attempt++;
        if (init != NULL) {
            memcpy(chain->q_init, init, dim * sizeof(double));
        } else {
            for (size_t i = 0; i < dim; i++)
                chain->q_init[i] = r * (2.0 * ps_rng_uniform(&chain->rng) - 1.0);
        }
        PS_CHECK(try_point(chain, chain->q_init, &lp, chain->scratch.grad, &usable, reason,
                           sizeof reason));
    }
    if (!usable) {
        if (init != NULL)
            return ps_error(PS_ERR_NUMERIC,
                            "chain %llu: the given initial values are not usable: %s", id, reason);
        return ps_error(PS_ERR_NUMERIC,
                        "chain %llu: no initial point with a finite log density%s found in %d "
                        "attempts (uniform(-%g, %g) on the unconstrained scale); last attempt: %s",
                        id, chain->method->uses_gradient ? " and gradient" : "", attempts, r, r,
                        reason);
    }
    ps_chain_set_point(chain, chain->q_init, chain->scratch.grad, lp);
    chain->initialized = true;
    if (chain->settings.adapt && chain->settings.warmup > 0 && chain->method->uses_step_size &&
        chain->iteration == 0)
        PS_CHECK(ps_chain_init_stepsize(chain));
    return PS_OK;
}

/* At the end of warmup the step size becomes the dual-averaging average exp(x_bar) (Stan's
 * complete_adaptation). When dual averaging was just restarted (a window ending at the
 * last warmup iteration, possible with term_buffer = 0) the heuristic's step size is kept
 * instead of exp(0) = 1 (the problem of stan-dev/stan#3023). */
static void complete_warmup(ps_chain *chain)
{
    if (chain->warmup_done || chain->iteration < chain->settings.warmup)
        return;
    chain->warmup_done = true;
    if (chain->settings.adapt && chain->method->uses_step_size && chain->da.counter > 0.0)
        chain->step_size = ps_dual_averaging_final(&chain->da);
}

ps_status ps_chain_step(ps_chain *chain, ps_iter_stats *stats)
{
    unsigned long long id = (unsigned long long)chain->settings.chain_id;
    if (!chain->initialized)
        return ps_error(PS_ERR_INTERNAL, "chain %llu: stepped before initialisation", id);
    if (chain->window_pending)
        return ps_error(PS_ERR_INTERNAL,
                        "chain %llu: an adaptation window ended at iteration %lld and no "
                        "metric was installed",
                        id, (long long)chain->iteration);
    bool warmup = chain->iteration < chain->settings.warmup;
    memset(stats, 0, sizeof *stats);
    PS_CHECK(chain->method->step(chain, chain->method_state, stats));
    stats->warmup = warmup;
    stats->window_end = false;
    if (warmup && chain->settings.adapt) {
        if (chain->method->adapt)
            chain->method->adapt(chain, chain->method_state, stats);
        if (chain->adapt_metric) {
            if (ps_window_schedule_in_window(&chain->windows))
                ps_welford_add(&chain->window_acc, chain->q);
            if (ps_window_schedule_window_end(&chain->windows)) {
                stats->window_end = true;
                chain->window_pending = true;
            }
            ps_window_schedule_advance(&chain->windows);
        }
    }
    chain->iteration++;
    if (chain->window_pending) {
        if (!chain->settings.pooled_metric)
            PS_CHECK(ps_chain_finish_window(chain));
    } else {
        complete_warmup(chain);
    }
    return PS_OK;
}

ps_status ps_chain_install_metric(ps_chain *chain, const double *inv_metric)
{
    bool repaired = false;
    char warning[PS_CHAIN_WARNING_SIZE];
    ps_metric_set(&chain->metric, inv_metric, &repaired, warning, sizeof warning);
    if (repaired)
        ps_chain_warn(chain, "after warmup iteration %lld: %s", (long long)chain->iteration,
                      warning);
    if (chain->window_acc.mean != NULL)
        ps_welford_reset(&chain->window_acc);
    chain->window_pending = false;
    if (chain->initialized && chain->method->metric_installed)
        PS_CHECK(chain->method->metric_installed(chain, chain->method_state));
    if (chain->initialized)
        complete_warmup(chain);
    return PS_OK;
}

ps_status ps_chain_end_warmup_early(ps_chain *chain)
{
    unsigned long long id = (unsigned long long)chain->settings.chain_id;
    if (!ps_chain_in_warmup(chain) || chain->window_pending)
        return ps_error(PS_ERR_INTERNAL,
                        "chain %llu: warmup can only be shortened during warmup, after a "
                        "window end was handled",
                        id);
    ps_window_schedule *ws = &chain->windows;
    int64_t term = chain->adapt_metric ? ws->term_buffer : 0;
    int64_t end = chain->iteration + term;
    if (end >= chain->settings.warmup)
        return PS_OK;
    chain->settings.warmup = end;
    ws->num_warmup = end;
    /* No slow window remains: the next window end lies in the past. */
    ws->next_end = ws->counter - 1;
    if (end == chain->iteration)
        complete_warmup(chain);
    return PS_OK;
}

ps_status ps_chain_finish_window(ps_chain *chain)
{
    size_t msize = ps_metric_size(chain->metric.kind, chain->dim);
    /* With fewer than two draws there is no estimate: the current metric is kept (and
     * not shrunk, unlike Stan; see stan-dev/stan#3037). */
    if (chain->window_acc.mean == NULL ||
        !ps_welford_regularized_metric(&chain->window_acc, chain->metric_buf)) {
        if (msize > 0)
            memcpy(chain->metric_buf, chain->metric.inv_metric, msize * sizeof(double));
    }
    return ps_chain_install_metric(chain, chain->metric_buf);
}

bool ps_chain_window_pending(const ps_chain *chain)
{
    return chain->window_pending;
}

const ps_welford *ps_chain_window_accumulator(const ps_chain *chain)
{
    return &chain->window_acc;
}

const ps_window_schedule *ps_chain_window_schedule(const ps_chain *chain)
{
    return &chain->windows;
}

const ps_metric *ps_chain_metric(const ps_chain *chain)
{
    return &chain->metric;
}

double ps_chain_step_size(const ps_chain *chain)
{
    return chain->step_size;
}

void ps_chain_set_step_size(ps_chain *chain, double step_size)
{
    chain->step_size = step_size;
}

const ps_dual_averaging *ps_chain_dual_averaging(const ps_chain *chain)
{
    return &chain->da;
}

void ps_chain_set_dual_averaging(ps_chain *chain, const ps_dual_averaging *da)
{
    chain->da = *da;
}

size_t ps_chain_dim(const ps_chain *chain)
{
    return chain->dim;
}

uint64_t ps_chain_id(const ps_chain *chain)
{
    return chain->settings.chain_id;
}

int64_t ps_chain_iteration(const ps_chain *chain)
{
    return chain->iteration;
}

int64_t ps_chain_warmup_length(const ps_chain *chain)
{
    return chain->settings.warmup;
}

bool ps_chain_in_warmup(const ps_chain *chain)
{
    return chain->iteration < chain->settings.warmup;
}

const double *ps_chain_position(const ps_chain *chain)
{
    return chain->q;
}

double ps_chain_log_density(const ps_chain *chain)
{
    return chain->lp;
}

ps_model_workspace *ps_chain_model_workspace(ps_chain *chain)
{
    return chain->ws;
}

unsigned long long ps_chain_gradient_count(const ps_chain *chain)
{
    return ps_model_workspace_gradient_count(chain->ws);
}

ps_status ps_chain_constrain(ps_chain *chain, double *out)
{
    ps_status status = ps_model_constrain(chain->model, chain->ws, chain->q, out);
    if (status == PS_ERR_NUMERIC)
        return ps_error(PS_ERR_NUMERIC,
                        "chain %llu: the model rejected the draw of iteration %lld when "
                        "computing its output: %s",
                        (unsigned long long)chain->settings.chain_id, (long long)chain->iteration,
                        ps_model_workspace_message(chain->ws));
    return status;
}
