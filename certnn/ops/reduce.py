"""Reductions: sum, mean, max over ``axes`` (``None`` = all axes, else a tuple of
ints, negative allowed, no repeats), with ``keepdims``.

    sum(x)_k  = sum_{i in k} x_i           (linear)
    mean(x)_k = sum_{i in k} x_i / n       (linear; n = number of reduced elements)
    max(x)_k  = max_{i in k} x_i

Derivatives: sum and mean broadcast the cotangent back (divided by n for mean).
max is not differentiable at ties; following the kink convention (minimal-norm
Clarke element), the cotangent is split evenly among the T tied maxima of each
group, g_i = ct_k [x_i == max_k] / T_k, and the jvp is the matching mean of
the tangents over the tied positions, sum_{tied i} t_i / T_k (so the two stay
adjoint). Reducing over an axis of size 0 is a ShapeError for max (no
identity) and gives 0 (sum) or NaN (mean, 0/0), as in NumPy.

Results keep the input dtype; a full reduction returns a 0-d array, not a
NumPy scalar. A dynamic (``None``) dim stays ``None`` when kept.

Interval rules: sum is increasing, so its range is [sum(lo), sum(hi)], widened
by the float summation error bound gamma_n sum |x| (``interval.sum_enclosure``);
mean divides that by n (outward rounded; a mean over 0 elements, NaN in real
arithmetic, is the whole line); max is increasing in every element: exact
[max(lo), max(hi)].
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import as_f32, count32, ieee, max_reduce, sum_axes
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import fmt, norm_axis, rand_samples
from .registry import OpDef, Sample, register

_M = __name__


def _norm_axes(op: str, axes, ndim: int) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int):
        axes = (axes,)
    out = tuple(norm_axis(op, int(a), ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in axes={tuple(axes)} for a {ndim}-D input")
    return out


def _shape_rule(op: str):
    def shape(in_shapes, axes=None, keepdims=False):
        s = tuple(in_shapes[0])
        ax = _norm_axes(op, axes, len(s))
        if op == "max" and any(s[a] == 0 for a in ax):
            raise ShapeError(f"max: cannot reduce over an empty axis (input {fmt(s)}, axes {ax})")
        if keepdims:
            return tuple(1 if i in ax else d for i, d in enumerate(s))
        return tuple(d for i, d in enumerate(s) if i not in ax)
    return shape


def _kept(ct, shape, ax, keepdims):
    """The output cotangent/value reshaped to keepdims form (broadcastable to ``shape``)."""
    if keepdims:
        return np.asarray(ct)
    return np.reshape(ct, tuple(1 if i in ax else d for i, d in enumerate(shape)))


def _count(shape, ax) -> int:
    n = 1
    for a in ax:
        n *= shape[a]
    return n


def _broadcast_back(g, shape):
    # a writable, contiguous array (the walker may hand it out as a leaf's .grad)
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


# ---- sum ------------------------------------------------------------------------

def sum_real(x, axes=None, keepdims=False):
    ax = _norm_axes("sum", axes, x.ndim)
    return np.asarray(np.sum(x, axis=ax, keepdims=keepdims))


def sum_vjp(ct, out, x, axes=None, keepdims=False):
    ax = _norm_axes("sum", axes, x.ndim)
    return (_broadcast_back(_kept(ct, x.shape, ax, keepdims), x.shape),)


def sum_jvp(tangents, out, x, axes=None, keepdims=False):
    return sum_real(tangents[0], axes=axes, keepdims=keepdims)


# ---- mean -----------------------------------------------------------------------

def mean_real(x, axes=None, keepdims=False):
    ax = _norm_axes("mean", axes, x.ndim)
    return np.asarray(np.mean(x, axis=ax, keepdims=keepdims))


def mean_vjp(ct, out, x, axes=None, keepdims=False):
    ax = _norm_axes("mean", axes, x.ndim)
    g = _kept(ct, x.shape, ax, keepdims) / _count(x.shape, ax)  # Python int: dtype kept
    return (_broadcast_back(g, x.shape),)


def mean_jvp(tangents, out, x, axes=None, keepdims=False):
    return mean_real(tangents[0], axes=axes, keepdims=keepdims)


# ---- max ------------------------------------------------------------------------

def max_real(x, axes=None, keepdims=False):
    ax = _norm_axes("max", axes, x.ndim)
    if any(x.shape[a] == 0 for a in ax):
        raise ShapeError(f"max: cannot reduce over an empty axis (input {fmt(x.shape)}, axes {ax})")
    return np.asarray(np.max(x, axis=ax, keepdims=keepdims))


def _ties(out, x, ax, keepdims):
    """Mask of the (possibly tied) maxima and the number of ties per group, in x's dtype."""
    mask = x == _kept(out, x.shape, ax, keepdims)
    count = np.sum(mask, axis=ax, keepdims=True, dtype=x.dtype)
    return mask, count


def max_vjp(ct, out, x, axes=None, keepdims=False):
    ax = _norm_axes("max", axes, x.ndim)
    mask, count = _ties(out, x, ax, keepdims)
    return (mask * (_kept(ct, x.shape, ax, keepdims) / count),)


def max_jvp(tangents, out, x, axes=None, keepdims=False):
    ax = _norm_axes("max", axes, x.ndim)
    mask, count = _ties(out, x, ax, keepdims)
    s = np.sum(tangents[0] * mask, axis=ax, keepdims=True) / count
    return s if keepdims else np.reshape(s, np.shape(out))


# ---- interval rules ---------------------------------------------------------------

@iv.uses(*iv.RN)
def sum_interval(los, his, axes=None, keepdims=False):
    (lo,), (hi,) = iv.inputs("sum", los, his, 1)
    ax = _norm_axes("sum", axes, lo.ndim)
    out = iv.sum_enclosure(lambda x: sum_real(x, axes=ax, keepdims=keepdims), lo, hi, _count(lo.shape, ax))
    return iv.finish("sum", *out)


@iv.uses(*iv.RN)
def mean_interval(los, his, axes=None, keepdims=False):
    (lo,), (hi,) = iv.inputs("mean", los, his, 1)
    ax = _norm_axes("mean", axes, lo.ndim)
    n = _count(lo.shape, ax)
    s = iv.sum_enclosure(lambda x: sum_real(x, axes=ax, keepdims=keepdims), lo, hi, n)
    if n == 0:
        return iv.finish("mean", np.full(s[0].shape, -np.inf), np.full(s[0].shape, np.inf))
    return iv.finish("mean", *iv.div_pos(*s, n))


@iv.uses()
def max_interval(los, his, axes=None, keepdims=False):
    (lo,), (hi,) = iv.inputs("max", los, his, 1)
    return iv.finish("max", max_real(lo, axes=axes, keepdims=keepdims),
                     max_real(hi, axes=axes, keepdims=keepdims))


# ---- samples --------------------------------------------------------------------

_SHAPES = [(3, 4), (2, 3, 4), (5,)]
_ATTRS = [{}, {"axes": (1,)}, {"axes": (0, 2), "keepdims": True}, {"axes": (-1,)},
          {"axes": (0,), "keepdims": True}]


def _samples(rng):
    base = rand_samples(_SHAPES)(rng)
    out = [Sample(s.inputs, {}) for s in base]
    x3 = rng.uniform(-2.0, 2.0, size=(2, 3, 4))
    for a in _ATTRS[1:]:
        out.append(Sample((x3,), a))
    out.append(Sample((rng.uniform(-2.0, 2.0, size=(3, 4)),), {"keepdims": True}))
    return out


_FLAGS = dict(module=_M, arity=(1,), attrs={"axes": None, "keepdims": False}, samples=_samples)

# ---- error rules ----------------------------------------------------------------

def _to_rows(a, axes):
    """Move the reduced axes last (in increasing order, so their row-major order is
    the binary32 summation order) and flatten to (rows, K)."""
    axes = tuple(range(a.ndim)) if axes is None else tuple(sorted(ax % a.ndim for ax in axes))
    keep = [ax for ax in range(a.ndim) if ax not in axes]
    moved = np.transpose(a, keep + list(axes))
    k = int(np.prod([a.shape[ax] for ax in axes], dtype=np.int64))
    return moved.reshape(-1, k), [a.shape[ax] for ax in keep], axes


def sum_error(los, his, errs, out_lo, out_hi, order="sequential", axes=None, keepdims=False):
    """The sum of terms x^ in binary32 (documented order): input errors add up, and
    the rounding is the contraction bound with unit weights (products by 1 are exact,
    so that bound over-counts a little)."""
    (lo,), (hi,), (e,) = los, his, errs
    e = np.broadcast_to(e, lo.shape)
    xl, kept, ax = _to_rows(lo, axes)
    xh, _, _ = _to_rows(hi, axes)
    xe, _, _ = _to_rows(e, axes)
    bound = er.contraction_error(np.ones((1, xl.shape[1])), xl, xh, xe, order=order)[:, 0]
    return er.finish(bound.reshape(out_lo.shape))


def max_error(los, his, errs, out_lo, out_hi, order="sequential", axes=None, keepdims=False):
    """max is exact, and |max x^ - max x| <= max |x^ - x|."""
    (lo,), _, (e,) = los, his, errs
    return er.finish(max_real(np.broadcast_to(e, lo.shape).astype(np.float64), axes=axes, keepdims=keepdims))


def mean_error(los, his, errs, out_lo, out_hi, order="sequential", axes=None, keepdims=False):
    """mean = RN(sum^ / RN32(n)): the sum's bound (as for sum), then the division."""
    (lo,), (hi,), (e,) = los, his, errs
    e = np.broadcast_to(e, lo.shape)
    t = tuple(_to_rows(np.asarray(v, np.float64), axes)[0] for v in (lo, hi, e))
    n = t[0].shape[1]
    if n == 0:
        return er.finish(np.full(np.shape(out_lo), np.inf))
    s = er.t_sum_rows(t, order)
    return er.finish(er.t_div_count(s, n)[2].reshape(np.shape(out_lo)))


# ---- binary32 rules (the engine: certnn.floats.b32) -------------------------------------



def b32_sum(x, axes=None, keepdims=False, order=None, backend=None):
    x = as_f32(x, "sum")
    return sum_axes(x, _norm_axes("sum", axes, x.ndim), keepdims, order, backend)[0]


def b32_mean(x, axes=None, keepdims=False, order=None, backend=None):
    x = as_f32(x, "mean")
    s, n = sum_axes(x, _norm_axes("mean", axes, x.ndim), keepdims, order, backend)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(s, count32(n))


def b32_max(x, axes=None, keepdims=False, order=None, backend=None):
    x = as_f32(x, "max")
    ax = _norm_axes("max", axes, x.ndim)
    if any(x.shape[a] == 0 for a in ax):
        raise ShapeError(f"max: cannot reduce over an empty axis (input {x.shape}, axes {ax})")
    return max_reduce(x, ax, keepdims)


register(OpDef(name="sum", binary32=ieee(b32_sum), shape=_shape_rule("sum"), real=sum_real, vjp=sum_vjp, jvp=sum_jvp,
               interval=sum_interval, error=sum_error, linear=True, doc=__doc__, **_FLAGS))
register(OpDef(name="mean", binary32=ieee(b32_mean), shape=_shape_rule("mean"), real=mean_real, vjp=mean_vjp, jvp=mean_jvp,
               interval=mean_interval, error=mean_error, linear=True, doc=__doc__, **_FLAGS))
register(OpDef(name="max", binary32=ieee(b32_max), shape=_shape_rule("max"), real=max_real, vjp=max_vjp, jvp=max_jvp,
               interval=max_interval, error=max_error, doc=__doc__, **_FLAGS))
