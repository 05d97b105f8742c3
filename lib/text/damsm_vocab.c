/* damsm_vocab.c: DF-GAN's DAMSM words, vocabularies and get_caption's word subset (see
 * damsm_vocab.h). */
#include "text/damsm_vocab.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/pickle.h"


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

/* DF-GAN's captions_DAMSM.pickle (code/lib/datasets.py, load_text_data):
 *     x = pickle.load(f); train_captions, test_captions = x[0], x[1]; ixtoword, wordtoix = x[2], x[3]
 * written by build_dictionary with pickle.dump(..., protocol=2) (protocol 4 by newer forks). It is
 * read by the safe pickle VM of pickle.h (nothing in it is ever called), and checked: a list of 4;
 * x[0], x[1] lists (the captions, not used here); x[2] a dict int -> str, x[3] a dict str -> int;
 * wordtoix['<end>'] == 0; the ids 0..n-1, each once, and ixtoword[id] == word for every word
 * (DF-GAN's dictionaries are exact inverses). v->map gets wordtoix in id order, v->n = n.
 *
 * The pickle VM makes one object per int, so a pickle with more than PK_MAX_OBJECTS objects in all
 * (captions included) is refused with pickle.h's message. */
#define DAMSM_PICKLE_MAX ((size_t)1 << 32)      /* bytes read at most */

static const char *article(const char *type_name) { return strchr("aeiou", type_name[0]) ? "an" : "a"; }

static int pickle_fail(pk_ctx *c, unsigned char *buf, damsm_vocab *v) {
    pk_free(c);
    free(buf);
    damsm_vocab_free(v);
    return -1;
}

static int load_pickle(damsm_vocab *v, FILE *f, const char *path, char *err, size_t errlen) {
    size_t len = 0, cap = 1 << 16;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= DAMSM_PICKLE_MAX) {
                free(buf);
                return seterr(err, errlen, "expected a captions_DAMSM.pickle of at most %zu bytes, found a larger file '%s'",
                              (size_t)DAMSM_PICKLE_MAX, path);
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return seterr(err, errlen, "expected to read vocabulary '%s', found %s", path, strerror(errno));
    }

    pk_ctx c = {0};
    pk_obj *x;
    size_t used;
    char e2[400];
    strmap_init(&v->map);
    v->n = 0;
    if (pk_load(&c, buf, len, path, &used, &x, e2, sizeof e2) != 0) {
        seterr(err, errlen, "%s", e2);
        return pickle_fail(&c, buf, v);
    }
    if (x->type != PK_LIST || x->u.seq.n != 4) {
        if (x->type == PK_LIST || x->type == PK_TUPLE)
            seterr(err, errlen, "expected [train_captions, test_captions, ixtoword, wordtoix] in '%s', found a %s of %zu",
                   path, pk_type_name(x), x->u.seq.n);
        else
            seterr(err, errlen, "expected [train_captions, test_captions, ixtoword, wordtoix] in '%s', found %s %s",
                   path, article(pk_type_name(x)), pk_type_name(x));
        return pickle_fail(&c, buf, v);
    }
    static const char *what[4] = {"train_captions", "test_captions", "ixtoword", "wordtoix"};
    static const pk_type want[4] = {PK_LIST, PK_LIST, PK_DICT, PK_DICT};
    for (int i = 0; i < 4; i++)
        if (x->u.seq.v[i]->type != want[i]) {
            seterr(err, errlen, "expected %s (item %d) of '%s' to be a %s, found %s %s", what[i], i, path,
                   want[i] == PK_LIST ? "list" : "dict", article(pk_type_name(x->u.seq.v[i])), pk_type_name(x->u.seq.v[i]));
            return pickle_fail(&c, buf, v);
        }
    const pk_obj *ixtoword = x->u.seq.v[2], *wordtoix = x->u.seq.v[3];
    size_t n = wordtoix->u.dict.n;
    if (n == 0 || n > INT32_MAX / 2) {
        seterr(err, errlen, "expected 1 to 2^30 words in wordtoix of '%s', found %zu", path, n);
        return pickle_fail(&c, buf, v);
    }
    /* word of each id, from wordtoix */
    const pk_obj **word = xcalloc(n, sizeof *word);
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        const pk_obj *k = wordtoix->u.dict.kv[2 * i], *val = wordtoix->u.dict.kv[2 * i + 1];
        if (k->type != PK_STR) {
            seterr(err, errlen, "expected str keys in wordtoix of '%s', found %s %s at entry %zu", path, article(pk_type_name(k)),
                   pk_type_name(k), i);
            goto done;
        }
        if (k->u.str.n == 0 || memchr(k->u.str.s, 0, k->u.str.n)) {
            seterr(err, errlen, "expected words in wordtoix of '%s', found %s at entry %zu", path,
                   k->u.str.n ? "a NUL byte" : "an empty string", i);
            goto done;
        }
        if (val->type != PK_INT || val->u.i < 0 || (uint64_t)val->u.i >= n) {
            if (val->type == PK_INT)
                seterr(err, errlen, "expected ids 0 to %zu in wordtoix of '%s', found '%.40s': %" PRId64, n - 1, path,
                       k->u.str.s, val->u.i);
            else
                seterr(err, errlen, "expected int ids in wordtoix of '%s', found %s %s for '%.40s'", path,
                       article(pk_type_name(val)), pk_type_name(val),
                       k->u.str.s);
            goto done;
        }
        if (word[val->u.i]) {
            const pk_obj *o = word[val->u.i];
            if (o->u.str.n == k->u.str.n && !memcmp(o->u.str.s, k->u.str.s, k->u.str.n))
                seterr(err, errlen, "expected each word once in wordtoix of '%s', found '%.40s' again", path, k->u.str.s);
            else
                seterr(err, errlen, "expected each id once in wordtoix of '%s', found %" PRId64 " for '%.40s' and '%.40s'",
                       path, val->u.i, o->u.str.s, k->u.str.s);
            goto done;
        }
        word[val->u.i] = k;
    }
    /* n distinct ids in [0, n): every id has its word */
    if (word[0]->u.str.n != 5 || memcmp(word[0]->u.str.s, "<end>", 5)) {
        int has_end = 0;
        for (size_t i = 0; i < n && !has_end; i++)
            has_end = word[i]->u.str.n == 5 && !memcmp(word[i]->u.str.s, "<end>", 5);
        if (has_end)
            seterr(err, errlen, "expected '<end>' to be id 0 in wordtoix of '%s', found id 0 '%.40s'", path, word[0]->u.str.s);
        else
            seterr(err, errlen, "expected '<end>' (id 0) in wordtoix of '%s', found no '<end>'", path);
        goto done;
    }
    if (ixtoword->u.dict.n != n) {
        seterr(err, errlen, "expected ixtoword to have the %zu entries of wordtoix in '%s', found %zu", n, path,
               ixtoword->u.dict.n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const pk_obj *k = ixtoword->u.dict.kv[2 * i], *w = ixtoword->u.dict.kv[2 * i + 1];
        if (k->type != PK_INT || w->type != PK_STR) {
            seterr(err, errlen, "expected int -> str entries in ixtoword of '%s', found %s -> %s at entry %zu", path,
                   pk_type_name(k), pk_type_name(w), i);
            goto done;
        }
        const pk_obj *ww = k->u.i >= 0 && (uint64_t)k->u.i < n ? word[k->u.i] : NULL;
        if (!ww || ww->u.str.n != w->u.str.n || memcmp(ww->u.str.s, w->u.str.s, w->u.str.n)) {
            seterr(err, errlen, "expected ixtoword to be the inverse of wordtoix in '%s', found ixtoword[%" PRId64 "] = '%.40s'%s%.40s%s",
                   path, k->u.i, w->u.str.s, ww ? " where wordtoix gives '" : ", an id not in wordtoix",
                   ww ? ww->u.str.s : "", ww ? "'" : "");
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) strmap_set(&v->map, word[i]->u.str.s, word[i]->u.str.n, (int32_t)i);
    v->n = n;
    rc = 0;
done:
    free(word);
    if (rc) return pickle_fail(&c, buf, v);
    pk_free(&c);
    free(buf);
    return 0;
}

int damsm_vocab_load(damsm_vocab *v, const char *path, char *err, size_t errlen) {
    memset(v, 0, sizeof *v);
    FILE *f = fopen(path, "rb");
    if (!f) { seterr(err, errlen, "expected a readable vocabulary file (--vocab), found '%s': %s", path, strerror(errno)); return -1; }
    int c0 = getc(f);
    if (c0 != EOF) ungetc(c0, f);
    if (c0 == 0x80) {                        /* PROTO: a pickle, DF-GAN's captions_DAMSM.pickle */
        int rc = load_pickle(v, f, path, err, errlen);
        fclose(f);
        return rc;
    }
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
