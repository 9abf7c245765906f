/*
 * Stan type checker: every class of semantic error with its exact line, column and
 * message; the annotations lowering relies on (types, levels, resolved declarations and
 * signatures, promotions); the builtins and distributions of the subset with Stan's
 * vectorised signatures; user-defined functions when enabled.
 *
 * Expected types come from the Stan Functions Reference, not from this checker.
 */
#include "core/core.h"
#include "lang/lang.h"
#include "lang_sexpr.h"
#include "testlib.h"

static ps_stan_program *parse_opts(const char *src, bool user_functions, ps_status *status)
{
    ps_stan_options opts = ps_stan_options_default();
    opts.user_functions = user_functions;
    ps_stan_program *p = NULL;
    ps_error_clear();
    *status = ps_stan_program_parse_opts("t.stan", src, strlen(src), &opts, &p);
    return p;
}

static ps_stan_program *check_ok_opts(int line, const char *src, bool user_functions)
{
    ps_status st;
    ps_stan_program *p = parse_opts(src, user_functions, &st);
    CHECK(st == PS_OK && p != NULL, "line %d: expected the program to check, got:\n%s\nfor\n%s",
          line, ps_error_message(), src);
    ps_error_clear();
    return p;
}

static ps_stan_program *check_ok(int line, const char *src)
{
    return check_ok_opts(line, src, false);
}

static void check_error_opts(int line, const char *src, const char *want, bool user_functions)
{
    ps_status st;
    ps_stan_program *p = parse_opts(src, user_functions, &st);
    const char *msg = ps_error_message();
    size_t n = strcspn(msg, "\n");
    CHECK(st == PS_ERR_MODEL && p == NULL, "line %d: expected a model error, got status %d", line,
          (int)st);
    CHECK(strlen(want) == n && strncmp(msg, want, n) == 0,
          "line %d: error was\n  %.*s\nexpected\n  %s", line, (int)n, msg, want);
    ps_stan_program_destroy(&p);
    ps_error_clear();
}

static void check_error(int line, const char *src, const char *want)
{
    check_error_opts(line, src, want, false);
}

static void test_errors(void)
{
    check_error(__LINE__, "model { y ~ normal(0, 1); }", "t.stan:1:9: error: 'y' is not declared");
    check_error(__LINE__, "data { real sigma; } model { sigmaa ~ normal(0, 1); }",
                "t.stan:1:30: error: 'sigmaa' is not declared; did you mean 'sigma'?");
    check_error(__LINE__, "transformed data { real x = mu; } parameters { real mu; }",
                "t.stan:1:29: error: 'mu' is not declared here: it is a variable of the "
                "'parameters' block, which comes later");
    check_error(__LINE__, "data { int N; real N; }",
                "t.stan:1:20: error: 'N' is already declared (a variable of the 'data' block, "
                "line 1)");
    check_error(__LINE__, "model { for (i in 1:2) { real i; } }",
                "t.stan:1:31: error: 'i' is already declared (a loop variable, line 1)");
    check_error(__LINE__, "model { real z = 1; } generated quantities { real w = z; }",
                "t.stan:1:55: error: 'z' is not declared");
    /* Read-only variables. */
    check_error(__LINE__, "data { real y; } transformed data { y = 1; }",
                "t.stan:1:37: error: cannot assign to 'y': variables of the 'data' block are "
                "read-only");
    check_error(__LINE__, "parameters { real mu; } model { mu = 1; }",
                "t.stan:1:33: error: cannot assign to 'mu': parameters are read-only");
    check_error(__LINE__, "transformed data { real x = 1; } model { x = 2; }",
                "t.stan:1:42: error: cannot assign to 'x' here: variables of the 'transformed "
                "data' block can only be assigned in that block");
    check_error(__LINE__, "model { for (i in 1:3) i = 2; }",
                "t.stan:1:24: error: cannot assign to the loop variable 'i'");
    /* Assignment types and int/real promotion. */
    check_error(__LINE__, "transformed data { real x; vector[3] v; x = v; }",
                "t.stan:1:45: error: cannot assign a value of type vector to 'x', of type real");
    check_error(__LINE__, "transformed data { int n; n = 1.5; }",
                "t.stan:1:31: error: cannot assign a value of type real to 'n', of type int");
    check_error(__LINE__, "transformed data { vector[3] v; v[1] = v; }",
                "t.stan:1:40: error: cannot assign a value of type vector to 'v[...]', of type "
                "real");
    check_error(__LINE__, "transformed data { int n = 1; n += 2.5; }",
                "t.stan:1:36: error: cannot apply '+=' to 'n' (int) and a value of type real: the "
                "result must have the type of 'n'");
    check_error(__LINE__, "transformed data { vector[2] v; v *= v; }",
                "t.stan:1:38: error: cannot apply '*=' to 'v' (vector) and a value of type "
                "vector: the result must have the type of 'v'");
    check_error(__LINE__, "transformed data { real x = [1, 2]; }",
                "t.stan:1:29: error: cannot initialise 'x' of type real with a value of type "
                "row_vector");
    /* Sizes and block types. */
    check_error(__LINE__, "data { real N; vector[N] v; }",
                "t.stan:1:23: error: the size of 'v' must be an int, found real");
    check_error(__LINE__,
                "parameters { real mu; } generated quantities { int K = 2; vector[K] v; }",
                "t.stan:1:66: error: the sizes of variables of the 'generated quantities' block "
                "must be data, but 'K' is a variable of the 'generated quantities' block");
    check_error(__LINE__, "parameters { int n; }",
                "t.stan:1:18: error: parameters cannot be ints: 'n'");
    check_error(__LINE__, "transformed parameters { int n; }",
                "t.stan:1:30: error: transformed parameters cannot be ints: 'n'");
    check_error(__LINE__, "parameters { unit_vector[3] u; }",
                "t.stan:1:29: error: unit_vector is not supported yet");
    /* Constraint types. */
    check_error(__LINE__, "data { vector[3] v; real<lower=v> x; }",
                "t.stan:1:32: error: the lower bound of 'x' must be a real, found vector");
    check_error(__LINE__, "data { int<lower=0.5> n; }",
                "t.stan:1:18: error: the lower bound of 'n' must be an int (the variable is an "
                "int), found real");
    check_error(__LINE__, "data { vector[3] v; matrix[2,2] m; vector<lower=m>[3] w; }",
                "t.stan:1:49: error: the lower bound of 'w' must be a real or a vector like 'w', "
                "found matrix");
    /* Signatures: '~' and density calls list what exists. */
    check_error(__LINE__, "parameters { matrix[2, 2] m; } model { m ~ normal(0, 1); }",
                "t.stan:1:44: error: no signature of normal_lpdf matches (matrix, int, int) (the "
                "left side of '~' and the arguments of 'normal'); available: normal_lpdf(reals | "
                "reals, reals)");
    check_error(__LINE__,
                "data { vector[3] v; matrix[3, 3] m; } model { target += normal_lpdf(v | 0, m); }",
                "t.stan:1:57: error: no signature of normal_lpdf matches (vector, int, matrix); "
                "available: normal_lpdf(reals | reals, reals)");
    check_error(__LINE__, "data { real y; } model { y ~ poisson(3); }",
                "t.stan:1:30: error: no signature of poisson_lpmf matches (real, int) (the left "
                "side of '~' and the arguments of 'poisson'); available: poisson_lpmf(ints | "
                "reals)");
    check_error(__LINE__, "transformed data { vector[2] v; matrix[3, 3] m; vector[2] w = v + m; }",
                "t.stan:1:65: error: operator '+' cannot be applied to (vector, matrix); "
                "available: int + int; real + real; vector + vector; row_vector + row_vector; "
                "matrix + matrix; vector + real; row_vector + real; matrix + real; real + vector; "
                "real + row_vector; real + matrix");
    /* Where densities, target and random numbers may appear. */
    check_error(
        __LINE__,
        "parameters { real mu; } transformed parameters { real x = normal_lupdf(mu | 0, 1); }",
        "t.stan:1:59: error: 'normal_lupdf' can only be used in the model block or in the "
        "body of a function whose name ends in _lpdf or _lpmf; use 'normal_lpdf' here");
    check_error(__LINE__, "transformed parameters { target += 1; }",
                "t.stan:1:26: error: 'target +=' is only allowed in the model block (and in "
                "functions whose names end in _lp)");
    check_error(__LINE__, "parameters { real mu; } generated quantities { mu ~ normal(0, 1); }",
                "t.stan:1:48: error: '~' statements are only allowed in the model block (and in "
                "functions whose names end in _lp)");
    check_error(__LINE__, "model { real x = normal_rng(0, 1); }",
                "t.stan:1:18: error: 'normal_rng' draws random numbers: _rng functions can only "
                "be used in transformed data, generated quantities and functions whose names end "
                "in _rng");
    check_error(__LINE__, "transformed data { real x = target(); }",
                "t.stan:1:29: error: target() can only be used in the model block (and in "
                "functions whose names end in _lp)");
    check_error(__LINE__, "model { target += normal_lpdf(1, 0, 1); }",
                "t.stan:1:34: error: in a call of 'normal_lpdf', the first argument is followed "
                "by '|', not ',': normal_lpdf(y | ...)");
    check_error(__LINE__, "transformed data { real x = exp(1 | 2); }",
                "t.stan:1:29: error: only calls of _lpdf, _lupdf, _lpmf, _lupmf, _lcdf, _lccdf "
                "and _cdf functions separate their first argument with '|'");
    check_error(__LINE__, "parameters { real y; } model { y ~ normal_lpdf(0, 1); }",
                "t.stan:1:36: error: write the distribution without its suffix after '~' (as in "
                "'y ~ normal(mu, sigma)')");
    /* Names of functions and distributions. */
    check_error(__LINE__, "transformed data { real x = expp(1); }",
                "t.stan:1:29: error: unknown function 'expp'; did you mean 'exp'?");
    check_error(__LINE__, "parameters { real mu; } model { mu ~ nromal(0, 1); }",
                "t.stan:1:38: error: unknown distribution 'nromal'; did you mean 'normal'?");
    check_error(__LINE__, "data { int k; } model { target += poisson_lpdf(k | 3); }",
                "t.stan:1:35: error: 'poisson_lpdf' does not exist: poisson is a discrete "
                "distribution, use 'poisson_lpmf'");
    check_error(__LINE__, "model { target += normal_log(1, 0, 1); }",
                "t.stan:1:19: error: 'normal_log' was removed from Stan: use 'normal_lpdf'");
    check_error(__LINE__, "model { increment_log_prob(1); }",
                "t.stan:1:9: error: increment_log_prob() was removed from Stan: use 'target += "
                "...'");
    check_error(__LINE__,
                "data { array[3] real x; } transformed data { matrix[3, 3] K = "
                "gp_exp_quad_cov(x, 1.0, 1.0); }",
                "t.stan:1:63: error: the function 'gp_exp_quad_cov' is not supported yet");
    check_error(__LINE__, "parameters { real y; } model { y ~ skew_normal(0, 1, 2); }",
                "t.stan:1:36: error: the distribution 'skew_normal' is not supported yet");
    check_error(__LINE__, "functions { real f(real x) { return x; } }",
                "t.stan:1:18: error: user-defined functions are not supported yet");
    check_error(__LINE__, "data { real f; } transformed data { real x = f(1); }",
                "t.stan:1:46: error: 'f' is a variable, not a function");
    check_error(__LINE__, "transformed data { real x = exp; }",
                "t.stan:1:29: error: 'exp' is a function: call it as exp(...)");
    check_error(__LINE__, "model { exp(1); }",
                "t.stan:1:9: error: the value of 'exp' is not used: only calls of void functions "
                "can stand alone as statements");
    /* Statements. */
    check_error(__LINE__, "transformed data { vector[2] v; if (v) { } }",
                "t.stan:1:37: error: the condition of 'if' must be an int or a real, found vector");
    check_error(__LINE__, "model { for (i in 1:2.5) { } }",
                "t.stan:1:21: error: the upper bound of a for loop must be an int, found real");
    check_error(__LINE__, "model { for (x in 3) { } }",
                "t.stan:1:19: error: a for loop runs over a range 'a:b', an array, a vector, a "
                "row_vector or a matrix; found int");
    check_error(__LINE__, "model { break; }", "t.stan:1:9: error: 'break' outside of a loop");
    check_error(__LINE__, "model { return; }",
                "t.stan:1:9: error: 'return' is only allowed in the body of a function");
    /* Expressions. */
    check_error(__LINE__, "transformed data { vector[3] v; real x = v[1.5]; }",
                "t.stan:1:44: error: an index must be an int or an array of ints (array[] int), "
                "found real");
    check_error(__LINE__, "transformed data { vector[3] v; real x = v[1, 2]; }",
                "t.stan:1:47: error: too many indices: a value of type vector takes at most 1, "
                "found 2");
    check_error(__LINE__, "transformed data { real x = 1.5 ? 1 : 2; }",
                "t.stan:1:29: error: the condition of 'c ? a : b' must be an int, found real");
    check_error(__LINE__, "transformed data { vector[2] v; real x = 1 ? v : 2; }",
                "t.stan:1:44: error: the branches of 'c ? a : b' have different types: vector and "
                "int");
    check_error(__LINE__, "transformed data { array[2] int a = {1, [1, 2]}; }",
                "t.stan:1:41: error: the elements of an array expression {...} must have one "
                "type, found int and row_vector");
}

static void test_user_function_errors(void)
{
    check_error_opts(__LINE__, "functions { real f(real x) { return [x]; } }",
                     "t.stan:1:37: error: 'f' returns real, but this value has type row_vector",
                     true);
    check_error_opts(__LINE__, "functions { real f(real x) { if (x > 0) return x; } }",
                     "t.stan:1:18: error: 'f' can reach its end without returning a value", true);
    check_error_opts(__LINE__, "functions { void g(real x) { return x; } }",
                     "t.stan:1:37: error: the void function 'g' cannot return a value", true);
    check_error_opts(__LINE__, "functions { real f(real x) { x = 1; return x; } }",
                     "t.stan:1:30: error: cannot assign to the function argument 'x'", true);
    check_error_opts(__LINE__, "functions { real exp(real x) { return x; } }",
                     "t.stan:1:18: error: 'exp' is the name of a builtin function and cannot be "
                     "redefined",
                     true);
    check_error_opts(__LINE__, "functions { real foo_lpdf(int n) { return 0; } }",
                     "t.stan:1:31: error: the first argument of a _lpdf function must be "
                     "real-valued; use _lpmf for ints",
                     true);
    check_error_opts(__LINE__, "functions { real f(real x); }",
                     "t.stan:1:18: error: 'f' is declared but never defined", true);
    check_error_opts(__LINE__,
                     "functions { real f(real x) { return x; } } transformed data { real y = "
                     "f([1, 2]); }",
                     "t.stan:1:72: error: no signature of f matches (row_vector); available: "
                     "f(real)",
                     true);
    check_error_opts(__LINE__, "functions { void g() { } } transformed data { real y = g(); }",
                     "t.stan:1:56: error: 'g' returns nothing (void) and cannot be used as a value",
                     true);
    check_error_opts(__LINE__,
                     "functions { real f(data real x) { return x; } } parameters { real mu; } "
                     "model { target += f(mu); }",
                     "t.stan:1:93: error: argument 1 of 'f' must be data, but this expression "
                     "depends on parameters",
                     true);
    check_error_opts(__LINE__, "functions { real f(real x) { target += x; return x; } }",
                     "t.stan:1:30: error: 'target +=' is only allowed in the model block (and in "
                     "functions whose names end in _lp)",
                     true);
    check_error_opts(__LINE__,
                     "functions { real d_lpdf(real y, real m) { return -y; } } parameters { "
                     "vector[2] v; } model { v ~ d(1); }",
                     "t.stan:1:98: error: no signature of d_lpdf matches (vector, int) (the left "
                     "side of '~' and the arguments of 'd'); available: d_lpdf(real, real)",
                     true);
    check_error_opts(__LINE__,
                     "functions { real f(real x) { return x; } real f(real y) { return y; } }",
                     "t.stan:1:47: error: 'f' is already defined with these argument types (line "
                     "1)",
                     true);
}

/* ---------------------------------------------------------------------------------------
 * Annotations for lowering
 * ------------------------------------------------------------------------------------- */

static bool is_type(const ps_stan_expr *e, ps_stan_base base, unsigned dims)
{
    return e != NULL && e->type.base == base && e->type.dims == dims;
}

static bool visit_count_vars(const ps_stan_expr *e, void *ctx)
{
    if (e->kind == PS_STAN_E_VAR)
        (*(int *)ctx)++;
    return true;
}

static bool visit_all_resolved(const ps_stan_expr *e, void *ctx)
{
    int *bad = ctx;
    if (e->type.base == PS_STAN_UNTYPED)
        (*bad)++;
    if (e->kind == PS_STAN_E_VAR && e->u.var.decl == NULL)
        (*bad)++;
    if (e->kind == PS_STAN_E_CALL && e->u.call.sig < 0 && e->u.call.user == NULL)
        (*bad)++;
    if (e->kind == PS_STAN_E_CALL && e->u.call.sig >= 0) {
        /* The argument types equal what the signature asks for. */
        const ps_stan_sig *s = ps_stan_sig_get(e->u.call.sig);
        if (s == NULL || s->fn != e->u.call.fn || s->n_params != e->u.call.n_args)
            (*bad)++;
        for (size_t i = 0; s && i < e->u.call.n_args && i < s->n_params; i++)
            if (s->params[i].pattern == PS_STAN_P_TYPE &&
                !ps_stan_type_equal(s->params[i].type, e->u.call.args[i]->type))
                (*bad)++;
    }
    return true;
}

static const char *annotated_src =
    "data { int N; vector[N] y; array[N] int k; matrix[N, 2] X; }\n"
    "transformed data { real s = sum(y); }\n"
    "parameters { real mu; real<lower=0> sigma; vector[2] beta; }\n"
    "transformed parameters { vector[N] eta = X * beta + mu; }\n"
    "model {\n"
    "  y ~ normal(eta, sigma);\n"
    "  k ~ poisson_log(eta);\n"
    "  target += normal_lupdf(mu | 0, 1);\n"
    "  target += exp(2);\n"
    "  for (n in 1:N) target += -0.5 * square(y[n] - eta[n]);\n"
    "}\n"
    "generated quantities { real r = normal_rng(mu, 1); array[N] real yrep = normal_rng(eta, "
    "sigma); }\n";

static void test_annotations(void)
{
    ps_stan_program *p = check_ok(__LINE__, annotated_src);
    if (p == NULL)
        return;
    size_t n;
    ps_stan_decl *const *data = ps_stan_program_vars(p, PS_STAN_BLOCK_DATA, &n);
    CHECK(n == 4, "4 data variables, got %zu", n);
    const ps_stan_decl *X = data[3];
    CHECK(strcmp(X->name, "X") == 0 && X->index == 3 && X->block == PS_STAN_BLOCK_DATA &&
              X->origin == PS_STAN_ORIGIN_BLOCK && X->type.base == PS_STAN_MATRIX,
          "X is the fourth data variable, a matrix");
    CHECK(X->elem_sizes[0] && X->elem_sizes[0]->kind == PS_STAN_E_VAR &&
              X->elem_sizes[0]->u.var.decl == data[0],
          "rows of X resolve to N");
    CHECK(X->elem_sizes[1] && X->elem_sizes[1]->kind == PS_STAN_E_INT &&
              X->elem_sizes[1]->u.int_value == 2,
          "cols of X is 2");
    CHECK(data[2]->type.base == PS_STAN_INT && data[2]->type.dims == 1 &&
              data[2]->array_sizes[0]->u.var.decl == data[0],
          "k is array[N] int");
    CHECK(data[0]->level == PS_STAN_LEVEL_DATA && data[1]->level == PS_STAN_LEVEL_DATA,
          "data are DATA");

    ps_stan_stmt *const *td = ps_stan_program_stmts(p, PS_STAN_BLOCK_TDATA, &n);
    const ps_stan_expr *sum = td[0]->u.decl.decl->init;
    CHECK(sum->kind == PS_STAN_E_CALL && sum->u.call.fn == PS_STAN_FN_SUM &&
              is_type(sum, PS_STAN_REAL, 0) && sum->level == PS_STAN_LEVEL_DATA,
          "sum(y) is a real DATA call of SUM");
    CHECK(ps_stan_sig_get(sum->u.call.sig)->params[0].type.base == PS_STAN_VECTOR,
          "sum(y) resolved to sum(vector)");

    ps_stan_decl *const *params = ps_stan_program_vars(p, PS_STAN_BLOCK_PARAMS, &n);
    const ps_stan_decl *sigma = params[1];
    CHECK(sigma->constraint == PS_STAN_C_BOUNDS && sigma->upper == NULL &&
              sigma->lower->kind == PS_STAN_E_PROMOTE && is_type(sigma->lower, PS_STAN_REAL, 0) &&
              sigma->lower->u.promote.arg->kind == PS_STAN_E_INT &&
              sigma->lower->level == PS_STAN_LEVEL_CONST,
          "sigma has lower bound promote(0): real CONST");
    CHECK(sigma->level == PS_STAN_LEVEL_PARAM, "parameters are PARAM");

    ps_stan_decl *const *tp = ps_stan_program_vars(p, PS_STAN_BLOCK_TPARAMS, &n);
    const ps_stan_expr *eta = tp[0]->init;
    CHECK(eta->kind == PS_STAN_E_CALL && eta->u.call.fn == PS_STAN_FN_ADD &&
              eta->u.call.syntax == PS_STAN_SYN_INFIX && is_type(eta, PS_STAN_VECTOR, 0) &&
              eta->level == PS_STAN_LEVEL_PARAM,
          "X * beta + mu is a PARAM vector ADD");
    const ps_stan_sig *add = ps_stan_sig_get(eta->u.call.sig);
    CHECK(add && add->params[0].type.base == PS_STAN_VECTOR &&
              add->params[1].type.base == PS_STAN_REAL,
          "ADD resolved to (vector, real)");
    const ps_stan_expr *mul = eta->u.call.args[0];
    CHECK(mul->u.call.fn == PS_STAN_FN_MULTIPLY && is_type(mul, PS_STAN_VECTOR, 0) &&
              is_type(mul->u.call.args[0], PS_STAN_MATRIX, 0),
          "X * beta is matrix * vector = vector");

    ps_stan_stmt *const *model = ps_stan_program_stmts(p, PS_STAN_BLOCK_MODEL, &n);
    CHECK(n == 5, "5 model statements, got %zu", n);
    const ps_stan_expr *t0 = model[0]->u.tilde.call;
    CHECK(model[0]->kind == PS_STAN_S_TILDE && t0->u.call.fn == PS_STAN_FN_NORMAL_LPDF &&
              t0->u.call.propto && t0->u.call.syntax == PS_STAN_SYN_TILDE && t0->u.call.n_args == 3,
          "y ~ normal resolves to NORMAL_LPDF, propto, 3 arguments");
    CHECK(t0->u.call.args[0]->u.var.decl == data[1] && t0->u.call.args[1]->u.var.decl == tp[0] &&
              t0->u.call.args[2]->u.var.decl == sigma,
          "arguments of y ~ normal resolve to y, eta, sigma");
    CHECK(t0->level == PS_STAN_LEVEL_PARAM && is_type(t0, PS_STAN_REAL, 0),
          "density is real PARAM");
    const ps_stan_expr *t1 = model[1]->u.tilde.call;
    CHECK(t1->u.call.fn == PS_STAN_FN_POISSON_LOG_LPMF &&
              is_type(t1->u.call.args[0], PS_STAN_INT, 1),
          "k ~ poisson_log resolves to POISSON_LOG_LPMF with array[] int");
    const ps_stan_expr *t2 = model[2]->u.target.value;
    CHECK(t2->u.call.fn == PS_STAN_FN_NORMAL_LPDF && t2->u.call.propto && t2->u.call.has_bar &&
              strcmp(t2->u.call.name, "normal_lupdf") == 0,
          "normal_lupdf is NORMAL_LPDF with propto");
    CHECK(t2->u.call.args[1]->kind == PS_STAN_E_PROMOTE &&
              is_type(t2->u.call.args[1], PS_STAN_REAL, 0),
          "int literal argument promoted to real");
    const ps_stan_expr *t3 = model[3]->u.target.value;
    CHECK(t3->u.call.fn == PS_STAN_FN_EXP && t3->level == PS_STAN_LEVEL_CONST &&
              t3->u.call.args[0]->kind == PS_STAN_E_PROMOTE,
          "exp(2) is CONST with a promoted argument");
    const ps_stan_stmt *loop = model[4];
    CHECK(loop->kind == PS_STAN_S_FOR && loop->u.for_range.var->origin == PS_STAN_ORIGIN_LOOP &&
              loop->u.for_range.var->type.base == PS_STAN_INT,
          "for loop variable is an int");
    const ps_stan_expr *sq = loop->u.for_range.body->u.target.value->u.call.args[1];
    const ps_stan_expr *idx = sq->u.call.args[0]->u.call.args[0];
    CHECK(idx->kind == PS_STAN_E_INDEX && is_type(idx, PS_STAN_REAL, 0) &&
              idx->u.index.indices[0].kind == PS_STAN_IDX_SINGLE &&
              idx->u.index.indices[0].lo->u.var.decl == loop->u.for_range.var,
          "y[n] is real, indexed by the loop variable");

    ps_stan_decl *const *gq = ps_stan_program_vars(p, PS_STAN_BLOCK_GQ, &n);
    CHECK(n == 2 && is_type(gq[0]->init, PS_STAN_REAL, 0) &&
              gq[0]->init->u.call.fn == PS_STAN_FN_NORMAL_RNG,
          "normal_rng(mu, 1) is real");
    CHECK(is_type(gq[1]->init, PS_STAN_REAL, 1), "normal_rng(eta, sigma) is array[] real");
    CHECK(gq[0]->level == PS_STAN_LEVEL_PARAM, "generated quantities depend on parameters");

    /* Walkers: every node typed and resolved; counts of variable references. */
    int vars = 0, bad = 0;
    ps_stan_stmt *const *stmts;
    for (int b = 0; b < PS_STAN_N_BLOCKS; b++) {
        stmts = ps_stan_program_stmts(p, (ps_stan_block)b, &n);
        for (size_t i = 0; i < n; i++)
            ps_stan_stmt_walk(stmts[i], NULL, visit_all_resolved, &bad);
    }
    CHECK(bad == 0, "%d unresolved or mistyped nodes", bad);
    stmts = ps_stan_program_stmts(p, PS_STAN_BLOCK_MODEL, &n);
    for (size_t i = 0; i < 4; i++)
        ps_stan_stmt_walk(stmts[i], NULL, visit_count_vars, &vars);
    CHECK(vars == 6, "6 variable references in the first 4 model statements, counted %d", vars);
    CHECK(ps_stan_program_find_var(p, "beta") == params[2], "find_var(beta)");
    CHECK(ps_stan_program_find_var(p, "nothing") == NULL, "find_var of an unknown name");

    /* Lowering reports located errors through the program. */
    ps_error_clear();
    CHECK(ps_stan_program_error_at(p, PS_ERR_MODEL, t1->op_offset, "poisson_log %s", "later") ==
              PS_ERR_MODEL,
          "error_at returns its status");
    CHECK_STR_CONTAINS(ps_error_message(), "t.stan:7:7: error: poisson_log later");
    ps_error_clear();
    ps_stan_program_destroy(&p);
}

/* ---------------------------------------------------------------------------------------
 * Builtins: the type of each expression, from the Stan Functions Reference.
 * ------------------------------------------------------------------------------------- */

static const char *env =
    "data { int n; real a; real b; vector[3] v; row_vector[3] rv; matrix[3, 3] m; "
    "array[3] real ar; array[3] int ai; array[3] vector[3] av; array[2, 3] real ar2; "
    "array[2] row_vector[3] arv; }\n"
    "parameters { real theta; vector[3] pv; }\n";

/* The type (and level) of expr inside print() in the model (or generated quantities). */
static void check_type(int line, const char *expr, const char *want, int want_level, bool gq)
{
    char src[4096];
    snprintf(src, sizeof src, "%s%s { print(%s); }", env, gq ? "generated quantities" : "model",
             expr);
    ps_status st;
    ps_stan_program *p = parse_opts(src, false, &st);
    CHECK(st == PS_OK, "line %d: '%s' did not check: %s", line, expr, ps_error_message());
    ps_error_clear();
    if (p == NULL)
        return;
    size_t n;
    ps_stan_stmt *const *stmts =
        ps_stan_program_stmts(p, gq ? PS_STAN_BLOCK_GQ : PS_STAN_BLOCK_MODEL, &n);
    const ps_stan_expr *e = stmts[0]->u.print.args[0];
    char got[64];
    ps_stan_type_format(e->type, got, sizeof got);
    CHECK(strcmp(got, want) == 0, "line %d: '%s' has type %s, expected %s", line, expr, got, want);
    if (want_level >= 0)
        CHECK((int)e->level == want_level, "line %d: '%s' has level %d, expected %d", line, expr,
              (int)e->level, want_level);
    int bad = 0;
    ps_stan_expr_walk(e, visit_all_resolved, &bad);
    CHECK(bad == 0, "line %d: '%s' has %d unresolved nodes", line, expr, bad);
    ps_stan_program_destroy(&p);
}

#define T(expr, want) check_type(__LINE__, expr, want, -1, false)
#define TL(expr, want, level) check_type(__LINE__, expr, want, PS_STAN_LEVEL_##level, false)
#define TG(expr, want) check_type(__LINE__, expr, want, -1, true)

static void test_builtin_types(void)
{
    /* Reductions. */
    T("sum(v)", "real");
    T("sum(ai)", "int");
    T("sum(m)", "real");
    T("sum(ar)", "real");
    T("mean(ar)", "real");
    T("mean(ai)", "real");
    T("sd(v)", "real");
    T("variance(rv)", "real");
    T("min(ai)", "int");
    T("min(v)", "real");
    T("max(n, n)", "int");
    T("max(a, n)", "real");
    T("max(ar)", "real");
    T("log_sum_exp(a, b)", "real");
    T("log_sum_exp(n, a)", "real");
    T("log_sum_exp(v)", "real");
    T("log_sum_exp(ar)", "real");
    T("log_sum_exp(m)", "real");
    T("log_mix(a, b, a)", "real");
    T("log_mix(v, av)", "real");
    T("log_mix(v, ar)", "real");
    T("log_mix(ar, arv)", "real");
    /* Element-wise functions keep the shape; ints become reals. */
    T("exp(v)", "vector");
    T("exp(ai)", "array[] real");
    T("exp(n)", "real");
    T("log(m)", "matrix");
    T("log1p(av)", "array[] vector");
    T("expm1(a)", "real");
    T("inv_logit(rv)", "row_vector");
    T("logit(ar2)", "array[,] real");
    T("log_inv_logit(a)", "real");
    T("log1m_inv_logit(v)", "vector");
    T("log1m(a)", "real");
    T("square(v)", "vector");
    T("sqrt(n)", "real");
    T("fabs(a)", "real");
    T("abs(n)", "int");
    T("abs(ai)", "array[] int");
    T("abs(v)", "vector");
    T("lgamma(a)", "real");
    T("tgamma(v)", "vector");
    T("inv(a)", "real");
    T("inv_sqrt(v)", "vector");
    T("inv_square(m)", "matrix");
    T("tanh(ar)", "array[] real");
    T("sin(a)", "real");
    T("cos(v)", "vector");
    T("atan(a)", "real");
    T("Phi(v)", "vector");
    T("Phi_approx(a)", "real");
    T("floor(a)", "real");
    T("ceil(v)", "vector");
    T("round(a)", "real");
    T("log10(a)", "real");
    T("log2()", "real");
    /* Binary scalar functions and constants. */
    T("pow(a, n)", "real");
    T("a ^ n", "real");
    T("n ^ n", "real");
    T("fmin(a, n)", "real");
    T("fmax(a, b)", "real");
    T("lbeta(a, b)", "real");
    T("lchoose(a, b)", "real");
    T("fma(a, b, n)", "real");
    T("int_step(a)", "int");
    T("int_step(n)", "int");
    T("step(a)", "real");
    T("is_inf(a)", "int");
    T("is_nan(a)", "int");
    TL("e()", "real", CONST);
    TL("pi()", "real", CONST);
    T("positive_infinity()", "real");
    T("negative_infinity()", "real");
    T("not_a_number()", "real");
    T("machine_precision()", "real");
    TL("target()", "real", PARAM);
    /* Vectors and matrices. */
    T("softmax(v)", "vector");
    T("log_softmax(v)", "vector");
    T("dot_product(v, v)", "real");
    T("dot_product(v, rv)", "real");
    T("dot_product(ar, ar)", "real");
    T("dot_self(v)", "real");
    T("rep_vector(0, n)", "vector");
    T("rep_row_vector(a, 3)", "row_vector");
    T("rep_matrix(0, 2, 3)", "matrix");
    T("rep_matrix(v, 2)", "matrix");
    T("rep_array(1, 3)", "array[] int");
    T("rep_array(v, 2, 3)", "array[,] vector");
    T("rep_array(a, 2, 2, 2)", "array[,,] real");
    T("cumulative_sum(v)", "vector");
    T("cumulative_sum(ai)", "array[] int");
    T("segment(v, 1, 2)", "vector");
    T("segment(av, 1, 2)", "array[] vector");
    T("head(ar, 2)", "array[] real");
    T("tail(rv, 2)", "row_vector");
    T("to_vector(m)", "vector");
    T("to_vector(ai)", "vector");
    T("to_row_vector(ar)", "row_vector");
    T("to_matrix(v, 3, 1)", "matrix");
    T("to_matrix(ar2)", "matrix");
    T("to_array_1d(m)", "array[] real");
    T("to_array_1d(ai)", "array[] int");
    T("to_array_1d(ar2)", "array[] real");
    T("size(ar)", "int");
    T("size(v)", "int");
    T("rows(m)", "int");
    T("cols(rv)", "int");
    T("num_elements(ar2)", "int");
    T("num_elements(m)", "int");
    T("cholesky_decompose(m)", "matrix");
    T("diag_matrix(v)", "matrix");
    T("diag_pre_multiply(v, m)", "matrix");
    T("diag_post_multiply(m, rv)", "matrix");
    T("quad_form(m, v)", "real");
    T("quad_form(m, m)", "matrix");
    T("inverse(m)", "matrix");
    T("determinant(m)", "real");
    T("log_determinant(m)", "real");
    T("crossprod(m)", "matrix");
    T("tcrossprod(m)", "matrix");
    T("columns_dot_product(m, m)", "row_vector");
    T("rows_dot_product(v, v)", "vector");
    /* Operators. */
    T("m * v", "vector");
    T("rv * m", "row_vector");
    T("rv * v", "real");
    T("v * rv", "matrix");
    T("m * m", "matrix");
    T("v'", "row_vector");
    T("rv'", "vector");
    T("m'", "matrix");
    T("v + 1", "vector");
    T("1 - v", "vector");
    T("-m", "matrix");
    T("v .* v", "vector");
    T("v ./ 2", "vector");
    T("2 ./ v", "vector");
    T("v .^ 2", "vector");
    T("m / 2", "matrix");
    T("n / n", "int");
    T("n % 2", "int");
    T("n %/% 2", "int");
    T("a < n", "int");
    T("!a", "int");
    T("a && n", "int");
    /* Indexing and slicing. */
    T("v[ai]", "vector");
    T("v[2:3]", "vector");
    T("m[1]", "row_vector");
    T("m[:, 1]", "vector");
    T("m[, 1]", "vector");
    T("m[1, 2]", "real");
    T("m[ai, 1]", "vector");
    T("m[1, 2:3]", "row_vector");
    T("m[ai, ai]", "matrix");
    T("av[1]", "vector");
    T("av[:, 1]", "array[] real");
    T("av[1, 2]", "real");
    T("av[ai]", "array[] vector");
    T("ar2[1]", "array[] real");
    T("ar2[:, 2]", "array[] real");
    T("ar2[1, 2]", "real");
    T("ar2[:, 2:3]", "array[,] real");
    /* Array and row-vector expressions, the conditional operator. */
    T("{1, 2}", "array[] int");
    T("{1, a}", "array[] real");
    T("{v, v}", "array[] vector");
    T("{{1, 2}, {3, 4}}", "array[,] int");
    T("[1, a]", "row_vector");
    T("[rv, rv]", "matrix");
    T("n ? a : n", "real");
    /* Levels. */
    TL("1 + 2", "int", CONST);
    TL("a + 1", "real", DATA);
    TL("theta * v", "vector", PARAM);
    TL("n > theta", "int", DATA);
    TL("{a, theta}", "array[] real", PARAM);
    TL("pv[n]", "real", PARAM);
    TL("v[n]", "real", DATA);
    /* Cumulative distribution functions and random numbers. */
    T("normal_lcdf(a | 0, 1)", "real");
    T("normal_lccdf(v | 0, 1)", "real");
    T("student_t_lccdf(0 | 3, 0, 10)", "real");
    T("std_normal_lcdf(a)", "real");
    T("poisson_cdf(n | 3)", "real");
    TG("normal_rng(0, 1)", "real");
    TG("normal_rng(v, 1)", "array[] real");
    TG("std_normal_rng()", "real");
    TG("poisson_rng(3)", "int");
    TG("poisson_log_rng(v)", "array[] int");
    TG("bernoulli_logit_rng(a)", "int");
    TG("binomial_rng(ai, 0.5)", "array[] int");
    TG("dirichlet_rng(v)", "vector");
    TG("multi_normal_rng(v, m)", "vector");
    TG("multi_normal_cholesky_rng(av, m)", "array[] vector");
    TG("categorical_rng(v)", "int");
    TG("exponential_rng(a)", "real");
    TG("gamma_rng(a, b)", "real");
    TG("uniform_rng(0, 1)", "real");
    TG("lognormal_rng(a, b)", "real");
    TG("neg_binomial_2_rng(a, b)", "int");
}

/* ---------------------------------------------------------------------------------------
 * Distributions: each as '~' and as _lpdf/_lupdf (or _lpmf/_lupmf), with every shape Stan
 * accepts for its vectorised arguments.
 * ------------------------------------------------------------------------------------- */

static const char *dist_env =
    "data { int n; array[3] int ai; real a; vector[3] v; row_vector[3] rv; array[3] real ar; "
    "matrix[3, 3] m; array[3] vector[3] av; array[3] row_vector[3] arv; }\n"
    "parameters { real theta; vector[3] pv; simplex[3] sv; }\n";

static int dist_cases;

static void check_dist(int line, const char *lhs, const char *dist, const char *suffix,
                       const char *args, bool ok)
{
    char src[2048];
    const char *forms[3];
    char f0[512], f1[512], f2[512];
    snprintf(f0, sizeof f0, "%s ~ %s(%s);", lhs, dist, args);
    snprintf(f1, sizeof f1, "target += %s_l%s(%s%s%s);", dist, suffix, lhs, args[0] ? " | " : "",
             args);
    snprintf(f2, sizeof f2, "target += %s_lu%s(%s%s%s);", dist, suffix, lhs, args[0] ? " | " : "",
             args);
    forms[0] = f0, forms[1] = f1, forms[2] = f2;
    for (int k = 0; k < 3; k++) {
        snprintf(src, sizeof src, "%smodel { %s }", dist_env, forms[k]);
        ps_status st;
        ps_stan_program *p = parse_opts(src, false, &st);
        dist_cases++;
        if (ok)
            CHECK(st == PS_OK, "line %d: '%s' must check: %s", line, forms[k], ps_error_message());
        else
            CHECK(st == PS_ERR_MODEL && strstr(ps_error_message(), "no signature") != NULL,
                  "line %d: '%s' must be rejected for its types, got: %s", line, forms[k],
                  st == PS_OK ? "(accepted)" : ps_error_message());
        ps_error_clear();
        ps_stan_program_destroy(&p);
    }
}

static void test_distributions(void)
{
    /* Continuous: any mix of real, vector, row_vector and 1-D arrays; ints promote. */
    static const char *const reals[] = {"theta", "pv", "rv", "ar", "a", "v", "n", "ai", "1.5"};
    static const struct {
        const char *name;
        int k;
    } cont[] = {{"normal", 2},      {"cauchy", 2},
                {"student_t", 3},   {"lognormal", 2},
                {"gamma", 2},       {"inv_gamma", 2},
                {"exponential", 1}, {"beta", 2},
                {"uniform", 2},     {"double_exponential", 2},
                {"logistic", 2},    {"weibull", 2}};
    size_t nr = sizeof reals / sizeof reals[0];
    for (size_t d = 0; d < sizeof cont / sizeof cont[0]; d++) {
        for (size_t i = 0; i < nr; i++) {
            char args[256] = "";
            for (int j = 0; j < cont[d].k; j++) {
                char part[64];
                snprintf(part, sizeof part, "%s%s", j ? ", " : "", reals[(i + 3 * j + 1) % nr]);
                strcat(args, part);
            }
            check_dist(__LINE__, reals[i], cont[d].name, "pdf", args, true);
        }
        /* A matrix is not one of Stan's "reals". */
        char args[64];
        snprintf(args, sizeof args, "%s",
                 cont[d].k == 1   ? "1"
                 : cont[d].k == 2 ? "1, 2"
                                  : "1, 2, 3");
        check_dist(__LINE__, "m", cont[d].name, "pdf", args, false);
        check_dist(__LINE__, "pv", cont[d].name, "pdf",
                   cont[d].k == 1   ? "m"
                   : cont[d].k == 2 ? "m, 1"
                                    : "m, 1, 1",
                   false);
    }
    check_dist(__LINE__, "pv", "std_normal", "pdf", "", true);
    check_dist(__LINE__, "theta", "std_normal", "pdf", "", true);
    check_dist(__LINE__, "ar", "std_normal", "pdf", "", true);
    check_dist(__LINE__, "m", "std_normal", "pdf", "", false);

    /* Discrete: ints on the left; reals (real, vector, array) for the parameters. */
    static const char *const ints[] = {"n", "ai"};
    static const char *const params[] = {"theta", "pv", "ar", "a", "0.3", "rv", "n"};
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < sizeof params / sizeof params[0]; j++) {
            check_dist(__LINE__, ints[i], "bernoulli", "pmf", params[j], true);
            check_dist(__LINE__, ints[i], "bernoulli_logit", "pmf", params[j], true);
            check_dist(__LINE__, ints[i], "poisson", "pmf", params[j], true);
            check_dist(__LINE__, ints[i], "poisson_log", "pmf", params[j], true);
            char two[128];
            snprintf(two, sizeof two, "%s, %s", params[j], params[(j + 2) % 7]);
            check_dist(__LINE__, ints[i], "neg_binomial_2", "pmf", two, true);
            snprintf(two, sizeof two, "%s, %s", ints[1 - i], params[j]);
            check_dist(__LINE__, ints[i], "binomial", "pmf", two, true);
            check_dist(__LINE__, ints[i], "binomial_logit", "pmf", two, true);
        }
    }
    check_dist(__LINE__, "a", "poisson", "pmf", "3", false);
    check_dist(__LINE__, "v", "bernoulli", "pmf", "0.5", false);
    check_dist(__LINE__, "ai", "binomial", "pmf", "ar, 0.5", false);
    check_dist(__LINE__, "n", "categorical", "pmf", "sv", true);
    check_dist(__LINE__, "ai", "categorical_logit", "pmf", "pv", true);

    /* Multivariate. */
    check_dist(__LINE__, "sv", "dirichlet", "pdf", "v", true);
    check_dist(__LINE__, "av", "dirichlet", "pdf", "av", true);
    check_dist(__LINE__, "sv", "dirichlet", "pdf", "m", false);
    const char *mvn[] = {"multi_normal", "multi_normal_cholesky"};
    for (int k = 0; k < 2; k++) {
        check_dist(__LINE__, "pv", mvn[k], "pdf", "v, m", true);
        check_dist(__LINE__, "av", mvn[k], "pdf", "pv, m", true);
        check_dist(__LINE__, "av", mvn[k], "pdf", "av, m", true);
        check_dist(__LINE__, "rv", mvn[k], "pdf", "arv, m", true);
        check_dist(__LINE__, "pv", mvn[k], "pdf", "v, v", false);
        check_dist(__LINE__, "ar", mvn[k], "pdf", "v, m", false);
    }
    /* Generalised linear models. */
    check_dist(__LINE__, "ai", "bernoulli_logit_glm", "pmf", "m, theta, pv", true);
    check_dist(__LINE__, "ai", "bernoulli_logit_glm", "pmf", "m, pv, pv", true);
    check_dist(__LINE__, "n", "bernoulli_logit_glm", "pmf", "rv, 0, pv", true);
    check_dist(__LINE__, "ai", "poisson_log_glm", "pmf", "m, theta, pv", true);
    check_dist(__LINE__, "v", "normal_id_glm", "pdf", "m, theta, pv, a", true);
    check_dist(__LINE__, "v", "normal_id_glm", "pdf", "m, pv, pv, v", true);
    check_dist(__LINE__, "a", "normal_id_glm", "pdf", "rv, theta, pv, 1", true);
    check_dist(__LINE__, "ar", "normal_id_glm", "pdf", "m, theta, pv, a", false);
    check_dist(__LINE__, "ai", "poisson_log_glm", "pmf", "m, theta, ar", false);
    printf("%d distribution statements checked\n", dist_cases);
}

/* ---------------------------------------------------------------------------------------
 * User-defined functions (checked when enabled).
 * ------------------------------------------------------------------------------------- */

static void test_user_functions(void)
{
    const char *src = "functions {\n"
                      "  real fact(int n);\n"
                      "  real fact(int n) { if (n <= 1) return 1; return n * fact(n - 1); }\n"
                      "  real twice(real x) { return 2 * x; }\n"
                      "  vector twice(vector x) { return 2 * x; }\n"
                      "  real mydist_lpdf(real y, real mu) { return normal_lupdf(y | mu, 1); }\n"
                      "  real addlp_lp(real x) { target += x; return x; }\n"
                      "  real draw_rng(real mu) { return normal_rng(mu, 1); }\n"
                      "  void say(data real x) { print(\"x = \", x); }\n"
                      "}\n"
                      "data { real d; }\n"
                      "transformed data { real t = draw_rng(d); say(d); }\n"
                      "parameters { real mu; }\n"
                      "transformed parameters { real u = addlp_lp(mu); }\n"
                      "model {\n"
                      "  mu ~ mydist(0);\n"
                      "  target += mydist_lupdf(mu | 1);\n"
                      "  target += twice(mu) + fact(3);\n"
                      "}\n"
                      "generated quantities { vector[2] w = twice([1, 2]'); }\n";
    ps_stan_program *p = check_ok_opts(__LINE__, src, true);
    if (p == NULL)
        return;
    CHECK(ps_stan_program_n_functions(p) == 8, "8 function entries");
    const ps_stan_fundef *decl = ps_stan_program_function(p, 0);
    const ps_stan_fundef *def = ps_stan_program_function(p, 1);
    CHECK(decl->body == NULL && decl->definition == def,
          "forward declaration links its definition");
    size_t n;
    ps_stan_stmt *const *model = ps_stan_program_stmts(p, PS_STAN_BLOCK_MODEL, &n);
    const ps_stan_expr *tilde = model[0]->u.tilde.call;
    CHECK(tilde->u.call.fn == PS_STAN_FN_USER &&
              tilde->u.call.user == ps_stan_program_function(p, 4) && tilde->u.call.propto &&
              tilde->u.call.args[1]->kind == PS_STAN_E_PROMOTE,
          "mu ~ mydist(0) calls mydist_lpdf with a promoted 0");
    const ps_stan_expr *sum = model[2]->u.target.value;
    const ps_stan_expr *tw = sum->u.call.args[0], *fa = sum->u.call.args[1];
    CHECK(tw->u.call.user == ps_stan_program_function(p, 2) && is_type(tw, PS_STAN_REAL, 0),
          "twice(mu) resolves to twice(real)");
    CHECK(fa->u.call.user == def && is_type(fa, PS_STAN_REAL, 0) &&
              fa->level == PS_STAN_LEVEL_CONST,
          "fact(3) resolves to the definition, CONST");
    ps_stan_decl *const *gq = ps_stan_program_vars(p, PS_STAN_BLOCK_GQ, &n);
    CHECK(gq[0]->init->u.call.user == ps_stan_program_function(p, 3) &&
              is_type(gq[0]->init, PS_STAN_VECTOR, 0),
          "twice(vector) resolves to the vector overload");
    const ps_stan_decl *arg = ps_stan_program_function(p, 7)->args[0];
    CHECK(arg->data_only && arg->level == PS_STAN_LEVEL_DATA && arg->origin == PS_STAN_ORIGIN_ARG,
          "data argument");
    CHECK(ps_stan_program_function(p, 2)->args[0]->level == PS_STAN_LEVEL_PARAM,
          "real arguments are PARAM");
    ps_stan_program_destroy(&p);
}

int main(void)
{
    test_errors();
    test_user_function_errors();
    test_annotations();
    test_builtin_types();
    test_distributions();
    test_user_functions();
    TEST_EXIT();
}
