/*
 * The compiled Stan model (src/model/stan_*.c): values of expressions against hand
 * computations, gradients against central finite differences for every builtin and
 * transform the lowering maps, propto semantics, transforms and their Jacobians, output
 * layout, data checks and their messages, located errors, rejections, no allocation after
 * warm-up, several threads on one model, and allocation failures during construction.
 */
#include <hdf5.h>
#include <pthread.h>

#include "core/core.h"
#include "stan_test_util.h"

#define PS_PI_TEST 3.14159265358979323846

/* ---------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------- */

static ps_model *compile_ok(const char *what, const char *program, const char *data)
{
    ps_model *m = NULL;
    ps_status st = stt_compile(program, data, &m);
    CHECK(st == PS_OK, "%s: compiling failed: %s", what, ps_error_message());
    ps_error_clear();
    return st == PS_OK ? m : NULL;
}

/* The log density (value only) at theta; NAN on failure. */
static double lp_at(ps_model *m, const double *theta, ps_status *status)
{
    ps_model_workspace *ws = NULL;
    double lp = NAN;
    ps_status st = ps_model_workspace_create(m, &ws);
    if (st == PS_OK)
        st = ps_model_log_density(m, ws, theta, &lp);
    if (status)
        *status = st;
    ps_model_workspace_destroy(&ws);
    return st == PS_OK ? lp : NAN;
}

/* target += EXPR over `vector[6] v` at v = theta: the value of EXPR. */
static double value_of(const char *expr, const double *theta)
{
    char program[4096];
    snprintf(program, sizeof program, "parameters { vector[6] v; }\nmodel {\n  target += %s;\n}\n",
             expr);
    ps_model *m = compile_ok(expr, program, NULL);
    if (m == NULL)
        return NAN;
    ps_status st;
    double lp = lp_at(m, theta, &st);
    CHECK(st == PS_OK, "%s: evaluation failed (%d): %s", expr, st, ps_error_message());
    ps_model_destroy(&m);
    return lp;
}

static const double V[6] = {1.5, -0.25, 2.0, 0.75, -1.25, 3.0};

static void check_value(const char *expr, double want)
{
    double got = value_of(expr, V);
    CHECK(test_close(got, want, 1e-12),
          "'%s' with v = (1.5, -0.25, 2, 0.75, -1.25, 3) is %.17g, "
          "expected %.17g",
          expr, got, want);
}

/* ---------------------------------------------------------------------------------------
 * Values: indexing, layout, reshaping, reductions, int arithmetic
 * ------------------------------------------------------------------------------------- */

static void test_values(void)
{
    /* Indexing and slicing. */
    check_value("v[3]", 2.0);
    check_value("sum(v[2:4])", -0.25 + 2.0 + 0.75);
    check_value("sum(v[:2])", 1.25);
    check_value("sum(v[5:])", 1.75);
    check_value("sum(v[{6, 1, 1}])", 6.0);
    check_value("sum(v[4:3])", 0.0); /* empty range */
    check_value("v'[2]", -0.25);
    /* to_matrix is column-major; to_array_2d and to_matrix of arrays row-major. */
    check_value("to_matrix(v, 2, 3)[2, 1]", -0.25);
    check_value("to_matrix(v, 2, 3)[1, 3]", -1.25);
    check_value("to_array_2d(to_matrix(v, 2, 3))[1, 2]", 2.0);
    check_value("to_matrix(to_array_2d(to_matrix(v, 3, 2)))[3, 2]", 3.0);
    check_value("to_matrix(v, 2, 3)[2][3]", 3.0);
    check_value("sum(to_matrix(v, 2, 3)[:, 2])", 2.75);
    check_value("sum(to_matrix(v, 2, 3)[2, 2:3])", 3.75);
    check_value("sum(to_matrix(v, 3, 2)[{3, 1}, 2])", 3.0 + 0.75);
    check_value("to_matrix(v, 3, 2)[{3, 1}, {2}][1, 1]", 3.0);
    check_value("sum(to_array_1d(to_matrix(v, 2, 3)))", 5.75);
    check_value("to_array_1d(to_matrix(v, 2, 3))[2]", -0.25);
    check_value("to_row_vector(to_matrix(v, 2, 3))[3]", 2.0);
    check_value("{v, 2 * v}[2, 3]", 4.0);
    check_value("{{1.0, 2.0}, {3.0, v[6]}}[2, 2]", 3.0);
    check_value("[1, v[1], 3][2]", 1.5);
    check_value("[[1, 2], [v[3], 4]][2, 1]", 2.0);
    check_value("num_elements(to_matrix(v, 2, 3)) + rows(v) + cols(v') + size(v)", 6 + 6 + 6 + 6);
    check_value("segment(v, 2, 3)[3] + head(v, 2)[2] + tail(v, 2)[1]", 0.75 - 0.25 - 1.25);
    check_value("reverse(v)[1] + sort_asc(v)[1] + sort_desc(v)[1]", 3.0 - 1.25 + 3.0);
    check_value("cumulative_sum(v)[4]", 4.0);
    check_value("append_row(v, v)[7] + append_col(v', v')[12]", 1.5 + 3.0);
    check_value("append_row(v[1], v)[1] + append_col(v', v[2])[7]", 1.5 - 0.25);
    check_value("col(to_matrix(v, 2, 3), 2)[2] + row(to_matrix(v, 2, 3), 2)[3]", 0.75 + 3.0);
    check_value("block(to_matrix(v, 2, 3), 1, 2, 2, 2)[2, 2]", 3.0);
    check_value("sub_col(to_matrix(v, 3, 2), 2, 2, 2)[2] + sub_row(to_matrix(v, 3, 2), 3, 1, 2)[2]",
                3.0 + 3.0);
    check_value(
        "rep_vector(v[1], 3)[3] + rep_row_vector(v[2], 2)[1] + rep_matrix(v[3], 2, 2)[2, 2]",
        1.5 - 0.25 + 2.0);
    check_value("rep_matrix(head(v, 2), 3)[2, 3] + rep_matrix(head(v, 2)', 3)[3, 1]", -0.25 + 1.5);
    check_value("rep_array(v[6], 2, 3)[2, 3] + rep_array(head(v, 2), 2)[2, 2]", 3.0 - 0.25);
    /* Reductions. */
    double mean = 5.75 / 6.0, ss = 0.0, sq = 0.0, prod = 1.0;
    for (int i = 0; i < 6; i++) {
        ss += (V[i] - mean) * (V[i] - mean);
        sq += V[i] * V[i];
        prod *= V[i];
    }
    check_value("sum(v)", 5.75);
    check_value("mean(v)", mean);
    check_value("variance(v)", ss / 5.0);
    check_value("sd(v)", sqrt(ss / 5.0));
    check_value("prod(v)", prod);
    check_value("dot_self(v)", sq);
    check_value("dot_product(v, v')", sq);
    check_value("max(v) + min(v)", 3.0 - 1.25);
    double lse = 0.0;
    for (int i = 0; i < 6; i++)
        lse += exp(V[i]);
    check_value("log_sum_exp(v)", log(lse));
    check_value("log_softmax(v)[2]", -0.25 - log(lse));
    check_value("softmax(v)[6]", exp(3.0) / lse);
    check_value("columns_dot_self(to_matrix(v, 2, 3))[2]", 4.0 + 0.5625);
    check_value("rows_dot_self(to_matrix(v, 2, 3))[1]", 2.25 + 4.0 + 1.5625);
    check_value("columns_dot_product(to_matrix(v, 2, 3), to_matrix(v, 2, 3))[3]", 1.5625 + 9.0);
    check_value("rows_dot_product(to_matrix(v, 3, 2), to_matrix(v, 3, 2))[1]", 2.25 + 0.5625);
    /* Element-wise arithmetic and broadcasting. */
    check_value("sum(v .* v)", sq);
    check_value("sum(2 * v + 1)", 2 * 5.75 + 6);
    check_value("sum(v / 2 - 1)", 5.75 / 2 - 6);
    check_value("(v ./ v)[3] + (2 ./ v)[1] + (v ./ 2)[6]", 1.0 + 2.0 / 1.5 + 1.5);
    check_value("(v .^ 2)[5] + (2 .^ v)[3] + (v .^ v)[3]", 1.5625 + 4.0 + 4.0);
    check_value("(v - v[1])[6] + (v[1] - v)[6]", 0.0);
    check_value("(-v)[2] + (+v)[2]", 0.0);
    check_value("v[1] ^ 2 + 7 % 3", 2.25 + 1.0);
    /* Matrix products and linear algebra. */
    check_value("(to_matrix(v, 2, 3) * to_matrix(v, 3, 2))[2, 1]",
                -0.25 * 1.5 + 0.75 * -0.25 + 3.0 * 2.0);
    check_value("(v' * v)", sq);
    check_value("(head(v, 2) * head(v, 2)')[1, 2]", 1.5 * -0.25);
    check_value("(to_matrix(v, 2, 3)' * head(v, 2))[3]", -1.25 * 1.5 + 3.0 * -0.25);
    check_value("(head(v, 2)' * to_matrix(v, 2, 3))[2]", 1.5 * 2.0 + -0.25 * 0.75);
    check_value("trace(to_matrix(head(v, 4), 2, 2))", 1.5 + 0.75);
    check_value("log_determinant(to_matrix(head(v, 4), 2, 2))",
                log(fabs(1.5 * 0.75 - 2.0 * -0.25)));
    check_value("determinant(to_matrix(head(v, 4), 2, 2))", 1.5 * 0.75 - 2.0 * -0.25);
    check_value("inverse(to_matrix(head(v, 4), 2, 2))[1, 2]", -2.0 / (1.5 * 0.75 + 0.5));
    check_value("diag_matrix(head(v, 2))[2, 2] + diagonal(to_matrix(head(v, 4), 2, 2))[2]",
                -0.25 + 0.75);
    check_value("diag_pre_multiply(head(v, 2), to_matrix(head(v, 4), 2, 2))[2, 2]", -0.25 * 0.75);
    check_value("diag_post_multiply(to_matrix(head(v, 4), 2, 2), head(v, 2))[1, 2]", 2.0 * -0.25);
    check_value(
        "add_diag(to_matrix(head(v, 4), 2, 2), 1)[2, 2] + add_diag(to_matrix(head(v, 4), 2, "
        "2), head(v, 2))[1, 1]",
        1.75 + 3.0);
    check_value("quad_form(to_matrix(head(v, 4), 2, 2), tail(v, 2))",
                -1.25 * (1.5 * -1.25 + 2.0 * 3.0) + 3.0 * (-0.25 * -1.25 + 0.75 * 3.0));
    check_value("quad_form_diag(to_matrix(head(v, 4), 2, 2), tail(v, 2))[1, 2]", -1.25 * 2.0 * 3.0);
    check_value("crossprod(to_matrix(v, 2, 3))[1, 2] + tcrossprod(to_matrix(v, 2, 3))[1, 2]",
                (1.5 * 2.0 - 0.25 * 0.75) + (1.5 * -0.25 + 2.0 * 0.75 + -1.25 * 3.0));
    check_value("multiply_lower_tri_self_transpose(to_matrix(head(v, 4), 2, 2))[1, 2]",
                1.5 * -0.25);
    check_value("mdivide_left_tri_low(to_matrix([2, 1, 0, 4]', 2, 2), head(v, 2))[2]",
                (-0.25 - 1.0 * 0.75) / 4.0);
    check_value("mdivide_right_tri_low(head(v, 2)', to_matrix([2, 1, 0, 4]', 2, 2))[1]",
                (1.5 - -0.25 / 4.0 * 1.0) / 2.0);
    check_value("cholesky_decompose(to_matrix([4, 2, 2, 5]', 2, 2))[2, 2] + v[1] * 0", 2.0);
    check_value("(head(v, 2)' / to_matrix([2, 0, 0, 4]', 2, 2))[2]", -0.25 / 4.0);
    /* Int arithmetic, conditions and logic. */
    check_value(
        "(7 / 2) + (7 % 3) + (-7 %/% 2) + (3 < 4) + (2.5 >= 2.5) + (1 && 0) + (1 || 0) + !0",
        3 + 1 - 3 + 1 + 1 + 0 + 1 + 1);
    check_value("v[1] > 1 ? v[2] : v[3]", -0.25);
    check_value("min(3, 5) + max({2, 9, 4}) + sum({1, 2, 3}) + abs(-4) + choose(5, 2)",
                3 + 9 + 6 + 4 + 10);
    check_value("is_inf(v[1] / 0) + is_nan(v[1]) + int_step(v[2]) + step(v[2])", 1 + 0 + 0 + 0);
    check_value("pi() + e() + sqrt2() + log2() + log10()",
                PS_PI_TEST + exp(1.0) + sqrt(2.0) + log(2.0) + log(10.0));
}

/* ---------------------------------------------------------------------------------------
 * Statements: loops, locals, element assignment, compound assignment
 * ------------------------------------------------------------------------------------- */

static void test_statements(void)
{
    const char *program =
        "parameters { vector[6] v; }\n"
        "model {\n"
        "  vector[6] w;\n"
        "  array[2, 3] real a;\n"
        "  matrix[2, 3] m = rep_matrix(0, 2, 3);\n"
        "  real acc = 0;\n"
        "  int k = 0;\n"
        "  for (i in 1:6) w[i] = v[7 - i];\n" /* w = reverse(v) */
        "  for (i in 1:2) for (j in 1:3) a[i, j] = v[(i - 1) * 3 + j];\n"
        "  m[2] = to_row_vector(a[1]);\n" /* m row 2 = v[1:3] */
        "  m[1, 2:3] = [10, 20];\n"
        "  m[:, 1] += [1, 1]';\n"
        "  for (x in v) { if (x < 0) continue; acc += x; }\n" /* sum of positive v */
        "  while (1) { k += 1; if (k >= 4) break; }\n"
        "  {\n"
        "    real inner = 2;\n"
        "    acc *= inner;\n"
        "  }\n"
        "  for (row in a) acc += row[3];\n" /* a[1,3] + a[2,3] */
        "  for (x in m) acc += x / 100;\n"  /* all of m */
        "  w[2:3] = w[1:2];\n"
        "  target += w[1] + 10 * w[3] + 100 * k + acc;\n"
        "}\n";
    ps_model *m = compile_ok("statements", program, NULL);
    if (m == NULL)
        return;
    double acc = (1.5 + 2.0 + 0.75 + 3.0) * 2;
    acc += 2.0 + 3.0;
    /* m = [[1, 10, 20], [1 + 1.5, -0.25, 2]] */
    acc += (1.0 + 10.0 + 20.0 + 2.5 - 0.25 + 2.0) / 100.0;
    double want = 3.0 + 10.0 * -1.25 + 400.0 + acc;
    ps_status st;
    double got = lp_at(m, V, &st);
    CHECK(st == PS_OK && test_close(got, want, 1e-12),
          "loops and assignments: %.17g, expected %.17g", got, want);
    ps_model_destroy(&m);
}

/* Assignments through slices, multi-indexes, nested indexes, compound operators, and
 * right-hand sides that overlap the assigned part. */
static void test_slice_assignments(void)
{
    const char *program =
        "parameters { vector[6] v; }\n"
        "model {\n"
        "  matrix[3, 3] M = rep_matrix(0, 3, 3);\n"
        "  array[2, 3] real a = rep_array(0.0, 2, 3);\n"
        "  array[2] vector[3] av;\n"
        "  array[3] int k = {1, 2, 3};\n"
        "  M[2:3, 2] = v[1:2];\n"
        "  M[1, :] = v[4:6]';\n"
        "  M[{3, 1}, 3] += [100, 200]';\n"
        "  a[:, 2] = {v[1], v[2]};\n"
        "  a[2][3] = v[3];\n"
        "  av[1] = v[1:3];\n"
        "  av[2] = v[4:6];\n"
        "  av[2][2:3] = av[1][1:2];\n"
        "  k[2:3] = k[1:2];\n"
        "  target += sum(M) + 10 * sum(to_array_1d(a)) + 100 * sum(av[2]) + 1000 * sum(k)\n"
        "    + 10000 * M[1, 3];\n"
        "}\n";
    ps_model *m = compile_ok("slice assignments", program, NULL);
    if (m == NULL)
        return;
    double v[6] = {1, 2, 3, 4, 5, 6};
    /* M = [[4, 5, 206], [0, 1, 0], [0, 2, 100]], a = [[0, 1, 0], [0, 2, 3]],
     * av[2] = (4, 1, 2), k = {1, 1, 2}. */
    double want = 318 + 10 * 6 + 100 * 7 + 1000 * 4 + 10000 * 206;
    ps_status st;
    double got = lp_at(m, v, &st);
    CHECK(st == PS_OK && got == want, "slice assignments: %.17g, expected %.17g", got, want);
    ps_model_destroy(&m);
}

/* ---------------------------------------------------------------------------------------
 * propto: `~` drops constant terms, target += keeps them, _lupdf drops them
 * ------------------------------------------------------------------------------------- */

static void test_propto(void)
{
    const char *data = "{\"y\": [0.5, 1.5, -0.3], \"s\": 2.0}";
    const char *tilde = "data { array[3] real y; real s; }\nparameters { real mu; }\n"
                        "model { y ~ normal(mu, s); }\n";
    const char *full = "data { array[3] real y; real s; }\nparameters { real mu; }\n"
                       "model { target += normal_lpdf(y | mu, s); }\n";
    const char *lupdf = "data { array[3] real y; real s; }\nparameters { real mu; }\n"
                        "model { target += normal_lupdf(y | mu, s); }\n";
    const char *var_scale = "data { array[3] real y; }\nparameters { real mu; real<lower=0> s; }\n"
                            "model { y ~ normal(mu, s); }\n";
    double y[3] = {0.5, 1.5, -0.3}, mu = 0.7, s = 2.0;
    double quad = 0.0;
    for (int i = 0; i < 3; i++)
        quad += (y[i] - mu) * (y[i] - mu) / (s * s);
    ps_model *m1 = compile_ok("tilde", tilde, data), *m2 = compile_ok("full", full, data),
             *m3 = compile_ok("lupdf", lupdf, data),
             *m4 = compile_ok("var scale", var_scale, "{\"y\": [0.5, 1.5, -0.3]}");
    if (m1 && m2 && m3 && m4) {
        double t1 = lp_at(m1, &mu, NULL), t2 = lp_at(m2, &mu, NULL), t3 = lp_at(m3, &mu, NULL);
        CHECK_CLOSE(t1, -0.5 * quad, 1e-13, "y ~ normal(mu, data s)");
        CHECK_CLOSE(t3, -0.5 * quad, 1e-13, "normal_lupdf(y | mu, data s)");
        CHECK_CLOSE(t2, -0.5 * quad - 3.0 * log(s) - 3.0 * 0.5 * log(2.0 * PS_PI_TEST), 1e-13,
                    "normal_lpdf(y | mu, s)");
        /* A var scale keeps -log(s); the lower bound adds log-Jacobian log(s). */
        double th[2] = {mu, log(s)};
        double t4 = lp_at(m4, th, NULL);
        CHECK_CLOSE(t4, -0.5 * quad - 3.0 * log(s) + log(s), 1e-13,
                    "y ~ normal(mu, s) with s a parameter");
    }
    ps_model_destroy(&m1);
    ps_model_destroy(&m2);
    ps_model_destroy(&m3);
    ps_model_destroy(&m4);
    /* A `~` of data only folds to nothing; with target += it is a constant. */
    ps_model *m5 = compile_ok("data tilde",
                              "data { real y; }\nparameters { real x; }\nmodel { y ~ normal(0, "
                              "1); x ~ normal(0, 1); target += normal_lpdf(y | 0, 1); }\n",
                              "{\"y\": 0.25}");
    if (m5) {
        double x = 0.5;
        CHECK_CLOSE(lp_at(m5, &x, NULL), -0.125 - 0.03125 - 0.5 * log(2.0 * PS_PI_TEST), 1e-13,
                    "data-only ~ folded to 0, data-only target += kept");
    }
    ps_model_destroy(&m5);
}

/* ---------------------------------------------------------------------------------------
 * Transforms: values, Jacobians, output layout
 * ------------------------------------------------------------------------------------- */

static void test_transforms(void)
{
    const char *program = "parameters {\n"
                          "  real<lower=1> a;\n"
                          "  real<upper=2> b;\n"
                          "  real<lower=-1, upper=3> c;\n"
                          "  real<lower=a, upper=a + 2> d;\n" /* bounds from a parameter */
                          "  real<offset=1, multiplier=2> e;\n"
                          "  vector<lower=0>[2] f;\n"
                          "}\nmodel {}\n";
    ps_model *m = compile_ok("bounds", program, NULL);
    if (m != NULL) {
        double u[7] = {0.3, -0.2, 0.4, -1.1, 0.6, 0.1, -0.5}, out[7];
        CHECK(ps_model_dim(m) == 7, "dim %zu, expected 7", ps_model_dim(m));
        ps_model_workspace *ws = NULL;
        CHECK(ps_model_workspace_create(m, &ws) == PS_OK, "workspace");
        double lp = NAN;
        CHECK(ps_model_log_density(m, ws, u, &lp) == PS_OK, "log density");
        CHECK(ps_model_constrain(m, ws, u, out) == PS_OK, "constrain");
        double a = 1 + exp(0.3), b = 2 - exp(-0.2), il = 1 / (1 + exp(-0.4)), c = -1 + 4 * il;
        double il2 = 1 / (1 + exp(1.1)), d = a + 2 * il2, e = 1 + 2 * 0.6;
        CHECK_CLOSE(out[0], a, 1e-14, "a = 1 + exp(u)");
        CHECK_CLOSE(out[1], b, 1e-14, "b = 2 - exp(u)");
        CHECK_CLOSE(out[2], c, 1e-14, "c = -1 + 4 inv_logit(u)");
        CHECK_CLOSE(out[3], d, 1e-14, "d = a + 2 inv_logit(u)");
        CHECK_CLOSE(out[4], e, 1e-14, "e = 1 + 2 u");
        CHECK_CLOSE(out[5], exp(0.1), 1e-14, "f[1]");
        CHECK_CLOSE(out[6], exp(-0.5), 1e-14, "f[2]");
        double logj =
            0.3 + -0.2 + log(4 * il * (1 - il)) + log(2 * il2 * (1 - il2)) + log(2.0) + 0.1 - 0.5;
        CHECK_CLOSE(lp, logj, 1e-13, "log-Jacobian of the bounds");
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
    /* Structured types: constrained values satisfy their constraints. */
    const char *structured = "parameters {\n"
                             "  simplex[4] s;\n"
                             "  array[2] simplex[3] as;\n"
                             "  ordered[3] o;\n"
                             "  positive_ordered[3] po;\n"
                             "  cholesky_factor_corr[3] L;\n"
                             "  cov_matrix[3] S;\n"
                             "  cholesky_factor_cov[4, 3] C;\n"
                             "}\nmodel {}\n";
    m = compile_ok("structured", structured, NULL);
    if (m != NULL) {
        size_t dim = 3 + 4 + 3 + 3 + 3 + 6 + (6 + 3);
        CHECK(ps_model_dim(m) == dim, "structured: dim %zu, expected %zu", ps_model_dim(m), dim);
        CHECK(ps_model_output_size(m) == 4 + 6 + 3 + 3 + 9 + 9 + 12, "structured: output size %zu",
              ps_model_output_size(m));
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        stt_rng r = {11};
        double u[64], out[64];
        for (size_t i = 0; i < dim; i++)
            u[i] = 4 * stt_uniform(&r) - 2;
        CHECK(ps_model_constrain(m, ws, u, out) == PS_OK, "structured constrain");
        double s = out[0] + out[1] + out[2] + out[3];
        CHECK_CLOSE(s, 1.0, 1e-14, "sum of simplex s");
        CHECK_CLOSE(out[4] + out[5] + out[6], 1.0, 1e-14, "sum of as[1]");
        CHECK_CLOSE(out[7] + out[8] + out[9], 1.0, 1e-14, "sum of as[2]");
        CHECK(out[10] < out[11] && out[11] < out[12], "o is ordered: %g %g %g", out[10], out[11],
              out[12]);
        CHECK(0 < out[13] && out[13] < out[14] && out[14] < out[15], "po is positive ordered");
        /* L row-major: rows of unit length, upper triangle zero. */
        const double *L = out + 16;
        for (int i = 0; i < 3; i++) {
            double n2 = 0;
            for (int j = 0; j < 3; j++)
                n2 += L[i * 3 + j] * L[i * 3 + j];
            CHECK_CLOSE(n2, 1.0, 1e-13, "squared length of a row of L");
        }
        CHECK(L[1] == 0 && L[2] == 0 && L[5] == 0, "L is lower triangular");
        const double *S = out + 25;
        CHECK(S[1] == S[3] && S[2] == S[6] && S[5] == S[7], "S is symmetric");
        const double *C = out + 34;
        CHECK(C[1] == 0 && C[2] == 0 && C[5] == 0 && C[0] > 0 && C[4] > 0 && C[8] > 0,
              "C is lower triangular with a positive diagonal");
        /* Output variables and shapes. */
        const ps_var_info *vi = ps_model_var(m, 1);
        CHECK(vi && strcmp(vi->name, "as") == 0 && vi->ndim == 2 && vi->dims[0] == 2 &&
                  vi->dims[1] == 3,
              "as is [2, 3]");
        vi = ps_model_var(m, 6);
        CHECK(vi && strcmp(vi->name, "C") == 0 && vi->ndim == 2 && vi->dims[0] == 4 &&
                  vi->dims[1] == 3,
              "C is [4, 3]");
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
    /* corr_matrix: the log density of an empty model is log |d Omega / d u| over the strict
     * lower triangle, checked against a finite-difference Jacobian determinant. */
    m = compile_ok("corr_matrix", "parameters { corr_matrix[3] O; }\nmodel {}\n", NULL);
    if (m != NULL) {
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        stt_rng r = {5};
        for (int point = 0; point < 3; point++) {
            double u[3], o[9], J[9], lp;
            for (int i = 0; i < 3; i++)
                u[i] = 2 * stt_uniform(&r) - 1;
            CHECK(ps_model_log_density(m, ws, u, &lp) == PS_OK, "corr_matrix lp");
            CHECK(ps_model_constrain(m, ws, u, o) == PS_OK, "corr_matrix constrain");
            CHECK(fabs(o[0] - 1) < 1e-14 && fabs(o[4] - 1) < 1e-14 && fabs(o[8] - 1) < 1e-14 &&
                      o[1] == o[3] && o[2] == o[6] && o[5] == o[7],
                  "corr_matrix: unit diagonal and symmetric");
            static const int lower[3] = {3, 6, 7}; /* O[2,1], O[3,1], O[3,2] row-major */
            for (int j = 0; j < 3; j++) {
                double up[3] = {u[0], u[1], u[2]}, um[3] = {u[0], u[1], u[2]}, op[9], om[9];
                up[j] += 1e-6;
                um[j] -= 1e-6;
                ps_model_constrain(m, ws, up, op);
                ps_model_constrain(m, ws, um, om);
                for (int i = 0; i < 3; i++)
                    J[i * 3 + j] = (op[lower[i]] - om[lower[i]]) / 2e-6;
            }
            double det = J[0] * (J[4] * J[8] - J[5] * J[7]) - J[1] * (J[3] * J[8] - J[5] * J[6]) +
                         J[2] * (J[3] * J[7] - J[4] * J[6]);
            CHECK_CLOSE(lp, log(fabs(det)), 1e-7, "corr_matrix log-Jacobian vs finite differences");
        }
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
    /* Densities with their normalising constants and transforms with their Jacobians
     * integrate to 1 over the unconstrained space: LKJ over corr_matrix[3] and over
     * cholesky_factor_corr[3] (midpoint rule after u = atanh(t)). */
    static const char *const lkj[2] = {
        "parameters { corr_matrix[3] O; }\nmodel { target += lkj_corr_lpdf(O | 2.5); }\n",
        "parameters { cholesky_factor_corr[3] L; }\n"
        "model { target += lkj_corr_cholesky_lpdf(L | 1.5); }\n"};
    for (int k = 0; k < 2; k++) {
        m = compile_ok("lkj integral", lkj[k], NULL);
        if (m == NULL)
            continue;
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        int n = 60;
        double h = 2.0 / n, sum = 0;
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                for (int c = 0; c < n; c++) {
                    double t[3] = {-1 + (a + 0.5) * h, -1 + (b + 0.5) * h, -1 + (c + 0.5) * h};
                    double u[3], w = h * h * h, lp = 0;
                    for (int i = 0; i < 3; i++) {
                        u[i] = atanh(t[i]);
                        w /= 1 - t[i] * t[i];
                    }
                    ps_model_log_density(m, ws, u, &lp);
                    sum += exp(lp) * w;
                }
        CHECK(fabs(sum - 1.0) < 2e-3,
              "%s integrates to %.6f over the unconstrained space, "
              "expected 1",
              lkj[k], sum);
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
    /* Matrices are written row-major; transformed parameters follow the parameters. */
    m = compile_ok("layout",
                   "parameters { matrix[2, 3] M; }\ntransformed parameters { array[2] "
                   "row_vector[3] R; for (i in 1:2) R[i] = 10 * M[i]; real t = M[2, 1]; }\n"
                   "model {}\n",
                   NULL);
    if (m != NULL) {
        double u[6] = {1, 2, 3, 4, 5, 6}, out[13];
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        CHECK(ps_model_constrain(m, ws, u, out) == PS_OK, "layout constrain");
        /* M = [[1, 3, 5], [2, 4, 6]] from the column-major unconstrained vector. */
        double want[13] = {1, 3, 5, 2, 4, 6, 10, 30, 50, 20, 40, 60, 2};
        for (int i = 0; i < 13; i++)
            CHECK(out[i] == want[i], "output %d is %g, expected %g", i, out[i], want[i]);
        char name[64];
        ps_model_output_element_name(m, 4, name, sizeof name);
        CHECK(strcmp(name, "M[2,2]") == 0, "output 4 is named %s, expected M[2,2]", name);
        const ps_var_info *t = ps_model_var(m, 2);
        CHECK(t && t->transformed && t->ndim == 0, "t is a scalar transformed parameter");
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
}

/* ---------------------------------------------------------------------------------------
 * Gradients against central finite differences
 * ------------------------------------------------------------------------------------- */

typedef struct grad_case {
    const char *name;
    const char *program;
    const char *data;
} grad_case;

static const grad_case grad_cases[] = {
    {"scalar unary",
     "parameters { real x; real<lower=0> y; real<lower=0, upper=1> p; }\n"
     "model {\n"
     "  target += exp(x) / 10 + log(y) + log1p(y) + expm1(x) / 5 + log1m(p) + log1m_exp(-y)\n"
     "    + log1p_exp(x) + inv_logit(x) + logit(p) + log_inv_logit(x) + log1m_inv_logit(x)\n"
     "    + square(x) / 10 + sqrt(y) + cbrt(y) + inv(y + 1) + inv_sqrt(y + 1) + inv_square(y + 1)\n"
     "    + lgamma(y + 1) + tgamma(y + 1) / 10 + digamma(y + 1) + sin(x) + cos(x) + tan(x / 4)\n"
     "    + asin(p) + acos(p) + atan(x) + sinh(x) / 5 + cosh(x) / 5 + tanh(x) + asinh(x)\n"
     "    + acosh(y + 1.5) + atanh(p / 2) + Phi(x) + Phi_approx(x) + inv_Phi(p) + erf(x)\n"
     "    + erfc(x) + log2(y) + log10(y) + exp2(x) + fabs(x) + abs(x) - x + floor(x) + ceil(x)\n"
     "    + round(x) + trunc(x);\n"
     "  x ~ normal(0, 1);\n"
     "  y ~ gamma(2, 1);\n"
     "}\n",
     NULL},
    {"scalar binary",
     "parameters { real x; real<lower=0> y; real<lower=0, upper=1> p; }\n"
     "model {\n"
     "  target += pow(y, p) + y ^ 2 + fmin(x, y) + fmax(x, y) + fdim(y, x) + hypot(x, y)\n"
     "    + atan2(x, y) + lbeta(y + 1, p + 1) + lchoose(y + 3, p)\n"
     "    + binomial_coefficient_log(y + 3, p + 1) + log_diff_exp(y + 1, p) + fma(x, y, p)\n"
     "    + log_sum_exp(x, y) + log_mix(p, x, y) + fmod(y + 5, 2.3) + min(x, y) + max(x, y)\n"
     "    + x / y + x * y - y - x + (-x);\n"
     "  x ~ normal(0, 1);\n"
     "  y ~ gamma(2, 1);\n"
     "}\n",
     NULL},
    {"vector element-wise and reductions",
     "parameters { vector[4] v; row_vector[4] r; array[4] real a; }\n"
     "model {\n"
     "  target += sum(exp(v) / 10) + sum(log1p_exp(r)) + sum(square(to_vector(a)))\n"
     "    + sum(v .* r') + sum(v ./ exp(r')) + sum(exp(v) .^ 0.5) + sum(2 .^ r) + sum(exp(v) .^ "
     "r')\n"
     "    + prod(v) + mean(r) + variance(v) + sd(r) + dot_product(v, r) + dot_self(r)\n"
     "    + log_sum_exp(v) + max(r) + min(to_vector(a)) + sum(softmax(v)[1:2])\n"
     "    + sum(log_softmax(v)) + sum(cumulative_sum(a)) + sum(cumulative_sum(v))\n"
     "    + log_sum_exp(a) + dot_product(a, a) + sum(sort_asc(v) .* [1, 2, 3, 4]')\n"
     "    + sum(sort_desc(r) .* [1, 2, 3, 4]) + sum(reverse(a)[1:2]) + sum(-v) + sum(v - 1)\n"
     "    + sum(1 - r) + sum(v / 2) + sum(2 * r) + sum(v + r');\n"
     "  v ~ normal(0, 1);\n"
     "  r ~ normal(0, 1);\n"
     "  a ~ normal(0, 1);\n"
     "}\n",
     NULL},
    {"matrices and linear algebra",
     "parameters { matrix[3, 3] M; vector[3] v; cov_matrix[3] S; cholesky_factor_corr[3] L; }\n"
     "model {\n"
     "  matrix[3, 3] A = M + diag_matrix(rep_vector(4, 3));\n"
     "  target += sum(A * v) + sum(v' * A) + (v' * A * v) + sum(A * A') + trace(A)\n"
     "    + log_determinant(A) + determinant(A) / 100 + sum(inverse(A)) + sum(inverse_spd(S))\n"
     "    + sum(cholesky_decompose(S)) + sum(diag_pre_multiply(v, A)) + sum(diag_post_multiply(A, "
     "v))\n"
     "    + sum(add_diag(A, v)) + sum(add_diag(A, 2.5)) + quad_form(S, v) + sum(quad_form(S, A))\n"
     "    + quad_form_sym(S, v) + sum(quad_form_diag(S, v)) + sum(crossprod(M)) + "
     "sum(tcrossprod(M))\n"
     "    + sum(multiply_lower_tri_self_transpose(L)) + sum(mdivide_left_tri_low(L, v))\n"
     "    + sum(mdivide_right_tri_low(v', L)) + sum(columns_dot_product(M, A))\n"
     "    + sum(rows_dot_product(M, A)) + sum(columns_dot_self(M)) + sum(rows_dot_self(M))\n"
     "    + sum(diagonal(A)) + sum(M') + sum(v' / A) + sum(M[2]) + sum(M[:, 3]) + M[2, 3]\n"
     "    + sum(block(M, 1, 2, 2, 2)) + sum(col(M, 1)) + sum(row(M, 3)) + sum(sub_col(M, 2, 2, "
     "2))\n"
     "    + sum(sub_row(M, 3, 2, 2)) + sum(append_row(M, v')) + sum(append_col(M, v))\n"
     "    + sum(to_vector(M)) + sum(to_array_1d(M)) + sum(to_array_2d(M)[2]) + sum(to_matrix(v, 1, "
     "3))\n"
     "    + sum(rep_matrix(v, 2)) + sum(rep_matrix(v', 2)) + sum(rep_matrix(v[1], 2, 2))\n"
     "    + sum(M[{3, 1}, 2:3]);\n"
     "  to_vector(M) ~ normal(0, 1);\n"
     "  v ~ normal(0, 1);\n"
     "  target += -0.5 * trace(S) + log_determinant(S);\n"
     "}\n",
     NULL},
    {"continuous densities",
     "data { vector[3] y; vector<lower=0>[3] yp; vector<lower=0, upper=1>[3] yu; }\n"
     "parameters { real mu; real<lower=0> s; real<lower=0> nu; simplex[3] th; vector<lower=0>[3] "
     "al; "
     "real z; }\n"
     "model {\n"
     "  y ~ normal(mu, s);\n"
     "  target += normal_lpdf(y | mu, s) + normal_lpdf(mu | y, s) + std_normal_lpdf(z)\n"
     "    + cauchy_lpdf(y | mu, s) + student_t_lpdf(y | nu, mu, s) + lognormal_lpdf(yp | mu, s)\n"
     "    + gamma_lpdf(yp | nu, s) + inv_gamma_lpdf(yp | nu, s) + exponential_lpdf(yp | s)\n"
     "    + beta_lpdf(yu | nu, s) + uniform_lpdf(z | -10, 10 + s) + dirichlet_lpdf(th | al)\n"
     "    + double_exponential_lpdf(y | mu, s) + logistic_lpdf(y | mu, s) + gumbel_lpdf(y | mu, "
     "s)\n"
     "    + weibull_lpdf(yp | nu, s) + chi_square_lpdf(yp | nu) + inv_chi_square_lpdf(yp | nu)\n"
     "    + scaled_inv_chi_square_lpdf(yp | nu, s) + normal_lcdf(y | mu, s)\n"
     "    + normal_lccdf(y | mu, s) + std_normal_lcdf(z) + std_normal_lccdf(z)\n"
     "    + log(normal_cdf(y | mu, s)) + lognormal_lcdf(yp | mu, s) + lognormal_lccdf(yp | mu, s)\n"
     "    + exponential_lcdf(yp | s) + exponential_lccdf(yp | s) + logistic_lcdf(y | mu, s)\n"
     "    + logistic_lccdf(y | mu, s) + cauchy_lcdf(y | mu, s) + cauchy_lccdf(y | mu, s)\n"
     "    + gumbel_lcdf(y | mu, s) + gumbel_lccdf(y | mu, s) + double_exponential_lcdf(y | mu, s)\n"
     "    + double_exponential_lccdf(y | mu, s) + weibull_lcdf(yp | nu, s)\n"
     "    + weibull_lccdf(yp | nu, s) + uniform_lcdf(z | -10, 10 + s) + uniform_lccdf(z | -10, 10 "
     "+ "
     "s)\n"
     "    + student_t_lccdf(0 | 3, 0, 10);\n"
     "  target += cauchy_lupdf(y | mu, s) + student_t_lupdf(y | nu, mu, s) + gamma_lupdf(yp | nu, "
     "s)\n"
     "    + beta_lupdf(yu | nu, s) + dirichlet_lupdf(th | al) + weibull_lupdf(yp | nu, s);\n"
     "  mu ~ normal(0, 1);\n"
     "  s ~ lognormal(0, 0.5);\n"
     "  nu ~ gamma(3, 1);\n"
     "  al ~ exponential(1);\n"
     "  z ~ std_normal();\n"
     "}\n",
     "{\"y\": [0.3, -1.2, 2.1], \"yp\": [0.4, 1.3, 2.2], \"yu\": [0.2, 0.5, 0.9]}"},
    {"discrete densities and GLMs",
     "data { int N; array[N] int k; array[N] int b; array[N] int n; matrix[N, 2] X; vector[N] yr; "
     "}\n"
     "parameters { real a; vector[2] beta; real<lower=0> phi; real<lower=0, upper=1> p; "
     "simplex[4] th; vector[4] eta; real<lower=0> sigma; }\n"
     "model {\n"
     "  k ~ poisson_log(a + X * beta);\n"
     "  target += poisson_lpmf(k | exp(a)) + poisson_log_lpmf(k | a) + bernoulli_lpmf(b | p)\n"
     "    + bernoulli_logit_lpmf(b | a + X * beta) + binomial_lpmf(k | n, p)\n"
     "    + binomial_logit_lpmf(k | n, a) + neg_binomial_2_lpmf(k | exp(a), phi)\n"
     "    + neg_binomial_2_log_lpmf(k | a, phi) + categorical_lpmf(b[1] + 1 | th)\n"
     "    + categorical_lpmf({1, 3, 4} | th) + categorical_logit_lpmf({2, 2} | eta)\n"
     "    + bernoulli_logit_glm_lpmf(b | X, a, beta) + poisson_log_glm_lpmf(k | X, a, beta)\n"
     "    + normal_id_glm_lpdf(yr | X, a, beta, sigma) + bernoulli_logit_glm_lupmf(b | X, a, "
     "beta)\n"
     "    + poisson_log_glm_lupmf(k | X, rep_vector(a, N), beta)\n"
     "    + bernoulli_logit_glm_lpmf(b | X * phi, a, beta) + poisson_log_glm_lpmf(k | X * phi, a, "
     "beta);\n"
     "  b ~ bernoulli_logit_glm(X, a, beta);\n"
     "  yr ~ normal_id_glm(X, a, beta, sigma);\n"
     "  a ~ normal(0, 1);\n"
     "  beta ~ normal(0, 1);\n"
     "  phi ~ gamma(2, 1);\n"
     "  eta ~ normal(0, 1);\n"
     "}\n",
     "{\"N\": 4, \"k\": [0, 2, 5, 1], \"b\": [0, 1, 1, 0], \"n\": [3, 4, 7, 2], "
     "\"X\": [[0.1, -0.5], [1.2, 0.3], [-0.7, 0.8], [0.4, 0.4]], \"yr\": [0.5, -0.2, 1.1, 0.0]}"},
    {"multivariate densities",
     "data { int D; array[2] vector[D] y; }\n"
     "parameters { vector[D] mu; cov_matrix[D] S; cholesky_factor_corr[D] L; "
     "cholesky_factor_cov[D] LC; real<lower=0> eta; corr_matrix[D] O; }\n"
     "model {\n"
     "  y ~ multi_normal(mu, S);\n"
     "  target += multi_normal_lpdf(y[1] | mu, S) + multi_normal_cholesky_lpdf(y | mu, LC)\n"
     "    + multi_normal_cholesky_lpdf(mu | y[2], diag_pre_multiply(rep_vector(2, D), L))\n"
     "    + lkj_corr_cholesky_lpdf(L | eta) + lkj_corr_lpdf(multiply_lower_tri_self_transpose(L) "
     "| eta);\n"
     "  L ~ lkj_corr_cholesky(2);\n"
     "  O ~ lkj_corr(eta);\n"
     "  eta ~ gamma(2, 1);\n"
     "  mu ~ normal(0, 1);\n"
     "}\n",
     "{\"D\": 3, \"y\": [[0.1, 0.4, -0.3], [1.0, -0.2, 0.5]]}"},
    {"indexing, loops and local containers",
     "data { int N; array[N] int g; vector[N] x; }\n"
     "parameters { vector[3] a; array[2] vector[3] av; matrix[2, 3] M; }\n"
     "transformed parameters {\n"
     "  vector[N] mu;\n"
     "  for (n in 1:N) mu[n] = a[g[n]] + av[2, g[n]] * x[n];\n"
     "  array[2, 3] real t;\n"
     "  for (i in 1:2) for (j in 1:3) t[i, j] = M[i, j] * av[i][j];\n"
     "}\n"
     "model {\n"
     "  vector[N] w = a[g] + av[1][g] .* x;\n"
     "  array[3] real acc;\n"
     "  acc[1] = 0; acc[2] = 1; acc[3] = 2;\n"
     "  for (k in 1:3) { acc[k] += sum(M[:, k]) * a[k]; if (k == 2) continue; acc[k] *= 2; }\n"
     "  for (row in av) target += dot_self(row) / 10;\n"
     "  for (m in M) target += m / 7;\n"
     "  target += sum(acc) + normal_lpdf(x | mu, 1) + normal_lpdf(x | w, 2) + sum(to_array_1d(t))\n"
     "    + sum(av[:, 2]) + sum(M[2, {3, 1}]) + log_sum_exp(acc) + log_mix(0.3, av[1, 1], av[2, "
     "2])\n"
     "    + log_mix(softmax(a), {av[1], av[2]});\n"
     "  a ~ normal(0, 1);\n"
     "  av[1] ~ normal(0, 1);\n"
     "  av[2] ~ normal(0, 1);\n"
     "  to_vector(M) ~ normal(0, 1);\n"
     "}\n",
     "{\"N\": 5, \"g\": [1, 3, 2, 3, 1], \"x\": [0.2, -0.4, 1.1, 0.7, -1.5]}"},
    {"transforms with dependent bounds",
     "parameters { real<lower=0> s; vector<lower=-s, upper=s>[3] v; real<lower=max(v)> m; "
     "vector<offset=m, multiplier=s>[2] o; ordered[3] od; positive_ordered[2] po; "
     "array[2] simplex[3] sx; vector<lower=[-1, -2]'>[2] vb; }\n"
     "model {\n"
     "  s ~ lognormal(0, 1);\n"
     "  m ~ normal(0, 3);\n"
     "  o ~ normal(0, 3);\n"
     "  od ~ normal(0, 3);\n"
     "  po ~ normal(0, 3);\n"
     "  vb ~ normal(0, 3);\n"
     "  target += sum(sx[1] .* [1, 2, 3]') + sx[2, 3];\n"
     "}\n",
     NULL},
};

static void test_gradients(void)
{
    for (size_t c = 0; c < sizeof grad_cases / sizeof grad_cases[0]; c++) {
        const grad_case *g = &grad_cases[c];
        ps_model *m = compile_ok(g->name, g->program, g->data);
        if (m == NULL)
            continue;
        size_t d = ps_model_dim(m);
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        stt_rng r = {1234 + c};
        double theta[256];
        int points = 0, attempts = 0;
        while (points < 4 && attempts < 40) {
            attempts++;
            for (size_t i = 0; i < d; i++)
                theta[i] = 2.4 * stt_uniform(&r) - 1.2;
            size_t worst = 0;
            double err = stt_fd_ratio(m, ws, theta, 1e-6, &worst);
            if (err < 0)
                continue; /* a point outside the support of some term: try another */
            points++;
            CHECK(err < 1.0,
                  "%s: gradient and central differences differ by %.3g times the tolerance at "
                  "coordinate %zu (%s)",
                  g->name, err, worst, ps_model_unc_name(m, worst));
        }
        CHECK(points == 4, "%s: only %d of 40 random points could be evaluated (last: %s)", g->name,
              points, ps_model_workspace_message(ws));
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
}

/* ---------------------------------------------------------------------------------------
 * Errors: data, program, run time
 * ------------------------------------------------------------------------------------- */

static void expect_error(const char *what, const char *program, const char *data, ps_status want,
                         const char *const *needles)
{
    ps_model *m = NULL;
    ps_error_clear();
    ps_status st = stt_compile(program, data, &m);
    CHECK(st == want, "%s: status %d, expected %d (%s)", what, st, want, ps_error_message());
    for (int i = 0; needles[i] != NULL; i++)
        CHECK(strstr(ps_error_message(), needles[i]) != NULL,
              "%s: the message does not contain \"%s\":\n%s", what, needles[i], ps_error_message());
    ps_model_destroy(&m);
    ps_error_clear();
}

static void test_data_errors(void)
{
    const char *prog = "data { int<lower=0> J; vector[J] y; array[J] real<lower=0> sigma; }\n"
                       "parameters { real mu; }\nmodel { y ~ normal(mu, sigma); }\n";
    expect_error("wrong length", prog,
                 "{\"J\": 8, \"y\": [1,2,3,4,5,6,7], \"sigma\": [1,1,1,1,1,1,1,1]}", PS_ERR_DATA,
                 (const char *[]){"'y': declared vector[8] (J = 8)", "has 7 values", ":1:", NULL});
    expect_error("missing", prog, "{\"J\": 2, \"y\": [1, 2]}", PS_ERR_DATA,
                 (const char *[]){"'sigma'", "missing from the data file", NULL});
    expect_error("no data file", prog, NULL, PS_ERR_DATA,
                 (const char *[]){"'J'", "no data file", NULL});
    expect_error("int expected", prog, "{\"J\": 2.5, \"y\": [1, 2], \"sigma\": [1, 1]}",
                 PS_ERR_DATA, (const char *[]){"'J' must hold ints, but J is 2.5", ":1:7:", NULL});
    expect_error("lower bound", prog, "{\"J\": 2, \"y\": [1, 2], \"sigma\": [1, -3]}", PS_ERR_DATA,
                 (const char *[]){"sigma[2] is -3, but must be greater than or equal to 0", NULL});
    expect_error("negative size", prog, "{\"J\": -1, \"y\": [], \"sigma\": []}", PS_ERR_DATA,
                 (const char *[]){"J is -1, but must be greater than or equal to 0", NULL});
    expect_error("scalar as array", prog, "{\"J\": [2], \"y\": [1, 2], \"sigma\": [1, 1]}",
                 PS_ERR_DATA, (const char *[]){"'J': declared int", "has 1 value", NULL});
    expect_error(
        "matrix shape",
        "data { matrix[2, 3] X; }\nparameters { real mu; }\nmodel { mu ~ normal(0, 1); }\n",
        "{\"X\": [[1, 2], [3, 4], [5, 6]]}", PS_ERR_DATA,
        (const char *[]){"'X': declared matrix[2, 3]", "shape [3, 2]", NULL});
    expect_error("simplex data",
                 "data { simplex[3] s; }\nparameters { real mu; }\nmodel { mu ~ normal(0, 1); }\n",
                 "{\"s\": [0.2, 0.3, 0.4]}", PS_ERR_DATA,
                 (const char *[]){"s is not a valid simplex", NULL});
    expect_error(
        "cov_matrix data",
        "data { cov_matrix[2] S; }\nparameters { real mu; }\nmodel { mu ~ normal(0, 1); }\n",
        "{\"S\": [[1, 2], [2, 1]]}", PS_ERR_DATA,
        (const char *[]){"S is not positive definite", NULL});
    expect_error("bad json", prog, "{\"J\": 2, \"y\": [1, 2}", PS_ERR_DATA,
                 (const char *[]){"expected ',' or ']'", NULL});
    /* A container of size 0 may be missing from the file. */
    ps_model *me = compile_ok("missing empty",
                              "data { int N; vector[N] y; array[N, 2] int k; }\n"
                              "parameters { real mu; }\nmodel { y ~ normal(mu, 1); }\n",
                              "{\"N\": 0}");
    ps_model_destroy(&me);
    /* Undeclared keys are ignored, empty arrays fit empty containers, matrices are read by
     * rows. */
    ps_model *m = compile_ok("extra keys",
                             "data { int N; array[N, 2] int e; matrix[2, 2] X; }\n"
                             "parameters { real mu; }\nmodel { target += X[1, 2] * mu; }\n",
                             "{\"N\": 0, \"e\": [], \"X\": [[1, 7], [3, 4]], \"unused\": [1, 2]}");
    if (m) {
        double mu = 2.0;
        CHECK_CLOSE(lp_at(m, &mu, NULL), 14.0, 1e-15, "X[1, 2] * mu from a row-major file");
        ps_model_destroy(&m);
    }
}

/* The same data from an HDF5 file: one dataset per variable (src/data). */
static void test_hdf5_data(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data.h5", stt_scratch);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(file >= 0, "cannot create %s", path);
    if (file < 0)
        return;
    int n = 3;
    double y[3] = {0.5, 1.5, -0.25};
    double X[3][2] = {{1, 2}, {3, 4}, {5, 6}}; /* row-major, as HDF5 stores it */
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(file, "N", H5T_NATIVE_INT, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &n);
    H5Dclose(d);
    H5Sclose(scalar);
    hsize_t dy[1] = {3}, dx[2] = {3, 2};
    hid_t sy = H5Screate_simple(1, dy, NULL), sx = H5Screate_simple(2, dx, NULL);
    d = H5Dcreate2(file, "y", H5T_NATIVE_DOUBLE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
    H5Dclose(d);
    d = H5Dcreate2(file, "X", H5T_NATIVE_DOUBLE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, X);
    H5Dclose(d);
    H5Sclose(sy);
    H5Sclose(sx);
    H5Fclose(file);
    char spath[512];
    stt_write("h5.stan",
              "data { int N; vector[N] y; matrix[N, 2] X; }\nparameters { real mu; }\n"
              "model { target += mu * (sum(y) + X[3, 1] * 10 + X[1, 2] * 100); }\n",
              spath, sizeof spath);
    ps_model *m = NULL;
    ps_status st = ps_model_stan_create(spath, path, 1, &m);
    CHECK(st == PS_OK, "HDF5 data: %s", ps_error_message());
    if (m != NULL) {
        double mu = 1.0;
        CHECK_CLOSE(lp_at(m, &mu, NULL), 1.75 + 50.0 + 200.0, 1e-14, "values from HDF5 data");
    }
    ps_model_destroy(&m);
    ps_error_clear();
}

static void test_program_errors(void)
{
    expect_error("syntax", "parameters { real x }\nmodel { }\n", NULL, PS_ERR_MODEL,
                 (const char *[]){":1:", NULL});
    expect_error("unsupported function",
                 "parameters { real<lower=0> x; }\nmodel { target += trigamma(x); }\n", NULL,
                 PS_ERR_MODEL,
                 (const char *[]){":2:", "'trigamma' with an argument that depends on parameters",
                                  "not supported yet", NULL});
    expect_error("rng",
                 "transformed data { real z = normal_rng(0, 1); }\nparameters { real x; }\n"
                 "model { x ~ normal(z, 1); }\n",
                 NULL, PS_ERR_MODEL,
                 (const char *[]){":1:", "normal_rng", "not supported yet", NULL});
    expect_error("target()",
                 "parameters { real x; }\nmodel { x ~ normal(0, 1); target += target(); }\n", NULL,
                 PS_ERR_MODEL, (const char *[]){":2:", "target()", "not supported yet", NULL});
    expect_error("transformed data error",
                 "data { int N; }\ntransformed data { vector[N] v; v[N + 1] = 1; }\n"
                 "parameters { real x; }\nmodel { x ~ normal(0, 1); }\n",
                 "{\"N\": 3}", PS_ERR_MODEL,
                 (const char *[]){":2:", "index 4 out of range for 'v'", NULL});
    expect_error("transformed data constraint",
                 "transformed data { real<lower=0> c = -2; }\nparameters { real x; }\n"
                 "model { x ~ normal(c, 1); }\n",
                 NULL, PS_ERR_MODEL,
                 (const char *[]){":1:", "c is -2, but must be greater than or equal to 0", NULL});
}

static void test_runtime_errors(void)
{
    /* A domain error rejects the point, with the engine's message and the statement's
     * location. */
    ps_model *m =
        compile_ok("reject", "parameters { real x; }\nmodel {\n  x ~ normal(0, x);\n}\n", NULL);
    if (m) {
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        double x = -1.0, lp = 0.0, g = 0.0;
        ps_status st = ps_model_log_density_gradient(m, ws, &x, &lp, &g);
        CHECK(st == PS_ERR_NUMERIC, "negative scale: status %d, expected a rejection", st);
        CHECK(isinf(lp) && lp < 0, "a rejection sets -inf, got %g", lp);
        CHECK_STR_CONTAINS(ps_model_workspace_message(ws),
                           "normal_lpdf: Scale parameter is -1, but must be positive");
        CHECK_STR_CONTAINS(ps_model_workspace_message(ws), "line 3, column 3");
        CHECK(ps_error_message()[0] == '\0', "a rejection records no error: %s",
              ps_error_message());
        /* The next evaluation is clean. */
        x = 2.0;
        st = ps_model_log_density_gradient(m, ws, &x, &lp, &g);
        CHECK(st == PS_OK && ps_model_workspace_message(ws)[0] == '\0',
              "after a rejection: %d '%s'", st, ps_model_workspace_message(ws));
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
    /* reject() and transformed parameter constraints. */
    m = compile_ok("reject()",
                   "parameters { real x; }\ntransformed parameters { real<lower=0> y = x; }\n"
                   "model {\n  if (x > 1) reject(\"x is too large: \", x);\n}\n",
                   NULL);
    if (m) {
        ps_model_workspace *ws = NULL;
        ps_model_workspace_create(m, &ws);
        double x = 1.5, lp, g;
        CHECK(ps_model_log_density_gradient(m, ws, &x, &lp, &g) == PS_ERR_NUMERIC, "reject()");
        CHECK_STR_CONTAINS(ps_model_workspace_message(ws), "x is too large: 1.5");
        CHECK_STR_CONTAINS(ps_model_workspace_message(ws), "line 4");
        x = -0.5;
        CHECK(ps_model_log_density_gradient(m, ws, &x, &lp, &g) == PS_ERR_NUMERIC,
              "transformed parameter below its bound");
        CHECK_STR_CONTAINS(ps_model_workspace_message(ws),
                           "y is -0.5, but must be greater than or equal to 0");
        CHECK_STR_CONTAINS(ps_model_workspace_message(ws), "line 2");
        double out[2];
        CHECK(ps_model_constrain(m, ws, &x, out) == PS_ERR_NUMERIC, "constrain checks too");
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&m);
    }
    /* Size mismatches and indices out of range are fatal, located, and name the
     * variable. */
    m = compile_ok("size mismatch",
                   "data { int N; }\nparameters { vector[3] v; }\nmodel {\n"
                   "  vector[N] w;\n  w = v;\n  v ~ normal(0, 1);\n}\n",
                   "{\"N\": 2}");
    if (m) {
        double v[3] = {0, 0, 0};
        ps_status st;
        lp_at(m, v, &st);
        CHECK(st == PS_ERR_MODEL, "size mismatch: status %d", st);
        CHECK_STR_CONTAINS(ps_error_message(), "assignment to 'w'");
        CHECK_STR_CONTAINS(ps_error_message(), "vector[2]");
        CHECK_STR_CONTAINS(ps_error_message(), "vector[3]");
        CHECK_STR_CONTAINS(ps_error_message(), ":5:");
        ps_error_clear();
        ps_model_destroy(&m);
    }
    /* The fused a[g] + b[g] .* x checks its indices once, and names the vector. */
    m = compile_ok(
        "gathered fma",
        "data { array[3] int g; vector[3] x; }\nparameters { vector[2] a; vector[2] b; }\n"
        "model {\n  x ~ normal(a[g] + b[g] .* x, 1);\n}\n",
        "{\"g\": [1, 3, 2], \"x\": [0.5, 1, 2]}");
    if (m) {
        double v[4] = {0, 0, 0, 0};
        ps_status st;
        lp_at(m, v, &st);
        CHECK(st == PS_ERR_MODEL, "gathered fma index out of range: status %d", st);
        CHECK_STR_CONTAINS(ps_error_message(), "index 3 out of range for 'a'");
        CHECK_STR_CONTAINS(ps_error_message(), ":4:");
        ps_error_clear();
        ps_model_destroy(&m);
    }
    m = compile_ok("index",
                   "data { int k; }\nparameters { vector[3] v; }\nmodel {\n"
                   "  target += v[k];\n}\n",
                   "{\"k\": 4}");
    if (m) {
        double v[3] = {0, 0, 0};
        ps_status st;
        lp_at(m, v, &st);
        CHECK(st == PS_ERR_MODEL, "index out of range: status %d", st);
        CHECK_STR_CONTAINS(ps_error_message(), "index 4 out of range for 'v'");
        CHECK_STR_CONTAINS(ps_error_message(), ":4:");
        ps_error_clear();
        ps_model_destroy(&m);
    }
}

/* ---------------------------------------------------------------------------------------
 * No allocation after warm-up; threads; allocation failures
 * ------------------------------------------------------------------------------------- */

static const char *hier_program =
    "data { int N; int J; array[N] int g; vector[N] x; vector[N] y; }\n"
    "parameters { real mu; real<lower=0> tau; vector[J] z; real<lower=0> sigma; }\n"
    "transformed parameters { vector[J] a = mu + tau * z; }\n"
    "model {\n"
    "  vector[N] m;\n"
    "  for (n in 1:N) m[n] = a[g[n]] * x[n];\n"
    "  z ~ std_normal();\n  tau ~ normal(0, 1);\n  sigma ~ normal(0, 1);\n"
    "  y ~ normal(m + a[g], sigma);\n"
    "}\n";
static const char *hier_data = "{\"N\": 6, \"J\": 3, \"g\": [1, 2, 3, 1, 2, 3], "
                               "\"x\": [0.1, 0.5, -0.3, 1.2, 0.8, -1.1], "
                               "\"y\": [0.3, 1.1, -0.2, 2.0, 1.4, -0.9]}";

static void test_no_allocation(void)
{
    ps_model *m = compile_ok("no allocation", hier_program, hier_data);
    if (m == NULL)
        return;
    ps_model_workspace *ws = NULL;
    ps_model_workspace_create(m, &ws);
    double th[6] = {0.1, -0.3, 0.5, -0.2, 0.7, 0.2}, g[6], lp, out[16];
    for (int i = 0; i < 3; i++) {
        ps_model_log_density_gradient(m, ws, th, &lp, g);
        ps_model_log_density(m, ws, th, &lp);
        ps_model_constrain(m, ws, th, out);
    }
    long before = ps_fault_alloc_count();
    for (int i = 0; i < 100; i++) {
        th[0] = 0.01 * i;
        ps_model_log_density_gradient(m, ws, th, &lp, g);
        ps_model_log_density(m, ws, th, &lp);
        ps_model_constrain(m, ws, th, out);
    }
    long after = ps_fault_alloc_count();
    CHECK(after == before, "%ld allocations in 100 warmed-up evaluations, expected none",
          after - before);
    ps_model_workspace_destroy(&ws);
    ps_model_destroy(&m);
}

typedef struct thread_arg {
    const ps_model *m;
    int id;
    double lp_sum;
    int failures;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    ps_model_workspace *ws = NULL;
    if (ps_model_workspace_create(a->m, &ws) != PS_OK) {
        a->failures++;
        return NULL;
    }
    double th[6], g[6], lp;
    for (int i = 0; i < 2000; i++) {
        for (int k = 0; k < 6; k++)
            th[k] = 0.001 * ((i * 7 + k * 13) % 200) - 0.1;
        if (ps_model_log_density_gradient(a->m, ws, th, &lp, g) != PS_OK)
            a->failures++;
        a->lp_sum += lp;
    }
    ps_model_workspace_destroy(&ws);
    return NULL;
}

static void test_threads(void)
{
    ps_model *m = compile_ok("threads", hier_program, hier_data);
    if (m == NULL)
        return;
    thread_arg serial = {m, 0, 0, 0};
    thread_main(&serial);
    enum { NT = 4 };
    pthread_t t[NT];
    thread_arg args[NT];
    for (int i = 0; i < NT; i++) {
        args[i] = (thread_arg){m, i, 0, 0};
        pthread_create(&t[i], NULL, thread_main, &args[i]);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        CHECK(args[i].failures == 0, "thread %d: %d failed evaluations", i, args[i].failures);
        CHECK(args[i].lp_sum == serial.lp_sum,
              "thread %d: sum of log densities %.17g, serial %.17g", i, args[i].lp_sum,
              serial.lp_sum);
    }
    ps_model_destroy(&m);
}

static void test_allocation_failures(void)
{
    char spath[512], dpath[512];
    stt_write("fault.stan", hier_program, spath, sizeof spath);
    stt_write("fault.json", hier_data, dpath, sizeof dpath);
    long base = ps_fault_alloc_count();
    ps_model *m = NULL;
    CHECK(ps_model_stan_create(spath, dpath, 1, &m) == PS_OK, "fault baseline");
    long total = ps_fault_alloc_count() - base;
    ps_model_destroy(&m);
    int failures_seen = 0;
    for (long n = 1; n <= total; n++) {
        ps_error_clear();
        ps_fault_alloc_after(n);
        ps_status st = ps_model_stan_create(spath, dpath, 1, &m);
        ps_fault_alloc_after(0);
        if (st != PS_OK) {
            failures_seen++;
            CHECK(m == NULL, "a failed construction returns no model");
            CHECK(st == PS_ERR_MEM || st == PS_ERR_IO,
                  "allocation %ld failing gives status %d (%s), expected PS_ERR_MEM", n, st,
                  ps_error_message());
        }
        ps_model_destroy(&m);
    }
    ps_error_clear();
    CHECK(failures_seen > 0, "no allocation failure was observed in %ld allocations", total);
    /* Failures while a fresh workspace grows its tape during the first evaluations. */
    CHECK(ps_model_stan_create(spath, dpath, 1, &m) == PS_OK, "fault model");
    double th[6] = {0.1, -0.3, 0.5, -0.2, 0.7, 0.2}, g[6], lp, out[16];
    int eval_failures = 0;
    for (long n = 1; n <= 40; n++) {
        ps_model_workspace *ws = NULL;
        ps_error_clear();
        ps_fault_alloc_after(n);
        ps_status st = ps_model_workspace_create(m, &ws);
        if (st == PS_OK)
            st = ps_model_log_density_gradient(m, ws, th, &lp, g);
        if (st == PS_OK)
            st = ps_model_constrain(m, ws, th, out);
        ps_fault_alloc_after(0);
        if (st != PS_OK) {
            eval_failures++;
            CHECK(st == PS_ERR_MEM, "allocation %ld failing in an evaluation gives %d (%s)", n, st,
                  ps_error_message());
        } else {
            /* The workspace still works after the failure. */
            CHECK(ps_model_log_density_gradient(m, ws, th, &lp, g) == PS_OK, "evaluation after %ld",
                  n);
        }
        ps_model_workspace_destroy(&ws);
    }
    ps_error_clear();
    ps_model_destroy(&m);
    CHECK(eval_failures > 0, "no allocation failure was observed in evaluations");
    printf("allocation failures: %ld allocations in construction, %d failed cleanly\n", total,
           failures_seen);
}

int main(void)
{
    stt_scratch_create();
    ps_log_set_level(PS_LOG_ERROR);
    test_values();
    test_statements();
    test_slice_assignments();
    test_propto();
    test_transforms();
    test_gradients();
    test_data_errors();
    test_hdf5_data();
    test_program_errors();
    test_runtime_errors();
    test_no_allocation();
    test_threads();
    test_allocation_failures();
    stt_scratch_remove();
    TEST_EXIT();
}
