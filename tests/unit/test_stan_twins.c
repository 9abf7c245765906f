/*
 * The benchmark models compiled from Stan against independent computations of the same
 * log density: the hand-written BridgeStan-ABI twins in tests/models (eight schools,
 * logistic regression, hierarchical linear regression, Neal's funnel, the correlated
 * Gaussian) and, for poisson_glm, the density written out here in plain doubles. The log
 * density is Stan's up to a constant, so what must agree are differences of lp between
 * points, and gradients; the constrained outputs must agree exactly in layout and value.
 */
#include "core/core.h"
#include "stan_test_util.h"

static void model_path(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/tests/models/%s.so", PSAMPLE_BINARY_DIR, name);
}

typedef double (*lp_fn)(const double *theta, double *grad, void *ctx);

/* Compares a compiled model with a reference evaluator (another model or a C function). */
static void compare(const char *name, ps_model *stan, ps_model *twin, lp_fn ref, void *ctx)
{
    size_t d = ps_model_dim(stan);
    CHECK(twin == NULL || ps_model_dim(twin) == d, "%s: dimensions %zu and %zu", name, d,
          ps_model_dim(twin));
    if (twin != NULL && ps_model_dim(twin) != d)
        return;
    ps_model_workspace *ws = NULL, *wt = NULL;
    ps_model_workspace_create(stan, &ws);
    if (twin)
        ps_model_workspace_create(twin, &wt);
    double *th = calloc(d, sizeof(double)), *g1 = calloc(d, sizeof(double)),
           *g2 = calloc(d, sizeof(double));
    size_t n_out = ps_model_output_size(stan);
    double *o1 = calloc(n_out + 1, sizeof(double)), *o2 = calloc(n_out + 1, sizeof(double));
    stt_rng r = {99};
    double lp0_s = 0, lp0_t = 0, max_lp_err = 0, max_g_err = 0;
    for (int point = 0; point < 6; point++) {
        for (size_t i = 0; i < d; i++)
            th[i] = 3.0 * stt_uniform(&r) - 1.5;
        double lp_s, lp_t;
        ps_status s1 = ps_model_log_density_gradient(stan, ws, th, &lp_s, g1);
        ps_status s2 = PS_OK;
        if (twin)
            s2 = ps_model_log_density_gradient(twin, wt, th, &lp_t, g2);
        else
            lp_t = ref(th, g2, ctx);
        CHECK(s1 == PS_OK && s2 == PS_OK, "%s: evaluation failed: %s", name, ps_error_message());
        if (point == 0) {
            lp0_s = lp_s;
            lp0_t = lp_t;
        }
        double ds = lp_s - lp0_s, dt = lp_t - lp0_t;
        double scale = fabs(lp_s) + fabs(lp0_s) + 1.0;
        double lp_err = fabs(ds - dt) / scale;
        if (lp_err > max_lp_err)
            max_lp_err = lp_err;
        CHECK(lp_err < 1e-12, "%s: lp(theta) - lp(theta0) is %.17g compiled, %.17g reference", name,
              ds, dt);
        for (size_t i = 0; i < d; i++) {
            double e = fabs(g1[i] - g2[i]) / (fabs(g2[i]) > 1 ? fabs(g2[i]) : 1);
            if (e > max_g_err)
                max_g_err = e;
            if (e > 1e-9)
                CHECK(0, "%s: gradient %zu is %.17g compiled, %.17g reference", name, i, g1[i],
                      g2[i]);
        }
        if (twin) {
            CHECK(ps_model_output_size(twin) == n_out, "%s: output sizes %zu and %zu", name, n_out,
                  ps_model_output_size(twin));
            ps_model_constrain(stan, ws, th, o1);
            ps_model_constrain(twin, wt, th, o2);
            for (size_t k = 0; k < n_out && ps_model_output_size(twin) == n_out; k++)
                if (!(fabs(o1[k] - o2[k]) <= 1e-12 * (1 + fabs(o2[k])))) {
                    char el[128];
                    ps_model_output_element_name(stan, k, el, sizeof el);
                    CHECK(0, "%s: output %s is %.17g compiled, %.17g reference", name, el, o1[k],
                          o2[k]);
                    break;
                }
        }
    }
    printf("%-28s dim %3zu: max |d lp - d lp_ref| / |lp| %.2g, max gradient error %.2g\n", name, d,
           max_lp_err, max_g_err);
    free(th);
    free(g1);
    free(g2);
    free(o1);
    free(o2);
    ps_model_workspace_destroy(&ws);
    ps_model_workspace_destroy(&wt);
}

/* poisson_glm: alpha, beta ~ normal(0, 2.5) (propto: no constants) and the full
 * poisson_log_glm_lpmf, written out in doubles. */
typedef struct pglm {
    int N, K;
    double *X; /* N x K row-major */
    int *y;
} pglm;

static double pglm_lp(const double *th, double *g, void *ctx)
{
    const pglm *p = ctx;
    double alpha = th[0];
    const double *beta = th + 1;
    double lp = -alpha * alpha / 12.5;
    g[0] = -alpha / 6.25;
    for (int k = 0; k < p->K; k++) {
        lp -= beta[k] * beta[k] / 12.5;
        g[1 + k] = -beta[k] / 6.25;
    }
    for (int n = 0; n < p->N; n++) {
        double eta = alpha;
        for (int k = 0; k < p->K; k++)
            eta += p->X[n * p->K + k] * beta[k];
        double mu = exp(eta);
        lp += p->y[n] * eta - mu - lgamma(p->y[n] + 1.0);
        double d = p->y[n] - mu;
        g[0] += d;
        for (int k = 0; k < p->K; k++)
            g[1 + k] += d * p->X[n * p->K + k];
    }
    return lp;
}

#include <cjson/cJSON.h>

static bool read_pglm(const char *path, pglm *p)
{
    char *text = NULL;
    size_t len = 0;
    if (ps_file_read(path, &text, &len) != PS_OK)
        return false;
    cJSON *root = cJSON_ParseWithLength(text, len);
    ps_free(text);
    if (root == NULL)
        return false;
    p->N = cJSON_GetObjectItem(root, "N")->valueint;
    p->K = cJSON_GetObjectItem(root, "K")->valueint;
    p->X = calloc((size_t)p->N * p->K, sizeof(double));
    p->y = calloc((size_t)p->N, sizeof(int));
    const cJSON *X = cJSON_GetObjectItem(root, "X"), *y = cJSON_GetObjectItem(root, "y");
    for (int n = 0; n < p->N; n++) {
        const cJSON *row = cJSON_GetArrayItem(X, n);
        for (int k = 0; k < p->K; k++)
            p->X[n * p->K + k] = cJSON_GetArrayItem(row, k)->valuedouble;
        p->y[n] = cJSON_GetArrayItem(y, n)->valueint;
    }
    cJSON_Delete(root);
    return true;
}

int main(void)
{
    TEST_REQUIRE_SHARED(shared);
    ps_log_set_level(PS_LOG_ERROR);
    static const char *const pairs[][2] = {
        {"eight_schools_noncentered", "eight_schools_noncentered"},
        {"logistic_regression", "logistic_regression"},
        {"hier_linear_regression", "hier_linear_regression"},
        {"neal_funnel10", "neal_funnel10"},
        {"gauss100_corr", "gauss_corr"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char stan[1024], data[1024], lib[1024];
        snprintf(stan, sizeof stan, "%s/bench/models/%s.stan", shared, pairs[i][0]);
        snprintf(data, sizeof data, "%s/bench/data/%s.json", shared, pairs[i][0]);
        model_path(pairs[i][1], lib, sizeof lib);
        ps_model *a = NULL, *b = NULL;
        ps_status s1 = ps_model_stan_create(stan, data, 1, &a);
        ps_status s2 = ps_model_bridgestan_create(lib, data, 1, &b);
        CHECK(s1 == PS_OK && s2 == PS_OK, "%s: loading failed: %s", pairs[i][0],
              ps_error_message());
        if (s1 == PS_OK && s2 == PS_OK)
            compare(pairs[i][0], a, b, NULL, NULL);
        ps_model_destroy(&a);
        ps_model_destroy(&b);
        ps_error_clear();
    }
    char stan[1024], data[1024];
    /* logistic regression at theta = 0: every linear predictor is 0 and lp = -N log 2
     * exactly (the priors vanish). Regression test of the fused GLM kernel, whose lane
     * products of (1 + e^-|eta|) overflowed when many predictors were near 0. */
    snprintf(stan, sizeof stan, "%s/bench/models/logistic_regression.stan", shared);
    snprintf(data, sizeof data, "%s/bench/data/logistic_regression.json", shared);
    ps_model *lr = NULL;
    if (ps_model_stan_create(stan, data, 1, &lr) == PS_OK) {
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(lr, &ws);
        double th[26] = {0}, g[26], lp = 0;
        ps_model_log_density_gradient(lr, ws, th, &lp, g);
        CHECK(fabs(lp + 5000 * log(2.0)) < 1e-9,
              "logistic regression at 0: lp %.17g, expected "
              "-5000 log 2 = %.17g",
              lp, -5000 * log(2.0));
        ps_model_workspace_destroy(&ws);
    } else {
        CHECK(0, "logistic_regression: %s", ps_error_message());
    }
    ps_model_destroy(&lr);
    snprintf(stan, sizeof stan, "%s/bench/models/poisson_glm.stan", shared);
    snprintf(data, sizeof data, "%s/bench/data/poisson_glm.json", shared);
    pglm p;
    ps_model *m = NULL;
    CHECK(read_pglm(data, &p), "cannot read %s", data);
    CHECK(ps_model_stan_create(stan, data, 1, &m) == PS_OK, "poisson_glm: %s", ps_error_message());
    if (m != NULL) {
        compare("poisson_glm", m, NULL, pglm_lp, &p);
        /* target += keeps every constant: the value itself equals the closed form. */
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        double th[11] = {0.3, 0.1, -0.2, 0.05, 0.0, 0.2, -0.1, 0.15, 0.0, -0.05, 0.1}, lp, g[11];
        ps_model_log_density(m, ws, th, &lp);
        double want = pglm_lp(th, g, &p);
        CHECK(fabs(lp - want) <= 1e-9 * fabs(want), "poisson_glm: lp %.17g, closed form %.17g", lp,
              want);
        ps_model_workspace_destroy(&ws);
    }
    ps_model_destroy(&m);
    free(p.X);
    free(p.y);
    TEST_EXIT();
}
