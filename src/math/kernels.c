/* Dense kernels written so that gcc vectorises them at -O2/-O3 without -ffast-math. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "math/kernels.h"

double ps_kern_dot(size_t n, const double *x, const double *y)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i] * y[i];
        s1 += x[i + 1] * y[i + 1];
        s2 += x[i + 2] * y[i + 2];
        s3 += x[i + 3] * y[i + 3];
    }
    for (; i < n; i++)
        s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

void ps_kern_axpy(size_t n, double a, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static inline uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void ps_kern_exp(size_t n, const double *x, double *y)
{
    /* Adding 1.5 * 2^52 rounds to an integer held in the low mantissa bits. */
    const double shift = 6755399441055744.0;
    const uint64_t shift_bits = 0x4338000000000000ull;
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01; /* fdlibm: 21 trailing zero bits */
    const double ln2_lo = 1.90821492927058770002e-10;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        double vc = v < -746.0 ? -746.0 : v;
        vc = vc > 710.0 ? 710.0 : vc;
        double kd = vc * log2e + shift;
        kd -= shift;
        double r = (vc - kd * ln2_hi) - kd * ln2_lo;
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        /* 2^k = 2^k1 * 2^k2 with k1 = round(k / 2), both factors normal numbers. */
        double k1d = (kd * 0.5 + shift) - shift;
        double k2d = kd - k1d;
        uint64_t k1 = bits_of(k1d + shift) - shift_bits;
        uint64_t k2 = bits_of(k2d + shift) - shift_bits;
        double s1 = double_of((k1 + 1023u) << 52);
        double s2 = double_of((k2 + 1023u) << 52);
        double e = p * s1 * s2;
        e = v > 709.782712893383973 ? INFINITY : e;
        e = v < -745.1332191019412 ? 0.0 : e;
        y[i] = v != v ? v : e;
    }
}
