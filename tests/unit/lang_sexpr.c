/* S-expression printer of the Stan AST (tests only). */
#include "lang_sexpr.h"

#include <stdio.h>

static void index_sexpr(ps_strbuf *sb, const ps_stan_index *ix)
{
    switch (ix->kind) {
    case PS_STAN_IDX_SINGLE:
    case PS_STAN_IDX_MULTI:
        sexpr_expr(sb, ix->lo);
        return;
    case PS_STAN_IDX_ALL:
        ps_strbuf_puts(sb, ":");
        return;
    case PS_STAN_IDX_RANGE:
        ps_strbuf_puts(sb, "(: ");
        sexpr_expr(sb, ix->lo);
        ps_strbuf_putc(sb, ' ');
        sexpr_expr(sb, ix->hi);
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_IDX_FROM:
        ps_strbuf_puts(sb, "(: ");
        sexpr_expr(sb, ix->lo);
        ps_strbuf_puts(sb, " _)");
        return;
    case PS_STAN_IDX_TO:
        ps_strbuf_puts(sb, "(: _ ");
        sexpr_expr(sb, ix->hi);
        ps_strbuf_putc(sb, ')');
        return;
    }
}

void sexpr_expr(ps_strbuf *sb, const ps_stan_expr *e)
{
    if (e == NULL) {
        ps_strbuf_puts(sb, "NULL");
        return;
    }
    switch (e->kind) {
    case PS_STAN_E_INT:
        ps_strbuf_printf(sb, "%d", (int)e->u.int_value);
        return;
    case PS_STAN_E_REAL:
        ps_strbuf_printf(sb, "%g", e->u.real_value);
        return;
    case PS_STAN_E_STRING:
        ps_strbuf_printf(sb, "\"%s\"", e->u.string.text);
        return;
    case PS_STAN_E_VAR:
        ps_strbuf_puts(sb, e->u.var.name);
        return;
    case PS_STAN_E_CALL:
        ps_strbuf_printf(sb, "(%s", e->u.call.name);
        for (size_t i = 0; i < e->u.call.n_args; i++) {
            ps_strbuf_puts(sb, i == 1 && e->u.call.has_bar ? " | " : " ");
            sexpr_expr(sb, e->u.call.args[i]);
        }
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_E_INDEX:
        ps_strbuf_puts(sb, "(index ");
        sexpr_expr(sb, e->u.index.base);
        for (size_t i = 0; i < e->u.index.n_indices; i++) {
            ps_strbuf_putc(sb, ' ');
            index_sexpr(sb, &e->u.index.indices[i]);
        }
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_E_COND:
        ps_strbuf_puts(sb, "(? ");
        sexpr_expr(sb, e->u.cond.cond);
        ps_strbuf_putc(sb, ' ');
        sexpr_expr(sb, e->u.cond.then_expr);
        ps_strbuf_putc(sb, ' ');
        sexpr_expr(sb, e->u.cond.else_expr);
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_E_ARRAY:
    case PS_STAN_E_ROWVEC:
        ps_strbuf_puts(sb, e->kind == PS_STAN_E_ARRAY ? "({}" : "([]");
        for (size_t i = 0; i < e->u.list.n; i++) {
            ps_strbuf_putc(sb, ' ');
            sexpr_expr(sb, e->u.list.elems[i]);
        }
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_E_PROMOTE:
        ps_strbuf_puts(sb, "(promote ");
        sexpr_expr(sb, e->u.promote.arg);
        ps_strbuf_putc(sb, ')');
        return;
    }
}

static void decl_sexpr(ps_strbuf *sb, const ps_stan_decl *d)
{
    static const char *const special[] = {"",
                                          "",
                                          "",
                                          "simplex",
                                          "ordered",
                                          "positive_ordered",
                                          "unit_vector",
                                          "cholesky_factor_corr",
                                          "cholesky_factor_cov",
                                          "cov_matrix",
                                          "corr_matrix"};
    char type[64];
    ps_stan_type_format(d->type, type, sizeof type);
    ps_strbuf_printf(sb, "(decl %s %s", d->name, type);
    if (d->constraint >= PS_STAN_C_SIMPLEX)
        ps_strbuf_printf(sb, " %s", special[d->constraint]);
    const struct {
        const char *name;
        const ps_stan_expr *e;
    } parts[] = {{"lower", d->lower},
                 {"upper", d->upper},
                 {"offset", d->offset_expr},
                 {"multiplier", d->multiplier}};
    for (size_t i = 0; i < 4; i++) {
        if (parts[i].e == NULL)
            continue;
        ps_strbuf_printf(sb, " (%s ", parts[i].name);
        sexpr_expr(sb, parts[i].e);
        ps_strbuf_putc(sb, ')');
    }
    if (d->type.dims > 0 || d->elem_sizes[0] != NULL) {
        ps_strbuf_puts(sb, " (sizes");
        for (unsigned i = 0; i < d->type.dims && d->array_sizes; i++) {
            ps_strbuf_putc(sb, ' ');
            sexpr_expr(sb, d->array_sizes[i]);
        }
        for (int i = 0; i < 2; i++) {
            if (d->elem_sizes[i] == NULL)
                continue;
            ps_strbuf_putc(sb, ' ');
            sexpr_expr(sb, d->elem_sizes[i]);
        }
        ps_strbuf_putc(sb, ')');
    }
    if (d->init != NULL) {
        ps_strbuf_puts(sb, " = ");
        sexpr_expr(sb, d->init);
    }
    ps_strbuf_putc(sb, ')');
}

static void args_sexpr(ps_strbuf *sb, const char *head, ps_stan_expr *const *args, size_t n)
{
    ps_strbuf_printf(sb, "(%s", head);
    for (size_t i = 0; i < n; i++) {
        ps_strbuf_putc(sb, ' ');
        sexpr_expr(sb, args[i]);
    }
    ps_strbuf_putc(sb, ')');
}

void sexpr_stmt(ps_strbuf *sb, const ps_stan_stmt *s)
{
    static const char *const assign_ops[] = {"=", "+=", "-=", "*=", "/=", ".*=", "./="};
    if (s == NULL) {
        ps_strbuf_puts(sb, "NULL");
        return;
    }
    switch (s->kind) {
    case PS_STAN_S_DECL:
        decl_sexpr(sb, s->u.decl.decl);
        return;
    case PS_STAN_S_ASSIGN:
        ps_strbuf_printf(sb, "(%s ", assign_ops[s->u.assign.op]);
        sexpr_expr(sb, s->u.assign.lhs);
        ps_strbuf_putc(sb, ' ');
        sexpr_expr(sb, s->u.assign.rhs);
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_TILDE: {
        const ps_stan_expr *call = s->u.tilde.call;
        ps_strbuf_puts(sb, "(~ ");
        sexpr_expr(sb, call->u.call.args[0]);
        ps_strbuf_putc(sb, ' ');
        args_sexpr(sb, call->u.call.name, call->u.call.args + 1, call->u.call.n_args - 1);
        ps_strbuf_putc(sb, ')');
        return;
    }
    case PS_STAN_S_TARGET:
        ps_strbuf_puts(sb, "(target+= ");
        sexpr_expr(sb, s->u.target.value);
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_FOR:
        ps_strbuf_printf(sb, "(for %s ", s->u.for_range.var->name);
        sexpr_expr(sb, s->u.for_range.lo);
        ps_strbuf_putc(sb, ' ');
        sexpr_expr(sb, s->u.for_range.hi);
        ps_strbuf_putc(sb, ' ');
        sexpr_stmt(sb, s->u.for_range.body);
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_FOREACH:
        ps_strbuf_printf(sb, "(foreach %s ", s->u.foreach.var->name);
        sexpr_expr(sb, s->u.foreach.container);
        ps_strbuf_putc(sb, ' ');
        sexpr_stmt(sb, s->u.foreach.body);
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_WHILE:
        ps_strbuf_puts(sb, "(while ");
        sexpr_expr(sb, s->u.while_loop.cond);
        ps_strbuf_putc(sb, ' ');
        sexpr_stmt(sb, s->u.while_loop.body);
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_IF:
        ps_strbuf_puts(sb, "(if ");
        sexpr_expr(sb, s->u.if_stmt.cond);
        ps_strbuf_putc(sb, ' ');
        sexpr_stmt(sb, s->u.if_stmt.then_stmt);
        if (s->u.if_stmt.else_stmt != NULL) {
            ps_strbuf_putc(sb, ' ');
            sexpr_stmt(sb, s->u.if_stmt.else_stmt);
        }
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_BLOCK:
        if (s->u.block.profile != NULL)
            ps_strbuf_printf(sb, "(profile \"%s\"", s->u.block.profile);
        else
            ps_strbuf_puts(sb, "(block");
        for (size_t i = 0; i < s->u.block.n; i++) {
            ps_strbuf_putc(sb, ' ');
            sexpr_stmt(sb, s->u.block.stmts[i]);
        }
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_BREAK:
        ps_strbuf_puts(sb, "(break)");
        return;
    case PS_STAN_S_CONTINUE:
        ps_strbuf_puts(sb, "(continue)");
        return;
    case PS_STAN_S_PRINT:
        args_sexpr(sb, "print", s->u.print.args, s->u.print.n);
        return;
    case PS_STAN_S_REJECT:
        args_sexpr(sb, "reject", s->u.print.args, s->u.print.n);
        return;
    case PS_STAN_S_FATAL_ERROR:
        args_sexpr(sb, "fatal_error", s->u.print.args, s->u.print.n);
        return;
    case PS_STAN_S_RETURN:
        ps_strbuf_puts(sb, "(return");
        if (s->u.ret.value != NULL) {
            ps_strbuf_putc(sb, ' ');
            sexpr_expr(sb, s->u.ret.value);
        }
        ps_strbuf_putc(sb, ')');
        return;
    case PS_STAN_S_CALL:
        sexpr_expr(sb, s->u.call.call);
        return;
    case PS_STAN_S_EMPTY:
        ps_strbuf_puts(sb, "(empty)");
        return;
    }
}

void sexpr_block(ps_strbuf *sb, const ps_stan_program *program, ps_stan_block block)
{
    size_t n;
    ps_stan_stmt *const *stmts = ps_stan_program_stmts(program, block, &n);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ps_strbuf_putc(sb, ' ');
        sexpr_stmt(sb, stmts[i]);
    }
}
