/*
 * The BridgeStan 2.x C ABI on top of the tm_* hooks of one test model (see
 * bs_test_model.h). The ABI's facts come from BridgeStan's public documentation of
 * bridgestan.h: version numbers as exported `const int` symbols, 0 / non-zero return codes,
 * error messages allocated for the caller and released with bs_free_error_msg, data as a
 * path ending in ".json", a JSON string, or empty.
 *
 * Compile definitions used by the broken models:
 *   TM_ABI_MAJOR=n        export bs_major_version = n (default 2)
 *   TM_OMIT_GRADIENT=1    do not export bs_log_density_gradient
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs_test_model.h"

#ifndef TM_ABI_MAJOR
#define TM_ABI_MAJOR 2
#endif

#define BS_PUBLIC __attribute__((visibility("default")))

typedef struct bs_model {
    tm_model tm;
    char info[256];
} bs_model;
typedef struct bs_rng bs_rng;

/* The exported ABI (declared here because no header of BridgeStan is used). */
BS_PUBLIC extern const int bs_major_version;
BS_PUBLIC extern const int bs_minor_version;
BS_PUBLIC extern const int bs_patch_version;
BS_PUBLIC bs_model *bs_model_construct(const char *data, unsigned int seed, char **error_msg);
BS_PUBLIC void bs_model_destruct(bs_model *m);
BS_PUBLIC void bs_free_error_msg(char *error_msg);
BS_PUBLIC const char *bs_name(const bs_model *m);
BS_PUBLIC const char *bs_model_info(const bs_model *m);
BS_PUBLIC const char *bs_param_names(const bs_model *m, bool include_tp, bool include_gq);
BS_PUBLIC const char *bs_param_unc_names(const bs_model *m);
BS_PUBLIC int bs_param_num(const bs_model *m, bool include_tp, bool include_gq);
BS_PUBLIC int bs_param_unc_num(const bs_model *m);
BS_PUBLIC int bs_param_constrain(const bs_model *m, bool include_tp, bool include_gq,
                                 const double *theta_unc, double *theta, bs_rng *rng,
                                 char **error_msg);
BS_PUBLIC int bs_log_density(const bs_model *m, bool propto, bool jacobian, const double *theta_unc,
                             double *lp, char **error_msg);
#ifndef TM_OMIT_GRADIENT
BS_PUBLIC int bs_log_density_gradient(const bs_model *m, bool propto, bool jacobian,
                                      const double *theta_unc, double *lp, double *grad,
                                      char **error_msg);
#endif

const int bs_major_version = TM_ABI_MAJOR;
const int bs_minor_version = 4;
const int bs_patch_version = 0;

/* ---- Helpers ---- */

int tm_fail(char **err, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *msg = malloc((size_t)n + 1);
    if (msg != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    *err = msg;
    return -1;
}

/* Appends text to a malloc'd comma-separated list. */
static int append(char **list, const char *text, size_t len)
{
    size_t old = *list ? strlen(*list) : 0;
    size_t extra = (old > 0 ? 1 : 0) + len;
    char *grown = realloc(*list, old + extra + 1);
    if (grown == NULL)
        return -1;
    if (old > 0)
        grown[old++] = ',';
    memcpy(grown + old, text, len);
    grown[old + len] = '\0';
    *list = grown;
    return 0;
}

int tm_declare_raw(tm_model *m, const char *names, size_t count, bool tp, char **err)
{
    size_t len = strlen(names);
    if (len == 0)
        return 0;
    if (append(tp ? &m->tp_names : &m->param_names, names, len) != 0)
        return tm_fail(err, "out of memory declaring %s", names);
    if (tp) {
        m->n_tp += count;
    } else {
        if (append(&m->unc_names, names, len) != 0)
            return tm_fail(err, "out of memory declaring %s", names);
        m->n_param += count;
        m->n_unc += count;
    }
    return 0;
}

int tm_declare(tm_model *m, const char *name, bool tp, int ndim, const size_t *dims, char **err)
{
    size_t count = 1;
    for (int d = 0; d < ndim; d++)
        count *= dims[d];
    if (count == 0)
        return 0;
    size_t index[8] = {0};
    char buf[256];
    for (size_t k = 0; k < count; k++) {
        int n = snprintf(buf, sizeof buf, "%s", name);
        for (int d = 0; d < ndim; d++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, ".%zu", index[d] + 1);
        if (tm_declare_raw(m, buf, 1, tp, err) != 0)
            return -1;
        /* Column-major: the first index runs fastest. */
        for (int d = 0; d < ndim; d++) {
            if (++index[d] < dims[d])
                break;
            index[d] = 0;
        }
    }
    return 0;
}

bool tm_data_has(const cJSON *data, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(data, name) != NULL;
}

static const cJSON *get(const cJSON *data, const char *name, const char *type, char **err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(data, name);
    if (item == NULL)
        tm_fail(err,
                "Exception: variable does not exist; processing stage=data initialization; "
                "variable name=%s; base type=%s",
                name, type);
    return item;
}

static int as_int(const cJSON *item, const char *name, long lo, long hi, long *out, char **err)
{
    if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) ||
        fabs(item->valuedouble) > 1e15)
        return tm_fail(err,
                       "Exception: int variable contained non-int values; processing "
                       "stage=data initialization; variable name=%s",
                       name);
    long v = (long)item->valuedouble;
    if (v < lo || v > hi)
        return tm_fail(err, "Exception: %s is %ld, but must be in the interval [%ld, %ld]", name, v,
                       lo, hi);
    *out = v;
    return 0;
}

int tm_data_int(const cJSON *data, const char *name, long lo, long hi, long *out, char **err)
{
    const cJSON *item = get(data, name, "int", err);
    return item ? as_int(item, name, lo, hi, out, err) : -1;
}

int tm_data_real(const cJSON *data, const char *name, double *out, char **err)
{
    const cJSON *item = get(data, name, "real", err);
    if (item == NULL)
        return -1;
    if (!cJSON_IsNumber(item))
        return tm_fail(err, "Exception: %s must be a number", name);
    *out = item->valuedouble;
    return 0;
}

static int check_length(const cJSON *item, const char *name, size_t n, char **err)
{
    if (!cJSON_IsArray(item))
        return tm_fail(err, "Exception: %s must be an array", name);
    size_t found = (size_t)cJSON_GetArraySize(item);
    if (found != n)
        return tm_fail(err,
                       "Exception: mismatch in dimension declared and found in context; "
                       "processing stage=data initialization; variable name=%s; position=0; "
                       "dims declared=(%zu); dims found=(%zu)",
                       name, n, found);
    return 0;
}

int tm_data_reals(const cJSON *data, const char *name, size_t n, double *out, char **err)
{
    const cJSON *item = get(data, name, "real", err);
    if (item == NULL || check_length(item, name, n, err) != 0)
        return -1;
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, item)
    {
        if (!cJSON_IsNumber(v))
            return tm_fail(err, "Exception: %s[%zu] is not a number", name, i + 1);
        out[i++] = v->valuedouble;
    }
    return 0;
}

int tm_data_ints(const cJSON *data, const char *name, size_t n, long lo, long hi, int *out,
                 char **err)
{
    const cJSON *item = get(data, name, "int", err);
    if (item == NULL || check_length(item, name, n, err) != 0)
        return -1;
    size_t i = 0;
    const cJSON *v;
    char element[128];
    cJSON_ArrayForEach(v, item)
    {
        long value = 0;
        snprintf(element, sizeof element, "%s[%zu]", name, i + 1);
        if (as_int(v, element, lo, hi, &value, err) != 0)
            return -1;
        out[i++] = (int)value;
    }
    return 0;
}

int tm_data_matrix(const cJSON *data, const char *name, size_t rows, size_t cols, double *out,
                   char **err)
{
    const cJSON *item = get(data, name, "real", err);
    if (item == NULL || check_length(item, name, rows, err) != 0)
        return -1;
    size_t i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, item)
    {
        if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) != cols)
            return tm_fail(err,
                           "Exception: mismatch in dimension declared and found in context; "
                           "processing stage=data initialization; variable name=%s; "
                           "position=1; dims declared=(%zu,%zu); row %zu has %d elements",
                           name, rows, cols, i + 1,
                           cJSON_IsArray(row) ? cJSON_GetArraySize(row) : 0);
        size_t j = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, row)
        {
            if (!cJSON_IsNumber(v))
                return tm_fail(err, "Exception: %s[%zu,%zu] is not a number", name, i + 1, j + 1);
            out[i + j * rows] = v->valuedouble;
            j++;
        }
        i++;
    }
    return 0;
}

/* ---- Data argument: "" or NULL (none), a path ending in ".json", or a JSON string ---- */

static int read_file(const char *path, char **text, char **err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return tm_fail(err, "Could not open data file %s", path);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (cap - len - 1 == 0) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL)
        return tm_fail(err, "out of memory reading %s", path);
    buf[len] = '\0';
    *text = buf;
    return 0;
}

static int parse_data(const char *data, cJSON **out, char **err)
{
    *out = NULL;
    char *file_text = NULL;
    const char *json = data;
    size_t len = data ? strlen(data) : 0;
    if (len == 0) {
        *out = cJSON_CreateObject();
        return *out ? 0 : tm_fail(err, "out of memory");
    }
    if (len >= 5 && strcmp(data + len - 5, ".json") == 0) {
        if (read_file(data, &file_text, err) != 0)
            return -1;
        json = file_text;
    }
    cJSON *root = cJSON_Parse(json);
    free(file_text);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tm_fail(err, "Error in JSON parsing: the data is not a JSON object");
    }
    *out = root;
    return 0;
}

/* ---- The ABI ---- */

bs_model *bs_model_construct(const char *data, unsigned int seed, char **error_msg)
{
    (void)seed;
    bs_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        tm_fail(error_msg, "out of memory constructing %s", tm_model_name);
        return NULL;
    }
    cJSON *root = NULL;
    if (parse_data(data, &root, error_msg) != 0 || tm_construct(&m->tm, root, error_msg) != 0) {
        cJSON_Delete(root);
        bs_model_destruct(m);
        return NULL;
    }
    cJSON_Delete(root);
    const char *p = m->tm.param_names ? m->tm.param_names : "";
    const char *t = m->tm.tp_names ? m->tm.tp_names : "";
    size_t len = strlen(p) + strlen(t) + 2;
    m->tm.all_names = malloc(len);
    if (m->tm.all_names == NULL) {
        tm_fail(error_msg, "out of memory constructing %s", tm_model_name);
        bs_model_destruct(m);
        return NULL;
    }
    snprintf(m->tm.all_names, len, "%s%s%s", p, (p[0] && t[0]) ? "," : "", t);
    snprintf(m->info, sizeof m->info,
             "psample test model %s (hand-written C, BridgeStan C ABI)\n\tSTAN_THREADS=true\n",
             tm_model_name);
    return m;
}

void bs_model_destruct(bs_model *m)
{
    if (m == NULL)
        return;
    tm_destruct(&m->tm);
    free(m->tm.param_names);
    free(m->tm.tp_names);
    free(m->tm.unc_names);
    free(m->tm.all_names);
    free(m);
}

void bs_free_error_msg(char *error_msg)
{
    free(error_msg);
}

const char *bs_name(const bs_model *m)
{
    (void)m;
    return tm_model_name;
}

const char *bs_model_info(const bs_model *m)
{
    return m->info;
}

const char *bs_param_names(const bs_model *m, bool include_tp, bool include_gq)
{
    (void)include_gq;
    const char *s = include_tp ? m->tm.all_names : m->tm.param_names;
    return s ? s : "";
}

const char *bs_param_unc_names(const bs_model *m)
{
    return m->tm.unc_names ? m->tm.unc_names : "";
}

int bs_param_num(const bs_model *m, bool include_tp, bool include_gq)
{
    (void)include_gq;
    return (int)(m->tm.n_param + (include_tp ? m->tm.n_tp : 0));
}

int bs_param_unc_num(const bs_model *m)
{
    return (int)m->tm.n_unc;
}

int bs_param_constrain(const bs_model *m, bool include_tp, bool include_gq, const double *theta_unc,
                       double *theta, bs_rng *rng, char **error_msg)
{
    if (include_gq && rng == NULL)
        return tm_fail(error_msg, "include_gq=true but rng=nullptr");
    return tm_constrain(&m->tm, include_tp, theta_unc, theta, error_msg);
}

int bs_log_density(const bs_model *m, bool propto, bool jacobian, const double *theta_unc,
                   double *lp, char **error_msg)
{
    return tm_log_density(&m->tm, propto, jacobian, theta_unc, lp, NULL, error_msg);
}

#ifndef TM_OMIT_GRADIENT
int bs_log_density_gradient(const bs_model *m, bool propto, bool jacobian, const double *theta_unc,
                            double *lp, double *grad, char **error_msg)
{
    return tm_log_density(&m->tm, propto, jacobian, theta_unc, lp, grad, error_msg);
}
#endif
