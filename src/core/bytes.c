/* Little-endian serialisation and FNV-1a hashing, for checkpoints and digests. */
#include <string.h>

#include "core/core.h"

uint64_t ps_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

void ps_put_u64(ps_writer *w, uint64_t v)
{
    if (w->buf != NULL && w->pos + 8 <= w->size)
        for (int k = 0; k < 8; k++)
            w->buf[w->pos + (size_t)k] = (unsigned char)(v >> (8 * k));
    w->pos += 8;
}

void ps_put_f64(ps_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    ps_put_u64(w, bits);
}

void ps_put_f64s(ps_writer *w, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ps_put_f64(w, v[i]);
}

uint64_t ps_get_u64(ps_reader *r)
{
    if (r->failed || r->pos + 8 > r->size) {
        r->failed = true;
        return 0;
    }
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)r->buf[r->pos + (size_t)k] << (8 * k);
    r->pos += 8;
    return v;
}

double ps_get_f64(ps_reader *r)
{
    uint64_t bits = ps_get_u64(r);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

void ps_get_f64s(ps_reader *r, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = ps_get_f64(r);
}

void ps_put_bytes(ps_writer *w, const void *bytes, size_t n)
{
    if (w->buf != NULL && w->pos + n <= w->size)
        memcpy(w->buf + w->pos, bytes, n);
    w->pos += n;
}

void ps_get_bytes(ps_reader *r, void *bytes, size_t n)
{
    if (r->failed || r->pos + n > r->size || r->pos + n < r->pos) {
        r->failed = true;
        return;
    }
    memcpy(bytes, r->buf + r->pos, n);
    r->pos += n;
}
