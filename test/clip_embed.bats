#!/usr/bin/env bats
# test/clip_embed.bats: bin/clip-embed (OpenAI CLIP, ViT) against the fixtures of
# test/reference/clip_ref.py (open_clip's CLIP in float64, random weights, a tiny config: width 32,
# 2 layers, 4 heads of width 8, patch 8, image 32, context 77, vocab 1000, embed 16): text and
# image features within 1e-4 (rel L2), the gradient of the CLIP loss wrt the images within 1e-4
# for the three resize modes, the loss within 1e-6; the finite-difference checks of the new ops
# (build/test/clip_gradcheck); --init; real tokenizer ids; reading the weights (mapped in place,
# copied, byte-swapped, converted, inflated; corrupt files); and the manners. The fixtures come
# from `test/reference/clip_ref.py --only tiny` (`make goldens` remakes them). The full ViT-B/32
# parity is test/clip_full.bats.

load helpers

FIX="$BATS_TEST_DIRNAME/fixtures/clip"
W="$FIX/weights.npz"
HW=(--head-width 8)

setup() {
  common_setup
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

# split the fixture's image arrays into im0.npy im1.npy im2.npy, and the normalised text
# features of the first 3 captions (PyTorch's) into tx.npy
split_images() {
  py '
f = open(sys.argv[1], "rb")
for k in range(3): np.save("im%d.npy" % k, np.load(f))
np.save("tx.npy", np.load(sys.argv[2])["text"][:3].astype(np.float32))' "$FIX/images.npy" "$FIX/expected.npz"
}

@test "clip_gradcheck: layernorm, quickgelu, attention, resize forward and finite-difference gradients" {
  run clip_gradcheck
  echo "$output"
  assert_ok
  [[ "${lines[-1]}" == "all passed" ]]
}

@test "clip-embed --help prints the usage on stdout and exits 0" {
  run --separate-stderr clip-embed --help
  assert_ok
  [[ "$output" == usage:* ]]
  [[ "$output" == *--no-grad* ]]
  [ -z "$stderr" ]
}

# ---------------------------------------------------------------- parity with PyTorch

@test "parity: text features (normalised and --raw) within 1e-4 of open_clip's float64" {
  run --separate-stderr clip-embed text --weights "$W" "${HW[@]}" -o t.npy < "$FIX/ids.npy"
  assert_ok
  run CMP t.npy "$FIX/expected.npz:text" --tol 1e-4
  echo "$output"; echo "# text: ${lines[-1]}" >&3
  assert_ok
  clip-embed text --raw --weights "$W" "${HW[@]}" < "$FIX/ids.npy" > traw.npy
  CMP traw.npy "$FIX/expected.npz:text_raw" --tol 1e-4
}

@test "parity: image features for bicubic, bilinear and nearest resizing within 1e-4" {
  split_images
  modes=(bicubic bilinear nearest)
  for k in 0 1 2; do
    clip-embed image --resize "${modes[$k]}" --weights "$W" "${HW[@]}" < im$k.npy > i$k.npy
    run CMP i$k.npy "$FIX/expected.npz:image.$k" --tol 1e-4
    echo "$output"; echo "# image ${modes[$k]}: ${lines[-1]}" >&3
    assert_ok
    clip-embed image --raw --resize "${modes[$k]}" --weights "$W" "${HW[@]}" < im$k.npy > r$k.npy
    CMP r$k.npy "$FIX/expected.npz:image_raw.$k" --tol 1e-4
  done
}

@test "parity: the loss's gradient wrt the images within 1e-4 and the loss within 1e-6" {
  split_images
  modes=(bicubic bilinear nearest)
  for k in 0 1 2; do
    run --separate-stderr clip-embed loss --resize "${modes[$k]}" --lambda 0.25 --text tx.npy --log log$k.jsonl \
      --weights "$W" "${HW[@]}" -o g$k.npy < im$k.npy
    assert_ok
    [ -z "$stderr" ]
    run CMP g$k.npy "$FIX/expected.npz:grad.$k" --tol 1e-4
    echo "$output"; echo "# grad ${modes[$k]}: ${lines[-1]}" >&3
    assert_ok
    run py '
import json
rec = json.loads(open(sys.argv[1]).read())
e = np.load(sys.argv[2])
dl, dc = abs(rec["clip_loss"] - float(e["loss." + sys.argv[3]])), abs(rec["mean_cos"] - float(e["mean_cos." + sys.argv[3]]))
print("loss err %.2e mean cos err %.2e" % (dl, dc))
sys.exit(0 if rec["batch"] == 1 and dl <= 1e-6 and dc <= 1e-6 else 1)' log$k.jsonl "$FIX/expected.npz" $k
    echo "$output"; echo "# loss ${modes[$k]}: $output" >&3
    assert_ok
  done
}

@test "loss --no-grad writes zeros of the images' shape and logs the same loss; default lambda is 0.01" {
  split_images
  run --separate-stderr clip-embed loss --no-grad --text tx.npy --weights "$W" "${HW[@]}" -o z.npy < im0.npy
  assert_ok
  [[ "$stderr" == "clip-embed: batch 1 clip_loss "* ]]
  py '
z = np.load("z.npy"); e = np.load(sys.argv[1])
assert z.shape == (3, 3, 40, 40) and z.dtype == np.float32 and not z.any()
loss = float(sys.argv[2].split()[4])
assert abs(loss - float(e["loss.0"]) / 0.25 * 0.01) < 2e-6, (loss, e["loss.0"])' "$FIX/expected.npz" "$stderr"
}

@test "score prints 100*mean cos, torchmetrics' clip score and mean cos, over a stream of batches" {
  split_images
  # the same batch twice: the mean is unchanged
  cat im0.npy im0.npy > two.npy
  cat tx.npy tx.npy > tx2.npy
  run --separate-stderr clip-embed score --text tx2.npy --weights "$W" "${HW[@]}" < two.npy
  assert_ok
  [ "${#lines[@]}" -eq 3 ]
  [[ "${lines[0]}" == "clip_score "* && "${lines[1]}" == "clip_score_torchmetrics "* && "${lines[2]}" == "mean_cos "* ]]
  py '
e = float(np.load(sys.argv[1])["mean_cos.0"]); v = dict(l.split() for l in sys.argv[2].splitlines())
assert abs(float(v["mean_cos"]) - e) < 1e-6, (v, e)
assert abs(float(v["clip_score"]) - 100 * e) < 1e-4
assert abs(float(v["clip_score_torchmetrics"]) - 100 * max(e, 0)) < 1e-4' "$FIX/expected.npz" "$output"
  # --features-out: the same pass's image features, those of image --raw, one array per batch
  run --separate-stderr clip-embed score --text tx2.npy --weights "$W" "${HW[@]}" --features-out f.npy < two.npy
  assert_ok
  [ "${#lines[@]}" -eq 3 ]
  clip-embed image --raw --weights "$W" "${HW[@]}" < two.npy > raw.npy
  cmp f.npy raw.npy
  py 'f = open("f.npy", "rb"); a, b = np.load(f), np.load(f); assert a.shape == (3, 16) and np.array_equal(a, b)'
  run --separate-stderr clip-embed image --weights "$W" "${HW[@]}" --features-out f2.npy < two.npy
  assert_fails 2 "clip-embed: expected --features-out only with score, found it with image"
  run --separate-stderr clip-embed score --text tx2.npy --weights "$W" "${HW[@]}" --features-out - < two.npy
  assert_fails 2 "clip-embed: expected --features-out a file (score prints on stdout), found '-'"
  [ ! -e f2.npy ]
}

@test "text: tokens after the end token change nothing; int64 ids accepted" {
  py '
ids = np.load(sys.argv[1]).astype(np.int64)
j = ids.copy()
for b in range(len(j)):
    e = int(j[b].argmax()); j[b, e + 1:] = np.arange(1, j.shape[1] - e) % 7 + 3
np.save("a.npy", ids); np.save("b.npy", j)' "$FIX/ids.npy"
  clip-embed text --weights "$W" "${HW[@]}" < a.npy > fa.npy
  clip-embed text --weights "$W" "${HW[@]}" < b.npy > fb.npy
  CMP fa.npy fb.npy --tol 0
  CMP fa.npy "$FIX/expected.npz:text" --tol 1e-4
}

# ---------------------------------------------------------------- --init and real token ids

@test "--init writes OpenAI's keys at the given sizes; the model reads tokenize --clip ids" {
  run --separate-stderr clip-embed --init --seed 3 --width 16 --layers 1 --patch 16 --image-size 32 \
    --text-width 8 --text-layers 1 --embed-dim 4 --head-width 8 -o m.npz
  assert_ok
  py '
z = np.load("m.npz")
assert z["visual.conv1.weight"].shape == (16, 3, 16, 16)
assert z["visual.positional_embedding"].shape == (5, 16)
assert z["token_embedding.weight"].shape == (49408, 8) and z["positional_embedding"].shape == (77, 8)
assert z["text_projection"].shape == (8, 4) and z["visual.proj"].shape == (16, 4)
for k in ["visual.transformer.resblocks.0.attn.in_proj_weight", "transformer.resblocks.0.mlp.c_proj.bias",
          "visual.ln_post.weight", "ln_final.bias", "visual.class_embedding", "logit_scale"]: assert k in z, k
assert len(z.files) == 2 * 12 + 14 and all(z[k].dtype == np.float32 for k in z.files)
assert np.all(z["ln_final.weight"] == 1), z["ln_final.weight"]
assert abs(float(z["logit_scale"]) - np.log(1 / 0.07)) < 1e-6, z["logit_scale"]'
  printf 'a small bird with a red head\nthis bird is blue\n' | tokenize --clip > ids.npy
  run --separate-stderr clip-embed text --weights m.npz --head-width 8 -o f.npy < ids.npy
  assert_ok
  py 'f = np.load("f.npy"); assert f.shape == (2, 4) and np.allclose((f * f).sum(1), 1, atol=1e-5), f'
  # half-precision weights load (as float32)
  py 'z = dict(np.load("m.npz")); np.savez("h.npz", **{k: v.astype(np.float16) for k, v in z.items()})'
  run --separate-stderr clip-embed text --weights h.npz --head-width 8 -o g.npy < ids.npy
  assert_ok
}

# ---------------------------------------------------------------- reading the weights

@test "weights: npz_write starts every array on 64 bytes; mapped, copied, swapped, deflated files agree" {
  clip-embed --init --seed 5 --jitter 0.05 --width 16 --layers 1 --patch 16 --image-size 32 --text-width 8 \
    --text-layers 1 --embed-dim 4 --head-width 8 -o m.npz
  # each member's array data at a multiple of 64 in the file (the local header's extra field pads),
  # and numpy and zipfile read the archive
  py '
import struct, zipfile
def data_offsets(path):
    f = open(path, "rb").read()
    zf = zipfile.ZipFile(path)
    assert zf.testzip() is None
    offs = []
    for info in zf.infolist():
        o = info.header_offset
        nl, el = struct.unpack("<HH", f[o + 26:o + 30])
        d = o + 30 + nl + el
        assert f[d:d + 6] == b"\x93NUMPY" and f[d + 6] == 1, info.filename
        offs.append(d + 10 + struct.unpack("<H", f[d + 8:d + 10])[0])
    return offs
offs = data_offsets("m.npz")
assert len(offs) == 38 and all(o % 64 == 0 for o in offs), offs
z = np.load("m.npz")
assert len(z.files) == 38 and z["visual.conv1.weight"].shape == (16, 3, 16, 16)
# the same weights as numpy writes them (arrays at whatever offsets: copied where misaligned),
# big-endian (copied and swapped), float64 (converted) and deflated
d = {k: z[k] for k in z.files}
np.savez("np.npz", **d)
np.savez("be.npz", **{k: v.astype(">f4") for k, v in d.items()})
np.savez("f8.npz", **{k: v.astype(np.float64) for k, v in d.items()})
np.savez_compressed("zc.npz", **d)
offs = data_offsets("np.npz")
assert any(o % 4 for o in offs) and any(o % 4 == 0 for o in offs), offs   # both paths taken'
  py 'np.save("ids.npy", np.array([[49406, 320, 2442, 3329, 49407] + [0] * 72, [49406, 589, 3329, 533, 49407] + [0] * 72], np.int32))'
  py 'np.save("im.npy", np.random.default_rng(1).uniform(-1, 1, (2, 3, 40, 40)).astype(np.float32))'
  for w in m np be f8 zc; do
    clip-embed text --weights $w.npz --head-width 8 -o t_$w.npy < ids.npy
    clip-embed loss --weights $w.npz --head-width 8 --text t_$w.npy --log /dev/null -o g_$w.npy < im.npy
  done
  for w in np be f8 zc; do
    cmp t_m.npy t_$w.npy
    cmp g_m.npy g_$w.npy
  done
  py 'g = np.load("g_m.npy"); assert g.shape == (2, 3, 40, 40) and np.abs(g).max() > 0'
}

@test "weights: truncated, corrupt or foreign weight files are one line, exit 2" {
  clip-embed --init --seed 5 --width 16 --layers 1 --patch 16 --image-size 32 --text-width 8 \
    --text-layers 1 --embed-dim 4 --head-width 8 -o m.npz
  py 'np.save("ids.npy", np.array([[49406, 320, 49407] + [0] * 74], np.int32))'
  head -c 100000 m.npz > cut.npz
  run --separate-stderr clip-embed text --weights cut.npz --head-width 8 < ids.npy
  assert_fails 2 "clip-embed: expected a zip end-of-central-directory record in 'cut.npz', found none (truncated, or not a zip)"
  # one byte of an array's data changed: its CRC-32 no longer matches
  py 'b = bytearray(open("m.npz", "rb").read()); b[len(b) // 2] ^= 0x40; open("bad.npz", "wb").write(b)'
  run --separate-stderr clip-embed text --weights bad.npz --head-width 8 < ids.npy
  assert_fails 2 "clip-embed: expected CRC-32 * for member '*.npy' of 'bad.npz', found * (corrupt archive)"
  # an array's header claiming more data than its member holds
  py '
import io, zipfile
with zipfile.ZipFile("long.npz", "w") as f:
    for k, v in np.load("m.npz").items():
        b = io.BytesIO()
        np.save(b, v)
        f.writestr(k + ".npy", b.getvalue().replace(b"(8,)", b"(9,)") if k == "ln_final.bias" else b.getvalue())'
  run --separate-stderr clip-embed text --weights long.npz --head-width 8 < ids.npy
  assert_fails 2 "clip-embed: expected 36 bytes of array data, found 32 (truncated stream) (member 'ln_final.bias.npy' of 'long.npz')"
  py 'z = dict(np.load("m.npz")); z["visual.proj"] = z["visual.proj"].astype(np.int32); np.savez("int.npz", **z)'
  run --separate-stderr clip-embed text --weights int.npz --head-width 8 < ids.npy
  assert_fails 2 "clip-embed: int.npz: expected 'visual.proj' float32 (16,4), found int32 (16,4)"
  py 'z = dict(np.load("m.npz")); z["extra"] = np.zeros(3, np.float32); np.savez("extra.npz", **z)'
  run --separate-stderr clip-embed text --weights extra.npz --head-width 8 < ids.npy
  assert_fails 2 "clip-embed: extra.npz: expected only keys of this architecture, found unexpected key 'extra'"
  run --separate-stderr clip-embed text --weights . --head-width 8 < ids.npy
  assert_fails 2 "clip-embed: expected a readable file, found '.': Is a directory"
}

# ---------------------------------------------------------------- manners

@test "errors: one line, exit 2, nothing on stdout" {
  split_images
  run --separate-stderr clip-embed text
  assert_fails 2 "clip-embed: expected --weights CLIP.npz, found none"
  run --separate-stderr clip-embed frob --weights "$W"
  assert_fails 2 "clip-embed: expected a mode (text, image, loss or score), found 'frob'"
  run --separate-stderr clip-embed loss --weights "$W" "${HW[@]}" < im0.npy
  assert_fails 2 "clip-embed: expected --text FEATURES with loss, found none"
  run --separate-stderr clip-embed image --weights "$W" < im0.npy
  assert_fails 2 "*expected widths divisible by the head width 64, found 32 (image) and 32 (text)"
  py 'np.save("gray.npy", np.zeros((2, 1, 8, 8), np.float32))'
  run --separate-stderr clip-embed image --weights "$W" "${HW[@]}" < gray.npy
  assert_fails 2 "clip-embed: stdin: expected float32 (B,3,H,W), found float32 (2,1,8,8) in array 0"
  py 'np.save("short.npy", np.zeros((2, 16), np.float32))'
  run --separate-stderr clip-embed loss --text short.npy --weights "$W" "${HW[@]}" -o g.npy < im0.npy
  assert_fails 2 "clip-embed: --text: expected float32 (3,16), found float32 (2,16) in array 0"
  [ ! -e g.npy ]
  py 'i = np.load(sys.argv[1]); i[0, 3] = 1000; np.save("big.npy", i)' "$FIX/ids.npy"
  run --separate-stderr clip-embed text --weights "$W" "${HW[@]}" < big.npy
  assert_fails 2 "clip-embed: stdin: expected token ids in [0,1000), found 1000 in row 0 in array 0"
  run --separate-stderr clip-embed text --weights missing.npz
  [ "$status" -eq 2 ]
  run --separate-stderr clip-embed text --jitter 0.1 --weights "$W" < "$FIX/ids.npy"
  assert_fails 2 "clip-embed: expected --jitter only with --init, found it without"
  run --separate-stderr clip-embed --init --jitter -1 -o j.npz
  assert_fails 2 "clip-embed: --jitter expects a finite number >= 0, found '-1'"
  [ ! -e j.npz ]
}
