/*
 * Data input: a model's data read from a file into named, typed, shaped arrays
 * (DESIGN.md Sections 2 and 8).
 *
 * Two formats, told apart by content (not by the file name):
 *
 *   Stan JSON (CmdStan guide, "JSON Format for CmdStan"). One top-level object; each member
 *   is one variable. Its value is a number, one of the strings or bare words that stand for
 *   a non-finite real (below), or a rectangular nest of arrays of those (a vector or row
 *   vector is an array, a matrix[M, N] is an array of M rows of N). Values are stored in
 *   row-major order (last index fastest), i.e. in the order they appear in the file.
 *
 *   HDF5. One dataset per variable in the root group, named like the variable. Integer
 *   datasets give int values, floating-point datasets real values; a scalar dataspace is a
 *   scalar, a simple dataspace gives the shape. The route for large data.
 *
 * The reader knows nothing of the program. Matching the arrays against the data block
 * (declared types, sizes, bounds) is the compiled model's job; the rules it should apply
 * so that psample accepts what CmdStan accepts are at the end of this comment.
 *
 * JSON details, decided here:
 *   - Strict JSON (RFC 8259): whitespace is space, tab, CR, LF; numbers follow the JSON
 *     grammar (no "01", "1.", ".5", "+1", hex); strings must be valid UTF-8 without raw
 *     control characters; nothing may follow the top-level object. A UTF-8 byte order mark
 *     at the very start is skipped (RFC 8259, Section 8.1 allows that).
 *   - A number written without fraction and exponent is an integer literal; "1.0" and
 *     "1e3" are reals, as in CmdStan. An integer literal outside Stan's int range
 *     [-2^31, 2^31 - 1] makes its variable real (CmdStan does the same), so only a real
 *     declaration accepts it; ps_data_require_int() explains the rejection.
 *   - Non-finite reals: the strings "NaN", "Inf", "Infinity", "-Inf", "-Infinity" (what
 *     CmdStan reads), also "+Inf", "+Infinity" and the lower-case "nan", "inf", "+inf",
 *     "-inf", "infinity", "+infinity", "-infinity" (the CmdStan guide's table and
 *     CmdStanPy write "+inf"/"-inf"); and the bare words NaN, Inf, Infinity, -Inf,
 *     -Infinity, which the CmdStan guide documents and Python's json module writes.
 *     Any other string, true, false, null, or an object (a tuple) is an error.
 *   - Members whose key is not a Stan identifier (a letter, then letters, digits and
 *     underscores) are skipped whatever their value, as CmdStan does, so files may carry
 *     comments such as "_note": "...". Every other member must hold Stan data.
 *   - A variable given twice (two keys that decode to the same identifier) is an error that
 *     names both lines; skipped keys are not compared.
 *   - Nesting deeper than PS_DATA_MAX_DIMS arrays is an error (skipped values may nest up
 *     to PS_DATA_MAX_NESTING levels).
 *   - A number too large for a double ("1e999") is an error; one too small becomes 0 or a
 *     subnormal, as strtod rounds it. Reals are exactly what strtod gives for their text.
 *   - Empty arrays: JSON cannot say the extents behind an empty axis, so the file's shape
 *     is kept as written: "[]" has ndim 1 and dims {0}; "[[], []]" has ndim 2 and dims
 *     {2, 0}. The type of an empty array is PS_DATA_INT (it holds no non-integer).
 *   - Tuples (objects with keys "1", "2", ...) are "not supported yet". A complex value
 *     (an array of 2 reals) reads as an ordinary array; the model rejects complex
 *     declarations.
 *
 * HDF5 details, decided here:
 *   - Only hard links in the root group are read. Datasets whose names are not Stan
 *     identifiers are skipped, like JSON members; groups, named datatypes and soft or
 *     external links are ignored (so a file may carry other material in groups).
 *   - Integer datasets of any size up to 64 bits, signed or not, read exactly; values
 *     outside Stan's int range make the variable real, as in JSON. Floating-point datasets
 *     (16, 32, 64 bits or more) are converted to double by HDF5. Any other type class
 *     (string, enum (h5py's booleans), compound (complex numbers), array, ...) is an error
 *     naming the dataset, as a string value is in JSON: keep other material in groups or
 *     attributes, or under names that are not identifiers ("_notes"). A null dataspace, or
 *     a rank above PS_DATA_MAX_DIMS, is an error.
 *   - Variables come in creation order when the root group tracks it, otherwise in name
 *     order. Attributes are ignored.
 *
 * Rules for the model's checker (what CmdStan does, stan/io/json/json_data.hpp,
 * validate_dims):
 *   - A declared variable that is missing from the file is an error unless its declared
 *     size is 0 (CmdStan treats a missing variable like an empty one).
 *   - If the declared size (product of the declared extents, 1 for a scalar) and the
 *     variable's size are both 0, accept it whatever the shapes: an empty JSON array cannot
 *     state the inner extents. Otherwise ndim must equal the declared number of dimensions
 *     (array dimensions first, then 1 for a vector or row vector, 2 for a matrix) and every
 *     extent must match; a scalar has ndim 0 and "[5]" is not a scalar.
 *   - An int declaration needs type PS_DATA_INT (call ps_data_require_int for the error);
 *     a real, vector or matrix declaration accepts either type (ps_data_real gives doubles).
 *   - Report other problems about a value (bounds, simplex, ...) with ps_data_error, which
 *     points at the element's line and column in a JSON file.
 *   - Variables the program does not declare are ignored.
 *
 * For the trace writer (observed_data, constant_data): a variable is a ps_trace_array
 * {name, PS_TRACE_I64 with ints or PS_TRACE_F64 with reals, ndim, dims}, row-major as there.
 *
 * Ownership and threads: a ps_data is immutable after reading; every chain (and thread) on
 * a rank may read it at once. Everything it hands out lives as long as the ps_data.
 * Every function here is Local: each rank reads the file itself.
 */
#ifndef PS_DATA_H
#define PS_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Most dimensions a variable may have (as the trace writer's PS_TRACE_MAX_DIMS). */
#define PS_DATA_MAX_DIMS 8

/* Deepest nesting of a skipped JSON value (the value of a key that is not an identifier). */
#define PS_DATA_MAX_NESTING 64

/* Stan's int range: ints are 32-bit. */
#define PS_DATA_INT_MIN (-2147483647 - 1)
#define PS_DATA_INT_MAX 2147483647

/* No element: for ps_data_error about a whole variable. */
#define PS_DATA_WHOLE ((size_t)-1)

typedef struct ps_data ps_data;

typedef enum ps_data_type {
    PS_DATA_INT = 0, /* every element is an integer in Stan's int range; `ints` is set */
    PS_DATA_REAL = 1 /* anything else; `reals` is set */
} ps_data_type;

typedef enum ps_data_format {
    PS_DATA_NONE = 0, /* ps_data_create_empty */
    PS_DATA_JSON = 1,
    PS_DATA_HDF5 = 2
} ps_data_format;

/* One variable. All pointers belong to the ps_data. */
typedef struct ps_data_var {
    const char *name; /* a Stan identifier */
    ps_data_type type;
    int ndim;                      /* 0 for a scalar */
    size_t dims[PS_DATA_MAX_DIMS]; /* extents, outermost first (dims[i] for i < ndim) */
    size_t size;                   /* product of the extents; 1 for a scalar */
    const int64_t *ints;           /* PS_DATA_INT: size values, row-major; else NULL */
    const double *reals;           /* PS_DATA_REAL: size values, row-major; else NULL */
    /* PS_DATA_REAL only, for ps_data_require_int: the row-major index of the first element
     * that is not an integer in Stan's int range, and whether that element is an integer
     * outside the range (true) rather than a real (false). */
    size_t first_non_int;
    bool int_out_of_range;
    /* JSON: byte offset of the value in the text (for messages); HDF5: 0. */
    size_t offset;
} ps_data_var;

/* Local. Reads a data file, JSON or HDF5 by its content (HDF5's signature at offset 0 or
 * at 512, 1024, 2048, ... bytes; anything else is parsed as JSON). The caller owns *out
 * (ps_data_destroy). Errors: PS_ERR_IO when the file cannot be read or HDF5 fails;
 * PS_ERR_DATA for malformed or unsupported content, with a message naming the file and, for
 * JSON, the line and column; PS_ERR_MEM. *out is NULL on failure.
 * Fault point (core.h): "data_read" makes it fail with PS_ERR_DATA. */
ps_status ps_data_read_file(const char *path, ps_data **out);

/* Local. Parses Stan JSON text of len bytes (need not be NUL-terminated; it is copied).
 * path names the text in messages (may be NULL: "<data>"). Errors as ps_data_read_file. */
ps_status ps_data_read_json(const char *path, const char *text, size_t len, ps_data **out);

/* Local. Reads an HDF5 data file. Turns off HDF5's automatic error printing (process-wide,
 * as the trace writer does). Errors as ps_data_read_file. */
ps_status ps_data_read_hdf5(const char *path, ps_data **out);

/* Local. Data with no variables, for a model without data. Errors: PS_ERR_MEM. */
ps_status ps_data_create_empty(ps_data **out);

/* Local. Frees the data; accepts NULL and *d == NULL; sets *d to NULL. */
void ps_data_destroy(ps_data **d);

/* Local. The number of variables, and variable i (0 <= i < count; NULL beyond), in file
 * order (JSON) or creation/name order (HDF5). */
size_t ps_data_count(const ps_data *d);
const ps_data_var *ps_data_at(const ps_data *d, size_t i);

/* Local. The variable of that name, or NULL. Constant time (a hash table). */
const ps_data_var *ps_data_find(const ps_data *d, const char *name);

/* Local. Where the data came from: the path given ("<data>" for text without a path, ""
 * for empty data), and the format. */
const char *ps_data_path(const ps_data *d);
ps_data_format ps_data_format_of(const ps_data *d);

/* Local. The JSON text (a NUL-terminated copy of what was read) and its length in *len,
 * for located messages; NULL (and *len 0) for HDF5 and empty data. len may be NULL. */
const char *ps_data_text(const ps_data *d, size_t *len);

/* Local. Element i (row-major) of v as a double, whatever its type. */
static inline double ps_data_real(const ps_data_var *v, size_t i)
{
    return v->type == PS_DATA_INT ? (double)v->ints[i] : v->reals[i];
}

/* Local. PS_OK if v holds ints (type PS_DATA_INT); otherwise records and returns
 * PS_ERR_DATA with a message that names the first element that is not an int and why
 * ("'y': y[3] is 2.5, not an integer" or "... is 3000000000, outside Stan's int range"),
 * located at that element in a JSON file. */
ps_status ps_data_require_int(const ps_data *d, const ps_data_var *v);

/* Local. Records status (usually PS_ERR_DATA) with "MESSAGE" about variable v: located at
 * element `index` (row-major; PS_DATA_WHOLE for the whole value) in a JSON file
 * ("FILE:LINE:COL: error: MESSAGE" with the line and a caret), or "FILE: MESSAGE" for HDF5.
 * The message should name the variable and the element (ps_data_index_text helps).
 * Returns status. */
ps_status ps_data_error(const ps_data *d, const ps_data_var *v, size_t index, ps_status status,
                        const char *fmt, ...) PS_PRINTF(5, 6);

/* Local. Writes "name[i1, i2, ...]" (1-based, as in Stan) for element `index` of v into buf
 * (truncated to cap bytes, always NUL-terminated when cap > 0); just "name" for a scalar or
 * PS_DATA_WHOLE. Returns buf. */
char *ps_data_index_text(const ps_data_var *v, size_t index, char *buf, size_t cap);

/* Local. Byte offset in the JSON text of element `index` of v (found by rescanning the
 * value: linear in its size, meant for messages), or v->offset for PS_DATA_WHOLE, an index
 * out of range, or HDF5 data. */
size_t ps_data_element_offset(const ps_data *d, const ps_data_var *v, size_t index);

#endif
