/* ckpt_fuzz.c: libFuzzer harness for the checkpoint importer (lib/import/ckpt_import.c and what it
 * uses: lib/io/pickle.c, zipread.c, safetensors.c, npz.c). Each input is opened as a file would be
 * (format told by content), every tensor listed and materialised (read to its last byte), then
 * freed. Failures must carry a one-line message. Built and run by `make fuzz` (test/fuzz/run.sh);
 * the inputs it found before it ran in CI are in test/fixtures/ckpt/fuzz/, which test/ckpt.bats
 * also runs through `ckpt list` and `ckpt import`. */
#include "import/ckpt_import.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cki_file f;
    char err[1024];
    int r = cki_open_mem(&f, data, size, "fuzz", 1, err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r) return 0;
    (void)cki_format_name(f.format);
    for (int i = 0; i < f.n; i++) {
        npy_array a;
        int borrowed;
        r = cki_tensor_read(&f.t[i], &a, &borrowed, err, sizeof err);
        fuzz_check_err(r != 0, err);
        if (r) continue;
        if (a.count != cki_count(&f.t[i])) abort();
        fuzz_touch(a.data, (size_t)a.count * npy_dtype_size(a.dtype));
        if (!borrowed) free(a.data);
    }
    cki_close(&f);
    return 0;
}
