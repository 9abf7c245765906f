/*
 * The model interface: one table of functions that every model implementation provides
 * (a compiled Stan program, a BridgeStan-ABI shared library, a C model in a test).
 *
 * A ps_model is immutable after construction and may be shared by many chains and
 * threads at once. Everything that changes during an evaluation lives in a per-chain
 * workspace (ps_model_workspace), created once by ps_model_workspace_create(); evaluating
 * the log density and its gradient never allocates.
 *
 * Scales: the sampler works on the unconstrained scale (dimension ps_model_dim). The log
 * density includes the log-Jacobian of the constraining transform and drops constants in
 * `~` statements, as Stan's sampler does (propto = true, jacobian = true). Output values
 * (parameters and transformed parameters on the constrained scale) come from
 * ps_model_constrain() as one flat vector of ps_model_output_size() doubles; each output
 * variable occupies a contiguous slice in row-major order (last index fastest), the order
 * of ArviZ arrays.
 *
 * All functions here are local.
 */
#ifndef PS_MODEL_H
#define PS_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

#define PS_MODEL_MAX_DIMS 8

typedef struct ps_model ps_model;
typedef struct ps_model_workspace ps_model_workspace;

/* One output variable: a parameter or transformed parameter, with its shape. */
typedef struct ps_var_info {
    char *name;                     /* Stan name, e.g. "theta" */
    int ndim;                       /* 0 for a scalar */
    size_t dims[PS_MODEL_MAX_DIMS]; /* extents, outermost first */
    size_t offset;                  /* index of the first element in the output vector */
    size_t size;                    /* number of elements (product of dims; 1 for scalars) */
    bool transformed;               /* a transformed parameter (else a parameter) */
} ps_var_info;

/*
 * The table an implementation provides. `impl` is the implementation's immutable model
 * object, `ws` its per-chain workspace.
 *
 * log_density_gradient: writes the log density at theta (unconstrained, length dim) to
 *   *log_density and its gradient to grad (length dim). Returns
 *   - PS_OK for any point the model could evaluate, including non-finite results
 *     (the sampler treats those as divergences);
 *   - PS_ERR_NUMERIC when the model rejected the point (a domain error raised inside the
 *     model, such as a negative scale): *log_density is set to -INFINITY and the model's
 *     message is kept in the workspace (ps_model_workspace_message), not in the thread's
 *     error slot, because the sampler rejects the proposal and goes on;
 *   - any other status for a failure that must stop the run (recorded with ps_error).
 * log_density (optional, may be NULL): the same without the gradient.
 * constrain: writes the output vector (length output_size) for theta; same statuses.
 */
typedef struct ps_model_ops {
    const char *name; /* implementation name, e.g. "bridgestan" */
    void (*destroy)(void *impl);
    ps_status (*workspace_create)(const void *impl, void **ws);
    void (*workspace_destroy)(void *ws);
    ps_status (*log_density_gradient)(const void *impl, void *ws, const double *theta,
                                      double *log_density, double *grad);
    ps_status (*log_density)(const void *impl, void *ws, const double *theta, double *log_density);
    ps_status (*constrain)(const void *impl, void *ws, const double *theta, double *out);
    /* The message of the last rejection in ws ("" if none). */
    const char *(*workspace_message)(const void *ws);
} ps_model_ops;

/* Description an implementation hands to ps_model_create. */
typedef struct ps_model_desc {
    size_t dim;        /* number of unconstrained parameters */
    char **unc_names;  /* dim names of unconstrained coordinates (may be NULL) */
    ps_var_info *vars; /* output variables, in output order */
    size_t n_vars;
    const char *source;      /* model source text for the trace metadata (may be NULL) */
    const char *description; /* e.g. "BridgeStan model lib.so (BridgeStan 2.4.1)" */
} ps_model_desc;

/*
 * Wraps an implementation into a ps_model. Takes ownership of impl (freed with
 * ops->destroy, also on failure) and copies desc (names, vars, source). Output offsets
 * and sizes are recomputed from the dims and checked. Local.
 */
ps_status ps_model_create(const ps_model_ops *ops, void *impl, const ps_model_desc *desc,
                          ps_model **out);

/* Frees the model; accepts NULL and sets *model to NULL. */
void ps_model_destroy(ps_model **model);

size_t ps_model_dim(const ps_model *model);
size_t ps_model_output_size(const ps_model *model);
size_t ps_model_n_vars(const ps_model *model);
const ps_var_info *ps_model_var(const ps_model *model, size_t i);
/* Name of unconstrained coordinate i, e.g. "theta.3" ("" when unknown). */
const char *ps_model_unc_name(const ps_model *model, size_t i);
const char *ps_model_source(const ps_model *model);
const char *ps_model_description(const ps_model *model);
const ps_model_ops *ps_model_get_ops(const ps_model *model);

ps_status ps_model_workspace_create(const ps_model *model, ps_model_workspace **ws);
void ps_model_workspace_destroy(ps_model_workspace **ws);
const char *ps_model_workspace_message(const ps_model_workspace *ws);

/* Counts gradient evaluations of this workspace (for benchmarks and reports). */
unsigned long long ps_model_workspace_gradient_count(const ps_model_workspace *ws);

/* Measures the time spent in log_density_gradient (for benchmarks; off by default: two
 * clock reads per call). Local. */
void ps_model_workspace_set_timing(ps_model_workspace *ws, bool on);
double ps_model_workspace_gradient_seconds(const ps_model_workspace *ws);

ps_status ps_model_log_density_gradient(const ps_model *model, ps_model_workspace *ws,
                                        const double *theta, double *log_density, double *grad);
ps_status ps_model_log_density(const ps_model *model, ps_model_workspace *ws, const double *theta,
                               double *log_density);
ps_status ps_model_constrain(const ps_model *model, ps_model_workspace *ws, const double *theta,
                             double *out);

/* Formats the flat output element `index` as "name[i,j]" (1-based, Stan style) into buf. */
void ps_model_output_element_name(const ps_model *model, size_t index, char *buf, size_t buf_size);

/* ---------------------------------------------------------------------------------------
 * Implementations
 * ------------------------------------------------------------------------------------- */

/*
 * Loads a model compiled into a shared library with the BridgeStan C ABI and constructs
 * it with data (a path to a Stan JSON data file, a JSON string, or "" for none) and seed.
 * Output variables are the parameters and transformed parameters (src/model/bridgestan.c
 * describes complex values and tuples). Errors: PS_ERR_MODEL naming the library and the
 * dlopen/dlsym message or the model's own construction message; PS_ERR_IO for a data file
 * that cannot be read; PS_ERR_MEM. Local.
 */
ps_status ps_model_bridgestan_create(const char *library_path, const char *data, unsigned int seed,
                                     ps_model **out);

/*
 * Compiles the Stan program at stan_path (current Stan syntax; the subset of DESIGN.md,
 * Section 8) with the data of data_path (Stan JSON; NULL or "" for none) into a model:
 * the program is parsed and checked, every data-block variable is checked against the
 * data file (type, declared sizes, constraints), transformed data run once, and the rest
 * is lowered to an immutable form evaluated on the autodiff engine (src/model/stan_*.c).
 * seed is reserved for random numbers in transformed data. Output variables are the
 * parameters and transformed parameters; generated quantities are not run yet (a warning
 * says so). Errors: PS_ERR_MODEL (located in the program: syntax, types, features not
 * supported yet), PS_ERR_DATA (located at the declaration, naming the variable and both
 * shapes), PS_ERR_IO, PS_ERR_MEM. Local.
 */
ps_status ps_model_stan_create(const char *stan_path, const char *data_path, unsigned int seed,
                               ps_model **out);

#endif
