/* finite.c: NaN/Inf search over float buffers, and the input checks' messages (finite.h). */
#include "core/finite.h"
#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int bits_nonfinite(uint32_t u) { return (u & 0x7f800000u) == 0x7f800000u; }
static int bits_nonfinite64(uint64_t u) { return (u & 0x7ff0000000000000u) == 0x7ff0000000000000u; }

/* a branch-free OR over blocks finds whether a block holds one; only that block is searched */
#define FIRST_NONFINITE(U, test)                                   \
    const size_t block = 1024;                                       \
    for (size_t b = 0; b < n; b += block) {                          \
        size_t e = b + block < n ? b + block : n;                    \
        U any = 0;                                                   \
        for (size_t i = b; i < e; i++) {                             \
            U u;                                                     \
            memcpy(&u, &x[i], sizeof u);                             \
            any |= (U)test(u);                                       \
        }                                                            \
        if (any)                                                     \
            for (size_t i = b; i < e; i++) {                         \
                U u;                                                 \
                memcpy(&u, &x[i], sizeof u);                         \
                if (test(u)) return (ptrdiff_t)i;                    \
            }                                                        \
    }                                                                \
    return -1;

ptrdiff_t first_nonfinite(const float *x, size_t n) { FIRST_NONFINITE(uint32_t, bits_nonfinite) }
ptrdiff_t first_nonfinite_f64(const double *x, size_t n) { FIRST_NONFINITE(uint64_t, bits_nonfinite64) }

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

/* the message of a's first non-finite value into err; 0 when there is none */
static int vcheck(const npy_array *a, char *err, size_t errlen, const char *name, const char *fmt, va_list ap) {
    ptrdiff_t i = -1;
    float v = 0;
    double w;   /* the data may be unaligned (a member of a mapped file): memcpy */
    if (a->dtype == NPY_F4 && (i = first_nonfinite(a->data, (size_t)a->count)) >= 0)
        memcpy(&v, (const char *)a->data + 4 * i, 4);
    else if (a->dtype == NPY_F8 && (i = first_nonfinite_f64(a->data, (size_t)a->count)) >= 0) {
        memcpy(&w, (const char *)a->data + 8 * i, 8);
        v = (float)w;   /* NaN and +-Inf stay themselves */
    }
    if (i < 0) return 0;
    if (err && errlen) {
        char idx[32 * NPY_MAX_DIMS + 12] = "", where[512];
        vsnprintf(where, sizeof where, fmt, ap);
        if (a->ndim > 0) {   /* a scalar has no index to say */
            memcpy(idx, " at ", 4);
            index_desc(idx + 4, sizeof idx - 4, (size_t)i, a->ndim, a->shape);
        }
        snprintf(err, errlen, "%s: expected finite values, found %s%s %s", name, nonfinite_name(v), idx, where);
    }
    return ERR_NONFINITE;
}

int check_finite(const npy_array *a, char *err, size_t errlen, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vcheck(a, err, errlen, name, fmt, ap);
    va_end(ap);
    return r;
}

void require_finite(const npy_array *a, const char *name, const char *fmt, ...) {
    char err[1024];
    va_list ap;
    va_start(ap, fmt);
    int r = vcheck(a, err, sizeof err, name, fmt, ap);
    va_end(ap);
    if (r) die_nonfinite("%s", err);
}

void die_input(int rc, const char *msg) {
    if (rc == ERR_NONFINITE) die_nonfinite("%s", msg);
    die_usage("%s", msg);
}
