#!/usr/bin/env python3
"""inception_bench.py: the PyTorch side of bench/inception_bench.sh.
  inception_bench.py make DIR N SEED [SIZE]  weights DIR/w.npz (numpy, test/reference/inception_ref.py)
                                           and N images SIZExSIZE (default 64) in [-1,1] as DIR/in.npy
  inception_bench.py torch DIR BATCH THREADS [cpu|cuda]
      pytorch-fid's InceptionV3([3]) (FID blocks) in float32 on DIR/w.npz, forward over DIR/in.npy
      in batches of BATCH ([0,1] input, its own resize and scaling) on the CPU or the GPU (TF32
      off; the images uploaded batch by batch, as inception-stats does); prints "torch_ips X"
      (images per second, forward loop only, the better of two passes) and "model M". Where
      pytorch_fid is not installed, torchvision's inception_v3 with the same weights and a
      bilinear resize to 299 (the FID blocks differ only in their pooling; the cost is the same)"""
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
        size = int(sys.argv[5]) if len(sys.argv) > 5 else 64
        np.savez(os.path.join(d, "w.npz"), **make_weights(seed))
        np.save(os.path.join(d, "in.npy"), np.random.RandomState(seed).uniform(-1, 1, (n, 3, size, size)).astype(np.float32))
        return
    import torch
    batch, threads = int(sys.argv[3]), int(sys.argv[4])
    dev = torch.device(sys.argv[5] if len(sys.argv) > 5 else "cpu")
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    w = np.load(os.path.join(d, "w.npz"))

    try:
        model = fid_model(dict(w)).float().to(dev)   # the reference's model, in float32
        name = "pytorch_fid"
    except ImportError:
        import torch.nn.functional as F
        import torchvision
        from inception_ref import load_into
        net = load_into(torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False), dict(w))
        net.fc = torch.nn.Identity()
        net = net.float().to(dev).eval()

        def model(x):
            return [net(F.interpolate(2 * x - 1, size=(299, 299), mode="bilinear", align_corners=False))]
        name = "torchvision"
    x = torch.from_numpy((np.load(os.path.join(d, "in.npy")) + 1) / 2)
    best = 0.0
    for _ in range(2):
        t0 = time.perf_counter()
        for i in range(0, len(x), batch):
            model(x[i:i + batch].to(dev))[0].cpu()
        best = max(best, len(x) / (time.perf_counter() - t0))
    print("torch_ips %.3f" % best)
    print("model %s" % name)


if __name__ == "__main__":
    main()
