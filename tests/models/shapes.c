/*
 * shapes: a model whose outputs have every shape, to test how psample lays out the names
 * and values of a BridgeStan model. The density is a standard normal on all 13
 * unconstrained values; the interest is in the names and the constrained values.
 *
 *     parameters { real a; matrix[2, 3] M; array[2] vector[3] V; }
 *     transformed parameters {
 *       array[2, 2, 3] real W;    // W[i, j, k] = 100 i + 10 j + k + a
 *       real s = 2 * a;
 *     }
 *
 * Data: {"extra": n} (optional, default 0) adds transformed parameters with exotic names:
 *   1  complex_vector[2] zc (zc[i] = i - i*I: "zc.1.real", "zc.1.imag", ...);
 *      complex_matrix[2, 2] zm (zm[i, j] = (10 i + j) - (10 i + j) I, column-major);
 *      matrix[2, 2] R = [[11, 12], [21, 22]] listed in row-major order (placement by index);
 *      tuple(real, vector[2]) tu = (7, [8, 9]') ("tu:1", "tu:2.1", "tu:2.2").
 *   2  array[2] tuple(real, real) at ("at.1:1", ...): not supported by psample yet.
 *   3  names with a gap ("g.1", "g.3").
 *   4  a variable whose elements are not contiguous ("h.1", "k", "h.2").
 *   5  a malformed index ("q.x").
 *   6  a transformed parameter with 9 dimensions (one more than psample's limit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs_test_model.h"

const char tm_model_name[] = "shapes";

typedef struct shapes {
    long extra;
    size_t n_extra; /* number of extra values */
} shapes;

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long extra = 0;
    if (tm_data_has(data, "extra") && tm_data_int(data, "extra", 0, 6, &extra, err) != 0)
        return -1;
    shapes *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tm_fail(err, "out of memory");
    m->impl = s;
    s->extra = extra;
    size_t dM[2] = {2, 3}, dV[2] = {2, 3}, dW[3] = {2, 2, 3};
    if (tm_declare(m, "a", false, 0, NULL, err) || tm_declare(m, "M", false, 2, dM, err) ||
        tm_declare(m, "V", false, 2, dV, err) || tm_declare(m, "W", true, 3, dW, err) ||
        tm_declare(m, "s", true, 0, NULL, err))
        return -1;
    switch (extra) {
    case 1:
        s->n_extra = 4 + 8 + 4 + 3;
        return tm_declare_raw(m, "zc.1.real,zc.1.imag,zc.2.real,zc.2.imag", 4, true, err) ||
               tm_declare_raw(m,
                              "zm.1.1.real,zm.1.1.imag,zm.2.1.real,zm.2.1.imag,"
                              "zm.1.2.real,zm.1.2.imag,zm.2.2.real,zm.2.2.imag",
                              8, true, err) ||
               tm_declare_raw(m, "R.1.1,R.1.2,R.2.1,R.2.2", 4, true, err) ||
               tm_declare_raw(m, "tu:1,tu:2.1,tu:2.2", 3, true, err);
    case 2:
        s->n_extra = 4;
        return tm_declare_raw(m, "at.1:1,at.1:2,at.2:1,at.2:2", 4, true, err);
    case 3:
        s->n_extra = 2;
        return tm_declare_raw(m, "g.1,g.3", 2, true, err);
    case 4:
        s->n_extra = 3;
        return tm_declare_raw(m, "h.1,k,h.2", 3, true, err);
    case 5:
        s->n_extra = 1;
        return tm_declare_raw(m, "q.x", 1, true, err);
    case 6:
        s->n_extra = 1;
        return tm_declare_raw(m, "big.1.1.1.1.1.1.1.1.1", 1, true, err);
    default:
        return 0;
    }
}

void tm_destruct(tm_model *m)
{
    free(m->impl);
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)jacobian;
    (void)err;
    double sum = 0.0;
    for (size_t i = 0; i < m->n_unc; i++) {
        sum += theta[i] * theta[i];
        if (grad)
            grad[i] = -theta[i];
    }
    *lp = -0.5 * sum - (propto ? 0.0 : (double)m->n_unc * TM_LOG_SQRT_2PI);
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)err;
    const shapes *s = m->impl;
    size_t n = 0;
    for (; n < m->n_unc; n++)
        out[n] = theta[n];
    if (!include_tp)
        return 0;
    double a = theta[0];
    /* W in column-major order: i fastest, then j, then k. */
    for (int k = 1; k <= 3; k++)
        for (int j = 1; j <= 2; j++)
            for (int i = 1; i <= 2; i++)
                out[n++] = 100 * i + 10 * j + k + a;
    out[n++] = 2 * a;
    if (s->extra == 1) {
        for (int i = 1; i <= 2; i++) {
            out[n++] = i;
            out[n++] = -i;
        }
        for (int j = 1; j <= 2; j++) {
            for (int i = 1; i <= 2; i++) {
                out[n++] = 10 * i + j;
                out[n++] = -(10 * i + j);
            }
        }
        const double R[4] = {11, 12, 21, 22};
        memcpy(out + n, R, sizeof R);
        n += 4;
        out[n++] = 7;
        out[n++] = 8;
        out[n++] = 9;
    } else {
        for (size_t i = 0; i < s->n_extra; i++)
            out[n++] = 0;
    }
    return 0;
}
