/* Fault injection for I/O calls and named failure points (used by the fault tests). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static atomic_long io_count;
static atomic_long io_fail_at;
static atomic_int io_env_read;
static int fault_rank = -1;

void ps_fault_io_after(long n)
{
    atomic_store(&io_env_read, 1);
    atomic_store(&io_fail_at, n > 0 ? atomic_load(&io_count) + n : 0);
}

bool ps_fault_io(void)
{
    if (!atomic_exchange(&io_env_read, 1)) {
        const char *v = getenv("PSAMPLE_FAULT_IO");
        if (v != NULL && *v != '\0') {
            long n = strtol(v, NULL, 10);
            if (n > 0)
                atomic_store(&io_fail_at, n);
        }
    }
    long n = atomic_fetch_add(&io_count, 1) + 1;
    long at = atomic_load(&io_fail_at);
    return at > 0 && n == at;
}

void ps_fault_set_rank(int rank)
{
    fault_rank = rank;
}

bool ps_fault_point(const char *name)
{
    const char *spec = getenv("PSAMPLE_FAULT");
    if (spec == NULL || *spec == '\0')
        return false;
    size_t name_len = strlen(name);
    const char *p = spec;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *at = memchr(p, '@', len);
        size_t key_len = at ? (size_t)(at - p) : len;
        if (key_len == name_len && strncmp(p, name, name_len) == 0) {
            if (at == NULL)
                return true;
            long want = strtol(at + 1, NULL, 10);
            if (want == fault_rank)
                return true;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}
