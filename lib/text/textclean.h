/* textclean.h: the text clean-up of OpenAI's CLIP tokenizer, on code points:
 *
 *   clean = whitespace_clean(basic_clean(text)).lower()
 *   basic_clean(t)      = html.unescape(html.unescape(ftfy.fix_text(t))).strip()
 *   whitespace_clean(t) = regex.sub(r'\s+', ' ', t).strip()
 *
 * ftfy.fix_text is reproduced for one line of text with ftfy 6's default configuration EXCEPT
 * its mojibake repair (fix_encoding and the steps that only run inside it: restore_byte_a0,
 * replace_lossy_sequences, decode_inconsistent_utf8). That is, until the text stops changing:
 *   unescape_html      HTML entities ending in ';' (html5's, plus ftfy's all-caps forms such as
 *                      &NTILDE;) and numeric references; skipped when the line contains '<'
 *   fix_c1_controls    U+0080..U+009F read as Windows-1252 (sloppy: holes map to themselves)
 *   fix_latin_ligatures  ﬁ -> fi, Ĳ -> IJ, ǆ -> dž, ... (ftfy's 22)
 *   fix_character_width  fullwidth/halfwidth forms (U+FF01..U+FFEF) by NFKC, U+3000 -> space
 *   uncurl_quotes      U+02BC, U+2018..U+201B -> '   U+201C..U+201F -> "
 *   fix_line_breaks    CRLF, CR, U+2028, U+2029, U+0085 -> LF
 *   fix_surrogates     nothing to do: decoded UTF-8 has no surrogates
 *   remove_terminal_escapes  ESC [ (digits|;)* letter
 *   remove_control_chars     U+0000..08, 0B, 0E..1F, 7F, U+206A..206F, FEFF, FFF9..FFFC
 *   NFC normalization
 * Text that ftfy would take for mojibake (e.g. "cafÃ©", "â€™") is left as it is here; ftfy
 * would re-decode it. test/tokenize.bats lists such strings as known differences. */
#ifndef DFGAN_TEXTCLEAN_H
#define DFGAN_TEXTCLEAN_H

#include "text/unicode.h"

/* Python's html.unescape (Python 3.11 rules: html5 named references with and without ';',
 * longest-prefix matching, numeric references with the HTML5 replacements). out != in. */
void html_unescape(u32buf *out, const uint32_t *in, size_t n);

/* ftfy.fix_text as described above, in place (s holds one line). */
void ftfy_fix_line(u32buf *s);

/* The whole of CLIP's clean-up, in place: ftfy, html.unescape twice, strip, whitespace
 * collapsed, strip, lower(). */
void clip_clean(u32buf *s);

#endif
