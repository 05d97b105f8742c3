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
from inception_ref import make_weights  # noqa: E402


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "make":
        n, seed = int(sys.argv[3]), int(sys.argv[4])
        np.savez(os.path.join(d, "w.npz"), **make_weights(seed))
        np.save(os.path.join(d, "in.npy"), np.random.RandomState(seed).uniform(-1, 1, (n, 3, 64, 64)).astype(np.float32))
        return
    import torch
    from pytorch_fid import inception as pfi
    batch, threads = int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    w = np.load(os.path.join(d, "w.npz"))

    def fid_inception_v3():
        net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = pfi.FIDInceptionE_1(1280)
        net.Mixed_7c = pfi.FIDInceptionE_2(2048)
        sd = net.state_dict()
        for k in w.files:
            sd[k] = torch.from_numpy(w[k])
        net.load_state_dict(sd)
        return net

    pfi.fid_inception_v3 = fid_inception_v3
    model = pfi.InceptionV3([3]).eval()
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
