/*
 * Models compiled elsewhere into a shared library with the BridgeStan C ABI (BridgeStan
 * 2.x: bs_model_construct, bs_log_density_gradient, bs_param_constrain, ...), loaded with
 * dlopen and adapted to psample's model interface (model.h).
 *
 * Facts of the ABI that this file relies on, from BridgeStan's public documentation of
 * bridgestan.h:
 * - The library exports `const int bs_major_version, bs_minor_version, bs_patch_version`
 *   (data symbols; absent before 2.0). Version 2 is the only ABI with the error-message
 *   arguments used here.
 * - Functions return 0 on success and non-zero when the Stan program threw; they then
 *   allocate a message in *error_msg, to be released with bs_free_error_msg().
 * - bs_model_construct(data, seed, &err) takes a path ending in ".json", a JSON string, or
 *   "" for no data.
 * - bs_param_names(m, include_tp, include_gq) is a comma-separated list of names with
 *   dot-separated 1-based indices ("theta.1.2") in Stan's column-major order (first index
 *   fastest). Complex values end in ".real"/".imag"; tuple slots are written "t:1".
 * - A model built with STAN_THREADS=true (reported in bs_model_info) may be evaluated from
 *   several threads at once on distinct calls: the model object is read-only.
 *
 * psample's outputs are row-major, so the constrained values are scattered through a
 * permutation computed once from the names. Every name is parsed into its indices and
 * placed by them, so the order in which the library lists the elements of one variable
 * does not matter, only that each element appears exactly once. Complex values get a
 * trailing axis of length 2 (real, imaginary); each slot of a tuple becomes a variable of
 * its own, named as BridgeStan names it ("t:1", "t:2"); arrays of tuples interleave their
 * slots and are refused as not supported yet. Generated quantities are not read yet.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

/* The opaque types of the ABI. */
typedef struct bs_model bs_model;
typedef struct bs_rng bs_rng;

/* The functions of the ABI that psample uses, resolved with dlsym. */
typedef struct bs_api {
    int major, minor, patch;
    bs_model *(*model_construct)(const char *data, unsigned int seed, char **error_msg);
    void (*model_destruct)(bs_model *m);
    void (*free_error_msg)(char *error_msg);
    const char *(*name)(const bs_model *m);
    const char *(*model_info)(const bs_model *m);
    const char *(*param_names)(const bs_model *m, bool include_tp, bool include_gq);
    const char *(*param_unc_names)(const bs_model *m);
    int (*param_num)(const bs_model *m, bool include_tp, bool include_gq);
    int (*param_unc_num)(const bs_model *m);
    int (*param_constrain)(const bs_model *m, bool include_tp, bool include_gq,
                           const double *theta_unc, double *theta, bs_rng *rng, char **error_msg);
    int (*log_density)(const bs_model *m, bool propto, bool jacobian, const double *theta_unc,
                       double *lp, char **error_msg);
    int (*log_density_gradient)(const bs_model *m, bool propto, bool jacobian,
                                const double *theta_unc, double *lp, double *grad,
                                char **error_msg);
} bs_api;

/* The immutable model: the library, the constructed BridgeStan model, the permutation. */
typedef struct bs_impl {
    void *handle;
    bs_api api;
    bs_model *model;
    size_t dim;   /* unconstrained parameters */
    size_t n_out; /* parameters and transformed parameters, constrained */
    size_t *perm; /* element k in BridgeStan's order goes to output perm[k] */
    bool identity;
} bs_impl;

/* Rejection messages longer than this are cut (they are for a human reading a log). */
enum { WS_MESSAGE_CAP = 2048 };

typedef struct bs_workspace {
    double *constrained; /* n_out values in BridgeStan's order, before the permutation */
    char message[WS_MESSAGE_CAP];
} bs_workspace;

static void impl_destroy(void *impl_ptr)
{
    bs_impl *impl = impl_ptr;
    if (impl == NULL)
        return;
    if (impl->model && impl->api.model_destruct)
        impl->api.model_destruct(impl->model);
    /* glibc keeps the library mapped while any thread still holds thread_local objects
     * with destructors registered from it (Stan's autodiff stacks), so closing is safe. */
    if (impl->handle)
        dlclose(impl->handle);
    ps_free(impl->perm);
    ps_free(impl);
}

/* Keeps a message from the library in the workspace and releases the library's copy. */
static void keep_message(const bs_impl *impl, bs_workspace *ws, char *error_msg, const char *what)
{
    if (error_msg != NULL) {
        snprintf(ws->message, sizeof ws->message, "%s", error_msg);
        impl->api.free_error_msg(error_msg);
    } else {
        snprintf(ws->message, sizeof ws->message, "the model rejected the point in %s", what);
    }
}

/*
 * BridgeStan reports every exception of the Stan program the same way, so a domain error
 * (Stan's "reject") cannot be told from a bug in the program. Both are treated as a
 * rejection of this point, which is what Stan's samplers do with domain errors; a model that
 * fails everywhere is then caught at initialisation.
 */
static ps_status ops_log_density_gradient(const void *impl_ptr, void *ws_ptr, const double *theta,
                                          double *log_density, double *grad)
{
    const bs_impl *impl = impl_ptr;
    bs_workspace *ws = ws_ptr;
    char *error_msg = NULL;
    double lp = 0.0;
    int rc;
    if (grad != NULL)
        rc = impl->api.log_density_gradient(impl->model, true, true, theta, &lp, grad, &error_msg);
    else
        rc = impl->api.log_density(impl->model, true, true, theta, &lp, &error_msg);
    if (rc != 0) {
        keep_message(impl, ws, error_msg, "log_density_gradient");
        *log_density = -INFINITY;
        return PS_ERR_NUMERIC;
    }
    if (error_msg != NULL)
        impl->api.free_error_msg(error_msg);
    *log_density = lp;
    return PS_OK;
}

static ps_status ops_log_density(const void *impl_ptr, void *ws_ptr, const double *theta,
                                 double *log_density)
{
    return ops_log_density_gradient(impl_ptr, ws_ptr, theta, log_density, NULL);
}

static ps_status ops_constrain(const void *impl_ptr, void *ws_ptr, const double *theta, double *out)
{
    const bs_impl *impl = impl_ptr;
    bs_workspace *ws = ws_ptr;
    char *error_msg = NULL;
    double *target = impl->identity ? out : ws->constrained;
    int rc = impl->api.param_constrain(impl->model, true, false, theta, target, NULL, &error_msg);
    if (rc != 0) {
        keep_message(impl, ws, error_msg, "param_constrain");
        return PS_ERR_NUMERIC;
    }
    if (error_msg != NULL)
        impl->api.free_error_msg(error_msg);
    if (!impl->identity) {
        for (size_t k = 0; k < impl->n_out; k++)
            out[impl->perm[k]] = ws->constrained[k];
    }
    return PS_OK;
}

static void ops_workspace_destroy(void *ws_ptr)
{
    bs_workspace *ws = ws_ptr;
    if (ws == NULL)
        return;
    ps_free(ws->constrained);
    ps_free(ws);
}

static ps_status ops_workspace_create(const void *impl_ptr, void **ws_out)
{
    const bs_impl *impl = impl_ptr;
    *ws_out = NULL;
    bs_workspace *ws = ps_calloc(1, sizeof *ws);
    if (ws == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating a BridgeStan model workspace");
    ps_status status = ps_alloc_array(&ws->constrained, impl->n_out, sizeof(double),
                                      "constrained values of a BridgeStan model");
    if (status != PS_OK) {
        ops_workspace_destroy(ws);
        return status;
    }
    *ws_out = ws;
    return PS_OK;
}

static const char *ops_workspace_message(const void *ws_ptr)
{
    const bs_workspace *ws = ws_ptr;
    return ws->message;
}

static const ps_model_ops bridgestan_ops = {
    .name = "bridgestan",
    .destroy = impl_destroy,
    .workspace_create = ops_workspace_create,
    .workspace_destroy = ops_workspace_destroy,
    .log_density_gradient = ops_log_density_gradient,
    .log_density = ops_log_density,
    .constrain = ops_constrain,
    .workspace_message = ops_workspace_message,
};

/* ---------------------------------------------------------------------------------------
 * Loading the library
 * ------------------------------------------------------------------------------------- */

/* Resolves one symbol. ISO C has no conversion from an object pointer to a function
 * pointer; POSIX guarantees they share a representation, so the bytes are copied. */
static ps_status load_symbol(void *handle, const char *path, const char *symbol, void *fn_out,
                             size_t fn_size)
{
    dlerror();
    void *address = dlsym(handle, symbol);
    const char *reason = dlerror();
    if (address == NULL || reason != NULL)
        return ps_error(PS_ERR_MODEL,
                        "'%s' is not a BridgeStan model library: it lacks the symbol '%s' (%s)",
                        path, symbol, reason ? reason : "symbol is NULL");
    if (fn_out != NULL)
        memcpy(fn_out, &address, fn_size);
    return PS_OK;
}

#define LOAD(field, symbol)                                                                        \
    PS_TRY(load_symbol(impl->handle, path, symbol, &impl->api.field, sizeof impl->api.field))

static ps_status load_version(bs_impl *impl, const char *path)
{
    static const char *const names[3] = {"bs_major_version", "bs_minor_version",
                                         "bs_patch_version"};
    int *fields[3] = {&impl->api.major, &impl->api.minor, &impl->api.patch};
    for (int i = 0; i < 3; i++) {
        dlerror();
        const int *value = dlsym(impl->handle, names[i]);
        const char *reason = dlerror();
        if (value == NULL || reason != NULL)
            return ps_error(PS_ERR_MODEL,
                            "'%s' is not a BridgeStan model library: it lacks the symbol '%s' "
                            "(libraries of BridgeStan 1.x have no version symbols; psample "
                            "needs a model built with BridgeStan 2.x)",
                            path, names[i]);
        *fields[i] = *value;
    }
    if (impl->api.major != 2)
        return ps_error(PS_ERR_MODEL,
                        "'%s' was built with BridgeStan %d.%d.%d; psample supports the C ABI "
                        "of BridgeStan 2.x only",
                        path, impl->api.major, impl->api.minor, impl->api.patch);
    return PS_OK;
}

static ps_status load_api(bs_impl *impl, const char *path)
{
    ps_status status = PS_OK;
    PS_TRY(load_version(impl, path));
    LOAD(model_construct, "bs_model_construct");
    LOAD(model_destruct, "bs_model_destruct");
    LOAD(free_error_msg, "bs_free_error_msg");
    LOAD(name, "bs_name");
    LOAD(model_info, "bs_model_info");
    LOAD(param_names, "bs_param_names");
    LOAD(param_unc_names, "bs_param_unc_names");
    LOAD(param_num, "bs_param_num");
    LOAD(param_unc_num, "bs_param_unc_num");
    LOAD(param_constrain, "bs_param_constrain");
    LOAD(log_density, "bs_log_density");
    LOAD(log_density_gradient, "bs_log_density_gradient");
done:
    return status;
}

#undef LOAD

/* Opens the library. A path without a slash would be searched in the system's library
 * folders by dlopen; a user means a file in the working directory, so "./" is prefixed. */
static ps_status open_library(bs_impl *impl, const char *path)
{
    char *local = NULL;
    const char *open_path = path;
    if (strchr(path, '/') == NULL) {
        size_t n = strlen(path) + 3;
        local = ps_malloc(n);
        if (local == NULL)
            return ps_error(PS_ERR_MEM, "out of memory loading model library '%s'", path);
        snprintf(local, n, "./%s", path);
        open_path = local;
    }
    dlerror();
    impl->handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
    ps_free(local);
    if (impl->handle == NULL) {
        const char *reason = dlerror();
        return ps_error(PS_ERR_MODEL, "cannot load model library '%s': %s", path,
                        reason ? reason : "unknown dlopen error");
    }
    return PS_OK;
}

/*
 * Builds the model. `data` is a path to a Stan JSON file, a JSON string (first non-blank
 * character '{'), or "" / NULL. Files are read here and handed over as a JSON string: the
 * ABI takes a path only when it ends in ".json", and a file that cannot be read then gets
 * psample's message with the reason.
 */
static ps_status construct_model(bs_impl *impl, const char *path, const char *data,
                                 unsigned int seed)
{
    char *text = NULL;
    size_t text_len = 0;
    const char *json = "";
    const char *where = "";
    const char *data_path = "";
    if (data != NULL) {
        const char *p = data;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (*p == '{') {
            json = data;
            where = " (data given as a JSON string)";
        } else if (*p != '\0') {
            ps_status status = ps_file_read(data, &text, &text_len);
            if (status != PS_OK)
                return status;
            json = text;
            data_path = data;
        }
    }
    char *error_msg = NULL;
    impl->model = impl->api.model_construct(json, seed, &error_msg);
    ps_free(text);
    if (impl->model == NULL) {
        ps_status status;
        if (data_path[0] != '\0')
            status = ps_error(PS_ERR_MODEL,
                              "model library '%s' failed to construct with the data in '%s': %s",
                              path, data_path, error_msg ? error_msg : "(no message)");
        else
            status = ps_error(PS_ERR_MODEL, "model library '%s' failed to construct%s%s: %s", path,
                              json[0] ? "" : " without data", where,
                              error_msg ? error_msg : "(no message)");
        if (error_msg != NULL)
            impl->api.free_error_msg(error_msg);
        return status;
    }
    if (error_msg != NULL)
        impl->api.free_error_msg(error_msg);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Names to variables
 * ------------------------------------------------------------------------------------- */

/* One flat name, taken apart: "theta.2.3" is base "theta" with indices (2, 3). */
typedef struct name_parts {
    const char *base;
    size_t base_len;
    int ndim;                        /* indices, plus one for a complex part */
    size_t index[PS_MODEL_MAX_DIMS]; /* 0-based, outermost first */
    bool complex_part;               /* the last index is 0 (real) or 1 (imag) */
} name_parts;

/* Length of the comma-separated token at s. */
static size_t token_length(const char *s)
{
    const char *comma = strchr(s, ',');
    return comma ? (size_t)(comma - s) : strlen(s);
}

static ps_status bad_name(const char *path, const char *s, size_t len, const char *why)
{
    int shown = len > 200 ? 200 : (int)len;
    return ps_error(PS_ERR_MODEL, "model library '%s': cannot read the parameter name '%.*s': %s",
                    path, shown, s, why);
}

/*
 * Parses one name. A base may contain ':' (a slot of a tuple, "t:2"); a ':' after the first
 * index would be an array of tuples, whose elements interleave the slots and cannot be laid
 * out as arrays: that is reported as not supported yet.
 */
static ps_status parse_name(const char *path, const char *s, size_t len, name_parts *out)
{
    memset(out, 0, sizeof *out);
    size_t base_len = 0;
    while (base_len < len && s[base_len] != '.')
        base_len++;
    if (base_len == 0)
        return bad_name(path, s, len, "the name is empty");
    out->base = s;
    out->base_len = base_len;
    size_t pos = base_len;
    while (pos < len) {
        pos++; /* the '.' */
        size_t start = pos;
        while (pos < len && s[pos] != '.')
            pos++;
        size_t seg_len = pos - start;
        const char *seg = s + start;
        if (memchr(seg, ':', seg_len) != NULL) {
            size_t var_len = 0;
            while (var_len < base_len && s[var_len] != ':')
                var_len++;
            return ps_error(PS_ERR_MODEL,
                            "model library '%s': variable '%.*s' is an array of tuples, which "
                            "is not supported yet (the element name is '%.*s')",
                            path, (int)var_len, s, (int)(len > 200 ? 200 : len), s);
        }
        if (out->complex_part)
            return bad_name(path, s, len, "an index follows the complex part");
        if (out->ndim >= PS_MODEL_MAX_DIMS)
            return ps_error(PS_ERR_MODEL,
                            "model library '%s': variable '%.*s' has more than %d dimensions "
                            "(counting the real/imaginary part of complex values)",
                            path, (int)base_len, s, PS_MODEL_MAX_DIMS);
        if (seg_len == 4 && memcmp(seg, "real", 4) == 0) {
            out->index[out->ndim++] = 0;
            out->complex_part = true;
        } else if (seg_len == 4 && memcmp(seg, "imag", 4) == 0) {
            out->index[out->ndim++] = 1;
            out->complex_part = true;
        } else {
            if (seg_len == 0 || seg_len > 18)
                return bad_name(path, s, len, "an index is empty or too long");
            size_t value = 0;
            for (size_t i = 0; i < seg_len; i++) {
                if (seg[i] < '0' || seg[i] > '9')
                    return bad_name(path, s, len, "an index is not a number");
                value = value * 10 + (size_t)(seg[i] - '0');
            }
            if (value == 0)
                return bad_name(path, s, len, "indices start at 1");
            out->index[out->ndim++] = value - 1;
        }
    }
    return PS_OK;
}

static bool same_base(const name_parts *a, const name_parts *b)
{
    return a->base_len == b->base_len && memcmp(a->base, b->base, a->base_len) == 0;
}

/* The description being built from the names; freed by desc_fini. */
typedef struct desc_build {
    ps_var_info *vars;
    size_t n_vars;
    char **unc_names;
    size_t n_unc;
} desc_build;

static void desc_fini(desc_build *b)
{
    if (b->vars) {
        for (size_t i = 0; i < b->n_vars; i++)
            ps_free(b->vars[i].name);
        ps_free(b->vars);
    }
    if (b->unc_names) {
        for (size_t i = 0; i < b->n_unc; i++)
            ps_free(b->unc_names[i]);
        ps_free(b->unc_names);
    }
    memset(b, 0, sizeof *b);
}

/* Counts the comma-separated names in s ("" has none). */
static size_t count_names(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    return n;
}

/*
 * Groups the flat names into variables and computes the permutation. `names` lists n_out
 * names; the first n_params are parameters, the rest transformed parameters. Elements of a
 * variable must be contiguous; their extents are the largest index seen in each position,
 * and they must cover the whole array exactly once.
 */
static ps_status build_vars(bs_impl *impl, const char *path, const char *names, size_t n_params,
                            desc_build *b)
{
    ps_status status = PS_OK;
    size_t n_out = impl->n_out;
    bool *seen = NULL;
    size_t n_groups = 0;
    PS_TRY(ps_alloc_array(&impl->perm, n_out, sizeof(size_t), "the output permutation"));
    PS_TRY(ps_alloc_array(&seen, n_out, sizeof(bool), "the output permutation"));
    /* At most one variable per name. */
    PS_TRY(ps_alloc_array(&b->vars, n_out, sizeof(ps_var_info), "output variables"));

    const char *p = names;
    size_t k = 0;      /* flat index of the current name */
    size_t offset = 0; /* output index of the current variable */
    while (k < n_out) {
        /* First pass over the group: extents and count. */
        name_parts first, parts;
        size_t len = token_length(p);
        PS_TRY(parse_name(path, p, len, &first));
        size_t extents[PS_MODEL_MAX_DIMS] = {0};
        const char *group_start = p;
        size_t group_k = k;
        size_t count = 0;
        const char *q = p;
        while (k + count < n_out) {
            size_t qlen = token_length(q);
            PS_TRY(parse_name(path, q, qlen, &parts));
            if (!same_base(&first, &parts))
                break;
            if (parts.ndim != first.ndim || parts.complex_part != first.complex_part) {
                status = ps_error(PS_ERR_MODEL,
                                  "model library '%s': the elements of variable '%.*s' have "
                                  "different numbers of indices ('%.*s' and '%.*s')",
                                  path, (int)first.base_len, first.base, (int)len, p,
                                  (int)(qlen > 200 ? 200 : qlen), q);
                goto done;
            }
            if ((group_k + count < n_params) != (group_k < n_params)) {
                status = ps_error(PS_ERR_MODEL,
                                  "model library '%s': variable '%.*s' is listed both as a "
                                  "parameter and as a transformed parameter",
                                  path, (int)first.base_len, first.base);
                goto done;
            }
            for (int d = 0; d < parts.ndim; d++)
                if (parts.index[d] + 1 > extents[d])
                    extents[d] = parts.index[d] + 1;
            count++;
            q += qlen;
            if (*q == ',')
                q++;
        }
        for (size_t v = 0; v < n_groups; v++) {
            if (strlen(b->vars[v].name) == first.base_len &&
                memcmp(b->vars[v].name, first.base, first.base_len) == 0) {
                status = ps_error(PS_ERR_MODEL,
                                  "model library '%s': the elements of variable '%.*s' are "
                                  "not listed together",
                                  path, (int)first.base_len, first.base);
                goto done;
            }
        }
        size_t size = 1;
        for (int d = 0; d < first.ndim; d++) {
            if (!ps_size_mul(size, extents[d], &size)) {
                status = ps_error(PS_ERR_MODEL, "model library '%s': variable '%.*s' is too large",
                                  path, (int)first.base_len, first.base);
                goto done;
            }
        }
        if (size != count) {
            status = ps_error(PS_ERR_MODEL,
                              "model library '%s': variable '%.*s' lists %zu elements, but its "
                              "largest indices imply %zu",
                              path, (int)first.base_len, first.base, count, size);
            goto done;
        }
        ps_var_info *var = &b->vars[n_groups];
        var->name = ps_strndup(first.base, first.base_len);
        if (var->name == NULL) {
            status = ps_error(PS_ERR_MEM, "out of memory reading model variable names");
            goto done;
        }
        n_groups++;
        b->n_vars = n_groups;
        var->ndim = first.ndim;
        for (int d = 0; d < first.ndim; d++)
            var->dims[d] = extents[d];
        var->offset = offset;
        var->size = size;
        var->transformed = group_k >= n_params;

        /* Second pass: place every element by its indices (row-major, last fastest). */
        q = group_start;
        for (size_t j = 0; j < count; j++) {
            size_t qlen = token_length(q);
            PS_TRY(parse_name(path, q, qlen, &parts));
            size_t index = 0;
            for (int d = 0; d < parts.ndim; d++)
                index = index * extents[d] + parts.index[d];
            size_t target = offset + index;
            if (seen[target]) {
                status =
                    ps_error(PS_ERR_MODEL, "model library '%s': the name '%.*s' is listed twice",
                             path, (int)(qlen > 200 ? 200 : qlen), q);
                goto done;
            }
            seen[target] = true;
            impl->perm[group_k + j] = target;
            q += qlen;
            if (*q == ',')
                q++;
        }
        p = q;
        k += count;
        offset += size;
    }
    impl->identity = true;
    for (size_t j = 0; j < n_out; j++)
        impl->identity = impl->identity && impl->perm[j] == j;
done:
    ps_free(seen);
    return status;
}

/* Splits the unconstrained names; when the library's list does not match the dimension,
 * the names are left out and the generic "theta_unc.i" names are used. */
static ps_status build_unc_names(bs_impl *impl, const char *names, desc_build *b)
{
    if (count_names(names) != impl->dim)
        return PS_OK;
    PS_CHECK(ps_alloc_array(&b->unc_names, impl->dim, sizeof(char *), "parameter names"));
    b->n_unc = impl->dim;
    const char *p = names;
    for (size_t i = 0; i < impl->dim; i++) {
        size_t len = token_length(p);
        b->unc_names[i] = ps_strndup(p, len);
        if (b->unc_names[i] == NULL)
            return ps_error(PS_ERR_MEM, "out of memory reading parameter names");
        p += len;
        if (*p == ',')
            p++;
    }
    return PS_OK;
}

ps_status ps_model_bridgestan_create(const char *library_path, const char *data, unsigned int seed,
                                     ps_model **out)
{
    ps_status status = PS_OK;
    desc_build build = {0};
    char *description = NULL;
    *out = NULL;
    if (library_path == NULL || library_path[0] == '\0')
        return ps_error(PS_ERR_MODEL, "no model library given");
    const char *path = library_path;
    bs_impl *impl = ps_calloc(1, sizeof *impl);
    if (impl == NULL)
        return ps_error(PS_ERR_MEM, "out of memory loading model library '%s'", path);
    PS_TRY(open_library(impl, path));
    PS_TRY(load_api(impl, path));
    PS_TRY(construct_model(impl, path, data, seed));

    int unc_num = impl->api.param_unc_num(impl->model);
    int param_num = impl->api.param_num(impl->model, false, false);
    int out_num = impl->api.param_num(impl->model, true, false);
    if (unc_num < 0 || param_num < 0 || out_num < param_num) {
        status = ps_error(PS_ERR_MODEL,
                          "model library '%s' reports inconsistent sizes: %d unconstrained "
                          "parameters, %d parameters, %d with transformed parameters",
                          path, unc_num, param_num, out_num);
        goto done;
    }
    impl->dim = (size_t)unc_num;
    impl->n_out = (size_t)out_num;
    const char *names = impl->api.param_names(impl->model, true, false);
    if (names == NULL)
        names = "";
    if (count_names(names) != impl->n_out) {
        status = ps_error(PS_ERR_MODEL,
                          "model library '%s' lists %zu parameter names but reports %zu "
                          "parameters and transformed parameters",
                          path, count_names(names), impl->n_out);
        goto done;
    }
    PS_TRY(build_vars(impl, path, names, (size_t)param_num, &build));
    PS_TRY(build_unc_names(impl, impl->api.param_unc_names(impl->model), &build));

    const char *model_name = impl->api.name(impl->model);
    const char *info = impl->api.model_info(impl->model);
    bool threads_off = info != NULL && strstr(info, "STAN_THREADS=false") != NULL;
    if (threads_off)
        ps_warn("model library '%s' was built without STAN_THREADS=true: it is not safe to "
                "evaluate it from several threads at once",
                path);
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_printf(&sb, "BridgeStan model %s from %s (BridgeStan %d.%d.%d%s)",
                     model_name ? model_name : "?", path, impl->api.major, impl->api.minor,
                     impl->api.patch, threads_off ? ", built without STAN_THREADS" : "");
    PS_TRY(ps_strbuf_take(&sb, &description));

    ps_model_desc desc = {
        .dim = impl->dim,
        .unc_names = build.unc_names,
        .vars = build.vars,
        .n_vars = build.n_vars,
        .source = NULL,
        .description = description,
    };
    /* ps_model_create owns impl from here on, also when it fails. */
    status = ps_model_create(&bridgestan_ops, impl, &desc, out);
    impl = NULL;
done:
    if (impl != NULL)
        impl_destroy(impl);
    desc_fini(&build);
    ps_free(description);
    return status;
}
