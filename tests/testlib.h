/*
 * A minimal test harness: CHECK records a failure with a message that says what was
 * expected and what came, and the test goes on; TEST_EXIT returns non-zero if anything
 * failed. A test that cannot run (missing ../shared data) exits with TEST_SKIP_CODE, which
 * CTest reports as skipped.
 */
#ifndef PS_TESTLIB_H
#define PS_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP_CODE 77

static int test_failures_ = 0;
static int test_checks_ = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        test_checks_++;                                                                            \
        if (!(cond)) {                                                                             \
            test_failures_++;                                                                      \
            fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Relative closeness with an absolute floor, for values that may be zero. */
static inline int test_close(double got, double want, double rel)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    return fabs(got - want) <= rel * scale;
}

#define CHECK_CLOSE(got, want, rel, what)                                                          \
    CHECK(test_close((got), (want), (rel)), "%s is %.17g, expected %.17g (rel. tol. %g)", (what),  \
          (double)(got), (double)(want), (double)(rel))

#define CHECK_STR_CONTAINS(haystack, needle)                                                       \
    CHECK((haystack) != NULL && strstr((haystack), (needle)) != NULL,                              \
          "expected text containing \"%s\", got \"%s\"", (needle),                                 \
          (haystack) ? (haystack) : "(null)")

#define TEST_EXIT()                                                                                \
    do {                                                                                           \
        if (test_failures_ > 0) {                                                                  \
            fprintf(stderr, "%d of %d checks failed\n", test_failures_, test_checks_);             \
            return 1;                                                                              \
        }                                                                                          \
        printf("all %d checks passed\n", test_checks_);                                            \
        return 0;                                                                                  \
    } while (0)

/* The ../shared folder of the developers' workspace, or NULL (tests then skip). The
 * build passes PSAMPLE_SHARED_DIR; the environment variable of the same name wins. */
static inline const char *test_shared_dir(void)
{
    const char *env = getenv("PSAMPLE_SHARED_DIR");
    const char *dir = env && *env ? env : NULL;
#ifdef PSAMPLE_SHARED_DIR
    if (dir == NULL)
        dir = PSAMPLE_SHARED_DIR;
#endif
    if (dir == NULL)
        return NULL;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/docs/DESIGN.md", dir);
    FILE *f = fopen(probe, "r");
    if (f == NULL)
        return NULL;
    fclose(f);
    return dir;
}

#define TEST_REQUIRE_SHARED(var)                                                                   \
    const char *var = test_shared_dir();                                                           \
    if (var == NULL) {                                                                             \
        printf("SKIP: ../shared (reference data of the psample workspace) is absent\n");           \
        return TEST_SKIP_CODE;                                                                     \
    }

#endif
