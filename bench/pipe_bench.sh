#!/usr/bin/env bash
# bench/pipe_bench.sh: what the pipes cost. One training epoch of STEPS batches (imsize 64, nf 16,
# batch 16, cond 256, z 100) run as the pipelines run it — gen-step train and disc-step train as two
# processes joined by FIFOs under bin/run-epoch, weights resident, checkpoints loaded and saved —
# against the same steps in one process with nothing between them (build/bench/step_bench, which
# also times a warm-up step it leaves out). Target: the pipeline within 5% of the one-process time.
# An epoch of STEPS=100 is shorter than a real one (the demo's is 281 batches, CUB's 553 at batch
# 16); a second pipeline run of STEPS/5 batches splits the pipeline's cost into a fixed part (start,
# load, warm-up, save) and a per-step part, from which the overhead of a CUB epoch is projected. Not
# part of `make test`.
#   STEPS=100 REPEAT=3 THREADS=2 bench/pipe_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-100}"
export OMP_NUM_THREADS="${THREADS:-2}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin/gen-step init --imsize 64 --nf 16 --z-dim 100 --cond-dim 256 --seed 1 -o "$tmp/G.npz"
bin/disc-step init --imsize 64 --nf 16 --cond-dim 256 --seed 2 -o "$tmp/D.npz"
short=$(( STEPS / 5 > 0 ? STEPS / 5 : 1 ))
for n in "$STEPS" "$short"; do
  bin/synth-shapes --imsize 64 --batch 16 --batches "$n" --cond-dim 256 --seed 3 --images "$tmp/real_$n.npy" --cond "$tmp/cond_$n.npy"
  bin/noise --batch 16 --dim 100 --batches "$n" --seed 4 -o "$tmp/noise_$n.npy"
done
# pipeline N: the first N batches as one pipelined epoch; prints its seconds
pipeline() {
  local t0 t1
  t0=$(date +%s.%N)
  bin/run-epoch --fifo "$tmp/fake" --fifo "$tmp/grad" \
    ::: bin/disc-step train --ckpt "$tmp/D.npz" --real "$tmp/real_$1.npy" --cond "$tmp/cond_$1.npy" --fake "$tmp/fake" \
        --grad-out "$tmp/grad" --save "$tmp/D2.npz" --log "$tmp/d.log" \
    ::: bin/gen-step train --ckpt "$tmp/G.npz" --noise "$tmp/noise_$1.npy" --cond "$tmp/cond_$1.npy" --fake-out "$tmp/fake" \
        --grad "$tmp/grad" --save "$tmp/G2.npz" --log "$tmp/g.log"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
# best of REPEAT interleaved runs of each (shared cores: the best is the least disturbed)
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
pipe= pipe_short= one=
for _ in $(seq "${REPEAT:-3}"); do
  pipe=$(min "$pipe" "$(pipeline "$STEPS")")
  pipe_short=$(min "$pipe_short" "$(pipeline "$short")")
  one=$(min "$one" "$(build/bench/step_bench --imsize 64 --nf 16 --batch 16 --cond 256 --z 100 --steps "$STEPS" | awk '$1=="step_mean_s"{print $2}')")
done
awk -v p="$pipe" -v ps="$pipe_short" -v o="$one" -v n="$STEPS" -v m="$short" 'BEGIN {
  step = (p - ps) / (n - m); fixed = p - n * step; cub = 553
  printf "== pipeline epoch of %d steps (2 processes under run-epoch, FIFOs, checkpoints in and out): %.3f s, %.4f s/step\n", n, p, p / n
  printf "== the same steps in one process: %.4f s/step\n", o
  printf "== pipe overhead: %+.1f%% for this epoch (target < 5%%)\n", (p / n / o - 1) * 100
  printf "== split (with a %d-step epoch, %.3f s): %.4f s/step (%+.1f%%) + %.3f s fixed (start, load, warm-up, save)\n", m, ps, step, (step / o - 1) * 100, fixed
  printf "== projected for a CUB epoch (%d steps at batch 16): %+.1f%%\n", cub, ((fixed + cub * step) / (cub * o) - 1) * 100 }'
