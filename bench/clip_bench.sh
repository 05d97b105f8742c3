#!/usr/bin/env bash
# bench/clip_bench.sh: CLIP ViT-B/32 (random weights) on the CPU, ours against PyTorch (open_clip,
# float32) in the same run: image forward + backward to the input (clip-embed loss) for BATCH
# (16) images at SIZE (256) px, and text forward (clip-embed text) for CAPTIONS (256) captions of
# tokenize --clip ids. Our times are the tools' wall times, best of REPS (3) runs each, which
# include reading the 600 MB of weights; that load is also timed apart (`load_s`: a run on an
# empty stream), for the file as clip-embed --init writes it (arrays 64-byte aligned: mapped in
# place) and as np.savez writes the same arrays (`load_np_s`: misaligned arrays are copied).
# PyTorch's times are best of 2 (bench/clip_bench_torch.py) and exclude building its model.
# Peak memory from /usr/bin/time when present (for PyTorch, getrusage). The target: ours, with
# the load, at most half of PyTorch's time for image + text together. Without PyTorch and open_clip
# (clip_ref.py imports open_clip.model as open_clip_torch installs it) ours runs alone and the
# comparison is said to be missing, as without PyTorch. CLIP_INIT (clip-embed --init's sizes, default
# ViT-B/32's) makes a smaller model for a quick run, compared with nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${BATCH:-16}; SIZE=${SIZE:-256}; CAPTIONS=${CAPTIONS:-256}; REPS=${REPS:-3}
export OMP_NUM_THREADS="${THREADS:-2}"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
PY=${PYTHON:-/usr/bin/python3}
read -r -a INIT <<< "${CLIP_INIT:-}"
EMBED=512
for ((i = 0; i + 1 < ${#INIT[@]}; i++)); do [ "${INIT[i]}" != --embed-dim ] || EMBED=${INIT[i + 1]}; done
bin/clip-embed --init --seed 1 "${INIT[@]}" -o "$W/clip.npz"
"$PY" - "$W" "$BATCH" "$SIZE" "$CAPTIONS" "$EMBED" <<'PYEOF'
import sys, numpy as np
w, B, S, N, E = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = np.random.default_rng(0)
np.save(f"{w}/images.npy", rng.uniform(-1, 1, (B, 3, S, S)).astype(np.float32))
np.save(f"{w}/empty.npy", np.zeros((0, 3, S, S), np.float32))
t = rng.standard_normal((B, E)).astype(np.float32); np.save(f"{w}/text.npy", t / np.linalg.norm(t, axis=1, keepdims=True))
np.save(f"{w}/text0.npy", np.zeros((0, E), np.float32))
words = "a small bird with red head and black wings this is blue yellow white belly short beak long tail perched on branch".split()
with open(f"{w}/captions.txt", "w") as f:
    for i in range(N): f.write(" ".join(rng.choice(words, rng.integers(8, 25))) + "\n")
z = np.load(f"{w}/clip.npz")
np.savez(f"{w}/clip_np.npz", **{k: z[k] for k in z.files})
PYEOF
bin/tokenize --clip < "$W/captions.txt" > "$W/ids.npy"
timeit() {   # prints the best seconds of REPS runs of "$@" and the peak MB of the best run
  local s e t rss best="" best_rss="?"
  for _ in $(seq "$REPS"); do
    rss=""
    s=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then /usr/bin/time -f '%M' -o "$W/rss" "$@" > /dev/null; rss=$(( $(cat "$W/rss") / 1024 ))
    else "$@" > /dev/null; fi
    e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; best_rss=${rss:-?}; fi
  done
  echo "$(awk -v t="$best" 'BEGIN{printf "%.3f", t}') $best_rss"
}
echo "== ours (C, CPU, $OMP_NUM_THREADS threads): ${CLIP_INIT:-ViT-B/32}, $BATCH images at ${SIZE}px, $CAPTIONS captions; best of $REPS"
read -r load load_mb < <(timeit bin/clip-embed loss --weights "$W/clip.npz" --text "$W/text0.npy" --log /dev/null -o /dev/null --in "$W/empty.npy")
read -r load_np load_np_mb < <(timeit bin/clip-embed loss --weights "$W/clip_np.npz" --text "$W/text0.npy" --log /dev/null -o /dev/null --in "$W/empty.npy")
read -r img img_mb < <(timeit bin/clip-embed loss --weights "$W/clip.npz" --text "$W/text.npy" --log /dev/null -o /dev/null --in "$W/images.npy")
read -r txt txt_mb < <(timeit bin/clip-embed text --weights "$W/clip.npz" --in "$W/ids.npy" -o /dev/null)
echo "load_s $load (peak ${load_mb} MB; weights as clip-embed --init writes them, mapped)"
echo "load_np_s $load_np (peak ${load_np_mb} MB; the same weights as np.savez writes them)"
echo "image_fwd_bwd_s $img (incl. load; peak ${img_mb} MB)"
echo "text_fwd_s $txt (incl. load; peak ${txt_mb} MB)"
if ! "$PY" -c 'import torch' 2>/dev/null; then echo "== PyTorch: not importable; no comparison"; exit 0; fi
if ! "$PY" -c 'import sys; sys.path.insert(0, "test/reference"); from clip_ref import import_open_clip_model; import_open_clip_model()' >/dev/null 2>&1; then
  echo "== open_clip: not importable with PyTorch (pip install open_clip_torch --no-deps); no comparison"; exit 0
fi
if [ -n "${CLIP_INIT:-}" ]; then echo "== CLIP_INIT: not ViT-B/32; no comparison"; exit 0; fi
echo "== PyTorch (open_clip, float32, $OMP_NUM_THREADS threads)"
theirs=$("$PY" bench/clip_bench_torch.py --batch "$BATCH" --size "$SIZE" --ids "$W/ids.npy" --threads "$OMP_NUM_THREADS")
echo "$theirs"
ti=$(awk '$1=="image_s"{print $2}' <<<"$theirs"); tt=$(awk '$1=="text_s"{print $2}' <<<"$theirs")
awk -v a="$img" -v b="$ti" -v c="$txt" -v d="$tt" -v l="$load" 'BEGIN{
  printf "image: ours/PyTorch %.2f (%.2f without the load)\n", a / b, (a - l) / b
  printf "text:  ours/PyTorch %.2f (%.2f without the load)\n", c / d, (c - l) / d
  printf "image + text: ours/PyTorch %.2f (%.2f without the loads; target <= 0.5 with them)\n", (a + c) / (b + d), (a + c - 2 * l) / (b + d) }'
