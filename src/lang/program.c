/*
 * The program object: the arena that owns the tree, parse entry points, accessors,
 * located errors, type helpers and the walkers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lang/lang_impl.h"

/* ---------------------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------------------- */

enum { ARENA_CHUNK = 64 * 1024 };

struct ps_arena_chunk {
    ps_arena_chunk *next;
    size_t used;
    size_t cap;
    /* Storage follows, aligned like max_align_t. */
    _Alignas(max_align_t) unsigned char data[];
};

void *ps_arena_alloc(ps_arena *arena, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    size_t rounded;
    if (!ps_size_add(size, align - 1, &rounded))
        return NULL;
    rounded &= ~(align - 1);
    if (rounded == 0)
        rounded = align;
    ps_arena_chunk *chunk = arena->head;
    if (chunk == NULL || chunk->cap - chunk->used < rounded) {
        size_t cap = rounded > ARENA_CHUNK ? rounded : ARENA_CHUNK;
        size_t total;
        if (!ps_size_add(sizeof(ps_arena_chunk), cap, &total))
            return NULL;
        chunk = ps_malloc(total);
        if (chunk == NULL)
            return NULL;
        chunk->used = 0;
        chunk->cap = cap;
        /* A large one-off block goes behind the current chunk so that the current
         * chunk's free space stays usable. */
        if (arena->head != NULL && rounded > ARENA_CHUNK) {
            chunk->next = arena->head->next;
            arena->head->next = chunk;
        } else {
            chunk->next = arena->head;
            arena->head = chunk;
        }
    }
    void *p = chunk->data + chunk->used;
    chunk->used += rounded;
    memset(p, 0, size);
    return p;
}

char *ps_arena_strndup(ps_arena *arena, const char *s, size_t n)
{
    size_t size;
    if (!ps_size_add(n, 1, &size))
        return NULL;
    char *p = ps_arena_alloc(arena, size);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ps_arena_fini(ps_arena *arena)
{
    ps_arena_chunk *chunk = arena->head;
    while (chunk != NULL) {
        ps_arena_chunk *next = chunk->next;
        ps_free(chunk);
        chunk = next;
    }
    arena->head = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

static ps_status error_v(const ps_stan_program *program, ps_status status, size_t offset,
                         const char *fmt, va_list ap)
{
    char message[4096];
    vsnprintf(message, sizeof message, fmt, ap);
    return ps_error_at_offset(status, program->path, program->text, program->text_len, offset, "%s",
                              message);
}

ps_status ps_stan_error(const ps_stan_program *program, size_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_status status = error_v(program, PS_ERR_MODEL, offset, fmt, ap);
    va_end(ap);
    return status;
}

ps_status ps_stan_program_error_at(const ps_stan_program *program, ps_status status, size_t offset,
                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_v(program, status, offset, fmt, ap);
    va_end(ap);
    return status;
}

ps_status ps_stan_oom(const ps_stan_program *program)
{
    return ps_error(PS_ERR_MEM, "out of memory while compiling the Stan program %s", program->path);
}

/* ---------------------------------------------------------------------------------------
 * Parse entry points
 * ------------------------------------------------------------------------------------- */

ps_stan_options ps_stan_options_default(void)
{
    ps_stan_options options = {.check = true, .user_functions = false};
    return options;
}

void ps_stan_program_destroy(ps_stan_program **program)
{
    if (program == NULL || *program == NULL)
        return;
    ps_stan_program *p = *program;
    ps_arena_fini(&p->arena);
    ps_free(p->path);
    ps_free(p->text);
    ps_free(p);
    *program = NULL;
}

ps_status ps_stan_program_parse_opts(const char *path, const char *text, size_t len,
                                     const ps_stan_options *options, ps_stan_program **program)
{
    ps_status status = PS_OK;
    ps_token *tokens = NULL;
    size_t n_tokens = 0;
    ps_stan_options opts = options ? *options : ps_stan_options_default();
    *program = NULL;
    if (text == NULL && len > 0)
        return ps_error(PS_ERR_INTERNAL, "ps_stan_program_parse: text is NULL");

    ps_stan_program *p = ps_calloc(1, sizeof *p);
    if (p == NULL)
        return ps_error(PS_ERR_MEM, "out of memory while compiling the Stan program %s",
                        path ? path : "<input>");
    p->path = ps_strdup(path ? path : "<input>");
    p->text = ps_malloc(len + 1);
    if (p->path == NULL || p->text == NULL) {
        status = ps_error(PS_ERR_MEM, "out of memory while compiling the Stan program %s",
                          path ? path : "<input>");
        goto done;
    }
    if (len > 0)
        memcpy(p->text, text, len);
    p->text[len] = '\0';
    p->text_len = len;

    PS_TRY(ps_stan_lex(p, &tokens, &n_tokens));
    PS_TRY(ps_stan_parse_tokens(p, tokens, n_tokens));
    ps_free_ptr(&tokens);
    if (opts.check)
        PS_TRY(ps_stan_check(p, &opts));
    *program = p;
    p = NULL;
done:
    ps_free(tokens);
    ps_stan_program_destroy(&p);
    return status;
}

ps_status ps_stan_program_parse(const char *path, const char *text, size_t len,
                                ps_stan_program **program)
{
    return ps_stan_program_parse_opts(path, text, len, NULL, program);
}

ps_status ps_stan_program_parse_file(const char *path, ps_stan_program **program)
{
    char *text = NULL;
    size_t len = 0;
    *program = NULL;
    PS_CHECK(ps_file_read(path, &text, &len));
    ps_status status = ps_stan_program_parse(path, text, len, program);
    ps_free(text);
    return status;
}

/* ---------------------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------------------- */

const char *ps_stan_program_path(const ps_stan_program *program)
{
    return program->path;
}

const char *ps_stan_program_text(const ps_stan_program *program, size_t *len)
{
    if (len != NULL)
        *len = program->text_len;
    return program->text;
}

bool ps_stan_program_has_block(const ps_stan_program *program, ps_stan_block block)
{
    return (unsigned)block < PS_STAN_N_BLOCKS && program->has_block[block];
}

ps_stan_stmt *const *ps_stan_program_stmts(const ps_stan_program *program, ps_stan_block block,
                                           size_t *n)
{
    if ((unsigned)block >= PS_STAN_N_BLOCKS) {
        *n = 0;
        return NULL;
    }
    *n = program->n_stmts[block];
    return program->stmts[block];
}

ps_stan_decl *const *ps_stan_program_vars(const ps_stan_program *program, ps_stan_block block,
                                          size_t *n)
{
    if ((unsigned)block >= PS_STAN_N_BLOCKS) {
        *n = 0;
        return NULL;
    }
    *n = program->n_vars[block];
    return program->vars[block];
}

const ps_stan_decl *ps_stan_program_find_var(const ps_stan_program *program, const char *name)
{
    for (int b = 0; b < PS_STAN_N_BLOCKS; b++)
        for (size_t i = 0; i < program->n_vars[b]; i++)
            if (strcmp(program->vars[b][i]->name, name) == 0)
                return program->vars[b][i];
    return NULL;
}

size_t ps_stan_program_n_functions(const ps_stan_program *program)
{
    return program->n_funs;
}

const ps_stan_fundef *ps_stan_program_function(const ps_stan_program *program, size_t i)
{
    return i < program->n_funs ? program->funs[i] : NULL;
}

const char *ps_stan_block_name(ps_stan_block block)
{
    switch (block) {
    case PS_STAN_BLOCK_FUNCTIONS:
        return "functions";
    case PS_STAN_BLOCK_DATA:
        return "data";
    case PS_STAN_BLOCK_TDATA:
        return "transformed data";
    case PS_STAN_BLOCK_PARAMS:
        return "parameters";
    case PS_STAN_BLOCK_TPARAMS:
        return "transformed parameters";
    case PS_STAN_BLOCK_MODEL:
        return "model";
    case PS_STAN_BLOCK_GQ:
        return "generated quantities";
    case PS_STAN_N_BLOCKS:
        break;
    }
    return "?";
}

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

bool ps_stan_type_equal(ps_stan_type a, ps_stan_type b)
{
    return a.base == b.base && a.dims == b.dims;
}

bool ps_stan_type_is_scalar(ps_stan_type t)
{
    return t.dims == 0 && (t.base == PS_STAN_INT || t.base == PS_STAN_REAL);
}

const char *ps_stan_type_format(ps_stan_type t, char *buf, size_t size)
{
    static const char *const names[] = {"untyped",    "int",    "real",   "vector",
                                        "row_vector", "matrix", "string", "void"};
    const char *base = t.base < sizeof names / sizeof names[0] ? names[t.base] : "?";
    if (size == 0)
        return buf;
    if (t.dims == 0) {
        snprintf(buf, size, "%s", base);
        return buf;
    }
    char commas[PS_STAN_MAX_ARRAY_DIMS + 8];
    size_t n = t.dims - 1u;
    if (n > sizeof commas - 1)
        n = sizeof commas - 1;
    memset(commas, ',', n);
    commas[n] = '\0';
    snprintf(buf, size, "array[%s] %s", commas, base);
    return buf;
}

/* ---------------------------------------------------------------------------------------
 * Walkers
 * ------------------------------------------------------------------------------------- */

bool ps_stan_expr_walk(const ps_stan_expr *expr, ps_stan_expr_visitor visit, void *ctx)
{
    if (expr == NULL)
        return true;
    if (visit != NULL && !visit(expr, ctx))
        return false;
    switch (expr->kind) {
    case PS_STAN_E_INT:
    case PS_STAN_E_REAL:
    case PS_STAN_E_STRING:
    case PS_STAN_E_VAR:
        return true;
    case PS_STAN_E_CALL:
        for (size_t i = 0; i < expr->u.call.n_args; i++)
            if (!ps_stan_expr_walk(expr->u.call.args[i], visit, ctx))
                return false;
        return true;
    case PS_STAN_E_INDEX:
        if (!ps_stan_expr_walk(expr->u.index.base, visit, ctx))
            return false;
        for (size_t i = 0; i < expr->u.index.n_indices; i++) {
            const ps_stan_index *ix = &expr->u.index.indices[i];
            if (!ps_stan_expr_walk(ix->lo, visit, ctx) || !ps_stan_expr_walk(ix->hi, visit, ctx))
                return false;
        }
        return true;
    case PS_STAN_E_COND:
        return ps_stan_expr_walk(expr->u.cond.cond, visit, ctx) &&
               ps_stan_expr_walk(expr->u.cond.then_expr, visit, ctx) &&
               ps_stan_expr_walk(expr->u.cond.else_expr, visit, ctx);
    case PS_STAN_E_ARRAY:
    case PS_STAN_E_ROWVEC:
        for (size_t i = 0; i < expr->u.list.n; i++)
            if (!ps_stan_expr_walk(expr->u.list.elems[i], visit, ctx))
                return false;
        return true;
    case PS_STAN_E_PROMOTE:
        return ps_stan_expr_walk(expr->u.promote.arg, visit, ctx);
    }
    return true;
}

static bool walk_decl(const ps_stan_decl *d, ps_stan_expr_visitor visit, void *ctx)
{
    if (d->array_sizes != NULL)
        for (unsigned i = 0; i < d->type.dims; i++)
            if (!ps_stan_expr_walk(d->array_sizes[i], visit, ctx))
                return false;
    if (!ps_stan_expr_walk(d->elem_sizes[0], visit, ctx))
        return false;
    if (d->elem_sizes[1] != d->elem_sizes[0] && !ps_stan_expr_walk(d->elem_sizes[1], visit, ctx))
        return false;
    return ps_stan_expr_walk(d->lower, visit, ctx) && ps_stan_expr_walk(d->upper, visit, ctx) &&
           ps_stan_expr_walk(d->offset_expr, visit, ctx) &&
           ps_stan_expr_walk(d->multiplier, visit, ctx) && ps_stan_expr_walk(d->init, visit, ctx);
}

bool ps_stan_stmt_walk(const ps_stan_stmt *stmt, ps_stan_stmt_visitor stmt_visit,
                       ps_stan_expr_visitor expr_visit, void *ctx)
{
    if (stmt == NULL)
        return true;
    if (stmt_visit != NULL && !stmt_visit(stmt, ctx))
        return false;
    const ps_stan_expr_visitor ev = expr_visit;
    switch (stmt->kind) {
    case PS_STAN_S_DECL:
        return walk_decl(stmt->u.decl.decl, ev, ctx);
    case PS_STAN_S_ASSIGN:
        return ps_stan_expr_walk(stmt->u.assign.lhs, ev, ctx) &&
               ps_stan_expr_walk(stmt->u.assign.rhs, ev, ctx);
    case PS_STAN_S_TILDE:
        return ps_stan_expr_walk(stmt->u.tilde.call, ev, ctx);
    case PS_STAN_S_TARGET:
        return ps_stan_expr_walk(stmt->u.target.value, ev, ctx);
    case PS_STAN_S_FOR:
        return ps_stan_expr_walk(stmt->u.for_range.lo, ev, ctx) &&
               ps_stan_expr_walk(stmt->u.for_range.hi, ev, ctx) &&
               ps_stan_stmt_walk(stmt->u.for_range.body, stmt_visit, ev, ctx);
    case PS_STAN_S_FOREACH:
        return ps_stan_expr_walk(stmt->u.foreach.container, ev, ctx) &&
               ps_stan_stmt_walk(stmt->u.foreach.body, stmt_visit, ev, ctx);
    case PS_STAN_S_WHILE:
        return ps_stan_expr_walk(stmt->u.while_loop.cond, ev, ctx) &&
               ps_stan_stmt_walk(stmt->u.while_loop.body, stmt_visit, ev, ctx);
    case PS_STAN_S_IF:
        return ps_stan_expr_walk(stmt->u.if_stmt.cond, ev, ctx) &&
               ps_stan_stmt_walk(stmt->u.if_stmt.then_stmt, stmt_visit, ev, ctx) &&
               ps_stan_stmt_walk(stmt->u.if_stmt.else_stmt, stmt_visit, ev, ctx);
    case PS_STAN_S_BLOCK:
        for (size_t i = 0; i < stmt->u.block.n; i++)
            if (!ps_stan_stmt_walk(stmt->u.block.stmts[i], stmt_visit, ev, ctx))
                return false;
        return true;
    case PS_STAN_S_PRINT:
    case PS_STAN_S_REJECT:
    case PS_STAN_S_FATAL_ERROR:
        for (size_t i = 0; i < stmt->u.print.n; i++)
            if (!ps_stan_expr_walk(stmt->u.print.args[i], ev, ctx))
                return false;
        return true;
    case PS_STAN_S_RETURN:
        return ps_stan_expr_walk(stmt->u.ret.value, ev, ctx);
    case PS_STAN_S_CALL:
        return ps_stan_expr_walk(stmt->u.call.call, ev, ctx);
    case PS_STAN_S_BREAK:
    case PS_STAN_S_CONTINUE:
    case PS_STAN_S_EMPTY:
        return true;
    }
    return true;
}
