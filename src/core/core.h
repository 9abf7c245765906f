/*
 * Core services shared by every module: error recording, allocation with fault injection,
 * growable strings, logging, timers.
 *
 * Nothing here knows about MPI. All functions are local.
 */
#ifndef PS_CORE_H
#define PS_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psample/psample.h"

/* ---------------------------------------------------------------------------------------
 * Errors
 *
 * The first failure in a thread records its message; later calls to ps_error() keep the
 * first message (the root cause) and only return their status. Callers propagate with
 * PS_CHECK or PS_TRY and add nothing.
 * ------------------------------------------------------------------------------------- */

/* Records "MESSAGE" for status if nothing is recorded yet in this thread; returns status. */
ps_status ps_error(ps_status status, const char *fmt, ...) PS_PRINTF(2, 3);
ps_status ps_error_v(ps_status status, const char *fmt, va_list ap);

/* Replaces whatever is recorded with this message (used when a collective verdict is
 * formed from another rank's message). */
ps_status ps_error_set(ps_status status, const char *message);

/*
 * Records a compiler-style message about a user's text file:
 *
 *     FILE:LINE:COL: error: MESSAGE
 *         the offending line
 *             ^
 *
 * text/text_len is the whole file (it need not be NUL-terminated); line and col are
 * 1-based, col counts UTF-8 characters. Very long lines are shown around the column.
 */
ps_status ps_error_at(ps_status status, const char *path, const char *text, size_t text_len,
                      size_t line, size_t col, const char *fmt, ...) PS_PRINTF(7, 8);

/* The same, for a byte offset into text; line and column are computed from it. */
ps_status ps_error_at_offset(ps_status status, const char *path, const char *text, size_t text_len,
                             size_t offset, const char *fmt, ...) PS_PRINTF(6, 7);

/* Computes the 1-based line and column (in UTF-8 characters) of a byte offset. */
void ps_text_position(const char *text, size_t text_len, size_t offset, size_t *line, size_t *col);

/* Propagates a failure: returns from the enclosing function when expr is not PS_OK. */
#define PS_CHECK(expr)                                                                             \
    do {                                                                                           \
        ps_status ps_check_status_ = (expr);                                                       \
        if (ps_check_status_ != PS_OK)                                                             \
            return ps_check_status_;                                                               \
    } while (0)

/* Propagates a failure to a cleanup label: assigns to `status` and jumps to `done`. */
#define PS_TRY(expr)                                                                               \
    do {                                                                                           \
        status = (expr);                                                                           \
        if (status != PS_OK)                                                                       \
            goto done;                                                                             \
    } while (0)

/* Aborts the process with a message: for violated internal invariants only. */
_Noreturn void ps_fatal(const char *fmt, ...) PS_PRINTF(1, 2);

/* ---------------------------------------------------------------------------------------
 * Allocation
 *
 * Every allocation in psample goes through these wrappers so that a test can make the n-th
 * allocation fail (ps_fault_alloc_after or the environment variable PSAMPLE_FAULT_ALLOC=n).
 * They return NULL on failure and record nothing; ps_alloc_array() records the error.
 * ------------------------------------------------------------------------------------- */

void *ps_malloc(size_t size);
void *ps_calloc(size_t count, size_t size);
void *ps_realloc(void *ptr, size_t size);
void ps_free(void *ptr);
char *ps_strdup(const char *s);
char *ps_strndup(const char *s, size_t n);

/* Allocates count elements of elem_size bytes, zeroed, into *(void **)ptr_out; checks the
 * product for overflow; records "out of memory allocating N bytes for WHAT" on failure. */
ps_status ps_alloc_array(void *ptr_out, size_t count, size_t elem_size, const char *what);

/* Resizes *(void **)ptr_inout to count elements; the pointer is unchanged on failure. */
ps_status ps_realloc_array(void *ptr_inout, size_t count, size_t elem_size, const char *what);

/* Frees *(void **)ptr_inout and sets it to NULL. */
void ps_free_ptr(void *ptr_inout);

/* Checked size arithmetic: return false on overflow. */
bool ps_size_mul(size_t a, size_t b, size_t *out);
bool ps_size_add(size_t a, size_t b, size_t *out);

/* ---------------------------------------------------------------------------------------
 * Fault injection (SQLite-style): tests make one allocation, one I/O call, or one named
 * failure point fail on purpose.
 * ------------------------------------------------------------------------------------- */

/* Makes the n-th allocation from now fail (n >= 1); n <= 0 disables. */
void ps_fault_alloc_after(long n);

/* Number of allocations made so far (to plan fault-injection loops). */
long ps_fault_alloc_count(void);

/* Makes the n-th I/O check from now fail (n >= 1); n <= 0 disables. */
void ps_fault_io_after(long n);

/* An I/O call site asks whether to fail; true means "pretend the call failed". */
bool ps_fault_io(void);

/* Identifies this process for named faults (the MPI rank; -1 when unknown). */
void ps_fault_set_rank(int rank);

/* True when the environment variable PSAMPLE_FAULT names this point, as "name" (every
 * process) or "name@rank" (one rank). Several points may be given, separated by commas. */
bool ps_fault_point(const char *name);

/* ---------------------------------------------------------------------------------------
 * Growable strings
 * ------------------------------------------------------------------------------------- */

typedef struct ps_strbuf {
    char *data; /* always NUL-terminated once anything was appended; may be NULL if empty */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; further appends do nothing */
} ps_strbuf;

void ps_strbuf_init(ps_strbuf *sb);
void ps_strbuf_fini(ps_strbuf *sb);
void ps_strbuf_clear(ps_strbuf *sb);
void ps_strbuf_append(ps_strbuf *sb, const char *s, size_t n);
void ps_strbuf_puts(ps_strbuf *sb, const char *s);
void ps_strbuf_putc(ps_strbuf *sb, char c);
void ps_strbuf_printf(ps_strbuf *sb, const char *fmt, ...) PS_PRINTF(2, 3);
void ps_strbuf_vprintf(ps_strbuf *sb, const char *fmt, va_list ap);
/* The contents ("" when empty); valid until the next append. */
const char *ps_strbuf_str(const ps_strbuf *sb);
/* Moves the contents out (caller frees with ps_free); NULL with an error if an append
 * failed. */
ps_status ps_strbuf_take(ps_strbuf *sb, char **out);

/* ---------------------------------------------------------------------------------------
 * Logging to standard error. The driver silences every rank but 0 for messages that all
 * ranks would print alike.
 * ------------------------------------------------------------------------------------- */

typedef enum ps_log_level { PS_LOG_ERROR = 0, PS_LOG_WARN, PS_LOG_INFO, PS_LOG_DEBUG } ps_log_level;

void ps_log_set_level(ps_log_level level);
void ps_log_set_enabled(bool enabled);
void ps_log(ps_log_level level, const char *fmt, ...) PS_PRINTF(2, 3);
#define ps_warn(...) ps_log(PS_LOG_WARN, __VA_ARGS__)
#define ps_info(...) ps_log(PS_LOG_INFO, __VA_ARGS__)
#define ps_debug(...) ps_log(PS_LOG_DEBUG, __VA_ARGS__)

/* ---------------------------------------------------------------------------------------
 * Files and time
 * ------------------------------------------------------------------------------------- */

/* Reads a whole file into a NUL-terminated buffer (the NUL is not counted in *len).
 * Records "cannot read PATH: REASON" on failure. */
ps_status ps_file_read(const char *path, char **out, size_t *len);

/* Joins a path relative to the folder of base_file ("a/b/c.toml" + "d.so" = "a/b/d.so");
 * absolute paths are returned unchanged. Caller frees. */
ps_status ps_path_resolve(const char *base_file, const char *path, char **out);

/* Monotonic wall-clock seconds. */
double ps_time_now(void);

/* ---------------------------------------------------------------------------------------
 * Bytes: little-endian serialisation (checkpoints, chain states) and FNV-1a hashing
 * (digests of draws, hashes of files).
 * ------------------------------------------------------------------------------------- */

#define PS_FNV_OFFSET UINT64_C(0xcbf29ce484222325)

/* Continues an FNV-1a 64-bit hash h (start with PS_FNV_OFFSET) over n bytes. */
uint64_t ps_fnv1a(uint64_t h, const void *data, size_t n);

/* A writer with buf == NULL only counts (pos is the size needed); writes past size are
 * dropped, so pos > size after writing means the buffer was too small. */
typedef struct ps_writer {
    unsigned char *buf;
    size_t pos, size;
} ps_writer;
/* A reader sets failed (and returns zeros) when it would read past size. */
typedef struct ps_reader {
    const unsigned char *buf;
    size_t pos, size;
    bool failed;
} ps_reader;
void ps_put_u64(ps_writer *w, uint64_t v);
void ps_put_f64(ps_writer *w, double v);
void ps_put_f64s(ps_writer *w, const double *v, size_t n);
void ps_put_bytes(ps_writer *w, const void *bytes, size_t n);
uint64_t ps_get_u64(ps_reader *r);
double ps_get_f64(ps_reader *r);
void ps_get_f64s(ps_reader *r, double *v, size_t n);
void ps_get_bytes(ps_reader *r, void *bytes, size_t n);

/* Encodes a Unicode code point (<= 0x10FFFF, not a surrogate: the caller checks) as UTF-8
 * into out; returns the number of bytes (1 to 4). */
size_t ps_utf8_encode(uint32_t cp, char out[4]);

/* Dot product with four accumulators combined in a fixed order: the result does not depend
 * on the machine or the compiler's vectorisation (unlike BLAS ddot), which keeps sampler
 * arithmetic reproducible. */
double ps_dot_fixed(const double *a, const double *b, size_t n);

/* Levenshtein distance, capped at limit+1 (for "did you mean" suggestions). */
size_t ps_edit_distance(const char *a, const char *b, size_t limit);

#endif
