/*
 * Fused nodes of the compiled Stan model, written with the engine's primitive-writing API
 * (src/ad/ad.h): patterns of linear predictors that would otherwise cost several passes
 * over long vectors and intermediate results on the tape.
 *
 * Indexed fma: a + b .* c where some operands are a vector (or 1-D real array) indexed by an
 * int array, the `a[g] + b[g] .* x` of varying-intercept, varying-slope regressions. One
 * pass computes out[i] = A[ia[i]] + B[ib[i]] C[ic[i]] (an operand without index is read
 * directly, or broadcast when it is a scalar), and one node scatters the adjoints back:
 * no gathered copies of a and b, no second pass for the product.
 */
#include <string.h>

#include "model/stan_impl.h"

typedef struct gfma_node {
    size_t n;
    const double *bv, *cv;
    const int *ia, *ib, *ic; /* 1-based, or NULL (then the stride) */
    size_t sa, sb, sc;
    double *aa, *ba, *ca;
    const double *oa;
} gfma_node;

static inline size_t at(const int *idx, size_t stride, size_t i)
{
    return idx ? (size_t)(idx[i] - 1) : i * stride;
}

static void gfma_back(void *p)
{
    const gfma_node *nd = p;
    if (nd->ia && nd->ib && nd->ic == NULL && nd->sc == 1 && nd->aa && nd->ba && !nd->ca) {
        /* a[g] + b[g] .* x with x data: the common case, without the per-element tests of
         * the general loop (the same operations in the same order). */
        const int *ia = nd->ia, *ib = nd->ib;
        const double *oa = nd->oa, *cv = nd->cv;
        double *aa = nd->aa, *ba = nd->ba;
        for (size_t i = 0; i < nd->n; i++) {
            double g = oa[i];
            aa[ia[i] - 1] += g;
            ba[ib[i] - 1] += g * cv[i];
        }
        return;
    }
    for (size_t i = 0; i < nd->n; i++) {
        double g = nd->oa[i];
        size_t pb = at(nd->ib, nd->sb, i), pc = at(nd->ic, nd->sc, i);
        if (nd->aa)
            nd->aa[at(nd->ia, nd->sa, i)] += g;
        if (nd->ba)
            nd->ba[pb] += g * nd->cv[pc];
        if (nd->ca)
            nd->ca[pc] += g * nd->bv[pb];
    }
}

/* One operand: its values, and its index array (checked, kept alive) or stride. */
typedef struct operand {
    sval v;
    const int *idx;
    size_t n; /* elements it contributes (index length, or size) */
    size_t stride;
} operand;

static ps_status load(frame *f, const lx *e, int k, operand *o)
{
    PS_CHECK(sm_eval(e->args[k], f, &o->v));
    size_t size = ps_adv_size(o->v.x);
    const lidx *ix = &e->idx[k];
    if (ix->kind != PS_STAN_IDX_MULTI) {
        o->idx = NULL;
        o->n = size;
        o->stride = size == 1 && o->v.s.nd == 0 && o->v.s.base == PS_STAN_REAL ? 0 : 1;
        return PS_OK;
    }
    sval l;
    PS_CHECK(sm_eval(ix->lo, f, &l));
    size_t cnt = sshape_count(&l.s);
    unsigned bad = 0;
    if (ix->lo->is_const)
        bad = cnt > 0 && (ix->lo->imin < 1 || (size_t)ix->lo->imax > size);
    else
        for (size_t i = 0; i < cnt; i++)
            bad |= (unsigned)((unsigned)l.iv[i] - 1u >= size);
    for (size_t i = 0; bad && i < cnt; i++)
        if (l.iv[i] < 1 || (size_t)l.iv[i] > size)
            return sm_error_at(f, PS_ERR_MODEL, ix->lo->offset,
                               "index %d out of range for '%s': expecting an index in 1..%zu",
                               l.iv[i], e->args[k]->name ? e->args[k]->name : "?", size);
    const int *list = l.iv;
    if (!ix->lo->is_const) {
        /* The node reads the indices again in the reverse sweep: a variable's storage may
         * change before then. */
        int *copy = NULL;
        PS_CHECK(sm_alloc_ints(f, cnt, &copy));
        if (cnt > 0)
            memcpy(copy, list, cnt * sizeof(int));
        list = copy;
    }
    o->idx = list;
    o->n = cnt;
    o->stride = 1;
    return PS_OK;
}

ps_status sm_eval_gfma(const lx *e, frame *f, sval *out)
{
    operand o[3];
    for (int k = 0; k < 3; k++)
        PS_CHECK(load(f, e, k, &o[k]));
    size_t n = 1;
    int like = -1;
    for (int k = 0; k < 3; k++) {
        if (o[k].idx == NULL && o[k].stride == 0)
            continue;
        if (like >= 0 && o[k].n != n)
            return sm_error_at(f, PS_ERR_MODEL, e->offset,
                               "size mismatch in '%s': operands of %zu and %zu elements", e->name,
                               n, o[k].n);
        n = o[k].n;
        like = k;
    }
    bool var = o[0].v.x.var || o[1].v.x.var || o[2].v.x.var;
    double *r = NULL;
    ps_adv res;
    PS_CHECK(ps_ad_result(f->tape, n, 1, var, &r, &res));
    const double *av = o[0].v.x.v, *bv = o[1].v.x.v, *cv = o[2].v.x.v;
    const int *ia = o[0].idx, *ib = o[1].idx, *ic = o[2].idx;
    size_t sa = o[0].stride, sb = o[1].stride, sc = o[2].stride;
    if (ia && ib && ic == NULL && sc == 1)
        for (size_t i = 0; i < n; i++)
            r[i] = av[ia[i] - 1] + bv[ib[i] - 1] * cv[i];
    else
        for (size_t i = 0; i < n; i++)
            r[i] = av[at(ia, sa, i)] + bv[at(ib, sb, i)] * cv[at(ic, sc, i)];
    sshape s;
    memset(&s, 0, sizeof s);
    s.r = s.c = 1;
    if (e->type.dims > 0) {
        s.base = PS_STAN_REAL;
        s.nd = 1;
        s.dim[0] = (uint32_t)n;
    } else {
        s.base = e->type.base;
        s.r = e->type.base == PS_STAN_ROW_VECTOR ? 1 : (uint32_t)n;
        s.c = e->type.base == PS_STAN_ROW_VECTOR ? (uint32_t)n : 1;
    }
    sval_set_real(out, res, &s);
    if (res.a == NULL || (o[0].v.x.a == NULL && o[1].v.x.a == NULL && o[2].v.x.a == NULL))
        return PS_OK;
    gfma_node *nd;
    PS_CHECK(ps_ad_node_push(f->tape, gfma_back, sizeof *nd, (void **)&nd));
    *nd = (gfma_node){n, bv, cv, ia, ib, ic, sa, sb, sc, o[0].v.x.a, o[1].v.x.a, o[2].v.x.a, res.a};
    (void)like;
    return PS_OK;
}
