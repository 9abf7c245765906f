/*
 * The builtin functions of the Stan subset and their signatures, from the Stan Functions
 * Reference (2.3x). One constant table: a signature's id is its index. Vectorised
 * signatures use the patterns of ps_stan_pattern ("reals", "ints", "vectors") the way the
 * Functions Reference writes them, so that one entry covers every mix of scalars,
 * vectors, row vectors and 1-D arrays that Stan accepts.
 */
#include <stdio.h>
#include <string.h>

#include "lang/lang_impl.h"

/* ---------------------------------------------------------------------------------------
 * Function names and kinds
 * ------------------------------------------------------------------------------------- */

static const char *const fn_names[PS_STAN_N_FNS] = {
#define NAME_(id, name, kind) name,
    PS_STAN_FUNCTIONS(NAME_)
#undef NAME_
};

static const unsigned char fn_kinds[PS_STAN_N_FNS] = {
#define KIND_(id, name, kind) PS_STAN_KIND_##kind,
    PS_STAN_FUNCTIONS(KIND_)
#undef KIND_
};

const char *ps_stan_fn_name(ps_stan_fn fn)
{
    return (unsigned)fn < PS_STAN_N_FNS ? fn_names[fn] : "";
}

ps_stan_fn_kind ps_stan_fn_kind_of(ps_stan_fn fn)
{
    return (unsigned)fn < PS_STAN_N_FNS ? (ps_stan_fn_kind)fn_kinds[fn] : PS_STAN_KIND_FN;
}

int ps_stan_fn_lookup(const char *name)
{
    for (int i = 0; i < PS_STAN_N_FNS; i++)
        if (fn_kinds[i] != PS_STAN_KIND_OP && strcmp(fn_names[i], name) == 0)
            return i;
    return -1;
}

const char *ps_stan_fn_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (int i = 0; i < PS_STAN_N_FNS; i++) {
        if (fn_kinds[i] == PS_STAN_KIND_OP)
            continue;
        size_t d = ps_edit_distance(name, fn_names[i], 2);
        if (d < best_d) {
            best_d = d;
            best = fn_names[i];
        }
    }
    return best;
}

const char *ps_stan_op_symbol(ps_stan_fn fn)
{
    switch (fn) {
    case PS_STAN_FN_ADD:
    case PS_STAN_FN_PLUS:
        return "+";
    case PS_STAN_FN_SUBTRACT:
    case PS_STAN_FN_MINUS:
        return "-";
    case PS_STAN_FN_MULTIPLY:
        return "*";
    case PS_STAN_FN_DIVIDE:
        return "/";
    case PS_STAN_FN_MODULUS:
        return "%";
    case PS_STAN_FN_INT_DIVIDE:
        return "%/%";
    case PS_STAN_FN_ELT_MULTIPLY:
        return ".*";
    case PS_STAN_FN_ELT_DIVIDE:
        return "./";
    case PS_STAN_FN_ELT_POW:
        return ".^";
    case PS_STAN_FN_POW:
        return "^";
    case PS_STAN_FN_LT:
        return "<";
    case PS_STAN_FN_LE:
        return "<=";
    case PS_STAN_FN_GT:
        return ">";
    case PS_STAN_FN_GE:
        return ">=";
    case PS_STAN_FN_EQ:
        return "==";
    case PS_STAN_FN_NE:
        return "!=";
    case PS_STAN_FN_AND:
        return "&&";
    case PS_STAN_FN_OR:
        return "||";
    case PS_STAN_FN_NOT:
        return "!";
    case PS_STAN_FN_TRANSPOSE:
        return "'";
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------------------------------
 * Functions of Stan that psample does not have yet: calls get "not supported yet"
 * instead of "unknown function". Distribution names stand for all their suffixes.
 * ------------------------------------------------------------------------------------- */

static const char *const unsupported[] = {
    "gp_exp_quad_cov",
    "gp_matern32_cov",
    "gp_matern52_cov",
    "gp_exponential_cov",
    "gp_periodic_cov",
    "gp_dot_prod_cov",
    "cov_exp_quad",
    "integrate_ode",
    "integrate_ode_rk45",
    "integrate_ode_bdf",
    "integrate_ode_adams",
    "ode_rk45",
    "ode_rk45_tol",
    "ode_bdf",
    "ode_bdf_tol",
    "ode_adams",
    "ode_adams_tol",
    "ode_ckrk",
    "ode_ckrk_tol",
    "ode_adjoint_tol_ctl",
    "dae",
    "dae_tol",
    "algebra_solver",
    "algebra_solver_newton",
    "solve_newton",
    "solve_newton_tol",
    "solve_powell",
    "solve_powell_tol",
    "map_rect",
    "reduce_sum",
    "reduce_sum_static",
    "integrate_1d",
    "hmm_marginal",
    "hmm_latent_rng",
    "hmm_hidden_state_prob",
    "mdivide_left",
    "mdivide_right",
    "mdivide_left_spd",
    "mdivide_right_spd",
    "mdivide_right_tri",
    "mdivide_left_tri",
    "eigenvalues_sym",
    "eigenvectors_sym",
    "eigenvalues",
    "eigenvectors",
    "singular_values",
    "svd_U",
    "svd_V",
    "qr_Q",
    "qr_R",
    "qr_thin_Q",
    "qr_thin_R",
    "matrix_exp",
    "matrix_exp_multiply",
    "scale_matrix_exp_multiply",
    "matrix_power",
    "sort_indices_asc",
    "sort_indices_desc",
    "rank",
    "linspaced_vector",
    "linspaced_row_vector",
    "linspaced_array",
    "linspaced_int_array",
    "one_hot_vector",
    "one_hot_row_vector",
    "one_hot_array",
    "one_hot_int_array",
    "zeros_vector",
    "zeros_row_vector",
    "zeros_array",
    "zeros_int_array",
    "ones_vector",
    "ones_row_vector",
    "ones_array",
    "ones_int_array",
    "uniform_simplex",
    "identity_matrix",
    "csr_matrix_times_vector",
    "csr_extract_w",
    "csr_extract_v",
    "csr_extract_u",
    "csr_to_dense_matrix",
    "cholesky_factor_corr_constrain",
    "symmetrize_from_lower_tri",
    "log_modified_bessel_first_kind",
    "modified_bessel_first_kind",
    "bessel_first_kind",
    "bessel_second_kind",
    "modified_bessel_second_kind",
    "falling_factorial",
    "rising_factorial",
    "log_falling_factorial",
    "log_rising_factorial",
    "gamma_p",
    "gamma_q",
    "inc_beta",
    "lmgamma",
    "lmultiply",
    "multiply_log",
    "log_inv_logit_diff",
    "owens_t",
    "beta_function",
    "to_int",
    "to_complex",
    "get_real",
    "get_imag",
    "norm1",
    "norm2",
    "squared_distance",
    "distance",
    "log_softmax_rows",
    "softmax_rows",
    "generalized_inverse",
    "chol2inv",
    "trace_quad_form",
    "trace_gen_quad_form",
    "quad_form_sym_diag",
    "multiply_lower_tri_self_transpose_row",
    "tcrossprod_lower",
    "cumulative_sum_rows",
    "multi_student_t",
    "multi_student_t_cholesky",
    "multi_gp",
    "multi_gp_cholesky",
    "multi_normal_prec",
    "wishart",
    "inv_wishart",
    "wishart_cholesky",
    "inv_wishart_cholesky",
    "lkj_cov",
    "ordered_logistic",
    "ordered_probit",
    "beta_binomial",
    "neg_binomial",
    "neg_binomial_2_log_glm",
    "ordered_logistic_glm",
    "categorical_logit_glm",
    "hypergeometric",
    "multinomial",
    "multinomial_logit",
    "dirichlet_multinomial",
    "von_mises",
    "skew_normal",
    "skew_double_exponential",
    "exp_mod_normal",
    "pareto",
    "pareto_type_2",
    "frechet",
    "rayleigh",
    "wiener",
    "loglogistic",
    "beta_proportion",
    "discrete_range",
    "std_normal_log_qf",
    "std_normal_qf",
    "binomial_logit_glm",
    "poisson_binomial",
};

bool ps_stan_fn_unsupported(const char *name)
{
    static const char *const suffixes[] = {"_lpdf",  "_lupdf", "_lpmf", "_lupmf", "_lcdf",
                                           "_lccdf", "_cdf",   "_rng",  "_log"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const char *u = unsupported[i];
        size_t n = strlen(u);
        if (len < n || memcmp(name, u, n) != 0)
            continue;
        if (len == n)
            return true;
        for (size_t s = 0; s < sizeof suffixes / sizeof suffixes[0]; s++)
            if (strcmp(name + n, suffixes[s]) == 0)
                return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * The signature table
 * ------------------------------------------------------------------------------------- */

#define TY(b, d)                                                                                   \
    {                                                                                              \
        PS_STAN_##b, d                                                                             \
    }
#define P_(pat, b, d)                                                                              \
    {                                                                                              \
        PS_STAN_P_##pat, TY(b, d), false                                                           \
    }
#define I_ P_(TYPE, INT, 0)
#define R_ P_(TYPE, REAL, 0)
#define V_ P_(TYPE, VECTOR, 0)
#define RV_ P_(TYPE, ROW_VECTOR, 0)
#define M_ P_(TYPE, MATRIX, 0)
#define AI_ P_(TYPE, INT, 1)
#define AR_ P_(TYPE, REAL, 1)
#define AR2_ P_(TYPE, REAL, 2)
#define AV_ P_(TYPE, VECTOR, 1)
#define ARV_ P_(TYPE, ROW_VECTOR, 1)
#define REALS_ P_(REALS, REAL, 0)
#define INTS_ P_(INTS, INT, 0)
#define VECS_ P_(VECTORS, VECTOR, 0)
#define RORV_ P_(REAL_OR_VECTOR, REAL, 0)
#define VEC_ P_(VECTORISED, REAL, 0)
#define ANY_ P_(ANY, REAL, 0)
#define ARR_ P_(ARRAY, REAL, 0)
#define ARRI_ P_(ARRAY_OF, INT, 0)
#define ARRR_ P_(ARRAY_OF, REAL, 0)

/* S(fn, result kind, return type, n, params...) */
#define S(fn, res, ret, n, ...)                                                                    \
    {                                                                                              \
        PS_STAN_FN_##fn, n, {__VA_ARGS__}, PS_STAN_R_##res, ret                                    \
    }
#define RT(b) TY(b, 0)
#define NONE_ P_(TYPE, REAL, 0)

/* Helper expansions for families. */
#define ARITH_VV(fn)                                                                               \
    S(fn, TYPE, RT(VECTOR), 2, V_, V_), S(fn, TYPE, RT(ROW_VECTOR), 2, RV_, RV_),                  \
        S(fn, TYPE, RT(MATRIX), 2, M_, M_)
#define ARITH_VS(fn)                                                                               \
    S(fn, TYPE, RT(VECTOR), 2, V_, R_), S(fn, TYPE, RT(ROW_VECTOR), 2, RV_, R_),                   \
        S(fn, TYPE, RT(MATRIX), 2, M_, R_)
#define ARITH_SV(fn)                                                                               \
    S(fn, TYPE, RT(VECTOR), 2, R_, V_), S(fn, TYPE, RT(ROW_VECTOR), 2, R_, RV_),                   \
        S(fn, TYPE, RT(MATRIX), 2, R_, M_)
/* (int, int) => int and (real, real) => real */
#define ARITH2(fn) S(fn, TYPE, RT(INT), 2, I_, I_), S(fn, TYPE, RT(REAL), 2, R_, R_)
/* (int, int) => int and (real, real) => int: comparisons and logic */
#define CMP2(fn) S(fn, TYPE, RT(INT), 2, I_, I_), S(fn, TYPE, RT(INT), 2, R_, R_)
#define UNARY_V(fn) S(fn, ARG0, RT(REAL), 1, VEC_)
#define REAL2(fn) S(fn, TYPE, RT(REAL), 2, R_, R_)
#define REDUCE(fn)                                                                                 \
    S(fn, TYPE, RT(REAL), 1, AR_), S(fn, TYPE, RT(REAL), 1, V_), S(fn, TYPE, RT(REAL), 1, RV_),    \
        S(fn, TYPE, RT(REAL), 1, M_)
#define SHAPE1(fn, ret)                                                                            \
    S(fn, TYPE, RT(ret), 1, V_), S(fn, TYPE, RT(ret), 1, RV_), S(fn, TYPE, RT(ret), 1, M_)
#define CONST0(fn) S(fn, TYPE, RT(REAL), 0, NONE_)
#define MATFN(fn) S(fn, TYPE, RT(MATRIX), 1, M_)
/* A continuous univariate family with k parameters: lpdf, lcdf, lccdf, cdf, rng. (k is
 * passed explicitly: the parameter macros contain commas.) */
#define CONT(F, k, ...)                                                                            \
    S(F##_LPDF, TYPE, RT(REAL), 1 + k, REALS_, __VA_ARGS__),                                       \
        S(F##_LCDF, TYPE, RT(REAL), 1 + k, REALS_, __VA_ARGS__),                                   \
        S(F##_LCCDF, TYPE, RT(REAL), 1 + k, REALS_, __VA_ARGS__),                                  \
        S(F##_CDF, TYPE, RT(REAL), 1 + k, REALS_, __VA_ARGS__),                                    \
        S(F##_RNG, RNG, RT(REAL), k, __VA_ARGS__)
#define LOGMIX(T)                                                                                  \
    S(LOG_MIX, TYPE, RT(REAL), 2, T, V_), S(LOG_MIX, TYPE, RT(REAL), 2, T, RV_),                   \
        S(LOG_MIX, TYPE, RT(REAL), 2, T, AR_), S(LOG_MIX, TYPE, RT(REAL), 2, T, AV_),              \
        S(LOG_MIX, TYPE, RT(REAL), 2, T, ARV_)

static const ps_stan_sig sigs[] = {
    /* Arithmetic operators (Stan Functions Reference, "Matrix arithmetic operators"). */
    S(ADD, TYPE, RT(INT), 2, I_, I_),
    S(ADD, TYPE, RT(REAL), 2, R_, R_),
    ARITH_VV(ADD),
    ARITH_VS(ADD),
    ARITH_SV(ADD),
    S(SUBTRACT, TYPE, RT(INT), 2, I_, I_),
    S(SUBTRACT, TYPE, RT(REAL), 2, R_, R_),
    ARITH_VV(SUBTRACT),
    ARITH_VS(SUBTRACT),
    ARITH_SV(SUBTRACT),
    S(MULTIPLY, TYPE, RT(INT), 2, I_, I_),
    S(MULTIPLY, TYPE, RT(REAL), 2, R_, R_),
    ARITH_VS(MULTIPLY),
    ARITH_SV(MULTIPLY),
    S(MULTIPLY, TYPE, RT(REAL), 2, RV_, V_),
    S(MULTIPLY, TYPE, RT(MATRIX), 2, V_, RV_),
    S(MULTIPLY, TYPE, RT(VECTOR), 2, M_, V_),
    S(MULTIPLY, TYPE, RT(ROW_VECTOR), 2, RV_, M_),
    S(MULTIPLY, TYPE, RT(MATRIX), 2, M_, M_),
    S(DIVIDE, TYPE, RT(INT), 2, I_, I_),
    S(DIVIDE, TYPE, RT(REAL), 2, R_, R_),
    ARITH_VS(DIVIDE),
    S(DIVIDE, TYPE, RT(ROW_VECTOR), 2, RV_, M_),
    S(DIVIDE, TYPE, RT(MATRIX), 2, M_, M_),
    S(MODULUS, TYPE, RT(INT), 2, I_, I_),
    S(INT_DIVIDE, TYPE, RT(INT), 2, I_, I_),
    ARITH_VV(ELT_MULTIPLY),
    ARITH_VV(ELT_DIVIDE),
    ARITH_VS(ELT_DIVIDE),
    ARITH_SV(ELT_DIVIDE),
    ARITH_VV(ELT_POW),
    ARITH_VS(ELT_POW),
    ARITH_SV(ELT_POW),
    S(POW, TYPE, RT(REAL), 2, R_, R_),
    /* Comparison and logic: int results. */
    CMP2(LT),
    CMP2(LE),
    CMP2(GT),
    CMP2(GE),
    CMP2(EQ),
    CMP2(NE),
    CMP2(AND),
    CMP2(OR),
    S(NOT, TYPE, RT(INT), 1, I_),
    S(NOT, TYPE, RT(INT), 1, R_),
    /* Prefix minus and plus, transposition. */
    S(MINUS, TYPE, RT(INT), 1, I_),
    S(MINUS, TYPE, RT(REAL), 1, R_),
    S(MINUS, TYPE, RT(VECTOR), 1, V_),
    S(MINUS, TYPE, RT(ROW_VECTOR), 1, RV_),
    S(MINUS, TYPE, RT(MATRIX), 1, M_),
    S(PLUS, TYPE, RT(INT), 1, I_),
    S(PLUS, TYPE, RT(REAL), 1, R_),
    S(PLUS, TYPE, RT(VECTOR), 1, V_),
    S(PLUS, TYPE, RT(ROW_VECTOR), 1, RV_),
    S(PLUS, TYPE, RT(MATRIX), 1, M_),
    S(TRANSPOSE, TYPE, RT(ROW_VECTOR), 1, V_),
    S(TRANSPOSE, TYPE, RT(VECTOR), 1, RV_),
    S(TRANSPOSE, TYPE, RT(MATRIX), 1, M_),

    /* Element-wise ("vectorised") unary functions: any real-based shape to the same. */
    S(ABS, TYPE, RT(INT), 1, I_),
    S(ABS, ARG0, RT(INT), 1, ARRI_),
    UNARY_V(ABS),
    UNARY_V(FABS),
    UNARY_V(EXP),
    UNARY_V(LOG),
    UNARY_V(LOG2),
    S(LOG2, TYPE, RT(REAL), 0, NONE_),
    UNARY_V(LOG10),
    S(LOG10, TYPE, RT(REAL), 0, NONE_),
    UNARY_V(EXP2),
    UNARY_V(LOG1P),
    UNARY_V(EXPM1),
    UNARY_V(LOG1M),
    UNARY_V(LOG1M_EXP),
    UNARY_V(LOG1P_EXP),
    UNARY_V(INV_LOGIT),
    UNARY_V(LOGIT),
    UNARY_V(LOG_INV_LOGIT),
    UNARY_V(LOG1M_INV_LOGIT),
    UNARY_V(SQUARE),
    UNARY_V(SQRT),
    UNARY_V(CBRT),
    UNARY_V(INV),
    UNARY_V(INV_SQRT),
    UNARY_V(INV_SQUARE),
    UNARY_V(LGAMMA),
    UNARY_V(TGAMMA),
    UNARY_V(DIGAMMA),
    UNARY_V(TRIGAMMA),
    UNARY_V(SIN),
    UNARY_V(COS),
    UNARY_V(TAN),
    UNARY_V(ASIN),
    UNARY_V(ACOS),
    UNARY_V(ATAN),
    UNARY_V(SINH),
    UNARY_V(COSH),
    UNARY_V(TANH),
    UNARY_V(ASINH),
    UNARY_V(ACOSH),
    UNARY_V(ATANH),
    UNARY_V(PHI),
    UNARY_V(PHI_APPROX),
    UNARY_V(INV_PHI),
    UNARY_V(ERF),
    UNARY_V(ERFC),
    UNARY_V(FLOOR),
    UNARY_V(CEIL),
    UNARY_V(ROUND),
    UNARY_V(TRUNC),
    S(STEP, TYPE, RT(REAL), 1, R_),
    S(INT_STEP, TYPE, RT(INT), 1, I_),
    S(INT_STEP, TYPE, RT(INT), 1, R_),
    S(IS_INF, TYPE, RT(INT), 1, R_),
    S(IS_NAN, TYPE, RT(INT), 1, R_),

    /* Binary scalar functions. */
    REAL2(FMIN),
    REAL2(FMAX),
    REAL2(FDIM),
    REAL2(FMOD),
    REAL2(HYPOT),
    REAL2(ATAN2),
    REAL2(LBETA),
    REAL2(LCHOOSE),
    REAL2(BINOMIAL_COEFFICIENT_LOG),
    REAL2(LOG_DIFF_EXP),
    S(CHOOSE, TYPE, RT(INT), 2, I_, I_),
    S(FMA, TYPE, RT(REAL), 3, R_, R_, R_),
    ARITH2(MIN),
    S(MIN, TYPE, RT(INT), 1, AI_),
    REDUCE(MIN),
    ARITH2(MAX),
    S(MAX, TYPE, RT(INT), 1, AI_),
    REDUCE(MAX),
    S(LOG_SUM_EXP, TYPE, RT(REAL), 2, R_, R_),
    REDUCE(LOG_SUM_EXP),
    S(LOG_MIX, TYPE, RT(REAL), 3, R_, R_, R_),
    LOGMIX(V_),
    LOGMIX(RV_),
    LOGMIX(AR_),

    /* Reductions. */
    S(SUM, TYPE, RT(INT), 1, AI_),
    REDUCE(SUM),
    S(PROD, TYPE, RT(INT), 1, AI_),
    REDUCE(PROD),
    REDUCE(MEAN),
    REDUCE(VARIANCE),
    REDUCE(SD),
    S(DOT_PRODUCT, TYPE, RT(REAL), 2, V_, V_),
    S(DOT_PRODUCT, TYPE, RT(REAL), 2, V_, RV_),
    S(DOT_PRODUCT, TYPE, RT(REAL), 2, RV_, V_),
    S(DOT_PRODUCT, TYPE, RT(REAL), 2, RV_, RV_),
    S(DOT_PRODUCT, TYPE, RT(REAL), 2, AR_, AR_),
    S(DOT_SELF, TYPE, RT(REAL), 1, V_),
    S(DOT_SELF, TYPE, RT(REAL), 1, RV_),
    S(COLUMNS_DOT_PRODUCT, TYPE, RT(ROW_VECTOR), 2, V_, V_),
    S(COLUMNS_DOT_PRODUCT, TYPE, RT(ROW_VECTOR), 2, RV_, RV_),
    S(COLUMNS_DOT_PRODUCT, TYPE, RT(ROW_VECTOR), 2, M_, M_),
    S(ROWS_DOT_PRODUCT, TYPE, RT(VECTOR), 2, V_, V_),
    S(ROWS_DOT_PRODUCT, TYPE, RT(VECTOR), 2, RV_, RV_),
    S(ROWS_DOT_PRODUCT, TYPE, RT(VECTOR), 2, M_, M_),
    SHAPE1(COLUMNS_DOT_SELF, ROW_VECTOR),
    SHAPE1(ROWS_DOT_SELF, VECTOR),
    S(SOFTMAX, TYPE, RT(VECTOR), 1, V_),
    S(LOG_SOFTMAX, TYPE, RT(VECTOR), 1, V_),
    S(CUMULATIVE_SUM, TYPE, TY(INT, 1), 1, AI_),
    S(CUMULATIVE_SUM, TYPE, TY(REAL, 1), 1, AR_),
    S(CUMULATIVE_SUM, TYPE, RT(VECTOR), 1, V_),
    S(CUMULATIVE_SUM, TYPE, RT(ROW_VECTOR), 1, RV_),

    /* Construction and slicing. */
    S(REP_VECTOR, TYPE, RT(VECTOR), 2, R_, I_),
    S(REP_ROW_VECTOR, TYPE, RT(ROW_VECTOR), 2, R_, I_),
    S(REP_MATRIX, TYPE, RT(MATRIX), 3, R_, I_, I_),
    S(REP_MATRIX, TYPE, RT(MATRIX), 2, V_, I_),
    S(REP_MATRIX, TYPE, RT(MATRIX), 2, RV_, I_),
    S(REP_ARRAY, REP_ARRAY, RT(REAL), 2, ANY_, I_),
    S(REP_ARRAY, REP_ARRAY, RT(REAL), 3, ANY_, I_, I_),
    S(REP_ARRAY, REP_ARRAY, RT(REAL), 4, ANY_, I_, I_, I_),
    S(SEGMENT, ARG0, RT(REAL), 3, ARR_, I_, I_),
    S(SEGMENT, ARG0, RT(REAL), 3, V_, I_, I_),
    S(SEGMENT, ARG0, RT(REAL), 3, RV_, I_, I_),
    S(HEAD, ARG0, RT(REAL), 2, ARR_, I_),
    S(HEAD, ARG0, RT(REAL), 2, V_, I_),
    S(HEAD, ARG0, RT(REAL), 2, RV_, I_),
    S(TAIL, ARG0, RT(REAL), 2, ARR_, I_),
    S(TAIL, ARG0, RT(REAL), 2, V_, I_),
    S(TAIL, ARG0, RT(REAL), 2, RV_, I_),
    S(REVERSE, ARG0, RT(REAL), 1, ARR_),
    S(REVERSE, ARG0, RT(REAL), 1, V_),
    S(REVERSE, ARG0, RT(REAL), 1, RV_),
    S(SORT_ASC, ARG0, RT(REAL), 1, AI_),
    S(SORT_ASC, ARG0, RT(REAL), 1, AR_),
    S(SORT_ASC, ARG0, RT(REAL), 1, V_),
    S(SORT_ASC, ARG0, RT(REAL), 1, RV_),
    S(SORT_DESC, ARG0, RT(REAL), 1, AI_),
    S(SORT_DESC, ARG0, RT(REAL), 1, AR_),
    S(SORT_DESC, ARG0, RT(REAL), 1, V_),
    S(SORT_DESC, ARG0, RT(REAL), 1, RV_),
    S(TO_VECTOR, TYPE, RT(VECTOR), 1, V_),
    S(TO_VECTOR, TYPE, RT(VECTOR), 1, RV_),
    S(TO_VECTOR, TYPE, RT(VECTOR), 1, M_),
    S(TO_VECTOR, TYPE, RT(VECTOR), 1, AR_),
    S(TO_ROW_VECTOR, TYPE, RT(ROW_VECTOR), 1, V_),
    S(TO_ROW_VECTOR, TYPE, RT(ROW_VECTOR), 1, RV_),
    S(TO_ROW_VECTOR, TYPE, RT(ROW_VECTOR), 1, M_),
    S(TO_ROW_VECTOR, TYPE, RT(ROW_VECTOR), 1, AR_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 1, M_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 1, V_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 1, RV_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 1, AR2_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 1, ARV_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 3, M_, I_, I_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 3, V_, I_, I_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 3, RV_, I_, I_),
    S(TO_MATRIX, TYPE, RT(MATRIX), 3, AR_, I_, I_),
    S(TO_ARRAY_1D, TYPE, TY(REAL, 1), 1, V_),
    S(TO_ARRAY_1D, TYPE, TY(REAL, 1), 1, RV_),
    S(TO_ARRAY_1D, TYPE, TY(REAL, 1), 1, M_),
    S(TO_ARRAY_1D, TYPE, TY(INT, 1), 1, ARRI_),
    S(TO_ARRAY_1D, TYPE, TY(REAL, 1), 1, ARRR_),
    S(TO_ARRAY_2D, TYPE, TY(REAL, 2), 1, M_),
    S(SIZE, TYPE, RT(INT), 1, ARR_),
    S(SIZE, TYPE, RT(INT), 1, V_),
    S(SIZE, TYPE, RT(INT), 1, RV_),
    S(SIZE, TYPE, RT(INT), 1, M_),
    S(SIZE, TYPE, RT(INT), 1, I_),
    S(SIZE, TYPE, RT(INT), 1, R_),
    SHAPE1(ROWS, INT),
    SHAPE1(COLS, INT),
    S(NUM_ELEMENTS, TYPE, RT(INT), 1, ARR_),
    SHAPE1(NUM_ELEMENTS, INT),
    S(APPEND_ROW, TYPE, RT(MATRIX), 2, M_, M_),
    S(APPEND_ROW, TYPE, RT(MATRIX), 2, M_, RV_),
    S(APPEND_ROW, TYPE, RT(MATRIX), 2, RV_, M_),
    S(APPEND_ROW, TYPE, RT(MATRIX), 2, RV_, RV_),
    S(APPEND_ROW, TYPE, RT(VECTOR), 2, V_, V_),
    S(APPEND_ROW, TYPE, RT(VECTOR), 2, R_, V_),
    S(APPEND_ROW, TYPE, RT(VECTOR), 2, V_, R_),
    S(APPEND_COL, TYPE, RT(MATRIX), 2, M_, M_),
    S(APPEND_COL, TYPE, RT(MATRIX), 2, M_, V_),
    S(APPEND_COL, TYPE, RT(MATRIX), 2, V_, M_),
    S(APPEND_COL, TYPE, RT(MATRIX), 2, V_, V_),
    S(APPEND_COL, TYPE, RT(ROW_VECTOR), 2, RV_, RV_),
    S(APPEND_COL, TYPE, RT(ROW_VECTOR), 2, R_, RV_),
    S(APPEND_COL, TYPE, RT(ROW_VECTOR), 2, RV_, R_),
    S(COL, TYPE, RT(VECTOR), 2, M_, I_),
    S(ROW, TYPE, RT(ROW_VECTOR), 2, M_, I_),
    S(BLOCK, TYPE, RT(MATRIX), 5, M_, I_, I_, I_, I_),
    S(SUB_COL, TYPE, RT(VECTOR), 4, M_, I_, I_, I_),
    S(SUB_ROW, TYPE, RT(ROW_VECTOR), 4, M_, I_, I_, I_),

    /* Linear algebra. */
    S(DIAGONAL, TYPE, RT(VECTOR), 1, M_),
    S(DIAG_MATRIX, TYPE, RT(MATRIX), 1, V_),
    S(DIAG_PRE_MULTIPLY, TYPE, RT(MATRIX), 2, V_, M_),
    S(DIAG_PRE_MULTIPLY, TYPE, RT(MATRIX), 2, RV_, M_),
    S(DIAG_POST_MULTIPLY, TYPE, RT(MATRIX), 2, M_, V_),
    S(DIAG_POST_MULTIPLY, TYPE, RT(MATRIX), 2, M_, RV_),
    S(ADD_DIAG, TYPE, RT(MATRIX), 2, M_, R_),
    S(ADD_DIAG, TYPE, RT(MATRIX), 2, M_, V_),
    S(ADD_DIAG, TYPE, RT(MATRIX), 2, M_, RV_),
    S(QUAD_FORM, TYPE, RT(MATRIX), 2, M_, M_),
    S(QUAD_FORM, TYPE, RT(REAL), 2, M_, V_),
    S(QUAD_FORM_SYM, TYPE, RT(MATRIX), 2, M_, M_),
    S(QUAD_FORM_SYM, TYPE, RT(REAL), 2, M_, V_),
    S(QUAD_FORM_DIAG, TYPE, RT(MATRIX), 2, M_, V_),
    S(QUAD_FORM_DIAG, TYPE, RT(MATRIX), 2, M_, RV_),
    S(TRACE, TYPE, RT(REAL), 1, M_),
    MATFN(CHOLESKY_DECOMPOSE),
    MATFN(INVERSE),
    MATFN(INVERSE_SPD),
    S(DETERMINANT, TYPE, RT(REAL), 1, M_),
    S(LOG_DETERMINANT, TYPE, RT(REAL), 1, M_),
    MATFN(CROSSPROD),
    MATFN(TCROSSPROD),
    MATFN(MULTIPLY_LOWER_TRI_SELF_TRANSPOSE),
    S(MDIVIDE_LEFT_TRI_LOW, TYPE, RT(VECTOR), 2, M_, V_),
    S(MDIVIDE_LEFT_TRI_LOW, TYPE, RT(MATRIX), 2, M_, M_),
    S(MDIVIDE_RIGHT_TRI_LOW, TYPE, RT(ROW_VECTOR), 2, RV_, M_),
    S(MDIVIDE_RIGHT_TRI_LOW, TYPE, RT(MATRIX), 2, M_, M_),

    /* Constants and target(). */
    CONST0(E),
    CONST0(PI),
    CONST0(SQRT2),
    CONST0(NOT_A_NUMBER),
    CONST0(POSITIVE_INFINITY),
    CONST0(NEGATIVE_INFINITY),
    CONST0(MACHINE_PRECISION),
    CONST0(TARGET),

    /* Continuous univariate distributions: f(reals | reals, ...). */
    CONT(NORMAL, 2, REALS_, REALS_),
    S(STD_NORMAL_LPDF, TYPE, RT(REAL), 1, REALS_),
    S(STD_NORMAL_LCDF, TYPE, RT(REAL), 1, REALS_),
    S(STD_NORMAL_LCCDF, TYPE, RT(REAL), 1, REALS_),
    S(STD_NORMAL_CDF, TYPE, RT(REAL), 1, REALS_),
    S(STD_NORMAL_RNG, TYPE, RT(REAL), 0, NONE_),
    CONT(CAUCHY, 2, REALS_, REALS_),
    CONT(STUDENT_T, 3, REALS_, REALS_, REALS_),
    CONT(LOGNORMAL, 2, REALS_, REALS_),
    CONT(GAMMA, 2, REALS_, REALS_),
    CONT(INV_GAMMA, 2, REALS_, REALS_),
    CONT(EXPONENTIAL, 1, REALS_),
    CONT(BETA, 2, REALS_, REALS_),
    CONT(UNIFORM, 2, REALS_, REALS_),
    CONT(DOUBLE_EXPONENTIAL, 2, REALS_, REALS_),
    CONT(LOGISTIC, 2, REALS_, REALS_),
    CONT(WEIBULL, 2, REALS_, REALS_),
    CONT(CHI_SQUARE, 1, REALS_),
    CONT(INV_CHI_SQUARE, 1, REALS_),
    CONT(SCALED_INV_CHI_SQUARE, 2, REALS_, REALS_),
    CONT(GUMBEL, 2, REALS_, REALS_),

    /* Discrete distributions: f(ints | ...). */
    S(BERNOULLI_LPMF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(BERNOULLI_LCDF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(BERNOULLI_LCCDF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(BERNOULLI_CDF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(BERNOULLI_RNG, RNG, RT(INT), 1, REALS_),
    S(BERNOULLI_LOGIT_LPMF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(BERNOULLI_LOGIT_RNG, RNG, RT(INT), 1, REALS_),
    S(BINOMIAL_LPMF, TYPE, RT(REAL), 3, INTS_, INTS_, REALS_),
    S(BINOMIAL_LCDF, TYPE, RT(REAL), 3, INTS_, INTS_, REALS_),
    S(BINOMIAL_LCCDF, TYPE, RT(REAL), 3, INTS_, INTS_, REALS_),
    S(BINOMIAL_CDF, TYPE, RT(REAL), 3, INTS_, INTS_, REALS_),
    S(BINOMIAL_RNG, RNG, RT(INT), 2, INTS_, REALS_),
    S(BINOMIAL_LOGIT_LPMF, TYPE, RT(REAL), 3, INTS_, INTS_, REALS_),
    S(POISSON_LPMF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(POISSON_LCDF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(POISSON_LCCDF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(POISSON_CDF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(POISSON_RNG, RNG, RT(INT), 1, REALS_),
    S(POISSON_LOG_LPMF, TYPE, RT(REAL), 2, INTS_, REALS_),
    S(POISSON_LOG_RNG, RNG, RT(INT), 1, REALS_),
    S(NEG_BINOMIAL_2_LPMF, TYPE, RT(REAL), 3, INTS_, REALS_, REALS_),
    S(NEG_BINOMIAL_2_LCDF, TYPE, RT(REAL), 3, INTS_, REALS_, REALS_),
    S(NEG_BINOMIAL_2_LCCDF, TYPE, RT(REAL), 3, INTS_, REALS_, REALS_),
    S(NEG_BINOMIAL_2_CDF, TYPE, RT(REAL), 3, INTS_, REALS_, REALS_),
    S(NEG_BINOMIAL_2_RNG, RNG, RT(INT), 2, REALS_, REALS_),
    S(NEG_BINOMIAL_2_LOG_LPMF, TYPE, RT(REAL), 3, INTS_, REALS_, REALS_),
    S(NEG_BINOMIAL_2_LOG_RNG, RNG, RT(INT), 2, REALS_, REALS_),
    S(CATEGORICAL_LPMF, TYPE, RT(REAL), 2, INTS_, V_),
    S(CATEGORICAL_RNG, TYPE, RT(INT), 1, V_),
    S(CATEGORICAL_LOGIT_LPMF, TYPE, RT(REAL), 2, INTS_, V_),
    S(CATEGORICAL_LOGIT_RNG, TYPE, RT(INT), 1, V_),

    /* Multivariate distributions. */
    S(DIRICHLET_LPDF, TYPE, RT(REAL), 2, VECS_, VECS_),
    S(DIRICHLET_RNG, TYPE, RT(VECTOR), 1, V_),
    S(MULTI_NORMAL_LPDF, TYPE, RT(REAL), 3, VECS_, VECS_, M_),
    S(MULTI_NORMAL_RNG, TYPE, RT(VECTOR), 2, V_, M_),
    S(MULTI_NORMAL_RNG, TYPE, RT(VECTOR), 2, RV_, M_),
    S(MULTI_NORMAL_RNG, TYPE, TY(VECTOR, 1), 2, AV_, M_),
    S(MULTI_NORMAL_RNG, TYPE, TY(VECTOR, 1), 2, ARV_, M_),
    S(MULTI_NORMAL_CHOLESKY_LPDF, TYPE, RT(REAL), 3, VECS_, VECS_, M_),
    S(MULTI_NORMAL_CHOLESKY_RNG, TYPE, RT(VECTOR), 2, V_, M_),
    S(MULTI_NORMAL_CHOLESKY_RNG, TYPE, RT(VECTOR), 2, RV_, M_),
    S(MULTI_NORMAL_CHOLESKY_RNG, TYPE, TY(VECTOR, 1), 2, AV_, M_),
    S(MULTI_NORMAL_CHOLESKY_RNG, TYPE, TY(VECTOR, 1), 2, ARV_, M_),
    S(LKJ_CORR_LPDF, TYPE, RT(REAL), 2, M_, R_),
    S(LKJ_CORR_RNG, TYPE, RT(MATRIX), 2, I_, R_),
    S(LKJ_CORR_CHOLESKY_LPDF, TYPE, RT(REAL), 2, M_, R_),
    S(LKJ_CORR_CHOLESKY_RNG, TYPE, RT(MATRIX), 2, I_, R_),

    /* Generalised linear models (y | x, alpha, beta[, sigma]). */
    S(BERNOULLI_LOGIT_GLM_LPMF, TYPE, RT(REAL), 4, INTS_, M_, RORV_, V_),
    S(BERNOULLI_LOGIT_GLM_LPMF, TYPE, RT(REAL), 4, INTS_, RV_, RORV_, V_),
    S(POISSON_LOG_GLM_LPMF, TYPE, RT(REAL), 4, INTS_, M_, RORV_, V_),
    S(POISSON_LOG_GLM_LPMF, TYPE, RT(REAL), 4, INTS_, RV_, RORV_, V_),
    S(NORMAL_ID_GLM_LPDF, TYPE, RT(REAL), 5, RORV_, M_, RORV_, V_, RORV_),
    S(NORMAL_ID_GLM_LPDF, TYPE, RT(REAL), 5, RORV_, RV_, RORV_, V_, RORV_),
};

int ps_stan_sig_count(void)
{
    return (int)(sizeof sigs / sizeof sigs[0]);
}

const ps_stan_sig *ps_stan_sig_get(int sig)
{
    if (sig < 0 || sig >= ps_stan_sig_count())
        return NULL;
    return &sigs[sig];
}

/* ---------------------------------------------------------------------------------------
 * Describing signatures
 * ------------------------------------------------------------------------------------- */

static void describe_param(ps_strbuf *sb, const ps_stan_param *p)
{
    char buf[64];
    switch ((ps_stan_pattern)p->pattern) {
    case PS_STAN_P_TYPE:
        ps_strbuf_puts(sb, ps_stan_type_format(p->type, buf, sizeof buf));
        return;
    case PS_STAN_P_REALS:
        ps_strbuf_puts(sb, "reals");
        return;
    case PS_STAN_P_INTS:
        ps_strbuf_puts(sb, "ints");
        return;
    case PS_STAN_P_VECTORS:
        ps_strbuf_puts(sb, "vectors");
        return;
    case PS_STAN_P_REAL_OR_VECTOR:
        ps_strbuf_puts(sb, "real or vector");
        return;
    case PS_STAN_P_VECTORISED:
        ps_strbuf_puts(sb, "T (any real-valued type)");
        return;
    case PS_STAN_P_ANY:
        ps_strbuf_puts(sb, "T");
        return;
    case PS_STAN_P_ARRAY:
        ps_strbuf_puts(sb, "array[...] T");
        return;
    case PS_STAN_P_ARRAY_OF:
        ps_strbuf_printf(sb, "array[...] %s", p->type.base == PS_STAN_INT ? "int" : "real");
        return;
    }
}

static bool uses_bar(ps_stan_fn fn)
{
    switch (ps_stan_fn_kind_of(fn)) {
    case PS_STAN_KIND_LPDF:
    case PS_STAN_KIND_LPMF:
    case PS_STAN_KIND_LCDF:
    case PS_STAN_KIND_LCCDF:
    case PS_STAN_KIND_CDF:
        return true;
    default:
        return false;
    }
}

void ps_stan_sig_describe(ps_strbuf *sb, int id, bool with_result)
{
    const ps_stan_sig *s = ps_stan_sig_get(id);
    if (s == NULL)
        return;
    const char *symbol = ps_stan_op_symbol(s->fn);
    bool is_op = ps_stan_fn_kind_of(s->fn) == PS_STAN_KIND_OP;
    if (is_op && s->n_params == 2) {
        describe_param(sb, &s->params[0]);
        ps_strbuf_printf(sb, " %s ", symbol);
        describe_param(sb, &s->params[1]);
    } else if (is_op && s->fn == PS_STAN_FN_TRANSPOSE) {
        describe_param(sb, &s->params[0]);
        ps_strbuf_puts(sb, "'");
    } else if (is_op) {
        ps_strbuf_puts(sb, symbol);
        describe_param(sb, &s->params[0]);
    } else {
        ps_strbuf_printf(sb, "%s(", ps_stan_fn_name(s->fn));
        for (unsigned i = 0; i < s->n_params; i++) {
            if (i > 0)
                ps_strbuf_puts(sb, i == 1 && uses_bar(s->fn) ? " | " : ", ");
            describe_param(sb, &s->params[i]);
        }
        ps_strbuf_puts(sb, ")");
    }
    if (with_result) {
        char buf[64];
        switch ((ps_stan_result)s->result) {
        case PS_STAN_R_TYPE:
            ps_strbuf_printf(sb, " => %s", ps_stan_type_format(s->ret, buf, sizeof buf));
            break;
        case PS_STAN_R_ARG0:
            ps_strbuf_puts(sb, " => (type of the first argument)");
            break;
        case PS_STAN_R_RNG:
            ps_strbuf_printf(sb, " => %s or array[] %s",
                             ps_stan_type_format(s->ret, buf, sizeof buf), buf);
            break;
        case PS_STAN_R_REP_ARRAY:
            ps_strbuf_puts(sb, " => array[...] T");
            break;
        }
    }
}

const char *ps_stan_sig_format(int sig, char *buf, size_t size)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_stan_sig_describe(&sb, sig, true);
    if (size > 0)
        snprintf(buf, size, "%s", sb.failed ? "" : ps_strbuf_str(&sb));
    ps_strbuf_fini(&sb);
    return buf;
}
