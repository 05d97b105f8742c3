/* cuda_launch.h: the two CUDA constructs that a C++ compiler cannot parse, written so that the
 * kernels compile both under nvcc and against the CPU emulation of the CUDA runtime (test/emu/,
 * which `make test` runs them on):
 *   LAUNCH(kernel, grid, block, shmem)(args...);   kernel<<<grid, block, shmem>>>(args...);
 *   EXTERN_SHARED(type, name);                     extern __shared__ type name[];
 * Under nvcc they are those; the emulation's cuda_runtime.h (test/emu/include) defines its own. */
#ifndef DFGAN_CUDA_LAUNCH_H
#define DFGAN_CUDA_LAUNCH_H
#ifdef __CUDACC__
#define LAUNCH(kernel, grid, block, shmem) kernel<<<(grid), (block), (shmem)>>>
#define EXTERN_SHARED(type, name) extern __shared__ type name[]
#elif !defined(LAUNCH)
#error "kernels/*.cu compile under nvcc, or as C++ against test/emu/include with -DCUDA_EMU"
#endif
#endif
