/*
 * TOML 1.0.0 decoder (https://toml.io/en/v1.0.0).
 *
 * ps_toml_parse() turns a document into a tree of ps_toml_value nodes. Tables keep their
 * keys in document order. Every node and key remembers the byte offset where it was
 * written, so the configuration schema can point at the offending text with
 * ps_error_at_offset(). Invalid documents get a compiler-style message naming the file,
 * line and column, the offending line, and a caret.
 *
 * The decoder accepts exactly TOML 1.0.0: all value types, inline tables, arrays of
 * tables, dotted keys, and every rule against redefinition. Nesting deeper than
 * PS_TOML_MAX_DEPTH levels is rejected, where every array, inline table and table (named
 * by a header or a dotted key) is one level below its parent: `a = [[...]]` at the root
 * may hold 128 nested arrays. Code walking a tree may therefore recurse.
 *
 * All functions are local.
 */
#ifndef PS_CONFIG_TOML_H
#define PS_CONFIG_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define PS_TOML_MAX_DEPTH 128

typedef enum ps_toml_type {
    PS_TOML_STRING,
    PS_TOML_INTEGER,
    PS_TOML_FLOAT,
    PS_TOML_BOOL,
    PS_TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
    PS_TOML_DATETIME_LOCAL, /* local date-time:  1979-05-27T07:32:00 */
    PS_TOML_DATE_LOCAL,     /* local date:       1979-05-27 */
    PS_TOML_TIME_LOCAL,     /* local time:       07:32:00 */
    PS_TOML_ARRAY,
    PS_TOML_TABLE
} ps_toml_type;

typedef struct ps_toml_value ps_toml_value;

/* A date, time, or both, as written (validated: month/day ranges incl. leap years,
 * hour < 24, minute < 60, second <= 60 for leap seconds as RFC 3339 allows). */
typedef struct ps_toml_datetime {
    int year, month, day;     /* when the type has a date */
    int hour, minute, second; /* when the type has a time */
    char fraction[32];        /* digits after the decimal point of seconds, or "" */
    bool has_offset;          /* PS_TOML_DATETIME only */
    int offset_minutes;       /* UTC offset; 0 for "Z" */
} ps_toml_datetime;

typedef struct ps_toml_kv {
    char *key; /* may contain NUL bytes (quoted keys with \u0000) */
    size_t key_len;
    size_t key_offset; /* byte offset of the key where it was (first) written */
    ps_toml_value *value;
} ps_toml_kv;

struct ps_toml_value {
    ps_toml_type type;
    size_t offset; /* byte offset of the value (of the header for [tables]) */
    union {
        struct {
            char *data; /* NUL-terminated; may also contain NUL bytes */
            size_t len;
        } string;
        int64_t integer;
        double floating;
        bool boolean;
        ps_toml_datetime datetime;
        struct {
            ps_toml_value **items;
            size_t len, cap;
        } array;
        struct {
            ps_toml_kv *items; /* in document order */
            size_t len, cap;
            void *index;    /* private lookup index of the decoder */
            unsigned flags; /* private: how the table was defined */
        } table;
    } u;
};

/* Parses text (len bytes; it need not be NUL-terminated) into *root, a table. path names
 * the file in error messages. On error *root is NULL and a located message is recorded
 * (status PS_ERR_CONFIG), or PS_ERR_MEM. */
ps_status ps_toml_parse(const char *path, const char *text, size_t len, ps_toml_value **root);

/* Frees a tree; accepts NULL; sets *root to NULL. */
void ps_toml_destroy(ps_toml_value **root);

/* Looks up a key (NUL-terminated) in a table; NULL when absent. */
const ps_toml_value *ps_toml_get(const ps_toml_value *table, const char *key);

/* Looks up a key and returns its entry (for the key's offset); NULL when absent. */
const ps_toml_kv *ps_toml_get_kv(const ps_toml_value *table, const char *key);

/* "string", "integer", "float", "boolean", "offset date-time", ..., "array", "table". */
const char *ps_toml_type_name(ps_toml_type type);

#endif
