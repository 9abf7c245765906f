/*
 * Private to the compiled Stan model (src/model/stan_*.c): the lowered form of a checked
 * program and the per-chain evaluation state.
 *
 * Lowered form. A checked program (src/lang/lang.h) is lowered once, at construction, to
 * a tree of small immutable nodes that carry their evaluation function ("closure
 * compilation"): every expression becomes an `lx` whose `eval` (any type) or `ieval`
 * (int scalars) function computes its value from its children, and every statement an
 * `ls` whose `exec` function runs it. Names are resolved to variable slots, builtin
 * calls to implementation functions, and sizes, bounds and every data-only subexpression
 * are evaluated once and stored as constants in the model (constant folding). Evaluating
 * the log density is one walk over these nodes; no name lookups, no AST.
 *
 * Values. A value at run time (`sval`) is a shape and either a ps_adv (real-based
 * values, on the AD tape or constant) or a pointer to ints. All scalars of a value are
 * flat in one layout: array dimensions row-major (outermost first), each element (the
 * "cell": a real, a vector, a row vector or a matrix) column-major inside. A real array
 * is a ps_adv of n x 1; a non-array value has the ps_adv shape of its cell. This makes
 * every contiguous part (an element, a cell, a column) an alias with no copy.
 *
 * Variables. Values on the tape are immutable (nodes keep pointers to their operands'
 * values), so a variable is a binding, not storage: its state (`vstate`) is either a
 * whole value or, once single elements have been assigned, one scalar handle per element
 * (as Stan's arrays of var). Reading the whole again finds out whether the handles are
 * still one contiguous block (then it aliases it) or gathers them with one node. Int
 * variables carry no derivatives and are plain mutable storage.
 *
 * Threads. The model (stan_model and every node) is immutable after construction; all
 * mutable state of an evaluation lives in a frame, one per workspace (chain).
 */
#ifndef PS_MODEL_STAN_IMPL_H
#define PS_MODEL_STAN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ad/ad.h"
#include "core/core.h"
#include "lang/lang.h"
#include "model/model.h"

/* ---------------------------------------------------------------------------------------
 * Memory: a bump arena that owns the lowered nodes and the model's constants.
 * ------------------------------------------------------------------------------------- */

typedef struct sm_chunk sm_chunk;

typedef struct sm_arena {
    sm_chunk *head;
    size_t total; /* bytes handed out */
} sm_arena;

/* Zeroed memory of size bytes aligned to 32 bytes, or NULL (nothing recorded). */
void *sm_arena_alloc(sm_arena *arena, size_t size);
void sm_arena_fini(sm_arena *arena);

/* ---------------------------------------------------------------------------------------
 * Shapes and values
 * ------------------------------------------------------------------------------------- */

typedef struct sshape {
    uint8_t base; /* ps_stan_base: INT, REAL, VECTOR, ROW_VECTOR, MATRIX */
    uint8_t nd;   /* array dimensions */
    uint32_t dim[PS_STAN_MAX_ARRAY_DIMS];
    uint32_t r, c; /* cell rows and columns: 1 x 1 for int and real */
} sshape;

typedef struct sval {
    ps_adv x;      /* real-based: all values in the flat layout */
    const int *iv; /* int-based: all values */
    sshape s;
} sval;

/* Number of cells (product of the array dimensions) and of scalars. */
size_t sshape_cells(const sshape *s);
size_t sshape_count(const sshape *s);
bool sshape_equal(const sshape *a, const sshape *b);
/* "vector[8]", "array[2, 3] real", "matrix[3, 4]" into buf; returns buf. */
const char *sshape_format(const sshape *s, char *buf, size_t size);

/* A real scalar value. */
static inline sval sval_real(ps_adv x)
{
    sval v = {x, NULL, {PS_STAN_REAL, 0, {0}, 1, 1}};
    return v;
}

/* Sets out->x = x viewed with the shape s (rows/cols fixed to the layout's rule). */
void sval_set_real(sval *out, ps_adv x, const sshape *s);

/* ---------------------------------------------------------------------------------------
 * The frame: mutable state of one evaluation (one per workspace)
 * ------------------------------------------------------------------------------------- */

typedef struct vstate {
    sval val;     /* the whole value (valid when `whole`), with the declared shape */
    ps_adv *scal; /* per-scalar handles (valid when `scal_ok`); real variables */
    int *istore;  /* int variables: storage of all values */
    int iscalar;  /* storage of an int scalar */
    bool whole, scal_ok;
} vstate;

typedef struct stan_model stan_model;

enum { FLOW_NORMAL = 0, FLOW_BREAK = 1, FLOW_CONTINUE = 2 };
enum { SM_MESSAGE_CAP = 2048 };

typedef struct frame {
    ps_ad_tape *tape;
    const stan_model *m;
    vstate *vars; /* one per slot */
    size_t n_vars;
    bool jacobian;
    int flow;        /* FLOW_* after a break/continue, until the loop takes it */
    bool located;    /* the current failure already carries its source location */
    uint64_t budget; /* loop iterations left in this evaluation (with a loop budget) */
    char message[SM_MESSAGE_CAP];
} frame;

/* ---------------------------------------------------------------------------------------
 * Lowered expressions
 * ------------------------------------------------------------------------------------- */

typedef struct lx lx;
typedef ps_status (*lx_eval_fn)(const lx *e, frame *f, sval *out);
typedef ps_status (*lx_ieval_fn)(const lx *e, frame *f, int *out);
typedef ps_status (*lx_seval_fn)(const lx *e, frame *f, ps_adv *out);
/* A builtin's implementation, given its evaluated arguments. */
typedef ps_status (*lx_impl_fn)(frame *f, const lx *e, const sval *args, sval *out);

typedef struct lidx {
    uint8_t kind; /* ps_stan_index_kind */
    lx *lo, *hi;
} lidx;

struct lx {
    lx_eval_fn eval;   /* every expression */
    lx_ieval_fn ieval; /* int scalars only */
    lx_seval_fn seval; /* real scalars only: the value without its shape */
    ps_stan_type type;
    ps_stan_level level;
    size_t offset; /* source offset (messages) */
    uint32_t n_args;
    lx **args;
    /* Per kind: */
    sval cval;       /* a constant (literals, folded values, data) */
    int ival;        /* an int constant */
    int slot;        /* a variable slot */
    int op;          /* an operation code (ps_ad_unop, ps_ad_binop, ps_stan_fn, ...) */
    ps_stan_fn fn;   /* the builtin called */
    bool propto;     /* density calls */
    lx_impl_fn impl; /* builtin calls */
    uint32_t n_idx;  /* indexing */
    lidx *idx;
    const char *name; /* the variable or function name, for messages */
    int imin, imax;   /* a constant int array: its smallest and largest value */
    double konst;     /* a call's precomputed constant term (GLMs with constant data) */
    bool foldable;    /* lowering: computable once from constants */
    bool is_const;    /* a constant node (eval == sm_eval_const) */
};

/* Evaluates e into out; int scalars may also be evaluated with sm_ieval. */
static inline ps_status sm_eval(const lx *e, frame *f, sval *out)
{
    return e->eval(e, f, out);
}
static inline ps_status sm_ieval(const lx *e, frame *f, int *out)
{
    return e->ieval(e, f, out);
}
static inline ps_status sm_seval(const lx *e, frame *f, ps_adv *out)
{
    return e->seval(e, f, out);
}

/* ---------------------------------------------------------------------------------------
 * Lowered declarations and statements
 * ------------------------------------------------------------------------------------- */

typedef struct ldecl {
    const ps_stan_decl *decl;
    const char *name;
    int slot;
    ps_stan_type type;
    ps_stan_constraint constraint;
    uint32_t n_sizes;
    lx *sizes[PS_STAN_MAX_ARRAY_DIMS + 2]; /* array sizes, then element sizes */
    lx *lower, *upper, *offset_e, *multiplier;
    lx *init;
    bool top;     /* a top-level variable (data ... generated quantities) */
    sshape shape; /* top-level variables of parameters/transformed parameters: sizes */
} ldecl;

typedef struct ls ls;
typedef ps_status (*ls_exec_fn)(const ls *s, frame *f);

struct ls {
    ls_exec_fn exec;
    size_t offset;
    lx *e[4];  /* expressions (meaning per kind) */
    ls **body; /* nested statements */
    size_t n_body;
    ldecl *d;       /* declarations */
    int slot;       /* loop variable / assigned variable */
    uint32_t n_idx; /* assignment to an indexed variable */
    lidx *idx;
    bool is_int; /* assigned variable is int-based */
    const char *name;
    int n_print; /* print/reject: the arguments (strings as constants) */
    const char **strings;
};

/* Runs one statement, adding the statement's location to a failure. */
ps_status sm_exec(const ls *s, frame *f);

/* ---------------------------------------------------------------------------------------
 * Parameters and the model
 * ------------------------------------------------------------------------------------- */

typedef struct lparam {
    ldecl *d;
    size_t offset;    /* first unconstrained coordinate */
    size_t free_size; /* unconstrained coordinates */
} lparam;

typedef struct lout {
    ldecl *d; /* a parameter or transformed parameter */
    size_t offset;
} lout;

struct stan_model {
    ps_stan_program *prog;
    sm_arena arena;
    size_t n_slots;
    char **slot_names; /* for messages */
    lparam *params;
    size_t n_params;
    ldecl **tparams;
    size_t n_tparams;
    ls *tp_body;    /* transformed parameters block (a block statement), or NULL */
    ls *model_body; /* model block, or NULL */
    size_t dim;     /* unconstrained dimension */
    size_t n_out;   /* output values */
    bool has_gq;
    const char *path;     /* the program's path (messages) */
    uint64_t loop_budget; /* loop iterations allowed per evaluation (0: unlimited) */
    size_t max_elements;  /* largest container (0: unlimited) */
};

/* Construction options (ps_model_stan_create uses the defaults: all zero but the paths). */
typedef struct sm_options {
    const char *stan_path; /* the program's file, or its name in messages when text is set */
    const char *text;      /* the program text (NULL: read stan_path) */
    size_t text_len;
    const char *data_path; /* NULL or "" for none */
    unsigned int seed;
    uint64_t loop_budget; /* bounds for untrusted programs (fuzzing): loop iterations per */
    size_t max_elements;  /* evaluation, elements of one container; 0 is unlimited */
    bool quiet;           /* no warnings */
} sm_options;

/* Compiles a program (stan_model.c). Errors as ps_model_stan_create. */
ps_status sm_model_create(const sm_options *opt, ps_model **out);
/* Fails with a located error when a container of n elements is over the model's limit. */
ps_status sm_check_elements(frame *f, size_t n, size_t offset);

/* ---------------------------------------------------------------------------------------
 * Functions across the files
 * ------------------------------------------------------------------------------------- */

/* stan_value.c: variables, indexing, conversions */
ps_status sm_frame_init(frame *f, const stan_model *m, ps_ad_tape *tape, vstate *vars);
void sm_frame_reset(frame *f);
ps_status sm_var_read(frame *f, int slot, sval *out);
ps_status sm_var_assign(frame *f, int slot, const sval *value, const char *name, size_t offset);
ps_status sm_var_declare(frame *f, int slot, const sshape *shape, bool is_int);
/* Binds a real variable to separate blocks, one per cell (arrays of constrained
 * parameters). */
ps_status sm_var_bind_cells(frame *f, int slot, const sshape *shape, const ps_adv *cells,
                            size_t n_cells);
/* Evaluates an indexing expression base[idx...] where base is a slot variable or a value. */
ps_status sm_index_read(frame *f, const lx *e, sval *out);
ps_status sm_index_assign(frame *f, const ls *s, const sval *value);
/* Fast paths with one int index per axis (scalar results and element assignments). */
ps_status sm_eval_index_singles(const lx *e, frame *f, sval *out);
ps_status sm_ieval_index_singles(const lx *e, frame *f, int *out);
ps_status sm_assign_singles(frame *f, const ls *s, const sval *value);
/* Converts an int value to a real one (arena constant). */
ps_status sm_promote(frame *f, const sval *in, ps_stan_type to, sval *out);
/* A real constant block of the given shape filled with x (arena). */
ps_status sm_const_fill(frame *f, const sshape *s, double x, sval *out);
/* Gathers a real value from per-scalar handles (aliasing when they are one block). */
ps_status sm_from_handles(frame *f, const ps_adv *h, const sshape *s, sval *out);
/* Gathers the scalars of a real value at 0-based flat positions into a value of shape s. */
ps_status sm_gather(frame *f, const sval *in, const uint32_t *pos, const sshape *s, sval *out);
/* Arena ints. */
ps_status sm_alloc_ints(frame *f, size_t n, int **out);
/* Records a located fatal error about the program (PS_ERR_MODEL unless status given). */
ps_status sm_error_at(const frame *f, ps_status status, size_t offset, const char *fmt, ...)
    PS_PRINTF(4, 5);

/* stan_expr.c: evaluation functions of the node kinds (used by the lowering). */
ps_status sm_eval_const(const lx *e, frame *f, sval *out);
ps_status sm_ieval_const(const lx *e, frame *f, int *out);
ps_status sm_eval_var(const lx *e, frame *f, sval *out);
ps_status sm_ieval_var(const lx *e, frame *f, int *out);
ps_status sm_eval_index(const lx *e, frame *f, sval *out);
ps_status sm_ieval_index(const lx *e, frame *f, int *out);
ps_status sm_eval_cond(const lx *e, frame *f, sval *out);
ps_status sm_ieval_cond(const lx *e, frame *f, int *out);
ps_status sm_eval_list(const lx *e, frame *f, sval *out);
ps_status sm_eval_promote(const lx *e, frame *f, sval *out);
ps_status sm_eval_int_as_value(const lx *e, frame *f, sval *out);
ps_status sm_eval_call(const lx *e, frame *f, sval *out);
ps_status sm_ieval_call(const lx *e, frame *f, int *out);
ps_status sm_eval_unary(const lx *e, frame *f, sval *out);
ps_status sm_eval_binary(const lx *e, frame *f, sval *out);
ps_status sm_eval_fma(const lx *e, frame *f, sval *out);
/* stan_nodes.c: a + b .* c with operands indexed by int arrays (idx[k] MULTI) in one node. */
ps_status sm_eval_gfma(const lx *e, frame *f, sval *out);
/* The same for real scalars only (types known at lowering). */
ps_status sm_eval_var_scalar(const lx *e, frame *f, sval *out);
ps_status sm_eval_unary_s(const lx *e, frame *f, sval *out);
ps_status sm_eval_binary_s(const lx *e, frame *f, sval *out);
ps_status sm_eval_fma_s(const lx *e, frame *f, sval *out);
/* Scalar evaluators (seval) of the node kinds, and eval through seval. */
ps_status sm_eval_from_seval(const lx *e, frame *f, sval *out);
ps_status sm_seval_from_eval(const lx *e, frame *f, ps_adv *out);
ps_status sm_seval_const(const lx *e, frame *f, ps_adv *out);
ps_status sm_seval_var(const lx *e, frame *f, ps_adv *out);
ps_status sm_seval_index_singles(const lx *e, frame *f, ps_adv *out);
ps_status sm_seval_unary(const lx *e, frame *f, ps_adv *out);
ps_status sm_seval_binary(const lx *e, frame *f, ps_adv *out);
ps_status sm_seval_fma(const lx *e, frame *f, ps_adv *out);
ps_status sm_seval_promote(const lx *e, frame *f, ps_adv *out);
ps_status sm_ieval_arith(const lx *e, frame *f, int *out);
ps_status sm_ieval_logic(const lx *e, frame *f, int *out);

/* stan_fns.c: the builtin table. */
typedef enum sm_fn_support {
    SM_FN_NONE = 0,   /* not supported yet */
    SM_FN_FULL,       /* any arguments */
    SM_FN_CONST_ONLY, /* only with arguments that do not depend on parameters */
} sm_fn_support;
/* How the builtin call (fn, signature sig, argument types) is evaluated: *impl and the
 * operation code *op; *ieval for int results. Returns the support level. */
sm_fn_support sm_fn_resolve(ps_stan_fn fn, int sig, const ps_stan_expr *call, lx_impl_fn *impl,
                            lx_ieval_fn *ieval, int *op);

/* A GLM (bernoulli_logit_glm, poisson_log_glm) whose outcomes and design matrix are
 * constants: checked once at lowering, the kernel called directly (stan_fns.c). Returns
 * false when the call does not qualify (the generic path then checks at run time). */
bool sm_glm_specialise(lx *call);

/* stan_dist.c: distributions and cumulative distribution functions written for the
 * compiled model on the engine's partials API (those the engine does not have). */
sm_fn_support sm_dist_resolve(ps_stan_fn fn, const ps_stan_expr *call, lx_impl_fn *impl);
/* Constraint transforms the engine does not have (cholesky_factor_cov[M, N]): from the
 * free values u to an M x N value, adding log |J| when jacobian. */
ps_status sm_extra_constrain(frame *f, ps_stan_constraint c, ps_adv u, size_t M, size_t N,
                             bool jacobian, ps_adv *out);

/* stan_stmt.c: statement executors (used by the lowering). */
ps_status sm_exec_block(const ls *s, frame *f);
ps_status sm_exec_decl(const ls *s, frame *f);
ps_status sm_exec_assign(const ls *s, frame *f);
ps_status sm_exec_assign_index(const ls *s, frame *f);
ps_status sm_exec_assign_scalar(const ls *s, frame *f);
ps_status sm_exec_assign_singles(const ls *s, frame *f);
ps_status sm_exec_tilde(const ls *s, frame *f);
ps_status sm_exec_target(const ls *s, frame *f);
ps_status sm_exec_for(const ls *s, frame *f);
ps_status sm_exec_foreach(const ls *s, frame *f);
ps_status sm_exec_while(const ls *s, frame *f);
ps_status sm_exec_if(const ls *s, frame *f);
ps_status sm_exec_break(const ls *s, frame *f);
ps_status sm_exec_continue(const ls *s, frame *f);
ps_status sm_exec_print(const ls *s, frame *f);
ps_status sm_exec_reject(const ls *s, frame *f);
ps_status sm_exec_empty(const ls *s, frame *f);
/* Declares a variable from its lowered declaration (sizes evaluated now). */
ps_status sm_declare(frame *f, const ldecl *d, sshape *shape);
/* Evaluates the sizes of a declaration into a shape. */
ps_status sm_decl_shape(frame *f, const ldecl *d, sshape *shape);

/* stan_check.c: constraint checks on plain doubles. */
/* Checks the values of a variable (layout as in sval) against its declared constraint;
 * bounds are values of 1 or n elements (NULL for none). work (r*c doubles of one cell, or
 * NULL to skip the positive-definiteness test) is scratch. On a violation writes a
 * sentence naming the variable and element into msg, the flat position of the offending
 * element (or of its cell) into *element, and returns false. */
bool sm_check_constraint(const char *name, ps_stan_constraint c, const sval *value,
                         const sval *lower, const sval *upper, double *work, char *msg,
                         size_t msg_size, size_t *element);
/* Formats the 1-based index of flat element k of shape s ("[2,3]" or ""). */
void sm_format_index(const sshape *s, size_t k, char *buf, size_t size);

#endif
