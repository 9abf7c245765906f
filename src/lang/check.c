/*
 * The type checker: resolves names to declarations and calls to signatures, computes the
 * type and level of every expression, inserts int -> real promotions, and enforces the
 * rules of the Stan Reference Manual ("Program blocks", "Statements", "Expressions"):
 *
 *   - names are declared once in any enclosing scope (no shadowing), and are visible
 *     from their declaration to the end of their block (top-level variables of data,
 *     transformed data, parameters and transformed parameters stay visible in the later
 *     blocks; model block variables do not reach generated quantities);
 *   - variables are assigned only in the block that declares them; data, parameters,
 *     loop variables and function arguments are read-only;
 *   - sizes are ints, and sizes of top-level variables use only data and transformed
 *     data; parameters and transformed parameters are not ints;
 *   - `~` and `target +=` only in the model block (and _lp functions), `_lupdf`/_lupmf
 *     only in the model block (and _lpdf/_lpmf functions), `_rng` only in transformed
 *     data, generated quantities (and _rng functions), '|' exactly in density calls;
 *   - overloads are chosen by the fewest int -> real promotions.
 *
 * Scopes are one hash table of the declarations in scope, kept as a stack so that
 * leaving a scope pops its names in O(1) each. The first error stops the check.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lang/lang_impl.h"

typedef struct sym {
    const ps_stan_decl *decl;
    size_t hash;
    size_t next; /* index + 1 of the next symbol in the same bucket, 0 at the end */
} sym;

typedef struct checker {
    ps_stan_program *prog;
    ps_stan_options opts;
    ps_stan_block block;
    const ps_stan_fundef *fun; /* the function whose body is being checked */
    int loop_depth;
    sym *syms;
    size_t n_syms, cap_syms;
    size_t *buckets; /* index + 1 of the newest symbol of each bucket */
    size_t n_buckets;
    size_t *fun_buckets; /* user functions by name: index + 1 into prog->funs */
    size_t *fun_next;
    size_t n_fun_buckets;
} checker;

enum { NAME_SHOWN = 64, MAX_SIGS_SHOWN = 12 };

static ps_status check_expr(checker *c, ps_stan_expr **slot);
static ps_status check_stmt(checker *c, ps_stan_stmt *s);

/* ---------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------- */

static size_t hash_name(const char *s)
{
    /* FNV-1a */
    size_t h = (size_t)14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= (size_t)1099511628211ULL;
    }
    return h;
}

/* The Stan spelling of a type, in a buffer that lives until the end of the enclosing
 * block (a compound literal), for messages. */
#define TS(t) ps_stan_type_format((t), (char[64]){""}, 64)

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static size_t line_of(const checker *c, size_t offset)
{
    size_t line, col;
    ps_text_position(c->prog->text, c->prog->text_len, offset, &line, &col);
    return line;
}

static bool is_value_type(ps_stan_type t)
{
    return t.base >= PS_STAN_INT && t.base <= PS_STAN_MATRIX;
}

static bool is_real_based(ps_stan_type t)
{
    return t.base >= PS_STAN_REAL && t.base <= PS_STAN_MATRIX;
}

/* Cost of using a value of type from where type to is wanted: 0 same, 1 int -> real
 * promotion (also element-wise for arrays), -1 impossible. */
static int convert_cost(ps_stan_type to, ps_stan_type from)
{
    if (ps_stan_type_equal(to, from))
        return 0;
    if (from.base == PS_STAN_INT && to.base == PS_STAN_REAL && from.dims == to.dims)
        return 1;
    return -1;
}

static ps_stan_level max_level(ps_stan_level a, ps_stan_level b)
{
    return a > b ? a : b;
}

/* Ints never carry derivatives: their level is at most DATA. */
static void cap_level(ps_stan_expr *e)
{
    if (e->type.base == PS_STAN_INT && e->level > PS_STAN_LEVEL_DATA)
        e->level = PS_STAN_LEVEL_DATA;
}

/* Wraps *slot in a promotion to type to (which convert_cost allows). */
static ps_status promote(checker *c, ps_stan_expr **slot, ps_stan_type to)
{
    ps_stan_expr *e = *slot;
    if (ps_stan_type_equal(e->type, to))
        return PS_OK;
    ps_stan_expr *p = ps_arena_alloc(&c->prog->arena, sizeof *p);
    if (p == NULL)
        return ps_stan_oom(c->prog);
    p->kind = PS_STAN_E_PROMOTE;
    p->type = to;
    p->level = e->level;
    p->offset = e->offset;
    p->op_offset = e->op_offset;
    p->depth = e->depth + 1;
    p->u.promote.arg = e;
    *slot = p;
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Scopes
 * ------------------------------------------------------------------------------------- */

static const ps_stan_decl *scope_find(const checker *c, const char *name)
{
    if (c->n_buckets == 0)
        return NULL;
    size_t h = hash_name(name);
    for (size_t i = c->buckets[h % c->n_buckets]; i != 0; i = c->syms[i - 1].next)
        if (c->syms[i - 1].hash == h && strcmp(c->syms[i - 1].decl->name, name) == 0)
            return c->syms[i - 1].decl;
    return NULL;
}

static ps_status rehash(checker *c, size_t n_buckets)
{
    size_t *buckets = ps_calloc(n_buckets, sizeof *buckets);
    if (buckets == NULL)
        return ps_stan_oom(c->prog);
    ps_free(c->buckets);
    c->buckets = buckets;
    c->n_buckets = n_buckets;
    /* Oldest first, so that the newest symbol of each bucket ends up at its head. */
    for (size_t i = 0; i < c->n_syms; i++) {
        size_t b = c->syms[i].hash % n_buckets;
        c->syms[i].next = buckets[b];
        buckets[b] = i + 1;
    }
    return PS_OK;
}

/* The name of a variable's block, for messages ("a data variable", "a local variable"). */
static void describe_decl(const ps_stan_decl *d, char *buf, size_t size)
{
    switch (d->origin) {
    case PS_STAN_ORIGIN_LOOP:
        snprintf(buf, size, "a loop variable");
        return;
    case PS_STAN_ORIGIN_ARG:
        snprintf(buf, size, "a function argument");
        return;
    case PS_STAN_ORIGIN_LOCAL:
        snprintf(buf, size, "a local variable");
        return;
    case PS_STAN_ORIGIN_BLOCK:
        snprintf(buf, size, "a variable of the '%s' block", ps_stan_block_name(d->block));
        return;
    }
}

static ps_status scope_add(checker *c, const ps_stan_decl *d)
{
    const ps_stan_decl *old = scope_find(c, d->name);
    if (old != NULL) {
        char what[96];
        describe_decl(old, what, sizeof what);
        return ps_stan_error(c->prog, d->offset, "'%.*s' is already declared (%s, line %zu)",
                             NAME_SHOWN, d->name, what, line_of(c, old->offset));
    }
    if (c->n_syms == c->cap_syms) {
        size_t cap = c->cap_syms ? c->cap_syms * 2 : 64;
        if (ps_realloc_array(&c->syms, cap, sizeof *c->syms, "symbols") != PS_OK)
            return ps_stan_oom(c->prog);
        c->cap_syms = cap;
    }
    sym *s = &c->syms[c->n_syms++];
    s->decl = d;
    s->hash = hash_name(d->name);
    if (c->n_syms * 4 > c->n_buckets * 3) {
        if (rehash(c, c->n_buckets ? c->n_buckets * 2 : 64) != PS_OK) {
            c->n_syms--;
            return ps_stan_oom(c->prog);
        }
        return PS_OK;
    }
    size_t b = s->hash % c->n_buckets;
    s->next = c->buckets[b];
    c->buckets[b] = c->n_syms;
    return PS_OK;
}

/* Forgets every name declared since mark (a former c->n_syms). */
static void scope_pop(checker *c, size_t mark)
{
    while (c->n_syms > mark) {
        sym *s = &c->syms[c->n_syms - 1];
        c->buckets[s->hash % c->n_buckets] = s->next;
        c->n_syms--;
    }
}

/* The in-scope name closest to name (edit distance <= 2), or NULL. */
static const char *suggest_var(const checker *c, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < c->n_syms; i++) {
        size_t d = ps_edit_distance(name, c->syms[i].decl->name, 2);
        if (d < best_d) {
            best_d = d;
            best = c->syms[i].decl->name;
        }
    }
    return best;
}

/* ---------------------------------------------------------------------------------------
 * User-defined functions by name
 * ------------------------------------------------------------------------------------- */

static ps_status index_functions(checker *c)
{
    size_t n = c->prog->n_funs;
    if (n == 0)
        return PS_OK;
    c->n_fun_buckets = n * 2;
    c->fun_buckets = ps_calloc(c->n_fun_buckets, sizeof *c->fun_buckets);
    c->fun_next = ps_calloc(n, sizeof *c->fun_next);
    if (c->fun_buckets == NULL || c->fun_next == NULL)
        return ps_stan_oom(c->prog);
    /* Newest first in each chain; walkers go through all of them anyway. */
    for (size_t i = n; i-- > 0;) {
        size_t b = hash_name(c->prog->funs[i]->name) % c->n_fun_buckets;
        c->fun_next[i] = c->fun_buckets[b];
        c->fun_buckets[b] = i + 1;
    }
    return PS_OK;
}

/* The first user function (definition or declaration) named name, as an index + 1 into
 * prog->funs, or 0; continue with c->fun_next[i - 1]. */
static size_t fun_first(const checker *c, const char *name)
{
    if (c->n_fun_buckets == 0)
        return 0;
    for (size_t i = c->fun_buckets[hash_name(name) % c->n_fun_buckets]; i != 0;
         i = c->fun_next[i - 1])
        if (strcmp(c->prog->funs[i - 1]->name, name) == 0)
            return i;
    return 0;
}

static size_t fun_following(const checker *c, size_t i, const char *name)
{
    for (i = c->fun_next[i - 1]; i != 0; i = c->fun_next[i - 1])
        if (strcmp(c->prog->funs[i - 1]->name, name) == 0)
            return i;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Signature matching
 * ------------------------------------------------------------------------------------- */

/* Cost of matching argument type a against param p (0 exact, 1 promoted, -1 no match);
 * *concrete receives the type the argument takes. */
static int match_param(const ps_stan_param *p, ps_stan_type a, ps_stan_type *concrete)
{
    if (!is_value_type(a))
        return -1;
    *concrete = a;
    switch ((ps_stan_pattern)p->pattern) {
    case PS_STAN_P_TYPE: {
        int cost = convert_cost(p->type, a);
        if (cost >= 0)
            *concrete = p->type;
        return cost;
    }
    case PS_STAN_P_REALS:
        if (a.dims == 0 &&
            (a.base == PS_STAN_VECTOR || a.base == PS_STAN_ROW_VECTOR || a.base == PS_STAN_REAL))
            return 0;
        if (a.dims <= 1 && a.base == PS_STAN_REAL)
            return 0;
        if (a.dims <= 1 && a.base == PS_STAN_INT) {
            concrete->base = PS_STAN_REAL;
            return 1;
        }
        return -1;
    case PS_STAN_P_INTS:
        return a.base == PS_STAN_INT && a.dims <= 1 ? 0 : -1;
    case PS_STAN_P_VECTORS:
        return (a.base == PS_STAN_VECTOR || a.base == PS_STAN_ROW_VECTOR) && a.dims <= 1 ? 0 : -1;
    case PS_STAN_P_REAL_OR_VECTOR:
        if (a.dims != 0)
            return -1;
        if (a.base == PS_STAN_REAL || a.base == PS_STAN_VECTOR)
            return 0;
        if (a.base == PS_STAN_INT) {
            concrete->base = PS_STAN_REAL;
            return 1;
        }
        return -1;
    case PS_STAN_P_VECTORISED:
        if (a.base == PS_STAN_INT) {
            concrete->base = PS_STAN_REAL;
            return 1;
        }
        return 0;
    case PS_STAN_P_ANY:
        return 0;
    case PS_STAN_P_ARRAY:
        return a.dims >= 1 ? 0 : -1;
    case PS_STAN_P_ARRAY_OF:
        if (a.dims < 1)
            return -1;
        if (a.base == p->type.base)
            return 0;
        if (a.base == PS_STAN_INT && p->type.base == PS_STAN_REAL) {
            concrete->base = PS_STAN_REAL;
            return 1;
        }
        return -1;
    }
    return -1;
}

/* Finds the builtin signature of fn for args with the fewest promotions; -1 if none. */
static int best_sig(ps_stan_fn fn, ps_stan_expr *const *args, size_t n_args,
                    ps_stan_type concrete[PS_STAN_MAX_PARAMS])
{
    int best = -1, best_cost = INT_MAX;
    int count = ps_stan_sig_count();
    if (n_args > PS_STAN_MAX_PARAMS)
        return -1;
    for (int id = 0; id < count; id++) {
        const ps_stan_sig *s = ps_stan_sig_get(id);
        if (s->fn != fn || s->n_params != n_args)
            continue;
        ps_stan_type types[PS_STAN_MAX_PARAMS];
        int cost = 0;
        size_t i;
        for (i = 0; i < n_args; i++) {
            int k = match_param(&s->params[i], args[i]->type, &types[i]);
            if (k < 0)
                break;
            cost += k;
        }
        if (i < n_args || cost >= best_cost)
            continue;
        best = id;
        best_cost = cost;
        memcpy(concrete, types, sizeof types);
    }
    return best;
}

/* "(vector, int, matrix)" */
static void describe_args(ps_strbuf *sb, ps_stan_expr *const *args, size_t n)
{
    ps_strbuf_putc(sb, '(');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ps_strbuf_puts(sb, ", ");
        ps_strbuf_puts(sb, TS(args[i]->type));
    }
    ps_strbuf_putc(sb, ')');
}

static void describe_user_sig(ps_strbuf *sb, const ps_stan_fundef *f)
{
    ps_strbuf_printf(sb, "%.*s(", NAME_SHOWN, f->name);
    for (size_t i = 0; i < f->n_args; i++) {
        if (i > 0)
            ps_strbuf_puts(sb, ", ");
        if (f->args[i]->data_only)
            ps_strbuf_puts(sb, "data ");
        ps_strbuf_puts(sb, TS(f->args[i]->type));
    }
    ps_strbuf_putc(sb, ')');
}

/* The error for a call no signature matches, listing the signatures that exist; user
 * is the resolved name of a user function ("mydist_lpdf" for `y ~ mydist(...)`). */
static ps_status no_signature(checker *c, const ps_stan_expr *e, ps_stan_fn fn, const char *user)
{
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    bool is_op = fn < PS_STAN_N_FNS && ps_stan_fn_kind_of(fn) == PS_STAN_KIND_OP;
    if (is_op || (fn == PS_STAN_FN_POW && e->u.call.syntax == PS_STAN_SYN_INFIX))
        ps_strbuf_printf(&sb, "operator '%s' cannot be applied to ", ps_stan_op_symbol(fn));
    else if (fn == PS_STAN_FN_USER)
        ps_strbuf_printf(&sb, "no signature of %.*s matches ", NAME_SHOWN, user);
    else
        ps_strbuf_printf(&sb, "no signature of %s matches ", ps_stan_fn_name(fn));
    describe_args(&sb, e->u.call.args, e->u.call.n_args);
    if (e->u.call.syntax == PS_STAN_SYN_TILDE)
        ps_strbuf_printf(&sb, " (the left side of '~' and the arguments of '%.*s')", NAME_SHOWN,
                         e->u.call.name);
    ps_strbuf_puts(&sb, "; available: ");
    int shown = 0, more = 0;
    if (fn == PS_STAN_FN_USER) {
        for (size_t i = fun_first(c, user); i != 0; i = fun_following(c, i, user)) {
            if (shown == MAX_SIGS_SHOWN) {
                more++;
                continue;
            }
            if (shown++ > 0)
                ps_strbuf_puts(&sb, "; ");
            describe_user_sig(&sb, c->prog->funs[i - 1]);
        }
    } else {
        for (int id = 0; id < ps_stan_sig_count(); id++) {
            if (ps_stan_sig_get(id)->fn != fn)
                continue;
            if (shown == MAX_SIGS_SHOWN) {
                more++;
                continue;
            }
            if (shown++ > 0)
                ps_strbuf_puts(&sb, "; ");
            ps_stan_sig_describe(&sb, id, false);
        }
    }
    if (more > 0)
        ps_strbuf_printf(&sb, "; and %d more", more);
    ps_status status;
    if (sb.failed)
        status = ps_stan_oom(c->prog);
    else
        status = ps_stan_error(c->prog, e->op_offset, "%s", ps_strbuf_str(&sb));
    ps_strbuf_fini(&sb);
    return status;
}

/* Checks data-only arguments: outside generated quantities (where everything is a double)
 * an argument that depends on parameters may not go where data is required. */
static ps_status check_data_arg(checker *c, const ps_stan_expr *arg, size_t i, const char *fname)
{
    if (arg->level < PS_STAN_LEVEL_PARAM || c->block == PS_STAN_BLOCK_GQ)
        return PS_OK;
    return ps_stan_error(c->prog, arg->offset,
                         "argument %zu of '%.*s' must be data, but this expression depends on "
                         "parameters",
                         i + 1, NAME_SHOWN, fname);
}

static ps_status apply_builtin(checker *c, ps_stan_expr *e, ps_stan_fn fn)
{
    ps_stan_type concrete[PS_STAN_MAX_PARAMS] = {{0, 0}};
    size_t n = e->u.call.n_args;
    int id = best_sig(fn, e->u.call.args, n, concrete);
    if (id < 0)
        return no_signature(c, e, fn, NULL);
    const ps_stan_sig *s = ps_stan_sig_get(id);
    ps_stan_level level = PS_STAN_LEVEL_CONST;
    bool all_scalar = true;
    for (size_t i = 0; i < n; i++) {
        PS_CHECK(promote(c, &e->u.call.args[i], concrete[i]));
        level = max_level(level, e->u.call.args[i]->level);
        if (!ps_stan_type_is_scalar(concrete[i]))
            all_scalar = false;
        if (s->params[i].data_only)
            PS_CHECK(check_data_arg(c, e->u.call.args[i], i, ps_stan_fn_name(fn)));
    }
    e->u.call.fn = fn;
    e->u.call.sig = id;
    switch ((ps_stan_result)s->result) {
    case PS_STAN_R_TYPE:
        e->type = s->ret;
        break;
    case PS_STAN_R_ARG0:
        e->type = concrete[0];
        break;
    case PS_STAN_R_RNG:
        e->type = s->ret;
        if (!all_scalar)
            e->type.dims = 1;
        break;
    case PS_STAN_R_REP_ARRAY:
        e->type = concrete[0];
        if (concrete[0].dims + n - 1 > PS_STAN_MAX_ARRAY_DIMS)
            return ps_stan_error(c->prog, e->op_offset,
                                 "rep_array would make an array of more than %d dimensions",
                                 PS_STAN_MAX_ARRAY_DIMS);
        e->type.dims = (uint8_t)(concrete[0].dims + n - 1);
        break;
    }
    ps_stan_fn_kind kind = ps_stan_fn_kind_of(fn);
    if (kind == PS_STAN_KIND_RNG)
        level = max_level(level, PS_STAN_LEVEL_DATA);
    if (fn == PS_STAN_FN_TARGET)
        level = PS_STAN_LEVEL_PARAM;
    e->level = level;
    cap_level(e);
    return PS_OK;
}

static ps_status apply_user(checker *c, ps_stan_expr *e, const char *name)
{
    size_t n = e->u.call.n_args;
    const ps_stan_fundef *best = NULL;
    int best_cost = INT_MAX;
    for (size_t i = fun_first(c, name); i != 0; i = fun_following(c, i, name)) {
        const ps_stan_fundef *f = c->prog->funs[i - 1];
        if (f->n_args != n)
            continue;
        int cost = 0;
        size_t k;
        for (k = 0; k < n; k++) {
            int cc = convert_cost(f->args[k]->type, e->u.call.args[k]->type);
            if (cc < 0)
                break;
            cost += cc;
        }
        if (k < n || cost >= best_cost)
            continue;
        best = f->definition ? f->definition : f;
        best_cost = cost;
    }
    if (best == NULL)
        return no_signature(c, e, PS_STAN_FN_USER, name);
    ps_stan_level level = PS_STAN_LEVEL_CONST;
    for (size_t k = 0; k < n; k++) {
        PS_CHECK(promote(c, &e->u.call.args[k], best->args[k]->type));
        level = max_level(level, e->u.call.args[k]->level);
        if (best->args[k]->data_only)
            PS_CHECK(check_data_arg(c, e->u.call.args[k], k, name));
    }
    e->u.call.fn = PS_STAN_FN_USER;
    e->u.call.sig = -1;
    e->u.call.user = best;
    e->type = best->ret;
    if (ends_with(name, "_rng"))
        level = max_level(level, PS_STAN_LEVEL_DATA);
    if (ends_with(name, "_lp"))
        level = PS_STAN_LEVEL_PARAM;
    e->level = level;
    cap_level(e);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Calls
 * ------------------------------------------------------------------------------------- */

/* Whether a name is a density-like function that takes '|' after the first argument. */
static bool bar_suffix(const char *name)
{
    return ends_with(name, "_lpdf") || ends_with(name, "_lupdf") || ends_with(name, "_lpmf") ||
           ends_with(name, "_lupmf") || ends_with(name, "_lcdf") || ends_with(name, "_lccdf") ||
           ends_with(name, "_cdf");
}

static bool in_lp_context(const checker *c)
{
    return c->block == PS_STAN_BLOCK_MODEL || (c->fun != NULL && ends_with(c->fun->name, "_lp"));
}

/* The "is not supported yet"/"was removed"/"unknown" error for a name that resolves to
 * nothing. base is the distribution name for '~' (name without suffix), else NULL. */
static ps_status unknown_function(checker *c, const ps_stan_expr *e, const char *name, bool tilde)
{
    char buf[256];
    size_t off = e->op_offset;
    if (ps_stan_fn_unsupported(name))
        return ps_stan_error(c->prog, off, "%s '%.*s' is not supported yet",
                             tilde ? "the distribution" : "the function", NAME_SHOWN, name);
    if (strcmp(name, "increment_log_prob") == 0)
        return ps_stan_error(c->prog, off,
                             "increment_log_prob() was removed from Stan: use 'target += ...'");
    if (strcmp(name, "get_lp") == 0)
        return ps_stan_error(c->prog, off, "get_lp() was removed from Stan: use target()");
    if (strcmp(name, "if_else") == 0)
        return ps_stan_error(c->prog, off,
                             "if_else() was removed from Stan: use the conditional operator "
                             "'c ? a : b'");
    size_t len = strlen(name);
    if (!tilde && len < 200) {
        /* A wrong or removed suffix: poisson_lpdf, normal_log, normal_cdf_log ... */
        static const struct {
            const char *from, *to;
        } fixes[] = {{"_lpdf", "_lpmf"},   {"_lpmf", "_lpdf"},    {"_lupdf", "_lupmf"},
                     {"_lupmf", "_lupdf"}, {"_cdf_log", "_lcdf"}, {"_ccdf_log", "_lccdf"},
                     {"_log", "_lpdf"},    {"_log", "_lpmf"}};
        for (size_t i = 0; i < sizeof fixes / sizeof fixes[0]; i++) {
            if (!ends_with(name, fixes[i].from))
                continue;
            size_t base = len - strlen(fixes[i].from);
            snprintf(buf, sizeof buf, "%.*s%s", (int)base, name, fixes[i].to);
            const char *canon = buf;
            char canon_buf[256];
            if (ends_with(buf, "_lupdf") || ends_with(buf, "_lupmf")) {
                snprintf(canon_buf, sizeof canon_buf, "%.*s_lp%s", (int)(strlen(buf) - 6), buf,
                         ends_with(buf, "_lupdf") ? "df" : "mf");
                canon = canon_buf;
            }
            if (ps_stan_fn_lookup(canon) < 0 && fun_first(c, buf) == 0)
                continue;
            if (strcmp(fixes[i].from, "_log") == 0 || strstr(fixes[i].from, "_log") != NULL)
                return ps_stan_error(c->prog, off, "'%s' was removed from Stan: use '%s'", name,
                                     buf);
            return ps_stan_error(
                c->prog, off, "'%s' does not exist: %.*s is a %s distribution, use '%s'", name,
                (int)base, name, strstr(fixes[i].to, "mf") ? "discrete" : "continuous", buf);
        }
    }
    const ps_stan_decl *var = scope_find(c, name);
    if (var != NULL && !tilde)
        return ps_stan_error(c->prog, off, "'%.*s' is a variable, not a function", NAME_SHOWN,
                             name);
    const char *suggestion = NULL;
    if (tilde) {
        snprintf(buf, sizeof buf, "%.*s_lpdf", NAME_SHOWN, name);
        const char *s = ps_stan_fn_suggest(buf);
        if (s == NULL || !ends_with(s, "_lpdf")) {
            snprintf(buf, sizeof buf, "%.*s_lpmf", NAME_SHOWN, name);
            s = ps_stan_fn_suggest(buf);
            if (s != NULL && !ends_with(s, "_lpmf"))
                s = NULL;
        }
        if (s != NULL) {
            snprintf(buf, sizeof buf, "%.*s", (int)(strlen(s) - 5), s);
            suggestion = buf;
        }
        if (suggestion)
            return ps_stan_error(c->prog, off, "unknown distribution '%.*s'; did you mean '%s'?",
                                 NAME_SHOWN, name, suggestion);
        return ps_stan_error(c->prog, off, "unknown distribution '%.*s'", NAME_SHOWN, name);
    }
    suggestion = ps_stan_fn_suggest(name);
    if (suggestion)
        return ps_stan_error(c->prog, off, "unknown function '%.*s'; did you mean '%s'?",
                             NAME_SHOWN, name, suggestion);
    return ps_stan_error(c->prog, off, "unknown function '%.*s'", NAME_SHOWN, name);
}

/* Resolves a named call (f(...) or the density of a `~`). Arguments are checked. */
static ps_status resolve_named(checker *c, ps_stan_expr *e)
{
    const char *name = e->u.call.name;
    size_t len = strlen(name);
    size_t off = e->op_offset;
    char canon[256];
    if (len > 200)
        return unknown_function(c, e, name, e->u.call.syntax == PS_STAN_SYN_TILDE);

    if (e->u.call.syntax == PS_STAN_SYN_TILDE) {
        if (bar_suffix(name) || ends_with(name, "_rng"))
            return ps_stan_error(c->prog, off,
                                 "write the distribution without its suffix after '~' (as in "
                                 "'y ~ normal(mu, sigma)')");
        e->u.call.propto = true;
        const char *suffixes[2] = {"_lpdf", "_lpmf"};
        for (int k = 0; k < 2; k++) {
            snprintf(canon, sizeof canon, "%s%s", name, suffixes[k]);
            if (c->opts.user_functions && fun_first(c, canon) != 0)
                return apply_user(c, e, canon);
        }
        for (int k = 0; k < 2; k++) {
            snprintf(canon, sizeof canon, "%s%s", name, suffixes[k]);
            int fn = ps_stan_fn_lookup(canon);
            if (fn >= 0)
                return apply_builtin(c, e, (ps_stan_fn)fn);
        }
        return unknown_function(c, e, name, true);
    }

    /* '|' belongs exactly to the density-like calls with more than one argument. */
    if (bar_suffix(name)) {
        if (e->u.call.n_args >= 2 && !e->u.call.has_bar)
            return ps_stan_error(c->prog, e->u.call.args[1]->offset,
                                 "in a call of '%.*s', the first argument is followed by '|', "
                                 "not ',': %.*s(y | ...)",
                                 NAME_SHOWN, name, NAME_SHOWN, name);
    } else if (e->u.call.has_bar) {
        return ps_stan_error(c->prog, off,
                             "only calls of _lpdf, _lupdf, _lpmf, _lupmf, _lcdf, _lccdf and _cdf "
                             "functions separate their first argument with '|'");
    }

    /* _lupdf/_lupmf: the unnormalised density, only where constants may be dropped. */
    snprintf(canon, sizeof canon, "%s", name);
    bool lupdf = ends_with(name, "_lupdf"), lupmf = ends_with(name, "_lupmf");
    if (lupdf || lupmf) {
        bool ok = c->block == PS_STAN_BLOCK_MODEL ||
                  (c->fun != NULL &&
                   (ends_with(c->fun->name, "_lpdf") || ends_with(c->fun->name, "_lpmf")));
        if (!ok)
            return ps_stan_error(c->prog, off,
                                 "'%s' can only be used in the model block or in the body of a "
                                 "function whose name ends in _lpdf or _lpmf; use '%.*s_%s' here",
                                 name, (int)(len - 6), name, lupdf ? "lpdf" : "lpmf");
        snprintf(canon, sizeof canon, "%.*s_%s", (int)(len - 6), name, lupdf ? "lpdf" : "lpmf");
        e->u.call.propto = true;
    }
    if (ends_with(name, "_rng")) {
        bool ok = c->block == PS_STAN_BLOCK_TDATA || c->block == PS_STAN_BLOCK_GQ ||
                  (c->fun != NULL && ends_with(c->fun->name, "_rng"));
        if (!ok)
            return ps_stan_error(c->prog, off,
                                 "'%.*s' draws random numbers: _rng functions can only be used in "
                                 "transformed data, generated quantities and functions whose "
                                 "names end in _rng",
                                 NAME_SHOWN, name);
    }
    if (c->opts.user_functions && fun_first(c, canon) != 0) {
        if (ends_with(canon, "_lp")) {
            bool ok = c->block == PS_STAN_BLOCK_MODEL || c->block == PS_STAN_BLOCK_TPARAMS ||
                      (c->fun != NULL && ends_with(c->fun->name, "_lp"));
            if (!ok)
                return ps_stan_error(c->prog, off,
                                     "'%.*s' changes the log density: functions whose names end "
                                     "in _lp can only be used in the transformed parameters and "
                                     "model blocks",
                                     NAME_SHOWN, canon);
        }
        return apply_user(c, e, canon);
    }
    int fn = ps_stan_fn_lookup(canon);
    if (fn < 0)
        return unknown_function(c, e, name, false);
    if (fn == PS_STAN_FN_TARGET && !in_lp_context(c))
        return ps_stan_error(c->prog, off,
                             "target() can only be used in the model block (and in functions "
                             "whose names end in _lp)");
    return apply_builtin(c, e, (ps_stan_fn)fn);
}

/* Checks a call; void results are allowed only when allow_void (call statements). */
static ps_status check_call(checker *c, ps_stan_expr *e, bool allow_void)
{
    /* An unsupported function is reported before its arguments, which may be things
     * psample cannot check (the function argument of an ODE solver). */
    bool named = e->u.call.syntax == PS_STAN_SYN_CALL || e->u.call.syntax == PS_STAN_SYN_TILDE;
    if (named && ps_stan_fn_unsupported(e->u.call.name) && fun_first(c, e->u.call.name) == 0)
        return unknown_function(c, e, e->u.call.name, e->u.call.syntax == PS_STAN_SYN_TILDE);
    for (size_t i = 0; i < e->u.call.n_args; i++)
        PS_CHECK(check_expr(c, &e->u.call.args[i]));
    if (e->u.call.syntax == PS_STAN_SYN_CALL || e->u.call.syntax == PS_STAN_SYN_TILDE)
        PS_CHECK(resolve_named(c, e));
    else
        PS_CHECK(apply_builtin(c, e, e->u.call.fn));
    if (!allow_void && e->type.base == PS_STAN_VOID)
        return ps_stan_error(c->prog, e->op_offset,
                             "'%.*s' returns nothing (void) and cannot be used as a value",
                             NAME_SHOWN, e->u.call.name);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Expressions
 * ------------------------------------------------------------------------------------- */

static ps_status check_var(checker *c, ps_stan_expr *e)
{
    const char *name = e->u.var.name;
    const ps_stan_decl *d = scope_find(c, name);
    if (d == NULL) {
        /* Declared in a later block, or in the model block seen from generated
         * quantities? Say so. */
        for (int b = 0; b < PS_STAN_N_BLOCKS; b++)
            for (size_t i = 0; i < c->prog->n_vars[b]; i++)
                if (strcmp(c->prog->vars[b][i]->name, name) == 0)
                    return ps_stan_error(c->prog, e->offset,
                                         "'%.*s' is not declared here: it is a variable of the "
                                         "'%s' block, which comes later",
                                         NAME_SHOWN, name, ps_stan_block_name((ps_stan_block)b));
        if (ps_stan_fn_lookup(name) >= 0)
            return ps_stan_error(c->prog, e->offset, "'%.*s' is a function: call it as %.*s(...)",
                                 NAME_SHOWN, name, NAME_SHOWN, name);
        const char *s = suggest_var(c, name);
        if (s != NULL)
            return ps_stan_error(c->prog, e->offset, "'%.*s' is not declared; did you mean '%s'?",
                                 NAME_SHOWN, name, s);
        return ps_stan_error(c->prog, e->offset, "'%.*s' is not declared", NAME_SHOWN, name);
    }
    e->u.var.decl = d;
    e->type = d->type;
    e->level = d->level;
    return PS_OK;
}

static ps_status check_index(checker *c, ps_stan_expr *e)
{
    PS_CHECK(check_expr(c, &e->u.index.base));
    ps_stan_expr *base = e->u.index.base;
    ps_stan_type bt = base->type;
    if (!is_value_type(bt))
        return ps_stan_error(c->prog, e->op_offset, "a value of type %s cannot be indexed", TS(bt));
    ps_stan_level level = base->level;
    size_t n = e->u.index.n_indices;
    bool single[PS_STAN_MAX_ARRAY_DIMS + 2];
    for (size_t i = 0; i < n; i++) {
        ps_stan_index *ix = &e->u.index.indices[i];
        if (ix->lo != NULL) {
            PS_CHECK(check_expr(c, &ix->lo));
            level = max_level(level, ix->lo->level);
        }
        if (ix->hi != NULL) {
            PS_CHECK(check_expr(c, &ix->hi));
            level = max_level(level, ix->hi->level);
        }
        if (ix->kind == PS_STAN_IDX_SINGLE) {
            ps_stan_type t = ix->lo->type;
            if (t.base == PS_STAN_INT && t.dims == 1)
                ix->kind = PS_STAN_IDX_MULTI;
            else if (!(t.base == PS_STAN_INT && t.dims == 0))
                return ps_stan_error(c->prog, ix->lo->offset,
                                     "an index must be an int or an array of ints (array[] int), "
                                     "found %s",
                                     TS(t));
        } else {
            ps_stan_expr *bounds[2] = {ix->lo, ix->hi};
            for (int k = 0; k < 2; k++)
                if (bounds[k] != NULL &&
                    !(bounds[k]->type.base == PS_STAN_INT && bounds[k]->type.dims == 0))
                    return ps_stan_error(c->prog, bounds[k]->offset,
                                         "the bounds of a range index must be ints, found %s",
                                         TS(bounds[k]->type));
        }
    }
    unsigned elem_dims = bt.base == PS_STAN_MATRIX                                      ? 2
                         : (bt.base == PS_STAN_VECTOR || bt.base == PS_STAN_ROW_VECTOR) ? 1
                                                                                        : 0;
    if (n > (size_t)bt.dims + elem_dims)
        return ps_stan_error(c->prog, e->u.index.indices[bt.dims + elem_dims].offset,
                             "too many indices: a value of type %s takes at most %u, found %zu",
                             TS(bt), bt.dims + elem_dims, n);
    for (size_t i = 0; i < n; i++)
        single[i] = e->u.index.indices[i].kind == PS_STAN_IDX_SINGLE;
    unsigned dims = 0;
    for (size_t i = 0; i < n && i < bt.dims; i++)
        if (!single[i])
            dims++;
    dims += bt.dims > n ? bt.dims - (unsigned)n : 0;
    ps_stan_base base_out = (ps_stan_base)bt.base;
    size_t k = n > bt.dims ? n - bt.dims : 0; /* indices into the vector/matrix */
    if (k >= 1) {
        bool s0 = single[bt.dims];
        if (bt.base == PS_STAN_VECTOR || bt.base == PS_STAN_ROW_VECTOR) {
            base_out = s0 ? PS_STAN_REAL : (ps_stan_base)bt.base;
        } else if (k == 1) {
            base_out = s0 ? PS_STAN_ROW_VECTOR : PS_STAN_MATRIX;
        } else {
            bool s1 = single[bt.dims + 1];
            base_out = s0 && s1 ? PS_STAN_REAL
                       : s0     ? PS_STAN_ROW_VECTOR
                       : s1     ? PS_STAN_VECTOR
                                : PS_STAN_MATRIX;
        }
    }
    e->type.base = (uint8_t)base_out;
    e->type.dims = (uint8_t)dims;
    e->level = level;
    cap_level(e);
    return PS_OK;
}

static ps_status check_cond(checker *c, ps_stan_expr *e)
{
    PS_CHECK(check_expr(c, &e->u.cond.cond));
    PS_CHECK(check_expr(c, &e->u.cond.then_expr));
    PS_CHECK(check_expr(c, &e->u.cond.else_expr));
    ps_stan_type ct = e->u.cond.cond->type;
    if (!(ct.base == PS_STAN_INT && ct.dims == 0))
        return ps_stan_error(c->prog, e->u.cond.cond->offset,
                             "the condition of 'c ? a : b' must be an int, found %s", TS(ct));
    ps_stan_type t1 = e->u.cond.then_expr->type, t2 = e->u.cond.else_expr->type;
    ps_stan_type t;
    if (convert_cost(t1, t2) >= 0)
        t = t1;
    else if (convert_cost(t2, t1) >= 0)
        t = t2;
    else
        return ps_stan_error(c->prog, e->op_offset,
                             "the branches of 'c ? a : b' have different types: %s and %s", TS(t1),
                             TS(t2));
    PS_CHECK(promote(c, &e->u.cond.then_expr, t));
    PS_CHECK(promote(c, &e->u.cond.else_expr, t));
    e->type = t;
    e->level = max_level(e->u.cond.cond->level,
                         max_level(e->u.cond.then_expr->level, e->u.cond.else_expr->level));
    cap_level(e);
    return PS_OK;
}

static ps_status check_list(checker *c, ps_stan_expr *e)
{
    size_t n = e->u.list.n;
    ps_stan_level level = PS_STAN_LEVEL_CONST;
    for (size_t i = 0; i < n; i++) {
        PS_CHECK(check_expr(c, &e->u.list.elems[i]));
        level = max_level(level, e->u.list.elems[i]->level);
    }
    ps_stan_type t = e->u.list.elems[0]->type;
    for (size_t i = 1; i < n; i++) {
        ps_stan_type u = e->u.list.elems[i]->type;
        if (convert_cost(t, u) >= 0)
            continue;
        if (convert_cost(u, t) >= 0) {
            t = u;
            continue;
        }
        return ps_stan_error(c->prog, e->u.list.elems[i]->offset,
                             "the elements of %s must have one type, found %s and %s",
                             e->kind == PS_STAN_E_ARRAY ? "an array expression {...}"
                                                        : "a row vector expression [...]",
                             TS(t), TS(u));
    }
    if (e->kind == PS_STAN_E_ROWVEC) {
        if (t.dims == 0 && (t.base == PS_STAN_INT || t.base == PS_STAN_REAL)) {
            t.base = PS_STAN_REAL;
            e->type.base = PS_STAN_ROW_VECTOR;
        } else if (t.dims == 0 && t.base == PS_STAN_ROW_VECTOR) {
            e->type.base = PS_STAN_MATRIX;
        } else {
            return ps_stan_error(c->prog, e->offset,
                                 "a row vector expression [...] holds scalars (making a "
                                 "row_vector) or row vectors (making a matrix), found %s",
                                 TS(t));
        }
        e->type.dims = 0;
    } else {
        if (!is_value_type(t))
            return ps_stan_error(c->prog, e->offset, "an array cannot hold values of type %s",
                                 TS(t));
        if (t.dims >= PS_STAN_MAX_ARRAY_DIMS)
            return ps_stan_error(c->prog, e->offset,
                                 "arrays with more than %d dimensions are not supported",
                                 PS_STAN_MAX_ARRAY_DIMS);
        e->type = t;
        e->type.dims = (uint8_t)(t.dims + 1);
    }
    for (size_t i = 0; i < n; i++)
        PS_CHECK(promote(c, &e->u.list.elems[i], t));
    e->level = level;
    return PS_OK;
}

static ps_status check_expr(checker *c, ps_stan_expr **slot)
{
    ps_stan_expr *e = *slot;
    switch (e->kind) {
    case PS_STAN_E_INT:
        e->type = (ps_stan_type){PS_STAN_INT, 0};
        e->level = PS_STAN_LEVEL_CONST;
        return PS_OK;
    case PS_STAN_E_REAL:
        e->type = (ps_stan_type){PS_STAN_REAL, 0};
        e->level = PS_STAN_LEVEL_CONST;
        return PS_OK;
    case PS_STAN_E_STRING:
        return ps_stan_error(c->prog, e->offset,
                             "a string can only be an argument of print, reject or fatal_error");
    case PS_STAN_E_VAR:
        return check_var(c, e);
    case PS_STAN_E_CALL:
        return check_call(c, e, false);
    case PS_STAN_E_INDEX:
        return check_index(c, e);
    case PS_STAN_E_COND:
        return check_cond(c, e);
    case PS_STAN_E_ARRAY:
    case PS_STAN_E_ROWVEC:
        return check_list(c, e);
    case PS_STAN_E_PROMOTE:
        return PS_OK;
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Declarations
 * ------------------------------------------------------------------------------------- */

typedef struct size_ref_ctx {
    const ps_stan_decl *bad;
} size_ref_ctx;

static bool find_non_data(const ps_stan_expr *e, void *ctx)
{
    size_ref_ctx *s = ctx;
    if (e->kind == PS_STAN_E_VAR && e->u.var.decl != NULL &&
        !(e->u.var.decl->origin == PS_STAN_ORIGIN_BLOCK &&
          (e->u.var.decl->block == PS_STAN_BLOCK_DATA ||
           e->u.var.decl->block == PS_STAN_BLOCK_TDATA))) {
        s->bad = e->u.var.decl;
        return false;
    }
    return true;
}

static ps_status check_size(checker *c, const ps_stan_decl *d, ps_stan_expr **slot)
{
    PS_CHECK(check_expr(c, slot));
    ps_stan_expr *e = *slot;
    if (!(e->type.base == PS_STAN_INT && e->type.dims == 0))
        return ps_stan_error(c->prog, e->offset, "the size of '%.*s' must be an int, found %s",
                             NAME_SHOWN, d->name, TS(e->type));
    if (d->origin == PS_STAN_ORIGIN_BLOCK &&
        (d->block == PS_STAN_BLOCK_PARAMS || d->block == PS_STAN_BLOCK_TPARAMS ||
         d->block == PS_STAN_BLOCK_GQ)) {
        size_ref_ctx s = {NULL};
        ps_stan_expr_walk(e, find_non_data, &s);
        if (s.bad != NULL) {
            char what[96];
            describe_decl(s.bad, what, sizeof what);
            return ps_stan_error(c->prog, e->offset,
                                 "the sizes of variables of the '%s' block must be data, but "
                                 "'%.*s' is %s",
                                 ps_stan_block_name(d->block), NAME_SHOWN, s.bad->name, what);
        }
    }
    return PS_OK;
}

static ps_status check_bound(checker *c, const ps_stan_decl *d, ps_stan_expr **slot,
                             const char *what)
{
    PS_CHECK(check_expr(c, slot));
    ps_stan_type t = (*slot)->type;
    if (d->type.base == PS_STAN_INT) {
        if (t.base == PS_STAN_INT && (t.dims == 0 || t.dims == d->type.dims))
            return PS_OK;
        return ps_stan_error(c->prog, (*slot)->offset,
                             "the %s of '%.*s' must be an int (the variable is an int), found %s",
                             what, NAME_SHOWN, d->name, TS(t));
    }
    if (t.dims == 0 && (t.base == PS_STAN_INT || t.base == PS_STAN_REAL))
        return promote(c, slot, (ps_stan_type){PS_STAN_REAL, 0});
    if (convert_cost(d->type, t) >= 0)
        return promote(c, slot, d->type);
    if (ps_stan_type_is_scalar(d->type))
        return ps_stan_error(c->prog, (*slot)->offset, "the %s of '%.*s' must be a real, found %s",
                             what, NAME_SHOWN, d->name, TS(t));
    return ps_stan_error(c->prog, (*slot)->offset,
                         "the %s of '%.*s' must be a real or a %s like '%.*s', found %s", what,
                         NAME_SHOWN, d->name, TS(d->type), NAME_SHOWN, d->name, TS(t));
}

static ps_stan_level decl_level(const ps_stan_decl *d)
{
    if (d->type.base == PS_STAN_INT)
        return PS_STAN_LEVEL_DATA;
    if (d->origin == PS_STAN_ORIGIN_ARG)
        return d->data_only ? PS_STAN_LEVEL_DATA : PS_STAN_LEVEL_PARAM;
    switch (d->block) {
    case PS_STAN_BLOCK_DATA:
    case PS_STAN_BLOCK_TDATA:
        return PS_STAN_LEVEL_DATA;
    default:
        return PS_STAN_LEVEL_PARAM;
    }
}

static ps_status check_decl(checker *c, ps_stan_decl *d)
{
    for (unsigned i = 0; i < d->type.dims; i++)
        PS_CHECK(check_size(c, d, &d->array_sizes[i]));
    if (d->elem_sizes[0] != NULL)
        PS_CHECK(check_size(c, d, &d->elem_sizes[0]));
    if (d->elem_sizes[1] != NULL && d->elem_sizes[1] != d->elem_sizes[0])
        PS_CHECK(check_size(c, d, &d->elem_sizes[1]));
    else if (d->elem_sizes[1] != NULL)
        d->elem_sizes[1] = d->elem_sizes[0]; /* the same (possibly promoted) node */
    if (d->origin == PS_STAN_ORIGIN_BLOCK && d->type.base == PS_STAN_INT &&
        (d->block == PS_STAN_BLOCK_PARAMS || d->block == PS_STAN_BLOCK_TPARAMS))
        return ps_stan_error(c->prog, d->offset, "%s cannot be ints: '%.*s'",
                             d->block == PS_STAN_BLOCK_PARAMS ? "parameters"
                                                              : "transformed parameters",
                             NAME_SHOWN, d->name);
    if (d->constraint == PS_STAN_C_UNIT_VECTOR)
        return ps_stan_error(c->prog, d->offset, "unit_vector is not supported yet");
    if (d->lower != NULL)
        PS_CHECK(check_bound(c, d, &d->lower, "lower bound"));
    if (d->upper != NULL)
        PS_CHECK(check_bound(c, d, &d->upper, "upper bound"));
    if (d->offset_expr != NULL)
        PS_CHECK(check_bound(c, d, &d->offset_expr, "offset"));
    if (d->multiplier != NULL)
        PS_CHECK(check_bound(c, d, &d->multiplier, "multiplier"));
    d->level = decl_level(d);
    if (d->init != NULL) {
        PS_CHECK(check_expr(c, &d->init));
        if (convert_cost(d->type, d->init->type) < 0)
            return ps_stan_error(c->prog, d->init->offset,
                                 "cannot initialise '%.*s' of type %s with a value of type %s",
                                 NAME_SHOWN, d->name, TS(d->type), TS(d->init->type));
        PS_CHECK(promote(c, &d->init, d->type));
    }
    return scope_add(c, d);
}

/* ---------------------------------------------------------------------------------------
 * Statements
 * ------------------------------------------------------------------------------------- */

static const ps_stan_decl *lvalue_decl(const ps_stan_expr *e)
{
    while (e->kind == PS_STAN_E_INDEX)
        e = e->u.index.base;
    return e->kind == PS_STAN_E_VAR ? e->u.var.decl : NULL;
}

static ps_status check_assignable(checker *c, const ps_stan_decl *d, size_t offset)
{
    switch (d->origin) {
    case PS_STAN_ORIGIN_LOOP:
        return ps_stan_error(c->prog, offset, "cannot assign to the loop variable '%.*s'",
                             NAME_SHOWN, d->name);
    case PS_STAN_ORIGIN_ARG:
        return ps_stan_error(c->prog, offset, "cannot assign to the function argument '%.*s'",
                             NAME_SHOWN, d->name);
    case PS_STAN_ORIGIN_LOCAL:
        return PS_OK;
    case PS_STAN_ORIGIN_BLOCK:
        break;
    }
    if (d->block == PS_STAN_BLOCK_DATA)
        return ps_stan_error(c->prog, offset,
                             "cannot assign to '%.*s': variables of the 'data' block are read-only",
                             NAME_SHOWN, d->name);
    if (d->block == PS_STAN_BLOCK_PARAMS)
        return ps_stan_error(c->prog, offset, "cannot assign to '%.*s': parameters are read-only",
                             NAME_SHOWN, d->name);
    if (d->block != c->block || c->fun != NULL)
        return ps_stan_error(c->prog, offset,
                             "cannot assign to '%.*s' here: variables of the '%s' block can "
                             "only be assigned in that block",
                             NAME_SHOWN, d->name, ps_stan_block_name(d->block));
    return PS_OK;
}

static ps_status check_assign(checker *c, ps_stan_stmt *s)
{
    PS_CHECK(check_expr(c, &s->u.assign.lhs));
    ps_stan_expr *lhs = s->u.assign.lhs;
    const ps_stan_decl *d = lvalue_decl(lhs);
    PS_CHECK(check_assignable(c, d, lhs->offset));
    s->u.assign.target = d;
    PS_CHECK(check_expr(c, &s->u.assign.rhs));
    ps_stan_type lt = lhs->type, rt = s->u.assign.rhs->type;
    if (s->u.assign.op == PS_STAN_ASSIGN) {
        if (convert_cost(lt, rt) < 0)
            return ps_stan_error(c->prog, s->u.assign.rhs->offset,
                                 "cannot assign a value of type %s to '%.*s%s', of type %s", TS(rt),
                                 NAME_SHOWN, d->name, lhs->kind == PS_STAN_E_INDEX ? "[...]" : "",
                                 TS(lt));
        return promote(c, &s->u.assign.rhs, lt);
    }
    static const ps_stan_fn ops[] = {
        PS_STAN_FN_ADD,    PS_STAN_FN_ADD,          PS_STAN_FN_SUBTRACT,  PS_STAN_FN_MULTIPLY,
        PS_STAN_FN_DIVIDE, PS_STAN_FN_ELT_MULTIPLY, PS_STAN_FN_ELT_DIVIDE};
    ps_stan_fn fn = ops[s->u.assign.op];
    ps_stan_expr *args[2] = {lhs, s->u.assign.rhs};
    ps_stan_type concrete[PS_STAN_MAX_PARAMS] = {{0, 0}};
    int id = best_sig(fn, args, 2, concrete);
    const ps_stan_sig *sig = ps_stan_sig_get(id);
    if (sig == NULL || !ps_stan_type_equal(concrete[0], lt) || !ps_stan_type_equal(sig->ret, lt) ||
        sig->result != PS_STAN_R_TYPE)
        return ps_stan_error(c->prog, s->u.assign.rhs->offset,
                             "cannot apply '%s=' to '%.*s' (%s) and a value of type %s: the "
                             "result must have the type of '%.*s'",
                             ps_stan_op_symbol(fn), NAME_SHOWN, d->name, TS(lt), TS(rt), NAME_SHOWN,
                             d->name);
    s->u.assign.sig = id;
    return promote(c, &s->u.assign.rhs, concrete[1]);
}

static ps_status check_loop_body(checker *c, ps_stan_stmt *body)
{
    c->loop_depth++;
    PS_CHECK(check_stmt(c, body));
    c->loop_depth--;
    return PS_OK;
}

static ps_status check_condition(checker *c, ps_stan_expr **slot, const char *what)
{
    PS_CHECK(check_expr(c, slot));
    ps_stan_type t = (*slot)->type;
    if (!ps_stan_type_is_scalar(t))
        return ps_stan_error(c->prog, (*slot)->offset,
                             "the condition of '%s' must be an int or a real, found %s", what,
                             TS(t));
    return PS_OK;
}

static ps_status check_stmt(checker *c, ps_stan_stmt *s)
{
    switch (s->kind) {
    case PS_STAN_S_DECL:
        return check_decl(c, s->u.decl.decl);
    case PS_STAN_S_ASSIGN:
        return check_assign(c, s);
    case PS_STAN_S_TILDE:
        if (!in_lp_context(c))
            return ps_stan_error(c->prog, s->offset,
                                 "'~' statements are only allowed in the model block (and in "
                                 "functions whose names end in _lp)");
        return check_call(c, s->u.tilde.call, false);
    case PS_STAN_S_TARGET: {
        if (!in_lp_context(c))
            return ps_stan_error(c->prog, s->offset,
                                 "'target +=' is only allowed in the model block (and in "
                                 "functions whose names end in _lp)");
        PS_CHECK(check_expr(c, &s->u.target.value));
        ps_stan_type t = s->u.target.value->type;
        if (!is_value_type(t))
            return ps_stan_error(c->prog, s->u.target.value->offset,
                                 "'target +=' needs a real value or a container of reals, found %s",
                                 TS(t));
        if (t.base == PS_STAN_INT)
            PS_CHECK(promote(c, &s->u.target.value, (ps_stan_type){PS_STAN_REAL, t.dims}));
        return PS_OK;
    }
    case PS_STAN_S_FOR: {
        PS_CHECK(check_expr(c, &s->u.for_range.lo));
        PS_CHECK(check_expr(c, &s->u.for_range.hi));
        ps_stan_expr *bounds[2] = {s->u.for_range.lo, s->u.for_range.hi};
        for (int k = 0; k < 2; k++)
            if (!(bounds[k]->type.base == PS_STAN_INT && bounds[k]->type.dims == 0))
                return ps_stan_error(c->prog, bounds[k]->offset,
                                     "the %s bound of a for loop must be an int, found %s",
                                     k == 0 ? "lower" : "upper", TS(bounds[k]->type));
        ps_stan_decl *var = s->u.for_range.var;
        var->type = (ps_stan_type){PS_STAN_INT, 0};
        var->level = PS_STAN_LEVEL_DATA;
        size_t mark = c->n_syms;
        PS_CHECK(scope_add(c, var));
        PS_CHECK(check_loop_body(c, s->u.for_range.body));
        scope_pop(c, mark);
        return PS_OK;
    }
    case PS_STAN_S_FOREACH: {
        PS_CHECK(check_expr(c, &s->u.foreach.container));
        ps_stan_expr *ce = s->u.foreach.container;
        ps_stan_type t = ce->type;
        ps_stan_decl *var = s->u.foreach.var;
        if (is_value_type(t) && t.dims >= 1)
            var->type = (ps_stan_type){t.base, (uint8_t)(t.dims - 1)};
        else if (t.base == PS_STAN_VECTOR || t.base == PS_STAN_ROW_VECTOR ||
                 t.base == PS_STAN_MATRIX)
            var->type = (ps_stan_type){PS_STAN_REAL, 0};
        else
            return ps_stan_error(c->prog, ce->offset,
                                 "a for loop runs over a range 'a:b', an array, a vector, a "
                                 "row_vector or a matrix; found %s",
                                 TS(t));
        var->level = var->type.base == PS_STAN_INT    ? PS_STAN_LEVEL_DATA
                     : ce->level > PS_STAN_LEVEL_DATA ? ce->level
                                                      : PS_STAN_LEVEL_DATA;
        size_t mark = c->n_syms;
        PS_CHECK(scope_add(c, var));
        PS_CHECK(check_loop_body(c, s->u.foreach.body));
        scope_pop(c, mark);
        return PS_OK;
    }
    case PS_STAN_S_WHILE:
        PS_CHECK(check_condition(c, &s->u.while_loop.cond, "while"));
        return check_loop_body(c, s->u.while_loop.body);
    case PS_STAN_S_IF:
        PS_CHECK(check_condition(c, &s->u.if_stmt.cond, "if"));
        PS_CHECK(check_stmt(c, s->u.if_stmt.then_stmt));
        if (s->u.if_stmt.else_stmt != NULL)
            PS_CHECK(check_stmt(c, s->u.if_stmt.else_stmt));
        return PS_OK;
    case PS_STAN_S_BLOCK: {
        size_t mark = c->n_syms;
        for (size_t i = 0; i < s->u.block.n; i++)
            PS_CHECK(check_stmt(c, s->u.block.stmts[i]));
        scope_pop(c, mark);
        return PS_OK;
    }
    case PS_STAN_S_BREAK:
    case PS_STAN_S_CONTINUE:
        if (c->loop_depth == 0)
            return ps_stan_error(c->prog, s->offset, "'%s' outside of a loop",
                                 s->kind == PS_STAN_S_BREAK ? "break" : "continue");
        return PS_OK;
    case PS_STAN_S_PRINT:
    case PS_STAN_S_REJECT:
    case PS_STAN_S_FATAL_ERROR:
        for (size_t i = 0; i < s->u.print.n; i++)
            if (s->u.print.args[i]->kind != PS_STAN_E_STRING)
                PS_CHECK(check_expr(c, &s->u.print.args[i]));
        return PS_OK;
    case PS_STAN_S_RETURN: {
        if (c->fun == NULL)
            return ps_stan_error(c->prog, s->offset,
                                 "'return' is only allowed in the body of a function");
        ps_stan_type rt = c->fun->ret;
        if (rt.base == PS_STAN_VOID) {
            if (s->u.ret.value != NULL)
                return ps_stan_error(c->prog, s->u.ret.value->offset,
                                     "the void function '%.*s' cannot return a value", NAME_SHOWN,
                                     c->fun->name);
            return PS_OK;
        }
        if (s->u.ret.value == NULL)
            return ps_stan_error(c->prog, s->offset, "'%.*s' must return a value of type %s",
                                 NAME_SHOWN, c->fun->name, TS(rt));
        PS_CHECK(check_expr(c, &s->u.ret.value));
        if (convert_cost(rt, s->u.ret.value->type) < 0)
            return ps_stan_error(c->prog, s->u.ret.value->offset,
                                 "'%.*s' returns %s, but this value has type %s", NAME_SHOWN,
                                 c->fun->name, TS(rt), TS(s->u.ret.value->type));
        return promote(c, &s->u.ret.value, rt);
    }
    case PS_STAN_S_CALL: {
        ps_stan_expr *e = s->u.call.call;
        PS_CHECK(check_call(c, e, true));
        if (e->type.base != PS_STAN_VOID)
            return ps_stan_error(c->prog, e->op_offset,
                                 "the value of '%.*s' is not used: only calls of void functions "
                                 "can stand alone as statements",
                                 NAME_SHOWN, e->u.call.name);
        return PS_OK;
    }
    case PS_STAN_S_EMPTY:
        return PS_OK;
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Functions
 * ------------------------------------------------------------------------------------- */

/* Whether every path through s ends in return, reject or fatal_error. */
static bool always_returns(const ps_stan_stmt *s)
{
    if (s == NULL)
        return false;
    switch (s->kind) {
    case PS_STAN_S_RETURN:
    case PS_STAN_S_REJECT:
    case PS_STAN_S_FATAL_ERROR:
        return true;
    case PS_STAN_S_BLOCK:
        for (size_t i = 0; i < s->u.block.n; i++)
            if (always_returns(s->u.block.stmts[i]))
                return true;
        return false;
    case PS_STAN_S_IF:
        return always_returns(s->u.if_stmt.then_stmt) && always_returns(s->u.if_stmt.else_stmt);
    default:
        return false;
    }
}

static bool same_args(const ps_stan_fundef *f, const ps_stan_fundef *g)
{
    if (f->n_args != g->n_args)
        return false;
    for (size_t i = 0; i < f->n_args; i++)
        if (!ps_stan_type_equal(f->args[i]->type, g->args[i]->type))
            return false;
    return true;
}

static ps_status check_fundef_header(checker *c, ps_stan_fundef *f, size_t index)
{
    const char *name = f->name;
    if (ps_stan_fn_lookup(name) >= 0 || ps_stan_fn_unsupported(name))
        return ps_stan_error(c->prog, f->offset,
                             "'%.*s' is the name of a builtin function and cannot be redefined",
                             NAME_SHOWN, name);
    if (ends_with(name, "_lupdf") || ends_with(name, "_lupmf"))
        return ps_stan_error(c->prog, f->offset,
                             "define '%.*s' with the suffix _lpdf or _lpmf; the _lupdf/_lupmf "
                             "form is available automatically",
                             NAME_SHOWN, name);
    bool lpdf = ends_with(name, "_lpdf"), lpmf = ends_with(name, "_lpmf");
    if (lpdf || lpmf || ends_with(name, "_lcdf") || ends_with(name, "_lccdf")) {
        if (!(f->ret.base == PS_STAN_REAL && f->ret.dims == 0))
            return ps_stan_error(c->prog, f->offset, "'%.*s' must return real, not %s", NAME_SHOWN,
                                 name, TS(f->ret));
    }
    if ((lpdf || lpmf) && f->n_args == 0)
        return ps_stan_error(c->prog, f->offset, "'%.*s' needs at least one argument (the variate)",
                             NAME_SHOWN, name);
    if (lpdf && !is_real_based(f->args[0]->type))
        return ps_stan_error(c->prog, f->args[0]->offset,
                             "the first argument of a _lpdf function must be real-valued; use "
                             "_lpmf for ints");
    if (lpmf && f->args[0]->type.base != PS_STAN_INT)
        return ps_stan_error(c->prog, f->args[0]->offset,
                             "the first argument of a _lpmf function must be an int or array of "
                             "ints; use _lpdf for reals");
    /* Overloads and forward declarations. */
    for (size_t i = fun_first(c, name); i != 0; i = fun_following(c, i, name)) {
        ps_stan_fundef *g = c->prog->funs[i - 1];
        if (i - 1 >= index || !same_args(f, g))
            continue;
        if (!ps_stan_type_equal(f->ret, g->ret))
            return ps_stan_error(c->prog, f->offset,
                                 "'%.*s' was declared at line %zu with another return type",
                                 NAME_SHOWN, name, line_of(c, g->offset));
        if (f->body != NULL && g->body != NULL)
            return ps_stan_error(c->prog, f->offset,
                                 "'%.*s' is already defined with these argument types (line %zu)",
                                 NAME_SHOWN, name, line_of(c, g->offset));
        if (f->body != NULL)
            g->definition = f;
        else if (g->body != NULL)
            f->definition = g;
        else if (g->definition == NULL)
            return ps_stan_error(c->prog, f->offset, "'%.*s' is declared twice (line %zu)",
                                 NAME_SHOWN, name, line_of(c, g->offset));
    }
    return PS_OK;
}

static ps_status check_functions(checker *c)
{
    ps_stan_program *prog = c->prog;
    if (prog->n_funs == 0)
        return PS_OK;
    if (!c->opts.user_functions)
        return ps_stan_error(prog, prog->funs[0]->offset,
                             "user-defined functions are not supported yet");
    PS_CHECK(index_functions(c));
    for (size_t i = 0; i < prog->n_funs; i++)
        PS_CHECK(check_fundef_header(c, prog->funs[i], i));
    for (size_t i = 0; i < prog->n_funs; i++) {
        ps_stan_fundef *f = prog->funs[i];
        if (f->body == NULL && f->definition == NULL)
            return ps_stan_error(prog, f->offset, "'%.*s' is declared but never defined",
                                 NAME_SHOWN, f->name);
    }
    for (size_t i = 0; i < prog->n_funs; i++) {
        ps_stan_fundef *f = prog->funs[i];
        for (size_t k = 0; k < f->n_args; k++)
            f->args[k]->level = decl_level(f->args[k]);
        if (f->body == NULL)
            continue;
        c->fun = f;
        c->block = PS_STAN_BLOCK_FUNCTIONS;
        c->loop_depth = 0;
        size_t mark = c->n_syms;
        for (size_t k = 0; k < f->n_args; k++)
            PS_CHECK(scope_add(c, f->args[k]));
        PS_CHECK(check_stmt(c, f->body));
        if (f->ret.base != PS_STAN_VOID && !always_returns(f->body))
            return ps_stan_error(prog, f->offset,
                                 "'%.*s' can reach its end without returning a value", NAME_SHOWN,
                                 f->name);
        scope_pop(c, mark);
        c->fun = NULL;
    }
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------------------- */

ps_status ps_stan_check(ps_stan_program *program, const ps_stan_options *options)
{
    checker c = {.prog = program, .opts = *options};
    ps_status status = PS_OK;
    PS_TRY(rehash(&c, 64));
    PS_TRY(check_functions(&c));
    for (int b = PS_STAN_BLOCK_DATA; b < PS_STAN_N_BLOCKS; b++) {
        c.block = (ps_stan_block)b;
        c.loop_depth = 0;
        size_t mark = c.n_syms;
        for (size_t i = 0; i < program->n_stmts[b]; i++)
            PS_TRY(check_stmt(&c, program->stmts[b][i]));
        if (b == PS_STAN_BLOCK_MODEL)
            scope_pop(&c, mark);
    }
done:
    ps_free(c.syms);
    ps_free(c.buckets);
    ps_free(c.fun_buckets);
    ps_free(c.fun_next);
    return status;
}
