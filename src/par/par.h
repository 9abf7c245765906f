/*
 * Everything MPI that the other modules share: agreement on a status, and the collective
 * loading of the configuration.
 */
#ifndef PS_PAR_H
#define PS_PAR_H

#include <mpi.h>

#include "config/config.h"
#include "core/core.h"
#include "diag/diag.h"
#include "mcmc/mcmc.h"

/*
 * The agreement point of STYLE.md. Collective on comm.
 *
 * Every rank passes its local status. If all are PS_OK, returns PS_OK everywhere.
 * Otherwise every rank returns the status of the lowest-numbered failing rank, and every
 * rank's recorded error message becomes that rank's message; when some ranks did not
 * fail, the message is prefixed with "rank R of N: " so that rank 0 can print where the
 * failure happened. Nothing is left waiting: every rank makes the same calls.
 */
ps_status ps_comm_agree(MPI_Comm comm, ps_status local);

/* Checks the return code of a collective MPI call that peers may already be blocked in:
 * on failure, aborts the whole job with a message tagged by rank (STYLE.md). */
void ps_mpi_must(int code, const char *call, MPI_Comm comm);

/* Counters of collective calls made by this process and the bytes it contributed to
 * them (for the run report and the communication model of the benchmarks). Local. */
typedef struct ps_par_counters {
    uint64_t calls;
    double bytes;
    double seconds; /* inside MPI collective calls, waiting for peers included */
} ps_par_counters;
void ps_par_note(size_t bytes);
void ps_par_add_seconds(double seconds);

/* Runs a collective MPI call, timing it for the counters and aborting the job on failure
 * (ps_mpi_must). */
#define PS_MPI(call, name, comm)                                                                   \
    do {                                                                                           \
        double ps_mpi_t0_ = ps_time_now();                                                         \
        int ps_mpi_rc_ = (call);                                                                   \
        ps_par_add_seconds(ps_time_now() - ps_mpi_t0_);                                            \
        ps_mpi_must(ps_mpi_rc_, (name), (comm));                                                   \
    } while (0)
ps_par_counters ps_par_counters_get(void);

/* Translates an MPI error code into PS_ERR_MPI with a message naming the call. Local. */
ps_status ps_mpi_error(int code, const char *call);

/*
 * Reads the configuration on rank 0, broadcasts its text (and rank 0's working folder
 * and, when the file sets no seed, a random seed) to every rank, and parses and
 * validates it identically everywhere, so every rank ends with the same ps_config.
 * A read or validation error becomes the same status on every rank, with rank 0's
 * message. Collective on comm.
 */
ps_status ps_config_load_collective(MPI_Comm comm, const char *path, const char *const *overrides,
                                    size_t n_overrides, ps_config **out);

/* ---------------------------------------------------------------------------------------
 * Layout of chains over ranks
 * ------------------------------------------------------------------------------------- */

/* Chains spread over the ranks in contiguous blocks of chain ids, as evenly as possible:
 * rank r runs chains first[r] .. first[r] + count[r] - 1; the first (n_chains mod size)
 * ranks run one chain more. */
typedef struct ps_layout {
    int rank, size;
    int64_t n_chains;
    int64_t *first; /* size entries */
    int64_t *count; /* size entries */
} ps_layout;

/* Builds the layout of n_chains chains over the ranks of comm. Errors: PS_ERR_CONFIG when
 * there are more ranks than chains (the message says what to change). Local (the same
 * result on every rank). */
ps_status ps_layout_create(MPI_Comm comm, int64_t n_chains, ps_layout **out);
void ps_layout_destroy(ps_layout **layout);

/* ---------------------------------------------------------------------------------------
 * Pooled adaptation
 * ------------------------------------------------------------------------------------- */

/*
 * The pooled metric at the end of a slow window: merges the window accumulators of all
 * chains in chain-id order and writes the regularised metric (ps_metric_size(kind, dim)
 * doubles) to inv_metric on every rank; *n_points receives the number of draws pooled.
 *
 * No rank gathers every accumulator: the chains' counts and means go to every rank (so
 * that each can form the sequence of merged means), and the second-moment entries are
 * spread over the ranks with one all-to-all exchange; each rank merges its share of the
 * entries over all chains in chain-id order (the parallel formula of Chan, Golub and
 * LeVeque 1979, entry by entry), and the merged shares are gathered back. The result
 * depends only on the chains' accumulators, never on the layout. Collective on comm.
 */
ps_status ps_pool_metric(MPI_Comm comm, const ps_layout *layout, const ps_welford *const *local_acc,
                         ps_metric_kind kind, size_t dim, double *inv_metric, uint64_t *n_points);

/* The pooled step size: the median over all chains of the chains' step sizes (computed on
 * the log scale, in chain-id order), on every rank. Collective on comm. */
ps_status ps_pool_step_size(MPI_Comm comm, const ps_layout *layout, const double *local_step_sizes,
                            double *pooled);

/* ---------------------------------------------------------------------------------------
 * Distributed convergence monitor
 *
 * Holds all draws of all chains of a set of quantities (lp__ and every output element),
 * spread over the ranks: rank r owns a contiguous share of the quantities and keeps, for
 * each of them, the draws of every chain. New draws arrive with one all-to-all exchange;
 * no rank gathers everything.
 * ------------------------------------------------------------------------------------- */

typedef struct ps_monitor ps_monitor;

/* Verdict of a convergence check: the worst quantities and their values (NAN for a
 * quantity whose draws are constant over all chains is ignored; a quantity with
 * non-finite draws counts as not converged, R-hat Inf). Indices are quantity numbers. */
typedef struct ps_convergence {
    size_t n_draws; /* per chain */
    double max_rhat;
    int64_t max_rhat_q;
    double min_ess_bulk;
    int64_t min_ess_bulk_q;
    double min_ess_tail;
    int64_t min_ess_tail_q;
} ps_convergence;

/* Creates a monitor of n_quantities quantities for the layout's chains. Collective. */
ps_status ps_monitor_create(MPI_Comm comm, const ps_layout *layout, size_t n_quantities,
                            ps_monitor **out);
void ps_monitor_destroy(ps_monitor **monitor);

/* Forgets all draws (e.g. at the start of a new warmup window). Local. */
void ps_monitor_reset(ps_monitor *monitor);

/* Draws per chain held. Local. */
size_t ps_monitor_n_draws(const ps_monitor *monitor);

/*
 * Appends n_draws new draws of this rank's chains: block[(c * chain_stride + i) *
 * n_quantities + q] is quantity q of draw i of local chain c (chain_stride >= n_draws).
 * The same n_draws on every rank. Collective on comm.
 */
ps_status ps_monitor_append(ps_monitor *monitor, size_t n_draws, const double *block,
                            size_t chain_stride);

/* Rank-normalised split R-hat, bulk-ESS and tail-ESS of every quantity, reduced to the
 * worst values on every rank. Collective on comm. */
ps_status ps_monitor_check(ps_monitor *monitor, ps_convergence *out);

/* Full summaries (ps_diag_summarize) of every quantity, gathered on rank 0 into rows
 * (n_quantities entries; ignored on other ranks). Collective on comm. */
ps_status ps_monitor_summarize(ps_monitor *monitor, ps_diag_summary *rows);

/* A 64-bit FNV-1a digest of every draw of every quantity (quantity-major, then
 * chain-major), the same on every rank and for every layout. Collective on comm. */
ps_status ps_monitor_digest(ps_monitor *monitor, uint64_t *digest);

/* Gathers one double per chain (local_values: this rank's chains) to every rank, in chain
 * order (all: n_chains values). Collective on comm. */
ps_status ps_gather_chain_values(MPI_Comm comm, const ps_layout *layout, const double *local_values,
                                 double *all);

#endif
