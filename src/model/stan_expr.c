/*
 * Evaluation functions of the lowered expression nodes: constants, variables, indexing,
 * conditionals, array and row-vector expressions, promotions, int arithmetic and logic,
 * and the generic builtin call (arguments evaluated, then the builtin's implementation
 * from stan_fns.c). Element-wise unary and binary operations and the fused a + b .* c
 * have nodes of their own, since they make up most of a model's scalar code.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "model/stan_impl.h"

ps_status sm_eval_const(const lx *e, frame *f, sval *out)
{
    (void)f;
    *out = e->cval;
    return PS_OK;
}

ps_status sm_ieval_const(const lx *e, frame *f, int *out)
{
    (void)f;
    *out = e->ival;
    return PS_OK;
}

ps_status sm_eval_var(const lx *e, frame *f, sval *out)
{
    return sm_var_read(f, e->slot, out);
}

ps_status sm_ieval_var(const lx *e, frame *f, int *out)
{
    *out = f->vars[e->slot].istore[0];
    return PS_OK;
}

ps_status sm_eval_index(const lx *e, frame *f, sval *out)
{
    return sm_index_read(f, e, out);
}

ps_status sm_ieval_index(const lx *e, frame *f, int *out)
{
    sval v;
    PS_CHECK(sm_index_read(f, e, &v));
    *out = v.iv[0];
    return PS_OK;
}

ps_status sm_eval_cond(const lx *e, frame *f, sval *out)
{
    int c;
    PS_CHECK(sm_ieval(e->args[0], f, &c));
    return sm_eval(e->args[c ? 1 : 2], f, out);
}

ps_status sm_ieval_cond(const lx *e, frame *f, int *out)
{
    int c;
    PS_CHECK(sm_ieval(e->args[0], f, &c));
    return sm_ieval(e->args[c ? 1 : 2], f, out);
}

ps_status sm_eval_int_as_value(const lx *e, frame *f, sval *out)
{
    int *v = NULL;
    PS_CHECK(sm_alloc_ints(f, 1, &v));
    PS_CHECK(sm_ieval(e, f, v));
    memset(out, 0, sizeof *out);
    out->s.base = PS_STAN_INT;
    out->s.r = out->s.c = 1;
    out->iv = v;
    return PS_OK;
}

ps_status sm_eval_promote(const lx *e, frame *f, sval *out)
{
    sval in;
    PS_CHECK(sm_eval(e->args[0], f, &in));
    return sm_promote(f, &in, e->type, out);
}

/* {a, b, c} and [a, b] / [[a, b], [c, d]]. */
ps_status sm_eval_list(const lx *e, frame *f, sval *out)
{
    size_t n = e->n_args;
    sval first;
    bool rowvec = e->op == PS_STAN_E_ROWVEC;
    /* Elements are evaluated one by one; each is kept by its handles (or ints). */
    sshape s;
    memset(&s, 0, sizeof s);
    size_t per = 0, total = 0;
    ps_adv *h = NULL;
    int *iv = NULL;
    for (size_t i = 0; i < n; i++) {
        sval v;
        PS_CHECK(sm_eval(e->args[i], f, &v));
        if (i == 0) {
            first = v;
            per = sshape_count(&v.s);
            if ((size_t)n * per > 0xffffffffu)
                return sm_error_at(f, PS_ERR_MODEL, e->offset, "the expression is too large");
            total = n * per;
            if (v.s.base == PS_STAN_INT)
                PS_CHECK(sm_alloc_ints(f, total, &iv));
            else {
                double *p = NULL;
                size_t words = (sizeof(ps_adv) + sizeof(double) - 1) / sizeof(double);
                PS_CHECK(ps_ad_alloc(f->tape, total * words + 1, &p));
                h = (ps_adv *)(void *)p;
            }
        } else if (!sshape_equal(&v.s, &first.s)) {
            char a[96], b[96];
            return sm_error_at(f, PS_ERR_MODEL, e->args[i]->offset,
                               "the elements of %s must have one size: found %s and %s",
                               rowvec ? "a matrix expression [...]" : "an array expression {...}",
                               sshape_format(&first.s, a, sizeof a),
                               sshape_format(&v.s, b, sizeof b));
        }
        if (iv != NULL) {
            if (per > 0)
                memcpy(iv + i * per, v.iv, per * sizeof(int));
            continue;
        }
        for (size_t k = 0; k < per; k++) {
            size_t dst = rowvec && first.s.base == PS_STAN_ROW_VECTOR ? i + k * n : i * per + k;
            h[dst] = (ps_adv){v.x.v + k, v.x.a ? v.x.a + k : NULL, 1, 1, v.x.var};
        }
    }
    if (rowvec) {
        s.base = first.s.base == PS_STAN_ROW_VECTOR ? PS_STAN_MATRIX : PS_STAN_ROW_VECTOR;
        s.r = first.s.base == PS_STAN_ROW_VECTOR ? (uint32_t)n : 1;
        s.c = first.s.base == PS_STAN_ROW_VECTOR ? first.s.c : (uint32_t)n;
    } else {
        s = first.s;
        if (s.nd >= PS_STAN_MAX_ARRAY_DIMS)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "too many array dimensions");
        memmove(s.dim + 1, s.dim, s.nd * sizeof(uint32_t));
        s.dim[0] = (uint32_t)n;
        s.nd++;
    }
    if (iv != NULL) {
        memset(out, 0, sizeof *out);
        out->s = s;
        out->s.base = PS_STAN_INT;
        out->iv = iv;
        return PS_OK;
    }
    if (e->type.base == PS_STAN_INT)
        return sm_error_at(f, PS_ERR_INTERNAL, e->offset, "int list with real elements");
    return sm_from_handles(f, h, &s, out);
}

/* ---------------------------------------------------------------------------------------
 * Int arithmetic and logic
 * ------------------------------------------------------------------------------------- */

static ps_status int_overflow(frame *f, const lx *e)
{
    return sm_error_at(f, PS_ERR_MODEL, e->offset,
                       "integer overflow: the result does not fit in a 32-bit int");
}

ps_status sm_ieval_arith(const lx *e, frame *f, int *out)
{
    int a = 0, b = 0;
    PS_CHECK(sm_ieval(e->args[0], f, &a));
    if (e->n_args > 1)
        PS_CHECK(sm_ieval(e->args[1], f, &b));
    switch ((ps_stan_fn)e->op) {
    case PS_STAN_FN_ADD:
        if (__builtin_add_overflow(a, b, out))
            return int_overflow(f, e);
        return PS_OK;
    case PS_STAN_FN_SUBTRACT:
        if (__builtin_sub_overflow(a, b, out))
            return int_overflow(f, e);
        return PS_OK;
    case PS_STAN_FN_MULTIPLY:
        if (__builtin_mul_overflow(a, b, out))
            return int_overflow(f, e);
        return PS_OK;
    case PS_STAN_FN_DIVIDE:
    case PS_STAN_FN_INT_DIVIDE:
    case PS_STAN_FN_MODULUS:
        if (b == 0)
            return sm_error_at(f, PS_ERR_MODEL, e->offset, "integer division by zero");
        if (a == INT_MIN && b == -1)
            return int_overflow(f, e);
        *out = e->op == PS_STAN_FN_MODULUS ? a % b : a / b;
        return PS_OK;
    case PS_STAN_FN_MINUS:
        if (a == INT_MIN)
            return int_overflow(f, e);
        *out = -a;
        return PS_OK;
    case PS_STAN_FN_PLUS:
        *out = a;
        return PS_OK;
    default:
        return sm_error_at(f, PS_ERR_INTERNAL, e->offset, "unknown int operation %d", e->op);
    }
}

/* A scalar operand of a comparison as a double (int or real). */
static ps_status scalar_value(const lx *e, frame *f, double *out)
{
    if (e->type.base == PS_STAN_INT) {
        int i;
        PS_CHECK(sm_ieval(e, f, &i));
        *out = (double)i;
        return PS_OK;
    }
    sval v;
    PS_CHECK(sm_eval(e, f, &v));
    *out = v.x.v[0];
    return PS_OK;
}

ps_status sm_ieval_logic(const lx *e, frame *f, int *out)
{
    ps_stan_fn fn = (ps_stan_fn)e->op;
    double a = 0.0, b = 0.0;
    if (fn == PS_STAN_FN_AND || fn == PS_STAN_FN_OR) {
        /* Short-circuit, as Stan's generated C++ does. */
        PS_CHECK(scalar_value(e->args[0], f, &a));
        bool av = a != 0.0;
        if (fn == PS_STAN_FN_AND && !av) {
            *out = 0;
            return PS_OK;
        }
        if (fn == PS_STAN_FN_OR && av) {
            *out = 1;
            return PS_OK;
        }
        PS_CHECK(scalar_value(e->args[1], f, &b));
        *out = b != 0.0;
        return PS_OK;
    }
    if (fn == PS_STAN_FN_NOT) {
        PS_CHECK(scalar_value(e->args[0], f, &a));
        *out = a == 0.0;
        return PS_OK;
    }
    if (e->args[0]->type.base == PS_STAN_INT && e->args[1]->type.base == PS_STAN_INT) {
        int ia, ib;
        PS_CHECK(sm_ieval(e->args[0], f, &ia));
        PS_CHECK(sm_ieval(e->args[1], f, &ib));
        switch (fn) {
        case PS_STAN_FN_LT:
            *out = ia < ib;
            return PS_OK;
        case PS_STAN_FN_LE:
            *out = ia <= ib;
            return PS_OK;
        case PS_STAN_FN_GT:
            *out = ia > ib;
            return PS_OK;
        case PS_STAN_FN_GE:
            *out = ia >= ib;
            return PS_OK;
        case PS_STAN_FN_EQ:
            *out = ia == ib;
            return PS_OK;
        default:
            *out = ia != ib;
            return PS_OK;
        }
    }
    PS_CHECK(scalar_value(e->args[0], f, &a));
    PS_CHECK(scalar_value(e->args[1], f, &b));
    switch (fn) {
    case PS_STAN_FN_LT:
        *out = a < b;
        return PS_OK;
    case PS_STAN_FN_LE:
        *out = a <= b;
        return PS_OK;
    case PS_STAN_FN_GT:
        *out = a > b;
        return PS_OK;
    case PS_STAN_FN_GE:
        *out = a >= b;
        return PS_OK;
    case PS_STAN_FN_EQ:
        *out = a == b;
        return PS_OK;
    default:
        *out = a != b;
        return PS_OK;
    }
}

/* ---------------------------------------------------------------------------------------
 * Builtin calls
 * ------------------------------------------------------------------------------------- */

ps_status sm_eval_call(const lx *e, frame *f, sval *out)
{
    sval args[PS_STAN_MAX_PARAMS];
    for (uint32_t i = 0; i < e->n_args; i++)
        PS_CHECK(sm_eval(e->args[i], f, &args[i]));
    return e->impl(f, e, args, out);
}

ps_status sm_ieval_call(const lx *e, frame *f, int *out)
{
    sval v;
    PS_CHECK(sm_eval_call(e, f, &v));
    *out = v.iv[0];
    return PS_OK;
}

/* The shape of an element-wise result: the shape of the non-scalar operand. */
static void set_result(sval *out, ps_adv x, const sval *like)
{
    sval_set_real(out, x, &like->s);
    out->s.base = like->s.base == PS_STAN_INT ? PS_STAN_REAL : like->s.base;
}

ps_status sm_eval_unary(const lx *e, frame *f, sval *out)
{
    sval a;
    PS_CHECK(sm_eval(e->args[0], f, &a));
    ps_adv r;
    PS_CHECK(ps_ad_unary(f->tape, (ps_ad_unop)e->op, a.x, &r));
    set_result(out, r, &a);
    return PS_OK;
}

ps_status sm_eval_binary(const lx *e, frame *f, sval *out)
{
    sval a, b;
    PS_CHECK(sm_eval(e->args[0], f, &a));
    PS_CHECK(sm_eval(e->args[1], f, &b));
    size_t na = ps_adv_size(a.x), nb = ps_adv_size(b.x);
    bool a_scalar = a.s.nd == 0 && a.s.base == PS_STAN_REAL;
    bool b_scalar = b.s.nd == 0 && b.s.base == PS_STAN_REAL;
    if (!a_scalar && !b_scalar && (na != nb || !sshape_equal(&a.s, &b.s))) {
        char sa[96], sb[96];
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "size mismatch in '%s': the operands are %s and %s", e->name,
                           sshape_format(&a.s, sa, sizeof sa), sshape_format(&b.s, sb, sizeof sb));
    }
    ps_adv ax = a.x, bx = b.x, r;
    /* Same-shape operands are combined as flat vectors (shapes of arrays differ only in
     * the bookkeeping). */
    if (!a_scalar) {
        ax.rows = na;
        ax.cols = 1;
    }
    if (!b_scalar) {
        bx.rows = nb;
        bx.cols = 1;
    }
    PS_CHECK(ps_ad_binary(f->tape, (ps_ad_binop)e->op, ax, bx, &r));
    set_result(out, r, a_scalar ? &b : &a);
    return PS_OK;
}

/* a + b * c with * element-wise or by a scalar: one node (ps_ad_fma). */
ps_status sm_eval_fma(const lx *e, frame *f, sval *out)
{
    sval v[3];
    for (int i = 0; i < 3; i++)
        PS_CHECK(sm_eval(e->args[i], f, &v[i]));
    const sval *like = NULL;
    ps_adv x[3];
    for (int i = 0; i < 3; i++) {
        bool scalar = v[i].s.nd == 0 && v[i].s.base == PS_STAN_REAL;
        x[i] = v[i].x;
        if (scalar)
            continue;
        if (like != NULL && !sshape_equal(&like->s, &v[i].s)) {
            char sa[96], sb[96];
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "size mismatch in '%s': the operands are %s and %s", e->name,
                               sshape_format(&like->s, sa, sizeof sa),
                               sshape_format(&v[i].s, sb, sizeof sb));
        }
        like = &v[i];
        x[i].rows = ps_adv_size(x[i]);
        x[i].cols = 1;
    }
    ps_adv r;
    PS_CHECK(ps_ad_fma(f->tape, x[0], x[1], x[2], &r));
    set_result(out, r, like ? like : &v[0]);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Real scalars (the statements of scalar loops): evaluated to a bare ps_adv, without the
 * shape bookkeeping of sval. Every real scalar node has a seval; its eval wraps it.
 * ------------------------------------------------------------------------------------- */

ps_status sm_eval_from_seval(const lx *e, frame *f, sval *out)
{
    ps_adv x;
    PS_CHECK(e->seval(e, f, &x));
    *out = sval_real(x);
    return PS_OK;
}

ps_status sm_seval_from_eval(const lx *e, frame *f, ps_adv *out)
{
    sval v;
    PS_CHECK(e->eval(e, f, &v));
    *out = v.x;
    return PS_OK;
}

ps_status sm_seval_const(const lx *e, frame *f, ps_adv *out)
{
    (void)f;
    *out = e->cval.x;
    return PS_OK;
}

ps_status sm_seval_var(const lx *e, frame *f, ps_adv *out)
{
    *out = f->vars[e->slot].val.x;
    return PS_OK;
}

ps_status sm_seval_unary(const lx *e, frame *f, ps_adv *out)
{
    ps_adv a;
    PS_CHECK(sm_seval(e->args[0], f, &a));
    return ps_ad_unary(f->tape, (ps_ad_unop)e->op, a, out);
}

ps_status sm_seval_binary(const lx *e, frame *f, ps_adv *out)
{
    ps_adv a, b;
    PS_CHECK(sm_seval(e->args[0], f, &a));
    PS_CHECK(sm_seval(e->args[1], f, &b));
    return ps_ad_binary(f->tape, (ps_ad_binop)e->op, a, b, out);
}

ps_status sm_seval_fma(const lx *e, frame *f, ps_adv *out)
{
    ps_adv x[3];
    PS_CHECK(sm_seval(e->args[0], f, &x[0]));
    PS_CHECK(sm_seval(e->args[1], f, &x[1]));
    PS_CHECK(sm_seval(e->args[2], f, &x[2]));
    double bv = x[1].v[0], cv = x[2].v[0];
    double d[3] = {1.0, cv, bv};
    return ps_ad_scalar_result(f->tape, x[0].v[0] + bv * cv, x[0].var || x[1].var || x[2].var, x, d,
                               3, out);
}

ps_status sm_seval_promote(const lx *e, frame *f, ps_adv *out)
{
    int i;
    PS_CHECK(sm_ieval(e->args[0], f, &i));
    return ps_ad_const(f->tape, (double)i, out);
}

/* Kept for nodes lowered before their children had sevals. */
ps_status sm_eval_var_scalar(const lx *e, frame *f, sval *out)
{
    *out = sval_real(f->vars[e->slot].val.x);
    return PS_OK;
}

ps_status sm_eval_unary_s(const lx *e, frame *f, sval *out)
{
    return sm_eval_from_seval(e, f, out);
}

ps_status sm_eval_binary_s(const lx *e, frame *f, sval *out)
{
    return sm_eval_from_seval(e, f, out);
}

ps_status sm_eval_fma_s(const lx *e, frame *f, sval *out)
{
    return sm_eval_from_seval(e, f, out);
}
