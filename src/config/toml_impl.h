/*
 * Private to the TOML decoder (toml.c, toml_parse.c): building the value tree, the hash
 * index of large tables, and the flags that record how each table was defined, which the
 * redefinition rules of TOML 1.0.0 need.
 *
 * All functions are local. None of them records an error message: they return NULL or
 * false on allocation failure and the caller reports it with the position it knows.
 */
#ifndef PS_CONFIG_TOML_IMPL_H
#define PS_CONFIG_TOML_IMPL_H

#include "config/toml.h"

/* How a table came to exist (ps_toml_value.u.table.flags). Exactly one of the first four
 * origin flags is set; PS_TOML_TABLE_FROZEN may be added to an inline table. */
enum {
    /* Created as a prefix of a [header] ([a] when [a.b] is written) and not defined yet:
     * a later [a] header defines it, and dotted keys may add to it. */
    PS_TOML_TABLE_IMPLICIT = 1u << 0,
    /* Defined by its own [header] (or the root table): never defined again. */
    PS_TOML_TABLE_HEADER = 1u << 1,
    /* Defined by dotted keys (a.b = 1 defines a): headers may only add sub-tables. */
    PS_TOML_TABLE_DOTTED = 1u << 2,
    /* An inline table { ... }, or a table created by dotted keys inside one. */
    PS_TOML_TABLE_INLINE = 1u << 3,
    /* A closed inline table: nothing may be added to it or below it. */
    PS_TOML_TABLE_FROZEN = 1u << 4,
    /* One element of an array of tables [[a]]; such an array holds only these. */
    PS_TOML_TABLE_AOT_ELEMENT = 1u << 5
};

/* Allocates a zeroed value of the given type at a byte offset; NULL when out of memory. */
ps_toml_value *ps_toml_value_new(ps_toml_type type, size_t offset);

/* Frees a value and everything below it; accepts NULL. Recursion depth is bounded by the
 * decoder's nesting limit. */
void ps_toml_value_free(ps_toml_value *value);

/* Finds the entry of key (key_len bytes, may contain NUL) in a table; NULL when absent.
 * Uses the hash index once the table is large, so lookups stay O(1). */
ps_toml_kv *ps_toml_table_find(const ps_toml_value *table, const char *key, size_t key_len);

/* Appends an entry; the table takes ownership of key (allocated with ps_malloc, NUL
 * terminated) and value only when true is returned. The caller has checked that the key
 * is absent. False when out of memory, with the table unchanged. */
bool ps_toml_table_append(ps_toml_value *table, char *key, size_t key_len, size_t key_offset,
                          ps_toml_value *value);

/* Appends an item to an array, which takes ownership of it only when true is returned. */
bool ps_toml_array_append(ps_toml_value *array, ps_toml_value *item);

/* True when an array was made by [[header]]s (its items are array-of-tables elements)
 * rather than written as a value. */
bool ps_toml_array_is_aot(const ps_toml_value *array);

#endif
