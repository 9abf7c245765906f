/* Private to src/run: the state of one run of the driver. */
#ifndef PS_RUN_IMPL_H
#define PS_RUN_IMPL_H

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "io/trace.h"
#include "mcmc/mcmc.h"
#include "par/par.h"
#include "run/run.h"

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
    uint64_t steps_all; /* n_steps of every iteration (DE: log-density evaluations) */
    double tree_depth_sum, accept_stat_sum; /* sampling, over kept draws */
    double energy_prev, energy_sq_diff, energy_mean, energy_m2;
    uint64_t energy_n;
    uint64_t stats_digest;
    /* timing and counts per phase, for the run report */
    size_t rec;                              /* draws recorded in the current block */
    bool block_done;                         /* the chain reached the end of the current block */
    double seconds_warmup, seconds_sampling; /* time in this chain's iterations */
    uint64_t steps_warmup;
    unsigned long long grads_at_sampling;
    double grad_seconds_at_sampling;
} ps_run_slot;

typedef enum ps_run_phase { PS_PHASE_WARMUP = 0, PS_PHASE_SAMPLING = 1 } ps_run_phase;

typedef struct ps_population ps_population;

typedef struct ps_run {
    MPI_Comm comm;
    const ps_config *cfg;
    ps_run_options *options;
    uint64_t seed; /* the configuration's, or on resume the checkpoint's */
    ps_run_phase phase;
    int64_t block_start; /* chain iteration at which the current block started */
    uint64_t model_hash, data_hash;
    double last_checkpoint;
    /* signals and stop notices between ranks */
    atomic_int stop_requested;
    bool notice_sent;
    int notices_received;
    int notice_in, notice_out;
    MPI_Comm notice_comm;
    MPI_Request notice_recv;
    MPI_Request *notice_sends;
    long long test_signal_at;
    double last_poll;   /* when the master thread last polled for stop notices */
    int64_t next_check; /* without stop_early: sampling iterations of the next check */
    int64_t progress_offset;
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
    /* The trace, and its block buffers: values in the trace's format, and the sample
     * statistics of the recorded draws ([local chain][draw], block_capacity per chain). */
    ps_trace *trace;
    double *trace_values; /* trace-format block of the staged draws */
    /* The sample statistics the step method declares (ps_step_method_stats; lp first) and
     * their descriptions for the trace. Values are kept as doubles per draw. */
    const ps_stat_info *stat_info;
    size_t n_stats;
    ps_trace_array trace_stats[PS_MAX_STATS];
    double *stat_rows; /* of the block: [local chain][draw][statistic], block_capacity */
    /* Draws waiting to be appended to the trace: appends are batched (each has a fixed
     * metadata cost), [local chain][draw], stage_capacity draws per chain. */
    size_t staged, stage_capacity;
    double *stage_rows;           /* [local chain][draw][quantity] */
    double *stage_stats;          /* [local chain][draw][statistic] */
    unsigned char *stage_columns; /* per statistic, in the trace's type, for an append */
    ps_monitor *monitor;          /* sampling draws */
    ps_monitor *warm_monitor;     /* warmup draws of the current window (adaptive warmup) */
    int64_t warmup_used;
    bool warmup_early;
    double pooled_step_size;
    int64_t sampling_done;
    ps_stop_reason stop_reason;
    ps_convergence last_check;
    bool have_check;
    int64_t divergent_total;
    double t_start, t_sampling, t_end;
    double t_sync;     /* time of this rank at sync points: collectives and the checks */
    double t_trace;    /* time of this rank in trace appends and flushes */
    double t_exchange; /* time of this rank in population exchanges (waiting included) */
    ps_par_counters counters_start; /* collective counters when the run started */
    /* Population samplers (population.c): the states other chains see; NULL otherwise. */
    ps_population *population;

    /* progress line (rank 0) */
    bool progress_on, tty;
    const char *progress_phase;
    int64_t phase_total, phase_done;
    double phase_start, last_print, print_interval;
    int progress_len;
} ps_run;

ps_status ps_run_progress_init(ps_run *run);
void ps_run_progress_phase(ps_run *run, const char *phase, int64_t total);
/* Called by the thread running local chain `slot` after each iteration. */
void ps_run_progress_tick(ps_run *run, size_t slot, int64_t n, bool sampling);
void ps_run_progress_sync(ps_run *run);
void ps_run_progress_done(ps_run *run);
void ps_run_progress_fini(ps_run *run);

/* ---------------------------------------------------------------------------------------
 * Pieces of the driver (sample.c) that the population run path (population.c) shares.
 * Collective ones are marked; the others are Local.
 * ------------------------------------------------------------------------------------- */

/* Records a chain's failure in its slot (the message is taken from the recorded error). */
void ps_run_slot_fail(ps_run_slot *slot, ps_status st);

/* The lowest failing local chain's error becomes this rank's recorded error. */
ps_status ps_run_local_status(ps_run *run);

/* Bookkeeping after local chain c made iteration `it` (counted from 0 over warmup and
 * sampling) in phase ph: running statistics, and the draw and its statistics recorded in
 * the block when it is kept (warmup: when `record`; sampling: every thin-th). Called by the
 * thread that runs the chain. Errors: the model's failure to compute the output. */
ps_status ps_run_after_step(ps_run *run, size_t c, ps_run_phase ph, int64_t it,
                            const ps_iter_stats *stats, bool record);

/* Local chain c makes iteration `it` in phase ph: the step (with the injected fault
 * sample_model_error at iteration 7), the bookkeeping of ps_run_after_step, and a tick of
 * the progress line. A failure is recorded in the chain's slot and returned; *stats holds
 * the step's statistics. Called by the thread that runs the chain. */
ps_status ps_run_step_chain(ps_run *run, size_t c, ps_run_phase ph, int64_t it, bool record,
                            ps_iter_stats *stats);

/* Whether a stop signal arrived in this process (SIGTERM, SIGINT, SIGUSR1). */
bool ps_run_signal_pending(void);

/* Stops the run at a signal: checkpoint, flush and close the trace, tell the user.
 * Collective. */
ps_status ps_run_stop_for_signal(ps_run *run);

/* Grows the block to `draws` draws per chain; the draws a block starting at block_start
 * and ending at target needs; the end of the next sampling block. */
ps_status ps_run_reserve_block(ps_run *run, size_t draws);
size_t ps_run_block_draws_needed(const ps_run *run, ps_run_phase ph, int64_t target);
int64_t ps_run_sampling_target(const ps_run *run);

/* After a finished block: every chain ended it at the same iteration with the same number
 * of recorded draws (*recorded). Then ps_run_block_reset starts the next one. */
ps_status ps_run_block_finished(ps_run *run, size_t *recorded);
void ps_run_block_reset(ps_run *run);

/* Stages the block's n draws for the trace and appends what is staged when due.
 * Collective. */
ps_status ps_run_trace_append(ps_run *run, ps_trace_part part, size_t n, bool now);

/* Periodic checkpoint at a sync point. Collective. */
ps_status ps_run_checkpoint_if_due(ps_run *run);

/* The sync point after a finished sampling block ending at `target` with `recorded` draws
 * per chain: convergence monitor, trace, the stop decision (*finished), the checkpoint
 * timer. Collective. */
ps_status ps_run_sampling_sync(ps_run *run, int64_t target, size_t recorded, bool *finished);

/* The start of sampling: counters for the report and the progress line; *finished when
 * there is nothing to sample. Local. */
void ps_run_sampling_begin(ps_run *run, bool *finished);

/* ---------------------------------------------------------------------------------------
 * Population samplers (population.c): DEMetropolis and DEMetropolisZ run their chains in
 * lock step and exchange states between the ranks (DESIGN.md Section 7).
 * ------------------------------------------------------------------------------------- */

/* Creates run->population for the chains of the run (after setup_chains) and checks what
 * the layout allows; warns (rank 0) when DEMetropolis has fewer than 2 d chains.
 * Collective. */
ps_status ps_population_create(ps_run *run);

/* Establishes the population from the chains' current states: on a fresh run the archive
 * starts with every chain's initial state; on a resume (blob from the checkpoint, may be
 * NULL otherwise) the archive and the lock-step position are restored. Collective. */
ps_status ps_population_start(ps_run *run, const unsigned char *blob, size_t size);

/* Warmup and sampling of a population run from wherever it stands. Collective. */
ps_status ps_population_drive(ps_run *run, bool *stopped);

/* The population's state for a checkpoint (the same on every rank): *blob is allocated
 * (ps_free it). Local. */
ps_status ps_population_save(const ps_run *run, unsigned char **blob, size_t *size);

/* Frees run->population; accepts NULL. Local. */
void ps_population_destroy(ps_run *run);

/* ---------------------------------------------------------------------------------------
 * Checkpoints (checkpoint.c)
 * ------------------------------------------------------------------------------------- */

/* What a checkpoint holds besides the chains' records. */
typedef struct ps_ckpt_header {
    uint64_t n_chains;
    uint32_t phase;          /* ps_run_phase */
    int64_t block_start;     /* chain iteration at which the current block started */
    int64_t warmup_used;     /* warmup length in force */
    uint8_t warmup_early;    /* adaptive warmup ended early */
    double pooled_step_size; /* after warmup, with pooling */
    uint64_t seed;
    uint64_t trace_warmup_draws, trace_draws; /* draws per chain in the trace */
    uint64_t model_hash, data_hash;
    char *config_text; /* the comparable configuration (owned) */
    /* Population samplers: the population's state, once for the run (owned; NULL and 0
     * otherwise). */
    unsigned char *population;
    size_t population_size;
} ps_ckpt_header;

/* Writes a checkpoint: the header, and this rank's chains' records (each ending with its
 * FNV-1a checksum), to "<path>.tmp", synced and renamed to path. Collective. */
ps_status ps_checkpoint_write(MPI_Comm comm, const char *path, const ps_ckpt_header *h,
                              const ps_layout *layout, unsigned char *const *records,
                              const size_t *record_sizes);

/* Reads a checkpoint: the header, and the records of this rank's chains in the layout
 * (which may differ from the one that wrote it). Errors: PS_ERR_CONFIG when there is none
 * or it holds another number of chains; PS_ERR_IO naming what is damaged. Collective. */
ps_status ps_checkpoint_read(MPI_Comm comm, const char *path, const ps_layout *layout,
                             ps_ckpt_header *h, unsigned char ***records, size_t **record_sizes);

/* Reads the seed of a checkpoint (rank 0 reads, all receive), so that a resumed run can
 * create its chains and model with it. Errors as ps_checkpoint_read. Collective. */
ps_status ps_checkpoint_peek_seed(MPI_Comm comm, const char *path, uint64_t *seed);

/* Frees what ps_checkpoint_read returned. Local. */
void ps_checkpoint_free(ps_ckpt_header *h, unsigned char **records, size_t n);

/* Prints (rank 0) the chains' warnings, each distinct text once with the chains it came
 * from, and clears them. Collective on run->comm. */
ps_status ps_run_report_warnings(ps_run *run);

/* What the summary table and its warnings need (table.c). */
typedef struct ps_table_input {
    size_t n_quantities;
    void (*name)(const void *ctx, size_t q, char *buf, size_t size); /* "lp__", "theta[1]" */
    const void *ctx;
    const ps_diag_summary *rows; /* n_quantities rows */
    size_t n_chains;
    double total_draws; /* kept draws over all chains */
    double divergences, divergences_warmup, treedepth_hits;
    int64_t max_treedepth;
    const double *ebfmi; /* per chain, or NULL to skip the check */
    double rhat_max, ess_bulk_min, ess_tail_min;
} ps_table_input;

/* Appends the table (mean, MCSE, sd, quantiles, ESS, R-hat per quantity) and the
 * diagnostics warnings, as at the end of a run. Local. */
void ps_table_write(ps_strbuf *out, const ps_table_input *in);

/* Prints the summary of a trace file: the same table and warnings as at the end of the
 * run that wrote it. Reads the file with serial HDF5; needs no MPI. Local. */
ps_status ps_run_summary_file(const char *path);

/* Prints (rank 0) the summary table and diagnostics warnings. Collective on run->comm. */
ps_status ps_run_summary(ps_run *run);

#endif
