#!/usr/bin/env bats
# test/fid.bats: fid (Fréchet distance), feature-stats (one-pass and merged statistics) and kid.
# fid against pytorch-fid's calculate_frechet_distance (scipy sqrtm) on the fixtures that
# test/reference/fid_ref.py wrote (expected.txt: N < d, dead features that make pytorch-fid add
# eps, float32 and compressed files, d = 128 and 192 regenerated here from numpy's legacy RNG);
# properties at larger d against numpy alone; statistics against np.mean/np.cov; KID against a
# numpy implementation drawing the same subsets; and the error cases (exit 2, one line, nothing on
# stdout, no output file left behind).

load helpers

FX="$BATS_TEST_DIRNAME/fixtures/fid"

setup() {
  common_setup
  cd "$T"
}

# Python shared by the tests: how features are made, and the numpy reference for KID.
PYDEF='
import re
import subprocess
sys.path.insert(0, os.path.join(os.environ["ROOT"], "test", "reference"))
from fid_ref import make_stats, make_features, parse_gen
def run(*args, stdin=None):
    p = subprocess.run(list(args), capture_output=True, text=True, input=stdin)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return p
def fid(a, b, *opts):
    p = run("fid", *opts, a, b)
    lines = p.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0].split(".")[1]) >= 6, p.stdout
    return float(lines[0]), p.stderr
def save_stats(path, mu, sigma):
    np.savez(path, mu=mu, sigma=sigma)
def rel(a, b):
    return abs(a - b) / abs(b)
def mmd2_ref(x, y):
    d = x.shape[1]; m = len(x)
    k = lambda a, b: (a @ b.T / d + 1.0) ** 3
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (m * m)
def kid_ref(a, b, subsets, m, seed):
    """torch-fidelity: rng = RandomState(seed); per subset choice(nA), then choice(nB)"""
    rng = np.random.RandomState(seed)
    v = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        v.append(mmd2_ref(x, y))
    return np.mean(v), np.std(v)
'
export ROOT

@test "fid: matches pytorch-fid (scipy sqrtm) within 1e-6 on every fixture case, eps exactly when it adds it" {
  run --separate-stderr py "$PYDEF"'
fx = sys.argv[1]
n = 0
for line in open(os.path.join(fx, "expected.txt")):
    if line.startswith("#"):
        continue
    a, b, want, eps = line.split()
    paths = []
    for k, spec in enumerate((a, b)):
        if spec.startswith("gen:"):
            p = "gen%d.npz" % k
            save_stats(p, *make_stats(*parse_gen(spec)))
            paths.append(p)
        else:
            paths.append(os.path.join(fx, spec))
    got, err = fid(*paths)
    assert rel(got, float(want)) < 1e-6, (a, b, got, want, rel(got, float(want)))
    said = "adding 1e-06 to the diagonal of both covariances" in err
    assert said == (eps == "1"), (a, b, eps, err)
    assert err == "" or len(err.splitlines()) == 1, err
    n += 1
assert n == 18, n
' "$FX"
  assert_ok
}

@test "fid: eps exactly when pytorch-fid adds it, on dead-feature patterns beyond the fixtures" {
  # FID and eps from test/reference/fid_ref.py's calculate_frechet_distance (scipy 1.10.1) on
  # make_stats(seed, 300, d, dead, shift): features dead in both sets ahead of those dead in A only
  # at the bottom of sqrtm's balanced order (no eps), no feature alive in both (S1*S2 = 0: no eps),
  # exactly one alive in both (eps), none alive in both again (no eps)
  run --separate-stderr py "$PYDEF"'
R = lambda a, b: list(range(a, b))
cases = [(31, 32, 128, R(0, 70), R(0, 10) + R(70, 81), 75.431426952044248, 0),
         (33, 34, 64, R(0, 32), R(32, 64), 64.794803701934768, 0),
         (39, 40, 64, R(0, 60), R(60, 63), 62.416982573471998, 1),
         (41, 42, 64, R(0, 60), R(0, 5) + R(60, 64), 59.120778245010108, 0)]
for sa, sb, d, da, db, want, eps in cases:
    save_stats("a.npz", *make_stats(sa, 300, d, da)); save_stats("b.npz", *make_stats(sb, 300, d, db, 0.1))
    got, err = fid("a.npz", "b.npz")
    assert rel(got, want) < 1e-6, (sa, got, want, rel(got, want))
    assert ("adding 1e-06 to the diagonal of both covariances" in err) == bool(eps), (sa, eps, err)
'
  assert_ok
}

@test "fid: reads DF-GAN (np.savez float64) and pytorch-fid (savez_compressed) files, float32 too, and '-'" {
  run --separate-stderr fid "$FX/full_a.npz" "$FX/full_b_f32z.npz"
  assert_ok
  [ -z "$stderr" ]
  a=$output
  run --separate-stderr bash -c 'cat "$1" | fid - "$2"' _ "$FX/full_a.npz" "$FX/full_b_f32z.npz"
  assert_ok
  assert_equal "$output" "$a"
  [[ "$output" =~ ^[0-9]+\.[0-9]{9}$ ]]
}

@test "fid: fid(A,A) = 0, symmetric, both routes agree, and matches numpy at d = 384 (PD) and the exact value for N < d" {
  run --separate-stderr py "$PYDEF"'
d = 384
x1 = make_features(31, 1200, d); x2 = make_features(32, 900, d, shift=0.05)
mu1, s1 = x1.mean(0), np.cov(x1, rowvar=False); mu2, s2 = x2.mean(0), np.cov(x2, rowvar=False)
save_stats("a.npz", mu1, s1); save_stats("b.npz", mu2, s2)
# numpy: the eigenvalues of sqrt(S1) S2 sqrt(S1)
w, v = np.linalg.eigh(s1)
r = (v * np.sqrt(np.maximum(w, 0))) @ v.T
ref = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.maximum(np.linalg.eigvalsh(r @ s2 @ r), 0)).sum()
ab, _ = fid("a.npz", "b.npz"); ba, _ = fid("b.npz", "a.npz")
assert rel(ab, ref) < 1e-9, (ab, ref)
assert rel(ba, ab) < 1e-9, (ab, ba)
for route in ("cholesky", "eigen"):
    v_, _ = fid("a.npz", "b.npz", "--route", route)
    assert rel(v_, ab) < 1e-9, (route, v_, ab)
# S2 positive definite but conditioned 1e14 (S1 = 2I): the Cholesky route, its eigenvalues of
# M = 2 S2 down to 2e-14 of the largest
q, _ = np.linalg.qr(np.random.RandomState(5).standard_normal((d, d)))
lam = np.logspace(0, -14, d)
save_stats("i.npz", np.zeros(d), 2 * np.eye(d)); save_stats("k.npz", np.zeros(d), (q * lam) @ q.T)
ref = 2 * d + lam.sum() - 2 * np.sqrt(2 * lam).sum()
v_, err = fid("i.npz", "k.npz", "--verbose")
assert "by the cholesky route" in err, err
assert rel(v_, ref) < 1e-9, (v_, ref)
aa, _ = fid("a.npz", "a.npz")
assert abs(aa) < 1e-9 * np.trace(s1), aa
# N < d: both singular; the exact tr sqrt(S1 S2) is the nuclear norm of Y1 Y2^T (Y = centred / sqrt(N-1))
d = 256
y1 = make_features(33, 100, d); y2 = make_features(34, 150, d, shift=0.05)
m1, m2 = y1.mean(0), y2.mean(0)
c1, c2 = (y1 - m1) / np.sqrt(len(y1) - 1), (y2 - m2) / np.sqrt(len(y2) - 1)
s1, s2 = c1.T @ c1, c2.T @ c2
save_stats("c.npz", m1, s1); save_stats("e.npz", m2, s2)
exact = (m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * np.linalg.svd(c1 @ c2.T, compute_uv=False).sum()
ce, err = fid("c.npz", "e.npz", "--verbose")
assert "by the eigen route" in err, err
assert rel(ce, exact) < 1e-6, (ce, exact, rel(ce, exact))
ec, _ = fid("e.npz", "c.npz")
assert rel(ec, ce) < 1e-6, (ce, ec)
cc, _ = fid("c.npz", "c.npz")
assert abs(cc) < 1e-6 * np.trace(s1), cc
'
  assert_ok
}

@test "fid: --verbose puts the terms on stderr, the number alone on stdout; --help" {
  run --separate-stderr fid --verbose "$FX/full_a.npz" "$FX/full_b.npz"
  assert_ok
  [[ "$output" =~ ^2\.7313653[0-9]*$ ]]
  [[ "$stderr" == *"tr(sigma1)"* && "$stderr" == *"by the cholesky route, eps not applied"* ]]
  run --separate-stderr fid --help
  assert_ok
  [[ "$output" == usage:* ]]
  [ -z "$stderr" ]
}

@test "fid: bad inputs exit 2 with one line naming what was expected and found" {
  py '
z = np.load(os.path.join(sys.argv[1], "full_a.npz")); mu, s = z["mu"], z["sigma"]
np.savez("nokey.npz", mu=mu)
np.savez("d32.npz", mu=mu[:32], sigma=s[:32, :32])
np.savez("nonsq.npz", mu=mu, sigma=s[:, :32])
t = s.copy(); t[3, 4] = np.nan; np.savez("nan.npz", mu=mu, sigma=t)
m = mu.copy(); m[7] = np.inf; np.savez("inf.npz", mu=m, sigma=s)
t = s.copy(); t[3, 4] += 1; np.savez("asym.npz", mu=mu, sigma=t)
np.savez("int.npz", mu=mu.astype(np.int64), sigma=s)
t = s.copy(); t[2, 2] = -1; np.savez("neg.npz", mu=mu, sigma=t)
np.savez("huge.npz", mu=mu, sigma=1e200 * np.eye(len(mu)))
' "$FX"
  A="$FX/full_a.npz"
  run --separate-stderr fid missing.npz "$A"
  assert_fails 2 "fid: expected a readable file, found 'missing.npz': No such file or directory"
  run --separate-stderr fid nokey.npz "$A"
  assert_fails 2 "fid: nokey.npz: expected key 'sigma' (the covariance of a stats file), found keys mu"
  run --separate-stderr fid "$A" d32.npz
  assert_fails 2 "fid: expected d32.npz to have the dimension of $A (64), found 32"
  run --separate-stderr fid nonsq.npz "$A"
  assert_fails 2 "fid: nonsq.npz: expected 'sigma' of shape (64,64) (square, matching mu), found (64,32)"
  # NaN and Inf exit 3 (core/finite.h)
  run --separate-stderr fid nan.npz "$A"
  assert_fails 3 "fid: nan.npz: expected finite values, found NaN at (3,4) in 'sigma'"
  run --separate-stderr fid "$A" inf.npz
  assert_fails 3 "fid: inf.npz: expected finite values, found +Inf at (7) in 'mu'"
  run --separate-stderr fid asym.npz "$A"
  assert_fails 2 "fid: asym.npz: expected a symmetric 'sigma', found sigma\\[4,3\\] = 0.0* but sigma\\[3,4\\] = 1.0*"
  run --separate-stderr fid int.npz "$A"
  assert_fails 2 "fid: int.npz: expected 'mu' of dtype float64 or float32, found int64"
  run --separate-stderr fid neg.npz "$A"
  assert_fails 2 "fid: neg.npz: expected a covariance 'sigma' (non-negative diagonal), found sigma[2,2] = -1"
  run --separate-stderr fid huge.npz huge.npz      # valid files whose product overflows: a runtime failure
  assert_fails 1 "fid: expected sigma1\\*sigma2 to be representable in float64, found it overflows (covariance entries too large)"
  printf 'hello' >garbage.npz
  run --separate-stderr fid garbage.npz "$A"
  assert_fails 2 "fid: expected a zip end-of-central-directory record in 'garbage.npz', found none*"
  run --separate-stderr fid "$A"
  assert_fails 2 "fid: expected two stats files (fid A.npz B.npz), found 1"
  run --separate-stderr fid "$A" "$A" "$A"
  assert_fails 2 "fid: expected two stats files, found a third argument '$A'"
  run --separate-stderr fid --frobnicate "$A" "$A"
  assert_fails 2 "fid: expected a known option, found '--frobnicate' (see --help)"
  run --separate-stderr fid --eps x "$A" "$A"
  assert_fails 2 "fid: --eps expects a number, found 'x'"
  for e in nan inf -inf -1 1e999; do
    run --separate-stderr fid --eps $e "$A" "$A"
    assert_fails 2 "fid: --eps expects a finite number >= 0, found '$e'"
  done
  run --separate-stderr fid --device tpu "$A" "$A"
  assert_fails 2 "fid: --device expects cpu or cuda, found 'tpu'"
}

@test "feature-stats: one pass over many batches (float32 and float64, empty and single rows) equals np.mean / np.cov" {
  run --separate-stderr py "$PYDEF"'
rng = np.random.default_rng(5)
d = 48
parts, sizes = [], [1, 0, 7, 600, 3, 1, 129, 512, 513, 2] + list(rng.integers(1, 40, 47))
with open("feats.npy", "wb") as f:
    for i, n in enumerate(sizes):
        x = make_features(100 + i, int(n), d, shift=3.0) * (1 + i % 3)   # large mean: centring matters
        x = x.astype(np.float32) if i % 2 else x
        np.save(f, x)
        parts.append(x.astype(np.float64))
allx = np.concatenate(parts)
run("feature-stats", "-o", "s.npz", "feats.npy")
z = np.load("s.npz")
assert sorted(z.files) == ["count", "mu", "scatter", "sigma"], z.files
assert z["count"].shape == () and z["count"].dtype == np.int64 and int(z["count"]) == len(allx)
assert z["mu"].dtype == np.float64 and z["sigma"].dtype == np.float64
cov = np.cov(allx, rowvar=False)
assert np.abs(z["mu"] - allx.mean(0)).max() < 1e-10 * np.abs(allx).max()
assert np.abs(z["sigma"] - cov).max() < 1e-10 * np.abs(cov).max(), np.abs(z["sigma"] - cov).max()
assert np.abs(z["scatter"] - cov * (len(allx) - 1)).max() < 1e-10 * np.abs(cov).max() * len(allx)
assert (z["sigma"] == z["sigma"].T).all()
# the same through a pipe, to stdout
p = subprocess.run("cat feats.npy | feature-stats > t.npz", shell=True)
assert p.returncode == 0
t = np.load("t.npz")
assert (t["sigma"] == z["sigma"]).all() and (t["mu"] == z["mu"]).all()
'
  assert_ok
}

@test "feature-stats --merge: partial statistics merge exactly into those of all features, and fid reads them" {
  run --separate-stderr py "$PYDEF"'
d = 40
xs = [make_features(200 + i, n, d, shift=2.0 * i) for i, n in enumerate([333, 5, 1000, 2])]
for i, x in enumerate(xs):
    np.save("p%d.npy" % i, x)
    run("feature-stats", "-o", "p%d.npz" % i, "p%d.npy" % i) if len(x) > 1 else None
np.save("p23.npy", np.concatenate(xs[2:]))
run("feature-stats", "-o", "p23.npz", "p23.npy")
allx = np.concatenate(xs)
run("feature-stats", "--merge", "-o", "m.npz", "p0.npz", "p1.npz", "p23.npz")
run("feature-stats", "--merge", "-o", "r.npz", "p23.npz", "p0.npz", "p1.npz")
run("feature-stats", "-o", "all.npz", "p0.npy", "p1.npy", "p2.npy", "p3.npy")
cov = np.cov(allx, rowvar=False)
for name in ("m.npz", "r.npz", "all.npz"):
    z = np.load(name)
    assert int(z["count"]) == len(allx)
    assert np.abs(z["mu"] - allx.mean(0)).max() < 1e-10 * np.abs(allx).max(), name
    assert np.abs(z["sigma"] - cov).max() < 1e-10 * np.abs(cov).max(), (name, np.abs(z["sigma"] - cov).max())
v, _ = fid("m.npz", "all.npz")
assert abs(v) < 1e-9, v
'
  assert_ok
  assert_no_temp .
}

@test "feature-stats: bad inputs exit 2 with one line, no output left behind" {
  py '
np.save("d4.npy", np.ones((3, 4), np.float32))
with open("mixed.npy", "wb") as f:
    np.save(f, np.ones((3, 4), np.float32)); np.save(f, np.ones((2, 5), np.float32))
np.save("int.npy", np.ones((3, 4), np.int32))
np.save("three.npy", np.ones((2, 3, 4), np.float32))
x = np.random.default_rng(0).standard_normal((6, 4)); x[4, 2] = np.nan
with open("nan.npy", "wb") as f:
    np.save(f, np.ones((3, 4))); np.save(f, x)
np.save("one.npy", np.ones((1, 4)))
np.savez("nocount.npz", mu=np.zeros(4), sigma=np.eye(4))
np.savez("p5.npz", mu=np.zeros(5), sigma=np.eye(5), count=np.int64(3), scatter=np.eye(5))
np.savez("p4.npz", mu=np.zeros(4), sigma=np.eye(4), count=np.int64(3), scatter=np.eye(4))
'
  head -c 150 d4.npy >trunc.npy
  run --separate-stderr feature-stats -o out.npz mixed.npy
  assert_fails 2 "feature-stats: mixed.npy: expected float32 or float64 (N,4), found float32 (2,5) in array 1"
  run --separate-stderr feature-stats -o out.npz d4.npy int.npy
  assert_fails 2 "feature-stats: int.npy: expected float32 or float64 (N,4), found int32 (3,4) in array 0"
  run --separate-stderr feature-stats -o out.npz three.npy
  assert_fails 2 "feature-stats: three.npy: expected float32 or float64 (N,d), found float32 (2,3,4) in array 0"
  run --separate-stderr feature-stats -o out.npz trunc.npy
  assert_fails 2 "feature-stats: trunc.npy: expected float32 or float64 (N,d), found a truncated array (22 of 48 bytes) in array 0"
  run --separate-stderr feature-stats -o out.npz nan.npy
  assert_fails 3 "feature-stats: nan.npy: expected finite values, found NaN at (4,2) in batch 1"
  run --separate-stderr feature-stats -o out.npz one.npy
  assert_fails 2 "feature-stats: expected at least 2 feature vectors, found 1"
  run --separate-stderr feature-stats -o out.npz missing.npy
  assert_fails 2 "feature-stats: expected a readable file, found 'missing.npy': No such file or directory"
  run --separate-stderr feature-stats -o out.npz </dev/null
  assert_fails 2 "feature-stats: expected at least 2 feature vectors, found 0"
  run --separate-stderr feature-stats --merge -o out.npz p4.npz nocount.npz
  assert_fails 2 "feature-stats: nocount.npz: expected key 'count' (partial statistics as feature-stats writes them), found keys mu, sigma"
  run --separate-stderr feature-stats --merge -o out.npz p4.npz p5.npz
  assert_fails 2 "feature-stats: p5.npz: expected statistics of dimension 4 (as p4.npz), found 5"
  run --separate-stderr feature-stats --merge -o out.npz
  assert_fails 2 "feature-stats: --merge expects partial stats files, found none"
  run --separate-stderr feature-stats --bogus
  assert_fails 2 "feature-stats: expected a known option, found '--bogus' (see --help)"
  [ ! -e out.npz ]
  assert_no_temp .
}

@test "kid: equals a numpy KID over numpy's RandomState subsets (torch-fidelity's), float32 and float64, streams" {
  run --separate-stderr py "$PYDEF"'
d = 24
a = make_features(301, 250, d).astype(np.float32)
b = make_features(302, 180, d, shift=0.3)
np.save("a.npy", a)
with open("b.npy", "wb") as f:               # a stream of two arrays is one set
    np.save(f, b[:100]); np.save(f, b[100:])
for subsets, m, seed in [(12, 50, 2020), (5, 180, 7), (3, 2, 0)]:
    p = run("kid", "--features", "a.npy", "--features", "b.npy", "--subsets", str(subsets),
            "--subset-size", str(m), "--seed", str(seed))
    mean, std = map(float, p.stdout.split())
    rmean, rstd = kid_ref(a.astype(np.float64), b, subsets, m, seed)
    assert abs(mean - rmean) <= 1e-9 * abs(rmean) + 1e-12, (subsets, m, seed, mean, rmean)
    assert abs(std - rstd) <= 1e-8 * abs(rstd) + 1e-12, (subsets, m, seed, std, rstd)
# another seed draws other subsets
p = run("kid", "--features", "a.npy", "--features", "b.npy", "--subsets", "12", "--subset-size", "50", "--seed", "2021")
assert abs(float(p.stdout.split()[0]) - kid_ref(a.astype(np.float64), b, 12, 50, 2020)[0]) > 1e-6
'
  assert_ok
}

@test "kid: bad inputs exit 2 with one line" {
  py '
np.save("a.npy", np.ones((30, 4), np.float32))
np.save("b.npy", np.ones((20, 5), np.float32))
x = np.ones((10, 4)); x[3, 1] = np.inf
np.save("inf.npy", x)
'
  run --separate-stderr kid --features a.npy --features a.npy
  assert_fails 2 "kid: --subset-size: expected at most the number of feature vectors (30 in a.npy, 30 in a.npy), found 1000"
  run --separate-stderr kid --features a.npy --features b.npy --subset-size 10
  assert_fails 2 "kid: expected b.npy to have the dimension of a.npy (4), found 5"
  run --separate-stderr kid --features a.npy --features inf.npy --subset-size 5
  assert_fails 3 "kid: inf.npy: expected finite values, found +Inf at (3,1) in batch 0"
  run --separate-stderr kid --features a.npy
  assert_fails 2 "kid: expected two --features files, found 1"
  run --separate-stderr kid --features a.npy --features missing.npy
  assert_fails 2 "kid: --features: expected a readable file, found 'missing.npy': No such file or directory"
  run --separate-stderr kid --features a.npy --features a.npy --subset-size 1
  assert_fails 2 "kid: --subset-size expects an integer in [2, 1073741824], found '1'"
}
