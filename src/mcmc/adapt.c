/*
 * Step-size and warmup-schedule adaptation as Stan does it: dual averaging of the log step
 * size (Hoffman and Gelman 2014, "The No-U-Turn Sampler", Sec. 3.2, Alg. 5/6, after
 * Nesterov 2009) and the windowed schedule of the Stan Reference Manual ("HMC algorithm
 * parameters: automatic parameter tuning").
 */
#include <math.h>
#include <stdio.h>

#include "mcmc/mcmc_impl.h"

void ps_dual_averaging_init(ps_dual_averaging *da, double delta, double gamma, double t0,
                            double kappa)
{
    da->delta = delta;
    da->gamma = gamma;
    da->t0 = t0;
    da->kappa = kappa;
    da->mu = log(10.0);
    ps_dual_averaging_restart(da);
}

void ps_dual_averaging_restart(ps_dual_averaging *da)
{
    da->counter = 0.0;
    da->s_bar = 0.0;
    da->x_bar = 0.0;
}

void ps_dual_averaging_set_mu(ps_dual_averaging *da, double step_size)
{
    da->mu = log(10.0 * step_size);
}

double ps_dual_averaging_learn(ps_dual_averaging *da, double accept_stat)
{
    da->counter += 1.0;
    if (accept_stat > 1.0)
        accept_stat = 1.0;
    /* H_bar_t = (1 - 1/(t + t0)) H_bar_{t-1} + (delta - alpha_t) / (t + t0). */
    double eta = 1.0 / (da->counter + da->t0);
    da->s_bar = (1.0 - eta) * da->s_bar + eta * (da->delta - accept_stat);
    /* x_t = mu - sqrt(t) / gamma H_bar_t; x_bar_t = t^-kappa x_t + (1 - t^-kappa) x_bar. */
    double x = da->mu - da->s_bar * sqrt(da->counter) / da->gamma;
    double x_eta = pow(da->counter, -da->kappa);
    da->x_bar = x_eta * x + (1.0 - x_eta) * da->x_bar;
    return exp(x);
}

double ps_dual_averaging_final(const ps_dual_averaging *da)
{
    return exp(da->x_bar);
}

void ps_window_schedule_init(ps_window_schedule *ws, int64_t num_warmup, int64_t init_buffer,
                             int64_t term_buffer, int64_t base_window, char *warning,
                             size_t warning_size)
{
    if (warning && warning_size > 0)
        warning[0] = '\0';
    ws->num_warmup = num_warmup < 0 ? 0 : num_warmup;
    ws->counter = 0;
    ws->active = true;
    if (ws->num_warmup < 20) {
        /* Stan: "No variance estimation is performed for num_warmup < 20". */
        ws->active = false;
        ws->init_buffer = ws->term_buffer = ws->base_window = 0;
        ws->window_size = 0;
        ws->next_end = -1;
        if (warning && ws->num_warmup > 0)
            snprintf(warning, warning_size,
                     "no metric adaptation is performed for warmup < 20 iterations (warmup "
                     "is %lld); only the step size is adapted",
                     (long long)ws->num_warmup);
        return;
    }
    if (init_buffer + base_window + term_buffer > ws->num_warmup) {
        /* Stan's fallback: 15% / 75% / 10% of the warmup, truncated like its unsigned
         * conversion of 0.15 w and 0.1 w. */
        ws->init_buffer = (int64_t)(0.15 * (double)ws->num_warmup);
        ws->term_buffer = (int64_t)(0.1 * (double)ws->num_warmup);
        ws->base_window = ws->num_warmup - (ws->init_buffer + ws->term_buffer);
        if (warning)
            snprintf(warning, warning_size,
                     "warmup of %lld iterations is too short for the adaptation stages as "
                     "configured (init buffer %lld + window %lld + term buffer %lld); using "
                     "15%%/75%%/10%%: init buffer %lld, window %lld, term buffer %lld",
                     (long long)ws->num_warmup, (long long)init_buffer, (long long)base_window,
                     (long long)term_buffer, (long long)ws->init_buffer, (long long)ws->base_window,
                     (long long)ws->term_buffer);
    } else {
        ws->init_buffer = init_buffer;
        ws->term_buffer = term_buffer;
        ws->base_window = base_window;
    }
    ws->window_size = ws->base_window;
    ws->next_end = ws->init_buffer + ws->window_size - 1;
}

bool ps_window_schedule_in_window(const ps_window_schedule *ws)
{
    return ws->active && ws->counter >= ws->init_buffer &&
           ws->counter < ws->num_warmup - ws->term_buffer && ws->counter != ws->num_warmup;
}

bool ps_window_schedule_window_end(const ps_window_schedule *ws)
{
    return ws->active && ws->counter == ws->next_end && ws->counter != ws->num_warmup;
}

/* Stan's compute_next_window: the next window doubles; if the one after it would not fit
 * before the term buffer, the next window is stretched to the term buffer. */
static void compute_next_window(ps_window_schedule *ws)
{
    int64_t last = ws->num_warmup - ws->term_buffer - 1;
    if (ws->next_end == last)
        return;
    ws->window_size *= 2;
    ws->next_end = ws->counter + ws->window_size;
    if (ws->next_end == last)
        return;
    int64_t next_boundary = ws->next_end + 2 * ws->window_size;
    if (next_boundary >= ws->num_warmup - ws->term_buffer)
        ws->next_end = last;
}

void ps_window_schedule_advance(ps_window_schedule *ws)
{
    if (ps_window_schedule_window_end(ws))
        compute_next_window(ws);
    ws->counter++;
}
