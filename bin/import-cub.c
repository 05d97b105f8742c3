/* import-cub: one split of a dataset in DF-GAN's layout (CUB-200-2011 as DF-GAN reads it, our
 * make-dataset output, or COCO-2014 with --coco) to the caches the training pipeline reads:
 * the images cropped and resized as DF-GAN's get_imgs and transforms.Resize do, as uint8 arrays
 * (memory-mappable, lib/image/image_cache.h), and the captions and filenames as text.
 *
 * Per image, exactly as DF-GAN's code/lib/datasets.py:
 *   decode Image.open(path).convert('RGB') (lib/image/image_load.h: libjpeg's defaults, as PIL)
 *   bbox   bounding_boxes.txt read with pandas then .astype(int) (floats truncated), matched to
 *          images.txt by line (iloc[i]), keyed by the path without ".jpg"
 *   crop   r = int(max(w,h)*0.75), cx = int((2x+w)/2), cy = int((2y+h)/2),
 *          box [max(0,cx-r), max(0,cy-r), min(W,cx+r), min(H,cy+r)]   (no crop with --coco)
 *   resize transforms.Resize(R), R = int(imsize*76/64): the smaller edge to R, the other to
 *          int(R*long/short), by PIL's bilinear resample (lib/image/pil_resize.h, bit-exact)
 * With --shapes the result is kept at its own size (the exact cache: RandomCrop in bin/batches
 * then reaches every position DF-GAN's does). Without it, the square cache of old: a non-square
 * result is centre-cropped to R×R as torchvision's CenterCrop (offset int(round((L-R)/2))), which
 * departs from DF-GAN where the crop is not square (where the bbox square meets the image border,
 * and every COCO image).
 * The sizes are read from every file's header first, so the arrays' headers are written before any
 * pixel and the outputs stream (to a pipe too).
 * Captions: the file's lines split on '\n' ('\r' dropped), empty lines and lines without a word
 * character skipped, U+FFFD U+FFFD replaced by a space, the first K kept (fewer is an error),
 * as DF-GAN's load_captions (tokenizing is bin/tokenize's job). */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "image/image_cache.h"
#include "image/image_load.h"
#include "io/npy.h"
#include "io/pickle.h"
#include "image/pil_resize.h"
#include "core/strmap.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: import-cub --root DIR --split train|test --imsize S --images F.npy --captions F.txt\n"
    "                  [--shapes F.npy] [--filenames F.txt] [--boxes F.npy] [--crops F.npy]\n"
    "                  [--captions-per-image K] [--coco] [--limit N [--spread]]\n"
    "\n"
    "Reads DIR/<split>/filenames.pickle (a pickled list of '<class>/<name>' as DF-GAN's) and, per\n"
    "name, DIR/CUB_200_2011/images/<name>.jpg with its box from CUB_200_2011/bounding_boxes.txt and\n"
    "images.txt, and DIR/text/<name>.txt. With --coco: DIR/images/train2014 (or val2014 for test)/\n"
    "<name>.jpg and DIR/text/<name>.txt, no box (the whole image). Each image is cropped around its\n"
    "box as DF-GAN's get_imgs (r = int(0.75*max(w,h)) around the box centre, clipped to the image),\n"
    "resized as transforms.Resize(R) with R = int(S*76/64) (smaller edge to R, the other to\n"
    "int(R*long/short), PIL bilinear, bit-exact) and, without --shapes, centre-cropped to R×R.\n"
    "\n"
    "outputs (each written atomically):\n"
    "  --images F      without --shapes: uint8 (N,3,R,R), RGB, one .npy (memory-mappable)\n"
    "                  with --shapes: uint8 (T,), image i's (3,H_i,W_i) RGB block at bytes\n"
    "                  off_i .. off_i+3*H_i*W_i, each image at its resized size (DF-GAN exactly)\n"
    "  --shapes F      int64 (N,3): rows (off_i, H_i, W_i); the blocks lie back to back in name\n"
    "                  order. bin/batches reads the pair with --cache F --shapes F\n"
    "  --captions F    N*K lines: image i's captions are lines i*K .. i*K+K-1\n"
    "  --filenames F   N lines, the names in pickle order\n"
    "  --boxes F       int32 (N,6): crop box x1 y1 x2 y2, then the image's width and height\n"
    "  --crops F       the crops before resizing, a stream of N uint8 (3,h,w) arrays (for tests)\n"
    "options:\n"
    "  --captions-per-image K   captions kept per image (default 10, 5 with --coco)\n"
    "  --limit N       only the first N names (default all)\n"
    "  --spread        with --limit N: N names spread evenly over the list (name floor(i*total/N)\n"
    "                  for i < N, in list order) instead of the first N, so that a test subset of a\n"
    "                  list sorted class by class holds every class\n"
    "  --device cpu    the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or bad input data, 1 a read or write failure.\n";

typedef struct {
    const char *root, *split, *images, *captions, *filenames, *boxes, *crops, *shapes;
    long imsize, k, limit;
    int coco, spread;
} options;

static void parse(options *o, int argc, char **argv)
{
    enum { ROOT = TOPT_FIRST, SPLIT, IMSIZE, IMAGES, CAPTIONS, FILENAMES, BOXES, CROPS, K, COCO, LIMIT, SHAPES, SPREAD };
    static const struct option longopts[] = {
        {"root", 1, 0, ROOT}, {"split", 1, 0, SPLIT}, {"imsize", 1, 0, IMSIZE}, {"images", 1, 0, IMAGES},
        {"captions", 1, 0, CAPTIONS}, {"filenames", 1, 0, FILENAMES}, {"boxes", 1, 0, BOXES},
        {"crops", 1, 0, CROPS}, {"captions-per-image", 1, 0, K}, {"coco", 0, 0, COCO}, {"limit", 1, 0, LIMIT},
        {"shapes", 1, 0, SHAPES}, {"spread", 0, 0, SPREAD}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->limit = -1;
    toolopts t;
    topt_begin(&t, argc, argv, usage, "", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case ROOT: o->root = optarg; break;
        case SPLIT: o->split = optarg; break;
        case IMSIZE: o->imsize = parse_long("--imsize", optarg, 4, 4096); break;
        case IMAGES: o->images = optarg; break;
        case CAPTIONS: o->captions = optarg; break;
        case FILENAMES: o->filenames = optarg; break;
        case BOXES: o->boxes = optarg; break;
        case CROPS: o->crops = optarg; break;
        case K: o->k = parse_long("--captions-per-image", optarg, 1, 1000); break;
        case COCO: o->coco = 1; break;
        case LIMIT: o->limit = parse_long("--limit", optarg, 1, 1L << 40); break;
        case SHAPES: o->shapes = optarg; break;
        case SPREAD: o->spread = 1; break;
        }
    }
    topt_end(&t);
    const char *missing = !o->root ? "--root" : !o->split ? "--split" : !o->imsize ? "--imsize"
                        : !o->images ? "--images" : !o->captions ? "--captions" : NULL;
    if (missing) die_usage("expected --root, --split, --imsize, --images and --captions, found %s missing", missing);
    if (strcmp(o->split, "train") && strcmp(o->split, "test"))
        die_usage("expected --split train or test, found '%s'", o->split);
    if (o->spread && o->limit < 0) die_usage("--spread expects --limit N, found no --limit");
    if (!o->k) o->k = o->coco ? 5 : 10;
    const char *outs[6] = {o->images, o->captions, o->filenames, o->boxes, o->crops, o->shapes};
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
                die_usage("expected different output paths, found '%s' twice", outs[i]);
}

/* Whole file into memory (NUL-terminated); NULL with errno when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) b = xrealloc(b, cap *= 2);
        size_t k = fread(b + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); errno = EIO; return NULL; }
    b[n] = 0;
    if (len) *len = n;
    return b;
}

static char *slurp_or_die(const char *path, size_t *len)
{
    char *b = slurp(path, len);
    if (!b) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR || errno == EACCES)
            die_usage("expected a readable file, found '%s': %s", path, strerror(errno));
        die_runtime("expected to read '%s', found %s", path, strerror(errno));
    }
    return b;
}

/* A name from the pickle must stay inside the dataset: no absolute path, no "..", printable. */
static int safe_name(const char *s, size_t n)
{
    if (!n || s[0] == '/' || n > 1000) return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == '\\') return 0;
        if (s[i] == '.' && i + 1 < n && s[i + 1] == '.') return 0;
    }
    return 1;
}

typedef struct { long x, y, w, h; } bbox;

/* images.txt and bounding_boxes.txt: key (path without its 4-character extension) -> bbox. */
static bbox *load_bboxes(const char *root, strmap *map)
{
    char ip[4096], bp[4096];
    snprintf(ip, sizeof ip, "%s/CUB_200_2011/images.txt", root);
    snprintf(bp, sizeof bp, "%s/CUB_200_2011/bounding_boxes.txt", root);
    char *it = slurp_or_die(ip, NULL), *bt = slurp_or_die(bp, NULL);
    size_t cap = 1024, n = 0;
    bbox *boxes = xmalloc(cap * sizeof *boxes);
    char *sp = NULL, *sq = NULL;
    char *li = strtok_r(it, "\n", &sp), *lb = strtok_r(bt, "\n", &sq);
    long line = 0;
    for (; li; li = strtok_r(NULL, "\n", &sp), lb = strtok_r(NULL, "\n", &sq)) {
        line++;
        if (!lb) die_usage("expected a line %ld in '%s' for '%s', found the end of the file", line, bp, ip);
        char path[2048];
        long id;
        double v[5];
        if (sscanf(li, "%ld %2047s", &id, path) != 2)
            die_usage("expected '<id> <path>' on line %ld of '%s', found '%.60s'", line, ip, li);
        if (sscanf(lb, "%lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5)
            die_usage("expected '<id> <x> <y> <width> <height>' on line %ld of '%s', found '%.60s'", line, bp, lb);
        for (int i = 1; i < 5; i++)
            if (!(fabs(v[i]) < 1e9)) die_usage("expected a box in pixels on line %ld of '%s', found '%.60s'", line, bp, lb);
        size_t len = strlen(path);
        if (len < 5) die_usage("expected '<id> <path>.jpg' on line %ld of '%s', found '%.60s'", line, ip, li);
        if (n == cap) boxes = xrealloc(boxes, (cap *= 2) * sizeof *boxes);
        /* pandas .astype(int): truncation toward zero */
        boxes[n] = (bbox){(long)v[1], (long)v[2], (long)v[3], (long)v[4]};
        strmap_set(map, path, len - 4, (int32_t)n);
        n++;
    }
    free(it);
    free(bt);
    return boxes;
}

/* The first k usable captions of a text file, joined as k lines into out (malloc'd). */
static char *load_captions(const char *path, long k)
{
    size_t len;
    char *t = slurp_or_die(path, &len);
    size_t cap = len + 2, o = 0;
    char *out = xmalloc(cap);
    long got = 0;
    char *p = t;
    while (got < k && p < t + len) {
        char *e = memchr(p, '\n', (size_t)(t + len - p));
        if (!e) e = t + len;
        char *line = p;
        size_t n = (size_t)(e - p);
        p = e + 1;
        size_t start = o;
        int word = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)line[i];
            if (ch == '\r' || ch == 0) continue;
            if (ch == 0xef && i + 5 < n && !memcmp(line + i, "\xef\xbf\xbd\xef\xbf\xbd", 6)) {
                out[o++] = ' ';
                i += 5;
                continue;
            }
            word |= isalnum(ch) || ch == '_' || ch >= 0x80;
            out[o++] = (char)ch;
        }
        if (!word) { o = start; continue; }    /* empty, or no token for DF-GAN's \w+ tokenizer */
        out[o++] = '\n';
        got++;
    }
    if (got < k) die_usage("expected %ld captions in '%s', found %ld", k, path, got);
    out[o] = 0;
    free(t);
    return out;
}

/* One image's place in the caches: its file, its size, DF-GAN's crop box, the size after Resize. */
typedef struct { int W, H, x1, y1, x2, y2, ow, oh; int64_t off; } plan;

static void image_path(char *buf, size_t len, const options *o, const char *key)
{
    if (o->coco) snprintf(buf, len, "%s/images/%s/%s.jpg", o->root, strcmp(o->split, "train") ? "val2014" : "train2014", key);
    else snprintf(buf, len, "%s/CUB_200_2011/images/%s.jpg", o->root, key);
}

/* DF-GAN's get_imgs crop box of a W×H image around b; dies when it is empty. */
static void crop_box(plan *p, bbox b, const char *path)
{
    long r = (long)((double)(b.w > b.h ? b.w : b.h) * 0.75);
    long cx = (long)((2.0 * b.x + b.w) / 2), cy = (long)((2.0 * b.y + b.h) / 2);
    long X1 = cx - r > 0 ? cx - r : 0, Y1 = cy - r > 0 ? cy - r : 0;
    long X2 = cx + r < p->W ? cx + r : p->W, Y2 = cy + r < p->H ? cy + r : p->H;
    if (X2 <= X1 || Y2 <= Y1)
        die_usage("expected a bounding box that crops '%s' (%dx%d) to a non-empty image, found box %ld %ld %ld %ld",
                  path, p->W, p->H, b.x, b.y, b.w, b.h);
    p->x1 = (int)X1; p->y1 = (int)Y1; p->x2 = (int)X2; p->y2 = (int)Y2;
}

int main(int argc, char **argv)
{
    progname = "import-cub";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    check_output_dir(o.images, "--images");
    check_output_dir(o.captions, "--captions");
    check_output_dir(o.filenames, "--filenames");
    check_output_dir(o.boxes, "--boxes");
    check_output_dir(o.crops, "--crops");
    check_output_dir(o.shapes, "--shapes");
    int R = (int)(o.imsize * 76 / 64);

    char path[8192];
    snprintf(path, sizeof path, "%s/%s/filenames.pickle", o.root, o.split);
    size_t plen;
    unsigned char *pbuf = (unsigned char *)slurp_or_die(path, &plen);
    pk_ctx ctx = {0};
    pk_obj *list;
    size_t used;
    char err[512];
    if (pk_load(&ctx, pbuf, plen, path, &used, &list, err, sizeof err) != 0) die_usage("%s", err);
    if (list->type != PK_LIST) die_usage("expected a list of names in '%s', found a %s", path, pk_type_name(list));
    size_t n = list->u.seq.n;
    if (o.limit > 0 && (size_t)o.limit < n) {
        /* --spread: names floor(i*total/N), i < N; each index >= i, so the move in place is safe */
        if (o.spread)
            for (size_t i = 0; i < (size_t)o.limit; i++) list->u.seq.v[i] = list->u.seq.v[i * n / (size_t)o.limit];
        n = (size_t)o.limit;
    }
    if (n == 0) die_usage("expected at least one name in '%s', found an empty list", path);
    for (size_t i = 0; i < n; i++) {
        pk_obj *s = list->u.seq.v[i];
        if (s->type != PK_STR && s->type != PK_BYTES)
            die_usage("expected a list of str in '%s', found a %s at index %zu", path, pk_type_name(s), i);
        if (!safe_name(s->u.str.s, s->u.str.n) || strlen(s->u.str.s) != s->u.str.n)
            die_usage("expected a relative name inside the dataset in '%s', found '%.60s' at index %zu", path, s->u.str.s, i);
    }

    strmap map;
    strmap_init(&map);
    bbox *boxes = o.coco ? NULL : load_bboxes(o.root, &map);

    /* pass 1: sizes from the headers, crop boxes, sizes after Resize, offsets */
    plan *pl = xmalloc(n * sizeof *pl);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = list->u.seq.v[i]->u.str.s;
        plan *p = &pl[i];
        image_path(path, sizeof path, &o, key);
        if (image_load_size(path, &p->H, &p->W, err, sizeof err) != 0) die_usage("%s", err);
        p->x1 = 0; p->y1 = 0; p->x2 = p->W; p->y2 = p->H;
        if (!o.coco) {
            int32_t *bi = strmap_get(&map, key, strlen(key));
            if (!bi) die_usage("expected '%s' in images.txt of '%s', found no such line", key, o.root);
            crop_box(p, boxes[*bi], path);
        }
        int cw = p->x2 - p->x1, ch = p->y2 - p->y1;
        int64_t longer = (int64_t)R * (cw > ch ? cw : ch) / (cw < ch ? cw : ch);
        if (longer > IMAGE_CACHE_MAX_SIDE || longer * R > ((int64_t)1 << 28))
            die_usage("expected a crop of '%s' that resizes to under 2^28 pixels (shorter side %d), found %dx%d to resize to %lldx%d",
                      path, R, cw, ch, (long long)longer, R);
        tv_resize_dims(cw, ch, R, &p->ow, &p->oh);
        p->off = total;
        total += (int64_t)3 * p->ow * p->oh;
    }

    atomic_file *ai = af_open(o.images), *ac = af_open(o.captions);
    atomic_file *af_ = o.filenames ? af_open(o.filenames) : NULL, *ab = o.boxes ? af_open(o.boxes) : NULL;
    atomic_file *acr = o.crops ? af_open(o.crops) : NULL, *as = o.shapes ? af_open(o.shapes) : NULL;
    int64_t ishape[4] = {(int64_t)n, 3, R, R}, flat[1] = {total};
    char hdr[256];
    size_t hl = o.shapes ? npy_encode_header(hdr, sizeof hdr, NPY_U1, 1, flat) : npy_encode_header(hdr, sizeof hdr, NPY_U1, 4, ishape);
    if (!hl || fwrite(hdr, 1, hl, af_stream(ai)) != hl) die_runtime("expected to write '%s', found %s", o.images, strerror(errno));
    int32_t *bout = o.boxes ? xmalloc(n * 6 * sizeof(int32_t)) : NULL;
    int64_t *sout = o.shapes ? xmalloc(n * 3 * sizeof(int64_t)) : NULL;

    /* pass 2: decode, crop, resize, write */
    for (size_t i = 0; i < n; i++) {
        const char *key = list->u.seq.v[i]->u.str.s;
        const plan *p = &pl[i];
        image_path(path, sizeof path, &o, key);
        unsigned char *rgb;
        int H, W;
        if (image_load_rgb8(path, &rgb, &H, &W, err, sizeof err) != 0) die_usage("%s", err);
        if (H != p->H || W != p->W)
            die_usage("expected '%s' to decode to the %dx%d its header gave, found %dx%d (changed while reading?)",
                      path, p->W, p->H, W, H);
        int x1 = p->x1, y1 = p->y1, cw = p->x2 - p->x1, ch = p->y2 - p->y1;
        uint8_t *crop = xmalloc((size_t)cw * ch * 3);
        for (int y = 0; y < ch; y++) memcpy(crop + (size_t)y * cw * 3, rgb + ((size_t)(y + y1) * W + x1) * 3, (size_t)cw * 3);
        free(rgb);
        if (acr) {
            uint8_t *cc = xmalloc((size_t)cw * ch * 3);
            for (int c = 0; c < 3; c++)
                for (size_t q = 0; q < (size_t)cw * ch; q++) cc[(size_t)c * cw * ch + q] = crop[q * 3 + c];
            if (npy_write(af_stream(acr), NPY_U1, 3, (int64_t[]){3, ch, cw}, cc) != 0)
                die_runtime("expected to write '%s', found %s", o.crops, strerror(errno));
            free(cc);
        }
        int ow = p->ow, oh = p->oh;
        uint8_t *rs = xmalloc((size_t)ow * oh * 3);
        pil_resize_bilinear_rgb8(rs, ow, oh, crop, cw, ch);
        free(crop);
        /* the exact cache keeps all of it; the square one its centre R×R */
        int ox = o.shapes ? 0 : tv_center_offset(ow - R), oy = o.shapes ? 0 : tv_center_offset(oh - R);
        int kw = o.shapes ? ow : R, kh = o.shapes ? oh : R;
        size_t bytes = (size_t)3 * kw * kh;
        uint8_t *chw = xmalloc(bytes);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    chw[((size_t)c * kh + y) * kw + x] = rs[((size_t)(y + oy) * ow + x + ox) * 3 + c];
        free(rs);
        if (fwrite(chw, 1, bytes, af_stream(ai)) != bytes)
            die_runtime("expected to write '%s', found %s", o.images, strerror(errno));
        free(chw);
        if (bout) {
            int32_t *b = bout + i * 6;
            b[0] = x1; b[1] = y1; b[2] = p->x2; b[3] = p->y2; b[4] = W; b[5] = H;
        }
        if (sout) { sout[i * 3] = p->off; sout[i * 3 + 1] = oh; sout[i * 3 + 2] = ow; }
        snprintf(path, sizeof path, "%s/text/%s.txt", o.root, key);
        char *caps = load_captions(path, o.k);
        fputs(caps, af_stream(ac));
        free(caps);
        if (af_) fprintf(af_stream(af_), "%s\n", key);
    }
    if (ab && npy_write(af_stream(ab), NPY_I4, 2, (int64_t[]){(int64_t)n, 6}, bout) != 0)
        die_runtime("expected to write '%s', found %s", o.boxes, strerror(errno));
    if (as && npy_write(af_stream(as), NPY_I8, 2, (int64_t[]){(int64_t)n, 3}, sout) != 0)
        die_runtime("expected to write '%s', found %s", o.shapes, strerror(errno));
    af_commit(ai);
    af_commit(ac);
    if (af_) af_commit(af_);
    if (ab) af_commit(ab);
    if (acr) af_commit(acr);
    if (as) af_commit(as);
    int to_stdout = 0;
    const char *outs[6] = {o.images, o.captions, o.filenames, o.boxes, o.crops, o.shapes};
    for (int i = 0; i < 6; i++) to_stdout |= outs[i] && !strcmp(outs[i], "-");
    if (to_stdout) close_stdout_or_die();
    if (o.shapes)
        fprintf(stderr, "import-cub: %zu images of the %s split, shorter side %d (%lld bytes), %ld captions each\n", n, o.split,
                R, (long long)total, o.k);
    else fprintf(stderr, "import-cub: %zu images of the %s split, %dx%d, %ld captions each\n", n, o.split, R, R, o.k);
    free(bout); free(sout); free(pl); free(boxes); free(pbuf);
    strmap_free(&map);
    pk_free(&ctx);
    return 0;
}
