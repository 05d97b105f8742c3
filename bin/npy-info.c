/* npy-info: list the arrays of .npy streams and .npz archives (also the checkpoint lister).
 *
 *   npy-info [FILE...]
 *
 * One line per array: "index dtype shape min=.. max=.. mean=.." for a stream, "key dtype shape
 * ..." for an .npz; with several FILEs each line starts with "FILE: ". No FILE or "-" reads stdin
 * (a stream, or an .npz). */
#include "core/common.h"
#include "core/toolopts.h"
#include "io/ipc_record.h"
#include "io/npy.h"
#include "io/npz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: npy-info [FILE...]\n"
    "List the arrays of .npy streams (arrays back to back) and .npz archives, one line each:\n"
    "  index dtype shape min=.. max=.. mean=..   for a stream (index from 0)\n"
    "  key dtype shape min=.. max=.. mean=..     for an .npz archive\n"
    "Floating-point statistics skip NaNs; nan=COUNT and inf=COUNT (+Inf and -Inf) follow when there\n"
    "are any. NaN and Inf are never refused (the other tools refuse them, exit 3: this is where one\n"
    "looks at them). Empty arrays have no statistics.\n"
    "With no FILE, or when FILE is -, read standard input. With several FILEs every line starts\n"
    "with \"FILE: \". \"--\" ends the options (a FILE named like one follows it).\n"
    "  --device cpu   the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help     this help\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a read or write failure.\n";

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h >> 15 ? -v : v;
}

/* "min=.. max=.. mean=.." (and " nan=K", " inf=K"), or "" for an empty array. */
static void stats(const npy_array *a, char *out, size_t n) {
    out[0] = 0;
    if (a->count == 0) return;
    const unsigned char *p = a->data;
    int64_t c = a->count;
    if (a->dtype == NPY_F4 || a->dtype == NPY_F8 || a->dtype == NPY_F2) {
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        int64_t nan = 0, inf = 0;
        for (int64_t i = 0; i < c; i++) {
            double v;
            if (a->dtype == NPY_F4) { float f; memcpy(&f, p + 4 * i, 4); v = f; }
            else if (a->dtype == NPY_F8) memcpy(&v, p + 8 * i, 8);
            else { uint16_t h; memcpy(&h, p + 2 * i, 2); v = half_to_double(h); }
            if (isnan(v)) { nan++; continue; }
            inf += isinf(v) != 0;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
            sum += v;
        }
        double mean = sum / (double)(c - nan);
        if (isnan(mean)) mean = NAN; /* inf - inf: print "nan", not the sign bit of the result */
        mean = fabs(mean) == 0 ? 0 : mean;
        size_t k = 0;
        if (nan < c) k = (size_t)snprintf(out, n, " min=%.6g max=%.6g mean=%.6g", lo, hi, mean);
        if (nan && k < n) k += (size_t)snprintf(out + k, n - k, " nan=%lld", (long long)nan);
        if (inf && k < n) snprintf(out + k, n - k, " inf=%lld", (long long)inf);
        return;
    }
    if (a->dtype == NPY_U8) {
        uint64_t lo = UINT64_MAX, hi = 0;
        double sum = 0;
        for (int64_t i = 0; i < c; i++) {
            uint64_t v;
            memcpy(&v, p + 8 * i, 8);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
            sum += (double)v;
        }
        snprintf(out, n, " min=%llu max=%llu mean=%.6g", (unsigned long long)lo, (unsigned long long)hi, sum / (double)c);
        return;
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    double sum = 0;
    for (int64_t i = 0; i < c; i++) {
        int64_t v;
        switch (a->dtype) {
        case NPY_I1: v = ((const int8_t *)p)[i]; break;
        case NPY_U1: v = p[i]; break;
        case NPY_BOOL: v = p[i] != 0; break;
        case NPY_I2: { int16_t t; memcpy(&t, p + 2 * i, 2); v = t; break; }
        case NPY_U2: { uint16_t t; memcpy(&t, p + 2 * i, 2); v = t; break; }
        case NPY_I4: { int32_t t; memcpy(&t, p + 4 * i, 4); v = t; break; }
        case NPY_U4: { uint32_t t; memcpy(&t, p + 4 * i, 4); v = t; break; }
        default: memcpy(&v, p + 8 * i, 8); break; /* NPY_I8 */
        }
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += (double)v;
    }
    snprintf(out, n, " min=%lld max=%lld mean=%.6g", (long long)lo, (long long)hi, sum / (double)c);
}

static void print_line(const char *prefix, const char *label, const npy_array *a) {
    char shape[32 * NPY_MAX_DIMS + 8], st[160];
    npy_format_shape(shape, sizeof shape, a->ndim, a->shape);
    stats(a, st, sizeof st);
    printf("%s%s %s %s%s\n", prefix, label, npy_dtype_name(a->dtype), shape, st);
}

static void list_npz(npz *z, const char *prefix) {
    for (int i = 0; i < z->n; i++) print_line(prefix, z->items[i].key, &z->items[i].arr);
    npz_free(z);
}

static void info(const char *path, int prefixed) {
    char prefix[4096 + 3] = "", err[512];
    if (prefixed) snprintf(prefix, sizeof prefix, "%s: ", path);
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) die_usage("expected a readable file, found '%s': %s", path, strerror(errno));
    struct stat st;
    memset(&st, 0, sizeof st);
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
        die_usage("expected a readable file, found '%s': %s", path, strerror(EISDIR));
    int c = getc(f);
    if (c == EOF) {
        if (ferror(f)) die_runtime("expected to read '%s', found %s", path, strerror(errno));
        if (!is_stdin) fclose(f);
        return; /* an empty stream: no arrays */
    }
    if (c == 'P') { /* not an .npy stream; a zip archive (.npz)? */
        unsigned char pre[4] = {(unsigned char)c};
        size_t len = 1 + fread(pre + 1, 1, 3, f);
        int zip = len == 4 && (memcmp(pre, "PK\x03\x04", 4) == 0 || memcmp(pre, "PK\x05\x06", 4) == 0);
        npz z;
        if (!zip) {
            npy_array a;
            npy_read_mem(pre, len, &a, err, sizeof err);
            die_usage("%s in array 0 of '%s'", err, path);
        }
        if (!is_stdin && S_ISREG(st.st_mode)) {
            fclose(f);
            if (npz_read(path, &z, err, sizeof err) != 0) die_usage("%s", err);
        } else {
            size_t cap = 1 << 16, k;
            unsigned char *buf = xmalloc(cap);
            memcpy(buf, pre, len);
            while ((k = fread(buf + len, 1, cap - len, f)) > 0)
                if ((len += k) == cap) buf = xrealloc(buf, cap *= 2);
            if (ferror(f)) die_runtime("expected to read '%s', found %s", path, strerror(errno));
            if (!is_stdin) fclose(f);
            int r = npz_read_mem(buf, len, path, &z, err, sizeof err);
            free(buf);
            if (r != 0) die_usage("%s", err);
        }
        list_npz(&z, prefix);
        return;
    }
    ungetc(c, f);
    npy_array a;
    long i = 0;
    int r;
    while ((r = npy_read(f, &a, err, sizeof err)) == 1) {
        if (ipc_record_array(&a)) die_usage("expected an array, " IPC_RECORD_REFUSAL " in array %ld of '%s'", i, path);
        char label[32];
        snprintf(label, sizeof label, "%ld", i++);
        print_line(prefix, label, &a);
        npy_free(&a);
        if (fflush(stdout) != 0) die_runtime("expected to write standard output, found %s", strerror(errno));
    }
    if (r < 0) {
        if (ferror(f)) die_runtime("%s in array %ld of '%s'", err, i, path);
        die_usage("%s in array %ld of '%s'", err, i, path);
    }
    if (!is_stdin) fclose(f);
}

int main(int argc, char **argv) {
    progname = "npy-info";
    static const struct option longopts[] = {{0, 0, 0, 0}};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "", longopts, TOOL_CPU);
    while (topt_next(&t) != -1) {}
    const char **files = (const char **)argv + optind;
    int nfiles = argc - optind;
    if (nfiles == 0) info("-", 0);
    for (int i = 0; i < nfiles; i++) info(files[i], nfiles > 1);
    close_stdout_or_die();
    return EXIT_OK;
}
