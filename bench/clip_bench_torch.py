#!/usr/bin/env python3
"""clip_bench_torch.py: PyTorch's side of bench/clip_bench.sh: open_clip's CLIP ViT-B/32 (random
weights, float32, QuickGELU) on the CPU: image forward + backward to the input pixels (with the
[-1,1] -> [0,1], bicubic resize and normalisation of clip-embed loss) for --batch images at
--size px, and text forward for the ids in --ids. Prints `image_s`, `text_s` (best of --reps)
and `peak_rss_mb`."""
import argparse
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
    ap.add_argument('--ids', required=True)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    M = import_open_clip_model()
    m = M.CLIP(embed_dim=512, vision_cfg=dict(width=768, layers=12, head_width=64, patch_size=32, image_size=224),
               text_cfg=dict(context_length=77, vocab_size=49408, width=512, heads=8, layers=12), quick_gelu=True).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    x0 = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1
    t = F.normalize(torch.randn(a.batch, 512), dim=-1)
    ids = torch.from_numpy(np.load(a.ids).astype(np.int64))
    best_i = best_t = float('inf')
    for _ in range(a.reps):
        x = x0.clone().requires_grad_(True)
        s = time.perf_counter()
        y = (F.interpolate((x + 1) / 2, size=(224, 224), mode='bicubic', align_corners=False) - mean) / std
        loss = 1 - F.cosine_similarity(m.encode_image(y), t).mean()
        loss.backward()
        best_i = min(best_i, time.perf_counter() - s)
        s = time.perf_counter()
        with torch.no_grad():
            m.encode_text(ids)
        best_t = min(best_t, time.perf_counter() - s)
    print(f'image_s {best_i:.3f}')
    print(f'text_s {best_t:.3f}')
    print(f'peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}')


if __name__ == '__main__':
    main()
