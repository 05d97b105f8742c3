#!/usr/bin/env python3
"""gen_unicode_tables.py: write lib/text/unicode_tables.c, the Unicode data that tokenize needs.

    /usr/bin/python3 test/reference/gen_unicode_tables.py [OUT.c]     (default: lib/text/unicode_tables.c)

Needs: pip install --break-system-packages ftfy regex

Every table is probed from the code that OpenAI's CLIP tokenizer and DF-GAN actually run, not
from the Unicode files, so that the C code sees characters exactly as they do:
  - the `regex` module (CLIP's split pattern, compiled with IGNORECASE; its \\s in
    whitespace_clean): which characters [\\p{L}], [\\p{N}], [^\\s\\p{L}\\p{N}] and \\s match;
  - Python's str methods (str.strip -> isspace; str.lower incl. the Final_Sigma context that
    CPython implements; re's \\w and \\d, which DF-GAN's RegexpTokenizer and ftfy use);
  - unicodedata (NFC, which ftfy.fix_text applies): combining classes, canonical
    decompositions, primary composites;
  - html.entities.html5 and html's numeric-reference rules (html.unescape);
  - ftfy.chardata (its entity table, width map, ligatures, control characters, C1 fixes).
The versions used are written into the header of the generated file. The file is committed;
the build never runs this script.
"""
import html
import html.entities
import os
import re
import sys
import unicodedata

import ftfy
import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-1252)
import ftfy.chardata as fc
import regex

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "lib", "unicode_tables.c")
MAXCP = 0x110000


def is_surrogate(c):
    return 0xD800 <= c < 0xE000


# ---- per-code-point flags ----
F_RX_L, F_RX_N, F_RX_O, F_RX_S = 1 << 0, 1 << 1, 1 << 2, 1 << 3
F_PY_SPACE, F_PY_WORD, F_PY_DECIMAL = 1 << 4, 1 << 5, 1 << 6
F_CASED, F_CASE_IGN, F_HAS_LOWER, F_NFC_CHECK = 1 << 7, 1 << 8, 1 << 9, 1 << 10

I = regex.IGNORECASE
rx_l = regex.compile(r"[\p{L}]", I)
rx_n = regex.compile(r"[\p{N}]", I)
rx_o = regex.compile(r"[^\s\p{L}\p{N}]", I)
rx_s = regex.compile(r"\s")
py_w = re.compile(r"\w")
py_d = re.compile(r"\d")

# Composition data first (NFC_CHECK needs the "second" characters).
comp = {}         # (first, second) -> composite
decomp = {}       # cp -> full canonical decomposition (NFD), Hangul syllables excluded
ccc = {}
for c in range(MAXCP):
    if is_surrogate(c):
        continue
    ch = chr(c)
    k = unicodedata.combining(ch)
    if k:
        ccc[c] = k
    if 0xAC00 <= c < 0xAC00 + 11172:
        continue
    d = unicodedata.normalize("NFD", ch)
    if d != ch:
        decomp[c] = [ord(x) for x in d]
    raw = unicodedata.decomposition(ch)
    if raw and not raw.startswith("<"):
        parts = [int(x, 16) for x in raw.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == ch:
            comp[(parts[0], parts[1])] = c
seconds = {b for (_, b) in comp}

flags = [0] * MAXCP
lower_pairs = []
for c in range(MAXCP):
    if is_surrogate(c):
        continue
    ch = chr(c)
    f = 0
    if rx_l.match(ch): f |= F_RX_L
    if rx_n.match(ch): f |= F_RX_N
    if rx_o.match(ch): f |= F_RX_O
    if rx_s.match(ch): f |= F_RX_S
    if ch.isspace(): f |= F_PY_SPACE
    if py_w.match(ch): f |= F_PY_WORD
    if py_d.match(ch): f |= F_PY_DECIMAL
    # CPython's Final_Sigma: \p{cased}\p{case-ignorable}* SIGMA !(\p{case-ignorable}*\p{cased}).
    # Probed through str.lower itself: ignorable <=> P2 and P3; cased (for a non-ignorable
    # character, the only case the rule ever looks at) <=> P1.
    p1 = (ch + "\u03a3").lower()[-1] == "\u03c2"
    p2 = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"
    p3 = ("A\u03a3" + ch).lower()[1] == "\u03c2"
    ign = p2 and p3
    if ign: f |= F_CASE_IGN
    elif p1: f |= F_CASED
    lo = ch.lower()
    if lo != ch:
        f |= F_HAS_LOWER
        if len(lo) == 1:
            lower_pairs.append((c, ord(lo)))
        else:
            assert c == 0x130 and lo == "i\u0307", (hex(c), lo)
    if c in decomp or c in ccc or c in seconds or (0xAC00 <= c < 0xAC00 + 11172) \
            or 0x1161 <= c <= 0x1175 or 0x11A8 <= c <= 0x11C2:
        f |= F_NFC_CHECK
    flags[c] = f
for c in range(0xD800, 0xE000):
    flags[c] = F_RX_O  # never seen: the input is valid UTF-8

# Case-insensitive equivalents of the ASCII letters in CLIP's literal alternatives.
ic_equiv = []
for lit in "startofexndlvmk":
    for c in range(0x80, MAXCP):
        if not is_surrogate(c) and regex.fullmatch(lit, chr(c), I):
            ic_equiv.append((c, ord(lit)))
ic_equiv.sort()

ranges = []
for c in range(MAXCP):
    if not ranges or ranges[-1][1] != flags[c]:
        ranges.append((c, flags[c]))

ccc_ranges = []
for c in sorted(ccc):
    if ccc_ranges and ccc_ranges[-1][1] == c - 1 and ccc_ranges[-1][2] == ccc[c]:
        ccc_ranges[-1][1] = c
    else:
        ccc_ranges.append([c, c, ccc[c]])

# ---- html.unescape and ftfy ----
html5 = sorted(html.entities.html5.items(), key=lambda kv: kv[0].encode())
assert all(1 <= len(v) <= 2 for _, v in html5) and all(k.isascii() for k, _ in html5)
ftfy_extra = sorted(((k[1:], v) for k, v in fc.HTML_ENTITIES.items() if k[1:] not in html.entities.html5),
                    key=lambda kv: kv[0].encode())
assert all(1 <= len(v) <= 3 for _, v in ftfy_extra)
# ftfy's table == html5's names that end in ';' + the extras
check = {"&" + k: v for k, v in html.entities.html5.items() if k.endswith(";")}
check.update({"&" + k: v for k, v in ftfy_extra})
assert check == fc.HTML_ENTITIES

import html as _h
invalid_charrefs = sorted(_h._invalid_charrefs.items())
assert all(len(v) == 1 for _, v in invalid_charrefs)
invalid_codepoints = sorted(_h._invalid_codepoints)
assert _h._charref.pattern == r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)'

c1 = [ord(bytes([b]).decode("sloppy-windows-1252")) for b in range(0x80, 0xA0)]
width = sorted(fc.WIDTH_MAP.items())
assert all(1 <= len(v) <= 2 for _, v in width)
ligatures = sorted(fc.LIGATURES.items())
assert all(1 <= len(v) <= 3 for _, v in ligatures)
controls = sorted(fc.CONTROL_CHARS)
assert fc.SINGLE_QUOTE_RE.pattern == "[\u02bc\u2018-\u201b]" and fc.DOUBLE_QUOTE_RE.pattern == "[\u201c-\u201f]"
assert fc.HTML_ENTITY_RE.pattern == r"&#?[0-9A-Za-z]{1,24};"
assert fc.C1_CONTROL_RE.pattern == r"[\x80-\x9f]"


def cstr(s):
    return '"' + "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "\\%03o" % ord(ch) for ch in s) + '"'


def cps(v, n):
    assert len(v) <= n
    return ",".join("0x%X" % ord(x) for x in v)  # the rest of the array is zero-initialised


def rows(items, per_line):
    out = []
    for i in range(0, len(items), per_line):
        out.append("    " + " ".join(items[i:i + per_line]))
    return "\n".join(out)


L = []
w = L.append
w("/* unicode_tables.c: GENERATED by test/reference/gen_unicode_tables.py; do not edit.")
w(" * Python %s, unicodedata %s, regex %s, ftfy %s." % (sys.version.split()[0], unicodedata.unidata_version,
                                                       regex.__version__, ftfy.__version__))
w(" * See unicode.h for what each table means. */")
w('#include "text/unicode.h"')
w("")
w("const uni_prop_range uni_prop_ranges[] = {")
w(rows(["{0x%X, 0x%X}," % r for r in ranges], 6))
w("};")
w("const int uni_prop_nranges = %d;" % len(ranges))
w("")
w("const uint32_t uni_lower_pairs[][2] = {")
w(rows(["{0x%X, 0x%X}," % p for p in lower_pairs], 6))
w("};")
w("const int uni_lower_npairs = %d;" % len(lower_pairs))
w("")
w("const uint32_t uni_ic_equiv[][2] = {")
w(rows(["{0x%X, 0x%X}," % p for p in ic_equiv], 6))
w("};")
w("const int uni_ic_nequiv = %d;" % len(ic_equiv))
w("")
w("const uni_ccc_range uni_ccc_ranges[] = {")
w(rows(["{0x%X, 0x%X, %d}," % tuple(r) for r in ccc_ranges], 5))
w("};")
w("const int uni_ccc_nranges = %d;" % len(ccc_ranges))
w("")
pool, idx = [], []
for c in sorted(decomp):
    idx.append((c, len(pool), len(decomp[c])))
    pool.extend(decomp[c])
w("const uint32_t uni_decomp_pool[] = {")
w(rows(["0x%X," % x for x in pool], 10))
w("};")
w("const uni_decomp_entry uni_decomp[] = {")
w(rows(["{0x%X, %d, %d}," % e for e in idx], 6))
w("};")
w("const int uni_ndecomp = %d;" % len(idx))
w("")
w("const uni_comp_entry uni_comp[] = {")
w(rows(["{0x%X, 0x%X, 0x%X}," % (a, b, c) for (a, b), c in sorted(comp.items())], 5))
w("};")
w("const int uni_ncomp = %d;" % len(comp))
w("")
w("const uni_entity uni_html5_entities[] = {")
w(rows(["{%s,{%s}}," % (cstr(k), cps(v, 3)) for k, v in html5], 5))
w("};")
w("const int uni_html5_nentities = %d;" % len(html5))
w("")
w("const uni_entity uni_ftfy_upper_entities[] = {")
w(rows(["{%s,{%s}}," % (cstr(k), cps(v, 3)) for k, v in ftfy_extra], 5))
w("};")
w("const int uni_ftfy_upper_nentities = %d;" % len(ftfy_extra))
w("")
w("const uint32_t uni_html_invalid_charrefs[][2] = {")
w(rows(["{0x%X, 0x%X}," % (k, ord(v)) for k, v in invalid_charrefs], 6))
w("};")
w("const int uni_html_ninvalid_charrefs = %d;" % len(invalid_charrefs))
w("const uint32_t uni_html_invalid_codepoints[] = {")
w(rows(["0x%X," % x for x in invalid_codepoints], 10))
w("};")
w("const int uni_html_ninvalid_codepoints = %d;" % len(invalid_codepoints))
w("")
w("const uint32_t uni_ftfy_c1[32] = {")
w(rows(["0x%X," % x for x in c1], 8))
w("};")
w("const uint32_t uni_ftfy_width[][3] = {")
w(rows(["{0x%X,%s}," % (k, cps(v, 2)) for k, v in width], 8))
w("};")
w("const int uni_ftfy_nwidth = %d;" % len(width))
w("const uint32_t uni_ftfy_ligatures[][4] = {")
w(rows(["{0x%X,%s}," % (k, cps(v, 3)) for k, v in ligatures], 6))
w("};")
w("const int uni_ftfy_nligatures = %d;" % len(ligatures))
w("const uint32_t uni_ftfy_controls[] = {")
w(rows(["0x%X," % x for x in controls], 10))
w("};")
w("const int uni_ftfy_ncontrols = %d;" % len(controls))

with open(OUT, "w") as f:
    f.write("\n".join(L) + "\n")
print("wrote %s: %d property ranges, %d lower pairs, %d ccc ranges, %d decompositions, %d compositions, "
      "%d+%d entities" % (OUT, len(ranges), len(lower_pairs), len(ccc_ranges), len(idx), len(comp),
                          len(html5), len(ftfy_extra)), file=sys.stderr)
