/*
 * toml-decoder: the decoder interface of toml-test (github.com/toml-lang/toml-test).
 *
 * Reads a TOML document from standard input. When it is valid, writes it to standard
 * output as toml-test's tagged JSON (every value as {"type": T, "value": "text"}, tables
 * as objects, arrays as arrays) and exits 0; otherwise writes the error to standard error
 * and exits 1.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

/* Writes bytes as a JSON string literal; control characters and NUL as \u escapes. */
static void put_json_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\u%04x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

/* The shortest %g form that reads back as the same double. */
static void format_float(double x, char *out, size_t cap)
{
    if (isnan(x)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(out, cap, x < 0 ? "-inf" : "inf");
        return;
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(out, cap, "%.*g", digits, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

static void format_datetime(const ps_toml_value *v, char *out, size_t cap)
{
    const ps_toml_datetime *dt = &v->u.datetime;
    size_t n = 0;
    if (v->type != PS_TOML_TIME_LOCAL)
        n += (size_t)snprintf(out + n, cap - n, "%04d-%02d-%02d", dt->year, dt->month, dt->day);
    if (v->type == PS_TOML_DATE_LOCAL)
        return;
    if (v->type != PS_TOML_TIME_LOCAL)
        out[n++] = 'T';
    n += (size_t)snprintf(out + n, cap - n, "%02d:%02d:%02d", dt->hour, dt->minute, dt->second);
    if (dt->fraction[0] != '\0')
        n += (size_t)snprintf(out + n, cap - n, ".%s", dt->fraction);
    if (v->type != PS_TOML_DATETIME)
        return;
    if (dt->offset_minutes == 0) {
        snprintf(out + n, cap - n, "Z");
    } else {
        int m = dt->offset_minutes < 0 ? -dt->offset_minutes : dt->offset_minutes;
        snprintf(out + n, cap - n, "%c%02d:%02d", dt->offset_minutes < 0 ? '-' : '+', m / 60,
                 m % 60);
    }
}

static const char *tag_of(ps_toml_type type)
{
    switch (type) {
    case PS_TOML_STRING:
        return "string";
    case PS_TOML_INTEGER:
        return "integer";
    case PS_TOML_FLOAT:
        return "float";
    case PS_TOML_BOOL:
        return "bool";
    case PS_TOML_DATETIME:
        return "datetime";
    case PS_TOML_DATETIME_LOCAL:
        return "datetime-local";
    case PS_TOML_DATE_LOCAL:
        return "date-local";
    case PS_TOML_TIME_LOCAL:
        return "time-local";
    default:
        return "?";
    }
}

/* Recursion is bounded by the decoder's nesting limit (PS_TOML_MAX_DEPTH). */
static void put_value(FILE *out, const ps_toml_value *v)
{
    char text[128];
    switch (v->type) {
    case PS_TOML_TABLE:
        fputc('{', out);
        for (size_t i = 0; i < v->u.table.len; i++) {
            if (i > 0)
                fputc(',', out);
            put_json_string(out, v->u.table.items[i].key, v->u.table.items[i].key_len);
            fputc(':', out);
            put_value(out, v->u.table.items[i].value);
        }
        fputc('}', out);
        return;
    case PS_TOML_ARRAY:
        fputc('[', out);
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i > 0)
                fputc(',', out);
            put_value(out, v->u.array.items[i]);
        }
        fputc(']', out);
        return;
    case PS_TOML_STRING:
        fprintf(out, "{\"type\":\"string\",\"value\":");
        put_json_string(out, v->u.string.data, v->u.string.len);
        fputc('}', out);
        return;
    case PS_TOML_INTEGER:
        snprintf(text, sizeof text, "%" PRId64, v->u.integer);
        break;
    case PS_TOML_FLOAT:
        format_float(v->u.floating, text, sizeof text);
        break;
    case PS_TOML_BOOL:
        snprintf(text, sizeof text, "%s", v->u.boolean ? "true" : "false");
        break;
    default:
        format_datetime(v, text, sizeof text);
        break;
    }
    fprintf(out, "{\"type\":\"%s\",\"value\":\"%s\"}", tag_of(v->type), text);
}

int main(void)
{
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    if (text == NULL)
        return 2;
    for (;;) {
        if (len == cap) {
            char *grown = realloc(text, cap * 2);
            if (grown == NULL) {
                free(text);
                fputs("toml-decoder: out of memory reading standard input\n", stderr);
                return 2;
            }
            text = grown;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - len, stdin);
        if (got == 0)
            break;
        len += got;
    }
    ps_toml_value *root = NULL;
    ps_status status = ps_toml_parse("<stdin>", text, len, &root);
    if (status != PS_OK) {
        fprintf(stderr, "%s\n", ps_error_message());
        free(text);
        return 1;
    }
    put_value(stdout, root);
    fputc('\n', stdout);
    ps_toml_destroy(&root);
    free(text);
    return fflush(stdout) == 0 ? 0 : 2;
}
