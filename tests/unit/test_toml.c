/*
 * The TOML decoder beyond what toml-test covers: 64-bit limits, the nesting limit, very
 * large inputs, NUL bytes, invalid UTF-8, byte-order marks, CR LF, the exact position and
 * caret of error messages, allocation failures, and lookups.
 */
#include <stdint.h>

#include "config/toml.h"
#include "testlib.h"

static const char *PATH = "cfg.toml";

/* Parses text of len bytes; returns the tree or NULL (the message stays recorded). */
static ps_toml_value *parse_n(const char *text, size_t len, ps_status *status)
{
    ps_toml_value *root = (ps_toml_value *)&root; /* must be overwritten */
    ps_error_clear();
    *status = ps_toml_parse(PATH, text, len, &root);
    return root;
}

/* A document that must parse; returns its tree. */
static ps_toml_value *must_parse(const char *text, size_t len, int line)
{
    ps_status status;
    ps_toml_value *root = parse_n(text, len, &status);
    CHECK(status == PS_OK && root != NULL && root->type == PS_TOML_TABLE,
          "line %d: expected the document to parse, got status %d: %s", line, (int)status,
          ps_error_message());
    return status == PS_OK ? root : NULL;
}
#define MUST_PARSE(text) must_parse((text), strlen(text), __LINE__)

/* A document that must fail with PS_ERR_CONFIG and a message containing `want`. */
static void must_fail(const char *text, size_t len, const char *want, int line)
{
    ps_status status;
    ps_toml_value *root = parse_n(text, len, &status);
    CHECK(status == PS_ERR_CONFIG && root == NULL,
          "line %d: expected a configuration error, got status %d", line, (int)status);
    CHECK(strstr(ps_error_message(), want) != NULL,
          "line %d: expected a message containing \"%s\", got \"%s\"", line, want,
          ps_error_message());
    ps_toml_destroy(&root);
    ps_error_clear();
}
#define MUST_FAIL(text, want) must_fail((text), strlen(text), (want), __LINE__)

/* The whole message must be exactly `want` (location, text, line and caret). */
static void must_fail_exactly(const char *text, const char *want, int line)
{
    ps_status status;
    ps_toml_value *root = parse_n(text, strlen(text), &status);
    CHECK(status == PS_ERR_CONFIG && root == NULL, "line %d: expected an error, got status %d",
          line, (int)status);
    CHECK(strcmp(ps_error_message(), want) == 0, "line %d: message was\n%s\nexpected\n%s", line,
          ps_error_message(), want);
    ps_error_clear();
}
#define MUST_FAIL_EXACTLY(text, want) must_fail_exactly((text), (want), __LINE__)

static char *repeat(const char *head, const char *unit, size_t count, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *out = malloc(hl + ul * count + tl + 1);
    memcpy(out, head, hl);
    for (size_t i = 0; i < count; i++)
        memcpy(out + hl + i * ul, unit, ul);
    memcpy(out + hl + ul * count, tail, tl + 1);
    return out;
}

static void test_lookups(void)
{
    const char *doc = "# psample\n"
                      "[sampler]\n"
                      "algorithm = \"nuts\"\n"
                      "chains = 64\n"
                      "\"key.with.dots\" = 2.385\n"
                      "[model]\n"
                      "file = 'eight_schools.stan'\n";
    ps_toml_value *root = MUST_PARSE(doc);
    if (root == NULL)
        return;
    CHECK(root->u.table.len == 2, "root has %zu keys, expected 2", root->u.table.len);
    CHECK(strcmp(root->u.table.items[0].key, "sampler") == 0 &&
              strcmp(root->u.table.items[1].key, "model") == 0,
          "keys not in document order");
    const ps_toml_value *sampler = ps_toml_get(root, "sampler");
    CHECK(sampler != NULL && sampler->type == PS_TOML_TABLE, "sampler table missing");
    CHECK(sampler != NULL && sampler->offset == (size_t)(strstr(doc, "[sampler]") - doc),
          "table offset is %zu, expected that of its header",
          sampler ? sampler->offset : (size_t)0);
    const ps_toml_kv *chains = ps_toml_get_kv(sampler, "chains");
    CHECK(chains != NULL && chains->value->type == PS_TOML_INTEGER &&
              chains->value->u.integer == 64,
          "sampler.chains should be the integer 64");
    CHECK(chains != NULL && chains->key_offset == (size_t)(strstr(doc, "chains") - doc),
          "key offset of chains is %zu", chains ? chains->key_offset : (size_t)0);
    CHECK(chains != NULL && chains->value->offset == (size_t)(strstr(doc, "64") - doc),
          "value offset of chains is %zu", chains ? chains->value->offset : (size_t)0);
    const ps_toml_value *algorithm = ps_toml_get(sampler, "algorithm");
    CHECK(algorithm != NULL && algorithm->type == PS_TOML_STRING &&
              strcmp(algorithm->u.string.data, "nuts") == 0 && algorithm->u.string.len == 4,
          "sampler.algorithm should be \"nuts\"");
    const ps_toml_value *dots = ps_toml_get(sampler, "key.with.dots");
    CHECK(dots != NULL && dots->type == PS_TOML_FLOAT && dots->u.floating == 2.385,
          "a quoted key with dots is one key");
    CHECK(ps_toml_get(sampler, "key") == NULL, "no key 'key' in sampler");
    CHECK(ps_toml_get(root, "chains") == NULL, "chains is not at the root");
    CHECK(ps_toml_get(algorithm, "x") == NULL, "lookup in a string gives NULL");
    CHECK(ps_toml_get(NULL, "x") == NULL && ps_toml_get(root, NULL) == NULL, "NULL lookups");
    const ps_toml_value *file = ps_toml_get(ps_toml_get(root, "model"), "file");
    CHECK(file != NULL && strcmp(file->u.string.data, "eight_schools.stan") == 0,
          "model.file should be 'eight_schools.stan'");
    ps_toml_destroy(&root);
    CHECK(root == NULL, "destroy sets the root to NULL");
    ps_toml_destroy(&root);
    ps_toml_destroy(NULL);

    static const struct {
        ps_toml_type type;
        const char *name;
    } names[] = {{PS_TOML_STRING, "string"},
                 {PS_TOML_INTEGER, "integer"},
                 {PS_TOML_FLOAT, "float"},
                 {PS_TOML_BOOL, "boolean"},
                 {PS_TOML_DATETIME, "offset date-time"},
                 {PS_TOML_DATETIME_LOCAL, "local date-time"},
                 {PS_TOML_DATE_LOCAL, "local date"},
                 {PS_TOML_TIME_LOCAL, "local time"},
                 {PS_TOML_ARRAY, "array"},
                 {PS_TOML_TABLE, "table"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(strcmp(ps_toml_type_name(names[i].type), names[i].name) == 0,
              "type name of %d is \"%s\", expected \"%s\"", (int)names[i].type,
              ps_toml_type_name(names[i].type), names[i].name);

    /* Empty documents. */
    root = must_parse(NULL, 0, __LINE__);
    CHECK(root != NULL && root->u.table.len == 0, "an empty document is an empty table");
    ps_toml_destroy(&root);
    /* Empty keys and table names are allowed when quoted. */
    root = MUST_PARSE("\"\" = 1\n[t.''.\"\"]\nx = 2\n[[u.\"\"]]\n");
    if (root != NULL) {
        const ps_toml_kv *empty = root->u.table.len > 0 ? &root->u.table.items[0] : NULL;
        CHECK(empty && empty->key_len == 0 && empty->key[0] == '\0' && empty->value->u.integer == 1,
              "the empty key holds 1");
        CHECK(ps_toml_get(root, "") == empty->value, "lookup of the empty key");
        const ps_toml_value *x =
            ps_toml_get(ps_toml_get(ps_toml_get(ps_toml_get(root, "t"), ""), ""), "x");
        CHECK(x && x->u.integer == 2, "t.''.\"\".x is 2");
        const ps_toml_value *u = ps_toml_get(ps_toml_get(root, "u"), "");
        CHECK(u && u->type == PS_TOML_ARRAY && u->u.array.len == 1, "[[u.\"\"]] is an array");
    }
    ps_toml_destroy(&root);
    root = MUST_PARSE("\n\n# only a comment\n   \t\n");
    CHECK(root != NULL && root->u.table.len == 0, "blank lines and comments give no keys");
    ps_toml_destroy(&root);
}

static void test_integers(void)
{
    ps_toml_value *root = MUST_PARSE("max = 9223372036854775807\n"
                                     "min = -9223372036854775808\n"
                                     "hex = 0x7FFF_FFFF_FFFF_FFFF\n"
                                     "oct = 0o777777777777777777777\n"
                                     "bin = 0b0111111111111111111111111111111111111111111111111111"
                                     "111111111111\n"
                                     "plus = +17\n"
                                     "negzero = -0\n"
                                     "under = 1_000_000\n");
    if (root != NULL) {
        const ps_toml_value *v;
        v = ps_toml_get(root, "max");
        CHECK(v && v->type == PS_TOML_INTEGER && v->u.integer == INT64_MAX, "max is INT64_MAX");
        v = ps_toml_get(root, "min");
        CHECK(v && v->type == PS_TOML_INTEGER && v->u.integer == INT64_MIN, "min is INT64_MIN");
        v = ps_toml_get(root, "hex");
        CHECK(v && v->u.integer == INT64_MAX, "hex is INT64_MAX");
        v = ps_toml_get(root, "oct");
        CHECK(v && v->u.integer == INT64_MAX, "oct is INT64_MAX");
        v = ps_toml_get(root, "bin");
        CHECK(v && v->u.integer == INT64_MAX, "bin is INT64_MAX");
        v = ps_toml_get(root, "plus");
        CHECK(v && v->u.integer == 17, "+17");
        v = ps_toml_get(root, "negzero");
        CHECK(v && v->u.integer == 0, "-0 is 0");
        v = ps_toml_get(root, "under");
        CHECK(v && v->u.integer == 1000000, "1_000_000 is %lld", v ? (long long)v->u.integer : 0LL);
    }
    ps_toml_destroy(&root);
    MUST_FAIL("n = 9223372036854775808", "integer 9223372036854775808 does not fit in 64 bits");
    MUST_FAIL("n = -9223372036854775809",
              "cfg.toml:1:5: error: integer -9223372036854775809 does not fit in 64 bits");
    MUST_FAIL("n = 99999999999999999999999", "does not fit in 64 bits");
    MUST_FAIL("n = 0x8000000000000000", "integer 0x8000000000000000 does not fit in 64 bits");
    MUST_FAIL("n = 0o1000000000000000000000", "does not fit in 64 bits");
    MUST_FAIL("n = 0b1000000000000000000000000000000000000000000000000000000000000000",
              "does not fit in 64 bits");
    MUST_FAIL("n = 012", "leading zeros are not allowed in '012'");
    MUST_FAIL("n = 1__2", "cfg.toml:1:6: error: an underscore in a number must stand between");
    MUST_FAIL("n = +0x1", "a hexadecimal integer cannot have a sign");
}

static void test_floats(void)
{
    ps_toml_value *root = MUST_PARSE("a = 6.02e23\nb = -inf\nc = +nan\nd = 1e-400\n"
                                     "e = 3.141_5\nf = -0.0\ng = 1E+2\nh = 0e0\n");
    if (root != NULL) {
        const ps_toml_value *v;
        v = ps_toml_get(root, "a");
        CHECK(v && v->type == PS_TOML_FLOAT && v->u.floating == 6.02e23, "6.02e23");
        v = ps_toml_get(root, "b");
        CHECK(v && isinf(v->u.floating) && v->u.floating < 0, "-inf");
        v = ps_toml_get(root, "c");
        CHECK(v && isnan(v->u.floating), "+nan");
        v = ps_toml_get(root, "d");
        CHECK(v && v->u.floating == 0.0, "1e-400 underflows to 0, got %g",
              v ? v->u.floating : -1.0);
        v = ps_toml_get(root, "e");
        CHECK(v && v->u.floating == 3.1415, "3.141_5");
        v = ps_toml_get(root, "f");
        CHECK(v && v->u.floating == 0.0 && signbit(v->u.floating), "-0.0 keeps its sign");
        v = ps_toml_get(root, "g");
        CHECK(v && v->u.floating == 100.0, "1E+2");
        v = ps_toml_get(root, "h");
        CHECK(v && v->type == PS_TOML_FLOAT && v->u.floating == 0.0, "0e0 is a float");
    }
    ps_toml_destroy(&root);
    MUST_FAIL("x = 1e400", "float 1e400 is out of range");
    MUST_FAIL("x = 1.", "cfg.toml:1:6: error: a decimal point must be followed by digits");
    MUST_FAIL("x = Inf", "invalid value 'Inf' (write inf and nan in lower case)");

    /* A float with more digits than fit a small buffer. */
    char *long_float = repeat("x = 0.", "1234567890", 30, "e-3\n");
    ps_toml_value *lf = must_parse(long_float, strlen(long_float), __LINE__);
    if (lf != NULL) {
        const ps_toml_value *x = ps_toml_get(lf, "x");
        CHECK_CLOSE(x->u.floating, 0.1234567890123456789e-3, 1e-15, "long float");
    }
    ps_toml_destroy(&lf);
    free(long_float);
}

static void test_datetimes(void)
{
    ps_toml_value *root = MUST_PARSE("odt = 1979-05-27T07:32:00.999999-07:30\n"
                                     "utc = 1979-05-27 07:32:00z\n"
                                     "ldt = 1979-05-27t07:32:00\n"
                                     "ld = 2000-02-29\n"
                                     "lt = 23:59:60.5\n"
                                     "long = 00:00:00.12345678901234567890123456789012345\n");
    if (root != NULL) {
        const ps_toml_value *v = ps_toml_get(root, "odt");
        CHECK(v && v->type == PS_TOML_DATETIME && v->u.datetime.year == 1979 &&
                  v->u.datetime.month == 5 && v->u.datetime.day == 27 && v->u.datetime.hour == 7 &&
                  v->u.datetime.minute == 32 && v->u.datetime.second == 0 &&
                  v->u.datetime.has_offset && v->u.datetime.offset_minutes == -450 &&
                  strcmp(v->u.datetime.fraction, "999999") == 0,
              "offset date-time fields");
        v = ps_toml_get(root, "utc");
        CHECK(v && v->type == PS_TOML_DATETIME && v->u.datetime.offset_minutes == 0 &&
                  v->u.datetime.has_offset,
              "space separator and lowercase z");
        v = ps_toml_get(root, "ldt");
        CHECK(v && v->type == PS_TOML_DATETIME_LOCAL && !v->u.datetime.has_offset,
              "local date-time with lowercase t");
        v = ps_toml_get(root, "ld");
        CHECK(v && v->type == PS_TOML_DATE_LOCAL && v->u.datetime.day == 29, "leap day 2000");
        v = ps_toml_get(root, "lt");
        CHECK(v && v->type == PS_TOML_TIME_LOCAL && v->u.datetime.second == 60 &&
                  strcmp(v->u.datetime.fraction, "5") == 0,
              "leap second with a fraction");
        v = ps_toml_get(root, "long");
        CHECK(v && strlen(v->u.datetime.fraction) == 31 &&
                  strncmp(v->u.datetime.fraction, "1234567890123456789012345678901", 31) == 0,
              "fraction truncated to 31 digits, got \"%s\"", v ? v->u.datetime.fraction : "");
    }
    ps_toml_destroy(&root);
    MUST_FAIL("d = 1900-02-29", "day 29 is out of range for 1900-02");
    MUST_FAIL("d = 2023-04-31", "day 31 is out of range for 2023-04");
    MUST_FAIL("d = 2023-13-01", "month 13 is out of range");
    MUST_FAIL("d = 24:00:00", "hour 24 is out of range");
    MUST_FAIL("d = 1979-05-27T07:32:00+24:00", "UTC offset +24:00 is out of range");
}

static void test_strings(void)
{
    ps_toml_value *root = MUST_PARSE("a = \"tab\\tquote\\\"back\\\\\\u00e9\\U0001F600\"\n"
                                     "b = \"\"\"\nfirst\\\n    second\"\"\"\n"
                                     "c = '''\nraw \\n'''\n"
                                     "d = \"\"\"two \"\"quotes\"\"\"\"\"\n"
                                     "e = \"nul\\u0000inside\"\n"
                                     "\"k\\u0000ey\" = 1\n");
    if (root != NULL) {
        const ps_toml_value *v = ps_toml_get(root, "a");
        const char *want_a = "tab\tquote\"back\\\xC3\xA9\xF0\x9F\x98\x80";
        CHECK(v && strcmp(v->u.string.data, want_a) == 0 && v->u.string.len == strlen(want_a),
              "escapes decoded to \"%s\"", v ? v->u.string.data : "");
        v = ps_toml_get(root, "b");
        CHECK(v && strcmp(v->u.string.data, "firstsecond") == 0,
              "first newline trimmed and line-ending backslash, got \"%s\"",
              v ? v->u.string.data : "");
        v = ps_toml_get(root, "c");
        CHECK(v && strcmp(v->u.string.data, "raw \\n") == 0, "literal keeps backslashes");
        v = ps_toml_get(root, "d");
        CHECK(v && strcmp(v->u.string.data, "two \"\"quotes\"\"") == 0,
              "quotes before the closing delimiter, got \"%s\"", v ? v->u.string.data : "");
        v = ps_toml_get(root, "e");
        CHECK(v && v->u.string.len == 10 && memcmp(v->u.string.data, "nul\0inside", 10) == 0 &&
                  v->u.string.data[10] == '\0',
              "\\u0000 kept inside the string with its length");
        CHECK(root->u.table.len == 6 && root->u.table.items[5].key_len == 4 &&
                  memcmp(root->u.table.items[5].key, "k\0ey", 4) == 0,
              "a key with a NUL byte keeps its length");
        CHECK(ps_toml_get(root, "k") == NULL, "a NUL-terminated lookup does not match k\\0ey");
    }
    ps_toml_destroy(&root);
    MUST_FAIL("s = \"\\uD800\"", "U+D800 is a surrogate");
    MUST_FAIL("s = \"\\U00110000\"", "code point beyond U+10FFFF");
    MUST_FAIL("s = \"\\x41\"", "invalid escape '\\x' in string");
    MUST_FAIL("s = \"a\tb\x01\"", "cfg.toml:1:9: error: control character U+0001 is not allowed");
    MUST_FAIL("s = \"\"\"a\x7f\"\"\"", "control character U+007F");
    MUST_FAIL("s = \"open\nt = 1", "cfg.toml:1:5: error: unterminated string");
}

static void test_nesting(void)
{
    char *text = repeat("a = ", "[", 128, "");
    char *closed = repeat(text, "]", 128, "\n");
    ps_toml_value *root = must_parse(closed, strlen(closed), __LINE__);
    if (root != NULL) {
        const ps_toml_value *v = ps_toml_get(root, "a");
        int depth = 0;
        while (v != NULL && v->type == PS_TOML_ARRAY) {
            depth++;
            v = v->u.array.len > 0 ? v->u.array.items[0] : NULL;
        }
        CHECK(depth == 128, "128 nested arrays decoded to depth %d", depth);
    }
    ps_toml_destroy(&root);
    free(text);
    free(closed);

    text = repeat("a = ", "[", 129, "");
    closed = repeat(text, "]", 129, "\n");
    must_fail(closed, strlen(closed),
              "cfg.toml:1:133: error: nesting too deep: tables, arrays and inline tables may be "
              "nested at most 128 levels",
              __LINE__);
    free(text);
    free(closed);

    text = repeat("a = ", "{b = ", 128, "1");
    closed = repeat(text, "}", 128, "\n");
    root = must_parse(closed, strlen(closed), __LINE__);
    ps_toml_destroy(&root);
    free(text);
    free(closed);
    text = repeat("a = ", "{b = ", 129, "1");
    closed = repeat(text, "}", 129, "\n");
    must_fail(closed, strlen(closed), "nesting too deep", __LINE__);
    free(text);
    free(closed);

    /* Tables named by headers and dotted keys count too. */
    text = repeat("[t", ".t", 127, "]\nx = 1\n");
    root = must_parse(text, strlen(text), __LINE__);
    ps_toml_destroy(&root);
    free(text);
    text = repeat("[t", ".t", 128, "]\n");
    must_fail(text, strlen(text), "nesting too deep", __LINE__);
    free(text);
    text = repeat("t", ".t", 128, " = 1\n");
    root = must_parse(text, strlen(text), __LINE__);
    ps_toml_destroy(&root);
    free(text);
    text = repeat("t", ".t", 129, " = 1\n");
    must_fail(text, strlen(text), "nesting too deep", __LINE__);
    free(text);
    /* [a.b] is at depth 2, so 126 arrays fit below it and 127 do not. */
    text = repeat("[a.b]\nx = ", "[", 126, "");
    closed = repeat(text, "]", 126, "\n");
    root = must_parse(closed, strlen(closed), __LINE__);
    ps_toml_destroy(&root);
    free(text);
    free(closed);
    text = repeat("[a.b]\nx = ", "[", 127, "");
    closed = repeat(text, "]", 127, "\n");
    must_fail(closed, strlen(closed), "nesting too deep", __LINE__);
    free(text);
    free(closed);
    /* A very long dotted key stops early instead of growing without bound. */
    text = repeat("t", ".t", 100000, " = 1\n");
    must_fail(text, strlen(text), "nesting too deep", __LINE__);
    free(text);
}

static void test_large(void)
{
    /* An 8 MB basic string with escapes, a 4 MB literal and a 4 MB multi-line string. */
    size_t units = 1 << 20;
    char *basic = repeat("s = \"", "abc\\n\\u00e9", units, "\"\n");
    ps_toml_value *root = must_parse(basic, strlen(basic), __LINE__);
    if (root != NULL) {
        const ps_toml_value *s = ps_toml_get(root, "s");
        CHECK(s && s->u.string.len == units * 6, "long string has %zu bytes, expected %zu",
              s ? s->u.string.len : (size_t)0, units * 6);
        CHECK(s && memcmp(s->u.string.data + 6 * (units - 1), "abc\n\xC3\xA9", 6) == 0 &&
                  s->u.string.data[units * 6] == '\0',
              "end of the long string");
    }
    ps_toml_destroy(&root);
    free(basic);
    char *literal = repeat("s = '", "wxyz", units, "'\nt = '''\n");
    char *both = repeat(literal, "line\r\n", units / 2, "'''\n");
    root = must_parse(both, strlen(both), __LINE__);
    if (root != NULL) {
        const ps_toml_value *s = ps_toml_get(root, "s");
        const ps_toml_value *t = ps_toml_get(root, "t");
        CHECK(s && s->u.string.len == units * 4, "long literal string length");
        CHECK(t && t->u.string.len == units / 2 * 5 && t->u.string.data[4] == '\n',
              "multi-line literal with CR LF normalised to LF: %zu bytes",
              t ? t->u.string.len : (size_t)0);
    }
    ps_toml_destroy(&root);
    free(literal);
    free(both);

    /* 200,000 keys in one table: built and looked up through the hash index. */
    size_t keys = 200000;
    char *many = malloc(keys * 32 + 16);
    size_t n = (size_t)sprintf(many, "[t]\n");
    for (size_t i = 0; i < keys; i++)
        n += (size_t)sprintf(many + n, "k%zu = %zu\n", i, i * 7);
    root = must_parse(many, n, __LINE__);
    if (root != NULL) {
        const ps_toml_value *t = ps_toml_get(root, "t");
        size_t wrong = 0;
        for (size_t i = 0; i < keys; i += 97) {
            char key[32];
            snprintf(key, sizeof key, "k%zu", i);
            const ps_toml_value *v = ps_toml_get(t, key);
            if (v == NULL || v->u.integer != (int64_t)(i * 7))
                wrong++;
        }
        CHECK(wrong == 0, "%zu lookups in the large table were wrong", wrong);
        CHECK(t && t->u.table.len == keys, "large table has %zu keys", t ? t->u.table.len : 0);
        CHECK(ps_toml_get(t, "k200000") == NULL && ps_toml_get(t, "k") == NULL,
              "absent keys in the large table");
    }
    ps_toml_destroy(&root);
    /* A duplicate at the end of the large table is found through the index. */
    n += (size_t)sprintf(many + n, "k123456 = 1\n");
    ps_status status;
    root = parse_n(many, n, &status);
    CHECK(status == PS_ERR_CONFIG, "duplicate in a large table must fail");
    char want[256];
    snprintf(want, sizeof want,
             "cfg.toml:%zu:1: error: duplicate key 'k123456' (first defined at line %d)", keys + 2,
             123456 + 2);
    CHECK_STR_CONTAINS(ps_error_message(), want);
    ps_error_clear();
    free(many);

    /* A very long line: the error is found, located and shown around the column. */
    char *wide = repeat("x = [", "1, ", 300000, "oops]\n");
    must_fail(wide, strlen(wide), "cfg.toml:1:900006: error: invalid value 'oops'", __LINE__);
    free(wide);
}

static void test_bytes(void)
{
    /* NUL bytes in the text itself are errors wherever they are. */
    static const char nul_value[] = "a = 1\0\n";
    must_fail(nul_value, sizeof nul_value - 1,
              "cfg.toml:1:6: error: expected end of line after the value, found a NUL byte",
              __LINE__);
    static const char nul_string[] = "a = \"x\0y\"\n";
    must_fail(nul_string, sizeof nul_string - 1,
              "cfg.toml:1:7: error: control character U+0000 is not allowed in a string", __LINE__);
    static const char nul_comment[] = "# c\0\na = 1\n";
    must_fail(nul_comment, sizeof nul_comment - 1,
              "cfg.toml:1:4: error: control character U+0000 is not allowed in a comment",
              __LINE__);
    static const char nul_key[] = "\0a = 1\n";
    must_fail(nul_key, sizeof nul_key - 1, "cfg.toml:1:1: error: expected a key", __LINE__);

    /* Invalid UTF-8 of several kinds, anywhere in the file. */
    MUST_FAIL("a = \"\xC0\x80\"", "cfg.toml:1:6: error: invalid UTF-8: overlong encoding");
    MUST_FAIL("a = \"\xE0\x80\x80\"", "invalid UTF-8: overlong encoding");
    MUST_FAIL("a = \"\xF0\x80\x80\x80\"", "invalid UTF-8: overlong encoding");
    MUST_FAIL("a = \"\xED\xA0\x80\"", "invalid UTF-8: encoded UTF-16 surrogate");
    MUST_FAIL("a = \"\xF4\x90\x80\x80\"", "invalid UTF-8: code point beyond U+10FFFF");
    MUST_FAIL("a = \"\xE2\x82\"", "invalid UTF-8: truncated sequence");
    MUST_FAIL("a = 1\n# \x80", "cfg.toml:2:3: error: invalid UTF-8: unexpected continuation");
    MUST_FAIL("a = 1 # \xFF", "invalid UTF-8: byte 0xFF never occurs in UTF-8");
    MUST_FAIL("a = 1 # \xF5\x80\x80\x80", "invalid UTF-8: byte 0xF5");
    MUST_FAIL("a = \"\xE2\x82\xAC\xE2\"", "invalid UTF-8: truncated sequence");
    ps_toml_value *root = MUST_PARSE(
        "\"\xC3\xA9\" = \"\xF0\x9F\x98\x80 \xE2\x82\xAC \xF4\x8F\xBF\xBF\" # \xEF\xBF\xBF");
    CHECK(root && ps_toml_get(root, "\xC3\xA9") != NULL, "valid UTF-8 in keys and strings");
    ps_toml_destroy(&root);
    MUST_FAIL("\xC3\xA9 = 1", "expected a key, a [table] header or a comment, found '\xC3\xA9' "
                              "(U+00E9)");

    /* A byte-order mark is skipped at the start and rejected anywhere else. */
    root = MUST_PARSE("\xEF\xBB\xBF"
                      "a = 1\n");
    CHECK(root && ps_toml_get(root, "a") && ps_toml_get(root, "a")->u.integer == 1, "BOM skipped");
    CHECK(root && root->u.table.items[0].key_offset == 3, "offsets count the BOM bytes");
    ps_toml_destroy(&root);
    root = MUST_PARSE("\xEF\xBB\xBF");
    CHECK(root && root->u.table.len == 0, "a lone BOM is an empty document");
    ps_toml_destroy(&root);
    MUST_FAIL("a = 1\n\xEF\xBB\xBF"
              "b = 2\n",
              "cfg.toml:2:1: error: expected a key");
    MUST_FAIL("\xEF\xBB\xBF\xEF\xBB\xBF"
              "a = 1\n",
              "found '\xEF\xBB\xBF' (U+FEFF)");

    /* CR LF line endings; a CR alone is an error. */
    root = MUST_PARSE("a = 1\r\n[t]\r\nb = \"\"\"x\r\ny\"\"\" # c\r\nc = [\r\n 1,\r\n]\r\n");
    if (root != NULL) {
        const ps_toml_value *b = ps_toml_get(ps_toml_get(root, "t"), "b");
        CHECK(b && strcmp(b->u.string.data, "x\ny") == 0, "CR LF in a multi-line string is LF");
        const ps_toml_value *c = ps_toml_get(ps_toml_get(root, "t"), "c");
        CHECK(c && c->type == PS_TOML_ARRAY && c->u.array.len == 1, "CR LF inside an array");
    }
    ps_toml_destroy(&root);
    MUST_FAIL("a = 1\rb = 2\n", "cfg.toml:1:6: error: carriage return not followed by a line feed");
    MUST_FAIL("# comment\r", "cfg.toml:1:10: error: carriage return not followed");
    MUST_FAIL("s = \"\"\"a\rb\"\"\"", "cfg.toml:1:9: error: carriage return not followed");
    MUST_FAIL("a = [1,\r2]", "carriage return not followed");
}

static void test_messages(void)
{
    MUST_FAIL_EXACTLY("[sampler]\nchains = 4\n\ndraws = 1000\ndraws = 2000\n",
                      "cfg.toml:5:1: error: duplicate key 'draws' (first defined at line 4)\n"
                      "    draws = 2000\n"
                      "    ^");
    MUST_FAIL_EXACTLY("[model]\n[sampler]\nchains = 4\n[sampler]\n",
                      "cfg.toml:4:1: error: table [sampler] defined twice (first at line 2)\n"
                      "    [sampler]\n"
                      "    ^");
    MUST_FAIL_EXACTLY("s = \"ab\\qc\"\n", "cfg.toml:1:8: error: invalid escape '\\q' in string\n"
                                          "    s = \"ab\\qc\"\n"
                                          "           ^");
    MUST_FAIL_EXACTLY("# c\nn = 9223372036854775808\n",
                      "cfg.toml:2:5: error: integer 9223372036854775808 does not fit in 64 bits "
                      "(the range is -9223372036854775808 to 9223372036854775807)\n"
                      "    n = 9223372036854775808\n"
                      "        ^");
    MUST_FAIL_EXACTLY("draws 1000\n", "cfg.toml:1:7: error: expected '=' after key, found '1'\n"
                                      "    draws 1000\n"
                                      "          ^");
    /* Columns count characters, not bytes; tabs are kept in the caret line. */
    MUST_FAIL_EXACTLY("\"\xC3\xA9t\xC3\xA9\" = \"\xE2\x82\xAC\\q\"\n",
                      "cfg.toml:1:11: error: invalid escape '\\q' in string\n"
                      "    \"\xC3\xA9t\xC3\xA9\" = \"\xE2\x82\xAC\\q\"\n"
                      "              ^");
    MUST_FAIL_EXACTLY("\tx =\t@\n", "cfg.toml:1:6: error: expected a value, found '@'\n"
                                    "    \tx =\t@\n"
                                    "    \t   \t^");
    MUST_FAIL_EXACTLY(
        "a = {b = 1,\n c = 2}\n",
        "cfg.toml:1:12: error: newlines are not allowed inside inline tables { ... }\n"
        "    a = {b = 1,\n"
        "               ^");
    MUST_FAIL_EXACTLY("x = [1, 2\n", "cfg.toml:2:1: error: expected ',' or ']' in array, found end "
                                     "of file\n"
                                     "    \n"
                                     "    ^");
    MUST_FAIL("a = {b = 1, }", "cfg.toml:1:11: error: a trailing comma is not allowed");
    MUST_FAIL("[a]\nb = 1\n[a.b]\n",
              "cfg.toml:3:1: error: cannot define table [a.b]: the key is already an integer "
              "(line 2)");
    MUST_FAIL("a = [1]\n[[a]]\n", "cfg.toml:2:1: error: cannot append to 'a' with [[a]]");
    MUST_FAIL("[a.b]\nx = 1\n[a]\nb.y = 2\n",
              "cfg.toml:4:1: error: cannot add keys to table [a.b] with dotted keys: it is "
              "defined by its own header at line 1");
    MUST_FAIL("\"a b\".c = 1\n\"a b\".c = 2\n",
              "duplicate key '\"a b\".c' (first defined at line 1)");
}

static void test_redefinition(void)
{
    /* A table implied by a header may be defined later by its own header or by dotted
     * keys, once. */
    ps_toml_value *root = MUST_PARSE("[fruit.apple.texture]\nsmooth = true\n"
                                     "[fruit]\napple.color = \"red\"\n");
    if (root != NULL) {
        const ps_toml_value *apple = ps_toml_get(ps_toml_get(root, "fruit"), "apple");
        CHECK(apple && apple->u.table.len == 2 && ps_toml_get(apple, "texture") &&
                  ps_toml_get(apple, "color"),
              "fruit.apple holds texture and color");
    }
    ps_toml_destroy(&root);
    MUST_FAIL("[fruit.apple.texture]\n[fruit]\napple.color = 1\n[fruit.apple]\n",
              "cfg.toml:4:1: error: table [fruit.apple] is already defined by dotted keys at "
              "line 3");
    root = MUST_PARSE("[[a]]\nx = 1\n[a.b]\ny = 2\n[[a]]\nx = 3\n[[a.c]]\n[[a.c]]\n");
    if (root != NULL) {
        const ps_toml_value *a = ps_toml_get(root, "a");
        CHECK(a && a->type == PS_TOML_ARRAY && a->u.array.len == 2, "two elements in [[a]]");
        const ps_toml_value *second = a ? a->u.array.items[1] : NULL;
        const ps_toml_value *c = ps_toml_get(second, "c");
        CHECK(c && c->type == PS_TOML_ARRAY && c->u.array.len == 2,
              "[[a.c]] belongs to the last element of a");
        CHECK(ps_toml_get(second, "b") == NULL && ps_toml_get(a->u.array.items[0], "b") != NULL,
              "[a.b] belongs to the first element");
    }
    ps_toml_destroy(&root);
    MUST_FAIL("a = {}\na.b = 1\n", "cannot add keys to 'a': it is an inline table");
    MUST_FAIL("a = {b = {}}\n[a.b.c]\n", "cannot add a table to 'a': it is an inline table");
    MUST_FAIL("a = []\n[a.b]\n", "cannot add a table to 'a': it is an array value");
    MUST_FAIL("a.b = 1\n[a]\n", "table [a] is already defined by dotted keys at line 1");
    MUST_FAIL("[[a]]\n[a]\n", "table [a] conflicts with the array of tables [[a]] at line 1");
    MUST_FAIL("a = {b.c = 1, b.c = 2}\n", "duplicate key 'b.c' (first defined at line 1)");
    root = MUST_PARSE("a = {b.c = 1, b.d = 2}\nt.u = {v = [1, {w = 2}]}\n");
    CHECK(root && ps_toml_get(ps_toml_get(ps_toml_get(root, "a"), "b"), "d"),
          "dotted keys inside an inline table");
    ps_toml_destroy(&root);
}

/* Every allocation of a parse fails in turn: the parse either succeeds or reports
 * PS_ERR_MEM, and ASan finds no leak. */
static void test_allocation_failures(void)
{
    char digits[201];
    for (int i = 0; i < 200; i++)
        digits[i] = (char)('0' + (i * 7) % 10);
    digits[200] = '\0';
    char *doc = malloc(64 * 1024);
    size_t n = (size_t)sprintf(doc,
                               "title = \"t\\u00e9st\"\n"
                               "long = 0.%s\n"
                               "[owner]\nname = 'Tom'\ndob = 1979-05-27T07:32:00-08:00\n"
                               "[database]\nports = [ 8000, 8001, 8002 ]\n"
                               "data = [ [\"delta\", \"phi\"], [3.14] ]\n"
                               "temp_targets = { cpu = 79.5, case.max = 72.0 }\n"
                               "[servers.alpha]\nip = \"10.0.0.1\"\n"
                               "[[products]]\nname = \"Hammer\"\nsku = 738594937\n"
                               "[[products]]\n[[products]]\ncolor = \"gray\"\n"
                               "[fruit.apple.texture]\nsmooth = true\n"
                               "[fruit]\napple.color = \"red\"\n",
                               digits);
    n += (size_t)sprintf(doc + n, "[many]\n");
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(doc + n, "key%d = %d\n", i, i);
    n += (size_t)sprintf(doc + n, "big = \"");
    for (int i = 0; i < 5000; i++)
        doc[n++] = (char)('a' + i % 26);
    n += (size_t)sprintf(doc + n, "\"\n");

    ps_error_clear();
    long before = ps_fault_alloc_count();
    ps_toml_value *root = NULL;
    ps_status status = ps_toml_parse(PATH, doc, n, &root);
    long total = ps_fault_alloc_count() - before;
    CHECK(status == PS_OK, "the fault-injection document must parse: %s", ps_error_message());
    CHECK(total > 100, "the document should need many allocations, counted %ld", total);
    ps_toml_destroy(&root);

    int mem_failures = 0, other = 0, successes = 0;
    for (long k = 1; k <= total + 1; k++) {
        ps_error_clear();
        ps_fault_alloc_after(k);
        root = NULL;
        status = ps_toml_parse(PATH, doc, n, &root);
        ps_fault_alloc_after(0);
        if (status == PS_OK) {
            successes++;
            CHECK(root != NULL, "success without a tree at k=%ld", k);
        } else if (status == PS_ERR_MEM && root == NULL &&
                   strstr(ps_error_message(), "out of memory") != NULL) {
            mem_failures++;
        } else {
            other++;
            CHECK(0, "allocation %ld failing gave status %d, root %p, message \"%s\"", k,
                  (int)status, (void *)root, ps_error_message());
        }
        ps_toml_destroy(&root);
    }
    CHECK(mem_failures == total, "%d of %ld injected failures reported PS_ERR_MEM", mem_failures,
          total);
    CHECK(successes == 1 && other == 0, "%d successes (expected 1, k = total + 1), %d others",
          successes, other);
    ps_error_clear();
    free(doc);
}

int main(void)
{
    test_lookups();
    test_integers();
    test_floats();
    test_datetimes();
    test_strings();
    test_nesting();
    test_large();
    test_bytes();
    test_messages();
    test_redefinition();
    test_allocation_failures();
    TEST_EXIT();
}
