/* conv_fast.h: the float build's fast convolution paths (lib/cpu/conv_winograd.c, conv_direct.c)
 * as lib/cpu/conv2d.c calls them, for AVX-512. Not ops: no double or CUDA twins (conv2d.c's
 * conv2d_* are the ops). Each returns 0 when it does not handle the shape; the backward ones
 * return 1 | 2 for din | dw done (the caller does what is left). */
#ifndef DFGAN_CONV_FAST_H
#define DFGAN_CONV_FAST_H

/* What is done to each output as it is written (after the bias): nothing (act 0), or with act 1
 * a leaky ReLU with this slope, of the value itself (mask NULL) or, with mask (the output's
 * shape), as the tangent at mask: value·(mask > 0 ? 1 : slope). NULL: nothing. For the backward
 * calls it applies to din. */
typedef struct { const float *mask; float slope; int act; } ConvEpi;

int conv2d_winograd_forward_cpu(float *out, const float *in, const float *w, const float *b,
                                int B, int C, int H, int W, int OC, int K, int stride, int pad,
                                const ConvEpi *ep);
int conv2d_winograd_backward_cpu(float *din, float *dw, const float *dout, const float *in,
                                 const float *w, int B, int C, int H, int W, int OC, int K,
                                 int stride, int pad, const ConvEpi *ep);
int conv2d_direct_forward_cpu(float *out, const float *in, const float *w, const float *b,
                              int B, int C, int H, int W, int OC, int K, int stride, int pad,
                              const ConvEpi *ep);
int conv2d_direct_backward_cpu(float *din, float *dw, const float *dout, const float *in,
                               const float *w, int B, int C, int H, int W, int OC, int K,
                               int stride, int pad, const ConvEpi *ep);

#ifdef __AVX512F__
#include <immintrin.h>
/* v with the epilogue applied, for the lanes lm of a store at dst; mp: the mask at the same
 * place (NULL without a mask) */
static inline __m512 conv_epi_v(__m512 v, const ConvEpi *ep, const float *mp, __mmask16 lm)
{
    if (!ep || !ep->act) return v;
    const __m512 ref = mp ? _mm512_maskz_loadu_ps(lm, mp) : v;
    return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(ref, _mm512_setzero_ps(), _CMP_LE_OQ), v,
                              _mm512_set1_ps(ep->slope));
}
#endif

/* the same for one value; m: the mask's value at its place (ignored without a mask) */
static inline float conv_epi_s(float v, const ConvEpi *ep, float m)
{
    if (!ep || !ep->act) return v;
    return (ep->mask ? m : v) > 0 ? v : ep->slope * v;
}

/* the whole of y (n floats) at once, inside a parallel region (for the paths that cannot do it
 * as they write; ends in a barrier) */
static inline void conv_epi_all(float *y, size_t n, const ConvEpi *ep)
{
    if (!ep || !ep->act) return;
#pragma omp barrier
#pragma omp for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = conv_epi_s(y[i], ep, ep->mask ? ep->mask[i] : 0);
}
#endif
