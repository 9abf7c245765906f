/*
 * Small dense kernels on plain arrays for the hot loops of log densities. They are
 * written so that the compiler vectorises them without -ffast-math, and compiled twice
 * (baseline x86-64 and AVX2, chosen at run time); both variants give bit-identical
 * results because they perform the same operations in the same order. Local; no state;
 * no allocation.
 */
#ifndef PS_MATH_KERNELS_H
#define PS_MATH_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* For tests: on = true makes every kernel use the baseline variant (process-wide).
 * Returns true when a wider variant exists on this processor. */
bool ps_kern_force_baseline(bool on);

/* sum_i x[i] y[i], in four interleaved partial sums (so the loop vectorises; the result
 * differs from a left-to-right sum by rounding only). */
double ps_kern_dot(size_t n, const double *x, const double *y);

/* sum_i x[i], in four interleaved partial sums. */
double ps_kern_sum(size_t n, const double *x);

/* y[i] += a x[i]. */
void ps_kern_axpy(size_t n, double a, const double *x, double *y);

/*
 * y[i] = exp(x[i]) for n elements (y may equal x). Accurate to about 1 ulp over the whole
 * range: exp(x) = 2^k exp(r) with k = round(x / log 2) and |r| <= log(2)/2 (Cody-Waite
 * reduction with a two-part log 2), exp(r) by its degree-13 Taylor polynomial (truncation
 * below 5e-18), and 2^k applied in two factors so that subnormal results are right.
 * Overflow gives +inf, underflow 0, NaN stays NaN.
 */
void ps_kern_exp(size_t n, const double *x, double *y);

/* y[i] += sum_k X[i + k ld] beta[k] for i < n (an n x K block of a column-major matrix
 * with leading dimension ld). */
void ps_kern_gemv_n(size_t n, size_t K, const double *X, size_t ld, const double *beta, double *y);

/* g[k] += sum_i X[i + k ld] d[i] for k < K. */
void ps_kern_gemv_t(size_t n, size_t K, const double *X, size_t ld, const double *d, double *g);

/* Bernoulli-logit GLM terms: d[i] = y[i] - inv_logit(eta[i]) (y in {0, 1}); returns
 * sum(y eta - max(eta, 0)) and adds sum log(1 + exp(-|eta|)) to *log1p_sum (formed as
 * the log of products of factors in (1, 2], one log per 1024 rows). w is scratch of
 * 2 min(n, 1024) doubles. */
double ps_kern_bernoulli_logit(size_t n, const double *eta, const int *y, double *d, double *w,
                               double *log1p_sum);

/* Poisson-log GLM terms: d[i] = y[i] - exp(eta[i]); returns sum(y eta - exp(eta)). w is
 * scratch of n doubles. */
double ps_kern_poisson_log(size_t n, const double *eta, const int *y, double *d, double *w);

/* Normal terms with scalar scale: z = (y - mu) inv; returns sum z^2, and dy[i] -= z inv,
 * dmu[i] += z inv when those are not NULL. Strides sy, sm are 0 or 1; an operand with
 * stride 0 must have a NULL derivative. */
double ps_kern_normal_sq(size_t n, const double *y, size_t sy, const double *mu, size_t sm,
                         double inv, double *dy, double *dmu);

#endif
