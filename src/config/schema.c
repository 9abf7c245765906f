/*
 * The configuration schema and its validation.
 *
 * One table describes every key; parsing, --set overrides, defaults, the printed
 * effective configuration and the README test all use it.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/toml.h"

#define OFF(field) offsetof(ps_config, field)

/* Where each key was set: its value's offset in the file, or the --set argument. */
struct ps_config_site {
    size_t value_offset[128];
    bool in_file[128];
    char *set_arg[128];
};
typedef struct ps_config_site key_site;
#define BIG 1e18

static const char *const algorithms[] = {"nuts",         "hmc",           "metropolis",
                                         "demetropolis", "demetropolisz", NULL};
static const char *const de_tunes[] = {"scaling", "lambda", "none", NULL};
static const char *const metrics[] = {"unit", "diag", "dense", NULL};

/* clang-format off */
static const ps_config_key schema[] = {
    {"model", "file", PS_CFG_PATH, OFF(model.file), NULL, 0, 0, false, false, NULL,
     "Stan program to sample (current Stan syntax). Exactly one of `file` and `library`."},
    {"model", "library", PS_CFG_PATH, OFF(model.library), NULL, 0, 0, false, false, NULL,
     "Shared library exposing the BridgeStan C ABI (a Stan model compiled with BridgeStan)."},
    {"data", "file", PS_CFG_PATH, OFF(data.file), NULL, 0, 0, false, false, NULL,
     "Data for the model: Stan's JSON data format, or for a Stan program (`model.file`) also "
     "HDF5 (one dataset per variable; the format is recognised by the content). Omit for "
     "models without data."},

    {"sampler", "algorithm", PS_CFG_ENUM, OFF(sampler.algorithm), "\"nuts\"", 0, 0, false,
     false, algorithms, "Step method: `nuts`, `hmc` (static HMC), `metropolis` (random walk), "
     "`demetropolis` or `demetropolisz` (differential evolution over all chains; no gradient "
     "needed)."},
    {"sampler", "chains", PS_CFG_INT, OFF(sampler.chains), "4", 1, INT_MAX, false, false,
     NULL, "Total number of chains, spread over the MPI ranks."},
    {"sampler", "warmup", PS_CFG_INT, OFF(sampler.warmup), "1000", 0, 1e9, false, false, NULL,
     "Warmup (adaptation) iterations per chain; the maximum when adaptive warmup is on."},
    {"sampler", "draws", PS_CFG_INT, OFF(sampler.draws), "1000", 0, 1e9, false, false, NULL,
     "Sampling iterations per chain after warmup (every `thin`-th is kept); with "
     "`convergence.stop_early` the limit is `convergence.max_draws` instead."},
    {"sampler", "seed", PS_CFG_INT, OFF(sampler.seed), NULL, 0, 9.3e18, false, false, NULL,
     "Seed of every chain's random stream; chosen at random and reported when omitted."},
    {"sampler", "thin", PS_CFG_INT, OFF(sampler.thin), "1", 1, 1e9, false, false, NULL,
     "Keep every `thin`-th draw."},
    {"sampler", "target_accept", PS_CFG_FLOAT, OFF(sampler.target_accept), "0.8", 0, 1, true,
     true, NULL, "Target mean acceptance statistic of step-size adaptation (Stan's adapt_delta)."},
    {"sampler", "max_treedepth", PS_CFG_INT, OFF(sampler.max_treedepth), "10", 1, 30, false,
     false, NULL, "Maximum NUTS tree depth (at most 2^depth - 1 leapfrog steps per draw)."},
    {"sampler", "metric", PS_CFG_ENUM, OFF(sampler.metric), "\"diag\"", 0, 0, false, false,
     metrics, "Mass matrix: `unit`, `diag` (adapted diagonal) or `dense` (adapted dense)."},
    {"sampler", "step_size", PS_CFG_FLOAT, OFF(sampler.step_size), "1.0", 0, BIG, true, false,
     NULL, "Initial step size (adapted during warmup)."},
    {"sampler", "step_size_jitter", PS_CFG_FLOAT, OFF(sampler.step_size_jitter), "0.0", 0, 1,
     false, false, NULL, "Uniform random jitter of the step size per iteration, as a fraction."},
    {"sampler", "init_radius", PS_CFG_FLOAT, OFF(sampler.init_radius), "2.0", 0, BIG, false,
     false, NULL, "Initial values drawn uniformly from (-r, r) on the unconstrained scale."},
    {"sampler", "int_time", PS_CFG_FLOAT, OFF(sampler.int_time), "6.283185307179586", 0, BIG,
     true, false, NULL, "Integration time of static HMC (steps = int_time / step_size)."},
    {"sampler", "tune_interval", PS_CFG_INT, OFF(sampler.tune_interval), "100", 1, 1e9, false,
     false, NULL, "Metropolis and DE: warmup iterations between updates of the proposal scale."},
    {"sampler", "de_lambda", PS_CFG_FLOAT, OFF(sampler.de_lambda), "0.0", 0, BIG, false, false,
     NULL, "DE: factor lambda of the difference of two states; 0 means 2.38 / sqrt(2 d), d the "
     "number of unconstrained parameters."},
    {"sampler", "de_scaling", PS_CFG_FLOAT, OFF(sampler.de_scaling), "0.001", 0, BIG, true,
     false, NULL, "DE: initial standard deviation of the noise added to each proposal."},
    {"sampler", "de_tune", PS_CFG_ENUM, OFF(sampler.de_tune), "\"scaling\"", 0, 0, false, false,
     de_tunes, "DE: what warmup tunes every `tune_interval` iterations by the acceptance rate: "
     "`scaling`, `lambda` or `none`."},
    {"sampler", "de_exchange_every", PS_CFG_INT, OFF(sampler.de_exchange_every), "10", 1, 1e9,
     false, false, NULL, "DEMetropolisZ: iterations between appends of every chain's state to "
     "the archive (one exchange between the ranks each time)."},
    {"sampler", "de_snooker", PS_CFG_FLOAT, OFF(sampler.de_snooker), "0.0", 0, 1, false, false,
     NULL, "DEMetropolisZ: probability of a snooker update instead of a parallel-direction one "
     "(ter Braak and Vrugt use 0.1)."},

    {"adaptation", "engaged", PS_CFG_BOOL, OFF(adaptation.engaged), "true", 0, 0, false,
     false, NULL, "Adapt step size and metric during warmup."},
    {"adaptation", "pooled", PS_CFG_BOOL, OFF(adaptation.pooled), NULL, 0, 0, false, false,
     NULL, "Pool the metric estimate of all chains at each window end and give every chain the "
           "median step size after warmup (default: true when chains > 1)."},
    {"adaptation", "adaptive_warmup", PS_CFG_BOOL, OFF(adaptation.adaptive_warmup), "false", 0,
     0, false, false, NULL,
     "End warmup at a window end once the draws since the last metric update look "
     "converged; the rest of warmup becomes the term buffer."},
    {"adaptation", "min_warmup", PS_CFG_INT, OFF(adaptation.min_warmup), "150", 0, 1e9, false,
     false, NULL, "Adaptive warmup: never end warmup before this many iterations."},
    {"adaptation", "init_buffer", PS_CFG_INT, OFF(adaptation.init_buffer), "75", 0, 1e9, false,
     false, NULL, "Fast adaptation interval at the start of warmup (Stan's init_buffer)."},
    {"adaptation", "term_buffer", PS_CFG_INT, OFF(adaptation.term_buffer), "50", 0, 1e9, false,
     false, NULL, "Fast adaptation interval at the end of warmup (Stan's term_buffer)."},
    {"adaptation", "window", PS_CFG_INT, OFF(adaptation.window), "25", 1, 1e9, false, false,
     NULL, "First slow adaptation window; each next window doubles (Stan's window)."},
    {"adaptation", "gamma", PS_CFG_FLOAT, OFF(adaptation.gamma), "0.05", 0, BIG, true, false,
     NULL, "Dual averaging regularisation scale."},
    {"adaptation", "kappa", PS_CFG_FLOAT, OFF(adaptation.kappa), "0.75", 0, 1, true, false,
     NULL, "Dual averaging relaxation exponent."},
    {"adaptation", "t0", PS_CFG_FLOAT, OFF(adaptation.t0), "10.0", 0, BIG, true, false, NULL,
     "Dual averaging iteration offset."},
    {"adaptation", "warmup_rhat_max", PS_CFG_FLOAT, OFF(adaptation.warmup_rhat_max), "1.05", 1,
     BIG, true, false, NULL, "Adaptive warmup: R-hat every quantity must be below."},
    {"adaptation", "warmup_ess_min", PS_CFG_FLOAT, OFF(adaptation.warmup_ess_min), "100.0", 0,
     BIG, false, false, NULL, "Adaptive warmup: bulk-ESS every quantity must exceed."},

    {"convergence", "check_every", PS_CFG_INT, OFF(convergence.check_every), "100", 1, 1e9,
     false, false, NULL, "Sampling iterations per chain between online convergence checks."},
    {"convergence", "rhat_max", PS_CFG_FLOAT, OFF(convergence.rhat_max), "1.01", 1, BIG, true,
     false, NULL, "Converged when every rank-normalised split R-hat is below this."},
    {"convergence", "ess_bulk_min", PS_CFG_FLOAT, OFF(convergence.ess_bulk_min), "400.0", 0,
     BIG, false, false, NULL, "Converged when every bulk-ESS is at least this."},
    {"convergence", "ess_tail_min", PS_CFG_FLOAT, OFF(convergence.ess_tail_min), "400.0", 0,
     BIG, false, false, NULL, "Converged when every tail-ESS is at least this."},
    {"convergence", "stop_early", PS_CFG_BOOL, OFF(convergence.stop_early), "false", 0, 0,
     false, false, NULL, "Stop sampling as soon as the run has converged (else at `draws`)."},
    {"convergence", "min_draws", PS_CFG_INT, OFF(convergence.min_draws), "100", 1, 1e9, false,
     false, NULL, "With stop_early: never stop before this many sampling iterations per chain."},
    {"convergence", "max_draws", PS_CFG_INT, OFF(convergence.max_draws), "10000", 1, 1e9,
     false, false, NULL, "With stop_early: stop after this many sampling iterations per chain at the latest."},

    {"output", "file", PS_CFG_PATH, OFF(output.file), "\"trace.h5\"", 0, 0, false, false, NULL,
     "The trace: parallel HDF5 in ArviZ InferenceData layout (arviz.from_netcdf reads it). An "
     "existing file is an error unless --force is given."},
    {"output", "save_warmup", PS_CFG_BOOL, OFF(output.save_warmup), "false", 0, 0, false, false,
     NULL, "Also write the warmup draws (groups warmup_posterior, warmup_sample_stats)."},
    {"output", "flush_seconds", PS_CFG_FLOAT, OFF(output.flush_seconds), "60.0", 0, BIG, true,
     false, NULL,
     "Flush the trace to disk at the first sync point after this many seconds; after a "
     "crash the file holds every draw up to the last flush."},
    {"output", "checkpoint", PS_CFG_PATH, OFF(output.checkpoint), NULL, 0, 0, false, false,
     NULL,
     "Checkpoint for `psample resume` (default: the trace's name + \".ckpt\"); written on "
     "SIGTERM, SIGINT, SIGUSR1 and every `checkpoint_seconds`, removed when the run ends."},
    {"output", "checkpoint_seconds", PS_CFG_FLOAT, OFF(output.checkpoint_seconds), "600.0", 0,
     BIG, false, false, NULL,
     "Also checkpoint at the first sync point after this many seconds (0: only on a signal)."},
    {"parallel", "ranks_per_chain", PS_CFG_INT, OFF(parallel.ranks_per_chain), "1", 1, 1, false,
     false, NULL, "MPI ranks that evaluate one chain together (only 1 in this version)."},
    {"parallel", "threads", PS_CFG_INT, OFF(parallel.threads), "1", 1, 1024, false, false, NULL,
     "OpenMP threads per rank running that rank's chains."},
};
/* clang-format on */

enum { N_KEYS = sizeof schema / sizeof schema[0] };

_Static_assert(N_KEYS <= 128, "ps_config.given_ holds 128 bits");

static const char *const sections[] = {"model",       "data",   "sampler",  "adaptation",
                                       "convergence", "output", "parallel", NULL};

const ps_config_key *ps_config_schema(size_t *n)
{
    *n = N_KEYS;
    return schema;
}

static void *field(ps_config *cfg, const ps_config_key *k)
{
    return (char *)cfg + k->offset;
}

static const void *cfield(const ps_config *cfg, const ps_config_key *k)
{
    return (const char *)cfg + k->offset;
}

static void mark_given(ps_config *cfg, size_t i)
{
    cfg->given_[i / 64] |= UINT64_C(1) << (i % 64);
}

static bool is_given(const ps_config *cfg, size_t i)
{
    return (cfg->given_[i / 64] >> (i % 64)) & 1;
}

static const ps_config_key *find_key(const char *section, const char *key, size_t *index)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].key, key) == 0) {
            if (index)
                *index = i;
            return &schema[i];
        }
    }
    return NULL;
}

bool ps_config_given(const ps_config *cfg, const char *section, const char *key)
{
    size_t i;
    return find_key(section, key, &i) != NULL && is_given(cfg, i);
}

void ps_config_destroy(ps_config **cfg)
{
    if (cfg == NULL || *cfg == NULL)
        return;
    ps_config *c = *cfg;
    for (size_t i = 0; i < N_KEYS; i++) {
        ps_config_kind kind = schema[i].kind;
        if (kind == PS_CFG_STRING || kind == PS_CFG_PATH || kind == PS_CFG_ENUM)
            ps_free(*(char **)field(c, &schema[i]));
    }
    if (c->site_)
        for (size_t i = 0; i < N_KEYS; i++)
            ps_free(c->site_->set_arg[i]);
    ps_free(c->site_);
    ps_free(c->path);
    ps_free(c->text);
    ps_free(c);
    *cfg = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Suggestions
 * ------------------------------------------------------------------------------------- */

/* Appends " (did you mean 'x'?)" for the closest candidate within a small distance. */
static void suggest(char *buf, size_t size, const char *word, const char *const *candidates,
                    size_t n)
{
    buf[0] = '\0';
    size_t best = 3, limit = strlen(word) <= 4 ? 1 : 2;
    const char *pick = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = ps_edit_distance(word, candidates[i], limit);
        if (d <= limit && d < best) {
            best = d;
            pick = candidates[i];
        }
    }
    if (pick)
        snprintf(buf, size, " (did you mean '%s'?)", pick);
}

static void suggest_key(char *buf, size_t size, const char *section, const char *key)
{
    const char *cands[N_KEYS];
    size_t n = 0;
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(schema[i].section, section) == 0)
            cands[n++] = schema[i].key;
    suggest(buf, size, key, cands, n);
    if (buf[0] != '\0')
        return;
    /* The key may belong to another section. */
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(schema[i].key, key) == 0) {
            snprintf(buf, size, " ('%s' belongs in [%s])", key, schema[i].section);
            return;
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Setting values
 * ------------------------------------------------------------------------------------- */

/* Where a value came from, for messages: a located file position or a --set argument. */
typedef struct origin {
    const char *path;
    const char *text;
    size_t text_len;
    size_t offset;         /* of the value, when in the file */
    const char *set_arg;   /* the --set argument, when from the command line */
    const char *base_file; /* paths resolve against this file's folder (or cwd) */
} origin;

static ps_status fail(const origin *o, const char *fmt, ...) PS_PRINTF(2, 3);

static ps_status fail(const origin *o, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (o->set_arg)
        return ps_error(PS_ERR_CONFIG, "--set %s: error: %s", o->set_arg, msg);
    return ps_error_at_offset(PS_ERR_CONFIG, o->path, o->text, o->text_len, o->offset, "%s", msg);
}

static const char *article_type(ps_toml_type t)
{
    switch (t) {
    case PS_TOML_STRING:
        return "a string";
    case PS_TOML_INTEGER:
        return "an integer";
    case PS_TOML_FLOAT:
        return "a float";
    case PS_TOML_BOOL:
        return "a boolean";
    case PS_TOML_ARRAY:
        return "an array";
    case PS_TOML_TABLE:
        return "a table";
    default:
        return "a date/time";
    }
}

static const char *expected_kind(ps_config_kind kind)
{
    switch (kind) {
    case PS_CFG_INT:
        return "an integer";
    case PS_CFG_FLOAT:
        return "a number";
    case PS_CFG_BOOL:
        return "true or false";
    case PS_CFG_PATH:
        return "a path (a string in quotes)";
    default:
        return "a string in quotes";
    }
}

/* Formats a double in the shortest form that reads back exactly, always as a TOML float:
 * positional notation (400.0, 0.05) for ordinary magnitudes, exponent notation otherwise. */
static void format_float(char *buf, size_t size, double x)
{
    if (isnan(x)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, size, x > 0 ? "inf" : "-inf");
        return;
    }
    double mag = fabs(x);
    bool positional = x == 0 || (mag >= 1e-4 && mag < 1e15);
    for (int prec = positional ? 0 : 1; prec <= 17; prec++) {
        snprintf(buf, size, positional ? "%.*f" : "%.*e", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (strpbrk(buf, ".eEn") == NULL && strlen(buf) + 2 < size)
        strcat(buf, ".0");
}

static void describe_range(const ps_config_key *k, char *buf, size_t size)
{
    char lo[32], hi[32];
    if (k->kind == PS_CFG_INT) {
        snprintf(lo, sizeof lo, "%.0f", k->min);
        snprintf(hi, sizeof hi, "%.0f", k->max);
    } else {
        format_float(lo, sizeof lo, k->min);
        format_float(hi, sizeof hi, k->max);
    }
    bool has_max = k->max < BIG;
    if (has_max)
        snprintf(buf, size, "%s %s%s and %s%s", k->min_exclusive ? "between" : "from", lo,
                 k->min_exclusive ? " (exclusive)" : "", hi,
                 k->max_exclusive ? " (exclusive)" : "");
    else
        snprintf(buf, size, "%s %s", k->min_exclusive ? "greater than" : "at least", lo);
}

static bool in_range(const ps_config_key *k, double x)
{
    if (isnan(x))
        return false;
    if (k->min_exclusive ? !(x > k->min) : !(x >= k->min))
        return false;
    if (k->max_exclusive ? !(x < k->max) : !(x <= k->max))
        return false;
    return true;
}

/* Makes a path absolute: relative to base_file's folder, or to cwd when base_file is NULL. */
/* The canonical form of an absolute path: realpath() of the file when it exists, else of
 * its folder joined with the file name (an output file that does not exist yet), else the
 * path unchanged. */
static ps_status canonical_path(char *path, char **out)
{
    char *real = realpath(path, NULL);
    if (real == NULL) {
        char *slash = strrchr(path, '/');
        if (slash != NULL && slash != path) {
            *slash = '\0';
            char *folder = realpath(path, NULL);
            *slash = '/';
            if (folder != NULL) {
                ps_strbuf sb;
                ps_strbuf_init(&sb);
                ps_strbuf_puts(&sb, folder);
                ps_strbuf_puts(&sb, slash);
                free(folder);
                ps_free(path);
                return ps_strbuf_take(&sb, out);
            }
        }
        *out = path;
        return PS_OK;
    }
    char *copy = ps_strdup(real);
    free(real);
    ps_free(path);
    if (copy == NULL)
        return ps_error(PS_ERR_MEM, "out of memory resolving a path");
    *out = copy;
    return PS_OK;
}

static ps_status absolute_path(const char *base_file, const char *cwd, const char *path, char **out)
{
    char *joined = NULL;
    PS_CHECK(ps_path_resolve(base_file, path, &joined));
    if (joined[0] == '/')
        return canonical_path(joined, out);
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_puts(&sb, cwd);
    if (sb.len == 0 || sb.data[sb.len - 1] != '/')
        ps_strbuf_putc(&sb, '/');
    const char *p = joined;
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    ps_strbuf_puts(&sb, p);
    ps_free(joined);
    char *absolute = NULL;
    PS_CHECK(ps_strbuf_take(&sb, &absolute));
    return canonical_path(absolute, out);
}

static ps_status set_value(ps_config *cfg, size_t index, const ps_toml_value *v,
                           const char *raw_string, const origin *o, const char *cwd)
{
    const ps_config_key *k = &schema[index];
    char name[96];
    snprintf(name, sizeof name, "%s.%s", k->section, k->key);
    char range[256];
    switch (k->kind) {
    case PS_CFG_INT: {
        if (v == NULL || v->type != PS_TOML_INTEGER) {
            if (v && v->type == PS_TOML_FLOAT)
                return fail(o,
                            "'%s' must be an integer, found the float %g (write it without "
                            "a decimal point)",
                            name, v->u.floating);
            return fail(o, "'%s' must be an integer, found %s", name,
                        v ? article_type(v->type) : "text that is not a TOML value");
        }
        double x = (double)v->u.integer;
        if (!in_range(k, x)) {
            describe_range(k, range, sizeof range);
            if (k->min == k->max)
                return fail(o, "'%s' must be %.0f in this version, found %lld", name, k->min,
                            (long long)v->u.integer);
            return fail(o, "'%s' must be %s, found %lld", name, range, (long long)v->u.integer);
        }
        *(int64_t *)field(cfg, k) = v->u.integer;
        break;
    }
    case PS_CFG_FLOAT: {
        double x;
        if (v && v->type == PS_TOML_FLOAT)
            x = v->u.floating;
        else if (v && v->type == PS_TOML_INTEGER)
            x = (double)v->u.integer;
        else
            return fail(o, "'%s' must be a number, found %s", name,
                        v ? article_type(v->type) : "text that is not a TOML value");
        if (!in_range(k, x)) {
            describe_range(k, range, sizeof range);
            char got[64];
            format_float(got, sizeof got, x);
            return fail(o, "'%s' must be %s, found %s", name, range, got);
        }
        *(double *)field(cfg, k) = x;
        break;
    }
    case PS_CFG_BOOL:
        if (v == NULL || v->type != PS_TOML_BOOL)
            return fail(o, "'%s' must be true or false, found %s", name,
                        v ? article_type(v->type) : "text that is not a TOML value");
        *(bool *)field(cfg, k) = v->u.boolean;
        break;
    case PS_CFG_STRING:
    case PS_CFG_PATH:
    case PS_CFG_ENUM: {
        const char *s;
        size_t len;
        if (v && v->type == PS_TOML_STRING) {
            s = v->u.string.data;
            len = v->u.string.len;
        } else if (v == NULL && raw_string) {
            s = raw_string;
            len = strlen(raw_string);
        } else {
            return fail(o, "'%s' must be %s, found %s", name, expected_kind(k->kind),
                        v ? article_type(v->type) : "nothing");
        }
        if (strlen(s) != len)
            return fail(o, "'%s' must not contain a NUL character", name);
        if (k->kind == PS_CFG_ENUM) {
            bool ok = false;
            size_t nv = 0;
            for (; k->values[nv]; nv++)
                ok |= strcmp(k->values[nv], s) == 0;
            if (!ok) {
                char list[256] = "", hint[128];
                for (size_t i = 0; k->values[i]; i++) {
                    size_t used = strlen(list);
                    snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "",
                             k->values[i]);
                }
                suggest(hint, sizeof hint, s, k->values, nv);
                return fail(o, "'%s' must be one of %s, found \"%s\"%s", name, list, s, hint);
            }
        }
        if (k->kind == PS_CFG_PATH && len == 0)
            return fail(o, "'%s' must name a file, found an empty string", name);
        char *copy = NULL;
        if (k->kind == PS_CFG_PATH) {
            PS_CHECK(absolute_path(o->base_file, cwd, s, &copy));
        } else {
            copy = ps_strdup(s);
            if (copy == NULL)
                return ps_error(PS_ERR_MEM, "out of memory reading the configuration");
        }
        char **slot = field(cfg, k);
        ps_free(*slot);
        *slot = copy;
        break;
    }
    }
    mark_given(cfg, index);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Defaults and cross-key checks
 * ------------------------------------------------------------------------------------- */

static ps_status set_default(ps_config *cfg, const ps_config_key *k)
{
    const char *d = k->default_text;
    if (d == NULL)
        return PS_OK;
    switch (k->kind) {
    case PS_CFG_INT:
        *(int64_t *)field(cfg, k) = strtoll(d, NULL, 10);
        break;
    case PS_CFG_FLOAT:
        *(double *)field(cfg, k) = strtod(d, NULL);
        break;
    case PS_CFG_BOOL:
        *(bool *)field(cfg, k) = strcmp(d, "true") == 0;
        break;
    default: {
        size_t n = strlen(d);
        char *s = ps_strndup(d + 1, n >= 2 ? n - 2 : 0); /* strip the quotes */
        if (s == NULL)
            return ps_error(PS_ERR_MEM, "out of memory setting defaults");
        *(char **)field(cfg, k) = s;
        break;
    }
    }
    return PS_OK;
}

ps_status ps_config_error_at_key(const ps_config *cfg, ps_status status, const char *section,
                                 const char *key, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t i = 0;
    const key_site *site = cfg->site_;
    if (find_key(section, key, &i) && site != NULL) {
        if (site->set_arg[i])
            return ps_error(status, "--set %s: error: %s", site->set_arg[i], msg);
        if (site->in_file[i])
            return ps_error_at_offset(status, cfg->path, cfg->text, cfg->text_len,
                                      site->value_offset[i], "%s", msg);
    }
    return ps_error(status, "%s: error: %s", cfg->path, msg);
}

#define fail_key(cfg, section, key, ...)                                                           \
    ps_config_error_at_key((cfg), PS_ERR_CONFIG, (section), (key), __VA_ARGS__)

static ps_status check_combination(ps_config *cfg)
{
    bool has_file = cfg->model.file != NULL, has_lib = cfg->model.library != NULL;
    if (!has_file && !has_lib)
        return ps_error(PS_ERR_CONFIG,
                        "%s: error: no model: set [model] file = \"model.stan\" or [model] "
                        "library = \"model.so\"",
                        cfg->path);
    if (has_file && has_lib)
        return fail_key(cfg, "model", "library",
                        "[model] takes either 'file' or 'library', not both");
    if (!ps_config_given(cfg, "adaptation", "pooled"))
        cfg->adaptation.pooled = cfg->sampler.chains > 1;
    if (cfg->output.checkpoint == NULL) {
        ps_strbuf sb;
        ps_strbuf_init(&sb);
        ps_strbuf_printf(&sb, "%s.ckpt", cfg->output.file);
        PS_CHECK(ps_strbuf_take(&sb, &cfg->output.checkpoint));
    }
    if (strcmp(cfg->output.checkpoint, cfg->output.file) == 0)
        return fail_key(cfg, "output", "checkpoint",
                        "'output.checkpoint' and 'output.file' name the same file %s",
                        cfg->output.file);
    if (strcmp(cfg->sampler.algorithm, "metropolis") == 0 &&
        strcmp(cfg->sampler.metric, "dense") == 0)
        return fail_key(cfg, "sampler", "metric",
                        "'sampler.metric' = \"dense\" is not supported by the metropolis "
                        "algorithm (use \"unit\" or \"diag\")");
    bool de = strcmp(cfg->sampler.algorithm, "demetropolis") == 0;
    bool dez = strcmp(cfg->sampler.algorithm, "demetropolisz") == 0;
    if (de && cfg->sampler.chains < 3)
        return fail_key(cfg, "sampler", "chains",
                        "'sampler.algorithm' = \"demetropolis\" needs at least 3 chains (each "
                        "proposal uses the difference of two other chains' states), found %lld; "
                        "use at least 2 x the number of parameters, or \"demetropolisz\", which "
                        "works with few chains",
                        (long long)cfg->sampler.chains);
    if (!dez && cfg->sampler.de_snooker > 0)
        return fail_key(cfg, "sampler", "de_snooker",
                        "'sampler.de_snooker' applies to the \"demetropolisz\" algorithm only "
                        "(the algorithm is \"%s\")",
                        cfg->sampler.algorithm);
    if ((de || dez) && cfg->adaptation.adaptive_warmup)
        return fail_key(cfg, "adaptation", "adaptive_warmup",
                        "'adaptation.adaptive_warmup' is not available for the population "
                        "algorithm \"%s\" (it ends warmup at metric adaptation windows, which "
                        "differential evolution does not have)",
                        cfg->sampler.algorithm);
    if (cfg->adaptation.adaptive_warmup && cfg->adaptation.min_warmup > cfg->sampler.warmup)
        return fail_key(cfg, "adaptation", "min_warmup",
                        "'adaptation.min_warmup' (%lld) exceeds 'sampler.warmup' (%lld), the "
                        "maximum warmup",
                        (long long)cfg->adaptation.min_warmup, (long long)cfg->sampler.warmup);
    if (cfg->convergence.stop_early && cfg->convergence.min_draws > cfg->convergence.max_draws)
        return fail_key(cfg, "convergence", "min_draws",
                        "'convergence.min_draws' (%lld) exceeds 'convergence.max_draws' (%lld)",
                        (long long)cfg->convergence.min_draws,
                        (long long)cfg->convergence.max_draws);
    return PS_OK;
}

/* ---------------------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------------------- */

static ps_status walk_file(ps_config *cfg, const ps_toml_value *root, key_site *site,
                           const char *cwd)
{
    origin o = {cfg->path, cfg->text, cfg->text_len, 0, NULL, cfg->path};
    for (size_t s = 0; s < root->u.table.len; s++) {
        const ps_toml_kv *sec = &root->u.table.items[s];
        bool known = false;
        for (size_t i = 0; sections[i]; i++)
            known |= strlen(sections[i]) == sec->key_len && strcmp(sections[i], sec->key) == 0;
        o.offset = sec->key_offset;
        if (!known) {
            char hint[128];
            suggest(hint, sizeof hint, sec->key, sections, sizeof sections / sizeof *sections - 1);
            if (hint[0] == '\0' && sec->value->type != PS_TOML_TABLE) {
                for (size_t i = 0; i < N_KEYS; i++) {
                    if (strcmp(schema[i].key, sec->key) == 0) {
                        snprintf(hint, sizeof hint, " ('%s' belongs in [%s])", sec->key,
                                 schema[i].section);
                        break;
                    }
                }
            }
            if (sec->value->type == PS_TOML_TABLE)
                return fail(&o, "unknown section [%s]%s", sec->key, hint);
            return fail(&o, "unknown key '%s' outside any section%s", sec->key, hint);
        }
        if (sec->value->type != PS_TOML_TABLE)
            return fail(&o, "'%s' must be a section ([%s]), found %s", sec->key, sec->key,
                        article_type(sec->value->type));
        const ps_toml_value *tab = sec->value;
        for (size_t j = 0; j < tab->u.table.len; j++) {
            const ps_toml_kv *kv = &tab->u.table.items[j];
            size_t index;
            o.offset = kv->key_offset;
            if (strlen(kv->key) != kv->key_len || !find_key(sec->key, kv->key, &index)) {
                char hint[160];
                suggest_key(hint, sizeof hint, sec->key, kv->key);
                return fail(&o, "unknown key '%s' in [%s]%s", kv->key, sec->key, hint);
            }
            o.offset = kv->value->offset;
            PS_CHECK(set_value(cfg, index, kv->value, NULL, &o, cwd));
            site->in_file[index] = true;
            site->value_offset[index] = kv->value->offset;
        }
    }
    return PS_OK;
}

static ps_status apply_override(ps_config *cfg, const char *arg, key_site *site, const char *cwd)
{
    origin o = {NULL, NULL, 0, 0, arg, NULL};
    const char *eq = strchr(arg, '=');
    const char *dot = strchr(arg, '.');
    if (eq == NULL || dot == NULL || dot > eq)
        return fail(&o, "expected section.key=value, e.g. --set sampler.draws=2000");
    char section[64], key[64];
    size_t sl = (size_t)(dot - arg), kl = (size_t)(eq - dot - 1);
    if (sl == 0 || sl >= sizeof section || kl == 0 || kl >= sizeof key)
        return fail(&o, "expected section.key=value, e.g. --set sampler.draws=2000");
    memcpy(section, arg, sl);
    section[sl] = '\0';
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    bool known_section = false;
    for (size_t i = 0; sections[i]; i++)
        known_section |= strcmp(sections[i], section) == 0;
    if (!known_section) {
        char hint[128];
        suggest(hint, sizeof hint, section, sections, sizeof sections / sizeof *sections - 1);
        return fail(&o, "unknown section [%s]%s", section, hint);
    }
    size_t index;
    if (!find_key(section, key, &index)) {
        char hint[160];
        suggest_key(hint, sizeof hint, section, key);
        return fail(&o, "unknown key '%s' in [%s]%s", key, section, hint);
    }
    /* Parse the value as a TOML value; strings may also be given without quotes. */
    const char *value = eq + 1;
    ps_strbuf doc;
    ps_strbuf_init(&doc);
    ps_strbuf_puts(&doc, "v = ");
    ps_strbuf_puts(&doc, value);
    ps_strbuf_putc(&doc, '\n');
    if (doc.failed) {
        ps_strbuf_fini(&doc);
        return ps_error(PS_ERR_MEM, "out of memory reading --set");
    }
    ps_toml_value *root = NULL;
    ps_status st = ps_toml_parse("--set", doc.data, doc.len, &root);
    ps_strbuf_fini(&doc);
    const ps_toml_value *v = NULL;
    if (st == PS_OK) {
        v = ps_toml_get(root, "v");
    } else {
        if (st == PS_ERR_MEM)
            return st;
        ps_error_clear();
    }
    ps_config_kind kind = schema[index].kind;
    bool stringy = kind == PS_CFG_STRING || kind == PS_CFG_PATH || kind == PS_CFG_ENUM;
    if (v != NULL && v->type != PS_TOML_STRING && stringy)
        v = NULL; /* e.g. output.file=1.h5 is a file name, not a number */
    st = set_value(cfg, index, v, stringy ? value : NULL, &o, cwd);
    ps_toml_destroy(&root);
    if (st == PS_OK) {
        ps_free(site->set_arg[index]);
        site->set_arg[index] = ps_strdup(arg);
        site->in_file[index] = false;
        if (site->set_arg[index] == NULL)
            return ps_error(PS_ERR_MEM, "out of memory reading --set");
    }
    return st;
}

ps_status ps_config_parse(const char *path, const char *text, size_t text_len,
                          const char *const *overrides, size_t n_overrides, ps_config **out)
{
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL)
        snprintf(cwd, sizeof cwd, ".");
    return ps_config_parse_in(path, text, text_len, overrides, n_overrides, cwd, out);
}

ps_status ps_config_parse_in(const char *path, const char *text, size_t text_len,
                             const char *const *overrides, size_t n_overrides, const char *cwd,
                             ps_config **out)
{
    ps_status status = PS_OK;
    ps_toml_value *root = NULL;
    *out = NULL;
    ps_config *cfg = ps_calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return ps_error(PS_ERR_MEM, "out of memory reading the configuration");
    cfg->path = ps_strdup(path);
    cfg->text = ps_strndup(text, text_len);
    cfg->text_len = text_len;
    cfg->site_ = ps_calloc(1, sizeof *cfg->site_);
    key_site *site = cfg->site_;
    if (cfg->path == NULL || cfg->text == NULL || site == NULL) {
        status = ps_error(PS_ERR_MEM, "out of memory reading the configuration");
        goto done;
    }
    for (size_t i = 0; i < N_KEYS; i++)
        PS_TRY(set_default(cfg, &schema[i]));
    PS_TRY(ps_toml_parse(path, text, text_len, &root));
    PS_TRY(walk_file(cfg, root, site, cwd));
    /* A path key left at its default names a file next to the configuration. */
    for (size_t i = 0; i < N_KEYS; i++) {
        if (schema[i].kind != PS_CFG_PATH || is_given(cfg, i) || schema[i].default_text == NULL)
            continue;
        char **slot = field(cfg, &schema[i]);
        char *resolved = NULL;
        PS_TRY(absolute_path(path, cwd, *slot, &resolved));
        ps_free(*slot);
        *slot = resolved;
    }
    for (size_t i = 0; i < n_overrides; i++)
        PS_TRY(apply_override(cfg, overrides[i], site, cwd));
    PS_TRY(check_combination(cfg));
    *out = cfg;
    cfg = NULL;
done:
    ps_toml_destroy(&root);
    ps_config_destroy(&cfg);
    return status;
}

/* ---------------------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------------------- */

static void write_toml_string(ps_strbuf *out, const char *s)
{
    ps_strbuf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            ps_strbuf_puts(out, "\\\"");
            break;
        case '\\':
            ps_strbuf_puts(out, "\\\\");
            break;
        case '\n':
            ps_strbuf_puts(out, "\\n");
            break;
        case '\t':
            ps_strbuf_puts(out, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                ps_strbuf_printf(out, "\\u%04x", *p);
            else
                ps_strbuf_putc(out, (char)*p);
        }
    }
    ps_strbuf_putc(out, '"');
}

void ps_config_write_toml(const ps_config *cfg, ps_strbuf *out)
{
    const char *current = NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        const ps_config_key *k = &schema[i];
        if (current == NULL || strcmp(current, k->section) != 0) {
            ps_strbuf_printf(out, "%s[%s]\n", current ? "\n" : "", k->section);
            current = k->section;
        }
        char num[64];
        switch (k->kind) {
        case PS_CFG_INT:
            ps_strbuf_printf(out, "%s = %lld\n", k->key,
                             (long long)*(const int64_t *)cfield(cfg, k));
            break;
        case PS_CFG_FLOAT:
            format_float(num, sizeof num, *(const double *)cfield(cfg, k));
            ps_strbuf_printf(out, "%s = %s\n", k->key, num);
            break;
        case PS_CFG_BOOL:
            ps_strbuf_printf(out, "%s = %s\n", k->key,
                             *(const bool *)cfield(cfg, k) ? "true" : "false");
            break;
        default: {
            const char *s = *(char *const *)cfield(cfg, k);
            if (s == NULL) {
                ps_strbuf_printf(out, "# %s is not set\n", k->key);
            } else {
                ps_strbuf_printf(out, "%s = ", k->key);
                write_toml_string(out, s);
                ps_strbuf_putc(out, '\n');
            }
        }
        }
    }
}

ps_status ps_config_check_files(const ps_config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const ps_config_key *k = &schema[i];
        if (k->kind != PS_CFG_PATH)
            continue;
        const char *p = *(char *const *)cfield(cfg, k);
        if (p == NULL)
            continue;
        if (strcmp(k->section, "output") == 0) {
            /* An output file is created by the run: its folder must exist and be writable. */
            char *folder = ps_strdup(p);
            if (folder == NULL)
                return ps_error(PS_ERR_MEM, "out of memory checking paths");
            char *slash = strrchr(folder, '/');
            if (slash == folder)
                slash[1] = '\0';
            else if (slash)
                *slash = '\0';
            int ok = access(slash ? folder : ".", W_OK | X_OK);
            int err = errno;
            ps_status st = PS_OK;
            if (ok != 0)
                st = ps_config_error_at_key(cfg, PS_ERR_CONFIG, k->section, k->key,
                                            "'%s.%s' names %s, but the folder %s %s", k->section,
                                            k->key, p, slash ? folder : ".",
                                            err == ENOENT ? "does not exist" : "is not writable");
            ps_free(folder);
            if (st != PS_OK)
                return st;
            continue;
        }
        if (access(p, R_OK) != 0)
            return ps_config_error_at_key(cfg, PS_ERR_CONFIG, k->section, k->key,
                                          "'%s.%s' names %s, which %s", k->section, k->key, p,
                                          errno == ENOENT ? "does not exist" : "cannot be read");
    }
    return PS_OK;
}

/* Formats a bound for the README: integers plainly, floats with a decimal point. */
static void format_bound(char *buf, size_t size, double x, bool is_int)
{
    if (is_int)
        snprintf(buf, size, "%.0f", x);
    else
        format_float(buf, size, x);
}

void ps_config_write_reference(ps_strbuf *out)
{
    const char *current = NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        const ps_config_key *k = &schema[i];
        if (current == NULL || strcmp(current, k->section) != 0) {
            ps_strbuf_printf(out,
                             "%s### [%s]\n\n| key | type | default | allowed | meaning |\n"
                             "|---|---|---|---|---|\n",
                             current ? "\n" : "", k->section);
            current = k->section;
        }
        const char *type = k->kind == PS_CFG_INT     ? "integer"
                           : k->kind == PS_CFG_FLOAT ? "float"
                           : k->kind == PS_CFG_BOOL  ? "boolean"
                           : k->kind == PS_CFG_PATH  ? "path"
                                                     : "string";
        ps_strbuf_printf(out, "| `%s` | %s | ", k->key, type);
        if (k->default_text)
            ps_strbuf_printf(out, "`%s` | ", k->default_text);
        else
            ps_strbuf_puts(out, "none | ");
        char lo[64], hi[64];
        bool is_int = k->kind == PS_CFG_INT;
        switch (k->kind) {
        case PS_CFG_ENUM:
            for (size_t j = 0; k->values[j]; j++)
                ps_strbuf_printf(out, "%s`\"%s\"`", j ? ", " : "", k->values[j]);
            break;
        case PS_CFG_INT:
        case PS_CFG_FLOAT:
            format_bound(lo, sizeof lo, k->min, is_int);
            format_bound(hi, sizeof hi, k->max, is_int);
            if (k->min == k->max)
                ps_strbuf_puts(out, lo);
            else if (k->max >= BIG)
                ps_strbuf_printf(out, "%s %s", k->min_exclusive ? ">" : ">=", lo);
            else
                ps_strbuf_printf(out, "%s%s, %s%s", k->min_exclusive ? "(" : "[", lo, hi,
                                 k->max_exclusive ? ")" : "]");
            break;
        case PS_CFG_BOOL:
            ps_strbuf_puts(out, "`true`, `false`");
            break;
        default:
            ps_strbuf_puts(out, "a file");
        }
        ps_strbuf_printf(out, " | %s |\n", k->doc);
    }
}
