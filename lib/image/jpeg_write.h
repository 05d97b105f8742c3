/* jpeg_write.h: 8-bit RGB to a baseline JPEG stream through libjpeg(-turbo). */
#ifndef DFGAN_JPEG_WRITE_H
#define DFGAN_JPEG_WRITE_H

#include <stddef.h>
#include <stdio.h>

/* rgb (h, w, 3) row-major to f; quality 1..100 (4:2:0 chroma subsampling, libjpeg's defaults).
 * 0 ok; -1 with a one-line "expected ..., found ..." message in err (the caller removes the file). */
int jpeg_write_rgb8(FILE *f, const unsigned char *rgb, int w, int h, int quality, char *err, size_t errlen);

#endif
