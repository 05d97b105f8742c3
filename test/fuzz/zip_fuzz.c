/* zip_fuzz.c: libFuzzer harness for the zip reader (lib/io/zipread.c): the input parsed as an
 * archive, every member found again by name and extracted (stored in place or inflated, CRC-32
 * checked) and read to its last byte. Failures must carry a one-line message. Built and run by
 * `make fuzz` (test/fuzz/run.sh). */
#include "io/zipread.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    zip_archive z;
    int r = zip_open_mem(&z, data, size, "fuzz.zip", err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r) return 0;
    for (int i = 0; i < z.n; i++) {
        if (zip_find(&z, z.e[i].name) != i) abort();   /* names are unique */
        const unsigned char *p;
        unsigned char *owned = NULL;
        r = zip_member(&z, i, &p, &owned, err, sizeof err);
        fuzz_check_err(r != 0, err);
        if (r == 0) fuzz_touch(p, z.e[i].usize);
        free(owned);
    }
    zip_close(&z);
    return 0;
}
