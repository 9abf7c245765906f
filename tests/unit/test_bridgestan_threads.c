/*
 * One BridgeStan-ABI model shared by two threads, each with its own workspace: every log
 * density, gradient and constrained vector must equal, bit for bit, what one thread
 * computed alone; rejection messages stay in the workspace of the thread that met them.
 */
#include <pthread.h>

#include "bs_test_util.h"

enum { N_POINTS = 300, MAX_DIM = 16, MAX_OUT = 64, ROUNDS = 10 };

/* Both threads start evaluating together, so that their calls overlap. */
static pthread_barrier_t start;

typedef struct reference {
    const ps_model *model;
    size_t dim, n_out;
    double theta[N_POINTS][MAX_DIM];
    double lp[N_POINTS], grad[N_POINTS][MAX_DIM], out[N_POINTS][MAX_OUT];
} reference;

typedef struct worker {
    const reference *ref;
    bool reverse;
    long mismatches;
    long failures;
    unsigned long long gradient_count;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    const reference *ref = w->ref;
    ps_model_workspace *ws = NULL;
    if (ps_model_workspace_create(ref->model, &ws) != PS_OK)
        w->failures++;
    pthread_barrier_wait(&start);
    if (ws == NULL)
        return NULL;
    for (int round = 0; round < ROUNDS; round++) {
        for (int n = 0; n < N_POINTS; n++) {
            int k = w->reverse ? N_POINTS - 1 - n : n;
            double lp, grad[MAX_DIM], out[MAX_OUT];
            if (ps_model_log_density_gradient(ref->model, ws, ref->theta[k], &lp, grad) != PS_OK ||
                ps_model_constrain(ref->model, ws, ref->theta[k], out) != PS_OK) {
                w->failures++;
                continue;
            }
            bool same = memcmp(&lp, &ref->lp[k], sizeof lp) == 0 &&
                        memcmp(grad, ref->grad[k], ref->dim * sizeof(double)) == 0 &&
                        memcmp(out, ref->out[k], ref->n_out * sizeof(double)) == 0;
            w->mismatches += !same;
        }
    }
    w->gradient_count = ps_model_workspace_gradient_count(ws);
    ps_model_workspace_destroy(&ws);
    return NULL;
}

static bst_rng rng = {777};

static void check_shared(const char *name, const char *data)
{
    static reference ref;
    char path[1024];
    bst_model_path(name, path, sizeof path);
    ps_model *model = NULL;
    ps_model_workspace *ws = NULL;
    if (ps_model_bridgestan_create(path, data, 3, &model) != PS_OK ||
        ps_model_workspace_create(model, &ws) != PS_OK) {
        CHECK(0, "%s: cannot load: %s", name, ps_error_message());
        ps_error_clear();
        ps_model_destroy(&model);
        return;
    }
    memset(&ref, 0, sizeof ref);
    ref.model = model;
    ref.dim = ps_model_dim(model);
    ref.n_out = ps_model_output_size(model);
    CHECK(ref.dim <= MAX_DIM && ref.n_out <= MAX_OUT, "%s: sizes %zu, %zu", name, ref.dim,
          ref.n_out);
    if (ref.dim > MAX_DIM || ref.n_out > MAX_OUT) {
        ps_model_workspace_destroy(&ws);
        ps_model_destroy(&model);
        return;
    }
    /* The reference, computed by this thread alone. */
    for (int k = 0; k < N_POINTS; k++) {
        for (size_t i = 0; i < ref.dim; i++)
            ref.theta[k][i] = 4.0 * bst_uniform(&rng) - 2.0;
        CHECK(ps_model_log_density_gradient(model, ws, ref.theta[k], &ref.lp[k], ref.grad[k]) ==
                      PS_OK &&
                  ps_model_constrain(model, ws, ref.theta[k], ref.out[k]) == PS_OK,
              "%s: reference evaluation %d failed", name, k);
    }
    ps_model_workspace_destroy(&ws);

    worker workers[2] = {{.ref = &ref, .reverse = false}, {.ref = &ref, .reverse = true}};
    pthread_t threads[2];
    for (int t = 0; t < 2; t++)
        CHECK(pthread_create(&threads[t], NULL, run_worker, &workers[t]) == 0, "pthread_create");
    for (int t = 0; t < 2; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < 2; t++) {
        CHECK(workers[t].failures == 0, "%s: thread %d had %ld failed evaluations", name, t,
              workers[t].failures);
        CHECK(workers[t].mismatches == 0,
              "%s: thread %d differed from the single-thread result at %ld of %d evaluations", name,
              t, workers[t].mismatches, ROUNDS * N_POINTS);
        CHECK(workers[t].gradient_count == (unsigned long long)(ROUNDS * N_POINTS),
              "%s: thread %d counted %llu gradients, expected %d", name, t,
              workers[t].gradient_count, ROUNDS * N_POINTS);
    }
    ps_model_destroy(&model);
}

/* Two threads meet rejections with different values; each workspace keeps its own. */
typedef struct rejecter {
    const ps_model *model;
    double base;
    long wrong_messages;
    long wrong_status;
} rejecter;

static void *run_rejecter(void *arg)
{
    rejecter *r = arg;
    ps_model_workspace *ws = NULL;
    if (ps_model_workspace_create(r->model, &ws) != PS_OK)
        r->wrong_status++;
    pthread_barrier_wait(&start);
    if (ws == NULL)
        return NULL;
    for (int k = 0; k < 2000; k++) {
        double theta[2] = {r->base + 0.25 * (k % 7), 0.5}, lp, grad[2];
        ps_status st = ps_model_log_density_gradient(r->model, ws, theta, &lp, grad);
        r->wrong_status += st != PS_ERR_NUMERIC || lp != -INFINITY;
        char want[64];
        snprintf(want, sizeof want, "found x[1] = %g ", theta[0]);
        r->wrong_messages += strstr(ps_model_workspace_message(ws), want) == NULL;
        /* An accepted point in between leaves the last rejection's message. */
        double ok[2] = {0.1, 0.2};
        r->wrong_status += ps_model_log_density_gradient(r->model, ws, ok, &lp, grad) != PS_OK;
        r->wrong_messages += strstr(ps_model_workspace_message(ws), want) == NULL;
    }
    ps_model_workspace_destroy(&ws);
    return NULL;
}

static void check_rejections(void)
{
    char path[1024];
    bst_model_path("broken_reject", path, sizeof path);
    ps_model *model = NULL;
    if (ps_model_bridgestan_create(path, "", 1, &model) != PS_OK) {
        CHECK(0, "broken_reject: %s", ps_error_message());
        ps_error_clear();
        return;
    }
    rejecter r[2] = {{.model = model, .base = 3.0}, {.model = model, .base = 10.0}};
    pthread_t threads[2];
    for (int t = 0; t < 2; t++)
        CHECK(pthread_create(&threads[t], NULL, run_rejecter, &r[t]) == 0, "pthread_create");
    for (int t = 0; t < 2; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < 2; t++) {
        CHECK(r[t].wrong_status == 0, "rejecting thread %d: %ld unexpected statuses", t,
              r[t].wrong_status);
        CHECK(r[t].wrong_messages == 0, "rejecting thread %d: %ld messages of the wrong point", t,
              r[t].wrong_messages);
    }
    ps_model_destroy(&model);
}

int main(void)
{
    pthread_barrier_init(&start, NULL, 2);
    static char json[65536];
    int len = snprintf(json, sizeof json, "{\"N\": 300, \"D\": 6, \"X\": [");
    for (int i = 0; i < 300; i++) {
        len += snprintf(json + len, sizeof json - (size_t)len, "%s[", i ? ", " : "");
        for (int k = 0; k < 6; k++)
            len += snprintf(json + len, sizeof json - (size_t)len, "%s%.6f", k ? ", " : "",
                            bst_normal(&rng));
        len += snprintf(json + len, sizeof json - (size_t)len, "]");
    }
    len += snprintf(json + len, sizeof json - (size_t)len, "], \"y\": [");
    for (int i = 0; i < 300; i++)
        len += snprintf(json + len, sizeof json - (size_t)len, "%s%d", i ? ", " : "",
                        bst_uniform(&rng) < 0.4);
    snprintf(json + len, sizeof json - (size_t)len, "]}");
    check_shared("logistic_regression", json);
    check_shared("eight_schools_noncentered", "{\"J\": 8, \"y\": [28, 8, -3, 7, -1, 1, 18, 12], "
                                              "\"sigma\": [15, 10, 16, 11, 9, 11, 10, 18]}");
    check_shared("shapes", "{\"extra\": 1}");
    check_rejections();
    pthread_barrier_destroy(&start);
    TEST_EXIT();
}
