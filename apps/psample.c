/*
 * The psample command line.
 *
 *   psample [run] CONFIG [--set section.key=value]...
 *   psample check CONFIG [--set section.key=value]...
 *   psample --help | --version
 *
 * Under MPI every rank parses the same arguments, only rank 0 prints, and every rank
 * ends with the same exit status (README: exit codes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "config/config.h"
#include "core/core.h"
#include "par/par.h"
#include "run/run.h"
#include "run/run_impl.h"

static const char usage_text[] =
    "usage: psample [run] CONFIG [--set section.key=value]... [--force] [--report FILE]\n"
    "       psample check CONFIG [--set section.key=value]... [--force]\n"
    "       psample resume CONFIG [--set section.key=value]... [--report FILE]\n"
    "       psample summary TRACE\n"
    "       psample --help | --version\n"
    "\n"
    "Runs Markov chain Monte Carlo for the model and data named in CONFIG (a TOML file),\n"
    "with the chains spread over the MPI ranks: mpirun -n 4 psample config.toml\n"
    "\n"
    "commands:\n"
    "  run      sample (the default when the first argument is a file)\n"
    "  check    validate CONFIG, the files it names, the model and the data without\n"
    "           sampling, and print the effective configuration with defaults filled in\n"
    "  resume   continue a run that stopped at a signal (or crashed) from its checkpoint\n"
    "           (output.checkpoint), on any number of ranks; the draws are the same as\n"
    "           those of a run that was never interrupted\n"
    "  summary  print the summary table of a trace file (no MPI needed)\n"
    "\n"
    "options:\n"
    "  --set section.key=value   override a key of CONFIG (repeatable), e.g.\n"
    "                            --set sampler.draws=2000 --set sampler.seed=7\n"
    "  --force                   replace the trace (output.file) if it exists\n"
    "  --report FILE             run: also write a JSON report of the run (timings,\n"
    "                            gradient evaluations, ESS, divergences, memory)\n"
    "  -h, --help                print this help and exit\n"
    "  --version                 print the version and exit\n"
    "\n"
    "exit status: 0 success, 1 usage or input error (command line, configuration, model,\n"
    "data), 2 runtime failure, 3 stopped by a signal after writing a checkpoint.\n"
    "The configuration keys are documented in the README.\n";

typedef enum command {
    CMD_NONE,
    CMD_RUN,
    CMD_CHECK,
    CMD_RESUME,
    CMD_SUMMARY,
    CMD_HELP,
    CMD_VERSION
} command;

typedef struct cli {
    command cmd;
    const char *config_path;
    const char **overrides;
    size_t n_overrides;
    const char *report_path;
    bool force;
} cli;

/* Parses argv; the same on every rank, so no communication is needed to agree. */
static ps_status parse_args(int argc, char **argv, cli *c)
{
    int i = 1;
    c->cmd = CMD_NONE;
    if (i < argc) {
        if (strcmp(argv[i], "run") == 0) {
            c->cmd = CMD_RUN;
            i++;
        } else if (strcmp(argv[i], "check") == 0) {
            c->cmd = CMD_CHECK;
            i++;
        } else if (strcmp(argv[i], "resume") == 0) {
            c->cmd = CMD_RESUME;
            i++;
        } else if (strcmp(argv[i], "summary") == 0) {
            c->cmd = CMD_SUMMARY;
            i++;
        }
    }
    PS_CHECK(ps_alloc_array(&c->overrides, (size_t)argc, sizeof(char *), "arguments"));
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            c->cmd = CMD_HELP;
            return PS_OK;
        }
        if (strcmp(a, "--version") == 0) {
            c->cmd = CMD_VERSION;
            return PS_OK;
        }
        if (strcmp(a, "--set") == 0) {
            if (i + 1 >= argc)
                return ps_error(PS_ERR_USAGE, "--set needs an argument: --set section.key=value");
            c->overrides[c->n_overrides++] = argv[++i];
            continue;
        }
        if (strcmp(a, "--force") == 0) {
            c->force = true;
            continue;
        }
        if (strcmp(a, "--report") == 0) {
            if (i + 1 >= argc)
                return ps_error(PS_ERR_USAGE, "--report needs a file name: --report run.json");
            c->report_path = argv[++i];
            continue;
        }
        if (strncmp(a, "--set=", 6) == 0) {
            c->overrides[c->n_overrides++] = a + 6;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0')
            return ps_error(PS_ERR_USAGE, "unknown option '%s'", a);
        if (c->config_path != NULL) {
            if (c->cmd == CMD_NONE && c->config_path != NULL)
                return ps_error(PS_ERR_USAGE, "unknown command '%s' (commands: run, check, resume)",
                                c->config_path);
            return ps_error(PS_ERR_USAGE, "unexpected argument '%s' after CONFIG", a);
        }
        c->config_path = a;
    }
    if (c->cmd == CMD_NONE)
        c->cmd = CMD_RUN;
    if (c->config_path == NULL)
        return ps_error(PS_ERR_USAGE, c->cmd == CMD_SUMMARY ? "no trace file given"
                                                            : "no configuration file given");
    return PS_OK;
}

/* Prints the agreed error on rank 0: located messages ("FILE:L:C: error: ...") as they
 * are, others after "psample: error: ". */
static void print_error(int rank, ps_status status)
{
    if (rank != 0)
        return;
    const char *msg = ps_error_message();
    if (msg[0] == '\0')
        msg = ps_status_name(status);
    const char *nl = strchr(msg, '\n');
    const char *tag = strstr(msg, ": error: ");
    if (tag != NULL && (nl == NULL || tag < nl))
        fprintf(stderr, "%s\n", msg);
    else
        fprintf(stderr, "psample: error: %s\n", msg);
    if (status == PS_ERR_USAGE)
        fprintf(stderr, "Run 'psample --help' for usage.\n");
}

/* Started without a launcher (no mpirun, srun or other PMI), psample is an MPI singleton:
 * one process that talks to no other. Open MPI's default point-to-point layer (UCX) then
 * still probes every network device in MPI_Init, which takes about 0.2 s of a 0.3 s
 * start-up on a small machine; its ob1 layer starts in 0.1 s and is all a singleton
 * needs. Only then, and only when the user has not chosen a layer, ask for ob1. Under a
 * launcher nothing changes: the site's choice (UCX on InfiniBand) stands. */
static void choose_singleton_transport(void)
{
    static const char *const launched[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                           "PMI_SIZE", "SLURM_STEP_ID"};
    for (size_t i = 0; i < sizeof launched / sizeof launched[0]; i++)
        if (getenv(launched[i]) != NULL)
            return;
    if (getenv("OMPI_MCA_pml") == NULL)
        setenv("OMPI_MCA_pml", "ob1", 0);
}

int main(int argc, char **argv)
{
    /* psample summary reads a file: no MPI. */
    {
        cli pre = {CMD_NONE, NULL, NULL, 0, NULL, false};
        ps_status pst = parse_args(argc, argv, &pre);
        if (pst == PS_OK && pre.cmd == CMD_SUMMARY) {
            if (pre.n_overrides > 0)
                pst = ps_error(PS_ERR_USAGE, "summary takes no --set");
            else
                pst = ps_run_summary_file(pre.config_path);
            if (pst != PS_OK)
                print_error(0, pst);
            ps_free(pre.overrides);
            return ps_status_exit_code(pst);
        }
        /* A run or resume checkpoints on SIGTERM/SIGINT/SIGUSR1: catch them from the
         * start, before MPI starts up, so that an early signal is not fatal. */
        if (pst == PS_OK && (pre.cmd == CMD_RUN || pre.cmd == CMD_RESUME || pre.cmd == CMD_NONE))
            ps_run_catch_signals();
        ps_free(pre.overrides);
        ps_error_clear();
    }
    choose_singleton_transport();
    /* Chains run on OpenMP threads; only the master thread calls MPI. */
    int provided = MPI_THREAD_SINGLE;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ps_fault_set_rank(rank);
    if (rank != 0)
        ps_log_set_enabled(false);

    cli c = {CMD_NONE, NULL, NULL, 0, NULL, false};
    ps_config *cfg = NULL;
    bool stopped = false;
    ps_status st = parse_args(argc, argv, &c);
    if (st == PS_OK && c.cmd == CMD_HELP) {
        if (rank == 0)
            fputs(usage_text, stdout);
    } else if (st == PS_OK && c.cmd == CMD_VERSION) {
        if (rank == 0)
            printf("psample %s\n", ps_version_string());
    } else if (st == PS_OK) {
        st = ps_config_load_collective(MPI_COMM_WORLD, c.config_path, c.overrides, c.n_overrides,
                                       &cfg);
        ps_run_options options = {c.report_path, c.force, c.cmd == CMD_RESUME, false};
        if (st == PS_OK && c.cmd == CMD_CHECK)
            st = ps_run_check(MPI_COMM_WORLD, cfg, &options);
        else if (st == PS_OK)
            st = ps_run_sample(MPI_COMM_WORLD, cfg, &options);
        stopped = st == PS_OK && options.stopped_by_signal;
    }
    if (st != PS_OK)
        print_error(rank, st);
    int code = stopped ? PS_EXIT_CHECKPOINTED : ps_status_exit_code(st);
    ps_config_destroy(&cfg);
    ps_free(c.overrides);
    fflush(stdout);
    fflush(stderr);
    MPI_Finalize();
    return code;
}
