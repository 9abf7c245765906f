/*
 * Diagnostics on inputs whose results follow by hand from the definitions (Vehtari et al.
 * 2021; posterior's conventions; Margossian et al. 2024 for nested R-hat), invariances,
 * NA rules, the building blocks for distributed use, allocation-freedom and fault
 * injection. The comparison with posterior itself is test_diag_reference.c.
 */
#include <float.h>

#include "core/core.h"
#include "core/rng.h"
#include "diag/diag.h"
#include "testlib.h"

#define MAX_CHAINS 8
#define MAX_DRAWS 2000

/* AR(1) chains with unit marginal variance: x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t, chain c
 * shifted by shift * c. */
static void make_ar1(double *draws, size_t n_chains, size_t n_draws, double phi, double shift,
                     uint64_t seed)
{
    for (size_t c = 0; c < n_chains; c++) {
        ps_rng rng;
        ps_rng_init(&rng, seed, c);
        double x = ps_rng_normal(&rng);
        double innovation = sqrt(1.0 - phi * phi);
        for (size_t i = 0; i < n_draws; i++) {
            draws[c * n_draws + i] = x + shift * (double)c;
            x = phi * x + innovation * ps_rng_normal(&rng);
        }
    }
}

static bool same_or_both_nan(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static double rel_diff(double a, double b)
{
    if (isnan(a) && isnan(b))
        return 0.0;
    if (a == b)
        return 0.0;
    return fabs(a - b) / fmax(fabs(a), fabs(b));
}

static void summary_fields(const ps_diag_summary *s, double out[14])
{
    double f[14] = {s->mean,      s->sd,      s->q05,      s->q50,       s->q95,
                    s->mcse_mean, s->mcse_sd, s->ess_bulk, s->ess_tail,  s->ess_basic,
                    s->ess_mean,  s->ess_sd,  s->rhat,     s->rhat_basic};
    memcpy(out, f, sizeof f);
}

static const char *const summary_names[14] = {
    "mean",     "sd",       "q05",       "q50",      "q95",    "mcse_mean", "mcse_sd",
    "ess_bulk", "ess_tail", "ess_basic", "ess_mean", "ess_sd", "rhat",      "rhat_basic"};

/* Split R-hat, type-7 quantiles and the middle draw of odd chains, by hand. */
static void test_hand_rhat_and_quantiles(ps_diag_workspace *ws)
{
    /* Split chains [1,2] [3,4] [2,4] [6,8]: means 1.5, 3.5, 3, 7 (variance 65/12), variances
     * 0.5, 0.5, 2, 2 (mean 1.25), n = 2: R-hat^2 = (2 * 65/12 / 1.25 + 1) / 2 = 29/6. */
    const double even[8] = {1, 2, 3, 4, 2, 4, 6, 8};
    double want = sqrt(29.0 / 6.0);
    CHECK_CLOSE(ps_diag_rhat_basic(ws, even, 2, 4), want, 1e-14, "rhat_basic of 2x4 chains");
    /* posterior drops the middle draw of odd chains: a wild middle draw changes nothing. */
    const double odd[10] = {1, 2, 1000, 3, 4, 2, 4, -7, 6, 8};
    CHECK_CLOSE(ps_diag_rhat_basic(ws, odd, 2, 5), want, 1e-14,
                "rhat_basic of 2x5 chains with outlying middle draws");
    /* Too few draws for ESS (split chains of 2 < 3). */
    CHECK(isnan(ps_diag_ess_basic(ws, even, 2, 4)),
          "ess_basic of split chains of 2 draws is %g, "
          "expected NA",
          ps_diag_ess_basic(ws, even, 2, 4));

    /* Type 7: index = 1 + (n - 1) p between order statistics of 1, 2, 3, 4, 10. */
    const double q[5] = {4, 10, 1, 3, 2};
    CHECK_CLOSE(ps_diag_quantile(ws, q, 5, 0.05), 1.2, 1e-15, "q05 of 1,2,3,4,10");
    CHECK_CLOSE(ps_diag_quantile(ws, q, 5, 0.95), 8.8, 1e-15, "q95 of 1,2,3,4,10");
    CHECK_CLOSE(ps_diag_quantile(ws, q, 5, 0.3), 2.2, 1e-15, "q30 of 1,2,3,4,10");
    CHECK(ps_diag_quantile(ws, q, 5, 0.5) == 3.0, "median of 1,2,3,4,10 is %g, expected 3",
          ps_diag_quantile(ws, q, 5, 0.5));
    CHECK(ps_diag_quantile(ws, q, 5, 0.0) == 1.0 && ps_diag_quantile(ws, q, 5, 1.0) == 10.0,
          "q0 and q100 must be the minimum and maximum");
    CHECK(ps_diag_quantile(ws, q, 4, 0.5) == 3.5, "median of 4,10,1,3 is %g, expected 3.5",
          ps_diag_quantile(ws, q, 4, 0.5));
    CHECK(isnan(ps_diag_quantile(ws, q, 5, 1.5)) && isnan(ps_diag_quantile(ws, q, 5, NAN)) &&
              isnan(ps_diag_quantile(ws, q, 0, 0.5)),
          "quantile with prob outside [0,1] or no values must be NA");
    const double with_nan[3] = {1, NAN, 2};
    CHECK(isnan(ps_diag_quantile(ws, with_nan, 3, 0.5)), "quantile of values with NaN must be NA");

    /* Mean and sd of 1..6 in one chain: 3.5 and sqrt(3.5). */
    const double six[6] = {1, 2, 3, 4, 5, 6};
    ps_diag_summary s;
    CHECK(ps_diag_summarize(ws, six, 1, 6, &s) == PS_OK, "summary of 1..6");
    CHECK(s.mean == 3.5, "mean of 1..6 is %.17g, expected 3.5", s.mean);
    CHECK_CLOSE(s.sd, sqrt(3.5), 1e-15, "sd of 1..6");
    CHECK(s.q50 == 3.5, "median of 1..6 is %.17g, expected 3.5", s.q50);
}

/* The Geyer truncation and the ESS bounds, by hand. */
static void test_hand_ess(ps_diag_workspace *ws)
{
    /* Alternating +1, -1: every split chain (10 draws) has mean 0 and biased autocovariance
     * (-1)^t (10 - t)/10, so W = 10/9, var_plus = 1 and rho_1 = 1 - (10/9 + 9/10) < -1: the
     * first pair sum is negative, tau = -1 + rho_0 = 0, and the ESS is at its upper bound
     * S log10(S) with S = 40. Ranks keep the pattern (bulk); the 5% indicator x <= -1
     * alternates too, but the 95% indicator x <= 1 is constant, so tail ESS is NA. */
    double alt[40];
    for (size_t i = 0; i < 40; i++)
        alt[i] = (i % 2 == 0) ? 1.0 : -1.0;
    double bound = 40.0 * log10(40.0);
    CHECK_CLOSE(ps_diag_ess_basic(ws, alt, 2, 20), bound, 1e-13, "ess_basic of alternating chains");
    CHECK_CLOSE(ps_diag_ess_bulk(ws, alt, 2, 20), bound, 1e-13, "ess_bulk of alternating chains");
    double tail = ps_diag_ess_tail(ws, alt, 2, 20);
    CHECK(isnan(tail), "ess_tail of alternating +-1 is %g, expected NA (x <= q95 is constant)",
          tail);

    /* Two chains, constant 0 and constant 1, of 103 draws: split chains of 51 (the middle
     * draw left out) with means 0, 0, 1, 1 and no within-chain variance. W = 0, so
     * R-hat_basic = Inf; every rho_t = 1, and the positive-sequence loop runs while
     * t + 5 < 51, ending at T = 46, so tau = -1 + 2 * 46 + rho_46 = 92 and ESS = 204 / 92.
     * The median of all 206 draws is 0.5, so every folded draw is 0.5, a constant: the tail
     * R-hat, and with it the R-hat, is NA. */
    enum { SEP = 103 };
    double sep[2 * SEP];
    for (size_t i = 0; i < 2 * SEP; i++)
        sep[i] = i < SEP ? 0.0 : 1.0;
    double rb = ps_diag_rhat_basic(ws, sep, 2, SEP);
    CHECK(isinf(rb) && rb > 0, "rhat_basic of separated constant chains is %g, expected Inf", rb);
    CHECK_CLOSE(ps_diag_ess_basic(ws, sep, 2, SEP), 204.0 / 92.0, 1e-14,
                "ess_basic of separated constant chains");
    CHECK(isnan(ps_diag_rhat(ws, sep, 2, SEP)),
          "rhat of separated constant chains is %g, expected NA (folded draws are constant)",
          ps_diag_rhat(ws, sep, 2, SEP));
}

/* NA rules: constants, non-finite draws, too few draws, shapes beyond the workspace. */
static void test_na_rules(ps_diag_workspace *ws)
{
    double draws[4 * 50];
    for (size_t i = 0; i < 200; i++)
        draws[i] = 2.385;
    ps_diag_summary s;
    CHECK(ps_diag_summarize(ws, draws, 4, 50, &s) == PS_OK, "summary of a constant");
    double f[14];
    summary_fields(&s, f);
    for (int k = 0; k < 14; k++) {
        bool defined = k < 5; /* mean, sd, q05, q50, q95 */
        CHECK(defined ? !isnan(f[k]) : isnan(f[k]), "constant draws: %s is %g, expected %s",
              summary_names[k], f[k], defined ? "a value" : "NA");
    }
    CHECK(s.sd == 0.0 && s.mean == 2.385 && s.q05 == 2.385, "constant: mean %g sd %g q05 %g",
          s.mean, s.sd, s.q05);

    make_ar1(draws, 4, 50, 0.3, 0.0, 11);
    for (int which = 0; which < 3; which++) {
        double bad = which == 0 ? NAN : (which == 1 ? INFINITY : -INFINITY);
        double saved = draws[77];
        draws[77] = bad;
        CHECK(ps_diag_summarize(ws, draws, 4, 50, &s) == PS_OK, "summary with %g", bad);
        summary_fields(&s, f);
        for (int k = 5; k < 14; k++)
            CHECK(isnan(f[k]), "draw %g: %s is %g, expected NA", bad, summary_names[k], f[k]);
        CHECK(which == 0 ? isnan(s.q50) : isfinite(s.q50), "draw %g: median is %g", bad, s.q50);
        CHECK(isnan(ps_diag_rhat(ws, draws, 4, 50)) && isnan(ps_diag_ess_bulk(ws, draws, 4, 50)) &&
                  isnan(ps_diag_ess_tail(ws, draws, 4, 50)) &&
                  isnan(ps_diag_mcse_sd(ws, draws, 4, 50)) &&
                  isnan(ps_diag_nested_rhat(ws, draws, 4, 50, 2)),
              "single diagnostics with a %g draw must be NA", bad);
        draws[77] = saved;
    }

    /* R-hat needs split chains of 2 draws (n >= 4), ESS split chains of 3 (n >= 6). */
    for (size_t n = 1; n <= 7; n++) {
        double r = ps_diag_rhat(ws, draws, 2, n), rb = ps_diag_rhat_basic(ws, draws, 2, n);
        double e = ps_diag_ess_bulk(ws, draws, 2, n), eb = ps_diag_ess_basic(ws, draws, 2, n);
        CHECK((n >= 4) == !isnan(r) && (n >= 4) == !isnan(rb),
              "%zu draws: rhat %g rhat_basic %g, expected %s", n, r, rb, n >= 4 ? "values" : "NA");
        CHECK((n >= 6) == !isnan(e) && (n >= 6) == !isnan(eb),
              "%zu draws: ess_bulk %g ess_basic %g, expected %s", n, e, eb,
              n >= 6 ? "values" : "NA");
    }

    /* Shapes beyond the workspace: NAN, and an error from the summary. */
    CHECK(!ps_diag_workspace_fits(ws, MAX_CHAINS + 1, 10) &&
              !ps_diag_workspace_fits(ws, 1, MAX_DRAWS + 1) && !ps_diag_workspace_fits(ws, 0, 1) &&
              ps_diag_workspace_fits(ws, MAX_CHAINS, MAX_DRAWS),
          "ps_diag_workspace_fits");
    CHECK(isnan(ps_diag_rhat(ws, draws, 1, MAX_DRAWS + 1)) &&
              isnan(ps_diag_ess_bulk(ws, draws, MAX_CHAINS + 1, 2)) &&
              isnan(ps_diag_quantile(ws, draws, (size_t)MAX_CHAINS * MAX_DRAWS + 1, 0.5)) &&
              isnan(ps_diag_rhat(ws, draws, 0, 10)),
          "oversized or empty shapes must give NA");
    ps_error_clear();
    CHECK(ps_diag_summarize(ws, draws, MAX_CHAINS + 1, 10, &s) == PS_ERR_USAGE && isnan(s.mean),
          "oversized summary must fail with PS_ERR_USAGE");
    CHECK_STR_CONTAINS(ps_error_message(), "does not fit");
    ps_error_clear();
}

/* Ranks are invariant to monotone maps; folding to affine maps; chains are exchangeable. */
static void test_invariances(ps_diag_workspace *ws)
{
    enum { C = 4, N = 1000 };
    static double x[C * N], y[C * N];
    make_ar1(x, C, N, 0.6, 0.15, 2024);
    double bulk = ps_diag_ess_bulk(ws, x, C, N);
    double tail = ps_diag_ess_tail(ws, x, C, N);
    double rhat = ps_diag_rhat(ws, x, C, N);
    CHECK(bulk > 100 && bulk < 4000 * log10(4000.0), "ess_bulk %g out of range", bulk);

    /* Strictly increasing maps give the same ranks, hence bit-identical bulk ESS. */
    for (size_t i = 0; i < C * N; i++)
        y[i] = exp(x[i]);
    CHECK(ps_diag_ess_bulk(ws, y, C, N) == bulk, "ess_bulk(exp x) = %.17g, ess_bulk(x) = %.17g",
          ps_diag_ess_bulk(ws, y, C, N), bulk);
    CHECK(ps_diag_ess_tail(ws, y, C, N) == tail, "ess_tail(exp x) = %.17g, ess_tail(x) = %.17g",
          ps_diag_ess_tail(ws, y, C, N), tail);
    for (size_t i = 0; i < C * N; i++)
        y[i] = x[i] * x[i] * x[i];
    CHECK(ps_diag_ess_bulk(ws, y, C, N) == bulk, "ess_bulk(x^3) = %.17g, ess_bulk(x) = %.17g",
          ps_diag_ess_bulk(ws, y, C, N), bulk);
    /* A decreasing map mirrors the normal scores: equal up to rounding. */
    for (size_t i = 0; i < C * N; i++)
        y[i] = -x[i];
    CHECK(rel_diff(ps_diag_ess_bulk(ws, y, C, N), bulk) < 1e-12,
          "ess_bulk(-x) = %.17g, ess_bulk(x) = %.17g", ps_diag_ess_bulk(ws, y, C, N), bulk);
    /* Folding commutes with affine maps only, so R-hat (bulk and tail) is checked on those. */
    for (size_t i = 0; i < C * N; i++)
        y[i] = -2.5 * x[i] + 7.25;
    CHECK(rel_diff(ps_diag_rhat(ws, y, C, N), rhat) < 1e-12,
          "rhat(-2.5x+7.25) = %.17g, rhat(x) "
          "= %.17g",
          ps_diag_rhat(ws, y, C, N), rhat);
    CHECK(rel_diff(ps_diag_rhat_basic(ws, y, C, N), ps_diag_rhat_basic(ws, x, C, N)) < 1e-12,
          "rhat_basic is not affine invariant");

    /* Reordering the chains changes only the order of sums. */
    for (size_t c = 0; c < C; c++)
        memcpy(y + c * N, x + (C - 1 - c) * N, N * sizeof *x);
    ps_diag_summary a, b;
    ps_diag_summarize(ws, x, C, N, &a);
    ps_diag_summarize(ws, y, C, N, &b);
    double fa[14], fb[14];
    summary_fields(&a, fa);
    summary_fields(&b, fb);
    for (int k = 0; k < 14; k++)
        CHECK(rel_diff(fa[k], fb[k]) < 1e-12, "%s changes with chain order: %.17g vs %.17g",
              summary_names[k], fa[k], fb[k]);

    /* The single functions and the summary agree exactly. */
    double single[14] = {a.mean,
                         a.sd,
                         ps_diag_quantile(ws, x, C * N, 0.05),
                         ps_diag_quantile(ws, x, C * N, 0.5),
                         ps_diag_quantile(ws, x, C * N, 0.95),
                         ps_diag_mcse_mean(ws, x, C, N),
                         ps_diag_mcse_sd(ws, x, C, N),
                         bulk,
                         tail,
                         ps_diag_ess_basic(ws, x, C, N),
                         ps_diag_ess_mean(ws, x, C, N),
                         ps_diag_ess_sd(ws, x, C, N),
                         rhat,
                         ps_diag_rhat_basic(ws, x, C, N)};
    for (int k = 0; k < 14; k++)
        CHECK(same_or_both_nan(single[k], fa[k]), "%s: single function %.17g, summary %.17g",
              summary_names[k], single[k], fa[k]);

    /* The online-check triple agrees exactly with the single functions. */
    double cr, cb, ct;
    ps_diag_convergence(ws, x, C, N, &cr, &cb, &ct);
    CHECK(cr == rhat && cb == bulk && ct == tail,
          "ps_diag_convergence gives %.17g %.17g %.17g, single functions %.17g %.17g %.17g", cr, cb,
          ct, rhat, bulk, tail);
    ps_diag_convergence(ws, x, C, N, NULL, NULL, NULL);
}

/* Quantiles of a shuffled grid large enough for the radix sort: 0.5 (j - 501) is the j-th
 * smallest of 1000 values (with -0 among them), so the type-7 quantile at p is
 * 0.5 (1 + 999 p - 501). */
static void test_large_quantiles(ps_diag_workspace *ws)
{
    enum { N = 1000 };
    static double x[N];
    for (size_t j = 0; j < N; j++)
        x[j] = 0.5 * ((double)j - 500.0);
    x[500] = -0.0;
    ps_rng rng;
    ps_rng_init(&rng, 42, 0);
    for (size_t j = N - 1; j > 0; j--) {
        size_t k = (size_t)ps_rng_uniform_int(&rng, j + 1);
        double t = x[j];
        x[j] = x[k];
        x[k] = t;
    }
    const double probs[6] = {0.0, 0.05, 0.3333, 0.5, 0.95, 1.0};
    for (int i = 0; i < 6; i++) {
        double want = 0.5 * (1.0 + 999.0 * probs[i] - 501.0);
        CHECK_CLOSE(ps_diag_quantile(ws, x, N, probs[i]), want, 1e-13, "quantile of the grid");
    }
}

/* Split moments, autocovariances and their combination reproduce the whole-array results. */
static void test_building_blocks(ps_diag_workspace *ws)
{
    enum { C = 3, N = 601 };
    static double x[C * N];
    size_t per;
    size_t half = ps_diag_split_length(N, &per);
    CHECK(half == 300 && per == 2, "split length of 601 is %zu x %zu, expected 300 x 2", half, per);
    CHECK(ps_diag_split_length(1, &per) == 1 && per == 1, "one draw is not split");
    double means[2 * C], vars[2 * C], acov[300], rho[300];
    for (int pass = 0; pass < 2; pass++) {
        double phi = pass == 0 ? 0.0 : 0.97; /* direct and FFT paths inside ess_basic */
        make_ar1(x, C, N, phi, 0.0, 99 + (uint64_t)pass);
        ps_diag_split_moments(x, C, N, means, vars);
        double r = ps_diag_rhat_from_moments(means, vars, 2 * C, half);
        CHECK(r == ps_diag_rhat_basic(ws, x, C, N),
              "phi %g: rhat from moments %.17g, rhat_basic "
              "%.17g",
              phi, r, ps_diag_rhat_basic(ws, x, C, N));
        CHECK(ps_diag_split_autocov_sum(ws, x, C, N, means, acov), "autocov sum fits");
        /* Brute-force autocovariances of the split chains (the middle draw 300 left out). */
        double worst = 0.0;
        for (size_t t = 0; t < half; t += 7) {
            double sum = 0.0;
            for (size_t j = 0; j < 2 * C; j++) {
                const double *y = x + (j / 2) * N + (j % 2 == 0 ? 0 : N - half);
                double s = 0.0;
                for (size_t i = 0; i + t < half; i++)
                    s += (y[i] - means[j]) * (y[i + t] - means[j]);
                sum += s / (double)half;
            }
            double err = fabs(sum - acov[t]) / acov[0];
            if (err > worst)
                worst = err;
        }
        CHECK(worst < 1e-13, "phi %g: FFT autocovariances differ from direct sums by %g of lag 0",
              phi, worst);
        double e = ps_diag_ess_from_autocov(means, acov, 2 * C, half, rho);
        double eb = ps_diag_ess_basic(ws, x, C, N);
        CHECK(rel_diff(e, eb) < 1e-12, "phi %g: ESS from autocovariances %.17g, ess_basic %.17g",
              phi, e, eb);
        CHECK(phi == 0.0 ? eb > 1000 : eb < 200, "phi %g: ess_basic %g implausible", phi, eb);
    }
    CHECK(!ps_diag_split_autocov_sum(ws, x, MAX_CHAINS + 1, N, means, acov),
          "autocov sum beyond the workspace must refuse");
}

/* Nested R-hat against Definition 2.1 of Margossian et al. (2024), by hand. */
static void test_nested_rhat(ps_diag_workspace *ws)
{
    /* K = 2 superchains of M = 2 identical chains of 2 draws: B~_k = 0, W~_k = 2, so W = 2;
     * superchain means 1 and 2, B = 0.5: nested R-hat = sqrt(1 + 0.25). */
    const double same[8] = {0, 2, 0, 2, 1, 3, 1, 3};
    CHECK_CLOSE(ps_diag_nested_rhat(ws, same, 4, 2, 2), sqrt(1.25), 1e-15,
                "nested rhat, identical chains in each superchain");
    /* Chains differ inside superchains: means (1, 3 | 2, 6), so B~ = 2 and 8, W~ = 2 and 2,
     * W = (4 + 10) / 2 = 7; superchain means 2 and 4, B = 2: sqrt(1 + 2/7). */
    const double differ[8] = {0, 2, 2, 4, 1, 3, 5, 7};
    CHECK_CLOSE(ps_diag_nested_rhat(ws, differ, 4, 2, 2), sqrt(9.0 / 7.0), 1e-15,
                "nested rhat, distinct chains in each superchain");
    /* One draw per chain: W~ = 0 by definition; B~ = 2 and 8, W = 5, B = var(1, 3) = 2. */
    const double one_draw[4] = {0, 2, 1, 5};
    CHECK_CLOSE(ps_diag_nested_rhat(ws, one_draw, 4, 1, 2), sqrt(1.4), 1e-15,
                "nested rhat, chains of one draw");
    /* Identical superchains: B = 0, nested R-hat = 1 exactly. */
    const double twins[8] = {0.5, 2.25, -1, 3, 0.5, 2.25, -1, 3};
    CHECK(ps_diag_nested_rhat(ws, twins, 4, 2, 2) == 1.0,
          "identical superchains: %.17g, "
          "expected 1",
          ps_diag_nested_rhat(ws, twins, 4, 2, 2));

    /* One chain per superchain: B~_k = 0 and nested R-hat^2 = 1 + var(means) / W, while
     * split R-hat^2 = (n - 1)/n + var(means) / W over the same halves (footnote 1 of the
     * paper): treating the halves of K chains of 2n draws as 2K superchains of one chain,
     * nested^2 = rhat_basic^2 + 1/n. */
    enum { K = 4, N2 = 400 };
    static double x[K * N2];
    make_ar1(x, K, N2, 0.5, 0.2, 7);
    double rb = ps_diag_rhat_basic(ws, x, K, N2);
    double nr = ps_diag_nested_rhat(ws, x, 2 * K, N2 / 2, 2 * K);
    CHECK_CLOSE(nr * nr, rb * rb + 1.0 / (N2 / 2), 1e-13,
                "nested rhat^2 with one chain per superchain vs rhat_basic^2 + 1/n");
    CHECK(nr >= 1.0, "nested rhat %g below 1", nr);

    /* Scale and shift invariance. */
    static double y[K * N2];
    for (size_t i = 0; i < K * N2; i++)
        y[i] = 3.5 * x[i] - 1.0;
    CHECK(rel_diff(ps_diag_nested_rhat(ws, y, K, N2, 2), ps_diag_nested_rhat(ws, x, K, N2, 2)) <
              1e-12,
          "nested rhat is not affine invariant");

    /* NA cases: one superchain, superchains that do not divide the chains, constant draws,
     * W = 0 (one chain of one draw per superchain). */
    CHECK(isnan(ps_diag_nested_rhat(ws, x, K, N2, 1)), "one superchain must give NA");
    CHECK(isnan(ps_diag_nested_rhat(ws, x, K, N2, 3)), "4 chains in 3 superchains must give NA");
    const double flat[4] = {1, 1, 1, 1};
    CHECK(isnan(ps_diag_nested_rhat(ws, flat, 2, 2, 2)), "constant draws must give NA");
    CHECK(isnan(ps_diag_nested_rhat(ws, one_draw, 4, 1, 4)), "W = 0 must give NA");
}

/* No function allocates after the workspace exists; creation survives every failure. */
static void test_allocation(void)
{
    long made = -1;
    for (long k = 1; k < 100; k++) {
        ps_diag_workspace *ws = NULL;
        ps_fault_alloc_after(k);
        ps_status status = ps_diag_workspace_create(4, 100, &ws);
        ps_fault_alloc_after(0);
        if (status == PS_OK) {
            made = k;
            ps_diag_workspace_destroy(&ws);
            CHECK(ws == NULL, "destroy sets the handle to NULL");
            break;
        }
        CHECK(status == PS_ERR_MEM && ws == NULL,
              "allocation %ld failing: status %d, handle %p (expected PS_ERR_MEM, NULL)", k,
              (int)status, (void *)ws);
        ps_error_clear();
    }
    CHECK(made > 5, "workspace creation succeeded at allocation %ld, expected several before",
          made);

    ps_diag_workspace *ws = NULL;
    CHECK(ps_diag_workspace_create(0, 10, &ws) == PS_ERR_USAGE && ws == NULL,
          "zero chains must be refused");
    ps_error_clear();
    CHECK(ps_diag_workspace_create(SIZE_MAX / 2, SIZE_MAX / 2, &ws) == PS_ERR_MEM && ws == NULL,
          "overflowing sizes must be refused");
    ps_error_clear();
    ps_diag_workspace_destroy(&ws);
    ps_diag_workspace_destroy(NULL);

    static double x[4 * 1000];
    make_ar1(x, 4, 1000, 0.9, 0.0, 5);
    CHECK(ps_diag_workspace_create(4, 1000, &ws) == PS_OK, "workspace");
    long before = ps_fault_alloc_count();
    ps_diag_summary s;
    ps_diag_summarize(ws, x, 4, 1000, &s);
    (void)ps_diag_rhat(ws, x, 4, 1000);
    (void)ps_diag_ess_tail(ws, x, 4, 1000);
    (void)ps_diag_mcse_sd(ws, x, 4, 1000);
    (void)ps_diag_quantile(ws, x, 4000, 0.3);
    (void)ps_diag_nested_rhat(ws, x, 4, 1000, 2);
    long after = ps_fault_alloc_count();
    CHECK(after == before, "diagnostics allocated %ld times", after - before);
    ps_diag_workspace_destroy(&ws);
}

/* Separate workspaces in separate threads give the serial results. */
static void test_threads(void)
{
#ifdef _OPENMP
    enum { T = 4, C = 4, N = 500 };
    static double x[T][C * N];
    double serial[T], parallel[T];
    ps_diag_workspace *ws[T] = {NULL};
    for (int t = 0; t < T; t++) {
        make_ar1(x[t], C, N, 0.2 * t, 0.0, 300 + (uint64_t)t);
        ps_diag_workspace_create(C, N, &ws[t]);
        serial[t] = ws[t] != NULL ? ps_diag_ess_bulk(ws[t], x[t], C, N) : NAN;
    }
#pragma omp parallel for num_threads(2)
    for (int t = 0; t < T; t++) {
        double first = ps_diag_ess_bulk(ws[t], x[t], C, N);
        for (int rep = 0; rep < 4; rep++)
            if (ps_diag_ess_bulk(ws[t], x[t], C, N) != first)
                first = NAN;
        parallel[t] = first;
    }
    for (int t = 0; t < T; t++) {
        CHECK(parallel[t] == serial[t], "thread %d: ess_bulk %.17g, serial %.17g", t, parallel[t],
              serial[t]);
        ps_diag_workspace_destroy(&ws[t]);
    }
#endif
}

int main(void)
{
    ps_diag_workspace *ws = NULL;
    CHECK(ps_diag_workspace_create(MAX_CHAINS, MAX_DRAWS, &ws) == PS_OK, "workspace: %s",
          ps_error_message());
    if (ws == NULL)
        TEST_EXIT();
    test_hand_rhat_and_quantiles(ws);
    test_hand_ess(ws);
    test_na_rules(ws);
    test_invariances(ws);
    test_large_quantiles(ws);
    test_building_blocks(ws);
    test_nested_rhat(ws);
    ps_diag_workspace_destroy(&ws);
    test_allocation();
    test_threads();
    TEST_EXIT();
}
