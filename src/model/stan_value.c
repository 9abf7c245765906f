/*
 * Values, variables and indexing of the compiled Stan model (see stan_impl.h for the
 * layout of values and the two states of a variable).
 *
 * Indexing is one general routine: the indices select, for every axis of the base value
 * (its array dimensions, then the rows and columns of its cells), one position, a range
 * or a list; the result's scalars are enumerated in the result's own layout (array
 * dimensions row-major, cells column-major) and mapped to flat positions of the base.
 * A contiguous run of positions is an alias (no copy, no node); anything else is one
 * gather node. The same positions serve assignments, which rebind the variable's
 * per-scalar handles (values on the tape are never overwritten).
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/stan_impl.h"

/* A non-NULL address for empty values (a NULL value pointer means "no bound"). */
static const double empty_values[1] = {0.0};
static const int empty_ints[1] = {0};
static const double nan_scalar[1] = {NAN};

/* ---------------------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------------------- */

struct sm_chunk {
    sm_chunk *next;
    size_t cap, used;
    unsigned char *mem; /* 32-byte aligned */
    void *raw;
};

void *sm_arena_alloc(sm_arena *arena, size_t size)
{
    size = (size + 31) & ~(size_t)31;
    if (size == 0)
        size = 32;
    sm_chunk *c = arena->head;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        c = ps_malloc(sizeof *c);
        if (c == NULL)
            return NULL;
        c->raw = ps_malloc(cap + 32);
        if (c->raw == NULL) {
            ps_free(c);
            return NULL;
        }
        c->mem = (unsigned char *)(((uintptr_t)c->raw + 31) & ~(uintptr_t)31);
        c->cap = cap;
        c->used = 0;
        c->next = arena->head;
        arena->head = c;
    }
    void *p = c->mem + c->used;
    c->used += size;
    arena->total += size;
    memset(p, 0, size);
    return p;
}

void sm_arena_fini(sm_arena *arena)
{
    sm_chunk *c = arena->head;
    while (c != NULL) {
        sm_chunk *next = c->next;
        ps_free(c->raw);
        ps_free(c);
        c = next;
    }
    arena->head = NULL;
    arena->total = 0;
}

/* ---------------------------------------------------------------------------------------
 * Shapes
 * ------------------------------------------------------------------------------------- */

size_t sshape_cells(const sshape *s)
{
    size_t n = 1;
    for (unsigned i = 0; i < s->nd; i++)
        n *= s->dim[i];
    return n;
}

size_t sshape_count(const sshape *s)
{
    return sshape_cells(s) * (size_t)s->r * (size_t)s->c;
}

bool sshape_equal(const sshape *a, const sshape *b)
{
    if (a->nd != b->nd || a->r != b->r || a->c != b->c)
        return false;
    for (unsigned i = 0; i < a->nd; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

const char *sshape_format(const sshape *s, char *buf, size_t size)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    if (s->nd > 0) {
        ps_strbuf_puts(&sb, "array[");
        for (unsigned i = 0; i < s->nd; i++)
            ps_strbuf_printf(&sb, "%s%u", i ? ", " : "", s->dim[i]);
        ps_strbuf_puts(&sb, "] ");
    }
    switch (s->base) {
    case PS_STAN_INT:
        ps_strbuf_puts(&sb, "int");
        break;
    case PS_STAN_REAL:
        ps_strbuf_puts(&sb, "real");
        break;
    case PS_STAN_VECTOR:
        ps_strbuf_printf(&sb, "vector[%u]", s->r);
        break;
    case PS_STAN_ROW_VECTOR:
        ps_strbuf_printf(&sb, "row_vector[%u]", s->c);
        break;
    default:
        ps_strbuf_printf(&sb, "matrix[%u, %u]", s->r, s->c);
        break;
    }
    if (size > 0)
        snprintf(buf, size, "%s", sb.failed ? "?" : ps_strbuf_str(&sb));
    ps_strbuf_fini(&sb);
    return buf;
}

void sval_set_real(sval *out, ps_adv x, const sshape *s)
{
    size_t n = sshape_count(s);
    out->s = *s;
    out->iv = NULL;
    if (n == 0 && x.v == NULL)
        x.v = empty_values;
    x.rows = s->nd ? n : s->r;
    x.cols = s->nd ? 1 : s->c;
    out->x = x;
}

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

ps_status sm_error_at(const frame *f, ps_status status, size_t offset, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ((frame *)f)->located = true;
    return ps_stan_program_error_at(f->m->prog, status, offset, "%s", msg);
}

/* ---------------------------------------------------------------------------------------
 * Arena helpers of an evaluation
 * ------------------------------------------------------------------------------------- */

ps_status sm_check_elements(frame *f, size_t n, size_t offset)
{
    size_t max = f->m->max_elements;
    if (max != 0 && n > max)
        return sm_error_at(f, PS_ERR_MODEL, offset,
                           "a container of %zu elements is larger than this run allows (%zu)", n,
                           max);
    return PS_OK;
}

ps_status sm_alloc_ints(frame *f, size_t n, int **out)
{
    double *p = NULL;
    PS_CHECK(ps_ad_alloc(f->tape, n / 2 + 1, &p));
    *out = (int *)(void *)p;
    return PS_OK;
}

static ps_status alloc_handles(frame *f, size_t n, ps_adv **out)
{
    double *p = NULL;
    size_t per = (sizeof(ps_adv) + sizeof(double) - 1) / sizeof(double);
    PS_CHECK(ps_ad_alloc(f->tape, n * per + 1, &p));
    *out = (ps_adv *)(void *)p;
    return PS_OK;
}

static ps_status alloc_positions(frame *f, size_t n, uint32_t **out)
{
    double *p = NULL;
    PS_CHECK(ps_ad_alloc(f->tape, n / 2 + 1, &p));
    *out = (uint32_t *)(void *)p;
    return PS_OK;
}

ps_status sm_const_fill(frame *f, const sshape *s, double x, sval *out)
{
    size_t n = sshape_count(s);
    if (n == 1 && isnan(x) && s->nd == 0) {
        sval_set_real(out, ps_ad_data(nan_scalar, 1, 1), s);
        return PS_OK;
    }
    double *v = NULL;
    ps_adv a;
    PS_CHECK(ps_ad_const_alloc(f->tape, n, 1, &v, &a));
    for (size_t i = 0; i < n; i++)
        v[i] = x;
    sval_set_real(out, a, s);
    return PS_OK;
}

ps_status sm_promote(frame *f, const sval *in, ps_stan_type to, sval *out)
{
    sshape s = in->s;
    s.base = to.base == PS_STAN_INT ? PS_STAN_REAL : to.base;
    size_t n = sshape_count(&s);
    double *v = NULL;
    ps_adv a;
    PS_CHECK(ps_ad_const_alloc(f->tape, n, 1, &v, &a));
    for (size_t i = 0; i < n; i++)
        v[i] = (double)in->iv[i];
    sval_set_real(out, a, &s);
    return PS_OK;
}

ps_status sm_from_handles(frame *f, const ps_adv *h, const sshape *s, sval *out)
{
    size_t n = sshape_count(s);
    if (n == 0) {
        sval_set_real(out, ps_ad_data(empty_values, 0, 1), s);
        return PS_OK;
    }
    const double *v0 = h[0].v;
    double *a0 = h[0].a;
    bool var0 = h[0].var;
    size_t i = 1;
    for (; i < n; i++)
        if (h[i].v != v0 + i || h[i].a != (a0 ? a0 + i : NULL) || h[i].var != var0)
            break;
    if (i == n) {
        sval_set_real(out, (ps_adv){v0, a0, n, 1, var0}, s);
        return PS_OK;
    }
    ps_adv x;
    PS_CHECK(ps_ad_from_scalars(f->tape, h, n, 1, &x));
    sval_set_real(out, x, s);
    return PS_OK;
}

/* A gather from a flat ps_adv by 0-based positions: an alias when they are one run. */
static ps_status gather_adv(frame *f, ps_adv x, const uint32_t *pos, size_t n, ps_adv *out)
{
    size_t total = ps_adv_size(x);
    if (n == 0) {
        *out = ps_ad_data(empty_values, 0, 1);
        return PS_OK;
    }
    size_t i = 1;
    for (; i < n; i++)
        if (pos[i] != pos[0] + i)
            break;
    if (i == n && (size_t)pos[0] + n <= total) {
        *out = (ps_adv){x.v + pos[0], x.a ? x.a + pos[0] : NULL, n, 1, x.var};
        return PS_OK;
    }
    int *idx = NULL;
    PS_CHECK(sm_alloc_ints(f, n, &idx));
    for (size_t k = 0; k < n; k++)
        idx[k] = (int)pos[k] + 1;
    ps_adv flat = x;
    flat.rows = total;
    flat.cols = 1;
    return ps_ad_gather(f->tape, flat, ps_ad_int_data(idx, n), out);
}

ps_status sm_gather(frame *f, const sval *in, const uint32_t *pos, const sshape *s, sval *out)
{
    size_t n = sshape_count(s);
    if (in->s.base == PS_STAN_INT) {
        size_t i = 1;
        for (; i < n; i++)
            if (pos[i] != pos[0] + i)
                break;
        out->s = *s;
        out->x = ps_ad_data(NULL, 0, 0);
        if (n == 0) {
            out->iv = empty_ints;
        } else if (i == n) {
            out->iv = in->iv + pos[0];
        } else {
            int *v = NULL;
            PS_CHECK(sm_alloc_ints(f, n, &v));
            for (size_t k = 0; k < n; k++)
                v[k] = in->iv[pos[k]];
            out->iv = v;
        }
        return PS_OK;
    }
    ps_adv x;
    PS_CHECK(gather_adv(f, in->x, pos, n, &x));
    sval_set_real(out, x, s);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Frames and variables
 * ------------------------------------------------------------------------------------- */

ps_status sm_frame_init(frame *f, const stan_model *m, ps_ad_tape *tape, vstate *vars)
{
    memset(f, 0, sizeof *f);
    f->m = m;
    f->tape = tape;
    f->vars = vars;
    f->n_vars = m->n_slots;
    return PS_OK;
}

void sm_frame_reset(frame *f)
{
    f->budget = f->m->loop_budget;
    f->flow = FLOW_NORMAL;
    f->located = false;
    f->message[0] = '\0';
    memset(f->vars, 0, f->n_vars * sizeof *f->vars);
}

ps_status sm_var_declare(frame *f, int slot, const sshape *shape, bool is_int)
{
    vstate *vs = &f->vars[slot];
    vs->whole = true;
    vs->scal_ok = false;
    vs->scal = NULL;
    size_t n = sshape_count(shape);
    if (is_int) {
        int *store;
        if (n == 1 && shape->nd == 0) {
            store = &vs->iscalar;
        } else {
            PS_CHECK(sm_alloc_ints(f, n, &store));
        }
        for (size_t i = 0; i < n; i++)
            store[i] = INT_MIN;
        vs->istore = store;
        vs->val.s = *shape;
        vs->val.s.base = PS_STAN_INT;
        vs->val.iv = store;
        vs->val.x = ps_ad_data(NULL, 0, 0);
        return PS_OK;
    }
    vs->istore = NULL;
    return sm_const_fill(f, shape, NAN, &vs->val);
}

ps_status sm_var_read(frame *f, int slot, sval *out)
{
    vstate *vs = &f->vars[slot];
    if (!vs->whole) {
        PS_CHECK(sm_from_handles(f, vs->scal, &vs->val.s, &vs->val));
        vs->whole = true;
    }
    *out = vs->val;
    return PS_OK;
}

static ps_status size_mismatch(frame *f, const char *name, size_t offset, const sshape *want,
                               const sshape *got)
{
    char a[96], b[96];
    return sm_error_at(f, PS_ERR_MODEL, offset,
                       "size mismatch in the assignment to '%s': the variable is %s, the value is "
                       "%s",
                       name, sshape_format(want, a, sizeof a), sshape_format(got, b, sizeof b));
}

ps_status sm_var_assign(frame *f, int slot, const sval *value, const char *name, size_t offset)
{
    vstate *vs = &f->vars[slot];
    sshape want = vs->val.s;
    if (!sshape_equal(&want, &value->s))
        return size_mismatch(f, name, offset, &want, &value->s);
    size_t n = sshape_count(&want);
    if (want.base == PS_STAN_INT) {
        if (n > 0 && vs->istore != value->iv)
            memmove(vs->istore, value->iv, n * sizeof(int));
        return PS_OK;
    }
    sval_set_real(&vs->val, value->x, &want);
    vs->whole = true;
    vs->scal_ok = false;
    return PS_OK;
}

static ps_status ensure_scal(frame *f, vstate *vs)
{
    if (vs->scal_ok)
        return PS_OK;
    size_t n = sshape_count(&vs->val.s);
    PS_CHECK(alloc_handles(f, n, &vs->scal));
    ps_adv x = vs->val.x;
    for (size_t i = 0; i < n; i++)
        vs->scal[i] = (ps_adv){x.v + i, x.a ? x.a + i : NULL, 1, 1, x.var};
    vs->scal_ok = true;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Index plans
 * ------------------------------------------------------------------------------------- */

enum { SEL_SINGLE = 0, SEL_RANGE, SEL_LIST };

typedef struct axis_sel {
    uint8_t kind;
    uint32_t start;  /* SINGLE, RANGE: 0-based */
    uint32_t count;  /* RANGE, LIST */
    const int *list; /* LIST: 1-based */
    size_t stride;   /* in the base's flat layout */
    uint32_t len;    /* extent of the axis */
} axis_sel;

typedef struct index_plan {
    unsigned n_axes;
    axis_sel ax[PS_STAN_MAX_ARRAY_DIMS + 2];
    sshape out;      /* the result's shape */
    size_t base_pos; /* flat position of the single indices */
    bool scalar;     /* every axis single: one position */
} index_plan;

/* The axes of a value: its array dimensions, then its cell's. Returns their number. */
static unsigned shape_axes(const sshape *s, uint32_t *len, size_t *stride)
{
    unsigned n = 0;
    size_t cell = (size_t)s->r * s->c;
    size_t st = cell;
    for (int i = (int)s->nd - 1; i >= 0; i--) {
        stride[i] = st;
        st *= s->dim[i];
    }
    for (unsigned i = 0; i < s->nd; i++)
        len[n++] = s->dim[i];
    switch (s->base) {
    case PS_STAN_VECTOR:
        len[n] = s->r;
        stride[n++] = 1;
        break;
    case PS_STAN_ROW_VECTOR:
        len[n] = s->c;
        stride[n++] = 1;
        break;
    case PS_STAN_MATRIX:
        len[n] = s->r;
        stride[n++] = 1;
        len[n] = s->c;
        stride[n++] = s->r;
        break;
    default:
        break;
    }
    return n;
}

static ps_status index_error(frame *f, const lx *e, long i, uint32_t len, const char *name)
{
    if (name != NULL)
        return sm_error_at(f, PS_ERR_MODEL, e->offset,
                           "index %ld out of range for '%s': expecting an index in 1..%u", i, name,
                           len);
    return sm_error_at(f, PS_ERR_MODEL, e->offset,
                       "index %ld out of range: expecting an index in 1..%u", i, len);
}

/* Evaluates the indices of e->idx against a base of shape s into a plan. */
static ps_status make_plan(frame *f, const lx *e, const lidx *idx, uint32_t n_idx, const sshape *s,
                           const char *name, index_plan *p)
{
    uint32_t len[PS_STAN_MAX_ARRAY_DIMS + 2];
    size_t stride[PS_STAN_MAX_ARRAY_DIMS + 2];
    unsigned n_axes = shape_axes(s, len, stride);
    if (n_idx > n_axes)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "too many indices for a value of shape %s",
                           sshape_format(s, (char[64]){0}, 64));
    p->n_axes = n_axes;
    p->base_pos = 0;
    p->scalar = true;
    for (unsigned k = 0; k < n_axes; k++) {
        axis_sel *a = &p->ax[k];
        a->stride = stride[k];
        a->len = len[k];
        a->list = NULL;
        uint8_t kind = k < n_idx ? idx[k].kind : PS_STAN_IDX_ALL;
        int lo = 1, hi = (int)len[k];
        switch (kind) {
        case PS_STAN_IDX_SINGLE: {
            int i;
            PS_CHECK(sm_ieval(idx[k].lo, f, &i));
            if (i < 1 || (uint32_t)i > len[k])
                return index_error(f, idx[k].lo, i, len[k], name);
            a->kind = SEL_SINGLE;
            a->start = (uint32_t)(i - 1);
            a->count = 1;
            p->base_pos += a->start * stride[k];
            continue;
        }
        case PS_STAN_IDX_MULTI: {
            sval l;
            PS_CHECK(sm_eval(idx[k].lo, f, &l));
            size_t cnt = sshape_count(&l.s);
            unsigned bad = 0;
            if (idx[k].lo->is_const)
                bad = cnt > 0 && (idx[k].lo->imin < 1 || (uint32_t)idx[k].lo->imax > len[k]);
            else
                for (size_t j = 0; j < cnt; j++)
                    bad |= (unsigned)((unsigned)l.iv[j] - 1u >= len[k]);
            for (size_t j = 0; bad && j < cnt; j++)
                if (l.iv[j] < 1 || (uint32_t)l.iv[j] > len[k])
                    return index_error(f, idx[k].lo, l.iv[j], len[k], name);
            a->kind = SEL_LIST;
            a->list = l.iv;
            a->count = (uint32_t)cnt;
            p->scalar = false;
            continue;
        }
        case PS_STAN_IDX_RANGE:
            PS_CHECK(sm_ieval(idx[k].lo, f, &lo));
            PS_CHECK(sm_ieval(idx[k].hi, f, &hi));
            break;
        case PS_STAN_IDX_FROM:
            PS_CHECK(sm_ieval(idx[k].lo, f, &lo));
            break;
        case PS_STAN_IDX_TO:
            PS_CHECK(sm_ieval(idx[k].hi, f, &hi));
            break;
        default:
            break;
        }
        /* A range lo:hi with hi < lo is empty (Stan). */
        a->kind = SEL_RANGE;
        p->scalar = false;
        if (hi < lo) {
            a->start = 0;
            a->count = 0;
            continue;
        }
        if (lo < 1 || (uint32_t)lo > len[k])
            return index_error(f, k < n_idx && idx[k].lo ? idx[k].lo : e, lo, len[k], name);
        if ((uint32_t)hi > len[k])
            return index_error(f, k < n_idx && idx[k].hi ? idx[k].hi : e, hi, len[k], name);
        a->start = (uint32_t)(lo - 1);
        a->count = (uint32_t)(hi - lo + 1);
    }
    /* The result's shape. */
    sshape *o = &p->out;
    memset(o, 0, sizeof *o);
    o->r = o->c = 1;
    for (unsigned k = 0; k < s->nd; k++)
        if (p->ax[k].kind != SEL_SINGLE)
            o->dim[o->nd++] = p->ax[k].count;
    const axis_sel *c0 = &p->ax[s->nd], *c1 = &p->ax[s->nd + 1];
    switch (s->base) {
    case PS_STAN_INT:
    case PS_STAN_REAL:
        o->base = s->base;
        break;
    case PS_STAN_VECTOR:
        o->base = c0->kind == SEL_SINGLE ? PS_STAN_REAL : PS_STAN_VECTOR;
        o->r = c0->kind == SEL_SINGLE ? 1 : c0->count;
        break;
    case PS_STAN_ROW_VECTOR:
        o->base = c0->kind == SEL_SINGLE ? PS_STAN_REAL : PS_STAN_ROW_VECTOR;
        o->c = c0->kind == SEL_SINGLE ? 1 : c0->count;
        break;
    default: {
        bool s0 = c0->kind == SEL_SINGLE, s1 = c1->kind == SEL_SINGLE;
        o->base = s0 && s1 ? PS_STAN_REAL
                  : s0     ? PS_STAN_ROW_VECTOR
                  : s1     ? PS_STAN_VECTOR
                           : PS_STAN_MATRIX;
        o->r = s0 ? 1 : c0->count;
        o->c = s1 ? 1 : c1->count;
        break;
    }
    }
    return PS_OK;
}

/* The flat positions of a plan's result, in the result's layout. */
static ps_status plan_positions(frame *f, const index_plan *p, const sshape *base,
                                uint32_t **pos_out, size_t *n_out)
{
    size_t n = sshape_count(&p->out);
    if (sshape_count(base) > 0xffffffffu)
        return ps_error(PS_ERR_MODEL, "containers of more than 2^32 elements cannot be indexed");
    uint32_t *pos = NULL;
    PS_CHECK(alloc_positions(f, n, &pos));
    /* The varying axes, outermost first: array axes in order, then (matrix results)
     * columns before rows, so that rows vary fastest. */
    const axis_sel *vary[PS_STAN_MAX_ARRAY_DIMS + 2];
    unsigned nv = 0;
    for (unsigned k = 0; k < base->nd; k++)
        if (p->ax[k].kind != SEL_SINGLE)
            vary[nv++] = &p->ax[k];
    if (base->base == PS_STAN_MATRIX) {
        if (p->ax[base->nd + 1].kind != SEL_SINGLE)
            vary[nv++] = &p->ax[base->nd + 1];
        if (p->ax[base->nd].kind != SEL_SINGLE)
            vary[nv++] = &p->ax[base->nd];
    } else if (base->base == PS_STAN_VECTOR || base->base == PS_STAN_ROW_VECTOR) {
        if (p->ax[base->nd].kind != SEL_SINGLE)
            vary[nv++] = &p->ax[base->nd];
    }
    uint32_t ctr[PS_STAN_MAX_ARRAY_DIMS + 2] = {0};
    for (size_t k = 0; k < n; k++) {
        size_t q = p->base_pos;
        for (unsigned j = 0; j < nv; j++) {
            const axis_sel *a = vary[j];
            uint32_t i = a->kind == SEL_LIST ? (uint32_t)(a->list[ctr[j]] - 1) : a->start + ctr[j];
            q += i * a->stride;
        }
        pos[k] = (uint32_t)q;
        for (int j = (int)nv - 1; j >= 0; j--) {
            if (++ctr[j] < vary[j]->count)
                break;
            ctr[j] = 0;
        }
    }
    *pos_out = pos;
    *n_out = n;
    return PS_OK;
}

/* Reads from a slot variable without materialising its whole value. */
static ps_status read_var_positions(frame *f, vstate *vs, const index_plan *p, sval *out)
{
    if (p->scalar) {
        if (vs->val.s.base == PS_STAN_INT) {
            out->s = p->out;
            out->iv = vs->istore + p->base_pos;
            out->x = ps_ad_data(NULL, 0, 0);
            return PS_OK;
        }
        ps_adv h =
            vs->scal_ok && !vs->whole
                ? vs->scal[p->base_pos]
                : (ps_adv){vs->val.x.v + p->base_pos,
                           vs->val.x.a ? vs->val.x.a + p->base_pos : NULL, 1, 1, vs->val.x.var};
        *out = sval_real(h);
        return PS_OK;
    }
    uint32_t *pos = NULL;
    size_t n = 0;
    PS_CHECK(plan_positions(f, p, &vs->val.s, &pos, &n));
    if (vs->val.s.base == PS_STAN_INT || vs->whole)
        return sm_gather(f, &vs->val, pos, &p->out, out);
    ps_adv *h = NULL;
    PS_CHECK(alloc_handles(f, n, &h));
    for (size_t k = 0; k < n; k++)
        h[k] = vs->scal[pos[k]];
    return sm_from_handles(f, h, &p->out, out);
}

ps_status sm_index_read(frame *f, const lx *e, sval *out)
{
    const lx *base = e->args[0];
    index_plan p;
    sval b;
    if (base->slot >= 0) {
        vstate *vs = &f->vars[base->slot];
        PS_CHECK(make_plan(f, e, e->idx, e->n_idx, &vs->val.s, base->name, &p));
        if (p.scalar || !vs->whole)
            return read_var_positions(f, vs, &p, out);
        b = vs->val;
    } else {
        PS_CHECK(sm_eval(base, f, &b));
        PS_CHECK(make_plan(f, e, e->idx, e->n_idx, &b.s, base->name, &p));
    }
    if (p.scalar) {
        if (b.s.base == PS_STAN_INT) {
            out->s = p.out;
            out->iv = b.iv + p.base_pos;
            out->x = ps_ad_data(NULL, 0, 0);
            return PS_OK;
        }
        *out = sval_real(
            (ps_adv){b.x.v + p.base_pos, b.x.a ? b.x.a + p.base_pos : NULL, 1, 1, b.x.var});
        return PS_OK;
    }
    /* A vector (or 1-D real array) indexed by an int array: one gather node. The index
     * array must outlive the evaluation unchanged, so a variable's storage is copied. */
    if (e->n_idx == 1 && e->idx[0].kind == PS_STAN_IDX_MULTI && b.s.base != PS_STAN_INT &&
        ((b.s.nd == 0 && b.s.base == PS_STAN_VECTOR) ||
         (b.s.nd == 1 && b.s.base == PS_STAN_REAL))) {
        const int *list = p.ax[0].list;
        size_t cnt = p.ax[0].count;
        if (e->idx[0].lo->eval != sm_eval_const) {
            int *copy = NULL;
            PS_CHECK(sm_alloc_ints(f, cnt, &copy));
            if (cnt > 0)
                memcpy(copy, list, cnt * sizeof(int));
            list = copy;
        }
        ps_adv flat = b.x, g;
        flat.rows = ps_adv_size(b.x);
        flat.cols = 1;
        PS_CHECK(ps_ad_gather(f->tape, flat, ps_ad_int_data(list, cnt), &g));
        sval_set_real(out, g, &p.out);
        return PS_OK;
    }
    uint32_t *pos = NULL;
    size_t n = 0;
    PS_CHECK(plan_positions(f, &p, &b.s, &pos, &n));
    return sm_gather(f, &b, pos, &p.out, out);
}

ps_status sm_index_assign(frame *f, const ls *s, const sval *value)
{
    vstate *vs = &f->vars[s->slot];
    index_plan p;
    lx dummy;
    memset(&dummy, 0, sizeof dummy);
    dummy.offset = s->offset;
    PS_CHECK(make_plan(f, s->e[0] ? s->e[0] : &dummy, s->idx, s->n_idx, &vs->val.s, s->name, &p));
    sshape want = p.out;
    want.base = value->s.base;
    if (!sshape_equal(&want, &value->s))
        return size_mismatch(f, s->name, s->offset, &p.out, &value->s);
    bool is_int = vs->val.s.base == PS_STAN_INT;
    if (p.scalar) {
        if (is_int) {
            vs->istore[p.base_pos] = value->iv[0];
            return PS_OK;
        }
        PS_CHECK(ensure_scal(f, vs));
        ps_adv h = value->x;
        h.rows = h.cols = 1;
        vs->scal[p.base_pos] = h;
        vs->whole = false;
        return PS_OK;
    }
    uint32_t *pos = NULL;
    size_t n = 0;
    PS_CHECK(plan_positions(f, &p, &vs->val.s, &pos, &n));
    if (is_int) {
        /* The value may alias the variable (x[2:3] = x[1:2]): copy it first. */
        int *tmp = NULL;
        PS_CHECK(sm_alloc_ints(f, n, &tmp));
        if (n > 0)
            memcpy(tmp, value->iv, n * sizeof(int));
        for (size_t k = 0; k < n; k++)
            vs->istore[pos[k]] = tmp[k];
        return PS_OK;
    }
    PS_CHECK(ensure_scal(f, vs));
    ps_adv x = value->x;
    for (size_t k = 0; k < n; k++)
        vs->scal[pos[k]] = (ps_adv){x.v + k, x.a ? x.a + k : NULL, 1, 1, x.var};
    vs->whole = false;
    return PS_OK;
}

ps_status sm_var_bind_cells(frame *f, int slot, const sshape *shape, const ps_adv *cells,
                            size_t n_cells)
{
    vstate *vs = &f->vars[slot];
    size_t n = sshape_count(shape);
    size_t per = n_cells ? n / n_cells : 0;
    memset(&vs->val, 0, sizeof vs->val);
    vs->val.s = *shape;
    vs->istore = NULL;
    if (n_cells == 1) {
        sval_set_real(&vs->val, cells[0], shape);
        vs->whole = true;
        vs->scal_ok = false;
        return PS_OK;
    }
    PS_CHECK(alloc_handles(f, n, &vs->scal));
    for (size_t k = 0; k < n_cells; k++)
        for (size_t i = 0; i < per; i++)
            vs->scal[k * per + i] =
                (ps_adv){cells[k].v + i, cells[k].a ? cells[k].a + i : NULL, 1, 1, cells[k].var};
    vs->scal_ok = true;
    vs->whole = false;
    if (n == 0) {
        sval_set_real(&vs->val, ps_ad_data(empty_values, 0, 1), shape);
        vs->whole = true;
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Fast paths: every axis indexed by one int (x[i], a[i, j], m[i, j], av[i, k])
 * ------------------------------------------------------------------------------------- */

/* The flat position of base[i1, ..., in] with one index per axis of shape s. */
static ps_status single_position(frame *f, const lidx *idx, uint32_t n_idx, const sshape *s,
                                 const char *name, size_t *pos)
{
    if (n_idx == 1) {
        /* A vector, a row vector or a 1-D array of scalars. */
        int i;
        PS_CHECK(sm_ieval(idx[0].lo, f, &i));
        uint32_t n = s->nd ? s->dim[0] : s->r * s->c;
        if ((unsigned)i - 1u >= n)
            return index_error(f, idx[0].lo, i, n, name);
        *pos = (size_t)(i - 1);
        return PS_OK;
    }
    if (s->r == 1 && s->c == 1 && n_idx == s->nd) {
        /* An array of scalars: row-major. */
        size_t p = 0;
        for (unsigned k = 0; k < n_idx; k++) {
            int i;
            PS_CHECK(sm_ieval(idx[k].lo, f, &i));
            if ((unsigned)i - 1u >= s->dim[k])
                return index_error(f, idx[k].lo, i, s->dim[k], name);
            p = p * s->dim[k] + (size_t)(i - 1);
        }
        *pos = p;
        return PS_OK;
    }
    uint32_t len[PS_STAN_MAX_ARRAY_DIMS + 2];
    size_t stride[PS_STAN_MAX_ARRAY_DIMS + 2];
    unsigned n_axes = shape_axes(s, len, stride);
    if (n_idx != n_axes)
        return sm_error_at(f, PS_ERR_INTERNAL, idx[0].lo->offset, "index count mismatch");
    size_t p = 0;
    for (unsigned k = 0; k < n_axes; k++) {
        int i;
        PS_CHECK(sm_ieval(idx[k].lo, f, &i));
        if ((unsigned)i - 1u >= len[k])
            return index_error(f, idx[k].lo, i, len[k], name);
        p += (size_t)(i - 1) * stride[k];
    }
    *pos = p;
    return PS_OK;
}

ps_status sm_eval_index_singles(const lx *e, frame *f, sval *out)
{
    const lx *base = e->args[0];
    size_t p;
    if (base->slot >= 0) {
        const vstate *vs = &f->vars[base->slot];
        PS_CHECK(single_position(f, e->idx, e->n_idx, &vs->val.s, base->name, &p));
        if (vs->val.s.base == PS_STAN_INT) {
            memset(out, 0, sizeof *out);
            out->s.base = PS_STAN_INT;
            out->s.r = out->s.c = 1;
            out->iv = vs->istore + p;
            return PS_OK;
        }
        if (vs->scal_ok && !vs->whole) {
            *out = sval_real(vs->scal[p]);
            return PS_OK;
        }
        ps_adv x = vs->val.x;
        *out = sval_real((ps_adv){x.v + p, x.a ? x.a + p : NULL, 1, 1, x.var});
        return PS_OK;
    }
    sval b;
    PS_CHECK(sm_eval(base, f, &b));
    PS_CHECK(single_position(f, e->idx, e->n_idx, &b.s, base->name, &p));
    if (b.s.base == PS_STAN_INT) {
        memset(out, 0, sizeof *out);
        out->s.base = PS_STAN_INT;
        out->s.r = out->s.c = 1;
        out->iv = b.iv + p;
        return PS_OK;
    }
    *out = sval_real((ps_adv){b.x.v + p, b.x.a ? b.x.a + p : NULL, 1, 1, b.x.var});
    return PS_OK;
}

ps_status sm_seval_index_singles(const lx *e, frame *f, ps_adv *out)
{
    const lx *base = e->args[0];
    size_t p;
    if (base->slot >= 0) {
        const vstate *vs = &f->vars[base->slot];
        PS_CHECK(single_position(f, e->idx, e->n_idx, &vs->val.s, base->name, &p));
        if (vs->scal_ok && !vs->whole) {
            *out = vs->scal[p];
            return PS_OK;
        }
        ps_adv x = vs->val.x;
        *out = (ps_adv){x.v + p, x.a ? x.a + p : NULL, 1, 1, x.var};
        return PS_OK;
    }
    if (base->is_const) {
        PS_CHECK(single_position(f, e->idx, e->n_idx, &base->cval.s, base->name, &p));
        *out = (ps_adv){base->cval.x.v + p, NULL, 1, 1, false};
        return PS_OK;
    }
    sval b;
    PS_CHECK(sm_eval(base, f, &b));
    PS_CHECK(single_position(f, e->idx, e->n_idx, &b.s, base->name, &p));
    *out = (ps_adv){b.x.v + p, b.x.a ? b.x.a + p : NULL, 1, 1, b.x.var};
    return PS_OK;
}

ps_status sm_ieval_index_singles(const lx *e, frame *f, int *out)
{
    const lx *base = e->args[0];
    size_t p;
    if (base->slot >= 0) {
        const vstate *vs = &f->vars[base->slot];
        PS_CHECK(single_position(f, e->idx, e->n_idx, &vs->val.s, base->name, &p));
        *out = vs->istore[p];
        return PS_OK;
    }
    if (base->is_const) {
        PS_CHECK(single_position(f, e->idx, e->n_idx, &base->cval.s, base->name, &p));
        *out = base->cval.iv[p];
        return PS_OK;
    }
    sval b;
    PS_CHECK(sm_eval(base, f, &b));
    PS_CHECK(single_position(f, e->idx, e->n_idx, &b.s, base->name, &p));
    *out = b.iv[p];
    return PS_OK;
}

ps_status sm_assign_singles(frame *f, const ls *s, const sval *value)
{
    vstate *vs = &f->vars[s->slot];
    size_t p;
    PS_CHECK(single_position(f, s->idx, s->n_idx, &vs->val.s, s->name, &p));
    if (vs->val.s.base == PS_STAN_INT) {
        vs->istore[p] = value->iv[0];
        return PS_OK;
    }
    PS_CHECK(ensure_scal(f, vs));
    ps_adv h = value->x;
    h.rows = h.cols = 1;
    vs->scal[p] = h;
    vs->whole = false;
    return PS_OK;
}
