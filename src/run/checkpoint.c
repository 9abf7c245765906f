/*
 * Checkpoint files (DESIGN.md Section 11).
 *
 * Layout (all integers little-endian):
 *
 *     magic "PSCKPT\0\0" (8 bytes), format version (u64)
 *     header: n_chains, phase, block_start, warmup_used, warmup_early, pooled step size,
 *             seed, trace warmup draws, trace draws, model hash, data hash (u64 / f64)
 *     config text: length (u64) and bytes (the run's comparable configuration)
 *     population: length (u64) and bytes (population samplers' state, e.g. the DE archive,
 *             which every rank holds in full: written once, read by every rank; empty
 *             otherwise)
 *     index: n_chains x (offset, size) of each chain's record
 *     header checksum (u64, FNV-1a of everything before it)
 *     records, one per chain in chain order, each ending with its own FNV-1a checksum
 *
 * Writing is collective: rank 0 writes the header, every rank writes its chains' records
 * at offsets known from an exchange of their sizes, into "<path>.tmp" with MPI-IO; the file
 * is synced, closed, and renamed over <path> by rank 0, which then syncs the folder. A
 * crash at any moment leaves either the old checkpoint or the new one, never a mixture.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run/run_impl.h"

static const unsigned char magic[8] = {'P', 'S', 'C', 'K', 'P', 'T', 0, 0};
/* Version 2 (main): chain records also hold the sums of tree depths and acceptance
 * statistics. Version 3: also the population section, and the per-draw statistics of the
 * records are the step method's, as doubles. Older versions are refused. */
#define CKPT_VERSION 3u
/* Bytes before the config text: magic, version, 11 header fields, the text's length. */
#define FIXED_SIZE (8 + 8 * 13)
/* Reads and writes move at most this many bytes per MPI call (counts are ints). */
#define IO_CHUNK ((size_t)1 << 30)
/* Byte offset of the seed: magic, version, 6 fields before it. */
#define SEED_OFFSET (8 + 8 * 7)

/* Serialises the header, config text and index (index entries for all chains). */
static size_t header_put(ps_writer *w, const ps_ckpt_header *h, const uint64_t *offsets,
                         const uint64_t *sizes)
{
    ps_put_bytes(w, magic, sizeof magic);
    ps_put_u64(w, CKPT_VERSION);
    ps_put_u64(w, h->n_chains);
    ps_put_u64(w, h->phase);
    ps_put_u64(w, (uint64_t)h->block_start);
    ps_put_u64(w, (uint64_t)h->warmup_used);
    ps_put_u64(w, h->warmup_early);
    ps_put_f64(w, h->pooled_step_size);
    ps_put_u64(w, h->seed);
    ps_put_u64(w, h->trace_warmup_draws);
    ps_put_u64(w, h->trace_draws);
    ps_put_u64(w, h->model_hash);
    ps_put_u64(w, h->data_hash);
    size_t text_len = h->config_text ? strlen(h->config_text) : 0;
    ps_put_u64(w, text_len);
    ps_put_bytes(w, h->config_text ? h->config_text : "", text_len);
    ps_put_u64(w, h->population_size);
    if (h->population_size > 0)
        ps_put_bytes(w, h->population, h->population_size);
    for (uint64_t c = 0; c < h->n_chains; c++) {
        ps_put_u64(w, offsets ? offsets[c] : 0);
        ps_put_u64(w, sizes ? sizes[c] : 0);
    }
    size_t body = w->pos;
    ps_put_u64(w, w->buf ? ps_fnv1a(PS_FNV_OFFSET, w->buf, body) : 0);
    return w->pos;
}

static ps_status mpi_file_error(int code, const char *call, const char *path)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", code);
    return ps_error(PS_ERR_IO, "checkpoint %s: %s failed: %s", path, call, text);
}

/* Independent reads and writes of n bytes at offset, in chunks that fit MPI's int counts
 * (a population's archive may exceed 2 GiB). */
static int read_at(MPI_File file, MPI_Offset offset, unsigned char *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        size_t part = n - done < IO_CHUNK ? n - done : IO_CHUNK;
        int rc = MPI_File_read_at(file, offset + (MPI_Offset)done, buf + done, (int)part, MPI_BYTE,
                                  MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return rc;
        done += part;
    }
    return MPI_SUCCESS;
}

static int write_at(MPI_File file, MPI_Offset offset, const unsigned char *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        size_t part = n - done < IO_CHUNK ? n - done : IO_CHUNK;
        int rc = MPI_File_write_at(file, offset + (MPI_Offset)done, buf + done, (int)part, MPI_BYTE,
                                   MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return rc;
        done += part;
    }
    return MPI_SUCCESS;
}

/* Syncs the folder holding path, so that a rename survives a crash. */
static void sync_folder(const char *path)
{
    char folder[4096];
    snprintf(folder, sizeof folder, "%s", path);
    char *slash = strrchr(folder, '/');
    if (slash == NULL)
        snprintf(folder, sizeof folder, ".");
    else if (slash == folder)
        slash[1] = '\0';
    else
        *slash = '\0';
    int fd = open(folder, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

ps_status ps_checkpoint_write(MPI_Comm comm, const char *path, const ps_ckpt_header *h,
                              const ps_layout *l, unsigned char *const *records,
                              const size_t *record_sizes)
{
    int rank = l->rank, size = l->size;
    size_t n_local = (size_t)l->count[rank], n_chains = (size_t)l->n_chains;
    uint64_t *sizes = NULL, *offsets = NULL, *mine = NULL;
    unsigned char *header = NULL;
    int *counts = NULL, *displs = NULL;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ps_status status = ps_alloc_array(&sizes, n_chains, sizeof *sizes, "checkpoint index");
    if (status == PS_OK)
        status = ps_alloc_array(&offsets, n_chains, sizeof *offsets, "checkpoint index");
    if (status == PS_OK)
        status = ps_alloc_array(&mine, n_local, sizeof *mine, "checkpoint index");
    if (status == PS_OK)
        status = ps_alloc_array(&counts, (size_t)size, sizeof *counts, "checkpoint index");
    if (status == PS_OK)
        status = ps_alloc_array(&displs, (size_t)size, sizeof *displs, "checkpoint index");
    if (status == PS_OK && strlen(path) + 5 > sizeof tmp)
        status = ps_error(PS_ERR_IO, "checkpoint path %s is too long", path);
    if (ps_fault_point("checkpoint_write"))
        status = ps_error(PS_ERR_IO, "checkpoint %s: injected fault checkpoint_write", path);
    PS_TRY(ps_comm_agree(comm, status));

    /* Every rank learns every record's size, then the offsets follow the header. */
    for (size_t c = 0; c < n_local; c++)
        mine[c] = record_sizes[c];
    for (int r = 0; r < size; r++) {
        counts[r] = (int)l->count[r];
        displs[r] = (int)l->first[r];
    }
    ps_par_note(n_local * sizeof(uint64_t));
    PS_MPI(
        MPI_Allgatherv(mine, (int)n_local, MPI_UINT64_T, sizes, counts, displs, MPI_UINT64_T, comm),
        "MPI_Allgatherv", comm);
    ps_writer counter = {NULL, 0, 0};
    size_t header_size = header_put(&counter, h, NULL, NULL);
    uint64_t off = header_size;
    for (size_t c = 0; c < n_chains; c++) {
        offsets[c] = off;
        off += sizes[c];
    }
    if (rank == 0) {
        status = ps_alloc_array(&header, header_size, 1, "checkpoint header");
        if (status == PS_OK) {
            ps_writer w = {header, 0, header_size};
            header_put(&w, h, offsets, sizes);
        }
    }
    PS_TRY(ps_comm_agree(comm, status));

    MPI_File file;
    int rc = MPI_File_open(comm, tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &file);
    status = rc == MPI_SUCCESS ? PS_OK : mpi_file_error(rc, "MPI_File_open", tmp);
    PS_TRY(ps_comm_agree(comm, status));
    rc = MPI_File_set_size(file, 0);
    status = rc == MPI_SUCCESS ? PS_OK : mpi_file_error(rc, "MPI_File_set_size", tmp);
    if (status == PS_OK && rank == 0) {
        rc = write_at(file, 0, header, header_size);
        if (rc != MPI_SUCCESS)
            status = mpi_file_error(rc, "MPI_File_write_at", tmp);
    }
    status = ps_comm_agree(comm, status);
    /* Each rank writes its records: one collective call per local chain index (ranks
     * with fewer chains take part with empty writes). */
    int64_t max_local = 0;
    for (int r = 0; r < size; r++)
        max_local = l->count[r] > max_local ? l->count[r] : max_local;
    for (int64_t c = 0; c < max_local && status == PS_OK; c++) {
        bool have = (size_t)c < n_local;
        size_t chain = have ? (size_t)l->first[rank] + (size_t)c : 0;
        size_t n = have ? record_sizes[c] : 0;
        if (n > INT_MAX) {
            status = ps_error(PS_ERR_IO, "checkpoint %s: a chain's state of %zu bytes is too large",
                              tmp, n);
            n = 0;
        }
        rc = MPI_File_write_at_all(file, have ? (MPI_Offset)offsets[chain] : 0,
                                   have ? records[c] : NULL, (int)n, MPI_BYTE, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS && status == PS_OK)
            status = mpi_file_error(rc, "MPI_File_write_at_all", tmp);
        status = ps_comm_agree(comm, status);
    }
    if (status == PS_OK) {
        rc = MPI_File_sync(file);
        status = rc == MPI_SUCCESS ? PS_OK : mpi_file_error(rc, "MPI_File_sync", tmp);
    }
    MPI_File_close(&file);
    PS_TRY(ps_comm_agree(comm, status));
    if (rank == 0) {
        if (rename(tmp, path) != 0)
            status = ps_error(PS_ERR_IO, "checkpoint: cannot rename %s to %s: %s", tmp, path,
                              strerror(errno));
        else
            sync_folder(path);
    }
    status = ps_comm_agree(comm, status);
done:
    ps_free(sizes);
    ps_free(offsets);
    ps_free(mine);
    ps_free(header);
    ps_free(counts);
    ps_free(displs);
    return status;
}

/* Reads the header on every rank (independently) and checks it. */
static ps_status read_header(MPI_File file, const char *path, ps_ckpt_header *h, uint64_t **offsets,
                             uint64_t **sizes)
{
    MPI_Offset file_size = 0;
    MPI_File_get_size(file, &file_size);
    unsigned char fixed[FIXED_SIZE];
    if (file_size < (MPI_Offset)sizeof fixed)
        return ps_error(PS_ERR_IO, "checkpoint %s is damaged: it holds only %lld bytes", path,
                        (long long)file_size);
    int rc = MPI_File_read_at(file, 0, fixed, (int)sizeof fixed, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return mpi_file_error(rc, "MPI_File_read_at", path);
    if (memcmp(fixed, magic, sizeof magic) != 0)
        return ps_error(PS_ERR_IO, "%s is not a psample checkpoint", path);
    ps_reader r = {fixed, 8, sizeof fixed, false};
    uint64_t version = ps_get_u64(&r);
    if (version != CKPT_VERSION)
        return ps_error(PS_ERR_IO,
                        "checkpoint %s has format version %llu; this psample reads version %u "
                        "only (the checkpoint was written by %s psample): resume it with the "
                        "psample that wrote it, or start the run again",
                        path, (unsigned long long)version, CKPT_VERSION,
                        version < CKPT_VERSION ? "an older" : "a newer");
    h->n_chains = ps_get_u64(&r);
    h->phase = (uint32_t)ps_get_u64(&r);
    h->block_start = (int64_t)ps_get_u64(&r);
    h->warmup_used = (int64_t)ps_get_u64(&r);
    h->warmup_early = (uint8_t)ps_get_u64(&r);
    h->pooled_step_size = ps_get_f64(&r);
    h->seed = ps_get_u64(&r);
    h->trace_warmup_draws = ps_get_u64(&r);
    h->trace_draws = ps_get_u64(&r);
    h->model_hash = ps_get_u64(&r);
    h->data_hash = ps_get_u64(&r);
    uint64_t text_len = ps_get_u64(&r);
    if (text_len > ((uint64_t)1 << 30) || (MPI_Offset)(sizeof fixed + text_len + 8) > file_size)
        return ps_error(PS_ERR_IO, "checkpoint %s is damaged: its header is inconsistent", path);
    unsigned char pop_len_bytes[8];
    rc = MPI_File_read_at(file, (MPI_Offset)(sizeof fixed + text_len), pop_len_bytes, 8, MPI_BYTE,
                          MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return mpi_file_error(rc, "MPI_File_read_at", path);
    ps_reader pr = {pop_len_bytes, 0, 8, false};
    uint64_t pop_len = ps_get_u64(&pr);
    size_t rest = 0;
    if (h->n_chains > ((uint64_t)1 << 31) || pop_len > (uint64_t)file_size ||
        !ps_size_mul((size_t)h->n_chains, 16, &rest) ||
        (MPI_Offset)(sizeof fixed + text_len + 8 + pop_len + rest + 8) > file_size)
        return ps_error(PS_ERR_IO, "checkpoint %s is damaged: its header is inconsistent", path);
    size_t pop_at = sizeof fixed + (size_t)text_len + 8;
    size_t index_at = pop_at + (size_t)pop_len;
    size_t total = index_at + rest + 8;
    unsigned char *buf = NULL;
    PS_CHECK(ps_alloc_array(&buf, total, 1, "checkpoint header"));
    rc = read_at(file, 0, buf, total);
    ps_status st = rc == MPI_SUCCESS ? PS_OK : mpi_file_error(rc, "MPI_File_read_at", path);
    if (st == PS_OK) {
        ps_reader hr = {buf, total - 8, total, false};
        uint64_t stored = ps_get_u64(&hr);
        if (stored != ps_fnv1a(PS_FNV_OFFSET, buf, total - 8))
            st =
                ps_error(PS_ERR_IO, "checkpoint %s is damaged: its header checksum is wrong", path);
    }
    if (st == PS_OK)
        st = ps_alloc_array(&h->config_text, (size_t)text_len + 1, 1, "checkpoint");
    if (st == PS_OK)
        st = ps_alloc_array(offsets, (size_t)h->n_chains, sizeof **offsets, "checkpoint index");
    if (st == PS_OK)
        st = ps_alloc_array(sizes, (size_t)h->n_chains, sizeof **sizes, "checkpoint index");
    if (st == PS_OK && pop_len > 0) {
        st = ps_alloc_array(&h->population, (size_t)pop_len, 1, "checkpoint population");
        if (st == PS_OK) {
            memcpy(h->population, buf + pop_at, (size_t)pop_len);
            h->population_size = (size_t)pop_len;
        }
    }
    if (st == PS_OK) {
        memcpy(h->config_text, buf + sizeof fixed, (size_t)text_len);
        ps_reader ir = {buf, index_at, total - 8, false};
        for (uint64_t c = 0; c < h->n_chains; c++) {
            (*offsets)[c] = ps_get_u64(&ir);
            (*sizes)[c] = ps_get_u64(&ir);
            if ((*offsets)[c] + (*sizes)[c] > (uint64_t)file_size ||
                (*sizes)[c] > (uint64_t)INT_MAX || (*sizes)[c] < 8)
                st = ps_error(PS_ERR_IO,
                              "checkpoint %s is damaged: the record of chain %llu lies outside "
                              "the file (it was cut short?)",
                              path, (unsigned long long)c);
        }
    }
    ps_free(buf);
    return st;
}

ps_status ps_checkpoint_read(MPI_Comm comm, const char *path, const ps_layout *l, ps_ckpt_header *h,
                             unsigned char ***records, size_t **record_sizes)
{
    size_t n_local = (size_t)l->count[l->rank];
    uint64_t *offsets = NULL, *sizes = NULL;
    memset(h, 0, sizeof *h);
    *records = NULL;
    *record_sizes = NULL;
    ps_status st = PS_OK;
    if (access(path, F_OK) != 0)
        st = ps_error(PS_ERR_CONFIG,
                      "there is no checkpoint %s to resume from (the run finished, never wrote "
                      "one, or output.checkpoint names another file)",
                      path);
    PS_CHECK(ps_comm_agree(comm, st));
    MPI_File file;
    int rc = MPI_File_open(comm, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &file);
    st = rc == MPI_SUCCESS ? PS_OK : mpi_file_error(rc, "MPI_File_open", path);
    PS_CHECK(ps_comm_agree(comm, st));
    st = read_header(file, path, h, &offsets, &sizes);
    if (st == PS_OK && h->n_chains != (uint64_t)l->n_chains)
        st = ps_error(PS_ERR_CONFIG,
                      "checkpoint %s holds %llu chains; the configuration asks "
                      "for %lld",
                      path, (unsigned long long)h->n_chains, (long long)l->n_chains);
    if (st == PS_OK)
        st = ps_alloc_array(records, n_local, sizeof **records, "checkpoint records");
    if (st == PS_OK)
        st = ps_alloc_array(record_sizes, n_local, sizeof **record_sizes, "checkpoint records");
    for (size_t c = 0; c < n_local && st == PS_OK; c++) {
        size_t chain = (size_t)l->first[l->rank] + c;
        (*record_sizes)[c] = (size_t)sizes[chain];
        st = ps_alloc_array(&(*records)[c], (size_t)sizes[chain], 1, "checkpoint record");
    }
    st = ps_comm_agree(comm, st);
    int64_t max_local = 0;
    for (int r = 0; r < l->size; r++)
        max_local = l->count[r] > max_local ? l->count[r] : max_local;
    for (int64_t c = 0; c < max_local && st == PS_OK; c++) {
        bool have = (size_t)c < n_local;
        size_t chain = have ? (size_t)l->first[l->rank] + (size_t)c : 0;
        rc = MPI_File_read_at_all(file, have ? (MPI_Offset)offsets[chain] : 0,
                                  have ? (*records)[c] : NULL, have ? (int)sizes[chain] : 0,
                                  MPI_BYTE, MPI_STATUS_IGNORE);
        ps_status cst =
            rc == MPI_SUCCESS ? PS_OK : mpi_file_error(rc, "MPI_File_read_at_all", path);
        if (cst == PS_OK && have) {
            size_t n = (size_t)sizes[chain];
            ps_reader cr = {(*records)[c], n - 8, n, false};
            if (ps_get_u64(&cr) != ps_fnv1a(PS_FNV_OFFSET, (*records)[c], n - 8))
                cst = ps_error(PS_ERR_IO,
                               "checkpoint %s is damaged: the checksum of chain %zu's record "
                               "is wrong",
                               path, chain);
        }
        st = ps_comm_agree(comm, cst);
    }
    MPI_File_close(&file);
    ps_free(offsets);
    ps_free(sizes);
    if (st != PS_OK) {
        ps_checkpoint_free(h, *records, n_local);
        ps_free(*record_sizes);
        *records = NULL;
        *record_sizes = NULL;
    }
    return st;
}

ps_status ps_checkpoint_peek_seed(MPI_Comm comm, const char *path, uint64_t *seed)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    uint64_t value = 0;
    ps_status st = PS_OK;
    if (access(path, F_OK) != 0)
        st = ps_error(PS_ERR_CONFIG,
                      "there is no checkpoint %s to resume from (the run finished, never wrote "
                      "one, or output.checkpoint names another file)",
                      path);
    PS_CHECK(ps_comm_agree(comm, st));
    if (rank == 0) {
        unsigned char fixed[SEED_OFFSET + 8];
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            st = ps_error(PS_ERR_IO, "cannot read checkpoint %s: %s", path, strerror(errno));
        else if (fread(fixed, 1, sizeof fixed, f) != sizeof fixed ||
                 memcmp(fixed, magic, sizeof magic) != 0)
            st = ps_error(PS_ERR_IO, "%s is not a psample checkpoint (or it is damaged)", path);
        else {
            ps_reader r = {fixed, SEED_OFFSET, sizeof fixed, false};
            value = ps_get_u64(&r);
        }
        if (f != NULL)
            fclose(f);
    }
    PS_CHECK(ps_comm_agree(comm, st));
    PS_MPI(MPI_Bcast(&value, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast", comm);
    *seed = value;
    return PS_OK;
}

void ps_checkpoint_free(ps_ckpt_header *h, unsigned char **records, size_t n)
{
    ps_free(h->config_text);
    h->config_text = NULL;
    ps_free(h->population);
    h->population = NULL;
    h->population_size = 0;
    if (records != NULL) {
        for (size_t i = 0; i < n; i++)
            ps_free(records[i]);
        ps_free(records);
    }
}
