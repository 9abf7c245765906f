/*
 * broken_nan: a 2-dimensional model whose log density and gradient are NaN everywhere
 * (and evaluate without error), so that initialisation must give up after its retries.
 *
 *     parameters { vector[2] x; }
 *     model { target += not_a_number(); }
 *
 * Data: none.
 */
#include <math.h>

#include "bs_test_model.h"

const char tm_model_name[] = "broken_nan";

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    (void)data;
    size_t dims[1] = {2};
    return tm_declare(m, "x", false, 1, dims, err);
}

void tm_destruct(tm_model *m)
{
    (void)m;
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)m;
    (void)propto;
    (void)jacobian;
    (void)theta;
    (void)err;
    *lp = NAN;
    if (grad) {
        grad[0] = NAN;
        grad[1] = NAN;
    }
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)m;
    (void)include_tp;
    (void)err;
    out[0] = theta[0];
    out[1] = theta[1];
    return 0;
}
