/*
 * Private to src/data: the layout of ps_data and the helpers the two readers share.
 */
#ifndef PS_DATA_IMPL_H
#define PS_DATA_IMPL_H

#include "data/data.h"

struct ps_data {
    char *path;
    ps_data_format format;
    char *text; /* JSON only: the text, NUL-terminated */
    size_t text_len;
    ps_data_var *vars;   /* names and values are owned here (the const is for users) */
    size_t *key_offsets; /* JSON: where each variable's key starts (duplicate messages) */
    size_t n_vars;
    size_t cap_vars;
    size_t *slots;  /* open-addressing hash of names: variable index + 1, 0 = empty */
    size_t n_slots; /* a power of two, at least twice n_vars */
};

/* Allocates empty data of that format; path is copied (NULL is stored as "<data>").
 * Errors: PS_ERR_MEM. */
ps_status ps_data_new(const char *path, ps_data_format format, ps_data **out);

/* The index of the variable named name[0..len) (which may hold NUL bytes), or (size_t)-1. */
size_t ps_data_lookup(const ps_data *d, const char *name, size_t len);

/* Appends *var; on success the data own its name and values, and *var is zeroed. On failure
 * (PS_ERR_MEM) the caller still owns them. The name must not be present yet. */
ps_status ps_data_append(ps_data *d, ps_data_var *var, size_t key_offset);

/* Frees a variable's name and values (for a variable not appended). */
void ps_data_var_free(ps_data_var *var);

/* True when name[0..len) is a Stan identifier: an ASCII letter, then letters, digits and
 * underscores (the rule CmdStan's JSON reader applies to keys). */
bool ps_data_is_identifier(const char *name, size_t len);

/* The product of n extents in *size; false on overflow. */
bool ps_data_dims_product(const size_t *dims, int n, size_t *size);

/* Parses JSON text that the call takes over (NUL-terminated at len; freed on failure). */
ps_status ps_data_read_json_owned(const char *path, char *text, size_t len, ps_data **out);

/* The JSON reader's rescan for ps_data_element_offset (json.c). */
size_t ps_data_json_element_offset(const ps_data *d, const ps_data_var *v, size_t index);

#endif
