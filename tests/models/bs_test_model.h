/*
 * Boilerplate shared by the hand-written test models (the sources in tests/models, one shared
 * library each). A model source implements the four tm_* hooks and the name tm_model_name;
 * bs_test_model.c exports the BridgeStan 2.x C ABI (bs_model_construct,
 * bs_log_density_gradient, bs_param_constrain, ...) on top of them, so psample loads these
 * libraries exactly as it loads a model built with BridgeStan.
 *
 * Conventions the hooks follow (those of Stan and BridgeStan):
 * - theta is the unconstrained parameter vector, in declaration order, each variable in
 *   column-major order (first index fastest).
 * - The log density includes the log-Jacobian of the constraining transforms when
 *   `jacobian` is true, and drops the terms that do not depend on parameters when `propto`
 *   is true, exactly as Stan's `~` statements do.
 * - grad may be NULL (value only).
 * - Failures return -1 and set *err to a message allocated with malloc (tm_fail), which the
 *   caller releases with bs_free_error_msg.
 * - Everything is read-only after construction, so calls from several threads at once are
 *   safe; per-call scratch memory comes from malloc.
 */
#ifndef PS_TEST_MODEL_H
#define PS_TEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* log(sqrt(2 pi)) */
#define TM_LOG_SQRT_2PI 0.91893853320467274178
#define TM_PI 3.14159265358979323846

typedef struct tm_model {
    void *impl;        /* the model's own state, freed by tm_destruct */
    size_t n_unc;      /* unconstrained parameters */
    size_t n_param;    /* constrained parameters (scalars) */
    size_t n_tp;       /* transformed parameters (scalars) */
    char *param_names; /* comma-separated, built by tm_declare */
    char *tp_names;    /* the same for transformed parameters */
    char *unc_names;   /* unconstrained names */
    char *all_names;   /* parameters, then transformed parameters (set after construct) */
} tm_model;

/* ---- Hooks each model defines ---- */

/* The model's name (bs_name). */
extern const char tm_model_name[];

/* Reads the data (an object, possibly empty) and declares the variables. */
int tm_construct(tm_model *m, const cJSON *data, char **err);

/* Frees m->impl. */
void tm_destruct(tm_model *m);

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err);

/* Writes the parameters (and the transformed parameters if include_tp) in Stan's order. */
int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err);

/* ---- Helpers ---- */

/* Sets *err to a formatted message (malloc); returns -1. */
int tm_fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Declares a variable with ndim dimensions: its names ("x", "x.1", "M.2.3"...) are appended
 * in column-major order. A parameter (tp = false) is also an unconstrained coordinate of the
 * same shape (true for every model here: all constraints are scalar bounds).
 */
int tm_declare(tm_model *m, const char *name, bool tp, int ndim, const size_t *dims, char **err);

/* Appends a ready-made comma-separated list of `count` names (for exotic shapes). */
int tm_declare_raw(tm_model *m, const char *names, size_t count, bool tp, char **err);

/* Data access with Stan-like messages. An absent key is an error unless said otherwise. */
bool tm_data_has(const cJSON *data, const char *name);
int tm_data_int(const cJSON *data, const char *name, long lo, long hi, long *out, char **err);
int tm_data_real(const cJSON *data, const char *name, double *out, char **err);
/* A 1-D array of n reals (integers accepted). */
int tm_data_reals(const cJSON *data, const char *name, size_t n, double *out, char **err);
/* A 1-D array of n integers in [lo, hi]. */
int tm_data_ints(const cJSON *data, const char *name, size_t n, long lo, long hi, int *out,
                 char **err);
/* A rows x cols matrix given as an array of rows; stored column-major (leading dim rows). */
int tm_data_matrix(const cJSON *data, const char *name, size_t rows, size_t cols, double *out,
                   char **err);

#endif
