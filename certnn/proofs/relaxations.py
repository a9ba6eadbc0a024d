"""Soundness of the linear relaxations that CROWN, alpha-CROWN and branch and
bound use (:mod:`certnn.ops.relax`).

``relax/relu``, ``relax/leaky_relu``, ``relax/abs`` (``proved``, z3 over the
reals): the op's own relax code, run on z3 terms (it is written over a
namespace ``xp``), gives lines with

    lw x + lb <= f(x) <= uw x + ub    for every real x in [l, u]

for all reals l <= u, every slope parameter alpha (any real: the code clips it
into its range, e.g. [negative_slope, 1]) and both default modes ("adaptive" and
"same-slope"); for leaky_relu also for every negative_slope in [0, 1]. ``f`` is
the op's ``sympy_form``, translated to z3. The lines are real-number lines: the
float evaluation of the producer is not what a certificate trusts (the checker
re-derives what it accepts in outward-rounded arithmetic).

``relax/sigmoid``, ``relax/tanh`` (``checked``): no proof. The lines touch a
transcendental function at tangent points found from a float table, and z3's
real arithmetic has no exp or tanh (no decision procedure covers them). What a
result relies on is checked on each run instead: the certificate checker
re-derives every sigmoid/tanh line it accepts in outward-rounded interval
arithmetic (:mod:`certnn.verify.sound_lines`). Re-running the theorem validates
those checker lines on a grid of boxes against 50-digit mpmath values.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import sympy

from ..ops import get_op
from .theorems import ProofFailed, Theorem, z3_unsat


def _z3_namespace():
    import z3

    def clip(a, lo, hi):          # np.clip(a, lo, hi) = min(max(a, lo), hi)
        m = z3.If(a < lo, lo, a)
        return z3.If(m > hi, hi, m)

    return SimpleNamespace(where=z3.If, clip=clip, copy=lambda a: a, logical_or=z3.Or,
                           zeros_like=lambda a: z3.RealVal(0), abs=lambda a: z3.If(a >= 0, a, -a))


def to_z3(e, env: dict):
    """A sympy expression (piecewise linear: +, *, Max, Min, Abs, Piecewise,
    comparisons) as a z3 real term; ``env`` maps sympy symbols to z3 terms."""
    import z3
    if e in env:
        return env[e]
    if e.is_Number:
        q = sympy.Rational(e)
        return z3.RealVal(f"{q.p}/{q.q}")
    if isinstance(e, sympy.Piecewise):
        out = None
        for value, cond in reversed([(to_z3(v, env), c) for v, c in e.args]):
            out = value if out is None or cond == sympy.true else z3.If(to_z3(cond, env), value, out)
        return out
    args = [to_z3(a, env) for a in e.args]
    if e.is_Add:
        return z3.Sum(*args)
    if e.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if isinstance(e, sympy.Max | sympy.Min):
        out = args[0]
        for a in args[1:]:
            out = z3.If(out >= a, out, a) if isinstance(e, sympy.Max) else z3.If(out <= a, out, a)
        return out
    if isinstance(e, sympy.Abs):
        return z3.If(args[0] >= 0, args[0], -args[0])
    ops = {sympy.StrictGreaterThan: lambda a, b: a > b, sympy.StrictLessThan: lambda a, b: a < b,
           sympy.GreaterThan: lambda a, b: a >= b, sympy.LessThan: lambda a, b: a <= b}
    if type(e) in ops:
        return ops[type(e)](*args)
    raise ProofFailed(f"cannot translate {e} ({type(e).__name__}) to z3")


_SLOPE_RANGE = {"leaky_relu": ("negative_slope", (0, 1))}   # attributes proved over a range


def prove_relaxation(name: str, slope_range=None, timeout_s: float = 60.0) -> str:
    """unsat of "some x in [l, u] lies outside the lines" for every alpha and mode."""
    import z3
    op = get_op(name)
    l, u, x, alpha = z3.Reals("l u x alpha")
    attrs, domain = {}, [l <= u, l <= x, x <= u]
    ranged = _SLOPE_RANGE.get(name)
    if ranged:
        attr, (lo, hi) = ranged
        lo, hi = slope_range or (lo, hi)
        s = z3.Real(attr)
        attrs[attr] = s
        domain += [s >= lo, s <= hi]
    sym = sympy.Symbol("x", real=True)
    env = {sym: x, **{sympy.Symbol(k, real=True): v for k, v in attrs.items()}}
    f = to_z3(op.sympy_form(sym, **{k: sympy.Symbol(k, real=True) for k in attrs}), env)
    xp = _z3_namespace()
    for how in ({"alpha": alpha}, {"mode": "adaptive"}, {"mode": "same-slope"}):
        lw, lb, uw, ub = op.relax(l, u, xp=xp, **how, **attrs)
        z3_unsat(domain, z3.And(lw * x + lb <= f, f <= uw * x + ub), f"{name} {how}", timeout_s)
    return f"z3 {z3.get_version_string()}: 3 queries (alpha, adaptive, same-slope), all unsat"


def _proved(name: str) -> Theorem:
    ranged = _SLOPE_RANGE.get(name)
    extra = f", every {ranged[0]} in [{ranged[1][0]}, {ranged[1][1]}]" if ranged else ""
    return Theorem(
        name=f"relax/{name}",
        statement=(f"{name}'s linear relaxation is sound: lw x + lb <= {name}(x) <= uw x + ub for every x in "
                   f"[l, u], with the lines its relax rule computes"),
        evidence="proved",
        covers=(f"op {name} (relax)", "certnn.ops.relax"),
        domain=(f"all reals l <= u, every alpha (any real; the code clips it into its range){extra}, modes "
                "'adaptive' and 'same-slope'; real-number lines (the producer's float evaluation is re-checked "
                "by the certificate checker, not by this theorem)"),
        prove=lambda: prove_relaxation(name), quick=True)


# ---- sigmoid and tanh: checked, not proved -------------------------------------------------

def check_s_shaped(name: str) -> str:
    """Validate the checker's sigmoid/tanh lines on a grid of boxes against mpmath."""
    import mpmath
    from ..verify import sound_lines
    f = {"sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)), "tanh": mpmath.tanh}[name]
    ends = np.array([-8.0, -3.0, -1.0, -0.2, 0.0, 0.3, 1.5, 4.0, 9.0])
    l, u = (a.ravel() for a in np.meshgrid(ends, ends))
    keep = l < u
    l, u = l[keep], u[keep]
    mpmath.mp.dps = 50
    lines = [sound_lines.lower_line(name, l, u, (l + u) / 2), sound_lines.upper_line(name, l, u, (l + u) / 2)]
    for k in range(l.size):
        for z in np.linspace(l[k], u[k], 65):
            fz = f(mpmath.mpf(float(z)))
            lo = mpmath.mpf(float(lines[0][0][k])) * mpmath.mpf(float(z)) + mpmath.mpf(float(lines[0][1][k]))
            hi = mpmath.mpf(float(lines[1][0][k])) * mpmath.mpf(float(z)) + mpmath.mpf(float(lines[1][1][k]))
            if not lo <= fz <= hi:
                raise ProofFailed(f"{name} on [{l[k]}, {u[k]}]: a checker line misses f at {z}")
    return f"{l.size} boxes x 65 points: the checker's lines enclose {name} (mpmath, 50 digits)"


def _checked(name: str) -> Theorem:
    return Theorem(
        name=f"relax/{name}",
        statement=(f"{name}'s relaxation lines are not proved: a certificate's {name} lines are re-derived by the "
                   f"checker in outward-rounded interval arithmetic on each check"),
        evidence="checked",
        covers=(f"op {name} (relax)", "certnn.verify.sound_lines"),
        domain=(f"why not proved: {name} is transcendental and the lines touch it at tangent points from a float "
                "table; z3's real arithmetic has no exp/tanh, so no decision procedure covers them. Re-running "
                "validates the checker's lines on a grid of boxes against 50-digit mpmath values (sampled)"),
        prove=lambda: check_s_shaped(name), quick=True)


THEOREMS = [_proved("relu"), _proved("leaky_relu"), _proved("abs"), _checked("sigmoid"), _checked("tanh")]
GAPS = {
    "relax/gelu": "gelu's lines (chord, midpoint tangent or chord shifted by max|gelu''| (u - l)^2 / 8; or relu's "
                  "lines with the lower one shifted by max(relu - gelu)) involve erf, which z3's real arithmetic "
                  "does not decide, and the certificate checker does not re-derive them: tested against 801 points "
                  "of 2,000 random intervals (tests/ops/test_relax.py)",
}
