/*
 * The data of a compiled Stan model: reading the data file into named arrays, checking
 * each variable of the program's data block against it (presence, int/real, declared
 * sizes, constraints) and converting it to the model's layout.
 *
 * Stan JSON (CmdStan guide, "JSON format for CmdStan"): an object whose keys are variable
 * names; scalars are numbers, arrays, vectors and matrices nested arrays (a matrix is an
 * array of rows); "NaN", "Inf", "-Inf", "Infinity", "-Infinity" stand for the special
 * reals; an empty array is a container of size 0. Keys the program does not declare are
 * ignored.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/stan_build.h"

struct sm_data {
    char *path;
    sm_data_var *vars;
    size_t n_vars;
    char **errors; /* per variable: why it could not be read (NULL when fine) */
};

const char *sm_data_path(const sm_data *data)
{
    return data->path;
}

void sm_data_destroy(sm_data **data)
{
    if (data == NULL || *data == NULL)
        return;
    sm_data *d = *data;
    for (size_t i = 0; i < d->n_vars; i++) {
        ps_free((char *)d->vars[i].name);
        ps_free((double *)d->vars[i].real_values);
        ps_free((int *)d->vars[i].int_values);
        if (d->errors)
            ps_free(d->errors[i]);
    }
    ps_free(d->vars);
    ps_free(d->errors);
    ps_free(d->path);
    ps_free(d);
    *data = NULL;
}

const sm_data_var *sm_data_find(const sm_data *data, const char *name)
{
    if (data == NULL)
        return NULL;
    for (size_t i = 0; i < data->n_vars; i++)
        if (strcmp(data->vars[i].name, name) == 0)
            return &data->vars[i];
    return NULL;
}

static const char *data_error(const sm_data *data, const sm_data_var *v)
{
    return data->errors ? data->errors[v - data->vars] : NULL;
}

/* A number of Stan JSON: a JSON number or one of the special strings. */
static bool json_number(const cJSON *j, double *x, bool *integral)
{
    if (cJSON_IsNumber(j)) {
        *x = j->valuedouble;
        *integral = *x == floor(*x) && fabs(*x) < 9.007199254740992e15;
        return true;
    }
    if (cJSON_IsString(j)) {
        const char *s = j->valuestring;
        *integral = false;
        if (strcmp(s, "NaN") == 0 || strcmp(s, "nan") == 0) {
            *x = NAN;
            return true;
        }
        if (strcmp(s, "Inf") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "+Inf") == 0 ||
            strcmp(s, "inf") == 0) {
            *x = INFINITY;
            return true;
        }
        if (strcmp(s, "-Inf") == 0 || strcmp(s, "-Infinity") == 0 || strcmp(s, "-inf") == 0) {
            *x = -INFINITY;
            return true;
        }
    }
    return false;
}

/* The shape of a nested array: dims of the first element at each level, checked to be
 * rectangular when the values are collected. */
static bool json_shape(const cJSON *j, sm_data_var *v)
{
    v->ndim = 0;
    while (cJSON_IsArray(j)) {
        if (v->ndim >= PS_MODEL_MAX_DIMS)
            return false;
        int n = cJSON_GetArraySize(j);
        v->dims[v->ndim++] = (size_t)n;
        if (n == 0)
            break;
        j = j->child;
    }
    return true;
}

static bool json_collect(const cJSON *j, const sm_data_var *v, int level, double *out, size_t *k,
                         bool *all_int, char *err, size_t err_size)
{
    if (level == v->ndim) {
        double x;
        bool integral;
        if (!json_number(j, &x, &integral)) {
            snprintf(err, err_size, "a value is not a number");
            return false;
        }
        *all_int = *all_int && integral;
        out[(*k)++] = x;
        return true;
    }
    if (!cJSON_IsArray(j) || (size_t)cJSON_GetArraySize(j) != v->dims[level]) {
        snprintf(err, err_size, "the nested arrays are not rectangular");
        return false;
    }
    for (const cJSON *c = j->child; c != NULL; c = c->next)
        if (!json_collect(c, v, level + 1, out, k, all_int, err, err_size))
            return false;
    return true;
}

static ps_status read_var(const cJSON *item, sm_data_var *v, char **error)
{
    char err[256] = "";
    *error = NULL;
    if (!json_shape(item, v)) {
        snprintf(err, sizeof err, "it has more than %d dimensions", PS_MODEL_MAX_DIMS);
    } else {
        size_t n = 1;
        bool empty = v->ndim > 0 && v->dims[v->ndim - 1] == 0;
        for (int i = 0; i < v->ndim; i++)
            if (!ps_size_mul(n, v->dims[i], &n))
                n = SIZE_MAX;
        if (empty)
            n = 0;
        if (n > ((size_t)1 << 32)) {
            snprintf(err, sizeof err, "it is too large");
        } else {
            double *vals = NULL;
            PS_CHECK(ps_alloc_array(&vals, n + 1, sizeof(double), "data values"));
            v->real_values = vals;
            v->n = n;
            size_t k = 0;
            bool all_int = true;
            if (n > 0 && !json_collect(item, v, 0, vals, &k, &all_int, err, sizeof err)) {
                /* err set */
            } else {
                v->is_int = all_int;
                if (all_int) {
                    bool fits = true;
                    for (size_t i = 0; i < n; i++)
                        fits = fits && vals[i] >= -2147483648.0 && vals[i] <= 2147483647.0;
                    if (fits) {
                        int *iv = NULL;
                        PS_CHECK(ps_alloc_array(&iv, n + 1, sizeof(int), "data values"));
                        for (size_t i = 0; i < n; i++)
                            iv[i] = (int)vals[i];
                        v->int_values = iv;
                    }
                }
                return PS_OK;
            }
        }
    }
    *error = ps_strdup(err);
    if (*error == NULL)
        return ps_error(PS_ERR_MEM, "out of memory reading data");
    return PS_OK;
}

ps_status sm_data_read(const char *path, sm_data **out)
{
    ps_status status = PS_OK;
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    *out = NULL;
    sm_data *d = ps_calloc(1, sizeof *d);
    if (d == NULL)
        return ps_error(PS_ERR_MEM, "out of memory reading data");
    d->path = ps_strdup(path);
    if (d->path == NULL) {
        status = ps_error(PS_ERR_MEM, "out of memory reading data");
        goto done;
    }
    PS_TRY(ps_file_read(path, &text, &len));
    root = cJSON_ParseWithLength(text, len);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        size_t offset = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
        status = ps_error_at_offset(PS_ERR_DATA, path, text, len, offset,
                                    "this is not valid JSON (Stan JSON data expected)");
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        status = ps_error(PS_ERR_DATA,
                          "%s: error: Stan JSON data must be an object {\"name\": "
                          "value, ...}",
                          path);
        goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(root);
    PS_TRY(ps_alloc_array(&d->vars, n + 1, sizeof *d->vars, "data variables"));
    PS_TRY(ps_alloc_array(&d->errors, n + 1, sizeof *d->errors, "data variables"));
    for (const cJSON *item = root->child; item != NULL; item = item->next) {
        sm_data_var *v = &d->vars[d->n_vars];
        v->name = ps_strdup(item->string ? item->string : "");
        if (v->name == NULL) {
            status = ps_error(PS_ERR_MEM, "out of memory reading data");
            goto done;
        }
        d->n_vars++;
        PS_TRY(read_var(item, v, &d->errors[d->n_vars - 1]));
    }
    *out = d;
    d = NULL;
done:
    cJSON_Delete(root);
    ps_free(text);
    sm_data_destroy(&d);
    return status;
}

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

static void describe_file_shape(const sm_data_var *v, char *buf, size_t size)
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

ps_status sm_data_bind(lower_ctx *c, const ldecl *d, const sshape *shape, const sm_data *data,
                       sval *out)
{
    const stan_model *m = c->m;
    const char *name = d->name;
    const sm_data_var *v = sm_data_find(data, name);
    char decl[256], file[128];
    describe_decl(d, shape, decl, sizeof decl);
    if (v == NULL && sshape_count(shape) == 0) {
        /* A container of declared size 0 may be left out of the file (as CmdStan). */
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
    if (v == NULL) {
        if (data == NULL)
            return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                            "'%s' is declared in the data block (%s), but no data "
                                            "file was given",
                                            name, decl);
        return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                        "'%s' (%s) is missing from the data file %s", name, decl,
                                        sm_data_path(data));
    }
    const char *err = data_error(data, v);
    if (err != NULL)
        return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                        "'%s' in the data file %s cannot be read: %s", name,
                                        sm_data_path(data), err);
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
    size_t count = sshape_count(shape);
    bool ok = v->ndim == nw;
    for (int i = 0; ok && i < nw; i++)
        ok = v->dims[i] == want[i];
    /* An empty container may be written [] whatever its declared dimensions. */
    if (!ok && count == 0 && v->n == 0 && v->ndim >= 1)
        ok = true;
    if (!ok) {
        describe_file_shape(v, file, sizeof file);
        return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                        "'%s': declared %s, the data file %s has %s", name, decl,
                                        sm_data_path(data), file);
    }
    bool is_int = shape->base == PS_STAN_INT;
    if (is_int && !v->is_int) {
        size_t k = 0;
        while (k < v->n && v->real_values[k] == floor(v->real_values[k]))
            k++;
        char at[64];
        sm_format_index(shape, k < v->n ? k : 0, at, sizeof at);
        return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                        "'%s' is declared %s, but the data file %s has the "
                                        "non-integer value %.17g at '%s%s'",
                                        name, decl, sm_data_path(data),
                                        k < v->n ? v->real_values[k] : NAN, name, at);
    }
    if (is_int && v->int_values == NULL && count > 0)
        return ps_stan_program_error_at(m->prog, PS_ERR_DATA, d->decl->offset,
                                        "'%s' in the data file %s has values that do not fit in "
                                        "a 32-bit int",
                                        name, sm_data_path(data));
    memset(out, 0, sizeof *out);
    if (is_int) {
        int *iv = sm_arena_alloc(&c->m->arena, (count + 1) * sizeof(int));
        if (iv == NULL)
            return oom_data();
        if (count > 0)
            memcpy(iv, v->int_values, count * sizeof(int));
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
                    x[k * per + j * R + i] = v->real_values[k * per + i * C + j];
    } else if (count > 0) {
        memcpy(x, v->real_values, count * sizeof(double));
    }
    sval_set_real(out, ps_ad_data(x, 0, 0), shape);
    return PS_OK;
}

ps_status sm_data_check_constraint(lower_ctx *c, const ldecl *d, const sval *value,
                                   ps_status status)
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
    if (!sm_check_constraint(d->name, d->constraint, value, plo, phi, work, msg, sizeof msg))
        return ps_stan_program_error_at(c->m->prog, status, d->decl->offset, "%s", msg);
    return PS_OK;
}
