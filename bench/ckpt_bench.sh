#!/usr/bin/env bash
# bench/ckpt_bench.sh: the memory and time of importing a large PyTorch checkpoint with bin/ckpt:
# a ~600 MB state dict (float32 and float16 tensors, torch's zip format) written by PyTorch, then
# `ckpt import` under /usr/bin/time; target: peak memory at most twice the file size.
# Needs PyTorch to write the file (skipped otherwise). MB=600 bench/ckpt_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${MB:-600}"
TP=
for p in "${PYTHON:-python3}" python3 /usr/bin/python3; do
  if "$p" -c 'import torch' 2>/dev/null; then TP=$p; break; fi
done
if [ -z "$TP" ]; then echo "== ckpt: PyTorch not importable here; no checkpoint to import"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TP" - "$tmp/big.pth" "$MB" <<'PY'
import sys, torch
from collections import OrderedDict
path, mb = sys.argv[1], int(sys.argv[2])
g = torch.Generator().manual_seed(0)
sd, total, i = OrderedDict(), 0, 0
while total < mb * 2**20:
    t = torch.randn(1024, 4096, generator=g)
    if i % 4 == 3:
        t = t.half()
    sd['layers.%d.weight' % i] = t
    total += t.numel() * t.element_size()
    i += 1
torch.save(sd, path)
PY
size=$(stat -c %s "$tmp/big.pth")
/usr/bin/time -f '%M %e' -o "$tmp/time" bin/ckpt import "$tmp/big.pth" -o "$tmp/big.npz"
read -r kb secs < "$tmp/time"
awk -v s="$size" -v kb="$kb" -v t="$secs" 'BEGIN {
  printf "== ckpt import of a %.0f MB torch checkpoint: %.2f s, peak RSS %.0f MB = %.2fx the file (target <= 2x)\n",
         s / 2^20, t, kb / 1024, kb * 1024 / s }'
