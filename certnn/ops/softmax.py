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

Interval rules. With Z_i = log sum_{j != i} exp(x_j - x_i),

    softmax_i = 1 / (1 + exp Z_i) = sigmoid(-Z_i),  log_softmax_i = -softplus(Z_i).

Z_i increases in every x_j (j != i) and decreases in x_i, so over a box its
exact range is [log sum_{j!=i} exp(lo_j - hi_i), log sum_{j!=i} exp(hi_j - lo_i)]
(the bounds of the issue: softmax_i in [e^lo_i / (e^lo_i + sum_{j!=i} e^hi_j), ...]).
Both sums are computed after a shift s (any finite number; the row max):
sum_{j!=i} exp(hi_j - lo_i) = exp(s - lo_i) sum_{j!=i} exp(hi_j - s), in log
space, with the exclusive sums formed as prefix + suffix sums (no cancellation)
and everything outward rounded, so nothing overflows and the bounds are tight
up to a few ulps. Rests on ``libm-float64-within-4ulp``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import as_f32, b32_exp, b32_log, ieee, max_reduce, rowsum
from ..floats import error_rules as er
from ..floats import interval as iv
from . import xp
from ._common import fmt, norm_axis, rand_samples
from .registry import OpDef, Sample, register
from .relax import Tangent, multivariate

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
    z = x - xp.amax(x, axis=axis, keepdims=True)
    xp.exp(z, out=z)
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
    z = x - xp.amax(x, axis=axis, keepdims=True)
    z -= xp.log(np.sum(xp.exp(z), axis=axis, keepdims=True))
    return z


def log_softmax_vjp(ct, out, x, axis=-1):
    return (ct - xp.exp(out) * np.sum(ct, axis=axis, keepdims=True),)


def log_softmax_jvp(tangents, out, x, axis=-1):
    t = tangents[0]
    return t - np.sum(xp.exp(out) * t, axis=axis, keepdims=True)


def _shift(x, axis):
    s = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(s), s, 0.0)


def z_bounds(lo, hi, axis=-1, keep=None):
    """Bounds [zlo, zup] of Z_i = log sum_{j != i} exp(x_j - x_i) over the box [lo, hi].
    ``keep`` (booleans broadcastable to lo): the sums run over kept j only (a
    masked softmax); Z_i = -inf when no other j is kept."""
    n = lo.shape[axis]
    if keep is not None:  # masked entries drop out of the shifts and the sums
        lo, hi = np.where(keep, lo, -np.inf), np.where(keep, hi, -np.inf)
    s_hi, s_lo = _shift(hi, axis), _shift(lo, axis)
    e_up = iv.exp(*iv.sub(hi, hi, s_hi, s_hi))[1]           # >= exp(hi_j - s_hi)
    e_dn = iv.exp(*iv.sub(lo, lo, s_lo, s_lo))[0]           # <= exp(lo_j - s_lo)
    if keep is not None:
        e_up, e_dn = np.where(keep, e_up, 0.0), np.where(keep, e_dn, 0.0)
    u = iv.nonneg_sum_bounds(iv.exclusive_sum(e_up, axis), n)[1]
    l = iv.nonneg_sum_bounds(iv.exclusive_sum(e_dn, axis), n)[0]  # noqa: E741
    zup = iv.add(*iv.sub(s_hi, s_hi, lo, lo), *iv.log(u, u))[1]
    zlo = iv.add(*iv.sub(s_lo, s_lo, hi, hi), *iv.log(l, l))[0]
    return zlo, zup


def log_softmax_bounds(lo, hi, axis=-1):
    return iv.neg(*iv.softplus(*z_bounds(lo, hi, axis)))


@iv.uses(*iv.LIBM)
def softmax_interval(los, his, axis=-1):
    (lo,), (hi,) = iv.inputs("softmax", los, his, 1)
    _shape("softmax")([lo.shape], axis=axis)
    return iv.finish("softmax", *iv.sigmoid(*iv.neg(*z_bounds(lo, hi, axis))))


@iv.uses(*iv.LIBM)
def log_softmax_interval(los, his, axis=-1):
    (lo,), (hi,) = iv.inputs("log_softmax", los, his, 1)
    _shape("log_softmax")([lo.shape], axis=axis)
    return iv.finish("log_softmax", *log_softmax_bounds(lo, hi, axis))


def _samples(rng):
    base = rand_samples([(3, 4), (5,), (2, 3, 4)], low=-3.0, high=3.0)(rng)
    out = [Sample(s.inputs) for s in base]
    out.append(Sample((rng.uniform(-3.0, 3.0, size=(2, 3, 4)),), {"axis": 1}))
    out.append(Sample((rng.uniform(-3.0, 3.0, size=(3, 4)),), {"axis": 0}))
    # large logits: the stable form must not overflow
    out.append(Sample((rng.uniform(-3.0, 3.0, size=(2, 5)) + 800.0,)))
    return out



# ---- linear relaxation (CROWN)

def tangent_planes(l, u, axis=-1, keep=None, interval=None):
    """Tangent planes at the box centre c with a rigorous second-order remainder
    (:class:`certnn.ops.relax.Tangent`), for softmax along ``axis`` (over the entries
    where ``keep``, if given). With y in [ylo, yhi] on the box (the interval rule) and
    r the box radius, the Hessian d2y_i/dx_j dx_k = y_i ((d_ij - y_j)(d_ik - y_k)
    - y_j (d_jk - y_k)) gives, by Taylor's theorem on the segment from c,

        |y_i(x) - y_i(c) - J_i (x - c)| <= 1/2 Y_i ((D r)_i^2 + sum_j Y_j r_j (D r)_j)

    with Y = yhi, D_ij = max |d_ij - y_j| (Y_j off the diagonal, 1 - ylo_i on it).
    Outputs whose planes are further apart (2 rem) than their interval is wide keep
    the interval."""
    keep = np.ones(l.shape, bool) if keep is None else np.broadcast_to(keep, l.shape)
    ax = axis % l.ndim
    c, r = (l + u) / 2, np.where(keep, (u - l) / 2, 0.0)
    s = np.where(keep, np.exp(np.where(keep, c - np.max(np.where(keep, c, -np.inf), axis=ax, keepdims=True),
                                       -np.inf)), 0.0)
    tot = np.sum(s, axis=ax, keepdims=True)
    s = s / np.where(tot > 0, tot, 1.0)
    ylo, yhi = interval
    total = lambda v: np.sum(v, axis=ax, keepdims=True)  # noqa: E731
    Dr = total(yhi * r) - yhi * r + (1 - ylo) * r
    rem = 0.5 * yhi * (Dr * Dr + total(yhi * r * Dr))
    use = (2 * rem < yhi - ylo) | ~keep                        # the planes' gap vs the interval's
    se = s[:, None]

    def jvp(t):                                               # J t = s (t - sum(s t)), rows (N, K, ...)
        return se * (t - np.sum(se * t, axis=ax + 1, keepdims=True))

    return Tangent(c, s, jvp, rem * (1 + 1e-12) + 1e-300, ylo, yhi, use)


@multivariate
def softmax_relax(los, his, var, axis=-1, mode=None):
    lo, hi = los[0], his[0]
    return tangent_planes(lo, hi, axis, interval=softmax_interval([lo], [hi], axis=axis))


# ---- binary32 rules (the engine: certnn.floats.b32) -------------------------------------

def _rows_last(x, axis, op):
    from ._common import norm_axis
    if x.ndim == 0:
        raise ShapeError(f"{op}: input must be at least 1-D, got ()")
    ax = norm_axis(op, axis, x.ndim)
    xm = np.moveaxis(x, ax, -1)
    return xm.reshape(-1, x.shape[ax]), xm.shape, ax


def _softmax_parts(X2, order, backend):
    m = max_reduce(X2, (1,), True)
    z = X2 - m
    e = b32_exp(z)
    s = rowsum(e, order, backend)
    return z, e, s


def b32_softmax(x, axis=-1, order=None, backend=None):
    x = as_f32(x, "softmax")
    X2, mshape, ax = _rows_last(x, axis, "softmax")
    _, e, s = _softmax_parts(X2, order, backend)
    y = e / s[:, None]
    return np.moveaxis(y.reshape(mshape), -1, ax)


def b32_log_softmax(x, axis=-1, order=None, backend=None):
    x = as_f32(x, "log_softmax")
    X2, mshape, ax = _rows_last(x, axis, "log_softmax")
    z, _, s = _softmax_parts(X2, order, backend)
    y = z - b32_log(s)[:, None]
    return np.moveaxis(y.reshape(mshape), -1, ax)


register(OpDef(name="softmax", binary32=ieee(b32_softmax), module=_M, arity=(1,), attrs={"axis": -1}, shape=_shape("softmax"),
               real=softmax_real, vjp=softmax_vjp, jvp=softmax_jvp, interval=softmax_interval, error=er.softmax_error,
               relax=softmax_relax,
               samples=_samples, doc=__doc__))
register(OpDef(name="log_softmax", binary32=ieee(b32_log_softmax), module=_M, arity=(1,), attrs={"axis": -1}, shape=_shape("log_softmax"),
               real=log_softmax_real, vjp=log_softmax_vjp, jvp=log_softmax_jvp,
               interval=log_softmax_interval, error=er.log_softmax_error, samples=_samples, doc=__doc__))
