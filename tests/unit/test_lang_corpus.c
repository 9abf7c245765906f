/*
 * Every Stan program of ../shared: the bench models and the tier 1 and 2 posteriordb
 * programs must check (with every node typed and resolved); the tier 3 programs must fail
 * with a clean "not supported yet" error. Reports one line per file. Skips without
 * ../shared.
 */
#include <dirent.h>
#include <stdlib.h>

#include "core/core.h"
#include "lang/lang.h"
#include "testlib.h"

enum { MAX_FILES = 512 };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the *.stan files of dir; returns their number. */
static int list_stan(const char *dir, char **names)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL && n < MAX_FILES) {
        size_t len = strlen(ent->d_name);
        if (len > 5 && strcmp(ent->d_name + len - 5, ".stan") == 0)
            names[n++] = ps_strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
}

static bool visit_resolved(const ps_stan_expr *e, void *ctx)
{
    int *bad = ctx;
    if (e->type.base == PS_STAN_UNTYPED || (e->kind == PS_STAN_E_VAR && e->u.var.decl == NULL) ||
        (e->kind == PS_STAN_E_CALL && e->u.call.sig < 0 && e->u.call.user == NULL))
        (*bad)++;
    return true;
}

static int unresolved_nodes(const ps_stan_program *p)
{
    int bad = 0;
    for (int b = 0; b < PS_STAN_N_BLOCKS; b++) {
        size_t n;
        ps_stan_stmt *const *stmts = ps_stan_program_stmts(p, (ps_stan_block)b, &n);
        for (size_t i = 0; i < n; i++)
            ps_stan_stmt_walk(stmts[i], NULL, visit_resolved, &bad);
    }
    return bad;
}

static ps_status parse_path(const char *path, bool user_functions, ps_stan_program **p)
{
    char *text = NULL;
    size_t len = 0;
    ps_error_clear();
    ps_status st = ps_file_read(path, &text, &len);
    if (st != PS_OK)
        return st;
    ps_stan_options opts = ps_stan_options_default();
    opts.user_functions = user_functions;
    st = ps_stan_program_parse_opts(path, text, len, &opts, p);
    ps_free(text);
    return st;
}

/* The program must check. */
static void expect_checks(const char *path, const char *label, const char *tier)
{
    ps_stan_program *p = NULL;
    ps_status st = parse_path(path, false, &p);
    CHECK(st == PS_OK, "%s must check, got:\n%s", path, ps_error_message());
    if (st == PS_OK) {
        int bad = unresolved_nodes(p);
        CHECK(bad == 0, "%s: %d unresolved nodes", path, bad);
        printf("  %-60s %s: checks\n", label, tier);
    }
    ps_stan_program_destroy(&p);
    ps_error_clear();
}

/* The program must fail with "not supported yet", with or without user functions. */
static void expect_unsupported(const char *path, const char *label, const char *tier)
{
    for (int uf = 0; uf < 2; uf++) {
        ps_stan_program *p = NULL;
        ps_status st = parse_path(path, uf == 1, &p);
        const char *msg = ps_error_message();
        CHECK(st == PS_ERR_MODEL && strstr(msg, "not supported yet") != NULL &&
                  strstr(msg, ": error: ") != NULL,
              "%s (%s, user functions %s) must fail with 'not supported yet', got status %d:\n%s",
              path, tier, uf ? "on" : "off", (int)st, msg);
        if (st == PS_ERR_MODEL) {
            size_t n = strcspn(msg, "\n");
            const char *what = strstr(msg, ": error: ");
            printf("  %-60s %s: not supported (%s): %.*s\n", label, tier,
                   uf ? "user functions on" : "default",
                   (int)(n - (size_t)(what ? what + 9 - msg : 0)), what ? what + 9 : msg);
        }
        ps_stan_program_destroy(&p);
        ps_error_clear();
    }
}

int main(void)
{
    TEST_REQUIRE_SHARED(shared);
    char dir[2048], path[4096];
    char *names[MAX_FILES];

    /* Tiers from the index. */
    snprintf(path, sizeof path, "%s/reference/posteriordb/INDEX.tsv", shared);
    char *index = NULL;
    size_t index_len = 0;
    CHECK(ps_file_read(path, &index, &index_len) == PS_OK, "cannot read %s", path);
    ps_error_clear();

    snprintf(dir, sizeof dir, "%.2000s/reference/posteriordb", shared);
    int n = list_stan(dir, names);
    CHECK(n >= 37, "expected at least 37 posteriordb programs in %s, found %d", dir, n);
    int checked = 0, unsupported = 0;
    printf("posteriordb (%s):\n", dir);
    for (int i = 0; i < n; i++) {
        char posterior[512];
        snprintf(posterior, sizeof posterior, "%.*s", (int)(strlen(names[i]) - 5), names[i]);
        /* The index line starts with "posterior\t"; the tier is its last field. */
        char key[520];
        snprintf(key, sizeof key, "\n%s\t", posterior);
        const char *line = index ? strstr(index, key) : NULL;
        char tier[32] = "";
        if (line != NULL) {
            const char *end = strchr(line + 1, '\n');
            const char *tab = line + 1;
            const char *last = tab;
            while ((tab = memchr(tab, '\t', (size_t)(end ? end - tab : (long)strlen(tab)))) !=
                   NULL) {
                last = ++tab;
            }
            snprintf(tier, sizeof tier, "%.*s", (int)(end ? end - last : (long)strlen(last)), last);
        }
        CHECK(tier[0] == 'T', "%s is not in INDEX.tsv", posterior);
        snprintf(path, sizeof path, "%s/%.1000s", dir, names[i]);
        if (strcmp(tier, "T1") == 0 || strcmp(tier, "T2") == 0) {
            expect_checks(path, posterior, tier);
            checked++;
        } else if (tier[0] == 'T') {
            expect_unsupported(path, posterior, tier);
            unsupported++;
        }
        ps_free(names[i]);
    }
    printf("posteriordb: %d programs check, %d rejected as not supported yet\n", checked,
           unsupported);

    snprintf(dir, sizeof dir, "%.2000s/bench/models", shared);
    n = list_stan(dir, names);
    CHECK(n >= 6, "expected at least 6 bench models in %s, found %d", dir, n);
    printf("bench models (%s):\n", dir);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%.1000s", dir, names[i]);
        expect_checks(path, names[i], "bench");
        ps_free(names[i]);
    }
    ps_free(index);
    TEST_EXIT();
}
