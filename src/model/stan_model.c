/*
 * The compiled Stan model: construction (parse, check the data, run transformed data,
 * lower the program) and the model interface of model.h on top of the lowered form.
 *
 * One evaluation of the log density (Stan's log_prob with propto and jacobian):
 *   1. theta enters the tape as one vector of independent variables;
 *   2. each parameter takes its slice and goes through its constraint transform (bounds
 *      are evaluated first and may depend on earlier parameters), which adds the
 *      log-Jacobian to the target;
 *   3. the transformed parameters block runs, then their declared constraints are checked
 *      (a violation rejects the point, with Stan's message);
 *   4. the model block runs (`~` adds its density without constants, `target +=` adds
 *      its value);
 *   5. one reverse sweep gives the gradient.
 * Output values (constrain) take steps 1-3 on a value-only tape without Jacobians.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "math/transform.h"
#include "model/stan_build.h"

/* ---------------------------------------------------------------------------------------
 * Workspace
 * ------------------------------------------------------------------------------------- */

typedef struct sm_ws {
    ps_ad_tape *tape;
    vstate *vars;
    frame f;
    ps_adv theta;
} sm_ws;

static void ws_destroy(void *p)
{
    sm_ws *w = p;
    if (w == NULL)
        return;
    ps_ad_tape_destroy(&w->tape);
    ps_free(w->vars);
    ps_free(w);
}

static ps_status ws_create(const void *impl, void **out)
{
    const stan_model *m = impl;
    *out = NULL;
    sm_ws *w = ps_calloc(1, sizeof *w);
    if (w == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating a model workspace");
    ps_status status = ps_ad_tape_create(&w->tape);
    if (status == PS_OK)
        status = ps_alloc_array(&w->vars, m->n_slots + 1, sizeof *w->vars, "model variables");
    if (status == PS_OK)
        status = sm_frame_init(&w->f, m, w->tape, w->vars);
    if (status != PS_OK) {
        ws_destroy(w);
        return status;
    }
    *out = w;
    return PS_OK;
}

static const char *ws_message(const void *p)
{
    const sm_ws *w = p;
    return w->f.message;
}

/* ---------------------------------------------------------------------------------------
 * Running the program
 * ------------------------------------------------------------------------------------- */

/* A failure at a declaration (a transform or a constraint check of a variable): the
 * message with the declaration's location. */
static ps_status locate_decl(frame *f, const ldecl *d, ps_status st)
{
    if (f->located || st == PS_ERR_MEM)
        return st;
    f->located = true;
    const stan_model *m = f->m;
    size_t len = 0, line = 0, col = 0;
    const char *text = ps_stan_program_text(m->prog, &len);
    ps_text_position(text, len, d->decl->offset, &line, &col);
    if (st == PS_ERR_NUMERIC) {
        char buf[SM_MESSAGE_CAP];
        const char *msg = f->message[0] ? f->message : ps_ad_tape_message(f->tape);
        snprintf(buf, sizeof buf, "%.200s: %.1200s (in '%.300s', line %zu, column %zu)", d->name,
                 msg, m->path, line, col);
        memcpy(f->message, buf, sizeof buf);
        return st;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ps_error_message());
    ps_error_clear();
    return ps_stan_program_error_at(m->prog, st, d->decl->offset, "'%s': %s", d->name, msg);
}

static ps_status bound(frame *f, const lx *e, ps_adv *out)
{
    if (e == NULL) {
        *out = ps_ad_no_bound();
        return PS_OK;
    }
    sval v;
    PS_CHECK(sm_eval(e, f, &v));
    *out = v.x;
    out->rows = ps_adv_size(v.x);
    out->cols = 1;
    return PS_OK;
}

/*
 * corr_matrix[K]: Omega = L L' with L the Cholesky factor of a correlation matrix from the
 * cholesky_factor_corr transform (which adds log |d L / d u|). The map from the free
 * elements of L (the strict lower triangle; each row has unit length) to the strict lower
 * triangle of Omega is block triangular by rows: row i of Omega below the diagonal is
 * L[1:i-1, 1:i-1] times row i of L, so its Jacobian determinant is
 * prod_{j<K} L[j,j]^(K - j) (1-based), and log |J| gains sum_j (K - j) log L[j,j].
 * (The unconstrained coordinates are those of cholesky_factor_corr, not Stan's
 * canonical partial correlations of corr_matrix; the distribution of Omega is the same.)
 */
static ps_status corr_matrix(frame *f, ps_adv u, size_t K, bool jacobian, ps_adv *out)
{
    ps_ad_tape *tape = f->tape;
    ps_adv L;
    PS_CHECK(ps_ad_cholesky_corr_constrain(tape, u, K, jacobian, &L));
    if (jacobian && K > 1) {
        ps_adv diag, logd, w, lj;
        double *wv = NULL;
        PS_CHECK(ps_ad_diagonal(tape, L, &diag));
        PS_CHECK(ps_ad_unary(tape, PS_AD_LOG, diag, &logd));
        PS_CHECK(ps_ad_const_alloc(tape, K, 1, &wv, &w));
        for (size_t j = 0; j < K; j++)
            wv[j] = (double)(K - 1 - j);
        PS_CHECK(ps_ad_dot_product(tape, w, logd, &lj));
        PS_CHECK(ps_ad_target_add(tape, lj));
    }
    return ps_ad_tcrossprod(tape, L, out);
}

static ps_status transform(const stan_model *m, frame *f, const lparam *p, ps_adv theta,
                           bool jacobian)
{
    (void)m;
    const ldecl *d = p->d;
    const sshape *s = &d->shape;
    ps_ad_tape *tape = f->tape;
    ps_adv u = {theta.v + p->offset, theta.a ? theta.a + p->offset : NULL, p->free_size, 1,
                theta.var};
    ps_adv x, lo, hi;
    switch (d->constraint) {
    case PS_STAN_C_NONE:
        x = u;
        break;
    case PS_STAN_C_BOUNDS:
        PS_CHECK(bound(f, d->lower, &lo));
        PS_CHECK(bound(f, d->upper, &hi));
        PS_CHECK(ps_ad_bounds_constrain(tape, u, lo, hi, jacobian, &x));
        break;
    case PS_STAN_C_AFFINE:
        PS_CHECK(bound(f, d->offset_e, &lo));
        PS_CHECK(bound(f, d->multiplier, &hi));
        PS_CHECK(ps_ad_offset_multiplier_constrain(tape, u, lo, hi, jacobian, &x));
        break;
    default: {
        /* One transform per cell. */
        size_t cells = sshape_cells(s), K = s->r, per_free = cells ? p->free_size / cells : 0;
        ps_adv *out = NULL;
        double *mem = NULL;
        size_t words = (sizeof(ps_adv) + sizeof(double) - 1) / sizeof(double);
        PS_CHECK(ps_ad_alloc(tape, cells * words + 1, &mem));
        out = (ps_adv *)(void *)mem;
        for (size_t k = 0; k < cells; k++) {
            ps_adv uk = {u.v + k * per_free, u.a ? u.a + k * per_free : NULL, per_free, 1, u.var};
            switch (d->constraint) {
            case PS_STAN_C_SIMPLEX:
                PS_CHECK(ps_ad_simplex_constrain(tape, uk, jacobian, &out[k]));
                break;
            case PS_STAN_C_ORDERED:
                PS_CHECK(ps_ad_ordered_constrain(tape, uk, jacobian, &out[k]));
                break;
            case PS_STAN_C_POSITIVE_ORDERED:
                PS_CHECK(ps_ad_positive_ordered_constrain(tape, uk, jacobian, &out[k]));
                break;
            case PS_STAN_C_CHOLESKY_CORR:
                PS_CHECK(ps_ad_cholesky_corr_constrain(tape, uk, K, jacobian, &out[k]));
                break;
            case PS_STAN_C_COV_MATRIX:
                PS_CHECK(ps_ad_cov_matrix_constrain(tape, uk, K, jacobian, &out[k]));
                break;
            case PS_STAN_C_CORR_MATRIX:
                PS_CHECK(corr_matrix(f, uk, K, jacobian, &out[k]));
                break;
            default:
                PS_CHECK(sm_extra_constrain(f, d->constraint, uk, s->r, s->c, jacobian, &out[k]));
                break;
            }
        }
        return sm_var_bind_cells(f, d->slot, s, out, cells);
    }
    }
    return sm_var_bind_cells(f, d->slot, s, &x, 1);
}

static ps_status run_params(const stan_model *m, frame *f, ps_adv theta, bool jacobian)
{
    for (size_t i = 0; i < m->n_params; i++) {
        ps_status st = transform(m, f, &m->params[i], theta, jacobian);
        if (st != PS_OK)
            return locate_decl(f, m->params[i].d, st);
    }
    return PS_OK;
}

static ps_status check_tparams(const stan_model *m, frame *f)
{
    for (size_t i = 0; i < m->n_tparams; i++) {
        const ldecl *d = m->tparams[i];
        if (d->constraint == PS_STAN_C_NONE || d->constraint == PS_STAN_C_AFFINE)
            continue;
        sval v, lo, hi;
        const sval *plo = NULL, *phi = NULL;
        ps_status st = sm_var_read(f, d->slot, &v);
        if (st == PS_OK && d->lower != NULL) {
            st = sm_eval(d->lower, f, &lo);
            plo = &lo;
        }
        if (st == PS_OK && d->upper != NULL) {
            st = sm_eval(d->upper, f, &hi);
            phi = &hi;
        }
        double *work = NULL;
        if (st == PS_OK)
            st = ps_ad_alloc(f->tape, (size_t)v.s.r * v.s.c + 1, &work);
        if (st != PS_OK)
            return locate_decl(f, d, st);
        char msg[512];
        size_t element = 0;
        if (!sm_check_constraint(d->name, d->constraint, &v, plo, phi, work, msg, sizeof msg,
                                 &element)) {
            snprintf(f->message, sizeof f->message, "%s", msg);
            size_t len = 0, line = 0, col = 0;
            const char *text = ps_stan_program_text(m->prog, &len);
            ps_text_position(text, len, d->decl->offset, &line, &col);
            snprintf(f->message + strlen(f->message), sizeof f->message - strlen(f->message),
                     " (in '%s', line %zu, column %zu)", m->path, line, col);
            f->located = true;
            return PS_ERR_NUMERIC;
        }
    }
    return PS_OK;
}

/* Steps 1-4 (see the top of the file); the tape has been begun. */
static ps_status run(const stan_model *m, sm_ws *w, const double *theta, bool jacobian,
                     bool model_block)
{
    frame *f = &w->f;
    sm_frame_reset(f);
    f->jacobian = jacobian;
    PS_CHECK(ps_ad_params(w->tape, theta, m->dim, &w->theta));
    PS_CHECK(run_params(m, f, w->theta, jacobian));
    if (m->tp_body != NULL)
        PS_CHECK(sm_exec(m->tp_body, f));
    PS_CHECK(check_tparams(m, f));
    if (model_block && m->model_body != NULL)
        PS_CHECK(sm_exec(m->model_body, f));
    return PS_OK;
}

static ps_status finish_status(sm_ws *w, ps_status st)
{
    if (st == PS_ERR_NUMERIC && !w->f.located)
        snprintf(w->f.message, sizeof w->f.message, "%s", ps_ad_tape_message(w->tape));
    return st;
}

static ps_status ops_log_density_gradient(const void *impl, void *ws, const double *theta,
                                          double *log_density, double *grad)
{
    const stan_model *m = impl;
    sm_ws *w = ws;
    ps_ad_tape_begin(w->tape, true);
    ps_status st = run(m, w, theta, true, true);
    if (st == PS_OK)
        st = ps_ad_tape_grad(w->tape);
    if (st != PS_OK) {
        *log_density = -INFINITY;
        return finish_status(w, st);
    }
    *log_density = ps_ad_target(w->tape);
    if (m->dim > 0)
        memcpy(grad, w->theta.a, m->dim * sizeof(double));
    return PS_OK;
}

static ps_status ops_log_density(const void *impl, void *ws, const double *theta,
                                 double *log_density)
{
    const stan_model *m = impl;
    sm_ws *w = ws;
    ps_ad_tape_begin(w->tape, false);
    ps_status st = run(m, w, theta, true, true);
    if (st != PS_OK) {
        *log_density = -INFINITY;
        return finish_status(w, st);
    }
    *log_density = ps_ad_target(w->tape);
    return PS_OK;
}

/* Writes a variable row-major (matrix cells are column-major inside the model). */
static void write_row_major(const sval *v, double *out)
{
    const sshape *s = &v->s;
    size_t cells = sshape_cells(s), R = s->r, C = s->c, per = R * C;
    if (s->base != PS_STAN_MATRIX) {
        size_t n = cells * per;
        if (n > 0)
            memcpy(out, v->x.v, n * sizeof(double));
        return;
    }
    for (size_t k = 0; k < cells; k++)
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++)
                out[k * per + i * C + j] = v->x.v[k * per + j * R + i];
}

static ps_status ops_constrain(const void *impl, void *ws, const double *theta, double *out)
{
    const stan_model *m = impl;
    sm_ws *w = ws;
    ps_ad_tape_begin(w->tape, false);
    ps_status st = run(m, w, theta, false, false);
    if (st != PS_OK)
        return finish_status(w, st);
    size_t offset = 0;
    for (size_t i = 0; i < m->n_params + m->n_tparams; i++) {
        const ldecl *d = i < m->n_params ? m->params[i].d : m->tparams[i - m->n_params];
        sval v;
        PS_CHECK(sm_var_read(&w->f, d->slot, &v));
        write_row_major(&v, out + offset);
        offset += sshape_count(&d->shape);
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Construction
 * ------------------------------------------------------------------------------------- */

static void model_destroy(void *impl)
{
    stan_model *m = impl;
    if (m == NULL)
        return;
    ps_stan_program_destroy(&m->prog);
    sm_arena_fini(&m->arena);
    ps_free(m->slot_names);
    ps_free(m->params);
    ps_free(m->tparams);
    ps_free(m);
}

static const ps_model_ops stan_ops = {
    .name = "stan",
    .destroy = model_destroy,
    .workspace_create = ws_create,
    .workspace_destroy = ws_destroy,
    .log_density_gradient = ops_log_density_gradient,
    .log_density = ops_log_density,
    .constrain = ops_constrain,
    .workspace_message = ws_message,
};

/* Number of unconstrained values of one declared parameter. */
static ps_status free_size(lower_ctx *c, const ldecl *d, size_t *out)
{
    const sshape *s = &d->shape;
    size_t cells = sshape_cells(s), K = s->r, per;
    switch (d->constraint) {
    case PS_STAN_C_SIMPLEX:
        if (K == 0)
            return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, d->decl->offset,
                                            "the simplex '%s' must have at least 1 element",
                                            d->name);
        per = ps_simplex_free_size(K);
        break;
    case PS_STAN_C_CHOLESKY_CORR:
    case PS_STAN_C_CORR_MATRIX:
        per = ps_cholesky_corr_free_size(K);
        break;
    case PS_STAN_C_COV_MATRIX:
        per = ps_cov_matrix_free_size(K);
        break;
    case PS_STAN_C_CHOLESKY_COV: {
        size_t M = s->r, N = s->c;
        if (M < N)
            return ps_stan_program_error_at(c->m->prog, PS_ERR_MODEL, d->decl->offset,
                                            "cholesky_factor_cov '%s' has %zu rows and %zu "
                                            "columns; it needs at least as many rows as columns",
                                            d->name, M, N);
        per = N * (N + 1) / 2 + (M - N) * N;
        break;
    }
    default:
        per = (size_t)s->r * s->c;
        break;
    }
    *out = cells * per;
    return PS_OK;
}

/* The data block: sizes in order, each variable checked against the file. */
static ps_status build_data(lower_ctx *c, const ps_data *data)
{
    size_t n = 0;
    ps_stan_decl *const *vars = ps_stan_program_vars(c->m->prog, PS_STAN_BLOCK_DATA, &n);
    for (size_t i = 0; i < n; i++) {
        ldecl *ld = NULL;
        PS_CHECK(sm_lower_decl(c, vars[i], true, &ld));
        sval v;
        const ps_data_var *var = NULL;
        PS_CHECK(sm_data_bind(c, ld, &ld->shape, data, &v, &var));
        dinfo *info = NULL;
        PS_CHECK(sm_dinfo_add(c, vars[i], &info));
        info->is_const = true;
        info->cval = v;
        info->ld = ld;
        PS_CHECK(sm_data_check_constraint(c, ld, &v, data, var, PS_ERR_DATA));
    }
    return PS_OK;
}

/* Transformed data: lowered with its variables in slots, run once, then frozen. */
static ps_status build_tdata(lower_ctx *c, vstate **cf_vars)
{
    stan_model *m = c->m;
    ls *body = NULL;
    PS_CHECK(sm_lower_block(c, PS_STAN_BLOCK_TDATA, &body));
    if (body == NULL)
        return PS_OK;
    ps_free(*cf_vars);
    *cf_vars = NULL;
    PS_CHECK(ps_alloc_array(cf_vars, m->n_slots + 1, sizeof **cf_vars, "transformed data"));
    frame *f = c->cf;
    f->vars = *cf_vars;
    f->n_vars = m->n_slots;
    ps_ad_tape_begin(f->tape, false);
    sm_frame_reset(f);
    ps_status st = sm_exec(body, f);
    if (st == PS_ERR_NUMERIC)
        return ps_error(PS_ERR_MODEL, "%s: error: transformed data: %s", m->path, f->message);
    PS_CHECK(st);
    size_t n = 0;
    ps_stan_decl *const *vars = ps_stan_program_vars(m->prog, PS_STAN_BLOCK_TDATA, &n);
    for (size_t i = 0; i < n; i++) {
        dinfo *info = sm_dinfo_find(c, vars[i]);
        if (info == NULL || info->slot < 0)
            return ps_error(PS_ERR_INTERNAL, "transformed data variable '%s' has no slot",
                            vars[i]->name);
        sval v, p;
        PS_CHECK(sm_var_read(f, info->slot, &v));
        PS_CHECK(sm_persist(c, &v, &p));
        ldecl *ld = info->ld;
        info->is_const = true;
        info->cval = p;
        if (ld != NULL)
            PS_CHECK(sm_data_check_constraint(c, ld, &p, NULL, NULL, PS_ERR_MODEL));
    }
    /* The construction tape is reused for folding from here on. */
    ps_ad_tape_begin(f->tape, false);
    return PS_OK;
}

static ps_status build_params(lower_ctx *c)
{
    stan_model *m = c->m;
    size_t n = 0;
    ps_stan_decl *const *vars = ps_stan_program_vars(m->prog, PS_STAN_BLOCK_PARAMS, &n);
    PS_CHECK(ps_alloc_array(&m->params, n + 1, sizeof *m->params, "parameters"));
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const ps_stan_decl *d = vars[i];
        ldecl *ld = NULL;
        PS_CHECK(sm_lower_decl(c, d, true, &ld));
        PS_CHECK(sm_slot_new(c, d, &ld->slot));
        dinfo *info = NULL;
        PS_CHECK(sm_dinfo_add(c, d, &info));
        info->ld = ld;
        lparam *p = &m->params[m->n_params++];
        p->d = ld;
        p->offset = offset;
        PS_CHECK(free_size(c, ld, &p->free_size));
        if (!ps_size_add(offset, p->free_size, &offset))
            return ps_error(PS_ERR_MODEL, "%s: too many parameters", m->path);
    }
    m->dim = offset;
    return PS_OK;
}

static ps_status build_tparams(lower_ctx *c)
{
    stan_model *m = c->m;
    PS_CHECK(sm_lower_block(c, PS_STAN_BLOCK_TPARAMS, &m->tp_body));
    size_t n = 0;
    ps_stan_decl *const *vars = ps_stan_program_vars(m->prog, PS_STAN_BLOCK_TPARAMS, &n);
    PS_CHECK(ps_alloc_array(&m->tparams, n + 1, sizeof *m->tparams, "transformed parameters"));
    for (size_t i = 0; i < n; i++) {
        dinfo *info = sm_dinfo_find(c, vars[i]);
        if (info == NULL || info->ld == NULL)
            return ps_error(PS_ERR_INTERNAL, "transformed parameter '%s' was not lowered",
                            vars[i]->name);
        m->tparams[m->n_tparams++] = info->ld;
    }
    return PS_OK;
}

/* Output variables and unconstrained names for the model description. */
static ps_status describe(stan_model *m, ps_var_info **vars_out, char ***unc_out)
{
    size_t nv = m->n_params + m->n_tparams;
    ps_var_info *vars = NULL;
    char **unc = NULL;
    PS_CHECK(ps_alloc_array(&vars, nv + 1, sizeof *vars, "output variables"));
    *vars_out = vars;
    size_t offset = 0;
    for (size_t i = 0; i < nv; i++) {
        const ldecl *d = i < m->n_params ? m->params[i].d : m->tparams[i - m->n_params];
        const sshape *s = &d->shape;
        ps_var_info *v = &vars[i];
        v->name = (char *)d->name;
        v->ndim = 0;
        for (unsigned k = 0; k < s->nd; k++)
            v->dims[v->ndim++] = s->dim[k];
        if (s->base == PS_STAN_VECTOR)
            v->dims[v->ndim++] = s->r;
        else if (s->base == PS_STAN_ROW_VECTOR)
            v->dims[v->ndim++] = s->c;
        else if (s->base == PS_STAN_MATRIX) {
            v->dims[v->ndim++] = s->r;
            v->dims[v->ndim++] = s->c;
        }
        v->size = sshape_count(s);
        v->offset = offset;
        v->transformed = i >= m->n_params;
        offset += v->size;
    }
    m->n_out = offset;
    PS_CHECK(ps_alloc_array(&unc, m->dim + 1, sizeof *unc, "parameter names"));
    *unc_out = unc;
    size_t k = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        const lparam *p = &m->params[i];
        bool scalar = p->d->shape.nd == 0 && p->d->shape.base == PS_STAN_REAL && p->free_size == 1;
        for (size_t j = 0; j < p->free_size; j++) {
            char name[256];
            if (scalar)
                snprintf(name, sizeof name, "%s", p->d->name);
            else
                snprintf(name, sizeof name, "%s.%zu", p->d->name, j + 1);
            unc[k] = ps_strdup(name);
            if (unc[k] == NULL)
                return ps_error(PS_ERR_MEM, "out of memory naming parameters");
            k++;
        }
    }
    return PS_OK;
}

ps_status sm_model_create(const sm_options *opt, ps_model **out)
{
    ps_status status = PS_OK;
    *out = NULL;
    const char *stan_path = opt->stan_path, *data_path = opt->data_path;
    ps_data *data = NULL;
    lower_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    frame cf;
    memset(&cf, 0, sizeof cf);
    vstate *cf_vars = NULL;
    ps_var_info *vars = NULL;
    char **unc = NULL;
    char *description = NULL;
    stan_model *m = ps_calloc(1, sizeof *m);
    if (m == NULL)
        return ps_error(PS_ERR_MEM, "out of memory compiling %s", stan_path);
    m->loop_budget = opt->loop_budget;
    m->max_elements = opt->max_elements;
    if (opt->text != NULL)
        PS_TRY(ps_stan_program_parse(stan_path, opt->text, opt->text_len, &m->prog));
    else
        PS_TRY(ps_stan_program_parse_file(stan_path, &m->prog));
    m->path = ps_stan_program_path(m->prog);
    if (data_path != NULL && data_path[0] != '\0')
        PS_TRY(ps_data_read_file(data_path, &data));

    ctx.m = m;
    ctx.cf = &cf;
    PS_TRY(ps_ad_tape_create(&cf.tape));
    PS_TRY(ps_alloc_array(&cf_vars, 1, sizeof *cf_vars, "transformed data"));
    sm_frame_init(&cf, m, cf.tape, cf_vars);

    PS_TRY(build_data(&ctx, data));
    PS_TRY(build_tdata(&ctx, &cf_vars));
    PS_TRY(build_params(&ctx));
    PS_TRY(build_tparams(&ctx));
    PS_TRY(sm_lower_block(&ctx, PS_STAN_BLOCK_MODEL, &m->model_body));
    {
        size_t n_gq = 0;
        ps_stan_program_stmts(m->prog, PS_STAN_BLOCK_GQ, &n_gq);
        m->has_gq = n_gq > 0;
    }
    PS_TRY(describe(m, &vars, &unc));
    {
        ps_strbuf sb;
        ps_strbuf_init(&sb);
        ps_strbuf_printf(&sb, "Stan program %s (compiled by psample)", m->path);
        PS_TRY(ps_strbuf_take(&sb, &description));
    }
    if (m->has_gq && !opt->quiet)
        ps_warn("%s: the generated quantities block is skipped: running generated quantities "
                "is not supported yet (the trace holds parameters and transformed parameters)",
                m->path);
    ps_model_desc desc = {
        .dim = m->dim,
        .unc_names = unc,
        .vars = vars,
        .n_vars = m->n_params + m->n_tparams,
        .source = ps_stan_program_text(m->prog, NULL),
        .description = description,
    };
    status = ps_model_create(&stan_ops, m, &desc, out);
    m = NULL; /* owned by the model now, also on failure */
done:
    if (m != NULL)
        model_destroy(m);
    if (unc != NULL) {
        for (size_t i = 0; unc[i] != NULL; i++)
            ps_free(unc[i]);
        ps_free(unc);
    }
    ps_free(vars);
    ps_free(description);
    ps_ad_tape_destroy(&cf.tape);
    ps_free(cf_vars);
    ps_free(ctx.dmap);
    ps_data_destroy(&data);
    return status;
}

ps_status ps_model_stan_create(const char *stan_path, const char *data_path, unsigned int seed,
                               ps_model **out)
{
    sm_options opt;
    memset(&opt, 0, sizeof opt);
    opt.stan_path = stan_path;
    opt.data_path = data_path;
    opt.seed = seed;
    return sm_model_create(&opt, out);
}
