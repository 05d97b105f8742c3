#!/usr/bin/env bats
# test/clip_train.bats: bin/clip-train (CLIP's contrastive training) against the fixtures of
# test/reference/clip_train_ref.py (a minimal CLIP after OpenAI's model.py in float64, trained with
# torch.optim.AdamW and open_clip's groups; tiny config: image width 16, text width 24, 2 layers
# each, heads of width 8, patch 4, image 16, context 16, vocab 64, embed 8): the loss, every weight
# gradient of both towers and of logit_scale within 1e-4 (rel L2 per tensor) at the start and after
# one step, and the weights after two AdamW steps (with warm-up); the logit_scale clamp, the lr
# schedule, learning from random weights, resuming after a kill -9, the retrieval accuracy of eval,
# and the manners. `make goldens` remakes the fixtures.

load helpers

FIX="$BATS_TEST_DIRNAME/fixtures/clip_train"
W="$FIX/weights.npz"
HW=(--head-width 8)
# the fixture's optimiser: lr 1e-2 with 2 warm-up steps (5e-3, then 1e-2); open_clip's betas, eps, wd
OPT=(--lr 1e-2 --warmup 2)

setup() {
  common_setup
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

# the fixture's first batch alone: im1.npy, id1.npy
first_batch() {
  py '
f, g = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
np.save("im1.npy", np.load(f)); np.save("id1.npy", np.load(g))' "$FIX/images.npy" "$FIX/ids.npy"
}

# N batches of 4 random pairs in im.npy, id.npy (seed S), captions as the fixture's
make_batches() {
  py '
n, s = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(s)
with open("im.npy", "wb") as fi, open("id.npy", "wb") as fd:
    for _ in range(n):
        np.save(fi, rng.uniform(-1, 1, (4, 3, 16, 16)).astype(np.float32))
        ids = np.zeros((4, 16), np.int32)
        for b in range(4):
            k = int(rng.integers(1, 12)); ids[b, 0] = 62; ids[b, 1:1 + k] = rng.integers(1, 62, k); ids[b, 1 + k] = 63
        np.save(fd, ids)' "$1" "$2"
}

@test "clip-train --help prints the usage on stdout and exits 0" {
  run --separate-stderr clip-train --help
  assert_ok
  [[ "$output" == usage:* ]]
  [[ "$output" == *--state* && "$output" == *eval* ]]
  [ -z "$stderr" ]
}

# ---------------------------------------------------------------- parity with PyTorch

@test "parity: the loss and every weight gradient of both towers within 1e-4 of the float64 reference" {
  first_batch
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" "${OPT[@]}" --images im1.npy --ids id1.npy \
    --dump-grads g1.npz --log log.jsonl -o out.npz
  assert_ok
  [ -z "$stderr" ]
  run CMP g1.npz "$FIX/expected.npz" --map =grad.1. --tol 1e-4
  echo "$output"; echo "# grads step 1: ${lines[-1]}" >&3
  assert_ok
  # every parameter has its gradient (62 tensors), logit_scale's among them
  py '
g, e = np.load("g1.npz"), np.load(sys.argv[1])
assert len(g.files) == 62 and "logit_scale" in g.files, g.files
assert sorted("grad.1." + k for k in g.files) == sorted(k for k in e.files if k.startswith("grad.1."))' "$FIX/expected.npz"
  run py '
import json
r = json.loads(open("log.jsonl").read()); e = float(np.load(sys.argv[1])["loss.1"])
print("loss %.9f reference %.9f rel err %.1e" % (r["loss"], e, abs(r["loss"] - e) / e))
sys.exit(0 if r["batch"] == 1 and abs(r["loss"] - e) <= 1e-6 * e and abs(r["lr"] - 5e-3) < 1e-12 else 1)' "$FIX/expected.npz"
  echo "$output"; echo "# $output" >&3
  assert_ok
}

@test "parity: two AdamW steps: the step-2 gradients within 1e-4, the weights moved as the reference's" {
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" "${OPT[@]}" --images "$FIX/images.npy" \
    --ids "$FIX/ids.npy" --dump-grads g2.npz --log log.jsonl -o out.npz
  assert_ok
  run CMP g2.npz "$FIX/expected.npz" --map =grad.2. --tol 1e-4
  echo "$output"; echo "# grads step 2: ${lines[-1]}" >&3
  assert_ok
  # the weights' change over the two steps (decay included) within 1e-4 per tensor. The key bias
  # (the middle third of in_proj_bias) has a gradient of exactly 0 (softmax ignores a constant
  # added to a query's scores): the reference's stays put; float32 rounding leaves noise that Adam's
  # normalisation turns into small steps, so there it is checked to stay well below a real step
  run py '
w0, out, e = np.load(sys.argv[1]), np.load("out.npz"), np.load(sys.argv[2])
assert sorted(out.files) == sorted(w0.files), "expected only OpenAI keys in the output"
worst, steps = 0, 5e-3 + 1e-2
for k in w0.files:
    d = out[k].astype(np.float64) - w0[k]; r = e["delta.2." + k].astype(np.float64)
    if k.endswith("in_proj_bias"):
        D = len(d) // 3
        assert np.abs(d[D:2 * D]).max() < 0.25 * steps, (k, np.abs(d[D:2 * D]).max())
        d, r = np.r_[d[:D], d[2 * D:]], np.r_[r[:D], r[2 * D:]]
    err = np.linalg.norm(d - r) / np.linalg.norm(r)
    assert err <= 1e-4, (k, err)
    worst = max(worst, err)
ls = float(out["logit_scale"]); els = float(e["logit_scale.2"])
assert abs(ls - els) < 1e-6, (ls, els)
print("weight change worst rel err %.1e, logit_scale %.7f (reference %.7f)" % (worst, ls, els))' "$W" "$FIX/expected.npz"
  echo "$output"; echo "# $output" >&3
  assert_ok
  py '
import json
r = [json.loads(l) for l in open("log.jsonl")]; e = np.load(sys.argv[1])
assert [x["batch"] for x in r] == [1, 2] and [x["lr"] for x in r] == [5e-3, 1e-2], r
for k in (1, 2):
    assert abs(r[k - 1]["loss"] - float(e["loss.%d" % k])) <= 1e-5 * float(e["loss.%d" % k]), (r, k)' "$FIX/expected.npz"
}

@test "logit_scale is clamped to [0, ln 100] after the step; the output is what clip-embed reads" {
  first_batch
  for v in 5.0 -1.0; do
    py '
z = dict(np.load(sys.argv[1])); z["logit_scale"] = np.array(float(sys.argv[2]), np.float32); np.savez("w.npz", **z)' "$W" "$v"
    clip-train train --weights w.npz "${HW[@]}" --images im1.npy --ids id1.npy --log log.jsonl -o out.npz
    py '
import json, math
ls = float(np.load("out.npz")["logit_scale"]); used = json.loads(open("log.jsonl").readlines()[-1])["logit_scale"]
want = np.float32(math.log(100)) if float(sys.argv[1]) > 0 else 0.0
assert ls == want and used == float(sys.argv[1]), (ls, want, used)' "$v"
  done
  run --separate-stderr clip-embed text --weights out.npz "${HW[@]}" -o t.npy --in id1.npy
  assert_ok
  py 'assert np.load("t.npy").shape == (4, 8)'
}

@test "the learning rate: linear warm-up, then cosine to 0 at --cosine, 0 after (open_clip's cosine_lr)" {
  make_batches 5 1
  clip-train train --weights "$W" "${HW[@]}" --lr 0.1 --warmup 2 --cosine 4 --images im.npy --ids id.npy --log log.jsonl -o out.npz
  py '
import json
lr = [json.loads(l)["lr"] for l in open("log.jsonl")]
want = [0.05, 0.1, 0.1, 0.1 * (1 + np.cos(np.pi / 2)) / 2, 0]
assert np.allclose(lr, want, rtol=1e-12, atol=1e-15), (lr, want)'
}

@test "from clip-embed --init's random weights: the loss of a repeated batch falls" {
  first_batch
  clip-embed --init --embed-dim 8 --width 16 --layers 2 --patch 4 --image-size 16 --text-width 24 --text-layers 2 \
    --context 16 --vocab 64 --head-width 8 --seed 3 -o init.npz
  py '
im, ids = np.load("im1.npy"), np.load("id1.npy")
with open("rim.npy", "wb") as f, open("rid.npy", "wb") as g:
    for _ in range(40): np.save(f, im); np.save(g, ids)'
  clip-train train --weights init.npz "${HW[@]}" --lr 1e-3 --images rim.npy --ids rid.npy --log log.jsonl -o out.npz
  run py '
import json
r = [json.loads(l) for l in open("log.jsonl")]
print("loss %.4f -> %.6f, acc %.2f -> %.2f" % (r[0]["loss"], r[-1]["loss"], r[0]["acc"], r[-1]["acc"]))
sys.exit(0 if r[-1]["loss"] < 0.05 * r[0]["loss"] and r[-1]["acc"] == 1 else 1)'
  echo "$output"; echo "# $output" >&3
  assert_ok
  run clip-train eval --weights out.npz "${HW[@]}" --images im1.npy --ids id1.npy
  assert_ok
  [ "$output" = $'image_to_text_top1 1.000000\ntext_to_image_top1 1.000000\npairs 4' ]
}

# ---------------------------------------------------------------- resuming

@test "--state: a run stopped after 2 batches and resumed on the same streams ends bit-identical" {
  make_batches 5 2
  clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids id.npy --state s_all.npz --save-every 2 -o all.npz 2> all.log
  # the first run sees only 2 batches, the second the whole streams again
  py '
f, g = open("im.npy", "rb"), open("id.npy", "rb")
with open("im2.npy", "wb") as a, open("id2.npy", "wb") as b:
    for _ in range(2): np.save(a, np.load(f)); np.save(b, np.load(g))'
  clip-train train --weights "$W" "${HW[@]}" --images im2.npy --ids id2.npy --state s.npz --save-every 2 -o part.npz 2> /dev/null
  py 'assert int(np.load("s.npz")["adam.step"]) == 2'
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids id.npy --state s.npz --save-every 2 -o resumed.npz
  assert_ok
  # steps 3..5 only, numbered on from the state
  [ "${#stderr_lines[@]}" -eq 3 ]
  [[ "${stderr_lines[0]}" == "clip-train: batch 3 loss "* ]]
  [ "$(tail -n 3 all.log)" = "$stderr" ]
  cmp all.npz resumed.npz
  cmp s_all.npz s.npz
  py 'assert int(np.load("s.npz")["adam.step"]) == 5'
  # a finished state: nothing left to train, the output written again
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids id.npy --state s.npz -o again.npz
  assert_ok
  [ -z "$stderr" ]
  cmp all.npz again.npz
  # the state is a CLIP that clip-embed reads (its Adam state ignored)
  clip-embed text --weights s.npz "${HW[@]}" --in id2.npy -o t.npy
}

@test "kill -9 during training: no clip.npz, no temp file, the state intact; the rerun ends as an uninterrupted run" {
  make_batches 9 3
  clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids id.npy -o want.npz 2> /dev/null
  # feed 7 batches through FIFOs and hold them open: training blocks on batch 8, after the state of step 5
  mkfifo fim fid
  py '
import io, time
def put(out, arr):   # np.save needs a seekable file; a FIFO gets the bytes
    buf = io.BytesIO(); np.save(buf, arr); out.write(buf.getvalue()); out.flush()
f, g = open("im.npy", "rb"), open("id.npy", "rb")
with open("fim", "wb") as a, open("fid", "wb") as b:
    for _ in range(7):
        put(a, np.load(f)); put(b, np.load(g))
    time.sleep(60)' &
  writer=$!
  clip-train train --weights "$W" "${HW[@]}" --images fim --ids fid --state s.npz --save-every 5 -o out.npz 2> run.log &
  pid=$!
  for _ in $(seq 400); do [ "$(wc -l < run.log)" -ge 7 ] && break; sleep 0.05; done
  kill -9 "$pid"
  wait "$pid" || true
  kill "$writer"; wait "$writer" || true
  [ "$(wc -l < run.log)" -eq 7 ]
  [ ! -e out.npz ]
  assert_no_temp .
  py 'assert int(np.load("s.npz")["adam.step"]) == 5'
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids id.npy --state s.npz --save-every 5 -o out.npz
  assert_ok
  [ "${#stderr_lines[@]}" -eq 4 ]
  cmp want.npz out.npz
}

# ---------------------------------------------------------------- eval

@test "eval: image->text and text->image top-1 as clip-embed's cosines give them; equal captions count as one" {
  # the fixture's second batch has two equal captions (rows 1 and 3)
  run --separate-stderr clip-train eval --weights "$W" "${HW[@]}" --images "$FIX/images.npy" --ids "$FIX/ids.npy"
  assert_ok
  [ -z "$stderr" ]
  clip-embed image --weights "$W" "${HW[@]}" --in "$FIX/images.npy" -o fi.npy
  clip-embed text --weights "$W" "${HW[@]}" --in "$FIX/ids.npy" -o ft.npy
  py '
def stream(p):
    f, out = open(p, "rb"), []
    while True:
        try: out.append(np.load(f))
        except Exception: return np.concatenate(out)
I, T, ids = stream("fi.npy").astype(np.float64), stream("ft.npy").astype(np.float64), stream(sys.argv[1])
S = I @ T.T
key = [tuple(r[:r.argmax() + 1]) for r in ids]
assert key[5] == key[7] and len(set(key)) == 7
i2t = np.mean([key[S[i].argmax()] == key[i] for i in range(8)])
t2i = np.mean([key[S[:, j].argmax()] == key[j] for j in range(8)])
want = "image_to_text_top1 %.6f\ntext_to_image_top1 %.6f\npairs 8" % (i2t, t2i)
assert sys.argv[2] == want, (sys.argv[2], want)' "$FIX/ids.npy" "$output"
}

# ---------------------------------------------------------------- manners

@test "errors: one line, exit 2, nothing written" {
  first_batch
  run --separate-stderr clip-train
  assert_fails 2 "clip-train: expected a command (train or eval), found none (see --help)"
  run --separate-stderr clip-train frob
  assert_fails 2 "clip-train: expected a command (train or eval), found 'frob'"
  run --separate-stderr clip-train train --weights "$W" --images im1.npy --ids id1.npy
  assert_fails 2 "clip-train: expected --weights, --images, --ids and -o with train, found -o missing"
  run --separate-stderr clip-train eval --weights "$W" --images im1.npy --ids id1.npy --lr 1
  assert_fails 2 "clip-train: expected --lr only with train, found it with eval"
  run --separate-stderr clip-train train --weights "$W" --images im1.npy --ids id1.npy -o o.npz --warmup 5 --cosine 5
  assert_fails 2 "clip-train: expected --cosine after the --warmup steps (5), found 5"
  run --separate-stderr clip-train train --weights "$W" --images im1.npy --ids id1.npy -o o.npz --state o.npz
  assert_fails 2 "clip-train: expected different paths for -o, --state and --dump-grads, found 'o.npz' twice"
  run --separate-stderr clip-train train --weights "$W" --images im1.npy --ids im1.npy -o o.npz
  assert_fails 2 "clip-train: expected --images and --ids to be different streams, found 'im1.npy' twice"
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im1.npy --ids id1.npy -o nodir/o.npz
  assert_fails 2 "clip-train: -o: expected a writable folder for 'nodir/o.npz', found 'nodir': No such file or directory"
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im1.npy --ids id1.npy -o o.npz --state nodir/s.npz
  assert_fails 2 "clip-train: --state: expected a writable folder for 'nodir/s.npz', found 'nodir': No such file or directory"
  run --separate-stderr clip-train train --weights "$W" --images im1.npy --ids id1.npy -o o.npz
  assert_fails 2 "*expected widths divisible by the head width 64, found 16 (image) and 24 (text)"
  # streams that do not fit
  py '
np.save("one_im.npy", np.load("im1.npy")[:1]); np.save("one_id.npy", np.load("id1.npy")[:1])
np.save("id3.npy", np.load("id1.npy")[:3])
b = np.load("id1.npy"); b[2, 4] = 64; np.save("bad_id.npy", b)
np.save("long_id.npy", np.zeros((4, 17), np.int32))
with open("id_more.npy", "wb") as f: np.save(f, np.load("id1.npy")); np.save(f, np.load("id1.npy"))'
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images one_im.npy --ids one_id.npy -o o.npz
  assert_fails 2 "clip-train: --images: expected batches of at least 2 pairs (the loss contrasts each with the others), found 1 in array 0"
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im1.npy --ids id3.npy -o o.npz
  assert_fails 2 "clip-train: --ids: expected (4,L) token ids for image array 0, found (3,16) in array 0"
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im1.npy --ids bad_id.npy -o o.npz
  assert_fails 2 "clip-train: --ids: expected token ids in [0,64), found 64 in row 2 in array 0"
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im1.npy --ids long_id.npy -o o.npz
  assert_fails 2 "clip-train: --ids: expected at most 16 tokens per caption (the context), found 17 in array 0"
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im1.npy --ids id_more.npy --log log.jsonl -o o.npz
  assert_fails 2 "clip-train: --ids: expected as many arrays as --images (1), found more"
  cp id1.npy idc.npy
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images idc.npy --ids id1.npy -o o.npz
  assert_fails 2 "clip-train: --images: expected float32 (B,3,H,W), found int32 (4,16) in array 0"
  [ ! -e o.npz ]
  assert_no_temp .
}

@test "errors: a state that has trained on more batches than the streams hold; a bad id after some steps" {
  make_batches 3 4
  clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids id.npy --state s.npz -o o.npz 2> /dev/null
  first_batch
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im1.npy --ids id1.npy --state s.npz -o o2.npz
  assert_fails 2 "clip-train: --images: expected at least the 3 batches that --state 's.npz' has trained on, found 1"
  # a bad id in the third batch: the steps before it are logged, no output is written
  py '
f = open("id.npy", "rb"); a = [np.load(f) for _ in range(3)]; a[2][0, 0] = -1
with open("idbad.npy", "wb") as g:
    for x in a: np.save(g, x)'
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids idbad.npy --log log.jsonl -o o3.npz
  [ "$status" -eq 2 ]
  [ "${stderr}" = "clip-train: --ids: expected token ids in [0,64), found -1 in row 0 in array 2" ]
  [ "$(wc -l < log.jsonl)" -eq 2 ]
  [ ! -e o2.npz ] && [ ! -e o3.npz ]
  assert_no_temp .
}

@test "the pipeline's streams: bin/batches crops, flips and draws captions from the caches, epochs concatenated" {
  # a square uint8 cache of 8 images 20x20 and K=2 captions per image as CLIP token ids
  py '
rng = np.random.default_rng(5)
np.save("cache.npy", rng.integers(0, 256, (8, 3, 20, 20), dtype=np.uint8))
ids = np.zeros((16, 16), np.int32)
for r in range(16):
    k = int(rng.integers(1, 12)); ids[r, 0] = 62; ids[r, 1:1 + k] = rng.integers(1, 62, k); ids[r, 1 + k] = 63
np.save("clip_ids.npy", ids)'
  args=(--cache cache.npy --emb clip_ids.npy --imsize 16 --batch 4 --seed 1)
  run --separate-stderr clip-train train --weights "$W" "${HW[@]}" --log log.jsonl -o out.npz \
    --images <(for e in 0 1 2; do batches "${args[@]}" --epoch $e --images - --cond /dev/null; done) \
    --ids <(for e in 0 1 2; do batches "${args[@]}" --epoch $e --images /dev/null --cond -; done)
  assert_ok
  # 3 epochs of 2 batches; the same as the epochs' files one after the other
  [ "$(wc -l < log.jsonl)" -eq 6 ]
  for e in 0 1 2; do batches "${args[@]}" --epoch $e --images im$e.npy --cond id$e.npy; done
  cat im0.npy im1.npy im2.npy > im.npy
  cat id0.npy id1.npy id2.npy > id.npy
  clip-train train --weights "$W" "${HW[@]}" --images im.npy --ids id.npy -o files.npz 2> /dev/null
  cmp out.npz files.npz
}
