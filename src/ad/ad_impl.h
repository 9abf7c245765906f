/*
 * Private to src/ad: the tape's layout and the inline fast paths of arena allocation and
 * node recording, which every primitive takes several times per call (scalar code makes
 * millions of such calls per second, so they must not be function calls into tape.c).
 */
#ifndef PS_AD_IMPL_H
#define PS_AD_IMPL_H

#include <string.h>

#include "ad/ad.h"

#define ARENA_ALIGN 4          /* doubles: 32 bytes */
#define ARENA_FIRST_CHUNK 4096 /* doubles */
#define NODES_FIRST 16384      /* bytes */
#define MAX_CHUNKS 64

typedef struct chunk {
    void *raw;   /* what ps_malloc returned */
    double *mem; /* 32-byte aligned start */
    size_t cap;  /* doubles */
} chunk;

/* Stored after each node's payload, so the reverse sweep can walk back from the end. */
typedef struct trailer {
    ps_ad_backward_fn fn;
    size_t bytes;
} trailer;

struct ps_ad_tape {
    double *bump; /* next free double in the current chunk */
    double *end;  /* end of the current chunk */
    unsigned char *nodes;
    size_t node_used;
    size_t node_cap;
    size_t n_nodes;
    bool recording;
    double target;
    size_t cur; /* index of the current chunk */
    size_t n_chunks;
    chunk chunks[MAX_CHUNKS];
    char message[512];
};

ps_status ad_alloc_slow(ps_ad_tape *tape, size_t n, double **out);
ps_status ad_push_slow(ps_ad_tape *tape, ps_ad_backward_fn fn, size_t bytes, void **payload);
ps_status ad_result_slow(ps_ad_tape *tape, size_t rows, size_t cols, bool var, double **values,
                         ps_adv *out);

static inline ps_status ad_alloc(ps_ad_tape *tape, size_t n, double **out)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need >= n && (size_t)(tape->end - tape->bump) >= need) {
        *out = tape->bump;
        tape->bump += need;
        return PS_OK;
    }
    return ad_alloc_slow(tape, n, out);
}

static inline ps_status ad_push(ps_ad_tape *tape, ps_ad_backward_fn fn, size_t bytes,
                                void **payload)
{
    size_t padded = (bytes + 7) & ~(size_t)7;
    size_t need = tape->node_used + padded + sizeof(trailer);
    if (need <= tape->node_cap && need > tape->node_used) {
        unsigned char *p = tape->nodes + tape->node_used;
        trailer t = {fn, padded};
        memcpy(p + padded, &t, sizeof t);
        tape->node_used = need;
        tape->n_nodes++;
        *payload = p;
        return PS_OK;
    }
    return ad_push_slow(tape, fn, bytes, payload);
}

static inline ps_status ad_result(ps_ad_tape *tape, size_t rows, size_t cols, bool var,
                                  double **values, ps_adv *out)
{
    if (rows > 0xffffffffu || cols > 0xffffffffu)
        return ad_result_slow(tape, rows, cols, var, values, out);
    size_t n = rows * cols;
    bool adj = var && tape->recording;
    size_t half = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    double *p = NULL;
    PS_CHECK(ad_alloc(tape, adj ? 2 * half : n, &p));
    out->v = p;
    out->a = NULL;
    if (adj) {
        out->a = p + half;
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

#endif
