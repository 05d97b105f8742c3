/* ckpt_fuzz.c: libFuzzer harness for the checkpoint readers (lib/import/ckpt_import.c and what it uses:
 * lib/io/pickle.c, lib/io/zipread.c, lib/io/safetensors.c, lib/io/npz.c). Each input is opened as a file
 * would be (format told by content), every tensor listed and materialised, then freed.
 * Not built by `make`; build and run by hand (clang with libFuzzer), from the repository root:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ilib test/fuzz/ckpt_fuzz.c \
 *     lib/import/ckpt_import.c lib/io/pickle.c lib/io/zipread.c lib/io/safetensors.c lib/io/npz.c lib/io/npy.c \
 *     lib/core/common.c lib/core/atomic_file.c -lz -o /tmp/ckpt_fuzz
 *   mkdir -p /tmp/corpus && cp test/fixtures/ckpt/sd_*.pt test/fixtures/ckpt/st.safetensors \
 *     test/fixtures/ckpt/bad/[a-z]*[a-z] /tmp/corpus/
 *   /tmp/ckpt_fuzz -max_len=16384 -timeout=10 -rss_limit_mb=2048 -max_total_time=600 /tmp/corpus
 *
 * Crashes it finds become files in test/fixtures/ckpt/fuzz/, which test/ckpt.bats runs through
 * `ckpt list` and `ckpt import` (each must exit 0 or 2 with at most one line on stderr). */
#include "import/ckpt_import.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cki_file f;
    char err[1024];
    if (cki_open_mem(&f, data, size, "fuzz", 1, err, sizeof err) == 0) {
        for (int i = 0; i < f.n; i++) {
            npy_array a;
            int borrowed;
            if (cki_tensor_read(&f.t[i], &a, &borrowed, err, sizeof err) == 0) {
                volatile unsigned char sink = 0;
                size_t nb = (size_t)a.count * npy_dtype_size(a.dtype);
                for (size_t k = 0; k < nb; k += 4096) sink ^= ((const unsigned char *)a.data)[k];
                if (nb) sink ^= ((const unsigned char *)a.data)[nb - 1];
                (void)sink;
                if (!borrowed) free(a.data);
            }
        }
        cki_close(&f);
    }
    return 0;
}
