/*
 * The known trace of the trace-writer tests: variables, statistics, data, and the closed-form
 * value of every element as a function of (part, variable, chain, draw, element). The
 * Python reader (tests/app/trace_read.py) states the same functions independently.
 *
 * Every value is computed with + - * / on exactly representable operands, which IEEE 754
 * rounds identically in C and numpy, so the files are compared bit for bit.
 */
#ifndef PS_TEST_TRACE_MODEL_H
#define PS_TEST_TRACE_MODEL_H

#include <stdint.h>

#include "io/trace.h"

/* Posterior variables: a scalar, a vector, a matrix, a zero-size vector, and a vector whose
 * draw (320 bytes) is larger than the tests' 256-byte chunks, so its axis gets split. */
static const ps_trace_array model_vars[] = {
    {"mu", PS_TRACE_F64, 0, {0}, NULL},       {"theta", PS_TRACE_F64, 1, {3}, NULL},
    {"Sigma", PS_TRACE_F64, 2, {2, 3}, NULL}, {"empty", PS_TRACE_F64, 1, {0}, NULL},
    {"big", PS_TRACE_F64, 1, {40}, NULL},
};
enum { MODEL_N_VARS = 5 };

/* Element e of posterior variable v at chain c, draw d; part 1 is warmup. */
static inline double model_value(int part, int v, int64_t c, int64_t d, int64_t e)
{
    double sign = part ? -1.0 : 1.0;
    return sign * ((double)(c * 1000000 + d * 1000 + e) + (double)(v + 1) * 0.0625);
}

static inline double stat_lp(int part, int64_t c, int64_t d)
{
    return -(double)(c * 1000 + d) - 0.25 * part;
}
static inline double stat_acceptance_rate(int part, int64_t c, int64_t d)
{
    return (double)((c + 3 * d + part) % 101) / 100.0;
}
static inline double stat_step_size(int part, int64_t c, int64_t d)
{
    (void)d;
    return 0.5 / (double)(c + 1) + part;
}
static inline int64_t stat_tree_depth(int part, int64_t c, int64_t d)
{
    return (c + d + part) % 11;
}
static inline int64_t stat_n_steps(int part, int64_t c, int64_t d)
{
    return ((int64_t)1 << stat_tree_depth(part, c, d)) - 1;
}
static inline int8_t stat_diverging(int part, int64_t c, int64_t d)
{
    return (int8_t)((c * 7 + d + part) % 13 == 0);
}
static inline double stat_energy(int part, int64_t c, int64_t d)
{
    return (double)d * 0.75 + (double)c + part;
}
static inline double stat_energy_error(int part, int64_t c, int64_t d)
{
    (void)c;
    return (double)(d % 7 - 3) / 8.0 - part;
}

/* Data: observed y (float64 [4]), N (int64 scalar), flags (bool [3]); constant X
 * (int32 [2, 3]). */
static const double data_y[4] = {-2.25, -0.75, 0.75, 2.25};
static const int64_t data_n = 42;
static const int8_t data_flags[3] = {1, 0, 1};
static const int32_t data_x[6] = {-7, -6, -5, 3, 4, 5};

#endif
