/*
 * Single-chain MCMC machinery: metrics, Welford accumulators, dual averaging, Stan's
 * windowed warmup schedule, step methods (NUTS, static HMC, random-walk Metropolis, and the
 * population methods DEMetropolis and DEMetropolisZ) and the chain object that composes
 * them.
 *
 * Nothing here knows about MPI. A driver (src/run with src/par) runs many chains; at the
 * end of each slow adaptation window it may gather the chains' window accumulators
 * (ps_chain_window_accumulator), merge them in chain-id order (ps_welford_merge), turn the
 * merged state into a metric (ps_welford_regularized_metric) and install it in every chain
 * (ps_chain_install_metric). A chain's whole state saves to and restores from a flat byte
 * buffer (ps_chain_save / ps_chain_restore) so that a resumed run is bit-identical.
 *
 * Population step methods (differential evolution) propose moves from other chains'
 * states. The chain never sees how those states travel between ranks: the driver hands it
 * a read-only view of them (ps_chain_set_population) before it steps.
 *
 * All functions are local. None of the step or accumulate functions allocate; create and
 * init functions do.
 */
#ifndef PS_MCMC_H
#define PS_MCMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/rng.h"
#include "model/model.h"

/* ---------------------------------------------------------------------------------------
 * Metrics
 *
 * The metric M is the covariance of the momentum, p ~ N(0, M). It is stored through its
 * inverse, inv_metric = M^{-1}, which adaptation estimates as the posterior covariance.
 * Kinetic energy 0.5 p^T inv_metric p; dtau/dp = inv_metric p ("p_sharp").
 * ------------------------------------------------------------------------------------- */

typedef enum ps_metric_kind {
    PS_METRIC_UNIT = 0,
    PS_METRIC_DIAG = 1,
    PS_METRIC_DENSE = 2
} ps_metric_kind;

typedef struct ps_metric {
    ps_metric_kind kind;
    size_t dim;
    /* unit: NULL; diag: dim values; dense: dim*dim values, symmetric, full storage. */
    double *inv_metric;
    /* diag: 1/sqrt(inv_metric) (scales momentum draws) and sqrt(inv_metric) (scales
     * Metropolis proposals); dense: NULL. */
    double *inv_sqrt;
    double *sqrt_diag;
    /* dense: the lower Cholesky factor L of inv_metric (L L^T = inv_metric), dim*dim,
     * column-major, upper part zero; else NULL. */
    double *chol;
    /* dense: dim*dim scratch for factorising candidate matrices. */
    double *scratch;
} ps_metric;

/* "unit", "diag", "dense" (NULL for an invalid kind). Local. */
const char *ps_metric_kind_name(ps_metric_kind kind);

/* Parses "unit", "diag" (also "diag_e") or "dense" ("dense_e"); PS_ERR_CONFIG listing the
 * valid names otherwise. Local. */
ps_status ps_metric_kind_parse(const char *name, ps_metric_kind *kind);

/* Number of doubles of inv_metric: 0 (unit), dim (diag), dim*dim (dense). Local. */
size_t ps_metric_size(ps_metric_kind kind, size_t dim);

/* Allocates a metric of the given kind, set to the identity. Errors: PS_ERR_MEM,
 * PS_ERR_CONFIG when dim exceeds what BLAS indexes (INT_MAX). Local. */
ps_status ps_metric_init(ps_metric *metric, ps_metric_kind kind, size_t dim);

/* Frees the arrays; accepts a zeroed or half-built metric. Local. */
void ps_metric_fini(ps_metric *metric);

/*
 * Installs inv_metric (ps_metric_size doubles; ignored for unit). Entries that make the
 * metric unusable are repaired instead of failing, and *warning (a buffer of warning_size
 * bytes, may be NULL) receives a sentence saying what was done, else "":
 *   diag:  a non-finite or non-positive element keeps its previous value;
 *   dense: a non-finite matrix keeps the previous metric; a matrix that is not positive
 *          definite (dpotrf fails) gets a growing jitter on its diagonal (relative
 *          1e-12 ... 1e-1 of its largest diagonal element), and if that does not help,
 *          only its diagonal is kept (non-positive elements replaced by the previous
 *          metric's diagonal). The lower triangle is used; the matrix is symmetrised.
 * Returns true in *repaired when a warning was written. Never allocates. Local.
 */
void ps_metric_set(ps_metric *metric, const double *inv_metric, bool *repaired, char *warning,
                   size_t warning_size);

/* Copies src's values into dst (same kind and dim). Local. */
void ps_metric_copy(ps_metric *dst, const ps_metric *src);

/* Draws p ~ N(0, M) (M = inv_metric^{-1}) with dim standard normals from rng. Local. */
void ps_metric_sample_momentum(const ps_metric *metric, ps_rng *rng, double *p);

/* p_sharp = inv_metric p (= dtau/dp). Local. */
void ps_metric_dtau_dp(const ps_metric *metric, const double *p, double *p_sharp);

/* Kinetic energy 0.5 p^T inv_metric p, given p_sharp = inv_metric p. Local. */
double ps_metric_kinetic(size_t dim, const double *p, const double *p_sharp);

/* The momentum half step and position step of a leapfrog in one pass where the metric
 * allows: p += half grad; p_sharp = inv_metric p; q += eps p_sharp. Local. */
void ps_metric_kick_drift(const ps_metric *metric, double half, const double *grad, double eps,
                          double *p, double *p_sharp, double *q);

/* The closing momentum half step: p += half grad; p_sharp = inv_metric p; returns the
 * kinetic energy 0.5 p . p_sharp. Local. */
double ps_metric_kick_kinetic(const ps_metric *metric, double half, const double *grad, double *p,
                              double *p_sharp);

/* Draws delta ~ N(0, scale^2 inv_metric) (a random-walk proposal step). Local. */
void ps_metric_sample_proposal(const ps_metric *metric, ps_rng *rng, double scale, double *delta);

/* ---------------------------------------------------------------------------------------
 * Welford accumulators of mean and (co)variance
 *
 * Updates follow Welford (1962); two accumulators merge exactly with the parallel formula
 * of Chan, Golub and LeVeque (1979): n = na + nb, d = mb - ma, m = ma + d nb / n,
 * M2 = M2a + M2b + d d^T na nb / n. Merging into an empty accumulator copies the other
 * one bit for bit. A dense accumulator keeps the lower triangle of M2 in full column-major
 * storage (the upper triangle is mirrored on output).
 * ------------------------------------------------------------------------------------- */

typedef struct ps_welford {
    size_t dim;
    bool dense;
    uint64_t n;   /* number of points */
    double *mean; /* dim */
    double *m2;   /* dim (diagonal) or dim*dim (dense) sums of squared deviations */
} ps_welford;

ps_status ps_welford_init(ps_welford *acc, size_t dim, bool dense);
void ps_welford_fini(ps_welford *acc);
void ps_welford_reset(ps_welford *acc);
void ps_welford_add(ps_welford *acc, const double *x);
/* dst += src (Chan, Golub and LeVeque 1979). Same dim and kind. Local. */
void ps_welford_merge(ps_welford *dst, const ps_welford *src);
/* dst = src (same dim and kind). Local. */
void ps_welford_copy(ps_welford *dst, const ps_welford *src);
/* Sample (co)variance M2 / (n - 1) into out (dim or dim*dim, full symmetric); returns
 * false (out untouched) when n < 2. Local. */
bool ps_welford_covariance(const ps_welford *acc, double *out);

/* Doubles needed to pack an accumulator (1 + dim + dim or dim*dim), for MPI exchange. */
size_t ps_welford_packed_size(size_t dim, bool dense);
/* Packs n (as a double, exact below 2^53), mean, m2 into buf. Local. */
void ps_welford_pack(const ps_welford *acc, double *buf);
/* Unpacks what ps_welford_pack wrote. Errors: PS_ERR_DATA for a negative or fractional
 * count. Local. */
ps_status ps_welford_unpack(ps_welford *acc, const double *buf);

/*
 * Stan's regularised metric from a (merged) window accumulator: with S the sample
 * (co)variance and n the number of points, inv_metric = (n/(n+5)) S + 1e-3 (5/(n+5)) I
 * (diag: only the diagonal). Writes ps_metric_size(kind, dim) doubles to inv_metric.
 * Returns false (inv_metric untouched) when n < 2. Local.
 */
bool ps_welford_regularized_metric(const ps_welford *acc, double *inv_metric);

/* ---------------------------------------------------------------------------------------
 * Dual averaging of the log step size (Nesterov 2009; Hoffman and Gelman 2014, Sec. 3.2,
 * with Stan's defaults gamma 0.05, t0 10, kappa 0.75).
 * ------------------------------------------------------------------------------------- */

typedef struct ps_dual_averaging {
    double counter; /* adaptation steps since the last restart */
    double s_bar;   /* running average of (delta - accept stat) */
    double x_bar;   /* averaged log step size */
    double mu;      /* shrinkage target, log(10 eps0) */
    double delta;   /* target acceptance statistic */
    double gamma, t0, kappa;
} ps_dual_averaging;

void ps_dual_averaging_init(ps_dual_averaging *da, double delta, double gamma, double t0,
                            double kappa);
void ps_dual_averaging_restart(ps_dual_averaging *da);
/* Sets mu = log(10 step_size). Local. */
void ps_dual_averaging_set_mu(ps_dual_averaging *da, double step_size);
/* One update with an acceptance statistic (clipped at 1); returns the next step size
 * exp(x). Local. */
double ps_dual_averaging_learn(ps_dual_averaging *da, double accept_stat);
/* The final step size exp(x_bar). Local. */
double ps_dual_averaging_final(const ps_dual_averaging *da);

/* ---------------------------------------------------------------------------------------
 * Stan's windowed warmup schedule
 *
 * Warmup iterations 0 .. num_warmup-1 are split into a fast init buffer, slow windows
 * whose sizes double from base_window (the last one stretched to the start of the term
 * buffer when the next doubled window would not fit), and a fast term buffer. When
 * init_buffer + base_window + term_buffer > num_warmup, the stages become 15%/75%/10% of
 * num_warmup (init = floor(0.15 w), term = floor(0.1 w), window = the rest). With fewer
 * than 20 warmup iterations no metric is estimated (the step size is still adapted).
 * ------------------------------------------------------------------------------------- */

typedef struct ps_window_schedule {
    int64_t num_warmup;
    int64_t init_buffer, term_buffer, base_window;
    int64_t counter;     /* warmup iterations seen */
    int64_t window_size; /* size of the current slow window */
    int64_t next_end;    /* iteration at which the current slow window ends */
    bool active;         /* false: no metric adaptation (num_warmup < 20) */
} ps_window_schedule;

/* Sets up the schedule. Writes a warning sentence (or "") to warning when the warmup is
 * too short for the configuration. Local. */
void ps_window_schedule_init(ps_window_schedule *ws, int64_t num_warmup, int64_t init_buffer,
                             int64_t term_buffer, int64_t base_window, char *warning,
                             size_t warning_size);
/* The current iteration lies in a slow window (its draw goes to the accumulator). */
bool ps_window_schedule_in_window(const ps_window_schedule *ws);
/* The current iteration is the last one of a slow window. */
bool ps_window_schedule_window_end(const ps_window_schedule *ws);
/* Moves to the next iteration; at a window end first computes the next window. */
void ps_window_schedule_advance(ps_window_schedule *ws);

/* ---------------------------------------------------------------------------------------
 * The chain
 * ------------------------------------------------------------------------------------- */

typedef struct ps_chain ps_chain;

/* Which differential-evolution parameter warmup tunes (PyMC's tune argument). */
typedef enum ps_de_tune {
    PS_DE_TUNE_SCALING = 0, /* the scale of the noise epsilon (PyMC's default) */
    PS_DE_TUNE_LAMBDA = 1,  /* the factor of the difference vector */
    PS_DE_TUNE_NONE = 2
} ps_de_tune;

/* Parses "scaling", "lambda" or "none"; PS_ERR_CONFIG listing the valid names otherwise.
 * Local. */
ps_status ps_de_tune_parse(const char *name, ps_de_tune *tune);

typedef struct ps_chain_settings {
    const char *algorithm;   /* step method: "nuts" (default), "hmc", "metropolis",
                                "demetropolis", "demetropolisz" */
    ps_metric_kind metric;   /* PS_METRIC_DIAG (default), PS_METRIC_DENSE, PS_METRIC_UNIT */
    int max_treedepth;       /* NUTS: 10 */
    double target_accept;    /* dual averaging delta: 0.8 */
    int64_t warmup;          /* warmup iterations: 1000 */
    bool adapt;              /* adapt step size and metric during warmup: true */
    bool pooled_metric;      /* window ends wait for ps_chain_install_metric: false */
    double init_radius;      /* random inits uniform(-r, r): 2 */
    double step_size;        /* initial nominal step size: 1 */
    double int_time;         /* static HMC integration time: 2 pi */
    double max_delta_h;      /* divergence threshold on H - H0: 1000 */
    int64_t init_buffer;     /* 75 */
    int64_t term_buffer;     /* 50 */
    int64_t base_window;     /* 25 */
    double gamma, t0, kappa; /* dual averaging: 0.05, 10, 0.75 */
    int tune_interval;       /* Metropolis and DE: 100 */
    double de_lambda;        /* DE: factor of the difference; 0 means 2.38 / sqrt(2 dim) */
    double de_scaling;       /* DE: initial sd of the noise epsilon: 0.001 */
    ps_de_tune de_tune;      /* DE: what warmup tunes: PS_DE_TUNE_SCALING */
    double de_snooker;       /* DEMetropolisZ: probability of a snooker update: 0 */
    int init_attempts;       /* random initialisation attempts: 100 */
    uint64_t seed;
    uint64_t chain_id; /* also the RNG stream */
} ps_chain_settings;

/* Per-iteration statistics, named as ArviZ's sample_stats. */
typedef struct ps_iter_stats {
    double lp;              /* log density at the draw */
    double acceptance_rate; /* mean Metropolis acceptance over the trajectory */
    double step_size;       /* step size used (Metropolis: proposal scaling) */
    int tree_depth;         /* NUTS tree depth (0 for other methods) */
    int64_t n_steps;        /* leapfrog steps (Metropolis: 1) */
    bool diverging;
    bool reached_max_treedepth;
    double energy;       /* Hamiltonian at the draw (Metropolis: -lp) */
    double energy_error; /* H(draw) - H0 (Metropolis: lp0 - lp) */
    bool warmup;         /* the iteration was a warmup iteration */
    bool window_end;     /* a slow adaptation window ended with this iteration */
    bool accepted;       /* DE: the proposal was accepted */
    double lambda;       /* DE: factor of the difference vector in use */
} ps_iter_stats;

/* ---------------------------------------------------------------------------------------
 * Sample statistics: each step method declares the statistics it reports per draw (named
 * as ArviZ's sample_stats), so that a driver can store and write them without knowing the
 * method. Every table starts with "lp". NUTS, static HMC and Metropolis report lp,
 * acceptance_rate, step_size, tree_depth, n_steps, diverging, energy, energy_error; the
 * differential-evolution methods lp, accepted, acceptance_rate, scaling, lambda.
 * ------------------------------------------------------------------------------------- */

typedef enum ps_stat_type {
    PS_STAT_REAL = 0, /* a double */
    PS_STAT_INT = 1,  /* an integer (exact as a double) */
    PS_STAT_BOOL = 2  /* 0 or 1 */
} ps_stat_type;

typedef struct ps_stat_info {
    const char *name;
    ps_stat_type type;
} ps_stat_info;

/* The most statistics any step method reports. */
#define PS_MAX_STATS 16

/* The statistics of a step method (static storage) and their number in *n; NULL for an
 * unknown name. Local. */
const ps_stat_info *ps_step_method_stats(const char *algorithm, size_t *n);

/* Writes the chain's method's statistics of one iteration as doubles, in the order of
 * ps_step_method_stats (integers and booleans converted exactly). Local. */
void ps_chain_stat_values(const ps_chain *chain, const ps_iter_stats *stats, double *values);

/* ---------------------------------------------------------------------------------------
 * Populations
 * ------------------------------------------------------------------------------------- */

/* How a step method uses other chains. */
typedef enum ps_population_kind {
    PS_POPULATION_NONE = 0,    /* a single-chain method */
    PS_POPULATION_CURRENT = 1, /* DEMetropolis: the current states of other chains */
    PS_POPULATION_ARCHIVE = 2  /* DEMetropolisZ: an archive of past states of all chains */
} ps_population_kind;

/* The kind of a step method (PS_POPULATION_NONE for an unknown name). Local. */
ps_population_kind ps_step_method_population(const char *algorithm);

/*
 * What a population step method may draw from: rows of dim doubles. With candidates NULL
 * every row 0 .. n_candidates - 1 is a candidate; else candidates lists the n_candidates
 * row numbers. The storage is the driver's; it must not change while the chain steps.
 */
typedef struct ps_population_view {
    const double *states;
    const size_t *candidates;
    size_t n_candidates;
} ps_population_view;

/* Installs the view the chain's next steps draw from (copied; the arrays are borrowed).
 * With fewer than two candidates a DE step proposes noise alone. Local. */
void ps_chain_set_population(ps_chain *chain, const ps_population_view *view);

/* The defaults above. Local. */
void ps_chain_settings_default(ps_chain_settings *settings);

/* Names of the registered step methods, comma separated ("nuts, hmc, metropolis, ..."). */
const char *ps_step_method_names(void);

/*
 * Creates a chain over model (borrowed: it must outlive the chain) with its own RNG stream
 * (seed, chain_id), model workspace, step-method workspace, metric and adaptation state.
 * The chain is not usable until ps_chain_init. Population methods use no metric: their
 * chains get the unit metric whatever settings.metric says, and no metric adaptation.
 * Errors: PS_ERR_CONFIG for an unknown
 * algorithm (the message lists the valid names) or an invalid setting; PS_ERR_MEM;
 * whatever the model's workspace creation returns. Local.
 */
ps_status ps_chain_create(const ps_model *model, const ps_chain_settings *settings, ps_chain **out);

/* Frees the chain; accepts NULL and sets *chain to NULL. Local. */
void ps_chain_destroy(ps_chain **chain);

/*
 * Finds the initial point: init (dim unconstrained values) if not NULL, else uniform
 * (-r, r) per coordinate, retried up to init_attempts times while the model rejects the
 * point or the log density (or, for gradient-based methods, the gradient) is not finite.
 * Then, when the chain adapts, runs Stan's step-size heuristic. Errors: PS_ERR_NUMERIC
 * naming the chain, the attempts and the last value or model message (also when the
 * heuristic fails: "posterior is improper", "no acceptably small step size"); fatal model
 * statuses pass through. Local.
 */
ps_status ps_chain_init(ps_chain *chain, const double *init);

/*
 * Runs one iteration (warmup while ps_chain_iteration < warmup, then sampling) and fills
 * stats. During warmup it adapts: dual averaging of the step size, the window
 * accumulator, and at a window end either the local metric update (Stan's behaviour) or,
 * with settings.pooled_metric, it marks the window pending (stats->window_end) and the
 * caller must call ps_chain_finish_window or ps_chain_install_metric before the next
 * ps_chain_step. A numerical failure inside a trajectory is a divergence, never an error.
 * Errors: fatal model statuses; PS_ERR_NUMERIC when the step-size heuristic fails after a
 * metric update; PS_ERR_INTERNAL when called uninitialised or with a pending window.
 * Never allocates. Local.
 */
ps_status ps_chain_step(ps_chain *chain, ps_iter_stats *stats);

/* Finishes a pending window locally: installs the regularised metric of the chain's own
 * window accumulator (as ps_chain_install_metric). Local. */
ps_status ps_chain_finish_window(ps_chain *chain);

/*
 * Installs inv_metric (ps_metric_size(kind, dim) doubles, e.g. from merged accumulators),
 * repairing it with a warning if it is not usable (ps_metric_set); clears the window
 * accumulator and the pending flag; for HMC methods re-runs the step-size heuristic, sets
 * mu = log(10 eps) and restarts dual averaging; for Metropolis resets the proposal scaling
 * to 2.38 / sqrt(dim). Errors: as ps_chain_step. Local.
 */
ps_status ps_chain_install_metric(ps_chain *chain, const double *inv_metric);

/*
 * Ends warmup early (adaptive warmup length): called right after a slow window's metric
 * was installed, it turns the rest of warmup into the term buffer, so warmup ends
 * term_buffer iterations from now with step-size adaptation only, as Stan's warmup ends
 * after its last slow window. Does nothing when warmup would end no sooner. Errors:
 * PS_ERR_INTERNAL outside warmup or with a window pending. Local.
 */
ps_status ps_chain_end_warmup_early(ps_chain *chain);

/* Warmup iterations in force (the configured length, or less after an early end). */
int64_t ps_chain_warmup_length(const ps_chain *chain);

/* True while a window end waits for ps_chain_finish_window / ps_chain_install_metric. */
bool ps_chain_window_pending(const ps_chain *chain);
/* The accumulator of the current slow window (draws since the last metric update). */
const ps_welford *ps_chain_window_accumulator(const ps_chain *chain);
const ps_window_schedule *ps_chain_window_schedule(const ps_chain *chain);
const ps_metric *ps_chain_metric(const ps_chain *chain);

/* Step size (nominal; Metropolis: proposal scaling; DE: the scaling of epsilon) and the
 * dual-averaging state, so that
 * a driver can combine them across chains. Setting the step size does not touch the dual
 * averaging state. Local. */
double ps_chain_step_size(const ps_chain *chain);
void ps_chain_set_step_size(ps_chain *chain, double step_size);
const ps_dual_averaging *ps_chain_dual_averaging(const ps_chain *chain);
void ps_chain_set_dual_averaging(ps_chain *chain, const ps_dual_averaging *da);

size_t ps_chain_dim(const ps_chain *chain);
uint64_t ps_chain_id(const ps_chain *chain);
/* Iterations done (warmup and sampling). */
int64_t ps_chain_iteration(const ps_chain *chain);
bool ps_chain_in_warmup(const ps_chain *chain);
/* The current point (unconstrained, dim values; valid until the next step). */
const double *ps_chain_position(const ps_chain *chain);
double ps_chain_log_density(const ps_chain *chain);
/* The chain's model workspace (for timing and counters). */
ps_model_workspace *ps_chain_model_workspace(ps_chain *chain);

/* Gradient evaluations made by this chain's workspace. */
unsigned long long ps_chain_gradient_count(const ps_chain *chain);
/* Writes the constrained output (ps_model_output_size values) of the current point. */
ps_status ps_chain_constrain(ps_chain *chain, double *out);

/* Warnings the chain recorded (short warmup, repaired metric); the driver prints them.
 * At most PS_CHAIN_MAX_WARNINGS are kept; further ones are counted. Local. */
#define PS_CHAIN_MAX_WARNINGS 8
#define PS_CHAIN_WARNING_SIZE 320
int ps_chain_warning_count(const ps_chain *chain);
const char *ps_chain_warning(const ps_chain *chain, int i);
void ps_chain_clear_warnings(ps_chain *chain);

/*
 * Exact state for checkpoints: a fixed little-endian layout (magic "PSCHAIN", version,
 * algorithm, metric kind, dim, chain id, seed, then the iteration, RNG state, position,
 * log density and gradient, step size, dual averaging, window schedule, window
 * accumulator, metric and its Cholesky factor, step-method state, and an FNV-1a checksum).
 * Restoring into a chain created with the same model and settings and continuing gives
 * draws bit-identical to an uninterrupted chain. ps_chain_state_size is the exact size.
 * Errors: PS_ERR_INTERNAL (buffer too small) from save; PS_ERR_DATA naming what does not
 * match (magic, version, checksum, algorithm, metric, dim, chain, seed, length) from
 * restore, which leaves the chain unchanged on error. Local.
 */
size_t ps_chain_state_size(const ps_chain *chain);
ps_status ps_chain_save(const ps_chain *chain, unsigned char *buf, size_t size);
ps_status ps_chain_restore(ps_chain *chain, const unsigned char *buf, size_t size);

#define PS_CHAIN_STATE_VERSION 1u

#endif
