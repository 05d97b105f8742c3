#!/usr/bin/env bats
# ops.bats: CUDA ops against their CPU twins (gpu_ops_check, from test/c/gpu_ops_check.c): every op
# forward and backward on several shapes, normalised error under 1e-5 per output; and the CUDA
# objects export the C functions kernels/nocuda.c exports. On the GPU (make test-gpu) or on the
# CUDA emulation (make test), see gpu.bash; the emulation also runs the threads of every block,
# and the blocks, in reverse order, so that a missing barrier shows up in one of the two orders.

load ../helpers
load gpu

setup() {
  common_setup
  gpu_setup
  cd "$ROOT"
}

@test "gpu_ops_check: every CUDA op matches its CPU twin" {
  gpu_check_passes gpu_ops_check
  if [ "$GPU_BACKEND" = emu ]; then
    export CUDA_EMU_ORDER=reverse
    gpu_check_passes gpu_ops_check
  fi
}

@test "gpu_ops_check: the CUDA objects and nocuda.c export the same C functions" {
  command -v nm >/dev/null || skip "no nm"
  if [ "$GPU_BACKEND" = emu ]; then objs=(build/emu/kernels/*.o); else objs=(build/cuda/*.o); fi
  [ -e "${objs[0]}" ] || { echo "expected the kernels' objects, found no ${objs[0]}"; false; }
  tmp=$(mktemp -d)
  ${CC:-cc} -std=c11 -D_GNU_SOURCE -Ilib -Ikernels -c kernels/nocuda.c -o "$tmp/nocuda.o"
  nm -g --defined-only "$tmp/nocuda.o" | awk 'NF == 3 {print $3}' | sort > "$tmp/stub"
  nm -g --defined-only "${objs[@]}" | awk 'NF == 3 && $3 !~ /^(_Z|DW\.ref)/ {print $3}' | sort -u > "$tmp/cuda"
  run diff "$tmp/stub" "$tmp/cuda"
  rm -rf "$tmp"
  echo "$output"   # shown if the test fails: < only in nocuda.c, > only in the CUDA objects
  [ "$status" -eq 0 ]
}
