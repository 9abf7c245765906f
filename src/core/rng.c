/* Philox4x32-10 and the distributions drawn from it. */
#include <math.h>

#include "core/rng.h"

/* Multipliers and Weyl key increments of Philox4x32 (Salmon et al. 2011, Sec. 4.2). */
#define PHILOX_M0 UINT32_C(0xD2511F53)
#define PHILOX_M1 UINT32_C(0xCD9E8D57)
#define PHILOX_W0 UINT32_C(0x9E3779B9)
#define PHILOX_W1 UINT32_C(0xBB67AE85)

static void philox_round(uint32_t ctr[4], const uint32_t key[2])
{
    uint64_t p0 = (uint64_t)PHILOX_M0 * ctr[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * ctr[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t c1 = ctr[1], c3 = ctr[3];
    ctr[0] = hi1 ^ c1 ^ key[0];
    ctr[1] = lo1;
    ctr[2] = hi0 ^ c3 ^ key[1];
    ctr[3] = lo0;
}

void ps_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t ctr[4] = {counter[0], counter[1], counter[2], counter[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k[0] += PHILOX_W0;
            k[1] += PHILOX_W1;
        }
        philox_round(ctr, k);
    }
    for (int i = 0; i < 4; i++)
        out[i] = ctr[i];
}

static uint64_t block_index(const ps_rng *rng)
{
    return (uint64_t)rng->counter[0] | ((uint64_t)rng->counter[1] << 32);
}

static void set_block_index(ps_rng *rng, uint64_t index)
{
    rng->counter[0] = (uint32_t)index;
    rng->counter[1] = (uint32_t)(index >> 32);
}

void ps_rng_init(ps_rng *rng, uint64_t seed, uint64_t stream)
{
    rng->key[0] = (uint32_t)seed;
    rng->key[1] = (uint32_t)(seed >> 32);
    rng->counter[0] = 0;
    rng->counter[1] = 0;
    rng->counter[2] = (uint32_t)stream;
    rng->counter[3] = (uint32_t)(stream >> 32);
    ps_philox4x32_10(rng->counter, rng->key, rng->block);
    rng->used = 0;
}

void ps_rng_save(const ps_rng *rng, ps_rng_state *state)
{
    state->seed = (uint64_t)rng->key[0] | ((uint64_t)rng->key[1] << 32);
    state->stream = (uint64_t)rng->counter[2] | ((uint64_t)rng->counter[3] << 32);
    state->block_index = block_index(rng);
    state->used = rng->used;
}

void ps_rng_restore(ps_rng *rng, const ps_rng_state *state)
{
    ps_rng_init(rng, state->seed, state->stream);
    set_block_index(rng, state->block_index);
    ps_philox4x32_10(rng->counter, rng->key, rng->block);
    rng->used = state->used > 4 ? 4 : state->used;
}

uint32_t ps_rng_u32(ps_rng *rng)
{
    if (rng->used >= 4) {
        set_block_index(rng, block_index(rng) + 1);
        ps_philox4x32_10(rng->counter, rng->key, rng->block);
        rng->used = 0;
    }
    return rng->block[rng->used++];
}

uint64_t ps_rng_u64(ps_rng *rng)
{
    uint64_t hi = ps_rng_u32(rng);
    uint64_t lo = ps_rng_u32(rng);
    return (hi << 32) | lo;
}

double ps_rng_uniform(ps_rng *rng)
{
    /* The 53 high bits plus one half: never 0, never 1. */
    return ((double)(ps_rng_u64(rng) >> 11) + 0.5) * 0x1.0p-53;
}

double ps_rng_normal(ps_rng *rng)
{
    double u1 = ps_rng_uniform(rng);
    double u2 = ps_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2);
}

double ps_rng_exponential(ps_rng *rng)
{
    return -log(ps_rng_uniform(rng));
}

uint64_t ps_rng_uniform_int(ps_rng *rng, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t mask = n - 1;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    for (;;) {
        uint64_t x =
            (mask <= UINT32_MAX) ? (uint64_t)ps_rng_u32(rng) & mask : ps_rng_u64(rng) & mask;
        if (x < n)
            return x;
    }
}
