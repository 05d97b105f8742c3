#!/usr/bin/env bats
# clip.bats: CLIP on the GPU (make test-gpu) or on the CUDA emulation (make test), see gpu.bash.
# CLIP's CUDA ops against their CPU twins (gpu_clip_check, from test/c/gpu_clip_check.c), then
# clip-embed --device cuda against the PyTorch fixtures of test/fixtures/clip and against the CPU
# (text and image features, the loss, its gradient wrt the images, the score), on the tiny
# fixture config and on a random one with more heads, layers and captions.

load ../helpers
load gpu

FIX="$ROOT/test/fixtures/clip"
W="$FIX/weights.npz"
HW=(--head-width 8)

setup() {
  common_setup
  gpu_setup
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

# the fixture's three image arrays as im0.npy im1.npy im2.npy; PyTorch's normalised text features
# of the first 3 captions as tx.npy
split_images() {
  py '
f = open(sys.argv[1], "rb")
for k in range(3): np.save("im%d.npy" % k, np.load(f))
np.save("tx.npy", np.load(sys.argv[2])["text"][:3].astype(np.float32))' "$FIX/images.npy" "$FIX/expected.npz"
}

@test "gpu_clip_check: every CUDA op of CLIP matches its CPU twin" {
  gpu_check_passes gpu_clip_check
}

@test "cuda: text features match PyTorch and the CPU within 1e-4 (normalised and --raw)" {
  for dev in cpu cuda; do
    clip-embed text --device $dev --weights "$W" "${HW[@]}" -o t_$dev.npy < "$FIX/ids.npy"
    clip-embed text --device $dev --raw --weights "$W" "${HW[@]}" -o r_$dev.npy < "$FIX/ids.npy"
  done
  CMP t_cuda.npy "$FIX/expected.npz:text" --tol 1e-4
  CMP r_cuda.npy "$FIX/expected.npz:text_raw" --tol 1e-4
  CMP t_cuda.npy t_cpu.npy --tol 1e-4
  CMP r_cuda.npy r_cpu.npy --tol 1e-4
}

@test "cuda: image features, the loss and its gradient match PyTorch and the CPU (bicubic, bilinear, nearest)" {
  split_images
  modes=(bicubic bilinear nearest)
  for k in 0 1 2; do
    for dev in cpu cuda; do
      clip-embed image --device $dev --resize "${modes[$k]}" --raw --weights "$W" "${HW[@]}" < im$k.npy > i${k}_$dev.npy
      clip-embed loss --device $dev --resize "${modes[$k]}" --lambda 0.25 --text tx.npy --log l${k}_$dev.jsonl \
        --weights "$W" "${HW[@]}" -o g${k}_$dev.npy < im$k.npy
    done
    CMP i${k}_cuda.npy "$FIX/expected.npz:image_raw.$k" --tol 1e-4
    CMP i${k}_cuda.npy i${k}_cpu.npy --tol 1e-4
    CMP g${k}_cuda.npy "$FIX/expected.npz:grad.$k" --tol 1e-4
    CMP g${k}_cuda.npy g${k}_cpu.npy --tol 1e-4
    py '
import json
g, c = (json.loads(open(p).read()) for p in sys.argv[1:3])
e = np.load(sys.argv[3])
for k in ("clip_loss", "mean_cos"):
    ref = float(e[k.replace("clip_", "") + "." + sys.argv[4]])
    assert abs(g[k] - ref) <= 1e-6 and abs(g[k] - c[k]) <= 1e-6 * max(1, abs(c[k])), (k, g[k], c[k], ref)' \
      l${k}_cuda.jsonl l${k}_cpu.jsonl "$FIX/expected.npz" $k
  done
}

@test "cuda: clip-embed score prints what the CPU prints to 1e-4" {
  split_images
  for dev in cpu cuda; do
    clip-embed score --device $dev --text tx.npy --weights "$W" "${HW[@]}" < im0.npy > s_$dev.txt
  done
  py '
a, b = ({l.split()[0]: float(l.split()[1]) for l in open(p)} for p in sys.argv[1:3])
assert a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-4 * max(1, abs(b[k])) for k in a), (a, b)' s_cuda.txt s_cpu.txt
}

@test "cuda: a larger random CLIP (4 heads, 3 layers, 40 captions of mixed lengths, 12 images) agrees with the CPU" {
  clip-embed --init --seed 9 --jitter 0.05 --embed-dim 32 --width 64 --layers 3 --patch 8 --image-size 64 \
    --text-width 64 --text-layers 3 --context 20 --vocab 300 --head-width 16 -o w.npz
  py '
r = np.random.RandomState(1)
ids = r.randint(1, 250, (40, 20)).astype(np.int32)
for b in range(40): ids[b, r.randint(1, 20)] = 299        # the end token at mixed positions
ids[:10] = r.randint(1, 250, (10, 20)); ids[:10, 5] = 299; ids[:10, 6:] = 0   # a run of 10 of length 6
np.save("ids.npy", ids)
np.save("im.npy", r.uniform(-1, 1, (12, 3, 48, 40)).astype(np.float32))
np.save("tx.npy", r.randn(12, 32).astype(np.float32))'
  for dev in cpu cuda; do
    clip-embed text --device $dev --raw --weights w.npz --head-width 16 -o t_$dev.npy < ids.npy
    clip-embed image --device $dev --raw --weights w.npz --head-width 16 -o i_$dev.npy < im.npy
    clip-embed loss --device $dev --lambda 0.5 --text tx.npy --log /dev/null --weights w.npz --head-width 16 \
      -o g_$dev.npy < im.npy
  done
  CMP t_cuda.npy t_cpu.npy --tol 1e-4
  CMP i_cuda.npy i_cpu.npy --tol 1e-4
  CMP g_cuda.npy g_cpu.npy --tol 1e-4
}
