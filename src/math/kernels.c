/*
 * Dense kernels, compiled twice (baseline and AVX2) from kernels_body.h and dispatched at
 * run time on what the processor supports. Both variants give identical results.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "math/kernels.h"

/* Four doubles as one value (GCC/Clang vector extension): lane-wise arithmetic that the
 * compiler maps to one AVX register or two SSE registers. */
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
typedef int v4si __attribute__((vector_size(16)));
#define SPLAT(x) ((v4d){(x), (x), (x), (x)})

static inline uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#define KERN_ATTR
#define KERN(name) name##_base
#include "math/kernels_body.h"
#undef KERN_ATTR
#undef KERN

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_VARIANT 1
#define KERN_ATTR __attribute__((target("avx2")))
#define KERN(name) name##_avx2
#include "math/kernels_body.h"
#undef KERN_ATTR
#undef KERN

static _Atomic int force_baseline;

static bool use_avx2(void)
{
    return !force_baseline && __builtin_cpu_supports("avx2");
}
#define DISPATCH(name, ...) (use_avx2() ? name##_avx2(__VA_ARGS__) : name##_base(__VA_ARGS__))
#else
#define DISPATCH(name, ...) name##_base(__VA_ARGS__)
#endif

bool ps_kern_force_baseline(bool on)
{
#ifdef HAVE_AVX2_VARIANT
    force_baseline = on;
    return __builtin_cpu_supports("avx2");
#else
    (void)on;
    return false;
#endif
}

bool ps_kern_all_pass(ps_kern_check kind, size_t n, const double *x)
{
    return DISPATCH(all_pass, kind, n, x);
}

double ps_kern_dot(size_t n, const double *x, const double *y)
{
    return DISPATCH(dot, n, x, y);
}

double ps_kern_sum(size_t n, const double *x)
{
    return DISPATCH(sum4, n, x);
}

void ps_kern_axpy(size_t n, double a, const double *x, double *y)
{
    DISPATCH(axpy, n, a, x, y);
}

void ps_kern_exp(size_t n, const double *x, double *y)
{
    DISPATCH(exp, n, x, y);
}

void ps_kern_gemv_n(size_t n, size_t K, const double *X, size_t ld, const double *beta, double *y)
{
    DISPATCH(gemv_n, n, K, X, ld, beta, y);
}

void ps_kern_gemv_t(size_t n, size_t K, const double *X, size_t ld, const double *d, double *g)
{
    DISPATCH(gemv_t, n, K, X, ld, d, g);
}

double ps_kern_normal_sq(size_t n, const double *y, size_t sy, const double *mu, size_t sm,
                         double inv, double *dy, double *dmu)
{
    return DISPATCH(normal_sq, n, y, sy, mu, sm, inv, dy, dmu);
}

double ps_kern_glm(int family, size_t n, size_t K, const double *X, size_t ld, const double *alpha,
                   size_t sa, const double *beta, const int *y, double *d, double *d_sum, double *g,
                   double *G)
{
    return DISPATCH(glm, family, n, K, X, ld, alpha, sa, beta, y, d, d_sum, g, G);
}
