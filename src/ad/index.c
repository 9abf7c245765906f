/*
 * Building, reshaping and indexing containers.
 *
 * Contiguous parts (an element, a segment, a column) alias the operand: the result's value
 * and adjoint pointers point into the operand's storage, so no copy and no node are
 * needed and the adjoint flows to the operand by construction. Everything else copies and
 * pushes a node that adds the adjoints back (gather forward, scatter-add backward).
 */
#include <string.h>

#include "ad/ad_impl.h"

ps_status ps_ad_reshape(ps_adv x, size_t rows, size_t cols, ps_adv *out)
{
    if (rows * cols != ps_adv_size(x))
        return ps_error(PS_ERR_MODEL, "cannot view %zu x %zu elements as %zu x %zu", x.rows, x.cols,
                        rows, cols);
    *out = x;
    out->rows = rows;
    out->cols = cols;
    return PS_OK;
}

static ps_adv alias(ps_adv x, size_t offset, size_t rows, size_t cols)
{
    ps_adv y = {x.v + offset, x.a ? x.a + offset : NULL, rows, cols, x.var};
    return y;
}

ps_status ps_ad_elem(ps_adv x, long i, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    if (i < 1 || (size_t)i > n)
        return ps_error(PS_ERR_MODEL, "index %ld out of range; expecting an index in 1..%zu", i, n);
    *out = alias(x, (size_t)(i - 1), 1, 1);
    return PS_OK;
}

ps_status ps_ad_elem2(ps_adv x, long i, long j, ps_adv *out)
{
    if (i < 1 || (size_t)i > x.rows)
        return ps_error(PS_ERR_MODEL, "row index %ld out of range; expecting an index in 1..%zu", i,
                        x.rows);
    if (j < 1 || (size_t)j > x.cols)
        return ps_error(PS_ERR_MODEL, "column index %ld out of range; expecting an index in 1..%zu",
                        j, x.cols);
    *out = alias(x, (size_t)(j - 1) * x.rows + (size_t)(i - 1), 1, 1);
    return PS_OK;
}

ps_status ps_ad_segment(ps_adv x, long start, size_t len, ps_adv *out)
{
    size_t n = ps_adv_size(x);
    if (start < 1 || (size_t)start - 1 > n || len > n - ((size_t)start - 1))
        return ps_error(PS_ERR_MODEL,
                        "segment of %zu elements from index %ld is out of range of a container "
                        "of %zu elements",
                        len, start, n);
    bool row = x.rows == 1 && x.cols != 1;
    *out = alias(x, (size_t)(start - 1), row ? 1 : len, row ? len : 1);
    return PS_OK;
}

ps_status ps_ad_head(ps_adv x, size_t n, ps_adv *out)
{
    return ps_ad_segment(x, 1, n, out);
}

ps_status ps_ad_tail(ps_adv x, size_t n, ps_adv *out)
{
    size_t size = ps_adv_size(x);
    if (n > size)
        return ps_error(PS_ERR_MODEL, "tail of %zu elements of a container of %zu elements", n,
                        size);
    return ps_ad_segment(x, (long)(size - n) + 1, n, out);
}

ps_status ps_ad_col(ps_adv m, long j, ps_adv *out)
{
    if (j < 1 || (size_t)j > m.cols)
        return ps_error(PS_ERR_MODEL, "column index %ld out of range; expecting an index in 1..%zu",
                        j, m.cols);
    *out = alias(m, (size_t)(j - 1) * m.rows, m.rows, 1);
    return PS_OK;
}

/* A strided copy: out[r + c*out_rows] = x[(i0 + r) + (j0 + c) * x.rows]. */
typedef struct block_node {
    size_t i0, j0, rows, cols, ld;
    double *xa;
    const double *oa;
} block_node;

static void block_back(void *p)
{
    block_node *nd = p;
    for (size_t c = 0; c < nd->cols; c++)
        for (size_t r = 0; r < nd->rows; r++)
            nd->xa[(nd->i0 + r) + (nd->j0 + c) * nd->ld] += nd->oa[r + c * nd->rows];
}

ps_status ps_ad_block(ps_ad_tape *tape, ps_adv m, long i, long j, size_t nrows, size_t ncols,
                      ps_adv *out)
{
    if (i < 1 || j < 1 || (size_t)i - 1 + nrows > m.rows || (size_t)j - 1 + ncols > m.cols)
        return ps_error(PS_ERR_MODEL,
                        "block of %zu x %zu at (%ld, %ld) is out of range of a %zu x %zu matrix",
                        nrows, ncols, i, j, m.rows, m.cols);
    size_t i0 = (size_t)(i - 1), j0 = (size_t)(j - 1);
    double *o = NULL;
    PS_CHECK(ad_result(tape, nrows, ncols, m.var, &o, out));
    for (size_t c = 0; c < ncols; c++)
        for (size_t r = 0; r < nrows; r++)
            o[r + c * nrows] = m.v[(i0 + r) + (j0 + c) * m.rows];
    if (out->a == NULL || m.a == NULL)
        return PS_OK;
    block_node *nd;
    PS_CHECK(ad_push(tape, block_back, sizeof *nd, (void **)&nd));
    *nd = (block_node){i0, j0, nrows, ncols, m.rows, m.a, out->a};
    return PS_OK;
}

ps_status ps_ad_row(ps_ad_tape *tape, ps_adv m, long i, ps_adv *out)
{
    if (i < 1 || (size_t)i > m.rows)
        return ps_error(PS_ERR_MODEL, "row index %ld out of range; expecting an index in 1..%zu", i,
                        m.rows);
    return ps_ad_block(tape, m, i, 1, 1, m.cols, out);
}

typedef struct transpose_node {
    size_t rows, cols; /* of x */
    double *xa;
    const double *oa;
} transpose_node;

static void transpose_back(void *p)
{
    transpose_node *nd = p;
    for (size_t c = 0; c < nd->cols; c++)
        for (size_t r = 0; r < nd->rows; r++)
            nd->xa[r + c * nd->rows] += nd->oa[c + r * nd->cols];
}

ps_status ps_ad_transpose(ps_ad_tape *tape, ps_adv x, ps_adv *out)
{
    if (x.rows == 1 || x.cols == 1)
        return ps_ad_reshape(x, x.cols, x.rows, out);
    double *o = NULL;
    PS_CHECK(ad_result(tape, x.cols, x.rows, x.var, &o, out));
    for (size_t c = 0; c < x.cols; c++)
        for (size_t r = 0; r < x.rows; r++)
            o[c + r * x.cols] = x.v[r + c * x.rows];
    if (out->a == NULL || x.a == NULL)
        return PS_OK;
    transpose_node *nd;
    PS_CHECK(ad_push(tape, transpose_back, sizeof *nd, (void **)&nd));
    *nd = (transpose_node){x.rows, x.cols, x.a, out->a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Gather and copies with an index map
 * ------------------------------------------------------------------------------------- */

/* out[k + c*K] += ... : adjoint of rows idx[k] (1-based) of an R x C x, K gathered rows. */
typedef struct gather_node {
    const int *idx;
    size_t k, rows, cols;
    double *xa;
    const double *oa;
} gather_node;

static void gather_back(void *p)
{
    gather_node *nd = p;
    size_t k = nd->k;
    const int *idx = nd->idx;
    for (size_t c = 0; c < nd->cols; c++) {
        double *xa = nd->xa + c * nd->rows - 1;
        const double *g = nd->oa + c * k;
        for (size_t i = 0; i < k; i++)
            xa[idx[i]] += g[i];
    }
}

ps_status ps_ad_gather(ps_ad_tape *tape, ps_adv x, ps_adi idx, ps_adv *out)
{
    bool matrix = x.cols > 1 && x.rows > 1;
    bool row_vector = x.rows == 1 && x.cols != 1;
    size_t len = matrix ? x.rows : ps_adv_size(x);
    size_t cols = matrix ? x.cols : 1;
    double *o = NULL;
    size_t orows = row_vector ? 1 : idx.n, ocols = row_vector ? idx.n : cols;
    PS_CHECK(ad_result(tape, orows, ocols, x.var, &o, out));
    /* The range check rides along with the first column's copy (one pass); an index out
     * of range is looked for only when the check failed. Indices are read as unsigned
     * offsets, so 0 and negatives wrap to huge values and fail the same comparison. */
    unsigned bad = len == 0 && idx.n > 0;
    if (!bad) {
        const double *xv = x.v - 1;
        for (size_t i = 0; i < idx.n; i++) {
            unsigned k = (unsigned)idx.v[i];
            bad |= (unsigned)(k - 1u >= (unsigned)len);
            o[i] = xv[bad ? 1 : k];
        }
    }
    if (bad || len > 0xffffffffu) {
        for (size_t i = 0; i < idx.n; i++)
            if (idx.v[i] < 1 || (size_t)idx.v[i] > len)
                return ps_error(PS_ERR_MODEL,
                                "index %d (at position %zu of the index array) out of range; "
                                "expecting an index in 1..%zu",
                                idx.v[i], i + 1, len);
        for (size_t i = 0; i < idx.n; i++) /* only reached for len >= 2^32 */
            o[i] = x.v[idx.v[i] - 1];
    }
    for (size_t c = 1; c < cols; c++) {
        const double *xv = x.v + c * len - 1;
        double *oc = o + c * idx.n;
        for (size_t i = 0; i < idx.n; i++)
            oc[i] = xv[idx.v[i]];
    }
    if (out->a == NULL || x.a == NULL)
        return PS_OK;
    gather_node *nd;
    PS_CHECK(ad_push(tape, gather_back, sizeof *nd, (void **)&nd));
    *nd = (gather_node){idx.v, idx.n, len, cols, x.a, out->a};
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Building containers
 * ------------------------------------------------------------------------------------- */

typedef struct rep_node {
    size_t n;
    double *xa;
    const double *oa;
} rep_node;

static void rep_back(void *p)
{
    rep_node *nd = p;
    double s = 0.0;
    for (size_t i = 0; i < nd->n; i++)
        s += nd->oa[i];
    nd->xa[0] += s;
}

ps_status ps_ad_rep(ps_ad_tape *tape, ps_adv x, size_t rows, size_t cols, ps_adv *out)
{
    if (ps_adv_size(x) != 1)
        return ps_error(PS_ERR_MODEL, "rep: the value to repeat must be a scalar, has %zu elements",
                        ps_adv_size(x));
    double *o = NULL;
    PS_CHECK(ad_result(tape, rows, cols, x.var, &o, out));
    size_t n = rows * cols;
    for (size_t i = 0; i < n; i++)
        o[i] = x.v[0];
    if (out->a == NULL || x.a == NULL)
        return PS_OK;
    rep_node *nd;
    PS_CHECK(ad_push(tape, rep_back, sizeof *nd, (void **)&nd));
    *nd = (rep_node){n, x.a, out->a};
    return PS_OK;
}

typedef struct scalars_node {
    size_t n;
    const double *oa;
    double *adj[]; /* n adjoint pointers, NULL for constants */
} scalars_node;

static void scalars_back(void *p)
{
    scalars_node *nd = p;
    for (size_t i = 0; i < nd->n; i++)
        if (nd->adj[i] != NULL)
            nd->adj[i][0] += nd->oa[i];
}

ps_status ps_ad_from_scalars(ps_ad_tape *tape, const ps_adv *elems, size_t rows, size_t cols,
                             ps_adv *out)
{
    size_t n = rows * cols;
    bool var = false, adj = false;
    for (size_t i = 0; i < n; i++) {
        if (ps_adv_size(elems[i]) != 1)
            return ps_error(PS_ERR_MODEL, "element %zu of a container is not a scalar", i + 1);
        var = var || elems[i].var;
        adj = adj || elems[i].a != NULL;
    }
    double *o = NULL;
    PS_CHECK(ad_result(tape, rows, cols, var, &o, out));
    for (size_t i = 0; i < n; i++)
        o[i] = elems[i].v[0];
    if (out->a == NULL || !adj)
        return PS_OK;
    scalars_node *nd;
    PS_CHECK(ad_push(tape, scalars_back, sizeof *nd + n * sizeof(double *), (void **)&nd));
    nd->n = n;
    nd->oa = out->a;
    for (size_t i = 0; i < n; i++)
        nd->adj[i] = elems[i].a;
    return PS_OK;
}

/* out = [a; b] in memory order pieces: copies of contiguous runs. */
typedef struct append_node {
    size_t cols, ra, rb; /* append_row: per column ra rows of a then rb rows of b */
    double *aa, *ba;
    const double *oa;
} append_node;

static void append_back(void *p)
{
    append_node *nd = p;
    size_t r = nd->ra + nd->rb;
    for (size_t c = 0; c < nd->cols; c++) {
        const double *g = nd->oa + c * r;
        if (nd->aa != NULL)
            for (size_t i = 0; i < nd->ra; i++)
                nd->aa[c * nd->ra + i] += g[i];
        if (nd->ba != NULL)
            for (size_t i = 0; i < nd->rb; i++)
                nd->ba[c * nd->rb + i] += g[nd->ra + i];
    }
}

static ps_status append(ps_ad_tape *tape, ps_adv a, ps_adv b, size_t cols, size_t ra, size_t rb,
                        size_t out_rows, size_t out_cols, ps_adv *out)
{
    double *o = NULL;
    PS_CHECK(ad_result(tape, out_rows, out_cols, a.var || b.var, &o, out));
    size_t r = ra + rb;
    for (size_t c = 0; c < cols; c++) {
        memcpy(o + c * r, a.v + c * ra, ra * sizeof(double));
        memcpy(o + c * r + ra, b.v + c * rb, rb * sizeof(double));
    }
    if (out->a == NULL || (a.a == NULL && b.a == NULL))
        return PS_OK;
    append_node *nd;
    PS_CHECK(ad_push(tape, append_back, sizeof *nd, (void **)&nd));
    *nd = (append_node){cols, ra, rb, a.a, b.a, out->a};
    return PS_OK;
}

ps_status ps_ad_append_row(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    if (a.cols != b.cols)
        return ps_error(PS_ERR_MODEL, "append_row: %zu and %zu columns", a.cols, b.cols);
    return append(tape, a, b, a.cols, a.rows, b.rows, a.rows + b.rows, a.cols, out);
}

ps_status ps_ad_append_col(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out)
{
    if (a.rows != b.rows)
        return ps_error(PS_ERR_MODEL, "append_col: %zu and %zu rows", a.rows, b.rows);
    /* Column-major storage: side by side is one run of a then one run of b. */
    size_t na = ps_adv_size(a), nb = ps_adv_size(b);
    return append(tape, a, b, 1, na, nb, a.rows, a.cols + b.cols, out);
}
