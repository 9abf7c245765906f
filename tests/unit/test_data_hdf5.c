/*
 * The HDF5 data reader (src/data/h5.c): files written here with the HDF5 C API read back
 * exactly; type, shape and file problems give the documented errors.
 */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "testlib.h"

static char dir[] = "/tmp/psample_test_h5_XXXXXX";

static void file_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* Writes one dataset; rank -1 makes a scalar dataspace, -2 a null one. */
static void write_ds(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                     const hsize_t *dims, const void *values)
{
    hid_t space = rank == -1   ? H5Screate(H5S_SCALAR)
                  : rank == -2 ? H5Screate(H5S_NULL)
                               : H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(ds >= 0, "creating dataset %s", name);
    if (values != NULL)
        CHECK(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0, "writing %s",
              name);
    H5Dclose(ds);
    H5Sclose(space);
}

static hid_t create_file(const char *name, bool track_order, hsize_t userblock)
{
    char path[512];
    file_path(path, sizeof path, name);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (track_order)
        H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    if (userblock > 0)
        H5Pset_userblock(fcpl, userblock);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    CHECK(file >= 0, "creating %s", path);
    H5Pclose(fcpl);
    return file;
}

static ps_data *read_ok(const char *name)
{
    char path[512];
    file_path(path, sizeof path, name);
    ps_error_clear();
    ps_data *d = NULL;
    ps_status status = ps_data_read_file(path, &d);
    CHECK(status == PS_OK && d != NULL, "reading %s: status %d, %s", path, (int)status,
          ps_error_message());
    return d;
}

static void read_fails(const char *name, ps_status want_status, const char *want_message)
{
    char path[512], want[1024];
    file_path(path, sizeof path, name);
    snprintf(want, sizeof want, want_message, path);
    ps_error_clear();
    ps_data *d = (ps_data *)(uintptr_t)1;
    ps_status status = ps_data_read_hdf5(path, &d);
    CHECK(status == want_status && d == NULL, "reading %s: status %d, expected %d (%s)", path,
          (int)status, (int)want_status, ps_error_message());
    CHECK(strncmp(ps_error_message(), want, strlen(want)) == 0,
          "reading %s:\n  expected message: %s\n  got:              %s", path, want,
          ps_error_message());
    ps_data_destroy(&d);
    ps_error_clear();
}

static const ps_data_var *var(const ps_data *d, const char *name, ps_data_type type, int ndim,
                              const size_t *dims)
{
    const ps_data_var *v = d ? ps_data_find(d, name) : NULL;
    CHECK(v != NULL, "variable '%s' not found", name);
    if (v == NULL)
        return NULL;
    CHECK(v->type == type, "'%s': type %d, expected %d", name, (int)v->type, (int)type);
    CHECK(v->ndim == ndim, "'%s': ndim %d, expected %d", name, v->ndim, ndim);
    size_t size = 1;
    for (int k = 0; k < ndim; k++) {
        size *= dims[k];
        if (k < v->ndim)
            CHECK(v->dims[k] == dims[k], "'%s': dims[%d] is %zu, expected %zu", name, k, v->dims[k],
                  dims[k]);
    }
    CHECK(v->size == size, "'%s': size %zu, expected %zu", name, v->size, size);
    CHECK((type == PS_DATA_INT) == (v->ints != NULL) &&
              (type == PS_DATA_REAL) == (v->reals != NULL),
          "'%s': exactly the array of its type is set", name);
    return v->type == type && v->size == size ? v : NULL;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_values(void)
{
    hid_t file = create_file("good.h5", false, 0);
    int32_t n = 5;
    write_ds(file, "N", H5T_STD_I32LE, H5T_NATIVE_INT32, -1, NULL, &n);
    int64_t y[3] = {1, -2, 2147483647};
    write_ds(file, "y", H5T_STD_I64BE, H5T_NATIVE_INT64, 1, (hsize_t[]){3}, y);
    uint8_t u8[6] = {0, 1, 2, 253, 254, 255};
    write_ds(file, "u8", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, (hsize_t[]){2, 3}, u8);
    int64_t big[2] = {1, 3000000000LL};
    write_ds(file, "big", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, (hsize_t[]){2}, big);
    int16_t neg = -32768;
    write_ds(file, "neg", H5T_STD_I16LE, H5T_NATIVE_INT16, -1, NULL, &neg);
    uint64_t u64[2] = {7, UINT64_MAX};
    write_ds(file, "u64", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, (hsize_t[]){2}, u64);
    uint64_t u64small = 42;
    write_ds(file, "u64small", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, (hsize_t[]){1}, &u64small);
    uint32_t u32 = 4294967295u;
    write_ds(file, "u32", H5T_STD_U32LE, H5T_NATIVE_UINT32, -1, NULL, &u32);
    double x[6] = {0.1, 2.385, -1e-300, 4.9e-324, 1.7976931348623157e308, -0.0};
    write_ds(file, "x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, (hsize_t[]){3, 2}, x);
    float f32[2] = {0.1f, -2.5f};
    write_ds(file, "f32", H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){2}, f32);
    double s = -INFINITY;
    write_ds(file, "s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, NULL, &s);
    long double ld = 1.5L;
    write_ds(file, "ld", H5T_NATIVE_LDOUBLE, H5T_NATIVE_LDOUBLE, -1, NULL, &ld);
    write_ds(file, "empty", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, (hsize_t[]){0}, NULL);
    write_ds(file, "empty_i", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, (hsize_t[]){3, 0}, NULL);
    int8_t r8[2] = {-5, 6};
    write_ds(file, "r8", H5T_STD_I8LE, H5T_NATIVE_INT8, 8, (hsize_t[]){1, 1, 1, 1, 1, 1, 1, 2}, r8);
    /* Not variables: names that are not identifiers, groups, soft links, named types,
     * attributes. */
    write_ds(file, "_meta", H5T_STD_I32LE, H5T_NATIVE_INT32, -1, NULL, &n);
    write_ds(file, "a.b", H5T_STD_I32LE, H5T_NATIVE_INT32, -1, NULL, &n);
    hid_t group = H5Gcreate2(file, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    write_ds(group, "inner", H5T_STD_I32LE, H5T_NATIVE_INT32, -1, NULL, &n);
    H5Gclose(group);
    H5Lcreate_soft("/y", file, "soft", H5P_DEFAULT, H5P_DEFAULT);
    hid_t named = H5Tcopy(H5T_STD_I32LE);
    H5Tcommit2(file, "T", named, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Tclose(named);
    hid_t aspace = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, "note", H5T_NATIVE_INT, aspace, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, H5T_NATIVE_INT, &n);
    H5Aclose(attr);
    H5Sclose(aspace);
    H5Fclose(file);

    ps_data *d = read_ok("good.h5");
    CHECK(d && ps_data_format_of(d) == PS_DATA_HDF5 && ps_data_text(d, NULL) == NULL,
          "format HDF5, no text");
    const char *names[] = {"N", "y",   "u8", "big", "neg",   "u64",     "u64small", "u32",
                           "x", "f32", "s",  "ld",  "empty", "empty_i", "r8"};
    size_t n_names = sizeof names / sizeof names[0];
    CHECK(ps_data_count(d) == n_names, "count %zu, expected %zu", ps_data_count(d), n_names);
    qsort(names, n_names, sizeof names[0], compare_names);
    for (size_t i = 0; i < n_names && i < ps_data_count(d); i++)
        CHECK(strcmp(ps_data_at(d, i)->name, names[i]) == 0,
              "variable %zu is '%s', expected '%s' (name order)", i, ps_data_at(d, i)->name,
              names[i]);

    const ps_data_var *v = var(d, "N", PS_DATA_INT, 0, NULL);
    CHECK(v && v->ints[0] == 5, "N");
    v = var(d, "y", PS_DATA_INT, 1, (size_t[]){3});
    for (int i = 0; v && i < 3; i++)
        CHECK(v->ints[i] == y[i], "y[%d] is %lld", i, (long long)v->ints[i]);
    v = var(d, "u8", PS_DATA_INT, 2, (size_t[]){2, 3});
    for (int i = 0; v && i < 6; i++)
        CHECK(v->ints[i] == u8[i], "u8[%d] is %lld, expected %d", i, (long long)v->ints[i], u8[i]);
    v = var(d, "big", PS_DATA_REAL, 1, (size_t[]){2});
    CHECK(v && v->reals[0] == 1.0 && v->reals[1] == 3e9 && v->first_non_int == 1 &&
              v->int_out_of_range,
          "big: ints outside Stan's range make a real");
    v = var(d, "neg", PS_DATA_INT, 0, NULL);
    CHECK(v && v->ints[0] == -32768, "neg");
    v = var(d, "u64", PS_DATA_REAL, 1, (size_t[]){2});
    CHECK(v && v->reals[0] == 7.0 && v->reals[1] == 18446744073709551616.0 &&
              v->first_non_int == 1 && v->int_out_of_range,
          "u64 beyond int64 is not clipped");
    v = var(d, "u64small", PS_DATA_INT, 1, (size_t[]){1});
    CHECK(v && v->ints[0] == 42, "u64small");
    v = var(d, "u32", PS_DATA_REAL, 0, NULL);
    CHECK(v && v->reals[0] == 4294967295.0 && v->int_out_of_range, "u32");
    v = var(d, "x", PS_DATA_REAL, 2, (size_t[]){3, 2});
    for (int i = 0; v && i < 6; i++)
        CHECK(memcmp(&v->reals[i], &x[i], sizeof x[i]) == 0, "x[%d] is %.17g, expected %.17g", i,
              v->reals[i], x[i]);
    v = var(d, "f32", PS_DATA_REAL, 1, (size_t[]){2});
    CHECK(v && v->reals[0] == (double)0.1f && v->reals[1] == -2.5, "f32 widened exactly");
    v = var(d, "s", PS_DATA_REAL, 0, NULL);
    CHECK(v && v->reals[0] == -INFINITY, "s");
    v = var(d, "ld", PS_DATA_REAL, 0, NULL);
    CHECK(v && v->reals[0] == 1.5, "long double");
    var(d, "empty", PS_DATA_REAL, 1, (size_t[]){0});
    var(d, "empty_i", PS_DATA_INT, 2, (size_t[]){3, 0});
    v = var(d, "r8", PS_DATA_INT, 8, (size_t[]){1, 1, 1, 1, 1, 1, 1, 2});
    CHECK(v && v->ints[0] == -5 && v->ints[1] == 6, "r8");

    /* The checker's helpers name the file and the dataset. */
    char path[512], want[1024];
    file_path(path, sizeof path, "good.h5");
    v = ps_data_find(d, "x");
    ps_error_clear();
    CHECK(v && ps_data_require_int(d, v) == PS_ERR_DATA, "x is not int");
    snprintf(want, sizeof want,
             "%s: 'x' must hold ints, but dataset 'x' has a floating-point type (store ints in an "
             "integer dataset)",
             path);
    CHECK(strcmp(ps_error_message(), want) == 0, "expected %s, got %s", want, ps_error_message());
    ps_error_clear();
    v = ps_data_find(d, "big");
    CHECK(v && ps_data_require_int(d, v) == PS_ERR_DATA, "big is not int");
    snprintf(want, sizeof want,
             "%s: 'big' must hold ints, but big[2] is 3000000000, outside Stan's int range "
             "[-2147483648, 2147483647]",
             path);
    CHECK(strcmp(ps_error_message(), want) == 0, "expected %s, got %s", want, ps_error_message());
    ps_error_clear();
    v = ps_data_find(d, "u8");
    CHECK(v && ps_data_require_int(d, v) == PS_OK, "u8 is int");
    CHECK(v && ps_data_element_offset(d, v, 2) == 0, "no offsets in HDF5");
    ps_data_error(d, v, 4, PS_ERR_DATA, "'u8': u8[2, 2] is too big");
    snprintf(want, sizeof want, "%s: 'u8': u8[2, 2] is too big", path);
    CHECK(strcmp(ps_error_message(), want) == 0, "expected %s, got %s", want, ps_error_message());
    ps_error_clear();
    ps_data_destroy(&d);

    /* Allocation and I/O failures: every one reported, nothing leaked. */
    long k, failures = 0;
    for (k = 1; k < 10000; k++) {
        ps_error_clear();
        ps_fault_alloc_after(k);
        ps_status status = ps_data_read_file(path, &d);
        ps_fault_alloc_after(0);
        if (status == PS_OK)
            break;
        failures++;
        CHECK(status == PS_ERR_MEM && d == NULL, "allocation %ld failed: status %d (%s)", k,
              (int)status, ps_error_message());
    }
    CHECK(failures > 15 && ps_data_count(d) == n_names,
          "%ld allocation failures, then %zu "
          "variables",
          failures, ps_data_count(d));
    ps_data_destroy(&d);
    for (k = 1; k < 1000; k++) {
        ps_error_clear();
        ps_fault_io_after(k);
        ps_status status = ps_data_read_hdf5(path, &d);
        ps_fault_io_after(0);
        if (status == PS_OK)
            break;
        CHECK(status == PS_ERR_IO && d == NULL &&
                  strstr(ps_error_message(), "injected I/O fault") != NULL,
              "I/O failure %ld: status %d (%s)", k, (int)status, ps_error_message());
    }
    CHECK(k > (long)n_names, "every dataset read checks for I/O faults (%ld)", k);
    ps_data_destroy(&d);
    ps_error_clear();
}

static void test_order_and_userblock(void)
{
    hid_t file = create_file("order.h5", true, 0);
    double one = 1;
    write_ds(file, "zeta", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, NULL, &one);
    write_ds(file, "alpha", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, NULL, &one);
    write_ds(file, "mid", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, NULL, &one);
    H5Fclose(file);
    ps_data *d = read_ok("order.h5");
    const char *order[] = {"zeta", "alpha", "mid"};
    CHECK(ps_data_count(d) == 3, "count %zu", ps_data_count(d));
    for (size_t i = 0; i < 3 && i < ps_data_count(d); i++)
        CHECK(strcmp(ps_data_at(d, i)->name, order[i]) == 0,
              "variable %zu is '%s', expected '%s' (creation order)", i, ps_data_at(d, i)->name,
              order[i]);
    ps_data_destroy(&d);

    /* A user block moves the signature to offset 512 (or later): still HDF5 by content. */
    file = create_file("userblock.h5", false, 1024);
    int32_t v = 17;
    write_ds(file, "K", H5T_STD_I32LE, H5T_NATIVE_INT32, -1, NULL, &v);
    H5Fclose(file);
    d = read_ok("userblock.h5");
    const ps_data_var *k = var(d, "K", PS_DATA_INT, 0, NULL);
    CHECK(k && k->ints[0] == 17, "K from a file with a user block");
    ps_data_destroy(&d);

    /* An empty file: no variables. */
    file = create_file("none.h5", false, 0);
    H5Fclose(file);
    d = read_ok("none.h5");
    CHECK(d && ps_data_count(d) == 0, "an empty HDF5 file");
    ps_data_destroy(&d);
}

static void test_errors(void)
{
    hid_t file = create_file("string.h5", false, 0);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 4);
    write_ds(file, "s", str, str, 1, (hsize_t[]){1}, "abc");
    H5Tclose(str);
    H5Fclose(file);
    read_fails("string.h5", PS_ERR_DATA,
               "HDF5 data file %s: dataset 's' has a string type; psample reads integer and "
               "floating-point datasets");

    file = create_file("enum.h5", false, 0);
    hid_t en = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t f = 0, t = 1;
    H5Tenum_insert(en, "FALSE", &f);
    H5Tenum_insert(en, "TRUE", &t);
    int8_t flags[2] = {0, 1};
    write_ds(file, "flag", en, en, 1, (hsize_t[]){2}, flags);
    H5Tclose(en);
    H5Fclose(file);
    read_fails("enum.h5", PS_ERR_DATA,
               "HDF5 data file %s: dataset 'flag' has an enum type (h5py stores booleans so: "
               "store 0 and 1 as integers); psample reads integer and floating-point datasets");

    file = create_file("complex.h5", false, 0);
    hid_t cx = H5Tcreate(H5T_COMPOUND, 2 * sizeof(double));
    H5Tinsert(cx, "r", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(cx, "i", sizeof(double), H5T_NATIVE_DOUBLE);
    double z[2] = {1, -2};
    write_ds(file, "z", cx, cx, -1, NULL, z);
    H5Tclose(cx);
    H5Fclose(file);
    read_fails("complex.h5", PS_ERR_DATA,
               "HDF5 data file %s: dataset 'z' has a compound type (complex numbers and tuples "
               "are not supported yet); psample reads integer and floating-point datasets");

    file = create_file("array.h5", false, 0);
    hid_t arr = H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, (hsize_t[]){2});
    write_ds(file, "a", arr, arr, -1, NULL, z);
    H5Tclose(arr);
    H5Fclose(file);
    read_fails("array.h5", PS_ERR_DATA,
               "HDF5 data file %s: dataset 'a' has an array type (store the extra axes in the "
               "dataspace); psample reads integer and floating-point datasets");

    file = create_file("null.h5", false, 0);
    write_ds(file, "n", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -2, NULL, NULL);
    H5Fclose(file);
    read_fails("null.h5", PS_ERR_DATA,
               "HDF5 data file %s: dataset 'n' has a null dataspace (no value)");

    file = create_file("rank9.h5", false, 0);
    hsize_t ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    write_ds(file, "r", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 9, ones, NULL);
    H5Fclose(file);
    read_fails("rank9.h5", PS_ERR_DATA,
               "HDF5 data file %s: dataset 'r' has 9 dimensions; psample reads at most 8");

    file = create_file("int128.h5", false, 0);
    hid_t wide = H5Tcopy(H5T_STD_I64LE);
    CHECK(H5Tset_size(wide, 16) >= 0, "a 16-byte integer type");
    write_ds(file, "w", wide, wide, -1, NULL, NULL);
    H5Tclose(wide);
    H5Fclose(file);
    read_fails("int128.h5", PS_ERR_DATA,
               "HDF5 data file %s: dataset 'w' has 16-byte integers; psample reads integers of "
               "up to 64 bits");

    /* Raw data in an external file that is gone: the read fails inside HDF5. */
    file = create_file("external.h5", false, 0);
    char ext[512];
    file_path(ext, sizeof ext, "external.bin");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_external(dcpl, ext, 0, 3 * sizeof(double));
    hid_t space = H5Screate_simple(1, (hsize_t[]){3}, NULL);
    hid_t ds = H5Dcreate2(file, "e", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    double three[3] = {1, 2, 3};
    CHECK(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, three) >= 0,
          "writing an external dataset");
    H5Dclose(ds);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Fclose(file);
    unlink(ext);
    read_fails("external.h5", PS_ERR_IO, "HDF5 data file %s: dataset 'e': H5Dread failed: ");

    /* Files that are not HDF5, or not there. */
    read_fails("missing.h5", PS_ERR_IO, "HDF5 data file %s: H5Fopen failed: ");
    char path[512];
    file_path(path, sizeof path, "corrupt.h5");
    FILE *out = fopen(path, "wb");
    fwrite("\x89HDF\r\n\x1a\n", 1, 8, out);
    for (int i = 0; i < 600; i++)
        fputc(i * 37 % 251, out);
    fclose(out);
    read_fails("corrupt.h5", PS_ERR_IO, "HDF5 data file %s: H5Fopen failed: ");
    ps_data *d = NULL;
    CHECK(ps_data_read_file(path, &d) == PS_ERR_IO && d == NULL,
          "a file with HDF5's signature goes to the HDF5 reader");
    ps_error_clear();
}

int main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_values();
    test_order_and_userblock();
    test_errors();
    const char *files[] = {"good.h5",   "order.h5",    "userblock.h5", "none.h5", "string.h5",
                           "enum.h5",   "complex.h5",  "array.h5",     "null.h5", "rank9.h5",
                           "int128.h5", "external.h5", "corrupt.h5"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        file_path(path, sizeof path, files[i]);
        unlink(path);
    }
    rmdir(dir);
    TEST_EXIT();
}
