"""The spectral convolution of a Fourier neural operator (Li et al., 2021), 1-D:
keep the lowest ``modes`` frequencies of each input channel, mix channels with
a complex weight per frequency, transform back:

    y = irfft( rfft(x)[:modes] @ W )      (per mode, a complex (in, out) matrix W)

Channels-last layout, x (batch, n, in_channels) -> (batch, n, out_channels), so
the pointwise layers around it are plain ``Linear``. Any resolution n with
n // 2 + 1 >= modes works with the same weights (FNO's discretisation invariance).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..errors import ShapeError
from ..random import default_rng
from .module import Module, Parameter


class SpectralConv1d(Module):
    def __init__(self, in_channels: int, out_channels: int, modes: int, dtype=np.float32):
        super().__init__()
        self.in_channels, self.out_channels, self.modes = in_channels, out_channels, modes
        scale = 1.0 / (in_channels * out_channels)
        # (modes, in, out, re/im), uniform in [0, scale) like the FNO reference code
        self.weight = Parameter((scale * default_rng().random((modes, in_channels, out_channels, 2))).astype(dtype))

    def forward(self, x):
        if x.ndim != 3 or x.shape[2] != self.in_channels:
            raise ShapeError(f"expected input (batch, n, {self.in_channels}), got {x.shape}")
        B, n, _ = x.shape
        z = F.reshape(F.rfft(x, axis=1, modes=self.modes), (B, self.modes, 1, self.in_channels, 2))
        # per example and mode a (1, in) @ (in, out) complex product; the batch stays on axis 0
        y = F.reshape(F.complex_matmul(z, self.weight), (B, self.modes, self.out_channels, 2))
        return F.irfft(y, n, axis=1)                                              # (B, n, out)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, modes={self.modes}"
