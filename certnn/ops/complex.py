"""Complex products in real arithmetic. A complex number is a trailing axis of
two reals (re, im), as produced by ``rfft``.

complex_mul(a, b): elementwise; the other axes broadcast as in NumPy.

    re = a_re b_re - a_im b_im,      im = a_re b_im + a_im b_re

Bilinear (not ``linear``): with b fixed (FNO's spectral weights) it is linear
in a, and bound propagation treats it as affine then. Derivatives, writing
conj(b) = (b_re, -b_im): vjp ct * conj(b) and ct * conj(a) (complex
products, summed back over broadcast axes by the walker), jvp ta b + a tb.

binary32: re = RN(RN(a_re b_re) - RN(a_im b_im)), im = RN(RN(a_re b_im) +
RN(a_im b_re)): no FMA, the float32 real rule computes exactly this. The
interval and error rules follow the same four products and two sums.

complex_matmul(a, b): a (..., m, k, 2), b (..., k, n, 2) -> (..., m, n, 2), the
complex matrix product (batch axes broadcast as in matmul); FNO's channel
mixing per Fourier mode with fixed weights. It *is* one real matrix product
of block matrices, and every rule is matmul's on those blocks::

    [a_re  a_im] @ [[ b_re  b_im]      = [a_re b_re - a_im b_im,  a_re b_im + a_im b_re]
                    [-b_im  b_re]]

(..., m, 2k) @ (..., 2k, 2n): each output sums 2k products, the k real parts
of a first, in the documented order in binary32; negation is exact, so the
interval and error rules are matmul's on the blocks. vjp: ct conj(b)^T and
conj(a)^T ct (complex), summed back over broadcast batch axes, computed as
matmul's vjp on the blocks (two products; the batch axes summed for a
broadcast operand are folded into the contraction, one batched matmul).
"""

from __future__ import annotations

import math

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


# ---------------------------------------------------------------- complex_matmul

def cm_shape(in_shapes):
    from .linalg import matmul_shape
    a, b = (tuple(s) for s in in_shapes)
    if len(a) < 3 or len(b) < 3 or a[-1] != 2 or b[-1] != 2:
        raise ShapeError(f"complex_matmul: inputs must be (..., m, k, 2) and (..., k, n, 2), got {fmt(a)} and {fmt(b)}")
    try:
        return matmul_shape([a[:-1], b[:-1]]) + (2,)
    except ShapeError as e:
        raise ShapeError(f"complex_{e}") from None


def _blocks(a, b, neg=np.negative):
    """The real block matrices [a_re a_im] (..., m, 2k) and [[b_re b_im], [-b_im b_re]] (..., 2k, 2n)."""
    A = np.concatenate([a[..., 0], a[..., 1]], axis=-1)
    top = np.concatenate([b[..., 0], b[..., 1]], axis=-1)
    bottom = np.concatenate([neg(b[..., 1]), b[..., 0]], axis=-1)
    return A, np.concatenate([top, bottom], axis=-2)


def _unblock(Y):
    n = Y.shape[-1] // 2
    return np.stack([Y[..., :n], Y[..., n:]], axis=-1)


def cm_real(a, b):
    cm_shape([a.shape, b.shape])
    return _unblock(np.matmul(*_blocks(a, b)))


def _summed_product(p, q, target, sub):
    """sum over the batch axes that ``target`` (a batch shape) broadcasts of the batched
    matrix products given by ``sub`` ("mk,mn->kn" or "mn,kn->mk"): the cotangent of a
    broadcast operand without materialising the broadcast products. One batched matmul
    when the summed axes lead (the summed axes join the contracted one), else one einsum."""
    batch = np.broadcast_shapes(p.shape[:-2], q.shape[:-2])
    lead = len(batch) - len(target)
    if tuple(target) == batch[lead:]:
        # the summed axes are the leading ones (FNO: the batch of examples against per-mode
        # weights): fold them into the contracted axis and make it one batched matmul
        contracted = -2 if sub == "mk,mn->kn" else -1
        p, q = (_fold(np.broadcast_to(t, batch + t.shape[-2:]) if lead else t, lead, contracted) for t in (p, q))
        return np.swapaxes(p, -1, -2) @ q if contracted == -2 else p @ np.swapaxes(q, -1, -2)
    letters = "abcdefgh"[:len(batch)]
    keep = "".join(c for c, d, t in zip(letters, batch, (1,) * (len(batch) - len(target)) + tuple(target))
                   if t == d and t != 1)
    ins, out = sub.split("->")
    l, r = ins.split(",")
    y = np.einsum(f"{letters}{l},{letters}{r}->{keep}{out}", np.broadcast_to(p, batch + p.shape[-2:]),
                  np.broadcast_to(q, batch + q.shape[-2:]), optimize=True)
    return y.reshape(tuple(target) + y.shape[-2:])


def _fold(t, lead, axis):
    """Merge the first ``lead`` axes of t into its ``axis`` (-2 or -1), the
    leading axes varying slowest: (L.., T.., r, c) -> (T.., L*r, c) or (T.., r, L*c)."""
    if not lead:
        return t
    t = np.moveaxis(t, range(lead), range(axis - lead, axis))
    keep, size = t.shape[:-2 - lead], math.prod(t.shape[axis - lead:axis + 1 or None])
    return t.reshape(keep + ((size, t.shape[-1]) if axis == -2 else (t.shape[-2 - lead], size)))


def cm_vjp(ct, out, a, b):
    """matmul's vjp on the blocks: dA = dY B^T and dB = A^T dY, each summed over the
    batch axes its operand broadcasts; dA unblocks to ct conj(b)^T, and dB folds back
    to conj(a)^T ct (b_re sits in two blocks, b_im in two with opposite signs)."""
    A, Bm = _blocks(a, b)
    dY = np.concatenate([ct[..., 0], ct[..., 1]], axis=-1)
    k, n = a.shape[-2], b.shape[-2]
    dA = _summed_product(dY, Bm, a.shape[:-3], "mn,kn->mk")
    dB = _summed_product(A, dY, b.shape[:-3], "mk,mn->kn")
    return _unblock(dA), np.stack([dB[..., :k, :n] + dB[..., k:, n:], dB[..., :k, n:] - dB[..., k:, :n]], axis=-1)


def cm_jvp(tangents, out, a, b):
    ta, tb = (np.broadcast_to(t, x.shape) for t, x in zip(tangents, (a, b)))
    return cm_real(ta, b) + cm_real(a, tb)


@iv.uses(*iv.BLAS)
def cm_interval(los, his):
    (al, bl), (ah, bh) = iv.inputs("complex_matmul", los, his, 2)
    cm_shape([al.shape, bl.shape])
    (Al, Bl), (Ah, Bh) = _blocks(al, bl), _blocks(ah, bh)
    k, n = bl.shape[-3], bl.shape[-2]
    Bl[..., k:, :n], Bh[..., k:, :n] = -bh[..., 1], -bl[..., 1]    # -b_im in [-hi, -lo]
    lo, hi = iv.bilinear(np.matmul, Al, Ah, Bl, Bh, 2 * k)
    return iv.finish("complex_matmul", _unblock(lo), _unblock(hi))


def cm_error(los, his, errs, out_lo, out_hi, order="sequential"):
    (al, bl), (ah, bh) = los, his
    ea, eb = (np.broadcast_to(e, np.shape(x)) for e, x in zip(errs, (al, bl)))
    Al, Bl = _blocks(al, bl)
    Ah, Bh = _blocks(ah, bh)
    k, n = np.shape(bl)[-3], np.shape(bl)[-2]
    Bl[..., k:, :n], Bh[..., k:, :n] = -np.asarray(bh)[..., 1], -np.asarray(bl)[..., 1]    # -b_im in [-hi, -lo]
    Ea, Eb = _blocks(ea, eb, neg=lambda v: v)
    out = np.broadcast_to(0.0, np.broadcast_shapes(Al.shape[:-2], Bl.shape[:-2]) + (Al.shape[-2], Bl.shape[-1]))
    return er.finish(_unblock(er.matmul_error([Al, Bl], [Ah, Bh], [Ea, Eb], out, out, order=order)))


def b32_complex_matmul(a, b, order=None, backend=None):
    from .linalg import b32_matmul
    a, b = as_f32(a, "complex_matmul"), as_f32(b, "complex_matmul")
    cm_shape([a.shape, b.shape])
    A, B = _blocks(a, b)
    return _unblock(b32_matmul(A, B, order=order, backend=backend))


def cm_samples(rng):
    u = lambda *s: rng.uniform(-2, 2, s)  # noqa: E731
    return [Sample((u(3, 4, 2), u(4, 5, 2))), Sample((u(2, 3, 4, 2), u(4, 2, 2))),
            Sample((u(6, 1, 3, 4, 2), u(6, 4, 5, 2))), Sample((u(1, 1, 2), u(1, 1, 2)))]


register(OpDef(
    name="complex_mul", module=_M, arity=(2,), attrs={}, shape=shape, real=real, vjp=vjp, jvp=jvp,
    binary32=ieee(b32_complex_mul), interval=interval, error=error, samples=samples, doc=__doc__))
register(OpDef(
    name="complex_matmul", module=_M, arity=(2,), attrs={}, shape=cm_shape, real=cm_real, vjp=cm_vjp, jvp=cm_jvp,
    binary32=ieee(b32_complex_matmul), interval=cm_interval, error=cm_error, samples=cm_samples, doc=__doc__))
