#!/usr/bin/env python3
"""clip_train_ref.py: fixtures for bin/clip-train (test/clip_train.bats) from a minimal CLIP written
here after OpenAI's clip/model.py (the ViT: VisionTransformer, the text Transformer with its causal
mask, ResidualAttentionBlock on nn.MultiheadAttention, QuickGELU, the CLIP forward's logits), in
float64, trained as OpenAI / open_clip train it:

  logits = exp(logit_scale) * img_n @ txt_n.T,  loss = (CE(logits, arange) + CE(logits.T, arange)) / 2
  torch.optim.AdamW with open_clip's groups (no decay for ndim < 2 or keys with bn/ln/bias/logit_scale)
  then logit_scale.clamp_(0, ln 100)

  clip_train_ref.py [--out DIR]    (default test/fixtures/clip_train; `make goldens` runs it)

Config (tiny, random weights): image tower width 16, 2 layers, patch 4, image 16 (4x4 patches + the
class token); text tower width 24, 2 layers, context 16, vocab 64; embed 8; heads of width 8 (2 and
3 heads). Weights: OpenAI's initialisation, then every parameter moved by 0.05*N(0,1)*its std (1 for
scalars and constants), rounded to float32; the reference runs on those values in float64.
Two batches of B=4 pairs: images (4,3,20,20) uniform in [-1,1] (resized to 16 bicubic inside the
tower, CLIP's preprocessing as clip-embed's), ids (4,16) int32 (start token 62, words, end token 63,
zeros after; batch 2 has two identical captions).
Two AdamW steps: lr 1e-2 with 2 warm-up steps (lr 5e-3 then 1e-2), betas (0.9, 0.98), eps 1e-6,
weight decay 0.2.

Writes weights.npz (the start, OpenAI keys, float32), images.npy and ids.npy (the two batches as
streams) and expected.npz:
  loss.1, loss.2          the loss of each step (at the weights before it)
  grad.1.KEY, grad.2.KEY  every parameter's gradient at each step (float32)
  delta.2.KEY             the weights after the two steps minus the start (float32, for precision)
  logit_scale.2           logit_scale after the two steps
"""
import argparse
import math
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), 'fixtures', 'clip_train')
CFG = dict(embed=8, width=16, layers=2, patch=4, image=16, twidth=24, tlayers=2, context=16, vocab=64, head_width=8)
B, SIDE = 4, 20
LR, WARMUP, BETAS, EPS, WD = 1e-2, 2, (0.9, 0.98), 1e-6, 0.2
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


# ---------------------------------------------------------------- OpenAI's model.py, reduced

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([('c_fc', nn.Linear(d_model, d_model * 4)), ('gelu', QuickGELU()),
                                              ('c_proj', nn.Linear(d_model * 4, d_model))]))
        self.ln_2 = nn.LayerNorm(d_model)
        self.attn_mask = attn_mask

    def attention(self, x):
        mask = self.attn_mask.to(dtype=x.dtype) if self.attn_mask is not None else None
        return self.attn(x, x, x, need_weights=False, attn_mask=mask)[0]

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                 context_length, vocab_size, transformer_width, transformer_heads, transformer_layers, head_width):
        super().__init__()
        self.context_length = context_length
        self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width, vision_layers,
                                        vision_width // head_width, embed_dim)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads, self.build_attention_mask())
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = nn.LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
        self.initialize_parameters(transformer_width, transformer_layers)

    def initialize_parameters(self, width, layers):
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (width ** -0.5) * ((2 * layers) ** -0.5)
        attn_std = width ** -0.5
        fc_std = (2 * width) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    def build_attention_mask(self):
        mask = torch.empty(self.context_length, self.context_length)
        mask.fill_(float('-inf'))
        mask.triu_(1)
        return mask

    def encode_image(self, image):
        return self.visual(image)

    def encode_text(self, text):
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection

    def forward(self, image, text):
        image_features = self.encode_image(image)
        text_features = self.encode_text(text)
        image_features = image_features / image_features.norm(dim=1, keepdim=True)
        text_features = text_features / text_features.norm(dim=1, keepdim=True)
        logits_per_image = self.logit_scale.exp() * image_features @ text_features.t()
        return logits_per_image, logits_per_image.t()


# ---------------------------------------------------------------- training, as open_clip's

def preprocess(x, size):
    """clip-embed's: [-1,1] -> [0,1] -> bicubic resize (align_corners=False) -> CLIP's normalisation"""
    y = F.interpolate((x + 1) / 2, size=(size, size), mode='bicubic', align_corners=False)
    mean = torch.tensor(MEAN, dtype=y.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=y.dtype).view(1, 3, 1, 1)
    return (y - mean) / std


def clip_loss(model, images, ids):
    lpi, lpt = model(preprocess(images, CFG['image']), ids)
    labels = torch.arange(len(images))
    return (F.cross_entropy(lpi, labels) + F.cross_entropy(lpt, labels)) / 2


def optimizer(model):
    """open_clip's main.py: exclude = ndim < 2 or bn/ln/bias/logit_scale in the name"""
    def exclude(n, p):
        return p.ndim < 2 or 'bn' in n or 'ln' in n or 'bias' in n or 'logit_scale' in n
    named = list(model.named_parameters())
    decay = [p for n, p in named if not exclude(n, p)]
    rest = [p for n, p in named if exclude(n, p)]
    return torch.optim.AdamW([{'params': rest, 'weight_decay': 0.}, {'params': decay, 'weight_decay': WD}],
                             lr=LR, betas=BETAS, eps=EPS)


def lr_at(step):
    """open_clip's cosine_lr's warm-up part, step 0-based"""
    return LR * (step + 1) / WARMUP if step < WARMUP else LR


def batch(rng, dup):
    images = rng.uniform(-1, 1, (B, 3, SIDE, SIDE)).astype(np.float32)
    ids = np.zeros((B, CFG['context']), np.int32)
    V = CFG['vocab']
    for b, n in enumerate(rng.integers(1, CFG['context'] - 2, B)):
        ids[b, 0] = V - 2
        ids[b, 1:1 + n] = rng.integers(1, V - 2, n)
        ids[b, 1 + n] = V - 1
    if dup:
        ids[3] = ids[1]
    return images, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=OUT)
    a = ap.parse_args()
    torch.manual_seed(0)
    c = CFG
    model = CLIP(c['embed'], c['image'], c['layers'], c['width'], c['patch'], c['context'], c['vocab'], c['twidth'],
                 c['twidth'] // c['head_width'], c['tlayers'], c['head_width'])
    model = model.double()
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(0.05 * torch.randn_like(p) * (p.std() if p.numel() > 1 and p.std() > 0 else 1))
            p.copy_(p.float().double())
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    batches = [batch(rng, 0), batch(rng, 1)]
    opt = optimizer(model)
    exp = {}
    for step, (images, ids) in enumerate(batches):
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        opt.zero_grad()
        loss = clip_loss(model, torch.from_numpy(images.astype(np.float64)), torch.from_numpy(ids.astype(np.int64)))
        loss.backward()
        exp[f'loss.{step + 1}'] = np.array(loss.item())
        for k, p in model.named_parameters():
            exp[f'grad.{step + 1}.{k}'] = p.grad.numpy().astype(np.float32)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        print(f'step {step + 1}: lr {lr_at(step):g} loss {loss.item():.10f} logit_scale {model.logit_scale.item():.8f}')
    for k, v in model.state_dict().items():
        exp[f'delta.2.{k}'] = (v - start[k]).numpy().astype(np.float32)
    exp['logit_scale.2'] = np.array(model.logit_scale.item())
    os.makedirs(a.out, exist_ok=True)
    np.savez(os.path.join(a.out, 'weights.npz'), **{k: v.float().numpy() for k, v in start.items()})
    for name, j in (('images.npy', 0), ('ids.npy', 1)):
        with open(os.path.join(a.out, name), 'wb') as f:
            for bt in batches:
                np.save(f, bt[j])
    np.savez_compressed(os.path.join(a.out, 'expected.npz'), **exp)
    print(f'wrote {a.out}')


if __name__ == '__main__':
    main()
