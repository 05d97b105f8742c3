/* utf8.c: strict UTF-8 decoding and encoding (see utf8.h). */
#include "text/utf8.h"

int utf8_decode(u32buf *out, const unsigned char *s, size_t n, size_t *bad) {
    u32_reserve(out, out->n + n);
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { out->p[out->n++] = c; i++; continue; }
        uint32_t cp;
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3; cp = c & 0x0F;
            if (c == 0xE0) lo = 0xA0;      /* overlong */
            if (c == 0xED) hi = 0x9F;      /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4; cp = c & 0x07;
            if (c == 0xF0) lo = 0x90;      /* overlong */
            if (c == 0xF4) hi = 0x8F;      /* past U+10FFFF */
        } else { *bad = i; return -1; }
        if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi) { *bad = i; return -1; }
        for (size_t k = 1; k < len; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80) { *bad = i; return -1; }
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        out->p[out->n++] = cp;
        i += len;
    }
    return 0;
}

int utf8_encode(uint32_t cp, unsigned char out[4]) {
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { out[0] = (unsigned char)(0xC0 | cp >> 6); out[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
