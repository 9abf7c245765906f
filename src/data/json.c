/*
 * The Stan JSON data reader: one pass over the text, straight into typed arrays.
 *
 * Why not cJSON: the rules in data.h need what a tree of cJSON nodes does not keep or does
 * not check. Every message points at a line and column, so each value's offset is needed;
 * an int declaration accepts a number only if it was written as an integer literal, so the
 * literal's text is needed (cJSON keeps a double, exact only up to 2^53, and no text);
 * CmdStan reads the bare words NaN and Infinity, which cJSON rejects; cJSON accepts things
 * JSON does not (any byte up to 0x20 as whitespace, "01", "1.", invalid UTF-8) and cuts
 * number literals at 63 characters; and a node of some 64 bytes per number would make a
 * large file cost about ten times its data. A strict reader that writes each value to its
 * array as it goes keeps positions, exactness and memory (the text plus the arrays, grown by
 * doubling) under control. The grammar is RFC 8259's.
 *
 * Nothing here recurses: arrays are followed with a fixed stack of PS_DATA_MAX_DIMS levels,
 * skipped values with one of PS_DATA_MAX_NESTING, so no input can exhaust the C stack, and
 * every byte is looked at a bounded number of times.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"

typedef struct reader {
    const char *path;
    const char *text; /* NUL-terminated */
    size_t len;
    size_t pos;
    ps_data *data;
    ps_strbuf str; /* the last string read, decoded */
} reader;

/* One element of a data value. */
typedef enum element_kind {
    EL_INT,     /* an integer literal in Stan's int range: `integer` */
    EL_BIG_INT, /* an integer literal outside it: `real` is its value */
    EL_REAL,    /* a number with fraction or exponent, or a non-finite real: `real` */
} element_kind;

typedef struct element {
    element_kind kind;
    int64_t integer;
    double real;
} element;

/* A number token: its extent and what it is. */
typedef struct number_token {
    size_t start, len;
    bool integer_literal; /* no fraction, no exponent */
    int atom;             /* 0: a number; 1: NaN; 2: Inf/Infinity; 3: -Inf/-Infinity */
} number_token;

static ps_status fail(const reader *r, size_t offset, const char *fmt, ...) PS_PRINTF(3, 4);

static ps_status fail(const reader *r, size_t offset, const char *fmt, ...)
{
    size_t line, col;
    ps_text_position(r->text, r->len, offset, &line, &col);
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return ps_error_at(PS_ERR_DATA, r->path, r->text, r->len, line, col, "%s", message);
}

static ps_status out_of_memory(void)
{
    return ps_error(PS_ERR_MEM, "out of memory reading data");
}

/* ---------------------------------------------------------------------------------------
 * Lexical level
 * ------------------------------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

static void skip_space(reader *r)
{
    while (r->pos < r->len && is_space(r->text[r->pos]))
        r->pos++;
}

/* What is at offset, for "expected X, found Y". */
static const char *describe(const reader *r, size_t offset, char *buf, size_t cap)
{
    if (offset >= r->len)
        return "the end of the file";
    unsigned char c = (unsigned char)r->text[offset];
    switch (c) {
    case '[':
        return "'[' (an array)";
    case '{':
        return "'{' (an object)";
    case '"':
        return "a string";
    case ' ':
        return "a space";
    case '\t':
        return "a tab";
    case '\n':
    case '\r':
        return "a line break";
    default:
        break;
    }
    if (c == '-' || is_digit((char)c))
        return "a number";
    if (is_word_char((char)c)) {
        size_t n = 0;
        while (offset + n < r->len && n < 32 && is_word_char(r->text[offset + n]))
            n++;
        snprintf(buf, cap, "'%.*s'", (int)n, r->text + offset);
    } else if (c > 0x20 && c < 0x7f) {
        snprintf(buf, cap, "'%c'", c);
    } else {
        snprintf(buf, cap, "byte 0x%02x", c);
    }
    return buf;
}

/* Writes s[0..len) quoted for a message: printable ASCII as is, other bytes escaped, long
 * strings cut. */
static const char *show(const char *s, size_t len, char *buf, size_t cap)
{
    size_t used = 0;
    buf[used++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (used + 8 >= cap) {
            used += (size_t)snprintf(buf + used, cap - used, "...");
            break;
        }
        if (c == '"' || c == '\\')
            used += (size_t)snprintf(buf + used, cap - used, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            buf[used++] = (char)c;
        else
            used += (size_t)snprintf(buf + used, cap - used, "\\x%02x", c);
    }
    if (used + 2 <= cap) {
        buf[used++] = '"';
        buf[used] = '\0';
    } else {
        buf[cap - 1] = '\0';
    }
    return buf;
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 if it is not valid (overlong
 * forms, surrogates and code points above U+10FFFF are invalid; RFC 3629). */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* Reads 4 hex digits at r->text[at]; false if they are not there. */
static bool hex4(const reader *r, size_t at, uint32_t *out)
{
    uint32_t v = 0;
    if (r->len - at < 4)
        return false;
    for (size_t i = 0; i < 4; i++) {
        char c = r->text[at + i];
        uint32_t d;
        if (is_digit(c))
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return false;
        v = 16 * v + d;
    }
    *out = v;
    return true;
}

/* Reads the string at r->pos (a '"') into r->str, decoded; leaves r->pos after it. */
static ps_status read_string(reader *r)
{
    size_t open = r->pos++;
    ps_strbuf_clear(&r->str);
    /* An empty buffer has no data pointer yet: give it one, so keys can be "". */
    ps_strbuf_append(&r->str, "", 0);
    for (;;) {
        size_t run = r->pos;
        while (r->pos < r->len) {
            unsigned char c = (unsigned char)r->text[r->pos];
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
                break;
            r->pos++;
        }
        ps_strbuf_append(&r->str, r->text + run, r->pos - run);
        if (r->pos >= r->len)
            return fail(r, open, "unterminated string (no closing '\"')");
        unsigned char c = (unsigned char)r->text[r->pos];
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c == '\n' || c == '\r')
            return fail(r, r->pos, "line break inside a string (is a closing '\"' missing?)");
        if (c < 0x20)
            return fail(r, r->pos,
                        "control character (byte 0x%02x) inside a string: write it as an "
                        "escape such as \\u%04x",
                        c, c);
        if (c >= 0x80) {
            size_t n = utf8_sequence((const unsigned char *)r->text + r->pos, r->len - r->pos);
            if (n == 0)
                return fail(r, r->pos, "invalid UTF-8 (byte 0x%02x) inside a string", c);
            ps_strbuf_append(&r->str, r->text + r->pos, n);
            r->pos += n;
            continue;
        }
        /* A backslash escape. */
        size_t esc = r->pos;
        if (r->pos + 1 >= r->len)
            return fail(r, open, "unterminated string (no closing '\"')");
        char e = r->text[r->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple != NULL) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            ps_strbuf_putc(&r->str, decoded[simple - "\"\\/bfnrt"]);
            r->pos += 2;
            continue;
        }
        if (e != 'u') {
            char what[8];
            if ((unsigned char)e > 0x20 && (unsigned char)e < 0x7f)
                snprintf(what, sizeof what, "%c", e);
            else
                snprintf(what, sizeof what, "x%02x", (unsigned char)e);
            return fail(r, esc,
                        "invalid escape '\\%s' in a string (JSON has \\\" \\\\ \\/ \\b "
                        "\\f \\n \\r \\t \\uXXXX)",
                        what);
        }
        uint32_t cp;
        if (!hex4(r, r->pos + 2, &cp))
            return fail(r, esc, "invalid escape: four hex digits must follow \\u");
        r->pos += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(r, esc, "invalid escape: \\u%04X is a low surrogate without a high one",
                        (unsigned)cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (r->len - r->pos < 2 || r->text[r->pos] != '\\' || r->text[r->pos + 1] != 'u' ||
                !hex4(r, r->pos + 2, &low) || low < 0xDC00 || low > 0xDFFF)
                return fail(r, esc,
                            "invalid escape: the high surrogate \\u%04X must be followed by a "
                            "low surrogate \\uDC00-\\uDFFF",
                            (unsigned)cp);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            r->pos += 6;
        }
        char utf8[4];
        ps_strbuf_append(&r->str, utf8, ps_utf8_encode(cp, utf8));
    }
    if (r->str.failed)
        return out_of_memory();
    return PS_OK;
}

/* Matches the bare word w at offset (and nothing longer). */
static bool word_at(const reader *r, size_t offset, const char *w)
{
    size_t n = strlen(w);
    return r->len - offset >= n && memcmp(r->text + offset, w, n) == 0 &&
           (offset + n == r->len || !is_word_char(r->text[offset + n]));
}

/* Lexes the number at r->pos (a '-', a digit, or the bare words NaN, Inf, Infinity with an
 * optional '-') by RFC 8259, Section 6. Leaves r->pos after it. */
static ps_status lex_number(reader *r, number_token *t)
{
    size_t start = r->pos, p = r->pos;
    memset(t, 0, sizeof *t);
    t->start = start;
    bool minus = r->text[p] == '-';
    if (minus)
        p++;
    if (!minus && word_at(r, p, "NaN")) {
        t->atom = 1;
        p += 3;
    } else if (word_at(r, p, "Infinity") || word_at(r, p, "Inf")) {
        t->atom = minus ? 3 : 2;
        p += word_at(r, p, "Inf") ? 3 : 8;
    }
    if (t->atom != 0) {
        t->len = p - start;
        r->pos = p;
        return PS_OK;
    }
    char buf[48];
    if (p >= r->len || !is_digit(r->text[p]))
        return fail(r, start, "invalid number: a digit must follow '-' (found %s)",
                    describe(r, p, buf, sizeof buf));
    if (r->text[p] == '0') {
        p++;
        if (p < r->len && is_digit(r->text[p]))
            return fail(r, start, "invalid number: JSON numbers have no leading zeros");
    } else {
        while (p < r->len && is_digit(r->text[p]))
            p++;
    }
    t->integer_literal = true;
    if (p < r->len && r->text[p] == '.') {
        p++;
        t->integer_literal = false;
        if (p >= r->len || !is_digit(r->text[p]))
            return fail(r, start, "invalid number: a digit must follow the decimal point");
        while (p < r->len && is_digit(r->text[p]))
            p++;
    }
    if (p < r->len && (r->text[p] == 'e' || r->text[p] == 'E')) {
        p++;
        t->integer_literal = false;
        if (p < r->len && (r->text[p] == '+' || r->text[p] == '-'))
            p++;
        if (p >= r->len || !is_digit(r->text[p]))
            return fail(r, start, "invalid number: a digit must follow the exponent 'e'");
        while (p < r->len && is_digit(r->text[p]))
            p++;
    }
    /* "12abc", "1.5.3", "0x1F": the literal does not end where JSON's grammar does. */
    if (p < r->len &&
        (is_word_char(r->text[p]) || r->text[p] == '.' || r->text[p] == '+' || r->text[p] == '-')) {
        size_t end = p;
        while (end < r->len && end - start < 40 &&
               (is_word_char(r->text[end]) || strchr(".+-", r->text[end]) != NULL))
            end++;
        return fail(r, start, "invalid number '%.*s'", (int)(end - start), r->text + start);
    }
    t->len = p - start;
    r->pos = p;
    return PS_OK;
}

/* The value of a number token. Integer literals are read exactly; everything else is what
 * strtod gives for the literal (correctly rounded in glibc). */
static ps_status number_value(const reader *r, const number_token *t, const char *name, element *e)
{
    memset(e, 0, sizeof *e);
    if (t->atom != 0) {
        e->kind = EL_REAL;
        e->real = t->atom == 1 ? NAN : t->atom == 2 ? INFINITY : -INFINITY;
        return PS_OK;
    }
    const char *s = r->text + t->start;
    if (t->integer_literal) {
        bool minus = s[0] == '-';
        uint64_t magnitude = 0;
        bool big = false;
        for (size_t i = minus ? 1 : 0; i < t->len && !big; i++) {
            uint64_t digit = (uint64_t)(s[i] - '0');
            if (magnitude > (UINT64_MAX - digit) / 10)
                big = true;
            else
                magnitude = 10 * magnitude + digit;
        }
        uint64_t limit = minus ? (uint64_t)PS_DATA_INT_MAX + 1 : (uint64_t)PS_DATA_INT_MAX;
        if (!big && magnitude <= limit) {
            e->kind = EL_INT;
            e->integer = minus ? -(int64_t)magnitude : (int64_t)magnitude;
            return PS_OK;
        }
    }
    /* strtod needs a NUL after the literal: copy it (literals are short, but JSON puts no
     * bound on their length). */
    char local[128];
    char *copy = local;
    if (t->len >= sizeof local) {
        copy = ps_malloc(t->len + 1);
        if (copy == NULL)
            return out_of_memory();
    }
    memcpy(copy, s, t->len);
    copy[t->len] = '\0';
    char *end = NULL;
    errno = 0;
    double x = strtod(copy, &end);
    bool complete = end == copy + t->len;
    if (copy != local)
        ps_free(copy);
    if (!complete)
        return ps_error(PS_ERR_INTERNAL,
                        "%s: strtod did not read the number '%.*s' of '%s' (is LC_NUMERIC not "
                        "\"C\"?)",
                        r->path, (int)(t->len < 40 ? t->len : 40), s, name);
    if (isinf(x))
        return fail(r, t->start, "'%s': the number %.*s%s is too large for a double", name,
                    (int)(t->len < 40 ? t->len : 40), s, t->len > 40 ? "..." : "");
    e->kind = t->integer_literal ? EL_BIG_INT : EL_REAL;
    e->real = x;
    return PS_OK;
}

/* The strings that stand for non-finite reals (see data.h); false for any other. */
static bool special_string(const char *s, size_t len, double *x)
{
    static const struct {
        const char *text;
        int sign;
    } names[] = {
        {"NaN", 0},      {"nan", 0},       {"Inf", 1},        {"+Inf", 1},       {"-Inf", -1},
        {"Infinity", 1}, {"+Infinity", 1}, {"-Infinity", -1}, {"inf", 1},        {"+inf", 1},
        {"-inf", -1},    {"infinity", 1},  {"+infinity", 1},  {"-infinity", -1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].text) == len && memcmp(names[i].text, s, len) == 0) {
            *x = names[i].sign == 0 ? NAN : names[i].sign > 0 ? INFINITY : -INFINITY;
            return true;
        }
    }
    return false;
}

/* Reads one element of a data value at r->pos: a number, a special string or word. Any
 * other value is an error naming the variable. */
static ps_status read_element(reader *r, const char *name, element *e)
{
    memset(e, 0, sizeof *e);
    size_t at = r->pos;
    char c = r->text[at];
    char buf[160];
    if (c == '"') {
        PS_CHECK(read_string(r));
        if (special_string(r->str.data, r->str.len, &e->real)) {
            e->kind = EL_REAL;
            return PS_OK;
        }
        return fail(r, at,
                    "'%s': the string %s is not a number (only \"NaN\", \"Inf\", \"-Inf\" and "
                    "their variants stand for reals)",
                    name, show(r->str.data, r->str.len, buf, 64));
    }
    if (c == '-' || is_digit(c) || word_at(r, at, "NaN") || word_at(r, at, "Inf") ||
        word_at(r, at, "Infinity")) {
        number_token t;
        PS_CHECK(lex_number(r, &t));
        return number_value(r, &t, name, e);
    }
    if (c == '{')
        return fail(r, at, "'%s': tuples (JSON objects as values) are not supported yet", name);
    if (c == '+')
        return fail(r, at, "'%s': JSON numbers have no leading '+'", name);
    if (c == '.')
        return fail(r, at, "'%s': a JSON number needs a digit before the decimal point", name);
    if (word_at(r, at, "true") || word_at(r, at, "false"))
        return fail(r, at, "'%s': true and false are not Stan data (write 1 or 0)", name);
    if (word_at(r, at, "null"))
        return fail(r, at, "'%s': null is not Stan data (Stan has no missing values)", name);
    if (is_word_char(c))
        return fail(r, at,
                    "'%s': %s is not a JSON value (write a number, or \"NaN\", \"Inf\" or "
                    "\"-Inf\")",
                    name, describe(r, at, buf, sizeof buf));
    return fail(r, at, "'%s': expected a value, found %s", name, describe(r, at, buf, sizeof buf));
}

/* ---------------------------------------------------------------------------------------
 * Values: elements into a growing array, int while they all are
 * ------------------------------------------------------------------------------------- */

typedef struct builder {
    int64_t *ints;
    double *reals;
    size_t n, cap;
    bool is_real;
    bool have_non_int;
    size_t first_non_int;
    bool out_of_range;
} builder;

static void builder_free(builder *b)
{
    ps_free(b->ints);
    ps_free(b->reals);
    memset(b, 0, sizeof *b);
}

/* Turns the ints read so far into doubles (exact: they are in Stan's int range). */
static ps_status builder_to_real(builder *b)
{
    double *reals = ps_malloc((b->cap > 0 ? b->cap : 1) * sizeof *reals);
    if (reals == NULL)
        return out_of_memory();
    for (size_t i = 0; i < b->n; i++)
        reals[i] = (double)b->ints[i];
    ps_free(b->ints);
    b->ints = NULL;
    b->reals = reals;
    b->is_real = true;
    return PS_OK;
}

static ps_status builder_push(builder *b, const element *e)
{
    if (e->kind != EL_INT && !b->have_non_int) {
        b->have_non_int = true;
        b->first_non_int = b->n;
        b->out_of_range = e->kind == EL_BIG_INT;
    }
    if (e->kind != EL_INT && !b->is_real)
        PS_CHECK(builder_to_real(b));
    if (b->n == b->cap) {
        size_t cap = b->cap == 0 ? 16 : 2 * b->cap;
        if (b->is_real)
            PS_CHECK(ps_realloc_array(&b->reals, cap, sizeof *b->reals, "data values"));
        else
            PS_CHECK(ps_realloc_array(&b->ints, cap, sizeof *b->ints, "data values"));
        b->cap = cap;
    }
    if (b->is_real)
        b->reals[b->n++] = e->kind == EL_INT ? (double)e->integer : e->real;
    else
        b->ints[b->n++] = e->integer;
    return PS_OK;
}

/* "y[3, 2]" for the array at nesting level `level` whose 1-based indices are idx[0..level). */
static const char *row_text(const char *name, const size_t *idx, int level, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s", name);
    size_t used = n > 0 ? (size_t)n : 0;
    for (int k = 0; k < level && used < cap; k++) {
        n = snprintf(buf + used, cap - used, "%s%zu", k == 0 ? "[" : ", ", idx[k]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (level > 0 && used < cap)
        snprintf(buf + used, cap - used, "]");
    return buf;
}

enum { KIND_UNKNOWN = 0, KIND_NUMBERS = 1, KIND_ARRAYS = 2 };

/*
 * Reads the value of variable `name` at r->pos into v: a scalar, or nested arrays that must
 * be rectangular. Shapes are inferred in one pass: level k's extent is fixed by the first
 * array at level k to close (it is always name[1, ..., 1]) and every later one must agree;
 * each level holds either numbers or arrays, never both. The deepest level reached gives
 * ndim, so "[[], []]" has dims {2, 0}.
 */
static ps_status read_value(reader *r, const char *name, ps_data_var *v)
{
    builder b;
    memset(&b, 0, sizeof b);
    ps_status status = PS_OK;
    char buf[160], buf2[160];
    v->offset = r->pos;
    if (r->text[r->pos] != '[') {
        element e;
        PS_TRY(read_element(r, name, &e));
        PS_TRY(builder_push(&b, &e));
        v->ndim = 0;
    } else {
        size_t count[PS_DATA_MAX_DIMS], dims[PS_DATA_MAX_DIMS], opened_at[PS_DATA_MAX_DIMS];
        int kind[PS_DATA_MAX_DIMS];
        for (int k = 0; k < PS_DATA_MAX_DIMS; k++) {
            dims[k] = (size_t)-1;
            kind[k] = KIND_UNKNOWN;
        }
        int depth = 0, deepest = 0;
        for (;;) {
            /* A value at level depth - 1 (or the outermost array when depth == 0). */
            skip_space(r);
            size_t at = r->pos;
            if (at < r->len && r->text[at] == '[') {
                if (depth == PS_DATA_MAX_DIMS)
                    PS_TRY(fail(r, at,
                                "'%s' is nested deeper than %d arrays (psample reads at most %d "
                                "dimensions)",
                                name, PS_DATA_MAX_DIMS, PS_DATA_MAX_DIMS));
                if (depth > 0) {
                    if (kind[depth - 1] == KIND_NUMBERS)
                        PS_TRY(
                            fail(r, at, "'%s' mixes numbers and arrays at depth %d", name, depth));
                    kind[depth - 1] = KIND_ARRAYS;
                    count[depth - 1]++;
                }
                opened_at[depth] = at;
                count[depth++] = 0;
                if (depth > deepest)
                    deepest = depth;
                r->pos++;
                skip_space(r);
                if (r->pos >= r->len || r->text[r->pos] != ']')
                    continue;
            } else if (at >= r->len) {
                PS_TRY(fail(r, at,
                            "'%s': unterminated array (expected a value or ']', found "
                            "the end of the file)",
                            name));
            } else {
                if (r->text[at] == ']' && count[depth - 1] > 0)
                    PS_TRY(fail(r, at, "'%s': expected a value after ',', found ']'", name));
                if (kind[depth - 1] == KIND_ARRAYS)
                    PS_TRY(fail(r, at, "'%s' mixes numbers and arrays at depth %d", name, depth));
                kind[depth - 1] = KIND_NUMBERS;
                count[depth - 1]++;
                element e;
                PS_TRY(read_element(r, name, &e));
                PS_TRY(builder_push(&b, &e));
            }
            /* After a value: ',' goes on to the next one, ']' closes arrays. */
            for (;;) {
                skip_space(r);
                if (r->pos < r->len && r->text[r->pos] == ',') {
                    r->pos++;
                    break;
                }
                if (r->pos < r->len && r->text[r->pos] == ']') {
                    int level = depth - 1;
                    if (dims[level] == (size_t)-1) {
                        dims[level] = count[level];
                    } else if (dims[level] != count[level]) {
                        size_t ones[PS_DATA_MAX_DIMS];
                        for (int k = 0; k < level; k++)
                            ones[k] = 1;
                        PS_TRY(fail(r, opened_at[level],
                                    "'%s': %s has %zu element%s but %s has %zu (arrays must be "
                                    "rectangular)",
                                    name, row_text(name, count, level, buf, sizeof buf),
                                    count[level], count[level] == 1 ? "" : "s",
                                    row_text(name, ones, level, buf2, sizeof buf2), dims[level]));
                    }
                    r->pos++;
                    if (--depth == 0)
                        break;
                    continue;
                }
                PS_TRY(fail(r, r->pos, "'%s': expected ',' or ']' in the array, found %s", name,
                            describe(r, r->pos, buf, sizeof buf)));
            }
            if (depth == 0)
                break;
        }
        v->ndim = deepest;
        for (int k = 0; k < deepest; k++)
            v->dims[k] = dims[k];
    }
    if (!ps_data_dims_product(v->dims, v->ndim, &v->size) || v->size != b.n) {
        status =
            ps_error(PS_ERR_INTERNAL, "%s: '%s': shape and element count disagree", r->path, name);
        goto done;
    }
    v->type = b.is_real ? PS_DATA_REAL : PS_DATA_INT;
    v->first_non_int = b.first_non_int;
    v->int_out_of_range = b.out_of_range;
    if (b.is_real) {
        v->reals = b.reals;
        b.reals = NULL;
    } else {
        v->ints = b.ints;
        b.ints = NULL;
        if (v->ints == NULL) { /* an empty array: give it storage all the same */
            v->ints = ps_malloc(sizeof *v->ints);
            if (v->ints == NULL)
                status = out_of_memory();
        }
    }
done:
    builder_free(&b);
    return status;
}

/* Skips any JSON value at r->pos (the value of a key that is not a Stan identifier),
 * checking its syntax. Iterative, with a stack of PS_DATA_MAX_NESTING containers. */
static ps_status skip_value(reader *r, const char *shown_key)
{
    char stack[PS_DATA_MAX_NESTING];
    int depth = 0;
    char buf[160];
    for (;;) {
        skip_space(r);
        size_t at = r->pos;
        char c = at < r->len ? r->text[at] : '\0';
        bool opened = false;
        if (at >= r->len) {
            return fail(r, at, "expected a value, found the end of the file");
        } else if (c == '[' || c == '{') {
            if (depth == PS_DATA_MAX_NESTING)
                return fail(r, at, "the value of %s is nested deeper than %d levels", shown_key,
                            PS_DATA_MAX_NESTING);
            stack[depth++] = c;
            r->pos++;
            skip_space(r);
            char close = c == '[' ? ']' : '}';
            if (r->pos < r->len && r->text[r->pos] == close) {
                r->pos++;
                depth--;
            } else {
                opened = true;
            }
        } else if (c == '"') {
            PS_CHECK(read_string(r));
        } else if (c == '-' || is_digit(c) || word_at(r, at, "NaN") || word_at(r, at, "Inf") ||
                   word_at(r, at, "Infinity")) {
            number_token t;
            PS_CHECK(lex_number(r, &t));
        } else if (word_at(r, at, "true") || word_at(r, at, "null")) {
            r->pos += 4;
        } else if (word_at(r, at, "false")) {
            r->pos += 5;
        } else {
            return fail(r, at, "expected a value, found %s", describe(r, at, buf, sizeof buf));
        }
        /* In an object, a member starts with its key. */
        if (opened && stack[depth - 1] == '{') {
            if (r->text[r->pos] != '"')
                return fail(r, r->pos, "expected a key (a string), found %s",
                            describe(r, r->pos, buf, sizeof buf));
            PS_CHECK(read_string(r));
            skip_space(r);
            if (r->pos >= r->len || r->text[r->pos] != ':')
                return fail(r, r->pos, "expected ':' after a key, found %s",
                            describe(r, r->pos, buf, sizeof buf));
            r->pos++;
            continue;
        }
        if (opened)
            continue;
        /* After a value. */
        for (;;) {
            if (depth == 0)
                return PS_OK;
            skip_space(r);
            char close = stack[depth - 1] == '[' ? ']' : '}';
            if (r->pos < r->len && r->text[r->pos] == ',') {
                r->pos++;
                if (stack[depth - 1] == '{') {
                    skip_space(r);
                    if (r->pos >= r->len || r->text[r->pos] != '"')
                        return fail(r, r->pos, "expected a key (a string), found %s",
                                    describe(r, r->pos, buf, sizeof buf));
                    PS_CHECK(read_string(r));
                    skip_space(r);
                    if (r->pos >= r->len || r->text[r->pos] != ':')
                        return fail(r, r->pos, "expected ':' after a key, found %s",
                                    describe(r, r->pos, buf, sizeof buf));
                    r->pos++;
                }
                break;
            }
            if (r->pos < r->len && r->text[r->pos] == close) {
                r->pos++;
                depth--;
                continue;
            }
            return fail(r, r->pos, "expected ',' or '%c', found %s", close,
                        describe(r, r->pos, buf, sizeof buf));
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * The top-level object
 * ------------------------------------------------------------------------------------- */

static ps_status read_member(reader *r)
{
    char buf[160], shown[96];
    size_t key_offset = r->pos;
    PS_CHECK(read_string(r));
    size_t key_len = r->str.len;
    bool identifier = ps_data_is_identifier(r->str.data, key_len);
    show(r->str.data, key_len, shown, sizeof shown);
    ps_data_var v;
    memset(&v, 0, sizeof v);
    if (identifier) {
        v.name = ps_strndup(r->str.data, key_len);
        if (v.name == NULL)
            return out_of_memory();
    }
    ps_status status = PS_OK;
    skip_space(r);
    if (r->pos >= r->len || r->text[r->pos] != ':')
        PS_TRY(fail(r, r->pos, "expected ':' after the key %s, found %s", shown,
                    describe(r, r->pos, buf, sizeof buf)));
    r->pos++;
    skip_space(r);
    if (!identifier) {
        PS_TRY(skip_value(r, shown));
        goto done;
    }
    size_t first = ps_data_lookup(r->data, v.name, key_len);
    if (first != (size_t)-1) {
        size_t line, col;
        ps_text_position(r->text, r->len, r->data->key_offsets[first], &line, &col);
        PS_TRY(fail(r, key_offset, "duplicate key '%s' (first given at line %zu)", v.name, line));
    }
    if (r->pos >= r->len)
        PS_TRY(fail(r, r->pos, "'%s': expected a value, found the end of the file", v.name));
    PS_TRY(read_value(r, v.name, &v));
    PS_TRY(ps_data_append(r->data, &v, key_offset));
done:
    ps_data_var_free(&v);
    return status;
}

static ps_status read_document(reader *r)
{
    char buf[160];
    if (r->len >= 3 && memcmp(r->text, "\xEF\xBB\xBF", 3) == 0)
        r->pos = 3;
    skip_space(r);
    if (r->pos >= r->len || r->text[r->pos] != '{')
        return fail(r, r->pos, "expected a JSON object ('{') holding the data, found %s",
                    describe(r, r->pos, buf, sizeof buf));
    r->pos++;
    skip_space(r);
    if (r->pos < r->len && r->text[r->pos] == '}') {
        r->pos++;
    } else {
        for (;;) {
            skip_space(r);
            if (r->pos >= r->len || r->text[r->pos] != '"')
                return fail(r, r->pos, "expected a key (a string in double quotes), found %s",
                            describe(r, r->pos, buf, sizeof buf));
            PS_CHECK(read_member(r));
            skip_space(r);
            if (r->pos < r->len && r->text[r->pos] == ',') {
                r->pos++;
                continue;
            }
            if (r->pos < r->len && r->text[r->pos] == '}') {
                r->pos++;
                break;
            }
            return fail(r, r->pos, "expected ',' or '}' after a value, found %s",
                        describe(r, r->pos, buf, sizeof buf));
        }
    }
    skip_space(r);
    if (r->pos < r->len)
        return fail(r, r->pos, "unexpected %s after the end of the data object",
                    describe(r, r->pos, buf, sizeof buf));
    return PS_OK;
}

/* Parses text (NUL-terminated, owned by the caller until success hands it to the data). */
static ps_status read_json(const char *path, char *text, size_t len, ps_data **out)
{
    ps_data *d = NULL;
    PS_CHECK(ps_data_new(path, PS_DATA_JSON, &d));
    reader r;
    memset(&r, 0, sizeof r);
    r.path = d->path;
    r.text = text;
    r.len = len;
    r.data = d;
    ps_strbuf_init(&r.str);
    ps_status status = read_document(&r);
    ps_strbuf_fini(&r.str);
    if (status != PS_OK) {
        ps_data_destroy(&d);
        return status;
    }
    d->text = text;
    d->text_len = len;
    *out = d;
    return PS_OK;
}

ps_status ps_data_read_json(const char *path, const char *text, size_t len, ps_data **out)
{
    *out = NULL;
    if (len == SIZE_MAX)
        return ps_error(PS_ERR_DATA, "%s: the data text is too large", path ? path : "<data>");
    char *copy = ps_malloc(len + 1);
    if (copy == NULL)
        return out_of_memory();
    if (len > 0)
        memcpy(copy, text, len);
    copy[len] = '\0';
    ps_status status = read_json(path, copy, len, out);
    if (status != PS_OK)
        ps_free(copy);
    return status;
}

ps_status ps_data_read_json_owned(const char *path, char *text, size_t len, ps_data **out)
{
    *out = NULL;
    ps_status status = read_json(path, text, len, out);
    if (status != PS_OK)
        ps_free(text);
    return status;
}

/* Skips the string at p (a '"') in validated text; returns the offset after it. */
static size_t skip_string_at(const char *text, size_t len, size_t p)
{
    for (p++; p < len && text[p] != '"'; p++)
        if (text[p] == '\\')
            p++;
    return p + 1;
}

size_t ps_data_json_element_offset(const ps_data *d, const ps_data_var *v, size_t index)
{
    const char *text = d->text;
    size_t len = d->text_len, p = v->offset, k = 0;
    int depth = 0;
    if (v->ndim == 0)
        return v->offset;
    while (p < len) {
        char c = text[p];
        if (c == '[') {
            depth++;
            p++;
        } else if (c == ']') {
            p++;
            if (--depth == 0)
                break;
        } else if (c == ',' || is_space(c)) {
            p++;
        } else {
            if (k == index)
                return p;
            k++;
            if (c == '"') {
                p = skip_string_at(text, len, p);
            } else {
                while (p < len && text[p] != ',' && text[p] != ']' && !is_space(text[p]))
                    p++;
            }
        }
    }
    return v->offset;
}
