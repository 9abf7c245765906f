/*
 * posteriordb reference posteriors recovered by NUTS on programs compiled by psample.
 *
 * usage: stat_stan_posteriordb [--draws N] [--target-accept D] POSTERIOR...
 *        (names as in INDEX.tsv; defaults 1000 draws, target acceptance 0.8)
 *
 * Each posterior: the program compiled with its data, 4 chains (ids 0-3, fixed seed) of
 * Stan's NUTS with diagonal metric and windowed adaptation through the chain API
 * (src/mcmc), 1000 warmup iterations and N draws (default 1000). Every column of the
 * reference summary (parameters and transformed parameters) is judged in Monte Carlo
 * standard errors (tests/stat/stat_util.h):
 *   mean: z = (mean - ref_mean) / sqrt(mcse_mean^2 + ref_mcse_mean^2);
 *   sd:   z = (sd - ref_sd) / sqrt(mcse_sd^2 + ref_mcse_sd^2), where the reference gives no
 *         MCSE of its sd and it is taken as mcse_sd * ref_mcse_mean / mcse_mean (the same
 *         posterior shape at the reference's effective sample size).
 * A posterior fails when any |z| > 4.5 or more columns than the binomial bound have
 * |z| > 3, or an R-hat is above 1.05; the false-failure rate of each posterior is printed
 * (at most about 1e-4 plus 7e-6 per quantity).
 */
#include <cjson/cJSON.h>

#include "stat_util.h"

typedef struct ref_col {
    char name[96];
    double mean, mcse, sd;
} ref_col;

static int read_reference(const char *path, ref_col **cols, int *n)
{
    char *text = NULL;
    size_t len = 0;
    *cols = NULL;
    *n = 0;
    if (ps_file_read(path, &text, &len) != PS_OK)
        return 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    ps_free(text);
    const cJSON *names = cJSON_GetObjectItem(root, "names"),
                *mean = cJSON_GetObjectItem(root, "mean"),
                *mcse = cJSON_GetObjectItem(root, "mcse_mean"),
                *sd = cJSON_GetObjectItem(root, "sd_from_moments");
    int m = cJSON_GetArraySize(names);
    *cols = calloc((size_t)m + 1, sizeof **cols);
    for (int i = 0; i < m; i++) {
        ref_col *c = &(*cols)[i];
        snprintf(c->name, sizeof c->name, "%s", cJSON_GetArrayItem(names, i)->valuestring);
        c->mean = cJSON_GetArrayItem(mean, i)->valuedouble;
        c->mcse = cJSON_GetArrayItem(mcse, i)->valuedouble;
        c->sd = sd ? cJSON_GetArrayItem(sd, i)->valuedouble : NAN;
    }
    *n = m;
    cJSON_Delete(root);
    return 1;
}

static double target_accept = 0.8;

static void run_posterior(const char *shared, const char *posterior, size_t n_draws)
{
    char stan[1024], data[1024], summary[1024];
    snprintf(stan, sizeof stan, "%s/reference/posteriordb/%s.stan", shared, posterior);
    snprintf(data, sizeof data, "%s/reference/posteriordb/%s.data.json", shared, posterior);
    snprintf(summary, sizeof summary, "%s/reference/posteriordb/%s.ref_summary.json", shared,
             posterior);
    printf("\n=== %s\n", posterior);
    ps_model *m = NULL;
    ps_status st = ps_model_stan_create(stan, data, 1, &m);
    CHECK(st == PS_OK, "%s: compiling failed: %s", posterior, ps_error_message());
    if (st != PS_OK)
        return;
    ref_col *cols = NULL;
    int n_cols = 0;
    CHECK(read_reference(summary, &cols, &n_cols) && n_cols > 0, "%s: cannot read %s", posterior,
          summary);
    ps_chain_settings s;
    ps_chain_settings_default(&s);
    s.seed = 20261124;
    s.target_accept = target_accept;
    stat_run r;
    if (stat_sample(m, &s, 4, n_draws, true, &r)) {
        ps_diag_workspace *dws = NULL;
        ps_diag_workspace_create(4, n_draws, &dws);
        stat_judge j;
        stat_judge_init(&j, posterior);
        size_t n_out = ps_model_output_size(m);
        for (int c = 0; c < n_cols; c++) {
            size_t k = 0;
            char el[128] = "";
            for (; k < n_out; k++) {
                ps_model_output_element_name(m, k, el, sizeof el);
                if (strcmp(el, cols[c].name) == 0)
                    break;
            }
            CHECK(k < n_out, "%s: the reference column %s is not an output", posterior,
                  cols[c].name);
            if (k == n_out)
                continue;
            ps_diag_summary d;
            stat_summary(dws, stat_values(&r, k), 4, n_draws, &d);
            CHECK(d.rhat < 1.05, "%s: R-hat of %s is %.4f", posterior, cols[c].name, d.rhat);
            double se_mean = sqrt(d.mcse_mean * d.mcse_mean + cols[c].mcse * cols[c].mcse);
            stat_judge_z(&j, cols[c].name, "mean", d.mean, cols[c].mean, se_mean);
            if (isfinite(cols[c].sd) && d.mcse_mean > 0) {
                double ref_mcse_sd = d.mcse_sd * cols[c].mcse / d.mcse_mean;
                double se_sd = sqrt(d.mcse_sd * d.mcse_sd + ref_mcse_sd * ref_mcse_sd);
                stat_judge_z(&j, cols[c].name, "sd", d.sd, cols[c].sd, se_sd);
            }
        }
        stat_judge_finish(&j);
        ps_diag_workspace_destroy(&dws);
    }
    stat_run_free(&r);
    free(cols);
    ps_model_destroy(&m);
}

int main(int argc, char **argv)
{
    TEST_REQUIRE_SHARED(shared);
    ps_log_set_level(PS_LOG_ERROR);
    size_t n_draws = 1000;
    int first = 1;
    while (argc > first + 1 && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--draws") == 0)
            n_draws = (size_t)atoi(argv[first + 1]);
        else if (strcmp(argv[first], "--target-accept") == 0)
            target_accept = atof(argv[first + 1]);
        first += 2;
    }
    for (int i = first; i < argc; i++)
        run_posterior(shared, argv[i], n_draws);
    TEST_EXIT();
}
