/* npy-png: images from an .npy stream as one PNG grid.
 *
 * Reads every array of the stream (float32 (B,3,H,W) in [-1,1], NCHW), lays the images out left
 * to right, top to bottom, --cols per row with --pad pixels of --pad-value grey between and
 * around them, and writes one 8-bit RGB PNG atomically. Values map as torchvision's save_image
 * after DF-GAN's (x+1)/2: round(clamp((x+1)/2, 0, 1) * 255). With --labels, line r of a text file
 * is written under row r (image/font.h's 3x5 font, wrapped at spaces to the grid's width). */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "image/font.h"
#include "io/npy.h"
#include "io/stream.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: npy-png [--cols N] [--pad P] [--labels FILE] [--allow-nonfinite] [--in FILE] -o OUT.png\n"
    "\n"
    "Lay out the images of an .npy stream (float32 (B,3,H,W) arrays in [-1,1] back to back, as the\n"
    "tools exchange them; all arrays the same H and W) as one grid and write it as an 8-bit RGB PNG,\n"
    "atomically. Pixel values: round(clamp((x+1)/2, 0, 1) * 255). A NaN or Inf is refused (exit 3,\n"
    "naming the array and the index) unless --allow-nonfinite.\n"
    "\n"
    "options:\n"
    "  --cols N        images per row (default: ceil(sqrt(images)))\n"
    "  --pad P         pixels between and around the images (default 2, black)\n"
    "  --labels FILE   one line per row of the grid: line r is written under row r (a 3x5 pixel\n"
    "                  font, lowercase, scaled 1x per 32 pixels of image height up to 3x, wrapped\n"
    "                  at spaces to the grid's width), e.g. the caption of a row of samples\n"
    "  --allow-nonfinite  draw NaN as black and +-Inf as the clamp's ends, to look at a batch that\n"
    "                  went wrong (the one tool besides npy-info where a picture of bad values helps)\n"
    "  --in FILE       the image stream; - is stdin (default)\n"
    "  -o, --out FILE  the PNG (required; - is stdout)\n"
    "  --device cpu    the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or bad input, 1 a write failure, 3 a NaN or Inf in the images.\n";

typedef struct { long cols, pad; int allow_nonfinite; const char *in, *out, *labels; } options;

static void parse(options *o, int argc, char **argv) {
    enum { COLS = TOPT_FIRST, PAD, IN, LABELS, ALLOW_NONFINITE };
    static const struct option longopts[] = {{"cols", 1, 0, COLS}, {"pad", 1, 0, PAD}, {"in", 1, 0, IN},
                                             {"labels", 1, 0, LABELS}, {"out", 1, 0, 'o'},
                                             {"allow-nonfinite", 0, 0, ALLOW_NONFINITE}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->pad = 2;
    o->in = "-";
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case COLS: o->cols = parse_long("--cols", optarg, 1, 1 << 16); break;
        case PAD: o->pad = parse_long("--pad", optarg, 0, 1024); break;
        case IN: o->in = optarg; break;
        case LABELS: o->labels = optarg; break;
        case ALLOW_NONFINITE: o->allow_nonfinite = 1; break;
        case 'o': o->out = optarg; break;
        }
    }
    topt_end(&t);
    if (!o->out) die_usage("expected -o OUT.png, found none");
}

/* the lines of FILE (newlines and carriage returns dropped) */
static char **read_lines(const char *path, long *n) {
    FILE *f = fopen(path, "r");
    if (!f) die_usage("--labels: expected a readable file, found '%s': %s", path, strerror(errno));
    char **v = NULL, *buf = NULL;
    size_t cap = 0;
    *n = 0;
    while (getline(&buf, &cap, f) >= 0) {
        buf[strcspn(buf, "\r\n")] = 0;
        v = xrealloc(v, sizeof(char *) * (size_t)(*n + 1));
        v[(*n)++] = xstrdup(buf);
    }
    if (ferror(f)) die_runtime("--labels: expected to read '%s', found: %s", path, strerror(errno));
    fclose(f);
    free(buf);
    return v;
}

/* s wrapped at spaces into lines of at most width characters (a longer word is cut): the number
 * of lines; with out, each line written to out[k] (width + 1 bytes each) */
static int wrap(const char *s, int width, char (*out)[256]) {
    int k = 0;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        int len = (int)strlen(s), take = len <= width ? len : width;
        if (take < len) {
            int sp = take;
            while (sp > 0 && s[sp] != ' ') sp--;
            if (sp > 0) take = sp;
        }
        if (out) { memcpy(out[k], s, (size_t)take); out[k][take] = 0; }
        k++;
        s += take;
    }
    return k;
}

static void png_error_fn(png_structp p, png_const_charp msg) {
    (void)p;
    die_runtime("expected to write a PNG, found libpng saying: %s", msg);
}

int main(int argc, char **argv) {
    progname = "npy-png";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    check_output_dir(o.out, "-o");
    tstream in;
    ts_open(&in, "--in", o.in);
    in.allow_nonfinite = o.allow_nonfinite;
    int64_t want[4] = {-1, 3, -1, -1};
    float *all = NULL;
    int64_t n = 0, H = 0, W = 0;
    npy_array a;
    while (ts_read_f32(&in, 4, want, "(B,3,H,W)", &a)) {
        if (n == 0 && H == 0) { H = a.shape[2]; W = a.shape[3]; want[2] = H; want[3] = W; }
        if (H < 1 || W < 1) die_usage("--in: expected images of at least 1x1, found %lldx%lld", (long long)H, (long long)W);
        size_t per = (size_t)3 * H * W;
        if ((double)(n + a.shape[0]) * per > (double)(1L << 31)) die_usage("--in: expected at most 2^31 values, found more");
        all = xrealloc(all, (size_t)(n + a.shape[0]) * per * sizeof(float));
        memcpy(all + (size_t)n * per, a.data, (size_t)a.shape[0] * per * sizeof(float));
        n += a.shape[0];
        npy_free(&a);
    }
    ts_close(&in);
    if (n == 0) die_usage("--in: expected at least one image, found none");
    long cols = o.cols ? o.cols : (long)ceil(sqrt((double)n));
    if (cols > n) cols = (long)n;
    long rows = (long)((n + cols - 1) / cols), P = o.pad;
    /* labels: each row's text strip under it, lines of 6*scale pixels */
    long nlab = 0, *strip = xcalloc((size_t)rows, sizeof(long)), *ytop = xmalloc(sizeof(long) * (size_t)rows);
    char **lab = o.labels ? read_lines(o.labels, &nlab) : NULL;
    int scale = H >= 96 ? 3 : H >= 64 ? 2 : 1, width = 0;
    if (lab) {
        if (nlab != rows) die_usage("--labels: expected %ld lines (one per row of the grid), found %ld", rows, nlab);
        width = (int)(((double)cols * (W + P) - P) / (4 * scale));
        if (width > 255) width = 255;
        if (width < 1) width = 1;
        for (long r = 0; r < rows; r++) strip[r] = (long)wrap(lab[r], width, NULL) * 6 * scale + (strlen(lab[r]) ? P : 0);
    }
    double gw = (double)cols * (W + P) + P, gh = (double)rows * (H + P) + P;
    for (long r = 0; r < rows; r++) gh += strip[r];
    if (gw > 1 << 20 || gh > 1 << 20 || gw * gh > (double)(1L << 30))
        die_usage("expected a grid of at most 2^30 pixels, found %.0fx%.0f", gw, gh);
    size_t GW = (size_t)gw, GH = (size_t)gh;
    unsigned char *pix = xcalloc(GW * GH * 3, 1);
    for (long r = 0, y = P; r < rows; r++) { ytop[r] = y; y += H + P + strip[r]; }
    static const unsigned char ink[3] = {230, 230, 230};
    for (long r = 0; r < rows && lab; r++) {
        char (*line)[256] = xmalloc(sizeof *line * (size_t)(wrap(lab[r], width, NULL) + 1));
        int nl = wrap(lab[r], width, line);
        for (int k = 0; k < nl; k++)
            font_text(pix, (int)GW, (int)GH, (int)P, (int)(ytop[r] + H + P + k * 6 * scale), line[k], scale, ink);
        free(line);
    }
    for (int64_t k = 0; k < n; k++) {
        size_t x0 = (size_t)P + (size_t)(k % cols) * (W + P), y0 = (size_t)ytop[k / cols];
        const float *img = all + (size_t)k * 3 * H * W;
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                for (int ch = 0; ch < 3; ch++) {
                    float v = (img[((size_t)ch * H + y) * W + x] + 1.0f) * 0.5f;
                    v = v != v ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
                    pix[((y0 + y) * GW + x0 + x) * 3 + ch] = (unsigned char)lrintf(v * 255.0f);
                }
    }
    atomic_file *af = af_open(o.out);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) die_runtime("expected to start libpng, found it out of memory");
    png_init_io(png, af_stream(af));
    png_set_IHDR(png, info, (png_uint_32)GW, (png_uint_32)GH, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < GH; y++) png_write_row(png, pix + y * GW * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    af_commit(af);
    if (!strcmp(o.out, "-")) close_stdout_or_die();
    free(pix);
    free(all);
    for (long r = 0; r < nlab; r++) free(lab[r]);
    free(lab); free(strip); free(ytop);
    return 0;
}
