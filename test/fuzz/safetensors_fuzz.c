/* safetensors_fuzz.c: libFuzzer harness for the safetensors header parser (lib/io/safetensors.c):
 * every entry it accepts must lie inside the data section with the byte size its shape and dtype
 * give, and is read to its last byte. Failures must carry a one-line message. Built and run by
 * `make fuzz` (test/fuzz/run.sh). */
#include "io/safetensors.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    st_file f;
    int r = st_parse(&f, data, size, "fuzz.safetensors", err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r) return 0;
    for (int i = 0; i < f.n; i++) {
        const st_entry *e = &f.e[i];
        if (e->begin > e->end || e->end > f.data_len) abort();
        uint64_t count = 1;
        for (int d = 0; d < e->ndim; d++) count *= (uint64_t)e->shape[d];
        if (count * ck_dtype_size(e->dtype) != e->end - e->begin) abort();
        fuzz_touch(f.data + e->begin, e->end - e->begin);
    }
    st_free(&f);
    return 0;
}
