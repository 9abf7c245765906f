/*
 * Private to src/lang: the program object, the arena that owns the tree, tokens, and the
 * entry points of the lexer, parser and checker.
 */
#ifndef PS_LANG_IMPL_H
#define PS_LANG_IMPL_H

#include "lang/lang.h"

/* ---------------------------------------------------------------------------------------
 * Arena: every node, name and list of a program lives in a chain of chunks freed at once.
 * Allocation failures return NULL; callers turn them into PS_ERR_MEM.
 * ------------------------------------------------------------------------------------- */

typedef struct ps_arena_chunk ps_arena_chunk;

typedef struct ps_arena {
    ps_arena_chunk *head;
} ps_arena;

/* Zeroed, suitably aligned memory of size bytes, or NULL. */
void *ps_arena_alloc(ps_arena *arena, size_t size);
/* A NUL-terminated copy of s[0 .. n-1], or NULL. */
char *ps_arena_strndup(ps_arena *arena, const char *s, size_t n);
void ps_arena_fini(ps_arena *arena);

/* ---------------------------------------------------------------------------------------
 * The program
 * ------------------------------------------------------------------------------------- */

struct ps_stan_program {
    char *path;
    char *text; /* NUL-terminated copy of the source */
    size_t text_len;
    ps_arena arena;
    bool has_block[PS_STAN_N_BLOCKS];
    size_t block_offset[PS_STAN_N_BLOCKS];
    ps_stan_stmt **stmts[PS_STAN_N_BLOCKS];
    size_t n_stmts[PS_STAN_N_BLOCKS];
    ps_stan_decl **vars[PS_STAN_N_BLOCKS];
    size_t n_vars[PS_STAN_N_BLOCKS];
    ps_stan_fundef **funs;
    size_t n_funs;
};

/* Records "FILE:LINE:COL: error: MESSAGE" at a byte offset of the program text;
 * returns PS_ERR_MODEL. */
ps_status ps_stan_error(const ps_stan_program *program, size_t offset, const char *fmt, ...)
    PS_PRINTF(3, 4);

/* Records an out-of-memory error naming the program; returns PS_ERR_MEM. */
ps_status ps_stan_oom(const ps_stan_program *program);

/* ---------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------- */

typedef enum ps_tok {
    TK_EOF = 0,
    TK_IDENT,
    TK_INT,
    TK_REAL,
    TK_IMAG,
    TK_STRING,
    /* punctuation */
    TK_LBRACE,
    TK_RBRACE,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACK,
    TK_RBRACK,
    TK_LT,
    TK_GT,
    TK_LE,
    TK_GE,
    TK_EQ,
    TK_NE,
    TK_ASSIGN,
    TK_PLUS_ASSIGN,
    TK_MINUS_ASSIGN,
    TK_TIMES_ASSIGN,
    TK_DIV_ASSIGN,
    TK_EMUL_ASSIGN,
    TK_EDIV_ASSIGN,
    TK_COMMA,
    TK_SEMI,
    TK_TILDE,
    TK_QUESTION,
    TK_COLON,
    TK_BANG,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_PERCENT,
    TK_IDIV,
    TK_BACKSLASH,
    TK_HAT,
    TK_EHAT,
    TK_EMUL,
    TK_EDIV,
    TK_QUOTE,
    TK_BAR,
    TK_AND,
    TK_OR,
    /* keywords */
    TK_KW_FIRST_,
    TK_FUNCTIONS = TK_KW_FIRST_,
    TK_DATA,
    TK_TRANSFORMED,
    TK_PARAMETERS,
    TK_MODEL,
    TK_GENERATED,
    TK_QUANTITIES,
    TK_INT_T,
    TK_REAL_T,
    TK_COMPLEX_T,
    TK_VECTOR_T,
    TK_ROW_VECTOR_T,
    TK_MATRIX_T,
    TK_COMPLEX_VECTOR_T,
    TK_COMPLEX_ROW_VECTOR_T,
    TK_COMPLEX_MATRIX_T,
    TK_SIMPLEX_T,
    TK_ORDERED_T,
    TK_POSITIVE_ORDERED_T,
    TK_UNIT_VECTOR_T,
    TK_SUM_TO_ZERO_VECTOR_T,
    TK_CHOLESKY_CORR_T,
    TK_CHOLESKY_COV_T,
    TK_COV_MATRIX_T,
    TK_CORR_MATRIX_T,
    TK_COLUMN_STOCHASTIC_T,
    TK_ROW_STOCHASTIC_T,
    TK_ARRAY,
    TK_TUPLE,
    TK_VOID,
    TK_FOR,
    TK_IN,
    TK_WHILE,
    TK_IF,
    TK_ELSE,
    TK_BREAK,
    TK_CONTINUE,
    TK_RETURN,
    TK_PRINT,
    TK_REJECT,
    TK_FATAL_ERROR,
    TK_TARGET,
    TK_PROFILE,
    TK_REPEAT,
    TK_UNTIL,
    TK_THEN,
    TK_TRUE,
    TK_FALSE,
    TK_KW_LAST_ = TK_FALSE
} ps_tok;

typedef struct ps_token {
    ps_tok kind;
    size_t offset; /* byte offset of the first character */
    size_t len;    /* length in bytes */
    union {
        int32_t int_value;
        double real_value;
    } v;
} ps_token;

/* The spelling of a token kind for messages ("';'", "'real'", "an identifier"). */
const char *ps_tok_describe(ps_tok kind);

/* Splits the program text into tokens, ending with one TK_EOF; *tokens is allocated with
 * ps_malloc (caller frees). Lexical errors are located (PS_ERR_MODEL). */
ps_status ps_stan_lex(const ps_stan_program *program, ps_token **tokens, size_t *n_tokens);

/* Builds the tree of program from tokens (syntax errors are located). */
ps_status ps_stan_parse_tokens(ps_stan_program *program, const ps_token *tokens, size_t n_tokens);

/* Resolves and type-checks the tree in place. */
ps_status ps_stan_check(ps_stan_program *program, const ps_stan_options *options);

/* ---------------------------------------------------------------------------------------
 * Builtins (builtins.c)
 * ------------------------------------------------------------------------------------- */

/* The callable builtin (not an operator) named name, or -1. */
int ps_stan_fn_lookup(const char *name);

/* A short note when name is a Stan function or distribution that psample does not
 * support yet ("gp_exp_quad_cov"), else NULL. */
bool ps_stan_fn_unsupported(const char *name);

/* Formats one signature for messages: "normal_lpdf(reals | reals, reals)"; with_result
 * appends " => real". Operators are shown as "vector + vector". */
void ps_stan_sig_describe(ps_strbuf *sb, int sig, bool with_result);

/* Text of an operator fn ("+", "'", "!"); NULL for non-operators. */
const char *ps_stan_op_symbol(ps_stan_fn fn);

/* The closest callable builtin name to name (edit distance <= 2), or NULL. */
const char *ps_stan_fn_suggest(const char *name);

#endif
