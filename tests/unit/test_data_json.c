/*
 * The Stan JSON data reader (src/data/json.c): values, shapes, types, every error with its
 * exact message and position, the helpers for the model's checker, and allocation
 * failures.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "testlib.h"

static const char *PATH = "t.json";

static ps_data *parse_n(const char *text, size_t len)
{
    ps_error_clear();
    ps_data *d = NULL;
    ps_status status = ps_data_read_json(PATH, text, len, &d);
    CHECK(status == PS_OK && d != NULL, "parsing %s: expected success, got status %d: %s", text,
          (int)status, ps_error_message());
    return status == PS_OK ? d : NULL;
}

static ps_data *parse(const char *text)
{
    return parse_n(text, strlen(text));
}

/* The first line of the recorded message. */
static const char *first_line(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", ps_error_message());
    char *nl = strchr(buf, '\n');
    if (nl != NULL)
        *nl = '\0';
    return buf;
}

/* Parsing fails with PS_ERR_DATA, no data, and exactly this first line of the message. */
static void fails_n(const char *text, size_t len, const char *want)
{
    ps_error_clear();
    ps_data *d = (ps_data *)(uintptr_t)1;
    ps_status status = ps_data_read_json(PATH, text, len, &d);
    char line[4096];
    first_line(line, sizeof line);
    CHECK(status == PS_ERR_DATA, "parsing %s: expected status %d, got %d (%s)", text,
          (int)PS_ERR_DATA, (int)status, line);
    CHECK(d == NULL, "parsing %s: expected no data after a failure", text);
    CHECK(strcmp(line, want) == 0, "parsing %s:\n  expected message: %s\n  got:              %s",
          text, want, line);
    ps_data_destroy(&d);
    ps_error_clear();
}

static void fails(const char *text, const char *want)
{
    fails_n(text, strlen(text), want);
}

static const ps_data_var *var(const ps_data *d, const char *name)
{
    const ps_data_var *v = d ? ps_data_find(d, name) : NULL;
    CHECK(v != NULL, "variable '%s' not found", name);
    return v;
}

static void check_shape(const ps_data_var *v, ps_data_type type, int ndim, const size_t *dims,
                        size_t size)
{
    if (v == NULL)
        return;
    CHECK(v->type == type, "'%s': type %d, expected %d", v->name, (int)v->type, (int)type);
    CHECK(v->ndim == ndim, "'%s': ndim %d, expected %d", v->name, v->ndim, ndim);
    for (int k = 0; k < ndim && k < v->ndim; k++)
        CHECK(v->dims[k] == dims[k], "'%s': dims[%d] is %zu, expected %zu", v->name, k, v->dims[k],
              dims[k]);
    CHECK(v->size == size, "'%s': size %zu, expected %zu", v->name, v->size, size);
    CHECK((type == PS_DATA_INT) == (v->ints != NULL) &&
              (type == PS_DATA_REAL) == (v->reals != NULL),
          "'%s': exactly the array of its type must be set", v->name);
}

static void check_ints(const ps_data_var *v, const int64_t *want, size_t n)
{
    if (v == NULL || v->type != PS_DATA_INT || v->size != n)
        return;
    for (size_t i = 0; i < n; i++)
        CHECK(v->ints[i] == want[i], "'%s'[%zu] is %lld, expected %lld", v->name, i,
              (long long)v->ints[i], (long long)want[i]);
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---------------------------------------------------------------------------------------
 * Values and shapes
 * ------------------------------------------------------------------------------------- */

static void test_scalars_and_vectors(void)
{
    ps_data *d = parse("{ \"N\" : 10, \"y\" : [0,1,0,0,0,0,0,0,0,1], \"x\": 2.385, \"z\": [1, 2.5],"
                       " \"neg\": -7, \"zero\": -0, \"negzero\": -0.0 }");
    CHECK(ps_data_count(d) == 7, "count %zu, expected 7", ps_data_count(d));
    const ps_data_var *v = var(d, "N");
    check_shape(v, PS_DATA_INT, 0, NULL, 1);
    check_ints(v, (int64_t[]){10}, 1);
    v = var(d, "y");
    check_shape(v, PS_DATA_INT, 1, (size_t[]){10}, 10);
    check_ints(v, (int64_t[]){0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, 10);
    v = var(d, "x");
    check_shape(v, PS_DATA_REAL, 0, NULL, 1);
    if (v && v->reals)
        CHECK(v->reals[0] == 2.385, "x is %.17g, expected 2.385", v->reals[0]);
    v = var(d, "z");
    check_shape(v, PS_DATA_REAL, 1, (size_t[]){2}, 2);
    if (v && v->reals) {
        CHECK(v->reals[0] == 1.0 && v->reals[1] == 2.5, "z is [%g, %g], expected [1, 2.5]",
              v->reals[0], v->reals[1]);
        CHECK(v->first_non_int == 1 && !v->int_out_of_range,
              "z: first non-int %zu (out of range %d), expected 1 (0)", v->first_non_int,
              (int)v->int_out_of_range);
        CHECK(ps_data_real(v, 1) == 2.5, "ps_data_real(z, 1) is %g", ps_data_real(v, 1));
    }
    v = var(d, "neg");
    check_ints(v, (int64_t[]){-7}, 1);
    CHECK(v && ps_data_real(v, 0) == -7.0, "ps_data_real of an int");
    v = var(d, "zero");
    check_shape(v, PS_DATA_INT, 0, NULL, 1);
    check_ints(v, (int64_t[]){0}, 1);
    v = var(d, "negzero");
    check_shape(v, PS_DATA_REAL, 0, NULL, 1);
    if (v && v->reals)
        CHECK(v->reals[0] == 0.0 && signbit(v->reals[0]), "-0.0 keeps its sign");
    /* File order. */
    const char *order[] = {"N", "y", "x", "z", "neg", "zero", "negzero"};
    for (size_t i = 0; i < 7; i++) {
        const ps_data_var *at = ps_data_at(d, i);
        CHECK(at && strcmp(at->name, order[i]) == 0, "variable %zu is '%s', expected '%s'", i,
              at ? at->name : "(null)", order[i]);
    }
    CHECK(ps_data_at(d, 7) == NULL, "ps_data_at beyond the end is NULL");
    CHECK(ps_data_find(d, "missing") == NULL && ps_data_find(d, "Nx") == NULL &&
              ps_data_find(d, "") == NULL && ps_data_find(d, NULL) == NULL,
          "ps_data_find of absent names is NULL");
    CHECK(strcmp(ps_data_path(d), PATH) == 0, "path '%s'", ps_data_path(d));
    CHECK(ps_data_format_of(d) == PS_DATA_JSON, "format JSON");
    size_t len = 0;
    const char *text = ps_data_text(d, &len);
    CHECK(text != NULL && len > 0 && text[len] == '\0' && text[0] == '{', "the text is kept");
    ps_data_destroy(&d);
    CHECK(d == NULL, "destroy sets the handle to NULL");
    ps_data_destroy(&d);
    ps_data_destroy(NULL);
}

static void test_int_range(void)
{
    ps_data *d = parse("{\"a\": 2147483647, \"b\": -2147483648, \"c\": 2147483648, "
                       "\"d\": -2147483649, \"e\": [1, 9223372036854775807, 2], "
                       "\"f\": [9223372036854775808], \"g\": [-9223372036854775809, 0.5], "
                       "\"h\": 123456789012345678901234567890}");
    const ps_data_var *v = var(d, "a");
    check_shape(v, PS_DATA_INT, 0, NULL, 1);
    check_ints(v, (int64_t[]){2147483647}, 1);
    v = var(d, "b");
    check_shape(v, PS_DATA_INT, 0, NULL, 1);
    check_ints(v, (int64_t[]){-2147483647LL - 1}, 1);
    struct {
        const char *name;
        size_t first;
        bool out_of_range;
        double value; /* of element `first` */
    } reals[] = {
        {"c", 0, true, 2147483648.0},           {"d", 0, true, -2147483649.0},
        {"e", 1, true, 9223372036854775807.0},  {"f", 0, true, 9223372036854775808.0},
        {"g", 0, true, -9223372036854775809.0}, {"h", 0, true, 123456789012345678901234567890.0},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        v = var(d, reals[i].name);
        if (v == NULL)
            continue;
        CHECK(v->type == PS_DATA_REAL, "'%s' is real (an integer outside Stan's int range)",
              v->name);
        if (v->type != PS_DATA_REAL)
            continue;
        CHECK(v->first_non_int == reals[i].first && v->int_out_of_range == reals[i].out_of_range,
              "'%s': first non-int %zu (out of range %d), expected %zu (%d)", v->name,
              v->first_non_int, (int)v->int_out_of_range, reals[i].first,
              (int)reals[i].out_of_range);
        CHECK(same_bits(v->reals[reals[i].first], reals[i].value),
              "'%s'[%zu] is %.17g, expected %.17g", v->name, reals[i].first,
              v->reals[reals[i].first], reals[i].value);
    }
    v = var(d, "e");
    if (v && v->reals)
        CHECK(v->reals[0] == 1.0 && v->reals[2] == 2.0, "the ints of 'e' convert exactly");
    ps_data_destroy(&d);
}

/* Reals are exactly what strtod gives for the literal's text. */
static void test_real_bits(void)
{
    const char *literals[] = {
        "0.1",
        "2.385",
        "-17.2e8",
        "17.2E-8",
        "1e3",
        "1E+3",
        "0.30000000000000004",
        "2.2250738585072011e-308",
        "2.2250738585072014e-308",
        "4.9e-324",
        "2.4703282292062328e-324",
        "1e-400",
        "-1e-400",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "9007199254740993.0",
        "0.1000000000000000055511151231257827021181583404541015625",
        "123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
        "89012345678901234567890123456789012345678901234567890.5",
        "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899",
    };
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"x\": %s, \"v\": [0, %s]}", literals[i], literals[i]);
        ps_data *d = parse(text);
        double want = strtod(literals[i], NULL);
        const ps_data_var *x = var(d, "x"), *v = var(d, "v");
        if (x && x->type == PS_DATA_REAL)
            CHECK(same_bits(x->reals[0], want), "%s read as %.17g, strtod gives %.17g", literals[i],
                  x->reals[0], want);
        else
            CHECK(false, "%s: expected a real", literals[i]);
        if (v && v->type == PS_DATA_REAL)
            CHECK(same_bits(v->reals[1], want) && v->reals[0] == 0.0,
                  "[0, %s] read as [%.17g, %.17g]", literals[i], v->reals[0], v->reals[1]);
        else
            CHECK(false, "[0, %s]: expected a real array", literals[i]);
        ps_data_destroy(&d);
    }
    /* Every int of Stan's range that a file may hold round-trips: a sample across it. */
    int64_t step = 4294967295LL / 9973;
    char text[64];
    for (int64_t x = PS_DATA_INT_MIN; x <= PS_DATA_INT_MAX - step; x += step) {
        snprintf(text, sizeof text, "{\"n\": %lld}", (long long)x);
        ps_data *d = parse(text);
        const ps_data_var *n = d ? var(d, "n") : NULL;
        if (n == NULL || n->type != PS_DATA_INT || n->ints[0] != x) {
            CHECK(false, "%s did not read back as the int %lld", text, (long long)x);
            ps_data_destroy(&d);
            break;
        }
        ps_data_destroy(&d);
    }
}

static void test_non_finite(void)
{
    struct {
        const char *text;
        int sign; /* 0: NaN */
    } cases[] = {
        {"\"NaN\"", 0},       {"\"nan\"", 0},        {"\"Inf\"", 1},       {"\"+Inf\"", 1},
        {"\"-Inf\"", -1},     {"\"Infinity\"", 1},   {"\"+Infinity\"", 1}, {"\"-Infinity\"", -1},
        {"\"inf\"", 1},       {"\"+inf\"", 1},       {"\"-inf\"", -1},     {"\"infinity\"", 1},
        {"\"+infinity\"", 1}, {"\"-infinity\"", -1}, {"NaN", 0},           {"Inf", 1},
        {"Infinity", 1},      {"-Inf", -1},          {"-Infinity", -1},    {"\"\\u004eaN\"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"x\": %s, \"v\": [1, %s, 2]}", cases[i].text, cases[i].text);
        ps_data *d = parse(text);
        const ps_data_var *x = d ? var(d, "x") : NULL, *v = d ? var(d, "v") : NULL;
        for (int k = 0; k < 2; k++) {
            const ps_data_var *w = k == 0 ? x : v;
            if (w == NULL || w->type != PS_DATA_REAL) {
                CHECK(false, "%s: expected a real", text);
                continue;
            }
            double got = w->reals[k == 0 ? 0 : 1];
            bool right = cases[i].sign == 0 ? isnan(got) : got == cases[i].sign * INFINITY;
            CHECK(right, "%s: read %g, expected %s", cases[i].text, got,
                  cases[i].sign == 0  ? "NaN"
                  : cases[i].sign > 0 ? "+inf"
                                      : "-inf");
        }
        if (v && v->type == PS_DATA_REAL)
            CHECK(v->first_non_int == 1 && !v->int_out_of_range && v->reals[0] == 1 &&
                      v->reals[2] == 2,
                  "%s in an int array: first non-int %zu, expected 1", cases[i].text,
                  v->first_non_int);
        ps_data_destroy(&d);
    }
}

static void test_arrays(void)
{
    ps_data *d = parse("{\"m\": [[1, 2.7, -9.8],\n  [4.2, 1.8, -7.3]],\n"
                       " \"ar\" : [[[0,1,2,3], [4,5,6,7], [8,9,10,11]],\n"
                       "           [[12,13,14,15], [16,17,18,19], [20,21,22,23]]],\n"
                       " \"e1\": [], \"e2\": [ [ ], [ ] ], \"e3\": [[[]]], \"one\": [[[9]]],\n"
                       " \"deep\": [[[[[[[[5, 6]]]]]]]]}");
    const ps_data_var *v = var(d, "m");
    check_shape(v, PS_DATA_REAL, 2, (size_t[]){2, 3}, 6);
    double m[6] = {1, 2.7, -9.8, 4.2, 1.8, -7.3};
    for (size_t i = 0; v && v->reals && i < 6; i++)
        CHECK(v->reals[i] == m[i], "m[%zu] is %g, expected %g (row-major)", i, v->reals[i], m[i]);
    v = var(d, "ar");
    check_shape(v, PS_DATA_INT, 3, (size_t[]){2, 3, 4}, 24);
    int64_t ar[24];
    for (int i = 0; i < 24; i++)
        ar[i] = i;
    check_ints(v, ar, 24);
    v = var(d, "e1");
    check_shape(v, PS_DATA_INT, 1, (size_t[]){0}, 0);
    v = var(d, "e2");
    check_shape(v, PS_DATA_INT, 2, (size_t[]){2, 0}, 0);
    v = var(d, "e3");
    check_shape(v, PS_DATA_INT, 3, (size_t[]){1, 1, 0}, 0);
    v = var(d, "one");
    check_shape(v, PS_DATA_INT, 3, (size_t[]){1, 1, 1}, 1);
    check_ints(v, (int64_t[]){9}, 1);
    v = var(d, "deep");
    check_shape(v, PS_DATA_INT, 8, (size_t[]){1, 1, 1, 1, 1, 1, 1, 2}, 2);
    check_ints(v, (int64_t[]){5, 6}, 2);
    ps_data_destroy(&d);

    /* A long array crosses many growth steps and turns real late. */
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_puts(&sb, "{\"long\": [");
    for (int i = 0; i < 5000; i++)
        ps_strbuf_printf(&sb, "%s%d", i ? ", " : "", i * 7 - 3);
    ps_strbuf_puts(&sb, ", 0.25]}");
    d = parse(ps_strbuf_str(&sb));
    v = var(d, "long");
    check_shape(v, PS_DATA_REAL, 1, (size_t[]){5001}, 5001);
    if (v && v->reals) {
        int bad = 0;
        for (int i = 0; i < 5000; i++)
            bad += v->reals[i] != (double)(i * 7 - 3);
        CHECK(bad == 0 && v->reals[5000] == 0.25 && v->first_non_int == 5000,
              "'long': %d wrong values, last %g, first non-int %zu", bad, v->reals[5000],
              v->first_non_int);
    }
    ps_data_destroy(&d);
    ps_strbuf_fini(&sb);
}

static void test_keys(void)
{
    /* Keys that are not Stan identifiers are skipped whatever their value; escapes in keys
     * are decoded. */
    ps_data *d = parse("\xEF\xBB\xBF {\"_note\": {\"a\": [1, {\"b\": null}, true, false, \"s\"], "
                       "\"c\": {}}, \"1x\": true, \"a.b\": \"text\", \"\": null, "
                       "\"x y\": [[], {}], \"\\u0079\": 3, \"caf\\u00e9\": 1, \"N_2\": 2, "
                       "\"__\": NaN}\r\n\t ");
    CHECK(ps_data_count(d) == 2, "count %zu, expected 2 (y and N_2)", ps_data_count(d));
    check_ints(var(d, "y"), (int64_t[]){3}, 1);
    check_ints(var(d, "N_2"), (int64_t[]){2}, 1);
    ps_data_destroy(&d);

    d = parse("{}");
    CHECK(ps_data_count(d) == 0, "an empty object has no variables");
    ps_data_destroy(&d);
    d = parse(" \n{ \n} \n");
    CHECK(ps_data_count(d) == 0, "an empty object has no variables");
    ps_data_destroy(&d);

    /* Many keys: the name table grows and lookups stay right. */
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_putc(&sb, '{');
    for (int i = 0; i < 3000; i++)
        ps_strbuf_printf(&sb, "%s\"v%d\": %d", i ? ", " : "", i, 3 * i);
    ps_strbuf_putc(&sb, '}');
    d = parse(ps_strbuf_str(&sb));
    CHECK(ps_data_count(d) == 3000, "count %zu, expected 3000", ps_data_count(d));
    int bad = 0;
    for (int i = 0; i < 3000 && d; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        const ps_data_var *v = ps_data_find(d, name);
        bad += v == NULL || v->type != PS_DATA_INT || v->ints[0] != 3 * i ||
               ps_data_at(d, (size_t)i) != v;
    }
    CHECK(bad == 0, "%d of 3000 variables not found again", bad);
    ps_data_destroy(&d);
    ps_strbuf_fini(&sb);
}

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

static void test_syntax_errors(void)
{
    fails("", "t.json:1:1: error: expected a JSON object ('{') holding the data, found the end "
              "of the file");
    fails("  \n ", "t.json:2:2: error: expected a JSON object ('{') holding the data, found the "
                   "end of the file");
    fails("[1, 2]", "t.json:1:1: error: expected a JSON object ('{') holding the data, found '[' "
                    "(an array)");
    fails("17", "t.json:1:1: error: expected a JSON object ('{') holding the data, found a number");
    fails("\"x\"", "t.json:1:1: error: expected a JSON object ('{') holding the data, found a "
                   "string");
    fails("{\"a\": 1,}", "t.json:1:9: error: expected a key (a string in double quotes), found "
                         "'}'");
    fails("{a: 1}", "t.json:1:2: error: expected a key (a string in double quotes), found 'a'");
    fails("{'a': 1}", "t.json:1:2: error: expected a key (a string in double quotes), found '''");
    fails("{\"a\" 1}", "t.json:1:6: error: expected ':' after the key \"a\", found a number");
    fails("{\"a\": 1 \"b\": 2}",
          "t.json:1:9: error: expected ',' or '}' after a value, found a string");
    fails("{\"a\": 1", "t.json:1:8: error: expected ',' or '}' after a value, found the end of "
                       "the file");
    fails("{\"a\":", "t.json:1:6: error: 'a': expected a value, found the end of the file");
    fails("{\"a\": 1} x", "t.json:1:10: error: unexpected 'x' after the end of the data object");
    fails("{\"a\": 1}\n{}", "t.json:2:1: error: unexpected '{' (an object) after the end of the "
                            "data object");
    fails_n("{\"a\": 1}\0", 9,
            "t.json:1:9: error: unexpected byte 0x00 after the end of the "
            "data object");
    fails("{\x0b\"a\": 1}", "t.json:1:2: error: expected a key (a string in double quotes), found "
                            "byte 0x0b");
    fails("{\"a\":\f1}", "t.json:1:6: error: 'a': expected a value, found byte 0x0c");
    fails("\xEF\xBB{}", "t.json:1:1: error: expected a JSON object ('{') holding the data, found "
                        "byte 0xef");
}

static void test_number_errors(void)
{
    fails("{\"a\": 01}", "t.json:1:7: error: invalid number: JSON numbers have no leading zeros");
    fails("{\"a\": -01}", "t.json:1:7: error: invalid number: JSON numbers have no leading zeros");
    fails("{\"a\": 1.}",
          "t.json:1:7: error: invalid number: a digit must follow the decimal point");
    fails("{\"a\": [1.e5]}",
          "t.json:1:8: error: invalid number: a digit must follow the decimal point");
    fails("{\"a\": 1e}", "t.json:1:7: error: invalid number: a digit must follow the exponent 'e'");
    fails("{\"a\": 1e+}",
          "t.json:1:7: error: invalid number: a digit must follow the exponent 'e'");
    fails("{\"a\": -}", "t.json:1:7: error: invalid number: a digit must follow '-' (found '}')");
    fails("{\"a\": - 1}",
          "t.json:1:7: error: invalid number: a digit must follow '-' (found a space)");
    fails("{\"a\": -NaN}",
          "t.json:1:7: error: invalid number: a digit must follow '-' (found 'NaN')");
    fails("{\"a\": +1}", "t.json:1:7: error: 'a': JSON numbers have no leading '+'");
    fails("{\"a\": .5}",
          "t.json:1:7: error: 'a': a JSON number needs a digit before the decimal point");
    fails("{\"a\": 0x10}", "t.json:1:7: error: invalid number '0x10'");
    fails("{\"a\": 1.5.2}", "t.json:1:7: error: invalid number '1.5.2'");
    fails("{\"a\": [1, 12abc]}", "t.json:1:11: error: invalid number '12abc'");
    fails("{\"a\": Infinityx}", "t.json:1:7: error: 'a': 'Infinityx' is not a JSON value (write a "
                                "number, or \"NaN\", \"Inf\" or \"-Inf\")");
    fails("{\"a\": nan}", "t.json:1:7: error: 'a': 'nan' is not a JSON value (write a number, or "
                          "\"NaN\", \"Inf\" or \"-Inf\")");
    fails("{\"a\": inf}", "t.json:1:7: error: 'a': 'inf' is not a JSON value (write a number, or "
                          "\"NaN\", \"Inf\" or \"-Inf\")");
    fails("{\"a\": 1e999}", "t.json:1:7: error: 'a': the number 1e999 is too large for a double");
    fails("{\"a\": [0, -1.8e308]}",
          "t.json:1:11: error: 'a': the number -1.8e308 is too large for a double");
    char big[600];
    memset(big, '9', 400);
    big[400] = '\0';
    char text[700], want[700];
    snprintf(text, sizeof text, "{\"a\": %s}", big);
    snprintf(want, sizeof want,
             "t.json:1:7: error: 'a': the number %.40s... is too large for a "
             "double",
             big);
    fails(text, want);
}

static void test_value_errors(void)
{
    fails("{\"a\": true}", "t.json:1:7: error: 'a': true and false are not Stan data (write 1 or "
                           "0)");
    fails("{\"a\": [1, false]}", "t.json:1:11: error: 'a': true and false are not Stan data "
                                 "(write 1 or 0)");
    fails("{\"a\": null}", "t.json:1:7: error: 'a': null is not Stan data (Stan has no missing "
                           "values)");
    fails("{\"a\": [1, null]}", "t.json:1:11: error: 'a': null is not Stan data (Stan has no "
                                "missing values)");
    fails("{\"a\": \"abc\"}", "t.json:1:7: error: 'a': the string \"abc\" is not a number (only "
                              "\"NaN\", \"Inf\", \"-Inf\" and their variants stand for reals)");
    fails("{\"a\": [\"NAN\"]}", "t.json:1:8: error: 'a': the string \"NAN\" is not a number (only "
                                "\"NaN\", \"Inf\", \"-Inf\" and their variants stand for reals)");
    fails("{\"a\": \"1.5\"}", "t.json:1:7: error: 'a': the string \"1.5\" is not a number (only "
                              "\"NaN\", \"Inf\", \"-Inf\" and their variants stand for reals)");
    fails("{\"a\": \"\\u0000\\n\"}",
          "t.json:1:7: error: 'a': the string \"\\x00\\x0a\" is not a number (only \"NaN\", "
          "\"Inf\", \"-Inf\" and their variants stand for reals)");
    fails("{\"t\": {\"1\": 1.5, \"2\": [1, 2]}}",
          "t.json:1:7: error: 't': tuples (JSON objects as values) are not supported yet");
    fails("{\"t\": [{\"1\": 1}]}",
          "t.json:1:8: error: 't': tuples (JSON objects as values) are not supported yet");
    fails("{\"a\": [1, 2}", "t.json:1:12: error: 'a': expected ',' or ']' in the array, found '}'");
    fails("{\"a\": [1 2]}", "t.json:1:10: error: 'a': expected ',' or ']' in the array, found a "
                            "number");
    fails("{\"a\": [1, ]}", "t.json:1:11: error: 'a': expected a value after ',', found ']'");
    fails("{\"a\": [,1]}", "t.json:1:8: error: 'a': expected a value, found ','");
    fails("{\"a\": [", "t.json:1:8: error: 'a': unterminated array (expected a value or ']', "
                       "found the end of the file)");
    fails("{\"a\": [[1], [2]", "t.json:1:16: error: 'a': expected ',' or ']' in the array, found "
                               "the end of the file");
    fails("{\"a\": [1, [2]]}", "t.json:1:11: error: 'a' mixes numbers and arrays at depth 1");
    fails("{\"a\": [[1], 2]}", "t.json:1:13: error: 'a' mixes numbers and arrays at depth 1");
    fails("{\"X\": [[1, 2], [3, [4]]]}",
          "t.json:1:20: error: 'X' mixes numbers and arrays at depth 2");
    fails("{\"y\": [[1,2,3,4,5],\n       [1,2,3,4,5],\n       [1,2,3,4]]}",
          "t.json:3:8: error: 'y': y[3] has 4 elements but y[1] has 5 (arrays must be "
          "rectangular)");
    fails("{\"y\": [[1],[2, 3]]}",
          "t.json:1:12: error: 'y': y[2] has 2 elements but y[1] has 1 (arrays must be "
          "rectangular)");
    fails("{\"y\": [[], [1]]}",
          "t.json:1:12: error: 'y': y[2] has 1 element but y[1] has 0 (arrays must be "
          "rectangular)");
    fails("{\"y\": [[], [[]]]}",
          "t.json:1:12: error: 'y': y[2] has 1 element but y[1] has 0 (arrays must be "
          "rectangular)");
    fails("{\"z\": [[[1,2]],[[3]]]}",
          "t.json:1:17: error: 'z': z[2, 1] has 1 element but z[1, 1] has 2 (arrays must be "
          "rectangular)");
    fails("{\"z\": [[[1,2],[3,4]],[[5,6]]]}",
          "t.json:1:22: error: 'z': z[2] has 1 element but z[1] has 2 (arrays must be "
          "rectangular)");
    fails("{\"a\": [[[[[[[[[1]]]]]]]]]}",
          "t.json:1:15: error: 'a' is nested deeper than 8 arrays (psample reads at most 8 "
          "dimensions)");
    fails("{\"a\": 1,\n \"b\": 2,\n \"a\": 3}",
          "t.json:3:2: error: duplicate key 'a' (first given at line 1)");
    fails("{\"a\": 1, \"\\u0061\": 2}",
          "t.json:1:10: error: duplicate key 'a' (first given at line 1)");
    fails("{\"a\": 1, \"_x\": [1, {\"k\": tru}]}",
          "t.json:1:26: error: expected a value, found 'tru'");
    fails("{\"_x\": {\"k\" 1}}", "t.json:1:13: error: expected ':' after a key, found a number");
    fails("{\"_x\": {1: 1}}", "t.json:1:9: error: expected a key (a string), found a number");
    fails("{\"_x\": {\"k\": 1,}}", "t.json:1:16: error: expected a key (a string), found '}'");
    fails("{\"_x\": [1 2]}", "t.json:1:11: error: expected ',' or ']', found a number");
    fails("{\"_x\": {\"k\": 1]}", "t.json:1:15: error: expected ',' or '}', found ']'");
    fails("{\"_x\": [01]}", "t.json:1:9: error: invalid number: JSON numbers have no leading "
                            "zeros");
    fails("{\"_x\": [1,", "t.json:1:11: error: expected a value, found the end of the file");

    /* Skipped values may nest PS_DATA_MAX_NESTING deep, not deeper. */
    char text[400];
    int n = 0;
    n += snprintf(text + n, sizeof text - (size_t)n, "{\"_x\": ");
    for (int i = 0; i < PS_DATA_MAX_NESTING; i++) {
        if (i % 2 == 0)
            n += snprintf(text + n, sizeof text - (size_t)n, "{\"k\":");
        else
            text[n++] = '[';
    }
    for (int i = PS_DATA_MAX_NESTING - 1; i >= 0; i--)
        text[n++] = i % 2 ? ']' : '}';
    snprintf(text + n, sizeof text - (size_t)n, ", \"a\": 1}");
    ps_data *d = parse(text);
    CHECK(ps_data_count(d) == 1, "a skipped value %d deep", PS_DATA_MAX_NESTING);
    ps_data_destroy(&d);
    n = snprintf(text, sizeof text, "{\"_x\": ");
    for (int i = 0; i <= PS_DATA_MAX_NESTING; i++)
        text[n++] = '[';
    text[n] = '\0';
    char want[200];
    snprintf(want, sizeof want,
             "t.json:1:%d: error: the value of \"_x\" is nested deeper than %d levels",
             8 + PS_DATA_MAX_NESTING, PS_DATA_MAX_NESTING);
    fails(text, want);
}

static void test_string_errors(void)
{
    fails("{\"a\": \"x}", "t.json:1:7: error: unterminated string (no closing '\"')");
    fails("{\"a\": \"x\\", "t.json:1:7: error: unterminated string (no closing '\"')");
    fails("{\"a\": \"x\n\"}",
          "t.json:1:9: error: line break inside a string (is a closing '\"' missing?)");
    fails("{\"a\": \"x\ty\"}", "t.json:1:9: error: control character (byte 0x09) inside a string: "
                               "write it as an escape such as \\u0009");
    fails("{\"a\": \"\\q\"}", "t.json:1:8: error: invalid escape '\\q' in a string (JSON has \\\" "
                              "\\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    fails("{\"a\": \"\\x41\"}", "t.json:1:8: error: invalid escape '\\x' in a string (JSON has "
                                "\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    fails("{\"a\": \"\\u12g4\"}",
          "t.json:1:8: error: invalid escape: four hex digits must follow \\u");
    fails("{\"a\": \"\\u12\"}", "t.json:1:8: error: invalid escape: four hex digits must follow "
                                "\\u");
    fails("{\"a\": \"\\ud800\"}", "t.json:1:8: error: invalid escape: the high surrogate \\uD800 "
                                  "must be followed by a low surrogate \\uDC00-\\uDFFF");
    fails("{\"a\": \"\\ud800\\u0041\"}",
          "t.json:1:8: error: invalid escape: the high surrogate \\uD800 must be followed by a "
          "low surrogate \\uDC00-\\uDFFF");
    fails("{\"a\": \"\\uDC00\"}",
          "t.json:1:8: error: invalid escape: \\uDC00 is a low surrogate without a high one");
    fails("{\"a\xff\": 1}", "t.json:1:4: error: invalid UTF-8 (byte 0xff) inside a string");
    fails("{\"\xc0\xaf\": 1}", "t.json:1:3: error: invalid UTF-8 (byte 0xc0) inside a string");
    fails("{\"\xed\xa0\x80\": 1}", "t.json:1:3: error: invalid UTF-8 (byte 0xed) inside a string");
    fails("{\"\xf4\x90\x80\x80\": 1}",
          "t.json:1:3: error: invalid UTF-8 (byte 0xf4) inside a string");
    fails("{\"\xe2\x82\": 1}", "t.json:1:3: error: invalid UTF-8 (byte 0xe2) inside a string");
    /* Valid UTF-8 and surrogate pairs are fine (in skipped keys and values). */
    ps_data *d = parse("{\"_\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\": \"\\ud83d\\ude00 \\\" \\\\ "
                       "\\/ \\b \\f \\n \\r \\t\", \"a\": 1}");
    CHECK(ps_data_count(d) == 1, "valid UTF-8 and escapes");
    ps_data_destroy(&d);
}

/* The whole message: position, the line, and a caret under the column (in characters). */
static void test_full_message(void)
{
    const char *text = "{\n  \"caf\xc3\xa9\": 1,\n  \"y\": [1, 2, \"x\"]\n}\n";
    ps_error_clear();
    ps_data *d = NULL;
    ps_status status = ps_data_read_json("data/m.json", text, strlen(text), &d);
    const char *want = "data/m.json:3:15: error: 'y': the string \"x\" is not a number (only "
                       "\"NaN\", \"Inf\", \"-Inf\" and their variants stand for reals)\n"
                       "      \"y\": [1, 2, \"x\"]\n"
                       "                  ^";
    CHECK(status == PS_ERR_DATA && strcmp(ps_error_message(), want) == 0,
          "expected the message\n%s\ngot\n%s", want, ps_error_message());
    ps_error_clear();
    status = ps_data_read_json(NULL, "{\"a\" 1}", 7, &d);
    CHECK(status == PS_ERR_DATA && strncmp(ps_error_message(), "<data>:1:6: error: ", 19) == 0,
          "a NULL path is shown as <data>: %s", ps_error_message());
    ps_error_clear();
}

/* ---------------------------------------------------------------------------------------
 * Helpers for the model's checker
 * ------------------------------------------------------------------------------------- */

static void test_checker_helpers(void)
{
    ps_data *d = parse("{\"N\": 3,\n \"y\": [1, 2.5, 3],\n \"n\": [1, 2, 3000000000],\n"
                       " \"s\": [\"NaN\", 1],\n \"X\": [[1, 2],\n       [3, -4]],\n"
                       " \"big\": 1e3}");
    char line[4096];
    const ps_data_var *v = var(d, "N");
    CHECK(v && ps_data_require_int(d, v) == PS_OK, "N is an int");
    v = var(d, "y");
    ps_error_clear();
    CHECK(v && ps_data_require_int(d, v) == PS_ERR_DATA, "y is not an int array");
    CHECK(strcmp(first_line(line, sizeof line),
                 "t.json:2:11: error: 'y' must hold ints, but y[2] is 2.5, a real (an int is "
                 "written without decimal point or exponent)") == 0,
          "message: %s", line);
    ps_error_clear();
    v = var(d, "n");
    CHECK(v && ps_data_require_int(d, v) == PS_ERR_DATA, "n is not an int array");
    CHECK(strcmp(first_line(line, sizeof line),
                 "t.json:3:14: error: 'n' must hold ints, but n[3] is 3000000000, outside "
                 "Stan's int range [-2147483648, 2147483647]") == 0,
          "message: %s", line);
    ps_error_clear();
    v = var(d, "s");
    CHECK(v && ps_data_require_int(d, v) == PS_ERR_DATA, "s is not an int array");
    CHECK(strcmp(first_line(line, sizeof line),
                 "t.json:4:8: error: 's' must hold ints, but s[1] is \"NaN\", a real") == 0,
          "message: %s", line);
    ps_error_clear();
    v = var(d, "big");
    CHECK(v && ps_data_require_int(d, v) == PS_ERR_DATA, "1e3 is a real");
    CHECK(strcmp(first_line(line, sizeof line),
                 "t.json:7:9: error: 'big' must hold ints, but big is 1e3, a real (an int is "
                 "written without decimal point or exponent)") == 0,
          "message: %s", line);
    ps_error_clear();

    v = var(d, "X");
    char where[64];
    CHECK(v && strcmp(ps_data_index_text(v, 3, where, sizeof where), "X[2, 2]") == 0,
          "index text '%s', expected X[2, 2]", where);
    CHECK(v && strcmp(ps_data_index_text(v, 1, where, sizeof where), "X[1, 2]") == 0,
          "index text '%s', expected X[1, 2]", where);
    CHECK(v && strcmp(ps_data_index_text(v, PS_DATA_WHOLE, where, sizeof where), "X") == 0,
          "index text '%s', expected X", where);
    CHECK(v && strcmp(ps_data_index_text(v, 2, where, 5), "X[2,") == 0, "truncated index text '%s'",
          where);
    size_t len = 0;
    const char *text = ps_data_text(d, &len);
    CHECK(v && text && strncmp(text + ps_data_element_offset(d, v, 3), "-4]", 3) == 0,
          "element offset of X[2, 2]");
    CHECK(v && text && strncmp(text + ps_data_element_offset(d, v, PS_DATA_WHOLE), "[[1", 3) == 0,
          "offset of X");
    CHECK(v && ps_data_element_offset(d, v, 99) == v->offset, "an index out of range");
    ps_error_clear();
    CHECK(v && ps_data_error(d, v, 3, PS_ERR_DATA, "'%s': %s is %g, below the lower bound 0",
                             v->name, ps_data_index_text(v, 3, where, sizeof where),
                             ps_data_real(v, 3)) == PS_ERR_DATA,
          "ps_data_error returns its status");
    const char *want = "t.json:6:12: error: 'X': X[2, 2] is -4, below the lower bound 0\n"
                       "           [3, -4]],\n"
                       "               ^";
    CHECK(strcmp(ps_error_message(), want) == 0, "expected\n%s\ngot\n%s", want, ps_error_message());
    ps_error_clear();
    v = var(d, "N");
    ps_data_error(d, v, PS_DATA_WHOLE, PS_ERR_DATA, "'N' must be positive");
    CHECK(strcmp(first_line(line, sizeof line), "t.json:1:7: error: 'N' must be positive") == 0,
          "message: %s", line);
    ps_error_clear();
    ps_data_destroy(&d);

    /* String elements and odd spacing in the rescan. */
    d = parse("{\"v\": [ \"Inf\" ,\"-Inf\",\n\t\"NaN\" , 7 ]}");
    v = var(d, "v");
    text = ps_data_text(d, &len);
    CHECK(v && strncmp(text + ps_data_element_offset(d, v, 2), "\"NaN\"", 5) == 0 &&
              strncmp(text + ps_data_element_offset(d, v, 3), "7 ]", 3) == 0,
          "element offsets past strings");
    ps_data_destroy(&d);

    ps_data *empty = NULL;
    CHECK(ps_data_create_empty(&empty) == PS_OK && ps_data_count(empty) == 0 &&
              ps_data_format_of(empty) == PS_DATA_NONE && ps_data_text(empty, &len) == NULL &&
              len == 0 && ps_data_find(empty, "x") == NULL && strcmp(ps_data_path(empty), "") == 0,
          "empty data");
    ps_data_destroy(&empty);
}

/* ---------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------- */

static void test_read_file(void)
{
    char path[] = "/tmp/psample_test_data_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    const char *text = "{\"N\": 2,\n \"y\": [0.5, -1]}\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
    close(fd);
    ps_error_clear();
    ps_data *d = NULL;
    CHECK(ps_data_read_file(path, &d) == PS_OK, "reading %s: %s", path, ps_error_message());
    const ps_data_var *v = d ? ps_data_find(d, "y") : NULL;
    CHECK(v && v->type == PS_DATA_REAL && v->reals[0] == 0.5 && v->reals[1] == -1.0,
          "values from the file");
    CHECK(d && strcmp(ps_data_path(d), path) == 0, "the path is kept");
    ps_data_destroy(&d);

    /* Messages name the file. */
    FILE *f = fopen(path, "w");
    fputs("{\"N\": 2,\n \"y\": [0.5, -1,]}\n", f);
    fclose(f);
    ps_error_clear();
    CHECK(ps_data_read_file(path, &d) == PS_ERR_DATA && d == NULL, "a bad file");
    char want[256], line[4096];
    snprintf(want, sizeof want, "%s:2:16: error: 'y': expected a value after ',', found ']'", path);
    CHECK(strcmp(first_line(line, sizeof line), want) == 0, "expected %s, got %s", want, line);
    ps_error_clear();

    /* Allocation failures while reading a file. */
    long n;
    for (n = 1; n < 1000; n++) {
        ps_error_clear();
        ps_fault_alloc_after(n);
        ps_status status = ps_data_read_file(path, &d);
        ps_fault_alloc_after(0);
        if (status == PS_ERR_DATA)
            break;
        CHECK(status == PS_ERR_MEM && d == NULL, "allocation %ld failed: status %d (%s)", n,
              (int)status, ps_error_message());
    }
    CHECK(n < 1000, "the bad file is reported once allocations succeed");
    ps_error_clear();
    unlink(path);

    CHECK(ps_data_read_file(path, &d) == PS_ERR_IO && d == NULL, "a missing file");
    snprintf(want, sizeof want, "cannot read %s: No such file or directory", path);
    CHECK(strcmp(ps_error_message(), want) == 0, "expected %s, got %s", want, ps_error_message());
    ps_error_clear();
    ps_fault_io_after(1);
    CHECK(ps_data_read_file("/nonexistent/x.json", &d) == PS_ERR_IO, "an injected I/O fault");
    ps_fault_io_after(0);
    ps_error_clear();
}

/* Every allocation of a parse may fail: the parse reports PS_ERR_MEM, returns no data and
 * leaks nothing (the sanitizer build checks leaks); once allocations succeed the values are
 * right. */
static void test_allocation_failures(void)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_puts(&sb, "{\"_skip\": {\"k\": [1, \"\\u00e9\"]}, \"N\": 40, \"caf\\u00e9\": 1, ");
    for (int i = 0; i < 12; i++)
        ps_strbuf_printf(&sb, "\"v%d\": %d, ", i, i);
    ps_strbuf_puts(&sb, "\"y\": [");
    for (int i = 0; i < 40; i++)
        ps_strbuf_printf(&sb, "%s%d", i ? ", " : "", i);
    ps_strbuf_puts(&sb, ", 0.5], \"x\": 0.");
    for (int i = 0; i < 200; i++)
        ps_strbuf_putc(&sb, (char)('0' + i % 10));
    ps_strbuf_puts(&sb, ", \"M\": [[1, 2], [3, 4]], \"e\": [[]], \"s\": \"NaN\"}");
    const char *text = ps_strbuf_str(&sb);
    long n, failures = 0;
    ps_data *d = NULL;
    for (n = 1; n < 100000; n++) {
        ps_error_clear();
        ps_fault_alloc_after(n);
        ps_status status = ps_data_read_json(PATH, text, strlen(text), &d);
        ps_fault_alloc_after(0);
        if (status == PS_OK)
            break;
        failures++;
        CHECK(status == PS_ERR_MEM && d == NULL, "allocation %ld failed: status %d, %s", n,
              (int)status, ps_error_message());
    }
    CHECK(failures > 20, "only %ld allocations were failed", failures);
    CHECK(ps_data_count(d) == 18, "after the loop: count %zu, expected 18", ps_data_count(d));
    const ps_data_var *v = d ? ps_data_find(d, "y") : NULL;
    CHECK(v && v->type == PS_DATA_REAL && v->size == 41 && v->reals[39] == 39.0 &&
              v->reals[40] == 0.5,
          "y after the loop");
    ps_data_destroy(&d);

    /* And for invalid input: either the memory failure or the data error. */
    const char *bad = "{\"a\": [1, 2], \"b\": [[1, 2], [3]]}";
    for (n = 1; n < 1000; n++) {
        ps_error_clear();
        ps_fault_alloc_after(n);
        ps_status status = ps_data_read_json(PATH, bad, strlen(bad), &d);
        ps_fault_alloc_after(0);
        CHECK((status == PS_ERR_MEM || status == PS_ERR_DATA) && d == NULL,
              "allocation %ld failed on bad input: status %d", n, (int)status);
        if (status == PS_ERR_DATA)
            break;
    }
    ps_error_clear();
    ps_fault_alloc_after(1);
    CHECK(ps_data_create_empty(&d) == PS_ERR_MEM && d == NULL, "empty data without memory");
    ps_fault_alloc_after(0);
    ps_error_clear();
    ps_strbuf_fini(&sb);
}

/* Large and adversarial inputs stay linear: deep nesting is cut off, long literals and
 * strings are read once. */
static void test_robustness(void)
{
    size_t n = 1 << 20;
    char *text = malloc(n + 64);
    /* A million '[' in a skipped value and in a data value. */
    memcpy(text, "{\"_x\": ", 7);
    memset(text + 7, '[', n);
    text[7 + n] = '\0';
    ps_error_clear();
    ps_data *d = NULL;
    CHECK(ps_data_read_json(PATH, text, 7 + n, &d) == PS_ERR_DATA, "deep skipped nesting");
    memcpy(text, "{\"x\": ", 6);
    ps_error_clear();
    CHECK(ps_data_read_json(PATH, text, 6 + n, &d) == PS_ERR_DATA, "deep data nesting");
    /* A literal of a million digits. */
    memcpy(text, "{\"x\": 0.", 8);
    memset(text + 8, '3', n);
    memcpy(text + 8 + n, "}", 2);
    ps_error_clear();
    d = parse(text);
    const ps_data_var *v = d ? var(d, "x") : NULL;
    CHECK(v && v->type == PS_DATA_REAL && v->reals[0] == strtod("0.3333333333333333333333", NULL),
          "a long literal");
    ps_data_destroy(&d);
    /* A long string key. */
    text[0] = '{';
    text[1] = '"';
    memset(text + 2, 'k', n);
    memcpy(text + 2 + n, "\": [1]}", 8);
    d = parse(text);
    CHECK(ps_data_count(d) == 1 && ps_data_at(d, 0) && strlen(ps_data_at(d, 0)->name) == n,
          "a long key");
    ps_data_destroy(&d);
    free(text);
    ps_error_clear();
}

int main(void)
{
    test_scalars_and_vectors();
    test_int_range();
    test_real_bits();
    test_non_finite();
    test_arrays();
    test_keys();
    test_syntax_errors();
    test_number_errors();
    test_value_errors();
    test_string_errors();
    test_full_message();
    test_checker_helpers();
    test_read_file();
    test_allocation_failures();
    test_robustness();
    TEST_EXIT();
}
