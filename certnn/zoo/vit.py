"""A Vision Transformer (Dosovitskiy et al., 2021) for 28x28 digits: 7x7 patches
(16 tokens) embedded by a strided convolution, learned position embeddings
added (a broadcast residual add), pre-LayerNorm transformer blocks, a final
LayerNorm and the mean over tokens (global average pooling, as in later ViTs,
instead of a class token) into a linear classifier."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from ..random import default_rng


class ViT(nn.Module):
    def __init__(self, image_size: int = 28, patch: int = 7, in_channels: int = 1, num_classes: int = 10,
                 dim: int = 64, depth: int = 4, heads: int = 4, mlp_ratio: int = 2):
        super().__init__()
        self.tokens = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.pos = nn.Parameter(default_rng().normal(0.0, 0.02, (self.tokens, dim)).astype(np.float32))
        self.blocks = nn.Sequential(*[nn.TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        p = self.patch_embed(x)                                    # (B, dim, 4, 4)
        h = F.transpose(F.flatten(p, 2), (0, 2, 1)) + self.pos     # (B, 16, dim)
        h = self.norm(self.blocks(h))
        return self.head(F.mean(h, axis=1))


def vit(image_size: int = 28, patch: int = 7, in_channels: int = 1, num_classes: int = 10, dim: int = 64,
        depth: int = 4, heads: int = 4, mlp_ratio: int = 2):
    return ViT(image_size, patch, in_channels, num_classes, dim, depth, heads, mlp_ratio)
