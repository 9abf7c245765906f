/*
 * Constraint transforms: gradients through the values and the log-Jacobian (including
 * bounds that are parameters) against finite differences; the log-Jacobian against the
 * log-determinant of a numerically differentiated Jacobian; inverse transforms round-trip;
 * results satisfy their constraints; invalid values are rejected.
 */
#include <stdbool.h>

#include "ad_check.h"
#include "math/transform.h"

#define TOL 1e-6

typedef enum {
    T_LOWER,
    T_UPPER,
    T_BOTH,
    T_NONE,
    T_LOWER_VEC_BOUND,
    T_BOTH_VAR_BOUNDS,
    T_OFFSET_MULT,
    T_OFFSET_MULT_VEC,
    T_SIMPLEX,
    T_ORDERED,
    T_POS_ORDERED,
    T_CHOL_CORR,
    T_COV,
    T_COUNT
} tcase;

static const char *const tnames[T_COUNT] = {"lower",
                                            "upper",
                                            "lower+upper",
                                            "no bounds",
                                            "lower (vector bound)",
                                            "bounds are parameters",
                                            "offset/multiplier",
                                            "offset/multiplier (vectors)",
                                            "simplex",
                                            "ordered",
                                            "positive_ordered",
                                            "cholesky_factor_corr",
                                            "cov_matrix"};

/* Free size n and the number of coordinates used for the Jacobian check. */
static size_t free_size(tcase c)
{
    switch (c) {
    case T_SIMPLEX:
        return 4; /* K = 5 */
    case T_CHOL_CORR:
        return 6; /* K = 4 */
    case T_COV:
        return 6; /* K = 3 */
    default:
        return 4;
    }
}

typedef struct tctx {
    tcase c;
    bool jacobian;
} tctx;

static double lb_vec[4] = {-1.0, 0.5, 2.0, -3.0};

static ps_status build_t(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    tctx *x = p;
    size_t n = free_size(x->c);
    ps_adv u;
    PS_CHECK(ps_ad_segment(th, 1, n, &u));
    /* Data must outlive the evaluation (the reverse sweep reads it): static. */
    static const double lo = -1.5, hi = 2.5, off = 0.7, mult = 1.8;
    ps_adv L = ps_ad_data(&lo, 1, 1), H = ps_ad_data(&hi, 1, 1), none = ps_ad_no_bound();
    bool j = x->jacobian;
    switch (x->c) {
    case T_LOWER:
        return ps_ad_bounds_constrain(tape, u, L, none, j, out);
    case T_UPPER:
        return ps_ad_bounds_constrain(tape, u, none, H, j, out);
    case T_BOTH:
        return ps_ad_bounds_constrain(tape, u, L, H, j, out);
    case T_NONE:
        return ps_ad_bounds_constrain(tape, u, none, none, j, out);
    case T_LOWER_VEC_BOUND:
        return ps_ad_bounds_constrain(tape, u, ps_ad_data(lb_vec, 4, 1), none, j, out);
    case T_BOTH_VAR_BOUNDS: {
        /* Bounds from later parameters: lower = th[5], upper = th[5] + exp(th[6]). */
        ps_adv lower, gap, upper;
        PS_CHECK(ps_ad_segment(th, 5, 1, &lower));
        PS_CHECK(ps_ad_segment(th, 6, 1, &gap));
        PS_CHECK(ps_ad_unary(tape, PS_AD_EXP, gap, &gap));
        PS_CHECK(ps_ad_add(tape, lower, gap, &upper));
        return ps_ad_bounds_constrain(tape, u, lower, upper, j, out);
    }
    case T_OFFSET_MULT:
        return ps_ad_offset_multiplier_constrain(tape, u, ps_ad_data(&off, 1, 1),
                                                 ps_ad_data(&mult, 1, 1), j, out);
    case T_OFFSET_MULT_VEC: {
        ps_adv o, m;
        PS_CHECK(ps_ad_segment(th, 5, 1, &o));
        PS_CHECK(ps_ad_segment(th, 6, 1, &m));
        PS_CHECK(ps_ad_unary(tape, PS_AD_EXP, m, &m));
        (void)o;
        PS_CHECK(ps_ad_rep(tape, m, 4, 1, &m));
        return ps_ad_offset_multiplier_constrain(tape, u, ps_ad_data(lb_vec, 4, 1), m, j, out);
    }
    case T_SIMPLEX:
        return ps_ad_simplex_constrain(tape, u, j, out);
    case T_ORDERED:
        return ps_ad_ordered_constrain(tape, u, j, out);
    case T_POS_ORDERED:
        return ps_ad_positive_ordered_constrain(tape, u, j, out);
    case T_CHOL_CORR:
        return ps_ad_cholesky_corr_constrain(tape, u, 4, j, out);
    default:
        return ps_ad_cov_matrix_constrain(tape, u, 3, j, out);
    }
}

/* The constrained free coordinates of a result (what the Jacobian is taken of). */
static size_t free_coords(tcase c, const double *x, double *f)
{
    size_t k = 0;
    switch (c) {
    case T_SIMPLEX:
        for (int i = 0; i < 4; i++)
            f[k++] = x[i];
        break;
    case T_CHOL_CORR:
        for (int i = 1; i < 4; i++)
            for (int j = 0; j < i; j++)
                f[k++] = x[i + 4 * j];
        break;
    case T_COV:
        for (int i = 0; i < 3; i++)
            for (int j = 0; j <= i; j++)
                f[k++] = x[i + 3 * j];
        break;
    default:
        for (int i = 0; i < 4; i++)
            f[k++] = x[i];
    }
    return k;
}

/* Value-only evaluation: constrained values into x (up to 16), log J returned. */
static double eval_t(tctx *c, const double *theta, size_t n, double *x)
{
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, false);
    ps_adv th, out;
    ps_ad_params(tape, theta, n, &th);
    tctx j = {c->c, true};
    ps_status st = build_t(tape, th, &j, &out);
    CHECK(st == PS_OK, "%s: evaluation failed", tnames[c->c]);
    double logj = ps_ad_target(tape);
    if (st == PS_OK)
        memcpy(x, out.v, ps_adv_size(out) * sizeof(double));
    ps_ad_tape_destroy(&tape);
    return logj;
}

/* log |det A| of an m x m matrix (row-major), by Gaussian elimination with pivoting. */
static double log_abs_det(double *a, size_t m)
{
    double s = 0.0;
    for (size_t c = 0; c < m; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < m; r++)
            if (fabs(a[r * m + c]) > fabs(a[piv * m + c]))
                piv = r;
        for (size_t j = 0; j < m; j++) {
            double t = a[c * m + j];
            a[c * m + j] = a[piv * m + j];
            a[piv * m + j] = t;
        }
        s += log(fabs(a[c * m + c]));
        for (size_t r = c + 1; r < m; r++) {
            double f = a[r * m + c] / a[c * m + c];
            for (size_t j = c; j < m; j++)
                a[r * m + j] -= f * a[c * m + j];
        }
    }
    return s;
}

static void test_log_jacobians(void)
{
    for (int ci = 0; ci < T_COUNT; ci++) {
        tcase c = (tcase)ci;
        if (c == T_BOTH_VAR_BOUNDS || c == T_OFFSET_MULT_VEC)
            continue; /* the bounds would be coordinates too */
        tctx ctx = {c, true};
        size_t n = free_size(c);
        for (int pt = 0; pt < 3; pt++) {
            double u[8], x[16], f[16], xp[16], xm[16], fp[16], fm[16], J[64];
            for (size_t i = 0; i < n; i++)
                u[i] = check_uniform(-1.2, 1.2);
            double logj = eval_t(&ctx, u, n, x);
            size_t m = free_coords(c, x, f);
            CHECK(m == n, "%s: %zu free coordinates for %zu parameters", tnames[c], m, n);
            for (size_t j = 0; j < n; j++) {
                double h = 1e-5, up[8], um[8];
                memcpy(up, u, sizeof up);
                memcpy(um, u, sizeof um);
                up[j] += h;
                um[j] -= h;
                eval_t(&ctx, up, n, xp);
                eval_t(&ctx, um, n, xm);
                free_coords(c, xp, fp);
                free_coords(c, xm, fm);
                for (size_t i = 0; i < n; i++)
                    J[i * n + j] = (fp[i] - fm[i]) / (2.0 * h);
            }
            double want = log_abs_det(J, n);
            CHECK(fabs(logj - want) <= 1e-7 * fmax(1.0, fabs(want)),
                  "%s: log Jacobian %.12g, log |det| of the numerical Jacobian %.12g", tnames[c],
                  logj, want);
        }
    }
}

static void test_gradients(void)
{
    for (int ci = 0; ci < T_COUNT; ci++) {
        for (int jac = 0; jac < 2; jac++) {
            tctx ctx = {(tcase)ci, jac == 1};
            size_t n = free_size(ctx.c) + 2;
            for (int pt = 0; pt < 3; pt++) {
                double th[8];
                for (size_t i = 0; i < n; i++)
                    th[i] = check_uniform(-1.5, 1.5);
                char name[64];
                snprintf(name, sizeof name, "%s (jacobian %d)", tnames[ci], jac);
                check_gradient(name, build_t, &ctx, th, n, TOL);
            }
        }
    }
    /* Extreme unconstrained values keep lower+upper results inside the bounds. */
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    double u[2] = {40.0, -40.0}, lo = 0.0, hi = 1.0;
    ps_adv U, X;
    ps_ad_params(tape, u, 2, &U);
    ps_ad_bounds_constrain(tape, U, ps_ad_data(&lo, 1, 1), ps_ad_data(&hi, 1, 1), true, &X);
    CHECK(X.v[0] <= 1.0 && X.v[1] >= 0.0 && X.v[1] > 0.0, "bounded values stay inside: %g %g",
          X.v[0], X.v[1]);
    CHECK(isfinite(ps_ad_target(tape)), "log Jacobian at +-40 is finite: %g", ps_ad_target(tape));
    ps_ad_tape_begin(tape, true);
    double bad = 3.0;
    CHECK(ps_ad_bounds_constrain(tape, U, ps_ad_data(&bad, 1, 1), ps_ad_data(&hi, 1, 1), true,
                                 &X) == PS_ERR_NUMERIC,
          "lower bound above the upper bound is a domain error");
    ps_ad_tape_destroy(&tape);
}

static void test_inverses(void)
{
    for (int pt = 0; pt < 5; pt++) {
        double u[6], x[16], back[6];
        tctx ctx;
        for (int i = 0; i < 6; i++)
            u[i] = check_uniform(-2.0, 2.0);
        double lo = -1.5, hi = 2.5, off = 0.7, mult = 1.8;
        ctx.c = T_BOTH;
        eval_t(&ctx, u, 4, x);
        CHECK(ps_bounds_free("x", x, 4, &lo, 1, &hi, 1, back) == PS_OK, "bounds free");
        for (int i = 0; i < 4; i++)
            CHECK_CLOSE(back[i], u[i], 1e-12, "lower+upper round trip");
        ctx.c = T_LOWER_VEC_BOUND;
        eval_t(&ctx, u, 4, x);
        CHECK(ps_bounds_free("x", x, 4, lb_vec, 4, NULL, 0, back) == PS_OK, "lower free");
        for (int i = 0; i < 4; i++)
            CHECK_CLOSE(back[i], u[i], 1e-12, "lower round trip");
        ctx.c = T_UPPER;
        eval_t(&ctx, u, 4, x);
        CHECK(ps_bounds_free("x", x, 4, NULL, 0, &hi, 1, back) == PS_OK, "upper free");
        for (int i = 0; i < 4; i++)
            CHECK_CLOSE(back[i], u[i], 1e-12, "upper round trip");
        ctx.c = T_OFFSET_MULT;
        eval_t(&ctx, u, 4, x);
        ps_offset_multiplier_free("x", x, 4, &off, 1, &mult, 1, back);
        for (int i = 0; i < 4; i++)
            CHECK_CLOSE(back[i], u[i], 1e-14, "offset/multiplier round trip");
        ctx.c = T_SIMPLEX;
        eval_t(&ctx, u, 4, x);
        double total = 0.0;
        for (int i = 0; i < 5; i++) {
            total += x[i];
            CHECK(x[i] > 0.0, "simplex element %d is %g", i, x[i]);
        }
        CHECK_CLOSE(total, 1.0, 1e-15, "simplex sums to 1");
        CHECK(ps_simplex_free("x", x, 5, back) == PS_OK, "simplex free");
        for (int i = 0; i < 4; i++)
            CHECK_CLOSE(back[i], u[i], 1e-12, "simplex round trip");
        ctx.c = T_ORDERED;
        eval_t(&ctx, u, 4, x);
        for (int i = 1; i < 4; i++)
            CHECK(x[i] > x[i - 1], "ordered");
        CHECK(ps_ordered_free("x", x, 4, back) == PS_OK, "ordered free");
        for (int i = 0; i < 4; i++)
            CHECK_CLOSE(back[i], u[i], 1e-12, "ordered round trip");
        ctx.c = T_POS_ORDERED;
        eval_t(&ctx, u, 4, x);
        CHECK(x[0] > 0.0, "positive_ordered starts positive");
        CHECK(ps_positive_ordered_free("x", x, 4, back) == PS_OK, "positive_ordered free");
        for (int i = 0; i < 4; i++)
            CHECK_CLOSE(back[i], u[i], 1e-12, "positive_ordered round trip");
        ctx.c = T_CHOL_CORR;
        eval_t(&ctx, u, 6, x);
        for (int i = 0; i < 4; i++) {
            double s = 0.0;
            for (int j = 0; j <= i; j++)
                s += x[i + 4 * j] * x[i + 4 * j];
            CHECK_CLOSE(s, 1.0, 1e-14, "rows of a correlation Cholesky factor have unit length");
            CHECK(x[i + 4 * i] > 0.0, "positive diagonal");
        }
        CHECK(ps_cholesky_corr_free("L", x, 4, back) == PS_OK, "cholesky_corr free");
        for (int i = 0; i < 6; i++)
            CHECK_CLOSE(back[i], u[i], 1e-10, "cholesky_corr round trip");
        ctx.c = T_COV;
        eval_t(&ctx, u, 6, x);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                CHECK(x[i + 3 * j] == x[j + 3 * i], "cov_matrix symmetric");
        CHECK(ps_cov_matrix_free("S", x, 3, back) == PS_OK, "cov_matrix free");
        for (int i = 0; i < 6; i++)
            CHECK_CLOSE(back[i], u[i], 1e-12, "cov_matrix round trip");
    }
    double out[4], lo = 0.0, v = -0.5, notsimplex[3] = {0.5, 0.6, -0.1}, unordered[3] = {1, 0.5, 2};
    CHECK(ps_bounds_free("sigma", &v, 1, &lo, 1, NULL, 0, out) == PS_ERR_DATA, "below lower");
    CHECK_STR_CONTAINS(ps_error_message(), "sigma[1] is -0.5");
    ps_error_clear();
    CHECK(ps_simplex_free("theta", notsimplex, 3, out) == PS_ERR_DATA, "not a simplex");
    ps_error_clear();
    CHECK(ps_ordered_free("c", unordered, 3, out) == PS_ERR_DATA, "not ordered");
    ps_error_clear();
    double indefinite[4] = {1, 2, 2, 1};
    CHECK(ps_cov_matrix_free("S", indefinite, 2, out) == PS_ERR_DATA, "not positive definite");
    ps_error_clear();
    CHECK(ps_simplex_free_size(5) == 4 && ps_cholesky_corr_free_size(4) == 6 &&
              ps_cov_matrix_free_size(3) == 6 && ps_cholesky_corr_free_size(0) == 0,
          "free sizes");
}

int main(void)
{
    check_init_weights();
    test_log_jacobians();
    test_gradients();
    test_inverses();
    TEST_EXIT();
}
