/*
 * psample summary TRACE: the summary table of a finished (or interrupted) run, computed
 * from its trace file with serial HDF5, without MPI.
 *
 * The quantities are lp__ (sample_stats/lp) and every element of every posterior
 * variable, in the order the run wrote them (the file tracks link creation order); the
 * thresholds of the warnings come from the configuration stored in the file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "run/run_impl.h"

typedef struct var_list {
    char **names;
    size_t n, cap;
    bool failed;
} var_list;

static herr_t collect_name(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group;
    (void)info;
    var_list *l = data;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **names = ps_realloc(l->names, cap * sizeof *names);
        if (names == NULL) {
            l->failed = true;
            return -1;
        }
        l->names = names;
        l->cap = cap;
    }
    l->names[l->n] = ps_strdup(name);
    if (l->names[l->n] == NULL) {
        l->failed = true;
        return -1;
    }
    l->n++;
    return 0;
}

static void var_list_fini(var_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        ps_free(l->names[i]);
    ps_free(l->names);
}

/* One quantity of the table: a dataset and an element offset in its per-draw part. */
typedef struct quantity {
    char name[256];
    hid_t ds;       /* owned by the summary's dataset list */
    size_t element; /* index within a draw (row-major) */
    int ndim;       /* rank of the dataset */
    hsize_t dims[2 + 8];
} quantity;

typedef struct summary_ctx {
    quantity *q;
} summary_ctx;

static void name_of(const void *ctx, size_t q, char *buf, size_t size)
{
    const summary_ctx *c = ctx;
    snprintf(buf, size, "%s", c->q[q].name);
}

static ps_status h5_fail(const char *path, const char *what)
{
    return ps_error(PS_ERR_IO, "cannot read trace %s: %s", path, what);
}

/* Reads one quantity of every chain and draw, chain-major, into buf (C * N doubles). */
static ps_status read_quantity(const char *path, const quantity *q, double *buf)
{
    hsize_t start[10] = {0}, count[10] = {0};
    count[0] = q->dims[0];
    count[1] = q->dims[1];
    size_t rest = q->element;
    for (int d = q->ndim - 1; d >= 2; d--) {
        start[d] = rest % q->dims[d];
        rest /= q->dims[d];
        count[d] = 1;
    }
    hid_t fspace = H5Dget_space(q->ds);
    hsize_t mdims[2] = {q->dims[0], q->dims[1]};
    hid_t mspace = H5Screate_simple(2, mdims, NULL);
    herr_t rc = fspace < 0 || mspace < 0 ? -1 : 0;
    if (rc >= 0)
        rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    if (rc >= 0)
        rc = H5Dread(q->ds, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, buf);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (rc < 0) {
        char what[400];
        snprintf(what, sizeof what, "reading %s failed", q->name);
        return h5_fail(path, what);
    }
    return PS_OK;
}

/* Reads a root attribute holding text (variable- or fixed-length); NULL when absent. */
static char *read_text_attr(hid_t file, const char *name)
{
    if (H5Aexists(file, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    hid_t t = H5Aget_type(a);
    char *out = NULL;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s != NULL) {
                out = ps_strdup(s);
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            out = ps_calloc(n + 1, 1);
            if (out != NULL && H5Aread(a, t, out) < 0) {
                ps_free(out);
                out = NULL;
            }
        }
    }
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return out;
}

static long long read_int_attr(hid_t file, const char *name, long long fallback)
{
    if (H5Aexists(file, name) <= 0)
        return fallback;
    long long v = fallback;
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_LLONG, &v) < 0)
            v = fallback;
        H5Aclose(a);
    }
    return v;
}

/* Opens dataset `name` of `group` with 2 + k dimensions [chain, draw, ...]. */
static hid_t open_draw_dataset(hid_t group, const char *name, int *ndim, hsize_t *dims)
{
    hid_t ds = H5Dopen2(group, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t space = H5Dget_space(ds);
    int n = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (n < 2 || n > 10 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        if (space >= 0)
            H5Sclose(space);
        H5Dclose(ds);
        return -1;
    }
    H5Sclose(space);
    *ndim = n;
    return ds;
}

ps_status ps_run_summary_file(const char *path)
{
    ps_status status = PS_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    var_list vars = {0};
    quantity *qs = NULL;
    hid_t *datasets = NULL;
    size_t n_datasets = 0, n_q = 0;
    double *buf = NULL, *ebfmi = NULL;
    ps_diag_summary *rows = NULL;
    ps_diag_workspace *ws = NULL;
    ps_config *cfg = NULL;
    char *config_text = NULL, *stop_reason = NULL;
    hid_t post = -1, stats = -1, lp = -1;
    if (access(path, R_OK) != 0)
        return ps_error(PS_ERR_USAGE, "cannot read trace %s: %s", path, strerror(errno));
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return ps_error(PS_ERR_DATA, "%s is not an HDF5 file (a psample trace is one)", path);
    post = H5Gopen2(file, "posterior", H5P_DEFAULT);
    stats = H5Gopen2(file, "sample_stats", H5P_DEFAULT);
    if (post < 0 || stats < 0) {
        status = ps_error(PS_ERR_DATA,
                          "%s has no posterior and sample_stats groups: not a psample trace", path);
        goto done;
    }
    /* Thresholds from the run's configuration; defaults when it cannot be read. */
    config_text = read_text_attr(file, "psample_config");
    if (config_text != NULL && ps_config_parse("(configuration stored in the trace)", config_text,
                                               strlen(config_text), NULL, 0, &cfg) != PS_OK) {
        ps_error_clear();
        cfg = NULL;
    }
    stop_reason = read_text_attr(file, "psample_stop_reason");
    long long warmup = read_int_attr(file, "psample_warmup_draws", -1);

    /* Datasets of posterior in creation order (name order if it was not tracked),
     * without the coordinates. */
    if (H5Literate(post, H5_INDEX_CRT_ORDER, H5_ITER_INC, NULL, collect_name, &vars) < 0) {
        var_list_fini(&vars);
        memset(&vars, 0, sizeof vars);
        H5Literate(post, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_name, &vars);
    }
    if (vars.failed) {
        status = ps_error(PS_ERR_MEM, "out of memory reading trace %s", path);
        goto done;
    }
    PS_TRY(ps_alloc_array(&datasets, vars.n + 1, sizeof *datasets, "trace summary"));
    int lp_ndim = 0;
    hsize_t lp_dims[10];
    lp = open_draw_dataset(stats, "lp", &lp_ndim, lp_dims);
    if (lp < 0 || lp_ndim != 2) {
        status = h5_fail(path, "sample_stats/lp is missing or not [chain, draw]");
        goto done;
    }
    size_t n_chains = lp_dims[0], n_draws = lp_dims[1];
    /* Count the quantities: lp__ and the elements of each variable. */
    size_t total = 1;
    for (size_t i = 0; i < vars.n; i++) {
        const char *name = vars.names[i];
        if (strcmp(name, "chain") == 0 || strcmp(name, "draw") == 0)
            continue;
        int ndim = 0;
        hsize_t dims[10];
        hid_t ds = open_draw_dataset(post, name, &ndim, dims);
        if (ds < 0 || H5DSis_scale(ds) > 0) {
            if (ds >= 0)
                H5Dclose(ds);
            continue;
        }
        datasets[n_datasets++] = ds;
        if (dims[0] != n_chains || dims[1] != n_draws) {
            char what[400];
            snprintf(what, sizeof what,
                     "posterior/%s has %llu chains x %llu draws; lp has %zu x %zu", name,
                     (unsigned long long)dims[0], (unsigned long long)dims[1], n_chains, n_draws);
            status = h5_fail(path, what);
            goto done;
        }
        size_t per = 1;
        for (int d = 2; d < ndim; d++)
            per *= dims[d];
        total += per;
    }
    PS_TRY(ps_alloc_array(&qs, total, sizeof *qs, "trace summary"));
    snprintf(qs[0].name, sizeof qs[0].name, "lp__");
    qs[0].ds = lp;
    qs[0].ndim = 2;
    qs[0].dims[0] = n_chains;
    qs[0].dims[1] = n_draws;
    n_q = 1;
    for (size_t v = 0; v < n_datasets; v++) {
        char name[200];
        ssize_t len = H5Iget_name(datasets[v], name, sizeof name);
        const char *base = len > 0 ? strrchr(name, '/') + 1 : "?";
        int ndim = 0;
        hsize_t dims[10];
        hid_t space = H5Dget_space(datasets[v]);
        ndim = H5Sget_simple_extent_ndims(space);
        H5Sget_simple_extent_dims(space, dims, NULL);
        H5Sclose(space);
        size_t per = 1;
        for (int d = 2; d < ndim; d++)
            per *= dims[d];
        for (size_t e = 0; e < per; e++) {
            quantity *q = &qs[n_q++];
            q->ds = datasets[v];
            q->element = e;
            q->ndim = ndim;
            memcpy(q->dims, dims, sizeof dims);
            int n = snprintf(q->name, sizeof q->name, "%s", base);
            size_t rest = e, idx[8];
            for (int d = ndim - 1; d >= 2; d--) {
                idx[d - 2] = rest % dims[d];
                rest /= dims[d];
            }
            for (int d = 0; d < ndim - 2 && n > 0 && (size_t)n < sizeof q->name; d++)
                n += snprintf(q->name + n, sizeof q->name - (size_t)n, "%s%zu", d ? "," : "[",
                              idx[d] + 1);
            if (ndim > 2 && n > 0 && (size_t)n < sizeof q->name)
                snprintf(q->name + n, sizeof q->name - (size_t)n, "]");
        }
    }
    PS_TRY(ps_alloc_array(&rows, n_q, sizeof *rows, "trace summary"));
    PS_TRY(ps_alloc_array(&buf, n_chains * n_draws, sizeof *buf, "trace summary"));
    PS_TRY(ps_diag_workspace_create(n_chains, n_draws, &ws));
    for (size_t q = 0; q < n_q; q++) {
        PS_TRY(read_quantity(path, &qs[q], buf));
        PS_TRY(ps_diag_summarize(ws, buf, n_chains, n_draws, &rows[q]));
    }

    /* Divergences, tree-depth hits, E-BFMI from sample_stats. */
    int64_t max_depth = cfg ? cfg->sampler.max_treedepth : 10;
    double divergences = 0, depth_hits = 0;
    long long warmup_div = read_int_attr(file, "psample_warmup_divergences", -1);
    double div_warmup = warmup_div >= 0 ? (double)warmup_div : NAN;
    quantity sq = qs[0];
    hid_t div_ds = open_draw_dataset(stats, "diverging", &sq.ndim, sq.dims);
    if (div_ds >= 0) {
        sq.ds = div_ds;
        PS_TRY(read_quantity(path, &sq, buf));
        for (size_t i = 0; i < n_chains * n_draws; i++)
            divergences += buf[i] != 0;
        H5Dclose(div_ds);
    }
    hid_t depth_ds = open_draw_dataset(stats, "tree_depth", &sq.ndim, sq.dims);
    if (depth_ds >= 0) {
        sq.ds = depth_ds;
        PS_TRY(read_quantity(path, &sq, buf));
        for (size_t i = 0; i < n_chains * n_draws; i++)
            depth_hits += buf[i] >= (double)max_depth;
        H5Dclose(depth_ds);
    }
    bool metropolis = cfg && strcmp(cfg->sampler.algorithm, "metropolis") == 0;
    hid_t energy_ds = open_draw_dataset(stats, "energy", &sq.ndim, sq.dims);
    if (energy_ds >= 0 && !metropolis) {
        sq.ds = energy_ds;
        PS_TRY(read_quantity(path, &sq, buf));
        PS_TRY(ps_alloc_array(&ebfmi, n_chains, sizeof *ebfmi, "trace summary"));
        for (size_t c = 0; c < n_chains; c++) {
            const double *e = buf + c * n_draws;
            double mean = 0, sq_diff = 0, var = 0;
            for (size_t i = 0; i < n_draws; i++)
                mean += e[i] / (double)n_draws;
            for (size_t i = 0; i < n_draws; i++) {
                var += (e[i] - mean) * (e[i] - mean);
                if (i > 0)
                    sq_diff += (e[i] - e[i - 1]) * (e[i] - e[i - 1]);
            }
            ebfmi[c] = var > 0 ? sq_diff / var : NAN;
        }
    }
    if (energy_ds >= 0)
        H5Dclose(energy_ds);

    ps_strbuf out;
    ps_strbuf_init(&out);
    ps_strbuf_printf(&out, "psample summary of %s: %zu chains x %zu draws", path, n_chains,
                     n_draws);
    if (warmup >= 0)
        ps_strbuf_printf(&out, " after %lld warmup iterations", warmup);
    if (stop_reason != NULL)
        ps_strbuf_printf(&out, "; stop reason: %s", stop_reason);
    ps_strbuf_putc(&out, '\n');
    if (cfg == NULL)
        ps_strbuf_puts(&out, "(the trace holds no readable psample configuration: default "
                             "thresholds)\n");
    summary_ctx ctx = {qs};
    ps_table_input table = {n_q,
                            name_of,
                            &ctx,
                            rows,
                            n_chains,
                            (double)(n_chains * n_draws),
                            divergences,
                            div_warmup,
                            depth_hits,
                            max_depth,
                            ebfmi,
                            cfg ? cfg->convergence.rhat_max : 1.01,
                            cfg ? cfg->convergence.ess_bulk_min : 400,
                            cfg ? cfg->convergence.ess_tail_min : 400};
    ps_table_write(&out, &table);
    if (out.failed)
        status = ps_error(PS_ERR_MEM, "out of memory formatting the summary");
    else
        fputs(ps_strbuf_str(&out), stdout);
    ps_strbuf_fini(&out);
done:
    for (size_t i = 0; i < n_datasets; i++)
        H5Dclose(datasets[i]);
    if (lp >= 0)
        H5Dclose(lp);
    if (post >= 0)
        H5Gclose(post);
    if (stats >= 0)
        H5Gclose(stats);
    H5Fclose(file);
    var_list_fini(&vars);
    ps_free(datasets);
    ps_free(qs);
    ps_free(rows);
    ps_free(buf);
    ps_free(ebfmi);
    ps_diag_workspace_destroy(&ws);
    ps_config_destroy(&cfg);
    ps_free(config_text);
    ps_free(stop_reason);
    return status;
}
