/* pil_resize.c: see pil_resize.h. Names follow Pillow's Resample.c so the two read side by side. */
#include "image/pil_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

/* Pillow's precompute_coeffs (support 1.0, box [0, inSize]) followed by normalize_coeffs_8bpc:
 * kk (outSize, ksize) fixed-point weights, bounds (outSize, 2) = (first input index, count). */
static int precompute_coeffs(int inSize, int outSize, int **boundsp, int32_t **kkp)
{
    double in0 = 0.0, in1 = (float)inSize;
    double filterscale, scale;
    filterscale = scale = (in1 - in0) / outSize;
    if (filterscale < 1.0) filterscale = 1.0;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = xmalloc((size_t)outSize * ksize * sizeof(double));
    int *bounds = xmalloc((size_t)outSize * 2 * sizeof(int));
    for (int xx = 0; xx < outSize; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > inSize) xmax = inSize;
        xmax -= xmin;
        double *k = &kk[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bilinear_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[xx * 2 + 0] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    int32_t *ik = xmalloc((size_t)outSize * ksize * sizeof(int32_t));
    for (size_t x = 0; x < (size_t)outSize * ksize; x++)
        ik[x] = kk[x] < 0 ? (int32_t)(-0.5 + kk[x] * (1 << PRECISION_BITS))
                          : (int32_t)(0.5 + kk[x] * (1 << PRECISION_BITS));
    free(kk);
    *boundsp = bounds;
    *kkp = ik;
    return ksize;
}

static uint8_t clip8(int32_t in)
{
    if (in >= (1 << PRECISION_BITS << 8)) return 255;
    if (in <= 0) return 0;
    return (uint8_t)(in >> PRECISION_BITS);
}

void pil_resize_bilinear_rgb8(uint8_t *out, int ow, int oh, const uint8_t *in, int iw, int ih)
{
    int *bh, *bv;
    int32_t *kh, *kv;
    int ksh = precompute_coeffs(iw, ow, &bh, &kh);
    int ksv = precompute_coeffs(ih, oh, &bv, &kv);
    int need_h = ow != iw, need_v = oh != ih;
    /* rows of the source the vertical pass reads */
    int yfirst = bv[0], ylast = bv[oh * 2 - 2] + bv[oh * 2 - 1];
    const uint8_t *src = in;
    int sw = iw, sh = ih, y0 = 0;
    uint8_t *tmp = NULL;
    if (need_h) {
        sh = ylast - yfirst;
        tmp = xmalloc((size_t)ow * sh * 3);
        for (int yy = 0; yy < sh; yy++) {
            const uint8_t *row = in + (size_t)(yy + yfirst) * iw * 3;
            for (int xx = 0; xx < ow; xx++) {
                int xmin = bh[xx * 2], xmax = bh[xx * 2 + 1];
                const int32_t *k = &kh[(size_t)xx * ksh];
                for (int c = 0; c < 3; c++) {
                    int32_t ss0 = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < xmax; x++) ss0 += row[(x + xmin) * 3 + c] * k[x];
                    tmp[((size_t)yy * ow + xx) * 3 + c] = clip8(ss0);
                }
            }
        }
        src = tmp;
        sw = ow;
        y0 = yfirst;          /* the vertical bounds shift by the first row used */
    }
    if (need_v) {
        for (int yy = 0; yy < oh; yy++) {
            int ymin = bv[yy * 2] - y0, ymax = bv[yy * 2 + 1];
            const int32_t *k = &kv[(size_t)yy * ksv];
            for (int xx = 0; xx < sw; xx++)
                for (int c = 0; c < 3; c++) {
                    int32_t ss0 = 1 << (PRECISION_BITS - 1);
                    for (int y = 0; y < ymax; y++) ss0 += src[((size_t)(y + ymin) * sw + xx) * 3 + c] * k[y];
                    out[((size_t)yy * sw + xx) * 3 + c] = clip8(ss0);
                }
        }
    } else {
        memcpy(out, src, (size_t)sw * sh * 3);
    }
    (void)sh;
    free(tmp); free(bh); free(bv); free(kh); free(kv);
}

void tv_resize_dims(int w, int h, int size, int *ow, int *oh)
{
    if ((w <= h && w == size) || (h <= w && h == size)) { *ow = w; *oh = h; return; }
    if (w < h) { *ow = size; *oh = (int)((double)size * h / w); }
    else { *oh = size; *ow = (int)((double)size * w / h); }
}
