#!/usr/bin/env bash
# bench/text_bench.sh: captions to DAMSM sentence embeddings, N captions (default 100,000):
# ours = bin/tokenize --vocab piped into bin/encode-text (whole processes, weights loaded inside),
# PyTorch = DF-GAN's tokenisation in Python and RNN_ENCODER (bench/text_bench_torch.py, weights
# loaded before the clock starts), the same batches, same weights, same thread count. Target: ours
# at least 2x PyTorch's throughput. Also the memory of importing a checkpoint (bin/ckpt) against
# its size. Not part of `make test`.   N=100000 BATCH=1000 THREADS=2 bench/text_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100000}" BATCH="${BATCH:-1000}"
export OMP_NUM_THREADS="${THREADS:-2}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# captions: the built-in dataset's generated captions, repeated to N lines
bin/make-dataset --out "$tmp/ds" --images 200 --seed 1 2>/dev/null
find "$tmp/ds/text" -name '*.txt' | sort | xargs cat | grep -v '^$' > "$tmp/base.txt"
awk -v n="$N" '{ l[NR] = $0 } END { for (i = 0; i < n; i++) print l[i % NR + 1] }' "$tmp/base.txt" > "$tmp/caps.txt"
bin/tokenize --build-vocab -o "$tmp/vocab.txt" "$tmp/base.txt"
bin/encode-text --init --vocab-size "$(wc -l < "$tmp/vocab.txt")" --seed 1 -o "$tmp/damsm.npz"
best=
for _ in 1 2; do
  t0=$(date +%s.%N)
  bin/tokenize --vocab "$tmp/vocab.txt" --first --batch "$BATCH" "$tmp/caps.txt" | bin/encode-text --weights "$tmp/damsm.npz" > "$tmp/sent.npy"
  t1=$(date +%s.%N)
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  best=$(awk -v a="$s" -v b="${best:-1e9}" 'BEGIN { print (a < b) ? a : b }')
done
echo "== text: $N captions to DAMSM sentence embeddings, batches of $BATCH, $OMP_NUM_THREADS threads"
echo "   ours (tokenize | encode-text, whole processes)  $best s  $(awk -v n="$N" -v s="$best" 'BEGIN { printf "%.0f", n / s }') captions/s"
TP=
for p in "${PYTHON:-python3}" python3 /usr/bin/python3; do
  if "$p" -c 'import torch' 2>/dev/null; then TP=$p; break; fi
done
if [ -n "$TP" ]; then
  theirs=$("$TP" bench/text_bench_torch.py "$tmp/caps.txt" "$tmp/vocab.txt" "$tmp/damsm.npz" "$BATCH" "$OMP_NUM_THREADS")
  ts=$(awk '$1=="seconds"{print $2}' <<<"$theirs")
  echo "   PyTorch (DF-GAN's tokenisation + RNN_ENCODER)  $ts s  $(awk '$1=="captions_per_s"{print $2}' <<<"$theirs") captions/s"
  awk -v a="$best" -v b="$ts" 'BEGIN { printf "== text: ours %.2fx PyTorch'"'"'s throughput (target >= 2x)\n", b / a }'
else
  echo "   PyTorch: not importable here; no comparison"
fi
