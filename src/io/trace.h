/*
 * The trace writer: the draws of many chains, spread over the ranks of a communicator,
 * written collectively, block by block, into one parallel HDF5 file laid out as ArviZ
 * InferenceData (DESIGN.md Section 10). arviz.from_netcdf, xarray (h5netcdf and netCDF4
 * engines), h5py, netCDF-C and R hdf5r read it directly.
 *
 * Chain layout. `n_chains` chains are spread over the ranks of the communicator; each rank
 * owns one contiguous range of chain ids [first_chain, first_chain + n_local_chains). The
 * ranges of all ranks must partition [0, n_chains); they need not follow rank order, counts
 * may be uneven, and a rank may own no chains at all (it then takes part in every
 * collective call with empty blocks, as the non-leading ranks of a ranks_per_chain group
 * do).
 *
 * File layout (the root holds InferenceData groups only, because arviz.from_netcdf opens
 * every root group as one):
 *
 *     /                       attributes: created_at, inference_library = "psample",
 *                             inference_library_version, and the run metadata psample_*
 *                             (config text, model source, seed, version, layout, and at the
 *                             end of the run the warmup length used and the stop reason)
 *     /posterior              chain[n_chains], draw[n] (int64 coordinates), {var}_dim_{i}
 *                             coordinates, one float64 dataset per variable
 *                             [chain, draw, dims...]
 *     /sample_stats           chain, draw, one dataset per statistic [chain, draw] of its
 *                             type (diverging: int8 with attribute dtype = "bool")
 *     /warmup_posterior       as posterior, for warmup draws (only with save_warmup)
 *     /warmup_sample_stats    as sample_stats, for warmup draws (only with save_warmup)
 *     /observed_data          the data arrays given, [dims...], coordinates {name}_dim_{i}
 *     /constant_data          likewise
 *
 * Every coordinate is an HDF5 dimension scale attached to the axes that use it, so netCDF-C
 * and xarray see named dimensions. The draw axis is unlimited and grows with each append;
 * variables are chunked [1, k, dims...] so that every chunk belongs to one chain and hence
 * to one rank. Link and attribute creation order are tracked on the file, every group and
 * every dataset (netCDF-C needs it to append to the file), and fill values are never
 * written. Each InferenceData group carries created_at, inference_library and
 * inference_library_version.
 *
 * Durability (DESIGN.md Invariant 4). HDF5 metadata is held in memory between flushes:
 * the metadata cache of the file never evicts and never writes at a sync point, so the
 * file on disk changes its metadata only in ps_trace_flush (H5Fflush with global scope,
 * which also syncs the file). After a kill of any or all ranks the file reads back exactly
 * as it was at the last flush. A kill during a flush may leave the file unreadable, and a
 * reader that opens the file while a flush is under way may see a transient error (there
 * is no SWMR for parallel HDF5); it should retry.
 *
 * Failures. Every collective function returns the same status on every rank. Local
 * failures (bad arguments, a file that exists, out of memory) are agreed on before any
 * collective HDF5 call, and HDF5's failures are translated into PS_ERR_IO messages that
 * name the call, the dataset and the innermost entries of HDF5's error stack. A failure
 * inside a collective HDF5 operation that the other ranks may already be blocked in (an
 * extension, a write, a flush) cannot be reconciled: the job is aborted with a message
 * tagged by rank. HDF5's automatic error printing is turned off (process-wide) by
 * ps_trace_create and ps_trace_open_append.
 *
 * Fault points (PSAMPLE_FAULT, see core.h): "trace_create" makes the local checks of
 * ps_trace_create fail, "trace_write" makes a collective write fail (and so abort the job),
 * "trace_append_kill" kills the process with SIGKILL inside ps_trace_append after the draw
 * axis was extended and before the blocks are written (for the durability tests).
 */
#ifndef PS_IO_TRACE_H
#define PS_IO_TRACE_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define PS_TRACE_MAX_DIMS 8

typedef struct ps_trace ps_trace;

/* Element types of statistics and data arrays (posterior variables are always F64). */
typedef enum ps_trace_type {
    PS_TRACE_F64 = 0, /* double, HDF5 IEEE little-endian float64 */
    PS_TRACE_I64,     /* int64_t */
    PS_TRACE_I32,     /* int32_t */
    PS_TRACE_BOOL     /* int8_t holding 0 or 1, stored as int8 with attribute dtype="bool" */
} ps_trace_type;

/* The two parts of a run: each has a posterior group and a sample_stats group that share
 * one draw count. */
typedef enum ps_trace_part {
    PS_TRACE_SAMPLING = 0, /* posterior, sample_stats */
    PS_TRACE_WARMUP = 1    /* warmup_posterior, warmup_sample_stats */
} ps_trace_part;

/*
 * One named array: a posterior variable (type F64, values NULL), a sampler statistic
 * (ndim 0, values NULL) or a data array for observed_data/constant_data (values point to
 * the product of dims elements of its type in row-major order, last index fastest).
 * dims are the extents, outermost first; a scalar has ndim 0. Names may not contain '/'
 * and may not be "chain", "draw" or another array's coordinate name {name}_dim_{i}.
 */
typedef struct ps_trace_array {
    const char *name;
    ps_trace_type type;
    int ndim;
    size_t dims[PS_TRACE_MAX_DIMS];
    const void *values;
} ps_trace_array;

/*
 * What ps_trace_create needs. Every field must be the same on every rank except the chain
 * layout (first_chain, n_local_chains) and created_at (rank 0's value is used); the
 * writer checks this with a hash of the description. Nothing is retained after the call
 * returns: strings and arrays are copied or written at once.
 */
typedef struct ps_trace_desc {
    /* Posterior variables in output order (e.g. from ps_model_var), and statistics. */
    const ps_trace_array *vars;
    size_t n_vars;
    const ps_trace_array *stats;
    size_t n_stats;
    bool save_warmup; /* also create warmup_posterior and warmup_sample_stats */

    /* Chain layout. */
    size_t n_chains;
    size_t first_chain;
    size_t n_local_chains;

    /* Optional data groups (n = 0: the group is not created). */
    const ps_trace_array *observed_data;
    size_t n_observed_data;
    const ps_trace_array *constant_data;
    size_t n_constant_data;

    /* Group attributes. created_at: ISO 8601 text; NULL means now on rank 0's clock, in UTC.
     * inference_library_version: NULL means ps_version_string(). */
    const char *created_at;
    const char *inference_library_version;

    /* Run metadata, stored as root attributes psample_config, psample_model_source,
     * psample_layout (text; NULL is stored as "") and psample_seed. psample_version,
     * psample_n_chains and psample_n_ranks are added by the writer. */
    const char *config_text;
    const char *model_source;
    const char *layout_text;
    uint64_t seed;

    /* Storage. draws_hint / warmup_draws_hint: the expected number of draws per chain in
     * each part (0: 1000); chunks never span more draws than that, so a short run does not
     * allocate much more than it writes. chunk_bytes: target bytes per chunk (0: 4 MiB). */
    size_t draws_hint;
    size_t warmup_draws_hint;
    size_t chunk_bytes;

    /* Raw data go through MPI-IO's two-phase collective buffering instead of one
     * independent write per rank inside the collective H5Dwrite (see trace.c, make_dxpl). */
    bool two_phase_io;

    /* An existing file at path is an error naming it unless force is set (then it is
     * replaced). */
    bool force;
} ps_trace_desc;

/* End-of-run metadata for ps_trace_set_metadata. */
typedef struct ps_trace_end {
    long long warmup_draws;  /* warmup iterations used per chain; < 0 leaves it unset */
    const char *stop_reason; /* e.g. "converged", "max_draws", "signal"; NULL leaves it unset */
    long long warmup_divergences; /* divergent warmup iterations over all chains; < 0: unset */
} ps_trace_end;

/* The NUTS statistics, in this order, with their types (lp, acceptance_rate, step_size,
 * energy, energy_error: F64; tree_depth, n_steps: I64; diverging: BOOL). */
enum {
    PS_NUTS_STAT_LP = 0,
    PS_NUTS_STAT_ACCEPTANCE_RATE,
    PS_NUTS_STAT_STEP_SIZE,
    PS_NUTS_STAT_TREE_DEPTH,
    PS_NUTS_STAT_N_STEPS,
    PS_NUTS_STAT_DIVERGING,
    PS_NUTS_STAT_ENERGY,
    PS_NUTS_STAT_ENERGY_ERROR,
    PS_NUTS_N_STATS
};

/* Local. The table of the NUTS statistics (PS_NUTS_N_STATS entries, static storage). */
const ps_trace_array *ps_trace_nuts_stats(void);

/*
 * Creates the trace file at path with the groups, coordinates, attributes and data of
 * desc, and zero draws; the file is flushed before return, so it reads back at once.
 * Collective on comm. On success *out owns the open file (close with ps_trace_close).
 * Errors (the same on every rank, *out NULL): PS_ERR_CONFIG for an invalid description
 * (bad names, shapes, layout) or one that differs between ranks, PS_ERR_IO when the file
 * exists (without force) or cannot be created, PS_ERR_MEM. A failure after the file was
 * created aborts the job (see above).
 */
ps_status ps_trace_create(MPI_Comm comm, const char *path, const ps_trace_desc *desc,
                          ps_trace **out);

/*
 * Reopens a trace written by ps_trace_create to continue a run after a resume: checks that
 * its groups, variables, statistics, types and chain count match desc, cuts both parts to
 * the given draw counts (the draws the checkpoint knows of; later draws, written after the
 * checkpoint, are dropped) and flushes. The chain layout and the number of ranks may differ
 * from the run that created the file. desc's data arrays, attributes and metadata are not
 * used. Collective on comm.
 * Errors: PS_ERR_IO when the file is missing, unreadable, does not match desc, or holds
 * fewer draws than asked for (draws cannot be made up); PS_ERR_CONFIG, PS_ERR_MEM.
 */
ps_status ps_trace_open_append(MPI_Comm comm, const char *path, const ps_trace_desc *desc,
                               size_t n_warmup_draws, size_t n_draws, ps_trace **out);

/*
 * Appends n_draws draws of every chain to one part (posterior and sample_stats, or their
 * warmup_ variants). Every rank passes a block for its own chains, with the same n_draws
 * on every rank; the draw axis is extended collectively and each rank writes its
 * hyperslab. n_draws = 0 does nothing. Appending to PS_TRACE_WARMUP of a trace created
 * without save_warmup does nothing (so the driver need not ask).
 *
 * Block format. Let L = n_local_chains and n = n_draws.
 *   values: the posterior variables back to back, in desc order. Variable v (with E_v
 *     elements per draw, and O_v = E_0 + ... + E_{v-1}) occupies L * n * E_v doubles
 *     starting at values + L * n * O_v, ordered [local chain][draw][element], the element
 *     index row-major. So element e of draw d of local chain c is at
 *         values[L * n * O_v + (c * n + d) * E_v + e].
 *     ps_trace_block_put copies one flat draw (the model's output vector) into this format.
 *   stats: an array of n_stats pointers; stats[s] points to L * n elements of the C type
 *     of statistic s (double, int64_t, int32_t, or int8_t for BOOL), ordered
 *     [local chain][draw]: draw d of local chain c is element c * n + d.
 *   On a rank with no chains, values and stats may be NULL.
 * Collective on the trace's communicator.
 * Errors (agreed before any write): PS_ERR_INTERNAL when ranks pass different n_draws, a
 * NULL block on a rank with chains, or the trace is not writable; PS_ERR_MEM.
 */
ps_status ps_trace_append(ps_trace *trace, ps_trace_part part, size_t n_draws, const double *values,
                          const void *const *stats);

/*
 * Reads draws first_draw .. first_draw + n_draws - 1 of this rank's chains from a part,
 * into buffers in the block format of ps_trace_append (values; stats[s] of the statistic's
 * C type). Used to continue a run after a resume. Collective on the trace's communicator.
 * Errors: PS_ERR_INTERNAL when the draws are not in the file or a buffer is missing; an
 * HDF5 failure aborts the job (the peers are in the same collective read).
 */
ps_status ps_trace_read(ps_trace *trace, ps_trace_part part, size_t first_draw, size_t n_draws,
                        double *values, void *const *stats);

/* Local. The inverse of ps_trace_block_put: copies draw (local_chain, draw) of a values
 * block of n_draws draws into one flat output vector. */
void ps_trace_block_get(const ps_trace *trace, const double *block, size_t n_draws,
                        size_t local_chain, size_t draw, double *draw_values);

/* Writes all metadata and syncs the file (H5Fflush, global scope). Collective. */
ps_status ps_trace_flush(ps_trace *trace);

/*
 * The timer: flushes when flush_seconds have passed on rank 0's clock since the last flush
 * (or since the trace was opened), so every rank takes the same decision. Sets *flushed
 * (may be NULL). The driver calls it at its sync points. Collective.
 */
ps_status ps_trace_flush_if_due(ps_trace *trace, double flush_seconds, bool *flushed);

/* The timer's decision alone (rank 0's clock, the same on every rank), for a caller that
 * has draws to append before it flushes. Collective. */
bool ps_trace_flush_due(ps_trace *trace, double flush_seconds);

/*
 * Records end-of-run metadata as root attributes psample_warmup_draws,
 * psample_stop_reason and psample_warmup_divergences (replacing earlier values); rank 0's
 * values are used. Collective.
 */
ps_status ps_trace_set_metadata(ps_trace *trace, const ps_trace_end *end);

/*
 * Flushes and closes the file and frees the trace; accepts NULL and sets *trace to NULL.
 * Collective. Returns PS_OK (a failure while closing aborts the job).
 */
ps_status ps_trace_close(ps_trace **trace);

/* ps_trace_close for cleanup paths that have no use for the status. Collective. */
void ps_trace_destroy(ps_trace **trace);

/* Local. Draws written so far in a part (per chain). */
size_t ps_trace_n_draws(const ps_trace *trace, ps_trace_part part);

/* Local. Elements per draw of all posterior variables together (the sum of the E_v). */
size_t ps_trace_values_per_draw(const ps_trace *trace);

/* Local. This rank's chains: the first chain id and the count. */
size_t ps_trace_first_chain(const ps_trace *trace);
size_t ps_trace_n_local_chains(const ps_trace *trace);

/*
 * Local. Copies one draw, given as the flat vector of all posterior variables back to back
 * (each variable's elements row-major, as ps_model_constrain writes them), into position
 * (local_chain, draw) of a values block of n_draws draws in the format of ps_trace_append.
 * Indices are the caller's to keep in range.
 */
void ps_trace_block_put(const ps_trace *trace, double *block, size_t n_draws, size_t local_chain,
                        size_t draw, const double *draw_values);

#endif
