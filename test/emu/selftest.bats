#!/usr/bin/env bats
# selftest.bats (make test, with test/gpu/ on the emulation): the CUDA emulation of test/emu/
# computes what CUDA computes and refuses what a GPU would get wrong or reject, through the
# scenarios of build/emu/test/cuda_emu_selftest (test/emu/selftest.cc).

load ../helpers

setup() {
  common_setup
  [ -x "$ROOT/build/emu/test/cuda_emu_selftest" ] || { echo "expected build/emu/test/cuda_emu_selftest (make emu)"; return 1; }
  PATH="$ROOT/build/emu/test:$PATH"
  unset CUDA_EMU_ORDER CUDA_EMU_DEVICES
}

# refused SCENARIO PATTERN: the scenario ends with exit 1 and one line on stderr matching PATTERN
refused() {
  run --separate-stderr cuda_emu_selftest "$1"
  assert_fails 1 "cuda_emu_selftest: $2 (CUDA emulation)"
}

@test "emulation: shuffles of every kind and width, 3-D blocks and grids, barriers, atomics, a gemm" {
  for s in shuffles blocks atomics gemm; do
    run cuda_emu_selftest $s
    assert_ok
    assert_equal "$output" "ok: $s"
  done
}

@test "emulation: fresh device memory and dynamic shared memory hold NaN" {
  run cuda_emu_selftest junk
  assert_ok
  assert_equal "$output" "ok: junk"
}

@test "emulation: bad launches, copies, frees and gemm arguments return CUDA's and cuBLAS's errors" {
  run cuda_emu_selftest errors
  assert_ok
  assert_equal "$output" "1025 threads: cudaErrorInvalidConfiguration
0 blocks: cudaErrorInvalidConfiguration
64 KiB of shared memory: cudaErrorInvalidValue
a good launch: cudaSuccess
copy past the end: cudaErrorInvalidValue
copy the wrong way: cudaErrorInvalidValue
memset of host memory: cudaErrorInvalidValue
free inside a buffer: cudaErrorInvalidDevicePointer
free: cudaSuccess
lda < m: CUBLAS_STATUS_INVALID_VALUE
k < 0: CUBLAS_STATUS_INVALID_VALUE
no handle: CUBLAS_STATUS_NOT_INITIALIZED"
}

@test "emulation: CUDA IPC across processes: a child maps the parent's buffer and event, each sees the other's writes; CUDA's errors" {
  run cuda_emu_selftest ipc
  assert_ok
  assert_equal "$output" "a pointer inside the buffer: the same handle
an event handle of a timing event: cudaErrorInvalidResourceHandle
opening its own handle: cudaErrorDeviceUninitialized
opening its own event: cudaErrorDeviceUninitialized
child opens the handle: cudaSuccess
child opens it again: cudaSuccess, the same pointer
child opens the event: cudaSuccess
child reads 0..63: yes; its kernel: ran
child closes twice: cudaSuccess cudaSuccess; a third time: cudaErrorInvalidValue
parent sees the child's writes: yes
a handle of a process that is gone: cudaErrorInvalidResourceHandle
its event: cudaErrorInvalidResourceHandle
a handle of zeros: cudaErrorInvalidResourceHandle
PCI bus id: 0000:01:00.0"
  CUDA_EMU_PCI_BUS_ID=0000:42:00.0 run cuda_emu_selftest ipc
  assert_ok
  assert_equal "${lines[${#lines[@]}-1]}" "PCI bus id: 0000:42:00.0"
}

@test "emulation: a __syncthreads or a shuffle that not every thread reaches is refused" {
  refused divergent-barrier "expected every thread of kernel divergent_kernel to reach the same __syncthreads, found thread (0,0,0) of block (0,0,0) at the __syncthreads at test/emu/selftest.cc:* and thread (16,0,0) returned"
  refused exited-barrier "expected every thread of kernel exited_kernel to reach the same __syncthreads, found thread (0,0,0) of block (0,0,0) at the __syncthreads at test/emu/selftest.cc:* and thread (5,0,0) returned"
  refused divergent-shuffle "expected every thread of kernel half_shuffle_kernel to reach the same shuffle, found thread (0,0,0) of block (0,0,0) at the shuffle at test/emu/selftest.cc:* and thread (16,0,0) returned"
  refused partial-warp "expected kernel shuffle_kernel48 to shuffle only in whole warps, found a shuffle at test/emu/selftest.cc:* in a block of 48 threads"
}

@test "emulation: a write past a buffer, or to a buffer the kernel was not given, is refused" {
  refused past-end "expected kernel past_end_kernel to write inside its buffers, found byte +0 past the end of a cudaMalloc of 256 bytes changed"
  refused foreign "expected kernel foreign_kernel to touch only the device memory it was given, found it touching 0x*, byte 0 of a cudaMalloc of 256 bytes"
  refused gemm-extent "expected cublasSgemm's A (8×8, leading dimension 8; member 0 of 1, stride 0) inside one device allocation, found it reaching 0x*, 3 bytes past the end of a cudaMalloc of 256 bytes"
  refused stack-overflow "expected kernel overflow_kernel to fit its threads' stacks (64 KiB each), found one overflowing"
}

@test "emulation: host pointers and freed pointers as kernel arguments, and host code touching device memory, are refused" {
  refused host-argument "expected kernel empty_kernel's pointer arguments to point into device memory, found 0x*, host memory"
  refused freed-argument "expected kernel empty_kernel's pointer arguments to point into device memory, found 0x*, byte 0 of a freed cudaMalloc of 256 bytes"
  refused host-touch "expected host code to reach device memory only through copies, found it touching 0x*, byte 12 of a cudaMalloc of 256 bytes"
}

@test "emulation: a missing barrier that one thread order hides shows in the other (CUDA_EMU_ORDER=reverse)" {
  run cuda_emu_selftest missing-barrier
  assert_ok
  CUDA_EMU_ORDER=reverse run cuda_emu_selftest missing-barrier
  [ "$status" -eq 1 ]
  assert_equal "$output" "FAIL: thread 1 read -nan, not its predecessor's value"
}

@test "emulation: CUDA_EMU_DEVICES=0 is a machine without a GPU: the checks skip, the tools fail in one line" {
  CUDA_EMU_DEVICES=0 run gpu_ops_check
  assert_ok
  assert_equal "$output" "SKIP: no CUDA device found (cudaGetDeviceCount: no CUDA-capable device is detected)"
  CUDA_EMU_DEVICES=0 run --separate-stderr "$ROOT/build/emu/bin/gen-step" forward --device cuda --ckpt x --noise x --cond x -o x
  assert_fails 1 "gen-step: expected a usable GPU for --device cuda, found none: no CUDA device found (cudaGetDeviceCount: no CUDA-capable device is detected)"
}
