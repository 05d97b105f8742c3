/* unicode.h: the Unicode character data and string operations that tokenize needs, seen the way
 * Python, the `regex` module and ftfy see them (the tables in unicode_tables.c are probed from
 * them by test/reference/gen_unicode_tables.py; its header names the versions).
 *
 * Strings here are arrays of code points (uint32_t) in a growable buffer (u32buf). */
#ifndef DFGAN_UNICODE_H
#define DFGAN_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* ---- per-code-point properties ---- */
enum {
    UNI_RX_L = 1 << 0,       /* regex: [\p{L}] under IGNORECASE (CLIP's letters)              */
    UNI_RX_N = 1 << 1,       /* regex: [\p{N}] under IGNORECASE (CLIP's digits)               */
    UNI_RX_O = 1 << 2,       /* regex: [^\s\p{L}\p{N}] under IGNORECASE (CLIP's other runs)   */
    UNI_RX_S = 1 << 3,       /* regex: \s (CLIP's whitespace_clean)                           */
    UNI_PY_SPACE = 1 << 4,   /* Python str.isspace (str.strip)                                */
    UNI_PY_WORD = 1 << 5,    /* Python re \w (DF-GAN's RegexpTokenizer(r'\w+'))               */
    UNI_PY_DECIMAL = 1 << 6, /* Python re \d (ftfy's terminal-escape pattern)                 */
    UNI_CASED = 1 << 7,      /* cased and not case-ignorable (Final_Sigma context)            */
    UNI_CASE_IGN = 1 << 8,   /* case-ignorable (Final_Sigma context)                          */
    UNI_HAS_LOWER = 1 << 9,  /* str.lower changes it                                          */
    UNI_NFC_CHECK = 1 << 10, /* may change under NFC (decomposes, combines, or is a mark)     */
};
unsigned uni_props(uint32_t cp);    /* UNI_* flags; 0 past U+10FFFF */

/* ---- growable code-point buffer ---- */
typedef struct { uint32_t *p; size_t n, cap; } u32buf;
void u32_reserve(u32buf *b, size_t n);           /* capacity for at least n code points */
void u32_push(u32buf *b, uint32_t cp);
void u32_free(u32buf *b);

/* ---- string operations (out is overwritten; in and out must differ) ---- */
/* Python's str.lower(): full lowercase mapping (U+0130 -> "i\u0307") and CPython's Final_Sigma. */
void uni_lower(u32buf *out, const uint32_t *in, size_t n);
/* unicodedata.normalize('NFC', s) as CPython computes it. */
void uni_nfc(u32buf *out, const uint32_t *in, size_t n);
/* Canonical combining class. */
int uni_ccc(uint32_t cp);
/* Whether cp matches the ASCII letter lit (a-z) under regex's IGNORECASE (e.g. U+017F for 's'). */
int uni_ic_eq(uint32_t cp, char lit);

/* ---- html.entities.html5 and ftfy's entity table ----
 * Find an HTML5 entity by name (without '&'; with its ';' if any): returns the number of code
 * points it stands for (1-2) and fills out[3], or 0 when it is not one. */
int uni_html5_entity(const char *name, size_t len, uint32_t out[3]);
/* ftfy's extra all-caps entities (e.g. "NTILDE;"); same contract, 1-3 code points. */
int uni_ftfy_upper_entity(const char *name, size_t len, uint32_t out[3]);

/* ---- the generated tables (unicode_tables.c) ---- */
typedef struct { uint32_t start; uint16_t flags; } uni_prop_range;
typedef struct { uint32_t first, last; uint8_t ccc; } uni_ccc_range;
typedef struct { uint32_t cp; uint16_t off; uint8_t len; } uni_decomp_entry;
typedef struct { uint32_t first, second, composite; } uni_comp_entry;
typedef struct { const char *name; uint32_t cps[3]; } uni_entity;

extern const uni_prop_range uni_prop_ranges[];
extern const int uni_prop_nranges;
extern const uint32_t uni_lower_pairs[][2];     /* (cp, lower), sorted; U+0130 is special */
extern const int uni_lower_npairs;
extern const uint32_t uni_ic_equiv[][2];        /* (cp, ASCII letter) beyond ASCII case */
extern const int uni_ic_nequiv;
extern const uni_ccc_range uni_ccc_ranges[];
extern const int uni_ccc_nranges;
extern const uint32_t uni_decomp_pool[];
extern const uni_decomp_entry uni_decomp[];     /* full canonical decompositions, sorted by cp */
extern const int uni_ndecomp;
extern const uni_comp_entry uni_comp[];         /* primary composites, sorted by (first, second) */
extern const int uni_ncomp;
extern const uni_entity uni_html5_entities[];   /* sorted by strcmp of name */
extern const int uni_html5_nentities;
extern const uni_entity uni_ftfy_upper_entities[];
extern const int uni_ftfy_upper_nentities;
extern const uint32_t uni_html_invalid_charrefs[][2];
extern const int uni_html_ninvalid_charrefs;
extern const uint32_t uni_html_invalid_codepoints[];
extern const int uni_html_ninvalid_codepoints;
extern const uint32_t uni_ftfy_c1[32];          /* U+0080..U+009F as sloppy-windows-1252 */
extern const uint32_t uni_ftfy_width[][3];      /* (cp, up to 2 code points, 0-padded) */
extern const int uni_ftfy_nwidth;
extern const uint32_t uni_ftfy_ligatures[][4];  /* (cp, up to 3 code points, 0-padded) */
extern const int uni_ftfy_nligatures;
extern const uint32_t uni_ftfy_controls[];      /* sorted */
extern const int uni_ftfy_ncontrols;

#endif
