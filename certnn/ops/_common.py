"""Helpers shared by op modules: shape arithmetic with a dynamic batch dimension
(``None``), broadcasting, and factories for elementwise ops whose rules follow
from the forward formula and its derivative."""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from typing import Callable

import numpy as np

from ..errors import ShapeError
from ..floats import interval as iv
from .registry import OpDef, Sample, register
from .xp import NP, SYM

Shape = tuple


def fmt(shape) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


_strict = threading.local()


@contextmanager
def strict_broadcast(on: bool = True):
    """Opt-in check (a context manager): inside it, operands that broadcast to a
    shape none of them has, an outer broadcast such as (N,) - (N, 1) -> (N, N) in a
    loss, raise ``ShapeError`` naming the op and the shapes, when the op is applied
    eagerly, traced or validated in a graph. Broadcasting that keeps one operand's
    shape (a bias (C,) onto (N, C), a scalar) is allowed."""
    old = getattr(_strict, "on", False)
    _strict.on = on
    try:
        yield
    finally:
        _strict.on = old


def broadcast_shapes(op: str, *shapes: Shape) -> Shape:
    """NumPy broadcasting; ``None`` (dynamic batch) broadcasts with 1 or ``None``."""
    nd = max(len(s) for s in shapes)
    out = []
    for axis in range(nd):
        dims = {s[axis - nd + len(s)] for s in shapes if axis - nd + len(s) >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ShapeError(f"{op}: shapes {', '.join(fmt(s) for s in shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    out = tuple(out)
    if getattr(_strict, "on", False) and len(shapes) > 1 and all(tuple(s) != out for s in shapes):
        raise ShapeError(f"{op}: operands {', '.join(fmt(s) for s in shapes)} broadcast to {fmt(out)}, a shape "
                         f"none of them has (an outer broadcast; strict_broadcast is on)")
    return out


def norm_axis(op: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} out of range for a {ndim}-D input")
    return axis % ndim


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast cotangent back to ``shape`` (the walker calls this, not the rules)."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, d in enumerate(shape) if d == 1 and g.shape[i + extra] != 1)
    g = g.sum(axis=axes, keepdims=True) if axes else g
    return g.reshape(shape)


def same_shape(in_shapes, **_):
    return tuple(in_shapes[0])


def rand_samples(shapes, low=-2.0, high=2.0, avoid=None, gap=0.05):
    """Sampler for the conformance suite: float64 arrays of the given shapes,
    keeping at least ``gap`` away from the points in ``avoid`` (kinks)."""

    def samples(rng):
        out = []
        for shp in shapes:
            arrs = []
            for s in (shp if isinstance(shp[0], tuple) else (shp,)):
                a = rng.uniform(low, high, size=s)
                for k in avoid or ():
                    near = np.abs(a - k) < gap
                    a[near] = k + np.where(a[near] >= k, gap, -gap) * 2
                arrs.append(a)
            out.append(Sample(tuple(arrs)))
        return out

    return samples


def _times(ct, g):
    """ct * g with a strong zero: a zero cotangent contributes exactly zero even where
    the partial derivative g is infinite or NaN. A zero cotangent means the output
    does not reach the loss (the branch ``where`` did not take, a dropped entry), so
    the chain rule owes it nothing: this is what makes ``where(y != 0, x / y, 0)``
    differentiate like its safe formulation instead of giving 0 * inf = NaN.
    A finite constant g (add, sub, neg) needs no check: 0 * g is a zero."""
    if isinstance(g, float) and math.isfinite(g):
        return ct * g
    return strong_zero(ct * g, ct)


def strong_zero(r, ct):
    """The product ``r = ct * g`` made 0 wherever ct is 0 (see ``_times``)."""
    if np.asarray(r).dtype.kind == "f" and not np.isfinite(r).all():
        r = np.where(np.asarray(ct) == 0, np.zeros((), r.dtype), r)
    return r


def elementwise(name: str, module: str, f: Callable, grads: Callable, arity: int = 1,
                attrs: dict | None = None, samples=None, doc: str = "", interval: Callable | None = None,
                assumes: tuple = (), error: Callable | None = None, fast_vjp: Callable | None = None,
                **flags) -> OpDef:
    """Register an elementwise op from its forward formula ``f(*xs, xp, **attrs)``
    and its partial derivatives ``grads(*xs, y, xp, **attrs)`` (a tuple, one per
    input; ``y = f(*xs)`` is passed so rules can reuse the output). Both are
    written over the namespace ``xp`` (see :mod:`certnn.ops.xp`), so the same code
    yields the real rule (``xp=NP``), the vjp and jvp, and the sympy form (``xp=SYM``).

    ``interval(lo0, hi0[, lo1, hi1], **attrs) -> (lo, hi)`` is the op's interval
    transfer on validated float64 endpoints (see :mod:`certnn.floats.interval`);
    the factory adapts it to the registry signature ``(los, his, **attrs)``,
    checking the inputs (NaN raises ``IntervalError`` naming the op) and the output.
    ``assumes`` names the boundaries (keys of ``interval.ASSUMPTIONS``) the bound
    rests on; it is recorded as the rule's ``assumptions`` attribute.
    ``error`` is the op's binary32-vs-real error rule (registry signature; the
    building blocks are in :mod:`certnn.floats.error_rules`).
    ``fast_vjp(ct, out, *xs, **attrs)``, for an op on the training hot path,
    replaces the vjp derived from ``grads`` by one that computes the same
    numbers in fewer passes (a test checks the two agree bit for bit); sympy
    object arrays still take the derived rule.
    """

    def real(*xs, **a):
        return f(*xs, xp=NP, **a)

    def partials(xs, out, a):
        # np.where with float constants yields float64: keep the op's dtype
        return [g.astype(out.dtype) if isinstance(g, np.ndarray) and g.dtype != out.dtype else g
                for g in grads(*xs, out, xp=NP, **a)]

    def vjp(ct, out, *xs, **a):
        with np.errstate(divide="ignore", invalid="ignore"):   # inf/NaN partials are handled by _times
            return tuple(_times(ct, g) for g in partials(xs, out, a))

    def vjp_fast(ct, out, *xs, **a):
        # sympy object arrays (the proofs) take the rule derived from ``grads``
        if any(getattr(v, "dtype", None) == object for v in (ct, *xs)):
            return vjp(ct, out, *xs, **a)
        return fast_vjp(ct, out, *xs, **a)

    def jvp(tangents, out, *xs, **a):
        parts = partials(xs, out, a)
        acc = tangents[0] * parts[0]
        for t, g in zip(tangents[1:], parts[1:]):
            acc = acc + t * g
        return acc

    def sympy_form(*syms, **a):
        return f(*syms, xp=SYM, **a)

    @iv.uses(*assumes)
    def interval_rule(los, his, **a):
        los, his = iv.inputs(name, los, his, arity)
        args = [e for pair in zip(los, his) for e in pair]
        return iv.finish(name, *interval(*args, **a))

    shape = same_shape if arity == 1 else (lambda in_shapes, **_: broadcast_shapes(name, *in_shapes))
    default_samples = rand_samples([(3, 4), (5,)] if arity == 1 else [((3, 4), (3, 4)), ((2, 3), (3,))])
    return register(OpDef(
        name=name, module=module, arity=(arity,), attrs=attrs or {}, shape=shape, real=real,
        vjp=vjp if fast_vjp is None else vjp_fast, jvp=jvp, sympy_form=sympy_form, grads=grads,
        interval=None if interval is None else interval_rule, error=error, elementwise=True,
        samples=samples or default_samples, doc=doc, **flags))
