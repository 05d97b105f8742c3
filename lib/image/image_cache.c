/* image_cache.c: see image_cache.h. */
#include "image/image_cache.h"

#include <inttypes.h>
#include <stdio.h>

int image_cache_check(const int64_t *shapes, int64_t n, int64_t total, int64_t min_side, char *err, size_t errlen)
{
    int64_t end = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t off = shapes[i * 3], h = shapes[i * 3 + 1], w = shapes[i * 3 + 2];
        if (h < min_side || w < min_side || h > IMAGE_CACHE_MAX_SIDE || w > IMAGE_CACHE_MAX_SIDE) {
            snprintf(err, errlen, "expected every image's height and width in [%" PRId64 ", %" PRId64 "], found %" PRId64
                     "x%" PRId64 " (HxW) at row %" PRId64, min_side, IMAGE_CACHE_MAX_SIDE, h, w, i);
            return -1;
        }
        int64_t bytes = 3 * h * w;
        if (off < 0 || off > total || bytes > total - off) {
            snprintf(err, errlen, "expected every image inside the %" PRId64 " bytes of pixels, found bytes %" PRId64
                     "..%" PRId64 " (3x%" PRId64 "x%" PRId64 " at offset %" PRId64 ") at row %" PRId64,
                     total, off, off + bytes, h, w, off, i);
            return -1;
        }
        if (off + bytes > end) end = off + bytes;
    }
    if (end != total) {
        snprintf(err, errlen, "expected the images to end where the %" PRId64 " bytes of pixels end, found them ending at byte %"
                 PRId64 " (the shapes of another cache?)", total, end);
        return -1;
    }
    return 0;
}

int tv_center_offset(int d)
{
    int q = d / 2;
    if (d % 2 == 0) return q;
    return q % 2 == 0 ? q : q + 1;   /* q + 0.5 rounds to the even neighbour */
}
