/* The configuration schema: types, ranges, suggestions, overrides, defaults, printing. */
#include <unistd.h>

#include "config/config.h"
#include "testlib.h"

static const char *parse_error(const char *text, const char *const *ov, size_t n_ov)
{
    ps_config *cfg = NULL;
    ps_error_clear();
    ps_status st = ps_config_parse("dir/c.toml", text, strlen(text), ov, n_ov, &cfg);
    if (st == PS_OK) {
        ps_config_destroy(&cfg);
        return NULL;
    }
    CHECK(cfg == NULL, "failed parse must leave *out NULL");
    return ps_error_message();
}

#define CHECK_ERROR(text, ov, n_ov, want)                                                          \
    do {                                                                                           \
        const char *msg_ = parse_error((text), (ov), (n_ov));                                      \
        CHECK(msg_ != NULL && strstr(msg_, (want)) != NULL,                                        \
              "config:\n%s\nexpected an error containing\n  %s\ngot\n  %s", (text), (want),        \
              msg_ ? msg_ : "(no error)");                                                         \
    } while (0)

static const char *const model_line = "[model]\nlibrary = \"m.so\"\n";

/* A wrong-typed literal for each kind, and the words the message must contain. */
static void wrong_type(ps_config_kind kind, const char **literal, const char **words)
{
    switch (kind) {
    case PS_CFG_INT:
        *literal = "\"12\"";
        *words = "must be an integer, found a string";
        break;
    case PS_CFG_FLOAT:
        *literal = "true";
        *words = "must be a number, found a boolean";
        break;
    case PS_CFG_BOOL:
        *literal = "1";
        *words = "must be true or false, found an integer";
        break;
    case PS_CFG_PATH:
        *literal = "[1, 2]";
        *words = "must be a path (a string in quotes), found an array";
        break;
    default:
        *literal = "[1, 2]";
        *words = "must be a string in quotes, found an array";
        break;
    }
}

int main(void)
{
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");

    /* Defaults. */
    {
        ps_config *cfg = NULL;
        ps_status st = ps_config_parse("dir/c.toml", model_line, strlen(model_line), NULL, 0, &cfg);
        CHECK(st == PS_OK, "minimal config failed: %s", ps_error_message());
        if (cfg) {
            char want[4200];
            snprintf(want, sizeof want, "%s/dir/m.so", cwd);
            CHECK(strcmp(cfg->model.library, want) == 0, "library resolved to %s, expected %s",
                  cfg->model.library, want);
            CHECK(cfg->model.file == NULL && cfg->data.file == NULL, "unset paths stay NULL");
            CHECK(strcmp(cfg->sampler.algorithm, "nuts") == 0, "algorithm default");
            CHECK(cfg->sampler.chains == 4 && cfg->sampler.warmup == 1000 &&
                      cfg->sampler.draws == 1000 && cfg->sampler.thin == 1,
                  "sampler defaults");
            CHECK(cfg->sampler.target_accept == 0.8 && cfg->sampler.max_treedepth == 10,
                  "NUTS defaults");
            CHECK(strcmp(cfg->sampler.metric, "diag") == 0, "metric default");
            CHECK(cfg->adaptation.pooled, "pooled defaults to true with 4 chains");
            CHECK(cfg->adaptation.init_buffer == 75 && cfg->adaptation.term_buffer == 50 &&
                      cfg->adaptation.window == 25,
                  "Stan's window defaults");
            CHECK(cfg->adaptation.gamma == 0.05 && cfg->adaptation.kappa == 0.75 &&
                      cfg->adaptation.t0 == 10,
                  "dual averaging defaults");
            CHECK(cfg->convergence.rhat_max == 1.01 && cfg->convergence.ess_bulk_min == 400 &&
                      cfg->convergence.check_every == 100 && !cfg->convergence.stop_early,
                  "convergence defaults");
            CHECK(cfg->parallel.threads == 1 && cfg->parallel.ranks_per_chain == 1,
                  "parallel defaults");
            CHECK(!ps_config_given(cfg, "sampler", "seed"), "seed not given");
            CHECK(ps_config_given(cfg, "model", "library"), "library given");
        }
        ps_config_destroy(&cfg);
        CHECK(cfg == NULL, "destroy clears the handle");
        ps_config_destroy(&cfg);
    }
    /* One chain: pooling is off unless asked for. */
    {
        const char *t = "[model]\nlibrary = \"m.so\"\n[sampler]\nchains = 1\n";
        ps_config *cfg = NULL;
        CHECK(ps_config_parse("c.toml", t, strlen(t), NULL, 0, &cfg) == PS_OK, "one chain");
        CHECK(cfg && !cfg->adaptation.pooled, "pooled defaults to false with 1 chain");
        ps_config_destroy(&cfg);
    }

    /* Every key: a wrong type is an error located at the value (line 3, after "key = "). */
    size_t n_keys = 0;
    const ps_config_key *keys = ps_config_schema(&n_keys);
    CHECK(n_keys > 30, "schema has %zu keys", n_keys);
    for (size_t i = 0; i < n_keys; i++) {
        const ps_config_key *k = &keys[i];
        const char *literal, *words;
        wrong_type(k->kind, &literal, &words);
        char text[512], want[256];
        if (strcmp(k->section, "model") == 0)
            snprintf(text, sizeof text, "[model]\n\n%s = %s\n", k->key, literal);
        else
            snprintf(text, sizeof text, "%s[%s]\n%s = %s\n", model_line, k->section, k->key,
                     literal);
        size_t line = strcmp(k->section, "model") == 0 ? 3 : 4;
        snprintf(want, sizeof want, "dir/c.toml:%zu:%zu: error: '%s.%s' %s", line,
                 strlen(k->key) + 4, k->section, k->key, words);
        CHECK_ERROR(text, NULL, 0, want);
    }

    /* Every numeric key: a value just outside its range is an error naming the range. */
    for (size_t i = 0; i < n_keys; i++) {
        const ps_config_key *k = &keys[i];
        if (k->kind != PS_CFG_INT && k->kind != PS_CFG_FLOAT)
            continue;
        char text[512], want[256], value[64];
        double below = k->min_exclusive ? k->min : k->min - 1;
        if (k->kind == PS_CFG_INT)
            snprintf(value, sizeof value, "%.0f", below);
        else
            snprintf(value, sizeof value, "%.17g", below);
        if (k->kind == PS_CFG_FLOAT && strpbrk(value, ".e") == NULL)
            strcat(value, ".0");
        snprintf(text, sizeof text, "%s[%s]\n%s = %s\n", model_line, k->section, k->key, value);
        snprintf(want, sizeof want, "dir/c.toml:4:%zu: error: '%s.%s' must be", strlen(k->key) + 4,
                 k->section, k->key);
        CHECK_ERROR(text, NULL, 0, want);
        if (k->max < 1e17 && k->min != k->max) {
            double above = k->max_exclusive ? k->max : k->max + 1;
            if (k->kind == PS_CFG_INT)
                snprintf(value, sizeof value, "%.0f", above);
            else
                snprintf(value, sizeof value, "%.17g", above);
            if (k->kind == PS_CFG_FLOAT && strpbrk(value, ".e") == NULL)
                strcat(value, ".0");
            snprintf(text, sizeof text, "%s[%s]\n%s = %s\n", model_line, k->section, k->key, value);
            CHECK_ERROR(text, NULL, 0, want);
        }
    }

    /* Specific messages. */
    char t[1024];
    snprintf(t, sizeof t, "%s[sampler]\nchains = 0\n", model_line);
    CHECK_ERROR(t, NULL, 0, "dir/c.toml:4:10: error: 'sampler.chains' must be from 1 and");
    snprintf(t, sizeof t, "%s[sampler]\nchains = 4.0\n", model_line);
    CHECK_ERROR(t, NULL, 0, "'sampler.chains' must be an integer, found the float 4");
    snprintf(t, sizeof t, "%s[sampler]\ntarget_accept = 1.0\n", model_line);
    CHECK_ERROR(t, NULL, 0,
                "'sampler.target_accept' must be between 0.0 (exclusive) and 1.0 "
                "(exclusive), found 1.0");
    snprintf(t, sizeof t, "%s[sampler]\ndraw = 10\n", model_line);
    CHECK_ERROR(t, NULL, 0,
                "dir/c.toml:4:1: error: unknown key 'draw' in [sampler] (did you mean 'draws'?)");
    snprintf(t, sizeof t, "%s[sampler]\npooled = true\n", model_line);
    CHECK_ERROR(t, NULL, 0, "unknown key 'pooled' in [sampler] ('pooled' belongs in [adaptation])");
    snprintf(t, sizeof t, "%s[samplr]\nchains = 2\n", model_line);
    CHECK_ERROR(t, NULL, 0,
                "dir/c.toml:3:2: error: unknown section [samplr] (did you mean 'sampler'?)");
    snprintf(t, sizeof t, "chains = 2\n%s", model_line);
    CHECK_ERROR(t, NULL, 0,
                "dir/c.toml:1:1: error: unknown key 'chains' outside any section ('chains' "
                "belongs in [sampler])");
    snprintf(t, sizeof t, "%s[sampler]\nmetric = \"dens\"\n", model_line);
    CHECK_ERROR(t, NULL, 0,
                "'sampler.metric' must be one of \"unit\", \"diag\", \"dense\", found \"dens\" "
                "(did you mean 'dense'?)");
    snprintf(t, sizeof t, "%s[sampler.nuts]\ndepth = 3\n", model_line);
    CHECK_ERROR(t, NULL, 0, "unknown key 'nuts' in [sampler]");
    snprintf(t, sizeof t, "sampler = 3\n%s", model_line);
    CHECK_ERROR(t, NULL, 0,
                "dir/c.toml:1:1: error: 'sampler' must be a section ([sampler]), found an integer");
    /* After a header, a bare key belongs to that section. */
    snprintf(t, sizeof t, "%ssampler = 3\n", model_line);
    CHECK_ERROR(t, NULL, 0, "unknown key 'sampler' in [model]");
    CHECK_ERROR("[data]\nfile = \"d.json\"\n", NULL, 0,
                "no model: set [model] file = \"model.stan\" or [model] library = \"model.so\"");
    CHECK_ERROR("[model]\nlibrary = \"m.so\"\nfile = \"m.stan\"\n", NULL, 0,
                "[model] takes either 'file' or 'library', not both");
    CHECK_ERROR("[model]\nlibrary = \"\"\n", NULL, 0, "'model.library' must name a file");
    snprintf(t, sizeof t, "%s[sampler]\nalgorithm = \"metropolis\"\nmetric = \"dense\"\n",
             model_line);
    CHECK_ERROR(t, NULL, 0,
                "dir/c.toml:5:10: error: 'sampler.metric' = \"dense\" is not "
                "supported by the metropolis algorithm");
    snprintf(t, sizeof t,
             "%s[sampler]\nwarmup = 100\n[adaptation]\nadaptive_warmup = true\nmin_warmup = 200\n",
             model_line);
    CHECK_ERROR(t, NULL, 0, "'adaptation.min_warmup' (200) exceeds 'sampler.warmup' (100)");
    snprintf(t, sizeof t, "%s[parallel]\nranks_per_chain = 2\n", model_line);
    CHECK_ERROR(t, NULL, 0, "'parallel.ranks_per_chain' must be 1 in this version, found 2");
    /* A TOML syntax error is reported by the decoder, located. */
    CHECK_ERROR("[model]\nlibrary = \"m.so\n", NULL, 0, "dir/c.toml:2:");
    /* Duplicate keys are TOML errors too. */
    snprintf(t, sizeof t, "%s[sampler]\nchains = 2\nchains = 3\n", model_line);
    CHECK_ERROR(t, NULL, 0, "dir/c.toml:5:");

    /* Overrides. */
    {
        const char *ov[] = {"sampler.draws=2000", "sampler.metric=dense", "model.library=other.so",
                            "adaptation.pooled=false", "sampler.target_accept=0.9"};
        ps_config *cfg = NULL;
        ps_status st = ps_config_parse("dir/c.toml", model_line, strlen(model_line), ov, 5, &cfg);
        CHECK(st == PS_OK, "overrides failed: %s", ps_error_message());
        if (cfg) {
            char want[4200];
            snprintf(want, sizeof want, "%s/other.so", cwd);
            CHECK(cfg->sampler.draws == 2000, "draws overridden");
            CHECK(strcmp(cfg->sampler.metric, "dense") == 0, "unquoted string override");
            CHECK(strcmp(cfg->model.library, want) == 0,
                  "command-line path resolves against the working folder: %s", cfg->model.library);
            CHECK(!cfg->adaptation.pooled, "bool override");
            CHECK(cfg->sampler.target_accept == 0.9, "float override");
            CHECK(ps_config_given(cfg, "sampler", "draws"), "override counts as given");
        }
        ps_config_destroy(&cfg);
    }
    {
        const char *ov[] = {"sampler.draws=abc"};
        CHECK_ERROR(model_line, ov, 1,
                    "--set sampler.draws=abc: error: 'sampler.draws' must be an integer");
        const char *ov2[] = {"sampler.drawz=5"};
        CHECK_ERROR(model_line, ov2, 1, "unknown key 'drawz' in [sampler] (did you mean 'draws'?)");
        const char *ov3[] = {"draws=5"};
        CHECK_ERROR(model_line, ov3, 1, "expected section.key=value");
        const char *ov4[] = {"sampler.chains=-3"};
        CHECK_ERROR(model_line, ov4, 1, "--set sampler.chains=-3: error: 'sampler.chains' must be");
        const char *ov5[] = {"sampler.metric=\"diag"};
        CHECK_ERROR(model_line, ov5, 1, "must be one of");
        /* Overrides are checked by the same cross-key rules, located at the --set. */
        const char *ov6[] = {"sampler.algorithm=metropolis", "sampler.metric=dense"};
        CHECK_ERROR(model_line, ov6, 2, "--set sampler.metric=dense: error: 'sampler.metric'");
    }

    /* The printed effective configuration reads back to the same configuration. */
    {
        const char *text = "[model]\nlibrary = \"a \\\"q\\\" b.so\"\n[data]\nfile = \"d.json\"\n"
                           "[sampler]\nchains = 7\nseed = 2385\ntarget_accept = 0.95\n"
                           "metric = \"dense\"\n[convergence]\nrhat_max = 1.005\n";
        ps_config *a = NULL, *b = NULL;
        CHECK(ps_config_parse("c.toml", text, strlen(text), NULL, 0, &a) == PS_OK, "parse: %s",
              ps_error_message());
        ps_strbuf sb;
        ps_strbuf_init(&sb);
        if (a)
            ps_config_write_toml(a, &sb);
        CHECK(
            ps_config_parse("/elsewhere/e.toml", ps_strbuf_str(&sb), sb.len, NULL, 0, &b) == PS_OK,
            "printed configuration does not parse: %s\n%s", ps_error_message(), ps_strbuf_str(&sb));
        if (a && b) {
            for (size_t i = 0; i < n_keys; i++) {
                const ps_config_key *k = &keys[i];
                const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;
                bool same;
                switch (k->kind) {
                case PS_CFG_INT:
                    same = *(const int64_t *)pa == *(const int64_t *)pb;
                    break;
                case PS_CFG_FLOAT:
                    same = *(const double *)pa == *(const double *)pb;
                    break;
                case PS_CFG_BOOL:
                    same = *(const bool *)pa == *(const bool *)pb;
                    break;
                default: {
                    const char *sa = *(char *const *)pa, *sb2 = *(char *const *)pb;
                    same = (sa == NULL && sb2 == NULL) ||
                           (sa != NULL && sb2 != NULL && strcmp(sa, sb2) == 0);
                }
                }
                CHECK(same, "%s.%s differs after printing and reading back", k->section, k->key);
            }
        }
        ps_strbuf_fini(&sb);
        ps_config_destroy(&a);
        ps_config_destroy(&b);
    }

    /* Errors located at a key, for other modules. */
    {
        const char *text = "[model]\n  library = \"m.so\"\n";
        ps_config *cfg = NULL;
        CHECK(ps_config_parse("c.toml", text, strlen(text), NULL, 0, &cfg) == PS_OK, "parse");
        ps_error_clear();
        if (cfg)
            ps_config_error_at_key(cfg, PS_ERR_MODEL, "model", "library", "cannot load %s", "x");
        CHECK_STR_CONTAINS(ps_error_message(),
                           "c.toml:2:13: error: cannot load x\n      library = \"m.so\"\n"
                           "                ^");
        ps_error_clear();
        if (cfg)
            ps_config_error_at_key(cfg, PS_ERR_CONFIG, "sampler", "chains", "too many");
        CHECK_STR_CONTAINS(ps_error_message(), "c.toml: error: too many");
        ps_error_clear();
        ps_config_destroy(&cfg);
    }

    /* Every allocation failure is survived (run under ASan in CI for leaks). */
    {
        const char *text = "[model]\nlibrary = \"m.so\"\n[sampler]\nchains = 8\n";
        const char *ov[] = {"sampler.metric=dense"};
        int failures_seen = 0;
        for (long n = 1; n < 400; n++) {
            ps_config *cfg = NULL;
            ps_error_clear();
            ps_fault_alloc_after(n);
            ps_status st = ps_config_parse("c.toml", text, strlen(text), ov, 1, &cfg);
            ps_fault_alloc_after(0);
            if (st == PS_OK) {
                CHECK(cfg != NULL && cfg->sampler.chains == 8, "parse after fault %ld", n);
                ps_config_destroy(&cfg);
                break;
            }
            failures_seen++;
            CHECK(st == PS_ERR_MEM && cfg == NULL, "fault %ld gave status %d (%s)", n, (int)st,
                  ps_error_message());
        }
        CHECK(failures_seen > 5, "only %d allocations were failed", failures_seen);
        ps_error_clear();
    }
    TEST_EXIT();
}
