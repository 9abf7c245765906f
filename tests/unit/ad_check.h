/*
 * Gradient checking for autodiff tests: a function of the parameter vector theta is built
 * on a tape, projected to a scalar with fixed pseudo-random weights (so every output
 * element matters), and its reverse-mode gradient is compared with a fourth-order central
 * finite difference of value-only evaluations.
 *
 * Step: h = 1e-3 max(1, |theta_i|); the five-point stencil has truncation error
 * O(h^4 f^(5)) ~ 1e-12 and rounding error ~ eps |f| / h ~ 1e-13 |f|, so a tolerance of
 * 1e-6 relative (with an absolute floor scaled by the gradient's norm) leaves margin while
 * still catching any wrong derivative term.
 */
#ifndef PS_TEST_AD_CHECK_H
#define PS_TEST_AD_CHECK_H

#include <stdint.h>

#include "ad/ad.h"
#include "testlib.h"

typedef ps_status (*check_build)(ps_ad_tape *tape, ps_adv theta, void *ctx, ps_adv *out);

/* A small deterministic generator (splitmix64) for test points. */
static uint64_t check_rng_state = 0x9e3779b97f4a7c15ull;

static inline double check_uniform(double lo, double hi)
{
    uint64_t z = (check_rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * ((double)(z >> 11) / 9007199254740992.0);
}

#define CHECK_MAX_OUT 4096
static double check_weights[CHECK_MAX_OUT];

static inline void check_init_weights(void)
{
    for (int i = 0; i < CHECK_MAX_OUT; i++)
        check_weights[i] = 0.5 + 0.5 * (double)((i * 7919) % 13) / 13.0 - 0.25 * (i % 2);
}

/* Evaluates sum_i w_i out_i; with grad != NULL also its gradient. Returns the status. */
static inline ps_status check_eval(ps_ad_tape *tape, check_build build, void *ctx,
                                   const double *theta, size_t n, double *value, double *grad)
{
    ps_ad_tape_begin(tape, grad != NULL);
    ps_adv th, out, w, prod;
    ps_status status = ps_ad_params(tape, theta, n, &th);
    if (status == PS_OK)
        status = build(tape, th, ctx, &out);
    if (status != PS_OK)
        return status;
    size_t m = ps_adv_size(out);
    if (m > CHECK_MAX_OUT)
        return PS_ERR_INTERNAL;
    w = ps_ad_data(check_weights, out.rows, out.cols);
    PS_CHECK(ps_ad_mul(tape, out, w, &prod));
    PS_CHECK(ps_ad_target_add(tape, prod));
    *value = ps_ad_target(tape);
    if (grad != NULL) {
        PS_CHECK(ps_ad_tape_grad(tape));
        for (size_t i = 0; i < n; i++)
            grad[i] = th.a[i];
    }
    return PS_OK;
}

/* Compares the gradient at theta with finite differences; reports failures with `name`.
 * Returns the largest relative error. */
static inline double check_gradient(const char *name, check_build build, void *ctx,
                                    const double *theta, size_t n, double tol)
{
    ps_ad_tape *tape = NULL;
    double worst = 0.0;
    if (ps_ad_tape_create(&tape) != PS_OK) {
        CHECK(0, "%s: could not create a tape", name);
        return 1.0;
    }
    double grad[256], value = 0.0, value_only = 0.0, x[256];
    if (n > 256) {
        CHECK(0, "%s: too many parameters for the checker", name);
        ps_ad_tape_destroy(&tape);
        return 1.0;
    }
    ps_status st = check_eval(tape, build, ctx, theta, n, &value, grad);
    CHECK(st == PS_OK, "%s: evaluation with gradient failed (status %d, %s%s)", name, (int)st,
          ps_error_message(), ps_ad_tape_message(tape));
    if (st != PS_OK) {
        ps_ad_tape_destroy(&tape);
        return 1.0;
    }
    st = check_eval(tape, build, ctx, theta, n, &value_only, NULL);
    CHECK(st == PS_OK && value_only == value,
          "%s: value-only evaluation gave %.17g, the gradient evaluation %.17g", name, value_only,
          value);
    double gnorm = 0.0;
    for (size_t i = 0; i < n; i++)
        gnorm = fmax(gnorm, fabs(grad[i]));
    for (size_t i = 0; i < n; i++) {
        memcpy(x, theta, n * sizeof(double));
        double h = 1e-3 * fmax(1.0, fabs(theta[i]));
        double f[4];
        const double steps[4] = {-2.0, -1.0, 1.0, 2.0};
        for (int k = 0; k < 4; k++) {
            x[i] = theta[i] + steps[k] * h;
            st = check_eval(tape, build, ctx, x, n, &f[k], NULL);
            if (st != PS_OK)
                break;
        }
        CHECK(st == PS_OK, "%s: finite-difference evaluation failed at coordinate %zu", name, i);
        if (st != PS_OK)
            break;
        double fd = (8.0 * (f[2] - f[1]) - (f[3] - f[0])) / (12.0 * h);
        double err = fabs(fd - grad[i]) / fmax(fmax(1.0, fabs(fd)), 1e-3 * gnorm);
        worst = fmax(worst, err);
        CHECK(err <= tol,
              "%s: d/dtheta[%zu] is %.12g by reverse mode, %.12g by finite "
              "differences (rel. error %.2g > %.2g)",
              name, i, grad[i], fd, err, tol);
    }
    ps_ad_tape_destroy(&tape);
    return worst;
}

#endif
