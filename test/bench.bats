#!/usr/bin/env bats
# bench.bats: `make bench` (bench/run.sh) runs every part whose peer is present: a part whose
# peer is missing (open_clip for the CLIP part, here hidden by a broken open_clip package first on
# PYTHONPATH) prints ours and says "no comparison"; a part that fails is named, the parts after it
# still run, and the run exits 1. Tiny settings (BENCH picks the parts; a small CLIP, a 1 MB
# checkpoint) keep it fast; the numbers themselves are not checked.

load helpers

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" bin/clip-embed bin/tokenize bin/ckpt >&2
}

@test "bench: no open_clip: the CLIP part says no comparison and the run goes on; a failing part is named, exit 1 at the end" {
  mkdir -p "$T/shadow/open_clip"
  : > "$T/shadow/open_clip/__init__.py"     # a package without open_clip.model
  cd "$ROOT"
  run env PYTHONPATH="$T/shadow" KEEP_OPENBLAS_ENV=1 BENCH="clip nonesuch ckpt" MB=1 REPS=1 BATCH=2 SIZE=32 CAPTIONS=4 \
    CLIP_INIT="--embed-dim 32 --width 64 --layers 1 --patch 8 --image-size 32 --text-width 64 --text-layers 1" bench/run.sh
  [ "$status" -eq 1 ] || { echo "exit $status: $output" >&2; return 1; }
  # the CLIP part: ours measured, the comparison said to be missing (the reason: no PyTorch, or no open_clip)
  [[ "$output" == *"image_fwd_bwd_s "* && "$output" == *"text_fwd_s "* ]]
  if "$PYTHON" -c 'import torch' 2>/dev/null; then
    [[ "$output" == *"== open_clip: not importable with PyTorch (pip install open_clip_torch --no-deps); no comparison"* ]]
  else
    [[ "$output" == *"no comparison"* ]]
  fi
  [[ "$output" != *"clip: failed"* ]]
  # an unknown part fails alone; the checkpoint part after it still runs
  [[ "$output" == *"== nonesuch: failed (exit 2); going on with the other parts"* ]]
  [[ "$output" == *"== ckpt"* ]]
  [[ "${lines[-1]}" == "== failed: nonesuch" ]]
}

@test "step_bench: the per-step NaN/Inf checks timed beside the step, their share of it in %" {
  make --no-print-directory -s -C "$ROOT" build/bench/step_bench >&2
  run "$ROOT/build/bench/step_bench" --imsize 32 --nf 2 --batch 4 --cond 8 --z 8 --steps 2
  assert_ok
  py "
v = dict((l.split()[0], float(l.split()[1])) for l in sys.argv[1].splitlines())
c, i, step = v['checks_step_s'], v['checks_input_s'], v['step_mean_s']
assert c > 0 and i > 0 and step > c + i, v
assert 0 < v['checks_share_pct'] < 100, v
assert abs(v['checks_share_pct'] - 100 * (c + i) / step) <= 0.2 * v['checks_share_pct'], v   # (the printed values are rounded)
" "$output"
}
