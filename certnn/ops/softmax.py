"""softmax and log_softmax along one axis (default -1), numerically stable.

    m = max_j x_j                                      (along ``axis``)
    softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m)
    log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)

Subtracting m makes every exponent <= 0, so nothing overflows and the sum is
at least 1 (no log 0); the result does not depend on m mathematically, so the
max's own kink does not matter: both ops are smooth everywhere on R^n.
Derivatives, with s = softmax(x) and sums along ``axis``:

    softmax      vjp: s * (ct - sum(ct * s))      jvp: s * (t - sum(t * s))
    log_softmax  vjp: ct - s * sum(ct)            jvp: t - sum(s * t)

Both rules reuse the forward output. The input must be at least 1-D; the
dtype is kept (float32 in, float32 out).
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ._common import fmt, norm_axis, rand_samples
from .registry import OpDef, Sample, register

_M = __name__


def _shape(op):
    def shape(in_shapes, axis=-1):
        s = tuple(in_shapes[0])
        if len(s) == 0:
            raise ShapeError(f"{op}: input must be at least 1-D, got {fmt(s)}")
        norm_axis(op, axis, len(s))
        return s
    return shape


def softmax_real(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= np.sum(z, axis=axis, keepdims=True)
    return z


def softmax_vjp(ct, out, x, axis=-1):
    g = ct * out
    g -= out * np.sum(g, axis=axis, keepdims=True)
    return (g,)


def softmax_jvp(tangents, out, x, axis=-1):
    t = tangents[0]
    return out * (t - np.sum(t * out, axis=axis, keepdims=True))


def log_softmax_real(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    z -= np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return z


def log_softmax_vjp(ct, out, x, axis=-1):
    return (ct - np.exp(out) * np.sum(ct, axis=axis, keepdims=True),)


def log_softmax_jvp(tangents, out, x, axis=-1):
    t = tangents[0]
    return t - np.sum(np.exp(out) * t, axis=axis, keepdims=True)


def _samples(rng):
    base = rand_samples([(3, 4), (5,), (2, 3, 4)], low=-3.0, high=3.0)(rng)
    out = [Sample(s.inputs) for s in base]
    out.append(Sample((rng.uniform(-3.0, 3.0, size=(2, 3, 4)),), {"axis": 1}))
    out.append(Sample((rng.uniform(-3.0, 3.0, size=(3, 4)),), {"axis": 0}))
    # large logits: the stable form must not overflow
    out.append(Sample((rng.uniform(-3.0, 3.0, size=(2, 5)) + 800.0,)))
    return out


register(OpDef(name="softmax", module=_M, arity=(1,), attrs={"axis": -1}, shape=_shape("softmax"),
               real=softmax_real, vjp=softmax_vjp, jvp=softmax_jvp, samples=_samples, doc=__doc__))
register(OpDef(name="log_softmax", module=_M, arity=(1,), attrs={"axis": -1}, shape=_shape("log_softmax"),
               real=log_softmax_real, vjp=log_softmax_vjp, jvp=log_softmax_jvp, samples=_samples,
               doc=__doc__))
