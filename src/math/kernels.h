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

/* What ps_kern_all_pass checks of every element. */
typedef enum ps_kern_check {
    PS_KERN_FINITE,          /* neither infinite nor NaN */
    PS_KERN_NOT_NAN,         /* not NaN (infinities pass) */
    PS_KERN_POSITIVE,        /* > 0 (NaN fails) */
    PS_KERN_POSITIVE_FINITE, /* > 0 and finite */
    PS_KERN_NONNEGATIVE,     /* >= 0 (NaN fails) */
    PS_KERN_PROBABILITY      /* in [0, 1] (NaN fails) */
} ps_kern_check;

/* True when every x[i], i < n, passes the check. A branch-free scan of four lanes at a
 * time (the argument checks of vectorised densities read every element each evaluation);
 * callers look for the failing element themselves. */
bool ps_kern_all_pass(ps_kern_check kind, size_t n, const double *x);

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

/* Normal terms with scalar scale: z = (y - mu) inv; returns sum z^2, and dy[i] -= z inv,
 * dmu[i] += z inv when those are not NULL. Strides sy, sm are 0 or 1; an operand with
 * stride 0 must have a NULL derivative. */
double ps_kern_normal_sq(size_t n, const double *y, size_t sy, const double *mu, size_t sm,
                         double inv, double *dy, double *dmu);

/*
 * A whole bernoulli-logit (family 0) or poisson-log (family 1) GLM pass over n rows, fused
 * by strips of 16 rows: eta = alpha + X beta for the strip (each element of X is read from
 * memory once), the rows' log-likelihood terms and d = d term / d eta, then X^T d. alpha
 * has stride sa (0 or 1), y holds n outcomes. Returns the sum of the terms (bernoulli:
 * y eta - log(1 + e^eta); poisson: y eta - e^eta, without -log y!); stores d[i] if d is
 * not NULL, adds sum(d) to *d_sum if not NULL, and adds X^T d to g (K) if g is not NULL,
 * using G (4 K doubles) as scratch.
 */
double ps_kern_glm(int family, size_t n, size_t K, const double *X, size_t ld, const double *alpha,
                   size_t sa, const double *beta, const int *y, double *d, double *d_sum, double *g,
                   double *G);

#endif
