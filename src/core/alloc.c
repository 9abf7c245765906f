/* Allocation wrappers with fault injection, and checked size arithmetic. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static atomic_long alloc_count;
static atomic_long alloc_fail_at; /* fail when the count reaches this; 0 = never */
static atomic_int alloc_env_read;

/* Reads PSAMPLE_FAULT_ALLOC once, so a whole program run can be failed from outside. */
static void read_env(void)
{
    if (atomic_exchange(&alloc_env_read, 1))
        return;
    const char *v = getenv("PSAMPLE_FAULT_ALLOC");
    if (v != NULL && *v != '\0') {
        long n = strtol(v, NULL, 10);
        if (n > 0)
            atomic_store(&alloc_fail_at, n);
    }
}

void ps_fault_alloc_after(long n)
{
    atomic_store(&alloc_env_read, 1);
    atomic_store(&alloc_fail_at, n > 0 ? atomic_load(&alloc_count) + n : 0);
}

long ps_fault_alloc_count(void)
{
    return atomic_load(&alloc_count);
}

static bool should_fail(void)
{
    read_env();
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long at = atomic_load(&alloc_fail_at);
    return at > 0 && n == at;
}

void *ps_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size == 0 ? 1 : size);
}

void *ps_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    if (count == 0 || size == 0)
        return calloc(1, 1);
    return calloc(count, size);
}

void *ps_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(ptr, size == 0 ? 1 : size);
}

void ps_free(void *ptr)
{
    free(ptr);
}

char *ps_strndup(const char *s, size_t n)
{
    char *out = ps_malloc(n + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

char *ps_strdup(const char *s)
{
    return ps_strndup(s, strlen(s));
}

bool ps_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool ps_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return false;
    *out = a + b;
    return true;
}

ps_status ps_alloc_array(void *ptr_out, size_t count, size_t elem_size, const char *what)
{
    size_t bytes;
    void *p = NULL;
    memcpy(ptr_out, &p, sizeof p);
    if (!ps_size_mul(count, elem_size, &bytes))
        return ps_error(PS_ERR_MEM, "size overflow allocating %zu x %zu bytes for %s", count,
                        elem_size, what);
    p = ps_calloc(count, elem_size);
    if (p == NULL)
        return ps_error(PS_ERR_MEM, "out of memory allocating %zu bytes for %s", bytes, what);
    memcpy(ptr_out, &p, sizeof p);
    return PS_OK;
}

ps_status ps_realloc_array(void *ptr_inout, size_t count, size_t elem_size, const char *what)
{
    size_t bytes;
    void *old;
    memcpy(&old, ptr_inout, sizeof old);
    if (!ps_size_mul(count, elem_size, &bytes))
        return ps_error(PS_ERR_MEM, "size overflow allocating %zu x %zu bytes for %s", count,
                        elem_size, what);
    void *p = ps_realloc(old, bytes);
    if (p == NULL)
        return ps_error(PS_ERR_MEM, "out of memory allocating %zu bytes for %s", bytes, what);
    memcpy(ptr_inout, &p, sizeof p);
    return PS_OK;
}

void ps_free_ptr(void *ptr_inout)
{
    void *p;
    memcpy(&p, ptr_inout, sizeof p);
    free(p);
    p = NULL;
    memcpy(ptr_inout, &p, sizeof p);
}
