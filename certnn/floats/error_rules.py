"""Building blocks for the ``error`` rule of an op: a sound bound on
|op_binary32(x^) - op_real(x)| given enclosures [lo, hi] of the real inputs x,
bounds e on |x^ - x| for the binary32 inputs x^, and an enclosure of the real
output. All quantities are float64 arrays; binary32 constants u = 2^-24
(relative rounding error of one correctly rounded operation) and eta = 2^-150
(absolute underflow term of a product or quotient; sums have none).

Every helper over-approximates: magnitudes use max(|lo|, |hi|) widened by the
input error, and the float64 evaluation of the bound is covered by a relative
inflation of 1e-9 (each bound is a short sum of non-negative terms).
"""

from __future__ import annotations

import numpy as np

from .error_bounds import ETA32, U32, any_order_dot_error, sequential_dot_error

_INFLATE = 1.0 + 1e-9


def mag(lo, hi, e=0.0):
    """max |x^| for x^ within e of [lo, hi]."""
    return np.maximum(np.abs(lo), np.abs(hi)) + e


def finish(e):
    e = np.asarray(e, dtype=np.float64) * _INFLATE
    return np.where(np.isnan(e), np.inf, e)


def structural(real):
    """Ops that only move, select or copy values (reshape, transpose, slice,
    concat, flatten): exact in binary32, so the error is the input error moved
    the same way."""
    def rule(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
        return finish(real(*errs, **attrs))
    return rule


def relu_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    """relu is exact and 1-Lipschitz; where both x and x^ are <= 0 the error is 0."""
    (lo,), (hi,), (e,) = los, his, errs
    return finish(np.where(hi + e <= 0, 0.0, e))


def add_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    ea, eb = errs
    e_in = ea + eb
    return finish(e_in + U32 * mag(out_lo, out_hi, e_in))


def sub_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    return add_error(los, his, errs, out_lo, out_hi)


def mul_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    (al, bl), (ah, bh), (ea, eb) = los, his, errs
    ma, mb = mag(al, ah), mag(bl, bh)
    e_in = ma * eb + mb * ea + ea * eb
    return finish(e_in + U32 * mag(out_lo, out_hi, e_in) + ETA32)


def lipschitz_cr(max_slope):
    """A correctly rounded unary function f (the binary32 transcendentals are, see
    docs/binary32.md): |f^(x^) - f(x)| <= L e + u |f(x^)| + eta, where
    L = max |f'| over [lo - e, hi + e], given by ``max_slope(lo, hi)``."""
    def rule(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
        (lo,), (hi,), (e,) = los, his, errs
        L = max_slope(lo - e, hi + e, **attrs)
        e_in = L * e
        return finish(e_in + U32 * mag(out_lo, out_hi, e_in) + ETA32)
    return rule


def contraction_error(w, xlo, xhi, e, bias=None, order="sequential"):
    """y = sum_k x_k w_rk (+ b_r) with exact binary32 weights: the input error
    propagates as |W| e, plus the rounding of the binary32 contraction of x^ in
    [xlo - e, xhi + e] (running bound for the sequential order, gamma bound for
    any order). Shapes: w (R, K); xlo, xhi, e (B, K); returns (B, R)."""
    w = np.asarray(w, np.float64)
    prop = e @ np.abs(w).T
    bound = sequential_dot_error if order == "sequential" else any_order_dot_error
    return prop * (1 + 1e-12) + bound(w, xlo - e, xhi + e, bias)


def passthrough(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    """Exact 1-Lipschitz ops (neg, abs): |f(x^) - f(x)| <= |x^ - x|."""
    return finish(errs[0])


def max_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    """maximum/minimum are exact and |max(a^, b^) - max(a, b)| <= max(|a^ - a|, |b^ - b|)."""
    return finish(np.maximum(errs[0], errs[1]))


def leaky_relu_error(los, his, errs, out_lo, out_hi, order="sequential", negative_slope=0.01, **attrs):
    """binary32 computes x^ on the positive side (exact) and fl(s32 x^) on the
    negative side, with s32 = fl32(slope). The function x -> leaky(x; s32) is
    max(1, |s32|)-Lipschitz; the slope rounding adds |s32 - s| |x| and the product
    rounding u |s32 x^| + eta. Where x and x^ are surely positive, the error is e."""
    (lo,), (hi,), (e,) = los, his, errs
    s = float(negative_slope)
    s32 = float(np.float32(s))
    m = mag(lo, hi)
    extra = abs(s32 - s) * m + U32 * abs(s32) * (m + e) + ETA32
    return finish(np.where(lo - e > 0, e, max(1.0, abs(s32)) * e + extra))
