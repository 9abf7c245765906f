/*
 * The differential-evolution step methods (src/mcmc/demetropolis.c) and their settings:
 * the declared statistics, the proposal x + lambda (x_r1 - x_r2) + epsilon on a flat
 * density (every proposal accepted, so each move is the proposal itself), noise alone with
 * fewer than two candidates, the snooker move along the line through an archive state,
 * PyMC's tuning of scaling or lambda during warmup only, exact save/restore, and the
 * configuration's checks (too few chains, options that do not apply).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "mcmc/mcmc_impl.h"
#include "testlib.h"
#include "unit/mcmc_models.h"

/* A flat density on R^dim (precision zero): every finite proposal is accepted. */
static ps_model *flat_model(size_t dim)
{
    double prec[16] = {0};
    ps_model *model = NULL;
    ps_status st = test_gauss_create(dim, NULL, prec, NULL, FAULT_NONE, 0.0, &model, NULL);
    CHECK(st == PS_OK, "flat test model: %s", ps_error_message());
    return model;
}

static ps_chain *de_chain(const ps_model *model, const char *algorithm, int64_t warmup,
                          ps_chain_settings *custom)
{
    ps_chain_settings s;
    if (custom != NULL) {
        s = *custom;
    } else {
        ps_chain_settings_default(&s);
        s.seed = 2385;
        s.chain_id = 3;
    }
    s.algorithm = algorithm;
    s.warmup = warmup;
    ps_chain *chain = NULL;
    ps_status st = ps_chain_create(model, &s, &chain);
    CHECK(st == PS_OK, "create %s: %s", algorithm, ps_error_message());
    if (chain != NULL) {
        st = ps_chain_init(chain, NULL);
        CHECK(st == PS_OK, "init %s: %s", algorithm, ps_error_message());
    }
    return chain;
}

static void test_tables(void)
{
    size_t n = 0;
    const ps_stat_info *de = ps_step_method_stats("demetropolis", &n);
    static const char *const de_names[] = {"lp", "accepted", "acceptance_rate", "scaling",
                                           "lambda"};
    static const ps_stat_type de_types[] = {PS_STAT_REAL, PS_STAT_BOOL, PS_STAT_REAL, PS_STAT_REAL,
                                            PS_STAT_REAL};
    CHECK(de != NULL && n == 5, "demetropolis declares %zu statistics, expected 5", n);
    for (size_t i = 0; de != NULL && i < n && i < 5; i++)
        CHECK(strcmp(de[i].name, de_names[i]) == 0 && de[i].type == de_types[i],
              "demetropolis statistic %zu is %s (type %d), expected %s (type %d)", i, de[i].name,
              (int)de[i].type, de_names[i], (int)de_types[i]);
    const ps_stat_info *z = ps_step_method_stats("demetropolisz", &n);
    CHECK(z == de && n == 5, "demetropolisz declares other statistics than demetropolis");
    /* NUTS keeps Stan's and ArviZ's names, in the trace writer's order. */
    const ps_stat_info *nuts = ps_step_method_stats("nuts", &n);
    static const char *const nuts_names[] = {"lp",         "acceptance_rate", "step_size",
                                             "tree_depth", "n_steps",         "diverging",
                                             "energy",     "energy_error"};
    CHECK(nuts != NULL && n == 8, "nuts declares %zu statistics, expected 8", n);
    for (size_t i = 0; nuts != NULL && i < n && i < 8; i++)
        CHECK(strcmp(nuts[i].name, nuts_names[i]) == 0, "nuts statistic %zu is %s, expected %s", i,
              nuts[i].name, nuts_names[i]);
    CHECK(nuts != NULL && nuts[5].type == PS_STAT_BOOL && nuts[3].type == PS_STAT_INT,
          "nuts: diverging must be a boolean and tree_depth an integer");
    CHECK(ps_step_method_stats("nope", &n) == NULL && n == 0, "unknown method has statistics");
    CHECK(ps_step_method_population("demetropolis") == PS_POPULATION_CURRENT &&
              ps_step_method_population("demetropolisz") == PS_POPULATION_ARCHIVE &&
              ps_step_method_population("nuts") == PS_POPULATION_NONE &&
              ps_step_method_population("nope") == PS_POPULATION_NONE,
          "population kinds are wrong");
    CHECK_STR_CONTAINS(ps_step_method_names(), "demetropolis, demetropolisz");
    ps_de_tune t = PS_DE_TUNE_NONE;
    CHECK(ps_de_tune_parse("lambda", &t) == PS_OK && t == PS_DE_TUNE_LAMBDA, "parse lambda");
    CHECK(ps_de_tune_parse("scale", &t) == PS_ERR_CONFIG, "'scale' accepted as a tuning target");
    CHECK_STR_CONTAINS(ps_error_message(), "valid: scaling, lambda, none");
    ps_error_clear();
}

/* On a flat density each step moves to its proposal: x + lambda (r1 - r2) + epsilon. */
static void test_proposal(void)
{
    ps_model *model = flat_model(2);
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = 77;
    s.chain_id = 5;
    s.de_lambda = 0.625;
    s.de_scaling = 1e-12;
    s.metric = PS_METRIC_DENSE; /* ignored by population methods */
    ps_chain *chain = de_chain(model, "demetropolis", 0, &s);
    if (chain == NULL) {
        ps_model_destroy(&model);
        return;
    }
    CHECK(ps_chain_metric(chain)->kind == PS_METRIC_UNIT, "a DE chain has a %s metric",
          ps_metric_kind_name(ps_chain_metric(chain)->kind));
    /* Rows 0..2; the candidates are rows 2 and 0 (row 1 is this chain's own group). */
    const double states[6] = {1.5, -0.25, 100.0, 100.0, -2.0, 3.25};
    const size_t cand[2] = {2, 0};
    ps_population_view view = {states, cand, 2};
    ps_chain_set_population(chain, &view);
    const double diff[2] = {0.625 * (1.5 - -2.0), 0.625 * (-0.25 - 3.25)};
    int plus = 0, minus = 0;
    for (int it = 0; it < 200; it++) {
        double before[2];
        memcpy(before, ps_chain_position(chain), sizeof before);
        ps_iter_stats st;
        CHECK(ps_chain_step(chain, &st) == PS_OK, "step: %s", ps_error_message());
        const double *after = ps_chain_position(chain);
        double d0 = after[0] - before[0], d1 = after[1] - before[1];
        bool is_plus = fabs(d0 - diff[0]) < 1e-9 && fabs(d1 - diff[1]) < 1e-9;
        bool is_minus = fabs(d0 + diff[0]) < 1e-9 && fabs(d1 + diff[1]) < 1e-9;
        CHECK(is_plus || is_minus,
              "iteration %d moved by (%.17g, %.17g), expected +/- lambda (r1 - r2) = "
              "+/-(%g, %g)",
              it, d0, d1, diff[0], diff[1]);
        CHECK(st.accepted && st.acceptance_rate == 1.0 && st.n_steps == 1,
              "flat density: accepted %d, acceptance_rate %g, n_steps %lld", (int)st.accepted,
              st.acceptance_rate, (long long)st.n_steps);
        CHECK(st.lambda == 0.625 && st.step_size == 1e-12,
              "statistics say lambda %g and scaling %g, expected 0.625 and 1e-12", st.lambda,
              st.step_size);
        plus += is_plus;
        minus += is_minus;
    }
    /* r1 and r2 are drawn uniformly: both signs come up (P(one sign 200 times) = 2^-199). */
    CHECK(plus > 0 && minus > 0, "the difference had one sign in 200 draws (%d +, %d -)", plus,
          minus);
    double values[PS_MAX_STATS];
    ps_iter_stats st;
    CHECK(ps_chain_step(chain, &st) == PS_OK, "step");
    ps_chain_stat_values(chain, &st, values);
    CHECK(values[0] == st.lp && values[1] == 1.0 && values[2] == 1.0 && values[3] == 1e-12 &&
              values[4] == 0.625,
          "stat values (%g, %g, %g, %g, %g) do not match the iteration's statistics", values[0],
          values[1], values[2], values[3], values[4]);

    /* One candidate: the move is the noise alone. */
    ps_population_view one = {states, cand, 1};
    ps_chain_set_population(chain, &one);
    double before[2];
    memcpy(before, ps_chain_position(chain), sizeof before);
    CHECK(ps_chain_step(chain, &st) == PS_OK, "step");
    double moved = fabs(ps_chain_position(chain)[0] - before[0]) +
                   fabs(ps_chain_position(chain)[1] - before[1]);
    CHECK(moved < 1e-9, "with one candidate the chain moved by %g, expected noise of sd 1e-12",
          moved);
    ps_chain_destroy(&chain);

    /* The default lambda is 2.38 / sqrt(2 d). */
    chain = de_chain(model, "demetropolisz", 0, NULL);
    if (chain != NULL) {
        ps_population_view none = {NULL, NULL, 0};
        ps_chain_set_population(chain, &none);
        CHECK(ps_chain_step(chain, &st) == PS_OK, "step");
        CHECK_CLOSE(st.lambda, 2.38 / sqrt(4.0), 1e-15, "default lambda for d = 2");
        CHECK(st.step_size == 0.001, "default scaling is %g, expected 0.001", st.step_size);
    }
    ps_chain_destroy(&chain);
    ps_model_destroy(&model);
}

/* The snooker move goes along the line through x and one of the archive's states. */
static void test_snooker(void)
{
    ps_model *model = flat_model(3);
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = 9;
    s.chain_id = 0;
    s.de_snooker = 1.0;
    ps_chain *chain = de_chain(model, "demetropolisz", 0, &s);
    if (chain == NULL) {
        ps_model_destroy(&model);
        return;
    }
    const double archive[9] = {0.3, -1.1, 2.0, -0.7, 0.4, 1.3, 1.9, 0.2, -0.6};
    ps_population_view view = {archive, NULL, 3};
    ps_chain_set_population(chain, &view);
    int moves = 0;
    for (int it = 0; it < 100; it++) {
        double x[3];
        memcpy(x, ps_chain_position(chain), sizeof x);
        ps_iter_stats st;
        CHECK(ps_chain_step(chain, &st) == PS_OK, "step: %s", ps_error_message());
        const double *y = ps_chain_position(chain);
        double step[3] = {y[0] - x[0], y[1] - x[1], y[2] - x[2]};
        if (fabs(step[0]) + fabs(step[1]) + fabs(step[2]) == 0.0)
            continue;
        moves++;
        /* Collinear with x - z for some archive state z: the cross product vanishes. */
        bool on_a_line = false;
        for (int k = 0; k < 3; k++) {
            const double *z = archive + 3 * k;
            double u[3] = {x[0] - z[0], x[1] - z[1], x[2] - z[2]};
            double c0 = step[1] * u[2] - step[2] * u[1], c1 = step[2] * u[0] - step[0] * u[2];
            double c2 = step[0] * u[1] - step[1] * u[0];
            double scale = sqrt(step[0] * step[0] + step[1] * step[1] + step[2] * step[2]) *
                           sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
            on_a_line |= sqrt(c0 * c0 + c1 * c1 + c2 * c2) <= 1e-12 * scale;
        }
        CHECK(on_a_line, "snooker move %d (%g, %g, %g) is on no line through an archive state", it,
              step[0], step[1], step[2]);
        /* A flat density: the ratio is the Jacobian factor (||y - z|| / ||x - z||)^2. */
        CHECK(st.acceptance_rate > 0.0 && st.acceptance_rate <= 1.0,
              "snooker acceptance rate %g out of (0, 1]", st.acceptance_rate);
    }
    CHECK(moves > 20, "only %d of 100 snooker proposals were accepted on a flat density", moves);
    ps_chain_destroy(&chain);
    ps_model_destroy(&model);
}

/* PyMC's tuning: every tune_interval warmup iterations, x 10 for acceptance above 0.95. */
static void test_tuning(void)
{
    ps_model *model = flat_model(2);
    const double states[4] = {1.0, 2.0, -1.0, 0.5};
    ps_population_view view = {states, NULL, 2};
    for (int target = 0; target < 3; target++) {
        ps_chain_settings s;
        ps_chain_settings_default(&s);
        s.seed = 4;
        s.chain_id = 1;
        s.tune_interval = 10;
        s.de_tune = target == 0 ? PS_DE_TUNE_SCALING : PS_DE_TUNE_LAMBDA;
        s.adapt = target != 2;
        ps_chain *chain = de_chain(model, "demetropolis", 25, &s);
        if (chain == NULL)
            continue;
        ps_chain_set_population(chain, &view);
        ps_iter_stats st;
        double lambda0 = 2.38 / sqrt(4.0);
        for (int it = 0; it < 40; it++) {
            CHECK(ps_chain_step(chain, &st) == PS_OK, "step");
            /* Tuned before iterations 10 and 20 (warmup is 0..24), never after. */
            double f = it < 10 ? 1.0 : it < 20 ? 10.0 : 100.0;
            if (target == 2)
                f = 1.0;
            double want_scaling = target == 0 ? 0.001 * f : 0.001;
            double want_lambda = target == 1 ? lambda0 * f : lambda0;
            CHECK(fabs(st.step_size - want_scaling) <= 1e-12 * want_scaling &&
                      fabs(st.lambda - want_lambda) <= 1e-12 * want_lambda,
                  "tune %d, iteration %d: scaling %g and lambda %g, expected %g and %g", target, it,
                  st.step_size, st.lambda, want_scaling, want_lambda);
        }
        ps_chain_destroy(&chain);
    }
    ps_model_destroy(&model);
}

/* Save at iteration 15 (mid tuning interval), restore into a new chain, continue: the
 * same draws bit for bit. */
static void test_save_restore(void)
{
    double sd[3] = {1.0, 2.0, 0.5};
    ps_model *model = NULL;
    CHECK(test_gauss_create(3, NULL, NULL, sd, FAULT_NONE, 0.0, &model, NULL) == PS_OK, "model");
    const double archive[12] = {0.1, 0.2, 0.3, -1.0, 2.0, 0.5, 0.7, -0.4, 0.1, 1.1, 1.2, -1.3};
    ps_population_view view = {archive, NULL, 4};
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = 31;
    s.chain_id = 2;
    s.tune_interval = 10;
    s.de_snooker = 0.3;
    ps_chain *a = de_chain(model, "demetropolisz", 20, &s);
    ps_chain *b = de_chain(model, "demetropolisz", 20, &s);
    unsigned char *buf = NULL;
    if (a == NULL || b == NULL)
        goto done;
    ps_chain_set_population(a, &view);
    ps_chain_set_population(b, &view);
    ps_iter_stats st;
    for (int it = 0; it < 15; it++)
        CHECK(ps_chain_step(a, &st) == PS_OK, "step");
    size_t n = ps_chain_state_size(a);
    buf = ps_malloc(n);
    CHECK(buf != NULL && ps_chain_save(a, buf, n) == PS_OK, "save");
    CHECK(buf != NULL && ps_chain_restore(b, buf, n) == PS_OK, "restore: %s", ps_error_message());
    for (int it = 15; it < 40; it++) {
        ps_iter_stats sa, sb;
        CHECK(ps_chain_step(a, &sa) == PS_OK && ps_chain_step(b, &sb) == PS_OK, "step");
        CHECK(memcmp(ps_chain_position(a), ps_chain_position(b), 3 * sizeof(double)) == 0 &&
                  sa.step_size == sb.step_size && sa.lambda == sb.lambda &&
                  sa.accepted == sb.accepted,
              "iteration %d differs after restore", it);
    }
done:
    ps_free(buf);
    ps_chain_destroy(&a);
    ps_chain_destroy(&b);
    ps_model_destroy(&model);
}

static void test_settings(void)
{
    ps_model *model = flat_model(2);
    ps_chain_settings s;
    ps_chain *chain = NULL;
    struct {
        double scaling, lambda, snooker;
        const char *want;
    } bad[] = {{0.0, 0.0, 0.0, "noise scaling must be positive"},
               {INFINITY, 0.0, 0.0, "noise scaling must be positive"},
               {0.001, -1.0, 0.0, "lambda must be finite and non-negative"},
               {0.001, 0.0, 1.5, "snooker probability must lie in [0, 1]"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_chain_settings_default(&s);
        s.algorithm = "demetropolisz";
        s.de_scaling = bad[i].scaling;
        s.de_lambda = bad[i].lambda;
        s.de_snooker = bad[i].snooker;
        ps_error_clear();
        CHECK(ps_chain_create(model, &s, &chain) == PS_ERR_CONFIG && chain == NULL,
              "bad DE setting %zu accepted", i);
        CHECK_STR_CONTAINS(ps_error_message(), bad[i].want);
    }
    ps_error_clear();
    ps_model_destroy(&model);
}

/* A model that rejects x[0] > 0.5 or returns +inf there: a DE chain never goes there,
 * never fails, and its log densities stay finite. */
static void test_failing_region(void)
{
    const test_fault faults[2] = {FAULT_REJECT_REGION, FAULT_INF_LP_REGION};
    for (int f = 0; f < 2; f++) {
        ps_model *model = NULL;
        CHECK(test_gauss_create(2, NULL, NULL, NULL, faults[f], 0.5, &model, NULL) == PS_OK,
              "model");
        const double states[6] = {0.4, -1.0, -1.5, 0.3, -0.2, 1.2};
        ps_population_view view = {states, NULL, 3};
        ps_chain *chain = de_chain(model, "demetropolisz", 50, NULL);
        if (chain == NULL) {
            ps_model_destroy(&model);
            continue;
        }
        double init[2] = {-0.5, 0.3};
        CHECK(ps_chain_init(chain, init) == PS_OK, "init: %s", ps_error_message());
        ps_chain_set_population(chain, &view);
        int in_region = 0, bad = 0;
        for (int it = 0; it < 300; it++) {
            ps_iter_stats st;
            ps_status status = ps_chain_step(chain, &st);
            CHECK(status == PS_OK, "fault %d: step %d failed: %s", f, it, ps_error_message());
            if (status != PS_OK)
                break;
            in_region += ps_chain_position(chain)[0] > 0.5;
            bad += !isfinite(st.lp);
        }
        CHECK(in_region == 0 && bad == 0, "fault %d: %d draws in the failing region, %d bad lp", f,
              in_region, bad);
        ps_error_clear();
        ps_chain_destroy(&chain);
        ps_model_destroy(&model);
    }
}

/* Every allocation of creating, initialising and stepping a DE chain may fail: the error
 * is PS_ERR_MEM and nothing leaks (checked under ASan). */
static void test_alloc_failures(void)
{
    const double states[4] = {1.0, 2.0, -1.0, 0.5};
    ps_population_view view = {states, NULL, 2};
    for (long n = 1; n < 200; n++) {
        ps_fault_alloc_after(n);
        ps_model *model = NULL;
        ps_chain *chain = NULL;
        ps_status st = test_gauss_create(2, NULL, NULL, NULL, FAULT_NONE, 0.0, &model, NULL);
        ps_chain_settings s;
        ps_chain_settings_default(&s);
        s.algorithm = "demetropolis";
        s.warmup = 30;
        if (st == PS_OK)
            st = ps_chain_create(model, &s, &chain);
        if (st == PS_OK)
            st = ps_chain_init(chain, NULL);
        if (st == PS_OK)
            ps_chain_set_population(chain, &view);
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

/* Parses a configuration; returns the error message or NULL. */
static const char *parse(const char *text, ps_config **out)
{
    ps_error_clear();
    ps_status st = ps_config_parse("c.toml", text, strlen(text), NULL, 0, out);
    return st == PS_OK ? NULL : ps_error_message();
}

static void test_config(void)
{
    ps_config *cfg = NULL;
    const char *msg =
        parse("[model]\nlibrary = \"m.so\"\n[sampler]\nalgorithm = \"demetropolis\"\n", &cfg);
    CHECK(msg == NULL, "demetropolis with 4 chains refused: %s", msg ? msg : "");
    if (cfg != NULL) {
        CHECK(cfg->sampler.de_lambda == 0.0 && cfg->sampler.de_scaling == 0.001 &&
                  strcmp(cfg->sampler.de_tune, "scaling") == 0 &&
                  cfg->sampler.de_exchange_every == 10 && cfg->sampler.de_snooker == 0.0,
              "DE defaults: lambda %g scaling %g tune %s exchange %lld snooker %g",
              cfg->sampler.de_lambda, cfg->sampler.de_scaling, cfg->sampler.de_tune,
              (long long)cfg->sampler.de_exchange_every, cfg->sampler.de_snooker);
        ps_config_destroy(&cfg);
    }
    msg = parse("[model]\nlibrary = \"m.so\"\n[sampler]\nalgorithm = \"demetropolis\"\n"
                "chains = 2\n",
                &cfg);
    CHECK(msg != NULL && strstr(msg, "c.toml:5:10: error:") != NULL &&
              strstr(msg, "needs at least 3 chains") != NULL && strstr(msg, "found 2") != NULL,
          "two DEMetropolis chains: expected an error at c.toml:5:10 saying 3 chains are "
          "needed, got %s",
          msg ? msg : "(no error)");
    msg = parse("[model]\nlibrary = \"m.so\"\n[sampler]\nalgorithm = \"demetropolis\"\n"
                "chains = 3\n",
                &cfg);
    CHECK(msg == NULL, "three DEMetropolis chains refused: %s", msg ? msg : "");
    ps_config_destroy(&cfg);
    msg = parse("[model]\nlibrary = \"m.so\"\n[sampler]\nalgorithm = \"demetropolisz\"\n"
                "chains = 1\nde_snooker = 0.1\nde_tune = \"lambda\"\n",
                &cfg);
    CHECK(msg == NULL, "one DEMetropolisZ chain with snooker refused: %s", msg ? msg : "");
    ps_config_destroy(&cfg);
    msg = parse("[model]\nlibrary = \"m.so\"\n[sampler]\nalgorithm = \"demetropolis\"\n"
                "chains = 8\nde_snooker = 0.1\n",
                &cfg);
    CHECK(msg != NULL && strstr(msg, "applies to the \"demetropolisz\" algorithm only") != NULL,
          "snooker with demetropolis: got %s", msg ? msg : "(no error)");
    msg = parse("[model]\nlibrary = \"m.so\"\n[sampler]\nalgorithm = \"demetropolisz\"\n"
                "[adaptation]\nadaptive_warmup = true\n",
                &cfg);
    CHECK(msg != NULL && strstr(msg, "'adaptation.adaptive_warmup' is not available") != NULL,
          "adaptive warmup with demetropolisz: got %s", msg ? msg : "(no error)");
    msg = parse("[model]\nlibrary = \"m.so\"\n[sampler]\nalgorithm = \"demetropolisz\"\n"
                "de_tune = \"epsilon\"\n",
                &cfg);
    CHECK(msg != NULL && strstr(msg, "\"scaling\", \"lambda\", \"none\"") != NULL,
          "unknown de_tune: got %s", msg ? msg : "(no error)");
    ps_error_clear();
}

int main(void)
{
    test_tables();
    test_proposal();
    test_snooker();
    test_tuning();
    test_save_restore();
    test_settings();
    test_failing_region();
    test_alloc_failures();
    test_config();
    TEST_EXIT();
}
