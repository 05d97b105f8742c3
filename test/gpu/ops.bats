#!/usr/bin/env bats
# ops.bats: CUDA ops against their CPU twins (gpu_ops_check, from test/c/gpu_ops_check.c): every op
# forward and backward on several shapes, normalised error under 1e-5 per output; and the CUDA
# objects export the C functions kernels/nocuda.c exports. On the GPU (make test-gpu) or on the
# CUDA emulation (make test), see gpu.bash. Races in shared memory: on the GPU, compute-sanitizer's
# racecheck; on the emulation, a second run with the blocks, warps and threads scheduled from the
# last (CUDA_EMU_ORDER=reverse), so that a missing barrier shows up in one of the two orders.

load ../helpers
load gpu

setup() {
  common_setup
  gpu_setup
  cd "$ROOT"
}

@test "gpu_ops_check: every CUDA op matches its CPU twin" {
  gpu_check_passes gpu_ops_check
}

@test "gpu_ops_check, gpu_clip_check: no shared-memory races (compute-sanitizer racecheck; on the emulation the reverse schedule)" {
  if [ "$GPU_BACKEND" = emu ]; then
    export CUDA_EMU_ORDER=reverse
    gpu_check_passes gpu_ops_check
    gpu_check_passes gpu_clip_check
    return
  fi
  san=$(command -v compute-sanitizer || ls "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" 2>/dev/null) ||
    skip "no compute-sanitizer (CUDA_HOME/bin)"
  for prog in gpu_ops_check gpu_clip_check; do
    run timeout 150 "$san" --tool racecheck --error-exitcode 3 "$ROOT/build/test/$prog"
    [ "$status" -ne 124 ] || { echo "expected racecheck of $prog to finish in 150 s, found it running on"; false; }
    printf '%s\n' "$output" | grep -v '^ok ' || true   # shown if the test fails
    [ "$status" -eq 0 ] || { echo "expected racecheck of $prog to pass, found exit status $status"; false; }
  done
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
