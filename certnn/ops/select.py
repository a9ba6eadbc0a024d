"""Selection: ``where(cond, a, b)``, ``torch.where`` / ONNX ``Where``.

    y = a  where cond is True,   y = b  where cond is False

``cond`` is a boolean array; the three inputs broadcast together (NumPy
rules) to the output shape. With the condition fixed, y is linear in (a, b)
jointly (``linear=True``; ``cond`` is not differentiable): the jvp selects the
tangents, the vjp sends the cotangent to the branch that was taken and an
exact zero to the other one::

    da = ct  where cond, 0 elsewhere        db = 0 where cond, ct elsewhere

The zero sent to the branch not taken matters: ``where(y != 0, x / y, 0)``
differentiates like its safe formulation because the elementwise vjp of the
division gives an exact zero for a zero cotangent even where its partial
derivative 1/y is infinite (see :func:`certnn.ops._common.elementwise`); in
PyTorch the same expression has NaN gradients.

binary32: the selected bits (exact; the branch not taken may hold inf or NaN
without effect). Interval (the condition exact): the selected bounds. Error:
the selected branch's error bound.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import as_f32, ieee
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import broadcast_shapes
from .registry import OpDef, Sample, register

_M = __name__


def shape(in_shapes):
    return broadcast_shapes("where", *(tuple(s) for s in in_shapes))


def _cond(cond):
    cond = np.asarray(cond)
    if cond.dtype != np.bool_ and cond.dtype.kind in "fiu" and np.all((cond == 0) | (cond == 1)):
        cond = cond != 0                # interpreters that carry every constant in float64
    if cond.dtype != np.bool_:
        raise ShapeError(f"where: the condition must be boolean, got {cond.dtype}")
    return cond


def real(cond, a, b):
    shape([np.shape(cond), np.shape(a), np.shape(b)])
    return np.where(_cond(cond), a, b)


def vjp(ct, out, cond, a, b):
    c, zero = _cond(cond), np.zeros((), ct.dtype)
    return None, np.where(c, ct, zero), np.where(c, zero, ct)


def jvp(tangents, out, cond, a, b):
    _, ta, tb = tangents
    return np.broadcast_to(np.where(_cond(cond), ta, tb), out.shape).astype(out.dtype)


@iv.uses(*iv.RN)
def interval(los, his):
    c = _cond(iv.exact_input("where", los[0], his[0], "the condition"))
    (al, bl), (ah, bh) = iv.inputs("where", los[1:], his[1:], 2)
    return iv.finish("where", np.where(c, al, bl), np.where(c, ah, bh))


def error(los, his, errs, out_lo, out_hi, order="sequential"):
    """Selection is exact: the output error is the selected input's error."""
    c = _cond(los[0])
    ea, eb = (np.broadcast_to(e, np.shape(lo)) for e, lo in zip(errs[1:], los[1:]))
    return er.finish(np.broadcast_to(np.where(c, ea, eb), np.shape(out_lo)))


def b32_where(cond, a, b, order=None, backend=None):
    a, b = as_f32(a, "where", "a"), as_f32(b, "where", "b")
    shape([np.shape(cond), a.shape, b.shape])
    return np.where(_cond(cond), a, b)


def samples(rng):
    a, b = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (3, 4))
    return [Sample((rng.random((3, 4)) > 0.5, a, b)),
            Sample((rng.random((1, 4)) > 0.5, a, rng.uniform(-2, 2, (4,)))),     # broadcast condition and b
            Sample((rng.random((2, 3, 1)) > 0.5, rng.uniform(-2, 2, (2, 3, 5)), np.zeros(()))),
            Sample((np.array([True, False, True]), rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (2, 3))))]


register(OpDef(
    name="where", module=_M, arity=(3,), attrs={}, shape=shape, real=real, vjp=vjp, jvp=jvp,
    binary32=ieee(b32_where), interval=interval, error=error, samples=samples, linear=True,
    differentiable=(False, True, True), doc=__doc__))
