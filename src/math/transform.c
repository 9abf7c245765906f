/*
 * Constraint transforms with their log-Jacobians (Stan Reference Manual, "Constraint
 * transforms"; the stick-breaking simplex and the canonical-partial-correlation Cholesky
 * factor follow Stan's definitions, Lewandowski, Kurowicka and Joe 2009 for the latter).
 *
 * Each transform is one node. The target's adjoint is always 1, so the gradient of the
 * log-Jacobian is added directly in the node's backward function together with the
 * chain rule through the constrained values; no separate scalar is recorded for log J.
 */
#include <math.h>
#include <string.h>

#include "math/blas.h"
#include "math/special.h"
#include "math/transform.h"

#define STRIDE(x) (ps_adv_size(x) == 1 ? (size_t)0 : (size_t)1)

ps_adv ps_ad_no_bound(void)
{
    ps_adv none = {NULL, NULL, 1, 1, false};
    return none;
}

size_t ps_simplex_free_size(size_t K)
{
    return K == 0 ? 0 : K - 1;
}

size_t ps_cholesky_corr_free_size(size_t K)
{
    return K * (K - (K > 0)) / 2;
}

size_t ps_cov_matrix_free_size(size_t K)
{
    return K + K * (K - (K > 0)) / 2;
}

static ps_status check_size(const char *fn, ps_adv u, size_t want)
{
    if (ps_adv_size(u) != want)
        return ps_error(PS_ERR_MODEL, "%s: %zu unconstrained values given, %zu expected", fn,
                        ps_adv_size(u), want);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Bounds
 * ------------------------------------------------------------------------------------- */

enum { B_NONE, B_LOWER, B_UPPER, B_BOTH };

typedef struct bounds_node {
    size_t n, sl, su;
    bool jacobian;
    const double *uv, *lv, *hv, *xv;
    double *ua, *la, *ha;
    const double *xa;
} bounds_node;

static int bound_kind(double lo, double hi)
{
    bool has_lo = lo != -INFINITY, has_hi = hi != INFINITY;
    return has_lo ? (has_hi ? B_BOTH : B_LOWER) : (has_hi ? B_UPPER : B_NONE);
}

static void bounds_back(void *p)
{
    bounds_node *nd = p;
    double gj = nd->jacobian ? 1.0 : 0.0;
    for (size_t i = 0; i < nd->n; i++) {
        double lo = nd->lv ? nd->lv[i * nd->sl] : -INFINITY;
        double hi = nd->hv ? nd->hv[i * nd->su] : INFINITY;
        double g = nd->xa[i], u = nd->uv[i];
        double du = 0.0, dl = 0.0, dh = 0.0;
        switch (bound_kind(lo, hi)) {
        case B_NONE:
            du = g;
            break;
        case B_LOWER: {
            double e = nd->xv[i] - lo; /* exp(u) */
            du = g * e + gj;
            dl = g;
            break;
        }
        case B_UPPER: {
            double e = hi - nd->xv[i];
            du = -g * e + gj;
            dh = g;
            break;
        }
        default: {
            double w = hi - lo, s = ps_inv_logit(u);
            du = g * w * s * (1.0 - s) + gj * (1.0 - 2.0 * s);
            dl = g * (1.0 - s) - gj / w;
            dh = g * s + gj / w;
            break;
        }
        }
        if (nd->ua != NULL)
            nd->ua[i] += du;
        if (nd->la != NULL)
            nd->la[i * nd->sl] += dl;
        if (nd->ha != NULL)
            nd->ha[i * nd->su] += dh;
    }
}

ps_status ps_ad_bounds_constrain(ps_ad_tape *tape, ps_adv u, ps_adv lower, ps_adv upper,
                                 bool jacobian, ps_adv *out)
{
    static const char fn[] = "bounds transform";
    size_t n = ps_adv_size(u);
    bool has_l = lower.v != NULL, has_h = upper.v != NULL;
    size_t nl = has_l ? ps_adv_size(lower) : 1, nh = has_h ? ps_adv_size(upper) : 1;
    if ((nl != 1 && nl != n) || (nh != 1 && nh != n))
        return ps_error(PS_ERR_MODEL,
                        "%s: %zu values with %zu lower and %zu upper bounds; a bound must be a "
                        "scalar or have one value per element",
                        fn, n, nl, nh);
    size_t sl = has_l ? STRIDE(lower) : 0, sh = has_h ? STRIDE(upper) : 0;
    for (size_t i = 0; i < n && has_l && has_h; i++) {
        double lo = lower.v[i * sl], hi = upper.v[i * sh];
        if (!(lo < hi))
            return ps_ad_domain_error(tape, "lower bound %g is not below upper bound %g", lo, hi);
    }
    bool var = u.var || (has_l && lower.var) || (has_h && upper.var);
    double *x = NULL;
    PS_CHECK(ps_ad_result(tape, u.rows, u.cols, var, &x, out));
    double logj = 0.0;
    for (size_t i = 0; i < n; i++) {
        double lo = has_l ? lower.v[i * sl] : -INFINITY, hi = has_h ? upper.v[i * sh] : INFINITY;
        double v = u.v[i];
        switch (bound_kind(lo, hi)) {
        case B_NONE:
            x[i] = v;
            break;
        case B_LOWER:
            x[i] = lo + exp(v);
            logj += v;
            break;
        case B_UPPER:
            x[i] = hi - exp(v);
            logj += v;
            break;
        default: {
            double w = hi - lo;
            /* Form the value from the nearer bound, so it never rounds onto the bound
             * from the far side. */
            x[i] = v > 0.0 ? hi - w * ps_inv_logit(-v) : lo + w * ps_inv_logit(v);
            logj += log(w) - fabs(v) - 2.0 * log1p(exp(-fabs(v)));
            break;
        }
        }
    }
    if (jacobian)
        ps_ad_target_add_const(tape, logj);
    bool adj = u.a != NULL || (has_l && lower.a != NULL) || (has_h && upper.a != NULL);
    if (out->a == NULL || !adj)
        return PS_OK;
    bounds_node *nd;
    PS_CHECK(ps_ad_node_push(tape, bounds_back, sizeof *nd, (void **)&nd));
    *nd = (bounds_node){n,
                        sl,
                        sh,
                        jacobian,
                        u.v,
                        has_l ? lower.v : NULL,
                        has_h ? upper.v : NULL,
                        x,
                        u.a,
                        has_l ? lower.a : NULL,
                        has_h ? upper.a : NULL,
                        out->a};
    return PS_OK;
}

typedef struct affine_node {
    size_t n, so, sm;
    bool jacobian;
    const double *uv, *mv;
    double *ua, *oa_, *ma;
    const double *xa;
} affine_node;

static void affine_back(void *p)
{
    affine_node *nd = p;
    for (size_t i = 0; i < nd->n; i++) {
        double g = nd->xa[i];
        double m = nd->mv ? nd->mv[i * nd->sm] : 1.0;
        if (nd->ua != NULL)
            nd->ua[i] += g * m;
        if (nd->oa_ != NULL)
            nd->oa_[i * nd->so] += g;
        if (nd->ma != NULL)
            nd->ma[i * nd->sm] += g * nd->uv[i] + (nd->jacobian ? 1.0 / m : 0.0);
    }
}

ps_status ps_ad_offset_multiplier_constrain(ps_ad_tape *tape, ps_adv u, ps_adv offset,
                                            ps_adv multiplier, bool jacobian, ps_adv *out)
{
    size_t n = ps_adv_size(u);
    bool has_o = offset.v != NULL, has_m = multiplier.v != NULL;
    size_t no = has_o ? ps_adv_size(offset) : 1, nm = has_m ? ps_adv_size(multiplier) : 1;
    if ((no != 1 && no != n) || (nm != 1 && nm != n))
        return ps_error(PS_ERR_MODEL,
                        "offset/multiplier transform: %zu values with %zu offsets and %zu "
                        "multipliers",
                        n, no, nm);
    size_t so = has_o ? STRIDE(offset) : 0, sm = has_m ? STRIDE(multiplier) : 0;
    if (has_m)
        for (size_t i = 0; i < nm; i++)
            if (!(multiplier.v[i] > 0.0 && isfinite(multiplier.v[i])))
                return ps_ad_domain_error(tape, "multiplier is %g, but must be positive finite",
                                          multiplier.v[i]);
    bool var = u.var || (has_o && offset.var) || (has_m && multiplier.var);
    double *x = NULL;
    PS_CHECK(ps_ad_result(tape, u.rows, u.cols, var, &x, out));
    double logj = 0.0;
    for (size_t i = 0; i < n; i++) {
        double o = has_o ? offset.v[i * so] : 0.0, m = has_m ? multiplier.v[i * sm] : 1.0;
        x[i] = o + m * u.v[i];
        if (has_m && (sm || i == 0))
            logj += log(m);
    }
    if (has_m && sm == 0)
        logj *= (double)n;
    if (jacobian)
        ps_ad_target_add_const(tape, logj);
    bool adj = u.a != NULL || (has_o && offset.a != NULL) || (has_m && multiplier.a != NULL);
    if (out->a == NULL || !adj)
        return PS_OK;
    affine_node *nd;
    PS_CHECK(ps_ad_node_push(tape, affine_back, sizeof *nd, (void **)&nd));
    *nd = (affine_node){n,
                        so,
                        sm,
                        jacobian,
                        u.v,
                        has_m ? multiplier.v : NULL,
                        u.a,
                        has_o ? offset.a : NULL,
                        has_m ? multiplier.a : NULL,
                        out->a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Simplex (stick-breaking)
 * ------------------------------------------------------------------------------------- */

typedef struct simplex_node {
    size_t K;
    bool jacobian;
    const double *z, *stick; /* K - 1 each */
    double *ua;
    const double *xa;
} simplex_node;

static void simplex_back(void *p)
{
    simplex_node *nd = p;
    size_t K = nd->K;
    double gj = nd->jacobian ? 1.0 : 0.0;
    double stick_bar = nd->xa[K - 1];
    for (size_t k = K - 1; k-- > 0;) {
        /* Forward: x_k = stick_k z_k, stick_{k+1} = stick_k (1 - z_k),
         * log J_k = log stick_k + log z_k + log(1 - z_k). */
        double z = nd->z[k], s = nd->stick[k], xb = nd->xa[k];
        double z_bar = (xb - stick_bar) * s;
        double new_stick_bar = stick_bar * (1.0 - z) + xb * z + gj / s;
        nd->ua[k] += z_bar * z * (1.0 - z) + gj * (1.0 - 2.0 * z);
        stick_bar = new_stick_bar;
    }
}

ps_status ps_ad_simplex_constrain(ps_ad_tape *tape, ps_adv u, bool jacobian, ps_adv *out)
{
    size_t K = ps_adv_size(u) + 1;
    double *x, *z = NULL, *stick = NULL;
    PS_CHECK(ps_ad_result(tape, K, 1, u.var, &x, out));
    bool node = out->a != NULL && u.a != NULL;
    if (node) {
        PS_CHECK(ps_ad_alloc(tape, 2 * (K - 1), &z));
        stick = z + (K - 1);
    }
    double s = 1.0, logj = 0.0;
    for (size_t k = 0; k + 1 < K; k++) {
        double a = u.v[k] - log((double)(K - 1 - k));
        double zk = ps_inv_logit(a);
        x[k] = s * zk;
        logj += log(s) + ps_log_inv_logit(a) + ps_log1m_inv_logit(a);
        if (node) {
            z[k] = zk;
            stick[k] = s;
        }
        s -= x[k];
    }
    x[K - 1] = s;
    if (jacobian)
        ps_ad_target_add_const(tape, logj);
    if (!node)
        return PS_OK;
    simplex_node *nd;
    PS_CHECK(ps_ad_node_push(tape, simplex_back, sizeof *nd, (void **)&nd));
    *nd = (simplex_node){K, jacobian, z, stick, u.a, out->a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Ordered and positive ordered
 * ------------------------------------------------------------------------------------- */

typedef struct ordered_node {
    size_t K;
    bool positive, jacobian;
    const double *uv;
    double *ua;
    const double *xa;
} ordered_node;

static void ordered_back(void *p)
{
    ordered_node *nd = p;
    double gj = nd->jacobian ? 1.0 : 0.0, s = 0.0;
    for (size_t k = nd->K; k-- > 0;) {
        s += nd->xa[k];
        if (k == 0 && !nd->positive)
            nd->ua[0] += s;
        else
            nd->ua[k] += s * exp(nd->uv[k]) + gj;
    }
}

static ps_status ordered(ps_ad_tape *tape, ps_adv u, bool positive, bool jacobian, ps_adv *out)
{
    size_t K = ps_adv_size(u);
    double *x = NULL;
    PS_CHECK(ps_ad_result(tape, K, 1, u.var, &x, out));
    double logj = 0.0;
    for (size_t k = 0; k < K; k++) {
        if (k == 0 && !positive) {
            x[0] = u.v[0];
            continue;
        }
        x[k] = (k > 0 ? x[k - 1] : 0.0) + exp(u.v[k]);
        logj += u.v[k];
    }
    if (jacobian)
        ps_ad_target_add_const(tape, logj);
    if (out->a == NULL || u.a == NULL)
        return PS_OK;
    ordered_node *nd;
    PS_CHECK(ps_ad_node_push(tape, ordered_back, sizeof *nd, (void **)&nd));
    *nd = (ordered_node){K, positive, jacobian, u.v, u.a, out->a};
    return PS_OK;
}

ps_status ps_ad_ordered_constrain(ps_ad_tape *tape, ps_adv u, bool jacobian, ps_adv *out)
{
    return ordered(tape, u, false, jacobian, out);
}

ps_status ps_ad_positive_ordered_constrain(ps_ad_tape *tape, ps_adv u, bool jacobian, ps_adv *out)
{
    return ordered(tape, u, true, jacobian, out);
}

/* ---------------------------------------------------------------------------------------
 * Cholesky factor of a correlation matrix
 * ------------------------------------------------------------------------------------- */

typedef struct corr_node {
    size_t K;
    bool jacobian;
    const double *z, *L; /* z = tanh(u) */
    double *ua;
    const double *La;
} corr_node;

static void corr_back(void *p)
{
    corr_node *nd = p;
    size_t K = nd->K;
    double gj = nd->jacobian ? 1.0 : 0.0;
    const double *L = nd->L, *Lb = nd->La;
    for (size_t i = 1; i < K; i++) {
        size_t k0 = i * (i - 1) / 2;
        /* s_j = sum_{m<j} L[i,m]^2; s_bar for s_i from L[i,i] = sqrt(1 - s_i). */
        double s_i = 0.0;
        for (size_t m = 0; m < i; m++)
            s_i += L[i + m * K] * L[i + m * K];
        double lii = L[i + i * K];
        double s_bar = lii > 0.0 ? -Lb[i + i * K] / (2.0 * lii) : 0.0;
        double s_next = s_i;
        for (size_t j = i; j-- > 0;) {
            double lij = L[i + j * K];
            double s_j = s_next - lij * lij;
            double lb = Lb[i + j * K] + 2.0 * lij * s_bar;
            double w = sqrt(1.0 - s_j), z = nd->z[k0 + j];
            double z_bar = lb * w;
            if (j >= 1) {
                double w_bar = lb * z;
                s_bar += -0.5 * gj / (1.0 - s_j) - w_bar / (2.0 * w);
            }
            nd->ua[k0 + j] += z_bar * (1.0 - z * z) - 2.0 * gj * z;
            s_next = s_j;
        }
    }
}

ps_status ps_ad_cholesky_corr_constrain(ps_ad_tape *tape, ps_adv u, size_t K, bool jacobian,
                                        ps_adv *out)
{
    PS_CHECK(check_size("cholesky_factor_corr transform", u, ps_cholesky_corr_free_size(K)));
    double *L, *z;
    PS_CHECK(ps_ad_result(tape, K, K, u.var, &L, out));
    size_t m = ps_adv_size(u);
    PS_CHECK(ps_ad_alloc(tape, m, &z));
    memset(L, 0, K * K * sizeof(double));
    double logj = 0.0;
    for (size_t k = 0; k < m; k++) {
        z[k] = tanh(u.v[k]);
        /* log(1 - tanh(u)^2) = log(4) - 2 log(e^u + e^-u), formed without cancellation. */
        double a = fabs(u.v[k]);
        logj += 2.0 * PS_LOG_2 - 2.0 * (a + log1p(exp(-2.0 * a)));
    }
    if (K > 0)
        L[0] = 1.0;
    size_t k = 0;
    for (size_t i = 1; i < K; i++) {
        L[i] = z[k++];
        double sum_sqs = L[i] * L[i];
        for (size_t j = 1; j < i; j++) {
            logj += 0.5 * log1p(-sum_sqs);
            L[i + j * K] = z[k++] * sqrt(1.0 - sum_sqs);
            sum_sqs += L[i + j * K] * L[i + j * K];
        }
        L[i + i * K] = sqrt(1.0 - sum_sqs);
    }
    if (jacobian)
        ps_ad_target_add_const(tape, logj);
    if (out->a == NULL || u.a == NULL)
        return PS_OK;
    corr_node *nd;
    PS_CHECK(ps_ad_node_push(tape, corr_back, sizeof *nd, (void **)&nd));
    *nd = (corr_node){K, jacobian, z, L, u.a, out->a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Covariance matrix
 * ------------------------------------------------------------------------------------- */

typedef struct covfill_node {
    size_t K;
    bool jacobian;
    const double *L;
    double *ua;
    const double *La;
} covfill_node;

static void covfill_back(void *p)
{
    covfill_node *nd = p;
    size_t K = nd->K, i = 0;
    for (size_t m = 0; m < K; m++) {
        for (size_t n = 0; n < m; n++)
            nd->ua[i++] += nd->La[m + n * K];
        double d = nd->La[m + m * K] * nd->L[m + m * K];
        if (nd->jacobian)
            d += (double)(K - m + 1);
        nd->ua[i++] += d;
    }
}

ps_status ps_ad_cov_matrix_constrain(ps_ad_tape *tape, ps_adv u, size_t K, bool jacobian,
                                     ps_adv *out)
{
    PS_CHECK(check_size("cov_matrix transform", u, ps_cov_matrix_free_size(K)));
    ps_adv L;
    double *l = NULL;
    PS_CHECK(ps_ad_result(tape, K, K, u.var, &l, &L));
    memset(l, 0, K * K * sizeof(double));
    size_t i = 0;
    double logj = (double)K * PS_LOG_2;
    for (size_t m = 0; m < K; m++) {
        for (size_t n = 0; n < m; n++)
            l[m + n * K] = u.v[i++];
        l[m + m * K] = exp(u.v[i]);
        logj += (double)(K - m + 1) * u.v[i];
        i++;
    }
    if (jacobian)
        ps_ad_target_add_const(tape, logj);
    if (L.a != NULL && u.a != NULL) {
        covfill_node *nd;
        PS_CHECK(ps_ad_node_push(tape, covfill_back, sizeof *nd, (void **)&nd));
        *nd = (covfill_node){K, jacobian, l, u.a, L.a};
    } else if (jacobian && u.a != NULL) {
        return ps_error(PS_ERR_INTERNAL, "cov_matrix transform: inconsistent adjoints");
    }
    PS_CHECK(ps_ad_tcrossprod(tape, L, out));
    /* Make the result exactly symmetric (the product may differ in the last bit). */
    double *x = (double *)out->v;
    for (size_t c = 0; c < K; c++)
        for (size_t r = c + 1; r < K; r++)
            x[c + r * K] = x[r + c * K];
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Inverse transforms
 * ------------------------------------------------------------------------------------- */

ps_status ps_bounds_free(const char *what, const double *x, size_t n, const double *lower,
                         size_t n_lower, const double *upper, size_t n_upper, double *u)
{
    for (size_t i = 0; i < n; i++) {
        double lo = lower ? lower[n_lower == 1 ? 0 : i] : -INFINITY;
        double hi = upper ? upper[n_upper == 1 ? 0 : i] : INFINITY;
        double v = x[i];
        if (isnan(v) || v < lo || v > hi)
            return ps_error(PS_ERR_DATA, "%s[%zu] is %g, outside its bounds [%g, %g]", what, i + 1,
                            v, lo, hi);
        switch (bound_kind(lo, hi)) {
        case B_NONE:
            u[i] = v;
            break;
        case B_LOWER:
            u[i] = log(v - lo);
            break;
        case B_UPPER:
            u[i] = log(hi - v);
            break;
        default:
            u[i] = ps_logit((v - lo) / (hi - lo));
            break;
        }
    }
    return PS_OK;
}

ps_status ps_offset_multiplier_free(const char *what, const double *x, size_t n,
                                    const double *offset, size_t n_offset, const double *multiplier,
                                    size_t n_multiplier, double *u)
{
    for (size_t i = 0; i < n; i++) {
        double o = offset ? offset[n_offset == 1 ? 0 : i] : 0.0;
        double m = multiplier ? multiplier[n_multiplier == 1 ? 0 : i] : 1.0;
        if (!(m > 0.0 && isfinite(m)))
            return ps_error(PS_ERR_DATA, "%s: multiplier is %g, must be positive finite", what, m);
        u[i] = (x[i] - o) / m;
    }
    return PS_OK;
}

ps_status ps_simplex_free(const char *what, const double *x, size_t K, double *u)
{
    double total = 0.0;
    for (size_t k = 0; k < K; k++) {
        if (!(x[k] >= 0.0))
            return ps_error(PS_ERR_DATA, "%s[%zu] is %g, but a simplex has nonnegative elements",
                            what, k + 1, x[k]);
        total += x[k];
    }
    if (K == 0 || fabs(total - 1.0) > 1e-8)
        return ps_error(PS_ERR_DATA, "%s is not a simplex: its elements sum to %.15g", what, total);
    double stick = 1.0;
    for (size_t k = 0; k + 1 < K; k++) {
        double z = x[k] / stick;
        u[k] = ps_logit(z) + log((double)(K - 1 - k));
        stick -= x[k];
    }
    return PS_OK;
}

static ps_status ordered_free(const char *what, const double *x, size_t K, bool positive, double *u)
{
    for (size_t k = 0; k < K; k++) {
        if (k == 0) {
            if (positive && !(x[0] > 0.0))
                return ps_error(PS_ERR_DATA, "%s[1] is %g, but must be positive", what, x[0]);
            u[0] = positive ? log(x[0]) : x[0];
            continue;
        }
        if (!(x[k] > x[k - 1]))
            return ps_error(PS_ERR_DATA,
                            "%s is not ordered: element %zu (%g) is not above element "
                            "%zu (%g)",
                            what, k + 1, x[k], k, x[k - 1]);
        u[k] = log(x[k] - x[k - 1]);
    }
    return PS_OK;
}

ps_status ps_ordered_free(const char *what, const double *x, size_t K, double *u)
{
    return ordered_free(what, x, K, false, u);
}

ps_status ps_positive_ordered_free(const char *what, const double *x, size_t K, double *u)
{
    return ordered_free(what, x, K, true, u);
}

ps_status ps_cholesky_corr_free(const char *what, const double *L, size_t K, double *u)
{
    size_t k = 0;
    for (size_t i = 0; i < K; i++) {
        double sum_sqs = 0.0;
        for (size_t j = 0; j <= i; j++)
            sum_sqs += L[i + j * K] * L[i + j * K];
        if (fabs(sum_sqs - 1.0) > 1e-8 || !(L[i + i * K] > 0.0))
            return ps_error(PS_ERR_DATA,
                            "%s is not a Cholesky factor of a correlation matrix "
                            "(row %zu)",
                            what, i + 1);
        sum_sqs = 0.0;
        for (size_t j = 0; j < i; j++) {
            double z = L[i + j * K] / sqrt(1.0 - sum_sqs);
            if (!(fabs(z) < 1.0))
                return ps_error(PS_ERR_DATA,
                                "%s: partial correlation %g at [%zu,%zu] is not in "
                                "(-1, 1)",
                                what, z, i + 1, j + 1);
            u[k++] = atanh(z);
            sum_sqs += L[i + j * K] * L[i + j * K];
        }
    }
    return PS_OK;
}

ps_status ps_cov_matrix_free(const char *what, const double *sigma, size_t K, double *u)
{
    if (K == 0)
        return PS_OK;
    if (K > 46340)
        return ps_error(PS_ERR_DATA, "%s: matrix too large", what);
    double *L = ps_malloc(K * K * sizeof(double));
    if (L == NULL)
        return ps_error(PS_ERR_MEM, "out of memory inverting the cov_matrix transform of %s", what);
    memcpy(L, sigma, K * K * sizeof(double));
    int n = (int)K, info = 0;
    dpotrf_("L", &n, L, &n, &info, 1);
    if (info != 0) {
        ps_free(L);
        return ps_error(PS_ERR_DATA, "%s is not positive definite", what);
    }
    size_t i = 0;
    for (size_t m = 0; m < K; m++) {
        for (size_t c = 0; c < m; c++)
            u[i++] = L[m + c * K];
        u[i++] = log(L[m + m * K]);
    }
    ps_free(L);
    return PS_OK;
}
