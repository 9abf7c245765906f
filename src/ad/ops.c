/*
 * Elementwise arithmetic, unary functions and reductions as whole-container nodes.
 *
 * Each primitive computes its values in one loop and, when the result is var and the tape
 * records, pushes one node; the backward functions recompute the local derivatives from
 * the stored operand and result values (cheap for these functions) instead of storing
 * them, which keeps the arena small. A broadcast scalar operand is addressed with stride
 * 0, so the same loop serves scalar-vector, vector-scalar and vector-vector forms.
 */
#include <math.h>
#include <string.h>

#include "ad/ad_impl.h"
#include "math/special.h"

/* ---------------------------------------------------------------------------------------
 * Binary operations
 * ------------------------------------------------------------------------------------- */

static const char *const binop_names[PS_AD_BINOP_COUNT_] = {
    "add",   "subtract",    "elt_multiply", "elt_divide", "pow",     "fmin",  "fmax",
    "hypot", "log_sum_exp", "log_diff_exp", "lbeta",      "lchoose", "atan2", "fdim"};

const char *ps_ad_binop_name(ps_ad_binop op)
{
    return (unsigned)op < PS_AD_BINOP_COUNT_ ? binop_names[op] : "?";
}

bool ps_ad_binop_lookup(const char *name, ps_ad_binop *op)
{
    for (int i = 0; i < PS_AD_BINOP_COUNT_; i++) {
        if (strcmp(name, binop_names[i]) == 0) {
            *op = (ps_ad_binop)i;
            return true;
        }
    }
    return false;
}

typedef struct bin_node {
    int op;
    size_t n, sa, sb; /* strides 0 (broadcast scalar) or 1 */
    const double *av, *bv, *ov;
    double *aa, *ba;
    const double *oa;
} bin_node;

static double binop_value(int op, double a, double b)
{
    switch (op) {
    case PS_AD_ADD:
        return a + b;
    case PS_AD_SUB:
        return a - b;
    case PS_AD_MUL:
        return a * b;
    case PS_AD_DIV:
        return a / b;
    case PS_AD_POW:
        return pow(a, b);
    case PS_AD_FMIN:
        return fmin(a, b);
    case PS_AD_FMAX:
        return fmax(a, b);
    case PS_AD_HYPOT:
        return hypot(a, b);
    case PS_AD_LOG_SUM_EXP2:
        return ps_log_sum_exp2(a, b);
    case PS_AD_LOG_DIFF_EXP:
        return ps_log_diff_exp(a, b);
    case PS_AD_LBETA:
        return ps_lbeta(a, b);
    case PS_AD_LCHOOSE:
        return ps_lchoose(a, b);
    case PS_AD_ATAN2:
        return atan2(a, b);
    case PS_AD_FDIM:
        return fdim(a, b);
    default:
        return NAN;
    }
}

/* Partial derivatives of out = a op b with respect to a (*da) and b (*db). */
static void binop_partials(int op, double a, double b, double out, double *da, double *db)
{
    switch (op) {
    case PS_AD_ADD:
        *da = 1.0;
        *db = 1.0;
        break;
    case PS_AD_SUB:
        *da = 1.0;
        *db = -1.0;
        break;
    case PS_AD_MUL:
        *da = b;
        *db = a;
        break;
    case PS_AD_DIV:
        *da = 1.0 / b;
        *db = -out / b;
        break;
    case PS_AD_POW:
        *da = b == 0.0 ? 0.0 : b * pow(a, b - 1.0);
        *db = out == 0.0 ? 0.0 : out * log(a);
        break;
    case PS_AD_FMIN:
        *da = (a <= b || isnan(b)) ? 1.0 : 0.0;
        *db = 1.0 - *da;
        break;
    case PS_AD_FMAX:
        *da = (a >= b || isnan(b)) ? 1.0 : 0.0;
        *db = 1.0 - *da;
        break;
    case PS_AD_HYPOT:
        *da = a / out;
        *db = b / out;
        break;
    case PS_AD_LOG_SUM_EXP2:
        *da = exp(a - out);
        *db = exp(b - out);
        break;
    case PS_AD_LOG_DIFF_EXP:
        *da = exp(a - out);
        *db = -exp(b - out);
        break;
    case PS_AD_LBETA: {
        double dab = ps_digamma(a + b);
        *da = ps_digamma(a) - dab;
        *db = ps_digamma(b) - dab;
        break;
    }
    case PS_AD_LCHOOSE: {
        double dnk = ps_digamma(a - b + 1.0);
        *da = ps_digamma(a + 1.0) - dnk;
        *db = dnk - ps_digamma(b + 1.0);
        break;
    }
    case PS_AD_ATAN2: {
        double r = a * a + b * b;
        *da = b / r;
        *db = -a / r;
        break;
    }
    case PS_AD_FDIM:
        *da = a > b ? 1.0 : 0.0;
        *db = -*da;
        break;
    default:
        *da = NAN;
        *db = NAN;
    }
}

static void bin_back(void *p)
{
    bin_node *nd = p;
    size_t n = nd->n, sa = nd->sa, sb = nd->sb;
    const double *g = nd->oa;
    double *aa = nd->aa, *ba = nd->ba;
    switch (nd->op) {
    case PS_AD_ADD:
    case PS_AD_SUB: {
        double sign = nd->op == PS_AD_ADD ? 1.0 : -1.0;
        if (aa != NULL) {
            if (sa == 1) {
                for (size_t i = 0; i < n; i++)
                    aa[i] += g[i];
            } else {
                double s = 0.0;
                for (size_t i = 0; i < n; i++)
                    s += g[i];
                aa[0] += s;
            }
        }
        if (ba != NULL) {
            if (sb == 1) {
                for (size_t i = 0; i < n; i++)
                    ba[i] += sign * g[i];
            } else {
                double s = 0.0;
                for (size_t i = 0; i < n; i++)
                    s += g[i];
                ba[0] += sign * s;
            }
        }
        return;
    }
    case PS_AD_MUL: {
        const double *av = nd->av, *bv = nd->bv;
        if (aa != NULL)
            for (size_t i = 0; i < n; i++)
                aa[i * sa] += g[i] * bv[i * sb];
        if (ba != NULL)
            for (size_t i = 0; i < n; i++)
                ba[i * sb] += g[i] * av[i * sa];
        return;
    }
    default:
        for (size_t i = 0; i < n; i++) {
            double da, db;
            binop_partials(nd->op, nd->av[i * sa], nd->bv[i * sb], nd->ov[i], &da, &db);
            if (aa != NULL)
                aa[i * sa] += g[i] * da;
            if (ba != NULL)
                ba[i * sb] += g[i] * db;
        }
    }
}

/* The shape of a broadcast result; PS_ERR_MODEL for a mismatch. */
static ps_status broadcast_shape(const char *what, ps_adv a, ps_adv b, size_t *rows, size_t *cols)
{
    size_t na = ps_adv_size(a), nb = ps_adv_size(b);
    if (na == 1 && nb != 1) {
        *rows = b.rows;
        *cols = b.cols;
        return PS_OK;
    }
    if (nb == 1 || (a.rows == b.rows && a.cols == b.cols)) {
        *rows = a.rows;
        *cols = a.cols;
        return PS_OK;
    }
    return ps_error(PS_ERR_MODEL, "%s: operands of shapes %zu x %zu and %zu x %zu do not conform",
                    what, a.rows, a.cols, b.rows, b.cols);
}

/* Two scalars: the common case of scalar code, with a smaller node. */
typedef struct bin1_node {
    int op;
    double av, bv, ov;
    double *aa, *ba;
    const double *oa;
} bin1_node;

static void bin1_back(void *p)
{
    bin1_node *nd = p;
    double g = nd->oa[0], da, db;
    binop_partials(nd->op, nd->av, nd->bv, nd->ov, &da, &db);
    if (nd->aa != NULL)
        nd->aa[0] += g * da;
    if (nd->ba != NULL)
        nd->ba[0] += g * db;
}

static inline __attribute__((always_inline)) ps_status
binary_scalar(ps_ad_tape *tape, ps_ad_binop op, ps_adv a, ps_adv b, ps_adv *out)
{
    double *o = NULL;
    PS_CHECK(ad_result(tape, 1, 1, a.var || b.var, &o, out));
    double av = a.v[0], bv = b.v[0];
    double v = op == PS_AD_ADD   ? av + bv
               : op == PS_AD_MUL ? av * bv
               : op == PS_AD_SUB ? av - bv
                                 : binop_value(op, av, bv);
    o[0] = v;
    if (out->a == NULL || (a.a == NULL && b.a == NULL))
        return PS_OK;
    bin1_node *nd;
    PS_CHECK(ad_push(tape, bin1_back, sizeof *nd, (void **)&nd));
    *nd = (bin1_node){op, av, bv, v, a.a, b.a, out->a};
    return PS_OK;
}

/* The shorthands below call this directly, so the operands are copied once (passing the
 * handles through several calls costs more than the arithmetic of a scalar op). */
static inline __attribute__((always_inline)) ps_status binary_impl(ps_ad_tape *tape, ps_ad_binop op,
                                                                   ps_adv a, ps_adv b, ps_adv *out)
{
    if ((unsigned)op >= PS_AD_BINOP_COUNT_)
        return ps_error(PS_ERR_INTERNAL, "unknown binary operation %d", (int)op);
    if (a.rows == 1 && a.cols == 1 && b.rows == 1 && b.cols == 1)
        return binary_scalar(tape, op, a, b, out);
    size_t rows = 0, cols = 0;
    PS_CHECK(broadcast_shape(binop_names[op], a, b, &rows, &cols));
    size_t n = rows * cols;
    size_t sa = ps_adv_size(a) == 1 ? 0 : 1, sb = ps_adv_size(b) == 1 ? 0 : 1;
    double *o = NULL;
    PS_CHECK(ad_result(tape, rows, cols, a.var || b.var, &o, out));
    const double *av = a.v, *bv = b.v;
    switch (op) {
    case PS_AD_ADD:
        if (sa && sb)
            for (size_t i = 0; i < n; i++)
                o[i] = av[i] + bv[i];
        else
            for (size_t i = 0; i < n; i++)
                o[i] = av[i * sa] + bv[i * sb];
        break;
    case PS_AD_SUB:
        for (size_t i = 0; i < n; i++)
            o[i] = av[i * sa] - bv[i * sb];
        break;
    case PS_AD_MUL:
        if (sa && sb)
            for (size_t i = 0; i < n; i++)
                o[i] = av[i] * bv[i];
        else
            for (size_t i = 0; i < n; i++)
                o[i] = av[i * sa] * bv[i * sb];
        break;
    case PS_AD_DIV:
        for (size_t i = 0; i < n; i++)
            o[i] = av[i * sa] / bv[i * sb];
        break;
    default:
        for (size_t i = 0; i < n; i++)
            o[i] = binop_value(op, av[i * sa], bv[i * sb]);
    }
    if (out->a == NULL || (a.a == NULL && b.a == NULL))
        return PS_OK;
    bin_node *nd;
    PS_CHECK(ad_push(tape, bin_back, sizeof *nd, (void **)&nd));
    *nd = (bin_node){op, n, sa, sb, a.v, b.v, out->v, a.a, b.a, out->a};
    return PS_OK;
}

ps_status ps_ad_binary(ps_ad_tape *tape, ps_ad_binop op, ps_adv a, ps_adv b, ps_adv *out)
{
    return binary_impl(tape, op, a, b, out);
}

ps_status ps_ad_add(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    return binary_impl(tape, PS_AD_ADD, a, b, out);
}

ps_status ps_ad_sub(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    return binary_impl(tape, PS_AD_SUB, a, b, out);
}

ps_status ps_ad_mul(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    return binary_impl(tape, PS_AD_MUL, a, b, out);
}

ps_status ps_ad_div(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    return binary_impl(tape, PS_AD_DIV, a, b, out);
}

/* ---------------------------------------------------------------------------------------
 * Fused a + b .* c
 * ------------------------------------------------------------------------------------- */

typedef struct fma_node {
    size_t n, sa, sb, sc;
    const double *bv, *cv;
    double *aa, *ba, *ca;
    const double *oa;
} fma_node;

static void fma_back(void *p)
{
    fma_node *nd = p;
    size_t n = nd->n, sa = nd->sa, sb = nd->sb, sc = nd->sc;
    const double *g = nd->oa;
    if (nd->aa != NULL) {
        if (sa) {
            for (size_t i = 0; i < n; i++)
                nd->aa[i] += g[i];
        } else {
            double s = 0.0;
            for (size_t i = 0; i < n; i++)
                s += g[i];
            nd->aa[0] += s;
        }
    }
    if (nd->ba != NULL) {
        if (sb && sc) {
            for (size_t i = 0; i < n; i++)
                nd->ba[i] += g[i] * nd->cv[i];
        } else if (!sb) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++)
                s += g[i] * nd->cv[i * sc];
            nd->ba[0] += s;
        } else {
            for (size_t i = 0; i < n; i++)
                nd->ba[i] += g[i] * nd->cv[0];
        }
    }
    if (nd->ca != NULL) {
        if (sb && sc) {
            for (size_t i = 0; i < n; i++)
                nd->ca[i] += g[i] * nd->bv[i];
        } else if (!sc) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++)
                s += g[i] * nd->bv[i * sb];
            nd->ca[0] += s;
        } else {
            for (size_t i = 0; i < n; i++)
                nd->ca[i] += g[i] * nd->bv[0];
        }
    }
}

ps_status ps_ad_fma(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv c, ps_adv *out)
{
    size_t rows = 0, cols = 0, r2 = 0, c2 = 0;
    PS_CHECK(broadcast_shape("fma", b, c, &rows, &cols));
    ps_adv shape = {NULL, NULL, rows, cols, false};
    PS_CHECK(broadcast_shape("fma", a, shape, &r2, &c2));
    if (rows * cols == 1) {
        rows = r2;
        cols = c2;
    }
    size_t n = rows * cols;
    size_t sa = ps_adv_size(a) == 1 ? 0 : 1, sb = ps_adv_size(b) == 1 ? 0 : 1,
           sc = ps_adv_size(c) == 1 ? 0 : 1;
    double *o = NULL;
    PS_CHECK(ad_result(tape, rows, cols, a.var || b.var || c.var, &o, out));
    if (sa && sb && sc) {
        for (size_t i = 0; i < n; i++)
            o[i] = a.v[i] + b.v[i] * c.v[i];
    } else {
        for (size_t i = 0; i < n; i++)
            o[i] = a.v[i * sa] + b.v[i * sb] * c.v[i * sc];
    }
    if (out->a == NULL || (a.a == NULL && b.a == NULL && c.a == NULL))
        return PS_OK;
    fma_node *nd;
    PS_CHECK(ad_push(tape, fma_back, sizeof *nd, (void **)&nd));
    *nd = (fma_node){n, sa, sb, sc, b.v, c.v, a.a, b.a, c.a, out->a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Unary functions
 * ------------------------------------------------------------------------------------- */

static const char *const unop_names[PS_AD_UNOP_COUNT_] = {"minus",
                                                          "exp",
                                                          "log",
                                                          "log1p",
                                                          "expm1",
                                                          "log1m",
                                                          "sqrt",
                                                          "cbrt",
                                                          "square",
                                                          "fabs",
                                                          "inv",
                                                          "inv_sqrt",
                                                          "inv_square",
                                                          "inv_logit",
                                                          "logit",
                                                          "log_inv_logit",
                                                          "log1m_inv_logit",
                                                          "log1p_exp",
                                                          "log1m_exp",
                                                          "lgamma",
                                                          "digamma",
                                                          "tgamma",
                                                          "Phi",
                                                          "Phi_approx",
                                                          "inv_Phi",
                                                          "erf",
                                                          "erfc",
                                                          "sin",
                                                          "cos",
                                                          "tan",
                                                          "asin",
                                                          "acos",
                                                          "atan",
                                                          "sinh",
                                                          "cosh",
                                                          "tanh",
                                                          "asinh",
                                                          "acosh",
                                                          "atanh",
                                                          "log2",
                                                          "log10",
                                                          "exp2",
                                                          "step",
                                                          "floor",
                                                          "ceil",
                                                          "round",
                                                          "trunc"};

const char *ps_ad_unop_name(ps_ad_unop op)
{
    return (unsigned)op < PS_AD_UNOP_COUNT_ ? unop_names[op] : "?";
}

bool ps_ad_unop_lookup(const char *name, ps_ad_unop *op)
{
    for (int i = 0; i < PS_AD_UNOP_COUNT_; i++) {
        if (strcmp(name, unop_names[i]) == 0) {
            *op = (ps_ad_unop)i;
            return true;
        }
    }
    if (strcmp(name, "abs") == 0) {
        *op = PS_AD_FABS;
        return true;
    }
    return false;
}

static double unop_value(int op, double x)
{
    switch (op) {
    case PS_AD_NEG:
        return -x;
    case PS_AD_EXP:
        return exp(x);
    case PS_AD_LOG:
        return log(x);
    case PS_AD_LOG1P:
        return log1p(x);
    case PS_AD_EXPM1:
        return expm1(x);
    case PS_AD_LOG1M:
        return ps_log1m(x);
    case PS_AD_SQRT:
        return sqrt(x);
    case PS_AD_CBRT:
        return cbrt(x);
    case PS_AD_SQUARE:
        return x * x;
    case PS_AD_FABS:
        return fabs(x);
    case PS_AD_INV:
        return 1.0 / x;
    case PS_AD_INV_SQRT:
        return 1.0 / sqrt(x);
    case PS_AD_INV_SQUARE:
        return 1.0 / (x * x);
    case PS_AD_INV_LOGIT:
        return ps_inv_logit(x);
    case PS_AD_LOGIT:
        return ps_logit(x);
    case PS_AD_LOG_INV_LOGIT:
        return ps_log_inv_logit(x);
    case PS_AD_LOG1M_INV_LOGIT:
        return ps_log1m_inv_logit(x);
    case PS_AD_LOG1P_EXP:
        return ps_log1p_exp(x);
    case PS_AD_LOG1M_EXP:
        return ps_log1m_exp(x);
    case PS_AD_LGAMMA:
        return ps_lgamma(x);
    case PS_AD_DIGAMMA:
        return ps_digamma(x);
    case PS_AD_TGAMMA:
        return tgamma(x);
    case PS_AD_PHI:
        return ps_Phi(x);
    case PS_AD_PHI_APPROX:
        return ps_Phi_approx(x);
    case PS_AD_INV_PHI:
        return ps_inv_Phi(x);
    case PS_AD_ERF:
        return erf(x);
    case PS_AD_ERFC:
        return erfc(x);
    case PS_AD_SIN:
        return sin(x);
    case PS_AD_COS:
        return cos(x);
    case PS_AD_TAN:
        return tan(x);
    case PS_AD_ASIN:
        return asin(x);
    case PS_AD_ACOS:
        return acos(x);
    case PS_AD_ATAN:
        return atan(x);
    case PS_AD_SINH:
        return sinh(x);
    case PS_AD_COSH:
        return cosh(x);
    case PS_AD_TANH:
        return tanh(x);
    case PS_AD_ASINH:
        return asinh(x);
    case PS_AD_ACOSH:
        return acosh(x);
    case PS_AD_ATANH:
        return atanh(x);
    case PS_AD_LOG2:
        return log2(x);
    case PS_AD_LOG10:
        return log10(x);
    case PS_AD_EXP2:
        return exp2(x);
    case PS_AD_STEP:
        return x < 0.0 ? 0.0 : 1.0;
    case PS_AD_FLOOR:
        return floor(x);
    case PS_AD_CEIL:
        return ceil(x);
    case PS_AD_ROUND:
        return round(x);
    case PS_AD_TRUNC:
        return trunc(x);
    default:
        return NAN;
    }
}

/* d f(x) / dx given x and y = f(x). */
static double unop_derivative(int op, double x, double y)
{
    switch (op) {
    case PS_AD_NEG:
        return -1.0;
    case PS_AD_EXP:
        return y;
    case PS_AD_LOG:
        return 1.0 / x;
    case PS_AD_LOG1P:
        return 1.0 / (1.0 + x);
    case PS_AD_EXPM1:
        return y + 1.0;
    case PS_AD_LOG1M:
        return -1.0 / (1.0 - x);
    case PS_AD_SQRT:
        return 0.5 / y;
    case PS_AD_CBRT:
        return 1.0 / (3.0 * y * y);
    case PS_AD_SQUARE:
        return 2.0 * x;
    case PS_AD_FABS:
        return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0);
    case PS_AD_INV:
        return -y * y;
    case PS_AD_INV_SQRT:
        return -0.5 * y / x;
    case PS_AD_INV_SQUARE:
        return -2.0 * y / x;
    case PS_AD_INV_LOGIT:
        return y * (1.0 - y);
    case PS_AD_LOGIT:
        return 1.0 / (x * (1.0 - x));
    case PS_AD_LOG_INV_LOGIT:
        return ps_inv_logit(-x);
    case PS_AD_LOG1M_INV_LOGIT:
        return -ps_inv_logit(x);
    case PS_AD_LOG1P_EXP:
        return ps_inv_logit(x);
    case PS_AD_LOG1M_EXP:
        return -1.0 / expm1(-x);
    case PS_AD_LGAMMA:
        return ps_digamma(x);
    case PS_AD_DIGAMMA:
        return ps_trigamma(x);
    case PS_AD_TGAMMA:
        return y * ps_digamma(x);
    case PS_AD_PHI:
        return PS_INV_SQRT_2PI * exp(-0.5 * x * x);
    case PS_AD_PHI_APPROX: {
        double t = y * (1.0 - y);
        return t * (3.0 * 0.07056 * x * x + 1.5976);
    }
    case PS_AD_INV_PHI:
        return PS_SQRT_2PI * exp(0.5 * y * y);
    case PS_AD_ERF:
        return 2.0 / sqrt(PS_PI) * exp(-x * x);
    case PS_AD_ERFC:
        return -2.0 / sqrt(PS_PI) * exp(-x * x);
    case PS_AD_SIN:
        return cos(x);
    case PS_AD_COS:
        return -sin(x);
    case PS_AD_TAN:
        return 1.0 + y * y;
    case PS_AD_ASIN:
        return 1.0 / sqrt(1.0 - x * x);
    case PS_AD_ACOS:
        return -1.0 / sqrt(1.0 - x * x);
    case PS_AD_ATAN:
        return 1.0 / (1.0 + x * x);
    case PS_AD_SINH:
        return cosh(x);
    case PS_AD_COSH:
        return sinh(x);
    case PS_AD_TANH:
        return 1.0 - y * y;
    case PS_AD_ASINH:
        return 1.0 / sqrt(x * x + 1.0);
    case PS_AD_ACOSH:
        return 1.0 / sqrt(x * x - 1.0);
    case PS_AD_ATANH:
        return 1.0 / (1.0 - x * x);
    case PS_AD_LOG2:
        return 1.0 / (x * PS_LOG_2);
    case PS_AD_LOG10:
        return 1.0 / (x * 2.30258509299404568401799145468436421);
    case PS_AD_EXP2:
        return y * PS_LOG_2;
    default:
        return 0.0;
    }
}

typedef struct un_node {
    int op;
    size_t n;
    const double *xv, *ov, *oa;
    double *xa;
} un_node;

static void un_back(void *p)
{
    un_node *nd = p;
    size_t n = nd->n;
    const double *g = nd->oa, *x = nd->xv, *y = nd->ov;
    double *xa = nd->xa;
    switch (nd->op) {
    case PS_AD_EXP:
        for (size_t i = 0; i < n; i++)
            xa[i] += g[i] * y[i];
        break;
    case PS_AD_LOG:
        for (size_t i = 0; i < n; i++)
            xa[i] += g[i] / x[i];
        break;
    case PS_AD_SQUARE:
        for (size_t i = 0; i < n; i++)
            xa[i] += 2.0 * g[i] * x[i];
        break;
    case PS_AD_NEG:
        for (size_t i = 0; i < n; i++)
            xa[i] -= g[i];
        break;
    default:
        for (size_t i = 0; i < n; i++)
            xa[i] += g[i] * unop_derivative(nd->op, x[i], y[i]);
    }
}

ps_status ps_ad_unary(ps_ad_tape *tape, ps_ad_unop op, ps_adv x, ps_adv *out)
{
    if ((unsigned)op >= PS_AD_UNOP_COUNT_)
        return ps_error(PS_ERR_INTERNAL, "unknown unary operation %d", (int)op);
    size_t n = ps_adv_size(x);
    double *o = NULL;
    bool var = x.var && op != PS_AD_STEP && op != PS_AD_FLOOR && op != PS_AD_CEIL &&
               op != PS_AD_ROUND && op != PS_AD_TRUNC;
    PS_CHECK(ad_result(tape, x.rows, x.cols, var, &o, out));
    switch (op) {
    case PS_AD_EXP:
        for (size_t i = 0; i < n; i++)
            o[i] = exp(x.v[i]);
        break;
    case PS_AD_LOG:
        for (size_t i = 0; i < n; i++)
            o[i] = log(x.v[i]);
        break;
    case PS_AD_SQUARE:
        for (size_t i = 0; i < n; i++)
            o[i] = x.v[i] * x.v[i];
        break;
    default:
        for (size_t i = 0; i < n; i++)
            o[i] = unop_value(op, x.v[i]);
    }
    if (out->a == NULL || x.a == NULL)
        return PS_OK;
    un_node *nd;
    PS_CHECK(ad_push(tape, un_back, sizeof *nd, (void **)&nd));
    *nd = (un_node){op, n, x.v, out->v, out->a, x.a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Reductions
 * ------------------------------------------------------------------------------------- */

/* out (scalar) with backward x.a[i] += g * (scale * x[i] + shift) for the linear-in-x
 * derivatives of sum (0, 1), mean (0, 1/n), dot_self (2, 0) and variance/sd (which store a
 * centered derivative instead). */
typedef struct red_node {
    size_t n;
    double scale, shift, center;
    const double *xv;
    double *xa;
    const double *oa;
} red_node;

static void red_back(void *p)
{
    red_node *nd = p;
    double g = nd->oa[0];
    size_t n = nd->n;
    double *xa = nd->xa;
    if (nd->scale == 0.0) {
        double d = g * nd->shift;
        for (size_t i = 0; i < n; i++)
            xa[i] += d;
    } else {
        double s = g * nd->scale, c = nd->center, t = g * nd->shift;
        const double *x = nd->xv;
        for (size_t i = 0; i < n; i++)
            xa[i] += s * (x[i] - c) + t;
    }
}

static ps_status reduce(ps_ad_tape *tape, ps_adv x, double value, double scale, double shift,
                        double center, ps_adv *out)
{
    double *o = NULL;
    PS_CHECK(ad_result(tape, 1, 1, x.var, &o, out));
    o[0] = value;
    if (out->a == NULL || x.a == NULL)
        return PS_OK;
    red_node *nd;
    PS_CHECK(ad_push(tape, red_back, sizeof *nd, (void **)&nd));
    *nd = (red_node){ps_adv_size(x), scale, shift, center, x.v, x.a, out->a};
    return PS_OK;
}

static double sum_of(const double *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

ps_status ps_ad_sum(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    return reduce(tape, x, sum_of(x.v, ps_adv_size(x)), 0.0, 1.0, 0.0, out);
}

ps_status ps_ad_mean(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    if (n == 0)
        return ps_error(PS_ERR_MODEL, "mean: the argument has no elements");
    return reduce(tape, x, sum_of(x.v, n) / (double)n, 0.0, 1.0 / (double)n, 0.0, out);
}

ps_status ps_ad_dot_self(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x.v[i] * x.v[i];
    return reduce(tape, x, s, 2.0, 0.0, 0.0, out);
}

ps_status ps_ad_variance(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    if (n < 2)
        return ps_error(PS_ERR_MODEL, "variance: the argument needs at least 2 elements, has %zu",
                        n);
    double m = sum_of(x.v, n) / (double)n, s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (x.v[i] - m) * (x.v[i] - m);
    double var = s / (double)(n - 1);
    /* d var / d x_i = 2 (x_i - mean) / (n - 1). */
    return reduce(tape, x, var, 2.0 / (double)(n - 1), 0.0, m, out);
}

ps_status ps_ad_sd(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    if (n < 2)
        return ps_error(PS_ERR_MODEL, "sd: the argument needs at least 2 elements, has %zu", n);
    double m = sum_of(x.v, n) / (double)n, s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (x.v[i] - m) * (x.v[i] - m);
    double sd = sqrt(s / (double)(n - 1));
    /* d sd / d x_i = (x_i - mean) / ((n - 1) sd); all zero when sd is 0 (Stan's choice). */
    double scale = sd > 0.0 ? 1.0 / ((double)(n - 1) * sd) : 0.0;
    if (scale == 0.0)
        return reduce(tape, x, sd, 0.0, 0.0, 0.0, out);
    return reduce(tape, x, sd, scale, 0.0, m, out);
}

typedef struct dot_node {
    size_t n;
    const double *av, *bv;
    double *aa, *ba;
    const double *oa;
} dot_node;

static void dot_back(void *p)
{
    dot_node *nd = p;
    double g = nd->oa[0];
    size_t n = nd->n;
    if (nd->aa != NULL)
        for (size_t i = 0; i < n; i++)
            nd->aa[i] += g * nd->bv[i];
    if (nd->ba != NULL)
        for (size_t i = 0; i < n; i++)
            nd->ba[i] += g * nd->av[i];
}

ps_status ps_ad_dot_product(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    size_t n = ps_adv_size(a);
    if (n != ps_adv_size(b))
        return ps_error(PS_ERR_MODEL, "dot_product: sizes differ (%zu and %zu)", n, ps_adv_size(b));
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a.v[i] * b.v[i];
    double *o = NULL;
    PS_CHECK(ad_result(tape, 1, 1, a.var || b.var, &o, out));
    o[0] = s;
    if (out->a == NULL || (a.a == NULL && b.a == NULL))
        return PS_OK;
    dot_node *nd;
    PS_CHECK(ad_push(tape, dot_back, sizeof *nd, (void **)&nd));
    *nd = (dot_node){n, a.v, b.v, a.a, b.a, out->a};
    return PS_OK;
}

ps_status ps_ad_squared_distance(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    size_t n = ps_adv_size(a);
    if (n != ps_adv_size(b))
        return ps_error(PS_ERR_MODEL, "squared_distance: sizes differ (%zu and %zu)", n,
                        ps_adv_size(b));
    ps_adv d;
    PS_CHECK(ps_ad_sub(tape, a, b, &d));
    return ps_ad_dot_self(tape, d, out);
}

/* A scalar result whose derivative with respect to x is stored per element (log_sum_exp,
 * max, min, prod). */
typedef struct stored_node {
    size_t n;
    const double *d;
    double *xa;
    const double *oa;
} stored_node;

static void stored_back(void *p)
{
    stored_node *nd = p;
    double g = nd->oa[0];
    for (size_t i = 0; i < nd->n; i++)
        nd->xa[i] += g * nd->d[i];
}

static ps_status stored_result(ps_ad_tape *tape, ps_adv x, double value, double **d, ps_adv *out)
{
    double *o = NULL;
    PS_CHECK(ad_result(tape, 1, 1, x.var, &o, out));
    o[0] = value;
    *d = NULL;
    if (out->a == NULL || x.a == NULL)
        return PS_OK;
    size_t n = ps_adv_size(x);
    PS_CHECK(ad_alloc(tape, n, d));
    stored_node *nd;
    PS_CHECK(ad_push(tape, stored_back, sizeof *nd, (void **)&nd));
    *nd = (stored_node){n, *d, x.a, out->a};
    return PS_OK;
}

ps_status ps_ad_log_sum_exp(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    double lse = ps_log_sum_exp_array(x.v, n), *d;
    PS_CHECK(stored_result(tape, x, lse, &d, out));
    if (d != NULL)
        for (size_t i = 0; i < n; i++)
            d[i] = isinf(lse) ? 0.0 : exp(x.v[i] - lse);
    return PS_OK;
}

static ps_status extreme(ps_ad_tape *tape, ps_adv x, bool want_max, ps_adv *out)
{
    size_t n = ps_adv_size(x), at = 0;
    double m = want_max ? -INFINITY : INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (want_max ? x.v[i] > m : x.v[i] < m) {
            m = x.v[i];
            at = i;
        }
    }
    if (n == 0)
        return ps_error(PS_ERR_MODEL, "%s: the argument has no elements", want_max ? "max" : "min");
    double *d = NULL;
    PS_CHECK(stored_result(tape, x, m, &d, out));
    if (d != NULL) {
        memset(d, 0, n * sizeof(double));
        d[at] = 1.0;
    }
    return PS_OK;
}

ps_status ps_ad_max(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    return extreme(tape, x, true, out);
}

ps_status ps_ad_min(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    return extreme(tape, x, false, out);
}

ps_status ps_ad_prod(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    double p = 1.0, *d;
    for (size_t i = 0; i < n; i++)
        p *= x.v[i];
    PS_CHECK(stored_result(tape, x, p, &d, out));
    if (d != NULL) {
        /* The product of the others, by prefix and suffix products (exact with zeros). */
        double prefix = 1.0;
        for (size_t i = 0; i < n; i++) {
            d[i] = prefix;
            prefix *= x.v[i];
        }
        double suffix = 1.0;
        for (size_t i = n; i-- > 0;) {
            d[i] *= suffix;
            suffix *= x.v[i];
        }
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Vector-valued functions: cumulative_sum, softmax, log_softmax
 * ------------------------------------------------------------------------------------- */

typedef struct vec_node {
    int kind;
    size_t n;
    const double *xv, *ov, *oa;
    double *xa;
} vec_node;

enum { VEC_CUMSUM, VEC_SOFTMAX, VEC_LOG_SOFTMAX };

static void vec_back(void *p)
{
    vec_node *nd = p;
    size_t n = nd->n;
    const double *g = nd->oa, *y = nd->ov;
    double *xa = nd->xa;
    switch (nd->kind) {
    case VEC_CUMSUM: {
        double s = 0.0;
        for (size_t i = n; i-- > 0;) {
            s += g[i];
            xa[i] += s;
        }
        break;
    }
    case VEC_SOFTMAX: {
        /* d y_j / d x_i = y_j (delta_ij - y_i). */
        double gy = 0.0;
        for (size_t j = 0; j < n; j++)
            gy += g[j] * y[j];
        for (size_t i = 0; i < n; i++)
            xa[i] += y[i] * (g[i] - gy);
        break;
    }
    case VEC_LOG_SOFTMAX: {
        /* d y_j / d x_i = delta_ij - softmax_i. */
        double gs = 0.0;
        for (size_t j = 0; j < n; j++)
            gs += g[j];
        for (size_t i = 0; i < n; i++)
            xa[i] += g[i] - exp(y[i]) * gs;
        break;
    }
    default:
        break;
    }
}

static ps_status vec_fn(ps_ad_tape *tape, int kind, ps_adv x, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    double *o = NULL;
    PS_CHECK(ad_result(tape, x.rows, x.cols, x.var, &o, out));
    if (kind == VEC_CUMSUM) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) {
            s += x.v[i];
            o[i] = s;
        }
    } else if (kind == VEC_SOFTMAX) {
        ps_softmax(x.v, n, o);
    } else {
        ps_log_softmax(x.v, n, o);
    }
    if (out->a == NULL || x.a == NULL)
        return PS_OK;
    vec_node *nd;
    PS_CHECK(ad_push(tape, vec_back, sizeof *nd, (void **)&nd));
    *nd = (vec_node){kind, n, x.v, out->v, out->a, x.a};
    return PS_OK;
}

ps_status ps_ad_cumulative_sum(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    return vec_fn(tape, VEC_CUMSUM, x, out);
}

ps_status ps_ad_softmax(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    if (ps_adv_size(x) == 0)
        return ps_error(PS_ERR_MODEL, "softmax: the argument has no elements");
    return vec_fn(tape, VEC_SOFTMAX, x, out);
}

ps_status ps_ad_log_softmax(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    if (ps_adv_size(x) == 0)
        return ps_error(PS_ERR_MODEL, "log_softmax: the argument has no elements");
    return vec_fn(tape, VEC_LOG_SOFTMAX, x, out);
}

/* ---------------------------------------------------------------------------------------
 * log_mix(theta, lambda1, lambda2), elementwise
 * ------------------------------------------------------------------------------------- */

typedef struct mix_node {
    size_t n, st, s1, s2;
    const double *tv, *l1v, *l2v, *ov, *oa;
    double *ta, *l1a, *l2a;
} mix_node;

static void mix_back(void *p)
{
    mix_node *nd = p;
    for (size_t i = 0; i < nd->n; i++) {
        double g = nd->oa[i], y = nd->ov[i];
        double t = nd->tv[i * nd->st], l1 = nd->l1v[i * nd->s1], l2 = nd->l2v[i * nd->s2];
        /* d/d theta = (e^l1 - e^l2) / e^y; d/d l1 = theta e^(l1 - y); d/d l2 likewise. */
        double e1 = exp(l1 - y), e2 = exp(l2 - y);
        if (nd->ta != NULL)
            nd->ta[i * nd->st] += g * (e1 - e2);
        if (nd->l1a != NULL)
            nd->l1a[i * nd->s1] += g * t * e1;
        if (nd->l2a != NULL)
            nd->l2a[i * nd->s2] += g * (1.0 - t) * e2;
    }
}

ps_status ps_ad_log_mix(ps_ad_tape *tape, ps_adv theta, ps_adv lambda1, ps_adv lambda2, ps_adv *out)
{
    size_t sizes[3] = {ps_adv_size(theta), ps_adv_size(lambda1), ps_adv_size(lambda2)}, n;
    PS_CHECK(ps_ad_broadcast_size("log_mix", sizes, 3, &n));
    size_t st = sizes[0] == 1 ? 0 : 1, s1 = sizes[1] == 1 ? 0 : 1, s2 = sizes[2] == 1 ? 0 : 1;
    for (size_t i = 0; i < n; i++) {
        double t = theta.v[i * st];
        if (!(t >= 0.0 && t <= 1.0))
            return ps_ad_domain_error(tape, "log_mix: mixing proportion is %g, must be in [0, 1]",
                                      t);
    }
    const ps_adv *shape = st ? &theta : (s1 ? &lambda1 : &lambda2);
    size_t rows = n == 1 ? 1 : shape->rows, cols = n == 1 ? 1 : shape->cols;
    double *o = NULL;
    PS_CHECK(ad_result(tape, rows, cols, theta.var || lambda1.var || lambda2.var, &o, out));
    for (size_t i = 0; i < n; i++)
        o[i] = ps_log_mix(theta.v[i * st], lambda1.v[i * s1], lambda2.v[i * s2]);
    if (out->a == NULL || (theta.a == NULL && lambda1.a == NULL && lambda2.a == NULL))
        return PS_OK;
    mix_node *nd;
    PS_CHECK(ad_push(tape, mix_back, sizeof *nd, (void **)&nd));
    *nd = (mix_node){n,         st,     s1,     s2,      theta.v,   lambda1.v,
                     lambda2.v, out->v, out->a, theta.a, lambda1.a, lambda2.a};
    return PS_OK;
}
