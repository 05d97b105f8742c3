#!/usr/bin/env bats
# test/inception.bats: inception-stats (Inception-v3 pool3 features and their statistics).
# Parity: features against pytorch-fid's InceptionV3 (FID blocks) and DF-GAN's torchvision
# evaluation path, both in float64 on random weights (test/reference/inception_ref.py wrote
# test/fixtures/inception/expected.npz; the weights are regenerated here with numpy from the
# same seed); mu and sigma against np.mean / np.cov; PNG and folder inputs against the same
# pixels as a stream; batching and merged partial statistics; random-weight notice; errors.

load helpers

FX="$BATS_TEST_DIRNAME/fixtures/inception"

PYDEF='
sys.path.insert(0, os.path.join(os.environ["ROOT"], "test", "reference"))
def read_stream(path):
    out = []
    with open(path, "rb") as f:
        while f.peek(1) if hasattr(f, "peek") else True:
            try:
                out.append(np.load(f))
            except (EOFError, ValueError):
                break
    return out
def rel(a, e):
    return np.linalg.norm(np.asarray(a, np.float64) - e) / np.linalg.norm(e)
def png(path, a):
    import zlib, struct
    h, w = a.shape[:2]
    ct = {1: 0, 2: 4, 3: 2, 4: 6}[1 if a.ndim == 2 else a.shape[2]]
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ct, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
'
export ROOT

setup_file() {
  common_setup
  cd "$BATS_FILE_TMPDIR"
  py 'sys.path.insert(0, sys.argv[1])
from inception_ref import make_weights, make_inputs
seed = int(np.load(sys.argv[2])["seed"])
np.savez("w.npz", **make_weights(seed))
with open("in.npy", "wb") as f:
    for x in make_inputs(seed):
        np.save(f, x)' "$ROOT/test/reference" "$FX/expected.npz"
}

setup() {
  common_setup
  W="$BATS_FILE_TMPDIR/w.npz"
  IN="$BATS_FILE_TMPDIR/in.npy"
  cd "$T"
}

@test "inception-stats: features within 1e-4 of pytorch-fid (fid) and DF-GAN's path (dfgan); mu, sigma as numpy" {
  for v in fid dfgan; do
    run --separate-stderr inception-stats --weights "$W" --variant $v --features-out f_$v.npy -o s_$v.npz "$IN"
    assert_ok
    [[ "$stderr" == *"3 images, variant $v"* ]]
  done
  run --separate-stderr py "$PYDEF"'
e = np.load(sys.argv[1])
for v in ("fid", "dfgan"):
    f = np.concatenate(read_stream("f_%s.npy" % v)).astype(np.float64)
    assert f.shape == (3, 2048), f.shape
    errs = [rel(f[i], e[v][i]) for i in range(3)]
    print(v, "per-image relative L2", errs)
    assert max(errs) < 1e-4, (v, errs)
    s = np.load("s_%s.npz" % v)
    assert s["mu"].dtype == np.float64 and s["sigma"].shape == (2048, 2048) and int(s["count"]) == 3
    assert rel(s["mu"], f.mean(0)) < 1e-12 and rel(s["sigma"], np.cov(f, rowvar=False)) < 1e-12
    assert rel(s["mu"], e[v].mean(0)) < 1e-4 and rel(s["sigma"], np.cov(e[v], rowvar=False)) < 1e-4
' "$FX/expected.npz"
  echo "$output"
  assert_ok
}

@test "inception-stats: PNG files and a folder of them give the features of the same pixels as a stream" {
  mkdir imgs
  py "$PYDEF"'
rng = np.random.RandomState(1)
rgb = rng.randint(0, 256, (37, 45, 3)).astype(np.uint8)
rgba = rng.randint(0, 256, (30, 33, 4)).astype(np.uint8)
grey = rng.randint(0, 256, (41, 29)).astype(np.uint8)
png("imgs/a.png", rgb); png("imgs/b.png", rgba); png("imgs/c.png", grey)
with open("same.npy", "wb") as f:
    for a in (rgb, rgba[:, :, :3], np.repeat(grey[:, :, None], 3, 2)):
        np.save(f, (2 * (a.astype(np.float32) / 255) - 1).transpose(2, 0, 1)[None].copy())
'
  run --separate-stderr inception-stats --weights "$W" --features-out f_files.npy -o s1.npz imgs/a.png imgs/b.png imgs/c.png
  assert_ok
  run --separate-stderr inception-stats --weights "$W" --features-out f_dir.npy -o s2.npz imgs
  assert_ok
  run --separate-stderr inception-stats --weights "$W" --features-out f_npy.npy -o s3.npz same.npy
  assert_ok
  run --separate-stderr py "$PYDEF"'
a, b, c = (np.concatenate(read_stream(p)) for p in ("f_files.npy", "f_dir.npy", "f_npy.npy"))
assert a.shape == (3, 2048)
assert rel(a, c) < 1e-6 and rel(b, c) < 1e-6, (rel(a, c), rel(b, c))
'
  assert_ok
}

@test "inception-stats: batch size does not change the features (stdin or files); partial statistics merge as one run" {
  py 'x = np.random.RandomState(3).uniform(-1, 1, (4, 3, 40, 40)).astype(np.float32)
with open("a.npy", "wb") as f: np.save(f, x[:2])
with open("b.npy", "wb") as f: np.save(f, x[2:])
with open("all.npy", "wb") as f: np.save(f, x[:3]); np.save(f, x[3:])'
  run --separate-stderr inception-stats --weights "$W" --batch 3 --features-out f3.npy -o all.npz < all.npy
  assert_ok
  run --separate-stderr inception-stats --weights "$W" --batch 1 --features-out f1a.npy -o a.npz a.npy
  assert_ok
  run --separate-stderr inception-stats --weights "$W" --batch 4 --features-out f1b.npy -o b.npz b.npy
  assert_ok
  run --separate-stderr feature-stats --merge -o merged.npz a.npz b.npz
  assert_ok
  run --separate-stderr py "$PYDEF"'
f3 = read_stream("f3.npy"); f1 = read_stream("f1a.npy") + read_stream("f1b.npy")
assert [a.shape[0] for a in f3] == [3, 1] and [a.shape[0] for a in f1] == [1, 1, 2]
assert rel(np.concatenate(f1), np.concatenate(f3)) < 1e-6
m, a = np.load("merged.npz"), np.load("all.npz")
assert int(m["count"]) == 4 and rel(m["mu"], a["mu"]) < 1e-6 and rel(m["sigma"], a["sigma"]) < 1e-5
'
  assert_ok
}

@test "inception-stats --init: random weights under torchvision's keys, and outputs made with them say so" {
  run --separate-stderr inception-stats --init --seed 7 -o r.npz
  assert_ok
  py 'z = np.load("r.npz"); w = np.load(sys.argv[1])
assert set(z.files) - {"inception_random_init_seed"} == set(w.files)
assert all(z[k].shape == w[k].shape for k in w.files) and int(z["inception_random_init_seed"]) == 7
np.save("x.npy", np.random.RandomState(0).uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32))' "$W"
  run --separate-stderr inception-stats --weights r.npz -o s.npz x.npy
  assert_ok
  [[ "$stderr" == *"r.npz holds random weights (--init --seed 7), not a pretrained Inception"* ]]
  py 's = np.load("s.npz"); assert np.isfinite(s["sigma"]).all() and int(s["count"]) == 2'
}

@test "inception-stats: bad usage and bad input exit 2 with one line, nothing on stdout, no output left" {
  run --separate-stderr inception-stats -o s.npz
  assert_fails 2 "inception-stats: expected --weights W.npz (or --init to make random ones), found none"
  run --separate-stderr inception-stats --weights "$W" --variant tf -o s.npz
  assert_fails 2 "inception-stats: --variant: expected fid or dfgan, found 'tf'"
  py 'np.save("g.npy", np.zeros((2, 1, 8, 8), np.float32)); np.save("one.npy", np.zeros((1, 3, 8, 8), np.float32))
open("t.txt", "w").write("hello")
w = dict(np.load(sys.argv[1])); del w["Mixed_6b.branch7x7_2.bn.running_var"]; np.savez("bad.npz", **w)' "$W"
  run --separate-stderr inception-stats --weights "$W" -o s.npz g.npy
  assert_fails 2 "inception-stats: g.npy: expected float32 (B,3,H,W), found float32 (2,1,8,8) in array 0"
  run --separate-stderr inception-stats --weights "$W" -o s.npz one.npy
  assert_fails 2 "inception-stats: expected at least 2 images, found 1"
  run --separate-stderr inception-stats --weights "$W" -o s.npz t.txt
  assert_fails 2 "inception-stats: t.txt: expected an .npy image stream, a PNG or a JPEG file, found none of their signatures"
  run --separate-stderr inception-stats --weights bad.npz -o s.npz one.npy
  assert_fails 2 "inception-stats: bad.npz: expected Inception-v3 weight 'Mixed_6b.branch7x7_2.bn.running_var' (128,), found no such key"
  [ ! -e s.npz ]
  assert_no_temp .
}
