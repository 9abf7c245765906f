/*
 * The JSON data files of the workspace (every NAME.data.json in
 * ../shared/reference/posteriordb and every NAME.json in ../shared/bench/data) read without
 * error; every value agrees with cJSON's reading of the same file (an independent parser:
 * same shapes, and the same doubles, since both end in strtod); and a few values are checked
 * against the files' text. Skips (77) when ../shared is absent.
 */
#include <cjson/cJSON.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "data/data.h"
#include "testlib.h"

/* Walks cJSON's value in row-major order, checking the shape against v and each number
 * against v's elements. Returns false at the first disagreement (with a failed CHECK). */
static bool agree(const char *file, const ps_data_var *v, const cJSON *value, int level,
                  size_t *next)
{
    if (cJSON_IsArray(value)) {
        size_t n = (size_t)cJSON_GetArraySize(value);
        if (level >= v->ndim || v->dims[level] != n) {
            CHECK(false, "%s: '%s': cJSON sees %zu elements at level %d, psample dims[%d] = %zu",
                  file, v->name, n, level, level, level < v->ndim ? v->dims[level] : 0);
            return false;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, value)
        {
            if (!agree(file, v, item, level + 1, next))
                return false;
        }
        return true;
    }
    if (level != v->ndim || !cJSON_IsNumber(value) || *next >= v->size) {
        CHECK(false, "%s: '%s': a number at level %d, psample has ndim %d", file, v->name, level,
              v->ndim);
        return false;
    }
    double want = value->valuedouble, got = ps_data_real(v, *next);
    if (memcmp(&want, &got, sizeof want) != 0) {
        CHECK(false, "%s: '%s'[%zu] is %.17g, cJSON reads %.17g", file, v->name, *next, got, want);
        return false;
    }
    if (v->type == PS_DATA_INT && (double)(int64_t)want != want) {
        CHECK(false, "%s: '%s'[%zu] = %.17g is typed int", file, v->name, *next, want);
        return false;
    }
    (*next)++;
    return true;
}

static void check_file(const char *file, size_t *n_files, size_t *n_values)
{
    ps_error_clear();
    ps_data *d = NULL;
    ps_status status = ps_data_read_file(file, &d);
    CHECK(status == PS_OK, "%s: %s", file, ps_error_message());
    if (status != PS_OK)
        return;
    char *text = NULL;
    size_t len = 0;
    CHECK(ps_file_read(file, &text, &len) == PS_OK, "reading %s", file);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    CHECK(root != NULL && cJSON_IsObject(root), "%s: cJSON cannot read it", file);
    size_t members = 0;
    const cJSON *member;
    cJSON_ArrayForEach(member, root)
    {
        members++;
        const ps_data_var *v = ps_data_find(d, member->string);
        CHECK(v != NULL, "%s: '%s' is missing", file, member->string);
        if (v == NULL)
            continue;
        size_t next = 0;
        if (agree(file, v, member, 0, &next))
            CHECK(next == v->size, "%s: '%s': %zu numbers, psample has %zu", file, v->name, next,
                  v->size);
        *n_values += next;
    }
    CHECK(members == ps_data_count(d), "%s: %zu members, psample has %zu variables", file, members,
          ps_data_count(d));
    cJSON_Delete(root);
    ps_free(text);
    ps_data_destroy(&d);
    (*n_files)++;
}

/* Reads one file for spot checks. */
static ps_data *read_shared(const char *shared, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", shared, name);
    ps_error_clear();
    ps_data *d = NULL;
    CHECK(ps_data_read_file(path, &d) == PS_OK, "%s: %s", path, ps_error_message());
    return d;
}

static const ps_data_var *shaped(const ps_data *d, const char *name, ps_data_type type, int ndim,
                                 size_t dim0, size_t dim1)
{
    const ps_data_var *v = d ? ps_data_find(d, name) : NULL;
    bool ok = v && v->type == type && v->ndim == ndim && (ndim < 1 || v->dims[0] == dim0) &&
              (ndim < 2 || v->dims[1] == dim1);
    CHECK(ok, "'%s': expected type %d, ndim %d, dims %zu x %zu", name, (int)type, ndim, dim0, dim1);
    return ok ? v : NULL;
}

static void spot_checks(const char *shared)
{
    ps_data *d = read_shared(shared, "reference/posteriordb/eight_schools-eight_schools_centered."
                                     "data.json");
    const ps_data_var *v = shaped(d, "J", PS_DATA_INT, 0, 0, 0);
    CHECK(v && v->ints[0] == 8, "J = 8");
    int64_t y[8] = {28, 8, -3, 7, -1, 1, 18, 12}, sigma[8] = {15, 10, 16, 11, 9, 11, 10, 18};
    v = shaped(d, "y", PS_DATA_INT, 1, 8, 0);
    for (int i = 0; v && i < 8; i++)
        CHECK(v->ints[i] == y[i], "y[%d] = %lld, expected %lld", i, (long long)v->ints[i],
              (long long)y[i]);
    v = shaped(d, "sigma", PS_DATA_INT, 1, 8, 0);
    for (int i = 0; v && i < 8; i++)
        CHECK(v->ints[i] == sigma[i], "sigma[%d] = %lld", i, (long long)v->ints[i]);
    ps_data_destroy(&d);

    d = read_shared(shared, "reference/posteriordb/diamonds-diamonds.data.json");
    v = shaped(d, "N", PS_DATA_INT, 0, 0, 0);
    CHECK(v && v->ints[0] == 5000, "N = 5000");
    v = shaped(d, "X", PS_DATA_REAL, 2, 5000, 25);
    CHECK(v && v->reals[0] == 1.0 && v->reals[1] == 0.82 && v->reals[2] == 1.79175946922805 &&
              v->reals[4999 * 25 + 24] == 1.92537182996336,
          "diamonds X values");
    v = shaped(d, "Y", PS_DATA_REAL, 1, 5000, 0);
    CHECK(v && v->reals[0] == 7.99260665240021 && v->reals[1] == 8.24748200428569, "diamonds Y");
    v = shaped(d, "prior_only", PS_DATA_INT, 0, 0, 0);
    CHECK(v && v->ints[0] == 0, "prior_only = 0");
    ps_data_destroy(&d);

    d = read_shared(shared, "reference/posteriordb/hudson_lynx_hare-lotka_volterra.data.json");
    v = shaped(d, "y", PS_DATA_REAL, 2, 20, 2);
    CHECK(v && v->reals[0] == 47.2 && v->reals[11] == 19.0 && v->reals[39] == 8.6,
          "lynx-hare y (row-major, ints among reals)");
    v = shaped(d, "ts", PS_DATA_INT, 1, 20, 0);
    CHECK(v && v->ints[0] == 1 && v->ints[19] == 20, "ts");
    ps_data_destroy(&d);

    d = read_shared(shared, "reference/posteriordb/mcycle_gp-accel_gp.data.json");
    v = shaped(d, "Xgp_1", PS_DATA_REAL, 2, 133, 40);
    CHECK(v && v->reals[132 * 40 + 39] == -0.413039823262461, "mcycle Xgp_1[133, 40]");
    ps_data_destroy(&d);

    d = read_shared(shared, "bench/data/logistic_regression.json");
    v = shaped(d, "X", PS_DATA_REAL, 2, 5000, 25);
    CHECK(v && v->reals[0] == -1.67061004554378 && v->reals[4999 * 25 + 24] == -0.727871874426898,
          "logistic X");
    v = shaped(d, "y", PS_DATA_INT, 1, 5000, 0);
    int64_t y10[10] = {1, 1, 0, 0, 0, 1, 0, 1, 0, 1};
    for (int i = 0; v && i < 10; i++)
        CHECK(v->ints[i] == y10[i], "logistic y[%d]", i);
    ps_data_destroy(&d);

    d = read_shared(shared, "bench/data/gauss100_corr.json");
    v = shaped(d, "Sigma", PS_DATA_REAL, 2, 100, 100);
    CHECK(v && v->reals[0] == 8.49793507818902 && v->reals[1] == -1.75506164659768 &&
              v->reals[9999] == 12.9914740619695,
          "gauss100 Sigma");
    ps_data_destroy(&d);
}

int main(void)
{
    TEST_REQUIRE_SHARED(shared);
    const char *patterns[] = {"reference/posteriordb/*.data.json", "bench/data/*.json"};
    size_t n_files = 0, n_values = 0, n_found = 0;
    for (size_t p = 0; p < 2; p++) {
        char pattern[4096];
        snprintf(pattern, sizeof pattern, "%s/%s", shared, patterns[p]);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) {
            CHECK(false, "no files match %s", pattern);
            continue;
        }
        for (size_t i = 0; i < g.gl_pathc; i++)
            check_file(g.gl_pathv[i], &n_files, &n_values);
        n_found += g.gl_pathc;
        globfree(&g);
    }
    CHECK(n_files == n_found && n_files >= 40, "%zu of %zu files read", n_files, n_found);
    printf("%zu files, %zu values agree with cJSON\n", n_files, n_values);
    spot_checks(shared);
    TEST_EXIT();
}
