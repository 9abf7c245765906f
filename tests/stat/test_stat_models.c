/*
 * NUTS on the BridgeStan-ABI test models against references computed elsewhere, judged in
 * MCSE units (stat_util.h).
 *
 *   eight_schools [long]  eight_schools_noncentered with posteriordb's data against its
 *       reference posterior (../shared/reference/posteriordb, 10 x 1000 rstan draws): for
 *       each of theta[1..8], mu, tau, z = (mean - mean_ref) / sqrt(mcse^2 + mcse_ref^2),
 *       and for the sd z = (sd - sd_ref) / sqrt(mcse_sd^2 + se_ref^2), where the
 *       reference's sd error is se_ref = mcse_ref sqrt((k - 1) / 4), k the kurtosis of our
 *       draws (the large-sample sd error of ESS_ref = (sd_ref / mcse_ref)^2 draws).
 *   logistic [long]  logistic_regression on ../shared/bench/data/logistic_regression.json
 *       against Stan's long runs (bench/reference/logistic_regression_reference.csv, 4 x
 *       10000 draws): means and sds of alpha, beta[1..25] with both MCSEs.
 *   hier_long  hier_linear_regression (105 parameters and a[50], b[50]) against
 *       bench/reference/hier_linear_regression_reference.csv in the same way. The z_a[j]
 *       share most of the error of mu_a (they are strongly correlated a posteriori), so
 *       the binomial bound on |z| > 3 is not exact here: a false failure needs mu_a itself
 *       about 3 MCSE off, which puts the false-failure rate near 5e-3 rather than the
 *       printed 2.8e-3.
 *   funnel  neal_funnel10 (centred, v ~ N(0, 3), x_k ~ N(0, exp(v/2))) with Stan's
 *       defaults, where NUTS cannot reach the neck: divergences must be reported, and the
 *       run must never be silently wrong about v, i.e. either mean and sd of v agree with
 *       N(0, 3) (|z| < 4.5) or the run is flagged (a divergence while sampling, or R-hat of
 *       v above 1.01). Over 60 other seeds every run had about 100 warmup divergences and
 *       R-hat of v between 1.026 and 1.46; a false failure needs no sampling divergence,
 *       R-hat < 1.01 and |z| > 4.5 at once.
 *   funnel_noncentered  the same 10-d funnel written non-centred (v, z_k ~ N(0, 1),
 *       x_k = exp(v/2) z_k), a small C model here: NUTS recovers v ~ N(0, 3) (mean, sd,
 *       P(v < -3), P(v < -6), P(v > 4.5)) and the z_k ~ N(0, 1), with no divergence.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stat/stat_util.h"

static void model_path(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/tests/models/%s.so", PSAMPLE_BINARY_DIR, name);
}

/* Index of the output element named name, or -1. */
static long output_index(const ps_model *model, const char *name)
{
    char buf[128];
    for (size_t k = 0; k < ps_model_output_size(model); k++) {
        ps_model_output_element_name(model, k, buf, sizeof buf);
        if (strcmp(buf, name) == 0)
            return (long)k;
    }
    return -1;
}

static double kurtosis(const double *x, size_t n)
{
    double m = 0.0, m2 = 0.0, m4 = 0.0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double d2 = (x[i] - m) * (x[i] - m);
        m2 += d2;
        m4 += d2 * d2;
    }
    m2 /= (double)n;
    m4 /= (double)n;
    return m4 / (m2 * m2);
}

static int eight_schools(bool long_run)
{
    TEST_REQUIRE_SHARED(shared);
    char ref_path[1024], data_path[1024], path[1024];
    snprintf(ref_path, sizeof ref_path,
             "%s/reference/posteriordb/eight_schools-eight_schools_noncentered.ref_summary.json",
             shared);
    snprintf(data_path, sizeof data_path,
             "%s/reference/posteriordb/eight_schools-eight_schools_noncentered.data.json", shared);
    model_path("eight_schools_noncentered", path, sizeof path);
    char *text = NULL;
    size_t len = 0;
    CHECK(ps_file_read(ref_path, &text, &len) == PS_OK, "%s", ps_error_message());
    cJSON *ref = text ? cJSON_Parse(text) : NULL;
    ps_model *model = NULL;
    CHECK(ref && ps_model_bridgestan_create(path, data_path, 1, &model) == PS_OK,
          "cannot set up eight schools: %s", ps_error_message());
    size_t n_chains = 4, n_draws = long_run ? 25000 : 5000;
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = long_run ? 808 : 8;
    stat_run r;
    memset(&r, 0, sizeof r);
    ps_diag_workspace *ws = NULL;
    if (model && stat_sample(model, &s, n_chains, n_draws, true, &r) &&
        ps_diag_workspace_create(n_chains, n_draws, &ws) == PS_OK) {
        stat_judge j;
        stat_judge_init(&j, long_run ? "eight_schools_long" : "eight_schools");
        const cJSON *names = cJSON_GetObjectItem(ref, "names");
        const cJSON *means = cJSON_GetObjectItem(ref, "mean");
        const cJSON *mcses = cJSON_GetObjectItem(ref, "mcse_mean");
        const cJSON *sds = cJSON_GetObjectItem(ref, "sd_from_moments");
        int n = cJSON_GetArraySize(names);
        CHECK(n == 10, "reference has %d columns, expected 10", n);
        for (int k = 0; k < n; k++) {
            const char *name = cJSON_GetArrayItem(names, k)->valuestring;
            double mean_ref = cJSON_GetArrayItem(means, k)->valuedouble;
            double mcse_ref = cJSON_GetArrayItem(mcses, k)->valuedouble;
            double sd_ref = cJSON_GetArrayItem(sds, k)->valuedouble;
            long idx = output_index(model, name);
            CHECK(idx >= 0, "the model has no output '%s'", name);
            if (idx < 0)
                continue;
            const double *x = stat_values(&r, (size_t)idx);
            ps_diag_summary sm;
            stat_summary(ws, x, n_chains, n_draws, &sm);
            double se_ref_sd = mcse_ref * sqrt((kurtosis(x, n_chains * n_draws) - 1.0) / 4.0);
            stat_judge_z(&j, name, "mean", sm.mean, mean_ref, hypot(sm.mcse_mean, mcse_ref));
            stat_judge_z(&j, name, "sd", sm.sd, sd_ref, hypot(sm.mcse_sd, se_ref_sd));
            CHECK(sm.rhat < 1.05, "eight schools: R-hat of %s is %.4f", name, sm.rhat);
        }
        stat_judge_finish(&j);
    }
    ps_diag_workspace_destroy(&ws);
    stat_run_free(&r);
    ps_model_destroy(&model);
    cJSON_Delete(ref);
    ps_free(text);
    return 0;
}

/* One row of Stan's reference CSV: "name",mean,sd,mcse_mean,mcse_sd,... */
typedef struct ref_row {
    char name[32];
    double mean, sd, mcse_mean, mcse_sd;
} ref_row;

static int read_reference_csv(const char *path, ref_row *rows, int max_rows)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[1024];
    int n = 0;
    if (fgets(line, sizeof line, f) == NULL) {
        fclose(f);
        return -1;
    }
    while (n < max_rows && fgets(line, sizeof line, f)) {
        ref_row *row = &rows[n];
        if (sscanf(line, "\"%31[^\"]\",%lf,%lf,%lf,%lf", row->name, &row->mean, &row->sd,
                   &row->mcse_mean, &row->mcse_sd) == 5)
            n++;
    }
    fclose(f);
    return n;
}

/* NUTS on a bench model against Stan's long runs in ../shared/bench/reference: means and
 * sds of every variable of the reference (except lp__) that the model outputs. */
static int reference_csv(const char *test, const char *name, size_t n_chains, int64_t warmup,
                         size_t n_draws, uint64_t seed, int expect_judged)
{
    TEST_REQUIRE_SHARED(shared);
    char ref_path[1024], data_path[1024], path[1024];
    snprintf(ref_path, sizeof ref_path, "%s/bench/reference/%s_reference.csv", shared, name);
    snprintf(data_path, sizeof data_path, "%s/bench/data/%s.json", shared, name);
    model_path(name, path, sizeof path);
    enum { MAX_ROWS = 512 };
    ref_row *rows = calloc(MAX_ROWS, sizeof *rows);
    int n_rows = rows ? read_reference_csv(ref_path, rows, MAX_ROWS) : -1;
    CHECK(n_rows >= expect_judged, "cannot read %s (%d rows)", ref_path, n_rows);
    ps_model *model = NULL;
    CHECK(ps_model_bridgestan_create(path, data_path, 1, &model) == PS_OK, "cannot load %s: %s",
          name, ps_error_message());
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = seed;
    s.warmup = warmup;
    stat_run r;
    memset(&r, 0, sizeof r);
    ps_diag_workspace *ws = NULL;
    if (model && n_rows >= expect_judged && stat_sample(model, &s, n_chains, n_draws, true, &r) &&
        ps_diag_workspace_create(n_chains, n_draws, &ws) == PS_OK) {
        stat_judge j;
        stat_judge_init(&j, test);
        int judged = 0;
        for (int k = 0; k < n_rows; k++) {
            long idx = output_index(model, rows[k].name);
            if (idx < 0) {
                CHECK(strcmp(rows[k].name, "lp__") == 0, "the model has no output '%s'",
                      rows[k].name);
                continue;
            }
            ps_diag_summary sm;
            stat_summary(ws, stat_values(&r, (size_t)idx), n_chains, n_draws, &sm);
            stat_judge_z(&j, rows[k].name, "mean", sm.mean, rows[k].mean,
                         hypot(sm.mcse_mean, rows[k].mcse_mean));
            stat_judge_z(&j, rows[k].name, "sd", sm.sd, rows[k].sd,
                         hypot(sm.mcse_sd, rows[k].mcse_sd));
            CHECK(sm.rhat < 1.05, "%s: R-hat of %s is %.4f", test, rows[k].name, sm.rhat);
            judged++;
        }
        CHECK(judged == expect_judged, "%s: %d variables judged, expected %d", test, judged,
              expect_judged);
        stat_judge_finish(&j);
        CHECK(r.divergences == 0, "%s: %ld divergences", test, r.divergences);
    }
    ps_diag_workspace_destroy(&ws);
    stat_run_free(&r);
    ps_model_destroy(&model);
    free(rows);
    return 0;
}

static int funnel(void)
{
    char path[1024];
    model_path("neal_funnel10", path, sizeof path);
    ps_model *model = NULL;
    CHECK(ps_model_bridgestan_create(path, "{\"K\": 9}", 1, &model) == PS_OK,
          "cannot load neal_funnel10: %s", ps_error_message());
    if (model == NULL)
        return 1;
    size_t n_chains = 4, n_draws = 1000;
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = 10;
    stat_run r;
    ps_diag_workspace *ws = NULL;
    if (stat_sample(model, &s, n_chains, n_draws, false, &r) &&
        ps_diag_workspace_create(n_chains, n_draws, &ws) == PS_OK) {
        CHECK(r.divergences + r.warmup_divergences > 0,
              "funnel: no divergence reported in %zu chains of %lld + %zu iterations", n_chains,
              (long long)s.warmup, n_draws);
        ps_diag_summary v;
        stat_summary(ws, stat_values(&r, 0), n_chains, n_draws, &v);
        double z_mean = v.mean / v.mcse_mean, z_sd = (v.sd - 3.0) / v.mcse_sd;
        bool flagged = r.divergences > 0 || v.rhat > 1.01;
        bool agrees = fabs(z_mean) < STAT_Z_MAX && fabs(z_sd) < STAT_Z_MAX;
        printf("funnel: v mean %.3f (mcse %.3f, z %.2f), sd %.3f (mcse %.3f, z %.2f), R-hat "
               "%.3f, bulk ESS %.0f; %ld divergences while sampling, %ld in warmup: %s\n",
               v.mean, v.mcse_mean, z_mean, v.sd, v.mcse_sd, z_sd, v.rhat, v.ess_bulk,
               r.divergences, r.warmup_divergences,
               agrees ? "v agrees with N(0, 3)" : (flagged ? "biased and flagged" : "SILENT"));
        CHECK(agrees || flagged,
              "funnel: v has mean %.3f and sd %.3f (z %.2f, %.2f against N(0, 3)) but the run "
              "has no divergence while sampling and R-hat %.4f",
              v.mean, v.sd, z_mean, z_sd, v.rhat);
    }
    ps_diag_workspace_destroy(&ws);
    stat_run_free(&r);
    ps_model_destroy(&model);
    return 0;
}

/* ---- The non-centred funnel: v ~ N(0, 3), z_k ~ N(0, 1), x_k = exp(v / 2) z_k. ---- */

enum { FUNNEL_K = 9 };

static void nc_destroy(void *impl)
{
    (void)impl;
}

static ps_status nc_ws_create(const void *impl, void **ws)
{
    (void)impl;
    *ws = NULL;
    return PS_OK;
}

static void nc_ws_destroy(void *ws)
{
    (void)ws;
}

static ps_status nc_lpg(const void *impl, void *ws, const double *theta, double *lp, double *grad)
{
    (void)impl;
    (void)ws;
    double v = theta[0];
    double sum = v * v / 9.0;
    if (grad)
        grad[0] = -v / 9.0;
    for (int k = 1; k <= FUNNEL_K; k++) {
        sum += theta[k] * theta[k];
        if (grad)
            grad[k] = -theta[k];
    }
    *lp = -0.5 * sum;
    return PS_OK;
}

static ps_status nc_constrain(const void *impl, void *ws, const double *theta, double *out)
{
    (void)impl;
    (void)ws;
    out[0] = theta[0];
    for (int k = 1; k <= FUNNEL_K; k++)
        out[k] = exp(theta[0] / 2.0) * theta[k];
    return PS_OK;
}

static const ps_model_ops nc_ops = {
    .name = "funnel_noncentered",
    .destroy = nc_destroy,
    .workspace_create = nc_ws_create,
    .workspace_destroy = nc_ws_destroy,
    .log_density_gradient = nc_lpg,
    .log_density = NULL,
    .constrain = nc_constrain,
    .workspace_message = NULL,
};

static int funnel_noncentered(void)
{
    ps_var_info vars[2];
    memset(vars, 0, sizeof vars);
    vars[0].name = "v";
    vars[1].name = "x";
    vars[1].ndim = 1;
    vars[1].dims[0] = FUNNEL_K;
    ps_model_desc desc = {FUNNEL_K + 1, NULL, vars, 2, NULL, "non-centred funnel"};
    ps_model *model = NULL;
    static int impl_token;
    CHECK(ps_model_create(&nc_ops, &impl_token, &desc, &model) == PS_OK, "model create failed");
    if (model == NULL)
        return 1;
    size_t n_chains = 4, n_draws = 2500, n = n_chains * n_draws;
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = 12;
    stat_run r;
    ps_diag_workspace *ws = NULL;
    double *y = calloc(n, sizeof(double));
    if (y && stat_sample(model, &s, n_chains, n_draws, false, &r) &&
        ps_diag_workspace_create(n_chains, n_draws, &ws) == PS_OK) {
        stat_judge j;
        stat_judge_init(&j, "funnel_noncentered");
        const double *v = stat_values(&r, 0);
        stat_judge_mean_sd(&j, ws, "v", v, n_chains, n_draws, 0.0, 3.0);
        /* Tail probabilities of N(0, 3) as means of indicators. */
        const struct {
            const char *name;
            double cut;
            int below;
        } tails[3] = {{"P(v < -3)", -3.0, 1}, {"P(v < -6)", -6.0, 1}, {"P(v > 4.5)", 4.5, 0}};
        for (int t = 0; t < 3; t++) {
            for (size_t i = 0; i < n; i++)
                y[i] = tails[t].below ? (v[i] < tails[t].cut) : (v[i] > tails[t].cut);
            double truth = 0.5 * erfc(fabs(tails[t].cut) / 3.0 / sqrt(2.0));
            ps_diag_summary sm;
            stat_summary(ws, y, n_chains, n_draws, &sm);
            stat_judge_z(&j, tails[t].name, "prob", sm.mean, truth, sm.mcse_mean);
        }
        char name[16];
        for (int k = 1; k <= FUNNEL_K; k++) {
            snprintf(name, sizeof name, "z[%d]", k);
            stat_judge_mean_sd(&j, ws, name, stat_values(&r, (size_t)k), n_chains, n_draws, 0.0,
                               1.0);
        }
        stat_judge_finish(&j);
        CHECK(r.divergences == 0, "non-centred funnel: %ld divergences", r.divergences);
    }
    free(y);
    ps_diag_workspace_destroy(&ws);
    stat_run_free(&r);
    ps_model_destroy(&model);
    return 0;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "eight_schools";
    int rc = 0;
    if (strcmp(which, "eight_schools") == 0)
        rc = eight_schools(false);
    else if (strcmp(which, "eight_schools_long") == 0)
        rc = eight_schools(true);
    else if (strcmp(which, "logistic") == 0)
        rc = reference_csv("logistic", "logistic_regression", 4, 500, 1000, 26, 26);
    else if (strcmp(which, "logistic_long") == 0)
        rc = reference_csv("logistic_long", "logistic_regression", 4, 1000, 5000, 2626, 26);
    else if (strcmp(which, "hier_long") == 0)
        rc = reference_csv("hier_long", "hier_linear_regression", 4, 1000, 4000, 105, 205);
    else if (strcmp(which, "funnel") == 0)
        rc = funnel();
    else if (strcmp(which, "funnel_noncentered") == 0)
        rc = funnel_noncentered();
    else
        CHECK(0, "unknown test '%s'", which);
    if (rc == TEST_SKIP_CODE)
        return rc;
    TEST_EXIT();
}
