/* finite.c: NaN/Inf search over float buffers (finite.h). */
#include "core/finite.h"

#include <stdio.h>
#include <string.h>

static int bits_nonfinite(uint32_t u) { return (u & 0x7f800000u) == 0x7f800000u; }

ptrdiff_t first_nonfinite(const float *x, size_t n) {
    /* a branch-free OR over blocks finds whether a block holds one; only that block is searched */
    const size_t block = 1024;
    for (size_t b = 0; b < n; b += block) {
        size_t e = b + block < n ? b + block : n;
        uint32_t any = 0;
        for (size_t i = b; i < e; i++) {
            uint32_t u;
            memcpy(&u, &x[i], sizeof u);
            any |= (uint32_t)bits_nonfinite(u);
        }
        if (any)
            for (size_t i = b; i < e; i++) {
                uint32_t u;
                memcpy(&u, &x[i], sizeof u);
                if (bits_nonfinite(u)) return (ptrdiff_t)i;
            }
    }
    return -1;
}

const char *nonfinite_name(float v) {
    return v != v ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

const char *index_desc(char *buf, size_t len, size_t i, int ndim, const int64_t *shape) {
    size_t idx[16];
    if (ndim > 16) ndim = 16;
    for (int d = ndim - 1; d >= 0; d--) {
        size_t s = shape[d] > 0 ? (size_t)shape[d] : 1;
        idx[d] = i % s;
        i /= s;
    }
    size_t o = 0;
    o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "(");
    for (int d = 0; d < ndim; d++)
        o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%zu", d ? "," : "", idx[d]);
    snprintf(buf + o, o < len ? len - o : 0, ")");
    return buf;
}
