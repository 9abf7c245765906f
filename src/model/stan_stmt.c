/*
 * Statement executors of the compiled Stan model. Each lowered statement runs through
 * sm_exec(), which adds the statement's source location to a failure once (the innermost
 * statement that failed): rejections (PS_ERR_NUMERIC, a domain error of the model) get
 * Stan's "(in 'FILE', line L, column C)" appended to their message in the frame; fatal
 * errors are re-recorded as located errors with the line and a caret.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/stan_impl.h"

static void locate(frame *f, const ls *s, ps_status st)
{
    f->located = true;
    const stan_model *m = f->m;
    size_t len = 0;
    const char *text = ps_stan_program_text(m->prog, &len);
    size_t line = 0, col = 0;
    ps_text_position(text, len, s->offset, &line, &col);
    if (st == PS_ERR_NUMERIC) {
        const char *msg = f->message[0] ? f->message : ps_ad_tape_message(f->tape);
        char buf[SM_MESSAGE_CAP];
        snprintf(buf, sizeof buf, "%.1500s (in '%.300s', line %zu, column %zu)", msg, m->path, line,
                 col);
        memcpy(f->message, buf, sizeof buf);
        return;
    }
    if (st == PS_ERR_MEM)
        return;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ps_error_message());
    ps_error_clear();
    ps_stan_program_error_at(m->prog, st, s->offset, "%s", msg[0] ? msg : "evaluation failed");
}

ps_status sm_exec(const ls *s, frame *f)
{
    ps_status st = s->exec(s, f);
    if (st != PS_OK && !f->located)
        locate(f, s, st);
    return st;
}

/* ---------------------------------------------------------------------------------------
 * Declarations
 * ------------------------------------------------------------------------------------- */

ps_status sm_decl_shape(frame *f, const ldecl *d, sshape *shape)
{
    memset(shape, 0, sizeof *shape);
    shape->base = d->type.base;
    shape->nd = d->type.dims;
    shape->r = shape->c = 1;
    int sizes[PS_STAN_MAX_ARRAY_DIMS + 2];
    for (uint32_t i = 0; i < d->n_sizes; i++) {
        PS_CHECK(sm_ieval(d->sizes[i], f, &sizes[i]));
        if (sizes[i] < 0)
            return sm_error_at(f, PS_ERR_MODEL, d->sizes[i]->offset,
                               "the size of '%s' is %d, but sizes must not be negative", d->name,
                               sizes[i]);
    }
    for (unsigned i = 0; i < shape->nd; i++)
        shape->dim[i] = (uint32_t)sizes[i];
    int *el = sizes + shape->nd;
    switch (shape->base) {
    case PS_STAN_VECTOR:
        shape->r = (uint32_t)el[0];
        break;
    case PS_STAN_ROW_VECTOR:
        shape->c = (uint32_t)el[0];
        break;
    case PS_STAN_MATRIX:
        shape->r = (uint32_t)el[0];
        shape->c = d->n_sizes > (uint32_t)shape->nd + 1 ? (uint32_t)el[1] : (uint32_t)el[0];
        break;
    default:
        break;
    }
    /* Sizes that overflow the index arithmetic are refused. */
    size_t n = 1;
    for (unsigned i = 0; i < shape->nd; i++)
        if (!ps_size_mul(n, shape->dim[i], &n))
            n = SIZE_MAX;
    if (!ps_size_mul(n, shape->r, &n) || !ps_size_mul(n, shape->c, &n) || n > 0xffffffffu)
        return sm_error_at(f, PS_ERR_MODEL, d->decl->offset,
                           "'%s' is too large: more than 2^32 elements", d->name);
    return sm_check_elements(f, n, d->decl->offset);
}

ps_status sm_declare(frame *f, const ldecl *d, sshape *shape)
{
    if (d->top) {
        *shape = d->shape;
    } else {
        PS_CHECK(sm_decl_shape(f, d, shape));
    }
    return sm_var_declare(f, d->slot, shape, d->type.base == PS_STAN_INT);
}

ps_status sm_exec_decl(const ls *s, frame *f)
{
    sshape shape;
    PS_CHECK(sm_declare(f, s->d, &shape));
    if (s->d->init == NULL)
        return PS_OK;
    const lx *init = s->d->init;
    if (shape.base == PS_STAN_INT && shape.nd == 0)
        return sm_ieval(init, f, &f->vars[s->d->slot].istore[0]);
    sval v;
    PS_CHECK(sm_eval(init, f, &v));
    return sm_var_assign(f, s->d->slot, &v, s->d->name, init->offset);
}

/* ---------------------------------------------------------------------------------------
 * Assignments
 * ------------------------------------------------------------------------------------- */

ps_status sm_exec_assign(const ls *s, frame *f)
{
    if (s->is_int && s->e[1]->type.dims == 0) {
        vstate *vs = &f->vars[s->slot];
        return sm_ieval(s->e[1], f, &vs->istore[0]);
    }
    sval v;
    PS_CHECK(sm_eval(s->e[1], f, &v));
    return sm_var_assign(f, s->slot, &v, s->name, s->e[1]->offset);
}

ps_status sm_exec_assign_index(const ls *s, frame *f)
{
    sval v;
    PS_CHECK(sm_eval(s->e[1], f, &v));
    return sm_index_assign(f, s, &v);
}

/* ---------------------------------------------------------------------------------------
 * The log density
 * ------------------------------------------------------------------------------------- */

ps_status sm_exec_tilde(const ls *s, frame *f)
{
    ps_adv x;
    PS_CHECK(sm_seval(s->e[0], f, &x));
    return ps_ad_target_add(f->tape, x);
}

ps_status sm_exec_target(const ls *s, frame *f)
{
    if (s->e[0]->seval != NULL) {
        ps_adv x;
        PS_CHECK(sm_seval(s->e[0], f, &x));
        return ps_ad_target_add(f->tape, x);
    }
    sval v;
    PS_CHECK(sm_eval(s->e[0], f, &v));
    return ps_ad_target_add(f->tape, v.x);
}

/* ---------------------------------------------------------------------------------------
 * Control flow
 * ------------------------------------------------------------------------------------- */

ps_status sm_exec_block(const ls *s, frame *f)
{
    for (size_t i = 0; i < s->n_body; i++) {
        PS_CHECK(sm_exec(s->body[i], f));
        if (f->flow != FLOW_NORMAL)
            return PS_OK;
    }
    return PS_OK;
}

/* One more loop iteration; models built with a loop budget stop when it runs out. */
static inline ps_status iteration(const ls *s, frame *f)
{
    if (f->m->loop_budget == 0)
        return PS_OK;
    if (f->budget == 0)
        return sm_error_at(f, PS_ERR_MODEL, s->offset,
                           "the evaluation took more loop iterations than this run allows (%llu)",
                           (unsigned long long)f->m->loop_budget);
    f->budget--;
    return PS_OK;
}

/* The loop variable of a for loop: an int scalar slot. */
static void bind_int(frame *f, int slot)
{
    vstate *vs = &f->vars[slot];
    memset(&vs->val, 0, sizeof vs->val);
    vs->val.s.base = PS_STAN_INT;
    vs->val.s.r = vs->val.s.c = 1;
    vs->istore = &vs->iscalar;
    vs->val.iv = vs->istore;
    vs->whole = true;
    vs->scal_ok = false;
}

ps_status sm_exec_for(const ls *s, frame *f)
{
    int lo, hi;
    PS_CHECK(sm_ieval(s->e[0], f, &lo));
    PS_CHECK(sm_ieval(s->e[1], f, &hi));
    bind_int(f, s->slot);
    vstate *vs = &f->vars[s->slot];
    const ls *body = s->body[0];
    for (long long i = lo; i <= hi; i++) {
        PS_CHECK(iteration(s, f));
        vs->iscalar = (int)i;
        PS_CHECK(sm_exec(body, f));
        if (f->flow == FLOW_BREAK) {
            f->flow = FLOW_NORMAL;
            break;
        }
        f->flow = FLOW_NORMAL;
    }
    return PS_OK;
}

ps_status sm_exec_foreach(const ls *s, frame *f)
{
    sval c;
    PS_CHECK(sm_eval(s->e[0], f, &c));
    vstate *vs = &f->vars[s->slot];
    const ls *body = s->body[0];
    size_t n, per;
    sshape es;
    memset(&es, 0, sizeof es);
    if (c.s.nd > 0) {
        n = c.s.dim[0];
        es = c.s;
        memmove(es.dim, es.dim + 1, (size_t)(es.nd - 1) * sizeof(uint32_t));
        es.nd--;
        es.dim[es.nd] = 0;
        per = sshape_count(&es);
    } else {
        n = sshape_count(&c.s);
        per = 1;
        es.base = PS_STAN_REAL;
        es.r = es.c = 1;
    }
    for (size_t i = 0; i < n; i++) {
        PS_CHECK(iteration(s, f));
        vs->whole = true;
        vs->scal_ok = false;
        if (c.s.base == PS_STAN_INT) {
            memset(&vs->val, 0, sizeof vs->val);
            vs->val.s = es;
            vs->val.s.base = PS_STAN_INT;
            vs->val.iv = c.iv + i * per;
            vs->istore = (int *)(uintptr_t)vs->val.iv;
        } else {
            ps_adv x = {c.x.v + i * per, c.x.a ? c.x.a + i * per : NULL, per, 1, c.x.var};
            sval_set_real(&vs->val, x, &es);
        }
        PS_CHECK(sm_exec(body, f));
        if (f->flow == FLOW_BREAK) {
            f->flow = FLOW_NORMAL;
            break;
        }
        f->flow = FLOW_NORMAL;
    }
    return PS_OK;
}

static ps_status condition(const lx *e, frame *f, bool *out)
{
    if (e->type.base == PS_STAN_INT) {
        int c;
        PS_CHECK(sm_ieval(e, f, &c));
        *out = c != 0;
        return PS_OK;
    }
    sval v;
    PS_CHECK(sm_eval(e, f, &v));
    *out = v.x.v[0] != 0.0;
    return PS_OK;
}

ps_status sm_exec_while(const ls *s, frame *f)
{
    for (;;) {
        bool c;
        PS_CHECK(iteration(s, f));
        PS_CHECK(condition(s->e[0], f, &c));
        if (!c)
            return PS_OK;
        PS_CHECK(sm_exec(s->body[0], f));
        if (f->flow == FLOW_BREAK) {
            f->flow = FLOW_NORMAL;
            return PS_OK;
        }
        f->flow = FLOW_NORMAL;
    }
}

ps_status sm_exec_if(const ls *s, frame *f)
{
    bool c;
    PS_CHECK(condition(s->e[0], f, &c));
    if (c)
        return sm_exec(s->body[0], f);
    if (s->n_body > 1 && s->body[1] != NULL)
        return sm_exec(s->body[1], f);
    return PS_OK;
}

ps_status sm_exec_break(const ls *s, frame *f)
{
    (void)s;
    f->flow = FLOW_BREAK;
    return PS_OK;
}

ps_status sm_exec_continue(const ls *s, frame *f)
{
    (void)s;
    f->flow = FLOW_CONTINUE;
    return PS_OK;
}

ps_status sm_exec_empty(const ls *s, frame *f)
{
    (void)s;
    (void)f;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * print, reject, fatal_error: the arguments formatted into a fixed buffer (no
 * allocation), scalars with 6 significant digits and containers in brackets, as Stan
 * prints them.
 * ------------------------------------------------------------------------------------- */

typedef struct fbuf {
    char *p;
    size_t len, cap;
} fbuf;

static void fb_puts(fbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + 1 >= b->cap)
        return;
    size_t room = b->cap - 1 - b->len;
    if (n > room)
        n = room;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* One cell (a scalar, a vector, a row vector or a matrix, rows in brackets) from flat
 * position k. */
static void fb_cell(fbuf *b, const sval *v, size_t k)
{
    char num[40];
    const sshape *s = &v->s;
    if (s->base == PS_STAN_INT || s->base == PS_STAN_REAL) {
        if (s->base == PS_STAN_INT)
            snprintf(num, sizeof num, "%d", v->iv[k]);
        else
            snprintf(num, sizeof num, "%g", v->x.v[k]);
        fb_puts(b, num);
        return;
    }
    bool matrix = s->base == PS_STAN_MATRIX;
    fb_puts(b, "[");
    for (uint32_t i = 0; i < (matrix ? s->r : 1) && b->len + 1 < b->cap; i++) {
        if (matrix)
            fb_puts(b, i ? ",[" : "[");
        uint32_t n = matrix ? s->c : s->r * s->c;
        for (uint32_t j = 0; j < n; j++) {
            snprintf(num, sizeof num, "%s%g", j ? "," : "",
                     v->x.v[k + (matrix ? i + (size_t)j * s->r : j)]);
            fb_puts(b, num);
        }
        if (matrix)
            fb_puts(b, "]");
    }
    fb_puts(b, "]");
}

/* A value: arrays as nested brackets over their cells. */
static void fb_value(fbuf *b, const sval *v, size_t *cell, unsigned level)
{
    if (level == v->s.nd) {
        fb_cell(b, v, *cell * (size_t)v->s.r * v->s.c);
        (*cell)++;
        return;
    }
    fb_puts(b, "[");
    for (uint32_t i = 0; i < v->s.dim[level] && b->len + 1 < b->cap; i++) {
        if (i > 0)
            fb_puts(b, ",");
        fb_value(b, v, cell, level + 1);
    }
    fb_puts(b, "]");
}

/* The arguments of print/reject are the lx array in e[0]->args (strings are NULL there
 * and given in s->strings). */
static ps_status format_print(const ls *s, frame *f, char *buf, size_t cap)
{
    fbuf b = {buf, 0, cap};
    buf[0] = '\0';
    const lx *list = s->e[0];
    for (int i = 0; i < s->n_print; i++) {
        if (s->strings[i] != NULL) {
            fb_puts(&b, s->strings[i]);
            continue;
        }
        sval v;
        const lx *arg = list->args[i];
        if (arg->type.base == PS_STAN_INT && arg->type.dims == 0) {
            int x;
            PS_CHECK(sm_ieval(arg, f, &x));
            char num[24];
            snprintf(num, sizeof num, "%d", x);
            fb_puts(&b, num);
            continue;
        }
        PS_CHECK(sm_eval(arg, f, &v));
        size_t k = 0;
        fb_value(&b, &v, &k, 0);
    }
    return PS_OK;
}

ps_status sm_exec_print(const ls *s, frame *f)
{
    char buf[SM_MESSAGE_CAP];
    PS_CHECK(format_print(s, f, buf, sizeof buf));
    ps_info("%s", buf);
    return PS_OK;
}

ps_status sm_exec_reject(const ls *s, frame *f)
{
    char buf[SM_MESSAGE_CAP];
    PS_CHECK(format_print(s, f, buf, sizeof buf));
    if (s->is_int) /* fatal_error */
        return sm_error_at(f, PS_ERR_MODEL, s->offset, "fatal_error: %s", buf);
    memcpy(f->message, buf, sizeof buf);
    return PS_ERR_NUMERIC;
}

/* x = e for a real scalar x: a rebinding. */
ps_status sm_exec_assign_scalar(const ls *s, frame *f)
{
    ps_adv x;
    PS_CHECK(sm_seval(s->e[1], f, &x));
    vstate *vs = &f->vars[s->slot];
    vs->val.x = x;
    vs->val.x.rows = vs->val.x.cols = 1;
    vs->whole = true;
    vs->scal_ok = false;
    return PS_OK;
}

/* x[i, j] = e with one index per axis. */
ps_status sm_exec_assign_singles(const ls *s, frame *f)
{
    sval v;
    if (s->e[1]->seval != NULL) {
        PS_CHECK(sm_seval(s->e[1], f, &v.x));
        return sm_assign_singles(f, s, &v);
    }
    if (s->is_int) {
        int x;
        PS_CHECK(sm_ieval(s->e[1], f, &x));
        memset(&v, 0, sizeof v);
        v.iv = &x;
        v.s.base = PS_STAN_INT;
        v.s.r = v.s.c = 1;
        return sm_assign_singles(f, s, &v);
    }
    PS_CHECK(sm_eval(s->e[1], f, &v));
    return sm_assign_singles(f, s, &v);
}
