/* npy.h: read and write NumPy .npy arrays (format versions 1.0, 2.0 and 3.0) from streams
 * and memory. A single-file library in the stb style: this file holds the declarations; define
 * NPY_IMPLEMENTATION in exactly one C file before including it to get the implementation.
 * It depends only on the C standard library and can be copied into any project.
 *
 * Streams: .npy arrays back to back. npy_read reads exactly one array's bytes and never seeks,
 * so a stream can be a pipe or a FIFO; it returns 0 at a clean end of stream (no byte left).
 * Arrays come back native-endian, in C order, in malloc'd memory; big-endian files are
 * byte-swapped. Headers are parsed as data, never evaluated: object and structured dtypes,
 * Fortran order, absurd header lengths and shapes whose size overflows (or passes
 * NPY_MAX_BYTES) are refused with a one-line "expected ..., found ..." message.
 *
 *   npy_array a; char err[256];
 *   while ((r = npy_read(stdin, &a, err, sizeof err)) == 1) { ...; npy_free(&a); }
 *   if (r < 0) fprintf(stderr, "%s\n", err);
 *   npy_write(stdout, NPY_F4, 2, (int64_t[]){2, 3}, data);
 */
#ifndef NPY_H
#define NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* At least <f4 <f8 <i4 <i8 |u1 are what the tools exchange; all of these are read and written. */
typedef enum { NPY_F4, NPY_F8, NPY_I4, NPY_I8, NPY_U1, NPY_I1, NPY_F2, NPY_BOOL, NPY_I2, NPY_U2,
               NPY_U4, NPY_U8 } npy_dtype;
#define NPY_NDTYPES 12

#define NPY_MAX_DIMS 8
/* Largest array data accepted by the readers (count * itemsize), and largest header. */
#ifndef NPY_MAX_BYTES
#define NPY_MAX_BYTES ((int64_t)1 << 40)
#endif
#ifndef NPY_MAX_HEADER
#define NPY_MAX_HEADER (1 << 20)
#endif

/* data: native-endian, C order, malloc'd (count * itemsize bytes; never NULL after a read). */
typedef struct { npy_dtype dtype; int ndim; int64_t shape[NPY_MAX_DIMS]; int64_t count; void *data; } npy_array;

/* What an array's header says, for readers that check the shape before reading the data. */
typedef struct {
    npy_dtype dtype; int ndim; int64_t shape[NPY_MAX_DIMS]; int64_t count;
    int swap;       /* 1 when the data is stored in the other byte order than this machine's */
    int version;    /* format major version: 1, 2 or 3 */
} npy_header;

/* Read one array from f, reading exactly its bytes, never seeking (pipes, FIFOs). Returns 1 on
 * success, 0 on clean end of stream (EOF before any byte), -1 on error with a one-line message
 * in err of the form "expected ..., found ..." (e.g. "expected an .npy magic string, found
 * 'PK\x03\x04'"; "expected 4096 bytes of array data, found 100 (truncated stream)"). After an
 * error a->data is NULL, so npy_free(a) is always safe. err may be NULL. */
int npy_read(FILE *f, npy_array *a, char *err, size_t errlen);
/* Same, from memory: one array at the start of buf (trailing bytes are ignored); 1 ok, -1 error. */
int npy_read_mem(const void *buf, size_t len, npy_array *a, char *err, size_t errlen);

/* npy_read in two steps: the header (1 ok, 0 clean end of stream, -1 error), then its data
 * (1 ok; -1 error, with *got the number of data bytes that arrived before a truncation or a read
 * error, or -1 when memory ran out). */
int npy_read_header(FILE *f, npy_header *h, char *err, size_t errlen);
int npy_read_data(FILE *f, const npy_header *h, npy_array *a, int64_t *got, char *err, size_t errlen);

/* Write one array (native-endian data, C order; data may be NULL when the array is empty),
 * format 1.0 (2.0 only if the header cannot fit 1.0), then fflush(f) so that a reader at the
 * other end of a pipe gets the whole array. 0 ok, -1 on write error (errno says why) or on
 * bad arguments (errno EINVAL). */
int npy_write(FILE *f, npy_dtype dt, int ndim, const int64_t *shape, const void *data);
/* Header bytes incl. magic and padding to a multiple of 64; returns its length, and writes it
 * only when buf is not NULL and buflen is at least that length (so buf may be NULL to ask the
 * length). Returns 0 for a bad dtype or ndim. */
size_t npy_encode_header(char *buf, size_t buflen, npy_dtype dt, int ndim, const int64_t *shape);

void npy_free(npy_array *a);
size_t npy_dtype_size(npy_dtype dt);          /* bytes per element; 0 for a bad value */
const char *npy_dtype_descr(npy_dtype dt);    /* "<f4" etc., as written on this machine */
const char *npy_dtype_name(npy_dtype dt);     /* "float32" etc., for messages */
/* "(16,3,64,64)"; "(5,)" for 1-d; "()" for 0-d. Returns the length as snprintf does. */
int npy_format_shape(char *buf, size_t n, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif /* NPY_H */

#ifdef NPY_IMPLEMENTATION
#ifndef NPY_IMPLEMENTATION_DONE
#define NPY_IMPLEMENTATION_DONE

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct { char kind; unsigned char size; const char *name; } npy__types[NPY_NDTYPES] = {
    [NPY_F4] = {'f', 4, "float32"}, [NPY_F8] = {'f', 8, "float64"}, [NPY_I4] = {'i', 4, "int32"},
    [NPY_I8] = {'i', 8, "int64"},   [NPY_U1] = {'u', 1, "uint8"},   [NPY_I1] = {'i', 1, "int8"},
    [NPY_F2] = {'f', 2, "float16"}, [NPY_BOOL] = {'b', 1, "bool"},  [NPY_I2] = {'i', 2, "int16"},
    [NPY_U2] = {'u', 2, "uint16"},  [NPY_U4] = {'u', 4, "uint32"},  [NPY_U8] = {'u', 8, "uint64"},
};

static int npy__valid(npy_dtype dt) { return (int)dt >= 0 && (int)dt < NPY_NDTYPES; }
static int npy__little(void) { const uint16_t one = 1; return *(const unsigned char *)&one == 1; }

size_t npy_dtype_size(npy_dtype dt) { return npy__valid(dt) ? npy__types[dt].size : 0; }
const char *npy_dtype_name(npy_dtype dt) { return npy__valid(dt) ? npy__types[dt].name : "unknown"; }

const char *npy_dtype_descr(npy_dtype dt) {
    static const char *le[NPY_NDTYPES] = {"<f4", "<f8", "<i4", "<i8", "|u1", "|i1", "<f2", "|b1",
                                          "<i2", "<u2", "<u4", "<u8"};
    static const char *be[NPY_NDTYPES] = {">f4", ">f8", ">i4", ">i8", "|u1", "|i1", ">f2", "|b1",
                                          ">i2", ">u2", ">u4", ">u8"};
    if (!npy__valid(dt)) return "unknown";
    return npy__little() ? le[dt] : be[dt];
}

int npy_format_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
    char tmp[32 * NPY_MAX_DIMS + 8];
    size_t k = 0;
    tmp[k++] = '(';
    for (int i = 0; i < ndim && i < NPY_MAX_DIMS; i++)
        k += (size_t)snprintf(tmp + k, sizeof tmp - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (ndim == 1) tmp[k++] = ',';
    tmp[k++] = ')';
    tmp[k] = 0;
    return snprintf(buf, n, "%s", tmp);
}

void npy_free(npy_array *a) {
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

/* ---- errors ---- */

static void npy__err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Quote up to max bytes of p as a Python-like literal body: printable ASCII as is, the rest \xHH. */
static void npy__escape(char *out, size_t outlen, const unsigned char *p, size_t n, size_t max) {
    size_t k = 0;
    if (!outlen) return;
    for (size_t i = 0; i < n && i < max; i++) {
        char tmp[8];
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '\'') { tmp[0] = (char)p[i]; tmp[1] = 0; }
        else if (p[i] == '\\' || p[i] == '\'') { tmp[0] = '\\'; tmp[1] = (char)p[i]; tmp[2] = 0; }
        else snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
        size_t t = strlen(tmp);
        if (k + t + 4 >= outlen) { if (k + 4 < outlen) { memcpy(out + k, "...", 3); k += 3; } break; }
        memcpy(out + k, tmp, t);
        k += t;
    }
    if (n > max && k + 4 < outlen) { memcpy(out + k, "...", 3); k += 3; }
    out[k] = 0;
}

/* ---- sources: a FILE read front to back, or a memory buffer ---- */

typedef struct { FILE *f; const unsigned char *p; size_t len, pos; int errnum; } npy__src;

static size_t npy__get(npy__src *s, void *buf, size_t n) {
    if (s->f) {
        size_t k = fread(buf, 1, n, s->f);
        if (k < n && ferror(s->f)) s->errnum = errno ? errno : EIO;
        return k;
    }
    size_t k = s->len - s->pos;
    if (k > n) k = n;
    if (k) memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return k;
}

/* ---- header dict parsing (a Python literal, read as data) ---- */

typedef struct { const char *p, *end; } npy__lex;

static void npy__ws(npy__lex *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')) l->p++;
}
static int npy__eat(npy__lex *l, char c) {
    npy__ws(l);
    if (l->p < l->end && *l->p == c) { l->p++; return 1; }
    return 0;
}
/* A quoted string without escapes into out (truncated to outlen-1); 1 ok, 0 not a string. */
static int npy__string(npy__lex *l, char *out, size_t outlen) {
    npy__ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return 0;
    char q = *l->p++;
    size_t k = 0;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\' || *l->p == '\n') return 0;
        if (k + 1 < outlen) out[k++] = *l->p;
        l->p++;
    }
    if (l->p >= l->end) return 0;
    l->p++;
    out[k] = 0;
    return 1;
}
static int npy__word(npy__lex *l, const char *w) {
    size_t n = strlen(w);
    npy__ws(l);
    if ((size_t)(l->end - l->p) >= n && memcmp(l->p, w, n) == 0) {
        const char *after = l->p + n;
        if (after == l->end || !((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                                 (*after >= '0' && *after <= '9') || *after == '_')) {
            l->p = after;
            return 1;
        }
    }
    return 0;
}

/* descr string -> dtype and whether to swap; 1 ok, 0 with a message. */
static int npy__descr(const char *d, npy_dtype *dt, int *swap, char *err, size_t errlen) {
    char endian = '=', q[64];
    const char *t = d;
    npy__escape(q, sizeof q, (const unsigned char *)d, strlen(d), 40);
    if (*t == '<' || *t == '>' || *t == '|' || *t == '=') endian = *t++;
    if (t[0] == 'O') {
        npy__err(err, errlen, "expected a numeric dtype, found '%s' (object arrays are not supported)", q);
        return 0;
    }
    static const char *codes[NPY_NDTYPES] = {"f4", "f8", "i4", "i8", "u1", "i1", "f2", "b1", "i2", "u2", "u4", "u8"};
    int found = -1;
    for (int i = 0; i < NPY_NDTYPES; i++)
        if (strcmp(t, codes[i]) == 0) found = i;
    if (strcmp(t, "?") == 0) found = NPY_BOOL;
    if (found < 0) {
        npy__err(err, errlen, "expected a numeric dtype such as '<f4', '<i8' or '|u1', found '%s'", q);
        return 0;
    }
    *dt = (npy_dtype)found;
    *swap = npy__types[found].size > 1 && ((endian == '>' && npy__little()) || (endian == '<' && !npy__little()));
    return 1;
}

static int npy__bad_dict(const char *hdr, size_t n, char *err, size_t errlen) {
    char q[96];
    npy__escape(q, sizeof q, (const unsigned char *)hdr, n, 60);
    npy__err(err, errlen, "expected an .npy header dict like {'descr': '<f4', 'fortran_order': False, "
                          "'shape': (2, 3)}, found '%s'", q);
    return 0;
}

static int npy__parse_dict(const char *hdr, size_t n, npy_header *h, char *err, size_t errlen) {
    npy__lex l = {hdr, hdr + n};
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    char descr[48];
    if (!npy__eat(&l, '{')) return npy__bad_dict(hdr, n, err, errlen);
    for (;;) {
        char key[32];
        if (npy__eat(&l, '}')) break;
        if (!npy__string(&l, key, sizeof key) || !npy__eat(&l, ':')) return npy__bad_dict(hdr, n, err, errlen);
        if (strcmp(key, "descr") == 0) {
            npy__ws(&l);
            if (l.p < l.end && *l.p == '[') {
                npy__err(err, errlen, "expected a numeric dtype such as '<f4', found a structured dtype");
                return 0;
            }
            if (!npy__string(&l, descr, sizeof descr)) return npy__bad_dict(hdr, n, err, errlen);
            if (!npy__descr(descr, &h->dtype, &h->swap, err, errlen)) return 0;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (npy__word(&l, "True")) fortran = 1;
            else if (npy__word(&l, "False")) fortran = 0;
            else return npy__bad_dict(hdr, n, err, errlen);
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!npy__eat(&l, '(')) return npy__bad_dict(hdr, n, err, errlen);
            h->ndim = 0;
            for (;;) {
                if (npy__eat(&l, ')')) break;
                npy__ws(&l);
                if (l.p < l.end && *l.p == '-') {
                    npy__err(err, errlen, "expected non-negative dimensions, found a negative one in the shape");
                    return 0;
                }
                if (l.p >= l.end || *l.p < '0' || *l.p > '9') return npy__bad_dict(hdr, n, err, errlen);
                int64_t v = 0;
                while (l.p < l.end && *l.p >= '0' && *l.p <= '9') {
                    int d = *l.p++ - '0';
                    if (v > (INT64_MAX - d) / 10) {
                        npy__err(err, errlen, "expected dimensions below 2^63, found a larger one in the shape");
                        return 0;
                    }
                    v = v * 10 + d;
                }
                if (l.p < l.end && (*l.p == 'L' || *l.p == 'l')) l.p++; /* Python 2 longs */
                if (h->ndim == NPY_MAX_DIMS) {
                    npy__err(err, errlen, "expected at most %d dimensions, found more", NPY_MAX_DIMS);
                    return 0;
                }
                h->shape[h->ndim++] = v;
                if (npy__eat(&l, ',')) continue;
                if (npy__eat(&l, ')')) break;
                return npy__bad_dict(hdr, n, err, errlen);
            }
            have_shape = 1;
        } else {
            char q[48];
            npy__escape(q, sizeof q, (const unsigned char *)key, strlen(key), 30);
            npy__err(err, errlen, "expected only the keys 'descr', 'fortran_order' and 'shape' in the .npy "
                                  "header, found '%s'", q);
            return 0;
        }
        if (npy__eat(&l, ',')) continue;
        if (npy__eat(&l, '}')) break;
        return npy__bad_dict(hdr, n, err, errlen);
    }
    npy__ws(&l);
    while (l.p < l.end && *l.p == '\0') l.p++; /* tolerate NUL padding from some writers */
    if (l.p != l.end) return npy__bad_dict(hdr, n, err, errlen);
    if (!have_descr || !have_fortran || !have_shape) {
        npy__err(err, errlen, "expected the keys 'descr', 'fortran_order' and 'shape' in the .npy header, "
                              "found no '%s'", !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
        return 0;
    }
    if (fortran) {
        /* The layouts agree when at most one dimension is longer than 1. */
        int big = 0;
        for (int i = 0; i < h->ndim; i++) big += h->shape[i] > 1;
        if (big > 1) {
            npy__err(err, errlen, "expected C order, found fortran_order True");
            return 0;
        }
    }
    /* count and bytes, guarding against overflow */
    int64_t count = 1, isz = (int64_t)npy__types[h->dtype].size;
    int zero = 0, over = 0;
    for (int i = 0; i < h->ndim; i++) zero |= h->shape[i] == 0;
    if (!zero)
        for (int i = 0; i < h->ndim; i++) {
            if (count > INT64_MAX / h->shape[i]) { over = 1; break; }
            count *= h->shape[i];
        }
    else count = 0;
    if (over || count > NPY_MAX_BYTES / isz || (uint64_t)(count * isz) > (uint64_t)SIZE_MAX) {
        char s[32 * NPY_MAX_DIMS + 8];
        npy_format_shape(s, sizeof s, h->ndim, h->shape);
        npy__err(err, errlen, "expected at most %lld bytes of array data, found shape %s of %s",
                 (long long)NPY_MAX_BYTES, s, npy__types[h->dtype].name);
        return 0;
    }
    h->count = count;
    return 1;
}

static const unsigned char npy__magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* 1 ok, 0 clean end (nothing there), -1 error */
static int npy__header(npy__src *s, npy_header *h, char *err, size_t errlen) {
    unsigned char pre[12];
    memset(h, 0, sizeof *h);
    size_t k = npy__get(s, pre, 8);
    if (k == 0 && !s->errnum) return 0;
    size_t m = k < 6 ? k : 6;
    if (memcmp(pre, npy__magic, m) != 0) {
        char q[64];
        int zip = k >= 4 && memcmp(pre, "PK\x03\x04", 4) == 0;
        npy__escape(q, sizeof q, pre, zip ? 4 : m, 8);
        npy__err(err, errlen, "expected an .npy magic string, found '%s'%s", q, zip ? " (a zip archive: an .npz?)" : "");
        return -1;
    }
    if (k < 8) {
        if (s->errnum) npy__err(err, errlen, "expected an .npy header, found a read error (%s)", strerror(s->errnum));
        else npy__err(err, errlen, "expected an .npy header, found %zu bytes (truncated stream)", k);
        return -1;
    }
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        npy__err(err, errlen, "expected .npy format version 1.0, 2.0 or 3.0, found %d.%d", major, minor);
        return -1;
    }
    size_t lenbytes = major == 1 ? 2 : 4;
    k = npy__get(s, pre + 8, lenbytes);
    if (k < lenbytes) {
        if (s->errnum) npy__err(err, errlen, "expected an .npy header, found a read error (%s)", strerror(s->errnum));
        else npy__err(err, errlen, "expected an .npy header length, found %zu bytes (truncated stream)", 8 + k);
        return -1;
    }
    uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    if (major > 1) hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    if (hlen > NPY_MAX_HEADER) {
        npy__err(err, errlen, "expected an .npy header of at most %d bytes, found one of %lu bytes",
                 NPY_MAX_HEADER, (unsigned long)hlen);
        return -1;
    }
    char *hdr = malloc(hlen + 1);
    if (!hdr) { npy__err(err, errlen, "expected memory for the .npy header, found malloc failing"); return -1; }
    k = npy__get(s, hdr, hlen);
    if (k < hlen) {
        if (s->errnum) npy__err(err, errlen, "expected %lu bytes of .npy header, found a read error (%s)",
                                (unsigned long)hlen, strerror(s->errnum));
        else npy__err(err, errlen, "expected %lu bytes of .npy header, found %zu (truncated stream)",
                      (unsigned long)hlen, k);
        free(hdr);
        return -1;
    }
    hdr[hlen] = 0;
    h->version = major;
    int ok = npy__parse_dict(hdr, hlen, h, err, errlen);
    free(hdr);
    return ok ? 1 : -1;
}

static void npy__swap(unsigned char *p, int64_t count, size_t isz) {
    for (int64_t i = 0; i < count; i++, p += isz)
        for (size_t a = 0, b = isz - 1; a < b; a++, b--) { unsigned char t = p[a]; p[a] = p[b]; p[b] = t; }
}

static int npy__data(npy__src *s, const npy_header *h, npy_array *a, int64_t *got, char *err, size_t errlen) {
    size_t isz = npy__types[h->dtype].size, nbytes = (size_t)h->count * isz, have = 0;
    unsigned char *buf = NULL;
    *got = 0;
    if (!s->f) {
        size_t avail = s->len - s->pos;
        if (avail < nbytes) {
            *got = (int64_t)avail;
            npy__err(err, errlen, "expected %zu bytes of array data, found %zu (truncated stream)", nbytes, avail);
            return -1;
        }
        if (!(buf = malloc(nbytes ? nbytes : 1))) goto nomem;
        if (nbytes) memcpy(buf, s->p + s->pos, nbytes);
        s->pos += nbytes;
        have = nbytes;
    } else {
        /* Grow as bytes arrive, so that a hostile header does not make us allocate for nothing. */
        size_t cap = nbytes < ((size_t)1 << 26) ? nbytes : ((size_t)1 << 26);
        if (!(buf = malloc(cap ? cap : 1))) goto nomem;
        while (have < nbytes) {
            if (have == cap) {
                size_t ncap = cap > nbytes / 2 ? nbytes : cap * 2;
                unsigned char *nb = realloc(buf, ncap);
                if (!nb) { free(buf); goto nomem; }
                buf = nb;
                cap = ncap;
            }
            size_t k = npy__get(s, buf + have, cap - have);
            have += k;
            if (k == 0 || (have < cap && have < nbytes)) break;
        }
        if (have < nbytes) {
            *got = (int64_t)have;
            if (s->errnum)
                npy__err(err, errlen, "expected %zu bytes of array data, found a read error after %zu (%s)",
                         nbytes, have, strerror(s->errnum));
            else npy__err(err, errlen, "expected %zu bytes of array data, found %zu (truncated stream)", nbytes, have);
            free(buf);
            return -1;
        }
    }
    *got = (int64_t)have;
    if (h->swap) npy__swap(buf, h->count, isz);
    a->dtype = h->dtype;
    a->ndim = h->ndim;
    for (int i = 0; i < NPY_MAX_DIMS; i++) a->shape[i] = i < h->ndim ? h->shape[i] : 0;
    a->count = h->count;
    a->data = buf;
    return 1;
nomem:
    *got = -1;
    npy__err(err, errlen, "expected %zu bytes of memory for the array, found malloc failing", nbytes);
    return -1;
}

int npy_read_header(FILE *f, npy_header *h, char *err, size_t errlen) {
    npy__src s = {f, NULL, 0, 0, 0};
    if (err && errlen) err[0] = 0;
    return npy__header(&s, h, err, errlen);
}

int npy_read_data(FILE *f, const npy_header *h, npy_array *a, int64_t *got, char *err, size_t errlen) {
    npy__src s = {f, NULL, 0, 0, 0};
    int64_t g;
    memset(a, 0, sizeof *a);
    return npy__data(&s, h, a, got ? got : &g, err, errlen);
}

int npy_read(FILE *f, npy_array *a, char *err, size_t errlen) {
    npy__src s = {f, NULL, 0, 0, 0};
    npy_header h;
    int64_t got;
    memset(a, 0, sizeof *a);
    if (err && errlen) err[0] = 0;
    int r = npy__header(&s, &h, err, errlen);
    if (r <= 0) return r;
    return npy__data(&s, &h, a, &got, err, errlen);
}

int npy_read_mem(const void *buf, size_t len, npy_array *a, char *err, size_t errlen) {
    npy__src s = {NULL, buf, len, 0, 0};
    npy_header h;
    int64_t got;
    memset(a, 0, sizeof *a);
    if (err && errlen) err[0] = 0;
    int r = npy__header(&s, &h, err, errlen);
    if (r == 0) npy__err(err, errlen, "expected an .npy magic string, found an empty buffer");
    if (r <= 0) return -1;
    return npy__data(&s, &h, a, &got, err, errlen);
}

/* ---- writing ---- */

size_t npy_encode_header(char *buf, size_t buflen, npy_dtype dt, int ndim, const int64_t *shape) {
    char dict[64 + 24 * NPY_MAX_DIMS], sh[24 * NPY_MAX_DIMS + 8];
    if (!npy__valid(dt) || ndim < 0 || ndim > NPY_MAX_DIMS) return 0;
    size_t k = 0;
    sh[k++] = '(';
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return 0;
        k += (size_t)snprintf(sh + k, sizeof sh - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    }
    if (ndim == 1) sh[k++] = ',';
    sh[k++] = ')';
    sh[k] = 0;
    size_t dl = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                                 npy_dtype_descr(dt), sh);
    size_t pre = 10, total = pre + dl + 1;
    total += (64 - total % 64) % 64;
    int major = 1;
    if (total - pre > 65535) {
        pre = 12;
        total = pre + dl + 1;
        total += (64 - total % 64) % 64;
        major = 2;
    }
    if (!buf || buflen < total) return total;
    size_t hl = total - pre;
    memcpy(buf, npy__magic, 6);
    buf[6] = (char)major;
    buf[7] = 0;
    buf[8] = (char)(hl & 0xff);
    buf[9] = (char)((hl >> 8) & 0xff);
    if (major == 2) { buf[10] = (char)((hl >> 16) & 0xff); buf[11] = (char)((hl >> 24) & 0xff); }
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', total - pre - dl - 1);
    buf[total - 1] = '\n';
    return total;
}

int npy_write(FILE *f, npy_dtype dt, int ndim, const int64_t *shape, const void *data) {
    char hdr[1024];
    size_t hl = npy_encode_header(hdr, sizeof hdr, dt, ndim, shape);
    if (hl == 0 || hl > sizeof hdr) { errno = EINVAL; return -1; }
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] != 0 && count > UINT64_MAX / (uint64_t)shape[i]) { errno = EINVAL; return -1; }
        count *= (uint64_t)shape[i];
    }
    uint64_t isz = npy__types[dt].size;
    if (count > SIZE_MAX / isz || (count && !data)) { errno = EINVAL; return -1; }
    size_t nbytes = (size_t)(count * isz);
    if (fwrite(hdr, 1, hl, f) != hl) return -1;
    if (nbytes && fwrite(data, 1, nbytes, f) != nbytes) return -1;
    if (fflush(f) != 0) return -1;
    return 0;
}

#endif /* NPY_IMPLEMENTATION_DONE */
#endif /* NPY_IMPLEMENTATION */
