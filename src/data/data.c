/* The data object: variables, lookup by name, and messages about values. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "data/data_impl.h"

ps_status ps_data_new(const char *path, ps_data_format format, ps_data **out)
{
    *out = NULL;
    ps_data *d = ps_calloc(1, sizeof *d);
    if (d == NULL)
        return ps_error(PS_ERR_MEM, "out of memory reading data");
    d->format = format;
    d->path = ps_strdup(path != NULL ? path : "<data>");
    if (d->path == NULL) {
        ps_free(d);
        return ps_error(PS_ERR_MEM, "out of memory reading data");
    }
    *out = d;
    return PS_OK;
}

ps_status ps_data_create_empty(ps_data **out)
{
    PS_CHECK(ps_data_new("", PS_DATA_NONE, out));
    return PS_OK;
}

void ps_data_var_free(ps_data_var *var)
{
    ps_free((void *)var->name);
    ps_free((void *)var->ints);
    ps_free((void *)var->reals);
    var->name = NULL;
    var->ints = NULL;
    var->reals = NULL;
}

void ps_data_destroy(ps_data **d)
{
    if (d == NULL || *d == NULL)
        return;
    ps_data *data = *d;
    for (size_t i = 0; i < data->n_vars; i++)
        ps_data_var_free(&data->vars[i]);
    ps_free(data->vars);
    ps_free(data->key_offsets);
    ps_free(data->slots);
    ps_free(data->text);
    ps_free(data->path);
    ps_free(data);
    *d = NULL;
}

/* FNV-1a: names are short, and a hash table keeps files with very many keys linear. */
static size_t name_hash(const char *name, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211u;
    return (size_t)(h ^ (h >> 29));
}

size_t ps_data_lookup(const ps_data *d, const char *name, size_t len)
{
    if (d->n_slots == 0)
        return (size_t)-1;
    size_t mask = d->n_slots - 1;
    for (size_t s = name_hash(name, len) & mask;; s = (s + 1) & mask) {
        size_t slot = d->slots[s];
        if (slot == 0)
            return (size_t)-1;
        const char *other = d->vars[slot - 1].name;
        if (strlen(other) == len && memcmp(other, name, len) == 0)
            return slot - 1;
    }
}

static void slot_insert(size_t *slots, size_t n_slots, const ps_data_var *vars, size_t index)
{
    const char *name = vars[index].name;
    size_t mask = n_slots - 1;
    size_t s = name_hash(name, strlen(name)) & mask;
    while (slots[s] != 0)
        s = (s + 1) & mask;
    slots[s] = index + 1;
}

ps_status ps_data_append(ps_data *d, ps_data_var *var, size_t key_offset)
{
    if (d->n_vars == d->cap_vars) {
        size_t cap = d->cap_vars == 0 ? 8 : 2 * d->cap_vars;
        PS_CHECK(ps_realloc_array(&d->vars, cap, sizeof *d->vars, "data variables"));
        PS_CHECK(ps_realloc_array(&d->key_offsets, cap, sizeof *d->key_offsets, "data keys"));
        d->cap_vars = cap;
    }
    /* Keep the table at most half full, so probes stay short. */
    if (2 * (d->n_vars + 1) > d->n_slots) {
        size_t n_slots = d->n_slots == 0 ? 16 : 2 * d->n_slots;
        size_t *slots = NULL;
        PS_CHECK(ps_alloc_array(&slots, n_slots, sizeof *slots, "the data name table"));
        for (size_t i = 0; i < d->n_vars; i++)
            slot_insert(slots, n_slots, d->vars, i);
        ps_free(d->slots);
        d->slots = slots;
        d->n_slots = n_slots;
    }
    d->vars[d->n_vars] = *var;
    d->key_offsets[d->n_vars] = key_offset;
    slot_insert(d->slots, d->n_slots, d->vars, d->n_vars);
    d->n_vars++;
    memset(var, 0, sizeof *var);
    return PS_OK;
}

bool ps_data_is_identifier(const char *name, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        if (!(letter || (i > 0 && (digit || c == '_'))))
            return false;
    }
    return true;
}

bool ps_data_dims_product(const size_t *dims, int n, size_t *size)
{
    size_t p = 1;
    for (int i = 0; i < n; i++)
        if (!ps_size_mul(p, dims[i], &p))
            return false;
    *size = p;
    return true;
}

size_t ps_data_count(const ps_data *d)
{
    return d != NULL ? d->n_vars : 0;
}

const ps_data_var *ps_data_at(const ps_data *d, size_t i)
{
    return d != NULL && i < d->n_vars ? &d->vars[i] : NULL;
}

const ps_data_var *ps_data_find(const ps_data *d, const char *name)
{
    if (d == NULL || name == NULL)
        return NULL;
    size_t i = ps_data_lookup(d, name, strlen(name));
    return i == (size_t)-1 ? NULL : &d->vars[i];
}

const char *ps_data_path(const ps_data *d)
{
    return d->path;
}

ps_data_format ps_data_format_of(const ps_data *d)
{
    return d->format;
}

const char *ps_data_text(const ps_data *d, size_t *len)
{
    if (len != NULL)
        *len = d->format == PS_DATA_JSON ? d->text_len : 0;
    return d->format == PS_DATA_JSON ? d->text : NULL;
}

char *ps_data_index_text(const ps_data_var *v, size_t index, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    int n = snprintf(buf, cap, "%s", v->name);
    if (index == PS_DATA_WHOLE || v->ndim == 0 || index >= v->size || n < 0 || (size_t)n >= cap)
        return buf;
    size_t idx[PS_DATA_MAX_DIMS] = {0};
    size_t rest = index;
    for (int k = v->ndim - 1; k >= 0; k--) {
        idx[k] = rest % v->dims[k];
        rest /= v->dims[k];
    }
    size_t used = (size_t)n;
    for (int k = 0; k < v->ndim && used < cap; k++) {
        n = snprintf(buf + used, cap - used, "%s%zu", k == 0 ? "[" : ", ", idx[k] + 1);
        if (n < 0)
            return buf;
        used += (size_t)n;
    }
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
    return buf;
}

size_t ps_data_element_offset(const ps_data *d, const ps_data_var *v, size_t index)
{
    if (d->format != PS_DATA_JSON || index == PS_DATA_WHOLE || index >= v->size)
        return v->offset;
    return ps_data_json_element_offset(d, v, index);
}

static ps_status error_v(const ps_data *d, const ps_data_var *v, size_t index, ps_status status,
                         const char *fmt, va_list ap)
{
    if (d->format != PS_DATA_JSON) {
        char message[1024];
        vsnprintf(message, sizeof message, fmt, ap);
        return ps_error(status, "%s: %s", d->path, message);
    }
    size_t offset = ps_data_element_offset(d, v, index);
    size_t line, col;
    ps_text_position(d->text, d->text_len, offset, &line, &col);
    char message[1024];
    vsnprintf(message, sizeof message, fmt, ap);
    return ps_error_at(status, d->path, d->text, d->text_len, line, col, "%s", message);
}

ps_status ps_data_error(const ps_data *d, const ps_data_var *v, size_t index, ps_status status,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_v(d, v, index, status, fmt, ap);
    va_end(ap);
    return status;
}

/* The text of the JSON token at offset (a number, a bare word or a string), for messages;
 * long tokens are cut to fit. */
static void token_text(const ps_data *d, size_t offset, char *buf, size_t cap)
{
    const char *t = d->text + offset;
    size_t avail = d->text_len - offset, n = 0;
    if (avail > 0 && t[0] == '"') {
        n = 1;
        while (n < avail && t[n] != '"') {
            if (t[n] == '\\' && n + 1 < avail)
                n++;
            n++;
        }
        if (n < avail)
            n++;
    } else {
        while (n < avail && (strchr("+-.eE", t[n]) != NULL || (t[n] >= '0' && t[n] <= '9') ||
                             (t[n] >= 'a' && t[n] <= 'z') || (t[n] >= 'A' && t[n] <= 'Z')))
            n++;
    }
    if (n + 1 > cap)
        snprintf(buf, cap, "%.*s...", (int)(cap > 4 ? cap - 4 : 0), t);
    else
        snprintf(buf, cap, "%.*s", (int)n, t);
}

ps_status ps_data_require_int(const ps_data *d, const ps_data_var *v)
{
    if (v->type == PS_DATA_INT)
        return PS_OK;
    char where[256], value[48];
    ps_data_index_text(v, v->first_non_int, where, sizeof where);
    if (d->format == PS_DATA_JSON) {
        token_text(d, ps_data_element_offset(d, v, v->first_non_int), value, sizeof value);
    } else {
        double x = v->reals[v->first_non_int];
        if (v->int_out_of_range)
            snprintf(value, sizeof value, "%.0f", x);
        else
            snprintf(value, sizeof value, "%.17g", x);
    }
    if (v->int_out_of_range)
        return ps_data_error(d, v, v->first_non_int, PS_ERR_DATA,
                             "'%s' must hold ints, but %s is %s, outside Stan's int range "
                             "[%d, %d]",
                             v->name, where, value, PS_DATA_INT_MIN, PS_DATA_INT_MAX);
    if (d->format == PS_DATA_HDF5)
        return ps_data_error(d, v, v->first_non_int, PS_ERR_DATA,
                             "'%s' must hold ints, but dataset '%s' has a floating-point type "
                             "(store ints in an integer dataset)",
                             v->name, v->name);
    bool decimal = value[0] != '"' && strpbrk(value, ".eE") != NULL && strchr(value, 'I') == NULL;
    return ps_data_error(d, v, v->first_non_int, PS_ERR_DATA,
                         "'%s' must hold ints, but %s is %s, a real%s", v->name, where, value,
                         decimal ? " (an int is written without decimal point or exponent)" : "");
}

/* The HDF5 file signature (HDF5 File Format Specification, Section II.A: the superblock
 * starts at 0 or at 512, 1024, 2048, ... bytes when the file has a user block). */
static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static ps_status sniff_hdf5(const char *path, bool *is_hdf5)
{
    *is_hdf5 = false;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return PS_OK; /* ps_file_read reports the reason */
    long where = 0;
    for (;;) {
        unsigned char head[8];
        if (fseek(f, where, SEEK_SET) != 0 || fread(head, 1, sizeof head, f) != sizeof head)
            break;
        if (memcmp(head, hdf5_signature, sizeof head) == 0) {
            *is_hdf5 = true;
            break;
        }
        if (where > (1L << 40))
            break;
        where = where == 0 ? 512 : 2 * where;
    }
    fclose(f);
    return PS_OK;
}

ps_status ps_data_read_file(const char *path, ps_data **out)
{
    *out = NULL;
    if (ps_fault_point("data_read"))
        return ps_error(PS_ERR_DATA, "%s: injected data fault (PSAMPLE_FAULT=data_read)", path);
    bool is_hdf5 = false;
    PS_CHECK(sniff_hdf5(path, &is_hdf5));
    if (is_hdf5)
        return ps_data_read_hdf5(path, out);
    char *text = NULL;
    size_t len = 0;
    PS_CHECK(ps_file_read(path, &text, &len));
    return ps_data_read_json_owned(path, text, len, out);
}
