#!/usr/bin/env bash
# bench/run.sh: `make bench`. One full DF-GAN training step (D step + G step) at imsize 64, nf 16,
# batch 16, cond 256, z 100 on 2 threads: ours (build/bench/step_bench) and, when PyTorch imports,
# DF-GAN's own loop in PyTorch, in the same run. Prints both times, the ratio, our GFLOP/s against
# an sgemm peak measured in the same run, and each side's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=(--imsize "${IMSIZE:-64}" --nf "${NF:-16}" --batch "${BATCH:-16}" --cond 256 --z 100 --steps "${STEPS:-5}")
export OMP_NUM_THREADS="${THREADS:-2}"
echo "== ours (C, CPU, $OMP_NUM_THREADS threads): ${ARGS[*]}"
ours=$(build/bench/step_bench "${ARGS[@]}")
echo "$ours"
TORCH_PY=
for p in "${PYTHON:-python3}" python3 /usr/bin/python3; do
  if "$p" -c 'import torch' 2>/dev/null; then TORCH_PY=$p; break; fi
done
if [ -z "$TORCH_PY" ]; then
  echo "== PyTorch: not importable here; no comparison"
  exit 0
fi
echo "== PyTorch (DF-GAN's loop, float32, $OMP_NUM_THREADS threads)"
theirs=$("$TORCH_PY" bench/dfgan_step_torch.py "${ARGS[@]}" --threads "$OMP_NUM_THREADS")
echo "$theirs"
a=$(awk '$1=="step_s"{print $2}' <<<"$ours"); b=$(awk '$1=="step_s"{print $2}' <<<"$theirs")
ma=$(awk '$1=="peak_rss_mb"{print $2}' <<<"$ours"); mb=$(awk '$1=="peak_rss_mb"{print $2}' <<<"$theirs")
awk -v a="$a" -v b="$b" -v ma="$ma" -v mb="$mb" 'BEGIN {
  printf "== step (best of the steps): ours %.3f s, PyTorch %.3f s, PyTorch/ours %.2fx (target >= 2x)\n", a, b, b / a
  printf "== peak RSS: ours %.0f MB, PyTorch %.0f MB\n", ma, mb }'
