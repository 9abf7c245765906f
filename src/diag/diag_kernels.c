/*
 * Kernels of the diagnostics: sorting, a radix-2 FFT and the normal quantile function.
 * None of them allocates; callers pass scratch space.
 */
#include "diag/diag_impl.h"
#include "math/special.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Runs of this length are sorted by insertion before merging: insertion sort is faster
 * than merging on short runs and keeps the worst case O(n log n). */
#define SORT_RUN 16

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void merge_sort_values(double *values, double *scratch, size_t n)
{
    for (size_t lo = 0; lo < n; lo += SORT_RUN) {
        size_t hi = min_size(lo + SORT_RUN, n);
        for (size_t i = lo + 1; i < hi; i++) {
            double v = values[i];
            size_t j = i;
            while (j > lo && values[j - 1] > v) {
                values[j] = values[j - 1];
                j--;
            }
            values[j] = v;
        }
    }
    double *src = values, *dst = scratch;
    for (size_t width = SORT_RUN; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = min_size(lo + width, n), hi = min_size(lo + 2 * width, n);
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[j] < src[i] ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        double *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != values)
        memcpy(values, src, n * sizeof *values);
}

static void merge_sort_pairs(ps_diag_rank_pair *pairs, ps_diag_rank_pair *scratch, size_t n)
{
    for (size_t lo = 0; lo < n; lo += SORT_RUN) {
        size_t hi = min_size(lo + SORT_RUN, n);
        for (size_t i = lo + 1; i < hi; i++) {
            ps_diag_rank_pair v = pairs[i];
            size_t j = i;
            while (j > lo && pairs[j - 1].value > v.value) {
                pairs[j] = pairs[j - 1];
                j--;
            }
            pairs[j] = v;
        }
    }
    ps_diag_rank_pair *src = pairs, *dst = scratch;
    for (size_t width = SORT_RUN; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = min_size(lo + width, n), hi = min_size(lo + 2 * width, n);
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[j].value < src[i].value ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        ps_diag_rank_pair *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != pairs)
        memcpy(pairs, src, n * sizeof *pairs);
}

/* An unsigned key with the order of the doubles (IEEE 754): negative numbers have all bits
 * flipped, others only the sign bit. -0 sorts just before +0; both compare equal as
 * doubles, so callers that group equal values see them together. */
static uint64_t sort_key(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (bits >> 63) != 0 ? ~bits : bits | ((uint64_t)1 << 63);
}

/* Digit `pass` (least significant first) of a key. */
static unsigned digit_of(uint64_t key, unsigned pass)
{
    return (unsigned)(key >> (pass * PS_DIAG_RADIX_BITS)) & (PS_DIAG_RADIX_BUCKETS - 1);
}

/* True when every key has the same digit in this pass, so the pass would not move
 * anything (typical for the high exponent bits). */
static bool pass_is_trivial(const size_t *counts, size_t n)
{
    for (size_t b = 0; b < PS_DIAG_RADIX_BUCKETS; b++)
        if (counts[b] != 0)
            return counts[b] == n;
    return true;
}

/* Turns counts into starting offsets. */
static void prefix_offsets(size_t *counts)
{
    size_t total = 0;
    for (size_t b = 0; b < PS_DIAG_RADIX_BUCKETS; b++) {
        size_t c = counts[b];
        counts[b] = total;
        total += c;
    }
}

void ps_diag_sort_values(double *values, double *scratch, size_t n, size_t *counts)
{
    if (n < PS_DIAG_RADIX_MIN) {
        merge_sort_values(values, scratch, n);
        return;
    }
    /* LSD radix sort (stable counting sort per digit): O(n) per pass, a fixed number of
     * passes, no data-dependent branches; much faster than merging for large n. */
    memset(counts, 0, PS_DIAG_RADIX_PASSES * PS_DIAG_RADIX_BUCKETS * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = sort_key(values[i]);
        for (unsigned p = 0; p < PS_DIAG_RADIX_PASSES; p++)
            counts[p * PS_DIAG_RADIX_BUCKETS + digit_of(key, p)]++;
    }
    double *src = values, *dst = scratch;
    for (unsigned p = 0; p < PS_DIAG_RADIX_PASSES; p++) {
        size_t *offsets = counts + p * PS_DIAG_RADIX_BUCKETS;
        if (pass_is_trivial(offsets, n))
            continue;
        prefix_offsets(offsets);
        for (size_t i = 0; i < n; i++)
            dst[offsets[digit_of(sort_key(src[i]), p)]++] = src[i];
        double *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != values)
        memcpy(values, src, n * sizeof *values);
}

void ps_diag_sort_pairs(ps_diag_rank_pair *pairs, ps_diag_rank_pair *scratch, size_t n,
                        size_t *counts)
{
    if (n < PS_DIAG_RADIX_MIN) {
        merge_sort_pairs(pairs, scratch, n);
        return;
    }
    memset(counts, 0, PS_DIAG_RADIX_PASSES * PS_DIAG_RADIX_BUCKETS * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = sort_key(pairs[i].value);
        for (unsigned p = 0; p < PS_DIAG_RADIX_PASSES; p++)
            counts[p * PS_DIAG_RADIX_BUCKETS + digit_of(key, p)]++;
    }
    ps_diag_rank_pair *src = pairs, *dst = scratch;
    for (unsigned p = 0; p < PS_DIAG_RADIX_PASSES; p++) {
        size_t *offsets = counts + p * PS_DIAG_RADIX_BUCKETS;
        if (pass_is_trivial(offsets, n))
            continue;
        prefix_offsets(offsets);
        for (size_t i = 0; i < n; i++)
            dst[offsets[digit_of(sort_key(src[i].value), p)]++] = src[i];
        ps_diag_rank_pair *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != pairs)
        memcpy(pairs, src, n * sizeof *pairs);
}

void ps_diag_fft_twiddles(double *twiddle, size_t fft_max)
{
    /* Level by level, so that each butterfly pass reads its factors contiguously and the
     * table serves every transform size up to fft_max. Each factor is computed directly
     * rather than by a recurrence, so every twiddle is correct to an ulp and the FFT's
     * error stays O(eps log m). */
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t len = 2; len <= fft_max; len *= 2) {
        double *level = twiddle + 2 * (len / 2 - 1);
        for (size_t k = 0; k < len / 2; k++) {
            double angle = two_pi * (double)k / (double)len;
            level[2 * k] = cos(angle);
            level[2 * k + 1] = -sin(angle);
        }
    }
}

void ps_diag_fft(double *data, size_t m, const double *twiddle)
{
    /* Iterative radix-2 decimation in time (Cooley and Tukey 1965): bit-reversal
     * permutation, then log2(m) passes of butterflies. */
    for (size_t i = 1, j = 0; i < m; i++) {
        size_t bit = m >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double re = data[2 * i], im = data[2 * i + 1];
            data[2 * i] = data[2 * j];
            data[2 * i + 1] = data[2 * j + 1];
            data[2 * j] = re;
            data[2 * j + 1] = im;
        }
    }
    for (size_t len = 2; len <= m; len <<= 1) {
        size_t half = len / 2;
        const double *w = twiddle + 2 * (half - 1);
        for (size_t start = 0; start < m; start += len) {
            double *u = data + 2 * start, *v = data + 2 * (start + half);
            for (size_t k = 0; k < half; k++) {
                double wr = w[2 * k], wi = w[2 * k + 1];
                double vr = v[2 * k] * wr - v[2 * k + 1] * wi;
                double vi = v[2 * k] * wi + v[2 * k + 1] * wr;
                v[2 * k] = u[2 * k] - vr;
                v[2 * k + 1] = u[2 * k + 1] - vi;
                u[2 * k] += vr;
                u[2 * k + 1] += vi;
            }
        }
    }
}

double ps_diag_qnorm(double p)
{
    if (!(p > 0.0 && p < 1.0))
        return NAN;
    return ps_inv_Phi(p);
}
