/*
 * The hand-written test models against closed forms computed here from their Stan programs
 * (normal, Cauchy and Bernoulli log densities on the constrained scale, plus the log-Jacobian
 * of the constraining transforms), and their gradients against finite differences.
 *
 * For every model and several points theta (unconstrained, uniform(-2, 2) as Stan's
 * initialisation, and wider):
 *   - through the ABI: propto = false gives the normalised log density (+ log-Jacobian when
 *     jacobian = true); propto = true drops exactly the terms that do not depend on
 *     parameters, as Stan's `~` does (so lp__ compares with Stan's);
 *   - through psample (propto, Jacobian): differences between points match the closed form;
 *   - gradients (psample's path, and the ABI with jacobian = false) match fourth-order
 *     central differences of the model's own log density.
 */
#include "bs_test_util.h"

#define C_LOG_SQRT_2PI 0.91893853320467274178

/* The closed form of one model: full normalised log density at theta (unconstrained), the
 * log-Jacobian, and the sum of the terms Stan's `~` drops. */
typedef double (*closed_form_fn)(const double *theta, double *log_jac, double *dropped);

static bst_rng rng = {20240611};

/* ---- Closed forms ---- */

enum { STD_D = 5 };

static double cf_std_normal(const double *theta, double *log_jac, double *dropped)
{
    double sum = 0.0;
    for (int i = 0; i < STD_D; i++)
        sum += bst_normal_lpdf(theta[i], 0, 1);
    *log_jac = 0.0;
    *dropped = -STD_D * C_LOG_SQRT_2PI;
    return sum;
}

/* gauss_corr with D = 3: Sigma = A A' + I and mu from the generator; the inverse and the
 * determinant by cofactors. */
static double gc_sigma[3][3], gc_mu[3], gc_inv[3][3], gc_det;

static void gc_setup(char *json, size_t n)
{
    double A[3][3];
    for (int i = 0; i < 3; i++) {
        gc_mu[i] = 2.0 * bst_normal(&rng);
        for (int j = 0; j < 3; j++)
            A[i][j] = bst_normal(&rng);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            gc_sigma[i][j] = i == j ? 1.0 : 0.0;
            for (int k = 0; k < 3; k++)
                gc_sigma[i][j] += A[i][k] * A[j][k];
        }
    double(*s)[3] = gc_sigma;
    gc_det = s[0][0] * (s[1][1] * s[2][2] - s[1][2] * s[2][1]) -
             s[0][1] * (s[1][0] * s[2][2] - s[1][2] * s[2][0]) +
             s[0][2] * (s[1][0] * s[2][1] - s[1][1] * s[2][0]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            /* inverse[i][j] = cofactor[j][i] / det */
            int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            gc_inv[i][j] = (s[r0][c0] * s[r1][c1] - s[r0][c1] * s[r1][c0]) / gc_det;
        }
    int len = snprintf(json, n, "{\"D\": 3, \"Sigma\": [");
    for (int i = 0; i < 3; i++)
        len += snprintf(json + len, n - (size_t)len, "%s[%.17g, %.17g, %.17g]", i ? ", " : "",
                        s[i][0], s[i][1], s[i][2]);
    snprintf(json + len, n - (size_t)len, "], \"mu\": [%.17g, %.17g, %.17g]}", gc_mu[0], gc_mu[1],
             gc_mu[2]);
}

static double cf_gauss_corr(const double *theta, double *log_jac, double *dropped)
{
    double q = 0.0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            q += (theta[i] - gc_mu[i]) * gc_inv[i][j] * (theta[j] - gc_mu[j]);
    *log_jac = 0.0;
    *dropped = -0.5 * log(gc_det) - 3 * C_LOG_SQRT_2PI;
    return -0.5 * q + *dropped;
}

/* eight schools (Rubin 1981 data). */
static const double es_y[8] = {28, 8, -3, 7, -1, 1, 18, 12};
static const double es_sigma[8] = {15, 10, 16, 11, 9, 11, 10, 18};
static const char es_json[] = "{\"J\": 8, \"y\": [28, 8, -3, 7, -1, 1, 18, 12], "
                              "\"sigma\": [15, 10, 16, 11, 9, 11, 10, 18]}";

static double cf_eight_schools(const double *theta, double *log_jac, double *dropped)
{
    double mu = theta[0], tau = exp(theta[1]);
    double sum = bst_normal_lpdf(mu, 0, 5) + bst_cauchy_lpdf(tau, 0, 5);
    *dropped = -log(5.0) - C_LOG_SQRT_2PI - log(3.14159265358979323846) - log(5.0);
    for (int j = 0; j < 8; j++) {
        double tt = theta[2 + j];
        sum += bst_normal_lpdf(tt, 0, 1) + bst_normal_lpdf(es_y[j], mu + tau * tt, es_sigma[j]);
        *dropped += -C_LOG_SQRT_2PI - log(es_sigma[j]) - C_LOG_SQRT_2PI;
    }
    *log_jac = theta[1];
    return sum;
}

/* logistic regression, N = 40, D = 3. */
enum { LR_N = 40, LR_D = 3 };
static double lr_X[LR_N][LR_D];
static int lr_y[LR_N];

static void lr_setup(char *json, size_t n)
{
    const double beta[LR_D] = {0.8, -1.3, 0.4};
    int len = snprintf(json, n, "{\"N\": %d, \"D\": %d, \"X\": [", LR_N, LR_D);
    for (int i = 0; i < LR_N; i++) {
        double eta = -0.3;
        for (int k = 0; k < LR_D; k++) {
            lr_X[i][k] = bst_normal(&rng);
            eta += lr_X[i][k] * beta[k];
        }
        lr_y[i] = bst_uniform(&rng) < 1.0 / (1.0 + exp(-eta));
        len += snprintf(json + len, n - (size_t)len, "%s[%.17g, %.17g, %.17g]", i ? ", " : "",
                        lr_X[i][0], lr_X[i][1], lr_X[i][2]);
    }
    len += snprintf(json + len, n - (size_t)len, "], \"y\": [");
    for (int i = 0; i < LR_N; i++)
        len += snprintf(json + len, n - (size_t)len, "%s%d", i ? ", " : "", lr_y[i]);
    snprintf(json + len, n - (size_t)len, "]}");
}

static double cf_logistic(const double *theta, double *log_jac, double *dropped)
{
    double sum = bst_normal_lpdf(theta[0], 0, 2.5);
    for (int k = 0; k < LR_D; k++)
        sum += bst_normal_lpdf(theta[1 + k], 0, 2.5);
    for (int i = 0; i < LR_N; i++) {
        double eta = theta[0];
        for (int k = 0; k < LR_D; k++)
            eta += lr_X[i][k] * theta[1 + k];
        double p = 1.0 / (1.0 + exp(-eta));
        sum += lr_y[i] ? log(p) : log(1.0 - p);
    }
    *log_jac = 0.0;
    *dropped = (1 + LR_D) * (-log(2.5) - C_LOG_SQRT_2PI);
    return sum;
}

/* hierarchical linear regression, N = 30, J = 4. */
enum { HL_N = 30, HL_J = 4 };
static int hl_g[HL_N];
static double hl_x[HL_N], hl_y[HL_N];

static void hl_setup(char *json, size_t n)
{
    int len = snprintf(json, n, "{\"N\": %d, \"J\": %d, \"g\": [", HL_N, HL_J);
    for (int i = 0; i < HL_N; i++) {
        hl_g[i] = i < HL_J ? i + 1 : 1 + (int)(bst_uniform(&rng) * HL_J);
        hl_x[i] = bst_normal(&rng);
        hl_y[i] = 1.0 + 0.3 * hl_g[i] - 0.5 * hl_x[i] + bst_normal(&rng);
        len += snprintf(json + len, n - (size_t)len, "%s%d", i ? ", " : "", hl_g[i]);
    }
    len += snprintf(json + len, n - (size_t)len, "], \"x\": [");
    for (int i = 0; i < HL_N; i++)
        len += snprintf(json + len, n - (size_t)len, "%s%.17g", i ? ", " : "", hl_x[i]);
    len += snprintf(json + len, n - (size_t)len, "], \"y\": [");
    for (int i = 0; i < HL_N; i++)
        len += snprintf(json + len, n - (size_t)len, "%s%.17g", i ? ", " : "", hl_y[i]);
    snprintf(json + len, n - (size_t)len, "]}");
}

static double cf_hier(const double *theta, double *log_jac, double *dropped)
{
    double mu_a = theta[0], mu_b = theta[1];
    double tau_a = exp(theta[2]), tau_b = exp(theta[3]), sigma = exp(theta[4]);
    const double *z_a = theta + 5, *z_b = theta + 5 + HL_J;
    double sum = bst_normal_lpdf(mu_a, 0, 5) + bst_normal_lpdf(mu_b, 0, 5) +
                 bst_normal_lpdf(tau_a, 0, 2) + bst_normal_lpdf(tau_b, 0, 2) +
                 bst_normal_lpdf(sigma, 0, 2);
    for (int j = 0; j < HL_J; j++)
        sum += bst_normal_lpdf(z_a[j], 0, 1) + bst_normal_lpdf(z_b[j], 0, 1);
    for (int i = 0; i < HL_N; i++) {
        int j = hl_g[i] - 1;
        double a = mu_a + tau_a * z_a[j], b = mu_b + tau_b * z_b[j];
        sum += bst_normal_lpdf(hl_y[i], a + b * hl_x[i], sigma);
    }
    *log_jac = theta[2] + theta[3] + theta[4];
    *dropped = 2 * (-log(5.0) - C_LOG_SQRT_2PI) + 3 * (-log(2.0) - C_LOG_SQRT_2PI) +
               (2 * HL_J + HL_N) * -C_LOG_SQRT_2PI;
    return sum;
}

static double cf_funnel(const double *theta, double *log_jac, double *dropped)
{
    double v = theta[0];
    double sum = bst_normal_lpdf(v, 0, 3);
    for (int k = 0; k < 9; k++)
        sum += bst_normal_lpdf(theta[1 + k], 0, exp(v / 2));
    *log_jac = 0.0;
    *dropped = -log(3.0) - 10 * C_LOG_SQRT_2PI;
    return sum;
}

static double banana_b = 0.1;

static double cf_banana(const double *theta, double *log_jac, double *dropped)
{
    double x1 = theta[0], x2 = theta[1];
    *log_jac = 0.0;
    *dropped = -log(10.0) - 2 * C_LOG_SQRT_2PI;
    return bst_normal_lpdf(x1, 0, 10) + bst_normal_lpdf(x2, banana_b * (100 - x1 * x1), 1);
}

/* ---- The checks ---- */

/* FD gradient of the ABI's log density with propto = false, jacobian = false. */
static void check_raw_gradient(const bst_raw *raw, size_t dim, const double *theta,
                               const char *what)
{
    double x[64], grad[64], lp;
    char *err = NULL;
    memcpy(x, theta, dim * sizeof(double));
    int rc = raw->log_density_gradient(raw->model, false, false, x, &lp, grad, &err);
    CHECK(rc == 0, "%s: ABI gradient failed", what);
    if (rc != 0) {
        raw->free_msg(err);
        return;
    }
    for (size_t i = 0; i < dim; i++) {
        double h = 1e-3 * (fabs(x[i]) > 1 ? fabs(x[i]) : 1.0), f[4];
        const double steps[4] = {2, 1, -1, -2};
        for (int s = 0; s < 4; s++) {
            x[i] = theta[i] + steps[s] * h;
            f[s] = bst_raw_lp(raw, false, false, x);
        }
        x[i] = theta[i];
        double fd = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
        double scale = fabs(fd) > 1 ? fabs(fd) : 1.0;
        CHECK(fabs(grad[i] - fd) <= 1e-6 * scale,
              "%s: ABI gradient (no Jacobian)[%zu] is %.12g, finite differences give %.12g", what,
              i, grad[i], fd);
    }
}

/*
 * Loads `name` with `data`, checks dim, and at n_points points checks the closed form and
 * the gradients. Returns the model for further checks (caller destroys).
 */
static void check_model(const char *name, const char *data, size_t want_dim, closed_form_fn cf,
                        double spread)
{
    char path[1024];
    bst_model_path(name, path, sizeof path);
    ps_model *model = NULL;
    ps_status st = ps_model_bridgestan_create(path, data, 42, &model);
    CHECK(st == PS_OK, "%s: cannot load: %s", name, ps_error_message());
    ps_error_clear();
    if (st != PS_OK)
        return;
    size_t dim = ps_model_dim(model);
    CHECK(dim == want_dim, "%s: dim %zu, expected %zu", name, dim, want_dim);
    ps_model_workspace *ws = NULL;
    if (dim != want_dim || dim > 64 || ps_model_workspace_create(model, &ws) != PS_OK) {
        ps_model_destroy(&model);
        return;
    }
    bst_raw raw;
    bst_raw_open(&raw, name, data);

    enum { N_POINTS = 6 };
    double points[N_POINTS][64], lp_ps[N_POINTS], full[N_POINTS], jac[N_POINTS];
    char what[160];
    for (int p = 0; p < N_POINTS; p++) {
        double width = p < 3 ? 2.0 : spread; /* Stan's init range, then wider */
        for (size_t i = 0; i < dim; i++)
            points[p][i] = width * (2.0 * bst_uniform(&rng) - 1.0);
        snprintf(what, sizeof what, "%s at point %d", name, p);
        bst_check_gradient(model, ws, points[p], what);
        check_raw_gradient(&raw, dim, points[p], what);

        double grad[64], dropped;
        ps_model_log_density_gradient(model, ws, points[p], &lp_ps[p], grad);
        full[p] = cf(points[p], &jac[p], &dropped);
        double scale = fabs(full[p]) > 1 ? fabs(full[p]) : 1.0;
        double got = bst_raw_lp(&raw, false, true, points[p]);
        CHECK(fabs(got - (full[p] + jac[p])) <= 1e-12 * scale,
              "%s: normalised log density with Jacobian is %.15g, closed form %.15g", what, got,
              full[p] + jac[p]);
        got = bst_raw_lp(&raw, false, false, points[p]);
        CHECK(fabs(got - full[p]) <= 1e-12 * scale,
              "%s: normalised log density without Jacobian is %.15g, closed form %.15g", what, got,
              full[p]);
        got = bst_raw_lp(&raw, true, false, points[p]);
        CHECK(fabs(got - (full[p] - dropped)) <= 1e-12 * scale,
              "%s: propto log density without Jacobian is %.15g, expected %.15g", what, got,
              full[p] - dropped);
        CHECK(fabs(lp_ps[p] - (full[p] + jac[p] - dropped)) <= 1e-12 * scale,
              "%s: psample's log density (propto, Jacobian) is %.15g, Stan's would be %.15g", what,
              lp_ps[p], full[p] + jac[p] - dropped);
    }
    /* Differences between points: what a sampler sees. */
    for (int p = 1; p < N_POINTS; p++) {
        double got = lp_ps[p] - lp_ps[0];
        double want = (full[p] + jac[p]) - (full[0] + jac[0]);
        double scale = fabs(full[p]) + fabs(full[0]) + 1.0;
        CHECK(fabs(got - want) <= 1e-12 * scale,
              "%s: log density difference between points %d and 0 is %.15g, closed form %.15g",
              name, p, got, want);
    }
    bst_raw_close(&raw);
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);
}

/* Constrained outputs of the models with transforms and transformed parameters. */
static void check_constrain(void)
{
    char path[1024];
    ps_model *model = NULL;
    ps_model_workspace *ws = NULL;
    bst_model_path("eight_schools_noncentered", path, sizeof path);
    if (ps_model_bridgestan_create(path, es_json, 1, &model) == PS_OK &&
        ps_model_workspace_create(model, &ws) == PS_OK) {
        CHECK(ps_model_output_size(model) == 18, "eight schools output size %zu",
              ps_model_output_size(model));
        const ps_var_info *theta_var = ps_model_var(model, 3);
        CHECK(theta_var && strcmp(theta_var->name, "theta") == 0 && theta_var->transformed &&
                  theta_var->offset == 10,
              "eight schools variable 3 is not the transformed parameter theta at 10");
        double theta[10], out[18];
        for (int i = 0; i < 10; i++)
            theta[i] = 1.7 * bst_normal(&rng);
        CHECK(ps_model_constrain(model, ws, theta, out) == PS_OK, "constrain");
        CHECK_CLOSE(out[1], exp(theta[1]), 1e-15, "tau = exp(u)");
        for (int j = 0; j < 8; j++)
            CHECK_CLOSE(out[10 + j], theta[0] + exp(theta[1]) * theta[2 + j], 1e-14,
                        "theta = mu + tau theta_tilde");
    }
    ps_error_clear();
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);

    char json[16384];
    bst_rng saved = rng;
    hl_setup(json, sizeof json);
    rng = saved;
    bst_model_path("hier_linear_regression", path, sizeof path);
    if (ps_model_bridgestan_create(path, json, 1, &model) == PS_OK &&
        ps_model_workspace_create(model, &ws) == PS_OK) {
        size_t n = ps_model_output_size(model);
        CHECK(n == 5 + 4 * HL_J, "hier output size %zu", n);
        double theta[5 + 2 * HL_J], out[5 + 4 * HL_J];
        for (int i = 0; i < 5 + 2 * HL_J; i++)
            theta[i] = bst_normal(&rng);
        CHECK(ps_model_constrain(model, ws, theta, out) == PS_OK, "constrain");
        for (int k = 2; k < 5; k++)
            CHECK_CLOSE(out[k], exp(theta[k]), 1e-15, "positive scale = exp(u)");
        for (int j = 0; j < HL_J; j++) {
            CHECK_CLOSE(out[5 + 2 * HL_J + j], theta[0] + exp(theta[2]) * theta[5 + j], 1e-14,
                        "a = mu_a + tau_a z_a");
            CHECK_CLOSE(out[5 + 3 * HL_J + j], theta[1] + exp(theta[3]) * theta[5 + HL_J + j],
                        1e-14, "b = mu_b + tau_b z_b");
        }
    }
    ps_error_clear();
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);
}

/* Data errors of gauss_corr: an asymmetric or indefinite Sigma. */
static void check_gauss_errors(void)
{
    char path[1024];
    bst_model_path("gauss_corr", path, sizeof path);
    ps_model *model = NULL;
    ps_status st =
        ps_model_bridgestan_create(path, "{\"D\": 2, \"Sigma\": [[1, 0.5], [0.4, 1]]}", 1, &model);
    CHECK(st == PS_ERR_MODEL, "asymmetric Sigma: status %d", (int)st);
    CHECK_STR_CONTAINS(ps_error_message(), "Sigma is not symmetric");
    ps_error_clear();
    st = ps_model_bridgestan_create(path, "{\"D\": 2, \"Sigma\": [[1, 2], [2, 1]]}", 1, &model);
    CHECK(st == PS_ERR_MODEL, "indefinite Sigma: status %d", (int)st);
    CHECK_STR_CONTAINS(ps_error_message(), "not positive definite");
    ps_error_clear();
    st = ps_model_bridgestan_create(path, "{\"D\": 2, \"Sigma\": [[1, 0], [0, 1], [0, 0]]}", 1,
                                    &model);
    CHECK(st == PS_ERR_MODEL, "Sigma with 3 rows: status %d", (int)st);
    CHECK_STR_CONTAINS(ps_error_message(), "variable name=Sigma");
    ps_error_clear();
    ps_model_destroy(&model);
}

int main(void)
{
    char json[16384];
    check_model("std_normal", "{\"D\": 5}", STD_D, cf_std_normal, 5.0);
    gc_setup(json, sizeof json);
    check_model("gauss_corr", json, 3, cf_gauss_corr, 6.0);
    check_model("eight_schools_noncentered", es_json, 10, cf_eight_schools, 4.0);
    lr_setup(json, sizeof json);
    check_model("logistic_regression", json, 1 + LR_D, cf_logistic, 4.0);
    hl_setup(json, sizeof json);
    check_model("hier_linear_regression", json, 5 + 2 * HL_J, cf_hier, 3.0);
    check_model("neal_funnel10", "{\"K\": 9}", 10, cf_funnel, 4.0);
    check_model("banana", "{}", 2, cf_banana, 15.0);
    banana_b = 0.03;
    check_model("banana", "{\"b\": 0.03}", 2, cf_banana, 15.0);

    /* Models without a closed-form check here: gradients only. */
    struct {
        const char *name, *data;
    } more[] = {{"shapes", "{\"extra\": 1}"},
                {"broken_construct", "{\"N\": 3, \"y\": [0.5, -1.25, 2.385]}"},
                {"logistic_regression", "{\"N\": 0, \"D\": 2, \"X\": [], \"y\": []}"},
                {"broken_reject", ""}};
    for (size_t m = 0; m < sizeof more / sizeof more[0]; m++) {
        char path[1024];
        bst_model_path(more[m].name, path, sizeof path);
        ps_model *model = NULL;
        ps_model_workspace *ws = NULL;
        CHECK(ps_model_bridgestan_create(path, more[m].data, 1, &model) == PS_OK &&
                  ps_model_workspace_create(model, &ws) == PS_OK,
              "%s: %s", more[m].name, ps_error_message());
        ps_error_clear();
        if (ws != NULL) {
            double theta[64];
            for (int p = 0; p < 4; p++) {
                for (size_t i = 0; i < ps_model_dim(model); i++)
                    theta[i] = 2.0 * (2.0 * bst_uniform(&rng) - 1.0);
                bst_check_gradient(model, ws, theta, more[m].name);
            }
        }
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&model);
    }
    check_constrain();
    check_gauss_errors();
    TEST_EXIT();
}
