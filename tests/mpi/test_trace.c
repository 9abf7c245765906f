/*
 * The parallel trace writer under MPI: writes the known trace of trace_model.h block by
 * block, kills ranks on purpose for the durability tests, resumes a trace, reads a file
 * back with serial HDF5, and drives the error paths.
 *
 *   test_trace write   path=P chains=C warmup=W draws=D block=B [flush_every=K]
 *                      [kill_after=F kill=one|all|mid [kill_gap=G]] [side=S]
 *                      [layout=even|reverse]
 *                      [force=1] [verify=1]
 *   test_trace resume  path=P chains=C from_warmup=W0 from_draws=D0 warmup=W draws=D block=B
 *   test_trace verify  path=P chains=C (warmup=W draws=D | side=S) [complete=1]
 *   test_trace errors  dir=F
 *
 * warmup=0 writes a trace without warmup groups. A killed run records the draws of its
 * last flush in the side file as "W D" (synced before the run goes on).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>
#include <mpi.h>

#include "io/trace.h"
#include "par/par.h"
#include "testlib.h"
#include "trace_model.h"

static int rank, size;

typedef struct options {
    const char *mode;
    const char *path;
    const char *side;
    const char *dir;
    const char *kill;
    const char *layout;
    long chains, warmup, draws, block, flush_every, kill_after, kill_gap;
    long from_warmup, from_draws;
    int force, verify, complete;
} options;

static const char *arg_text(int argc, char **argv, const char *key, const char *fallback)
{
    size_t n = strlen(key);
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    return fallback;
}

static long arg_long(int argc, char **argv, const char *key, long fallback)
{
    const char *v = arg_text(argc, argv, key, NULL);
    return v ? strtol(v, NULL, 10) : fallback;
}

/* Contiguous blocks, as even as possible; "reverse" hands rank r the block of rank
 * size-1-r, so that chain order differs from rank order. */
static void layout_of(const options *o, int r, size_t *first, size_t *count)
{
    int slot = strcmp(o->layout, "reverse") == 0 ? size - 1 - r : r;
    size_t base = (size_t)o->chains / (size_t)size, extra = (size_t)o->chains % (size_t)size;
    *count = base + ((size_t)slot < extra ? 1 : 0);
    *first = (size_t)slot * base + ((size_t)slot < extra ? (size_t)slot : extra);
}

static ps_trace_desc make_desc(const options *o, ps_trace_array *observed, ps_trace_array *constant)
{
    ps_trace_desc d;
    memset(&d, 0, sizeof d);
    d.vars = model_vars;
    d.n_vars = MODEL_N_VARS;
    d.stats = ps_trace_nuts_stats();
    d.n_stats = PS_NUTS_N_STATS;
    d.save_warmup = o->warmup > 0 || o->from_warmup > 0;
    d.n_chains = (size_t)o->chains;
    layout_of(o, rank, &d.first_chain, &d.n_local_chains);
    observed[0] = (ps_trace_array){"y", PS_TRACE_F64, 1, {4}, data_y};
    observed[1] = (ps_trace_array){"N", PS_TRACE_I64, 0, {0}, &data_n};
    observed[2] = (ps_trace_array){"flags", PS_TRACE_BOOL, 1, {3}, data_flags};
    constant[0] = (ps_trace_array){"X", PS_TRACE_I32, 2, {2, 3}, data_x};
    d.observed_data = observed;
    d.n_observed_data = 3;
    d.constant_data = constant;
    d.n_constant_data = 1;
    d.config_text = "[sampler]\nchains = 4\n# a config with \"quotes\" and unicode: \xc3\xa9\n";
    /* Longer than the 64 KiB an HDF5 object header can hold. */
    static char source[100001];
    if (source[0] == '\0')
        for (size_t i = 0; i + 1 < sizeof source; i++)
            source[i] = "parameters { real mu; }\n"[i % 24];
    d.model_source = source;
    d.layout_text = "test layout";
    d.seed = 18446744073709551557ull;
    d.draws_hint = 16;
    d.warmup_draws_hint = 8;
    d.chunk_bytes = 256;
    d.force = o->force != 0;
    return d;
}

/* Block sizes cycle through B, B/2 + 1, 1, B + 5, so blocks straddle chunk boundaries. */
static size_t block_size(long block, long index)
{
    long sizes[4] = {block, block / 2 + 1, 1, block + 5};
    return (size_t)sizes[index % 4];
}

typedef struct block_bufs {
    double *values;
    double *draw;
    double *f64[PS_NUTS_N_STATS];
    int64_t *i64[PS_NUTS_N_STATS];
    int8_t *i8;
    const void *stats[PS_NUTS_N_STATS];
} block_bufs;

static void fill_block(ps_trace *t, block_bufs *b, int part, size_t from, size_t n)
{
    size_t first = ps_trace_first_chain(t), local = ps_trace_n_local_chains(t);
    for (size_t c = 0; c < local; c++)
        for (size_t d = 0; d < n; d++) {
            int64_t chain = (int64_t)(first + c), draw = (int64_t)(from + d);
            size_t k = 0;
            for (int v = 0; v < MODEL_N_VARS; v++) {
                size_t elems = 1;
                for (int i = 0; i < model_vars[v].ndim; i++)
                    elems *= model_vars[v].dims[i];
                for (size_t e = 0; e < elems; e++)
                    b->draw[k++] = model_value(part, v, chain, draw, (int64_t)e);
            }
            ps_trace_block_put(t, b->values, n, c, d, b->draw);
            size_t cell = c * n + d;
            b->f64[PS_NUTS_STAT_LP][cell] = stat_lp(part, chain, draw);
            b->f64[PS_NUTS_STAT_ACCEPTANCE_RATE][cell] = stat_acceptance_rate(part, chain, draw);
            b->f64[PS_NUTS_STAT_STEP_SIZE][cell] = stat_step_size(part, chain, draw);
            b->i64[PS_NUTS_STAT_TREE_DEPTH][cell] = stat_tree_depth(part, chain, draw);
            b->i64[PS_NUTS_STAT_N_STEPS][cell] = stat_n_steps(part, chain, draw);
            b->i8[cell] = stat_diverging(part, chain, draw);
            b->f64[PS_NUTS_STAT_ENERGY][cell] = stat_energy(part, chain, draw);
            b->f64[PS_NUTS_STAT_ENERGY_ERROR][cell] = stat_energy_error(part, chain, draw);
        }
}

static void bufs_alloc(block_bufs *b, ps_trace *t, size_t max_block)
{
    size_t local = ps_trace_n_local_chains(t) + 1, cells = local * max_block;
    b->values = calloc(cells * ps_trace_values_per_draw(t) + 1, sizeof(double));
    b->draw = calloc(ps_trace_values_per_draw(t) + 1, sizeof(double));
    for (int s = 0; s < PS_NUTS_N_STATS; s++) {
        b->f64[s] = calloc(cells, sizeof(double));
        b->i64[s] = calloc(cells, sizeof(int64_t));
    }
    b->i8 = calloc(cells, 1);
    for (int s = 0; s < PS_NUTS_N_STATS; s++) {
        ps_trace_type type = ps_trace_nuts_stats()[s].type;
        b->stats[s] = type == PS_TRACE_F64   ? (const void *)b->f64[s]
                      : type == PS_TRACE_I64 ? (const void *)b->i64[s]
                                             : (const void *)b->i8;
    }
}

static void bufs_free(block_bufs *b)
{
    free(b->values);
    free(b->draw);
    for (int s = 0; s < PS_NUTS_N_STATS; s++) {
        free(b->f64[s]);
        free(b->i64[s]);
    }
    free(b->i8);
}

/* Rank 0 records the draws of the last flush, durably: temporary file, fsync, rename. */
static void record_flush(const options *o, size_t warmup, size_t draws)
{
    if (o->side == NULL || rank != 0)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->side);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        perror(tmp);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    fprintf(f, "%zu %zu\n", warmup, draws);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    rename(tmp, o->side);
}

/* No rank may die before rank 0 recorded the flush (a rank that dies takes the others
 * down, possibly before rank 0 wrote the side file). */
static void flush_recorded(const options *o, size_t warmup, size_t draws)
{
    record_flush(o, warmup, draws);
    if (o->side != NULL)
        MPI_Barrier(MPI_COMM_WORLD);
}

static int kill_rank(void)
{
    return size > 1 ? 1 : 0;
}

/*
 * Appends the draws [from, to) of one part. Every flush_every appends the trace is flushed
 * (through the timer helper with a zero period) and the count recorded; after kill_after
 * flushes and kill_gap more (unflushed) appends the chosen ranks die by SIGKILL.
 */
static void write_part(const options *o, ps_trace *t, block_bufs *b, int part, size_t from,
                       size_t to, long *appends, long *flushes)
{
    ps_trace_part which = part ? PS_TRACE_WARMUP : PS_TRACE_SAMPLING;
    static long armed_at = -1;
    for (size_t at = from; at < to;) {
        size_t n = block_size(o->block, *appends);
        if (n > to - at)
            n = to - at;
        if (armed_at >= 0 && *appends == armed_at + o->kill_gap) {
            if (strcmp(o->kill, "all") == 0 || (strcmp(o->kill, "one") == 0 && rank == kill_rank()))
                raise(SIGKILL);
            if (strcmp(o->kill, "mid") == 0) {
                /* Dies inside the next append, after the extension and before the writes. */
                char spec[64];
                snprintf(spec, sizeof spec, "trace_append_kill@%d", kill_rank());
                setenv("PSAMPLE_FAULT", spec, 1);
            }
        }
        fill_block(t, b, part, at, n);
        ps_status st = ps_trace_append(t, which, n, b->values, b->stats);
        CHECK(st == PS_OK, "append of %zu draws at %zu: %s", n, at, ps_error_message());
        if (st != PS_OK)
            MPI_Abort(MPI_COMM_WORLD, 1);
        at += n;
        (*appends)++;
        bool flushed = true;
        if (o->flush_every > 0 && *appends % o->flush_every == 0) {
            CHECK(ps_trace_flush_if_due(t, 0.0, &flushed) == PS_OK, "flush: %s",
                  ps_error_message());
            CHECK(flushed, "a zero flush period flushes");
            (*flushes)++;
            flush_recorded(o, ps_trace_n_draws(t, PS_TRACE_WARMUP),
                           ps_trace_n_draws(t, PS_TRACE_SAMPLING));
            if (o->kill_after > 0 && *flushes == o->kill_after)
                armed_at = *appends;
        } else {
            CHECK(ps_trace_flush_if_due(t, 1e9, &flushed) == PS_OK, "timer: %s",
                  ps_error_message());
            CHECK(!flushed, "a long flush period does not flush");
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Reading back with serial HDF5 (rank 0)
 * ------------------------------------------------------------------------------------- */

/* Reads a whole dataset into buf if it holds at most cap elements (else returns -2). */
static int read_all(hid_t file, const char *path, hid_t mtype, void *buf, size_t cap, hsize_t *dims,
                    int *ndim)
{
    hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t space = H5Dget_space(ds);
    *ndim = H5Sget_simple_extent_ndims(space);
    H5Sget_simple_extent_dims(space, dims, NULL);
    int rc = 0;
    hssize_t points = H5Sget_simple_extent_npoints(space);
    if (buf != NULL && (size_t)points > cap)
        rc = -2;
    else if (buf != NULL && points > 0)
        rc = H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0 ? -1 : 0;
    H5Sclose(space);
    H5Dclose(ds);
    return rc;
}

static hsize_t extent_of(hid_t file, const char *path, int axis)
{
    hsize_t dims[16] = {0};
    int ndim = 0;
    if (read_all(file, path, H5T_NATIVE_DOUBLE, NULL, 0, dims, &ndim) < 0 || axis >= ndim)
        return (hsize_t)-1;
    return dims[axis];
}

static void verify_part(hid_t file, int part, long chains, long draws)
{
    const char *post = part ? "warmup_posterior" : "posterior";
    const char *stats = part ? "warmup_sample_stats" : "sample_stats";
    char path[256];
    hsize_t dims[16];
    int ndim;
    size_t n = (size_t)chains * (size_t)draws;
    int64_t *coord = calloc((size_t)draws + (size_t)chains + 1, sizeof *coord);
    snprintf(path, sizeof path, "%s/draw", post);
    CHECK(read_all(file, path, H5T_NATIVE_INT64, coord, (size_t)draws + (size_t)chains + 1, dims,
                   &ndim) == 0 &&
              dims[0] == (hsize_t)draws,
          "%s has %llu draws, expected %ld", path, (unsigned long long)dims[0], draws);
    for (long d = 0; d < draws && dims[0] == (hsize_t)draws; d++)
        CHECK(coord[d] == d, "%s[%ld] is %lld", path, d, (long long)coord[d]);
    snprintf(path, sizeof path, "%s/chain", stats);
    CHECK(read_all(file, path, H5T_NATIVE_INT64, coord, (size_t)draws + (size_t)chains + 1, dims,
                   &ndim) == 0 &&
              dims[0] == (hsize_t)chains,
          "%s has %llu chains, expected %ld", path, (unsigned long long)dims[0], chains);
    for (long c = 0; c < chains && dims[0] == (hsize_t)chains; c++)
        CHECK(coord[c] == c, "%s[%ld] is %lld", path, c, (long long)coord[c]);
    free(coord);

    for (int v = 0; v < MODEL_N_VARS; v++) {
        size_t elems = 1;
        for (int i = 0; i < model_vars[v].ndim; i++)
            elems *= model_vars[v].dims[i];
        double *buf = calloc(n * elems + 1, sizeof *buf);
        snprintf(path, sizeof path, "%s/%s", post, model_vars[v].name);
        int rc = read_all(file, path, H5T_NATIVE_DOUBLE, buf, n * elems, dims, &ndim);
        CHECK(rc == 0 && ndim == 2 + model_vars[v].ndim && dims[0] == (hsize_t)chains &&
                  dims[1] == (hsize_t)draws,
              "%s: rank %d, shape [%llu, %llu, ...], expected [%ld, %ld, ...]", path, ndim,
              (unsigned long long)dims[0], (unsigned long long)dims[1], chains, draws);
        long bad = 0;
        for (size_t i = 0; rc == 0 && i < n * elems; i++) {
            int64_t e = (int64_t)(i % elems), cd = (int64_t)(i / elems);
            double want = model_value(part, v, cd / draws, cd % draws, e);
            if (buf[i] != want && bad++ < 3)
                CHECK(0, "%s[%lld, %lld, %lld] is %.17g, expected %.17g", path,
                      (long long)(cd / draws), (long long)(cd % draws), (long long)e, buf[i], want);
        }
        CHECK(bad == 0, "%s: %ld wrong values", path, bad);
        free(buf);
    }
    double *f = calloc(n + 1, sizeof *f);
    int64_t *i64 = calloc(n + 1, sizeof *i64);
    int8_t *i8 = calloc(n + 1, 1);
    for (int s = 0; s < PS_NUTS_N_STATS; s++) {
        const ps_trace_array *st = &ps_trace_nuts_stats()[s];
        snprintf(path, sizeof path, "%s/%s", stats, st->name);
        void *buf = st->type == PS_TRACE_F64   ? (void *)f
                    : st->type == PS_TRACE_I64 ? (void *)i64
                                               : (void *)i8;
        hid_t mt = st->type == PS_TRACE_F64   ? H5T_NATIVE_DOUBLE
                   : st->type == PS_TRACE_I64 ? H5T_NATIVE_INT64
                                              : H5T_NATIVE_INT8;
        int rc = read_all(file, path, mt, buf, n, dims, &ndim);
        CHECK(rc == 0 && ndim == 2 && dims[0] == (hsize_t)chains && dims[1] == (hsize_t)draws,
              "%s: shape [%llu, %llu], expected [%ld, %ld]", path, (unsigned long long)dims[0],
              (unsigned long long)dims[1], chains, draws);
        long bad = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            int64_t c = (int64_t)i / draws, d = (int64_t)i % draws;
            int ok = 1;
            switch (s) {
            case PS_NUTS_STAT_LP:
                ok = f[i] == stat_lp(part, c, d);
                break;
            case PS_NUTS_STAT_ACCEPTANCE_RATE:
                ok = f[i] == stat_acceptance_rate(part, c, d);
                break;
            case PS_NUTS_STAT_STEP_SIZE:
                ok = f[i] == stat_step_size(part, c, d);
                break;
            case PS_NUTS_STAT_TREE_DEPTH:
                ok = i64[i] == stat_tree_depth(part, c, d);
                break;
            case PS_NUTS_STAT_N_STEPS:
                ok = i64[i] == stat_n_steps(part, c, d);
                break;
            case PS_NUTS_STAT_DIVERGING:
                ok = i8[i] == stat_diverging(part, c, d);
                break;
            case PS_NUTS_STAT_ENERGY:
                ok = f[i] == stat_energy(part, c, d);
                break;
            default:
                ok = f[i] == stat_energy_error(part, c, d);
                break;
            }
            if (!ok)
                bad++;
        }
        CHECK(bad == 0, "%s: %ld wrong values", path, bad);
    }
    free(f);
    free(i64);
    free(i8);
}

static herr_t count_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    static const char *const allowed[] = {"posterior",        "sample_stats",
                                          "warmup_posterior", "warmup_sample_stats",
                                          "observed_data",    "constant_data"};
    int ok = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        ok |= strcmp(name, allowed[i]) == 0;
    CHECK(ok, "root group %s is not an InferenceData group", name);
    (*(int *)data)++;
    return 0;
}

/* Serial read-back of a trace with exactly warmup and draws draws per chain. */
static void verify_file(const char *path, long chains, long warmup, long draws, int save_warmup,
                        int complete)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0, "serial H5Fopen of %s", path);
    if (file < 0)
        return;
    int groups = 0;
    H5Literate(file, H5_INDEX_CRT_ORDER, H5_ITER_INC, NULL, count_link, &groups);
    CHECK(groups == (save_warmup ? 6 : 4), "%d root groups, expected %d", groups,
          save_warmup ? 6 : 4);
    verify_part(file, 0, chains, draws);
    if (save_warmup)
        verify_part(file, 1, chains, warmup);
    CHECK(extent_of(file, "posterior/empty", 2) == 0, "posterior/empty keeps its zero extent");
    double y[4];
    int64_t nn = 0;
    int32_t x[6];
    hsize_t dims[16];
    int ndim;
    CHECK(read_all(file, "observed_data/y", H5T_NATIVE_DOUBLE, y, 4, dims, &ndim) == 0 &&
              memcmp(y, data_y, sizeof y) == 0,
          "observed_data/y");
    CHECK(read_all(file, "observed_data/N", H5T_NATIVE_INT64, &nn, 1, dims, &ndim) == 0 && nn == 42,
          "observed_data/N is %lld", (long long)nn);
    CHECK(read_all(file, "constant_data/X", H5T_NATIVE_INT32, x, 6, dims, &ndim) == 0 &&
              memcmp(x, data_x, sizeof x) == 0 && ndim == 2,
          "constant_data/X");
    if (complete) {
        htri_t has = H5Aexists(file, "psample_stop_reason");
        CHECK(has > 0, "root attribute psample_stop_reason exists");
    }
    H5Fclose(file);
}

static void read_side(const char *side, long *warmup, long *draws)
{
    FILE *f = fopen(side, "r");
    CHECK(f != NULL, "side file %s exists", side);
    if (f == NULL)
        return;
    CHECK(fscanf(f, "%ld %ld", warmup, draws) == 2, "side file %s holds two counts", side);
    fclose(f);
}

/* ---------------------------------------------------------------------------------------
 * Modes
 * ------------------------------------------------------------------------------------- */

static void run_write(const options *o)
{
    ps_trace_array observed[3], constant[1];
    ps_trace_desc d = make_desc(o, observed, constant);
    ps_trace *t = NULL;
    ps_status st = ps_trace_create(MPI_COMM_WORLD, o->path, &d, &t);
    CHECK(st == PS_OK, "create %s: %s", o->path, ps_error_message());
    if (st != PS_OK)
        return;
    CHECK(ps_trace_values_per_draw(t) == 1 + 3 + 6 + 0 + 40, "values per draw is %zu",
          ps_trace_values_per_draw(t));
    block_bufs b;
    bufs_alloc(&b, t, (size_t)o->block + 5);
    long appends = 0, flushes = 0;
    /* Warmup and sampling interleave the way a driver with save_warmup writes them. */
    write_part(o, t, &b, 1, 0, (size_t)o->warmup, &appends, &flushes);
    write_part(o, t, &b, 0, 0, (size_t)o->draws, &appends, &flushes);
    CHECK(ps_trace_n_draws(t, PS_TRACE_SAMPLING) == (size_t)o->draws, "draws written");
    CHECK(ps_trace_n_draws(t, PS_TRACE_WARMUP) == (size_t)o->warmup, "warmup draws written");
    /* The second call replaces the first. */
    ps_trace_end early = {3, "not the last word", -1};
    CHECK(ps_trace_set_metadata(t, &early) == PS_OK, "metadata: %s", ps_error_message());
    ps_trace_end end = {o->warmup, "max_draws", -1};
    CHECK(ps_trace_set_metadata(t, &end) == PS_OK, "metadata: %s", ps_error_message());
    CHECK(ps_trace_close(&t) == PS_OK && t == NULL, "close");
    bufs_free(&b);
    MPI_Barrier(MPI_COMM_WORLD);
    if (o->verify && rank == 0)
        verify_file(o->path, o->chains, o->warmup, o->draws, o->warmup > 0, 1);
}

static void run_resume(const options *o)
{
    ps_trace_array observed[3], constant[1];
    ps_trace_desc d = make_desc(o, observed, constant);
    ps_trace *t = NULL;
    ps_status st = ps_trace_open_append(MPI_COMM_WORLD, o->path, &d, (size_t)o->from_warmup,
                                        (size_t)o->from_draws, &t);
    CHECK(st == PS_OK, "reopen %s: %s", o->path, ps_error_message());
    if (st != PS_OK)
        return;
    CHECK(ps_trace_n_draws(t, PS_TRACE_SAMPLING) == (size_t)o->from_draws, "draws after reopen");
    block_bufs b;
    bufs_alloc(&b, t, (size_t)o->block + 5);
    long appends = 0, flushes = 0;
    write_part(o, t, &b, 1, (size_t)o->from_warmup, (size_t)o->warmup, &appends, &flushes);
    write_part(o, t, &b, 0, (size_t)o->from_draws, (size_t)o->draws, &appends, &flushes);
    ps_trace_end end = {o->warmup, "max_draws", -1};
    CHECK(ps_trace_set_metadata(t, &end) == PS_OK, "metadata: %s", ps_error_message());
    CHECK(ps_trace_close(&t) == PS_OK, "close");
    bufs_free(&b);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        verify_file(o->path, o->chains, o->warmup, o->draws, o->warmup > 0, 1);
}

static void run_verify(const options *o)
{
    long warmup = o->warmup, draws = o->draws;
    if (o->side != NULL)
        read_side(o->side, &warmup, &draws);
    if (rank == 0) {
        printf("verifying %s: %ld warmup draws, %ld draws\n", o->path, warmup, draws);
        verify_file(o->path, o->chains, warmup, draws, o->warmup > 0 || warmup > 0, o->complete);
    }
}

/* Every rank must return the same status with the same message. */
static void check_agreed(ps_status st, ps_status want, const char *needle, const char *what)
{
    CHECK(st == want, "%s: status %d (%s), expected %d", what, (int)st, ps_error_message(),
          (int)want);
    CHECK_STR_CONTAINS(ps_error_message(), needle);
    int mine[2] = {(int)st, -(int)st}, agg[2];
    MPI_Allreduce(mine, agg, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    CHECK(agg[0] == -agg[1], "%s: ranks returned different statuses", what);
    ps_error_clear();
}

static void run_errors(const options *base)
{
    options o = *base;
    char path[4096];
    snprintf(path, sizeof path, "%s/errors.h5", o.dir);
    o.path = path;
    o.chains = 5;
    o.warmup = 0;
    o.force = 0;
    ps_trace_array observed[3], constant[1];
    ps_trace *t = NULL;
    if (rank == 0)
        unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);

    /* A first trace to collide with. */
    ps_trace_desc d = make_desc(&o, observed, constant);
    CHECK(ps_trace_create(MPI_COMM_WORLD, path, &d, &t) == PS_OK, "create: %s", ps_error_message());

    /* Appends: different counts on different ranks, a missing block. */
    block_bufs b;
    bufs_alloc(&b, t, 16);
    fill_block(t, &b, 0, 0, 4);
    if (size > 1)
        check_agreed(
            ps_trace_append(t, PS_TRACE_SAMPLING, rank == size - 1 ? 3 : 4, b.values, b.stats),
            PS_ERR_INTERNAL, "different numbers of draws (3 to 4)", "uneven append");
    const double *values = rank == 0 ? NULL : b.values;
    check_agreed(ps_trace_append(t, PS_TRACE_SAMPLING, 4, values, b.stats), PS_ERR_INTERNAL,
                 "no values", "append without values");
    /* A failed append leaves the trace usable. */
    size_t before = ps_trace_n_draws(t, PS_TRACE_SAMPLING);
    CHECK(ps_trace_append(t, PS_TRACE_SAMPLING, 4, b.values, b.stats) == PS_OK, "append: %s",
          ps_error_message());
    CHECK(ps_trace_n_draws(t, PS_TRACE_SAMPLING) == before + 4, "draws after a good append");
    /* Warmup was not asked for: appending to it does nothing. */
    CHECK(ps_trace_append(t, PS_TRACE_WARMUP, 4, b.values, b.stats) == PS_OK &&
              ps_trace_n_draws(t, PS_TRACE_WARMUP) == 0,
          "warmup append without save_warmup");
    /* Out of memory growing rank 0's coordinate buffer. */
    bufs_free(&b);
    bufs_alloc(&b, t, 64);
    fill_block(t, &b, 0, ps_trace_n_draws(t, PS_TRACE_SAMPLING), 50);
    if (rank == 0)
        ps_fault_alloc_after(1);
    check_agreed(ps_trace_append(t, PS_TRACE_SAMPLING, 50, b.values, b.stats), PS_ERR_MEM,
                 size > 1 ? "rank 0 of" : "out of memory", "append out of memory");
    ps_fault_alloc_after(0);
    bufs_free(&b);
    CHECK(ps_trace_close(&t) == PS_OK, "close");

    /* The file exists now. */
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d, &t), PS_ERR_IO, "already exists",
                 "existing file");
    CHECK(t == NULL, "no trace on failure");
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d, &t), PS_ERR_IO, path,
                 "the message names the file");

    /* Reopening: more draws than the file holds; a description that does not match. */
    check_agreed(ps_trace_open_append(MPI_COMM_WORLD, path, &d, 0, 9, &t), PS_ERR_IO,
                 "holds 4 draws in posterior", "reopen asking too much");
    ps_trace_array vars2[MODEL_N_VARS];
    memcpy(vars2, model_vars, sizeof vars2);
    vars2[1].dims[0] = 4;
    ps_trace_desc d2 = d;
    d2.vars = vars2;
    check_agreed(ps_trace_open_append(MPI_COMM_WORLD, path, &d2, 0, 4, &t), PS_ERR_IO,
                 "posterior/theta has another shape", "reopen with other shapes");
    d2 = d;
    d2.save_warmup = true;
    check_agreed(ps_trace_open_append(MPI_COMM_WORLD, path, &d2, 0, 4, &t), PS_ERR_IO,
                 "no group warmup_posterior", "reopen with warmup");
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/not_hdf5.h5", o.dir);
    if (rank == 0) {
        FILE *f = fopen(missing, "w");
        fputs("not an HDF5 file\n", f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    /* HDF5's own failure, with its error stack folded into the message. */
    check_agreed(ps_trace_open_append(MPI_COMM_WORLD, missing, &d, 0, 0, &t), PS_ERR_IO,
                 "H5Fopen failed for the file: unable to open file",
                 "reopen a file that is not HDF5");
    snprintf(missing, sizeof missing, "%s/missing.h5", o.dir);
    check_agreed(ps_trace_open_append(MPI_COMM_WORLD, missing, &d, 0, 0, &t), PS_ERR_IO,
                 "cannot reopen", "reopen a missing file");

    /* Creating: replacing with force; a missing folder; a local failure on one rank. */
    d.force = true;
    CHECK(ps_trace_create(MPI_COMM_WORLD, path, &d, &t) == PS_OK, "create with force: %s",
          ps_error_message());
    CHECK(ps_trace_n_draws(t, PS_TRACE_SAMPLING) == 0, "a replaced trace starts empty");
    ps_trace_destroy(&t);
    CHECK(t == NULL, "destroy sets NULL");
    snprintf(missing, sizeof missing, "%s/no/such/folder/t.h5", o.dir);
    check_agreed(ps_trace_create(MPI_COMM_WORLD, missing, &d, &t), PS_ERR_IO, "no/such/folder",
                 "missing folder");
    char spec[64];
    snprintf(spec, sizeof spec, "trace_create@%d", size - 1);
    setenv("PSAMPLE_FAULT", spec, 1);
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d, &t), PS_ERR_IO, "injected fault",
                 "injected local failure");
    unsetenv("PSAMPLE_FAULT");

    /* Descriptions: bad names, collisions, layouts, ranks that disagree. */
    ps_trace_array bad[2] = {{"a/b", PS_TRACE_F64, 0, {0}, NULL},
                             {"c", PS_TRACE_F64, 0, {0}, NULL}};
    d2 = d;
    d2.vars = bad;
    d2.n_vars = 2;
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d2, &t), PS_ERR_CONFIG,
                 "'a/b' in group posterior is not a valid variable name", "bad name");
    bad[0] = (ps_trace_array){"c_dim_0", PS_TRACE_F64, 0, {0}, NULL};
    bad[1] = (ps_trace_array){"c", PS_TRACE_F64, 1, {2}, NULL};
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d2, &t), PS_ERR_CONFIG,
                 "the name c_dim_0 occurs twice in group posterior", "coordinate collision");
    bad[0] = (ps_trace_array){"draw", PS_TRACE_F64, 0, {0}, NULL};
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d2, &t), PS_ERR_CONFIG,
                 "the name draw occurs twice", "variable named draw");
    bad[0] = (ps_trace_array){"x", PS_TRACE_I64, 0, {0}, NULL};
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d2, &t), PS_ERR_CONFIG,
                 "posterior variables are float64", "integer posterior variable");
    d2 = d;
    d2.first_chain = 0;
    d2.n_local_chains = 2;
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d2, &t), PS_ERR_CONFIG,
                 size > 1 ? "owned by more than one rank" : "owned by no rank",
                 "overlapping chains");
    d2 = d;
    d2.n_local_chains = rank == 0 ? d.n_local_chains - 1 : d.n_local_chains;
    if (rank == 0)
        d2.first_chain = d.first_chain + 1;
    check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d2, &t), PS_ERR_CONFIG,
                 "chain 0 is owned by no rank", "a chain without a rank");
    if (size > 1) {
        d2 = d;
        d2.seed = rank == size - 1 ? 7 : d.seed;
        char want[64];
        snprintf(want, sizeof want, "rank %d describes the trace differently", size - 1);
        check_agreed(ps_trace_create(MPI_COMM_WORLD, path, &d2, &t), PS_ERR_CONFIG, want,
                     "ranks disagree");
    }

    /* Every allocation of create may fail, on every rank or on one: the verdict is agreed,
     * nothing leaks or hangs, and some count lets create succeed. */
    int succeeded = 0;
    for (long k = 1; k < 400 && !succeeded; k++) {
        if (rank == (int)(k % size) || k % 3 == 0)
            ps_fault_alloc_after(k / 2 + 1);
        ps_status st = ps_trace_create(MPI_COMM_WORLD, path, &d, &t);
        ps_fault_alloc_after(0);
        int mine[2] = {(int)st, -(int)st}, agg[2];
        MPI_Allreduce(mine, agg, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        CHECK(agg[0] == -agg[1], "fault %ld: ranks returned different statuses", k);
        CHECK(st == PS_OK || st == PS_ERR_MEM, "fault %ld: status %d (%s)", k, (int)st,
              ps_error_message());
        ps_error_clear();
        if (st == PS_OK)
            succeeded = ps_trace_close(&t) == PS_OK;
    }
    CHECK(succeeded, "create succeeded once the faults ran past its allocations");
    if (rank == 0)
        unlink(path);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ps_fault_set_rank(rank);
    if (argc < 2) {
        fprintf(stderr, "usage: test_trace write|resume|verify|errors key=value...\n");
        MPI_Finalize();
        return 2;
    }
    options o;
    memset(&o, 0, sizeof o);
    o.mode = argv[1];
    o.path = arg_text(argc, argv, "path", "trace.h5");
    o.side = arg_text(argc, argv, "side", NULL);
    o.dir = arg_text(argc, argv, "dir", ".");
    o.kill = arg_text(argc, argv, "kill", "none");
    o.layout = arg_text(argc, argv, "layout", "even");
    o.chains = arg_long(argc, argv, "chains", 5);
    o.warmup = arg_long(argc, argv, "warmup", 0);
    o.draws = arg_long(argc, argv, "draws", 30);
    o.block = arg_long(argc, argv, "block", 7);
    o.flush_every = arg_long(argc, argv, "flush_every", 0);
    o.kill_after = arg_long(argc, argv, "kill_after", 0);
    o.kill_gap = arg_long(argc, argv, "kill_gap", 2);
    o.from_warmup = arg_long(argc, argv, "from_warmup", 0);
    o.from_draws = arg_long(argc, argv, "from_draws", 0);
    o.force = (int)arg_long(argc, argv, "force", 1);
    o.verify = (int)arg_long(argc, argv, "verify", 1);
    o.complete = (int)arg_long(argc, argv, "complete", 0);

    if (strcmp(o.mode, "write") == 0)
        run_write(&o);
    else if (strcmp(o.mode, "resume") == 0)
        run_resume(&o);
    else if (strcmp(o.mode, "verify") == 0)
        run_verify(&o);
    else if (strcmp(o.mode, "errors") == 0)
        run_errors(&o);
    else
        CHECK(0, "unknown mode %s", o.mode);

    /* Every rank's checks count: the job fails if any rank failed. */
    int mine = test_failures_, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    if (all > 0) {
        if (mine == 0)
            return 1;
        fprintf(stderr, "%d of %d checks failed on rank %d\n", test_failures_, test_checks_, rank);
        return 1;
    }
    if (rank == 0)
        printf("all %d checks passed on rank 0 (%s, %d ranks)\n", test_checks_, o.mode, size);
    return 0;
}
