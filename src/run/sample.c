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
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "par/par.h"
#include "run/run.h"
#include "run/run_impl.h"

/* OpenBLAS: one BLAS thread inside each chain (threads are used across chains). */
void openblas_set_num_threads(int num_threads);

/* ---------------------------------------------------------------------------------------
 * Per-chain bookkeeping
 * ------------------------------------------------------------------------------------- */

static void slot_fail(ps_run_slot *slot, ps_status st)
{
    slot->status = st;
    snprintf(slot->message, sizeof slot->message, "%s",
             ps_error_message()[0] ? ps_error_message() : ps_status_name(st));
    ps_error_clear();
}

/* The lowest failing local chain's error becomes this rank's recorded error. */
static ps_status local_status(ps_run *run)
{
    for (size_t c = 0; c < run->n_local; c++) {
        if (run->slots[c].status != PS_OK)
            return ps_error_set(run->slots[c].status, run->slots[c].message);
    }
    return PS_OK;
}

static void record_sampling_stats(ps_run_slot *slot, const ps_iter_stats *s)
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
    /* Digest of the sample statistics, in draw order. */
    double row[8] = {s->lp,         s->acceptance_rate, s->step_size,
                     s->tree_depth, (double)s->n_steps, s->diverging,
                     s->energy,     s->energy_error};
    slot->stats_digest = ps_run_fnv1a(slot->stats_digest, row, sizeof row);
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

/* Grows the block buffer to hold `draws` draws per local chain. */
static ps_status reserve_block(ps_run *run, size_t draws)
{
    if (draws <= run->block_capacity)
        return PS_OK;
    size_t n;
    if (!ps_size_mul(run->n_local, draws, &n) || !ps_size_mul(n, run->n_quantities, &n))
        return ps_error(PS_ERR_MEM, "draw buffer too large");
    PS_CHECK(ps_realloc_array(&run->block, n, sizeof(double), "the draw buffer"));
    run->block_capacity = draws;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Running the local chains between sync points
 * ------------------------------------------------------------------------------------- */

typedef enum phase { PHASE_WARMUP, PHASE_SAMPLING } phase;

/*
 * Runs every local chain for up to `iterations` iterations (warmup: stopping early at a
 * window end or at the end of warmup). Draws selected for recording go to the block:
 * during warmup every iteration when `record` (adaptive warmup), during sampling every
 * thin-th iteration counted from `sampling_done`. Returns the number of iterations each
 * chain ran (the same for all chains) in *ran and the draws recorded per chain in
 * *recorded. Failures are kept per chain; the caller agrees on them.
 */
static void run_chains(ps_run *run, phase ph, int64_t iterations, bool record,
                       int64_t sampling_done, int64_t *ran, size_t *recorded)
{
    int64_t thin = run->cfg->sampler.thin;
    size_t nq = run->n_quantities, per_chain = run->block_capacity;
    int64_t *ran_per = run->ran_scratch;
    size_t *rec_per = run->recorded_scratch;
    int threads = (int)run->cfg->parallel.threads;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (size_t c = 0; c < run->n_local; c++) {
        ps_run_slot *slot = &run->slots[c];
        double *rows = run->block + c * per_chain * nq;
        int64_t it = 0;
        size_t rec = 0;
        ran_per[c] = 0;
        rec_per[c] = 0;
        if (slot->status != PS_OK)
            continue;
        double t0 = ps_time_now();
        for (; it < iterations; it++) {
            if (ph == PHASE_WARMUP && !ps_chain_in_warmup(slot->chain))
                break;
            ps_iter_stats stats;
            ps_status st = ps_chain_step(slot->chain, &stats);
            if (st == PS_OK && ps_fault_point("sample_model_error") &&
                ps_chain_iteration(slot->chain) == 7)
                st = ps_error(PS_ERR_MODEL,
                              "chain %llu: model error at iteration 7 (injected "
                              "fault sample_model_error)",
                              (unsigned long long)ps_chain_id(slot->chain));
            if (st != PS_OK) {
                slot_fail(slot, st);
                break;
            }
            if (ph == PHASE_WARMUP) {
                slot->divergent_warmup += stats.diverging;
                slot->steps_warmup += (uint64_t)stats.n_steps;
                if (record) {
                    st = record_draw(run, slot, rows + rec * nq);
                    if (st != PS_OK) {
                        slot_fail(slot, st);
                        break;
                    }
                    rec++;
                }
                ps_run_progress_tick(run, c, 1, false);
                if (stats.window_end) {
                    it++;
                    break;
                }
            } else {
                if ((sampling_done + it) % thin == 0) {
                    record_sampling_stats(slot, &stats);
                    st = record_draw(run, slot, rows + rec * nq);
                    if (st != PS_OK) {
                        slot_fail(slot, st);
                        break;
                    }
                    rec++;
                }
                ps_run_progress_tick(run, c, 1, true);
            }
        }
        ran_per[c] = it;
        rec_per[c] = rec;
        if (ph == PHASE_WARMUP)
            slot->seconds_warmup += ps_time_now() - t0;
        else
            slot->seconds_sampling += ps_time_now() - t0;
    }
    *ran = run->n_local ? ran_per[0] : 0;
    *recorded = run->n_local ? rec_per[0] : 0;
    for (size_t c = 1; c < run->n_local; c++) {
        if (run->slots[c].status == PS_OK && run->slots[0].status == PS_OK &&
            (ran_per[c] != *ran || rec_per[c] != *recorded)) {
            run->slots[c].status = ps_error(
                PS_ERR_INTERNAL,
                "chain %llu ran %lld iterations where chain %llu "
                "ran %lld between the same sync points",
                (unsigned long long)ps_chain_id(run->slots[c].chain), (long long)ran_per[c],
                (unsigned long long)ps_chain_id(run->slots[0].chain), (long long)*ran);
            slot_fail(&run->slots[c], run->slots[c].status);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------------------- */

static ps_status settings_from_config(const ps_config *cfg, bool pooled, ps_chain_settings *s)
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
    s->seed = (uint64_t)cfg->sampler.seed;
    return PS_OK;
}

static ps_status setup_chains(ps_run *run)
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
        st = settings_from_config(cfg, run->pooled, &settings);
    for (size_t c = 0; c < run->n_local && st == PS_OK; c++) {
        settings.chain_id = (uint64_t)(l->first[l->rank] + (int64_t)c);
        run->slots[c].stats_digest = PS_RUN_FNV_OFFSET;
        st = ps_chain_create(run->model, &settings, &run->slots[c].chain);
        if (st == PS_OK && run->options && run->options->report_path)
            ps_model_workspace_set_timing(ps_chain_model_workspace(run->slots[c].chain), true);
    }
    PS_CHECK(ps_comm_agree(run->comm, st));

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
            slot_fail(&run->slots[c], cst);
    }
    return ps_comm_agree(run->comm, local_status(run));
}

/* ---------------------------------------------------------------------------------------
 * Warmup
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
                slot_fail(&run->slots[c], cst);
        }
        st = ps_comm_agree(run->comm, local_status(run));
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

static ps_status run_warmup(ps_run *run)
{
    const ps_config *cfg = run->cfg;
    bool adaptive = cfg->adaptation.adaptive_warmup && cfg->adaptation.engaged;
    int64_t done = 0;
    run->warmup_used = 0;
    if (cfg->sampler.warmup == 0)
        return PS_OK;
    ps_run_progress_phase(run, "warmup", cfg->sampler.warmup);
    while (ps_chain_in_warmup(run->slots[0].chain)) {
        int64_t remaining = ps_chain_warmup_length(run->slots[0].chain) - done;
        PS_CHECK(ps_comm_agree(run->comm, reserve_block(run, adaptive ? (size_t)remaining : 1)));
        int64_t ran = 0;
        size_t recorded = 0;
        run_chains(run, PHASE_WARMUP, remaining, adaptive, 0, &ran, &recorded);
        double t_sync = ps_time_now();
        PS_CHECK(ps_comm_agree(run->comm, local_status(run)));
        done += ran;
        bool window_end = run->pooled && ps_chain_window_pending(run->slots[0].chain);
        if (!run->pooled) {
            /* Without pooling each chain finished its window itself; a window ended when
             * the chains stopped before the end of warmup. */
            window_end = ps_chain_in_warmup(run->slots[0].chain);
        }
        if (run->pooled && window_end)
            PS_CHECK(install_pooled_metric(run));
        if (adaptive) {
            PS_CHECK(
                ps_monitor_append(run->warm_monitor, recorded, run->block, run->block_capacity));
            if (window_end && done >= cfg->adaptation.min_warmup) {
                bool converged = false;
                PS_CHECK(warmup_converged(run, &converged));
                if (converged) {
                    for (size_t c = 0; c < run->n_local; c++)
                        PS_CHECK(ps_chain_end_warmup_early(run->slots[c].chain));
                    run->warmup_early = true;
                    ps_run_progress_phase(run, "warmup",
                                          ps_chain_warmup_length(run->slots[0].chain));
                }
            }
            if (window_end)
                ps_monitor_reset(run->warm_monitor);
        }
        run->t_sync += ps_time_now() - t_sync;
        ps_run_progress_sync(run);
    }
    run->warmup_used = ps_chain_warmup_length(run->slots[0].chain);
    /* Pooled step size: every chain continues with the median over chains. */
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
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Sampling
 * ------------------------------------------------------------------------------------- */

static bool converged_now(const ps_run *run, const ps_convergence *c)
{
    const ps_config *cfg = run->cfg;
    if (isnan(c->max_rhat))
        return true; /* every quantity constant */
    return c->max_rhat < cfg->convergence.rhat_max &&
           c->min_ess_bulk >= cfg->convergence.ess_bulk_min &&
           c->min_ess_tail >= cfg->convergence.ess_tail_min;
}

static ps_status run_sampling(ps_run *run)
{
    const ps_config *cfg = run->cfg;
    bool stop_early = cfg->convergence.stop_early;
    int64_t limit = stop_early ? cfg->convergence.max_draws : cfg->sampler.draws;
    int64_t every = cfg->convergence.check_every, thin = cfg->sampler.thin;
    int64_t done = 0;
    run->stop_reason = stop_early ? PS_STOP_MAX_DRAWS : PS_STOP_DRAWS;
    run->t_sampling = ps_time_now();
    for (size_t c = 0; c < run->n_local; c++) {
        ps_run_slot *slot = &run->slots[c];
        slot->grads_at_sampling = ps_chain_gradient_count(slot->chain);
        slot->grad_seconds_at_sampling =
            ps_model_workspace_gradient_seconds(ps_chain_model_workspace(slot->chain));
    }
    ps_run_progress_phase(run, "sampling", limit);
    while (done < limit) {
        int64_t block = every < limit - done ? every : limit - done;
        size_t keep = (size_t)((done + block + thin - 1) / thin - (done + thin - 1) / thin);
        PS_CHECK(ps_comm_agree(run->comm, reserve_block(run, keep ? keep : 1)));
        int64_t ran = 0;
        size_t recorded = 0;
        run_chains(run, PHASE_SAMPLING, block, true, done, &ran, &recorded);
        double t_sync = ps_time_now();
        PS_CHECK(ps_comm_agree(run->comm, local_status(run)));
        done += ran;
        PS_CHECK(ps_monitor_append(run->monitor, recorded, run->block, run->block_capacity));
        PS_CHECK(ps_monitor_check(run->monitor, &run->last_check));
        run->have_check = true;
        run->sampling_done = done;
        /* Divergences so far, for the progress line. */
        double local_div = 0, all_div = 0;
        for (size_t c = 0; c < run->n_local; c++)
            local_div += (double)run->slots[c].divergent;
        ps_par_note(sizeof local_div);
        PS_MPI(MPI_Allreduce(&local_div, &all_div, 1, MPI_DOUBLE, MPI_SUM, run->comm),
               "MPI_Allreduce", run->comm);
        run->divergent_total = (int64_t)all_div;
        run->t_sync += ps_time_now() - t_sync;
        ps_run_progress_sync(run);
        if (stop_early && done >= cfg->convergence.min_draws &&
            converged_now(run, &run->last_check)) {
            run->stop_reason = PS_STOP_CONVERGED;
            break;
        }
    }
    run->sampling_done = done;
    run->t_end = ps_time_now();
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------------------- */

static void run_fini(ps_run *run)
{
    for (size_t c = 0; c < run->n_local && run->slots; c++)
        ps_chain_destroy(&run->slots[c].chain);
    ps_free(run->slots);
    ps_free(run->ran_scratch);
    ps_free(run->recorded_scratch);
    ps_free(run->block);
    ps_monitor_destroy(&run->monitor);
    ps_monitor_destroy(&run->warm_monitor);
    ps_layout_destroy(&run->layout);
    ps_model_destroy(&run->model);
    ps_run_progress_fini(run);
}

ps_status ps_run_sample(MPI_Comm comm, const ps_config *cfg, const ps_run_options *options)
{
    ps_run run = {0};
    run.comm = comm;
    run.cfg = cfg;
    run.options = options;
    run.t_start = ps_time_now();
    run.counters_start = ps_par_counters_get();
    openblas_set_num_threads(1);
    ps_status st = ps_comm_agree(comm, ps_layout_create(comm, cfg->sampler.chains, &run.layout));
    if (st == PS_OK)
        st = ps_comm_agree(comm, ps_run_load_model(cfg, &run.model));
    if (st == PS_OK) {
        run.dim = ps_model_dim(run.model);
        run.n_quantities = 1 + ps_model_output_size(run.model);
        ps_metric_kind kind = PS_METRIC_DIAG;
        ps_metric_kind_parse(cfg->sampler.metric, &kind);
        run.pooled = cfg->adaptation.pooled && cfg->adaptation.engaged && kind != PS_METRIC_UNIT &&
                     cfg->sampler.warmup > 0;
        st = setup_chains(&run);
    }
    if (st == PS_OK)
        st = ps_monitor_create(comm, run.layout, run.n_quantities, &run.monitor);
    if (st == PS_OK && cfg->adaptation.adaptive_warmup)
        st = ps_monitor_create(comm, run.layout, run.n_quantities, &run.warm_monitor);
    if (st == PS_OK)
        st = ps_comm_agree(comm, ps_run_progress_init(&run));
    if (st == PS_OK)
        st = ps_run_report_warnings(&run);
    if (st == PS_OK)
        st = run_warmup(&run);
    if (st == PS_OK)
        st = run_sampling(&run);
    ps_run_progress_done(&run);
    if (st == PS_OK)
        st = ps_run_report_warnings(&run);
    if (st == PS_OK)
        st = ps_run_summary(&run);
    run_fini(&run);
    return st;
}
