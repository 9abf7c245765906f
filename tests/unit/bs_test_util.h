/*
 * Helpers for the tests of BridgeStan-ABI models: where the test models are, a scratch
 * folder for data files, a deterministic generator for test inputs, direct calls into a
 * library's ABI (to check propto = false and jacobian = false, which psample never asks
 * for), and finite differences.
 */
#ifndef PS_BS_TEST_UTIL_H
#define PS_BS_TEST_UTIL_H

#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "testlib.h"

/* The test models are built into the build tree (tests/models/models.cmake). */
static inline void bst_model_path(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/tests/models/%s.so", PSAMPLE_BINARY_DIR, name);
}

/* A scratch folder, removed with everything in it by bst_scratch_remove. */
static char bst_scratch[256];

static inline void bst_scratch_create(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(bst_scratch, sizeof bst_scratch, "%s/psample_bs_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(bst_scratch) == NULL) {
        fprintf(stderr, "cannot create a scratch folder %s\n", bst_scratch);
        exit(1);
    }
}

static inline void bst_scratch_remove(void)
{
    char cmd[512];
    if (bst_scratch[0] == '\0' || strstr(bst_scratch, "psample_bs_") == NULL)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", bst_scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", bst_scratch);
}

/* Writes text to scratch/name; the full path goes to path. */
static inline void bst_write(const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", bst_scratch, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* splitmix64 (Steele, Lea and Flood 2014): deterministic test inputs from a fixed seed. */
typedef struct bst_rng {
    uint64_t state;
} bst_rng;

static inline double bst_uniform(bst_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static inline double bst_normal(bst_rng *r)
{
    double u1 = bst_uniform(r), u2 = bst_uniform(r);
    return sqrt(-2.0 * log(u1 + 1e-300)) * cos(6.283185307179586 * u2);
}

/* ---- Direct calls into a library's ABI ---- */

typedef struct bst_raw {
    void *handle;
    void *model;
    void *(*construct)(const char *, unsigned int, char **);
    void (*destruct)(void *);
    void (*free_msg)(char *);
    int (*log_density)(const void *, bool, bool, const double *, double *, char **);
    int (*log_density_gradient)(const void *, bool, bool, const double *, double *, double *,
                                char **);
} bst_raw;

static inline void *bst_sym(void *handle, const char *name)
{
    void *p = dlsym(handle, name);
    if (p == NULL) {
        fprintf(stderr, "symbol %s missing\n", name);
        exit(1);
    }
    return p;
}

/* Opens a library and constructs its model with data; exits on failure. */
static inline void bst_raw_open(bst_raw *raw, const char *name, const char *data)
{
    char path[1024];
    bst_model_path(name, path, sizeof path);
    memset(raw, 0, sizeof *raw);
    raw->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (raw->handle == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, dlerror());
        exit(1);
    }
    void *p;
    p = bst_sym(raw->handle, "bs_model_construct");
    memcpy(&raw->construct, &p, sizeof p);
    p = bst_sym(raw->handle, "bs_model_destruct");
    memcpy(&raw->destruct, &p, sizeof p);
    p = bst_sym(raw->handle, "bs_free_error_msg");
    memcpy(&raw->free_msg, &p, sizeof p);
    p = bst_sym(raw->handle, "bs_log_density");
    memcpy(&raw->log_density, &p, sizeof p);
    p = bst_sym(raw->handle, "bs_log_density_gradient");
    memcpy(&raw->log_density_gradient, &p, sizeof p);
    char *err = NULL;
    raw->model = raw->construct(data, 1, &err);
    if (raw->model == NULL) {
        fprintf(stderr, "cannot construct %s: %s\n", name, err ? err : "?");
        exit(1);
    }
}

static inline void bst_raw_close(bst_raw *raw)
{
    raw->destruct(raw->model);
    dlclose(raw->handle);
}

/* The log density through the ABI with explicit propto/jacobian; NaN on failure. */
static inline double bst_raw_lp(const bst_raw *raw, bool propto, bool jacobian, const double *theta)
{
    double lp = NAN;
    char *err = NULL;
    if (raw->log_density(raw->model, propto, jacobian, theta, &lp, &err) != 0) {
        fprintf(stderr, "log_density failed: %s\n", err ? err : "?");
        raw->free_msg(err);
        return NAN;
    }
    return lp;
}

/* ---- Closed forms ---- */

static inline double bst_normal_lpdf(double y, double mu, double sigma)
{
    double z = (y - mu) / sigma;
    return -0.5 * z * z - log(sigma) - 0.5 * log(2.0 * 3.14159265358979323846);
}

static inline double bst_cauchy_lpdf(double y, double mu, double sigma)
{
    double z = (y - mu) / sigma;
    return -log(3.14159265358979323846) - log(sigma) - log1p(z * z);
}

/*
 * Checks the model's gradient against a fourth-order central difference of its own log
 * density (psample's interface, propto and Jacobian as the sampler uses them) at theta.
 */
static inline void bst_check_gradient(const ps_model *model, ps_model_workspace *ws,
                                      const double *theta, const char *what)
{
    size_t dim = ps_model_dim(model);
    double *x = malloc(dim * sizeof(double));
    double *grad = malloc(dim * sizeof(double));
    double lp;
    memcpy(x, theta, dim * sizeof(double));
    ps_status st = ps_model_log_density_gradient(model, ws, x, &lp, grad);
    CHECK(st == PS_OK && isfinite(lp), "%s: log density at the test point: status %d, lp %g", what,
          (int)st, lp);
    for (size_t i = 0; i < dim; i++) {
        double h = 1e-3 * (fabs(x[i]) > 1 ? fabs(x[i]) : 1.0);
        double f[4];
        const double steps[4] = {2, 1, -1, -2};
        for (int s = 0; s < 4; s++) {
            x[i] = theta[i] + steps[s] * h;
            ps_model_log_density(model, ws, x, &f[s]);
        }
        x[i] = theta[i];
        double fd = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
        double scale = fabs(fd) > 1 ? fabs(fd) : 1.0;
        CHECK(fabs(grad[i] - fd) <= 1e-6 * scale,
              "%s: gradient[%zu] (%s) is %.12g, finite differences give %.12g", what, i,
              ps_model_unc_name(model, i), grad[i], fd);
    }
    free(x);
    free(grad);
}

#endif
