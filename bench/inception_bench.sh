#!/usr/bin/env bash
# bench/inception_bench.sh: inception-stats (FID variant) images per second on the CPU against
# pytorch-fid's InceptionV3 in PyTorch (float32), in the same run, on the same random weights and
# N images (64x64, resized to 299 by both). Ours: the better of two runs of bin/inception-stats
# (its own "images/s" line: the forward loop, weights already loaded); theirs: the best of two runs
# of two passes of the forward loop each (bench/inception_bench.py); the two sides take turns.
# Target: ours >= 1.5x.
# Needs numpy; PyTorch, torchvision and pytorch-fid for the comparison. Not part of `make test`.
#   N=64 BATCH=16 THREADS=2 bench/inception_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-64}" BATCH="${BATCH:-16}"
export OMP_NUM_THREADS="${THREADS:-2}" OPENBLAS_NUM_THREADS="${THREADS:-2}"
PY=
for p in "${PYTHON:-python3}" python3 /usr/bin/python3; do
  if "$p" -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "== inception: no Python with numpy here"; exit 0; }
[ -x bin/inception-stats ] || make bin/inception-stats
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" bench/inception_bench.py make "$tmp" "$N" 0
TP=
for p in "${PYTHON:-python3}" python3 /usr/bin/python3; do
  if "$p" -c 'import torch, torchvision, pytorch_fid' 2>/dev/null; then TP=$p; break; fi
done
# ours and PyTorch take turns, twice each (this VM's speed drifts by 10-30% over minutes): the better
# run of each side is compared
best=0 theirs=0
for _ in 1 2; do
  bin/inception-stats --weights "$tmp/w.npz" --batch "$BATCH" -o "$tmp/s.npz" "$tmp/in.npy" 2>"$tmp/err"
  ips=$(sed -n 's/.*, \([0-9.]*\) images\/s$/\1/p' "$tmp/err")
  best=$(awk -v a="$ips" -v b="$best" 'BEGIN { print (a > b) ? a : b }')
  if [ -n "$TP" ]; then
    t=$("$TP" bench/inception_bench.py torch "$tmp" "$BATCH" "$OMP_NUM_THREADS" | awk '$1=="torch_ips"{print $2}')
    theirs=$(awk -v a="$t" -v b="$theirs" 'BEGIN { print (a > b) ? a : b }')
  fi
done
echo "== inception-stats (FID Inception, $N images 64->299 px, batch $BATCH, $OMP_NUM_THREADS threads)"
echo "   ours  (C)       $best images/s"
if [ -z "$TP" ]; then echo "   PyTorch with torchvision and pytorch-fid: not importable here; no comparison"; exit 0; fi
echo "   PyTorch         $theirs images/s"
awk -v a="$best" -v b="$theirs" 'BEGIN { printf "   ours/PyTorch %.2fx (target >= 1.5x)\n", a / b }'
