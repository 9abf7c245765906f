/*
 * The HDF5 data reader: one dataset per variable in the root group (rules in data.h).
 *
 * Each rank opens the file on its own with the default (POSIX) driver, read-only: no
 * communicator is involved, so a failure here is local and is agreed on by the caller.
 * File locking is used when the file system offers it and skipped when it does not
 * (H5Pset_file_locking(..., ignore_when_disabled)), since parallel file systems often have
 * no locks and a read-only open needs none.
 */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "data/data_impl.h"

/* ---------------------------------------------------------------------------------------
 * HDF5 failures: the call, the object and HDF5's own words
 * ------------------------------------------------------------------------------------- */

typedef struct stack_text {
    int count;
    char outer[256];
    char inner[256];
    char minor[128];
} stack_text;

static herr_t stack_walk(unsigned n, const H5E_error2_t *err, void *data)
{
    stack_text *st = data;
    const char *desc = err->desc != NULL ? err->desc : "";
    if (n == 0)
        snprintf(st->outer, sizeof st->outer, "%s", desc);
    snprintf(st->inner, sizeof st->inner, "%s", desc);
    if (H5Eget_msg(err->min_num, NULL, st->minor, sizeof st->minor) < 0)
        st->minor[0] = '\0';
    st->count++;
    return 0;
}

/* Records PS_ERR_IO for a failed HDF5 call, with the outermost and innermost entries of
 * HDF5's error stack of this thread (which is then cleared). */
static ps_status h5_fail(const char *path, const char *call, const char *dataset)
{
    stack_text st;
    memset(&st, 0, sizeof st);
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, stack_walk, &st) < 0)
        st.count = 0;
    H5Eclear2(H5E_DEFAULT);
    char why[700];
    if (st.count == 0)
        snprintf(why, sizeof why, "HDF5 gave no details");
    else if (st.count == 1 || strcmp(st.outer, st.inner) == 0)
        snprintf(why, sizeof why, "%s (%s)", st.inner, st.minor);
    else
        snprintf(why, sizeof why, "%s: %s (%s)", st.outer, st.inner, st.minor);
    if (dataset != NULL)
        return ps_error(PS_ERR_IO, "HDF5 data file %s: dataset '%s': %s failed: %s", path, dataset,
                        call, why);
    return ps_error(PS_ERR_IO, "HDF5 data file %s: %s failed: %s", path, call, why);
}

/* ---------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------- */

typedef struct name_list {
    char **names;
    size_t n, cap;
    bool failed;
} name_list;

/* Collects the names of the root group's hard links (H5Literate's callback). */
static herr_t collect_name(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group;
    name_list *list = data;
    if (info->type != H5L_TYPE_HARD || !ps_data_is_identifier(name, strlen(name)))
        return 0;
    if (list->n == list->cap) {
        size_t cap = list->cap == 0 ? 16 : 2 * list->cap;
        char **names = ps_realloc(list->names, cap * sizeof *names);
        if (names == NULL) {
            list->failed = true;
            return -1;
        }
        list->names = names;
        list->cap = cap;
    }
    list->names[list->n] = ps_strdup(name);
    if (list->names[list->n] == NULL) {
        list->failed = true;
        return -1;
    }
    list->n++;
    return 0;
}

static void name_list_free(name_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        ps_free(list->names[i]);
    ps_free(list->names);
    memset(list, 0, sizeof *list);
}

static const char *class_text(H5T_class_t c)
{
    switch (c) {
    case H5T_STRING:
        return "a string type";
    case H5T_ENUM:
        return "an enum type (h5py stores booleans so: store 0 and 1 as integers)";
    case H5T_COMPOUND:
        return "a compound type (complex numbers and tuples are not supported yet)";
    case H5T_ARRAY:
        return "an array type (store the extra axes in the dataspace)";
    case H5T_VLEN:
        return "a variable-length type";
    case H5T_BITFIELD:
        return "a bitfield type";
    case H5T_OPAQUE:
        return "an opaque type";
    case H5T_REFERENCE:
        return "a reference type";
    case H5T_TIME:
        return "a time type";
    default:
        return "an unknown type";
    }
}

/* Turns ints that leave Stan's int range into reals (as a JSON reader does for integer
 * literals outside it). values[i] holds int64 values, or uint64 when is_unsigned. */
static ps_status settle_ints(ps_data_var *v, int64_t *values, bool is_unsigned)
{
    size_t bad = (size_t)-1;
    for (size_t i = 0; i < v->size && bad == (size_t)-1; i++) {
        if (is_unsigned ? (uint64_t)values[i] > (uint64_t)PS_DATA_INT_MAX
                        : values[i] < PS_DATA_INT_MIN || values[i] > PS_DATA_INT_MAX)
            bad = i;
    }
    if (bad == (size_t)-1) {
        v->type = PS_DATA_INT;
        v->ints = values;
        return PS_OK;
    }
    double *reals = NULL;
    PS_CHECK(ps_alloc_array(&reals, v->size, sizeof *reals, "data values"));
    for (size_t i = 0; i < v->size; i++)
        reals[i] = is_unsigned ? (double)(uint64_t)values[i] : (double)values[i];
    ps_free(values);
    v->type = PS_DATA_REAL;
    v->reals = reals;
    v->first_non_int = bad;
    v->int_out_of_range = true;
    return PS_OK;
}

/* Reads dataset `name` of the root group into v (name set by the caller). */
static ps_status read_dataset(const char *path, hid_t file, const char *name, ps_data_var *v,
                              bool *skip)
{
    ps_status status = PS_OK;
    hid_t obj = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    void *values = NULL;
    *skip = false;
    if (ps_fault_io()) {
        status =
            ps_error(PS_ERR_IO, "HDF5 data file %s: dataset '%s': injected I/O fault", path, name);
        goto done;
    }
    obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0) {
        status = h5_fail(path, "H5Oopen", name);
        goto done;
    }
    if (H5Iget_type(obj) != H5I_DATASET) {
        *skip = true; /* a group or a named datatype */
        goto done;
    }
    type = H5Dget_type(obj);
    if (type < 0) {
        status = h5_fail(path, "H5Dget_type", name);
        goto done;
    }
    space = H5Dget_space(obj);
    if (space < 0) {
        status = h5_fail(path, "H5Dget_space", name);
        goto done;
    }
    H5S_class_t space_class = H5Sget_simple_extent_type(space);
    if (space_class == H5S_NULL) {
        status = ps_error(PS_ERR_DATA,
                          "HDF5 data file %s: dataset '%s' has a null dataspace "
                          "(no value)",
                          path, name);
        goto done;
    }
    if (space_class == H5S_SCALAR) {
        v->ndim = 0;
    } else if (space_class == H5S_SIMPLE) {
        int rank = H5Sget_simple_extent_ndims(space);
        if (rank < 0) {
            status = h5_fail(path, "H5Sget_simple_extent_ndims", name);
            goto done;
        }
        if (rank > PS_DATA_MAX_DIMS) {
            status = ps_error(PS_ERR_DATA,
                              "HDF5 data file %s: dataset '%s' has %d dimensions; psample reads "
                              "at most %d",
                              path, name, rank, PS_DATA_MAX_DIMS);
            goto done;
        }
        hsize_t dims[PS_DATA_MAX_DIMS];
        if (H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
            status = h5_fail(path, "H5Sget_simple_extent_dims", name);
            goto done;
        }
        v->ndim = rank;
        for (int k = 0; k < rank; k++) {
            if (dims[k] > (hsize_t)SIZE_MAX) {
                status = ps_error(PS_ERR_DATA, "HDF5 data file %s: dataset '%s' is too large", path,
                                  name);
                goto done;
            }
            v->dims[k] = (size_t)dims[k];
        }
    } else {
        status = h5_fail(path, "H5Sget_simple_extent_type", name);
        goto done;
    }
    if (!ps_data_dims_product(v->dims, v->ndim, &v->size) || v->size > SIZE_MAX / 8) {
        status = ps_error(PS_ERR_DATA, "HDF5 data file %s: dataset '%s' is too large", path, name);
        goto done;
    }
    H5T_class_t type_class = H5Tget_class(type);
    bool is_unsigned = false;
    hid_t mem_type;
    if (type_class == H5T_INTEGER) {
        size_t bytes = H5Tget_size(type);
        H5T_sign_t sign = H5Tget_sign(type);
        if (bytes == 0 || sign == H5T_SGN_ERROR) {
            status = h5_fail(path, "H5Tget_size/H5Tget_sign", name);
            goto done;
        }
        if (bytes > 8) {
            status = ps_error(PS_ERR_DATA,
                              "HDF5 data file %s: dataset '%s' has %zu-byte integers; psample "
                              "reads integers of up to 64 bits",
                              path, name, bytes);
            goto done;
        }
        /* Unsigned 64-bit values may exceed int64: read them as they are, so that HDF5 does
         * not clip them on conversion. */
        is_unsigned = sign == H5T_SGN_NONE && bytes == 8;
        mem_type = is_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64;
    } else if (type_class == H5T_FLOAT) {
        mem_type = H5T_NATIVE_DOUBLE;
    } else if (type_class < 0) {
        status = h5_fail(path, "H5Tget_class", name);
        goto done;
    } else {
        status = ps_error(PS_ERR_DATA,
                          "HDF5 data file %s: dataset '%s' has %s; psample reads integer and "
                          "floating-point datasets",
                          path, name, class_text(type_class));
        goto done;
    }
    PS_TRY(ps_alloc_array(&values, v->size > 0 ? v->size : 1, 8, "data values"));
    if (v->size > 0 && H5Dread(obj, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) {
        status = h5_fail(path, "H5Dread", name);
        goto done;
    }
    if (type_class == H5T_FLOAT) {
        v->type = PS_DATA_REAL;
        v->reals = values;
        v->first_non_int = 0;
        values = NULL;
    } else {
        PS_TRY(settle_ints(v, values, is_unsigned));
        values = NULL;
    }
done:
    ps_free(values);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (obj >= 0)
        H5Oclose(obj);
    return status;
}

/* Link creation order when the root group tracks it (h5py does not by default), else name
 * order. */
static H5_index_t iteration_order(hid_t group)
{
    H5_index_t order = H5_INDEX_NAME;
    hid_t gcpl = H5Gget_create_plist(group);
    unsigned flags = 0;
    if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &flags) >= 0 &&
        (flags & H5P_CRT_ORDER_INDEXED) != 0)
        order = H5_INDEX_CRT_ORDER;
    if (gcpl >= 0)
        H5Pclose(gcpl);
    H5Eclear2(H5E_DEFAULT);
    return order;
}

ps_status ps_data_read_hdf5(const char *path, ps_data **out)
{
    *out = NULL;
    ps_status status = PS_OK;
    ps_data *d = NULL;
    hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID, root = H5I_INVALID_HID;
    name_list names;
    memset(&names, 0, sizeof names);
    ps_data_var v;
    memset(&v, 0, sizeof v);

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    PS_TRY(ps_data_new(path, PS_DATA_HDF5, &d));
    if (ps_fault_io()) {
        status = ps_error(PS_ERR_IO, "HDF5 data file %s: injected I/O fault", path);
        goto done;
    }
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_file_locking(fapl, true, true) < 0) {
        status = h5_fail(path, "H5Pset_file_locking", NULL);
        goto done;
    }
    file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (file < 0) {
        status = h5_fail(path, "H5Fopen", NULL);
        goto done;
    }
    root = H5Gopen2(file, "/", H5P_DEFAULT);
    if (root < 0) {
        status = h5_fail(path, "H5Gopen2", NULL);
        goto done;
    }
    hsize_t at = 0;
    if (H5Literate(root, iteration_order(root), H5_ITER_INC, &at, collect_name, &names) < 0) {
        if (names.failed)
            status = ps_error(PS_ERR_MEM, "out of memory reading data");
        else
            status = h5_fail(path, "H5Literate", NULL);
        goto done;
    }
    for (size_t i = 0; i < names.n; i++) {
        bool skip = false;
        memset(&v, 0, sizeof v);
        PS_TRY(read_dataset(path, root, names.names[i], &v, &skip));
        if (skip)
            continue;
        v.name = names.names[i];
        names.names[i] = NULL;
        PS_TRY(ps_data_append(d, &v, 0));
    }
done:
    ps_data_var_free(&v);
    name_list_free(&names);
    if (root >= 0)
        H5Gclose(root);
    if (file >= 0)
        H5Fclose(file);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (status != PS_OK)
        ps_data_destroy(&d);
    *out = d;
    return status;
}
