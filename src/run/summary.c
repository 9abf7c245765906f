/* What the user reads at the end of a run: warnings, the summary table (as CmdStan's
 * stansummary), diagnostics warnings, and a digest of the draws. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>

#include <cjson/cJSON.h>

#include "run/run_impl.h"

/* ---------------------------------------------------------------------------------------
 * Chains' warnings: gathered on rank 0, each distinct text printed once.
 * ------------------------------------------------------------------------------------- */

/* Appends "c" or "a-b" ranges of sorted chain ids to sb. */
static void append_chain_list(ps_strbuf *sb, const long long *ids, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && ids[j + 1] == ids[j] + 1)
            j++;
        ps_strbuf_printf(sb, "%s%lld", i ? ", " : "", ids[i]);
        if (j > i)
            ps_strbuf_printf(sb, "-%lld", ids[j]);
        i = j + 1;
    }
}

static void print_grouped_warnings(char *text, size_t len)
{
    /* Lines "CHAIN\tTEXT". Group by TEXT in order of first appearance. */
    size_t n_lines = 0;
    for (size_t i = 0; i < len; i++)
        n_lines += text[i] == '\n';
    char **texts = ps_calloc(n_lines + 1, sizeof(char *));
    long long *ids = ps_calloc(n_lines + 1, sizeof(long long));
    bool *done = ps_calloc(n_lines + 1, sizeof(bool));
    long long *group = ps_calloc(n_lines + 1, sizeof(long long));
    if (!texts || !ids || !done || !group) {
        fputs("psample: warning: (chain warnings lost: out of memory)\n", stderr);
        goto out;
    }
    size_t k = 0;
    for (char *line = text; k < n_lines && line < text + len; k++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        char *tab = strchr(line, '\t');
        ids[k] = strtoll(line, NULL, 10);
        texts[k] = tab ? tab + 1 : line;
        line = nl + 1;
    }
    for (size_t i = 0; i < k; i++) {
        if (done[i])
            continue;
        size_t n = 0;
        for (size_t j = i; j < k; j++) {
            if (!done[j] && strcmp(texts[i], texts[j]) == 0) {
                done[j] = true;
                group[n++] = ids[j];
            }
        }
        ps_strbuf sb;
        ps_strbuf_init(&sb);
        ps_strbuf_printf(&sb, "psample: warning: %s (chain%s ", texts[i], n > 1 ? "s" : "");
        append_chain_list(&sb, group, n);
        ps_strbuf_puts(&sb, ")\n");
        fputs(ps_strbuf_str(&sb), stderr);
        ps_strbuf_fini(&sb);
    }
out:
    ps_free(texts);
    ps_free(ids);
    ps_free(done);
    ps_free(group);
}

ps_status ps_run_report_warnings(ps_run *run)
{
    ps_strbuf local;
    ps_strbuf_init(&local);
    for (size_t c = 0; c < run->n_local; c++) {
        ps_chain *chain = run->slots[c].chain;
        for (int w = 0; w < ps_chain_warning_count(chain) && w < PS_CHAIN_MAX_WARNINGS; w++)
            ps_strbuf_printf(&local, "%llu\t%s\n", (unsigned long long)ps_chain_id(chain),
                             ps_chain_warning(chain, w));
        ps_chain_clear_warnings(chain);
    }
    ps_status st = local.failed ? ps_error(PS_ERR_MEM, "out of memory collecting warnings") : PS_OK;
    if (local.len > INT_MAX / 2)
        st = ps_error(PS_ERR_INTERNAL, "too many warnings");
    st = ps_comm_agree(run->comm, st);
    int size = run->layout->size, rank = run->layout->rank;
    int *lens = NULL, *displs = NULL;
    char *all = NULL;
    if (st == PS_OK && rank == 0) {
        lens = ps_calloc((size_t)size, sizeof(int));
        displs = ps_calloc((size_t)size, sizeof(int));
        if (!lens || !displs)
            st = ps_error(PS_ERR_MEM, "out of memory collecting warnings");
    }
    st = ps_comm_agree(run->comm, st);
    if (st == PS_OK) {
        int mine = (int)local.len;
        PS_MPI(MPI_Gather(&mine, 1, MPI_INT, lens, 1, MPI_INT, 0, run->comm), "MPI_Gather",
               run->comm);
        size_t total = 0;
        if (rank == 0) {
            for (int r = 0; r < size; r++) {
                displs[r] = (int)total;
                total += (size_t)lens[r];
            }
            if (total > INT_MAX)
                st = ps_error(PS_ERR_INTERNAL, "too many warnings");
            else if ((all = ps_malloc(total + 1)) == NULL)
                st = ps_error(PS_ERR_MEM, "out of memory collecting warnings");
        }
        st = ps_comm_agree(run->comm, st);
        if (st == PS_OK) {
            PS_MPI(MPI_Gatherv(local.data ? local.data : "", mine, MPI_CHAR, all, lens, displs,
                               MPI_CHAR, 0, run->comm),
                   "MPI_Gatherv", run->comm);
            if (rank == 0 && total > 0) {
                all[total] = '\0';
                print_grouped_warnings(all, total);
            }
        }
    }
    ps_free(lens);
    ps_free(displs);
    ps_free(all);
    ps_strbuf_fini(&local);
    return st;
}

/* ---------------------------------------------------------------------------------------
 * Summary
 * ------------------------------------------------------------------------------------- */

static void quantity_name(const ps_run *run, size_t q, char *buf, size_t size)
{
    if (q == 0)
        snprintf(buf, size, "lp__");
    else
        ps_model_output_element_name(run->model, q - 1, buf, size);
}

static void quantity_name_cb(const void *ctx, size_t q, char *buf, size_t size)
{
    quantity_name(ctx, q, buf, size);
}

/* Per-chain run statistics, gathered to every rank in chain order. */
enum {
    STAT_DIV,
    STAT_DIV_WARMUP,
    STAT_TREEDEPTH,
    STAT_STEPS,
    STAT_EBFMI,
    STAT_GRADS,
    STAT_DIGEST_LO,
    STAT_DIGEST_HI,
    STAT_STEPS_WARMUP,
    STAT_SECONDS_WARMUP,
    STAT_SECONDS_SAMPLING,
    STAT_GRADS_SAMPLING,
    STAT_GRAD_SECONDS_WARMUP,
    STAT_GRAD_SECONDS_SAMPLING,
    STAT_STEPS_ALL,
    STAT_STEP_SIZE,
    STAT_TREE_DEPTH_MEAN,
    STAT_ACCEPT_STAT_MEAN,
    N_STATS
};

/* Per-rank figures for the report: sync time, peak memory, collective counters. */
enum {
    RANK_SYNC,
    RANK_RSS_MB,
    RANK_CALLS,
    RANK_BYTES,
    RANK_MPI_SECONDS,
    RANK_TRACE,
    RANK_EXCHANGE,
    N_RANK
};

/* Population samplers evaluate the log density once per iteration and no gradient. */
static bool is_population(const ps_run *run)
{
    return run->population != NULL;
}

/* Sums statistic k over all chains. */
static double chain_sum(const double *all, size_t n_chains, int k)
{
    double sum = 0;
    for (size_t c = 0; c < n_chains; c++)
        sum += all[(size_t)k * n_chains + c];
    return sum;
}

static void add_number(cJSON *obj, const char *name, double x)
{
    if (isfinite(x))
        cJSON_AddNumberToObject(obj, name, x);
    else
        cJSON_AddNullToObject(obj, name);
}

/* Writes the JSON run report (rank 0). */
static ps_status write_report(const ps_run *run, const ps_diag_summary *rows, const double *all,
                              const double *ranks, uint64_t digest)
{
    const ps_config *cfg = run->cfg;
    const ps_layout *l = run->layout;
    size_t n_chains = (size_t)l->n_chains, nq = run->n_quantities;
    cJSON *root = cJSON_CreateObject();
    if (root == NULL)
        return ps_error(PS_ERR_MEM, "out of memory writing the run report");
    cJSON_AddStringToObject(root, "psample_version", ps_version_string());
    cJSON_AddStringToObject(root, "config", cfg->path);
    cJSON_AddStringToObject(root, "model", ps_model_description(run->model));
    cJSON_AddNumberToObject(root, "ranks", l->size);
    cJSON_AddNumberToObject(root, "threads", (double)cfg->parallel.threads);
    cJSON_AddNumberToObject(root, "chains", (double)l->n_chains);
    cJSON_AddNumberToObject(root, "seed", (double)cfg->sampler.seed);
    cJSON_AddStringToObject(root, "algorithm", cfg->sampler.algorithm);
    cJSON_AddStringToObject(root, "metric", cfg->sampler.metric);
    cJSON_AddBoolToObject(root, "pooled", run->pooled);
    cJSON_AddBoolToObject(root, "adaptive_warmup", cfg->adaptation.adaptive_warmup);
    cJSON_AddBoolToObject(root, "stop_early", cfg->convergence.stop_early);
    cJSON_AddNumberToObject(root, "unconstrained_dim", (double)run->dim);
    cJSON_AddNumberToObject(root, "warmup_iterations", (double)run->warmup_used);
    cJSON_AddNumberToObject(root, "sampling_iterations", (double)run->sampling_done);
    cJSON_AddNumberToObject(root, "draws_per_chain", (double)ps_monitor_n_draws(run->monitor));
    static const char *const reasons[] = {"draws", "converged", "max_draws"};
    cJSON_AddStringToObject(root, "stop_reason", reasons[run->stop_reason]);
    double wall = run->t_end - run->t_start;
    add_number(root, "wall_seconds", wall);
    add_number(root, "warmup_wall_seconds", run->t_sampling - run->t_start);
    add_number(root, "sampling_wall_seconds", run->t_end - run->t_sampling);

    double grads = chain_sum(all, n_chains, STAT_GRADS);
    double grads_sampling = chain_sum(all, n_chains, STAT_GRADS_SAMPLING);
    double steps_sampling = chain_sum(all, n_chains, STAT_STEPS);
    double steps_warmup = chain_sum(all, n_chains, STAT_STEPS_WARMUP);
    double sec_sampling = chain_sum(all, n_chains, STAT_SECONDS_SAMPLING);
    double sec_warmup = chain_sum(all, n_chains, STAT_SECONDS_WARMUP);
    double gsec_sampling = chain_sum(all, n_chains, STAT_GRAD_SECONDS_SAMPLING);
    double gsec_warmup = chain_sum(all, n_chains, STAT_GRAD_SECONDS_WARMUP);
    cJSON *g = cJSON_AddObjectToObject(root, "gradient_evaluations");
    add_number(g, "warmup", grads - grads_sampling);
    add_number(g, "sampling", grads_sampling);
    add_number(g, "total", grads);
    cJSON *lf = cJSON_AddObjectToObject(root, "leapfrog_steps");
    add_number(lf, "warmup", steps_warmup);
    add_number(lf, "sampling", steps_sampling);
    cJSON *cs = cJSON_AddObjectToObject(root, "chain_seconds");
    add_number(cs, "warmup", sec_warmup);
    add_number(cs, "sampling", sec_sampling);
    cJSON *gs = cJSON_AddObjectToObject(root, "gradient_seconds");
    add_number(gs, "warmup", gsec_warmup);
    add_number(gs, "sampling", gsec_sampling);
    add_number(root, "gradients_per_second", grads / wall);
    add_number(root, "us_per_leapfrog_sampling", 1e6 * sec_sampling / steps_sampling);
    add_number(root, "us_per_gradient_sampling", 1e6 * gsec_sampling / grads_sampling);
    add_number(root, "share_outside_gradient_sampling", 1.0 - gsec_sampling / sec_sampling);
    double evals = chain_sum(all, n_chains, STAT_STEPS_ALL);
    if (is_population(run)) {
        cJSON *ld = cJSON_AddObjectToObject(root, "log_density_evaluations");
        add_number(ld, "warmup", steps_warmup);
        add_number(ld, "sampling", evals - steps_warmup);
        add_number(ld, "total", evals);
        add_number(root, "us_per_iteration_sampling",
                   1e6 * (run->t_end - run->t_sampling) /
                       (double)(run->sampling_done > 0 ? run->sampling_done : 1));
    }

    /* Worst ESS and R-hat over the output variables (lp__ excluded, as in Stan's
     * baseline figures), and lp__ on its own. */
    double min_bulk = INFINITY, min_tail = INFINITY, max_rhat = -INFINITY;
    size_t q_bulk = 0, q_tail = 0, q_rhat = 0;
    for (size_t q = 1; q < nq; q++) {
        if (rows[q].ess_bulk < min_bulk) {
            min_bulk = rows[q].ess_bulk;
            q_bulk = q;
        }
        if (rows[q].ess_tail < min_tail) {
            min_tail = rows[q].ess_tail;
            q_tail = q;
        }
        if (rows[q].rhat > max_rhat) {
            max_rhat = rows[q].rhat;
            q_rhat = q;
        }
    }
    char name[256];
    add_number(root, "min_ess_bulk", min_bulk);
    quantity_name(run, q_bulk, name, sizeof name);
    cJSON_AddStringToObject(root, "min_ess_bulk_variable", name);
    add_number(root, "min_ess_tail", min_tail);
    quantity_name(run, q_tail, name, sizeof name);
    cJSON_AddStringToObject(root, "min_ess_tail_variable", name);
    add_number(root, "max_rhat", max_rhat);
    quantity_name(run, q_rhat, name, sizeof name);
    cJSON_AddStringToObject(root, "max_rhat_variable", name);
    add_number(root, "lp_ess_bulk", rows[0].ess_bulk);
    add_number(root, "ess_bulk_per_leapfrog_sampling", min_bulk / steps_sampling);
    add_number(root, "ess_bulk_per_gradient_total", min_bulk / grads);
    add_number(root, "ess_bulk_per_second_sampling", min_bulk / (run->t_end - run->t_sampling));
    add_number(root, "ess_bulk_per_second_wall", min_bulk / wall);
    if (is_population(run))
        add_number(root, "ess_bulk_per_log_density_sampling", min_bulk / (evals - steps_warmup));
    add_number(root, "divergences", chain_sum(all, n_chains, STAT_DIV));
    add_number(root, "divergences_warmup", chain_sum(all, n_chains, STAT_DIV_WARMUP));
    add_number(root, "treedepth_hits", chain_sum(all, n_chains, STAT_TREEDEPTH));
    if (cfg->sampler.warmup > 0 && run->pooled)
        add_number(root, "pooled_step_size", run->pooled_step_size);

    /* Per-chain figures in chain order, to compare with Stan's per-chain step sizes, tree
     * depths and acceptance statistics (sampling phase, kept draws). */
    static const struct {
        const char *name;
        int stat;
    } per_chain[] = {{"step_size", STAT_STEP_SIZE},
                     {"mean_tree_depth", STAT_TREE_DEPTH_MEAN},
                     {"mean_accept_stat", STAT_ACCEPT_STAT_MEAN},
                     {"leapfrog_steps_warmup", STAT_STEPS_WARMUP},
                     {"leapfrog_steps_sampling", STAT_STEPS},
                     {"divergences", STAT_DIV},
                     {"treedepth_hits", STAT_TREEDEPTH},
                     {"chain_seconds_warmup", STAT_SECONDS_WARMUP},
                     {"chain_seconds_sampling", STAT_SECONDS_SAMPLING},
                     {"e_bfmi", STAT_EBFMI}};
    cJSON *pc = cJSON_AddObjectToObject(root, "per_chain");
    for (size_t k = 0; k < sizeof per_chain / sizeof per_chain[0]; k++) {
        cJSON *arr = cJSON_AddArrayToObject(pc, per_chain[k].name);
        for (size_t c = 0; c < n_chains && arr != NULL; c++) {
            double x = all[(size_t)per_chain[k].stat * n_chains + c];
            cJSON_AddItemToArray(arr, isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull());
        }
    }

    cJSON *sync = cJSON_AddObjectToObject(root, "sync");
    cJSON *sync_s = cJSON_AddArrayToObject(sync, "seconds_per_rank");
    cJSON *rss = cJSON_AddArrayToObject(root, "max_rss_mb_per_rank");
    cJSON *calls = cJSON_AddArrayToObject(sync, "collective_calls_per_rank");
    cJSON *bytes = cJSON_AddArrayToObject(sync, "bytes_sent_per_rank");
    cJSON *mpi_s = cJSON_AddArrayToObject(sync, "mpi_seconds_per_rank");
    cJSON *trace_s = cJSON_AddArrayToObject(root, "trace_seconds_per_rank");
    cJSON *exchange_s = is_population(run)
                            ? cJSON_AddArrayToObject(sync, "population_exchange_seconds_per_rank")
                            : NULL;
    double sync_max = 0, mpi_max = 0, trace_max = 0, exchange_max = 0;
    for (int r = 0; r < l->size; r++) {
        const double *v = ranks + (size_t)r * N_RANK;
        cJSON_AddItemToArray(sync_s, cJSON_CreateNumber(v[RANK_SYNC]));
        cJSON_AddItemToArray(rss, cJSON_CreateNumber(v[RANK_RSS_MB]));
        cJSON_AddItemToArray(calls, cJSON_CreateNumber(v[RANK_CALLS]));
        cJSON_AddItemToArray(bytes, cJSON_CreateNumber(v[RANK_BYTES]));
        cJSON_AddItemToArray(mpi_s, cJSON_CreateNumber(v[RANK_MPI_SECONDS]));
        cJSON_AddItemToArray(trace_s, cJSON_CreateNumber(v[RANK_TRACE]));
        if (exchange_s != NULL)
            cJSON_AddItemToArray(exchange_s, cJSON_CreateNumber(v[RANK_EXCHANGE]));
        exchange_max = v[RANK_EXCHANGE] > exchange_max ? v[RANK_EXCHANGE] : exchange_max;
        trace_max = v[RANK_TRACE] > trace_max ? v[RANK_TRACE] : trace_max;
        sync_max = v[RANK_SYNC] > sync_max ? v[RANK_SYNC] : sync_max;
        mpi_max = v[RANK_MPI_SECONDS] > mpi_max ? v[RANK_MPI_SECONDS] : mpi_max;
    }
    add_number(sync, "share_of_wall_max_rank", sync_max / wall);
    add_number(sync, "mpi_share_of_wall_max_rank", mpi_max / wall);
    add_number(root, "trace_share_of_wall_max_rank", trace_max / wall);
    if (is_population(run))
        add_number(sync, "exchange_share_of_wall_max_rank", exchange_max / wall);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest);
    cJSON_AddStringToObject(root, "draws_digest", hex);

    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL)
        return ps_error(PS_ERR_MEM, "out of memory writing the run report");
    ps_status st = PS_OK;
    FILE *f = fopen(run->options->report_path, "w");
    if (f == NULL || fputs(text, f) < 0 || fputc('\n', f) < 0)
        st = ps_error(PS_ERR_IO, "cannot write the run report %s", run->options->report_path);
    if (f != NULL && fclose(f) != 0 && st == PS_OK)
        st = ps_error(PS_ERR_IO, "cannot write the run report %s", run->options->report_path);
    cJSON_free(text);
    return st;
}

ps_status ps_run_summary(ps_run *run)
{
    const ps_config *cfg = run->cfg;
    const ps_layout *l = run->layout;
    size_t nq = run->n_quantities, n_chains = (size_t)l->n_chains;
    ps_diag_summary *rows = NULL;
    double *local = NULL, *all = NULL, *column = NULL, *ranks = NULL;
    ps_status status = PS_OK;
    if (l->rank == 0)
        status = ps_alloc_array(&rows, nq, sizeof *rows, "summary");
    if (status == PS_OK)
        status = ps_alloc_array(&local, run->n_local * N_STATS, sizeof(double), "summary");
    if (status == PS_OK)
        status = ps_alloc_array(&all, n_chains * N_STATS, sizeof(double), "summary");
    if (status == PS_OK)
        status = ps_alloc_array(&column, n_chains > run->n_local ? n_chains : run->n_local,
                                sizeof(double), "summary");
    PS_TRY(ps_comm_agree(run->comm, status));
    PS_TRY(ps_monitor_summarize(run->monitor, rows));
    uint64_t draws_digest = 0;
    PS_TRY(ps_monitor_digest(run->monitor, &draws_digest));

    for (size_t c = 0; c < run->n_local; c++) {
        const ps_run_slot *s = &run->slots[c];
        double *v = local + c * N_STATS;
        v[STAT_DIV] = (double)s->divergent;
        v[STAT_DIV_WARMUP] = (double)s->divergent_warmup;
        v[STAT_TREEDEPTH] = (double)s->treedepth_hits;
        v[STAT_STEPS] = (double)s->n_steps;
        v[STAT_EBFMI] = s->energy_m2 > 0 ? s->energy_sq_diff / s->energy_m2 : NAN;
        v[STAT_GRADS] = (double)ps_chain_gradient_count(s->chain);
        v[STAT_DIGEST_LO] = (double)(uint32_t)s->stats_digest;
        v[STAT_DIGEST_HI] = (double)(uint32_t)(s->stats_digest >> 32);
        v[STAT_STEPS_WARMUP] = (double)s->steps_warmup;
        v[STAT_SECONDS_WARMUP] = s->seconds_warmup;
        v[STAT_SECONDS_SAMPLING] = s->seconds_sampling;
        v[STAT_GRADS_SAMPLING] = (double)(ps_chain_gradient_count(s->chain) - s->grads_at_sampling);
        double gsec = ps_model_workspace_gradient_seconds(ps_chain_model_workspace(s->chain));
        v[STAT_GRAD_SECONDS_WARMUP] = s->grad_seconds_at_sampling;
        v[STAT_GRAD_SECONDS_SAMPLING] = gsec - s->grad_seconds_at_sampling;
        v[STAT_STEPS_ALL] = (double)s->steps_all;
        double kept = s->energy_n > 0 ? (double)s->energy_n : NAN;
        v[STAT_STEP_SIZE] = ps_chain_step_size(s->chain);
        v[STAT_TREE_DEPTH_MEAN] = s->tree_depth_sum / kept;
        v[STAT_ACCEPT_STAT_MEAN] = s->accept_stat_sum / kept;
    }
    /* One gather per statistic keeps the chain-order helper simple. */
    for (int k = 0; k < N_STATS; k++) {
        for (size_t c = 0; c < run->n_local; c++)
            column[c] = local[c * N_STATS + (size_t)k];
        PS_TRY(ps_gather_chain_values(run->comm, l, column, all + (size_t)k * n_chains));
    }
    /* Per-rank figures for the report, gathered on rank 0. */
    double mine[N_RANK];
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    ps_par_counters counters = ps_par_counters_get();
    mine[RANK_SYNC] = run->t_sync;
    mine[RANK_RSS_MB] = (double)usage.ru_maxrss / 1024.0;
    mine[RANK_CALLS] = (double)(counters.calls - run->counters_start.calls);
    mine[RANK_BYTES] = counters.bytes - run->counters_start.bytes;
    mine[RANK_MPI_SECONDS] = counters.seconds - run->counters_start.seconds;
    mine[RANK_TRACE] = run->t_trace;
    mine[RANK_EXCHANGE] = run->t_exchange;
    if (l->rank == 0)
        status = ps_alloc_array(&ranks, (size_t)l->size * N_RANK, sizeof(double), "report");
    PS_TRY(ps_comm_agree(run->comm, status));
    PS_MPI(MPI_Gather(mine, N_RANK, MPI_DOUBLE, ranks, N_RANK, MPI_DOUBLE, 0, run->comm),
           "MPI_Gather", run->comm);
    if (l->rank != 0)
        goto done;

    double wall = run->t_end - run->t_start;
    double div = 0, div_warm = 0, depth = 0, steps = 0, grads = 0, evals = 0;
    uint64_t digest = ps_fnv1a(PS_FNV_OFFSET, &draws_digest, sizeof draws_digest);
    for (size_t c = 0; c < n_chains; c++) {
        div += all[STAT_DIV * n_chains + c];
        div_warm += all[STAT_DIV_WARMUP * n_chains + c];
        depth += all[STAT_TREEDEPTH * n_chains + c];
        steps += all[STAT_STEPS * n_chains + c];
        grads += all[STAT_GRADS * n_chains + c];
        evals += all[STAT_STEPS_ALL * n_chains + c];
        uint64_t d = (uint64_t)all[STAT_DIGEST_LO * n_chains + c] |
                     ((uint64_t)all[STAT_DIGEST_HI * n_chains + c] << 32);
        digest = ps_fnv1a(digest, &d, sizeof d);
    }
    size_t kept = ps_monitor_n_draws(run->monitor);
    double total_draws = (double)kept * (double)n_chains;

    ps_strbuf out;
    ps_strbuf_init(&out);
    int threads = (int)cfg->parallel.threads;
    if (is_population(run))
        ps_strbuf_printf(&out,
                         "\npsample %s: %lld chains on %d rank%s x %d thread%s, algorithm %s "
                         "(population exchange between ranks)\n",
                         ps_version_string(), (long long)l->n_chains, l->size,
                         l->size == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
                         cfg->sampler.algorithm);
    else
        ps_strbuf_printf(&out,
                         "\npsample %s: %lld chains on %d rank%s x %d thread%s, algorithm %s, "
                         "metric %s%s\n",
                         ps_version_string(), (long long)l->n_chains, l->size,
                         l->size == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
                         cfg->sampler.algorithm, cfg->sampler.metric,
                         run->pooled ? ", pooled adaptation" : "");
    if (cfg->adaptation.adaptive_warmup)
        ps_strbuf_printf(&out, "warmup: %lld iterations per chain (adaptive: %s; maximum %lld)\n",
                         (long long)run->warmup_used,
                         run->warmup_early ? "converged early" : "ran to the maximum",
                         (long long)cfg->sampler.warmup);
    else
        ps_strbuf_printf(&out, "warmup: %lld iterations per chain\n", (long long)run->warmup_used);
    ps_strbuf_printf(&out, "sampling: %lld iterations per chain, %zu draws kept per chain%s\n",
                     (long long)run->sampling_done, kept,
                     cfg->sampler.thin > 1 ? " (thinned)" : "");
    switch (run->stop_reason) {
    case PS_STOP_DRAWS:
        ps_strbuf_puts(&out, "stopped: reached sampler.draws\n");
        break;
    case PS_STOP_CONVERGED:
        ps_strbuf_printf(&out,
                         "stopped: converged (every R-hat < %g, bulk-ESS >= %g, tail-ESS "
                         ">= %g)\n",
                         cfg->convergence.rhat_max, cfg->convergence.ess_bulk_min,
                         cfg->convergence.ess_tail_min);
        break;
    case PS_STOP_MAX_DRAWS:
        ps_strbuf_puts(&out, "stopped: reached convergence.max_draws without converging\n");
        break;
    }

    double *chain_ebfmi = all + STAT_EBFMI * n_chains;
    /* E-BFMI is a diagnostic of Hamiltonian methods only. */
    bool hamiltonian =
        strcmp(cfg->sampler.algorithm, "nuts") == 0 || strcmp(cfg->sampler.algorithm, "hmc") == 0;
    ps_table_input table = {nq,
                            quantity_name_cb,
                            run,
                            rows,
                            n_chains,
                            total_draws,
                            div,
                            div_warm,
                            depth,
                            cfg->sampler.max_treedepth,
                            hamiltonian ? chain_ebfmi : NULL,
                            cfg->convergence.rhat_max,
                            cfg->convergence.ess_bulk_min,
                            cfg->convergence.ess_tail_min};
    ps_table_write(&out, &table);
    if (is_population(run))
        ps_strbuf_printf(&out,
                         "\nlog-density evaluations: %.0f (%.3g per second); wall time %.2f s\n",
                         evals, wall > 0 ? evals / wall : 0.0, wall);
    else
        ps_strbuf_printf(&out,
                         "\ngradient evaluations: %.0f (%.3g per second); leapfrog steps in "
                         "sampling: %.0f; wall time %.2f s\n",
                         grads, wall > 0 ? grads / wall : 0.0, steps, wall);
    ps_strbuf_printf(&out, "draws digest: %016llx\n", (unsigned long long)digest);
    if (!out.failed)
        fputs(ps_strbuf_str(&out), stdout);
    fflush(stdout);
    ps_strbuf_fini(&out);
    if (run->options && run->options->report_path)
        status = write_report(run, rows, all, ranks, digest);
done:
    ps_free(ranks);
    ps_free(rows);
    ps_free(local);
    ps_free(all);
    ps_free(column);
    return status;
}
