/* psample check: validation without sampling. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "par/par.h"
#include "run/run.h"

ps_status ps_run_load_model(const ps_config *cfg, unsigned int seed, ps_model **out)
{
    *out = NULL;
    const char *model_key = cfg->model.file ? "file" : "library";
    const char *model_path = cfg->model.file ? cfg->model.file : cfg->model.library;
    if (ps_fault_point("model_load"))
        return ps_config_error_at_key(cfg, PS_ERR_MODEL, "model", model_key,
                                      "cannot load model '%s': injected fault model_load (as if "
                                      "the file were missing on this node)",
                                      model_path);
    if (cfg->model.file != NULL) {
        /* Errors in the program or the data are located in those files already; only a
         * file that cannot be read points back at the configuration. */
        ps_status st = ps_model_stan_create(cfg->model.file, cfg->data.file, seed, out);
        if (st != PS_ERR_IO)
            return st;
        char message[4096];
        snprintf(message, sizeof message, "%s", ps_error_message());
        ps_error_clear();
        bool data = cfg->data.file != NULL && strstr(message, cfg->data.file) != NULL;
        return ps_config_error_at_key(cfg, st, data ? "data" : "model", "file", "%s", message);
    }
    ps_status st = ps_model_bridgestan_create(cfg->model.library,
                                              cfg->data.file ? cfg->data.file : "", seed, out);
    if (st == PS_OK)
        return PS_OK;
    /* Point at the configuration line that named the failing file. */
    char message[4096];
    snprintf(message, sizeof message, "%s", ps_error_message());
    ps_error_clear();
    const char *key = (st == PS_ERR_IO && cfg->data.file) ? "file" : "library";
    const char *section = strcmp(key, "file") == 0 ? "data" : "model";
    return ps_config_error_at_key(cfg, st, section, key, "%s", message);
}

ps_status ps_run_check_output(const ps_config *cfg, bool force)
{
    if (!force && access(cfg->output.file, F_OK) == 0)
        return ps_config_error_at_key(cfg, PS_ERR_CONFIG, "output", "file",
                                      "the trace %s already exists; psample does not overwrite "
                                      "a trace: pass --force to replace it, or set another "
                                      "output.file",
                                      cfg->output.file);
    return PS_OK;
}

ps_status ps_run_check(MPI_Comm comm, const ps_config *cfg, const ps_run_options *options)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* Files must be visible on every node, not only where rank 0 runs. */
    PS_CHECK(ps_comm_agree(comm, ps_config_check_files(cfg)));
    /* An existing trace is not an error here: check is also how a user inspects the
     * configuration of a finished or interrupted run before resuming it. Say what run
     * would do with it. */
    if (rank == 0 && !options->force && access(cfg->output.file, F_OK) == 0)
        fprintf(stderr,
                "%s: note: the trace %s already exists: 'psample run' refuses to overwrite it "
                "without --force; 'psample resume' continues it\n",
                cfg->path, cfg->output.file);
    /* The model must load and construct with the data on every rank. */
    ps_model *model = NULL;
    ps_status st = ps_comm_agree(
        comm, ps_run_load_model(cfg, (unsigned int)(cfg->sampler.seed & 0xffffffffu), &model));
    ps_model_destroy(&model);
    PS_CHECK(st);
    if (rank == 0) {
        ps_strbuf out;
        ps_strbuf_init(&out);
        ps_strbuf_printf(&out, "# psample %s: effective configuration of %s (%d rank%s)\n",
                         ps_version_string(), cfg->path, size, size == 1 ? "" : "s");
        ps_config_write_toml(cfg, &out);
        if (!out.failed)
            fputs(ps_strbuf_str(&out), stdout);
        ps_strbuf_fini(&out);
    }
    return PS_OK;
}
