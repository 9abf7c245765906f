/*
 * Stan parser: operator precedence and associativity (Stan Reference Manual, "Operator
 * precedence and associativity"), statements and declarations through an s-expression
 * printer, and every class of lexical and syntax error with its exact line, column and
 * message.
 */
#include "core/core.h"
#include "lang/lang.h"
#include "lang_sexpr.h"
#include "testlib.h"

static ps_stan_program *parse_only(const char *src)
{
    ps_stan_options opts = ps_stan_options_default();
    opts.check = false;
    ps_stan_program *p = NULL;
    ps_error_clear();
    ps_status st = ps_stan_program_parse_opts("t.stan", src, strlen(src), &opts, &p);
    if (st != PS_OK) {
        fprintf(stderr, "unexpected parse error for:\n%s\n%s\n", src, ps_error_message());
        ps_error_clear();
    }
    return p;
}

/* The expression inside "model { print(EXPR); }" as an s-expression. */
static void check_expr(int line, const char *expr, const char *want)
{
    char src[4096];
    snprintf(src, sizeof src, "model { print(%s); }", expr);
    ps_stan_program *p = parse_only(src);
    CHECK(p != NULL, "line %d: '%s' did not parse", line, expr);
    if (p == NULL)
        return;
    size_t n;
    ps_stan_stmt *const *stmts = ps_stan_program_stmts(p, PS_STAN_BLOCK_MODEL, &n);
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    if (n == 1 && stmts[0]->kind == PS_STAN_S_PRINT && stmts[0]->u.print.n == 1)
        sexpr_expr(&sb, stmts[0]->u.print.args[0]);
    CHECK(strcmp(ps_strbuf_str(&sb), want) == 0, "line %d: '%s' parsed as %s, expected %s", line,
          expr, ps_strbuf_str(&sb), want);
    ps_strbuf_fini(&sb);
    ps_stan_program_destroy(&p);
}

/* The statements of a block given whole ("model { ... }") as s-expressions. */
static void check_block(int line, const char *src, ps_stan_block block, const char *want)
{
    ps_stan_program *p = parse_only(src);
    CHECK(p != NULL, "line %d: program did not parse", line);
    if (p == NULL)
        return;
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    sexpr_block(&sb, p, block);
    CHECK(strcmp(ps_strbuf_str(&sb), want) == 0, "line %d: parsed as\n  %s\nexpected\n  %s", line,
          ps_strbuf_str(&sb), want);
    ps_strbuf_fini(&sb);
    ps_stan_program_destroy(&p);
}

/* The first line of the error message for src must be want. */
static void check_error(int line, const char *src, const char *want)
{
    ps_stan_options opts = ps_stan_options_default();
    opts.check = false;
    ps_stan_program *p = NULL;
    ps_error_clear();
    ps_status st = ps_stan_program_parse_opts("t.stan", src, strlen(src), &opts, &p);
    const char *msg = ps_error_message();
    size_t n = strcspn(msg, "\n");
    CHECK(st == PS_ERR_MODEL && p == NULL, "line %d: expected a model error, got status %d", line,
          (int)st);
    CHECK(strlen(want) == n && strncmp(msg, want, n) == 0,
          "line %d: error was\n  %.*s\nexpected\n  %s", line, (int)n, msg, want);
    ps_stan_program_destroy(&p);
    ps_error_clear();
}

static void test_precedence(void)
{
    /* Additive and multiplicative, left associative. */
    check_expr(__LINE__, "a + b * c", "(+ a (* b c))");
    check_expr(__LINE__, "a * b + c", "(+ (* a b) c)");
    check_expr(__LINE__, "a - b - c", "(- (- a b) c)");
    check_expr(__LINE__, "a / b / c", "(/ (/ a b) c)");
    check_expr(__LINE__, "a - b + c", "(+ (- a b) c)");
    check_expr(__LINE__, "a % b * c", "(* (% a b) c)");
    check_expr(__LINE__, "a .* b + c", "(+ (.* a b) c)");
    check_expr(__LINE__, "a ./ b .* c", "(.* (./ a b) c)");
    check_expr(__LINE__, "(a + b) * c", "(* (+ a b) c)");
    /* %/% binds tighter than * (Stan's precedence 3 vs 4). */
    check_expr(__LINE__, "a %/% b * c", "(* (%/% a b) c)");
    check_expr(__LINE__, "a * b %/% c", "(* a (%/% b c))");
    /* Exponentiation: right associative, tighter than prefix minus. */
    check_expr(__LINE__, "a ^ b ^ c", "(^ a (^ b c))");
    check_expr(__LINE__, "-a ^ b", "(- (^ a b))");
    check_expr(__LINE__, "a ^ -b", "(^ a (- b))");
    check_expr(__LINE__, "-a * b", "(* (- a) b)");
    check_expr(__LINE__, "a .^ b ^ c", "(.^ a (^ b c))");
    check_expr(__LINE__, "2 * -3", "(* 2 (- 3))");
    check_expr(__LINE__, "a - -b", "(- a (- b))");
    check_expr(__LINE__, "!!a", "(! (! a))");
    check_expr(__LINE__, "+a", "(+ a)");
    /* Logic and comparison. */
    check_expr(__LINE__, "!a && b", "(&& (! a) b)");
    check_expr(__LINE__, "a || b && c", "(|| a (&& b c))");
    check_expr(__LINE__, "a && b || c", "(|| (&& a b) c)");
    check_expr(__LINE__, "a == b < c", "(== a (< b c))");
    check_expr(__LINE__, "a != b == c", "(== (!= a b) c)");
    check_expr(__LINE__, "a <= b >= c", "(>= (<= a b) c)");
    check_expr(__LINE__, "a < b + c", "(< a (+ b c))");
    check_expr(__LINE__, "a > b || c < d", "(|| (> a b) (< c d))");
    /* The conditional operator: lowest, right associative. */
    check_expr(__LINE__, "a ? b : c ? d : e", "(? a b (? c d e))");
    check_expr(__LINE__, "a || b ? c : d", "(? (|| a b) c d)");
    check_expr(__LINE__, "a ? b + 1 : c", "(? a (+ b 1) c)");
    /* Postfix transpose and indexing bind tightest. */
    check_expr(__LINE__, "a' * b", "(* (' a) b)");
    check_expr(__LINE__, "a * b'", "(* a (' b))");
    check_expr(__LINE__, "-a'", "(- (' a))");
    check_expr(__LINE__, "a ^ b'", "(^ a (' b))");
    check_expr(__LINE__, "x[1]'", "(' (index x 1))");
    check_expr(__LINE__, "x'[1]", "(index (' x) 1)");
    check_expr(__LINE__, "a[1][2]", "(index (index a 1) 2)");
    check_expr(__LINE__, "-a[1]", "(- (index a 1))");
    /* Indices and slices. */
    check_expr(__LINE__, "a[i, j:k, :, :m, n:]", "(index a i (: j k) : (: _ m) (: n _))");
    check_expr(__LINE__, "a[, 1]", "(index a : 1)");
    check_expr(__LINE__, "a[1, ]", "(index a 1 :)");
    check_expr(__LINE__, "a[ : ]", "(index a :)");
    check_expr(__LINE__, "a[c ? 1 : 2]", "(index a (? c 1 2))");
    check_expr(__LINE__, "a[i + 1 : n - 1]", "(index a (: (+ i 1) (- n 1)))");
    /* Calls, literals, array and row-vector expressions. */
    check_expr(__LINE__, "f(x | y, z)", "(f x | y z)");
    check_expr(__LINE__, "f()", "(f)");
    check_expr(__LINE__, "f(g(x), 2)", "(f (g x) 2)");
    check_expr(__LINE__, "{1, 2.5}", "({} 1 2.5)");
    check_expr(__LINE__, "[a, b]'", "(' ([] a b))");
    check_expr(__LINE__, "[[1, 2], [3, 4]]", "([] ([] 1 2) ([] 3 4))");
    check_expr(__LINE__, "1e-10 + .5 + 1. + 5E2", "(+ (+ (+ 1e-10 0.5) 1) 500)");
    check_expr(__LINE__, "target()", "(target)");
}

static void test_statements(void)
{
    check_block(__LINE__, "model { for (i in 1:N) { y[i] ~ normal(mu, 1); } while (x) x -= 1; }",
                PS_STAN_BLOCK_MODEL,
                "(for i 1 N (block (~ (index y i) (normal mu 1)))) (while x (-= x 1))");
    check_block(__LINE__, "model { if (a) b = 1; else if (c) b = 2; else { b = 3; } ; }",
                PS_STAN_BLOCK_MODEL, "(if a (= b 1) (if c (= b 2) (block (= b 3)))) (empty)");
    check_block(__LINE__, "model { for (x in xs) { if (x > 1) break; continue; } target += f(1); }",
                PS_STAN_BLOCK_MODEL,
                "(foreach x xs (block (if (> x 1) (break)) (continue))) (target+= (f 1))");
    check_block(__LINE__,
                "model { print(\"x = \", x); reject(\"bad\"); fatal_error(\"worse\", 1); foo(); }",
                PS_STAN_BLOCK_MODEL,
                "(print \"x = \" x) (reject \"bad\") (fatal_error \"worse\" 1) (foo)");
    check_block(__LINE__, "model { a *= 2; a /= 2; a .*= b; a ./= b; a[1, 2:3] += c; }",
                PS_STAN_BLOCK_MODEL,
                "(*= a 2) (/= a 2) (.*= a b) (./= a b) (+= (index a 1 (: 2 3)) c)");
    check_block(__LINE__, "model { profile(\"lik\") { target += 1; } }", PS_STAN_BLOCK_MODEL,
                "(profile \"lik\" (target+= 1))");
    /* Declarations with sizes and constraints. */
    check_block(__LINE__,
                "data { int<lower=0> N; array[N, 2] real<lower=-1, upper=1> y; "
                "vector<offset=m, multiplier=s>[N] v; matrix[N, K] X; }",
                PS_STAN_BLOCK_DATA,
                "(decl N int (lower 0)) (decl y array[,] real (lower (- 1)) (upper 1) (sizes N 2)) "
                "(decl v vector (offset m) (multiplier s) (sizes N)) (decl X matrix (sizes N K))");
    check_block(__LINE__,
                "parameters { simplex[K] t; ordered[K] o; positive_ordered[K] po; "
                "cholesky_factor_corr[K] L; cholesky_factor_cov[M, N] C; cov_matrix[K] S; "
                "corr_matrix[K] R; array[2] vector<lower=0>[K] av; }",
                PS_STAN_BLOCK_PARAMS,
                "(decl t vector simplex (sizes K)) (decl o vector ordered (sizes K)) "
                "(decl po vector positive_ordered (sizes K)) "
                "(decl L matrix cholesky_factor_corr (sizes K K)) "
                "(decl C matrix cholesky_factor_cov (sizes M N)) "
                "(decl S matrix cov_matrix (sizes K K)) (decl R matrix corr_matrix (sizes K K)) "
                "(decl av array[] vector (lower 0) (sizes 2 K))");
    /* Bounds are parsed without comparisons, so '>' closes them. */
    check_block(__LINE__, "data { real<lower=a - 1, upper=(b > c)> x; }", PS_STAN_BLOCK_DATA,
                "(decl x real (lower (- a 1)) (upper (> b c)))");
    check_block(__LINE__, "transformed data { real x = 1; x = x + 1; }", PS_STAN_BLOCK_TDATA,
                "(decl x real = 1) (= x (+ x 1))");
    /* Comments of both kinds. */
    check_block(__LINE__, "model { // one\n /* two\n lines */ x = 1; }", PS_STAN_BLOCK_MODEL,
                "(= x 1)");
}

static void test_program_structure(void)
{
    ps_stan_program *p =
        parse_only("functions { real f(data real x, array[] vector y); "
                   "real f(data real x, array[] vector y) { return x; } "
                   "void g() { } }\n"
                   "data { int N; } transformed data { } parameters { real mu; }"
                   " transformed parameters { } model { } generated quantities { }");
    CHECK(p != NULL, "program with all blocks");
    if (p == NULL)
        return;
    for (int b = 0; b < PS_STAN_N_BLOCKS; b++)
        CHECK(ps_stan_program_has_block(p, (ps_stan_block)b), "block %d present", b);
    CHECK(ps_stan_program_n_functions(p) == 3, "3 function entries, got %zu",
          ps_stan_program_n_functions(p));
    const ps_stan_fundef *f = ps_stan_program_function(p, 1);
    CHECK(f && strcmp(f->name, "f") == 0 && f->n_args == 2 && f->body != NULL, "definition of f");
    CHECK(f && f->args[0]->data_only && f->args[0]->type.base == PS_STAN_REAL, "data real x");
    CHECK(f && f->args[1]->type.base == PS_STAN_VECTOR && f->args[1]->type.dims == 1,
          "array[] vector y");
    CHECK(ps_stan_program_function(p, 0)->body == NULL, "forward declaration has no body");
    CHECK(ps_stan_program_function(p, 2)->ret.base == PS_STAN_VOID, "void g");
    size_t n;
    ps_stan_decl *const *vars = ps_stan_program_vars(p, PS_STAN_BLOCK_PARAMS, &n);
    CHECK(n == 1 && strcmp(vars[0]->name, "mu") == 0 && vars[0]->index == 0, "parameter mu");
    ps_stan_program_destroy(&p);
    CHECK(p == NULL, "destroy sets NULL");
    ps_stan_program_destroy(&p);
    ps_stan_program_destroy(NULL);

    /* An empty program is a valid program. */
    p = parse_only("");
    CHECK(p != NULL, "empty program");
    ps_stan_program_destroy(&p);
}

static void test_syntax_errors(void)
{
    /* The example of the brief: a missing ';' at the end of a line points after 'y'. */
    check_error(__LINE__, "data {\n  real y\n  real z;\n}",
                "t.stan:2:9: error: expected ';' after the declaration of 'y', found 'real'");
    /* On the same line, the caret is at what came. */
    check_error(__LINE__, "data { real y real z; }",
                "t.stan:1:15: error: expected ';' after the declaration of 'y', found 'real'");
    check_error(__LINE__, "model {\n  /* never closed\n}",
                "t.stan:2:3: error: unterminated comment: '/*' has no matching '*/'");
    check_error(__LINE__, "#include \"x.stan\"\nmodel { }",
                "t.stan:1:1: error: #include is not supported yet: paste the included file into "
                "the program");
    check_error(__LINE__, "model { # old comment\n }",
                "t.stan:1:9: error: '#' comments are no longer part of Stan: use '//'");
    check_error(__LINE__, "model { x = 1 @ 2; }", "t.stan:1:15: error: unexpected character '@'");
    check_error(__LINE__, "model { \xc3\xa9 = 1; }",
                "t.stan:1:9: error: unexpected non-ASCII character: Stan allows them only in "
                "comments and strings");
    check_error(__LINE__, "model { x = 1;\x01 }",
                "t.stan:1:15: error: unexpected control character (byte 0x01)");
    check_error(__LINE__, "transformed data { int n = 2147483648; }",
                "t.stan:1:28: error: integer literal '2147483648' is too large: Stan's int holds "
                "at most 2147483647 (write it as a real, e.g. '2147483648.0')");
    check_error(__LINE__, "transformed data { real x = 1e; }",
                "t.stan:1:29: error: malformed number: the exponent of '1e' has no digits");
    check_error(__LINE__, "transformed data { real x = 2.5i; }",
                "t.stan:1:29: error: imaginary numbers (complex values) are not supported yet");
    check_error(__LINE__, "model { print(\"abc); }",
                "t.stan:1:15: error: unterminated string: '\"' has no closing '\"' on the same "
                "line");
    check_error(__LINE__, "model { }\ndata { }",
                "t.stan:2:1: error: the 'data' block must come before the 'model' block");
    check_error(__LINE__, "model { } model { }",
                "t.stan:1:11: error: the program has two 'model' blocks");
    check_error(__LINE__, "modle { }",
                "t.stan:1:1: error: expected a program block (functions, data, transformed data, "
                "parameters, transformed parameters, model or generated quantities), found "
                "'modle'");
    check_error(__LINE__, "transformed model { }",
                "t.stan:1:13: error: expected 'data' or 'parameters' after 'transformed', found "
                "'model'");
    check_error(__LINE__, "generated { }",
                "t.stan:1:11: error: expected 'quantities' after 'generated', found '{'");
    check_error(__LINE__, "data { x = 1; }",
                "t.stan:1:8: error: only variable declarations are allowed in the 'data' block, "
                "found 'x'");
    check_error(__LINE__, "data { int N; real y[N]; }",
                "t.stan:1:21: error: 'real y[...]' is the old array syntax, which Stan no longer "
                "accepts: write 'array[...] real y'");
    check_error(__LINE__, "functions { real f(real[] x) { return 1; } }",
                "t.stan:1:24: error: 'real[]' is the old array syntax, which Stan no longer "
                "accepts: write 'array[] real'");
    check_error(__LINE__, "model { y ~ normal(, 1); }",
                "t.stan:1:20: error: expected an expression, found ','");
    check_error(__LINE__, "transformed data { real x = (1 + 2; }",
                "t.stan:1:35: error: expected ')' to close the '(' of line 1, found ';'");
    check_error(__LINE__, "model {\n  x = 1;\n",
                "t.stan:2:9: error: expected '}' to close the 'model' block (opened at line 1), "
                "found the end of the program");
    check_error(__LINE__, "model { { x = 1; }",
                "t.stan:1:19: error: expected '}' to close the 'model' block (opened at line 1), "
                "found the end of the program");
    check_error(__LINE__, "model { real<lower=0> x; }",
                "t.stan:1:13: error: local variables cannot have constraints");
    check_error(__LINE__, "model { simplex[3] x; }",
                "t.stan:1:9: error: a local variable cannot be a 'simplex': constrained types are "
                "only for variables of the data, transformed data, parameters, transformed "
                "parameters and generated quantities blocks");
    check_error(__LINE__, "data { complex z; }",
                "t.stan:1:8: error: complex numbers ('complex') are not supported yet");
    check_error(__LINE__, "data { tuple(real, int) x; }",
                "t.stan:1:8: error: tuples are not supported yet");
    check_error(__LINE__, "transformed data { real x = (1, 2); }",
                "t.stan:1:31: error: tuples are not supported yet");
    check_error(__LINE__, "model { y ~ normal(0, 1) T[0, ]; }",
                "t.stan:1:26: error: truncation T[...] is not supported yet");
    check_error(__LINE__, "model { x = A \\ b; }",
                "t.stan:1:15: error: left division '\\' is not supported yet: use "
                "mdivide_left_tri_low or inverse()");
    check_error(__LINE__, "model { x <- 1; }",
                "t.stan:1:11: error: '<-' is no longer part of Stan: assign with '='");
    check_error(__LINE__, "model { x + 1; }",
                "t.stan:1:9: error: this expression is not a statement: only a call of a void "
                "function can stand alone (did you mean '=' or 'target +='?)");
    check_error(__LINE__, "model { 1 = x; }",
                "t.stan:1:9: error: the left side of '=' must be a variable, possibly indexed");
    check_error(__LINE__, "model { x y; }",
                "t.stan:1:11: error: expected '=', '~' or ';' after the expression, found 'y'");
    check_error(__LINE__, "data { real for; }",
                "t.stan:1:13: error: 'for' is a reserved word and cannot be used as the name of a "
                "variable");
    check_error(__LINE__, "data { real x__; }",
                "t.stan:1:13: error: names ending in '__' are reserved: 'x__'");
    check_error(__LINE__, "data { real x = 1; }",
                "t.stan:1:15: error: variables of the 'data' block cannot be given a value");
    check_error(__LINE__, "data { real<lowr=0> x; }",
                "t.stan:1:13: error: expected 'lower', 'upper', 'offset' or 'multiplier' in the "
                "constraint of a 'real', found 'lowr'");
    check_error(__LINE__, "data { int<offset=1> n; }",
                "t.stan:1:12: error: an int cannot have an offset or multiplier");
    check_error(__LINE__, "data { real<lower=0, offset=1> x; }",
                "t.stan:1:22: error: a variable cannot have both bounds (lower, upper) and an "
                "affine transform (offset, multiplier)");
    check_error(__LINE__, "data { real<upper=1, upper=2> x; }",
                "t.stan:1:22: error: 'upper' is given twice");
    check_error(__LINE__, "data { simplex<lower=0>[3] x; }",
                "t.stan:1:15: error: a 'simplex' cannot have bounds");
    check_error(__LINE__, "data { matrix[3] m; }",
                "t.stan:1:16: error: expected ',' and the number of columns of the 'matrix', "
                "found ']'");
    check_error(__LINE__, "data { vector[3, 4] v; }",
                "t.stan:1:16: error: a 'vector' takes 1 size");
    check_error(__LINE__, "data { array[N] array[M] real x; }",
                "t.stan:1:17: error: write 'array[N, M] T' rather than nesting 'array'");
    check_error(__LINE__, "data { array[1,2,3,4,5,6,7] real x; }",
                "t.stan:1:14: error: arrays with more than 6 dimensions are not supported");
    check_error(__LINE__, "model { x = f(a, b | c); }",
                "t.stan:1:20: error: '|' may only follow the first argument of a call");
    check_error(__LINE__, "model { else x = 1; }",
                "t.stan:1:9: error: 'else' without a matching 'if'");
    check_error(__LINE__, "model { target = 1; }",
                "t.stan:1:16: error: expected '+=' after 'target', found '='");
    check_error(__LINE__, "model { x = target; }",
                "t.stan:1:13: error: 'target' can only be used as 'target += ...' or 'target()'");
    check_error(__LINE__, "model { x = {}; }",
                "t.stan:1:13: error: an array expression '{...}' needs at least one element");
    check_error(__LINE__, "model { x = a[]; }",
                "t.stan:1:15: error: expected an index in '[...]', found ']'");
    check_error(__LINE__, "model { for (i in 1:N {} }",
                "t.stan:1:23: error: expected ')' to close 'for (', found '{'");
    check_error(__LINE__, "model { for (i on 1:N) { } }",
                "t.stan:1:16: error: expected 'in' after the loop variable 'i', found 'on'");
    check_error(__LINE__, "model { y ~ 3; }",
                "t.stan:1:13: error: expected the name of a distribution after '~', found '3'");
    check_error(__LINE__, "model { x = real; }",
                "t.stan:1:13: error: expected an expression, found 'real' (a reserved word)");
    check_error(__LINE__, "model { print(); }",
                "t.stan:1:15: error: 'print' needs at least one argument");
    check_error(__LINE__, "model { x = \"s\"; }",
                "t.stan:1:13: error: a string can only be an argument of print, reject or "
                "fatal_error");
    check_error(__LINE__, "functions { real f(real x) }",
                "t.stan:1:28: error: expected '{' (the body of the function) or ';' after the "
                "arguments of 'f', found '}'");
    check_error(__LINE__, "functions { x = 1; }",
                "t.stan:1:13: error: expected a function definition (a return type such as 'real' "
                "or 'void') in the functions block, found 'x'");
    check_error(__LINE__, "data { unit } ",
                "t.stan:1:8: error: only variable declarations are allowed in the 'data' block, "
                "found 'unit'");
    check_error(__LINE__, "data { sum_to_zero_vector[3] z; }",
                "t.stan:1:8: error: 'sum_to_zero_vector' is not supported yet");

    /* The whole message: location, line and caret. */
    ps_stan_program *p = NULL;
    const char *src = "parameters {\n  real mu\n}\n";
    ps_error_clear();
    ps_stan_program_parse("m.stan", src, strlen(src), &p);
    const char *want = "m.stan:2:10: error: expected ';' after the declaration of 'mu', found "
                       "'}'\n      real mu\n             ^";
    CHECK(strcmp(ps_error_message(), want) == 0, "full message was\n%s\nexpected\n%s",
          ps_error_message(), want);
    ps_error_clear();
}

/* Nesting and depth limits: errors, never a crash. */
static void test_limits(void)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    /* 300 parentheses: each adds two levels (the parenthesis and the expression inside);
     * the statement and the initial value take two. The 129th '(' is where the 257th
     * level would start. */
    ps_strbuf_puts(&sb, "transformed data { real x = ");
    for (int i = 0; i < 300; i++)
        ps_strbuf_putc(&sb, '(');
    ps_strbuf_putc(&sb, '1');
    for (int i = 0; i < 300; i++)
        ps_strbuf_putc(&sb, ')');
    ps_strbuf_puts(&sb, "; }");
    check_error(__LINE__, ps_strbuf_str(&sb),
                "t.stan:1:157: error: the program is nested too deeply here (more than 256 levels "
                "of parentheses, brackets, operators or statements)");
    /* A sum of 1100 terms is a left-deep tree: the 1024th '+' makes it too deep. */
    ps_strbuf_clear(&sb);
    ps_strbuf_puts(&sb, "transformed data { real x = 1");
    for (int i = 0; i < 1100; i++)
        ps_strbuf_puts(&sb, "+1");
    ps_strbuf_puts(&sb, "; }");
    check_error(__LINE__, ps_strbuf_str(&sb),
                "t.stan:1:2076: error: expression is too deep (more than 1024 levels of "
                "operations); split it into several statements");
    /* 1000 nested blocks, 10000 unary minuses, 5000 else-ifs, 10000 brackets. */
    const char *heads[] = {"{", "-", "if (1) x = 1; else ", "["};
    const char *wants[] = {"nested too deeply", "nested too deeply", "nested too deeply",
                           "nested too deeply"};
    const int counts[] = {1000, 10000, 5000, 10000};
    for (int k = 0; k < 4; k++) {
        ps_strbuf_clear(&sb);
        ps_strbuf_puts(&sb, k == 0 || k == 2 ? "model { " : "model { x = ");
        for (int i = 0; i < counts[k]; i++)
            ps_strbuf_puts(&sb, heads[k]);
        ps_strbuf_puts(&sb, "x = 1; }");
        ps_stan_program *p = NULL;
        ps_error_clear();
        ps_status st = ps_stan_program_parse("t.stan", ps_strbuf_str(&sb), sb.len, &p);
        CHECK(st == PS_ERR_MODEL && strstr(ps_error_message(), wants[k]) != NULL,
              "deep input %d: status %d, message %s", k, (int)st, ps_error_message());
        ps_stan_program_destroy(&p);
    }
    ps_error_clear();
    /* Just under the limits is fine: 120 parentheses, a sum of 1000 terms. */
    ps_strbuf_clear(&sb);
    ps_strbuf_puts(&sb, "transformed data { real x = ");
    for (int i = 0; i < 120; i++)
        ps_strbuf_putc(&sb, '(');
    ps_strbuf_putc(&sb, '1');
    for (int i = 0; i < 120; i++)
        ps_strbuf_putc(&sb, ')');
    ps_strbuf_puts(&sb, "; real y = 1");
    for (int i = 0; i < 1000; i++)
        ps_strbuf_puts(&sb, "+1");
    ps_strbuf_puts(&sb, "; }");
    ps_stan_program *p = NULL;
    ps_error_clear();
    CHECK(ps_stan_program_parse("t.stan", ps_strbuf_str(&sb), sb.len, &p) == PS_OK,
          "120 parentheses and 1000 terms must check: %s", ps_error_message());
    ps_stan_program_destroy(&p);
    ps_strbuf_fini(&sb);
}

int main(void)
{
    test_precedence();
    test_statements();
    test_program_structure();
    test_syntax_errors();
    test_limits();
    TEST_EXIT();
}
