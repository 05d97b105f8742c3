/* cuda_emu_device.h: the CUDA kernel language on the CPU, for the emulation of test/emu/ (included
 * by its cuda_runtime.h). What the .cu files of kernels/ use and no more: 1-D to 3-D grids and blocks (at most
 * 1024 threads), threadIdx/blockIdx/blockDim/gridDim, static __shared__ variables (one copy per
 * block in flight) and EXTERN_SHARED dynamic shared memory, __syncthreads, the full-warp 32-lane
 * shuffles __shfl_sync/__shfl_up_sync/__shfl_down_sync/__shfl_xor_sync, atomicAdd, atomicMin on
 * unsigned long long, __float_as_uint, and launches
 * through LAUNCH(kernel, grid, block, shmem)(args...) (kernels/cuda_launch.h).
 *
 * How a launch runs (test/emu/launch.cc): blocks one after another; in a block every thread is a
 * fibre that runs until it reaches __syncthreads, a shuffle or its end. Warp after warp, the lanes
 * of a warp run one after another; when all 32 wait at the same shuffle they exchange their values
 * and run on, so a warp gets as far as it can (to a __syncthreads or its end) before the next
 * starts. When every thread waits at the same __syncthreads, all go on. Anything else (a thread
 * that returned or waits elsewhere while others wait at a barrier or a shuffle) is a divergent
 * barrier: the program ends naming the kernel, the block and the call. CUDA_EMU_ORDER=reverse
 * takes the blocks, the warps and the lanes from the last, so that a missing barrier or an
 * unordered write between blocks shows up in one of the two orders.
 */
#ifndef CUDA_EMU_DEVICE_H
#define CUDA_EMU_DEVICE_H
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <tuple>
#include <type_traits>
#include <utility>

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
/* one copy per OS thread; the blocks of a launch run one at a time on the launching thread */
#define __shared__ static thread_local
#define warpSize 32

namespace cuda_emu {

/* the running thread's coordinates, set before each switch to its fibre */
extern thread_local uint3 thread_idx, block_idx;
extern thread_local dim3 block_dim, grid_dim;

enum shfl_kind { SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_XOR };

void syncthreads(const char *file, int line);
/* the warp's exchange: val (size bytes, at most 8) in, the source lane's value out */
void shfl(const char *file, int line, shfl_kind kind, unsigned mask, void *val, size_t size, int arg, int width);
void *dynamic_shared(void);                  /* the block's EXTERN_SHARED memory */

template <typename T>
static inline T shfl_t(const char *file, int line, shfl_kind kind, unsigned mask, T v, int arg, int width = 32) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffles move up to 8 bytes");
    shfl(file, line, kind, mask, &v, sizeof v, arg, width);
    return v;
}

/* ---- launches ---- */
typedef void (*body_fn)(void *ctx);
/* runs body(ctx) once per thread of the grid; a bad configuration sets the last error instead */
void launch(const char *kernel, dim3 grid, dim3 block, size_t shmem, body_fn body, void *ctx,
            const void *const *ptrs, int nptrs);

template <typename T> static inline T convert(T v) { return v; }   /* the argument as the parameter's type */

template <typename... P> struct launcher {
    void (*kernel)(P...);
    const char *name;
    dim3 grid, block;
    size_t shmem;

    template <typename... A> void operator()(A &&...a) const {
        static_assert(sizeof...(A) == sizeof...(P), "a kernel launch with the wrong number of arguments");
        struct frame {
            void (*k)(P...);
            std::tuple<P...> args;
        } f{kernel, std::tuple<P...>(convert<P>(std::forward<A>(a))...)};
        /* the pointer arguments, which must point into device memory (or be NULL) */
        const void *ptrs[sizeof...(P) + 1];
        int n = 0;
        std::apply([&](const P &...p) { (note(ptrs, n, p), ...); }, f.args);
        launch(name, grid, block, shmem, [](void *c) {
            frame *fr = static_cast<frame *>(c);
            std::apply(fr->k, fr->args);               /* each thread gets its own copies */
        }, &f, ptrs, n);
    }

  private:
    template <typename T> static void note(const void **ptrs, int &n, const T &v) {
        if constexpr (std::is_pointer<T>::value) ptrs[n++] = (const void *)v;
    }
};

template <typename... P>
static inline launcher<P...> make_launcher(void (*k)(P...), const char *name, dim3 grid, dim3 block, size_t shmem) {
    return launcher<P...>{k, name, grid, block, shmem};
}

}  // namespace cuda_emu

#define threadIdx (static_cast<const uint3 &>(cuda_emu::thread_idx))
#define blockIdx (static_cast<const uint3 &>(cuda_emu::block_idx))
#define blockDim (static_cast<const dim3 &>(cuda_emu::block_dim))
#define gridDim (static_cast<const dim3 &>(cuda_emu::grid_dim))

#define __syncthreads() cuda_emu::syncthreads(__FILE__, __LINE__)
#define __shfl_sync(...) cuda_emu::shfl_t(__FILE__, __LINE__, cuda_emu::SHFL_IDX, __VA_ARGS__)
#define __shfl_up_sync(...) cuda_emu::shfl_t(__FILE__, __LINE__, cuda_emu::SHFL_UP, __VA_ARGS__)
#define __shfl_down_sync(...) cuda_emu::shfl_t(__FILE__, __LINE__, cuda_emu::SHFL_DOWN, __VA_ARGS__)
#define __shfl_xor_sync(...) cuda_emu::shfl_t(__FILE__, __LINE__, cuda_emu::SHFL_XOR, __VA_ARGS__)

/* the blocks of a launch run one at a time on one OS thread: a plain read-modify-write is atomic */
static inline float atomicAdd(float *p, float v) { float o = *p; *p = o + v; return o; }
static inline double atomicAdd(double *p, double v) { double o = *p; *p = o + v; return o; }
static inline int atomicAdd(int *p, int v) { int o = *p; *p = o + v; return o; }
static inline unsigned atomicAdd(unsigned *p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
static inline unsigned long long atomicMin(unsigned long long *p, unsigned long long v) {
    unsigned long long o = *p; *p = v < o ? v : o; return o;
}
/* a float's bits */
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, sizeof u); return u; }

#define LAUNCH(kernel, grid, block, shmem) cuda_emu::make_launcher(kernel, #kernel, (grid), (block), (shmem))
#define EXTERN_SHARED(type, name) type *const name = static_cast<type *>(cuda_emu::dynamic_shared())
#endif
