/*
 * Bad input for the chain: models that are non-finite or reject everywhere (initialisation
 * fails with an error naming the chain, the attempts and the last value), that fail in a
 * region (a divergence mid-trajectory, never a crash, never a draw in the region), that are
 * improper or nowhere continuous (the step-size heuristic's errors), and metrics that are
 * not positive definite or not finite (repaired with a warning).
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"
#include "testlib.h"
#include "unit/mcmc_models.h"

static ps_chain *create(const ps_model *model, const char *algo, ps_metric_kind kind,
                        int64_t warmup, uint64_t id, bool pooled)
{
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.algorithm = algo;
    s.metric = kind;
    s.warmup = warmup;
    s.seed = 31;
    s.chain_id = id;
    s.pooled_metric = pooled;
    ps_chain *chain = NULL;
    CHECK(ps_chain_create(model, &s, &chain) == PS_OK, "create failed: %s", ps_error_message());
    return chain;
}

static void test_init_failures(void)
{
    struct {
        test_fault fault;
        double threshold;
        const char *algo;
        const char *want[3];
    } cases[] = {
        {FAULT_NAN_EVERYWHERE, 0.0, "nuts", {"chain 7:", "in 100 attempts", "log density = nan"}},
        {FAULT_NAN_GRAD_ALWAYS,
         0.0,
         "nuts",
         {"chain 7:", "gradient[1] (theta_unc.2) = nan", "and gradient"}},
        {FAULT_REJECT_REGION, -INFINITY, "hmc", {"chain 7:", "rejected the point", "exceeds -inf"}},
        {FAULT_NAN_EVERYWHERE,
         0.0,
         "metropolis",
         {"chain 7:", "in 100 attempts", "uniform(-2, 2)"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ps_model *model = NULL;
        test_gauss *impl = NULL;
        CHECK(test_gauss_create(2, NULL, NULL, NULL, cases[k].fault, cases[k].threshold, &model,
                                &impl) == PS_OK,
              "model create failed");
        ps_chain *chain = create(model, cases[k].algo, PS_METRIC_DIAG, 100, 7, false);
        ps_error_clear();
        ps_status st = chain ? ps_chain_init(chain, NULL) : PS_ERR_INTERNAL;
        CHECK(st == PS_ERR_NUMERIC, "case %zu: init returned %d, expected PS_ERR_NUMERIC", k,
              (int)st);
        for (int w = 0; w < 3; w++)
            CHECK_STR_CONTAINS(ps_error_message(), cases[k].want[w]);
        CHECK(impl->evaluations == 100, "case %zu: %ld evaluations, expected 100 attempts", k,
              impl->evaluations);
        ps_error_clear();
        /* A given initial point is tried once. */
        impl->evaluations = 0;
        double init[2] = {0.1, 0.2};
        CHECK(chain && ps_chain_init(chain, init) == PS_ERR_NUMERIC, "bad given init accepted");
        CHECK_STR_CONTAINS(ps_error_message(), "given initial values are not usable");
        CHECK(impl->evaluations == 1, "given init evaluated %ld times", impl->evaluations);
        ps_error_clear();
        ps_chain_destroy(&chain);
        ps_model_destroy(&model);
    }
    /* Metropolis needs no gradient: a NaN gradient does not stop it. */
    ps_model *model = NULL;
    CHECK(test_gauss_create(2, NULL, NULL, NULL, FAULT_NAN_GRAD_ALWAYS, 0.0, &model, NULL) == PS_OK,
          "model create failed");
    ps_chain *chain = create(model, "metropolis", PS_METRIC_DIAG, 100, 1, false);
    CHECK(chain && ps_chain_init(chain, NULL) == PS_OK, "metropolis refused a NaN gradient: %s",
          ps_error_message());
    ps_error_clear();
    ps_chain_destroy(&chain);
    ps_model_destroy(&model);
}

/* Failures in the region x[0] > 0.5 of a standard normal: divergences, no crash, no draw
 * in the region, finite log densities throughout. */
static void test_mid_trajectory(void)
{
    const test_fault faults[3] = {FAULT_REJECT_REGION, FAULT_NAN_GRAD_REGION, FAULT_INF_LP_REGION};
    const char *algos[3] = {"nuts", "hmc", "metropolis"};
    for (int f = 0; f < 3; f++)
        for (int a = 0; a < 3; a++) {
            ps_model *model = NULL;
            CHECK(test_gauss_create(2, NULL, NULL, NULL, faults[f], 0.5, &model, NULL) == PS_OK,
                  "model create failed");
            ps_chain *chain = create(model, algos[a], PS_METRIC_DIAG, 200, 2, false);
            if (chain && strcmp(algos[a], "hmc") == 0) {
                /* Static HMC rejects most trajectories that cross the region whatever the
                 * step size, so dual averaging would shrink the step (and lengthen L)
                 * without end: run it at a fixed step size. */
                ps_chain_destroy(&chain);
                ps_chain_settings s;
                ps_chain_settings_default(&s);
                s.algorithm = "hmc";
                s.adapt = false;
                s.step_size = 0.25;
                s.int_time = 1.0;
                s.chain_id = 2;
                CHECK(ps_chain_create(model, &s, &chain) == PS_OK, "create failed");
            }
            double init[2] = {-0.5, 0.3};
            ps_status st = chain ? ps_chain_init(chain, init) : PS_ERR_INTERNAL;
            CHECK(st == PS_OK, "init failed: %s", ps_error_message());
            int divergent = 0, in_region = 0, bad_lp = 0;
            for (int it = 0; it < 400 && st == PS_OK; it++) {
                ps_iter_stats stats;
                st = ps_chain_step(chain, &stats);
                CHECK(st == PS_OK, "fault %d, %s: step %d failed: %s", (int)faults[f], algos[a], it,
                      ps_error_message());
                divergent += stats.diverging;
                in_region += ps_chain_position(chain)[0] > 0.5;
                bad_lp += !isfinite(stats.lp) || !isfinite(stats.energy);
            }
            /* Metropolis never looks at gradients, so a NaN gradient does not keep it out. */
            bool gradient_only = faults[f] == FAULT_NAN_GRAD_REGION && a == 2;
            CHECK(gradient_only ? in_region > 0 : in_region == 0,
                  "fault %d, %s: %d draws in the failing region", (int)faults[f], algos[a],
                  in_region);
            CHECK(bad_lp == 0, "fault %d, %s: %d non-finite lp/energy", (int)faults[f], algos[a],
                  bad_lp);
            if (strcmp(algos[a], "metropolis") != 0)
                CHECK(divergent > 0, "fault %d, %s: no divergence recorded", (int)faults[f],
                      algos[a]);
            ps_error_clear();
            ps_chain_destroy(&chain);
            ps_model_destroy(&model);
        }
}

static void test_stepsize_heuristic_errors(void)
{
    /* Flat (improper) density: every step is accepted, the step size doubles past 1e7. */
    ps_model *model = NULL;
    double zero[4] = {0, 0, 0, 0};
    CHECK(test_gauss_create(2, NULL, zero, NULL, FAULT_NONE, 0.0, &model, NULL) == PS_OK,
          "model create failed");
    ps_chain *chain = create(model, "nuts", PS_METRIC_DIAG, 100, 4, false);
    ps_error_clear();
    CHECK(chain && ps_chain_init(chain, NULL) == PS_ERR_NUMERIC, "improper posterior accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "chain 4: the step size grew beyond 1e7");
    CHECK_STR_CONTAINS(ps_error_message(), "posterior is improper");
    ps_error_clear();
    ps_chain_destroy(&chain);
    ps_model_destroy(&model);

    /* Finite only at the initial point: every step fails, the step size halves to 0. */
    CHECK(test_gauss_create(2, NULL, NULL, NULL, FAULT_NAN_AFTER_FIRST, 0.0, &model, NULL) == PS_OK,
          "model create failed");
    chain = create(model, "hmc", PS_METRIC_DIAG, 100, 4, false);
    double init[2] = {0.25, 0.25};
    CHECK(chain && ps_chain_init(chain, init) == PS_ERR_NUMERIC, "nowhere-continuous accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "no acceptably small step size");
    ps_error_clear();
    ps_chain_destroy(&chain);
    ps_model_destroy(&model);
}

/* A metric that is not positive definite or not finite after a window: repaired with a
 * warning, sampling goes on. */
static void test_bad_metric(void)
{
    ps_model *model = NULL;
    CHECK(test_gauss_create(2, NULL, NULL, NULL, FAULT_NONE, 0.0, &model, NULL) == PS_OK,
          "model create failed");
    for (int dense = 0; dense <= 1; dense++) {
        ps_chain *chain =
            create(model, "nuts", dense ? PS_METRIC_DENSE : PS_METRIC_DIAG, 200, 8, true);
        CHECK(chain && ps_chain_init(chain, NULL) == PS_OK, "init failed");
        int installs = 0;
        for (int it = 0; it < 300 && chain; it++) {
            ps_iter_stats st;
            CHECK(ps_chain_step(chain, &st) == PS_OK, "step %d failed: %s", it, ps_error_message());
            if (ps_chain_window_pending(chain)) {
                double indefinite[4] = {1.0, 2.0, 2.0, 1.0}, diag_bad[2] = {NAN, -2.0};
                CHECK(ps_chain_install_metric(chain, dense ? indefinite : diag_bad) == PS_OK,
                      "install of a bad metric failed: %s", ps_error_message());
                installs++;
            }
        }
        if (!chain)
            continue;
        CHECK(installs == 2, "%d windows with warmup 200, expected 2", installs);
        CHECK(ps_chain_warning_count(chain) == 2, "%d warnings, expected one per bad metric",
              ps_chain_warning_count(chain));
        CHECK_STR_CONTAINS(ps_chain_warning(chain, 0), "chain 8: after warmup iteration");
        CHECK_STR_CONTAINS(ps_chain_warning(chain, 0),
                           dense ? "not positive definite" : "non-finite or non-positive");
        const ps_metric *m = ps_chain_metric(chain);
        for (size_t k = 0; k < ps_metric_size(m->kind, 2); k++)
            CHECK(isfinite(m->inv_metric[k]), "metric element %zu is %g", k, m->inv_metric[k]);
        CHECK(isfinite(ps_chain_step_size(chain)) && ps_chain_step_size(chain) > 0.0,
              "step size %g after bad metrics", ps_chain_step_size(chain));
        ps_chain_destroy(&chain);
    }
    ps_model_destroy(&model);
}

int main(void)
{
    test_init_failures();
    test_mid_trajectory();
    test_stepsize_heuristic_errors();
    test_bad_metric();
    TEST_EXIT();
}
