/* image_cache.h: the uint8 image caches that import-cub writes and batches reads.
 *
 * Square (import-cub's default): --images uint8 (N,3,R,R), every image resized as DF-GAN then
 * centre-cropped to R×R.
 *
 * Exact (import-cub --shapes): every image at its own size, as DF-GAN's transforms.Resize(R)
 * leaves it (the smaller edge R, the other int(R*long/short)), so that a random crop can reach all
 * of it as RandomCrop does. Two memory-mappable .npy files:
 *   pixels  uint8 (T,): image i is the (3,H_i,W_i) CHW RGB block at bytes [off_i, off_i+3·H_i·W_i)
 *   shapes  int64 (N,3): row i = (off_i, H_i, W_i)
 * import-cub writes the blocks back to back in name order (off_0 = 0, off_i+1 = off_i + 3·H_i·W_i,
 * T = the last block's end); readers accept any offsets whose blocks lie inside the pixels, as
 * long as the block that ends last ends at T (which catches shapes paired with another cache). */
#ifndef DFGAN_IMAGE_CACHE_H
#define DFGAN_IMAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Largest side accepted in a shapes row (guards the 3·H·W products against overflow). */
#define IMAGE_CACHE_MAX_SIDE ((int64_t)1 << 20)

/* Check n shapes rows against a pixels array of total bytes: offsets and blocks inside it, the
 * furthest block ending at total, both sides within [min_side, IMAGE_CACHE_MAX_SIDE]. 0 ok; -1 with a one-line "expected ..., found
 * ..." message (naming the first bad row) in err. */
int image_cache_check(const int64_t *shapes, int64_t n, int64_t total, int64_t min_side, char *err, size_t errlen);

/* torchvision's CenterCrop offset for a side longer than the crop by excess >= 0:
 * int(round(excess / 2.0)), Python's round (halves to even). */
int tv_center_offset(int excess);

#endif
