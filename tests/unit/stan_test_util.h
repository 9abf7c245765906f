/*
 * Helpers for the tests of compiled Stan models: models from program text, central finite
 * differences of the log density, deterministic random points.
 */
#ifndef PS_STAN_TEST_UTIL_H
#define PS_STAN_TEST_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "testlib.h"

/* A scratch folder for programs and data written by a test. */
static char stt_scratch[256];

static inline void stt_scratch_create(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(stt_scratch, sizeof stt_scratch, "%s/psample_stan_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(stt_scratch) == NULL) {
        fprintf(stderr, "cannot create a scratch folder %s\n", stt_scratch);
        exit(1);
    }
}

static inline void stt_scratch_remove(void)
{
    char cmd[512];
    if (stt_scratch[0] == '\0' || strstr(stt_scratch, "psample_stan_") == NULL)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", stt_scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", stt_scratch);
}

static inline void stt_write(const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", stt_scratch, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* Compiles program text with data text (NULL for none); returns the status, the model in
 * *out. */
static inline ps_status stt_compile(const char *program, const char *data, ps_model **out)
{
    static int counter = 0;
    char spath[512], dpath[512] = "", name[64];
    counter++;
    snprintf(name, sizeof name, "m%d.stan", counter);
    stt_write(name, program, spath, sizeof spath);
    if (data != NULL) {
        snprintf(name, sizeof name, "d%d.json", counter);
        stt_write(name, data, dpath, sizeof dpath);
    }
    return ps_model_stan_create(spath, data ? dpath : NULL, 1, out);
}

/* splitmix64 (Steele, Lea and Flood 2014). */
typedef struct stt_rng {
    uint64_t state;
} stt_rng;

static inline double stt_uniform(stt_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/*
 * Compares the gradient at theta with central finite differences of the log density.
 * Returns the largest ratio |difference - gradient| / tolerance over the coordinates
 * (below 1 passes), or -1 when an evaluation failed. The tolerance of coordinate i is
 * rel max(1, |g_i|) plus what rounding of the two log densities allows, 100 eps (|lp+| +
 * |lp-|) / (2 h): models with log densities of 1e10 lose that many digits in differences.
 * Step h = 1e-6 max(1, |theta_i|); the truncation error O(h^2) is below both terms.
 */
static inline double stt_fd_ratio(const ps_model *m, ps_model_workspace *ws, const double *theta,
                                  double rel, size_t *worst)
{
    size_t d = ps_model_dim(m);
    double *g = calloc(d + 1, sizeof(double)), *t = malloc((d + 1) * sizeof(double));
    double lp = 0.0, ratio = 0.0;
    if (ps_model_log_density_gradient(m, ws, theta, &lp, g) != PS_OK || !isfinite(lp)) {
        free(g);
        free(t);
        return -1.0;
    }
    memcpy(t, theta, d * sizeof(double));
    for (size_t i = 0; i < d; i++) {
        double step = 1e-6 * (fabs(theta[i]) > 1.0 ? fabs(theta[i]) : 1.0);
        double lp1, lp2;
        t[i] = theta[i] + step;
        ps_status s1 = ps_model_log_density(m, ws, t, &lp1);
        t[i] = theta[i] - step;
        ps_status s2 = ps_model_log_density(m, ws, t, &lp2);
        t[i] = theta[i];
        if (s1 != PS_OK || s2 != PS_OK || !isfinite(lp1) || !isfinite(lp2)) {
            ratio = -1.0;
            break;
        }
        double fd = (lp1 - lp2) / (2.0 * step);
        double tol = rel * (fabs(g[i]) > 1.0 ? fabs(g[i]) : 1.0) +
                     100.0 * 2.220446049250313e-16 * (fabs(lp1) + fabs(lp2)) / (2.0 * step);
        double r = fabs(fd - g[i]) / tol;
        if (r > ratio || isnan(r)) {
            ratio = isnan(r) ? INFINITY : r;
            if (worst)
                *worst = i;
        }
    }
    free(g);
    free(t);
    return ratio;
}

#endif
