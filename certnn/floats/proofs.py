"""Machine-checked error bounds with z3 (FP theory + linear arithmetic).

Why not the direct statement? "For all finite binary32 a, b with finite RNE
sum, |fl(a+b) - (a+b)| <= 2**-24 |a+b|" with ``fpToReal`` for the exact sum
makes z3 5.4 answer *unknown* after 120 s (fp.to_real of a symbolic value is
nonlinear), and a bit-vector version (exact sum as a 320-bit scaled integer
against ``fpAdd``) does not finish in 10 minutes. Even ``fp.to_real`` of a
binary32 with a symbolic fraction and a FIXED exponent is out of reach. So we
prove the standard rounding lemma, in two machine-checked steps per exponent
field E of s >= 0 (255 for binary32):

(a) ``binade structure`` (z3 FP theory, bit-blasted): for every fraction field
    f, with ulp = 2**(max(E,1) - 1 + qmin): value(s) = (hidden + f) * ulp, and
    the encodings bits(s) +- 1 (IEEE nextUp/nextDown of s >= 0; -min_subnormal
    below +0) have the values s + ulp and s - gap (gap = ulp/2 at the bottom of
    a normal binade, else ulp). Each identity is checked under roundTowardNegative
    AND roundTowardPositive, so the fp.mul / fp.add involved are exact.
(b) ``bound`` (linear integer/real arithmetic): for every integer F in
    [0, 2**(p-1)) with s = (hidden + F) * ulp and every real x between the
    midpoints of s and its neighbours, |s - x| <= u|x| + eta (u = 2**-p,
    eta = 2**(qmin-1)). For the largest finite s the upper neighbour is taken
    as 2**(emax+1): x above that midpoint overflows.

From (a)+(b): IEEE 754 defines every basic operation as the rounding of the
exact result x, and RN(x) = s places x between those midpoints; negative s
follow by the symmetry RN(-x) = -RN(x). Variants: "sum" restricts x to
multiples of the smallest subnormal (every exact sum of two finite values is
one) and proves the pure relative bound u|x|; "directed" proves 2u|x| + 2 eta
for every x in [nextDown(s), nextUp(s)] (directed roundings return a
neighbour of x).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

from .formats import BINARY32, Format, FloatFormatError


@dataclass(frozen=True)
class ProofResult:
    claim: str
    evidence: str          # "proved", "refuted" (detail has a counterexample) or "unknown"
    seconds: float
    detail: str = ""

    def __bool__(self):
        return self.evidence == "proved"


def _real(q: Fraction):
    import z3
    return z3.RealVal(f"{q.numerator}/{q.denominator}")


def _verdict(r, sol, what, *vs):
    import z3
    if r == z3.unsat:
        return "proved", ""
    if r == z3.sat:
        m = sol.model()
        return "refuted", f"{what}: " + ", ".join(f"{v} = {m[v]}" for v in vs)
    return "unknown", f"{what}: {sol.reason_unknown()}"


def _ulp(fmt: Format, E: int) -> Fraction:
    return Fraction(2) ** (max(E, 1) - 1 + fmt.qmin)


def _structure_query(fmt: Format, E: int, timeout_ms: int):
    import z3
    fb, eb = fmt.p - 1, fmt.ebits
    hidden = 1 << fb if E else 0
    ulp = _ulp(fmt, E)
    f = z3.BitVec("f", fb)
    s = z3.fpFP(z3.BitVecVal(0, 1), z3.BitVecVal(E, eb), f)
    sort = s.sort()
    bits = z3.fpToIEEEBV(s)
    fp = lambda q: z3.FPVal(float(q), sort)          # noqa: E731  (powers of two: exact)
    sig = z3.fpUnsignedToFP(z3.RNE(), z3.ZeroExt(1, f) + hidden, sort)
    gap_dn = z3.If(f == 0, fp(ulp / 2), fp(ulp)) if E > 1 else fp(ulp)
    nb_dn = z3.fpBVToFP(bits - 1, sort)
    if E == 0:                                        # below +0 lies -min_subnormal
        minus_min = z3.fpBVToFP(z3.BitVecVal((1 << (fb + eb)) | 1, fb + eb + 1), sort)
        nb_dn = z3.If(f == 0, minus_min, nb_dn)
    nb_up = z3.fpBVToFP(bits + 1, sort)
    top = E == (1 << eb) - 2                         # nextUp(max) = inf: no finite neighbour
    bad = []
    for rm in (z3.RTN(), z3.RTP()):
        bad.append(z3.Not(z3.fpEQ(z3.fpMul(rm, sig, fp(ulp)), s)))
        up_ok = z3.fpEQ(z3.fpAdd(rm, s, fp(ulp)), nb_up)
        bad.append(z3.And(z3.Not(up_ok), f != (1 << fb) - 1) if top else z3.Not(up_ok))
        bad.append(z3.Not(z3.fpEQ(z3.fpSub(rm, s, gap_dn), nb_dn)))
    sol = z3.Solver()
    sol.set("timeout", timeout_ms)
    sol.add(z3.Or(bad))
    return _verdict(sol.check(), sol, f"exponent field {E}", f)


def _bound_query(fmt: Format, E: int, kind: str, u: Fraction, eta: Fraction, timeout_ms: int):
    import z3
    fb = fmt.p - 1
    hidden = 1 << fb if E else 0
    ulp = _ulp(fmt, E)
    F, x = z3.Int("F"), z3.Real("x")
    sv = (z3.ToReal(F) + hidden) * _real(ulp)
    up = sv + _real(ulp)
    down = sv - (z3.If(F == 0, _real(ulp / 2), _real(ulp)) if E > 1 else _real(ulp))
    err = z3.If(sv >= x, sv - x, x - sv)
    ax = z3.If(x >= 0, x, -x)
    sol = z3.Solver()
    sol.set("timeout", timeout_ms)
    sol.add(F >= 0, F < 1 << fb)
    if kind == "directed":
        sol.add(x >= down, x <= up)
    else:
        sol.add(2 * x >= down + sv, 2 * x <= sv + up)
    if kind == "sum":
        k = z3.Int("k")
        sol.add(x == z3.ToReal(k) * _real(fmt.min_subnormal))
    sol.add(err > _real(u) * ax + _real(eta))
    return _verdict(sol.check(), sol, f"exponent field {E}", F, x)


def _run(claim, fmt, queries, timeout_s):
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    n = 0
    for E, q in queries:
        left = int((deadline - time.perf_counter()) * 1000)
        if left <= 0:
            return ProofResult(claim, "unknown", time.perf_counter() - t0,
                               f"timed out before exponent field {E}")
        ev, detail = q(left)
        n += 1
        if ev != "proved":
            return ProofResult(claim, ev, time.perf_counter() - t0, detail)
    import z3
    return ProofResult(claim, "proved", time.perf_counter() - t0,
                       f"z3 {z3.get_version_string()}: {n} queries, one per exponent field "
                       "(fraction and x symbolic), all unsat")


def _check_fmt(fmt: Format) -> Format:
    if fmt.nan != "ieee":
        raise FloatFormatError(f"z3's FP theory models IEEE-style formats only, not {fmt.name}")
    return fmt


def prove_binade_structure(fmt: Format = BINARY32, exponents=None, timeout_s: float = 120.0) -> ProofResult:
    """Step (a): values and neighbour gaps of every finite s >= 0 (z3 FP theory)."""
    _check_fmt(fmt)
    es = list(range((1 << fmt.ebits) - 1)) if exponents is None else list(exponents)
    claim = (f"{fmt.name}, exponent fields {es[0]}..{es[-1]}: value(s) = (hidden + fraction) * ulp and "
             "nextUp(s) - s = ulp, s - nextDown(s) = ulp (ulp/2 at the bottom of a normal binade)")
    return _run(claim, fmt, [(E, lambda t, E=E: _structure_query(fmt, E, t)) for E in es], timeout_s)


_CLAIMS = {
    "sum": "for all finite {n} a, b whose RNE sum s is finite: |s - (a+b)| <= {u} |a+b|{eta}",
    "nearest": "for all real x whose RNE rounding s to {n} is finite: |s - x| <= {u} |x|{eta}",
    "directed": "for all real x and s = its rounding to {n} toward -inf, +inf or 0 (finite): "
                "|s - x| <= {u} |x|{eta}",
}


def prove_rounding_bound(kind: str = "sum", fmt: Format = BINARY32, *, u: Fraction | None = None,
                         eta: Fraction | None = None, timeout_s: float = 120.0) -> ProofResult:
    """Step (b) for one claim: "sum" (u|a+b|, eta = 0 by default), "nearest"
    (u|x| + eta) or "directed" (2u|x| + 2 eta). ``u``/``eta`` override the
    constants (used to check that a too-small bound is refuted). Relies on
    :func:`prove_binade_structure` for the link to z3's FP semantics."""
    _check_fmt(fmt)
    if kind not in _CLAIMS:
        raise FloatFormatError(f"unknown claim {kind!r}; choose from {', '.join(_CLAIMS)}")
    k = 2 if kind == "directed" else 1
    u = Fraction(k, 2 ** fmt.p) if u is None else Fraction(u)
    eta = (Fraction(0) if kind == "sum" else k * fmt.min_subnormal / 2) if eta is None else Fraction(eta)
    show = lambda q: "0" if q == 0 else (f"2^-{q.denominator.bit_length() - 1}"  # noqa: E731
                                         if q.numerator == 1 and q.denominator & (q.denominator - 1) == 0
                                         else str(q))
    claim = _CLAIMS[kind].format(n=fmt.name, u=show(u), eta=f" + {show(eta)}" if eta else "")
    es = range((1 << fmt.ebits) - 1)
    return _run(claim, fmt, [(E, lambda t, E=E: _bound_query(fmt, E, kind, u, eta, t)) for E in es], timeout_s)


def prove_error_model(fmt: Format = BINARY32, timeout_s: float = 300.0) -> list[ProofResult]:
    """Step (a) and the three bounds of step (b); all must say "proved"."""
    out = [prove_binade_structure(fmt, timeout_s=timeout_s)]
    for kind in _CLAIMS:
        out.append(prove_rounding_bound(kind, fmt, timeout_s=timeout_s))
    return out
