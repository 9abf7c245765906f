/* Chains over ranks in contiguous blocks (DESIGN.md Section 6). */
#include "par/par.h"

ps_status ps_layout_create(MPI_Comm comm, int64_t n_chains, ps_layout **out)
{
    *out = NULL;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (n_chains < size)
        return ps_error(PS_ERR_CONFIG,
                        "%d MPI ranks but only %lld chain%s: every rank runs at least one chain; "
                        "set sampler.chains to at least %d (e.g. --set sampler.chains=%d) or run "
                        "with at most %lld rank%s",
                        size, (long long)n_chains, n_chains == 1 ? "" : "s", size, size,
                        (long long)n_chains, n_chains == 1 ? "" : "s");
    ps_layout *l = ps_calloc(1, sizeof *l);
    if (l == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating the chain layout");
    l->rank = rank;
    l->size = size;
    l->n_chains = n_chains;
    if (ps_alloc_array(&l->first, (size_t)size, sizeof(int64_t), "chain layout") != PS_OK ||
        ps_alloc_array(&l->count, (size_t)size, sizeof(int64_t), "chain layout") != PS_OK) {
        ps_layout_destroy(&l);
        return PS_ERR_MEM;
    }
    int64_t base = n_chains / size, extra = n_chains % size, next = 0;
    for (int r = 0; r < size; r++) {
        l->first[r] = next;
        l->count[r] = base + (r < extra ? 1 : 0);
        next += l->count[r];
    }
    *out = l;
    return PS_OK;
}

void ps_layout_destroy(ps_layout **layout)
{
    if (layout == NULL || *layout == NULL)
        return;
    ps_free((*layout)->first);
    ps_free((*layout)->count);
    ps_free(*layout);
    *layout = NULL;
}
