/*
 * Micro-benchmark of the autodiff engine (a program, not a test): microseconds per log
 * density + gradient evaluation for the benchmark models of ../shared/bench, built
 * directly with the ps_ad API on synthetic data of the same sizes, next to Stan's
 * "grad us net" from ../shared/bench/baseline.md, with the arithmetic lower bound (FLOPs
 * and bytes of data that one gradient must touch).
 *
 * Usage: bench_ad [seconds per model (default 1)] [model name (default all)]
 * Each figure is the median of 5 repetitions, each at least seconds/5 of thread CPU time,
 * after a warm-up; OpenBLAS runs single-threaded as it does inside a chain.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ad/ad.h"
#include "math/dens.h"
#include "math/transform.h"

void openblas_set_num_threads(int n);

static uint64_t rng_state = 20241124;

static double unif(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = unif(), v = unif();
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* Thread CPU time: the machine is shared, and time spent descheduled is not the
 * engine's. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef ps_status (*model_fn)(ps_ad_tape *tape, const double *theta, double *lp, double *grad);

/* ---------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------- */

static const double zero = 0.0, one = 1.0, two = 2.0, two5 = 2.5, three = 3.0, five = 5.0;
#define C(x) ps_ad_data(&(x), 1, 1)

/* Priors normal(0, s) on a segment, propto (the ~ form). */
static ps_status prior(ps_ad_tape *tape, ps_adv x, const double *s)
{
    ps_adv lp;
    PS_CHECK(ps_ad_normal_lpdf(tape, x, C(zero), ps_ad_data(s, 1, 1), true, &lp));
    return ps_ad_target_add(tape, lp);
}

static ps_status finish(ps_ad_tape *tape, ps_adv th, size_t n, double *lp, double *grad)
{
    PS_CHECK(ps_ad_tape_grad(tape));
    *lp = ps_ad_target(tape);
    memcpy(grad, th.a, n * sizeof(double));
    return PS_OK;
}

/* logistic_regression: N 5000, D 25, bernoulli_logit_glm. */
#define LR_N 5000
#define LR_D 25
static double *lr_X;
static int *lr_y;

static ps_status logistic(ps_ad_tape *tape, const double *theta, double *lp, double *grad)
{
    ps_ad_tape_begin(tape, true);
    ps_adv th, alpha, beta, l;
    PS_CHECK(ps_ad_params(tape, theta, 1 + LR_D, &th));
    PS_CHECK(ps_ad_segment(th, 1, 1, &alpha));
    PS_CHECK(ps_ad_segment(th, 2, LR_D, &beta));
    PS_CHECK(prior(tape, alpha, &two5));
    PS_CHECK(prior(tape, beta, &two5));
    PS_CHECK(ps_ad_bernoulli_logit_glm_lpmf(tape, ps_ad_int_data(lr_y, LR_N),
                                            ps_ad_data(lr_X, LR_N, LR_D), alpha, beta, true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    return finish(tape, th, 1 + LR_D, lp, grad);
}

/* poisson_glm: N 2000, K 10, target += poisson_log_glm_lpmf (all terms). */
#define PG_N 2000
#define PG_K 10
static double *pg_X;
static int *pg_y;

static ps_status poisson(ps_ad_tape *tape, const double *theta, double *lp, double *grad)
{
    ps_ad_tape_begin(tape, true);
    ps_adv th, alpha, beta, l;
    PS_CHECK(ps_ad_params(tape, theta, 1 + PG_K, &th));
    PS_CHECK(ps_ad_segment(th, 1, 1, &alpha));
    PS_CHECK(ps_ad_segment(th, 2, PG_K, &beta));
    PS_CHECK(prior(tape, alpha, &two5));
    PS_CHECK(prior(tape, beta, &two5));
    PS_CHECK(ps_ad_poisson_log_glm_lpmf(tape, ps_ad_int_data(pg_y, PG_N),
                                        ps_ad_data(pg_X, PG_N, PG_K), alpha, beta, false, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    return finish(tape, th, 1 + PG_K, lp, grad);
}

/* gauss100_corr: x ~ multi_normal_cholesky(0, L) with L = cholesky(Sigma) from data. */
#define G_D 100
static double *g_L, *g_mu;

static ps_status gauss100(ps_ad_tape *tape, const double *theta, double *lp, double *grad)
{
    ps_ad_tape_begin(tape, true);
    ps_adv th, l;
    PS_CHECK(ps_ad_params(tape, theta, G_D, &th));
    PS_CHECK(ps_ad_multi_normal_cholesky_lpdf(tape, th, ps_ad_data(g_mu, G_D, 1),
                                              ps_ad_data(g_L, G_D, G_D), true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    return finish(tape, th, G_D, lp, grad);
}

/* hier_linear_regression: N 2000, J 50. */
#define H_N 2000
#define H_J 50
static double *h_x, *h_y;
static int *h_g;

static ps_status hier(ps_ad_tape *tape, const double *theta, double *lp, double *grad)
{
    ps_ad_tape_begin(tape, true);
    ps_adv th, mu_a, mu_b, sc, za, zb, tau_a, tau_b, sigma, a, b, ag, bg, mu, l;
    PS_CHECK(ps_ad_params(tape, theta, 5 + 2 * H_J, &th));
    PS_CHECK(ps_ad_segment(th, 1, 1, &mu_a));
    PS_CHECK(ps_ad_segment(th, 2, 1, &mu_b));
    PS_CHECK(ps_ad_segment(th, 3, 3, &sc));
    PS_CHECK(ps_ad_bounds_constrain(tape, sc, C(zero), ps_ad_no_bound(), true, &sc));
    PS_CHECK(ps_ad_segment(sc, 1, 1, &tau_a));
    PS_CHECK(ps_ad_segment(sc, 2, 1, &tau_b));
    PS_CHECK(ps_ad_segment(sc, 3, 1, &sigma));
    PS_CHECK(ps_ad_segment(th, 6, H_J, &za));
    PS_CHECK(ps_ad_segment(th, 6 + H_J, H_J, &zb));
    PS_CHECK(ps_ad_fma(tape, mu_a, tau_a, za, &a));
    PS_CHECK(ps_ad_fma(tape, mu_b, tau_b, zb, &b));
    PS_CHECK(prior(tape, mu_a, &five));
    PS_CHECK(prior(tape, mu_b, &five));
    PS_CHECK(prior(tape, sc, &two));
    PS_CHECK(ps_ad_std_normal_lpdf(tape, za, true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    PS_CHECK(ps_ad_std_normal_lpdf(tape, zb, true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    PS_CHECK(ps_ad_gather(tape, a, ps_ad_int_data(h_g, H_N), &ag));
    PS_CHECK(ps_ad_gather(tape, b, ps_ad_int_data(h_g, H_N), &bg));
    PS_CHECK(ps_ad_fma(tape, ag, bg, ps_ad_data(h_x, H_N, 1), &mu));
    PS_CHECK(ps_ad_normal_lpdf(tape, ps_ad_data(h_y, H_N, 1), mu, sigma, true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    return finish(tape, th, 5 + 2 * H_J, lp, grad);
}

/* The same model written as scalar code, the way a Stan loop
 * `for (n in 1:N) y[n] ~ normal(a[g[n]] + b[g[n]] * x[n], sigma_y);` lowers: four small
 * nodes per observation instead of five vector nodes in all. */
static ps_status hier_scalar(ps_ad_tape *tape, const double *theta, double *lp, double *grad)
{
    ps_ad_tape_begin(tape, true);
    ps_adv th, mu_a, mu_b, sc, za, zb, tau_a, tau_b, sigma, a, b, l;
    PS_CHECK(ps_ad_params(tape, theta, 5 + 2 * H_J, &th));
    PS_CHECK(ps_ad_segment(th, 1, 1, &mu_a));
    PS_CHECK(ps_ad_segment(th, 2, 1, &mu_b));
    PS_CHECK(ps_ad_segment(th, 3, 3, &sc));
    PS_CHECK(ps_ad_bounds_constrain(tape, sc, C(zero), ps_ad_no_bound(), true, &sc));
    PS_CHECK(ps_ad_segment(sc, 1, 1, &tau_a));
    PS_CHECK(ps_ad_segment(sc, 2, 1, &tau_b));
    PS_CHECK(ps_ad_segment(sc, 3, 1, &sigma));
    PS_CHECK(ps_ad_segment(th, 6, H_J, &za));
    PS_CHECK(ps_ad_segment(th, 6 + H_J, H_J, &zb));
    PS_CHECK(ps_ad_fma(tape, mu_a, tau_a, za, &a));
    PS_CHECK(ps_ad_fma(tape, mu_b, tau_b, zb, &b));
    PS_CHECK(prior(tape, mu_a, &five));
    PS_CHECK(prior(tape, mu_b, &five));
    PS_CHECK(prior(tape, sc, &two));
    PS_CHECK(ps_ad_std_normal_lpdf(tape, za, true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    PS_CHECK(ps_ad_std_normal_lpdf(tape, zb, true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    for (int n = 0; n < H_N; n++) {
        ps_adv an, bn, bx, mu;
        PS_CHECK(ps_ad_elem(a, h_g[n], &an));
        PS_CHECK(ps_ad_elem(b, h_g[n], &bn));
        PS_CHECK(ps_ad_mul(tape, bn, ps_ad_data(h_x + n, 1, 1), &bx));
        PS_CHECK(ps_ad_add(tape, an, bx, &mu));
        PS_CHECK(ps_ad_normal_lpdf(tape, ps_ad_data(h_y + n, 1, 1), mu, sigma, true, &l));
        PS_CHECK(ps_ad_target_add(tape, l));
    }
    return finish(tape, th, 5 + 2 * H_J, lp, grad);
}

/* eight_schools_noncentered: J 8. */
static const double es_y[8] = {28, 8, -3, 7, -1, 1, 18, 12};
static const double es_sigma[8] = {15, 10, 16, 11, 9, 11, 10, 18};

static ps_status eight_schools(ps_ad_tape *tape, const double *theta, double *lp, double *grad)
{
    ps_ad_tape_begin(tape, true);
    ps_adv th, mu, tau, tt, t, l;
    PS_CHECK(ps_ad_params(tape, theta, 10, &th));
    PS_CHECK(ps_ad_segment(th, 1, 1, &mu));
    PS_CHECK(ps_ad_segment(th, 2, 1, &tau));
    PS_CHECK(ps_ad_bounds_constrain(tape, tau, C(zero), ps_ad_no_bound(), true, &tau));
    PS_CHECK(ps_ad_segment(th, 3, 8, &tt));
    PS_CHECK(ps_ad_fma(tape, mu, tau, tt, &t));
    PS_CHECK(prior(tape, mu, &five));
    PS_CHECK(ps_ad_cauchy_lpdf(tape, tau, C(zero), C(five), true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    PS_CHECK(prior(tape, tt, &one));
    PS_CHECK(
        ps_ad_normal_lpdf(tape, ps_ad_data(es_y, 8, 1), t, ps_ad_data(es_sigma, 8, 1), true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    return finish(tape, th, 10, lp, grad);
}

/* neal_funnel10: v ~ normal(0, 3); x ~ normal(0, exp(v / 2)). */
static ps_status funnel(ps_ad_tape *tape, const double *theta, double *lp, double *grad)
{
    static const double half = 0.5;
    ps_ad_tape_begin(tape, true);
    ps_adv th, v, x, s, l;
    PS_CHECK(ps_ad_params(tape, theta, 10, &th));
    PS_CHECK(ps_ad_segment(th, 1, 1, &v));
    PS_CHECK(ps_ad_segment(th, 2, 9, &x));
    PS_CHECK(prior(tape, v, &three));
    PS_CHECK(ps_ad_mul(tape, v, C(half), &s));
    PS_CHECK(ps_ad_unary(tape, PS_AD_EXP, s, &s));
    PS_CHECK(ps_ad_normal_lpdf(tape, x, C(zero), s, true, &l));
    PS_CHECK(ps_ad_target_add(tape, l));
    return finish(tape, th, 10, lp, grad);
}

/* ---------------------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------------------- */

static void make_data(void)
{
    lr_X = malloc(sizeof(double) * LR_N * LR_D);
    lr_y = malloc(sizeof(int) * LR_N);
    for (int i = 0; i < LR_N * LR_D; i++)
        lr_X[i] = gauss();
    for (int i = 0; i < LR_N; i++)
        lr_y[i] = unif() < 0.5;
    pg_X = malloc(sizeof(double) * PG_N * PG_K);
    pg_y = malloc(sizeof(int) * PG_N);
    for (int i = 0; i < PG_N * PG_K; i++)
        pg_X[i] = 0.3 * gauss();
    for (int i = 0; i < PG_N; i++)
        pg_y[i] = (int)(unif() * 6);
    /* Sigma = Q diag(eigenvalues from 1 to 1e4) Q^T is not needed for timing: any
     * well-scaled lower-triangular L with a positive diagonal has the same cost. */
    g_L = calloc(G_D * G_D, sizeof(double));
    g_mu = calloc(G_D, sizeof(double));
    for (int c = 0; c < G_D; c++)
        for (int r = c; r < G_D; r++)
            g_L[r + c * G_D] = r == c ? 1.0 + unif() : 0.1 * gauss();
    h_x = malloc(sizeof(double) * H_N);
    h_y = malloc(sizeof(double) * H_N);
    h_g = malloc(sizeof(int) * H_N);
    for (int i = 0; i < H_N; i++) {
        h_x[i] = gauss();
        h_y[i] = gauss();
        h_g[i] = 1 + (int)(unif() * H_J);
    }
}

/* ---------------------------------------------------------------------------------------
 * Timing
 * ------------------------------------------------------------------------------------- */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double time_model(model_fn fn, size_t dim, double seconds)
{
    ps_ad_tape *tape;
    if (ps_ad_tape_create(&tape) != PS_OK)
        return -1.0;
    double *theta = malloc(dim * sizeof(double)), *grad = malloc(dim * sizeof(double)), lp;
    for (size_t i = 0; i < dim; i++)
        theta[i] = 0.1 * gauss();
    for (int i = 0; i < 20; i++)
        if (fn(tape, theta, &lp, grad) != PS_OK) {
            fprintf(stderr, "evaluation failed: %s%s\n", ps_error_message(),
                    ps_ad_tape_message(tape));
            return -1.0;
        }
    long alloc_before = ps_fault_alloc_count();
    double reps[5];
    for (int r = 0; r < 5; r++) {
        long n = 0;
        double t0 = now(), t1;
        do {
            for (int k = 0; k < 20; k++) {
                theta[(size_t)(n + k) % dim] += 1e-9;
                fn(tape, theta, &lp, grad);
            }
            n += 20;
            t1 = now();
        } while (t1 - t0 < seconds / 5.0);
        reps[r] = (t1 - t0) / (double)n * 1e6;
    }
    if (ps_fault_alloc_count() != alloc_before)
        fprintf(stderr, "warning: allocations during timing\n");
    qsort(reps, 5, sizeof reps[0], cmp);
    ps_ad_tape_destroy(&tape);
    free(theta);
    free(grad);
    return reps[2];
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    openblas_set_num_threads(1);
    make_data();
    struct {
        const char *name;
        model_fn fn;
        size_t dim;
        double stan_net;
        double flops, bytes;
    } models[] = {
        /* FLOPs: 2ND for X beta and 2ND for X^T d (plus O(N) elementwise); bytes: X once. */
        {"logistic_regression", logistic, 1 + LR_D, 74.9, 4.0 * LR_N * LR_D,
         8.0 * LR_N * LR_D + 4.0 * LR_N},
        {"poisson_glm", poisson, 1 + PG_K, 45.7, 4.0 * PG_N * PG_K, 8.0 * PG_N * PG_K + 4.0 * PG_N},
        /* Two triangular solves with L: 2 D^2 FLOPs, L's lower triangle 8 D^2 / 2 bytes. */
        {"gauss100_corr", gauss100, G_D, 76.9, 2.0 * G_D * G_D, 4.0 * G_D * G_D},
        /* Per observation ~6 FLOPs forward, ~6 backward; x, y, g read once. */
        {"hier_linear_regression", hier, 5 + 2 * H_J, 44.0, 12.0 * H_N, 20.0 * H_N},
        {"hier (scalar loop)", hier_scalar, 5 + 2 * H_J, 44.0, 12.0 * H_N, 20.0 * H_N},
        {"eight_schools_noncentered", eight_schools, 10, 0.998, 100.0, 128.0},
        {"neal_funnel10", funnel, 10, 0.01, 60.0, 0.0},
    };
    printf("%-27s %10s %12s %8s %12s %12s\n", "model", "us/grad", "Stan net us", "speedup", "FLOPs",
           "data bytes");
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        if (argc > 2 && strcmp(argv[2], models[m].name) != 0)
            continue;
        double us = time_model(models[m].fn, models[m].dim, seconds);
        printf("%-27s %10.3f %12.3f %7.1fx %12.0f %12.0f\n", models[m].name, us, models[m].stan_net,
               models[m].stan_net / us, models[m].flops, models[m].bytes);
    }
    return 0;
}
