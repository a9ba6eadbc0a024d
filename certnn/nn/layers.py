"""Layers. Each checks its input shape on call and raises a ``ShapeError``
naming the layer, the expected and the actual shape; parameters are
initialised like PyTorch's defaults from certnn's seeded generator."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..errors import CertnnError, ShapeError
from ..ops._common import fmt
from ..ops.norm import batch_moments
from ..random import default_rng
from ..tensor import Tensor
from .module import Module, Parameter


def _uniform(shape, bound, dtype):
    return default_rng().uniform(-bound, bound, size=shape).astype(dtype)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _expect(cond: bool, what: str, x: Tensor):
    if not cond:
        raise ShapeError(f"expected input {what}, got {fmt(x.shape)}")


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ShapeError(f"Linear({in_features}, {out_features}): feature counts must be positive")
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(_uniform((out_features, in_features), bound, dtype))
        self.bias = Parameter(_uniform((out_features,), bound, dtype)) if bias else None

    def forward(self, x):
        _expect(x.ndim >= 1 and x.shape[-1] == self.in_features, f"(..., {self.in_features})", x)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, dtype=np.float32):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ShapeError(f"Conv2d: in_channels={in_channels} and out_channels={out_channels} "
                             f"must be divisible by groups={groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation, self.groups = _pair(padding), _pair(dilation), groups
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = Parameter(_uniform((out_channels, in_channels // groups, *self.kernel_size), bound, dtype))
        self.bias = Parameter(_uniform((out_channels,), bound, dtype)) if bias else None

    def forward(self, x):
        _expect(x.ndim == 4 and x.shape[1] == self.in_channels, f"(N, {self.in_channels}, H, W)", x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class BatchNorm2d(Module):
    """Training mode is the ``batch_norm_train`` op (batch statistics, shifted data
    so that a constant channel centres to exact zeros: BugZoo card 14) and updates
    the running statistics (unbiased variance, like PyTorch); eval mode is the
    ``batch_norm`` op."""

    ndims, layout = (4,), "(N, {}, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype))
        self.bias = Parameter(np.zeros(num_features, dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))

    def forward(self, x):
        _expect(x.ndim in self.ndims and x.shape[1] == self.num_features, self.layout.format(self.num_features), x)
        if not self.training:
            return F.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var, self.eps)
        y = F.batch_norm_train(x, self.weight, self.bias, self.eps)
        self.update_running_stats(x.data)
        return y

    def update_running_stats(self, x: np.ndarray) -> None:
        """The running averages' update after ``batch_norm_train`` normalised x (a
        compiled training-mode module calls it too)."""
        mean, var = batch_moments(x, float(self.eps))        # what the op normalised with
        n, m = x.size // self.num_features, self.momentum
        self.running_mean.data[...] = (1 - m) * self.running_mean.data + m * mean
        self.running_var.data[...] = (1 - m) * self.running_var.data + m * (var * (n / max(n - 1, 1)))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(BatchNorm2d):
    """The same normalisation on (N, C) or (N, C, L) inputs (statistics over every
    axis but C), as ``torch.nn.BatchNorm1d``; a subclass so that code asking
    whether a model holds batch normalisation sees both."""

    ndims, layout = (2, 3), "(N, {0}) or (N, {0}, L)"


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.weight = Parameter(np.ones(self.normalized_shape, dtype))
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype))

    def forward(self, x):
        k = len(self.normalized_shape)
        _expect(x.shape[x.ndim - k:] == self.normalized_shape, f"(..., {', '.join(map(str, self.normalized_shape))})", x)
        return F.layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class _Elementwise(Module):
    fn = None

    def forward(self, x):
        return type(self).fn(x)


class ReLU(_Elementwise):
    fn = staticmethod(F.relu)


class Tanh(_Elementwise):
    fn = staticmethod(F.tanh)


class Sigmoid(_Elementwise):
    fn = staticmethod(F.sigmoid)


class GELU(_Elementwise):
    fn = staticmethod(F.gelu)


class Softplus(_Elementwise):
    fn = staticmethod(F.softplus)


class Identity(_Elementwise):
    fn = staticmethod(lambda x: x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation

    def forward(self, x):
        _expect(x.ndim == 4, "(N, C, H, W)", x)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        _expect(x.ndim == 4, "(N, C, H, W)", x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class PixelShuffle(Module):
    """(N, C r^2, H, W) -> (N, C, H r, W r), PyTorch's channel order: input channel
    c r^2 + i r + j goes to output pixel (h r + i, w r + j) of channel c. Composed
    from reshape and transpose (so every interpreter of the op table handles it);
    a convolution followed by it is the sub-pixel form of a stride-r transposed
    convolution (Shi et al. 2016)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        if not (isinstance(upscale_factor, int) and upscale_factor >= 1):
            raise ShapeError(f"PixelShuffle: upscale_factor must be a positive int, got {upscale_factor!r}")
        self.upscale_factor = upscale_factor

    def forward(self, x):
        r = self.upscale_factor
        _expect(x.ndim == 4 and x.shape[1] % (r * r) == 0, f"(N, C*{r * r}, H, W)", x)
        n, c, h, w = x.shape
        y = F.transpose(F.reshape(x, (n, c // (r * r), r, r, h, w)), (0, 1, 4, 2, 5, 3))
        return F.reshape(y, (n, c // (r * r), h * r, w * r))

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)


class Dropout(Module):
    """Inverted dropout: in training, each element is kept with probability 1 - p
    (the mask drawn from certnn's seeded generator) and scaled by 1/(1-p): the
    ``dropout`` op with that mask. The identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise CertnnError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        return F.dropout(x, default_rng().random(x.shape) >= self.p, self.p)

    def extra_repr(self):
        return f"p={self.p}"


class Embedding(Module):
    """A lookup table (num_embeddings, dim), initialised N(0, 1) like PyTorch's."""

    def __init__(self, num_embeddings: int, dim: int, dtype=np.float32):
        super().__init__()
        self.num_embeddings, self.dim = num_embeddings, dim
        self.weight = Parameter(default_rng().standard_normal((num_embeddings, dim)).astype(dtype))

    def forward(self, indices):
        return F.embedding(indices, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.dim}"


class RMSNorm(Module):
    def __init__(self, normalized_shape, eps: float = 1e-6, dtype=np.float32):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.weight = Parameter(np.ones(self.normalized_shape, dtype))

    def forward(self, x):
        k = len(self.normalized_shape)
        _expect(x.shape[x.ndim - k:] == self.normalized_shape,
                f"(..., {', '.join(map(str, self.normalized_shape))})", x)
        return F.rms_norm(x, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class GlobalAvgPool2d(Module):
    """(N, C, H, W) -> (N, C), the mean over the spatial axes."""

    def forward(self, x):
        _expect(x.ndim == 4, "(N, C, H, W)", x)
        return F.global_avg_pool2d(x)
