/*
 * The driver: what `psample check` and `psample run` do once the configuration is loaded.
 */
#ifndef PS_RUN_H
#define PS_RUN_H

#include <mpi.h>

#include "config/config.h"
#include "model/model.h"

/*
 * Loads the model the configuration names and constructs it with its data and seed.
 * Failures are located at the configuration key that named the file. Local.
 */
ps_status ps_run_load_model(const ps_config *cfg, unsigned int seed, ps_model **out);

/* Options of `psample run` and `psample check` that are not part of the configuration. */
typedef struct ps_run_options {
    const char *report_path; /* write a JSON run report here (rank 0), or NULL */
    bool force;              /* replace an existing trace file */
    bool resume;             /* continue from the checkpoint (psample resume) */
    bool stopped_by_signal;  /* out: the run stopped at a signal after a checkpoint */
} ps_run_options;

/*
 * Checks that the trace file does not exist yet, unless force (PS_ERR_CONFIG located at
 * output.file otherwise). Local.
 */
ps_status ps_run_check_output(const ps_config *cfg, bool force);

/*
 * Validates everything that can be validated without sampling: the files the
 * configuration names exist and are readable on every rank, the model loads and
 * constructs with the data, the layout of chains over ranks is possible. Then rank 0
 * prints the effective configuration as TOML on standard output. Collective on comm.
 */
ps_status ps_run_check(MPI_Comm comm, const ps_config *cfg, const ps_run_options *options);

/*
 * Makes SIGTERM, SIGINT and SIGUSR1 only set a flag that the next psample run or resume
 * in this process acts on (checkpoint and stop). Called at the very start of the process,
 * before MPI starts, so that a signal arriving early is not fatal. Local.
 */
void ps_run_catch_signals(void);

/*
 * Runs the sampler as configured, or with options->resume continues the run from its
 * checkpoint (on any number of ranks; the result is bit-identical to an uninterrupted run).
 * On SIGTERM, SIGINT or SIGUSR1 it writes a checkpoint, closes the trace and returns PS_OK
 * with options->stopped_by_signal set. Collective on comm.
 */
ps_status ps_run_sample(MPI_Comm comm, const ps_config *cfg, ps_run_options *options);

#endif
