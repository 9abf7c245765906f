/* What the user reads at the end of a run: warnings, the summary table (as CmdStan's
 * stansummary), diagnostics warnings, and a digest of the draws. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/run_impl.h"

uint64_t ps_run_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

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
        ps_mpi_must(MPI_Gather(&mine, 1, MPI_INT, lens, 1, MPI_INT, 0, run->comm), "MPI_Gather",
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
            ps_mpi_must(MPI_Gatherv(local.data ? local.data : "", mine, MPI_CHAR, all, lens, displs,
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

static void put_number(ps_strbuf *sb, double x, const char *fmt, int width)
{
    if (isnan(x))
        ps_strbuf_printf(sb, " %*s", width, "NA");
    else
        ps_strbuf_printf(sb, fmt, width, x);
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
    N_STATS
};

ps_status ps_run_summary(ps_run *run)
{
    const ps_config *cfg = run->cfg;
    const ps_layout *l = run->layout;
    size_t nq = run->n_quantities, n_chains = (size_t)l->n_chains;
    ps_diag_summary *rows = NULL;
    double *local = NULL, *all = NULL, *column = NULL;
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
    }
    /* One gather per statistic keeps the chain-order helper simple. */
    for (int k = 0; k < N_STATS; k++) {
        for (size_t c = 0; c < run->n_local; c++)
            column[c] = local[c * N_STATS + (size_t)k];
        PS_TRY(ps_gather_chain_values(run->comm, l, column, all + (size_t)k * n_chains));
    }
    if (l->rank != 0)
        goto done;

    double wall = ps_time_now() - run->t_start;
    double div = 0, div_warm = 0, depth = 0, steps = 0, grads = 0;
    uint64_t digest = ps_run_fnv1a(PS_RUN_FNV_OFFSET, &draws_digest, sizeof draws_digest);
    for (size_t c = 0; c < n_chains; c++) {
        div += all[STAT_DIV * n_chains + c];
        div_warm += all[STAT_DIV_WARMUP * n_chains + c];
        depth += all[STAT_TREEDEPTH * n_chains + c];
        steps += all[STAT_STEPS * n_chains + c];
        grads += all[STAT_GRADS * n_chains + c];
        uint64_t d = (uint64_t)all[STAT_DIGEST_LO * n_chains + c] |
                     ((uint64_t)all[STAT_DIGEST_HI * n_chains + c] << 32);
        digest = ps_run_fnv1a(digest, &d, sizeof d);
    }
    size_t kept = ps_monitor_n_draws(run->monitor);
    double total_draws = (double)kept * (double)n_chains;

    ps_strbuf out;
    ps_strbuf_init(&out);
    int threads = (int)cfg->parallel.threads;
    ps_strbuf_printf(&out,
                     "\npsample %s: %lld chains on %d rank%s x %d thread%s, algorithm %s, "
                     "metric %s%s\n",
                     ps_version_string(), (long long)l->n_chains, l->size, l->size == 1 ? "" : "s",
                     threads, threads == 1 ? "" : "s", cfg->sampler.algorithm, cfg->sampler.metric,
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

    /* The table. */
    char name[256];
    int width = 8;
    for (size_t q = 0; q < nq; q++) {
        quantity_name(run, q, name, sizeof name);
        int len = (int)strlen(name);
        width = len > width ? len : width;
    }
    width = width > 40 ? 40 : width;
    ps_strbuf_printf(&out, "\n%-*s %10s %10s %10s %10s %10s %10s %9s %9s %7s\n", width, "", "mean",
                     "mcse", "sd", "5%", "50%", "95%", "ess_bulk", "ess_tail", "r_hat");
    for (size_t q = 0; q < nq; q++) {
        const ps_diag_summary *r = &rows[q];
        quantity_name(run, q, name, sizeof name);
        ps_strbuf_printf(&out, "%-*.*s", width, width, name);
        put_number(&out, r->mean, " %*.4g", 10);
        put_number(&out, r->mcse_mean, " %*.2g", 10);
        put_number(&out, r->sd, " %*.4g", 10);
        put_number(&out, r->q05, " %*.4g", 10);
        put_number(&out, r->q50, " %*.4g", 10);
        put_number(&out, r->q95, " %*.4g", 10);
        put_number(&out, r->ess_bulk, " %*.0f", 9);
        put_number(&out, r->ess_tail, " %*.0f", 9);
        put_number(&out, r->rhat, " %*.3f", 7);
        ps_strbuf_putc(&out, '\n');
    }

    /* Diagnostics warnings, as Stan prints them. */
    ps_strbuf_putc(&out, '\n');
    int warnings = 0;
    if (div > 0) {
        ps_strbuf_printf(&out,
                         "warning: %.0f of %.0f draws (%.1f%%) ended with a divergence; the "
                         "results may be biased: increase sampler.target_accept or "
                         "reparameterise the model\n",
                         div, total_draws, 100.0 * div / total_draws);
        warnings++;
    }
    if (depth > 0) {
        ps_strbuf_printf(&out,
                         "warning: %.0f of %.0f draws (%.1f%%) hit the maximum tree depth of "
                         "%lld; consider increasing sampler.max_treedepth\n",
                         depth, total_draws, 100.0 * depth / total_draws,
                         (long long)cfg->sampler.max_treedepth);
        warnings++;
    }
    for (size_t c = 0; c < n_chains; c++) {
        double e = all[STAT_EBFMI * n_chains + c];
        if (!isnan(e) && e < 0.3 && strcmp(cfg->sampler.algorithm, "metropolis") != 0) {
            ps_strbuf_printf(&out,
                             "warning: chain %zu: E-BFMI %.3f is below 0.3; the sampler may "
                             "not explore the posterior well (reparameterise the model)\n",
                             c, e);
            warnings++;
        }
    }
    if (run->have_check) {
        const ps_convergence *cv = &run->last_check;
        if (!isnan(cv->max_rhat) && cv->max_rhat >= cfg->convergence.rhat_max) {
            quantity_name(run, (size_t)cv->max_rhat_q, name, sizeof name);
            ps_strbuf_printf(&out,
                             "warning: R-hat of %s is %.3f (>= %g): the chains have not mixed; "
                             "run longer or reparameterise\n",
                             name, cv->max_rhat, cfg->convergence.rhat_max);
            warnings++;
        }
        if (!isnan(cv->min_ess_bulk) && cv->min_ess_bulk < cfg->convergence.ess_bulk_min) {
            quantity_name(run, (size_t)cv->min_ess_bulk_q, name, sizeof name);
            ps_strbuf_printf(&out, "warning: bulk-ESS of %s is %.0f (< %g)\n", name,
                             cv->min_ess_bulk, cfg->convergence.ess_bulk_min);
            warnings++;
        }
        if (!isnan(cv->min_ess_tail) && cv->min_ess_tail < cfg->convergence.ess_tail_min) {
            quantity_name(run, (size_t)cv->min_ess_tail_q, name, sizeof name);
            ps_strbuf_printf(&out, "warning: tail-ESS of %s is %.0f (< %g)\n", name,
                             cv->min_ess_tail, cfg->convergence.ess_tail_min);
            warnings++;
        }
    }
    if (div_warm > 0)
        ps_strbuf_printf(&out, "note: %.0f divergences during warmup (not a problem by itself)\n",
                         div_warm);
    if (warnings == 0)
        ps_strbuf_puts(&out, "no diagnostics warnings\n");
    ps_strbuf_printf(&out,
                     "\ngradient evaluations: %.0f (%.3g per second); leapfrog steps in "
                     "sampling: %.0f; wall time %.2f s\n",
                     grads, wall > 0 ? grads / wall : 0.0, steps, wall);
    ps_strbuf_printf(&out, "draws digest: %016llx\n", (unsigned long long)digest);
    if (!out.failed)
        fputs(ps_strbuf_str(&out), stdout);
    fflush(stdout);
    ps_strbuf_fini(&out);
done:
    ps_free(rows);
    ps_free(local);
    ps_free(all);
    ps_free(column);
    return status;
}
