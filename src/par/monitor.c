/* Distributed convergence monitor: each rank holds all draws of a share of the quantities
 * (DESIGN.md Section 5: online convergence spread over the ranks). */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "par/par.h"

struct ps_monitor {
    MPI_Comm comm;
    const ps_layout *layout;
    size_t n_quantities;
    size_t q_lo, q_hi; /* quantities owned by this rank */
    size_t *share_lo;  /* per rank: first owned quantity (size + 1 entries) */
    size_t n_draws;    /* per chain */
    size_t capacity;   /* draws per chain the history can hold */
    double *history;   /* [owned q][chain][capacity] */
    double *compact;   /* [chain][n_draws] scratch for one quantity */
    ps_diag_workspace *diag;
    size_t diag_capacity;
    int *scounts, *sdispls, *rcounts, *rdispls;
};

void ps_monitor_destroy(ps_monitor **monitor)
{
    if (monitor == NULL || *monitor == NULL)
        return;
    ps_monitor *m = *monitor;
    ps_free(m->share_lo);
    ps_free(m->history);
    ps_free(m->compact);
    ps_diag_workspace_destroy(&m->diag);
    ps_free(m->scounts);
    ps_free(m->sdispls);
    ps_free(m->rcounts);
    ps_free(m->rdispls);
    ps_free(m);
    *monitor = NULL;
}

ps_status ps_monitor_create(MPI_Comm comm, const ps_layout *layout, size_t n_quantities,
                            ps_monitor **out)
{
    *out = NULL;
    ps_status st = PS_OK;
    ps_monitor *m = ps_calloc(1, sizeof *m);
    if (m == NULL)
        st = ps_error(PS_ERR_MEM, "out of memory creating the convergence monitor");
    size_t size = (size_t)layout->size;
    if (st == PS_OK) {
        m->comm = comm;
        m->layout = layout;
        m->n_quantities = n_quantities;
        st = ps_alloc_array(&m->share_lo, size + 1, sizeof(size_t), "convergence monitor");
    }
    if (st == PS_OK)
        st = ps_alloc_array(&m->scounts, size, sizeof(int), "convergence monitor");
    if (st == PS_OK)
        st = ps_alloc_array(&m->sdispls, size, sizeof(int), "convergence monitor");
    if (st == PS_OK)
        st = ps_alloc_array(&m->rcounts, size, sizeof(int), "convergence monitor");
    if (st == PS_OK)
        st = ps_alloc_array(&m->rdispls, size, sizeof(int), "convergence monitor");
    if (st == PS_OK) {
        for (size_t r = 0; r <= size; r++)
            m->share_lo[r] = n_quantities * r / size;
        m->q_lo = m->share_lo[layout->rank];
        m->q_hi = m->share_lo[layout->rank + 1];
    }
    st = ps_comm_agree(comm, st);
    if (st != PS_OK) {
        ps_monitor_destroy(&m);
        return st;
    }
    *out = m;
    return PS_OK;
}

void ps_monitor_reset(ps_monitor *m)
{
    m->n_draws = 0;
}

size_t ps_monitor_n_draws(const ps_monitor *m)
{
    return m->n_draws;
}

/* Grows the history to hold at least `need` draws per chain, keeping what it holds. */
static ps_status grow(ps_monitor *m, size_t need)
{
    if (need <= m->capacity)
        return PS_OK;
    size_t cap = m->capacity ? m->capacity : 64;
    while (cap < need)
        cap *= 2;
    size_t owned = m->q_hi - m->q_lo, chains = (size_t)m->layout->n_chains, total;
    if (!ps_size_mul(owned, chains, &total) || !ps_size_mul(total, cap, &total))
        return ps_error(PS_ERR_MEM, "convergence monitor: draw history too large");
    double *h = NULL;
    PS_CHECK(ps_alloc_array(&h, total, sizeof(double), "the convergence monitor's draws"));
    for (size_t q = 0; q < owned; q++)
        for (size_t c = 0; c < chains; c++)
            memcpy(h + (q * chains + c) * cap, m->history + (q * chains + c) * m->capacity,
                   m->n_draws * sizeof(double));
    ps_free(m->history);
    m->history = h;
    m->capacity = cap;
    ps_free(m->compact);
    m->compact = NULL;
    ps_status st = ps_alloc_array(&m->compact, chains * cap, sizeof(double),
                                  "the convergence monitor's scratch");
    if (st == PS_OK) {
        ps_diag_workspace_destroy(&m->diag);
        st = ps_diag_workspace_create(chains, cap, &m->diag);
    }
    return st;
}

ps_status ps_monitor_append(ps_monitor *m, size_t n_draws, const double *block, size_t chain_stride)
{
    const ps_layout *l = m->layout;
    size_t n_local = (size_t)l->count[l->rank], nq = m->n_quantities;
    size_t owned = m->q_hi - m->q_lo, chains = (size_t)l->n_chains;
    double *sendbuf = NULL, *recvbuf = NULL;
    size_t send_total = n_local * nq * n_draws, recv_total = chains * owned * n_draws;
    ps_status st = PS_OK;
    if (send_total > INT_MAX || recv_total > INT_MAX)
        st = ps_error(PS_ERR_MPI,
                      "convergence monitor: a block of %zu draws of %zu quantities "
                      "is too large for one MPI exchange",
                      n_draws, nq);
    if (st == PS_OK)
        st = grow(m, m->n_draws + n_draws);
    if (st == PS_OK)
        st = ps_alloc_array(&sendbuf, send_total, sizeof(double), "convergence monitor");
    if (st == PS_OK)
        st = ps_alloc_array(&recvbuf, recv_total, sizeof(double), "convergence monitor");
    st = ps_comm_agree(m->comm, st);
    if (st != PS_OK)
        goto done;
    /* Send buffer: for each owner rank s, for each local chain, for each of s's quantities,
     * the n_draws draws. */
    size_t off = 0;
    for (int s = 0; s < l->size; s++) {
        size_t lo = m->share_lo[s], hi = m->share_lo[s + 1];
        m->sdispls[s] = (int)off;
        for (size_t c = 0; c < n_local; c++)
            for (size_t q = lo; q < hi; q++)
                for (size_t i = 0; i < n_draws; i++)
                    sendbuf[off++] = block[(c * chain_stride + i) * nq + q];
        m->scounts[s] = (int)(off - (size_t)m->sdispls[s]);
    }
    for (int r = 0; r < l->size; r++) {
        m->rcounts[r] = (int)((size_t)l->count[r] * owned * n_draws);
        m->rdispls[r] = (int)((size_t)l->first[r] * owned * n_draws);
    }
    ps_par_note(send_total * sizeof(double));
    PS_MPI(MPI_Alltoallv(sendbuf, m->scounts, m->sdispls, MPI_DOUBLE, recvbuf, m->rcounts,
                         m->rdispls, MPI_DOUBLE, m->comm),
           "MPI_Alltoallv", m->comm);
    /* recvbuf: for each chain (in chain order), for each owned quantity, the draws. */
    for (size_t c = 0; c < chains; c++)
        for (size_t q = 0; q < owned; q++)
            memcpy(m->history + (q * chains + c) * m->capacity + m->n_draws,
                   recvbuf + (c * owned + q) * n_draws, n_draws * sizeof(double));
    m->n_draws += n_draws;
done:
    ps_free(sendbuf);
    ps_free(recvbuf);
    return st;
}

/* The draws of owned quantity q as a chain-major [chain][n_draws] array. */
static const double *quantity_draws(ps_monitor *m, size_t q)
{
    size_t chains = (size_t)m->layout->n_chains;
    for (size_t c = 0; c < chains; c++)
        memcpy(m->compact + c * m->n_draws, m->history + (q * chains + c) * m->capacity,
               m->n_draws * sizeof(double));
    return m->compact;
}

static bool all_equal(const double *x, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (x[i] != x[0])
            return false;
    return true;
}

static bool any_nonfinite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return true;
    return false;
}

ps_status ps_monitor_check(ps_monitor *m, ps_convergence *out)
{
    size_t chains = (size_t)m->layout->n_chains, n = m->n_draws;
    /* Worst values of this rank's quantities; ties go to the lowest quantity number. */
    struct {
        double value;
        int index;
    } worst[3] = {{-INFINITY, INT_MAX}, {-INFINITY, INT_MAX}, {-INFINITY, INT_MAX}}, global[3];
    for (size_t q = m->q_lo; q < m->q_hi && n > 0; q++) {
        const double *x = quantity_draws(m, q - m->q_lo);
        double rhat, bulk, tail;
        if (all_equal(x, chains * n))
            continue; /* a constant quantity has nothing to converge */
        if (any_nonfinite(x, chains * n)) {
            rhat = INFINITY;
            bulk = 0.0;
            tail = 0.0;
        } else {
            ps_diag_convergence(m->diag, x, chains, n, &rhat, &bulk, &tail);
            if (isnan(rhat))
                rhat = INFINITY;
            if (isnan(bulk))
                bulk = 0.0;
            if (isnan(tail))
                tail = 0.0;
        }
        /* Reduce as maxima: R-hat, -ESS. */
        double v[3] = {rhat, -bulk, -tail};
        for (int k = 0; k < 3; k++)
            if (v[k] > worst[k].value) {
                worst[k].value = v[k];
                worst[k].index = (int)q;
            }
    }
    ps_par_note(sizeof worst);
    PS_MPI(MPI_Allreduce(worst, global, 3, MPI_DOUBLE_INT, MPI_MAXLOC, m->comm), "MPI_Allreduce",
           m->comm);
    out->n_draws = n;
    bool none = global[0].index == INT_MAX;
    out->max_rhat = none ? NAN : global[0].value;
    out->max_rhat_q = none ? -1 : global[0].index;
    out->min_ess_bulk = none ? NAN : -global[1].value;
    out->min_ess_bulk_q = none ? -1 : global[1].index;
    out->min_ess_tail = none ? NAN : -global[2].value;
    out->min_ess_tail_q = none ? -1 : global[2].index;
    return PS_OK;
}

enum { SUMMARY_FIELDS = sizeof(ps_diag_summary) / sizeof(double) };
_Static_assert(sizeof(ps_diag_summary) == SUMMARY_FIELDS * sizeof(double),
               "ps_diag_summary is made of doubles");

ps_status ps_monitor_summarize(ps_monitor *m, ps_diag_summary *rows)
{
    const ps_layout *l = m->layout;
    size_t owned = m->q_hi - m->q_lo, chains = (size_t)l->n_chains;
    ps_diag_summary *mine = NULL;
    ps_status st = ps_alloc_array(&mine, owned, sizeof *mine, "summary");
    for (size_t q = 0; q < owned && st == PS_OK && m->n_draws > 0; q++)
        st = ps_diag_summarize(m->diag, quantity_draws(m, q), chains, m->n_draws, &mine[q]);
    st = ps_comm_agree(m->comm, st);
    if (st == PS_OK) {
        for (int r = 0; r < l->size; r++) {
            m->rcounts[r] = (int)((m->share_lo[r + 1] - m->share_lo[r]) * SUMMARY_FIELDS);
            m->rdispls[r] = (int)(m->share_lo[r] * SUMMARY_FIELDS);
        }
        PS_MPI(MPI_Gatherv(mine, (int)(owned * SUMMARY_FIELDS), MPI_DOUBLE, rows, m->rcounts,
                           m->rdispls, MPI_DOUBLE, 0, m->comm),
               "MPI_Gatherv", m->comm);
    }
    ps_free(mine);
    return st;
}

ps_status ps_monitor_digest(ps_monitor *m, uint64_t *digest)
{
    const ps_layout *l = m->layout;
    size_t owned = m->q_hi - m->q_lo, chains = (size_t)l->n_chains;
    uint64_t *mine = NULL, *all = NULL;
    ps_status st = ps_alloc_array(&mine, owned, sizeof *mine, "digest");
    if (st == PS_OK)
        st = ps_alloc_array(&all, m->n_quantities, sizeof *all, "digest");
    st = ps_comm_agree(m->comm, st);
    if (st == PS_OK) {
        for (size_t q = 0; q < owned; q++)
            mine[q] =
                ps_fnv1a(PS_FNV_OFFSET, quantity_draws(m, q), chains * m->n_draws * sizeof(double));
        for (int r = 0; r < l->size; r++) {
            m->rcounts[r] = (int)(m->share_lo[r + 1] - m->share_lo[r]);
            m->rdispls[r] = (int)m->share_lo[r];
        }
        PS_MPI(MPI_Allgatherv(mine, (int)owned, MPI_UINT64_T, all, m->rcounts, m->rdispls,
                              MPI_UINT64_T, m->comm),
               "MPI_Allgatherv", m->comm);
        *digest = ps_fnv1a(PS_FNV_OFFSET, all, m->n_quantities * sizeof *all);
    }
    ps_free(mine);
    ps_free(all);
    return st;
}
