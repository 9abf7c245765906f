/*
 * Diagnostics against the reference values of the R package posterior 1.4.0 in
 * ../shared/reference/diagnostics: every case, every field, to 1e-6 relative; NA (JSON null)
 * must come back as NAN and nothing else may. Both ps_diag_summarize() and the single
 * diagnostic functions are checked. Skips when ../shared is absent.
 */
#include <dirent.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "diag/diag.h"
#include "testlib.h"

#define REL_TOL 1e-6
#define MAX_CASES 64

enum {
    F_MEAN,
    F_SD,
    F_Q05,
    F_Q95,
    F_MCSE_MEAN,
    F_MCSE_SD,
    F_ESS_BULK,
    F_ESS_TAIL,
    F_ESS_BASIC,
    F_ESS_MEAN,
    F_ESS_SD,
    F_RHAT,
    F_RHAT_BASIC,
    N_FIELDS
};

static const char *const field_names[N_FIELDS] = {
    "mean",     "sd",        "q05",      "q95",    "mcse_mean", "mcse_sd",   "ess_bulk",
    "ess_tail", "ess_basic", "ess_mean", "ess_sd", "rhat",      "rhat_basic"};

static double worst_rel[N_FIELDS];

/* Relative error of got against want; 0 when both are NA, infinite when only one is. */
static double rel_error(double got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got) ? 0.0 : INFINITY;
    if (want == 0.0)
        return got == 0.0 ? 0.0 : INFINITY;
    return fabs(got - want) / fabs(want);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns true when every field of the case matched. */
static bool check_case(ps_diag_workspace *ws, const char *name, const cJSON *root)
{
    const cJSON *chains = cJSON_GetObjectItemCaseSensitive(root, "draws_by_chain");
    CHECK(cJSON_IsArray(chains) && cJSON_GetArraySize(chains) > 0,
          "%s: draws_by_chain is not a non-empty list", name);
    if (!cJSON_IsArray(chains) || cJSON_GetArraySize(chains) == 0)
        return false;
    size_t n_chains = (size_t)cJSON_GetArraySize(chains);
    size_t n_draws = (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(chains, 0));
    double *draws = NULL;
    CHECK(ps_alloc_array(&draws, n_chains * n_draws, sizeof *draws, "draws") == PS_OK,
          "%s: allocation of %zu draws", name, n_chains * n_draws);
    if (draws == NULL)
        return false;
    bool shape_ok = true;
    size_t c = 0;
    const cJSON *chain;
    cJSON_ArrayForEach(chain, chains)
    {
        if ((size_t)cJSON_GetArraySize(chain) != n_draws)
            shape_ok = false;
        size_t i = 0;
        const cJSON *draw;
        cJSON_ArrayForEach(draw, chain)
        {
            if (i < n_draws)
                draws[c * n_draws + i] = cJSON_IsNumber(draw) ? draw->valuedouble : NAN;
            i++;
        }
        c++;
    }
    CHECK(shape_ok, "%s: chains of unequal length", name);
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(root, "n_chains");
    const cJSON *nd = cJSON_GetObjectItemCaseSensitive(root, "n_draws");
    CHECK(cJSON_IsNumber(nc) && (size_t)nc->valuedouble == n_chains && cJSON_IsNumber(nd) &&
              (size_t)nd->valuedouble == n_draws,
          "%s: n_chains/n_draws do not describe draws_by_chain (%zu x %zu)", name, n_chains,
          n_draws);

    ps_diag_summary s;
    ps_status status = ps_diag_summarize(ws, draws, n_chains, n_draws, &s);
    CHECK(status == PS_OK, "%s: ps_diag_summarize returned %d (%s)", name, (int)status,
          ps_error_message());
    double from_summary[N_FIELDS] = {s.mean,    s.sd,       s.q05,       s.q95,       s.mcse_mean,
                                     s.mcse_sd, s.ess_bulk, s.ess_tail,  s.ess_basic, s.ess_mean,
                                     s.ess_sd,  s.rhat,     s.rhat_basic};
    size_t n = n_chains * n_draws;
    double single[N_FIELDS] = {
        s.mean,
        s.sd,
        ps_diag_quantile(ws, draws, n, 0.05),
        ps_diag_quantile(ws, draws, n, 0.95),
        ps_diag_mcse_mean(ws, draws, n_chains, n_draws),
        ps_diag_mcse_sd(ws, draws, n_chains, n_draws),
        ps_diag_ess_bulk(ws, draws, n_chains, n_draws),
        ps_diag_ess_tail(ws, draws, n_chains, n_draws),
        ps_diag_ess_basic(ws, draws, n_chains, n_draws),
        ps_diag_ess_mean(ws, draws, n_chains, n_draws),
        ps_diag_ess_sd(ws, draws, n_chains, n_draws),
        ps_diag_rhat(ws, draws, n_chains, n_draws),
        ps_diag_rhat_basic(ws, draws, n_chains, n_draws),
    };

    bool all_ok = true;
    for (int f = 0; f < N_FIELDS; f++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, field_names[f]);
        CHECK(cJSON_IsNumber(item) || cJSON_IsNull(item), "%s: field %s missing", name,
              field_names[f]);
        double want = cJSON_IsNumber(item) ? item->valuedouble : NAN;
        double e1 = rel_error(from_summary[f], want);
        double e2 = rel_error(single[f], want);
        double e = e1 > e2 ? e1 : e2;
        if (e > worst_rel[f])
            worst_rel[f] = e;
        CHECK(e1 <= REL_TOL, "%s: summary %s is %.15g, expected %.15g (%s; rel. tol. %g)", name,
              field_names[f], from_summary[f], want, isnan(want) ? "NA" : "value", REL_TOL);
        CHECK(e2 <= REL_TOL, "%s: single-function %s is %.15g, expected %.15g (rel. tol. %g)", name,
              field_names[f], single[f], want, REL_TOL);
        if (e > REL_TOL)
            all_ok = false;
    }
    ps_free(draws);
    return all_ok;
}

int main(void)
{
    TEST_REQUIRE_SHARED(shared);
    char dir_path[4096];
    snprintf(dir_path, sizeof dir_path, "%s/reference/diagnostics", shared);
    DIR *dir = opendir(dir_path);
    CHECK(dir != NULL, "cannot open %s", dir_path);
    if (dir == NULL)
        TEST_EXIT();
    char *names[MAX_CASES] = {NULL};
    size_t n_names = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (len > 5 && strcmp(entry->d_name + len - 5, ".json") == 0 && n_names < MAX_CASES)
            names[n_names++] = ps_strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, n_names, sizeof *names, compare_names);
    CHECK(n_names == 13, "expected 13 reference cases in %s, found %zu", dir_path, n_names);

    ps_diag_workspace *ws = NULL;
    CHECK(ps_diag_workspace_create(64, 5000, &ws) == PS_OK, "workspace: %s", ps_error_message());
    if (ws == NULL)
        TEST_EXIT();

    size_t matched = 0;
    for (size_t k = 0; k < n_names; k++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir_path, names[k]);
        char *text = NULL;
        size_t len = 0;
        ps_status status = ps_file_read(path, &text, &len);
        CHECK(status == PS_OK, "cannot read %s: %s", path, ps_error_message());
        if (status != PS_OK) {
            ps_error_clear();
            continue;
        }
        cJSON *root = cJSON_ParseWithLength(text, len);
        CHECK(root != NULL, "%s is not valid JSON", path);
        if (root != NULL) {
            bool ok = check_case(ws, names[k], root);
            printf("%-22s %s\n", names[k], ok ? "matches" : "DIFFERS");
            matched += ok;
            cJSON_Delete(root);
        }
        ps_free(text);
    }
    printf("%zu of %zu cases match posterior 1.4.0 to %g relative\n", matched, n_names, REL_TOL);
    printf("worst relative error per field:\n");
    for (int f = 0; f < N_FIELDS; f++)
        printf("  %-10s %.3g\n", field_names[f], worst_rel[f]);
    for (size_t k = 0; k < n_names; k++)
        ps_free(names[k]);
    ps_diag_workspace_destroy(&ws);
    TEST_EXIT();
}
