"""Complex multiplication in real arithmetic: ``complex_mul(a, b)``. A complex
number is a trailing axis of two reals (re, im), as produced by ``rfft``;
the other axes broadcast as in NumPy.

    re = a_re b_re - a_im b_im,      im = a_re b_im + a_im b_re

Bilinear (not ``linear``): with b fixed (FNO's spectral weights) it is linear
in a, and bound propagation treats it as affine then. Derivatives, writing
conj(b) = (b_re, -b_im): vjp ct * conj(b) and ct * conj(a) (complex
products, summed back over broadcast axes by the walker), jvp ta b + a tb.

binary32: re = RN(RN(a_re b_re) - RN(a_im b_im)), im = RN(RN(a_re b_im) +
RN(a_im b_re)): no FMA, the float32 real rule computes exactly this. The
interval and error rules follow the same four products and two sums.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import as_f32, ieee
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import broadcast_shapes, fmt
from .registry import OpDef, Sample, register

_M = __name__


def shape(in_shapes):
    a, b = (tuple(s) for s in in_shapes)
    if not a or not b or a[-1] != 2 or b[-1] != 2:
        raise ShapeError(f"complex_mul: both inputs must end with a (re, im) axis of size 2, "
                         f"got {fmt(a)} and {fmt(b)}")
    return broadcast_shapes("complex_mul", a, b)


def _mul(ar, ai, br, bi):
    return np.stack([ar * br - ai * bi, ar * bi + ai * br], axis=-1)


def real(a, b):
    shape([a.shape, b.shape])
    return _mul(a[..., 0], a[..., 1], b[..., 0], b[..., 1])


def vjp(ct, out, a, b):
    gr, gi = ct[..., 0], ct[..., 1]
    return _mul(gr, gi, b[..., 0], -b[..., 1]), _mul(gr, gi, a[..., 0], -a[..., 1])


def jvp(tangents, out, a, b):
    ta, tb = tangents
    return real(np.broadcast_to(ta, a.shape), b) + real(a, np.broadcast_to(tb, b.shape))


@iv.uses(*iv.RN)
def interval(los, his):
    (al, bl), (ah, bh) = iv.inputs("complex_mul", los, his, 2)
    shape([al.shape, bl.shape])
    p = lambda i, j: iv.mul(al[..., i], ah[..., i], bl[..., j], bh[..., j])  # noqa: E731
    re, im = iv.sub(*p(0, 0), *p(1, 1)), iv.add(*p(0, 1), *p(1, 0))
    return iv.finish("complex_mul", np.stack([re[0], im[0]], -1), np.stack([re[1], im[1]], -1))


def error(los, his, errs, out_lo, out_hi, order="sequential"):
    a, b = ((lo, hi, np.broadcast_to(e, np.shape(lo))) for lo, hi, e in zip(los, his, errs))
    p = lambda i, j: er.t_mul(tuple(v[..., i] for v in a), tuple(v[..., j] for v in b))  # noqa: E731
    re, im = er.t_sub(p(0, 0), p(1, 1)), er.t_add(p(0, 1), p(1, 0))
    return er.finish(np.broadcast_to(np.stack([re[2], im[2]], -1), np.shape(out_lo)))


def b32_complex_mul(a, b, order=None, backend=None):
    return real(as_f32(a, "complex_mul"), as_f32(b, "complex_mul"))


def samples(rng):
    u = lambda *s: rng.uniform(-2, 2, s)  # noqa: E731
    return [Sample((u(3, 4, 2), u(3, 4, 2))), Sample((u(2, 3, 1, 5, 2), u(3, 4, 5, 2))), Sample((u(2), u(4, 2)))]


register(OpDef(
    name="complex_mul", module=_M, arity=(2,), attrs={}, shape=shape, real=real, vjp=vjp, jvp=jvp,
    binary32=ieee(b32_complex_mul), interval=interval, error=error, samples=samples, doc=__doc__))
