/*
 * Special functions on doubles, with care for the tails (no autodiff here; src/ad wraps
 * them with their derivatives).
 *
 * Conventions follow Stan's math library: arguments outside a function's domain give NaN,
 * limits give +-infinity where the mathematical limit is infinite. All functions are pure,
 * thread-safe and Local.
 */
#ifndef PS_MATH_SPECIAL_H
#define PS_MATH_SPECIAL_H

#include <stddef.h>

/* log Gamma(x) (thread-safe: no signgam). */
double ps_lgamma(double x);
/* digamma psi(x) = d/dx log Gamma(x), and trigamma psi'(x). Poles at 0, -1, -2, ... */
double ps_digamma(double x);
double ps_trigamma(double x);

/* log(n!) for an integer n >= 0 (a table for small n, lgamma beyond). */
double ps_log_factorial(int n);

/* The table behind ps_log_factorial: log(n!) for 0 <= n < *size (filled on first use,
 * thread-safe), for loops that look up many values. */
const double *ps_log_factorial_table(int *size);

/* log(1 + exp(x)) without overflow or loss of tiny results. */
double ps_log1p_exp(double x);
/* log(1 - exp(x)) for x <= 0 (NaN for x > 0, -inf at 0), accurate near 0 and for x << 0. */
double ps_log1m_exp(double x);
/* log(1 - x) for x <= 1. */
double ps_log1m(double x);
/* log(exp(a) + exp(b)). */
double ps_log_sum_exp2(double a, double b);
/* log(exp(a) - exp(b)) for a >= b (NaN if a < b; -inf if a == b). */
double ps_log_diff_exp(double a, double b);
/* log of the sum of exp(x[i]) over n elements (-inf when n == 0). */
double ps_log_sum_exp_array(const double *x, size_t n);

/* 1 / (1 + exp(-x)), logit(p) = log(p / (1 - p)). */
double ps_inv_logit(double x);
double ps_logit(double p);
/* log(inv_logit(x)) and log(1 - inv_logit(x)), accurate in both tails. */
double ps_log_inv_logit(double x);
double ps_log1m_inv_logit(double x);

/* log Beta(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), computed with Stirling's series
 * differences when an argument is large, so no digits are lost to cancellation. */
double ps_lbeta(double a, double b);
/* log of the binomial coefficient (n choose k) for reals n >= k >= 0. */
double ps_lchoose(double n, double k);

/* Standard normal CDF, accurate relative to the result in the lower tail. */
double ps_Phi(double x);
/* Stan's logistic approximation inv_logit(0.07056 x^3 + 1.5976 x). */
double ps_Phi_approx(double x);
/* Inverse of Phi on (0, 1) (Acklam's rational approximation plus Newton refinement). */
double ps_inv_Phi(double p);
/* log of the standard normal density: -x^2/2 - log(sqrt(2 pi)). */
double ps_std_normal_log_density(double x);

/* log(theta exp(a) + (1 - theta) exp(b)) for theta in [0, 1] (NaN outside). */
double ps_log_mix(double theta, double a, double b);

/* softmax and log_softmax of n values into out (may alias x). */
void ps_softmax(const double *x, size_t n, double *out);
void ps_log_softmax(const double *x, size_t n, double *out);

/* Constants. */
#define PS_LOG_SQRT_2PI 0.91893853320467274178032973640561764
#define PS_LOG_2PI 1.8378770664093454835606594728112353
#define PS_LOG_PI 1.1447298858494001741434273513530587
#define PS_SQRT_2PI 2.5066282746310005024157652848110453
#define PS_INV_SQRT_2PI 0.39894228040143267793994605993438187
#define PS_LOG_2 0.69314718055994530941723212145817657
#define PS_PI 3.1415926535897932384626433832795029

#endif
