/* Pooled warmup adaptation across all chains (DESIGN.md Section 5). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par/par.h"

/* Displacements and counts (in elements) of blocks of per-chain records, for Allgatherv;
 * errors when an MPI int count would overflow. */
static ps_status chain_counts(const ps_layout *l, size_t per_chain, int *counts, int *displs)
{
    size_t off = 0;
    for (int r = 0; r < l->size; r++) {
        size_t n;
        if (!ps_size_mul((size_t)l->count[r], per_chain, &n) || n > INT_MAX || off > INT_MAX - n)
            return ps_error(PS_ERR_MPI,
                            "pooled adaptation: %zu values per chain over %lld chains exceed "
                            "what one MPI message can carry",
                            per_chain, (long long)l->n_chains);
        counts[r] = (int)n;
        displs[r] = (int)off;
        off += n;
    }
    return PS_OK;
}

/* Share of m2 entries [lo, hi) that rank r merges. */
static void entry_share(size_t n_entries, int size, int r, size_t *lo, size_t *hi)
{
    *lo = n_entries * (size_t)r / (size_t)size;
    *hi = n_entries * (size_t)(r + 1) / (size_t)size;
}

ps_status ps_pool_metric(MPI_Comm comm, const ps_layout *l, const ps_welford *const *local_acc,
                         ps_metric_kind kind, size_t dim, double *inv_metric, uint64_t *n_points)
{
    ps_status st = PS_OK;
    bool dense = kind == PS_METRIC_DENSE;
    size_t n_entries = dense ? dim * dim : dim;
    size_t n_local = (size_t)l->count[l->rank];
    size_t n_chains = (size_t)l->n_chains;
    size_t rec = 1 + dim; /* count and mean of one chain */
    int *counts = NULL, *displs = NULL, *scounts = NULL, *sdispls = NULL;
    double *mine = NULL, *all = NULL, *sendbuf = NULL, *recvbuf = NULL, *merged = NULL;
    double *deltas = NULL, *coef = NULL, *mean = NULL;
    ps_welford pooled = {0};
    *n_points = 0;
    if (kind == PS_METRIC_UNIT)
        return ps_comm_agree(comm, PS_OK);

    size_t lo, hi;
    entry_share(n_entries, l->size, l->rank, &lo, &hi);
    size_t my_entries = hi - lo;
    size_t send_total = 0, recv_total = 0;
    bool sizes_ok = ps_size_mul(n_local, n_entries, &send_total) &&
                    ps_size_mul(n_chains, my_entries, &recv_total) && send_total <= INT_MAX &&
                    recv_total <= INT_MAX;
    if (!sizes_ok)
        st = ps_error(PS_ERR_MPI,
                      "pooled adaptation: a %s metric of dimension %zu over %zu chains is too "
                      "large for one MPI exchange",
                      dense ? "dense" : "diagonal", dim, n_chains);
    if (st == PS_OK)
        st = ps_alloc_array(&counts, (size_t)l->size, sizeof(int), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&displs, (size_t)l->size, sizeof(int), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&scounts, (size_t)l->size, sizeof(int), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&sdispls, (size_t)l->size, sizeof(int), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&mine, n_local * rec, sizeof(double), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&all, n_chains * rec, sizeof(double), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&sendbuf, send_total, sizeof(double), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&recvbuf, recv_total, sizeof(double), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&merged, n_entries, sizeof(double), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&deltas, n_chains * dim, sizeof(double), "pooled adaptation");
    if (st == PS_OK)
        st = ps_alloc_array(&coef, n_chains, sizeof(double), "pooled adaptation");
    if (st == PS_OK)
        st = ps_welford_init(&pooled, dim, dense);
    if (st == PS_OK)
        st = chain_counts(l, rec, counts, displs);
    st = ps_comm_agree(comm, st);
    if (st != PS_OK)
        goto done;

    /* 1. Every rank learns every chain's count and mean, in chain order. */
    for (size_t c = 0; c < n_local; c++) {
        mine[c * rec] = (double)local_acc[c]->n;
        memcpy(mine + c * rec + 1, local_acc[c]->mean, dim * sizeof(double));
    }
    ps_par_note(n_local * rec * sizeof(double));
    PS_MPI(MPI_Allgatherv(mine, (int)(n_local * rec), MPI_DOUBLE, all, counts, displs, MPI_DOUBLE,
                          comm),
           "MPI_Allgatherv", comm);

    /* 2. The sequence of merged means (the same on every rank): chain c contributes
     * delta_c = mean_c - mean_(0..c-1) with weight coef_c = n_(0..c-1) n_c / n_(0..c). The
     * first chain with draws starts the merge by copying. */
    mean = pooled.mean;
    uint64_t total = 0;
    for (size_t c = 0; c < n_chains; c++) {
        uint64_t nc = (uint64_t)all[c * rec];
        const double *mc = all + c * rec + 1;
        coef[c] = 0.0;
        if (nc == 0)
            continue;
        if (total == 0) {
            memcpy(mean, mc, dim * sizeof(double));
            total = nc;
            coef[c] = -1.0; /* marks the chain that starts the merge */
            continue;
        }
        uint64_t new_total = total + nc;
        for (size_t i = 0; i < dim; i++) {
            double delta = mc[i] - mean[i];
            deltas[c * dim + i] = delta;
            mean[i] += delta * (double)nc / (double)new_total;
        }
        coef[c] = (double)total * (double)nc / (double)new_total;
        total = new_total;
    }
    pooled.n = total;

    /* 3. Second moments: rank q merges entries [lo_q, hi_q) over all chains. */
    size_t off = 0;
    for (int q = 0; q < l->size; q++) {
        size_t qlo, qhi;
        entry_share(n_entries, l->size, q, &qlo, &qhi);
        scounts[q] = (int)(n_local * (qhi - qlo));
        sdispls[q] = (int)off;
        for (size_t c = 0; c < n_local; c++) {
            memcpy(sendbuf + off, local_acc[c]->m2 + qlo, (qhi - qlo) * sizeof(double));
            off += qhi - qlo;
        }
    }
    for (int r = 0; r < l->size; r++) {
        counts[r] = (int)((size_t)l->count[r] * my_entries);
        displs[r] = (int)((size_t)l->first[r] * my_entries);
    }
    ps_par_note(send_total * sizeof(double));
    PS_MPI(MPI_Alltoallv(sendbuf, scounts, sdispls, MPI_DOUBLE, recvbuf, counts, displs, MPI_DOUBLE,
                         comm),
           "MPI_Alltoallv", comm);
    double *share = merged + lo;
    for (size_t e = 0; e < my_entries; e++)
        share[e] = 0.0;
    for (size_t c = 0; c < n_chains; c++) {
        if (coef[c] == 0.0)
            continue;
        const double *m2c = recvbuf + c * my_entries;
        if (coef[c] < 0.0) {
            memcpy(share, m2c, my_entries * sizeof(double));
            continue;
        }
        const double *dc = deltas + c * dim;
        for (size_t e = 0; e < my_entries; e++) {
            size_t entry = lo + e;
            size_t i = dense ? entry % dim : entry, j = dense ? entry / dim : entry;
            share[e] = share[e] + m2c[e] + dc[i] * dc[j] * coef[c];
        }
    }

    /* 4. Every rank gets every share, then forms the regularised metric. */
    for (int r = 0; r < l->size; r++) {
        size_t rlo, rhi;
        entry_share(n_entries, l->size, r, &rlo, &rhi);
        counts[r] = (int)(rhi - rlo);
        displs[r] = (int)rlo;
    }
    ps_par_note(my_entries * sizeof(double));
    PS_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, merged, counts, displs, MPI_DOUBLE,
                          comm),
           "MPI_Allgatherv", comm);
    memcpy(pooled.m2, merged, n_entries * sizeof(double));
    *n_points = total;
    if (!ps_welford_regularized_metric(&pooled, inv_metric))
        st = ps_error(PS_ERR_NUMERIC,
                      "pooled adaptation: the window holds %llu draws over all chains; at "
                      "least 2 are needed to estimate a metric",
                      (unsigned long long)total);
    st = ps_comm_agree(comm, st);
done:
    ps_welford_fini(&pooled);
    ps_free(counts);
    ps_free(displs);
    ps_free(scounts);
    ps_free(sdispls);
    ps_free(mine);
    ps_free(all);
    ps_free(sendbuf);
    ps_free(recvbuf);
    ps_free(merged);
    ps_free(deltas);
    ps_free(coef);
    return st;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

ps_status ps_gather_chain_values(MPI_Comm comm, const ps_layout *l, const double *local_values,
                                 double *all)
{
    int *counts = NULL, *displs = NULL;
    ps_status st = ps_alloc_array(&counts, (size_t)l->size, sizeof(int), "chain values");
    if (st == PS_OK)
        st = ps_alloc_array(&displs, (size_t)l->size, sizeof(int), "chain values");
    if (st == PS_OK)
        st = chain_counts(l, 1, counts, displs);
    st = ps_comm_agree(comm, st);
    if (st == PS_OK)
        ps_par_note((size_t)counts[l->rank] * sizeof(double));
    if (st == PS_OK)
        PS_MPI(MPI_Allgatherv(local_values, counts[l->rank], MPI_DOUBLE, all, counts, displs,
                              MPI_DOUBLE, comm),
               "MPI_Allgatherv", comm);
    ps_free(counts);
    ps_free(displs);
    return st;
}

ps_status ps_pool_step_size(MPI_Comm comm, const ps_layout *l, const double *local_step_sizes,
                            double *pooled)
{
    size_t n = (size_t)l->n_chains;
    double *all = NULL;
    ps_status st = ps_comm_agree(comm, ps_alloc_array(&all, n, sizeof(double), "step sizes"));
    if (st != PS_OK)
        return st;
    st = ps_gather_chain_values(comm, l, local_step_sizes, all);
    if (st == PS_OK) {
        for (size_t c = 0; c < n; c++)
            all[c] = log(all[c]);
        qsort(all, n, sizeof(double), compare_double);
        double median = n % 2 ? all[n / 2] : 0.5 * (all[n / 2 - 1] + all[n / 2]);
        *pooled = exp(median);
    }
    ps_free(all);
    return st;
}
