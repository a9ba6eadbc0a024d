"""Binary floating-point formats as data.

A :class:`Format` describes a binary interchange-style encoding
``sign | exponent field | fraction field`` with a hidden leading bit:

* ``p`` -- precision in bits, hidden bit included (binary32: 24);
* ``ebits`` -- width of the exponent field; ``bias = 2**(ebits-1) - 1``,
  ``emin = 1 - bias``;
* ``has_inf`` / ``nan`` -- how the top exponent field is used:
  ``nan="ieee"``: exponent all ones encodes +-inf (fraction 0) and NaNs
  (fraction != 0, quiet iff the top fraction bit is set), so
  ``emax = bias``;
  ``nan="fn"`` (the OCP/ml_dtypes "fn" formats, e.g. float8_e4m3fn): no
  infinities, the only NaNs are ``S.1...1.1...1`` and every other encoding
  with the top exponent is a finite number, so ``emax = bias + 1`` and the
  largest significand is ``2**p - 2``;
* ``saturate`` -- for formats without infinities only: overflow gives +-max
  instead of NaN (ml_dtypes' default conversion does NOT saturate);
* ``ftz`` -- flush to zero: subnormal inputs are read as zeros of the same
  sign and subnormal results are delivered as zeros of the same sign.

A value is always handled as its bit pattern, a non-negative Python ``int``
below ``2**width``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, replace
from fractions import Fraction

from ..errors import CertnnError


class FloatFormatError(CertnnError, ValueError):
    """A bad float format name, value, bit string or an impossible request
    (e.g. the exact value of a NaN)."""


@dataclass(frozen=True)
class Format:
    name: str
    p: int
    ebits: int
    has_inf: bool = True
    nan: str = "ieee"
    saturate: bool = False
    ftz: bool = False
    # derived constants (filled in __post_init__)
    width: int = field(init=False, repr=False, compare=False)
    fbits: int = field(init=False, repr=False, compare=False)
    bias: int = field(init=False, repr=False, compare=False)
    emin: int = field(init=False, repr=False, compare=False)
    emax: int = field(init=False, repr=False, compare=False)
    qmin: int = field(init=False, repr=False, compare=False)
    qmax: int = field(init=False, repr=False, compare=False)
    max_sig: int = field(init=False, repr=False, compare=False)
    sign_bit: int = field(init=False, repr=False, compare=False)
    mask: int = field(init=False, repr=False, compare=False)
    qnan: int = field(init=False, repr=False, compare=False)
    inf: int | None = field(init=False, repr=False, compare=False)
    max_finite: int = field(init=False, repr=False, compare=False)
    _k: tuple = field(init=False, repr=False, compare=False)
    _kraw: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.p < 2 or self.ebits < 2:
            raise FloatFormatError(f"format {self.name!r}: need p >= 2 and ebits >= 2")
        if self.nan not in ("ieee", "fn"):
            raise FloatFormatError(f"format {self.name!r}: nan must be 'ieee' or 'fn', got {self.nan!r}")
        if self.has_inf != (self.nan == "ieee"):
            raise FloatFormatError(f"format {self.name!r}: nan='ieee' formats have infinities, "
                                   "nan='fn' formats have none")
        if self.saturate and self.has_inf:
            raise FloatFormatError(f"format {self.name!r}: saturate only applies to formats without inf")
        fbits = self.p - 1
        width = 1 + self.ebits + fbits
        emask = (1 << self.ebits) - 1
        bias = (1 << (self.ebits - 1)) - 1
        emin = 1 - bias
        if self.nan == "ieee":
            emax, max_sig = bias, (1 << self.p) - 1
            qnan = (emask << fbits) | (1 << (fbits - 1))
            inf = emask << fbits
        else:
            emax, max_sig = bias + 1, (1 << self.p) - 2
            qnan = (emask << fbits) | ((1 << fbits) - 1)
            inf = None
        qmin, qmax = emin - fbits, emax - fbits
        sign_bit = width - 1
        max_finite = ((qmax - qmin) << fbits) + max_sig
        s = object.__setattr__
        for k, v in dict(width=width, fbits=fbits, bias=bias, emin=emin, emax=emax, qmin=qmin,
                         qmax=qmax, max_sig=max_sig, sign_bit=sign_bit, mask=(1 << width) - 1,
                         qnan=qnan, inf=inf, max_finite=max_finite).items():
            s(self, k, v)
        # the tuple the kernel unpacks on its hot path
        k = (self.p, fbits, emask, (1 << fbits) - 1, 1 << fbits, sign_bit, qmin, qmax,
             max_sig, self.nan == "ieee", self.ftz, (1 << width) - 1, emin)
        s(self, "_k", k)
        s(self, "_kraw", k[:10] + (False,) + k[11:])     # the same without ftz

    # ----------------------------------------------------------- properties
    @property
    def max_value(self) -> Fraction:
        return Fraction(self.max_sig) * Fraction(2) ** self.qmax

    @property
    def min_normal(self) -> Fraction:
        return Fraction(2) ** self.emin

    @property
    def min_subnormal(self) -> Fraction:
        return Fraction(2) ** self.qmin

    @property
    def hex_digits(self) -> int:
        return -(-self.width // 4)

    def with_ftz(self, ftz: bool = True) -> "Format":
        return replace(self, name=self.name + ("-ftz" if ftz else ""), ftz=ftz)

    def check_bits(self, bits) -> int:
        """``bits`` as a Python int, if it is an integer that fits the format."""
        try:
            if isinstance(bits, bool):
                raise TypeError
            bits = operator.index(bits)
        except TypeError:
            raise FloatFormatError(f"{self.name}: a bit pattern must be an int, got {type(bits).__name__}") \
                from None
        if not 0 <= bits <= self.mask:
            raise FloatFormatError(f"{self.name}: bit pattern {bits:#x} does not fit in {self.width} bits")
        return bits

    def __str__(self):
        return self.name


BINARY64 = Format("binary64", 53, 11)
BINARY32 = Format("binary32", 24, 8)
BINARY16 = Format("binary16", 11, 5)
BFLOAT16 = Format("bfloat16", 8, 8)
E4M3 = Format("e4m3", 4, 4, has_inf=False, nan="fn")   # ml_dtypes float8_e4m3fn
E5M2 = Format("e5m2", 3, 5)                            # ml_dtypes float8_e5m2

FORMATS: dict[str, Format] = {f.name: f for f in (BINARY32, BINARY16, BFLOAT16, E4M3, E5M2, BINARY64)}
_ALIASES = {"float32": "binary32", "fp32": "binary32", "float16": "binary16", "fp16": "binary16",
            "half": "binary16", "bf16": "bfloat16", "e4m3fn": "e4m3", "float8_e4m3fn": "e4m3",
            "float8_e5m2": "e5m2", "float64": "binary64", "fp64": "binary64", "double": "binary64"}


def get_format(name) -> Format:
    """The format called ``name`` (a :class:`Format` is returned as is)."""
    if isinstance(name, Format):
        return name
    key = str(name).strip().lower()
    ftz = key.endswith("-ftz")
    key = key[:-4] if ftz else key
    fmt = FORMATS.get(_ALIASES.get(key, key))
    if fmt is None:
        raise FloatFormatError(f"unknown float format {name!r}; known formats: "
                               + ", ".join(FORMATS) + " (append '-ftz' for flush-to-zero)")
    return fmt.with_ftz() if ftz else fmt
