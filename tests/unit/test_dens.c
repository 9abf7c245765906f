/*
 * Log densities: values against independent long-double formulas, gradients with respect
 * to every argument against finite differences in every broadcasting form, propto
 * dropping exactly Stan's terms, domain errors; multivariate normals against an explicit
 * inverse; GLMs against the same model written with generic primitives.
 */
#include <stdbool.h>

#include "ad_check.h"
#include "math/dens.h"
#include "math/special.h"

#define TOL 1e-6
#define N 4
#define LPI 3.14159265358979323846264338327950288L

/* ---------------------------------------------------------------------------------------
 * Univariate densities: a table of cases
 * ------------------------------------------------------------------------------------- */

typedef ps_status (*dens_call)(ps_ad_tape *tape, const ps_adi *ints, const ps_adv *a, bool propto,
                               ps_adv *out);
typedef long double (*dens_ref)(const double *a, const int *k);

typedef struct dens_case {
    const char *name;
    int nreal;
    double lo[4], hi[4];
    int nint;
    dens_call call;
    dens_ref ref;
} dens_case;

static const int ints_n[N] = {0, 3, 1, 7};
static const int ints_N[N] = {2, 5, 1, 9};
static const int ints_bin[N] = {1, 0, 0, 1};

#define CALL(fn, ...)                                                                              \
    static ps_status call_##fn(ps_ad_tape *t, const ps_adi *k, const ps_adv *a, bool propto,       \
                               ps_adv *out)                                                        \
    {                                                                                              \
        (void)k;                                                                                   \
        (void)a;                                                                                   \
        return ps_ad_##fn(t, __VA_ARGS__, propto, out);                                            \
    }

CALL(normal_lpdf, a[0], a[1], a[2])
CALL(std_normal_lpdf, a[0])
CALL(cauchy_lpdf, a[0], a[1], a[2])
CALL(student_t_lpdf, a[0], a[1], a[2], a[3])
CALL(lognormal_lpdf, a[0], a[1], a[2])
CALL(gamma_lpdf, a[0], a[1], a[2])
CALL(inv_gamma_lpdf, a[0], a[1], a[2])
CALL(exponential_lpdf, a[0], a[1])
CALL(beta_lpdf, a[0], a[1], a[2])
CALL(uniform_lpdf, a[0], a[1], a[2])
CALL(bernoulli_lpmf, k[2], a[0])
CALL(bernoulli_logit_lpmf, k[2], a[0])
CALL(binomial_lpmf, k[0], k[1], a[0])
CALL(binomial_logit_lpmf, k[0], k[1], a[0])
CALL(poisson_lpmf, k[0], a[0])
CALL(poisson_log_lpmf, k[0], a[0])
CALL(neg_binomial_2_lpmf, k[0], a[0], a[1])

/* Reference formulas, written from the textbook densities in long double. */
static long double lg(long double x)
{
    return lgammal(x);
}

static long double r_normal(const double *a, const int *k)
{
    (void)k;
    long double z = ((long double)a[0] - a[1]) / a[2];
    return -0.5L * z * z - logl(a[2]) - 0.5L * logl(2.0L * LPI);
}

static long double r_std_normal(const double *a, const int *k)
{
    (void)k;
    return -0.5L * (long double)a[0] * a[0] - 0.5L * logl(2.0L * LPI);
}

static long double r_cauchy(const double *a, const int *k)
{
    (void)k;
    long double z = ((long double)a[0] - a[1]) / a[2];
    return -logl(LPI * a[2] * (1.0L + z * z));
}

static long double r_student_t(const double *a, const int *k)
{
    (void)k;
    long double nu = a[1], z = ((long double)a[0] - a[2]) / a[3];
    return lg((nu + 1) / 2) - lg(nu / 2) - 0.5L * logl(nu * LPI) - logl(a[3]) -
           (nu + 1) / 2 * logl(1.0L + z * z / nu);
}

static long double r_lognormal(const double *a, const int *k)
{
    (void)k;
    long double z = (logl(a[0]) - a[1]) / a[2];
    return -0.5L * z * z - logl(a[2] * a[0]) - 0.5L * logl(2.0L * LPI);
}

static long double r_gamma(const double *a, const int *k)
{
    (void)k;
    long double y = a[0], al = a[1], b = a[2];
    return al * logl(b) - lg(al) + (al - 1) * logl(y) - b * y;
}

static long double r_inv_gamma(const double *a, const int *k)
{
    (void)k;
    long double y = a[0], al = a[1], b = a[2];
    return al * logl(b) - lg(al) - (al + 1) * logl(y) - b / y;
}

static long double r_exponential(const double *a, const int *k)
{
    (void)k;
    return logl(a[1]) - (long double)a[1] * a[0];
}

static long double r_beta(const double *a, const int *k)
{
    (void)k;
    long double y = a[0], p = a[1], q = a[2];
    return lg(p + q) - lg(p) - lg(q) + (p - 1) * logl(y) + (q - 1) * logl(1 - y);
}

static long double r_uniform(const double *a, const int *k)
{
    (void)k;
    return -logl((long double)a[2] - a[1]);
}

static long double r_bernoulli(const double *a, const int *k)
{
    return k[2] ? logl(a[0]) : logl(1.0L - a[0]);
}

static long double r_bernoulli_logit(const double *a, const int *k)
{
    long double p = 1.0L / (1.0L + expl(-(long double)a[0]));
    return k[2] ? logl(p) : logl(1.0L - p);
}

static long double r_binomial_p(long double p, const int *k)
{
    long double n = k[0], m = k[1];
    return lg(m + 1) - lg(n + 1) - lg(m - n + 1) + n * logl(p) + (m - n) * logl(1 - p);
}

static long double r_binomial(const double *a, const int *k)
{
    return r_binomial_p(a[0], k);
}

static long double r_binomial_logit(const double *a, const int *k)
{
    return r_binomial_p(1.0L / (1.0L + expl(-(long double)a[0])), k);
}

static long double r_poisson(const double *a, const int *k)
{
    return k[0] * logl(a[0]) - a[0] - lg(k[0] + 1.0L);
}

static long double r_poisson_log(const double *a, const int *k)
{
    return k[0] * (long double)a[0] - expl(a[0]) - lg(k[0] + 1.0L);
}

static long double r_neg_binomial_2(const double *a, const int *k)
{
    long double n = k[0], mu = a[0], phi = a[1];
    return lg(n + phi) - lg(n + 1) - lg(phi) + n * logl(mu / (mu + phi)) +
           phi * logl(phi / (mu + phi));
}

static const dens_case cases[] = {
    {"normal", 3, {-2, -1, 0.5}, {2, 1, 2}, 0, call_normal_lpdf, r_normal},
    {"std_normal", 1, {-2}, {2}, 0, call_std_normal_lpdf, r_std_normal},
    {"cauchy", 3, {-2, -1, 0.5}, {2, 1, 2}, 0, call_cauchy_lpdf, r_cauchy},
    {"student_t", 4, {-2, 1.5, -1, 0.5}, {2, 6, 1, 2}, 0, call_student_t_lpdf, r_student_t},
    {"lognormal", 3, {0.3, -1, 0.5}, {3, 1, 2}, 0, call_lognormal_lpdf, r_lognormal},
    {"gamma", 3, {0.3, 0.7, 0.5}, {3, 3, 2}, 0, call_gamma_lpdf, r_gamma},
    {"inv_gamma", 3, {0.3, 0.7, 0.5}, {3, 3, 2}, 0, call_inv_gamma_lpdf, r_inv_gamma},
    {"exponential", 2, {0.1, 0.5}, {3, 2}, 0, call_exponential_lpdf, r_exponential},
    {"beta", 3, {0.1, 0.6, 0.6}, {0.9, 3, 3}, 0, call_beta_lpdf, r_beta},
    {"uniform", 3, {-0.5, -2.5, 0.6}, {0.5, -1, 2}, 0, call_uniform_lpdf, r_uniform},
    {"bernoulli", 1, {0.1}, {0.9}, 3, call_bernoulli_lpmf, r_bernoulli},
    {"bernoulli_logit", 1, {-3}, {3}, 3, call_bernoulli_logit_lpmf, r_bernoulli_logit},
    {"binomial", 1, {0.1}, {0.9}, 2, call_binomial_lpmf, r_binomial},
    {"binomial_logit", 1, {-3}, {3}, 2, call_binomial_logit_lpmf, r_binomial_logit},
    {"poisson", 1, {0.3}, {6}, 1, call_poisson_lpmf, r_poisson},
    {"poisson_log", 1, {-1}, {2}, 1, call_poisson_log_lpmf, r_poisson_log},
    {"neg_binomial_2", 2, {0.5, 0.5}, {6, 8}, 1, call_neg_binomial_2_lpmf, r_neg_binomial_2},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Which arguments are vectors (bit i set: argument i has N elements, else scalar), which
 * are parameters (var), and whether the ints broadcast. */
typedef struct dens_ctx {
    const dens_case *c;
    unsigned vec_mask, var_mask;
    bool propto;
    bool scalar_ints;
    const double *data; /* values of non-var arguments, laid out as theta would be */
} dens_ctx;

static size_t arg_size(const dens_ctx *x, int i)
{
    return (x->vec_mask >> i) & 1u ? N : 1;
}

static ps_status build_dens(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    dens_ctx *x = p;
    ps_adv a[4];
    size_t off = 0;
    for (int i = 0; i < x->c->nreal; i++) {
        size_t n = arg_size(x, i);
        if ((x->var_mask >> i) & 1u)
            PS_CHECK(ps_ad_segment(th, (long)off + 1, n, &a[i]));
        else
            a[i] = ps_ad_data(x->data + off, n, 1);
        off += n;
    }
    size_t nk = x->scalar_ints ? 1 : N;
    ps_adi k[3] = {ps_ad_int_data(ints_n, nk), ps_ad_int_data(ints_N, nk),
                   ps_ad_int_data(ints_bin, nk)};
    return x->c->call(tape, k, a, x->propto, out);
}

/* Sum over the N terms of the reference, with broadcasting. */
static long double ref_sum(const dens_ctx *x, const double *theta, size_t terms)
{
    long double s = 0.0L;
    for (size_t t = 0; t < terms; t++) {
        double a[4];
        size_t off = 0;
        for (int i = 0; i < x->c->nreal; i++) {
            size_t n = arg_size(x, i);
            a[i] = theta[off + (n == 1 ? 0 : t)];
            off += n;
        }
        size_t kt = x->scalar_ints ? 0 : t;
        int k[3] = {ints_n[kt], ints_N[kt], ints_bin[kt]};
        s += x->c->ref(a, k);
    }
    return s;
}

/* Evaluates a case once (value only) and returns the value. */
static double eval_value(dens_ctx *x, const double *theta, size_t n, ps_status *st)
{
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    ps_adv th, out;
    *st = ps_ad_params(tape, theta, n, &th);
    double v = NAN;
    if (*st == PS_OK)
        *st = build_dens(tape, th, x, &out);
    if (*st == PS_OK)
        v = out.v[0];
    ps_ad_tape_destroy(&tape);
    return v;
}

static void fill(const dens_ctx *x, double *theta, size_t *n)
{
    size_t off = 0;
    for (int i = 0; i < x->c->nreal; i++)
        for (size_t j = 0; j < arg_size(x, i); j++)
            theta[off++] = check_uniform(x->c->lo[i], x->c->hi[i]);
    *n = off;
}

static void test_univariate(void)
{
    for (size_t ci = 0; ci < NCASES; ci++) {
        const dens_case *c = &cases[ci];
        unsigned all = (1u << c->nreal) - 1u;
        unsigned patterns[5] = {all, 1u, all & ~1u, 0u, 2u & all};
        for (int pi = 0; pi < 5; pi++) {
            for (int sk = 0; sk < (c->nint ? 2 : 1); sk++) {
                dens_ctx x = {c, patterns[pi], all, false, sk == 1, NULL};
                if (x.vec_mask == 0 && !x.scalar_ints && c->nint)
                    x.vec_mask = 0; /* scalar reals with vector ints: N terms */
                double theta[16];
                size_t n;
                fill(&x, theta, &n);
                size_t terms = (x.vec_mask == 0 && (x.scalar_ints || !c->nint)) ? 1 : N;
                char name[96];
                snprintf(name, sizeof name, "%s (vector mask %u, %s ints)", c->name, x.vec_mask,
                         sk ? "scalar" : "vector");
                /* Value against the reference (propto = false keeps everything). */
                ps_status st;
                double v = eval_value(&x, theta, n, &st);
                double want = (double)ref_sum(&x, theta, terms);
                CHECK(st == PS_OK && fabs(v - want) <= 1e-12 * fmax(1.0, fabs(want)),
                      "%s: log density %.17g, reference %.17g (status %d %s)", name, v, want,
                      (int)st, ps_error_message());
                /* Gradients, normalised and propto. */
                check_gradient(name, build_dens, &x, theta, n, TOL);
                x.propto = true;
                check_gradient(name, build_dens, &x, theta, n, TOL);
                /* propto with every argument var: the dropped part is a pure constant,
                 * the same at a second point. */
                double theta2[16];
                fill(&x, theta2, &n);
                x.propto = false;
                double full1 = eval_value(&x, theta, n, &st),
                       full2 = eval_value(&x, theta2, n, &st);
                x.propto = true;
                double p1 = eval_value(&x, theta, n, &st), p2 = eval_value(&x, theta2, n, &st);
                CHECK(fabs((full1 - p1) - (full2 - p2)) <= 1e-12 * fmax(1.0, fabs(full1)),
                      "%s: propto drops %.17g at one point and %.17g at another", name, full1 - p1,
                      full2 - p2);
                /* Only the first argument var (y for densities): what is dropped does not
                 * depend on it. */
                x.var_mask = 1u;
                x.data = theta;
                double q1 = eval_value(&x, theta, n, &st);
                double shifted[16];
                memcpy(shifted, theta, sizeof shifted);
                for (size_t j = 0; j < arg_size(&x, 0); j++)
                    shifted[j] = check_uniform(c->lo[0], c->hi[0]);
                x.data = shifted;
                double q2 = eval_value(&x, shifted, n, &st);
                x.propto = false;
                double f2 = eval_value(&x, shifted, n, &st);
                x.data = theta;
                double f1 = eval_value(&x, theta, n, &st);
                CHECK(fabs((f1 - q1) - (f2 - q2)) <= 1e-12 * fmax(1.0, fabs(f1)),
                      "%s: with only the first argument var, propto drops %.17g and %.17g", name,
                      f1 - q1, f2 - q2);
                /* No var argument: propto gives 0. */
                x.var_mask = 0u;
                x.propto = true;
                double z = eval_value(&x, theta, n, &st);
                CHECK(st == PS_OK && z == 0.0, "%s: propto without parameters gives %g", name, z);
            }
        }
    }
}

/* Stan's choices, spelled out: the exact terms dropped in a few cases. */
static void test_propto_terms(void)
{
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    double y[3] = {0.3, -1.2, 2.2}, mu = 0.4, sigma = 1.7;
    ps_adv Y, M = ps_ad_data(&mu, 1, 1), S = ps_ad_data(&sigma, 1, 1), lp_full, lp_propto, Sv;
    ps_ad_tape_begin(tape, true);
    ps_ad_params(tape, y, 3, &Y);
    ps_ad_normal_lpdf(tape, Y, M, S, false, &lp_full);
    ps_ad_normal_lpdf(tape, Y, M, S, true, &lp_propto);
    double quad = 0.0;
    for (int i = 0; i < 3; i++)
        quad += (y[i] - mu) * (y[i] - mu) / (sigma * sigma);
    CHECK_CLOSE(lp_propto.v[0], -0.5 * quad, 1e-15, "normal, data sigma, propto: -z^2/2 only");
    CHECK_CLOSE(lp_full.v[0] - lp_propto.v[0], -3.0 * (log(sigma) + PS_LOG_SQRT_2PI), 1e-14,
                "normal: dropped -N log sigma - N log sqrt(2 pi)");
    /* sigma a parameter: -N log sigma stays. */
    ps_ad_tape_begin(tape, true);
    ps_ad_params(tape, y, 3, &Y);
    ps_ad_params(tape, &sigma, 1, &Sv);
    ps_ad_normal_lpdf(tape, Y, M, Sv, true, &lp_propto);
    CHECK_CLOSE(lp_propto.v[0], -0.5 * quad - 3.0 * log(sigma), 1e-15,
                "normal, var sigma, propto keeps -N log sigma");
    /* poisson: -log(n!) dropped under propto, kept otherwise. */
    int n[2] = {3, 5};
    double lambda = 2.5;
    ps_adv L;
    ps_ad_tape_begin(tape, true);
    ps_ad_params(tape, &lambda, 1, &L);
    ps_ad_poisson_lpmf(tape, ps_ad_int_data(n, 2), L, true, &lp_propto);
    ps_ad_poisson_lpmf(tape, ps_ad_int_data(n, 2), L, false, &lp_full);
    CHECK_CLOSE(lp_propto.v[0], 8.0 * log(2.5) - 5.0, 1e-15, "poisson propto");
    CHECK_CLOSE(lp_full.v[0] - lp_propto.v[0], -log(6.0) - log(120.0), 1e-14,
                "poisson: dropped -log 3! - log 5!");
    /* student_t with data nu: the lgamma(nu) terms go. */
    double nu = 4.5, yy = 0.7, zero = 0.0, one = 1.0;
    ps_adv Yv, NU = ps_ad_data(&nu, 1, 1), Z0 = ps_ad_data(&zero, 1, 1),
               O1 = ps_ad_data(&one, 1, 1);
    ps_ad_tape_begin(tape, true);
    ps_ad_params(tape, &yy, 1, &Yv);
    ps_ad_student_t_lpdf(tape, Yv, NU, Z0, O1, true, &lp_propto);
    CHECK_CLOSE(lp_propto.v[0], -0.5 * (nu + 1.0) * log1p(yy * yy / nu), 1e-15,
                "student_t with data nu, mu, sigma, propto");
    ps_ad_tape_destroy(&tape);
}

static void test_domain_errors(void)
{
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    double y = 0.5, neg = -1.0, two = 2.0, nan = NAN;
    ps_adv Y = ps_ad_data(&y, 1, 1), NEG = ps_ad_data(&neg, 1, 1), TWO = ps_ad_data(&two, 1, 1),
           NAN_ = ps_ad_data(&nan, 1, 1), out;
    CHECK(ps_ad_normal_lpdf(tape, Y, Y, NEG, false, &out) == PS_ERR_NUMERIC, "normal sigma < 0");
    CHECK_STR_CONTAINS(ps_ad_tape_message(tape), "normal_lpdf: Scale parameter is -1");
    CHECK(ps_error_status() == PS_OK, "a domain error leaves the thread's error slot alone");
    CHECK(ps_ad_normal_lpdf(tape, NAN_, Y, TWO, false, &out) == PS_ERR_NUMERIC, "normal y NaN");
    CHECK(ps_ad_bernoulli_lpmf(tape, ps_ad_int_data((int[]){2}, 1), Y, false, &out) ==
              PS_ERR_NUMERIC,
          "bernoulli n = 2");
    CHECK(ps_ad_bernoulli_lpmf(tape, ps_ad_int_data((int[]){1}, 1), TWO, false, &out) ==
              PS_ERR_NUMERIC,
          "bernoulli theta = 2");
    CHECK(ps_ad_binomial_lpmf(tape, ps_ad_int_data((int[]){4}, 1), ps_ad_int_data((int[]){3}, 1), Y,
                              false, &out) == PS_ERR_NUMERIC,
          "binomial n > N");
    CHECK(ps_ad_poisson_lpmf(tape, ps_ad_int_data((int[]){-1}, 1), Y, false, &out) ==
              PS_ERR_NUMERIC,
          "poisson n < 0");
    CHECK(ps_ad_uniform_lpdf(tape, Y, TWO, Y, false, &out) == PS_ERR_NUMERIC,
          "uniform lower > upper");
    /* Outside the support with valid parameters: -inf, not an error. */
    CHECK(ps_ad_gamma_lpdf(tape, NEG, TWO, TWO, false, &out) == PS_OK && out.v[0] == -INFINITY,
          "gamma at y < 0 is -inf");
    CHECK(ps_ad_uniform_lpdf(tape, TWO, NEG, Y, false, &out) == PS_OK && out.v[0] == -INFINITY,
          "uniform outside its bounds is -inf");
    double v3[3] = {1, 2, 3}, v2[2] = {1, 2};
    CHECK(ps_ad_normal_lpdf(tape, ps_ad_data(v3, 3, 1), ps_ad_data(v2, 2, 1), TWO, false, &out) ==
              PS_ERR_MODEL,
          "normal with sizes 3 and 2");
    CHECK_STR_CONTAINS(ps_error_message(), "normal_lpdf");
    ps_error_clear();
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * Dirichlet
 * ------------------------------------------------------------------------------------- */

static ps_status build_dirichlet(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    bool propto = *(bool *)p;
    ps_adv theta, alpha, u;
    PS_CHECK(ps_ad_segment(th, 1, 4, &u));
    PS_CHECK(ps_ad_softmax(tape, u, &theta));
    PS_CHECK(ps_ad_segment(th, 5, 4, &alpha));
    return ps_ad_dirichlet_lpdf(tape, theta, alpha, propto, out);
}

static void test_dirichlet(void)
{
    for (int pt = 0; pt < 3; pt++) {
        double th[8];
        for (int i = 0; i < 4; i++)
            th[i] = check_uniform(-1, 1);
        for (int i = 4; i < 8; i++)
            th[i] = check_uniform(0.5, 3);
        bool propto = pt == 1;
        check_gradient("dirichlet", build_dirichlet, &propto, th, 8, TOL);
    }
    double t[3] = {0.2, 0.3, 0.5}, a[3] = {1.5, 2.0, 0.7};
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    ps_adv out;
    ps_ad_dirichlet_lpdf(tape, ps_ad_data(t, 3, 1), ps_ad_data(a, 3, 1), false, &out);
    long double want = lgammal(4.2L) - lgammal(1.5L) - lgammal(2.0L) - lgammal(0.7L) +
                       0.5L * logl(0.2L) + 1.0L * logl(0.3L) - 0.3L * logl(0.5L);
    CHECK_CLOSE(out.v[0], (double)want, 1e-13, "dirichlet value");
    double bad[3] = {0.2, 0.3, 0.6};
    CHECK(ps_ad_dirichlet_lpdf(tape, ps_ad_data(bad, 3, 1), ps_ad_data(a, 3, 1), false, &out) ==
              PS_ERR_NUMERIC,
          "dirichlet of a non-simplex");
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * Multivariate normal
 * ------------------------------------------------------------------------------------- */

#define D 3
#define K 2

/* theta: y (D*K), mu (D), lower triangle of a Cholesky factor (6, log diagonal). */
typedef struct mvn_ctx {
    bool cholesky, propto, data_L, shared_mu;
} mvn_ctx;

static double mvn_L_data[9] = {1.3, 0.4, -0.7, 0, 0.9, 0.25, 0, 0, 1.6};

static ps_status build_L(ps_ad_tape *tape, ps_adv th, long at, ps_adv *L)
{
    ps_adv el[D * D];
    ps_adv zero;
    PS_CHECK(ps_ad_const(tape, 0.0, &zero));
    long k = at;
    for (int c = 0; c < D; c++)
        for (int r = 0; r < D; r++) {
            if (r < c) {
                el[r + c * D] = zero;
            } else if (r == c) {
                ps_adv e;
                PS_CHECK(ps_ad_elem(th, k++, &e));
                PS_CHECK(ps_ad_unary(tape, PS_AD_EXP, e, &el[r + c * D]));
            } else {
                PS_CHECK(ps_ad_elem(th, k++, &el[r + c * D]));
            }
        }
    return ps_ad_from_scalars(tape, el, D, D, L);
}

static ps_status build_mvn(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    mvn_ctx *x = p;
    ps_adv y, mu, L, S, Lt;
    PS_CHECK(ps_ad_segment(th, 1, D * K, &y));
    PS_CHECK(ps_ad_reshape(y, D, K, &y));
    PS_CHECK(ps_ad_segment(th, D * K + 1, x->shared_mu ? D : D * K, &mu));
    if (!x->shared_mu)
        PS_CHECK(ps_ad_reshape(mu, D, K, &mu));
    if (x->data_L)
        L = ps_ad_data(mvn_L_data, D, D);
    else
        PS_CHECK(build_L(tape, th, D * K + D * K + 1, &L));
    if (x->cholesky)
        return ps_ad_multi_normal_cholesky_lpdf(tape, y, mu, L, x->propto, out);
    PS_CHECK(ps_ad_transpose(tape, L, &Lt));
    PS_CHECK(ps_ad_multiply(tape, L, Lt, &S));
    return ps_ad_multi_normal_lpdf(tape, y, mu, S, x->propto, out);
}

/* Reference: -0.5 sum_j r_j' S^{-1} r_j - K/2 log det S - DK/2 log 2 pi with S = L L',
 * S^{-1} r by Gauss-Jordan elimination in long double. */
static long double mvn_ref(const double *y, const double *mu, bool shared, const double *L)
{
    long double S[D][D], det = 1.0L;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            S[i][j] = 0.0L;
            for (int m = 0; m < D; m++)
                S[i][j] += (long double)L[i + m * D] * L[j + m * D];
        }
    long double total = 0.0L;
    for (int k = 0; k < K; k++) {
        long double A[D][D + 1];
        for (int i = 0; i < D; i++) {
            for (int j = 0; j < D; j++)
                A[i][j] = S[i][j];
            A[i][D] = (long double)y[i + k * D] - mu[i + (shared ? 0 : k * D)];
        }
        det = 1.0L;
        for (int c = 0; c < D; c++) {
            det *= A[c][c];
            for (int r = 0; r < D; r++) {
                if (r == c)
                    continue;
                long double f = A[r][c] / A[c][c];
                for (int j = c; j <= D; j++)
                    A[r][j] -= f * A[c][j];
            }
        }
        for (int i = 0; i < D; i++) {
            long double r = (long double)y[i + k * D] - mu[i + (shared ? 0 : k * D)];
            total += -0.5L * r * A[i][D] / A[i][i];
        }
    }
    return total - 0.5L * K * logl(det) - 0.5L * D * K * logl(2.0L * LPI);
}

static void test_multi_normal(void)
{
    for (int variant = 0; variant < 8; variant++) {
        mvn_ctx x = {variant & 1, (variant >> 1) & 1, false, (variant >> 2) & 1};
        double th[D * K + D * K + 6];
        for (size_t i = 0; i < sizeof th / sizeof th[0]; i++)
            th[i] = check_uniform(-0.8, 0.8);
        size_t n = D * K + (x.shared_mu ? D : D * K);
        char name[64];
        snprintf(name, sizeof name, "multi_normal%s propto %d shared mu %d",
                 x.cholesky ? "_cholesky" : "", x.propto, x.shared_mu);
        /* A var Cholesky factor (its parameters follow a full D x K mu). */
        if (!x.shared_mu)
            check_gradient(name, build_mvn, &x, th, D * K + D * K + 6, TOL);
        x.data_L = true;
        check_gradient(name, build_mvn, &x, th, n, TOL);
        /* Value with data L against the reference. */
        x.propto = false;
        ps_ad_tape *tape;
        ps_ad_tape_create(&tape);
        ps_ad_tape_begin(tape, true);
        ps_adv thv, out;
        ps_ad_params(tape, th, n, &thv);
        CHECK(build_mvn(tape, thv, &x, &out) == PS_OK, "mvn evaluation");
        long double want = mvn_ref(th, th + D * K, x.shared_mu, mvn_L_data);
        CHECK_CLOSE(out.v[0], (double)want, 1e-13, name);
        ps_ad_tape_destroy(&tape);
    }
    /* Propto with data L drops exactly K sum log L_ii + DK/2 log 2 pi. */
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    double y[D] = {0.3, -0.2, 0.9}, mu[D] = {0, 0, 0};
    ps_adv Y, full, prop, L = ps_ad_data(mvn_L_data, D, D);
    ps_ad_params(tape, y, D, &Y);
    ps_ad_multi_normal_cholesky_lpdf(tape, Y, ps_ad_data(mu, D, 1), L, false, &full);
    ps_ad_multi_normal_cholesky_lpdf(tape, Y, ps_ad_data(mu, D, 1), L, true, &prop);
    double dropped = -(log(1.3) + log(0.9) + log(1.6)) - 1.5 * log(2.0 * PS_PI);
    CHECK_CLOSE(full.v[0] - prop.v[0], dropped, 1e-14, "multi_normal_cholesky propto terms");
    double notpd[4] = {1, 2, 2, 1};
    CHECK(ps_ad_multi_normal_lpdf(tape, ps_ad_data(y, 2, 1), ps_ad_data(mu, 2, 1),
                                  ps_ad_data(notpd, 2, 2), false, &full) == PS_ERR_NUMERIC,
          "multi_normal with an indefinite covariance");
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * GLMs against the same model from generic primitives
 * ------------------------------------------------------------------------------------- */

#define GN 600
#define GK 3
static double gX[GN * GK], gy_real[GN];
static int gy_bin[GN], gy_count[GN];

typedef struct glm_ctx {
    int family; /* 0 bernoulli_logit, 1 poisson_log, 2 normal_id */
    bool composed, X_var, alpha_vec, propto;
    size_t rows;
} glm_ctx;

/* theta: beta (GK), alpha (1 or rows), sigma (1), X (rows*GK if var). */
static ps_status build_glm(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    glm_ctx *x = p;
    size_t na = x->alpha_vec ? x->rows : 1;
    ps_adv beta, alpha, sigma, X, eta, xb;
    PS_CHECK(ps_ad_segment(th, 1, GK, &beta));
    PS_CHECK(ps_ad_segment(th, GK + 1, na, &alpha));
    PS_CHECK(ps_ad_segment(th, (long)(GK + na) + 1, 1, &sigma));
    PS_CHECK(ps_ad_unary(tape, PS_AD_EXP, sigma, &sigma));
    if (x->X_var) {
        PS_CHECK(ps_ad_segment(th, (long)(GK + na) + 2, x->rows * GK, &X));
        PS_CHECK(ps_ad_reshape(X, x->rows, GK, &X));
    } else {
        X = ps_ad_data(gX, x->rows, GK);
    }
    ps_adi yb = ps_ad_int_data(gy_bin, x->rows), yc = ps_ad_int_data(gy_count, x->rows);
    ps_adv yr = ps_ad_data(gy_real, x->rows, 1);
    if (!x->composed) {
        if (x->family == 0)
            return ps_ad_bernoulli_logit_glm_lpmf(tape, yb, X, alpha, beta, x->propto, out);
        if (x->family == 1)
            return ps_ad_poisson_log_glm_lpmf(tape, yc, X, alpha, beta, x->propto, out);
        return ps_ad_normal_id_glm_lpdf(tape, yr, X, alpha, beta, sigma, x->propto, out);
    }
    PS_CHECK(ps_ad_multiply(tape, X, beta, &xb));
    PS_CHECK(ps_ad_add(tape, xb, alpha, &eta));
    if (x->family == 0)
        return ps_ad_bernoulli_logit_lpmf(tape, yb, eta, x->propto, out);
    if (x->family == 1)
        return ps_ad_poisson_log_lpmf(tape, yc, eta, x->propto, out);
    return ps_ad_normal_lpdf(tape, yr, eta, sigma, x->propto, out);
}

static void glm_eval(glm_ctx *x, const double *theta, size_t n, double *value, double *grad)
{
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    ps_adv th, out;
    ps_ad_params(tape, theta, n, &th);
    ps_status st = build_glm(tape, th, x, &out);
    CHECK(st == PS_OK, "glm evaluation: %s%s", ps_error_message(), ps_ad_tape_message(tape));
    if (st == PS_OK) {
        ps_ad_target_add(tape, out);
        ps_ad_tape_grad(tape);
        *value = out.v[0];
        memcpy(grad, th.a, n * sizeof(double));
    }
    ps_ad_tape_destroy(&tape);
}

static void test_glm(void)
{
    for (int i = 0; i < GN * GK; i++)
        gX[i] = check_uniform(-1, 1);
    for (int i = 0; i < GN; i++) {
        gy_bin[i] = check_uniform(0, 1) < 0.4;
        gy_count[i] = (int)check_uniform(0, 6);
        gy_real[i] = check_uniform(-2, 2);
    }
    for (int family = 0; family < 3; family++) {
        for (int variant = 0; variant < 8; variant++) {
            glm_ctx x = {family, false, variant & 1, (variant >> 1) & 1, (variant >> 2) & 1, 5};
            double th[GK + 5 + 1 + 5 * GK];
            size_t n = GK + (x.alpha_vec ? 5 : 1) + 1 + (x.X_var ? 5 * GK : 0);
            for (size_t i = 0; i < n; i++)
                th[i] = check_uniform(-0.7, 0.7);
            char name[64];
            snprintf(name, sizeof name, "glm family %d variant %d", family, variant);
            check_gradient(name, build_glm, &x, th, n, TOL);
            /* Large N (several row blocks): value and gradient equal the composed model. */
            glm_ctx big = {family, false, false, (variant >> 1) & 1, (variant >> 2) & 1, GN};
            static double tb[GK + GN + 1], g1[GK + GN + 1], g2[GK + GN + 1];
            size_t nb = GK + (big.alpha_vec ? GN : 1) + 1;
            for (size_t i = 0; i < nb; i++)
                tb[i] = check_uniform(-0.5, 0.5);
            double v1 = 0, v2 = 0;
            glm_eval(&big, tb, nb, &v1, g1);
            big.composed = true;
            glm_eval(&big, tb, nb, &v2, g2);
            CHECK(fabs(v1 - v2) <= 1e-11 * fabs(v2), "%s N=%d: GLM %.17g, composed %.17g", name, GN,
                  v1, v2);
            for (size_t i = 0; i < nb; i++)
                CHECK(fabs(g1[i] - g2[i]) <= 1e-10 * fmax(1.0, fabs(g2[i])),
                      "%s N=%d: gradient[%zu] GLM %.17g, composed %.17g", name, GN, i, g1[i],
                      g2[i]);
        }
    }
}

/* A scalar outcome broadcast over the rows equals the same outcome repeated. */
static void test_glm_broadcast_y(void)
{
    static const int one_y = 1;
    static int ones[GN];
    for (int i = 0; i < GN; i++)
        ones[i] = 1;
    static const double beta[GK] = {0.3, -0.2, 0.5}, alpha = 0.1;
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    for (int family = 0; family < 2; family++) {
        ps_ad_tape_begin(tape, true);
        ps_adv b, a, r1, r2;
        ps_ad_params(tape, beta, GK, &b);
        ps_ad_params(tape, &alpha, 1, &a);
        ps_adv X = ps_ad_data(gX, GN, GK);
        if (family == 0) {
            ps_ad_bernoulli_logit_glm_lpmf(tape, ps_ad_int_data(&one_y, 1), X, a, b, false, &r1);
            ps_ad_bernoulli_logit_glm_lpmf(tape, ps_ad_int_data(ones, GN), X, a, b, false, &r2);
        } else {
            ps_ad_poisson_log_glm_lpmf(tape, ps_ad_int_data(&one_y, 1), X, a, b, false, &r1);
            ps_ad_poisson_log_glm_lpmf(tape, ps_ad_int_data(ones, GN), X, a, b, false, &r2);
        }
        CHECK(r1.v[0] == r2.v[0], "GLM family %d: broadcast y gives %.17g, repeated y %.17g",
              family, r1.v[0], r2.v[0]);
    }
    ps_ad_tape_destroy(&tape);
}

int main(void)
{
    check_init_weights();
    test_univariate();
    test_propto_terms();
    test_domain_errors();
    test_dirichlet();
    test_multi_normal();
    test_glm();
    test_glm_broadcast_y();
    TEST_EXIT();
}
