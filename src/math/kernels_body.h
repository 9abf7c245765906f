/*
 * Kernel bodies, included twice by kernels.c: once for the baseline instruction set and
 * once with KERN_ATTR = target("avx2") (dispatched at run time). KERN(name) makes the
 * variant's name. Every loop uses the same operations in the same order in both variants
 * (no FMA contraction, fixed accumulator lanes), so both give bit-identical results; the
 * wider variant only executes more lanes at once. kernels.c is compiled with
 * -fno-trapping-math, which lets gcc turn the selects below into vector blends.
 */

KERN_ATTR static inline v4d KERN(load4_)(const double *p)
{
    v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}
#define load4 KERN(load4_)

/* exp(v), see ps_kern_exp in kernels.h for the method. */
KERN_ATTR static inline double KERN(exp1)(double v)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    const uint64_t shift_bits = 0x4338000000000000ull;
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01; /* fdlibm: 21 trailing zero bits */
    const double ln2_lo = 1.90821492927058770002e-10;
    double vc = v < -746.0 ? -746.0 : v;
    vc = vc > 710.0 ? 710.0 : vc;
    double kd = vc * log2e + shift;
    kd -= shift;
    double r = (vc - kd * ln2_hi) - kd * ln2_lo;
    /* exp(r) = sum_{j<=13} r^j / j!, evaluated by Estrin's scheme (short dependency
     * chains, so independent elements overlap in the pipeline). */
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double p01 = 1.0 + r, p23 = 0.5 + r * (1.0 / 6.0);
    double p45 = 1.0 / 24.0 + r * (1.0 / 120.0), p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    double p89 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    double p1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    double p1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    double q0 = p01 + r2 * p23, q1 = p45 + r2 * p67, q2 = p89 + r2 * p1011;
    double e0 = q0 + r4 * q1, e1 = q2 + r4 * p1213;
    double p = e0 + r8 * e1;
    /* 2^k = 2^k1 2^k2 with k1 = round(k / 2): both factors are normal numbers. */
    double k1d = (kd * 0.5 + shift) - shift;
    double k2d = kd - k1d;
    uint64_t k1 = bits_of(k1d + shift) - shift_bits;
    uint64_t k2 = bits_of(k2d + shift) - shift_bits;
    double s1 = double_of((k1 + 1023u) << 52);
    double s2 = double_of((k2 + 1023u) << 52);
    double e = p * s1 * s2;
    e = v > 709.782712893383973 ? INFINITY : e;
    e = v < -745.1332191019412 ? 0.0 : e;
    return v != v ? v : e;
}

/* exp(v) for v <= 0, as exp1 but with v clamped below at -708 (results under 2.2e-308
 * become 3.3e-308; callers use it where such a value is lost in a sum with 1) and 2^k in
 * one factor: fewer operations for the logistic terms. */
KERN_ATTR static inline double KERN(exp_neg1)(double v)
{
    const double shift = 6755399441055744.0;
    const uint64_t shift_bits = 0x4338000000000000ull;
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    double vc = v < -708.0 ? -708.0 : v;
    double kd = vc * log2e + shift;
    kd -= shift;
    double r = (vc - kd * ln2_hi) - kd * ln2_lo;
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double p01 = 1.0 + r, p23 = 0.5 + r * (1.0 / 6.0);
    double p45 = 1.0 / 24.0 + r * (1.0 / 120.0), p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    double p89 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    double p1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    double p1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    double q0 = p01 + r2 * p23, q1 = p45 + r2 * p67, q2 = p89 + r2 * p1011;
    double e0 = q0 + r4 * q1, e1 = q2 + r4 * p1213;
    double p = e0 + r8 * e1;
    uint64_t k = bits_of(kd + shift) - shift_bits;
    return p * double_of((k + 1023u) << 52);
}

KERN_ATTR static void KERN(exp)(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = KERN(exp1)(x[i]);
}

KERN_ATTR static double KERN(dot)(size_t n, const double *x, const double *y)
{
    v4d acc = {0, 0, 0, 0}, acc2 = acc;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        acc += load4(x + i) * load4(y + i);
        acc2 += load4(x + i + 4) * load4(y + i + 4);
    }
    for (; i < n; i++)
        acc[0] += x[i] * y[i];
    acc += acc2;
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

KERN_ATTR static void KERN(axpy)(size_t n, double a, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* y += X[:, k] beta[k] over k for an n-row block of a column-major matrix (leading
 * dimension ld). Rows are taken 16 at a time with their sums in four vector registers
 * across all K columns (no traffic on y inside the column loop); y[i] receives
 * y[i] + (((X[i,0] b0 + X[i,1] b1) + ...) + X[i,K-1] b_{K-1}) in every variant. */
KERN_ATTR static void KERN(gemv_n)(size_t n, size_t K, const double *X, size_t ld,
                                   const double *beta, double *y)
{
    if (K == 0)
        return;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const double *x = X + i;
        v4d b = SPLAT(beta[0]);
        v4d a0 = load4(x) * b, a1 = load4(x + 4) * b, a2 = load4(x + 8) * b, a3 = load4(x + 12) * b;
        for (size_t k = 1; k < K; k++) {
            x += ld;
            b = SPLAT(beta[k]);
            a0 += load4(x) * b;
            a1 += load4(x + 4) * b;
            a2 += load4(x + 8) * b;
            a3 += load4(x + 12) * b;
        }
        v4d y0 = load4(y + i) + a0, y1 = load4(y + i + 4) + a1, y2 = load4(y + i + 8) + a2,
            y3 = load4(y + i + 12) + a3;
        memcpy(y + i, &y0, sizeof y0);
        memcpy(y + i + 4, &y1, sizeof y1);
        memcpy(y + i + 8, &y2, sizeof y2);
        memcpy(y + i + 12, &y3, sizeof y3);
    }
    for (; i < n; i++) {
        double acc = K > 0 ? X[i] * beta[0] : 0.0;
        for (size_t k = 1; k < K; k++)
            acc += X[i + k * ld] * beta[k];
        y[i] += acc;
    }
}

/* g[k] += X[:, k] . d over k, four columns at a time (d is loaded once for four). Each
 * column's sum runs in eight interleaved lanes (two vectors, so consecutive additions
 * do not wait on each other). */
KERN_ATTR static void KERN(gemv_t)(size_t n, size_t K, const double *X, size_t ld, const double *d,
                                   double *g)
{
    size_t k = 0;
    for (; k + 4 <= K; k += 4) {
        const double *x0 = X + k * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        v4d a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            v4d dv = load4(d + i), dw = load4(d + i + 4);
            a0 += load4(x0 + i) * dv;
            a1 += load4(x1 + i) * dv;
            a2 += load4(x2 + i) * dv;
            a3 += load4(x3 + i) * dv;
            b0 += load4(x0 + i + 4) * dw;
            b1 += load4(x1 + i + 4) * dw;
            b2 += load4(x2 + i + 4) * dw;
            b3 += load4(x3 + i + 4) * dw;
        }
        for (; i < n; i++) {
            a0[0] += x0[i] * d[i];
            a1[0] += x1[i] * d[i];
            a2[0] += x2[i] * d[i];
            a3[0] += x3[i] * d[i];
        }
        a0 += b0;
        a1 += b1;
        a2 += b2;
        a3 += b3;
        g[k] += (a0[0] + a0[1]) + (a0[2] + a0[3]);
        g[k + 1] += (a1[0] + a1[1]) + (a1[2] + a1[3]);
        g[k + 2] += (a2[0] + a2[1]) + (a2[2] + a2[3]);
        g[k + 3] += (a3[0] + a3[1]) + (a3[2] + a3[3]);
    }
    for (; k < K; k++)
        g[k] += KERN(dot)(n, X + k * ld, d);
}

/* Sum and product of n values in four interleaved lanes. */
KERN_ATTR static double KERN(sum4)(size_t n, const double *x)
{
    v4d s = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        s += load4(x + i);
    for (; i < n; i++)
        s[0] += x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* exp_neg1 on four lanes at once (the same operations, lane by lane). */
KERN_ATTR static inline v4d KERN(exp_neg4)(v4d v)
{
    const v4d shift = SPLAT(6755399441055744.0), lo = SPLAT(-708.0);
    const v4i shift_bits = {0x4338000000000000ll, 0x4338000000000000ll, 0x4338000000000000ll,
                            0x4338000000000000ll};
    const v4i bias = {1023, 1023, 1023, 1023};
    v4i below = v < lo;
    v4d vc = (v4d)(((v4i)v & ~below) | ((v4i)lo & below));
    v4d kd = vc * SPLAT(1.4426950408889634074) + shift;
    kd -= shift;
    v4d r = (vc - kd * SPLAT(6.93147180369123816490e-01)) - kd * SPLAT(1.90821492927058770002e-10);
    v4d r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    v4d p01 = SPLAT(1.0) + r, p23 = SPLAT(0.5) + r * SPLAT(1.0 / 6.0);
    v4d p45 = SPLAT(1.0 / 24.0) + r * SPLAT(1.0 / 120.0);
    v4d p67 = SPLAT(1.0 / 720.0) + r * SPLAT(1.0 / 5040.0);
    v4d p89 = SPLAT(1.0 / 40320.0) + r * SPLAT(1.0 / 362880.0);
    v4d p1011 = SPLAT(1.0 / 3628800.0) + r * SPLAT(1.0 / 39916800.0);
    v4d p1213 = SPLAT(1.0 / 479001600.0) + r * SPLAT(1.0 / 6227020800.0);
    v4d q0 = p01 + r2 * p23, q1 = p45 + r2 * p67, q2 = p89 + r2 * p1011;
    v4d e0 = q0 + r4 * q1, e1 = q2 + r4 * p1213;
    v4d p = e0 + r8 * e1;
    v4i k = (v4i)(kd + shift) - shift_bits;
    return p * (v4d)((k + bias) << 52);
}

/* Normal terms with a scalar scale: z = (y - mu) inv; returns sum z^2; dy[i] -= z inv and
 * dmu[i] += z inv when given. y and mu have strides 0 (broadcast) or 1; a broadcast
 * operand must come with a NULL derivative (the caller handles var scalars). */
KERN_ATTR static double KERN(normal_sq)(size_t n, const double *y, size_t sy, const double *mu,
                                        size_t sm, double inv, double *dy, double *dmu)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    if (sy == 1 && sm == 1) {
        for (; i + 4 <= n; i += 4) {
            for (size_t l = 0; l < 4; l++) {
                double z = (y[i + l] - mu[i + l]) * inv;
                acc[l] += z * z;
                if (dmu != NULL)
                    dmu[i + l] += z * inv;
                if (dy != NULL)
                    dy[i + l] -= z * inv;
            }
        }
    } else if (sy == 0 && sm == 1) {
        for (; i + 4 <= n; i += 4) {
            for (size_t l = 0; l < 4; l++) {
                double z = (y[0] - mu[i + l]) * inv;
                acc[l] += z * z;
                if (dmu != NULL)
                    dmu[i + l] += z * inv;
            }
        }
    } else if (sy == 1 && sm == 0) {
        for (; i + 4 <= n; i += 4) {
            for (size_t l = 0; l < 4; l++) {
                double z = (y[i + l] - mu[0]) * inv;
                acc[l] += z * z;
                if (dy != NULL)
                    dy[i + l] -= z * inv;
            }
        }
    }
    for (; i < n; i++) {
        double z = (y[i * sy] - mu[i * sm]) * inv;
        acc[0] += z * z;
        if (dmu != NULL)
            dmu[i] += z * inv;
        if (dy != NULL)
            dy[i] -= z * inv;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* exp1 on four lanes at once (the same operations, lane by lane). */
KERN_ATTR static inline v4d KERN(exp4)(v4d v)
{
    const v4d shift = SPLAT(6755399441055744.0);
    const v4i shift_bits = {0x4338000000000000ll, 0x4338000000000000ll, 0x4338000000000000ll,
                            0x4338000000000000ll};
    const v4i bias = {1023, 1023, 1023, 1023};
    v4i lo = v<SPLAT(-746.0), hi = v> SPLAT(710.0);
    v4d vc = (v4d)(((v4i)v & ~(lo | hi)) | ((v4i)SPLAT(-746.0) & lo) | ((v4i)SPLAT(710.0) & hi));
    v4d kd = vc * SPLAT(1.4426950408889634074) + shift;
    kd -= shift;
    v4d r = (vc - kd * SPLAT(6.93147180369123816490e-01)) - kd * SPLAT(1.90821492927058770002e-10);
    v4d r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    v4d p01 = SPLAT(1.0) + r, p23 = SPLAT(0.5) + r * SPLAT(1.0 / 6.0);
    v4d p45 = SPLAT(1.0 / 24.0) + r * SPLAT(1.0 / 120.0);
    v4d p67 = SPLAT(1.0 / 720.0) + r * SPLAT(1.0 / 5040.0);
    v4d p89 = SPLAT(1.0 / 40320.0) + r * SPLAT(1.0 / 362880.0);
    v4d p1011 = SPLAT(1.0 / 3628800.0) + r * SPLAT(1.0 / 39916800.0);
    v4d p1213 = SPLAT(1.0 / 479001600.0) + r * SPLAT(1.0 / 6227020800.0);
    v4d q0 = p01 + r2 * p23, q1 = p45 + r2 * p67, q2 = p89 + r2 * p1011;
    v4d e0 = q0 + r4 * q1, e1 = q2 + r4 * p1213;
    v4d p = e0 + r8 * e1;
    v4d k1d = (kd * SPLAT(0.5) + shift) - shift;
    v4d k2d = kd - k1d;
    v4i k1 = (v4i)(k1d + shift) - shift_bits, k2 = (v4i)(k2d + shift) - shift_bits;
    v4d e = p * (v4d)((k1 + bias) << 52) * (v4d)((k2 + bias) << 52);
    v4i over = v > SPLAT(709.782712893383973), under = v < SPLAT(-745.1332191019412), nan = v != v;
    e = (v4d)(((v4i)e & ~over) | ((v4i)SPLAT(INFINITY) & over));
    e = (v4d)((v4i)e & ~under);
    return (v4d)(((v4i)e & ~nan) | ((v4i)v & nan));
}

/* Rows per strip of the fused GLM pass: eight vector accumulators, enough independent
 * additions to keep both adders busy. */
#define GLM_STRIP 32

/* One GLM row for the scalar tail: eta, the row's term, d. */
KERN_ATTR static inline double KERN(glm_row)(int family, double t, int yv, double *d)
{
    double y = (double)yv;
    if (family == 0) {
        double e = KERN(exp_neg1)(-fabs(t));
        double r = 1.0 / (1.0 + e);
        *d = y - (t >= 0.0 ? r : e * r);
        return y * t - (t > 0.0 ? t : 0.0) - log1p(e);
    }
    double e = KERN(exp1)(t);
    *d = y - e;
    return (y == 0.0 ? 0.0 : y * t) - e;
}

/*
 * A whole bernoulli-logit (family 0) or poisson-log (family 1) GLM pass, fused by strips of
 * GLM_STRIP rows: eta for the strip (X read from memory once, into L1), the strip's terms and
 * d = d term / d eta, then X_strip^T d into per-column four-lane accumulators G (4 K
 * doubles of scratch). Returns the sum of the terms; d[i] is stored if d is not NULL,
 * sum(d) added to *d_sum if not NULL, and X^T d added to g if not NULL.
 */
KERN_ATTR static double KERN(glm)(int family, size_t n, size_t K, const double *X, size_t ld,
                                  const double *alpha, size_t sa, const double *beta, const int *y,
                                  double *d, double *d_sum, double *g, double *G)
{
    const v4d one = SPLAT(1.0), zero = SPLAT(0.0);
    const v4i sign = {0x7fffffffffffffffll, 0x7fffffffffffffffll, 0x7fffffffffffffffll,
                      0x7fffffffffffffffll};
    if (g != NULL)
        memset(G, 0, 4 * K * sizeof(double));
    v4d part = zero, prod = one, dsum = zero;
    double log1p_sum = 0.0;
    size_t strips = 0, i = 0;
    for (; i + GLM_STRIP <= n && K > 0; i += GLM_STRIP) {
        const double *x = X + i;
        v4d b = SPLAT(beta[0]);
        v4d t[GLM_STRIP / 4];
        for (int j = 0; j < GLM_STRIP / 4; j++)
            t[j] = load4(x + 4 * j) * b;
        for (size_t k = 1; k < K; k++) {
            x += ld;
            b = SPLAT(beta[k]);
            for (int j = 0; j < GLM_STRIP / 4; j++)
                t[j] += load4(x + 4 * j) * b;
        }
        v4d dv[GLM_STRIP / 4];
        for (int j = 0; j < GLM_STRIP / 4; j++) {
            v4d a = sa ? load4(alpha + i + 4 * j) : SPLAT(alpha[0]);
            t[j] = a + t[j];
            v4si yi;
            memcpy(&yi, y + i + 4 * j, sizeof yi);
            v4d yv = __builtin_convertvector(yi, v4d);
            if (family == 0) {
                v4d e = KERN(exp_neg4)(-(v4d)((v4i)t[j] & sign));
                v4d r = one / (one + e);
                v4i pos = t[j] > zero, nonneg = t[j] >= zero;
                part += yv * t[j] - (v4d)((v4i)t[j] & pos);
                dv[j] = yv - (v4d)(((v4i)r & nonneg) | ((v4i)(e * r) & ~nonneg));
                prod *= one + e;
            } else {
                v4d e = KERN(exp4)(t[j]);
                v4i y0 = yv == zero;
                part += (v4d)((v4i)(yv * t[j]) & ~y0) - e;
                dv[j] = yv - e;
            }
            dsum += dv[j];
            if (d != NULL)
                memcpy(d + i + 4 * j, &dv[j], sizeof dv[j]);
        }
        if (family == 0 && ++strips == 2048 / GLM_STRIP) {
            /* Fold the lane products (each of 512 factors in (1, 2], so at most 2^512)
             * into the log sum, lane by lane: their product can overflow. */
            log1p_sum += (log(prod[0]) + log(prod[1])) + (log(prod[2]) + log(prod[3]));
            prod = one;
            strips = 0;
        }
        if (g != NULL) {
            x = X + i;
            for (size_t k = 0; k < K; k++, x += ld) {
                /* Two half sums, so the additions form two short chains. */
                v4d h0 = load4(x) * dv[0], h1 = load4(x + 4) * dv[1];
                for (int j = 2; j < GLM_STRIP / 4; j += 2) {
                    h0 += load4(x + 4 * j) * dv[j];
                    h1 += load4(x + 4 * j + 4) * dv[j + 1];
                }
                v4d acc = load4(G + 4 * k) + (h0 + h1);
                memcpy(G + 4 * k, &acc, sizeof acc);
            }
        }
    }
    double total = (part[0] + part[1]) + (part[2] + part[3]);
    if (family == 0)
        total -= log1p_sum + ((log(prod[0]) + log(prod[1])) + (log(prod[2]) + log(prod[3])));
    double tail_dsum = 0.0;
    for (; i < n; i++) {
        double t = sa ? alpha[i] : alpha[0], acc = 0.0, di;
        for (size_t k = 0; k < K; k++)
            acc += X[i + k * ld] * beta[k];
        t = t + acc;
        total += KERN(glm_row)(family, t, y[i], &di);
        tail_dsum += di;
        if (d != NULL)
            d[i] = di;
        if (g != NULL)
            for (size_t k = 0; k < K; k++)
                G[4 * k] += X[i + k * ld] * di;
    }
    if (d_sum != NULL)
        *d_sum += ((dsum[0] + dsum[1]) + (dsum[2] + dsum[3])) + tail_dsum;
    if (g != NULL)
        for (size_t k = 0; k < K; k++)
            g[k] += (G[4 * k] + G[4 * k + 1]) + (G[4 * k + 2] + G[4 * k + 3]);
    return total;
}

/* The lanes of v that fail the check, as all-ones masks. Ordered comparisons with NaN are
 * false, so NaN fails every check but NOT_NAN's own. */
KERN_ATTR static inline v4i KERN(fails4)(ps_kern_check kind, v4d v)
{
    const v4d zero = SPLAT(0.0);
    switch (kind) {
    case PS_KERN_FINITE:
        return ~((v - v) == zero);
    case PS_KERN_NOT_NAN:
        return ~(v == v);
    case PS_KERN_POSITIVE:
        return ~(v > zero);
    case PS_KERN_POSITIVE_FINITE:
        return ~((v > zero) & ((v - v) == zero));
    case PS_KERN_NONNEGATIVE:
        return ~(v >= zero);
    default:
        return ~((v >= zero) & (v <= SPLAT(1.0)));
    }
}

/* One loop per kind, so that the switch is outside the loop. */
#define ALL_PASS_LOOP(K)                                                                           \
    for (; i + 4 <= n; i += 4)                                                                     \
        bad |= KERN(fails4)(K, load4(x + i));                                                      \
    break

KERN_ATTR static bool KERN(all_pass)(ps_kern_check kind, size_t n, const double *x)
{
    v4i bad = {0, 0, 0, 0};
    size_t i = 0;
    switch (kind) {
    case PS_KERN_FINITE:
        ALL_PASS_LOOP(PS_KERN_FINITE);
    case PS_KERN_NOT_NAN:
        ALL_PASS_LOOP(PS_KERN_NOT_NAN);
    case PS_KERN_POSITIVE:
        ALL_PASS_LOOP(PS_KERN_POSITIVE);
    case PS_KERN_POSITIVE_FINITE:
        ALL_PASS_LOOP(PS_KERN_POSITIVE_FINITE);
    case PS_KERN_NONNEGATIVE:
        ALL_PASS_LOOP(PS_KERN_NONNEGATIVE);
    default:
        ALL_PASS_LOOP(PS_KERN_PROBABILITY);
    }
    if (i < n) {
        /* The tail, padded with a value that passes every check. */
        v4d tail = SPLAT(0.5);
        memcpy(&tail, x + i, (n - i) * sizeof(double));
        bad |= KERN(fails4)(kind, tail);
    }
    return (bad[0] | bad[1] | bad[2] | bad[3]) == 0;
}
#undef ALL_PASS_LOOP

#undef load4
