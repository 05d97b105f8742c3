/* bpe.c: CLIP's byte-level BPE tokenizer (see bpe.h). */
#include "text/bpe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/common.h"
#include "core/strmap.h"
#include "text/textclean.h"
#include "text/utf8.h"

typedef struct { uint64_t key; int32_t rank, merged; } pair_slot; /* key 0 = empty */

struct clip_bpe {
    strmap vocab;               /* symbol string (UTF-8 of the byte-mapped text) -> id */
    int nvocab;
    int32_t plain_id[256], end_id[256];
    pair_slot *pairs;           /* (left id, right id) -> rank and merged id */
    size_t npairs_slots;
    int32_t sot, eot;
    int32_t special[2];         /* sot and eot, as token_ids returns them */
    strmap cache;               /* token bytes -> index into cache_span */
    struct { uint32_t off, len; } *cache_span;
    size_t ncache, cache_cap;
    int32_t *cache_ids;
    size_t ncache_ids, cache_ids_cap;
    int32_t *word, *next;       /* scratch for one word */
    size_t word_cap;
};

#define CACHE_MAX 1000000       /* words remembered; past it, words are encoded afresh */


/* bytes_to_unicode(): byte -> code point, and the byte's place in the vocabulary. */
static void byte_table(uint32_t cs[256], int order[256]) {
    int n = 0, extra = 0, is_printable[256] = {0};
    for (int b = '!'; b <= '~'; b++) is_printable[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) is_printable[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) is_printable[b] = 1;
    for (int b = 0; b < 256; b++) if (is_printable[b]) { cs[b] = (uint32_t)b; order[n++] = b; }
    for (int b = 0; b < 256; b++) if (!is_printable[b]) { cs[b] = 256u + (uint32_t)extra++; order[n++] = b; }
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1; }
static size_t pair_hash(uint64_t k) { k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33; return (size_t)k; }

static pair_slot *pair_find(const clip_bpe *t, int32_t a, int32_t b) {
    uint64_t k = pair_key(a, b);
    size_t mask = t->npairs_slots - 1, i = pair_hash(k) & mask;
    while (t->pairs[i].key && t->pairs[i].key != k) i = (i + 1) & mask;
    return &t->pairs[i];
}

static unsigned char *read_all(const char *path, size_t *len, char *err, size_t errlen) {
    gzFile g = gzopen(path, "rb");
    if (!g) {
        seterr(err, errlen, "expected a readable BPE merges file at '%s', found: %s", path,
               errno ? strerror(errno) : "gzopen failing");
        return NULL;
    }
    size_t cap = 1 << 21, n = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap) buf = xrealloc(buf, cap *= 2);
        int k = gzread(g, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (k < 0) {
            int zerr;
            const char *msg = gzerror(g, &zerr);
            seterr(err, errlen, "expected a gzip-compressed BPE merges file at '%s', found: %s", path,
                   zerr == Z_ERRNO ? strerror(errno) : msg);
            gzclose(g);
            free(buf);
            return NULL;
        }
        if (k == 0) break;
        n += (size_t)k;
        if (n > ((size_t)64 << 20)) {
            seterr(err, errlen, "expected a BPE merges file of about 1.4 MB, found '%s' larger than 64 MB", path);
            gzclose(g);
            free(buf);
            return NULL;
        }
    }
    gzclose(g);
    *len = n;
    return buf;
}

clip_bpe *clip_bpe_load(const char *path, char *err, size_t errlen) {
    size_t len;
    unsigned char *text = read_all(path, &len, err, errlen);
    if (!text) return NULL;
    /* Lines as Python's .split('\n'): line 0 is the "#version" header. */
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += text[i] == '\n';
    if (nlines < 1 + CLIP_NMERGES) {
        seterr(err, errlen, "expected at least %d merge lines after the header in '%s', found %zu",
               CLIP_NMERGES, path, nlines - 1);
        free(text);
        return NULL;
    }
    clip_bpe *t = xcalloc(1, sizeof *t);
    strmap_init(&t->vocab);
    strmap_init(&t->cache);
    uint32_t cs[256];
    int order[256];
    byte_table(cs, order);
    unsigned char sym[64];
    int id = 0;
    for (int k = 0; k < 256; k++) { int n = utf8_encode(cs[order[k]], sym); strmap_set(&t->vocab, sym, (size_t)n, id++); }
    for (int k = 0; k < 256; k++) {
        int n = utf8_encode(cs[order[k]], sym);
        memcpy(sym + n, "</w>", 4);
        strmap_set(&t->vocab, sym, (size_t)n + 4, id++);
    }
    /* The merges: record the two halves of each as offsets into text. */
    struct { size_t a, alen, b, blen; } *m = xmalloc((size_t)CLIP_NMERGES * sizeof *m);
    size_t pos = 0, line = 0;
    while (line < 1 + (size_t)CLIP_NMERGES) {
        size_t e = pos;
        while (e < len && text[e] != '\n') e++;
        if (line >= 1) {
            /* merge.split(): fields separated by ASCII whitespace (the symbols hold none) */
            size_t f[4], nf = 0, i = pos;
            while (i < e && nf < 4) {
                while (i < e && strchr(" \t\r\v\f", text[i])) i++;
                if (i >= e) break;
                size_t s0 = i;
                while (i < e && !strchr(" \t\r\v\f", text[i])) i++;
                if (nf < 4) { f[nf] = s0; f[nf + 1] = i - s0; }
                nf += 2;
            }
            while (i < e && strchr(" \t\r\v\f", text[i])) i++;
            if (nf != 4 || i != e) {
                int shown = (int)(e - pos > 40 ? 40 : e - pos);
                seterr(err, errlen, "expected two symbols on line %zu of '%s', found '%.*s'", line + 1, path,
                       shown, (const char *)text + pos);
                free(m);
                free(text);
                clip_bpe_free(t);
                return NULL;
            }
            size_t k = line - 1;
            m[k].a = f[0]; m[k].alen = f[1]; m[k].b = f[2]; m[k].blen = f[3];
            unsigned char *joined = xmalloc(f[1] + f[3]);
            memcpy(joined, text + f[0], f[1]);
            memcpy(joined + f[1], text + f[2], f[3]);
            strmap_set(&t->vocab, joined, f[1] + f[3], id++);
            free(joined);
        }
        pos = e + 1;
        line++;
    }
    t->sot = id;
    strmap_set(&t->vocab, "<|startoftext|>", 15, id++);
    t->eot = id;
    strmap_set(&t->vocab, "<|endoftext|>", 13, id++);
    t->nvocab = id;
    t->sot = *strmap_get(&t->vocab, "<|startoftext|>", 15);
    t->eot = *strmap_get(&t->vocab, "<|endoftext|>", 13);
    t->special[0] = t->sot;
    t->special[1] = t->eot;
    for (int b = 0; b < 256; b++) {
        int n = utf8_encode(cs[b], sym);
        t->plain_id[b] = *strmap_get(&t->vocab, sym, (size_t)n);
        memcpy(sym + n, "</w>", 4);
        t->end_id[b] = *strmap_get(&t->vocab, sym, (size_t)n + 4);
    }
    /* Ranks: bpe_ranks = dict(zip(merges, range(len(merges)))) (a later duplicate wins). A merge
     * whose halves are not vocabulary strings can never apply and is left out. */
    t->npairs_slots = 1;
    while (t->npairs_slots < 2 * (size_t)CLIP_NMERGES) t->npairs_slots *= 2;
    t->pairs = xcalloc(t->npairs_slots, sizeof *t->pairs);
    for (int k = 0; k < CLIP_NMERGES; k++) {
        int32_t *ia = strmap_get(&t->vocab, text + m[k].a, m[k].alen);
        int32_t *ib = strmap_get(&t->vocab, text + m[k].b, m[k].blen);
        if (!ia || !ib) continue;
        unsigned char *joined = xmalloc(m[k].alen + m[k].blen);
        memcpy(joined, text + m[k].a, m[k].alen);
        memcpy(joined + m[k].alen, text + m[k].b, m[k].blen);
        int32_t merged = *strmap_get(&t->vocab, joined, m[k].alen + m[k].blen);
        free(joined);
        pair_slot *s = pair_find(t, *ia, *ib);
        s->key = pair_key(*ia, *ib);
        s->rank = k;
        s->merged = merged;
    }
    free(m);
    free(text);
    return t;
}

void clip_bpe_free(clip_bpe *t) {
    if (!t) return;
    strmap_free(&t->vocab);
    strmap_free(&t->cache);
    free(t->pairs);
    free(t->cache_span);
    free(t->cache_ids);
    free(t->word);
    free(t->next);
    free(t);
}

int32_t clip_sot(const clip_bpe *t) { return t->sot; }
int32_t clip_eot(const clip_bpe *t) { return t->eot; }
int clip_vocab_size(const clip_bpe *t) { return t->nvocab; }

/* SimpleTokenizer.bpe on one token's bytes; returns the symbol count, ids in t->word. */
static size_t bpe_word(clip_bpe *t, const unsigned char *w, size_t m) {
    if (m > t->word_cap) {
        t->word_cap = m * 2;
        t->word = xrealloc(t->word, t->word_cap * sizeof *t->word);
        t->next = xrealloc(t->next, t->word_cap * sizeof *t->next);
    }
    int32_t *word = t->word;
    for (size_t i = 0; i + 1 < m; i++) word[i] = t->plain_id[w[i]];
    word[m - 1] = t->end_id[w[m - 1]];
    size_t n = m;
    while (n > 1) {
        int32_t best = INT32_MAX, first = 0, second = 0, merged = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            pair_slot *s = pair_find(t, word[i], word[i + 1]);
            if (s->key && s->rank < best) { best = s->rank; first = word[i]; second = word[i + 1]; merged = s->merged; }
        }
        if (best == INT32_MAX) break;
        size_t o = 0;
        for (size_t i = 0; i < n;) {
            if (i + 1 < n && word[i] == first && word[i + 1] == second) { t->next[o++] = merged; i += 2; }
            else t->next[o++] = word[i++];
        }
        memcpy(word, t->next, o * sizeof *word);
        n = o;
    }
    return n;
}

/* Ids of one token (cached). */
static const int32_t *token_ids(clip_bpe *t, const unsigned char *w, size_t m, size_t *count) {
    int32_t *hit = strmap_get(&t->cache, w, m);
    if (hit) {
        *count = t->cache_span[*hit].len;
        return t->cache_ids + t->cache_span[*hit].off;
    }
    size_t n;
    const int32_t *ids;
    if ((m == 15 && memcmp(w, "<|startoftext|>", 15) == 0) || (m == 13 && memcmp(w, "<|endoftext|>", 13) == 0)) {
        /* SimpleTokenizer's cache starts with these two: no BPE for them */
        ids = &t->special[m == 15 ? 0 : 1];
        n = 1;
    } else {
        n = bpe_word(t, w, m);
        ids = t->word;
    }
    if (t->ncache >= CACHE_MAX) { *count = n; return ids; }
    if (t->ncache == t->cache_cap) t->cache_span = xrealloc(t->cache_span, (t->cache_cap = t->cache_cap ? 2 * t->cache_cap : 1024) * sizeof *t->cache_span);
    if (t->ncache_ids + n > t->cache_ids_cap) {
        while (t->ncache_ids + n > t->cache_ids_cap) t->cache_ids_cap = t->cache_ids_cap ? 2 * t->cache_ids_cap : 4096;
        t->cache_ids = xrealloc(t->cache_ids, t->cache_ids_cap * sizeof *t->cache_ids);
    }
    memcpy(t->cache_ids + t->ncache_ids, ids, n * sizeof *ids);
    t->cache_span[t->ncache].off = (uint32_t)t->ncache_ids;
    t->cache_span[t->ncache].len = (uint32_t)n;
    strmap_set(&t->cache, w, m, (int32_t)t->ncache);
    t->ncache++;
    t->ncache_ids += n;
    *count = n;
    return t->cache_ids + t->cache_span[t->ncache - 1].off;
}

/* Does the literal lit (ASCII) match s at i under IGNORECASE? Returns its length or 0. */
static size_t match_lit(const uint32_t *s, size_t n, size_t i, const char *lit) {
    size_t k = 0;
    for (; lit[k]; k++) {
        if (i + k >= n) return 0;
        char c = lit[k];
        if (c >= 'a' && c <= 'z' ? !uni_ic_eq(s[i + k], c) : s[i + k] != (uint32_t)c) return 0;
    }
    return k;
}

size_t clip_encode_clean(clip_bpe *t, const uint32_t *s, size_t n, int32_t *ids, size_t max) {
    static const char *const lits[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    size_t out = 0, i = 0, cap = 256;
    unsigned char *w = xmalloc(cap);
    while (i < n && out < max) {
        size_t end = 0;
        if (s[i] == '<' || s[i] == '\'')
            for (size_t k = 0; k < sizeof lits / sizeof *lits && !end; k++) {
                size_t l = match_lit(s, n, i, lits[k]);
                if (l) end = i + l;
            }
        if (!end) {
            unsigned p = uni_props(s[i]);
            if (p & UNI_RX_L) { end = i + 1; while (end < n && (uni_props(s[end]) & UNI_RX_L)) end++; }
            else if (p & UNI_RX_N) end = i + 1;
            else if (p & UNI_RX_O) { end = i + 1; while (end < n && (uni_props(s[end]) & UNI_RX_O)) end++; }
            else { i++; continue; }
        }
        if ((end - i) * 4 > cap) { cap = (end - i) * 4; w = xrealloc(w, cap); }
        size_t m = 0;
        for (size_t k = i; k < end; k++) m += (size_t)utf8_encode(s[k], w + m);
        size_t cnt;
        const int32_t *tok = token_ids(t, w, m, &cnt);
        for (size_t k = 0; k < cnt && out < max; k++) ids[out++] = tok[k];
        i = end;
    }
    free(w);
    return out;
}

void clip_tokenize(clip_bpe *t, u32buf *s, int context, int32_t *row) {
    memset(row, 0, (size_t)context * sizeof *row);
    /* [sot] + tokens + [eot]; longer than context: the first context ids, the last one eot. */
    if (context == 1) { row[0] = t->eot; return; }
    clip_clean(s);
    size_t n = clip_encode_clean(t, s->p, s->n, row + 1, (size_t)context - 1);
    row[0] = t->sot;
    if (n + 2 > (size_t)context) row[context - 1] = t->eot;
    else row[n + 1] = t->eot;
}
