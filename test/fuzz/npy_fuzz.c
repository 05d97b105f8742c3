/* npy_fuzz.c: libFuzzer harness for the .npy reader (lib/io/npy.h): the input read as one array
 * from memory (npy_read_mem), then as a stream of arrays back to back from a FILE (npy_read, as the
 * tools read their stdin), then again through npy_read_header + npy_read_data. Every array read is
 * checked against its header (count = product of the shape, data readable to its last byte);
 * every failure must carry a one-line message and leave no data behind. Built and run by
 * `make fuzz` (test/fuzz/run.sh). */
#include "io/npy.h"

#include "fuzz_common.h"

static void check_array(const npy_array *a) {
    uint64_t count = 1;   /* unsigned: (huge, 0) is an empty array whose partial product may wrap */
    if (a->ndim < 0 || a->ndim > NPY_MAX_DIMS || npy_dtype_size(a->dtype) == 0) abort();
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] < 0) abort();
        count *= (uint64_t)a->shape[i];
    }
    for (int i = 0; i < a->ndim; i++) if (a->shape[i] == 0) count = 0;
    if (count != (uint64_t)a->count || !a->data) abort();
    fuzz_touch(a->data, (size_t)a->count * npy_dtype_size(a->dtype));
}

static void check_failed(int r, const npy_array *a, const char *err) {
    fuzz_check_err(r < 0, err);
    if (r < 0 && a->data) abort();   /* npy.h: after an error a->data is NULL */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    npy_array a;
    int r = npy_read_mem(data, size, &a, err, sizeof err);
    check_failed(r, &a, err);
    if (r == 1) { check_array(&a); npy_free(&a); }

    if (size == 0) return 0;   /* fmemopen wants a buffer of at least one byte */
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) abort();
    for (int k = 0; k < 64; k++) {
        r = npy_read(f, &a, err, sizeof err);
        check_failed(r, &a, err);
        if (r != 1) break;
        check_array(&a);
        npy_free(&a);
    }
    rewind(f);
    for (int k = 0; k < 64; k++) {
        npy_header h;
        int64_t got;
        r = npy_read_header(f, &h, err, sizeof err);
        fuzz_check_err(r < 0, err);
        if (r != 1) break;
        r = npy_read_data(f, &h, &a, &got, err, sizeof err);
        check_failed(r, &a, err);
        if (r != 1) break;
        if (got != (int64_t)((size_t)h.count * npy_dtype_size(h.dtype))) abort();
        check_array(&a);
        npy_free(&a);
    }
    fclose(f);
    return 0;
}
