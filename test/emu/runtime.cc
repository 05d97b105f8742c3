/* runtime.cc: the CUDA runtime calls of the emulation (test/emu/include/cuda_runtime.h): errors,
 * the one emulated device, and device memory (the arena of emu.h) with its copies and memsets;
 * the mapping of another process's allocations that test/emu/ipc.cc's IPC calls use.
 * Every call is synchronous; each checks what a GPU would reject (a copy or memset reaching past
 * its allocation, a copy direction that does not match the pointers, freeing a pointer that
 * cudaMalloc did not return) and returns the error CUDA returns for it. */
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <vector>

namespace cuda_emu {

cudaError_t last_error = cudaSuccess;

namespace {

const size_t ARENA = (size_t)1 << 38;          /* address space reserved for device memory */
char *arena;
int arena_file = -1;                            /* the memfd behind the arena (emu.h) */
size_t used;                                    /* bytes of the arena handed out (whole pages) */
size_t page;
std::map<uintptr_t, alloc> live, freed;         /* by the address of the head guard (lo) */
const char *op;                                 /* the device operation in progress, or NULL */
std::vector<const alloc *> opened;              /* the allocations it may touch */

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* the arena's next span bytes as an allocation of `bytes` after GUARD bytes (not handed out yet) */
alloc carve(size_t bytes, size_t span, int foreign) {
    alloc a;
    a.lo = arena + used;
    a.p = a.lo + GUARD;
    a.bytes = bytes;
    a.hi = a.lo + span;
    a.foreign = foreign;
    return a;
}

const alloc *lookup(const std::map<uintptr_t, alloc> &m, const void *q) {
    auto it = m.upper_bound((uintptr_t)q);
    if (it == m.begin()) return nullptr;
    --it;
    const alloc &a = it->second;
    return (const char *)q >= a.lo && (const char *)q < a.hi ? &a : nullptr;
}

void on_segv(int sig, siginfo_t *si, void *) {
    const void *addr = si->si_addr;
    char buf[160];
    if (in_fibre_guard(addr))
        die_runtime("expected %s to fit its threads' stacks (64 KiB each), found one overflowing (CUDA emulation)",
                    op ? op : "a kernel");
    if (in_arena(addr)) {
        if (op)
            die_runtime("expected %s to touch only the device memory it was given, found it touching %s "
                        "(CUDA emulation)", op, describe(addr, buf, sizeof buf));
        die_runtime("expected host code to reach device memory only through copies, found it touching %s "
                    "(CUDA emulation)", describe(addr, buf, sizeof buf));
    }
    if (op) die_runtime("expected %s to touch only device memory, found it touching %s (CUDA emulation)", op,
                        describe(addr, buf, sizeof buf));
    signal(sig, SIG_DFL);                        /* not ours: fault again, as without the handler */
}

void init(void) {
    if (arena) return;
    page = (size_t)sysconf(_SC_PAGESIZE);
    arena_file = memfd_create("cuda_emu_arena", MFD_CLOEXEC);
    if (arena_file < 0 || ftruncate(arena_file, (off_t)ARENA) != 0)
        die_runtime("expected a memory file of %zu GiB for emulated device memory, found memfd_create or "
                    "ftruncate failing (%s)", ARENA >> 30, strerror(errno));
    void *a = mmap(nullptr, ARENA, PROT_NONE, MAP_SHARED | MAP_NORESERVE, arena_file, 0);
    if (a == MAP_FAILED)
        die_runtime("expected %zu GiB of address space for emulated device memory, found mmap failing (%s)",
                    ARENA >> 30, strerror(errno));
    arena = (char *)a;
    static char altstack[64 << 10];              /* the handler must run even on a full fibre stack */
    stack_t ss = {};
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    sigaltstack(&ss, nullptr);
    struct sigaction sa = {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, nullptr);
}

/* the memory of [p, p + bytes) as a copy or memset sees it: 1 device, 0 host, -1 invalid */
int side(const void *p, size_t bytes) {
    if (find(p, bytes)) return 1;
    if (in_arena(p) || (bytes && in_arena((const char *)p + bytes - 1))) return -1;
    return 0;
}

}  // namespace

int in_arena(const void *p) { return arena && (const char *)p >= arena && (const char *)p < arena + ARENA; }

const alloc *find(const void *p, size_t bytes) {
    const alloc *a = lookup(live, p);
    if (!a || (const char *)p < a->p || (size_t)((const char *)p - a->p) + (bytes ? bytes : 1) > a->bytes) return nullptr;
    return a;
}

const char *describe(const void *q, char *buf, size_t n) {
    const char *c = (const char *)q;
    const alloc *a;
    if ((a = lookup(live, q)) || (a = lookup(freed, q))) {
        const char *state = !lookup(live, q) ? "freed " : a->foreign ? "mapped (IPC) " : "";
        if (c >= a->p && c < a->p + a->bytes)
            snprintf(buf, n, "%p, byte %zu of a %scudaMalloc of %zu bytes", q, (size_t)(c - a->p), state, a->bytes);
        else if (c < a->p)
            snprintf(buf, n, "%p, %zu bytes before a %scudaMalloc of %zu bytes", q, (size_t)(a->p - c), state, a->bytes);
        else
            snprintf(buf, n, "%p, %zu bytes past the end of a %scudaMalloc of %zu bytes", q,
                     (size_t)(c - a->p - a->bytes), state, a->bytes);
    } else if (in_arena(q)) {
        snprintf(buf, n, "%p, device memory outside any cudaMalloc", q);
    } else {
        snprintf(buf, n, "%p, host memory", q);
    }
    return buf;
}

int devices(void) {
    const char *e = getenv("CUDA_EMU_DEVICES");
    return e && *e ? atoi(e) : 1;
}

void begin(const char *what) {
    if (op) die_runtime("expected one device operation at a time, found %s while %s runs (CUDA emulation)", what, op);
    op = what;
}

void open(const alloc *a) {
    for (const alloc *o : opened)
        if (o == a) return;
    if (mprotect(a->lo, a->hi - a->lo, PROT_READ | PROT_WRITE) != 0)
        die_runtime("expected to open emulated device memory, found mprotect failing (%s)", strerror(errno));
    opened.push_back(a);
}

void close_all(void) {
    for (const alloc *a : opened)
        if (mprotect(a->lo, a->hi - a->lo, PROT_NONE) != 0)
            die_runtime("expected to close emulated device memory, found mprotect failing (%s)", strerror(errno));
    opened.clear();
    op = nullptr;
}

void check_guards(const alloc *a, const char *what) {
    for (const char *s = a->lo; s < a->hi; s++) {
        if (s == a->p) s += a->bytes;
        if (s < a->hi && (unsigned char)*s != GUARD_BYTE) {
            long off = s < a->p ? -(long)(a->p - s) : (long)(s - a->p - a->bytes);
            die_runtime("expected %s to write inside its buffers, found byte %s%ld %s a cudaMalloc of %zu bytes "
                        "changed (CUDA emulation)", what, off < 0 ? "" : "+", off < 0 ? -off : off,
                        off < 0 ? "before" : "past the end of", a->bytes);
        }
    }
}

int arena_fd(void) {
    init();
    return arena_file;
}

size_t arena_offset(const void *p) { return (size_t)((const char *)p - arena); }

const alloc *map_foreign(int fd, size_t offset, size_t span, size_t bytes) {
    init();
    if (span % page || offset % page || bytes + 2 * GUARD > span || span > ARENA - used) {
        errno = EINVAL;
        return nullptr;
    }
    alloc a = carve(bytes, span, 1);
    if (mmap(a.lo, span, PROT_NONE, MAP_SHARED | MAP_FIXED, fd, (off_t)offset) == MAP_FAILED) return nullptr;
    used += span;
    return &(live[(uintptr_t)a.lo] = a);
}

int unmap_foreign(const void *p) {
    auto it = live.find((uintptr_t)p - GUARD);
    if (it == live.end() || it->second.p != p || !it->second.foreign) return -1;
    alloc a = it->second;
    /* the arena's own file again behind these addresses, inaccessible, never handed out again */
    if (mmap(a.lo, a.hi - a.lo, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, arena_file, a.lo - arena) == MAP_FAILED)
        die_runtime("expected to unmap emulated IPC memory, found mmap failing (%s)", strerror(errno));
    live.erase(it);
    freed[(uintptr_t)a.lo] = a;
    return 0;
}

}  // namespace cuda_emu

using namespace cuda_emu;

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorDeviceUninitialized: return "cudaErrorDeviceUninitialized";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorDeviceUninitialized: return "invalid device context";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    }
    return "unknown error";
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return last_error; }

cudaError_t cudaGetDeviceCount(int *count) {
    *count = devices();
    return *count > 0 ? cudaSuccess : (last_error = cudaErrorNoDevice);
}
cudaError_t cudaGetDevice(int *dev) {
    *dev = 0;
    return devices() > 0 ? cudaSuccess : (last_error = cudaErrorNoDevice);
}
/* compute capability 9.0, as the H100 this build targets */
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev) {
    if (dev < 0 || dev >= devices()) return last_error = cudaErrorInvalidValue;
    if (attr == cudaDevAttrComputeCapabilityMajor) *value = 9;
    else if (attr == cudaDevAttrComputeCapabilityMinor) *value = 0;
    else return last_error = cudaErrorInvalidValue;
    return cudaSuccess;
}

/* everything ran when it was called; the guards of every live allocation are checked here */
cudaError_t cudaDeviceSynchronize(void) {
    begin("cudaDeviceSynchronize");
    for (auto &kv : live) open(&kv.second);
    for (auto &kv : live) check_guards(&kv.second, "the work before cudaDeviceSynchronize");
    close_all();
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **ptr, size_t bytes) {
    if (!ptr) return last_error = cudaErrorInvalidValue;
    *ptr = nullptr;
    if (devices() <= 0) return last_error = cudaErrorNoDevice;
    if (bytes == 0) return cudaSuccess;
    init();
    if (bytes > ARENA / 2) return last_error = cudaErrorMemoryAllocation;
    const size_t span = round_up(GUARD + round_up(bytes, 256) + GUARD, page);
    if (span > ARENA - used) return last_error = cudaErrorMemoryAllocation;
    alloc a = carve(bytes, span, 0);
    used += span;
    const alloc *in = &(live[(uintptr_t)a.lo] = a);
    begin("cudaMalloc");
    open(in);
    memset(a.lo, GUARD_BYTE, span);
    memset(a.p, JUNK_BYTE, bytes);
    close_all();
    *ptr = a.p;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    auto it = live.find((uintptr_t)p - GUARD);
    if (it == live.end() || it->second.p != p || it->second.foreign) return last_error = cudaErrorInvalidDevicePointer;
    alloc a = it->second;
    begin("cudaFree");
    open(&it->second);
    check_guards(&a, "the work before cudaFree");
    close_all();
    /* give the pages back (the addresses are never reused) */
    if (fallocate(arena_file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a.lo - arena, a.hi - a.lo) != 0)
        die_runtime("expected to free emulated device memory, found fallocate failing (%s)", strerror(errno));
    live.erase(it);
    freed[(uintptr_t)a.lo] = a;
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    int d = side(dst, bytes), s = side(src, bytes);
    if (d < 0 || s < 0 || !dst || !src) return last_error = cudaErrorInvalidValue;
    if (kind != cudaMemcpyDefault && (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault))
        return last_error = cudaErrorInvalidMemcpyDirection;
    if (kind != cudaMemcpyDefault && (kind >> 1 != s || (kind & 1) != d))   /* HtoH 0, HtoD 1, DtoH 2, DtoD 3 */
        return last_error = cudaErrorInvalidValue;
    const char *a = (const char *)dst, *b = (const char *)src;
    if (a < b + bytes && b < a + bytes) return last_error = cudaErrorInvalidValue;   /* overlapping */
    begin("cudaMemcpy");
    if (d) open(find(dst, bytes));
    if (s) open(find(src, bytes));
    memcpy(dst, src, bytes);
    close_all();
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
    if (s) return last_error = cudaErrorInvalidValue;
    return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (!find(p, bytes)) return last_error = cudaErrorInvalidValue;
    begin("cudaMemset");
    open(find(p, bytes));
    memset(p, value, bytes);
    close_all();
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s) {
    if (s) return last_error = cudaErrorInvalidValue;
    return cudaMemset(p, value, bytes);
}
