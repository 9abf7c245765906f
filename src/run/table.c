/* The summary table and the diagnostics warnings, shared by the end of a run and
 * `psample summary TRACE`. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "run/run_impl.h"

static void put_number(ps_strbuf *sb, double x, const char *fmt, int width)
{
    if (isnan(x))
        ps_strbuf_printf(sb, " %*s", width, "NA");
    else
        ps_strbuf_printf(sb, fmt, width, x);
}

void ps_table_write(ps_strbuf *out, const ps_table_input *in)
{
    char name[256];
    int width = 8;
    for (size_t q = 0; q < in->n_quantities; q++) {
        in->name(in->ctx, q, name, sizeof name);
        int len = (int)strlen(name);
        width = len > width ? len : width;
    }
    width = width > 40 ? 40 : width;
    ps_strbuf_printf(out, "\n%-*s %10s %10s %10s %10s %10s %10s %9s %9s %7s\n", width, "", "mean",
                     "mcse", "sd", "5%", "50%", "95%", "ess_bulk", "ess_tail", "r_hat");
    for (size_t q = 0; q < in->n_quantities; q++) {
        const ps_diag_summary *r = &in->rows[q];
        in->name(in->ctx, q, name, sizeof name);
        ps_strbuf_printf(out, "%-*.*s", width, width, name);
        put_number(out, r->mean, " %*.4g", 10);
        put_number(out, r->mcse_mean, " %*.2g", 10);
        put_number(out, r->sd, " %*.4g", 10);
        put_number(out, r->q05, " %*.4g", 10);
        put_number(out, r->q50, " %*.4g", 10);
        put_number(out, r->q95, " %*.4g", 10);
        put_number(out, r->ess_bulk, " %*.0f", 9);
        put_number(out, r->ess_tail, " %*.0f", 9);
        put_number(out, r->rhat, " %*.3f", 7);
        ps_strbuf_putc(out, '\n');
    }

    /* Diagnostics warnings, as Stan prints them. */
    ps_strbuf_putc(out, '\n');
    int warnings = 0;
    double total = in->total_draws;
    if (in->divergences > 0) {
        ps_strbuf_printf(out,
                         "warning: %.0f of %.0f draws (%.2g%%) ended with a divergence; the "
                         "results may be biased: increase sampler.target_accept or "
                         "reparameterise the model\n",
                         in->divergences, total, 100.0 * in->divergences / total);
        warnings++;
    }
    if (in->treedepth_hits > 0) {
        ps_strbuf_printf(out,
                         "warning: %.0f of %.0f draws (%.2g%%) hit the maximum tree depth of "
                         "%lld; consider increasing sampler.max_treedepth\n",
                         in->treedepth_hits, total, 100.0 * in->treedepth_hits / total,
                         (long long)in->max_treedepth);
        warnings++;
    }
    for (size_t c = 0; in->ebfmi && c < in->n_chains; c++) {
        double e = in->ebfmi[c];
        if (!isnan(e) && e < 0.3) {
            ps_strbuf_printf(out,
                             "warning: chain %zu: E-BFMI %.3f is below 0.3; the sampler may not "
                             "explore the posterior well (reparameterise the model)\n",
                             c, e);
            warnings++;
        }
    }
    /* The worst R-hat and ESS over every quantity (constant ones have none). */
    double max_rhat = -INFINITY, min_bulk = INFINITY, min_tail = INFINITY;
    size_t q_rhat = 0, q_bulk = 0, q_tail = 0;
    for (size_t q = 0; q < in->n_quantities; q++) {
        const ps_diag_summary *r = &in->rows[q];
        if (!isnan(r->rhat) && r->rhat > max_rhat) {
            max_rhat = r->rhat;
            q_rhat = q;
        }
        if (!isnan(r->ess_bulk) && r->ess_bulk < min_bulk) {
            min_bulk = r->ess_bulk;
            q_bulk = q;
        }
        if (!isnan(r->ess_tail) && r->ess_tail < min_tail) {
            min_tail = r->ess_tail;
            q_tail = q;
        }
    }
    if (isfinite(max_rhat) && max_rhat >= in->rhat_max) {
        in->name(in->ctx, q_rhat, name, sizeof name);
        ps_strbuf_printf(out,
                         "warning: R-hat of %s is %.3f (>= %g): the chains have not mixed; run "
                         "longer or reparameterise\n",
                         name, max_rhat, in->rhat_max);
        warnings++;
    }
    if (isfinite(min_bulk) && min_bulk < in->ess_bulk_min) {
        in->name(in->ctx, q_bulk, name, sizeof name);
        ps_strbuf_printf(out, "warning: bulk-ESS of %s is %.0f (< %g)\n", name, min_bulk,
                         in->ess_bulk_min);
        warnings++;
    }
    if (isfinite(min_tail) && min_tail < in->ess_tail_min) {
        in->name(in->ctx, q_tail, name, sizeof name);
        ps_strbuf_printf(out, "warning: tail-ESS of %s is %.0f (< %g)\n", name, min_tail,
                         in->ess_tail_min);
        warnings++;
    }
    if (in->divergences_warmup > 0)
        ps_strbuf_printf(out, "note: %.0f divergences during warmup (not a problem by itself)\n",
                         in->divergences_warmup);
    if (warnings == 0)
        ps_strbuf_puts(out, "no diagnostics warnings\n");
}
