/*
 * The pieces of src/mcmc against hand-computable values: metric products, momentum and
 * proposal draws, metric repair; Welford updates and merges; dual averaging; Stan's
 * window schedule; the no-U-turn criterion.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "mcmc/mcmc_impl.h"
#include "testlib.h"

/* A char array as a pointer (CHECK_STR_CONTAINS tests its argument for NULL). */
static const char *text(const char *s)
{
    return s;
}

static void test_metric_products(void)
{
    ps_metric m;
    CHECK(ps_metric_init(&m, PS_METRIC_DIAG, 2) == PS_OK, "diag metric init failed");
    double a[2] = {2.5, 0.25}, p[2] = {1.2, -3.4}, ps[2];
    bool repaired = true;
    ps_metric_set(&m, a, &repaired, NULL, 0);
    CHECK(!repaired, "a valid diagonal metric was reported as repaired");
    ps_metric_dtau_dp(&m, p, ps);
    CHECK_CLOSE(ps[0], 3.0, 1e-15, "diag p_sharp[0]");
    CHECK_CLOSE(ps[1], -0.85, 1e-15, "diag p_sharp[1]");
    CHECK_CLOSE(ps_metric_kinetic(2, p, ps), 3.245, 1e-15, "diag kinetic energy");

    /* Momentum p_i = u_i / sqrt(a_i) and proposal scale * sqrt(a_i) u_i from the same
     * standard normals. */
    ps_rng r1, r2;
    ps_rng_init(&r1, 2385, 3);
    ps_rng_init(&r2, 2385, 3);
    double u0 = ps_rng_normal(&r2), u1 = ps_rng_normal(&r2);
    ps_metric_sample_momentum(&m, &r1, p);
    CHECK_CLOSE(p[0], u0 / sqrt(2.5), 1e-15, "diag momentum[0]");
    CHECK_CLOSE(p[1], u1 / sqrt(0.25), 1e-15, "diag momentum[1]");
    u0 = ps_rng_normal(&r2);
    u1 = ps_rng_normal(&r2);
    ps_metric_sample_proposal(&m, &r1, 0.7, p);
    CHECK_CLOSE(p[0], 0.7 * sqrt(2.5) * u0, 1e-15, "diag proposal[0]");
    CHECK_CLOSE(p[1], 0.7 * 0.5 * u1, 1e-15, "diag proposal[1]");
    ps_metric_fini(&m);

    /* Dense: A = [[2, 0.6], [0.6, 1.5]]; upper triangle deliberately wrong (ignored). */
    CHECK(ps_metric_init(&m, PS_METRIC_DENSE, 2) == PS_OK, "dense metric init failed");
    double dense[4] = {2.0, 0.6, 99.0, 1.5}; /* column-major: a00, a10, a01 (bad), a11 */
    ps_metric_set(&m, dense, &repaired, NULL, 0);
    CHECK(!repaired, "a valid dense metric was reported as repaired");
    CHECK(m.inv_metric[2] == 0.6, "dense metric not symmetrised from its lower triangle: %g",
          m.inv_metric[2]);
    double q[2] = {1.2, -3.4};
    ps_metric_dtau_dp(&m, q, ps);
    CHECK_CLOSE(ps[0], 0.36, 1e-14, "dense p_sharp[0]");
    CHECK_CLOSE(ps[1], -4.38, 1e-14, "dense p_sharp[1]");
    CHECK_CLOSE(ps_metric_kinetic(2, q, ps), 7.662, 1e-14, "dense kinetic energy");
    double l00 = sqrt(2.0), l10 = 0.6 / sqrt(2.0), l11 = sqrt(1.5 - 0.18);
    CHECK_CLOSE(m.chol[0], l00, 1e-15, "Cholesky L00");
    CHECK_CLOSE(m.chol[1], l10, 1e-15, "Cholesky L10");
    CHECK(m.chol[2] == 0.0, "Cholesky upper part is %g, expected 0", m.chol[2]);
    CHECK_CLOSE(m.chol[3], l11, 1e-15, "Cholesky L11");
    /* p = L^{-T} u: p1 = u1 / L11, p0 = (u0 - L10 p1) / L00. */
    u0 = ps_rng_normal(&r2);
    u1 = ps_rng_normal(&r2);
    ps_metric_sample_momentum(&m, &r1, p);
    double p1 = u1 / l11, p0 = (u0 - l10 * p1) / l00;
    CHECK_CLOSE(p[0], p0, 1e-14, "dense momentum[0]");
    CHECK_CLOSE(p[1], p1, 1e-14, "dense momentum[1]");
    /* delta = s L u. */
    u0 = ps_rng_normal(&r2);
    u1 = ps_rng_normal(&r2);
    ps_metric_sample_proposal(&m, &r1, 1.3, p);
    CHECK_CLOSE(p[0], 1.3 * l00 * u0, 1e-14, "dense proposal[0]");
    CHECK_CLOSE(p[1], 1.3 * (l10 * u0 + l11 * u1), 1e-14, "dense proposal[1]");
    ps_metric_fini(&m);

    /* Unit. */
    CHECK(ps_metric_init(&m, PS_METRIC_UNIT, 2) == PS_OK, "unit metric init failed");
    ps_metric_dtau_dp(&m, q, ps);
    CHECK(ps[0] == q[0] && ps[1] == q[1], "unit p_sharp differs from p");
    ps_metric_fini(&m);

    ps_metric_kind kind;
    CHECK(ps_metric_kind_parse("dense", &kind) == PS_OK && kind == PS_METRIC_DENSE,
          "'dense' not parsed");
    ps_error_clear();
    CHECK(ps_metric_kind_parse("blockdiag", &kind) == PS_ERR_CONFIG, "bad metric name accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "unit, diag, dense");
    ps_error_clear();
}

static void test_metric_repair(void)
{
    char warning[PS_CHAIN_WARNING_SIZE];
    bool repaired = false;
    ps_metric m;
    CHECK(ps_metric_init(&m, PS_METRIC_DIAG, 3) == PS_OK, "diag metric init failed");
    double prev[3] = {1.5, 2.5, 3.5};
    ps_metric_set(&m, prev, &repaired, warning, sizeof warning);
    double bad[3] = {NAN, -1.0, 4.0};
    ps_metric_set(&m, bad, &repaired, warning, sizeof warning);
    CHECK(repaired, "a diagonal metric with NaN and -1 was not repaired");
    CHECK(m.inv_metric[0] == 1.5 && m.inv_metric[1] == 2.5 && m.inv_metric[2] == 4.0,
          "repaired diagonal is (%g, %g, %g), expected (1.5, 2.5, 4)", m.inv_metric[0],
          m.inv_metric[1], m.inv_metric[2]);
    CHECK_STR_CONTAINS(text(warning), "2 non-finite or non-positive");
    ps_metric_fini(&m);

    CHECK(ps_metric_init(&m, PS_METRIC_DENSE, 2) == PS_OK, "dense metric init failed");
    /* Singular (positive semi-definite): a small jitter fixes it. */
    double singular[4] = {1.0, 1.0, 1.0, 1.0};
    ps_metric_set(&m, singular, &repaired, warning, sizeof warning);
    CHECK(repaired, "a singular dense metric was not repaired");
    CHECK_STR_CONTAINS(text(warning), "not positive definite; added");
    CHECK(m.inv_metric[0] > 1.0 && m.inv_metric[0] < 1.2 && m.inv_metric[1] == 1.0,
          "jittered metric is [%g, %g; ...], expected diag in (1, 1.2) and off-diagonal 1",
          m.inv_metric[0], m.inv_metric[1]);
    /* L L^T reproduces the installed matrix. */
    double llt00 = m.chol[0] * m.chol[0], llt10 = m.chol[1] * m.chol[0];
    double llt11 = m.chol[1] * m.chol[1] + m.chol[3] * m.chol[3];
    CHECK_CLOSE(llt00, m.inv_metric[0], 1e-12, "jittered (L L^T)00");
    CHECK_CLOSE(llt10, m.inv_metric[1], 1e-12, "jittered (L L^T)10");
    CHECK_CLOSE(llt11, m.inv_metric[3], 1e-9, "jittered (L L^T)11");

    /* Indefinite beyond any jitter up to 10% of the diagonal (eigenvalues -2 and 4): only
     * the diagonal is kept. */
    double indefinite[4] = {1.0, 3.0, 3.0, 2.0};
    ps_metric_set(&m, indefinite, &repaired, warning, sizeof warning);
    CHECK(repaired, "an indefinite dense metric was not repaired");
    CHECK_STR_CONTAINS(text(warning), "only its diagonal is used");
    CHECK(m.inv_metric[0] == 1.0 && m.inv_metric[1] == 0.0 && m.inv_metric[2] == 0.0 &&
              m.inv_metric[3] == 2.0,
          "diagonal fallback is [%g %g; %g %g], expected [1 0; 0 2]", m.inv_metric[0],
          m.inv_metric[2], m.inv_metric[1], m.inv_metric[3]);
    CHECK_CLOSE(m.chol[3], sqrt(2.0), 1e-15, "fallback Cholesky L11");

    /* Non-finite: the previous metric is kept. */
    double nonfinite[4] = {INFINITY, 0.0, 0.0, 1.0};
    ps_metric_set(&m, nonfinite, &repaired, warning, sizeof warning);
    CHECK(repaired, "a non-finite dense metric was not repaired");
    CHECK_STR_CONTAINS(text(warning), "non-finite elements; the previous metric is kept");
    CHECK(m.inv_metric[0] == 1.0 && m.inv_metric[3] == 2.0,
          "previous metric not kept: diag (%g, %g)", m.inv_metric[0], m.inv_metric[3]);
    ps_metric_fini(&m);
}

/* Two-pass reference in long double. */
static void reference_moments(size_t n, size_t dim, const double *x, double *mean, double *cov)
{
    for (size_t j = 0; j < dim; j++) {
        long double s = 0;
        for (size_t k = 0; k < n; k++)
            s += x[k * dim + j];
        mean[j] = (double)(s / (long double)n);
    }
    for (size_t i = 0; i < dim; i++)
        for (size_t j = 0; j < dim; j++) {
            long double s = 0;
            for (size_t k = 0; k < n; k++)
                s += ((long double)x[k * dim + i] - mean[i]) *
                     ((long double)x[k * dim + j] - mean[j]);
            cov[j * dim + i] = (double)(s / (long double)(n - 1));
        }
}

static void test_welford(void)
{
    enum { N = 50, D = 3 };
    double x[N * D];
    ps_rng rng;
    ps_rng_init(&rng, 77, 0);
    for (size_t k = 0; k < N; k++) {
        double z0 = ps_rng_normal(&rng), z1 = ps_rng_normal(&rng), z2 = ps_rng_normal(&rng);
        x[k * D + 0] = 1000.0 + 2.385 * z0;
        x[k * D + 1] = -3.0 + 0.5 * z0 + 0.1 * z1;
        x[k * D + 2] = 1e-3 * z2;
    }
    double mean[D], cov[D * D], out[D * D];
    reference_moments(N, D, x, mean, cov);

    for (int dense = 0; dense <= 1; dense++) {
        ps_welford all, a, b, ab, ba, empty;
        CHECK(ps_welford_init(&all, D, dense) == PS_OK && ps_welford_init(&a, D, dense) == PS_OK &&
                  ps_welford_init(&b, D, dense) == PS_OK &&
                  ps_welford_init(&ab, D, dense) == PS_OK &&
                  ps_welford_init(&ba, D, dense) == PS_OK &&
                  ps_welford_init(&empty, D, dense) == PS_OK,
              "welford init failed");
        for (size_t k = 0; k < N; k++) {
            ps_welford_add(&all, x + k * D);
            ps_welford_add(k < 17 ? &a : &b, x + k * D);
        }
        CHECK(all.n == N, "count is %llu, expected %d", (unsigned long long)all.n, N);
        CHECK(ps_welford_covariance(&all, out), "covariance refused with %d points", N);
        for (size_t j = 0; j < D; j++) {
            CHECK_CLOSE(all.mean[j], mean[j], 1e-13, "Welford mean");
            for (size_t i = 0; i < D; i++) {
                if (!dense && i != j)
                    continue;
                double got = dense ? out[j * D + i] : out[j];
                double want = cov[j * D + i];
                CHECK(fabs(got - want) <= 1e-11 * sqrt(cov[i * D + i] * cov[j * D + j]),
                      "%s covariance[%zu,%zu] is %.17g, expected %.17g", dense ? "dense" : "diag",
                      i, j, got, want);
            }
        }
        /* Merge A then B, and B then A, equal the whole to rounding. */
        ps_welford_merge(&ab, &a);
        ps_welford_merge(&ab, &b);
        ps_welford_merge(&ba, &b);
        ps_welford_merge(&ba, &a);
        size_t m2n = dense ? D * D : D;
        CHECK(ab.n == N && ba.n == N, "merged counts %llu, %llu, expected %d",
              (unsigned long long)ab.n, (unsigned long long)ba.n, N);
        for (size_t j = 0; j < D; j++) {
            CHECK_CLOSE(ab.mean[j], all.mean[j], 1e-14, "merged mean (A+B)");
            CHECK_CLOSE(ba.mean[j], all.mean[j], 1e-14, "merged mean (B+A)");
        }
        for (size_t k = 0; k < m2n; k++) {
            if (dense && (k % D) < (k / D))
                continue; /* upper triangle is not kept */
            double scale = fabs(all.m2[k]) + 1e-300;
            double tol =
                1e-12 *
                (dense ? sqrt(all.m2[(k / D) * D + k / D] * all.m2[(k % D) * D + k % D]) : scale);
            CHECK(fabs(ab.m2[k] - all.m2[k]) <= tol,
                  "merged m2[%zu] (A+B) is %.17g, expected %.17g", k, ab.m2[k], all.m2[k]);
            CHECK(fabs(ba.m2[k] - all.m2[k]) <= tol,
                  "merged m2[%zu] (B+A) is %.17g, expected %.17g", k, ba.m2[k], all.m2[k]);
        }
        /* Merging into an empty accumulator copies exactly; an empty source changes nothing. */
        ps_welford_merge(&empty, &a);
        CHECK(empty.n == a.n && memcmp(empty.mean, a.mean, D * sizeof(double)) == 0 &&
                  memcmp(empty.m2, a.m2, m2n * sizeof(double)) == 0,
              "merge into an empty accumulator is not an exact copy");
        ps_welford_reset(&b);
        ps_welford_merge(&empty, &b);
        CHECK(empty.n == a.n && memcmp(empty.mean, a.mean, D * sizeof(double)) == 0,
              "merging an empty accumulator changed the destination");
        /* Pack and unpack round trip exactly. */
        double packed[1 + D + D * D];
        CHECK(ps_welford_packed_size(D, dense) == 1 + D + m2n, "packed size is %zu",
              ps_welford_packed_size(D, dense));
        ps_welford_pack(&all, packed);
        ps_welford_reset(&ab);
        CHECK(ps_welford_unpack(&ab, packed) == PS_OK, "unpack failed");
        CHECK(ab.n == all.n && memcmp(ab.mean, all.mean, D * sizeof(double)) == 0 &&
                  memcmp(ab.m2, all.m2, m2n * sizeof(double)) == 0,
              "pack/unpack is not exact");
        packed[0] = -2.0;
        ps_error_clear();
        CHECK(ps_welford_unpack(&ab, packed) == PS_ERR_DATA, "negative packed count accepted");
        ps_error_clear();
        ps_welford_fini(&all);
        ps_welford_fini(&a);
        ps_welford_fini(&b);
        ps_welford_fini(&ab);
        ps_welford_fini(&ba);
        ps_welford_fini(&empty);
    }

    /* Regularised metric by hand: points (1, 0), (2, 1), (4, 5): var x = 7/3, var y = 7,
     * cov = 4; n = 3: w = 3/8, shrink = 1e-3 * 5/8. */
    ps_welford acc;
    CHECK(ps_welford_init(&acc, 2, true) == PS_OK, "welford init failed");
    double pts[3][2] = {{1, 0}, {2, 1}, {4, 5}};
    double metric[4];
    ps_welford_add(&acc, pts[0]);
    CHECK(!ps_welford_regularized_metric(&acc, metric), "metric from one point accepted");
    ps_welford_add(&acc, pts[1]);
    ps_welford_add(&acc, pts[2]);
    CHECK(ps_welford_regularized_metric(&acc, metric), "metric from three points refused");
    CHECK_CLOSE(metric[0], 0.875625, 1e-14, "regularised dense [0,0]");
    CHECK_CLOSE(metric[1], 1.5, 1e-14, "regularised dense [1,0]");
    CHECK_CLOSE(metric[2], 1.5, 1e-14, "regularised dense [0,1]");
    CHECK_CLOSE(metric[3], 2.625625, 1e-14, "regularised dense [1,1]");
    ps_welford_fini(&acc);
    CHECK(ps_welford_init(&acc, 2, false) == PS_OK, "welford init failed");
    for (int k = 0; k < 3; k++)
        ps_welford_add(&acc, pts[k]);
    CHECK(ps_welford_regularized_metric(&acc, metric), "diag metric refused");
    CHECK_CLOSE(metric[0], 0.875625, 1e-14, "regularised diag [0]");
    CHECK_CLOSE(metric[1], 2.625625, 1e-14, "regularised diag [1]");
    ps_welford_fini(&acc);
}

static void test_dual_averaging(void)
{
    ps_dual_averaging da;
    ps_dual_averaging_init(&da, 0.8, 0.05, 10.0, 0.75);
    ps_dual_averaging_set_mu(&da, 0.5); /* mu = log 5 */
    /* Values computed by hand from Hoffman and Gelman (2014), Alg. 6. */
    double eps1 = ps_dual_averaging_learn(&da, 1.0);
    CHECK_CLOSE(eps1, 7.1927550478883875, 1e-13, "dual averaging step 1");
    double eps2 = ps_dual_averaging_learn(&da, 0.5);
    CHECK_CLOSE(eps2, 3.95007928964173, 1e-13, "dual averaging step 2");
    CHECK_CLOSE(ps_dual_averaging_final(&da), 5.036469789514348, 1e-13, "exp(x_bar) after 2");

    /* A longer sequence against the closed form H_t = sum_i (delta - min(1, a_i)) / (t + t0). */
    const double accept[8] = {1.0, 0.5, 0.9, 1.7, 0.0, 0.8, 0.95, 0.3};
    ps_dual_averaging_restart(&da);
    CHECK(da.counter == 0.0 && da.s_bar == 0.0 && da.x_bar == 0.0, "restart did not reset");
    CHECK_CLOSE(da.mu, log(5.0), 1e-15, "restart changed mu");
    double sum = 0.0, x_bar = 0.0, mu = log(5.0);
    for (int t = 1; t <= 8; t++) {
        double a = accept[t - 1] > 1.0 ? 1.0 : accept[t - 1];
        sum += 0.8 - a;
        double h = sum / (t + 10.0);
        double x = mu - sqrt((double)t) / 0.05 * h;
        double w = pow((double)t, -0.75);
        x_bar = w * x + (1.0 - w) * x_bar;
        double eps = ps_dual_averaging_learn(&da, accept[t - 1]);
        CHECK_CLOSE(eps, exp(x), 1e-12, "dual averaging step size");
        CHECK_CLOSE(da.x_bar, x_bar, 1e-12, "dual averaging x_bar");
    }
    CHECK_CLOSE(ps_dual_averaging_final(&da), exp(x_bar), 1e-12, "final step size exp(x_bar)");
}

/* Runs a schedule and compares the window ends and the span of in-window iterations. */
static void check_schedule(int64_t warmup, const int64_t *ends, int n_ends, int64_t first,
                           int64_t last, const char *warning_part)
{
    ps_window_schedule ws;
    char warning[PS_CHAIN_WARNING_SIZE];
    ps_window_schedule_init(&ws, warmup, 75, 50, 25, warning, sizeof warning);
    int64_t got_ends[32];
    int n_got = 0;
    int64_t got_first = -1, got_last = -1, in_count = 0;
    for (int64_t it = 0; it < warmup; it++) {
        if (ps_window_schedule_in_window(&ws)) {
            if (got_first < 0)
                got_first = it;
            got_last = it;
            in_count++;
        }
        if (ps_window_schedule_window_end(&ws) && n_got < 32)
            got_ends[n_got++] = it;
        ps_window_schedule_advance(&ws);
    }
    CHECK(n_got == n_ends, "warmup %lld: %d window ends, expected %d", (long long)warmup, n_got,
          n_ends);
    for (int k = 0; k < n_got && k < n_ends; k++)
        CHECK(got_ends[k] == ends[k], "warmup %lld: window %d ends at %lld, expected %lld",
              (long long)warmup, k, (long long)got_ends[k], (long long)ends[k]);
    CHECK(got_first == first && got_last == last,
          "warmup %lld: windows span %lld..%lld, expected %lld..%lld", (long long)warmup,
          (long long)got_first, (long long)got_last, (long long)first, (long long)last);
    if (first >= 0)
        CHECK(in_count == last - first + 1,
              "warmup %lld: %lld iterations in windows, expected %lld", (long long)warmup,
              (long long)in_count, (long long)(last - first + 1));
    if (warning_part)
        CHECK_STR_CONTAINS(text(warning), warning_part);
    else
        CHECK(warning[0] == '\0', "warmup %lld: unexpected warning '%s'", (long long)warmup,
              warning);
}

static void test_windows(void)
{
    /* Derived by hand from Stan's rules (init 75, term 50, base 25; windows double; the last
     * one stretches to the term buffer when the next doubled one would not fit). */
    const int64_t e1000[] = {99, 149, 249, 449, 949};
    check_schedule(1000, e1000, 5, 75, 949, NULL);
    const int64_t e250[] = {99, 199}; /* 100..149 would leave 150..199 < 100 */
    check_schedule(250, e250, 2, 75, 199, NULL);
    const int64_t e200[] = {99, 149};
    check_schedule(200, e200, 2, 75, 149, NULL);
    /* 150 = 75 + 25 + 50 fits exactly: one window 75..99, term buffer 100..149. */
    const int64_t e150[] = {99};
    check_schedule(150, e150, 1, 75, 99, NULL);
    /* 15%/75%/10%: 120 -> 18 / 90 / 12; 100 -> 15 / 75 / 10; 30 -> 4 / 23 / 3;
     * 20 -> 3 / 15 / 2. */
    const int64_t e120[] = {107};
    check_schedule(120, e120, 1, 18, 107, "init buffer 18, window 90, term buffer 12");
    const int64_t e100[] = {89};
    check_schedule(100, e100, 1, 15, 89, "init buffer 15, window 75, term buffer 10");
    const int64_t e30[] = {26};
    check_schedule(30, e30, 1, 4, 26, "init buffer 4, window 23, term buffer 3");
    const int64_t e20[] = {17};
    check_schedule(20, e20, 1, 3, 17, "15%/75%/10%");
    check_schedule(19, NULL, 0, -1, -1, "warmup < 20");
    check_schedule(0, NULL, 0, -1, -1, NULL);
}

static void test_criterion(void)
{
    /* One-dimensional subtrees of two leaves each, A = (p1, p2), B = (p3, p4), unit metric
     * (p_sharp = p): rho_a = p1 + p2, p_a_in = p2, p_b_in = p3. */
    double rho[1];
#define CRIT(p1, p2, p3, p4)                                                                       \
    ps_nuts_merge_criterion(1, (double[]){(p1) + (p2)}, (double[]){(p3) + (p4)}, (double[]){p2},   \
                            (double[]){p1}, (double[]){p2}, (double[]){p3}, (double[]){p3},        \
                            (double[]){p4}, rho)
    rho[0] = 0.0;
    rho[0] = 10.0;
    CHECK(CRIT(1.0, 1.0, 1.0, 1.0), "straight trajectory reported as a U-turn");
    CHECK(rho[0] == 4.0, "rho is %g, expected 4 (the merged sum, not added to 10)", rho[0]);
    /* Merged check passes (rho = 1: 1 * 1 > 0 and 2 * 1 > 0), but across the subtrees
     * rho_a + p3 = -1 gives p1 * -1 < 0: only the first extra check stops it. */
    CHECK(!CRIT(1.0, 1.0, -3.0, 2.0), "U-turn between subtrees (left) missed");
    /* Merged (rho = 1.5) and left (rho_a + p3 = 0.5) pass; rho_b + p2 = -0.5 gives
     * p4 * -0.5 < 0: only the second extra check stops it. */
    CHECK(!CRIT(2.0, -3.0, 1.5, 1.0), "U-turn between subtrees (right) missed");
    /* The merged check alone: rho = -1 against p1 = 1. */
    CHECK(!CRIT(1.0, 0.0, -2.0, 0.0), "U-turn across the merged tree missed");
#undef CRIT
    /* With a metric, the check uses p_sharp, not p: p = (1, 1) on both ends and rho = (1, 1)
     * but p_sharp = (1, -3) makes p_sharp . rho < 0. */
    double r2[2];
    bool ok = ps_nuts_merge_criterion(2, (double[]){0.5, 0.5}, (double[]){0.5, 0.5},
                                      (double[]){1, 1}, (double[]){1, -3}, (double[]){1, 1},
                                      (double[]){1, 1}, (double[]){1, 1}, (double[]){1, 1}, r2);
    CHECK(!ok, "criterion ignored p_sharp");
}

int main(void)
{
    test_metric_products();
    test_metric_repair();
    test_welford();
    test_dual_averaging();
    test_windows();
    test_criterion();
    TEST_EXIT();
}
