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

from . import interval as iv
from .error_bounds import ETA32, U32, any_order_dot_error, gamma, sequential_dot_error

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


# ---------------------------------------------------------------- composed rules
#
# The rules below follow the binary32 kernel step by step (certnn/floats/b32.py):
# each step is a triple (lo, hi, e): an enclosure of the real intermediate value
# and a bound on |binary32 value - real value|. A step adds the propagated input
# error (a Lipschitz bound over the enclosure widened by e) to its own rounding,
# u |result| + eta, where |result| <= |real| + propagated error. A step whose
# result may overflow binary32 gets an infinite bound (u|y| does not hold there).

_OVERFLOW32 = 2.0 ** 128 - 2.0 ** 103    # reals at least this large round to +-inf


def rounded(e_in, lo, hi, eta=ETA32):
    """e_in plus the rounding of one correctly rounded binary32 operation whose
    real result lies in [lo, hi] widened by e_in."""
    m = mag(lo, hi, e_in)
    with np.errstate(invalid="ignore"):
        return np.where(m < _OVERFLOW32, e_in + U32 * m + eta, np.inf)


def const(v, shape=()):
    """A constant of the real semantics (a float64 such as eps) used by binary32 as RN32(v)."""
    v = np.broadcast_to(np.asarray(v, np.float64), shape)
    return v, v, np.abs(v.astype(np.float32).astype(np.float64) - v)


def exact(v):
    v = np.asarray(v, np.float64)
    return v, v, np.zeros_like(v)


def t_add(a, b):
    lo, hi = iv.add(a[0], a[1], b[0], b[1])
    return lo, hi, rounded(a[2] + b[2], lo, hi, 0.0)      # sums have no underflow term


def t_sub(a, b):
    lo, hi = iv.sub(a[0], a[1], b[0], b[1])
    return lo, hi, rounded(a[2] + b[2], lo, hi, 0.0)


def t_mul(a, b):
    lo, hi = iv.mul(a[0], a[1], b[0], b[1])
    ma, mb = mag(a[0], a[1]), mag(b[0], b[1])
    return lo, hi, rounded(ma * b[2] + mb * a[2] + a[2] * b[2], lo, hi)


def t_square(a):
    lo, hi = iv.square(a[0], a[1])
    m = mag(a[0], a[1])
    return lo, hi, rounded(2 * m * a[2] + a[2] * a[2], lo, hi)


def _min_abs(lo, hi):
    return np.where(lo > 0, lo, np.where(hi < 0, -hi, 0.0))


def t_div(a, b):
    """|a^/b^ - a/b| <= e_a/|b^| + |a| e_b/(|b| |b^|), with |b^| >= min|b| - e_b > 0;
    a divisor box within e_b of 0 gives an infinite bound."""
    lo, hi = iv.div(a[0], a[1], b[0], b[1])
    bmin = _min_abs(b[0], b[1])
    bmin2 = bmin - b[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        e_in = a[2] / bmin2 + mag(a[0], a[1]) * b[2] / (bmin * bmin2)
    e_in = np.where((bmin2 > 0) & ~np.isnan(e_in), e_in, np.inf)
    return lo, hi, rounded(e_in, lo, hi)


def t_sqrt(a):
    """|sqrt x^ - sqrt x| <= min(sqrt e, e / (sqrt(lo - e) + sqrt lo)); x^ must be >= 0
    (lo - e >= 0), else binary32 may give NaN."""
    lo, hi = iv.sqrt(np.maximum(a[0], 0.0), np.maximum(a[1], 0.0))
    low = a[0] - a[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        lip = a[2] / (np.sqrt(np.maximum(low, 0.0)) + np.sqrt(np.maximum(a[0], 0.0)))
    e_in = np.where(a[2] == 0, 0.0, np.minimum(np.sqrt(a[2]), np.nan_to_num(lip, nan=np.inf)))
    e_in = np.where((low >= 0) & (a[0] >= 0), e_in, np.inf)
    return lo, hi, rounded(e_in, lo, hi, 0.0)


def t_log(a, floor=0.0):
    """Correctly rounded log; both x and x^ are >= max(lo - e, floor), which must be
    > 0 (``floor``: a lower bound known from the kernel, e.g. a softmax sum >= 1)."""
    low = np.maximum(a[0] - a[2], floor)
    lo, hi = iv.log(np.maximum(a[0], floor), np.maximum(a[1], floor))
    with np.errstate(divide="ignore"):
        e_in = np.where(low > 0, a[2] / low * (1 + 1e-12), np.inf)
    return lo, hi, rounded(np.where(a[2] == 0, 0.0, e_in), lo, hi)


def t_exp(a, cap=np.inf):
    """Correctly rounded exp; ``cap`` bounds both x and x^ from above (softmax: 0)."""
    lo, hi = iv.exp(a[0], np.minimum(a[1], cap))
    slope = np.exp(np.minimum(a[1] + a[2], cap)) * (1 + 1e-12)
    return lo, hi, rounded(a[2] * slope, lo, hi)


def t_sum_rows(a, order):
    """Binary32 sum of each row of (B, K) triples in the documented order."""
    lo, hi, e = (np.asarray(v, np.float64) for v in a)
    K = lo.shape[1]
    slo, shi = iv.sum_enclosure(lambda x: np.sum(x, axis=1), lo, hi, K)
    if K == 0:
        return slo, shi, np.zeros(lo.shape[0])
    bound = contraction_error(np.ones((1, K)), lo, hi, e, order=order)[:, 0]
    return slo, shi, bound


def t_div_count(a, n):
    """binary32 RN(s^ / RN32(n)) against the real s / n (n a positive count or an
    array of them): exact divisor below 2**24, else the divisor's rounding too."""
    n = np.asarray(n, np.float64)
    n32 = n.astype(np.float32).astype(np.float64)
    lo, hi = iv.div_pos(a[0], a[1], n)
    e_in = a[2] / n32 + mag(a[0], a[1]) * np.abs(1 / n32 - 1 / n) * (1 + 1e-12)
    return lo, hi, rounded(e_in, lo, hi)


def _bcast_all(los, his, errs):
    shape = np.broadcast_shapes(*[np.shape(x) for x in los])
    return [tuple(np.broadcast_to(np.asarray(v, np.float64), shape) for v in tr)
            for tr in zip(los, his, errs)]


# ---- elementwise

def div_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    a, b = _bcast_all(los, his, errs)
    return finish(t_div(a, b)[2])


def sqrt_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    return finish(t_sqrt((los[0], his[0], np.broadcast_to(errs[0], np.shape(los[0]))))[2])


def log_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    return finish(t_log((los[0], his[0], np.broadcast_to(errs[0], np.shape(los[0]))))[2])


def _softplus_slope(a, b):
    return np.minimum(1.0, (1.0 / (1.0 + np.exp(-b))) * (1 + 1e-12) + 1e-15)  # sigmoid, increasing


_SQRT2 = np.sqrt(2.0)


def _gelu_deriv(x):
    from scipy.special import erf
    return 0.5 * (1.0 + erf(x / _SQRT2)) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def _gelu_slope(a, b):
    """max |gelu'| on [a, b]: gelu'' = phi(x) (2 - x^2), so gelu' has its extremes at
    the ends and at +-sqrt 2 (max 1.1289..., min -0.1684...) when inside."""
    cand = np.maximum(np.abs(_gelu_deriv(a)), np.abs(_gelu_deriv(b)))
    cand = np.where((a <= _SQRT2) & (b >= _SQRT2), 1.12893, cand)      # >= gelu'(sqrt 2)
    cand = np.where((a <= -_SQRT2) & (b >= -_SQRT2), np.maximum(cand, 0.16844), cand)
    return cand * (1 + 1e-9) + 1e-12


softplus_error = lipschitz_cr(_softplus_slope)
gelu_error = lipschitz_cr(_gelu_slope)


# ---- reductions

# ---- contractions

def _dot_general(A, B, order):
    """(M, K) @ (K, N) triples -> bound (M, N) on the binary32 product (sum over k of
    RN(a^ b^), in the order) against the real a @ b."""
    (al, ah, ea), (bl, bh, eb) = A, B
    K = al.shape[1]
    if np.array_equal(bl, bh) and not np.any(eb):
        return contraction_error(bl.T, al, ah, ea, order=order)
    if np.array_equal(al, ah) and not np.any(ea):
        return contraction_error(al, bl.T, bh.T, eb.T, order=order).T
    # both operands inexact: propagation |A| Eb + Ea |B| + Ea Eb, then the order-free
    # gamma bound (it holds for the sequential order too)
    infl = 1 + 1e-9 + K * 2.0 ** -52     # float64 products computing the bound
    prop = mag(al, ah) @ eb + ea @ mag(bl, bh) + ea @ eb
    rnd = gamma(K + 1) * (mag(al, ah, ea) @ mag(bl, bh, eb)) + K * ETA32
    return (prop + rnd) * infl


def matmul_error(los, his, errs, out_lo, out_hi, order="sequential", **attrs):
    (al, bl), (ah, bh) = los, his
    ea, eb = (np.broadcast_to(e, np.shape(x)) for e, x in zip(errs, (al, bl)))
    m, k, n = al.shape[-2], al.shape[-1], bl.shape[-1]
    if bl.ndim == 2:
        A = tuple(np.asarray(v, np.float64).reshape(-1, k) for v in (al, ah, ea))
        B = tuple(np.asarray(v, np.float64) for v in (bl, bh, eb))
        return finish(_dot_general(A, B, order).reshape(np.shape(out_lo)))
    batch = np.broadcast_shapes(al.shape[:-2], bl.shape[:-2])
    A = [np.broadcast_to(v, batch + (m, k)) for v in (al, ah, ea)]
    B = [np.broadcast_to(v, batch + (k, n)) for v in (bl, bh, eb)]
    out = np.empty(batch + (m, n))
    for idx in np.ndindex(*batch):
        out[idx] = _dot_general(tuple(v[idx] for v in A), tuple(v[idx] for v in B), order)
    return finish(out)


# ---- normalisation

def batch_norm_error(los, his, errs, out_lo, out_hi, order="sequential", *, eps):
    """b32: r = RN(1 / RN(sqrt(RN(var + RN32(eps))))), k = RN(r w),
    y = RN(RN(RN(x - mean) k) + bias); parameters may carry errors too."""
    x, w, b, m, v = ((lo, hi, np.broadcast_to(e, np.shape(lo))) for lo, hi, e in zip(los, his, errs))
    bc = (1, -1) + (1,) * (np.ndim(x[0]) - 2)
    shaped = lambda t: tuple(np.reshape(a, bc) for a in t)  # noqa: E731
    r = t_div(exact(1.0), t_sqrt(t_add(v, const(eps))))
    k = t_mul(r, w)
    y = t_add(t_mul(t_sub(x, shaped(m)), shaped(k)), shaped(b))
    return finish(np.broadcast_to(y[2], np.shape(out_lo)))


def layer_norm_error(los, his, errs, out_lo, out_hi, order="sequential", *, eps):
    """b32: d = RN(x - x_0), mu = sum(d)/n, xc = RN(d - mu), var = sum(RN(xc^2))/n (sums in the order),
    r = RN(1/RN(sqrt(RN(var + RN32(eps))))), y = RN(RN(RN(xc r) w) + b). The real
    xhat is clipped to |xhat| <= sqrt(n - 1) (always true, see certnn.ops.norm)."""
    x, w, b = ((lo, hi, np.broadcast_to(e, np.shape(lo))) for lo, hi, e in zip(los, his, errs))
    n = int(np.size(w[0]))
    X = tuple(np.asarray(a, np.float64).reshape(-1, n) for a in x)
    W = tuple(np.asarray(a, np.float64).reshape(-1) for a in w)
    Bb = tuple(np.asarray(a, np.float64).reshape(-1) for a in b)
    y = t_add(t_mul(_xhat_rows(X, order, eps), W), Bb)
    return finish(y[2].reshape(np.shape(out_lo)))


def batch_norm_train_error(los, his, errs, out_lo, out_hi, order="sequential", *, eps):
    """b32: layer_norm's steps over each channel's elements (C order over (n, *spatial)),
    then y = RN(RN(xhat w_c) + b_c)."""
    x, w, b = ((lo, hi, np.broadcast_to(e, np.shape(lo))) for lo, hi, e in zip(los, his, errs))
    rows = tuple(np.moveaxis(np.asarray(a, np.float64), 1, 0) for a in x)
    X = tuple(a.reshape(a.shape[0], -1) for a in rows)
    col = lambda t: tuple(np.asarray(a, np.float64).reshape(-1, 1) for a in t)  # noqa: E731
    y = t_add(t_mul(_xhat_rows(X, order, eps), col(w)), col(b))
    return finish(np.moveaxis(y[2].reshape(rows[0].shape), 0, 1).reshape(np.shape(out_lo)))


def _xhat_rows(X, order, eps):
    """(lo, hi, err) of xhat for each row of X (rows, n), layer_norm's binary32 steps."""
    n = X[0].shape[1]
    col = lambda t: tuple(a[:, None] for a in t)  # noqa: E731
    D = t_sub(X, tuple(a[:, :1] for a in X))
    mu = t_div_count(t_sum_rows(D, order), n)
    xc = t_sub(D, col(mu))
    var = t_div_count(t_sum_rows(t_square(xc), order), n)
    r = t_div(exact(1.0), t_sqrt(t_add((np.maximum(var[0], 0.0), var[1], var[2]), const(eps))))
    xl, xh, xe = t_mul(xc, col(r))
    lim = float(np.sqrt(max(n - 1, 0))) * (1 + 1e-12)
    return np.maximum(xl, -lim), np.minimum(xh, lim), xe


def rms_norm_error(los, his, errs, out_lo, out_hi, order="sequential", *, eps):
    """b32: ms = sum(RN(x^2))/n (in the order), r = RN(1/RN(sqrt(RN(ms + RN32(eps))))),
    y = RN(RN(x r) w). The real xhat is clipped to |xhat| <= sqrt(n) (always true:
    x_i^2 <= sum x^2 = n ms)."""
    x, w = ((lo, hi, np.broadcast_to(e, np.shape(lo))) for lo, hi, e in zip(los, his, errs))
    n = int(np.size(w[0]))
    X = tuple(np.asarray(a, np.float64).reshape(-1, n) for a in x)
    W = tuple(np.asarray(a, np.float64).reshape(-1) for a in w)
    ms = t_div_count(t_sum_rows(t_square(X), order), n)
    r = t_div(exact(1.0), t_sqrt(t_add((np.maximum(ms[0], 0.0), ms[1], ms[2]), const(eps))))
    xl, xh, xe = t_mul(X, tuple(a[:, None] for a in r))
    lim = float(np.sqrt(n)) * (1 + 1e-12)
    y = t_mul((np.maximum(xl, -lim), np.minimum(xh, lim), xe), W)
    return finish(y[2].reshape(np.shape(out_lo)))


# ---- softmax family

def softmax_steps(lo, hi, e, order, keep=None):
    """Rows (B, n): z = RN(x^ - max x^) <= 0, exp32(z), s = sum in the order (>= 1 in
    both semantics: the max's own term is exp(0) = 1 and the others are >= 0).
    ``keep`` (B, n) booleans: only kept entries enter the max and the sum, the
    others are exact zeros (masked softmax; a row with none kept has s = 0)."""
    e = np.broadcast_to(e, lo.shape)
    if keep is not None:
        lo, hi, e = (np.where(keep, v, fill) for v, fill in ((lo, -np.inf), (hi, -np.inf), (e, 0.0)))
    with np.errstate(invalid="ignore"):
        mx = (np.max(lo, axis=1, keepdims=True), np.max(hi, axis=1, keepdims=True),
              np.max(e, axis=1, keepdims=True))
        zl, zh, ze = t_sub((lo, hi, e), mx)
    if keep is not None:
        zl, zh, ze = (np.where(keep, v, fill) for v, fill in ((zl, -1.0), (zh, -1.0), (ze, 0.0)))
    z = (zl, np.minimum(zh, 0.0), ze)
    ex = t_exp(z, cap=0.0)
    ex = (ex[0], np.minimum(ex[1], 1.0), ex[2])
    if keep is not None:
        ex = tuple(np.where(keep, v, 0.0) for v in ex)
    s = t_sum_rows(ex, order)
    floor = 1.0 if keep is None else np.where(keep.any(axis=1), 1.0, 0.0)
    s = (np.maximum(s[0], floor), s[1], s[2])
    return z, ex, s


def _rows_last(a, axis):
    a = np.moveaxis(np.asarray(a, np.float64), axis, -1)
    return a.reshape(-1, a.shape[-1]), a.shape


def _from_rows(y, mshape, axis):
    return np.moveaxis(y.reshape(mshape), -1, axis)


def softmax_error(los, his, errs, out_lo, out_hi, order="sequential", axis=-1):
    lo, mshape = _rows_last(los[0], axis)
    hi, _ = _rows_last(his[0], axis)
    e, _ = _rows_last(np.broadcast_to(errs[0], np.shape(los[0])), axis)
    _, ex, s = softmax_steps(lo, hi, e, order)
    y = t_div(ex, tuple(v[:, None] for v in s))
    return finish(_from_rows(y[2], mshape, axis))


def log_sum(s):
    return t_log(s, floor=1.0)


def log_softmax_error(los, his, errs, out_lo, out_hi, order="sequential", axis=-1):
    lo, mshape = _rows_last(los[0], axis)
    hi, _ = _rows_last(his[0], axis)
    e, _ = _rows_last(np.broadcast_to(errs[0], np.shape(los[0])), axis)
    z, _, s = softmax_steps(lo, hi, e, order)
    y = t_sub(z, tuple(v[:, None] for v in log_sum(s)))
    return finish(_from_rows(y[2], mshape, axis))


def reduce_loss(l, reduction, count, order):
    """'none' / 'sum' (all rows, ignored ones +0.0, in the order) / 'mean' (sum / RN32(count))."""
    if reduction == "none":
        return l[2]
    total = t_sum_rows(tuple(np.reshape(v, (1, -1)) for v in l), order)
    if reduction == "mean":
        total = t_div_count(total, max(count, 1))
    return total[2].reshape(())


def mse_error(los, his, errs, out_lo, out_hi, order="sequential", *, reduction="mean"):
    p, t = _bcast_all(los, his, errs)
    sq = t_square(t_sub(p, t))
    return finish(reduce_loss(sq, reduction, int(np.size(sq[0])), order))
