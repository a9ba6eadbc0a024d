"""A small convolutional U-Net noise predictor eps_theta(x_t, t) for 28x28 images.

Three resolutions, 28 -> 14 -> 7 with channel widths c0, c1, c2:

    x (N,1,28,28) --conv--> ResBlock(c0) ----------------------------skip s0
        --conv s2--> ResBlock(c1) ------------------------skip s1       |
            --conv s2--> ResBlock(c2)   (7x7, the middle)      |         |
            <--up x2-- [., s1] -> ResBlock(c2+c1 -> c1) <-------'        |
        <--up x2-- [., s0] -> ResBlock(c1+c0 -> c0) <--------------------'
    --norm, silu, conv--> eps_hat (N,1,28,28)

Each residual block reads the time: h = conv1(silu(gn(x))) + W_b e(t) (a
per-channel bias), out = skip(x) + conv2(silu(gn(h))), with e(t) = MLP(sinusoidal(t)).
conv2 and the output convolution start at zero, so each block starts as its
skip path and the network starts predicting eps_hat = 0 (loss 1). Downsampling
is a stride-2 3x3 convolution, upsampling nearest-neighbour (composed from
reshape and concat). Everything is built from certnn's existing ops.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from ..errors import CertnnError
from ..tensor import Tensor


def group_norm(x: Tensor, groups: int, eps: float = 1e-5) -> Tensor:
    """Group normalisation without the affine part (the next convolution absorbs it):
    each example's channels in ``groups`` groups, each group normalised to mean 0 and
    variance 1 over its channels and pixels (layer norm of the (N, G, C/G*H*W) view)."""
    n, c, h, w = x.shape
    length = c // groups * h * w
    ones, zeros = (Tensor(np.full(length, v, x.dtype)) for v in (1.0, 0.0))
    return F.reshape(F.layer_norm(F.reshape(x, (n, groups, length)), ones, zeros, eps), x.shape)


def upsample2(x: Tensor) -> Tensor:
    """Nearest-neighbour 2x upsampling: out[n, c, 2i + a, 2j + b] = x[n, c, i, j]."""
    n, c, h, w = x.shape
    x = F.reshape(x, (n, c, h, 1, w, 1))
    x = F.concat([x, x], axis=5)
    x = F.concat([x, x], axis=3)
    return F.reshape(x, (n, c, 2 * h, 2 * w))


def _zero(conv: nn.Conv2d) -> nn.Conv2d:
    conv.weight.data[...] = 0.0
    conv.bias.data[...] = 0.0
    return conv


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, tdim: int, groups: int):
        super().__init__()
        self.groups = groups
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(tdim, cout)
        self.conv2 = _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        h = self.conv1(F.silu(group_norm(x, self.groups)))
        h = h + F.reshape(self.time(e), (h.shape[0], h.shape[1], 1, 1))
        h = self.conv2(F.silu(group_norm(h, self.groups)))
        return h + (x if self.skip is None else self.skip(x))


class UNet(nn.Module):
    """eps_theta on flattened 28x28 images: (N, 784) and a time embedding (N, emb) -> (N, 784)."""

    def __init__(self, channels=(16, 32, 64), emb: int = 64, groups: int = 8, side: int = 28):
        super().__init__()
        c0, c1, c2 = channels
        if any(c % groups for c in channels) or side % 4:
            raise CertnnError(f"unet: channel widths {tuple(channels)} must be multiples of {groups} (the norm's "
                              f"groups) and the image side {side} a multiple of 4")
        self.side = side
        tdim = 4 * c0
        self.time1, self.time2 = nn.Linear(emb, tdim), nn.Linear(tdim, tdim)
        self.inp = nn.Conv2d(1, c0, 3, padding=1)
        self.down0 = ResBlock(c0, c0, tdim, groups)
        self.pool0 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.down1 = ResBlock(c1, c1, tdim, groups)
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid = ResBlock(c2, c2, tdim, groups)
        self.up1 = ResBlock(c2 + c1, c1, tdim, groups)
        self.up0 = ResBlock(c1 + c0, c0, tdim, groups)
        self.groups = groups
        self.out = _zero(nn.Conv2d(c0, 1, 3, padding=1))

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        n = x.shape[0]
        e = self.time2(F.silu(self.time1(e)))
        s0 = self.down0(self.inp(F.reshape(x, (n, 1, self.side, self.side))), e)
        s1 = self.down1(self.pool0(s0), e)
        h = self.mid(self.pool1(s1), e)
        h = self.up1(F.concat([upsample2(h), s1], axis=1), e)
        h = self.up0(F.concat([upsample2(h), s0], axis=1), e)
        return F.reshape(self.out(F.silu(group_norm(h, self.groups))), (n, self.side * self.side))
