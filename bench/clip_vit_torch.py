"""clip_vit_torch.py: CLIP's image tower (OpenAI's VisionTransformer: patch conv, class token,
positional embedding, ln_pre, residual blocks of nn.MultiheadAttention and a QuickGELU MLP, ln_post,
projection) in plain PyTorch, with random weights, for the GPU benchmarks where open_clip may be
missing; and clip_loss, the differentiable CLIP loss of clip-embed loss:
lambda * (1 - mean cos(image feature, text feature)) after [-1,1] -> [0,1], the bicubic resize to
the tower's input size and CLIP's normalisation. ViT-B/32 by default (width 768, 12 layers, 12
heads, patch 32, 224 px, embed 512)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), QuickGELU(), nn.Linear(4 * d, d))

    def forward(self, x):                       # x (T, B, d), as OpenAI's
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class VisionTower(nn.Module):
    def __init__(self, width=768, layers=12, heads=12, patch=32, size=224, embed=512):
        super().__init__()
        g = size // patch
        self.size = size
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width) * width ** -0.5)
        self.positional_embedding = nn.Parameter(torch.randn(g * g + 1, width) * width ** -0.5)
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, embed) * width ** -0.5)

    def forward(self, x):                       # x (B, 3, size, size), normalised
        x = self.conv1(x).flatten(2).transpose(1, 2)                      # (B, g*g, width)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.blocks(self.ln_pre(x).transpose(0, 1)).transpose(0, 1)
        return self.ln_post(x[:, 0]) @ self.proj


def clip_loss(tower, fake, text, lam):
    """lambda * (1 - mean cos) of the fakes (B,3,H,W) in [-1,1] against text (B,E)."""
    mean = torch.tensor(MEAN, device=fake.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=fake.device).view(1, 3, 1, 1)
    y = F.interpolate((fake + 1) / 2, size=(tower.size, tower.size), mode='bicubic', align_corners=False)
    return lam * (1 - F.cosine_similarity(tower((y - mean) / std), text).mean())
