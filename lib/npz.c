/* npz.c: .npz (zip of .npy members) reader and atomic writer (see npz.h). */
#include "npz.h"
#include "zipread.h"
#include "atomic_file.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int npz_force_zip64;

enum {
    SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_END = 0x06054b50,
    SIG_END64 = 0x06064b50, SIG_LOC64 = 0x07064b50,
    LOCAL_LEN = 30, CENTRAL_LEN = 46, END_LEN = 22, END64_LEN = 56, LOC64_LEN = 20,
};



static uint32_t crc_of(uint32_t crc, const unsigned char *p, uint64_t n) {
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

void npz_free(npz *z) {
    if (!z) return;
    for (int i = 0; i < z->n; i++) {
        free(z->items[i].key);
        npy_free(&z->items[i].arr);
    }
    free(z->items);
    z->items = NULL;
    z->n = 0;
}

const npy_array *npz_find(const npz *z, const char *key) {
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->items[i].key, key) == 0) return &z->items[i].arr;
    return NULL;
}

/* Inflate a raw deflate stream of csize bytes into exactly usize bytes (malloc'd). */

/* Take zip64 values out of an extra-field block for the fields that hold the 0xFFFFFFFF mark. */

int npz_read_mem(const void *buf, size_t n, const char *name, npz *z, char *err, size_t errlen) {
    z->n = 0;
    z->items = NULL;
    if (err && errlen) err[0] = 0;
    zip_archive za;
    if (zip_open_mem(&za, buf, n, name, err, errlen) != 0) return -1;
    z->items = calloc(za.n ? (size_t)za.n : 1, sizeof *z->items);
    if (!z->items) {
        seterr(err, errlen, "expected memory for %d members of '%s', found malloc failing", za.n, name);
        goto fail;
    }
    for (int i = 0; i < za.n; i++) {
        const zip_entry *e = &za.e[i];
        const unsigned char *data;
        unsigned char *owned;
        if (zip_member(&za, i, &data, &owned, err, errlen) != 0) goto fail;
        npz_item *it = &z->items[z->n];
        char e2[256];
        int rc = npy_read_mem(data, (size_t)e->usize, &it->arr, e2, sizeof e2);
        free(owned);
        if (rc != 1) {
            seterr(err, errlen, "%s (member '%s' of '%s')", e2, e->name, name);
            goto fail;
        }
        size_t kl = e->name_len >= 4 && memcmp(e->name + e->name_len - 4, ".npy", 4) == 0 ? e->name_len - 4 : e->name_len;
        it->key = malloc(kl + 1);
        if (!it->key) {
            npy_free(&it->arr);
            seterr(err, errlen, "expected memory for a key of '%s', found malloc failing", name);
            goto fail;
        }
        memcpy(it->key, e->name, kl);
        it->key[kl] = 0;
        z->n++;
        for (int j = 0; j < z->n - 1; j++)
            if (strcmp(z->items[j].key, it->key) == 0) {
                seterr(err, errlen, "expected unique keys in '%s', found '%s' twice", name, it->key);
                goto fail;
            }
    }
    zip_close(&za);
    return 0;
fail:
    zip_close(&za);
    npz_free(z);
    return -1;
}

int npz_read(const char *path, npz *z, char *err, size_t errlen) {
    z->n = 0;
    z->items = NULL;
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0) {
        seterr(err, errlen, "expected a readable file, found '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        seterr(err, errlen, "expected a readable file, found '%s': %s", path, strerror(errno));
        if (fd != STDIN_FILENO) close(fd);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        seterr(err, errlen, "expected a readable file, found '%s': %s", path, strerror(EISDIR));
        if (fd != STDIN_FILENO) close(fd);
        return -1;
    }
    int r;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            if (fd != STDIN_FILENO) close(fd);
            r = npz_read_mem(m, (size_t)st.st_size, path, z, err, errlen);
            munmap(m, (size_t)st.st_size);
            return r;
        }
    }
    /* a pipe, or a file that cannot be mapped: read it all */
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            seterr(err, errlen, "expected memory to read '%s', found malloc failing", path);
            if (fd != STDIN_FILENO) close(fd);
            return -1;
        }
        if (len == cap) {
            unsigned char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; continue; }
            buf = nb;
            cap *= 2;
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            seterr(err, errlen, "expected to read '%s', found %s", path, strerror(errno));
            free(buf);
            if (fd != STDIN_FILENO) close(fd);
            return -1;
        }
        if (k == 0) break;
        len += (size_t)k;
    }
    if (fd != STDIN_FILENO) close(fd);
    r = npz_read_mem(buf, len, path, z, err, errlen);
    free(buf);
    return r;
}

/* ---- writing ---- */

typedef struct { FILE *f; int bad; } wr;
static void put(wr *w, const void *p, size_t n) {
    if (!w->bad && n && fwrite(p, 1, n, w->f) != n) w->bad = 1;
}
static void put16(wr *w, uint64_t v) { unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)}; put(w, b, 2); }
static void put32(wr *w, uint64_t v) { put16(w, v & 0xFFFF); put16(w, (v >> 16) & 0xFFFF); }
static void put64(wr *w, uint64_t v) { put32(w, v & 0xFFFFFFFFu); put32(w, v >> 32); }

#define DOS_DATE 0x21 /* 1980-01-01, time 00:00: archives are reproducible byte for byte */

int npz_write(const char *path, const npz_item *items, int n, char *err, size_t errlen) {
    const uint64_t M32 = 0xFFFFFFFFu;
    char e2[512];
    if (n < 0) { seterr(err, errlen, "expected a non-negative number of items for '%s', found %d", path, n); return -1; }
    for (int i = 0; i < n; i++) {
        const npy_array *a = &items[i].arr;
        size_t kl = items[i].key ? strlen(items[i].key) : 0;
        if (!items[i].key || kl + 4 > 65535 || !npy_dtype_size(a->dtype) || a->ndim < 0 || a->ndim > NPY_MAX_DIMS ||
            npy_encode_header(NULL, 0, a->dtype, a->ndim, a->shape) == 0 || (a->count > 0 && !a->data)) {
            seterr(err, errlen, "expected a valid key and array for item %d of '%s', found %s", i, path,
                   !items[i].key ? "no key" : kl + 4 > 65535 ? "a key too long" : "a bad array");
            return -1;
        }
        int64_t c = 1;
        for (int d = 0; d < a->ndim; d++) c *= a->shape[d];
        if (c != a->count) {
            seterr(err, errlen, "expected count %lld for item '%s' of '%s', found %lld", (long long)c, items[i].key,
                   path, (long long)a->count);
            return -1;
        }
    }
    atomic_file *af = af_open_err(path, e2, sizeof e2);
    if (!af) { seterr(err, errlen, "%s", e2); return -1; }
    wr w = {af_stream(af), 0};
    struct ent { uint64_t off, size; uint32_t crc; } *ent = calloc(n ? (size_t)n : 1, sizeof *ent);
    if (!ent) {
        af_abort(af);
        seterr(err, errlen, "expected memory to write '%s', found malloc failing", path);
        return -1;
    }
    uint64_t off = 0;
    for (int i = 0; i < n && !w.bad; i++) {
        const npy_array *a = &items[i].arr;
        char hdr[1024];
        size_t hl = npy_encode_header(hdr, sizeof hdr, a->dtype, a->ndim, a->shape);
        uint64_t nbytes = (uint64_t)a->count * npy_dtype_size(a->dtype);
        size_t kl = strlen(items[i].key);
        int utf8 = 0;
        for (size_t j = 0; j < kl; j++) utf8 |= (unsigned char)items[i].key[j] >= 0x80;
        ent[i].off = off;
        ent[i].size = hl + nbytes;
        ent[i].crc = crc_of(crc_of(0, (const unsigned char *)hdr, hl), a->data, nbytes);
        int z64 = npz_force_zip64 || ent[i].size >= M32;
        put32(&w, SIG_LOCAL);
        put16(&w, z64 ? 45 : 20);
        put16(&w, utf8 ? 0x800 : 0);
        put16(&w, 0);                       /* stored */
        put16(&w, 0);
        put16(&w, DOS_DATE);
        put32(&w, ent[i].crc);
        put32(&w, z64 ? M32 : ent[i].size);
        put32(&w, z64 ? M32 : ent[i].size);
        put16(&w, kl + 4);
        put16(&w, z64 ? 20 : 0);
        put(&w, items[i].key, kl);
        put(&w, ".npy", 4);
        if (z64) { put16(&w, 1); put16(&w, 16); put64(&w, ent[i].size); put64(&w, ent[i].size); }
        put(&w, hdr, hl);
        put(&w, a->data, (size_t)nbytes);
        off += LOCAL_LEN + kl + 4 + (z64 ? 20 : 0) + ent[i].size;
    }
    uint64_t cd_off = off;
    for (int i = 0; i < n && !w.bad; i++) {
        size_t kl = strlen(items[i].key);
        int utf8 = 0;
        for (size_t j = 0; j < kl; j++) utf8 |= (unsigned char)items[i].key[j] >= 0x80;
        int zs = npz_force_zip64 || ent[i].size >= M32, zo = npz_force_zip64 || ent[i].off >= M32;
        unsigned elen = (zs || zo) ? 4 + 16 * zs + 8 * zo : 0;
        put32(&w, SIG_CENTRAL);
        put16(&w, (zs || zo) ? 45 : 20);    /* made by: version, MS-DOS attributes */
        put16(&w, (zs || zo) ? 45 : 20);
        put16(&w, utf8 ? 0x800 : 0);
        put16(&w, 0);
        put16(&w, 0);
        put16(&w, DOS_DATE);
        put32(&w, ent[i].crc);
        put32(&w, zs ? M32 : ent[i].size);
        put32(&w, zs ? M32 : ent[i].size);
        put16(&w, kl + 4);
        put16(&w, elen);
        put16(&w, 0);                       /* comment */
        put16(&w, 0);                       /* disk */
        put16(&w, 0);                       /* internal attributes */
        put32(&w, 0);                       /* external attributes */
        put32(&w, zo ? M32 : ent[i].off);
        put(&w, items[i].key, kl);
        put(&w, ".npy", 4);
        if (elen) {
            put16(&w, 1);
            put16(&w, elen - 4);
            if (zs) { put64(&w, ent[i].size); put64(&w, ent[i].size); }
            if (zo) put64(&w, ent[i].off);
        }
        off += CENTRAL_LEN + kl + 4 + elen;
    }
    uint64_t cd_size = off - cd_off;
    int z64 = npz_force_zip64 || n >= 0xFFFF || cd_off >= M32 || cd_size >= M32;
    if (z64) {
        put32(&w, SIG_END64);
        put64(&w, END64_LEN - 12);
        put16(&w, 45);
        put16(&w, 45);
        put32(&w, 0);
        put32(&w, 0);
        put64(&w, (uint64_t)n);
        put64(&w, (uint64_t)n);
        put64(&w, cd_size);
        put64(&w, cd_off);
        put32(&w, SIG_LOC64);
        put32(&w, 0);
        put64(&w, off);
        put32(&w, 1);
    }
    put32(&w, SIG_END);
    put16(&w, 0);
    put16(&w, 0);
    put16(&w, z64 ? 0xFFFF : (uint64_t)n);
    put16(&w, z64 ? 0xFFFF : (uint64_t)n);
    put32(&w, z64 ? M32 : cd_size);
    put32(&w, z64 ? M32 : cd_off);
    put16(&w, 0);
    free(ent);
    if (w.bad) {
        int e = errno;
        af_abort(af);
        seterr(err, errlen, "expected to write '%s', found %s", path, strerror(e ? e : EIO));
        return -1;
    }
    if (af_commit_err(af, e2, sizeof e2) != 0) { seterr(err, errlen, "%s", e2); return -1; }
    return 0;
}
