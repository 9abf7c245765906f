/*
 * TOML 1.0.0 decoder (https://toml.io/en/v1.0.0, with the ABNF grammar toml.abnf of the
 * same release as the reference for what is accepted).
 *
 * One pass over the text with a hand-written recursive-descent parser. Recursion happens
 * only for arrays and inline tables inside a value, and the nesting depth of the whole
 * tree (tables from headers and dotted keys, arrays, inline tables) is capped at
 * PS_TOML_MAX_DEPTH, so neither the parser nor any walker of the tree can exhaust the
 * stack. The input is checked as UTF-8 first; afterwards every context checks its own
 * character rules (control characters, bare CR) and reports the first violation at its
 * byte offset through ps_error_at_offset().
 *
 * The redefinition rules of the specification are enforced with the origin flags of each
 * table (toml_impl.h): a table is defined once, either by its [header] or by the dotted
 * keys of one table section; tables that only appeared as a prefix of a header remain
 * "implicit" until then; inline tables and value arrays are complete once written.
 *
 * Work is linear in the input: strings are decoded in runs with memcpy into a scratch
 * buffer whose ownership passes to large string values, and tables are searched through
 * a hash index once large (toml.c).
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml_impl.h"

/* One part of a (dotted) key; its decoded bytes are in parser.buf. */
typedef struct key_part {
    size_t start;  /* first byte in parser.buf */
    size_t len;    /* decoded length in bytes */
    size_t offset; /* byte offset of the part in the text */
} key_part;

typedef struct parser {
    const char *path;
    const char *text;
    size_t len;
    size_t pos;
    ps_toml_value *root;
    ps_toml_value *section; /* the table that key/value lines go to */
    size_t section_depth;   /* its nesting depth; the root table is at depth 0 */
    char section_name[160]; /* its header's name for messages; "" for the root table */
    char *buf;              /* scratch: decoded strings and key parts */
    size_t buf_len, buf_cap;
    key_part *parts; /* the key parsed last */
    size_t n_parts, parts_cap;
} parser;

/* Strings at least this long are handed to the value instead of copied out of the scratch
 * buffer. */
enum { TAKE_BUFFER_MIN = 4096 };

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

static ps_status fail(parser *p, size_t offset, const char *fmt, ...) PS_PRINTF(3, 4);

static ps_status fail(parser *p, size_t offset, const char *fmt, ...)
{
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return ps_error_at_offset(PS_ERR_CONFIG, p->path, p->text, p->len, offset, "%s", message);
}

static ps_status out_of_memory(const parser *p)
{
    return ps_error(PS_ERR_MEM, "out of memory while reading %s", p->path);
}

static ps_status too_deep(parser *p, size_t offset)
{
    return fail(p, offset,
                "nesting too deep: tables, arrays and inline tables may be nested at most %d "
                "levels",
                PS_TOML_MAX_DEPTH);
}

static size_t line_of(const parser *p, size_t offset)
{
    size_t line, col;
    ps_text_position(p->text, p->len, offset, &line, &col);
    return line;
}

static size_t utf8_seq_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Describes the character at offset `at` for "found ..." in messages. */
static const char *describe_at(const parser *p, size_t at, char *out, size_t cap)
{
    if (at >= p->len)
        return "end of file";
    unsigned char c = (unsigned char)p->text[at];
    if (c == '\n' || (c == '\r' && at + 1 < p->len && p->text[at + 1] == '\n'))
        return "end of line";
    if (c < 0x20 || c == 0x7f)
        snprintf(out, cap, "control character U+%04X", c);
    else if (c < 0x80)
        snprintf(out, cap, "'%c'", c);
    else {
        /* The input is valid UTF-8 by now. Show the code point too: the character may be
         * invisible (a byte-order mark, an unusual space). */
        size_t n = utf8_seq_len(c);
        if (n > p->len - at)
            n = p->len - at;
        uint32_t cp = n == 2 ? c & 0x1Fu : n == 3 ? c & 0x0Fu : c & 0x07u;
        for (size_t k = 1; k < n; k++)
            cp = (cp << 6) | ((unsigned char)p->text[at + k] & 0x3Fu);
        snprintf(out, cap, "'%.*s' (U+%04X)", (int)n, p->text + at, (unsigned)cp);
    }
    return out;
}

/* "expected WHAT, found X"; a bare carriage return gets its own message. */
static ps_status unexpected(parser *p, size_t at, const char *what)
{
    if (at < p->len && p->text[at] == '\r' && !(at + 1 < p->len && p->text[at + 1] == '\n'))
        return fail(p, at,
                    "carriage return not followed by a line feed (lines end with LF or "
                    "CR LF)");
    if (at < p->len && p->text[at] == '\0')
        return fail(p, at, "expected %s, found a NUL byte (TOML files are UTF-8 text)", what);
    char found[48];
    return fail(p, at, "expected %s, found %s", what, describe_at(p, at, found, sizeof found));
}

/* A printable excerpt of a token for messages, cut after 48 bytes. */
static const char *excerpt(const char *token, size_t len, char *out, size_t cap)
{
    size_t n = len > 48 ? 48 : len;
    snprintf(out, cap, "%.*s%s", (int)n, token, len > n ? "..." : "");
    return out;
}

static const char *with_article(ps_toml_type type)
{
    switch (type) {
    case PS_TOML_STRING:
        return "a string";
    case PS_TOML_INTEGER:
        return "an integer";
    case PS_TOML_FLOAT:
        return "a float";
    case PS_TOML_BOOL:
        return "a boolean";
    case PS_TOML_DATETIME:
        return "an offset date-time";
    case PS_TOML_DATETIME_LOCAL:
        return "a local date-time";
    case PS_TOML_DATE_LOCAL:
        return "a local date";
    case PS_TOML_TIME_LOCAL:
        return "a local time";
    case PS_TOML_ARRAY:
        return "an array";
    case PS_TOML_TABLE:
        return "a table";
    }
    return "a value";
}

static bool is_bare(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Formats the first `count` parts of the last key as TOML would write them ("a.b",
 * "server.\"host name\""), cut with "..." when longer than the buffer. */
typedef struct name_writer {
    char *out;
    size_t cap, len;
    bool cut;
} name_writer;

static void name_put(name_writer *w, const char *s, size_t n)
{
    if (w->cut)
        return;
    if (w->len + n + 4 > w->cap) {
        w->cut = true;
        /* Do not leave half a UTF-8 character behind. */
        while (w->len > 0 && ((unsigned char)w->out[w->len - 1] & 0xC0) == 0x80)
            w->len--;
        if (w->len > 0 && (unsigned char)w->out[w->len - 1] >= 0xC0)
            w->len--;
        memcpy(w->out + w->len, "...", 4);
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
    w->out[w->len] = '\0';
}

static const char *key_name(const parser *p, size_t count, char *out, size_t cap)
{
    name_writer w = {out, cap, 0, false};
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        const key_part *part = &p->parts[i];
        const char *s = p->buf + part->start;
        bool bare = part->len > 0;
        for (size_t j = 0; j < part->len && bare; j++)
            bare = is_bare((unsigned char)s[j]);
        if (i > 0)
            name_put(&w, ".", 1);
        if (bare) {
            name_put(&w, s, part->len);
            continue;
        }
        name_put(&w, "\"", 1);
        for (size_t j = 0; j < part->len; j++) {
            unsigned char c = (unsigned char)s[j];
            char esc[8];
            if (c == '"' || c == '\\') {
                esc[0] = '\\';
                esc[1] = (char)c;
                name_put(&w, esc, 2);
            } else if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof esc, "\\u%04X", c);
                name_put(&w, esc, 6);
            } else {
                name_put(&w, s + j, 1);
            }
        }
        name_put(&w, "\"", 1);
    }
    return out;
}

/* ---------------------------------------------------------------------------------------
 * Scratch buffer
 * ------------------------------------------------------------------------------------- */

/* Makes room for `extra` more bytes plus a terminating NUL. */
static bool buf_reserve(parser *p, size_t extra)
{
    if (p->buf_cap - p->buf_len > extra)
        return true;
    size_t need;
    if (!ps_size_add(p->buf_len, extra, &need) || !ps_size_add(need, 1, &need))
        return false;
    size_t cap = p->buf_cap < 64 ? 64 : p->buf_cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *grown = ps_realloc(p->buf, cap);
    if (grown == NULL)
        return false;
    p->buf = grown;
    p->buf_cap = cap;
    return true;
}

static ps_status buf_append(parser *p, const char *s, size_t n)
{
    if (!buf_reserve(p, n))
        return out_of_memory(p);
    memcpy(p->buf + p->buf_len, s, n);
    p->buf_len += n;
    return PS_OK;
}

static ps_status buf_putc(parser *p, char c)
{
    return buf_append(p, &c, 1);
}

/* ---------------------------------------------------------------------------------------
 * Whitespace, comments, newlines
 * ------------------------------------------------------------------------------------- */

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->text[p->pos] == ' ' || p->text[p->pos] == '\t'))
        p->pos++;
}

static bool at_newline(const parser *p)
{
    return p->pos < p->len &&
           (p->text[p->pos] == '\n' ||
            (p->text[p->pos] == '\r' && p->pos + 1 < p->len && p->text[p->pos + 1] == '\n'));
}

static void skip_newline(parser *p)
{
    p->pos += p->text[p->pos] == '\r' ? 2 : 1;
}

static ps_status bare_cr(parser *p, size_t at)
{
    return fail(p, at, "carriage return not followed by a line feed (lines end with LF or CR LF)");
}

/* Skips a comment from '#' up to (not including) the end of its line. Comments may hold
 * any character but control characters other than tab. */
static ps_status skip_comment(parser *p)
{
    size_t i = p->pos + 1;
    for (; i < p->len; i++) {
        unsigned char c = (unsigned char)p->text[i];
        if (c >= 0x20 && c != 0x7f)
            continue;
        if (c == '\t')
            continue;
        if (c == '\n')
            break;
        if (c == '\r') {
            if (i + 1 < p->len && p->text[i + 1] == '\n')
                break;
            return bare_cr(p, i);
        }
        return fail(p, i, "control character U+%04X is not allowed in a comment", c);
    }
    p->pos = i;
    return PS_OK;
}

/* After a key/value pair or a header: optional whitespace and comment, then a newline or
 * the end of the file. */
static ps_status end_of_line(parser *p, const char *after)
{
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == '#')
        PS_CHECK(skip_comment(p));
    if (p->pos >= p->len)
        return PS_OK;
    if (at_newline(p)) {
        skip_newline(p);
        return PS_OK;
    }
    char what[64];
    snprintf(what, sizeof what, "end of line after %s", after);
    return unexpected(p, p->pos, what);
}

/* Inside arrays: whitespace, newlines and comments. */
static ps_status skip_blank(parser *p)
{
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len)
            return PS_OK;
        if (p->text[p->pos] == '#')
            PS_CHECK(skip_comment(p));
        else if (at_newline(p))
            skip_newline(p);
        else
            return PS_OK;
    }
}

/* ---------------------------------------------------------------------------------------
 * UTF-8 (RFC 3629, Table 3-7 of the Unicode Standard: well-formed byte sequences)
 * ------------------------------------------------------------------------------------- */

static ps_status check_utf8(parser *p)
{
    const unsigned char *s = (const unsigned char *)p->text;
    size_t n = p->len;
    size_t i = p->pos;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c == 0xE0)
            need = 2, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            need = 2;
        else if (c == 0xED)
            need = 2, hi = 0x9F;
        else if (c == 0xF0)
            need = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3)
            need = 3;
        else if (c == 0xF4)
            need = 3, hi = 0x8F;
        else if (c < 0xC0)
            return fail(p, i, "invalid UTF-8: unexpected continuation byte 0x%02X", c);
        else if (c < 0xC2)
            return fail(p, i, "invalid UTF-8: overlong encoding (byte 0x%02X)", c);
        else
            return fail(p, i, "invalid UTF-8: byte 0x%02X never occurs in UTF-8", c);
        if (i + 1 >= n || s[i + 1] < 0x80 || s[i + 1] > 0xBF)
            return fail(p, i, "invalid UTF-8: truncated sequence starting with byte 0x%02X", c);
        if (s[i + 1] < lo) {
            if (c == 0xE0 || c == 0xF0)
                return fail(p, i, "invalid UTF-8: overlong encoding (bytes 0x%02X 0x%02X)", c,
                            s[i + 1]);
        }
        if (s[i + 1] > hi) {
            if (c == 0xED)
                return fail(p, i, "invalid UTF-8: encoded UTF-16 surrogate (bytes 0x%02X 0x%02X)",
                            c, s[i + 1]);
            return fail(p, i, "invalid UTF-8: code point beyond U+10FFFF");
        }
        for (size_t k = 2; k <= need; k++)
            if (i + k >= n || s[i + k] < 0x80 || s[i + k] > 0xBF)
                return fail(p, i, "invalid UTF-8: truncated sequence starting with byte 0x%02X", c);
        i += need + 1;
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------------------- */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A backslash escape at p->pos in a basic string. In a multi-line string a backslash at
 * the end of a line (possibly followed by whitespace) removes all whitespace and newlines
 * up to the next other character. */
static ps_status parse_escape(parser *p, bool multiline)
{
    size_t at = p->pos;
    if (at + 1 >= p->len)
        return fail(p, at, "unterminated string: the file ends after a backslash");
    unsigned char e = (unsigned char)p->text[at + 1];
    char plain = 0;
    switch (e) {
    case 'b':
        plain = '\b';
        break;
    case 't':
        plain = '\t';
        break;
    case 'n':
        plain = '\n';
        break;
    case 'f':
        plain = '\f';
        break;
    case 'r':
        plain = '\r';
        break;
    case '"':
        plain = '"';
        break;
    case '\\':
        plain = '\\';
        break;
    case 'u':
    case 'U': {
        int digits = e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int k = 0; k < digits; k++) {
            size_t i = at + 2 + (size_t)k;
            int h = i < p->len ? hex_value((unsigned char)p->text[i]) : -1;
            if (h < 0)
                return fail(p, at,
                            "invalid escape: '\\%c' must be followed by %d hexadecimal "
                            "digits",
                            e, digits);
            cp = cp * 16 + (uint32_t)h;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return fail(p, at,
                        "invalid escape '\\%c%.*s': U+%04X is a surrogate, not a Unicode "
                        "scalar value",
                        e, digits, p->text + at + 2, (unsigned)cp);
        if (cp > 0x10FFFF)
            return fail(p, at, "invalid escape '\\%c%.*s': code point beyond U+10FFFF", e, digits,
                        p->text + at + 2);
        char utf8[4];
        PS_CHECK(buf_append(p, utf8, ps_utf8_encode(cp, utf8)));
        p->pos = at + 2 + (size_t)digits;
        return PS_OK;
    }
    default:
        break;
    }
    if (plain != 0) {
        PS_CHECK(buf_putc(p, plain));
        p->pos = at + 2;
        return PS_OK;
    }
    if (multiline && (e == ' ' || e == '\t' || e == '\n' || e == '\r')) {
        size_t i = at + 1;
        while (i < p->len && (p->text[i] == ' ' || p->text[i] == '\t'))
            i++;
        p->pos = i;
        if (at_newline(p)) {
            for (;;) {
                skip_ws(p);
                if (!at_newline(p))
                    break;
                skip_newline(p);
            }
            return PS_OK;
        }
        p->pos = at;
        return fail(p, at,
                    "invalid escape: a backslash followed by whitespace must end the line "
                    "(line-ending backslash)");
    }
    if (e == '\n' || e == '\r')
        return fail(p, at,
                    "invalid escape: a backslash at the end of the line continues only "
                    "multi-line strings (\"\"\"...\"\"\")");
    if (e >= 0x20 && e < 0x7f)
        return fail(p, at, "invalid escape '\\%c' in string", e);
    char found[48];
    return fail(p, at, "invalid escape in string: '\\' followed by %s",
                describe_at(p, at + 1, found, sizeof found));
}

/* Reports a character that may not appear in a string at p->pos. */
static ps_status bad_string_char(parser *p, bool multiline, size_t open)
{
    size_t at = p->pos;
    unsigned char c = (unsigned char)p->text[at];
    if (c == '\r' && !(at + 1 < p->len && p->text[at + 1] == '\n'))
        return bare_cr(p, at);
    if (!multiline && (c == '\n' || c == '\r'))
        return fail(p, open,
                    "unterminated string: the line ends before the closing quote "
                    "(multi-line strings use \"\"\" or ''')");
    return fail(p, at, "control character U+%04X is not allowed in a string%s", c,
                p->text[open] == '"' ? " (write it as an escape such as \\u0001)" : "");
}

/* Decodes a basic string ("..." or """...""") at p->pos, appending its bytes to p->buf. */
static ps_status parse_basic_string(parser *p)
{
    size_t open = p->pos;
    bool multiline = open + 2 < p->len && p->text[open + 1] == '"' && p->text[open + 2] == '"';
    p->pos += multiline ? 3 : 1;
    if (multiline && at_newline(p))
        skip_newline(p);
    for (;;) {
        size_t run = p->pos;
        while (p->pos < p->len) {
            unsigned char c = (unsigned char)p->text[p->pos];
            if (c == '"' || c == '\\' || c == 0x7f || (c < 0x20 && c != '\t'))
                break;
            p->pos++;
        }
        if (p->pos > run)
            PS_CHECK(buf_append(p, p->text + run, p->pos - run));
        if (p->pos >= p->len)
            return fail(p, open,
                        multiline ? "unterminated multi-line string (missing \"\"\")"
                                  : "unterminated string (missing '\"')");
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '"') {
            if (!multiline) {
                p->pos++;
                return PS_OK;
            }
            /* Up to two quotes may stand right before the closing three. */
            size_t n = 0;
            while (n < 6 && p->pos + n < p->len && p->text[p->pos + n] == '"')
                n++;
            if (n < 3) {
                PS_CHECK(buf_append(p, "\"\"", n));
                p->pos += n;
                continue;
            }
            if (n == 6)
                return fail(p, p->pos,
                            "three quotes in a row end a multi-line string; escape "
                            "one of them as \\\"");
            PS_CHECK(buf_append(p, "\"\"", n - 3));
            p->pos += n;
            return PS_OK;
        }
        if (c == '\\') {
            PS_CHECK(parse_escape(p, multiline));
            continue;
        }
        if (multiline && at_newline(p)) {
            skip_newline(p);
            PS_CHECK(buf_putc(p, '\n'));
            continue;
        }
        return bad_string_char(p, multiline, open);
    }
}

/* Decodes a literal string ('...' or '''...''') at p->pos, appending to p->buf. */
static ps_status parse_literal_string(parser *p)
{
    size_t open = p->pos;
    bool multiline = open + 2 < p->len && p->text[open + 1] == '\'' && p->text[open + 2] == '\'';
    p->pos += multiline ? 3 : 1;
    if (multiline && at_newline(p))
        skip_newline(p);
    for (;;) {
        size_t run = p->pos;
        while (p->pos < p->len) {
            unsigned char c = (unsigned char)p->text[p->pos];
            if (c == '\'' || c == 0x7f || (c < 0x20 && c != '\t'))
                break;
            p->pos++;
        }
        if (p->pos > run)
            PS_CHECK(buf_append(p, p->text + run, p->pos - run));
        if (p->pos >= p->len)
            return fail(p, open,
                        multiline ? "unterminated multi-line string (missing ''')"
                                  : "unterminated string (missing \"'\")");
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '\'') {
            if (!multiline) {
                p->pos++;
                return PS_OK;
            }
            size_t n = 0;
            while (n < 6 && p->pos + n < p->len && p->text[p->pos + n] == '\'')
                n++;
            if (n < 3) {
                PS_CHECK(buf_append(p, "''", n));
                p->pos += n;
                continue;
            }
            if (n == 6)
                return fail(p, p->pos,
                            "three apostrophes in a row end a multi-line literal "
                            "string; use a basic string (\"\"\") instead");
            PS_CHECK(buf_append(p, "''", n - 3));
            p->pos += n;
            return PS_OK;
        }
        if (multiline && at_newline(p)) {
            skip_newline(p);
            PS_CHECK(buf_putc(p, '\n'));
            continue;
        }
        return bad_string_char(p, multiline, open);
    }
}

/* ---------------------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------------------- */

/* Parses a simple or dotted key at p->pos into p->parts (bytes in p->buf). `what` names
 * the expected thing in messages ("a key"). Skips whitespace after the key. */
static ps_status parse_key(parser *p, const char *what)
{
    p->n_parts = 0;
    p->buf_len = 0;
    /* Key parts are read from p->buf even when empty, so it must exist. */
    if (!buf_reserve(p, 0))
        return out_of_memory(p);
    for (;;) {
        if (p->n_parts == p->parts_cap) {
            if (p->n_parts > PS_TOML_MAX_DEPTH)
                return too_deep(p, p->pos);
            size_t cap = p->parts_cap == 0 ? 8 : p->parts_cap * 2;
            key_part *parts = ps_realloc(p->parts, cap * sizeof *parts);
            if (parts == NULL)
                return out_of_memory(p);
            p->parts = parts;
            p->parts_cap = cap;
        }
        key_part *part = &p->parts[p->n_parts];
        part->offset = p->pos;
        part->start = p->buf_len;
        unsigned char c = p->pos < p->len ? (unsigned char)p->text[p->pos] : 0;
        if (p->pos < p->len && is_bare(c)) {
            size_t start = p->pos;
            while (p->pos < p->len && is_bare((unsigned char)p->text[p->pos]))
                p->pos++;
            PS_CHECK(buf_append(p, p->text + start, p->pos - start));
        } else if (p->pos < p->len && (c == '"' || c == '\'')) {
            if (p->pos + 2 < p->len && p->text[p->pos + 1] == (char)c &&
                p->text[p->pos + 2] == (char)c)
                return fail(p, p->pos, "a key cannot be a multi-line string");
            PS_CHECK(c == '"' ? parse_basic_string(p) : parse_literal_string(p));
        } else {
            return unexpected(p, p->pos, p->n_parts == 0 ? what : "a key after '.'");
        }
        part->len = p->buf_len - part->start;
        p->n_parts++;
        skip_ws(p);
        if (p->pos < p->len && p->text[p->pos] == '.') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        return PS_OK;
    }
}

/* Creates an empty table under `key_index` of the last key in table t. */
static ps_status add_table(parser *p, ps_toml_value *t, size_t key_index, unsigned flags,
                           size_t offset, ps_toml_value **out)
{
    const key_part *part = &p->parts[key_index];
    ps_toml_value *table = ps_toml_value_new(PS_TOML_TABLE, offset);
    char *key = ps_malloc(part->len + 1);
    if (table == NULL || key == NULL) {
        ps_free(table);
        ps_free(key);
        return out_of_memory(p);
    }
    memcpy(key, p->buf + part->start, part->len);
    key[part->len] = '\0';
    table->u.table.flags = flags;
    if (!ps_toml_table_append(t, key, part->len, part->offset, table)) {
        ps_free(table);
        ps_free(key);
        return out_of_memory(p);
    }
    *out = table;
    return PS_OK;
}

static ps_status not_a_table(parser *p, size_t key_index, const ps_toml_kv *kv)
{
    char name[160];
    return fail(p, p->parts[key_index].offset,
                "cannot use '%s' as a table: it is already %s (defined at line %zu)",
                key_name(p, key_index + 1, name, sizeof name), with_article(kv->value->type),
                line_of(p, kv->key_offset));
}

/* Steps from table *t into the table named by part `i` of a dotted key on a key/value
 * line, creating it when absent. Dotted keys define their tables, so they may enter
 * tables they created themselves or tables so far only implied by a header, but not
 * tables defined by a header, inline tables, or arrays. */
static ps_status enter_dotted(parser *p, ps_toml_value **t, size_t *depth, size_t i, bool in_inline)
{
    const key_part *part = &p->parts[i];
    ps_toml_kv *kv = ps_toml_table_find(*t, p->buf + part->start, part->len);
    if (kv == NULL) {
        if (*depth + 1 > PS_TOML_MAX_DEPTH)
            return too_deep(p, part->offset);
        unsigned flags = PS_TOML_TABLE_DOTTED | (in_inline ? PS_TOML_TABLE_INLINE : 0u);
        PS_CHECK(add_table(p, *t, i, flags, part->offset, t));
        (*depth)++;
        return PS_OK;
    }
    ps_toml_value *v = kv->value;
    char name[160];
    if (v->type == PS_TOML_TABLE) {
        unsigned flags = v->u.table.flags;
        if (flags & PS_TOML_TABLE_FROZEN)
            return fail(p, part->offset,
                        "cannot add keys to '%s': it is an inline table (defined at line %zu), "
                        "which is complete once written",
                        key_name(p, i + 1, name, sizeof name), line_of(p, kv->key_offset));
        if (flags & PS_TOML_TABLE_HEADER)
            return fail(p, part->offset,
                        "cannot add keys to table [%s%s%s] with dotted keys: it is defined by its "
                        "own header at line %zu",
                        p->section_name, p->section_name[0] != '\0' ? "." : "",
                        key_name(p, i + 1, name, sizeof name), line_of(p, v->offset));
        if (flags & PS_TOML_TABLE_IMPLICIT) {
            /* These dotted keys now define the table: a later [header] may not. */
            v->u.table.flags = PS_TOML_TABLE_DOTTED;
            v->offset = part->offset;
        }
        *t = v;
        (*depth)++;
        return PS_OK;
    }
    if (v->type == PS_TOML_ARRAY)
        return fail(p, part->offset,
                    "cannot add keys to '%s' with dotted keys: it is %s (defined at line %zu)",
                    key_name(p, i + 1, name, sizeof name),
                    ps_toml_array_is_aot(v) ? "an array of tables" : "an array",
                    line_of(p, kv->key_offset));
    return not_a_table(p, i, kv);
}

static ps_status parse_value(parser *p, size_t depth, ps_toml_value **out);

/* Parses `key = value` at p->pos into table t (at nesting depth `depth`). */
static ps_status parse_keyval(parser *p, ps_toml_value *t, size_t depth, bool in_inline)
{
    PS_CHECK(parse_key(p, "a key"));
    if (p->pos >= p->len || p->text[p->pos] != '=')
        return unexpected(p, p->pos, "'=' after key");
    p->pos++;
    skip_ws(p);
    for (size_t i = 0; i + 1 < p->n_parts; i++)
        PS_CHECK(enter_dotted(p, &t, &depth, i, in_inline));
    const key_part *last = &p->parts[p->n_parts - 1];
    const ps_toml_kv *old = ps_toml_table_find(t, p->buf + last->start, last->len);
    if (old != NULL) {
        char name[160];
        return fail(p, last->offset, "duplicate key '%s' (first defined at line %zu)",
                    key_name(p, p->n_parts, name, sizeof name), line_of(p, old->key_offset));
    }
    size_t key_len = last->len, key_offset = last->offset;
    char *key = ps_malloc(key_len + 1);
    if (key == NULL)
        return out_of_memory(p);
    memcpy(key, p->buf + last->start, key_len);
    key[key_len] = '\0';
    /* The value may hold keys of its own (inline tables), which reuse p->parts. */
    ps_toml_value *value = NULL;
    ps_status status = parse_value(p, depth, &value);
    if (status != PS_OK) {
        ps_free(key);
        return status;
    }
    if (!ps_toml_table_append(t, key, key_len, key_offset, value)) {
        ps_free(key);
        ps_toml_value_free(value);
        return out_of_memory(p);
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Table headers
 * ------------------------------------------------------------------------------------- */

/* Steps from *t into part `i` of a header's name, creating an implicit table when
 * absent; through an array of tables it enters the last element. */
static ps_status enter_header(parser *p, ps_toml_value **t, size_t *depth, size_t i)
{
    const key_part *part = &p->parts[i];
    ps_toml_kv *kv = ps_toml_table_find(*t, p->buf + part->start, part->len);
    if (kv == NULL) {
        if (*depth + 1 > PS_TOML_MAX_DEPTH)
            return too_deep(p, part->offset);
        PS_CHECK(add_table(p, *t, i, PS_TOML_TABLE_IMPLICIT, part->offset, t));
        (*depth)++;
        return PS_OK;
    }
    ps_toml_value *v = kv->value;
    char name[160];
    if (v->type == PS_TOML_TABLE) {
        if (v->u.table.flags & (PS_TOML_TABLE_FROZEN | PS_TOML_TABLE_INLINE))
            return fail(p, part->offset,
                        "cannot add a table to '%s': it is an inline table (defined at line "
                        "%zu), which is complete once written",
                        key_name(p, i + 1, name, sizeof name), line_of(p, kv->key_offset));
        *t = v;
        (*depth)++;
        return PS_OK;
    }
    if (v->type == PS_TOML_ARRAY) {
        if (!ps_toml_array_is_aot(v))
            return fail(p, part->offset,
                        "cannot add a table to '%s': it is an array value (defined at line "
                        "%zu), not an array of tables",
                        key_name(p, i + 1, name, sizeof name), line_of(p, kv->key_offset));
        *t = v->u.array.items[v->u.array.len - 1];
        *depth += 2;
        return PS_OK;
    }
    return not_a_table(p, i, kv);
}

/* Parses a [table] or [[array of tables]] header at p->pos and makes its table the
 * current section. */
static ps_status parse_header(parser *p)
{
    size_t open = p->pos;
    bool aot = open + 1 < p->len && p->text[open + 1] == '[';
    p->pos += aot ? 2 : 1;
    skip_ws(p);
    PS_CHECK(parse_key(p, aot ? "a table name after '[['" : "a table name after '['"));
    if (aot) {
        if (!(p->pos + 1 < p->len && p->text[p->pos] == ']' && p->text[p->pos + 1] == ']'))
            return unexpected(p, p->pos, "']]' to close the array-of-tables header");
        p->pos += 2;
    } else {
        if (p->pos >= p->len || p->text[p->pos] != ']')
            return unexpected(p, p->pos, "']' to close the table header");
        p->pos++;
    }
    ps_toml_value *t = p->root;
    size_t depth = 0;
    for (size_t i = 0; i + 1 < p->n_parts; i++)
        PS_CHECK(enter_header(p, &t, &depth, i));
    size_t last = p->n_parts - 1;
    ps_toml_kv *kv = ps_toml_table_find(t, p->buf + p->parts[last].start, p->parts[last].len);
    char name[160];
    key_name(p, p->n_parts, name, sizeof name);
    memcpy(p->section_name, name, sizeof name);
    ps_toml_value *v = kv != NULL ? kv->value : NULL;
    if (!aot) {
        if (v == NULL) {
            if (depth + 1 > PS_TOML_MAX_DEPTH)
                return too_deep(p, p->parts[last].offset);
            PS_CHECK(add_table(p, t, last, PS_TOML_TABLE_HEADER, open, &v));
        } else if (v->type == PS_TOML_TABLE) {
            unsigned flags = v->u.table.flags;
            if (flags & PS_TOML_TABLE_HEADER)
                return fail(p, open, "table [%s] defined twice (first at line %zu)", name,
                            line_of(p, v->offset));
            if (flags & PS_TOML_TABLE_DOTTED)
                return fail(p, open, "table [%s] is already defined by dotted keys at line %zu",
                            name, line_of(p, v->offset));
            if (flags & (PS_TOML_TABLE_FROZEN | PS_TOML_TABLE_INLINE))
                return fail(p, open, "table [%s] is already defined as an inline table at line %zu",
                            name, line_of(p, kv->key_offset));
            v->u.table.flags = PS_TOML_TABLE_HEADER;
            v->offset = open;
        } else if (v->type == PS_TOML_ARRAY && ps_toml_array_is_aot(v)) {
            return fail(p, open, "table [%s] conflicts with the array of tables [[%s]] at line %zu",
                        name, name, line_of(p, v->offset));
        } else {
            return fail(p, open, "cannot define table [%s]: the key is already %s (line %zu)", name,
                        with_article(v->type), line_of(p, kv->key_offset));
        }
        p->section = v;
        p->section_depth = depth + 1;
        return PS_OK;
    }
    if (v == NULL) {
        if (depth + 2 > PS_TOML_MAX_DEPTH)
            return too_deep(p, p->parts[last].offset);
        ps_toml_value *array = ps_toml_value_new(PS_TOML_ARRAY, open);
        char *key = ps_malloc(p->parts[last].len + 1);
        if (array == NULL || key == NULL) {
            ps_free(array);
            ps_free(key);
            return out_of_memory(p);
        }
        memcpy(key, p->buf + p->parts[last].start, p->parts[last].len);
        key[p->parts[last].len] = '\0';
        /* The array gets its first element before it joins the tree, so the tree never
         * holds an empty array of tables (which would look like an array value). */
        ps_toml_value *element = ps_toml_value_new(PS_TOML_TABLE, open);
        if (element == NULL || !ps_toml_array_append(array, element)) {
            ps_free(element);
            ps_free(array);
            ps_free(key);
            return out_of_memory(p);
        }
        element->u.table.flags = PS_TOML_TABLE_HEADER | PS_TOML_TABLE_AOT_ELEMENT;
        if (!ps_toml_table_append(t, key, p->parts[last].len, p->parts[last].offset, array)) {
            ps_toml_value_free(array);
            ps_free(key);
            return out_of_memory(p);
        }
        p->section = element;
        p->section_depth = depth + 2;
        return PS_OK;
    }
    if (v->type == PS_TOML_ARRAY && ps_toml_array_is_aot(v)) {
        ps_toml_value *element = ps_toml_value_new(PS_TOML_TABLE, open);
        if (element == NULL || !ps_toml_array_append(v, element)) {
            ps_free(element);
            return out_of_memory(p);
        }
        element->u.table.flags = PS_TOML_TABLE_HEADER | PS_TOML_TABLE_AOT_ELEMENT;
        p->section = element;
        p->section_depth = depth + 2;
        return PS_OK;
    }
    if (v->type == PS_TOML_ARRAY)
        return fail(p, open,
                    "cannot append to '%s' with [[%s]]: it is an array value (defined at line "
                    "%zu), not an array of tables",
                    name, name, line_of(p, kv->key_offset));
    if (v->type == PS_TOML_TABLE)
        return fail(p, open, "array of tables [[%s]] conflicts with the table '%s' (line %zu)",
                    name, name, line_of(p, v->offset));
    return fail(p, open, "cannot define [[%s]]: the key is already %s (line %zu)", name,
                with_article(v->type), line_of(p, kv->key_offset));
}

/* ---------------------------------------------------------------------------------------
 * Numbers, booleans, dates and times
 * ------------------------------------------------------------------------------------- */

static bool is_token_char(unsigned char c)
{
    return is_bare(c) || c == '+' || c == '.' || c == ':';
}

static int digit_value(unsigned char c, int base)
{
    int d = hex_value(c);
    return d >= 0 && d < base ? d : -1;
}

/* Scans digits of `base` from tok[i] (a digit) with single underscores between digits;
 * returns the index after them, or 0 after recording an error. */
static size_t scan_digits(parser *p, const char *tok, size_t n, size_t i, int base, size_t at)
{
    char shown[64];
    for (;;) {
        while (i < n && digit_value((unsigned char)tok[i], base) >= 0)
            i++;
        if (i < n && tok[i] == '_') {
            if (i + 1 < n && digit_value((unsigned char)tok[i + 1], base) >= 0) {
                i++;
                continue;
            }
            fail(p, at + i, "an underscore in a number must stand between two digits: '%s'",
                 excerpt(tok, n, shown, sizeof shown));
            return 0;
        }
        return i;
    }
}

static ps_status new_scalar(parser *p, ps_toml_type type, size_t at, ps_toml_value **out)
{
    *out = ps_toml_value_new(type, at);
    return *out != NULL ? PS_OK : out_of_memory(p);
}

/* Converts validated float text (digits, '.', exponent, underscores) with strtod. */
static ps_status float_value(parser *p, const char *tok, size_t n, size_t at, double *out)
{
    char small[128];
    char *copy = small;
    if (n + 1 > sizeof small) {
        copy = ps_malloc(n + 1);
        if (copy == NULL)
            return out_of_memory(p);
    }
    /* strtod reads the decimal point of the current locale. */
    const char *point = localeconv()->decimal_point;
    char decimal = point != NULL && point[0] != '\0' && point[1] == '\0' ? point[0] : '.';
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '_')
            continue;
        copy[k++] = tok[i] == '.' ? decimal : tok[i];
    }
    copy[k] = '\0';
    *out = strtod(copy, NULL);
    if (copy != small)
        ps_free(copy);
    if (isinf(*out)) {
        char shown[64];
        return fail(p, at, "float %s is out of range (beyond about 1.8e308)",
                    excerpt(tok, n, shown, sizeof shown));
    }
    return PS_OK;
}

static ps_status parse_number(parser *p, const char *tok, size_t n, size_t at, ps_toml_value **out)
{
    char shown[64];
    excerpt(tok, n, shown, sizeof shown);
    size_t i = 0;
    bool negative = false, sign = false;
    if (tok[0] == '+' || tok[0] == '-') {
        sign = true;
        negative = tok[0] == '-';
        i = 1;
    }
    const char *rest = tok + i;
    size_t rest_len = n - i;
    if (rest_len == 3 && (memcmp(rest, "inf", 3) == 0 || memcmp(rest, "nan", 3) == 0)) {
        PS_CHECK(new_scalar(p, PS_TOML_FLOAT, at, out));
        double magnitude = rest[0] == 'i' ? HUGE_VAL : NAN;
        (*out)->u.floating = negative ? -magnitude : magnitude;
        return PS_OK;
    }
    if (rest_len == 0 || !is_digit((unsigned char)rest[0])) {
        unsigned char c0 = (unsigned char)tok[0];
        if (sign || !((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z')))
            return fail(p, at, "invalid number '%s'", shown);
        char lower[8] = "";
        for (size_t k = 0; k < rest_len && k + 1 < sizeof lower; k++) {
            unsigned char c = (unsigned char)rest[k];
            lower[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            lower[k + 1] = '\0';
        }
        const char *hint = "strings must be quoted";
        if (rest_len < sizeof lower && (strcmp(lower, "true") == 0 || strcmp(lower, "false") == 0))
            hint = "booleans are written true and false";
        else if (rest_len < sizeof lower &&
                 (strcmp(lower, "inf") == 0 || strcmp(lower, "nan") == 0))
            hint = "write inf and nan in lower case";
        return fail(p, at, "invalid value '%s' (%s)", shown, hint);
    }
    /* Hexadecimal, octal and binary integers: no sign, leading zeros allowed. */
    if (rest_len >= 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'o' || rest[1] == 'b')) {
        int base = rest[1] == 'x' ? 16 : rest[1] == 'o' ? 8 : 2;
        const char *base_name = base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary";
        const char *article = base == 8 ? "an" : "a";
        if (sign)
            return fail(p, at, "%s %s integer cannot have a sign: '%s'", article, base_name, shown);
        size_t first = i + 2;
        if (first >= n || digit_value((unsigned char)tok[first], base) < 0)
            return fail(p, at + (first < n ? first : n), "expected %s %s digit in '%s'", article,
                        base_name, shown);
        size_t end = scan_digits(p, tok, n, first, base, at);
        if (end == 0)
            return PS_ERR_CONFIG;
        if (end != n)
            return fail(p, at + end, "invalid %s digit in '%s'", base_name, shown);
        uint64_t value = 0;
        for (size_t k = first; k < n; k++) {
            if (tok[k] == '_')
                continue;
            uint64_t d = (uint64_t)digit_value((unsigned char)tok[k], base);
            if (value > ((uint64_t)INT64_MAX - d) / (uint64_t)base)
                return fail(p, at,
                            "integer %s does not fit in 64 bits (the largest is "
                            "9223372036854775807)",
                            shown);
            value = value * (uint64_t)base + d;
        }
        PS_CHECK(new_scalar(p, PS_TOML_INTEGER, at, out));
        (*out)->u.integer = (int64_t)value;
        return PS_OK;
    }
    if (rest[0] == '0' && rest_len > 1 && (is_digit((unsigned char)rest[1]) || rest[1] == '_'))
        return fail(p, at, "leading zeros are not allowed in '%s'", shown);
    size_t j = scan_digits(p, tok, n, i, 10, at);
    if (j == 0)
        return PS_ERR_CONFIG;
    size_t int_end = j;
    bool is_float = false;
    if (j < n && tok[j] == '.') {
        is_float = true;
        j++;
        if (j >= n || !is_digit((unsigned char)tok[j]))
            return fail(p, at + j - 1, "a decimal point must be followed by digits: '%s'", shown);
        j = scan_digits(p, tok, n, j, 10, at);
        if (j == 0)
            return PS_ERR_CONFIG;
    }
    if (j < n && (tok[j] == 'e' || tok[j] == 'E')) {
        is_float = true;
        j++;
        if (j < n && (tok[j] == '+' || tok[j] == '-'))
            j++;
        if (j >= n || !is_digit((unsigned char)tok[j]))
            return fail(p, at + (j < n ? j : n), "an exponent needs digits: '%s'", shown);
        j = scan_digits(p, tok, n, j, 10, at);
        if (j == 0)
            return PS_ERR_CONFIG;
    }
    if (j != n)
        return fail(p, at, "invalid number '%s'", shown);
    if (is_float) {
        PS_CHECK(new_scalar(p, PS_TOML_FLOAT, at, out));
        ps_status status = float_value(p, tok, n, at, &(*out)->u.floating);
        if (status != PS_OK) {
            ps_toml_value_free(*out);
            *out = NULL;
        }
        return status;
    }
    /* Decimal integer: the magnitude may reach 2^63 when negative (INT64_MIN). */
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t value = 0;
    for (size_t k = i; k < int_end; k++) {
        if (tok[k] == '_')
            continue;
        uint64_t d = (uint64_t)(tok[k] - '0');
        if (value > (limit - d) / 10)
            return fail(p, at,
                        "integer %s does not fit in 64 bits (the range is "
                        "-9223372036854775808 to 9223372036854775807)",
                        shown);
        value = value * 10 + d;
    }
    PS_CHECK(new_scalar(p, PS_TOML_INTEGER, at, out));
    if (negative)
        (*out)->u.integer = value == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)value;
    else
        (*out)->u.integer = (int64_t)value;
    return PS_OK;
}

/* Reads `count` decimal digits at tok[i]; -1 when they are not all digits. */
static int fixed_digits(const char *tok, size_t n, size_t i, int count)
{
    if (i + (size_t)count > n)
        return -1;
    int value = 0;
    for (int k = 0; k < count; k++) {
        unsigned char c = (unsigned char)tok[i + (size_t)k];
        if (!is_digit(c))
            return -1;
        value = value * 10 + (c - '0');
    }
    return value;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

/* Dates and times as RFC 3339 (section 5.6) writes them, with TOML's relaxations: a space
 * may separate date and time, and either part may stand alone. */
static ps_status parse_datetime(parser *p, const char *tok, size_t n, size_t at,
                                ps_toml_value **out)
{
    char shown[64];
    excerpt(tok, n, shown, sizeof shown);
    ps_toml_datetime dt;
    memset(&dt, 0, sizeof dt);
    ps_toml_type type;
    size_t i = 0;
    bool has_date = !(n >= 3 && tok[2] == ':');
    if (has_date) {
        dt.year = fixed_digits(tok, n, 0, 4);
        dt.month = n > 4 && tok[4] == '-' ? fixed_digits(tok, n, 5, 2) : -1;
        dt.day = n > 7 && tok[7] == '-' ? fixed_digits(tok, n, 8, 2) : -1;
        if (dt.year < 0 || dt.month < 0 || dt.day < 0)
            goto malformed;
        if (dt.month < 1 || dt.month > 12)
            return fail(p, at, "month %02d is out of range in date '%s'", dt.month, shown);
        if (dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
            return fail(p, at, "day %02d is out of range for %04d-%02d in '%s'", dt.day, dt.year,
                        dt.month, shown);
        i = 10;
        if (i == n) {
            type = PS_TOML_DATE_LOCAL;
            goto done;
        }
        if (tok[i] != 'T' && tok[i] != 't' && tok[i] != ' ')
            goto malformed;
        i++;
    }
    dt.hour = fixed_digits(tok, n, i, 2);
    dt.minute = i + 2 < n && tok[i + 2] == ':' ? fixed_digits(tok, n, i + 3, 2) : -1;
    dt.second = i + 5 < n && tok[i + 5] == ':' ? fixed_digits(tok, n, i + 6, 2) : -1;
    if (dt.hour < 0 || dt.minute < 0 || dt.second < 0)
        goto malformed;
    if (dt.hour > 23)
        return fail(p, at, "hour %02d is out of range in '%s'", dt.hour, shown);
    if (dt.minute > 59)
        return fail(p, at, "minute %02d is out of range in '%s'", dt.minute, shown);
    /* 60 is a leap second, which RFC 3339 allows. */
    if (dt.second > 60)
        return fail(p, at, "second %02d is out of range in '%s'", dt.second, shown);
    i += 8;
    if (i < n && tok[i] == '.') {
        size_t first = ++i;
        while (i < n && is_digit((unsigned char)tok[i]))
            i++;
        if (i == first)
            return fail(p, at, "a decimal point in seconds must be followed by digits: '%s'",
                        shown);
        /* Precision beyond what is kept is truncated, as the specification asks. */
        size_t keep = i - first < sizeof dt.fraction - 1 ? i - first : sizeof dt.fraction - 1;
        memcpy(dt.fraction, tok + first, keep);
        dt.fraction[keep] = '\0';
    }
    if (!has_date) {
        if (i != n)
            goto malformed;
        type = PS_TOML_TIME_LOCAL;
        goto done;
    }
    if (i == n) {
        type = PS_TOML_DATETIME_LOCAL;
        goto done;
    }
    type = PS_TOML_DATETIME;
    dt.has_offset = true;
    if (tok[i] == 'Z' || tok[i] == 'z') {
        i++;
    } else if (tok[i] == '+' || tok[i] == '-') {
        int oh = fixed_digits(tok, n, i + 1, 2);
        int om = i + 3 < n && tok[i + 3] == ':' ? fixed_digits(tok, n, i + 4, 2) : -1;
        if (oh < 0 || om < 0)
            goto malformed;
        if (oh > 23 || om > 59)
            return fail(p, at, "UTC offset %.6s is out of range in '%s'", tok + i, shown);
        dt.offset_minutes = (tok[i] == '-' ? -1 : 1) * (oh * 60 + om);
        i += 6;
    }
    if (i != n)
        goto malformed;
done:
    PS_CHECK(new_scalar(p, type, at, out));
    (*out)->u.datetime = dt;
    return PS_OK;
malformed:
    return fail(p, at,
                "invalid date or time '%s' (expected a form like 1979-05-27T07:32:00Z, "
                "1979-05-27T07:32:00, 1979-05-27 or 07:32:00)",
                shown);
}

static bool looks_like_date(const char *s, size_t n)
{
    return n >= 10 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) &&
           is_digit((unsigned char)s[2]) && is_digit((unsigned char)s[3]) && s[4] == '-' &&
           is_digit((unsigned char)s[5]) && is_digit((unsigned char)s[6]) && s[7] == '-' &&
           is_digit((unsigned char)s[8]) && is_digit((unsigned char)s[9]);
}

/* Dates and times begin with digits followed by '-' or ':', which no number has there. */
static bool looks_like_datetime(const char *tok, size_t n)
{
    size_t i = 0;
    while (i < n && is_digit((unsigned char)tok[i]))
        i++;
    return i > 0 && i < n && (tok[i] == '-' || tok[i] == ':');
}

/* Booleans, numbers, dates and times: the run of characters that can form one is taken
 * as a token, then classified. */
static ps_status parse_scalar(parser *p, ps_toml_value **out)
{
    const char *text = p->text;
    size_t start = p->pos, end = p->pos;
    while (end < p->len && is_token_char((unsigned char)text[end]))
        end++;
    /* A date followed by a space and a time is one date-time. */
    if (end - start == 10 && looks_like_date(text + start, 10) && end + 3 < p->len &&
        text[end] == ' ' && is_digit((unsigned char)text[end + 1]) &&
        is_digit((unsigned char)text[end + 2]) && text[end + 3] == ':') {
        end++;
        while (end < p->len && is_token_char((unsigned char)text[end]))
            end++;
    }
    if (end == start)
        return unexpected(p, start, "a value");
    const char *tok = text + start;
    size_t n = end - start;
    if ((n == 4 && memcmp(tok, "true", 4) == 0) || (n == 5 && memcmp(tok, "false", 5) == 0)) {
        PS_CHECK(new_scalar(p, PS_TOML_BOOL, start, out));
        (*out)->u.boolean = n == 4;
    } else if (looks_like_datetime(tok, n)) {
        PS_CHECK(parse_datetime(p, tok, n, start, out));
    } else {
        PS_CHECK(parse_number(p, tok, n, start, out));
    }
    p->pos = end;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Values, arrays, inline tables
 * ------------------------------------------------------------------------------------- */

/* Moves the decoded string in p->buf into a new string value. */
static ps_status string_value(parser *p, size_t at, ps_toml_value **out)
{
    ps_toml_value *v = ps_toml_value_new(PS_TOML_STRING, at);
    if (v == NULL)
        return out_of_memory(p);
    if (p->buf_len >= TAKE_BUFFER_MIN) {
        /* buf_reserve always leaves room for the NUL. */
        v->u.string.data = p->buf;
        p->buf = NULL;
        p->buf_cap = 0;
    } else {
        v->u.string.data = ps_malloc(p->buf_len + 1);
        if (v->u.string.data == NULL) {
            ps_free(v);
            return out_of_memory(p);
        }
        if (p->buf_len > 0)
            memcpy(v->u.string.data, p->buf, p->buf_len);
    }
    v->u.string.data[p->buf_len] = '\0';
    v->u.string.len = p->buf_len;
    p->buf_len = 0;
    *out = v;
    return PS_OK;
}

static ps_status parse_array(parser *p, size_t depth, ps_toml_value **out)
{
    size_t open = p->pos;
    ps_toml_value *array = ps_toml_value_new(PS_TOML_ARRAY, open);
    if (array == NULL)
        return out_of_memory(p);
    ps_status status = PS_OK;
    p->pos++;
    for (;;) {
        PS_TRY(skip_blank(p));
        if (p->pos < p->len && p->text[p->pos] == ']')
            break;
        if (p->pos >= p->len) {
            status = fail(p, p->pos,
                          "expected ']' to close the array opened at line %zu, found "
                          "end of file",
                          line_of(p, open));
            goto done;
        }
        ps_toml_value *item = NULL;
        PS_TRY(parse_value(p, depth, &item));
        if (!ps_toml_array_append(array, item)) {
            ps_toml_value_free(item);
            status = out_of_memory(p);
            goto done;
        }
        PS_TRY(skip_blank(p));
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == ']')
            break;
        status = unexpected(p, p->pos, "',' or ']' in array");
        goto done;
    }
    p->pos++;
done:
    if (status != PS_OK) {
        ps_toml_value_free(array);
        return status;
    }
    *out = array;
    return PS_OK;
}

static ps_status inline_newline(parser *p)
{
    if (p->pos < p->len && (p->text[p->pos] == '\n' || p->text[p->pos] == '\r'))
        return fail(p, p->pos, "newlines are not allowed inside inline tables { ... }");
    return PS_OK;
}

static ps_status parse_inline_table(parser *p, size_t depth, ps_toml_value **out)
{
    size_t open = p->pos;
    ps_toml_value *table = ps_toml_value_new(PS_TOML_TABLE, open);
    if (table == NULL)
        return out_of_memory(p);
    table->u.table.flags = PS_TOML_TABLE_INLINE;
    ps_status status = PS_OK;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == '}') {
        p->pos++;
        goto done;
    }
    for (;;) {
        skip_ws(p);
        PS_TRY(inline_newline(p));
        PS_TRY(parse_keyval(p, table, depth, true));
        skip_ws(p);
        PS_TRY(inline_newline(p));
        if (p->pos < p->len && p->text[p->pos] == ',') {
            size_t comma = p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->text[p->pos] == '}') {
                status = fail(p, comma, "a trailing comma is not allowed in an inline table");
                goto done;
            }
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == '}') {
            p->pos++;
            break;
        }
        status = unexpected(p, p->pos, "',' or '}' in inline table");
        goto done;
    }
done:
    if (status != PS_OK) {
        ps_toml_value_free(table);
        return status;
    }
    table->u.table.flags = PS_TOML_TABLE_INLINE | PS_TOML_TABLE_FROZEN;
    *out = table;
    return PS_OK;
}

/* Parses the value at p->pos; `depth` is the nesting depth of the table or array that
 * will hold it. */
static ps_status parse_value(parser *p, size_t depth, ps_toml_value **out)
{
    if (p->pos >= p->len)
        return unexpected(p, p->pos, "a value");
    size_t at = p->pos;
    switch (p->text[at]) {
    case '"':
        p->buf_len = 0;
        PS_CHECK(parse_basic_string(p));
        return string_value(p, at, out);
    case '\'':
        p->buf_len = 0;
        PS_CHECK(parse_literal_string(p));
        return string_value(p, at, out);
    case '[':
        if (depth + 1 > PS_TOML_MAX_DEPTH)
            return too_deep(p, at);
        return parse_array(p, depth + 1, out);
    case '{':
        if (depth + 1 > PS_TOML_MAX_DEPTH)
            return too_deep(p, at);
        return parse_inline_table(p, depth + 1, out);
    default:
        return parse_scalar(p, out);
    }
}

/* ---------------------------------------------------------------------------------------
 * Document
 * ------------------------------------------------------------------------------------- */

static ps_status parse_document(parser *p)
{
    /* A byte-order mark may open the file. */
    if (p->len >= 3 && memcmp(p->text, "\xEF\xBB\xBF", 3) == 0)
        p->pos = 3;
    PS_CHECK(check_utf8(p));
    p->root = ps_toml_value_new(PS_TOML_TABLE, 0);
    if (p->root == NULL)
        return out_of_memory(p);
    p->root->u.table.flags = PS_TOML_TABLE_HEADER;
    p->section = p->root;
    p->section_depth = 0;
    while (p->pos < p->len) {
        skip_ws(p);
        if (p->pos >= p->len)
            break;
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '[') {
            PS_CHECK(parse_header(p));
            PS_CHECK(end_of_line(p, "the table header"));
        } else if (is_bare(c) || c == '"' || c == '\'') {
            PS_CHECK(parse_keyval(p, p->section, p->section_depth, false));
            PS_CHECK(end_of_line(p, "the value"));
        } else if (c == '#' || c == '\n' || c == '\r') {
            PS_CHECK(end_of_line(p, "the comment"));
        } else {
            return unexpected(p, p->pos, "a key, a [table] header or a comment");
        }
    }
    return PS_OK;
}

ps_status ps_toml_parse(const char *path, const char *text, size_t len, ps_toml_value **root)
{
    if (root == NULL)
        return ps_error(PS_ERR_INTERNAL, "ps_toml_parse: root is NULL");
    *root = NULL;
    if (text == NULL && len > 0)
        return ps_error(PS_ERR_INTERNAL, "ps_toml_parse: text is NULL");
    parser p;
    memset(&p, 0, sizeof p);
    p.path = path != NULL ? path : "<input>";
    p.text = text != NULL ? text : "";
    p.len = len;
    ps_status status = parse_document(&p);
    ps_free(p.buf);
    ps_free(p.parts);
    if (status != PS_OK) {
        ps_toml_value_free(p.root);
        return status;
    }
    *root = p.root;
    return PS_OK;
}
