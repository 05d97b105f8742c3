/* zipread.c: bounds-checked zip reader over a buffer (see zipread.h); npz.c reads .npz archives
 * through it. */
#include "io/zipread.h"
#include "core/common.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
    SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_END = 0x06054b50,
    SIG_END64 = 0x06064b50, SIG_LOC64 = 0x07064b50,
    LOCAL_LEN = 30, CENTRAL_LEN = 46, END_LEN = 22, END64_LEN = 56, LOC64_LEN = 20,
};

/* Largest member we inflate: 16 GiB (a plausibility bound besides the deflate ratio). */
#define ZIP_MAX_INFLATE ((uint64_t)1 << 34)


static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

uint32_t zip_crc32(uint32_t crc, const unsigned char *p, uint64_t n) {
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

/* Printable copy of a member name for messages. */
static void showname(char *out, size_t outlen, const char *s) {
    size_t k = 0;
    for (; *s && k + 5 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f) out[k++] = (char)c;
        else k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", c);
    }
    out[k] = 0;
}

static int by_name(const void *a, const void *b, void *arg) {
    const zip_archive *z = arg;
    return strcmp(z->e[*(const int *)a].name, z->e[*(const int *)b].name);
}

void zip_close(zip_archive *z) {
    if (!z) return;
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    free(z->sorted);
    z->e = NULL;
    z->sorted = NULL;
    z->n = 0;
}

static int zip64_extra(const unsigned char *e, size_t elen, uint64_t *usize, uint64_t *csize, uint64_t *off,
                       int disk_mark, const zip_archive *z, const char *mname, char *err, size_t errlen) {
    size_t q = 0;
    while (q + 4 <= elen) {
        uint16_t id = rd16(e + q), sz = rd16(e + q + 2);
        if (q + 4 + sz > elen) break;
        if (id == 1) {
            const unsigned char *d = e + q + 4;
            size_t need = 8 * ((*usize == 0xFFFFFFFFu) + (*csize == 0xFFFFFFFFu) + (*off == 0xFFFFFFFFu)) +
                          4 * (size_t)disk_mark;
            if (sz < need) {
                seterr(err, errlen, "expected a zip64 extra field of %zu bytes for member '%s' of '%s', found %u "
                       "(corrupt archive)", need, mname, z->name, (unsigned)sz);
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

int zip_open_mem(zip_archive *z, const void *buf, size_t n, const char *name, char *err, size_t errlen) {
    const unsigned char *b = buf;
    memset(z, 0, sizeof *z);
    z->buf = b;
    z->len = n;
    snprintf(z->name, sizeof z->name, "%s", name);
    if (err && errlen) err[0] = 0;
    size_t eocd = SIZE_MAX;
    if (n >= END_LEN)
        for (size_t i = n - END_LEN;; i--) {
            if (rd32(b + i) == SIG_END && i + END_LEN + rd16(b + i + 20) <= n) { eocd = i; break; }
            if (i == 0 || n - END_LEN - i >= 65535) break;
        }
    if (eocd == SIZE_MAX) {
        seterr(err, errlen, "expected a zip end-of-central-directory record in '%s', found none (truncated, or not a zip)", name);
        return -1;
    }
    const unsigned char *e = b + eocd;
    uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6), count = rd16(e + 10), cd_size = rd32(e + 12),
             cd_off = rd32(e + 16);
    if (eocd >= LOC64_LEN && rd32(b + eocd - LOC64_LEN) == SIG_LOC64) {
        const unsigned char *l = b + eocd - LOC64_LEN;
        uint64_t z64 = rd64(l + 8);
        if (z64 > eocd - LOC64_LEN || eocd - LOC64_LEN - z64 < END64_LEN || rd32(b + z64) != SIG_END64) {
            seterr(err, errlen, "expected a zip64 end-of-central-directory record at offset %llu in '%s', found "
                   "none (corrupt archive)", (unsigned long long)z64, name);
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
        seterr(err, errlen, "expected a zip64 end-of-central-directory locator in '%s', found none (corrupt "
               "archive)", name);
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
    z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
    z->sorted = calloc(count ? (size_t)count : 1, sizeof *z->sorted);
    if (!z->e || !z->sorted) {
        seterr(err, errlen, "expected memory for %llu members of '%s', found malloc failing", (unsigned long long)count,
               name);
        goto fail;
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
        const unsigned char *nm = p + CENTRAL_LEN;
        if (memchr(nm, 0, nlen)) {
            seterr(err, errlen, "expected member names without NUL bytes in '%s', found one in entry %llu", name,
                   (unsigned long long)k + 1);
            goto fail;
        }
        zip_entry *en = &z->e[z->n];
        en->name = malloc((size_t)nlen + 1);
        if (!en->name) {
            seterr(err, errlen, "expected memory for a member name of '%s', found malloc failing", name);
            goto fail;
        }
        memcpy(en->name, nm, nlen);
        en->name[nlen] = 0;
        en->name_len = nlen;
        z->n++;
        char mname[200];
        showname(mname, sizeof mname, en->name);
        if (zip64_extra(p + CENTRAL_LEN + nlen, elen, &usize, &csize, &lho, mdisk == 0xFFFF, z, mname, err, errlen))
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
        if (lho > n || n - lho < LOCAL_LEN || rd32(b + lho) != SIG_LOCAL) {
            seterr(err, errlen, "expected a local header for member '%s' at offset %llu of '%s', found %s (corrupt "
                   "archive)", mname, (unsigned long long)lho, name,
                   lho > n || n - lho < LOCAL_LEN ? "the end of the file" : "a bad signature");
            goto fail;
        }
        uint16_t lnlen = rd16(b + lho + 26), lelen = rd16(b + lho + 28);
        if (lnlen != nlen || n - lho - LOCAL_LEN < nlen || memcmp(b + lho + LOCAL_LEN, nm, nlen) != 0) {
            seterr(err, errlen, "expected the local header of member '%s' of '%s' to repeat its name, found another "
                   "(corrupt archive)", mname, name);
            goto fail;
        }
        uint64_t data = lho + LOCAL_LEN + (uint64_t)lnlen + lelen;
        if (data > n || csize > n - data) {
            seterr(err, errlen, "expected %llu bytes of data for member '%s' of '%s', found the file ending first "
                   "(truncated archive)", (unsigned long long)csize, mname, name);
            goto fail;
        }
        if (method == 0 && csize != usize) {
            seterr(err, errlen, "expected equal sizes for stored member '%s' of '%s', found %llu and %llu (corrupt "
                   "archive)", mname, name, (unsigned long long)csize, (unsigned long long)usize);
            goto fail;
        }
        en->method = method;
        en->crc = crc;
        en->csize = csize;
        en->usize = usize;
        en->data_off = data;
    }
    for (int i = 0; i < z->n; i++) z->sorted[i] = i;
    qsort_r(z->sorted, (size_t)z->n, sizeof *z->sorted, by_name, z);
    for (int i = 1; i < z->n; i++)
        if (strcmp(z->e[z->sorted[i - 1]].name, z->e[z->sorted[i]].name) == 0) {
            char mname[200];
            showname(mname, sizeof mname, z->e[z->sorted[i]].name);
            seterr(err, errlen, "expected unique member names in '%s', found '%s' twice", name, mname);
            goto fail;
        }
    return 0;
fail:
    zip_close(z);
    return -1;
}

int zip_find(const zip_archive *z, const char *member) {
    int lo = 0, hi = z->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(z->e[z->sorted[mid]].name, member);
        if (c == 0) return z->sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static unsigned char *inflate_member(const unsigned char *src, uint64_t csize, uint64_t usize, const char *mname,
                                     const char *name, char *err, size_t errlen) {
    /* Deflate cannot expand more than about 1032:1; a bigger claim is a corrupt or hostile entry. */
    if (usize > csize * 1040 + 1024 || usize > ZIP_MAX_INFLATE || usize > SIZE_MAX) {
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
        zs.next_out = room ? out + out_done : &spare;
        zs.avail_out = room ? (room > (1u << 30) ? (1u << 30) : (uInt)room) : 1;
        uInt before = zs.avail_out;
        r = inflate(&zs, Z_NO_FLUSH);
        uint64_t made = before - zs.avail_out;
        if (!room && made) { r = Z_DATA_ERROR; msg = "more data than the stated size"; break; }
        out_done += made;
        if (r == Z_STREAM_END) break;
        if (r == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break;
        if (r != Z_OK && r != Z_BUF_ERROR) break;
        if (!room && zs.avail_in == 0 && in_left == 0) break;
    }
    if (!msg) msg = zs.msg;
    inflateEnd(&zs);
    if (r != Z_STREAM_END || out_done != usize) {
        free(out);
        if (r == Z_STREAM_END || r == Z_OK || r == Z_BUF_ERROR)
            seterr(err, errlen, "expected %llu bytes inflated from member '%s' of '%s', found %s%llu (corrupt "
                   "archive)", (unsigned long long)usize, mname, name,
                   r == Z_STREAM_END ? "" : "a truncated stream after ", (unsigned long long)out_done);
        else
            seterr(err, errlen, "expected a valid deflate stream in member '%s' of '%s', found %s (corrupt archive)",
                   mname, name, msg ? msg : "an error");
        return NULL;
    }
    return out;
}

int zip_member(const zip_archive *z, int i, const unsigned char **data, unsigned char **owned, char *err,
               size_t errlen) {
    *data = NULL;
    *owned = NULL;
    const zip_entry *en = &z->e[i];
    char mname[200];
    showname(mname, sizeof mname, en->name);
    const unsigned char *raw = z->buf + en->data_off;
    if (en->method == 8) {
        if (!(*owned = inflate_member(raw, en->csize, en->usize, mname, z->name, err, errlen))) return -1;
        raw = *owned;
    }
    uint32_t got = zip_crc32(0, raw, en->usize);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    got = en->crc;   /* fuzzing: let mutated members through to the parsers behind the CRC */
#endif
    if (got != en->crc) {
        free(*owned);
        *owned = NULL;
        seterr(err, errlen, "expected CRC-32 %08x for member '%s' of '%s', found %08x (corrupt archive)",
               (unsigned)en->crc, mname, z->name, (unsigned)got);
        return -1;
    }
    *data = raw;
    return 0;
}
