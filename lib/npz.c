/* npz.c: .npz (zip of .npy members) reader and atomic writer (see npz.h). */
#include "npz.h"
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

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

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
static unsigned char *inflate_member(const unsigned char *src, uint64_t csize, uint64_t usize,
                                     const char *mname, const char *name, char *err, size_t errlen) {
    /* Deflate cannot expand more than about 1032:1; a bigger claim is a corrupt or hostile entry. */
    if (usize > csize * 1040 + 1024 || usize > (uint64_t)NPY_MAX_BYTES + NPY_MAX_HEADER + 1024 || usize > SIZE_MAX) {
        seterr(err, errlen, "expected a plausible uncompressed size for member '%s' of '%s', found %llu bytes "
               "from %llu compressed (corrupt archive)", mname, name, (unsigned long long)usize,
               (unsigned long long)csize);
        return NULL;
    }
    unsigned char *out = malloc(usize ? (size_t)usize : 1);
    if (!out) {
        seterr(err, errlen, "expected %llu bytes of memory for member '%s' of '%s', found malloc failing",
               (unsigned long long)usize, mname, name);
        return NULL;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        free(out);
        seterr(err, errlen, "expected zlib to start inflating member '%s' of '%s', found it failing", mname, name);
        return NULL;
    }
    uint64_t in_left = csize, out_done = 0;
    const unsigned char *in = src;
    int r = Z_OK;
    const char *msg = NULL;
    for (;;) {
        if (zs.avail_in == 0 && in_left) {
            zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            zs.next_in = (Bytef *)in;
            in += zs.avail_in;
            in_left -= zs.avail_in;
        }
        uint64_t room = usize - out_done;
        unsigned char spare;
        /* With the output full, inflate into one spare byte to see whether more would come. */
        zs.next_out = room ? out + out_done : &spare;
        zs.avail_out = room ? (room > (1u << 30) ? (1u << 30) : (uInt)room) : 1;
        uInt before = zs.avail_out;
        r = inflate(&zs, Z_NO_FLUSH);
        uint64_t made = before - zs.avail_out;
        if (!room && made) { r = Z_DATA_ERROR; msg = "more data than the stated size"; break; }
        out_done += made;
        if (r == Z_STREAM_END) break;
        if (r == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break; /* input ran out */
        if (r != Z_OK && r != Z_BUF_ERROR) break;
        if (!room && zs.avail_in == 0 && in_left == 0) break;
    }
    if (!msg) msg = zs.msg;
    inflateEnd(&zs);
    if (r != Z_STREAM_END || out_done != usize) {
        free(out);
        if (r == Z_STREAM_END || r == Z_OK || r == Z_BUF_ERROR)
            seterr(err, errlen, "expected %llu bytes inflated from member '%s' of '%s', found %s%llu (corrupt archive)",
                   (unsigned long long)usize, mname, name, r == Z_STREAM_END ? "" : "a truncated stream after ",
                   (unsigned long long)out_done);
        else
            seterr(err, errlen, "expected a valid deflate stream in member '%s' of '%s', found %s (corrupt archive)",
                   mname, name, msg ? msg : "an error");
        return NULL;
    }
    return out;
}

/* Take zip64 values out of an extra-field block for the fields that hold the 0xFFFFFFFF mark. */
static int zip64_extra(const unsigned char *e, size_t elen, uint64_t *usize, uint64_t *csize, uint64_t *off,
                       int disk_mark, const char *mname, const char *name, char *err, size_t errlen) {
    size_t q = 0;
    while (q + 4 <= elen) {
        uint16_t id = rd16(e + q), sz = rd16(e + q + 2);
        if (q + 4 + sz > elen) break;
        if (id == 1) {
            const unsigned char *d = e + q + 4;
            size_t need = 8 * ((*usize == 0xFFFFFFFFu) + (*csize == 0xFFFFFFFFu) + (*off == 0xFFFFFFFFu)) + 4 * disk_mark;
            if (sz < need) {
                seterr(err, errlen, "expected a zip64 extra field of %zu bytes for member '%s' of '%s', found %u "
                       "(corrupt archive)", need, mname, name, (unsigned)sz);
                return -1;
            }
            if (*usize == 0xFFFFFFFFu) { *usize = rd64(d); d += 8; }
            if (*csize == 0xFFFFFFFFu) { *csize = rd64(d); d += 8; }
            if (*off == 0xFFFFFFFFu) { *off = rd64(d); d += 8; }
            return 0;
        }
        q += 4 + (size_t)sz;
    }
    return 0;
}

int npz_read_mem(const void *buf, size_t n, const char *name, npz *z, char *err, size_t errlen) {
    const unsigned char *b = buf;
    z->n = 0;
    z->items = NULL;
    if (err && errlen) err[0] = 0;
    /* end of central directory: the last signature whose comment fits in the file */
    size_t eocd = SIZE_MAX;
    if (n >= END_LEN)
        for (size_t i = n - END_LEN;; i--) {
            if (rd32(b + i) == SIG_END && i + END_LEN + rd16(b + i + 20) <= n) { eocd = i; break; }
            if (i == 0 || n - END_LEN - i >= 65535) break;
        }
    if (eocd == SIZE_MAX) {
        seterr(err, errlen, "expected a zip end-of-central-directory record in '%s', found none (not an .npz?)", name);
        return -1;
    }
    const unsigned char *e = b + eocd;
    uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6), count = rd16(e + 10), cd_size = rd32(e + 12),
             cd_off = rd32(e + 16);
    int has_loc = eocd >= LOC64_LEN && rd32(b + eocd - LOC64_LEN) == SIG_LOC64;
    if (has_loc) {
        const unsigned char *l = b + eocd - LOC64_LEN;
        uint64_t z64 = rd64(l + 8);
        if (z64 > eocd - LOC64_LEN || eocd - LOC64_LEN - z64 < END64_LEN || rd32(b + z64) != SIG_END64) {
            seterr(err, errlen, "expected a zip64 end-of-central-directory record at offset %llu in '%s', found none "
                   "(corrupt archive)", (unsigned long long)z64, name);
            return -1;
        }
        const unsigned char *r = b + z64;
        disk = rd32(r + 16);
        cd_disk = rd32(r + 20);
        count = rd64(r + 32);
        cd_size = rd64(r + 40);
        cd_off = rd64(r + 48);
        if (rd32(l + 4) != 0 || rd32(l + 16) > 1) disk = 1;
    } else if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        seterr(err, errlen, "expected a zip64 end-of-central-directory locator in '%s', found none (corrupt archive)", name);
        return -1;
    }
    if (disk != 0 || cd_disk != 0) {
        seterr(err, errlen, "expected a single-file zip archive in '%s', found a multi-volume one", name);
        return -1;
    }
    if (cd_off > n || cd_size > n - cd_off || count > cd_size / CENTRAL_LEN || count > INT_MAX / 2) {
        seterr(err, errlen, "expected a central directory of %llu entries within the %zu bytes of '%s', found it "
               "out of bounds (truncated or corrupt archive)", (unsigned long long)count, n, name);
        return -1;
    }
    z->items = calloc(count ? (size_t)count : 1, sizeof *z->items);
    if (!z->items) {
        seterr(err, errlen, "expected memory for %llu members of '%s', found malloc failing", (unsigned long long)count, name);
        return -1;
    }
    const unsigned char *cd = b + cd_off, *cd_end = cd + cd_size, *p = cd;
    for (uint64_t k = 0; k < count; k++) {
        if ((size_t)(cd_end - p) < CENTRAL_LEN || rd32(p) != SIG_CENTRAL) {
            seterr(err, errlen, "expected central directory entry %llu of %llu in '%s', found %s (corrupt archive)",
                   (unsigned long long)k + 1, (unsigned long long)count, name,
                   (size_t)(cd_end - p) < CENTRAL_LEN ? "the end of the directory" : "a bad signature");
            goto fail;
        }
        uint16_t flags = rd16(p + 8), method = rd16(p + 10), nlen = rd16(p + 28), elen = rd16(p + 30),
                 clen = rd16(p + 32), mdisk = rd16(p + 34);
        uint32_t crc = rd32(p + 16);
        uint64_t csize = rd32(p + 20), usize = rd32(p + 24), lho = rd32(p + 42);
        if ((size_t)(cd_end - p) < (size_t)CENTRAL_LEN + nlen + elen + clen) {
            seterr(err, errlen, "expected central directory entry %llu of '%s' to fit in the directory, found it "
                   "overrunning (corrupt archive)", (unsigned long long)k + 1, name);
            goto fail;
        }
        char mname[256];
        const unsigned char *nm = p + CENTRAL_LEN;
        size_t show = nlen < sizeof mname - 1 ? nlen : sizeof mname - 1;
        memcpy(mname, nm, show);
        mname[show] = 0;
        if (memchr(nm, 0, nlen)) {
            seterr(err, errlen, "expected member names without NUL bytes in '%s', found one in entry %llu", name,
                   (unsigned long long)k + 1);
            goto fail;
        }
        if (zip64_extra(p + CENTRAL_LEN + nlen, elen, &usize, &csize, &lho, mdisk == 0xFFFF, mname, name, err, errlen))
            goto fail;
        p += CENTRAL_LEN + nlen + elen + clen;
        if (flags & 1) {
            seterr(err, errlen, "expected unencrypted members in '%s', found '%s' encrypted", name, mname);
            goto fail;
        }
        if (method != 0 && method != 8) {
            seterr(err, errlen, "expected stored or deflated members in '%s', found compression method %u for '%s'",
                   name, (unsigned)method, mname);
            goto fail;
        }
        /* local header: only its name and extra lengths are used (np.savez leaves 0xFFFFFFFF sizes there) */
        if (lho > n || n - lho < LOCAL_LEN || rd32(b + lho) != SIG_LOCAL) {
            seterr(err, errlen, "expected a local header for member '%s' at offset %llu of '%s', found %s (corrupt "
                   "archive)", mname, (unsigned long long)lho, name, lho > n || n - lho < LOCAL_LEN ? "the end of the file" : "a bad signature");
            goto fail;
        }
        uint64_t data = lho + LOCAL_LEN + rd16(b + lho + 26) + rd16(b + lho + 28);
        if (rd16(b + lho + 26) != nlen || (n - lho - LOCAL_LEN >= nlen && memcmp(b + lho + LOCAL_LEN, nm, nlen) != 0)) {
            seterr(err, errlen, "expected the local header of member '%s' of '%s' to repeat its name, found another "
                   "(corrupt archive)", mname, name);
            goto fail;
        }
        if (data > n || csize > n - data) {
            seterr(err, errlen, "expected %llu bytes of data for member '%s' of '%s', found the file ending first "
                   "(truncated archive)", (unsigned long long)csize, mname, name);
            goto fail;
        }
        const unsigned char *raw = b + data;
        unsigned char *inflated = NULL;
        if (method == 0) {
            if (csize != usize) {
                seterr(err, errlen, "expected equal sizes for stored member '%s' of '%s', found %llu and %llu "
                       "(corrupt archive)", mname, name, (unsigned long long)csize, (unsigned long long)usize);
                goto fail;
            }
        } else {
            if (!(inflated = inflate_member(raw, csize, usize, mname, name, err, errlen))) goto fail;
            raw = inflated;
        }
        uint32_t got = crc_of(0, raw, usize);
        if (got != crc) {
            free(inflated);
            seterr(err, errlen, "expected CRC-32 %08x for member '%s' of '%s', found %08x (corrupt archive)",
                   (unsigned)crc, mname, name, (unsigned)got);
            goto fail;
        }
        npz_item *it = &z->items[z->n];
        char e2[256];
        if (npy_read_mem(raw, (size_t)usize, &it->arr, e2, sizeof e2) != 1) {
            free(inflated);
            seterr(err, errlen, "%s (member '%s' of '%s')", e2, mname, name);
            goto fail;
        }
        free(inflated);
        size_t kl = nlen >= 4 && memcmp(nm + nlen - 4, ".npy", 4) == 0 ? nlen - 4u : nlen;
        it->key = malloc(kl + 1);
        if (!it->key) {
            npy_free(&it->arr);
            seterr(err, errlen, "expected memory for a key of '%s', found malloc failing", name);
            goto fail;
        }
        memcpy(it->key, nm, kl);
        it->key[kl] = 0;
        z->n++;
        for (int j = 0; j < z->n - 1; j++)
            if (strcmp(z->items[j].key, it->key) == 0) {
                seterr(err, errlen, "expected unique keys in '%s', found '%s' twice", name, it->key);
                goto fail;
            }
    }
    return 0;
fail:
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
