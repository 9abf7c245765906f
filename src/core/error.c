/* Error recording: the first failure in a thread keeps its message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

enum { MESSAGE_CAP = 4096 };

static _Thread_local ps_status first_status = PS_OK;
static _Thread_local char first_message[MESSAGE_CAP];

const char *ps_status_name(ps_status status)
{
    switch (status) {
    case PS_OK:
        return "ok";
    case PS_ERR_USAGE:
        return "usage error";
    case PS_ERR_CONFIG:
        return "configuration error";
    case PS_ERR_DATA:
        return "data error";
    case PS_ERR_MODEL:
        return "model error";
    case PS_ERR_IO:
        return "I/O error";
    case PS_ERR_NUMERIC:
        return "numerical error";
    case PS_ERR_MEM:
        return "out of memory";
    case PS_ERR_MPI:
        return "MPI error";
    case PS_ERR_INTERNAL:
        return "internal error";
    case PS_ERR_PEER:
        return "failure on another rank";
    case PS_STATUS_MAX_:
        break;
    }
    return "unknown error";
}

int ps_status_exit_code(ps_status status)
{
    switch (status) {
    case PS_OK:
        return PS_EXIT_OK;
    case PS_ERR_USAGE:
    case PS_ERR_CONFIG:
    case PS_ERR_DATA:
    case PS_ERR_MODEL:
        return PS_EXIT_INPUT;
    default:
        return PS_EXIT_RUNTIME;
    }
}

const char *ps_error_message(void)
{
    return first_message;
}

ps_status ps_error_status(void)
{
    return first_status;
}

void ps_error_clear(void)
{
    first_status = PS_OK;
    first_message[0] = '\0';
}

ps_status ps_error_v(ps_status status, const char *fmt, va_list ap)
{
    if (status == PS_OK || first_status != PS_OK)
        return status;
    first_status = status;
    vsnprintf(first_message, sizeof first_message, fmt, ap);
    return status;
}

ps_status ps_error(ps_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_error_v(status, fmt, ap);
    va_end(ap);
    return status;
}

ps_status ps_error_set(ps_status status, const char *message)
{
    first_status = status;
    if (message == first_message) /* re-tagging the recorded message with a new status */
        return status;
    snprintf(first_message, sizeof first_message, "%s", message ? message : "");
    return status;
}

_Noreturn void ps_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("psample: fatal internal error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

/* Length in bytes of the UTF-8 sequence starting with byte c (1 for invalid bytes). */
static size_t utf8_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        return 2;
    if ((c & 0xF0) == 0xE0)
        return 3;
    if ((c & 0xF8) == 0xF0)
        return 4;
    return 1;
}

void ps_text_position(const char *text, size_t text_len, size_t offset, size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    if (offset > text_len)
        offset = text_len;
    for (size_t i = 0; i < offset;) {
        if (text[i] == '\n') {
            l++;
            c = 1;
            i++;
            continue;
        }
        size_t n = utf8_len((unsigned char)text[i]);
        i += n;
        c++;
    }
    *line = l;
    *col = c;
}

/* Appends one displayable byte, replacing control characters so the terminal is safe. */
static void put_shown(ps_strbuf *sb, unsigned char ch)
{
    if (ch == '\t' || ch >= 0x20)
        ps_strbuf_putc(sb, (char)ch);
    else
        ps_strbuf_putc(sb, '?');
}

enum { SHOWN_MAX = 120 };

static void format_located(ps_strbuf *sb, const char *path, const char *text, size_t text_len,
                           size_t line, size_t col, const char *fmt, va_list ap)
{
    ps_strbuf_printf(sb, "%s:%zu:%zu: error: ", path ? path : "<input>", line, col);
    ps_strbuf_vprintf(sb, fmt, ap);
    if (text == NULL)
        return;
    /* Find the start of the line. */
    size_t start = 0, cur = 1;
    for (size_t i = 0; i < text_len && cur < line; i++) {
        if (text[i] == '\n') {
            cur++;
            start = i + 1;
        }
    }
    if (cur != line)
        return;
    size_t end = start;
    while (end < text_len && text[end] != '\n' && text[end] != '\r')
        end++;
    /* Byte offset of the column within the line. */
    size_t caret = start, c = 1;
    while (caret < end && c < col) {
        caret += utf8_len((unsigned char)text[caret]);
        c++;
    }
    if (caret > end)
        caret = end;
    /* Show at most SHOWN_MAX bytes around the caret. */
    size_t from = start, to = end;
    bool cut_left = false, cut_right = false;
    if (to - from > SHOWN_MAX) {
        if (caret - from > SHOWN_MAX / 2) {
            from = caret - SHOWN_MAX / 2;
            while (from < caret && (((unsigned char)text[from]) & 0xC0) == 0x80)
                from++;
            cut_left = true;
        }
        if (to - from > SHOWN_MAX) {
            to = from + SHOWN_MAX;
            while (to > caret && to < end && (((unsigned char)text[to]) & 0xC0) == 0x80)
                to--;
            cut_right = true;
        }
    }
    ps_strbuf_puts(sb, "\n    ");
    if (cut_left)
        ps_strbuf_puts(sb, "...");
    for (size_t i = from; i < to; i++)
        put_shown(sb, (unsigned char)text[i]);
    if (cut_right)
        ps_strbuf_puts(sb, "...");
    ps_strbuf_puts(sb, "\n    ");
    if (cut_left)
        ps_strbuf_puts(sb, "   ");
    for (size_t i = from; i < caret && i < to;) {
        ps_strbuf_putc(sb, text[i] == '\t' ? '\t' : ' ');
        i += utf8_len((unsigned char)text[i]);
    }
    ps_strbuf_putc(sb, '^');
}

static ps_status located_v(ps_status status, const char *path, const char *text, size_t text_len,
                           size_t line, size_t col, const char *fmt, va_list ap)
{
    if (status == PS_OK || first_status != PS_OK)
        return status;
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    format_located(&sb, path, text, text_len, line, col, fmt, ap);
    if (sb.failed)
        ps_error_set(status, "out of memory while formatting an error message");
    else
        ps_error_set(status, ps_strbuf_str(&sb));
    ps_strbuf_fini(&sb);
    return status;
}

ps_status ps_error_at(ps_status status, const char *path, const char *text, size_t text_len,
                      size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    located_v(status, path, text, text_len, line, col, fmt, ap);
    va_end(ap);
    return status;
}

ps_status ps_error_at_offset(ps_status status, const char *path, const char *text, size_t text_len,
                             size_t offset, const char *fmt, ...)
{
    size_t line, col;
    ps_text_position(text, text_len, offset, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    located_v(status, path, text, text_len, line, col, fmt, ap);
    va_end(ap);
    return status;
}
