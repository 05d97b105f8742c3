/* emu.h: what the parts of the CUDA emulation share (test/emu/runtime.cc: device memory and the
 * runtime calls; launch.cc: kernels on fibres; cublas.cc: the gemms). Not for the kernels.
 *
 * Device memory is one arena of address space, reserved at the first allocation and bump-
 * allocated (an address is never handed out twice, so a stale pointer never aliases a newer
 * buffer). Each allocation has pages of its own: 256-byte aligned data preceded and followed by
 * at least GUARD bytes of GUARD_BYTE (read as a float or double: a huge negative number, so
 * reading past a buffer spoils results; and not NaN, which NaN arithmetic writes back bit for
 * bit); the data starts as 0xff (NaN as float and double), as junk would on a GPU. All of the arena is PROT_NONE except the allocations a device operation (a
 * kernel, a copy, a memset, a gemm) was handed, and only while it runs (open ... close_all). So
 * host code that reads or writes device memory faults, and so does a kernel that reaches
 * outside the buffers it was given; the SIGSEGV handler names the allocation and the culprit.
 * The arena is backed by a memory file so that another process can map an allocation (CUDA IPC).
 */
#ifndef CUDA_EMU_EMU_H
#define CUDA_EMU_EMU_H
#include <stddef.h>

#include "cuda_runtime.h"

/* lib/core/common.h (C11): one line "tool: message" on stderr, exit 1 */
extern "C" void die_runtime(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

namespace cuda_emu {

const size_t GUARD = 256;
const unsigned char GUARD_BYTE = 0xfe, JUNK_BYTE = 0xff;

struct alloc {
    char *lo, *p, *hi;          /* [lo, p) and [p + bytes, hi) are guard bytes */
    size_t bytes;
    int foreign;                /* another process's cudaMalloc, mapped by cudaIpcOpenMemHandle */
};

/* the live allocation holding [p, p + bytes) (bytes 0: holding p), or NULL */
const alloc *find(const void *p, size_t bytes);
/* a line naming what p is: "N bytes into a cudaMalloc of M bytes", "in a freed ...", "host memory" */
const char *describe(const void *p, char *buf, size_t n);
int in_arena(const void *p);
int devices(void);                              /* 1, or CUDA_EMU_DEVICES */

/* the device operation `what` (kernel, copy, memset, gemm) starts: until close_all, it may
 * touch the allocations passed to open */
void begin(const char *what);
void open(const alloc *a);
void close_all(void);
/* dies naming `what` when a guard byte of a changed (a must be open) */
void check_guards(const alloc *a, const char *what);

/* the fibre stacks' guard pages, for the SIGSEGV handler */
int in_fibre_guard(const void *p);

/* Sharing between processes (test/emu/ipc.cc). The arena is a memory file (memfd) mapped shared,
 * and an allocation's pages [lo, hi) sit at its offset in that file, so another process opens the
 * file through /proc/<pid>/fd/<arena_fd> and maps those pages into its own arena. (A fork shares
 * the arena: as with CUDA, a forked child must not use the device its parent initialised.) */
int arena_fd(void);                             /* initialises the arena */
size_t arena_offset(const void *p);
/* maps [offset, offset + span) of fd (another process's arena file) into this arena as a foreign
 * allocation of `bytes` bytes after GUARD bytes; NULL with errno on failure */
const alloc *map_foreign(int fd, size_t offset, size_t span, size_t bytes);
int unmap_foreign(const void *p);               /* p from map_foreign; -1 if it is not one */

extern cudaError_t last_error;

}  // namespace cuda_emu
#endif
