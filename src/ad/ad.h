/*
 * Reverse-mode automatic differentiation over whole vector and matrix operations.
 *
 * This is the engine under compiled Stan models. One evaluation of a log density and its
 * gradient goes like this:
 *
 *     ps_ad_tape *tape;                                 // once per chain (setup)
 *     ps_ad_tape_create(&tape);
 *     ...
 *     ps_ad_tape_begin(tape, true);                     // every evaluation
 *     ps_adv theta;
 *     ps_ad_params(tape, theta_in, dim, &theta);        // independent variables
 *     ps_adv X = ps_ad_data(x_data, N, D);              // immutable data, by pointer
 *     ps_adv mu;
 *     PS_CHECK(ps_ad_matvec(tape, X, beta, &mu));       // primitives: src/ad, src/math
 *     PS_CHECK(ps_ad_normal_lpdf(tape, y, mu, sigma, true, &lp));
 *     PS_CHECK(ps_ad_target_add(tape, lp));             // target += lp
 *     PS_CHECK(ps_ad_tape_grad(tape));                  // reverse sweep
 *     log_density = ps_ad_target(tape);
 *     memcpy(grad, theta.a, dim * sizeof(double));      // the gradient
 *
 * Values. A value is a ps_adv handle: a pointer to rows*cols doubles in column-major order
 * (scalars are 1x1, vectors n x 1, row vectors 1 x n), a pointer to as many adjoints, and a
 * flag saying whether the value depends on the parameters ("var") or not ("constant").
 * Constants (data, transformed data, literals, anything computed from constants only) have
 * no adjoint storage (a == NULL) and no tape node. Var values own adjoints when the tape
 * records a gradient; in value-only mode (ps_ad_tape_begin(tape, false)) nothing is
 * recorded and a == NULL for every value, but the var flag is still tracked, because log
 * densities need it to decide which terms are constant (see "propto" in math/dens.h).
 * Handles are plain structs, passed by value; they stay valid until the next
 * ps_ad_tape_begin() of their tape. Data handles (ps_ad_data, ps_ad_int_data) point at
 * the caller's memory, which is never copied or written; it must stay alive and unchanged
 * until the evaluation is over (the reverse sweep reads it again): the model's data and
 * transformed data, owned by the compiled model, are the intended use.
 *
 * Integer containers (data only: Stan's int arrays) are ps_adi handles; indices taken by
 * the indexing functions are 1-based, as in Stan.
 *
 * Tape layout. A tape owns two growable stores:
 *   - an arena of doubles (values, adjoints, and partial derivatives that nodes keep for
 *     the reverse sweep), 32-byte aligned blocks bumped from a list of chunks. A block
 *     never moves, so handles are raw pointers. If one evaluation needed more than one
 *     chunk, the next ps_ad_tape_begin() replaces the chunks with one chunk of the total
 *     size, so after the first evaluations (the "warm-up" of the workspace) the arena is
 *     one chunk that is only reset, never grown;
 *   - a node list, one byte buffer of variable-size records (payload + trailer with the
 *     backward function and the record size) walked from the end by ps_ad_tape_grad().
 *     It grows by doubling on first use and is only reset afterwards.
 * So an evaluation that follows the same control flow as an earlier one allocates
 * nothing. Primitives never call malloc: an allocation happens only when a store grows.
 * (A caller that knows its sizes can also call ps_ad_tape_reserve once at setup.)
 *
 * Sizes: a scalar op records one value, one adjoint and a node of about 64 bytes; a
 * vector op of n elements records 2n doubles and one node; log densities record their
 * partial derivatives (one double per element of each var operand). A gradient costs
 * one pass over the nodes in reverse.
 *
 * Errors. Every recording function returns a ps_status:
 *   - PS_ERR_NUMERIC: a domain error of the model (a negative scale, a probability outside
 *     [0, 1], a non-positive-definite matrix, ...). Stan rejects the point; so does the
 *     sampler. The message is kept in the tape (ps_ad_tape_message), NOT in the thread's
 *     error slot, because it is an ordinary outcome during sampling.
 *   - PS_ERR_MODEL: a size mismatch or an index out of range (Stan raises these as fatal
 *     errors), recorded with ps_error().
 *   - PS_ERR_MEM: a store could not grow, recorded with ps_error().
 * After a failure the tape's handles from this evaluation are still valid memory, but the
 * evaluation should be abandoned (call ps_ad_tape_begin again).
 *
 * Threads. A tape belongs to one thread at a time (one chain). Everything here is Local.
 */
#ifndef PS_AD_H
#define PS_AD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct ps_ad_tape ps_ad_tape;

/* A real-valued scalar, vector, row vector or matrix on a tape (see the header comment). */
typedef struct ps_adv {
    const double *v; /* rows*cols values, column-major */
    double *a;       /* rows*cols adjoints, or NULL (constant, or value-only mode) */
    size_t rows;
    size_t cols;
    bool var; /* depends on the parameters */
} ps_adv;

/* An integer scalar or array (data only; never has adjoints). */
typedef struct ps_adi {
    const int *v;
    size_t n;
} ps_adi;

/* Number of elements of a value. */
static inline size_t ps_adv_size(ps_adv x)
{
    return x.rows * x.cols;
}

/* ---------------------------------------------------------------------------------------
 * Tape (the per-chain workspace)
 * ------------------------------------------------------------------------------------- */

/*
 * Creates an empty tape with small initial stores. Local. The caller owns *out and frees
 * it with ps_ad_tape_destroy. Errors: PS_ERR_MEM.
 */
ps_status ps_ad_tape_create(ps_ad_tape **out);

/* Frees a tape; accepts NULL and *tape == NULL; sets *tape to NULL. Local. */
void ps_ad_tape_destroy(ps_ad_tape **tape);

/*
 * Grows the stores to at least `doubles` arena doubles and `node_bytes` node bytes, so a
 * caller that knows its sizes can avoid growth during the first evaluation. Local.
 * Errors: PS_ERR_MEM (the tape is unchanged).
 */
ps_status ps_ad_tape_reserve(ps_ad_tape *tape, size_t doubles, size_t node_bytes);

/*
 * Starts an evaluation: forgets every value and node of the previous one, sets the target
 * to 0 and clears the message. gradient = true records nodes for ps_ad_tape_grad();
 * false evaluates values only (no adjoints, no nodes). If the previous evaluation spilled
 * over several arena chunks, they are merged into one here (the only place where a reset
 * may allocate; if that allocation fails the old chunks are kept). Local; never fails.
 */
void ps_ad_tape_begin(ps_ad_tape *tape, bool gradient);

/* True when the current evaluation records a gradient. Local. */
bool ps_ad_tape_recording(const ps_ad_tape *tape);

/*
 * Runs the reverse sweep: every node of the evaluation, last first, adds its
 * contribution to the adjoints of its operands. Afterwards the adjoint of each parameter
 * handle (params.a) holds d target / d theta. Call once per evaluation. Local.
 * Errors: PS_ERR_INTERNAL when the tape is in value-only mode.
 */
ps_status ps_ad_tape_grad(ps_ad_tape *tape);

/* The accumulated target (log density) of the current evaluation. Local. */
double ps_ad_target(const ps_ad_tape *tape);

/* The message of the last domain error (PS_ERR_NUMERIC), or "". Local. */
const char *ps_ad_tape_message(const ps_ad_tape *tape);

/* Sizes in use and reserved, for reports and tests. Local. */
typedef struct ps_ad_tape_stats {
    size_t arena_used;     /* doubles used by the current evaluation */
    size_t arena_capacity; /* doubles reserved over all chunks */
    size_t arena_chunks;   /* number of chunks (1 once warmed up) */
    size_t node_bytes;     /* node bytes used by the current evaluation */
    size_t node_capacity;  /* node bytes reserved */
    size_t nodes;          /* nodes recorded in the current evaluation */
} ps_ad_tape_stats;
void ps_ad_tape_get_stats(const ps_ad_tape *tape, ps_ad_tape_stats *stats);

/* ---------------------------------------------------------------------------------------
 * Values entering the tape
 * ------------------------------------------------------------------------------------- */

/*
 * Declares n independent variables with values theta (copied to the arena) and returns
 * them as one n x 1 var vector. Their adjoints start at 0; after ps_ad_tape_grad() they
 * hold the gradient. In value-only mode the result is var with a == NULL. Local.
 * Errors: PS_ERR_MEM.
 */
ps_status ps_ad_params(ps_ad_tape *tape, const double *theta, size_t n, ps_adv *out);

/* Wraps immutable data (rows*cols doubles, column-major) as a constant handle. The memory
 * is the caller's: it is read, never copied or written. No tape involved. Local. */
ps_adv ps_ad_data(const double *v, size_t rows, size_t cols);

/* Wraps an int array as an integer handle. Local. */
ps_adi ps_ad_int_data(const int *v, size_t n);

/* A constant scalar stored in the arena (for literals). Local. Errors: PS_ERR_MEM. */
ps_status ps_ad_const(ps_ad_tape *tape, double x, ps_adv *out);

/*
 * A new constant of rows x cols whose values the caller writes through *values before
 * using the handle (for constants computed during an evaluation). Local.
 * Errors: PS_ERR_MEM.
 */
ps_status ps_ad_const_alloc(ps_ad_tape *tape, size_t rows, size_t cols, double **values,
                            ps_adv *out);

/*
 * Adds the sum of the elements of x to the target (Stan's `target += x`). Local.
 * Errors: PS_ERR_MEM.
 */
ps_status ps_ad_target_add(ps_ad_tape *tape, ps_adv x);

/* Adds a constant to the target (no node). Local. */
void ps_ad_target_add_const(ps_ad_tape *tape, double x);

/* ---------------------------------------------------------------------------------------
 * Writing primitives (used by src/ad, src/math and the model lowering)
 *
 * A primitive computes its result in the forward pass, then, if its result is var and
 * the tape records, pushes one node whose backward function reads the result's adjoints
 * and adds to its operands' adjoints (never assigns: an operand may be used many times).
 * ------------------------------------------------------------------------------------- */

/* The backward function of a node; `node` is the payload given to ps_ad_node_push. */
typedef void (*ps_ad_backward_fn)(void *node);

/*
 * Reserves a node of `bytes` payload bytes (8-byte aligned) with backward function fn and
 * returns the payload in *payload, valid for writing until the next push. Local.
 * Errors: PS_ERR_MEM.
 */
ps_status ps_ad_node_push(ps_ad_tape *tape, ps_ad_backward_fn fn, size_t bytes, void **payload);

/* n doubles of scratch in the arena (uninitialised, 32-byte aligned), alive until the next
 * ps_ad_tape_begin. Local. Errors: PS_ERR_MEM. */
ps_status ps_ad_alloc(ps_ad_tape *tape, size_t n, double **out);

/*
 * Allocates a result of rows x cols. var = true makes a var value (with zeroed adjoints
 * when the tape records); false a constant. The values are uninitialised; *values points
 * at them for writing. Local. Errors: PS_ERR_MEM.
 */
ps_status ps_ad_result(ps_ad_tape *tape, size_t rows, size_t cols, bool var, double **values,
                       ps_adv *out);

/* Records a domain error message in the tape and returns PS_ERR_NUMERIC. Local. */
ps_status ps_ad_domain_error(ps_ad_tape *tape, const char *fmt, ...) PS_PRINTF(2, 3);

/*
 * Scalar results with precomputed partials (how the log densities are written; the idea
 * of Stan's operands_and_partials). The forward pass fills, for every operand that has
 * adjoints, the derivative of the result with respect to each of its elements; the node
 * then only scales them by the result's adjoint:
 *
 *     ps_ad_partials P;
 *     PS_CHECK(ps_ad_partials_begin(tape, &P, (ps_adv[]){y, mu, sigma}, 3));
 *     ... value = ...; if (P.d[1]) P.d[1][i] += ...;   // d[k] is NULL: no derivative needed
 *     PS_CHECK(ps_ad_partials_finish(&P, value, var, &out));
 *
 * d[k] has ps_adv_size(operand k) zeroed elements (a broadcast scalar operand accumulates
 * into d[k][0]). Local. Errors: PS_ERR_MEM.
 */
#define PS_AD_MAX_OPERANDS 8
typedef struct ps_ad_partials {
    ps_ad_tape *tape;
    size_t count;
    double *d[PS_AD_MAX_OPERANDS];
    double *adj[PS_AD_MAX_OPERANDS];
    size_t n[PS_AD_MAX_OPERANDS];
} ps_ad_partials;
ps_status ps_ad_partials_begin(ps_ad_tape *tape, ps_ad_partials *p, const ps_adv *operands,
                               size_t count);
/* Makes the scalar result (var if `var`) and pushes the node when anything has
 * adjoints. */
ps_status ps_ad_partials_finish(ps_ad_partials *p, double value, bool var, ps_adv *out);

/*
 * The same for scalar operands only (each of size 1), with the partial derivatives given
 * directly (d[k] = d value / d operand k) and kept inside the node: the fast path of
 * scalar code. count <= 4. Local. Errors: PS_ERR_MEM.
 */
ps_status ps_ad_scalar_result(ps_ad_tape *tape, double value, bool var, const ps_adv *operands,
                              const double *d, size_t count, ps_adv *out);

/* Helpers for sizes: the broadcast size of operands that are each of size 1 or n. Returns
 * PS_ERR_MODEL (recorded, naming `what`) when two non-scalar sizes differ. Local. */
ps_status ps_ad_broadcast_size(const char *what, const size_t *sizes, size_t count, size_t *n);

/* ---------------------------------------------------------------------------------------
 * Elementwise arithmetic with broadcasting
 *
 * Operands are of equal shape, or one of them is a scalar (1x1), which is broadcast
 * (Stan's `x + v`, `v * 2`, `.*`, `./`). The result has the shape of the non-scalar
 * operand. Errors: PS_ERR_MODEL for shape mismatch, PS_ERR_MEM.
 * ------------------------------------------------------------------------------------- */

typedef enum ps_ad_binop {
    PS_AD_ADD = 0,      /* a + b */
    PS_AD_SUB,          /* a - b */
    PS_AD_MUL,          /* a .* b (elementwise; for a matrix product use ps_ad_multiply) */
    PS_AD_DIV,          /* a ./ b */
    PS_AD_POW,          /* pow(a, b) elementwise (Stan's ^ on reals, pow) */
    PS_AD_FMIN,         /* fmin: the adjoint goes to the smaller operand */
    PS_AD_FMAX,         /* fmax */
    PS_AD_HYPOT,        /* hypot(a, b) */
    PS_AD_LOG_SUM_EXP2, /* log(exp(a) + exp(b)), elementwise */
    PS_AD_LOG_DIFF_EXP, /* log(exp(a) - exp(b)), elementwise */
    PS_AD_LBETA,        /* log Beta(a, b) */
    PS_AD_LCHOOSE,      /* log binomial coefficient of reals */
    PS_AD_ATAN2,        /* atan2(a, b) */
    PS_AD_FDIM,         /* fdim(a, b) = max(a - b, 0) */
    PS_AD_BINOP_COUNT_
} ps_ad_binop;

ps_status ps_ad_binary(ps_ad_tape *tape, ps_ad_binop op, ps_adv a, ps_adv b, ps_adv *out);

/* Shorthands. */
ps_status ps_ad_add(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);
ps_status ps_ad_sub(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);
ps_status ps_ad_mul(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);
ps_status ps_ad_div(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);

/* Fused a + b .* c (the `mu + tau * z` pattern, one node instead of two). Each operand may
 * be a scalar or of the common shape. */
ps_status ps_ad_fma(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv c, ps_adv *out);

/* Binary operation name lookup ("add", "pow", "fmin", ...); returns false if unknown. */
bool ps_ad_binop_lookup(const char *name, ps_ad_binop *op);

/* ---------------------------------------------------------------------------------------
 * Unary functions, elementwise over any container
 * ------------------------------------------------------------------------------------- */

typedef enum ps_ad_unop {
    PS_AD_NEG = 0,
    PS_AD_EXP,
    PS_AD_LOG,
    PS_AD_LOG1P,
    PS_AD_EXPM1,
    PS_AD_LOG1M,
    PS_AD_SQRT,
    PS_AD_CBRT,
    PS_AD_SQUARE,
    PS_AD_FABS,
    PS_AD_INV,
    PS_AD_INV_SQRT,
    PS_AD_INV_SQUARE,
    PS_AD_INV_LOGIT,
    PS_AD_LOGIT,
    PS_AD_LOG_INV_LOGIT,
    PS_AD_LOG1M_INV_LOGIT,
    PS_AD_LOG1P_EXP,
    PS_AD_LOG1M_EXP,
    PS_AD_LGAMMA,
    PS_AD_DIGAMMA,
    PS_AD_TGAMMA,
    PS_AD_PHI,
    PS_AD_PHI_APPROX,
    PS_AD_INV_PHI,
    PS_AD_ERF,
    PS_AD_ERFC,
    PS_AD_SIN,
    PS_AD_COS,
    PS_AD_TAN,
    PS_AD_ASIN,
    PS_AD_ACOS,
    PS_AD_ATAN,
    PS_AD_SINH,
    PS_AD_COSH,
    PS_AD_TANH,
    PS_AD_ASINH,
    PS_AD_ACOSH,
    PS_AD_ATANH,
    PS_AD_LOG2,
    PS_AD_LOG10,
    PS_AD_EXP2,
    PS_AD_STEP,  /* Stan's step(x): 1 if x >= 0 (derivative 0); constant result */
    PS_AD_FLOOR, /* floor, ceil, round, trunc: derivative 0 almost everywhere; constant */
    PS_AD_CEIL,
    PS_AD_ROUND,
    PS_AD_TRUNC,
    PS_AD_UNOP_COUNT_
} ps_ad_unop;

/* out = f(x) elementwise, same shape. Errors: PS_ERR_MEM. Domain violations give NaN (as
 * in Stan's math library), not errors. */
ps_status ps_ad_unary(ps_ad_tape *tape, ps_ad_unop op, ps_adv x, ps_adv *out);

/* The unary function of a name ("exp", "log1p", "Phi", ...); false if unknown. */
bool ps_ad_unop_lookup(const char *name, ps_ad_unop *op);

/* The Stan name of an operation. */
const char *ps_ad_unop_name(ps_ad_unop op);
const char *ps_ad_binop_name(ps_ad_binop op);

/* ---------------------------------------------------------------------------------------
 * Reductions and vector functions
 * ------------------------------------------------------------------------------------- */

ps_status ps_ad_sum(ps_ad_tape *tape, ps_adv x, ps_adv *out);      /* scalar */
ps_status ps_ad_mean(ps_ad_tape *tape, ps_adv x, ps_adv *out);     /* scalar */
ps_status ps_ad_variance(ps_ad_tape *tape, ps_adv x, ps_adv *out); /* sample, n-1 */
ps_status ps_ad_sd(ps_ad_tape *tape, ps_adv x, ps_adv *out);
ps_status ps_ad_dot_product(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);
ps_status ps_ad_dot_self(ps_ad_tape *tape, ps_adv x, ps_adv *out);
ps_status ps_ad_squared_distance(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);
ps_status ps_ad_log_sum_exp(ps_ad_tape *tape, ps_adv x, ps_adv *out); /* over all elements */
ps_status ps_ad_max(ps_ad_tape *tape, ps_adv x, ps_adv *out);         /* -inf when empty */
ps_status ps_ad_min(ps_ad_tape *tape, ps_adv x, ps_adv *out);
ps_status ps_ad_prod(ps_ad_tape *tape, ps_adv x, ps_adv *out);
ps_status ps_ad_cumulative_sum(ps_ad_tape *tape, ps_adv x, ps_adv *out); /* same shape */
ps_status ps_ad_softmax(ps_ad_tape *tape, ps_adv x, ps_adv *out);        /* vector */
ps_status ps_ad_log_softmax(ps_ad_tape *tape, ps_adv x, ps_adv *out);    /* vector */

/*
 * log_mix(theta, lambda1, lambda2) = log(theta exp(lambda1) + (1 - theta) exp(lambda2)),
 * elementwise with broadcasting (Stan's three-argument log_mix). Errors: PS_ERR_NUMERIC
 * when theta is outside [0, 1].
 */
ps_status ps_ad_log_mix(ps_ad_tape *tape, ps_adv theta, ps_adv lambda1, ps_adv lambda2,
                        ps_adv *out);

/* ---------------------------------------------------------------------------------------
 * Building, reshaping and indexing (indices are 1-based, as in Stan)
 * ------------------------------------------------------------------------------------- */

/* Same values viewed with another shape (rows*cols must be unchanged): to_vector,
 * to_row_vector, to_matrix(v, m, n) (column-major, as Stan), and vector transpose. No node,
 * no copy. Errors: PS_ERR_MODEL on a size mismatch. */
ps_status ps_ad_reshape(ps_adv x, size_t rows, size_t cols, ps_adv *out);

/* Matrix transpose (a copy). */
ps_status ps_ad_transpose(ps_ad_tape *tape, ps_adv x, ps_adv *out);

/* rep_vector / rep_row_vector / rep_matrix of a scalar x: rows x cols copies. */
ps_status ps_ad_rep(ps_ad_tape *tape, ps_adv x, size_t rows, size_t cols, ps_adv *out);

/* A rows x cols container from rows*cols scalars (column-major order): how a model's
 * element-by-element assignments `v[i] = ...` are turned into one vector. */
ps_status ps_ad_from_scalars(ps_ad_tape *tape, const ps_adv *elems, size_t rows, size_t cols,
                             ps_adv *out);

/* Concatenation: append_row (stacks vectors/matrices vertically; columns must match) and
 * append_col (side by side; rows must match). */
ps_status ps_ad_append_row(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);
ps_status ps_ad_append_col(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);

/* Element x[i] of a vector (or x[i, j] of a matrix with ps_ad_elem2) as a scalar. No node
 * for the value itself: the result aliases the element (its adjoint is the element's).
 * Errors: PS_ERR_MODEL for an index out of range. */
ps_status ps_ad_elem(ps_adv x, long i, ps_adv *out);
ps_status ps_ad_elem2(ps_adv x, long i, long j, ps_adv *out);

/* Gather: out[k] = x[idx[k]], a vector of idx.n elements (v[idx] with an int array, the
 * a[g] pattern). The adjoint is scattered back with addition. For a matrix x, whole rows
 * are gathered (x[idx] in Stan is a matrix of the chosen rows). */
ps_status ps_ad_gather(ps_ad_tape *tape, ps_adv x, ps_adi idx, ps_adv *out);

/* Contiguous parts, aliasing x (no copy, no node): segment(v, start, len), head(v, n),
 * tail(v, n), and a column of a matrix. */
ps_status ps_ad_segment(ps_adv x, long start, size_t len, ps_adv *out);
ps_status ps_ad_head(ps_adv x, size_t n, ps_adv *out);
ps_status ps_ad_tail(ps_adv x, size_t n, ps_adv *out);
ps_status ps_ad_col(ps_adv m, long j, ps_adv *out);
/* A row of a matrix and a block (copies, since rows are strided). */
ps_status ps_ad_row(ps_ad_tape *tape, ps_adv m, long i, ps_adv *out);
ps_status ps_ad_block(ps_ad_tape *tape, ps_adv m, long i, long j, size_t nrows, size_t ncols,
                      ps_adv *out);

/* ---------------------------------------------------------------------------------------
 * Linear algebra (BLAS/LAPACK underneath; matrices column-major)
 * ------------------------------------------------------------------------------------- */

/* The matrix product a * b for any conforming pair: matrix x matrix, matrix x vector,
 * row_vector x matrix, row_vector x vector (a 1x1 result), vector x row_vector (outer
 * product). A scalar operand multiplies elementwise. */
ps_status ps_ad_multiply(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);

/* diag_pre_multiply(v, m) = diag(v) * m and diag_post_multiply(m, v) = m * diag(v). */
ps_status ps_ad_diag_pre_multiply(ps_ad_tape *tape, ps_adv v, ps_adv m, ps_adv *out);
ps_status ps_ad_diag_post_multiply(ps_ad_tape *tape, ps_adv m, ps_adv v, ps_adv *out);
/* diag_matrix(v) and diagonal(m). */
ps_status ps_ad_diag_matrix(ps_ad_tape *tape, ps_adv v, ps_adv *out);
ps_status ps_ad_diagonal(ps_ad_tape *tape, ps_adv m, ps_adv *out);
/* add_diag(m, d): m with d (scalar or vector) added to its diagonal. */
ps_status ps_ad_add_diag(ps_ad_tape *tape, ps_adv m, ps_adv d, ps_adv *out);

/* crossprod(a) = a' a and tcrossprod(a) = a a' (symmetric results). */
ps_status ps_ad_crossprod(ps_ad_tape *tape, ps_adv a, ps_adv *out);
ps_status ps_ad_tcrossprod(ps_ad_tape *tape, ps_adv a, ps_adv *out);

/* quad_form(a, b) = b' a b (a square; b a matrix or a vector, then a scalar result). */
ps_status ps_ad_quad_form(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);

/* mdivide_left_tri_low(l, b) = l^{-1} b using the lower triangle of l (b a vector or a
 * matrix). Errors: PS_ERR_NUMERIC for a zero on the diagonal. */
ps_status ps_ad_mdivide_left_tri_low(ps_ad_tape *tape, ps_adv l, ps_adv b, ps_adv *out);
/* mdivide_right_tri_low(b, l) = b l^{-1} (b a row vector or a matrix). */
ps_status ps_ad_mdivide_right_tri_low(ps_ad_tape *tape, ps_adv b, ps_adv l, ps_adv *out);
/* mdivide_left(a, b) = a^{-1} b for a general square a (LU). */
ps_status ps_ad_mdivide_left(ps_ad_tape *tape, ps_adv a, ps_adv b, ps_adv *out);

/* cholesky_decompose(a): the lower Cholesky factor of a symmetric positive-definite a
 * (only the lower triangle of a is read; its adjoint is split evenly between a[i,j] and
 * a[j,i]). Errors: PS_ERR_NUMERIC when a is not symmetric positive definite. */
ps_status ps_ad_cholesky_decompose(ps_ad_tape *tape, ps_adv a, ps_adv *out);

/* inverse(a) of a general square matrix (LU). Errors: PS_ERR_NUMERIC when singular. */
ps_status ps_ad_inverse(ps_ad_tape *tape, ps_adv a, ps_adv *out);

/* log_determinant(a) = log |det a| (LU). Errors: PS_ERR_NUMERIC when singular. */
ps_status ps_ad_log_determinant(ps_ad_tape *tape, ps_adv a, ps_adv *out);

/* trace(a). */
ps_status ps_ad_trace(ps_ad_tape *tape, ps_adv a, ps_adv *out);

#endif
