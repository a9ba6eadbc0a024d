"""2-D pooling over NCHW inputs: ``max_pool2d`` and ``avg_pool2d``, PyTorch semantics
(``ceil_mode=False``).

Windows: output (i, j) of channel (n, c) looks at the padded input rows
i*sH + p*dH and columns j*sW + q*dW for kernel positions 0 <= p < kH,
0 <= q < kW; Ho = (H + 2 pH - dH (kH - 1) - 1) // sH + 1 (likewise Wo), which
must be >= 1. ``stride=None`` means stride = kernel_size. As in PyTorch the
padding may be at most half the kernel: pH <= kH // 2, pW <= kW // 2.
Attributes are pairs of ints (rows, cols). x is 4-D; only the batch dimension
may be dynamic in the shape rule.

max_pool2d(x; kernel_size, stride=None, padding=(0, 0), dilation=(1, 1)):
    y = max over the window; padding counts as -inf, so it is never the
    maximum of a window that holds a real element (a dilated window can miss
    every real element, and then gives -inf, as in PyTorch). NaN propagates.
    Tie convention (the registry's minimal-norm Clarke derivative): the
    cotangent of an output is split evenly among all positions of its window
    that attain the maximum, and the jvp is the mean of the input tangents over
    those positions, so vjp and jvp stay adjoint. PyTorch instead sends the
    whole cotangent to one index of the window (the first maximum it meets).
    The derivative rules recompute the maxima from x rather than trust ``out``.
    Piecewise linear, but not linear.

avg_pool2d(x; kernel_size, stride=None, padding=(0, 0), count_include_pad=True):
    y = (sum over the window, padding counting as 0) / divisor, the divisor
    being kH*kW with count_include_pad, else the number of real (non-padding)
    elements under the window. Linear: jvp = real(tangent), and the vjp spreads
    ct / divisor over every window position.

Both are vectorized as a loop over the kH*kW kernel positions, each handling
one strided slice of the padded input (col2im for the vjps); dtype is kept.
The max_pool2d vjp of non-overlapping windows (stride = kernel, no padding or
dilation) views x as tiles instead and needs no scatter.

Interval rules: max_pool2d is increasing in every input, so applying it to
the lower and upper bounds is exact (-inf padding included). avg_pool2d is a
window sum (kH*kW terms, increasing) divided by a positive exact count:
``interval.sum_enclosure`` then an outward-rounded division.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import F32, as_f32, count32, ieee, sum_stack
from ..floats import error_rules as er
from ..floats import interval as iv
from .conv import check_4d, crop2d, kernel_slices, out_size, pad2d, pair
from .registry import REQUIRED, OpDef, Sample, register
from .stash import Stash


def _attrs(op, kernel_size, stride, padding, dilation=(1, 1)):
    k = pair(op, "kernel_size", kernel_size)
    s = k if stride is None else pair(op, "stride", stride)
    p = pair(op, "padding", padding, 0)
    d = pair(op, "dilation", dilation)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ShapeError(f"{op}: padding {p} must be at most half the kernel size {k}")
    return k, s, p, d


def _shape(op, in_shapes, kernel_size, stride, padding, dilation=(1, 1)):
    (x,) = in_shapes
    k, s, p, d = _attrs(op, kernel_size, stride, padding, dilation)
    check_4d(op, "input", x)
    ho, wo = out_size(op, x, k, s, p, d, what="window")
    return (x[0], x[1], ho, wo)


# ---------------------------------------------------------------- max_pool2d

def max_shape(in_shapes, kernel_size, stride, padding, dilation):
    return _shape("max_pool2d", in_shapes, kernel_size, stride, padding, dilation)


def _max_windows(x, kernel_size, stride, padding, dilation):
    """Padded input, slices per kernel position, and the window maxima."""
    max_shape([x.shape], kernel_size, stride, padding, dilation)
    k, s, p, d = _attrs("max_pool2d", kernel_size, stride, padding, dilation)
    out_hw = out_size("max_pool2d", x.shape, k, s, p, d, what="window")
    xp = pad2d(x, p, -np.inf)
    sl = kernel_slices(k, s, d, out_hw)
    y = None
    for _, idx in sl:
        y = xp[idx].copy() if y is None else np.maximum(y, xp[idx], out=y)
    return xp, sl, y, p


def _argmax_masks(xp, sl, y):
    """One boolean mask per kernel position (which outputs it attains), and the
    number of maxima per window (>= 1, in y's dtype)."""
    masks = [xp[idx] == y for _, idx in sl]
    count = np.zeros(y.shape, dtype=y.dtype)
    for m in masks:
        count += m
    return masks, np.maximum(count, 1)


# the forward's window maxima under x, for the vjp on non-overlapping tiles (recomputing
# them through the strided tile views was about a third of that vjp)
_MAXIMA = Stash(128 << 20)


def max_real(x, *, kernel_size, stride, padding, dilation):
    y = _max_windows(x, kernel_size, stride, padding, dilation)[2]
    if y.dtype != object:
        _MAXIMA.put(x, _attrs("max_pool2d", kernel_size, stride, padding, dilation), y)
    return y


@iv.uses()
def max_interval(los, his, **attrs):
    (lo,), (hi,) = iv.inputs("max_pool2d", los, his, 1)
    return iv.finish("max_pool2d", max_real(lo, **attrs), max_real(hi, **attrs))


def max_vjp(ct, out, x, *, kernel_size, stride, padding, dilation):
    k, s, p, d = _attrs("max_pool2d", kernel_size, stride, padding, dilation)
    if s == k and p == (0, 0) and d == (1, 1):
        return (_max_tiles_vjp(ct, x, k, _MAXIMA.get(x, (k, s, p, d))),)
    xp, sl, y, p = _max_windows(x, kernel_size, stride, padding, dilation)
    masks, count = _argmax_masks(xp, sl, y)
    share = ct / count
    gxp = np.zeros(xp.shape, dtype=share.dtype)
    for m, (_, idx) in zip(masks, sl):
        gxp[idx] += np.where(m, share, 0)
    return (np.ascontiguousarray(crop2d(gxp, p, x.shape[2:])),)


def _max_tiles_vjp(ct, x, k, y=None):
    """The vjp for non-overlapping windows (stride = kernel, no padding or
    dilation, the CNN's 2x2 pooling): x viewed as (N, C, Ho, kH, Wo, kW) tiles,
    one argmax mask per kernel position, and the gradient written in x's own
    layout as share * mask, with no scatter. Same tie rule; a position that
    gets nothing holds a zero that may be -0.0 (share * 0). ``y``: the window
    maxima when the forward stashed them (the same bits as recomputed here)."""
    max_shape([x.shape], k, k, (0, 0), (1, 1))
    (N, C, H, W), (kh, kw) = x.shape, k
    ho, wo = H // kh, W // kw
    tiles = x[:, :, :ho * kh, :wo * kw].reshape(N, C, ho, kh, wo, kw)
    positions = [(slice(None),) * 3 + (p, slice(None), q) for p in range(kh) for q in range(kw)]
    if y is None:
        y = tiles[positions[0]].copy()
        for at in positions[1:]:
            np.maximum(y, tiles[at], out=y)
    hits = [tiles[at] == y for at in positions]
    share = ct.astype(np.result_type(ct, y), copy=False)
    if sum(map(np.count_nonzero, hits)) != y.size or np.isnan(y).any():   # ties (relu zeros), NaN windows
        count = np.zeros(y.shape, y.dtype)
        for h in hits:
            count += h
        share = share / np.maximum(count, 1)
    finite = np.isfinite(share).all()           # else inf * 0 would leak NaN to the other positions
    g = np.empty((N, C, ho, kh, wo, kw), dtype=share.dtype)
    for at, h in zip(positions, hits):
        if finite:
            np.multiply(share, h, out=g[at])
        else:
            g[at] = np.where(h, share, 0)
    g = g.reshape(N, C, ho * kh, wo * kw)
    if (ho * kh, wo * kw) == (H, W):
        return g
    gx = np.zeros((N, C, H, W), dtype=g.dtype)
    gx[:, :, :ho * kh, :wo * kw] = g
    return gx


def max_jvp(tangents, out, x, *, kernel_size, stride, padding, dilation):
    xp, sl, y, p = _max_windows(x, kernel_size, stride, padding, dilation)
    masks, count = _argmax_masks(xp, sl, y)
    tp = pad2d(np.broadcast_to(tangents[0], x.shape), p)
    acc = None
    for m, (_, idx) in zip(masks, sl):
        term = np.where(m, tp[idx], 0)
        acc = term if acc is None else acc + term
    return acc / count


def _distinct(rng, shape):
    """Values with pairwise gaps >= 4/size: no ties, so central differences hold."""
    n = int(np.prod(shape))
    gap = 4.0 / n
    return ((rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 4, n)).reshape(shape)


def max_samples(rng):
    return [
        Sample((_distinct(rng, (2, 3, 6, 6)),), {"kernel_size": (2, 2)}),
        Sample((_distinct(rng, (2, 2, 7, 7)),), {"kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1)}),
        Sample((_distinct(rng, (1, 3, 8, 7)),),
               {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 0), "dilation": (2, 1)}),
        Sample((_distinct(rng, (2, 2, 5, 6)),), {"kernel_size": (2, 3), "stride": (1, 1)}),
    ]


# ---------------------------------------------------------------- avg_pool2d

def avg_shape(in_shapes, kernel_size, stride, padding, count_include_pad):
    if not isinstance(count_include_pad, bool | np.bool_):
        raise ShapeError(f"avg_pool2d: count_include_pad must be a bool, got {count_include_pad!r}")
    return _shape("avg_pool2d", in_shapes, kernel_size, stride, padding)


def _avg_setup(x, kernel_size, stride, padding, count_include_pad):
    avg_shape([x.shape], kernel_size, stride, padding, count_include_pad)
    k, s, p, d = _attrs("avg_pool2d", kernel_size, stride, padding)
    ho, wo = out_size("avg_pool2d", x.shape, k, s, p, d, what="window")
    if count_include_pad:
        div = k[0] * k[1]                          # a Python int keeps the dtype
    else:
        H, W = x.shape[2:]
        r0 = np.arange(ho) * s[0]
        c0 = np.arange(wo) * s[1]
        nh = np.minimum(r0 + k[0], p[0] + H) - np.maximum(r0, p[0])
        nw = np.minimum(c0 + k[1], p[1] + W) - np.maximum(c0, p[1])
        div = (nh[:, None] * nw[None, :]).astype(x.dtype)
    return k, s, p, d, (ho, wo), div


def _window_sums(x, k, s, p, d, out_hw):
    xp = pad2d(x, p)
    acc = None
    for _, idx in kernel_slices(k, s, d, out_hw):
        acc = xp[idx].copy() if acc is None else np.add(acc, xp[idx], out=acc)
    return acc


def avg_real(x, *, kernel_size, stride, padding, count_include_pad):
    k, s, p, d, out_hw, div = _avg_setup(x, kernel_size, stride, padding, count_include_pad)
    return _window_sums(x, k, s, p, d, out_hw) / div


@iv.uses(*iv.RN)
def avg_interval(los, his, *, kernel_size, stride, padding, count_include_pad):
    (lo,), (hi,) = iv.inputs("avg_pool2d", los, his, 1)
    k, s, p, d, out_hw, div = _avg_setup(lo, kernel_size, stride, padding, count_include_pad)
    sums = iv.sum_enclosure(lambda x: _window_sums(x, k, s, p, d, out_hw), lo, hi, k[0] * k[1])
    return iv.finish("avg_pool2d", *iv.div_pos(*sums, div))


def avg_vjp(ct, out, x, *, kernel_size, stride, padding, count_include_pad):
    k, s, p, d, out_hw, div = _avg_setup(x, kernel_size, stride, padding, count_include_pad)
    g = ct / div
    H, W = x.shape[2:]
    gxp = np.zeros(x.shape[:2] + (H + 2 * p[0], W + 2 * p[1]), dtype=g.dtype)
    for _, idx in kernel_slices(k, s, d, out_hw):
        gxp[idx] += g
    return (np.ascontiguousarray(crop2d(gxp, p, (H, W))),)


def avg_jvp(tangents, out, x, **attrs):
    return avg_real(np.broadcast_to(tangents[0], x.shape), **attrs)


def avg_samples(rng):
    u = lambda *shp: rng.uniform(-2, 2, shp)  # noqa: E731
    return [
        Sample((u(2, 3, 6, 6),), {"kernel_size": (2, 2)}),
        Sample((u(2, 2, 7, 8),), {"kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1)}),
        Sample((u(1, 2, 7, 8),), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1),
                                  "count_include_pad": False}),
        Sample((u(2, 1, 5, 6),), {"kernel_size": (2, 3), "stride": (1, 1)}),
    ]


def max_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    """max pooling is exact; |max x^ - max x| <= max |x^ - x| over the window
    (padding is -inf in both, so it never wins)."""
    (lo,), _, (e,) = los, his, errs
    return er.finish(max_real(np.broadcast_to(e, lo.shape).astype(np.float64), **attrs))


def avg_pool2d_error(los, his, errs, out_lo, out_hi, order="sequential", *, kernel_size, stride,
                     padding, count_include_pad):
    """Window sum over the kernel positions (p-major, padding +0.0 included, as in
    b32_avg_pool2d), then RN(sum / divisor)."""
    (lo,), (hi,), (e,) = los, his, errs
    e = np.broadcast_to(e, lo.shape)
    k, s, p, d, out_hw, div = _avg_setup(lo, kernel_size, stride, padding, count_include_pad)
    slices = kernel_slices(k, s, d, out_hw)

    def windows(a):
        ap = pad2d(np.asarray(a, np.float64), p)
        return np.stack([ap[idx].reshape(-1) for _, idx in slices], axis=1)   # (outputs, K)

    total = er.t_sum_rows(tuple(windows(v) for v in (lo, hi, e)), order)
    n = np.broadcast_to(np.asarray(div, np.float64), np.shape(out_lo)).reshape(-1)
    return er.finish(er.t_div_count(total, n)[2].reshape(np.shape(out_lo)))


# ---- binary32 rules (the engine: certnn.floats.b32) -------------------------------------

def b32_max_pool2d(x, order=None, backend=None, *, kernel_size, stride=None, padding=(0, 0),
                   dilation=(1, 1)):
    x = as_f32(x, "max_pool2d")
    xp, sl, y, _ = _max_windows(x, kernel_size, stride, padding, dilation)
    zero = y == 0
    if zero.any():
        pos = np.zeros(y.shape, bool)
        for _, idx in sl:
            v = xp[idx]
            pos |= (v == 0) & ~np.signbit(v)
        y = np.where(zero, np.where(pos, F32(0), F32(-0.0)), y)
    return y


def b32_avg_pool2d(x, order=None, backend=None, *, kernel_size, stride=None, padding=(0, 0),
                   count_include_pad=True):
    from .conv import kernel_slices, pad2d
    x = as_f32(x, "avg_pool2d")
    k, s, p, d, out_hw, div = _avg_setup(x, kernel_size, stride, padding, count_include_pad)
    xp = pad2d(x, p)
    terms = [xp[idx] for _, idx in kernel_slices(k, s, d, out_hw)]
    acc = sum_stack(terms, order, backend)
    div = count32(div) if isinstance(div, int) else np.asarray(div, F32)
    return np.divide(acc, div)


register(OpDef(
    name="max_pool2d", binary32=ieee(b32_max_pool2d), module=__name__, arity=(1,),
    attrs={"kernel_size": REQUIRED, "stride": None, "padding": (0, 0), "dilation": (1, 1)},
    shape=max_shape, real=max_real, vjp=max_vjp, jvp=max_jvp, interval=max_interval, error=max_error, samples=max_samples,
    doc=__doc__))

register(OpDef(
    name="avg_pool2d", binary32=ieee(b32_avg_pool2d), module=__name__, arity=(1,),
    attrs={"kernel_size": REQUIRED, "stride": None, "padding": (0, 0), "count_include_pad": True},
    shape=avg_shape, real=avg_real, vjp=avg_vjp, jvp=avg_jvp, interval=avg_interval, error=avg_pool2d_error, samples=avg_samples,
    linear=True,
    doc=__doc__))
