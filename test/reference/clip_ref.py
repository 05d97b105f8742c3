#!/usr/bin/env python3
"""clip_ref.py: fixtures for bin/clip-embed from an independent CLIP: open_clip's CLIP class
(open_clip_torch, `pip install open_clip_torch --no-deps`; its package __init__ and torchvision are
bypassed: only open_clip/model.py, transformer.py and tokenizer.py are used) in float64.

  clip_ref.py                 both fixture sets below (what `make goldens` runs)
  clip_ref.py --only tiny     test/fixtures/clip/: a tiny config, random weights made here
  clip_ref.py --only b32      test/fixtures/clip_b32/: full ViT-B/32 (needs `make` first: the
                              weights and images come from our bin/clip-embed and bin/noise)
  [--out DIR]                 write the one set of --only to DIR instead

tiny (test/clip_embed.bats): width 32, 2 layers, heads of width 8, patch 8, image 32, vocab 1000,
embed 16; every parameter moved off its init by torch's generator, then rounded to float32.
Writes weights.npz (OpenAI state_dict keys, float32; the reference runs on these same values in
float64), ids.npy, images.npy (one array per case) and expected.npz:
  text_raw, text        text features (projection output; L2-normalised)
  image_raw.K, image.K  image features of images case K (resize mode of case K)
  grad.K, loss.K, mean_cos.K   the gradient wrt the images of lambda*(1 - mean cos(image, text))
                        (text = the normalised text features of ids[:B]), the loss and mean cos
Cases: 0 bicubic 40x40 -> 32 (down), 1 bilinear 20x28 -> 32, 2 nearest 20x28 -> 32.

b32 (test/clip_full.bats): the 600 MB of ViT-B/32 weights cannot be committed, so the test makes
them again with `bin/clip-embed --init --seed 7 --jitter 0.05` (B32_INIT below; deterministic,
OpenAI's initialisation with biases and LayerNorm affines moved off 0 and 1) and only the inputs'
fingerprints and the expected outputs are committed. Inputs: captions.txt, 4 real captions (the
first 4 of ../shared/data/example_captions/bird.txt, DF-GAN's), tokenized here by open_clip's
tokenizer (the test checks that bin/tokenize --clip gives the same ids), and 2 images 64x64 from
`bin/noise --batch 2 --dim 12288 --seed 11 --truncate 1` as (2,3,64,64) (values in [-1,1]).
expected.npz: ids; text_raw, text (4,512); image_raw, image (2,512) (bicubic 64 -> 224); grad
(2,3,64,64) float32, loss, mean_cos for lambda B32_LAMBDA against the reference's normalised text
features of the first 2 captions; weights_digest (sha256 over the archive's member names and
CRC-32s) and images_sha256, to tell a change of the inputs from a change of the model.
"""
import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import types
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
LAMBDA = 0.25
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
# the b32 inputs (test/clip_full.bats uses the same)
B32_INIT = ['--init', '--seed', '7', '--jitter', '0.05']
B32_NOISE = ['--batch', '2', '--dim', str(3 * 64 * 64), '--batches', '1', '--seed', '11', '--truncate', '1']
B32_IMAGE = (2, 3, 64, 64)
B32_LAMBDA = 0.5
B32_CAPTIONS = 4


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


def weights_digest(path):
    """sha256 over the members' names and CRC-32s, from the zip directory (reads no data)."""
    h = hashlib.sha256()
    for info in zipfile.ZipFile(path).infolist():
        h.update(('%s %08x\n' % (info.filename, info.CRC)).encode())
    return h.hexdigest()


def run_tool(*args):
    exe = os.path.join(ROOT, 'bin', args[0])
    if not os.access(exe, os.X_OK):
        sys.exit(f'clip_ref.py: expected the built tool {exe} (run make first), found none')
    return subprocess.run([exe, *args[1:]], check=True, stdout=subprocess.PIPE).stdout


def b32(M, out):
    """The ViT-B/32 fixtures (see the module's docstring)."""
    import io
    import open_clip.tokenizer as tok
    shared = os.path.join(ROOT, '..', 'shared', 'data', 'example_captions', 'bird.txt')
    with open(shared, encoding='utf-8') as f:
        captions = [line.rstrip('\n') for line in f][:B32_CAPTIONS]
    ids = tok.tokenize(captions).numpy().astype(np.int32)
    images = np.load(io.BytesIO(run_tool('noise', *B32_NOISE))).reshape(B32_IMAGE)
    tmp = tempfile.mkdtemp()
    try:
        w = os.path.join(tmp, 'w.npz')
        run_tool('clip-embed', *B32_INIT, '-o', w)
        digest = weights_digest(w)
        z = np.load(w)
        sd = {k: torch.from_numpy(z[k].astype(np.float64)) for k in z.files}
    finally:
        shutil.rmtree(tmp)
    m = M.CLIP(embed_dim=512, vision_cfg=dict(width=768, layers=12, head_width=64, patch_size=32, image_size=224),
               text_cfg=dict(context_length=77, vocab_size=49408, width=512, heads=8, layers=12),
               quick_gelu=True).double().eval()
    m.load_state_dict(sd, strict=True)
    exp = {'ids': ids, 'weights_digest': np.array(digest), 'images_sha256': np.array(hashlib.sha256(images.tobytes()).hexdigest())}
    with torch.no_grad():
        t = m.encode_text(torch.from_numpy(ids.astype(np.int64)))
    tn = t / t.norm(dim=-1, keepdim=True)
    exp['text_raw'], exp['text'] = t.numpy(), tn.numpy()
    x = torch.from_numpy(images.astype(np.float64)).requires_grad_(True)
    f = m.encode_image(preprocess(x, 224, 'bicubic'))
    B = len(images)
    cos = F.cosine_similarity(f, tn[:B], dim=-1)
    loss = B32_LAMBDA * (1 - cos.mean())
    loss.backward()
    exp['image_raw'] = f.detach().numpy()
    exp['image'] = (f / f.norm(dim=-1, keepdim=True)).detach().numpy()
    exp['grad'] = x.grad.numpy().astype(np.float32)
    exp['loss'] = np.array(loss.item())
    exp['mean_cos'] = np.array(cos.mean().item())
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'captions.txt'), 'w', encoding='utf-8') as f:
        f.write(''.join(c + '\n' for c in captions))
    np.savez_compressed(os.path.join(out, 'expected.npz'), **exp)
    print(f'wrote {out}: ViT-B/32, loss {loss.item():.10f} mean cos {cos.mean().item():.10f} (lambda {B32_LAMBDA})')


def tiny(M, out):
    """The tiny fixtures (see the module's docstring)."""
    cfg = dict(embed=16, width=32, layers=2, head_width=8, patch=8, image=32,
               context=77, vocab=1000, twidth=32, tlayers=2)
    cases = [('bicubic', 40, 40), ('bilinear', 20, 28), ('nearest', 20, 28)]
    B = 3
    m = build(M, cfg, 0)
    rng = np.random.default_rng(0)
    # start token, words, end token (the largest id, as in CLIP's BPE), zeros after
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
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().float().numpy() for k, v in m.state_dict().items()}
    np.savez(os.path.join(out, 'weights.npz'), **sd)
    np.save(os.path.join(out, 'ids.npy'), ids)
    with open(os.path.join(out, 'images.npy'), 'wb') as f:
        for im in images:
            np.save(f, im)
    np.savez(os.path.join(out, 'expected.npz'), **exp)
    print(f'wrote {out}: lambda {LAMBDA}, head width {cfg["head_width"]}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--only', choices=['tiny', 'b32'], help='one fixture set (default: both)')
    ap.add_argument('--out', help='where to write the set of --only (default: test/fixtures/clip or clip_b32)')
    a = ap.parse_args()
    if a.out and not a.only:
        ap.error('--out needs --only')
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    M = import_open_clip_model()
    if a.only in (None, 'tiny'):
        tiny(M, a.out or os.path.join(FIXTURES, 'clip'))
    if a.only in (None, 'b32'):
        b32(M, a.out or os.path.join(FIXTURES, 'clip_b32'))


if __name__ == '__main__':
    main()
