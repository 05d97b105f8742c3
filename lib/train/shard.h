/* shard.h: a step tool's input streams, read in lock step, under data-parallel ranks (core/dist.h).
 * Every batch of B samples is split over the N ranks, b = B/N each (rank r: rows [r·b, (r+1)·b));
 * a stream is one of
 *   shared    a path without "%r": a regular file holding whole batches (B rows), the same on every
 *             rank (every machine); each rank reads only its own rows and seeks over the others';
 *   per-rank  a path with "%r" (the rank in its place: "fake.%r.fifo"): this rank's b rows only,
 *             from a file, a pipe or a FIFO (what one rank of another tool writes for this one).
 * A batch that N does not divide is refused; a shared stream must be a regular file (N readers
 * cannot share a pipe). All ranks check that they read a batch together (one small all-reduce per
 * batch) and end together.
 * With one rank (no mpirun) a group is exactly an io/stream.h tsgroup ("%r" read as 0). */
#ifndef DFGAN_SHARD_H
#define DFGAN_SHARD_H
#include "io/stream.h"

typedef struct {
    int ranks;               /* dist_size() when opened */
    tsgroup g;               /* one rank: the whole group */
    int n;                   /* more ranks: the members, each its own stream */
    tstream *s;
    ts_member *m;
    int *shared;
    long batches;            /* batches read so far */
    int64_t B;               /* the last batch's size over all ranks (b·N) */
} shard_group;

/* Open m[0..n-1] (paths may hold "%r"); ts_open's checks and messages. */
void shg_open(shard_group *g, int n, const ts_member *m);
/* The next batch: out[i] this rank's rows of stream i, (b, m[i].shape[1..]), b set by the first
 * stream or by the caller when b > 0 (this rank's rows); g->B = b·N. Returns 1, or 0 when every
 * stream has ended on every rank; dies as tsg_read does when only some have, and when ranks disagree. */
int shg_read(shard_group *g, int64_t b, npy_array *out);
/* Dies (usage) unless every stream is at its end (tsg_expect_end's message). */
void shg_expect_end(shard_group *g);
void shg_close(shard_group *g);

/* An output stream's path for this rank: with N > 1 the path must hold "%r" (every rank writes its
 * own rows; dies (usage) naming flag otherwise), which becomes the rank, in buf. */
const char *shard_out_path(const char *flag, const char *path, char *buf, size_t n);
#endif
