"""Sound interval arithmetic on NumPy float64 arrays, outward rounded.

An interval is a pair of float64 arrays ``(lo, hi)`` of one shape with
``lo <= hi`` elementwise; it stands for every real number x with
lo <= x <= hi. Infinite endpoints mean "unbounded" (``(-inf, inf)`` is the
whole line). Every helper returns bounds that contain the exact real result
for every point of its input boxes.

Rounding. A correctly rounded binary64 operation (+, -, *, /, sqrt) returns
RN(x), and the exact x lies between the floats next to RN(x): one
``numpy.nextafter`` step down (``down``) or up (``up``) encloses it. This stays
true in the subnormal range (gradual underflow) and on overflow (RN(x) = inf
means |x| > the largest float, and the step back from inf is the largest
float). Exact results get widened by a step too: a little loose, never wrong.

libm. NumPy's exp/log/log1p/tanh and SciPy's erf carry no accuracy guarantee;
we widen their results by 4 steps and name that boundary
``libm-float64-within-4ulp`` in :data:`ASSUMPTIONS`, so results built on it
can cite it (evidence ``assumed`` at that boundary).

Indeterminate forms. An endpoint formula can meet inf - inf or inf/inf (only
with infinite endpoints). Each helper replaces a NaN lower bound by -inf and a
NaN upper bound by +inf: always sound, never silently finite. Products use the
interval convention 0 * (+-inf) = 0 (an infinite endpoint stands for
arbitrarily large reals, and 0 times any real is 0); an inf/inf quotient keeps
its sign (quotients of large reals of known signs).

NaN in an *input* interval is an error (:class:`IntervalError`), checked by
:func:`check` / :func:`inputs`. Everything is vectorized; no per-element
Python loops.
"""

from __future__ import annotations

import functools
import weakref
from fractions import Fraction

import numpy as np

from ..errors import CertnnError

__all__ = [
    "IntervalError", "ASSUMPTIONS", "uses", "down", "up", "gamma", "check", "inputs", "exact_input",
    "finish", "is_point", "whole_line", "add", "sub", "neg", "mul", "div", "div_pos", "square",
    "abs_", "sqrt", "exp", "log", "log1p", "tanh", "erf", "sigmoid", "softplus", "monotone",
    "midrad", "bilinear", "sum_enclosure", "nonneg_sum_bounds", "exclusive_sum", "freeze",
]

ETA = 2.0 ** -1074          # smallest positive (subnormal) binary64
U = Fraction(1, 2 ** 53)    # unit roundoff of binary64, round to nearest
LIBM_STEPS = 4

ASSUMPTIONS = {
    "ieee754-binary64-rn":
        "NumPy float64 +, -, *, /, sqrt (and the sums inside numpy.sum/cumsum) are IEEE 754 binary64 "
        "operations rounded to nearest with gradual underflow (no flush-to-zero, no extended "
        "precision), and numpy.nextafter returns the adjacent binary64 number",
    "libm-float64-within-4ulp":
        "numpy.exp, numpy.log, numpy.log1p, numpy.tanh, numpy.sin, numpy.cos and scipy.special.erf return, "
        "for every float64 argument, a float64 at most 4 binary64 steps (numpy.nextafter) from the exact value",
    "blas-float64-dot-gamma-n":
        "a float64 matmul (BLAS) computes each output as a sum of its n products in some order with "
        "binary64 multiplications and additions (or FMAs), so its error is at most "
        "gamma_n * sum |terms| + n * 2^-1074 (no Strassen-like algorithm, no reduced precision)",
    "arb-ball-arithmetic":
        "python-flint's arb and arb_series functions (sin, cos, sin_pi, cos_pi, exp, log, sqrt, inv and "
        "their power series) return balls that contain the exact value for every point of the input ball "
        "(Arb's documented guarantee), converted to binary64 intervals by one outward step (rfft/irfft's "
        "DFT coefficients, certnn.control's Taylor models)",
}


# the usual combinations, for ``uses(*...)``
RN = ("ieee754-binary64-rn",)
LIBM = RN + ("libm-float64-within-4ulp",)
BLAS = RN + ("blas-float64-dot-gamma-n",)


class IntervalError(CertnnError, ValueError):
    """An interval input is malformed (NaN, lo > hi, shapes differ) or an op cannot bound it."""


def uses(*names):
    """Decorator: record on a rule the named assumptions (keys of ASSUMPTIONS) its bound rests on."""
    unknown = [n for n in names if n not in ASSUMPTIONS]
    if unknown:
        raise ValueError(f"unknown assumption(s) {unknown}; known: {sorted(ASSUMPTIONS)}")

    def deco(fn):
        fn.assumptions = tuple(names)
        return fn
    return deco


# ---------------------------------------------------------------- rounding and constants

def _next_up(x):
    """np.nextafter(x, +inf), bit for bit (NaN and +inf unchanged, -inf to -max,
    zeros of both signs to the least subnormal), through the bit pattern: a
    float's int64 pattern moves one step up by +1 when the sign bit is clear and
    by -1 when it is set (the patterns of negative floats grow with |x|). About
    twice as fast as nextafter, which runs on the largest arrays of a bound."""
    shape = np.shape(x)
    with np.errstate(invalid="ignore"):                             # signalling NaNs stay NaN
        y = np.asarray(x, np.float64).reshape(-1) + 0.0            # -0 -> +0 (a 1-D copy)
    i = y.view(np.int64)
    s = i >> 63                                                    # 0, or -1 where negative
    s |= 1
    s += i
    out = s.view(np.float64)
    if not np.isfinite(y).all():
        keep = np.isnan(y) | (y == np.inf)
        out[keep] = y[keep]
    return out.reshape(shape) if shape else out[0]


def down(x, k: int = 1):
    """k binary64 steps toward -inf (-inf stays -inf)."""
    x = -np.asarray(x, dtype=np.float64)
    for _ in range(k):
        x = _next_up(x)
    return -x


def up(x, k: int = 1):
    """k binary64 steps toward +inf (+inf stays +inf)."""
    x = np.asarray(x, dtype=np.float64)
    for _ in range(k):
        x = _next_up(x)
    return x


def _ru(q: Fraction) -> float:
    f = float(q)
    return f if Fraction(f) >= q else float(np.nextafter(f, np.inf))


def _rd(q: Fraction) -> float:
    f = float(q)
    return f if Fraction(f) <= q else float(np.nextafter(f, -np.inf))


@functools.lru_cache(maxsize=None)
def gamma(n: int) -> float:
    """A float >= gamma_n = n u / (1 - n u), u = 2^-53 (Higham's constant); n u <= 1/3
    is required, so that gamma_n <= 1/2 (used by ``_grow``)."""
    q = n * U
    if q > Fraction(1, 3):
        raise IntervalError(f"gamma_{n}: contraction too long for the error bound (n u > 1/3)")
    return _ru(q / (1 - q))


@functools.lru_cache(maxsize=None)
def _grow(n: int) -> float:
    """A float >= 1 + 2 gamma_n >= 1 / (1 - gamma_n) (valid as gamma_n <= 1/2)."""
    return _ru(1 + 2 * Fraction(gamma(n)))


@functools.lru_cache(maxsize=None)
def _shrink(n: int) -> float:
    """A float <= 1 - gamma_n <= 1 / (1 + gamma_n)."""
    return _rd(1 - Fraction(gamma(n)))


# ---------------------------------------------------------------- frozen constants

# id -> (weak reference, |a| or None): arrays made by ``freeze``, checked once
_FROZEN: dict = {}


def freeze(a) -> np.ndarray:
    """A read-only float64 copy of ``a`` (a model's weights), validated once.

    Interval rules take the same weights on every call; for a frozen array
    :func:`check` skips its NaN pass and the bilinear rule keeps ``|a|`` instead of
    recomputing it: two passes over each weight matrix per call. The copy lives in
    an immutable ``bytes`` object, so NumPy refuses to make it (or any view of it)
    writable again, and it cannot change while it exists. A copy containing NaN is
    returned unregistered (the rules then reject it)."""
    if _frozen(a):
        return a
    a = np.asarray(a)
    data = a.astype("=f8", order="C", copy=False).tobytes()   # one copy when a is float64 already
    out = np.frombuffer(data, dtype=np.float64).reshape(a.shape)
    with np.errstate(invalid="ignore"):
        if np.isnan(_total(out)) and np.isnan(out).any():
            return out
    key = id(out)
    _FROZEN[key] = (weakref.ref(out, lambda _, k=key: _FROZEN.pop(k, None)), None)
    return out


def _frozen(a) -> bool:
    e = _FROZEN.get(id(a))
    return e is not None and e[0]() is a


ABS_CACHE_BYTES = 64 << 20     # larger weights: |a| recomputed per call, not kept beside a


def _abs(a):
    """``|a|``, kept for a frozen array of at most ABS_CACHE_BYTES."""
    if not _frozen(a) or a.nbytes > ABS_CACHE_BYTES:
        return np.abs(a)
    ref, aw = _FROZEN[id(a)]
    if aw is None:
        aw = np.abs(a)
        aw.setflags(write=False)
        _FROZEN[id(a)] = (ref, aw)
    return aw


# ---------------------------------------------------------------- validation

def check(lo, hi, what: str = "interval"):
    """Validate one interval; return it as float64 arrays. Raises IntervalError on
    NaN, lo > hi or differing shapes. Infinite endpoints are allowed."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.shape != hi.shape:
        raise IntervalError(f"{what}: lower bound shape {lo.shape} differs from upper bound shape {hi.shape}")
    # one exact array (weights): only NaN can be wrong, and one reduction says there is
    # none (a NaN sum can also be +inf + -inf: the comparison below then decides)
    if lo is hi:
        if _frozen(lo):               # validated when frozen
            return lo, hi
        with np.errstate(invalid="ignore"):
            nan_sum = np.isnan(_total(lo))
        if not nan_sum:
            return lo, hi
    if np.all(lo <= hi):              # one pass: a NaN fails the comparison
        return lo, hi
    nan = np.isnan(lo) | np.isnan(hi)
    if nan.any():
        raise IntervalError(f"{what}: NaN in {int(nan.sum())} interval bound(s) "
                            f"(first at index {np.unravel_index(int(np.argmax(nan)), nan.shape)})")
    bad = lo > hi
    i = np.unravel_index(int(np.argmax(bad)), bad.shape)
    raise IntervalError(f"{what}: lower bound above upper bound at {int(bad.sum())} element(s), "
                        f"first at index {i}: lo={lo[i]!r}, hi={hi[i]!r}")


def inputs(op: str, los, his, count: int | None = None):
    """Validate the input intervals of rule ``op``; return two lists of float64 arrays."""
    if len(los) != len(his):
        raise IntervalError(f"{op}: {len(los)} lower bounds but {len(his)} upper bounds")
    if count is not None and len(los) != count:
        raise IntervalError(f"{op}: expected {count} input intervals, got {len(los)}")
    out_lo, out_hi = [], []
    for i, (lo, hi) in enumerate(zip(los, his)):
        lo, hi = check(lo, hi, f"{op}: input {i}")
        out_lo.append(lo)
        out_hi.append(hi)
    return out_lo, out_hi


def exact_input(op: str, lo, hi, what: str):
    """An input that must be exact (lo == hi), e.g. integer class targets; returned as is."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    if lo.shape != hi.shape or not np.array_equal(lo, hi):
        raise IntervalError(f"{op}: {what} must be exact (lower bound == upper bound), got an interval")
    if lo.dtype.kind == "f" and np.isnan(lo).any():
        raise IntervalError(f"{op}: NaN in {what}")
    return lo


def finish(op: str, lo, hi):
    """Final check of a rule's output: float64, same shape, no NaN, lo <= hi.
    A failure here is a bug in the rule (never a property of the input)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.shape != hi.shape:
        lo, hi = np.broadcast_arrays(lo, hi)
        lo, hi = lo.copy(), hi.copy()
    if not np.all(lo <= hi):          # one pass: NaN fails the comparison too
        raise IntervalError(f"{op}: interval rule produced NaN or crossed bounds (internal error)")
    return lo, hi


def is_point(lo, hi) -> bool:
    """True when the interval is a single exact array (lo == hi everywhere)."""
    return lo is hi or (np.shape(lo) == np.shape(hi) and bool(np.array_equal(lo, hi)))


def whole_line(mask, lo, hi):
    """Replace the elements under ``mask`` by (-inf, inf)."""
    if not np.any(mask):
        return lo, hi
    return np.where(mask, -np.inf, lo), np.where(mask, np.inf, hi)


def _fix(lo, hi):
    """NaN lower bound -> -inf, NaN upper bound -> +inf (indeterminate forms): always sound."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if np.isnan(lo).any():
        lo = np.where(np.isnan(lo), -np.inf, lo)
    if np.isnan(hi).any():
        hi = np.where(np.isnan(hi), np.inf, hi)
    return lo, hi


def _quiet(fn):
    """Run ``fn`` with floating-point warnings off: overflow, inf - inf and log(0) are
    expected here and handled explicitly."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapper


# ---------------------------------------------------------------- arithmetic

@_quiet
def add(al, ah, bl, bh):
    return _fix(down(np.add(al, bl)), up(np.add(ah, bh)))


@_quiet
def sub(al, ah, bl, bh):
    return _fix(down(np.subtract(al, bh)), up(np.subtract(ah, bl)))


def neg(lo, hi):
    return -np.asarray(hi, dtype=np.float64), -np.asarray(lo, dtype=np.float64)


def _times(x, y):
    """x * y with 0 * (+-inf) = 0."""
    z = np.multiply(x, y)
    zero = (np.asarray(x) == 0) | (np.asarray(y) == 0)
    return np.where(zero, 0.0, z) if np.any(zero) else z


@_quiet
def mul(al, ah, bl, bh):
    """Product of intervals: the extremes are among the four endpoint products."""
    p = [_times(al, bl), _times(al, bh), _times(ah, bl), _times(ah, bh)]
    lo = np.minimum(np.minimum(p[0], p[1]), np.minimum(p[2], p[3]))
    hi = np.maximum(np.maximum(p[0], p[1]), np.maximum(p[2], p[3]))
    return _fix(down(lo), up(hi))


@_quiet
def div(al, ah, bl, bh):
    """Quotient. A divisor interval containing 0 gives the whole line for that element.
    Otherwise a / b is monotone in each argument on the box, so the extremes are
    among the four endpoint quotients. An inf / inf corner (NaN) stands for
    quotients of large reals of known sign: anything in [0, inf) or (-inf, 0]."""
    pairs = [(al, bl), (al, bh), (ah, bl), (ah, bh)]
    q = [np.divide(x, y) for x, y in pairs]
    sign = [np.sign(x) * np.sign(y) for x, y in pairs]
    lo = functools.reduce(np.minimum, [np.where(np.isnan(x), np.where(s > 0, 0.0, -np.inf), x)
                                       for x, s in zip(q, sign)])
    hi = functools.reduce(np.maximum, [np.where(np.isnan(x), np.where(s < 0, 0.0, np.inf), x)
                                       for x, s in zip(q, sign)])
    lo, hi = _fix(down(lo), up(hi))
    zero = (np.asarray(bl) <= 0) & (np.asarray(bh) >= 0)
    return whole_line(zero, lo, hi)


@_quiet
def div_pos(lo, hi, d):
    """Divide by an exact positive divisor ``d`` (scalar or array)."""
    return _fix(down(np.divide(lo, d)), up(np.divide(hi, d)))


@_quiet
def square(lo, hi):
    """x^2: exact range [min |x|^2, max |x|^2], outward rounded."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    amin = np.where(lo > 0, lo, np.where(hi < 0, -hi, 0.0))
    amax = np.maximum(-lo, hi)
    return np.maximum(down(amin * amin), 0.0), up(amax * amax)


def abs_(lo, hi):
    """|x|: exact, no rounding."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return np.where(lo >= 0, lo, np.where(hi <= 0, -hi, 0.0)), np.maximum(-lo, hi)


@_quiet
def sqrt(lo, hi):
    """Correctly rounded sqrt, increasing. A box reaching below 0 leaves the
    domain: whole line for that element."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    out = (np.maximum(down(np.sqrt(lo)), 0.0), up(np.sqrt(hi)))
    return whole_line(lo < 0, *out)


# ---------------------------------------------------------------- libm (assumed accuracy)

def _libm(fn, lo, hi):
    """Increasing libm function: widen by LIBM_STEPS steps (libm-float64-within-4ulp)."""
    return down(fn(lo), LIBM_STEPS), up(fn(hi), LIBM_STEPS)


@_quiet
def exp(lo, hi):
    l, h = _libm(np.exp, np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
    return np.maximum(l, 0.0), h


@_quiet
def log(lo, hi):
    """log on (0, inf); log(0) = -inf; a box reaching below 0 gives the whole line."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    l, h = _libm(np.log, lo, hi)
    h = np.where(hi == 0, -np.inf, h)
    return whole_line(lo < 0, *_fix(l, h))


@_quiet
def log1p(lo, hi):
    """log1p on (-1, inf); a box reaching below -1 gives the whole line."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    l, h = _libm(np.log1p, lo, hi)
    h = np.where(hi == -1, -np.inf, h)
    return whole_line(lo < -1, *_fix(l, h))


@_quiet
def tanh(lo, hi):
    l, h = _libm(np.tanh, np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
    return np.clip(l, -1.0, 1.0), np.clip(h, -1.0, 1.0)


@_quiet
def erf(lo, hi):
    from scipy.special import erf as _erf
    l, h = _libm(_erf, np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
    return np.clip(l, -1.0, 1.0), np.clip(h, -1.0, 1.0)


def sigmoid(lo, hi):
    """1 / (1 + exp(-x)): x occurs once, so composing the increasing pieces is
    tight up to rounding; exp overflow gives 1/inf = 0, still a lower bound."""
    e = exp(*neg(lo, hi))
    d = add(1.0, 1.0, *e)            # d >= 1 - ulp > 0: no division by an interval with 0
    l, h = div(1.0, 1.0, *d)
    return np.clip(l, 0.0, 1.0), np.clip(h, 0.0, 1.0)


def _softplus_point(x):
    """Enclosure of softplus(x) = max(x, 0) + log1p(exp(-|x|)) at points x."""
    a = np.maximum(x, 0.0)
    t = -np.abs(x)
    q = log1p(*exp(t, t))
    l, h = add(a, a, *q)
    return np.maximum(l, a), h       # softplus(x) >= max(x, 0)


def softplus(lo, hi):
    """log(1 + exp(x)), increasing: bound each endpoint in the overflow-free form."""
    return monotone(_softplus_point, lo, hi)


def monotone(point, lo, hi, increasing: bool = True):
    """Interval image of a monotone function given ``point(x) -> (lower, upper)``,
    an enclosure of f at the points x."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if increasing:
        return point(lo)[0], point(hi)[1]
    return point(hi)[0], point(lo)[1]


# ---------------------------------------------------------------- sums and contractions

def _total(x):
    """The sum of all elements: ``np.add.reduce`` without ``np.sum``'s dispatch
    (these finiteness checks run several times per rule on small arrays)."""
    return np.add.reduce(x, axis=None)


def _up_nonneg(x):
    """One step up for x >= +0 through the bit pattern (positive floats are ordered
    like their int64 patterns): several times faster than nextafter on big arrays.
    +inf and NaN come out NaN; callers map those to inf."""
    return (np.asarray(x, dtype=np.float64).view(np.int64) + 1).view(np.float64)


@_quiet
def midrad(lo, hi):
    """Midpoint m and radius r (rounded up) with [m - r, m + r] containing [lo, hi].
    An element with an infinite endpoint (or a radius that overflows) gets
    m = 0 or the midpoint, and r = inf."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    m = 0.5 * lo
    m += 0.5 * hi                     # no overflow for finite endpoints
    # r >= hi - m and r >= m - lo whatever rounding did to m; the max is >= +0 (the
    # exact differences sum to hi - lo >= 0, and x - x is +0), so a bit step rounds up
    r = _up_nonneg(np.maximum(hi - m, m - lo))
    if not np.isfinite(_total(r)):    # infinite endpoints (inf - inf made NaN) or overflow (or a huge sum)
        unb = ~(np.isfinite(lo) & np.isfinite(hi))
        m = np.where(unb, 0.0, m)
        r = np.where(unb | ~np.isfinite(r), np.inf, r)
    return m, r


def _pad(r, am, g):
    """fl(r + fl(fl(g am) + eta)) >= (r + g am)(1 - u)^3: the product may underflow by
    at most eta/2, which the added eta covers; each rounding then costs a factor (1 - u)
    (additions are exact in the subnormal range). Plain float ops, no nextafter: this
    runs on the largest arrays."""
    t = g * am + ETA
    return t if r is None else r + t


@functools.lru_cache(maxsize=None)
def _tail_constants(n: int):
    """(G1, U1, B) for :func:`_weights_tail`: floats with G1 >= G / (1 - u)^3 (G =
    ``_grow(n + 3)``), U1 >= u / (1 - u)^3 and B >= (3 n + 1) eta / (1 - u), an integer
    multiple of eta (exact)."""
    third = (1 - U) ** 3
    g1 = _ru(Fraction(_grow(n + 3)) / third)
    u1 = _ru(U / third)
    b = (3 * n + 2) * ETA                                   # >= (3n + 1) eta / (1 - u) for n u < 1/3
    return g1, u1, b


def _step_up_inplace(x):
    """Each element of the float64 array ``x`` (finite, no -0) moved one binary64 step
    up, in place, through the int64 pattern as :func:`_next_up` does."""
    i = x.view(np.int64)
    s = i >> 63
    s |= 1
    i += s
    return x


def _weights_tail(c, t, n: int, shift):
    """The enclosure of f(A, B) + shift from c = fl(f(mA, B)) and t = fl(f(P, |B|))
    (B exact, P = fl(rA + fl(fl(g|mA|) + eta)), one term), or None where some value is not
    finite (the general path then marks those elements). Plain float operations whose
    rounding is folded into the constants, then one step outward:

    * ``shift`` (an exact bias): c' = fl(c + shift) is within u|c'| of c + shift;
    * the radius R' = fl(fl(fl(t G1) + fl(|c'| U1)) + B) >= (1 - u)^3 (t G1 + |c'| U1)
      - (1 - u) eta + (1 - u) B >= G (t + n eta) + n eta + u|c'| with the constants of
      :func:`_tail_constants` (each rounding costs a factor 1 - u, a product's underflow
      at most eta / 2; the sums are of nonnegative terms), which is ``bilinear``'s radius
      plus the shift's rounding error;
    * lo = one step below fl(c' - R'), hi = one step above fl(c' + R'). R' >= B > 0, so
      neither difference is -0 and the int64 step is exact.
    """
    g1, u1, b = _tail_constants(n)
    if shift is not None:
        c = c + shift
    rad = t * g1
    if shift is not None:
        a = np.abs(c)
        a *= u1
        rad += a
    rad += b
    hi = c + rad
    neg_lo = np.subtract(rad, c, out=rad)                 # rad is not needed after this
    if not np.isfinite(_total(hi) + _total(neg_lo)):      # a sum of finite values that overflows too: rare
        return None
    lo = np.negative(_step_up_inplace(neg_lo), out=neg_lo)
    return lo, _step_up_inplace(hi)


def _weights_case(f, pair, al, ah, w, n: int, shift):
    """bilinear for an interval A, exact finite weights B and an optional exact shift,
    without masks: None where some value is not finite."""
    ma, ra = midrad(al, ah)
    if not np.isfinite(_total(ra)):                        # unbounded elements (or a huge sum)
        return None
    # No finiteness pass over the weights: P > 0 everywhere (P >= eta), so an infinite
    # or NaN weight makes t, hence the tail's sums, infinite or NaN, and the tail
    # returns None (a weight no output uses cannot change the enclosure).
    aw = _abs(w)
    P = np.abs(ma)                                        # _pad's value, the same roundings in place
    P *= gamma(max(n, 1))
    P += ETA
    P += ra
    c, t = (f(ma, w), f(P, aw)) if pair is None else pair(ma, w, P, aw)
    return _weights_tail(c, t, n, shift)


@_quiet
def bilinear(f, al, ah, bl, bh, n: int, pair=None, shift=None):
    """Enclose f(A, B) for every A in [al, ah] and B in [bl, bh].
    ``pair(A1, B1, A2, B2)``, when given, returns ``(f(A1, B1), f(A2, B2))`` from one
    call (a convolution: one grouped convolution); it is used when B is exact.
    ``shift``, when given, is an exact array (a bias) added to f's value: the
    enclosure is then of f(A, B) + shift, with one rounding step instead of an
    interval ``add`` after.

    ``f`` is a bilinear map each of whose outputs is a sum of at most ``n``
    products A_p B_q (matmul, linear, conv2d without bias), computed in binary64
    in any order; f(|A|, |B|) is then the sum of the |products|. A side with
    al == ah is treated as exact (weights).

    Soundness (midpoint-radius, after Rump). Write A = mA + dA, |dA| <= rA and
    likewise B. Then AB - mA mB = mA dB + dA mB + dA dB, so

        |f(A, B) - f(mA, mB)| <= f(|mA|, rB) + f(rA, |mB| + rB).

    The computed c = fl(f(mA, mB)) is within gamma_n f(|mA|, |mB|) + n eta of
    f(mA, mB) (eta = 2^-1074 covers underflow; blas-float64-dot-gamma-n). So a
    radius R >= f(|mA|, rB + g|mB|) + f(rA, |mB| + rB) + n eta (g >= gamma_n)
    gives [c - R, c + R]. Each f(P, Q) with P, Q >= 0 computed in floats is
    >= (1 - gamma_n) f(P, Q) - n eta, hence f(P, Q) <= (fl + n eta)(1 + 2 gamma_n);
    the nonnegative inputs P, Q are formed in round-to-nearest, costing at most
    three factors (1 - u), so gamma_{n+3} replaces gamma_n there. Where c or R is
    not finite (overflow, infinite endpoints) the element is the whole line:
    overflow breaks the error model, and 0 * inf has no meaning here.
    """
    a_pt, b_pt = is_point(al, ah), is_point(bl, bh)
    if b_pt and not a_pt:                # the common case (weights): a leaner tail, same radius
        out = _weights_case(f, pair, al, ah, np.asarray(bl, dtype=np.float64), n, shift)
        if out is not None:
            return out
    out = _bilinear_general(f, al, ah, bl, bh, n, pair, a_pt, b_pt)
    return out if shift is None else add(*out, shift, shift)


def _bilinear_general(f, al, ah, bl, bh, n, pair, a_pt, b_pt):
    ma, ra = (np.asarray(al, dtype=np.float64), None) if a_pt else midrad(al, ah)
    mb, rb = (np.asarray(bl, dtype=np.float64), None) if b_pt else midrad(bl, bh)
    if a_pt and not np.isfinite(ma).all():
        ma, ra = midrad(ma, ma)
    if b_pt and not np.isfinite(mb).all():
        mb, rb = midrad(mb, mb)
    g = gamma(max(n, 1))
    ama, amb = np.abs(ma), np.abs(mb)
    if rb is None:                    # B exact: f(|mA|, g|mB|) + f(rA, |mB|) = f(rA + g|mA|, |mB|)
        if pair is None:
            c, t = f(ma, mb), f(_pad(ra, ama, g), amb)
        else:
            c, t = pair(ma, mb, _pad(ra, ama, g), amb)
        terms = [t]
    else:
        c = f(ma, mb)
        if ra is None:                # A exact
            terms = [f(ama, _pad(rb, amb, g))]
        else:
            terms = [f(ama, _pad(rb, amb, g)), f(ra, amb + rb)]
    s = terms[0] if len(terms) == 1 else _up_nonneg(terms[0] + terms[1])
    # the float inputs of the terms are >= (1 - u)^3 times the exact ones (see _pad),
    # so (1 - gamma_n)(1 - u)^3 >= 1 - gamma_{n+3} covers them together with the sums
    slack = len(terms) * n * ETA
    rad = _up_nonneg(_up_nonneg(_up_nonneg(s + slack) * _grow(n + 3)) + n * ETA)
    bad = ~np.isfinite(c) | ~(rad < np.inf)       # rad NaN: an inf met a 0 or overflowed
    lo, hi = down(c - rad), up(c + rad)
    return whole_line(bad, lo, hi)


@_quiet
def sum_enclosure(fsum, lo, hi, n: int):
    """Enclose fsum(x) for x in [lo, hi], where fsum is a linear map each of whose
    outputs is a sum of at most ``n`` elements of x (coefficients 1, zero padding
    allowed), computed in binary64 in any order (numpy.sum's pairwise sum, a loop).

    Soundness: fsum is increasing, so the range is [fsum(lo), fsum(hi)] exactly;
    a float sum of n terms errs by at most gamma_n sum |x_i|, and
    sum |x_i| <= fl(sum a_i) (1 + 2 gamma_n) with a_i = max(|lo_i|, |hi_i|).
    """
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    g = gamma(max(n, 1))
    a = fsum(np.maximum(np.abs(lo), np.abs(hi)))
    err = up(up(a * _grow(n)) * g)
    return _fix(down(fsum(lo) - err), up(fsum(hi) + err))


@_quiet
def nonneg_sum_bounds(s, n: int):
    """Given s = fl(sum of at most n nonnegative floats), bounds of the exact sum:
    fl <= (1 + gamma_n) sum and fl >= (1 - gamma_n) sum."""
    s = np.asarray(s, dtype=np.float64)
    return down(s * _shrink(n)), up(s * _grow(n))


def exclusive_sum(t, axis: int = -1):
    """fl(sum_{j != i} t_j) along ``axis`` as prefix + suffix sums (no cancellation):
    for t >= 0 each output is a float sum of n - 1 nonnegative terms, so
    :func:`nonneg_sum_bounds` with n = t.shape[axis] bounds the exact value."""
    t = np.moveaxis(np.asarray(t, dtype=np.float64), axis, -1)
    z = np.zeros(t.shape[:-1] + (1,))
    pre = np.concatenate([z, np.cumsum(t[..., :-1], axis=-1)], axis=-1)
    suf = np.concatenate([np.cumsum(t[..., :0:-1], axis=-1)[..., ::-1], z], axis=-1)
    return np.moveaxis(pre + suf, -1, axis)


# ---------------------------------------------------------------- constants used by ops

def _sqrt_bounds(q: Fraction) -> tuple[float, float]:
    """Floats lo <= sqrt(q) <= hi, adjacent (or equal when sqrt(q) is a float), by exact comparison."""
    c = float(np.sqrt(float(q)))
    while Fraction(c) ** 2 > q:
        c = float(np.nextafter(c, -np.inf))
    while Fraction(float(np.nextafter(c, np.inf))) ** 2 <= q:
        c = float(np.nextafter(c, np.inf))
    return (c, c) if Fraction(c) ** 2 == q else (c, float(np.nextafter(c, np.inf)))


INV_SQRT2 = _sqrt_bounds(Fraction(1, 2))
"""(lo, hi): floats enclosing 1/sqrt(2) = sqrt(1/2)."""
