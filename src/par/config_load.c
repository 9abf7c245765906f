/* Rank 0 reads the configuration; every rank validates the same text. */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "par/par.h"

/* A seed for runs that set none: from the clock and the process id of rank 0, reported in
 * the effective configuration so that the run can be repeated. */
static int64_t fresh_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * UINT64_C(1000000007) ^ (uint64_t)ts.tv_nsec ^
                 ((uint64_t)getpid() << 32);
    /* splitmix64 finaliser, to spread the bits */
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (int64_t)(x % UINT64_C(4294967296)); /* 32 bits, easy to type back */
}

ps_status ps_config_load_collective(MPI_Comm comm, const char *path, const char *const *overrides,
                                    size_t n_overrides, ps_config **out)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    /* header: text length, seed, cwd length */
    int64_t header[3] = {0, 0, 0};
    char cwd[4096] = "";
    ps_status st = PS_OK;
    if (rank == 0) {
        st = ps_file_read(path, &text, &len);
        if (st == PS_ERR_IO) /* a configuration that cannot be read is an input error */
            st = ps_error_set(PS_ERR_CONFIG, ps_error_message());
        if (getcwd(cwd, sizeof cwd) == NULL)
            cwd[0] = '\0';
        header[0] = (int64_t)len;
        header[1] = fresh_seed();
        header[2] = (int64_t)strlen(cwd);
    }
    PS_CHECK(ps_comm_agree(comm, st));
    PS_MPI(MPI_Bcast(header, 3, MPI_INT64_T, 0, comm), "MPI_Bcast", comm);
    len = (size_t)header[0];
    if (rank != 0) {
        text = ps_malloc(len + 1);
        st = text ? PS_OK : ps_error(PS_ERR_MEM, "out of memory receiving the configuration");
    }
    st = ps_comm_agree(comm, st);
    if (st != PS_OK) {
        ps_free(text);
        return st;
    }
    /* MPI counts are int: send large files in pieces. */
    for (size_t done = 0; done < len;) {
        size_t piece = len - done > (1u << 30) ? (1u << 30) : len - done;
        PS_MPI(MPI_Bcast(text + done, (int)piece, MPI_CHAR, 0, comm), "MPI_Bcast", comm);
        done += piece;
    }
    text[len] = '\0';
    PS_MPI(MPI_Bcast(cwd, (int)sizeof cwd, MPI_CHAR, 0, comm), "MPI_Bcast", comm);
    cwd[sizeof cwd - 1] = '\0';
    /* Every rank parses the same text against rank 0's working folder. */
    ps_config *cfg = NULL;
    st = ps_config_parse_in(path, text, len, overrides, n_overrides, cwd, &cfg);
    ps_free(text);
    if (st == PS_OK && !ps_config_given(cfg, "sampler", "seed"))
        cfg->sampler.seed = header[1];
    st = ps_comm_agree(comm, st);
    if (st != PS_OK) {
        ps_config_destroy(&cfg);
        return st;
    }
    *out = cfg;
    return PS_OK;
}
