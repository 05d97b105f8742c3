/* unicode.c: property lookups, Python's str.lower and CPython's NFC over the generated tables
 * (see unicode.h). */
#include "text/unicode.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* ---- buffers ---- */

void u32_reserve(u32buf *b, size_t n) {
    if (n <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n) cap *= 2;
    b->p = xrealloc(b->p, cap * sizeof *b->p);
    b->cap = cap;
}
void u32_push(u32buf *b, uint32_t cp) {
    if (b->n == b->cap) u32_reserve(b, b->n + 1);
    b->p[b->n++] = cp;
}
void u32_free(u32buf *b) { free(b->p); memset(b, 0, sizeof *b); }

/* ---- properties: a 64K table for the BMP built on first use, binary search above ---- */

static uint16_t *bmp_props;

static unsigned range_lookup(uint32_t cp) {
    int lo = 0, hi = uni_prop_nranges - 1;
    while (lo < hi) { /* last range whose start <= cp */
        int mid = (lo + hi + 1) / 2;
        if (uni_prop_ranges[mid].start <= cp) lo = mid; else hi = mid - 1;
    }
    return uni_prop_ranges[lo].flags;
}

unsigned uni_props(uint32_t cp) {
    if (cp > 0x10FFFF) return 0;
    if (cp >= 0x10000) return range_lookup(cp);
    if (!bmp_props) {
        uint16_t *t = xmalloc(0x10000 * sizeof *t);
        for (int r = 0; r < uni_prop_nranges && uni_prop_ranges[r].start < 0x10000; r++) {
            uint32_t end = r + 1 < uni_prop_nranges ? uni_prop_ranges[r + 1].start : 0x110000;
            if (end > 0x10000) end = 0x10000;
            for (uint32_t c = uni_prop_ranges[r].start; c < end; c++) t[c] = uni_prop_ranges[r].flags;
        }
        bmp_props = t;
    }
    return bmp_props[cp];
}

int uni_ic_eq(uint32_t cp, char lit) {
    if (cp == (uint32_t)lit || cp == (uint32_t)(lit - 'a' + 'A')) return 1;
    if (cp < 0x80) return 0;
    for (int i = 0; i < uni_ic_nequiv; i++)
        if (uni_ic_equiv[i][0] == cp && uni_ic_equiv[i][1] == (uint32_t)lit) return 1;
    return 0;
}

/* ---- lowercase ---- */

static uint32_t lower1(uint32_t cp) {
    int lo = 0, hi = uni_lower_npairs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (uni_lower_pairs[mid][0] == cp) return uni_lower_pairs[mid][1];
        if (uni_lower_pairs[mid][0] < cp) lo = mid + 1; else hi = mid - 1;
    }
    return cp;
}

/* CPython's handle_capital_sigma: U+03A3 is final when a cased letter precedes it (skipping
 * case-ignorables) and none follows it (skipping case-ignorables). */
static int final_sigma(const uint32_t *s, size_t n, size_t i) {
    size_t j = i;
    unsigned p = 0;
    while (j > 0) {
        p = uni_props(s[--j]);
        if (!(p & UNI_CASE_IGN)) break;
        p = 0;
    }
    if (!(p & UNI_CASED)) return 0;
    for (j = i + 1; j < n; j++) {
        p = uni_props(s[j]);
        if (!(p & UNI_CASE_IGN)) return !(p & UNI_CASED);
    }
    return 1;
}

void uni_lower(u32buf *out, const uint32_t *in, size_t n) {
    out->n = 0;
    u32_reserve(out, n + 8);
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c < 0x80) { u32_push(out, c >= 'A' && c <= 'Z' ? c + 32 : c); continue; }
        if (!(uni_props(c) & UNI_HAS_LOWER)) { u32_push(out, c); continue; }
        if (c == 0x130) { u32_push(out, 'i'); u32_push(out, 0x307); continue; }
        if (c == 0x3A3) { u32_push(out, final_sigma(in, n, i) ? 0x3C2 : 0x3C3); continue; }
        u32_push(out, lower1(c));
    }
}

/* ---- NFC, as CPython's unicodedata.normalize computes it ---- */

int uni_ccc(uint32_t cp) {
    int lo = 0, hi = uni_ccc_nranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < uni_ccc_ranges[mid].first) hi = mid - 1;
        else if (cp > uni_ccc_ranges[mid].last) lo = mid + 1;
        else return uni_ccc_ranges[mid].ccc;
    }
    return 0;
}

enum { SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7,
       LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount };

static const uni_decomp_entry *find_decomp(uint32_t cp) {
    int lo = 0, hi = uni_ndecomp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (uni_decomp[mid].cp == cp) return &uni_decomp[mid];
        if (uni_decomp[mid].cp < cp) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

/* Index of the first pair whose first is >= a. */
static int comp_lower_bound(uint32_t a) {
    int lo = 0, hi = uni_ncomp;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (uni_comp[mid].first < a) lo = mid + 1; else hi = mid;
    }
    return lo;
}
static int is_first(uint32_t a) {
    int i = comp_lower_bound(a);
    return i < uni_ncomp && uni_comp[i].first == a;
}
static uint32_t compose(uint32_t a, uint32_t b) {
    int lo = comp_lower_bound(a), hi = uni_ncomp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const uni_comp_entry *e = &uni_comp[mid];
        if (e->first == a && e->second == b) return e->composite;
        if (e->first < a || (e->first == a && e->second < b)) lo = mid + 1; else hi = mid - 1;
    }
    return 0;
}

void uni_nfc(u32buf *out, const uint32_t *in, size_t n) {
    out->n = 0;
    int check = 0;
    for (size_t i = 0; i < n && !check; i++) check = in[i] >= 0x300 && (uni_props(in[i]) & UNI_NFC_CHECK);
    if (!check) { /* nothing here decomposes, combines or reorders */
        u32_reserve(out, n);
        if (n) memcpy(out->p, in, n * sizeof *in);
        out->n = n;
        return;
    }
    /* Canonical decomposition. */
    u32buf d = {0};
    u32_reserve(&d, n * 2 + 4);
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c >= SBase && c < SBase + SCount) {
            uint32_t s = c - SBase;
            u32_push(&d, LBase + s / NCount);
            u32_push(&d, VBase + (s % NCount) / TCount);
            if (s % TCount) u32_push(&d, TBase + s % TCount);
            continue;
        }
        const uni_decomp_entry *e = c >= 0xC0 ? find_decomp(c) : NULL;
        if (!e) { u32_push(&d, c); continue; }
        for (int k = 0; k < e->len; k++) u32_push(&d, uni_decomp_pool[e->off + k]);
    }
    /* Canonical ordering: a stable insertion sort of each run of non-starters, as CPython does. */
    int *cc = xmalloc((d.n + 1) * sizeof *cc);
    for (size_t i = 0; i < d.n; i++) cc[i] = uni_ccc(d.p[i]);
    for (size_t i = 1; i < d.n; i++) {
        int cur = cc[i];
        if (cur == 0) continue;
        size_t o = i;
        while (o > 0 && cc[o - 1] != 0 && cc[o - 1] > cur) {
            uint32_t t = d.p[o]; d.p[o] = d.p[o - 1]; d.p[o - 1] = t;
            int tc = cc[o]; cc[o] = cc[o - 1]; cc[o - 1] = tc;
            o--;
        }
    }
    /* Composition: a port of CPython's nfc_nfkc loop. */
    unsigned char *skipped = xcalloc(d.n + 1, 1);
    u32_reserve(out, d.n);
    size_t i = 0, len = d.n;
    while (i < len) {
        if (skipped[i]) { i++; continue; }
        uint32_t code = d.p[i];
        if (code >= LBase && code < LBase + LCount && i + 1 < len &&
            d.p[i + 1] >= VBase && d.p[i + 1] < VBase + VCount) {
            uint32_t L = code - LBase, V = d.p[i + 1] - VBase;
            code = SBase + (L * VCount + V) * TCount;
            i += 2;
            if (i < len && TBase < d.p[i] && d.p[i] < TBase + TCount) code += d.p[i++] - TBase;
            out->p[out->n++] = code;
            continue;
        }
        if (!is_first(code)) { out->p[out->n++] = code; i++; continue; }
        size_t i1 = i + 1;
        int comb = 0;
        uint32_t cur = code;
        while (i1 < len) {
            int comb1 = cc[i1];
            if (comb) {
                if (comb1 == 0) break;
                if (comb >= comb1) { i1++; continue; } /* blocked */
            }
            uint32_t c = skipped[i1] ? 0 : compose(cur, d.p[i1]);
            if (!c) {
                if (comb1 == 0) break;
                comb = comb1;
                i1++;
                continue;
            }
            cur = c;
            skipped[i1] = 1;
            i1++;
            if (!is_first(cur)) break;
        }
        out->p[out->n++] = cur;
        i++;
    }
    free(skipped);
    free(cc);
    u32_free(&d);
}

/* ---- entities ---- */

static int cmp_name(const char *name, size_t len, const char *s) {
    size_t k = 0;
    for (; k < len && s[k]; k++)
        if ((unsigned char)name[k] != (unsigned char)s[k]) return (unsigned char)name[k] < (unsigned char)s[k] ? -1 : 1;
    if (k < len) return 1;      /* s is a proper prefix of name */
    return s[k] ? -1 : 0;       /* name is a proper prefix of s */
}

static int entity_lookup(const uni_entity *t, int nt, const char *name, size_t len, uint32_t out[3]) {
    int lo = 0, hi = nt - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = cmp_name(name, len, t[mid].name);
        if (c == 0) {
            int k = 0;
            while (k < 3 && t[mid].cps[k]) { out[k] = t[mid].cps[k]; k++; }
            return k;
        }
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return 0;
}

int uni_html5_entity(const char *name, size_t len, uint32_t out[3]) {
    return entity_lookup(uni_html5_entities, uni_html5_nentities, name, len, out);
}
int uni_ftfy_upper_entity(const char *name, size_t len, uint32_t out[3]) {
    return entity_lookup(uni_ftfy_upper_entities, uni_ftfy_upper_nentities, name, len, out);
}
