#!/usr/bin/env bash
# test/run.sh: `make test`. Runs the bats suites of test/, and those of test/emu/ (the CPU emulation
# of CUDA checking itself) and test/gpu/ (the CUDA checks, on it: GPU_BACKEND=emu, see
# test/gpu/gpu.bash), TAP on stdout; ends with the plain summary line "N passed, N failed, N
# skipped" and exits non-zero if any test failed or bats itself failed. Where the emulation is not
# built, test/emu/ and test/gpu/ count as one skipped test, in one line saying why (CUDA_EMU_SKIP
# from the Makefile, or build/emu/ missing).
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
suites=(test/)
why=${CUDA_EMU_SKIP:-}
if [ -z "$why" ] && [ ! -x build/emu/test/gpu_ops_check ]; then why="build/emu/ is not built (make emu)"; fi
if [ -z "$why" ]; then
  suites+=(test/emu/ test/gpu/)
  export GPU_BACKEND=emu
fi
bats --tap "${suites[@]}" | tee "$log"
rc=${PIPESTATUS[0]}
[ -z "$why" ] || echo "ok - test/emu/ and test/gpu/ (the CUDA checks, on the emulation of test/emu/) # skip $why" | tee -a "$log"
passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
skipped=$(grep -c '^ok .* # skip' "$log")
echo "$((passed - skipped)) passed, $failed failed, $skipped skipped"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
