/* image_load.h: PNG and JPEG files to 8-bit RGB, as PIL's Image.open(path).convert('RGB') gives
 * them (pytorch-fid's ImagePathDataset): grey is replicated, alpha is dropped (not composited),
 * palettes are expanded, 16-bit samples keep their high byte; no gamma or colour management.
 * JPEG through libjpeg's defaults (islow DCT, fancy upsampling), as PIL decodes them. */
#ifndef DFGAN_IMAGE_LOAD_H
#define DFGAN_IMAGE_LOAD_H

#include <stddef.h>

enum { IMG_UNKNOWN = 0, IMG_PNG = 1, IMG_JPEG = 2, IMG_NPY = 3 };

/* What the first bytes say: PNG signature, JPEG SOI marker, .npy magic, or IMG_UNKNOWN. */
int image_kind(const unsigned char *magic, size_t n);

/* Decode path into *rgb (H·W·3 bytes, row-major, malloc'd). 0 ok; -1 with a one-line
 * "PATH: expected ..., found ..." message. */
int image_load_rgb8(const char *path, unsigned char **rgb, int *H, int *W, char *err, size_t errlen);

/* The size image_load_rgb8 would give, from the file's header alone (no decoding; a file whose
 * data are corrupt past the header is only found out by image_load_rgb8). 0 ok; -1 with a
 * one-line message as above. */
int image_load_size(const char *path, int *H, int *W, char *err, size_t errlen);

#endif
