#!/usr/bin/env python3
"""pcie_torch.py: host <-> GPU copy rates on this machine, for `make test-gpu`'s estimate of what
the pipes and copies cost a step: a (32,3,256,256) float32 tensor (the bird config's fakes, 25 MB)
copied host to device and back, from pageable memory (what our tools copy from: malloc'd buffers,
cudaMemcpy) and from pinned memory; the best of --reps copies each. Prints "key value" lines:
h2d_pageable_gbs, d2h_pageable_gbs, h2d_pinned_gbs, d2h_pinned_gbs (GB/s, 1e9 bytes).

    pcie_torch.py [--mb 25.2] [--reps 10]
"""
import argparse
import time

import torch


def rate(nbytes, fn, reps):
    best = float('inf')
    for _ in range(reps + 1):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return nbytes / best / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mb', type=float, default=32 * 3 * 256 * 256 * 4 / 1e6)
    ap.add_argument('--reps', type=int, default=10)
    a = ap.parse_args()
    n = int(a.mb * 1e6 / 4)
    d = torch.empty(n, device='cuda')
    for name, pin in (('pageable', False), ('pinned', True)):
        h = torch.empty(n, pin_memory=pin)
        h.fill_(1.0)
        print('h2d_%s_gbs %.2f' % (name, rate(4 * n, lambda: d.copy_(h), a.reps)))
        print('d2h_%s_gbs %.2f' % (name, rate(4 * n, lambda: h.copy_(d), a.reps)))
    print('bytes %d' % (4 * n))


if __name__ == '__main__':
    main()
