/*
 * Status codes and error messages.
 *
 * Every fallible function returns a ps_status. The first failure in a thread records a
 * message with its context (the file, line and column of the user's input, or the chain,
 * draw or dataset); callers propagate the status without adding text. The message lives in
 * thread-local storage until ps_error_clear() is called.
 */
#ifndef PSAMPLE_STATUS_H
#define PSAMPLE_STATUS_H

#include "psample/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Ordered by severity for agreement across ranks: the collective verdict is the maximum. */
typedef enum ps_status {
    PS_OK = 0,
    PS_ERR_USAGE = 1,    /* bad command line */
    PS_ERR_CONFIG = 2,   /* configuration file or --set override is wrong */
    PS_ERR_DATA = 3,     /* data file is wrong or does not match the model */
    PS_ERR_MODEL = 4,    /* model will not load, compile, or construct */
    PS_ERR_IO = 5,       /* a file could not be read or written */
    PS_ERR_NUMERIC = 6,  /* a numerical failure that is an error (e.g. initialisation) */
    PS_ERR_MEM = 7,      /* out of memory */
    PS_ERR_MPI = 8,      /* an MPI call failed */
    PS_ERR_INTERNAL = 9, /* an internal invariant was violated (a bug) */
    PS_ERR_PEER = 10,    /* another rank failed; this rank stops with it */
    PS_STATUS_MAX_ = 11
} ps_status;

/* Process exit codes of the psample command (documented in the README). */
enum {
    PS_EXIT_OK = 0,
    PS_EXIT_INPUT = 1,       /* usage or input error: command line, config, model, data */
    PS_EXIT_RUNTIME = 2,     /* runtime failure: I/O, numerics, memory, MPI, internal */
    PS_EXIT_CHECKPOINTED = 3 /* stopped by a signal after writing a checkpoint; resume */
};

/* Local. The short name of a status ("config error", ...). Never NULL. */
PS_API const char *ps_status_name(ps_status status);

/* Local. Maps a status to the exit code of the psample command. */
PS_API int ps_status_exit_code(ps_status status);

/* Local. The message recorded by the first failure in this thread, or "" if none. */
PS_API const char *ps_error_message(void);

/* Local. The status of the first recorded failure in this thread, or PS_OK. */
PS_API ps_status ps_error_status(void);

/* Local. Forgets the recorded failure of this thread. */
PS_API void ps_error_clear(void);

#ifdef __cplusplus
}
#endif

#endif
