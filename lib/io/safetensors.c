/* safetensors.c: strict, bounded parsing of a safetensors header (see safetensors.h).
 * The JSON reader here is small and private; it could move to its own lib file if another
 * tool needs JSON. */
#include "io/safetensors.h"
#include "core/common.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JS_MAX_DEPTH 16
#define JS_MAX_STR 65536
#define ST_MAX_TENSORS (1 << 20)

typedef struct {
    const unsigned char *start, *p, *end;
    const char *name;
    char *err;
    size_t errlen;
} js;

static int jfail(js *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(js *j, const char *fmt, ...) {
    if (!j->err || !j->errlen) return -1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(j->err, j->errlen, "%s: %s (header byte %zu)", j->name, msg, (size_t)(j->p - j->start));
    return -1;
}

/* What is at the cursor, for messages. */
static const char *here(js *j, char *buf, size_t n) {
    if (j->p >= j->end) return "the header ending";
    unsigned char ch = *j->p;
    if (ch >= 0x20 && ch < 0x7f) snprintf(buf, n, "'%c'", ch);
    else snprintf(buf, n, "byte 0x%02x", ch);
    return buf;
}

static void ws(js *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int expect(js *j, char ch, const char *what) {
    ws(j);
    if (j->p < j->end && *j->p == ch) { j->p++; return 0; }
    char b[16];
    return jfail(j, "expected %s, found %s", what, here(j, b, sizeof b));
}

/* Peek for ch after whitespace; consume it if present. */
static int accept(js *j, char ch) {
    ws(j);
    if (j->p < j->end && *j->p == ch) { j->p++; return 1; }
    return 0;
}

static int hex4(js *j, unsigned *v) {
    if (j->end - j->p < 4) return jfail(j, "expected 4 hex digits after \\u, found the header ending");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char ch = j->p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) return jfail(j, "expected 4 hex digits after \\u, found '%c'", ch >= 0x20 && ch < 0x7f ? ch : '?');
        *v = *v << 4 | (unsigned)d;
    }
    j->p += 4;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F)); return 3; }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t k;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) { k = 2; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { k = 3; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { k = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

/* A JSON string into malloc'd *out (NUL-terminated; *n bytes). */
static int jstring(js *j, char **out, size_t *n) {
    *out = NULL;
    if (expect(j, '"', "a string")) return -1;
    size_t cap = 64, k = 0;
    char *o = xmalloc(cap);
    for (;;) {
        if (j->p >= j->end) { free(o); return jfail(j, "expected a closing '\"', found the header ending"); }
        if (k > JS_MAX_STR) { free(o); return jfail(j, "expected strings of at most %d bytes, found a longer one", JS_MAX_STR); }
        if (k + 8 > cap) o = xrealloc(o, cap *= 2);   /* room for one more character (at most 4 bytes) and the NUL */
        unsigned char ch = *j->p;
        if (ch == '"') { j->p++; break; }
        if (ch < 0x20) { free(o); return jfail(j, "expected control characters in strings to be escaped, found byte 0x%02x", ch); }
        if (ch == '\\') {
            j->p++;
            if (j->p >= j->end) { free(o); return jfail(j, "expected an escape after '\\', found the header ending"); }
            unsigned char e = *j->p++;
            switch (e) {
            case '"': o[k++] = '"'; break;
            case '\\': o[k++] = '\\'; break;
            case '/': o[k++] = '/'; break;
            case 'b': o[k++] = '\b'; break;
            case 'f': o[k++] = '\f'; break;
            case 'n': o[k++] = '\n'; break;
            case 'r': o[k++] = '\r'; break;
            case 't': o[k++] = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(j, &cp)) { free(o); return -1; }
                if (cp >= 0xDC00 && cp <= 0xDFFF) { free(o); return jfail(j, "expected a high surrogate before a low one, found a lone \\u%04x", cp); }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') { free(o); return jfail(j, "expected a low surrogate after \\u%04x, found none", cp); }
                    j->p += 2;
                    if (hex4(j, &lo)) { free(o); return -1; }
                    if (lo < 0xDC00 || lo > 0xDFFF) { free(o); return jfail(j, "expected a low surrogate after \\u%04x, found \\u%04x", cp, lo); }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                k += put_utf8(o + k, cp);
                break;
            }
            default:
                free(o);
                return jfail(j, "expected a JSON escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u), found '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            }
            continue;
        }
        size_t l = utf8_len(j->p, (size_t)(j->end - j->p));
        if (!l) { free(o); return jfail(j, "expected UTF-8 text, found an invalid byte 0x%02x", ch); }
        memcpy(o + k, j->p, l);
        k += l;
        j->p += l;
    }
    o[k] = 0;
    *out = o;
    *n = k;
    return 0;
}

/* A JSON number written as a non-negative integer below 2^63 (what sizes and offsets are). */
static int juint(js *j, uint64_t *v, const char *what) {
    ws(j);
    char b[16];
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "expected a non-negative integer for %s, found %s", what, here(j, b, sizeof b));
    if (*j->p == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9')
        return jfail(j, "expected a JSON number for %s, found one with a leading zero", what);
    uint64_t x = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p++ - '0');
        if (x > (UINT64_C(0x7FFFFFFFFFFFFFFF) - d) / 10) return jfail(j, "expected %s below 2^63, found a larger number", what);
        x = x * 10 + d;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return jfail(j, "expected an integer for %s, found a fraction or exponent", what);
    *v = x;
    return 0;
}

/* Any JSON value, checked and dropped. */
static int jskip(js *j, int depth) {
    if (depth > JS_MAX_DEPTH) return jfail(j, "expected JSON nested at most %d deep, found deeper", JS_MAX_DEPTH);
    ws(j);
    char b[16];
    if (j->p >= j->end) return jfail(j, "expected a JSON value, found the header ending");
    unsigned char ch = *j->p;
    if (ch == '"') {
        char *s;
        size_t n;
        if (jstring(j, &s, &n)) return -1;
        free(s);
        return 0;
    }
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        j->p++;
        if (accept(j, close)) return 0;
        for (;;) {
            if (ch == '{') {
                char *s;
                size_t n;
                if (jstring(j, &s, &n)) return -1;
                free(s);
                if (expect(j, ':', "':' after an object key")) return -1;
            }
            if (jskip(j, depth + 1)) return -1;
            if (accept(j, ',')) continue;
            return expect(j, close, ch == '{' ? "',' or '}' in an object" : "',' or ']' in an array");
        }
    }
    static const char *words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(words[i]);
        if ((size_t)(j->end - j->p) >= l && memcmp(j->p, words[i], l) == 0) { j->p += l; return 0; }
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        const unsigned char *q = j->p;
        if (*q == '-') q++;
        if (q >= j->end || *q < '0' || *q > '9') return jfail(j, "expected a digit in a JSON number, found %s", here(j, b, sizeof b));
        if (*q == '0') q++;
        else while (q < j->end && *q >= '0' && *q <= '9') q++;
        if (q < j->end && *q == '.') {
            q++;
            if (q >= j->end || *q < '0' || *q > '9') { j->p = q; return jfail(j, "expected a digit after '.' in a JSON number, found %s", here(j, b, sizeof b)); }
            while (q < j->end && *q >= '0' && *q <= '9') q++;
        }
        if (q < j->end && (*q == 'e' || *q == 'E')) {
            q++;
            if (q < j->end && (*q == '+' || *q == '-')) q++;
            if (q >= j->end || *q < '0' || *q > '9') { j->p = q; return jfail(j, "expected a digit in a JSON exponent, found %s", here(j, b, sizeof b)); }
            while (q < j->end && *q >= '0' && *q <= '9') q++;
        }
        j->p = q;
        return 0;
    }
    return jfail(j, "expected a JSON value, found %s", here(j, b, sizeof b));
}

static int parse_dtype(const char *s, ck_dtype *t) {
    static const struct { const char *s; ck_dtype t; } m[] = {
        {"F32", CK_F32}, {"F64", CK_F64}, {"F16", CK_F16}, {"BF16", CK_BF16}, {"I64", CK_I64}, {"I32", CK_I32},
        {"I16", CK_I16}, {"I8", CK_I8}, {"U8", CK_U8}, {"BOOL", CK_BOOL}, {"U16", CK_U16}, {"U32", CK_U32},
        {"U64", CK_U64}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(s, m[i].s)) { *t = m[i].t; return 0; }
    return -1;
}

/* One tensor entry {"dtype": .., "shape": [..], "data_offsets": [b, e]}. */
static int jtensor(js *j, st_entry *e, const char *show) {
    int have_dtype = 0, have_shape = 0, have_off = 0;
    if (expect(j, '{', "an object for a tensor entry")) return -1;
    if (!accept(j, '}'))
        for (;;) {
            char *k;
            size_t kn;
            if (jstring(j, &k, &kn)) return -1;
            if (expect(j, ':', "':' after an object key")) { free(k); return -1; }
            int r = 0;
            if (!strcmp(k, "dtype")) {
                char *d;
                size_t dn;
                if (have_dtype++) r = jfail(j, "expected one 'dtype' for tensor '%s', found two", show);
                else if (!(r = jstring(j, &d, &dn))) {
                    if (parse_dtype(d, &e->dtype)) {
                        char q[48];
                        snprintf(q, sizeof q, "%.40s", d);
                        for (char *c = q; *c; c++) if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
                        r = jfail(j, "expected a dtype of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 U32 U64 for tensor "
                                  "'%s', found '%s'", show, q);
                    }
                    free(d);
                }
            } else if (!strcmp(k, "shape")) {
                if (have_shape++) r = jfail(j, "expected one 'shape' for tensor '%s', found two", show);
                else if (!(r = expect(j, '[', "an array for 'shape'")) && !accept(j, ']'))
                    for (;;) {
                        uint64_t v;
                        if ((r = juint(j, &v, "a dimension"))) break;
                        if (e->ndim == NPY_MAX_DIMS) { r = jfail(j, "expected at most %d dimensions for tensor '%s', found more", NPY_MAX_DIMS, show); break; }
                        e->shape[e->ndim++] = (int64_t)v;
                        if (accept(j, ',')) continue;
                        r = expect(j, ']', "',' or ']' in 'shape'");
                        break;
                    }
            } else if (!strcmp(k, "data_offsets")) {
                if (have_off++) r = jfail(j, "expected one 'data_offsets' for tensor '%s', found two", show);
                else if (!(r = expect(j, '[', "an array [begin, end] for 'data_offsets'")) && !(r = juint(j, &e->begin, "a data offset")) &&
                         !(r = expect(j, ',', "',' in 'data_offsets'")) && !(r = juint(j, &e->end, "a data offset")))
                    r = expect(j, ']', "']' after the two data offsets");
            } else {
                r = jskip(j, 2);
            }
            free(k);
            if (r) return -1;
            if (accept(j, ',')) continue;
            if (expect(j, '}', "',' or '}' in a tensor entry")) return -1;
            break;
        }
    if (!have_dtype || !have_shape || !have_off)
        return jfail(j, "expected 'dtype', 'shape' and 'data_offsets' for tensor '%s', found %s missing", show,
                     !have_dtype ? "'dtype'" : !have_shape ? "'shape'" : "'data_offsets'");
    return 0;
}

/* "__metadata__": {str: str} */
static int jmetadata(js *j) {
    if (expect(j, '{', "an object of strings for '__metadata__'")) return -1;
    if (accept(j, '}')) return 0;
    for (;;) {
        char *s;
        size_t n;
        if (jstring(j, &s, &n)) return -1;
        free(s);
        if (expect(j, ':', "':' after an object key")) return -1;
        ws(j);
        if (j->p < j->end && *j->p != '"') return jfail(j, "expected string values in '__metadata__', found another value");
        if (jstring(j, &s, &n)) return -1;
        free(s);
        if (accept(j, ',')) continue;
        return expect(j, '}', "',' or '}' in '__metadata__'");
    }
}


static int by_name(const void *a, const void *b, void *arg) {
    const st_entry *e = arg;
    return strcmp(e[*(const int *)a].name, e[*(const int *)b].name);
}

/* By data_offsets (begin, then end), as the reference implementation sorts them. */
static int by_offsets(const void *a, const void *b, void *arg) {
    const st_entry *x = &((const st_entry *)arg)[*(const int *)a], *y = &((const st_entry *)arg)[*(const int *)b];
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors' byte ranges must tile the data section exactly, as the reference implementation
 * requires: sorted by offsets, each begins where the one before ends (the first at 0), and the
 * last ends at the data's end. So no two tensors share bytes (overlapping or identical ranges,
 * empty tensors aside), and no byte is left over (gaps, trailing data). */
static int check_tiling(const st_file *f, const char *name, char *err, size_t errlen) {
    int *idx = xmalloc((size_t)(f->n ? f->n : 1) * sizeof *idx);
    for (int i = 0; i < f->n; i++) idx[i] = i;
    qsort_r(idx, (size_t)f->n, sizeof *idx, by_offsets, f->e);
    uint64_t at = 0;
    int rc = 0;
    for (int i = 0; i < f->n && !rc; i++) {
        const st_entry *e = &f->e[idx[i]];
        if (e->begin == at) { at = e->end; continue; }
        char show[120];
        show_key(show, sizeof show, e->name);
        snprintf(err, errlen, "%s: expected tensor '%s' to begin at data byte %" PRIu64 " (the tensors' data_offsets "
                 "tiling the data, none sharing a byte and none left over), found [%" PRIu64 ", %" PRIu64 "]%s",
                 name, show, at, e->begin, e->end, e->begin < at ? " (overlapping another)" : " (a gap before it)");
        rc = -1;
    }
    if (!rc && at != f->data_len) {
        snprintf(err, errlen, "%s: expected the tensors' data_offsets to cover the %" PRIu64 " data bytes, found %" PRIu64
                 " bytes after the last tensor's end", name, f->data_len, f->data_len - at);
        rc = -1;
    }
    free(idx);
    return rc;
}

void st_free(st_file *f) {
    for (int i = 0; i < f->n; i++) free(f->e[i].name);
    free(f->e);
    memset(f, 0, sizeof *f);
}

int st_parse(st_file *f, const unsigned char *buf, size_t len, const char *name, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    if (len < 8) {
        snprintf(err, errlen, "%s: expected an 8-byte safetensors header length, found %zu bytes (truncated file)", name, len);
        return -1;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    if (hl > ST_MAX_HEADER || hl > len - 8) {
        snprintf(err, errlen, "%s: expected a safetensors header of at most %llu bytes within the file's %zu, found a "
                 "length of %" PRIu64 "%s", name, (unsigned long long)ST_MAX_HEADER, len - 8, hl,
                 hl > len - 8 ? " (truncated file?)" : "");
        return -1;
    }
    js j = {buf + 8, buf + 8, buf + 8 + hl, name, err, errlen};
    int cap = 0;
    if (expect(&j, '{', "a JSON object starting the header")) return -1;
    if (!accept(&j, '}'))
        for (;;) {
            char *k;
            size_t kn;
            if (jstring(&j, &k, &kn)) goto fail;
            if (expect(&j, ':', "':' after an object key")) { free(k); goto fail; }
            if (!strcmp(k, "__metadata__")) {
                free(k);
                if (jmetadata(&j)) goto fail;
            } else {
                char show[120];
                show_key(show, sizeof show, k);
                if (memchr(k, 0, kn)) { free(k); jfail(&j, "expected tensor names without NUL characters, found '%s'", show); goto fail; }
                if (f->n == ST_MAX_TENSORS) { free(k); jfail(&j, "expected at most %d tensors, found more", ST_MAX_TENSORS); goto fail; }
                if (f->n == cap) {
                    cap = cap ? cap * 2 : 16;
                    f->e = xrealloc(f->e, (size_t)cap * sizeof *f->e);
                }
                st_entry *e = &f->e[f->n++];
                memset(e, 0, sizeof *e);
                e->name = k;
                if (jtensor(&j, e, show)) goto fail;
            }
            if (accept(&j, ',')) continue;
            if (expect(&j, '}', "',' or '}' after a header entry")) goto fail;
            break;
        }
    ws(&j);
    if (j.p != j.end) {
        char b[16];
        jfail(&j, "expected only spaces after the header's JSON object, found %s", here(&j, b, sizeof b));
        goto fail;
    }
    f->data = buf + 8 + hl;
    f->data_len = len - 8 - hl;
    for (int i = 0; i < f->n; i++) {
        st_entry *e = &f->e[i];
        char show[120];
        show_key(show, sizeof show, e->name);
        uint64_t count = 1;
        int zero = 0, over = 0;
        for (int d = 0; d < e->ndim; d++) zero |= e->shape[d] == 0;
        for (int d = 0; d < e->ndim && !zero; d++) {
            uint64_t s = (uint64_t)e->shape[d];
            if (count > (UINT64_C(1) << 40) / s) { over = 1; break; }
            count *= s;
        }
        if (zero) count = 0;
        uint64_t bytes = count * ck_dtype_size(e->dtype);
        if (over) {
            snprintf(err, errlen, "%s: expected tensor '%s' of at most 2^40 elements, found a larger shape", name, show);
            goto fail;
        }
        if (e->begin > e->end || e->end > f->data_len) {
            snprintf(err, errlen, "%s: expected data_offsets within the %" PRIu64 " data bytes for tensor '%s', found [%"
                     PRIu64 ", %" PRIu64 "]", name, f->data_len, show, e->begin, e->end);
            goto fail;
        }
        if (e->end - e->begin != bytes) {
            snprintf(err, errlen, "%s: expected %" PRIu64 " bytes for tensor '%s' (%s, %" PRIu64 " elements), found data_offsets "
                     "spanning %" PRIu64, name, bytes, show, ck_dtype_name(e->dtype), count, e->end - e->begin);
            goto fail;
        }
    }
    if (f->n > 1) {
        int *idx = xmalloc((size_t)f->n * sizeof *idx);
        for (int i = 0; i < f->n; i++) idx[i] = i;
        qsort_r(idx, (size_t)f->n, sizeof *idx, by_name, f->e);
        for (int i = 1; i < f->n; i++)
            if (!strcmp(f->e[idx[i - 1]].name, f->e[idx[i]].name)) {
                char show[120];
                show_key(show, sizeof show, f->e[idx[i]].name);
                snprintf(err, errlen, "%s: expected unique tensor names in the header, found '%s' twice", name, show);
                free(idx);
                goto fail;
            }
        free(idx);
    }
    if (check_tiling(f, name, err, errlen)) goto fail;
    return 0;
fail:
    st_free(f);
    return -1;
}
