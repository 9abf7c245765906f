/*
 * Small dense kernels on plain arrays for the hot loops of log densities: dot products,
 * axpy, and an exponential over an array that the compiler can vectorise (libm's exp is a
 * function call per element). Local; no state; no allocation.
 */
#ifndef PS_MATH_KERNELS_H
#define PS_MATH_KERNELS_H

#include <stddef.h>

/* sum_i x[i] y[i] (four partial sums, so the loop vectorises; the summation order
 * differs from a naive loop by rounding only). */
double ps_kern_dot(size_t n, const double *x, const double *y);

/* y[i] += a x[i]. */
void ps_kern_axpy(size_t n, double a, const double *x, double *y);

/*
 * y[i] = exp(x[i]) for n elements (y may equal x). Accurate to about 1 ulp over the whole
 * range: exp(x) = 2^k exp(r) with k = round(x / log 2) and |r| <= log(2)/2 (Cody-Waite
 * reduction with a two-part log 2), exp(r) by its degree-13 Taylor polynomial (truncation
 * below 5e-18), and 2^k applied in two factors so that subnormal results are exact.
 * Overflow gives +inf, underflow 0, NaN stays NaN.
 */
void ps_kern_exp(size_t n, const double *x, double *y);

#endif
