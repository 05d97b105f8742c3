"""fid_ref.py: golden fixtures for test/fid.bats (fid, feature-stats, kid).

Writes test/fixtures/fid/:
  *.npz         small stats files (d = 64) in the formats fid must read: DF-GAN's np.savez(mu,
                sigma) float64, pytorch-fid's --save-stats np.savez_compressed, float32 sigma
  expected.txt  one line per case: "A B FID EPS" where FID is pytorch-fid's
                calculate_frechet_distance (below, its route written here, reporting whether it added
                eps) on those files, EPS 1 when it added eps; A and B are file names, or
                "gen:SEED:N:D:DEAD:SHIFT" for statistics that make_stats() regenerates at test
                time (bigger d, where scipy's blocked sqrtm decides differently)

Needs numpy and scipy (Debian: python3-scipy); the tests need only numpy and import
make_stats() from this file (scipy is imported lazily). Run from anywhere:
    python3 test/reference/fid_ref.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "fid")


def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's route to the FID (src/pytorch_fid/fid_score.py, 0.3.0), written here: scipy's
    sqrtm of sigma1·sigma2; when that is not finite, sqrtm again with eps added to both diagonals
    (the trace terms keep the original covariances); a complex result must have a diagonal whose
    imaginary part is within 1e-3 of zero, and its real part is used. Returns (fid, eps added)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    assert mu1.shape == mu2.shape and sigma1.shape == sigma2.shape
    root, _ = linalg.sqrtm(sigma1 @ sigma2, disp=False)
    added = not np.isfinite(root).all()
    if added:
        shift = eps * np.eye(sigma1.shape[0])
        root = linalg.sqrtm((sigma1 + shift) @ (sigma2 + shift))
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            raise ValueError('imaginary component %g' % np.max(np.abs(root.imag)))
        root = root.real
    d = mu1 - mu2
    return d @ d + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root), added


def make_features(seed, n, d, dead=(), shift=0.0):
    """Non-negative, correlated features (like pooled ReLU outputs) from numpy's legacy generator,
    whose streams never change; columns in `dead` are exactly zero (a feature that never fires)."""
    rs = np.random.RandomState(seed)
    mix = rs.standard_normal((d, d)) / np.sqrt(d)
    x = np.abs(rs.standard_normal((n, d)) @ mix + shift)
    x[:, list(dead)] = 0.0
    return x


def make_stats(seed, n, d, dead=(), shift=0.0):
    x = make_features(seed, n, d, dead, shift)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def parse_gen(spec):
    """'gen:SEED:N:D:DEAD:SHIFT', DEAD as 'a-b' (range) or 'i,j,k' or '' -> make_stats args"""
    _, seed, n, d, dead, shift = spec.split(":")
    if "-" in dead:
        lo, hi = map(int, dead.split("-"))
        dead = list(range(lo, hi))
    else:
        dead = [int(v) for v in dead.split(",") if v]
    return int(seed), int(n), int(d), dead, float(shift)


def load(spec):
    if spec.startswith("gen:"):
        return make_stats(*parse_gen(spec))
    z = np.load(os.path.join(OUT, spec))
    return z["mu"].astype(np.float64), z["sigma"].astype(np.float64)


def main():
    os.makedirs(OUT, exist_ok=True)
    d = 64
    files = {
        # DF-GAN's layout: np.savez(mu=, sigma=) in float64
        "full_a.npz": make_stats(1, 500, d),
        "full_b.npz": make_stats(2, 600, d, shift=0.1),
        "sing_a.npz": make_stats(3, 30, d),             # fewer samples than dimensions
        "sing_b.npz": make_stats(4, 40, d, shift=0.1),
        "dead5_a.npz": make_stats(5, 200, d, dead=[5]),  # feature 5 never fires in A
        "dead9_b.npz": make_stats(6, 200, d, dead=[9], shift=0.1),
        "dead5_b.npz": make_stats(7, 200, d, dead=[5], shift=0.1),
    }
    for name, (mu, sigma) in files.items():
        np.savez(os.path.join(OUT, name), mu=mu, sigma=sigma)
    # pytorch-fid's --save-stats: np.savez_compressed; here with float32 arrays
    mu, sigma = files["full_b.npz"]
    np.savez_compressed(os.path.join(OUT, "full_b_f32z.npz"), mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))

    cases = [
        ("full_a.npz", "full_b.npz"),
        ("full_b.npz", "full_a.npz"),
        ("sing_a.npz", "sing_b.npz"),
        ("full_a.npz", "sing_b.npz"),
        ("sing_a.npz", "full_b.npz"),
        ("full_a.npz", "full_b_f32z.npz"),
        ("dead5_a.npz", "dead9_b.npz"),    # dead in A only and in B only, one 64-block: eps
        ("dead9_b.npz", "dead5_a.npz"),
        ("dead5_a.npz", "dead5_b.npz"),    # the same feature dead in both: no eps
        ("dead5_a.npz", "full_b.npz"),     # dead in A only: no eps
        ("full_a.npz", "dead9_b.npz"),
        ("sing_a.npz", "dead9_b.npz"),
        # d = 128: two 64-blocks; a zero from A (bottom) and one from B (top) meet only when
        # enough features are dead
        ("gen:11:300:128:3:0", "gen:12:300:128:100:0.1"),
        ("gen:13:300:128:0-70:0", "gen:14:300:128:70-80:0.1"),
        ("gen:15:300:128:0-40:0", "gen:16:300:128:40-60:0.1"),
        ("gen:17:90:128:0-70:0", "gen:18:300:128:120-128:0.1"),
        # d = 192: three blocks, N < d
        ("gen:19:150:192:0-130:0", "gen:20:100:192:130-140:0.1"),
        ("gen:21:150:192:0-100:0", "gen:22:100:192:100-110:0.1"),
    ]
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("# A B FID EPS: pytorch-fid calculate_frechet_distance (scipy %s), written by test/reference/fid_ref.py\n"
                % __import__("scipy").__version__)
        for a, b in cases:
            mu1, s1 = load(a)
            mu2, s2 = load(b)
            fid, applied = calculate_frechet_distance(mu1, s1, mu2, s2)
            f.write("%s %s %.17g %d\n" % (a, b, fid, int(applied)))
            print("%-26s %-26s %.12f eps=%d" % (a, b, fid, applied))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("fixtures: %d bytes in %s" % (total, os.path.relpath(OUT)), file=sys.stderr)


if __name__ == "__main__":
    main()
