/* textclean.c: html.unescape, the ftfy fixes tokenize reproduces, and CLIP's clean-up (see
 * textclean.h). Each step reads one buffer and writes another, as the Python it mirrors. */
#include "text/textclean.h"

#include <string.h>

#include "core/common.h"

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int is_hex(uint32_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int is_alnum_ascii(uint32_t c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static void swap_buf(u32buf *a, u32buf *b) { u32buf t = *a; *a = *b; *b = t; }

/* ---- html.unescape ---- */

/* html._replace_charref for a numeric reference (num saturates above 0x10FFFF). */
static void numeric_ref(u32buf *out, uint32_t num) {
    for (int k = 0; k < uni_html_ninvalid_charrefs; k++)
        if (uni_html_invalid_charrefs[k][0] == num) { u32_push(out, uni_html_invalid_charrefs[k][1]); return; }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) { u32_push(out, 0xFFFD); return; }
    for (int k = 0; k < uni_html_ninvalid_codepoints; k++)
        if (uni_html_invalid_codepoints[k] == num) return;
    u32_push(out, num);
}

static uint32_t parse_num(const uint32_t *s, size_t n, int base) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t d = is_digit(s[i]) ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
        v = v * (uint32_t)base + d;
        if (v > 0x110000) v = 0x110000; /* past U+10FFFF: all the same to the caller */
    }
    return v;
}

/* Name of up to 33 code points as bytes; non-ASCII becomes 0x01, which no entity name holds. */
static void name_bytes(char *dst, const uint32_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = s[i] < 0x80 ? (char)s[i] : 1;
}

static void push_cps(u32buf *out, const uint32_t *v, int k) {
    for (int i = 0; i < k; i++) u32_push(out, v[i]);
}

void html_unescape(u32buf *out, const uint32_t *in, size_t n) {
    out->n = 0;
    u32_reserve(out, n + 4);
    size_t i = 0;
    while (i < n) {
        if (in[i] != '&') { u32_push(out, in[i++]); continue; }
        size_t j = i + 1;
        if (j < n && in[j] == '#') {
            size_t k = j + 1;
            while (k < n && is_digit(in[k])) k++;
            if (k > j + 1) {                                   /* &#[0-9]+;? */
                uint32_t num = parse_num(in + j + 1, k - j - 1, 10);
                if (k < n && in[k] == ';') k++;
                numeric_ref(out, num);
                i = k;
                continue;
            }
            if (j + 1 < n && (in[j + 1] == 'x' || in[j + 1] == 'X')) {
                k = j + 2;
                while (k < n && is_hex(in[k])) k++;
                if (k > j + 2) {                               /* &#[xX][0-9a-fA-F]+;? */
                    uint32_t num = parse_num(in + j + 2, k - j - 2, 16);
                    if (k < n && in[k] == ';') k++;
                    numeric_ref(out, num);
                    i = k;
                    continue;
                }
            }
            u32_push(out, in[i++]);
            continue;
        }
        /* &[^\t\n\f <&#;]{1,32};? */
        size_t k = j;
        while (k < n && k - j < 32) {
            uint32_t c = in[k];
            if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';') break;
            k++;
        }
        if (k == j) { u32_push(out, in[i++]); continue; }
        if (k < n && in[k] == ';') k++;
        size_t len = k - j;
        char name[40];
        uint32_t v[3];
        int nv;
        name_bytes(name, in + j, len);
        if ((nv = uni_html5_entity(name, len, v)) > 0) {
            push_cps(out, v, nv);
        } else {
            size_t x;
            for (x = len - 1; x > 1; x--)                      /* longest matching prefix */
                if ((nv = uni_html5_entity(name, x, v)) > 0) break;
            if (x > 1) {
                push_cps(out, v, nv);
                for (size_t r = j + x; r < k; r++) u32_push(out, in[r]);
            } else {
                for (size_t r = i; r < k; r++) u32_push(out, in[r]);
            }
        }
        i = k;
    }
}

/* ---- ftfy ---- */

/* ftfy.fixes.unescape_html: &#?[0-9A-Za-z]{1,24}; replaced when it is one of ftfy's entities
 * (html5's names ending in ';' and the all-caps extras) or a numeric reference that
 * html.unescape decodes whole. */
static void ftfy_unescape_html(u32buf *out, const uint32_t *in, size_t n, u32buf *tmp) {
    out->n = 0;
    u32_reserve(out, n);
    size_t i = 0;
    while (i < n) {
        if (in[i] != '&') { u32_push(out, in[i++]); continue; }
        size_t j = i + 1;
        if (j < n && in[j] == '#') j++;
        size_t k = j;
        while (k < n && k - j <= 24 && is_alnum_ascii(in[k])) k++;
        if (k == j || k - j > 24 || k >= n || in[k] != ';') { u32_push(out, in[i++]); continue; }
        size_t end = k + 1; /* the match is in[i..end) */
        char name[32];
        uint32_t v[3];
        int nv = 0;
        name_bytes(name, in + i + 1, end - i - 1);
        if (in[i + 1] != '#') {
            nv = uni_html5_entity(name, end - i - 1, v);
            if (!nv) nv = uni_ftfy_upper_entity(name, end - i - 1, v);
            if (nv) push_cps(out, v, nv);
            else for (size_t r = i; r < end; r++) u32_push(out, in[r]);
        } else {
            html_unescape(tmp, in + i, end - i);
            int semi = 0;
            for (size_t r = 0; r < tmp->n; r++) semi |= tmp->p[r] == ';';
            if (semi) for (size_t r = i; r < end; r++) u32_push(out, in[r]);
            else for (size_t r = 0; r < tmp->n; r++) u32_push(out, tmp->p[r]);
        }
        i = end;
    }
}

static int find_row(const uint32_t (*t)[3], int nt, uint32_t cp) {
    int lo = 0, hi = nt - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t[mid][0] == cp) return mid;
        if (t[mid][0] < cp) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

static int is_control(uint32_t c) {
    if (c < 0x20) return c <= 8 || c == 0x0B || c >= 0x0E;
    if (c < 0x7F) return 0;
    int lo = 0, hi = uni_ftfy_ncontrols - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (uni_ftfy_controls[mid] == c) return 1;
        if (uni_ftfy_controls[mid] < c) lo = mid + 1; else hi = mid - 1;
    }
    return 0;
}

/* uncurl_quotes for one character. */
static void uncurl_push(u32buf *b, uint32_t c) {
    if (c >= 0x201C && c <= 0x201F) c = '"';
    else if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    b->p[b->n++] = c;
}

/* fix_character_width then uncurl_quotes for one character. */
static void width_uncurl(u32buf *b, uint32_t c) {
    if (c == 0x3000 || (c >= 0xFF01 && c < 0xFFF0)) {
        int r = find_row(uni_ftfy_width, uni_ftfy_nwidth, c);
        if (r >= 0) {
            for (int m = 1; m < 3 && uni_ftfy_width[r][m]; m++) uncurl_push(b, uni_ftfy_width[r][m]);
            return;
        }
    }
    uncurl_push(b, c);
}

/* The fixers after unescape_html, in ftfy's order, from a to b (the result ends in a). */
static void ftfy_char_fixes(u32buf *a, u32buf *b) {
    /* fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes: each maps single
     * characters, so one pass that feeds each one's output to the next is the same as four. */
    b->n = 0;
    u32_reserve(b, a->n * 6);
    for (size_t i = 0; i < a->n; i++) {
        uint32_t c = a->p[i];
        if (c >= 0x80 && c <= 0x9F) c = uni_ftfy_c1[c - 0x80];
        if (c >= 0x132 && c <= 0xFB06) {
            int hit = 0;
            for (int k = 0; k < uni_ftfy_nligatures && !hit; k++)
                if (uni_ftfy_ligatures[k][0] == c) {
                    for (int m = 1; m < 4 && uni_ftfy_ligatures[k][m]; m++) width_uncurl(b, uni_ftfy_ligatures[k][m]);
                    hit = 1;
                }
            if (hit) continue;
        }
        width_uncurl(b, c);
    }
    /* fix_line_breaks */
    a->n = 0;
    u32_reserve(a, b->n);
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = b->p[i];
        if (c == '\r') { if (i + 1 < b->n && b->p[i + 1] == '\n') i++; c = '\n'; }
        else if (c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
        a->p[a->n++] = c;
    }
    /* remove_terminal_escapes: \033\[((?:\d|;)*)([a-zA-Z]) */
    b->n = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->p[i] == 0x1B && i + 1 < a->n && a->p[i + 1] == '[') {
            size_t k = i + 2;
            while (k < a->n && (a->p[k] == ';' || (uni_props(a->p[k]) & UNI_PY_DECIMAL))) k++;
            if (k < a->n && a->p[k] < 0x80 && ((a->p[k] | 0x20) >= 'a' && (a->p[k] | 0x20) <= 'z')) { i = k; continue; }
        }
        b->p[b->n++] = a->p[i];
    }
    /* remove_control_chars */
    a->n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!is_control(b->p[i])) a->p[a->n++] = b->p[i];
    /* result in a */
}

void ftfy_fix_line(u32buf *s) {
    int unescape = 1;
    for (size_t i = 0; i < s->n; i++) if (s->p[i] == '<') { unescape = 0; break; }
    u32buf a = {0}, b = {0}, tmp = {0};
    for (;;) {
        if (unescape) ftfy_unescape_html(&a, s->p, s->n, &tmp);
        else {
            a.n = 0;
            u32_reserve(&a, s->n);
            if (s->n) memcpy(a.p, s->p, s->n * sizeof *s->p);
            a.n = s->n;
        }
        ftfy_char_fixes(&a, &b);
        uni_nfc(&b, a.p, a.n);
        int same = b.n == s->n && (b.n == 0 || memcmp(b.p, s->p, b.n * sizeof *b.p) == 0);
        swap_buf(s, &b);
        if (same) break;
    }
    u32_free(&a);
    u32_free(&b);
    u32_free(&tmp);
}

/* ---- CLIP ---- */

static void py_strip(u32buf *s) {
    size_t lo = 0, hi = s->n;
    while (lo < hi && (uni_props(s->p[lo]) & UNI_PY_SPACE)) lo++;
    while (hi > lo && (uni_props(s->p[hi - 1]) & UNI_PY_SPACE)) hi--;
    if (lo) memmove(s->p, s->p + lo, (hi - lo) * sizeof *s->p);
    s->n = hi - lo;
}

void clip_clean(u32buf *s) {
    u32buf t = {0};
    ftfy_fix_line(s);
    for (int r = 0; r < 2; r++) {
        int amp = 0;
        for (size_t i = 0; i < s->n && !amp; i++) amp = s->p[i] == '&';
        if (!amp) break;
        html_unescape(&t, s->p, s->n);
        swap_buf(s, &t);
    }
    py_strip(s);
    /* whitespace_clean: regex.sub(r'\s+', ' ', text).strip() */
    size_t o = 0;
    for (size_t i = 0; i < s->n;) {
        if (uni_props(s->p[i]) & UNI_RX_S) {
            while (i < s->n && (uni_props(s->p[i]) & UNI_RX_S)) i++;
            s->p[o++] = ' ';
        } else s->p[o++] = s->p[i++];
    }
    s->n = o;
    py_strip(s);
    uni_lower(&t, s->p, s->n);
    swap_buf(s, &t);
    u32_free(&t);
}
