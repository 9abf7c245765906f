/*
 * The tape: an arena of doubles in stable chunks and a byte buffer of nodes.
 *
 * Values are addressed by raw pointers, so arena blocks must never move: the arena is a
 * list of chunks and a block is always carved from one chunk. A reset merges a multi-chunk
 * arena into one chunk of the combined size, so a model whose evaluations follow the same
 * path reaches a fixed point after one or two evaluations and never allocates again.
 *
 * Nodes are records [payload | trailer] in one buffer; the trailer holds the backward
 * function and the payload size, so the reverse sweep walks from the end without an index
 * (the same trick as a stack of frames with a back link). Nodes only point into the arena,
 * never into the node buffer, so the node buffer may be reallocated while it grows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ad/ad_impl.h"

static ps_status add_chunk(ps_ad_tape *tape, size_t cap)
{
    if (tape->n_chunks == MAX_CHUNKS)
        return ps_error(PS_ERR_MEM, "autodiff tape: too many arena chunks");
    size_t bytes;
    if (!ps_size_add(cap, ARENA_ALIGN, &bytes) || !ps_size_mul(bytes, sizeof(double), &bytes))
        return ps_error(PS_ERR_MEM, "autodiff tape: arena size overflow");
    void *raw = ps_malloc(bytes);
    if (raw == NULL)
        return ps_error(PS_ERR_MEM, "out of memory growing the autodiff arena to %zu doubles", cap);
    uintptr_t p = (uintptr_t)raw;
    uintptr_t align = ARENA_ALIGN * sizeof(double);
    p = (p + align - 1) & ~(align - 1);
    chunk *c = &tape->chunks[tape->n_chunks++];
    c->raw = raw;
    c->mem = (double *)p;
    c->cap = cap;
    return PS_OK;
}

ps_status ps_ad_tape_create(ps_ad_tape **out)
{
    *out = NULL;
    ps_ad_tape *tape = ps_calloc(1, sizeof *tape);
    if (tape == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating an autodiff tape");
    ps_status status = add_chunk(tape, ARENA_FIRST_CHUNK);
    if (status == PS_OK) {
        tape->bump = tape->chunks[0].mem;
        tape->end = tape->bump + tape->chunks[0].cap;
        tape->nodes = ps_malloc(NODES_FIRST);
        if (tape->nodes == NULL)
            status = ps_error(PS_ERR_MEM, "out of memory creating an autodiff tape");
        tape->node_cap = NODES_FIRST;
    }
    if (status != PS_OK) {
        ps_ad_tape_destroy(&tape);
        return status;
    }
    tape->recording = true;
    *out = tape;
    return PS_OK;
}

void ps_ad_tape_destroy(ps_ad_tape **tape)
{
    if (tape == NULL || *tape == NULL)
        return;
    ps_ad_tape *t = *tape;
    for (size_t i = 0; i < t->n_chunks; i++)
        ps_free(t->chunks[i].raw);
    ps_free(t->nodes);
    ps_free(t);
    *tape = NULL;
}

static size_t arena_capacity(const ps_ad_tape *tape)
{
    size_t total = 0;
    for (size_t i = 0; i < tape->n_chunks; i++)
        total += tape->chunks[i].cap;
    return total;
}

static ps_status grow_nodes(ps_ad_tape *tape, size_t need)
{
    if (need <= tape->node_cap)
        return PS_OK;
    size_t cap = tape->node_cap;
    while (cap < need) {
        if (!ps_size_mul(cap, 2, &cap))
            return ps_error(PS_ERR_MEM, "autodiff tape: node buffer size overflow");
    }
    unsigned char *p = ps_realloc(tape->nodes, cap);
    if (p == NULL)
        return ps_error(PS_ERR_MEM, "out of memory growing the autodiff node buffer to %zu bytes",
                        cap);
    tape->nodes = p;
    tape->node_cap = cap;
    return PS_OK;
}

ps_status ps_ad_tape_reserve(ps_ad_tape *tape, size_t doubles, size_t node_bytes)
{
    PS_CHECK(grow_nodes(tape, node_bytes));
    size_t have = arena_capacity(tape);
    if (have >= doubles)
        return PS_OK;
    if (tape->cur == 0 && tape->bump == tape->chunks[0].mem) {
        /* Nothing lives in the arena: replace all chunks by one. */
        chunk old[MAX_CHUNKS];
        size_t n_old = tape->n_chunks;
        memcpy(old, tape->chunks, sizeof old);
        tape->n_chunks = 0;
        ps_status status = add_chunk(tape, doubles);
        if (status != PS_OK) {
            memcpy(tape->chunks, old, sizeof old);
            tape->n_chunks = n_old;
            return status;
        }
        for (size_t i = 0; i < n_old; i++)
            ps_free(old[i].raw);
        tape->cur = 0;
        tape->bump = tape->chunks[0].mem;
        tape->end = tape->bump + tape->chunks[0].cap;
        return PS_OK;
    }
    return add_chunk(tape, doubles - have);
}

void ps_ad_tape_begin(ps_ad_tape *tape, bool gradient)
{
    if (tape->n_chunks > 1) {
        /* Merge the chunks into one, so the next evaluations fit in a single block. If the
         * allocation fails the old chunks stay: they still work, only less compactly. */
        size_t total = arena_capacity(tape);
        size_t bytes = (total + ARENA_ALIGN) * sizeof(double);
        void *raw = ps_malloc(bytes);
        if (raw != NULL) {
            for (size_t i = 0; i < tape->n_chunks; i++)
                ps_free(tape->chunks[i].raw);
            uintptr_t p = (uintptr_t)raw;
            uintptr_t align = ARENA_ALIGN * sizeof(double);
            p = (p + align - 1) & ~(align - 1);
            tape->chunks[0].raw = raw;
            tape->chunks[0].mem = (double *)p;
            tape->chunks[0].cap = total;
            tape->n_chunks = 1;
        }
    }
    tape->cur = 0;
    tape->bump = tape->chunks[0].mem;
    tape->end = tape->chunks[0].mem + tape->chunks[0].cap;
    tape->node_used = 0;
    tape->n_nodes = 0;
    tape->recording = gradient;
    tape->target = 0.0;
    tape->message[0] = '\0';
}

bool ps_ad_tape_recording(const ps_ad_tape *tape)
{
    return tape->recording;
}

ps_status ps_ad_alloc(ps_ad_tape *tape, size_t n, double **out)
{
    return ad_alloc(tape, n, out);
}

ps_status ad_alloc_slow(ps_ad_tape *tape, size_t n, double **out)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        return ps_error(PS_ERR_MEM, "autodiff arena: size overflow");
    for (;;) {
        if ((size_t)(tape->end - tape->bump) >= need) {
            *out = tape->bump;
            tape->bump += need;
            return PS_OK;
        }
        if (tape->cur + 1 >= tape->n_chunks) {
            size_t cap = arena_capacity(tape);
            if (cap < need)
                cap = need;
            PS_CHECK(add_chunk(tape, cap));
        }
        tape->cur++;
        tape->bump = tape->chunks[tape->cur].mem;
        tape->end = tape->bump + tape->chunks[tape->cur].cap;
    }
}

ps_status ps_ad_node_push(ps_ad_tape *tape, ps_ad_backward_fn fn, size_t bytes, void **payload)
{
    return ad_push(tape, fn, bytes, payload);
}

ps_status ad_push_slow(ps_ad_tape *tape, ps_ad_backward_fn fn, size_t bytes, void **payload)
{
    size_t padded = (bytes + 7) & ~(size_t)7;
    size_t need = tape->node_used + padded + sizeof(trailer);
    if (need < tape->node_used)
        return ps_error(PS_ERR_MEM, "autodiff tape: node buffer size overflow");
    PS_CHECK(grow_nodes(tape, need));
    unsigned char *p = tape->nodes + tape->node_used;
    trailer t = {fn, padded};
    memcpy(p + padded, &t, sizeof t);
    tape->node_used = need;
    tape->n_nodes++;
    *payload = p;
    return PS_OK;
}

ps_status ps_ad_tape_grad(ps_ad_tape *tape)
{
    if (!tape->recording)
        return ps_error(PS_ERR_INTERNAL, "ps_ad_tape_grad called on a value-only evaluation");
    size_t pos = tape->node_used;
    unsigned char *base = tape->nodes;
    while (pos > 0) {
        trailer t;
        memcpy(&t, base + pos - sizeof t, sizeof t);
        pos -= sizeof t + t.bytes;
        t.fn(base + pos);
    }
    return PS_OK;
}

double ps_ad_target(const ps_ad_tape *tape)
{
    return tape->target;
}

const char *ps_ad_tape_message(const ps_ad_tape *tape)
{
    return tape->message;
}

void ps_ad_tape_get_stats(const ps_ad_tape *tape, ps_ad_tape_stats *stats)
{
    size_t used = (size_t)(tape->bump - tape->chunks[tape->cur].mem);
    for (size_t i = 0; i < tape->cur; i++)
        used += tape->chunks[i].cap;
    stats->arena_used = used;
    stats->arena_capacity = arena_capacity(tape);
    stats->arena_chunks = tape->n_chunks;
    stats->node_bytes = tape->node_used;
    stats->node_capacity = tape->node_cap;
    stats->nodes = tape->n_nodes;
}

ps_status ps_ad_domain_error(ps_ad_tape *tape, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tape->message, sizeof tape->message, fmt, ap);
    va_end(ap);
    return PS_ERR_NUMERIC;
}

ps_status ps_ad_result(ps_ad_tape *tape, size_t rows, size_t cols, bool var, double **values,
                       ps_adv *out)
{
    return ad_result(tape, rows, cols, var, values, out);
}

ps_status ad_result_slow(ps_ad_tape *tape, size_t rows, size_t cols, bool var, double **values,
                         ps_adv *out)
{
    size_t n;
    if (!ps_size_mul(rows, cols, &n))
        return ps_error(PS_ERR_MODEL, "container of %zu x %zu elements is too large", rows, cols);
    bool adj = var && tape->recording;
    size_t total = n;
    if (adj) {
        /* Values and adjoints share one block; the adjoints start on an aligned address. */
        total = ((n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1)) * 2;
    }
    double *p = NULL;
    PS_CHECK(ad_alloc_slow(tape, total, &p));
    out->v = p;
    out->a = NULL;
    if (adj) {
        out->a = p + total / 2;
        if (n <= 4)
            for (size_t i = 0; i < n; i++)
                out->a[i] = 0.0;
        else
            memset(out->a, 0, n * sizeof(double));
    }
    out->rows = rows;
    out->cols = cols;
    out->var = var;
    *values = p;
    return PS_OK;
}

ps_status ps_ad_params(ps_ad_tape *tape, const double *theta, size_t n, ps_adv *out)
{
    double *v = NULL;
    PS_CHECK(ps_ad_result(tape, n, 1, true, &v, out));
    if (n > 0)
        memcpy(v, theta, n * sizeof(double));
    return PS_OK;
}

ps_adv ps_ad_data(const double *v, size_t rows, size_t cols)
{
    ps_adv x = {v, NULL, rows, cols, false};
    return x;
}

ps_adi ps_ad_int_data(const int *v, size_t n)
{
    ps_adi x = {v, n};
    return x;
}

ps_status ps_ad_const(ps_ad_tape *tape, double x, ps_adv *out)
{
    double *v = NULL;
    PS_CHECK(ps_ad_result(tape, 1, 1, false, &v, out));
    v[0] = x;
    return PS_OK;
}

ps_status ps_ad_const_alloc(ps_ad_tape *tape, size_t rows, size_t cols, double **values,
                            ps_adv *out)
{
    return ps_ad_result(tape, rows, cols, false, values, out);
}

typedef struct target_node {
    double *a;
    size_t n;
} target_node;

static void target_back(void *p)
{
    target_node *node = p;
    for (size_t i = 0; i < node->n; i++)
        node->a[i] += 1.0;
}

ps_status ps_ad_target_add(ps_ad_tape *tape, ps_adv x)
{
    size_t n = ps_adv_size(x);
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x.v[i];
    tape->target += s;
    if (x.a != NULL) {
        target_node *node;
        PS_CHECK(ps_ad_node_push(tape, target_back, sizeof *node, (void **)&node));
        node->a = x.a;
        node->n = n;
    }
    return PS_OK;
}

void ps_ad_target_add_const(ps_ad_tape *tape, double x)
{
    tape->target += x;
}

ps_status ps_ad_broadcast_size(const char *what, const size_t *sizes, size_t count, size_t *n)
{
    size_t m = 1;
    bool have = false;
    for (size_t i = 0; i < count; i++) {
        if (sizes[i] == 1)
            continue;
        if (!have) {
            m = sizes[i];
            have = true;
        } else if (sizes[i] != m) {
            return ps_error(PS_ERR_MODEL,
                            "%s: sizes of the arguments differ (%zu and %zu elements); "
                            "each argument must be a scalar or of the common size",
                            what, m, sizes[i]);
        }
    }
    *n = m;
    return PS_OK;
}

ps_status ps_ad_partials_begin(ps_ad_tape *tape, ps_ad_partials *p, const ps_adv *operands,
                               size_t count)
{
    if (count > PS_AD_MAX_OPERANDS)
        return ps_error(PS_ERR_INTERNAL, "ps_ad_partials_begin: %zu operands (at most %d)", count,
                        PS_AD_MAX_OPERANDS);
    p->tape = tape;
    p->count = count;
    /* One arena block for all the partial arrays (scalar code calls this per element). */
    size_t total = 0;
    for (size_t k = 0; k < count; k++) {
        p->d[k] = NULL;
        p->adj[k] = operands[k].a;
        p->n[k] = ps_adv_size(operands[k]);
        if (operands[k].a != NULL)
            total += p->n[k];
    }
    if (total == 0)
        return PS_OK;
    double *block = NULL;
    PS_CHECK(ps_ad_alloc(tape, total, &block));
    if (total <= 8)
        for (size_t i = 0; i < total; i++)
            block[i] = 0.0;
    else
        memset(block, 0, total * sizeof(double));
    for (size_t k = 0; k < count; k++) {
        if (operands[k].a != NULL) {
            p->d[k] = block;
            block += p->n[k];
        }
    }
    return PS_OK;
}

typedef struct partial_entry {
    double *adj;
    const double *d;
    size_t n;
} partial_entry;

typedef struct partials_node {
    const double *out_a;
    size_t count;
    partial_entry e[]; /* count entries */
} partials_node;

static void partials_back(void *p)
{
    partials_node *node = p;
    double g = node->out_a[0];
    if (g == 0.0)
        return;
    for (size_t k = 0; k < node->count; k++) {
        double *adj = node->e[k].adj;
        const double *d = node->e[k].d;
        size_t n = node->e[k].n;
        for (size_t i = 0; i < n; i++)
            adj[i] += g * d[i];
    }
}

ps_status ps_ad_partials_finish(ps_ad_partials *p, double value, bool var, ps_adv *out)
{
    double *v = NULL;
    PS_CHECK(ps_ad_result(p->tape, 1, 1, var, &v, out));
    v[0] = value;
    if (out->a == NULL)
        return PS_OK;
    size_t used = 0;
    for (size_t k = 0; k < p->count; k++)
        if (p->d[k] != NULL)
            used++;
    if (used == 0)
        return PS_OK;
    partials_node *node;
    PS_CHECK(ps_ad_node_push(p->tape, partials_back, sizeof *node + used * sizeof(partial_entry),
                             (void **)&node));
    node->out_a = out->a;
    node->count = 0;
    for (size_t k = 0; k < p->count; k++) {
        if (p->d[k] == NULL)
            continue;
        node->e[node->count].adj = p->adj[k];
        node->e[node->count].d = p->d[k];
        node->e[node->count].n = p->n[k];
        node->count++;
    }
    return PS_OK;
}

typedef struct scalar_node {
    const double *out_a;
    size_t count;
    double *adj[4];
    double d[4];
} scalar_node;

static void scalar_back(void *p)
{
    scalar_node *node = p;
    double g = node->out_a[0];
    for (size_t k = 0; k < node->count; k++)
        node->adj[k][0] += g * node->d[k];
}

ps_status ps_ad_scalar_result(ps_ad_tape *tape, double value, bool var, const ps_adv *operands,
                              const double *d, size_t count, ps_adv *out)
{
    double *v = NULL;
    PS_CHECK(ad_result(tape, 1, 1, var, &v, out));
    v[0] = value;
    if (out->a == NULL)
        return PS_OK;
    scalar_node *node;
    PS_CHECK(ad_push(tape, scalar_back, sizeof *node, (void **)&node));
    node->out_a = out->a;
    node->count = 0;
    for (size_t k = 0; k < count && k < 4; k++) {
        if (operands[k].a == NULL)
            continue;
        node->adj[node->count] = operands[k].a;
        node->d[node->count] = d[k];
        node->count++;
    }
    return PS_OK;
}
