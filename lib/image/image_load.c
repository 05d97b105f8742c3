/* image_load.c: see image_load.h. */
#include "image/image_load.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define IMG_MAX_PIXELS ((size_t)1 << 28)

int image_kind(const unsigned char *m, size_t n)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(m, png_sig, 8) == 0) return IMG_PNG;
    if (n >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff) return IMG_JPEG;
    if (n >= 6 && m[0] == 0x93 && memcmp(m + 1, "NUMPY", 5) == 0) return IMG_NPY;
    return IMG_UNKNOWN;
}

/* ---- PNG ---- */

typedef struct { char *err; size_t errlen; const char *path; } png_ctx;

static void png_err(png_structp p, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(p);
    seterr(c->err, c->errlen, "%s: expected a valid PNG file, found an error: %s", c->path, msg);
    png_longjmp(p, 1);
}
static void png_warn(png_structp p, png_const_charp msg) { (void)p; (void)msg; }
/* The bounds a file from the internet gets: an ancillary chunk (sPLT, iCCP, zTXt...) may claim 2 GB
 * in a 100-byte file, and libpng allocates what it claims before reading it, chunk_malloc_max or not
 * (found by the fuzzer: sPLT). The pixels need none of them (no gamma or colour management, as PIL's
 * convert('RGB')), so they are skipped unread, without an allocation; tRNS (256 bytes at most) stays. */
static void png_limits(png_structp p) {
    static const png_byte unused[] = "bKGD\0cHRM\0cICP\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0"
                                     "sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0zTXt";
    png_set_keep_unknown_chunks(p, PNG_HANDLE_CHUNK_NEVER, unused, (int)(sizeof unused / 5));
    png_set_chunk_malloc_max(p, (png_alloc_size_t)8 << 20);
    png_set_chunk_cache_max(p, 1000);
}

static int load_png(FILE *f, const char *path, unsigned char **rgb, int *H, int *W, char *err, size_t errlen)
{
    png_ctx ctx = {err, errlen, path};
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_err, png_warn);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    unsigned char *volatile out = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&p, NULL, NULL);
        return seterr(err, errlen, "%s: expected memory for a PNG decoder, found none", path);
    }
    if (setjmp(png_jmpbuf(p))) {
        free(out);
        free(rows);
        png_destroy_read_struct(&p, &info, NULL);
        return -1;
    }
    png_init_io(p, f);
    png_limits(p);
    png_read_info(p, info);
    png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
    int ct = png_get_color_type(p, info);
    if ((size_t)w * h > IMG_MAX_PIXELS) png_error(p, "image too large");
    png_set_expand(p);                    /* palette → RGB, grey < 8 bits → 8, tRNS → alpha */
    png_set_strip_16(p);                  /* 16 → 8 bits: the high byte, as PIL */
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(p);
    png_set_strip_alpha(p);               /* PIL's convert('RGB') drops alpha */
    png_set_interlace_handling(p);
    png_read_update_info(p, info);
    if (png_get_rowbytes(p, info) != (size_t)w * 3) png_error(p, "unexpected row size after conversion to RGB");
    /* sized by the header, not by the file: a failing malloc is this file's error, not a reason to exit */
    out = malloc((size_t)w * h * 3);
    rows = malloc(h * sizeof *rows);
    if (!out || !rows) {
        seterr(err, errlen, "%s: expected memory for a %ux%u image, found malloc failing", path, (unsigned)w, (unsigned)h);
        png_longjmp(p, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out + (size_t)y * w * 3;
    png_read_image(p, rows);
    png_read_end(p, NULL);
    png_destroy_read_struct(&p, &info, NULL);
    free(rows);
    *rgb = out;
    *H = (int)h;
    *W = (int)w;
    return 0;
}

/* ---- JPEG ---- */

typedef struct { struct jpeg_error_mgr pub; jmp_buf jb; int eof_ok; } jpg_err;

static void jpg_exit(j_common_ptr c)
{
    longjmp(((jpg_err *)c->err)->jb, 1);
}

/* As PIL: warnings (corrupt data that libjpeg works around) are silent, but a file that ends
 * before the last scanline is an error (PIL: "image file is truncated"), where libjpeg would
 * warn and fill the rest with grey. A missing EOI after the last scanline stays harmless. */
static void jpg_message(j_common_ptr c, int level)
{
    jpg_err *e = (jpg_err *)c->err;
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF && !e->eof_ok) jpg_exit(c);
    if (level < 0) c->err->num_warnings++;
}

/* set up d's error manager as jpg_exit/jpg_message (call before setjmp) */
static void jpg_errors(struct jpeg_decompress_struct *d, jpg_err *je)
{
    d->err = jpeg_std_error(&je->pub);
    je->pub.error_exit = jpg_exit;
    je->pub.emit_message = jpg_message;
    je->eof_ok = 0;
}

/* the one-line error for a libjpeg failure; destroys d */
static void jpg_fail(struct jpeg_decompress_struct *d, jpg_err *je, const char *path, char *err, size_t errlen)
{
    char msg[JMSG_LENGTH_MAX];
    je->pub.format_message((j_common_ptr)d, msg);
    seterr(err, errlen, "%s: expected a valid JPEG file, found an error: %s", path, msg);
    jpeg_destroy_decompress(d);
}

static int load_jpeg(FILE *f, const char *path, unsigned char **rgb, int *H, int *W, char *err, size_t errlen)
{
    struct jpeg_decompress_struct d;
    jpg_err je;
    unsigned char *volatile out = NULL;
    jpg_errors(&d, &je);
    if (setjmp(je.jb)) {
        jpg_fail(&d, &je, path, err, errlen);
        free(out);
        return -1;
    }
    jpeg_create_decompress(&d);
    /* libjpeg's own whole-image buffers (a progressive file's coefficients, read before any row) at most
     * 512 MB (~170 Mpixel): past it the file is refused (no backing store), not allocated */
    d.mem->max_memory_to_use = 512L << 20;
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&d);
        return seterr(err, errlen, "%s: expected a greyscale or colour JPEG, found CMYK", path);
    }
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    if ((size_t)d.output_width * d.output_height > IMG_MAX_PIXELS || d.output_components != 3) {
        seterr(err, errlen, "%s: expected an RGB JPEG under 2^28 pixels, found %ux%u with %d components", path,
               d.output_width, d.output_height, d.output_components);
        jpeg_destroy_decompress(&d);
        return -1;
    }
    /* the rows' memory grows (doubling) as rows are decoded, not as the header claims: a 300-byte file
     * may claim 2^28 pixels and end after its header (found by the fuzzer) */
    size_t stride = (size_t)d.output_width * 3, cap_rows = 0;
    while (d.output_scanline < d.output_height) {
        if (d.output_scanline == cap_rows) {
            size_t want = cap_rows ? 2 * cap_rows : 64;
            if (want > d.output_height) want = d.output_height;
            unsigned char *grown = realloc(out, stride * want);
            if (!grown) {
                seterr(err, errlen, "%s: expected memory for a %ux%u image, found malloc failing", path, d.output_width,
                       d.output_height);
                jpeg_destroy_decompress(&d);
                free(out);
                return -1;
            }
            out = grown;
            cap_rows = want;
        }
        JSAMPROW row = out + stride * d.output_scanline;
        jpeg_read_scanlines(&d, &row, 1);
    }
    je.eof_ok = 1;
    jpeg_finish_decompress(&d);
    *H = (int)d.output_height;
    *W = (int)d.output_width;
    jpeg_destroy_decompress(&d);
    *rgb = out;
    return 0;
}

/* ---- header only ---- */

static int size_png(FILE *f, const char *path, int *H, int *W, char *err, size_t errlen)
{
    png_ctx ctx = {err, errlen, path};
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_err, png_warn);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info) {
        png_destroy_read_struct(&p, NULL, NULL);
        return seterr(err, errlen, "%s: expected memory for a PNG decoder, found none", path);
    }
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_read_struct(&p, &info, NULL);
        return -1;
    }
    png_init_io(p, f);
    png_limits(p);
    png_read_info(p, info);
    png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
    if ((size_t)w * h > IMG_MAX_PIXELS) png_error(p, "image too large");
    png_destroy_read_struct(&p, &info, NULL);
    *H = (int)h;
    *W = (int)w;
    return 0;
}

static int size_jpeg(FILE *f, const char *path, int *H, int *W, char *err, size_t errlen)
{
    struct jpeg_decompress_struct d;
    jpg_err je;
    jpg_errors(&d, &je);
    if (setjmp(je.jb)) {
        jpg_fail(&d, &je, path, err, errlen);
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    int bad = d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK;
    unsigned w = d.image_width, h = d.image_height;
    jpeg_destroy_decompress(&d);
    if (bad) return seterr(err, errlen, "%s: expected a greyscale or colour JPEG, found CMYK", path);
    if ((size_t)w * h > IMG_MAX_PIXELS) return seterr(err, errlen, "%s: expected a JPEG under 2^28 pixels, found %ux%u", path, w, h);
    *H = (int)h;
    *W = (int)w;
    return 0;
}

/* Open path and hand it to the PNG or JPEG reader its signature names (sizes only, or decode). */
static int dispatch(const char *path, unsigned char **rgb, int *H, int *W, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return seterr(err, errlen, "expected a readable image file, found '%s': %s", path, strerror(errno));
    unsigned char m[8] = {0};
    size_t n = fread(m, 1, sizeof m, f);
    rewind(f);
    int kind = image_kind(m, n), rc;
    if (kind == IMG_PNG)
        rc = rgb ? load_png(f, path, rgb, H, W, err, errlen) : size_png(f, path, H, W, err, errlen);
    else if (kind == IMG_JPEG)
        rc = rgb ? load_jpeg(f, path, rgb, H, W, err, errlen) : size_jpeg(f, path, H, W, err, errlen);
    else rc = seterr(err, errlen, "%s: expected a PNG or JPEG file, found neither signature", path);
    fclose(f);
    return rc;
}

int image_load_rgb8(const char *path, unsigned char **rgb, int *H, int *W, char *err, size_t errlen)
{
    return dispatch(path, rgb, H, W, err, errlen);
}

int image_load_size(const char *path, int *H, int *W, char *err, size_t errlen)
{
    return dispatch(path, NULL, H, W, err, errlen);
}
