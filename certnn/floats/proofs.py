"""Machine-checked error bounds (z3's floating-point theory).

The direct query "for all finite binary32 a, b with finite RNE sum,
|fl(a+b) - (a+b)| <= 2**-24 |a+b|" with ``fpToReal`` for the exact sum makes
z3 return *unknown* (nonlinear: significand times a symbolic power of two;
120 s timeout), and a bit-vector version with the exact sum as a 320-bit
scaled integer did not finish in 10 minutes. We therefore prove the standard
rounding lemma instead and derive the claims from it:

* by IEEE 754 (and the SMT-LIB definition of ``fp.add`` etc.), a correctly
  rounded operation returns s = RN(x) for the exact result x, and
  RN(x) = s implies x lies in the closed interval between the midpoints of s
  and its neighbours nextDown(s), nextUp(s) (for s = max the upper neighbour is
  2**(emax+1): beyond its midpoint the result overflows);
* z3 proves, for EVERY finite s >= 0 of the format (one query per exponent
  field, the fraction field symbolic, the values and neighbours decoded by
  z3's ``fpToReal`` of ``fpFP`` terms) and EVERY real x in that interval,
  |s - x| <= u|x| + eta (u = 2**-p, eta = 2**(qmin-1)); negative s follow by
  symmetry RN(-x) = -RN(x);
* for addition the exact sum of two finite values is a multiple of the
  smallest subnormal 2**qmin, and restricted to such x z3 proves the pure
  relative bound |s - x| <= u|x| (sums in the subnormal range are exact);
* for the directed modes the result is one of the two neighbours of x, and z3
  proves |s - x| <= 2u|x| + 2 eta on the whole interval [nextDown(s), nextUp(s)].
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

from .formats import BINARY32, Format, FloatFormatError


@dataclass(frozen=True)
class ProofResult:
    claim: str
    evidence: str          # "proved", "refuted" (with a counterexample) or "unknown"
    seconds: float
    detail: str = ""

    def __bool__(self):
        return self.evidence == "proved"


def _real(q: Fraction):
    import z3
    return z3.RealVal(f"{q.numerator}/{q.denominator}")


def _binade_query(fmt: Format, E: int, kind: str, timeout_ms: int):
    import z3
    fb, eb = fmt.p - 1, fmt.ebits
    emax_field = (1 << eb) - 2
    top_f = (1 << fb) - 1
    f = z3.BitVec("f", fb)

    def val(e_field, frac):
        frac = frac if not isinstance(frac, int) else z3.BitVecVal(frac, fb)
        return z3.fpToReal(z3.fpFP(z3.BitVecVal(0, 1), z3.BitVecVal(e_field, eb), frac))
    s = val(E, f)
    if E == emax_field:
        above = _real(Fraction(2) ** (fmt.emax + 1))            # overflow threshold neighbour
    else:
        above = val(E + 1, 0)
    up = z3.If(f == top_f, above, val(E, f + 1))
    if E == 0:
        below = -_real(fmt.min_subnormal)                         # nextDown(+0) = -min subnormal
    else:
        below = val(E - 1, top_f)
    down = z3.If(f == 0, below, val(E, f - 1))
    x = z3.Real("x")
    u, eta = _real(Fraction(1, 2 ** fmt.p)), _real(fmt.min_subnormal / 2)
    err = z3.If(s >= x, s - x, x - s)
    ax = z3.If(x >= 0, x, -x)
    sol = z3.Solver()
    sol.set("timeout", timeout_ms)
    if kind == "directed":
        sol.add(x >= down, x <= up, err > 2 * u * ax + 2 * eta)
    else:
        sol.add(2 * x >= down + s, 2 * x <= s + up)
        if kind == "sum":
            k = z3.Int("k")
            sol.add(x == z3.ToReal(k) * _real(fmt.min_subnormal), err > u * ax)
        else:
            sol.add(err > u * ax + eta)
    r = sol.check()
    if r == z3.sat:
        m = sol.model()
        return "refuted", f"exponent field {E}, fraction {m[f]}, x = {m[x]}"
    return ("proved", "") if r == z3.unsat else ("unknown", f"exponent field {E}: {sol.reason_unknown()}")


_CLAIMS = {
    "sum": "for all finite {n} a, b whose RNE sum s is finite: |s - (a+b)| <= 2^-{p} |a+b|",
    "nearest": "for all real x whose RNE rounding s to {n} is finite: |s - x| <= 2^-{p} |x| + 2^{e}",
    "directed": "for all real x and s = its rounding to {n} toward -inf, +inf or 0 (finite): "
                "|s - x| <= 2^-{p1} |x| + 2^{e1}",
}


def prove_rounding_bound(kind: str = "sum", fmt: Format = BINARY32, timeout_s: float = 120.0) -> ProofResult:
    """Prove one of the error-model claims for an IEEE-style ``fmt`` with z3.

    ``kind``: "sum" (relative bound for RNE addition), "nearest" (u|x| + eta
    for any correctly rounded RNE result) or "directed" (2u|x| + 2 eta)."""
    if kind not in _CLAIMS:
        raise FloatFormatError(f"unknown claim {kind!r}; choose from {', '.join(_CLAIMS)}")
    if fmt.nan != "ieee":
        raise FloatFormatError(f"z3's FP theory only models IEEE-style formats, not {fmt.name}")
    claim = _CLAIMS[kind].format(n=fmt.name, p=fmt.p, e=fmt.qmin - 1, p1=fmt.p - 1, e1=fmt.qmin)
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    for E in range((1 << fmt.ebits) - 1):
        left = int((deadline - time.perf_counter()) * 1000)
        if left <= 0:
            return ProofResult(claim, "unknown", time.perf_counter() - t0, f"timed out before exponent field {E}")
        ev, detail = _binade_query(fmt, E, kind, left)
        if ev != "proved":
            return ProofResult(claim, ev, time.perf_counter() - t0, detail)
    n = (1 << fmt.ebits) - 1
    return ProofResult(claim, "proved", time.perf_counter() - t0,
                       f"z3 {_z3_version()}: {n} queries (one per exponent field, all fractions and all x "
                       "symbolic) unsat; see certnn.floats.proofs for the reduction to the rounding lemma")


def _z3_version() -> str:
    import z3
    return z3.get_version_string()
