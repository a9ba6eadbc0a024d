"""Dropout in training mode: ``dropout(x, keep; p)``, the mask an input.

    y = x * s   where keep is True,    y = +0   where keep is False,    s = 1 / (1 - p)

``keep`` is a boolean array broadcastable to x, drawn by the caller (``nn.Dropout``
draws it from certnn's seeded generator), so the op itself is a deterministic
function and every interpreter (eager, compiled, binary32, bounds) agrees on it.
Inverted dropout: the kept values are scaled so the expectation is x. With the
mask fixed, y is linear in x (``linear=True``; keep is not differentiable):
jvp and vjp are the same masked scaling.

binary32: y = RN(x * RN32(s)) where kept, +0.0 where dropped (the float32 real
rule computes exactly this: NumPy rounds the Python float s to binary32 first).
Interval: [RD(lo s), RU(hi s)] where kept (s > 0), [0, 0] elsewhere.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import F32, as_f32, ieee
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import broadcast_shapes, fmt
from .registry import OpDef, Sample, register

_M = __name__


def _scale(p):
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
        raise ShapeError(f"dropout: p must be a number in [0, 1), got {p!r}")
    return 1.0 / (1.0 - p)


def shape(in_shapes, p):
    _scale(p)
    x, keep = (tuple(s) for s in in_shapes)
    if broadcast_shapes("dropout", x, keep) != x:
        raise ShapeError(f"dropout: mask {fmt(keep)} must broadcast to the input {fmt(x)}")
    return x


def _keep(keep):
    keep = np.asarray(keep)
    if keep.dtype != np.bool_ and keep.dtype.kind in "fiu" and np.all((keep == 0) | (keep == 1)):
        keep = keep != 0                # interpreters that carry every constant in float64
    if keep.dtype != np.bool_:
        raise ShapeError(f"dropout: the keep mask must be boolean, got {keep.dtype}")
    return keep


def real(x, keep, *, p):
    y = x * _scale(p)                               # a Python float: float32 stays float32
    return np.where(_keep(keep), y, np.zeros((), y.dtype))


def vjp(ct, out, x, keep, *, p):
    return real(ct, keep, p=p), None


def jvp(tangents, out, x, keep, *, p):
    return real(np.broadcast_to(tangents[0], x.shape), keep, p=p)


@iv.uses(*iv.RN)
def interval(los, his, *, p):
    keep = _keep(iv.exact_input("dropout", los[1], his[1], "keep mask"))
    (lo,), (hi,) = iv.inputs("dropout", los[:1], his[:1], 1)
    s = _scale(p)
    lo, hi = iv.mul(lo, hi, s, s)
    return iv.finish("dropout", np.where(keep, lo, 0.0), np.where(keep, hi, 0.0))


def error(los, his, errs, out_lo, out_hi, order="sequential", *, p):
    """Kept: |RN(x^ RN32(s)) - x s| <= s32 e + |s32 - s| |x| + u |y^| + eta; dropped: 0."""
    keep = _keep(los[1])
    s = _scale(p)
    s32 = float(F32(s))
    m = er.mag(los[0], his[0])
    e = np.broadcast_to(errs[0], np.shape(los[0]))
    e_in = s32 * e + abs(s32 - s) * m
    kept = er.rounded(e_in, *iv.mul(los[0], his[0], s, s))
    return er.finish(np.where(keep, kept, 0.0))


def b32_dropout(x, keep, order=None, backend=None, *, p):
    x = as_f32(x, "dropout")
    shape([x.shape, np.shape(keep)], p=p)
    return np.where(_keep(keep), x * F32(_scale(p)), F32(0))


def samples(rng):
    x = rng.uniform(-2, 2, (4, 5))
    return [Sample((x, rng.random((4, 5)) > 0.3), {"p": 0.3}),
            Sample((x, rng.random((1, 5)) > 0.5), {"p": 0.5}),           # a broadcast mask
            Sample((rng.uniform(-2, 2, (2, 3, 4)), rng.random((2, 3, 4)) > 0.1), {"p": 0.1})]


register(OpDef(
    name="dropout", module=_M, arity=(2,), attrs={"p": 0.5}, shape=shape, real=real, vjp=vjp, jvp=jvp,
    binary32=ieee(b32_dropout), interval=interval, error=error, samples=samples, linear=True,
    differentiable=(True, False), doc=__doc__))
