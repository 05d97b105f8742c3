/* damsm_vocab.c: DF-GAN's DAMSM words, vocabularies and get_caption's word subset (see
 * damsm_vocab.h). */
#include "damsm_vocab.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"


/* ---- words ---- */

void damsm_words_free(damsm_words *w) {
    free(w->buf);
    free(w->off);
    free(w->wlen);
    memset(w, 0, sizeof *w);
}

static void words_push(damsm_words *w, const char *s, size_t len) {
    if (w->n == w->ncap) {
        w->ncap = w->ncap ? 2 * w->ncap : 32;
        w->off = xrealloc(w->off, w->ncap * sizeof *w->off);
        w->wlen = xrealloc(w->wlen, w->ncap * sizeof *w->wlen);
    }
    if (w->len + len + 1 > w->cap) {
        while (w->len + len + 1 > w->cap) w->cap = w->cap ? 2 * w->cap : 256;
        w->buf = xrealloc(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, s, len);
    w->buf[w->len + len] = 0;
    w->off[w->n] = w->len;
    w->wlen[w->n++] = len;
    w->len += len + 1;
}

size_t damsm_split(damsm_words *w, const uint32_t *cps, size_t n) {
    u32buf low = {0};
    uni_lower(&low, cps, n);                 /* caption.lower() */
    w->n = 0;
    w->len = 0;
    size_t ntok = 0;
    char *tmp = xmalloc(low.n + 1);
    for (size_t i = 0; i < low.n;) {
        if (!(uni_props(low.p[i]) & UNI_PY_WORD)) { i++; continue; }
        size_t k = 0;                        /* one \w+ run, its ASCII characters kept */
        while (i < low.n && (uni_props(low.p[i]) & UNI_PY_WORD)) {
            if (low.p[i] < 0x80) tmp[k++] = (char)low.p[i];
            i++;
        }
        ntok++;
        if (k) words_push(w, tmp, k);
    }
    free(tmp);
    u32_free(&low);
    return ntok;
}

/* ---- vocabulary ---- */

/* TODO(pickle): DF-GAN's captions_DAMSM.pickle is [train_captions, test_captions, ixtoword,
 * wordtoix] (protocol 2). When lib/pickle* lands, read it here: take wordtoix (x[3], a dict
 * str -> int; ixtoword, x[2], is its inverse) and fill v->map with each word and its id, v->n =
 * 1 + the largest id; check that '<end>' is 0. Until then this refuses it. */
static int load_pickle(damsm_vocab *v, const char *path, char *err, size_t errlen) {
    (void)v;
    seterr(err, errlen, "expected a vocabulary text file (one word per line, '<end>' first), found a pickle in '%s' "
           "(reading captions_DAMSM.pickle is not implemented yet; build a vocabulary with --build-vocab)", path);
    return -1;
}

int damsm_vocab_load(damsm_vocab *v, const char *path, char *err, size_t errlen) {
    memset(v, 0, sizeof *v);
    FILE *f = fopen(path, "rb");
    if (!f) { seterr(err, errlen, "expected a readable vocabulary file (--vocab), found '%s': %s", path, strerror(errno)); return -1; }
    int c0 = getc(f);
    if (c0 == 0x80) { fclose(f); return load_pickle(v, path, err, errlen); }
    if (c0 != EOF) ungetc(c0, f);
    strmap_init(&v->map);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        if (v->n == 0 && (len != 5 || memcmp(line, "<end>", 5) != 0)) {
            seterr(err, errlen, "expected '<end>' on line 1 of vocabulary '%s', found '%.*s'", path, (int)(len > 40 ? 40 : len), line);
            goto fail;
        }
        if (len == 0 || memchr(line, 0, (size_t)len)) {
            seterr(err, errlen, "expected a word on line %zu of vocabulary '%s', found %s", v->n + 1, path,
                   len ? "a NUL byte" : "an empty line");
            goto fail;
        }
        if (strmap_get(&v->map, line, (size_t)len)) {
            seterr(err, errlen, "expected each word once in vocabulary '%s', found '%.*s' again on line %zu", path,
                   (int)(len > 40 ? 40 : len), line, v->n + 1);
            goto fail;
        }
        strmap_set(&v->map, line, (size_t)len, (int32_t)v->n);
        if (++v->n > INT32_MAX / 2) { seterr(err, errlen, "expected at most 2^30 words in '%s', found more", path); goto fail; }
    }
    if (ferror(f)) { seterr(err, errlen, "expected to read vocabulary '%s', found %s", path, strerror(errno)); goto fail; }
    if (v->n == 0) { seterr(err, errlen, "expected '<end>' on line 1 of vocabulary '%s', found an empty file", path); goto fail; }
    free(line);
    fclose(f);
    return 0;
fail:
    free(line);
    fclose(f);
    damsm_vocab_free(v);
    return -1;
}

void damsm_vocab_free(damsm_vocab *v) { strmap_free(&v->map); v->n = 0; }

int32_t damsm_vocab_id(const damsm_vocab *v, const char *word, size_t len) {
    int32_t *p = strmap_get(&v->map, word, len);
    return p ? *p : -1;
}

void damsm_vocab_init_builder(damsm_vocab *v) {
    strmap_init(&v->map);
    strmap_set(&v->map, "<end>", 5, 0);
    v->n = 1;
}

void damsm_vocab_add(damsm_vocab *v, const damsm_words *w) {
    for (size_t i = 0; i < w->n; i++)
        if (!strmap_get(&v->map, w->buf + w->off[i], w->wlen[i])) {
            strmap_set(&v->map, w->buf + w->off[i], w->wlen[i], (int32_t)v->n);
            v->n++;
        }
}

int damsm_vocab_write(const damsm_vocab *v, FILE *f) {
    for (size_t i = 0; i < v->map.n; i++) { /* entries are in id order: insertion order */
        size_t len;
        const char *k = strmap_key(&v->map, i, &len);
        if (fwrite(k, 1, len, f) != len || putc('\n', f) == EOF) return -1;
    }
    return 0;
}

/* ---- MT19937 as numpy's legacy RandomState ---- */

void damsm_rng_seed(damsm_rng *r, uint32_t seed) {
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = 624;
}

uint32_t damsm_rng_next32(damsm_rng *r) {
    if (r->mti >= 624) {
        for (int i = 0; i < 624; i++) {
            uint32_t y = (r->mt[i] & 0x80000000u) | (r->mt[(i + 1) % 624] & 0x7fffffffu);
            r->mt[i] = r->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        r->mti = 0;
    }
    uint32_t y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t damsm_rng_interval(damsm_rng *r, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max, v;
    mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4;
    mask |= mask >> 8; mask |= mask >> 16; mask |= mask >> 32;
    if (max <= 0xffffffffu) {
        while ((v = (damsm_rng_next32(r) & mask)) > max) {}
    } else {
        while ((v = ((((uint64_t)damsm_rng_next32(r) << 32) | damsm_rng_next32(r)) & mask)) > max) {}
    }
    return v;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void damsm_select(int32_t *row, int max_words, const int32_t *ids, size_t n, damsm_rng *rng, int64_t *perm) {
    memset(row, 0, (size_t)max_words * sizeof *row);
    if (n <= (size_t)max_words || !rng) {
        size_t k = n < (size_t)max_words ? n : (size_t)max_words;
        if (k) memcpy(row, ids, k * sizeof *ids);
        return;
    }
    for (size_t i = 0; i < n; i++) perm[i] = (int64_t)i;
    for (size_t i = n - 1; i >= 1; i--) {      /* RandomState.shuffle: for i in reversed(range(1, n)) */
        size_t j = (size_t)damsm_rng_interval(rng, i);
        int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    qsort(perm, (size_t)max_words, sizeof *perm, cmp_i64);
    for (int k = 0; k < max_words; k++) row[k] = ids[perm[k]];
}
