"""``explain(value, fmt_name)``: what a value looks like in a float format.

``value`` is a decimal string ("0.1", "-2.5e-3", "1/3"), "inf", "-inf",
"nan", or a bit pattern "0x3f800000" / "0b0011..." with exactly the format's
width. Decimals are parsed exactly and rounded once to nearest-even.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

from .formats import Format, FloatFormatError, get_format
from .kernel import (RNE, Flags, classify, decimal_fraction, from_string, is_signaling, next_down, next_up, to_fraction,
                     ulp)
from .error_model import unit_roundoff


def parse_bits(text: str, fmt: Format) -> int:
    """A hex ("0x...") or binary ("0b...") bit string of exactly fmt's width."""
    t = text.strip().lower().replace("_", "")
    base, want, kind = (16, fmt.hex_digits, "hex") if t.startswith("0x") else (2, fmt.width, "binary")
    digits = t[2:]
    example = "0x" + format(fmt.qnan, f"0{fmt.hex_digits}x")
    if len(digits) != want or any(c not in "0123456789abcdef"[:base] for c in digits):
        raise FloatFormatError(f"malformed {fmt.name} bit string {text!r}: need '0x' and exactly {fmt.hex_digits} "
                               f"hex digits (e.g. {example}) or '0b' and exactly {fmt.width} binary digits")
    bits = int(digits, base)
    if bits > fmt.mask:
        raise FloatFormatError(f"bit string {text!r} does not fit in {fmt.width} bits")
    return bits


def decimal_exact(q: Fraction) -> str:
    """The exact decimal expansion of a dyadic rational."""
    sign = "-" if q < 0 else ""
    q = abs(q)
    den = q.denominator
    k = den.bit_length() - 1
    if den != 1 << k:
        raise FloatFormatError(f"{q} has no finite decimal expansion")
    digits = str(q.numerator * 5 ** k)
    if k == 0:
        return sign + digits
    digits = digits.rjust(k + 1, "0")
    return f"{sign}{digits[:-k]}.{digits[-k:]}"


def decimal_sci(q: Fraction, sig: int = 10) -> str:
    """q rounded to ``sig`` significant decimal digits, scientific notation."""
    if q == 0:
        return "0"
    ctx = Context(prec=sig, rounding=ROUND_HALF_EVEN)
    d = ctx.divide(Decimal(q.numerator), Decimal(q.denominator))
    return f"{d:.{sig}g}" if -5 <= d.adjusted() < sig else f"{d:.{sig - 1}e}"


def shortest_decimal(fmt: Format, bits: int) -> str:
    """The shortest decimal string that reads back (RNE) as ``bits``."""
    q = to_fraction(fmt, bits)
    neg = bits >> fmt.sign_bit
    if q == 0:
        return "-0" if neg else "0"
    for n in range(1, 40):
        ctx = Context(prec=n, rounding=ROUND_HALF_EVEN)
        d = ctx.divide(Decimal(q.numerator), Decimal(q.denominator))
        s = format(d, "f") if -7 < d.adjusted() < 17 else format(d, "e")
        if from_string(fmt, s) == bits:
            return s
    return decimal_exact(q)  # pragma: no cover


def _pow2(q: Fraction) -> str:
    n, d = q.numerator, q.denominator
    if n == 1 and d & (d - 1) == 0:
        return f"2^-{d.bit_length() - 1}"
    if d == 1 and n & (n - 1) == 0:
        return f"2^{n.bit_length() - 1}"
    return str(q)


def _hex(fmt: Format, bits: int) -> str:
    return "0x" + format(bits, f"0{fmt.hex_digits}x")


def _describe(fmt: Format, bits: int) -> str:
    c = classify(fmt, bits)
    if c == "nan":
        return f"{_hex(fmt, bits)} = NaN"
    if c == "inf":
        return f"{_hex(fmt, bits)} = {'-' if bits >> fmt.sign_bit else '+'}inf"
    return f"{_hex(fmt, bits)} = {decimal_exact(to_fraction(fmt, bits))}"


def _parse(value: str, fmt_name: str):
    """(format, stripped text, bits, given as bits?, rounding flags) of an explain input."""
    fmt = get_format(fmt_name)
    if not isinstance(value, str):
        raise FloatFormatError(f"explain needs a string, got {type(value).__name__}")
    text = value.strip()
    flags = Flags()
    is_bits = text.lower().startswith(("0x", "0b"))
    bits = parse_bits(text, fmt) if is_bits else from_string(fmt, text, RNE, flags)
    return fmt, text, bits, is_bits, flags


def explain_fields(value: str, fmt_name="binary32") -> dict:
    """The machine-readable explanation (``certnn float explain --json``): format,
    bits (hex), sign, exponent (the biased field) and its power of two, fraction
    (hex), class, value and ulp as exact decimal strings ("inf", "-inf", "nan";
    ulp None when undefined), the shortest decimal that reads back, and for a
    decimal input the rounding flags."""
    fmt, text, bits, is_bits, flags = _parse(value, fmt_name)
    cls = classify(fmt, bits)
    e_field = (bits >> fmt.fbits) & ((1 << fmt.ebits) - 1)
    sign = bits >> fmt.sign_bit
    finite = cls in ("normal", "subnormal", "zero")
    if finite:
        v = to_fraction(fmt, bits)
        val = "-0" if cls == "zero" and sign else decimal_exact(v)
    else:
        val = "nan" if cls == "nan" else ("-inf" if sign else "inf")
    return {"format": fmt.name, "input": text, "input_kind": "bits" if is_bits else "decimal",
            "bits": _hex(fmt, bits), "sign": int(sign), "exponent": int(e_field),
            "exponent_unbiased": (max(e_field, 1) - fmt.bias) if finite else None,
            "fraction": f"{bits & ((1 << fmt.fbits) - 1):#x}", "class": cls, "value": val,
            "shortest": shortest_decimal(fmt, bits) if finite else val,
            "ulp": decimal_exact(ulp(fmt, bits)) if finite else None,
            "ulp_pow2": _pow2(ulp(fmt, bits)) if finite else None,
            "flags": None if is_bits else sorted(flags.names())}


def explain(value: str, fmt_name="binary32") -> str:
    """A multi-line report: bits, fields, exact value, class, neighbours, ulp
    and (for decimal input) the rounding error of the input."""
    fmt, text, bits, is_bits, flags = _parse(value, fmt_name)
    e_field = (bits >> fmt.fbits) & ((1 << fmt.ebits) - 1)
    f_field = bits & ((1 << fmt.fbits) - 1)
    sign = bits >> fmt.sign_bit
    cls = classify(fmt, bits)
    b = format(bits, f"0{fmt.width}b")
    lines = [
        f"format    {fmt.name}: p={fmt.p}, exponent bits={fmt.ebits}, bias={fmt.bias}, emin={fmt.emin}, "
        f"emax={fmt.emax}, max={decimal_exact(fmt.max_value)}"
        + ("" if fmt.inf is not None else ", no infinities"),
        f"input     {text!r}" + (" (bit pattern, exact)" if is_bits else " (decimal, rounded to nearest-even)"),
        f"bits      {b[0]} | {b[1:1 + fmt.ebits]} | {b[1 + fmt.ebits:]}   ({_hex(fmt, bits)})",
    ]
    if cls in ("normal", "subnormal", "zero"):
        unb = (max(e_field, 1) - fmt.bias)
        lines.append(f"fields    sign={sign}  exponent={e_field} (2^{unb}{', subnormal' if e_field == 0 else ''})  "
                     f"fraction={f_field:#x}")
    else:
        lines.append(f"fields    sign={sign}  exponent={e_field}  fraction={f_field:#x}")
    tail = [] if is_bits or text.lower().lstrip("+-") in ("inf", "infinity", "nan") \
        else _rounding_lines(fmt, bits, cls, text, flags)
    if cls == "nan":
        kind = "signalling" if is_signaling(fmt, bits) else "quiet"
        lines.append(f"class     nan ({kind}{', canonical' if bits == fmt.qnan else ''})")
        lines.append("value     NaN (no numeric value; neighbours and ulp undefined)")
        return "\n".join(lines + tail)
    lines.append(f"class     {cls}")
    if cls == "inf":
        lines.append(f"value     {'-' if sign else '+'}inf")
    else:
        v = to_fraction(fmt, bits)
        lines.append(f"value     {'-0' if cls == 'zero' and sign else v}")
        lines.append(f"decimal   {decimal_exact(v)}")
        lines.append(f"shortest  {shortest_decimal(fmt, bits)}")
        lines.append(f"ulp       {_pow2(ulp(fmt, bits))} = {_short(ulp(fmt, bits))}")
    lines.append(f"nextDown  {_describe(fmt, next_down(fmt, bits))}")
    lines.append(f"nextUp    {_describe(fmt, next_up(fmt, bits))}")
    return "\n".join(lines + tail)


def _short(q: Fraction) -> str:
    exact = decimal_exact(q)
    return exact if len(exact) <= 24 else decimal_sci(q)


def _rounding_lines(fmt: Format, bits: int, cls: str, text: str, flags: Flags) -> list[str]:
    t = text.lower().replace("_", "")
    x, exact = decimal_fraction(fmt, t.lstrip("+-"))
    if not exact:      # far outside the format's range: the errors would be astronomically long numbers
        return [f"rounding  exact input {text} is far {'above' if x > 1 else 'below'} the range of {fmt.name}",
                f"flags     {', '.join(sorted(flags.names())) or 'none'}"]
    x = -x if t.startswith("-") else x
    out = [f"rounding  exact input {_short(abs(x)) if len(str(x.numerator)) > 60 else x}"]
    if cls in ("inf", "nan"):
        what = "+-"[bits >> fmt.sign_bit] + "inf" if cls == "inf" else \
            f"NaN ({fmt.name} has no infinities and does not saturate)"
        out[0] += f" overflows (|x| > max = {decimal_exact(fmt.max_value)}) to {what}"
    else:
        err = abs(to_fraction(fmt, bits) - x)
        out.append(f"  abs err {err} = {decimal_sci(err)}"
                   + (f" = {decimal_sci(err / ulp(fmt, bits), 4)} ulp" if err else " (exact)"))
        if x != 0:
            rel = err / abs(x)
            u = unit_roundoff(fmt)
            out.append(f"  rel err {decimal_sci(rel)} = {decimal_sci(rel / u, 4)} u  (u = {_pow2(u)})")
    out.append(f"flags     {', '.join(sorted(flags.names())) or 'none'}")
    return out
