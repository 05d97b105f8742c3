#!/usr/bin/env python3
"""clip_ref.py: fixtures for bin/clip-embed from an independent CLIP: open_clip's CLIP class
(open_clip_torch, `pip install open_clip_torch --no-deps`; its package __init__ and torchvision are
bypassed: only open_clip/model.py and transformer.py are used) in float64, random weights.

  clip_ref.py                     the tiny committed fixtures in test/fixtures/clip/
  clip_ref.py --full --out DIR    full ViT-B/32 (random weights) into DIR (not committed; slow)
                                  [--ids ids.npy: text ids, e.g. from bin/tokenize --clip]

Writes weights.npz (OpenAI state_dict keys, float32; the reference runs on these same values in
float64), ids.npy, images.npy (one array per case) and expected.npz:
  text_raw, text        text features (projection output; L2-normalised)
  image_raw.K, image.K  image features of images case K (resize mode of case K)
  grad.K, loss.K, mean_cos.K   the gradient wrt the images of lambda*(1 - mean cos(image, text))
                        (text = the normalised text features of ids[:B]), the loss and mean cos
Cases: 0 bicubic 40x40 -> 32 (down), 1 bilinear 20x28 -> 32, 2 nearest 20x28 -> 32 (tiny);
the full run has one bicubic case 256 -> 224.
"""
import argparse
import importlib.util
import os
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
LAMBDA = 0.25


def import_open_clip_model():
    """open_clip.model without open_clip/__init__.py (which needs torchvision's transforms)."""
    misc = types.ModuleType('torchvision.ops.misc')
    misc.FrozenBatchNorm2d = nn.BatchNorm2d
    ops = types.ModuleType('torchvision.ops')
    ops.misc = misc
    tv = types.ModuleType('torchvision')
    tv.ops = ops
    for name, mod in (('torchvision', tv), ('torchvision.ops', ops), ('torchvision.ops.misc', misc)):
        sys.modules.setdefault(name, mod)
    spec = importlib.util.find_spec('open_clip')
    if spec is None:
        sys.exit('clip_ref.py: expected open_clip_torch installed (pip install open_clip_torch --no-deps), found none')
    pkg = types.ModuleType('open_clip')
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules['open_clip'] = pkg
    import open_clip.model as M
    return M


def build(M, cfg, seed):
    torch.manual_seed(seed)
    m = M.CLIP(embed_dim=cfg['embed'],
               vision_cfg=dict(width=cfg['width'], layers=cfg['layers'], head_width=cfg['head_width'],
                               patch_size=cfg['patch'], image_size=cfg['image']),
               text_cfg=dict(context_length=cfg['context'], vocab_size=cfg['vocab'], width=cfg['twidth'],
                             heads=cfg['twidth'] // cfg['head_width'], layers=cfg['tlayers']),
               quick_gelu=True)
    m = m.double().eval()
    with torch.no_grad():
        for k, p in m.named_parameters():
            # every parameter away from its init (LayerNorm affine and biases too), then rounded
            # to float32 so that the C model (float32 weights) runs on the same values
            p.add_(0.05 * torch.randn_like(p) * (p.std() if p.numel() > 1 and p.std() > 0 else 1))
            p.copy_(p.float().double())
    return m


def preprocess(x, size, mode):
    y = (x + 1) / 2
    kw = {} if mode == 'nearest' else {'align_corners': False}
    y = F.interpolate(y, size=(size, size), mode=mode, **kw)
    mean = torch.tensor(MEAN, dtype=y.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=y.dtype).view(1, 3, 1, 1)
    return (y - mean) / std


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--full', action='store_true', help='ViT-B/32 sizes')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'clip'))
    ap.add_argument('--ids', help='int32 (B,77) token ids (default: synthetic)')
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    M = import_open_clip_model()
    if a.full:
        cfg = dict(embed=512, width=768, layers=12, head_width=64, patch=32, image=224,
                   context=77, vocab=49408, twidth=512, tlayers=12)
        cases = [('bicubic', 256, 256)]
        B = 2
    else:
        cfg = dict(embed=16, width=32, layers=2, head_width=8, patch=8, image=32,
                   context=77, vocab=1000, twidth=32, tlayers=2)
        cases = [('bicubic', 40, 40), ('bilinear', 20, 28), ('nearest', 20, 28)]
        B = 3
    m = build(M, cfg, 0)
    rng = np.random.default_rng(0)
    if a.ids:
        ids = np.load(a.ids).astype(np.int32)
    else:   # start token, words, end token (the largest id, as in CLIP's BPE), zeros after
        ids = np.zeros((4, cfg['context']), np.int32)
        for b, n in enumerate([5, 1, 17, 30][:len(ids)]):
            ids[b, 0] = cfg['vocab'] - 2
            ids[b, 1:1 + n] = rng.integers(1, cfg['vocab'] - 2, n)
            ids[b, 1 + n] = cfg['vocab'] - 1
    exp = {}
    with torch.no_grad():
        t = m.encode_text(torch.from_numpy(ids.astype(np.int64)))
    exp['text_raw'] = t.numpy()
    tn = t / t.norm(dim=-1, keepdim=True)
    exp['text'] = tn.numpy()
    images = []
    for k, (mode, H, W) in enumerate(cases):
        x = torch.from_numpy(rng.uniform(-1, 1, (B, 3, H, W)).astype(np.float32).astype(np.float64))
        images.append(x.numpy().astype(np.float32))
        x.requires_grad_(True)
        f = m.encode_image(preprocess(x, cfg['image'], mode))
        txt = tn[:B] if len(tn) >= B else tn[:1].expand(B, -1)
        cos = F.cosine_similarity(f, txt, dim=-1)
        loss = LAMBDA * (1 - cos.mean())
        loss.backward()
        exp[f'image_raw.{k}'] = f.detach().numpy()
        exp[f'image.{k}'] = (f / f.norm(dim=-1, keepdim=True)).detach().numpy()
        exp[f'grad.{k}'] = x.grad.numpy()
        exp[f'loss.{k}'] = np.array(loss.item())
        exp[f'mean_cos.{k}'] = np.array(cos.mean().item())
        print(f'case {k} {mode} {H}x{W}: loss {loss.item():.10f} mean cos {cos.mean().item():.10f}')
    os.makedirs(a.out, exist_ok=True)
    sd = {k: v.detach().float().numpy() for k, v in m.state_dict().items()}
    np.savez(os.path.join(a.out, 'weights.npz'), **sd)
    np.save(os.path.join(a.out, 'ids.npy'), ids)
    with open(os.path.join(a.out, 'images.npy'), 'wb') as f:
        for im in images:
            np.save(f, im)
    np.savez(os.path.join(a.out, 'expected.npz'), **exp)
    print(f'wrote {a.out}: lambda {LAMBDA}, head width {cfg["head_width"]}')


if __name__ == '__main__':
    main()
