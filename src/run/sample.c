/*
 * psample run: chains over ranks and threads, pooled warmup, adaptive warmup length,
 * online convergence with early stopping (DESIGN.md Sections 4-6).
 *
 * Chains run without communication between sync points: the ends of slow adaptation
 * windows during warmup, and every convergence.check_every iterations during sampling.
 * At each sync point the ranks first agree on their status (STYLE.md), then exchange what
 * the next step needs. Every cross-chain quantity is formed from per-chain contributions
 * in chain-id order, so the draws do not depend on the number of ranks or threads.
 */
#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "data/data.h"
#include "par/par.h"
#include "run/run.h"
#include "run/run_impl.h"

/* OpenBLAS: one BLAS thread inside each chain (threads are used across chains). */
void openblas_set_num_threads(int num_threads);

/* ---------------------------------------------------------------------------------------
 * Per-chain bookkeeping
 * ------------------------------------------------------------------------------------- */

void ps_run_slot_fail(ps_run_slot *slot, ps_status st)
{
    slot->status = st;
    snprintf(slot->message, sizeof slot->message, "%s",
             ps_error_message()[0] ? ps_error_message() : ps_status_name(st));
    ps_error_clear();
}

ps_status ps_run_local_status(ps_run *run)
{
    for (size_t c = 0; c < run->n_local; c++) {
        if (run->slots[c].status != PS_OK)
            return ps_error_set(run->slots[c].status, run->slots[c].message);
    }
    return PS_OK;
}

static void record_sampling_stats(ps_run_slot *slot, const ps_iter_stats *s, const double *values,
                                  size_t n_values)
{
    slot->divergent += s->diverging;
    slot->treedepth_hits += s->reached_max_treedepth;
    slot->n_steps += (uint64_t)s->n_steps;
    slot->tree_depth_sum += (double)s->tree_depth;
    slot->accept_stat_sum += s->acceptance_rate;
    /* E-BFMI (Betancourt 2016): sum of squared energy changes over the energy variance. */
    if (slot->energy_n > 0) {
        double d = s->energy - slot->energy_prev;
        slot->energy_sq_diff += d * d;
    }
    slot->energy_prev = s->energy;
    slot->energy_n++;
    double delta = s->energy - slot->energy_mean;
    slot->energy_mean += delta / (double)slot->energy_n;
    slot->energy_m2 += delta * (s->energy - slot->energy_mean);
    /* Digest of the sample statistics (the step method's, as doubles), in draw order. */
    slot->stats_digest = ps_fnv1a(slot->stats_digest, values, n_values * sizeof(double));
}

/* Writes lp__ and the constrained output of the chain's current point into row. */
static ps_status record_draw(ps_run *run, ps_run_slot *slot, double *row)
{
    row[0] = ps_chain_log_density(slot->chain);
    ps_status st = ps_chain_constrain(slot->chain, row + 1);
    if (st != PS_OK) {
        if (st == PS_ERR_NUMERIC)
            ps_error_set(PS_ERR_MODEL, ps_error_message());
        return ps_error(PS_ERR_MODEL, "chain %llu: the model failed to compute its output",
                        (unsigned long long)ps_chain_id(slot->chain));
    }
    (void)run;
    return PS_OK;
}

ps_status ps_run_after_step(ps_run *run, size_t c, ps_run_phase ph, int64_t it,
                            const ps_iter_stats *stats, bool record)
{
    ps_run_slot *slot = &run->slots[c];
    double values[PS_MAX_STATS];
    ps_chain_stat_values(slot->chain, stats, values);
    bool keep;
    slot->steps_all += (uint64_t)stats->n_steps;
    if (ph == PS_PHASE_WARMUP) {
        slot->divergent_warmup += stats->diverging;
        slot->steps_warmup += (uint64_t)stats->n_steps;
        keep = record;
    } else {
        keep = (it - run->warmup_used) % run->cfg->sampler.thin == 0;
        if (keep)
            record_sampling_stats(slot, stats, values, run->n_stats);
    }
    if (keep) {
        size_t nq = run->n_quantities, i = c * run->block_capacity + slot->rec;
        PS_CHECK(record_draw(run, slot, run->block + i * nq));
        memcpy(run->stat_rows + i * run->n_stats, values, run->n_stats * sizeof(double));
        slot->rec++;
    }
    return PS_OK;
}

ps_status ps_run_step_chain(ps_run *run, size_t c, ps_run_phase ph, int64_t it, bool record,
                            ps_iter_stats *stats)
{
    ps_run_slot *slot = &run->slots[c];
    ps_status st = ps_chain_step(slot->chain, stats);
    if (st == PS_OK && ps_fault_point("sample_model_error") && it + 1 == 7)
        st = ps_error(PS_ERR_MODEL,
                      "chain %llu: model error at iteration 7 (injected fault "
                      "sample_model_error)",
                      (unsigned long long)ps_chain_id(slot->chain));
    if (st == PS_OK)
        st = ps_run_after_step(run, c, ph, it, stats, record);
    if (st != PS_OK) {
        ps_run_slot_fail(slot, st);
        return st;
    }
    ps_run_progress_tick(run, c, 1, ph == PS_PHASE_SAMPLING);
    return PS_OK;
}

/* Grows the block buffer to hold `draws` draws per local chain. */
ps_status ps_run_reserve_block(ps_run *run, size_t draws)
{
    if (draws <= run->block_capacity)
        return PS_OK;
    size_t n, per;
    if (!ps_size_mul(run->n_local, draws, &per) || !ps_size_mul(per, run->n_quantities, &n))
        return ps_error(PS_ERR_MEM, "draw buffer too large");
    double *block = NULL, *stats = NULL;
    ps_status st = ps_alloc_array(&block, n, sizeof(double), "the draw buffer");
    if (st == PS_OK)
        st = ps_alloc_array(&stats, per, run->n_stats * sizeof(double), "statistics");
    if (st != PS_OK) {
        ps_free(block);
        return st;
    }
    /* Keep what the block holds (a resumed block's draws), moved to the new stride. */
    size_t nq = run->n_quantities, ns = run->n_stats, old = run->block_capacity;
    for (size_t c = 0; c < run->n_local && old > 0; c++) {
        memcpy(block + c * draws * nq, run->block + c * old * nq, old * nq * sizeof(double));
        memcpy(stats + c * draws * ns, run->stat_rows + c * old * ns, old * ns * sizeof(double));
    }
    ps_free(run->block);
    ps_free(run->stat_rows);
    run->block = block;
    run->stat_rows = stats;
    run->block_capacity = draws;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Signals and stop notices
 *
 * SIGTERM, SIGINT and SIGUSR1 only set a flag (DESIGN.md Section 11). Chains check it at
 * every iteration boundary. The rank's master thread, between its own iterations, also
 * tells the other ranks with a point-to-point notice, and picks up their notices with
 * MPI_Test on a receive posted in advance; so every rank stops within about one iteration,
 * not at the next sync point. Chains may stop at different iterations: the checkpoint
 * keeps each chain's exact state and the draws it recorded since the last sync point.
 * ------------------------------------------------------------------------------------- */

static volatile sig_atomic_t signal_flag = 0;
static volatile sig_atomic_t signal_number = 0;

static void on_signal(int sig)
{
    signal_flag = 1;
    signal_number = sig;
}

bool ps_run_signal_pending(void)
{
    return signal_flag != 0;
}

static const int stop_signals[] = {SIGTERM, SIGINT, SIGUSR1};
enum { N_STOP_SIGNALS = sizeof stop_signals / sizeof stop_signals[0], NOTICE_TAG = 4242 };

void ps_run_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int i = 0; i < N_STOP_SIGNALS; i++)
        sigaction(stop_signals[i], &sa, NULL);
}

static const char *signal_name(int sig)
{
    return sig == SIGTERM   ? "SIGTERM"
           : sig == SIGINT  ? "SIGINT"
           : sig == SIGUSR1 ? "SIGUSR1"
                            : "a signal";
}

static ps_status notices_setup(ps_run *run)
{
    PS_MPI(MPI_Comm_dup(run->comm, &run->notice_comm), "MPI_Comm_dup", run->comm);
    PS_CHECK(ps_comm_agree(run->comm, ps_alloc_array(&run->notice_sends, (size_t)run->layout->size,
                                                     sizeof(MPI_Request), "stop notices")));
    for (int r = 0; r < run->layout->size; r++)
        run->notice_sends[r] = MPI_REQUEST_NULL;
    run->notice_recv = MPI_REQUEST_NULL;
    MPI_Irecv(&run->notice_in, 1, MPI_INT, MPI_ANY_SOURCE, NOTICE_TAG, run->notice_comm,
              &run->notice_recv);
    return PS_OK;
}

/* Master thread only: tells every other rank to stop. */
static void notice_send(ps_run *run)
{
    run->notice_out = 1;
    for (int r = 0; r < run->layout->size; r++)
        if (r != run->layout->rank)
            MPI_Isend(&run->notice_out, 1, MPI_INT, r, NOTICE_TAG, run->notice_comm,
                      &run->notice_sends[r]);
    run->notice_sent = true;
}

static bool is_master_thread(void)
{
#ifdef _OPENMP
    return omp_get_thread_num() == 0;
#else
    return true;
#endif
}

/* Called by each chain's thread at every iteration boundary: true when the chains must
 * stop. Only the master thread talks MPI (MPI_THREAD_FUNNELED). */
static bool stop_now(ps_run *run)
{
    if (atomic_load(&run->stop_requested))
        return true;
    if (signal_flag) {
        atomic_store(&run->stop_requested, 1);
        if (is_master_thread() && !run->notice_sent && run->layout->size > 1)
            notice_send(run);
        return true;
    }
    /* Poll for notices at most every few milliseconds: MPI_Test makes Open MPI yield the
     * core when ranks outnumber cores, which would cost a cheap model most of its time. */
    if (run->layout->size > 1 && is_master_thread() && run->notice_recv != MPI_REQUEST_NULL &&
        ps_time_now() - run->last_poll >= 0.005) {
        run->last_poll = ps_time_now();
        int arrived = 0;
        MPI_Test(&run->notice_recv, &arrived, MPI_STATUS_IGNORE);
        if (arrived) {
            run->notices_received++;
            atomic_store(&run->stop_requested, 1);
            return true;
        }
    }
    return false;
}

/*
 * At a sync point: do the ranks stop? Every rank contributes whether it saw a signal or a
 * notice; then the notices still in flight are received (each rank knows how many ranks
 * sent one), so that none is left over. Collective.
 */
static bool stop_agreed(ps_run *run)
{
    int local[2] = {atomic_load(&run->stop_requested) || signal_flag ? 1 : 0,
                    run->notice_sent ? 1 : 0};
    int global[2] = {0, 0};
    ps_par_note(sizeof local);
    PS_MPI(MPI_Allreduce(local, global, 2, MPI_INT, MPI_SUM, run->comm), "MPI_Allreduce",
           run->comm);
    if (run->layout->size > 1) {
        int expected = global[1] - (run->notice_sent ? 1 : 0);
        while (run->notices_received < expected) {
            if (run->notice_recv == MPI_REQUEST_NULL)
                MPI_Irecv(&run->notice_in, 1, MPI_INT, MPI_ANY_SOURCE, NOTICE_TAG, run->notice_comm,
                          &run->notice_recv);
            MPI_Wait(&run->notice_recv, MPI_STATUS_IGNORE);
            run->notices_received++;
        }
        MPI_Waitall(run->layout->size, run->notice_sends, MPI_STATUSES_IGNORE);
        if (run->notice_recv == MPI_REQUEST_NULL)
            MPI_Irecv(&run->notice_in, 1, MPI_INT, MPI_ANY_SOURCE, NOTICE_TAG, run->notice_comm,
                      &run->notice_recv);
        run->notice_sent = false;
        run->notices_received = 0;
    }
    return global[0] > 0;
}

static void notices_fini(ps_run *run)
{
    if (run->notice_comm == MPI_COMM_NULL)
        return;
    if (run->notice_recv != MPI_REQUEST_NULL) {
        MPI_Cancel(&run->notice_recv);
        MPI_Wait(&run->notice_recv, MPI_STATUS_IGNORE);
    }
    ps_free(run->notice_sends);
    run->notice_sends = NULL;
    MPI_Comm_free(&run->notice_comm);
}

/* A test hook: PSAMPLE_TEST_SIGNAL_AT="N" or "N@RANK" raises SIGUSR1 when the first local
 * chain (of that rank) is about to run iteration N. */
static void test_signal_setup(ps_run *run)
{
    run->test_signal_at = -1;
    const char *v = getenv("PSAMPLE_TEST_SIGNAL_AT");
    if (v == NULL || *v == '\0')
        return;
    char *end = NULL;
    long long at = strtoll(v, &end, 10);
    if (end && *end == '@' && strtol(end + 1, NULL, 10) != run->layout->rank)
        return;
    run->test_signal_at = at;
}

/* ---------------------------------------------------------------------------------------
 * Running the local chains between sync points
 * ------------------------------------------------------------------------------------- */

/*
 * Advances every local chain to the end of the current block: during warmup until a slow
 * window ends or warmup ends (all chains share the window schedule), during sampling until
 * its iteration reaches `target`. A chain stops earlier when a stop was requested (signal
 * or notice); its block is then unfinished (block_done false) and the checkpoint keeps it.
 * Recorded draws go to the block: during warmup every iteration when `record`, during
 * sampling every thin-th sampling iteration. Failures are kept per chain.
 */
static void run_chains(ps_run *run, ps_run_phase ph, int64_t target, bool record)
{
    int threads = (int)run->cfg->parallel.threads;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (size_t c = 0; c < run->n_local; c++) {
        ps_run_slot *slot = &run->slots[c];
        ps_chain *chain = slot->chain;
        if (slot->status != PS_OK || slot->block_done)
            continue;
        double t0 = ps_time_now();
        for (;;) {
            int64_t it = ps_chain_iteration(chain);
            bool end = ph == PS_PHASE_WARMUP
                           ? !ps_chain_in_warmup(chain) || ps_chain_window_pending(chain)
                           : it >= target;
            if (end) {
                slot->block_done = true;
                break;
            }
            if (c == 0 && it == run->test_signal_at)
                raise(SIGUSR1);
            if (stop_now(run))
                break;
            ps_iter_stats stats;
            if (ps_run_step_chain(run, c, ph, it, record, &stats) != PS_OK)
                break;
            if (ph == PS_PHASE_WARMUP && stats.window_end) {
                slot->block_done = true;
                break;
            }
        }
        if (ph == PS_PHASE_WARMUP)
            slot->seconds_warmup += ps_time_now() - t0;
        else
            slot->seconds_sampling += ps_time_now() - t0;
    }
}

/* After a finished block: every chain ended it at the same iteration with the same number
 * of recorded draws (a violated invariant is a bug, reported as such). */
ps_status ps_run_block_finished(ps_run *run, size_t *recorded)
{
    *recorded = run->slots[0].rec;
    int64_t it0 = ps_chain_iteration(run->slots[0].chain);
    for (size_t c = 1; c < run->n_local; c++) {
        if (run->slots[c].rec != *recorded || ps_chain_iteration(run->slots[c].chain) != it0)
            return ps_error(PS_ERR_INTERNAL,
                            "chain %llu ended a block at iteration %lld where chain %llu ended "
                            "it at %lld",
                            (unsigned long long)ps_chain_id(run->slots[c].chain),
                            (long long)ps_chain_iteration(run->slots[c].chain),
                            (unsigned long long)ps_chain_id(run->slots[0].chain), (long long)it0);
    }
    return PS_OK;
}

/* Starts the next block: no draws recorded, no chain done. */
void ps_run_block_reset(ps_run *run)
{
    for (size_t c = 0; c < run->n_local; c++) {
        run->slots[c].rec = 0;
        run->slots[c].block_done = false;
    }
    run->block_start = ps_chain_iteration(run->slots[0].chain);
}

/* ---------------------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------------------- */

static ps_status settings_from_config(const ps_config *cfg, bool pooled, uint64_t seed,
                                      ps_chain_settings *s)
{
    ps_chain_settings_default(s);
    s->algorithm = cfg->sampler.algorithm;
    PS_CHECK(ps_metric_kind_parse(cfg->sampler.metric, &s->metric));
    s->max_treedepth = (int)cfg->sampler.max_treedepth;
    s->target_accept = cfg->sampler.target_accept;
    s->warmup = cfg->sampler.warmup;
    s->adapt = cfg->adaptation.engaged;
    s->pooled_metric = pooled;
    s->init_radius = cfg->sampler.init_radius;
    s->step_size = cfg->sampler.step_size;
    s->int_time = cfg->sampler.int_time;
    s->init_buffer = cfg->adaptation.init_buffer;
    s->term_buffer = cfg->adaptation.term_buffer;
    s->base_window = cfg->adaptation.window;
    s->gamma = cfg->adaptation.gamma;
    s->t0 = cfg->adaptation.t0;
    s->kappa = cfg->adaptation.kappa;
    s->tune_interval = (int)cfg->sampler.tune_interval;
    s->de_lambda = cfg->sampler.de_lambda;
    s->de_scaling = cfg->sampler.de_scaling;
    PS_CHECK(ps_de_tune_parse(cfg->sampler.de_tune, &s->de_tune));
    s->de_snooker = cfg->sampler.de_snooker;
    s->seed = seed;
    return PS_OK;
}

/* The step method's statistics and their descriptions for the trace. Local. */
static ps_status stats_setup(ps_run *run)
{
    run->stat_info = ps_step_method_stats(run->cfg->sampler.algorithm, &run->n_stats);
    if (run->stat_info == NULL || run->n_stats == 0 || run->n_stats > PS_MAX_STATS ||
        strcmp(run->stat_info[0].name, "lp") != 0 || run->stat_info[0].type != PS_STAT_REAL)
        return ps_error(PS_ERR_INTERNAL, "step method '%s' declares no usable statistics",
                        run->cfg->sampler.algorithm);
    for (size_t s = 0; s < run->n_stats; s++) {
        ps_trace_array *a = &run->trace_stats[s];
        memset(a, 0, sizeof *a);
        a->name = run->stat_info[s].name;
        a->type = run->stat_info[s].type == PS_STAT_INT    ? PS_TRACE_I64
                  : run->stat_info[s].type == PS_STAT_BOOL ? PS_TRACE_BOOL
                                                           : PS_TRACE_F64;
    }
    return PS_OK;
}

static ps_status setup_chains(ps_run *run, bool init)
{
    const ps_config *cfg = run->cfg;
    const ps_layout *l = run->layout;
    run->n_local = (size_t)l->count[l->rank];
    if (ps_fault_point("alloc"))
        ps_fault_alloc_after(1);
    ps_status st = ps_alloc_array(&run->slots, run->n_local, sizeof(ps_run_slot), "chains");
    if (st == PS_OK)
        st = ps_alloc_array(&run->ran_scratch, run->n_local, sizeof(int64_t), "chains");
    if (st == PS_OK)
        st = ps_alloc_array(&run->recorded_scratch, run->n_local, sizeof(size_t), "chains");
    ps_chain_settings settings;
    if (st == PS_OK)
        st = settings_from_config(cfg, run->pooled, run->seed, &settings);
    for (size_t c = 0; c < run->n_local && st == PS_OK; c++) {
        settings.chain_id = (uint64_t)(l->first[l->rank] + (int64_t)c);
        run->slots[c].stats_digest = PS_FNV_OFFSET;
        st = ps_chain_create(run->model, &settings, &run->slots[c].chain);
        if (st == PS_OK && run->options && run->options->report_path)
            ps_model_workspace_set_timing(ps_chain_model_workspace(run->slots[c].chain), true);
    }
    PS_CHECK(ps_comm_agree(run->comm, st));

    if (!init)
        return PS_OK; /* a resumed run restores the chains from the checkpoint */
    /* Initialisation runs the model: in parallel over the local chains. */
    int threads = (int)cfg->parallel.threads;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (size_t c = 0; c < run->n_local; c++) {
        ps_status cst = ps_chain_init(run->slots[c].chain, NULL);
        if (cst == PS_OK && ps_fault_point("init"))
            cst = ps_error(PS_ERR_NUMERIC,
                           "chain %llu: the log density is not finite at any of the 100 "
                           "initial points (injected fault init)",
                           (unsigned long long)ps_chain_id(run->slots[c].chain));
        if (cst != PS_OK)
            ps_run_slot_fail(&run->slots[c], cst);
    }
    return ps_comm_agree(run->comm, ps_run_local_status(run));
}

/* ---------------------------------------------------------------------------------------
 * The trace
 * ------------------------------------------------------------------------------------- */

/* Grows the staging buffers to hold `need` draws per chain, keeping what they hold. */
static ps_status stage_reserve(ps_run *run, size_t need)
{
    if (need <= run->stage_capacity)
        return PS_OK;
    size_t cap = run->stage_capacity ? 2 * run->stage_capacity : 64;
    cap = cap < need ? need : cap;
    size_t nq = run->n_quantities, out = nq - 1, ns = run->n_stats, n_local = run->n_local;
    size_t old = run->stage_capacity;
    double *rows = NULL, *values = NULL, *stats = NULL;
    unsigned char *columns = NULL;
    ps_status st = ps_alloc_array(&rows, n_local * cap * nq, sizeof(double), "trace staging");
    if (st == PS_OK)
        st = ps_alloc_array(&values, n_local * cap * (out ? out : 1), sizeof(double),
                            "trace staging");
    if (st == PS_OK)
        st = ps_alloc_array(&stats, n_local * cap * ns, sizeof(double), "trace staging");
    /* Every statistic's type takes at most 8 bytes. */
    if (st == PS_OK)
        st = ps_alloc_array(&columns, n_local * cap * ns, 8, "trace staging");
    if (st != PS_OK) {
        ps_free(rows);
        ps_free(values);
        ps_free(stats);
        ps_free(columns);
        return st;
    }
    for (size_t c = 0; c < n_local && run->staged > 0; c++) {
        memcpy(rows + c * cap * nq, run->stage_rows + c * old * nq,
               run->staged * nq * sizeof(double));
        memcpy(stats + c * cap * ns, run->stage_stats + c * old * ns,
               run->staged * ns * sizeof(double));
    }
    ps_free(run->stage_rows);
    ps_free(run->trace_values);
    ps_free(run->stage_stats);
    ps_free(run->stage_columns);
    run->stage_rows = rows;
    run->trace_values = values;
    run->stage_stats = stats;
    run->stage_columns = columns;
    run->stage_capacity = cap;
    return PS_OK;
}

/* Copies the n draws recorded in the block into the staging buffers. */
static ps_status stage_add(ps_run *run, size_t n)
{
    PS_CHECK(stage_reserve(run, run->staged + n));
    size_t nq = run->n_quantities, ns = run->n_stats, bcap = run->block_capacity;
    size_t scap = run->stage_capacity;
    for (size_t c = 0; c < run->n_local; c++) {
        size_t from = c * bcap, to = c * scap + run->staged;
        memcpy(run->stage_rows + to * nq, run->block + from * nq, n * nq * sizeof(double));
        memcpy(run->stage_stats + to * ns, run->stat_rows + from * ns, n * ns * sizeof(double));
    }
    run->staged += n;
    return PS_OK;
}

/* Writes statistic s of the n draws per chain held in rows ([chain][draw][statistic], a
 * stride of `capacity` draws per chain) as one column of its trace type, [chain][draw]. */
static void stat_column(const ps_run *run, size_t s, const double *rows, size_t capacity, size_t n,
                        void *column)
{
    size_t ns = run->n_stats;
    for (size_t c = 0; c < run->n_local; c++) {
        for (size_t d = 0; d < n; d++) {
            double v = rows[(c * capacity + d) * ns + s];
            size_t i = c * n + d;
            switch (run->trace_stats[s].type) {
            case PS_TRACE_I64:
                ((int64_t *)column)[i] = (int64_t)v;
                break;
            case PS_TRACE_I32:
                ((int32_t *)column)[i] = (int32_t)v;
                break;
            case PS_TRACE_BOOL:
                ((int8_t *)column)[i] = v != 0.0 ? 1 : 0;
                break;
            default:
                ((double *)column)[i] = v;
            }
        }
    }
}

/* Appends every staged draw to a part of the trace. Collective (the staged count is the
 * same on every rank). */
static ps_status stage_commit(ps_run *run, ps_trace_part part)
{
    size_t n = run->staged, nq = run->n_quantities, cap = run->stage_capacity;
    if (n == 0)
        return PS_OK;
    double t0 = ps_time_now();
    for (size_t c = 0; c < run->n_local; c++)
        for (size_t d = 0; d < n; d++)
            ps_trace_block_put(run->trace, run->trace_values, n, c, d,
                               run->stage_rows + (c * cap + d) * nq + 1);
    const void *stats[PS_MAX_STATS];
    for (size_t s = 0; s < run->n_stats; s++) {
        unsigned char *column = run->stage_columns + s * run->n_local * cap * 8;
        stat_column(run, s, run->stage_stats, cap, n, column);
        stats[s] = column;
    }
    ps_status st = ps_trace_append(run->trace, part, n, run->trace_values, stats);
    run->staged = 0;
    run->t_trace += ps_time_now() - t0;
    return st;
}

/* Appends are batched up to this many bytes (over all chains) or draws per chain. */
#define STAGE_BYTES (16.0 * 1024 * 1024)
#define STAGE_DRAWS 2000

/*
 * At a sync point: stages the block's n draws, appends what is staged when the batch is
 * full, when `now` (warmup windows, which are long), or when the flush timer is due, and
 * then flushes. Collective.
 */
ps_status ps_run_trace_append(ps_run *run, ps_trace_part part, size_t n, bool now)
{
    PS_CHECK(ps_comm_agree(run->comm, stage_add(run, n)));
    double t0 = ps_time_now();
    bool due = ps_trace_flush_due(run->trace, run->cfg->output.flush_seconds);
    run->t_trace += ps_time_now() - t0;
    double bytes = (double)run->staged * (double)run->layout->n_chains * (double)run->n_quantities *
                   sizeof(double);
    if (now || due || bytes >= STAGE_BYTES || run->staged >= STAGE_DRAWS)
        PS_CHECK(stage_commit(run, part));
    if (due) {
        t0 = ps_time_now();
        PS_CHECK(ps_trace_flush(run->trace));
        run->t_trace += ps_time_now() - t0;
    }
    return PS_OK;
}

/* "chains 0-2 on rank 0; 3-4 on rank 1" */
static void layout_text(const ps_layout *l, ps_strbuf *sb)
{
    ps_strbuf_printf(sb, "%lld chains on %d ranks:", (long long)l->n_chains, l->size);
    for (int r = 0; r < l->size; r++)
        ps_strbuf_printf(sb, "%s rank %d: chains %lld-%lld", r ? ";" : "", r,
                         (long long)l->first[r], (long long)(l->first[r] + l->count[r] - 1));
}

/* Creates the trace file (or, on resume, reopens it cut to the draws the checkpoint knows
 * of): the model's output variables, the step method's statistics, the run metadata.
 * Collective. */
static ps_status trace_open_or_reopen(ps_run *run, bool force, bool reopen, size_t n_warmup,
                                      size_t n_draws)
{
    const ps_config *cfg = run->cfg;
    size_t n_vars = ps_model_n_vars(run->model);
    ps_trace_array *vars = NULL, *data_arrays = NULL;
    size_t n_data = 0;
    ps_data *data = NULL;
    ps_strbuf layout, effective;
    ps_strbuf_init(&layout);
    ps_strbuf_init(&effective);
    layout_text(run->layout, &layout);
    /* The effective configuration (overrides and defaults included), with the seed used. */
    ps_config_write_toml(cfg, &effective);
    ps_status st = layout.failed || effective.failed
                       ? ps_error(PS_ERR_MEM, "out of memory describing the run")
                       : PS_OK;
    if (st == PS_OK)
        st = ps_alloc_array(&vars, n_vars, sizeof *vars, "trace variables");
    if (st == PS_OK && !reopen)
        st = ps_run_check_output(cfg, force);
    /* The data go to the constant_data group (which of them are observed is not known for a
     * compiled library); names the trace reserves for coordinates are left out. */
    if (st == PS_OK && !reopen && cfg->data.file != NULL)
        st = ps_data_read_file(cfg->data.file, &data);
    if (st == PS_OK && data != NULL)
        st = ps_alloc_array(&data_arrays, ps_data_count(data) + 1, sizeof *data_arrays,
                            "trace data");
    st = ps_comm_agree(run->comm, st);
    if (st == PS_OK && data != NULL) {
        for (size_t i = 0; i < ps_data_count(data); i++) {
            const ps_data_var *v = ps_data_at(data, i);
            size_t len = strlen(v->name);
            bool reserved =
                strcmp(v->name, "chain") == 0 || strcmp(v->name, "draw") == 0 ||
                (strstr(v->name, "_dim_") != NULL && isdigit((unsigned char)v->name[len - 1]));
            if (reserved) {
                if (run->layout->rank == 0)
                    ps_warn("data variable '%s' is not copied to the trace's constant_data group: "
                            "its name is taken by a coordinate there",
                            v->name);
                continue;
            }
            ps_trace_array *a = &data_arrays[n_data++];
            a->name = v->name;
            a->type = v->type == PS_DATA_INT ? PS_TRACE_I64 : PS_TRACE_F64;
            a->ndim = v->ndim;
            for (int d = 0; d < v->ndim; d++)
                a->dims[d] = v->dims[d];
            a->values = v->type == PS_DATA_INT ? (const void *)v->ints : (const void *)v->reals;
        }
    }
    if (st == PS_OK) {
        for (size_t i = 0; i < n_vars; i++) {
            const ps_var_info *v = ps_model_var(run->model, i);
            vars[i].name = v->name;
            vars[i].type = PS_TRACE_F64;
            vars[i].ndim = v->ndim;
            for (int d = 0; d < v->ndim; d++)
                vars[i].dims[d] = v->dims[d];
        }
        int64_t draws =
            cfg->convergence.stop_early ? cfg->convergence.max_draws : cfg->sampler.draws;
        ps_trace_desc desc = {0};
        desc.vars = vars;
        desc.n_vars = n_vars;
        desc.stats = run->trace_stats;
        desc.n_stats = run->n_stats;
        desc.save_warmup = cfg->output.save_warmup;
        desc.n_chains = (size_t)run->layout->n_chains;
        desc.first_chain = (size_t)run->layout->first[run->layout->rank];
        desc.n_local_chains = run->n_local;
        desc.config_text = ps_strbuf_str(&effective);
        desc.model_source = ps_model_source(run->model);
        desc.layout_text = ps_strbuf_str(&layout);
        desc.seed = run->seed;
        /* The writer sizes chunks from the expected draws; cap it so that a run asking for
         * millions of draws does not allocate gigabytes of chunks at its first append. */
        int64_t kept = (draws + cfg->sampler.thin - 1) / cfg->sampler.thin;
        desc.draws_hint = (size_t)(kept < 65536 ? kept : 65536);
        desc.warmup_draws_hint = (size_t)cfg->sampler.warmup;
        desc.force = force;
        desc.constant_data = data_arrays;
        desc.n_constant_data = n_data;
        if (reopen)
            st = ps_trace_open_append(run->comm, cfg->output.file, &desc, n_warmup, n_draws,
                                      &run->trace);
        else
            st = ps_trace_create(run->comm, cfg->output.file, &desc, &run->trace);
    }
    ps_free(vars);
    ps_free(data_arrays);
    ps_data_destroy(&data);
    ps_strbuf_fini(&layout);
    ps_strbuf_fini(&effective);
    return st;
}

static ps_status trace_open(ps_run *run, bool force)
{
    return trace_open_or_reopen(run, force, false, 0, 0);
}

static ps_status trace_reopen(ps_run *run, size_t n_warmup, size_t n_draws)
{
    return trace_open_or_reopen(run, false, true, n_warmup, n_draws);
}

/* Records why the run ended and closes the file. Collective. */
static ps_status trace_finish(ps_run *run)
{
    PS_CHECK(stage_commit(run, PS_TRACE_SAMPLING));
    static const char *const reasons[] = {"draws", "converged", "max_draws"};
    double local = 0, all = 0;
    for (size_t c = 0; c < run->n_local; c++)
        local += (double)run->slots[c].divergent_warmup;
    ps_par_note(sizeof local);
    PS_MPI(MPI_Allreduce(&local, &all, 1, MPI_DOUBLE, MPI_SUM, run->comm), "MPI_Allreduce",
           run->comm);
    ps_trace_end end = {.warmup_draws = run->warmup_used,
                        .stop_reason = reasons[run->stop_reason],
                        .warmup_divergences = (long long)all};
    PS_CHECK(ps_trace_set_metadata(run->trace, &end));
    return ps_trace_close(&run->trace);
}

/* ---------------------------------------------------------------------------------------
 * Pooled adaptation
 * ------------------------------------------------------------------------------------- */

static ps_status install_pooled_metric(ps_run *run)
{
    const ps_metric *metric = ps_chain_metric(run->slots[0].chain);
    size_t dim = run->dim, msize = ps_metric_size(metric->kind, dim);
    const ps_welford **acc = NULL;
    double *inv_metric = NULL;
    ps_status st = ps_alloc_array(&acc, run->n_local, sizeof *acc, "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&inv_metric, msize ? msize : 1, sizeof(double), "pooled metric");
    st = ps_comm_agree(run->comm, st);
    if (st == PS_OK) {
        for (size_t c = 0; c < run->n_local; c++)
            acc[c] = ps_chain_window_accumulator(run->slots[c].chain);
        uint64_t n_points = 0;
        st = ps_pool_metric(run->comm, run->layout, acc, metric->kind, dim, inv_metric, &n_points);
    }
    if (st == PS_OK) {
        int threads = (int)run->cfg->parallel.threads;
        (void)threads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
        for (size_t c = 0; c < run->n_local; c++) {
            ps_status cst = ps_chain_install_metric(run->slots[c].chain, inv_metric);
            if (cst != PS_OK)
                ps_run_slot_fail(&run->slots[c], cst);
        }
        st = ps_comm_agree(run->comm, ps_run_local_status(run));
    }
    ps_free(acc);
    ps_free(inv_metric);
    return st;
}

/* Adaptive warmup: the window's draws look converged over all chains. */
static ps_status warmup_converged(ps_run *run, bool *converged)
{
    ps_convergence conv;
    PS_CHECK(ps_monitor_check(run->warm_monitor, &conv));
    run->last_check = conv;
    run->have_check = true;
    *converged = !isnan(conv.max_rhat) && conv.max_rhat < run->cfg->adaptation.warmup_rhat_max &&
                 conv.min_ess_bulk >= run->cfg->adaptation.warmup_ess_min;
    if (isnan(conv.max_rhat)) /* every quantity constant: nothing to wait for */
        *converged = true;
    return PS_OK;
}

static bool converged_now(const ps_run *run, const ps_convergence *c)
{
    const ps_config *cfg = run->cfg;
    if (isnan(c->max_rhat))
        return true; /* every quantity constant */
    return c->max_rhat < cfg->convergence.rhat_max &&
           c->min_ess_bulk >= cfg->convergence.ess_bulk_min &&
           c->min_ess_tail >= cfg->convergence.ess_tail_min;
}

/* ---------------------------------------------------------------------------------------
 * Checkpoints and resume
 * ------------------------------------------------------------------------------------- */

/* The configuration a checkpoint must match: the effective configuration without what may
 * change between a run and its resume (ranks, threads, flush and checkpoint timers) and
 * without the seed (compared on its own, because a seed chosen at random is adopted). */
static ps_status comparable_config(const ps_config *cfg, char **out)
{
    ps_strbuf all, kept;
    ps_strbuf_init(&all);
    ps_strbuf_init(&kept);
    ps_config_write_toml(cfg, &all);
    const char *section = "";
    for (const char *line = ps_strbuf_str(&all); *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (line[0] == '[')
            section = line;
        bool skip = strncmp(section, "[parallel]", 10) == 0 ||
                    strncmp(line, "flush_seconds =", 15) == 0 ||
                    strncmp(line, "checkpoint_seconds =", 20) == 0 ||
                    (strncmp(section, "[sampler]", 9) == 0 && strncmp(line, "seed =", 6) == 0);
        if (!skip) {
            ps_strbuf_append(&kept, line, len);
            ps_strbuf_putc(&kept, '\n');
        }
        line += len + (nl ? 1 : 0);
    }
    ps_status st = all.failed ? ps_error(PS_ERR_MEM, "out of memory") : PS_OK;
    ps_strbuf_fini(&all);
    if (st != PS_OK) {
        ps_strbuf_fini(&kept);
        return st;
    }
    return ps_strbuf_take(&kept, out);
}

/* Explains how the configuration differs from the checkpoint's, key by key. */
static ps_status config_changed(const ps_config *cfg, const char *then, const char *now)
{
    ps_strbuf why;
    ps_strbuf_init(&why);
    const char *a = then, *b = now;
    char section_a[64] = "", section_b[64] = "";
    int shown = 0;
    while ((*a || *b) && shown < 8) {
        const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');
        size_t la = na ? (size_t)(na - a) : strlen(a), lb = nb ? (size_t)(nb - b) : strlen(b);
        if (*a == '[')
            snprintf(section_a, sizeof section_a, "%.*s", (int)(la > 2 ? la - 2 : 0), a + 1);
        if (*b == '[')
            snprintf(section_b, sizeof section_b, "%.*s", (int)(lb > 2 ? lb - 2 : 0), b + 1);
        if (la != lb || memcmp(a, b, la) != 0) {
            const char *eq_a = memchr(a, '=', la), *eq_b = memchr(b, '=', lb);
            if (eq_a && eq_b && eq_a - a == eq_b - b && memcmp(a, b, (size_t)(eq_a - a)) == 0)
                ps_strbuf_printf(&why, "\n    %s.%.*s is now%.*s (the run had%.*s)", section_b,
                                 (int)(eq_b - b - 1), b, (int)(lb - (size_t)(eq_b - b) - 1),
                                 eq_b + 1, (int)(la - (size_t)(eq_a - a) - 1), eq_a + 1);
            else
                ps_strbuf_printf(&why, "\n    the run had: %.*s [%s]; now: %.*s [%s]", (int)la, a,
                                 section_a, (int)lb, b, section_b);
            shown++;
        }
        a += la + (na ? 1 : 0);
        b += lb + (nb ? 1 : 0);
    }
    ps_status st = ps_config_error_at_key(
        cfg, PS_ERR_CONFIG, "output", "checkpoint",
        "the configuration differs from the one checkpoint %s was written with, so the run "
        "cannot be continued exactly:%s\n(restore those settings, or start over with "
        "'psample run --force')",
        cfg->output.checkpoint, ps_strbuf_str(&why));
    ps_strbuf_fini(&why);
    return st;
}

/* FNV-1a of a file's bytes (0 when there is no file). Local. */
static ps_status file_hash(const char *path, uint64_t *hash)
{
    *hash = 0;
    if (path == NULL)
        return PS_OK;
    char *text = NULL;
    size_t len = 0;
    PS_CHECK(ps_file_read(path, &text, &len));
    *hash = ps_fnv1a(PS_FNV_OFFSET, text, len);
    ps_free(text);
    return PS_OK;
}

/* Hashes of the model and data files, computed on rank 0 and sent to all. Collective. */
static ps_status input_hashes(ps_run *run, uint64_t *model_hash, uint64_t *data_hash)
{
    const ps_config *cfg = run->cfg;
    uint64_t h[2] = {0, 0};
    ps_status st = PS_OK;
    if (run->layout->rank == 0) {
        st = file_hash(cfg->model.library ? cfg->model.library : cfg->model.file, &h[0]);
        if (st == PS_OK)
            st = file_hash(cfg->data.file, &h[1]);
    }
    PS_CHECK(ps_comm_agree(run->comm, st));
    PS_MPI(MPI_Bcast(h, 2, MPI_UINT64_T, 0, run->comm), "MPI_Bcast", run->comm);
    *model_hash = h[0];
    *data_hash = h[1];
    return PS_OK;
}

enum { SLOT_U64S = 9, SLOT_F64S = 6 };

/* One chain's checkpoint record: its state, its running statistics, and the draws it
 * recorded in the unfinished block. With buf NULL, only counts the bytes. */
static size_t slot_record(const ps_run *run, size_t c, unsigned char *buf, size_t size,
                          const unsigned char *state, size_t state_size)
{
    const ps_run_slot *s = &run->slots[c];
    ps_writer w = {buf, 0, size};
    ps_put_u64(&w, state_size);
    ps_put_bytes(&w, state, state_size);
    uint64_t u[SLOT_U64S] = {(uint64_t)s->divergent_warmup,
                             (uint64_t)s->divergent,
                             (uint64_t)s->treedepth_hits,
                             s->n_steps,
                             s->steps_warmup,
                             s->energy_n,
                             s->stats_digest,
                             s->block_done ? 1u : 0u,
                             s->steps_all};
    for (int k = 0; k < SLOT_U64S; k++)
        ps_put_u64(&w, u[k]);
    double f[SLOT_F64S] = {s->energy_prev, s->energy_sq_diff, s->energy_mean,
                           s->energy_m2,   s->tree_depth_sum, s->accept_stat_sum};
    ps_put_f64s(&w, f, SLOT_F64S);
    ps_put_u64(&w, s->rec);
    size_t nq = run->n_quantities, ns = run->n_stats, cap = run->block_capacity;
    if (s->rec > 0) {
        ps_put_f64s(&w, run->block + c * cap * nq, s->rec * nq);
        ps_put_f64s(&w, run->stat_rows + c * cap * ns, s->rec * ns);
    }
    size_t body = w.pos;
    ps_put_u64(&w, buf && body <= size ? ps_fnv1a(PS_FNV_OFFSET, buf, body) : 0);
    return w.pos;
}

/* Restores what slot_record wrote (the block buffer must already hold rec draws). */
static ps_status slot_restore(ps_run *run, size_t c, const unsigned char *buf, size_t size)
{
    ps_run_slot *s = &run->slots[c];
    ps_reader r = {buf, 0, size - 8, false};
    uint64_t state_size = ps_get_u64(&r);
    if (r.failed || state_size > size)
        return ps_error(PS_ERR_IO, "checkpoint %s: the record of chain %llu is damaged",
                        run->cfg->output.checkpoint, (unsigned long long)ps_chain_id(s->chain));
    PS_CHECK(ps_chain_restore(s->chain, buf + r.pos, (size_t)state_size));
    r.pos += (size_t)state_size;
    uint64_t u[SLOT_U64S];
    for (int k = 0; k < SLOT_U64S; k++)
        u[k] = ps_get_u64(&r);
    s->divergent_warmup = (int64_t)u[0];
    s->divergent = (int64_t)u[1];
    s->treedepth_hits = (int64_t)u[2];
    s->n_steps = u[3];
    s->steps_warmup = u[4];
    s->energy_n = u[5];
    s->stats_digest = u[6];
    s->block_done = u[7] != 0;
    s->steps_all = u[8];
    s->energy_prev = ps_get_f64(&r);
    s->energy_sq_diff = ps_get_f64(&r);
    s->energy_mean = ps_get_f64(&r);
    s->energy_m2 = ps_get_f64(&r);
    s->tree_depth_sum = ps_get_f64(&r);
    s->accept_stat_sum = ps_get_f64(&r);
    uint64_t rec = ps_get_u64(&r);
    size_t nq = run->n_quantities, ns = run->n_stats, cap = run->block_capacity;
    if (r.failed || rec > cap)
        return ps_error(PS_ERR_IO, "checkpoint %s: the record of chain %llu is damaged",
                        run->cfg->output.checkpoint, (unsigned long long)ps_chain_id(s->chain));
    s->rec = (size_t)rec;
    ps_get_f64s(&r, run->block + c * cap * nq, s->rec * nq);
    ps_get_f64s(&r, run->stat_rows + c * cap * ns, s->rec * ns);
    if (r.failed || r.pos != size - 8)
        return ps_error(PS_ERR_IO, "checkpoint %s: the record of chain %llu has the wrong length",
                        run->cfg->output.checkpoint, (unsigned long long)ps_chain_id(s->chain));
    return PS_OK;
}

/* Writes a checkpoint of the whole run (after flushing the trace, which must hold every
 * draw the checkpoint counts). Collective. */
static ps_status checkpoint_now(ps_run *run)
{
    size_t n = run->n_local;
    unsigned char **records = NULL, *state = NULL;
    size_t *sizes = NULL;
    ps_ckpt_header h = {0};
    /* The trace must hold every draw the checkpoint counts. */
    ps_status status = stage_commit(run, PS_TRACE_SAMPLING);
    if (status == PS_OK)
        status = ps_trace_flush(run->trace);
    PS_TRY(status);
    status = ps_alloc_array(&records, n, sizeof *records, "checkpoint");
    if (status == PS_OK)
        status = ps_alloc_array(&sizes, n, sizeof *sizes, "checkpoint");
    size_t state_size = n > 0 ? ps_chain_state_size(run->slots[0].chain) : 0;
    if (status == PS_OK)
        status = ps_alloc_array(&state, state_size, 1, "checkpoint");
    for (size_t c = 0; c < n && status == PS_OK; c++) {
        status = ps_chain_save(run->slots[c].chain, state, state_size);
        size_t need = status == PS_OK ? slot_record(run, c, NULL, 0, state, state_size) : 0;
        if (status == PS_OK)
            status = ps_alloc_array(&records[c], need, 1, "checkpoint record");
        if (status == PS_OK) {
            slot_record(run, c, records[c], need, state, state_size);
            sizes[c] = need;
        }
    }
    if (status == PS_OK)
        status = comparable_config(run->cfg, &h.config_text);
    if (status == PS_OK && run->population != NULL)
        status = ps_population_save(run, &h.population, &h.population_size);
    PS_TRY(ps_comm_agree(run->comm, status));
    h.n_chains = (uint64_t)run->layout->n_chains;
    h.phase = run->phase;
    h.block_start = run->block_start;
    h.warmup_used = run->warmup_used;
    h.warmup_early = run->warmup_early;
    h.pooled_step_size = run->pooled_step_size;
    h.seed = run->seed;
    h.trace_warmup_draws = ps_trace_n_draws(run->trace, PS_TRACE_WARMUP);
    h.trace_draws = ps_trace_n_draws(run->trace, PS_TRACE_SAMPLING);
    h.model_hash = run->model_hash;
    h.data_hash = run->data_hash;
    status = ps_checkpoint_write(run->comm, run->cfg->output.checkpoint, &h, run->layout, records,
                                 sizes);
    run->last_checkpoint = ps_time_now();
done:
    for (size_t c = 0; records && c < n; c++)
        ps_free(records[c]);
    ps_free(records);
    ps_free(sizes);
    ps_free(state);
    ps_free(h.config_text);
    ps_free(h.population);
    return status;
}

/* Periodic checkpoint at a sync point, on rank 0's clock. Collective. */
ps_status ps_run_checkpoint_if_due(ps_run *run)
{
    double every = run->cfg->output.checkpoint_seconds;
    if (every <= 0)
        return PS_OK;
    int due = run->layout->rank == 0 && ps_time_now() - run->last_checkpoint >= every;
    PS_MPI(MPI_Bcast(&due, 1, MPI_INT, 0, run->comm), "MPI_Bcast", run->comm);
    return due ? checkpoint_now(run) : PS_OK;
}

ps_status ps_run_stop_for_signal(ps_run *run)
{
    PS_CHECK(checkpoint_now(run));
    ps_trace_end end = {
        .warmup_draws = run->warmup_used, .stop_reason = "signal", .warmup_divergences = -1};
    PS_CHECK(ps_trace_set_metadata(run->trace, &end));
    PS_CHECK(ps_trace_close(&run->trace));
    run->options->stopped_by_signal = true;
    if (run->layout->rank == 0) {
        ps_run_progress_done(run);
        fprintf(stderr,
                "psample: stopped by %s: checkpoint written to %s; continue with 'psample resume "
                "%s'\n",
                signal_number ? signal_name(signal_number) : "a signal on another rank",
                run->cfg->output.checkpoint, run->cfg->path);
    }
    return PS_OK;
}

/* The reserve for a block starting at the run's block_start and ending at target: a warmup
 * block records up to its end, a sampling block up to check_every iterations (thinned). */
size_t ps_run_block_draws_needed(const ps_run *run, ps_run_phase ph, int64_t target)
{
    const ps_config *cfg = run->cfg;
    if (ph == PS_PHASE_WARMUP) {
        bool record =
            (cfg->adaptation.adaptive_warmup && cfg->adaptation.engaged) || cfg->output.save_warmup;
        return record ? (size_t)(target - run->block_start) : 1;
    }
    int64_t thin = cfg->sampler.thin;
    int64_t from = run->block_start - run->warmup_used, to = target - run->warmup_used;
    size_t keep = (size_t)((to + thin - 1) / thin - (from + thin - 1) / thin);
    return keep ? keep : 1;
}

/* The sampling block's end: check_every iterations after its start, or the limit. */
int64_t ps_run_sampling_target(const ps_run *run)
{
    const ps_config *cfg = run->cfg;
    int64_t limit = cfg->convergence.stop_early ? cfg->convergence.max_draws : cfg->sampler.draws;
    int64_t done = run->block_start - run->warmup_used;
    int64_t block =
        cfg->convergence.check_every < limit - done ? cfg->convergence.check_every : limit - done;
    return run->block_start + block;
}

/* Rebuilds the convergence monitor from the sampling draws already in the trace. */
static ps_status monitor_from_trace(ps_run *run, size_t n_draws)
{
    size_t chunk = 512, nq = run->n_quantities, out = nq - 1, n_local = run->n_local;
    double *values = NULL, *block = NULL;
    unsigned char *columns = NULL;
    ps_status status = ps_alloc_array(&values, n_local * chunk * (out ? out : 1), sizeof(double),
                                      "resume buffers");
    if (status == PS_OK)
        status = ps_alloc_array(&block, n_local * chunk * nq, sizeof(double), "resume buffers");
    /* One column per statistic, each of at most 8-byte elements. */
    if (status == PS_OK)
        status = ps_alloc_array(&columns, n_local * chunk * run->n_stats, 8, "resume buffers");
    PS_TRY(ps_comm_agree(run->comm, status));
    /* lp is statistic 0 of every step method, a double (ps_step_method_stats). */
    const double *lp = (const double *)columns;
    for (size_t first = 0; first < n_draws; first += chunk) {
        size_t n = n_draws - first < chunk ? n_draws - first : chunk;
        void *stats[PS_MAX_STATS];
        for (size_t k = 0; k < run->n_stats; k++)
            stats[k] = columns + k * n_local * chunk * 8;
        PS_TRY(ps_trace_read(run->trace, PS_TRACE_SAMPLING, first, n, values, stats));
        for (size_t c = 0; c < n_local; c++)
            for (size_t d = 0; d < n; d++) {
                double *row = block + (c * n + d) * nq;
                row[0] = lp[c * n + d];
                ps_trace_block_get(run->trace, values, n, c, d, row + 1);
            }
        PS_TRY(ps_monitor_append(run->monitor, n, block, n));
    }
done:
    ps_free(values);
    ps_free(block);
    ps_free(columns);
    return status;
}

/* Continues a run from its checkpoint: chains, running statistics, unfinished blocks, the
 * trace (cut to the draws the checkpoint knows of) and the convergence monitor. */
static ps_status resume_from_checkpoint(ps_run *run)
{
    const ps_config *cfg = run->cfg;
    ps_ckpt_header h = {0};
    unsigned char **records = NULL;
    size_t *sizes = NULL;
    char *now = NULL;
    PS_CHECK(
        ps_checkpoint_read(run->comm, cfg->output.checkpoint, run->layout, &h, &records, &sizes));
    ps_status status = comparable_config(cfg, &now);
    if (status == PS_OK && strcmp(now, h.config_text) != 0)
        status = config_changed(cfg, h.config_text, now);
    if (status == PS_OK && ps_config_given(cfg, "sampler", "seed") &&
        (uint64_t)cfg->sampler.seed != h.seed)
        status = ps_config_error_at_key(cfg, PS_ERR_CONFIG, "sampler", "seed",
                                        "sampler.seed is %lld, but the run being resumed used %llu",
                                        (long long)cfg->sampler.seed, (unsigned long long)h.seed);
    if (status == PS_OK && h.model_hash != run->model_hash)
        status = ps_config_error_at_key(
            cfg, PS_ERR_CONFIG, "model", cfg->model.library ? "library" : "file",
            "the model file %s changed since checkpoint %s was written",
            cfg->model.library ? cfg->model.library : cfg->model.file, cfg->output.checkpoint);
    if (status == PS_OK && h.data_hash != run->data_hash)
        status = ps_config_error_at_key(cfg, PS_ERR_CONFIG, "data", "file",
                                        "the data file %s changed since checkpoint %s was written",
                                        cfg->data.file ? cfg->data.file : "(none)",
                                        cfg->output.checkpoint);
    PS_TRY(ps_comm_agree(run->comm, status));
    run->phase = (ps_run_phase)h.phase;
    run->block_start = h.block_start;
    run->warmup_used = h.warmup_used;
    run->warmup_early = h.warmup_early != 0;
    run->pooled_step_size = h.pooled_step_size;
    /* Blocks that were unfinished hold their draws: size the buffers as the loop does. */
    int64_t target = run->phase == PS_PHASE_WARMUP ? h.warmup_used : 0;
    if (run->phase == PS_PHASE_SAMPLING)
        target = ps_run_sampling_target(run);
    status = ps_run_reserve_block(run, ps_run_block_draws_needed(run, run->phase, target));
    for (size_t c = 0; c < run->n_local && status == PS_OK; c++)
        status = slot_restore(run, c, records[c], sizes[c]);
    PS_TRY(ps_comm_agree(run->comm, status));
    /* The chains' own warmup length may have been shortened: use what they say. */
    if (run->phase == PS_PHASE_WARMUP)
        run->warmup_used = ps_chain_warmup_length(run->slots[0].chain);
    PS_TRY(trace_reopen(run, (size_t)h.trace_warmup_draws, (size_t)h.trace_draws));
    PS_TRY(monitor_from_trace(run, (size_t)h.trace_draws));
    if (run->population != NULL)
        PS_TRY(ps_population_start(run, h.population, h.population_size));
    run->last_checkpoint = ps_time_now();
done:
    ps_checkpoint_free(&h, records, run->n_local);
    ps_free(sizes);
    ps_free(now);
    return status;
}
/* ---------------------------------------------------------------------------------------
 * Warmup
 * ------------------------------------------------------------------------------------- */

/* Runs the local chains of phase ph to `target` and meets the other ranks at the sync point:
 * agreed status, then a stop for a signal (*stopped), else the block's draws counted
 * (*recorded). *t_sync is when the sync point began. Collective. */
static ps_status run_block(ps_run *run, ps_run_phase ph, int64_t target, bool record, bool *stopped,
                           size_t *recorded, double *t_sync)
{
    PS_CHECK(ps_comm_agree(run->comm,
                           ps_run_reserve_block(run, ps_run_block_draws_needed(run, ph, target))));
    run_chains(run, ph, target, record);
    *t_sync = ps_time_now();
    PS_CHECK(ps_comm_agree(run->comm, ps_run_local_status(run)));
    if (stop_agreed(run)) {
        *stopped = true;
        return ps_run_stop_for_signal(run);
    }
    *recorded = 0;
    return ps_comm_agree(run->comm, ps_run_block_finished(run, recorded));
}

/* One warmup block (to the next window end or the end of warmup) and its sync point.
 * Sets *stopped when the ranks agreed to stop for a signal. */
static ps_status warmup_block(ps_run *run, bool *stopped)
{
    const ps_config *cfg = run->cfg;
    bool adaptive = cfg->adaptation.adaptive_warmup && cfg->adaptation.engaged;
    bool record = adaptive || cfg->output.save_warmup;
    int64_t target = ps_chain_warmup_length(run->slots[0].chain);
    size_t recorded = 0;
    double t_sync = 0.0;
    PS_CHECK(run_block(run, PS_PHASE_WARMUP, target, record, stopped, &recorded, &t_sync));
    if (*stopped)
        return PS_OK;
    if (cfg->output.save_warmup)
        PS_CHECK(ps_run_trace_append(run, PS_TRACE_WARMUP, recorded, true));
    /* Pooled: the chains wait at the window end for the pooled metric. Not pooled: each
     * chain finished its window itself, and a window ended when warmup goes on. */
    bool window_end = run->pooled ? ps_chain_window_pending(run->slots[0].chain)
                                  : ps_chain_in_warmup(run->slots[0].chain);
    if (run->pooled && window_end)
        PS_CHECK(install_pooled_metric(run));
    if (adaptive) {
        PS_CHECK(ps_monitor_append(run->warm_monitor, recorded, run->block, run->block_capacity));
        int64_t done = ps_chain_iteration(run->slots[0].chain);
        if (window_end && done >= cfg->adaptation.min_warmup) {
            bool converged = false;
            PS_CHECK(warmup_converged(run, &converged));
            if (converged) {
                for (size_t c = 0; c < run->n_local; c++)
                    PS_CHECK(ps_chain_end_warmup_early(run->slots[c].chain));
                run->warmup_early = true;
                ps_run_progress_phase(run, "warmup", ps_chain_warmup_length(run->slots[0].chain));
            }
        }
        if (window_end)
            ps_monitor_reset(run->warm_monitor);
    }
    run->warmup_used = ps_chain_warmup_length(run->slots[0].chain);
    ps_run_block_reset(run);
    run->t_sync += ps_time_now() - t_sync;
    ps_run_progress_sync(run);
    return PS_OK;
}

/* The end of warmup: with pooling every chain continues with the median step size. */
static ps_status warmup_finish(ps_run *run)
{
    run->warmup_used = ps_chain_warmup_length(run->slots[0].chain);
    if (run->pooled) {
        double *local = NULL, pooled = 0;
        PS_CHECK(ps_comm_agree(run->comm,
                               ps_alloc_array(&local, run->n_local, sizeof(double), "step sizes")));
        for (size_t c = 0; c < run->n_local; c++)
            local[c] = ps_chain_step_size(run->slots[c].chain);
        ps_status st = ps_pool_step_size(run->comm, run->layout, local, &pooled);
        ps_free(local);
        PS_CHECK(st);
        for (size_t c = 0; c < run->n_local; c++)
            ps_chain_set_step_size(run->slots[c].chain, pooled);
        run->pooled_step_size = pooled;
    }
    run->phase = PS_PHASE_SAMPLING;
    ps_run_block_reset(run);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Sampling
 * ------------------------------------------------------------------------------------- */

/* One sampling block of check_every iterations and its sync point (convergence check,
 * trace, checkpoint timer). Sets *stopped for a signal, *finished when sampling ends. */
static ps_status sampling_block(ps_run *run, bool *stopped, bool *finished)
{
    int64_t target = ps_run_sampling_target(run);
    size_t recorded = 0;
    double t_sync = 0.0;
    PS_CHECK(run_block(run, PS_PHASE_SAMPLING, target, true, stopped, &recorded, &t_sync));
    if (*stopped)
        return PS_OK;
    PS_CHECK(ps_run_sampling_sync(run, target, recorded, finished));
    run->t_sync += ps_time_now() - t_sync;
    ps_run_progress_sync(run);
    return PS_OK;
}

ps_status ps_run_sampling_sync(ps_run *run, int64_t target, size_t recorded, bool *finished)
{
    const ps_config *cfg = run->cfg;
    bool stop_early = cfg->convergence.stop_early;
    int64_t limit = stop_early ? cfg->convergence.max_draws : cfg->sampler.draws;
    PS_CHECK(ps_monitor_append(run->monitor, recorded, run->block, run->block_capacity));
    PS_CHECK(ps_run_trace_append(run, PS_TRACE_SAMPLING, recorded, false));
    int64_t done = target - run->warmup_used;
    run->sampling_done = done;
    /* The check recomputes every diagnostic over all draws so far. With stop_early it runs
     * at every block, since it decides when to stop; without, it only feeds the progress
     * line, so it runs at geometrically spaced points (a run's checks then cost a few full
     * computations, not one per block) and at the end. */
    if (stop_early || done >= run->next_check || done >= limit) {
        PS_CHECK(ps_monitor_check(run->monitor, &run->last_check));
        run->have_check = true;
        run->next_check =
            done +
            (done / 2 > cfg->convergence.check_every ? done / 2 : cfg->convergence.check_every);
    }
    double local_div = 0, all_div = 0;
    for (size_t c = 0; c < run->n_local; c++)
        local_div += (double)run->slots[c].divergent;
    ps_par_note(sizeof local_div);
    PS_MPI(MPI_Allreduce(&local_div, &all_div, 1, MPI_DOUBLE, MPI_SUM, run->comm), "MPI_Allreduce",
           run->comm);
    run->divergent_total = (int64_t)all_div;
    ps_run_block_reset(run);
    if (stop_early && done >= cfg->convergence.min_draws && converged_now(run, &run->last_check)) {
        run->stop_reason = PS_STOP_CONVERGED;
        *finished = true;
    } else if (done >= limit) {
        run->stop_reason = stop_early ? PS_STOP_MAX_DRAWS : PS_STOP_DRAWS;
        *finished = true;
    }
    if (!*finished)
        PS_CHECK(ps_run_checkpoint_if_due(run));
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------------------- */

void ps_run_sampling_begin(ps_run *run, bool *finished)
{
    const ps_config *cfg = run->cfg;
    run->t_sampling = ps_time_now();
    for (size_t c = 0; c < run->n_local; c++) {
        ps_run_slot *slot = &run->slots[c];
        slot->grads_at_sampling = ps_chain_gradient_count(slot->chain);
        slot->grad_seconds_at_sampling =
            ps_model_workspace_gradient_seconds(ps_chain_model_workspace(slot->chain));
    }
    int64_t limit = cfg->convergence.stop_early ? cfg->convergence.max_draws : cfg->sampler.draws;
    ps_run_progress_phase(run, "sampling", limit);
    run->progress_offset = run->block_start - run->warmup_used;
    *finished = run->block_start - run->warmup_used >= limit;
    if (*finished)
        run->stop_reason = cfg->convergence.stop_early ? PS_STOP_MAX_DRAWS : PS_STOP_DRAWS;
}

/* Warmup and sampling from wherever the run stands (its start, or a checkpoint). */
static ps_status drive(ps_run *run, bool *stopped)
{
    const ps_config *cfg = run->cfg;
    if (run->phase == PS_PHASE_WARMUP) {
        if (cfg->sampler.warmup > 0)
            ps_run_progress_phase(run, "warmup", ps_chain_warmup_length(run->slots[0].chain));
        /* Whether warmup goes on is read only after a finished block, when every chain
         * stands at the same iteration: after a stop, chains resume from different
         * iterations of an unfinished block, and some may already have reached its end. */
        while (cfg->sampler.warmup > 0) {
            PS_CHECK(warmup_block(run, stopped));
            if (*stopped)
                return PS_OK;
            if (!ps_chain_in_warmup(run->slots[0].chain) &&
                !ps_chain_window_pending(run->slots[0].chain))
                break;
            PS_CHECK(ps_run_checkpoint_if_due(run));
        }
        PS_CHECK(warmup_finish(run));
    }
    bool finished = false;
    ps_run_sampling_begin(run, &finished);
    while (!finished) {
        PS_CHECK(sampling_block(run, stopped, &finished));
        if (*stopped)
            return PS_OK;
    }
    run->t_end = ps_time_now();
    return PS_OK;
}

static void run_fini(ps_run *run)
{
    for (size_t c = 0; c < run->n_local && run->slots; c++)
        ps_chain_destroy(&run->slots[c].chain);
    ps_free(run->slots);
    ps_free(run->block);
    ps_free(run->trace_values);
    ps_free(run->stage_rows);
    ps_free(run->stage_stats);
    ps_free(run->stage_columns);
    ps_free(run->stat_rows);
    ps_population_destroy(run);
    ps_trace_destroy(&run->trace);
    ps_monitor_destroy(&run->monitor);
    ps_monitor_destroy(&run->warm_monitor);
    notices_fini(run);
    ps_layout_destroy(&run->layout);
    ps_model_destroy(&run->model);
    ps_run_progress_fini(run);
}

/* A run must not silently start over an earlier run's checkpoint. Local. */
static ps_status check_no_checkpoint(const ps_config *cfg, bool force)
{
    if (!force && access(cfg->output.checkpoint, F_OK) == 0)
        return ps_config_error_at_key(cfg, PS_ERR_CONFIG, "output", "checkpoint",
                                      "a checkpoint of an earlier run exists (%s): continue that "
                                      "run with 'psample resume %s', or start over with --force",
                                      cfg->output.checkpoint, cfg->path);
    return PS_OK;
}

ps_status ps_run_sample(MPI_Comm comm, const ps_config *cfg, ps_run_options *options)
{
    ps_run run = {0};
    run.comm = comm;
    run.cfg = cfg;
    run.options = options;
    run.notice_comm = MPI_COMM_NULL;
    run.t_start = ps_time_now();
    run.counters_start = ps_par_counters_get();
    run.seed = (uint64_t)cfg->sampler.seed;
    run.phase = PS_PHASE_WARMUP;
    bool resume = options->resume, stopped = false;
    options->stopped_by_signal = false;
    openblas_set_num_threads(1);
    ps_status st = ps_comm_agree(comm, ps_layout_create(comm, cfg->sampler.chains, &run.layout));
    if (st == PS_OK && !resume)
        st = ps_comm_agree(comm, check_no_checkpoint(cfg, options->force));
    /* On resume the seed is the checkpoint's; read it before anything uses the seed. */
    if (st == PS_OK && resume)
        st = ps_checkpoint_peek_seed(comm, cfg->output.checkpoint, &run.seed);
    if (st == PS_OK)
        st = ps_comm_agree(
            comm, ps_run_load_model(cfg, (unsigned int)(run.seed & 0xffffffffu), &run.model));
    if (st == PS_OK)
        st = input_hashes(&run, &run.model_hash, &run.data_hash);
    bool population = ps_step_method_population(cfg->sampler.algorithm) != PS_POPULATION_NONE;
    if (st == PS_OK) {
        run.dim = ps_model_dim(run.model);
        run.n_quantities = 1 + ps_model_output_size(run.model);
        ps_metric_kind kind = PS_METRIC_DIAG;
        ps_metric_kind_parse(cfg->sampler.metric, &kind);
        run.pooled = cfg->adaptation.pooled && cfg->adaptation.engaged && kind != PS_METRIC_UNIT &&
                     cfg->sampler.warmup > 0 && !population;
        st = stats_setup(&run);
        if (st == PS_OK)
            st = setup_chains(&run, !resume);
    }
    if (st == PS_OK && population)
        st = ps_population_create(&run);
    if (st == PS_OK)
        st = ps_monitor_create(comm, run.layout, run.n_quantities, &run.monitor);
    if (st == PS_OK && cfg->adaptation.adaptive_warmup)
        st = ps_monitor_create(comm, run.layout, run.n_quantities, &run.warm_monitor);
    if (st == PS_OK)
        st = notices_setup(&run);
    if (st == PS_OK && !resume)
        st = trace_open(&run, options->force);
    if (st == PS_OK && resume)
        st = resume_from_checkpoint(&run);
    else if (st == PS_OK && population)
        st = ps_population_start(&run, NULL, 0);
    if (st == PS_OK)
        st = ps_comm_agree(comm, ps_run_progress_init(&run));
    if (st == PS_OK && !resume)
        st = ps_run_report_warnings(&run);
    if (st == PS_OK) {
        test_signal_setup(&run);
        run.last_checkpoint = ps_time_now();
        st = population ? ps_population_drive(&run, &stopped) : drive(&run, &stopped);
    }
    if (!stopped) {
        ps_run_progress_done(&run);
        if (st == PS_OK)
            st = ps_run_report_warnings(&run);
        if (st == PS_OK)
            st = trace_finish(&run);
        if (st == PS_OK && run.layout->rank == 0)
            unlink(cfg->output.checkpoint); /* the run is complete: nothing to resume */
        if (st == PS_OK)
            st = ps_run_summary(&run);
    }
    run_fini(&run);
    return st;
}
