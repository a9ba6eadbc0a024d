"""Sound interval evaluation of sympy expressions on NumPy arrays.

``compile_interval(expr, symbols)`` turns a sympy expression into a function
``(los, his) -> (lo, hi)`` that encloses the expression's real value for every
point of the box ``[los[i], his[i]]`` (one array per symbol, broadcast
together), outward rounded with the helpers of :mod:`certnn.floats.interval`.
It serves the derivative op's interval rule (derivatives of the op table's
elementwise ops, :mod:`certnn.ops.derivative`), the source terms and boundary
data of PDE problems and the target functions of the approximation
certificates.

What is evaluated how:

* numbers: rationals (integers, binary floats) exactly when they are binary64
  numbers, else the two neighbouring floats (exact rational comparison);
  constants such as pi from 30 digits and one binary64 step either side;
* ``+``, ``*``: folded pairwise with the interval ``add``/``mul``; an integer
  power is monotone on each side of 0 (odd powers increase, even powers are
  powers of ``|x|``), so it is bounded from the endpoint powers; a negative power
  is ``1 / x^n``; ``x^(p/2)`` goes through ``sqrt``; any other power is
  ``exp(y log x)``;
* ``exp, log, tanh, erf, sin, cos``: libm, widened by four binary64 steps
  (``libm-float64-within-4ulp``); ``sin``/``cos`` reach +-1 on a box that may
  hold a critical point (decided with a generous margin for the error of the
  float multiple of pi);
* ``Abs, sign, Heaviside, Max, Min``: monotone or exact, no rounding;
* ``Piecewise``: each branch that may be taken somewhere in the box is
  evaluated on the box restricted by its condition (and by the negations of
  the earlier conditions) where the condition is ``symbol REL number``, and
  the hull of the possible branches is taken. A condition is decided from the
  interval of ``lhs - rhs``; undecided conditions keep both sides.

Anything else raises :class:`~certnn.errors.CertnnError` naming the function:
an unsupported expression is refused, never enclosed by a guess.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import sympy

from ..errors import CertnnError
from . import interval as iv

ASSUMES = iv.LIBM   # the boundaries every compiled expression may rest on


# ---------------------------------------------------------------- sin and cos

def _near_multiple(lo, hi, offset: float):
    """True where [lo, hi] may contain offset + 2 k pi for an integer k. The float
    computation of offset + 2 k pi errs by far less than the margin, so a false
    'no' cannot happen; a false 'yes' only widens the result to the extremum."""
    two_pi = 2.0 * math.pi
    with np.errstate(invalid="ignore", over="ignore"):
        k = np.ceil((lo - offset) / two_pi)
        point = offset + k * two_pi
        margin = 1e-12 * (np.abs(lo) + np.abs(hi) + 1.0)
        maybe = (point <= hi + margin) | (offset + (k - 1) * two_pi >= lo - margin)
    return maybe | ~np.isfinite(lo) | ~np.isfinite(hi) | (hi - lo >= two_pi)


@iv._quiet
def _periodic(fn, max_at: float, min_at: float, lo, hi):
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    flo = np.where(np.isfinite(lo), fn(np.where(np.isfinite(lo), lo, 0.0)), 0.0)
    fhi = np.where(np.isfinite(hi), fn(np.where(np.isfinite(hi), hi, 0.0)), 0.0)
    out_lo = iv.down(np.minimum(flo, fhi), iv.LIBM_STEPS)
    out_hi = iv.up(np.maximum(flo, fhi), iv.LIBM_STEPS)
    out_hi = np.where(_near_multiple(lo, hi, max_at), 1.0, out_hi)
    out_lo = np.where(_near_multiple(lo, hi, min_at), -1.0, out_lo)
    return np.clip(out_lo, -1.0, 1.0), np.clip(out_hi, -1.0, 1.0)


@iv.uses(*iv.LIBM)
def sin(lo, hi):
    """sin: endpoint images widened by four steps, +-1 where the box may hold pi/2 + 2k pi
    (maximum) or -pi/2 + 2k pi (minimum)."""
    return _periodic(np.sin, math.pi / 2, -math.pi / 2, lo, hi)


@iv.uses(*iv.LIBM)
def cos(lo, hi):
    """cos: as sin, with the maxima at 2k pi and the minima at pi + 2k pi."""
    return _periodic(np.cos, 0.0, math.pi, lo, hi)


# ---------------------------------------------------------------- numbers

def _exact_float(q: Fraction):
    f = float(q)
    return (f, f) if Fraction(f) == q else (float(iv.down(f)), float(iv.up(f)))


def number(v) -> tuple[float, float]:
    """Floats (lo, hi) enclosing the sympy number ``v``."""
    v = sympy.sympify(v)
    if v.is_Rational:
        return _exact_float(Fraction(int(v.p), int(v.q)))
    if v.is_Float:
        return _exact_float(Fraction(*sympy.Rational(v).as_numer_denom()))
    if v.is_number and v.is_real:
        f = float(v.evalf(30))
        return float(iv.down(f)), float(iv.up(f))
    raise CertnnError(f"cannot enclose the number {v} (not a real constant)")


# ---------------------------------------------------------------- the compiler

def _pow_int(lo, hi, n: int):
    """x^n for an integer n >= 1: monotone on each side of 0, bounded from the
    endpoint powers (each an outward-rounded product of n factors)."""
    def point(x):
        a, b = x, x
        for _ in range(n - 1):
            a, b = iv.mul(a, b, x, x)
        return a, b
    if n == 1:
        return lo, hi
    if n % 2:
        return point(lo)[0], point(hi)[1]
    alo, ahi = iv.abs_(lo, hi)
    return np.maximum(point(alo)[0], 0.0), point(ahi)[1]


def _cond(c, env):
    """(certainly true, certainly false) masks of a condition over the box."""
    if c is sympy.true:
        return True, False
    if c is sympy.false:
        return False, True
    if isinstance(c, sympy.And):
        parts = [_cond(a, env) for a in c.args]
        return (functools.reduce(np.logical_and, [p[0] for p in parts]),
                functools.reduce(np.logical_or, [p[1] for p in parts]))
    if isinstance(c, sympy.Or):
        parts = [_cond(a, env) for a in c.args]
        return (functools.reduce(np.logical_or, [p[0] for p in parts]),
                functools.reduce(np.logical_and, [p[1] for p in parts]))
    if isinstance(c, sympy.Not):
        t, f = _cond(c.args[0], env)
        return f, t
    if isinstance(c, sympy.core.relational.Relational):
        dl, dh = _eval(c.lhs - c.rhs, env)
        op = c.rel_op
        if op in (">", ">="):
            return (dl > 0) if op == ">" else (dl >= 0), (dh <= 0) if op == ">" else (dh < 0)
        if op in ("<", "<="):
            return (dh < 0) if op == "<" else (dh <= 0), (dl >= 0) if op == "<" else (dl > 0)
        return False, False
    raise CertnnError(f"interval evaluation: unsupported condition {c}")


def _restrict(c, env, negate: bool):
    """The box cut by ``c`` (or by its negation) where c is ``symbol REL number``;
    returns (env, empty mask). The cut keeps the closure: always a superset."""
    if isinstance(c, sympy.And) and not negate:
        empty = False
        for a in c.args:
            env, e = _restrict(a, env, False)
            empty = empty | e
        return env, empty
    if not isinstance(c, sympy.core.relational.Relational) or c.rel_op not in (">", ">=", "<", "<="):
        return env, False
    lhs, rhs, op = c.lhs, c.rhs, c.rel_op
    if lhs.is_number and rhs.is_Symbol:
        lhs, rhs, op = rhs, lhs, {">": "<", ">=": "<=", "<": ">", "<=": ">="}[op]
    if not (lhs.is_Symbol and rhs.is_number and lhs in env):
        return env, False
    cl, ch = number(rhs)
    above = op in (">", ">=")
    if negate:
        above = not above
    lo, hi = env[lhs]
    if above:
        lo = np.maximum(lo, cl)
    else:
        hi = np.minimum(hi, ch)
    empty = lo > hi
    env = dict(env)
    env[lhs] = (np.where(empty, hi, lo), hi) if above else (lo, np.where(empty, lo, hi))
    return env, empty


def _piecewise(e, env):
    acc_lo = acc_hi = None
    taken = False                      # an earlier branch is certainly taken
    earlier = []
    for expr, cond in e.args:
        t, f = _cond(cond, env)
        sub, empty = _restrict(cond, env, False)
        for c in earlier:
            sub, e2 = _restrict(c, sub, True)
            empty = empty | e2
        possible = ~np.asarray(f) & ~np.asarray(taken) & ~np.asarray(empty)
        if np.any(possible):
            lo, hi = _eval(expr, sub)
            lo = np.where(possible, lo, np.inf)
            hi = np.where(possible, hi, -np.inf)
            acc_lo = lo if acc_lo is None else np.minimum(acc_lo, lo)
            acc_hi = hi if acc_hi is None else np.maximum(acc_hi, hi)
        taken = taken | np.asarray(t)
        earlier.append(cond)
        if np.all(taken):
            break
    if acc_lo is None:
        raise CertnnError(f"interval evaluation: no branch of {e} can be taken")
    undefined = acc_lo > acc_hi      # no branch possible: sympy would give nan
    return iv.whole_line(undefined, acc_lo, acc_hi)


def _minmax(fn, e, env):
    parts = [_eval(a, env) for a in e.args]
    return (functools.reduce(fn, [p[0] for p in parts]), functools.reduce(fn, [p[1] for p in parts]))


def _heaviside(e, env):
    lo, hi = _eval(e.args[0], env)
    h0 = float(e.args[1]) if len(e.args) > 1 else 0.5
    return np.heaviside(lo, h0), np.heaviside(hi, h0)


_UNARY = {sympy.exp: iv.exp, sympy.log: iv.log, sympy.tanh: iv.tanh, sympy.erf: iv.erf,
          sympy.sin: sin, sympy.cos: cos, sympy.Abs: iv.abs_,
          sympy.sign: lambda lo, hi: (np.sign(lo), np.sign(hi))}


def _eval(e, env):
    if e.is_Symbol:
        if e not in env:
            raise CertnnError(f"interval evaluation: no interval for the symbol {e}")
        return env[e]
    if e.is_number and not e.has(sympy.Piecewise):
        return number(e)
    if e.is_Add:
        return functools.reduce(lambda a, b: iv.add(*a, *b), [_eval(a, env) for a in e.args])
    if e.is_Mul:
        return functools.reduce(lambda a, b: iv.mul(*a, *b), [_eval(a, env) for a in e.args])
    if e.is_Pow:
        return _power(e, env)
    if isinstance(e, sympy.Piecewise):
        return _piecewise(e, env)
    if isinstance(e, sympy.Max):
        return _minmax(np.maximum, e, env)
    if isinstance(e, sympy.Min):
        return _minmax(np.minimum, e, env)
    if isinstance(e, sympy.Heaviside):
        return _heaviside(e, env)
    fn = _UNARY.get(e.func)
    if fn is None:
        raise CertnnError(f"interval evaluation: unsupported function {e.func.__name__} in {e}")
    return fn(*_eval(e.args[0], env))


def _power(e, env):
    base, ex = e.args
    lo, hi = _eval(base, env)
    if ex.is_Integer:
        return _pow_signed(lo, hi, int(ex))
    if ex.is_Rational and ex.q == 2:
        return _pow_signed(*iv.sqrt(lo, hi), int(ex.p))
    ylo, yhi = _eval(ex, env)
    return iv.exp(*iv.mul(ylo, yhi, *iv.log(lo, hi)))


def _pow_signed(lo, hi, n: int):
    """x^n for any integer n (a negative power divides 1 by the positive one)."""
    if n == 0:
        return 1.0, 1.0
    plo, phi = _pow_int(lo, hi, abs(n))
    return (plo, phi) if n > 0 else iv.div(1.0, 1.0, plo, phi)


@functools.lru_cache(maxsize=4096)
def compile_interval(expr, symbols: tuple):
    """``fn(los, his) -> (lo, hi)``: the sound interval evaluation of ``expr`` with
    ``symbols[i]`` ranging over ``[los[i], his[i]]`` (arrays broadcast together)."""
    expr = sympy.sympify(expr)
    extra = expr.free_symbols - set(symbols)
    if extra:
        raise CertnnError(f"interval evaluation: {expr} uses symbols {sorted(map(str, extra))} "
                          f"beyond {[str(s) for s in symbols]}")

    @iv.uses(*ASSUMES)
    def fn(los, his):
        los = [np.asarray(x, dtype=np.float64) for x in los]
        his = [np.asarray(x, dtype=np.float64) for x in his]
        shape = np.broadcast_shapes(*[x.shape for x in los + his]) if los else ()
        with np.errstate(all="ignore"):
            lo, hi = _eval(expr, dict(zip(symbols, zip(los, his))))
        lo, hi = iv._fix(np.broadcast_to(lo, shape), np.broadcast_to(hi, shape))
        return lo.copy(), hi.copy()
    return fn


def interval_eval(expr, env: dict):
    """Enclose ``expr`` with each symbol ``s`` ranging over ``env[s] = (lo, hi)``."""
    syms = tuple(sorted(env, key=str))
    return compile_interval(sympy.sympify(expr), syms)([env[s][0] for s in syms], [env[s][1] for s in syms])
