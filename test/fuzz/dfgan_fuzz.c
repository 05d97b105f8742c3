/* dfgan_fuzz.c: libFuzzer harness for DF-GAN's training-checkpoint import
 * (lib/import/dfgan_import.c over ckpt_import.c): the input opened as a PyTorch checkpoint
 * without listing (as `ckpt import --dfgan` opens it) and imported into G's and D's items, which
 * are read to their last byte; nothing is written. Failures must carry a one-line message. Built
 * and run by `make fuzz` (test/fuzz/run.sh). */
#include "import/dfgan_import.h"

#include "fuzz_common.h"

static void touch_items(const dfgan_items *l) {
    for (int i = 0; i < l->n; i++) {
        const npy_array *a = &l->items[i].arr;
        fuzz_touch(a->data, (size_t)a->count * npy_dtype_size(a->dtype));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cki_file f;
    char err[1024];
    int r = cki_open_mem(&f, data, size, "fuzz.pth", 0, err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r) return 0;
    dfgan_ckpt c;
    r = dfgan_import(&f, &c, err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r == 0) {
        touch_items(&c.G);
        touch_items(&c.D);
        dfgan_ckpt_free(&c);
    }
    cki_close(&f);
    return 0;
}
