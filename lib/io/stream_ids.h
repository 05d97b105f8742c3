/* stream_ids.h: reading token-id streams (int32 (B,L) arrays back to back, as bin/tokenize
 * writes them; int64 accepted too) with stream.h's manners: a wrong dtype or shape, a value that
 * does not fit int32 or a truncated array is a usage error (exit 2) naming the stream, what was
 * expected, what was found and the array's index.
 *
 * A candidate for lib/io/stream.c (as ts_read_ids next to ts_read_f32); kept apart for now. */
#ifndef DFGAN_STREAM_IDS_H
#define DFGAN_STREAM_IDS_H

#include "io/stream.h"

/* Read the next array of token ids: int32 or int64 of 2 dims (B,L); width >= 0 must equal L
 * (-1: any). Returns 1 with out->data int32 (int64 input converted; a value outside int32 is an
 * error naming its row), out->dtype NPY_I4; 0 at a clean end of stream. Messages:
 * "stdin: expected int32 token ids (B,L), found float32 (7,18) in array 0". */
int ts_read_ids(tstream *s, int64_t width, npy_array *out);

#endif
