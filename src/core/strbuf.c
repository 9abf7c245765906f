/* Growable NUL-terminated strings. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

void ps_strbuf_init(ps_strbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->failed = false;
}

void ps_strbuf_fini(ps_strbuf *sb)
{
    ps_free(sb->data);
    ps_strbuf_init(sb);
}

void ps_strbuf_clear(ps_strbuf *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

static bool reserve(ps_strbuf *sb, size_t extra)
{
    if (sb->failed)
        return false;
    size_t need;
    if (!ps_size_add(sb->len, extra, &need) || !ps_size_add(need, 1, &need)) {
        sb->failed = true;
        return false;
    }
    if (need <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = ps_realloc(sb->data, cap);
    if (p == NULL) {
        sb->failed = true;
        return false;
    }
    sb->data = p;
    sb->cap = cap;
    return true;
}

void ps_strbuf_append(ps_strbuf *sb, const char *s, size_t n)
{
    if (!reserve(sb, n))
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void ps_strbuf_puts(ps_strbuf *sb, const char *s)
{
    ps_strbuf_append(sb, s, strlen(s));
}

void ps_strbuf_putc(ps_strbuf *sb, char c)
{
    ps_strbuf_append(sb, &c, 1);
}

void ps_strbuf_vprintf(ps_strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if (!reserve(sb, (size_t)n))
        return;
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void ps_strbuf_printf(ps_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

const char *ps_strbuf_str(const ps_strbuf *sb)
{
    return sb->data ? sb->data : "";
}

ps_status ps_strbuf_take(ps_strbuf *sb, char **out)
{
    *out = NULL;
    if (sb->failed) {
        ps_strbuf_fini(sb);
        return ps_error(PS_ERR_MEM, "out of memory building a string");
    }
    if (sb->data == NULL) {
        *out = ps_strdup("");
        if (*out == NULL)
            return ps_error(PS_ERR_MEM, "out of memory building a string");
        return PS_OK;
    }
    *out = sb->data;
    ps_strbuf_init(sb);
    return PS_OK;
}
