/* stream.h: reading typed tensor streams (.npy arrays back to back) for the tools, with the
 * checks and messages of DESIGN.md: each array is checked for dtype and shape, and a mismatch
 * or a truncated array is a usage error (exit 2) naming the flag, what was expected, what was
 * found and the index of the array (0-based, as npy-info numbers them). */
#ifndef DFGAN_STREAM_H
#define DFGAN_STREAM_H

#include "io/npy.h"

typedef struct { FILE *f; char *name; long index; } tstream;  /* name = the flag, e.g. "--noise", for messages; index = arrays read so far */

/* "-" = stdin; a missing file -> die_usage("--noise: expected a readable file, found 'x.npy': No such file or directory"). */
void ts_open(tstream *s, const char *flag, const char *path);
/* Read the next array; expect dtype float32 and ndim dims; want[i] >= 0 must match, -1 is free
 * (want may be NULL: any shape of ndim dims). Returns 1 and fills out (malloc'd float data,
 * shape) or 0 at a clean end of stream. On a mismatch dies with die_usage: "--noise: expected
 * float32 (B,100), found float64 (16,100) in array 2"; on a truncated array: "--noise: expected
 * float32 (B,100), found a truncated array (n of m bytes) in array 3". shape_desc is the human
 * form of the expected shape, like "(B,100)"; NULL makes one from want ("?" for free dims). */
int ts_read_f32(tstream *s, int ndim, const int64_t *want, const char *shape_desc, npy_array *out);
void ts_close(tstream *s);

#endif
