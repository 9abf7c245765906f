/*
 * The autodiff tape and its primitives: values against direct computations, gradients
 * against finite differences at several pseudo-random points, broadcasting, indexing
 * errors, no allocation after warm-up, and allocation failures at every point of a
 * workspace's life.
 */
#include <stdbool.h>

#include "ad/ad.h"
#include "ad_check.h"
#include "core/core.h"

#define TOL 1e-6
#define NPOINTS 3

static ps_adv seg(ps_adv th, long start, size_t len)
{
    ps_adv s;
    ps_ad_segment(th, start, len, &s);
    return s;
}

static ps_adv reshape(ps_adv x, size_t r, size_t c)
{
    ps_adv y;
    ps_ad_reshape(x, r, c, &y);
    return y;
}

/* ---------------------------------------------------------------------------------------
 * Tape basics
 * ------------------------------------------------------------------------------------- */

static void test_tape_basics(void)
{
    ps_ad_tape *tape = NULL;
    CHECK(ps_ad_tape_create(&tape) == PS_OK, "tape created");
    double theta[3] = {0.5, -1.25, 2.0};
    double data[3] = {1.5, 2.5, -0.5};
    ps_ad_tape_begin(tape, true);
    ps_adv th, d = ps_ad_data(data, 3, 1), p, s;
    CHECK(ps_ad_params(tape, theta, 3, &th) == PS_OK, "params");
    CHECK(th.var && th.a != NULL && th.v != theta, "params are var with adjoints, copied");
    CHECK(!d.var && d.a == NULL && d.v == data, "data is constant and not copied");
    ps_ad_mul(tape, th, d, &p);
    ps_ad_sum(tape, p, &s);
    ps_ad_target_add(tape, s);
    ps_ad_target_add_const(tape, 10.0);
    double want = 0.5 * 1.5 - 1.25 * 2.5 - 2.0 * 0.5 + 10.0;
    CHECK_CLOSE(ps_ad_target(tape), want, 1e-15, "target of sum(theta .* data) + 10");
    CHECK(ps_ad_tape_grad(tape) == PS_OK, "reverse sweep");
    for (int i = 0; i < 3; i++)
        CHECK(th.a[i] == data[i], "gradient[%d] is %g, expected %g", i, th.a[i], data[i]);
    ps_ad_tape_stats st;
    ps_ad_tape_get_stats(tape, &st);
    CHECK(st.nodes == 3, "3 nodes recorded (mul, sum, target), got %zu", st.nodes);

    /* Constant operations record nothing. */
    ps_ad_tape_begin(tape, true);
    ps_adv c1, c2;
    ps_ad_const(tape, 2.0, &c1);
    ps_ad_unary(tape, PS_AD_EXP, d, &c2);
    ps_ad_tape_get_stats(tape, &st);
    CHECK(st.nodes == 0 && !c2.var && c2.a == NULL, "constants make no nodes (%zu)", st.nodes);

    /* Value-only mode: var tracked, no adjoints, no nodes; grad refuses. */
    ps_ad_tape_begin(tape, false);
    ps_ad_params(tape, theta, 3, &th);
    ps_ad_mul(tape, th, d, &p);
    CHECK(th.var && th.a == NULL && p.var && p.a == NULL, "value-only keeps var flags");
    ps_ad_tape_get_stats(tape, &st);
    CHECK(st.nodes == 0, "value-only records no nodes (%zu)", st.nodes);
    CHECK(ps_ad_tape_grad(tape) == PS_ERR_INTERNAL, "grad on a value-only evaluation fails");
    ps_error_clear();

    /* Broadcast mismatch is a model error naming the operation. */
    ps_ad_tape_begin(tape, true);
    double two[2] = {1, 2};
    CHECK(ps_ad_add(tape, d, ps_ad_data(two, 2, 1), &p) == PS_ERR_MODEL, "size mismatch");
    CHECK_STR_CONTAINS(ps_error_message(), "add");
    ps_error_clear();

    /* Names round-trip. */
    for (int op = 0; op < PS_AD_UNOP_COUNT_; op++) {
        ps_ad_unop u;
        CHECK(ps_ad_unop_lookup(ps_ad_unop_name((ps_ad_unop)op), &u) && (int)u == op,
              "unary name %s", ps_ad_unop_name((ps_ad_unop)op));
    }
    for (int op = 0; op < PS_AD_BINOP_COUNT_; op++) {
        ps_ad_binop b;
        CHECK(ps_ad_binop_lookup(ps_ad_binop_name((ps_ad_binop)op), &b) && (int)b == op,
              "binary name %s", ps_ad_binop_name((ps_ad_binop)op));
    }
    ps_ad_unop u;
    CHECK(!ps_ad_unop_lookup("no_such_function", &u), "unknown name");
    ps_ad_tape_destroy(&tape);
    CHECK(tape == NULL, "destroy sets NULL");
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * Elementwise binary operations with every broadcasting form
 * ------------------------------------------------------------------------------------- */

typedef struct bin_ctx {
    ps_ad_binop op;
    int form; /* 0 vec-vec, 1 scalar-vec, 2 vec-scalar, 3 vec-data, 4 data-vec, 5 same,
                 6 scalar-scalar */
} bin_ctx;

static double bin_data[5] = {0.71, 1.33, 0.52, 1.9, 0.87};

static ps_status build_bin(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    bin_ctx *c = p;
    ps_adv a = seg(th, 1, 5), b = seg(th, 6, 5), s = seg(th, 11, 1);
    ps_adv d = ps_ad_data(bin_data, 5, 1);
    switch (c->form) {
    case 0:
        return ps_ad_binary(tape, c->op, a, b, out);
    case 1:
        return ps_ad_binary(tape, c->op, s, b, out);
    case 2:
        return ps_ad_binary(tape, c->op, a, s, out);
    case 3:
        return ps_ad_binary(tape, c->op, a, d, out);
    case 4:
        return ps_ad_binary(tape, c->op, d, b, out);
    case 5:
        return ps_ad_binary(tape, c->op, a, a, out);
    default:
        return ps_ad_binary(tape, c->op, seg(th, 1, 1), s, out);
    }
}

static void test_binary(void)
{
    for (int op = 0; op < PS_AD_BINOP_COUNT_; op++) {
        for (int form = 0; form < 7; form++) {
            bin_ctx c = {(ps_ad_binop)op, form};
            if (op == PS_AD_LOG_DIFF_EXP && form == 5)
                continue; /* log(e^a - e^a) = -inf */
            for (int pt = 0; pt < NPOINTS; pt++) {
                double th[11];
                for (int i = 0; i < 11; i++) {
                    /* a in [2, 3], b and the scalar in [0.3, 1.2]: valid for every
                     * operation (a > b for log_diff_exp and lchoose). */
                    th[i] = i < 5 ? check_uniform(2.0, 3.0) : check_uniform(0.3, 1.2);
                }
                if (op == PS_AD_LOG_DIFF_EXP && form == 4)
                    for (int i = 5; i < 10; i++)
                        th[i] = check_uniform(-1.0, 0.2); /* b below the data */
                if (op == PS_AD_LCHOOSE && form == 4)
                    for (int i = 5; i < 10; i++)
                        th[i] = check_uniform(0.0, 0.5);
                if (op == PS_AD_LCHOOSE && form == 1)
                    th[10] = check_uniform(3.0, 4.0);
                if ((op == PS_AD_FMIN || op == PS_AD_FMAX) && form == 5)
                    continue;
                if (op == PS_AD_LOG_DIFF_EXP && form == 1)
                    th[10] = check_uniform(2.0, 3.0);
                char name[64];
                snprintf(name, sizeof name, "%s form %d", ps_ad_binop_name((ps_ad_binop)op), form);
                check_gradient(name, build_bin, &c, th, 11, TOL);
            }
        }
    }
    /* Values of a few against direct formulas. */
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    double a[3] = {1.5, -2.0, 0.25}, b = 3.0;
    ps_adv out, A = ps_ad_data(a, 3, 1), B = ps_ad_data(&b, 1, 1);
    ps_ad_binary(tape, PS_AD_POW, A, B, &out);
    CHECK(out.rows == 3 && out.cols == 1, "broadcast shape %zu x %zu", out.rows, out.cols);
    CHECK_CLOSE(out.v[1], -8.0, 1e-15, "pow(-2, 3)");
    ps_ad_binary(tape, PS_AD_DIV, B, A, &out);
    CHECK_CLOSE(out.v[2], 12.0, 1e-15, "3 / 0.25");
    ps_ad_binary(tape, PS_AD_SUB, B, A, &out);
    CHECK_CLOSE(out.v[1], 5.0, 1e-15, "3 - (-2)");
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * Unary functions
 * ------------------------------------------------------------------------------------- */

static ps_status build_un(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    ps_ad_unop op = *(ps_ad_unop *)p;
    return ps_ad_unary(tape, op, reshape(th, 2, 2), out);
}

static void unary_range(ps_ad_unop op, double *lo, double *hi)
{
    *lo = -2.0;
    *hi = 2.0;
    switch (op) {
    case PS_AD_LOG:
    case PS_AD_SQRT:
    case PS_AD_CBRT:
    case PS_AD_INV_SQRT:
    case PS_AD_LGAMMA:
    case PS_AD_DIGAMMA:
    case PS_AD_TGAMMA:
    case PS_AD_LOG2:
    case PS_AD_LOG10:
    case PS_AD_INV:
    case PS_AD_INV_SQUARE:
        *lo = 0.3;
        *hi = 4.0;
        break;
    case PS_AD_LOGIT:
    case PS_AD_INV_PHI:
        *lo = 0.05;
        *hi = 0.95;
        break;
    case PS_AD_LOG1M:
    case PS_AD_LOG1P:
    case PS_AD_ASIN:
    case PS_AD_ACOS:
    case PS_AD_ATANH:
        *lo = -0.9;
        *hi = 0.9;
        break;
    case PS_AD_LOG1M_EXP:
        *lo = -3.0;
        *hi = -0.1;
        break;
    case PS_AD_ACOSH:
        *lo = 1.2;
        *hi = 3.0;
        break;
    case PS_AD_FABS:
        *lo = 0.2;
        *hi = 2.0;
        break;
    case PS_AD_TAN:
        *lo = -1.2;
        *hi = 1.2;
        break;
    case PS_AD_FLOOR:
    case PS_AD_CEIL:
    case PS_AD_ROUND:
    case PS_AD_TRUNC:
        *lo = 1.1; /* away from the jumps, so finite differences see the zero slope */
        *hi = 1.4;
        break;
    default:
        break;
    }
}

static void test_unary(void)
{
    for (int op = 0; op < PS_AD_UNOP_COUNT_; op++) {
        ps_ad_unop u = (ps_ad_unop)op;
        double lo, hi;
        unary_range(u, &lo, &hi);
        for (int pt = 0; pt < NPOINTS; pt++) {
            double th[4];
            for (int i = 0; i < 4; i++)
                th[i] = check_uniform(lo, hi);
            if (op == PS_AD_FABS && pt == 1)
                th[0] = -th[0];
            if (op == PS_AD_STEP)
                th[0] = th[0] == 0.0 ? 0.5 : th[0];
            check_gradient(ps_ad_unop_name(u), build_un, &u, th, 4, TOL);
        }
    }
    /* lgamma at negative non-integers and digamma there too. */
    ps_ad_unop u = PS_AD_LGAMMA;
    double th[4] = {-0.5, -1.3, -2.7, 0.6};
    check_gradient("lgamma negative", build_un, &u, th, 4, TOL);
    u = PS_AD_DIGAMMA;
    check_gradient("digamma negative", build_un, &u, th, 4, TOL);
    /* step() is constant. */
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    ps_adv x, y;
    double v[2] = {-1.0, 0.0};
    ps_ad_params(tape, v, 2, &x);
    ps_ad_unary(tape, PS_AD_STEP, x, &y);
    CHECK(!y.var && y.v[0] == 0.0 && y.v[1] == 1.0, "step(-1) = 0, step(0) = 1, constant");
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * fma, reductions and vector functions
 * ------------------------------------------------------------------------------------- */

typedef enum {
    R_FMA_VVV,
    R_FMA_SSV,
    R_FMA_VSV,
    R_FMA_SVS,
    R_FMA_DATA,
    R_SUM,
    R_MEAN,
    R_VARIANCE,
    R_SD,
    R_DOT,
    R_DOT_SELF,
    R_SQDIST,
    R_LSE,
    R_MAX,
    R_MIN,
    R_PROD,
    R_CUMSUM,
    R_SOFTMAX,
    R_LOG_SOFTMAX,
    R_LOG_MIX,
    R_LOG_MIX_SCALAR,
    R_COUNT
} red_case;

static const char *const red_names[R_COUNT] = {
    "fma vvv",  "fma ssv", "fma vsv", "fma svs",  "fma data",         "sum",     "mean",
    "variance", "sd",      "dot",     "dot_self", "squared_distance", "lse",     "max",
    "min",      "prod",    "cumsum",  "softmax",  "log_softmax",      "log_mix", "log_mix scalar"};

static ps_status build_red(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    red_case c = *(red_case *)p;
    ps_adv a = seg(th, 1, 4), b = seg(th, 5, 4), s = seg(th, 9, 1), t = seg(th, 10, 1);
    ps_adv d = ps_ad_data(bin_data, 4, 1);
    switch (c) {
    case R_FMA_VVV:
        return ps_ad_fma(tape, a, b, d, out);
    case R_FMA_SSV:
        return ps_ad_fma(tape, s, t, b, out);
    case R_FMA_VSV:
        return ps_ad_fma(tape, a, s, b, out);
    case R_FMA_SVS:
        return ps_ad_fma(tape, s, a, t, out);
    case R_FMA_DATA:
        return ps_ad_fma(tape, d, s, a, out);
    case R_SUM:
        return ps_ad_sum(tape, a, out);
    case R_MEAN:
        return ps_ad_mean(tape, a, out);
    case R_VARIANCE:
        return ps_ad_variance(tape, a, out);
    case R_SD:
        return ps_ad_sd(tape, a, out);
    case R_DOT:
        return ps_ad_dot_product(tape, a, b, out);
    case R_DOT_SELF:
        return ps_ad_dot_self(tape, a, out);
    case R_SQDIST:
        return ps_ad_squared_distance(tape, a, b, out);
    case R_LSE:
        return ps_ad_log_sum_exp(tape, a, out);
    case R_MAX:
        return ps_ad_max(tape, a, out);
    case R_MIN:
        return ps_ad_min(tape, a, out);
    case R_PROD:
        return ps_ad_prod(tape, a, out);
    case R_CUMSUM:
        return ps_ad_cumulative_sum(tape, a, out);
    case R_SOFTMAX:
        return ps_ad_softmax(tape, a, out);
    case R_LOG_SOFTMAX:
        return ps_ad_log_softmax(tape, a, out);
    case R_LOG_MIX: {
        ps_adv theta;
        PS_CHECK(ps_ad_unary(tape, PS_AD_INV_LOGIT, b, &theta));
        return ps_ad_log_mix(tape, theta, a, d, out);
    }
    default: {
        ps_adv theta;
        PS_CHECK(ps_ad_unary(tape, PS_AD_INV_LOGIT, s, &theta));
        return ps_ad_log_mix(tape, theta, a, t, out);
    }
    }
}

static void test_reductions(void)
{
    for (int c = 0; c < R_COUNT; c++) {
        red_case rc = (red_case)c;
        for (int pt = 0; pt < NPOINTS; pt++) {
            double th[10];
            for (int i = 0; i < 10; i++)
                th[i] = check_uniform(-1.5, 1.5);
            check_gradient(red_names[c], build_red, &rc, th, 10, TOL);
        }
    }
    /* Values. */
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    double x[4] = {1.0, 2.0, 4.0, 7.0};
    ps_adv X = ps_ad_data(x, 4, 1), r;
    ps_ad_variance(tape, X, &r);
    CHECK_CLOSE(r.v[0], 7.0, 1e-15, "variance of 1 2 4 7");
    ps_ad_sd(tape, X, &r);
    CHECK_CLOSE(r.v[0], sqrt(7.0), 1e-15, "sd");
    ps_ad_log_sum_exp(tape, X, &r);
    CHECK_CLOSE(r.v[0], log(exp(1.0) + exp(2.0) + exp(4.0) + exp(7.0)), 1e-15, "log_sum_exp");
    ps_ad_cumulative_sum(tape, X, &r);
    CHECK(r.v[3] == 14.0 && r.v[1] == 3.0, "cumulative_sum");
    ps_ad_prod(tape, X, &r);
    CHECK(r.v[0] == 56.0, "prod");
    double big[2] = {1000.0, 1000.0};
    ps_ad_log_sum_exp(tape, ps_ad_data(big, 2, 1), &r);
    CHECK_CLOSE(r.v[0], 1000.0 + log(2.0), 1e-15, "log_sum_exp without overflow");
    ps_ad_softmax(tape, ps_ad_data(big, 2, 1), &r);
    CHECK(r.v[0] == 0.5, "softmax of large equal values is 0.5, got %g", r.v[0]);
    double th = 1.5;
    CHECK(ps_ad_log_mix(tape, ps_ad_data(&th, 1, 1), X, X, &r) == PS_ERR_NUMERIC,
          "log_mix with theta 1.5 is a domain error");
    CHECK_STR_CONTAINS(ps_ad_tape_message(tape), "log_mix");
    /* prod with a zero keeps exact derivatives. */
    ps_ad_tape_begin(tape, true);
    double z[3] = {2.0, 0.0, 3.0};
    ps_adv Z;
    ps_ad_params(tape, z, 3, &Z);
    ps_ad_prod(tape, Z, &r);
    ps_ad_target_add(tape, r);
    ps_ad_tape_grad(tape);
    CHECK(Z.a[0] == 0.0 && Z.a[1] == 6.0 && Z.a[2] == 0.0, "d prod with a zero: %g %g %g", Z.a[0],
          Z.a[1], Z.a[2]);
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * Building and indexing
 * ------------------------------------------------------------------------------------- */

typedef enum {
    I_TRANSPOSE,
    I_REP,
    I_FROM_SCALARS,
    I_APPEND_ROW,
    I_APPEND_COL,
    I_ELEM,
    I_GATHER,
    I_GATHER_ROWS,
    I_SEGMENT,
    I_COL,
    I_ROW,
    I_BLOCK,
    I_HEAD_TAIL,
    I_COUNT
} idx_case;

static const int gather_idx[7] = {3, 1, 3, 6, 2, 2, 3};

static ps_status build_idx(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    idx_case c = *(idx_case *)p;
    ps_adv m = reshape(seg(th, 1, 6), 3, 2), v = seg(th, 7, 3), e;
    switch (c) {
    case I_TRANSPOSE:
        return ps_ad_transpose(tape, m, out);
    case I_REP:
        PS_CHECK(ps_ad_elem(v, 2, &e));
        return ps_ad_rep(tape, e, 2, 3, out);
    case I_FROM_SCALARS: {
        ps_adv el[4];
        PS_CHECK(ps_ad_elem(v, 3, &el[0]));
        PS_CHECK(ps_ad_elem2(m, 2, 2, &el[1]));
        PS_CHECK(ps_ad_const(tape, 4.5, &el[2]));
        PS_CHECK(ps_ad_elem(v, 3, &el[3]));
        return ps_ad_from_scalars(tape, el, 2, 2, out);
    }
    case I_APPEND_ROW:
        return ps_ad_append_row(tape, m, reshape(seg(th, 7, 2), 1, 2), out);
    case I_APPEND_COL:
        return ps_ad_append_col(tape, m, v, out);
    case I_ELEM: {
        ps_adv a, b;
        PS_CHECK(ps_ad_elem2(m, 3, 2, &a));
        PS_CHECK(ps_ad_elem(v, 1, &b));
        return ps_ad_mul(tape, a, b, out);
    }
    case I_GATHER:
        return ps_ad_gather(tape, seg(th, 1, 6), ps_ad_int_data(gather_idx, 7), out);
    case I_GATHER_ROWS:
        return ps_ad_gather(tape, m, ps_ad_int_data(gather_idx, 3), out);
    case I_SEGMENT:
        return ps_ad_segment(th, 2, 5, out);
    case I_COL:
        return ps_ad_col(m, 2, out);
    case I_ROW:
        return ps_ad_row(tape, m, 2, out);
    case I_BLOCK:
        return ps_ad_block(tape, m, 2, 1, 2, 2, out);
    default: {
        ps_adv h, t;
        PS_CHECK(ps_ad_head(v, 2, &h));
        PS_CHECK(ps_ad_tail(v, 2, &t));
        return ps_ad_mul(tape, h, t, out);
    }
    }
}

static void test_indexing(void)
{
    for (int c = 0; c < I_COUNT; c++) {
        idx_case ic = (idx_case)c;
        double th[9];
        for (int i = 0; i < 9; i++)
            th[i] = check_uniform(-2.0, 2.0);
        char name[32];
        snprintf(name, sizeof name, "indexing case %d", c);
        check_gradient(name, build_idx, &ic, th, 9, TOL);
    }
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    double v[6] = {1, 2, 3, 4, 5, 6};
    ps_adv V = ps_ad_data(v, 6, 1), M = ps_ad_data(v, 2, 3), r;
    ps_ad_gather(tape, V, ps_ad_int_data(gather_idx, 7), &r);
    CHECK(r.rows == 7 && r.v[0] == 3 && r.v[3] == 6 && r.v[6] == 3, "gather values");
    ps_ad_transpose(tape, M, &r);
    CHECK(r.rows == 3 && r.cols == 2 && r.v[1] == 3 && r.v[3] == 2, "transpose values");
    ps_ad_row(tape, M, 2, &r);
    CHECK(r.rows == 1 && r.cols == 3 && r.v[0] == 2 && r.v[2] == 6, "row values");
    ps_ad_append_col(tape, M, M, &r);
    CHECK(r.cols == 6 && r.v[7] == 2, "append_col values");
    int bad[2] = {1, 7};
    CHECK(ps_ad_gather(tape, V, ps_ad_int_data(bad, 2), &r) == PS_ERR_MODEL, "gather index 7 of 6");
    CHECK_STR_CONTAINS(ps_error_message(), "index 7");
    ps_error_clear();
    CHECK(ps_ad_elem(V, 0, &r) == PS_ERR_MODEL, "index 0");
    ps_error_clear();
    CHECK(ps_ad_segment(V, 4, 4, &r) == PS_ERR_MODEL, "segment past the end");
    ps_error_clear();
    CHECK(ps_ad_block(tape, M, 2, 2, 2, 1, &r) == PS_ERR_MODEL, "block past the end");
    ps_error_clear();
    CHECK(ps_ad_reshape(V, 4, 2, &r) == PS_ERR_MODEL, "reshape with a different size");
    ps_error_clear();
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * Linear algebra
 * ------------------------------------------------------------------------------------- */

typedef enum {
    L_MAT_MAT,
    L_MAT_VEC,
    L_ROW_MAT,
    L_ROW_VEC,
    L_OUTER,
    L_DATA_MAT_VEC,
    L_MAT_DATA,
    L_SCALAR,
    L_DIAG_PRE,
    L_DIAG_POST,
    L_DIAG_MATRIX,
    L_DIAGONAL,
    L_ADD_DIAG,
    L_ADD_DIAG_VEC,
    L_CROSSPROD,
    L_TCROSSPROD,
    L_QUAD_FORM_VEC,
    L_QUAD_FORM_MAT,
    L_TRI_LEFT_VEC,
    L_TRI_LEFT_MAT,
    L_TRI_RIGHT,
    L_MDIVIDE_LEFT,
    L_CHOLESKY,
    L_INVERSE,
    L_LOG_DET,
    L_TRACE,
    L_COUNT
} la_case;

static double la_data[12] = {0.3, -1.1, 0.7, 2.0, 0.4, -0.6, 1.2, 0.9, -0.2, 0.5, 1.4, -0.8};

/* A well-conditioned 3x3 from theta: A = B + 4 I. */
static ps_status square3(ps_ad_tape *tape, ps_adv th, ps_adv *a)
{
    static const double four = 4.0;
    return ps_ad_add_diag(tape, reshape(seg(th, 1, 9), 3, 3), ps_ad_data(&four, 1, 1), a);
}

static ps_status build_la(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    la_case c = *(la_case *)p;
    ps_adv A23 = reshape(seg(th, 1, 6), 2, 3), B32 = reshape(seg(th, 7, 6), 3, 2);
    ps_adv v3 = seg(th, 10, 3), r3 = reshape(seg(th, 13, 3), 1, 3), A, L, t;
    switch (c) {
    case L_MAT_MAT:
        return ps_ad_multiply(tape, A23, B32, out);
    case L_MAT_VEC:
        return ps_ad_multiply(tape, A23, v3, out);
    case L_ROW_MAT:
        return ps_ad_multiply(tape, r3, B32, out);
    case L_ROW_VEC:
        return ps_ad_multiply(tape, r3, v3, out);
    case L_OUTER:
        return ps_ad_multiply(tape, v3, r3, out);
    case L_DATA_MAT_VEC:
        return ps_ad_multiply(tape, ps_ad_data(la_data, 4, 3), v3, out);
    case L_MAT_DATA:
        return ps_ad_multiply(tape, A23, ps_ad_data(la_data, 3, 4), out);
    case L_SCALAR:
        return ps_ad_multiply(tape, seg(th, 16, 1), A23, out);
    case L_DIAG_PRE:
        return ps_ad_diag_pre_multiply(tape, seg(th, 10, 2), A23, out);
    case L_DIAG_POST:
        return ps_ad_diag_post_multiply(tape, A23, v3, out);
    case L_DIAG_MATRIX:
        return ps_ad_diag_matrix(tape, v3, out);
    case L_DIAGONAL:
        return ps_ad_diagonal(tape, B32, out);
    case L_ADD_DIAG:
        return ps_ad_add_diag(tape, reshape(seg(th, 1, 9), 3, 3), seg(th, 16, 1), out);
    case L_ADD_DIAG_VEC:
        return ps_ad_add_diag(tape, reshape(seg(th, 1, 9), 3, 3), v3, out);
    case L_CROSSPROD:
        return ps_ad_crossprod(tape, A23, out);
    case L_TCROSSPROD:
        return ps_ad_tcrossprod(tape, A23, out);
    case L_QUAD_FORM_VEC:
        PS_CHECK(square3(tape, th, &A));
        return ps_ad_quad_form(tape, A, seg(th, 13, 3), out);
    case L_QUAD_FORM_MAT:
        PS_CHECK(square3(tape, th, &A));
        return ps_ad_quad_form(tape, A, reshape(seg(th, 10, 6), 3, 2), out);
    case L_TRI_LEFT_VEC:
        PS_CHECK(square3(tape, th, &L));
        return ps_ad_mdivide_left_tri_low(tape, L, seg(th, 13, 3), out);
    case L_TRI_LEFT_MAT:
        PS_CHECK(square3(tape, th, &L));
        return ps_ad_mdivide_left_tri_low(tape, L, reshape(seg(th, 10, 6), 3, 2), out);
    case L_TRI_RIGHT:
        PS_CHECK(square3(tape, th, &L));
        return ps_ad_mdivide_right_tri_low(tape, reshape(seg(th, 10, 6), 2, 3), L, out);
    case L_MDIVIDE_LEFT:
        PS_CHECK(square3(tape, th, &A));
        return ps_ad_mdivide_left(tape, A, reshape(seg(th, 10, 6), 3, 2), out);
    case L_CHOLESKY:
        /* A symmetric positive-definite matrix: S = B B^T + 3 I. */
        PS_CHECK(square3(tape, th, &A));
        PS_CHECK(ps_ad_tcrossprod(tape, A, &t));
        return ps_ad_cholesky_decompose(tape, t, out);
    case L_INVERSE:
        PS_CHECK(square3(tape, th, &A));
        return ps_ad_inverse(tape, A, out);
    case L_LOG_DET:
        PS_CHECK(square3(tape, th, &A));
        return ps_ad_log_determinant(tape, A, out);
    default:
        PS_CHECK(square3(tape, th, &A));
        return ps_ad_trace(tape, A, out);
    }
}

static void test_linalg(void)
{
    for (int c = 0; c < L_COUNT; c++) {
        la_case lc = (la_case)c;
        for (int pt = 0; pt < NPOINTS; pt++) {
            double th[16];
            for (int i = 0; i < 16; i++)
                th[i] = check_uniform(-1.0, 1.0);
            char name[32];
            snprintf(name, sizeof name, "linear algebra case %d", c);
            check_gradient(name, build_la, &lc, th, 16, TOL);
        }
    }
    /* Values against direct loops and identities. */
    ps_ad_tape *tape;
    ps_ad_tape_create(&tape);
    ps_ad_tape_begin(tape, true);
    ps_adv A = ps_ad_data(la_data, 4, 3), x = ps_ad_data(la_data + 3, 3, 1), r;
    ps_ad_multiply(tape, A, x, &r);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++)
            s += la_data[i + 4 * j] * la_data[3 + j];
        CHECK_CLOSE(r.v[i], s, 1e-14, "matrix-vector product element");
    }
    double s3[9] = {4, 2, 0.6, 2, 5, 1.5, 0.6, 1.5, 3};
    ps_adv S = ps_ad_data(s3, 3, 3), L, inv, ld, prod;
    CHECK(ps_ad_cholesky_decompose(tape, S, &L) == PS_OK, "cholesky");
    CHECK(L.v[3] == 0.0 && L.v[6] == 0.0 && L.v[7] == 0.0, "upper triangle zero");
    ps_adv Lt;
    ps_ad_transpose(tape, L, &Lt);
    ps_ad_multiply(tape, L, Lt, &prod);
    for (int i = 0; i < 9; i++)
        CHECK_CLOSE(prod.v[i], s3[i], 1e-14, "L L^T = S");
    ps_ad_inverse(tape, S, &inv);
    ps_ad_multiply(tape, S, inv, &prod);
    for (int i = 0; i < 9; i++)
        CHECK_CLOSE(prod.v[i], (i % 4 == 0) ? 1.0 : 0.0, 1e-14, "S inverse(S) = I");
    ps_ad_log_determinant(tape, S, &ld);
    double det = 4 * (5 * 3 - 1.5 * 1.5) - 2 * (2 * 3 - 1.5 * 0.6) + 0.6 * (2 * 1.5 - 5 * 0.6);
    CHECK_CLOSE(ld.v[0], log(det), 1e-14, "log_determinant");
    double ns[4] = {1, 2, 3, 1};
    CHECK(ps_ad_cholesky_decompose(tape, ps_ad_data(ns, 2, 2), &L) == PS_ERR_NUMERIC,
          "cholesky of a non-symmetric matrix");
    double nd[4] = {1, 2, 2, 1};
    CHECK(ps_ad_cholesky_decompose(tape, ps_ad_data(nd, 2, 2), &L) == PS_ERR_NUMERIC,
          "cholesky of an indefinite matrix");
    double sing[4] = {1, 2, 2, 4};
    CHECK(ps_ad_inverse(tape, ps_ad_data(sing, 2, 2), &L) == PS_ERR_NUMERIC, "singular inverse");
    CHECK(ps_ad_multiply(tape, A, A, &r) == PS_ERR_MODEL, "4x3 times 4x3");
    ps_error_clear();
    ps_ad_tape_destroy(&tape);
}

/* ---------------------------------------------------------------------------------------
 * Scalar code: a loop of scalar operations builds the same gradient as the vector form
 * ------------------------------------------------------------------------------------- */

static ps_status build_scalar_loop(ps_ad_tape *tape, ps_adv th, void *p, ps_adv *out)
{
    (void)p;
    ps_adv acc, e, t;
    PS_CHECK(ps_ad_const(tape, 0.0, &acc));
    for (long i = 1; i <= 8; i++) {
        PS_CHECK(ps_ad_elem(th, i, &e));
        PS_CHECK(ps_ad_unary(tape, PS_AD_SQUARE, e, &t));
        PS_CHECK(ps_ad_mul(tape, t, e, &t));
        PS_CHECK(ps_ad_unary(tape, PS_AD_SIN, t, &t));
        PS_CHECK(ps_ad_add(tape, acc, t, &acc));
    }
    *out = acc;
    return PS_OK;
}

static void test_scalar_code(void)
{
    double th[8];
    for (int i = 0; i < 8; i++)
        th[i] = check_uniform(-1.0, 1.0);
    check_gradient("scalar loop", build_scalar_loop, NULL, th, 8, TOL);
}

/* ---------------------------------------------------------------------------------------
 * Workspace memory: no allocation after warm-up; allocation failures
 * ------------------------------------------------------------------------------------- */

#define HN 2000
#define HJ 50
static int hg[HN];
static double hx[HN], hy[HN];

/* The hierarchical regression pattern: y ~ normal(a[g] + b[g] .* x, sigma), written with
 * generic primitives (the log density itself is tested in the math tests). */
static ps_status hier_eval(ps_ad_tape *tape, const double *theta, bool grad, double *lp)
{
    ps_ad_tape_begin(tape, grad);
    ps_adv th, za, zb, ag, bg, mu, r, sq, s;
    PS_CHECK(ps_ad_params(tape, theta, 2 * HJ, &th));
    PS_CHECK(ps_ad_segment(th, 1, HJ, &za));
    PS_CHECK(ps_ad_segment(th, HJ + 1, HJ, &zb));
    PS_CHECK(ps_ad_gather(tape, za, ps_ad_int_data(hg, HN), &ag));
    PS_CHECK(ps_ad_gather(tape, zb, ps_ad_int_data(hg, HN), &bg));
    PS_CHECK(ps_ad_fma(tape, ag, bg, ps_ad_data(hx, HN, 1), &mu));
    PS_CHECK(ps_ad_sub(tape, ps_ad_data(hy, HN, 1), mu, &r));
    PS_CHECK(ps_ad_dot_self(tape, r, &sq));
    PS_CHECK(ps_ad_mul(tape, sq, sq, &s));
    PS_CHECK(ps_ad_target_add(tape, s));
    if (grad)
        PS_CHECK(ps_ad_tape_grad(tape));
    *lp = ps_ad_target(tape);
    return PS_OK;
}

static void test_no_allocation(void)
{
    for (int i = 0; i < HN; i++) {
        hg[i] = 1 + (i * 37) % HJ;
        hx[i] = check_uniform(-1, 1);
        hy[i] = check_uniform(-1, 1);
    }
    double theta[2 * HJ];
    for (int i = 0; i < 2 * HJ; i++)
        theta[i] = check_uniform(-0.1, 0.1);
    ps_ad_tape *tape;
    CHECK(ps_ad_tape_create(&tape) == PS_OK, "tape");
    double lp;
    /* Warm-up: the first evaluation grows the stores, the next begin merges the chunks. */
    for (int i = 0; i < 2; i++)
        CHECK(hier_eval(tape, theta, true, &lp) == PS_OK, "warm-up evaluation");
    ps_ad_tape_stats st;
    ps_ad_tape_get_stats(tape, &st);
    CHECK(st.arena_chunks == 1, "one arena chunk after warm-up, %zu", st.arena_chunks);
    long before = ps_fault_alloc_count();
    for (int i = 0; i < 200; i++) {
        theta[i % (2 * HJ)] += 1e-3;
        hier_eval(tape, theta, i % 3 != 0, &lp);
    }
    long after = ps_fault_alloc_count();
    CHECK(after == before, "200 evaluations after warm-up allocated %ld times", after - before);
    ps_ad_tape_destroy(&tape);

    /* A reserved tape needs no warm-up at all. */
    CHECK(ps_ad_tape_create(&tape) == PS_OK, "tape");
    CHECK(ps_ad_tape_reserve(tape, st.arena_capacity, st.node_capacity) == PS_OK, "reserve");
    before = ps_fault_alloc_count();
    hier_eval(tape, theta, true, &lp);
    CHECK(ps_fault_alloc_count() == before, "a reserved tape allocates nothing");
    ps_ad_tape_destroy(&tape);
}

static void test_alloc_failures(void)
{
    double theta[2 * HJ];
    for (int i = 0; i < 2 * HJ; i++)
        theta[i] = 0.01 * i;
    double want = 0.0;
    {
        ps_ad_tape *tape;
        ps_ad_tape_create(&tape);
        hier_eval(tape, theta, true, &want);
        ps_ad_tape_destroy(&tape);
    }
    int failures = 0;
    bool finished = false;
    for (long n = 1; n < 1000 && !finished; n++) {
        long count0 = ps_fault_alloc_count();
        ps_fault_alloc_after(n);
        ps_ad_tape *tape = NULL;
        ps_status st = ps_ad_tape_create(&tape);
        double lp = 0.0;
        for (int k = 0; k < 3 && st == PS_OK; k++)
            st = hier_eval(tape, theta, true, &lp);
        long used = ps_fault_alloc_count() - count0;
        ps_fault_alloc_after(0);
        ps_ad_tape_destroy(&tape);
        /* The fault did not fire: every allocation point has been tried. */
        finished = used < n;
        if (st == PS_OK) {
            /* Either no fault, or one the tape absorbed (a failed chunk merge). */
            CHECK(lp == want, "with allocation %ld failing the result is %.17g, expected %.17g", n,
                  lp, want);
            continue;
        }
        CHECK(st == PS_ERR_MEM, "failure %ld gave status %d, expected PS_ERR_MEM", n, (int)st);
        ps_error_clear();
        failures++;
    }
    CHECK(finished, "the allocation points were not exhausted");
    CHECK(failures >= 3, "expected several allocation points, saw %d", failures);
}

int main(void)
{
    check_init_weights();
    test_tape_basics();
    test_binary();
    test_unary();
    test_reductions();
    test_indexing();
    test_linalg();
    test_scalar_code();
    test_no_allocation();
    test_alloc_failures();
    TEST_EXIT();
}
