/*
 * The chain's exact state as a flat byte buffer, for checkpoints (DESIGN.md, Section 11).
 *
 * Layout (version 1), every integer an unsigned 64-bit little-endian word and every real
 * the IEEE-754 bits of a double in such a word:
 *   header:  magic "PSCHAIN\0" (8 bytes), version, total size, algorithm name (32 bytes,
 *            NUL padded), metric kind, dim, chain id, seed
 *   chain:   flags (1 initialized, 2 window pending, 4 warmup done, 8 metric adapted),
 *            iteration, RNG (seed, stream, block index, words used), log density,
 *            position[dim], gradient[dim], step size
 *   dual averaging: counter, s_bar, x_bar, mu, delta, gamma, t0, kappa
 *   windows: num_warmup, init buffer, term buffer, base window, counter, window size,
 *            next end (two's complement), active
 *   window accumulator (diag/dense metrics only): n, mean[dim], m2[dim or dim*dim]
 *   metric:  inv_metric[0, dim or dim*dim], dense also its Cholesky factor[dim*dim]
 *   step method: byte count, bytes
 *   checksum: FNV-1a (64 bit) of every byte before it.
 * Diagonal metrics' square roots are recomputed on restore (sqrt and division are
 * correctly rounded, so the values are identical); the Cholesky factor is stored because
 * a LAPACK build may block its computation differently.
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

static const unsigned char magic[8] = {'P', 'S', 'C', 'H', 'A', 'I', 'N', 0};

enum { FLAG_INITIALIZED = 1, FLAG_PENDING = 2, FLAG_WARMUP_DONE = 4, FLAG_ADAPT_METRIC = 8 };

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    return ps_fnv1a(PS_FNV_OFFSET, p, n);
}

static size_t accumulator_m2_size(const ps_chain *c)
{
    return c->metric.kind == PS_METRIC_DENSE ? c->dim * c->dim : c->dim;
}

static size_t method_state_size(const ps_chain *c)
{
    return c->method->state_size ? c->method->state_size(c->method_state) : 0;
}

/* Writes the header fields that identify the chain (also used to check a restore). */
static void write_header(const ps_chain *c, ps_writer *w, uint64_t total)
{
    char name[32] = {0};
    memcpy(name, c->algorithm, strlen(c->algorithm) < 31 ? strlen(c->algorithm) : 31);
    ps_put_bytes(w, magic, sizeof magic);
    ps_put_u64(w, PS_CHAIN_STATE_VERSION);
    ps_put_u64(w, total);
    ps_put_bytes(w, name, sizeof name);
    ps_put_u64(w, (uint64_t)c->metric.kind);
    ps_put_u64(w, (uint64_t)c->dim);
    ps_put_u64(w, c->settings.chain_id);
    ps_put_u64(w, c->settings.seed);
}

static void write_body(const ps_chain *c, ps_writer *w)
{
    size_t dim = c->dim;
    uint64_t flags =
        (c->initialized ? FLAG_INITIALIZED : 0) | (c->window_pending ? FLAG_PENDING : 0) |
        (c->warmup_done ? FLAG_WARMUP_DONE : 0) | (c->adapt_metric ? FLAG_ADAPT_METRIC : 0);
    ps_put_u64(w, flags);
    ps_put_u64(w, (uint64_t)c->iteration);
    ps_rng_state rs;
    ps_rng_save(&c->rng, &rs);
    ps_put_u64(w, rs.seed);
    ps_put_u64(w, rs.stream);
    ps_put_u64(w, rs.block_index);
    ps_put_u64(w, rs.used);
    ps_put_f64(w, c->lp);
    ps_put_f64s(w, c->q, dim);
    ps_put_f64s(w, c->grad, dim);
    ps_put_f64(w, c->step_size);

    ps_put_f64(w, c->da.counter);
    ps_put_f64(w, c->da.s_bar);
    ps_put_f64(w, c->da.x_bar);
    ps_put_f64(w, c->da.mu);
    ps_put_f64(w, c->da.delta);
    ps_put_f64(w, c->da.gamma);
    ps_put_f64(w, c->da.t0);
    ps_put_f64(w, c->da.kappa);

    const ps_window_schedule *ws = &c->windows;
    ps_put_u64(w, (uint64_t)ws->num_warmup);
    ps_put_u64(w, (uint64_t)ws->init_buffer);
    ps_put_u64(w, (uint64_t)ws->term_buffer);
    ps_put_u64(w, (uint64_t)ws->base_window);
    ps_put_u64(w, (uint64_t)ws->counter);
    ps_put_u64(w, (uint64_t)ws->window_size);
    ps_put_u64(w, (uint64_t)ws->next_end);
    ps_put_u64(w, ws->active ? 1 : 0);

    if (c->metric.kind != PS_METRIC_UNIT) {
        ps_put_u64(w, c->window_acc.n);
        ps_put_f64s(w, c->window_acc.mean, dim);
        ps_put_f64s(w, c->window_acc.m2, accumulator_m2_size(c));
    }
    size_t msize = ps_metric_size(c->metric.kind, dim);
    ps_put_f64s(w, c->metric.inv_metric, msize);
    if (c->metric.kind == PS_METRIC_DENSE)
        ps_put_f64s(w, c->metric.chol, msize);

    size_t ms = method_state_size(c);
    ps_put_u64(w, (uint64_t)ms);
    if (ms > 0) {
        if (w->buf != NULL && w->pos + ms <= w->size)
            c->method->save(c->method_state, w->buf + w->pos);
        w->pos += ms;
    }
}

size_t ps_chain_state_size(const ps_chain *chain)
{
    ps_writer w = {NULL, 0, 0};
    write_header(chain, &w, 0);
    write_body(chain, &w);
    return w.pos + 8;
}

ps_status ps_chain_save(const ps_chain *chain, unsigned char *buf, size_t size)
{
    size_t total = ps_chain_state_size(chain);
    if (size < total)
        return ps_error(PS_ERR_INTERNAL,
                        "chain %llu: state buffer of %zu bytes is too small (%zu needed)",
                        (unsigned long long)chain->settings.chain_id, size, total);
    ps_writer w = {buf, 0, total};
    write_header(chain, &w, (uint64_t)total);
    write_body(chain, &w);
    ps_put_u64(&w, fnv1a(buf, total - 8));
    return PS_OK;
}

ps_status ps_chain_restore(ps_chain *chain, const unsigned char *buf, size_t size)
{
    unsigned long long id = (unsigned long long)chain->settings.chain_id;
    size_t total = ps_chain_state_size(chain);
    if (size < sizeof magic || memcmp(buf, magic, sizeof magic) != 0)
        return ps_error(PS_ERR_DATA,
                        "chain %llu: the saved state does not start with the "
                        "chain-state magic 'PSCHAIN'",
                        id);
    ps_reader r = {buf, sizeof magic, size, false};
    uint64_t version = ps_get_u64(&r);
    uint64_t stored_total = ps_get_u64(&r);
    if (r.failed || version != PS_CHAIN_STATE_VERSION)
        return ps_error(PS_ERR_DATA, "chain %llu: saved state has version %llu, expected %u", id,
                        (unsigned long long)version, PS_CHAIN_STATE_VERSION);
    if (stored_total != size)
        return ps_error(PS_ERR_DATA,
                        "chain %llu: saved state is %zu bytes long but says %llu (truncated?)", id,
                        size, (unsigned long long)stored_total);
    uint64_t stored_sum = 0;
    {
        ps_reader tail = {buf, size - 8, size, false};
        stored_sum = ps_get_u64(&tail);
    }
    if (fnv1a(buf, size - 8) != stored_sum)
        return ps_error(PS_ERR_DATA, "chain %llu: saved state fails its checksum (corrupted)", id);

    /* Identity: the state must belong to a chain like this one. */
    char name[33] = {0};
    if (r.pos + 32 <= size)
        memcpy(name, buf + r.pos, 32);
    r.pos += 32;
    uint64_t kind = ps_get_u64(&r), dim = ps_get_u64(&r);
    uint64_t chain_id = ps_get_u64(&r), seed = ps_get_u64(&r);
    if (strcmp(name, chain->algorithm) != 0)
        return ps_error(PS_ERR_DATA, "chain %llu: saved state is of algorithm '%s', not '%s'", id,
                        name, chain->algorithm);
    if (kind != (uint64_t)chain->metric.kind)
        return ps_error(PS_ERR_DATA, "chain %llu: saved state has a %s metric, not %s", id,
                        kind <= 2 ? ps_metric_kind_name((ps_metric_kind)kind) : "unknown",
                        ps_metric_kind_name(chain->metric.kind));
    if (dim != (uint64_t)chain->dim)
        return ps_error(PS_ERR_DATA, "chain %llu: saved state has dimension %llu, not %zu", id,
                        (unsigned long long)dim, chain->dim);
    if (chain_id != chain->settings.chain_id)
        return ps_error(PS_ERR_DATA, "chain %llu: saved state belongs to chain %llu", id,
                        (unsigned long long)chain_id);
    if (seed != chain->settings.seed)
        return ps_error(PS_ERR_DATA, "chain %llu: saved state has seed %llu, not %llu", id,
                        (unsigned long long)seed, (unsigned long long)chain->settings.seed);
    if (size != total)
        return ps_error(PS_ERR_DATA,
                        "chain %llu: saved state is %zu bytes, a chain like this one needs %zu", id,
                        size, total);

    /* The buffer is intact and has this chain's layout: read it in. */
    size_t n = chain->dim;
    uint64_t flags = ps_get_u64(&r);
    chain->initialized = (flags & FLAG_INITIALIZED) != 0;
    chain->window_pending = (flags & FLAG_PENDING) != 0;
    chain->warmup_done = (flags & FLAG_WARMUP_DONE) != 0;
    chain->adapt_metric = (flags & FLAG_ADAPT_METRIC) != 0;
    chain->iteration = (int64_t)ps_get_u64(&r);
    ps_rng_state rs;
    rs.seed = ps_get_u64(&r);
    rs.stream = ps_get_u64(&r);
    rs.block_index = ps_get_u64(&r);
    rs.used = (uint32_t)ps_get_u64(&r);
    ps_rng_restore(&chain->rng, &rs);
    chain->lp = ps_get_f64(&r);
    ps_get_f64s(&r, chain->q, n);
    ps_get_f64s(&r, chain->grad, n);
    chain->step_size = ps_get_f64(&r);

    chain->da.counter = ps_get_f64(&r);
    chain->da.s_bar = ps_get_f64(&r);
    chain->da.x_bar = ps_get_f64(&r);
    chain->da.mu = ps_get_f64(&r);
    chain->da.delta = ps_get_f64(&r);
    chain->da.gamma = ps_get_f64(&r);
    chain->da.t0 = ps_get_f64(&r);
    chain->da.kappa = ps_get_f64(&r);

    ps_window_schedule *ws = &chain->windows;
    ws->num_warmup = (int64_t)ps_get_u64(&r);
    ws->init_buffer = (int64_t)ps_get_u64(&r);
    ws->term_buffer = (int64_t)ps_get_u64(&r);
    ws->base_window = (int64_t)ps_get_u64(&r);
    ws->counter = (int64_t)ps_get_u64(&r);
    ws->window_size = (int64_t)ps_get_u64(&r);
    ws->next_end = (int64_t)ps_get_u64(&r);
    ws->active = ps_get_u64(&r) != 0;
    /* The warmup length may have been shortened by ps_chain_end_warmup_early; the saved
     * schedule holds the length in force (it always equals settings.warmup). */
    chain->settings.warmup = ws->num_warmup;

    if (chain->metric.kind != PS_METRIC_UNIT) {
        chain->window_acc.n = ps_get_u64(&r);
        ps_get_f64s(&r, chain->window_acc.mean, n);
        ps_get_f64s(&r, chain->window_acc.m2, accumulator_m2_size(chain));
    }
    size_t msize = ps_metric_size(chain->metric.kind, n);
    ps_get_f64s(&r, chain->metric.inv_metric, msize);
    if (chain->metric.kind == PS_METRIC_DENSE) {
        ps_get_f64s(&r, chain->metric.chol, msize);
    } else if (chain->metric.kind == PS_METRIC_DIAG) {
        for (size_t i = 0; i < n; i++) {
            chain->metric.sqrt_diag[i] = sqrt(chain->metric.inv_metric[i]);
            chain->metric.inv_sqrt[i] = 1.0 / chain->metric.sqrt_diag[i];
        }
    }
    size_t ms = (size_t)ps_get_u64(&r);
    if (ms > 0 && chain->method->restore != NULL)
        chain->method->restore(chain->method_state, buf + r.pos);
    r.pos += ms;
    return PS_OK;
}
