/*
 * Log densities with closed-form partial derivatives (see dens.h for the conventions).
 *
 * Each function checks its arguments, decides from the var flags which terms to keep
 * (Stan's include_summand rule: a term stays if propto is false or one of the arguments
 * it depends on is var), then makes one pass over the N terms that accumulates the value
 * and, for each operand with adjoints, the partial derivatives (ps_ad_partials). Scalars
 * are broadcast with stride 0; functions of a broadcast scalar (log sigma, 1/sigma) are
 * computed once.
 */
#include <math.h>
#include <string.h>

#include "math/blas.h"
#include "math/dens.h"
#include "math/kernels.h"
#include "math/special.h"

static const int INC1_DENS = 1;

#define STRIDE(x) (ps_adv_size(x) == 1 ? (size_t)0 : (size_t)1)

/* True when v passes the check (the scalar twin of the kernel's test). */
static inline bool passes(double v, ps_kern_check kind)
{
    switch (kind) {
    case PS_KERN_FINITE:
        return v - v == 0.0;
    case PS_KERN_NOT_NAN:
        return v == v;
    case PS_KERN_POSITIVE:
        return v > 0.0;
    case PS_KERN_POSITIVE_FINITE:
        return v > 0.0 && v - v == 0.0;
    case PS_KERN_NONNEGATIVE:
        return v >= 0.0;
    default:
        return v >= 0.0 && v <= 1.0;
    }
}

ps_status ps_ad_check_arg(ps_ad_tape *tape, const char *fn, const char *what, ps_adv x,
                          ps_kern_check kind)
{
    static const char *const must[] = {"finite",          "not nan",     "positive",
                                       "positive finite", "nonnegative", "in the interval [0, 1]"};
    size_t n = ps_adv_size(x);
    /* A fast scan first (vectorised for long arguments); the element is looked for only
     * when something failed. */
    bool ok = true;
    if (n >= 8)
        ok = ps_kern_all_pass(kind, n, x.v);
    else
        for (size_t i = 0; i < n; i++)
            ok &= passes(x.v[i], kind);
    if (ok)
        return PS_OK;
    for (size_t i = 0; i < n; i++) {
        double v = x.v[i];
        if (passes(v, kind))
            continue;
        if (n == 1)
            return ps_ad_domain_error(tape, "%s: %s is %g, but must be %s", fn, what, v,
                                      must[kind]);
        return ps_ad_domain_error(tape, "%s: %s[%zu] is %g, but must be %s", fn, what, i + 1, v,
                                  must[kind]);
    }
    return PS_OK;
}

static ps_status check_ints(ps_ad_tape *tape, const char *fn, const char *what, ps_adi x, int lo,
                            int hi)
{
    for (size_t i = 0; i < x.n; i++) {
        if (x.v[i] < lo || x.v[i] > hi) {
            if (hi == 1)
                return ps_ad_domain_error(tape, "%s: %s[%zu] is %d, but must be 0 or 1", fn, what,
                                          i + 1, x.v[i]);
            return ps_ad_domain_error(tape, "%s: %s[%zu] is %d, but must be nonnegative", fn, what,
                                      i + 1, x.v[i]);
        }
    }
    return PS_OK;
}

static ps_status sizes(const char *fn, const size_t *s, size_t count, size_t *n)
{
    return ps_ad_broadcast_size(fn, s, count, n);
}

/* Result 0 for a propto call without any var argument (Stan returns 0 without looking). */
static ps_status zero(ps_ad_tape *tape, ps_adv *out)
{
    return ps_ad_const(tape, 0.0, out);
}

/* x log y with 0 log 0 = 0. */
static double xlogy(double x, double y)
{
    return x == 0.0 ? 0.0 : x * log(y);
}

/* ---------------------------------------------------------------------------------------
 * Continuous, location-scale
 * ------------------------------------------------------------------------------------- */

ps_status ps_ad_normal_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                            ps_adv *out)
{
    static const char fn[] = "normal_lpdf";
    if (ps_adv_size(y) == 1 && ps_adv_size(mu) == 1 && ps_adv_size(sigma) == 1) {
        /* All scalars (a model's loop): no partial arrays, one small node. */
        double yv = y.v[0], m = mu.v[0], sg = sigma.v[0];
        if (!(yv == yv) || !(m - m == 0.0) || !(sg > 0.0 && sg - sg == 0.0)) {
            PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
            PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_FINITE));
            PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", sigma, PS_KERN_POSITIVE_FINITE));
        }
        bool var1 = y.var || mu.var || sigma.var;
        if (propto && !var1)
            return zero(tape, out);
        double inv = 1.0 / sg, z = (yv - m) * inv;
        double lp = -0.5 * z * z;
        if (!propto)
            lp -= PS_LOG_SQRT_2PI;
        if (!propto || sigma.var)
            lp -= log(sg);
        double d[3] = {-z * inv, z * inv, (z * z - 1.0) * inv};
        return ps_ad_scalar_result(tape, lp, var1, (ps_adv[]){y, mu, sigma}, d, 3, out);
    }
    size_t s[3] = {ps_adv_size(y), ps_adv_size(mu), ps_adv_size(sigma)}, n;
    PS_CHECK(sizes(fn, s, 3, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", sigma, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || mu.var || sigma.var;
    if (propto && !var)
        return zero(tape, out);
    bool keep_const = !propto, keep_log_sigma = !propto || sigma.var;
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, mu, sigma}, 3));
    double *dy = P.d[0], *dmu = P.d[1], *dsigma = P.d[2];
    size_t sy = STRIDE(y), sm = STRIDE(mu), ss = STRIDE(sigma);
    double quad = 0.0, log_sigma_sum = 0.0;
    if (ss == 0) {
        /* Scalar scale: the common case, with 1/sigma and log sigma formed once. */
        double inv = 1.0 / sigma.v[0];
        double zz = 0.0;
        if (n == 1) {
            double z = (y.v[0] - mu.v[0]) * inv;
            zz = z * z;
            if (dy != NULL)
                dy[0] -= z * inv;
            if (dmu != NULL)
                dmu[0] += z * inv;
        } else if ((sy || dy == NULL) && (sm || dmu == NULL)) {
            zz = ps_kern_normal_sq(n, y.v, sy, mu.v, sm, inv, dy, dmu);
        } else {
            for (size_t i = 0; i < n; i++) {
                double z = (y.v[i * sy] - mu.v[i * sm]) * inv;
                zz += z * z;
                double dz = z * inv;
                if (dy != NULL)
                    dy[i * sy] -= dz;
                if (dmu != NULL)
                    dmu[i * sm] += dz;
            }
        }
        quad = zz;
        log_sigma_sum = (double)n * log(sigma.v[0]);
        if (dsigma != NULL)
            dsigma[0] += (zz - (double)n) * inv;
    } else {
        for (size_t i = 0; i < n; i++) {
            double inv = 1.0 / sigma.v[i];
            double z = (y.v[i * sy] - mu.v[i * sm]) * inv;
            quad += z * z;
            log_sigma_sum += log(sigma.v[i]);
            double dz = z * inv;
            if (dy != NULL)
                dy[i * sy] -= dz;
            if (dmu != NULL)
                dmu[i * sm] += dz;
            if (dsigma != NULL)
                dsigma[i] += (z * z - 1.0) * inv;
        }
    }
    double lp = -0.5 * quad;
    if (keep_const)
        lp -= (double)n * PS_LOG_SQRT_2PI;
    if (keep_log_sigma)
        lp -= log_sigma_sum;
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_std_normal_lpdf(ps_ad_tape *tape, ps_adv y, bool propto, ps_adv *out)
{
    PS_CHECK(ps_ad_check_arg(tape, "std_normal_lpdf", "Random variable", y, PS_KERN_NOT_NAN));
    if (propto && !y.var)
        return zero(tape, out);
    size_t n = ps_adv_size(y);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, &y, 1));
    double quad = 0.0;
    if (P.d[0] != NULL) {
        for (size_t i = 0; i < n; i++) {
            quad += y.v[i] * y.v[i];
            P.d[0][i] = -y.v[i];
        }
    } else {
        for (size_t i = 0; i < n; i++)
            quad += y.v[i] * y.v[i];
    }
    double lp = -0.5 * quad;
    if (!propto)
        lp -= (double)n * PS_LOG_SQRT_2PI;
    return ps_ad_partials_finish(&P, lp, y.var, out);
}

ps_status ps_ad_cauchy_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                            ps_adv *out)
{
    static const char fn[] = "cauchy_lpdf";
    size_t s[3] = {ps_adv_size(y), ps_adv_size(mu), ps_adv_size(sigma)}, n;
    PS_CHECK(sizes(fn, s, 3, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", sigma, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || mu.var || sigma.var;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, mu, sigma}, 3));
    size_t sy = STRIDE(y), sm = STRIDE(mu), ss = STRIDE(sigma);
    double lp = 0.0, log_sigma_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double sg = sigma.v[i * ss], d = y.v[i * sy] - mu.v[i * sm];
        double z = d / sg;
        lp -= log1p(z * z);
        if (ss || i == 0)
            log_sigma_sum += log(sg);
        double denom = sg * sg + d * d;
        double gy = -2.0 * d / denom;
        if (P.d[0] != NULL)
            P.d[0][i * sy] += gy;
        if (P.d[1] != NULL)
            P.d[1][i * sm] -= gy;
        if (P.d[2] != NULL)
            P.d[2][i * ss] += (d * d - sg * sg) / (sg * denom);
    }
    if (ss == 0)
        log_sigma_sum *= (double)n;
    if (!propto)
        lp -= (double)n * PS_LOG_PI;
    if (!propto || sigma.var)
        lp -= log_sigma_sum;
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_student_t_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv nu, ps_adv mu, ps_adv sigma,
                               bool propto, ps_adv *out)
{
    static const char fn[] = "student_t_lpdf";
    size_t s[4] = {ps_adv_size(y), ps_adv_size(nu), ps_adv_size(mu), ps_adv_size(sigma)}, n;
    PS_CHECK(sizes(fn, s, 4, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(
        ps_ad_check_arg(tape, fn, "Degrees of freedom parameter", nu, PS_KERN_POSITIVE_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", sigma, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || nu.var || mu.var || sigma.var;
    if (propto && !var)
        return zero(tape, out);
    bool keep_nu = !propto || nu.var, keep_sigma = !propto || sigma.var;
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, nu, mu, sigma}, 4));
    size_t sy = STRIDE(y), sn = STRIDE(nu), sm = STRIDE(mu), ss = STRIDE(sigma);
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = nu.v[i * sn], sg = sigma.v[i * ss], d = y.v[i * sy] - mu.v[i * sm];
        double z = d / sg, r = z * z / v;
        lp -= 0.5 * (v + 1.0) * log1p(r);
        if (keep_nu)
            lp += ps_lgamma(0.5 * (v + 1.0)) - ps_lgamma(0.5 * v) - 0.5 * log(v);
        if (keep_sigma)
            lp -= log(sg);
        double gy = -(v + 1.0) * d / (sg * sg * v + d * d);
        if (P.d[0] != NULL)
            P.d[0][i * sy] += gy;
        if (P.d[2] != NULL)
            P.d[2][i * sm] -= gy;
        if (P.d[3] != NULL)
            P.d[3][i * ss] += (-1.0 + (v + 1.0) * r / (1.0 + r)) / sg;
        if (P.d[1] != NULL)
            P.d[1][i * sn] += 0.5 * (ps_digamma(0.5 * (v + 1.0)) - ps_digamma(0.5 * v)) - 0.5 / v -
                              0.5 * log1p(r) + 0.5 * (v + 1.0) * r / (v * (1.0 + r));
    }
    if (!propto)
        lp -= (double)n * 0.5 * PS_LOG_PI;
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_lognormal_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                               ps_adv *out)
{
    static const char fn[] = "lognormal_lpdf";
    size_t s[3] = {ps_adv_size(y), ps_adv_size(mu), ps_adv_size(sigma)}, n;
    PS_CHECK(sizes(fn, s, 3, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NONNEGATIVE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", sigma, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || mu.var || sigma.var;
    if (propto && !var)
        return zero(tape, out);
    size_t sy = STRIDE(y), sm = STRIDE(mu), ss = STRIDE(sigma);
    for (size_t i = 0; i < n; i++)
        if (y.v[i * sy] == 0.0)
            return ps_ad_const(tape, -INFINITY, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, mu, sigma}, 3));
    double lp = 0.0;
    bool keep_y = !propto || y.var, keep_sigma = !propto || sigma.var;
    for (size_t i = 0; i < n; i++) {
        double yv = y.v[i * sy], sg = sigma.v[i * ss], ly = log(yv);
        double d = ly - mu.v[i * sm], inv_s2 = 1.0 / (sg * sg);
        lp -= 0.5 * d * d * inv_s2;
        if (keep_y)
            lp -= ly;
        if (keep_sigma)
            lp -= log(sg);
        if (P.d[0] != NULL)
            P.d[0][i * sy] -= (1.0 + d * inv_s2) / yv;
        if (P.d[1] != NULL)
            P.d[1][i * sm] += d * inv_s2;
        if (P.d[2] != NULL)
            P.d[2][i * ss] += (d * d * inv_s2 - 1.0) / sg;
    }
    if (!propto)
        lp -= (double)n * PS_LOG_SQRT_2PI;
    return ps_ad_partials_finish(&P, lp, var, out);
}

/* ---------------------------------------------------------------------------------------
 * Continuous, positive and bounded
 * ------------------------------------------------------------------------------------- */

ps_status ps_ad_gamma_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv alpha, ps_adv beta, bool propto,
                           ps_adv *out)
{
    static const char fn[] = "gamma_lpdf";
    size_t s[3] = {ps_adv_size(y), ps_adv_size(alpha), ps_adv_size(beta)}, n;
    PS_CHECK(sizes(fn, s, 3, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Shape parameter", alpha, PS_KERN_POSITIVE_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Inverse scale parameter", beta, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || alpha.var || beta.var;
    if (propto && !var)
        return zero(tape, out);
    size_t sy = STRIDE(y), sa = STRIDE(alpha), sb = STRIDE(beta);
    for (size_t i = 0; i < n; i++)
        if (y.v[i * sy] < 0.0)
            return ps_ad_const(tape, -INFINITY, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, alpha, beta}, 3));
    bool k_a = !propto || alpha.var, k_ab = k_a || beta.var, k_ya = k_a || y.var,
         k_yb = !propto || y.var || beta.var;
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double yv = y.v[i * sy], a = alpha.v[i * sa], b = beta.v[i * sb];
        double ly = log(yv), lb = log(b);
        if (k_a)
            lp -= ps_lgamma(a);
        if (k_ab)
            lp += a * lb;
        if (k_ya)
            lp += (a - 1.0) * ly;
        if (k_yb)
            lp -= b * yv;
        if (P.d[0] != NULL)
            P.d[0][i * sy] += (a - 1.0) / yv - b;
        if (P.d[1] != NULL)
            P.d[1][i * sa] += lb - ps_digamma(a) + ly;
        if (P.d[2] != NULL)
            P.d[2][i * sb] += a / b - yv;
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_inv_gamma_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv alpha, ps_adv beta, bool propto,
                               ps_adv *out)
{
    static const char fn[] = "inv_gamma_lpdf";
    size_t s[3] = {ps_adv_size(y), ps_adv_size(alpha), ps_adv_size(beta)}, n;
    PS_CHECK(sizes(fn, s, 3, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Shape parameter", alpha, PS_KERN_POSITIVE_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", beta, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || alpha.var || beta.var;
    if (propto && !var)
        return zero(tape, out);
    size_t sy = STRIDE(y), sa = STRIDE(alpha), sb = STRIDE(beta);
    for (size_t i = 0; i < n; i++)
        if (y.v[i * sy] <= 0.0)
            return ps_ad_const(tape, -INFINITY, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, alpha, beta}, 3));
    bool k_a = !propto || alpha.var, k_ab = k_a || beta.var, k_ya = k_a || y.var,
         k_yb = !propto || y.var || beta.var;
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double yv = y.v[i * sy], a = alpha.v[i * sa], b = beta.v[i * sb];
        double ly = log(yv), lb = log(b), iy = 1.0 / yv;
        if (k_a)
            lp -= ps_lgamma(a);
        if (k_ab)
            lp += a * lb;
        if (k_ya)
            lp -= (a + 1.0) * ly;
        if (k_yb)
            lp -= b * iy;
        if (P.d[0] != NULL)
            P.d[0][i * sy] += -(a + 1.0) * iy + b * iy * iy;
        if (P.d[1] != NULL)
            P.d[1][i * sa] += lb - ps_digamma(a) - ly;
        if (P.d[2] != NULL)
            P.d[2][i * sb] += a / b - iy;
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_exponential_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv beta, bool propto, ps_adv *out)
{
    static const char fn[] = "exponential_lpdf";
    size_t s[2] = {ps_adv_size(y), ps_adv_size(beta)}, n;
    PS_CHECK(sizes(fn, s, 2, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NONNEGATIVE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Inverse scale parameter", beta, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || beta.var;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, beta}, 2));
    size_t sy = STRIDE(y), sb = STRIDE(beta);
    bool keep_log_beta = !propto || beta.var;
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double yv = y.v[i * sy], b = beta.v[i * sb];
        lp -= b * yv;
        if (keep_log_beta)
            lp += log(b);
        if (P.d[0] != NULL)
            P.d[0][i * sy] -= b;
        if (P.d[1] != NULL)
            P.d[1][i * sb] += 1.0 / b - yv;
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_beta_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv a, ps_adv b, bool propto, ps_adv *out)
{
    static const char fn[] = "beta_lpdf";
    size_t s[3] = {ps_adv_size(y), ps_adv_size(a), ps_adv_size(b)}, n;
    PS_CHECK(sizes(fn, s, 3, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_PROBABILITY));
    PS_CHECK(ps_ad_check_arg(tape, fn, "First shape parameter", a, PS_KERN_POSITIVE_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Second shape parameter", b, PS_KERN_POSITIVE_FINITE));
    bool var = y.var || a.var || b.var;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, a, b}, 3));
    size_t sy = STRIDE(y), sa = STRIDE(a), sb = STRIDE(b);
    bool k_ab = !propto || a.var || b.var, k_ya = !propto || y.var || a.var,
         k_yb = !propto || y.var || b.var;
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double yv = y.v[i * sy], av = a.v[i * sa], bv = b.v[i * sb];
        double ly = log(yv), l1y = log1p(-yv);
        if (k_ab)
            lp -= ps_lbeta(av, bv);
        if (k_ya)
            lp += xlogy(av - 1.0, yv);
        if (k_yb)
            lp += (bv - 1.0) == 0.0 ? 0.0 : (bv - 1.0) * l1y;
        if (P.d[0] != NULL)
            P.d[0][i * sy] += (av - 1.0) / yv - (bv - 1.0) / (1.0 - yv);
        if (P.d[1] != NULL || P.d[2] != NULL) {
            double dab = ps_digamma(av + bv);
            if (P.d[1] != NULL)
                P.d[1][i * sa] += ly - ps_digamma(av) + dab;
            if (P.d[2] != NULL)
                P.d[2][i * sb] += l1y - ps_digamma(bv) + dab;
        }
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_uniform_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv lower, ps_adv upper, bool propto,
                             ps_adv *out)
{
    static const char fn[] = "uniform_lpdf";
    size_t s[3] = {ps_adv_size(y), ps_adv_size(lower), ps_adv_size(upper)}, n;
    PS_CHECK(sizes(fn, s, 3, &n));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Lower bound parameter", lower, PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Upper bound parameter", upper, PS_KERN_FINITE));
    size_t sy = STRIDE(y), sl = STRIDE(lower), su = STRIDE(upper);
    for (size_t i = 0; i < n; i++)
        if (!(upper.v[i * su] > lower.v[i * sl]))
            return ps_ad_domain_error(tape,
                                      "%s: Upper bound parameter is %g, but must be greater "
                                      "than the lower bound %g",
                                      fn, upper.v[i * su], lower.v[i * sl]);
    bool var = y.var || lower.var || upper.var;
    if (propto && !var)
        return zero(tape, out);
    for (size_t i = 0; i < n; i++) {
        double yv = y.v[i * sy];
        if (yv < lower.v[i * sl] || yv > upper.v[i * su])
            return ps_ad_const(tape, -INFINITY, out);
    }
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, lower, upper}, 3));
    double lp = 0.0;
    if (!propto || lower.var || upper.var) {
        for (size_t i = 0; i < n; i++) {
            double w = upper.v[i * su] - lower.v[i * sl];
            lp -= log(w);
            if (P.d[1] != NULL)
                P.d[1][i * sl] += 1.0 / w;
            if (P.d[2] != NULL)
                P.d[2][i * su] -= 1.0 / w;
        }
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_dirichlet_lpdf(ps_ad_tape *tape, ps_adv theta, ps_adv alpha, bool propto,
                               ps_adv *out)
{
    static const char fn[] = "dirichlet_lpdf";
    size_t n = ps_adv_size(theta);
    if (ps_adv_size(alpha) != n)
        return ps_error(PS_ERR_MODEL, "%s: theta has %zu elements, alpha %zu", fn, n,
                        ps_adv_size(alpha));
    PS_CHECK(ps_ad_check_arg(tape, fn, "prior sample sizes", alpha, PS_KERN_POSITIVE_FINITE));
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!(theta.v[i] >= 0.0))
            return ps_ad_domain_error(tape, "%s: probabilities[%zu] is %g, but must be >= 0", fn,
                                      i + 1, theta.v[i]);
        total += theta.v[i];
    }
    if (n == 0 || !(fabs(total - 1.0) <= 1e-8))
        return ps_ad_domain_error(tape, "%s: probabilities is not a valid simplex (sum = %.15g)",
                                  fn, total);
    bool var = theta.var || alpha.var;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){theta, alpha}, 2));
    bool k_a = !propto || alpha.var;
    double lp = 0.0, asum = 0.0;
    for (size_t i = 0; i < n; i++)
        asum += alpha.v[i];
    double dsum = P.d[1] != NULL ? ps_digamma(asum) : 0.0;
    if (k_a)
        lp += ps_lgamma(asum);
    for (size_t i = 0; i < n; i++) {
        double t = theta.v[i], a = alpha.v[i];
        if (k_a)
            lp -= ps_lgamma(a);
        lp += xlogy(a - 1.0, t);
        if (P.d[0] != NULL)
            P.d[0][i] += (a - 1.0) / t;
        if (P.d[1] != NULL)
            P.d[1][i] += dsum - ps_digamma(a) + log(t);
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

/* ---------------------------------------------------------------------------------------
 * Discrete
 * ------------------------------------------------------------------------------------- */

ps_status ps_ad_bernoulli_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv theta, bool propto, ps_adv *out)
{
    static const char fn[] = "bernoulli_lpmf";
    size_t s[2] = {n.n, ps_adv_size(theta)}, N;
    PS_CHECK(sizes(fn, s, 2, &N));
    PS_CHECK(check_ints(tape, fn, "n", n, 0, 1));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Probability parameter", theta, PS_KERN_PROBABILITY));
    if (propto && !theta.var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, &theta, 1));
    size_t sn = n.n == 1 ? 0 : 1, st = STRIDE(theta);
    double lp = 0.0;
    for (size_t i = 0; i < N; i++) {
        double t = theta.v[i * st];
        if (n.v[i * sn] == 1) {
            lp += log(t);
            if (P.d[0] != NULL)
                P.d[0][i * st] += 1.0 / t;
        } else {
            lp += log1p(-t);
            if (P.d[0] != NULL)
                P.d[0][i * st] -= 1.0 / (1.0 - t);
        }
    }
    return ps_ad_partials_finish(&P, lp, theta.var, out);
}

ps_status ps_ad_bernoulli_logit_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv alpha, bool propto,
                                     ps_adv *out)
{
    static const char fn[] = "bernoulli_logit_lpmf";
    size_t s[2] = {n.n, ps_adv_size(alpha)}, N;
    PS_CHECK(sizes(fn, s, 2, &N));
    PS_CHECK(check_ints(tape, fn, "n", n, 0, 1));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Logit transformed probability parameter", alpha,
                             PS_KERN_NOT_NAN));
    if (propto && !alpha.var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, &alpha, 1));
    size_t sn = n.n == 1 ? 0 : 1, sa = STRIDE(alpha);
    double lp = 0.0;
    for (size_t i = 0; i < N; i++) {
        double a = alpha.v[i * sa];
        /* log p(n | a) = n a - log(1 + e^a); derivative n - inv_logit(a). */
        int k = n.v[i * sn];
        lp += k ? ps_log_inv_logit(a) : ps_log1m_inv_logit(a);
        if (P.d[0] != NULL)
            P.d[0][i * sa] += (double)k - ps_inv_logit(a);
    }
    return ps_ad_partials_finish(&P, lp, alpha.var, out);
}

static ps_status binomial_common(ps_ad_tape *tape, const char *fn, ps_adi n, ps_adi N, ps_adv p,
                                 bool logit, bool propto, ps_adv *out)
{
    size_t s[3] = {n.n, N.n, ps_adv_size(p)}, M;
    PS_CHECK(sizes(fn, s, 3, &M));
    PS_CHECK(check_ints(tape, fn, "Successes variable", n, 0, 2147483647));
    PS_CHECK(check_ints(tape, fn, "Population size parameter", N, 0, 2147483647));
    size_t sn = n.n == 1 ? 0 : 1, sN = N.n == 1 ? 0 : 1, sp = STRIDE(p);
    for (size_t i = 0; i < M; i++)
        if (n.v[i * sn] > N.v[i * sN])
            return ps_ad_domain_error(tape,
                                      "%s: Successes variable is %d, but must be in the "
                                      "interval [0, %d]",
                                      fn, n.v[i * sn], N.v[i * sN]);
    if (logit)
        PS_CHECK(ps_ad_check_arg(tape, fn, "Probability parameter", p, PS_KERN_FINITE));
    else
        PS_CHECK(ps_ad_check_arg(tape, fn, "Probability parameter", p, PS_KERN_PROBABILITY));
    if (propto && !p.var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, &p, 1));
    double lp = 0.0;
    for (size_t i = 0; i < M; i++) {
        double k = n.v[i * sn], total = N.v[i * sN], x = p.v[i * sp];
        if (!propto)
            lp += ps_lchoose(total, k);
        if (logit) {
            lp += k * ps_log_inv_logit(x) + (total - k) * ps_log1m_inv_logit(x);
            if (P.d[0] != NULL)
                P.d[0][i * sp] += k - total * ps_inv_logit(x);
        } else {
            lp += xlogy(k, x) + ((total - k) == 0.0 ? 0.0 : (total - k) * log1p(-x));
            if (P.d[0] != NULL) {
                double d = 0.0;
                if (k > 0.0)
                    d += k / x;
                if (total - k > 0.0)
                    d -= (total - k) / (1.0 - x);
                P.d[0][i * sp] += d;
            }
        }
    }
    return ps_ad_partials_finish(&P, lp, p.var, out);
}

ps_status ps_ad_binomial_lpmf(ps_ad_tape *tape, ps_adi n, ps_adi N, ps_adv theta, bool propto,
                              ps_adv *out)
{
    return binomial_common(tape, "binomial_lpmf", n, N, theta, false, propto, out);
}

ps_status ps_ad_binomial_logit_lpmf(ps_ad_tape *tape, ps_adi n, ps_adi N, ps_adv alpha, bool propto,
                                    ps_adv *out)
{
    return binomial_common(tape, "binomial_logit_lpmf", n, N, alpha, true, propto, out);
}

ps_status ps_ad_poisson_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv lambda, bool propto, ps_adv *out)
{
    static const char fn[] = "poisson_lpmf";
    size_t s[2] = {n.n, ps_adv_size(lambda)}, N;
    PS_CHECK(sizes(fn, s, 2, &N));
    PS_CHECK(check_ints(tape, fn, "Random variable", n, 0, 2147483647));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Rate parameter", lambda, PS_KERN_NONNEGATIVE));
    if (propto && !lambda.var)
        return zero(tape, out);
    size_t sn = n.n == 1 ? 0 : 1, sl = STRIDE(lambda);
    for (size_t i = 0; i < N; i++) {
        double l = lambda.v[i * sl];
        if (isinf(l) || (l == 0.0 && n.v[i * sn] != 0))
            return ps_ad_const(tape, -INFINITY, out);
    }
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, &lambda, 1));
    double lp = 0.0;
    for (size_t i = 0; i < N; i++) {
        int k = n.v[i * sn];
        double l = lambda.v[i * sl];
        if (!propto)
            lp -= ps_log_factorial(k);
        lp += xlogy(k, l) - l;
        if (P.d[0] != NULL)
            P.d[0][i * sl] += (k == 0 ? 0.0 : k / l) - 1.0;
    }
    return ps_ad_partials_finish(&P, lp, lambda.var, out);
}

ps_status ps_ad_poisson_log_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv alpha, bool propto, ps_adv *out)
{
    static const char fn[] = "poisson_log_lpmf";
    size_t s[2] = {n.n, ps_adv_size(alpha)}, N;
    PS_CHECK(sizes(fn, s, 2, &N));
    PS_CHECK(check_ints(tape, fn, "Random variable", n, 0, 2147483647));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Log rate parameter", alpha, PS_KERN_NOT_NAN));
    if (propto && !alpha.var)
        return zero(tape, out);
    size_t sn = n.n == 1 ? 0 : 1, sa = STRIDE(alpha);
    for (size_t i = 0; i < N; i++) {
        double a = alpha.v[i * sa];
        if (a == INFINITY || (a == -INFINITY && n.v[i * sn] != 0))
            return ps_ad_const(tape, -INFINITY, out);
    }
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, &alpha, 1));
    double lp = 0.0;
    for (size_t i = 0; i < N; i++) {
        int k = n.v[i * sn];
        double a = alpha.v[i * sa], e = exp(a);
        if (!propto)
            lp -= ps_log_factorial(k);
        lp += (k == 0 ? 0.0 : k * a) - e;
        if (P.d[0] != NULL)
            P.d[0][i * sa] += k - e;
    }
    return ps_ad_partials_finish(&P, lp, alpha.var, out);
}

ps_status ps_ad_neg_binomial_2_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv mu, ps_adv phi, bool propto,
                                    ps_adv *out)
{
    static const char fn[] = "neg_binomial_2_lpmf";
    size_t s[3] = {n.n, ps_adv_size(mu), ps_adv_size(phi)}, N;
    PS_CHECK(sizes(fn, s, 3, &N));
    PS_CHECK(check_ints(tape, fn, "Failures variable", n, 0, 2147483647));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_POSITIVE_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Precision parameter", phi, PS_KERN_POSITIVE_FINITE));
    bool var = mu.var || phi.var;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){mu, phi}, 2));
    size_t sn = n.n == 1 ? 0 : 1, sm = STRIDE(mu), sp = STRIDE(phi);
    bool k_phi = !propto || phi.var, k_mu = !propto || mu.var;
    double lp = 0.0;
    for (size_t i = 0; i < N; i++) {
        double k = n.v[i * sn], m = mu.v[i * sm], f = phi.v[i * sp];
        double lmf = log(m + f);
        if (k_phi)
            lp += -log(k + f) - ps_lbeta(f, k + 1.0); /* lchoose(k + f - 1, k) */
        if (k_mu)
            lp += xlogy(k, m);
        lp += -f * log1p(m / f) - k * lmf;
        if (P.d[0] != NULL)
            P.d[0][i * sm] += k / m - (k + f) / (m + f);
        if (P.d[1] != NULL)
            P.d[1][i * sp] += ps_digamma(k + f) - ps_digamma(f) - log1p(m / f) + (m - k) / (m + f);
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

/* ---------------------------------------------------------------------------------------
 * Multivariate normal
 * ------------------------------------------------------------------------------------- */

static ps_status mvn_shapes(const char *fn, ps_adv y, ps_adv mu, ps_adv m, size_t *D, size_t *K)
{
    *D = y.rows;
    *K = y.cols;
    if (y.rows == 1 && y.cols > 1) { /* a row vector: one observation */
        *D = y.cols;
        *K = 1;
    }
    size_t nmu = ps_adv_size(mu);
    if (m.rows != *D || m.cols != *D)
        return ps_error(PS_ERR_MODEL, "%s: the matrix is %zu x %zu, expected %zu x %zu", fn, m.rows,
                        m.cols, *D, *D);
    if (nmu != *D && nmu != *D * *K)
        return ps_error(PS_ERR_MODEL, "%s: the location has %zu elements, expected %zu or %zu", fn,
                        nmu, *D, *D * *K);
    if (*D > 2147483647u)
        return ps_error(PS_ERR_MODEL, "%s: dimension too large", fn);
    return PS_OK;
}

/*
 * The shared core of multi_normal and multi_normal_cholesky: given L (lower, D x D), the
 * log density sum over the K observations of -0.5 |L^{-1}(y_j - mu_j)|^2, and optionally
 * the sums needed for gradients: dy (-alpha_j, D x K), dmu (+alpha_j), and for L the
 * matrix sum_j alpha_j z_j^T (lower part) with alpha_j = L^{-T} z_j, z_j = L^{-1} r_j.
 */
static void mvn_core(int D, size_t K, const double *L, ps_adv y, ps_adv mu, double *work_z,
                     double *work_a, double *dy, double *dmu, double *az, double *aa, double *quad)
{
    size_t sd = (size_t)D;
    size_t mu_step = ps_adv_size(mu) == sd ? 0 : sd;
    double q = 0.0;
    for (size_t j = 0; j < K; j++) {
        const double *yj = y.v + j * sd, *mj = mu.v + j * mu_step;
        for (size_t i = 0; i < sd; i++)
            work_z[i] = yj[i] - mj[i];
        dtrsv_("L", "N", "N", &D, L, &D, work_z, &INC1_DENS, 1, 1, 1);
        for (size_t i = 0; i < sd; i++)
            q += work_z[i] * work_z[i];
        if (dy == NULL && dmu == NULL && az == NULL && aa == NULL)
            continue;
        memcpy(work_a, work_z, sd * sizeof(double));
        dtrsv_("L", "T", "N", &D, L, &D, work_a, &INC1_DENS, 1, 1, 1);
        if (dy != NULL)
            for (size_t i = 0; i < sd; i++)
                dy[j * sd + i] -= work_a[i];
        if (dmu != NULL)
            for (size_t i = 0; i < sd; i++)
                dmu[j * mu_step + i] += work_a[i];
        if (az != NULL)
            for (size_t c = 0; c < sd; c++)
                for (size_t r = c; r < sd; r++)
                    az[r + c * sd] += work_a[r] * work_z[c];
        if (aa != NULL)
            for (size_t c = 0; c < sd; c++)
                for (size_t r = 0; r < sd; r++)
                    aa[r + c * sd] += work_a[r] * work_a[c];
    }
    *quad = q;
}

ps_status ps_ad_multi_normal_cholesky_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv L,
                                           bool propto, ps_adv *out)
{
    static const char fn[] = "multi_normal_cholesky_lpdf";
    size_t D, K;
    PS_CHECK(mvn_shapes(fn, y, mu, L, &D, &K));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_FINITE));
    for (size_t i = 0; i < D; i++)
        if (!(L.v[i * (D + 1)] > 0.0))
            return ps_ad_domain_error(tape,
                                      "%s: the Cholesky factor has a non-positive diagonal "
                                      "element [%zu,%zu] = %g",
                                      fn, i + 1, i + 1, L.v[i * (D + 1)]);
    bool var = y.var || mu.var || L.var;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, mu, L}, 3));
    double *work, *az = NULL;
    PS_CHECK(ps_ad_alloc(tape, 2 * D, &work));
    if (P.d[2] != NULL)
        az = P.d[2];
    double quad = 0.0;
    if (D > 0)
        mvn_core((int)D, K, L.v, y, mu, work, work + D, P.d[0], P.d[1], az, NULL, &quad);
    double lp = -0.5 * quad, log_diag = 0.0;
    for (size_t i = 0; i < D; i++)
        log_diag += log(L.v[i * (D + 1)]);
    if (!propto)
        lp -= 0.5 * (double)(D * K) * PS_LOG_2PI;
    if (!propto || L.var)
        lp -= (double)K * log_diag;
    if (az != NULL)
        for (size_t i = 0; i < D; i++)
            az[i * (D + 1)] -= (double)K / L.v[i * (D + 1)];
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_multi_normal_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                                  ps_adv *out)
{
    static const char fn[] = "multi_normal_lpdf";
    size_t D, K;
    PS_CHECK(mvn_shapes(fn, y, mu, sigma, &D, &K));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", y, PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", mu, PS_KERN_FINITE));
    for (size_t c = 0; c < D; c++)
        for (size_t r = c + 1; r < D; r++) {
            double a = sigma.v[r + c * D], b = sigma.v[c + r * D];
            if (!(fabs(a - b) <= 1e-8 * fmax(fabs(a), fabs(b))) && a != b)
                return ps_ad_domain_error(tape,
                                          "%s: Covariance matrix is not symmetric "
                                          "([%zu,%zu] = %g, [%zu,%zu] = %g)",
                                          fn, r + 1, c + 1, a, c + 1, r + 1, b);
        }
    bool var = y.var || mu.var || sigma.var;
    if (propto && !var)
        return zero(tape, out);
    double *L = NULL;
    PS_CHECK(ps_ad_alloc(tape, D * D + 2 * D, &L));
    memcpy(L, sigma.v, D * D * sizeof(double));
    int iD = (int)D, info = 0;
    if (D > 0)
        dpotrf_("L", &iD, L, &iD, &info, 1);
    if (info != 0)
        return ps_ad_domain_error(tape, "%s: Covariance matrix is not positive definite", fn);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, mu, sigma}, 3));
    double *aa = P.d[2];
    double quad = 0.0;
    if (D > 0)
        mvn_core(iD, K, L, y, mu, L + D * D, L + D * D + D, P.d[0], P.d[1], NULL, aa, &quad);
    double log_diag = 0.0;
    for (size_t i = 0; i < D; i++)
        log_diag += log(L[i * (D + 1)]);
    double lp = -0.5 * quad;
    if (!propto)
        lp -= 0.5 * (double)(D * K) * PS_LOG_2PI;
    if (!propto || sigma.var)
        lp -= (double)K * log_diag;
    if (aa != NULL) {
        /* Sigma_bar = 0.5 sum_j alpha_j alpha_j^T - 0.5 K Sigma^{-1}; Sigma^{-1} from L. */
        double *inv = NULL;
        PS_CHECK(ps_ad_alloc(tape, D * D, &inv));
        memset(inv, 0, D * D * sizeof(double));
        for (size_t i = 0; i < D; i++)
            inv[i * (D + 1)] = 1.0;
        static const double one = 1.0;
        dtrsm_("L", "L", "N", "N", &iD, &iD, &one, L, &iD, inv, &iD, 1, 1, 1, 1);
        dtrsm_("L", "L", "T", "N", &iD, &iD, &one, L, &iD, inv, &iD, 1, 1, 1, 1);
        for (size_t i = 0; i < D * D; i++)
            aa[i] = 0.5 * aa[i] - 0.5 * (double)K * inv[i];
    }
    return ps_ad_partials_finish(&P, lp, var, out);
}

/* ---------------------------------------------------------------------------------------
 * Generalised linear models
 * ------------------------------------------------------------------------------------- */

enum glm_family { GLM_BERNOULLI_LOGIT, GLM_POISSON_LOG, GLM_NORMAL };

/* Rows per block: GLM_BLOCK x K doubles of X stay in L1/L2 between the eta pass and the
 * X^T d pass. */
#define GLM_BLOCK 128

static ps_status glm(ps_ad_tape *tape, const char *fn, enum glm_family family, ps_adi yi, ps_adv yr,
                     ps_adv X, ps_adv alpha, ps_adv beta, ps_adv sigma, bool propto, ps_adv *out)
{
    size_t N = X.rows, K = X.cols;
    size_t ny = family == GLM_NORMAL ? ps_adv_size(yr) : yi.n;
    if (ps_adv_size(beta) != K)
        return ps_error(PS_ERR_MODEL, "%s: X has %zu columns but beta has %zu elements", fn, K,
                        ps_adv_size(beta));
    if (ny != N && ny != 1)
        return ps_error(PS_ERR_MODEL, "%s: X has %zu rows but y has %zu elements", fn, N, ny);
    if (ps_adv_size(alpha) != N && ps_adv_size(alpha) != 1)
        return ps_error(PS_ERR_MODEL, "%s: X has %zu rows but alpha has %zu elements", fn, N,
                        ps_adv_size(alpha));
    if (family == GLM_NORMAL && ps_adv_size(sigma) != N && ps_adv_size(sigma) != 1)
        return ps_error(PS_ERR_MODEL, "%s: X has %zu rows but sigma has %zu elements", fn, N,
                        ps_adv_size(sigma));
    if (family == GLM_BERNOULLI_LOGIT)
        PS_CHECK(check_ints(tape, fn, "Vector of dependent variables", yi, 0, 1));
    else if (family == GLM_POISSON_LOG)
        PS_CHECK(check_ints(tape, fn, "Vector of dependent variables", yi, 0, 2147483647));
    else {
        PS_CHECK(ps_ad_check_arg(tape, fn, "Vector of dependent variables", yr, PS_KERN_NOT_NAN));
        PS_CHECK(ps_ad_check_arg(tape, fn, "Scale vector", sigma, PS_KERN_POSITIVE_FINITE));
    }
    bool var = X.var || alpha.var || beta.var || (family == GLM_NORMAL && (yr.var || sigma.var));
    if (propto && !var)
        return zero(tape, out);
    ps_adv ops[5] = {X, alpha, beta, yr, sigma};
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, ops, family == GLM_NORMAL ? 5 : 3));
    double *dX = P.d[0], *dalpha = P.d[1], *dbeta = P.d[2];
    double *dy = family == GLM_NORMAL ? P.d[3] : NULL;
    double *dsigma = family == GLM_NORMAL ? P.d[4] : NULL;
    size_t sa = STRIDE(alpha), sy = ny == 1 ? 0 : 1;
    size_t ss = family == GLM_NORMAL ? STRIDE(sigma) : 0;
    if (family != GLM_NORMAL) {
        /* One fused pass (ps_kern_glm): X is read from memory once per evaluation. */
        const int *yy = yi.v;
        if (sy == 0 && N > 0) {
            /* A scalar outcome broadcast over the rows: expand it in the arena. */
            double *buf = NULL;
            PS_CHECK(
                ps_ad_alloc(tape, (N * sizeof(int) + sizeof(double) - 1) / sizeof(double), &buf));
            int *ybuf = (int *)(void *)buf;
            for (size_t i = 0; i < N; i++)
                ybuf[i] = yi.v[0];
            yy = ybuf;
        }
        double *dfull = NULL, *G = NULL, dsum = 0.0;
        if (dX != NULL || (dalpha != NULL && sa))
            PS_CHECK(ps_ad_alloc(tape, N, &dfull));
        if (dbeta != NULL)
            PS_CHECK(ps_ad_alloc(tape, 4 * K, &G));
        double lp = ps_kern_glm(family == GLM_BERNOULLI_LOGIT ? 0 : 1, N, K, X.v, N, alpha.v, sa,
                                beta.v, yy, dfull, &dsum, dbeta, G);
        if (family == GLM_POISSON_LOG && !propto) {
            /* -sum log(y!), by table lookups summed in four lanes per chunk. */
            int lf_size;
            const double *lf_table = ps_log_factorial_table(&lf_size);
            double w[256];
            for (size_t i0 = 0; i0 < N; i0 += 256) {
                size_t nb = N - i0 < 256 ? N - i0 : 256;
                for (size_t i = 0; i < nb; i++) {
                    int k = yy[i0 + i];
                    w[i] = k < lf_size ? lf_table[k] : ps_log_factorial(k);
                }
                lp -= ps_kern_sum(nb, w);
            }
        }
        if (dalpha != NULL) {
            if (sa)
                for (size_t i = 0; i < N; i++)
                    dalpha[i] += dfull[i];
            else
                dalpha[0] += dsum;
        }
        if (dX != NULL)
            for (size_t k = 0; k < K; k++)
                for (size_t i = 0; i < N; i++)
                    dX[k * N + i] += dfull[i] * beta.v[k];
        return ps_ad_partials_finish(&P, lp, var, out);
    }
    /* normal_id_glm: row blocks, eta by ps_kern_gemv_n, X^T d by ps_kern_gemv_t while the
     * block is still in cache. */
    double *eta = NULL, *d;
    PS_CHECK(ps_ad_alloc(tape, 2 * GLM_BLOCK, &eta));
    d = eta + GLM_BLOCK;
    double inv_sigma = ss == 0 ? 1.0 / sigma.v[0] : 0.0;
    double lp, quad = 0.0, log_sigma_sum = 0.0;
    bool need_d = dX != NULL || dalpha != NULL || dbeta != NULL || dy != NULL;
    for (size_t i0 = 0; i0 < N; i0 += GLM_BLOCK) {
        size_t nb = N - i0 < GLM_BLOCK ? N - i0 : GLM_BLOCK;
        if (sa)
            memcpy(eta, alpha.v + i0, nb * sizeof(double));
        else
            for (size_t i = 0; i < nb; i++)
                eta[i] = alpha.v[0];
        ps_kern_gemv_n(nb, K, X.v + i0, N, beta.v, eta);
        double part = 0.0;
        for (size_t i = 0; i < nb; i++) {
            size_t row = i0 + i;
            double inv = ss ? 1.0 / sigma.v[row] : inv_sigma;
            double z = (yr.v[row * sy] - eta[i]) * inv;
            part += z * z;
            d[i] = z * inv;
            if (ss) {
                log_sigma_sum += log(sigma.v[row]);
                if (dsigma != NULL)
                    dsigma[row] += (z * z - 1.0) * inv;
            }
        }
        quad += part;
        if (!need_d)
            continue;
        if (dbeta != NULL)
            ps_kern_gemv_t(nb, K, X.v + i0, N, d, dbeta);
        if (dalpha != NULL) {
            if (sa)
                for (size_t i = 0; i < nb; i++)
                    dalpha[i0 + i] += d[i];
            else
                dalpha[0] += ps_kern_sum(nb, d);
        }
        if (dy != NULL) {
            if (sy)
                for (size_t i = 0; i < nb; i++)
                    dy[i0 + i] -= d[i];
            else
                for (size_t i = 0; i < nb; i++)
                    dy[0] -= d[i];
        }
        if (dX != NULL)
            for (size_t k = 0; k < K; k++)
                for (size_t i = 0; i < nb; i++)
                    dX[k * N + i0 + i] += d[i] * beta.v[k];
    }
    lp = -0.5 * quad;
    if (!propto)
        lp -= (double)N * PS_LOG_SQRT_2PI;
    if (ss == 0)
        log_sigma_sum = (double)N * log(sigma.v[0]);
    if (!propto || sigma.var)
        lp -= log_sigma_sum;
    if (dsigma != NULL && ss == 0)
        dsigma[0] += (quad - (double)N) * inv_sigma;
    return ps_ad_partials_finish(&P, lp, var, out);
}

ps_status ps_ad_bernoulli_logit_glm_lpmf(ps_ad_tape *tape, ps_adi y, ps_adv X, ps_adv alpha,
                                         ps_adv beta, bool propto, ps_adv *out)
{
    ps_adv none = {NULL, NULL, 0, 0, false};
    return glm(tape, "bernoulli_logit_glm_lpmf", GLM_BERNOULLI_LOGIT, y, none, X, alpha, beta, none,
               propto, out);
}

ps_status ps_ad_poisson_log_glm_lpmf(ps_ad_tape *tape, ps_adi y, ps_adv X, ps_adv alpha,
                                     ps_adv beta, bool propto, ps_adv *out)
{
    ps_adv none = {NULL, NULL, 0, 0, false};
    return glm(tape, "poisson_log_glm_lpmf", GLM_POISSON_LOG, y, none, X, alpha, beta, none, propto,
               out);
}

ps_status ps_ad_normal_id_glm_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv X, ps_adv alpha, ps_adv beta,
                                   ps_adv sigma, bool propto, ps_adv *out)
{
    ps_adi none = {NULL, 0};
    return glm(tape, "normal_id_glm_lpdf", GLM_NORMAL, none, y, X, alpha, beta, sigma, propto, out);
}
