"""The functional API: one thin function per op, all going through
:func:`certnn.tensor.apply` (so eager mode, the tape and tracing see every op)."""

from __future__ import annotations

import builtins

from .errors import ShapeError
from .ops._common import strict_broadcast  # noqa: F401  (re-exported: F.strict_broadcast())
from .tensor import Tensor, apply


def _pair(v, name="value"):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2:
        raise ShapeError(f"{name} must be an int or a pair, got {v}")
    return v


def _axes(axis):
    if axis is None:
        return None
    return (axis,) if isinstance(axis, int) else tuple(axis)


def add(a, b): return apply("add", a, b)
def sub(a, b): return apply("sub", a, b)
def mul(a, b): return apply("mul", a, b)
def div(a, b): return apply("div", a, b)
def neg(x): return apply("neg", x)
def exp(x): return apply("exp", x)
def log(x): return apply("log", x)
def sqrt(x): return apply("sqrt", x)
def abs(x): return apply("abs", x)  # noqa: A001
def maximum(a, b): return apply("maximum", a, b)
def minimum(a, b): return apply("minimum", a, b)
def relu(x): return apply("relu", x)
def leaky_relu(x, negative_slope=0.01): return apply("leaky_relu", x, negative_slope=float(negative_slope))
def tanh(x): return apply("tanh", x)
def sigmoid(x): return apply("sigmoid", x)
def gelu(x): return apply("gelu", x)


def silu(x):
    """SiLU (swish), x sigmoid(x), composed of existing ops."""
    return x * sigmoid(x)


def softplus(x): return apply("softplus", x)
def matmul(a, b): return apply("matmul", a, b)


def linear(x, weight, bias=None):
    return apply("linear", x, weight) if bias is None else apply("linear", x, weight, bias)


def sum(x, axis=None, keepdims=False): return apply("sum", x, axes=_axes(axis), keepdims=keepdims)  # noqa: A001
def mean(x, axis=None, keepdims=False): return apply("mean", x, axes=_axes(axis), keepdims=keepdims)
def max(x, axis=None, keepdims=False): return apply("max", x, axes=_axes(axis), keepdims=keepdims)  # noqa: A001
def reshape(x, shape): return apply("reshape", x, shape=tuple(shape))
def flatten(x, start_dim=1, end_dim=-1): return apply("flatten", x, start_dim=start_dim, end_dim=end_dim)
def transpose(x, perm): return apply("transpose", x, perm=tuple(perm))
def concat(xs, axis=0): return apply("concat", *xs, axis=axis)


def where(cond, a, b):
    """``a`` where the boolean ``cond`` is True, ``b`` elsewhere (broadcasting); the
    gradient of the branch not taken is exactly zero, so ``where(y != 0, x / y, 0)``
    has finite gradients (see :mod:`certnn.ops.select`)."""
    import numpy as np
    return apply("where", np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool), a, b)
def softmax(x, axis=-1): return apply("softmax", x, axis=axis)
def log_softmax(x, axis=-1): return apply("log_softmax", x, axis=axis)


def slice(x, starts, ends, axes=None, steps=None):  # noqa: A001
    return apply("slice", x, starts=tuple(starts), ends=tuple(ends),
                 axes=None if axes is None else tuple(axes), steps=None if steps is None else tuple(steps))


def getitem(x: Tensor, idx) -> Tensor:
    """Basic indexing (ints and slices with positive steps) as slice + reshape."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    if any(i is Ellipsis or i is None for i in idx) or len(idx) > x.ndim:
        raise ShapeError(f"indexing with {idx!r} is not supported on a {x.ndim}-D tensor "
                         "(use ints and slices)")
    starts, ends, axes, steps, drop = [], [], [], [], []
    for ax, i in enumerate(idx):
        n = x.shape[ax]
        if isinstance(i, int):
            j = i + n if i < 0 else i
            if not 0 <= j < n:
                raise ShapeError(f"index {i} out of range for axis {ax} of size {n}")
            starts.append(j), ends.append(j + 1), axes.append(ax), steps.append(1), drop.append(ax)
        elif isinstance(i, builtins.slice):
            if i == builtins.slice(None):
                continue  # the whole axis: recording no bounds keeps a traced graph batch-size free
            start, stop, step = i.indices(n)
            if step <= 0:
                raise ShapeError("negative slice steps are not supported")
            starts.append(start), ends.append(stop), axes.append(ax), steps.append(step)
        else:
            raise ShapeError(f"unsupported index {i!r}")
    y = slice(x, starts, ends, axes, steps)
    if drop:
        y = reshape(y, [d for ax, d in enumerate(y.shape) if ax not in drop])
    return y


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    ins = (x, weight) if bias is None else (x, weight, bias)
    return apply("conv2d", *ins, stride=_pair(stride, "stride"), padding=_pair(padding, "padding"),
                 dilation=_pair(dilation, "dilation"), groups=int(groups))


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    return apply("max_pool2d", x, kernel_size=_pair(kernel_size, "kernel_size"),
                 stride=None if stride is None else _pair(stride, "stride"),
                 padding=_pair(padding, "padding"), dilation=_pair(dilation, "dilation"))


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    return apply("avg_pool2d", x, kernel_size=_pair(kernel_size, "kernel_size"),
                 stride=None if stride is None else _pair(stride, "stride"),
                 padding=_pair(padding, "padding"), count_include_pad=bool(count_include_pad))


def batch_norm(x, weight, bias, running_mean, running_var, eps=1e-5):
    return apply("batch_norm", x, weight, bias, running_mean, running_var, eps=float(eps))


def batch_norm_train(x, weight, bias, eps=1e-5):
    """Training-mode batch normalisation: each channel (axis 1) normalised with the
    batch's own mean and biased variance, then scaled and shifted per channel."""
    return apply("batch_norm_train", x, weight, bias, eps=float(eps))


def layer_norm(x, weight, bias, eps=1e-5):
    return apply("layer_norm", x, weight, bias, eps=float(eps))


def cross_entropy(logits, target, ignore_index=-100, reduction="mean"):
    return apply("cross_entropy", logits, target, ignore_index=int(ignore_index), reduction=reduction)


def mse(pred, target, reduction="mean"):
    return apply("mse", pred, target, reduction=reduction)


def pad(x, pads, value=0.0):
    """ONNX-style constant padding: ``pads`` = (begin_0, ..., begin_{n-1}, end_0, ..., end_{n-1})."""
    return apply("pad", x, pads=tuple(int(p) for p in pads), value=float(value))


# ---- the zoo's ops: embeddings, attention, normalisation, scans, spectral layers

def embedding(indices, weight):
    """Rows of ``weight`` (V, D) picked by integer ``indices``: shape indices.shape + (D,)."""
    return apply("embedding", indices, weight)


def dropout(x, keep, p):
    """x / (1 - p) where the boolean mask ``keep`` is True, 0 elsewhere (``nn.Dropout`` draws the mask)."""
    return apply("dropout", x, keep, p=float(p))


def rms_norm(x, weight, eps=1e-6):
    return apply("rms_norm", x, weight, eps=float(eps))


def masked_softmax(x, keep, axis=-1):
    """Softmax over the entries where ``keep`` is True; the others, and fully masked rows, are 0."""
    return apply("masked_softmax", x, keep, axis=axis)


def causal_mask(q_len: int, k_len: int):
    """(q_len, k_len) booleans: query i sees keys j <= i + (k_len - q_len), i.e. the
    queries are the last q_len positions (what a KV-cache decoding step needs;
    for q_len == k_len this is the lower triangle)."""
    import numpy as np
    return np.tril(np.ones((q_len, k_len), dtype=bool), k=k_len - q_len)


def scaled_dot_product_attention(q, k, v, mask=None, is_causal=False, scale=None):
    """softmax(q k^T * scale) v over the last two axes: q (..., Tq, d), k (..., Tk, d),
    v (..., Tk, dv) -> (..., Tq, dv); ``scale`` defaults to 1/sqrt(d). ``mask``: booleans
    broadcastable to (..., Tq, Tk), True where attention is allowed (a padding mask is
    (B, 1, 1, Tk)); ``is_causal`` adds :func:`causal_mask`. With a mask the weights are
    ``masked_softmax``: a query with no allowed key gets zeros, not NaN."""
    import numpy as np
    d = q.shape[-1]
    perm = tuple(range(k.ndim - 2)) + (k.ndim - 1, k.ndim - 2)
    scores = matmul(q, transpose(k, perm)) * (1.0 / float(np.sqrt(d)) if scale is None else float(scale))
    keep = None if mask is None else np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
    if is_causal:
        c = causal_mask(q.shape[-2], k.shape[-2])
        keep = c if keep is None else keep & c
    weights = softmax(scores, axis=-1) if keep is None else masked_softmax(scores, keep, axis=-1)
    return matmul(weights, v)


def selective_scan(x, delta, A, B, C):
    """Mamba's selective scan (see :mod:`certnn.ops.scan`): x, delta (batch, L, D), A (D, N),
    B, C (batch, L, N) -> (batch, L, D)."""
    return apply("selective_scan", x, delta, A, B, C)


def rfft(x, axis=-1, modes=None):
    """Real FFT along ``axis``, keeping the first ``modes`` frequencies; (re, im) on a new last axis."""
    return apply("rfft", x, axis=axis, modes=modes)


def irfft(z, n, axis=-1):
    """Inverse of :func:`rfft`: z (..., m, ..., 2) with m <= n//2 + 1 frequencies -> n real samples."""
    return apply("irfft", z, n=int(n), axis=axis)


def complex_mul(a, b):
    """Complex product of (re, im) pairs on the last axis, broadcasting the others."""
    return apply("complex_mul", a, b)


def complex_matmul(a, b):
    """Complex matrix product of (..., m, k, 2) and (..., k, n, 2) in real arithmetic."""
    return apply("complex_matmul", a, b)


def global_avg_pool2d(x):
    """(N, C, H, W) -> (N, C): the mean over the spatial axes."""
    return mean(x, axis=(2, 3))
