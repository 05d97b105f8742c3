/* make-dataset: a small synthetic captioned-image dataset in DF-GAN's CUB layout (the embedded
 * default's data), so that one importer (import-cub) serves it and the real CUB-200-2011.
 *
 * A class is a (shape, colour) pair, named like CUB's "001.Black_footed_Albatross":
 * "001.Red_Circle". 12 of the 48 classes are test classes (train and test classes are disjoint,
 * as in CUB's zero-shot split), chosen so that every shape and every colour also occurs in
 * training. Image g (1-based, in images.txt order: class by class) draws its own attributes from
 * Philox under key --seed, stream IMAGE_STREAM + g: width and height (96..128), size, position
 * on a 3x3 grid, background, jitter; its 10 captions (the 10 templates in an order of its own,
 * synonyms drawn per caption) from stream CAPTION_STREAM + g. The dataset depends only on
 * (--seed, --images). Everything is written into a hidden temp folder next to --out, synced once
 * and renamed to --out, so --out is either absent or complete. */
#include "core/common.h"
#include "core/toolopts.h"
#include "image/jpeg_write.h"
#include "io/pickle_write.h"
#include "core/rng.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>

#define IMAGE_STREAM (UINT64_C(3) << 61)   /* clear of init's, noise's and synth-shapes' streams */
#define CAPTION_STREAM (UINT64_C(7) << 60) /* the captions' draws, image g from CAPTION_STREAM + g */
#define SS 4                               /* supersampling per axis at the shape's edges */
#define NCAP 10

#define N(a) ((int)(sizeof a / sizeof a[0]))

static const char *const shape_names[] = {"circle", "square", "triangle", "diamond", "cross", "ring"};
static const char *const shape_syn[][3] = {
    {"circle", "disc", "round shape"}, {"square", "box", "square shape"},
    {"triangle", "triangular shape", "triangle"}, {"diamond", "rhombus", "diamond shape"},
    {"cross", "plus sign", "plus shape"}, {"ring", "hoop", "circle outline"}};
static const char *const colour_names[] = {"red", "green", "blue", "yellow", "purple", "orange", "pink", "teal"};
static const unsigned char colours[][3] = {{215, 30, 30}, {40, 175, 60}, {40, 70, 225}, {240, 215, 30},
                                           {150, 40, 190}, {245, 140, 25}, {245, 130, 190}, {20, 150, 150}};
static const char *const size_syn[][3] = {{"small", "tiny", "little"}, {"medium-sized", "mid-sized", "medium"},
                                          {"large", "big", "huge"}};
static const double sizes[] = {0.15, 0.23, 0.33};     /* half-extent as a fraction of the short side */
static const char *const pos_syn[][3] = {
    {"in the top left corner", "at the upper left", "near the top left"},
    {"at the top", "near the top edge", "in the upper middle"},
    {"in the top right corner", "at the upper right", "near the top right"},
    {"on the left", "at the left side", "near the left edge"},
    {"in the centre", "in the middle", "at the centre of the picture"},
    {"on the right", "at the right side", "near the right edge"},
    {"in the bottom left corner", "at the lower left", "near the bottom left"},
    {"at the bottom", "near the bottom edge", "in the lower middle"},
    {"in the bottom right corner", "at the lower right", "near the bottom right"}};
static const char *const bg_names[] = {"black", "white", "grey", "beige", "light blue", "dark green"};
static const unsigned char bgs[][3] = {{12, 12, 12}, {245, 245, 245}, {128, 128, 128},
                                       {230, 215, 180}, {170, 205, 240}, {20, 70, 35}};
static const char *const bg_fmt[] = {"on a %s background", "against a %s backdrop", "over a %s field"};

enum { NSHAPE = N(shape_names), NCOL = N(colour_names), NCLASS = NSHAPE * NCOL };

static const char usage[] =
    "usage: make-dataset --out DIR [--images N] [--seed K] [--quality Q]\n"
    "\n"
    "Writes a synthetic captioned-image dataset in DF-GAN's CUB layout under DIR (a new folder):\n"
    "  CUB_200_2011/images/<class>/<name>.jpg   one coloured shape on a plain background, JPEG,\n"
    "                                           96 to 128 px wide and high\n"
    "  CUB_200_2011/images.txt                  '<id> <class>/<name>.jpg', ids from 1\n"
    "  CUB_200_2011/bounding_boxes.txt          '<id> <x> <y> <width> <height>' of the shape\n"
    "  text/<class>/<name>.txt                  10 captions made from the attributes\n"
    "  train/filenames.pickle, test/filenames.pickle   lists of '<class>/<name>'\n"
    "A class is a shape (circle square triangle diamond cross ring) in a colour (red green blue\n"
    "yellow purple orange pink teal): 48 classes, 12 of them only in test. Images also vary in\n"
    "size (small medium large), position (3x3 grid) and background (black white grey beige\n"
    "light blue, dark green). The same seed and N give the same bytes.\n"
    "\n"
    "options:\n"
    "  --out DIR     output folder; must not exist or be empty\n"
    "  --images N    number of images, 48 to 1000000 (default 2000)\n"
    "  --seed K      seed (default 0)\n"
    "  --quality Q   JPEG quality 1..100 (default 90)\n"
    "  --device cpu  the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help    this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage, 1 a write failure.\n";

typedef struct { const char *out; long images, seed, quality; } options;

static void parse(options *o, int argc, char **argv)
{
    enum { OUT = TOPT_FIRST, IMAGES, SEED, QUALITY };
    static const struct option longopts[] = {{"out", 1, 0, OUT}, {"images", 1, 0, IMAGES}, {"seed", 1, 0, SEED},
                                             {"quality", 1, 0, QUALITY}, {0, 0, 0, 0}};
    *o = (options){NULL, 2000, 0, 90};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case OUT: o->out = optarg; break;
        case IMAGES: o->images = parse_long("--images", optarg, NCLASS, 1000000); break;
        case SEED: o->seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case QUALITY: o->quality = parse_long("--quality", optarg, 1, 100); break;
        }
    }
    topt_end(&t);
    if (!o->out || !*o->out) die_usage("expected --out DIR, found none");
}

/* Test classes: (3·shape + colour) mod 4 == 3, two colours per shape, every colour in training. */
static int is_test_class(int c) { return (3 * (c / NCOL) + c % NCOL) % 4 == 3; }

static void class_name(char *buf, size_t n, int c)
{
    const char *s = shape_names[c / NCOL], *k = colour_names[c % NCOL];
    snprintf(buf, n, "%03d.%c%s_%c%s", c + 1, k[0] - 32, k + 1, s[0] - 32, s + 1);
}

/* ---- the temp tree, removed on any error ---- */

static char tmpdir[4096];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(p);
    return 0;
}
static void rm_tmp(void)
{
    if (tmpdir[0]) nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = 0;
}

static void mkdir_or_die(const char *p)
{
    if (mkdir(p, 0777) != 0 && errno != EEXIST) die_runtime("expected to create folder '%s', found %s", p, strerror(errno));
}

static FILE *open_or_die(const char *p)
{
    FILE *f = fopen(p, "wb");
    if (!f) die_runtime("expected to create '%s', found %s", p, strerror(errno));
    return f;
}
static void close_or_die(FILE *f, const char *p)
{
    if (ferror(f) | (fclose(f) != 0)) die_runtime("expected to write '%s', found %s", p, strerror(errno ? errno : EIO));
}

/* ---- drawing ---- */

typedef struct { int cls, w, h, size, pos, bg; double cx, cy, r; int bx0, by0, bx1, by1; } item;

/* (u,v) relative to the shape's centre in units of its half-extent; every shape lies in [-1,1]². */
static int inside(int shape, double u, double v)
{
    double au = fabs(u), av = fabs(v), rr = u * u + v * v;
    switch (shape) {
    case 0: return rr <= 1;
    case 1: return au <= 0.85 && av <= 0.85;
    case 2: return v <= 0.8 && v >= -1 && au <= (v + 1) * 0.55;
    case 3: return au + av <= 1;
    case 4: return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95);
    default: return rr <= 1 && rr >= 0.36;
    }
}

static item draw_item(uint64_t seed, uint64_t g, int cls)
{
    rng_t r;
    rng_init(&r, seed, IMAGE_STREAM + g);
    item it;
    it.cls = cls;
    it.w = 96 + (int)(rng_u32(&r) % 33);
    it.h = 96 + (int)(rng_u32(&r) % 33);
    it.size = (int)(rng_u32(&r) % 3);
    it.pos = (int)(rng_u32(&r) % 9);
    it.bg = (int)(rng_u32(&r) % N(bg_names));
    int side = it.w < it.h ? it.w : it.h;
    it.r = side * sizes[it.size] * (0.9 + 0.2 * rng_uniform(&r));
    int dx = it.pos % 3 - 1, dy = it.pos / 3 - 1;
    double jx = 0.06 * (rng_uniform(&r) - 0.5), jy = 0.06 * (rng_uniform(&r) - 0.5);
    it.cx = it.w * 0.5 + dx * (it.w * 0.5 - it.r) * 0.8 + jx * it.w;
    it.cy = it.h * 0.5 + dy * (it.h * 0.5 - it.r) * 0.8 + jy * it.h;
    return it;
}

/* rgb (h,w,3); sets the item's pixel bounding box (covered pixels). */
static void render(unsigned char *rgb, item *it)
{
    const unsigned char *fg = colours[it->cls % NCOL], *bg = bgs[it->bg];
    int shape = it->cls / NCOL;
    /* a faint vertical gradient so the background is not one flat colour */
    for (int y = 0; y < it->h; y++) {
        double sh = 1.0 + 0.08 * ((double)y / it->h - 0.5);
        for (int x = 0; x < it->w; x++)
            for (int c = 0; c < 3; c++) {
                double v = bg[c] * sh;
                rgb[((size_t)y * it->w + x) * 3 + c] = (unsigned char)(v > 255 ? 255 : v + 0.5);
            }
    }
    int x0 = (int)floor(it->cx - it->r) - 1, x1 = (int)ceil(it->cx + it->r) + 1;
    int y0 = (int)floor(it->cy - it->r) - 1, y1 = (int)ceil(it->cy + it->r) + 1;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > it->w) x1 = it->w;
    if (y1 > it->h) y1 = it->h;
    it->bx0 = it->w; it->by0 = it->h; it->bx1 = -1; it->by1 = -1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            int hits = 0;
            for (int j = 0; j < SS; j++)
                for (int k = 0; k < SS; k++)
                    hits += inside(shape, (x + (k + 0.5) / SS - it->cx) / it->r, (y + (j + 0.5) / SS - it->cy) / it->r);
            if (!hits) continue;
            double a = (double)hits / (SS * SS);
            unsigned char *p = rgb + ((size_t)y * it->w + x) * 3;
            for (int c = 0; c < 3; c++) p[c] = (unsigned char)(p[c] + (fg[c] - p[c]) * a + 0.5);
            if (x < it->bx0) it->bx0 = x;
            if (x > it->bx1) it->bx1 = x;
            if (y < it->by0) it->by0 = y;
            if (y > it->by1) it->by1 = y;
        }
}

/* ---- captions ---- */

/* Append printf-style text. */
static void cat(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t n, const char *fmt, ...)
{
    size_t k = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + k, n - k, fmt, ap);
    va_end(ap);
}

/* "a" before a vowel becomes "an". */
static void fix_articles(char *s)
{
    char out[512];
    size_t k = 0;
    for (const char *p = s; *p && k + 3 < sizeof out; p++) {
        int start = p == s || p[-1] == ' ';
        if (start && p[0] == 'a' && p[1] == ' ' && strchr("aeiou", p[2])) { out[k++] = 'a'; out[k++] = 'n'; continue; }
        out[k++] = *p;
    }
    out[k] = 0;
    strcpy(s, out);
}

static void caption(char *buf, size_t n, const item *it, int tpl, rng_t *r)
{
    const char *shape = shape_syn[it->cls / NCOL][rng_u32(r) % 3];
    const char *colour = colour_names[it->cls % NCOL];
    const char *size = size_syn[it->size][rng_u32(r) % 3];
    const char *pos = pos_syn[it->pos][rng_u32(r) % 3];
    const char *bgc = bg_names[it->bg];
    char bg[64];
    snprintf(bg, sizeof bg, bg_fmt[rng_u32(r) % 3], bgc);
    buf[0] = 0;
    switch (tpl) {
    case 0: cat(buf, n, "a %s %s %s %s %s.", size, colour, shape, pos, bg); break;
    case 1: cat(buf, n, "this image shows a %s %s %s %s, %s.", size, colour, shape, pos, bg); break;
    case 2: cat(buf, n, "%s there is a %s %s that is %s, %s.", pos, size, shape, colour, bg); break;
    case 3: cat(buf, n, "the picture has a %s background and a %s %s %s %s.", bgc, size, colour, shape, pos); break;
    case 4: cat(buf, n, "a %s %s, %s, sits %s %s.", colour, shape, size, pos, bg); break;
    case 5: cat(buf, n, "%s, a %s %s %s is placed %s.", bg, size, colour, shape, pos); break;
    case 6: cat(buf, n, "there is a %s %s %s; it is %s and the background is %s.", colour, shape, pos, size, bgc); break;
    case 7: cat(buf, n, "%s %s %s %s of a %s image", size, colour, shape, pos, bgc); break;
    case 8: cat(buf, n, "an image of a %s %s %s %s, located %s.", colour, size, shape, bg, pos); break;
    default: cat(buf, n, "the %s is %s and %s, %s, with a %s background.", shape, colour, size, pos, bgc); break;
    }
    fix_articles(buf);
}

static void die_hook(void) { rm_tmp(); }

int main(int argc, char **argv)
{
    progname = "make-dataset";
    options o;
    parse(&o, argc, argv);

    /* --out must not exist, or be an empty folder (rename replaces an empty folder) */
    struct stat st;
    if (stat(o.out, &st) == 0) {
        int empty = 0;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(o.out);
            struct dirent *e;
            empty = d != NULL;
            while (d && (e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
            if (d) closedir(d);
        }
        if (!empty) die_usage("expected --out to be a new or empty folder, found '%s' existing", o.out);
    }
    char parent[4096], base[4096];
    {
        size_t len = strlen(o.out);
        while (len > 1 && o.out[len - 1] == '/') len--;
        if (len >= sizeof parent - 64) die_usage("expected a shorter --out, found %zu characters", len);
        memcpy(parent, o.out, len);
        parent[len] = 0;
        char *slash = strrchr(parent, '/');
        if (slash) { snprintf(base, sizeof base, "%s", slash + 1); slash == parent ? (void)(slash[1] = 0) : (void)(*slash = 0); }
        else { snprintf(base, sizeof base, "%s", parent); strcpy(parent, "."); }
    }
    if (snprintf(tmpdir, sizeof tmpdir, "%s/.%s.tmp.XXXXXX", parent, base) >= (int)sizeof tmpdir)
        die_usage("expected a shorter --out, found '%s'", o.out);
    set_die_hook(die_hook);
    if (!mkdtemp(tmpdir)) {
        int e = errno;
        tmpdir[0] = 0;
        if (e == ENOENT || e == ENOTDIR) die_usage("expected a writable folder for '%s', found '%s': %s", o.out, parent, strerror(e));
        die_runtime("expected to create a folder in '%s', found %s", parent, strerror(e));
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmpdir, 0777 & ~mask);   /* mkdtemp made it 0700; the folder gets what mkdir would give */

    char p[8192], cname[64];
    snprintf(p, sizeof p, "%s/CUB_200_2011", tmpdir); mkdir_or_die(p);
    snprintf(p, sizeof p, "%s/CUB_200_2011/images", tmpdir); mkdir_or_die(p);
    snprintf(p, sizeof p, "%s/text", tmpdir); mkdir_or_die(p);
    snprintf(p, sizeof p, "%s/train", tmpdir); mkdir_or_die(p);
    snprintf(p, sizeof p, "%s/test", tmpdir); mkdir_or_die(p);

    char ip[8192], bp[8192];
    snprintf(ip, sizeof ip, "%s/CUB_200_2011/images.txt", tmpdir);
    snprintf(bp, sizeof bp, "%s/CUB_200_2011/bounding_boxes.txt", tmpdir);
    FILE *fi = open_or_die(ip), *fb = open_or_die(bp);

    long n = o.images;
    char **train = xmalloc((size_t)n * sizeof *train), **test = xmalloc((size_t)n * sizeof *test);
    size_t ntrain = 0, ntest = 0;
    unsigned char *rgb = xmalloc(128 * 128 * 3);
    long g = 0;
    for (int c = 0; c < NCLASS; c++) {
        class_name(cname, sizeof cname, c);
        snprintf(p, sizeof p, "%s/CUB_200_2011/images/%s", tmpdir, cname); mkdir_or_die(p);
        snprintf(p, sizeof p, "%s/text/%s", tmpdir, cname); mkdir_or_die(p);
        long count = n / NCLASS + (c < n % NCLASS);
        for (long j = 0; j < count; j++) {
            g++;
            item it = draw_item((uint64_t)o.seed, (uint64_t)g, c);
            render(rgb, &it);
            char key[160];
            snprintf(key, sizeof key, "%s/%s_%04ld", cname, cname + 4, j + 1);
            snprintf(p, sizeof p, "%s/CUB_200_2011/images/%s.jpg", tmpdir, key);
            FILE *f = open_or_die(p);
            char err[256];
            if (jpeg_write_rgb8(f, rgb, it.w, it.h, (int)o.quality, err, sizeof err) != 0)
                die_runtime("%s: %s", p, err);
            close_or_die(f, p);
            fprintf(fi, "%ld %s.jpg\n", g, key);
            fprintf(fb, "%ld %d.0 %d.0 %d.0 %d.0\n", g, it.bx0, it.by0, it.bx1 - it.bx0 + 1, it.by1 - it.by0 + 1);
            /* captions: the 10 templates in an order of the image's own, synonyms drawn per caption */
            rng_t r;
            rng_init(&r, (uint64_t)o.seed, CAPTION_STREAM + g);
            int order[NCAP];
            for (int k = 0; k < NCAP; k++) order[k] = k;
            for (int k = NCAP - 1; k > 0; k--) {
                int m = (int)(rng_u32(&r) % (uint32_t)(k + 1)), t = order[k];
                order[k] = order[m]; order[m] = t;
            }
            snprintf(p, sizeof p, "%s/text/%s.txt", tmpdir, key);
            f = open_or_die(p);
            for (int k = 0; k < NCAP; k++) {
                char cap[512];
                caption(cap, sizeof cap, &it, order[k], &r);
                fprintf(f, "%s\n", cap);
            }
            close_or_die(f, p);
            if (is_test_class(c)) test[ntest++] = xstrdup(key);
            else train[ntrain++] = xstrdup(key);
        }
    }
    close_or_die(fi, ip);
    close_or_die(fb, bp);
    const char *split[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        snprintf(p, sizeof p, "%s/%s/filenames.pickle", tmpdir, split[s]);
        FILE *f = open_or_die(p);
        if (pk_write_str_list(f, (const char *const *)(s ? test : train), s ? ntest : ntrain) != 0)
            die_runtime("expected to write '%s', found %s", p, strerror(errno));
        close_or_die(f, p);
    }
    /* one sync for the whole tree, then the rename makes it appear complete */
    int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || syncfs(dfd) != 0) die_runtime("expected to sync '%s', found %s", tmpdir, strerror(errno));
    close(dfd);
    if (rename(tmpdir, o.out) != 0) die_runtime("expected to rename '%s' to '%s', found %s", tmpdir, o.out, strerror(errno));
    tmpdir[0] = 0;
    int pfd = open(parent, O_RDONLY | O_DIRECTORY);
    if (pfd >= 0) { fsync(pfd); close(pfd); }
    fprintf(stderr, "make-dataset: %ld images (%zu train, %zu test) in %d classes under %s\n", n, ntrain, ntest, NCLASS, o.out);
    for (size_t i = 0; i < ntrain; i++) free(train[i]);
    for (size_t i = 0; i < ntest; i++) free(test[i]);
    free(train); free(test); free(rgb);
    return 0;
}
