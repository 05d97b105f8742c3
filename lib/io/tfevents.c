/* tfevents.c: TensorBoard event files (see tfevents.h): CRC-32C, the TFRecord framing and the
 * hand-written protobuf encoding of Event, Summary, Summary.Value and Summary.Image. */
#include "io/tfevents.h"
#include "core/common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- CRC-32C: one table of 256 entries, built once ---- */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        crc_table[i] = c;
    }
}

uint32_t tfe_crc32c(uint32_t crc, const void *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t tfe_mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/* ---- protobuf: the three wire types these messages use ---- */
enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

typedef tfe_summary buf;   /* the same growing byte buffer serves every message */

static void put(buf *b, const void *p, size_t n) {
    if (!n) return;
    if (b->n + n > b->cap) {
        b->cap = b->cap * 2 > b->n + n ? b->cap * 2 : b->n + n + 64;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v) {
    unsigned char t[10];
    int n = 0;
    do { t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
    put(b, t, (size_t)n);
}

static void put_key(buf *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void put_bytes(buf *b, int field, const void *p, size_t n) {
    put_key(b, field, WT_LEN);
    put_varint(b, n);
    put(b, p, n);
}

static void put_le(buf *b, uint64_t v, int n) {
    unsigned char t[8];
    for (int i = 0; i < n; i++) t[i] = (unsigned char)(v >> (8 * i));
    put(b, t, (size_t)n);
}

static void put_double(buf *b, int field, double x) {   /* fixed64 */
    uint64_t u;
    memcpy(&u, &x, 8);
    if (!u) return;
    put_key(b, field, WT_FIXED64);
    put_le(b, u, 8);
}

static void put_int(buf *b, int field, int64_t v) {   /* int32/int64 varint: negatives take 10 bytes */
    if (!v) return;
    put_key(b, field, WT_VARINT);
    put_varint(b, (uint64_t)v);
}

/* ---- Summary.Value (in Summary, field 1) ---- */
enum { VALUE_TAG = 1, VALUE_SIMPLE = 2, VALUE_IMAGE = 4 };
enum { IMAGE_HEIGHT = 1, IMAGE_WIDTH = 2, IMAGE_COLORSPACE = 3, IMAGE_ENCODED = 4 };
enum { SUMMARY_VALUE = 1 };
enum { EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5 };

void tfe_summary_scalar(tfe_summary *s, const char *tag, float value) {
    buf v = {0};
    put_bytes(&v, VALUE_TAG, tag, strlen(tag));
    uint32_t u;
    memcpy(&u, &value, 4);
    put_key(&v, VALUE_SIMPLE, WT_FIXED32);   /* written even when 0: it says which of the oneof */
    put_le(&v, u, 4);
    put_bytes(s, SUMMARY_VALUE, v.p, v.n);
    free(v.p);
}

void tfe_summary_image(tfe_summary *s, const char *tag, int height, int width, int colorspace,
                       const unsigned char *png, size_t n) {
    buf im = {0}, v = {0};
    put_int(&im, IMAGE_HEIGHT, height);
    put_int(&im, IMAGE_WIDTH, width);
    put_int(&im, IMAGE_COLORSPACE, colorspace);
    put_bytes(&im, IMAGE_ENCODED, png, n);
    put_bytes(&v, VALUE_TAG, tag, strlen(tag));
    put_bytes(&v, VALUE_IMAGE, im.p, im.n);
    put_bytes(s, SUMMARY_VALUE, v.p, v.n);
    free(im.p);
    free(v.p);
}

void tfe_summary_clear(tfe_summary *s) { s->n = 0; }

void tfe_summary_free(tfe_summary *s) {
    free(s->p);
    *s = (tfe_summary){0};
}

/* ---- records and events ---- */
int tfe_write_record(FILE *f, const void *data, size_t n) {
    unsigned char head[12], tail[4];
    for (int i = 0; i < 8; i++) head[i] = (unsigned char)((uint64_t)n >> (8 * i));
    uint32_t hc = tfe_mask_crc(tfe_crc32c(0, head, 8)), dc = tfe_mask_crc(tfe_crc32c(0, data, n));
    for (int i = 0; i < 4; i++) head[8 + i] = (unsigned char)(hc >> (8 * i)), tail[i] = (unsigned char)(dc >> (8 * i));
    if (fwrite(head, 1, 12, f) != 12 || (n && fwrite(data, 1, n, f) != n) || fwrite(tail, 1, 4, f) != 4) return -1;
    return 0;
}

static int write_event(FILE *f, buf *e) {
    int rc = tfe_write_record(f, e->p, e->n);
    free(e->p);
    return rc;
}

int tfe_write_file_version(FILE *f, double wall_time) {
    static const char version[] = "brain.Event:2";
    buf e = {0};
    put_double(&e, EVENT_WALL_TIME, wall_time);
    put_bytes(&e, EVENT_FILE_VERSION, version, sizeof version - 1);
    return write_event(f, &e);
}

int tfe_write_summary(FILE *f, double wall_time, int64_t step, const tfe_summary *s) {
    if (!s->n) return 0;
    buf e = {0};
    put_double(&e, EVENT_WALL_TIME, wall_time);
    put_int(&e, EVENT_STEP, step);
    put_bytes(&e, EVENT_SUMMARY, s->p, s->n);
    return write_event(f, &e);
}

/* ---- PNG header ---- */
static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int tfe_png_info(const unsigned char *p, size_t n, int *height, int *width, int *colorspace,
                 char *err, size_t errlen) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(p, sig, 8))
        return seterr(err, errlen, "expected a PNG file (its 8-byte signature), found %s", n < 8 ? "fewer bytes" : "other bytes");
    if (n < 33 || be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4))
        return seterr(err, errlen, "expected a PNG's IHDR chunk of 13 bytes first, found %s", n < 33 ? "the file ending" : "another chunk");
    if ((uint32_t)crc32(0, p + 12, 17) != be32(p + 29))
        return seterr(err, errlen, "expected the PNG's IHDR chunk to match its CRC, found a mismatch");
    uint32_t w = be32(p + 16), h = be32(p + 20);
    int depth = p[24], type = p[25];
    if (!w || !h || w > 0x7fffffff || h > 0x7fffffff)
        return seterr(err, errlen, "expected a PNG of 1..2^31-1 pixels a side, found %lux%lu", (unsigned long)w, (unsigned long)h);
    static const int cs_of_type[7] = {1, 0, 3, 3, 2, 0, 4};   /* grey, -, RGB, palette, grey+alpha, -, RGBA */
    if (type > 6 || !cs_of_type[type] || !depth || depth > 16 || (depth & (depth - 1)))
        return seterr(err, errlen, "expected a PNG colour type and bit depth, found type %d depth %d", type, depth);
    *height = (int)h;
    *width = (int)w;
    *colorspace = cs_of_type[type];
    return 0;
}

int tfe_file_name(char *out, size_t n, long secs, const char *host, const char *suffix) {
    return snprintf(out, n, "events.out.tfevents.%ld.%s%s%s", secs, host, suffix && *suffix ? "." : "",
                    suffix ? suffix : "");
}
