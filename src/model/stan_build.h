/*
 * Private to the construction of a compiled Stan model (stan_lower.c, stan_build.c,
 * stan_data.c): the lowering context, the data file as the model sees it, and the steps
 * of construction.
 */
#ifndef PS_MODEL_STAN_BUILD_H
#define PS_MODEL_STAN_BUILD_H

#include "data/data.h"
#include "model/stan_impl.h"

/* What the lowering knows about a declaration: a slot, or a constant value (data and
 * transformed data), and its lowered declaration when it is a top-level variable. */
typedef struct dinfo {
    const ps_stan_decl *decl;
    int slot;
    bool is_const;
    sval cval;
    ldecl *ld;
} dinfo;

typedef struct lower_ctx {
    stan_model *m;
    frame *cf; /* the construction frame: a value-only tape for folding and sizes */
    dinfo *dmap;
    size_t dmap_cap, dmap_n;
} lower_ctx;

/* stan_lower.c */
dinfo *sm_dinfo_find(lower_ctx *c, const ps_stan_decl *d);
ps_status sm_dinfo_add(lower_ctx *c, const ps_stan_decl *d, dinfo **out);
ps_status sm_slot_new(lower_ctx *c, const ps_stan_decl *d, int *slot);
ps_status sm_new_lx(lower_ctx *c, const ps_stan_expr *src, uint32_t n_args, lx **out);
ps_status sm_persist(lower_ctx *c, const sval *in, sval *out);
void sm_make_const(lx *e, const sval *v);
ps_status sm_fold(lower_ctx *c, lx *e);
/* Lowers an expression and folds it when it is computable from constants. */
ps_status sm_lower_expr(lower_ctx *c, const ps_stan_expr *e, lx **out);
/* Lowers the sizes, bounds, offset and multiplier of a declaration (not its initial
 * value); top-level declarations get their shape evaluated now. */
ps_status sm_lower_decl(lower_ctx *c, const ps_stan_decl *d, bool top, ldecl **out);
ps_status sm_lower_stmt(lower_ctx *c, const ps_stan_stmt *s, ls **out);
/* The statements of a block as one block statement (*out NULL for an empty block). */
ps_status sm_lower_block(lower_ctx *c, ps_stan_block block, ls **out);

/* ---------------------------------------------------------------------------------------
 * The data block against the data file (stan_data.c, on src/data)
 * ------------------------------------------------------------------------------------- */

/* Checks a data-block declaration against the file (NULL: no data file) and converts its
 * values to the model's layout (into the model arena); shape holds the declared sizes.
 * Errors are PS_ERR_DATA naming the variable and both shapes, located at the declaration
 * (or at the value in the data file for int/real mismatches). *var receives the file's
 * variable (NULL when absent). */
ps_status sm_data_bind(lower_ctx *c, const ldecl *d, const sshape *shape, const ps_data *data,
                       sval *out, const ps_data_var **var);
/* Checks the constraint of a data variable (var from sm_data_bind: the error points at
 * the element in the data file) or of a transformed data variable (data and var NULL: the
 * error points at the declaration, with status). */
ps_status sm_data_check_constraint(lower_ctx *c, const ldecl *d, const sval *value,
                                   const ps_data *data, const ps_data_var *var, ps_status status);

#endif
