#!/usr/bin/env bash
# bench/run.sh: `make bench`. One full DF-GAN training step (D step + G step) at imsize 64, nf 16,
# batch 16, cond 256, z 100 on 2 threads: ours (build/bench/step_bench) and, when PyTorch imports,
# DF-GAN's own loop in PyTorch, in the same run. Prints both times, the ratio, our GFLOP/s against
# an sgemm peak measured in the same run, and each side's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=(--imsize "${IMSIZE:-64}" --nf "${NF:-16}" --batch "${BATCH:-16}" --cond 256 --z 100 --steps "${STEPS:-5}")
export OMP_NUM_THREADS="${THREADS:-2}"
# This workplace pins OpenBLAS to its Haswell (AVX2) kernels through OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE, because some old builds misbehave elsewhere; PyTorch's oneDNN picks AVX-512
# kernels regardless. For the benchmark alone both variables are unset (tests and CI keep them) once
# the op checks pass with the kernels OpenBLAS then chooses; otherwise the pinned kernels are kept.
if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ] && [ -z "${KEEP_OPENBLAS_ENV:-}" ]; then
  if env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/test/gradcheck >/dev/null 2>&1; then
    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
    echo "== OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for the benchmark (op checks pass with OpenBLAS's own choice)"
  else
    echo "== op checks fail without OPENBLAS_CORETYPE: keeping the pinned kernels"
  fi
fi
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
# PyTorch runs twice, with libgomp's default wait policy and with the passive one our tools use;
# its better time is the one compared (the conservative choice).
echo "== PyTorch (DF-GAN's loop, float32, $OMP_NUM_THREADS threads)"
t1=$("$TORCH_PY" bench/dfgan_step_torch.py "${ARGS[@]}" --threads "$OMP_NUM_THREADS")
t2=$(OMP_WAIT_POLICY=passive "$TORCH_PY" bench/dfgan_step_torch.py "${ARGS[@]}" --threads "$OMP_NUM_THREADS")
echo "$t1"; echo "(OMP_WAIT_POLICY=passive) $(tr '\n' ' ' <<<"$t2")"
if awk -v a="$(awk '$1=="step_s"{print $2}' <<<"$t1")" -v b="$(awk '$1=="step_s"{print $2}' <<<"$t2")" 'BEGIN{exit !(b < a)}'; then
  theirs=$t2
else
  theirs=$t1
fi
a=$(awk '$1=="step_s"{print $2}' <<<"$ours"); b=$(awk '$1=="step_s"{print $2}' <<<"$theirs")
ma=$(awk '$1=="peak_rss_mb"{print $2}' <<<"$ours"); mb=$(awk '$1=="peak_rss_mb"{print $2}' <<<"$theirs")
awk -v a="$a" -v b="$b" -v ma="$ma" -v mb="$mb" 'BEGIN {
  printf "== step (best of the steps): ours %.3f s, PyTorch %.3f s, PyTorch/ours %.2fx (target >= 2x)\n", a, b, b / a
  printf "== peak RSS: ours %.0f MB, PyTorch %.0f MB\n", ma, mb }'
