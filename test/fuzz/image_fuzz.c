/* image_fuzz.c: libFuzzer harness for PNG and JPEG loading (lib/image/image_load.c over libpng and
 * libjpeg): the input given a path (a memfd: the loader takes paths), its size read from the
 * header (image_load_size) and the whole image decoded (image_load_rgb8); a decoded image is read
 * to its last byte and must have the size the header gave. Failures must carry a one-line
 * message. Built and run by `make fuzz` (test/fuzz/run.sh). */
#include "image/image_load.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    const char *path = fuzz_memfile(data, size);
    int h0 = -1, w0 = -1, H, W;
    int r0 = image_load_size(path, &h0, &w0, err, sizeof err);
    fuzz_check_err(r0 != 0, err);
    unsigned char *rgb = NULL;
    int r = image_load_rgb8(path, &rgb, &H, &W, err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r) return 0;
    if (r0 != 0 || H != h0 || W != w0 || H < 0 || W < 0) {
        fprintf(stderr, "fuzz: decoded %dx%d, header said %dx%d (rc %d)\n", W, H, w0, h0, r0);
        abort();
    }
    fuzz_touch(rgb, (size_t)H * W * 3);
    free(rgb);
    return 0;
}
