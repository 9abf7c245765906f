/*
 * NUTS, static HMC and random-walk Metropolis recover Gaussian targets (the BridgeStan-ABI
 * test models gauss_corr and std_normal), judged in MCSE units (stat_util.h).
 *
 *   nuts_diag   NUTS, diagonal metric, 10-d Gaussian with sds 0.5 .. 19 and AR(1)
 *               correlation 0.7: 10 means, 10 sds, 2 correlations.
 *   nuts_dense  NUTS, dense metric, the same target with correlation 0.95.
 *   metropolis  random-walk Metropolis (diagonal metric), 5-d Gaussian (sds 0.5 .. 2.5,
 *               correlation 0.5).
 *   hmc         static HMC, 4-d standard normal, integration time 1.5. (With Stan's default
 *               2 pi, one trajectory is a full period of this target's dynamics and returns
 *               next to its start: the chain mixes so slowly that R-hat exceeds 1.05.)
 *   gauss100_dense, gauss100_diag
 *               NUTS on ../shared/bench/data/gauss100_corr.json (condition number 1e4),
 *               truth from gauss100_corr.truth.json: 100 means, 100 sds, 3 correlations.
 *
 * A correlation rho_ij is judged as the mean of (x_i - mu_i)(x_j - mu_j) / (sd_i sd_j) with
 * the true mu and sd, whose expectation is rho_ij, against its own MCSE.
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

/* The Gaussian's JSON data for gauss_corr: {"D":..,"Sigma":[[..]],"mu":[..]}. */
static char *gauss_json(size_t d, const double *mu, const double *sigma)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_printf(&sb, "{\"D\": %zu, \"mu\": [", d);
    for (size_t i = 0; i < d; i++)
        ps_strbuf_printf(&sb, "%s%.17g", i ? ", " : "", mu[i]);
    ps_strbuf_puts(&sb, "], \"Sigma\": [");
    for (size_t i = 0; i < d; i++) {
        ps_strbuf_puts(&sb, i ? ", [" : "[");
        for (size_t j = 0; j < d; j++)
            ps_strbuf_printf(&sb, "%s%.17g", j ? ", " : "", sigma[i * d + j]);
        ps_strbuf_puts(&sb, "]");
    }
    ps_strbuf_puts(&sb, "]}");
    char *out = NULL;
    if (ps_strbuf_take(&sb, &out) != PS_OK)
        return NULL;
    return out;
}

/* Judges means, sds and the correlations of the listed pairs. */
static void judge_gaussian(stat_judge *j, const stat_run *r, size_t d, const double *mu,
                           const double *sd, const double *sigma, const size_t (*pairs)[2],
                           size_t n_pairs)
{
    size_t n = r->n_chains * r->n_draws;
    ps_diag_workspace *ws = NULL;
    CHECK(ps_diag_workspace_create(r->n_chains, r->n_draws, &ws) == PS_OK, "diag workspace failed");
    double *y = calloc(n, sizeof(double));
    if (ws == NULL || y == NULL)
        goto done;
    char name[32];
    for (size_t i = 0; i < d; i++) {
        snprintf(name, sizeof name, "x[%zu]", i + 1);
        stat_judge_mean_sd(j, ws, name, stat_values(r, i), r->n_chains, r->n_draws, mu[i], sd[i]);
    }
    for (size_t k = 0; k < n_pairs; k++) {
        size_t a = pairs[k][0], b = pairs[k][1];
        const double *xa = stat_values(r, a), *xb = stat_values(r, b);
        for (size_t t = 0; t < n; t++)
            y[t] = (xa[t] - mu[a]) * (xb[t] - mu[b]) / (sd[a] * sd[b]);
        ps_diag_summary s;
        stat_summary(ws, y, r->n_chains, r->n_draws, &s);
        snprintf(name, sizeof name, "x[%zu],x[%zu]", a + 1, b + 1);
        stat_judge_z(j, name, "corr", s.mean, sigma[a * d + b] / (sd[a] * sd[b]), s.mcse_mean);
    }
done:
    free(y);
    ps_diag_workspace_destroy(&ws);
}

/* Sigma = D R D with R_ij = rho^|i-j|. */
static void ar1_gaussian(size_t d, double sd0, double growth, double rho, double *mu, double *sd,
                         double *sigma)
{
    for (size_t i = 0; i < d; i++) {
        sd[i] = sd0 * pow(growth, (double)i);
        mu[i] = 2.385 * ((double)i - 0.5 * (double)d);
    }
    for (size_t i = 0; i < d; i++)
        for (size_t k = 0; k < d; k++)
            sigma[i * d + k] = sd[i] * sd[k] * pow(rho, fabs((double)i - (double)k));
}

static int run_gaussian(const char *test, const char *algo, ps_metric_kind metric, size_t d,
                        double sd0, double growth, double rho, size_t n_chains, int64_t warmup,
                        size_t n_draws, uint64_t seed)
{
    double mu[16], sd[16], sigma[256];
    ar1_gaussian(d, sd0, growth, rho, mu, sd, sigma);
    char *json = gauss_json(d, mu, sigma);
    char path[1024];
    model_path("gauss_corr", path, sizeof path);
    ps_model *model = NULL;
    CHECK(json && ps_model_bridgestan_create(path, json, 1, &model) == PS_OK,
          "cannot load gauss_corr: %s", ps_error_message());
    free(json);
    if (model == NULL)
        return 1;
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.algorithm = algo;
    s.metric = metric;
    s.warmup = warmup;
    s.seed = seed;
    stat_run r;
    if (stat_sample(model, &s, n_chains, n_draws, false, &r)) {
        stat_judge j;
        stat_judge_init(&j, test);
        const size_t pairs[2][2] = {{0, 1}, {d - 2, d - 1}};
        judge_gaussian(&j, &r, d, mu, sd, sigma, pairs, 2);
        stat_judge_finish(&j);
        if (strcmp(algo, "metropolis") != 0)
            CHECK(r.divergences == 0, "%s: %ld divergences on a Gaussian", test, r.divergences);
    }
    stat_run_free(&r);
    ps_model_destroy(&model);
    return 0;
}

static int run_std_normal_hmc(void)
{
    char path[1024];
    model_path("std_normal", path, sizeof path);
    ps_model *model = NULL;
    CHECK(ps_model_bridgestan_create(path, "{\"D\": 4}", 1, &model) == PS_OK,
          "cannot load std_normal: %s", ps_error_message());
    if (model == NULL)
        return 1;
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.algorithm = "hmc";
    s.int_time = 1.5;
    s.warmup = 1000;
    s.seed = 4242;
    stat_run r;
    if (stat_sample(model, &s, 4, 1000, false, &r)) {
        stat_judge j;
        stat_judge_init(&j, "hmc");
        ps_diag_workspace *ws = NULL;
        CHECK(ps_diag_workspace_create(4, 1000, &ws) == PS_OK, "diag workspace failed");
        char name[16];
        for (size_t i = 0; ws && i < 4; i++) {
            snprintf(name, sizeof name, "x[%zu]", i + 1);
            stat_judge_mean_sd(&j, ws, name, stat_values(&r, i), 4, 1000, 0.0, 1.0);
        }
        stat_judge_finish(&j);
        ps_diag_workspace_destroy(&ws);
    }
    stat_run_free(&r);
    ps_model_destroy(&model);
    return 0;
}

static double *json_numbers(const cJSON *array, size_t n)
{
    if (!cJSON_IsArray(array) || (size_t)cJSON_GetArraySize(array) != n)
        return NULL;
    double *v = calloc(n, sizeof(double));
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, array)
    {
        v[i++] = item->valuedouble;
    }
    return v;
}

static int run_gauss100(const char *test, ps_metric_kind metric)
{
    TEST_REQUIRE_SHARED(shared);
    char data_path[1024], truth_path[1024], path[1024];
    snprintf(data_path, sizeof data_path, "%s/bench/data/gauss100_corr.json", shared);
    snprintf(truth_path, sizeof truth_path, "%s/bench/data/gauss100_corr.truth.json", shared);
    model_path("gauss_corr", path, sizeof path);
    char *data_text = NULL, *truth_text = NULL;
    size_t len = 0;
    CHECK(ps_file_read(data_path, &data_text, &len) == PS_OK, "%s", ps_error_message());
    CHECK(ps_file_read(truth_path, &truth_text, &len) == PS_OK, "%s", ps_error_message());
    cJSON *data = data_text ? cJSON_Parse(data_text) : NULL;
    cJSON *truth = truth_text ? cJSON_Parse(truth_text) : NULL;
    enum { D = 100 };
    double *mu = truth ? json_numbers(cJSON_GetObjectItem(truth, "mean"), D) : NULL;
    double *sd = truth ? json_numbers(cJSON_GetObjectItem(truth, "sd"), D) : NULL;
    double *sigma = calloc(D * D, sizeof(double));
    const cJSON *rows = data ? cJSON_GetObjectItem(data, "Sigma") : NULL;
    for (size_t i = 0; rows && sigma && i < D; i++) {
        double *row = json_numbers(cJSON_GetArrayItem(rows, (int)i), D);
        if (row)
            memcpy(sigma + i * D, row, D * sizeof(double));
        free(row);
    }
    ps_model *model = NULL;
    CHECK(mu && sd && sigma && ps_model_bridgestan_create(path, data_path, 1, &model) == PS_OK,
          "cannot set up gauss100_corr: %s", ps_error_message());
    if (model) {
        ps_chain_settings s;
        ps_chain_settings_default(&s);
        s.metric = metric;
        s.seed = 100;
        stat_run r;
        if (stat_sample(model, &s, 4, 1000, false, &r)) {
            stat_judge j;
            stat_judge_init(&j, test);
            /* The most and least correlated pairs among the first ten coordinates, and one
             * more. */
            const size_t pairs[3][2] = {{0, 3}, {0, 19}, {47, 48}};
            judge_gaussian(&j, &r, D, mu, sd, sigma, pairs, 3);
            stat_judge_finish(&j);
            CHECK(r.divergences == 0, "%s: %ld divergences on a Gaussian", test, r.divergences);
        }
        stat_run_free(&r);
    }
    ps_model_destroy(&model);
    free(mu);
    free(sd);
    free(sigma);
    cJSON_Delete(data);
    cJSON_Delete(truth);
    ps_free(data_text);
    ps_free(truth_text);
    return 0;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "nuts_diag";
    if (strcmp(which, "nuts_diag") == 0)
        run_gaussian("nuts_diag", "nuts", PS_METRIC_DIAG, 10, 0.5, 1.4, 0.7, 4, 1000, 1000, 11);
    else if (strcmp(which, "nuts_dense") == 0)
        run_gaussian("nuts_dense", "nuts", PS_METRIC_DENSE, 10, 0.5, 1.4, 0.95, 4, 1000, 1000, 12);
    else if (strcmp(which, "metropolis") == 0)
        run_gaussian("metropolis", "metropolis", PS_METRIC_DIAG, 5, 0.5, 1.5, 0.5, 4, 2000, 10000,
                     13);
    else if (strcmp(which, "hmc") == 0)
        run_std_normal_hmc();
    else if (strcmp(which, "gauss100_dense") == 0) {
        int rc = run_gauss100("gauss100_dense", PS_METRIC_DENSE);
        if (rc == TEST_SKIP_CODE)
            return rc;
    } else if (strcmp(which, "gauss100_diag") == 0) {
        int rc = run_gauss100("gauss100_diag", PS_METRIC_DIAG);
        if (rc == TEST_SKIP_CODE)
            return rc;
    } else {
        CHECK(0, "unknown test '%s'", which);
    }
    TEST_EXIT();
}
