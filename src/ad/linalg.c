/*
 * Matrix operations with BLAS/LAPACK forward passes and matrix adjoints.
 *
 * The adjoint rules are the standard ones of matrix calculus (Giles 2008, "An extended
 * collection of matrix derivative results for forward and reverse mode AD"): for C = A B,
 * Abar += Cbar B^T and Bbar += A^T Cbar; for X = A^{-1} B, Bbar += A^{-T} Xbar and
 * Abar -= Bbar X^T; for Y = A^{-1}, Abar -= Y^T Ybar Y^T; for log|det A|, Abar += A^{-T};
 * and for the Cholesky factor Murray 2016 ("Differentiation of the Cholesky decomposition",
 * eq. 10): Abar = Phi(L^{-T} Phi(L^T Lbar) L^{-1}) symmetrised, where Phi keeps the lower
 * triangle and halves the diagonal.
 */
#include <math.h>
#include <string.h>

#include "ad/ad_impl.h"
#include "math/blas.h"

static const double ONE = 1.0, ZERO = 0.0, MINUS_ONE = -1.0;
static const int INC1 = 1;

static ps_status check_int(size_t n, const char *what)
{
    if (n > 2147483647u)
        return ps_error(PS_ERR_MODEL, "%s: dimension %zu is too large for BLAS", what, n);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Products
 * ------------------------------------------------------------------------------------- */

typedef struct mul_node {
    int m, n, k;
    const double *av, *bv;
    double *aa, *ba;
    const double *oa;
} mul_node;

static void mul_back(void *p)
{
    mul_node *nd = p;
    int m = nd->m, n = nd->n, k = nd->k;
    if (n == 1) {
        /* c = A b: Abar += cbar b^T, bbar += A^T cbar. */
        if (nd->aa != NULL)
            dger_(&m, &k, &ONE, nd->oa, &INC1, nd->bv, &INC1, nd->aa, &m);
        if (nd->ba != NULL)
            dgemv_("T", &m, &k, &ONE, nd->av, &m, nd->oa, &INC1, &ONE, nd->ba, &INC1, 1);
        return;
    }
    if (m == 1) {
        /* c = a B (row vector times matrix): abar += B cbar, Bbar += a^T cbar. */
        if (nd->aa != NULL)
            dgemv_("N", &k, &n, &ONE, nd->bv, &k, nd->oa, &INC1, &ONE, nd->aa, &INC1, 1);
        if (nd->ba != NULL)
            dger_(&k, &n, &ONE, nd->av, &INC1, nd->oa, &INC1, nd->ba, &k);
        return;
    }
    if (nd->aa != NULL)
        dgemm_("N", "T", &m, &k, &n, &ONE, nd->oa, &m, nd->bv, &k, &ONE, nd->aa, &m, 1, 1);
    if (nd->ba != NULL)
        dgemm_("T", "N", &k, &n, &m, &ONE, nd->av, &m, nd->oa, &m, &ONE, nd->ba, &k, 1, 1);
}

ps_status ps_ad_multiply(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    if (ps_adv_size(a) == 1 || ps_adv_size(b) == 1) {
        if (!(a.rows == 1 && a.cols == 1) && !(b.rows == 1 && b.cols == 1) && a.cols != b.rows)
            return ps_error(PS_ERR_MODEL, "multiply: %zu x %zu times %zu x %zu do not conform",
                            a.rows, a.cols, b.rows, b.cols);
        return ps_ad_mul(tape, a, b, out);
    }
    if (a.cols != b.rows)
        return ps_error(PS_ERR_MODEL, "multiply: %zu x %zu times %zu x %zu do not conform", a.rows,
                        a.cols, b.rows, b.cols);
    PS_CHECK(check_int(a.rows, "multiply"));
    PS_CHECK(check_int(a.cols, "multiply"));
    PS_CHECK(check_int(b.cols, "multiply"));
    int m = (int)a.rows, k = (int)a.cols, n = (int)b.cols;
    double *o = NULL;
    PS_CHECK(ad_result(tape, a.rows, b.cols, a.var || b.var, &o, out));
    if (m == 0 || n == 0) {
        return PS_OK;
    } else if (k == 0) {
        memset(o, 0, (size_t)m * (size_t)n * sizeof(double));
    } else if (n == 1) {
        dgemv_("N", &m, &k, &ONE, a.v, &m, b.v, &INC1, &ZERO, o, &INC1, 1);
    } else if (m == 1) {
        dgemv_("T", &k, &n, &ONE, b.v, &k, a.v, &INC1, &ZERO, o, &INC1, 1);
    } else {
        dgemm_("N", "N", &m, &n, &k, &ONE, a.v, &m, b.v, &k, &ZERO, o, &m, 1, 1);
    }
    if (out->a == NULL || (a.a == NULL && b.a == NULL) || k == 0)
        return PS_OK;
    mul_node *nd;
    PS_CHECK(ad_push(tape, mul_back, sizeof *nd, (void **)&nd));
    *nd = (mul_node){m, n, k, a.v, b.v, a.a, b.a, out->a};
    return PS_OK;
}

ps_status ps_ad_crossprod(ps_ad_tape *tape, ps_adv a, ps_adv *out)
{
    ps_adv at;
    PS_CHECK(ps_ad_transpose(tape, a, &at));
    return ps_ad_multiply(tape, at, a, out);
}

ps_status ps_ad_tcrossprod(ps_ad_tape *tape, ps_adv a, ps_adv *out)
{
    ps_adv at;
    PS_CHECK(ps_ad_transpose(tape, a, &at));
    return ps_ad_multiply(tape, a, at, out);
}

ps_status ps_ad_quad_form(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    if (a.rows != a.cols || a.cols != b.rows)
        return ps_error(PS_ERR_MODEL, "quad_form: %zu x %zu matrix and %zu x %zu argument", a.rows,
                        a.cols, b.rows, b.cols);
    ps_adv ab, bt;
    PS_CHECK(ps_ad_multiply(tape, a, b, &ab));
    if (b.cols == 1)
        return ps_ad_dot_product(tape, b, ab, out);
    PS_CHECK(ps_ad_transpose(tape, b, &bt));
    return ps_ad_multiply(tape, bt, ab, out);
}

/* ---------------------------------------------------------------------------------------
 * Diagonal forms
 * ------------------------------------------------------------------------------------- */

typedef struct diagmul_node {
    int post;
    size_t rows, cols;
    const double *vv, *mv;
    double *va, *ma;
    const double *oa;
} diagmul_node;

static void diagmul_back(void *p)
{
    diagmul_node *nd = p;
    for (size_t c = 0; c < nd->cols; c++) {
        for (size_t r = 0; r < nd->rows; r++) {
            size_t at = r + c * nd->rows, vi = nd->post ? c : r;
            double g = nd->oa[at];
            if (nd->va != NULL)
                nd->va[vi] += g * nd->mv[at];
            if (nd->ma != NULL)
                nd->ma[at] += g * nd->vv[vi];
        }
    }
}

static ps_status diag_mul(ps_ad_tape *tape, ps_adv v, ps_adv m, int post, ps_adv *out)
{
    size_t need = post ? m.cols : m.rows;
    if (ps_adv_size(v) != need)
        return ps_error(PS_ERR_MODEL, "%s: vector of %zu elements and a %zu x %zu matrix",
                        post ? "diag_post_multiply" : "diag_pre_multiply", ps_adv_size(v), m.rows,
                        m.cols);
    double *o = NULL;
    PS_CHECK(ad_result(tape, m.rows, m.cols, v.var || m.var, &o, out));
    for (size_t c = 0; c < m.cols; c++)
        for (size_t r = 0; r < m.rows; r++)
            o[r + c * m.rows] = m.v[r + c * m.rows] * v.v[post ? c : r];
    if (out->a == NULL || (v.a == NULL && m.a == NULL))
        return PS_OK;
    diagmul_node *nd;
    PS_CHECK(ad_push(tape, diagmul_back, sizeof *nd, (void **)&nd));
    *nd = (diagmul_node){post, m.rows, m.cols, v.v, m.v, v.a, m.a, out->a};
    return PS_OK;
}

ps_status ps_ad_diag_pre_multiply(ps_ad_tape *tape, ps_adv v, ps_adv m, ps_adv *out)
{
    return diag_mul(tape, v, m, 0, out);
}

ps_status ps_ad_diag_post_multiply(ps_ad_tape *tape, ps_adv m, ps_adv v, ps_adv *out)
{
    return diag_mul(tape, v, m, 1, out);
}

/* out[k * stride_o] relates to x[k * stride_x] for k < n, plus a full copy of m (add_diag). */
typedef struct diag_node {
    size_t n, so, sx, full;
    double *xa, *ma;
    const double *oa;
} diag_node;

static void diag_back(void *p)
{
    diag_node *nd = p;
    if (nd->xa != NULL)
        for (size_t k = 0; k < nd->n; k++)
            nd->xa[k * nd->sx] += nd->oa[k * nd->so];
    if (nd->ma != NULL)
        for (size_t i = 0; i < nd->full; i++)
            nd->ma[i] += nd->oa[i];
}

ps_status ps_ad_diag_matrix(ps_ad_tape *tape, ps_adv v, ps_adv *out)
{
    size_t n = ps_adv_size(v);
    double *o = NULL;
    PS_CHECK(ad_result(tape, n, n, v.var, &o, out));
    memset(o, 0, n * n * sizeof(double));
    for (size_t k = 0; k < n; k++)
        o[k * (n + 1)] = v.v[k];
    if (out->a == NULL || v.a == NULL)
        return PS_OK;
    diag_node *nd;
    PS_CHECK(ad_push(tape, diag_back, sizeof *nd, (void **)&nd));
    *nd = (diag_node){n, n + 1, 1, 0, v.a, NULL, out->a};
    return PS_OK;
}

ps_status ps_ad_diagonal(ps_ad_tape *tape, ps_adv m, ps_adv *out)
{
    size_t n = m.rows < m.cols ? m.rows : m.cols;
    double *o = NULL;
    PS_CHECK(ad_result(tape, n, 1, m.var, &o, out));
    for (size_t k = 0; k < n; k++)
        o[k] = m.v[k * (m.rows + 1)];
    if (out->a == NULL || m.a == NULL)
        return PS_OK;
    /* Backward: m.a[k (rows+1)] += o.a[k]; diag_node adds oa[k*so] to xa[k*sx], so swap
     * roles by pointing "x" at m with stride rows+1 and "o" with stride 1. */
    diag_node *nd;
    PS_CHECK(ad_push(tape, diag_back, sizeof *nd, (void **)&nd));
    *nd = (diag_node){n, 1, m.rows + 1, 0, m.a, NULL, out->a};
    return PS_OK;
}

ps_status ps_ad_add_diag(ps_ad_tape *tape, ps_adv m, ps_adv d, ps_adv *out)
{
    size_t n = m.rows < m.cols ? m.rows : m.cols, nd_size = ps_adv_size(d);
    if (nd_size != 1 && nd_size != n)
        return ps_error(PS_ERR_MODEL, "add_diag: %zu values for a diagonal of %zu", nd_size, n);
    double *o = NULL;
    PS_CHECK(ad_result(tape, m.rows, m.cols, m.var || d.var, &o, out));
    size_t total = ps_adv_size(m), sd = nd_size == 1 ? 0 : 1;
    memcpy(o, m.v, total * sizeof(double));
    for (size_t k = 0; k < n; k++)
        o[k * (m.rows + 1)] += d.v[k * sd];
    if (out->a == NULL || (m.a == NULL && d.a == NULL))
        return PS_OK;
    diag_node *nd;
    PS_CHECK(ad_push(tape, diag_back, sizeof *nd, (void **)&nd));
    *nd = (diag_node){n, m.rows + 1, sd, total, d.a, m.a, out->a};
    return PS_OK;
}

ps_status ps_ad_trace(ps_ad_tape *tape, ps_adv a, ps_adv *out)
{
    ps_adv d;
    PS_CHECK(ps_ad_diagonal(tape, a, &d));
    return ps_ad_sum(tape, d, out);
}

/* ---------------------------------------------------------------------------------------
 * Triangular solves
 * ------------------------------------------------------------------------------------- */

typedef struct trisolve_node {
    int right; /* 0: X = L^{-1} B (n x k); 1: X = B L^{-1} (k x n) */
    int n, k;
    const double *lv, *xv;
    double *la, *ba;
    const double *xa;
    double *work; /* n * k doubles */
} trisolve_node;

static void trisolve_back(void *p)
{
    trisolve_node *nd = p;
    int n = nd->n, k = nd->k;
    size_t total = (size_t)n * (size_t)k;
    double *t = nd->work;
    memcpy(t, nd->xa, total * sizeof(double));
    if (!nd->right) {
        /* Bbar_contrib = L^{-T} Xbar; Lbar -= tril(Bbar_contrib X^T). */
        dtrsm_("L", "L", "T", "N", &n, &k, &ONE, nd->lv, &n, t, &n, 1, 1, 1, 1);
        if (nd->ba != NULL)
            for (size_t i = 0; i < total; i++)
                nd->ba[i] += t[i];
        if (nd->la != NULL)
            for (int c = 0; c < n; c++)
                for (int r = c; r < n; r++) {
                    double s = 0.0;
                    for (int j = 0; j < k; j++)
                        s += t[r + (size_t)j * n] * nd->xv[c + (size_t)j * n];
                    nd->la[r + (size_t)c * n] -= s;
                }
    } else {
        /* X = B L^{-1}: Bbar_contrib = Xbar L^{-T}; Lbar -= tril(X^T Bbar_contrib). */
        dtrsm_("R", "L", "T", "N", &k, &n, &ONE, nd->lv, &n, t, &k, 1, 1, 1, 1);
        if (nd->ba != NULL)
            for (size_t i = 0; i < total; i++)
                nd->ba[i] += t[i];
        if (nd->la != NULL)
            for (int c = 0; c < n; c++)
                for (int r = c; r < n; r++) {
                    double s = 0.0;
                    for (int j = 0; j < k; j++)
                        s += nd->xv[j + (size_t)r * k] * t[j + (size_t)c * k];
                    nd->la[r + (size_t)c * n] -= s;
                }
    }
}

static ps_status check_tri(ps_ad_tape *tape, ps_adv l, const char *what)
{
    for (size_t i = 0; i < l.rows; i++)
        if (l.v[i * (l.rows + 1)] == 0.0)
            return ps_ad_domain_error(tape,
                                      "%s: the triangular matrix has a zero on its diagonal "
                                      "(row %zu)",
                                      what, i + 1);
    return PS_OK;
}

static ps_status trisolve(ps_ad_tape *tape, ps_adv l, ps_adv b, int right, ps_adv *out)
{
    const char *what = right ? "mdivide_right_tri_low" : "mdivide_left_tri_low";
    size_t bn = right ? b.cols : b.rows;
    if (l.rows != l.cols || l.rows != bn)
        return ps_error(PS_ERR_MODEL, "%s: %zu x %zu triangular matrix and %zu x %zu argument",
                        what, l.rows, l.cols, b.rows, b.cols);
    PS_CHECK(check_int(ps_adv_size(b), what));
    PS_CHECK(check_tri(tape, l, what));
    int n = (int)l.rows, k = (int)(right ? b.rows : b.cols);
    double *o = NULL;
    PS_CHECK(ad_result(tape, b.rows, b.cols, l.var || b.var, &o, out));
    memcpy(o, b.v, ps_adv_size(b) * sizeof(double));
    if (n == 0 || k == 0)
        return PS_OK;
    if (!right && k == 1)
        dtrsv_("L", "N", "N", &n, l.v, &n, o, &INC1, 1, 1, 1);
    else if (!right)
        dtrsm_("L", "L", "N", "N", &n, &k, &ONE, l.v, &n, o, &n, 1, 1, 1, 1);
    else
        dtrsm_("R", "L", "N", "N", &k, &n, &ONE, l.v, &n, o, &k, 1, 1, 1, 1);
    if (out->a == NULL || (l.a == NULL && b.a == NULL))
        return PS_OK;
    double *work;
    PS_CHECK(ad_alloc(tape, ps_adv_size(b), &work));
    trisolve_node *nd;
    PS_CHECK(ad_push(tape, trisolve_back, sizeof *nd, (void **)&nd));
    *nd = (trisolve_node){right, n, k, l.v, out->v, l.a, b.a, out->a, work};
    return PS_OK;
}

ps_status ps_ad_mdivide_left_tri_low(ps_ad_tape *tape, ps_adv l, ps_adv b, ps_adv *out)
{
    return trisolve(tape, l, b, 0, out);
}

ps_status ps_ad_mdivide_right_tri_low(ps_ad_tape *tape, ps_adv b, ps_adv l, ps_adv *out)
{
    return trisolve(tape, l, b, 1, out);
}

/* ---------------------------------------------------------------------------------------
 * LU-based: mdivide_left, inverse, log_determinant
 * ------------------------------------------------------------------------------------- */

/* LU factors of a (n x n) into lu with pivots; PS_ERR_NUMERIC when singular. */
static ps_status lu_factor(ps_ad_tape *tape, ps_adv a, const char *what, double **lu, int **ipiv)
{
    if (a.rows != a.cols)
        return ps_error(PS_ERR_MODEL, "%s: the matrix is %zu x %zu, expected square", what, a.rows,
                        a.cols);
    PS_CHECK(check_int(a.rows, what));
    int n = (int)a.rows, info = 0;
    size_t nn = a.rows * a.rows;
    double *piv = NULL;
    PS_CHECK(ad_alloc(tape, nn, lu));
    PS_CHECK(ad_alloc(tape, (a.rows * sizeof(int) + sizeof(double) - 1) / sizeof(double), &piv));
    *ipiv = (int *)(void *)piv;
    memcpy(*lu, a.v, nn * sizeof(double));
    if (n > 0)
        dgetrf_(&n, &n, *lu, &n, *ipiv, &info);
    if (info > 0)
        return ps_ad_domain_error(tape, "%s: the matrix is singular", what);
    if (info < 0)
        return ps_error(PS_ERR_INTERNAL, "dgetrf: argument %d is invalid", -info);
    return PS_OK;
}

typedef struct lusolve_node {
    int n, k;
    const double *lu;
    const int *ipiv;
    const double *xv;
    double *aa, *ba;
    const double *xa;
    double *work;
} lusolve_node;

static void lusolve_back(void *p)
{
    lusolve_node *nd = p;
    int n = nd->n, k = nd->k, info;
    size_t total = (size_t)n * (size_t)k;
    memcpy(nd->work, nd->xa, total * sizeof(double));
    dgetrs_("T", &n, &k, nd->lu, &n, nd->ipiv, nd->work, &n, &info, 1);
    if (nd->ba != NULL)
        for (size_t i = 0; i < total; i++)
            nd->ba[i] += nd->work[i];
    if (nd->aa != NULL)
        dgemm_("N", "T", &n, &n, &k, &MINUS_ONE, nd->work, &n, nd->xv, &n, &ONE, nd->aa, &n, 1, 1);
}

ps_status ps_ad_mdivide_left(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    if (b.rows != a.rows)
        return ps_error(PS_ERR_MODEL, "mdivide_left: %zu x %zu matrix and %zu x %zu argument",
                        a.rows, a.cols, b.rows, b.cols);
    double *lu = NULL;
    int *ipiv = NULL;
    PS_CHECK(lu_factor(tape, a, "mdivide_left", &lu, &ipiv));
    PS_CHECK(check_int(b.cols, "mdivide_left"));
    int n = (int)a.rows, k = (int)b.cols, info = 0;
    double *o = NULL;
    PS_CHECK(ad_result(tape, b.rows, b.cols, a.var || b.var, &o, out));
    memcpy(o, b.v, ps_adv_size(b) * sizeof(double));
    if (n > 0 && k > 0)
        dgetrs_("N", &n, &k, lu, &n, ipiv, o, &n, &info, 1);
    if (out->a == NULL || (a.a == NULL && b.a == NULL))
        return PS_OK;
    double *work;
    PS_CHECK(ad_alloc(tape, ps_adv_size(b), &work));
    lusolve_node *nd;
    PS_CHECK(ad_push(tape, lusolve_back, sizeof *nd, (void **)&nd));
    *nd = (lusolve_node){n, k, lu, ipiv, out->v, a.a, b.a, out->a, work};
    return PS_OK;
}

typedef struct inverse_node {
    int n;
    const double *yv;
    double *aa;
    const double *ya;
    double *work;
} inverse_node;

static void inverse_back(void *p)
{
    /* Abar -= Y^T Ybar Y^T. */
    inverse_node *nd = p;
    int n = nd->n;
    dgemm_("T", "N", &n, &n, &n, &ONE, nd->yv, &n, nd->ya, &n, &ZERO, nd->work, &n, 1, 1);
    dgemm_("N", "T", &n, &n, &n, &MINUS_ONE, nd->work, &n, nd->yv, &n, &ONE, nd->aa, &n, 1, 1);
}

/* The inverse of a square matrix from its LU factors, into y (n x n). */
static ps_status lu_inverse(ps_ad_tape *tape, int n, double *lu, const int *ipiv, double *y)
{
    size_t nn = (size_t)n * (size_t)n;
    memset(y, 0, nn * sizeof(double));
    for (int i = 0; i < n; i++)
        y[(size_t)i * (size_t)n + (size_t)i] = 1.0;
    int info = 0;
    if (n > 0)
        dgetrs_("N", &n, &n, lu, &n, ipiv, y, &n, &info, 1);
    (void)tape;
    return PS_OK;
}

ps_status ps_ad_inverse(ps_ad_tape *tape, ps_adv a, ps_adv *out)
{
    double *lu = NULL;
    int *ipiv = NULL;
    PS_CHECK(lu_factor(tape, a, "inverse", &lu, &ipiv));
    int n = (int)a.rows;
    double *o = NULL;
    PS_CHECK(ad_result(tape, a.rows, a.cols, a.var, &o, out));
    PS_CHECK(lu_inverse(tape, n, lu, ipiv, o));
    if (out->a == NULL || a.a == NULL)
        return PS_OK;
    double *work;
    PS_CHECK(ad_alloc(tape, ps_adv_size(a), &work));
    inverse_node *nd;
    PS_CHECK(ad_push(tape, inverse_back, sizeof *nd, (void **)&nd));
    *nd = (inverse_node){n, out->v, a.a, out->a, work};
    return PS_OK;
}

typedef struct logdet_node {
    size_t n;
    const double *inv; /* A^{-1} */
    double *aa;
    const double *oa;
} logdet_node;

static void logdet_back(void *p)
{
    logdet_node *nd = p;
    double g = nd->oa[0];
    size_t n = nd->n;
    for (size_t c = 0; c < n; c++)
        for (size_t r = 0; r < n; r++)
            nd->aa[r + c * n] += g * nd->inv[c + r * n];
}

ps_status ps_ad_log_determinant(ps_ad_tape *tape, ps_adv a, ps_adv *out)
{
    double *lu = NULL;
    int *ipiv = NULL;
    PS_CHECK(lu_factor(tape, a, "log_determinant", &lu, &ipiv));
    size_t n = a.rows;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += log(fabs(lu[i * (n + 1)]));
    double *o = NULL;
    PS_CHECK(ad_result(tape, 1, 1, a.var, &o, out));
    o[0] = s;
    if (out->a == NULL || a.a == NULL)
        return PS_OK;
    double *inv = NULL;
    PS_CHECK(ad_alloc(tape, n * n, &inv));
    PS_CHECK(lu_inverse(tape, (int)n, lu, ipiv, inv));
    logdet_node *nd;
    PS_CHECK(ad_push(tape, logdet_back, sizeof *nd, (void **)&nd));
    *nd = (logdet_node){n, inv, a.a, out->a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Cholesky
 * ------------------------------------------------------------------------------------- */

typedef struct chol_node {
    int n;
    const double *lv;
    double *aa;
    const double *la;
    double *work;
} chol_node;

static void chol_back(void *p)
{
    chol_node *nd = p;
    int n = nd->n;
    size_t sn = (size_t)n;
    double *m = nd->work;
    /* M = L^T tril(Lbar). */
    for (size_t c = 0; c < sn; c++)
        for (size_t r = 0; r < sn; r++)
            m[r + c * sn] = r >= c ? nd->la[r + c * sn] : 0.0;
    dtrmm_("L", "L", "T", "N", &n, &n, &ONE, nd->lv, &n, m, &n, 1, 1, 1, 1);
    /* P = Phi(M): lower triangle, diagonal halved. */
    for (size_t c = 0; c < sn; c++) {
        for (size_t r = 0; r < c; r++)
            m[r + c * sn] = 0.0;
        m[c + c * sn] *= 0.5;
    }
    /* S = L^{-T} P L^{-1}. */
    dtrsm_("L", "L", "T", "N", &n, &n, &ONE, nd->lv, &n, m, &n, 1, 1, 1, 1);
    dtrsm_("R", "L", "N", "N", &n, &n, &ONE, nd->lv, &n, m, &n, 1, 1, 1, 1);
    /* Abar += (S + S^T) / 2. */
    for (size_t c = 0; c < sn; c++)
        for (size_t r = 0; r < sn; r++)
            nd->aa[r + c * sn] += 0.5 * (m[r + c * sn] + m[c + r * sn]);
}

ps_status ps_ad_cholesky_decompose(ps_ad_tape *tape, ps_adv a, ps_adv *out)
{
    if (a.rows != a.cols)
        return ps_error(PS_ERR_MODEL,
                        "cholesky_decompose: the matrix is %zu x %zu, expected square", a.rows,
                        a.cols);
    PS_CHECK(check_int(a.rows, "cholesky_decompose"));
    size_t n = a.rows;
    for (size_t c = 0; c < n; c++)
        for (size_t r = c + 1; r < n; r++) {
            double x = a.v[r + c * n], y = a.v[c + r * n];
            if (!(fabs(x - y) <= 1e-8 * fmax(fabs(x), fabs(y))) && x != y)
                return ps_ad_domain_error(tape,
                                          "cholesky_decompose: the matrix is not symmetric "
                                          "(element [%zu,%zu] = %g, [%zu,%zu] = %g)",
                                          r + 1, c + 1, x, c + 1, r + 1, y);
        }
    double *o = NULL;
    PS_CHECK(ad_result(tape, n, n, a.var, &o, out));
    memcpy(o, a.v, n * n * sizeof(double));
    int in = (int)n, info = 0;
    if (n > 0)
        dpotrf_("L", &in, o, &in, &info, 1);
    if (info != 0)
        return ps_ad_domain_error(tape, "cholesky_decompose: the matrix is not positive definite");
    for (size_t c = 0; c < n; c++)
        for (size_t r = 0; r < c; r++)
            o[r + c * n] = 0.0;
    if (out->a == NULL || a.a == NULL)
        return PS_OK;
    double *work;
    PS_CHECK(ad_alloc(tape, n * n, &work));
    chol_node *nd;
    PS_CHECK(ad_push(tape, chol_back, sizeof *nd, (void **)&nd));
    *nd = (chol_node){in, out->v, a.a, out->a, work};
    return PS_OK;
}
