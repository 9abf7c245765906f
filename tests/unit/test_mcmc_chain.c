/*
 * The chain and its step methods on small C models: the step-method registry and settings
 * checks, leapfrog reversibility and energy conservation, tree-depth bookkeeping, the
 * adaptation flow (end-of-warmup step size, pooled windows equal local windows bit for
 * bit, the window accumulator holds exactly the window's draws), no allocation in steps,
 * exact save/restore at several points, and allocation-failure injection.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"
#include "testlib.h"
#include "unit/mcmc_models.h"

/* Covariance [[1, 0.5], [0.5, 2]] and its precision. */
static const double cov2[4] = {1.0, 0.5, 0.5, 2.0};
static double prec2[4];

static ps_chain *make_chain(const ps_model *model, const char *algorithm, ps_metric_kind metric,
                            int64_t warmup, uint64_t chain_id, bool pooled)
{
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.algorithm = algorithm;
    s.metric = metric;
    s.warmup = warmup;
    s.seed = 2385;
    s.chain_id = chain_id;
    s.pooled_metric = pooled;
    ps_chain *chain = NULL;
    ps_status st = ps_chain_create(model, &s, &chain);
    CHECK(st == PS_OK, "chain create (%s, %s) failed: %s", algorithm, ps_metric_kind_name(metric),
          ps_error_message());
    if (chain) {
        st = ps_chain_init(chain, NULL);
        CHECK(st == PS_OK, "chain init failed: %s", ps_error_message());
    }
    return chain;
}

static void test_registry(const ps_model *model)
{
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    ps_chain *chain = NULL;
    s.algorithm = "nutz";
    ps_error_clear();
    CHECK(ps_chain_create(model, &s, &chain) == PS_ERR_CONFIG && chain == NULL,
          "unknown algorithm accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "unknown sampling algorithm 'nutz'");
    CHECK_STR_CONTAINS(ps_error_message(), "nuts, hmc, metropolis");
    ps_error_clear();
    ps_chain_settings_default(&s);
    s.target_accept = 1.5;
    CHECK(ps_chain_create(model, &s, &chain) == PS_ERR_CONFIG, "target_accept 1.5 accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "target_accept");
    ps_error_clear();
    ps_chain_settings_default(&s);
    s.max_treedepth = 0;
    CHECK(ps_chain_create(model, &s, &chain) == PS_ERR_CONFIG, "max_treedepth 0 accepted");
    ps_error_clear();
    /* Stepping before init is an internal error, not a crash. */
    ps_chain_settings_default(&s);
    CHECK(ps_chain_create(model, &s, &chain) == PS_OK, "default chain not created");
    ps_iter_stats st;
    CHECK(ps_chain_step(chain, &st) == PS_ERR_INTERNAL, "step before init accepted");
    ps_error_clear();
    ps_chain_destroy(&chain);
    CHECK(chain == NULL, "destroy did not clear the handle");
    ps_chain_destroy(&chain);
}

/* Leapfrog on the correlated Gaussian: reversible to rounding, energy error O(eps^2). */
static void test_leapfrog(const ps_model *model, ps_metric_kind kind)
{
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.metric = kind;
    s.adapt = false;
    ps_chain *chain = NULL;
    CHECK(ps_chain_create(model, &s, &chain) == PS_OK, "chain create failed");
    double q0[2] = {0.7, -1.3};
    CHECK(ps_chain_init(chain, q0) == PS_OK, "init at a given point failed");
    if (kind == PS_METRIC_DIAG) {
        double a[2] = {1.0, 2.0};
        CHECK(ps_chain_install_metric(chain, a) == PS_OK, "install diag failed");
    } else if (kind == PS_METRIC_DENSE) {
        CHECK(ps_chain_install_metric(chain, cov2) == PS_OK, "install dense failed");
    }
    double q[2], p[2], ps[2], g[2];
    ps_phase_point z = {q, p, ps, g, 0.0};
    double max_err[2] = {0, 0};
    for (int half = 0; half < 2; half++) {
        double eps = half ? 0.05 : 0.1;
        int steps = half ? 40 : 20;
        memcpy(q, q0, sizeof q);
        bool usable = false;
        CHECK(ps_chain_eval(chain, q, &z.lp, g, &usable) == PS_OK && usable, "eval failed");
        p[0] = 0.3;
        p[1] = -1.1;
        ps_metric_dtau_dp(ps_chain_metric(chain), p, ps);
        double h0 = -z.lp + ps_metric_kinetic(2, p, ps), h = h0;
        for (int k = 0; k < steps; k++) {
            CHECK(ps_leapfrog(chain, &z, eps, &h) == PS_OK, "leapfrog failed");
            max_err[half] = fmax(max_err[half], fabs(h - h0));
        }
        p[0] = -p[0];
        p[1] = -p[1];
        for (int k = 0; k < steps; k++)
            CHECK(ps_leapfrog(chain, &z, eps, &h) == PS_OK, "leapfrog failed");
        CHECK(fabs(q[0] - q0[0]) < 1e-12 && fabs(q[1] - q0[1]) < 1e-12,
              "%s: leapfrog not reversible: q = (%.17g, %.17g), expected (%g, %g)",
              ps_metric_kind_name(kind), q[0], q[1], q0[0], q0[1]);
        CHECK(fabs(-p[0] - 0.3) < 1e-12 && fabs(-p[1] + 1.1) < 1e-12,
              "%s: leapfrog not reversible: p = (%.17g, %.17g), expected (-0.3, 1.1)",
              ps_metric_kind_name(kind), p[0], p[1]);
        CHECK(fabs(h - h0) < 1e-12, "%s: energy after the round trip differs by %g",
              ps_metric_kind_name(kind), h - h0);
    }
    /* Over the same time the energy error of a second-order integrator shrinks ~4x when the
     * step halves. */
    CHECK(max_err[0] < 0.05 && max_err[0] > 0.0, "%s: energy error %g with eps 0.1",
          ps_metric_kind_name(kind), max_err[0]);
    double ratio = max_err[0] / max_err[1];
    CHECK(ratio > 3.0 && ratio < 5.5,
          "%s: energy error ratio for eps 0.1 / 0.05 is %g, expected ~4", ps_metric_kind_name(kind),
          ratio);
    ps_chain_destroy(&chain);
}

/* With a tiny step size every tree reaches the maximum depth: 1 + 2 + ... + 2^(d-1) steps. */
static void test_max_treedepth(const ps_model *model)
{
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.adapt = false;
    s.step_size = 1e-3;
    s.max_treedepth = 5;
    s.metric = PS_METRIC_UNIT;
    ps_chain *chain = NULL;
    CHECK(ps_chain_create(model, &s, &chain) == PS_OK, "chain create failed");
    CHECK(ps_chain_init(chain, NULL) == PS_OK, "init failed");
    for (int it = 0; it < 20; it++) {
        ps_iter_stats st;
        unsigned long long before = ps_chain_gradient_count(chain);
        CHECK(ps_chain_step(chain, &st) == PS_OK, "step failed");
        CHECK(st.tree_depth == 5 && st.reached_max_treedepth && st.n_steps == 31,
              "tree depth %d (max hit %d), %lld steps; expected depth 5 (hit), 31 steps",
              st.tree_depth, st.reached_max_treedepth, (long long)st.n_steps);
        CHECK(ps_chain_gradient_count(chain) - before == 31,
              "a transition of 31 leapfrog steps made %llu gradient evaluations",
              ps_chain_gradient_count(chain) - before);
        CHECK(st.acceptance_rate > 0.9999 && st.acceptance_rate <= 1.0,
              "acceptance %g with step 1e-3", st.acceptance_rate);
        CHECK(st.step_size == 1e-3 && !st.diverging, "step size %g, diverging %d", st.step_size,
              st.diverging);
        CHECK(fabs(st.energy_error) < 1e-4, "energy error %g with step 1e-3", st.energy_error);
    }
    ps_chain_destroy(&chain);

    /* Trees stop at U-turns: with step 0.1 on a Gaussian (period 2 pi in the unit metric
     * along the first axis), trajectories are a fraction of a period, never max depth. */
    s.step_size = 0.1;
    s.max_treedepth = 10;
    CHECK(ps_chain_create(model, &s, &chain) == PS_OK, "chain create failed");
    CHECK(ps_chain_init(chain, NULL) == PS_OK, "init failed");
    double total_steps = 0;
    int max_depth = 0;
    for (int it = 0; it < 200; it++) {
        ps_iter_stats st;
        CHECK(ps_chain_step(chain, &st) == PS_OK, "step failed");
        total_steps += (double)st.n_steps;
        if (st.tree_depth > max_depth)
            max_depth = st.tree_depth;
        int64_t lo = ((int64_t)1 << st.tree_depth) - 1,
                hi = ((int64_t)1 << (st.tree_depth + 1)) - 1;
        CHECK(st.n_steps >= lo && st.n_steps <= hi,
              "depth %d with %lld steps (expected %lld..%lld)", st.tree_depth,
              (long long)st.n_steps, (long long)lo, (long long)hi);
    }
    double mean_length = 0.1 * total_steps / 200.0;
    CHECK(max_depth <= 7 && mean_length > 1.0 && mean_length < 10.0,
          "U-turn: max depth %d, mean trajectory length %g (expected depth <= 7, length 1..10)",
          max_depth, mean_length);
    ps_chain_destroy(&chain);
}

/* Runs n iterations, storing positions and stats; finishes pending windows through a
 * pooled round trip (copy, pack, unpack, regularise, install) when pooled. */
static void run(ps_chain *chain, int n, double *draws, ps_iter_stats *stats)
{
    size_t dim = ps_chain_dim(chain);
    for (int it = 0; it < n; it++) {
        ps_iter_stats st;
        memset(&st, 0, sizeof st);
        ps_status status = ps_chain_step(chain, &st);
        CHECK(status == PS_OK, "step %d failed: %s", it, ps_error_message());
        if (status != PS_OK)
            return;
        if (ps_chain_window_pending(chain)) {
            const ps_welford *acc = ps_chain_window_accumulator(chain);
            ps_welford merged;
            CHECK(ps_welford_init(&merged, dim, acc->dense) == PS_OK, "welford init failed");
            double packed[64];
            ps_welford_pack(acc, packed);
            ps_welford tmp;
            CHECK(ps_welford_init(&tmp, dim, acc->dense) == PS_OK, "welford init failed");
            CHECK(ps_welford_unpack(&tmp, packed) == PS_OK, "unpack failed");
            ps_welford_merge(&merged, &tmp);
            double metric[16];
            CHECK(ps_welford_regularized_metric(&merged, metric), "no metric from the window");
            CHECK(ps_chain_install_metric(chain, metric) == PS_OK, "install failed: %s",
                  ps_error_message());
            ps_welford_fini(&merged);
            ps_welford_fini(&tmp);
        }
        if (draws)
            memcpy(draws + (size_t)it * dim, ps_chain_position(chain), dim * sizeof(double));
        if (stats)
            stats[it] = st;
    }
}

static bool same_stats(const ps_iter_stats *a, const ps_iter_stats *b)
{
    return memcmp(&a->lp, &b->lp, sizeof(double)) == 0 &&
           memcmp(&a->acceptance_rate, &b->acceptance_rate, sizeof(double)) == 0 &&
           memcmp(&a->step_size, &b->step_size, sizeof(double)) == 0 &&
           memcmp(&a->energy, &b->energy, sizeof(double)) == 0 &&
           memcmp(&a->energy_error, &b->energy_error, sizeof(double)) == 0 &&
           a->tree_depth == b->tree_depth && a->n_steps == b->n_steps &&
           a->diverging == b->diverging && a->warmup == b->warmup && a->window_end == b->window_end;
}

enum { N_ITER = 260, WARMUP = 150 };

/* Pooled windows (through pack/merge/install) give the same draws as local windows. */
static void test_pooled_equals_local(const ps_model *model, ps_metric_kind kind)
{
    static double d_local[N_ITER * 2], d_pooled[N_ITER * 2];
    static ps_iter_stats s_local[N_ITER], s_pooled[N_ITER];
    ps_chain *local = make_chain(model, "nuts", kind, WARMUP, 4, false);
    ps_chain *pooled = make_chain(model, "nuts", kind, WARMUP, 4, true);
    if (!local || !pooled)
        goto done;
    run(local, N_ITER, d_local, s_local);
    run(pooled, N_ITER, d_pooled, s_pooled);
    int ends = 0;
    for (int it = 0; it < N_ITER; it++)
        ends += s_local[it].window_end;
    CHECK(ends == 1 && s_local[99].window_end,
          "warmup 150 had %d window ends (expected one, at iteration 99)", ends);
    CHECK(memcmp(d_local, d_pooled, sizeof d_local) == 0,
          "%s: pooled adaptation with one chain differs from local adaptation",
          ps_metric_kind_name(kind));
    for (int it = 0; it < N_ITER; it++)
        if (!same_stats(&s_local[it], &s_pooled[it])) {
            CHECK(0, "%s: stats of iteration %d differ between pooled and local",
                  ps_metric_kind_name(kind), it);
            break;
        }
    /* After warmup the step size is exp(x_bar) of the dual averaging since the last window. */
    CHECK(ps_chain_step_size(local) == ps_dual_averaging_final(ps_chain_dual_averaging(local)),
          "final step size %.17g is not exp(x_bar) = %.17g", ps_chain_step_size(local),
          ps_dual_averaging_final(ps_chain_dual_averaging(local)));
    CHECK(s_local[WARMUP].step_size == ps_chain_step_size(local),
          "first sampling step used %g, not the final step size %g", s_local[WARMUP].step_size,
          ps_chain_step_size(local));
    for (int it = WARMUP; it < N_ITER; it++)
        CHECK(s_local[it].step_size == s_local[WARMUP].step_size && !s_local[it].warmup,
              "step size changed during sampling at %d", it);
done:
    ps_chain_destroy(&local);
    ps_chain_destroy(&pooled);
}

/* The window accumulator holds exactly the window's draws (iterations 75..99 for 150). */
static void test_window_accumulator(const ps_model *model)
{
    static double draws[WARMUP * 2];
    ps_chain *chain = make_chain(model, "nuts", PS_METRIC_DENSE, WARMUP, 1, true);
    if (!chain)
        return;
    for (int it = 0; it < WARMUP; it++) {
        ps_iter_stats st;
        CHECK(ps_chain_step(chain, &st) == PS_OK, "step failed");
        memcpy(draws + it * 2, ps_chain_position(chain), 2 * sizeof(double));
        if (ps_chain_window_pending(chain)) {
            CHECK(it == 99, "window ended at %d, expected 99", it);
            const ps_welford *acc = ps_chain_window_accumulator(chain);
            ps_welford ref;
            CHECK(ps_welford_init(&ref, 2, true) == PS_OK, "init failed");
            for (int k = 75; k <= 99; k++)
                ps_welford_add(&ref, draws + k * 2);
            CHECK(acc->n == 25 && memcmp(acc->mean, ref.mean, 2 * sizeof(double)) == 0 &&
                      memcmp(acc->m2, ref.m2, 4 * sizeof(double)) == 0,
                  "window accumulator (n %llu) is not the Welford state of draws 75..99",
                  (unsigned long long)acc->n);
            ps_welford_fini(&ref);
            CHECK(ps_chain_finish_window(chain) == PS_OK, "finish window failed");
            CHECK(ps_chain_window_accumulator(chain)->n == 0, "accumulator not cleared");
            /* The installed metric is the regularised window covariance. */
            double want[4];
            ps_welford acc2;
            CHECK(ps_welford_init(&acc2, 2, true) == PS_OK, "init failed");
            for (int k = 75; k <= 99; k++)
                ps_welford_add(&acc2, draws + k * 2);
            ps_welford_regularized_metric(&acc2, want);
            CHECK(memcmp(ps_chain_metric(chain)->inv_metric, want, sizeof want) == 0,
                  "installed metric differs from the regularised window covariance");
            ps_welford_fini(&acc2);
        }
    }
    ps_chain_destroy(&chain);
}

/* The driver's pooled window with three chains: the accumulators merged in chain-id order
 * equal the Welford state of all their window draws (to rounding), every chain receives the
 * same metric, and the chains go on with it. */
static void test_pooled_three_chains(const ps_model *model)
{
    enum { C = 3 };
    ps_chain *chains[C] = {NULL, NULL, NULL};
    static double window[C][25][2];
    ps_welford all, merged;
    CHECK(ps_welford_init(&all, 2, true) == PS_OK && ps_welford_init(&merged, 2, true) == PS_OK,
          "welford init failed");
    for (int c = 0; c < C; c++)
        chains[c] = make_chain(model, "nuts", PS_METRIC_DENSE, WARMUP, (uint64_t)c, true);
    for (int it = 0; it < WARMUP + 20; it++) {
        int pending = 0;
        for (int c = 0; c < C; c++) {
            ps_iter_stats st;
            if (chains[c] == NULL || ps_chain_step(chains[c], &st) != PS_OK) {
                CHECK(0, "chain %d failed at %d", c, it);
                goto done;
            }
            if (it >= 75 && it <= 99)
                memcpy(window[c][it - 75], ps_chain_position(chains[c]), 2 * sizeof(double));
            pending += ps_chain_window_pending(chains[c]);
        }
        if (pending == 0)
            continue;
        CHECK(pending == C && it == 99, "%d chains pending at %d, expected all at 99", pending, it);
        for (int c = 0; c < C; c++) {
            ps_welford_merge(&merged, ps_chain_window_accumulator(chains[c]));
            for (int k = 0; k < 25; k++)
                ps_welford_add(&all, window[c][k]);
        }
        CHECK(merged.n == 75 && all.n == 75, "merged %llu draws, expected 75",
              (unsigned long long)merged.n);
        for (int k = 0; k < 2; k++)
            CHECK_CLOSE(merged.mean[k], all.mean[k], 1e-13, "pooled window mean");
        for (int k = 0; k < 4; k++)
            if (k != 2) /* the upper triangle is not kept */
                CHECK(fabs(merged.m2[k] - all.m2[k]) <= 1e-12 * (fabs(all.m2[0]) + fabs(all.m2[3])),
                      "pooled m2[%d] is %.17g, expected %.17g", k, merged.m2[k], all.m2[k]);
        double metric[4];
        CHECK(ps_welford_regularized_metric(&merged, metric), "no pooled metric");
        for (int c = 0; c < C; c++)
            CHECK(ps_chain_install_metric(chains[c], metric) == PS_OK, "install failed");
        for (int c = 0; c < C; c++)
            CHECK(memcmp(ps_chain_metric(chains[c])->inv_metric, metric, sizeof metric) == 0 &&
                      !ps_chain_window_pending(chains[c]) &&
                      ps_chain_window_accumulator(chains[c])->n == 0,
                  "chain %d did not take the pooled metric", c);
        /* A driver may also pool the step sizes, e.g. their geometric mean. */
        double log_sum = 0.0;
        for (int c = 0; c < C; c++)
            log_sum += log(ps_chain_step_size(chains[c]));
        for (int c = 0; c < C; c++)
            ps_chain_set_step_size(chains[c], exp(log_sum / C));
        CHECK(ps_chain_step_size(chains[0]) == ps_chain_step_size(chains[2]), "step sizes not set");
    }
done:
    ps_welford_fini(&all);
    ps_welford_fini(&merged);
    for (int c = 0; c < C; c++)
        ps_chain_destroy(&chains[c]);
}

/* No step allocates: the allocation counter does not move over warmup (with window ends)
 * and sampling. */
static void test_no_allocation(const ps_model *model)
{
    const char *algos[3] = {"nuts", "hmc", "metropolis"};
    ps_metric_kind kinds[3] = {PS_METRIC_UNIT, PS_METRIC_DIAG, PS_METRIC_DENSE};
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < 3; k++) {
            ps_chain *chain = make_chain(model, algos[a], kinds[k], WARMUP, 2, false);
            if (!chain)
                continue;
            long before = ps_fault_alloc_count();
            run(chain, 200, NULL, NULL);
            long after = ps_fault_alloc_count();
            CHECK(after == before, "%s/%s: %ld allocations during 200 iterations", algos[a],
                  ps_metric_kind_name(kinds[k]), after - before);
            ps_chain_destroy(&chain);
        }
}

/* Save at iteration `at`, restore into a fresh chain, continue: bit-identical. */
static void check_restore(const ps_model *model, const char *algo, ps_metric_kind kind, bool pooled,
                          int at)
{
    static double d_ref[N_ITER * 2], d_res[N_ITER * 2];
    static ps_iter_stats s_ref[N_ITER], s_res[N_ITER];
    ps_chain *ref = make_chain(model, algo, kind, WARMUP, 9, pooled);
    ps_chain *first = make_chain(model, algo, kind, WARMUP, 9, pooled);
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.algorithm = algo;
    s.metric = kind;
    s.warmup = WARMUP;
    s.seed = 2385;
    s.chain_id = 9;
    s.pooled_metric = pooled;
    ps_chain *second = NULL;
    unsigned char *buf = NULL;
    CHECK(ps_chain_create(model, &s, &second) == PS_OK, "create failed");
    if (!ref || !first || !second)
        goto done;
    run(ref, N_ITER, d_ref, s_ref);
    /* Run the first chain to `at`; with pooled windows stop while the window is pending. */
    for (int it = 0; it < at; it++) {
        ps_iter_stats st;
        CHECK(ps_chain_step(first, &st) == PS_OK, "step failed");
        memcpy(d_res + it * 2, ps_chain_position(first), 2 * sizeof(double));
        s_res[it] = st;
        if (ps_chain_window_pending(first) && it + 1 < at)
            CHECK(ps_chain_finish_window(first) == PS_OK, "finish window failed");
    }
    size_t size = ps_chain_state_size(first);
    buf = ps_malloc(size);
    CHECK(buf && ps_chain_save(first, buf, size) == PS_OK, "save failed");
    ps_chain_destroy(&first);
    CHECK(ps_chain_restore(second, buf, size) == PS_OK, "restore failed: %s", ps_error_message());
    CHECK(ps_chain_iteration(second) == at, "restored iteration %lld, expected %d",
          (long long)ps_chain_iteration(second), at);
    if (ps_chain_window_pending(second))
        CHECK(ps_chain_finish_window(second) == PS_OK, "finish after restore failed");
    run(second, N_ITER - at, d_res + at * 2, s_res + at);
    CHECK(memcmp(d_ref, d_res, sizeof d_ref) == 0,
          "%s/%s%s: draws after restore at %d differ from the uninterrupted chain", algo,
          ps_metric_kind_name(kind), pooled ? " pooled" : "", at);
    for (int it = 0; it < N_ITER; it++)
        if (!same_stats(&s_ref[it], &s_res[it])) {
            CHECK(0, "%s/%s: stats of iteration %d differ after restore at %d", algo,
                  ps_metric_kind_name(kind), it, at);
            break;
        }
done:
    ps_free(buf);
    ps_chain_destroy(&ref);
    ps_chain_destroy(&first);
    ps_chain_destroy(&second);
}

static void test_save_restore(const ps_model *model)
{
    /* During the init buffer (10), in the window (80), right after the window end (100: the
     * window ends at 99), in the term buffer (140), in sampling (200). */
    const int points[5] = {10, 80, 100, 140, 200};
    for (int k = 0; k < 5; k++) {
        check_restore(model, "nuts", PS_METRIC_DIAG, false, points[k]);
        check_restore(model, "nuts", PS_METRIC_DENSE, false, points[k]);
    }
    check_restore(model, "hmc", PS_METRIC_DIAG, false, 100);
    check_restore(model, "metropolis", PS_METRIC_DIAG, false, 120);
    check_restore(model, "nuts", PS_METRIC_UNIT, false, 60);
    /* Pooled: saved while the window is pending. */
    check_restore(model, "nuts", PS_METRIC_DENSE, true, 100);

    /* Bad buffers are refused and leave the chain as it was. */
    ps_chain *a = make_chain(model, "nuts", PS_METRIC_DIAG, WARMUP, 3, false);
    ps_chain *b = make_chain(model, "nuts", PS_METRIC_DIAG, WARMUP, 5, false);
    ps_chain *c = make_chain(model, "hmc", PS_METRIC_DIAG, WARMUP, 3, false);
    if (!a || !b || !c)
        goto done;
    run(a, 20, NULL, NULL);
    size_t size = ps_chain_state_size(a);
    unsigned char buf[4096];
    CHECK(size <= sizeof buf, "state of %zu bytes", size);
    CHECK(ps_chain_save(a, buf, 10) == PS_ERR_INTERNAL, "save into a short buffer accepted");
    ps_error_clear();
    CHECK(ps_chain_save(a, buf, sizeof buf) == PS_OK, "save failed");
    double q_before[2];
    memcpy(q_before, ps_chain_position(b), sizeof q_before);
    CHECK(ps_chain_restore(b, buf, size) == PS_ERR_DATA, "restore into another chain id accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "belongs to chain 3");
    ps_error_clear();
    CHECK(ps_chain_restore(c, buf, size) == PS_ERR_DATA, "restore into another algorithm accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "algorithm 'nuts'");
    ps_error_clear();
    CHECK(ps_chain_restore(a, buf, size - 8) == PS_ERR_DATA, "truncated state accepted");
    ps_error_clear();
    buf[size / 2] ^= 0x10;
    CHECK(ps_chain_restore(a, buf, size) == PS_ERR_DATA, "corrupted state accepted");
    CHECK_STR_CONTAINS(ps_error_message(), "checksum");
    ps_error_clear();
    CHECK(memcmp(q_before, ps_chain_position(b), sizeof q_before) == 0 &&
              ps_chain_iteration(b) == 0,
          "a refused restore changed the chain");
done:
    ps_chain_destroy(&a);
    ps_chain_destroy(&b);
    ps_chain_destroy(&c);
}

static void test_warnings(const ps_model *model)
{
    ps_chain *chain = make_chain(model, "nuts", PS_METRIC_DIAG, 120, 6, false);
    if (chain) {
        CHECK(ps_chain_warning_count(chain) == 1, "%d warnings for warmup 120, expected 1",
              ps_chain_warning_count(chain));
        CHECK_STR_CONTAINS(ps_chain_warning(chain, 0), "chain 6: warmup of 120 iterations");
        ps_chain_clear_warnings(chain);
        CHECK(ps_chain_warning_count(chain) == 0, "warnings not cleared");
    }
    ps_chain_destroy(&chain);
    chain = make_chain(model, "nuts", PS_METRIC_DIAG, 10, 6, false);
    if (chain)
        CHECK_STR_CONTAINS(ps_chain_warning(chain, 0), "warmup < 20");
    /* Step size is still adapted with a short warmup. */
    if (chain) {
        double eps0 = ps_chain_step_size(chain);
        run(chain, 12, NULL, NULL);
        CHECK(ps_chain_dual_averaging(chain)->counter == 10.0,
              "dual averaging ran %g times in a warmup of 10",
              ps_chain_dual_averaging(chain)->counter);
        CHECK(ps_chain_step_size(chain) != eps0, "step size not adapted in a short warmup");
    }
    ps_chain_destroy(&chain);
    chain = make_chain(model, "nuts", PS_METRIC_DIAG, 1000, 6, false);
    if (chain)
        CHECK(ps_chain_warning_count(chain) == 0, "warning for warmup 1000: %s",
              ps_chain_warning(chain, 0));
    ps_chain_destroy(&chain);
}

/* Every allocation of create + init + a few steps may fail: no crash, no leak (ASan), the
 * status is PS_ERR_MEM. */
static void test_alloc_failures(void)
{
    for (long n = 1; n < 400; n++) {
        ps_fault_alloc_after(n);
        ps_model *model = NULL;
        ps_chain *chain = NULL;
        ps_status st = test_gauss_create(2, NULL, prec2, NULL, FAULT_NONE, 0.0, &model, NULL);
        ps_chain_settings s;
        ps_chain_settings_default(&s);
        s.metric = PS_METRIC_DENSE;
        s.warmup = 30;
        if (st == PS_OK)
            st = ps_chain_create(model, &s, &chain);
        if (st == PS_OK)
            st = ps_chain_init(chain, NULL);
        for (int it = 0; it < 40 && st == PS_OK; it++) {
            ps_iter_stats stats;
            st = ps_chain_step(chain, &stats);
        }
        ps_fault_alloc_after(0);
        CHECK(st == PS_OK || st == PS_ERR_MEM, "allocation failure %ld gave status %d: %s", n,
              (int)st, ps_error_message());
        ps_error_clear();
        ps_chain_destroy(&chain);
        ps_model_destroy(&model);
        if (st == PS_OK)
            break;
    }
}

int main(void)
{
    CHECK(test_invert(2, cov2, prec2), "inverting the covariance failed");
    ps_model *model = NULL;
    CHECK(test_gauss_create(2, (double[]){0.5, -1.0}, prec2, NULL, FAULT_NONE, 0.0, &model, NULL) ==
              PS_OK,
          "model create failed");
    if (model == NULL)
        TEST_EXIT();
    test_registry(model);
    test_leapfrog(model, PS_METRIC_UNIT);
    test_leapfrog(model, PS_METRIC_DIAG);
    test_leapfrog(model, PS_METRIC_DENSE);
    test_max_treedepth(model);
    test_pooled_equals_local(model, PS_METRIC_DIAG);
    test_pooled_equals_local(model, PS_METRIC_DENSE);
    test_window_accumulator(model);
    test_pooled_three_chains(model);
    test_no_allocation(model);
    test_save_restore(model);
    test_warnings(model);
    ps_model_destroy(&model);
    test_alloc_failures();
    TEST_EXIT();
}
