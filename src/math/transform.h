/*
 * Constraint transforms, as Stan defines them (Stan Reference Manual, "Constraint
 * transforms"): from unconstrained parameters to constrained values on the tape, adding
 * log |Jacobian| to the target, and the inverse transforms on plain doubles (for initial
 * values given on the constrained scale).
 *
 * Forward transforms (ps_ad_*_constrain) take the slice u of the unconstrained parameter
 * vector (usually a segment of the ps_ad_params handle) and return the constrained value.
 * With jacobian = true the log |Jacobian| is added to the tape's target and its gradient
 * flows back through u and through bounds that are themselves var (a bound may depend on
 * another parameter). With jacobian = false only the value is made: that is the
 * "constrain-only" form used for output values (run it on a value-only tape,
 * ps_ad_tape_begin(tape, false), to avoid recording anything).
 *
 * Bounds, offsets and multipliers broadcast: a scalar or one value per element. An
 * infinite bound is no bound (lower = -inf or upper = +inf), as in Stan.
 *
 * Errors: PS_ERR_NUMERIC (in the tape) for invalid bounds at run time (lower >= upper, a
 * non-positive multiplier), PS_ERR_MODEL for size mismatches, PS_ERR_MEM. All Local.
 */
#ifndef PS_MATH_TRANSFORM_H
#define PS_MATH_TRANSFORM_H

#include "ad/ad.h"

/*
 * Bounds: pass a handle with v == NULL (ps_ad_no_bound()) for a missing bound.
 *   lower only:   x = lower + exp(u),                         log J = u
 *   upper only:   x = upper - exp(u),                         log J = u
 *   both:         x = lower + (upper - lower) inv_logit(u),
 *                 log J = log(upper - lower) + log inv_logit(u) + log(1 - inv_logit(u))
 * The result has u's shape.
 */
ps_status ps_ad_bounds_constrain(ps_ad_tape *tape, ps_adv u, ps_adv lower, ps_adv upper,
                                 bool jacobian, ps_adv *out);

/* The handle that stands for "no bound". */
ps_adv ps_ad_no_bound(void);

/* offset/multiplier: x = offset + multiplier u, log J = sum log multiplier (multiplier > 0).
 * A missing offset (v == NULL) is 0, a missing multiplier 1. */
ps_status ps_ad_offset_multiplier_constrain(ps_ad_tape *tape, ps_adv u, ps_adv offset,
                                            ps_adv multiplier, bool jacobian, ps_adv *out);

/* simplex[K] from K - 1 unconstrained values by Stan's stick-breaking transform:
 * z_k = inv_logit(u_k - log(K - k)) (k = 1..K-1), x_k = (1 - sum_{j<k} x_j) z_k, x_K the
 * rest; log J = sum_k log(z_k (1 - z_k) (1 - sum_{j<k} x_j)). The result is K x 1. */
ps_status ps_ad_simplex_constrain(ps_ad_tape *tape, ps_adv u, bool jacobian, ps_adv *out);

/* ordered[K]: x_1 = u_1, x_k = x_{k-1} + exp(u_k); log J = sum_{k>1} u_k.
 * positive_ordered[K]: the same with x_1 = exp(u_1); log J = sum_k u_k. */
ps_status ps_ad_ordered_constrain(ps_ad_tape *tape, ps_adv u, bool jacobian, ps_adv *out);
ps_status ps_ad_positive_ordered_constrain(ps_ad_tape *tape, ps_adv u, bool jacobian, ps_adv *out);

/* cholesky_factor_corr[K] from K (K - 1) / 2 values: canonical partial correlations
 * z = tanh(u), filled row by row into the lower triangle (Stan's read_corr_L); the result
 * is K x K lower triangular with unit-length rows. */
ps_status ps_ad_cholesky_corr_constrain(ps_ad_tape *tape, ps_adv u, size_t K, bool jacobian,
                                        ps_adv *out);

/* cov_matrix[K] from K + K (K - 1) / 2 values: L lower triangular filled row by row (for row
 * m, its m off-diagonal values, then log L[m,m]); x = L L^T; log J = K log 2 +
 * sum_k (K - k + 1) log L[k,k] (k = 1..K). */
ps_status ps_ad_cov_matrix_constrain(ps_ad_tape *tape, ps_adv u, size_t K, bool jacobian,
                                     ps_adv *out);

/* Number of unconstrained values of each structured type. */
size_t ps_simplex_free_size(size_t K);
size_t ps_cholesky_corr_free_size(size_t K);
size_t ps_cov_matrix_free_size(size_t K);

/* ---------------------------------------------------------------------------------------
 * Inverse transforms on plain doubles (constrained -> unconstrained). x and u have the
 * sizes above; bounds are arrays of n_bound (1 or n) values or NULL for none. A value
 * that violates its constraint is PS_ERR_DATA with a message naming `what` (e.g. the
 * variable's name) and the element.
 * ------------------------------------------------------------------------------------- */

ps_status ps_bounds_free(const char *what, const double *x, size_t n, const double *lower,
                         size_t n_lower, const double *upper, size_t n_upper, double *u);
ps_status ps_offset_multiplier_free(const char *what, const double *x, size_t n,
                                    const double *offset, size_t n_offset, const double *multiplier,
                                    size_t n_multiplier, double *u);
ps_status ps_simplex_free(const char *what, const double *x, size_t K, double *u);
ps_status ps_ordered_free(const char *what, const double *x, size_t K, double *u);
ps_status ps_positive_ordered_free(const char *what, const double *x, size_t K, double *u);
/* L is K x K column-major. */
ps_status ps_cholesky_corr_free(const char *what, const double *L, size_t K, double *u);
/* Sigma is K x K column-major, symmetric positive definite. */
ps_status ps_cov_matrix_free(const char *what, const double *sigma, size_t K, double *u);

#endif
