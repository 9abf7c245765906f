/*
 * Robustness of the Stan front end: every allocation failure is survived (fault
 * injection, SQLite-style: fail the 1st, 2nd, ... allocation of a parse), thousands of
 * deterministic mutations of valid programs give either a program or a located error,
 * unusual bytes (NUL, CR LF, no final newline) are handled, and a program of several
 * megabytes parses in linear time (a quadratic parser would hit the test's timeout).
 */
#include <time.h>

#include "core/core.h"
#include "lang/lang.h"
#include "testlib.h"

/* A program that uses most of the front end, including user functions. */
static const char *rich =
    "functions {\n"
    "  real fact(int n);\n"
    "  real fact(int n) { if (n <= 1) return 1; return n * fact(n - 1); }\n"
    "  vector twice(vector x) { return 2 * x; }\n"
    "  real mydist_lpdf(real y, real mu) { return normal_lupdf(y | mu, 1); }\n"
    "}\n"
    "data {\n"
    "  int<lower=0> N; int<lower=1> K;\n"
    "  array[N] real u; matrix<lower=0>[K, K] alpha; array[N] int<lower=0, upper=1> y;\n"
    "  matrix[N, K] X; cov_matrix[K] S;\n"
    "}\n"
    "transformed data {\n"
    "  vector[K] mu0 = rep_vector(0, K);\n"
    "  matrix[K, K] L = cholesky_decompose(S);\n"
    "  real m = mean(u) + fact(3);\n"
    "}\n"
    "parameters {\n"
    "  simplex[K] theta1; positive_ordered[K] phi; vector<offset=1, multiplier=2>[K] beta;\n"
    "  real<lower=-1, upper=1> rho; cholesky_factor_corr[K] Lc;\n"
    "}\n"
    "transformed parameters {\n"
    "  array[K] simplex[K] theta;\n"
    "  for (k in 1:K) theta[k] = theta1;\n"
    "}\n"
    "model {\n"
    "  array[N, K] real gamma;\n"
    "  for (k in 1:K) target += dirichlet_lpdf(theta[k] | alpha[k, :]');\n"
    "  phi ~ normal(0, 1); beta ~ multi_normal_cholesky(mu0, L); rho ~ mydist(0);\n"
    "  Lc ~ lkj_corr_cholesky(2);\n"
    "  y ~ bernoulli_logit_glm(X, rho, beta);\n"
    "  for (t in 1:N) {\n"
    "    for (k in 1:K) gamma[t, k] = exponential_lpdf(u[t] | phi[k]) + log(theta[k, 1]);\n"
    "    if (t > 1 && t < N) { continue; } else { target += log_sum_exp(gamma[t]); }\n"
    "  }\n"
    "  target += sum(twice(beta)) * 0 + (K > 1 ? 0.0 : 1.0);\n"
    "}\n"
    "generated quantities {\n"
    "  array[N] int<lower=0, upper=1> yrep = bernoulli_logit_rng(X * beta + rho);\n"
    "  real r = normal_rng(m, 1); print(\"r = \", r);\n"
    "}\n";

/* A program with an error near its end (exercises the error paths). */
static const char *late_error = "data { int N; vector[N] y; }\n"
                                "parameters { real mu; }\n"
                                "model { y ~ normal(mu, 1); mu ~ normal(0, 1); z = 3; }\n";

static ps_status parse(const char *src, size_t len, bool user_functions, ps_stan_program **p)
{
    ps_stan_options opts = ps_stan_options_default();
    opts.user_functions = user_functions;
    ps_error_clear();
    return ps_stan_program_parse_opts("t.stan", src, len, &opts, p);
}

static void fault_loop(const char *name, const char *src, ps_status clean_status)
{
    ps_stan_program *p = NULL;
    long before = ps_fault_alloc_count();
    ps_status st = parse(src, strlen(src), true, &p);
    long allocations = ps_fault_alloc_count() - before;
    CHECK(st == clean_status, "%s: clean parse gave %d, expected %d: %s", name, (int)st,
          (int)clean_status, ps_error_message());
    ps_stan_program_destroy(&p);
    int failures = 0;
    for (long n = 1; n <= allocations + 1; n++) {
        ps_fault_alloc_after(n);
        st = parse(src, strlen(src), true, &p);
        ps_fault_alloc_after(0);
        if (st == PS_ERR_MEM) {
            failures++;
            CHECK(p == NULL, "%s: failed parse returned a program", name);
            CHECK_STR_CONTAINS(ps_error_message(), "out of memory");
        } else {
            CHECK(st == clean_status,
                  "%s: allocation %ld failed: status %d, expected %d or "
                  "PS_ERR_MEM: %s",
                  name, n, (int)st, (int)clean_status, ps_error_message());
        }
        ps_stan_program_destroy(&p);
    }
    ps_error_clear();
    CHECK(failures > 0, "%s: no injected failure was seen", name);
    printf("%s: %ld allocations, each failed once: %d runs reported out of memory\n", name,
           allocations, failures);
}

/* xorshift64*: deterministic mutations. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void mutations(void)
{
    static const char *const pieces[] = {
        "(",   ")",  "[",      "]",      "{",     "}",     ";",      ",",     "|",     "~",
        "=",   "+=", "<",      ">",      "'",     "^",     ".*",     "?",     ":",     "1",
        "1.5", "x",  "real",   "vector", "array", "int",   "for",    "in",    "if",    "else",
        "N",   "mu", "target", "+",      "-",     "*",     "normal", "\"s\"", "/*",    "//",
        "\n",  "\0", "\xff",   "T[",     "data",  "model", "lower=", "1e",    "while", "return",
    };
    size_t n_pieces = sizeof pieces / sizeof pieces[0];
    const char *bases[] = {rich, late_error};
    int ok = 0, errors = 0;
    char buf[8192];
    for (int iter = 0; iter < 3000; iter++) {
        const char *base = bases[iter % 2];
        size_t len = strlen(base);
        memcpy(buf, base, len);
        int edits = 1 + (int)(next_rand() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = len ? (size_t)(next_rand() % len) : 0;
            switch (next_rand() % 4) {
            case 0: /* flip a byte */
                if (len > 0)
                    buf[at] = (char)(next_rand() & 0xff);
                break;
            case 1: /* delete a span */ {
                size_t k = (size_t)(next_rand() % 8);
                if (at + k > len)
                    k = len - at;
                memmove(buf + at, buf + at + k, len - at - k);
                len -= k;
                break;
            }
            case 2: /* insert a piece */ {
                const char *piece = pieces[next_rand() % n_pieces];
                size_t k = piece[0] ? strlen(piece) : 1;
                if (len + k < sizeof buf) {
                    memmove(buf + at + k, buf + at, len - at);
                    memcpy(buf + at, piece, k);
                    len += k;
                }
                break;
            }
            default: /* truncate */
                len = at;
                break;
            }
        }
        ps_stan_program *p = NULL;
        ps_status st = parse(buf, len, iter % 3 == 0, &p);
        if (st == PS_OK) {
            ok++;
        } else {
            errors++;
            const char *msg = ps_error_message();
            CHECK(st == PS_ERR_MODEL && strncmp(msg, "t.stan:", 7) == 0 &&
                      strstr(msg, ": error: ") != NULL,
                  "mutation %d: status %d, message '%s'", iter, (int)st, msg);
        }
        ps_stan_program_destroy(&p);
    }
    ps_error_clear();
    printf("mutations: %d checked, %d rejected with a located error\n", ok, errors);
    CHECK(errors > 0, "some mutations must be rejected");
}

static void unusual_bytes(void)
{
    ps_stan_program *p = NULL;
    /* CR LF line endings and no final newline. */
    const char *crlf = "data {\r\n  int N;\r\n}\r\nmodel {\r\n  real x = N;\r\n}";
    CHECK(parse(crlf, strlen(crlf), false, &p) == PS_OK, "CR LF program: %s", ps_error_message());
    ps_stan_program_destroy(&p);
    const char *crlf_err = "data {\r\n  int N\r\n}";
    CHECK(parse(crlf_err, strlen(crlf_err), false, &p) == PS_ERR_MODEL, "CR LF error");
    CHECK_STR_CONTAINS(ps_error_message(), "t.stan:2:8: error: expected ';' after the declaration "
                                           "of 'N', found '}'");
    /* A NUL byte in the middle, in a comment, and text that is only comments. */
    const char nul[] = "model { x = 1;\0 }";
    CHECK(parse(nul, sizeof nul - 1, false, &p) == PS_ERR_MODEL, "NUL byte");
    CHECK_STR_CONTAINS(ps_error_message(),
                       "t.stan:1:15: error: unexpected control character (byte 0x00)");
    const char nul_comment[] = "// a\0b\nmodel { }";
    CHECK(parse(nul_comment, sizeof nul_comment - 1, false, &p) == PS_OK, "NUL in a comment");
    ps_stan_program_destroy(&p);
    CHECK(parse("// only\n/* comments */", 22, false, &p) == PS_OK, "only comments");
    ps_stan_program_destroy(&p);
    CHECK(parse(NULL, 0, false, &p) == PS_OK, "NULL text of length 0");
    ps_stan_program_destroy(&p);
    /* UTF-8 in comments and strings is fine; columns count characters. */
    const char *utf8 = "model { // é\n  print(\"µ = \", 1); y = 1; }";
    CHECK(parse(utf8, strlen(utf8), false, &p) == PS_ERR_MODEL, "undeclared y");
    CHECK_STR_CONTAINS(ps_error_message(), "t.stan:2:21: error: 'y' is not declared");
    ps_error_clear();
}

/* Several megabytes: 50000 data variables and 50000 statements. */
static void large_program(void)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    int n = 50000;
    ps_strbuf_puts(&sb, "data {\n");
    for (int i = 0; i < n; i++)
        ps_strbuf_printf(&sb, "  vector[3] v%d;\n", i);
    ps_strbuf_puts(&sb, "}\nparameters { real mu; }\nmodel {\n  real acc = 0;\n");
    for (int i = 0; i < n; i++)
        ps_strbuf_printf(&sb, "  acc += sum(v%d) * mu + log_sum_exp(v%d);\n", i, (i * 7919) % n);
    ps_strbuf_puts(&sb, "  target += acc;\n}\n");
    CHECK(!sb.failed, "building the program");
    ps_stan_program *p = NULL;
    double t0 = ps_time_now();
    ps_status st = parse(ps_strbuf_str(&sb), sb.len, false, &p);
    double dt = ps_time_now() - t0;
    CHECK(st == PS_OK, "large program: %s", ps_error_message());
    size_t nv;
    ps_stan_program_vars(p, PS_STAN_BLOCK_DATA, &nv);
    CHECK(nv == (size_t)n, "%zu data variables, expected %d", nv, n);
    printf("large program: %zu bytes parsed and checked in %.3f s\n", sb.len, dt);
    ps_stan_program_destroy(&p);
    ps_strbuf_fini(&sb);
}

int main(void)
{
    fault_loop("rich program", rich, PS_OK);
    fault_loop("program with an error", late_error, PS_ERR_MODEL);
    /* Large enough to need many arena chunks, scope rehashes and token growth. */
    ps_strbuf mid;
    ps_strbuf_init(&mid);
    ps_strbuf_puts(&mid, "data {\n");
    for (int i = 0; i < 600; i++)
        ps_strbuf_printf(&mid, "  array[3] vector[2] v%d;\n", i);
    ps_strbuf_puts(&mid, "}\nparameters { real mu; }\nmodel {\n");
    for (int i = 0; i < 600; i++)
        ps_strbuf_printf(&mid, "  v%d[1] ~ normal(mu + %d, {1, 2}[1 + %d %% 2]);\n", i, i, i);
    ps_strbuf_puts(&mid, "}\n");
    CHECK(!mid.failed, "building the mid-size program");
    fault_loop("mid-size program", ps_strbuf_str(&mid), PS_OK);
    ps_strbuf_fini(&mid);
    mutations();
    unusual_bytes();
    large_program();
    TEST_EXIT();
}
