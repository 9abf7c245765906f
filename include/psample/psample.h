/*
 * psample: a distributed MCMC sampler for clusters.
 *
 * Public API, umbrella header. Every handle is opaque; every function says whether it is
 * collective (all ranks of the communicator must call it and get the same status) or local.
 */
#ifndef PSAMPLE_PSAMPLE_H
#define PSAMPLE_PSAMPLE_H

#include "psample/status.h"
#include "psample/version.h"

#endif
