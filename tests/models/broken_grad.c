/*
 * broken_grad: a 2-dimensional standard normal whose log density is always finite but
 * whose gradient is not finite in part of the space (and evaluates without error):
 *   x[1] > 1:   both gradient components are NaN;
 *   x[1] < -1:  the first component is +Inf, the second -Inf;
 *   otherwise:  the correct gradient -x.
 *
 * Data: none.
 */
#include <math.h>

#include "bs_test_model.h"

const char tm_model_name[] = "broken_grad";

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
    (void)jacobian;
    (void)err;
    *lp =
        -0.5 * (theta[0] * theta[0] + theta[1] * theta[1]) - (propto ? 0.0 : 2.0 * TM_LOG_SQRT_2PI);
    if (grad) {
        if (theta[0] > 1) {
            grad[0] = NAN;
            grad[1] = NAN;
        } else if (theta[0] < -1) {
            grad[0] = INFINITY;
            grad[1] = -INFINITY;
        } else {
            grad[0] = -theta[0];
            grad[1] = -theta[1];
        }
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
