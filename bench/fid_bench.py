"""fid_bench.py: the scipy side of bench/fid_bench.sh (numpy + scipy).

  fid_bench.py make DIR N1 N2 [D]    write DIR/a.npz, DIR/b.npz: stats of N1 and N2 feature
                                     vectors of D (2048) dims, like Inception pool3 features
                                     (non-negative, correlated through 256 latent factors with a
                                     decaying spectrum, plus noise); B is shifted
  fid_bench.py scipy DIR REPEAT      time pytorch-fid's calculate_frechet_distance (the scipy
                                     sqrtm route, from test/reference/fid_ref.py) on them:
                                     prints "scipy_s BEST" and "scipy_fid VALUE EPS"
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))


def features(n, d, shift, seed, k=256):
    mix = np.random.RandomState(12345).standard_normal((k, d)) / np.sqrt(np.arange(1, k + 1))[:, None]
    rs = np.random.RandomState(seed)
    z = rs.standard_normal((n, k)) + shift
    return np.maximum(0.3 * z @ mix + 0.2 * rs.standard_normal((n, d)) + 0.3, 0)


def make(out, n1, n2, d=2048):
    os.makedirs(out, exist_ok=True)
    for name, n, shift, seed in (("a", n1, 0.0, 1), ("b", n2, 0.1, 2)):
        x = features(n, d, shift, seed)
        np.savez(os.path.join(out, name + ".npz"), mu=x.mean(axis=0), sigma=np.cov(x, rowvar=False))


def scipy_time(out, repeat):
    from fid_ref import calculate_frechet_distance
    a, b = np.load(os.path.join(out, "a.npz")), np.load(os.path.join(out, "b.npz"))
    mu1, s1, mu2, s2 = a["mu"], a["sigma"], b["mu"], b["sigma"]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fid, eps = calculate_frechet_distance(mu1, s1, mu2, s2)
        best = min(best, time.perf_counter() - t)
    print("scipy_s %.3f" % best)
    print("scipy_fid %.17g %d" % (fid, eps))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), *(int(v) for v in sys.argv[5:6]))
    elif sys.argv[1] == "scipy":
        scipy_time(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
