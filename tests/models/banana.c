/*
 * banana: the twisted Gaussian of Haario, Saksman and Tamminen (1999), in 2 dimensions.
 * Take y ~ N(0, diag(100, 1)) and twist it with phi_b(x) = (x1, x2 + b x1^2 - 100 b); the
 * density of x is that of y at phi_b(x) (the Jacobian of phi_b is 1). In Stan:
 *
 *     data { real<lower=0> b; }            // optional, default 0.1
 *     parameters { vector[2] x; }
 *     model { x[1] ~ normal(0, 10); x[2] ~ normal(b * (100 - x[1]^2), 1); }
 *
 * Data: {} or {"b": 0.1}. With e = x2 + b x1^2 - 100 b:
 *
 *     log p = -x1^2/200 - e^2/2                  (propto)
 *     log p = -x1^2/200 - e^2/2 - log 10 - 2 log sqrt(2 pi)   (normalised)
 *
 * Exact moments (x1 ~ N(0, 100), x2 = y2 + 100 b - b x1^2):
 *     E x1 = 0, Var x1 = 100, E x2 = 0, Var x2 = 1 + 2 * 100^2 * b^2 (201 for b = 0.1),
 *     Cov(x1, x2) = 0, E x1^2 = 100, and P(x1 < 0) = 1/2.
 */
#include <math.h>
#include <stdlib.h>

#include "bs_test_model.h"

const char tm_model_name[] = "banana";

typedef struct banana {
    double b;
} banana;

int tm_construct(tm_model *m, const cJSON *data, char **err)
{
    double b = 0.1;
    if (tm_data_has(data, "b") && tm_data_real(data, "b", &b, err) != 0)
        return -1;
    if (!(b >= 0) || isinf(b))
        return tm_fail(err, "Exception: b is %g, but must be greater than or equal to 0", b);
    banana *s = malloc(sizeof *s);
    if (s == NULL)
        return tm_fail(err, "out of memory");
    s->b = b;
    m->impl = s;
    size_t dims[1] = {2};
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
    const banana *s = m->impl;
    double x1 = theta[0], x2 = theta[1];
    double e = x2 + s->b * x1 * x1 - 100.0 * s->b;
    *lp = -x1 * x1 / 200.0 - 0.5 * e * e - (propto ? 0.0 : log(10.0) + 2.0 * TM_LOG_SQRT_2PI);
    if (grad) {
        grad[0] = -x1 / 100.0 - 2.0 * s->b * x1 * e;
        grad[1] = -e;
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
