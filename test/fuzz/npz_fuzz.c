/* npz_fuzz.c: libFuzzer harness for the .npz reader (lib/io/npz.c, over zipread.c and npy.h): the
 * input read from memory (npz_read_mem) and, as a file, without copying (npz_read_mapped, so that
 * members used in place in the mapping are checked too); every array found again by its key and
 * read to its last byte. Failures must carry a one-line message. Built and run by `make fuzz`
 * (test/fuzz/run.sh). */
#include "io/npz.h"

#include "fuzz_common.h"

static void check(const npz *z) {
    for (int i = 0; i < z->n; i++) {
        const npy_array *a = &z->items[i].arr;
        if (!npz_find(z, z->items[i].key)) abort();
        fuzz_touch(a->data, (size_t)a->count * npy_dtype_size(a->dtype));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    npz z;
    int r = npz_read_mem(data, size, "fuzz.npz", &z, err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r == 0) { check(&z); npz_free(&z); }

    npz_mapped m;
    r = npz_read_mapped(fuzz_memfile(data, size), &m, 64, err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r == 0) { check(&m.z); npz_mapped_free(&m); }
    return 0;
}
