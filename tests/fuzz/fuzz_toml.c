/*
 * libFuzzer harness for the TOML decoder (src/config/toml*.c).
 *
 * Besides "no crash, no leak, no undefined behaviour" (ASan and UBSan are on), every input
 * is checked against these invariants; a violation aborts with a message:
 *   1. A failed parse returns PS_ERR_CONFIG with no tree and a located message naming the
 *      file ("fuzz.toml:LINE:COL: error: ...").
 *   2. A tree's nodes lie inside the input, strings end with a NUL at their length, dates
 *      and times are in range, the nesting is at most PS_TOML_MAX_DEPTH, and the keys of
 *      a table are distinct and each is found again by lookup (ps_toml_get_kv when the key
 *      has no NUL byte, ps_toml_get for the same value).
 *   3. Writing the tree back as TOML (inline form) and parsing that gives an equal tree.
 *   4. Making one allocation of the parse fail (chosen from the input) gives PS_ERR_MEM and
 *      no tree.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *PATH = "fuzz.toml";

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_toml: invariant violated: " __VA_ARGS__);                        \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

static void check_tree(const ps_toml_value *v, size_t size, int depth)
{
    REQUIRE(depth <= PS_TOML_MAX_DEPTH + 1, "nesting %d", depth);
    REQUIRE(v->offset <= size, "offset %zu beyond input of %zu bytes", v->offset, size);
    switch (v->type) {
    case PS_TOML_STRING:
        REQUIRE(v->u.string.data != NULL && v->u.string.data[v->u.string.len] == '\0',
                "string not NUL-terminated");
        break;
    case PS_TOML_DATETIME:
    case PS_TOML_DATETIME_LOCAL:
    case PS_TOML_DATE_LOCAL:
    case PS_TOML_TIME_LOCAL: {
        const ps_toml_datetime *dt = &v->u.datetime;
        if (v->type != PS_TOML_TIME_LOCAL)
            REQUIRE(dt->year >= 0 && dt->year <= 9999 && dt->month >= 1 && dt->month <= 12 &&
                        dt->day >= 1 && dt->day <= days_in_month(dt->year, dt->month),
                    "date out of range");
        if (v->type != PS_TOML_DATE_LOCAL)
            REQUIRE(dt->hour >= 0 && dt->hour <= 23 && dt->minute >= 0 && dt->minute <= 59 &&
                        dt->second >= 0 && dt->second <= 60,
                    "time out of range");
        REQUIRE(strlen(dt->fraction) < sizeof dt->fraction, "fraction");
        REQUIRE(dt->has_offset == (v->type == PS_TOML_DATETIME), "offset flag");
        REQUIRE(dt->offset_minutes > -24 * 60 && dt->offset_minutes < 24 * 60, "offset range");
        break;
    }
    case PS_TOML_ARRAY:
        for (size_t i = 0; i < v->u.array.len; i++)
            check_tree(v->u.array.items[i], size, depth + 1);
        break;
    case PS_TOML_TABLE:
        for (size_t i = 0; i < v->u.table.len; i++) {
            const ps_toml_kv *kv = &v->u.table.items[i];
            REQUIRE(kv->key != NULL && kv->key[kv->key_len] == '\0', "key not NUL-terminated");
            REQUIRE(kv->key_offset <= size, "key offset beyond the input");
            if (strlen(kv->key) == kv->key_len) {
                REQUIRE(ps_toml_get_kv(v, kv->key) == kv, "key '%s' not found again", kv->key);
                REQUIRE(ps_toml_get(v, kv->key) == kv->value, "value of '%s' not found again",
                        kv->key);
            }
            /* Keys are distinct (checked pairwise only for small tables to stay fast). */
            if (v->u.table.len <= 64)
                for (size_t j = 0; j < i; j++)
                    REQUIRE(v->u.table.items[j].key_len != kv->key_len ||
                                memcmp(v->u.table.items[j].key, kv->key, kv->key_len) != 0,
                            "duplicate key in a table");
            check_tree(kv->value, size, depth + 1);
        }
        break;
    default:
        break;
    }
}

/* Writes a value as TOML; tables become inline tables. */
static void emit_string(ps_strbuf *out, const char *s, size_t len)
{
    ps_strbuf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            ps_strbuf_putc(out, '\\');
            ps_strbuf_putc(out, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            ps_strbuf_printf(out, "\\u%04X", c);
        } else {
            ps_strbuf_putc(out, (char)c);
        }
    }
    ps_strbuf_putc(out, '"');
}

static void emit_value(ps_strbuf *out, const ps_toml_value *v)
{
    const ps_toml_datetime *dt = &v->u.datetime;
    switch (v->type) {
    case PS_TOML_STRING:
        emit_string(out, v->u.string.data, v->u.string.len);
        return;
    case PS_TOML_INTEGER:
        ps_strbuf_printf(out, "%" PRId64, v->u.integer);
        return;
    case PS_TOML_FLOAT: {
        double x = v->u.floating;
        char text[64];
        if (isnan(x))
            snprintf(text, sizeof text, "nan");
        else if (isinf(x))
            snprintf(text, sizeof text, "%s", x < 0 ? "-inf" : "inf");
        else {
            snprintf(text, sizeof text, "%.17g", x);
            if (strpbrk(text, ".e") == NULL)
                strcat(text, ".0");
        }
        ps_strbuf_puts(out, text);
        return;
    }
    case PS_TOML_BOOL:
        ps_strbuf_puts(out, v->u.boolean ? "true" : "false");
        return;
    case PS_TOML_DATETIME:
    case PS_TOML_DATETIME_LOCAL:
    case PS_TOML_DATE_LOCAL:
    case PS_TOML_TIME_LOCAL:
        if (v->type != PS_TOML_TIME_LOCAL)
            ps_strbuf_printf(out, "%04d-%02d-%02d", dt->year, dt->month, dt->day);
        if (v->type == PS_TOML_DATE_LOCAL)
            return;
        if (v->type != PS_TOML_TIME_LOCAL)
            ps_strbuf_putc(out, 'T');
        ps_strbuf_printf(out, "%02d:%02d:%02d", dt->hour, dt->minute, dt->second);
        if (dt->fraction[0] != '\0')
            ps_strbuf_printf(out, ".%s", dt->fraction);
        if (v->type == PS_TOML_DATETIME) {
            int m = dt->offset_minutes < 0 ? -dt->offset_minutes : dt->offset_minutes;
            ps_strbuf_printf(out, "%c%02d:%02d", dt->offset_minutes < 0 ? '-' : '+', m / 60,
                             m % 60);
        }
        return;
    case PS_TOML_ARRAY:
        ps_strbuf_putc(out, '[');
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i > 0)
                ps_strbuf_puts(out, ", ");
            emit_value(out, v->u.array.items[i]);
        }
        ps_strbuf_putc(out, ']');
        return;
    case PS_TOML_TABLE:
        ps_strbuf_putc(out, '{');
        for (size_t i = 0; i < v->u.table.len; i++) {
            if (i > 0)
                ps_strbuf_puts(out, ", ");
            emit_string(out, v->u.table.items[i].key, v->u.table.items[i].key_len);
            ps_strbuf_puts(out, " = ");
            emit_value(out, v->u.table.items[i].value);
        }
        ps_strbuf_putc(out, '}');
        return;
    }
}

static bool equal(const ps_toml_value *a, const ps_toml_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case PS_TOML_STRING:
        return a->u.string.len == b->u.string.len &&
               memcmp(a->u.string.data, b->u.string.data, a->u.string.len) == 0;
    case PS_TOML_INTEGER:
        return a->u.integer == b->u.integer;
    case PS_TOML_FLOAT:
        if (isnan(a->u.floating))
            return isnan(b->u.floating);
        return a->u.floating == b->u.floating && signbit(a->u.floating) == signbit(b->u.floating);
    case PS_TOML_BOOL:
        return a->u.boolean == b->u.boolean;
    case PS_TOML_ARRAY:
        if (a->u.array.len != b->u.array.len)
            return false;
        for (size_t i = 0; i < a->u.array.len; i++)
            if (!equal(a->u.array.items[i], b->u.array.items[i]))
                return false;
        return true;
    case PS_TOML_TABLE:
        if (a->u.table.len != b->u.table.len)
            return false;
        for (size_t i = 0; i < a->u.table.len; i++) {
            const ps_toml_kv *x = &a->u.table.items[i], *y = &b->u.table.items[i];
            if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0 ||
                !equal(x->value, y->value))
                return false;
        }
        return true;
    default: {
        const ps_toml_datetime *x = &a->u.datetime, *y = &b->u.datetime;
        return x->year == y->year && x->month == y->month && x->day == y->day &&
               x->hour == y->hour && x->minute == y->minute && x->second == y->second &&
               strcmp(x->fraction, y->fraction) == 0 && x->has_offset == y->has_offset &&
               x->offset_minutes == y->offset_minutes;
    }
    }
}

static void round_trip(const ps_toml_value *root)
{
    ps_strbuf out;
    ps_strbuf_init(&out);
    for (size_t i = 0; i < root->u.table.len; i++) {
        emit_string(&out, root->u.table.items[i].key, root->u.table.items[i].key_len);
        ps_strbuf_puts(&out, " = ");
        emit_value(&out, root->u.table.items[i].value);
        ps_strbuf_putc(&out, '\n');
    }
    REQUIRE(!out.failed, "out of memory writing the tree back");
    ps_toml_value *again = NULL;
    ps_status status = ps_toml_parse("round-trip.toml", out.data ? out.data : "", out.len, &again);
    REQUIRE(status == PS_OK, "the tree written back does not parse: %s\n--- text:\n%s",
            ps_error_message(), ps_strbuf_str(&out));
    REQUIRE(equal(root, again), "the tree written back parses differently:\n%s",
            ps_strbuf_str(&out));
    ps_toml_destroy(&again);
    ps_strbuf_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    ps_error_clear();
    ps_fault_alloc_after(0);
    long before = ps_fault_alloc_count();
    ps_toml_value *root = NULL;
    ps_status status = ps_toml_parse(PATH, text, size, &root);
    long allocations = ps_fault_alloc_count() - before;
    bool valid = status == PS_OK;
    if (status != PS_OK) {
        REQUIRE(status == PS_ERR_CONFIG, "status %d for a failed parse", (int)status);
        REQUIRE(root == NULL, "a tree after a failed parse");
        REQUIRE(strncmp(ps_error_message(), "fuzz.toml:", 10) == 0 &&
                    strstr(ps_error_message(), ": error: ") != NULL,
                "message not located: %s", ps_error_message());
        ps_error_clear();
    } else {
        REQUIRE(root != NULL && root->type == PS_TOML_TABLE, "no root table");
        check_tree(root, size, 0);
        round_trip(root);
        ps_toml_destroy(&root);
    }
    /* One allocation fails: the parse must report it, whatever the input. */
    if (allocations > 0) {
        uint64_t h = 1469598103934665603u;
        for (size_t i = 0; i < size; i++)
            h = (h ^ data[i]) * 1099511628211u;
        long k = 1 + (long)(h % (uint64_t)allocations);
        ps_error_clear();
        ps_fault_alloc_after(k);
        status = ps_toml_parse(PATH, text, size, &root);
        ps_fault_alloc_after(0);
        /* An invalid input also allocates while formatting its message; a failure there
         * keeps the configuration error (with a shorter message). */
        bool expected = status == PS_ERR_MEM || (!valid && status == PS_ERR_CONFIG);
        REQUIRE(expected && root == NULL,
                "allocation %ld of %ld failed but the parse gave status %d", k, allocations,
                (int)status);
        ps_error_clear();
    }
    return 0;
}
