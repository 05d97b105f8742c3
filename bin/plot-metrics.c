/* plot-metrics: metrics CSVs (a header line, then one line per epoch) drawn as small multiples in
 * one PNG: one panel per numeric column after the first (the x axis, "epoch"), with axes, the
 * column's name, its range and the points joined by lines. Empty cells (not computed that epoch)
 * are skipped; a column with no number at all (e.g. a text note) gets no panel. Several CSVs
 * (--in repeated, e.g. two runs of an experiment) share the panels, one colour each, named in a
 * legend above them; --columns picks the panels. Labels use the built-in 3x5 pixel font of
 * image/font.h, so nothing but libpng is needed. */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "image/font.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: plot-metrics [--in FILE]... [--label NAME]... [--columns A,B,...] -o OUT.png\n"
    "\n"
    "Draw a metrics CSV (a header line of column names, then rows of numbers; the first column is\n"
    "the x axis, e.g. epoch) as small multiples: one panel per other column that holds a number,\n"
    "in column order, titled with the column's name and its y range. Empty cells are skipped.\n"
    "Several --in files share the panels (the first file's columns, or --columns), one colour\n"
    "each, named by --label in a legend above the panels. The PNG is written atomically.\n"
    "\n"
    "options:\n"
    "  --in FILE       a CSV (default: stdin; repeatable, at most 6)\n"
    "  --label NAME    the legend's name of the corresponding --in (default: the file's name)\n"
    "  --columns LIST  the columns to draw, comma-separated (default: every numeric one)\n"
    "  -o, --out FILE  the PNG (required; - is stdout)\n"
    "  --device cpu    the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or bad input, 1 a write failure.\n";

enum { PW = 220, PH = 130, PANEL_COLS = 3, MAXCOL = 64, SCALE = 2, MAXIN = 6, LEGEND_H = 22 };

typedef struct { unsigned char *p; int w, h; } canvas;

static void dot(canvas *cv, int x, int y, const unsigned char *rgb) {
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h) return;
    memcpy(cv->p + ((size_t)y * cv->w + x) * 3, rgb, 3);
}

static void text(canvas *cv, int x, int y, const char *s, const unsigned char *rgb) {
    font_text(cv->p, cv->w, cv->h, x, y, s, SCALE, rgb);
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
static int split(char *line, char **f, const char *what) {
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *s = line;; ) {
        if (n == MAXCOL) die_usage("%s: expected at most %d columns, found more", what, MAXCOL);
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = 0;
        s = c + 1;
    }
    return n;
}

/* one CSV: its column names and its cells (rows * ncol, NAN for empty or text cells) */
typedef struct { char *names[MAXCOL]; int ncol; long rows; double *v; } table;

static void read_table(table *t, const char *in, const char *what) {
    FILE *f = strcmp(in, "-") ? fopen(in, "r") : stdin;
    if (!f) die_usage("%s: expected a readable file, found '%s': %s", what, in, strerror(errno));
    char *buf = NULL, *fld[MAXCOL];
    size_t cap = 0;
    if (getline(&buf, &cap, f) < 0) die_usage("%s: expected a header line, found an empty file", what);
    t->ncol = split(buf, fld, what);
    if (t->ncol < 2) die_usage("%s: expected at least 2 columns, found %d", what, t->ncol);
    for (int j = 0; j < t->ncol; j++) t->names[j] = xstrdup(fld[j]);
    t->v = NULL;
    t->rows = 0;
    long vcap = 0;   /* rows the table has room for, doubled when full */
    while (getline(&buf, &cap, f) >= 0) {
        if (buf[0] == '\n' || buf[0] == 0) continue;
        int n = split(buf, fld, what);
        if (n != t->ncol) die_usage("%s: expected %d fields in line %ld, found %d", what, t->ncol, t->rows + 2, n);
        if (t->rows == vcap) {
            vcap = vcap ? 2 * vcap : 64;
            t->v = xrealloc(t->v, (size_t)vcap * t->ncol * sizeof(double));
        }
        for (int j = 0; j < t->ncol; j++) {
            char *end;
            double x = strtod(fld[j], &end);
            t->v[t->rows * t->ncol + j] = (*fld[j] && !*end && isfinite(x)) ? x : NAN;
        }
        t->rows++;
    }
    if (f != stdin) fclose(f);
    free(buf);
}

static int column_of(const table *t, const char *name) {
    for (int j = 1; j < t->ncol; j++)
        if (!strcmp(t->names[j], name)) return j;
    return -1;
}

int main(int argc, char **argv) {
    progname = "plot-metrics";
    const char *in[MAXIN], *label[MAXIN], *out = NULL, *columns = NULL;
    int nin = 0, nlabel = 0;
    static const struct option longopts[] = {{"in", 1, 0, 'i'}, {"label", 1, 0, 'l'}, {"columns", 1, 0, 'c'},
                                             {"out", 1, 0, 'o'}, {0, 0, 0, 0}};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case 'i':
            if (nin == MAXIN) die_usage("--in: expected at most %d files, found more", MAXIN);
            in[nin++] = optarg;
            break;
        case 'l':
            if (nlabel == MAXIN) die_usage("--label: expected at most %d names, found more", MAXIN);
            label[nlabel++] = optarg;
            break;
        case 'c': columns = optarg; break;
        case 'o': out = optarg; break;
        }
    }
    topt_end(&t);
    if (!out) die_usage("expected -o OUT.png, found none");
    check_output_dir(out, "-o");   /* before any work */
    if (nin == 0) in[nin++] = "-";
    if (nlabel > nin) die_usage("expected at most one --label per --in (%d), found %d", nin, nlabel);
    for (int k = nlabel; k < nin; k++) {
        const char *s = strrchr(in[k], '/');
        label[k] = s ? s + 1 : in[k];
    }
    for (int a = 0; a < nin; a++)
        for (int b = a + 1; b < nin; b++)
            if (!strcmp(in[a], "-") && !strcmp(in[b], "-")) die_usage("expected at most one --in on stdin, found '-' twice");
    table tab[MAXIN];
    for (int k = 0; k < nin; k++) read_table(&tab[k], in[k], "--in");

    /* the panels: --columns, or the first table's columns that hold a number in any table */
    char *pname[MAXCOL];
    int np = 0;
    if (columns) {
        char *list = xstrdup(columns), *fld[MAXCOL];
        int n = split(list, fld, "--columns");
        for (int j = 0; j < n; j++) {
            int found = 0;
            for (int k = 0; k < nin; k++) found |= column_of(&tab[k], fld[j]) > 0;
            if (!found) die_usage("--columns: expected a column of the input, found '%s'", fld[j]);
            pname[np++] = xstrdup(fld[j]);
        }
        free(list);
    } else {
        for (int j = 1; j < tab[0].ncol; j++) {
            int any = 0;
            for (int k = 0; k < nin; k++) {
                int c = column_of(&tab[k], tab[0].names[j]);
                for (long r = 0; c > 0 && r < tab[k].rows; r++) any |= !isnan(tab[k].v[r * tab[k].ncol + c]);
            }
            if (any) pname[np++] = xstrdup(tab[0].names[j]);
        }
    }
    int top = nin > 1 ? LEGEND_H : 0;
    int gc = np < PANEL_COLS ? (np ? np : 1) : PANEL_COLS, gr = np ? (np + gc - 1) / gc : 1;
    canvas cv = {xmalloc((size_t)gc * PW * (gr * PH + top) * 3), gc * PW, gr * PH + top};
    memset(cv.p, 255, (size_t)cv.w * cv.h * 3);
    static const unsigned char black[3] = {0, 0, 0}, grey[3] = {150, 150, 150};
    static const unsigned char colour[MAXIN][3] = {{31, 90, 180}, {220, 110, 20}, {40, 150, 60},
                                                   {200, 40, 40}, {130, 70, 170}, {100, 100, 100}};
    for (int k = 0, x = 8; k < nin && nin > 1; k++) {   /* the legend */
        line(&cv, x, 10, x + 14, 10, colour[k]);
        line(&cv, x, 11, x + 14, 11, colour[k]);
        text(&cv, x + 20, 6, label[k], colour[k]);
        x += 20 + 4 * SCALE * (int)strlen(label[k]) + 16;
    }
    if (np == 0) text(&cv, 8, top + 8, "no data", black);
    for (int p = 0; p < np; p++) {
        int ox = (p % gc) * PW, oy = top + (p / gc) * PH;
        double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
        for (int k = 0; k < nin; k++) {
            int j = column_of(&tab[k], pname[p]);
            for (long r = 0; j > 0 && r < tab[k].rows; r++) {
                double x = tab[k].v[r * tab[k].ncol], y = tab[k].v[r * tab[k].ncol + j];
                if (isnan(x) || isnan(y)) continue;
                xlo = fmin(xlo, x); xhi = fmax(xhi, x); ylo = fmin(ylo, y); yhi = fmax(yhi, y);
            }
        }
        char lab[96];
        text(&cv, ox + 8, oy + 6, pname[p], black);
        if (isinf(ylo)) snprintf(lab, sizeof lab, "no data");
        else snprintf(lab, sizeof lab, "%.4g..%.4g", ylo, yhi);
        text(&cv, ox + 8, oy + PH - 16, lab, grey);
        int L = ox + 12, R = ox + PW - 12, T = oy + 22, B = oy + PH - 24;
        line(&cv, L - 2, T, L - 2, B + 2, black);   /* y axis */
        line(&cv, L - 2, B + 2, R, B + 2, black);   /* x axis */
        if (xhi == xlo) { xlo -= 1; xhi += 1; }
        if (yhi == ylo) { ylo -= fabs(ylo) * 0.1 + 1e-9; yhi += fabs(yhi) * 0.1 + 1e-9; }
        for (int k = 0; k < nin; k++) {
            int j = column_of(&tab[k], pname[p]), px = -1, py = -1;
            for (long r = 0; j > 0 && r < tab[k].rows; r++) {
                double x = tab[k].v[r * tab[k].ncol], y = tab[k].v[r * tab[k].ncol + j];
                if (isnan(x) || isnan(y)) continue;
                int X = L + (int)lround((x - xlo) / (xhi - xlo) * (R - L)), Y = B - (int)lround((y - ylo) / (yhi - ylo) * (B - T));
                if (px >= 0) line(&cv, px, py, X, Y, colour[k]);
                for (int a = -1; a <= 1; a++)
                    for (int b = -1; b <= 1; b++) dot(&cv, X + b, Y + a, colour[k]);
                px = X; py = Y;
            }
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
    for (int k = 0; k < nin; k++) {
        for (int j = 0; j < tab[k].ncol; j++) free(tab[k].names[j]);
        free(tab[k].v);
    }
    for (int p = 0; p < np; p++) free(pname[p]);
    free(cv.p);
    return 0;
}
