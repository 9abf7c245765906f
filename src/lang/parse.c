/*
 * Recursive-descent parser for Stan programs (current syntax, Stan Reference Manual,
 * "Program blocks", "Statements", "Expressions").
 *
 * Binary operators are parsed by precedence climbing, with Stan's precedence and
 * associativity (lowest first):
 *     ?:  (right)  ||  &&  == !=  < <= > >=  + -  * / % .* ./  \ %/%  (all left)
 *     prefix ! - +   then  ^ .^ (right, binding tighter than prefix minus: -a^b is
 *     -(a^b), and a^-b is allowed)   then postfix ' and indexing.
 * Bounds in declarations (<lower=..., upper=...>) are parsed without comparison and
 * logical operators, as in Stan, so that '>' closes the bound list.
 *
 * Every recursion counts towards PS_STAN_MAX_NESTING and every node knows the height of
 * its subtree (capped at PS_STAN_MAX_EXPR_DEPTH), so that no input can exhaust the stack
 * here or in the walkers that follow. The first syntax error stops the parse.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lang/lang_impl.h"

typedef struct parser {
    ps_stan_program *prog;
    ps_arena *arena;
    const ps_token *toks;
    size_t n;
    size_t pos;
    int nesting;
} parser;

/* Context of a statement. */
typedef struct stmt_ctx {
    ps_stan_block block;
    bool top_level; /* directly in a transformed data/parameters or generated quantities
                       block: declarations are block variables and may be constrained */
    const ps_stan_fundef *function;
} stmt_ctx;

/* A growable list of pointers in the arena (old storage is abandoned to the arena; the
 * total waste is at most the final size). */
typedef struct plist {
    void **items;
    size_t n, cap;
} plist;

enum { MAX_NAME_SHOWN = 64 };

/* ---------------------------------------------------------------------------------------
 * Tokens and errors
 * ------------------------------------------------------------------------------------- */

static const ps_token *cur(const parser *p)
{
    return &p->toks[p->pos];
}

static const ps_token *peek_at(const parser *p, size_t ahead)
{
    size_t i = p->pos + ahead;
    return &p->toks[i < p->n ? i : p->n - 1];
}

static bool at(const parser *p, ps_tok kind)
{
    return cur(p)->kind == kind;
}

static const ps_token *advance(parser *p)
{
    const ps_token *t = cur(p);
    if (t->kind != TK_EOF)
        p->pos++;
    return t;
}

static bool accept(parser *p, ps_tok kind)
{
    if (!at(p, kind))
        return false;
    advance(p);
    return true;
}

static bool is_keyword(ps_tok kind)
{
    return kind >= TK_KW_FIRST_ && kind <= TK_KW_LAST_;
}

/* "'real'", "the end of the program", "a string", ... for "found X". */
static void describe_token(const parser *p, const ps_token *t, char *buf, size_t size)
{
    if (t->kind == TK_EOF || t->kind == TK_STRING) {
        snprintf(buf, size, "%s", ps_tok_describe(t->kind));
        return;
    }
    int n = (int)(t->len > MAX_NAME_SHOWN ? MAX_NAME_SHOWN : t->len);
    snprintf(buf, size, "'%.*s%s'", n, p->prog->text + t->offset,
             t->len > MAX_NAME_SHOWN ? "..." : "");
}

/*
 * Where to point for "expected X, found Y": at the found token, unless it is on a later
 * line than the end of the previous token (a missing ';' at the end of a line), in which
 * case just after the previous token, as C compilers do.
 */
static size_t expect_offset(const parser *p)
{
    const ps_token *t = cur(p);
    if (p->pos == 0)
        return t->offset;
    const ps_token *prev = &p->toks[p->pos - 1];
    size_t end = prev->offset + prev->len;
    for (size_t i = end; i < t->offset && i < p->prog->text_len; i++)
        if (p->prog->text[i] == '\n')
            return end;
    return t->offset;
}

/* "expected WHAT CONTEXT, found FOUND" */
static ps_status PS_PRINTF(3, 4) expected(parser *p, const char *what, const char *context, ...)
{
    char ctx[512] = "";
    if (context != NULL) {
        va_list ap;
        va_start(ap, context);
        vsnprintf(ctx, sizeof ctx, context, ap);
        va_end(ap);
    }
    char found[128];
    describe_token(p, cur(p), found, sizeof found);
    return ps_stan_error(p->prog, expect_offset(p), "expected %s%s%s, found %s", what,
                         ctx[0] ? " " : "", ctx, found);
}

static ps_status PS_PRINTF(3, 4) expect(parser *p, ps_tok kind, const char *context, ...)
{
    if (accept(p, kind))
        return PS_OK;
    char ctx[512] = "";
    if (context != NULL) {
        va_list ap;
        va_start(ap, context);
        vsnprintf(ctx, sizeof ctx, context, ap);
        va_end(ap);
    }
    if (is_keyword(kind)) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", ps_tok_describe(kind));
        return expected(p, quoted, "%s", ctx);
    }
    return expected(p, ps_tok_describe(kind), "%s", ctx);
}

static ps_status enter(parser *p)
{
    if (++p->nesting > PS_STAN_MAX_NESTING)
        return ps_stan_error(p->prog, cur(p)->offset,
                             "the program is nested too deeply here (more than %d levels of "
                             "parentheses, brackets, operators or statements)",
                             PS_STAN_MAX_NESTING);
    return PS_OK;
}

static void leave(parser *p)
{
    p->nesting--;
}

static size_t line_of(const parser *p, size_t offset)
{
    size_t line, col;
    ps_text_position(p->prog->text, p->prog->text_len, offset, &line, &col);
    return line;
}

/* ---------------------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------------------- */

static ps_status plist_push(parser *p, plist *l, void *item)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        size_t bytes;
        if (!ps_size_mul(cap, sizeof(void *), &bytes))
            return ps_stan_oom(p->prog);
        void **items = ps_arena_alloc(p->arena, bytes);
        if (items == NULL)
            return ps_stan_oom(p->prog);
        if (l->n > 0)
            memcpy(items, l->items, l->n * sizeof(void *));
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = item;
    return PS_OK;
}

static void *new_node(parser *p, size_t size)
{
    return ps_arena_alloc(p->arena, size);
}

static ps_status token_name(parser *p, const ps_token *t, const char **out)
{
    *out = ps_arena_strndup(p->arena, p->prog->text + t->offset, t->len);
    return *out ? PS_OK : ps_stan_oom(p->prog);
}

static ps_status new_expr(parser *p, ps_stan_expr_kind kind, size_t offset, ps_stan_expr **out)
{
    ps_stan_expr *e = new_node(p, sizeof *e);
    if (e == NULL)
        return ps_stan_oom(p->prog);
    e->kind = kind;
    e->offset = offset;
    e->op_offset = offset;
    e->depth = 1;
    e->type.base = PS_STAN_UNTYPED;
    e->level = PS_STAN_LEVEL_CONST;
    if (kind == PS_STAN_E_CALL)
        e->u.call.sig = -1;
    *out = e;
    return PS_OK;
}

/* Records that child hangs below e; fails when the tree gets too deep. */
static ps_status below(parser *p, ps_stan_expr *e, const ps_stan_expr *child)
{
    if (child != NULL && child->depth + 1 > e->depth) {
        e->depth = child->depth + 1;
        if (e->depth > PS_STAN_MAX_EXPR_DEPTH)
            return ps_stan_error(p->prog, e->op_offset,
                                 "expression is too deep (more than %d levels of operations); "
                                 "split it into several statements",
                                 PS_STAN_MAX_EXPR_DEPTH);
    }
    return PS_OK;
}

static ps_status make_call(parser *p, ps_stan_fn fn, ps_stan_syntax syntax, const char *name,
                           size_t offset, size_t op_offset, ps_stan_expr **args, size_t n_args,
                           ps_stan_expr **out)
{
    ps_stan_expr *e = NULL;
    PS_CHECK(new_expr(p, PS_STAN_E_CALL, offset, &e));
    e->op_offset = op_offset;
    e->u.call.name = name;
    e->u.call.fn = fn;
    e->u.call.syntax = syntax;
    e->u.call.n_args = n_args;
    if (n_args > 0) {
        e->u.call.args = new_node(p, n_args * sizeof *args);
        if (e->u.call.args == NULL)
            return ps_stan_oom(p->prog);
        memcpy(e->u.call.args, args, n_args * sizeof *args);
    }
    for (size_t i = 0; i < n_args; i++)
        PS_CHECK(below(p, e, args[i]));
    *out = e;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Expressions
 * ------------------------------------------------------------------------------------- */

static ps_status parse_expr(parser *p, ps_stan_expr **out);
static ps_status parse_unary(parser *p, ps_stan_expr **out);

enum { PREC_OR = 1, PREC_AND, PREC_EQ, PREC_CMP, PREC_ADD, PREC_MUL, PREC_LDIV };

static int binary_prec(ps_tok kind, ps_stan_fn *fn, const char **symbol)
{
    switch (kind) {
    case TK_OR:
        *fn = PS_STAN_FN_OR, *symbol = "||";
        return PREC_OR;
    case TK_AND:
        *fn = PS_STAN_FN_AND, *symbol = "&&";
        return PREC_AND;
    case TK_EQ:
        *fn = PS_STAN_FN_EQ, *symbol = "==";
        return PREC_EQ;
    case TK_NE:
        *fn = PS_STAN_FN_NE, *symbol = "!=";
        return PREC_EQ;
    case TK_LT:
        *fn = PS_STAN_FN_LT, *symbol = "<";
        return PREC_CMP;
    case TK_LE:
        *fn = PS_STAN_FN_LE, *symbol = "<=";
        return PREC_CMP;
    case TK_GT:
        *fn = PS_STAN_FN_GT, *symbol = ">";
        return PREC_CMP;
    case TK_GE:
        *fn = PS_STAN_FN_GE, *symbol = ">=";
        return PREC_CMP;
    case TK_PLUS:
        *fn = PS_STAN_FN_ADD, *symbol = "+";
        return PREC_ADD;
    case TK_MINUS:
        *fn = PS_STAN_FN_SUBTRACT, *symbol = "-";
        return PREC_ADD;
    case TK_STAR:
        *fn = PS_STAN_FN_MULTIPLY, *symbol = "*";
        return PREC_MUL;
    case TK_SLASH:
        *fn = PS_STAN_FN_DIVIDE, *symbol = "/";
        return PREC_MUL;
    case TK_PERCENT:
        *fn = PS_STAN_FN_MODULUS, *symbol = "%";
        return PREC_MUL;
    case TK_EMUL:
        *fn = PS_STAN_FN_ELT_MULTIPLY, *symbol = ".*";
        return PREC_MUL;
    case TK_EDIV:
        *fn = PS_STAN_FN_ELT_DIVIDE, *symbol = "./";
        return PREC_MUL;
    case TK_IDIV:
        *fn = PS_STAN_FN_INT_DIVIDE, *symbol = "%/%";
        return PREC_LDIV;
    case TK_BACKSLASH:
        *fn = PS_STAN_N_FNS, *symbol = "\\";
        return PREC_LDIV;
    default:
        return 0;
    }
}

/* Arguments of a call after the '(' : a, b, c or a | b, c. */
static ps_status parse_call_args(parser *p, const char *name, bool allow_bar, plist *args,
                                 bool *has_bar)
{
    *has_bar = false;
    if (accept(p, TK_RPAREN))
        return PS_OK;
    for (;;) {
        ps_stan_expr *arg = NULL;
        PS_CHECK(parse_expr(p, &arg));
        PS_CHECK(plist_push(p, args, arg));
        if (allow_bar && args->n == 1 && at(p, TK_BAR)) {
            advance(p);
            *has_bar = true;
            continue;
        }
        if (accept(p, TK_COMMA))
            continue;
        if (at(p, TK_BAR))
            return ps_stan_error(p->prog, cur(p)->offset,
                                 "'|' may only follow the first argument of a call");
        return expect(p, TK_RPAREN, "to close the arguments of '%.*s'", MAX_NAME_SHOWN, name);
    }
}

static ps_status parse_primary(parser *p, ps_stan_expr **out)
{
    const ps_token *t = cur(p);
    ps_stan_expr *e = NULL;
    switch (t->kind) {
    case TK_INT:
        advance(p);
        PS_CHECK(new_expr(p, PS_STAN_E_INT, t->offset, &e));
        e->u.int_value = t->v.int_value;
        *out = e;
        return PS_OK;
    case TK_REAL:
        advance(p);
        PS_CHECK(new_expr(p, PS_STAN_E_REAL, t->offset, &e));
        e->u.real_value = t->v.real_value;
        *out = e;
        return PS_OK;
    case TK_STRING:
        return ps_stan_error(p->prog, t->offset,
                             "a string can only be an argument of print, reject or fatal_error");
    case TK_TARGET:
        if (peek_at(p, 1)->kind == TK_LPAREN && peek_at(p, 2)->kind == TK_RPAREN) {
            advance(p);
            advance(p);
            advance(p);
            return make_call(p, PS_STAN_FN_TARGET, PS_STAN_SYN_CALL, "target", t->offset, t->offset,
                             NULL, 0, out);
        }
        return ps_stan_error(p->prog, t->offset,
                             "'target' can only be used as 'target += ...' or 'target()'");
    case TK_IDENT: {
        const char *name;
        PS_CHECK(token_name(p, t, &name));
        advance(p);
        if (!at(p, TK_LPAREN)) {
            PS_CHECK(new_expr(p, PS_STAN_E_VAR, t->offset, &e));
            e->u.var.name = name;
            *out = e;
            return PS_OK;
        }
        advance(p);
        PS_CHECK(enter(p));
        plist args = {0};
        bool has_bar;
        PS_CHECK(parse_call_args(p, name, true, &args, &has_bar));
        leave(p);
        PS_CHECK(make_call(p, PS_STAN_N_FNS, PS_STAN_SYN_CALL, name, t->offset, t->offset,
                           (ps_stan_expr **)args.items, args.n, &e));
        e->u.call.has_bar = has_bar;
        *out = e;
        return PS_OK;
    }
    case TK_LPAREN: {
        advance(p);
        PS_CHECK(enter(p));
        PS_CHECK(parse_expr(p, &e));
        if (at(p, TK_COMMA))
            return ps_stan_error(p->prog, cur(p)->offset, "tuples are not supported yet");
        PS_CHECK(expect(p, TK_RPAREN, "to close the '(' of line %zu", line_of(p, t->offset)));
        leave(p);
        *out = e;
        return PS_OK;
    }
    case TK_LBRACE:
    case TK_LBRACK: {
        bool is_array = t->kind == TK_LBRACE;
        ps_tok close = is_array ? TK_RBRACE : TK_RBRACK;
        advance(p);
        PS_CHECK(enter(p));
        if (at(p, close))
            return ps_stan_error(p->prog, t->offset,
                                 is_array ? "an array expression '{...}' needs at least one element"
                                          : "a row vector expression '[...]' needs at least one "
                                            "element");
        plist elems = {0};
        for (;;) {
            ps_stan_expr *x = NULL;
            PS_CHECK(parse_expr(p, &x));
            PS_CHECK(plist_push(p, &elems, x));
            if (accept(p, TK_COMMA))
                continue;
            PS_CHECK(expect(p, close, "to close the '%c' of line %zu", is_array ? '{' : '[',
                            line_of(p, t->offset)));
            break;
        }
        leave(p);
        PS_CHECK(new_expr(p, is_array ? PS_STAN_E_ARRAY : PS_STAN_E_ROWVEC, t->offset, &e));
        e->u.list.n = elems.n;
        e->u.list.elems = (ps_stan_expr **)elems.items;
        for (size_t i = 0; i < elems.n; i++)
            PS_CHECK(below(p, e, e->u.list.elems[i]));
        *out = e;
        return PS_OK;
    }
    default:
        break;
    }
    if (is_keyword(t->kind) && t->kind != TK_TARGET)
        return ps_stan_error(p->prog, t->offset,
                             "expected an expression, found '%s' (a reserved word)",
                             ps_tok_describe(t->kind));
    return expected(p, "an expression", NULL);
}

/* The indices of x[...] after the '['. */
static ps_status parse_indices(parser *p, const ps_token *open, ps_stan_expr *base,
                               ps_stan_expr **out)
{
    ps_stan_index *items = NULL;
    size_t n = 0, cap = 0;
    PS_CHECK(enter(p));
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 2;
            ps_stan_index *grown = new_node(p, ncap * sizeof *grown);
            if (grown == NULL)
                return ps_stan_oom(p->prog);
            if (n > 0)
                memcpy(grown, items, n * sizeof *grown);
            items = grown;
            cap = ncap;
        }
        ps_stan_index *ix = &items[n++];
        ix->offset = cur(p)->offset;
        bool only_empty = false;
        if (at(p, TK_COMMA) || at(p, TK_RBRACK)) {
            ix->kind = PS_STAN_IDX_ALL;
            only_empty = true;
        } else if (accept(p, TK_COLON)) {
            if (at(p, TK_COMMA) || at(p, TK_RBRACK)) {
                ix->kind = PS_STAN_IDX_ALL;
            } else {
                ix->kind = PS_STAN_IDX_TO;
                PS_CHECK(parse_expr(p, &ix->hi));
            }
        } else {
            PS_CHECK(parse_expr(p, &ix->lo));
            if (accept(p, TK_COLON)) {
                if (at(p, TK_COMMA) || at(p, TK_RBRACK)) {
                    ix->kind = PS_STAN_IDX_FROM;
                } else {
                    ix->kind = PS_STAN_IDX_RANGE;
                    PS_CHECK(parse_expr(p, &ix->hi));
                }
            } else {
                ix->kind = PS_STAN_IDX_SINGLE;
            }
        }
        if (accept(p, TK_COMMA))
            continue;
        if (n == 1 && only_empty && at(p, TK_RBRACK))
            return expected(p, "an index", "in '[...]'");
        PS_CHECK(expect(p, TK_RBRACK, "to close the '[' of line %zu", line_of(p, open->offset)));
        break;
    }
    leave(p);
    ps_stan_expr *e = NULL;
    PS_CHECK(new_expr(p, PS_STAN_E_INDEX, base->offset, &e));
    e->op_offset = open->offset;
    e->u.index.base = base;
    e->u.index.n_indices = n;
    e->u.index.indices = items;
    PS_CHECK(below(p, e, base));
    for (size_t i = 0; i < n; i++) {
        PS_CHECK(below(p, e, items[i].lo));
        PS_CHECK(below(p, e, items[i].hi));
    }
    *out = e;
    return PS_OK;
}

static ps_status parse_postfix(parser *p, ps_stan_expr **out)
{
    ps_stan_expr *e = NULL;
    PS_CHECK(parse_primary(p, &e));
    for (;;) {
        const ps_token *t = cur(p);
        if (t->kind == TK_LBRACK) {
            advance(p);
            PS_CHECK(parse_indices(p, t, e, &e));
        } else if (t->kind == TK_QUOTE) {
            advance(p);
            ps_stan_expr *arg = e;
            PS_CHECK(make_call(p, PS_STAN_FN_TRANSPOSE, PS_STAN_SYN_POSTFIX, "'", arg->offset,
                               t->offset, &arg, 1, &e));
        } else {
            break;
        }
    }
    *out = e;
    return PS_OK;
}

/* postfix [^ unary]: exponentiation is right-associative and binds tighter than prefix
 * operators on its left, looser than those on its right (a^-b). */
static ps_status parse_power(parser *p, ps_stan_expr **out)
{
    ps_stan_expr *base = NULL;
    PS_CHECK(parse_postfix(p, &base));
    const ps_token *t = cur(p);
    if (t->kind != TK_HAT && t->kind != TK_EHAT) {
        *out = base;
        return PS_OK;
    }
    advance(p);
    ps_stan_expr *args[2] = {base, NULL};
    PS_CHECK(enter(p));
    PS_CHECK(parse_unary(p, &args[1]));
    leave(p);
    bool elt = t->kind == TK_EHAT;
    return make_call(p, elt ? PS_STAN_FN_ELT_POW : PS_STAN_FN_POW, PS_STAN_SYN_INFIX,
                     elt ? ".^" : "^", base->offset, t->offset, args, 2, out);
}

static ps_status parse_unary(parser *p, ps_stan_expr **out)
{
    const ps_token *t = cur(p);
    ps_stan_fn fn;
    const char *symbol;
    switch (t->kind) {
    case TK_BANG:
        fn = PS_STAN_FN_NOT, symbol = "!";
        break;
    case TK_MINUS:
        fn = PS_STAN_FN_MINUS, symbol = "-";
        break;
    case TK_PLUS:
        fn = PS_STAN_FN_PLUS, symbol = "+";
        break;
    default:
        return parse_power(p, out);
    }
    advance(p);
    ps_stan_expr *arg = NULL;
    PS_CHECK(enter(p));
    PS_CHECK(parse_unary(p, &arg));
    leave(p);
    return make_call(p, fn, PS_STAN_SYN_PREFIX, symbol, t->offset, t->offset, &arg, 1, out);
}

/* Binary operators of precedence >= min_prec, by precedence climbing. */
static ps_status parse_binary(parser *p, int min_prec, ps_stan_expr **out)
{
    ps_stan_expr *lhs = NULL;
    PS_CHECK(parse_unary(p, &lhs));
    for (;;) {
        const ps_token *t = cur(p);
        ps_stan_fn fn;
        const char *symbol;
        int prec = binary_prec(t->kind, &fn, &symbol);
        if (prec == 0 || prec < min_prec)
            break;
        if (t->kind == TK_BACKSLASH)
            return ps_stan_error(p->prog, t->offset,
                                 "left division '\\' is not supported yet: use "
                                 "mdivide_left_tri_low or inverse()");
        advance(p);
        ps_stan_expr *args[2] = {lhs, NULL};
        PS_CHECK(parse_binary(p, prec + 1, &args[1]));
        PS_CHECK(
            make_call(p, fn, PS_STAN_SYN_INFIX, symbol, lhs->offset, t->offset, args, 2, &lhs));
    }
    *out = lhs;
    return PS_OK;
}

static ps_status parse_expr(parser *p, ps_stan_expr **out)
{
    PS_CHECK(enter(p));
    ps_stan_expr *cond = NULL;
    PS_CHECK(parse_binary(p, PREC_OR, &cond));
    const ps_token *q = cur(p);
    if (q->kind == TK_QUESTION) {
        advance(p);
        ps_stan_expr *e = NULL;
        PS_CHECK(new_expr(p, PS_STAN_E_COND, cond->offset, &e));
        e->op_offset = q->offset;
        e->u.cond.cond = cond;
        PS_CHECK(parse_expr(p, &e->u.cond.then_expr));
        PS_CHECK(expect(p, TK_COLON, "in the conditional expression 'c ? a : b'"));
        PS_CHECK(parse_expr(p, &e->u.cond.else_expr));
        PS_CHECK(below(p, e, cond));
        PS_CHECK(below(p, e, e->u.cond.then_expr));
        PS_CHECK(below(p, e, e->u.cond.else_expr));
        cond = e;
    }
    leave(p);
    *out = cond;
    return PS_OK;
}

/* An expression in a bound <lower=...>: no comparisons, logic or '?:' at the top. */
static ps_status parse_bound_expr(parser *p, ps_stan_expr **out)
{
    PS_CHECK(enter(p));
    PS_CHECK(parse_binary(p, PREC_ADD, out));
    leave(p);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Types and declarations
 * ------------------------------------------------------------------------------------- */

static bool is_type_start(ps_tok kind)
{
    switch (kind) {
    case TK_INT_T:
    case TK_REAL_T:
    case TK_COMPLEX_T:
    case TK_VECTOR_T:
    case TK_ROW_VECTOR_T:
    case TK_MATRIX_T:
    case TK_COMPLEX_VECTOR_T:
    case TK_COMPLEX_ROW_VECTOR_T:
    case TK_COMPLEX_MATRIX_T:
    case TK_SIMPLEX_T:
    case TK_ORDERED_T:
    case TK_POSITIVE_ORDERED_T:
    case TK_UNIT_VECTOR_T:
    case TK_SUM_TO_ZERO_VECTOR_T:
    case TK_CHOLESKY_CORR_T:
    case TK_CHOLESKY_COV_T:
    case TK_COV_MATRIX_T:
    case TK_CORR_MATRIX_T:
    case TK_COLUMN_STOCHASTIC_T:
    case TK_ROW_STOCHASTIC_T:
    case TK_ARRAY:
    case TK_TUPLE:
        return true;
    default:
        return false;
    }
}

static ps_status unsupported_type(parser *p, const ps_token *t)
{
    switch (t->kind) {
    case TK_COMPLEX_T:
    case TK_COMPLEX_VECTOR_T:
    case TK_COMPLEX_ROW_VECTOR_T:
    case TK_COMPLEX_MATRIX_T:
        return ps_stan_error(p->prog, t->offset, "complex numbers ('%s') are not supported yet",
                             ps_tok_describe(t->kind));
    case TK_TUPLE:
        return ps_stan_error(p->prog, t->offset, "tuples are not supported yet");
    default:
        return ps_stan_error(p->prog, t->offset, "'%s' is not supported yet",
                             ps_tok_describe(t->kind));
    }
}

/* <lower=.., upper=..> or <offset=.., multiplier=..> after the element type keyword. */
static ps_status parse_constraint(parser *p, ps_stan_decl *d, const ps_token *type_tok)
{
    const ps_token *open = advance(p); /* '<' */
    bool affine_ok = d->type.base != PS_STAN_INT;
    for (;;) {
        const ps_token *t = cur(p);
        const char *word = p->prog->text + t->offset;
        ps_stan_expr **slot = NULL;
        bool is_bound = false;
        if (t->kind == TK_IDENT && t->len == 5 && memcmp(word, "lower", 5) == 0) {
            slot = &d->lower, is_bound = true;
        } else if (t->kind == TK_IDENT && t->len == 5 && memcmp(word, "upper", 5) == 0) {
            slot = &d->upper, is_bound = true;
        } else if (t->kind == TK_IDENT && t->len == 6 && memcmp(word, "offset", 6) == 0) {
            slot = &d->offset_expr;
        } else if (t->kind == TK_IDENT && t->len == 10 && memcmp(word, "multiplier", 10) == 0) {
            slot = &d->multiplier;
        } else {
            return expected(
                p, affine_ok ? "'lower', 'upper', 'offset' or 'multiplier'" : "'lower' or 'upper'",
                "in the constraint of a '%s'", ps_tok_describe(type_tok->kind));
        }
        if (!is_bound && !affine_ok)
            return ps_stan_error(p->prog, t->offset, "an int cannot have an offset or multiplier");
        if (*slot != NULL)
            return ps_stan_error(p->prog, t->offset, "'%.*s' is given twice", (int)t->len, word);
        if ((is_bound && (d->offset_expr || d->multiplier)) ||
            (!is_bound && (d->lower || d->upper)))
            return ps_stan_error(p->prog, t->offset,
                                 "a variable cannot have both bounds (lower, upper) and an "
                                 "affine transform (offset, multiplier)");
        advance(p);
        PS_CHECK(expect(p, TK_ASSIGN, "after '%.*s'", (int)t->len, word));
        PS_CHECK(parse_bound_expr(p, slot));
        d->constraint = is_bound ? PS_STAN_C_BOUNDS : PS_STAN_C_AFFINE;
        if (accept(p, TK_COMMA))
            continue;
        return expect(p, TK_GT, "to close the constraint '<' of line %zu",
                      line_of(p, open->offset));
    }
}

/* '[' e ']' or '[' e ',' e ']' */
static ps_status parse_elem_sizes(parser *p, ps_stan_decl *d, int min, int max,
                                  const ps_token *type_tok)
{
    PS_CHECK(expect(p, TK_LBRACK, "after '%s' (its size)", ps_tok_describe(type_tok->kind)));
    PS_CHECK(parse_expr(p, &d->elem_sizes[0]));
    int n = 1;
    while (accept(p, TK_COMMA)) {
        if (n == max)
            return ps_stan_error(p->prog, p->toks[p->pos - 1].offset, "a '%s' takes %d size%s",
                                 ps_tok_describe(type_tok->kind), max, max == 1 ? "" : "s");
        PS_CHECK(parse_expr(p, &d->elem_sizes[n]));
        n++;
    }
    if (n < min)
        return expected(p, "','", "and the number of columns of the '%s'",
                        ps_tok_describe(type_tok->kind));
    return expect(p, TK_RBRACK, "to close the size of the '%s'", ps_tok_describe(type_tok->kind));
}

/*
 * A sized type: [array[...]] elem[<constraint>][sizes]. constrained: whether bounds and
 * constrained types are allowed here (top-level variables); what names the context for
 * messages ("local variable").
 */
static ps_status parse_sized_type(parser *p, ps_stan_decl *d, bool constrained)
{
    if (accept(p, TK_ARRAY)) {
        PS_CHECK(expect(p, TK_LBRACK, "after 'array' (its sizes, as in array[N] real)"));
        plist sizes = {0};
        for (;;) {
            ps_stan_expr *e = NULL;
            PS_CHECK(parse_expr(p, &e));
            PS_CHECK(plist_push(p, &sizes, e));
            if (accept(p, TK_COMMA))
                continue;
            PS_CHECK(expect(p, TK_RBRACK, "to close the sizes of the array"));
            break;
        }
        if (sizes.n > PS_STAN_MAX_ARRAY_DIMS)
            return ps_stan_error(p->prog, ((ps_stan_expr *)sizes.items[0])->offset,
                                 "arrays with more than %d dimensions are not supported",
                                 PS_STAN_MAX_ARRAY_DIMS);
        d->type.dims = (uint8_t)sizes.n;
        d->array_sizes = (ps_stan_expr **)sizes.items;
        if (at(p, TK_ARRAY))
            return ps_stan_error(p->prog, cur(p)->offset,
                                 "write 'array[N, M] T' rather than nesting 'array'");
    }
    const ps_token *t = cur(p);
    bool bounds_ok = false, affine_ok = false;
    int n_sizes = 0, max_sizes = 0;
    ps_stan_constraint special = PS_STAN_C_NONE;
    switch (t->kind) {
    case TK_INT_T:
        d->type.base = PS_STAN_INT, bounds_ok = true;
        break;
    case TK_REAL_T:
        d->type.base = PS_STAN_REAL, bounds_ok = affine_ok = true;
        break;
    case TK_VECTOR_T:
        d->type.base = PS_STAN_VECTOR, bounds_ok = affine_ok = true, n_sizes = max_sizes = 1;
        break;
    case TK_ROW_VECTOR_T:
        d->type.base = PS_STAN_ROW_VECTOR, bounds_ok = affine_ok = true, n_sizes = max_sizes = 1;
        break;
    case TK_MATRIX_T:
        d->type.base = PS_STAN_MATRIX, bounds_ok = affine_ok = true, n_sizes = max_sizes = 2;
        break;
    case TK_SIMPLEX_T:
        d->type.base = PS_STAN_VECTOR, special = PS_STAN_C_SIMPLEX, n_sizes = max_sizes = 1;
        break;
    case TK_ORDERED_T:
        d->type.base = PS_STAN_VECTOR, special = PS_STAN_C_ORDERED, n_sizes = max_sizes = 1;
        break;
    case TK_POSITIVE_ORDERED_T:
        d->type.base = PS_STAN_VECTOR, special = PS_STAN_C_POSITIVE_ORDERED;
        n_sizes = max_sizes = 1;
        break;
    case TK_UNIT_VECTOR_T:
        d->type.base = PS_STAN_VECTOR, special = PS_STAN_C_UNIT_VECTOR, n_sizes = max_sizes = 1;
        break;
    case TK_CHOLESKY_CORR_T:
        d->type.base = PS_STAN_MATRIX, special = PS_STAN_C_CHOLESKY_CORR;
        n_sizes = max_sizes = 1;
        break;
    case TK_CHOLESKY_COV_T:
        d->type.base = PS_STAN_MATRIX, special = PS_STAN_C_CHOLESKY_COV;
        n_sizes = 1, max_sizes = 2;
        break;
    case TK_COV_MATRIX_T:
        d->type.base = PS_STAN_MATRIX, special = PS_STAN_C_COV_MATRIX, n_sizes = max_sizes = 1;
        break;
    case TK_CORR_MATRIX_T:
        d->type.base = PS_STAN_MATRIX, special = PS_STAN_C_CORR_MATRIX, n_sizes = max_sizes = 1;
        break;
    case TK_COMPLEX_T:
    case TK_COMPLEX_VECTOR_T:
    case TK_COMPLEX_ROW_VECTOR_T:
    case TK_COMPLEX_MATRIX_T:
    case TK_TUPLE:
    case TK_SUM_TO_ZERO_VECTOR_T:
    case TK_COLUMN_STOCHASTIC_T:
    case TK_ROW_STOCHASTIC_T:
        return unsupported_type(p, t);
    default:
        return expected(p, "a type (int, real, vector, row_vector, matrix, ...)",
                        d->type.dims ? "after 'array[...]'" : NULL);
    }
    advance(p);
    if (special != PS_STAN_C_NONE) {
        if (!constrained)
            return ps_stan_error(p->prog, t->offset,
                                 "a local variable cannot be a '%s': constrained types are "
                                 "only for variables of the data, transformed data, "
                                 "parameters, transformed parameters and generated quantities "
                                 "blocks",
                                 ps_tok_describe(t->kind));
        d->constraint = special;
        if (at(p, TK_LT))
            return ps_stan_error(p->prog, cur(p)->offset, "a '%s' cannot have bounds",
                                 ps_tok_describe(t->kind));
    } else if (at(p, TK_LT)) {
        if (!constrained)
            return ps_stan_error(p->prog, cur(p)->offset,
                                 "local variables cannot have constraints");
        (void)bounds_ok;
        (void)affine_ok;
        PS_CHECK(parse_constraint(p, d, t));
    }
    if (n_sizes > 0) {
        PS_CHECK(parse_elem_sizes(p, d, n_sizes, max_sizes, t));
        if (max_sizes == 2 && d->elem_sizes[1] == NULL)
            d->elem_sizes[1] = d->elem_sizes[0]; /* cholesky_factor_cov[M] is M x M */
        if (special == PS_STAN_C_CHOLESKY_CORR || special == PS_STAN_C_COV_MATRIX ||
            special == PS_STAN_C_CORR_MATRIX)
            d->elem_sizes[1] = d->elem_sizes[0];
    }
    return PS_OK;
}

/* The name of a declaration; keywords and reserved names are errors. */
static ps_status parse_decl_name(parser *p, const char *what, const char **name, size_t *offset)
{
    const ps_token *t = cur(p);
    if (is_keyword(t->kind))
        return ps_stan_error(p->prog, t->offset,
                             "'%s' is a reserved word and cannot be used as the name of %s",
                             ps_tok_describe(t->kind), what);
    if (t->kind != TK_IDENT)
        return expected(p, "a name", "for %s", what);
    if (t->len >= 2 && memcmp(p->prog->text + t->offset + t->len - 2, "__", 2) == 0)
        return ps_stan_error(p->prog, t->offset, "names ending in '__' are reserved: '%.*s'",
                             (int)(t->len > MAX_NAME_SHOWN ? MAX_NAME_SHOWN : t->len),
                             p->prog->text + t->offset);
    PS_CHECK(token_name(p, t, name));
    *offset = t->offset;
    advance(p);
    return PS_OK;
}

/* A variable declaration statement; the current token starts its type. */
static ps_status parse_var_decl(parser *p, const stmt_ctx *c, ps_stan_stmt **out)
{
    const ps_token *start = cur(p);
    ps_stan_decl *d = new_node(p, sizeof *d);
    if (d == NULL)
        return ps_stan_oom(p->prog);
    bool block_var = c->top_level;
    d->block = c->block;
    d->origin = block_var ? PS_STAN_ORIGIN_BLOCK : PS_STAN_ORIGIN_LOCAL;
    d->function = c->function;
    PS_CHECK(parse_sized_type(p, d, block_var));
    PS_CHECK(parse_decl_name(p, "a variable", &d->name, &d->offset));
    if (at(p, TK_LBRACK)) {
        char type[64];
        ps_stan_type_format((ps_stan_type){d->type.base, 0}, type, sizeof type);
        return ps_stan_error(p->prog, cur(p)->offset,
                             "'%s %s[...]' is the old array syntax, which Stan no longer "
                             "accepts: write 'array[...] %s %s'",
                             type, d->name, type, d->name);
    }
    if (at(p, TK_ASSIGN)) {
        if (block_var && (c->block == PS_STAN_BLOCK_DATA || c->block == PS_STAN_BLOCK_PARAMS))
            return ps_stan_error(p->prog, cur(p)->offset,
                                 "variables of the '%s' block cannot be given a value",
                                 ps_stan_block_name(c->block));
        advance(p);
        PS_CHECK(parse_expr(p, &d->init));
    }
    PS_CHECK(expect(p, TK_SEMI, "after the declaration of '%.*s'", MAX_NAME_SHOWN, d->name));
    ps_stan_stmt *s = new_node(p, sizeof *s);
    if (s == NULL)
        return ps_stan_oom(p->prog);
    s->kind = PS_STAN_S_DECL;
    s->offset = start->offset;
    s->u.decl.decl = d;
    *out = s;
    return PS_OK;
}

/* An unsized type of a function argument or result: [array[,,]] int|real|vector|... */
static ps_status parse_unsized_type(parser *p, ps_stan_type *type)
{
    type->dims = 0;
    if (accept(p, TK_ARRAY)) {
        PS_CHECK(expect(p, TK_LBRACK, "after 'array' (as in array[] real)"));
        unsigned dims = 1;
        while (accept(p, TK_COMMA))
            dims++;
        if (!at(p, TK_RBRACK))
            return expected(p, "']'",
                            "(function argument types have no sizes: array[] real, "
                            "array[,] real, ...)");
        advance(p);
        if (dims > PS_STAN_MAX_ARRAY_DIMS)
            return ps_stan_error(p->prog, p->toks[p->pos - 1].offset,
                                 "arrays with more than %d dimensions are not supported",
                                 PS_STAN_MAX_ARRAY_DIMS);
        type->dims = (uint8_t)dims;
    }
    const ps_token *t = cur(p);
    switch (t->kind) {
    case TK_INT_T:
        type->base = PS_STAN_INT;
        break;
    case TK_REAL_T:
        type->base = PS_STAN_REAL;
        break;
    case TK_VECTOR_T:
        type->base = PS_STAN_VECTOR;
        break;
    case TK_ROW_VECTOR_T:
        type->base = PS_STAN_ROW_VECTOR;
        break;
    case TK_MATRIX_T:
        type->base = PS_STAN_MATRIX;
        break;
    case TK_COMPLEX_T:
    case TK_COMPLEX_VECTOR_T:
    case TK_COMPLEX_ROW_VECTOR_T:
    case TK_COMPLEX_MATRIX_T:
    case TK_TUPLE:
        return unsupported_type(p, t);
    default:
        return expected(p, "a type (int, real, vector, row_vector, matrix or array[] ...)", NULL);
    }
    advance(p);
    if (at(p, TK_LBRACK)) {
        char name[64];
        ps_stan_type_format((ps_stan_type){type->base, 0}, name, sizeof name);
        return ps_stan_error(p->prog, cur(p)->offset,
                             "'%s[]' is the old array syntax, which Stan no longer accepts: "
                             "write 'array[] %s'",
                             name, name);
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Statements
 * ------------------------------------------------------------------------------------- */

static ps_status parse_stmt(parser *p, const stmt_ctx *c, ps_stan_stmt **out);

static ps_status new_stmt(parser *p, ps_stan_stmt_kind kind, size_t offset, ps_stan_stmt **out)
{
    ps_stan_stmt *s = new_node(p, sizeof *s);
    if (s == NULL)
        return ps_stan_oom(p->prog);
    s->kind = kind;
    s->offset = offset;
    *out = s;
    return PS_OK;
}

/* '{' statements '}' as a block statement (local scope). */
static ps_status parse_block_stmt(parser *p, const stmt_ctx *c, ps_stan_stmt **out)
{
    const ps_token *open = cur(p);
    PS_CHECK(expect(p, TK_LBRACE, NULL));
    stmt_ctx inner = *c;
    inner.top_level = false;
    plist stmts = {0};
    while (!at(p, TK_RBRACE)) {
        if (at(p, TK_EOF))
            return expected(p, "'}'", "to close the '{' of line %zu", line_of(p, open->offset));
        ps_stan_stmt *s = NULL;
        PS_CHECK(parse_stmt(p, &inner, &s));
        PS_CHECK(plist_push(p, &stmts, s));
    }
    advance(p);
    ps_stan_stmt *b = NULL;
    PS_CHECK(new_stmt(p, PS_STAN_S_BLOCK, open->offset, &b));
    b->u.block.n = stmts.n;
    b->u.block.stmts = (ps_stan_stmt **)stmts.items;
    *out = b;
    return PS_OK;
}

static bool is_lvalue(const ps_stan_expr *e)
{
    while (e->kind == PS_STAN_E_INDEX)
        e = e->u.index.base;
    return e->kind == PS_STAN_E_VAR;
}

static ps_status parse_printables(parser *p, const ps_token *kw, ps_stan_stmt *s)
{
    PS_CHECK(expect(p, TK_LPAREN, "after '%s'", ps_tok_describe(kw->kind)));
    if (at(p, TK_RPAREN))
        return ps_stan_error(p->prog, cur(p)->offset, "'%s' needs at least one argument",
                             ps_tok_describe(kw->kind));
    plist args = {0};
    PS_CHECK(enter(p));
    for (;;) {
        ps_stan_expr *e = NULL;
        const ps_token *t = cur(p);
        if (t->kind == TK_STRING) {
            advance(p);
            PS_CHECK(new_expr(p, PS_STAN_E_STRING, t->offset, &e));
            e->u.string.len = t->len - 2;
            e->u.string.text =
                ps_arena_strndup(p->arena, p->prog->text + t->offset + 1, t->len - 2);
            if (e->u.string.text == NULL)
                return ps_stan_oom(p->prog);
            e->type.base = PS_STAN_STRING;
        } else {
            PS_CHECK(parse_expr(p, &e));
        }
        PS_CHECK(plist_push(p, &args, e));
        if (accept(p, TK_COMMA))
            continue;
        PS_CHECK(expect(p, TK_RPAREN, "to close the arguments of '%s'", ps_tok_describe(kw->kind)));
        break;
    }
    leave(p);
    s->u.print.n = args.n;
    s->u.print.args = (ps_stan_expr **)args.items;
    return expect(p, TK_SEMI, "after '%s(...)'", ps_tok_describe(kw->kind));
}

/* y ~ dist(args) [T[..]] ;   after the '~' */
static ps_status parse_tilde(parser *p, ps_stan_expr *lhs, const ps_token *tilde,
                             ps_stan_stmt **out)
{
    const ps_token *name_tok = cur(p);
    if (name_tok->kind != TK_IDENT)
        return expected(p, "the name of a distribution", "after '~'");
    const char *name;
    PS_CHECK(token_name(p, name_tok, &name));
    advance(p);
    PS_CHECK(expect(p, TK_LPAREN, "after the distribution '%.*s'", MAX_NAME_SHOWN, name));
    PS_CHECK(enter(p));
    plist args = {0};
    PS_CHECK(plist_push(p, &args, lhs));
    bool has_bar;
    PS_CHECK(parse_call_args(p, name, false, &args, &has_bar));
    leave(p);
    const ps_token *t = cur(p);
    if (t->kind == TK_IDENT && t->len == 1 && p->prog->text[t->offset] == 'T' &&
        peek_at(p, 1)->kind == TK_LBRACK)
        return ps_stan_error(p->prog, t->offset, "truncation T[...] is not supported yet");
    PS_CHECK(expect(p, TK_SEMI, "after the '~' statement"));
    ps_stan_expr *call = NULL;
    PS_CHECK(make_call(p, PS_STAN_N_FNS, PS_STAN_SYN_TILDE, name, lhs->offset, name_tok->offset,
                       (ps_stan_expr **)args.items, args.n, &call));
    ps_stan_stmt *s = NULL;
    PS_CHECK(new_stmt(p, PS_STAN_S_TILDE, lhs->offset, &s));
    (void)tilde;
    s->u.tilde.call = call;
    s->u.tilde.dist_offset = name_tok->offset;
    *out = s;
    return PS_OK;
}

static bool assign_op(ps_tok kind, ps_stan_assign_op *op)
{
    switch (kind) {
    case TK_ASSIGN:
        *op = PS_STAN_ASSIGN;
        return true;
    case TK_PLUS_ASSIGN:
        *op = PS_STAN_ASSIGN_ADD;
        return true;
    case TK_MINUS_ASSIGN:
        *op = PS_STAN_ASSIGN_SUB;
        return true;
    case TK_TIMES_ASSIGN:
        *op = PS_STAN_ASSIGN_MUL;
        return true;
    case TK_DIV_ASSIGN:
        *op = PS_STAN_ASSIGN_DIV;
        return true;
    case TK_EMUL_ASSIGN:
        *op = PS_STAN_ASSIGN_EMUL;
        return true;
    case TK_EDIV_ASSIGN:
        *op = PS_STAN_ASSIGN_EDIV;
        return true;
    default:
        return false;
    }
}

/* Assignment, '~' statement or call statement: starts with an expression. */
static ps_status parse_expr_stmt(parser *p, ps_stan_stmt **out)
{
    const ps_token *start = cur(p);
    ps_stan_expr *e = NULL;
    PS_CHECK(parse_expr(p, &e));
    const ps_token *t = cur(p);
    ps_stan_assign_op op;
    if (assign_op(t->kind, &op)) {
        if (!is_lvalue(e))
            return ps_stan_error(p->prog, e->offset,
                                 "the left side of %s must be a variable, possibly indexed",
                                 ps_tok_describe(t->kind));
        advance(p);
        ps_stan_stmt *s = NULL;
        PS_CHECK(new_stmt(p, PS_STAN_S_ASSIGN, start->offset, &s));
        s->u.assign.lhs = e;
        s->u.assign.op = op;
        s->u.assign.sig = -1;
        PS_CHECK(parse_expr(p, &s->u.assign.rhs));
        PS_CHECK(expect(p, TK_SEMI, "after the assignment"));
        *out = s;
        return PS_OK;
    }
    if (t->kind == TK_TILDE) {
        advance(p);
        return parse_tilde(p, e, t, out);
    }
    if (t->kind == TK_SEMI) {
        if (e->kind == PS_STAN_E_CALL && e->u.call.syntax == PS_STAN_SYN_CALL) {
            advance(p);
            ps_stan_stmt *s = NULL;
            PS_CHECK(new_stmt(p, PS_STAN_S_CALL, start->offset, &s));
            s->u.call.call = e;
            *out = s;
            return PS_OK;
        }
        if (e->kind == PS_STAN_E_CALL && e->u.call.fn == PS_STAN_FN_LT && e->u.call.n_args == 2 &&
            e->u.call.args[1]->kind == PS_STAN_E_CALL &&
            e->u.call.args[1]->u.call.fn == PS_STAN_FN_MINUS &&
            e->u.call.args[1]->offset == e->op_offset + 1)
            return ps_stan_error(p->prog, e->op_offset,
                                 "'<-' is no longer part of Stan: assign with '='");
        return ps_stan_error(p->prog, e->offset,
                             "this expression is not a statement: only a call of a void "
                             "function can stand alone (did you mean '=' or 'target +='?)");
    }
    return expected(p, "'=', '~' or ';'", "after the expression");
}

static ps_status parse_stmt(parser *p, const stmt_ctx *c, ps_stan_stmt **out)
{
    PS_CHECK(enter(p));
    const ps_token *t = cur(p);
    ps_stan_stmt *s = NULL;
    stmt_ctx inner = *c;
    inner.top_level = false;
    if (is_type_start(t->kind)) {
        PS_CHECK(parse_var_decl(p, c, &s));
        leave(p);
        *out = s;
        return PS_OK;
    }
    switch (t->kind) {
    case TK_LBRACE:
        PS_CHECK(parse_block_stmt(p, c, &s));
        break;
    case TK_SEMI:
        advance(p);
        PS_CHECK(new_stmt(p, PS_STAN_S_EMPTY, t->offset, &s));
        break;
    case TK_FOR: {
        advance(p);
        PS_CHECK(expect(p, TK_LPAREN, "after 'for'"));
        ps_stan_decl *var = new_node(p, sizeof *var);
        if (var == NULL)
            return ps_stan_oom(p->prog);
        var->origin = PS_STAN_ORIGIN_LOOP;
        var->block = c->block;
        var->function = c->function;
        PS_CHECK(parse_decl_name(p, "a loop variable", &var->name, &var->offset));
        PS_CHECK(expect(p, TK_IN, "after the loop variable '%.*s'", MAX_NAME_SHOWN, var->name));
        ps_stan_expr *first = NULL;
        PS_CHECK(parse_expr(p, &first));
        if (accept(p, TK_COLON)) {
            PS_CHECK(new_stmt(p, PS_STAN_S_FOR, t->offset, &s));
            s->u.for_range.var = var;
            s->u.for_range.lo = first;
            PS_CHECK(parse_expr(p, &s->u.for_range.hi));
            PS_CHECK(expect(p, TK_RPAREN, "to close 'for ('"));
            PS_CHECK(parse_stmt(p, &inner, &s->u.for_range.body));
        } else {
            PS_CHECK(new_stmt(p, PS_STAN_S_FOREACH, t->offset, &s));
            s->u.foreach.var = var;
            s->u.foreach.container = first;
            PS_CHECK(expect(p, TK_RPAREN, "to close 'for (' (or ':' for a range)"));
            PS_CHECK(parse_stmt(p, &inner, &s->u.foreach.body));
        }
        break;
    }
    case TK_WHILE:
        advance(p);
        PS_CHECK(new_stmt(p, PS_STAN_S_WHILE, t->offset, &s));
        PS_CHECK(expect(p, TK_LPAREN, "after 'while'"));
        PS_CHECK(parse_expr(p, &s->u.while_loop.cond));
        PS_CHECK(expect(p, TK_RPAREN, "to close 'while ('"));
        PS_CHECK(parse_stmt(p, &inner, &s->u.while_loop.body));
        break;
    case TK_IF:
        advance(p);
        PS_CHECK(new_stmt(p, PS_STAN_S_IF, t->offset, &s));
        PS_CHECK(expect(p, TK_LPAREN, "after 'if'"));
        PS_CHECK(parse_expr(p, &s->u.if_stmt.cond));
        PS_CHECK(expect(p, TK_RPAREN, "to close 'if ('"));
        PS_CHECK(parse_stmt(p, &inner, &s->u.if_stmt.then_stmt));
        if (accept(p, TK_ELSE))
            PS_CHECK(parse_stmt(p, &inner, &s->u.if_stmt.else_stmt));
        break;
    case TK_BREAK:
    case TK_CONTINUE:
        advance(p);
        PS_CHECK(
            new_stmt(p, t->kind == TK_BREAK ? PS_STAN_S_BREAK : PS_STAN_S_CONTINUE, t->offset, &s));
        PS_CHECK(expect(p, TK_SEMI, "after '%s'", ps_tok_describe(t->kind)));
        break;
    case TK_RETURN:
        advance(p);
        PS_CHECK(new_stmt(p, PS_STAN_S_RETURN, t->offset, &s));
        if (!at(p, TK_SEMI))
            PS_CHECK(parse_expr(p, &s->u.ret.value));
        PS_CHECK(expect(p, TK_SEMI, "after the return statement"));
        break;
    case TK_PRINT:
    case TK_REJECT:
    case TK_FATAL_ERROR:
        advance(p);
        PS_CHECK(new_stmt(p,
                          t->kind == TK_PRINT    ? PS_STAN_S_PRINT
                          : t->kind == TK_REJECT ? PS_STAN_S_REJECT
                                                 : PS_STAN_S_FATAL_ERROR,
                          t->offset, &s));
        PS_CHECK(parse_printables(p, t, s));
        break;
    case TK_TARGET:
        if (peek_at(p, 1)->kind == TK_PLUS_ASSIGN) {
            advance(p);
            advance(p);
            PS_CHECK(new_stmt(p, PS_STAN_S_TARGET, t->offset, &s));
            PS_CHECK(parse_expr(p, &s->u.target.value));
            PS_CHECK(expect(p, TK_SEMI, "after 'target += ...'"));
        } else if (peek_at(p, 1)->kind == TK_LPAREN) {
            PS_CHECK(parse_expr_stmt(p, &s));
        } else {
            advance(p);
            return expected(p, "'+='", "after 'target'");
        }
        break;
    case TK_PROFILE: {
        advance(p);
        PS_CHECK(expect(p, TK_LPAREN, "after 'profile'"));
        const ps_token *name = cur(p);
        if (name->kind != TK_STRING)
            return expected(p, "a string", "as the name of the profile");
        advance(p);
        PS_CHECK(expect(p, TK_RPAREN, "after the name of the profile"));
        PS_CHECK(parse_block_stmt(p, c, &s));
        s->u.block.profile =
            ps_arena_strndup(p->arena, p->prog->text + name->offset + 1, name->len - 2);
        if (s->u.block.profile == NULL)
            return ps_stan_oom(p->prog);
        break;
    }
    case TK_ELSE:
        return ps_stan_error(p->prog, t->offset, "'else' without a matching 'if'");
    default:
        if (is_keyword(t->kind))
            return ps_stan_error(p->prog, t->offset, "expected a statement, found '%s'",
                                 ps_tok_describe(t->kind));
        PS_CHECK(parse_expr_stmt(p, &s));
        break;
    }
    leave(p);
    *out = s;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Functions and blocks
 * ------------------------------------------------------------------------------------- */

static ps_status parse_fundef(parser *p, ps_stan_fundef **out)
{
    ps_stan_fundef *f = new_node(p, sizeof *f);
    if (f == NULL)
        return ps_stan_oom(p->prog);
    if (accept(p, TK_VOID)) {
        f->ret.base = PS_STAN_VOID;
    } else if (is_type_start(cur(p)->kind)) {
        PS_CHECK(parse_unsized_type(p, &f->ret));
    } else {
        return expected(p, "a function definition (a return type such as 'real' or 'void')",
                        "in the functions block");
    }
    PS_CHECK(parse_decl_name(p, "a function", &f->name, &f->offset));
    PS_CHECK(expect(p, TK_LPAREN, "after the function name '%.*s'", MAX_NAME_SHOWN, f->name));
    plist args = {0};
    if (!accept(p, TK_RPAREN)) {
        for (;;) {
            ps_stan_decl *a = new_node(p, sizeof *a);
            if (a == NULL)
                return ps_stan_oom(p->prog);
            a->origin = PS_STAN_ORIGIN_ARG;
            a->block = PS_STAN_BLOCK_FUNCTIONS;
            a->function = f;
            a->index = args.n;
            if (accept(p, TK_DATA))
                a->data_only = true;
            PS_CHECK(parse_unsized_type(p, &a->type));
            PS_CHECK(parse_decl_name(p, "a function argument", &a->name, &a->offset));
            PS_CHECK(plist_push(p, &args, a));
            if (accept(p, TK_COMMA))
                continue;
            PS_CHECK(
                expect(p, TK_RPAREN, "to close the arguments of '%.*s'", MAX_NAME_SHOWN, f->name));
            break;
        }
    }
    f->n_args = args.n;
    f->args = (ps_stan_decl **)args.items;
    if (accept(p, TK_SEMI)) {
        *out = f;
        return PS_OK;
    }
    if (!at(p, TK_LBRACE))
        return expected(p, "'{' (the body of the function) or ';'", "after the arguments of '%.*s'",
                        MAX_NAME_SHOWN, f->name);
    stmt_ctx c = {.block = PS_STAN_BLOCK_FUNCTIONS, .top_level = false, .function = f};
    PS_CHECK(enter(p));
    PS_CHECK(parse_block_stmt(p, &c, &f->body));
    leave(p);
    *out = f;
    return PS_OK;
}

static ps_status parse_block(parser *p, ps_stan_block block, const ps_token *kw)
{
    ps_stan_program *prog = p->prog;
    const ps_token *open = cur(p);
    PS_CHECK(expect(p, TK_LBRACE, "after '%s'", ps_stan_block_name(block)));
    plist stmts = {0}, vars = {0}, funs = {0};
    stmt_ctx c = {.block = block, .top_level = block != PS_STAN_BLOCK_MODEL, .function = NULL};
    while (!at(p, TK_RBRACE)) {
        if (at(p, TK_EOF))
            return expected(p, "'}'", "to close the '%s' block (opened at line %zu)",
                            ps_stan_block_name(block), line_of(p, open->offset));
        if (block == PS_STAN_BLOCK_FUNCTIONS) {
            ps_stan_fundef *f = NULL;
            PS_CHECK(parse_fundef(p, &f));
            PS_CHECK(plist_push(p, &funs, f));
            continue;
        }
        bool decls_only = block == PS_STAN_BLOCK_DATA || block == PS_STAN_BLOCK_PARAMS;
        if (decls_only && !is_type_start(cur(p)->kind)) {
            char found[128];
            describe_token(p, cur(p), found, sizeof found);
            return ps_stan_error(prog, cur(p)->offset,
                                 "only variable declarations are allowed in the '%s' block, "
                                 "found %s",
                                 ps_stan_block_name(block), found);
        }
        ps_stan_stmt *s = NULL;
        PS_CHECK(parse_stmt(p, &c, &s));
        PS_CHECK(plist_push(p, &stmts, s));
        if (s->kind == PS_STAN_S_DECL && s->u.decl.decl->origin == PS_STAN_ORIGIN_BLOCK) {
            s->u.decl.decl->index = vars.n;
            PS_CHECK(plist_push(p, &vars, s->u.decl.decl));
        }
    }
    advance(p);
    prog->has_block[block] = true;
    prog->block_offset[block] = kw->offset;
    prog->stmts[block] = (ps_stan_stmt **)stmts.items;
    prog->n_stmts[block] = stmts.n;
    prog->vars[block] = (ps_stan_decl **)vars.items;
    prog->n_vars[block] = vars.n;
    if (block == PS_STAN_BLOCK_FUNCTIONS) {
        prog->funs = (ps_stan_fundef **)funs.items;
        prog->n_funs = funs.n;
    }
    return PS_OK;
}

ps_status ps_stan_parse_tokens(ps_stan_program *program, const ps_token *tokens, size_t n_tokens)
{
    parser p = {.prog = program, .arena = &program->arena, .toks = tokens, .n = n_tokens};
    int last = -1;
    while (!at(&p, TK_EOF)) {
        const ps_token *kw = cur(&p);
        ps_stan_block block;
        switch (kw->kind) {
        case TK_FUNCTIONS:
            block = PS_STAN_BLOCK_FUNCTIONS;
            break;
        case TK_DATA:
            block = PS_STAN_BLOCK_DATA;
            break;
        case TK_PARAMETERS:
            block = PS_STAN_BLOCK_PARAMS;
            break;
        case TK_MODEL:
            block = PS_STAN_BLOCK_MODEL;
            break;
        case TK_TRANSFORMED:
            if (peek_at(&p, 1)->kind == TK_DATA) {
                block = PS_STAN_BLOCK_TDATA;
            } else if (peek_at(&p, 1)->kind == TK_PARAMETERS) {
                block = PS_STAN_BLOCK_TPARAMS;
            } else {
                advance(&p);
                return expected(&p, "'data' or 'parameters'", "after 'transformed'");
            }
            advance(&p);
            break;
        case TK_GENERATED:
            advance(&p);
            if (!at(&p, TK_QUANTITIES))
                return expected(&p, "'quantities'", "after 'generated'");
            block = PS_STAN_BLOCK_GQ;
            break;
        default:
            return expected(&p,
                            "a program block (functions, data, transformed data, parameters, "
                            "transformed parameters, model or generated quantities)",
                            NULL);
        }
        advance(&p);
        if ((int)block == last)
            return ps_stan_error(program, kw->offset, "the program has two '%s' blocks",
                                 ps_stan_block_name(block));
        if ((int)block < last)
            return ps_stan_error(
                program, kw->offset, "the '%s' block must come before the '%s' block",
                ps_stan_block_name(block), ps_stan_block_name((ps_stan_block)last));
        last = (int)block;
        PS_CHECK(parse_block(&p, block, kw));
    }
    return PS_OK;
}
