/*
 * The No-U-Turn sampler as Stan's base_nuts implements it (Betancourt 2017, "A conceptual
 * introduction to Hamiltonian Monte Carlo", Appendix A; Hoffman and Gelman 2014):
 *   - multinomial sampling of the trajectory's states with weights exp(-H);
 *   - biased progressive sampling when a new subtree joins the trajectory at the top
 *     level (accept the subtree's proposal with probability min(1, w_new / w_old)) and
 *     uniform progressive sampling inside subtrees (w_final / (w_init + w_final));
 *   - the generalised no-U-turn criterion on p_sharp = inv_metric p and rho = sum of the
 *     momenta (Betancourt 2017, A.4.2), checked across each merged tree and, as Stan
 *     does since 2.26, across the two merged subtrees extended by one state of the other;
 *   - a random direction per doubling, a maximum tree depth, and divergence when
 *     H - H0 > max_delta_h (a NaN energy or a model failure counts as +inf).
 * The acceptance statistic is the mean of min(1, exp(H0 - H)) over all leapfrog steps.
 *
 * Every buffer is allocated in setup: a block of vectors for the two trajectory ends, the
 * momenta at the ends of the subtrees, and one set per tree level for the recursion.
 * Proposals are held in a pool of (position, gradient) slots that are swapped by pointer,
 * never copied, when a subtree's proposal is accepted.
 */
#include <math.h>
#include <string.h>

#include "mcmc/mcmc_impl.h"

typedef struct nuts_sample {
    double *q, *grad;
    double lp, h;
} nuts_sample;

typedef struct nuts_level {
    double *p_init_end, *p_sharp_init_end, *rho_init;
    double *p_final_beg, *p_sharp_final_beg, *rho_final;
    nuts_sample *propose_final;
} nuts_level;

typedef struct nuts_state {
    size_t dim;
    int max_depth;
    double *block;
    nuts_sample *pool;
    nuts_level *levels; /* levels[d] serves build_tree at depth d >= 1 */
    ps_phase_point z_fwd, z_bck;
    double *p_fwd_fwd, *p_sharp_fwd_fwd, *p_fwd_bck, *p_sharp_fwd_bck;
    double *p_bck_fwd, *p_sharp_bck_fwd, *p_bck_bck, *p_sharp_bck_bck;
    double *rho, *rho_fwd, *rho_bck;
    nuts_sample *z_sample, *z_propose;
    /* Per transition. */
    double eps, h0, max_delta_h, sum_metro_prob;
    int64_t n_leapfrog;
    bool divergent;
} nuts_state;

static void nuts_destroy(void *state)
{
    nuts_state *s = state;
    if (s == NULL)
        return;
    ps_free(s->block);
    ps_free(s->pool);
    ps_free(s->levels);
    ps_free(s);
}

static ps_status nuts_setup(ps_chain *chain, void **out)
{
    ps_status status = PS_OK;
    size_t dim = chain->dim;
    int max_depth = chain->settings.max_treedepth;
    size_t n_samples = (size_t)max_depth + 1;
    nuts_state *s = ps_calloc(1, sizeof *s);
    if (s == NULL)
        return ps_error(PS_ERR_MEM, "out of memory creating the NUTS workspace");
    s->dim = dim;
    s->max_depth = max_depth;
    /* Vectors: 8 for the ends, 8 momenta, 3 rho, 6 per level, 2 per pool slot. */
    size_t n_vectors = 8 + 8 + 3 + 6 * (size_t)max_depth + 2 * n_samples;
    size_t n_doubles = 0;
    if (!ps_size_mul(n_vectors, dim > 0 ? dim : 1, &n_doubles)) {
        status = ps_error(PS_ERR_MEM, "NUTS workspace for dimension %zu is too large", dim);
        goto done;
    }
    PS_TRY(ps_alloc_array(&s->block, n_doubles, sizeof(double), "NUTS workspace"));
    PS_TRY(ps_alloc_array(&s->pool, n_samples, sizeof(nuts_sample), "NUTS workspace"));
    PS_TRY(ps_alloc_array(&s->levels, (size_t)max_depth, sizeof(nuts_level), "NUTS workspace"));
    size_t stride = dim > 0 ? dim : 1;
    double *next = s->block;
#define TAKE() (next += stride, next - stride)
    s->z_fwd.q = TAKE();
    s->z_fwd.p = TAKE();
    s->z_fwd.p_sharp = TAKE();
    s->z_fwd.grad = TAKE();
    s->z_bck.q = TAKE();
    s->z_bck.p = TAKE();
    s->z_bck.p_sharp = TAKE();
    s->z_bck.grad = TAKE();
    s->p_fwd_fwd = TAKE();
    s->p_sharp_fwd_fwd = TAKE();
    s->p_fwd_bck = TAKE();
    s->p_sharp_fwd_bck = TAKE();
    s->p_bck_fwd = TAKE();
    s->p_sharp_bck_fwd = TAKE();
    s->p_bck_bck = TAKE();
    s->p_sharp_bck_bck = TAKE();
    s->rho = TAKE();
    s->rho_fwd = TAKE();
    s->rho_bck = TAKE();
    for (int d = 0; d < max_depth; d++) {
        nuts_level *level = &s->levels[d];
        level->p_init_end = TAKE();
        level->p_sharp_init_end = TAKE();
        level->rho_init = TAKE();
        level->p_final_beg = TAKE();
        level->p_sharp_final_beg = TAKE();
        level->rho_final = TAKE();
    }
    for (size_t k = 0; k < n_samples; k++) {
        s->pool[k].q = TAKE();
        s->pool[k].grad = TAKE();
    }
#undef TAKE
    s->z_sample = &s->pool[0];
    s->z_propose = &s->pool[1];
    for (int d = 1; d < max_depth; d++)
        s->levels[d].propose_final = &s->pool[d + 1];
    *out = s;
    return PS_OK;
done:
    nuts_destroy(s);
    return status;
}

static void swap_samples(nuts_sample **a, nuts_sample **b)
{
    nuts_sample *t = *a;
    *a = *b;
    *b = t;
}

bool ps_nuts_merge_criterion(size_t dim, const double *rho_a, const double *rho_b,
                             const double *p_a_in, const double *p_sharp_a_out,
                             const double *p_sharp_a_in, const double *p_b_in,
                             const double *p_sharp_b_in, const double *p_sharp_b_out,
                             double *rho_sum)
{
    /* One pass over the vectors for the three checks of Stan's base_nuts (the merged tree,
     * then "satisfaction between subtrees" in both directions). Each of the six dot
     * products keeps two partial sums, of the even and of the odd elements, in the lanes of
     * a two-double vector (GCC/Clang vector extension): the order of the additions is
     * fixed, so results do not depend on the compiler or the machine. */
    typedef double pair __attribute__((vector_size(16)));
    pair s[6] = {{0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}};
    size_t i = 0;
#define LOAD(v, x) memcpy(&(v), (x) + i, sizeof(pair))
    for (; i + 2 <= dim; i += 2) {
        pair ra, rb, pbi, pai, sao, sbo, sai, sbi;
        LOAD(ra, rho_a);
        LOAD(rb, rho_b);
        LOAD(pbi, p_b_in);
        LOAD(pai, p_a_in);
        LOAD(sao, p_sharp_a_out);
        LOAD(sbo, p_sharp_b_out);
        LOAD(sai, p_sharp_a_in);
        LOAD(sbi, p_sharp_b_in);
        pair rho = ra + rb;
        memcpy(rho_sum + i, &rho, sizeof rho);
        pair rho_left = ra + pbi, rho_right = rb + pai;
        s[0] += sao * rho;
        s[1] += sbo * rho;
        s[2] += sao * rho_left;
        s[3] += sbi * rho_left;
        s[4] += sai * rho_right;
        s[5] += sbo * rho_right;
    }
#undef LOAD
    for (; i < dim; i++) {
        double rho = rho_a[i] + rho_b[i];
        rho_sum[i] = rho;
        double rho_left = rho_a[i] + p_b_in[i];
        double rho_right = rho_b[i] + p_a_in[i];
        s[0][0] += p_sharp_a_out[i] * rho;
        s[1][0] += p_sharp_b_out[i] * rho;
        s[2][0] += p_sharp_a_out[i] * rho_left;
        s[3][0] += p_sharp_b_in[i] * rho_left;
        s[4][0] += p_sharp_a_in[i] * rho_right;
        s[5][0] += p_sharp_b_out[i] * rho_right;
    }
    bool ok = true;
    for (int k = 0; k < 6; k++)
        ok = ok && s[k][0] + s[k][1] > 0.0;
    return ok;
}

/*
 * Builds a subtree of 2^depth leapfrog steps from z in direction sign (Stan's
 * base_nuts::build_tree). p_beg/p_sharp_beg receive the momentum of the subtree's state
 * next to the existing trajectory, p_end/p_sharp_end that of its far end; rho receives
 * the sum of the subtree's momenta; log_sum_weight accumulates its log weight; *propose receives
 * its multinomial proposal. *valid is false when the subtree diverged or turned back on itself.
 */
static ps_status build_tree(ps_chain *chain, nuts_state *s, int depth, ps_phase_point *z,
                            nuts_sample **propose, double *p_sharp_beg, double *p_sharp_end,
                            double *rho, double *p_beg, double *p_end, double sign,
                            double *log_sum_weight, bool *valid)
{
    size_t dim = s->dim;
    if (depth == 0) {
        double h = 0.0;
        PS_CHECK(ps_leapfrog(chain, z, sign * s->eps, &h));
        s->n_leapfrog++;
        if (h - s->h0 > s->max_delta_h)
            s->divergent = true;
        *log_sum_weight = ps_log_sum_exp(*log_sum_weight, s->h0 - h);
        s->sum_metro_prob += s->h0 - h > 0.0 ? 1.0 : exp(s->h0 - h);
        if (s->divergent) {
            *valid = false;
            return PS_OK;
        }
        nuts_sample *out = *propose;
        memcpy(out->q, z->q, dim * sizeof(double));
        memcpy(out->grad, z->grad, dim * sizeof(double));
        out->lp = z->lp;
        out->h = h;
        memcpy(p_sharp_beg, z->p_sharp, dim * sizeof(double));
        memcpy(p_sharp_end, z->p_sharp, dim * sizeof(double));
        memcpy(p_beg, z->p, dim * sizeof(double));
        memcpy(p_end, z->p, dim * sizeof(double));
        memcpy(rho, z->p, dim * sizeof(double));
        *valid = true;
        return PS_OK;
    }

    nuts_level *level = &s->levels[depth];
    /* The initial subtree, next to the existing trajectory. */
    double log_sum_weight_init = -INFINITY;
    bool valid_init = false;
    PS_CHECK(build_tree(chain, s, depth - 1, z, propose, p_sharp_beg, level->p_sharp_init_end,
                        level->rho_init, p_beg, level->p_init_end, sign, &log_sum_weight_init,
                        &valid_init));
    if (!valid_init) {
        *valid = false;
        return PS_OK;
    }
    /* The final subtree, continuing from where the initial one ended. */
    double log_sum_weight_final = -INFINITY;
    bool valid_final = false;
    PS_CHECK(build_tree(chain, s, depth - 1, z, &level->propose_final, level->p_sharp_final_beg,
                        p_sharp_end, level->rho_final, level->p_final_beg, p_end, sign,
                        &log_sum_weight_final, &valid_final));
    if (!valid_final) {
        *valid = false;
        return PS_OK;
    }

    /* Uniform progressive sampling between the two halves (Betancourt 2017, A.3.1). */
    double log_sum_weight_subtree = ps_log_sum_exp(log_sum_weight_init, log_sum_weight_final);
    *log_sum_weight = ps_log_sum_exp(*log_sum_weight, log_sum_weight_subtree);
    if (log_sum_weight_final > log_sum_weight_subtree) {
        swap_samples(propose, &level->propose_final);
    } else {
        double accept_prob = exp(log_sum_weight_final - log_sum_weight_subtree);
        if (ps_rng_uniform(&chain->rng) < accept_prob)
            swap_samples(propose, &level->propose_final);
    }

    /* The generalised criterion across the merged subtree and across each half extended
     * by the first state of the other half. */
    *valid = ps_nuts_merge_criterion(dim, level->rho_init, level->rho_final, level->p_init_end,
                                     p_sharp_beg, level->p_sharp_init_end, level->p_final_beg,
                                     level->p_sharp_final_beg, p_sharp_end, rho);
    return PS_OK;
}

static ps_status nuts_step(ps_chain *chain, void *state, ps_iter_stats *stats)
{
    nuts_state *s = state;
    size_t dim = s->dim;
    size_t bytes = dim * sizeof(double);
    ps_phase_point *z_fwd = &s->z_fwd, *z_bck = &s->z_bck;

    s->eps = chain->step_size;
    s->max_delta_h = chain->settings.max_delta_h;
    memcpy(z_fwd->q, chain->q, bytes);
    memcpy(z_fwd->grad, chain->grad, bytes);
    z_fwd->lp = chain->lp;
    double h0 = ps_phase_point_refresh(chain, z_fwd);
    s->h0 = h0;
    ps_phase_point_copy(dim, z_bck, z_fwd);

    nuts_sample *sample = s->z_sample;
    memcpy(sample->q, chain->q, bytes);
    memcpy(sample->grad, chain->grad, bytes);
    sample->lp = chain->lp;
    sample->h = h0;

    memcpy(s->p_fwd_fwd, z_fwd->p, bytes);
    memcpy(s->p_fwd_bck, z_fwd->p, bytes);
    memcpy(s->p_bck_fwd, z_fwd->p, bytes);
    memcpy(s->p_bck_bck, z_fwd->p, bytes);
    memcpy(s->p_sharp_fwd_fwd, z_fwd->p_sharp, bytes);
    memcpy(s->p_sharp_fwd_bck, z_fwd->p_sharp, bytes);
    memcpy(s->p_sharp_bck_fwd, z_fwd->p_sharp, bytes);
    memcpy(s->p_sharp_bck_bck, z_fwd->p_sharp, bytes);
    memcpy(s->rho, z_fwd->p, bytes);

    double log_sum_weight = 0.0; /* log of exp(H0 - H0) */
    s->n_leapfrog = 0;
    s->sum_metro_prob = 0.0;
    s->divergent = false;
    int depth = 0;

    while (depth < s->max_depth) {
        double log_sum_weight_subtree = -INFINITY;
        bool valid = false;
        if (ps_rng_uniform(&chain->rng) > 0.5) {
            /* Forward: the old trajectory becomes the backward subtree. */
            memcpy(s->rho_bck, s->rho, bytes);
            memcpy(s->p_bck_fwd, s->p_fwd_fwd, bytes);
            memcpy(s->p_sharp_bck_fwd, s->p_sharp_fwd_fwd, bytes);
            PS_CHECK(build_tree(chain, s, depth, z_fwd, &s->z_propose, s->p_sharp_fwd_bck,
                                s->p_sharp_fwd_fwd, s->rho_fwd, s->p_fwd_bck, s->p_fwd_fwd, 1.0,
                                &log_sum_weight_subtree, &valid));
        } else {
            /* Backward: the old trajectory becomes the forward subtree. */
            memcpy(s->rho_fwd, s->rho, bytes);
            memcpy(s->p_fwd_bck, s->p_bck_bck, bytes);
            memcpy(s->p_sharp_fwd_bck, s->p_sharp_bck_bck, bytes);
            PS_CHECK(build_tree(chain, s, depth, z_bck, &s->z_propose, s->p_sharp_bck_fwd,
                                s->p_sharp_bck_bck, s->rho_bck, s->p_bck_fwd, s->p_bck_bck, -1.0,
                                &log_sum_weight_subtree, &valid));
        }
        if (!valid)
            break;
        depth++;

        /* Biased progressive sampling (Betancourt 2017, A.3.2). */
        if (log_sum_weight_subtree > log_sum_weight) {
            swap_samples(&s->z_sample, &s->z_propose);
        } else {
            double accept_prob = exp(log_sum_weight_subtree - log_sum_weight);
            if (ps_rng_uniform(&chain->rng) < accept_prob)
                swap_samples(&s->z_sample, &s->z_propose);
        }
        log_sum_weight = ps_log_sum_exp(log_sum_weight, log_sum_weight_subtree);

        /* The criterion across the whole trajectory and across the two merged subtrees. */
        bool persist = ps_nuts_merge_criterion(dim, s->rho_bck, s->rho_fwd, s->p_bck_fwd,
                                               s->p_sharp_bck_bck, s->p_sharp_bck_fwd, s->p_fwd_bck,
                                               s->p_sharp_fwd_bck, s->p_sharp_fwd_fwd, s->rho);
        if (!persist)
            break;
    }

    sample = s->z_sample;
    ps_chain_set_point(chain, sample->q, sample->grad, sample->lp);
    stats->lp = sample->lp;
    stats->acceptance_rate = s->n_leapfrog > 0 ? s->sum_metro_prob / (double)s->n_leapfrog : 0.0;
    stats->step_size = s->eps;
    stats->tree_depth = depth;
    stats->n_steps = s->n_leapfrog;
    stats->diverging = s->divergent;
    stats->reached_max_treedepth = depth >= s->max_depth;
    stats->energy = sample->h;
    stats->energy_error = sample->h - h0;
    return PS_OK;
}

static void nuts_adapt(ps_chain *chain, void *state, const ps_iter_stats *stats)
{
    (void)state;
    chain->step_size = ps_dual_averaging_learn(&chain->da, stats->acceptance_rate);
}

static ps_status nuts_metric_installed(ps_chain *chain, void *state)
{
    (void)state;
    PS_CHECK(ps_chain_init_stepsize(chain));
    ps_dual_averaging_set_mu(&chain->da, chain->step_size);
    ps_dual_averaging_restart(&chain->da);
    return PS_OK;
}

const ps_step_method ps_step_nuts = {
    .name = "nuts",
    .uses_gradient = true,
    .uses_step_size = true,
    .setup = nuts_setup,
    .destroy = nuts_destroy,
    .step = nuts_step,
    .adapt = nuts_adapt,
    .metric_installed = nuts_metric_installed,
    .state_size = NULL,
    .save = NULL,
    .restore = NULL,
};
