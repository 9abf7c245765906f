/* The generic model object: an implementation table, its immutable model, and metadata. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/model.h"

struct ps_model {
    const ps_model_ops *ops;
    void *impl;
    size_t dim;
    size_t output_size;
    char **unc_names;
    ps_var_info *vars;
    size_t n_vars;
    char *source;
    char *description;
};

struct ps_model_workspace {
    const ps_model *model;
    void *impl_ws;
    unsigned long long gradient_count;
    bool timing;
    double gradient_seconds;
};

void ps_model_destroy(ps_model **model)
{
    if (model == NULL || *model == NULL)
        return;
    ps_model *m = *model;
    if (m->ops && m->ops->destroy && m->impl)
        m->ops->destroy(m->impl);
    if (m->unc_names) {
        for (size_t i = 0; i < m->dim; i++)
            ps_free(m->unc_names[i]);
        ps_free(m->unc_names);
    }
    if (m->vars) {
        for (size_t i = 0; i < m->n_vars; i++)
            ps_free(m->vars[i].name);
        ps_free(m->vars);
    }
    ps_free(m->source);
    ps_free(m->description);
    ps_free(m);
    *model = NULL;
}

static ps_status copy_string(const char *s, char **out)
{
    *out = ps_strdup(s ? s : "");
    if (*out == NULL)
        return ps_error(PS_ERR_MEM, "out of memory copying model metadata");
    return PS_OK;
}

ps_status ps_model_create(const ps_model_ops *ops, void *impl, const ps_model_desc *desc,
                          ps_model **out)
{
    ps_status status = PS_OK;
    *out = NULL;
    ps_model *m = ps_calloc(1, sizeof *m);
    if (m == NULL) {
        if (ops && ops->destroy && impl)
            ops->destroy(impl);
        return ps_error(PS_ERR_MEM, "out of memory creating a model");
    }
    m->ops = ops;
    m->impl = impl;
    m->dim = desc->dim;
    if (ops->log_density_gradient == NULL || ops->constrain == NULL ||
        ops->workspace_create == NULL || ops->workspace_destroy == NULL) {
        status = ps_error(PS_ERR_INTERNAL, "model implementation '%s' lacks a function",
                          ops->name ? ops->name : "?");
        goto done;
    }
    PS_TRY(ps_alloc_array(&m->unc_names, desc->dim, sizeof(char *), "parameter names"));
    for (size_t i = 0; i < desc->dim; i++) {
        if (desc->unc_names && desc->unc_names[i]) {
            PS_TRY(copy_string(desc->unc_names[i], &m->unc_names[i]));
        } else {
            char name[32];
            snprintf(name, sizeof name, "theta_unc.%zu", i + 1);
            PS_TRY(copy_string(name, &m->unc_names[i]));
        }
    }
    PS_TRY(ps_alloc_array(&m->vars, desc->n_vars, sizeof(ps_var_info), "output variables"));
    m->n_vars = desc->n_vars;
    size_t offset = 0;
    for (size_t i = 0; i < desc->n_vars; i++) {
        const ps_var_info *v = &desc->vars[i];
        m->vars[i] = *v;
        m->vars[i].name = NULL;
        PS_TRY(copy_string(v->name, &m->vars[i].name));
        if (v->ndim < 0 || v->ndim > PS_MODEL_MAX_DIMS) {
            status = ps_error(PS_ERR_MODEL, "variable '%s' has %d dimensions (at most %d)", v->name,
                              v->ndim, PS_MODEL_MAX_DIMS);
            goto done;
        }
        size_t size = 1;
        for (int d = 0; d < v->ndim; d++) {
            if (!ps_size_mul(size, v->dims[d], &size)) {
                status = ps_error(PS_ERR_MODEL, "variable '%s' is too large", v->name);
                goto done;
            }
        }
        m->vars[i].size = size;
        m->vars[i].offset = offset;
        if (!ps_size_add(offset, size, &offset)) {
            status = ps_error(PS_ERR_MODEL, "model output is too large");
            goto done;
        }
    }
    m->output_size = offset;
    PS_TRY(copy_string(desc->source, &m->source));
    PS_TRY(copy_string(desc->description, &m->description));
    *out = m;
    return PS_OK;
done:
    ps_model_destroy(&m);
    return status;
}

size_t ps_model_dim(const ps_model *model)
{
    return model->dim;
}

size_t ps_model_output_size(const ps_model *model)
{
    return model->output_size;
}

size_t ps_model_n_vars(const ps_model *model)
{
    return model->n_vars;
}

const ps_var_info *ps_model_var(const ps_model *model, size_t i)
{
    return i < model->n_vars ? &model->vars[i] : NULL;
}

const char *ps_model_unc_name(const ps_model *model, size_t i)
{
    return i < model->dim ? model->unc_names[i] : "";
}

const char *ps_model_source(const ps_model *model)
{
    return model->source;
}

const char *ps_model_description(const ps_model *model)
{
    return model->description;
}

const ps_model_ops *ps_model_get_ops(const ps_model *model)
{
    return model->ops;
}

ps_status ps_model_workspace_create(const ps_model *model, ps_model_workspace **ws)
{
    *ws = ps_calloc(1, sizeof **ws);
    if (*ws == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating a model workspace");
    (*ws)->model = model;
    ps_status status = model->ops->workspace_create(model->impl, &(*ws)->impl_ws);
    if (status != PS_OK) {
        ps_free(*ws);
        *ws = NULL;
    }
    return status;
}

void ps_model_workspace_destroy(ps_model_workspace **ws)
{
    if (ws == NULL || *ws == NULL)
        return;
    if ((*ws)->impl_ws)
        (*ws)->model->ops->workspace_destroy((*ws)->impl_ws);
    ps_free(*ws);
    *ws = NULL;
}

const char *ps_model_workspace_message(const ps_model_workspace *ws)
{
    const ps_model_ops *ops = ws->model->ops;
    if (ops->workspace_message == NULL)
        return "";
    const char *msg = ops->workspace_message(ws->impl_ws);
    return msg ? msg : "";
}

unsigned long long ps_model_workspace_gradient_count(const ps_model_workspace *ws)
{
    return ws->gradient_count;
}

void ps_model_workspace_set_timing(ps_model_workspace *ws, bool on)
{
    ws->timing = on;
}

double ps_model_workspace_gradient_seconds(const ps_model_workspace *ws)
{
    return ws->gradient_seconds;
}

ps_status ps_model_log_density_gradient(const ps_model *model, ps_model_workspace *ws,
                                        const double *theta, double *log_density, double *grad)
{
    ws->gradient_count++;
    if (!ws->timing)
        return model->ops->log_density_gradient(model->impl, ws->impl_ws, theta, log_density, grad);
    double t0 = ps_time_now();
    ps_status st =
        model->ops->log_density_gradient(model->impl, ws->impl_ws, theta, log_density, grad);
    ws->gradient_seconds += ps_time_now() - t0;
    return st;
}

ps_status ps_model_log_density(const ps_model *model, ps_model_workspace *ws, const double *theta,
                               double *log_density)
{
    if (model->ops->log_density)
        return model->ops->log_density(model->impl, ws->impl_ws, theta, log_density);
    /* No value-only path: use the gradient path into the workspace-free scratch of the
     * implementation. Implementations without log_density must accept grad == NULL. */
    return model->ops->log_density_gradient(model->impl, ws->impl_ws, theta, log_density, NULL);
}

ps_status ps_model_constrain(const ps_model *model, ps_model_workspace *ws, const double *theta,
                             double *out)
{
    return model->ops->constrain(model->impl, ws->impl_ws, theta, out);
}

void ps_model_output_element_name(const ps_model *model, size_t index, char *buf, size_t buf_size)
{
    for (size_t i = 0; i < model->n_vars; i++) {
        const ps_var_info *v = &model->vars[i];
        if (index < v->offset || index >= v->offset + v->size)
            continue;
        size_t rest = index - v->offset;
        size_t idx[PS_MODEL_MAX_DIMS];
        for (int d = v->ndim - 1; d >= 0; d--) {
            idx[d] = v->dims[d] ? rest % v->dims[d] : 0;
            rest = v->dims[d] ? rest / v->dims[d] : 0;
        }
        int n = snprintf(buf, buf_size, "%s", v->name);
        for (int d = 0; d < v->ndim && n >= 0 && (size_t)n < buf_size; d++)
            n += snprintf(buf + n, buf_size - (size_t)n, "%s%zu", d == 0 ? "[" : ",", idx[d] + 1);
        if (v->ndim > 0 && n >= 0 && (size_t)n < buf_size)
            snprintf(buf + n, buf_size - (size_t)n, "]");
        return;
    }
    snprintf(buf, buf_size, "?");
}
