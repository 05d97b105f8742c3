/* font.h: a built-in 3x5 pixel font for labels in the tools' PNGs (plot-metrics' titles, npy-png's
 * captions), so that nothing but libpng is needed. Glyphs: lowercase letters (uppercase drawn as
 * lowercase), digits and " ._-+,;:'()/"; any other character is drawn blank. A glyph is 3 wide
 * and 5 high, drawn at scale s as s x s blocks; text advances 4*s pixels a character. */
#ifndef DFGAN_FONT_H
#define DFGAN_FONT_H

/* the 15 '0'/'1' cells of c's glyph, rows top to bottom */
const char *font_glyph(int c);

/* draw s into an RGB canvas (w x h, 3 bytes a pixel, rows top to bottom) with its top-left corner
 * at (x, y), each glyph cell a scale x scale block of rgb; pixels outside the canvas are skipped */
void font_text(unsigned char *canvas, int w, int h, int x, int y, const char *s, int scale, const unsigned char rgb[3]);

#endif
