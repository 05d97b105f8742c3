#!/usr/bin/env python3
"""clip_bench_torch.py: PyTorch's side of bench/clip_bench.sh and of `make test-gpu`: open_clip's
CLIP ViT-B/32 (random weights, float32, QuickGELU) on the CPU or (--device cuda, TF32 off) the
GPU: image forward + backward to the input pixels (with the [-1,1] -> [0,1], bicubic resize and
normalisation of clip-embed loss) for --batch images at --size px, and text forward for the ids
in --ids (skipped without --ids). Where open_clip is not installed, the image tower is
bench/clip_vit_torch.py's (the same architecture in plain PyTorch) and there is no text tower.
Prints `image_s`, `text_s` (best of --reps), `tower` and `peak_rss_mb`."""
import argparse
import importlib.util
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'reference'))
from clip_ref import MEAN, STD, import_open_clip_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--ids')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=2)
    ap.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--tower', metavar='WIDTH,LAYERS,HEADS,PATCH,SIZE',
                    help='the plain tower of clip_vit_torch.py with these sizes instead of ViT-B/32')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    cuda = a.device == 'cuda'
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if importlib.util.find_spec('open_clip') is not None and not a.tower:
        M = import_open_clip_model()
        m = M.CLIP(embed_dim=512, vision_cfg=dict(width=768, layers=12, head_width=64, patch_size=32, image_size=224),
                   text_cfg=dict(context_length=77, vocab_size=49408, width=512, heads=8, layers=12),
                   quick_gelu=True).eval().to(dev)
        encode_image, encode_text, tower = m.encode_image, m.encode_text, 'open_clip'
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from clip_vit_torch import VisionTower
        m = VisionTower(*map(int, (a.tower or '768,12,12,32,224').split(','))).eval().to(dev)
        encode_image, encode_text, tower = m, None, 'plain'
    for p in m.parameters():
        p.requires_grad_(False)
    mean = torch.tensor(MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=dev).view(1, 3, 1, 1)
    x0 = torch.rand(a.batch, 3, a.size, a.size, device=dev) * 2 - 1
    t = F.normalize(torch.randn(a.batch, m.proj.shape[1] if tower == 'plain' else 512, device=dev), dim=-1)
    ids = torch.from_numpy(np.load(a.ids).astype(np.int64)).to(dev) if a.ids and encode_text else None

    def sync():
        if cuda:
            torch.cuda.synchronize()
    best_i = best_t = float('inf')
    for _ in range(a.reps + (1 if cuda else 0)):    # on the GPU a first run warms up
        x = x0.clone().requires_grad_(True)
        sync()
        s = time.perf_counter()
        size = m.size if tower == 'plain' else 224
        y = (F.interpolate((x + 1) / 2, size=(size, size), mode='bicubic', align_corners=False) - mean) / std
        loss = 1 - F.cosine_similarity(encode_image(y), t).mean()
        loss.backward()
        sync()
        best_i = min(best_i, time.perf_counter() - s)
        if ids is not None:
            s = time.perf_counter()
            with torch.no_grad():
                encode_text(ids)
            sync()
            best_t = min(best_t, time.perf_counter() - s)
    print(f'image_s {best_i:.4f}')
    if ids is not None:
        print(f'text_s {best_t:.4f}')
    print(f'tower {tower}')
    print(f'peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}')


if __name__ == '__main__':
    main()
