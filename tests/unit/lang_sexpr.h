/*
 * S-expression printer of the Stan AST, for tests only: "a + b * c" prints as
 * "(+ a (* b c))". Written against src/lang/lang.h alone, as lowering will be.
 */
#ifndef PS_TEST_LANG_SEXPR_H
#define PS_TEST_LANG_SEXPR_H

#include "core/core.h"
#include "lang/lang.h"

/* Appends expr to sb. Promotions inserted by the checker print as "(promote x)". */
void sexpr_expr(ps_strbuf *sb, const ps_stan_expr *expr);

/* Appends stmt to sb ("(for i 1 N (block ...))"). */
void sexpr_stmt(ps_strbuf *sb, const ps_stan_stmt *stmt);

/* Appends every statement of a block, separated by spaces. */
void sexpr_block(ps_strbuf *sb, const ps_stan_program *program, ps_stan_block block);

#endif
