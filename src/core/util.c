/* Logging, files, paths, time and small string utilities. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

static ps_log_level log_level = PS_LOG_INFO;
static bool log_enabled = true;

void ps_log_set_level(ps_log_level level)
{
    log_level = level;
}

void ps_log_set_enabled(bool enabled)
{
    log_enabled = enabled;
}

void ps_log(ps_log_level level, const char *fmt, ...)
{
    if (!log_enabled || level > log_level)
        return;
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "psample: %s", prefix[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

ps_status ps_file_read(const char *path, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (ps_fault_io())
        return ps_error(PS_ERR_IO, "cannot read %s: injected I/O fault", path);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ps_error(PS_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ps_strbuf_append(&sb, chunk, n);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err != 0) {
        ps_strbuf_fini(&sb);
        return ps_error(PS_ERR_IO, "cannot read %s: %s", path, strerror(err));
    }
    size_t total = sb.len;
    PS_CHECK(ps_strbuf_take(&sb, out));
    *len = total;
    return PS_OK;
}

ps_status ps_path_resolve(const char *base_file, const char *path, char **out)
{
    *out = NULL;
    const char *slash = base_file ? strrchr(base_file, '/') : NULL;
    if (path[0] == '/' || slash == NULL) {
        *out = ps_strdup(path);
    } else {
        ps_strbuf sb;
        ps_strbuf_init(&sb);
        ps_strbuf_append(&sb, base_file, (size_t)(slash - base_file) + 1);
        ps_strbuf_puts(&sb, path);
        return ps_strbuf_take(&sb, out);
    }
    if (*out == NULL)
        return ps_error(PS_ERR_MEM, "out of memory resolving a path");
    return PS_OK;
}

double ps_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t ps_edit_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return limit + 1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        size_t best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1;
            size_t ins = row[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            row[j] = m < ins ? m : ins;
            if (row[j] < best)
                best = row[j];
            prev = cur;
        }
        if (best > limit)
            return limit + 1;
    }
    return row[lb] > limit ? limit + 1 : row[lb];
}
