/* inception_ops.h: the float32 CPU ops that Inception-v3's forward pass needs beyond
 * ops_cpu_decl.h: convolutions with rectangular kernels (1x3, 3x1, 1x7, 7x1), separate strides
 * and paddings per axis, with a per-channel bias and ReLU fused; 3x3 max and average pooling;
 * global average pooling; bilinear resizing as torch.nn.functional.interpolate. Forward only.
 *
 * Layout as the rest of lib/: activations channel-major, (C,B,H,W), so that a convolution over
 * the whole batch is one matrix product and concatenation along channels is writing each
 * branch into its own slice of the output (out + c0·B·H·W). */
#ifndef DFGAN_INCEPTION_OPS_H
#define DFGAN_INCEPTION_OPS_H

#include <stddef.h>

/* out (OC,B,Ho,Wo) = relu(conv(in (C,B,H,W), w (OC,C,KH,KW)) + b (OC)), zero padding;
 * Ho = (H + 2·ph − KH)/sh + 1, Wo = (W + 2·pw − KW)/sw + 1. relu 0 leaves out linear.
 * 1x1 stride-1 convolutions are one gemm on the input; others go through im2col in chunks of
 * whole output rows that keep the column buffer near 4 MiB (in cache) but at least 4·OC wide. Threads: OpenMP in im2col and
 * in the epilogue, OpenBLAS in the gemm. */
void iconv_forward(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W,
                   int OC, int KH, int KW, int sh, int sw, int ph, int pw, int relu);

/* over `planes` independent H×W planes: */
/* out (planes,Ho,Wo): max over 3x3 windows, stride s, padding p (padding never wins: -inf),
 * Ho = (H + 2p − 3)/s + 1 (floor, as nn.MaxPool2d without ceil_mode) */
void imaxpool3_forward(float *out, const float *in, size_t planes, int H, int W, int s, int p);
/* out (C,B,H,W) = relu?(avgpool3(in) + bias[c]): 3x3 average, stride 1, padding 1 (count_include_pad
 * 1 divides by 9, F.avg_pool2d's default and torchvision's blocks; 0 by the number of in-image taps,
 * pytorch-fid's FID blocks), a per-channel bias (NULL: none) added after the average, then ReLU when
 * relu; in may not alias out */
void iavgpool3_bias_relu(float *out, const float *in, int C, int B, int H, int W, int count_include_pad,
                         const float *bias, int relu);
/* out (rows,N) = relu(in (rows,N) + b (rows)); out may be in */
void ibias_relu(float *out, const float *in, const float *b, int rows, size_t N);
/* out (planes): mean of each plane (adaptive average pooling to 1x1) */
void imeanpool_forward(float *out, const float *in, size_t planes, int HW);
/* out (planes,Ho,Wo): bilinear resize as F.interpolate(mode='bilinear', size=(Ho,Wo),
 * align_corners=ac) in PyTorch 1.13 (no antialiasing). in (planes,H,W) with row stride W. */
void iresize_bilinear(float *out, const float *in, size_t planes, int H, int W, int Ho, int Wo, int ac);

#endif
