#!/usr/bin/env python3
"""inception_bench.py: the PyTorch side of bench/inception_bench.sh.
  inception_bench.py make DIR N SEED       weights DIR/w.npz (numpy, test/reference/inception_ref.py)
                                           and N images 64x64 in [-1,1] as DIR/in.npy
  inception_bench.py torch DIR BATCH THREADS
      pytorch-fid's InceptionV3([3]) (FID blocks) in float32 on DIR/w.npz, forward over DIR/in.npy
      in batches of BATCH ([0,1] input, its own resize and scaling); prints "torch_ips X" (images
      per second, forward loop only, the better of two passes)"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
from inception_ref import fid_model, make_weights  # noqa: E402


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "make":
        n, seed = int(sys.argv[3]), int(sys.argv[4])
        np.savez(os.path.join(d, "w.npz"), **make_weights(seed))
        np.save(os.path.join(d, "in.npy"), np.random.RandomState(seed).uniform(-1, 1, (n, 3, 64, 64)).astype(np.float32))
        return
    import torch
    batch, threads = int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    w = np.load(os.path.join(d, "w.npz"))

    model = fid_model(dict(w)).float()         # the reference's model, in float32
    x = torch.from_numpy((np.load(os.path.join(d, "in.npy")) + 1) / 2)
    best = 0.0
    for _ in range(2):
        t0 = time.perf_counter()
        for i in range(0, len(x), batch):
            model(x[i:i + batch])[0]
        best = max(best, len(x) / (time.perf_counter() - t0))
    print("torch_ips %.3f" % best)


if __name__ == "__main__":
    main()
