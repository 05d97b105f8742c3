/* stream.h: reading typed tensor streams (.npy arrays back to back) for the tools, with the
 * checks and messages of DESIGN.md: each array is checked for dtype and shape, and a mismatch
 * or a truncated array is a usage error (exit 2) naming the flag, what was expected, what was
 * found and the index of the array (0-based, as npy-info numbers them). A NaN or Inf in an array
 * exits 3 (core/finite.h): "--real: expected finite values, found NaN at (2,0,5,7) in batch 3",
 * unless the tool allows them (allow_nonfinite, for --allow-nonfinite). */
#ifndef DFGAN_STREAM_H
#define DFGAN_STREAM_H

#include "io/npy.h"

/* name = the flag, e.g. "--noise", for messages; index = arrays read so far; allow_nonfinite: 1 lets
 * NaN and Inf through (ts_open sets 0); ipc = takes CUDA IPC records (io/ipc_record.h) in place of
 * float32 arrays (0 from ts_open: a record is refused) */
typedef struct { FILE *f; char *name; long index; int allow_nonfinite; int ipc; } tstream;

/* "-" = stdin; a missing file -> die_usage("--noise: expected a readable file, found 'x.npy': No such file or directory"). */
void ts_open(tstream *s, const char *flag, const char *path);
/* Read the next array; expect dtype float32 and ndim dims; want[i] >= 0 must match, -1 is free
 * (want may be NULL: any shape of ndim dims). Returns 1 and fills out (malloc'd float data,
 * shape) or 0 at a clean end of stream. On a mismatch dies with die_usage: "--noise: expected
 * float32 (B,100), found float64 (16,100) in array 2"; on a truncated array: "--noise: expected
 * float32 (B,100), found a truncated array (n of m bytes) in array 3"; on a NaN or Inf (unless
 * s->allow_nonfinite) with die_nonfinite, as above. shape_desc is the human
 * form of the expected shape, like "(B,100)"; NULL makes one from want ("?" for free dims).
 * A CUDA IPC record in place of the array (io/ipc_record.h) is refused in one line, or with s->ipc
 * returned as one (ts_read_record; its values are on the GPU and not checked here). */
int ts_read_f32(tstream *s, int ndim, const int64_t *want, const char *shape_desc, npy_array *out);
void ts_close(tstream *s);

/* Several streams read in lock step: per batch one float32 array from each, all of the same batch
 * size B (dimension 0), which the first stream sets (or the caller). A group ends cleanly when every
 * stream ends at the same batch. */
typedef struct {
    const char *flag;       /* the stream's name in messages: "--noise", "--grad g.npy" */
    const char *path;       /* "-" = stdin */
    int ndim;               /* 1..4 */
    int64_t shape[4];       /* shape[0] is the batch (ignored here); -1: any size */
} ts_member;

typedef struct {
    int n;
    tstream *s;
    ts_member *m;
    long batches;           /* batches read so far */
} tsgroup;

/* Open m[0..n-1] (ts_open's checks and messages). */
/* A member's shape for messages: "(16,3,32,32)", or "(B,3,32,32)" while B < 0; other free dims "?" */
void ts_member_desc(char *buf, size_t n, const ts_member *m, int64_t B);
/* Dies (usage): "expected --real, --cond and --fake to hold the same number of batches, found --cond
 * ending at batch K" for m[0..n-1], m[ended] the first to end, K (1-based) the batch it lacks. */
_Noreturn void ts_die_uneven(const ts_member *m, int n, int ended, long batch);
void tsg_open(tsgroup *g, int n, const ts_member *m);
/* The next batch: out[i] the next array of stream i, of shape (B, m[i].shape[1..]), where B is the
 * first stream's batch, or the given one when B > 0. Shapes, dtypes and values are checked as ts_read_f32's
 * ("--cond: expected float32 (3,8), found float32 (2,8) in array 0"; "(B,8)" before B is known).
 * Returns 1, or 0 when every stream has ended; when only some have, dies (usage) naming the first:
 * "expected --real, --cond and --fake to hold the same number of batches, found --cond ending at batch 2". */
int tsg_read(tsgroup *g, int64_t B, npy_array *out);
/* Dies (usage) unless every stream is at its end: "--grad g.npy: expected 2 batches, found more". */
void tsg_expect_end(tsgroup *g);
void tsg_close(tsgroup *g);

#endif
