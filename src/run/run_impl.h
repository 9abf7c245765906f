/* Private to src/run: the state of one run of the driver. */
#ifndef PS_RUN_IMPL_H
#define PS_RUN_IMPL_H

#include <stdio.h>

#include "mcmc/mcmc.h"
#include "par/par.h"
#include "run/run.h"

#define PS_RUN_FNV_OFFSET UINT64_C(0xcbf29ce484222325)

/* Why sampling stopped. */
typedef enum ps_stop_reason {
    PS_STOP_DRAWS,     /* reached sampler.draws */
    PS_STOP_CONVERGED, /* every convergence criterion passed (stop_early) */
    PS_STOP_MAX_DRAWS  /* reached convergence.max_draws without converging */
} ps_stop_reason;

/* One local chain and its running statistics. */
typedef struct ps_run_slot {
    ps_chain *chain;
    ps_status status;
    char message[2048];
    int64_t divergent_warmup;
    int64_t divergent; /* sampling, over kept draws */
    int64_t treedepth_hits;
    uint64_t n_steps;
    double tree_depth_sum, accept_stat_sum; /* sampling, over kept draws */
    double energy_prev, energy_sq_diff, energy_mean, energy_m2;
    uint64_t energy_n;
    uint64_t stats_digest;
    /* timing and counts per phase, for the run report */
    double seconds_warmup, seconds_sampling; /* time in this chain's iterations */
    uint64_t steps_warmup;
    unsigned long long grads_at_sampling;
    double grad_seconds_at_sampling;
} ps_run_slot;

typedef struct ps_run {
    MPI_Comm comm;
    const ps_config *cfg;
    const ps_run_options *options;
    ps_model *model;
    ps_layout *layout;
    size_t dim, n_quantities; /* quantities: lp__ and every output element */
    bool pooled;
    size_t n_local;
    ps_run_slot *slots;
    int64_t *ran_scratch;
    size_t *recorded_scratch;
    double *block; /* [local chain][draw][quantity], block_capacity draws per chain */
    size_t block_capacity;
    ps_monitor *monitor;      /* sampling draws */
    ps_monitor *warm_monitor; /* warmup draws of the current window (adaptive warmup) */
    int64_t warmup_used;
    bool warmup_early;
    double pooled_step_size;
    int64_t sampling_done;
    ps_stop_reason stop_reason;
    ps_convergence last_check;
    bool have_check;
    int64_t divergent_total;
    double t_start, t_sampling, t_end;
    double t_sync; /* time of this rank at sync points: collectives and the checks */
    ps_par_counters counters_start; /* collective counters when the run started */

    /* progress line (rank 0) */
    bool progress_on, tty;
    const char *phase;
    int64_t phase_total, phase_done;
    double phase_start, last_print, print_interval;
    int progress_len;
} ps_run;

uint64_t ps_run_fnv1a(uint64_t h, const void *data, size_t n);

ps_status ps_run_progress_init(ps_run *run);
void ps_run_progress_phase(ps_run *run, const char *phase, int64_t total);
/* Called by the thread running local chain `slot` after each iteration. */
void ps_run_progress_tick(ps_run *run, size_t slot, int64_t n, bool sampling);
void ps_run_progress_sync(ps_run *run);
void ps_run_progress_done(ps_run *run);
void ps_run_progress_fini(ps_run *run);

/* Prints (rank 0) the chains' warnings, each distinct text once with the chains it came
 * from, and clears them. Collective on run->comm. */
ps_status ps_run_report_warnings(ps_run *run);

/* Prints (rank 0) the summary table and diagnostics warnings. Collective on run->comm. */
ps_status ps_run_summary(ps_run *run);

#endif
