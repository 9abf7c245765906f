/*
 * Lexer for the Stan language: identifiers and keywords, int/real literals, strings,
 * operators, and the two comment forms (// and / * * /). Stan programs are ASCII outside
 * comments and strings; anything else is a located error. The whole text is split at once
 * into an array of tokens (linear time, one growing allocation).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang_impl.h"

static const struct {
    const char *word;
    ps_tok kind;
} keywords[] = {
    {"functions", TK_FUNCTIONS},
    {"data", TK_DATA},
    {"transformed", TK_TRANSFORMED},
    {"parameters", TK_PARAMETERS},
    {"model", TK_MODEL},
    {"generated", TK_GENERATED},
    {"quantities", TK_QUANTITIES},
    {"int", TK_INT_T},
    {"real", TK_REAL_T},
    {"complex", TK_COMPLEX_T},
    {"vector", TK_VECTOR_T},
    {"row_vector", TK_ROW_VECTOR_T},
    {"matrix", TK_MATRIX_T},
    {"complex_vector", TK_COMPLEX_VECTOR_T},
    {"complex_row_vector", TK_COMPLEX_ROW_VECTOR_T},
    {"complex_matrix", TK_COMPLEX_MATRIX_T},
    {"simplex", TK_SIMPLEX_T},
    {"ordered", TK_ORDERED_T},
    {"positive_ordered", TK_POSITIVE_ORDERED_T},
    {"unit_vector", TK_UNIT_VECTOR_T},
    {"sum_to_zero_vector", TK_SUM_TO_ZERO_VECTOR_T},
    {"cholesky_factor_corr", TK_CHOLESKY_CORR_T},
    {"cholesky_factor_cov", TK_CHOLESKY_COV_T},
    {"cov_matrix", TK_COV_MATRIX_T},
    {"corr_matrix", TK_CORR_MATRIX_T},
    {"column_stochastic_matrix", TK_COLUMN_STOCHASTIC_T},
    {"row_stochastic_matrix", TK_ROW_STOCHASTIC_T},
    {"array", TK_ARRAY},
    {"tuple", TK_TUPLE},
    {"void", TK_VOID},
    {"for", TK_FOR},
    {"in", TK_IN},
    {"while", TK_WHILE},
    {"if", TK_IF},
    {"else", TK_ELSE},
    {"break", TK_BREAK},
    {"continue", TK_CONTINUE},
    {"return", TK_RETURN},
    {"print", TK_PRINT},
    {"reject", TK_REJECT},
    {"fatal_error", TK_FATAL_ERROR},
    {"target", TK_TARGET},
    {"profile", TK_PROFILE},
    {"repeat", TK_REPEAT},
    {"until", TK_UNTIL},
    {"then", TK_THEN},
    {"true", TK_TRUE},
    {"false", TK_FALSE},
};

const char *ps_tok_describe(ps_tok kind)
{
    switch (kind) {
    case TK_EOF:
        return "the end of the program";
    case TK_IDENT:
        return "an identifier";
    case TK_INT:
        return "an integer";
    case TK_REAL:
        return "a real number";
    case TK_IMAG:
        return "an imaginary number";
    case TK_STRING:
        return "a string";
    case TK_LBRACE:
        return "'{'";
    case TK_RBRACE:
        return "'}'";
    case TK_LPAREN:
        return "'('";
    case TK_RPAREN:
        return "')'";
    case TK_LBRACK:
        return "'['";
    case TK_RBRACK:
        return "']'";
    case TK_LT:
        return "'<'";
    case TK_GT:
        return "'>'";
    case TK_LE:
        return "'<='";
    case TK_GE:
        return "'>='";
    case TK_EQ:
        return "'=='";
    case TK_NE:
        return "'!='";
    case TK_ASSIGN:
        return "'='";
    case TK_PLUS_ASSIGN:
        return "'+='";
    case TK_MINUS_ASSIGN:
        return "'-='";
    case TK_TIMES_ASSIGN:
        return "'*='";
    case TK_DIV_ASSIGN:
        return "'/='";
    case TK_EMUL_ASSIGN:
        return "'.*='";
    case TK_EDIV_ASSIGN:
        return "'./='";
    case TK_COMMA:
        return "','";
    case TK_SEMI:
        return "';'";
    case TK_TILDE:
        return "'~'";
    case TK_QUESTION:
        return "'?'";
    case TK_COLON:
        return "':'";
    case TK_BANG:
        return "'!'";
    case TK_PLUS:
        return "'+'";
    case TK_MINUS:
        return "'-'";
    case TK_STAR:
        return "'*'";
    case TK_SLASH:
        return "'/'";
    case TK_PERCENT:
        return "'%'";
    case TK_IDIV:
        return "'%/%'";
    case TK_BACKSLASH:
        return "'\\'";
    case TK_HAT:
        return "'^'";
    case TK_EHAT:
        return "'.^'";
    case TK_EMUL:
        return "'.*'";
    case TK_EDIV:
        return "'./'";
    case TK_QUOTE:
        return "'''";
    case TK_BAR:
        return "'|'";
    case TK_AND:
        return "'&&'";
    case TK_OR:
        return "'||'";
    default:
        break;
    }
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (keywords[i].kind == kind)
            return keywords[i].word;
    return "a token";
}

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

typedef struct lexer {
    const ps_stan_program *prog;
    const char *s;
    size_t len;
    size_t pos;
    ps_token *toks;
    size_t n, cap;
} lexer;

static ps_status push(lexer *lx, ps_tok kind, size_t offset, size_t len, ps_token **out)
{
    if (lx->n == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 256;
        if (ps_realloc_array(&lx->toks, cap, sizeof *lx->toks, "tokens") != PS_OK)
            return ps_stan_oom(lx->prog);
        lx->cap = cap;
    }
    ps_token *t = &lx->toks[lx->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->offset = offset;
    t->len = len;
    if (out != NULL)
        *out = t;
    return PS_OK;
}

/* Skips whitespace and comments; fails on an unterminated block comment or '#'. */
static ps_status skip_space(lexer *lx)
{
    const char *s = lx->s;
    while (lx->pos < lx->len) {
        unsigned char c = (unsigned char)s[lx->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            lx->pos++;
        } else if (c == '/' && lx->pos + 1 < lx->len && s[lx->pos + 1] == '/') {
            while (lx->pos < lx->len && s[lx->pos] != '\n')
                lx->pos++;
        } else if (c == '/' && lx->pos + 1 < lx->len && s[lx->pos + 1] == '*') {
            size_t start = lx->pos;
            lx->pos += 2;
            for (;;) {
                if (lx->pos + 1 >= lx->len) {
                    lx->pos = lx->len;
                    return ps_stan_error(lx->prog, start,
                                         "unterminated comment: '/*' has no matching '*/'");
                }
                if (s[lx->pos] == '*' && s[lx->pos + 1] == '/') {
                    lx->pos += 2;
                    break;
                }
                lx->pos++;
            }
        } else if (c == '#') {
            if (lx->len - lx->pos >= 8 && memcmp(s + lx->pos, "#include", 8) == 0)
                return ps_stan_error(lx->prog, lx->pos,
                                     "#include is not supported yet: paste the included "
                                     "file into the program");
            return ps_stan_error(lx->prog, lx->pos,
                                 "'#' comments are no longer part of Stan: use '//'");
        } else {
            break;
        }
    }
    return PS_OK;
}

static ps_status lex_number(lexer *lx)
{
    const char *s = lx->s;
    size_t start = lx->pos, p = lx->pos;
    bool real = false;
    while (p < lx->len && is_digit((unsigned char)s[p]))
        p++;
    if (p < lx->len && s[p] == '.') {
        /* "1." is a real, but "1.*x" is 1 .* x in no Stan version: the longest match
         * makes it "1." followed by "*"; the same holds for "./" and ".^". */
        real = true;
        p++;
        while (p < lx->len && is_digit((unsigned char)s[p]))
            p++;
    }
    if (p < lx->len && (s[p] == 'e' || s[p] == 'E')) {
        size_t q = p + 1;
        if (q < lx->len && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q >= lx->len || !is_digit((unsigned char)s[q]))
            return ps_stan_error(lx->prog, start,
                                 "malformed number: the exponent of '%.*s' has no digits",
                                 (int)(q - start > 40 ? 40 : q - start), s + start);
        while (q < lx->len && is_digit((unsigned char)s[q]))
            q++;
        p = q;
        real = true;
    }
    if (p < lx->len && s[p] == 'i' && (p + 1 >= lx->len || !is_ident_char((unsigned char)s[p + 1])))
        return ps_stan_error(lx->prog, start,
                             "imaginary numbers (complex values) are not supported yet");
    size_t n = p - start;
    ps_token *t = NULL;
    PS_CHECK(push(lx, real ? TK_REAL : TK_INT, start, n, &t));
    lx->pos = p;
    if (real) {
        /* strtod needs a NUL-terminated copy; no real literal needs 500 characters. */
        char buf[512];
        if (n >= sizeof buf)
            return ps_stan_error(lx->prog, start, "real literal is too long (%zu characters)", n);
        memcpy(buf, s + start, n);
        buf[n] = '\0';
        errno = 0;
        t->v.real_value = strtod(buf, NULL);
        return PS_OK;
    }
    /* Stan's int is 32 bits. */
    int64_t value = 0;
    for (size_t i = start; i < p; i++) {
        value = value * 10 + (s[i] - '0');
        if (value > INT32_MAX)
            return ps_stan_error(lx->prog, start,
                                 "integer literal '%.*s' is too large: Stan's int holds at most "
                                 "2147483647 (write it as a real, e.g. '%.*s.0')",
                                 (int)(n > 40 ? 40 : n), s + start, (int)(n > 40 ? 40 : n),
                                 s + start);
    }
    t->v.int_value = (int32_t)value;
    return PS_OK;
}

static ps_status lex_string(lexer *lx)
{
    const char *s = lx->s;
    size_t start = lx->pos, p = lx->pos + 1;
    while (p < lx->len && s[p] != '"' && s[p] != '\n')
        p++;
    if (p >= lx->len || s[p] != '"')
        return ps_stan_error(lx->prog, start,
                             "unterminated string: '\"' has no closing '\"' "
                             "on the same line");
    PS_CHECK(push(lx, TK_STRING, start, p + 1 - start, NULL));
    lx->pos = p + 1;
    return PS_OK;
}

/* Operators, longest first. */
static const struct {
    const char *text;
    ps_tok kind;
} operators[] = {
    {"%/%", TK_IDIV},
    {".*=", TK_EMUL_ASSIGN},
    {"./=", TK_EDIV_ASSIGN},
    {"<=", TK_LE},
    {">=", TK_GE},
    {"==", TK_EQ},
    {"!=", TK_NE},
    {"+=", TK_PLUS_ASSIGN},
    {"-=", TK_MINUS_ASSIGN},
    {"*=", TK_TIMES_ASSIGN},
    {"/=", TK_DIV_ASSIGN},
    {".*", TK_EMUL},
    {"./", TK_EDIV},
    {".^", TK_EHAT},
    {"&&", TK_AND},
    {"||", TK_OR},
    {"{", TK_LBRACE},
    {"}", TK_RBRACE},
    {"(", TK_LPAREN},
    {")", TK_RPAREN},
    {"[", TK_LBRACK},
    {"]", TK_RBRACK},
    {"<", TK_LT},
    {">", TK_GT},
    {"=", TK_ASSIGN},
    {",", TK_COMMA},
    {";", TK_SEMI},
    {"~", TK_TILDE},
    {"?", TK_QUESTION},
    {":", TK_COLON},
    {"!", TK_BANG},
    {"+", TK_PLUS},
    {"-", TK_MINUS},
    {"*", TK_STAR},
    {"/", TK_SLASH},
    {"%", TK_PERCENT},
    {"\\", TK_BACKSLASH},
    {"^", TK_HAT},
    {"'", TK_QUOTE},
    {"|", TK_BAR},
};

ps_status ps_stan_lex(const ps_stan_program *program, ps_token **tokens, size_t *n_tokens)
{
    lexer lx = {.prog = program, .s = program->text, .len = program->text_len};
    ps_status status = PS_OK;
    *tokens = NULL;
    *n_tokens = 0;
    for (;;) {
        PS_TRY(skip_space(&lx));
        if (lx.pos >= lx.len)
            break;
        unsigned char c = (unsigned char)lx.s[lx.pos];
        if (is_ident_start(c)) {
            size_t start = lx.pos;
            while (lx.pos < lx.len && is_ident_char((unsigned char)lx.s[lx.pos]))
                lx.pos++;
            size_t n = lx.pos - start;
            ps_tok kind = TK_IDENT;
            for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
                if (strlen(keywords[i].word) == n &&
                    memcmp(keywords[i].word, lx.s + start, n) == 0) {
                    kind = keywords[i].kind;
                    break;
                }
            }
            PS_TRY(push(&lx, kind, start, n, NULL));
            continue;
        }
        if (is_digit(c) ||
            (c == '.' && lx.pos + 1 < lx.len && is_digit((unsigned char)lx.s[lx.pos + 1]))) {
            PS_TRY(lex_number(&lx));
            continue;
        }
        if (c == '"') {
            PS_TRY(lex_string(&lx));
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++) {
            size_t n = strlen(operators[i].text);
            if (lx.len - lx.pos >= n && memcmp(operators[i].text, lx.s + lx.pos, n) == 0) {
                PS_TRY(push(&lx, operators[i].kind, lx.pos, n, NULL));
                lx.pos += n;
                found = true;
                break;
            }
        }
        if (found)
            continue;
        if (c >= 0x80)
            status = ps_stan_error(program, lx.pos,
                                   "unexpected non-ASCII character: Stan allows them only in "
                                   "comments and strings");
        else if (c < 0x20 || c == 0x7f)
            status =
                ps_stan_error(program, lx.pos, "unexpected control character (byte 0x%02x)", c);
        else
            status = ps_stan_error(program, lx.pos, "unexpected character '%c'", c);
        goto done;
    }
    PS_TRY(push(&lx, TK_EOF, lx.len, 0, NULL));
    *tokens = lx.toks;
    *n_tokens = lx.n;
    return PS_OK;
done:
    ps_free(lx.toks);
    return status;
}
