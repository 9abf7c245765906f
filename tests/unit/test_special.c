/*
 * Special functions: values against closed forms, published values, and independent
 * computations in long double (continued fractions, series, exact identities), with the
 * tails where naive formulas lose every digit; and the vectorised exp kernel against
 * libm in ulps.
 */
#include <float.h>
#include <stdint.h>

#include "math/kernels.h"
#include "math/special.h"
#include "testlib.h"

#define CHECK_REL(got, want, rel, what)                                                            \
    CHECK(fabs((got) - (want)) <= (rel)*fabs(want) || (got) == (want),                             \
          "%s is %.17g, expected %.17g (rel. tol. %g)", (what), (double)(got), (double)(want),     \
          (double)(rel))

static const double EULER = 0.57721566490153286060651209008240243;

/* Phi(-x) for x >= 5 by Laplace's continued fraction of the Mills ratio, in long double:
 * Phi(-x) = phi(x) / (x + 1/(x + 2/(x + 3/(x + ...)))). */
static long double phi_lower_tail_cf(long double x)
{
    long double f = x;
    for (int k = 200; k >= 1; k--)
        f = x + (long double)k / f;
    return expl(-0.5L * x * x) / sqrtl(2.0L * 3.14159265358979323846264338327950288L) / f;
}

static void test_gamma_family(void)
{
    CHECK_REL(ps_lgamma(0.5), 0.5 * log(PS_PI), 1e-15, "lgamma(0.5) = log sqrt(pi)");
    CHECK_REL(ps_lgamma(1e-300), 690.77552789821370520539745, 1e-15, "lgamma(1e-300)");
    CHECK_REL(ps_lgamma(100.0), (double)lgammal(100.0L), 1e-15, "lgamma(100)");
    CHECK_REL(ps_digamma(1.0), -EULER, 1e-15, "digamma(1) = -gamma");
    CHECK_REL(ps_digamma(0.5), -EULER - 2.0 * log(2.0), 1e-15, "digamma(1/2)");
    /* psi(-1/2) = psi(3/2) + 2 + ... : psi(1/2) + 2 + 2 = psi(-1/2) + 1/(-1/2)... use the
     * recurrence psi(x + 1) = psi(x) + 1/x twice from 1/2. */
    CHECK_REL(ps_digamma(-0.5), -EULER - 2.0 * log(2.0) + 2.0, 1e-14, "digamma(-1/2)");
    CHECK_REL(ps_digamma(1e-8), -1e8 - EULER + 1.6449340668482264e-8, 1e-15, "digamma(1e-8)");
    /* psi(n) = H_{n-1} - gamma, summed in long double. */
    long double h = 0.0L;
    for (int k = 1; k < 1000; k++)
        h += 1.0L / k;
    CHECK_REL(ps_digamma(1000.0), (double)(h - EULER), 1e-15, "digamma(1000) = H_999 - gamma");
    CHECK(isnan(ps_digamma(0.0)) && isnan(ps_digamma(-3.0)), "digamma poles are NaN");
    CHECK_REL(ps_trigamma(1.0), PS_PI * PS_PI / 6.0, 1e-15, "trigamma(1) = pi^2/6");
    CHECK_REL(ps_trigamma(0.5), PS_PI * PS_PI / 2.0, 1e-15, "trigamma(1/2) = pi^2/2");
    /* trigamma(n) = pi^2/6 - sum_{k<n} 1/k^2. */
    long double s2 = 0.0L;
    for (int k = 1; k < 30; k++)
        s2 += 1.0L / ((long double)k * k);
    CHECK_REL(ps_trigamma(30.0), (double)(1.6449340668482264364724151666460252L - s2), 1e-13,
              "trigamma(30)");
    CHECK_REL(ps_trigamma(-0.5), PS_PI * PS_PI / 2.0 + 4.0, 1e-14, "trigamma(-1/2)");
    for (int n = 0; n < 2000; n += 7)
        CHECK_REL(ps_log_factorial(n), (double)lgammal((long double)n + 1.0L), 1e-15,
                  "log_factorial");
    CHECK(ps_log_factorial(0) == 0.0 && ps_log_factorial(1) == 0.0, "log 0! = log 1! = 0");
}

static void test_logistic_family(void)
{
    CHECK_REL(ps_log1p_exp(-40.0), 4.2483542552915889e-18, 1e-15, "log1p_exp(-40)");
    CHECK_REL(ps_log1p_exp(-700.0), exp(-700.0), 1e-15, "log1p_exp(-700)");
    CHECK(ps_log1p_exp(800.0) == 800.0, "log1p_exp(800) = 800 (no overflow)");
    CHECK_REL(ps_log1p_exp(0.0), log(2.0), 1e-16, "log1p_exp(0)");
    CHECK_REL(ps_log1p_exp(2.5), (double)log1pl(expl(2.5L)), 1e-15, "log1p_exp(2.5)");
    CHECK_REL(ps_log1m_exp(-1e-20), log(1e-20), 1e-15, "log1m_exp(-1e-20)");
    CHECK_REL(ps_log1m_exp(-50.0), -1.9287498479639178e-22, 1e-15, "log1m_exp(-50)");
    CHECK_REL(ps_log1m_exp(-0.5), (double)logl(1.0L - expl(-0.5L)), 1e-15, "log1m_exp(-0.5)");
    CHECK(ps_log1m_exp(0.0) == -INFINITY && isnan(ps_log1m_exp(0.1)), "log1m_exp(0), (0.1)");
    CHECK_REL(ps_log_sum_exp2(1000.0, 1000.0), 1000.0 + log(2.0), 1e-16, "lse(1000, 1000)");
    CHECK(ps_log_sum_exp2(-INFINITY, 3.0) == 3.0, "lse(-inf, 3)");
    CHECK_REL(ps_log_sum_exp2(-800.0, -801.0), -800.0 + log1p(exp(-1.0)), 1e-15, "lse small");
    CHECK_REL(ps_log_diff_exp(0.0, -1e-20), log(1e-20), 1e-15, "log_diff_exp near equal");
    CHECK(ps_log_diff_exp(5.0, 5.0) == -INFINITY && isnan(ps_log_diff_exp(1.0, 2.0)),
          "log_diff_exp(5,5) = -inf, (1,2) = NaN");
    double xs[3] = {-1000.0, -1001.0, -1002.0};
    CHECK_REL(ps_log_sum_exp_array(xs, 3), -1000.0 + log(1.0 + exp(-1.0) + exp(-2.0)), 1e-15,
              "log_sum_exp of very negative values");
    CHECK(ps_log_sum_exp_array(xs, 0) == -INFINITY, "log_sum_exp of nothing");
    CHECK_REL(ps_inv_logit(-700.0), exp(-700.0) / (1.0 + exp(-700.0)), 1e-15,
              "inv_logit(-700) keeps its digits");
    CHECK(ps_inv_logit(40.0) == 1.0 && ps_inv_logit(0.0) == 0.5, "inv_logit(40), (0)");
    CHECK_REL(ps_log_inv_logit(-800.0), -800.0, 1e-16, "log_inv_logit(-800)");
    CHECK_REL(ps_log_inv_logit(40.0), -4.2483542552915889e-18, 1e-15, "log_inv_logit(40)");
    CHECK_REL(ps_log1m_inv_logit(800.0), -800.0, 1e-16, "log1m_inv_logit(800)");
    CHECK_REL(ps_log1m_inv_logit(-40.0), -4.2483542552915889e-18, 1e-15, "log1m_inv_logit(-40)");
    CHECK(ps_logit(0.5) == 0.0, "logit(0.5)");
    CHECK_REL(ps_logit(1e-300), log(1e-300), 1e-15, "logit(1e-300)");
    CHECK_REL(ps_logit(0.25), -log(3.0), 1e-15, "logit(1/4) = -log 3");
    CHECK_REL(ps_log1m(1e-20), -1e-20, 1e-15, "log1m(1e-20)");
}

static void test_beta_family(void)
{
    CHECK_REL(ps_lbeta(1.0, 1e10), -log(1e10), 1e-15, "lbeta(1, 1e10) = -log 1e10");
    CHECK_REL(ps_lbeta(0.5, 0.5), log(PS_PI), 1e-15, "lbeta(1/2, 1/2) = log pi");
    /* B(3, y) = 2 / (y (y + 1) (y + 2)) exactly. */
    double y = 1e8;
    CHECK_REL(ps_lbeta(3.0, y), log(2.0) - (log(y) + log1p(y) + log(y + 2.0)), 1e-14,
              "lbeta(3, 1e8)");
    CHECK_REL(ps_lbeta(y, 3.0), ps_lbeta(3.0, y), 1e-16, "lbeta symmetric");
    long double a = 1e5L, b = 2.5e5L;
    CHECK_REL(ps_lbeta(1e5, 2.5e5), (double)(lgammal(a) + lgammal(b) - lgammal(a + b)), 1e-12,
              "lbeta(1e5, 2.5e5)");
    CHECK_REL(ps_lbeta(15.5, 20.25), (double)(lgammal(15.5L) + lgammal(20.25L) - lgammal(35.75L)),
              1e-14, "lbeta(15.5, 20.25)");
    CHECK_REL(ps_lbeta(7.0, 12.0), (double)(lgammal(7.0L) + lgammal(12.0L) - lgammal(19.0L)), 1e-14,
              "lbeta(7, 12)");
    CHECK(ps_lbeta(0.0, 2.0) == INFINITY && isnan(ps_lbeta(-1.0, 2.0)), "lbeta edges");
    CHECK_REL(ps_lchoose(10.0, 3.0), log(120.0), 1e-15, "lchoose(10, 3)");
    CHECK_REL(ps_lchoose(1e9, 2.0), log(1e9 * (1e9 - 1.0) / 2.0), 1e-15, "lchoose(1e9, 2)");
    CHECK(ps_lchoose(5.0, 0.0) == 0.0 || fabs(ps_lchoose(5.0, 0.0)) < 1e-15, "lchoose(5, 0)");
}

static void test_normal_family(void)
{
    CHECK(ps_Phi(0.0) == 0.5, "Phi(0)");
    CHECK_REL(ps_Phi(-1.0), 0.15865525393145705, 1e-15, "Phi(-1)");
    CHECK_REL(ps_Phi(1.5), 0.93319279873114191, 1e-15, "Phi(1.5)");
    for (double x = 5.0; x <= 37.5; x += 2.5) {
        double want = (double)phi_lower_tail_cf(x);
        char what[32];
        snprintf(what, sizeof what, "Phi(-%g)", x);
        CHECK_REL(ps_Phi(-x), want, 1e-13, what);
    }
    CHECK_REL(ps_Phi(-10.0), 7.6198530241605260e-24, 1e-14, "Phi(-10), published");
    CHECK(ps_Phi(9.0) == 1.0 || ps_Phi(9.0) > 1.0 - 1e-16, "Phi(9) rounds to 1");
    CHECK_REL(ps_inv_Phi(0.975), 1.959963984540054, 1e-15, "inv_Phi(0.975)");
    CHECK(ps_inv_Phi(0.5) == 0.0 || fabs(ps_inv_Phi(0.5)) < 1e-16, "inv_Phi(0.5)");
    /* Round trips, where p = Phi(x) still determines x to ~1e-12 (for x > 3 the rounding
     * of p near 1 alone moves x by more). */
    for (double x = -37.0; x <= 3.0; x += 0.37) {
        double p = ps_Phi(x), back = ps_inv_Phi(p);
        CHECK(fabs(back - x) <= 1e-12 * fmax(1.0, fabs(x)), "inv_Phi(Phi(%g)) = %.17g", x, back);
    }
    CHECK(ps_inv_Phi(0.0) == -INFINITY && ps_inv_Phi(1.0) == INFINITY && isnan(ps_inv_Phi(2.0)),
          "inv_Phi edges");
    for (double x = -4.0; x <= 4.0; x += 0.5)
        CHECK_REL(ps_Phi_approx(x), 1.0 / (1.0 + exp(-(0.07056 * x * x * x + 1.5976 * x))), 1e-15,
                  "Phi_approx");
    CHECK_REL(ps_std_normal_log_density(1.0), -0.5 - 0.5 * log(2.0 * PS_PI), 1e-15,
              "std normal log density");
}

static void test_mix_softmax(void)
{
    CHECK_REL(ps_log_mix(0.3, -1.0, 2.0), log(0.3 * exp(-1.0) + 0.7 * exp(2.0)), 1e-15, "log_mix");
    CHECK(ps_log_mix(1.0, -1.0, 2.0) == -1.0 && ps_log_mix(0.0, -1.0, 2.0) == 2.0,
          "log_mix at 0 and 1");
    CHECK(isnan(ps_log_mix(1.5, 0.0, 0.0)), "log_mix outside [0, 1]");
    CHECK_REL(ps_log_mix(0.5, -1000.0, -1000.0), -1000.0, 1e-15, "log_mix far in the tail");
    double x[4] = {1.0, 2.0, 3.0, 1000.0}, s[4], l[4];
    ps_softmax(x, 3, s);
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    CHECK_REL(s[0], exp(1.0) / z, 1e-15, "softmax[1]");
    CHECK_REL(s[2], exp(3.0) / z, 1e-15, "softmax[3]");
    ps_log_softmax(x, 4, l);
    CHECK(l[3] == 0.0 || fabs(l[3]) < 1e-300, "log_softmax of a dominant element is 0");
    CHECK_REL(l[0], -999.0, 1e-15, "log_softmax keeps tiny probabilities");
}

static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Distance in ulps between two finite doubles of the same sign. */
static double ulps(double a, double b)
{
    if (a == b)
        return 0.0;
    int64_t ia = (int64_t)bits(a), ib = (int64_t)bits(b);
    return fabs((double)(ia - ib));
}

static void test_kernels(void)
{
    enum { N = 20000 };
    static double x[N], y[N];
    uint64_t state = 12345;
    for (int i = 0; i < N; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(state >> 11) / 9007199254740992.0;
        x[i] = -745.0 + u * (709.7 + 745.0);
        if (i % 4 == 0)
            x[i] = -20.0 + 40.0 * u;
        if (i % 4 == 1)
            x[i] = -1e-3 + 2e-3 * u;
    }
    ps_kern_exp(N, x, y);
    double worst = 0.0, worst_sub = 0.0;
    for (int i = 0; i < N; i++) {
        double want = exp(x[i]);
        if (want < DBL_MIN)
            worst_sub = fmax(worst_sub, fabs(y[i] - want) / 4.9406564584124654e-324);
        else
            worst = fmax(worst, ulps(y[i], want));
    }
    CHECK(worst <= 2.0, "exp kernel: worst error %g ulps, expected <= 2", worst);
    CHECK(worst_sub <= 1.0, "exp kernel: subnormal results off by %g units", worst_sub);
    double sp[8] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 709.8, -745.2, 709.78};
    double out[8];
    ps_kern_exp(8, sp, out);
    CHECK(out[0] == 1.0 && out[1] == 1.0, "exp(+-0) = 1");
    CHECK(out[2] == INFINITY && out[3] == 0.0 && isnan(out[4]), "exp(inf), exp(-inf), exp(nan)");
    CHECK(out[5] == INFINITY && out[6] == 0.0, "exp overflow and underflow");
    CHECK(ulps(out[7], exp(709.78)) <= 2.0, "exp(709.78) = %.17g, libm %.17g", out[7], exp(709.78));
    double a[37], b[37], yy[37];
    for (int i = 0; i < 37; i++) {
        a[i] = 0.1 * i - 1.3;
        b[i] = 1.0 / (i + 1.5);
        yy[i] = 2.0;
    }
    long double dot = 0.0L;
    for (int i = 0; i < 37; i++)
        dot += (long double)a[i] * b[i];
    CHECK_REL(ps_kern_dot(37, a, b), (double)dot, 1e-14, "dot of 37");
    ps_kern_axpy(37, 0.5, a, yy);
    CHECK(yy[36] == 2.0 + 0.5 * a[36], "axpy");
}

/* The baseline and AVX2 variants of every kernel give bit-identical results. */
static void test_kernel_variants(void)
{
    enum { N = 1000, K = 7 };
    static double X[N * K], beta[K], eta[N], y[2][N], db[2][N], dp[2][N], dn[2][3][N], w[2 * N],
        g[2][K];
    static int yi[N];
    uint64_t state = 99;
    for (int i = 0; i < N * K; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        X[i] = (double)(state >> 11) / 9007199254740992.0 - 0.5;
    }
    for (int i = 0; i < N; i++) {
        eta[i] = 30.0 * X[i];
        yi[i] = X[i + N] > 0.0;
    }
    for (int k = 0; k < K; k++)
        beta[k] = X[k] * 3.0;
    double r[2][8], l[2] = {0.0, 0.0};
    int passes = 2;
    memset(dn, 0, sizeof dn);
    for (int pass = 0; pass < passes; pass++) {
        bool wide = ps_kern_force_baseline(pass == 1);
        if (!wide) {
            printf("SKIP: no wider kernel variant on this processor\n");
            passes = 1;
        }
        memset(g[pass], 0, sizeof g[pass]);
        ps_kern_exp(N, eta, y[pass]);
        r[pass][0] = ps_kern_dot(N - 3, X, X + N);
        r[pass][1] = ps_kern_sum(N - 1, X);
        ps_kern_gemv_n(N - 5, K, X, N, beta, y[pass]);
        ps_kern_gemv_t(N - 5, K, X, N, y[pass], g[pass]);
        double gb[K] = {0}, gp[K] = {0};
        r[pass][2] = ps_kern_glm(0, N - 2, K, X, N, eta, 1, beta, yi, db[pass], &l[pass], gb, w);
        r[pass][3] = ps_kern_glm(1, N - 1, K, X, N, X + 3 * N, 0, beta, yi, dp[pass], NULL, gp, w);
        r[pass][7] = gb[K - 1] + gp[0];
        r[pass][4] = ps_kern_normal_sq(N - 1, X, 1, X + N, 1, 1.7, dn[pass][0], NULL);
        r[pass][5] = ps_kern_normal_sq(N - 1, X, 0, X + N, 1, 1.7, NULL, dn[pass][1]);
        r[pass][6] = ps_kern_normal_sq(N - 1, X, 1, X + N, 0, 1.7, dn[pass][2], NULL);
    }
    ps_kern_force_baseline(false);
    if (passes == 2) {
        CHECK(memcmp(r[0], r[1], 8 * sizeof(double)) == 0 && l[0] == l[1],
              "kernel sums differ by variant");
        CHECK(memcmp(y[0], y[1], sizeof y[0]) == 0, "exp/gemv_n results differ by variant");
        CHECK(memcmp(g[0], g[1], sizeof g[0]) == 0, "gemv_t results differ by variant");
        CHECK(memcmp(db[0], db[1], sizeof db[0]) == 0 && memcmp(dp[0], dp[1], sizeof dp[0]) == 0 &&
                  memcmp(dn[0], dn[1], sizeof dn[0]) == 0,
              "kernel derivatives differ by variant");
    }
    /* The fused bernoulli GLM kernel against a direct computation (eta = alpha + X beta
     * with alpha = eta[i] per row). */
    double total = 0.0, worst = 0.0, dsum = 0.0;
    for (int i = 0; i < N - 2; i++) {
        double t = eta[i];
        for (int k = 0; k < K; k++)
            t += X[i + k * N] * beta[k];
        total += yi[i] * t - log1p(exp(t));
        double want = yi[i] - 1.0 / (1.0 + exp(-t));
        dsum += want;
        worst = fmax(worst, fabs(db[0][i] - want));
    }
    CHECK(worst <= 1e-15, "bernoulli GLM kernel derivative off by %g", worst);
    CHECK_REL(r[0][2], total, 1e-12, "bernoulli GLM kernel log likelihood");
    CHECK_REL(l[0], dsum, 1e-12, "bernoulli GLM kernel sum of derivatives");
}

/* The scan of the argument checks: every kind, lengths 0 to 13 (full four-lane blocks and
 * every tail), one special value at every position, in both variants, against the
 * definitions written out here. */
static bool check_passes(ps_kern_check kind, double v)
{
    bool is_nan = isnan(v), finite = isfinite(v);
    switch (kind) {
    case PS_KERN_FINITE:
        return finite;
    case PS_KERN_NOT_NAN:
        return !is_nan;
    case PS_KERN_POSITIVE:
        return !is_nan && v > 0.0;
    case PS_KERN_POSITIVE_FINITE:
        return finite && v > 0.0;
    case PS_KERN_NONNEGATIVE:
        return !is_nan && v >= 0.0;
    default:
        return !is_nan && v >= 0.0 && v <= 1.0;
    }
}

static void test_kernel_checks(void)
{
    const double special[] = {
        NAN,       -NAN,     INFINITY, -INFINITY, 0.0,  -0.0, 1.0, 1.0000000000000002,
        -4.9e-324, 4.9e-324, -2.385,   0.617,     1e308};
    const size_t n_special = sizeof special / sizeof special[0];
    for (int pass = 0; pass < 2; pass++) {
        bool wide = ps_kern_force_baseline(pass == 1);
        if (pass == 1 && !wide)
            break;
        for (int kind = PS_KERN_FINITE; kind <= PS_KERN_PROBABILITY; kind++) {
            for (size_t n = 0; n <= 13; n++) {
                double x[16];
                for (size_t i = 0; i < 16; i++)
                    x[i] = 0.25 + 0.0625 * (double)i; /* in (0, 1]: passes every check */
                CHECK(ps_kern_all_pass((ps_kern_check)kind, n, x),
                      "check %d, n %zu, variant %d: values in (0, 1] fail", kind, n, pass);
                for (size_t at = 0; at < n; at++) {
                    for (size_t s = 0; s < n_special; s++) {
                        double saved = x[at];
                        x[at] = special[s];
                        bool want = check_passes((ps_kern_check)kind, special[s]);
                        bool got = ps_kern_all_pass((ps_kern_check)kind, n, x);
                        CHECK(got == want,
                              "check %d, n %zu, variant %d: %g at %zu gives %d, expected %d", kind,
                              n, pass, special[s], at, got, want);
                        x[at] = saved;
                    }
                }
                /* A failing value just past the end is not read. */
                x[n] = NAN;
                CHECK(ps_kern_all_pass((ps_kern_check)kind, n, x),
                      "check %d, n %zu, variant %d: read past the end", kind, n, pass);
            }
        }
    }
    ps_kern_force_baseline(false);
}

int main(void)
{
    test_gamma_family();
    test_logistic_family();
    test_beta_family();
    test_normal_family();
    test_mix_softmax();
    test_kernels();
    test_kernel_variants();
    test_kernel_checks();
    TEST_EXIT();
}
