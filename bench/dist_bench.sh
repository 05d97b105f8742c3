#!/usr/bin/env bash
# bench/dist_bench.sh: data-parallel ranks (lib/core/dist.h) on this machine's cores.
#  1. scaling: full DF-GAN steps (build/bench/dist_bench) as 2 ranks x 1 thread against 1 process x 2
#     threads on the same global batch, at the demo config (32 px, nf 16, batch 16) and at 64 px,
#     nf 32, batch 16: throughput ratio (target >= 0.9), bytes all-reduced per step, time in the
#     all-reduces (in the steps, waiting for the slower rank included; and alone);
#  2. a rank's input at the bird config (256 px, batch 32: 25 MB of real images a step): reading the
#     whole batch and keeping its rows against reading only its rows (build/bench/shard_io_bench)
#     with 1, 2, 4 and 8 ranks reading one shared file.
# Each side runs twice, alternating, and its better run counts (this VM's speed drifts over minutes
# and other work shares its cores). Environment: STEPS (5), MPIRUN (mpirun), MPI_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v "${MPIRUN:-mpirun}" >/dev/null 2>&1 || ! ldd build/bench/dist_bench | grep -q libmpi; then
  echo "== ranks: no mpirun or a build without MPI here; skipped (.ci/install-deps installs OpenMPI)"
  exit 0
fi
MPI=("${MPIRUN:-mpirun}" -q --oversubscribe --allow-run-as-root --bind-to none
     ${MPI_FLAGS:---mca btl self,vader --mca btl_vader_single_copy_mechanism none})
STEPS=${STEPS:-5}
key() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
# best RUN1 RUN2: the run with the smaller step_s
best() { if awk -v a="$(key step_s "$1")" -v b="$(key step_s "$2")" 'BEGIN { exit !(b < a) }'; then echo "$2"; else echo "$1"; fi; }

scaling() {
  local args=(--imsize "$1" --nf "$2" --batch 16 --cond 256 --z 100 --steps "$STEPS") one two a b
  a=$(OMP_NUM_THREADS=2 build/bench/dist_bench "${args[@]}")
  b=$("${MPI[@]}" -x OMP_NUM_THREADS=1 -np 2 build/bench/dist_bench "${args[@]}")
  one=$(best "$a" "$(OMP_NUM_THREADS=2 build/bench/dist_bench "${args[@]}")")
  two=$(best "$b" "$("${MPI[@]}" -x OMP_NUM_THREADS=1 -np 2 build/bench/dist_bench "${args[@]}")")
  awk -v px="$1" -v nf="$2" -v s1="$(key step_s "$one")" -v s2="$(key step_s "$two")" \
      -v by="$(key allreduce_bytes_per_step "$two")" -v c="$(key comm_s_per_step "$two")" \
      -v sh="$(key comm_share "$two")" -v ar="$(key allreduce_s "$two")" \
      -v c1="$(key step_cpu_s "$one")" -v c2="$(key step_cpu_s "$two")" 'BEGIN {
    printf "== %d px, nf %d, batch 16: 1 process x 2 threads %.4f s/step (%.1f img/s), 2 ranks x 1 thread %.4f s/step (%.1f img/s): ratio %.2f (target >= 0.9)\n", px, nf, s1, 16 / s1, s2, 16 / s2, s1 / s2
    printf "   CPU time a step (all threads, all ranks): %.4f s against %.4f s: ratio %.2f\n", c1, c2, c1 / c2
    printf "   all-reduced per step %.2f MB (D and G gradients); in the steps %.1f ms (%.0f%% of a step, waiting for the slower rank included), alone %.2f ms\n", by / 1e6, c * 1e3, sh * 100, ar * 1e3 }'
}

io() {
  local f n out
  f=$(mktemp -d)/real.npy
  # 8 batches of the bird config's real images: (32, 3*256*256) float32, 25.2 MB each
  bin/noise --batch 32 --dim 196608 --batches 8 --seed 1 -o "$f"
  echo "== a rank's input at the bird config (256 px, batch 32), a shared file of 8 batches in the page cache:"
  for n in 1 2 4 8; do
    if [ "$n" -eq 1 ]; then out=$(build/bench/shard_io_bench "$f" --reps 3)
    else out=$("${MPI[@]}" -np "$n" build/bench/shard_io_bench "$f" --reps 3); fi
    awk '{ printf "   %d rank%s, %-5s %6.2f MB a step in %6.2f ms\n", $3, ($3 > 1 ? "s" : " "), $1, $5, $7 * 1e3 }' <<<"$out"
  done
  rm -rf "$(dirname "$f")"
}

echo "== data-parallel ranks ($("${MPIRUN:-mpirun}" --version | head -1), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
scaling 32 16
scaling 64 32
io
