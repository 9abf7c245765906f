/*
 * Log densities and log mass functions on the autodiff tape, with closed-form partial
 * derivatives with respect to every real argument.
 *
 * Broadcasting (Stan's vectorisation). Every argument may be a scalar or a container; all
 * containers of one call must have the same number of elements N (their shapes do not
 * matter: they are read in memory order), scalars are repeated, and the result is the sum
 * over the N terms: a scalar handle. With only scalars, N = 1. Integer outcomes (ps_adi)
 * broadcast the same way.
 *
 * propto. Stan's `y ~ dist(...)` drops every term that does not depend on a parameter;
 * `target += dist_lpdf(y | ...)` keeps them. With propto = true these functions drop
 * exactly the terms Stan drops: each term is kept only if one of the arguments it depends
 * on is var (ps_adv.var), so with data sigma `normal` drops -log(sigma) as well as
 * -log(sqrt(2 pi)), and with no var argument at all the result is 0. With propto = false
 * everything is kept and the value is the normalised log density. (Where Stan versions
 * differ, current Stan is followed: beta's -lbeta(a, b) is one term that depends on a and
 * b together.)
 *
 * Errors. Arguments outside their domain (a non-positive scale, a probability outside
 * [0, 1], a negative count, NaN where Stan checks "not nan") return PS_ERR_NUMERIC with a
 * message in the tape, as Stan's domain errors reject the draw. Outcomes outside the
 * support with valid parameters (y < 0 in gamma, y outside [lower, upper] in uniform) give
 * -infinity, as in Stan. Size mismatches are PS_ERR_MODEL (recorded with ps_error).
 *
 * Matrices (multi_normal*, the GLMs) are column-major. All functions are Local.
 */
#ifndef PS_MATH_DENS_H
#define PS_MATH_DENS_H

#include "ad/ad.h"
#include "math/kernels.h"

/* Checks every element of x, the argument `what` of function fn, against kind (finite,
 * not NaN, positive, ...). Local. On failure: a domain error on the tape that names fn,
 * the argument, the first failing element (its 1-based index when x has several) and
 * what it must be. */
ps_status ps_ad_check_arg(ps_ad_tape *tape, const char *fn, const char *what, ps_adv x,
                          ps_kern_check kind);

/* normal(y | mu, sigma), sigma > 0. */
ps_status ps_ad_normal_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                            ps_adv *out);
/* std_normal(y) = normal(y | 0, 1). */
ps_status ps_ad_std_normal_lpdf(ps_ad_tape *tape, ps_adv y, bool propto, ps_adv *out);
/* cauchy(y | mu, sigma). */
ps_status ps_ad_cauchy_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                            ps_adv *out);
/* student_t(y | nu, mu, sigma), nu > 0. */
ps_status ps_ad_student_t_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv nu, ps_adv mu, ps_adv sigma,
                               bool propto, ps_adv *out);
/* lognormal(y | mu, sigma), y >= 0 (y = 0 gives -inf). */
ps_status ps_ad_lognormal_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                               ps_adv *out);
/* gamma(y | alpha, beta) with rate beta. */
ps_status ps_ad_gamma_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv alpha, ps_adv beta, bool propto,
                           ps_adv *out);
/* inv_gamma(y | alpha, beta) with scale beta. */
ps_status ps_ad_inv_gamma_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv alpha, ps_adv beta, bool propto,
                               ps_adv *out);
/* exponential(y | beta) with rate beta. */
ps_status ps_ad_exponential_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv beta, bool propto, ps_adv *out);
/* beta(y | a, b), y in [0, 1]. */
ps_status ps_ad_beta_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv a, ps_adv b, bool propto, ps_adv *out);
/* uniform(y | lower, upper): -log(upper - lower) inside, -inf outside. */
ps_status ps_ad_uniform_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv lower, ps_adv upper, bool propto,
                             ps_adv *out);
/* dirichlet(theta | alpha) for one simplex theta (a vector) and alpha > 0 of equal size. */
ps_status ps_ad_dirichlet_lpdf(ps_ad_tape *tape, ps_adv theta, ps_adv alpha, bool propto,
                               ps_adv *out);

/* bernoulli(n | theta), n in {0, 1}, theta in [0, 1]. */
ps_status ps_ad_bernoulli_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv theta, bool propto, ps_adv *out);
/* bernoulli_logit(n | alpha) = bernoulli(n | inv_logit(alpha)). */
ps_status ps_ad_bernoulli_logit_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv alpha, bool propto,
                                     ps_adv *out);
/* binomial(n | N, theta), 0 <= n <= N. */
ps_status ps_ad_binomial_lpmf(ps_ad_tape *tape, ps_adi n, ps_adi N, ps_adv theta, bool propto,
                              ps_adv *out);
/* binomial_logit(n | N, alpha) = binomial(n | N, inv_logit(alpha)). */
ps_status ps_ad_binomial_logit_lpmf(ps_ad_tape *tape, ps_adi n, ps_adi N, ps_adv alpha, bool propto,
                                    ps_adv *out);
/* poisson(n | lambda), lambda >= 0. */
ps_status ps_ad_poisson_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv lambda, bool propto, ps_adv *out);
/* poisson_log(n | alpha) = poisson(n | exp(alpha)). */
ps_status ps_ad_poisson_log_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv alpha, bool propto,
                                 ps_adv *out);
/* neg_binomial_2(n | mu, phi): mean mu > 0, precision phi > 0. */
ps_status ps_ad_neg_binomial_2_lpmf(ps_ad_tape *tape, ps_adi n, ps_adv mu, ps_adv phi, bool propto,
                                    ps_adv *out);

/*
 * multi_normal(y | mu, Sigma) and multi_normal_cholesky(y | mu, L) for y a D-vector or a
 * D x K matrix whose K columns are independent observations (Stan's array of vectors);
 * mu a D-vector (shared) or D x K. Sigma must be symmetric positive definite (checked;
 * PS_ERR_NUMERIC otherwise); L is lower triangular with a positive diagonal (only its lower
 * triangle is read). With constant L (a data Cholesky factor) the cost per observation is
 * two triangular solves (dtrsv), O(D^2): no inverse and no factorisation.
 */
ps_status ps_ad_multi_normal_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv sigma, bool propto,
                                  ps_adv *out);
ps_status ps_ad_multi_normal_cholesky_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv mu, ps_adv L,
                                           bool propto, ps_adv *out);

/*
 * Generalised linear models with linear predictor eta = X beta + alpha, for X an N x K
 * matrix (data or var), alpha a scalar or an N-vector, beta a K-vector:
 *   bernoulli_logit_glm(y | X, alpha, beta) = sum bernoulli_logit(y | eta),
 *   poisson_log_glm(y | X, alpha, beta)     = sum poisson_log(y | eta),
 *   normal_id_glm(y | X, alpha, beta, sigma) = sum normal(y | eta, sigma).
 * With data X the whole evaluation is one pass over X in row blocks that stay in cache:
 * eta, the log density and X^T d/d eta are formed block by block, so X is read from memory
 * once per gradient.
 */
ps_status ps_ad_bernoulli_logit_glm_lpmf(ps_ad_tape *tape, ps_adi y, ps_adv X, ps_adv alpha,
                                         ps_adv beta, bool propto, ps_adv *out);
ps_status ps_ad_poisson_log_glm_lpmf(ps_ad_tape *tape, ps_adi y, ps_adv X, ps_adv alpha,
                                     ps_adv beta, bool propto, ps_adv *out);
ps_status ps_ad_normal_id_glm_lpdf(ps_ad_tape *tape, ps_adv y, ps_adv X, ps_adv alpha, ps_adv beta,
                                   ps_adv sigma, bool propto, ps_adv *out);

#endif
