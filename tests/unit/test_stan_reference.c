/*
 * Every program of ../shared/reference/posteriordb (tiers 1 and 2) and ../shared/bench/
 * models compiles with its data, and its gradient agrees with central finite differences
 * at random points; its output names cover the reference summary's columns. Tier 3
 * programs (user functions, Gaussian-process kernels, ODEs) must fail with a located "not
 * supported yet" error, which is printed as the reason they are skipped.
 */
#include <cjson/cJSON.h>

#include "core/core.h"
#include "stan_test_util.h"

static int n_points = 5;

static void fd_check(const char *name, ps_model *m, uint64_t seed)
{
    size_t d = ps_model_dim(m);
    ps_model_workspace *ws = NULL;
    CHECK(ps_model_workspace_create(m, &ws) == PS_OK, "%s: workspace", name);
    double *theta = calloc(d + 1, sizeof(double));
    stt_rng r = {seed};
    int points = 0, attempts = 0;
    double worst_ratio = 0.0;
    while (points < n_points && attempts < 200) {
        attempts++;
        for (size_t i = 0; i < d; i++)
            theta[i] = 3.0 * stt_uniform(&r) - 1.5;
        size_t worst = 0;
        double ratio = stt_fd_ratio(m, ws, theta, 1e-6, &worst);
        if (ratio < 0)
            continue;
        points++;
        if (ratio > worst_ratio)
            worst_ratio = ratio;
        CHECK(ratio < 1.0,
              "%s: gradient and central differences differ by %.3g times the tolerance at "
              "coordinate %zu (%s)",
              name, ratio, worst, ps_model_unc_name(m, worst));
    }
    CHECK(points == n_points, "%s: only %d of %d random points could be evaluated (%s)", name,
          points, attempts, ps_model_workspace_message(ws));
    printf("%-48s dim %4zu: %d points, worst |fd - grad| / tolerance %.3g\n", name, d, points,
           worst_ratio);
    free(theta);
    ps_model_workspace_destroy(&ws);
}

/* The reference columns ("theta[1]", ...) must all be output elements of the model. */
static void check_columns(const char *name, ps_model *m, const char *summary_path)
{
    char *text = NULL;
    size_t len = 0;
    if (ps_file_read(summary_path, &text, &len) != PS_OK) {
        CHECK(0, "%s: cannot read %s", name, summary_path);
        ps_error_clear();
        return;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "names");
    size_t n_out = ps_model_output_size(m);
    int missing = 0, n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, names)
    {
        if (!cJSON_IsString(c))
            continue;
        n++;
        bool found = false;
        for (size_t k = 0; k < n_out && !found; k++) {
            char el[128];
            ps_model_output_element_name(m, k, el, sizeof el);
            found = strcmp(el, c->valuestring) == 0;
        }
        if (!found && missing++ < 3)
            CHECK(0, "%s: the reference column %s is not an output of the model", name,
                  c->valuestring);
    }
    CHECK(n > 0, "%s: no columns in %s", name, summary_path);
    cJSON_Delete(root);
    ps_free(text);
}

static void posteriordb(const char *shared)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/posteriordb/INDEX.tsv", shared);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (f == NULL)
        return;
    char line[1024];
    int n_run = 0, n_skip = 0;
    uint64_t seed = 1;
    while (fgets(line, sizeof line, f)) {
        char posterior[256], tier[32];
        /* posterior model data n_unc n_ref data_N numbers bytes tier */
        char *fields[9];
        int nf = 0;
        for (char *tok = strtok(line, "\t\n"); tok && nf < 9; tok = strtok(NULL, "\t\n"))
            fields[nf++] = tok;
        if (nf < 8 || strcmp(fields[0], "posterior") == 0)
            continue;
        snprintf(posterior, sizeof posterior, "%s", fields[0]);
        snprintf(tier, sizeof tier, "%s", fields[nf - 1]);
        char stan[1024], data[1024], summary[1024];
        snprintf(stan, sizeof stan, "%s/reference/posteriordb/%s.stan", shared, posterior);
        snprintf(data, sizeof data, "%s/reference/posteriordb/%s.data.json", shared, posterior);
        snprintf(summary, sizeof summary, "%s/reference/posteriordb/%s.ref_summary.json", shared,
                 posterior);
        ps_model *m = NULL;
        ps_error_clear();
        ps_status st = ps_model_stan_create(stan, data, 1, &m);
        if (strncmp(tier, "T3", 2) == 0) {
            const char *msg = ps_error_message();
            CHECK(st == PS_ERR_MODEL && strstr(msg, "not supported yet") != NULL &&
                      strstr(msg, ".stan:") != NULL,
                  "%s (tier 3): expected a located 'not supported yet' error, got status %d: %s",
                  posterior, st, msg);
            const char *nl = strchr(msg, '\n');
            printf("%-48s SKIP (tier %s): %.*s\n", posterior, tier, nl ? (int)(nl - msg) : 200,
                   msg);
            n_skip++;
            ps_model_destroy(&m);
            ps_error_clear();
            continue;
        }
        CHECK(st == PS_OK, "%s (tier %s): compiling failed: %s", posterior, tier,
              ps_error_message());
        if (st != PS_OK)
            continue;
        n_run++;
        fd_check(posterior, m, seed++);
        check_columns(posterior, m, summary);
        ps_model_destroy(&m);
    }
    fclose(f);
    printf("posteriordb: %d programs checked, %d tier-3 programs skipped\n", n_run, n_skip);
    CHECK(n_run >= 30, "only %d posteriordb programs were checked", n_run);
}

static void bench(const char *shared)
{
    static const char *const models[] = {"eight_schools_noncentered",
                                         "logistic_regression",
                                         "hier_linear_regression",
                                         "gauss100_corr",
                                         "poisson_glm",
                                         "neal_funnel10"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char stan[1024], data[1024];
        snprintf(stan, sizeof stan, "%s/bench/models/%s.stan", shared, models[i]);
        snprintf(data, sizeof data, "%s/bench/data/%s.json", shared, models[i]);
        ps_model *m = NULL;
        ps_status st = ps_model_stan_create(stan, data, 1, &m);
        CHECK(st == PS_OK, "bench %s: compiling failed: %s", models[i], ps_error_message());
        if (st == PS_OK)
            fd_check(models[i], m, 100 + i);
        ps_model_destroy(&m);
        ps_error_clear();
    }
}

int main(int argc, char **argv)
{
    TEST_REQUIRE_SHARED(shared);
    if (argc > 1)
        n_points = atoi(argv[1]);
    ps_log_set_level(PS_LOG_ERROR);
    posteriordb(shared);
    bench(shared);
    TEST_EXIT();
}
