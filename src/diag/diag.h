/*
 * MCMC convergence diagnostics on plain arrays: R-hat, effective sample size (ESS), Monte
 * Carlo standard errors (MCSE), quantiles and nested R-hat.
 *
 * The definitions are those of Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021),
 * "Rank-normalization, folding, and localization: an improved R-hat for assessing
 * convergence of MCMC", Bayesian Analysis 16(2), with the conventions of the R package
 * posterior 1.4.0, which these functions match to rounding:
 *
 *   - Split chains: each chain of n draws becomes two chains of floor(n/2) draws, the
 *     first and the last floor(n/2) draws; for odd n the middle draw is left out. A chain
 *     of one draw is not split.
 *   - Rank normalisation: fractional ranks r over all split draws (ties get the average of
 *     their ranks) are mapped to z = Phi^-1((r - 3/8) / (S + 1/4)), S the number of split
 *     draws (Blom 1958).
 *   - Folding: |x - median(x)|, the median over all draws.
 *   - ESS: autocovariances of each split chain (biased, divided by the chain length),
 *     combined over chains as in Vehtari et al. (2021, Section 3.2), truncated with Geyer's
 *     initial positive sequence on sums of adjacent pairs, made monotone with Geyer's
 *     initial monotone sequence, and bounded above by S log10(S).
 *   - Quantiles: R's type 7 (linear interpolation between order statistics).
 *
 * NA is returned as NAN, exactly where posterior returns NA:
 *   - any draw is not finite (NaN, Inf, -Inf): every R-hat, ESS and MCSE is NAN;
 *   - the values a diagnostic works on (the split draws, their ranks, the folded draws,
 *     the quantile indicators) are constant, max - min < DBL_EPSILON: that diagnostic is
 *     NAN (so all draws equal gives NAN everywhere but mean, sd and the quantiles);
 *   - too few draws: R-hat needs split chains of at least 2 draws (n_draws >= 4), ESS
 *     needs split chains of at least 3 draws (n_draws >= 6).
 * Chains that are each constant but differ from each other have no within-chain
 * variance: basic R-hat is Inf, as in posterior (the rank R-hat too, unless the folded
 * draws are constant, which makes it NA).
 *
 * Draws are chain-major: draws[c * n_draws + i] is draw i of chain c, with n_chains >= 1
 * and n_draws >= 1 (other shapes give NAN).
 *
 * Workspaces: every function takes a ps_diag_workspace created for at most max_chains x
 * max_draws draws; the functions never allocate. A call with more chains, more draws or
 * (for ps_diag_quantile) more than max_chains * max_draws values does not grow the
 * workspace: it returns NAN (or, for ps_diag_summarize, PS_ERR_USAGE with a message) and
 * records nothing else; ps_diag_workspace_fits() tells beforehand. A workspace is used by
 * one thread at a time; separate workspaces may be used from separate threads at once
 * (nothing here has global state).
 *
 * Cost: O(S log S) for S draws: one radix sort for ranks and quantiles (O(S)), normal
 * scores cached in the workspace between calls with the same S, autocovariances summed
 * directly for the first lags and by FFT when Geyer's truncation needs more.
 *
 * All functions here are local and know nothing of MPI.
 *
 * Combining parts of the chains (for a distributed online check)
 * -----------------------------------------------------------------
 * The non-rank diagnostics (rhat_basic, ess_basic, ess_mean, mcse_mean) are functions of a
 * few per-split-chain quantities that a process holding some of the chains can compute on
 * its own and an MPI layer can gather and combine:
 *
 *   - for R-hat: the mean and the variance (n - 1 denominator) of each split chain,
 *     ps_diag_split_moments(); ps_diag_rhat_from_moments() combines them;
 *   - for ESS: the split-chain means and the biased autocovariances of each split chain at
 *     every lag 0..half-1 summed over split chains, ps_diag_split_autocov_sum();
 *     ps_diag_ess_from_autocov() combines them (only the lags up to the truncation point
 *     are read, so a caller may send a prefix and extend it on demand);
 *   - for mean and sd: counts, sums and centred sums of squares, the usual parallel
 *     variance merge.
 * Sums over chains are order-dependent in floating point: to keep results identical for
 * every layout (DESIGN.md, invariant 1) combine per-chain contributions in chain-id order.
 *
 * The rank-based diagnostics (rhat, ess_bulk, ess_tail and folded R-hat) need global
 * information first: the ranks of all split draws, the median of all draws and the 5% and
 * 95% quantiles of all draws. Once a process has the transformed values of its chains
 * (z-scores of the global ranks, |x - median|, or the indicators x <= q), the same split
 * moments and autocovariances apply to them. The simplest distributed scheme, which
 * DESIGN.md plans, gives each process all draws of a share of the parameters and calls
 * the whole-array functions below.
 */
#ifndef PS_DIAG_H
#define PS_DIAG_H

#include <stddef.h>

#include "core/core.h"

typedef struct ps_diag_workspace ps_diag_workspace;

/* Local. Creates a workspace for up to max_chains chains of up to max_draws draws each
 * (both >= 1). Memory is 64 bytes per draw (max_chains * max_draws) plus at most 88 bytes
 * per draw of one chain (max_draws), for the FFT. Returns PS_ERR_MEM (recorded) when allocation
 * fails or the sizes overflow, PS_ERR_USAGE for a zero size; *ws is NULL on failure. The caller
 * owns the workspace and frees it with ps_diag_workspace_destroy(). */
ps_status ps_diag_workspace_create(size_t max_chains, size_t max_draws, ps_diag_workspace **ws);

/* Local. Frees a workspace (NULL and half-built ones are fine) and sets *ws to NULL. */
void ps_diag_workspace_destroy(ps_diag_workspace **ws);

/* Local. True when ws can take n_chains chains of n_draws draws. */
bool ps_diag_workspace_fits(const ps_diag_workspace *ws, size_t n_chains, size_t n_draws);

/* The summary of one scalar quantity, as posterior's summarise_draws() with its default
 * and convergence measures: mean and sd (n - 1 denominator) and type-7 quantiles of the
 * pooled draws, and the diagnostics below. NAN marks NA. */
typedef struct ps_diag_summary {
    double mean, sd, q05, q50, q95, mcse_mean, mcse_sd, ess_bulk, ess_tail, ess_basic, ess_mean,
        ess_sd, rhat, rhat_basic;
} ps_diag_summary;

/* Local. Computes every field of *out for the draws, sharing sorts between them. Returns
 * PS_OK (NA fields are NAN, not errors); PS_ERR_USAGE with a message when the shape is
 * empty or larger than the workspace (then every field is NAN). */
ps_status ps_diag_summarize(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                            size_t n_draws, ps_diag_summary *out);

/* Local. Rank-normalised split R-hat: the larger of the R-hat of the rank-normalised split
 * draws (bulk) and that of the rank-normalised folded split draws (tail) (Vehtari et al.
 * 2021, Section 4.2). */
double ps_diag_rhat(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws);

/* Local. Split R-hat of the draws themselves, sqrt(((n-1)/n W + B/n) / W) over split chains
 * of n draws (Gelman et al. 2013, BDA3 Section 11.4). */
double ps_diag_rhat_basic(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                          size_t n_draws);

/* Local. Bulk ESS: ESS of the rank-normalised split draws (Vehtari et al. 2021, Sec. 4.3). */
double ps_diag_ess_bulk(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                        size_t n_draws);

/* Local. Tail ESS: the smaller of the ESS of the indicators x <= q05 and x <= q95 of the split
 * draws, q the type-7 quantiles of all draws (Vehtari et al. 2021, Section 4.3). */
double ps_diag_ess_tail(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                        size_t n_draws);

/* Local. The three quantities of the online convergence check at the cost of one sort:
 * *rhat, *ess_bulk and *ess_tail as ps_diag_rhat(), ps_diag_ess_bulk() and
 * ps_diag_ess_tail() return them (any pointer may be NULL). */
void ps_diag_convergence(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                         size_t n_draws, double *rhat, double *ess_bulk, double *ess_tail);

/* Local. ESS of the split draws themselves. */
double ps_diag_ess_basic(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                         size_t n_draws);

/* Local. ESS for the mean; the same as ps_diag_ess_basic (posterior's ess_mean). */
double ps_diag_ess_mean(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                        size_t n_draws);

/* Local. ESS for the standard deviation: the ESS of the split absolute deviations
 * |x - mean(x)| (posterior 1.4.0's ess_sd). */
double ps_diag_ess_sd(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws);

/* Local. MCSE of the mean: sd(x) / sqrt(ess_mean). */
double ps_diag_mcse_mean(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                         size_t n_draws);

/* Local. MCSE of the standard deviation without assuming normality (posterior 1.4.0's
 * mcse_sd): with d = x - mean(x), m2 = mean(d^2), m4 = mean(d^4) over all draws and E the
 * ESS of the split d^2, Var(var) = (m4 - m2^2) / E (Kenney and Keeping 1951) and, to first
 * order, mcse_sd = sqrt(Var(var) / (4 m2)). */
double ps_diag_mcse_sd(ps_diag_workspace *ws, const double *draws, size_t n_chains, size_t n_draws);

/* Local. The type-7 quantile of n values (R's quantile(type = 7), posterior's quantile2):
 * with h = (n - 1) prob, lo = floor(h), the interpolation x(lo) + (h - lo)(x(lo+1) - x(lo))
 * of the order statistics. NAN when n is 0, prob is outside [0, 1], any value is NaN, or
 * n > max_chains * max_draws. */
double ps_diag_quantile(ps_diag_workspace *ws, const double *draws, size_t n, double prob);

/* Local. Nested R-hat (Margossian, Hoffman, Sountsov, Riou-Durand, Vehtari and Gelman
 * 2024, "Nested R-hat: assessing the convergence of Markov chain Monte Carlo when running
 * many short chains", Bayesian Analysis, Definition 2.1). The chains are grouped
 * contiguously into n_superchains superchains of M = n_chains / n_superchains chains:
 * chain c belongs to superchain c / M. With chain means m_.mk, superchain means m_..k and
 * their mean m_...,
 *   B = 1/(K-1) sum_k (m_..k - m_...)^2                      (between superchains)
 *   B~_k = 1/(M-1) sum_m (m_.mk - m_..k)^2, 0 when M = 1     (between chains in k)
 *   W~_k = 1/M sum_m s^2_mk (n - 1 denominator), 0 when n = 1 (within chains in k)
 *   W = 1/K sum_k (B~_k + W~_k),  nested R-hat = sqrt(1 + B / W).
 * Chains are not split and draws are not rank-normalised, as in the paper. NAN when
 * n_superchains < 2 or does not divide n_chains, W = 0, any draw is not finite, or all
 * draws are equal. With one chain per superchain, nested R-hat^2 equals the (non-split)
 * basic R-hat^2 plus 1/n_draws (the paper's footnote 1). */
double ps_diag_nested_rhat(ps_diag_workspace *ws, const double *draws, size_t n_chains,
                           size_t n_draws, size_t n_superchains);

/* ---------------------------------------------------------------------------------------
 * Building blocks (see "Combining parts of the chains" above). `values` are chain-major
 * like draws; they may be transformed draws (z-scores, indicators, folded draws).
 * ------------------------------------------------------------------------------------- */

/* Local. The length of each split chain for chains of n_draws draws: floor(n_draws / 2),
 * or 1 for n_draws = 1; *per_chain (may be NULL) receives the number of split chains per
 * chain (2, or 1 for n_draws = 1). */
size_t ps_diag_split_length(size_t n_draws, size_t *per_chain);

/* Local. For each of the n_chains * per_chain split chains j (chain c gives 2c and
 * 2c + 1), means[j] and vars[j] (n - 1 denominator; NAN for split chains of one draw).
 * Never allocates. */
void ps_diag_split_moments(const double *values, size_t n_chains, size_t n_draws, double *means,
                           double *vars);

/* Local. R-hat from the moments of n_split split chains of length half (posterior's
 * .rhat): NAN when half < 2 or the mean within-chain variance is not positive and the
 * between-chain variance is zero. Does not check for constant values. */
double ps_diag_rhat_from_moments(const double *means, const double *vars, size_t n_split,
                                 size_t half);

/* Local. Writes to acov_sum[t], t = 0..half-1, the biased autocovariances
 * (1/half) sum_i (y_i - mean)(y_{i+t} - mean) of the split chains, summed over split chains
 * in order; means from ps_diag_split_moments(). Uses the workspace's FFT buffers. Returns
 * false (and writes nothing) when the shape does not fit the workspace. */
bool ps_diag_split_autocov_sum(ps_diag_workspace *ws, const double *values, size_t n_chains,
                               size_t n_draws, const double *means, double *acov_sum);

/* Local. ESS of n_split split chains of length half from their means and acov_sum (as
 * written by ps_diag_split_autocov_sum); rho is scratch of half doubles. NAN when
 * half < 3. Does not check for constant values. */
double ps_diag_ess_from_autocov(const double *means, const double *acov_sum, size_t n_split,
                                size_t half, double *rho);

#endif
