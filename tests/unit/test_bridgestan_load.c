/*
 * Loading BridgeStan-ABI libraries: names, shapes and the row-major layout of the outputs,
 * the forms of the data argument, the error messages of every broken library, rejections
 * kept in the workspace, and allocation failures at every step of ps_model_bridgestan_create.
 */
#define _GNU_SOURCE /* dladdr */
#include "bs_test_util.h"

static char path_buf[1024];

static const char *model_path(const char *name)
{
    bst_model_path(name, path_buf, sizeof path_buf);
    return path_buf;
}

/* Loads a model that must load; NULL (with a failed check) otherwise. */
static ps_model *load(const char *name, const char *data)
{
    ps_model *model = NULL;
    ps_status st = ps_model_bridgestan_create(model_path(name), data, 1234, &model);
    CHECK(st == PS_OK && model != NULL, "loading %s with data %s: status %d, message: %s", name,
          data, (int)st, ps_error_message());
    ps_error_clear();
    return st == PS_OK ? model : NULL;
}

/* Loads a model that must fail with status want and a message containing each needle. */
static void load_fails(const char *path, const char *data, ps_status want, const char *needle1,
                       const char *needle2, const char *needle3)
{
    ps_model *model = NULL;
    ps_error_clear();
    ps_status st = ps_model_bridgestan_create(path, data, 1, &model);
    CHECK(st == want && model == NULL, "loading %s with data %s: status %d, expected %d", path,
          data, (int)st, (int)want);
    const char *msg = ps_error_message();
    const char *needles[3] = {needle1, needle2, needle3};
    for (int i = 0; i < 3; i++)
        if (needles[i] != NULL)
            CHECK_STR_CONTAINS(msg, needles[i]);
    ps_model_destroy(&model);
    ps_error_clear();
}

static const ps_var_info *find_var(const ps_model *model, const char *name)
{
    for (size_t i = 0; i < ps_model_n_vars(model); i++)
        if (strcmp(ps_model_var(model, i)->name, name) == 0)
            return ps_model_var(model, i);
    CHECK(0, "variable %s not found", name);
    return NULL;
}

static void check_shape(const ps_var_info *v, int ndim, const size_t *dims, bool transformed)
{
    if (v == NULL)
        return;
    CHECK(v->ndim == ndim, "%s has %d dimensions, expected %d", v->name, v->ndim, ndim);
    for (int d = 0; d < ndim && d < v->ndim; d++)
        CHECK(v->dims[d] == dims[d], "%s: extent %d is %zu, expected %zu", v->name, d, v->dims[d],
              dims[d]);
    CHECK(v->transformed == transformed, "%s: transformed is %d, expected %d", v->name,
          (int)v->transformed, (int)transformed);
}

static void test_std_normal(void)
{
    ps_model *model = load("std_normal", "{\"D\": 4}");
    if (model == NULL)
        return;
    CHECK(ps_model_dim(model) == 4, "dim is %zu, expected 4", ps_model_dim(model));
    CHECK(ps_model_output_size(model) == 4, "output size %zu", ps_model_output_size(model));
    CHECK(ps_model_n_vars(model) == 1, "%zu variables, expected 1", ps_model_n_vars(model));
    size_t dims[1] = {4};
    check_shape(find_var(model, "x"), 1, dims, false);
    CHECK(strcmp(ps_model_unc_name(model, 2), "x.3") == 0, "unconstrained name 3 is %s",
          ps_model_unc_name(model, 2));
    CHECK_STR_CONTAINS(ps_model_description(model), "std_normal");
    CHECK_STR_CONTAINS(ps_model_description(model), "BridgeStan 2.4.0");
    CHECK(strcmp(ps_model_get_ops(model)->name, "bridgestan") == 0, "ops name %s",
          ps_model_get_ops(model)->name);

    ps_model_workspace *ws = NULL;
    CHECK(ps_model_workspace_create(model, &ws) == PS_OK, "workspace: %s", ps_error_message());
    const double theta[4] = {0.3, -1.2, 2.385, 0.5};
    double grad[4], lp, out[4];
    CHECK(ps_model_log_density_gradient(model, ws, theta, &lp, grad) == PS_OK, "lp status");
    double want = -0.5 * (0.09 + 1.44 + 2.385 * 2.385 + 0.25);
    CHECK_CLOSE(lp, want, 1e-14, "std_normal log density");
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(grad[i], -theta[i], 1e-15, "std_normal gradient");
    double lp2;
    CHECK(ps_model_log_density(model, ws, theta, &lp2) == PS_OK && lp2 == lp,
          "value-only log density %g, expected %g", lp2, lp);
    CHECK(ps_model_workspace_gradient_count(ws) == 1, "gradient count %llu, expected 1",
          ps_model_workspace_gradient_count(ws));
    CHECK(ps_model_constrain(model, ws, theta, out) == PS_OK, "constrain");
    for (int i = 0; i < 4; i++)
        CHECK(out[i] == theta[i], "constrained x[%d] is %g, expected %g", i, out[i], theta[i]);
    CHECK(strcmp(ps_model_workspace_message(ws), "") == 0, "message '%s' without rejection",
          ps_model_workspace_message(ws));
    ps_model_workspace_destroy(&ws);
    CHECK(ws == NULL, "workspace handle not cleared");
    ps_model_destroy(&model);
    CHECK(model == NULL, "model handle not cleared");
}

static void test_data_forms(void)
{
    char json_path[512], txt_path[512];
    bst_write("d.json", "{\"D\": 3}\n", json_path, sizeof json_path);
    bst_write("d.data", "  {\"D\": 5}", txt_path, sizeof txt_path);
    ps_model *model = load("std_normal", json_path);
    if (model)
        CHECK(ps_model_dim(model) == 3, "data from a .json file: dim %zu", ps_model_dim(model));
    ps_model_destroy(&model);
    model = load("std_normal", txt_path);
    if (model)
        CHECK(ps_model_dim(model) == 5, "data from a .data file: dim %zu", ps_model_dim(model));
    ps_model_destroy(&model);

    /* A missing data file names the file and the reason. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nothere.json", bst_scratch);
    load_fails(model_path("std_normal"), missing, PS_ERR_IO, missing, "No such file", NULL);

    /* A library path without a slash is a file in the working directory. */
    char cwd[1024], dir[1024];
    if (getcwd(cwd, sizeof cwd) != NULL) {
        snprintf(dir, sizeof dir, "%s/tests/models", PSAMPLE_BINARY_DIR);
        if (chdir(dir) == 0) {
            ps_model *local = NULL;
            ps_status st = ps_model_bridgestan_create("std_normal.so", "{\"D\": 2}", 1, &local);
            CHECK(st == PS_OK, "loading std_normal.so from the working directory: %s",
                  ps_error_message());
            ps_error_clear();
            ps_model_destroy(&local);
            CHECK(chdir(cwd) == 0, "cannot return to %s", cwd);
        }
    }
}

/* Row-major layout of matrices, arrays of vectors and 3-d arrays (Stan lists them
 * column-major). */
static void test_shapes(void)
{
    ps_model *model = load("shapes", "{}");
    if (model == NULL)
        return;
    CHECK(ps_model_dim(model) == 13, "dim %zu, expected 13", ps_model_dim(model));
    CHECK(ps_model_n_vars(model) == 5, "%zu variables, expected 5", ps_model_n_vars(model));
    CHECK(ps_model_output_size(model) == 13 + 12 + 1, "output size %zu, expected 26",
          ps_model_output_size(model));
    const char *order[5] = {"a", "M", "V", "W", "s"};
    for (size_t i = 0; i < 5 && i < ps_model_n_vars(model); i++)
        CHECK(strcmp(ps_model_var(model, i)->name, order[i]) == 0,
              "variable %zu is %s, expected %s", i, ps_model_var(model, i)->name, order[i]);
    const ps_var_info *a = find_var(model, "a"), *M = find_var(model, "M"),
                      *V = find_var(model, "V"), *W = find_var(model, "W"),
                      *s = find_var(model, "s");
    size_t d23[2] = {2, 3}, d223[3] = {2, 2, 3};
    check_shape(a, 0, NULL, false);
    check_shape(M, 2, d23, false);
    check_shape(V, 2, d23, false);
    check_shape(W, 3, d223, true);
    check_shape(s, 0, NULL, true);
    if (!a || !M || !V || !W || !s) {
        ps_model_destroy(&model);
        return;
    }
    CHECK(M->offset == 1 && V->offset == 7 && W->offset == 13 && s->offset == 25,
          "offsets M %zu V %zu W %zu s %zu, expected 1 7 13 25", M->offset, V->offset, W->offset,
          s->offset);
    CHECK(strcmp(ps_model_unc_name(model, 2), "M.2.1") == 0,
          "unconstrained name 3 is %s, expected M.2.1 (column-major)", ps_model_unc_name(model, 2));

    ps_model_workspace *ws = NULL;
    CHECK(ps_model_workspace_create(model, &ws) == PS_OK, "workspace");
    double theta[13], out[26];
    for (int i = 0; i < 13; i++)
        theta[i] = 0.5 + i;
    CHECK(ps_model_constrain(model, ws, theta, out) == PS_OK, "constrain: %s",
          ps_model_workspace_message(ws));
    CHECK(out[0] == theta[0], "a is %g, expected %g", out[0], theta[0]);
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 3; j++) {
            /* theta holds M and V column-major: element (i, j) at i + 2 j. */
            double want_m = theta[1 + i + 2 * j], want_v = theta[7 + i + 2 * j];
            CHECK(out[M->offset + 3 * i + j] == want_m, "M[%zu,%zu] is %g, expected %g", i + 1,
                  j + 1, out[M->offset + 3 * i + j], want_m);
            CHECK(out[V->offset + 3 * i + j] == want_v, "V[%zu][%zu] is %g, expected %g", i + 1,
                  j + 1, out[V->offset + 3 * i + j], want_v);
        }
    }
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 2; j++)
            for (size_t k = 0; k < 3; k++) {
                double want =
                    100.0 * (double)(i + 1) + 10.0 * (double)(j + 1) + (double)(k + 1) + theta[0];
                double got = out[W->offset + (i * 2 + j) * 3 + k];
                CHECK(got == want, "W[%zu,%zu,%zu] is %g, expected %g", i + 1, j + 1, k + 1, got,
                      want);
            }
    CHECK(out[s->offset] == 2 * theta[0], "s is %g, expected %g", out[s->offset], 2 * theta[0]);
    char name[64];
    ps_model_output_element_name(model, M->offset + 1, name, sizeof name);
    CHECK(strcmp(name, "M[1,2]") == 0, "element name %s, expected M[1,2]", name);
    ps_model_output_element_name(model, W->offset + 7, name, sizeof name);
    CHECK(strcmp(name, "W[2,1,2]") == 0, "element name %s, expected W[2,1,2]", name);
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);
}

/* Complex values (a trailing axis of 2: real, imaginary), tuple slots as variables
 * "tu:1", "tu:2", and elements listed in an unusual order. */
static void test_exotic_names(void)
{
    ps_model *model = load("shapes", "{\"extra\": 1}");
    if (model == NULL)
        return;
    const ps_var_info *zc = find_var(model, "zc"), *zm = find_var(model, "zm"),
                      *R = find_var(model, "R"), *t1 = find_var(model, "tu:1"),
                      *t2 = find_var(model, "tu:2");
    size_t d22[2] = {2, 2}, d222[3] = {2, 2, 2}, d2[1] = {2};
    check_shape(zc, 2, d22, true);
    check_shape(zm, 3, d222, true);
    check_shape(R, 2, d22, true);
    check_shape(t1, 0, NULL, true);
    check_shape(t2, 1, d2, true);
    ps_model_workspace *ws = NULL;
    double theta[13] = {0.25}, out[64];
    CHECK(ps_model_output_size(model) <= 64, "output size %zu", ps_model_output_size(model));
    if (zc && zm && R && t1 && t2 && ps_model_workspace_create(model, &ws) == PS_OK &&
        ps_model_output_size(model) <= 64) {
        CHECK(ps_model_constrain(model, ws, theta, out) == PS_OK, "constrain");
        const double want_zc[4] = {1, -1, 2, -2};
        for (int i = 0; i < 4; i++)
            CHECK(out[zc->offset + (size_t)i] == want_zc[i], "zc flat %d is %g, expected %g", i,
                  out[zc->offset + (size_t)i], want_zc[i]);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                for (int c = 0; c < 2; c++) {
                    double want = (c == 0 ? 1 : -1) * (10.0 * (i + 1) + (j + 1));
                    double got = out[zm->offset + (size_t)((i * 2 + j) * 2 + c)];
                    CHECK(got == want, "zm[%d,%d].%s is %g, expected %g", i + 1, j + 1,
                          c ? "imag" : "real", got, want);
                }
        const double want_r[4] = {11, 12, 21, 22};
        for (int i = 0; i < 4; i++)
            CHECK(out[R->offset + (size_t)i] == want_r[i], "R flat %d is %g, expected %g", i,
                  out[R->offset + (size_t)i], want_r[i]);
        CHECK(out[t1->offset] == 7 && out[t2->offset] == 8 && out[t2->offset + 1] == 9,
              "tuple slots are %g, %g, %g; expected 7, 8, 9", out[t1->offset], out[t2->offset],
              out[t2->offset + 1]);
    }
    ps_error_clear();
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);

    const char *lib = model_path("shapes");
    char path[1024];
    snprintf(path, sizeof path, "%s", lib);
    load_fails(path, "{\"extra\": 2}", PS_ERR_MODEL, "'at'", "array of tuples",
               "not supported yet");
    load_fails(path, "{\"extra\": 3}", PS_ERR_MODEL, "'g'", "lists 2 elements", "imply 3");
    load_fails(path, "{\"extra\": 4}", PS_ERR_MODEL, "'h'", "not listed together", path);
    load_fails(path, "{\"extra\": 5}", PS_ERR_MODEL, "'q.x'", "not a number", NULL);
    load_fails(path, "{\"extra\": 6}", PS_ERR_MODEL, "'big'", "more than 8 dimensions", NULL);
}

static void test_broken_libraries(void)
{
    char path[1024];
    /* A missing symbol: named, and the library is said not to be a BridgeStan model. */
    snprintf(path, sizeof path, "%s", model_path("broken_nosymbol"));
    load_fails(path, "{\"D\": 2}", PS_ERR_MODEL, path, "bs_log_density_gradient",
               "not a BridgeStan model library");
    /* An ABI version psample does not support. */
    snprintf(path, sizeof path, "%s", model_path("broken_version"));
    load_fails(path, "{\"D\": 2}", PS_ERR_MODEL, path, "BridgeStan 1.4.0", "2.x");
    /* A library that does not exist, and a file that is not a library. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.so", bst_scratch);
    load_fails(missing, "", PS_ERR_MODEL, missing, "cannot load model library", NULL);
    char fake[600];
    bst_write("fake.so", "this is not a shared library\n", fake, sizeof fake);
    load_fails(fake, "", PS_ERR_MODEL, fake, "cannot load model library", "file too short");
    load_fails("", "", PS_ERR_MODEL, "no model library", NULL, NULL);
    /* A library that is not a BridgeStan model at all: the maths library. */
    Dl_info info;
    double (*cosine)(double) = cos;
    void *address;
    memcpy(&address, &cosine, sizeof address);
    if (dladdr(address, &info) != 0 && info.dli_fname != NULL && strchr(info.dli_fname, '/')) {
        snprintf(path, sizeof path, "%s", info.dli_fname);
        load_fails(path, "", PS_ERR_MODEL, path, "lacks the symbol 'bs_major_version'",
                   "not a BridgeStan model library");
    }

    /* Construction failures carry the model's own message and the data's origin. */
    snprintf(path, sizeof path, "%s", model_path("broken_construct"));
    load_fails(path, "{\"y\": [1, 2]}", PS_ERR_MODEL, path, "variable does not exist",
               "variable name=N");
    char data[600];
    bst_write("bad_y.json", "{\"N\": 3, \"y\": [1.5, 2.5]}", data, sizeof data);
    load_fails(path, data, PS_ERR_MODEL, data, "variable name=y", "dims found=(2)");
    snprintf(path, sizeof path, "%s", model_path("std_normal"));
    load_fails(path, "", PS_ERR_MODEL, "without data", "variable name=D", path);
    load_fails(path, "{\"D\": 2.5}", PS_ERR_MODEL, "non-int", "variable name=D", NULL);
    /* The broken library constructs with good data. */
    ps_model *model = load("broken_construct", "{\"N\": 2, \"y\": [1.5, 2.5]}");
    ps_model_destroy(&model);
}

/* A rejection is PS_ERR_NUMERIC with the message in the workspace, not the error slot. */
static void test_reject(void)
{
    ps_model *model = load("broken_reject", "");
    if (model == NULL)
        return;
    ps_model_workspace *ws = NULL;
    CHECK(ps_model_workspace_create(model, &ws) == PS_OK, "workspace");
    double grad[2], lp = 0, out[2];
    const double good[2] = {0.5, -0.25}, bad[2] = {3.5, 0.0};
    ps_error_clear();
    CHECK(ps_model_log_density_gradient(model, ws, bad, &lp, grad) == PS_ERR_NUMERIC,
          "rejected point: expected PS_ERR_NUMERIC");
    CHECK(lp == -INFINITY, "rejected log density is %g, expected -inf", lp);
    CHECK_STR_CONTAINS(ps_model_workspace_message(ws), "x must be < 3; found x[1] = 3.5");
    CHECK(ps_error_message()[0] == '\0', "rejection recorded in the error slot: %s",
          ps_error_message());
    lp = 0;
    CHECK(ps_model_log_density(model, ws, bad, &lp) == PS_ERR_NUMERIC && lp == -INFINITY,
          "value-only rejection: lp %g", lp);
    CHECK(ps_model_constrain(model, ws, bad, out) == PS_ERR_NUMERIC, "constrain rejection");
    CHECK(ps_model_log_density_gradient(model, ws, good, &lp, grad) == PS_OK,
          "accepted point: status");
    CHECK_CLOSE(lp, -0.5 * (0.25 + 0.0625), 1e-15, "accepted log density");
    CHECK(ps_error_message()[0] == '\0', "error slot: %s", ps_error_message());
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);
}

/* Non-finite values are results (PS_OK), for the sampler to treat as divergences. */
static void test_nonfinite(void)
{
    ps_model *model = load("broken_nan", "");
    ps_model_workspace *ws = NULL;
    double grad[2], lp;
    const double x[2] = {0.1, 0.2};
    if (model && ps_model_workspace_create(model, &ws) == PS_OK) {
        CHECK(ps_model_log_density_gradient(model, ws, x, &lp, grad) == PS_OK, "NaN model status");
        CHECK(isnan(lp) && isnan(grad[0]), "NaN model gave lp %g grad %g", lp, grad[0]);
    }
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);

    model = load("broken_grad", "");
    if (model && ps_model_workspace_create(model, &ws) == PS_OK) {
        const double right[2] = {1.5, 0.5}, left[2] = {-1.5, 0.5}, mid[2] = {0.5, 0.5};
        CHECK(ps_model_log_density_gradient(model, ws, right, &lp, grad) == PS_OK, "status");
        CHECK(isfinite(lp) && isnan(grad[0]) && isnan(grad[1]), "x1 > 1: lp %g grad %g %g", lp,
              grad[0], grad[1]);
        CHECK(ps_model_log_density_gradient(model, ws, left, &lp, grad) == PS_OK, "status");
        CHECK(isfinite(lp) && grad[0] == INFINITY && grad[1] == -INFINITY,
              "x1 < -1: lp %g grad %g %g", lp, grad[0], grad[1]);
        CHECK(ps_model_log_density_gradient(model, ws, mid, &lp, grad) == PS_OK, "status");
        CHECK(grad[0] == -0.5 && grad[1] == -0.5, "middle: grad %g %g", grad[0], grad[1]);
    }
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&model);
}

/* Every allocation of ps_model_bridgestan_create and of the workspace fails in turn; each
 * failure is PS_ERR_MEM with a message, and nothing leaks (checked under ASan). */
static void test_alloc_failures(void)
{
    char data[600];
    bst_write("extra.data", "{\"extra\": 1}", data, sizeof data);
    char path[1024];
    snprintf(path, sizeof path, "%s", model_path("shapes"));
    int failures = 0;
    bool succeeded = false;
    for (long n = 1; n < 5000 && !succeeded; n++) {
        ps_model *model = NULL;
        ps_error_clear();
        ps_fault_alloc_after(n);
        ps_status st = ps_model_bridgestan_create(path, data, 7, &model);
        ps_fault_alloc_after(0);
        if (st == PS_OK) {
            succeeded = true;
            ps_model_workspace *ws = NULL;
            for (long m = 1; m < 100; m++) {
                ps_error_clear();
                ps_fault_alloc_after(m);
                ps_status wst = ps_model_workspace_create(model, &ws);
                ps_fault_alloc_after(0);
                if (wst == PS_OK)
                    break;
                CHECK(wst == PS_ERR_MEM && ws == NULL && ps_error_message()[0] != '\0',
                      "workspace allocation failure %ld: status %d, message '%s'", m, (int)wst,
                      ps_error_message());
            }
            CHECK(ws != NULL, "workspace never created");
            ps_model_workspace_destroy(&ws);
            ps_model_destroy(&model);
        } else {
            failures++;
            CHECK(st == PS_ERR_MEM && model == NULL, "allocation failure %ld: status %d (%s)", n,
                  (int)st, ps_error_message());
            CHECK(ps_error_message()[0] != '\0', "allocation failure %ld: no message", n);
        }
    }
    ps_error_clear();
    CHECK(succeeded, "ps_model_bridgestan_create never succeeded");
    CHECK(failures >= 10, "only %d allocations were failed", failures);
}

int main(void)
{
    bst_scratch_create();
    test_std_normal();
    test_data_forms();
    test_shapes();
    test_exotic_names();
    test_broken_libraries();
    test_reject();
    test_nonfinite();
    test_alloc_failures();
    bst_scratch_remove();
    TEST_EXIT();
}
