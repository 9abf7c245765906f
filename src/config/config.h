/*
 * psample's configuration: the schema of DESIGN.md Section 9 (sections, keys, types,
 * defaults, allowed ranges), validation with located messages, --set overrides, and the
 * effective configuration printed back as TOML.
 *
 * The schema lives in one table (schema.c); the README's configuration reference is
 * checked against it by a test, so the two cannot drift apart.
 *
 * Everything here is Local: reading the file on rank 0 and broadcasting it is the
 * business of ps_config_load_collective (src/par).
 */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct ps_config {
    char *path; /* the configuration file as named on the command line */
    char *text; /* its full text, for the run metadata */
    size_t text_len;

    struct {
        char *file;    /* a Stan program (resolved path) or NULL */
        char *library; /* a BridgeStan-ABI shared library (resolved path) or NULL */
    } model;
    struct {
        char *file; /* resolved path or NULL */
    } data;
    struct {
        char *algorithm;
        int64_t chains;
        int64_t warmup;
        int64_t draws;
        int64_t seed;
        int64_t thin;
        double target_accept;
        int64_t max_treedepth;
        char *metric;
        double step_size;
        double step_size_jitter;
        double init_radius;
        double int_time;
        int64_t tune_interval;
        double de_lambda;
        double de_scaling;
        char *de_tune;
        int64_t de_exchange_every;
        double de_snooker;
    } sampler;
    struct {
        bool engaged;
        bool pooled;
        bool adaptive_warmup;
        int64_t min_warmup;
        int64_t init_buffer;
        int64_t term_buffer;
        int64_t window;
        double gamma;
        double kappa;
        double t0;
        double warmup_rhat_max;
        double warmup_ess_min;
    } adaptation;
    struct {
        int64_t check_every;
        double rhat_max;
        double ess_bulk_min;
        double ess_tail_min;
        bool stop_early;
        int64_t min_draws;
        int64_t max_draws;
    } convergence;
    struct {
        char *file; /* the trace (resolved path) */
        bool save_warmup;
        double flush_seconds;
        char *checkpoint; /* resolved path; defaults to the trace's path + ".ckpt" */
        double checkpoint_seconds;
    } output;
    struct {
        int64_t ranks_per_chain;
        int64_t threads;
    } parallel;

    /* Private: which schema entries were given explicitly (bit i = entry i), and where. */
    uint64_t given_[2];
    struct ps_config_site *site_;
} ps_config;

/* Kinds of values a key takes. */
typedef enum ps_config_kind {
    PS_CFG_INT,
    PS_CFG_FLOAT,
    PS_CFG_BOOL,
    PS_CFG_STRING,
    PS_CFG_PATH, /* a string naming a file, resolved against the config file's folder */
    PS_CFG_ENUM  /* a string from a fixed list */
} ps_config_kind;

/* One key of the schema (read-only; for the README test and the printer). */
typedef struct ps_config_key {
    const char *section;
    const char *key;
    ps_config_kind kind;
    size_t offset;            /* of the field in ps_config */
    const char *default_text; /* the default as TOML text, or NULL for "none" */
    double min, max;          /* allowed range for numbers (inclusive unless noted) */
    bool min_exclusive, max_exclusive;
    const char *const *values; /* for enums: NULL-terminated list */
    const char *doc;           /* one sentence for the README */
} ps_config_key;

/* The schema: n keys in the order they are documented and printed. */
const ps_config_key *ps_config_schema(size_t *n);

/*
 * Parses and validates a configuration from text (the file at path), applies overrides
 * ("section.key=value", as given to --set, in order), fills in defaults and checks the
 * keys against each other. Relative paths are resolved against the folder of path.
 * Errors (PS_ERR_CONFIG, located at the file/line/column or naming the --set argument)
 * are recorded; *out is NULL then. Does not touch the file system except to make paths
 * absolute. Local.
 */
ps_status ps_config_parse(const char *path, const char *text, size_t text_len,
                          const char *const *overrides, size_t n_overrides, ps_config **out);

/* The same, with relative paths made absolute against the folder cwd (rank 0's working
 * folder in a collective load) instead of this process's working folder. */
ps_status ps_config_parse_in(const char *path, const char *text, size_t text_len,
                             const char *const *overrides, size_t n_overrides, const char *cwd,
                             ps_config **out);

/* Frees a configuration; accepts NULL; sets *cfg to NULL. */
void ps_config_destroy(ps_config **cfg);

/* True when section.key was given in the file or by --set. */
bool ps_config_given(const ps_config *cfg, const char *section, const char *key);

/* Appends the effective configuration as TOML (every key, defaults filled in). */
void ps_config_write_toml(const ps_config *cfg, ps_strbuf *out);

/* Appends the configuration reference of the README (Markdown tables, one per section),
 * generated from the schema; a test checks that the README holds exactly this text. */
void ps_config_write_reference(ps_strbuf *out);

/*
 * Records an error about section.key located where the user set it: at the value in the
 * configuration file (FILE:LINE:COL, the line, a caret), or naming the --set argument, or
 * naming the file when the key took its default. Returns status. Local.
 */
ps_status ps_config_error_at_key(const ps_config *cfg, ps_status status, const char *section,
                                 const char *key, const char *fmt, ...) PS_PRINTF(5, 6);

/*
 * Checks what can be checked without loading anything: that the input files named by the
 * configuration exist and are readable, and that the folders of output files exist and
 * are writable. Records the first problem (PS_ERR_CONFIG naming the key and the path).
 * Local.
 */
ps_status ps_config_check_files(const ps_config *cfg);

#endif
