/* npz.c: .npz (zip of .npy members) reader and atomic writer (see npz.h). */
#include "io/npz.h"
#include "io/zipread.h"
#include "core/atomic_file.h"
#include "core/common.h"

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
    SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_END64 = 0x06064b50, SIG_LOC64 = 0x07064b50,
    SIG_END = 0x06054b50, LOCAL_LEN = 30, CENTRAL_LEN = 46, END64_LEN = 56,
    /* the extra-field id of the padding that aligns a member's data (as Android's zipalign
     * writes it: the alignment as 2 bytes, then zeros); readers skip extra fields they don't know */
    EXTRA_ALIGN_ID = 0xD935,
};

static int by_key(const void *a, const void *b) {
    return strcmp((*(const npz_item *const *)a)->key, (*(const npz_item *const *)b)->key);
}

/* Free z's keys and arrays, except the arrays whose mapped flag is set (mapped may be NULL). */
static void free_items(npz *z, const unsigned char *mapped) {
    for (int i = 0; i < z->n; i++) {
        free(z->items[i].key);
        if (!mapped || !mapped[i]) npy_free(&z->items[i].arr);
    }
    free(z->items);
    z->items = NULL;
    z->n = 0;
}

void npz_free(npz *z) {
    if (z) free_items(z, NULL);
}

void npz_mapped_free(npz_mapped *m) {
    if (!m) return;
    free_items(&m->z, m->mapped);
    free(m->mapped);
    if (m->map) munmap(m->map, m->map_len);
    memset(m, 0, sizeof *m);
}

const npy_array *npz_find(const npz *z, const char *key) {
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->items[i].key, key) == 0) return &z->items[i].arr;
    return NULL;
}

/* Member i's array in place when it is stored, in this machine's byte order, non-empty, and its
 * data start at a multiple of align from the start of buf (a mapping: page-aligned). Returns 1
 * with a filled, unowned, a; 0 when the member must be copied instead (npy_read_mem then says
 * what is wrong with it, if anything is). data is the member's bytes (CRC already checked). */
static int member_in_place(const zip_archive *za, int i, const unsigned char *data, size_t align, npy_array *a) {
    const zip_entry *e = &za->e[i];
    if (e->method != 0 || e->usize < 16) return 0;
    size_t look = e->usize < (uint64_t)NPY_MAX_HEADER + 16 ? (size_t)e->usize : (size_t)NPY_MAX_HEADER + 16;
    FILE *f = fmemopen((void *)data, look, "r");
    if (!f) return 0;
    npy_header h;
    char e2[256];
    int r = npy_read_header(f, &h, e2, sizeof e2);
    long hl = ftell(f);
    fclose(f);
    if (r != 1 || hl <= 0 || h.swap || h.count <= 0) return 0;
    size_t isz = npy_dtype_size(h.dtype);
    if (!isz || (uint64_t)h.count > (e->usize - (uint64_t)hl) / isz) return 0;   /* truncated: let npy say so */
    uint64_t off = e->data_off + (uint64_t)hl;
    if (off % align || align < isz) return 0;
    memset(a, 0, sizeof *a);
    a->dtype = h.dtype;
    a->ndim = h.ndim;
    for (int d = 0; d < h.ndim; d++) a->shape[d] = h.shape[d];
    a->count = h.count;
    a->data = (void *)(data + hl);
    return 1;
}

/* The archive in buf: every member copied (align 0), or, with align > 0, the members that can be
 * used in place (member_in_place) pointing into buf, which must then outlive z, with mapped[i]
 * set (mapped: n members' flags, allocated here). The CRC-32s of stored members are checked in
 * parallel threads when members are used in place (that pass touches every page). */
static int read_archive(const void *buf, size_t n, const char *name, npz *z, size_t align, unsigned char **mapped,
                        char *err, size_t errlen) {
    z->n = 0;
    z->items = NULL;
    if (mapped) *mapped = NULL;
    if (err && errlen) err[0] = 0;
    zip_archive za;
    if (zip_open_mem(&za, buf, n, name, err, errlen) != 0) return -1;
    const unsigned char **data = calloc(za.n ? (size_t)za.n : 1, sizeof *data);
    unsigned char **owned = calloc(za.n ? (size_t)za.n : 1, sizeof *owned);
    z->items = calloc(za.n ? (size_t)za.n : 1, sizeof *z->items);
    unsigned char *inplace = calloc(za.n ? (size_t)za.n : 1, 1);
    if (!z->items || !data || !owned || !inplace) {
        seterr(err, errlen, "expected memory for %d members of '%s', found malloc failing", za.n, name);
        goto fail;
    }
    if (align) {
        /* stored members: their CRC-32s in parallel, the first failure (in archive order) reported */
        int bad = -1;
        char e2[512] = "";
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < za.n; i++) {
            if (za.e[i].method != 0) continue;
            char e3[512];
            unsigned char *own;
            if (zip_member(&za, i, &data[i], &own, e3, sizeof e3) != 0) {
#pragma omp critical
                if (bad < 0 || i < bad) { bad = i; snprintf(e2, sizeof e2, "%s", e3); }
            }
        }
        if (bad >= 0) { seterr(err, errlen, "%s", e2); goto fail; }
    }
    for (int i = 0; i < za.n; i++) {
        const zip_entry *e = &za.e[i];
        if (!data[i] && zip_member(&za, i, &data[i], &owned[i], err, errlen) != 0) goto fail;
        npz_item *it = &z->items[z->n];
        if (align && !owned[i] && member_in_place(&za, i, data[i], align, &it->arr)) {
            inplace[i] = 1;
        } else {
            char e2[256];
            int rc = npy_read_mem(data[i], (size_t)e->usize, &it->arr, e2, sizeof e2);
            free(owned[i]);
            owned[i] = NULL;
            if (rc != 1) {
                char shown[200];   /* a member's name is the archive's bytes: control bytes shown escaped */
                seterr(err, errlen, "%s (member '%s' of '%s')", e2, show_key(shown, sizeof shown, e->name), name);
                goto fail;
            }
        }
        size_t kl = e->name_len >= 4 && memcmp(e->name + e->name_len - 4, ".npy", 4) == 0 ? e->name_len - 4 : e->name_len;
        it->key = malloc(kl + 1);
        if (!it->key) {
            if (!inplace[i]) npy_free(&it->arr);
            seterr(err, errlen, "expected memory for a key of '%s', found malloc failing", name);
            goto fail;
        }
        memcpy(it->key, e->name, kl);
        it->key[kl] = 0;
        z->n++;
    }
    /* unique keys: the member names are unique (zip_open_mem), but "a" and "a.npy" both make "a" */
    if (z->n > 1) {
        const npz_item **by = malloc((size_t)z->n * sizeof *by);
        if (!by) {
            seterr(err, errlen, "expected memory for %d keys of '%s', found malloc failing", z->n, name);
            goto fail;
        }
        for (int i = 0; i < z->n; i++) by[i] = &z->items[i];
        qsort(by, (size_t)z->n, sizeof *by, by_key);
        for (int i = 1; i < z->n; i++)
            if (strcmp(by[i - 1]->key, by[i]->key) == 0) {
                char k[200];
                seterr(err, errlen, "expected unique keys in '%s', found '%s' twice", name, show_key(k, sizeof k, by[i]->key));
                free(by);
                goto fail;
            }
        free(by);
    }
    free(data);
    free(owned);
    zip_close(&za);
    if (mapped) *mapped = inplace;
    else free(inplace);
    return 0;
fail:
    if (owned)
        for (int i = 0; i < za.n; i++) free(owned[i]);
    free(data);
    free(owned);
    zip_close(&za);
    free_items(z, inplace);
    free(inplace);
    return -1;
}

int npz_read_mem(const void *buf, size_t n, const char *name, npz *z, char *err, size_t errlen) {
    return read_archive(buf, n, name, z, 0, NULL, err, errlen);
}

/* Open path (or stdin for "-") for reading: fd and its stat, or -1 with a message. */
static int open_input(const char *path, struct stat *st, char *err, size_t errlen) {
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0) {
        seterr(err, errlen, "expected a readable file, found '%s': %s", path, strerror(errno));
        return -1;
    }
    int e = fstat(fd, st) != 0 ? errno : S_ISDIR(st->st_mode) ? EISDIR : 0;
    if (e) {
        seterr(err, errlen, "expected a readable file, found '%s': %s", path, strerror(e));
        if (fd != STDIN_FILENO) close(fd);
        return -1;
    }
    return fd;
}

/* A read-only private mapping of the regular file fd, or MAP_FAILED. */
static void *map_file(int fd, const struct stat *st, int populate) {
    if (!S_ISREG(st->st_mode) || st->st_size <= 0 || (uint64_t)st->st_size > SIZE_MAX) return MAP_FAILED;
    return mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
}

int npz_read(const char *path, npz *z, char *err, size_t errlen) {
    z->n = 0;
    z->items = NULL;
    struct stat st;
    int fd = open_input(path, &st, err, errlen);
    if (fd < 0) return -1;
    int r;
    void *m = map_file(fd, &st, 0);
    if (m != MAP_FAILED) {
        if (fd != STDIN_FILENO) close(fd);
        r = npz_read_mem(m, (size_t)st.st_size, path, z, err, errlen);
        munmap(m, (size_t)st.st_size);
        return r;
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

int npz_read_mapped(const char *path, npz_mapped *m, size_t align, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (align == 0 || (align & (align - 1))) {
        seterr(err, errlen, "expected a power of two alignment for '%s', found %zu", path, align);
        return -1;
    }
    struct stat st;
    int fd = strcmp(path, "-") == 0 ? -1 : open_input(path, &st, err, errlen);
    void *map = fd < 0 ? MAP_FAILED : map_file(fd, &st, 1);
    if (fd >= 0) close(fd);
    if (map == MAP_FAILED) {   /* stdin or a pipe (or the message of an unreadable path) */
        if (npz_read(path, &m->z, err, errlen) != 0) return -1;
        m->mapped = calloc(m->z.n ? (size_t)m->z.n : 1, 1);
        if (!m->mapped) {
            npz_free(&m->z);
            seterr(err, errlen, "expected memory for %d members of '%s', found malloc failing", m->z.n, path);
            return -1;
        }
        return 0;
    }
    if (read_archive(map, (size_t)st.st_size, path, &m->z, align, &m->mapped, err, errlen) != 0) {
        munmap(map, (size_t)st.st_size);
        return -1;
    }
    int any = 0;
    for (int i = 0; i < m->z.n; i++) any |= m->mapped[i];
    if (any) {
        m->map = map;
        m->map_len = (size_t)st.st_size;
    } else munmap(map, (size_t)st.st_size);
    return 0;
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
        ent[i].crc = zip_crc32(zip_crc32(0, (const unsigned char *)hdr, hl), a->data, nbytes);
        int z64 = npz_force_zip64 || ent[i].size >= M32;
        /* pad the local header so that the array data (after the npy header, a multiple of 64
         * bytes long) start at a multiple of NPZ_ALIGN; the padding field is at least 6 bytes */
        uint64_t at = off + LOCAL_LEN + kl + 4 + (z64 ? 20 : 0);
        unsigned pad = (unsigned)((NPZ_ALIGN - at % NPZ_ALIGN) % NPZ_ALIGN);
        if (pad && pad < 6) pad += NPZ_ALIGN;
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
        put16(&w, (z64 ? 20 : 0) + pad);
        put(&w, items[i].key, kl);
        put(&w, ".npy", 4);
        if (z64) { put16(&w, 1); put16(&w, 16); put64(&w, ent[i].size); put64(&w, ent[i].size); }
        if (pad) {
            static const unsigned char zeros[NPZ_ALIGN + 6];
            put16(&w, EXTRA_ALIGN_ID);
            put16(&w, pad - 4);
            put16(&w, NPZ_ALIGN);
            put(&w, zeros, pad - 6);
        }
        put(&w, hdr, hl);
        put(&w, a->data, (size_t)nbytes);
        off += at - off + pad + ent[i].size;
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
