/*
 * The Stan-language front end: lexer, parser, abstract syntax tree (AST) and type checker
 * for the subset of the Stan language that psample supports (DESIGN.md, Section 8).
 *
 * One call, ps_stan_program_parse(), turns the text of a .stan file into a checked
 * program. On success every node of the tree is annotated and resolved, so that lowering
 * (src/lang/lower*.c, written against this header only) is a walk over the tree:
 *
 *   - every expression carries its type (ps_stan_type: int/real/vector/row_vector/matrix
 *     with array dimensions) and its level (constant, data, or parameter-dependent);
 *   - every variable reference points at its declaration (ps_stan_decl: block, type,
 *     constraint, size and bound expressions);
 *   - every operator, function call and distribution (`~`, `_lpdf(y | ...)`) is a
 *     PS_STAN_E_CALL node resolved to one signature of the builtin table
 *     (ps_stan_sig_get(call.sig)) or to a user-defined function;
 *   - implicit int -> real promotions are explicit PS_STAN_E_PROMOTE nodes, so that the
 *     type of every argument equals the type its signature asks for (see "Signatures").
 *
 * The checker follows the rules of the Stan reference manual (2.3x, current syntax
 * `array[N] real y`): scoping and redeclaration, read-only variables per block, int/real
 * promotion, data-only sizes, `~` and `target +=` only in the model block, `_lupdf` only
 * in the model block, `_rng` only in transformed data and generated quantities, '|' in
 * density calls. Features outside the subset (complex numbers, tuples, unit_vector,
 * truncation T[,], left division, #include, ODE solvers, Gaussian-process kernels, and by
 * default user-defined functions) are rejected with "... is not supported yet".
 *
 * Errors: the first error is recorded with ps_error_at_offset() as
 *     FILE:LINE:COL: error: MESSAGE
 *         the offending line
 *         ^
 * and the function returns PS_ERR_MODEL (PS_ERR_MEM when an allocation failed). Nothing
 * the text contains can crash the front end: nesting deeper than PS_STAN_MAX_NESTING
 * (brackets, parentheses, statements) or expression trees deeper than
 * PS_STAN_MAX_EXPR_DEPTH are rejected with a message, and run time is linear in the
 * size of the text.
 *
 * Memory: a ps_stan_program owns every node, name and string of its tree (one arena); the
 * pointers stay valid until ps_stan_program_destroy(). The tree is immutable after parse
 * and may be read from several threads at once.
 *
 * All functions here are local (no MPI).
 */
#ifndef PS_LANG_H
#define PS_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Brackets, parentheses, braces and nested statements deeper than this are an error. */
#define PS_STAN_MAX_NESTING 256
/* Expression trees deeper than this (e.g. a sum of more than about 1000 terms in one
 * expression) are an error; it bounds the recursion of every walker. */
#define PS_STAN_MAX_EXPR_DEPTH 1024
/* Array dimensions of a declared variable; with the two dimensions of a matrix this is
 * PS_MODEL_MAX_DIMS (src/model/model.h). */
#define PS_STAN_MAX_ARRAY_DIMS 6
/* Parameters of the longest builtin signature. */
#define PS_STAN_MAX_PARAMS 6

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

/* The element type of a value. */
typedef enum ps_stan_base {
    PS_STAN_UNTYPED = 0, /* not yet checked (only in programs parsed with check = false) */
    PS_STAN_INT,
    PS_STAN_REAL,
    PS_STAN_VECTOR,     /* column vector */
    PS_STAN_ROW_VECTOR, /* row vector */
    PS_STAN_MATRIX,
    PS_STAN_STRING, /* a string literal: only as an argument of print/reject/fatal_error */
    PS_STAN_VOID    /* the return type of a void user-defined function */
} ps_stan_base;

/*
 * A Stan type: an element type with `dims` array dimensions ("array[,] vector" is
 * {PS_STAN_VECTOR, 2}). Sizes are not part of a type; declarations carry them.
 */
typedef struct ps_stan_type {
    uint8_t base; /* ps_stan_base */
    uint8_t dims; /* number of array dimensions, 0 for a non-array */
} ps_stan_type;

/* True when a and b are the same type. */
bool ps_stan_type_equal(ps_stan_type a, ps_stan_type b);

/* True for int, real (dims 0): a scalar. */
bool ps_stan_type_is_scalar(ps_stan_type t);

/* Writes the Stan spelling of t ("real", "array[,] vector", "array[] int") into buf
 * (always NUL-terminated when size > 0); returns buf. */
const char *ps_stan_type_format(ps_stan_type t, char *buf, size_t size);

/*
 * The level of an expression: what its value can depend on. Ordered: the level of a
 * compound expression is the maximum of its parts.
 *   CONST: literals and builtin constants only (e.g. `2 * pi()`);
 *   DATA:  also data and transformed data. Every int-valued expression is DATA at most,
 *          as in Stan, because ints carry no derivatives: int variables, loop indices,
 *          sizes, and even `theta > 0` computed from a parameter. (To know whether a
 *          value can be computed once, before sampling, also check that the variables
 *          it reads are data or transformed data: decl->block.)
 *   PARAM: depends on parameters: parameters, transformed parameters, real-valued local
 *          variables of transformed parameters / model / generated quantities and of
 *          function bodies, non-`data` function arguments. This is Stan's "autodiff
 *          level", except that generated quantities keep PARAM where they depend on
 *          parameters (Stan evaluates them in double precision; so will psample).
 */
typedef enum ps_stan_level {
    PS_STAN_LEVEL_CONST = 0,
    PS_STAN_LEVEL_DATA = 1,
    PS_STAN_LEVEL_PARAM = 2
} ps_stan_level;

/* ---------------------------------------------------------------------------------------
 * Blocks and declarations
 * ------------------------------------------------------------------------------------- */

/* Program blocks, in the order they must appear. */
typedef enum ps_stan_block {
    PS_STAN_BLOCK_FUNCTIONS = 0,
    PS_STAN_BLOCK_DATA,
    PS_STAN_BLOCK_TDATA,   /* transformed data */
    PS_STAN_BLOCK_PARAMS,  /* parameters */
    PS_STAN_BLOCK_TPARAMS, /* transformed parameters */
    PS_STAN_BLOCK_MODEL,
    PS_STAN_BLOCK_GQ, /* generated quantities */
    PS_STAN_N_BLOCKS
} ps_stan_block;

/* The Stan name of a block ("transformed data"). */
const char *ps_stan_block_name(ps_stan_block block);

/* Where a declaration stands. */
typedef enum ps_stan_origin {
    PS_STAN_ORIGIN_BLOCK = 0, /* a top-level variable of a block (data, parameter, ...) */
    PS_STAN_ORIGIN_LOCAL,     /* a local variable inside { } or in the model block */
    PS_STAN_ORIGIN_LOOP,      /* the variable of a for loop (read-only) */
    PS_STAN_ORIGIN_ARG        /* an argument of a user-defined function (read-only) */
} ps_stan_origin;

/*
 * The constraint a declared type implies. Bounds and affine transforms come with their
 * expressions (ps_stan_decl.lower/upper/offset/multiplier); the special types imply the
 * element type written in ps_stan_decl.type:
 *   SIMPLEX, ORDERED, POSITIVE_ORDERED, UNIT_VECTOR: vector[K]
 *   CHOLESKY_CORR[K], COV_MATRIX[K], CORR_MATRIX[K]: matrix[K, K]
 *   CHOLESKY_COV[M] or [M, N]: matrix[M, M] or matrix[M, N] (M >= N)
 */
typedef enum ps_stan_constraint {
    PS_STAN_C_NONE = 0,
    PS_STAN_C_BOUNDS, /* <lower=..>, <upper=..> or both (see which pointers are set) */
    PS_STAN_C_AFFINE, /* <offset=..>, <multiplier=..> or both */
    PS_STAN_C_SIMPLEX,
    PS_STAN_C_ORDERED,
    PS_STAN_C_POSITIVE_ORDERED,
    PS_STAN_C_UNIT_VECTOR, /* parsed; the checker says "not supported yet" */
    PS_STAN_C_CHOLESKY_CORR,
    PS_STAN_C_CHOLESKY_COV,
    PS_STAN_C_COV_MATRIX,
    PS_STAN_C_CORR_MATRIX
} ps_stan_constraint;

typedef struct ps_stan_expr ps_stan_expr;
typedef struct ps_stan_stmt ps_stan_stmt;
typedef struct ps_stan_fundef ps_stan_fundef;

/*
 * A declared variable (or loop variable, or function argument).
 *
 * Sizes: array_sizes[0 .. type.dims-1] are the array extents, outermost first;
 * elem_sizes[0] is the length of a vector/row_vector/simplex/... or the rows of a matrix,
 * elem_sizes[1] the columns of a matrix (for the square types, both point at the same
 * expression). Loop variables and function arguments have no sizes (all NULL); local
 * variables have sizes but never constraints. Size expressions are int; those of
 * top-level variables only refer to data and transformed data.
 *
 * Bounds: lower/upper/offset/multiplier are NULL when absent. A bound is either a scalar
 * (int for an int variable, real otherwise) or has exactly the variable's type (an
 * element-wise bound, e.g. vector<lower=L>[N] with L a vector); int bounds of real
 * variables are promoted.
 */
typedef struct ps_stan_decl {
    const char *name;
    size_t offset;       /* byte offset of the name in the source text */
    ps_stan_block block; /* block the declaration appears in */
    ps_stan_origin origin;
    ps_stan_type type;   /* the declared type (for constrained types: vector or matrix) */
    ps_stan_level level; /* the level of the values the variable may hold */
    ps_stan_constraint constraint;
    ps_stan_expr *lower, *upper, *offset_expr, *multiplier;
    ps_stan_expr **array_sizes; /* type.dims expressions (NULL for loop variables/args) */
    ps_stan_expr *elem_sizes[2];
    ps_stan_expr *init;             /* initial value `= expr` (checked against type), or NULL */
    bool data_only;                 /* function argument declared `data` */
    size_t index;                   /* position among its block's top-level variables (origin
                                       BLOCK) or among its function's arguments (origin ARG) */
    const ps_stan_fundef *function; /* the enclosing function definition, or NULL */
} ps_stan_decl;

/* ---------------------------------------------------------------------------------------
 * Builtin functions
 *
 * PS_STAN_FUNCTIONS(X) lists every builtin as X(ID, "name", KIND): ID becomes the
 * enumerator PS_STAN_FN_ID. KIND is OP for operators (not callable by name), FN for
 * ordinary functions, and LPDF, LPMF, LCDF, LCCDF, CDF, RNG for the distribution
 * functions. A `_lupdf`/`_lupmf` call and a `~` statement resolve to the _LPDF/_LPMF
 * function with call.propto = true (constants may be dropped, as Stan does).
 * ------------------------------------------------------------------------------------- */

/* clang-format off */
#define PS_STAN_FUNCTIONS(X) \
    /* Operators. `^` and pow() are both POW. */ \
    X(ADD, "operator+", OP) X(SUBTRACT, "operator-", OP) X(MULTIPLY, "operator*", OP) \
    X(DIVIDE, "operator/", OP) X(MODULUS, "operator%", OP) X(INT_DIVIDE, "operator%/%", OP) \
    X(ELT_MULTIPLY, "operator.*", OP) X(ELT_DIVIDE, "operator./", OP) \
    X(ELT_POW, "operator.^", OP) X(LT, "operator<", OP) X(LE, "operator<=", OP) \
    X(GT, "operator>", OP) X(GE, "operator>=", OP) X(EQ, "operator==", OP) \
    X(NE, "operator!=", OP) X(AND, "operator&&", OP) X(OR, "operator||", OP) \
    X(NOT, "operator!", OP) X(MINUS, "operator-", OP) X(PLUS, "operator+", OP) \
    X(TRANSPOSE, "operator'", OP) \
    /* Scalar and element-wise functions. */ \
    X(POW, "pow", FN) X(ABS, "abs", FN) X(FABS, "fabs", FN) X(EXP, "exp", FN) \
    X(LOG, "log", FN) X(LOG2, "log2", FN) X(LOG10, "log10", FN) X(EXP2, "exp2", FN) \
    X(LOG1P, "log1p", FN) X(EXPM1, "expm1", FN) X(LOG1M, "log1m", FN) \
    X(LOG1M_EXP, "log1m_exp", FN) X(LOG1P_EXP, "log1p_exp", FN) \
    X(INV_LOGIT, "inv_logit", FN) X(LOGIT, "logit", FN) \
    X(LOG_INV_LOGIT, "log_inv_logit", FN) X(LOG1M_INV_LOGIT, "log1m_inv_logit", FN) \
    X(SQUARE, "square", FN) X(SQRT, "sqrt", FN) X(CBRT, "cbrt", FN) X(INV, "inv", FN) \
    X(INV_SQRT, "inv_sqrt", FN) X(INV_SQUARE, "inv_square", FN) X(LGAMMA, "lgamma", FN) \
    X(TGAMMA, "tgamma", FN) X(DIGAMMA, "digamma", FN) X(TRIGAMMA, "trigamma", FN) \
    X(SIN, "sin", FN) X(COS, "cos", FN) X(TAN, "tan", FN) X(ASIN, "asin", FN) \
    X(ACOS, "acos", FN) X(ATAN, "atan", FN) X(SINH, "sinh", FN) X(COSH, "cosh", FN) \
    X(TANH, "tanh", FN) X(ASINH, "asinh", FN) X(ACOSH, "acosh", FN) X(ATANH, "atanh", FN) \
    X(PHI, "Phi", FN) X(PHI_APPROX, "Phi_approx", FN) X(INV_PHI, "inv_Phi", FN) \
    X(ERF, "erf", FN) X(ERFC, "erfc", FN) X(FLOOR, "floor", FN) X(CEIL, "ceil", FN) \
    X(ROUND, "round", FN) X(TRUNC, "trunc", FN) X(STEP, "step", FN) \
    X(INT_STEP, "int_step", FN) X(IS_INF, "is_inf", FN) X(IS_NAN, "is_nan", FN) \
    X(FMIN, "fmin", FN) X(FMAX, "fmax", FN) X(FDIM, "fdim", FN) X(FMOD, "fmod", FN) \
    X(HYPOT, "hypot", FN) X(ATAN2, "atan2", FN) X(LBETA, "lbeta", FN) \
    X(LCHOOSE, "lchoose", FN) X(BINOMIAL_COEFFICIENT_LOG, "binomial_coefficient_log", FN) \
    X(CHOOSE, "choose", FN) X(LOG_DIFF_EXP, "log_diff_exp", FN) X(FMA, "fma", FN) \
    X(MIN, "min", FN) X(MAX, "max", FN) X(LOG_SUM_EXP, "log_sum_exp", FN) \
    X(LOG_MIX, "log_mix", FN) \
    /* Reductions and vector/matrix functions. */ \
    X(SUM, "sum", FN) X(PROD, "prod", FN) X(MEAN, "mean", FN) X(VARIANCE, "variance", FN) \
    X(SD, "sd", FN) X(DOT_PRODUCT, "dot_product", FN) X(DOT_SELF, "dot_self", FN) \
    X(COLUMNS_DOT_PRODUCT, "columns_dot_product", FN) \
    X(ROWS_DOT_PRODUCT, "rows_dot_product", FN) X(COLUMNS_DOT_SELF, "columns_dot_self", FN) \
    X(ROWS_DOT_SELF, "rows_dot_self", FN) X(SOFTMAX, "softmax", FN) \
    X(LOG_SOFTMAX, "log_softmax", FN) X(CUMULATIVE_SUM, "cumulative_sum", FN) \
    X(REP_VECTOR, "rep_vector", FN) X(REP_ROW_VECTOR, "rep_row_vector", FN) \
    X(REP_MATRIX, "rep_matrix", FN) X(REP_ARRAY, "rep_array", FN) \
    X(SEGMENT, "segment", FN) X(HEAD, "head", FN) X(TAIL, "tail", FN) \
    X(REVERSE, "reverse", FN) X(SORT_ASC, "sort_asc", FN) X(SORT_DESC, "sort_desc", FN) \
    X(TO_VECTOR, "to_vector", FN) X(TO_ROW_VECTOR, "to_row_vector", FN) \
    X(TO_MATRIX, "to_matrix", FN) X(TO_ARRAY_1D, "to_array_1d", FN) \
    X(TO_ARRAY_2D, "to_array_2d", FN) X(SIZE, "size", FN) X(ROWS, "rows", FN) \
    X(COLS, "cols", FN) X(NUM_ELEMENTS, "num_elements", FN) \
    X(APPEND_ROW, "append_row", FN) X(APPEND_COL, "append_col", FN) X(COL, "col", FN) \
    X(ROW, "row", FN) X(BLOCK, "block", FN) X(SUB_COL, "sub_col", FN) \
    X(SUB_ROW, "sub_row", FN) X(DIAGONAL, "diagonal", FN) X(DIAG_MATRIX, "diag_matrix", FN) \
    X(DIAG_PRE_MULTIPLY, "diag_pre_multiply", FN) \
    X(DIAG_POST_MULTIPLY, "diag_post_multiply", FN) X(ADD_DIAG, "add_diag", FN) \
    X(QUAD_FORM, "quad_form", FN) X(QUAD_FORM_SYM, "quad_form_sym", FN) \
    X(QUAD_FORM_DIAG, "quad_form_diag", FN) X(TRACE, "trace", FN) \
    X(CHOLESKY_DECOMPOSE, "cholesky_decompose", FN) X(INVERSE, "inverse", FN) \
    X(INVERSE_SPD, "inverse_spd", FN) X(DETERMINANT, "determinant", FN) \
    X(LOG_DETERMINANT, "log_determinant", FN) X(CROSSPROD, "crossprod", FN) \
    X(TCROSSPROD, "tcrossprod", FN) \
    X(MULTIPLY_LOWER_TRI_SELF_TRANSPOSE, "multiply_lower_tri_self_transpose", FN) \
    X(MDIVIDE_LEFT_TRI_LOW, "mdivide_left_tri_low", FN) \
    X(MDIVIDE_RIGHT_TRI_LOW, "mdivide_right_tri_low", FN) \
    /* Constants and the log density accumulator. */ \
    X(E, "e", FN) X(PI, "pi", FN) X(SQRT2, "sqrt2", FN) X(NOT_A_NUMBER, "not_a_number", FN) \
    X(POSITIVE_INFINITY, "positive_infinity", FN) \
    X(NEGATIVE_INFINITY, "negative_infinity", FN) \
    X(MACHINE_PRECISION, "machine_precision", FN) X(TARGET, "target", FN) \
    /* Continuous univariate distributions. */ \
    X(NORMAL_LPDF, "normal_lpdf", LPDF) X(NORMAL_LCDF, "normal_lcdf", LCDF) \
    X(NORMAL_LCCDF, "normal_lccdf", LCCDF) X(NORMAL_CDF, "normal_cdf", CDF) \
    X(NORMAL_RNG, "normal_rng", RNG) \
    X(STD_NORMAL_LPDF, "std_normal_lpdf", LPDF) X(STD_NORMAL_LCDF, "std_normal_lcdf", LCDF) \
    X(STD_NORMAL_LCCDF, "std_normal_lccdf", LCCDF) X(STD_NORMAL_CDF, "std_normal_cdf", CDF) \
    X(STD_NORMAL_RNG, "std_normal_rng", RNG) \
    X(CAUCHY_LPDF, "cauchy_lpdf", LPDF) X(CAUCHY_LCDF, "cauchy_lcdf", LCDF) \
    X(CAUCHY_LCCDF, "cauchy_lccdf", LCCDF) X(CAUCHY_CDF, "cauchy_cdf", CDF) \
    X(CAUCHY_RNG, "cauchy_rng", RNG) \
    X(STUDENT_T_LPDF, "student_t_lpdf", LPDF) X(STUDENT_T_LCDF, "student_t_lcdf", LCDF) \
    X(STUDENT_T_LCCDF, "student_t_lccdf", LCCDF) X(STUDENT_T_CDF, "student_t_cdf", CDF) \
    X(STUDENT_T_RNG, "student_t_rng", RNG) \
    X(LOGNORMAL_LPDF, "lognormal_lpdf", LPDF) X(LOGNORMAL_LCDF, "lognormal_lcdf", LCDF) \
    X(LOGNORMAL_LCCDF, "lognormal_lccdf", LCCDF) X(LOGNORMAL_CDF, "lognormal_cdf", CDF) \
    X(LOGNORMAL_RNG, "lognormal_rng", RNG) \
    X(GAMMA_LPDF, "gamma_lpdf", LPDF) X(GAMMA_LCDF, "gamma_lcdf", LCDF) \
    X(GAMMA_LCCDF, "gamma_lccdf", LCCDF) X(GAMMA_CDF, "gamma_cdf", CDF) \
    X(GAMMA_RNG, "gamma_rng", RNG) \
    X(INV_GAMMA_LPDF, "inv_gamma_lpdf", LPDF) X(INV_GAMMA_LCDF, "inv_gamma_lcdf", LCDF) \
    X(INV_GAMMA_LCCDF, "inv_gamma_lccdf", LCCDF) X(INV_GAMMA_CDF, "inv_gamma_cdf", CDF) \
    X(INV_GAMMA_RNG, "inv_gamma_rng", RNG) \
    X(EXPONENTIAL_LPDF, "exponential_lpdf", LPDF) \
    X(EXPONENTIAL_LCDF, "exponential_lcdf", LCDF) \
    X(EXPONENTIAL_LCCDF, "exponential_lccdf", LCCDF) \
    X(EXPONENTIAL_CDF, "exponential_cdf", CDF) X(EXPONENTIAL_RNG, "exponential_rng", RNG) \
    X(BETA_LPDF, "beta_lpdf", LPDF) X(BETA_LCDF, "beta_lcdf", LCDF) \
    X(BETA_LCCDF, "beta_lccdf", LCCDF) X(BETA_CDF, "beta_cdf", CDF) \
    X(BETA_RNG, "beta_rng", RNG) \
    X(UNIFORM_LPDF, "uniform_lpdf", LPDF) X(UNIFORM_LCDF, "uniform_lcdf", LCDF) \
    X(UNIFORM_LCCDF, "uniform_lccdf", LCCDF) X(UNIFORM_CDF, "uniform_cdf", CDF) \
    X(UNIFORM_RNG, "uniform_rng", RNG) \
    X(DOUBLE_EXPONENTIAL_LPDF, "double_exponential_lpdf", LPDF) \
    X(DOUBLE_EXPONENTIAL_LCDF, "double_exponential_lcdf", LCDF) \
    X(DOUBLE_EXPONENTIAL_LCCDF, "double_exponential_lccdf", LCCDF) \
    X(DOUBLE_EXPONENTIAL_CDF, "double_exponential_cdf", CDF) \
    X(DOUBLE_EXPONENTIAL_RNG, "double_exponential_rng", RNG) \
    X(LOGISTIC_LPDF, "logistic_lpdf", LPDF) X(LOGISTIC_LCDF, "logistic_lcdf", LCDF) \
    X(LOGISTIC_LCCDF, "logistic_lccdf", LCCDF) X(LOGISTIC_CDF, "logistic_cdf", CDF) \
    X(LOGISTIC_RNG, "logistic_rng", RNG) \
    X(WEIBULL_LPDF, "weibull_lpdf", LPDF) X(WEIBULL_LCDF, "weibull_lcdf", LCDF) \
    X(WEIBULL_LCCDF, "weibull_lccdf", LCCDF) X(WEIBULL_CDF, "weibull_cdf", CDF) \
    X(WEIBULL_RNG, "weibull_rng", RNG) \
    X(CHI_SQUARE_LPDF, "chi_square_lpdf", LPDF) X(CHI_SQUARE_LCDF, "chi_square_lcdf", LCDF) \
    X(CHI_SQUARE_LCCDF, "chi_square_lccdf", LCCDF) X(CHI_SQUARE_CDF, "chi_square_cdf", CDF) \
    X(CHI_SQUARE_RNG, "chi_square_rng", RNG) \
    X(INV_CHI_SQUARE_LPDF, "inv_chi_square_lpdf", LPDF) \
    X(INV_CHI_SQUARE_LCDF, "inv_chi_square_lcdf", LCDF) \
    X(INV_CHI_SQUARE_LCCDF, "inv_chi_square_lccdf", LCCDF) \
    X(INV_CHI_SQUARE_CDF, "inv_chi_square_cdf", CDF) \
    X(INV_CHI_SQUARE_RNG, "inv_chi_square_rng", RNG) \
    X(SCALED_INV_CHI_SQUARE_LPDF, "scaled_inv_chi_square_lpdf", LPDF) \
    X(SCALED_INV_CHI_SQUARE_LCDF, "scaled_inv_chi_square_lcdf", LCDF) \
    X(SCALED_INV_CHI_SQUARE_LCCDF, "scaled_inv_chi_square_lccdf", LCCDF) \
    X(SCALED_INV_CHI_SQUARE_CDF, "scaled_inv_chi_square_cdf", CDF) \
    X(SCALED_INV_CHI_SQUARE_RNG, "scaled_inv_chi_square_rng", RNG) \
    X(GUMBEL_LPDF, "gumbel_lpdf", LPDF) X(GUMBEL_LCDF, "gumbel_lcdf", LCDF) \
    X(GUMBEL_LCCDF, "gumbel_lccdf", LCCDF) X(GUMBEL_CDF, "gumbel_cdf", CDF) \
    X(GUMBEL_RNG, "gumbel_rng", RNG) \
    /* Discrete distributions. */ \
    X(BERNOULLI_LPMF, "bernoulli_lpmf", LPMF) X(BERNOULLI_LCDF, "bernoulli_lcdf", LCDF) \
    X(BERNOULLI_LCCDF, "bernoulli_lccdf", LCCDF) X(BERNOULLI_CDF, "bernoulli_cdf", CDF) \
    X(BERNOULLI_RNG, "bernoulli_rng", RNG) \
    X(BERNOULLI_LOGIT_LPMF, "bernoulli_logit_lpmf", LPMF) \
    X(BERNOULLI_LOGIT_RNG, "bernoulli_logit_rng", RNG) \
    X(BINOMIAL_LPMF, "binomial_lpmf", LPMF) X(BINOMIAL_LCDF, "binomial_lcdf", LCDF) \
    X(BINOMIAL_LCCDF, "binomial_lccdf", LCCDF) X(BINOMIAL_CDF, "binomial_cdf", CDF) \
    X(BINOMIAL_RNG, "binomial_rng", RNG) \
    X(BINOMIAL_LOGIT_LPMF, "binomial_logit_lpmf", LPMF) \
    X(POISSON_LPMF, "poisson_lpmf", LPMF) X(POISSON_LCDF, "poisson_lcdf", LCDF) \
    X(POISSON_LCCDF, "poisson_lccdf", LCCDF) X(POISSON_CDF, "poisson_cdf", CDF) \
    X(POISSON_RNG, "poisson_rng", RNG) \
    X(POISSON_LOG_LPMF, "poisson_log_lpmf", LPMF) X(POISSON_LOG_RNG, "poisson_log_rng", RNG) \
    X(NEG_BINOMIAL_2_LPMF, "neg_binomial_2_lpmf", LPMF) \
    X(NEG_BINOMIAL_2_LCDF, "neg_binomial_2_lcdf", LCDF) \
    X(NEG_BINOMIAL_2_LCCDF, "neg_binomial_2_lccdf", LCCDF) \
    X(NEG_BINOMIAL_2_CDF, "neg_binomial_2_cdf", CDF) \
    X(NEG_BINOMIAL_2_RNG, "neg_binomial_2_rng", RNG) \
    X(NEG_BINOMIAL_2_LOG_LPMF, "neg_binomial_2_log_lpmf", LPMF) \
    X(NEG_BINOMIAL_2_LOG_RNG, "neg_binomial_2_log_rng", RNG) \
    X(CATEGORICAL_LPMF, "categorical_lpmf", LPMF) X(CATEGORICAL_RNG, "categorical_rng", RNG) \
    X(CATEGORICAL_LOGIT_LPMF, "categorical_logit_lpmf", LPMF) \
    X(CATEGORICAL_LOGIT_RNG, "categorical_logit_rng", RNG) \
    /* Multivariate distributions and generalised linear models. */ \
    X(DIRICHLET_LPDF, "dirichlet_lpdf", LPDF) X(DIRICHLET_RNG, "dirichlet_rng", RNG) \
    X(MULTI_NORMAL_LPDF, "multi_normal_lpdf", LPDF) \
    X(MULTI_NORMAL_RNG, "multi_normal_rng", RNG) \
    X(MULTI_NORMAL_CHOLESKY_LPDF, "multi_normal_cholesky_lpdf", LPDF) \
    X(MULTI_NORMAL_CHOLESKY_RNG, "multi_normal_cholesky_rng", RNG) \
    X(LKJ_CORR_LPDF, "lkj_corr_lpdf", LPDF) X(LKJ_CORR_RNG, "lkj_corr_rng", RNG) \
    X(LKJ_CORR_CHOLESKY_LPDF, "lkj_corr_cholesky_lpdf", LPDF) \
    X(LKJ_CORR_CHOLESKY_RNG, "lkj_corr_cholesky_rng", RNG) \
    X(BERNOULLI_LOGIT_GLM_LPMF, "bernoulli_logit_glm_lpmf", LPMF) \
    X(POISSON_LOG_GLM_LPMF, "poisson_log_glm_lpmf", LPMF) \
    X(NORMAL_ID_GLM_LPDF, "normal_id_glm_lpdf", LPDF)
/* clang-format on */

typedef enum ps_stan_fn {
#define PS_STAN_FN_ENUM_(id, name, kind) PS_STAN_FN_##id,
    PS_STAN_FUNCTIONS(PS_STAN_FN_ENUM_)
#undef PS_STAN_FN_ENUM_
        PS_STAN_N_FNS,
    PS_STAN_FN_USER = PS_STAN_N_FNS /* a call to a user-defined function */
} ps_stan_fn;

/* What kind of builtin a function is (the KIND column of PS_STAN_FUNCTIONS). */
typedef enum ps_stan_fn_kind {
    PS_STAN_KIND_OP = 0,
    PS_STAN_KIND_FN,
    PS_STAN_KIND_LPDF,
    PS_STAN_KIND_LPMF,
    PS_STAN_KIND_LCDF,
    PS_STAN_KIND_LCCDF,
    PS_STAN_KIND_CDF,
    PS_STAN_KIND_RNG
} ps_stan_fn_kind;

/* The name of a builtin ("normal_lpdf", "operator+"); "" for out-of-range values. */
const char *ps_stan_fn_name(ps_stan_fn fn);
ps_stan_fn_kind ps_stan_fn_kind_of(ps_stan_fn fn);

/*
 * Signatures. A builtin function has one or more signatures; each is identified by its
 * index in one constant table (0 .. ps_stan_sig_count()-1), stored as call.sig.
 *
 * A parameter is a pattern. After checking, the type of each argument expression is the
 * concrete type the pattern was matched with: int-based arguments passed where a
 * real-based type is expected are wrapped in PS_STAN_E_PROMOTE nodes. So lowering needs
 * the signature only to know which variant of fn was chosen; the shapes are on the
 * argument and call expressions.
 */
typedef enum ps_stan_pattern {
    PS_STAN_P_TYPE = 0,       /* exactly param.type */
    PS_STAN_P_REALS,          /* real, vector, row_vector or array[] real ("reals") */
    PS_STAN_P_INTS,           /* int or array[] int ("ints") */
    PS_STAN_P_VECTORS,        /* vector, row_vector, array[] vector, array[] row_vector */
    PS_STAN_P_REAL_OR_VECTOR, /* real or vector (GLM intercepts, scales, outcomes) */
    PS_STAN_P_VECTORISED,     /* any real-based type: real, vector, row_vector, matrix
                                 and arrays of them (element-wise functions) */
    PS_STAN_P_ANY,            /* any int- or real-based type, unchanged (no promotion) */
    PS_STAN_P_ARRAY,          /* any array type, unchanged */
    PS_STAN_P_ARRAY_OF        /* an array, any number of dimensions, of param.type.base */
} ps_stan_pattern;

/* How the result type of a signature is formed. */
typedef enum ps_stan_result {
    PS_STAN_R_TYPE = 0, /* sig.ret */
    PS_STAN_R_ARG0,     /* the type of the first argument (element-wise functions,
                           segment, head, cumulative_sum, ...) */
    PS_STAN_R_RNG,      /* sig.ret (int or real) if every argument is a scalar, else
                           an array[] of it (vectorised _rng functions) */
    PS_STAN_R_REP_ARRAY /* the first argument's type with one more array dimension
                           per further argument (rep_array) */
} ps_stan_result;

typedef struct ps_stan_param {
    uint8_t pattern;   /* ps_stan_pattern */
    ps_stan_type type; /* for P_TYPE (and P_ARRAY_OF: its base) */
    bool data_only;    /* the argument must not depend on parameters */
} ps_stan_param;

typedef struct ps_stan_sig {
    ps_stan_fn fn;
    uint8_t n_params;
    ps_stan_param params[PS_STAN_MAX_PARAMS];
    uint8_t result; /* ps_stan_result */
    ps_stan_type ret;
} ps_stan_sig;

/* Number of builtin signatures; a signature id is an index below this. */
int ps_stan_sig_count(void);

/* The signature with this id, or NULL when out of range. */
const ps_stan_sig *ps_stan_sig_get(int sig);

/* Writes "normal_lpdf(reals | reals, reals) => real" into buf; returns buf. */
const char *ps_stan_sig_format(int sig, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------
 * Expressions
 * ------------------------------------------------------------------------------------- */

typedef enum ps_stan_expr_kind {
    PS_STAN_E_INT = 0, /* integer literal: int_value */
    PS_STAN_E_REAL,    /* real literal: real_value */
    PS_STAN_E_STRING,  /* string literal (print/reject/fatal_error arguments): string */
    PS_STAN_E_VAR,     /* variable reference: var */
    PS_STAN_E_CALL,    /* operator, builtin or user function, distribution: call */
    PS_STAN_E_INDEX,   /* indexing and slicing x[i, a:b, :, idx]: index */
    PS_STAN_E_COND,    /* cond ? a : b: cond */
    PS_STAN_E_ARRAY,   /* array expression {a, b, c}: list */
    PS_STAN_E_ROWVEC,  /* row vector [a, b] (or matrix [[a, b], [c, d]]): list */
    PS_STAN_E_PROMOTE  /* int -> real promotion inserted by the checker: promote */
} ps_stan_expr_kind;

/* How a call was written (for messages and printers; the semantics are in fn). */
typedef enum ps_stan_syntax {
    PS_STAN_SYN_CALL = 0, /* f(x, y), normal_lpdf(y | mu, sigma) */
    PS_STAN_SYN_INFIX,    /* a + b */
    PS_STAN_SYN_PREFIX,   /* -a, !a, +a */
    PS_STAN_SYN_POSTFIX,  /* a' */
    PS_STAN_SYN_TILDE     /* the density call of a `y ~ dist(...)` statement */
} ps_stan_syntax;

/*
 * One index of an indexing expression. After checking:
 *   SINGLE: lo is an int expression; the dimension disappears from the result.
 *   MULTI:  lo is an array[] int expression (x[idx]); the dimension is kept.
 *   ALL:    `:` or an empty position (x[, j]); RANGE `lo:hi`, FROM `lo:`, TO `:hi` are
 *           inclusive 1-based ranges. These keep the dimension.
 */
typedef enum ps_stan_index_kind {
    PS_STAN_IDX_SINGLE = 0,
    PS_STAN_IDX_MULTI,
    PS_STAN_IDX_ALL,
    PS_STAN_IDX_RANGE,
    PS_STAN_IDX_FROM,
    PS_STAN_IDX_TO
} ps_stan_index_kind;

typedef struct ps_stan_index {
    ps_stan_index_kind kind;
    ps_stan_expr *lo; /* SINGLE, MULTI, RANGE, FROM */
    ps_stan_expr *hi; /* RANGE, TO */
    size_t offset;    /* byte offset of the index in the source */
} ps_stan_index;

struct ps_stan_expr {
    ps_stan_expr_kind kind;
    ps_stan_type type;   /* after checking */
    ps_stan_level level; /* after checking */
    size_t offset;       /* byte offset where the expression starts */
    size_t op_offset;    /* the operator or function name of a call; = offset otherwise */
    unsigned depth;      /* height of the tree below (1 for a leaf) */
    union {
        int32_t int_value;
        double real_value;
        struct {
            const char *text; /* without the quotes, NUL-terminated */
            size_t len;
        } string;
        struct {
            const char *name;
            const ps_stan_decl *decl; /* after checking */
        } var;
        struct {
            /* As written: "normal_lupdf", "+", "foo"; for the call of a `~` statement
             * the distribution, "normal". */
            const char *name;
            ps_stan_fn fn;              /* after checking; PS_STAN_FN_USER for user functions */
            int sig;                    /* builtin signature id, or -1 for user functions */
            const ps_stan_fundef *user; /* the resolved user function, or NULL */
            ps_stan_syntax syntax;
            bool propto;  /* _lupdf/_lupmf/`~`: constants may be dropped */
            bool has_bar; /* written with '|' after the first argument */
            size_t n_args;
            ps_stan_expr **args; /* for `y ~ dist(a, b)`: args = {y, a, b} */
        } call;
        struct {
            ps_stan_expr *base;
            size_t n_indices;
            ps_stan_index *indices;
        } index;
        struct {
            ps_stan_expr *cond, *then_expr, *else_expr;
        } cond;
        struct {
            size_t n; /* >= 1 */
            ps_stan_expr **elems;
        } list;
        struct {
            ps_stan_expr *arg; /* an int-based expression; type says what it becomes */
        } promote;
    } u;
};

/* ---------------------------------------------------------------------------------------
 * Statements
 * ------------------------------------------------------------------------------------- */

typedef enum ps_stan_stmt_kind {
    PS_STAN_S_DECL = 0, /* a variable declaration (top-level or local): decl */
    PS_STAN_S_ASSIGN,   /* lhs op rhs: assign */
    PS_STAN_S_TILDE,    /* y ~ dist(...): tilde */
    PS_STAN_S_TARGET,   /* target += value: target */
    PS_STAN_S_FOR,      /* for (var in lo:hi) body: for_range */
    PS_STAN_S_FOREACH,  /* for (var in container) body: foreach */
    PS_STAN_S_WHILE,    /* while (cond) body: while_loop */
    PS_STAN_S_IF,       /* if (cond) then_stmt [else else_stmt]: if_stmt */
    PS_STAN_S_BLOCK,    /* { ... } (and profile("name") { ... }): block */
    PS_STAN_S_BREAK,
    PS_STAN_S_CONTINUE,
    PS_STAN_S_PRINT,       /* print(...): print */
    PS_STAN_S_REJECT,      /* reject(...): print */
    PS_STAN_S_FATAL_ERROR, /* fatal_error(...): print */
    PS_STAN_S_RETURN,      /* return [value]: ret */
    PS_STAN_S_CALL,        /* a call to a void user function as a statement: call */
    PS_STAN_S_EMPTY        /* a lone ';' */
} ps_stan_stmt_kind;

/* Assignment operators; compound ones resolve to the operator's signature. */
typedef enum ps_stan_assign_op {
    PS_STAN_ASSIGN = 0,  /* = */
    PS_STAN_ASSIGN_ADD,  /* += (ADD) */
    PS_STAN_ASSIGN_SUB,  /* -= (SUBTRACT) */
    PS_STAN_ASSIGN_MUL,  /* *= (MULTIPLY) */
    PS_STAN_ASSIGN_DIV,  /* /= (DIVIDE) */
    PS_STAN_ASSIGN_EMUL, /* .*= (ELT_MULTIPLY) */
    PS_STAN_ASSIGN_EDIV  /* ./= (ELT_DIVIDE) */
} ps_stan_assign_op;

struct ps_stan_stmt {
    ps_stan_stmt_kind kind;
    size_t offset; /* byte offset of the first token */
    union {
        struct {
            ps_stan_decl *decl;
        } decl;
        struct {
            /* lhs is a PS_STAN_E_VAR or a chain of PS_STAN_E_INDEX over one; its type is
             * the type of the assigned part. For `=`, rhs has lhs's type (promoted); for
             * compound ops, sig is the operator signature (lhs, rhs) whose result has
             * lhs's type, else -1. */
            ps_stan_expr *lhs;
            ps_stan_assign_op op;
            ps_stan_expr *rhs;
            int sig;
            const ps_stan_decl *target; /* the assigned variable */
        } assign;
        struct {
            /* The resolved density call: fn is a _LPDF/_LPMF builtin (or a user _lpdf/
             * _lpmf function), propto = true, syntax TILDE, args[0] the left side. */
            ps_stan_expr *call;
            size_t dist_offset; /* byte offset of the distribution name */
        } tilde;
        struct {
            ps_stan_expr *value; /* real or any real-based container (summed) */
        } target;
        struct {
            ps_stan_decl *var; /* int, origin LOOP */
            ps_stan_expr *lo, *hi;
            ps_stan_stmt *body;
        } for_range;
        struct {
            ps_stan_decl *var;       /* the element type of container, origin LOOP */
            ps_stan_expr *container; /* array (over its first dimension), vector,
                                        row_vector or matrix (over all elements in
                                        column-major order) */
            ps_stan_stmt *body;
        } foreach;
        struct {
            ps_stan_expr *cond; /* int or real */
            ps_stan_stmt *body;
        } while_loop;
        struct {
            ps_stan_expr *cond; /* int or real */
            ps_stan_stmt *then_stmt;
            ps_stan_stmt *else_stmt; /* NULL without else */
        } if_stmt;
        struct {
            size_t n;
            ps_stan_stmt **stmts;
            const char *profile; /* the name of a profile("name") block, or NULL */
        } block;
        struct {
            size_t n;
            ps_stan_expr **args; /* expressions and PS_STAN_E_STRING literals */
        } print;
        struct {
            ps_stan_expr *value; /* NULL in a void function */
        } ret;
        struct {
            ps_stan_expr *call;
        } call;
    } u;
};

/* ---------------------------------------------------------------------------------------
 * User-defined functions (the functions block). Parsed always; checked only when
 * ps_stan_options.user_functions is set, otherwise their presence is a "not supported
 * yet" error. Lowering them comes later.
 * ------------------------------------------------------------------------------------- */

struct ps_stan_fundef {
    const char *name;
    size_t offset;    /* byte offset of the name */
    ps_stan_type ret; /* base PS_STAN_VOID for void functions */
    size_t n_args;
    ps_stan_decl **args;              /* origin ARG, unsized types */
    ps_stan_stmt *body;               /* a PS_STAN_S_BLOCK, or NULL for a forward declaration */
    const ps_stan_fundef *definition; /* for a forward declaration, the definition */
};

/* ---------------------------------------------------------------------------------------
 * Programs
 * ------------------------------------------------------------------------------------- */

typedef struct ps_stan_program ps_stan_program;

typedef struct ps_stan_options {
    bool check;          /* run the type checker (default true); false only parses, and
                            leaves types UNTYPED and references unresolved */
    bool user_functions; /* check user-defined functions instead of rejecting them */
} ps_stan_options;

/* The defaults: check = true, user_functions = false. */
ps_stan_options ps_stan_options_default(void);

/*
 * Parses and checks the Stan program text[0 .. len-1] (need not be NUL-terminated);
 * path is used in messages only (NULL shows "<input>"). On success *program receives a
 * new program (the caller destroys it). On failure *program is NULL and the first error
 * is recorded: PS_ERR_MODEL for errors in the program (syntax, types, unsupported
 * features), PS_ERR_MEM when an allocation failed. The text is copied. Local.
 */
ps_status ps_stan_program_parse(const char *path, const char *text, size_t len,
                                ps_stan_program **program);

/* The same with options (NULL for the defaults). */
ps_status ps_stan_program_parse_opts(const char *path, const char *text, size_t len,
                                     const ps_stan_options *options, ps_stan_program **program);

/* Reads the file at path and parses it; I/O errors are PS_ERR_IO. Local. */
ps_status ps_stan_program_parse_file(const char *path, ps_stan_program **program);

/* Frees the program and its whole tree; accepts NULL and sets *program to NULL. */
void ps_stan_program_destroy(ps_stan_program **program);

/* The path given at parse (never NULL), and the program's copy of the source text. */
const char *ps_stan_program_path(const ps_stan_program *program);
const char *ps_stan_program_text(const ps_stan_program *program, size_t *len);

/* True when the program has this block (possibly empty). */
bool ps_stan_program_has_block(const ps_stan_program *program, ps_stan_block block);

/*
 * The statements of a block in source order (top-level declarations are PS_STAN_S_DECL
 * statements among them); *n receives their number (0 for an absent block). The
 * functions block has no statements: see ps_stan_program_function().
 */
ps_stan_stmt *const *ps_stan_program_stmts(const ps_stan_program *program, ps_stan_block block,
                                           size_t *n);

/*
 * The top-level variables of a block in declaration order (decl->index is the position):
 * data variables, parameters, ... For the model block this is empty (its variables are
 * local). *n receives their number.
 */
ps_stan_decl *const *ps_stan_program_vars(const ps_stan_program *program, ps_stan_block block,
                                          size_t *n);

/* The top-level variable of any block with this name, or NULL. */
const ps_stan_decl *ps_stan_program_find_var(const ps_stan_program *program, const char *name);

/* The user-defined functions (definitions and forward declarations) in source order. */
size_t ps_stan_program_n_functions(const ps_stan_program *program);
const ps_stan_fundef *ps_stan_program_function(const ps_stan_program *program, size_t i);

/*
 * Records a located error about the program's source (for lowering: "FILE:LINE:COL:
 * error: MESSAGE" with the line and a caret at byte offset `offset`, e.g. expr->offset).
 * Returns status.
 */
ps_status ps_stan_program_error_at(const ps_stan_program *program, ps_status status, size_t offset,
                                   const char *fmt, ...) PS_PRINTF(4, 5);

/* ---------------------------------------------------------------------------------------
 * Walkers. Visit in source order, parents before children. A visitor returns true to
 * go on and false to stop the whole walk; the walk returns false when it was stopped.
 * The recursion depth is bounded by PS_STAN_MAX_EXPR_DEPTH and PS_STAN_MAX_NESTING.
 * ------------------------------------------------------------------------------------- */

typedef bool (*ps_stan_expr_visitor)(const ps_stan_expr *expr, void *ctx);
typedef bool (*ps_stan_stmt_visitor)(const ps_stan_stmt *stmt, void *ctx);

/* Visits expr and every subexpression (arguments, indices, branches, elements). */
bool ps_stan_expr_walk(const ps_stan_expr *expr, ps_stan_expr_visitor visit, void *ctx);

/*
 * Visits stmt and its nested statements with stmt_visit (may be NULL), and every
 * expression in them (including declaration sizes, bounds and initial values) with
 * expr_visit (may be NULL).
 */
bool ps_stan_stmt_walk(const ps_stan_stmt *stmt, ps_stan_stmt_visitor stmt_visit,
                       ps_stan_expr_visitor expr_visit, void *ctx);

#endif
