/*
 * Distributions and cumulative distribution functions that the compiled Stan model
 * provides on top of the engine's log densities (src/math/dens.h), written with the
 * engine's partials API (ps_ad_partials_*): closed-form values and partial derivatives,
 * dropping the terms Stan drops under propto (a term stays when propto is false or one of
 * the arguments it depends on is var).
 */
#include <math.h>
#include <string.h>

#include "math/dens.h"
#include "math/special.h"
#include "model/stan_impl.h"

/* ---------------------------------------------------------------------------------------
 * Argument checks and broadcasting (Stan's vectorisation: every argument a scalar or a
 * container of one common size N; the result is the sum over N terms)
 * ------------------------------------------------------------------------------------- */

static ps_status bsize(const char *fn, const ps_adv *a, size_t k, size_t *n, size_t *st)
{
    size_t sizes[PS_AD_MAX_OPERANDS];
    for (size_t i = 0; i < k; i++) {
        sizes[i] = ps_adv_size(a[i]);
        st[i] = sizes[i] == 1 ? 0 : 1;
    }
    return ps_ad_broadcast_size(fn, sizes, k, n);
}

static bool any_var(const ps_adv *a, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (a[i].var)
            return true;
    return false;
}

static ps_status zero(ps_ad_tape *tape, sval *out)
{
    ps_adv r;
    PS_CHECK(ps_ad_const(tape, 0.0, &r));
    *out = sval_real(r);
    return PS_OK;
}

#define R(i) (args[i].x)

/* ---------------------------------------------------------------------------------------
 * Continuous densities (Stan Functions Reference, "Continuous distributions")
 * ------------------------------------------------------------------------------------- */

/* double_exponential(y | mu, sigma) = -log(2 sigma) - |y - mu| / sigma. */
static ps_status d_double_exponential(frame *f, const lx *e, const sval *args, sval *out)
{
    static const char fn[] = "double_exponential_lpdf";
    ps_ad_tape *tape = f->tape;
    ps_adv a[3] = {R(0), R(1), R(2)};
    size_t n, st[3];
    PS_CHECK(bsize(fn, a, 3, &n, st));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", a[0], PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", a[1], PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", a[2], PS_KERN_POSITIVE_FINITE));
    bool var = any_var(a, 3), propto = e->propto;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, a, 3));
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double y = a[0].v[i * st[0]], mu = a[1].v[i * st[1]], s = a[2].v[i * st[2]];
        double d = y - mu, inv = 1.0 / s, sign = d > 0.0 ? 1.0 : d < 0.0 ? -1.0 : 0.0;
        if (!propto)
            lp -= PS_LOG_2;
        if (!propto || a[2].var)
            lp -= log(s);
        lp -= fabs(d) * inv;
        if (P.d[0])
            P.d[0][i * st[0]] -= sign * inv;
        if (P.d[1])
            P.d[1][i * st[1]] += sign * inv;
        if (P.d[2])
            P.d[2][i * st[2]] += -inv + fabs(d) * inv * inv;
    }
    ps_adv r;
    PS_CHECK(ps_ad_partials_finish(&P, lp, var, &r));
    *out = sval_real(r);
    return PS_OK;
}

/* logistic(y | mu, sigma) = -z - log sigma - 2 log(1 + exp(-z)), z = (y - mu) / sigma. */
static ps_status d_logistic(frame *f, const lx *e, const sval *args, sval *out)
{
    static const char fn[] = "logistic_lpdf";
    ps_ad_tape *tape = f->tape;
    ps_adv a[3] = {R(0), R(1), R(2)};
    size_t n, st[3];
    PS_CHECK(bsize(fn, a, 3, &n, st));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", a[0], PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", a[1], PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", a[2], PS_KERN_POSITIVE_FINITE));
    bool var = any_var(a, 3), propto = e->propto;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, a, 3));
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double y = a[0].v[i * st[0]], mu = a[1].v[i * st[1]], s = a[2].v[i * st[2]];
        double inv = 1.0 / s, z = (y - mu) * inv;
        if (!propto || a[2].var)
            lp -= log(s);
        lp += -z - 2.0 * ps_log1p_exp(-z);
        /* d/dz = -1 + 2 inv_logit(-z) = 1 - 2 inv_logit(z). */
        double dz = 1.0 - 2.0 * ps_inv_logit(z);
        if (P.d[0])
            P.d[0][i * st[0]] += dz * inv;
        if (P.d[1])
            P.d[1][i * st[1]] -= dz * inv;
        if (P.d[2])
            P.d[2][i * st[2]] += -inv - dz * z * inv;
    }
    ps_adv r;
    PS_CHECK(ps_ad_partials_finish(&P, lp, var, &r));
    *out = sval_real(r);
    return PS_OK;
}

/* gumbel(y | mu, beta) = -log beta - z - exp(-z), z = (y - mu) / beta. */
static ps_status d_gumbel(frame *f, const lx *e, const sval *args, sval *out)
{
    static const char fn[] = "gumbel_lpdf";
    ps_ad_tape *tape = f->tape;
    ps_adv a[3] = {R(0), R(1), R(2)};
    size_t n, st[3];
    PS_CHECK(bsize(fn, a, 3, &n, st));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", a[0], PS_KERN_NOT_NAN));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Location parameter", a[1], PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", a[2], PS_KERN_POSITIVE_FINITE));
    bool var = any_var(a, 3), propto = e->propto;
    if (propto && !var)
        return zero(tape, out);
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, a, 3));
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double y = a[0].v[i * st[0]], mu = a[1].v[i * st[1]], b = a[2].v[i * st[2]];
        double inv = 1.0 / b, z = (y - mu) * inv, ez = exp(-z);
        if (!propto || a[2].var)
            lp -= log(b);
        lp += -z - ez;
        double dz = -1.0 + ez;
        if (P.d[0])
            P.d[0][i * st[0]] += dz * inv;
        if (P.d[1])
            P.d[1][i * st[1]] -= dz * inv;
        if (P.d[2])
            P.d[2][i * st[2]] += -inv - dz * z * inv;
    }
    ps_adv r;
    PS_CHECK(ps_ad_partials_finish(&P, lp, var, &r));
    *out = sval_real(r);
    return PS_OK;
}

/* weibull(y | alpha, sigma) = log alpha - log sigma + (alpha - 1) log(y / sigma)
 *                             - (y / sigma)^alpha, y >= 0. */
static ps_status d_weibull(frame *f, const lx *e, const sval *args, sval *out)
{
    static const char fn[] = "weibull_lpdf";
    ps_ad_tape *tape = f->tape;
    ps_adv a[3] = {R(0), R(1), R(2)};
    size_t n, st[3];
    PS_CHECK(bsize(fn, a, 3, &n, st));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", a[0], PS_KERN_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Shape parameter", a[1], PS_KERN_POSITIVE_FINITE));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", a[2], PS_KERN_POSITIVE_FINITE));
    bool var = any_var(a, 3), propto = e->propto;
    if (propto && !var)
        return zero(tape, out);
    for (size_t i = 0; i < n; i++)
        if (a[0].v[i * st[0]] < 0.0) {
            ps_adv r;
            PS_CHECK(ps_ad_const(tape, -INFINITY, &r));
            *out = sval_real(r);
            return PS_OK;
        }
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, a, 3));
    double lp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double y = a[0].v[i * st[0]], al = a[1].v[i * st[1]], s = a[2].v[i * st[2]];
        double ly = log(y), lsig = log(s), lr = ly - lsig, pw = exp(al * lr);
        if (!propto || a[1].var)
            lp += log(al);
        if (!propto || a[0].var || a[1].var)
            lp += (al - 1.0) * ly;
        if (!propto || a[1].var || a[2].var)
            lp -= al * lsig;
        lp -= pw;
        if (P.d[0])
            P.d[0][i * st[0]] += (al - 1.0) / y - al * pw / y;
        if (P.d[1])
            P.d[1][i * st[1]] += 1.0 / al + lr - pw * lr;
        if (P.d[2])
            P.d[2][i * st[2]] += -al / s + al * pw / s;
    }
    ps_adv r;
    PS_CHECK(ps_ad_partials_finish(&P, lp, var, &r));
    *out = sval_real(r);
    return PS_OK;
}

/* chi_square(y | nu) = -(nu/2) log 2 - lgamma(nu/2) + (nu/2 - 1) log y - y/2;
 * inv_chi_square(y | nu) = -(nu/2) log 2 - lgamma(nu/2) - (nu/2 + 1) log y - 1/(2y);
 * scaled_inv_chi_square(y | nu, s) = (nu/2) log(nu/2) - lgamma(nu/2) + nu log s
 *                                    - (nu/2 + 1) log y - nu s^2 / (2y). */
static ps_status d_chi_family(frame *f, const lx *e, const sval *args, sval *out)
{
    int kind = e->fn == PS_STAN_FN_CHI_SQUARE_LPDF       ? 0
               : e->fn == PS_STAN_FN_INV_CHI_SQUARE_LPDF ? 1
                                                         : 2;
    const char *fn = kind == 0   ? "chi_square_lpdf"
                     : kind == 1 ? "inv_chi_square_lpdf"
                                 : "scaled_inv_chi_square_lpdf";
    ps_ad_tape *tape = f->tape;
    size_t k = kind == 2 ? 3 : 2;
    ps_adv a[3] = {R(0), R(1), kind == 2 ? R(2) : R(1)};
    size_t n, st[3];
    PS_CHECK(bsize(fn, a, k, &n, st));
    PS_CHECK(ps_ad_check_arg(tape, fn, "Random variable", a[0], PS_KERN_NOT_NAN));
    PS_CHECK(
        ps_ad_check_arg(tape, fn, "Degrees of freedom parameter", a[1], PS_KERN_POSITIVE_FINITE));
    if (kind == 2)
        PS_CHECK(ps_ad_check_arg(tape, fn, "Scale parameter", a[2], PS_KERN_POSITIVE_FINITE));
    bool var = any_var(a, k), propto = e->propto;
    if (propto && !var)
        return zero(tape, out);
    for (size_t i = 0; i < n; i++)
        if (a[0].v[i * st[0]] <= 0.0 && !(kind == 0 && a[0].v[i * st[0]] == 0.0)) {
            ps_adv r;
            PS_CHECK(ps_ad_const(tape, -INFINITY, &r));
            *out = sval_real(r);
            return PS_OK;
        }
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, a, k));
    double lp = 0.0;
    bool ky = !propto || a[0].var, kn = !propto || a[1].var;
    for (size_t i = 0; i < n; i++) {
        double y = a[0].v[i * st[0]], nu = a[1].v[i * st[1]], hn = 0.5 * nu, ly = log(y);
        if (kind == 0) {
            if (kn)
                lp += -hn * PS_LOG_2 - ps_lgamma(hn);
            if (ky || kn)
                lp += (hn - 1.0) * ly;
            if (ky)
                lp -= 0.5 * y;
            if (P.d[0])
                P.d[0][i * st[0]] += (hn - 1.0) / y - 0.5;
            if (P.d[1])
                P.d[1][i * st[1]] += 0.5 * (-PS_LOG_2 - ps_digamma(hn) + ly);
        } else if (kind == 1) {
            if (kn)
                lp += -hn * PS_LOG_2 - ps_lgamma(hn);
            if (ky || kn)
                lp -= (hn + 1.0) * ly;
            if (ky)
                lp -= 0.5 / y;
            if (P.d[0])
                P.d[0][i * st[0]] += -(hn + 1.0) / y + 0.5 / (y * y);
            if (P.d[1])
                P.d[1][i * st[1]] += 0.5 * (-PS_LOG_2 - ps_digamma(hn) - ly);
        } else {
            double s = a[2].v[i * st[2]], s2 = s * s;
            bool ks = !propto || a[2].var;
            if (kn)
                lp += hn * log(hn) - ps_lgamma(hn);
            if (kn || ks)
                lp += nu * log(s);
            if (ky || kn)
                lp -= (hn + 1.0) * ly;
            lp -= hn * s2 / y;
            if (P.d[0])
                P.d[0][i * st[0]] += -(hn + 1.0) / y + hn * s2 / (y * y);
            if (P.d[1])
                P.d[1][i * st[1]] +=
                    0.5 * (log(hn) + 1.0) - 0.5 * ps_digamma(hn) + log(s) - 0.5 * ly - 0.5 * s2 / y;
            if (P.d[2])
                P.d[2][i * st[2]] += nu / s - nu * s / y;
        }
    }
    ps_adv r;
    PS_CHECK(ps_ad_partials_finish(&P, lp, var, &r));
    *out = sval_real(r);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Cumulative distribution functions. Each is a scalar function F(args) per element with
 * its partial derivatives; the _lcdf/_lccdf forms sum log F (or log(1 - F)), the _cdf form
 * multiplies.
 * ------------------------------------------------------------------------------------- */

/* log Phi(z) and d/dz log Phi(z) = phi(z) / Phi(z), accurate far in the lower tail
 * (asymptotic expansion of the Mills ratio below z = -37.5, where Phi underflows). */
static void log_Phi(double z, double *value, double *deriv)
{
    if (z > -37.5) {
        double p = ps_Phi(z);
        *value = log(p);
        *deriv = exp(ps_std_normal_log_density(z) - *value);
        if (!(p > 0.0))
            *deriv = -z;
        return;
    }
    /* Phi(z) ~ phi(z) / (-z) (1 - 1/z^2 + 3/z^4 - 15/z^6). */
    double z2 = 1.0 / (z * z);
    double series = 1.0 - z2 * (1.0 - 3.0 * z2 * (1.0 - 5.0 * z2));
    *value = ps_std_normal_log_density(z) - log(-z) + log(series);
    /* phi/Phi = -z / series. */
    *deriv = -z / series;
}

/* Per element: F's log (lcdf), log of its complement (lccdf), and the derivative of the
 * log with respect to the standardised variable and each parameter. */
typedef struct cdf_term {
    double log_value;
    double d[4];
} cdf_term;

typedef enum cdf_form { CDF_LCDF = 0, CDF_LCCDF, CDF_CDF } cdf_form;

static cdf_form form_of(ps_stan_fn fn)
{
    switch (ps_stan_fn_kind_of(fn)) {
    case PS_STAN_KIND_LCDF:
        return CDF_LCDF;
    case PS_STAN_KIND_LCCDF:
        return CDF_LCCDF;
    default:
        return CDF_CDF;
    }
}

/* Student's t CDF by the regularised incomplete beta function (values only). */
static double inc_beta_cf(double a, double b, double x)
{
    /* Continued fraction of I_x(a, b) (modified Lentz), valid for x < (a+1)/(a+b+2). */
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16)
            break;
    }
    return h;
}

/* The regularised incomplete beta function I_x(a, b). */
static double inc_beta(double a, double b, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    double lfront = a * log(x) + b * log1p(-x) - ps_lbeta(a, b);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lfront) * inc_beta_cf(a, b, x) / a;
    return 1.0 - exp(lfront) * inc_beta_cf(b, a, 1.0 - x) / b;
}

static double student_t_cdf(double t, double nu)
{
    double x = nu / (nu + t * t);
    double tail = 0.5 * inc_beta(0.5 * nu, 0.5, x);
    return t > 0.0 ? 1.0 - tail : tail;
}

static ps_status cdf_generic(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_stan_fn fn = e->fn;
    cdf_form form = form_of(fn);
    const char *name = ps_stan_fn_name(fn);
    ps_ad_tape *tape = f->tape;
    size_t k = e->n_args;
    ps_adv a[4];
    for (size_t i = 0; i < k && i < 4; i++)
        a[i] = R(i);
    size_t n, st[4];
    PS_CHECK(bsize(name, a, k, &n, st));
    PS_CHECK(ps_ad_check_arg(tape, name, "Random variable", a[0], PS_KERN_NOT_NAN));
    ps_ad_partials P;
    PS_CHECK(ps_ad_partials_begin(tape, &P, a, k));
    double total = 0.0;
    bool var = any_var(a, k);
    for (size_t i = 0; i < n; i++) {
        double y = a[0].v[i * st[0]];
        double p1 = k > 1 ? a[1].v[i * st[1]] : 0.0, p2 = k > 2 ? a[2].v[i * st[2]] : 1.0;
        double p3 = k > 3 ? a[3].v[i * st[3]] : 0.0;
        /* lF: log F, dF[j]: d log F / d arg j; lS, dS the same for 1 - F. */
        double lF = 0.0, lS = 0.0, dF[4] = {0}, dS[4] = {0};
        switch (fn) {
        case PS_STAN_FN_NORMAL_LCDF:
        case PS_STAN_FN_NORMAL_LCCDF:
        case PS_STAN_FN_NORMAL_CDF:
        case PS_STAN_FN_STD_NORMAL_LCDF:
        case PS_STAN_FN_STD_NORMAL_LCCDF:
        case PS_STAN_FN_STD_NORMAL_CDF:
        case PS_STAN_FN_LOGNORMAL_LCDF:
        case PS_STAN_FN_LOGNORMAL_LCCDF:
        case PS_STAN_FN_LOGNORMAL_CDF: {
            bool std = fn == PS_STAN_FN_STD_NORMAL_LCDF || fn == PS_STAN_FN_STD_NORMAL_LCCDF ||
                       fn == PS_STAN_FN_STD_NORMAL_CDF;
            bool logn = fn == PS_STAN_FN_LOGNORMAL_LCDF || fn == PS_STAN_FN_LOGNORMAL_LCCDF ||
                        fn == PS_STAN_FN_LOGNORMAL_CDF;
            double mu = std ? 0.0 : p1, sigma = std ? 1.0 : p2;
            if (!std && !(sigma > 0.0 && isfinite(sigma)))
                return ps_ad_domain_error(tape,
                                          "%s: Scale parameter is %g, but must be positive "
                                          "finite",
                                          name, sigma);
            if (!std && !isfinite(mu))
                return ps_ad_domain_error(tape, "%s: Location parameter is %g, but must be finite",
                                          name, mu);
            double x = y;
            if (logn) {
                if (y < 0.0)
                    return ps_ad_domain_error(tape,
                                              "%s: Random variable is %g, but must be "
                                              "nonnegative",
                                              name, y);
                x = log(y);
            }
            double z = (x - mu) / sigma, gF, gS;
            log_Phi(z, &lF, &gF);
            log_Phi(-z, &lS, &gS);
            double dzdy = (logn ? 1.0 / y : 1.0) / sigma;
            dF[0] = gF * dzdy;
            dS[0] = -gS * dzdy;
            if (!std) {
                dF[1] = -gF / sigma;
                dS[1] = gS / sigma;
                dF[2] = -gF * z / sigma;
                dS[2] = gS * z / sigma;
            }
            break;
        }
        case PS_STAN_FN_EXPONENTIAL_LCDF:
        case PS_STAN_FN_EXPONENTIAL_LCCDF:
        case PS_STAN_FN_EXPONENTIAL_CDF: {
            double beta = p1;
            if (!(beta > 0.0 && isfinite(beta)))
                return ps_ad_domain_error(tape,
                                          "%s: Inverse scale parameter is %g, but must be "
                                          "positive finite",
                                          name, beta);
            if (y < 0.0)
                return ps_ad_domain_error(tape,
                                          "%s: Random variable is %g, but must be "
                                          "nonnegative",
                                          name, y);
            lS = -beta * y;
            dS[0] = -beta;
            dS[1] = -y;
            lF = ps_log1m_exp(lS);
            double r = -exp(lS - lF); /* d log(1 - e^s) / ds */
            dF[0] = r * dS[0];
            dF[1] = r * dS[1];
            break;
        }
        case PS_STAN_FN_LOGISTIC_LCDF:
        case PS_STAN_FN_LOGISTIC_LCCDF:
        case PS_STAN_FN_LOGISTIC_CDF: {
            double sigma = p2, z = (y - p1) / sigma;
            if (!(sigma > 0.0 && isfinite(sigma)))
                return ps_ad_domain_error(tape,
                                          "%s: Scale parameter is %g, but must be positive "
                                          "finite",
                                          name, sigma);
            lF = ps_log_inv_logit(z);
            lS = ps_log1m_inv_logit(z);
            double gF = ps_inv_logit(-z), gS = -ps_inv_logit(z);
            dF[0] = gF / sigma;
            dF[1] = -gF / sigma;
            dF[2] = -gF * z / sigma;
            dS[0] = gS / sigma;
            dS[1] = -gS / sigma;
            dS[2] = -gS * z / sigma;
            break;
        }
        case PS_STAN_FN_CAUCHY_LCDF:
        case PS_STAN_FN_CAUCHY_LCCDF:
        case PS_STAN_FN_CAUCHY_CDF: {
            double sigma = p2, z = (y - p1) / sigma;
            if (!(sigma > 0.0 && isfinite(sigma)))
                return ps_ad_domain_error(tape,
                                          "%s: Scale parameter is %g, but must be positive "
                                          "finite",
                                          name, sigma);
            double F = 0.5 + atan(z) / PS_PI, S = 0.5 - atan(z) / PS_PI;
            double dens = 1.0 / (PS_PI * (1.0 + z * z));
            lF = log(F);
            lS = log(S);
            dF[0] = dens / F / sigma;
            dF[1] = -dF[0];
            dF[2] = -dF[0] * z;
            dS[0] = -dens / S / sigma;
            dS[1] = -dS[0];
            dS[2] = -dS[0] * z;
            break;
        }
        case PS_STAN_FN_GUMBEL_LCDF:
        case PS_STAN_FN_GUMBEL_LCCDF:
        case PS_STAN_FN_GUMBEL_CDF: {
            double beta = p2, z = (y - p1) / beta;
            if (!(beta > 0.0 && isfinite(beta)))
                return ps_ad_domain_error(tape,
                                          "%s: Scale parameter is %g, but must be positive "
                                          "finite",
                                          name, beta);
            double ez = exp(-z);
            lF = -ez; /* F = exp(-exp(-z)) */
            double gF = ez;
            lS = ps_log1m_exp(lF);
            double gS = -exp(lF - lS) * gF;
            dF[0] = gF / beta;
            dF[1] = -gF / beta;
            dF[2] = -gF * z / beta;
            dS[0] = gS / beta;
            dS[1] = -gS / beta;
            dS[2] = -gS * z / beta;
            break;
        }
        case PS_STAN_FN_DOUBLE_EXPONENTIAL_LCDF:
        case PS_STAN_FN_DOUBLE_EXPONENTIAL_LCCDF:
        case PS_STAN_FN_DOUBLE_EXPONENTIAL_CDF: {
            double sigma = p2, z = (y - p1) / sigma;
            if (!(sigma > 0.0 && isfinite(sigma)))
                return ps_ad_domain_error(tape,
                                          "%s: Scale parameter is %g, but must be positive "
                                          "finite",
                                          name, sigma);
            /* F = e^z / 2 (z < 0), 1 - e^-z / 2 (z >= 0). */
            double gF, gS;
            if (z < 0.0) {
                lF = z - PS_LOG_2;
                gF = 1.0;
                lS = ps_log1m_exp(lF);
                gS = -exp(lF - lS);
            } else {
                lS = -z - PS_LOG_2;
                gS = -1.0;
                lF = ps_log1m_exp(lS);
                gF = exp(lS - lF);
            }
            dF[0] = gF / sigma;
            dF[1] = -gF / sigma;
            dF[2] = -gF * z / sigma;
            dS[0] = gS / sigma;
            dS[1] = -gS / sigma;
            dS[2] = -gS * z / sigma;
            break;
        }
        case PS_STAN_FN_WEIBULL_LCDF:
        case PS_STAN_FN_WEIBULL_LCCDF:
        case PS_STAN_FN_WEIBULL_CDF: {
            double al = p1, s = p2;
            if (!(al > 0.0 && isfinite(al)) || !(s > 0.0 && isfinite(s)))
                return ps_ad_domain_error(tape,
                                          "%s: Shape parameter is %g and scale parameter is "
                                          "%g, but both must be positive finite",
                                          name, al, s);
            if (y < 0.0)
                return ps_ad_domain_error(tape,
                                          "%s: Random variable is %g, but must be "
                                          "nonnegative",
                                          name, y);
            double pw = pow(y / s, al); /* 1 - F = exp(-pw) */
            lS = -pw;
            double dpw_dy = y > 0.0 ? al * pw / y : 0.0, dpw_da = y > 0.0 ? pw * log(y / s) : 0.0,
                   dpw_ds = -al * pw / s;
            dS[0] = -dpw_dy;
            dS[1] = -dpw_da;
            dS[2] = -dpw_ds;
            lF = ps_log1m_exp(lS);
            double r = -exp(lS - lF);
            for (int j = 0; j < 3; j++)
                dF[j] = r * dS[j];
            break;
        }
        case PS_STAN_FN_UNIFORM_LCDF:
        case PS_STAN_FN_UNIFORM_LCCDF:
        case PS_STAN_FN_UNIFORM_CDF: {
            double lo = p1, hi = p2;
            if (!(lo < hi))
                return ps_ad_domain_error(tape, "%s: Lower bound %g is not below upper bound %g",
                                          name, lo, hi);
            double w = hi - lo, F = (y - lo) / w;
            if (y < lo || y > hi) {
                F = y < lo ? 0.0 : 1.0;
                lF = log(F);
                lS = log1p(-F);
                break;
            }
            lF = log(F);
            lS = log1p(-F);
            dF[0] = 1.0 / (y - lo);
            dF[1] = -1.0 / (y - lo) + 1.0 / w;
            dF[2] = -1.0 / w;
            dS[0] = -1.0 / (hi - y);
            dS[1] = 1.0 / w;
            dS[2] = 1.0 / (hi - y) - 1.0 / w;
            break;
        }
        case PS_STAN_FN_STUDENT_T_LCDF:
        case PS_STAN_FN_STUDENT_T_LCCDF:
        case PS_STAN_FN_STUDENT_T_CDF: {
            double nu = p1, mu = p2, sigma = p3;
            if (!(nu > 0.0 && isfinite(nu)) || !(sigma > 0.0 && isfinite(sigma)))
                return ps_ad_domain_error(tape,
                                          "%s: Degrees of freedom %g and scale %g must be "
                                          "positive finite",
                                          name, nu, sigma);
            double t = (y - mu) / sigma;
            double F = student_t_cdf(t, nu), S = student_t_cdf(-t, nu);
            lF = log(F);
            lS = log(S);
            break;
        }
        default:
            return ps_error(PS_ERR_INTERNAL, "%s has no implementation", name);
        }
        const double *dd = form == CDF_LCCDF ? dS : dF;
        double lv = form == CDF_LCCDF ? lS : lF;
        total += lv;
        for (size_t j = 0; j < k; j++)
            if (P.d[j] != NULL)
                P.d[j][i * st[j]] += dd[j];
    }
    ps_adv r;
    if (form == CDF_CDF) {
        /* The product of the F's: d F / d x = F d log F / d x. */
        double value = exp(total);
        for (size_t j = 0; j < k; j++)
            if (P.d[j] != NULL) {
                size_t m = ps_adv_size(a[j]);
                for (size_t i = 0; i < m; i++)
                    P.d[j][i] *= value;
            }
        PS_CHECK(ps_ad_partials_finish(&P, value, var, &r));
    } else {
        PS_CHECK(ps_ad_partials_finish(&P, total, var, &r));
    }
    *out = sval_real(r);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Discrete and multivariate densities composed from engine primitives
 * ------------------------------------------------------------------------------------- */

/* neg_binomial_2_log(n | eta, phi) = neg_binomial_2(n | exp(eta), phi). */
static ps_status d_neg_binomial_2_log(frame *f, const lx *e, const sval *args, sval *out)
{
    ps_adv mu, r;
    PS_CHECK(ps_ad_unary(f->tape, PS_AD_EXP, R(1), &mu));
    ps_adi n = ps_ad_int_data(args[0].iv, sshape_count(&args[0].s));
    PS_CHECK(ps_ad_neg_binomial_2_lpmf(f->tape, n, mu, R(2), e->propto, &r));
    *out = sval_real(r);
    return PS_OK;
}

/* categorical(y | theta) = sum log theta[y]; categorical_logit(y | beta) = sum
 * log_softmax(beta)[y]. */
static ps_status d_categorical(frame *f, const lx *e, const sval *args, sval *out)
{
    bool logit = e->fn == PS_STAN_FN_CATEGORICAL_LOGIT_LPMF;
    const char *fn = logit ? "categorical_logit_lpmf" : "categorical_lpmf";
    ps_ad_tape *tape = f->tape;
    ps_adv theta = R(1);
    size_t K = ps_adv_size(theta), n = sshape_count(&args[0].s);
    for (size_t i = 0; i < n; i++) {
        int y = args[0].iv[i];
        if (y < 1 || (size_t)y > K)
            return ps_ad_domain_error(tape, "%s: Number of categories is %zu, but outcome is %d",
                                      fn, K, y);
    }
    if (!logit) {
        double sum = 0.0;
        for (size_t i = 0; i < K; i++) {
            if (!(theta.v[i] >= 0.0))
                return ps_ad_domain_error(tape,
                                          "%s: Probabilities parameter is not a valid "
                                          "simplex: element %zu is %g",
                                          fn, i + 1, theta.v[i]);
            sum += theta.v[i];
        }
        if (!(fabs(sum - 1.0) <= 1e-8))
            return ps_ad_domain_error(tape,
                                      "%s: Probabilities parameter is not a valid simplex. "
                                      "sum = %.15g, but should be 1",
                                      fn, sum);
    } else {
        PS_CHECK(ps_ad_check_arg(tape, fn, "log odds parameter", theta, PS_KERN_FINITE));
    }
    if (e->propto && !theta.var)
        return zero(tape, out);
    ps_adv l, g, r;
    theta.rows = K;
    theta.cols = 1;
    PS_CHECK(logit ? ps_ad_log_softmax(tape, theta, &l) : ps_ad_unary(tape, PS_AD_LOG, theta, &l));
    PS_CHECK(ps_ad_gather(tape, l, ps_ad_int_data(args[0].iv, n), &g));
    PS_CHECK(ps_ad_sum(tape, g, &r));
    *out = sval_real(r);
    return PS_OK;
}

/*
 * The LKJ normalising constant (Lewandowski, Kurowicka and Joe 2009, Sec. 3.2): for K x K
 * correlation matrices, log c_K(eta) = sum_{i=1}^{K-1} [(2 eta - 2 + K - i)(K - i) log 2
 * + (K - i) lbeta(eta + (K - i - 1)/2, eta + (K - i - 1)/2)], and the density is
 * det(Omega)^(eta - 1) / c_K(eta). *dlog gets d log c / d eta.
 */
static double lkj_log_c(double eta, size_t K, double *dlog)
{
    double c = 0.0, d = 0.0;
    for (size_t i = 1; i < K; i++) {
        double m = (double)(K - i), b = eta + 0.5 * (m - 1.0);
        c += (2.0 * eta - 2.0 + m) * m * PS_LOG_2 + m * ps_lbeta(b, b);
        d += 2.0 * m * PS_LOG_2 + m * 2.0 * (ps_digamma(b) - ps_digamma(2.0 * b));
    }
    *dlog = d;
    return c;
}

/* lkj_corr_cholesky(L | eta) = sum_{k=2}^K (K - k + 2 eta - 2) log L[k,k] - log c_K(eta);
 * lkj_corr(Omega | eta) = (eta - 1) log det Omega - log c_K(eta). */
static ps_status d_lkj(frame *f, const lx *e, const sval *args, sval *out)
{
    bool chol = e->fn == PS_STAN_FN_LKJ_CORR_CHOLESKY_LPDF;
    const char *fn = chol ? "lkj_corr_cholesky_lpdf" : "lkj_corr_lpdf";
    ps_ad_tape *tape = f->tape;
    ps_adv L = R(0), eta = R(1);
    size_t K = L.rows;
    if (L.cols != K)
        return sm_error_at(f, PS_ERR_MODEL, e->offset, "%s: the matrix is %zu x %zu, not square",
                           fn, L.rows, L.cols);
    PS_CHECK(ps_ad_check_arg(tape, fn, "Shape parameter", eta, PS_KERN_POSITIVE_FINITE));
    bool var = L.var || eta.var;
    if (e->propto && !var)
        return zero(tape, out);
    double et = eta.v[0], dc = 0.0;
    double logc = (!e->propto || eta.var) ? lkj_log_c(et, K, &dc) : 0.0;
    if (chol) {
        for (size_t k = 0; k < K; k++)
            if (!(L.v[k + k * K] > 0.0))
                return ps_ad_domain_error(tape,
                                          "%s: the diagonal of the Cholesky factor must be "
                                          "positive; element %zu is %g",
                                          fn, k + 1, L.v[k + k * K]);
        ps_ad_partials P;
        PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){L, eta}, 2));
        double lp = -logc;
        for (size_t k = 1; k < K; k++) {
            double lk = log(L.v[k + k * K]);
            double coef = (double)(K - k - 1) + 2.0 * et - 2.0;
            lp += coef * lk;
            if (P.d[0])
                P.d[0][k + k * K] += coef / L.v[k + k * K];
            if (P.d[1])
                P.d[1][0] += 2.0 * lk;
        }
        if (P.d[1])
            P.d[1][0] -= dc;
        ps_adv r;
        PS_CHECK(ps_ad_partials_finish(&P, lp, var, &r));
        *out = sval_real(r);
        return PS_OK;
    }
    /* (eta - 1) log det Omega - log c. */
    ps_adv ld, em1, one, t, c, r;
    PS_CHECK(ps_ad_log_determinant(tape, L, &ld));
    PS_CHECK(ps_ad_const(tape, 1.0, &one));
    PS_CHECK(ps_ad_sub(tape, eta, one, &em1));
    PS_CHECK(ps_ad_mul(tape, em1, ld, &t));
    if (logc != 0.0 || eta.var) {
        double d = -dc;
        PS_CHECK(ps_ad_scalar_result(tape, -logc, eta.var, &eta, &d, 1, &c));
        PS_CHECK(ps_ad_add(tape, t, c, &r));
    } else {
        r = t;
    }
    *out = sval_real(r);
    return PS_OK;
}

sm_fn_support sm_dist_resolve(ps_stan_fn fn, const ps_stan_expr *call, lx_impl_fn *impl)
{
    (void)call;
    *impl = NULL;
    switch (fn) {
    case PS_STAN_FN_DOUBLE_EXPONENTIAL_LPDF:
        *impl = d_double_exponential;
        return SM_FN_FULL;
    case PS_STAN_FN_LOGISTIC_LPDF:
        *impl = d_logistic;
        return SM_FN_FULL;
    case PS_STAN_FN_GUMBEL_LPDF:
        *impl = d_gumbel;
        return SM_FN_FULL;
    case PS_STAN_FN_WEIBULL_LPDF:
        *impl = d_weibull;
        return SM_FN_FULL;
    case PS_STAN_FN_CHI_SQUARE_LPDF:
    case PS_STAN_FN_INV_CHI_SQUARE_LPDF:
    case PS_STAN_FN_SCALED_INV_CHI_SQUARE_LPDF:
        *impl = d_chi_family;
        return SM_FN_FULL;
    case PS_STAN_FN_NEG_BINOMIAL_2_LOG_LPMF:
        *impl = d_neg_binomial_2_log;
        return SM_FN_FULL;
    case PS_STAN_FN_CATEGORICAL_LPMF:
    case PS_STAN_FN_CATEGORICAL_LOGIT_LPMF:
        *impl = d_categorical;
        return SM_FN_FULL;
    case PS_STAN_FN_LKJ_CORR_CHOLESKY_LPDF:
    case PS_STAN_FN_LKJ_CORR_LPDF:
        *impl = d_lkj;
        return SM_FN_FULL;
    case PS_STAN_FN_NORMAL_LCDF:
    case PS_STAN_FN_NORMAL_LCCDF:
    case PS_STAN_FN_NORMAL_CDF:
    case PS_STAN_FN_STD_NORMAL_LCDF:
    case PS_STAN_FN_STD_NORMAL_LCCDF:
    case PS_STAN_FN_STD_NORMAL_CDF:
    case PS_STAN_FN_LOGNORMAL_LCDF:
    case PS_STAN_FN_LOGNORMAL_LCCDF:
    case PS_STAN_FN_LOGNORMAL_CDF:
    case PS_STAN_FN_EXPONENTIAL_LCDF:
    case PS_STAN_FN_EXPONENTIAL_LCCDF:
    case PS_STAN_FN_EXPONENTIAL_CDF:
    case PS_STAN_FN_LOGISTIC_LCDF:
    case PS_STAN_FN_LOGISTIC_LCCDF:
    case PS_STAN_FN_LOGISTIC_CDF:
    case PS_STAN_FN_CAUCHY_LCDF:
    case PS_STAN_FN_CAUCHY_LCCDF:
    case PS_STAN_FN_CAUCHY_CDF:
    case PS_STAN_FN_GUMBEL_LCDF:
    case PS_STAN_FN_GUMBEL_LCCDF:
    case PS_STAN_FN_GUMBEL_CDF:
    case PS_STAN_FN_DOUBLE_EXPONENTIAL_LCDF:
    case PS_STAN_FN_DOUBLE_EXPONENTIAL_LCCDF:
    case PS_STAN_FN_DOUBLE_EXPONENTIAL_CDF:
    case PS_STAN_FN_WEIBULL_LCDF:
    case PS_STAN_FN_WEIBULL_LCCDF:
    case PS_STAN_FN_WEIBULL_CDF:
    case PS_STAN_FN_UNIFORM_LCDF:
    case PS_STAN_FN_UNIFORM_LCCDF:
    case PS_STAN_FN_UNIFORM_CDF:
        *impl = cdf_generic;
        return SM_FN_FULL;
    case PS_STAN_FN_STUDENT_T_LCDF:
    case PS_STAN_FN_STUDENT_T_LCCDF:
    case PS_STAN_FN_STUDENT_T_CDF:
        *impl = cdf_generic;
        return SM_FN_CONST_ONLY;
    default:
        return SM_FN_NONE;
    }
}

/* ---------------------------------------------------------------------------------------
 * cholesky_factor_cov[M, N] (Stan Reference Manual, "Cholesky factors of covariance
 * matrices"): the first N rows hold a lower-triangular matrix with positive diagonal,
 * filled row by row from the free values, the diagonal through exp; rows N+1..M are free.
 * log |J| is the sum of the free values on the diagonal.
 * ------------------------------------------------------------------------------------- */

typedef struct cholcov_node {
    size_t M, N;
    bool jacobian;
    const double *xv; /* the result's values */
    double *ua;
    const double *xa;
} cholcov_node;

static void cholcov_back(void *p)
{
    const cholcov_node *nd = p;
    size_t M = nd->M, N = nd->N, pos = 0;
    for (size_t m = 0; m < N; m++) {
        for (size_t n = 0; n < m; n++)
            nd->ua[pos++] += nd->xa[m + n * M];
        size_t d = m + m * M;
        nd->ua[pos++] += nd->xa[d] * nd->xv[d] + (nd->jacobian ? 1.0 : 0.0);
    }
    for (size_t m = N; m < M; m++)
        for (size_t n = 0; n < N; n++)
            nd->ua[pos++] += nd->xa[m + n * M];
}

ps_status sm_extra_constrain(frame *f, ps_stan_constraint c, ps_adv u, size_t M, size_t N,
                             bool jacobian, ps_adv *out)
{
    if (c != PS_STAN_C_CHOLESKY_COV)
        return ps_error(PS_ERR_INTERNAL, "no transform for constraint %d", (int)c);
    double *x = NULL;
    PS_CHECK(ps_ad_result(f->tape, M, N, u.var, &x, out));
    size_t pos = 0;
    double logj = 0.0;
    for (size_t i = 0; i < M * N; i++)
        x[i] = 0.0;
    for (size_t m = 0; m < N; m++) {
        for (size_t n = 0; n < m; n++)
            x[m + n * M] = u.v[pos++];
        logj += u.v[pos];
        x[m + m * M] = exp(u.v[pos++]);
    }
    for (size_t m = N; m < M; m++)
        for (size_t n = 0; n < N; n++)
            x[m + n * M] = u.v[pos++];
    if (jacobian)
        ps_ad_target_add_const(f->tape, logj);
    if (out->a == NULL || u.a == NULL)
        return PS_OK;
    cholcov_node *nd;
    PS_CHECK(ps_ad_node_push(f->tape, cholcov_back, sizeof *nd, (void **)&nd));
    *nd = (cholcov_node){M, N, jacobian, out->v, u.a, out->a};
    return PS_OK;
}
