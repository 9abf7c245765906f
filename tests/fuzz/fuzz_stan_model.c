/*
 * libFuzzer harness for the compiled Stan model: lowering, transformed data, transforms and
 * evaluation of data-independent programs (any data block makes construction fail with a
 * data error, which is a result too). A program that compiles is evaluated at two points:
 * log density with gradient, without, and the constrained output, each twice (the results
 * must be bit-identical: no uninitialised state). Loops and container sizes are bounded
 * (sm_options) so that a program like `while (1) {}` ends with an error instead of hanging
 * the fuzzer.
 *
 * Invariants: construction gives a model or PS_ERR_MODEL / PS_ERR_DATA / PS_ERR_MEM with a
 * message; an evaluation gives PS_OK, a rejection (PS_ERR_NUMERIC, message in the
 * workspace) or a located PS_ERR_MODEL / PS_ERR_MEM. PS_ERR_INTERNAL or anything else
 * aborts, and so does any crash the sanitizers see.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/stan_impl.h"

static void fail(const char *what, ps_status st)
{
    fprintf(stderr, "fuzz_stan_model: invariant violated: %s (status %d: %s)\n", what, st,
            ps_error_message());
    abort();
}

static void check_eval_status(ps_status st, const char *what)
{
    if (st == PS_OK || st == PS_ERR_NUMERIC || st == PS_ERR_MEM)
        return;
    if (st == PS_ERR_MODEL) {
        if (ps_error_message()[0] == '\0')
            fail("fatal evaluation error without a message", st);
        return;
    }
    fail(what, st);
}

static bool same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

static void evaluate(const ps_model *m)
{
    size_t d = ps_model_dim(m), n_out = ps_model_output_size(m);
    if (d > 2000 || n_out > 20000)
        return;
    ps_model_workspace *ws = NULL;
    ps_status st = ps_model_workspace_create(m, &ws);
    if (st != PS_OK) {
        if (st != PS_ERR_MEM)
            fail("workspace creation", st);
        return;
    }
    double *theta = calloc(d + 1, sizeof(double)), *g1 = calloc(d + 1, sizeof(double)),
           *g2 = calloc(d + 1, sizeof(double)), *o1 = calloc(n_out + 1, sizeof(double)),
           *o2 = calloc(n_out + 1, sizeof(double));
    for (int point = 0; point < 2; point++) {
        for (size_t i = 0; i < d; i++)
            theta[i] = point == 0 ? 0.0 : 0.37 * (double)((int)(i % 5) - 2);
        double lp1 = 0, lp2 = 0;
        ps_status s1 = ps_model_log_density_gradient(m, ws, theta, &lp1, g1);
        check_eval_status(s1, "log_density_gradient");
        ps_error_clear();
        ps_status s2 = ps_model_log_density_gradient(m, ws, theta, &lp2, g2);
        ps_error_clear();
        if (s1 != s2 || (s1 == PS_OK && !same(lp1, lp2)))
            fail("two evaluations at one point differ", s2);
        for (size_t i = 0; s1 == PS_OK && i < d; i++)
            if (!same(g1[i], g2[i]))
                fail("two gradients at one point differ", s1);
        double lp3 = 0;
        ps_status s3 = ps_model_log_density(m, ws, theta, &lp3);
        check_eval_status(s3, "log_density");
        ps_error_clear();
        if (s1 == PS_OK && s3 == PS_OK && !same(lp1, lp3) && !(fabs(lp1 - lp3) <= 1e-9 * fabs(lp1)))
            fail("log density with and without gradient differ", s3);
        ps_status s4 = ps_model_constrain(m, ws, theta, o1);
        check_eval_status(s4, "constrain");
        ps_error_clear();
        ps_status s5 = ps_model_constrain(m, ws, theta, o2);
        ps_error_clear();
        if (s4 != s5)
            fail("two constrains differ in status", s5);
        for (size_t i = 0; s4 == PS_OK && i < n_out; i++)
            if (!same(o1[i], o2[i]))
                fail("two constrains differ", s4);
    }
    free(theta);
    free(g1);
    free(g2);
    free(o1);
    free(o2);
    ps_model_workspace_destroy(&ws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init = false;
    if (!init) {
        ps_log_set_level(PS_LOG_ERROR);
        init = true;
    }
    sm_options opt;
    memset(&opt, 0, sizeof opt);
    opt.stan_path = "fuzz.stan";
    opt.text = (const char *)data;
    opt.text_len = size;
    opt.loop_budget = 20000;
    opt.max_elements = 20000;
    opt.quiet = true;
    ps_model *m = NULL;
    ps_error_clear();
    ps_status st = sm_model_create(&opt, &m);
    if (st == PS_OK) {
        if (m == NULL)
            fail("no model after success", st);
        evaluate(m);
        ps_model_destroy(&m);
    } else {
        if (m != NULL)
            fail("a model after a failure", st);
        if (st != PS_ERR_MODEL && st != PS_ERR_DATA && st != PS_ERR_MEM)
            fail("construction failed with an unexpected status", st);
        if (ps_error_message()[0] == '\0')
            fail("construction failed without a message", st);
    }
    ps_error_clear();
    return 0;
}
