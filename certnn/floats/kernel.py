"""Reference IEEE 754-2019 kernel: values are bit patterns (Python ints), every
operation is computed exactly with integers and then rounded ONCE.

Calls look like ``add(fmt, x, y, rm=RNE, flags=None)``: ``fmt`` a
:class:`~.formats.Format` (or its name), operands bit patterns (``int`` or
NumPy integers), the result a bit pattern (``int``).

Semantics (all formats, all operations):

* Rounding: :class:`Rounding` -- RNE (nearest, ties to even), RNA (nearest,
  ties away from zero), RTZ, RUP (toward +inf), RDN (toward -inf).
* NaN policy: every operation that delivers a NaN delivers the format's
  canonical quiet NaN ``fmt.qnan`` (positive sign; binary32 ``0x7FC00000``,
  binary16 ``0x7E00``, bfloat16 ``0x7FC0``, e5m2 ``0x7E``, e4m3 ``0x7F``); NaN
  payloads are never propagated. A signalling NaN operand (IEEE-style formats:
  top fraction bit clear) signals *invalid*; a quiet NaN operand signals
  nothing. ``neg``/``abs_``/``copysign`` are bit operations and keep payloads.
* Signed zeros: an exact zero sum/difference of operands of opposite sign (or
  cancellation) is +0, except -0 under RDN; (+0)+(+0)=+0, (-0)+(-0)=-0;
  products/quotients get the XOR of the signs; sqrt(-0) = -0; a nonzero result
  that rounds to zero keeps its sign.
* Flags (:class:`Flags`, accumulated with ``|=`` when a ``flags`` object is
  passed): invalid (0*inf, inf-inf, 0/0, inf/inf, sqrt(<0), fma(0,inf,c) even
  when c is a quiet NaN, sNaN operand, ordered comparison with a NaN, inf to a
  format without inf), divbyzero (finite nonzero / 0), overflow (the result
  rounded with unbounded exponent range exceeds the largest finite value),
  underflow (result tiny AND inexact; tininess is detected AFTER rounding: the
  result rounded to p bits with unbounded exponent range is nonzero and below
  2**emin in magnitude), inexact.
* Overflow delivers +-inf or +-max according to the rounding direction; in a
  format without infinities a would-be infinity is the NaN (``saturate=True``
  formats give +-max instead), as ml_dtypes does. x/0 in such a format is NaN
  with divbyzero.
* Flush to zero (``fmt.ftz``): subnormal operands are read as zeros of the same
  sign (also in comparisons and min/max); a result that would be a nonzero
  subnormal is delivered as a zero of the same sign with underflow+inexact.
  ``to_fraction``, ``to_float``, ``classify``, ``total_order``,
  ``next_up``/``next_down`` and ``ulp`` look at the encoding and ignore ftz.
"""

from __future__ import annotations

import enum
import math
import re
import struct
from fractions import Fraction
from operator import index as _index

from .formats import BINARY64, Format, FloatFormatError, get_format

__all__ = [
    "Rounding", "RNE", "RNA", "RTZ", "RUP", "RDN", "Flags",
    "add", "sub", "mul", "div", "fma", "sqrt", "neg", "abs_", "copysign",
    "convert", "from_float", "to_float", "from_int", "from_fraction", "to_fraction", "from_string",
    "eq", "lt", "le", "gt", "ge", "unordered", "total_order",
    "minimum", "maximum", "minimum_number", "maximum_number",
    "next_up", "next_down", "ulp", "classify", "is_nan", "is_signaling", "elementwise",
]


class Rounding(enum.Enum):
    RNE = "nearest-even"
    RNA = "nearest-away"
    RTZ = "toward-zero"
    RUP = "toward-positive"
    RDN = "toward-negative"


RNE, RNA, RTZ, RUP, RDN = Rounding.RNE, Rounding.RNA, Rounding.RTZ, Rounding.RUP, Rounding.RDN

INVALID, DIVBYZERO, OVERFLOW, UNDERFLOW, INEXACT = 1, 2, 4, 8, 16
_FLAG_NAMES = ("invalid", "divbyzero", "overflow", "underflow", "inexact")


class Flags:
    """The five IEEE exception flags, sticky: operations only ever set them."""

    __slots__ = ("bits",)

    def __init__(self, *names: str):
        self.bits = 0
        for n in names:
            if n not in _FLAG_NAMES:
                raise FloatFormatError(f"unknown flag {n!r}; flags are {', '.join(_FLAG_NAMES)}")
            self.bits |= 1 << _FLAG_NAMES.index(n)

    def names(self) -> frozenset[str]:
        return frozenset(n for i, n in enumerate(_FLAG_NAMES) if self.bits >> i & 1)

    def clear(self) -> None:
        self.bits = 0

    def __eq__(self, other):
        if isinstance(other, Flags):
            return self.bits == other.bits
        if isinstance(other, (set, frozenset)):
            return self.names() == other
        return NotImplemented

    def __bool__(self):
        return self.bits != 0

    def __repr__(self):
        return f"Flags({', '.join(repr(n) for n in _FLAG_NAMES if n in self.names())})"


def _flag(n: int):
    return property(lambda self: bool(self.bits & n), doc=f"flag bit {n}")


Flags.invalid, Flags.divbyzero, Flags.overflow, Flags.underflow, Flags.inexact = (
    _flag(INVALID), _flag(DIVBYZERO), _flag(OVERFLOW), _flag(UNDERFLOW), _flag(INEXACT))


def _fmt(fmt) -> Format:
    return fmt if isinstance(fmt, Format) else get_format(fmt)


# ------------------------------------------------------------- decode/encode
# class codes of _unpack
_FIN, _INF, _QNAN, _SNAN = 0, 1, 2, 3


def _unpack(k: tuple, x: int):
    """(class, sign, m, e): a finite value is (-1)**sign * m * 2**e (m = 0 for
    zeros, subnormals read as zero under ftz)."""
    try:
        x = _index(x)
    except TypeError:
        raise FloatFormatError(f"a bit pattern must be an int, got {type(x).__name__}") from None
    if x < 0 or x > k[11]:
        raise FloatFormatError(f"bit pattern {x:#x} does not fit in {k[5] + 1} bits")
    fbits = k[1]
    ex = (x >> fbits) & k[2]
    fr = x & k[3]
    if ex == k[2]:
        if k[9]:
            if fr == 0:
                return _INF, x >> k[5], 0, 0
            return (_QNAN if fr >> (fbits - 1) else _SNAN), x >> k[5], 0, 0
        if fr == k[3]:
            return _QNAN, x >> k[5], 0, 0
    if ex == 0:
        return _FIN, x >> k[5], (0 if k[10] else fr), k[6]
    return _FIN, x >> k[5], fr | k[4], ex - 1 + k[6]


def _nan(fmt: Format, flags, *classes) -> int:
    if flags is not None and _SNAN in classes:
        flags.bits |= INVALID
    return fmt.qnan


def _invalid(fmt: Format, flags) -> int:
    if flags is not None:
        flags.bits |= INVALID
    return fmt.qnan


def _infinity(fmt: Format, sign: int, flags) -> int:
    """An exact infinite result (inf operand, x/0); NaN/max without infinities."""
    if fmt.inf is not None:
        return (sign << fmt.sign_bit) | fmt.inf
    if fmt.saturate:
        return (sign << fmt.sign_bit) | fmt.max_finite
    return fmt.qnan


def _up(sign: int, sig: int, rem: int, half: int, sticky: bool, rm: Rounding) -> bool:
    """Whether to round the magnitude up, given the discarded part ``rem`` (of
    which ``half`` is one half unit) and the ``sticky`` bit below it."""
    if rm is RNE:
        return rem > half or (rem == half and (sticky or sig & 1 == 1))
    if rm is RNA:
        return rem >= half
    if rm is RTZ:
        return False
    if rm is RUP:
        return not sign
    if rm is RDN:
        return bool(sign)
    raise FloatFormatError(f"unknown rounding mode {rm!r}; use one of {[r.name for r in Rounding]}")


def _round(fmt: Format, sign: int, m: int, e: int, sticky: bool, rm: Rounding, flags) -> int:
    """Round (-1)**sign * (m + t) * 2**e to ``fmt``, where m > 0 and t = 0 if
    not sticky, 0 < t < 1 if sticky (callers give m at least p+2 bits then)."""
    if rm.__class__ is not Rounding:
        raise FloatFormatError(f"unknown rounding mode {rm!r}; use one of {[r.name for r in Rounding]}")
    p, fbits, _, _, hidden, sbit, qmin, qmax, max_sig, _, ftz, _, emin = fmt._k
    nb = m.bit_length()
    q = e + nb - p                      # quantum exponent for p significant bits
    below = q < qmin                    # exact value < 2**emin: maybe tiny
    if below:
        q = qmin
    sh = q - e
    if sh <= 0:
        if sticky:
            raise AssertionError("internal: sticky bit with too few significand bits")
        sig = m << -sh
        inexact = False
    else:
        if sh > nb + 1:                 # everything is discarded, and below half
            sig, rem, half = 0, m, 1 << nb
        else:
            sig = m >> sh
            rem = m & ((1 << sh) - 1)
            half = 1 << (sh - 1)
        inexact = rem != 0 or sticky
        if inexact and _up(sign, sig, rem, half, sticky, rm):
            sig += 1
            if sig >> p:
                sig >>= 1
                q += 1
    if q >= qmax and (q > qmax or sig > max_sig):
        return _overflow(fmt, sign, rm, flags)
    if inexact:
        fl = INEXACT
        if below and _tiny_after_rounding(sign, m, e, nb, p, emin, sticky, rm):
            fl |= UNDERFLOW
    else:
        fl = 0
    if sig < hidden and ftz and sig:
        sig, fl = 0, UNDERFLOW | INEXACT
    if fl and flags is not None:
        flags.bits |= fl
    return (sign << sbit) | (((q - qmin) << fbits) + sig)


def _tiny_after_rounding(sign, m, e, nb, p, emin, sticky, rm) -> bool:
    """IEEE tininess after rounding: rounded to p bits with an unbounded
    exponent range, is the (nonzero) result still below 2**emin?"""
    if e + nb - 1 < emin - 1:
        return True
    sh = nb - p                         # the exact value lies in [2**(emin-1), 2**emin)
    if sh <= 0:
        return True
    sig, rem = m >> sh, m & ((1 << sh) - 1)
    if sig != (1 << p) - 1 or (rem == 0 and not sticky):
        return True
    return not _up(sign, sig, rem, 1 << (sh - 1), sticky, rm)


def _overflow(fmt: Format, sign: int, rm: Rounding, flags) -> int:
    if flags is not None:
        flags.bits |= OVERFLOW | INEXACT
    if rm is RNE or rm is RNA or (rm is RUP and not sign) or (rm is RDN and sign):
        return _infinity(fmt, sign, None)
    return (sign << fmt.sign_bit) | fmt.max_finite


# ------------------------------------------------------------ arithmetic
def _sum(fmt, sa, ma, ea, sb, mb, eb, rm, flags) -> int:
    """Round (-1)**sa*ma*2**ea + (-1)**sb*mb*2**eb (exact terms) once."""
    if ma == 0 or mb == 0:
        if ma == 0 and mb == 0:
            return (sa if sa == sb else int(rm is RDN)) << fmt.sign_bit
        if ma == 0:
            return _round(fmt, sb, mb, eb, False, rm, flags)
        return _round(fmt, sa, ma, ea, False, rm, flags)
    la, lb = ea + ma.bit_length(), eb + mb.bit_length()
    if la < lb:
        sa, ma, ea, la, sb, mb, eb, lb = sb, mb, eb, lb, sa, ma, ea, la
    # A is a multiple of 2**g and every rounding boundary of A+B is a multiple
    # of 2**g; a B with |B| < 2**g can be replaced by +-2**(g-1) without
    # changing the rounded result, the flags or the tininess.
    g = min(ea, la - fmt.p - 2)
    if lb <= g:
        mb, eb = 1, g - 1
    if ea >= eb:
        ma <<= ea - eb
        e = eb
    else:
        mb <<= eb - ea
        e = ea
    s = (-ma if sa else ma) + (-mb if sb else mb)
    if s > 0:
        return _round(fmt, 0, s, e, False, rm, flags)
    if s < 0:
        return _round(fmt, 1, -s, e, False, rm, flags)
    return int(rm is RDN) << fmt.sign_bit


def add(fmt: Format, x: int, y: int, rm: Rounding = RNE, flags=None) -> int:
    """x + y rounded once."""
    try:
        k = fmt._k
    except AttributeError:
        fmt = _fmt(fmt)
        k = fmt._k
    cx, sx, mx, ex = _unpack(k, x)
    cy, sy, my, ey = _unpack(k, y)
    if cx or cy:
        if cx >= _QNAN or cy >= _QNAN:
            return _nan(fmt, flags, cx, cy)
        if cx and cy:
            return _infinity(fmt, sx, flags) if sx == sy else _invalid(fmt, flags)
        return _infinity(fmt, sx if cx else sy, flags)
    return _sum(fmt, sx, mx, ex, sy, my, ey, rm, flags)


def sub(fmt: Format, x: int, y: int, rm: Rounding = RNE, flags=None) -> int:
    """x - y rounded once (x + (-y); NaN operands are NaN either way)."""
    fmt = _fmt(fmt)
    return add(fmt, x, fmt.check_bits(y) ^ (1 << fmt.sign_bit), rm, flags)


def mul(fmt: Format, x: int, y: int, rm: Rounding = RNE, flags=None) -> int:
    """x * y rounded once."""
    try:
        k = fmt._k
    except AttributeError:
        fmt = _fmt(fmt)
        k = fmt._k
    cx, sx, mx, ex = _unpack(k, x)
    cy, sy, my, ey = _unpack(k, y)
    s = sx ^ sy
    if cx or cy:
        if cx >= _QNAN or cy >= _QNAN:
            return _nan(fmt, flags, cx, cy)
        if (cx == _FIN and mx == 0) or (cy == _FIN and my == 0):
            return _invalid(fmt, flags)
        return _infinity(fmt, s, flags)
    if mx == 0 or my == 0:
        return s << k[5]
    return _round(fmt, s, mx * my, ex + ey, False, rm, flags)


def div(fmt: Format, x: int, y: int, rm: Rounding = RNE, flags=None) -> int:
    """x / y rounded once."""
    try:
        k = fmt._k
    except AttributeError:
        fmt = _fmt(fmt)
        k = fmt._k
    cx, sx, mx, ex = _unpack(k, x)
    cy, sy, my, ey = _unpack(k, y)
    s = sx ^ sy
    if cx or cy:
        if cx >= _QNAN or cy >= _QNAN:
            return _nan(fmt, flags, cx, cy)
        if cx and cy:
            return _invalid(fmt, flags)
        if cx:
            return _infinity(fmt, s, flags)
        return s << k[5]                         # finite / inf
    if my == 0:
        if mx == 0:
            return _invalid(fmt, flags)
        if flags is not None:
            flags.bits |= DIVBYZERO
        return _infinity(fmt, s, flags)
    if mx == 0:
        return s << k[5]
    sh = k[0] + 2 + my.bit_length() - mx.bit_length()
    if sh < 0:
        sh = 0
    q, r = divmod(mx << sh, my)
    return _round(fmt, s, q, ex - ey - sh, r != 0, rm, flags)


def sqrt(fmt: Format, x: int, rm: Rounding = RNE, flags=None) -> int:
    """Square root rounded once; sqrt(-0) = -0, sqrt(x<0) is invalid."""
    try:
        k = fmt._k
    except AttributeError:
        fmt = _fmt(fmt)
        k = fmt._k
    c, s, m, e = _unpack(k, x)
    if c >= _QNAN:
        return _nan(fmt, flags, c)
    if m == 0 and c == _FIN:
        return s << k[5]
    if s:
        return _invalid(fmt, flags)
    if c == _INF:
        return fmt.inf
    if e & 1:
        m, e = m << 1, e - 1
    sh = max(0, k[0] + 3 - (m.bit_length() >> 1))
    big = m << (2 * sh)
    r = math.isqrt(big)
    return _round(fmt, 0, r, (e >> 1) - sh, r * r != big, rm, flags)


def fma(fmt: Format, x: int, y: int, z: int, rm: Rounding = RNE, flags=None) -> int:
    """x * y + z with a single rounding. fma(0, inf, c) and fma(inf, 0, c)
    signal invalid even when c is a quiet NaN."""
    try:
        k = fmt._k
    except AttributeError:
        fmt = _fmt(fmt)
        k = fmt._k
    cx, sx, mx, ex = _unpack(k, x)
    cy, sy, my, ey = _unpack(k, y)
    cz, sz, mz, ez = _unpack(k, z)
    sp = sx ^ sy
    if cx or cy or cz:
        zero_inf = (cx == _INF and cy == _FIN and my == 0) or (cy == _INF and cx == _FIN and mx == 0)
        if cx >= _QNAN or cy >= _QNAN or cz >= _QNAN or zero_inf:
            if zero_inf and flags is not None:
                flags.bits |= INVALID
            return _nan(fmt, flags, cx, cy, cz)
        if cx or cy:                             # infinite product
            if cz and sz != sp:
                return _invalid(fmt, flags)
            return _infinity(fmt, sp, flags)
        return _infinity(fmt, sz, flags)
    return _sum(fmt, sp, mx * my, ex + ey, sz, mz, ez, rm, flags)


def neg(fmt: Format, x: int) -> int:
    """Flip the sign bit (no flags, NaN payload kept)."""
    fmt = _fmt(fmt)
    return fmt.check_bits(x) ^ (1 << fmt.sign_bit)


def abs_(fmt: Format, x: int) -> int:
    """Clear the sign bit (no flags, NaN payload kept)."""
    fmt = _fmt(fmt)
    return fmt.check_bits(x) & ~(1 << fmt.sign_bit)


def copysign(fmt: Format, x: int, y: int) -> int:
    fmt = _fmt(fmt)
    sb = 1 << fmt.sign_bit
    return (fmt.check_bits(x) & ~sb) | (fmt.check_bits(y) & sb)


# ------------------------------------------------------------ conversions
def convert(src: Format, dst: Format, x: int, rm: Rounding = RNE, flags=None) -> int:
    """The value of ``x`` (a ``src`` bit pattern) rounded to ``dst``. NaN ->
    dst's canonical NaN; inf -> inf, or NaN + invalid if dst has no inf."""
    src, dst = _fmt(src), _fmt(dst)
    c, s, m, e = _unpack(src._k, x)
    if c:
        if c >= _QNAN:
            return _nan(dst, flags, c)
        if dst.inf is None and flags is not None:
            flags.bits |= INVALID
        return _infinity(dst, s, flags)
    if m == 0:
        return s << dst.sign_bit
    return _round(dst, s, m, e, False, rm, flags)


def from_float(fmt: Format, x, rm: Rounding = RNE, flags=None) -> int:
    """A Python float (binary64; ints and Fractions are taken exactly) rounded to fmt."""
    fmt = _fmt(fmt)
    if isinstance(x, bool) or not isinstance(x, (float, int, Fraction)):
        try:
            import numpy as np
            if isinstance(x, np.floating):
                x = float(x)
            elif isinstance(x, np.integer):
                x = int(x)
        except ImportError:  # pragma: no cover
            pass
    if isinstance(x, float):
        return convert(BINARY64, fmt, struct.unpack("<Q", struct.pack("<d", x))[0], rm, flags)
    if isinstance(x, int) and not isinstance(x, bool):
        return from_int(fmt, x, rm, flags)
    if isinstance(x, Fraction):
        return from_fraction(fmt, x, rm, flags)
    raise FloatFormatError(f"cannot convert {x!r} ({type(x).__name__}) to {fmt.name}: not a number")


def to_float(fmt: Format, x: int) -> float:
    """The value of the encoding as a Python float (exact for every format up
    to binary64; ftz ignored, like to_fraction; NaN -> float('nan'))."""
    fmt = _fmt(fmt)
    c, s, m, e = _unpack(fmt._kraw, x)
    if c >= _QNAN:
        return math.nan
    v = math.inf if c == _INF else math.ldexp(m, e)
    return -v if s else v


def from_int(fmt: Format, n: int, rm: Rounding = RNE, flags=None) -> int:
    fmt = _fmt(fmt)
    if isinstance(n, bool) or not isinstance(n, int):
        raise FloatFormatError(f"from_int needs an int, got {type(n).__name__}")
    if n == 0:
        return 0
    return _round(fmt, int(n < 0), abs(n), 0, False, rm, flags)


def from_fraction(fmt: Format, q, rm: Rounding = RNE, flags=None) -> int:
    """An exact rational (Fraction or int) rounded once; 0 gives +0."""
    fmt = _fmt(fmt)
    if isinstance(q, bool) or not isinstance(q, (Fraction, int)):
        raise FloatFormatError(f"from_fraction needs a Fraction or int, got {type(q).__name__}")
    num, den = q.numerator, q.denominator
    if num == 0:
        return 0
    sign = int(num < 0)
    num = abs(num)
    sh = fmt.p + 2 + den.bit_length() - num.bit_length()
    if sh > 0:
        m, r = divmod(num << sh, den)
    else:
        m, r = divmod(num, den << -sh)
    return _round(fmt, sign, m, -sh, r != 0, rm, flags)


def to_fraction(fmt: Format, x: int) -> Fraction:
    """The exact value of a finite encoding (ftz ignored; -0 gives 0)."""
    fmt = _fmt(fmt)
    x = fmt.check_bits(x)
    c, s, m, e = _unpack(fmt._kraw, x)
    if c:
        raise FloatFormatError(f"{fmt.name} {x:#0{fmt.hex_digits + 2}x} is {classify(fmt, x)}: "
                               "it has no exact rational value")
    v = Fraction(m) * (Fraction(2) ** e)
    return -v if s else v


def from_string(fmt: Format, text: str, rm: Rounding = RNE, flags=None) -> int:
    """A decimal (or 'a/b') string parsed exactly, then rounded once. Accepts
    'inf', 'infinity', 'nan' (any case, optional sign) and '-0'."""
    fmt = _fmt(fmt)
    if not isinstance(text, str):
        raise FloatFormatError(f"expected a string, got {type(text).__name__}")
    t = text.strip().lower().replace("_", "")
    sign = 0
    if t[:1] in "+-" and t:
        sign, t = int(t[0] == "-"), t[1:]
    if t in ("inf", "infinity"):
        if flags is not None and fmt.inf is None:
            flags.bits |= INVALID
        return _infinity(fmt, sign, flags)
    if t == "nan":
        return fmt.qnan
    v, _ = decimal_fraction(fmt, t, text)
    bits = from_fraction(fmt, -v if sign else v, rm, flags)
    return bits | (sign << fmt.sign_bit) if v == 0 else bits


_DECIMAL = re.compile(r"([0-9]*)(?:\.([0-9]*))?(?:e([-+]?[0-9]+))?\Z")
MAX_DIGITS = 4000     # significant digits (Python's int-from-text limit is 4300)


def decimal_fraction(fmt: Format, t: str, text: str | None = None) -> tuple[Fraction, bool]:
    """``(value, exact)`` of the unsigned decimal (or 'a/b') ``t``. A decimal whose
    exponent puts it 100 decimal orders beyond ``fmt``'s range in either direction
    (``1e999999999999``) is not expanded: its stand-in (twice the largest finite value, or a quarter of
    the smallest subnormal) rounds like it in every mode, and ``exact`` is False."""
    bad = FloatFormatError(f"{(text if text is not None else t)[:60]!r} is not a decimal number, 'inf' or 'nan'")
    if "/" in t:
        num, _, den = t.partition("/")
        if not (num.isascii() and num.isdigit() and den.isascii() and den.isdigit()) or int(den or 0) == 0:
            raise bad
        if len(num) > MAX_DIGITS or len(den) > MAX_DIGITS:
            raise FloatFormatError(f"a fraction with more than {MAX_DIGITS} digits is not read")
        return Fraction(int(num), int(den)), True
    m = _DECIMAL.match(t)
    if not m or not (m.group(1) or m.group(2)):
        raise bad
    whole, frac, exp = m.group(1), m.group(2) or "", m.group(3) or "0"
    digits = (whole + frac).lstrip("0")
    if not digits:
        return Fraction(0), True
    if len(digits) > MAX_DIGITS:
        raise FloatFormatError(f"a decimal with more than {MAX_DIGITS} significant digits is not read")
    e10 = int(exp) if len(exp.lstrip("+-")) <= 18 else (10**18 if exp[0] != "-" else -10**18)
    shift = e10 - len(frac)                     # value = digits * 10**shift
    order = shift + len(digits)                 # 10**(order-1) <= value < 10**order
    if order > math.floor((fmt.emax + 1) * math.log10(2)) + 100:
        return fmt.max_value * 2, False
    if order < math.floor((fmt.emin - fmt.p) * math.log10(2)) - 100:
        return Fraction(2) ** (fmt.emin - fmt.p - 1), False
    return Fraction(int(digits)) * Fraction(10) ** shift, True


# ------------------------------------------------------------ comparisons
def _cls(k: tuple, x: int) -> int:
    try:
        x = _index(x)
    except TypeError:
        raise FloatFormatError(f"a bit pattern must be an int, got {type(x).__name__}") from None
    if x < 0 or x > k[11]:
        raise FloatFormatError(f"bit pattern {x:#x} does not fit in {k[5] + 1} bits")
    if (x >> k[1]) & k[2] != k[2]:
        return _FIN
    fr = x & k[3]
    if k[9]:
        return _INF if fr == 0 else (_QNAN if fr >> (k[1] - 1) else _SNAN)
    return _QNAN if fr == k[3] else _FIN


def _key(k: tuple, x: int) -> int:
    mag = x & (k[11] >> 1)
    if k[10] and mag < k[4]:
        mag = 0
    return -mag if x >> k[5] else mag


def _cmp(fmt, x, y, flags, signaling):
    """-1/0/1, or None when unordered."""
    fmt = _fmt(fmt)
    k = fmt._k
    cx, cy = _cls(k, x), _cls(k, y)
    if cx >= _QNAN or cy >= _QNAN:
        if flags is not None and (signaling or _SNAN in (cx, cy)):
            flags.bits |= INVALID
        return None
    a, b = _key(k, x), _key(k, y)
    return (a > b) - (a < b)


def eq(fmt, x, y, flags=None) -> bool:
    """Quiet equality: +0 == -0, NaN != anything."""
    return _cmp(fmt, x, y, flags, False) == 0


def unordered(fmt, x, y, flags=None) -> bool:
    return _cmp(fmt, x, y, flags, False) is None


def lt(fmt, x, y, flags=None) -> bool:
    """Signalling less-than (invalid on any NaN operand)."""
    return _cmp(fmt, x, y, flags, True) == -1


def le(fmt, x, y, flags=None) -> bool:
    return _cmp(fmt, x, y, flags, True) in (-1, 0)


def gt(fmt, x, y, flags=None) -> bool:
    return _cmp(fmt, x, y, flags, True) == 1


def ge(fmt, x, y, flags=None) -> bool:
    return _cmp(fmt, x, y, flags, True) in (1, 0)


def total_order(fmt, x, y) -> bool:
    """IEEE totalOrder(x, y): -NaN < -inf < ... < -0 < +0 < ... < +inf < +NaN
    (NaNs by payload, sNaN below qNaN); on encodings, ftz ignored."""
    fmt = _fmt(fmt)
    sb = 1 << fmt.sign_bit

    def key(v):
        fmt.check_bits(v)
        return (fmt.mask ^ v) if v & sb else (v | sb)
    return key(x) <= key(y)


def _pick(fmt, x, y, flags, want_min, number):
    fmt = _fmt(fmt)
    k = fmt._k
    cx, cy = _cls(k, x), _cls(k, y)
    x, y = _index(x), _index(y)
    if cx >= _QNAN or cy >= _QNAN:
        if flags is not None and _SNAN in (cx, cy):
            flags.bits |= INVALID
        if number and cx < _QNAN:
            y = x
        elif number and cy < _QNAN:
            pass
        else:
            return fmt.qnan
        x = y
    kx, ky = _key(k, x), _key(k, y)
    if kx == ky:
        if kx == 0:                                    # zeros: -0 < +0
            s = (x | y) if want_min else (x & y)
            return s & (1 << k[5])
        r = x
    else:
        r = x if (kx < ky) == want_min else y
    if k[10] and (r & (k[11] >> 1)) < k[4]:
        r &= 1 << k[5]                                 # flushed subnormal
    return r


def minimum(fmt, x, y, flags=None) -> int:
    """IEEE 754-2019 minimum: NaN if either is NaN, -0 < +0."""
    return _pick(fmt, x, y, flags, True, False)


def maximum(fmt, x, y, flags=None) -> int:
    return _pick(fmt, x, y, flags, False, False)


def minimum_number(fmt, x, y, flags=None) -> int:
    """IEEE 754-2019 minimumNumber: a NaN operand is ignored (invalid if
    signalling); NaN only if both are NaN; -0 < +0."""
    return _pick(fmt, x, y, flags, True, True)


def maximum_number(fmt, x, y, flags=None) -> int:
    return _pick(fmt, x, y, flags, False, True)


# ------------------------------------------------------------ neighbours, ulp
def next_up(fmt: Format, x: int, flags=None) -> int:
    """Least encoding value > x (nextUp(-min_subnormal) = -0; nextUp(max) =
    +inf, or NaN in a format without infinities; NaN -> canonical NaN)."""
    fmt = _fmt(fmt)
    k = fmt._k
    c = _cls(k, x)
    x = _index(x)
    if c >= _QNAN:
        return _nan(fmt, flags, c)
    sb = 1 << k[5]
    if x == fmt.inf:
        return x
    if x & ~sb == 0:
        return 1
    r = x - 1 if x & sb else x + 1
    return fmt.qnan if _cls(k, r) >= _QNAN else r


def next_down(fmt: Format, x: int, flags=None) -> int:
    fmt = _fmt(fmt)
    c = _cls(fmt._k, x)
    if c >= _QNAN:
        return _nan(fmt, flags, c)
    r = next_up(fmt, _index(x) ^ (1 << fmt.sign_bit), flags)
    return r if r == fmt.qnan else r ^ (1 << fmt.sign_bit)


def ulp(fmt: Format, x: int) -> Fraction:
    """Unit in the last place of a finite x: 2**(max(E, emin) - p + 1), E the
    exponent of x (ulp(0) = smallest subnormal)."""
    fmt = _fmt(fmt)
    c, s, m, e = _unpack(fmt._kraw, x)
    if c:
        raise FloatFormatError(f"ulp of {classify(fmt, x)} is undefined")
    return Fraction(2) ** e


def classify(fmt: Format, x: int) -> str:
    """'zero', 'subnormal', 'normal', 'inf' or 'nan' (of the encoding)."""
    fmt = _fmt(fmt)
    k = fmt._k
    c = _cls(k, x)
    if c == _INF:
        return "inf"
    if c >= _QNAN:
        return "nan"
    ex = (x >> k[1]) & k[2]
    if ex:
        return "normal"
    return "subnormal" if x & k[3] else "zero"


def is_nan(fmt: Format, x: int) -> bool:
    fmt = _fmt(fmt)
    return _cls(fmt._k, x) >= _QNAN


def is_signaling(fmt: Format, x: int) -> bool:
    fmt = _fmt(fmt)
    return _cls(fmt._k, x) == _SNAN


# ------------------------------------------------------------ arrays
def elementwise(op, fmt: Format, *arrays, rm: Rounding = RNE, flags=None):
    """Apply a scalar kernel op over equally shaped integer arrays of bit
    patterns; returns a uint64 array (the scalar kernel is the reference, this
    is only a loop)."""
    fmt = _fmt(fmt)
    import numpy as np
    arrs = [np.asarray(a) for a in arrays]
    if any(a.dtype.kind not in "iub" for a in arrs):
        raise FloatFormatError("elementwise needs integer arrays of bit patterns (e.g. a.view(np.uint32))")
    shape = np.broadcast_shapes(*(a.shape for a in arrs))
    cols = [np.broadcast_to(a, shape).astype(np.uint64).ravel().tolist() for a in arrs]
    if len(cols) == 1:
        out = [op(fmt, a, rm, flags) for a in cols[0]]
    else:
        out = [op(fmt, *args, rm, flags) for args in zip(*cols)]
    return np.array(out, dtype=np.uint64).reshape(shape)
