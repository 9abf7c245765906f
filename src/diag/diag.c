/*
 * Convergence diagnostics: R-hat, ESS, MCSE, quantiles, nested R-hat (see diag.h for the
 * definitions and the conventions of the R package posterior 1.4.0 that are matched).
 *
 * Every diagnostic follows the same path: the draws are split and transformed (folding,
 * quantile indicators, deviations from the mean; or rank-normalised, from one sort of all
 * draws) into the workspace's `values` array of n_split split chains of `half` draws
 * each; then analyze_split() checks for constant values and computes split-chain moments
 * (R-hat) and autocovariances (ESS).
 */
#include "diag/diag.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "diag/diag_impl.h"

struct ps_diag_workspace {
    size_t max_chains, max_draws;
    size_t max_total;                /* max_chains * max_draws */
    size_t max_half;                 /* split-chain length for max_draws */
    size_t fft_max;                  /* power of two >= 2 * max_half */
    double *values;                  /* max_total: the split (transformed) values being analysed */
    double *sorted;                  /* max_total: sorted copy of all draws (quantiles) */
    double *scratch;                 /* max_total: merge scratch for sorted */
    ps_diag_rank_pair *pairs;        /* max_total: (value, index) for ranking */
    ps_diag_rank_pair *pair_scratch; /* max_total */
    size_t *radix_counts;            /* PS_DIAG_RADIX_COUNTS: digit histograms */
    double *z_table;  /* max_total: normal scores of untied ranks 1..z_table_n, NAN if unset */
    size_t z_table_n; /* number of values the table is for (0: none yet) */
    double *fft;      /* 2 * fft_max: interleaved complex FFT buffer */
    double *spectrum; /* fft_max: power spectrum summed over split chains */
    double *twiddle;  /* 2 * fft_max: twiddle factors of every level up to fft_max */
    double *acov;     /* max_half: autocovariances summed over split chains */
    double *rho;      /* max_half: autocorrelation estimates (Geyer) */
    double *means;    /* 2 * max_chains: split-chain means */
    double *vars;     /* 2 * max_chains: split-chain variances */
};

/* ---------------------------------------------------------------------------------------
 * Workspace
 * ------------------------------------------------------------------------------------- */

size_t ps_diag_split_length(size_t n_draws, size_t *per_chain)
{
    /* posterior's split_chains(): the first floor(n/2) and the last floor(n/2) draws; an odd
     * middle draw belongs to neither half. One draw is not split. */
    size_t per = n_draws >= 2 ? 2 : 1;
    if (per_chain != NULL)
        *per_chain = per;
    return n_draws >= 2 ? n_draws / 2 : n_draws;
}

ps_status ps_diag_workspace_create(size_t max_chains, size_t max_draws, ps_diag_workspace **ws)
{
    *ws = NULL;
    if (max_chains == 0 || max_draws == 0)
        return ps_error(PS_ERR_USAGE,
                        "diagnostics workspace needs at least one chain and one "
                        "draw (got %zu chains, %zu draws)",
                        max_chains, max_draws);
    size_t total, chains2;
    if (!ps_size_mul(max_chains, max_draws, &total) || !ps_size_mul(max_chains, 2, &chains2))
        return ps_error(PS_ERR_MEM,
                        "diagnostics workspace for %zu chains of %zu draws: size "
                        "overflow",
                        max_chains, max_draws);
    size_t half = ps_diag_split_length(max_draws, NULL);
    size_t fft_max = 2;
    while (fft_max < 2 * half) {
        if (fft_max > SIZE_MAX / 4)
            return ps_error(PS_ERR_MEM, "diagnostics workspace for %zu draws: FFT size overflow",
                            max_draws);
        fft_max *= 2;
    }
    ps_diag_workspace *w = ps_calloc(1, sizeof *w);
    if (w == NULL)
        return ps_error(PS_ERR_MEM, "out of memory allocating a diagnostics workspace");
    ps_status status = PS_OK;
    w->max_chains = max_chains;
    w->max_draws = max_draws;
    w->max_total = total;
    w->max_half = half;
    w->fft_max = fft_max;
    PS_TRY(ps_alloc_array(&w->values, total, sizeof *w->values, "diagnostics values"));
    PS_TRY(ps_alloc_array(&w->sorted, total, sizeof *w->sorted, "diagnostics sorted draws"));
    PS_TRY(ps_alloc_array(&w->scratch, total, sizeof *w->scratch, "diagnostics sort scratch"));
    PS_TRY(ps_alloc_array(&w->pairs, total, sizeof *w->pairs, "diagnostics ranks"));
    PS_TRY(ps_alloc_array(&w->pair_scratch, total, sizeof *w->pair_scratch,
                          "diagnostics rank scratch"));
    PS_TRY(ps_alloc_array(&w->radix_counts, PS_DIAG_RADIX_COUNTS, sizeof *w->radix_counts,
                          "diagnostics sort counts"));
    PS_TRY(ps_alloc_array(&w->z_table, total, sizeof *w->z_table, "diagnostics normal scores"));
    PS_TRY(ps_alloc_array(&w->fft, 2 * fft_max, sizeof *w->fft, "diagnostics FFT buffer"));
    PS_TRY(ps_alloc_array(&w->spectrum, fft_max, sizeof *w->spectrum, "diagnostics spectrum"));
    PS_TRY(ps_alloc_array(&w->twiddle, 2 * fft_max, sizeof *w->twiddle, "diagnostics twiddles"));
    PS_TRY(ps_alloc_array(&w->acov, half, sizeof *w->acov, "diagnostics autocovariances"));
    PS_TRY(ps_alloc_array(&w->rho, half, sizeof *w->rho, "diagnostics autocorrelations"));
    PS_TRY(ps_alloc_array(&w->means, chains2, sizeof *w->means, "diagnostics chain means"));
    PS_TRY(ps_alloc_array(&w->vars, chains2, sizeof *w->vars, "diagnostics chain variances"));
    ps_diag_fft_twiddles(w->twiddle, fft_max);
    *ws = w;
    return PS_OK;
done:
    ps_diag_workspace_destroy(&w);
    return status;
}

void ps_diag_workspace_destroy(ps_diag_workspace **ws)
{
    if (ws == NULL || *ws == NULL)
        return;
    ps_diag_workspace *w = *ws;
    ps_free(w->values);
    ps_free(w->sorted);
    ps_free(w->scratch);
    ps_free(w->pairs);
    ps_free(w->pair_scratch);
    ps_free(w->radix_counts);
    ps_free(w->z_table);
    ps_free(w->fft);
    ps_free(w->spectrum);
    ps_free(w->twiddle);
    ps_free(w->acov);
    ps_free(w->rho);
    ps_free(w->means);
    ps_free(w->vars);
    ps_free(w);
    *ws = NULL;
}

bool ps_diag_workspace_fits(const ps_diag_workspace *ws, size_t n_chains, size_t n_draws)
{
    return ws != NULL && n_chains >= 1 && n_draws >= 1 && n_chains <= ws->max_chains &&
           n_draws <= ws->max_draws;
}

/* ---------------------------------------------------------------------------------------
 * Elementary statistics, computed as R does (two passes) so that results agree to rounding.
 * ------------------------------------------------------------------------------------- */

/* Sums below use four partial sums: the additions are then independent enough to keep
 * the floating-point pipeline busy (a single running sum is bound by the adder's
 * latency), and the result is as accurate. The order is fixed, so results are
 * reproducible. */

/* sum_i (x_i - shift) */
static double sum_shifted(const double *x, size_t n, double shift)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i] - shift;
        s1 += x[i + 1] - shift;
        s2 += x[i + 2] - shift;
        s3 += x[i + 3] - shift;
    }
    for (; i < n; i++)
        s0 += x[i] - shift;
    return (s0 + s1) + (s2 + s3);
}

/* sum_i (x_i - shift)^2 */
static double sum_sq_shifted(const double *x, size_t n, double shift)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        double d0 = x[i] - shift, d1 = x[i + 1] - shift, d2 = x[i + 2] - shift,
               d3 = x[i + 3] - shift;
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++)
        s0 += (x[i] - shift) * (x[i] - shift);
    return (s0 + s1) + (s2 + s3);
}

/* The mean with R's refinement: sum / n, then the mean of the residuals added back. */
static double mean_of(const double *x, size_t n)
{
    double mean = sum_shifted(x, n, 0.0) / (double)n;
    if (isfinite(mean))
        mean += sum_shifted(x, n, mean) / (double)n;
    return mean;
}

/* The sample variance (n - 1 denominator) about a given mean; NAN for n < 2. */
static double var_about(const double *x, size_t n, double mean)
{
    if (n < 2)
        return NAN;
    return sum_sq_shifted(x, n, mean) / (double)(n - 1);
}

static bool all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

/* posterior's is_constant(): max - min below the machine epsilon (an absolute tolerance). */
static bool is_constant(const double *x, size_t n)
{
    double lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < lo)
            lo = x[i];
        if (x[i] > hi)
            hi = x[i];
    }
    return fabs(hi - lo) < DBL_EPSILON;
}

/* The type-7 quantile of sorted values, written as R's quantile.default computes it:
 * index = 1 + (n - 1) prob, lo = floor(index), and (1 - h) x[lo] + h x[lo + 1] with
 * h = index - lo when the neighbours differ. */
static double quantile_sorted(const double *sorted, size_t n, double prob)
{
    double index = 1.0 + (double)(n - 1) * prob;
    double lo = floor(index), hi = ceil(index);
    size_t ilo = (size_t)lo - 1, ihi = (size_t)hi - 1;
    double q = sorted[ilo];
    if (index > lo && sorted[ihi] != q) {
        double h = index - lo;
        q = (1.0 - h) * q + h * sorted[ihi];
    }
    return q;
}

/* ---------------------------------------------------------------------------------------
 * Splitting and transforming
 * ------------------------------------------------------------------------------------- */

typedef enum transform {
    TRANSFORM_NONE,    /* x */
    TRANSFORM_ABS_DEV, /* |x - param| */
    TRANSFORM_SQ_DEV,  /* (x - param)^2 */
    TRANSFORM_AT_MOST  /* 1 if x <= param, else 0 */
} transform;

static double apply_transform(transform t, double x, double param)
{
    switch (t) {
    case TRANSFORM_ABS_DEV:
        return fabs(x - param);
    case TRANSFORM_SQ_DEV:
        return (x - param) * (x - param);
    case TRANSFORM_AT_MOST:
        return x <= param ? 1.0 : 0.0;
    case TRANSFORM_NONE:
        break;
    }
    return x;
}

/* Writes the transformed split chains to out (split chain j at out[j * half]); returns the
 * number of split values. Split chain 2c is the first half of chain c, 2c + 1 the second. */
static size_t gather_split(const double *draws, size_t n_chains, size_t n_draws, transform t,
                           double param, double *out)
{
    size_t per;
    size_t half = ps_diag_split_length(n_draws, &per);
    size_t k = 0;
    for (size_t c = 0; c < n_chains; c++) {
        for (size_t h = 0; h < per; h++) {
            const double *src = draws + c * n_draws + (h == 0 ? 0 : n_draws - half);
            for (size_t i = 0; i < half; i++)
                out[k++] = apply_transform(t, src[i], param);
        }
    }
    return k;
}

/* ---------------------------------------------------------------------------------------
 * Rank normalisation
 *
 * All draws are sorted once per call (sort_all); the ranks of the split draws and those of
 * the folded split draws are both read off that order in linear time, so a call sorts
 * once however many rank-based diagnostics it computes.
 * ------------------------------------------------------------------------------------- */

/* Marks the middle draw of an odd chain, which the split leaves out. */
#define NOT_SPLIT SIZE_MAX

/* Sorts all draws into ws->pairs as (value, position among the split draws or NOT_SPLIT)
 * and copies the sorted values to ws->sorted (for quantiles). */
static void sort_all(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws)
{
    size_t per;
    size_t half = ps_diag_split_length(n_draws, &per);
    ps_diag_rank_pair *pairs = ws->pairs;
    size_t k = 0;
    for (size_t c = 0; c < n_chains; c++) {
        for (size_t i = 0; i < n_draws; i++, k++) {
            size_t pos = NOT_SPLIT;
            if (per == 1)
                pos = c;
            else if (i < half)
                pos = 2 * c * half + i;
            else if (i >= n_draws - half)
                pos = (2 * c + 1) * half + (i - (n_draws - half));
            pairs[k].value = draws[k];
            pairs[k].index = pos;
        }
    }
    ps_diag_sort_pairs(pairs, ws->pair_scratch, k, ws->radix_counts);
    for (size_t i = 0; i < k; i++)
        ws->sorted[i] = pairs[i].value;
}

/* The normal score of the average rank `rank` among n values. */
static double normal_score(double rank, size_t n)
{
    return ps_diag_qnorm((rank - 0.375) / ((double)n + 0.25));
}

/* Writes to values[ordered[i].index] the rank-normalised score of the n values in
 * `ordered`, which are in non-decreasing order (Vehtari et al. 2021, eq. 14): average ranks
 * r (ties share the mean of their ranks, as R's rank()), z = Phi^-1((r - 3/8) / (n + 1/4)).
 * The scores of untied ranks depend only on n, so they are kept in the workspace and
 * computed at most once per rank while n stays the same (the bulk and folded scores of
 * one call, and the many parameters of an online check, share them). */
static void assign_scores(ps_diag_workspace *ws, const ps_diag_rank_pair *ordered, size_t n,
                          double *values)
{
    if (ws->z_table_n != n) {
        for (size_t i = 0; i < n; i++)
            ws->z_table[i] = NAN;
        ws->z_table_n = n;
    }
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j + 1 < n && ordered[j + 1].value == ordered[i].value)
            j++;
        double z;
        if (j == i) {
            if (isnan(ws->z_table[i]))
                ws->z_table[i] = normal_score((double)(i + 1), n);
            z = ws->z_table[i];
        } else {
            /* Positions i..j (0-based) share the average of the ranks i+1..j+1. */
            z = normal_score(0.5 * ((double)(i + 1) + (double)(j + 1)), n);
        }
        for (size_t k = i; k <= j; k++)
            values[ordered[k].index] = z;
        i = j + 1;
    }
}

/* Rank-normalised split draws into ws->values, from the order of sort_all(). */
static void bulk_scores(ps_diag_workspace *ws, size_t n)
{
    ps_diag_rank_pair *ordered = ws->pair_scratch;
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (ws->pairs[k].index != NOT_SPLIT)
            ordered[m++] = ws->pairs[k];
    assign_scores(ws, ordered, m, ws->values);
}

/* Rank-normalised folded split draws |x - median| into ws->values, from the order of
 * sort_all(): walking down from the median through the draws below it and up through
 * those above it gives two non-decreasing sequences of |x - median| (subtraction and fabs
 * are monotone in floating point), and merging them orders the folded draws without
 * another sort. */
static void folded_scores(ps_diag_workspace *ws, size_t n, double median)
{
    const ps_diag_rank_pair *pairs = ws->pairs;
    ps_diag_rank_pair *ordered = ws->pair_scratch;
    size_t split = 0;
    while (split < n && pairs[split].value <= median)
        split++;
    size_t below = split, above = split, m = 0; /* next: pairs[below - 1], pairs[above] */
    while (below > 0 || above < n) {
        double down = below > 0 ? fabs(pairs[below - 1].value - median) : 0.0;
        double up = above < n ? fabs(pairs[above].value - median) : 0.0;
        const ps_diag_rank_pair *next;
        double folded;
        if (above >= n || (below > 0 && down <= up)) {
            next = &pairs[--below];
            folded = down;
        } else {
            next = &pairs[above++];
            folded = up;
        }
        if (next->index != NOT_SPLIT) {
            ordered[m].value = folded;
            ordered[m].index = next->index;
            m++;
        }
    }
    assign_scores(ws, ordered, m, ws->values);
}

/* ---------------------------------------------------------------------------------------
 * R-hat and ESS of split chains
 * ------------------------------------------------------------------------------------- */

static double sample_var(const double *x, size_t n)
{
    return var_about(x, n, mean_of(x, n));
}

double ps_diag_rhat_from_moments(const double *means, const double *vars, size_t n_split,
                                 size_t half)
{
    /* BDA3 Section 11.4: B/n = var of the chain means, W = mean within-chain variance,
     * R-hat = sqrt(((n - 1)/n W + B/n) / W) = sqrt((B/W + n - 1) / n). */
    if (half < 2 || n_split < 2)
        return NAN;
    double var_between = (double)half * sample_var(means, n_split);
    double var_within = mean_of(vars, n_split);
    return sqrt((var_between / var_within + (double)half - 1.0) / (double)half);
}

static void split_array_moments(const double *values, size_t n_split, size_t half, double *means,
                                double *vars)
{
    for (size_t j = 0; j < n_split; j++) {
        means[j] = mean_of(values + j * half, half);
        vars[j] = var_about(values + j * half, half, means[j]);
    }
}

void ps_diag_split_moments(const double *values, size_t n_chains, size_t n_draws, double *means,
                           double *vars)
{
    size_t per;
    size_t half = ps_diag_split_length(n_draws, &per);
    for (size_t c = 0; c < n_chains; c++) {
        for (size_t h = 0; h < per; h++) {
            const double *src = values + c * n_draws + (h == 0 ? 0 : n_draws - half);
            size_t j = c * per + h;
            means[j] = mean_of(src, half);
            vars[j] = var_about(src, half, means[j]);
        }
    }
}

/* Sum over the n_split centred split chains (at centred + j * half) of their biased
 * autocovariances at every lag, by FFT: each pair of real chains a, b is transformed at once
 * as a + ib zero-padded to m >= 2 half (so the circular correlation equals the linear one);
 * |A_k|^2 + |B_k|^2 = (|Z_k|^2 + |Z_{m-k}|^2) / 2, and the summed power spectrum is
 * transformed back once (it is real and even, so a forward transform divided by m is its
 * inverse). */
static void autocov_fft(ps_diag_workspace *ws, const double *centered, size_t n_split, size_t half,
                        double *acov_sum)
{
    size_t m = 2;
    while (m < 2 * half)
        m *= 2;
    double *buf = ws->fft, *spectrum = ws->spectrum;
    memset(spectrum, 0, m * sizeof *spectrum);
    for (size_t j = 0; j < n_split; j += 2) {
        const double *a = centered + j * half;
        const double *b = j + 1 < n_split ? centered + (j + 1) * half : NULL;
        for (size_t i = 0; i < half; i++) {
            buf[2 * i] = a[i];
            buf[2 * i + 1] = b != NULL ? b[i] : 0.0;
        }
        memset(buf + 2 * half, 0, 2 * (m - half) * sizeof *buf);
        ps_diag_fft(buf, m, ws->twiddle);
        for (size_t k = 0; k < m; k++) {
            size_t mk = (m - k) & (m - 1);
            double p = buf[2 * k] * buf[2 * k] + buf[2 * k + 1] * buf[2 * k + 1];
            double q = buf[2 * mk] * buf[2 * mk] + buf[2 * mk + 1] * buf[2 * mk + 1];
            spectrum[k] += 0.5 * (p + q);
        }
    }
    for (size_t k = 0; k < m; k++) {
        buf[2 * k] = spectrum[k];
        buf[2 * k + 1] = 0.0;
    }
    ps_diag_fft(buf, m, ws->twiddle);
    double scale = 1.0 / ((double)m * (double)half);
    for (size_t t = 0; t < half; t++)
        acov_sum[t] = buf[2 * t] * scale;
}

/* Autocovariances summed over split chains, computed on demand: the Geyer truncation
 * usually stops after a few lags, where direct sums (n_split * half operations per lag)
 * are cheaper than the FFT; once a lag beyond direct_limit is asked for, every lag is
 * computed by FFT. */
typedef struct acov_source {
    ps_diag_workspace *ws;  /* NULL when every lag is given */
    const double *centered; /* the centred split chains */
    size_t n_split, half;
    const double *acov;  /* lags [0, ready) are valid */
    double *acov_out;    /* where computed lags go (ws->acov) */
    size_t ready;        /* number of valid lags */
    size_t direct_limit; /* lags computed directly below this */
} acov_source;

static double acov_at(acov_source *src, size_t lag)
{
    if (lag >= src->ready) {
        if (lag < src->direct_limit) {
            for (size_t t = src->ready; t <= lag; t++) {
                double sum = 0.0;
                for (size_t j = 0; j < src->n_split; j++) {
                    const double *y = src->centered + j * src->half;
                    sum += ps_dot_fixed(y, y + t, src->half - t) / (double)src->half;
                }
                src->acov_out[t] = sum;
            }
            src->ready = lag + 1;
        } else {
            autocov_fft(src->ws, src->centered, src->n_split, src->half, src->acov_out);
            src->ready = src->half;
        }
    }
    return src->acov[lag];
}

/* ESS of split chains (Vehtari et al. 2021, Section 3.2, with Geyer 1992's initial positive
 * and initial monotone sequences as posterior implements them):
 *   rho_t = 1 - (W - mean_j acov_j(t)) / var_plus,  var_plus = (n-1)/n W + B/n,
 * summed in pairs (rho_t + rho_{t+1}, t even) while the pair sums are positive; the last
 * even-lag estimate is kept when positive (the improved estimator for antithetic chains);
 * pair sums are made non-increasing; tau = -1 + 2 sum_{t < T} rho_t + rho_T; and
 * ESS = S / max(tau, 1 / log10(S)), S = n_split * half. */
static double ess_geyer(const double *means, size_t n_split, size_t half, double *rho,
                        acov_source *src)
{
    if (half < 3 || n_split < 1)
        return NAN;
    double m = (double)n_split, n = (double)half;
    double mean_var = acov_at(src, 0) / m * n / (n - 1.0);
    double var_plus = mean_var * (n - 1.0) / n;
    if (n_split > 1)
        var_plus += sample_var(means, n_split);
    for (size_t t = 0; t < half; t++)
        rho[t] = 0.0;
    double rho_even = 1.0;
    double rho_odd = 1.0 - (mean_var - acov_at(src, 1) / m) / var_plus;
    rho[0] = rho_even;
    rho[1] = rho_odd;
    size_t t = 0;
    while (t + 5 < half && !isnan(rho_even + rho_odd) && rho_even + rho_odd > 0.0) {
        t += 2;
        rho_even = 1.0 - (mean_var - acov_at(src, t) / m) / var_plus;
        rho_odd = 1.0 - (mean_var - acov_at(src, t + 1) / m) / var_plus;
        if (rho_even + rho_odd >= 0.0) {
            rho[t] = rho_even;
            rho[t + 1] = rho_odd;
        }
    }
    size_t max_t = t;
    if (rho_even > 0.0)
        rho[max_t] = rho_even;
    for (t = 0; t + 4 <= max_t;) {
        t += 2;
        if (rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]) {
            rho[t] = 0.5 * (rho[t - 2] + rho[t - 1]);
            rho[t + 1] = rho[t];
        }
    }
    double sum = 0.0;
    for (t = 0; t < max_t; t++)
        sum += rho[t];
    double tau = -1.0 + 2.0 * sum + rho[max_t];
    double total = m * n;
    double tau_min = 1.0 / log10(total);
    if (tau < tau_min)
        tau = tau_min;
    return total / tau;
}

double ps_diag_ess_from_autocov(const double *means, const double *acov_sum, size_t n_split,
                                size_t half, double *rho)
{
    acov_source src = {.acov = acov_sum, .ready = half, .n_split = n_split, .half = half};
    return ess_geyer(means, n_split, half, rho, &src);
}

bool ps_diag_split_autocov_sum(ps_diag_workspace *ws, const double *values, size_t n_chains,
                               size_t n_draws, const double *means, double *acov_sum)
{
    if (!ps_diag_workspace_fits(ws, n_chains, n_draws))
        return false;
    size_t per;
    size_t half = ps_diag_split_length(n_draws, &per);
    size_t n_split = n_chains * per;
    gather_split(values, n_chains, n_draws, TRANSFORM_NONE, 0.0, ws->values);
    for (size_t j = 0; j < n_split; j++)
        for (size_t i = 0; i < half; i++)
            ws->values[j * half + i] -= means[j];
    autocov_fft(ws, ws->values, n_split, half, acov_sum);
    return true;
}

/* R-hat and/or ESS of the n_split * half split values in ws->values (either output may be
 * NULL). The values are centred in place when the ESS is asked for. Constant values give
 * NAN, as posterior's should_return_NA(). */
static void analyze_split(ps_diag_workspace *ws, size_t n_split, size_t half, double *rhat,
                          double *ess)
{
    double *values = ws->values;
    if (is_constant(values, n_split * half)) {
        if (rhat != NULL)
            *rhat = NAN;
        if (ess != NULL)
            *ess = NAN;
        return;
    }
    split_array_moments(values, n_split, half, ws->means, ws->vars);
    if (rhat != NULL)
        *rhat = ps_diag_rhat_from_moments(ws->means, ws->vars, n_split, half);
    if (ess == NULL)
        return;
    if (half < 3) {
        *ess = NAN;
        return;
    }
    for (size_t j = 0; j < n_split; j++)
        for (size_t i = 0; i < half; i++)
            values[j * half + i] -= ws->means[j];
    /* Direct lags cost n_split * half operations each, the FFT of all lags about
     * 3 log2(m) times that; Geyer's truncation stops after a few lags for chains that mix
     * well, so the first max(16, log2 m) lags are summed directly. */
    size_t m = 2, log2m = 1;
    while (m < 2 * half) {
        m *= 2;
        log2m++;
    }
    acov_source src = {.ws = ws,
                       .centered = values,
                       .n_split = n_split,
                       .half = half,
                       .acov = ws->acov,
                       .acov_out = ws->acov,
                       .ready = 0,
                       .direct_limit = log2m > 16 ? log2m : 16};
    *ess = ess_geyer(ws->means, n_split, half, ws->rho, &src);
}

/* ---------------------------------------------------------------------------------------
 * Public diagnostics
 * ------------------------------------------------------------------------------------- */

/* Shape and finiteness checks shared by the diagnostics: false means "return NAN". */
static bool usable(const ps_diag_workspace *ws, const double *draws, size_t n_chains,
                   size_t n_draws)
{
    return draws != NULL && ps_diag_workspace_fits(ws, n_chains, n_draws) &&
           all_finite(draws, n_chains * n_draws);
}

/* Sorts a copy of all draws into ws->sorted (when only quantiles are needed). */
static void sort_draws(ps_diag_workspace *ws, const double *draws, size_t n)
{
    memcpy(ws->sorted, draws, n * sizeof *draws);
    ps_diag_sort_values(ws->sorted, ws->scratch, n, ws->radix_counts);
}

typedef struct split_shape {
    size_t half, n_split, count;
} split_shape;

static split_shape shape_of(size_t n_chains, size_t n_draws)
{
    size_t per;
    split_shape s;
    s.half = ps_diag_split_length(n_draws, &per);
    s.n_split = n_chains * per;
    s.count = s.n_split * s.half;
    return s;
}

/* Split R-hat and/or ESS of the transformed draws (not rank-normalised). */
static void split_diagnostic(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                             size_t n_draws, transform t, double param, double *rhat, double *ess)
{
    split_shape s = shape_of(n_chains, n_draws);
    gather_split(draws, n_chains, n_draws, t, param, ws->values);
    analyze_split(ws, s.n_split, s.half, rhat, ess);
}

/* Bulk R-hat and/or ESS, after sort_all(). */
static void bulk_diagnostic(ps_diag_workspace *ws, size_t n_chains, size_t n_draws, double *rhat,
                            double *ess)
{
    split_shape s = shape_of(n_chains, n_draws);
    bulk_scores(ws, n_chains * n_draws);
    analyze_split(ws, s.n_split, s.half, rhat, ess);
}

/* R-hat of the folded draws, after sort_all(). */
static double folded_rhat(ps_diag_workspace *ws, size_t n_chains, size_t n_draws)
{
    size_t n = n_chains * n_draws;
    split_shape s = shape_of(n_chains, n_draws);
    folded_scores(ws, n, quantile_sorted(ws->sorted, n, 0.5));
    double rhat;
    analyze_split(ws, s.n_split, s.half, &rhat, NULL);
    return rhat;
}

static double max_or_nan(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a > b ? a : b;
}

static double min_or_nan(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a < b ? a : b;
}

/* Tail ESS, with the sorted draws in ws->sorted. */
static double ess_tail_sorted(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                              size_t n_draws)
{
    size_t n = n_chains * n_draws;
    double q05 = quantile_sorted(ws->sorted, n, 0.05);
    double q95 = quantile_sorted(ws->sorted, n, 0.95);
    double ess05, ess95;
    split_diagnostic(ws, draws, n_chains, n_draws, TRANSFORM_AT_MOST, q05, NULL, &ess05);
    split_diagnostic(ws, draws, n_chains, n_draws, TRANSFORM_AT_MOST, q95, NULL, &ess95);
    return min_or_nan(ess05, ess95);
}

double ps_diag_rhat(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    sort_all(ws, draws, n_chains, n_draws);
    double bulk;
    bulk_diagnostic(ws, n_chains, n_draws, &bulk, NULL);
    return max_or_nan(bulk, folded_rhat(ws, n_chains, n_draws));
}

double ps_diag_rhat_basic(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                          size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    double rhat;
    split_diagnostic(ws, draws, n_chains, n_draws, TRANSFORM_NONE, 0.0, &rhat, NULL);
    return rhat;
}

double ps_diag_ess_bulk(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    sort_all(ws, draws, n_chains, n_draws);
    double ess;
    bulk_diagnostic(ws, n_chains, n_draws, NULL, &ess);
    return ess;
}

double ps_diag_ess_tail(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    sort_draws(ws, draws, n_chains * n_draws);
    return ess_tail_sorted(ws, draws, n_chains, n_draws);
}

void ps_diag_convergence(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                         size_t n_draws, double *rhat, double *ess_bulk, double *ess_tail)
{
    double r = NAN, eb = NAN, et = NAN;
    if (usable(ws, draws, n_chains, n_draws)) {
        sort_all(ws, draws, n_chains, n_draws);
        double bulk;
        bulk_diagnostic(ws, n_chains, n_draws, &bulk, &eb);
        r = max_or_nan(bulk, folded_rhat(ws, n_chains, n_draws));
        et = ess_tail_sorted(ws, draws, n_chains, n_draws);
    }
    if (rhat != NULL)
        *rhat = r;
    if (ess_bulk != NULL)
        *ess_bulk = eb;
    if (ess_tail != NULL)
        *ess_tail = et;
}

double ps_diag_ess_basic(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                         size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    double ess;
    split_diagnostic(ws, draws, n_chains, n_draws, TRANSFORM_NONE, 0.0, NULL, &ess);
    return ess;
}

double ps_diag_ess_mean(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws)
{
    return ps_diag_ess_basic(ws, draws, n_chains, n_draws);
}

/* ESS for the sd given the mean of all draws. */
static double ess_sd_given_mean(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                                size_t n_draws, double mean)
{
    double ess;
    split_diagnostic(ws, draws, n_chains, n_draws, TRANSFORM_ABS_DEV, mean, NULL, &ess);
    return ess;
}

double ps_diag_ess_sd(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    double mean = mean_of(draws, n_chains * n_draws);
    return ess_sd_given_mean(ws, draws, n_chains, n_draws, mean);
}

double ps_diag_mcse_mean(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                         size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    size_t n = n_chains * n_draws;
    double sd = sqrt(sample_var(draws, n));
    return sd / sqrt(ps_diag_ess_basic(ws, draws, n_chains, n_draws));
}

/* MCSE of the sd given the mean of all draws. */
static double mcse_sd_given_mean(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                                 size_t n_draws, double mean)
{
    /* Var of the variance estimate (Kenney and Keeping 1951, p. 141): (m4 - m2^2) / ESS of
     * the squared deviations; the first-order Taylor expansion of sqrt gives
     * Var(sd) = Var(var) / (4 m2). */
    size_t n = n_chains * n_draws;
    double m2 = 0.0, m4 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d2 = (draws[i] - mean) * (draws[i] - mean);
        m2 += d2;
        m4 += d2 * d2;
    }
    m2 /= (double)n;
    m4 /= (double)n;
    double ess;
    split_diagnostic(ws, draws, n_chains, n_draws, TRANSFORM_SQ_DEV, mean, NULL, &ess);
    double varvar = (m4 - m2 * m2) / ess;
    return sqrt(varvar / m2 / 4.0);
}

double ps_diag_mcse_sd(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws)
{
    if (!usable(ws, draws, n_chains, n_draws))
        return NAN;
    double mean = mean_of(draws, n_chains * n_draws);
    return mcse_sd_given_mean(ws, draws, n_chains, n_draws, mean);
}

double ps_diag_quantile(ps_diag_workspace *ws, const double *draws, size_t n, double prob)
{
    if (ws == NULL || draws == NULL || n == 0 || n > ws->max_total || !(prob >= 0.0) ||
        !(prob <= 1.0))
        return NAN;
    for (size_t i = 0; i < n; i++)
        if (isnan(draws[i]))
            return NAN;
    sort_draws(ws, draws, n);
    return quantile_sorted(ws->sorted, n, prob);
}

static void summary_all_nan(ps_diag_summary *out)
{
    out->mean = out->sd = out->q05 = out->q50 = out->q95 = NAN;
    out->mcse_mean = out->mcse_sd = NAN;
    out->ess_bulk = out->ess_tail = out->ess_basic = out->ess_mean = out->ess_sd = NAN;
    out->rhat = out->rhat_basic = NAN;
}

ps_status ps_diag_summarize(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                            size_t n_draws, ps_diag_summary *out)
{
    summary_all_nan(out);
    if (ws == NULL || draws == NULL)
        return ps_error(PS_ERR_USAGE, "diagnostics summary: no workspace or no draws");
    if (!ps_diag_workspace_fits(ws, n_chains, n_draws))
        return ps_error(PS_ERR_USAGE,
                        "diagnostics summary of %zu chains of %zu draws does not fit a workspace "
                        "made for %zu chains of %zu draws",
                        n_chains, n_draws, ws->max_chains, ws->max_draws);
    size_t n = n_chains * n_draws;
    out->mean = mean_of(draws, n);
    out->sd = sqrt(var_about(draws, n, out->mean));
    bool has_nan = false;
    for (size_t i = 0; i < n && !has_nan; i++)
        has_nan = isnan(draws[i]);
    if (has_nan)
        return PS_OK;
    sort_all(ws, draws, n_chains, n_draws);
    out->q05 = quantile_sorted(ws->sorted, n, 0.05);
    out->q50 = quantile_sorted(ws->sorted, n, 0.5);
    out->q95 = quantile_sorted(ws->sorted, n, 0.95);
    if (!all_finite(draws, n))
        return PS_OK;

    double bulk;
    bulk_diagnostic(ws, n_chains, n_draws, &bulk, &out->ess_bulk);
    out->rhat = max_or_nan(bulk, folded_rhat(ws, n_chains, n_draws));
    split_diagnostic(ws, draws, n_chains, n_draws, TRANSFORM_NONE, 0.0, &out->rhat_basic,
                     &out->ess_basic);
    out->ess_mean = out->ess_basic;
    out->ess_tail = ess_tail_sorted(ws, draws, n_chains, n_draws);
    out->ess_sd = ess_sd_given_mean(ws, draws, n_chains, n_draws, out->mean);
    out->mcse_mean = out->sd / sqrt(out->ess_mean);
    out->mcse_sd = mcse_sd_given_mean(ws, draws, n_chains, n_draws, out->mean);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Nested R-hat
 * ------------------------------------------------------------------------------------- */

double ps_diag_nested_rhat(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                           size_t n_draws, size_t n_superchains)
{
    if (!usable(ws, draws, n_chains, n_draws) || n_superchains < 2 || n_chains % n_superchains != 0)
        return NAN;
    size_t n = n_chains * n_draws;
    if (is_constant(draws, n))
        return NAN;
    size_t per = n_chains / n_superchains; /* M, chains per superchain */
    double *chain_means = ws->means;       /* n_chains */
    double *super_means = ws->vars;        /* n_superchains <= n_chains */
    double within = 0.0;                   /* sum over k of (B~_k + W~_k) */
    for (size_t k = 0; k < n_superchains; k++) {
        double w_k = 0.0;
        for (size_t c = k * per; c < (k + 1) * per; c++) {
            const double *chain = draws + c * n_draws;
            chain_means[c] = mean_of(chain, n_draws);
            if (n_draws > 1)
                w_k += var_about(chain, n_draws, chain_means[c]);
        }
        w_k /= (double)per;
        super_means[k] = mean_of(chain_means + k * per, per);
        double b_k = per > 1 ? var_about(chain_means + k * per, per, super_means[k]) : 0.0;
        within += b_k + w_k;
    }
    within /= (double)n_superchains;
    double between = sample_var(super_means, n_superchains);
    if (!(within > 0.0))
        return NAN;
    return sqrt(1.0 + between / within);
}
