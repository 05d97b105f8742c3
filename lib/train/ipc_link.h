/* ipc_link.h: device buffers carried between the CUDA tools of the training loop (--ipc of gen-step
 * train, disc-step train, clip-embed loss) instead of their bytes: a writer fills a buffer of its
 * own on the GPU and writes a CUDA IPC record of it (io/ipc_record.h) to the stream; a reader on the
 * same GPU maps the buffer and reads it there. The .npy arrays stay the format of files and of
 * every other reader; a reader here takes either, whichever arrives.
 *
 * Why a writer may recycle its buffers. A writer has IPC_SLOTS buffers and fills them in turn, so
 * it overwrites batch t's buffer while filling batch t + IPC_SLOTS. In the training loop each
 * batch's answer comes back before the next batch is written: gen-step reads the gradients for
 * fakes t (from disc-step and clip-embed) before it makes fakes t + 1, and disc-step and clip-embed
 * write their gradient for t only after they have read fakes t; disc-step writes gradient t + 1
 * only after reading fakes t + 1, which gen-step writes after it has used gradient t. On the GPU
 * the same order holds through the events: a reader's stream waits on the writer's event for the
 * batch before it reads it, and the answer it writes is recorded after that read, so a writer that
 * waits on the answer's event (as it does before it uses the answer) is ordered after the reader's
 * last read of the buffer. The writers never free a buffer a reader may still read: gen-step ends
 * after the last answers came (and were used), the readers after the fakes' stream ended, which
 * gen-step closes after it has used their last gradient. A writer used otherwise (a record kept
 * in a file, a reader slower than the loop) breaks this; so --ipc is for the training loop, and a
 * record in a regular file is refused at the writer (the memory dies with its process anyway).
 *
 * One process only: --ipc over data-parallel ranks is refused (not built). */
#ifndef DFGAN_IPC_LINK_H
#define DFGAN_IPC_LINK_H
#include "core/atomic_file.h"
#include "core/tensor.h"
#include "io/npy.h"
#include "train/shard.h"

#define IPC_SLOTS 2

/* --ipc's checks, when the options are read: the device (cuda), and each output stream: a pipe or
 * FIFO ("-": stdout must be one), not a regular file (die_usage) */
void ipc_check_device(device_t dev);
void ipc_check_output(const char *flag, const char *path);
/* at run time: one process (no ranks) */
void ipc_check_ranks(void);

/* a writer's buffer: cap floats on the GPU, its event, and their IPC handles */
typedef struct { float *buf; size_t cap; void *event; unsigned char mem[64], ev[64]; } ipc_slot;
typedef struct {
    const char *flag, *path;          /* "--fake-out", for messages; the stream */
    atomic_file *af;                  /* opened at the first record, unless the caller set it */
    int next;                         /* the slot of the next batch */
    ipc_slot slot[IPC_SLOTS];
    char bus[16];
} ipc_out;

void ipc_out_init(ipc_out *w, const char *flag, const char *path);
/* the device buffer for the next batch, count floats (grown when needed) */
float *ipc_out_buffer(ipc_out *w, size_t count);
/* after the work that fills that buffer is enqueued: records its event, writes the record of a
 * float32 array of shape (ndim dims) to the stream and flushes it */
void ipc_out_publish(ipc_out *w, int ndim, const int64_t *shape);
void ipc_out_close(ipc_out *w);       /* commits the stream, frees the buffers */

/* A stream of a shard group that takes records (io/stream.h's ipc): member i of g. */
void ipc_take_records(shard_group *g, int i);

/* a reader's staging buffer for the plain arrays among records */
typedef struct { float *stage; size_t cap; } ipc_in;
/* The device address of a's float32 data (a from a stream that takes records): a record's buffer,
 * mapped once per writer and slot (kept mapped until the process ends), after which the stream
 * waits on the writer's event; or a plain array, uploaded into r's staging buffer. A record from
 * another machine, another GPU or a writer that is gone dies (usage) in one line naming flag and
 * the array's index; a record that will not map dies (runtime) with CUDA's error. */
const float *ipc_in_device(ipc_in *r, const npy_array *a, const char *flag, long index);
/* the same for member i of g's last batch (named as g names it) */
const float *ipc_in_shard(ipc_in *r, const shard_group *g, int i, const npy_array *a);
void ipc_in_free(ipc_in *r);
#endif
