/* font.c: the 3x5 pixel font, see font.h. */
#include "image/font.h"

#include <ctype.h>
#include <string.h>

const char *font_glyph(int c) {
    static const char *digits[] = {"111101101101111", "010110010010111", "111001111100111", "111001111001111",
                                   "101101111001001", "111100111001111", "111100111101111", "111001001001001",
                                   "111101111101111", "111101111001111"};
    static const char *letters[] = {
        "010101111101101", "110101110101110", "011100100100011", "110101101101110", "111100110100111",
        "111100110100100", "011100101101011", "101101111101101", "111010010010111", "001001001101010",
        "101101110101101", "100100100100111", "101111111101101", "110101101101101", "010101101101010",
        "110101110100100", "010101101110011", "110101110101101", "011100010001110", "111010010010010",
        "101101101101111", "101101101101010", "101101111111101", "101101010101101", "101101010010010",
        "111001010100111"};
    c = tolower(c);
    if (c >= '0' && c <= '9') return digits[c - '0'];
    if (c >= 'a' && c <= 'z') return letters[c - 'a'];
    switch (c) {
    case '_': return "000000000000111";
    case '.': return "000000000000010";
    case '-': return "000000111000000";
    case '+': return "000010111010000";
    case ',': return "000000000010100";
    case ';': return "000010000010100";
    case ':': return "000010000010000";
    case '\'': return "010010000000000";
    case '(': return "001010010010001";
    case ')': return "100010010010100";
    case '/': return "001001010100100";
    default: return "000000000000000";
    }
}

void font_text(unsigned char *canvas, int w, int h, int x, int y, const char *s, int scale, const unsigned char rgb[3]) {
    for (; *s; s++, x += 4 * scale) {
        const char *g = font_glyph((unsigned char)*s);
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                if (g[r * 3 + c] == '1')
                    for (int a = 0; a < scale; a++)
                        for (int b = 0; b < scale; b++) {
                            int px = x + c * scale + b, py = y + r * scale + a;
                            if (px >= 0 && py >= 0 && px < w && py < h)
                                memcpy(canvas + ((size_t)py * w + px) * 3, rgb, 3);
                        }
    }
}
