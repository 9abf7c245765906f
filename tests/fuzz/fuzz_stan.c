/*
 * libFuzzer harness for the Stan front end: lexer, parser and checker, with and without
 * user-defined functions, and parse-only. Any input must give either a program whose
 * tree satisfies the invariants lowering relies on (every expression typed, every
 * reference and call resolved, argument types equal to their signature's) or a located
 * model error; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lang/lang.h"
#include "unit/lang_sexpr.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_stan: invariant violated: %s\n", what);
    abort();
}

static bool visit_checked(const ps_stan_expr *e, void *ctx)
{
    (void)ctx;
    if (e->type.base == PS_STAN_UNTYPED)
        fail("untyped expression after checking");
    if (e->depth == 0 || e->depth > PS_STAN_MAX_EXPR_DEPTH + 2)
        fail("expression depth out of range");
    if ((unsigned)e->level > PS_STAN_LEVEL_PARAM)
        fail("level out of range");
    if (e->type.base == PS_STAN_INT && e->level == PS_STAN_LEVEL_PARAM)
        fail("int expression at parameter level");
    switch (e->kind) {
    case PS_STAN_E_VAR:
        if (e->u.var.decl == NULL || !ps_stan_type_equal(e->type, e->u.var.decl->type))
            fail("unresolved or mistyped variable");
        break;
    case PS_STAN_E_CALL:
        if (e->u.call.sig >= 0) {
            const ps_stan_sig *s = ps_stan_sig_get(e->u.call.sig);
            if (s == NULL || s->fn != e->u.call.fn || s->n_params != e->u.call.n_args)
                fail("call does not match its signature");
            for (size_t i = 0; i < e->u.call.n_args; i++)
                if (s->params[i].pattern == PS_STAN_P_TYPE &&
                    !ps_stan_type_equal(s->params[i].type, e->u.call.args[i]->type))
                    fail("argument type differs from the signature's");
        } else if (e->u.call.user == NULL) {
            fail("unresolved call");
        } else if (e->u.call.user->n_args != e->u.call.n_args) {
            fail("user call with the wrong number of arguments");
        }
        break;
    case PS_STAN_E_PROMOTE:
        if (e->u.promote.arg->type.base != PS_STAN_INT || e->type.base != PS_STAN_REAL ||
            e->u.promote.arg->type.dims != e->type.dims)
            fail("promotion is not int -> real");
        break;
    default:
        break;
    }
    return true;
}

static void inspect(const ps_stan_program *p, bool checked)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    for (int b = 0; b < PS_STAN_N_BLOCKS; b++) {
        size_t n;
        ps_stan_stmt *const *stmts = ps_stan_program_stmts(p, (ps_stan_block)b, &n);
        for (size_t i = 0; i < n; i++) {
            if (checked)
                ps_stan_stmt_walk(stmts[i], NULL, visit_checked, NULL);
            sexpr_stmt(&sb, stmts[i]);
            ps_strbuf_clear(&sb);
        }
        ps_stan_decl *const *vars = ps_stan_program_vars(p, (ps_stan_block)b, &n);
        for (size_t i = 0; i < n; i++)
            if (vars[i]->index != i || vars[i]->origin != PS_STAN_ORIGIN_BLOCK)
                fail("block variable list out of order");
    }
    for (size_t i = 0; i < ps_stan_program_n_functions(p); i++) {
        const ps_stan_fundef *f = ps_stan_program_function(p, i);
        if (f->body != NULL) {
            if (checked)
                ps_stan_stmt_walk(f->body, NULL, visit_checked, NULL);
            sexpr_stmt(&sb, f->body);
            ps_strbuf_clear(&sb);
        }
    }
    ps_strbuf_fini(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int mode = 0; mode < 3; mode++) {
        ps_stan_options opts = ps_stan_options_default();
        opts.user_functions = mode == 1;
        opts.check = mode != 2;
        ps_stan_program *p = NULL;
        ps_error_clear();
        ps_status st = ps_stan_program_parse_opts("fuzz.stan", (const char *)data, size, &opts, &p);
        if (st == PS_OK) {
            if (p == NULL)
                fail("success without a program");
            inspect(p, opts.check);
        } else {
            if (p != NULL)
                fail("failure with a program");
            if (st != PS_ERR_MODEL && st != PS_ERR_MEM)
                fail("status other than model error or out of memory");
            if (st == PS_ERR_MODEL && strncmp(ps_error_message(), "fuzz.stan:", 10) != 0)
                fail("model error without a location");
        }
        ps_stan_program_destroy(&p);
    }
    ps_error_clear();
    return 0;
}
