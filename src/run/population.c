/*
 * Population samplers across ranks (DESIGN.md Section 7): DEMetropolis and DEMetropolisZ,
 * whose proposals use other chains' states, run their chains in lock step and exchange
 * states between the ranks; everything else (trace, convergence monitor, checkpoints,
 * signals, summary) is the driver's (sample.c).
 *
 * DEMetropolis (ter Braak 2006). All chains cannot move at once against each other's
 * states: chain i's update is a valid Metropolis step only while the states it draws from
 * stay fixed. As emcee does (Foreman-Mackey et al. 2013, Sec. 3, "red-blue" parallel
 * stretch move), the chains are split into groups updated in turn, each against the
 * current states of the chains outside it: group g = chain id mod G, with G = 2 (even and
 * odd chain ids) when there are at least 4 chains, and G = 3 (one chain per group) with 3,
 * where two groups could not give every chain two distinct partners. Even/odd rather than
 * first/second half keeps every rank busy in every half-step, because ranks hold
 * contiguous blocks of chain ids. After each half-step one MPI_Allgatherv sends the moved
 * group's new positions to every rank (a rank's chains of one group are contiguous in the
 * group's chain order), together with one flag per rank: a stop signal or a failure, so
 * that all ranks stop at the same half-step boundary without another collective.
 *
 * DEMetropolisZ (ter Braak and Vrugt 2008). Proposals draw from an archive Z of past
 * states of all chains, which every rank keeps as a replica: it starts with every chain's
 * initial state, and every de_exchange_every iterations one MPI_Allgatherv appends the
 * current state of every chain, in chain order (the K-th iteration thinning of the paper).
 * Between exchanges the chains run independently. At the end of warmup the first 90% of
 * the archive is dropped (PyMC's tune_drop_fraction 0.9: int(0.9 n) rows), so that
 * proposals are not informed by unconverged warmup states.
 *
 * Determinism: a proposal depends only on the chain's own RNG stream (seed, chain id) and
 * on the population, whose contents and order depend only on chain ids; so the draws are
 * the same at any number of ranks and threads. The lock-step position (`iteration`: the
 * iterations every chain has completed) and the archive go into the checkpoint once, not
 * per chain; a chain that stopped at a half-step boundary (or between exchanges) keeps its
 * own iteration in its record, and the resumed loop steps exactly the chains that are
 * behind.
 */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "run/run_impl.h"

/* What a half-step or a segment between exchanges ends with, on one rank (combined over
 * the ranks with MAX). */
enum { FLAG_GO = 0, FLAG_STOP = 1, FLAG_FAILED = 2 };

struct ps_population {
    ps_population_kind kind;
    size_t dim, n_chains;
    int n_groups;
    int64_t iteration;      /* iterations every chain has completed */
    int64_t exchange_every; /* DEMetropolisZ */
    /* DEMetropolis: every chain's current position in chain order, and for group g the
     * chains outside it: candidates[group_first[g] .. group_first[g + 1]). */
    double *states;
    size_t *candidates, *group_first;
    /* DEMetropolisZ: the archive, rows of dim values. */
    double *archive;
    size_t archive_rows, archive_capacity;
    /* Exchange buffers and the Allgatherv layouts: per group (DE), and of all chains. */
    double *send, *recv;
    int *group_counts, *group_displs; /* n_groups x size */
    int *all_counts, *all_displs;     /* size */
};

static size_t group_of(const ps_population *pop, size_t chain)
{
    return chain % (size_t)pop->n_groups;
}

void ps_population_destroy(ps_run *run)
{
    ps_population *pop = run->population;
    if (pop == NULL)
        return;
    ps_free(pop->states);
    ps_free(pop->candidates);
    ps_free(pop->group_first);
    ps_free(pop->archive);
    ps_free(pop->send);
    ps_free(pop->recv);
    ps_free(pop->group_counts);
    ps_free(pop->group_displs);
    ps_free(pop->all_counts);
    ps_free(pop->all_displs);
    ps_free(pop);
    run->population = NULL;
}

/* The Allgatherv layouts: each rank sends a flag and the positions of its chains (of one
 * group, or all). Counts and displacements are ints: a population too large for them is a
 * configuration error. */
static ps_status layouts(ps_run *run, ps_population *pop)
{
    const ps_layout *l = run->layout;
    int size = l->size;
    for (int g = -1; g < pop->n_groups; g++) {
        int *counts = g < 0 ? pop->all_counts : pop->group_counts + (size_t)g * (size_t)size;
        int *displs = g < 0 ? pop->all_displs : pop->group_displs + (size_t)g * (size_t)size;
        size_t total = 0;
        for (int r = 0; r < size; r++) {
            size_t chains = 0;
            for (int64_t c = l->first[r]; c < l->first[r] + l->count[r]; c++)
                chains += g < 0 || group_of(pop, (size_t)c) == (size_t)g;
            size_t n = 1 + chains * pop->dim;
            if (total > (size_t)INT_MAX || n > (size_t)INT_MAX - total)
                return ps_config_error_at_key(
                    run->cfg, PS_ERR_CONFIG, "sampler", "chains",
                    "%lld chains of %zu parameters are too many for one population exchange "
                    "(more than %d values); use fewer chains",
                    (long long)l->n_chains, pop->dim, INT_MAX);
            counts[r] = (int)n;
            displs[r] = (int)total;
            total += n;
        }
    }
    return PS_OK;
}

ps_status ps_population_create(ps_run *run)
{
    const ps_config *cfg = run->cfg;
    size_t dim = run->dim, n_chains = (size_t)run->layout->n_chains,
           size = (size_t)run->layout->size;
    ps_population *pop = ps_calloc(1, sizeof *pop);
    ps_status st = pop ? PS_OK : ps_error(PS_ERR_MEM, "out of memory creating the population");
    if (st == PS_OK) {
        run->population = pop;
        pop->kind = ps_step_method_population(cfg->sampler.algorithm);
        pop->dim = dim;
        pop->n_chains = n_chains;
        pop->n_groups = pop->kind == PS_POPULATION_CURRENT ? (n_chains >= 4 ? 2 : 3) : 1;
        pop->exchange_every = cfg->sampler.de_exchange_every;
        pop->iteration = ps_chain_iteration(run->slots[0].chain);
        size_t groups = (size_t)pop->n_groups;
        st = ps_alloc_array(&pop->group_counts, groups * size, sizeof(int), "population");
        if (st == PS_OK)
            st = ps_alloc_array(&pop->group_displs, groups * size, sizeof(int), "population");
        if (st == PS_OK)
            st = ps_alloc_array(&pop->all_counts, size, sizeof(int), "population");
        if (st == PS_OK)
            st = ps_alloc_array(&pop->all_displs, size, sizeof(int), "population");
        if (st == PS_OK)
            st = layouts(run, pop);
    }
    if (st == PS_OK)
        st = ps_alloc_array(&pop->send, 1 + run->n_local * dim, sizeof(double), "population");
    if (st == PS_OK)
        st = ps_alloc_array(&pop->recv, size + n_chains * dim, sizeof(double), "population");
    if (st == PS_OK && pop->kind == PS_POPULATION_CURRENT) {
        st = ps_alloc_array(&pop->states, n_chains * (dim ? dim : 1), sizeof(double), "population");
        if (st == PS_OK)
            st = ps_alloc_array(&pop->group_first, (size_t)pop->n_groups + 1, sizeof(size_t),
                                "population");
        if (st == PS_OK)
            st = ps_alloc_array(&pop->candidates, (size_t)pop->n_groups * n_chains, sizeof(size_t),
                                "population");
        if (st == PS_OK) {
            size_t k = 0;
            for (int g = 0; g < pop->n_groups; g++) {
                pop->group_first[g] = k;
                for (size_t c = 0; c < n_chains; c++)
                    if (group_of(pop, c) != (size_t)g)
                        pop->candidates[k++] = c;
            }
            pop->group_first[pop->n_groups] = k;
        }
    }
    PS_CHECK(ps_comm_agree(run->comm, st));
    /* ter Braak (2006, Sec. 3) recommends N >= 2 d chains: with fewer, the differences of
     * chains span fewer directions than the posterior has, and the chains mix poorly. */
    if (pop->kind == PS_POPULATION_CURRENT && n_chains < 2 * dim && run->layout->rank == 0)
        fprintf(stderr,
                "psample: warning: demetropolis with %zu chains for %zu parameters: ter Braak "
                "(2006) recommends at least 2 x %zu = %zu chains; with fewer, the proposals "
                "(differences of two chains' states) explore only part of the parameter space "
                "and mixing will be poor (more chains, or algorithm \"demetropolisz\", which "
                "draws from the chains' history, work with few chains)\n",
                n_chains, dim, dim, 2 * dim);
    return PS_OK;
}

/* Installs in every local chain the view of the population its next step draws from. */
static void set_views(ps_run *run)
{
    ps_population *pop = run->population;
    for (size_t c = 0; c < run->n_local; c++) {
        ps_population_view v = {0};
        if (pop->kind == PS_POPULATION_CURRENT) {
            size_t g = group_of(pop, (size_t)ps_chain_id(run->slots[c].chain));
            v.states = pop->states;
            v.candidates = pop->candidates + pop->group_first[g];
            v.n_candidates = pop->group_first[g + 1] - pop->group_first[g];
        } else {
            v.states = pop->archive;
            v.candidates = NULL;
            v.n_candidates = pop->archive_rows;
        }
        ps_chain_set_population(run->slots[c].chain, &v);
    }
}

/*
 * One exchange: every rank sends `flag` and the positions of its chains of group g (all
 * chains when g < 0); afterwards recv holds, per rank in rank (hence chain) order, its flag
 * followed by its positions, and *flag_all is the largest flag. Collective.
 */
static ps_status exchange(ps_run *run, int g, int flag, int *flag_all)
{
    ps_population *pop = run->population;
    const ps_layout *l = run->layout;
    size_t dim = pop->dim, k = 1;
    pop->send[0] = (double)flag;
    for (size_t c = 0; c < run->n_local; c++) {
        const ps_chain *chain = run->slots[c].chain;
        if (g >= 0 && group_of(pop, (size_t)ps_chain_id(chain)) != (size_t)g)
            continue;
        memcpy(pop->send + k, ps_chain_position(chain), dim * sizeof(double));
        k += dim;
    }
    const int *counts = g < 0 ? pop->all_counts : pop->group_counts + (size_t)g * (size_t)l->size;
    const int *displs = g < 0 ? pop->all_displs : pop->group_displs + (size_t)g * (size_t)l->size;
    double t0 = ps_time_now();
    ps_par_note(k * sizeof(double));
    PS_MPI(MPI_Allgatherv(pop->send, counts[l->rank], MPI_DOUBLE, pop->recv, counts, displs,
                          MPI_DOUBLE, run->comm),
           "MPI_Allgatherv", run->comm);
    run->t_exchange += ps_time_now() - t0;
    *flag_all = FLAG_GO;
    for (int r = 0; r < l->size; r++) {
        int f = (int)pop->recv[displs[r]];
        *flag_all = f > *flag_all ? f : *flag_all;
    }
    return PS_OK;
}

/* DEMetropolis: copies the positions of group g (all chains when g < 0) that the last
 * exchange brought into the population's states. */
static void unpack_states(ps_run *run, int g)
{
    ps_population *pop = run->population;
    const ps_layout *l = run->layout;
    size_t dim = pop->dim;
    const int *displs = g < 0 ? pop->all_displs : pop->group_displs + (size_t)g * (size_t)l->size;
    for (int r = 0; r < l->size; r++) {
        const double *from = pop->recv + displs[r] + 1;
        for (int64_t c = l->first[r]; c < l->first[r] + l->count[r]; c++) {
            if (g >= 0 && group_of(pop, (size_t)c) != (size_t)g)
                continue;
            memcpy(pop->states + (size_t)c * dim, from, dim * sizeof(double));
            from += dim;
        }
    }
}

/* DEMetropolisZ: makes room for `rows` more archive rows (amortised doubling). */
static ps_status archive_reserve(ps_population *pop, size_t rows)
{
    size_t need;
    if (!ps_size_add(pop->archive_rows, rows, &need))
        return ps_error(PS_ERR_MEM, "the DE archive is too large");
    if (need <= pop->archive_capacity)
        return PS_OK;
    size_t cap = pop->archive_capacity ? 2 * pop->archive_capacity : 64;
    cap = cap < need ? need : cap;
    size_t n;
    if (!ps_size_mul(cap, pop->dim ? pop->dim : 1, &n))
        return ps_error(PS_ERR_MEM, "the DE archive is too large");
    PS_CHECK(ps_realloc_array(&pop->archive, n, sizeof(double), "the DE archive"));
    pop->archive_capacity = cap;
    return PS_OK;
}

/* DEMetropolisZ: appends every chain's position from the last exchange of all chains
 * (rank order is chain order). */
static void archive_append(ps_run *run)
{
    ps_population *pop = run->population;
    const ps_layout *l = run->layout;
    size_t dim = pop->dim;
    for (int r = 0; r < l->size; r++) {
        size_t n = (size_t)l->count[r] * dim;
        memcpy(pop->archive + pop->archive_rows * dim, pop->recv + pop->all_displs[r] + 1,
               n * sizeof(double));
        pop->archive_rows += (size_t)l->count[r];
    }
}

/*
 * Advances the local chains (of group g, or all when g < 0) that are behind to iteration
 * `end`, on the rank's threads. A chain stops early at a stop signal or a failure (kept in
 * its slot). Returns this rank's flag.
 */
static int step_chains(ps_run *run, ps_run_phase ph, int g, int64_t end, bool record)
{
    ps_population *pop = run->population;
    int threads = (int)run->cfg->parallel.threads;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (size_t c = 0; c < run->n_local; c++) {
        ps_run_slot *slot = &run->slots[c];
        ps_chain *chain = slot->chain;
        if (slot->status != PS_OK ||
            (g >= 0 && group_of(pop, (size_t)ps_chain_id(chain)) != (size_t)g))
            continue;
        double t0 = ps_time_now();
        while (ps_chain_iteration(chain) < end) {
            int64_t it = ps_chain_iteration(chain);
            if (c == 0 && it == run->test_signal_at)
                raise(SIGUSR1);
            if (ps_run_signal_pending())
                break;
            ps_iter_stats stats;
            if (ps_run_step_chain(run, c, ph, it, record, &stats) != PS_OK)
                break;
        }
        if (ph == PS_PHASE_WARMUP)
            slot->seconds_warmup += ps_time_now() - t0;
        else
            slot->seconds_sampling += ps_time_now() - t0;
    }
    for (size_t c = 0; c < run->n_local; c++)
        if (run->slots[c].status != PS_OK)
            return FLAG_FAILED;
    return ps_run_signal_pending() ? FLAG_STOP : FLAG_GO;
}

/* DEMetropolis: iterations up to `target`, each a half-step per group with its exchange. */
static ps_status de_iterations(ps_run *run, ps_run_phase ph, int64_t target, bool record,
                               int *flag_all)
{
    ps_population *pop = run->population;
    while (pop->iteration < target) {
        for (int g = 0; g < pop->n_groups; g++) {
            int flag = step_chains(run, ph, g, pop->iteration + 1, record);
            PS_CHECK(exchange(run, g, flag, flag_all));
            unpack_states(run, g);
            if (*flag_all != FLAG_GO)
                return PS_OK;
        }
        pop->iteration++;
    }
    return PS_OK;
}

/* DEMetropolisZ: segments between exchanges up to `target`; the archive grows at every
 * multiple of exchange_every. */
static ps_status dez_iterations(ps_run *run, ps_run_phase ph, int64_t target, bool record,
                                int *flag_all)
{
    ps_population *pop = run->population;
    int64_t every = pop->exchange_every;
    while (pop->iteration < target) {
        int64_t end = (pop->iteration / every + 1) * every;
        end = end < target ? end : target;
        int flag = step_chains(run, ph, -1, end, record);
        bool append = end % every == 0;
        if (flag == FLAG_GO && append) {
            ps_status st = archive_reserve(pop, pop->n_chains);
            if (st != PS_OK) {
                ps_run_slot_fail(&run->slots[0], st);
                flag = FLAG_FAILED;
            }
        }
        PS_CHECK(exchange(run, -1, flag, flag_all));
        if (*flag_all != FLAG_GO)
            return PS_OK;
        if (append) {
            archive_append(run);
            set_views(run);
        }
        pop->iteration = end;
    }
    return PS_OK;
}

ps_status ps_population_start(ps_run *run, const unsigned char *blob, size_t size)
{
    ps_population *pop = run->population;
    size_t dim = pop->dim;
    ps_status st = PS_OK;
    if (blob != NULL) {
        ps_reader r = {blob, 0, size, false};
        unsigned char magic[8];
        ps_get_bytes(&r, magic, sizeof magic);
        uint64_t version = ps_get_u64(&r), kind = ps_get_u64(&r), d = ps_get_u64(&r);
        uint64_t chains = ps_get_u64(&r), iteration = ps_get_u64(&r), rows = ps_get_u64(&r);
        size_t values = 0;
        if (r.failed || memcmp(magic, "PSPOPUL", 8) != 0 || version != 1 ||
            kind != (uint64_t)pop->kind || d != (uint64_t)dim || chains != pop->n_chains ||
            !ps_size_mul((size_t)rows, dim, &values) || values > (size - r.pos) / 8)
            st = ps_error(PS_ERR_IO,
                          "checkpoint %s: the population section does not belong to this run "
                          "(%s, %zu chains of %zu parameters) or is damaged",
                          run->cfg->output.checkpoint, run->cfg->sampler.algorithm, pop->n_chains,
                          dim);
        if (st == PS_OK && rows > 0)
            st = archive_reserve(pop, (size_t)rows);
        if (st == PS_OK) {
            ps_get_f64s(&r, pop->archive, values);
            pop->archive_rows = (size_t)rows;
            pop->iteration = (int64_t)iteration;
        }
    }
    PS_CHECK(ps_comm_agree(run->comm, st));
    /* Every chain's current position, on every rank. */
    int flag_all = FLAG_GO;
    PS_CHECK(exchange(run, -1, FLAG_GO, &flag_all));
    if (pop->kind == PS_POPULATION_CURRENT) {
        unpack_states(run, -1);
    } else if (blob == NULL) {
        /* The archive starts with every chain's initial state (ter Braak and Vrugt start
         * it with draws from the prior, which a model here does not offer). */
        st = archive_reserve(pop, pop->n_chains);
        if (st == PS_OK)
            archive_append(run);
        PS_CHECK(ps_comm_agree(run->comm, st));
    }
    set_views(run);
    return PS_OK;
}

ps_status ps_population_save(const ps_run *run, unsigned char **blob, size_t *size)
{
    const ps_population *pop = run->population;
    *blob = NULL;
    *size = 0;
    size_t values = pop->archive_rows * pop->dim;
    ps_writer w = {NULL, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        ps_put_bytes(&w, "PSPOPUL", 8);
        ps_put_u64(&w, 1);
        ps_put_u64(&w, (uint64_t)pop->kind);
        ps_put_u64(&w, pop->dim);
        ps_put_u64(&w, pop->n_chains);
        ps_put_u64(&w, (uint64_t)pop->iteration);
        ps_put_u64(&w, pop->archive_rows);
        if (values > 0)
            ps_put_f64s(&w, pop->archive, values);
        if (pass == 0) {
            PS_CHECK(ps_alloc_array(blob, w.pos, 1, "the population's checkpoint"));
            *size = w.pos;
            w = (ps_writer){*blob, 0, *size};
        }
    }
    return PS_OK;
}

/* One block of iterations up to `target` and its agreement: the ranks agree on failures,
 * then on a stop signal (checkpoint and exit). Collective. */
static ps_status population_block(ps_run *run, ps_run_phase ph, int64_t target, bool record,
                                  bool *stopped)
{
    int flag_all = FLAG_GO;
    ps_status st = run->population->kind == PS_POPULATION_CURRENT
                       ? de_iterations(run, ph, target, record, &flag_all)
                       : dez_iterations(run, ph, target, record, &flag_all);
    PS_CHECK(st);
    PS_CHECK(ps_comm_agree(run->comm, ps_run_local_status(run)));
    if (flag_all != FLAG_GO) {
        *stopped = true;
        return ps_run_stop_for_signal(run);
    }
    return PS_OK;
}

/* The end of warmup: DEMetropolisZ forgets the first 90% of its archive (PyMC's
 * DEMetropolisZ.stop_tuning with tune_drop_fraction 0.9). */
static void warmup_finish(ps_run *run)
{
    ps_population *pop = run->population;
    if (pop->kind == PS_POPULATION_ARCHIVE && run->warmup_used > 0) {
        size_t drop = (size_t)(0.9 * (double)pop->archive_rows);
        size_t keep = pop->archive_rows - drop;
        memmove(pop->archive, pop->archive + drop * pop->dim, keep * pop->dim * sizeof(double));
        pop->archive_rows = keep;
        set_views(run);
    }
    run->phase = PS_PHASE_SAMPLING;
    ps_run_block_reset(run);
}

ps_status ps_population_drive(ps_run *run, bool *stopped)
{
    const ps_config *cfg = run->cfg;
    ps_population *pop = run->population;
    int64_t check_every = cfg->convergence.check_every;
    run->warmup_used = ps_chain_warmup_length(run->slots[0].chain);
    if (run->phase == PS_PHASE_WARMUP) {
        if (run->warmup_used > 0)
            ps_run_progress_phase(run, "warmup", run->warmup_used);
        bool record = cfg->output.save_warmup;
        while (pop->iteration < run->warmup_used) {
            int64_t target = run->block_start + check_every;
            target = target < run->warmup_used ? target : run->warmup_used;
            PS_CHECK(ps_comm_agree(
                run->comm, ps_run_reserve_block(
                               run, ps_run_block_draws_needed(run, PS_PHASE_WARMUP, target))));
            PS_CHECK(population_block(run, PS_PHASE_WARMUP, target, record, stopped));
            if (*stopped)
                return PS_OK;
            double t_sync = ps_time_now();
            size_t recorded = 0;
            PS_CHECK(ps_comm_agree(run->comm, ps_run_block_finished(run, &recorded)));
            if (record)
                PS_CHECK(ps_run_trace_append(run, PS_TRACE_WARMUP, recorded, true));
            ps_run_block_reset(run);
            PS_CHECK(ps_run_checkpoint_if_due(run));
            run->t_sync += ps_time_now() - t_sync;
            ps_run_progress_sync(run);
        }
        warmup_finish(run);
    }
    bool finished = false;
    ps_run_sampling_begin(run, &finished);
    while (!finished) {
        int64_t target = ps_run_sampling_target(run);
        PS_CHECK(ps_comm_agree(
            run->comm,
            ps_run_reserve_block(run, ps_run_block_draws_needed(run, PS_PHASE_SAMPLING, target))));
        PS_CHECK(population_block(run, PS_PHASE_SAMPLING, target, true, stopped));
        if (*stopped)
            return PS_OK;
        double t_sync = ps_time_now();
        size_t recorded = 0;
        PS_CHECK(ps_comm_agree(run->comm, ps_run_block_finished(run, &recorded)));
        PS_CHECK(ps_run_sampling_sync(run, target, recorded, &finished));
        run->t_sync += ps_time_now() - t_sync;
        ps_run_progress_sync(run);
    }
    run->t_end = ps_time_now();
    return PS_OK;
}
