/*
 * The builtin functions of the Stan subset on the autodiff engine: for every builtin
 * signature, how a call is evaluated (sm_fn_resolve). Element-wise operations become
 * unary/binary engine nodes on the whole container; reductions, linear algebra and log
 * densities call the engine's vector primitives (src/ad, src/math), so that a vectorised
 * model costs a handful of nodes. A few functions are composed from primitives (columns
 * dot products, quad_form_diag, determinant) or written here with the engine's public
 * primitive-writing API (fmod, the lower-triangle mask). Int-valued functions are
 * evaluated without the tape.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "math/blas.h"
#include "math/kernels.h"
#include "math/dens.h"
#include "math/special.h"
#include "model/stan_impl.h"

#define R(i) (args[i].x)

static ps_adi ints_of(const sval *a)
{
    return ps_ad_int_data(a->iv, sshape_count(&a->s));
}

static bool is_scalar(const sval *a)
{
    return a->s.nd == 0 && (a->s.base == PS_STAN_REAL || a->s.base == PS_STAN_INT);
}

/* A non-array result of the static type of e with the ps_adv's rows and columns. */
static void out_plain(sval *out, ps_adv x, ps_stan_base base)
{
    sshape s;
    memset(&s, 0, sizeof s);
    s.base = base;
    s.r = (uint32_t)x.rows;
    s.c = (uint32_t)x.cols;
    if (base == PS_STAN_REAL)
        s.r = s.c = 1;
    sval_set_real(out, x, &s);
}

static ps_status scalar_out(ps_status st, ps_adv r, sval *out)
{
    if (st == PS_OK)
        *out = sval_real(r);
    return st;
}

/* A flat view of a value (n x 1). */
static ps_adv flat(const sval *a)
{
    ps_adv x = a->x;
    x.rows = ps_adv_size(x);
    x.cols = 1;
    return x;
}

static ps_status int_result(frame *f, size_t n, const sshape *s, int **v, sval *out)
{
    PS_CHECK(sm_alloc_ints(f, n, v));
    memset(out, 0, sizeof *out);
    out->s = *s;
    out->s.base = PS_STAN_INT;
    out->iv = *v;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Operators and shapes
 * ------------------------------------------------------------------------------------- */

static ps_status impl_identity(frame *f, const lx *e, const sval *args, sval *out)
{
    (void)f;
    (void)e;
    *out = args[0];
    return PS_OK;
}

static ps_status impl_transpose(frame *f, const lx *e, const sval *args, sval *out)
{
    (void)e;
    const sval *a = &args[0];
    ps_adv r;
    if (a->s.base == PS_STAN_VECTOR || a->s.base == PS_STAN_ROW_VECTOR) {
        PS_CHECK(ps_ad_reshape(a->x, a->x.cols, a->x.rows, &r));
        out_plain(out, r, a->s.base == PS_STAN_VECTOR ? PS_STAN_ROW_VECTOR : PS_STAN_VECTOR);
        return PS_OK;
    }
    PS_CHECK(ps_ad_transpose(f->tape, a->x, &r));
    out_plain(out, r, PS_STAN_MATRIX);
    return PS_OK;
}

static ps_status impl_matmul(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv r;
    if (args[0].x.cols != args[1].x.rows) {
        char a[96], b[96];
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "size mismatch in the product: %s * %s (columns of the left must equal "
                           "rows of the right)",
                           sshape_format(&args[0].s, a, sizeof a),
                           sshape_format(&args[1].s, b, sizeof b));
    }
    PS_CHECK(ps_ad_multiply(f->tape, R(0), R(1), &r));
    out_plain(out, r, (ps_stan_base)e->type.base);
    return PS_OK;
}

/* b / A = b A^{-1} = (A'^{-1} b')'. */
static ps_status impl_mdivide_right(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv bt, at, x, r;
    PS_CHECK(ps_ad_transpose(f->tape, R(0), &bt));
    PS_CHECK(ps_ad_transpose(f->tape, R(1), &at));
    PS_CHECK(ps_ad_mdivide_left(f->tape, at, bt, &x));
    PS_CHECK(ps_ad_transpose(f->tape, x, &r));
    out_plain(out, r, (ps_stan_base)e->type.base);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Scalar functions written here
 * ------------------------------------------------------------------------------------- */

static ps_status impl_fmod(frame *f, const lx *e, const sval *args, sval *out)
{
    (void)e;
    double a = R(0).v[0], b = R(1).v[0];
    double v = fmod(a, b);
    double d[2] = {1.0, -trunc(a / b)};
    ps_adv r;
    PS_CHECK(
        ps_ad_scalar_result(f->tape, v, R(0).var || R(1).var, (ps_adv[]){R(0), R(1)}, d, 2, &r));
    *out = sval_real(r);
    return PS_OK;
}

static ps_status impl_trigamma(frame *f, const lx *e, const sval *args, sval *out)
{
    (void)e;
    size_t n = ps_adv_size(R(0));
    double *v = NULL;
    ps_adv r;
    PS_CHECK(ps_ad_const_alloc(f->tape, R(0).rows, R(0).cols, &v, &r));
    for (size_t i = 0; i < n; i++)
        v[i] = ps_trigamma(R(0).v[i]);
    sval_set_real(out, r, &args[0].s);
    out->s.base = args[0].s.base == PS_STAN_INT ? PS_STAN_REAL : args[0].s.base;
    return PS_OK;
}

static ps_status impl_log_mix3(frame *f, const lx *e, const sval *args, sval *out)
{
    (void)e;
    ps_adv r;
    return scalar_out(ps_ad_log_mix(f->tape, R(0), R(1), R(2), &r), r, out);
}

/* log_mix(theta, lambda) = log_sum_exp(log(theta) + lambda), over each vector of lambda
 * when lambda is an array of vectors (the results are summed, as Stan does). */
static ps_status impl_log_mix_vec(frame *f, const lx *e, const sval *args, sval *out)
{
    size_t K = ps_adv_size(R(0));
    ps_adv lt, total = {0};
    PS_CHECK(ps_ad_unary(f->tape, PS_AD_LOG, flat(&args[0]), &lt));
    const sval *l = &args[1];
    bool array_of_vectors = l->s.nd == 1 && l->s.base != PS_STAN_REAL;
    size_t cells = array_of_vectors ? l->s.dim[0] : 1;
    size_t per = array_of_vectors ? (size_t)l->s.r * l->s.c : ps_adv_size(l->x);
    if (per != K)
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "size mismatch in log_mix: %zu mixing proportions, %zu log densities", K,
                           per);
    for (size_t c = 0; c < cells; c++) {
        ps_adv lam = {l->x.v + c * per, l->x.a ? l->x.a + c * per : NULL, per, 1, l->x.var};
        ps_adv s, r;
        PS_CHECK(ps_ad_add(f->tape, lt, lam, &s));
        PS_CHECK(ps_ad_log_sum_exp(f->tape, s, &r));
        if (c == 0)
            total = r;
        else
            PS_CHECK(ps_ad_add(f->tape, total, r, &total));
    }
    *out = sval_real(total);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Reductions
 * ------------------------------------------------------------------------------------- */

typedef ps_status (*reduce_fn)(ps_ad_tape *tape, ps_adv x, ps_adv *out);

static ps_status reduce(frame *f, const lx *e, const sval *args, sval *out, reduce_fn fn,
                        size_t min_n, const char *name)
{
    if (ps_adv_size(R(0)) < min_n)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "%s of a container of %zu elements", name,
                           ps_adv_size(R(0)));
    ps_adv r;
    return scalar_out(fn(f->tape, flat(&args[0]), &r), r, out);
}

static ps_status impl_sum(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_sum, 0, "sum");
}
static ps_status impl_prod(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_prod, 0, "prod");
}
static ps_status impl_mean(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_mean, 1, "mean");
}
static ps_status impl_variance(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_variance, 1, "variance");
}
static ps_status impl_sd(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_sd, 1, "sd");
}
static ps_status impl_log_sum_exp(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_log_sum_exp, 0, "log_sum_exp");
}
static ps_status impl_max(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_max, 0, "max");
}
static ps_status impl_min(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_min, 0, "min");
}
static ps_status impl_dot_self(frame *f, const lx *e, const sval *a, sval *o)
{
    return reduce(f, e, a, o, ps_ad_dot_self, 0, "dot_self");
}

static ps_status impl_dot_product(frame *f, const lx *e, const sval *args, sval *out)
{
    size_t na = ps_adv_size(R(0)), nb = ps_adv_size(R(1));
    if (na != nb)
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "size mismatch in dot_product: %zu and %zu elements", na, nb);
    ps_adv r;
    return scalar_out(ps_ad_dot_product(f->tape, flat(&args[0]), flat(&args[1]), &r), r, out);
}

static ps_status ones(frame *f, size_t rows, size_t cols, ps_adv *out)
{
    double *v = NULL;
    PS_CHECK(ps_ad_const_alloc(f->tape, rows, cols, &v, out));
    for (size_t i = 0; i < rows * cols; i++)
        v[i] = 1.0;
    return PS_OK;
}

/* columns_dot_product(a, b) = 1' (a .* b), rows_dot_product(a, b) = (a .* b) 1, and the
 * _self forms with b = a. */
static ps_status dots(frame *f, const lx *e, const sval *args, bool columns, bool self, sval *out)
{
    ps_adv a = R(0), b = self ? R(0) : R(1), p, r, one;
    if (a.rows != b.rows || a.cols != b.cols)
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "size mismatch: %zu x %zu and %zu x %zu operands", a.rows, a.cols,
                           b.rows, b.cols);
    PS_CHECK(ps_ad_mul(f->tape, a, b, &p));
    if (columns) {
        PS_CHECK(ones(f, 1, a.rows, &one));
        PS_CHECK(ps_ad_multiply(f->tape, one, p, &r));
        out_plain(out, r, PS_STAN_ROW_VECTOR);
    } else {
        PS_CHECK(ones(f, a.cols, 1, &one));
        PS_CHECK(ps_ad_multiply(f->tape, p, one, &r));
        out_plain(out, r, PS_STAN_VECTOR);
    }
    return PS_OK;
}
static ps_status impl_columns_dot_product(frame *f, const lx *e, const sval *a, sval *o)
{
    return dots(f, e, a, true, false, o);
}
static ps_status impl_rows_dot_product(frame *f, const lx *e, const sval *a, sval *o)
{
    return dots(f, e, a, false, false, o);
}
static ps_status impl_columns_dot_self(frame *f, const lx *e, const sval *a, sval *o)
{
    return dots(f, e, a, true, true, o);
}
static ps_status impl_rows_dot_self(frame *f, const lx *e, const sval *a, sval *o)
{
    return dots(f, e, a, false, true, o);
}

typedef ps_status (*vec_fn)(ps_ad_tape *tape, ps_adv x, ps_adv *out);

static ps_status same_shape(frame *f, const sval *in, vec_fn fn, sval *out)
{
    ps_adv r;
    PS_CHECK(fn(f->tape, in->x, &r));
    sval_set_real(out, r, &in->s);
    return PS_OK;
}
static ps_status impl_softmax(frame *f, const lx *e, const sval *a, sval *o)
{
    (void)e;
    return same_shape(f, &a[0], ps_ad_softmax, o);
}
static ps_status impl_log_softmax(frame *f, const lx *e, const sval *a, sval *o)
{
    (void)e;
    return same_shape(f, &a[0], ps_ad_log_softmax, o);
}
static ps_status impl_cumulative_sum(frame *f, const lx *e, const sval *args, sval *out)
{
    (void)e;
    if (args[0].s.base == PS_STAN_INT) {
        size_t n = sshape_count(&args[0].s);
        int *v = NULL;
        PS_CHECK(int_result(f, n, &args[0].s, &v, out));
        long long s = 0;
        for (size_t i = 0; i < n; i++) {
            s += args[0].iv[i];
            if (s > INT_MAX || s < INT_MIN)
                return sm_error_at(f, PS_ERR_MODEL, e->offset,
                                   "integer overflow in cumulative_sum");
            v[i] = (int)s;
        }
        return PS_OK;
    }
    ps_adv r;
    PS_CHECK(ps_ad_cumulative_sum(f->tape, flat(&args[0]), &r));
    sval_set_real(out, r, &args[0].s);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Int-valued functions (no tape)
 * ------------------------------------------------------------------------------------- */

static ps_status arg_value(frame *f, const lx *e, uint32_t i, sval *v)
{
    return sm_eval(e->args[i], f, v);
}

static ps_status ieval_size(const lx *e, frame *f, int *out)
{
    sval a;
    PS_CHECK(arg_value(f, e, 0, &a));
    size_t n;
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_SIZE:
        n = a.s.nd ? a.s.dim[0] : (size_t)a.s.r * a.s.c;
        break;
    case PS_STAN_FN_ROWS:
        n = a.s.r;
        break;
    case PS_STAN_FN_COLS:
        n = a.s.c;
        break;
    default:
        n = sshape_count(&a.s);
        break;
    }
    if (n > INT_MAX)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "the size does not fit in an int");
    *out = (int)n;
    return PS_OK;
}

static ps_status ieval_int_reduce(const lx *e, frame *f, int *out)
{
    sval a;
    PS_CHECK(arg_value(f, e, 0, &a));
    size_t n = sshape_count(&a.s);
    long long acc = e->fn == PS_STAN_FN_PROD ? 1 : 0;
    if (e->fn == PS_STAN_FN_MAX || e->fn == PS_STAN_FN_MIN) {
        if (n == 0)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "%s of an empty int array is not defined", e->name);
        acc = a.iv[0];
    }
    for (size_t i = 0; i < n; i++) {
        long long x = a.iv[i];
        switch ((ps_stan_fn)e->fn) {
        case PS_STAN_FN_SUM:
            acc += x;
            break;
        case PS_STAN_FN_PROD:
            acc *= x;
            break;
        case PS_STAN_FN_MAX:
            acc = x > acc ? x : acc;
            break;
        default:
            acc = x < acc ? x : acc;
            break;
        }
        if (acc > INT_MAX || acc < INT_MIN)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "integer overflow in %s", e->name);
    }
    *out = (int)acc;
    return PS_OK;
}

static ps_status ieval_int2(const lx *e, frame *f, int *out)
{
    int a, b = 0;
    PS_CHECK(sm_ieval(e->args[0], f, &a));
    if (e->n_args > 1)
        PS_CHECK(sm_ieval(e->args[1], f, &b));
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_MIN:
        *out = a < b ? a : b;
        return PS_OK;
    case PS_STAN_FN_MAX:
        *out = a > b ? a : b;
        return PS_OK;
    case PS_STAN_FN_ABS:
        if (a == INT_MIN)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "integer overflow in abs");
        *out = a < 0 ? -a : a;
        return PS_OK;
    case PS_STAN_FN_INT_STEP:
        *out = a > 0;
        return PS_OK;
    case PS_STAN_FN_CHOOSE: {
        if (a < 0 || b < 0)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "choose(%d, %d): the arguments must be non-negative", a, b);
        if (b > a) {
            *out = 0;
            return PS_OK;
        }
        double v = round(exp(ps_lchoose((double)a, (double)b)));
        if (!(v <= (double)INT_MAX))
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "choose(%d, %d) overflows an int", a, b);
        *out = (int)v;
        return PS_OK;
    }
    default:
        return sm_error_at(f, PS_ERR_INTERNAL, e->offset, "unknown int function");
    }
}

/* int_step, is_inf, is_nan of a real. */
static ps_status ieval_real_test(const lx *e, frame *f, int *out)
{
    sval a;
    PS_CHECK(arg_value(f, e, 0, &a));
    double x = a.x.v[0];
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_INT_STEP:
        *out = x > 0.0;
        return PS_OK;
    case PS_STAN_FN_IS_INF:
        *out = isinf(x) != 0;
        return PS_OK;
    default:
        *out = isnan(x) != 0;
        return PS_OK;
    }
}

static ps_status impl_abs_ints(frame *f, const lx *e, const sval *args, sval *out)
{
    size_t n = sshape_count(&args[0].s);
    int *v = NULL;
    PS_CHECK(int_result(f, n, &args[0].s, &v, out));
    for (size_t i = 0; i < n; i++) {
        if (args[0].iv[i] == INT_MIN)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "integer overflow in abs");
        v[i] = abs(args[0].iv[i]);
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Construction, slicing and reshaping
 * ------------------------------------------------------------------------------------- */

static ps_status int_arg(frame *f, const lx *e, const sval *a, const char *what, int min, int *v)
{
    *v = a->iv[0];
    if (*v < min)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "%s: %s is %d, but must be at least %d",
                           e->name, what, *v, min);
    return sm_check_elements(f, (size_t)*v, e->offset);
}

static ps_status impl_rep(frame *f, const lx *e, const sval *args, sval *out)
{
    int m = 1, n = 1;
    ps_adv r;
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_REP_VECTOR:
        PS_CHECK(int_arg(f, e, &args[1], "the size", 0, &m));
        PS_CHECK(ps_ad_rep(f->tape, R(0), (size_t)m, 1, &r));
        out_plain(out, r, PS_STAN_VECTOR);
        return PS_OK;
    case PS_STAN_FN_REP_ROW_VECTOR:
        PS_CHECK(int_arg(f, e, &args[1], "the size", 0, &n));
        PS_CHECK(ps_ad_rep(f->tape, R(0), 1, (size_t)n, &r));
        out_plain(out, r, PS_STAN_ROW_VECTOR);
        return PS_OK;
    default:
        break;
    }
    /* rep_matrix */
    if (e->n_args == 3) {
        PS_CHECK(int_arg(f, e, &args[1], "the number of rows", 0, &m));
        PS_CHECK(int_arg(f, e, &args[2], "the number of columns", 0, &n));
        PS_CHECK(sm_check_elements(f, (size_t)m * (size_t)n, e->offset));
        PS_CHECK(ps_ad_rep(f->tape, R(0), (size_t)m, (size_t)n, &r));
        out_plain(out, r, PS_STAN_MATRIX);
        return PS_OK;
    }
    PS_CHECK(int_arg(f, e, &args[1], "the number of copies", 0, &n));
    const sval *v = &args[0];
    size_t len = ps_adv_size(v->x), copies = (size_t)n;
    PS_CHECK(sm_check_elements(f, len * copies, e->offset));
    sshape s;
    memset(&s, 0, sizeof s);
    s.base = PS_STAN_MATRIX;
    bool col = v->s.base == PS_STAN_VECTOR;
    s.r = (uint32_t)(col ? len : copies);
    s.c = (uint32_t)(col ? copies : len);
    size_t total = len * copies;
    uint32_t *pos = NULL;
    double *p = NULL;
    PS_CHECK(ps_ad_alloc(f->tape, total / 2 + 1, &p));
    pos = (uint32_t *)(void *)p;
    for (size_t j = 0; j < s.c; j++)
        for (size_t i = 0; i < s.r; i++)
            pos[i + j * s.r] = (uint32_t)(col ? i : j);
    return sm_gather(f, v, pos, &s, out);
}

static ps_status impl_rep_array(frame *f, const lx *e, const sval *args, sval *out)
{
    const sval *v = &args[0];
    sshape s = v->s;
    size_t k = e->n_args - 1, copies = 1;
    if (s.nd + k > PS_STAN_MAX_ARRAY_DIMS)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "too many array dimensions");
    memmove(s.dim + k, s.dim, s.nd * sizeof(uint32_t));
    for (size_t i = 0; i < k; i++) {
        int n;
        PS_CHECK(int_arg(f, e, &args[1 + i], "the size", 0, &n));
        s.dim[i] = (uint32_t)n;
        copies *= (size_t)n;
    }
    s.nd = (uint8_t)(s.nd + k);
    size_t per = sshape_count(&v->s), total = per * copies;
    PS_CHECK(sm_check_elements(f, total, e->offset));
    if (total > 0xffffffffu)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "rep_array: the result is too large");
    double *p = NULL;
    PS_CHECK(ps_ad_alloc(f->tape, total / 2 + 1, &p));
    uint32_t *pos = (uint32_t *)(void *)p;
    for (size_t i = 0; i < total; i++)
        pos[i] = (uint32_t)(per ? i % per : 0);
    return sm_gather(f, v, pos, &s, out);
}

/* segment/head/tail of a vector, row vector or array (a run of cells): an alias. */
static ps_status impl_segment(frame *f, const lx *e, const sval *args, sval *out)
{
    const sval *v = &args[0];
    size_t len = v->s.nd ? v->s.dim[0] : sshape_count(&v->s);
    int start = 1, n = 0;
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_SEGMENT:
        start = args[1].iv[0];
        n = args[2].iv[0];
        break;
    case PS_STAN_FN_HEAD:
        n = args[1].iv[0];
        break;
    default:
        n = args[1].iv[0];
        start = (int)((long)len - n + 1);
        break;
    }
    if (n < 0 || start < 1 || (size_t)(start - 1) + (size_t)n > len)
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "%s: %d elements from index %d are out of range of a container of %zu "
                           "elements",
                           e->name, n, start, len);
    size_t per = v->s.nd ? sshape_count(&v->s) / (len ? len : 1) : 1;
    sshape s = v->s;
    if (s.nd)
        s.dim[0] = (uint32_t)n;
    else if (s.base == PS_STAN_VECTOR)
        s.r = (uint32_t)n;
    else
        s.c = (uint32_t)n;
    size_t off = (size_t)(start - 1) * per;
    if (v->s.base == PS_STAN_INT) {
        *out = *v;
        out->s = s;
        out->iv = v->iv + off;
        return PS_OK;
    }
    ps_adv x = {v->x.v + off, v->x.a ? v->x.a + off : NULL, 0, 0, v->x.var};
    sval_set_real(out, x, &s);
    return PS_OK;
}

/* reverse, sort_asc, sort_desc: a permutation of the cells (a gather). */
typedef struct sort_key {
    double key;
    uint32_t pos;
} sort_key;

static int cmp_key(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : 0;
}

/* Stable sort of positions by their keys (ties keep their order). */
static ps_status sort_positions(frame *f, uint32_t *pos, size_t n, const double *keys, bool desc)
{
    double *p = NULL;
    PS_CHECK(ps_ad_alloc(f->tape, 2 * n + 1, &p));
    sort_key *k = (sort_key *)(void *)p;
    for (size_t i = 0; i < n; i++)
        k[i] = (sort_key){desc ? -keys[i] : keys[i], (uint32_t)i};
    if (n > 1)
        qsort(k, n, sizeof *k, cmp_key);
    for (size_t i = 0; i < n; i++)
        pos[i] = k[i].pos;
    return PS_OK;
}

static ps_status impl_permute(frame *f, const lx *e, const sval *args, sval *out)
{
    const sval *v = &args[0];
    size_t n = v->s.nd ? v->s.dim[0] : sshape_count(&v->s);
    size_t per = n ? sshape_count(&v->s) / n : 0;
    size_t total = sshape_count(&v->s);
    double *p = NULL;
    PS_CHECK(ps_ad_alloc(f->tape, total / 2 + 1, &p));
    uint32_t *pos = (uint32_t *)(void *)p;
    if (e->fn == PS_STAN_FN_REVERSE) {
        for (size_t c = 0; c < n; c++)
            for (size_t k = 0; k < per; k++)
                pos[c * per + k] = (uint32_t)((n - 1 - c) * per + k);
        return sm_gather(f, v, pos, &v->s, out);
    }
    for (size_t i = 0; i < n; i++)
        pos[i] = (uint32_t)i;
    if (v->s.base == PS_STAN_INT) {
        double *keys = NULL;
        PS_CHECK(ps_ad_alloc(f->tape, n + 1, &keys));
        for (size_t i = 0; i < n; i++)
            keys[i] = (double)v->iv[i];
        PS_CHECK(sort_positions(f, pos, n, keys, e->fn == PS_STAN_FN_SORT_DESC));
    } else {
        for (size_t i = 0; i < n; i++)
            if (isnan(v->x.v[i]))
                return ps_ad_domain_error(f->tape, "%s: the value at %zu is nan", e->name, i + 1);
        PS_CHECK(sort_positions(f, pos, n, v->x.v, e->fn == PS_STAN_FN_SORT_DESC));
    }
    return sm_gather(f, v, pos, &v->s, out);
}

/* to_vector, to_row_vector, to_matrix, to_array_1d, to_array_2d. */
static ps_status impl_convert(frame *f, const lx *e, const sval *args, sval *out)
{
    const sval *v = &args[0];
    size_t n = sshape_count(&v->s);
    sshape s;
    memset(&s, 0, sizeof s);
    s.r = s.c = 1;
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_TO_VECTOR:
        s.base = PS_STAN_VECTOR;
        s.r = (uint32_t)n;
        break;
    case PS_STAN_FN_TO_ROW_VECTOR:
        s.base = PS_STAN_ROW_VECTOR;
        s.c = (uint32_t)n;
        break;
    case PS_STAN_FN_TO_ARRAY_1D:
        s.base = v->s.base == PS_STAN_INT ? PS_STAN_INT : PS_STAN_REAL;
        s.nd = 1;
        s.dim[0] = (uint32_t)n;
        break;
    case PS_STAN_FN_TO_ARRAY_2D: {
        /* matrix (column-major) to array[r, c] (row-major): a transposing gather. */
        s.base = PS_STAN_REAL;
        s.nd = 2;
        s.dim[0] = v->s.r;
        s.dim[1] = v->s.c;
        double *p = NULL;
        PS_CHECK(ps_ad_alloc(f->tape, n / 2 + 1, &p));
        uint32_t *pos = (uint32_t *)(void *)p;
        for (uint32_t i = 0; i < v->s.r; i++)
            for (uint32_t j = 0; j < v->s.c; j++)
                pos[(size_t)i * v->s.c + j] = (uint32_t)((size_t)j * v->s.r + i);
        return sm_gather(f, v, pos, &s, out);
    }
    default: { /* to_matrix */
        s.base = PS_STAN_MATRIX;
        if (e->n_args == 3) {
            int m = args[1].iv[0], k = args[2].iv[0];
            if (m < 0 || k < 0 || (size_t)m * (size_t)k != n)
                return sm_error_at(f, PS_ERR_MODEL, e->offset,
                                   "to_matrix: %zu elements cannot fill a %d x %d matrix", n, m, k);
            s.r = (uint32_t)m;
            s.c = (uint32_t)k;
            break;
        }
        if (v->s.nd == 0) {
            s.r = v->s.base == PS_STAN_ROW_VECTOR ? 1 : v->s.r;
            s.c = v->s.base == PS_STAN_ROW_VECTOR ? v->s.c : v->s.c;
            if (v->s.base == PS_STAN_VECTOR)
                s.c = 1;
            break;
        }
        /* array[m, n] real or array[m] row_vector[n]: row-major rows to a matrix. */
        uint32_t rows = v->s.dim[0];
        uint32_t cols = v->s.nd == 2 ? v->s.dim[1] : v->s.c;
        s.r = rows;
        s.c = cols;
        double *p = NULL;
        PS_CHECK(ps_ad_alloc(f->tape, n / 2 + 1, &p));
        uint32_t *pos = (uint32_t *)(void *)p;
        for (uint32_t j = 0; j < cols; j++)
            for (uint32_t i = 0; i < rows; i++)
                pos[(size_t)j * rows + i] = (uint32_t)((size_t)i * cols + j);
        return sm_gather(f, v, pos, &s, out);
    }
    }
    if (v->s.base == PS_STAN_INT) {
        *out = *v;
        out->s = s;
        return PS_OK;
    }
    sval_set_real(out, v->x, &s);
    return PS_OK;
}

static ps_status impl_append(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv r;
    bool row = e->fn == PS_STAN_FN_APPEND_ROW;
    ps_adv a = R(0), b = R(1);
    if (row ? a.cols != b.cols : a.rows != b.rows) {
        char sa[96], sb[96];
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "size mismatch in %s: %s and %s", e->name,
                           sshape_format(&args[0].s, sa, sizeof sa),
                           sshape_format(&args[1].s, sb, sizeof sb));
    }
    PS_CHECK(row ? ps_ad_append_row(f->tape, a, b, &r) : ps_ad_append_col(f->tape, a, b, &r));
    out_plain(out, r, (ps_stan_base)e->type.base);
    return PS_OK;
}

static ps_status impl_matrix_part(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv m = R(0), r;
    int i = args[1].iv[0];
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_COL:
        PS_CHECK(ps_ad_col(m, i, &r));
        out_plain(out, r, PS_STAN_VECTOR);
        return PS_OK;
    case PS_STAN_FN_ROW:
        PS_CHECK(ps_ad_row(f->tape, m, i, &r));
        out_plain(out, r, PS_STAN_ROW_VECTOR);
        return PS_OK;
    case PS_STAN_FN_BLOCK: {
        int j = args[2].iv[0], nr = args[3].iv[0], nc = args[4].iv[0];
        if (nr < 0 || nc < 0)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "block: negative size");
        PS_CHECK(ps_ad_block(f->tape, m, i, j, (size_t)nr, (size_t)nc, &r));
        out_plain(out, r, PS_STAN_MATRIX);
        return PS_OK;
    }
    case PS_STAN_FN_SUB_COL: {
        int j = args[2].iv[0], n = args[3].iv[0];
        if (n < 0 || i < 1 || j < 1 || (size_t)j > m.cols || (size_t)(i - 1) + (size_t)n > m.rows)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "sub_col: %d rows from (%d, %d) are out of range of a %zu x %zu "
                               "matrix",
                               n, i, j, m.rows, m.cols);
        size_t off = (size_t)(j - 1) * m.rows + (size_t)(i - 1);
        r = (ps_adv){m.v + off, m.a ? m.a + off : NULL, (size_t)n, 1, m.var};
        out_plain(out, r, PS_STAN_VECTOR);
        return PS_OK;
    }
    default: { /* sub_row */
        int j = args[2].iv[0], n = args[3].iv[0];
        if (n < 0)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "sub_row: negative size");
        PS_CHECK(ps_ad_block(f->tape, m, i, j, 1, (size_t)n, &r));
        out_plain(out, r, PS_STAN_ROW_VECTOR);
        return PS_OK;
    }
    }
}

/* ---------------------------------------------------------------------------------------
 * Linear algebra
 * ------------------------------------------------------------------------------------- */

static ps_status square_check(frame *f, const lx *e, ps_adv m)
{
    if (m.rows != m.cols)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "%s: the matrix is %zu x %zu, not square",
                           e->name, m.rows, m.cols);
    return PS_OK;
}

static ps_adv as_column(ps_adv v)
{
    v.rows = ps_adv_size(v);
    v.cols = 1;
    return v;
}

static ps_status impl_linalg(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv r, t;
    ps_ad_tape *tape = f->tape;
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_DIAGONAL:
        PS_CHECK(ps_ad_diagonal(tape, R(0), &r));
        break;
    case PS_STAN_FN_DIAG_MATRIX:
        PS_CHECK(ps_ad_diag_matrix(tape, as_column(R(0)), &r));
        break;
    case PS_STAN_FN_DIAG_PRE_MULTIPLY:
        if (ps_adv_size(R(0)) != R(1).rows)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "diag_pre_multiply: %zu elements for a matrix of %zu rows",
                               ps_adv_size(R(0)), R(1).rows);
        PS_CHECK(ps_ad_diag_pre_multiply(tape, as_column(R(0)), R(1), &r));
        break;
    case PS_STAN_FN_DIAG_POST_MULTIPLY:
        if (ps_adv_size(R(1)) != R(0).cols)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "diag_post_multiply: %zu elements for a matrix of %zu columns",
                               ps_adv_size(R(1)), R(0).cols);
        PS_CHECK(ps_ad_diag_post_multiply(tape, R(0), as_column(R(1)), &r));
        break;
    case PS_STAN_FN_ADD_DIAG:
        PS_CHECK(square_check(f, e, R(0)));
        PS_CHECK(ps_ad_add_diag(tape, R(0), is_scalar(&args[1]) ? R(1) : as_column(R(1)), &r));
        break;
    case PS_STAN_FN_QUAD_FORM:
    case PS_STAN_FN_QUAD_FORM_SYM:
        PS_CHECK(square_check(f, e, R(0)));
        if (R(0).rows != R(1).rows)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "%s: size mismatch (%zu and %zu rows)",
                               e->name, R(0).rows, R(1).rows);
        PS_CHECK(ps_ad_quad_form(tape, R(0), R(1), &r));
        if (e->type.base == PS_STAN_REAL) {
            *out = sval_real(r);
            return PS_OK;
        }
        break;
    case PS_STAN_FN_QUAD_FORM_DIAG:
        PS_CHECK(square_check(f, e, R(0)));
        if (ps_adv_size(R(1)) != R(0).rows)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "quad_form_diag: %zu elements for a %zu x %zu matrix",
                               ps_adv_size(R(1)), R(0).rows, R(0).cols);
        PS_CHECK(ps_ad_diag_post_multiply(tape, R(0), as_column(R(1)), &t));
        PS_CHECK(ps_ad_diag_pre_multiply(tape, as_column(R(1)), t, &r));
        break;
    case PS_STAN_FN_TRACE:
        PS_CHECK(ps_ad_trace(tape, R(0), &r));
        *out = sval_real(r);
        return PS_OK;
    case PS_STAN_FN_CHOLESKY_DECOMPOSE:
        PS_CHECK(square_check(f, e, R(0)));
        PS_CHECK(ps_ad_cholesky_decompose(tape, R(0), &r));
        break;
    case PS_STAN_FN_INVERSE:
    case PS_STAN_FN_INVERSE_SPD:
        PS_CHECK(square_check(f, e, R(0)));
        PS_CHECK(ps_ad_inverse(tape, R(0), &r));
        break;
    case PS_STAN_FN_LOG_DETERMINANT:
        PS_CHECK(square_check(f, e, R(0)));
        PS_CHECK(ps_ad_log_determinant(tape, R(0), &r));
        *out = sval_real(r);
        return PS_OK;
    case PS_STAN_FN_DETERMINANT: {
        /* det = sign * exp(log |det|); the sign is constant near the point. */
        PS_CHECK(square_check(f, e, R(0)));
        int n = (int)R(0).rows, info = 0;
        double *lu = NULL;
        int *ipiv = NULL;
        PS_CHECK(ps_ad_alloc(tape, (size_t)n * (size_t)n + 1, &lu));
        PS_CHECK(sm_alloc_ints(f, (size_t)n, &ipiv));
        memcpy(lu, R(0).v, (size_t)n * (size_t)n * sizeof(double));
        if (n > 0)
            dgetrf_(&n, &n, lu, &n, ipiv, &info);
        if (info > 0) {
            ps_adv z;
            PS_CHECK(ps_ad_const(tape, 0.0, &z));
            *out = sval_real(z);
            return PS_OK;
        }
        double sign = 1.0;
        for (int i = 0; i < n; i++)
            if ((ipiv[i] != i + 1) != (lu[(size_t)i * (size_t)n + (size_t)i] < 0.0))
                sign = -sign;
        ps_adv ld, ex, s;
        PS_CHECK(ps_ad_log_determinant(tape, R(0), &ld));
        PS_CHECK(ps_ad_unary(tape, PS_AD_EXP, ld, &ex));
        PS_CHECK(ps_ad_const(tape, sign, &s));
        PS_CHECK(ps_ad_mul(tape, s, ex, &r));
        *out = sval_real(r);
        return PS_OK;
    }
    case PS_STAN_FN_CROSSPROD:
        PS_CHECK(ps_ad_crossprod(tape, R(0), &r));
        break;
    case PS_STAN_FN_TCROSSPROD:
        PS_CHECK(ps_ad_tcrossprod(tape, R(0), &r));
        break;
    case PS_STAN_FN_MULTIPLY_LOWER_TRI_SELF_TRANSPOSE: {
        /* L L' with the strict upper triangle of the argument taken as zero. */
        ps_adv mask;
        double *mv = NULL;
        PS_CHECK(ps_ad_const_alloc(tape, R(0).rows, R(0).cols, &mv, &mask));
        for (size_t j = 0; j < R(0).cols; j++)
            for (size_t i = 0; i < R(0).rows; i++)
                mv[i + j * R(0).rows] = i >= j ? 1.0 : 0.0;
        PS_CHECK(ps_ad_mul(tape, R(0), mask, &t));
        PS_CHECK(ps_ad_tcrossprod(tape, t, &r));
        break;
    }
    case PS_STAN_FN_MDIVIDE_LEFT_TRI_LOW:
        PS_CHECK(square_check(f, e, R(0)));
        if (R(0).rows != R(1).rows)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "mdivide_left_tri_low: size mismatch (%zu and %zu rows)", R(0).rows,
                               R(1).rows);
        PS_CHECK(ps_ad_mdivide_left_tri_low(tape, R(0), R(1), &r));
        break;
    case PS_STAN_FN_MDIVIDE_RIGHT_TRI_LOW:
        PS_CHECK(square_check(f, e, R(1)));
        if (R(0).cols != R(1).rows)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "mdivide_right_tri_low: size mismatch (%zu columns and %zu rows)",
                               R(0).cols, R(1).rows);
        PS_CHECK(ps_ad_mdivide_right_tri_low(tape, R(0), R(1), &r));
        break;
    default:
        return sm_error_at(f, PS_ERR_INTERNAL, e->offset, "unknown linear algebra function");
    }
    out_plain(out, r, (ps_stan_base)e->type.base);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Constants
 * ------------------------------------------------------------------------------------- */

static ps_status impl_constant(frame *f, const lx *e, const sval *args, sval *out)
{
    (void)args;
    double v;
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_E:
        v = exp(1.0);
        break;
    case PS_STAN_FN_PI:
        v = PS_PI;
        break;
    case PS_STAN_FN_SQRT2:
        v = sqrt(2.0);
        break;
    case PS_STAN_FN_NOT_A_NUMBER:
        v = NAN;
        break;
    case PS_STAN_FN_POSITIVE_INFINITY:
        v = INFINITY;
        break;
    case PS_STAN_FN_NEGATIVE_INFINITY:
        v = -INFINITY;
        break;
    case PS_STAN_FN_MACHINE_PRECISION:
        v = 2.220446049250313e-16;
        break;
    case PS_STAN_FN_LOG2:
        v = PS_LOG_2;
        break;
    default: /* log10() */
        v = log(10.0);
        break;
    }
    ps_adv r;
    PS_CHECK(ps_ad_const(f->tape, v, &r));
    *out = sval_real(r);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Log densities of the engine
 * ------------------------------------------------------------------------------------- */

#define DENS3(name, call)                                                                          \
    static ps_status name(frame *f, const lx *e, const sval *args, sval *out)                      \
    {                                                                                              \
        ps_adv r;                                                                                  \
        ps_ad_tape *tape = f->tape;                                                                \
        bool propto = e->propto;                                                                   \
        return scalar_out(call, r, out);                                                           \
    }

DENS3(d_normal, ps_ad_normal_lpdf(tape, R(0), R(1), R(2), propto, &r))
DENS3(d_std_normal, ps_ad_std_normal_lpdf(tape, R(0), propto, &r))
DENS3(d_cauchy, ps_ad_cauchy_lpdf(tape, R(0), R(1), R(2), propto, &r))
DENS3(d_student_t, ps_ad_student_t_lpdf(tape, R(0), R(1), R(2), R(3), propto, &r))
DENS3(d_lognormal, ps_ad_lognormal_lpdf(tape, R(0), R(1), R(2), propto, &r))
DENS3(d_gamma, ps_ad_gamma_lpdf(tape, R(0), R(1), R(2), propto, &r))
DENS3(d_inv_gamma, ps_ad_inv_gamma_lpdf(tape, R(0), R(1), R(2), propto, &r))
DENS3(d_exponential, ps_ad_exponential_lpdf(tape, R(0), R(1), propto, &r))
DENS3(d_beta, ps_ad_beta_lpdf(tape, R(0), R(1), R(2), propto, &r))
DENS3(d_uniform, ps_ad_uniform_lpdf(tape, R(0), R(1), R(2), propto, &r))
DENS3(d_bernoulli, ps_ad_bernoulli_lpmf(tape, ints_of(&args[0]), R(1), propto, &r))
DENS3(d_bernoulli_logit, ps_ad_bernoulli_logit_lpmf(tape, ints_of(&args[0]), R(1), propto, &r))
DENS3(d_binomial, ps_ad_binomial_lpmf(tape, ints_of(&args[0]), ints_of(&args[1]), R(2), propto, &r))
DENS3(d_binomial_logit,
      ps_ad_binomial_logit_lpmf(tape, ints_of(&args[0]), ints_of(&args[1]), R(2), propto, &r))
DENS3(d_poisson, ps_ad_poisson_lpmf(tape, ints_of(&args[0]), R(1), propto, &r))
DENS3(d_poisson_log, ps_ad_poisson_log_lpmf(tape, ints_of(&args[0]), R(1), propto, &r))
DENS3(d_neg_binomial_2, ps_ad_neg_binomial_2_lpmf(tape, ints_of(&args[0]), R(1), R(2), propto, &r))

/* An argument of a multivariate density: a vector (D x 1) or an array of K vectors or
 * row vectors (D x K, the layout of the array). */
static ps_adv columns_of(const sval *a)
{
    ps_adv x = a->x;
    if (a->s.nd == 1) {
        size_t D = (size_t)a->s.r * a->s.c;
        x.rows = D;
        x.cols = a->s.dim[0];
    } else {
        x.rows = ps_adv_size(x);
        x.cols = 1;
    }
    return x;
}

static ps_status d_multi_normal(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv r;
    if (e->fn == PS_STAN_FN_MULTI_NORMAL_LPDF)
        PS_CHECK(ps_ad_multi_normal_lpdf(f->tape, columns_of(&args[0]), columns_of(&args[1]), R(2),
                                         e->propto, &r));
    else
        PS_CHECK(ps_ad_multi_normal_cholesky_lpdf(f->tape, columns_of(&args[0]),
                                                  columns_of(&args[1]), R(2), e->propto, &r));
    *out = sval_real(r);
    return PS_OK;
}

static ps_status d_dirichlet(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv th = columns_of(&args[0]), al = columns_of(&args[1]);
    size_t K = th.cols > al.cols ? th.cols : al.cols;
    if ((th.cols != 1 && th.cols != K) || (al.cols != 1 && al.cols != K) || th.rows != al.rows)
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "dirichlet: size mismatch between %zu x %zu probabilities and %zu x "
                           "%zu prior sizes",
                           th.rows, th.cols, al.rows, al.cols);
    ps_adv total = {0};
    for (size_t k = 0; k < K; k++) {
        size_t ot = th.cols == 1 ? 0 : k * th.rows, oa = al.cols == 1 ? 0 : k * al.rows;
        ps_adv t = {th.v + ot, th.a ? th.a + ot : NULL, th.rows, 1, th.var};
        ps_adv a = {al.v + oa, al.a ? al.a + oa : NULL, al.rows, 1, al.var};
        ps_adv r;
        PS_CHECK(ps_ad_dirichlet_lpdf(f->tape, t, a, e->propto, &r));
        if (k == 0)
            total = r;
        else
            PS_CHECK(ps_ad_add(f->tape, total, r, &total));
    }
    if (K == 0)
        PS_CHECK(ps_ad_const(f->tape, 0.0, &total));
    *out = sval_real(total);
    return PS_OK;
}

/* The design matrix of a GLM: a matrix, or a row vector (one row). */
static ps_status d_glm(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv r, X = R(1), alpha = is_scalar(&args[2]) ? R(2) : flat(&args[2]), beta = flat(&args[3]);
    if (X.cols != ps_adv_size(beta))
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "%s: the design matrix has %zu columns, but beta has %zu elements",
                           e->name, X.cols, ps_adv_size(beta));
    switch ((ps_stan_fn)e->fn) {
    case PS_STAN_FN_BERNOULLI_LOGIT_GLM_LPMF:
        PS_CHECK(ps_ad_bernoulli_logit_glm_lpmf(f->tape, ints_of(&args[0]), X, alpha, beta,
                                                e->propto, &r));
        break;
    case PS_STAN_FN_POISSON_LOG_GLM_LPMF:
        PS_CHECK(
            ps_ad_poisson_log_glm_lpmf(f->tape, ints_of(&args[0]), X, alpha, beta, e->propto, &r));
        break;
    default: {
        ps_adv y = is_scalar(&args[0]) ? R(0) : flat(&args[0]);
        ps_adv sigma = is_scalar(&args[4]) ? R(4) : flat(&args[4]);
        PS_CHECK(ps_ad_normal_id_glm_lpdf(f->tape, y, X, alpha, beta, sigma, e->propto, &r));
        break;
    }
    }
    *out = sval_real(r);
    return PS_OK;
}

/*
 * bernoulli_logit_glm and poisson_log_glm with constant outcomes and design matrix (the
 * usual regression: y and X are data): the outcomes were checked once at lowering, and
 * poisson's -sum log(y!) (a constant) was computed then too, so an evaluation is the fused
 * kernel pass over X (ps_kern_glm) and nothing else.
 */
static ps_status d_glm_data(frame *f, const lx *e, const sval *args, sval *out)
{
    bool poisson = e->fn == PS_STAN_FN_POISSON_LOG_GLM_LPMF;
    ps_adv X = R(1), alpha = is_scalar(&args[2]) ? R(2) : flat(&args[2]), beta = flat(&args[3]);
    size_t N = X.rows, K = X.cols;
    if (ps_adv_size(beta) != K || (ps_adv_size(alpha) != 1 && ps_adv_size(alpha) != N))
        return d_glm(f, e, args, out); /* the generic path reports the sizes */
    bool var = alpha.var || beta.var;
    ps_adv r;
    if (e->propto && !var) {
        PS_CHECK(ps_ad_const(f->tape, 0.0, &r));
        *out = sval_real(r);
        return PS_OK;
    }
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(f->tape, &P, (ps_adv[]){alpha, beta}, 2));
    double *dalpha = P.d[0], *dbeta = P.d[1], *dfull = NULL, *G = NULL, dsum = 0.0;
    size_t sa = ps_adv_size(alpha) == 1 ? 0 : 1;
    if (dalpha != NULL && sa)
        PS_CHECK(ps_ad_alloc(f->tape, N, &dfull));
    if (dbeta != NULL)
        PS_CHECK(ps_ad_alloc(f->tape, 4 * K, &G));
    double lp = ps_kern_glm(poisson ? 1 : 0, N, K, X.v, N, alpha.v, sa, beta.v, args[0].iv, dfull,
                            &dsum, dbeta, G);
    if (poisson && !e->propto)
        lp += e->konst;
    if (dalpha != NULL) {
        if (sa)
            for (size_t i = 0; i < N; i++)
                dalpha[i] += dfull[i];
        else
            dalpha[0] += dsum;
    }
    PS_CHECK(ps_ad_partials_finish(&P, lp, var, &r));
    *out = sval_real(r);
    return PS_OK;
}

bool sm_glm_specialise(lx *call)
{
    bool poisson = call->fn == PS_STAN_FN_POISSON_LOG_GLM_LPMF;
    if ((call->fn != PS_STAN_FN_BERNOULLI_LOGIT_GLM_LPMF && !poisson) || call->n_args != 4)
        return false;
    const lx *y = call->args[0], *X = call->args[1];
    if (!y->is_const || !X->is_const || X->type.base != PS_STAN_MATRIX)
        return false;
    size_t n = sshape_count(&y->cval.s);
    if (n != X->cval.s.r || n == 0)
        return false; /* a broadcast scalar outcome, or a size mismatch: the generic path */
    double log_fact = 0.0;
    for (size_t i = 0; i < n; i++) {
        int v = y->cval.iv[i];
        if (v < 0 || (!poisson && v > 1))
            return false; /* the generic path rejects with its message */
        if (poisson)
            log_fact += ps_log_factorial(v);
    }
    call->konst = -log_fact;
    call->impl = d_glm_data;
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Resolution
 * ------------------------------------------------------------------------------------- */

static bool unop_of(ps_stan_fn fn, ps_ad_unop *op)
{
    switch (fn) {
#define U_(F, O)                                                                                   \
    case PS_STAN_FN_##F:                                                                           \
        *op = PS_AD_##O;                                                                           \
        return true;
        U_(ABS, FABS)
        U_(FABS, FABS)
        U_(EXP, EXP)
        U_(LOG, LOG)
        U_(LOG2, LOG2)
        U_(LOG10, LOG10)
        U_(EXP2, EXP2)
        U_(LOG1P, LOG1P)
        U_(EXPM1, EXPM1)
        U_(LOG1M, LOG1M)
        U_(LOG1M_EXP, LOG1M_EXP)
        U_(LOG1P_EXP, LOG1P_EXP)
        U_(INV_LOGIT, INV_LOGIT)
        U_(LOGIT, LOGIT)
        U_(LOG_INV_LOGIT, LOG_INV_LOGIT)
        U_(LOG1M_INV_LOGIT, LOG1M_INV_LOGIT)
        U_(SQUARE, SQUARE)
        U_(SQRT, SQRT)
        U_(CBRT, CBRT)
        U_(INV, INV)
        U_(INV_SQRT, INV_SQRT)
        U_(INV_SQUARE, INV_SQUARE)
        U_(LGAMMA, LGAMMA)
        U_(TGAMMA, TGAMMA)
        U_(DIGAMMA, DIGAMMA)
        U_(SIN, SIN)
        U_(COS, COS)
        U_(TAN, TAN)
        U_(ASIN, ASIN)
        U_(ACOS, ACOS)
        U_(ATAN, ATAN)
        U_(SINH, SINH)
        U_(COSH, COSH)
        U_(TANH, TANH)
        U_(ASINH, ASINH)
        U_(ACOSH, ACOSH)
        U_(ATANH, ATANH)
        U_(PHI, PHI)
        U_(PHI_APPROX, PHI_APPROX)
        U_(INV_PHI, INV_PHI)
        U_(ERF, ERF)
        U_(ERFC, ERFC)
        U_(FLOOR, FLOOR)
        U_(CEIL, CEIL)
        U_(ROUND, ROUND)
        U_(TRUNC, TRUNC)
        U_(STEP, STEP)
        U_(MINUS, NEG)
#undef U_
    default:
        return false;
    }
}

static bool binop_of(ps_stan_fn fn, ps_ad_binop *op)
{
    switch (fn) {
    case PS_STAN_FN_ADD:
        *op = PS_AD_ADD;
        return true;
    case PS_STAN_FN_SUBTRACT:
        *op = PS_AD_SUB;
        return true;
    case PS_STAN_FN_MULTIPLY:
    case PS_STAN_FN_ELT_MULTIPLY:
        *op = PS_AD_MUL;
        return true;
    case PS_STAN_FN_DIVIDE:
    case PS_STAN_FN_ELT_DIVIDE:
        *op = PS_AD_DIV;
        return true;
    case PS_STAN_FN_POW:
    case PS_STAN_FN_ELT_POW:
        *op = PS_AD_POW;
        return true;
    case PS_STAN_FN_FMIN:
    case PS_STAN_FN_MIN:
        *op = PS_AD_FMIN;
        return true;
    case PS_STAN_FN_FMAX:
    case PS_STAN_FN_MAX:
        *op = PS_AD_FMAX;
        return true;
    case PS_STAN_FN_FDIM:
        *op = PS_AD_FDIM;
        return true;
    case PS_STAN_FN_HYPOT:
        *op = PS_AD_HYPOT;
        return true;
    case PS_STAN_FN_ATAN2:
        *op = PS_AD_ATAN2;
        return true;
    case PS_STAN_FN_LBETA:
        *op = PS_AD_LBETA;
        return true;
    case PS_STAN_FN_LCHOOSE:
    case PS_STAN_FN_BINOMIAL_COEFFICIENT_LOG:
        *op = PS_AD_LCHOOSE;
        return true;
    case PS_STAN_FN_LOG_DIFF_EXP:
        *op = PS_AD_LOG_DIFF_EXP;
        return true;
    case PS_STAN_FN_LOG_SUM_EXP:
        *op = PS_AD_LOG_SUM_EXP2;
        return true;
    default:
        return false;
    }
}

/* The eval function markers the lowering recognises. */
static bool all_int(const ps_stan_expr *call)
{
    for (size_t i = 0; i < call->u.call.n_args; i++)
        if (call->u.call.args[i]->type.base != PS_STAN_INT)
            return false;
    return true;
}

static bool arg_scalar(const ps_stan_expr *call, size_t i)
{
    ps_stan_type t = call->u.call.args[i]->type;
    return t.dims == 0 && (t.base == PS_STAN_REAL || t.base == PS_STAN_INT);
}

sm_fn_support sm_fn_resolve(ps_stan_fn fn, int sig, const ps_stan_expr *call, lx_impl_fn *impl,
                            lx_ieval_fn *ieval, int *op)
{
    (void)sig;
    *impl = NULL;
    *ieval = NULL;
    *op = -1;
    size_t n = call->u.call.n_args;
    ps_stan_type rt = call->type;
    bool int_result = rt.base == PS_STAN_INT && rt.dims == 0;

    /* Int arithmetic and logic. */
    switch (fn) {
    case PS_STAN_FN_ADD:
    case PS_STAN_FN_SUBTRACT:
    case PS_STAN_FN_MULTIPLY:
    case PS_STAN_FN_DIVIDE:
    case PS_STAN_FN_MODULUS:
    case PS_STAN_FN_INT_DIVIDE:
    case PS_STAN_FN_MINUS:
    case PS_STAN_FN_PLUS:
        if (int_result) {
            *ieval = sm_ieval_arith;
            *op = fn;
            return SM_FN_FULL;
        }
        break;
    case PS_STAN_FN_LT:
    case PS_STAN_FN_LE:
    case PS_STAN_FN_GT:
    case PS_STAN_FN_GE:
    case PS_STAN_FN_EQ:
    case PS_STAN_FN_NE:
    case PS_STAN_FN_AND:
    case PS_STAN_FN_OR:
    case PS_STAN_FN_NOT:
        *ieval = sm_ieval_logic;
        *op = fn;
        return SM_FN_FULL;
    default:
        break;
    }

    /* Element-wise unary functions (also prefix minus of reals). */
    ps_ad_unop uop;
    if (n == 1 && !int_result && !(fn == PS_STAN_FN_ABS && rt.base == PS_STAN_INT) &&
        unop_of(fn, &uop)) {
        *op = uop;
        return SM_FN_FULL;
    }
    /* Element-wise binary operations and scalar binary functions. */
    ps_ad_binop bop;
    if (n == 2 && !int_result && binop_of(fn, &bop)) {
        bool matrix_product =
            fn == PS_STAN_FN_MULTIPLY && !arg_scalar(call, 0) && !arg_scalar(call, 1);
        bool matrix_division = fn == PS_STAN_FN_DIVIDE && !arg_scalar(call, 1);
        bool reduction =
            (fn == PS_STAN_FN_MIN || fn == PS_STAN_FN_MAX || fn == PS_STAN_FN_LOG_SUM_EXP) &&
            !(arg_scalar(call, 0) && arg_scalar(call, 1));
        if (matrix_product) {
            *impl = impl_matmul;
            return SM_FN_FULL;
        }
        if (matrix_division) {
            *impl = impl_mdivide_right;
            return SM_FN_FULL;
        }
        if (!reduction) {
            *op = bop;
            return SM_FN_FULL;
        }
    }

    switch (fn) {
    case PS_STAN_FN_PLUS:
        *impl = impl_identity;
        return SM_FN_FULL;
    case PS_STAN_FN_TRANSPOSE:
        *impl = impl_transpose;
        return SM_FN_FULL;
    case PS_STAN_FN_ABS:
        if (int_result) {
            *ieval = ieval_int2;
            return SM_FN_FULL;
        }
        *impl = impl_abs_ints;
        return SM_FN_FULL;
    case PS_STAN_FN_FMOD:
        *impl = impl_fmod;
        return SM_FN_FULL;
    case PS_STAN_FN_TRIGAMMA:
        *impl = impl_trigamma;
        return SM_FN_CONST_ONLY;
    case PS_STAN_FN_INT_STEP:
        *ieval = all_int(call) ? ieval_int2 : ieval_real_test;
        return SM_FN_FULL;
    case PS_STAN_FN_IS_INF:
    case PS_STAN_FN_IS_NAN:
        *ieval = ieval_real_test;
        return SM_FN_FULL;
    case PS_STAN_FN_CHOOSE:
        *ieval = ieval_int2;
        return SM_FN_FULL;
    case PS_STAN_FN_FMA:
        *op = -2; /* the lowering makes an fma node */
        return SM_FN_FULL;
    case PS_STAN_FN_MIN:
    case PS_STAN_FN_MAX:
        if (int_result) {
            *ieval = n == 2 ? ieval_int2 : ieval_int_reduce;
            return SM_FN_FULL;
        }
        *impl = fn == PS_STAN_FN_MIN ? impl_min : impl_max;
        return SM_FN_FULL;
    case PS_STAN_FN_SUM:
    case PS_STAN_FN_PROD:
        if (int_result) {
            *ieval = ieval_int_reduce;
            return SM_FN_FULL;
        }
        *impl = fn == PS_STAN_FN_SUM ? impl_sum : impl_prod;
        return SM_FN_FULL;
    case PS_STAN_FN_LOG_SUM_EXP:
        *impl = impl_log_sum_exp;
        return SM_FN_FULL;
    case PS_STAN_FN_LOG_MIX:
        *impl = n == 3 ? impl_log_mix3 : impl_log_mix_vec;
        return SM_FN_FULL;
    case PS_STAN_FN_MEAN:
        *impl = impl_mean;
        return SM_FN_FULL;
    case PS_STAN_FN_VARIANCE:
        *impl = impl_variance;
        return SM_FN_FULL;
    case PS_STAN_FN_SD:
        *impl = impl_sd;
        return SM_FN_FULL;
    case PS_STAN_FN_DOT_PRODUCT:
        *impl = impl_dot_product;
        return SM_FN_FULL;
    case PS_STAN_FN_DOT_SELF:
        *impl = impl_dot_self;
        return SM_FN_FULL;
    case PS_STAN_FN_COLUMNS_DOT_PRODUCT:
        *impl = impl_columns_dot_product;
        return SM_FN_FULL;
    case PS_STAN_FN_ROWS_DOT_PRODUCT:
        *impl = impl_rows_dot_product;
        return SM_FN_FULL;
    case PS_STAN_FN_COLUMNS_DOT_SELF:
        *impl = impl_columns_dot_self;
        return SM_FN_FULL;
    case PS_STAN_FN_ROWS_DOT_SELF:
        *impl = impl_rows_dot_self;
        return SM_FN_FULL;
    case PS_STAN_FN_SOFTMAX:
        *impl = impl_softmax;
        return SM_FN_FULL;
    case PS_STAN_FN_LOG_SOFTMAX:
        *impl = impl_log_softmax;
        return SM_FN_FULL;
    case PS_STAN_FN_CUMULATIVE_SUM:
        *impl = impl_cumulative_sum;
        return SM_FN_FULL;
    case PS_STAN_FN_REP_VECTOR:
    case PS_STAN_FN_REP_ROW_VECTOR:
    case PS_STAN_FN_REP_MATRIX:
        *impl = impl_rep;
        return SM_FN_FULL;
    case PS_STAN_FN_REP_ARRAY:
        *impl = impl_rep_array;
        return SM_FN_FULL;
    case PS_STAN_FN_SEGMENT:
    case PS_STAN_FN_HEAD:
    case PS_STAN_FN_TAIL:
        *impl = impl_segment;
        return SM_FN_FULL;
    case PS_STAN_FN_REVERSE:
    case PS_STAN_FN_SORT_ASC:
    case PS_STAN_FN_SORT_DESC:
        *impl = impl_permute;
        return SM_FN_FULL;
    case PS_STAN_FN_TO_VECTOR:
    case PS_STAN_FN_TO_ROW_VECTOR:
    case PS_STAN_FN_TO_MATRIX:
    case PS_STAN_FN_TO_ARRAY_1D:
    case PS_STAN_FN_TO_ARRAY_2D:
        *impl = impl_convert;
        return SM_FN_FULL;
    case PS_STAN_FN_SIZE:
    case PS_STAN_FN_ROWS:
    case PS_STAN_FN_COLS:
    case PS_STAN_FN_NUM_ELEMENTS:
        *ieval = ieval_size;
        return SM_FN_FULL;
    case PS_STAN_FN_APPEND_ROW:
    case PS_STAN_FN_APPEND_COL:
        *impl = impl_append;
        return SM_FN_FULL;
    case PS_STAN_FN_COL:
    case PS_STAN_FN_ROW:
    case PS_STAN_FN_BLOCK:
    case PS_STAN_FN_SUB_COL:
    case PS_STAN_FN_SUB_ROW:
        *impl = impl_matrix_part;
        return SM_FN_FULL;
    case PS_STAN_FN_DIAGONAL:
    case PS_STAN_FN_DIAG_MATRIX:
    case PS_STAN_FN_DIAG_PRE_MULTIPLY:
    case PS_STAN_FN_DIAG_POST_MULTIPLY:
    case PS_STAN_FN_ADD_DIAG:
    case PS_STAN_FN_QUAD_FORM:
    case PS_STAN_FN_QUAD_FORM_SYM:
    case PS_STAN_FN_QUAD_FORM_DIAG:
    case PS_STAN_FN_TRACE:
    case PS_STAN_FN_CHOLESKY_DECOMPOSE:
    case PS_STAN_FN_INVERSE:
    case PS_STAN_FN_INVERSE_SPD:
    case PS_STAN_FN_DETERMINANT:
    case PS_STAN_FN_LOG_DETERMINANT:
    case PS_STAN_FN_CROSSPROD:
    case PS_STAN_FN_TCROSSPROD:
    case PS_STAN_FN_MULTIPLY_LOWER_TRI_SELF_TRANSPOSE:
    case PS_STAN_FN_MDIVIDE_LEFT_TRI_LOW:
    case PS_STAN_FN_MDIVIDE_RIGHT_TRI_LOW:
        *impl = impl_linalg;
        return SM_FN_FULL;
    case PS_STAN_FN_E:
    case PS_STAN_FN_PI:
    case PS_STAN_FN_SQRT2:
    case PS_STAN_FN_NOT_A_NUMBER:
    case PS_STAN_FN_POSITIVE_INFINITY:
    case PS_STAN_FN_NEGATIVE_INFINITY:
    case PS_STAN_FN_MACHINE_PRECISION:
        *impl = impl_constant;
        return SM_FN_FULL;
    case PS_STAN_FN_LOG2:
    case PS_STAN_FN_LOG10:
        if (n == 0) {
            *impl = impl_constant;
            return SM_FN_FULL;
        }
        return SM_FN_NONE;
    case PS_STAN_FN_NORMAL_LPDF:
        *impl = d_normal;
        return SM_FN_FULL;
    case PS_STAN_FN_STD_NORMAL_LPDF:
        *impl = d_std_normal;
        return SM_FN_FULL;
    case PS_STAN_FN_CAUCHY_LPDF:
        *impl = d_cauchy;
        return SM_FN_FULL;
    case PS_STAN_FN_STUDENT_T_LPDF:
        *impl = d_student_t;
        return SM_FN_FULL;
    case PS_STAN_FN_LOGNORMAL_LPDF:
        *impl = d_lognormal;
        return SM_FN_FULL;
    case PS_STAN_FN_GAMMA_LPDF:
        *impl = d_gamma;
        return SM_FN_FULL;
    case PS_STAN_FN_INV_GAMMA_LPDF:
        *impl = d_inv_gamma;
        return SM_FN_FULL;
    case PS_STAN_FN_EXPONENTIAL_LPDF:
        *impl = d_exponential;
        return SM_FN_FULL;
    case PS_STAN_FN_BETA_LPDF:
        *impl = d_beta;
        return SM_FN_FULL;
    case PS_STAN_FN_UNIFORM_LPDF:
        *impl = d_uniform;
        return SM_FN_FULL;
    case PS_STAN_FN_DIRICHLET_LPDF:
        *impl = d_dirichlet;
        return SM_FN_FULL;
    case PS_STAN_FN_BERNOULLI_LPMF:
        *impl = d_bernoulli;
        return SM_FN_FULL;
    case PS_STAN_FN_BERNOULLI_LOGIT_LPMF:
        *impl = d_bernoulli_logit;
        return SM_FN_FULL;
    case PS_STAN_FN_BINOMIAL_LPMF:
        *impl = d_binomial;
        return SM_FN_FULL;
    case PS_STAN_FN_BINOMIAL_LOGIT_LPMF:
        *impl = d_binomial_logit;
        return SM_FN_FULL;
    case PS_STAN_FN_POISSON_LPMF:
        *impl = d_poisson;
        return SM_FN_FULL;
    case PS_STAN_FN_POISSON_LOG_LPMF:
        *impl = d_poisson_log;
        return SM_FN_FULL;
    case PS_STAN_FN_NEG_BINOMIAL_2_LPMF:
        *impl = d_neg_binomial_2;
        return SM_FN_FULL;
    case PS_STAN_FN_MULTI_NORMAL_LPDF:
    case PS_STAN_FN_MULTI_NORMAL_CHOLESKY_LPDF:
        *impl = d_multi_normal;
        return SM_FN_FULL;
    case PS_STAN_FN_BERNOULLI_LOGIT_GLM_LPMF:
    case PS_STAN_FN_POISSON_LOG_GLM_LPMF:
    case PS_STAN_FN_NORMAL_ID_GLM_LPDF:
        *impl = d_glm;
        return SM_FN_FULL;
    default:
        break;
    }
    return sm_dist_resolve(fn, call, impl);
}
