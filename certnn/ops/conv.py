"""2-D convolution: ``conv2d(x, w)`` or ``conv2d(x, w, b)``, PyTorch semantics.

Layout NCHW: x is (N, C, H, W), w is (O, C/groups, kH, kW), b is (O,), the
output is (N, O, Ho, Wo). Cross-correlation with zero padding::

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] *
                    xpad[n, g*Cg + c, i*sH + p*dH, j*sW + q*dW]

where g = o // (O/groups) is the group of output channel o, Cg = C/groups,
xpad is x padded with (pH, pW) zeros on each side, and
Ho = (H + 2 pH - dH (kH - 1) - 1) // sH + 1 (likewise Wo); both must be >= 1.
Attributes (pairs of ints, (rows, cols)): stride >= 1, padding >= 0,
dilation >= 1; groups >= 1 divides C and O. Only the batch dimension may be
dynamic (``None``) in the shape rule.

conv2d is bilinear in (x, w) and affine in b, so it is not ``linear`` in the
registry's sense (jointly linear in all differentiable inputs); its jvp is
conv(tx, w) + conv(x, tw) + tb.

Implementation (the hot path of CNN training): im2col through
``sliding_window_view`` of the padded input, laid out as (groups, Cg kH kW,
N Ho Wo), then one batched matmul over the groups; the weight gradient is the
same im2col matrix against the cotangent; the input gradient is col2im, a loop
over the kH kW kernel positions adding strided slices. When the im2col matrix
is larger than the output (Cg kH kW > O / groups: every 3x3 layer past the
first) its columns are ordered with the batch fastest, so that a window row of
all the images is one contiguous run of memory and the copies run in long
inner loops (on 7x7 or 4x4 maps a row is only a few elements); the price is
transposing copies of the input, output and cotangent, which the other layers
(few input channels, 1x1 projections) do not repay. Everything stays in the inputs' dtype (float32 stays float32).

The attribute checks and the window arithmetic (``pair``, ``out_size``,
``kernel_slices``) are shared with :mod:`certnn.ops.pool`.

Interval rule: conv2d without bias is bilinear and each output is a sum of
Cg*kH*kW products, computed by one float64 matmul over im2col, so the
midpoint-radius enclosure ``interval.bilinear`` applies (weight exact or an
interval; zero padding contributes exact zeros); the bias is an interval add.
Rests on ``blas-float64-dot-gamma-n``; overflowing outputs are the whole line.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ShapeError, UnsupportedOp
from ..floats.b32 import F32, as_f32, ieee, matmul2d
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import fmt
from .registry import OpDef, Sample, register
from .stash import Stash

_NAME = "conv2d"


# ---------------------------------------------------------------- shared helpers

def _is_int(v) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def pair(op: str, name: str, v, lo: int = 1) -> tuple[int, int]:
    """Check that attribute ``name`` is a pair of ints >= ``lo``; return it as a tuple."""
    if not (isinstance(v, tuple | list) and len(v) == 2 and all(_is_int(e) and e >= lo for e in v)):
        kind = "positive ints" if lo == 1 else f"ints >= {lo}"
        raise ShapeError(f"{op}: {name} must be a pair of {kind}, got {v!r}")
    return int(v[0]), int(v[1])


def out_size(op: str, x_shape, kernel, stride, padding, dilation, what: str = "kernel"):
    """(Ho, Wo) of a sliding window over the last two axes; ShapeError if < 1."""
    H, W = x_shape[2], x_shape[3]
    ek = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    ho = (H + 2 * padding[0] - ek[0]) // stride[0] + 1
    wo = (W + 2 * padding[1] - ek[1]) // stride[1] + 1
    if ho < 1 or wo < 1:
        dil = f"dilated {what} (dilation {dilation})" if tuple(dilation) != (1, 1) else what
        raise ShapeError(
            f"{op}: output size would be {ho}x{wo} (must be >= 1): input {fmt(x_shape)} padded by "
            f"{tuple(padding)} is {H + 2 * padding[0]}x{W + 2 * padding[1]}, smaller than the "
            f"{dil} extent {ek[0]}x{ek[1]}")
    return ho, wo


def check_4d(op: str, name: str, shape) -> None:
    if len(shape) != 4:
        raise ShapeError(f"{op}: {name} must be 4-D (N, C, H, W), got {fmt(shape)}")
    if any(d is None for d in shape[1:]):
        raise ShapeError(f"{op}: only the batch dimension may be dynamic, got {name} {fmt(shape)}")


def kernel_slices(kernel, stride, dilation, out_hw):
    """For each kernel position (p, q): the index into the padded input's last two
    axes that picks, for every output position, the element under (p, q)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    return [((p, q), (Ellipsis, slice(p * dh, p * dh + sh * (ho - 1) + 1, sh),
                      slice(q * dw, q * dw + sw * (wo - 1) + 1, sw)))
            for p in range(kh) for q in range(kw)]


def pad2d(x: np.ndarray, padding, value=0) -> np.ndarray:
    """Pad the last two axes with ``value`` on both sides, keeping x's dtype."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    out = np.full(x.shape[:-2] + (x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw), value, dtype=x.dtype)
    out[..., ph:ph + x.shape[-2], pw:pw + x.shape[-1]] = x
    return out


def crop2d(xp: np.ndarray, padding, hw) -> np.ndarray:
    ph, pw = padding
    return xp[..., ph:ph + hw[0], pw:pw + hw[1]]


# ---------------------------------------------------------------- rules

def shape(in_shapes, stride, padding, dilation, groups):
    x, w = in_shapes[0], in_shapes[1]
    stride, padding = pair(_NAME, "stride", stride), pair(_NAME, "padding", padding, 0)
    dilation = pair(_NAME, "dilation", dilation)
    if not (_is_int(groups) and groups >= 1):
        raise ShapeError(f"{_NAME}: groups must be a positive int, got {groups!r}")
    check_4d(_NAME, "input", x)
    if len(w) != 4 or any(d is None or d < 1 for d in w):
        raise ShapeError(f"{_NAME}: weight must be 4-D (O, C/groups, kH, kW) with positive sizes, "
                         f"got {fmt(w)}")
    O, cg, kh, kw = w
    if O % groups:
        raise ShapeError(f"{_NAME}: weight has {O} output channels, not divisible by groups={groups}: "
                         f"weight {fmt(w)}")
    if x[1] != cg * groups:
        raise ShapeError(f"{_NAME}: input has {x[1]} channels but weight expects {cg * groups} "
                         f"(groups={groups}): input {fmt(x)}, weight {fmt(w)}")
    if len(in_shapes) == 3 and tuple(in_shapes[2]) != (O,):
        raise ShapeError(f"{_NAME}: bias must have shape ({O},) to match weight {fmt(w)}, "
                         f"got {fmt(in_shapes[2])}")
    ho, wo = out_size(_NAME, x, (kh, kw), stride, padding, dilation)
    return (x[0], O, ho, wo)


def _geometry(x, w, b, stride, padding, dilation, groups):
    shape([x.shape, w.shape] + ([] if b is None else [b.shape]),
          stride=stride, padding=padding, dilation=dilation, groups=groups)
    N, C, H, W = x.shape
    O, cg, kh, kw = w.shape
    ho, wo = out_size(_NAME, x.shape, (kh, kw), stride, padding, dilation)
    return N, C, H, W, O, cg, kh, kw, ho, wo


def _batch_last(w, groups) -> bool:
    """The column order of im2col: batch last when a window column (Cg kH kW
    entries) is longer than an output column (O/groups), i.e. when the im2col
    matrix is the larger one and its copy should run in the longer loops."""
    O, cg, kh, kw = w.shape
    return cg * kh * kw > O // groups


def _grid(x, padding, batch_last, *more):
    """x (N, C, H, W) copied into the zero-padded layout of im2col's columns:
    (C, N, Hp, Wp), or (C, Hp, Wp, N) with ``batch_last``. Arrays in ``more`` (same
    shape) follow as further channels: the grid of their concatenation, one copy."""
    N, C, H, W = x.shape
    ph, pw = padding
    xs = (x,) + more
    if batch_last:
        g = np.zeros((C * len(xs), H + 2 * ph, W + 2 * pw, N), dtype=np.result_type(*xs))
        for k, a in enumerate(xs):
            g[k * C:(k + 1) * C, ph:ph + H, pw:pw + W] = a.transpose(1, 2, 3, 0)
    else:
        g = np.zeros((C * len(xs), N, H + 2 * ph, W + 2 * pw), dtype=np.result_type(*xs))
        for k, a in enumerate(xs):
            g[k * C:(k + 1) * C, :, ph:ph + H, pw:pw + W] = a.transpose(1, 0, 2, 3)
    return g


def _from_grid(a, batch_last):
    """A (C, N, H, W) or (C, H, W, N) array as the (N, C, H, W) view."""
    return a.transpose(3, 0, 1, 2) if batch_last else a.transpose(1, 0, 2, 3)


def _im2col(x, kernel, stride, padding, dilation, groups, out_hw, batch_last=False, more=()):
    """The (groups, Cg*kH*kW, N*Ho*Wo) matrix of input windows (one copy of x's
    windows), columns ordered (n, i, j), or (i, j, n) with ``batch_last``: then a
    window row of all the images is one contiguous run of the padded input (Wo*N
    elements at stride 1) instead of Wo elements, which pays when Wo is small.
    ``more``: arrays of x's shape taken as further channels (the windows of their
    concatenation along channels, without copying it first)."""
    C = x.shape[1] * (1 + len(more))
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    win = sliding_window_view(_grid(x, padding, batch_last, *more), (dh * (kh - 1) + 1, dw * (kw - 1) + 1),
                              axis=(1, 2) if batch_last else (2, 3))
    if batch_last:                               # (C, Ho, Wo, N, kH, kW) -> (C, kH, kW, Ho, Wo, N)
        win = win[:, ::sh, ::sw, :, ::dh, ::dw].transpose(0, 4, 5, 1, 2, 3)
    else:                                        # (C, N, Ho, Wo, kH, kW) -> (C, kH, kW, N, Ho, Wo)
        win = win[:, :, ::sh, ::sw, ::dh, ::dw].transpose(0, 4, 5, 1, 2, 3)
    assert win.shape[3:] in ((ho, wo, x.shape[0]), (x.shape[0], ho, wo))
    return win.reshape(groups, C // groups * kh * kw, x.shape[0] * ho * wo)


# the forward's im2col columns, for the weight gradient (the vjp's copy of them was
# about a tenth of a ResNet training step); keyed by the geometry they depend on
_COLUMNS = Stash(128 << 20)


def _columns_key(w, stride, padding, dilation, groups):
    return w.shape, tuple(stride), tuple(padding), tuple(dilation), groups, _batch_last(w, groups)


def _product(w, cols, groups, N, out_hw, last):
    """The convolution of the windows ``cols`` (G, Cg*kH*kW, N*Ho*Wo) with ``w``:
    (N, O, Ho, Wo) (a view when not ``last``)."""
    O, (ho, wo) = w.shape[0], out_hw
    wm = w.reshape(groups, O // groups, -1)
    if last:
        # windows longer than the output columns: the transposed product cols^T w^T (the
        # long side as BLAS's M) runs about a third faster than w cols; its (G, Ho*Wo, N, Og)
        # result goes to (N, G, Ho*Wo, Og) (whole Og rows, cache-friendly), then per image a
        # small (Ho*Wo, Og) -> (Og, Ho*Wo) transpose, copied below
        out = cols.transpose(0, 2, 1) @ wm.transpose(0, 2, 1)
        out = np.ascontiguousarray(out.reshape(groups, ho * wo, N, O // groups).transpose(2, 0, 1, 3))
        return out.transpose(0, 1, 3, 2).reshape(N, O, ho, wo)
    return _from_grid((wm @ cols).reshape(O, N, ho, wo), last)             # (N, O, Ho, Wo) view


def real(x, w, b=None, *, stride, padding, dilation, groups):
    N, C, H, W, O, cg, kh, kw, ho, wo = _geometry(x, w, b, stride, padding, dilation, groups)
    last = _batch_last(w, groups)
    cols = _im2col(x, (kh, kw), stride, padding, dilation, groups, (ho, wo), last)
    _COLUMNS.put(x, _columns_key(w, stride, padding, dilation, groups), cols)
    out = _product(w, cols, groups, N, (ho, wo), last)
    if b is None:
        return np.ascontiguousarray(out)
    return np.add(out, b.reshape(1, O, 1, 1), out=np.empty((N, O, ho, wo), np.result_type(out, b)))


def vjp(ct, out, x, w, b=None, *, stride, padding, dilation, groups, needs=None):
    """``needs`` (from the autograd walk) skips the cotangents nobody asked for."""
    N, C, H, W, O, cg, kh, kw, ho, wo = _geometry(x, w, b, stride, padding, dilation, groups)
    og, last = O // groups, _batch_last(w, groups)
    ctm = np.ascontiguousarray(ct.transpose((1, 2, 3, 0) if last else (1, 0, 2, 3)))
    ctm = ctm.reshape(groups, og, N * ho * wo)                      # (G, Og, N*Ho*Wo)
    gw = None
    if needs is None or needs[1]:
        cols = _COLUMNS.get(x, _columns_key(w, stride, padding, dilation, groups))
        if cols is None:
            cols = _im2col(x, (kh, kw), stride, padding, dilation, groups, (ho, wo), last)
        # gw^T = cols ct^T: the long axis N*Ho*Wo is the contracted one either way, but BLAS
        # runs this orientation up to twice as fast when Og is small
        gw = (cols @ ctm.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(O, cg, kh, kw)
        del cols
    gb = None if b is None else ct.sum(axis=(0, 2, 3))
    if needs is not None and not needs[0]:
        return (None, gw) if b is None else (None, gw, gb)
    dcols = w.reshape(groups, og, cg * kh * kw).transpose(0, 2, 1) @ ctm  # (G, Cg*kH*kW, N*Ho*Wo)
    dcols = dcols.reshape((C, kh, kw) + ((ho, wo, N) if last else (N, ho, wo)))
    ph, pw = padding
    hp, wp = H + 2 * ph, W + 2 * pw
    gxp = np.zeros((C, hp, wp, N) if last else (C, N, hp, wp), dtype=dcols.dtype)   # col2im
    for (p, q), (_, rows, cols_) in kernel_slices((kh, kw), stride, dilation, (ho, wo)):
        gxp[(slice(None), rows, cols_) if last else (slice(None), slice(None), rows, cols_)] += dcols[:, p, q]
    hw = (slice(ph, ph + H), slice(pw, pw + W))
    gx = np.ascontiguousarray(_from_grid(gxp[(slice(None),) + hw] if last else gxp[:, :, hw[0], hw[1]], last))
    if b is None:
        return gx, gw
    return gx, gw, gb


def vjp_per_example(ct, out, x, w, b=None, *, stride, padding, dilation, groups, index):
    """Per-example cotangents of the weight (index 1) or bias (index 2): the weight
    gradient's im2col product kept apart per example, (N, G, Og, P) @ (N, G, P, K)."""
    N, C, H, W, O, cg, kh, kw, ho, wo = _geometry(x, w, b, stride, padding, dilation, groups)
    if index == 2:
        return ct.sum(axis=(2, 3))
    if index != 1:
        raise ValueError(f"{_NAME}: per-example cotangents are for the weight and bias, not input {index}")
    og, k = O // groups, cg * kh * kw
    cols = _im2col(x, (kh, kw), stride, padding, dilation, groups, (ho, wo)).reshape(groups, k, N, ho * wo)
    ctm = ct.reshape(N, groups, og, ho * wo)
    return np.matmul(ctm, cols.transpose(2, 0, 3, 1)).reshape(N, O, cg, kh, kw)


def jvp(tangents, out, x, w, b=None, *, stride, padding, dilation, groups):
    a = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    tx, tw = np.broadcast_to(tangents[0], x.shape), np.broadcast_to(tangents[1], w.shape)
    t = real(tx, w, **a) + real(x, tw, **a)
    if b is not None:
        t = t + np.broadcast_to(tangents[2], b.shape).reshape(1, -1, 1, 1)
    return t


def _pair(x1, w1, x2, w2, *, stride, padding, dilation, groups):
    """conv(x1, w1) and conv(x2, w2) (same shapes, no bias) from one im2col of the
    two inputs side by side as twice the groups, then one product per weight (the
    interval rule's centre and radius: one walk of the windows instead of two)."""
    x1, x2 = np.broadcast_arrays(x1, x2)                 # the rule has checked the shapes
    N, (O, _, kh, kw) = x1.shape[0], w1.shape
    ho, wo = out_size(_NAME, x1.shape, (kh, kw), stride, padding, dilation)
    last = _batch_last(w1, groups)
    cols = _im2col(x1, (kh, kw), stride, padding, dilation, 2 * groups, (ho, wo), last, more=(x2,))                                            # (2G, Cg*kH*kW, N*Ho*Wo)
    return tuple(np.ascontiguousarray(_product(w, c, groups, N, (ho, wo), last))
                 for w, c in ((w1, cols[:groups]), (w2, cols[groups:])))


@iv.uses(*iv.BLAS)
def interval(los, his, *, stride, padding, dilation, groups):
    los, his = iv.inputs(_NAME, los, his)
    a = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    shape([lo.shape for lo in los], **a)
    _, cg, kh, kw = los[1].shape
    exact_bias = len(los) == 3 and iv.is_point(los[2], his[2])
    lo, hi = iv.bilinear(lambda x, w: real(x, w, **a), los[0], his[0], los[1], his[1], cg * kh * kw,
                         pair=lambda x1, w1, x2, w2: _pair(x1, w1, x2, w2, **a),
                         shift=los[2].reshape(1, -1, 1, 1) if exact_bias else None)
    if len(los) == 3 and not exact_bias:
        lo, hi = iv.add(lo, hi, los[2].reshape(1, -1, 1, 1), his[2].reshape(1, -1, 1, 1))
    return iv.finish(_NAME, lo, hi)


def samples(rng):
    def s(xs, ws, bias=True, **attrs):
        ins = [rng.uniform(-1, 1, xs), rng.uniform(-1, 1, ws)]
        if bias:
            ins.append(rng.uniform(-1, 1, ws[0]))
        return Sample(tuple(ins), attrs)

    return [
        s((2, 3, 7, 6), (4, 3, 3, 3)),
        s((2, 2, 8, 9), (3, 2, 3, 2), bias=False, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
        s((1, 4, 6, 7), (6, 2, 2, 3), stride=(2, 2), padding=(1, 1), groups=2),
        s((2, 3, 9, 8), (3, 1, 3, 3), bias=False, padding=(2, 1), dilation=(2, 3), groups=3),
        s((1, 2, 3, 3), (2, 2, 5, 4), padding=(1, 1), stride=(3, 2)),
        s((3, 1, 5, 5), (2, 1, 1, 1), stride=(2, 3)),
    ]


def error(los, his, errs, out_lo, out_hi, order="sequential", *, stride, padding, dilation, groups):
    """binary32 conv2d sums over (input channel, kernel row, kernel column) in that
    nesting, padding included as +0.0 inputs, bias last: the im2col columns are in
    exactly that order, so each output is a contraction and gets the same bound as
    linear (input error through |W|, then the running rounding bound)."""
    x_lo, x_hi = los[0], his[0]
    x_e = np.broadcast_to(errs[0], x_lo.shape)
    w = los[1]
    if np.any(errs[1]) or (len(errs) > 2 and np.any(errs[2])):
        raise UnsupportedOp("conv2d", "error", "weights or bias that are not binary32 numbers")
    b = los[2] if len(los) > 2 else None
    N, C, H, W, O, cg, kh, kw, ho, wo = _geometry(x_lo, w, b, stride, padding, dilation, groups)
    cols = [_im2col(a, (kh, kw), stride, padding, dilation, groups, (ho, wo)) for a in (x_lo, x_hi, x_e)]
    og = O // groups
    parts = []
    for g in range(groups):
        wg = w[g * og:(g + 1) * og].reshape(og, cg * kh * kw)
        bg = None if b is None else b[g * og:(g + 1) * og]
        e = er.contraction_error(wg, cols[0][g].T, cols[1][g].T, cols[2][g].T, bg, order=order)
        parts.append(e.reshape(N, ho, wo, og).transpose(0, 3, 1, 2))
    return er.finish(np.concatenate(parts, axis=1))


# ---- binary32 rules (the engine: certnn.floats.b32) -------------------------------------

def b32_conv2d(x, w, b=None, order=None, backend=None, *, stride=(1, 1), padding=(0, 0),
               dilation=(1, 1), groups=1):
    x, w = as_f32(x, "conv2d"), as_f32(w, "conv2d", "weight")
    if b is not None:
        b = as_f32(b, "conv2d", "bias")
    N, C, H, W, O, cg, kh, kw, ho, wo = _geometry(x, w, b, stride, padding, dilation, groups)
    cols = _im2col(x, (kh, kw), stride, padding, dilation, groups, (ho, wo))  # (G, Cg*kH*kW, N*Ho*Wo)
    og = O // groups
    wg = w.reshape(groups, og, cg * kh * kw)
    out = np.empty((groups, og, N * ho * wo), F32)
    for g in range(groups):
        out[g] = matmul2d(wg[g], cols[g], order, backend)
    if b is not None:
        out = np.add(out, b.reshape(groups, og, 1))   # bias last
    out = out.reshape(groups, og, N, ho, wo).transpose(2, 0, 1, 3, 4)
    return np.ascontiguousarray(out).reshape(N, O, ho, wo)


register(OpDef(
    name=_NAME, module=__name__, arity=(2, 3), binary32=ieee(b32_conv2d),
    attrs={"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1},
    shape=shape, real=real, vjp=vjp, vjp_needs=True, vjp_per_example=vjp_per_example, jvp=jvp, interval=interval, error=error, samples=samples, doc=__doc__))
