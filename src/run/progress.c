/* The progress line on rank 0: refreshed in place on a terminal, plain lines every few
 * seconds otherwise (Slurm logs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/run_impl.h"

ps_status ps_run_progress_init(ps_run *run)
{
    run->progress_on = run->layout->rank == 0;
    run->tty = isatty(STDERR_FILENO) == 1;
    run->print_interval = run->tty ? 0.25 : 10.0;
    const char *env = getenv("PSAMPLE_PROGRESS_SECONDS");
    if (env && *env) {
        double s = strtod(env, NULL);
        if (s >= 0.0)
            run->print_interval = s;
    }
    run->last_print = ps_time_now();
    return PS_OK;
}

static void format_eta(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0)
        snprintf(buf, size, "?");
    else if (seconds < 60)
        snprintf(buf, size, "%.0fs", seconds);
    else if (seconds < 3600)
        snprintf(buf, size, "%.0fm%02.0fs", floor(seconds / 60), fmod(seconds, 60));
    else
        snprintf(buf, size, "%.0fh%02.0fm", floor(seconds / 3600), fmod(seconds / 60, 60));
}

static void print_line(ps_run *run, bool final)
{
    double now = ps_time_now();
    double elapsed = now - run->phase_start;
    /* Iterations per second of rank 0's first chain, scaled to all chains. */
    double per_chain = elapsed > 0 ? (double)run->phase_done / elapsed : 0.0;
    double all = per_chain * (double)run->layout->n_chains;
    char eta[32];
    format_eta(per_chain > 0 ? (double)(run->phase_total - run->phase_done) / per_chain : NAN, eta,
               sizeof eta);
    char line[256];
    int n = snprintf(line, sizeof line, "psample: %-8s %6lld/%lld | %8.0f it/s | %lld div",
                     run->progress_phase, (long long)run->phase_done, (long long)run->phase_total,
                     all, (long long)run->divergent_total);
    if (run->have_check && n > 0 && (size_t)n < sizeof line) {
        if (isnan(run->last_check.max_rhat))
            n += snprintf(line + n, sizeof line - (size_t)n, " | R-hat  n/a");
        else
            n += snprintf(line + n, sizeof line - (size_t)n, " | R-hat %.3f ESS %.0f/%.0f",
                          run->last_check.max_rhat, run->last_check.min_ess_bulk,
                          run->last_check.min_ess_tail);
    }
    if (n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " | ETA %s", final ? "0s" : eta);
    if (run->tty)
        fprintf(stderr, "\r\033[K%s", line);
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
    run->last_print = now;
}

void ps_run_progress_phase(ps_run *run, const char *phase, int64_t total)
{
    if (run->progress_phase != NULL && strcmp(run->progress_phase, phase) == 0) {
        run->phase_total = total; /* e.g. warmup shortened */
        return;
    }
    if (run->progress_on && run->progress_phase != NULL) {
        print_line(run, true);
        if (run->tty)
            fputc('\n', stderr);
    }
    run->progress_phase = phase;
    run->phase_total = total;
    run->phase_done = 0;
    run->phase_start = ps_time_now();
}

void ps_run_progress_tick(ps_run *run, size_t slot, int64_t n, bool sampling)
{
    (void)sampling;
    if (slot != 0 || !run->progress_on)
        return;
    run->phase_done += n;
    if (run->print_interval > 0 && ps_time_now() - run->last_print >= run->print_interval)
        print_line(run, false);
}

void ps_run_progress_sync(ps_run *run)
{
    if (run->progress_on && run->print_interval == 0)
        print_line(run, false);
}

void ps_run_progress_done(ps_run *run)
{
    if (run->progress_on && run->progress_phase != NULL) {
        print_line(run, true);
        if (run->tty)
            fputc('\n', stderr);
    }
    run->progress_phase = NULL;
}

void ps_run_progress_fini(ps_run *run)
{
    (void)run;
}
