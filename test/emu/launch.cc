/* launch.cc: kernel launches of the CUDA emulation (cuda_emu_device.h): the grid's blocks run one
 * after another on the launching thread; a block's threads are fibres (a 64 KiB stack each, a
 * guard page below) that switch only at __syncthreads and warp shuffles. Warp after warp, the
 * scheduler runs the warp's ready lanes until each stops and, while all 32 wait at the same
 * shuffle, exchanges their values and runs them on; then, if every thread of the block waits at
 * the same __syncthreads, releases them all; any other state is a divergent barrier and ends the
 * program. A fibre is created once (makecontext) and then switched with _setjmp/_longjmp, which
 * save no signal mask: a switch costs a few nanoseconds, not a system call; and a fibre whose
 * thread returned goes on with the warp's next unstarted thread itself, so a kernel without
 * barriers runs its threads one after another with few switches. */
#undef _FORTIFY_SOURCE   /* its longjmp check rejects jumps between stacks, which is the point here */
#include "emu.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <vector>

namespace cuda_emu {

thread_local uint3 thread_idx, block_idx;
thread_local dim3 block_dim, grid_dim;

namespace {

const size_t STACK = 64 << 10;
const size_t MAX_SHARED = 48 << 10;            /* dynamic shared memory without an opt-in */
const unsigned MAX_THREADS = 1024;

enum { READY, AT_BARRIER, AT_SHUFFLE, DONE };

struct fibre {
    jmp_buf ctx;
    char *base;                                 /* guard page, then the stack */
};

struct lane {
    fibre *f;
    int state;
    uint3 idx;
    const char *file;                           /* where it waits */
    int line;
    shfl_kind kind;
    unsigned mask;
    int arg, width;
    size_t size;
    unsigned char val[8];
};

lane lanes[MAX_THREADS];
std::vector<fibre *> all_fibres, idle;
size_t page;
jmp_buf sched;
ucontext_t creator;
fibre *cur_fibre;
lane *cur_lane;
body_fn cur_body;
void *cur_ctx;
const char *cur_kernel;
char *shared_mem;                               /* MAX_SHARED bytes, a guard page after */
char *shared_ptr;                               /* this launch's dynamic shared memory */
size_t shared_bytes;
int reverse = -1;                               /* CUDA_EMU_ORDER=reverse */

/* the block being run: its threads in the order they are scheduled (order), where each warp's
 * threads start in it (warp_start), and the scheduler's place in the current round */
unsigned order[MAX_THREADS], warp_start[MAX_THREADS / 32 + 1], next_k, round_end;

lane &in_order(unsigned k) { return lanes[order[k]]; }

/* the round's next thread if it is ready and has not started (has no fibre): a fibre whose thread
 * returned runs it at once, without a switch; NULL where the scheduler must step in */
lane *fresh_lane(void) {
    for (; next_k < round_end; next_k++) {
        lane &l = in_order(next_k);
        if (l.state != READY) continue;
        if (l.f) return nullptr;
        next_k++;
        return &l;
    }
    return nullptr;
}

void fibre_main(void) {
    fibre *const f = cur_fibre;
    if (!_setjmp(f->ctx)) setcontext(&creator);   /* created: back to new_fibre */
    for (;;) {                                     /* resumed: run threads until the program ends */
        cur_body(cur_ctx);
        cur_lane->state = DONE;
        if (lane *next = fresh_lane()) {           /* go on with the next thread on this fibre */
            cur_lane->f = nullptr;
            next->f = f;
            cur_lane = next;
            thread_idx = next->idx;
            continue;
        }
        if (!_setjmp(f->ctx)) _longjmp(sched, 1);
    }
}

fibre *new_fibre(void) {
    char *base = (char *)mmap(nullptr, page + STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base, page, PROT_NONE) != 0)
        die_runtime("expected memory for a thread stack of the CUDA emulation, found mmap failing");
    fibre *f = new fibre;
    f->base = base;
    ucontext_t uc;
    getcontext(&uc);
    uc.uc_stack.ss_sp = base + page;
    uc.uc_stack.ss_size = STACK;
    uc.uc_link = nullptr;
    makecontext(&uc, fibre_main, 0);
    cur_fibre = f;
    swapcontext(&creator, &uc);
    all_fibres.push_back(f);
    return f;
}

fibre *take_fibre(void) {
    if (idle.empty()) return new_fibre();
    fibre *f = idle.back();
    idle.pop_back();
    return f;
}

/* run l's thread until it stops */
void resume(lane *l) {
    cur_lane = l;
    cur_fibre = l->f;
    thread_idx = l->idx;
    if (!_setjmp(sched)) _longjmp(l->f->ctx, 1);
}

/* back to the scheduler (from a thread's fibre) */
void yield(void) {
    fibre *const f = cur_fibre;
    if (!_setjmp(f->ctx)) _longjmp(sched, 1);
}

const char *where(const lane &l, char *buf, size_t n) {
    if (l.state == DONE) snprintf(buf, n, "returned");
    else snprintf(buf, n, "at the %s at %s:%d", l.state == AT_BARRIER ? "__syncthreads" : "shuffle", l.file, l.line);
    return buf;
}

[[noreturn]] void divergent(const char *what, const lane &a, const lane &b) {
    char wa[128], wb[128];
    die_runtime("expected every thread of kernel %s to reach the same %s, found thread (%u,%u,%u) of block "
                "(%u,%u,%u) %s and thread (%u,%u,%u) %s (CUDA emulation)", cur_kernel, what, a.idx.x, a.idx.y,
                a.idx.z, block_idx.x, block_idx.y, block_idx.z, where(a, wa, sizeof wa), b.idx.x, b.idx.y, b.idx.z,
                where(b, wb, sizeof wb));
}

int same_site(const lane &a, const lane &b) {
    return a.state == b.state && a.line == b.line && !strcmp(a.file, b.file);
}

/* the warp of lanes w0 .. w0+31 of the block (n threads), all stopped: when its lanes wait at a
 * shuffle, exchange and release them and return 1; 0 when none waits at one */
int release_warp(unsigned w0, unsigned n) {
    int any = 0;
    for (unsigned t = w0; t < w0 + 32 && t < n; t++) any |= lanes[t].state == AT_SHUFFLE;
    if (!any) return 0;
    unsigned first = w0;
    while (lanes[first].state != AT_SHUFFLE) first++;
    const lane &s = lanes[first];
    if (w0 + 32 > n)
        die_runtime("expected kernel %s to shuffle only in whole warps, found a shuffle at %s:%d in a block of "
                    "%u threads (CUDA emulation)", cur_kernel, s.file, s.line, n);
    if (s.mask != 0xffffffffu)
        die_runtime("expected kernel %s's shuffles to name the whole warp (0xffffffff), found mask %#x at %s:%d "
                    "(the CUDA emulation supports full-warp shuffles only)", cur_kernel, s.mask, s.file, s.line);
    if (s.width <= 0 || s.width > 32 || (s.width & (s.width - 1)))
        die_runtime("expected a shuffle width that is a power of 2 up to 32, found %d at %s:%d (CUDA emulation)",
                    s.width, s.file, s.line);
    for (unsigned t = w0; t < w0 + 32; t++) {
        const lane &l = lanes[t];
        if (!same_site(l, s) || l.kind != s.kind || l.size != s.size || l.mask != s.mask || l.width != s.width)
            divergent("shuffle", s, l);
    }
    unsigned char out[32][8];
    for (int i = 0; i < 32; i++) {
        const lane &l = lanes[w0 + i];
        const int w = l.width, seg = i & ~(w - 1);
        int src = i;
        switch (l.kind) {
        case SHFL_IDX: src = seg + (l.arg & (w - 1)); break;
        case SHFL_UP: src = (i - seg) - l.arg >= 0 ? i - l.arg : i; break;
        case SHFL_DOWN: src = (i - seg) + l.arg < w ? i + l.arg : i; break;
        case SHFL_XOR: src = (i ^ l.arg) < seg + w ? i ^ l.arg : i; break;   /* earlier segments too, as PTX */
        }
        memcpy(out[i], lanes[w0 + src].val, l.size);
    }
    for (int i = 0; i < 32; i++) {
        memcpy(lanes[w0 + i].val, out[i], lanes[w0 + i].size);
        lanes[w0 + i].state = READY;
    }
    return 1;
}

/* run the ready threads at positions next_k .. round_end of the schedule until each stops */
void run_range(void) {
    while (next_k < round_end) {
        lane &l = in_order(next_k++);
        if (l.state != READY) continue;
        if (!l.f) l.f = take_fibre();
        resume(&l);                              /* returns with cur_lane the thread that stopped */
        if (cur_lane->state == DONE) {
            idle.push_back(cur_lane->f);
            cur_lane->f = nullptr;
        }
    }
}

/* The schedule: warp after warp, each run ahead through its shuffles as far as it goes (to a
 * __syncthreads or its end) before the next starts, its lanes one after another; in reverse, the
 * warps and their lanes from the last. Then, when every thread waits at the same __syncthreads,
 * all go on. Against the lockstep of all threads, running a warp ahead lets it overwrite shared
 * memory that a later warp has yet to read, as a GPU may. */
void run_block(unsigned n) {
    const unsigned nw = (n + 31) / 32;
    unsigned pos = 0;
    for (unsigned k = 0; k < nw; k++) {
        const unsigned w = reverse ? nw - 1 - k : k, lo = 32 * w, hi = lo + 32 < n ? lo + 32 : n;
        warp_start[k] = pos;
        for (unsigned j = 0; j < hi - lo; j++) order[pos++] = reverse ? hi - 1 - j : lo + j;
    }
    warp_start[nw] = n;
    for (unsigned t = 0; t < n; t++) {
        lane &l = lanes[t];
        l.f = nullptr;
        l.state = READY;
        l.idx = uint3{t % block_dim.x, t / block_dim.x % block_dim.y, t / block_dim.x / block_dim.y};
    }
    for (;;) {
        for (unsigned k = 0; k < nw; k++) {
            const unsigned w0 = order[warp_start[k]] / 32 * 32;
            do {
                next_k = warp_start[k];
                round_end = warp_start[k + 1];
                run_range();
            } while (release_warp(w0, n));
        }
        const lane *bar = nullptr, *done = nullptr;
        for (unsigned t = 0; t < n; t++) {
            const lane &l = lanes[t];
            if (l.state == DONE) { if (!done) done = &l; }
            else if (!bar) bar = &l;
            else if (!same_site(l, *bar)) divergent("__syncthreads", *bar, l);
        }
        if (!bar) return;                        /* every thread returned */
        if (done) divergent("__syncthreads", *bar, *done);
        for (unsigned t = 0; t < n; t++) lanes[t].state = READY;
    }
}

int bad_config(dim3 g, dim3 b) {
    const unsigned long long nt = (unsigned long long)b.x * b.y * b.z;
    return !g.x || !g.y || !g.z || !b.x || !b.y || !b.z || nt > MAX_THREADS || b.z > 64 || g.x > 2147483647u ||
           g.y > 65535 || g.z > 65535;
}

}  // namespace

int in_fibre_guard(const void *p) {
    for (fibre *f : all_fibres)
        if ((const char *)p >= f->base && (const char *)p < f->base + page) return 1;
    return 0;
}

void syncthreads(const char *file, int line) {
    if (!cur_kernel) die_runtime("expected __syncthreads inside a kernel, found it called at %s:%d", file, line);
    lane *l = cur_lane;
    l->state = AT_BARRIER;
    l->file = file;
    l->line = line;
    yield();
}

void shfl(const char *file, int line, shfl_kind kind, unsigned mask, void *val, size_t size, int arg, int width) {
    if (!cur_kernel) die_runtime("expected a warp shuffle inside a kernel, found one at %s:%d", file, line);
    lane *l = cur_lane;
    l->state = AT_SHUFFLE;
    l->file = file;
    l->line = line;
    l->kind = kind;
    l->mask = mask;
    l->arg = arg;
    l->width = width;
    l->size = size;
    memcpy(l->val, val, size);
    yield();
    memcpy(val, l->val, size);
}

void *dynamic_shared(void) {
    if (!cur_kernel) die_runtime("expected dynamic shared memory to be used inside a kernel");
    return shared_ptr;
}

void launch(const char *kernel, dim3 grid, dim3 block, size_t shmem, body_fn body, void *ctx,
            const void *const *ptrs, int nptrs) {
    if (cur_kernel)
        die_runtime("expected one kernel at a time, found %s launched while %s runs (CUDA emulation)", kernel,
                    cur_kernel);
    if (devices() <= 0) { last_error = cudaErrorNoDevice; return; }
    if (bad_config(grid, block)) { last_error = cudaErrorInvalidConfiguration; return; }
    if (shmem > MAX_SHARED) { last_error = cudaErrorInvalidValue; return; }
    char buf[160];
    for (int i = 0; i < nptrs; i++)
        if (ptrs[i] && !find(ptrs[i], 0))
            die_runtime("expected kernel %s's pointer arguments to point into device memory, found %s "
                        "(CUDA emulation)", kernel, describe(ptrs[i], buf, sizeof buf));
    if (!page) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        char *m = (char *)mmap(nullptr, MAX_SHARED + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || mprotect(m + MAX_SHARED, page, PROT_NONE) != 0)
            die_runtime("expected memory for the CUDA emulation's shared memory, found mmap failing");
        shared_mem = m;
        const char *o = getenv("CUDA_EMU_ORDER");
        reverse = o && !strcmp(o, "reverse");
    }
    shared_bytes = (shmem + 15) / 16 * 16;
    shared_ptr = shared_mem + MAX_SHARED - shared_bytes;   /* its end touches the guard page */
    snprintf(buf, sizeof buf, "kernel %s", kernel);
    begin(buf);
    for (int i = 0; i < nptrs; i++)
        if (ptrs[i]) open(find(ptrs[i], 0));
    cur_kernel = kernel;
    cur_body = body;
    cur_ctx = ctx;
    grid_dim = grid;
    block_dim = block;
    const unsigned long long nblocks = (unsigned long long)grid.x * grid.y * grid.z;
    for (unsigned long long k = 0; k < nblocks; k++) {
        const unsigned long long b = reverse ? nblocks - 1 - k : k;
        block_idx = uint3{(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / grid.x / grid.y)};
        memset(shared_ptr, JUNK_BYTE, shared_bytes);         /* junk (NaN), as a new block finds it */
        run_block(block.x * block.y * block.z);
    }
    for (int i = 0; i < nptrs; i++)
        if (ptrs[i]) check_guards(find(ptrs[i], 0), buf);
    close_all();
    cur_kernel = nullptr;
}

}  // namespace cuda_emu
