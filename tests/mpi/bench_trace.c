/*
 * Throughput of the trace writer (a benchmark, not a test; scripts/bench/trace runs it).
 *
 *   mpirun -n 4 bench_trace PATH [chains=64] [draws=2000] [params=500] [block=100]
 *                           [chunk_bytes=0] [two_phase=0]
 *
 * Writes chains x draws draws of one vector variable of `params` elements plus the eight
 * NUTS statistics, in appends of `block` draws, and prints one line:
 *
 *   bytes=B append_s=A total_s=T
 *
 * where B counts the bytes of the variable and the statistics, A is the time spent in
 * ps_trace_append (the collective writes, which end in the page cache), and T also counts
 * creating the file and closing it (whose flush syncs the file to disk).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "io/trace.h"

static long arg_long(int argc, char **argv, const char *key, long fallback)
{
    size_t n = strlen(key);
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
            return strtol(argv[i] + n + 1, NULL, 10);
    return fallback;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: bench_trace PATH [chains=] [draws=] [params=] [block=]\n");
        MPI_Finalize();
        return 2;
    }
    const char *path = argv[1];
    size_t chains = (size_t)arg_long(argc, argv, "chains", 64);
    size_t draws = (size_t)arg_long(argc, argv, "draws", 2000);
    size_t params = (size_t)arg_long(argc, argv, "params", 500);
    size_t block = (size_t)arg_long(argc, argv, "block", 100);

    size_t base = chains / (size_t)size, extra = chains % (size_t)size;
    size_t local = base + ((size_t)rank < extra ? 1 : 0);
    size_t first = (size_t)rank * base + ((size_t)rank < extra ? (size_t)rank : extra);

    ps_trace_array var = {"theta", PS_TRACE_F64, 1, {params}, NULL};
    ps_trace_desc d;
    memset(&d, 0, sizeof d);
    d.vars = &var;
    d.n_vars = 1;
    d.stats = ps_trace_nuts_stats();
    d.n_stats = PS_NUTS_N_STATS;
    d.n_chains = chains;
    d.first_chain = first;
    d.n_local_chains = local;
    d.draws_hint = draws;
    d.chunk_bytes = (size_t)arg_long(argc, argv, "chunk_bytes", 0);
    d.two_phase_io = arg_long(argc, argv, "two_phase", 0) != 0;
    d.force = true;

    /* One block of values, reused for every append: the content does not change the cost. */
    size_t cells = local * block + 1;
    double *values = malloc(cells * params * sizeof *values);
    double *f64 = malloc(cells * sizeof *f64);
    int64_t *i64 = malloc(cells * sizeof *i64);
    int8_t *i8 = calloc(cells, 1);
    if (values == NULL || f64 == NULL || i64 == NULL || i8 == NULL)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (size_t i = 0; i < cells * params; i++)
        values[i] = 0.001 * (double)i;
    for (size_t i = 0; i < cells; i++) {
        f64[i] = -1.5 * (double)i;
        i64[i] = (int64_t)i % 11;
    }
    const void *stats[PS_NUTS_N_STATS];
    for (int s = 0; s < PS_NUTS_N_STATS; s++) {
        ps_trace_type type = ps_trace_nuts_stats()[s].type;
        stats[s] = type == PS_TRACE_F64   ? (const void *)f64
                   : type == PS_TRACE_I64 ? (const void *)i64
                                          : (const void *)i8;
    }

    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime(), in_append = 0.0;
    ps_trace *t = NULL;
    if (ps_trace_create(MPI_COMM_WORLD, path, &d, &t) != PS_OK) {
        fprintf(stderr, "bench_trace: %s\n", ps_error_message());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (size_t at = 0; at < draws; at += block) {
        size_t n = draws - at < block ? draws - at : block;
        MPI_Barrier(MPI_COMM_WORLD);
        double a = MPI_Wtime();
        if (ps_trace_append(t, PS_TRACE_SAMPLING, n, values, stats) != PS_OK) {
            fprintf(stderr, "bench_trace: %s\n", ps_error_message());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        in_append += MPI_Wtime() - a;
    }
    ps_trace_close(&t);
    MPI_Barrier(MPI_COMM_WORLD);
    double total = MPI_Wtime() - t0;

    size_t stat_bytes = 0;
    for (int s = 0; s < PS_NUTS_N_STATS; s++)
        stat_bytes += ps_trace_nuts_stats()[s].type == PS_TRACE_BOOL ? 1 : 8;
    double bytes = (double)chains * (double)draws * (double)(params * 8 + stat_bytes);
    if (rank == 0)
        printf("bytes=%.0f append_s=%.6f total_s=%.6f\n", bytes, in_append, total);
    free(values);
    free(f64);
    free(i64);
    free(i8);
    MPI_Finalize();
    return 0;
}
