"""Real FFT and its inverse along one axis, as linear ops on real arrays. A
complex number is stored as a trailing axis of two reals (real, imaginary).

rfft(x; axis=-1, modes=None):
    x has n samples along ``axis``; the output replaces that axis by the first
    m = modes (default and at most n//2 + 1) frequencies and appends the (re, im) axis::

        z_k = sum_t x_t e^{-2 pi i k t / n},   k = 0..m-1

irfft(z; n, axis=-1):
    the inverse of the full rfft: z has m <= n//2 + 1 frequencies along
    ``axis`` (the missing high ones are zeros, as in ``numpy.fft.irfft``) and a
    trailing (re, im) axis; the output has n samples along ``axis``::

        y_t = (1/n) sum_k c_k (Re z_k cos(2 pi k t/n) - Im z_k sin(2 pi k t/n))

    with c_0 = 1, c_{n/2} = 1 (n even), c_k = 2 otherwise; the imaginary parts of
    z_0 and z_{n/2} do not enter (a real signal's spectrum has none).

Both maps are linear (``linear=True``): the jvp is the op itself and the vjp is
its adjoint, rfft^T(g) = n irfft(g / c) and irfft^T(g) = (c / n) rfft(g) with
the ignored imaginary parts zero (the conformance suite checks <v, J u> =
<J^T v, u>). FNO's spectral layer is rfft(modes) -> complex_mul -> irfft.

binary32: the DFT as one matrix product (``matmul2d``, the documented
summation order over t, resp. over (k, re/im)) with the coefficients
cos(2 pi j/n), -sin(2 pi j/n) (resp. (c_k/n) cos, -(c_k/n) sin) correctly
rounded to binary32; they are computed in Arb ball arithmetic (python-flint),
which also gives the float64 enclosures of the exact coefficients that the
interval rule multiplies with (``interval.bilinear``) and the coefficient
rounding error that the error rule adds to the contraction's.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np

from ..errors import ShapeError
from ..floats import error_rules as er
from ..floats import interval as iv
from ..floats import kernel as fk
from ..floats.b32 import as_f32, ieee, matmul2d
from ..floats.formats import BINARY32, BINARY64
from ._common import fmt, norm_axis
from .registry import REQUIRED, OpDef, Sample, register

_M = __name__


# ---------------------------------------------------------------- exact coefficients

def _ball(q: Fraction, fn: str) -> tuple[Fraction, Fraction]:
    """Exact rationals lo <= f(pi q) <= hi for f = cos or sin, from a 200-bit Arb ball."""
    import flint
    old = flint.ctx.prec
    flint.ctx.prec = 200
    try:
        b = getattr(flint.arb(flint.fmpq(q.numerator, q.denominator)), f"{fn}_pi")()
        (mm, me), (rm, re_) = b.mid().man_exp(), b.rad().man_exp()
    finally:
        flint.ctx.prec = old
    mid, rad = Fraction(int(mm)) * Fraction(2) ** int(me), 2 * Fraction(int(rm)) * Fraction(2) ** int(re_)
    return mid - rad, mid + rad


def _round(fmt, lo: Fraction, hi: Fraction):
    """(nearest in fmt, proven: both ends round alike; RD(lo); RU(hi)) as floats."""
    near = fk.from_fraction(fmt, lo, fk.RNE)
    if near != fk.from_fraction(fmt, hi, fk.RNE):   # an exact boundary: never met by these values
        raise ArithmeticError("coefficient too close to a rounding boundary")
    return (fk.to_float(fmt, near), fk.to_float(fmt, fk.from_fraction(fmt, lo, fk.RDN)),
            fk.to_float(fmt, fk.from_fraction(fmt, hi, fk.RUP)))


@functools.lru_cache(maxsize=None)
def _coefficient(j: int, n: int, part: int, scale: Fraction) -> tuple[float, float, float, float, float]:
    """scale * cos(2 pi j/n) (part 0) or -scale * sin(2 pi j/n) (part 1): (nearest binary64,
    nearest binary32, binary64 lower and upper bounds, bound on |binary32 - exact|)."""
    if scale == 0:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    lo, hi = _ball(Fraction(2 * j, n), "cos" if part == 0 else "sin")
    if part:
        lo, hi = -hi, -lo
    lo, hi = (lo * scale, hi * scale) if scale > 0 else (hi * scale, lo * scale)
    v64, d64, _ = _round(BINARY64, lo, hi)
    u64 = _round(BINARY64, hi, hi)[2]
    v32 = _round(BINARY32, lo, hi)[0]
    err = float(max(abs(Fraction(v32) - lo), abs(hi - Fraction(v32)))) * (1 + 2.0 ** -50)
    return v64, v32, d64, u64, err


@functools.lru_cache(maxsize=64)
def _matrix(n: int, m: int, inverse: bool):
    """The DFT coefficient matrix, (n, 2m) for rfft (rows t, columns (k, re/im)) or
    (2m, n) for irfft, from the exact coefficients: (nearest binary64, binary32 values,
    float64 lower, float64 upper, |binary32 - exact| bound), each read-only."""
    scales = [Fraction(1 if k == 0 or 2 * k == n else 2, n) for k in range(m)] if inverse else [Fraction(1)] * m
    out = np.zeros((5, 2 * m, n))
    for k in range(m):
        for part in (0, 1):
            # the imaginary parts of z_0 and z_{n/2} do not enter the inverse
            scale = Fraction(0) if inverse and part and (k == 0 or 2 * k == n) else scales[k]
            table = np.array([_coefficient((k * t) % n, n, part, scale) for t in range(n)])   # (n, 5)
            out[:, 2 * k + part, :] = table.T
    if not inverse:
        out = out.transpose(0, 2, 1)
    v64, v32, lo, hi, err = (np.ascontiguousarray(a) for a in out)
    v32 = v32.astype(np.float32)
    for a in (v64, v32, lo, hi, err):
        a.setflags(write=False)
    return v64, v32, lo, hi, err


# ---------------------------------------------------------------- shapes

def _modes(n, modes):
    full = n // 2 + 1
    if modes is None:
        return full
    if isinstance(modes, bool) or not isinstance(modes, int) or not 1 <= modes <= full:
        raise ShapeError(f"rfft: modes must be an int in [1, {full}] for {n} samples, got {modes!r}")
    return modes


def rfft_shape(in_shapes, axis=-1, modes=None):
    x = tuple(in_shapes[0])
    if not x:
        raise ShapeError("rfft: input must be at least 1-D, got ()")
    ax = norm_axis("rfft", axis, len(x))
    if x[ax] is None or x[ax] < 1:
        raise ShapeError(f"rfft: the transformed axis must have a static size >= 1, got input {fmt(x)}")
    return x[:ax] + (_modes(x[ax], modes),) + x[ax + 1:] + (2,)


def irfft_shape(in_shapes, n, axis=-1):
    z = tuple(in_shapes[0])
    if len(z) < 2 or z[-1] != 2:
        raise ShapeError(f"irfft: input must end with a (re, im) axis of size 2, got {fmt(z)}")
    ax = norm_axis("irfft", axis, len(z) - 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ShapeError(f"irfft: n must be a positive int, got {n!r}")
    if z[ax] is None or not 1 <= z[ax] <= n // 2 + 1:
        raise ShapeError(f"irfft: {z[ax]} frequencies along axis {ax} of {fmt(z)}; at most "
                         f"{n // 2 + 1} for n = {n}")
    return z[:ax] + (n,) + z[ax + 1:-1]


# ---------------------------------------------------------------- real, vjp, jvp

def _to_pairs(c, dtype):
    return np.stack([c.real, c.imag], axis=-1).astype(dtype, copy=False)


def _weights(n, m):
    """c_k of the inverse: 1 at k = 0 and k = n/2, else 2 (length m)."""
    c = np.full(m, 2.0)
    c[0] = 1.0
    if n % 2 == 0 and m == n // 2 + 1:
        c[-1] = 1.0
    return c


# Up to this many frequencies the transforms run as one BLAS product with the DFT
# matrix (FNO keeps 16 modes: much faster than an FFT followed by a truncation);
# more run through numpy.fft. Both compute the same linear map.
MATMUL_MODES = 32


@functools.lru_cache(maxsize=64)
def _dft(n: int, m: int, inverse: bool, dtype: str) -> np.ndarray:
    """rfft: W (n, 2m), W[t, 2k] = cos(2 pi k t/n), W[t, 2k+1] = -sin(2 pi k t/n); irfft:
    V (2m, n), V[2k] = (c_k/n) cos, V[2k+1] = -(c_k/n) sin (0 for the ignored imaginary
    parts); the nearest binary64 values of the exact coefficients, in ``dtype``."""
    M = _matrix(n, m, inverse)[0].astype(dtype)
    M.setflags(write=False)
    return M


def _real_only(n, m):
    """The frequencies whose imaginary part the inverse ignores: 0, and n/2 for even n."""
    r = np.zeros(m, bool)
    r[0] = True
    if n % 2 == 0 and m == n // 2 + 1:
        r[-1] = True
    return r


def _signal_rows(x, ax):
    """(P, n, Q) view of x with the transformed axis in the middle."""
    P, Q = int(np.prod(x.shape[:ax])), int(np.prod(x.shape[ax + 1:]))
    return x.reshape(P, x.shape[ax], Q)


def _pair_rows(z, ax):
    """(P, 2m, Q): z (..., m at ax, ..., 2) with (re, im) interleaved along the frequencies."""
    P, Q = int(np.prod(z.shape[:ax])), int(np.prod(z.shape[ax + 1:-1]))
    m = z.shape[ax]
    return z.reshape(P, m, Q, 2).transpose(0, 1, 3, 2).reshape(P, 2 * m, Q)


def _rows_to_pairs(Y, lead, m, trail):
    P, _, Q = Y.shape
    return np.ascontiguousarray(Y.reshape(P, m, 2, Q).transpose(0, 1, 3, 2)).reshape(lead + (m,) + trail + (2,))


def rfft_real(x, axis=-1, modes=None):
    shp = rfft_shape([x.shape], axis=axis, modes=modes)
    ax = norm_axis("rfft", axis, x.ndim)
    n, m = x.shape[ax], shp[ax]
    if m <= MATMUL_MODES:
        Y = np.matmul(_dft(n, m, False, x.dtype.str).T, _signal_rows(x, ax))
        return _rows_to_pairs(Y, x.shape[:ax], m, x.shape[ax + 1:])
    z = np.fft.rfft(x, axis=ax)
    return _to_pairs(np.take(z, range(m), axis=ax), x.dtype)


def irfft_real(z, n, axis=-1):
    irfft_shape([z.shape], n=n, axis=axis)
    ax = norm_axis("irfft", axis, z.ndim - 1)
    m = z.shape[ax]
    if m <= MATMUL_MODES:
        Y = np.matmul(_dft(n, m, True, z.dtype.str).T, _pair_rows(z, ax))
        return Y.reshape(z.shape[:ax] + (n,) + z.shape[ax + 1:-1])
    y = np.fft.irfft(z[..., 0] + 1j * z[..., 1], n=n, axis=ax)
    return y.astype(z.dtype, copy=False)


def _bcast_axis(v, ndim, ax):
    return v.reshape((-1,) + (1,) * (ndim - ax - 1))


def rfft_vjp(ct, out, x, axis=-1, modes=None):
    """The adjoint W g (matrix path), or n irfft(g / c) (the same map through the FFT)."""
    ax = norm_axis("rfft", axis, x.ndim)
    n, m = x.shape[ax], ct.shape[ax]
    if m <= MATMUL_MODES:
        return (np.matmul(_dft(n, m, False, ct.dtype.str), _pair_rows(ct, ax)).reshape(x.shape),)
    c = _bcast_axis(_weights(n, m), ct.ndim - 1, ax)[..., None]
    return (irfft_real(ct / c.astype(ct.dtype), n=n, axis=axis) * n,)


def irfft_vjp(ct, out, z, n, axis=-1):
    """The adjoint V g (matrix path), or (c/n) rfft(g) with the ignored imaginary parts 0."""
    ax = norm_axis("irfft", axis, z.ndim - 1)
    m = z.shape[ax]
    if m <= MATMUL_MODES:
        Y = np.matmul(_dft(n, m, True, ct.dtype.str), _signal_rows(ct, ax))
        return (_rows_to_pairs(Y, z.shape[:ax], m, z.shape[ax + 1:-1]),)
    g = rfft_real(ct, axis=ax, modes=m)
    g = g * (_bcast_axis(_weights(n, m), z.ndim - 1, ax)[..., None] / n).astype(ct.dtype)
    g[..., 1] *= _bcast_axis(~_real_only(n, m), z.ndim - 1, ax)
    return (g,)


def rfft_jvp(tangents, out, x, axis=-1, modes=None):
    return rfft_real(np.broadcast_to(tangents[0], x.shape), axis=axis, modes=modes)


def irfft_jvp(tangents, out, z, n, axis=-1):
    return irfft_real(np.broadcast_to(tangents[0], z.shape), n=n, axis=axis)


# ---------------------------------------------------------------- as matrix products

def _rfft_rows(x, axis, modes):
    """(m, back): rows of x (R, n) with the transformed axis last, and a function
    putting result rows (R, 2m), pairs interleaved, back in place."""
    ax = norm_axis("rfft", axis, np.ndim(x))
    m = _modes(np.shape(x)[ax], modes)
    lead = np.moveaxis(np.empty(np.shape(x), np.bool_), ax, -1).shape[:-1]
    return m, lambda Y: np.moveaxis(Y.reshape(lead + (m, 2)), -2, ax)


def _rows(x, ax):
    xm = np.moveaxis(x, ax, -1)
    return xm.reshape(-1, xm.shape[-1])


def _irfft_rows(z, n, axis):
    """(m, rows of z (R, 2m), back): the (m, 2) block last; back puts rows (R, n) in place."""
    ax = norm_axis("irfft", axis, np.ndim(z) - 1)
    lead = np.moveaxis(np.empty(np.shape(z)[:-1], np.bool_), ax, -1).shape[:-1]
    m = np.shape(z)[ax]
    rows = lambda a: np.moveaxis(a, ax, -2).reshape(-1, 2 * m)  # noqa: E731
    return m, rows, lambda Y: np.moveaxis(Y.reshape(lead + (n,)), -1, ax)


def b32_rfft(x, axis=-1, modes=None, order=None, backend=None):
    x = as_f32(x, "rfft")
    rfft_shape([x.shape], axis=axis, modes=modes)
    ax = norm_axis("rfft", axis, x.ndim)
    m, back = _rfft_rows(x, axis, modes)
    W32 = _matrix(x.shape[ax], m, False)[1]
    return back(matmul2d(np.ascontiguousarray(_rows(x, ax)), W32, order, backend))


def b32_irfft(z, n, axis=-1, order=None, backend=None):
    z = as_f32(z, "irfft")
    irfft_shape([z.shape], n=n, axis=axis)
    m, rows, back = _irfft_rows(z, n, axis)
    return back(matmul2d(np.ascontiguousarray(rows(z)), _matrix(n, m, True)[1], order, backend))


@iv.uses(*iv.BLAS, "arb-ball-arithmetic")
def rfft_interval(los, his, axis=-1, modes=None):
    (lo,), (hi,) = iv.inputs("rfft", los, his, 1)
    rfft_shape([lo.shape], axis=axis, modes=modes)
    ax = norm_axis("rfft", axis, lo.ndim)
    n = lo.shape[ax]
    m, back = _rfft_rows(lo, axis, modes)
    _, _, Wl, Wh, _ = _matrix(n, m, False)
    yl, yh = iv.bilinear(np.matmul, _rows(lo, ax), _rows(hi, ax), Wl, Wh, n)
    return iv.finish("rfft", back(yl), back(yh))


@iv.uses(*iv.BLAS, "arb-ball-arithmetic")
def irfft_interval(los, his, n, axis=-1):
    (lo,), (hi,) = iv.inputs("irfft", los, his, 1)
    irfft_shape([lo.shape], n=n, axis=axis)
    m, rows, back = _irfft_rows(lo, n, axis)
    _, _, Wl, Wh, _ = _matrix(n, m, True)
    yl, yh = iv.bilinear(np.matmul, rows(lo), rows(hi), Wl, Wh, 2 * m)
    return iv.finish("irfft", back(yl), back(yh))


def _dft_error(W32, Werr, xlo, xhi, e, order):
    """Contraction of binary32 inputs with the binary32 matrix W32 (K, R), plus the
    coefficients' own rounding: |sum x (W32 - W)| <= sum |x^| |W32 - W|."""
    return er.contraction_error(W32.astype(np.float64).T, xlo, xhi, e, order=order) \
        + er.mag(xlo, xhi, e) @ Werr


def rfft_error(los, his, errs, out_lo, out_hi, order="sequential", axis=-1, modes=None):
    ax = norm_axis("rfft", axis, np.ndim(los[0]))
    m, back = _rfft_rows(los[0], axis, modes)
    _, W32, _, _, Werr = _matrix(np.shape(los[0])[ax], m, False)
    e = np.broadcast_to(errs[0], np.shape(los[0]))
    return er.finish(back(_dft_error(W32, Werr, _rows(los[0], ax), _rows(his[0], ax), _rows(e, ax), order)))


def irfft_error(los, his, errs, out_lo, out_hi, order="sequential", *, n, axis=-1):
    m, rows, back = _irfft_rows(los[0], n, axis)
    _, W32, _, _, Werr = _matrix(n, m, True)
    e = np.broadcast_to(errs[0], np.shape(los[0]))
    return er.finish(back(_dft_error(W32, Werr, rows(los[0]), rows(his[0]), rows(e), order)))


# ---------------------------------------------------------------- samples

def rfft_samples(rng):
    u = lambda *s: rng.uniform(-2, 2, s)  # noqa: E731
    return [Sample((u(3, 8),)), Sample((u(2, 7),)), Sample((u(2, 6, 3),), {"axis": 1}),
            Sample((u(2, 3, 16),), {"modes": 4}), Sample((u(1),)),
            Sample((u(2, 70),))]                       # 36 frequencies: the FFT path


def irfft_samples(rng):
    u = lambda *s: rng.uniform(-2, 2, s)  # noqa: E731
    return [Sample((u(3, 5, 2),), {"n": 8}), Sample((u(2, 4, 2),), {"n": 7}),
            Sample((u(2, 4, 3, 2),), {"n": 6, "axis": 1}), Sample((u(2, 3, 4, 2),), {"n": 16}),
            Sample((u(1, 2),), {"n": 1}), Sample((u(2, 36, 2),), {"n": 70})]


register(OpDef(
    name="rfft", module=_M, arity=(1,), attrs={"axis": -1, "modes": None}, shape=rfft_shape, real=rfft_real,
    vjp=rfft_vjp, jvp=rfft_jvp, binary32=ieee(b32_rfft), interval=rfft_interval, error=rfft_error,
    samples=rfft_samples, linear=True, doc=__doc__))
register(OpDef(
    name="irfft", module=_M, arity=(1,), attrs={"n": REQUIRED, "axis": -1}, shape=irfft_shape, real=irfft_real,
    vjp=irfft_vjp, jvp=irfft_jvp, binary32=ieee(b32_irfft), interval=irfft_interval, error=irfft_error,
    samples=irfft_samples, linear=True, doc=__doc__))
