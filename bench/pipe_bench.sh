#!/usr/bin/env bash
# bench/pipe_bench.sh: what the pipes cost. One training epoch of STEPS batches (imsize 64, nf 16,
# batch 16, cond 256, z 100) run as the pipelines run it — gen-step train and disc-step train as two
# processes joined by FIFOs, weights resident, checkpoints loaded and saved — against the same steps
# in one process with nothing between them (build/bench/step_bench, which also times a warm-up step
# it leaves out). Target: the pipeline within 5% of the one-process time. Not part of `make test`.
#   STEPS=20 THREADS=2 bench/pipe_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-20}"
export OMP_NUM_THREADS="${THREADS:-2}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin/gen-step init --imsize 64 --nf 16 --z-dim 100 --cond-dim 256 --seed 1 -o "$tmp/G.npz"
bin/disc-step init --imsize 64 --nf 16 --cond-dim 256 --seed 2 -o "$tmp/D.npz"
bin/synth-shapes --imsize 64 --batch 16 --batches "$STEPS" --cond-dim 256 --seed 3 --images "$tmp/real.npy" --cond "$tmp/cond.npy"
bin/noise --batch 16 --dim 100 --batches "$STEPS" --seed 4 -o "$tmp/noise.npy"
mkfifo "$tmp/fake" "$tmp/grad"
t0=$(date +%s.%N)
bin/disc-step train --ckpt "$tmp/D.npz" --real "$tmp/real.npy" --cond "$tmp/cond.npy" --fake "$tmp/fake" \
    --grad-out "$tmp/grad" --save "$tmp/D2.npz" --log "$tmp/d.log" &
bin/gen-step train --ckpt "$tmp/G.npz" --noise "$tmp/noise.npy" --cond "$tmp/cond.npy" --fake-out "$tmp/fake" \
    --grad "$tmp/grad" --save "$tmp/G2.npz" --log "$tmp/g.log"
wait
t1=$(date +%s.%N)
pipe=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
one=$(build/bench/step_bench --imsize 64 --nf 16 --batch 16 --cond 256 --z 100 --steps "$STEPS" | awk '$1=="step_mean_s"{print $2}')
awk -v p="$pipe" -v o="$one" -v n="$STEPS" 'BEGIN {
  printf "== pipeline epoch of %d steps (2 processes, FIFOs, checkpoints in and out): %.3f s, %.4f s/step\n", n, p, p / n
  printf "== the same steps in one process: %.4f s/step\n", o
  printf "== pipe overhead: %+.1f%% (target < 5%%)\n", (p / n / o - 1) * 100 }'
