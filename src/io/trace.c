/*
 * The trace writer (DESIGN.md Section 10). trace.h describes the file layout, the block
 * format and the failure contract; this file explains the choices behind them.
 *
 * Every public function is split in two phases. The local phase checks the arguments,
 * allocates everything the call will need and agrees on the outcome with ps_comm_agree;
 * nothing in it touches the file. The collective phase then makes the same sequence of
 * HDF5 calls on every rank and allocates nothing of its own, so the only failures left
 * are HDF5's, inside operations that other ranks may already be blocked in: those abort
 * the job with a message tagged by rank (STYLE.md, Errors).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "io/trace.h"
#include "par/par.h"

enum {
    CREATED_AT_CAP = 128,          /* bytes for created_at, with its terminator */
    STACK_TEXT_CAP = 1024,         /* bytes for a description of HDF5's error stack */
    DEFAULT_DRAWS_HINT = 1000,     /* draws per chain when the caller gives no hint */
    DEFAULT_CHUNK_BYTES = 4194304, /* 4 MiB: within the 1-10 MB that DESIGN measured */
    MDC_INITIAL_BYTES = 16777216,  /* metadata cache: 16 MiB to start with */
    MDC_DIRTY_THRESHOLD = 33554432 /* the largest sync threshold HDF5 1.10 accepts */
};

/* Groups of each part: [part][0] holds the variables, [part][1] the statistics. */
static const char *const group_names[2][2] = {{"posterior", "sample_stats"},
                                              {"warmup_posterior", "warmup_sample_stats"}};

/* A posterior variable or a statistic, as the writer keeps it. */
typedef struct trace_var {
    char *name;
    ps_trace_type type;
    int ndim;
    hsize_t dims[PS_TRACE_MAX_DIMS];
    size_t size;   /* elements per draw (product of dims; 1 for a scalar) */
    size_t offset; /* elements per draw of the variables before this one */
} trace_var;

/* One open InferenceData group with a draw axis. */
typedef struct trace_group {
    hid_t group;
    hid_t draw; /* the draw coordinate */
    hid_t *ds;  /* one dataset per variable or statistic */
} trace_group;

/* One part of the run (sampling or warmup): a variables group and a statistics group that
 * always hold the same number of draws. */
typedef struct trace_part {
    bool enabled;
    size_t n_draws;
    size_t draws_hint;
    trace_group post;
    trace_group stats;
} trace_part;

struct ps_trace {
    MPI_Comm comm; /* a duplicate of the caller's communicator */
    int rank;
    int size;
    char *path;
    hid_t file;
    hid_t dxpl; /* collective transfers */
    size_t n_chains;
    size_t first_chain;
    size_t n_local;
    trace_var *vars;
    size_t n_vars;
    size_t values_per_draw;
    trace_var *stats;
    size_t n_stats;
    trace_part part[2];
    size_t chunk_bytes;
    bool two_phase;
    int64_t *ibuf; /* coordinate values written by rank 0 */
    size_t ibuf_cap;
    uint64_t *gather; /* 3 entries per rank: first chain, chain count, description hash */
    char *name_buf;   /* scratch for coordinate names */
    size_t name_cap;
    double last_flush;
};

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

static size_t type_size(ps_trace_type type)
{
    switch (type) {
    case PS_TRACE_F64:
    case PS_TRACE_I64:
        return 8;
    case PS_TRACE_I32:
        return 4;
    case PS_TRACE_BOOL:
        return 1;
    }
    return 0;
}

static const char *type_name(ps_trace_type type)
{
    switch (type) {
    case PS_TRACE_F64:
        return "float64";
    case PS_TRACE_I64:
        return "int64";
    case PS_TRACE_I32:
        return "int32";
    case PS_TRACE_BOOL:
        return "bool (int8)";
    }
    return "unknown";
}

/* The stored type: little-endian, as numpy and netCDF-C write by default on x86. */
static hid_t file_type(ps_trace_type type)
{
    switch (type) {
    case PS_TRACE_F64:
        return H5T_IEEE_F64LE;
    case PS_TRACE_I64:
        return H5T_STD_I64LE;
    case PS_TRACE_I32:
        return H5T_STD_I32LE;
    case PS_TRACE_BOOL:
        return H5T_STD_I8LE;
    }
    return H5T_STD_I8LE;
}

static hid_t mem_type(ps_trace_type type)
{
    switch (type) {
    case PS_TRACE_F64:
        return H5T_NATIVE_DOUBLE;
    case PS_TRACE_I64:
        return H5T_NATIVE_INT64;
    case PS_TRACE_I32:
        return H5T_NATIVE_INT32;
    case PS_TRACE_BOOL:
        return H5T_NATIVE_INT8;
    }
    return H5T_NATIVE_INT8;
}

static const ps_trace_array nuts_stats[PS_NUTS_N_STATS] = {
    {"lp", PS_TRACE_F64, 0, {0}, NULL},        {"acceptance_rate", PS_TRACE_F64, 0, {0}, NULL},
    {"step_size", PS_TRACE_F64, 0, {0}, NULL}, {"tree_depth", PS_TRACE_I64, 0, {0}, NULL},
    {"n_steps", PS_TRACE_I64, 0, {0}, NULL},   {"diverging", PS_TRACE_BOOL, 0, {0}, NULL},
    {"energy", PS_TRACE_F64, 0, {0}, NULL},    {"energy_error", PS_TRACE_F64, 0, {0}, NULL},
};

const ps_trace_array *ps_trace_nuts_stats(void)
{
    return nuts_stats;
}

/* ---------------------------------------------------------------------------------------
 * HDF5 failures
 * ------------------------------------------------------------------------------------- */

typedef struct stack_text {
    int count;
    char outer[256]; /* the API function's own description */
    char inner[512]; /* the innermost description: usually the cause */
    char minor[128]; /* the innermost minor error message, e.g. "file exists" */
} stack_text;

static herr_t stack_walk(unsigned n, const H5E_error2_t *err, void *data)
{
    stack_text *st = data;
    const char *desc = err->desc ? err->desc : "";
    if (n == 0)
        snprintf(st->outer, sizeof st->outer, "%s", desc);
    snprintf(st->inner, sizeof st->inner, "%s", desc);
    st->minor[0] = '\0';
    if (H5Eget_msg(err->min_num, NULL, st->minor, sizeof st->minor) < 0)
        st->minor[0] = '\0';
    st->count++;
    return 0;
}

/* Describes (and clears) HDF5's error stack of this thread: the outermost and innermost
 * descriptions, the latter with its minor message. */
static void stack_describe(char *buf, size_t cap)
{
    stack_text st;
    memset(&st, 0, sizeof st);
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, stack_walk, &st) < 0)
        st.count = 0;
    H5Eclear2(H5E_DEFAULT);
    if (st.count == 0)
        snprintf(buf, cap, "HDF5 gave no details");
    else if (st.count == 1 || strcmp(st.outer, st.inner) == 0)
        snprintf(buf, cap, "%s (%s)", st.inner, st.minor);
    else
        snprintf(buf, cap, "%s: %s (%s)", st.outer, st.inner, st.minor);
}

/* "dataset posterior/theta", "group posterior", or "the root group". */
static void object_text(char *buf, size_t cap, const char *group, const char *name)
{
    if (group != NULL && name != NULL)
        snprintf(buf, cap, "%s/%s", group, name);
    else if (group != NULL)
        snprintf(buf, cap, "group %s", group);
    else if (name != NULL)
        snprintf(buf, cap, "%s", name);
    else
        snprintf(buf, cap, "the root group");
}

/* Translates a failed HDF5 call into PS_ERR_IO (for failures all ranks see alike). */
static ps_status h5_error(const char *call, const char *path, const char *group, const char *name)
{
    char why[STACK_TEXT_CAP], what[512];
    stack_describe(why, sizeof why);
    object_text(what, sizeof what, group, name);
    return ps_error(PS_ERR_IO, "trace file %s: %s failed for %s: %s", path, call, what, why);
}

/* A failure inside a collective HDF5 operation: other ranks may be blocked in it, so no
 * status can be agreed on. Prints the cause tagged by rank and aborts the job. */
static _Noreturn void h5_abort(const ps_trace *t, const char *call, const char *group,
                               const char *name, const char *reason)
{
    char why[STACK_TEXT_CAP], what[512];
    if (reason != NULL)
        snprintf(why, sizeof why, "%s", reason);
    else
        stack_describe(why, sizeof why);
    object_text(what, sizeof what, group, name);
    int world_rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    fprintf(stderr,
            "psample: rank %d: trace file %s: %s failed for %s inside a collective "
            "operation: %s\n",
            world_rank, t->path, call, what, why);
    fflush(stderr);
    MPI_Abort(t->comm != MPI_COMM_NULL ? t->comm : MPI_COMM_WORLD, PS_EXIT_RUNTIME);
    abort();
}

static hid_t must_id(const ps_trace *t, hid_t id, const char *call, const char *group,
                     const char *name)
{
    if (id < 0)
        h5_abort(t, call, group, name, NULL);
    return id;
}

static void must_ok(const ps_trace *t, herr_t rc, const char *call, const char *group,
                    const char *name)
{
    if (rc < 0)
        h5_abort(t, call, group, name, NULL);
}

/* ---------------------------------------------------------------------------------------
 * Checking a description (local)
 * ------------------------------------------------------------------------------------- */

/* Names follow netCDF's rule (NC_check_name), so that netCDF-C and xarray accept them:
 * the first byte alphanumeric, '_' or part of a UTF-8 sequence; no '/', no control
 * characters, no trailing space. */
static bool name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return false;
    unsigned char first = (unsigned char)name[0];
    if (!(first >= 0x80 || first == '_' || (first >= '0' && first <= '9') ||
          (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z')))
        return false;
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, len++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return name[len - 1] != ' ';
}

static bool type_ok(ps_trace_type type)
{
    return type == PS_TRACE_F64 || type == PS_TRACE_I64 || type == PS_TRACE_I32 ||
           type == PS_TRACE_BOOL;
}

/* Checks one array of a group and returns its number of elements per draw (or of data). */
static ps_status check_array(const char *group, const ps_trace_array *a, size_t *size)
{
    if (!name_ok(a->name))
        return ps_error(PS_ERR_CONFIG,
                        "trace: '%s' in group %s is not a valid variable name (it must start "
                        "with a letter, digit or '_' and contain no '/' or control characters)",
                        a->name ? a->name : "(null)", group);
    if (!type_ok(a->type))
        return ps_error(PS_ERR_CONFIG, "trace: variable %s in group %s has an unknown type (%d)",
                        a->name, group, (int)a->type);
    if (a->ndim < 0 || a->ndim > PS_TRACE_MAX_DIMS)
        return ps_error(PS_ERR_CONFIG,
                        "trace: variable %s in group %s has %d dimensions; expected 0 to %d",
                        a->name, group, a->ndim, PS_TRACE_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        if (!ps_size_mul(n, a->dims[i], &n) || a->dims[i] > (size_t)INT64_MAX)
            return ps_error(PS_ERR_CONFIG, "trace: variable %s in group %s is too large", a->name,
                            group);
    *size = n;
    return PS_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Checks that every dataset name of a group is unique: the arrays, their coordinates
 * {name}_dim_{i}, and chain and draw when the group has them. Sorting the names finds any
 * repeat in O(N log N), which matters for models with many variables.
 */
static ps_status check_group_names(const char *group, const ps_trace_array *a, size_t n,
                                   bool chain_draw)
{
    size_t count = chain_draw ? 2 : 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(a[i].name);
        count += 1 + (size_t)a[i].ndim;
        bytes += (len + 1) + (size_t)a[i].ndim * (len + 32);
    }
    char **names = NULL, *text = NULL;
    ps_status status = PS_OK;
    PS_TRY(ps_alloc_array(&names, count, sizeof *names, "trace name check"));
    PS_TRY(ps_alloc_array(&text, bytes + 1, 1, "trace name check"));
    size_t k = 0;
    char *p = text;
    if (chain_draw) {
        names[k++] = "chain";
        names[k++] = "draw";
    }
    for (size_t i = 0; i < n; i++) {
        names[k++] = (char *)a[i].name;
        size_t len = strlen(a[i].name);
        for (int d = 0; d < a[i].ndim; d++) {
            snprintf(p, len + 32, "%s_dim_%d", a[i].name, d);
            names[k++] = p;
            p += strlen(p) + 1;
        }
    }
    qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 1; i < count; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            status = ps_error(PS_ERR_CONFIG,
                              "trace: the name %s occurs twice in group %s (variables may not "
                              "be named chain, draw, or like another variable's coordinate "
                              "NAME_dim_I)",
                              names[i], group);
            break;
        }
done:
    ps_free(names);
    ps_free(text);
    return status;
}

static ps_status check_arrays(const char *group, const ps_trace_array *a, size_t n, bool chain_draw,
                              bool data)
{
    if (n > 0 && a == NULL)
        return ps_error(PS_ERR_CONFIG, "trace: %zu arrays for group %s but no table", n, group);
    for (size_t i = 0; i < n; i++) {
        size_t size = 0;
        PS_CHECK(check_array(group, &a[i], &size));
        if (data && size > 0 && a[i].values == NULL)
            return ps_error(PS_ERR_CONFIG, "trace: data array %s in group %s has no values",
                            a[i].name, group);
    }
    return check_group_names(group, a, n, chain_draw);
}

static ps_status check_desc(const char *path, const ps_trace_desc *d)
{
    if (path == NULL || path[0] == '\0')
        return ps_error(PS_ERR_CONFIG, "trace: no file name given");
    if (d == NULL)
        return ps_error(PS_ERR_CONFIG, "trace %s: no description given", path);
    if (d->n_chains == 0)
        return ps_error(PS_ERR_CONFIG, "trace %s: no chains", path);
    if (d->first_chain > d->n_chains || d->n_local_chains > d->n_chains - d->first_chain)
        return ps_error(PS_ERR_CONFIG, "trace %s: this rank's chains %zu..%zu are outside 0..%zu",
                        path, d->first_chain, d->first_chain + d->n_local_chains, d->n_chains - 1);
    if (d->n_chains > (size_t)INT64_MAX)
        return ps_error(PS_ERR_CONFIG, "trace %s: too many chains", path);
    if (d->created_at != NULL && strlen(d->created_at) >= CREATED_AT_CAP)
        return ps_error(PS_ERR_CONFIG, "trace %s: created_at is longer than %d bytes", path,
                        CREATED_AT_CAP - 1);
    PS_CHECK(check_arrays("posterior", d->vars, d->n_vars, true, false));
    size_t total = 0;
    for (size_t i = 0; i < d->n_vars; i++) {
        size_t size = 1;
        for (int k = 0; k < d->vars[i].ndim; k++)
            size *= d->vars[i].dims[k]; /* checked for overflow by check_arrays */
        if (d->vars[i].type != PS_TRACE_F64)
            return ps_error(PS_ERR_CONFIG,
                            "trace: posterior variable %s has type %s; posterior variables "
                            "are float64",
                            d->vars[i].name, type_name(d->vars[i].type));
        if (!ps_size_add(total, size, &total))
            return ps_error(PS_ERR_CONFIG, "trace: the posterior variables are too large");
    }
    PS_CHECK(check_arrays("sample_stats", d->stats, d->n_stats, true, false));
    for (size_t i = 0; i < d->n_stats; i++)
        if (d->stats[i].ndim != 0)
            return ps_error(PS_ERR_CONFIG,
                            "trace: statistic %s has %d dimensions; statistics are scalars",
                            d->stats[i].name, d->stats[i].ndim);
    PS_CHECK(check_arrays("observed_data", d->observed_data, d->n_observed_data, false, true));
    PS_CHECK(check_arrays("constant_data", d->constant_data, d->n_constant_data, false, true));
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Hash of a description: every rank must describe the same file
 * ------------------------------------------------------------------------------------- */

/* FNV-1a, 64 bits (Fowler, Noll and Vo): enough to catch ranks that disagree by mistake. */
static void hash_bytes(uint64_t *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        *h ^= p[i];
        *h *= 1099511628211ull;
    }
}

static void hash_u64(uint64_t *h, uint64_t v)
{
    hash_bytes(h, &v, sizeof v);
}

static void hash_text(uint64_t *h, const char *s)
{
    if (s == NULL) {
        hash_u64(h, UINT64_MAX);
        return;
    }
    size_t n = strlen(s);
    hash_u64(h, n);
    hash_bytes(h, s, n);
}

static void hash_arrays(uint64_t *h, const ps_trace_array *a, size_t n, bool values)
{
    hash_u64(h, n);
    for (size_t i = 0; i < n; i++) {
        hash_text(h, a[i].name);
        hash_u64(h, (uint64_t)a[i].type);
        hash_u64(h, (uint64_t)a[i].ndim);
        size_t size = 1;
        for (int k = 0; k < a[i].ndim; k++) {
            hash_u64(h, a[i].dims[k]);
            size *= a[i].dims[k];
        }
        if (values && size > 0)
            hash_bytes(h, a[i].values, size * type_size(a[i].type));
    }
}

static uint64_t desc_hash(const ps_trace_desc *d)
{
    uint64_t h = 14695981039346656037ull;
    hash_arrays(&h, d->vars, d->n_vars, false);
    hash_arrays(&h, d->stats, d->n_stats, false);
    hash_u64(&h, d->save_warmup);
    hash_u64(&h, d->n_chains);
    hash_arrays(&h, d->observed_data, d->n_observed_data, true);
    hash_arrays(&h, d->constant_data, d->n_constant_data, true);
    hash_text(&h, d->inference_library_version);
    hash_text(&h, d->config_text);
    hash_text(&h, d->model_source);
    hash_text(&h, d->layout_text);
    hash_u64(&h, d->seed);
    hash_u64(&h, d->draws_hint);
    hash_u64(&h, d->warmup_draws_hint);
    hash_u64(&h, d->chunk_bytes);
    hash_u64(&h, d->two_phase_io);
    hash_u64(&h, d->force);
    return h;
}

/* ---------------------------------------------------------------------------------------
 * The trace object
 * ------------------------------------------------------------------------------------- */

static void group_init(trace_group *g)
{
    g->group = H5I_INVALID_HID;
    g->draw = H5I_INVALID_HID;
    g->ds = NULL;
}

static ps_status copy_vars(const ps_trace_array *a, size_t n, trace_var **out)
{
    PS_CHECK(ps_alloc_array(out, n > 0 ? n : 1, sizeof **out, "trace variables"));
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        trace_var *v = &(*out)[i];
        v->name = ps_strdup(a[i].name);
        if (v->name == NULL)
            return ps_error(PS_ERR_MEM, "out of memory copying trace variable names");
        v->type = a[i].type;
        v->ndim = a[i].ndim;
        v->size = 1;
        for (int k = 0; k < a[i].ndim; k++) {
            v->dims[k] = (hsize_t)a[i].dims[k];
            v->size *= a[i].dims[k];
        }
        v->offset = offset;
        offset += v->size;
    }
    return PS_OK;
}

static void free_vars(trace_var *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        ps_free(v[i].name);
    ps_free(v);
}

/* Frees the memory of a trace whose file is closed (or was never opened). */
static void trace_free(ps_trace *t)
{
    if (t == NULL)
        return;
    for (int p = 0; p < 2; p++) {
        ps_free(t->part[p].post.ds);
        ps_free(t->part[p].stats.ds);
    }
    free_vars(t->vars, t->n_vars);
    free_vars(t->stats, t->n_stats);
    ps_free(t->path);
    ps_free(t->ibuf);
    ps_free(t->gather);
    ps_free(t->name_buf);
    if (t->comm != MPI_COMM_NULL)
        MPI_Comm_free(&t->comm);
    ps_free(t);
}

/* Largest coordinate that create writes at once: the chain count, every extent. */
static size_t max_extent(const ps_trace_desc *d)
{
    size_t m = d->n_chains;
    const ps_trace_array *tables[3] = {d->vars, d->observed_data, d->constant_data};
    size_t counts[3] = {d->n_vars, d->n_observed_data, d->n_constant_data};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < counts[k]; i++)
            for (int j = 0; j < tables[k][i].ndim; j++)
                if (tables[k][i].dims[j] > m)
                    m = tables[k][i].dims[j];
    return m;
}

static size_t max_name_len(const ps_trace_desc *d)
{
    size_t m = 0;
    const ps_trace_array *tables[4] = {d->vars, d->stats, d->observed_data, d->constant_data};
    size_t counts[4] = {d->n_vars, d->n_stats, d->n_observed_data, d->n_constant_data};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < counts[k]; i++) {
            size_t len = strlen(tables[k][i].name);
            if (len > m)
                m = len;
        }
    return m;
}

/* Allocates a trace for desc (local); coord_values: how many coordinate values rank 0 may
 * need to write at once. */
static ps_status trace_alloc(MPI_Comm comm, const char *path, const ps_trace_desc *d,
                             size_t coord_values, ps_trace **out)
{
    ps_status status = PS_OK;
    ps_trace *t = ps_calloc(1, sizeof *t);
    if (t == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating the trace writer for %s", path);
    t->comm = MPI_COMM_NULL;
    t->file = H5I_INVALID_HID;
    t->dxpl = H5I_INVALID_HID;
    MPI_Comm_rank(comm, &t->rank);
    MPI_Comm_size(comm, &t->size);
    for (int p = 0; p < 2; p++) {
        group_init(&t->part[p].post);
        group_init(&t->part[p].stats);
    }
    t->n_chains = d->n_chains;
    t->first_chain = d->first_chain;
    t->n_local = d->n_local_chains;
    t->chunk_bytes = d->chunk_bytes > 0 ? d->chunk_bytes : DEFAULT_CHUNK_BYTES;
    t->two_phase = d->two_phase_io;
    t->part[PS_TRACE_SAMPLING].enabled = true;
    t->part[PS_TRACE_SAMPLING].draws_hint = d->draws_hint > 0 ? d->draws_hint : DEFAULT_DRAWS_HINT;
    t->part[PS_TRACE_WARMUP].enabled = d->save_warmup;
    t->part[PS_TRACE_WARMUP].draws_hint =
        d->warmup_draws_hint > 0 ? d->warmup_draws_hint : DEFAULT_DRAWS_HINT;
    t->path = ps_strdup(path);
    if (t->path == NULL) {
        status = ps_error(PS_ERR_MEM, "out of memory creating the trace writer for %s", path);
        goto done;
    }
    t->n_vars = d->n_vars;
    PS_TRY(copy_vars(d->vars, d->n_vars, &t->vars));
    t->n_stats = d->n_stats;
    PS_TRY(copy_vars(d->stats, d->n_stats, &t->stats));
    for (size_t i = 0; i < t->n_vars; i++)
        t->values_per_draw += t->vars[i].size;
    for (int p = 0; p < 2; p++) {
        PS_TRY(ps_alloc_array(&t->part[p].post.ds, t->n_vars + 1, sizeof(hid_t), "trace"));
        PS_TRY(ps_alloc_array(&t->part[p].stats.ds, t->n_stats + 1, sizeof(hid_t), "trace"));
        for (size_t i = 0; i <= t->n_vars; i++)
            t->part[p].post.ds[i] = H5I_INVALID_HID;
        for (size_t i = 0; i <= t->n_stats; i++)
            t->part[p].stats.ds[i] = H5I_INVALID_HID;
    }
    t->ibuf_cap = t->rank == 0 && coord_values > 0 ? coord_values : 1;
    PS_TRY(ps_alloc_array(&t->ibuf, t->ibuf_cap, sizeof *t->ibuf, "trace coordinates"));
    PS_TRY(ps_alloc_array(&t->gather, 3 * (size_t)t->size, sizeof *t->gather, "trace layout"));
    t->name_cap = max_name_len(d) + 32;
    PS_TRY(ps_alloc_array(&t->name_buf, t->name_cap, 1, "trace names"));
done:
    if (status != PS_OK) {
        trace_free(t);
        t = NULL;
    }
    *out = t;
    return status;
}

static int compare_ranges(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
}

/*
 * Gathers every rank's chain range and description hash and checks that the hashes agree
 * and the ranges partition [0, n_chains). Collective; every rank sees the same gathered
 * table, so every rank reaches the same verdict with the same message.
 */
static ps_status check_layout(ps_trace *t, MPI_Comm comm, uint64_t hash)
{
    uint64_t mine[3] = {t->first_chain, t->n_local, hash};
    ps_mpi_must(MPI_Allgather(mine, 3, MPI_UINT64_T, t->gather, 3, MPI_UINT64_T, comm),
                "MPI_Allgather", comm);
    for (int r = 1; r < t->size; r++)
        if (t->gather[3 * (size_t)r + 2] != t->gather[2])
            return ps_error(PS_ERR_CONFIG,
                            "trace %s: rank %d describes the trace differently from rank 0 "
                            "(everything but the chain layout and created_at must agree)",
                            t->path, r);
    /* Keep the non-empty ranges as (first, count, rank) and sort them by first chain. */
    size_t k = 0;
    for (int r = 0; r < t->size; r++) {
        uint64_t first = t->gather[3 * (size_t)r], count = t->gather[3 * (size_t)r + 1];
        if (count == 0)
            continue;
        t->gather[3 * k] = first;
        t->gather[3 * k + 1] = count;
        t->gather[3 * k + 2] = (uint64_t)r;
        k++;
    }
    qsort(t->gather, k, 3 * sizeof *t->gather, compare_ranges);
    uint64_t next = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t first = t->gather[3 * i], count = t->gather[3 * i + 1];
        if (first > next)
            return ps_error(PS_ERR_CONFIG, "trace %s: chain %llu is owned by no rank", t->path,
                            (unsigned long long)next);
        if (first < next)
            return ps_error(PS_ERR_CONFIG,
                            "trace %s: chain %llu is owned by more than one rank (ranks %llu "
                            "and %llu)",
                            t->path, (unsigned long long)first,
                            (unsigned long long)t->gather[3 * (i - 1) + 2],
                            (unsigned long long)t->gather[3 * i + 2]);
        next = first + count;
    }
    if (next != t->n_chains)
        return ps_error(PS_ERR_CONFIG, "trace %s: chain %llu is owned by no rank", t->path,
                        (unsigned long long)next);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Property lists
 * ------------------------------------------------------------------------------------- */

/*
 * File access: MPI-IO on the trace's communicator, collective metadata reads and writes,
 * and a metadata cache that holds all dirty metadata until the next flush. Evictions are
 * off (which needs automatic resizing off), and min_clean_fraction = 0 with the largest
 * dirty-bytes threshold makes the parallel sync points write nothing, so that between two
 * flushes the file on disk keeps the metadata of the first: after a kill it reads back as
 * it was at the last flush. The cache then grows with the metadata of the appends between
 * two flushes (a few hundred bytes per dataset and append).
 */
static hid_t make_fapl(const ps_trace *t)
{
    hid_t fapl = must_id(t, H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", NULL, NULL);
    must_ok(t, H5Pset_fapl_mpio(fapl, t->comm, MPI_INFO_NULL), "H5Pset_fapl_mpio", NULL, NULL);
    must_ok(t, H5Pset_all_coll_metadata_ops(fapl, 1), "H5Pset_all_coll_metadata_ops", NULL, NULL);
    must_ok(t, H5Pset_coll_metadata_write(fapl, 1), "H5Pset_coll_metadata_write", NULL, NULL);
    H5AC_cache_config_t mdc;
    memset(&mdc, 0, sizeof mdc);
    mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    must_ok(t, H5Pget_mdc_config(fapl, &mdc), "H5Pget_mdc_config", NULL, NULL);
    mdc.evictions_enabled = 0;
    mdc.incr_mode = H5C_incr__off;
    mdc.flash_incr_mode = H5C_flash_incr__off;
    mdc.decr_mode = H5C_decr__off;
    mdc.set_initial_size = 1;
    mdc.initial_size = MDC_INITIAL_BYTES;
    if (mdc.max_size < mdc.initial_size)
        mdc.max_size = mdc.initial_size;
    if (mdc.min_size > mdc.initial_size)
        mdc.min_size = mdc.initial_size;
    mdc.min_clean_fraction = 0.0;
    mdc.dirty_bytes_threshold = MDC_DIRTY_THRESHOLD;
    must_ok(t, H5Pset_mdc_config(fapl, &mdc), "H5Pset_mdc_config", NULL, NULL);
    return fapl;
}

/* Link and attribute creation order, tracked and indexed: netCDF-C needs both to append
 * to a file (and to read attributes in order). */
static hid_t make_gcpl(const ps_trace *t, hid_t cls)
{
    hid_t pl = must_id(t, H5Pcreate(cls), "H5Pcreate", NULL, NULL);
    unsigned order = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
    must_ok(t, H5Pset_link_creation_order(pl, order), "H5Pset_link_creation_order", NULL, NULL);
    must_ok(t, H5Pset_attr_creation_order(pl, order), "H5Pset_attr_creation_order", NULL, NULL);
    return pl;
}

/* Datasets: attribute creation order as for groups, and no fill values (the writer fills
 * every element it exposes; writing fill values in parallel doubles the I/O). With the
 * MPI-IO driver HDF5 allocates chunks when the extent grows (early allocation), so the
 * chunk index changes only in H5Dset_extent. */
static hid_t make_dcpl(const ps_trace *t)
{
    hid_t pl = must_id(t, H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", NULL, NULL);
    unsigned order = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
    must_ok(t, H5Pset_attr_creation_order(pl, order), "H5Pset_attr_creation_order", NULL, NULL);
    must_ok(t, H5Pset_fill_time(pl, H5D_FILL_TIME_NEVER), "H5Pset_fill_time", NULL, NULL);
    return pl;
}

/*
 * Transfers are collective (every rank calls H5Dwrite, so HDF5 keeps its view of the file
 * consistent), but by default each rank then writes its own bytes with independent MPI-IO
 * calls (H5FD_MPIO_INDIVIDUAL_IO) instead of MPI-IO's two-phase collective buffering:
 * every block is a run of whole contiguous pieces of chunks that belong to the writing
 * rank, so there is nothing to aggregate, and shuffling the data through aggregator ranks
 * halved the throughput on the benchmark (scripts/bench/trace, 4 ranks, both OMPIO and
 * ROMIO). two_phase_io in
 * the description turns collective buffering back on (parallel file systems with many
 * ranks and small blocks may prefer it).
 */
static hid_t make_dxpl(const ps_trace *t)
{
    hid_t pl = must_id(t, H5Pcreate(H5P_DATASET_XFER), "H5Pcreate", NULL, NULL);
    must_ok(t, H5Pset_dxpl_mpio(pl, H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio", NULL, NULL);
    if (!t->two_phase)
        must_ok(t, H5Pset_dxpl_mpio_collective_opt(pl, H5FD_MPIO_INDIVIDUAL_IO),
                "H5Pset_dxpl_mpio_collective_opt", NULL, NULL);
    return pl;
}

/* ---------------------------------------------------------------------------------------
 * Attributes (collective metadata: every rank writes the same values)
 * ------------------------------------------------------------------------------------- */

/* A scalar variable-length UTF-8 string: what h5py and h5netcdf write for a Python str;
 * both xarray engines read it back as str (NC_STRING in netCDF-C). Replaces an attribute of
 * the same name. */
static void attr_text(const ps_trace *t, hid_t loc, const char *where, const char *name,
                      const char *text)
{
    htri_t exists = H5Aexists(loc, name);
    must_ok(t, exists < 0 ? -1 : 0, "H5Aexists", where, name);
    if (exists > 0)
        must_ok(t, H5Adelete(loc, name), "H5Adelete", where, name);
    hid_t type = must_id(t, H5Tcopy(H5T_C_S1), "H5Tcopy", where, name);
    must_ok(t, H5Tset_size(type, H5T_VARIABLE), "H5Tset_size", where, name);
    must_ok(t, H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", where, name);
    hid_t space = must_id(t, H5Screate(H5S_SCALAR), "H5Screate", where, name);
    hid_t attr = must_id(t, H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT),
                         "H5Acreate2", where, name);
    const char *data = text != NULL ? text : "";
    must_ok(t, H5Awrite(attr, type, &data), "H5Awrite", where, name);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}

static void attr_number(const ps_trace *t, hid_t loc, const char *where, const char *name,
                        hid_t ftype, hid_t mtype, const void *value)
{
    htri_t exists = H5Aexists(loc, name);
    must_ok(t, exists < 0 ? -1 : 0, "H5Aexists", where, name);
    if (exists > 0)
        must_ok(t, H5Adelete(loc, name), "H5Adelete", where, name);
    hid_t space = must_id(t, H5Screate(H5S_SCALAR), "H5Screate", where, name);
    hid_t attr = must_id(t, H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT),
                         "H5Acreate2", where, name);
    must_ok(t, H5Awrite(attr, mtype, value), "H5Awrite", where, name);
    H5Aclose(attr);
    H5Sclose(space);
}

static void attr_i64(const ps_trace *t, hid_t loc, const char *where, const char *name,
                     int64_t value)
{
    attr_number(t, loc, where, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

/* The attributes ArviZ puts on every InferenceData group. */
static void group_attrs(const ps_trace *t, hid_t g, const char *gname, const char *created_at,
                        const char *version)
{
    attr_text(t, g, gname, "created_at", created_at);
    attr_text(t, g, gname, "inference_library", "psample");
    attr_text(t, g, gname, "inference_library_version", version);
}

/* ---------------------------------------------------------------------------------------
 * Datasets
 * ------------------------------------------------------------------------------------- */

/*
 * Writes one block collectively: rank-local hyperslab start/count of the file space, from
 * a contiguous buffer. Ranks with nothing to write (active = false) select nothing but
 * still take part. A failure aborts: the other ranks are inside the same collective write.
 */
static void write_block(const ps_trace *t, hid_t ds, hid_t mtype, bool active, const hsize_t *start,
                        const hsize_t *count, const void *buf, const char *group, const char *name)
{
    hid_t fspace = must_id(t, H5Dget_space(ds), "H5Dget_space", group, name);
    hid_t mspace;
    static const char none = 0;
    if (active) {
        must_ok(t, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL),
                "H5Sselect_hyperslab", group, name);
        /* The memory space has the shape of the file selection: then HDF5 maps the block to
         * chunks by hyperslab arithmetic, where a flat memory space makes it visit every
         * element (that was most of the cost of an append). */
        int rank = H5Sget_simple_extent_ndims(fspace);
        must_ok(t, rank, "H5Sget_simple_extent_ndims", group, name);
        mspace = must_id(t, H5Screate_simple(rank, count, NULL), "H5Screate_simple", group, name);
    } else {
        hsize_t one = 1;
        must_ok(t, H5Sselect_none(fspace), "H5Sselect_none", group, name);
        mspace = must_id(t, H5Screate_simple(1, &one, NULL), "H5Screate_simple", group, name);
        must_ok(t, H5Sselect_none(mspace), "H5Sselect_none", group, name);
        buf = &none; /* HDF5 rejects a NULL buffer even for an empty selection */
    }
    if (ps_fault_point("trace_write"))
        h5_abort(t, "H5Dwrite", group, name, "injected fault (trace_write)");
    must_ok(t, H5Dwrite(ds, mtype, mspace, fspace, t->dxpl, buf), "H5Dwrite", group, name);
    H5Sclose(mspace);
    H5Sclose(fspace);
}

/* Writes the coordinate values start, start + 1, ..., start + count - 1 at [start, count)
 * of a 1-D int64 dataset; rank 0 writes, the others take part with empty selections. */
static void write_range(ps_trace *t, hid_t ds, size_t start, size_t count, const char *group,
                        const char *name)
{
    if (t->rank == 0)
        for (size_t i = 0; i < count; i++)
            t->ibuf[i] = (int64_t)(start + i);
    hsize_t s = start, c = count;
    write_block(t, ds, H5T_NATIVE_INT64, t->rank == 0, &s, &c, t->ibuf, group, name);
}

/* A 1-D int64 coordinate holding 0, 1, ..., n-1, registered as a dimension scale named
 * after itself (a netCDF coordinate variable). An unlimited one starts empty and grows
 * with the draws, in chunks of `chunk` values. */
static hid_t make_coord(ps_trace *t, hid_t g, const char *group, const char *name, size_t n,
                        bool unlimited, size_t chunk)
{
    hsize_t dim = unlimited ? 0 : n, maxdim = unlimited ? H5S_UNLIMITED : n;
    hid_t space = must_id(t, H5Screate_simple(1, &dim, &maxdim), "H5Screate_simple", group, name);
    hid_t dcpl = make_dcpl(t);
    if (unlimited) {
        hsize_t c = chunk > 0 ? chunk : 1;
        must_ok(t, H5Pset_chunk(dcpl, 1, &c), "H5Pset_chunk", group, name);
    }
    hid_t ds = must_id(t, H5Dcreate2(g, name, H5T_STD_I64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                       "H5Dcreate2", group, name);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (!unlimited && n > 0)
        write_range(t, ds, 0, n, group, name);
    must_ok(t, H5DSset_scale(ds, name), "H5DSset_scale", group, name);
    return ds;
}

/* Coordinate name of axis i of a variable: {name}_dim_{i}, as ArviZ names default dims. */
static const char *coord_name(ps_trace *t, const char *var, int i)
{
    snprintf(t->name_buf, t->name_cap, "%s_dim_%d", var, i);
    return t->name_buf;
}

/*
 * Chunk shape of a [chain, draw, dims...] variable: one chain (so each chunk belongs to the
 * rank that owns the chain), as many draws as fit in chunk_bytes but no more than the
 * expected draws, all of each draw. A draw larger than chunk_bytes is split along its
 * outer axes. A zero extent gets a chunk extent of 1 (HDF5 requires chunk extents >= 1),
 * which needs that axis's maximum to be unlimited; the data stay empty.
 */
static void chunk_shape(const ps_trace *t, const trace_var *v, size_t hint, hsize_t *chunk,
                        hsize_t *maxdims)
{
    size_t elem = type_size(v->type);
    size_t per_draw = elem;
    for (int i = 0; i < v->ndim; i++) {
        chunk[2 + i] = v->dims[i] > 0 ? v->dims[i] : 1;
        maxdims[2 + i] = v->dims[i] > 0 ? v->dims[i] : H5S_UNLIMITED;
        if (!ps_size_mul(per_draw, (size_t)chunk[2 + i], &per_draw))
            per_draw = SIZE_MAX;
    }
    chunk[0] = 1;
    maxdims[0] = t->n_chains;
    maxdims[1] = H5S_UNLIMITED;
    size_t draws = per_draw <= t->chunk_bytes ? t->chunk_bytes / per_draw : 1;
    if (draws > hint)
        draws = hint;
    chunk[1] = draws > 0 ? draws : 1;
    for (int i = 0; i < v->ndim && per_draw > t->chunk_bytes; i++)
        while (chunk[2 + i] > 1 && per_draw > t->chunk_bytes) {
            size_t before = (size_t)chunk[2 + i];
            chunk[2 + i] = (before + 1) / 2;
            per_draw = per_draw / before * (size_t)chunk[2 + i];
        }
}

/* Creates the [chain, draw, dims...] dataset of a variable or statistic with its
 * coordinates, and attaches chain, draw and its own coordinates as dimension scales. */
static hid_t make_draw_var(ps_trace *t, hid_t g, const char *group, const trace_var *v, size_t hint,
                           hid_t chain, hid_t draw)
{
    int rank = 2 + v->ndim;
    hsize_t dims[2 + PS_TRACE_MAX_DIMS], maxdims[2 + PS_TRACE_MAX_DIMS],
        chunk[2 + PS_TRACE_MAX_DIMS];
    hid_t coords[PS_TRACE_MAX_DIMS];
    for (int i = 0; i < v->ndim; i++)
        coords[i] =
            make_coord(t, g, group, coord_name(t, v->name, i), (size_t)v->dims[i], false, 0);
    dims[0] = t->n_chains;
    dims[1] = 0;
    for (int i = 0; i < v->ndim; i++)
        dims[2 + i] = v->dims[i];
    chunk_shape(t, v, hint, chunk, maxdims);
    hid_t space =
        must_id(t, H5Screate_simple(rank, dims, maxdims), "H5Screate_simple", group, v->name);
    hid_t dcpl = make_dcpl(t);
    must_ok(t, H5Pset_chunk(dcpl, rank, chunk), "H5Pset_chunk", group, v->name);
    hid_t ds = must_id(
        t, H5Dcreate2(g, v->name, file_type(v->type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
        "H5Dcreate2", group, v->name);
    H5Pclose(dcpl);
    H5Sclose(space);
    must_ok(t, H5DSattach_scale(ds, chain, 0), "H5DSattach_scale", group, v->name);
    must_ok(t, H5DSattach_scale(ds, draw, 1), "H5DSattach_scale", group, v->name);
    for (int i = 0; i < v->ndim; i++) {
        must_ok(t, H5DSattach_scale(ds, coords[i], (unsigned)(2 + i)), "H5DSattach_scale", group,
                v->name);
        H5Dclose(coords[i]);
    }
    if (v->type == PS_TRACE_BOOL)
        attr_text(t, ds, group, "dtype", "bool");
    return ds;
}

/* Creates one group with a draw axis: attributes, chain and draw coordinates, and the
 * datasets of its variables. */
static void make_draw_group(ps_trace *t, const char *group, const trace_var *vars, size_t n,
                            size_t hint, const char *created_at, const char *version,
                            trace_group *out)
{
    hid_t gcpl = make_gcpl(t, H5P_GROUP_CREATE);
    out->group = must_id(t, H5Gcreate2(t->file, group, H5P_DEFAULT, gcpl, H5P_DEFAULT),
                         "H5Gcreate2", group, NULL);
    H5Pclose(gcpl);
    group_attrs(t, out->group, group, created_at, version);
    hid_t chain = make_coord(t, out->group, group, "chain", t->n_chains, false, 0);
    size_t draw_chunk = hint < t->chunk_bytes / 8 ? hint : t->chunk_bytes / 8;
    out->draw = make_coord(t, out->group, group, "draw", 0, true, draw_chunk);
    for (size_t i = 0; i < n; i++)
        out->ds[i] = make_draw_var(t, out->group, group, &vars[i], hint, chain, out->draw);
    H5Dclose(chain);
}

/* Creates observed_data or constant_data: each array with its coordinates, written by
 * rank 0. */
static void make_data_group(ps_trace *t, const char *group, const ps_trace_array *a, size_t n,
                            const char *created_at, const char *version)
{
    hid_t gcpl = make_gcpl(t, H5P_GROUP_CREATE);
    hid_t g = must_id(t, H5Gcreate2(t->file, group, H5P_DEFAULT, gcpl, H5P_DEFAULT), "H5Gcreate2",
                      group, NULL);
    H5Pclose(gcpl);
    group_attrs(t, g, group, created_at, version);
    for (size_t k = 0; k < n; k++) {
        hid_t coords[PS_TRACE_MAX_DIMS];
        hsize_t dims[PS_TRACE_MAX_DIMS], start[PS_TRACE_MAX_DIMS] = {0};
        size_t size = 1;
        for (int i = 0; i < a[k].ndim; i++) {
            coords[i] =
                make_coord(t, g, group, coord_name(t, a[k].name, i), a[k].dims[i], false, 0);
            dims[i] = a[k].dims[i];
            size *= a[k].dims[i];
        }
        hid_t space =
            a[k].ndim > 0 ? H5Screate_simple(a[k].ndim, dims, NULL) : H5Screate(H5S_SCALAR);
        must_id(t, space, "H5Screate", group, a[k].name);
        hid_t dcpl = make_dcpl(t);
        hid_t ds = must_id(
            t,
            H5Dcreate2(g, a[k].name, file_type(a[k].type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
            "H5Dcreate2", group, a[k].name);
        H5Pclose(dcpl);
        H5Sclose(space);
        if (size > 0) {
            if (a[k].ndim > 0) {
                write_block(t, ds, mem_type(a[k].type), t->rank == 0, start, dims, a[k].values,
                            group, a[k].name);
            } else {
                /* A scalar dataspace takes no hyperslab: select all or nothing. */
                hid_t fspace = must_id(t, H5Dget_space(ds), "H5Dget_space", group, a[k].name);
                hid_t mspace = must_id(t, H5Screate(H5S_SCALAR), "H5Screate", group, a[k].name);
                if (t->rank != 0) {
                    must_ok(t, H5Sselect_none(fspace), "H5Sselect_none", group, a[k].name);
                    must_ok(t, H5Sselect_none(mspace), "H5Sselect_none", group, a[k].name);
                }
                must_ok(t, H5Dwrite(ds, mem_type(a[k].type), mspace, fspace, t->dxpl, a[k].values),
                        "H5Dwrite", group, a[k].name);
                H5Sclose(mspace);
                H5Sclose(fspace);
            }
        }
        for (int i = 0; i < a[k].ndim; i++) {
            must_ok(t, H5DSattach_scale(ds, coords[i], (unsigned)i), "H5DSattach_scale", group,
                    a[k].name);
            H5Dclose(coords[i]);
        }
        if (a[k].type == PS_TRACE_BOOL)
            attr_text(t, ds, group, "dtype", "bool");
        H5Dclose(ds);
    }
    H5Gclose(g);
}

/* ---------------------------------------------------------------------------------------
 * Creating
 * ------------------------------------------------------------------------------------- */

/* ISO 8601 in UTC with microseconds, as ArviZ writes created_at. */
static void format_now(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[64];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

/* Rank 0's look at the path before anything is created: an existing file is an error
 * unless force; the folder must exist and be writable. Local. */
static ps_status check_new_path(const char *path, bool force)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!force)
            return ps_error(PS_ERR_IO,
                            "trace file %s already exists (remove it, choose another output "
                            "file, or force replacing it)",
                            path);
        if (S_ISDIR(st.st_mode))
            return ps_error(PS_ERR_IO, "cannot create trace file %s: it is a folder", path);
    } else if (errno != ENOENT) {
        return ps_error(PS_ERR_IO, "cannot create trace file %s: %s", path, strerror(errno));
    }
    char *dir = ps_strdup(path);
    if (dir == NULL)
        return ps_error(PS_ERR_MEM, "out of memory checking trace file %s", path);
    char *slash = strrchr(dir, '/');
    const char *folder = dir;
    if (slash == NULL)
        folder = ".";
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    ps_status status = PS_OK;
    if (stat(folder, &st) != 0)
        status = ps_error(PS_ERR_IO, "cannot create trace file %s: folder %s: %s", path, folder,
                          strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        status =
            ps_error(PS_ERR_IO, "cannot create trace file %s: %s is not a folder", path, folder);
    else if (access(folder, W_OK | X_OK) != 0)
        status = ps_error(PS_ERR_IO, "cannot create trace file %s: folder %s: %s", path, folder,
                          strerror(errno));
    ps_free(dir);
    return status;
}

/* Opens or creates the file collectively. HDF5 opens through MPI_File_open, which fails on
 * every rank or on none; should ranks still disagree, nothing can be cleaned up and the
 * job is aborted. The outcome is agreed. */
static ps_status open_file(ps_trace *t, bool create, unsigned flags)
{
    hid_t fapl = make_fapl(t);
    hid_t fcpl = create ? make_gcpl(t, H5P_FILE_CREATE) : H5P_DEFAULT;
    ps_status status = PS_OK;
    if (create)
        t->file = H5Fcreate(t->path, flags, fcpl, fapl);
    else
        t->file = H5Fopen(t->path, flags, fapl);
    if (t->file < 0)
        status = h5_error(create ? "H5Fcreate" : "H5Fopen", t->path, NULL, "the file");
    H5Pclose(fapl);
    if (create)
        H5Pclose(fcpl);
    int failed = t->file < 0, failures = 0;
    ps_mpi_must(MPI_Allreduce(&failed, &failures, 1, MPI_INT, MPI_SUM, t->comm), "MPI_Allreduce",
                t->comm);
    if (failures > 0 && failures < t->size && !failed)
        h5_abort(t, create ? "H5Fcreate" : "H5Fopen", NULL, "the file",
                 "the file opened on some ranks only");
    status = ps_comm_agree(t->comm, status);
    if (status == PS_OK)
        t->dxpl = make_dxpl(t);
    return status;
}

static void root_attrs(ps_trace *t, const ps_trace_desc *d, const char *created_at,
                       const char *version)
{
    hid_t root = t->file;
    group_attrs(t, root, NULL, created_at, version);
    attr_text(t, root, NULL, "psample_version", ps_version_string());
    attr_text(t, root, NULL, "psample_config", d->config_text);
    attr_text(t, root, NULL, "psample_model_source", d->model_source);
    attr_text(t, root, NULL, "psample_layout", d->layout_text);
    attr_number(t, root, NULL, "psample_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &d->seed);
    attr_i64(t, root, NULL, "psample_n_chains", (int64_t)t->n_chains);
    attr_i64(t, root, NULL, "psample_n_ranks", (int64_t)t->size);
}

static void close_group(trace_group *g, size_t n)
{
    if (g->ds != NULL)
        for (size_t i = 0; i < n; i++)
            if (g->ds[i] >= 0) {
                H5Dclose(g->ds[i]);
                g->ds[i] = H5I_INVALID_HID;
            }
    if (g->draw >= 0)
        H5Dclose(g->draw);
    if (g->group >= 0)
        H5Gclose(g->group);
    g->draw = H5I_INVALID_HID;
    g->group = H5I_INVALID_HID;
}

/* Closes every HDF5 object and the file (collective), then frees the trace. */
static void trace_close_file(ps_trace *t)
{
    for (int p = 0; p < 2; p++) {
        close_group(&t->part[p].post, t->n_vars);
        close_group(&t->part[p].stats, t->n_stats);
    }
    if (t->dxpl >= 0)
        H5Pclose(t->dxpl);
    t->dxpl = H5I_INVALID_HID;
    if (t->file >= 0)
        must_ok(t, H5Fclose(t->file), "H5Fclose", NULL, "the file");
    t->file = H5I_INVALID_HID;
}

/* The local phase shared by create and open_append: check, allocate, agree, check the
 * layout, duplicate the communicator. */
static ps_status begin(MPI_Comm comm, const char *path, const ps_trace_desc *desc, bool create,
                       ps_trace **out)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ps_trace *t = NULL;
    ps_status status = check_desc(path, desc);
    if (status == PS_OK)
        status = trace_alloc(comm, path, desc, max_extent(desc), &t);
    if (status == PS_OK && create && ps_fault_point("trace_create"))
        status =
            ps_error(PS_ERR_IO, "cannot create trace file %s: injected fault (trace_create)", path);
    if (status == PS_OK && rank == 0) {
        if (create) {
            status = check_new_path(path, desc->force);
        } else {
            struct stat st;
            if (stat(path, &st) != 0)
                status =
                    ps_error(PS_ERR_IO, "cannot reopen trace file %s: %s", path, strerror(errno));
            else if (!S_ISREG(st.st_mode))
                status = ps_error(PS_ERR_IO, "cannot reopen trace file %s: not a file", path);
        }
    }
    status = ps_comm_agree(comm, status);
    if (status == PS_OK)
        status = check_layout(t, comm, desc_hash(desc));
    if (status == PS_OK) {
        ps_mpi_must(MPI_Comm_dup(comm, &t->comm), "MPI_Comm_dup", comm);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    }
    if (status != PS_OK) {
        trace_free(t);
        t = NULL;
    }
    *out = t;
    return status;
}

ps_status ps_trace_create(MPI_Comm comm, const char *path, const ps_trace_desc *desc,
                          ps_trace **out)
{
    *out = NULL;
    ps_trace *t = NULL;
    PS_CHECK(begin(comm, path, desc, true, &t));

    /* created_at: rank 0's, so that every rank writes the same attribute. */
    char created_at[CREATED_AT_CAP];
    if (t->rank == 0) {
        if (desc->created_at != NULL)
            snprintf(created_at, sizeof created_at, "%s", desc->created_at);
        else
            format_now(created_at, sizeof created_at);
    }
    ps_mpi_must(MPI_Bcast(created_at, CREATED_AT_CAP, MPI_CHAR, 0, t->comm), "MPI_Bcast", t->comm);
    created_at[CREATED_AT_CAP - 1] = '\0';
    const char *version = desc->inference_library_version != NULL ? desc->inference_library_version
                                                                  : ps_version_string();

    /* Without force the file must not appear between rank 0's check and here. */
    ps_status status = open_file(t, true, desc->force ? H5F_ACC_TRUNC : H5F_ACC_EXCL);
    if (status != PS_OK) {
        trace_free(t);
        return status;
    }
    root_attrs(t, desc, created_at, version);
    for (int p = 0; p < 2; p++) {
        trace_part *part = &t->part[p];
        if (!part->enabled)
            continue;
        make_draw_group(t, group_names[p][0], t->vars, t->n_vars, part->draws_hint, created_at,
                        version, &part->post);
        make_draw_group(t, group_names[p][1], t->stats, t->n_stats, part->draws_hint, created_at,
                        version, &part->stats);
    }
    if (desc->n_observed_data > 0)
        make_data_group(t, "observed_data", desc->observed_data, desc->n_observed_data, created_at,
                        version);
    if (desc->n_constant_data > 0)
        make_data_group(t, "constant_data", desc->constant_data, desc->n_constant_data, created_at,
                        version);
    PS_CHECK(ps_trace_flush(t));
    *out = t;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Reopening
 * ------------------------------------------------------------------------------------- */

/* Opens dataset group/name and checks its class, size and shape: `lead` leading axes
 * (chain, draw) of which the first must be n_chains, then v's dims. Stores the draw length
 * in *draws. Collective (metadata reads are collective); the verdict is the same on every
 * rank because every rank reads the same metadata. */
static ps_status open_checked(ps_trace *t, hid_t g, const char *group, const char *name,
                              const trace_var *v, int lead, hid_t *out, size_t *draws)
{
    ps_status status = PS_OK;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    htri_t exists = H5Lexists(g, name, H5P_DEFAULT);
    if (exists <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return ps_error(PS_ERR_IO, "trace file %s does not match this run: it has no %s/%s",
                        t->path, group, name);
    }
    ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0)
        return h5_error("H5Dopen2", t->path, group, name);
    space = H5Dget_space(ds);
    type = H5Dget_type(ds);
    if (space < 0 || type < 0) {
        status = h5_error(space < 0 ? "H5Dget_space" : "H5Dget_type", t->path, group, name);
        goto done;
    }
    int ndim = v != NULL ? v->ndim : 0;
    ps_trace_type want = v != NULL ? v->type : PS_TRACE_I64;
    H5T_class_t cls = H5Tget_class(type);
    bool type_match = cls == (want == PS_TRACE_F64 ? H5T_FLOAT : H5T_INTEGER) &&
                      H5Tget_size(type) == type_size(want);
    if (!type_match) {
        status = ps_error(PS_ERR_IO, "trace file %s does not match this run: %s/%s is not %s",
                          t->path, group, name, type_name(want));
        goto done;
    }
    hsize_t dims[2 + PS_TRACE_MAX_DIMS];
    int rank = H5Sget_simple_extent_ndims(space);
    bool shape_match = rank == lead + ndim;
    if (shape_match && H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        status = h5_error("H5Sget_simple_extent_dims", t->path, group, name);
        goto done;
    }
    if (shape_match && lead == 2 && dims[0] != t->n_chains)
        shape_match = false;
    for (int i = 0; shape_match && i < ndim; i++)
        if (dims[lead + i] != v->dims[i])
            shape_match = false;
    if (!shape_match) {
        status = ps_error(PS_ERR_IO,
                          "trace file %s does not match this run: %s/%s has another shape "
                          "(expected %zu chains and %d more axes of the model's extents)",
                          t->path, group, name, t->n_chains, ndim);
        goto done;
    }
    *draws = (size_t)dims[lead - 1];
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (status != PS_OK) {
        H5Dclose(ds);
        ds = H5I_INVALID_HID;
    }
    *out = ds;
    return status;
}

/* Opens a group with a draw axis and all its datasets; *draws is the smallest draw length
 * among them. */
static ps_status open_draw_group(ps_trace *t, const char *group, const trace_var *vars, size_t n,
                                 trace_group *out, size_t *draws)
{
    htri_t exists = H5Lexists(t->file, group, H5P_DEFAULT);
    if (exists <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return ps_error(PS_ERR_IO, "trace file %s does not match this run: it has no group %s",
                        t->path, group);
    }
    out->group = H5Gopen2(t->file, group, H5P_DEFAULT);
    if (out->group < 0)
        return h5_error("H5Gopen2", t->path, group, NULL);
    size_t len;
    PS_CHECK(open_checked(t, out->group, group, "draw", NULL, 1, &out->draw, &len));
    *draws = len;
    for (size_t i = 0; i < n; i++) {
        PS_CHECK(open_checked(t, out->group, group, vars[i].name, &vars[i], 2, &out->ds[i], &len));
        if (len < *draws)
            *draws = len;
    }
    return PS_OK;
}

static void set_draws(ps_trace *t, trace_group *g, const char *group, const trace_var *vars,
                      size_t n, size_t draws)
{
    hsize_t dims[2 + PS_TRACE_MAX_DIMS];
    hsize_t len = draws;
    must_ok(t, H5Dset_extent(g->draw, &len), "H5Dset_extent", group, "draw");
    for (size_t i = 0; i < n; i++) {
        dims[0] = t->n_chains;
        dims[1] = draws;
        for (int k = 0; k < vars[i].ndim; k++)
            dims[2 + k] = vars[i].dims[k];
        must_ok(t, H5Dset_extent(g->ds[i], dims), "H5Dset_extent", group, vars[i].name);
    }
}

ps_status ps_trace_open_append(MPI_Comm comm, const char *path, const ps_trace_desc *desc,
                               size_t n_warmup_draws, size_t n_draws, ps_trace **out)
{
    *out = NULL;
    ps_trace *t = NULL;
    PS_CHECK(begin(comm, path, desc, false, &t));
    ps_status status = open_file(t, false, H5F_ACC_RDWR);
    if (status != PS_OK) {
        trace_free(t);
        return status;
    }
    size_t want[2] = {n_draws, n_warmup_draws};
    for (int p = 0; p < 2 && status == PS_OK; p++) {
        trace_part *part = &t->part[p];
        if (!part->enabled)
            continue;
        size_t have_post = 0, have_stats = 0;
        status = open_draw_group(t, group_names[p][0], t->vars, t->n_vars, &part->post, &have_post);
        if (status == PS_OK)
            status = open_draw_group(t, group_names[p][1], t->stats, t->n_stats, &part->stats,
                                     &have_stats);
        size_t have = have_post < have_stats ? have_post : have_stats;
        if (status == PS_OK && have < want[p])
            status =
                ps_error(PS_ERR_IO,
                         "trace file %s holds %zu draws in %s, but the run to resume "
                         "needs %zu (the trace lost draws after its last flush?)",
                         path, have,
                         have_post <= have_stats ? group_names[p][0] : group_names[p][1], want[p]);
    }
    status = ps_comm_agree(t->comm, status);
    if (status != PS_OK) {
        trace_close_file(t);
        trace_free(t);
        return status;
    }
    /* Draws written after the checkpoint are dropped; the run writes them again. */
    for (int p = 0; p < 2; p++) {
        trace_part *part = &t->part[p];
        if (!part->enabled)
            continue;
        set_draws(t, &part->post, group_names[p][0], t->vars, t->n_vars, want[p]);
        set_draws(t, &part->stats, group_names[p][1], t->stats, t->n_stats, want[p]);
        part->n_draws = want[p];
    }
    attr_i64(t, t->file, NULL, "psample_n_ranks", (int64_t)t->size);
    if (desc->layout_text != NULL)
        attr_text(t, t->file, NULL, "psample_layout", desc->layout_text);
    PS_CHECK(ps_trace_flush(t));
    *out = t;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Appending
 * ------------------------------------------------------------------------------------- */

ps_status ps_trace_append(ps_trace *trace, ps_trace_part part, size_t n_draws, const double *values,
                          const void *const *stats)
{
    ps_trace *t = trace;
    if (t == NULL)
        return ps_error(PS_ERR_INTERNAL, "ps_trace_append: no trace");
    if (part != PS_TRACE_SAMPLING && part != PS_TRACE_WARMUP)
        return ps_error(PS_ERR_INTERNAL, "ps_trace_append: unknown part %d", (int)part);
    trace_part *p = &t->part[part];
    if (!p->enabled)
        return PS_OK; /* the same on every rank: save_warmup is part of the description */

    /* Local phase: the block, the sizes, rank 0's coordinate buffer. */
    ps_status status = PS_OK;
    size_t block = 0;
    if (t->file < 0)
        status = ps_error(PS_ERR_INTERNAL, "ps_trace_append: trace %s is closed", t->path);
    else if (!ps_size_mul(t->n_local, n_draws, &block) ||
             !ps_size_mul(block, t->values_per_draw > 0 ? t->values_per_draw : 1, &block) ||
             p->n_draws + n_draws < p->n_draws || n_draws > (size_t)INT64_MAX)
        status = ps_error(PS_ERR_INTERNAL, "ps_trace_append: a block of %zu draws is too large",
                          n_draws);
    else if (t->n_local > 0 && n_draws > 0) {
        if (t->values_per_draw > 0 && values == NULL)
            status = ps_error(PS_ERR_INTERNAL, "ps_trace_append: no values for %s of trace %s",
                              group_names[part][0], t->path);
        for (size_t s = 0; s < t->n_stats && status == PS_OK; s++)
            if (stats == NULL || stats[s] == NULL)
                status = ps_error(PS_ERR_INTERNAL,
                                  "ps_trace_append: no values for statistic %s of trace %s",
                                  t->stats[s].name, t->path);
    }
    if (status == PS_OK && t->rank == 0 && n_draws > t->ibuf_cap) {
        status = ps_realloc_array(&t->ibuf, n_draws, sizeof *t->ibuf, "trace draw coordinates");
        if (status == PS_OK)
            t->ibuf_cap = n_draws;
    }
    long long counts[2] = {(long long)n_draws, -(long long)n_draws}, range[2];
    ps_mpi_must(MPI_Allreduce(counts, range, 2, MPI_LONG_LONG, MPI_MIN, t->comm), "MPI_Allreduce",
                t->comm);
    PS_CHECK(ps_comm_agree(t->comm, status));
    if (range[0] != -range[1])
        return ps_error(PS_ERR_INTERNAL,
                        "ps_trace_append: ranks appended different numbers of draws (%lld to "
                        "%lld) to trace %s",
                        range[0], -range[1], t->path);
    if (n_draws == 0)
        return PS_OK;

    /* Collective phase: extend every dataset of the part, then write the blocks. */
    size_t from = p->n_draws, to = from + n_draws;
    set_draws(t, &p->post, group_names[part][0], t->vars, t->n_vars, to);
    set_draws(t, &p->stats, group_names[part][1], t->stats, t->n_stats, to);
    if (ps_fault_point("trace_append_kill"))
        raise(SIGKILL);
    bool active = t->n_local > 0;
    hsize_t start[2 + PS_TRACE_MAX_DIMS] = {t->first_chain, from};
    hsize_t count[2 + PS_TRACE_MAX_DIMS] = {t->n_local, n_draws};
    for (size_t i = 0; i < t->n_vars; i++) {
        const trace_var *v = &t->vars[i];
        if (v->size == 0)
            continue; /* nothing to write, on any rank */
        for (int k = 0; k < v->ndim; k++) {
            start[2 + k] = 0;
            count[2 + k] = v->dims[k];
        }
        const double *src = active ? values + t->n_local * n_draws * v->offset : NULL;
        write_block(t, p->post.ds[i], H5T_NATIVE_DOUBLE, active, start, count, src,
                    group_names[part][0], v->name);
    }
    for (size_t s = 0; s < t->n_stats; s++)
        write_block(t, p->stats.ds[s], mem_type(t->stats[s].type), active, start, count,
                    active ? stats[s] : NULL, group_names[part][1], t->stats[s].name);
    write_range(t, p->post.draw, from, n_draws, group_names[part][0], "draw");
    write_range(t, p->stats.draw, from, n_draws, group_names[part][1], "draw");
    p->n_draws = to;
    return PS_OK;
}

/* Reads a hyperslab of a dataset into buf (the mirror of write_block); a rank with nothing
 * to read takes part with an empty selection. A failure aborts the job: the peers are in
 * the same collective read. */
static void read_block(const ps_trace *t, hid_t ds, hid_t mtype, bool active, const hsize_t *start,
                       const hsize_t *count, void *buf, const char *group, const char *name)
{
    hid_t fspace = must_id(t, H5Dget_space(ds), "H5Dget_space", group, name);
    hid_t mspace;
    static char none[8];
    if (active) {
        must_ok(t, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL),
                "H5Sselect_hyperslab", group, name);
        int rank = H5Sget_simple_extent_ndims(fspace);
        must_ok(t, rank, "H5Sget_simple_extent_ndims", group, name);
        mspace = must_id(t, H5Screate_simple(rank, count, NULL), "H5Screate_simple", group, name);
    } else {
        hsize_t one = 1;
        must_ok(t, H5Sselect_none(fspace), "H5Sselect_none", group, name);
        mspace = must_id(t, H5Screate_simple(1, &one, NULL), "H5Screate_simple", group, name);
        must_ok(t, H5Sselect_none(mspace), "H5Sselect_none", group, name);
        buf = none;
    }
    must_ok(t, H5Dread(ds, mtype, mspace, fspace, t->dxpl, buf), "H5Dread", group, name);
    H5Sclose(mspace);
    H5Sclose(fspace);
}

ps_status ps_trace_read(ps_trace *trace, ps_trace_part part, size_t first_draw, size_t n_draws,
                        double *values, void *const *stats)
{
    ps_trace *t = trace;
    if (t == NULL || t->file < 0)
        return ps_error(PS_ERR_INTERNAL, "ps_trace_read: no open trace");
    trace_part *p = &t->part[part];
    ps_status status = PS_OK;
    if (!p->enabled || first_draw + n_draws > p->n_draws || first_draw + n_draws < first_draw)
        status = ps_error(PS_ERR_INTERNAL,
                          "ps_trace_read: draws %zu..%zu of %s are not in trace %s (it holds %zu)",
                          first_draw, first_draw + n_draws, group_names[part][0], t->path,
                          p->enabled ? p->n_draws : 0);
    else if (t->n_local > 0 && n_draws > 0 && (values == NULL || stats == NULL))
        status = ps_error(PS_ERR_INTERNAL, "ps_trace_read: no buffers for trace %s", t->path);
    PS_CHECK(ps_comm_agree(t->comm, status));
    if (n_draws == 0)
        return PS_OK;
    bool active = t->n_local > 0;
    hsize_t start[2 + PS_TRACE_MAX_DIMS] = {t->first_chain, first_draw};
    hsize_t count[2 + PS_TRACE_MAX_DIMS] = {t->n_local, n_draws};
    for (size_t i = 0; i < t->n_vars; i++) {
        const trace_var *v = &t->vars[i];
        if (v->size == 0)
            continue;
        for (int k = 0; k < v->ndim; k++) {
            start[2 + k] = 0;
            count[2 + k] = v->dims[k];
        }
        double *dst = active ? values + t->n_local * n_draws * v->offset : NULL;
        read_block(t, p->post.ds[i], H5T_NATIVE_DOUBLE, active, start, count, dst,
                   group_names[part][0], v->name);
    }
    for (size_t s = 0; s < t->n_stats; s++)
        read_block(t, p->stats.ds[s], mem_type(t->stats[s].type), active, start, count,
                   active ? stats[s] : NULL, group_names[part][1], t->stats[s].name);
    return PS_OK;
}

void ps_trace_block_get(const ps_trace *trace, const double *block, size_t n_draws,
                        size_t local_chain, size_t draw, double *draw_values)
{
    const ps_trace *t = trace;
    size_t cell = local_chain * n_draws + draw;
    for (size_t i = 0; i < t->n_vars; i++) {
        const trace_var *v = &t->vars[i];
        if (v->size > 0)
            memcpy(draw_values + v->offset,
                   block + t->n_local * n_draws * v->offset + cell * v->size,
                   v->size * sizeof *block);
    }
}

void ps_trace_block_put(const ps_trace *trace, double *block, size_t n_draws, size_t local_chain,
                        size_t draw, const double *draw_values)
{
    const ps_trace *t = trace;
    size_t cell = local_chain * n_draws + draw;
    for (size_t i = 0; i < t->n_vars; i++) {
        const trace_var *v = &t->vars[i];
        if (v->size > 0)
            memcpy(block + t->n_local * n_draws * v->offset + cell * v->size,
                   draw_values + v->offset, v->size * sizeof *block);
    }
}

/* ---------------------------------------------------------------------------------------
 * Flushing, metadata, closing
 * ------------------------------------------------------------------------------------- */

ps_status ps_trace_flush(ps_trace *trace)
{
    if (trace == NULL || trace->file < 0)
        return ps_error(PS_ERR_INTERNAL, "ps_trace_flush: no open trace");
    /* Global scope: the whole file, metadata and raw data, then MPI_File_sync. */
    must_ok(trace, H5Fflush(trace->file, H5F_SCOPE_GLOBAL), "H5Fflush", NULL, "the file");
    trace->last_flush = ps_time_now();
    return PS_OK;
}

bool ps_trace_flush_due(ps_trace *trace, double flush_seconds)
{
    int due = trace->rank == 0 && ps_time_now() - trace->last_flush >= flush_seconds;
    ps_mpi_must(MPI_Bcast(&due, 1, MPI_INT, 0, trace->comm), "MPI_Bcast", trace->comm);
    return due != 0;
}

ps_status ps_trace_flush_if_due(ps_trace *trace, double flush_seconds, bool *flushed)
{
    if (flushed != NULL)
        *flushed = false;
    if (trace == NULL || trace->file < 0)
        return ps_error(PS_ERR_INTERNAL, "ps_trace_flush_if_due: no open trace");
    int due = trace->rank == 0 && ps_time_now() - trace->last_flush >= flush_seconds;
    ps_mpi_must(MPI_Bcast(&due, 1, MPI_INT, 0, trace->comm), "MPI_Bcast", trace->comm);
    if (!due)
        return PS_OK;
    PS_CHECK(ps_trace_flush(trace));
    if (flushed != NULL)
        *flushed = true;
    return PS_OK;
}

ps_status ps_trace_set_metadata(ps_trace *trace, const ps_trace_end *end)
{
    ps_trace *t = trace;
    if (t == NULL || t->file < 0 || end == NULL)
        return ps_error(PS_ERR_INTERNAL, "ps_trace_set_metadata: no open trace or no metadata");
    /* Rank 0's values, so that every rank writes the same attributes. */
    long long head[3] = {end->warmup_draws,
                         end->stop_reason ? (long long)strlen(end->stop_reason) : -1,
                         end->warmup_divergences};
    ps_mpi_must(MPI_Bcast(head, 3, MPI_LONG_LONG, 0, t->comm), "MPI_Bcast", t->comm);
    char *reason = NULL;
    ps_status status = PS_OK;
    if (head[1] >= 0) {
        if (t->rank == 0)
            reason = (char *)end->stop_reason;
        else if (ps_alloc_array(&reason, (size_t)head[1] + 1, 1, "trace stop reason") != PS_OK)
            status = PS_ERR_MEM;
    }
    status = ps_comm_agree(t->comm, status);
    if (status == PS_OK && head[1] >= 0) {
        ps_mpi_must(MPI_Bcast(reason, (int)head[1] + 1, MPI_CHAR, 0, t->comm), "MPI_Bcast",
                    t->comm);
        attr_text(t, t->file, NULL, "psample_stop_reason", reason);
    }
    if (status == PS_OK && head[0] >= 0)
        attr_i64(t, t->file, NULL, "psample_warmup_draws", (int64_t)head[0]);
    if (status == PS_OK && head[2] >= 0)
        attr_i64(t, t->file, NULL, "psample_warmup_divergences", (int64_t)head[2]);
    if (t->rank != 0)
        ps_free(reason);
    return status;
}

ps_status ps_trace_close(ps_trace **trace)
{
    if (trace == NULL || *trace == NULL)
        return PS_OK;
    ps_trace *t = *trace;
    *trace = NULL;
    if (t->file >= 0) {
        ps_trace_flush(t);
        trace_close_file(t);
    }
    trace_free(t);
    return PS_OK;
}

void ps_trace_destroy(ps_trace **trace)
{
    ps_trace_close(trace);
}

size_t ps_trace_n_draws(const ps_trace *trace, ps_trace_part part)
{
    return part == PS_TRACE_WARMUP || part == PS_TRACE_SAMPLING ? trace->part[part].n_draws : 0;
}

size_t ps_trace_values_per_draw(const ps_trace *trace)
{
    return trace->values_per_draw;
}

size_t ps_trace_first_chain(const ps_trace *trace)
{
    return trace->first_chain;
}

size_t ps_trace_n_local_chains(const ps_trace *trace)
{
    return trace->n_local;
}
