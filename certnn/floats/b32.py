"""Bit-exact IEEE-754 binary32 kernels: one ``b32_<op>`` per op of the table.

Each kernel has the signature of the op's ``real`` rule plus two optional
keywords, ``order`` (``"sequential"`` or ``"pairwise"``, for reductions) and
``backend`` (``"numba"`` or ``"numpy"``); it takes float32 arrays (integer
class indices for ``cross_entropy``'s target) and returns float32. The result
is a function of the inputs, the attributes and ``order`` alone: not of the
backend, the BLAS library, the number of threads or the machine (the named
assumptions in :data:`ASSUMPTIONS` being met). ``KERNELS`` maps op names to
kernels; :func:`semantics_table` is the per-op table of ``docs/binary32.md``.

Semantics, in short (docs/binary32.md has the full table):

* Basic arithmetic (add, sub, mul, div, sqrt, neg, abs) is IEEE-754 binary32
  with round-to-nearest-even and subnormals: NumPy's float32 ufuncs, with no
  float64 intermediate and no fused multiply-add.
* A *sum* of terms t_0..t_{n-1} (n >= 1) is, in the default ``sequential``
  order, ((t_0 + t_1) + t_2) + ... + t_{n-1}: the accumulator starts at the
  first term, not at +0.0 (so a sum of -0.0 terms is -0.0); the empty sum is
  +0.0. In ``pairwise`` order it is P(t_0..t_{n-1}) with P(t) = t for one
  term and P(t_0..t_{n-1}) = P(t_0..t_{h-1}) + P(t_h..t_{n-1}) where h is the
  largest power of two < n (equivalently: add adjacent pairs level by level,
  an odd last element moving up unchanged). Every term that is a product is
  the binary32-rounded product (no FMA).
* Contractions: matmul/linear sum over k = 0..K-1; conv2d over (c, p, q) in
  that nesting (input channel, kernel row, kernel column), padding positions
  included as +0.0 inputs; the bias is added last: y = sum + b.
* Reductions over several axes take the reduced elements in row-major (C)
  order of the reduced axes (in increasing axis order); mean = sum / n with n
  converted to binary32 (exact for n < 2**24, else rounded to nearest).
* Transcendentals (exp, log, tanh, sigmoid, gelu, softplus, and the exp/log
  inside softmax, log_softmax, cross_entropy) are *correctly rounded*: the
  binary32 value nearest to the exact real function value (ties to even),
  computed in float64 and rounded once, except within a guard window around
  binary32 rounding boundaries, where MPFR (gmpy2) decides with a Ziv loop.
  sigmoid, gelu and softplus are correctly rounded as whole functions, not as
  a sequence of binary32 steps.
* max / maximum / minimum / max_pool2d follow IEEE 754-2019 maximum/minimum:
  NaN propagates, and -0.0 < +0.0 (max(-0, +0) = +0, min(-0, +0) = -0).
* NaN results are NaN; their sign and payload are not specified (x86 and ARM
  differ); :func:`canonical_nan` (applied by ``certnn.run``) makes them all
  the quiet NaN 0x7FC00000.
"""

from __future__ import annotations

import functools
import math
import os
from contextlib import contextmanager

import numpy as np

from ..errors import CertnnError
from . import b32_numba

F32 = np.float32
ORDERS = ("sequential", "pairwise")
BACKENDS = ("numba", "numpy")

ASSUMPTIONS = {
    "hardware-float32-elementwise-ieee":
        "NumPy's float32 add/sub/mul/div/sqrt and its float64->float32 conversion are IEEE-754 "
        "correctly rounded (nearest-even) with subnormals honoured (no FTZ/DAZ); checked at every "
        "certnn.run by check_float_env() and tested against MPFR",
    "float64-libm-relerr":
        "NumPy's float64 exp/log/tanh/log1p (and the float64 sigmoid/softplus formulas built on "
        "them) are within a relative 2**-44 (512 ulp of binary64) of the exact value; libm promises "
        "about 1 ulp; tested against MPFR",
    "scipy-erfc-relerr":
        "the float64 gelu formula 0.5*x*scipy.special.erfc(-x/sqrt(2)) is within a relative 2**-36 "
        "of the exact value; tested against MPFR",
    "mpfr-correct-rounding":
        "MPFR (through gmpy2) returns correctly rounded results at the requested precision",
    "numpy-accumulate-sequential":
        "numpy.add.accumulate in float32 adds in index order (the NumPy fallback of sequential sums); "
        "tested against a scalar loop",
    "numba-no-reassociation-no-fma":
        "numba njit without fastmath neither reassociates float additions nor contracts a*b+c "
        "into an FMA; tested by bit-equality with the NumPy fallback on many shapes",
}


class FloatEnvironmentError(CertnnError):
    """The float environment breaks the binary32 assumptions (FTZ/DAZ, rounding mode)."""


class Binary32TypeError(CertnnError, TypeError):
    """A binary32 kernel got an array that is not float32."""


# ---------------------------------------------------------------- configuration

def _default_backend() -> str:
    env = os.environ.get("CERTNN_B32_BACKEND", "").strip().lower()
    if env in BACKENDS:
        if env == "numba" and not b32_numba.AVAILABLE:
            return "numpy"
        return env
    return "numba" if b32_numba.AVAILABLE else "numpy"


_CFG = {"order": "sequential", "backend": _default_backend(), "threads": 1}


def configure(order: str | None = None, backend: str | None = None, threads: int | None = None) -> dict:
    """Set the module defaults; return the previous ones. ``threads`` > 1 lets the
    numba matmul split rows between threads (results are identical)."""
    prev = dict(_CFG)
    if order is not None:
        _CFG["order"] = _check_order(order)
    if backend is not None:
        _CFG["backend"] = _check_backend(backend)
    if threads is not None:
        if int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        _CFG["threads"] = int(threads)
    return prev


@contextmanager
def settings(order: str | None = None, backend: str | None = None, threads: int | None = None):
    prev = configure(order, backend, threads)
    try:
        yield
    finally:
        _CFG.update(prev)


def _check_order(order) -> str:
    if order is None:
        return _CFG["order"]
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    return order


def _check_backend(backend) -> str:
    if backend is None:
        return _CFG["backend"]
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "numba" and not b32_numba.AVAILABLE:
        raise ValueError("backend 'numba' requested but numba is not installed")
    return backend


# ---------------------------------------------------------------- helpers

def as_f32(x, op: str, what: str = "input") -> np.ndarray:
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        return x
    if isinstance(x, np.float32):
        return np.asarray(x)
    dt = getattr(x, "dtype", type(x).__name__)
    raise Binary32TypeError(f"binary32 kernel '{op}': {what} must be a float32 array, got {dt} "
                            f"(convert explicitly: rounding to binary32 is part of the semantics)")


def canonical_nan(y: np.ndarray) -> np.ndarray:
    """Every NaN of ``y`` replaced by the quiet NaN 0x7FC00000 (a copy only if needed)."""
    y = np.asarray(y)
    if y.dtype == np.float32:
        nan = np.isnan(y)
        if nan.any():
            y = np.where(nan, F32(np.nan), y)
    return y


def check_float_env() -> None:
    """Raise FloatEnvironmentError unless float32 arithmetic rounds to nearest-even
    and honours subnormals (no flush-to-zero, no denormals-are-zero)."""
    a = np.full(16, 2.0 ** -126, F32)
    b = np.full(16, 2.0 ** -149, F32)
    one = np.ones(16, F32)
    ok = (np.all(a * F32(0.5) == F32(2.0 ** -127))            # FTZ would give 0
          and np.all(b * F32(2) == F32(2.0 ** -148))           # DAZ would give 0
          and np.all(one + F32(2.0 ** -24) == one)              # tie -> even
          and np.all(one + F32(1.5 * 2.0 ** -24) == F32(1 + 2.0 ** -23))   # nearest
          and np.all(-one - F32(1.5 * 2.0 ** -24) == F32(-1 - 2.0 ** -23)))
    if not ok:
        raise FloatEnvironmentError(
            "the float environment is not IEEE round-to-nearest with subnormals (a library may have "
            "set flush-to-zero/denormals-are-zero): binary32 results would not be the documented ones")


# ---------------------------------------------------------------- sums

def _pairwise_levels(buf: np.ndarray) -> np.ndarray:
    """Pairwise tree over axis 0 (K >= 1) by levels; returns the root (shape buf.shape[1:])."""
    while buf.shape[0] > 1:
        n = buf.shape[0]
        h = n // 2
        nxt = buf[0:2 * h:2] + buf[1:2 * h:2]
        if n % 2:
            nxt = np.concatenate([nxt, buf[n - 1:n]])
        buf = nxt
    return buf[0]


def colsum(X: np.ndarray, order: str | None = None, backend: str | None = None) -> np.ndarray:
    """Sum over axis 0 of the 2-D float32 array X (K, R), one sum per column, in
    the documented order. K = 0 gives +0.0."""
    order, backend = _check_order(order), _check_backend(backend)
    X = as_f32(X, "sum")
    K, R = X.shape
    if K == 0:
        return np.zeros(R, F32)
    if K == 1:
        return X[0].copy()
    if backend == "numba":
        return b32_numba.colsum(X, order)
    if order == "sequential":
        return np.add.accumulate(X, axis=0)[-1].copy()
    return np.ascontiguousarray(_pairwise_levels(X))


def _reduce_axes(x: np.ndarray, ax: tuple[int, ...]):
    """x rearranged to (K, R): the reduced axes (increasing) first, in C order."""
    ax = tuple(sorted(ax))
    rest = tuple(i for i in range(x.ndim) if i not in ax)
    K = math.prod(x.shape[a] for a in ax)
    R = math.prod(x.shape[a] for a in rest)
    return np.transpose(x, ax + rest).reshape(K, R), K, rest


def sum_axes(x, ax, keepdims, order, backend):
    X2, K, rest = _reduce_axes(x, ax)
    s = colsum(X2, order, backend)
    if keepdims:
        shape = tuple(1 if i in ax else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(x.shape[i] for i in rest)
    return s.reshape(shape), K


def rowsum(X: np.ndarray, order=None, backend=None) -> np.ndarray:
    """Sum over axis 1 of X (R, K): one sum per row, terms in column order."""
    return colsum(np.ascontiguousarray(X.T), order, backend)


def count32(n: int):
    """n converted to binary32 (exact below 2**24, else nearest-even)."""
    return F32(float(n))


def sum_stack(terms: list, order=None, backend=None) -> np.ndarray:
    """Sum of a list of same-shape float32 arrays, elementwise, in list order."""
    shape = terms[0].shape
    X = np.stack([np.asarray(t, F32).reshape(-1) for t in terms])
    return colsum(X, order, backend).reshape(shape)


# ---------------------------------------------------------------- matmul core

def matmul2d(A: np.ndarray, B: np.ndarray, order=None, backend=None) -> np.ndarray:
    """A (M, K) @ B (K, N) in binary32: C[i, j] = sum over k of RN(A[i,k] * B[k,j])
    in the documented order (no FMA)."""
    order, backend = _check_order(order), _check_backend(backend)
    A, B = as_f32(A, "matmul"), as_f32(B, "matmul")
    M, K = A.shape
    N = B.shape[1]
    if K == 0 or M == 0 or N == 0:
        return np.zeros((M, N), F32)
    if backend == "numba":
        return b32_numba.matmul(A, B, order, _CFG["threads"])
    A = np.ascontiguousarray(A)
    B = np.ascontiguousarray(B)
    if order == "sequential":
        C = A[:, 0:1] * B[0]
        tmp = np.empty_like(C)
        for k in range(1, K):
            np.multiply(A[:, k:k + 1], B[k], out=tmp)
            np.add(C, tmp, out=C)
        return C
    # pairwise: a binary counter of complete subtrees (level -> partial sum)
    stack: dict[int, np.ndarray] = {}
    for k in range(K):
        t = A[:, k:k + 1] * B[k]
        lv = 0
        while lv in stack:
            t = stack.pop(lv) + t
            lv += 1
        stack[lv] = t
    levels = sorted(stack)        # ascending: smallest (rightmost) subtree first
    acc = stack[levels[0]]
    for lv in levels[1:]:
        acc = stack[lv] + acc
    return acc


# ---------------------------------------------------------------- elementwise

def b32_add(a, b, order=None, backend=None):
    return np.add(as_f32(a, "add"), as_f32(b, "add"))


def b32_sub(a, b, order=None, backend=None):
    return np.subtract(as_f32(a, "sub"), as_f32(b, "sub"))


def b32_mul(a, b, order=None, backend=None):
    return np.multiply(as_f32(a, "mul"), as_f32(b, "mul"))


def b32_div(a, b, order=None, backend=None):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(as_f32(a, "div"), as_f32(b, "div"))


def b32_neg(a, order=None, backend=None):
    return np.negative(as_f32(a, "neg"))


def b32_abs(x, order=None, backend=None):
    return np.abs(as_f32(x, "abs"))


def b32_sqrt(x, order=None, backend=None):
    with np.errstate(invalid="ignore"):
        return np.sqrt(as_f32(x, "sqrt"))


def _max2(a, b):
    """IEEE 754-2019 maximum: NaN propagates, +0 > -0."""
    y = np.maximum(a, b)
    z = (a == 0) & (b == 0)
    if np.any(z):
        y = np.where(z, a + b, y)          # (-0)+(-0) = -0, any +0 gives +0
    return y


def _min2(a, b):
    y = np.minimum(a, b)
    z = (a == 0) & (b == 0)
    if np.any(z):
        y = np.where(z, -((-a) + (-b)), y)  # -0 if either is -0
    return y


def b32_maximum(a, b, order=None, backend=None):
    return _max2(as_f32(a, "maximum"), as_f32(b, "maximum"))


def b32_minimum(a, b, order=None, backend=None):
    return _min2(as_f32(a, "minimum"), as_f32(b, "minimum"))


def b32_relu(x, order=None, backend=None):
    y = np.maximum(as_f32(x, "relu"), F32(0))
    y += F32(0)                             # -0 -> +0; NaN stays NaN
    return y


def b32_leaky_relu(x, order=None, backend=None, *, negative_slope=0.01):
    x = as_f32(x, "leaky_relu")
    return np.where(x > 0, x, F32(negative_slope) * x)


# ---------------------------------------------------------------- transcendentals

_INV_SQRT2 = 0.7071067811865476   # float64 nearest to 1/sqrt(2)
_TWO128 = 2.0 ** 128


def _sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus64(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _gelu64(x):
    from scipy.special import erfc
    y = 0.5 * x * erfc(-x * _INV_SQRT2)
    return np.where(x == -np.inf, -0.0, y)   # the limit (the formula gives -inf * 0 = NaN)


_F64 = {"exp": np.exp, "log": np.log, "tanh": np.tanh,
        "sigmoid": _sigmoid64, "softplus": _softplus64, "gelu": _gelu64}

# relative guard windows: float64 results closer than |y| * window to a binary32
# rounding boundary are decided by MPFR (see ASSUMPTIONS)
RELWIN = {"exp": 2.0 ** -44, "log": 2.0 ** -44, "tanh": 2.0 ** -44,
          "sigmoid": 2.0 ** -44, "softplus": 2.0 ** -44, "gelu": 2.0 ** -36}


def _mp_sigmoid(v):
    import gmpy2
    return 1 / (1 + gmpy2.exp(-v))


def _mp_softplus(v):
    import gmpy2
    return v + gmpy2.log1p(gmpy2.exp(-v)) if v > 0 else gmpy2.log1p(gmpy2.exp(v))


def _mp_gelu(v):
    import gmpy2
    return v / 2 * gmpy2.erfc(-v / gmpy2.sqrt(2))


def _mp_fn(name):
    import gmpy2
    return {"exp": gmpy2.exp, "log": gmpy2.log, "tanh": gmpy2.tanh, "sigmoid": _mp_sigmoid,
            "softplus": _mp_softplus, "gelu": _mp_gelu}[name]


def mpfr_binary32(name: str, x: float) -> float:
    """The correctly rounded binary32 value of function ``name`` at ``x`` (a finite
    binary32 number given as a float), by a Ziv loop in MPFR: evaluate at
    precision p with a bound of 2**12 ulps on the evaluation error, and stop
    when both ends of the error interval round to the same binary32 number."""
    import gmpy2
    fn = _mp_fn(name)
    c32 = gmpy2.ieee(32)
    for prec in (96, 192, 384, 768, 1536, 3072):
        with gmpy2.context(precision=prec, emin=-(2 ** 30), emax=2 ** 30):
            v = fn(gmpy2.mpfr(x))
            err = abs(v) * gmpy2.mpfr(2) ** (12 - prec)
            lo, hi = v - err, v + err
        rlo, rhi = float(c32.plus(lo)), float(c32.plus(hi))
        if rlo == rhi:
            return float(c32.plus(v))
    return float(c32.plus(v))   # an exact rounding boundary (not met for these functions)


def _hard_mask(y64: np.ndarray, r: np.ndarray, relwin: float) -> np.ndarray:
    """Where float64 y64 lies within |y64| * relwin of a binary32 rounding boundary
    (a midpoint between r = RN32(y64) and a neighbour, or the overflow threshold)."""
    fin = np.isfinite(y64)
    r64 = r.astype(np.float64)
    r64 = np.where(np.isinf(r64), np.copysign(_TWO128, r64), r64)
    up = np.nextafter(r, F32(np.inf)).astype(np.float64)
    dn = np.nextafter(r, F32(-np.inf)).astype(np.float64)
    up = np.where(np.isinf(up), _TWO128, up)
    dn = np.where(np.isinf(dn), -_TWO128, dn)
    w = np.abs(y64) * relwin
    near = (np.abs(y64 - 0.5 * (r64 + up)) <= w) | (np.abs(y64 - 0.5 * (r64 + dn)) <= w)
    return fin & near


def _round_once(name: str, x: np.ndarray):
    """float64 evaluation of ``name`` and its one rounding to binary32 (no fallback)."""
    with np.errstate(all="ignore"):
        y64 = _F64[name](x.astype(np.float64))
        r = np.asarray(y64.astype(F32))
    return np.asarray(y64), r


def correctly_rounded(name: str, x: np.ndarray) -> np.ndarray:
    """The correctly rounded binary32 values of ``name`` (exp, log, tanh, sigmoid,
    softplus, gelu) at the float32 array x."""
    x = as_f32(x, name)
    y64, r = _round_once(name, x)
    with np.errstate(all="ignore"):
        hard = _hard_mask(y64, r, RELWIN[name])
    if hard.any():
        r = np.array(r, copy=True)
        flat_r, flat_x = r.reshape(-1), x.reshape(-1)
        for i in np.flatnonzero(hard.reshape(-1)):
            flat_r[i] = mpfr_binary32(name, float(flat_x[i]))
    return r


def b32_exp(x, order=None, backend=None):
    return correctly_rounded("exp", x)


def b32_log(x, order=None, backend=None):
    return correctly_rounded("log", x)


def b32_tanh(x, order=None, backend=None):
    return correctly_rounded("tanh", x)


def b32_sigmoid(x, order=None, backend=None):
    return correctly_rounded("sigmoid", x)


def b32_softplus(x, order=None, backend=None):
    return correctly_rounded("softplus", x)


def b32_gelu(x, order=None, backend=None):
    return correctly_rounded("gelu", x)


# ---------------------------------------------------------------- reductions

def max_reduce(x, ax, keepdims):
    """IEEE maximum over the axes ``ax`` (NaN propagates, +0 > -0)."""
    y = np.asarray(np.max(x, axis=ax, keepdims=keepdims))
    zero = y == 0
    if zero.any():
        pos = np.asarray(np.any((x == 0) & ~np.signbit(x), axis=ax, keepdims=keepdims))
        y = np.where(zero, np.where(pos, F32(0), F32(-0.0)), y)
    return y


# ---------------------------------------------------------------- contractions

# ---------------------------------------------------------------- pooling

# ---------------------------------------------------------------- normalisation

# ---------------------------------------------------------------- softmax family

# ---------------------------------------------------------------- shape ops (exact)

KERNELS = {
    "add": b32_add, "sub": b32_sub, "mul": b32_mul, "div": b32_div, "neg": b32_neg,
    "abs": b32_abs, "sqrt": b32_sqrt, "maximum": b32_maximum, "minimum": b32_minimum,
    "relu": b32_relu, "leaky_relu": b32_leaky_relu,
    "exp": b32_exp, "log": b32_log, "tanh": b32_tanh, "sigmoid": b32_sigmoid,
    "gelu": b32_gelu, "softplus": b32_softplus,
    }




def ieee(fn):
    """Run ``fn`` with NumPy's float warnings off: overflow, underflow, division
    by zero and invalid operations have their IEEE results; they are not errors."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapper


for _name in list(KERNELS):
    KERNELS[_name] = globals()[f"b32_{_name}"] = ieee(KERNELS[_name])
matmul2d, colsum, rowsum, sum_stack, correctly_rounded = (
    ieee(f) for f in (matmul2d, colsum, rowsum, sum_stack, correctly_rounded))
del _name


# ---------------------------------------------------------------- the semantics table

_HW = ("hardware-float32-elementwise-ieee",)
_SUM = _HW + ("numpy-accumulate-sequential", "numba-no-reassociation-no-fma")
_CR = _HW + ("float64-libm-relerr", "mpfr-correct-rounding")

# op -> (binary32 semantics, how it is checked, assumptions)
SEMANTICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "add, sub, mul, div": (
        "RN(a op b), IEEE-754 binary32, nearest-even, subnormals, NumPy broadcasting",
        "MPFR at binary32 (random bit patterns + specials); equals the float32 real rule", _HW),
    "neg, abs": ("sign flip / sign clear (exact, NaN too)", "bit patterns", ()),
    "sqrt": ("RN(sqrt(x)); sqrt(-0) = -0, sqrt(x < 0) = NaN", "MPFR at binary32", _HW),
    "maximum, minimum": (
        "IEEE 754-2019 maximum/minimum: NaN propagates, -0 < +0 (exact)",
        "special cases, equals NumPy off zero ties", ()),
    "relu": ("x if x > 0, NaN if x is NaN, else +0.0 (relu(-0) = +0)", "specials", ()),
    "leaky_relu": ("x if x > 0 else RN(RN32(negative_slope) * x)", "equals the float32 real rule", _HW),
    "exp, log, tanh": (
        "correctly rounded (nearest-even) value of the real function; IEEE special values "
        "(log(0) = -inf, log(x < 0) = NaN, exp overflow = inf)",
        "MPFR (gmpy2, precision 24, binary32 exponent range, subnormalize) on 10^5 random inputs "
        "each + edge cases: 0 mismatches", _CR),
    "sigmoid, softplus": (
        "correctly rounded value of 1/(1+e^-x), log(1+e^x) as whole functions (not binary32 steps); "
        "limits at +-inf", "MPFR on 10^5 random inputs each + edge cases: 0 mismatches", _CR),
    "gelu": (
        "correctly rounded value of (x/2)(1 + erf(x/sqrt 2)); gelu(-inf) = -0 (the limit)",
        "MPFR on 10^5 random inputs + edge cases: 0 mismatches", _CR + ("scipy-erfc-relerr",)),
    "sum": (
        "sum of the reduced elements taken in C order of the reduced axes; order = sequential "
        "(default) or pairwise; empty sum +0.0", "scalar np.float32 loop; pairwise tree; numba == NumPy",
        _SUM),
    "mean": ("sum (as above), then one RN division by RN32(n)", "scalar loop", _SUM),
    "max": ("IEEE maximum over the reduced elements (exact)", "specials", ()),
    "matmul, linear": (
        "y[i,j] = sum over k = 0..K-1 of RN(a[i,k] * b[k,j]) in the order, no FMA; linear adds "
        "the bias last: RN(sum + b[j]); batch dims of matmul broadcast",
        "scalar np.float32 loop; numba == NumPy loop on many shapes; BLAS threads 1 vs 2", _SUM),
    "conv2d": (
        "y = RN(sum over (c, p, q), c-major then kernel row then column, of RN(w * xpad)) + b, "
        "padding positions are +0.0 inputs (their products are in the sum)",
        "scalar loop; numba == NumPy", _SUM),
    "avg_pool2d": (
        "sum over the window positions (p-major, padding +0.0 included) in the order, then one RN "
        "division by the divisor (kH*kW, or the real-element count)", "scalar loop; equals the float32 "
        "real rule (sequential)", _SUM),
    "max_pool2d": ("IEEE maximum over the window, padding -inf (exact)", "equals the real rule off "
                   "zero ties", ()),
    "batch_norm": (
        "r = RN(1 / RN(sqrt(RN(var + RN32(eps))))); y = RN(RN(RN(x - mean) * RN(r * w)) + bias)",
        "equals the float32 real rule bit for bit", _HW),
    "batch_norm_train": (
        "layer_norm's steps over each channel's elements (C order over (n, *spatial)): xhat = RN(xc*r), "
        "y = RN(RN(xhat*w_c) + b_c)", "scalar loop", _SUM),
    "layer_norm": (
        "d = RN(x - x_0) (x_0 the slice's first element), mu = sum(d)/n, xc = RN(d - mu), "
        "var = sum(RN(xc*xc))/n (sums in the order, C order over the normalised axes), "
        "r = RN(1/RN(sqrt(RN(var + RN32(eps))))), y = RN(RN(RN(xc*r)*w) + b)",
        "scalar loop", _SUM),
    "softmax": (
        "m = IEEE max, z = RN(x - m), e = exp32(z) (correctly rounded), s = sum(e) in the order, "
        "y = RN(e / s)", "scalar loop over the kernels", _SUM + _CR[1:]),
    "log_softmax": ("z, s as in softmax; y = RN(z - log32(s))", "scalar loop", _SUM + _CR[1:]),
    "cross_entropy": (
        "per row: z, s as in softmax, l = RN(log32(s) - z[target]) (+0.0 on ignored rows); 'sum' "
        "sums l over all rows in the order, 'mean' divides that by RN32(max(V, 1))",
        "scalar loop", _SUM + _CR[1:]),
    "mse": ("d = RN(p - t), l = RN(d*d); 'sum' = sum in C order, 'mean' = sum / RN32(n)",
            "scalar loop", _SUM),
    "reshape, flatten, transpose, concat, slice": ("data movement (exact)", "equals the real rule", ()),
    "pad": ("data movement (exact); the padding is RN32(value)", "equals the real rule on float32", ()),
    "embedding": ("gather of weight rows (exact)", "equals the real rule", ()),
    "dropout": ("RN(x * RN32(1/(1-p))) where kept, +0.0 where dropped", "equals the float32 real rule", _HW),
    "where": ("the selected input's bits (exact; the branch not taken has no effect)", "equals the real rule", ()),
    "rms_norm": (
        "ms = sum(RN(x*x))/n in the order (C order over the normalised axes), "
        "r = RN(1/RN(sqrt(RN(ms + RN32(eps))))), y = RN(RN(x*r)*w)", "scalar loop", _SUM),
    "masked_softmax": (
        "softmax over the kept entries (IEEE max over kept, z = RN(x - m), e = exp32(z), s = sum(e) in the "
        "order with +0.0 for masked entries, y = RN(e / s)); masked entries and fully masked rows are +0.0",
        "scalar loop over the kernels", _SUM + _CR[1:]),
    "selective_scan": (
        "h_0 = +0.0; per step a = exp32(RN(delta A)), u = RN(delta x), h = RN(RN(a h) + RN(u B)), "
        "y = sum over n of RN(h C) in the order", "scalar loop", _SUM + _CR[1:]),
    "rfft, irfft": (
        "one matrix product (as matmul) with the DFT coefficients cos(2 pi j/n), -sin(2 pi j/n) (inverse: "
        "times c_k/n) correctly rounded to binary32 (Arb balls decide the rounding); sums over t (inverse: "
        "over (k, re/im)) in the order", "scalar loop; coefficients against mpmath", _SUM),
    "complex_mul": ("re = RN(RN(a_re b_re) - RN(a_im b_im)), im = RN(RN(a_re b_im) + RN(a_im b_re))",
                    "equals the float32 real rule", _HW),
    "complex_matmul": ("the real matmul of the blocks [a_re a_im] and [[b_re b_im], [-b_im b_re]]: 2k products "
                       "per output, real parts of a first, in the order", "scalar loop", _SUM),
}


def semantics_table() -> str:
    """The markdown table of docs/binary32.md (generated here so code and docs agree)."""
    lines = ["| op | binary32 semantics (order, rounding, guarantee) | how it is checked | assumptions |",
             "|---|---|---|---|"]
    for op, (sem, how, assume) in SEMANTICS.items():
        lines.append(f"| {op} | {sem} | {how} | {', '.join(f'`{a}`' for a in assume) or '-'} |")
    return "\n".join(lines)


def ops_in_table() -> set[str]:
    return {o.strip() for k in SEMANTICS for o in k.split(",")}
