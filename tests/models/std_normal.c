/*
 * std_normal: a D-dimensional standard normal.
 *
 *     data { int<lower=1> D; }
 *     parameters { vector[D] x; }
 *     model { x ~ std_normal(); }
 *
 * Data: {"D": 10}. log p(x) = -x'x / 2 (propto), minus D log(sqrt(2 pi)) otherwise.
 */
#include <stdlib.h>

#include "bs_test_model.h"

const char tm_model_name[] = "std_normal";

typedef struct std_normal {
    size_t D;
} std_normal;

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long D;
    if (tm_data_int(data, "D", 1, 100000000, &D, err) != 0)
        return -1;
    std_normal *s = malloc(sizeof *s);
    if (s == NULL)
        return tm_fail(err, "out of memory");
    s->D = (size_t)D;
    m->impl = s;
    size_t dims[1] = {s->D};
    return tm_declare(m, "x", false, 1, dims, err);
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
    const std_normal *s = m->impl;
    double sum = 0.0;
    for (size_t i = 0; i < s->D; i++) {
        sum += theta[i] * theta[i];
        if (grad)
            grad[i] = -theta[i];
    }
    *lp = -0.5 * sum - (propto ? 0.0 : (double)s->D * TM_LOG_SQRT_2PI);
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)include_tp;
    (void)err;
    const std_normal *s = m->impl;
    for (size_t i = 0; i < s->D; i++)
        out[i] = theta[i];
    return 0;
}
