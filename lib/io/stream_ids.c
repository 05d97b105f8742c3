/* stream_ids.c: token-id streams (see stream_ids.h). */
#include "io/stream_ids.h"
#include "core/common.h"

#include <stdlib.h>
#include <string.h>

int ts_read_ids(tstream *s, int64_t width, npy_array *out) {
    char err[512], exp[64], found[32 * NPY_MAX_DIMS + 8];
    npy_header h;
    memset(out, 0, sizeof *out);
    if (width >= 0) snprintf(exp, sizeof exp, "int32 token ids (B,%lld)", (long long)width);
    else snprintf(exp, sizeof exp, "int32 token ids (B,L)");
    int r = npy_read_header(s->f, &h, err, sizeof err);
    if (r == 0) return 0;
    if (r < 0) {
        if (ferror(s->f)) die_runtime("%s: %s in array %ld", s->name, err, s->index);
        die_usage("%s: %s in array %ld", s->name, err, s->index);
    }
    int ok = (h.dtype == NPY_I4 || h.dtype == NPY_I8) && h.ndim == 2 && (width < 0 || h.shape[1] == width);
    if (ok && h.shape[0] > 0 && h.shape[1] == 0) ok = 0;   /* rows of no width hold no caption */
    if (!ok) {
        npy_format_shape(found, sizeof found, h.ndim, h.shape);
        die_usage("%s: expected %s, found %s %s in array %ld", s->name, exp, npy_dtype_name(h.dtype), found, s->index);
    }
    if (h.shape[0] > INT32_MAX / (h.shape[1] ? h.shape[1] : 1)) {
        npy_format_shape(found, sizeof found, h.ndim, h.shape);
        die_usage("%s: expected at most %d ids in one array, found %s in array %ld", s->name, INT32_MAX, found,
                  s->index);
    }
    int64_t got = 0;
    if (npy_read_data(s->f, &h, out, &got, err, sizeof err) != 1) {
        if (ferror(s->f)) die_runtime("%s: %s in array %ld", s->name, err, s->index);
        if (got >= 0)
            die_usage("%s: expected %s, found a truncated array (%lld of %lld bytes) in array %ld", s->name, exp,
                      (long long)got, (long long)(h.count * (int64_t)npy_dtype_size(h.dtype)), s->index);
        die_runtime("%s: %s in array %ld", s->name, err, s->index);
    }
    if (out->dtype == NPY_I8) {
        const int64_t *src = out->data;
        int32_t *dst = xmalloc((size_t)(out->count ? out->count : 1) * sizeof *dst);
        for (int64_t k = 0; k < out->count; k++) {
            if (src[k] < INT32_MIN || src[k] > INT32_MAX)
                die_usage("%s: expected token ids that fit int32, found %lld in row %lld of array %ld", s->name,
                          (long long)src[k], (long long)(k / out->shape[1]), s->index);
            dst[k] = (int32_t)src[k];
        }
        free(out->data);
        out->data = dst;
        out->dtype = NPY_I4;
    }
    s->index++;
    return 1;
}
