/* pil_resize.h: Pillow's Image.resize(size, Image.BILINEAR) on 8-bit RGB, bit for bit.
 *
 * This is ImagingResample from Pillow's src/libImaging/Resample.c (Pillow >= 4.0, the version
 * torchvision's transforms.Resize calls on PIL images, with reducing_gap None): separable
 * convolution with the triangle filter 1-|x| whose support is scaled by the reduction ratio
 * when downsampling (an antialiasing filter, not 4-tap interpolation); coefficients normalised
 * per output pixel and rounded to 22-bit fixed point; the horizontal pass first, rounded and
 * clipped to uint8, then the vertical pass over the rows the horizontal pass made. An axis
 * whose size does not change is copied unchanged, as Pillow skips that pass. */
#ifndef DFGAN_PIL_RESIZE_H
#define DFGAN_PIL_RESIZE_H

#include <stdint.h>

/* out (oh, ow, 3) from in (ih, iw, 3), both row-major interleaved RGB; all sizes >= 1. */
void pil_resize_bilinear_rgb8(uint8_t *out, int ow, int oh, const uint8_t *in, int iw, int ih);

/* torchvision's transforms.Resize(size) for an int size: the smaller edge becomes size, the
 * other int(size * long / short) (Python float arithmetic); sizes unchanged when the smaller
 * edge already equals size. */
void tv_resize_dims(int w, int h, int size, int *ow, int *oh);

#endif
