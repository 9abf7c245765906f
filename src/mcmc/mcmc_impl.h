/*
 * Private to src/mcmc: the chain's layout, the step-method table, and the Hamiltonian
 * helpers shared by the step methods.
 */
#ifndef PS_MCMC_IMPL_H
#define PS_MCMC_IMPL_H

#include "mcmc/mcmc.h"

/* A point in phase space with its cached log density, gradient and p_sharp. */
typedef struct ps_phase_point {
    double *q, *p, *p_sharp, *grad;
    double lp;
} ps_phase_point;

/*
 * A step method, chosen by name from the registry in chain.c. setup allocates the
 * method's workspace (every buffer a step needs); step never allocates.
 *   setup:        allocates *state for the chain (settings and dim are final).
 *   destroy:      frees state (accepts NULL).
 *   step:         one transition from the chain's current point; fills stats (lp,
 *                 acceptance_rate, step_size, tree_depth, n_steps, diverging,
 *                 reached_max_treedepth, energy, energy_error) and moves the chain.
 *   adapt:        after a warmup step when the chain adapts: learns the step size.
 *   metric_installed: a new metric was installed (re-tune what depends on it).
 *   state_size/save/restore: the method's own state for checkpoints (may be NULL).
 *   population:   how the method uses other chains (ps_population_kind).
 *   stats, n_stats, stat_values: the statistics the method reports and how to read them
 *                 from ps_iter_stats; NULL for the Hamiltonian table (lp, acceptance_rate,
 *                 step_size, tree_depth, n_steps, diverging, energy, energy_error).
 */
typedef struct ps_step_method {
    const char *name;
    bool uses_gradient;  /* needs finite gradients (initialisation checks them) */
    bool uses_step_size; /* HMC family: step-size heuristic and dual averaging */
    ps_status (*setup)(ps_chain *chain, void **state);
    void (*destroy)(void *state);
    ps_status (*step)(ps_chain *chain, void *state, ps_iter_stats *stats);
    void (*adapt)(ps_chain *chain, void *state, const ps_iter_stats *stats);
    ps_status (*metric_installed)(ps_chain *chain, void *state);
    size_t (*state_size)(const void *state);
    void (*save)(const void *state, unsigned char *buf);
    void (*restore)(void *state, const unsigned char *buf);
    ps_population_kind population;
    const ps_stat_info *stats;
    size_t n_stats;
    void (*stat_values)(const ps_iter_stats *stats, double *values);
} ps_step_method;

extern const ps_step_method ps_step_nuts;
extern const ps_step_method ps_step_hmc;
extern const ps_step_method ps_step_metropolis;
extern const ps_step_method ps_step_demetropolis;
extern const ps_step_method ps_step_demetropolisz;

/* PyMC's tune() (pymc.step_methods.metropolis): the factor by which a proposal scale is
 * multiplied after an interval with acceptance rate acc_rate. Shared by Metropolis and the
 * DE methods. */
double ps_metropolis_tune_factor(double acc_rate);

struct ps_chain {
    const ps_model *model;
    ps_model_workspace *ws;
    ps_chain_settings settings;
    char algorithm[32];
    const ps_step_method *method;
    void *method_state;
    size_t dim;
    ps_rng rng;
    ps_metric metric;

    /* The current point: position, log density and gradient. */
    double *q, *grad;
    double lp;
    bool initialized;

    /* Step size and its adaptation. */
    double step_size; /* nominal step size (Metropolis: proposal scaling) */
    ps_dual_averaging da;
    bool adapt_metric; /* windowed metric adaptation (diag and dense metrics) */
    ps_window_schedule windows;
    ps_welford window_acc;
    bool window_pending;
    bool warmup_done; /* the end-of-warmup step size was set */

    int64_t iteration;

    /* Population methods: what the next step draws from (the driver's storage). */
    ps_population_view population;

    /* Scratch: a phase point for the step-size heuristic, and a metric-sized buffer. */
    ps_phase_point scratch;
    double *q_init;
    double *metric_buf;

    char warnings[PS_CHAIN_MAX_WARNINGS][PS_CHAIN_WARNING_SIZE];
    int n_warnings;
};

/* Records a warning (prefixed with the chain id); never allocates. */
void ps_chain_warn(ps_chain *chain, const char *fmt, ...) PS_PRINTF(2, 3);

/* Sets the chain's current point. */
void ps_chain_set_point(ps_chain *chain, const double *q, const double *grad, double lp);

/*
 * Evaluates the log density and gradient at q into *lp and grad. Returns PS_OK and sets
 * *usable to false when the model rejected the point (PS_ERR_NUMERIC) or the log density
 * is not finite; any other status is fatal and passes through.
 */
ps_status ps_chain_eval(ps_chain *chain, const double *q, double *lp, double *grad, bool *usable);

/*
 * One leapfrog step of size eps from z, in place (Betancourt 2017, Sec. 5.1): half step of
 * the momentum, full step of the position with p_sharp, new gradient, half step of the
 * momentum; then z->p_sharp and *h = H(z). *h is +inf when the model rejected the point or
 * H is not a number. Fatal model statuses pass through.
 */
ps_status ps_leapfrog(ps_chain *chain, ps_phase_point *z, double eps, double *h);

/* Draws a fresh momentum into z and returns H(z) (z->p_sharp is updated). */
double ps_phase_point_refresh(ps_chain *chain, ps_phase_point *z);

/* Copies position, momentum, p_sharp, gradient and log density. */
void ps_phase_point_copy(size_t dim, ps_phase_point *dst, const ps_phase_point *src);

/*
 * Stan's init_stepsize (base_hmc): from the current point, doubles or halves the nominal
 * step size until the acceptance probability of one leapfrog step crosses 0.8. Errors:
 * PS_ERR_NUMERIC "posterior is improper" (above 1e7) or "no acceptably small step size"
 * (0), naming the chain.
 */
ps_status ps_chain_init_stepsize(ps_chain *chain);

/*
 * The generalised no-U-turn criterion for merging two adjacent subtrees A and B
 * (Betancourt 2017, A.4.2, with the extra checks of Stan's base_nuts). A's momenta: p_a_in
 * at its state next to B, p_sharp_a_out at its far end, p_sharp_a_in next to B; B's: p_b_in
 * and p_sharp_b_in next to A, p_sharp_b_out at its far end; rho_a and rho_b the sums of
 * their momenta. True when all of these hold:
 *   p_sharp_a_out . rho > 0 and p_sharp_b_out . rho > 0 with rho = rho_a + rho_b;
 *   p_sharp_a_out . r > 0 and p_sharp_b_in . r > 0 with r = rho_a + p_b_in;
 *   p_sharp_a_in . r > 0 and p_sharp_b_out . r > 0 with r = rho_b + p_a_in.
 * Writes rho_a + rho_b to rho_sum (the merged tree's sum of momenta).
 */
bool ps_nuts_merge_criterion(size_t dim, const double *rho_a, const double *rho_b,
                             const double *p_a_in, const double *p_sharp_a_out,
                             const double *p_sharp_a_in, const double *p_b_in,
                             const double *p_sharp_b_in, const double *p_sharp_b_out,
                             double *rho_sum);

/* log(exp(a) + exp(b)) that is exact for -inf arguments. */
double ps_log_sum_exp(double a, double b);

#endif
