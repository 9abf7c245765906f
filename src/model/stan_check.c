/*
 * Constraint checks on plain values, for data and transformed data (at construction) and
 * transformed parameters (at every evaluation, where a violation rejects the draw). The
 * rules and the tolerance (1e-8) are Stan's (Stan Reference Manual, "Constraint
 * transforms"; Stan Math's check_* functions); the messages follow Stan's wording and
 * name the element.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/stan_impl.h"

#define TOLERANCE 1e-8

void sm_format_index(const sshape *s, size_t k, char *buf, size_t size)
{
    /* Indices of the flat element k: array indices row-major, then the cell's (matrix
     * cells column-major). */
    size_t cell = (size_t)s->r * s->c;
    size_t ci = cell ? k / cell : 0, within = cell ? k % cell : 0;
    unsigned idx[PS_STAN_MAX_ARRAY_DIMS + 2];
    unsigned n = 0;
    for (int i = (int)s->nd - 1; i >= 0; i--) {
        idx[i] = (unsigned)(ci % s->dim[i]) + 1;
        ci /= s->dim[i];
    }
    n = s->nd;
    if (s->base == PS_STAN_VECTOR || s->base == PS_STAN_ROW_VECTOR) {
        idx[n++] = (unsigned)within + 1;
    } else if (s->base == PS_STAN_MATRIX) {
        idx[n++] = (unsigned)(within % s->r) + 1;
        idx[n++] = (unsigned)(within / s->r) + 1;
    }
    if (n == 0 || size == 0) {
        if (size > 0)
            buf[0] = '\0';
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && used + 1 < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%u", i == 0 ? "[" : ",", idx[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used + 1 < size) {
        buf[used] = ']';
        buf[used + 1] = '\0';
    }
}

static double value_at(const sval *v, size_t i)
{
    return v->s.base == PS_STAN_INT ? (double)v->iv[i] : v->x.v[i];
}

static double bound_at(const sval *b, size_t i)
{
    size_t n = sshape_count(&b->s);
    return value_at(b, n == 1 ? 0 : i);
}

static bool check_bounds(const char *name, const sval *v, const sval *lower, const sval *upper,
                         char *msg, size_t size, size_t *element)
{
    size_t n = sshape_count(&v->s);
    for (size_t i = 0; i < n; i++) {
        double x = value_at(v, i);
        char at[64];
        if (lower != NULL) {
            double lo = bound_at(lower, i);
            if (!(x >= lo)) {
                sm_format_index(&v->s, i, at, sizeof at);
                snprintf(msg, size, "%s%s is %.17g, but must be greater than or equal to %.17g",
                         name, at, x, lo);
                *element = i;
                return false;
            }
        }
        if (upper != NULL) {
            double hi = bound_at(upper, i);
            if (!(x <= hi)) {
                sm_format_index(&v->s, i, at, sizeof at);
                snprintf(msg, size, "%s%s is %.17g, but must be less than or equal to %.17g", name,
                         at, x, hi);
                *element = i;
                return false;
            }
        }
    }
    return true;
}

/* The cell c of a value as a pointer to its doubles and a name suffix. */
static void cell_name(const char *name, const sval *v, size_t c, char *buf, size_t size)
{
    if (v->s.nd == 0) {
        snprintf(buf, size, "%s", name);
        return;
    }
    char at[64];
    sshape s = v->s;
    s.base = PS_STAN_REAL;
    s.r = s.c = 1;
    sm_format_index(&s, c, at, sizeof at);
    snprintf(buf, size, "%s%s", name, at);
}

/* In-place Cholesky of the lower triangle of an n x n column-major matrix; false when it
 * is not positive definite. */
static bool cholesky_ok(double *a, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double d = a[j + j * n];
        for (size_t k = 0; k < j; k++)
            d -= a[j + k * n] * a[j + k * n];
        if (!(d > 0.0))
            return false;
        d = sqrt(d);
        a[j + j * n] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = a[i + j * n];
            for (size_t k = 0; k < j; k++)
                s -= a[i + k * n] * a[j + k * n];
            a[i + j * n] = s / d;
        }
    }
    return true;
}

bool sm_check_constraint(const char *name, ps_stan_constraint c, const sval *value,
                         const sval *lower, const sval *upper, double *work, char *msg, size_t size,
                         size_t *element)
{
    const sshape *s = &value->s;
    size_t cells = sshape_cells(s), per = (size_t)s->r * s->c;
    char cname[128];
    switch (c) {
    case PS_STAN_C_NONE:
    case PS_STAN_C_AFFINE:
    case PS_STAN_C_UNIT_VECTOR:
        return true;
    case PS_STAN_C_BOUNDS:
        return check_bounds(name, value, lower, upper, msg, size, element);
    default:
        break;
    }
    for (size_t k = 0; k < cells; k++) {
        const double *x = value->x.v + k * per;
        cell_name(name, value, k, cname, sizeof cname);
        switch (c) {
        case PS_STAN_C_SIMPLEX: {
            double sum = 0.0;
            for (size_t i = 0; i < per; i++) {
                if (!(x[i] >= 0.0)) {
                    snprintf(msg, size,
                             "%s is not a valid simplex. %s[%zu] = %.17g, but should be greater "
                             "than or equal to 0",
                             cname, cname, i + 1, x[i]);
                    *element = k * per + i;
                    return false;
                }
                sum += x[i];
            }
            if (per == 0 || !(fabs(sum - 1.0) <= TOLERANCE)) {
                snprintf(msg, size, "%s is not a valid simplex. sum(%s) = %.17g, but should be 1",
                         cname, cname, sum);
                *element = k * per;
                return false;
            }
            break;
        }
        case PS_STAN_C_ORDERED:
        case PS_STAN_C_POSITIVE_ORDERED:
            for (size_t i = 0; i < per; i++) {
                if (c == PS_STAN_C_POSITIVE_ORDERED && i == 0 && !(x[0] >= 0.0)) {
                    snprintf(msg, size,
                             "%s is not a valid positive_ordered vector. The element at 1 is "
                             "%.17g, but should be positive",
                             cname, x[0]);
                    *element = k * per;
                    return false;
                }
                if (isnan(x[i]) || (i > 0 && !(x[i] > x[i - 1]))) {
                    snprintf(msg, size,
                             "%s is not a valid ordered vector. The element at %zu is %.17g, but "
                             "should be greater than the previous element, %.17g",
                             cname, i + 1, x[i], i > 0 ? x[i - 1] : NAN);
                    *element = k * per + i;
                    return false;
                }
            }
            break;
        case PS_STAN_C_CHOLESKY_CORR:
        case PS_STAN_C_CHOLESKY_COV: {
            size_t R = s->r, C = s->c;
            if (c == PS_STAN_C_CHOLESKY_COV ? R < C : R != C) {
                snprintf(msg, size, "%s is %zu x %zu, not a valid Cholesky factor", cname, R, C);
                *element = k * per;
                return false;
            }
            for (size_t j = 0; j < C; j++) {
                for (size_t i = 0; i < j && i < R; i++)
                    if (x[i + j * R] != 0.0) {
                        snprintf(msg, size, "%s is not lower triangular; %s[%zu,%zu] = %.17g",
                                 cname, cname, i + 1, j + 1, x[i + j * R]);
                        *element = k * per + i + j * R;
                        return false;
                    }
                if (!(x[j + j * R] > 0.0)) {
                    snprintf(msg, size,
                             "%s is not a valid Cholesky factor: the diagonal element %s[%zu,%zu] "
                             "= %.17g, but should be positive",
                             cname, cname, j + 1, j + 1, x[j + j * R]);
                    *element = k * per + j + j * R;
                    return false;
                }
            }
            if (c == PS_STAN_C_CHOLESKY_CORR)
                for (size_t i = 0; i < R; i++) {
                    double ss = 0.0;
                    for (size_t j = 0; j <= i; j++)
                        ss += x[i + j * R] * x[i + j * R];
                    if (!(fabs(sqrt(ss) - 1.0) <= TOLERANCE)) {
                        snprintf(msg, size,
                                 "%s is not a valid Cholesky factor of a correlation matrix: row "
                                 "%zu has length %.17g, but should have length 1",
                                 cname, i + 1, sqrt(ss));
                        *element = k * per + i;
                        return false;
                    }
                }
            break;
        }
        case PS_STAN_C_COV_MATRIX:
        case PS_STAN_C_CORR_MATRIX: {
            size_t K = s->r;
            if (s->c != K) {
                snprintf(msg, size, "%s is %u x %u, not square", cname, s->r, s->c);
                *element = k * per;
                return false;
            }
            for (size_t j = 0; j < K; j++)
                for (size_t i = j + 1; i < K; i++)
                    if (!(fabs(x[i + j * K] - x[j + i * K]) <= TOLERANCE)) {
                        snprintf(msg, size,
                                 "%s is not symmetric. %s[%zu,%zu] = %.17g, but %s[%zu,%zu] = "
                                 "%.17g",
                                 cname, cname, i + 1, j + 1, x[i + j * K], cname, j + 1, i + 1,
                                 x[j + i * K]);
                        *element = k * per + i + j * K;
                        return false;
                    }
            if (c == PS_STAN_C_CORR_MATRIX)
                for (size_t i = 0; i < K; i++)
                    if (!(fabs(x[i + i * K] - 1.0) <= TOLERANCE)) {
                        snprintf(msg, size,
                                 "%s is not a valid correlation matrix. %s[%zu,%zu] is %.17g, but "
                                 "should be near 1",
                                 cname, cname, i + 1, i + 1, x[i + i * K]);
                        *element = k * per + i + i * K;
                        return false;
                    }
            /* Positive definiteness: a Cholesky factorisation of a copy. */
            if (work != NULL) {
                if (K > 0)
                    memcpy(work, x, K * K * sizeof(double));
                if (!cholesky_ok(work, K)) {
                    snprintf(msg, size, "%s is not positive definite", cname);
                    *element = k * per;
                    return false;
                }
            }
            break;
        }
        default:
            break;
        }
    }
    return true;
}
