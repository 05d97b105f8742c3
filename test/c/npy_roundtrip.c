/* npy_roundtrip: test driver for npy.h, npz.h, stream.h and atomic_file.h, cross-checked with
 * numpy by test/io.bats.
 *
 *   npy_roundtrip stream IN OUT          copy every array of a stream (no conversion; data comes
 *                                        out native-endian, C order, format 1.0)
 *   npy_roundtrip npz IN.npz OUT.npz [--zip64]   read an archive and write it again
 *   npy_roundtrip write-f32 OUT          (2,3) 0..5, (4,) -1.5 -0.5 0.5 1.5, (0,3), () 7.0; float32
 *   npy_roundtrip write-all OUT          one (3,) array per dtype, in npy_dtype order (see below)
 *   npy_roundtrip write-npz OUT.npz [--zip64]   known items (see below)
 *   npy_roundtrip f32 IN D0 D1 ...       read float32 arrays with ts_read_f32 (-1 = any size);
 *                                        prints "index shape sum" per array
 *   npy_roundtrip header DTYPE SHAPE...  print the bytes of npy_encode_header (for a layout check)
 * IN/OUT "-" are stdin/stdout. Errors: exit 2 (input) or 1 (output), one line on stderr. */
#include "core/atomic_file.h"
#include "core/common.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io/stream.h"

#include <stdlib.h>
#include <string.h>

static void write_or_die(atomic_file *af, const char *path, npy_dtype dt, int ndim, const int64_t *shape,
                         const void *data) {
    if (npy_write(af_stream(af), dt, ndim, shape, data) != 0)
        die_runtime("expected to write '%s', found a write error", path);
}

static void finish(atomic_file *af, const char *path) {
    af_commit(af);
    if (strcmp(path, "-") == 0) close_stdout_or_die();
}

static void cmd_stream(const char *in, const char *out) {
    FILE *f = strcmp(in, "-") == 0 ? stdin : fopen(in, "rb");
    if (!f) die_usage("expected a readable file, found '%s'", in);
    atomic_file *af = af_open(out);
    npy_array a;
    char err[512];
    long i = 0;
    int r;
    while ((r = npy_read(f, &a, err, sizeof err)) == 1) {
        write_or_die(af, out, a.dtype, a.ndim, a.shape, a.data);
        npy_free(&a);
        i++;
    }
    if (r < 0) die_usage("%s in array %ld of '%s'", err, i, in);
    finish(af, out);
}

static void cmd_npz(const char *in, const char *out) {
    npz z;
    char err[512];
    if (npz_read(in, &z, err, sizeof err) != 0) die_usage("%s", err);
    if (npz_write(out, z.items, z.n, err, sizeof err) != 0) die_runtime("%s", err);
    npz_free(&z);
    if (strcmp(out, "-") == 0) close_stdout_or_die();
}

static void cmd_write_f32(const char *out) {
    atomic_file *af = af_open(out);
    float a[6] = {0, 1, 2, 3, 4, 5}, b[4] = {-1.5f, -0.5f, 0.5f, 1.5f}, d = 7.0f;
    write_or_die(af, out, NPY_F4, 2, (int64_t[]){2, 3}, a);
    write_or_die(af, out, NPY_F4, 1, (int64_t[]){4}, b);
    write_or_die(af, out, NPY_F4, 2, (int64_t[]){0, 3}, NULL);
    write_or_die(af, out, NPY_F4, 0, NULL, &d);
    finish(af, out);
}

/* Per dtype, the values {-1.5, 0, 2.25} (floats), {-7, 0, 100} (signed), {0, 7, 200} (unsigned),
 * {1, 0, 1} (bool). */
static void cmd_write_all(const char *out) {
    atomic_file *af = af_open(out);
    for (int t = 0; t < NPY_NDTYPES; t++) {
        unsigned char buf[24];
        const double fv[3] = {-1.5, 0, 2.25};
        const int64_t iv[3] = {-7, 0, 100};
        const uint64_t uv[3] = {0, 7, 200};
        for (int j = 0; j < 3; j++) {
            void *p = buf + j * npy_dtype_size((npy_dtype)t);
            switch ((npy_dtype)t) {
            case NPY_F4: { float v = (float)fv[j]; memcpy(p, &v, 4); break; }
            case NPY_F8: memcpy(p, &fv[j], 8); break;
            case NPY_F2: { uint16_t h[3] = {0xBE00, 0x0000, 0x4080}; memcpy(p, &h[j], 2); break; } /* -1.5 0 2.25 */
            case NPY_I1: { int8_t v = (int8_t)iv[j]; memcpy(p, &v, 1); break; }
            case NPY_I2: { int16_t v = (int16_t)iv[j]; memcpy(p, &v, 2); break; }
            case NPY_I4: { int32_t v = (int32_t)iv[j]; memcpy(p, &v, 4); break; }
            case NPY_I8: memcpy(p, &iv[j], 8); break;
            case NPY_U1: { uint8_t v = (uint8_t)uv[j]; memcpy(p, &v, 1); break; }
            case NPY_U2: { uint16_t v = (uint16_t)uv[j]; memcpy(p, &v, 2); break; }
            case NPY_U4: { uint32_t v = (uint32_t)uv[j]; memcpy(p, &v, 4); break; }
            case NPY_U8: memcpy(p, &uv[j], 8); break;
            case NPY_BOOL: { uint8_t v = j != 1; memcpy(p, &v, 1); break; }
            }
        }
        write_or_die(af, out, (npy_dtype)t, 1, (int64_t[]){3}, buf);
    }
    finish(af, out);
}

/* w float32 (2,3) 0..5; step int64 () 42; bytes uint8 (4,) 0 1 254 255; empty float64 (0,);
 * "block.0/gamma" float64 (2,) 0.5 -2. */
static void cmd_write_npz(const char *out) {
    float w[6] = {0, 1, 2, 3, 4, 5};
    int64_t step = 42;
    uint8_t bytes[4] = {0, 1, 254, 255};
    double g[2] = {0.5, -2};
    npz_item it[5] = {
        {"w", {NPY_F4, 2, {2, 3}, 6, w}},
        {"step", {NPY_I8, 0, {0}, 1, &step}},
        {"bytes", {NPY_U1, 1, {4}, 4, bytes}},
        {"empty", {NPY_F8, 1, {0}, 0, NULL}},
        {"block.0/gamma", {NPY_F8, 1, {2}, 2, g}},
    };
    char err[512];
    if (npz_write(out, it, 5, err, sizeof err) != 0) die_runtime("%s", err);
    if (strcmp(out, "-") == 0) close_stdout_or_die();
}

static void cmd_f32(const char *in, int ndim, char **dims) {
    int64_t want[NPY_MAX_DIMS];
    for (int i = 0; i < ndim; i++) want[i] = parse_long("dimension", dims[i], -1, 1L << 40);
    tstream s;
    ts_open(&s, "--in", in);
    npy_array a;
    while (ts_read_f32(&s, ndim, want, NULL, &a)) {
        char sh[128];
        double sum = 0;
        for (int64_t i = 0; i < a.count; i++) sum += ((float *)a.data)[i];
        npy_format_shape(sh, sizeof sh, a.ndim, a.shape);
        printf("%ld %s %g\n", s.index - 1, sh, sum);
        npy_free(&a);
    }
    ts_close(&s);
    close_stdout_or_die();
}

int main(int argc, char **argv) {
    progname = "npy_roundtrip";
    const char *cmd = argc > 1 ? argv[1] : "";
    if ((strcmp(cmd, "npz") == 0 || strcmp(cmd, "write-npz") == 0) && argc > 3 && strcmp(argv[argc - 1], "--zip64") == 0) {
        npz_force_zip64 = 1;
        argc--;
    }
    if (strcmp(cmd, "stream") == 0 && argc == 4) cmd_stream(argv[2], argv[3]);
    else if (strcmp(cmd, "npz") == 0 && argc == 4) cmd_npz(argv[2], argv[3]);
    else if (strcmp(cmd, "write-f32") == 0 && argc == 3) cmd_write_f32(argv[2]);
    else if (strcmp(cmd, "write-all") == 0 && argc == 3) cmd_write_all(argv[2]);
    else if (strcmp(cmd, "write-npz") == 0 && argc == 3) cmd_write_npz(argv[2]);
    else if (strcmp(cmd, "f32") == 0 && argc >= 3 && argc - 3 <= NPY_MAX_DIMS) cmd_f32(argv[2], argc - 3, argv + 3);
    else if (strcmp(cmd, "header") == 0 && argc >= 3 && argc - 3 <= NPY_MAX_DIMS) {
        int t = (int)parse_long("DTYPE", argv[2], 0, NPY_NDTYPES - 1);
        int64_t shape[NPY_MAX_DIMS];
        for (int i = 3; i < argc; i++) shape[i - 3] = parse_long("SHAPE", argv[i], 0, 1L << 40);
        char buf[1024];
        size_t n = npy_encode_header(NULL, 0, (npy_dtype)t, argc - 3, shape);
        if (n == 0 || n > sizeof buf || npy_encode_header(buf, sizeof buf, (npy_dtype)t, argc - 3, shape) != n)
            die_runtime("expected a header, found none");
        fwrite(buf, 1, n, stdout);
        close_stdout_or_die();
    } else
        die_usage("expected stream IN OUT | npz IN OUT [--zip64] | write-f32 OUT | write-all OUT | "
                  "write-npz OUT [--zip64] | f32 IN DIM... | header DTYPE DIM..., found '%s'", cmd);
    return 0;
}
