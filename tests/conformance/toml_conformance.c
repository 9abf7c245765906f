/*
 * toml_conformance: runs toml-decoder over the TOML 1.0.0 cases of toml-test
 * (../shared/conformance/toml-test/tests/files-toml-1.0.0).
 *
 * Usage: toml_conformance PATH/TO/toml-decoder
 *
 * A valid case passes when the decoder exits 0 and its JSON equals the expected .json as
 * toml-test compares them: the same keys, arrays of the same length, values with the same
 * type tag, and equal values, where floats are compared as numbers (nan equals nan),
 * integers as 64-bit numbers, and date-times after normalisation (offset date-times as
 * instants, fractional seconds without trailing zeros). An invalid case passes when the
 * decoder exits with status 1 and writes a message to standard error (a crash or a silent
 * acceptance fails). Prints "toml-test: N passed, M failed" and the names of failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testlib.h"

extern char **environ;

typedef struct output {
    char *data;
    size_t len;
} output;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *data = malloc(cap + 1);
    while (data != NULL) {
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *grown = realloc(data, 2 * cap + 1);
        if (grown == NULL) {
            free(data);
            data = NULL;
            break;
        }
        data = grown;
        cap *= 2;
    }
    fclose(f);
    if (data != NULL) {
        data[n] = '\0';
        *len = n;
    }
    return data;
}

static void drain(int fd, output *out)
{
    size_t cap = 0;
    out->data = NULL;
    out->len = 0;
    for (;;) {
        if (out->len + 4096 + 1 > cap) {
            cap = cap == 0 ? 16384 : cap * 2;
            char *grown = realloc(out->data, cap);
            if (grown == NULL)
                break;
            out->data = grown;
        }
        ssize_t got = read(fd, out->data + out->len, cap - out->len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        out->len += (size_t)got;
    }
    if (out->data != NULL)
        out->data[out->len] = '\0';
}

/* Runs the decoder with `input` on standard input; returns the wait status or -1. */
static int run_decoder(const char *decoder, const char *input, output *out, output *err)
{
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0)
        return -1;
    if (pipe(err_pipe) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
    char *argv[] = {(char *)decoder, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, decoder, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return -1;
    }
    /* Error messages are short; the standard output can be large, so read it first and
     * let the kernel buffer the error pipe. */
    drain(out_pipe[0], out);
    drain(err_pipe[0], err);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int wstatus;
    while (waitpid(pid, &wstatus, 0) < 0)
        if (errno != EINTR)
            return -1;
    return wstatus;
}

/* ---------------------------------------------------------------------------------------
 * Semantic comparison of tagged JSON
 * ------------------------------------------------------------------------------------- */

static bool is_tagged(const cJSON *v)
{
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) != 2)
        return false;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(v, "value");
    return cJSON_IsString(type) && cJSON_IsString(value);
}

static bool parse_float(const char *s, double *out)
{
    if (strcmp(s, "nan") == 0 || strcmp(s, "+nan") == 0 || strcmp(s, "-nan") == 0) {
        *out = NAN;
        return true;
    }
    if (strcmp(s, "inf") == 0 || strcmp(s, "+inf") == 0) {
        *out = HUGE_VAL;
        return true;
    }
    if (strcmp(s, "-inf") == 0) {
        *out = -HUGE_VAL;
        return true;
    }
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == '\0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant, "chrono-compatible
 * low-level date algorithms", days_from_civil). */
static long long days_from_civil(long long y, long long m, long long d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Normalises a toml-test date/time to a comparable string: local forms keep their fields,
 * offset date-times become UTC seconds; fractions lose trailing zeros. */
static bool normalise_datetime(const char *type, const char *s, char *out, size_t cap)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    const char *p = s;
    int used = 0;
    bool has_date = strcmp(type, "time-local") != 0;
    bool has_time = strcmp(type, "date-local") != 0;
    if (has_date) {
        if (sscanf(p, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
            return false;
        p += used;
        if (has_time) {
            if (*p != 'T' && *p != 't' && *p != ' ')
                return false;
            p++;
        }
    }
    char fraction[64] = "";
    if (has_time) {
        if (sscanf(p, "%2d:%2d:%2d%n", &h, &mi, &sec, &used) != 3 || used != 8)
            return false;
        p += used;
        if (*p == '.') {
            size_t n = 0;
            p++;
            while (*p >= '0' && *p <= '9' && n + 1 < sizeof fraction)
                fraction[n++] = *p++;
            while (*p >= '0' && *p <= '9')
                p++;
            while (n > 0 && fraction[n - 1] == '0')
                n--;
            fraction[n] = '\0';
        }
    }
    long long offset = 0;
    if (strcmp(type, "datetime") == 0) {
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &used) != 2 || used != 5)
                return false;
            offset = (*p == '-' ? -1 : 1) * (oh * 60LL + om);
            p += 6;
        } else {
            return false;
        }
    }
    if (*p != '\0')
        return false;
    if (strcmp(type, "datetime") == 0) {
        long long t =
            days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec - offset * 60;
        snprintf(out, cap, "%lld.%s", t, fraction);
    } else {
        snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d.%s", y, mo, d, h, mi, sec, fraction);
    }
    return true;
}

static bool values_equal(const char *type, const char *want, const char *got)
{
    if (strcmp(type, "float") == 0) {
        double a, b;
        if (!parse_float(want, &a) || !parse_float(got, &b))
            return false;
        return (isnan(a) && isnan(b)) || a == b;
    }
    if (strcmp(type, "integer") == 0) {
        char *end_a, *end_b;
        errno = 0;
        long long a = strtoll(want, &end_a, 10);
        long long b = strtoll(got, &end_b, 10);
        return errno == 0 && *end_a == '\0' && *end_b == '\0' && end_a != want && end_b != got &&
               a == b;
    }
    if (strcmp(type, "datetime") == 0 || strcmp(type, "datetime-local") == 0 ||
        strcmp(type, "date-local") == 0 || strcmp(type, "time-local") == 0) {
        char a[128], b[128];
        return normalise_datetime(type, want, a, sizeof a) &&
               normalise_datetime(type, got, b, sizeof b) && strcmp(a, b) == 0;
    }
    return strcmp(want, got) == 0;
}

/* Compares expected and actual JSON; on a difference writes where and what to `why`. */
static bool json_equal(const cJSON *want, const cJSON *got, const char *where, char *why,
                       size_t cap)
{
    if (is_tagged(want)) {
        if (!is_tagged(got)) {
            snprintf(why, cap, "at %s: expected a tagged value, got something else", where);
            return false;
        }
        const char *wt = cJSON_GetObjectItemCaseSensitive(want, "type")->valuestring;
        const char *gt = cJSON_GetObjectItemCaseSensitive(got, "type")->valuestring;
        const char *wv = cJSON_GetObjectItemCaseSensitive(want, "value")->valuestring;
        const char *gv = cJSON_GetObjectItemCaseSensitive(got, "value")->valuestring;
        if (strcmp(wt, gt) != 0) {
            snprintf(why, cap, "at %s: expected type %s, got %s", where, wt, gt);
            return false;
        }
        if (!values_equal(wt, wv, gv)) {
            snprintf(why, cap, "at %s: expected %s \"%.60s\", got \"%.60s\"", where, wt, wv, gv);
            return false;
        }
        return true;
    }
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got)) {
            snprintf(why, cap, "at %s: expected an array", where);
            return false;
        }
        int n = cJSON_GetArraySize(want);
        if (cJSON_GetArraySize(got) != n) {
            snprintf(why, cap, "at %s: expected %d array items, got %d", where, n,
                     cJSON_GetArraySize(got));
            return false;
        }
        for (int i = 0; i < n; i++) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s[%d]", where, i);
            if (!json_equal(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i), sub, why, cap))
                return false;
        }
        return true;
    }
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got) || is_tagged(got)) {
            snprintf(why, cap, "at %s: expected a table", where);
            return false;
        }
        if (cJSON_GetArraySize(got) != cJSON_GetArraySize(want)) {
            snprintf(why, cap, "at %s: expected %d keys, got %d", where, cJSON_GetArraySize(want),
                     cJSON_GetArraySize(got));
            return false;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, want)
        {
            char sub[512];
            snprintf(sub, sizeof sub, "%s.%.60s", where, item->string);
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(got, item->string);
            if (other == NULL) {
                snprintf(why, cap, "at %s: key missing", sub);
                return false;
            }
            if (!json_equal(item, other, sub, why, cap))
                return false;
        }
        return true;
    }
    snprintf(why, cap, "at %s: unexpected JSON in the expected file", where);
    return false;
}

/* ---------------------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------------------- */

/* Writes "dir/name" (without the last `drop` bytes of name, then `suffix`) to out. */
static bool case_path(char *out, size_t cap, const char *dir, const char *name, size_t drop,
                      const char *suffix)
{
    int n = snprintf(out, cap, "%s/%.*s%s", dir, (int)(strlen(name) - drop), name, suffix);
    return n > 0 && (size_t)n < cap;
}

static bool run_valid(const char *decoder, const char *dir, const char *name, char *why, size_t cap)
{
    char toml[4096], json[4096];
    if (!case_path(toml, sizeof toml, dir, name, 0, "") ||
        !case_path(json, sizeof json, dir, name, 5, ".json")) {
        snprintf(why, cap, "path too long");
        return false;
    }
    size_t want_len;
    char *want_text = read_file(json, &want_len);
    if (want_text == NULL) {
        snprintf(why, cap, "cannot read the expected JSON");
        return false;
    }
    output out = {NULL, 0}, err = {NULL, 0};
    int ws = run_decoder(decoder, toml, &out, &err);
    bool ok = false;
    if (ws == -1) {
        snprintf(why, cap, "cannot run %s", decoder);
    } else if (WIFSIGNALED(ws)) {
        snprintf(why, cap, "decoder killed by signal %d", WTERMSIG(ws));
    } else if (WEXITSTATUS(ws) != 0) {
        snprintf(why, cap, "rejected (exit %d): %.300s", WEXITSTATUS(ws), err.data ? err.data : "");
    } else {
        cJSON *want = cJSON_ParseWithLength(want_text, want_len);
        cJSON *got = out.data ? cJSON_ParseWithLength(out.data, out.len) : NULL;
        if (want == NULL)
            snprintf(why, cap, "cannot parse the expected JSON");
        else if (got == NULL)
            snprintf(why, cap, "decoder output is not JSON: %.200s", out.data ? out.data : "");
        else
            ok = json_equal(want, got, "(root)", why, cap);
        cJSON_Delete(want);
        cJSON_Delete(got);
    }
    free(out.data);
    free(err.data);
    free(want_text);
    return ok;
}

static bool run_invalid(const char *decoder, const char *dir, const char *name, char *why,
                        size_t cap)
{
    char toml[4096];
    if (!case_path(toml, sizeof toml, dir, name, 0, "")) {
        snprintf(why, cap, "path too long");
        return false;
    }
    output out = {NULL, 0}, err = {NULL, 0};
    int ws = run_decoder(decoder, toml, &out, &err);
    bool ok = false;
    if (ws == -1)
        snprintf(why, cap, "cannot run %s", decoder);
    else if (WIFSIGNALED(ws))
        snprintf(why, cap, "decoder killed by signal %d", WTERMSIG(ws));
    else if (WEXITSTATUS(ws) == 0)
        snprintf(why, cap, "accepted invalid input");
    else if (WEXITSTATUS(ws) != 1)
        snprintf(why, cap, "exit status %d, expected 1", WEXITSTATUS(ws));
    else if (err.len == 0)
        snprintf(why, cap, "no error message on standard error");
    else
        ok = true;
    free(out.data);
    free(err.data);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/toml-decoder\n", argv[0]);
        return 2;
    }
    TEST_REQUIRE_SHARED(shared);
    (void)test_checks_;
    (void)test_failures_;
    char dir[4096], list_path[4096];
    int n_dir = snprintf(dir, sizeof dir, "%s/conformance/toml-test/tests", shared);
    int n_list = snprintf(list_path, sizeof list_path, "%s/files-toml-1.0.0", dir);
    if (n_dir < 0 || (size_t)n_dir >= sizeof dir || n_list < 0 ||
        (size_t)n_list >= sizeof list_path) {
        fprintf(stderr, "toml_conformance: path of the shared folder is too long\n");
        return 2;
    }
    size_t list_len;
    char *list = read_file(list_path, &list_len);
    if (list == NULL) {
        printf("SKIP: %s is absent\n", list_path);
        return TEST_SKIP_CODE;
    }
    int passed = 0, failed = 0, valid = 0, invalid = 0;
    char *save = NULL;
    for (char *line = strtok_r(list, "\r\n", &save); line != NULL;
         line = strtok_r(NULL, "\r\n", &save)) {
        size_t n = strlen(line);
        if (n < 5 || strcmp(line + n - 5, ".toml") != 0)
            continue;
        char why[1024] = "";
        bool ok;
        if (strncmp(line, "valid/", 6) == 0) {
            valid++;
            ok = run_valid(argv[1], dir, line, why, sizeof why);
        } else if (strncmp(line, "invalid/", 8) == 0) {
            invalid++;
            ok = run_invalid(argv[1], dir, line, why, sizeof why);
        } else {
            continue;
        }
        if (ok) {
            passed++;
        } else {
            failed++;
            printf("FAIL %s: %s\n", line, why);
        }
    }
    free(list);
    printf("toml-test: %d passed, %d failed\n", passed, failed);
    printf("(%d valid and %d invalid cases)\n", valid, invalid);
    return failed == 0 && passed > 0 ? 0 : 1;
}
