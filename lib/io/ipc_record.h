/* ipc_record.h: a CUDA IPC record, the stream element a CUDA tool run with --ipc writes instead of
 * an array's bytes: it names a device buffer of the writer's that holds the array, so that a CUDA
 * reader on the same GPU maps the buffer (lib/train/ipc_link.h) instead of reading the bytes
 * through the pipe and copying them up to the GPU again. Host side only (no CUDA here).
 *
 * A record is a regular .npy array, uint8 (256,), so every stream reader, file and copy stage
 * (run-epoch's :::copy) carries it unchanged; its bytes, little-endian:
 *
 *   offset size
 *      0    8  magic "DFGANIPC"
 *      8    4  version, 1
 *     12    4  the writer's buffer slot (0, 1, ...: which of its buffers; the reader caches by it)
 *     16   64  cudaIpcMemHandle_t of the buffer (cudaIpcGetMemHandle)
 *     80   64  cudaIpcEventHandle_t of an event (cudaEventInterprocess | cudaEventDisableTiming)
 *              the writer recorded after the work that filled the buffer: the reader's stream
 *              waits on it (cudaStreamWaitEvent) before it reads
 *    144    4  the array's dtype, numpy's descr NUL-padded: "<f4"
 *    148    4  ndim, 1..4
 *    152   32  shape, 4 int64 (unused ones 0); the array is C-ordered from the buffer's start
 *    184    8  the writer's pid
 *    192   16  the PCI bus id of the writer's GPU, NUL-padded ("0000:01:00.0")
 *    208   40  the writer's machine: its boot id (/proc/sys/kernel/random/boot_id), NUL-padded
 *    248    8  the buffer's size in bytes (at least the array's)
 *
 * A reader takes a record only from a live writer (pid) on its own machine (boot id) and GPU (bus
 * id), and says which of these failed; a stream reader that takes no records (io/stream.h, a CPU
 * tool, a CUDA tool without --ipc) refuses one in one line, ipc_record_refusal's. */
#ifndef DFGAN_IPC_RECORD_H
#define DFGAN_IPC_RECORD_H
#include "io/stream.h"

#include <stdint.h>
#include <stdio.h>

#define IPC_RECORD_BYTES 256
#define IPC_RECORD_VERSION 1

typedef struct {
    uint32_t slot;
    unsigned char mem[64], event[64];   /* the IPC handles, as CUDA made them */
    int ndim;
    int64_t shape[4];
    int64_t pid;
    char bus[16];                       /* NUL-terminated */
    char machine[40];                   /* NUL-terminated */
    uint64_t bytes;
} ipc_record;

/* the text a reader that takes no records dies with, after "expected float32 (B,3,32,32), " */
#define IPC_RECORD_REFUSAL \
    "found a CUDA IPC record (its writer ran with --ipc; only a CUDA tool with --ipc on the same GPU reads it)"

void ipc_record_encode(const ipc_record *r, unsigned char out[IPC_RECORD_BYTES]);
/* 1: a record of this version, in r; 0: no record (no magic); -1: a record this build cannot read
 * (another version, or fields out of range), said in err */
int ipc_record_decode(const unsigned char *b, size_t n, ipc_record *r, char *err, size_t errlen);
/* as an .npy array uint8 (256,), flushed; 0 ok, -1 a write error (errno) */
int ipc_record_write(FILE *f, const ipc_record *r);
/* whether an array (or an array's header) has a record's dtype and shape, uint8 (256,) */
int ipc_record_shaped(npy_dtype dt, int ndim, const int64_t *shape);
/* an array read whole (npy-info): a record's shape and magic */
int ipc_record_array(const npy_array *a);
/* this machine's identity, as records carry it: the boot id, else the host name */
const char *ipc_machine_id(void);

/* io/stream.c, where an array is not the float32 one expected but has a record's shape: reads its
 * bytes; returns 0 when it is no record (the caller says what it found). A record on a stream that
 * takes none (s->ipc 0) dies with IPC_RECORD_REFUSAL; on one that takes them, its array must be the
 * one expected (ndim, want; exp is its description for messages), and out becomes the record:
 * dtype NPY_U1 (ipc_is_record), ndim, shape and count the array's, data the record's 256 bytes
 * (malloc'd: npy_free). Returns 1 then. */
int ts_read_record(tstream *s, const npy_header *h, int ndim, const int64_t *want, const char *exp, npy_array *out);
/* whether an array a stream that takes records gave is one (its float32 arrays are not) */
static inline int ipc_is_record(const npy_array *a) { return a->dtype == NPY_U1; }
#endif
