"""The standard error model of one correctly rounded operation, per format.

For a finite result s = fl(x op y) (no overflow) of the exact value
z = x op y (operands read as the kernel reads them, i.e. after ftz):

* round to nearest (RNE, RNA):   |s - z| <= u |z| + eta
* directed (RTZ, RUP, RDN):      |s - z| <= 2u |z| + 2 eta

with u = 2**-p (unit roundoff; binary32: 2**-24) and eta = half the smallest
subnormal (binary32: 2**-150). The relative term covers the normal range,
the absolute term the subnormal range (for sums and differences it is not
needed: they are exact there). With flush-to-zero the absolute term becomes
2**emin (a flushed result is below 2**emin in magnitude), for every mode.

gamma(n) = n u / (1 - n u) bounds |prod (1 + d_i)^(+-1) - 1| for n factors
|d_i| <= u (Higham, Lemma 3.1); it needs n u < 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .formats import Format, FloatFormatError, get_format
from .kernel import RNA, RNE, Rounding, to_fraction


def unit_roundoff(fmt) -> Fraction:
    """u = 2**-p."""
    return Fraction(1, 2 ** get_format(fmt).p)


def eta(fmt) -> Fraction:
    """Half the smallest subnormal (2**emin under ftz)."""
    fmt = get_format(fmt)
    return fmt.min_normal if fmt.ftz else fmt.min_subnormal / 2


def gamma(n: int, fmt_or_u) -> Fraction:
    """gamma_n = n u / (1 - n u), exactly; ``fmt_or_u`` is a format (name) or u."""
    u = Fraction(fmt_or_u) if isinstance(fmt_or_u, (Fraction, int, float)) else unit_roundoff(fmt_or_u)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise FloatFormatError(f"gamma needs a non-negative int n, got {n!r}")
    if n * u >= 1:
        raise FloatFormatError(f"gamma_{n} is undefined: n*u = {float(n * u):.3g} >= 1")
    return n * u / (1 - n * u)


@dataclass(frozen=True)
class ErrorModel:
    fmt: Format
    u: Fraction
    eta: Fraction

    def relative(self, rm: Rounding = RNE) -> Fraction:
        return self.u if rm in (RNE, RNA) else 2 * self.u

    def absolute(self, rm: Rounding = RNE) -> Fraction:
        if self.fmt.ftz:
            return self.eta
        return self.eta if rm in (RNE, RNA) else 2 * self.eta

    def bound(self, exact: Fraction, rm: Rounding = RNE) -> Fraction:
        """The largest |fl(z) - z| the model allows for the exact value z."""
        return self.relative(rm) * abs(Fraction(exact)) + self.absolute(rm)

    def gamma(self, n: int) -> Fraction:
        return gamma(n, self.u)

    def error(self, exact: Fraction, result_bits: int) -> Fraction:
        """|value(result) - exact| for a finite result."""
        return abs(to_fraction(self.fmt, result_bits) - Fraction(exact))

    def holds(self, exact: Fraction, result_bits: int, rm: Rounding = RNE) -> bool:
        return self.error(exact, result_bits) <= self.bound(exact, rm)


def error_model(fmt) -> ErrorModel:
    """The constants of ``fmt`` (a Format or a name such as 'binary32')."""
    fmt = get_format(fmt)
    return ErrorModel(fmt, unit_roundoff(fmt), eta(fmt))
