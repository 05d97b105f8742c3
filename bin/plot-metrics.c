/* plot-metrics: a metrics CSV (a header line, then one line per epoch) drawn as small multiples in
 * one PNG: one panel per numeric column after the first (the x axis, "epoch"), with axes, the
 * column's name, its range and the points joined by lines. Empty cells (not computed that epoch)
 * are skipped; a column with no number at all (e.g. a text note) gets no panel. Labels use a
 * built-in 3x5 pixel font (lowercase letters, digits, "._-+"), so nothing but libpng is needed. */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: plot-metrics [--in FILE] -o OUT.png\n"
    "\n"
    "Draw a metrics CSV (a header line of column names, then rows of numbers; the first column is\n"
    "the x axis, e.g. epoch) as small multiples: one panel per other column that holds a number,\n"
    "in column order, titled with the column's name and its y range. Empty cells are skipped.\n"
    "The PNG is written atomically.\n"
    "\n"
    "options:\n"
    "  --in FILE       the CSV (default: stdin)\n"
    "  -o, --out FILE  the PNG (required; - is stdout)\n"
    "  --device cpu    the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or bad input, 1 a write failure.\n";

enum { PW = 220, PH = 130, PANEL_COLS = 3, MAXCOL = 64, SCALE = 2 };

/* 3x5 glyphs, rows top to bottom */
static const char *glyph(int c) {
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
    default: return "000000000000000";
    }
}

typedef struct { unsigned char *p; int w, h; } canvas;

static void dot(canvas *cv, int x, int y, const unsigned char *rgb) {
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h) return;
    memcpy(cv->p + ((size_t)y * cv->w + x) * 3, rgb, 3);
}

static void text(canvas *cv, int x, int y, const char *s, const unsigned char *rgb) {
    for (; *s; s++, x += 4 * SCALE) {
        const char *g = glyph((unsigned char)*s);
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                if (g[r * 3 + c] == '1')
                    for (int a = 0; a < SCALE; a++)
                        for (int b = 0; b < SCALE; b++) dot(cv, x + c * SCALE + b, y + r * SCALE + a, rgb);
    }
}

static void line(canvas *cv, int x0, int y0, int x1, int y1, const unsigned char *rgb) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        dot(cv, x0, y0, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

static void png_error_fn(png_structp p, png_const_charp msg) {
    (void)p;
    die_runtime("expected to write a PNG, found libpng saying: %s", msg);
}

/* split line (modified in place) at commas into at most MAXCOL fields */
static int split(char *line, char **f) {
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *s = line;; ) {
        if (n == MAXCOL) die_usage("--in: expected at most %d columns, found more", MAXCOL);
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = 0;
        s = c + 1;
    }
    return n;
}

int main(int argc, char **argv) {
    progname = "plot-metrics";
    const char *in = "-", *out = NULL;
    static const struct option longopts[] = {{"in", 1, 0, 'i'}, {"out", 1, 0, 'o'}, {0, 0, 0, 0}};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        }
    }
    topt_end(&t);
    if (!out) die_usage("expected -o OUT.png, found none");
    check_output_dir(out, "-o");   /* before any work */
    FILE *f = strcmp(in, "-") ? fopen(in, "r") : stdin;
    if (!f) die_usage("--in: expected a readable file, found '%s': %s", in, strerror(errno));

    char *buf = NULL, *fld[MAXCOL], *names[MAXCOL];
    size_t cap = 0;
    if (getline(&buf, &cap, f) < 0) die_usage("--in: expected a header line, found an empty file");
    int ncol = split(buf, fld);
    if (ncol < 2) die_usage("--in: expected at least 2 columns, found %d", ncol);
    for (int j = 0; j < ncol; j++) names[j] = xstrdup(fld[j]);
    double *v = NULL;   /* rows * ncol, NAN for empty or text cells; room for vcap rows, doubled when full */
    long rows = 0, vcap = 0;
    while (getline(&buf, &cap, f) >= 0) {
        if (buf[0] == '\n' || buf[0] == 0) continue;
        int n = split(buf, fld);
        if (n != ncol) die_usage("--in: expected %d fields in line %ld, found %d", ncol, rows + 2, n);
        if (rows == vcap) {
            vcap = vcap ? 2 * vcap : 64;
            v = xrealloc(v, (size_t)vcap * ncol * sizeof(double));
        }
        for (int j = 0; j < ncol; j++) {
            char *end;
            double x = strtod(fld[j], &end);
            v[rows * ncol + j] = (*fld[j] && !*end && isfinite(x)) ? x : NAN;
        }
        rows++;
    }
    if (f != stdin) fclose(f);
    free(buf);

    int panels[MAXCOL], np = 0;
    for (int j = 1; j < ncol; j++) {
        int any = 0;
        for (long r = 0; r < rows; r++) any |= !isnan(v[r * ncol + j]);
        if (any) panels[np++] = j;
    }
    int gc = np < PANEL_COLS ? (np ? np : 1) : PANEL_COLS, gr = np ? (np + gc - 1) / gc : 1;
    canvas cv = {xmalloc((size_t)gc * PW * gr * PH * 3), gc * PW, gr * PH};
    memset(cv.p, 255, (size_t)cv.w * cv.h * 3);
    static const unsigned char black[3] = {0, 0, 0}, grey[3] = {150, 150, 150}, blue[3] = {31, 90, 180};
    if (np == 0) text(&cv, 8, 8, "no data", black);
    for (int k = 0; k < np; k++) {
        int j = panels[k], ox = (k % gc) * PW, oy = (k / gc) * PH;
        double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
        for (long r = 0; r < rows; r++) {
            double x = v[r * ncol], y = v[r * ncol + j];
            if (isnan(x) || isnan(y)) continue;
            xlo = fmin(xlo, x); xhi = fmax(xhi, x); ylo = fmin(ylo, y); yhi = fmax(yhi, y);
        }
        char label[96];
        text(&cv, ox + 8, oy + 6, names[j], black);
        snprintf(label, sizeof label, "%.4g..%.4g", ylo, yhi);
        text(&cv, ox + 8, oy + PH - 16, label, grey);
        int L = ox + 12, R = ox + PW - 12, T = oy + 22, B = oy + PH - 24;
        line(&cv, L - 2, T, L - 2, B + 2, black);   /* y axis */
        line(&cv, L - 2, B + 2, R, B + 2, black);   /* x axis */
        if (xhi == xlo) { xlo -= 1; xhi += 1; }
        if (yhi == ylo) { ylo -= fabs(ylo) * 0.1 + 1e-9; yhi += fabs(yhi) * 0.1 + 1e-9; }
        int px = -1, py = -1;
        for (long r = 0; r < rows; r++) {
            double x = v[r * ncol], y = v[r * ncol + j];
            if (isnan(x) || isnan(y)) continue;
            int X = L + (int)lround((x - xlo) / (xhi - xlo) * (R - L)), Y = B - (int)lround((y - ylo) / (yhi - ylo) * (B - T));
            if (px >= 0) line(&cv, px, py, X, Y, blue);
            for (int a = -1; a <= 1; a++)
                for (int b = -1; b <= 1; b++) dot(&cv, X + b, Y + a, blue);
            px = X; py = Y;
        }
    }

    atomic_file *af = af_open(out);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) die_runtime("expected to start libpng, found it out of memory");
    png_init_io(png, af_stream(af));
    png_set_IHDR(png, info, (png_uint_32)cv.w, (png_uint_32)cv.h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < cv.h; y++) png_write_row(png, cv.p + (size_t)y * cv.w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    af_commit(af);
    if (!strcmp(out, "-")) close_stdout_or_die();
    for (int j = 0; j < ncol; j++) free(names[j]);
    free(v);
    free(cv.p);
    return 0;
}
