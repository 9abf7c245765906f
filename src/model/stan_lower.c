/*
 * Lowering: from a checked program (src/lang/lang.h) to the immutable node tree of
 * stan_impl.h, block by block, at construction.
 *
 * Variables. Every declaration gets an entry: data and transformed data become constants
 * once their values are known (the data file's arrays, then the result of running the
 * transformed data block), and a reference to them lowers to a constant node; parameters,
 * transformed parameters, local and loop variables get slots in the frame.
 *
 * Constant folding. A node whose children are all foldable (constants, or foldable
 * themselves) and whose operation has no side effect is foldable. Foldable subtrees are
 * evaluated once, at the top of each foldable subtree (a "fold root": the child of a
 * non-foldable parent, or a whole statement's expression), in a value-only construction
 * frame, and replaced by a constant node whose value lives in the model's arena. So
 * `rep_vector(0, N)`, `log(sigma_data)`, `2 * sd(x)`, int size arithmetic and a density
 * whose arguments are all data are computed once; a data-only `~` statement (all
 * constant arguments, propto) folds to 0. A subtree whose evaluation fails (a domain
 * error in data-only code that may never run) is left unfolded.
 *
 * Peepholes: `a + b * c` and `a + b .* c` (element-wise, with scalar broadcasting) are one
 * fused node (ps_ad_fma), the pattern of non-centred parameterisations and linear
 * predictors; `x[i]` of a slot variable holding a real vector or 1-D array has its own
 * node.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/stan_build.h"
#include "model/stan_impl.h"

/* ---------------------------------------------------------------------------------------
 * The declaration map (pointer -> entry), open addressing
 * ------------------------------------------------------------------------------------- */

static size_t ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0xed5ad4bbu;
    x ^= x >> 11;
    return (size_t)x;
}

static ps_status dmap_grow(lower_ctx *c)
{
    size_t cap = c->dmap_cap ? 2 * c->dmap_cap : 64;
    dinfo *t = NULL;
    PS_CHECK(ps_alloc_array(&t, cap, sizeof *t, "the declarations of a Stan program"));
    for (size_t i = 0; i < c->dmap_cap; i++) {
        if (c->dmap[i].decl == NULL)
            continue;
        size_t h = ptr_hash(c->dmap[i].decl) & (cap - 1);
        while (t[h].decl != NULL)
            h = (h + 1) & (cap - 1);
        t[h] = c->dmap[i];
    }
    ps_free(c->dmap);
    c->dmap = t;
    c->dmap_cap = cap;
    return PS_OK;
}

dinfo *sm_dinfo_find(lower_ctx *c, const ps_stan_decl *d)
{
    if (c->dmap_cap == 0)
        return NULL;
    size_t h = ptr_hash(d) & (c->dmap_cap - 1);
    while (c->dmap[h].decl != NULL) {
        if (c->dmap[h].decl == d)
            return &c->dmap[h];
        h = (h + 1) & (c->dmap_cap - 1);
    }
    return NULL;
}

ps_status sm_dinfo_add(lower_ctx *c, const ps_stan_decl *d, dinfo **out)
{
    dinfo *e = sm_dinfo_find(c, d);
    if (e != NULL) {
        *out = e;
        return PS_OK;
    }
    if (2 * (c->dmap_n + 1) > c->dmap_cap)
        PS_CHECK(dmap_grow(c));
    size_t h = ptr_hash(d) & (c->dmap_cap - 1);
    while (c->dmap[h].decl != NULL)
        h = (h + 1) & (c->dmap_cap - 1);
    c->dmap[h].decl = d;
    c->dmap[h].slot = -1;
    c->dmap_n++;
    *out = &c->dmap[h];
    return PS_OK;
}

/* A new slot for a declaration (parameters, transformed parameters, locals, loops). */
ps_status sm_slot_new(lower_ctx *c, const ps_stan_decl *d, int *slot)
{
    stan_model *m = c->m;
    if (m->n_slots >= (size_t)INT_MAX)
        return ps_error(PS_ERR_MODEL, "too many variables");
    PS_CHECK(ps_realloc_array(&m->slot_names, m->n_slots + 1, sizeof(char *), "variable names"));
    m->slot_names[m->n_slots] = (char *)d->name;
    *slot = (int)m->n_slots++;
    dinfo *e;
    PS_CHECK(sm_dinfo_add(c, d, &e));
    e->slot = *slot;
    e->is_const = false;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Nodes
 * ------------------------------------------------------------------------------------- */

static ps_status oom(lower_ctx *c)
{
    return ps_error(PS_ERR_MEM, "out of memory compiling the Stan program %s", c->m->path);
}

ps_status sm_new_lx(lower_ctx *c, const ps_stan_expr *src, uint32_t n_args, lx **out)
{
    lx *e = sm_arena_alloc(&c->m->arena, sizeof *e);
    if (e == NULL)
        return oom(c);
    if (n_args > 0) {
        e->args = sm_arena_alloc(&c->m->arena, n_args * sizeof *e->args);
        if (e->args == NULL)
            return oom(c);
    }
    e->n_args = n_args;
    e->slot = -1;
    if (src != NULL) {
        e->type = src->type;
        e->level = src->level;
        e->offset = src->op_offset ? src->op_offset : src->offset;
        if (src->kind != PS_STAN_E_CALL)
            e->offset = src->offset;
    }
    *out = e;
    return PS_OK;
}

static void *alloc(lower_ctx *c, size_t size)
{
    return sm_arena_alloc(&c->m->arena, size);
}

/* Copies a value of the construction frame into the model's arena. */
ps_status sm_persist(lower_ctx *c, const sval *in, sval *out)
{
    size_t n = sshape_count(&in->s);
    *out = *in;
    if (in->s.base == PS_STAN_INT) {
        int *v = alloc(c, (n + 1) * sizeof(int));
        if (v == NULL)
            return oom(c);
        if (n > 0)
            memcpy(v, in->iv, n * sizeof(int));
        out->iv = v;
        out->x = ps_ad_data(NULL, 0, 0);
        return PS_OK;
    }
    double *v = alloc(c, (n + 1) * sizeof(double));
    if (v == NULL)
        return oom(c);
    if (n > 0)
        memcpy(v, in->x.v, n * sizeof(double));
    sval_set_real(out, ps_ad_data(v, 0, 0), &in->s);
    return PS_OK;
}

/* Turns node e into a constant holding v (already in the model's arena). */
void sm_make_const(lx *e, const sval *v)
{
    e->eval = sm_eval_const;
    e->cval = *v;
    e->n_args = 0;
    e->args = NULL;
    e->n_idx = 0;
    e->idx = NULL;
    e->foldable = true;
    e->is_const = true;
    if (v->s.base == PS_STAN_INT && v->s.nd == 0) {
        e->ival = v->iv[0];
        e->ieval = sm_ieval_const;
    }
    if (v->s.base == PS_STAN_INT) {
        /* The range of a constant index array, so that indexing checks it in O(1). */
        size_t n = sshape_count(&v->s);
        e->imin = n ? INT_MAX : 1;
        e->imax = n ? INT_MIN : 1;
        for (size_t i = 0; i < n; i++) {
            e->imin = v->iv[i] < e->imin ? v->iv[i] : e->imin;
            e->imax = v->iv[i] > e->imax ? v->iv[i] : e->imax;
        }
    }
    e->seval = v->s.base == PS_STAN_REAL && v->s.nd == 0 ? sm_seval_const : NULL;
}

/* Evaluates a foldable node in the construction frame and makes it a constant. A failed
 * evaluation leaves the node as it was. */
ps_status sm_fold(lower_ctx *c, lx *e)
{
    if (e->is_const || !e->foldable)
        return PS_OK;
    frame *f = c->cf;
    ps_ad_tape_begin(f->tape, false);
    f->located = false;
    f->message[0] = '\0';
    sval v;
    ps_status st = sm_eval(e, f, &v);
    if (st == PS_ERR_MEM)
        return st;
    if (st != PS_OK) {
        ps_error_clear();
        f->located = false;
        e->foldable = false;
        return PS_OK;
    }
    sval p;
    PS_CHECK(sm_persist(c, &v, &p));
    sm_make_const(e, &p);
    return PS_OK;
}

/* Folds the foldable children of a node that is not foldable itself. */
static ps_status fold_children(lower_ctx *c, lx *e)
{
    for (uint32_t i = 0; i < e->n_args; i++)
        if (e->args[i] != NULL)
            PS_CHECK(sm_fold(c, e->args[i]));
    for (uint32_t i = 0; i < e->n_idx; i++) {
        if (e->idx[i].lo != NULL)
            PS_CHECK(sm_fold(c, e->idx[i].lo));
        if (e->idx[i].hi != NULL)
            PS_CHECK(sm_fold(c, e->idx[i].hi));
    }
    return PS_OK;
}

static bool children_foldable(const lx *e)
{
    for (uint32_t i = 0; i < e->n_args; i++)
        if (e->args[i] != NULL && !e->args[i]->foldable)
            return false;
    for (uint32_t i = 0; i < e->n_idx; i++)
        if ((e->idx[i].lo && !e->idx[i].lo->foldable) || (e->idx[i].hi && !e->idx[i].hi->foldable))
            return false;
    return true;
}

/* Sets the foldable flag of a finished node from its children; folds the children of a
 * node that cannot be folded itself. */
static ps_status finish_node(lower_ctx *c, lx *e, bool pure)
{
    e->foldable = pure && children_foldable(e);
    if (!e->foldable)
        PS_CHECK(fold_children(c, e));
    return PS_OK;
}

static ps_status unsupported(lower_ctx *c, size_t offset, const char *what)
{
    return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, offset, "%s is not supported yet",
                                    what);
}

/* ---------------------------------------------------------------------------------------
 * Expressions
 * ------------------------------------------------------------------------------------- */

static ps_status lower(lower_ctx *c, const ps_stan_expr *e, lx **out);

static bool is_int_scalar(ps_stan_type t)
{
    return t.base == PS_STAN_INT && t.dims == 0;
}

static bool is_real_scalar(ps_stan_type t)
{
    return t.base == PS_STAN_REAL && t.dims == 0;
}

/* Gives a real scalar node its scalar evaluator (and makes its eval go through it where
 * that is the node's own fast path). */
static void finalize_scalar(lx *n)
{
    if (!(n->type.base == PS_STAN_REAL && n->type.dims == 0) || n->is_const)
        return;
    if (n->eval == sm_eval_var || n->eval == sm_eval_var_scalar) {
        n->seval = sm_seval_var;
        n->eval = sm_eval_var_scalar;
    } else if (n->eval == sm_eval_index_singles) {
        n->seval = sm_seval_index_singles;
    } else if (n->eval == sm_eval_unary_s) {
        n->seval = sm_seval_unary;
    } else if (n->eval == sm_eval_binary_s) {
        n->seval = sm_seval_binary;
    } else if (n->eval == sm_eval_fma_s) {
        n->seval = sm_seval_fma;
    } else if (n->eval == sm_eval_promote && n->args[0]->type.dims == 0) {
        n->seval = sm_seval_promote;
    } else {
        n->seval = sm_seval_from_eval;
    }
}

/* Array dimensions plus the vector/matrix axes of a type. */
static unsigned type_axes(ps_stan_type t)
{
    unsigned cell = t.base == PS_STAN_MATRIX                                     ? 2
                    : (t.base == PS_STAN_VECTOR || t.base == PS_STAN_ROW_VECTOR) ? 1
                                                                                 : 0;
    return t.dims + cell;
}

static ps_status lower_literal(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    lx *n = NULL;
    PS_CHECK(sm_new_lx(c, e, 0, &n));
    sval v;
    memset(&v, 0, sizeof v);
    v.s.r = v.s.c = 1;
    if (e->kind == PS_STAN_E_INT) {
        int *p = alloc(c, sizeof(int));
        if (p == NULL)
            return oom(c);
        *p = e->u.int_value;
        v.s.base = PS_STAN_INT;
        v.iv = p;
    } else {
        double *p = alloc(c, sizeof(double));
        if (p == NULL)
            return oom(c);
        *p = e->u.real_value;
        v = sval_real(ps_ad_data(p, 1, 1));
    }
    sm_make_const(n, &v);
    *out = n;
    return PS_OK;
}

static ps_status lower_var(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    const ps_stan_decl *d = e->u.var.decl;
    dinfo *info = sm_dinfo_find(c, d);
    if (info == NULL)
        return ps_stan_program_error_at(c->m->prog, PS_ERR_INTERNAL, e->offset,
                                        "internal error: '%s' has no storage", d->name);
    lx *n = NULL;
    PS_CHECK(sm_new_lx(c, e, 0, &n));
    n->name = d->name;
    if (info->is_const) {
        sm_make_const(n, &info->cval);
        *out = n;
        return PS_OK;
    }
    n->slot = info->slot;
    n->eval = is_real_scalar(e->type) ? sm_eval_var_scalar : sm_eval_var;
    if (is_int_scalar(e->type))
        n->ieval = sm_ieval_var;
    n->foldable = false;
    finalize_scalar(n);
    *out = n;
    return PS_OK;
}

static ps_status lower_index(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    lx *base = NULL;
    PS_CHECK(lower(c, e->u.index.base, &base));
    lx *n = NULL;
    PS_CHECK(sm_new_lx(c, e, 1, &n));
    n->args[0] = base;
    n->name = base->name;
    n->n_idx = (uint32_t)e->u.index.n_indices;
    n->idx = alloc(c, (n->n_idx + 1) * sizeof *n->idx);
    if (n->idx == NULL)
        return oom(c);
    bool single_all = true;
    for (uint32_t i = 0; i < n->n_idx; i++) {
        const ps_stan_index *ix = &e->u.index.indices[i];
        n->idx[i].kind = (uint8_t)ix->kind;
        if (ix->lo != NULL)
            PS_CHECK(lower(c, ix->lo, &n->idx[i].lo));
        if (ix->hi != NULL)
            PS_CHECK(lower(c, ix->hi, &n->idx[i].hi));
        single_all = single_all && ix->kind == PS_STAN_IDX_SINGLE;
    }
    n->eval = sm_eval_index;
    if (is_int_scalar(e->type))
        n->ieval = sm_ieval_index;
    if (single_all && n->n_idx == type_axes(e->u.index.base->type)) {
        n->eval = sm_eval_index_singles;
        if (is_int_scalar(e->type))
            n->ieval = sm_ieval_index_singles;
    }
    PS_CHECK(finish_node(c, n, true));
    finalize_scalar(n);
    *out = n;
    return PS_OK;
}

static ps_status lower_cond(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    lx *n = NULL;
    PS_CHECK(sm_new_lx(c, e, 3, &n));
    PS_CHECK(lower(c, e->u.cond.cond, &n->args[0]));
    PS_CHECK(lower(c, e->u.cond.then_expr, &n->args[1]));
    PS_CHECK(lower(c, e->u.cond.else_expr, &n->args[2]));
    n->eval = sm_eval_cond;
    if (is_int_scalar(e->type))
        n->ieval = sm_ieval_cond;
    PS_CHECK(finish_node(c, n, true));
    finalize_scalar(n);
    *out = n;
    return PS_OK;
}

static ps_status lower_list(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    lx *n = NULL;
    PS_CHECK(sm_new_lx(c, e, (uint32_t)e->u.list.n, &n));
    for (size_t i = 0; i < e->u.list.n; i++)
        PS_CHECK(lower(c, e->u.list.elems[i], &n->args[i]));
    n->eval = sm_eval_list;
    n->op = e->kind;
    PS_CHECK(finish_node(c, n, true));
    *out = n;
    return PS_OK;
}

static ps_status lower_promote(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    lx *n = NULL;
    PS_CHECK(sm_new_lx(c, e, 1, &n));
    PS_CHECK(lower(c, e->u.promote.arg, &n->args[0]));
    n->eval = sm_eval_promote;
    PS_CHECK(finish_node(c, n, true));
    finalize_scalar(n);
    *out = n;
    return PS_OK;
}

static bool is_elementwise_mul(const lx *n)
{
    return (n->eval == sm_eval_binary || n->eval == sm_eval_binary_s) && n->op == PS_AD_MUL &&
           !n->foldable;
}

/* An operand v[idx] of a fused a + b .* c, v a vector or a 1-D real array and idx an int
 * array: the gather goes into the fused node (sm_eval_gfma). */
static bool gathered(const lx *x)
{
    if (x->eval != sm_eval_index || x->n_idx != 1 || x->idx[0].kind != PS_STAN_IDX_MULTI)
        return false;
    ps_stan_type bt = x->args[0]->type;
    return (bt.dims == 0 && (bt.base == PS_STAN_VECTOR || bt.base == PS_STAN_ROW_VECTOR)) ||
           (bt.dims == 1 && bt.base == PS_STAN_REAL);
}

static ps_status gather_fma(lower_ctx *c, lx *n)
{
    bool any = false;
    for (int k = 0; k < 3; k++)
        any = any || gathered(n->args[k]);
    if (!any)
        return PS_OK;
    lidx *idx = alloc(c, 3 * sizeof *idx);
    if (idx == NULL)
        return oom(c);
    for (int k = 0; k < 3; k++) {
        idx[k].kind = PS_STAN_IDX_ALL;
        if (gathered(n->args[k])) {
            idx[k] = n->args[k]->idx[0];
            n->args[k] = n->args[k]->args[0];
        }
    }
    n->idx = idx;
    n->n_idx = 3;
    n->eval = sm_eval_gfma;
    return PS_OK;
}

static ps_status lower_call(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    const char *name = e->u.call.name;
    ps_stan_fn fn = e->u.call.fn;
    if (fn == PS_STAN_FN_USER)
        return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, e->op_offset,
                                        "calls of user-defined functions ('%s') are not "
                                        "supported yet",
                                        name);
    if (fn == PS_STAN_FN_TARGET)
        return unsupported(c, e->op_offset, "target()");
    ps_stan_fn_kind kind = ps_stan_fn_kind_of(fn);
    if (kind == PS_STAN_KIND_RNG)
        return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, e->op_offset,
                                        "'%s' is not supported yet (random number generators)",
                                        ps_stan_fn_name(fn));
    lx_impl_fn impl = NULL;
    lx_ieval_fn ieval = NULL;
    int op = -1;
    sm_fn_support sup = sm_fn_resolve(fn, e->u.call.sig, e, &impl, &ieval, &op);
    const char *shown = ps_stan_fn_name(fn);
    if (kind == PS_STAN_KIND_OP)
        shown = name;
    char what[160];
    if (sup == SM_FN_NONE) {
        char sig[128];
        ps_stan_sig_format(e->u.call.sig, sig, sizeof sig);
        snprintf(what, sizeof what, "'%s' (%s)", shown, sig);
        return unsupported(c, e->op_offset, what);
    }
    if (sup == SM_FN_CONST_ONLY)
        for (size_t i = 0; i < e->u.call.n_args; i++)
            if (e->u.call.args[i]->level == PS_STAN_LEVEL_PARAM) {
                snprintf(what, sizeof what,
                         "'%s' with an argument that depends on parameters (argument %zu)", shown,
                         i + 1);
                return unsupported(c, e->u.call.args[i]->offset, what);
            }
    if (e->u.call.n_args > PS_STAN_MAX_PARAMS)
        return unsupported(c, e->op_offset, "a call with this many arguments");
    lx *n = NULL;
    PS_CHECK(sm_new_lx(c, e, (uint32_t)e->u.call.n_args, &n));
    n->fn = fn;
    n->name = kind == PS_STAN_KIND_OP ? name : ps_stan_fn_name(fn);
    n->propto = e->u.call.propto;
    for (size_t i = 0; i < e->u.call.n_args; i++)
        PS_CHECK(lower(c, e->u.call.args[i], &n->args[i]));
    n->impl = impl;
    n->ieval = ieval;
    n->op = op;
    if (ieval != NULL) {
        n->eval = sm_eval_int_as_value;
    } else if (impl != NULL) {
        n->eval = sm_eval_call;
    } else if (op == -2) {
        n->eval = sm_eval_fma;
    } else if (e->u.call.n_args == 1) {
        n->eval = is_real_scalar(e->u.call.args[0]->type) ? sm_eval_unary_s : sm_eval_unary;
    } else {
        n->eval = is_real_scalar(e->u.call.args[0]->type) && is_real_scalar(e->u.call.args[1]->type)
                      ? sm_eval_binary_s
                      : sm_eval_binary;
    }
    bool all_scalar = true;
    for (size_t i = 0; i < e->u.call.n_args; i++)
        all_scalar = all_scalar && is_real_scalar(e->u.call.args[i]->type);
    PS_CHECK(finish_node(c, n, true));
    if (n->eval == sm_eval_call && !n->foldable)
        sm_glm_specialise(n);
    /* a + b * c, b * c + a (element-wise or by a scalar): one fused node. */
    if (n->eval == sm_eval_fma && all_scalar)
        n->eval = sm_eval_fma_s;
    if ((n->eval == sm_eval_binary || n->eval == sm_eval_binary_s) && n->op == PS_AD_ADD &&
        !n->foldable) {
        int k = is_elementwise_mul(n->args[1]) ? 1 : is_elementwise_mul(n->args[0]) ? 0 : -1;
        if (k >= 0) {
            lx *mul = n->args[k], *a = n->args[1 - k];
            lx **args = alloc(c, 3 * sizeof *args);
            if (args == NULL)
                return oom(c);
            args[0] = a;
            args[1] = mul->args[0];
            args[2] = mul->args[1];
            n->args = args;
            n->n_args = 3;
            n->eval = sm_eval_fma;
            if (is_real_scalar(a->type) && is_real_scalar(mul->args[0]->type) &&
                is_real_scalar(mul->args[1]->type))
                n->eval = sm_eval_fma_s;
            else
                PS_CHECK(gather_fma(c, n));
        }
    }
    finalize_scalar(n);
    *out = n;
    return PS_OK;
}

static ps_status lower(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    switch (e->kind) {
    case PS_STAN_E_INT:
    case PS_STAN_E_REAL:
        return lower_literal(c, e, out);
    case PS_STAN_E_VAR:
        return lower_var(c, e, out);
    case PS_STAN_E_INDEX:
        return lower_index(c, e, out);
    case PS_STAN_E_COND:
        return lower_cond(c, e, out);
    case PS_STAN_E_ARRAY:
    case PS_STAN_E_ROWVEC:
        return lower_list(c, e, out);
    case PS_STAN_E_PROMOTE:
        return lower_promote(c, e, out);
    case PS_STAN_E_CALL:
        return lower_call(c, e, out);
    case PS_STAN_E_STRING:
        break;
    }
    return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, e->offset,
                                    "a string is only allowed in print, reject and fatal_error");
}

ps_status sm_lower_expr(lower_ctx *c, const ps_stan_expr *e, lx **out)
{
    PS_CHECK(lower(c, e, out));
    return sm_fold(c, *out);
}

/* ---------------------------------------------------------------------------------------
 * Declarations
 * ------------------------------------------------------------------------------------- */

ps_status sm_lower_decl(lower_ctx *c, const ps_stan_decl *d, bool top, ldecl **out)
{
    ldecl *ld = alloc(c, sizeof *ld);
    if (ld == NULL)
        return oom(c);
    ld->decl = d;
    ld->name = d->name;
    ld->type = d->type;
    ld->constraint = d->constraint;
    ld->top = top;
    ld->slot = -1;
    if (d->constraint == PS_STAN_C_UNIT_VECTOR)
        return unsupported(c, d->offset, "unit_vector");
    for (unsigned i = 0; i < d->type.dims; i++) {
        if (d->array_sizes == NULL || d->array_sizes[i] == NULL)
            return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, d->offset, "'%s' has no size",
                                            d->name);
        PS_CHECK(sm_lower_expr(c, d->array_sizes[i], &ld->sizes[ld->n_sizes++]));
    }
    int n_elem = d->type.base == PS_STAN_MATRIX                                           ? 2
                 : (d->type.base == PS_STAN_VECTOR || d->type.base == PS_STAN_ROW_VECTOR) ? 1
                                                                                          : 0;
    for (int i = 0; i < n_elem; i++) {
        const ps_stan_expr *se = d->elem_sizes[i] ? d->elem_sizes[i] : d->elem_sizes[0];
        if (se == NULL)
            return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, d->offset, "'%s' has no size",
                                            d->name);
        PS_CHECK(sm_lower_expr(c, se, &ld->sizes[ld->n_sizes++]));
    }
    if (d->lower != NULL)
        PS_CHECK(sm_lower_expr(c, d->lower, &ld->lower));
    if (d->upper != NULL)
        PS_CHECK(sm_lower_expr(c, d->upper, &ld->upper));
    if (d->offset_expr != NULL)
        PS_CHECK(sm_lower_expr(c, d->offset_expr, &ld->offset_e));
    if (d->multiplier != NULL)
        PS_CHECK(sm_lower_expr(c, d->multiplier, &ld->multiplier));
    if (top) {
        /* Sizes of top-level variables are data: known now. */
        ps_ad_tape_begin(c->cf->tape, false);
        c->cf->located = false;
        PS_CHECK(sm_decl_shape(c->cf, ld, &ld->shape));
    }
    *out = ld;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Statements
 * ------------------------------------------------------------------------------------- */

static ps_status new_ls(lower_ctx *c, const ps_stan_stmt *s, ls_exec_fn exec, ls **out)
{
    ls *n = alloc(c, sizeof *n);
    if (n == NULL)
        return oom(c);
    n->exec = exec;
    n->offset = s ? s->offset : 0;
    n->slot = -1;
    *out = n;
    return PS_OK;
}

static ps_status lower_stmt(lower_ctx *c, const ps_stan_stmt *s, ls **out);

static ps_status lower_body(lower_ctx *c, const ps_stan_stmt *s, ls **out)
{
    return lower_stmt(c, s, out);
}

/* The lvalue x[i][j] as one index list x[i, j] (nested single indices only). */
static ps_status flatten_lhs(lower_ctx *c, const ps_stan_expr *lhs, const ps_stan_expr **var,
                             const ps_stan_index **list, size_t *n)
{
    const ps_stan_expr *chain[PS_STAN_MAX_NESTING];
    size_t depth = 0;
    const ps_stan_expr *e = lhs;
    while (e->kind == PS_STAN_E_INDEX && depth < PS_STAN_MAX_NESTING) {
        chain[depth++] = e;
        e = e->u.index.base;
    }
    *var = e;
    if (depth == 1) {
        *list = lhs->u.index.indices;
        *n = lhs->u.index.n_indices;
        return PS_OK;
    }
    size_t total = 0;
    for (size_t k = 0; k < depth; k++) {
        const ps_stan_expr *x = chain[k];
        for (size_t i = 0; i < x->u.index.n_indices; i++)
            if (k + 1 < depth && x != lhs && x->u.index.indices[i].kind != PS_STAN_IDX_SINGLE)
                return unsupported(c, x->u.index.indices[i].offset,
                                   "assigning through nested multiple indexes");
        total += x->u.index.n_indices;
    }
    /* Inner indices must all be single for x[i][j] to equal x[i, j]. */
    for (size_t k = 1; k < depth; k++)
        for (size_t i = 0; i < chain[k]->u.index.n_indices; i++)
            if (chain[k]->u.index.indices[i].kind != PS_STAN_IDX_SINGLE)
                return unsupported(c, chain[k]->u.index.indices[i].offset,
                                   "assigning through nested multiple indexes");
    ps_stan_index *flat = alloc(c, (total + 1) * sizeof *flat);
    if (flat == NULL)
        return oom(c);
    size_t pos = 0;
    for (size_t k = depth; k-- > 0;)
        for (size_t i = 0; i < chain[k]->u.index.n_indices; i++)
            flat[pos++] = chain[k]->u.index.indices[i];
    *list = flat;
    *n = total;
    return PS_OK;
}

static ps_status lower_assign(lower_ctx *c, const ps_stan_stmt *s, ls **out)
{
    const ps_stan_expr *lhs = s->u.assign.lhs;
    const ps_stan_expr *var = lhs;
    const ps_stan_index *list = NULL;
    size_t n_idx = 0;
    if (lhs->kind == PS_STAN_E_INDEX)
        PS_CHECK(flatten_lhs(c, lhs, &var, &list, &n_idx));
    dinfo *info = sm_dinfo_find(c, s->u.assign.target);
    if (info == NULL || info->is_const || info->slot < 0)
        return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, lhs->offset,
                                        "cannot assign to '%s' here", s->u.assign.target->name);
    bool singles = n_idx > 0 && n_idx == type_axes(var->type);
    for (size_t i = 0; i < n_idx; i++)
        singles = singles && list[i].kind == PS_STAN_IDX_SINGLE;
    ls_exec_fn exec = singles                     ? sm_exec_assign_singles
                      : n_idx                     ? sm_exec_assign_index
                      : is_real_scalar(var->type) ? sm_exec_assign_scalar
                                                  : sm_exec_assign;
    ls *n = NULL;
    PS_CHECK(new_ls(c, s, exec, &n));
    n->slot = info->slot;
    n->name = s->u.assign.target->name;
    n->is_int = s->u.assign.target->type.base == PS_STAN_INT;
    /* The right-hand side; compound assignments x op= y read x op y. */
    lx *rhs = NULL;
    if (s->u.assign.op == PS_STAN_ASSIGN) {
        PS_CHECK(sm_lower_expr(c, s->u.assign.rhs, &rhs));
    } else {
        static const ps_stan_fn ops[] = {
            PS_STAN_FN_ADD,    PS_STAN_FN_ADD,          PS_STAN_FN_SUBTRACT,  PS_STAN_FN_MULTIPLY,
            PS_STAN_FN_DIVIDE, PS_STAN_FN_ELT_MULTIPLY, PS_STAN_FN_ELT_DIVIDE};
        ps_stan_expr call;
        memset(&call, 0, sizeof call);
        ps_stan_expr *args[2] = {(ps_stan_expr *)lhs, s->u.assign.rhs};
        call.kind = PS_STAN_E_CALL;
        call.type = lhs->type;
        call.level = lhs->level > s->u.assign.rhs->level ? lhs->level : s->u.assign.rhs->level;
        call.offset = s->u.assign.rhs->offset;
        call.op_offset = s->u.assign.rhs->offset;
        call.u.call.name = ps_stan_fn_name(ops[s->u.assign.op]);
        call.u.call.fn = ops[s->u.assign.op];
        call.u.call.sig = s->u.assign.sig;
        call.u.call.syntax = PS_STAN_SYN_INFIX;
        call.u.call.n_args = 2;
        call.u.call.args = args;
        PS_CHECK(sm_lower_expr(c, &call, &rhs));
    }
    n->e[1] = rhs;
    if (n_idx > 0) {
        lx *l = NULL;
        PS_CHECK(sm_new_lx(c, lhs, 0, &l));
        n->e[0] = l;
        n->n_idx = (uint32_t)n_idx;
        n->idx = alloc(c, (n_idx + 1) * sizeof *n->idx);
        if (n->idx == NULL)
            return oom(c);
        for (size_t i = 0; i < n_idx; i++) {
            n->idx[i].kind = (uint8_t)list[i].kind;
            if (list[i].lo != NULL)
                PS_CHECK(sm_lower_expr(c, list[i].lo, &n->idx[i].lo));
            if (list[i].hi != NULL)
                PS_CHECK(sm_lower_expr(c, list[i].hi, &n->idx[i].hi));
        }
    }
    *out = n;
    return PS_OK;
}

static ps_status lower_print(lower_ctx *c, const ps_stan_stmt *s, ls **out)
{
    ls_exec_fn exec = s->kind == PS_STAN_S_PRINT ? sm_exec_print : sm_exec_reject;
    ls *n = NULL;
    PS_CHECK(new_ls(c, s, exec, &n));
    n->is_int = s->kind == PS_STAN_S_FATAL_ERROR;
    n->n_print = (int)s->u.print.n;
    n->strings = alloc(c, (s->u.print.n + 1) * sizeof *n->strings);
    if (n->strings == NULL)
        return oom(c);
    PS_CHECK(sm_new_lx(c, NULL, (uint32_t)s->u.print.n, &n->e[0]));
    for (size_t i = 0; i < s->u.print.n; i++) {
        const ps_stan_expr *a = s->u.print.args[i];
        if (a->kind == PS_STAN_E_STRING) {
            char *str = alloc(c, a->u.string.len + 1);
            if (str == NULL)
                return oom(c);
            memcpy(str, a->u.string.text, a->u.string.len);
            n->strings[i] = str;
            continue;
        }
        PS_CHECK(sm_lower_expr(c, a, &n->e[0]->args[i]));
    }
    *out = n;
    return PS_OK;
}

static ps_status lower_block(lower_ctx *c, const ps_stan_stmt *s, ps_stan_stmt *const *stmts,
                             size_t count, ls **out)
{
    ls *n = NULL;
    PS_CHECK(new_ls(c, s, sm_exec_block, &n));
    n->body = alloc(c, (count + 1) * sizeof *n->body);
    if (n->body == NULL)
        return oom(c);
    for (size_t i = 0; i < count; i++) {
        const ps_stan_stmt *x = stmts[i];
        if (x->kind == PS_STAN_S_EMPTY)
            continue;
        PS_CHECK(lower_stmt(c, x, &n->body[n->n_body]));
        n->n_body++;
    }
    *out = n;
    return PS_OK;
}

static ps_status lower_stmt(lower_ctx *c, const ps_stan_stmt *s, ls **out)
{
    ls *n = NULL;
    switch (s->kind) {
    case PS_STAN_S_DECL: {
        const ps_stan_decl *d = s->u.decl.decl;
        /* Top-level variables of transformed data may be sized by earlier ones: their
         * shapes are evaluated when the block runs, like those of local variables. */
        bool top = d->origin == PS_STAN_ORIGIN_BLOCK && d->block != PS_STAN_BLOCK_TDATA;
        ldecl *ld = NULL;
        PS_CHECK(sm_lower_decl(c, d, top, &ld));
        if (d->init != NULL)
            PS_CHECK(sm_lower_expr(c, d->init, &ld->init));
        PS_CHECK(sm_slot_new(c, d, &ld->slot));
        dinfo *info = NULL;
        PS_CHECK(sm_dinfo_add(c, d, &info));
        info->ld = ld;
        PS_CHECK(new_ls(c, s, sm_exec_decl, &n));
        n->d = ld;
        break;
    }
    case PS_STAN_S_ASSIGN:
        return lower_assign(c, s, out);
    case PS_STAN_S_TILDE:
        PS_CHECK(new_ls(c, s, sm_exec_tilde, &n));
        PS_CHECK(sm_lower_expr(c, s->u.tilde.call, &n->e[0]));
        break;
    case PS_STAN_S_TARGET:
        PS_CHECK(new_ls(c, s, sm_exec_target, &n));
        PS_CHECK(sm_lower_expr(c, s->u.target.value, &n->e[0]));
        break;
    case PS_STAN_S_FOR:
        PS_CHECK(new_ls(c, s, sm_exec_for, &n));
        PS_CHECK(sm_lower_expr(c, s->u.for_range.lo, &n->e[0]));
        PS_CHECK(sm_lower_expr(c, s->u.for_range.hi, &n->e[1]));
        PS_CHECK(sm_slot_new(c, s->u.for_range.var, &n->slot));
        n->body = alloc(c, sizeof *n->body);
        if (n->body == NULL)
            return oom(c);
        n->n_body = 1;
        PS_CHECK(lower_body(c, s->u.for_range.body, &n->body[0]));
        break;
    case PS_STAN_S_FOREACH:
        PS_CHECK(new_ls(c, s, sm_exec_foreach, &n));
        PS_CHECK(sm_lower_expr(c, s->u.foreach.container, &n->e[0]));
        PS_CHECK(sm_slot_new(c, s->u.foreach.var, &n->slot));
        n->body = alloc(c, sizeof *n->body);
        if (n->body == NULL)
            return oom(c);
        n->n_body = 1;
        PS_CHECK(lower_body(c, s->u.foreach.body, &n->body[0]));
        break;
    case PS_STAN_S_WHILE:
        PS_CHECK(new_ls(c, s, sm_exec_while, &n));
        PS_CHECK(sm_lower_expr(c, s->u.while_loop.cond, &n->e[0]));
        n->body = alloc(c, sizeof *n->body);
        if (n->body == NULL)
            return oom(c);
        n->n_body = 1;
        PS_CHECK(lower_body(c, s->u.while_loop.body, &n->body[0]));
        break;
    case PS_STAN_S_IF:
        PS_CHECK(new_ls(c, s, sm_exec_if, &n));
        PS_CHECK(sm_lower_expr(c, s->u.if_stmt.cond, &n->e[0]));
        n->body = alloc(c, 2 * sizeof *n->body);
        if (n->body == NULL)
            return oom(c);
        n->n_body = 2;
        PS_CHECK(lower_body(c, s->u.if_stmt.then_stmt, &n->body[0]));
        if (s->u.if_stmt.else_stmt != NULL)
            PS_CHECK(lower_body(c, s->u.if_stmt.else_stmt, &n->body[1]));
        break;
    case PS_STAN_S_BLOCK:
        return lower_block(c, s, s->u.block.stmts, s->u.block.n, out);
    case PS_STAN_S_BREAK:
        PS_CHECK(new_ls(c, s, sm_exec_break, &n));
        break;
    case PS_STAN_S_CONTINUE:
        PS_CHECK(new_ls(c, s, sm_exec_continue, &n));
        break;
    case PS_STAN_S_PRINT:
    case PS_STAN_S_REJECT:
    case PS_STAN_S_FATAL_ERROR:
        return lower_print(c, s, out);
    case PS_STAN_S_RETURN:
    case PS_STAN_S_CALL:
        return unsupported(c, s->offset, "user-defined functions");
    case PS_STAN_S_EMPTY:
        PS_CHECK(new_ls(c, s, sm_exec_empty, &n));
        break;
    }
    *out = n;
    return PS_OK;
}

ps_status sm_lower_stmt(lower_ctx *c, const ps_stan_stmt *s, ls **out)
{
    return lower_stmt(c, s, out);
}

/* A block of the program as one block statement (NULL when the block is empty). Top-level
 * declarations of the transformed parameters block are lowered by the caller (decl_hook),
 * the others as ordinary statements. */
ps_status sm_lower_block(lower_ctx *c, ps_stan_block block, ls **out)
{
    size_t n = 0;
    ps_stan_stmt *const *stmts = ps_stan_program_stmts(c->m->prog, block, &n);
    *out = NULL;
    if (n == 0)
        return PS_OK;
    return lower_block(c, NULL, stmts, n, out);
}
