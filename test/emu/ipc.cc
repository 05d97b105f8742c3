/* ipc.cc: events and CUDA IPC in the emulation (test/emu/include/cuda_runtime.h), so that tools
 * that hand device buffers to each other across processes (lib/train/ipc_link.h) run on the CPU.
 *
 * A memory handle holds {pid, the arena's file descriptor in that process, the allocation's
 * offset, span and size}; cudaIpcOpenMemHandle opens /proc/<pid>/fd/<fd> (the writer's arena
 * file, emu.h) and maps the allocation's pages into this process's arena, where it is device
 * memory like any other (kernels and copies reach it, host code faults on it), shared with the
 * writer page for page. An event handle holds {pid, the event's number}; everything here runs
 * when it is called, so events carry no state beyond what CUDA checks. */
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <utility>

using namespace cuda_emu;

struct cuda_emu_event {
    unsigned flags;
    int64_t pid;        /* the process that made it (this one, or the one an IPC handle named) */
    uint64_t id;
};

namespace {

const char MEM_MAGIC[8] = "emuIPCm", EVENT_MAGIC[8] = "emuIPCe";

struct mem_handle {
    char magic[8];
    int64_t pid;
    int32_t fd, pad;
    uint64_t offset, span, bytes;   /* the allocation's pages [offset, offset + span) of the file */
};
struct event_handle {
    char magic[8];
    int64_t pid;
    uint64_t id;
};
static_assert(sizeof(mem_handle) <= sizeof(cudaIpcMemHandle_t), "an IPC memory handle is 64 bytes");
static_assert(sizeof(event_handle) <= sizeof(cudaIpcEventHandle_t), "an IPC event handle is 64 bytes");

struct opening { const alloc *a; int count; };
std::map<std::pair<int64_t, uint64_t>, opening> opened_handles;   /* by (pid, offset) */
uint64_t next_event = 1;

int gone(int64_t pid) { return kill((pid_t)pid, 0) != 0 && errno == ESRCH; }

}  // namespace

cudaError_t cudaDeviceGetPCIBusId(char *id, int len, int dev) {
    if (!id || len < 13 || dev < 0 || dev >= devices()) return last_error = cudaErrorInvalidValue;
    const char *e = getenv("CUDA_EMU_PCI_BUS_ID");
    if (e && *e) snprintf(id, (size_t)len, "%s", e);
    else snprintf(id, (size_t)len, "0000:%02x:00.0", dev + 1);
    return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    if (!e || flags > 7) return last_error = cudaErrorInvalidValue;
    if ((flags & cudaEventInterprocess) && !(flags & cudaEventDisableTiming)) return last_error = cudaErrorInvalidValue;
    *e = new cuda_emu_event{flags, (int64_t)getpid(), next_event++};
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    if (!e) return last_error = cudaErrorInvalidResourceHandle;
    delete e;
    return cudaSuccess;
}

/* the work before it has run: nothing to record but the checks */
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (s) return last_error = cudaErrorInvalidValue;
    if (!e || e->pid != (int64_t)getpid()) return last_error = cudaErrorInvalidResourceHandle;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : (last_error = cudaErrorInvalidResourceHandle); }

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
    if (s || flags) return last_error = cudaErrorInvalidValue;
    return e ? cudaSuccess : (last_error = cudaErrorInvalidResourceHandle);
}

cudaError_t cudaIpcGetEventHandle(cudaIpcEventHandle_t *h, cudaEvent_t e) {
    if (!h) return last_error = cudaErrorInvalidValue;
    if (!e || e->pid != (int64_t)getpid() || (e->flags & (cudaEventInterprocess | cudaEventDisableTiming)) !=
                                                   (cudaEventInterprocess | cudaEventDisableTiming))
        return last_error = cudaErrorInvalidResourceHandle;
    event_handle eh = {};
    memcpy(eh.magic, EVENT_MAGIC, sizeof eh.magic);
    eh.pid = e->pid;
    eh.id = e->id;
    memset(h, 0, sizeof *h);
    memcpy(h->reserved, &eh, sizeof eh);
    return cudaSuccess;
}

cudaError_t cudaIpcOpenEventHandle(cudaEvent_t *e, cudaIpcEventHandle_t h) {
    if (!e) return last_error = cudaErrorInvalidValue;
    event_handle eh;
    memcpy(&eh, h.reserved, sizeof eh);
    if (memcmp(eh.magic, EVENT_MAGIC, sizeof eh.magic) != 0 || gone(eh.pid))
        return last_error = cudaErrorInvalidResourceHandle;
    if (eh.pid == (int64_t)getpid()) return last_error = cudaErrorDeviceUninitialized;
    *e = new cuda_emu_event{cudaEventInterprocess | cudaEventDisableTiming, eh.pid, eh.id};
    return cudaSuccess;
}

cudaError_t cudaIpcGetMemHandle(cudaIpcMemHandle_t *h, void *p) {
    if (!h) return last_error = cudaErrorInvalidValue;
    const alloc *a = find(p, 0);
    if (!a || a->foreign) return last_error = cudaErrorInvalidValue;
    mem_handle m = {};
    memcpy(m.magic, MEM_MAGIC, sizeof m.magic);
    m.pid = getpid();
    m.fd = arena_fd();
    m.offset = arena_offset(a->lo);
    m.span = (uint64_t)(a->hi - a->lo);
    m.bytes = a->bytes;
    memset(h, 0, sizeof *h);
    memcpy(h->reserved, &m, sizeof m);
    return cudaSuccess;
}

cudaError_t cudaIpcOpenMemHandle(void **p, cudaIpcMemHandle_t h, unsigned flags) {
    if (!p || flags != cudaIpcMemLazyEnablePeerAccess) return last_error = cudaErrorInvalidValue;
    *p = nullptr;
    mem_handle m;
    memcpy(&m, h.reserved, sizeof m);
    if (memcmp(m.magic, MEM_MAGIC, sizeof m.magic) != 0) return last_error = cudaErrorInvalidResourceHandle;
    if (m.pid == (int64_t)getpid()) return last_error = cudaErrorDeviceUninitialized;
    auto key = std::make_pair(m.pid, m.offset);
    auto it = opened_handles.find(key);
    if (it != opened_handles.end()) {
        it->second.count++;
        *p = it->second.a->p;
        return cudaSuccess;
    }
    /* the writer's arena file, which must be one (and hold the pages named) */
    char path[64], target[64] = "";
    snprintf(path, sizeof path, "/proc/%lld/fd/%d", (long long)m.pid, (int)m.fd);
    ssize_t k = readlink(path, target, sizeof target - 1);
    if (k < 0 || strncmp(target, "/memfd:cuda_emu_arena", 21) != 0) return last_error = cudaErrorInvalidResourceHandle;
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return last_error = cudaErrorInvalidResourceHandle;
    struct stat st;
    const alloc *a = nullptr;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= m.offset + m.span) a = map_foreign(fd, m.offset, m.span, m.bytes);
    close(fd);
    if (!a) return last_error = cudaErrorInvalidResourceHandle;
    opened_handles[key] = opening{a, 1};
    *p = a->p;
    return cudaSuccess;
}

cudaError_t cudaIpcCloseMemHandle(void *p) {
    for (auto it = opened_handles.begin(); it != opened_handles.end(); ++it) {
        if (it->second.a->p != p) continue;
        if (--it->second.count == 0) {
            unmap_foreign(p);
            opened_handles.erase(it);
        }
        return cudaSuccess;
    }
    return last_error = cudaErrorInvalidValue;
}
