#!/usr/bin/env bats
# test/r_precision.bats: r-precision (AttnGAN's and DF-GAN's R-precision on CLIP features) against a
# numpy reimplementation drawing the same mismatched captions (numpy's RandomState), on small random
# features: repetitions, duplicated captions (never drawn as mismatches), ties (a miss), fewer
# captions than candidates (ranked among all the others, chance rising), float32 and float64
# streams of several arrays; and the errors (exit 2, one line, nothing written).

load helpers

setup() {
  common_setup
  cd "$T"
}

PYDEF='
import subprocess
def run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return dict((l.split()[0], float(l.split()[1])) for l in p.stdout.splitlines())
def rprec_ref(img, txt, c, seed):
    """the mean and np.std over repetitions, chance, the fewest candidates and the draws"""
    n = len(txt); t = len(img) // n
    im = img / np.linalg.norm(img, axis=1, keepdims=True)
    tx = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    rng = np.random.RandomState(seed)
    accs, chance, fewest, draws = [], [], 10**9, []
    for r in range(t):
        hits = 0
        for i in range(n):
            others = [j for j in range(n) if j != i and not np.array_equal(txt[j], txt[i])]
            if len(others) > c - 1:
                pick = [others[k] for k in rng.choice(len(others), c - 1, replace=False)]
            else:
                pick = others
            v = im[r * n + i]
            own = v @ tx[i]
            hits += all(v @ tx[j] < own for j in pick)
            chance.append(1.0 / (len(pick) + 1)); fewest = min(fewest, len(pick) + 1)
            draws.append([i] + pick + [-1] * (c - 1 - len(pick)))
        accs.append(hits / n)
    return np.mean(accs), np.std(accs), np.mean(chance), fewest, np.array(draws)
'

@test "r-precision: equals a numpy R-precision drawing the same mismatched captions (RandomState), with repetitions" {
  run --separate-stderr py "$PYDEF"'
rng = np.random.default_rng(5)
for n, t, e, c, seed in [(150, 3, 8, 100, 0), (150, 2, 8, 100, 7), (40, 1, 6, 10, 3), (12, 4, 5, 100, 1)]:
    txt = rng.normal(size=(n, e))
    # images near their own caption so that hits and misses both happen
    img = np.concatenate([txt + rng.normal(scale=1.2, size=(n, e)) for _ in range(t)])
    img[0] = -txt[0]                                          # a sure miss
    np.save("txt.npy", txt)
    with open("img.npy", "wb") as f:                          # float32, several arrays
        for part in np.array_split(img.astype(np.float32), 3):
            np.save(f, part)
    got = run("r-precision", "--images", "img.npy", "--text", "txt.npy", "--candidates", str(c),
              "--seed", str(seed), "--draws-out", "draws.npy")
    mean, std, chance, fewest, draws = rprec_ref(img.astype(np.float32).astype(np.float64), txt, c, seed)
    assert np.array_equal(np.load("draws.npy"), draws), (n, t, c)
    assert abs(got["r_precision"] - mean) < 1e-6 and abs(got["r_precision_std"] - std) < 1e-6, (got, mean, std)
    assert abs(got["chance"] - chance) < 1e-6 and got["candidates"] == fewest, (got, chance, fewest)
    assert got["times"] == t and got["images"] == n, got
    assert 0 < mean < 1 and (t == 1) == (std == 0), (mean, std)
    if n >= c:
        assert abs(chance - 1.0 / c) < 1e-12 and fewest == c
    else:                                                     # fewer captions: all the others
        assert fewest == n and abs(chance - 1.0 / n) < 1e-12
# the seed changes the draws, the same seed gives the same
a = run("r-precision", "--images", "img.npy", "--text", "txt.npy", "--seed", "1", "--draws-out", "a.npy")
b = run("r-precision", "--images", "img.npy", "--text", "txt.npy", "--seed", "1", "--draws-out", "b.npy")
assert a == b and np.array_equal(np.load("a.npy"), np.load("b.npy"))
'
  assert_ok
}

@test "r-precision: a caption word for word another image's is never a mismatch; ties miss; perfect features hit" {
  run --separate-stderr py "$PYDEF"'
rng = np.random.default_rng(1)
n, e = 120, 6
txt = rng.normal(size=(n, e))
txt[1] = txt[0]; txt[2] = txt[0]                              # three images with the same caption
np.save("txt.npy", txt)
np.save("img.npy", txt * 3.0)                                 # each image exactly its caption
got = run("r-precision", "--images", "img.npy", "--text", "txt.npy", "--draws-out", "d.npy")
d = np.load("d.npy")
for i in (0, 1, 2):
    assert not set(d[i, 1:]) & {0, 1, 2}, d[i]
assert (d[3:, 1:] >= 0).all() and all(len(set(r)) == 100 for r in d[3:])
assert got["r_precision"] == 1.0 and got["candidates"] == 100, got
mean = rprec_ref(txt * 3.0, txt, 100, 0)[0]
assert mean == 1.0
# an image exactly between two captions ties them: a miss
txt = np.eye(4)[:3] * 1.0
img = txt.copy(); img[0] = (txt[0] + txt[1])
np.save("txt.npy", txt); np.save("img.npy", img)
got = run("r-precision", "--images", "img.npy", "--text", "txt.npy", "--candidates", "100")
assert abs(got["r_precision"] - 2 / 3) < 1e-6 and got["candidates"] == 3 and abs(got["chance"] - 1 / 3) < 1e-6, got
'
  assert_ok
}

@test "r-precision: --help, and errors as one line with exit 2 and nothing written" {
  run r-precision --help
  assert_ok
  [[ "${lines[0]}" == "usage: r-precision "* ]]
  py 'np.save("t.npy", np.ones((4, 3), np.float32)); np.save("i5.npy", np.ones((5, 3), np.float32))
np.save("w.npy", np.ones((4, 2), np.float32)); np.save("ids.npy", np.ones((4, 3), np.int32))
np.save("one.npy", np.ones((1, 3), np.float32)); np.save("nan.npy", np.full((4, 3), np.nan, np.float32))'
  run --separate-stderr r-precision --images t.npy
  assert_fails 2 "r-precision: expected --images and --text feature files, found --text missing"
  run --separate-stderr r-precision --images i5.npy --text t.npy --draws-out d.npy
  assert_fails 2 "r-precision: expected image feature rows a multiple of the 4 captions (repetitions of them), found 5"
  [ ! -e d.npy ]
  run --separate-stderr r-precision --images w.npy --text t.npy
  assert_fails 2 "r-precision: expected image features of the text features' width 3, found 2"
  run --separate-stderr r-precision --images t.npy --text one.npy
  assert_fails 2 "r-precision: --text: expected at least 2 captions, found 1"
  run --separate-stderr r-precision --images ids.npy --text t.npy
  assert_fails 2 "r-precision: ids.npy: expected float32 or float64 (N,d)*"
  run --separate-stderr r-precision --images nan.npy --text t.npy
  assert_fails 3 "r-precision: nan.npy: expected finite values, found NaN at (0,0) in batch 0"
  run --separate-stderr r-precision --images missing.npy --text t.npy
  assert_fails 2 "r-precision: --images: expected a readable file, found 'missing.npy': No such file or directory"
  run --separate-stderr r-precision --images t.npy --text t.npy --candidates 1
  assert_fails 2 "r-precision: --candidates*"
  run --separate-stderr r-precision --images t.npy --text t.npy --draws-out nodir/d.npy
  [ "$status" -ne 0 ] && [ "${#stderr_lines[@]}" -eq 1 ]
  [ ! -e nodir ]
}
