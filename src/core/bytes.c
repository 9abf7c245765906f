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

size_t ps_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

double ps_dot_fixed(const double *a, const double *b, size_t n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}
