/*
 * Private kernels of the diagnostics module: sorting, the FFT, the normal quantile
 * function. Not for use outside src/diag.
 */
#ifndef PS_DIAG_IMPL_H
#define PS_DIAG_IMPL_H

#include <stddef.h>

/* A value and where it came from, for ranking. */
typedef struct ps_diag_rank_pair {
    double value;
    size_t index;
} ps_diag_rank_pair;

/* Radix sort parameters: 11-bit digits, 6 passes cover the 64 bits of a key; below
 * PS_DIAG_RADIX_MIN values a merge sort is faster. */
#define PS_DIAG_RADIX_BITS 11u
#define PS_DIAG_RADIX_BUCKETS (1u << PS_DIAG_RADIX_BITS)
#define PS_DIAG_RADIX_PASSES 6u
#define PS_DIAG_RADIX_MIN 256
/* Size of the counts array the sorts take. */
#define PS_DIAG_RADIX_COUNTS (PS_DIAG_RADIX_PASSES * PS_DIAG_RADIX_BUCKETS)

/* Sorts n values (no NaN) ascending; scratch holds n values, counts PS_DIAG_RADIX_COUNTS
 * sizes. O(n) for large n (LSD radix sort on the bits of the doubles), a merge sort below
 * PS_DIAG_RADIX_MIN values. */
void ps_diag_sort_values(double *values, double *scratch, size_t n, size_t *counts);

/* Sorts n pairs by value (no NaN) ascending, stably; scratch holds n pairs, counts
 * PS_DIAG_RADIX_COUNTS sizes. */
void ps_diag_sort_pairs(ps_diag_rank_pair *pairs, ps_diag_rank_pair *scratch, size_t n,
                        size_t *counts);

/* Fills the twiddle table of radix-2 FFTs of sizes up to fft_max (a power of two >= 2),
 * 2 * fft_max doubles: for each level len = 2, 4, ..., fft_max, starting at complex index
 * len/2 - 1, the factors exp(-2 pi i k / len) for k < len/2 as (re, im). */
void ps_diag_fft_twiddles(double *twiddle, size_t fft_max);

/* In-place forward DFT, X_k = sum_j x_j exp(-2 pi i j k / m), of m interleaved complex
 * values (re, im); m a power of two no larger than the table's fft_max. */
void ps_diag_fft(double *data, size_t m, const double *twiddle);

/* The standard normal quantile function Phi^-1(p) for 0 < p < 1, to about one ulp
 * (NAN outside). */
double ps_diag_qnorm(double p);

#endif
