/*
 * libFuzzer harness for the Stan JSON data reader (src/data/json.c).
 *
 * Besides "no crash, no leak, no undefined behaviour, no hang" (ASan and UBSan are on, and
 * libFuzzer's timeout catches super-linear work), every input is checked against these
 * invariants; a violation aborts with a message:
 *   1. A failed read returns PS_ERR_DATA (never an internal error) with no data and a
 *      located message ("fuzz.json:LINE:COL: error: ...").
 *   2. Read data are consistent: names are Stan identifiers, distinct, found again by
 *      ps_data_find; 0 <= ndim <= PS_DATA_MAX_DIMS; size is the product of the extents;
 *      exactly the array of the type is set; ints lie in Stan's int range; a real
 *      variable's first non-int element exists; ps_data_require_int agrees with the type
 *      and locates its message.
 *   3. The rescan agrees with the values: at the offset ps_data_element_offset gives for the
 *      first, middle and last element, strtod of the text (or the special string there)
 *      gives the stored value.
 *   4. Differential check against cJSON: input psample accepts is JSON, so cJSON accepts it
 *      too unless it holds what cJSON does not read (the bare words NaN and Infinity, or
 *      a number literal of 60 characters or more); then every member with an identifier
 *      key has the same shape and the same doubles in both readings.
 *   5. Making one allocation of the read fail (chosen from the input) gives PS_ERR_MEM (or
 *      PS_ERR_DATA for an invalid input whose message formatting failed) and no data.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *PATH = "fuzz.json";

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_data: invariant violated: " __VA_ARGS__);                        \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool identifier(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 1; s[i]; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Equal values (an int 0 and a real -0.0 are the same value) or both NaN. */
static bool same(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* The value of the token at text[offset]: a number or bare word by strtod (which also reads
 * NaN and Infinity), a string by the list of special strings (any of them non-finite). */
static void check_token(const ps_data *d, const ps_data_var *v, size_t index)
{
    size_t len = 0;
    const char *text = ps_data_text(d, &len);
    size_t offset = ps_data_element_offset(d, v, index);
    REQUIRE(offset < len, "'%s'[%zu]: offset %zu beyond the text", v->name, index, offset);
    double want = ps_data_real(v, index);
    if (text[offset] == '"') {
        REQUIRE(!isfinite(want), "'%s'[%zu]: a string element holds %g", v->name, index, want);
        bool nan_text =
            strncmp(text + offset, "\"NaN\"", 5) == 0 || strncmp(text + offset, "\"nan\"", 5) == 0;
        REQUIRE(nan_text || !isnan(want), "'%s'[%zu]: NaN from a string that is not NaN", v->name,
                index);
        return;
    }
    double got = strtod(text + offset, NULL);
    REQUIRE(same(got, want), "'%s'[%zu]: stored %.17g, the text at offset %zu reads %.17g", v->name,
            index, want, offset, got);
}

static void check_var(const ps_data *d, const ps_data_var *v, size_t len)
{
    REQUIRE(v->name != NULL && identifier(v->name), "a name that is not an identifier");
    REQUIRE(ps_data_find(d, v->name) == v, "'%s' not found again", v->name);
    REQUIRE(v->ndim >= 0 && v->ndim <= PS_DATA_MAX_DIMS, "'%s': ndim %d", v->name, v->ndim);
    size_t product = 1;
    for (int k = 0; k < v->ndim; k++)
        product *= v->dims[k];
    REQUIRE(product == v->size, "'%s': size %zu, product of dims %zu", v->name, v->size, product);
    REQUIRE(v->offset < len, "'%s': offset %zu beyond the input", v->name, v->offset);
    if (v->type == PS_DATA_INT) {
        REQUIRE(v->ints != NULL && v->reals == NULL, "'%s': int arrays", v->name);
        for (size_t i = 0; i < v->size; i++)
            REQUIRE(v->ints[i] >= PS_DATA_INT_MIN && v->ints[i] <= PS_DATA_INT_MAX,
                    "'%s'[%zu] = %lld outside Stan's int range", v->name, i, (long long)v->ints[i]);
    } else {
        REQUIRE(v->type == PS_DATA_REAL && v->reals != NULL && v->ints == NULL, "'%s': real arrays",
                v->name);
        REQUIRE(v->first_non_int < v->size, "'%s': first non-int %zu of %zu", v->name,
                v->first_non_int, v->size);
    }
    ps_status status = ps_data_require_int(d, v);
    REQUIRE((status == PS_OK) == (v->type == PS_DATA_INT), "'%s': require_int %d", v->name,
            (int)status);
    if (status != PS_OK) {
        REQUIRE(status == PS_ERR_DATA && strncmp(ps_error_message(), "fuzz.json:", 10) == 0,
                "require_int message: %s", ps_error_message());
        ps_error_clear();
    }
    if (v->size > 0) {
        check_token(d, v, 0);
        check_token(d, v, v->size / 2);
        check_token(d, v, v->size - 1);
        char where[128];
        ps_data_index_text(v, v->size - 1, where, sizeof where);
        size_t shown = strlen(where);
        REQUIRE(shown < sizeof where &&
                    strncmp(where, v->name, shown < strlen(v->name) ? shown : strlen(v->name)) == 0,
                "index text %s", where);
    }
}

/* Walks cJSON's value row-major against v. */
static void agree(const ps_data_var *v, const cJSON *value, int level, size_t *next)
{
    if (cJSON_IsArray(value)) {
        size_t n = (size_t)cJSON_GetArraySize(value);
        REQUIRE(level < v->ndim && v->dims[level] == n, "'%s': cJSON has %zu elements at level %d",
                v->name, n, level);
        const cJSON *item;
        cJSON_ArrayForEach(item, value) agree(v, item, level + 1, next);
        return;
    }
    REQUIRE(level == v->ndim && *next < v->size, "'%s': cJSON has a leaf at level %d", v->name,
            level);
    double got = ps_data_real(v, *next);
    if (cJSON_IsString(value))
        REQUIRE(!isfinite(got), "'%s'[%zu]: a string read as %g", v->name, *next, got);
    else
        REQUIRE(cJSON_IsNumber(value) && same(value->valuedouble, got),
                "'%s'[%zu]: psample %.17g, cJSON %.17g", v->name, *next, got,
                cJSON_IsNumber(value) ? value->valuedouble : 0.0);
    (*next)++;
}

/* True when the input holds something psample reads and cJSON does not. */
static bool beyond_cjson(const char *text, size_t len)
{
    if (strstr(text, "NaN") || strstr(text, "Inf"))
        return true;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        run = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
                  ? run + 1
                  : 0;
        if (run >= 60)
            return true;
    }
    return false;
}

static void differential(const ps_data *d, const char *text, size_t len)
{
    /* cJSON cuts strings at an escaped NUL, so keys would differ. */
    if (memchr(text, '\0', len) != NULL || strstr(text, "\\u0000") != NULL ||
        beyond_cjson(text, len))
        return;
    cJSON *root = cJSON_ParseWithLength(text, len);
    REQUIRE(root != NULL && cJSON_IsObject(root), "psample accepts what cJSON rejects");
    const cJSON *member;
    cJSON_ArrayForEach(member, root)
    {
        if (!identifier(member->string))
            continue;
        const ps_data_var *v = ps_data_find(d, member->string);
        REQUIRE(v != NULL, "'%s' is missing", member->string);
        size_t next = 0;
        agree(v, member, 0, &next);
        REQUIRE(next == v->size, "'%s': cJSON has %zu values, psample %zu", v->name, next, v->size);
    }
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A NUL-terminated copy, for strstr and cJSON. */
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ps_error_clear();
    ps_fault_alloc_after(0);
    long before = ps_fault_alloc_count();
    ps_data *d = NULL;
    ps_status status = ps_data_read_json(PATH, text, size, &d);
    long allocations = ps_fault_alloc_count() - before;
    bool valid = status == PS_OK;
    if (!valid) {
        REQUIRE(status == PS_ERR_DATA, "status %d for a failed read: %s", (int)status,
                ps_error_message());
        REQUIRE(d == NULL, "data after a failed read");
        REQUIRE(strncmp(ps_error_message(), "fuzz.json:", 10) == 0 &&
                    strstr(ps_error_message(), ": error: ") != NULL,
                "message not located: %s", ps_error_message());
        ps_error_clear();
    } else {
        REQUIRE(d != NULL, "no data");
        for (size_t i = 0; i < ps_data_count(d); i++)
            check_var(d, ps_data_at(d, i), size);
        REQUIRE(ps_data_at(d, ps_data_count(d)) == NULL, "ps_data_at beyond the end");
        differential(d, text, size);
        ps_data_destroy(&d);
    }
    if (allocations > 0) {
        uint64_t h = 1469598103934665603u;
        for (size_t i = 0; i < size; i++)
            h = (h ^ data[i]) * 1099511628211u;
        long k = 1 + (long)(h % (uint64_t)allocations);
        ps_error_clear();
        ps_fault_alloc_after(k);
        status = ps_data_read_json(PATH, text, size, &d);
        ps_fault_alloc_after(0);
        bool expected = status == PS_ERR_MEM || (!valid && status == PS_ERR_DATA);
        REQUIRE(expected && d == NULL, "allocation %ld of %ld failed but the read gave status %d",
                k, allocations, (int)status);
        ps_error_clear();
    }
    free(text);
    return 0;
}
