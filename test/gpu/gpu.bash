# test/gpu/gpu.bash: what the suites of test/gpu/ share (load ../helpers first, then this): the
# device they run on, from GPU_BACKEND, and one way to run two tools through FIFOs.
#
#   GPU_BACKEND=cuda  (the default; make test-gpu) the real GPU: bin/X --device cuda runs bin/cuda/X
#                     and build/test/gpu_*_check are the CUDA builds. Skipped where nvidia-smi
#                     lists no GPU; a missing CUDA build is a failure, not a skip.
#   GPU_BACKEND=emu   (make test) the CPU emulation of CUDA (test/emu/): build/emu/bin and
#                     build/emu/test come first on PATH, so gen-step --device cuda runs
#                     build/emu/bin/cuda/gen-step and gpu_ops_check the emulated build.
#
# gpu_setup (call it from setup after common_setup) leaves the chosen programs first on PATH;
# GPU_BACKEND is then cuda or emu.

gpu_setup() {
  GPU_BACKEND=${GPU_BACKEND:-cuda}
  case "$GPU_BACKEND" in
    emu)
      if [ ! -x "$ROOT/build/emu/test/gpu_ops_check" ] || [ ! -x "$ROOT/build/emu/bin/cuda/gen-step" ]; then
        echo "expected the CUDA emulation built (make emu), found build/emu/ incomplete" >&2
        return 1
      fi
      PATH="$ROOT/build/emu/bin:$ROOT/build/emu/test:$PATH"
      ;;
    cuda)
      nvidia-smi -L 2>/dev/null | grep -q '^GPU' || skip "no GPU here (nvidia-smi -L lists none)"
      if [ ! -x "$ROOT/bin/cuda/gen-step" ] || [ ! -x "$ROOT/build/test/gpu_ops_check" ]; then
        echo "expected the CUDA build (bin/cuda/, build/test/gpu_ops_check; make with nvcc), found it missing" >&2
        return 1
      fi
      ;;
    *)
      echo "expected GPU_BACKEND cuda or emu, found '$GPU_BACKEND'" >&2
      return 1
      ;;
  esac
  export GPU_BACKEND
}

# gpu_check_passes PROGRAM: PROGRAM (gpu_ops_check or gpu_clip_check) ran all its checks and
# passed; a SKIP is a failure here, since gpu_setup found a device.
gpu_check_passes() {
  run "$1"
  if [ "${lines[0]%%:*}" = SKIP ]; then
    echo "expected $1 to find the device ($GPU_BACKEND), found: ${lines[0]}"; return 1
  fi
  printf '%s\n' "$output" | grep -v '^ok ' || true   # shown if the test fails
  [ "$status" -eq 0 ] || { echo "expected exit status 0, found $status"; return 1; }
  [ "${lines[${#lines[@]}-1]%%:*}" = PASS ] || { echo "expected a PASS line last"; return 1; }
  [ -z "$(printf '%s\n' "$output" | grep '^FAIL ')" ] || { echo "expected no FAIL line"; return 1; }
}

# kill_jobs: end the background jobs a test left (its FIFO partners, when one side failed), so
# that bats does not wait for them forever. Call it from teardown.
kill_jobs() {
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
}
