/*
 * The data of a compiled Stan model: each variable of the program's data block checked
 * against the arrays of the data file (src/data: Stan JSON or HDF5) -- presence, int or
 * real, declared sizes, constraints -- and converted to the model's layout (matrix cells
 * column-major). The rules are CmdStan's (src/data/data.h): a declared container of size 0
 * may be missing or written as any empty array, an int declaration needs integer literals,
 * a real one accepts ints, and keys the program does not declare are ignored.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/stan_build.h"

/* ---------------------------------------------------------------------------------------
 * Binding the data block
 * ------------------------------------------------------------------------------------- */

/* A short rendering of a size expression ("J", "N + 1") for messages. */
static void expr_text(const ps_stan_expr *e, char *buf, size_t size, int depth)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    if (depth > 6) {
        snprintf(buf, size, "...");
        return;
    }
    switch (e->kind) {
    case PS_STAN_E_INT:
        snprintf(buf, size, "%d", e->u.int_value);
        return;
    case PS_STAN_E_VAR:
        snprintf(buf, size, "%s", e->u.var.name);
        return;
    case PS_STAN_E_PROMOTE:
        expr_text(e->u.promote.arg, buf, size, depth + 1);
        return;
    case PS_STAN_E_CALL: {
        char a[96] = "", b[96] = "";
        if (e->u.call.syntax == PS_STAN_SYN_INFIX && e->u.call.n_args == 2) {
            expr_text(e->u.call.args[0], a, sizeof a, depth + 1);
            expr_text(e->u.call.args[1], b, sizeof b, depth + 1);
            snprintf(buf, size, "%s %s %s", a, e->u.call.name, b);
            return;
        }
        if (e->u.call.n_args == 1)
            expr_text(e->u.call.args[0], a, sizeof a, depth + 1);
        snprintf(buf, size, "%s(%s%s)", e->u.call.name, a, e->u.call.n_args > 1 ? ", ..." : "");
        return;
    }
    default:
        snprintf(buf, size, "...");
        return;
    }
}

/* "vector[8] (J = 8)": the declared type with its sizes and what the size expressions
 * that are not literals evaluate to. */
static void describe_decl(const ldecl *d, const sshape *s, char *buf, size_t size)
{
    char type[128];
    sshape_format(s, type, sizeof type);
    const ps_stan_decl *decl = d->decl;
    const ps_stan_expr *sizes[PS_STAN_MAX_ARRAY_DIMS + 2];
    unsigned n = 0;
    for (unsigned i = 0; i < decl->type.dims; i++)
        sizes[n++] = decl->array_sizes[i];
    if (decl->elem_sizes[0] != NULL)
        sizes[n++] = decl->elem_sizes[0];
    if (decl->elem_sizes[1] != NULL && decl->elem_sizes[1] != decl->elem_sizes[0])
        sizes[n++] = decl->elem_sizes[1];
    uint32_t values[PS_STAN_MAX_ARRAY_DIMS + 2];
    unsigned nv = 0;
    for (unsigned i = 0; i < s->nd; i++)
        values[nv++] = s->dim[i];
    if (s->base == PS_STAN_VECTOR)
        values[nv++] = s->r;
    else if (s->base == PS_STAN_ROW_VECTOR)
        values[nv++] = s->c;
    else if (s->base == PS_STAN_MATRIX) {
        values[nv++] = s->r;
        if (n > nv)
            values[nv++] = s->c;
    }
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_puts(&sb, type);
    bool open = false;
    for (unsigned i = 0; i < n && i < nv; i++) {
        if (sizes[i] == NULL || sizes[i]->kind == PS_STAN_E_INT)
            continue;
        char t[128];
        expr_text(sizes[i], t, sizeof t, 0);
        ps_strbuf_printf(&sb, "%s%s = %u", open ? ", " : " (", t, values[i]);
        open = true;
    }
    if (open)
        ps_strbuf_puts(&sb, ")");
    snprintf(buf, size, "%s", sb.failed ? type : ps_strbuf_str(&sb));
    ps_strbuf_fini(&sb);
}

static void describe_file_shape(const ps_data_var *v, char *buf, size_t size)
{
    if (v->ndim == 0) {
        snprintf(buf, size, "a scalar");
        return;
    }
    if (v->ndim == 1) {
        snprintf(buf, size, "%zu value%s", v->dims[0], v->dims[0] == 1 ? "" : "s");
        return;
    }
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_puts(&sb, "an array of shape [");
    for (int i = 0; i < v->ndim; i++)
        ps_strbuf_printf(&sb, "%s%zu", i ? ", " : "", v->dims[i]);
    ps_strbuf_puts(&sb, "]");
    snprintf(buf, size, "%s", sb.failed ? "an array" : ps_strbuf_str(&sb));
    ps_strbuf_fini(&sb);
}

static ps_status oom_data(void)
{
    return ps_error(PS_ERR_MEM, "out of memory storing the data");
}

/* An empty value of the declared shape (a size-0 container missing from the file). */
static ps_status empty_value(lower_ctx *c, const sshape *shape, sval *out)
{
    memset(out, 0, sizeof *out);
    out->s = *shape;
    if (shape->base == PS_STAN_INT) {
        int *iv = sm_arena_alloc(&c->m->arena, sizeof(int));
        if (iv == NULL)
            return oom_data();
        out->iv = iv;
        return PS_OK;
    }
    double *x = sm_arena_alloc(&c->m->arena, sizeof(double));
    if (x == NULL)
        return oom_data();
    sval_set_real(out, ps_ad_data(x, 0, 0), shape);
    return PS_OK;
}

ps_status sm_data_bind(lower_ctx *c, const ldecl *d, const sshape *shape, const ps_data *data,
                       sval *out, const ps_data_var **var)
{
    const stan_model *m = c->m;
    const char *name = d->name;
    const ps_data_var *v = data ? ps_data_find(data, name) : NULL;
    *var = v;
    size_t count = sshape_count(shape);
    char decl[256], file[128];
    describe_decl(d, shape, decl, sizeof decl);
    if (v == NULL && count == 0)
        return empty_value(c, shape, out); /* a size-0 container may be missing (CmdStan) */
    if (v == NULL) {
        if (data == NULL)
            return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                            "'%s' is declared in the data block (%s), but no data "
                                            "file was given",
                                            name, decl);
        return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                        "'%s' (%s) is missing from the data file %s", name, decl,
                                        ps_data_path(data));
    }
    /* The expected dimensions: array sizes, then the element's. */
    size_t want[PS_STAN_MAX_ARRAY_DIMS + 2];
    int nw = 0;
    for (unsigned i = 0; i < shape->nd; i++)
        want[nw++] = shape->dim[i];
    if (shape->base == PS_STAN_VECTOR)
        want[nw++] = shape->r;
    else if (shape->base == PS_STAN_ROW_VECTOR)
        want[nw++] = shape->c;
    else if (shape->base == PS_STAN_MATRIX) {
        want[nw++] = shape->r;
        want[nw++] = shape->c;
    }
    bool ok = v->ndim == nw;
    for (int i = 0; ok && i < nw; i++)
        ok = v->dims[i] == want[i];
    /* Both empty: accepted whatever the shapes, since "[]" cannot state inner extents. */
    if (!ok && count == 0 && v->size == 0)
        return empty_value(c, shape, out);
    if (!ok) {
        describe_file_shape(v, file, sizeof file);
        return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                        "'%s': declared %s, the data file %s has %s", name, decl,
                                        ps_data_path(data), file);
    }
    memset(out, 0, sizeof *out);
    if (shape->base == PS_STAN_INT) {
        PS_CHECK(ps_data_require_int(data, v));
        int *iv = sm_arena_alloc(&c->m->arena, (count + 1) * sizeof(int));
        if (iv == NULL)
            return oom_data();
        for (size_t i = 0; i < count; i++)
            iv[i] = (int)v->ints[i];
        out->s = *shape;
        out->iv = iv;
        out->x = ps_ad_data(NULL, 0, 0);
        return PS_OK;
    }
    double *x = sm_arena_alloc(&c->m->arena, (count + 1) * sizeof(double));
    if (x == NULL)
        return oom_data();
    if (shape->base == PS_STAN_MATRIX) {
        /* Each matrix is written as rows; the model keeps its cells column-major. */
        size_t R = shape->r, C = shape->c, per = R * C, cells = sshape_cells(shape);
        for (size_t k = 0; k < cells; k++)
            for (size_t i = 0; i < R; i++)
                for (size_t j = 0; j < C; j++)
                    x[k * per + j * R + i] = ps_data_real(v, k * per + i * C + j);
    } else {
        for (size_t i = 0; i < count; i++)
            x[i] = ps_data_real(v, i);
    }
    sval_set_real(out, ps_ad_data(x, 0, 0), shape);
    return PS_OK;
}

/* The row-major position in the file of the model's flat element k (matrix cells are
 * column-major in the model). */
static size_t file_index(const sshape *s, size_t k)
{
    if (s->base != PS_STAN_MATRIX)
        return k;
    size_t per = (size_t)s->r * s->c, cell = k / per, w = k % per;
    size_t row = w % s->r, col = w / s->r;
    return cell * per + row * s->c + col;
}

ps_status sm_data_check_constraint(lower_ctx *c, const ldecl *d, const sval *value,
                                   const ps_data *data, const ps_data_var *var, ps_status status)
{
    if (d->constraint == PS_STAN_C_NONE || d->constraint == PS_STAN_C_AFFINE)
        return PS_OK;
    frame *f = c->cf;
    sval lo, hi;
    const sval *plo = NULL, *phi = NULL;
    ps_ad_tape_begin(f->tape, false);
    if (d->lower != NULL) {
        PS_CHECK(sm_eval(d->lower, f, &lo));
        plo = &lo;
    }
    if (d->upper != NULL) {
        PS_CHECK(sm_eval(d->upper, f, &hi));
        phi = &hi;
    }
    const sval *bounds[2] = {plo, phi};
    for (int k = 0; k < 2; k++) {
        if (bounds[k] == NULL)
            continue;
        size_t nb = sshape_count(&bounds[k]->s), nv = sshape_count(&value->s);
        if (nb != 1 && nb != nv)
            return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, d->decl->offset,
                                            "the %s bound of '%s' has %zu elements, the variable "
                                            "%zu",
                                            k == 0 ? "lower" : "upper", d->name, nb, nv);
    }
    double *work = NULL;
    size_t cell = (size_t)value->s.r * value->s.c;
    PS_CHECK(ps_ad_alloc(f->tape, cell + 1, &work));
    char msg[512];
    size_t element = 0;
    if (sm_check_constraint(d->name, d->constraint, value, plo, phi, work, msg, sizeof msg,
                            &element))
        return PS_OK;
    if (data != NULL && var != NULL && element < var->size) {
        /* Point at the offending value in the data file, and say where it was declared. */
        size_t len = 0, line = 0, col = 0;
        const char *text = ps_stan_program_text(c->m->prog, &len);
        ps_text_position(text, len, d->decl->offset, &line, &col);
        return ps_data_error(data, var, file_index(&value->s, element), PS_ERR_DATA,
                             "%s (declared in %s, line %zu)", msg, c->m->path, line);
    }
    return ps_stan_program_error_at(c->m->prog, status, d->decl->offset, "%s", msg);
}
