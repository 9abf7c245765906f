/*
 * broken_reject: a 2-dimensional standard normal that rejects part of the space, as a Stan
 * program's reject() or a failed check does:
 *
 *     parameters { vector[2] x; }
 *     model {
 *       if (x[1] >= 3) reject("x must be < 3; found x[1] = ", x[1]);
 *       x ~ std_normal();
 *     }
 *
 * Data: none. bs_log_density(_gradient) and bs_param_constrain fail with the message
 * "Exception: x must be < 3; found x[1] = 3.5 (in 'broken_reject.stan', line 4)" where
 * x[1] >= 3, and behave as std_normal elsewhere.
 */
#include "bs_test_model.h"

const char tm_model_name[] = "broken_reject";

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

static int check(const double *theta, char **err)
{
    if (theta[0] >= 3)
        return tm_fail(err,
                       "Exception: x must be < 3; found x[1] = %g (in 'broken_reject.stan', "
                       "line 4)",
                       theta[0]);
    return 0;
}

int tm_log_density(const tm_model *m, bool propto, bool jacobian, const double *theta, double *lp,
                   double *grad, char **err)
{
    (void)m;
    (void)jacobian;
    if (check(theta, err) != 0)
        return -1;
    *lp =
        -0.5 * (theta[0] * theta[0] + theta[1] * theta[1]) - (propto ? 0.0 : 2.0 * TM_LOG_SQRT_2PI);
    if (grad) {
        grad[0] = -theta[0];
        grad[1] = -theta[1];
    }
    return 0;
}

int tm_constrain(const tm_model *m, bool include_tp, const double *theta, double *out, char **err)
{
    (void)m;
    (void)include_tp;
    if (check(theta, err) != 0)
        return -1;
    out[0] = theta[0];
    out[1] = theta[1];
    return 0;
}
