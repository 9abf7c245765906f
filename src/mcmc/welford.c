/*
 * Streaming mean and (co)variance (Welford 1962, "Note on a method for calculating
 * corrected sums of squares and products") with the exact pairwise merge of Chan, Golub
 * and LeVeque (1979, "Updating formulae and a pairwise algorithm for computing sample
 * variances"), so that a driver can pool the window draws of many chains.
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

static size_t m2_size(size_t dim, bool dense)
{
    return dense ? dim * dim : dim;
}

ps_status ps_welford_init(ps_welford *acc, size_t dim, bool dense)
{
    ps_status status = PS_OK;
    memset(acc, 0, sizeof *acc);
    acc->dim = dim;
    acc->dense = dense;
    if (dense && dim > 0 && dim > ((size_t)-1) / dim / sizeof(double))
        return ps_error(PS_ERR_MEM, "a dense accumulator of dimension %zu is too large", dim);
    PS_TRY(ps_alloc_array(&acc->mean, dim, sizeof(double), "window accumulator"));
    PS_TRY(ps_alloc_array(&acc->m2, m2_size(dim, dense), sizeof(double), "window accumulator"));
    return PS_OK;
done:
    ps_welford_fini(acc);
    return status;
}

void ps_welford_fini(ps_welford *acc)
{
    if (acc == NULL)
        return;
    ps_free_ptr(&acc->mean);
    ps_free_ptr(&acc->m2);
}

void ps_welford_reset(ps_welford *acc)
{
    acc->n = 0;
    memset(acc->mean, 0, acc->dim * sizeof(double));
    memset(acc->m2, 0, m2_size(acc->dim, acc->dense) * sizeof(double));
}

void ps_welford_add(ps_welford *acc, const double *x)
{
    size_t dim = acc->dim;
    acc->n++;
    double inv_n = 1.0 / (double)acc->n;
    double *mean = acc->mean, *m2 = acc->m2;
    if (!acc->dense) {
        for (size_t i = 0; i < dim; i++) {
            double delta = x[i] - mean[i];
            mean[i] += delta * inv_n;
            m2[i] += (x[i] - mean[i]) * delta;
        }
        return;
    }
    /* Dense: m2 += (x - mean_new) (x - mean_old)^T = ((n - 1)/n) delta delta^T with
     * delta = x - mean_old. Only the lower triangle is formed, so the estimate is exactly
     * symmetric. */
    double coef = ((double)acc->n - 1.0) * inv_n;
    for (size_t j = 0; j < dim; j++) {
        double delta_j = coef * (x[j] - mean[j]);
        double *col = m2 + j * dim;
        for (size_t i = j; i < dim; i++)
            col[i] += (x[i] - mean[i]) * delta_j;
    }
    for (size_t i = 0; i < dim; i++)
        mean[i] += (x[i] - mean[i]) * inv_n;
}

void ps_welford_copy(ps_welford *dst, const ps_welford *src)
{
    dst->n = src->n;
    memcpy(dst->mean, src->mean, src->dim * sizeof(double));
    memcpy(dst->m2, src->m2, m2_size(src->dim, src->dense) * sizeof(double));
}

void ps_welford_merge(ps_welford *dst, const ps_welford *src)
{
    if (src->n == 0)
        return;
    if (dst->n == 0) {
        ps_welford_copy(dst, src);
        return;
    }
    size_t dim = dst->dim;
    double na = (double)dst->n, nb = (double)src->n, n = na + nb;
    double wb = nb / n, wab = na * nb / n;
    double *mean = dst->mean, *m2 = dst->m2;
    if (!dst->dense) {
        for (size_t i = 0; i < dim; i++) {
            double delta = src->mean[i] - mean[i];
            m2[i] += src->m2[i] + delta * delta * wab;
            mean[i] += delta * wb;
        }
    } else {
        for (size_t j = 0; j < dim; j++) {
            double delta_j = src->mean[j] - mean[j];
            for (size_t i = j; i < dim; i++) {
                double delta_i = src->mean[i] - mean[i];
                m2[j * dim + i] += src->m2[j * dim + i] + delta_i * delta_j * wab;
            }
        }
        for (size_t i = 0; i < dim; i++)
            mean[i] += (src->mean[i] - mean[i]) * wb;
    }
    dst->n += src->n;
}

bool ps_welford_covariance(const ps_welford *acc, double *out)
{
    if (acc->n < 2)
        return false;
    size_t dim = acc->dim;
    double inv = 1.0 / ((double)acc->n - 1.0);
    if (!acc->dense) {
        for (size_t i = 0; i < dim; i++)
            out[i] = acc->m2[i] * inv;
        return true;
    }
    for (size_t j = 0; j < dim; j++)
        for (size_t i = j; i < dim; i++)
            out[j * dim + i] = out[i * dim + j] = acc->m2[j * dim + i] * inv;
    return true;
}

bool ps_welford_regularized_metric(const ps_welford *acc, double *inv_metric)
{
    if (!ps_welford_covariance(acc, inv_metric))
        return false;
    /* Stan's shrinkage towards a small multiple of the identity (Stan Reference Manual,
     * "HMC algorithm parameters"): (n/(n+5)) S + 1e-3 (5/(n+5)) I. */
    size_t dim = acc->dim;
    double n = (double)acc->n;
    double w = n / (n + 5.0), shrink = 1e-3 * (5.0 / (n + 5.0));
    if (!acc->dense) {
        for (size_t i = 0; i < dim; i++)
            inv_metric[i] = w * inv_metric[i] + shrink;
        return true;
    }
    for (size_t k = 0; k < dim * dim; k++)
        inv_metric[k] *= w;
    for (size_t i = 0; i < dim; i++)
        inv_metric[i * dim + i] += shrink;
    return true;
}

size_t ps_welford_packed_size(size_t dim, bool dense)
{
    return 1 + dim + m2_size(dim, dense);
}

void ps_welford_pack(const ps_welford *acc, double *buf)
{
    buf[0] = (double)acc->n;
    memcpy(buf + 1, acc->mean, acc->dim * sizeof(double));
    memcpy(buf + 1 + acc->dim, acc->m2, m2_size(acc->dim, acc->dense) * sizeof(double));
}

ps_status ps_welford_unpack(ps_welford *acc, const double *buf)
{
    double n = buf[0];
    if (!(n >= 0.0) || n > 9007199254740992.0 || n != floor(n))
        return ps_error(PS_ERR_DATA, "packed window accumulator has an invalid count %g", n);
    acc->n = (uint64_t)n;
    memcpy(acc->mean, buf + 1, acc->dim * sizeof(double));
    memcpy(acc->m2, buf + 1 + acc->dim, m2_size(acc->dim, acc->dense) * sizeof(double));
    return PS_OK;
}
