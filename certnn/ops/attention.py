"""Masked softmax: the one primitive scaled-dot-product attention needs beyond
matmul (``certnn.functional.scaled_dot_product_attention`` composes
``matmul(q, k^T) * scale -> masked_softmax -> matmul(., v)``).

    masked_softmax(x, keep; axis=-1)
    y_i = keep_i exp(x_i - m) / sum_j keep_j exp(x_j - m),   m = max over kept j

``keep`` is a boolean array broadcastable to x (True: attend; causal and
padding masks are such arrays). Masked entries are exact zeros, and a row with
no kept entry is all zeros: defined, not NaN (PyTorch's math attention gives
NaN there), and its gradient is zero. On kept entries this is the softmax of
the kept entries alone, so the derivatives are softmax's with the zeros in
place: vjp y (ct - sum(ct y)), jvp y (t - sum(t y)); ``keep`` is not
differentiable.

binary32: as ``softmax`` over the kept entries (IEEE max over kept, z = RN(x -
m), e = exp32(z) correctly rounded, s = the sum of e in the order with +0.0 for
masked entries, y = RN(e / s)); masked entries and fully masked rows are +0.0.
The interval, error and relax rules are softmax's, with the sums over kept
entries.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import F32, as_f32, b32_exp, ieee, max_reduce, rowsum
from ..floats import error_rules as er
from ..floats import interval as iv
from . import xp
from ._common import broadcast_shapes, fmt, norm_axis
from .registry import OpDef, Sample, register
from .relax import multivariate
from .softmax import softmax_jvp, softmax_vjp, tangent_planes, z_bounds

_M = __name__


def shape(in_shapes, axis=-1):
    x, keep = (tuple(s) for s in in_shapes)
    if len(x) == 0:
        raise ShapeError("masked_softmax: input must be at least 1-D, got ()")
    norm_axis("masked_softmax", axis, len(x))
    if broadcast_shapes("masked_softmax", x, keep) != x:
        raise ShapeError(f"masked_softmax: mask {fmt(keep)} must broadcast to the input {fmt(x)}")
    return x


def _keep(keep, x):
    keep = np.asarray(keep)
    if keep.dtype != np.bool_ and keep.dtype.kind in "fiu" and np.all((keep == 0) | (keep == 1)):
        keep = keep != 0                # interpreters that carry every constant in float64
    if keep.dtype != np.bool_:
        raise ShapeError(f"masked_softmax: the keep mask must be boolean, got {keep.dtype}")
    return np.broadcast_to(keep, np.shape(x))


def real(x, keep, *, axis=-1):
    keep = _keep(keep, x)
    m = xp.amax(np.where(keep, x, -np.inf), axis=axis, keepdims=True)
    m = np.where(xp.isfinite(m), m, 0).astype(x.dtype)
    e = xp.exp(np.where(keep, x - m, -np.inf))
    s = np.sum(e, axis=axis, keepdims=True)
    return e / np.where(s > 0, s, 1).astype(x.dtype)


def vjp(ct, out, x, keep, *, axis=-1):
    return softmax_vjp(ct, out, x, axis=axis)[0], None


def jvp(tangents, out, x, keep, *, axis=-1):
    return softmax_jvp(tangents[:1], out, x, axis=axis)


@iv.uses(*iv.LIBM)
def interval(los, his, *, axis=-1):
    (lo,), (hi,) = iv.inputs("masked_softmax", los[:1], his[:1], 1)
    keep = _keep(iv.exact_input("masked_softmax", los[1], his[1], "keep mask"), lo)
    shape([lo.shape, keep.shape], axis=axis)
    y_lo, y_hi = iv.sigmoid(*iv.neg(*z_bounds(lo, hi, axis, keep)))
    return iv.finish("masked_softmax", np.where(keep, y_lo, 0.0), np.where(keep, y_hi, 0.0))


def error(los, his, errs, out_lo, out_hi, order="sequential", *, axis=-1):
    keep = _keep(los[1], los[0])
    lo, mshape = er._rows_last(los[0], axis)
    hi, _ = er._rows_last(his[0], axis)
    e, _ = er._rows_last(np.broadcast_to(errs[0], np.shape(los[0])), axis)
    k = np.moveaxis(keep, axis, -1).reshape(lo.shape)
    _, ex, s = er.softmax_steps(lo, hi, e, order, keep=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = er.t_div(ex, tuple(v[:, None] for v in s))[2]
    return er.finish(er._from_rows(np.where(k, y, 0.0), mshape, axis))


@multivariate
def relax(los, his, var, axis=-1, mode=None):
    """softmax's tangent planes over the kept entries; masked outputs are exactly 0."""
    keep = _keep(los[1], los[0])
    return tangent_planes(los[0], his[0], axis, keep, interval(los, his, axis=axis))


def b32_masked_softmax(x, keep, axis=-1, order=None, backend=None):
    x = as_f32(x, "masked_softmax")
    shape([x.shape, np.shape(keep)], axis=axis)
    ax = norm_axis("masked_softmax", axis, x.ndim)
    xm = np.moveaxis(x, ax, -1)
    X2 = xm.reshape(-1, x.shape[ax])
    K2 = np.moveaxis(_keep(keep, x), ax, -1).reshape(X2.shape)
    m = max_reduce(np.where(K2, X2, F32(-np.inf)), (1,), True)
    m = np.where(np.isfinite(m), m, F32(0))
    e = np.where(K2, b32_exp(np.where(K2, X2 - m, F32(0))), F32(0))
    s = rowsum(e, order, backend)
    y = np.where(K2, e / np.where(s > 0, s, F32(1))[:, None], F32(0))
    return np.moveaxis(y.reshape(xm.shape), -1, ax)


def samples(rng):
    x = rng.uniform(-3, 3, (2, 4, 4))
    causal = np.tril(np.ones((4, 4), bool))
    pad = np.array([True, True, False, True])
    rows = rng.random((3, 5)) > 0.4
    rows[1] = False                                               # a fully masked row
    rows[2, 1] = True
    return [Sample((x, causal)), Sample((x, pad)), Sample((rng.uniform(-3, 3, (3, 5)), rows)),
            Sample((rng.uniform(-3, 3, (4, 3)), np.array([[True], [False], [True], [True]])), {"axis": 0}),
            Sample((rng.uniform(-3, 3, (2, 5)) + 800.0, np.ones(5, bool)))]   # large logits


register(OpDef(
    name="masked_softmax", module=_M, arity=(2,), attrs={"axis": -1}, shape=shape, real=real, vjp=vjp,
    jvp=jvp, binary32=ieee(b32_masked_softmax), interval=interval, error=error, relax=relax, samples=samples,
    differentiable=(True, False), doc=__doc__))
