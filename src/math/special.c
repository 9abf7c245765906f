/*
 * Special functions with attention to the tails.
 *
 * The series used here are the standard ones (Abramowitz and Stegun 1964, 6.1.41 for
 * Stirling's series, 6.3.18 for digamma, 6.4.12 for trigamma; Acklam's rational
 * approximation for the normal quantile refined by one Halley step), written so that
 * the quantities that cancel (log Gamma differences in lbeta, 1 - exp(x) near 0, the
 * lower normal tail) are computed in forms that do not lose digits.
 */
#define _DEFAULT_SOURCE /* lgamma_r */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>

#include "math/special.h"

double ps_lgamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* Stirling correction delta(x) = lgamma(x) - ((x - 1/2) log x - x + log sqrt(2 pi)) for
 * x >= 10, from the Bernoulli-number series (A&S 6.1.41); the truncation error at x = 10
 * is below 1e-17. */
static double stirling_delta(double x)
{
    double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 +
                r2 * (-1.0 / 360 +
                      r2 * (1.0 / 1260 +
                            r2 * (-1.0 / 1680 +
                                  r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))));
}

double ps_digamma(double x)
{
    if (isnan(x) || x == -INFINITY)
        return NAN;
    if (x == INFINITY)
        return INFINITY;
    double result = 0.0;
    if (x <= 0.0) {
        if (x == floor(x))
            return NAN;
        /* Reflection: psi(1 - x) - psi(x) = pi cot(pi x). */
        double frac = x - floor(x);
        result = -PS_PI / tan(PS_PI * frac);
        x = 1.0 - x;
    }
    while (x < 10.0) {
        result -= 1.0 / x;
        x += 1.0;
    }
    double r2 = 1.0 / (x * x);
    double series =
        r2 * (1.0 / 12 -
              r2 * (1.0 / 120 -
                    r2 * (1.0 / 252 -
                          r2 * (1.0 / 240 - r2 * (1.0 / 132 - r2 * (691.0 / 32760 - r2 / 12))))));
    return result + log(x) - 0.5 / x - series;
}

double ps_trigamma(double x)
{
    if (isnan(x) || x == -INFINITY)
        return NAN;
    if (x == INFINITY)
        return 0.0;
    if (x <= 0.0) {
        if (x == floor(x))
            return NAN;
        /* Reflection: psi'(1 - x) + psi'(x) = pi^2 / sin^2(pi x). */
        double s = sin(PS_PI * (x - floor(x)));
        return PS_PI * PS_PI / (s * s) - ps_trigamma(1.0 - x);
    }
    double result = 0.0;
    while (x < 10.0) {
        result += 1.0 / (x * x);
        x += 1.0;
    }
    double r = 1.0 / x, r2 = r * r;
    double series =
        r + r2 / 2 +
        r * r2 *
            (1.0 / 6 -
             r2 * (1.0 / 30 -
                   r2 * (1.0 / 42 -
                         r2 * (1.0 / 30 - r2 * (5.0 / 66 - r2 * (691.0 / 2730 - r2 * 7.0 / 6))))));
    return result + series;
}

#define LOG_FACTORIAL_TABLE 1024
static double log_factorial_table[LOG_FACTORIAL_TABLE];
static pthread_once_t log_factorial_once = PTHREAD_ONCE_INIT;

static void log_factorial_init(void)
{
    for (int n = 0; n < LOG_FACTORIAL_TABLE; n++)
        log_factorial_table[n] = ps_lgamma((double)n + 1.0);
}

double ps_log_factorial(int n)
{
    if (n < 0)
        return NAN;
    if (n < LOG_FACTORIAL_TABLE) {
        pthread_once(&log_factorial_once, log_factorial_init);
        return log_factorial_table[n];
    }
    return ps_lgamma((double)n + 1.0);
}

const double *ps_log_factorial_table(int *size)
{
    pthread_once(&log_factorial_once, log_factorial_init);
    *size = LOG_FACTORIAL_TABLE;
    return log_factorial_table;
}

double ps_log1p_exp(double x)
{
    if (x > 0.0)
        return x + log1p(exp(-x));
    return log1p(exp(x));
}

double ps_log1m_exp(double x)
{
    if (x > 0.0 || isnan(x))
        return NAN;
    /* Maechler 2012, "Accurately computing log(1 - exp(-|a|))": switch at -log 2. */
    if (x > -PS_LOG_2)
        return log(-expm1(x));
    return log1p(-exp(x));
}

double ps_log1m(double x)
{
    if (x > 1.0)
        return NAN;
    return log1p(-x);
}

double ps_log_sum_exp2(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    if (a == INFINITY || b == INFINITY)
        return INFINITY;
    if (a > b)
        return a + log1p(exp(b - a));
    return b + log1p(exp(a - b));
}

double ps_log_diff_exp(double a, double b)
{
    if (b > a || isnan(a) || isnan(b))
        return NAN;
    if (b == -INFINITY)
        return a;
    if (a == INFINITY)
        return b == INFINITY ? NAN : INFINITY;
    return a + ps_log1m_exp(b - a);
}

double ps_log_sum_exp_array(const double *x, size_t n)
{
    if (n == 0)
        return -INFINITY;
    double m = x[0];
    for (size_t i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (m == -INFINITY || m == INFINITY || isnan(m))
        return m;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += exp(x[i] - m);
    return m + log(s);
}

double ps_inv_logit(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

double ps_logit(double p)
{
    return log(p) - log1p(-p);
}

double ps_log_inv_logit(double x)
{
    return -ps_log1p_exp(-x);
}

double ps_log1m_inv_logit(double x)
{
    return -ps_log1p_exp(x);
}

double ps_lbeta(double a, double b)
{
    if (isnan(a) || isnan(b) || a < 0.0 || b < 0.0)
        return NAN;
    double x = a < b ? a : b; /* smaller */
    double y = a < b ? b : a; /* larger */
    if (x == 0.0)
        return INFINITY;
    if (isinf(y))
        return -INFINITY;
    if (y < 10.0)
        return ps_lgamma(x) + ps_lgamma(y) - ps_lgamma(x + y);
    double s = x + y;
    double log1m_frac = log1p(-x / s); /* log(y / (x + y)) */
    if (x < 10.0) {
        /* lgamma(y) - lgamma(x + y) by Stirling's formula for both (they share y). */
        return ps_lgamma(x) + x - x * log(s) + (y - 0.5) * log1m_frac + stirling_delta(y) -
               stirling_delta(s);
    }
    return PS_LOG_SQRT_2PI + (x - 0.5) * log(x / s) + (y - 0.5) * log1m_frac - 0.5 * log(s) +
           stirling_delta(x) + stirling_delta(y) - stirling_delta(s);
}

double ps_lchoose(double n, double k)
{
    if (isnan(n) || isnan(k) || k < 0.0 || k > n)
        return NAN;
    return -log1p(n) - ps_lbeta(n - k + 1.0, k + 1.0);
}

double ps_Phi(double x)
{
    if (isnan(x))
        return NAN;
    if (x < 0.0)
        return 0.5 * erfc(-x * M_SQRT1_2);
    return 1.0 - 0.5 * erfc(x * M_SQRT1_2);
}

double ps_Phi_approx(double x)
{
    return ps_inv_logit(0.07056 * x * x * x + 1.5976 * x);
}

double ps_std_normal_log_density(double x)
{
    return -0.5 * x * x - PS_LOG_SQRT_2PI;
}

/* Phi^-1(p) for 0 < p <= 0.5. A rational approximation with relative error below 1.2e-9
 * (Acklam 2003, "An algorithm for computing the inverse normal cumulative distribution
 * function") gives the start; one Halley step on Phi(x) = p, with Phi from erfc (accurate
 * in the lower tail), brings it to full double precision since Halley's method triples
 * the number of correct digits. */
static double qnorm_lower(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    const double sqrt_half = 0.70710678118654752440084436210485;
    const double sqrt_two_pi = 2.5066282746310005024157652848110;
    double e = 0.5 * erfc(-x * sqrt_half) - p;
    double u = e * sqrt_two_pi * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

double ps_inv_Phi(double p)
{
    if (isnan(p) || p < 0.0 || p > 1.0)
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    /* 1 - p is exact for p >= 0.5 (Sterbenz), so the upper half is the mirror image of the
     * lower half without extra rounding: Phi^-1(1 - p) = -Phi^-1(p) exactly. */
    if (p > 0.5)
        return -qnorm_lower(1.0 - p);
    return qnorm_lower(p);
}

double ps_log_mix(double theta, double a, double b)
{
    if (!(theta >= 0.0 && theta <= 1.0))
        return NAN;
    if (theta == 0.0)
        return b;
    if (theta == 1.0)
        return a;
    return ps_log_sum_exp2(log(theta) + a, log1p(-theta) + b);
}

void ps_softmax(const double *x, size_t n, double *out)
{
    if (n == 0)
        return;
    double m = x[0];
    for (size_t i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        out[i] = exp(x[i] - m);
        s += out[i];
    }
    double inv = 1.0 / s;
    for (size_t i = 0; i < n; i++)
        out[i] *= inv;
}

void ps_log_softmax(const double *x, size_t n, double *out)
{
    double lse = ps_log_sum_exp_array(x, n);
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] - lse;
}
