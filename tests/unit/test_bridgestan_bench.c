/*
 * The test models that mirror the benchmark models load the benchmark's own data files
 * (../shared/bench/data; the test skips when they are absent) with the dimensions of the
 * Stan programs, gradients that match finite differences, and, for gauss_corr (100-d, mu = 0),
 * a gradient g with Sigma (-g) = x and log density x'g / 2, Sigma read here from the file.
 */
#include <cjson/cJSON.h>

#include "bs_test_util.h"

static bst_rng rng = {99};

static ps_model *load(const char *shared, const char *name, size_t want_dim)
{
    char lib[1024], data[1024];
    bst_model_path(name, lib, sizeof lib);
    snprintf(data, sizeof data, "%s/bench/data/%s.json", shared, name);
    ps_model *model = NULL;
    ps_status st = ps_model_bridgestan_create(lib, data, 1, &model);
    CHECK(st == PS_OK, "%s with %s: %s", name, data, ps_error_message());
    ps_error_clear();
    if (model != NULL)
        CHECK(ps_model_dim(model) == want_dim, "%s: dim %zu, expected %zu", name,
              ps_model_dim(model), want_dim);
    return model;
}

static void check_gauss(const char *shared, ps_model *model)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bench/data/gauss100_corr.json", shared);
    char *text = NULL;
    size_t len;
    if (ps_file_read(path, &text, &len) != PS_OK) {
        CHECK(0, "cannot read %s", path);
        return;
    }
    cJSON *root = cJSON_Parse(text);
    ps_free(text);
    const cJSON *sigma = cJSON_GetObjectItemCaseSensitive(root, "Sigma");
    CHECK(cJSON_GetArraySize(sigma) == 100, "Sigma rows");
    ps_model_workspace *ws = NULL;
    if (ps_model_workspace_create(model, &ws) == PS_OK && cJSON_GetArraySize(sigma) == 100) {
        double x[100], g[100], lp;
        for (int i = 0; i < 100; i++)
            x[i] = 3.0 * bst_normal(&rng);
        CHECK(ps_model_log_density_gradient(model, ws, x, &lp, g) == PS_OK, "gauss lp");
        double xg = 0.0, worst = 0.0;
        for (int i = 0; i < 100; i++) {
            const cJSON *row = cJSON_GetArrayItem(sigma, i);
            double sx = 0.0, mag = 0.0;
            for (int j = 0; j < 100; j++) {
                double s = cJSON_GetArrayItem(row, j)->valuedouble;
                sx += s * -g[j];
                mag += fabs(s * g[j]);
            }
            double err = fabs(sx - x[i]) / (mag + fabs(x[i]));
            worst = err > worst ? err : worst;
            xg += x[i] * g[i];
        }
        /* Sigma has condition number 1e4: solves lose about four digits. */
        CHECK(worst < 1e-9, "Sigma (-grad) differs from x by %g (relative)", worst);
        CHECK_CLOSE(lp, 0.5 * xg, 1e-10, "gauss100 log density x'grad/2");
        bst_check_gradient(model, ws, x, "gauss100_corr");
    }
    ps_model_workspace_destroy(&ws);
    cJSON_Delete(root);
}

int main(void)
{
    TEST_REQUIRE_SHARED(shared);
    const struct {
        const char *model, *data;
        size_t dim;
    } bench[] = {{"eight_schools_noncentered", "eight_schools_noncentered", 10},
                 {"logistic_regression", "logistic_regression", 26},
                 {"hier_linear_regression", "hier_linear_regression", 105},
                 {"neal_funnel10", "neal_funnel10", 10}};
    for (size_t m = 0; m < sizeof bench / sizeof bench[0]; m++) {
        ps_model *model = load(shared, bench[m].model, bench[m].dim);
        ps_model_workspace *ws = NULL;
        if (model != NULL && ps_model_workspace_create(model, &ws) == PS_OK) {
            double theta[128];
            for (int p = 0; p < 2; p++) {
                for (size_t i = 0; i < bench[m].dim; i++)
                    theta[i] = 2.0 * bst_uniform(&rng) - 1.0;
                bst_check_gradient(model, ws, theta, bench[m].model);
            }
        }
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&model);
    }
    char lib[1024], data[1024];
    bst_model_path("gauss_corr", lib, sizeof lib);
    snprintf(data, sizeof data, "%s/bench/data/gauss100_corr.json", shared);
    ps_model *model = NULL;
    CHECK(ps_model_bridgestan_create(lib, data, 1, &model) == PS_OK, "gauss_corr: %s",
          ps_error_message());
    ps_error_clear();
    if (model != NULL) {
        CHECK(ps_model_dim(model) == 100, "gauss_corr dim %zu", ps_model_dim(model));
        check_gauss(shared, model);
    }
    ps_model_destroy(&model);
    TEST_EXIT();
}
