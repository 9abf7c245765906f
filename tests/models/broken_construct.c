/*
 * broken_construct: a model whose construction fails on bad data, as a Stan model does.
 *
 *     data { int<lower=0> N; vector[N] y; }
 *     parameters { real mu; }
 *     model { y ~ normal(mu, 1); }
 *
 * Data: {"N": 3, "y": [...]}. Without "N" construction fails with Stan's message
 * "variable does not exist; ... variable name=N"; with len(y) != N it fails with
 * "mismatch in dimension declared and found in context; ... variable name=y".
 */
#include <stdlib.h>

#include "bs_test_model.h"

const char tm_model_name[] = "broken_construct";

typedef struct model {
    size_t N;
    double *y;
} model;

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    long N;
    if (tm_data_int(data, "N", 0, 100000000, &N, err) != 0)
        return -1;
    model *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tm_fail(err, "out of memory");
    m->impl = s;
    s->N = (size_t)N;
    s->y = calloc(s->N + 1, sizeof(double));
    if (s->y == NULL)
        return tm_fail(err, "out of memory");
    if (tm_data_reals(data, "y", s->N, s->y, err) != 0)
        return -1;
    return tm_declare(m, "mu", false, 0, NULL, err);
}

void tm_destruct(tm_model *m)
{
    model *s = m->impl;
    if (s == NULL)
        return;
    free(s->y);
    free(s);
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)jacobian;
    (void)err;
    const model *s = m->impl;
    double sum = 0.0, d = 0.0;
    for (size_t i = 0; i < s->N; i++) {
        sum += -0.5 * (s->y[i] - theta[0]) * (s->y[i] - theta[0]);
        d += s->y[i] - theta[0];
    }
    *lp = sum - (propto ? 0.0 : (double)s->N * TM_LOG_SQRT_2PI);
    if (grad)
        grad[0] = d;
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)m;
    (void)include_tp;
    (void)err;
    out[0] = theta[0];
    return 0;
}
