/*
 * Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror and Shaw 2011,
 * "Parallel random numbers: as easy as 1, 2, 3", SC11).
 *
 * A generator is keyed by the run's seed and a stream number (the chain id), so chain c
 * draws the same numbers whatever rank or thread runs it. The 128-bit counter holds the
 * stream in its upper 64 bits and the block index in its lower 64 bits; each block gives
 * four 32-bit words. The whole state is (seed, stream, block index, words used) and can
 * be saved and restored exactly.
 *
 * All functions are local and never allocate.
 */
#ifndef PS_CORE_RNG_H
#define PS_CORE_RNG_H

#include <stdint.h>

typedef struct ps_rng {
    uint32_t key[2];
    uint32_t counter[4]; /* counter of the block held in `block` */
    uint32_t block[4];
    unsigned used; /* words of `block` already consumed (4: the next call makes a block) */
} ps_rng;

/* The exact state, for checkpoints. */
typedef struct ps_rng_state {
    uint64_t seed;
    uint64_t stream;
    uint64_t block_index; /* index of the current block */
    uint32_t used;
} ps_rng_state;

/* One Philox4x32-10 bijection: out = philox(counter, key). */
void ps_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

void ps_rng_init(ps_rng *rng, uint64_t seed, uint64_t stream);
void ps_rng_save(const ps_rng *rng, ps_rng_state *state);
void ps_rng_restore(ps_rng *rng, const ps_rng_state *state);

uint32_t ps_rng_u32(ps_rng *rng);
uint64_t ps_rng_u64(ps_rng *rng);
/* Uniform on the open interval (0, 1), with 53 random bits. */
double ps_rng_uniform(ps_rng *rng);
/* Standard normal (Box-Muller; consumes two uniforms per call, keeps no cached value). */
double ps_rng_normal(ps_rng *rng);
/* Exponential with rate 1. */
double ps_rng_exponential(ps_rng *rng);
/* Uniform integer in [0, n) without modulo bias (bitmask rejection); n must be > 0. */
uint64_t ps_rng_uniform_int(ps_rng *rng, uint64_t n);

#endif
