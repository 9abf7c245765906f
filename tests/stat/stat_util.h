/*
 * Helpers for the statistical tests of src/mcmc (DESIGN.md, Section 12): run several
 * chains of a model with fixed seeds, keep their draws chain-major per quantity, and judge
 * estimates in Monte Carlo standard errors.
 *
 * Judging. Each quantity gives z = (estimate - truth) / se, se the MCSE from src/diag
 * (combined in quadrature with the reference's MCSE when the truth is itself an estimate).
 * A test fails when any |z| > Z_MAX (4.5) or when more quantities than a binomial bound k
 * have |z| > 3. Under a correct sampler z is close to N(0, 1), so with m quantities
 *   P(false failure) <= m P(|Z| > 4.5) + P(Binomial(m, P(|Z| > 3)) > k),
 * with k the smallest count whose binomial tail is below 1e-4. The first term is a union
 * bound and holds for correlated quantities too; the binomial term treats the quantities
 * as independent (tests say where they are not). Each test prints its table, k and the
 * rate. Every judged quantity must also have R-hat < 1.05.
 */
#ifndef PS_TEST_STAT_UTIL_H
#define PS_TEST_STAT_UTIL_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "diag/diag.h"
#include "mcmc/mcmc.h"
#include "model/model.h"
#include "testlib.h"

#define STAT_Z_MAX 4.5

/* The draws of a run: value k of chain c, draw i at draws[k][c * n_draws + i]. */
typedef struct stat_run {
    size_t n_chains, n_draws, n_values;
    double *draws;    /* n_values * n_chains * n_draws */
    double *lp;       /* n_chains * n_draws */
    long divergences; /* in sampling */
    long warmup_divergences;
    long max_depth_hits;
    long gradients; /* gradient evaluations, all chains, warmup and sampling */
    double mean_accept;
    double step_size_min, step_size_max;
    /* Position 0 (unconstrained) after each divergent iteration, warmup and sampling (the
     * first n_chains * n_draws of them). */
    double *div_first;
    long n_div_first;
    double seconds;
} stat_run;

static inline double *stat_values(const stat_run *r, size_t k)
{
    return r->draws + k * r->n_chains * r->n_draws;
}

static inline void stat_run_free(stat_run *r)
{
    ps_free(r->draws);
    ps_free(r->lp);
    ps_free(r->div_first);
    memset(r, 0, sizeof *r);
}

/* Runs n_chains chains (ids 0..n_chains-1, settings->seed) with settings->warmup warmup
 * iterations and n_draws draws each; keeps the constrained output (constrained = true) or
 * the unconstrained position. Returns false (with a CHECK failure) on any error. */
static inline bool stat_sample(const ps_model *model, const ps_chain_settings *settings,
                               size_t n_chains, size_t n_draws, bool constrained, stat_run *r)
{
    memset(r, 0, sizeof *r);
    double t0 = ps_time_now();
    size_t dim = ps_model_dim(model);
    size_t n_values = constrained ? ps_model_output_size(model) : dim;
    r->n_chains = n_chains;
    r->n_draws = n_draws;
    r->n_values = n_values;
    r->draws = ps_calloc(n_values * n_chains * n_draws, sizeof(double));
    r->lp = ps_calloc(n_chains * n_draws, sizeof(double));
    r->div_first = ps_calloc(n_chains * n_draws, sizeof(double));
    double *out = ps_calloc(n_values + 1, sizeof(double));
    if (!r->draws || !r->lp || !r->div_first || !out) {
        CHECK(0, "out of memory for %zu x %zu x %zu draws", n_values, n_chains, n_draws);
        ps_free(out);
        return false;
    }
    r->step_size_min = INFINITY;
    r->step_size_max = 0.0;
    double accept_sum = 0.0;
    bool ok = true;
    for (size_t c = 0; c < n_chains && ok; c++) {
        ps_chain_settings s = *settings;
        s.chain_id = c;
        ps_chain *chain = NULL;
        ps_status st = ps_chain_create(model, &s, &chain);
        if (st == PS_OK)
            st = ps_chain_init(chain, NULL);
        for (int64_t it = 0; st == PS_OK && it < s.warmup + (int64_t)n_draws; it++) {
            ps_iter_stats stats;
            st = ps_chain_step(chain, &stats);
            if (st == PS_OK && stats.diverging)
                r->div_first[r->n_div_first++ % (n_chains * n_draws)] = ps_chain_position(chain)[0];
            if (st != PS_OK || it < s.warmup) {
                r->warmup_divergences += st == PS_OK && stats.diverging;
                continue;
            }
            size_t i = (size_t)(it - s.warmup);
            if (constrained)
                st = ps_chain_constrain(chain, out);
            else
                memcpy(out, ps_chain_position(chain), dim * sizeof(double));
            for (size_t k = 0; k < n_values; k++)
                r->draws[(k * n_chains + c) * n_draws + i] = out[k];
            r->lp[c * n_draws + i] = stats.lp;
            r->divergences += stats.diverging;
            r->max_depth_hits += stats.reached_max_treedepth;
            accept_sum += stats.acceptance_rate;
            if (i == 0) {
                r->step_size_min = fmin(r->step_size_min, stats.step_size);
                r->step_size_max = fmax(r->step_size_max, stats.step_size);
            }
        }
        for (int w = 0; chain && w < ps_chain_warning_count(chain); w++)
            printf("warning: %s\n", ps_chain_warning(chain, w) ? ps_chain_warning(chain, w) : "");
        if (chain)
            r->gradients += (long)ps_chain_gradient_count(chain);
        CHECK(st == PS_OK, "chain %zu failed: %s", c, ps_error_message());
        ok = st == PS_OK;
        ps_chain_destroy(&chain);
    }
    ps_free(out);
    r->mean_accept = accept_sum / (double)(n_chains * n_draws);
    r->seconds = ps_time_now() - t0;
    printf(
        "%s/%s: %zu chains x (%lld warmup + %zu draws), %.2f s, %ld gradients, step size "
        "%.3g..%.3g, mean acceptance %.3f, %ld divergences (%ld in warmup), %ld max-depth hits\n",
        settings->algorithm, ps_metric_kind_name(settings->metric), n_chains,
        (long long)settings->warmup, n_draws, r->seconds, r->gradients, r->step_size_min,
        r->step_size_max, r->mean_accept, r->divergences, r->warmup_divergences, r->max_depth_hits);
    return ok;
}

/* The quantities judged by a test. */
typedef struct stat_judge {
    const char *test;
    int n;
    int n_over3;
    double max_abs_z;
    char worst[96];
} stat_judge;

static inline void stat_judge_init(stat_judge *j, const char *test)
{
    memset(j, 0, sizeof *j);
    j->test = test;
    printf("%-22s %-10s %14s %14s %12s %8s\n", "quantity", "kind", "estimate", "truth", "se", "z");
}

/* Judges one quantity; se must be positive and finite. */
static inline void stat_judge_z(stat_judge *j, const char *name, const char *kind, double est,
                                double truth, double se)
{
    double z = (est - truth) / se;
    printf("%-22s %-10s %14.6g %14.6g %12.4g %8.3f%s\n", name, kind, est, truth, se, z,
           fabs(z) > 3.0 ? "  (|z| > 3)" : "");
    CHECK(isfinite(z) && se > 0.0, "%s: %s of %s is %g with se %g: z is not finite", j->test, kind,
          name, est, se);
    CHECK(fabs(z) < STAT_Z_MAX, "%s: %s of %s is %.6g, expected %.6g +/- %g MCSE (%.4g): z = %.2f",
          j->test, kind, name, est, truth, STAT_Z_MAX, se, z);
    j->n++;
    if (fabs(z) > 3.0)
        j->n_over3++;
    if (!(fabs(z) <= j->max_abs_z)) {
        j->max_abs_z = fabs(z);
        snprintf(j->worst, sizeof j->worst, "%s %s", kind, name);
    }
}

/* Binomial upper tail P(X > k) for X ~ Binomial(m, p). */
static inline double stat_binom_tail(int m, double p, int k)
{
    double cdf = 0.0, term = pow(1.0 - p, m);
    for (int x = 0; x <= k; x++) {
        cdf += term;
        term *= (double)(m - x) / (double)(x + 1) * p / (1.0 - p);
    }
    double tail = 1.0 - cdf;
    return tail > 0.0 ? tail : 0.0;
}

/* Finishes a test: the binomial bound on |z| > 3 and the false-failure rate. */
static inline void stat_judge_finish(stat_judge *j)
{
    const double p3 = erfc(3.0 / sqrt(2.0)), p45 = erfc(STAT_Z_MAX / sqrt(2.0));
    int k = 0;
    while (stat_binom_tail(j->n, p3, k) > 1e-4)
        k++;
    double ffr = 1.0 - pow(1.0 - p45, j->n) + stat_binom_tail(j->n, p3, k);
    printf("%s: %d quantities, max |z| %.2f (%s), %d with |z| > 3 (allowed %d); false-failure "
           "rate <= %.1e\n",
           j->test, j->n, j->max_abs_z, j->worst, j->n_over3, k, ffr);
    CHECK(j->n_over3 <= k, "%s: %d of %d quantities have |z| > 3, at most %d expected", j->test,
          j->n_over3, j->n, k);
}

/* Mean, sd and their MCSEs of one quantity, from src/diag. */
static inline void stat_summary(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                                size_t n_draws, ps_diag_summary *s)
{
    ps_status st = ps_diag_summarize(ws, draws, n_chains, n_draws, s);
    CHECK(st == PS_OK, "diagnostics failed: %s", ps_error_message());
}

/* Judges mean and sd of a quantity with known truth. */
static inline void stat_judge_mean_sd(stat_judge *j, ps_diag_workspace *ws, const char *name,
                                      const double *draws, size_t n_chains, size_t n_draws,
                                      double true_mean, double true_sd)
{
    ps_diag_summary s;
    stat_summary(ws, draws, n_chains, n_draws, &s);
    stat_judge_z(j, name, "mean", s.mean, true_mean, s.mcse_mean);
    stat_judge_z(j, name, "sd", s.sd, true_sd, s.mcse_sd);
    CHECK(s.rhat < 1.05, "%s: R-hat of %s is %.4f", j->test, name, s.rhat);
}

#endif
