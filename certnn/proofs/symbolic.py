"""Symbolic execution of the op table: NumPy object arrays of sympy symbols, and
a decision procedure for ``expression == 0`` that is fast on what the op rules
produce.

The ops' own ``real``/``jvp``/``vjp`` code runs on object arrays unchanged: NumPy
applies ``+ - * /`` and ``@`` elementwise to the sympy objects, and the few
calls that need a function (``exp``, ``log``, ``sqrt``, ``max``) go through
:mod:`certnn.ops.xp`, which maps them to sympy on object arrays.

``is_zero(e)`` proves ``e == 0`` identically, in four steps, each sound:

1. every float constant becomes the simplest number that rounds to it
   (``sympy.nsimplify``: rationals, surds, pi): the code's ``0.5``, ``1e-5``,
   ``2.0 / n`` and ``1 / sqrt(2.0)`` stand for 1/2, 1/100000, 2/n and sqrt(2)/2. The laws are about the real-number rules the code
   implements; that such constants are rounded is the float semantics' business
   (the error budget), not these theorems';
2. every ``Max(...)`` (the shift of a stable softmax/log-sum-exp) becomes a fresh
   symbol: an identity that holds for EVERY value of the shift holds for the max;
3. every ``exp(c1 m1 + c2 m2 + ...)`` (monomials m_i, integer c_i) becomes
   ``E1**c1 * E2**c2 * ...`` with one fresh symbol per monomial, and ``exp(log s)``
   becomes ``s``; an identity between rational functions of independent symbols
   holds in particular at the values of the exponentials;
4. the result is a rational function over Q in the remaining symbols and atoms
   (sqrt, log, erf treated as independent generators): it is zero iff its
   numerator is the zero polynomial (exact FLINT polynomial arithmetic).

When ``e`` holds logarithms (a log-sum-exp), the same is tried on ``exp(e) - 1``:
every expression here is real (real symbols; logs only of positive values: sums
of exponentials, or inside the log op's domain), and exp is injective on the
reals. Steps 2-4 can only lose information, so they may fail to prove a true identity
(then, on a small expression, ``sympy.simplify`` gets a last try) but never
prove a false one.
"""

from __future__ import annotations

import numpy as np
import sympy

from .theorems import ProofFailed


def symbols(prefix: str, shape, **assumptions) -> np.ndarray:
    """An object array of fresh real symbols ``prefix0, prefix1, ...`` of ``shape``."""
    shape = tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, dtype=object)
    if n:
        out[:] = sympy.symbols(f"{prefix}0:{n}", real=True, **assumptions)
    return out.reshape(shape)


def objects(a) -> np.ndarray:
    """``a`` as an object array (numbers stay numbers)."""
    return np.asarray(a, dtype=object)


def inner(a, b):
    """<a, b> = sum of the elementwise products (NumPy broadcasting)."""
    a, b = np.broadcast_arrays(objects(a), objects(b))
    return sympy.Add(*[x * y for x, y in zip(a.ravel(), b.ravel())])


def rebuild(e, fn, memo=None):
    """Rewrite ``e`` top-down: ``fn(x)`` returns a replacement for the
    subexpression x (not descended into) or None (x is rebuilt from its rewritten
    arguments). Memoised over shared subexpressions: ``xreplace`` walks the tree,
    whose size grows exponentially with the depth of the DAG the rules build."""
    memo = {} if memo is None else memo

    def walk(x):
        if x in memo:
            return memo[x]
        new = fn(x)
        if new is None:
            args = [walk(a) for a in x.args] if x.args and not x.is_Atom else None
            if args is None or all(a is b for a, b in zip(args, x.args)):
                new = x
            elif isinstance(x, sympy.Max):   # a symbolic shift: Max would try to order its arguments
                new = sympy.Max(*args, evaluate=False)
            else:
                new = x.func(*args)
        memo[x] = new
        return new
    return walk(sympy.sympify(e))


_RATIONALS: dict = {}   # Float -> the simplest number (rational, surd, pi) that rounds to it


def exact(e):
    """Floats -> the simplest numbers that round to them (see the module docstring)."""
    def rational(x):
        if not x.is_Float:
            return None
        if x not in _RATIONALS:
            _RATIONALS[x] = sympy.nsimplify(x, [sympy.pi])
        return _RATIONALS[x]
    return rebuild(e, rational)


def _plus(a, b):
    """a + b for fractions kept in lowest terms (over the lcm of the denominators)."""
    (n, d), (pn, pd) = a, b
    if d == pd:
        n, d = n + pn, d
    else:
        g = d.gcd(pd)
        n, d = n * (pd / g) + pn * (d / g), d * (pd / g)
    if d.is_one() or n.is_zero():
        return n, d
    g = n.gcd(d)
    return (n / g, d / g) if not g.is_one() else (n, d)


def _times(a, b):
    """a * b for fractions kept in lowest terms (cross-cancelled first)."""
    (n, d), (pn, pd) = a, b
    g1, g2 = n.gcd(pd), pn.gcd(d)
    return (n / g1) * (pn / g2), (d / g2) * (pd / g1)


class _Fractions:
    """An expression (floats already made exact) as a fraction of FLINT
    polynomials over Q (python-flint), following steps 2-4 of the module docstring. Every pass over the expression
    is memoised, so shared subexpressions (the op rules build DAGs: a softmax
    denominator occurs in every gradient entry) are converted once."""

    def __init__(self, e):
        import flint
        self.flint = flint
        self.base: dict = {}             # generator expression -> None (ordered)
        self.exps: dict = {}             # exp node -> None (their exponents are split)
        self._scan(e, set(), False)
        # phase 1: the exponents, as polynomials in the base generators
        self._use(list(self.base))
        self.split: dict = {}            # exp node -> [(key, power)]; key: an E generator or ("log", expr)
        factors: dict = {}
        for node in self.exps:
            self.split[node] = self._split(node, factors)
        # phase 2: everything, with one generator E per distinct exponential factor
        self._use(list(self.base) + list(factors))
        self.e = e

    def _scan(self, e, seen, in_exponent):
        if e in seen:
            return
        seen.add(e)
        if e.is_Rational:
            pass
        elif e.is_Add or e.is_Mul or (e.is_Pow and e.exp.is_Integer):
            for a in e.args:
                self._scan(a, seen, in_exponent)
        elif e.is_Pow and e.exp.is_Rational:
            self.base.setdefault(e.base ** sympy.Rational(1, e.exp.q), None)
        elif isinstance(e, sympy.exp) and not in_exponent:   # exp(exp(..)): the inner one is an atom
            self.exps.setdefault(e, None)
            self._scan(e.args[0], seen, True)
        else:                    # a symbol, a Max (the shift: a free symbol), log, tanh, erf, pi, ...
            self.base.setdefault(e, None)

    def _use(self, gens):
        names = tuple(f"g{i}" for i in range(len(gens))) or ("g0",)
        self.ctx = self.flint.fmpq_mpoly_ctx.get(names, "lex")
        self.var = dict(zip(gens, self.ctx.gens()))
        self.one = self.ctx.from_dict({}) + 1
        self.memo: dict = {}

    def _split(self, node, factors):
        """exp(sum_k c_k m_k) -> prod_k E_{m_k}^{c_k} (integer c_k); exp(c log s) -> s^c.
        The monomials m_k may have negative powers (an exponent divided by a
        monomial, such as a layer norm's sqrt(var + eps)); any other exponent with
        a denominator stays one atom."""
        num, den = self.fraction(node.args[0])
        terms = den.to_dict()
        if len(terms) != 1:
            return [(factors.setdefault(node, node), 1)]
        (dmonom, dc), = terms.items()
        gens = list(self.var)
        out = []
        for monom, c in num.to_dict().items():
            c = sympy.Rational(int(c.p), int(c.q)) / sympy.Rational(int(dc.p), int(dc.q))
            monom = tuple(a - b for a, b in zip(monom, dmonom))
            used = [(gens[i], k) for i, k in enumerate(monom) if k]
            if c.is_integer and len(used) == 1 and used[0][1] == 1 and isinstance(used[0][0], sympy.log):
                out.append((("log", used[0][0].args[0]), int(c)))
            elif c.is_integer:
                out.append((factors.setdefault(monom, monom), int(c)))
            else:
                out.append((factors.setdefault((monom, c), (monom, c)), 1))
        return out

    def fraction(self, e):
        """(numerator, denominator) of ``e`` in the current generators."""
        if e in self.memo:
            return self.memo[e]
        one = self.one
        if e in self.var:
            out = (self.var[e], one)
        elif e.is_Rational:
            out = (one * self.flint.fmpq(int(e.p), int(e.q)), one)
        elif e.is_Add or e.is_Mul:
            n, d = self.fraction(e.args[0])
            for a in e.args[1:]:
                n, d = (_times if e.is_Mul else _plus)((n, d), self.fraction(a))
            out = (n, d)
        elif e.is_Pow and e.exp.is_Integer:
            n, d = self.fraction(e.base)
            k = int(e.exp)
            out = (n ** k, d ** k) if k >= 0 else (d ** -k, n ** -k)
        elif e.is_Pow:                  # b**(p/q) = (b**(1/q))**p
            g = self.var[e.base ** sympy.Rational(1, e.exp.q)]
            p = int(e.exp.p)
            out = (g ** p, one) if p >= 0 else (one, g ** -p)
        else:                           # an exponential, split into its factors
            n, d = one, one
            for key, k in self.split[e]:
                fn, fd = self.fraction(key[1]) if isinstance(key, tuple) and key[0] == "log" else (self.var[key], one)
                fn, fd = (fn ** k, fd ** k) if k >= 0 else (fd ** -k, fn ** -k)
                n, d = n * fn, d * fd
            out = (n, d)
        self.memo[e] = out
        return out

    def is_zero(self) -> bool:
        num, den = self.fraction(self.e)
        return num.is_zero() and not den.is_zero()


_SIMPLIFY_MAX = 100   # distinct subexpressions up to which sympy.simplify gets a last try


def is_zero(e) -> bool:
    """True when ``e`` is identically zero (proved; see the module docstring)."""
    e = exact(e)       # first, so that sympy puts every power base in one canonical form
    if e == 0:
        return True
    fractions = _Fractions(e)
    if fractions.is_zero():
        return True
    if e.has(sympy.log) and _Fractions(sympy.exp(e) - 1).is_zero():   # e is real: exp(e) = 1 gives e = 0
        return True
    if len(fractions.memo) > _SIMPLIFY_MAX:      # simplify would take too long on it
        return False
    return sympy.simplify(generic_shifts(exact(e))) == 0


def generic_shifts(e, shifts=None):
    """Each distinct ``Max(...)`` -> a fresh real symbol (see the module docstring)."""
    shifts = {} if shifts is None else shifts
    return rebuild(e, lambda x: shifts.setdefault(x, sympy.Dummy("shift", real=True))
                   if isinstance(x, sympy.Max) else None)


def shift_free(e, what: str = "expression"):
    """``e`` with each ``Max(...)`` shift replaced by a free symbol, after proving
    that ``e`` does not depend on it, i.e. e(shifts) - e(other shifts) == 0 (so a
    derivative may hold the shift constant)."""
    e = exact(e)
    shifts: dict = {}
    one = generic_shifts(e, shifts)
    if shifts:
        require_zero(one - generic_shifts(e), f"{what}: the value depends on the max shift")
    return one


def require_zero(e, what: str) -> None:
    """Raise ``ProofFailed`` naming ``what`` when ``e`` is not proved to be zero."""
    if not is_zero(e):
        raise ProofFailed(f"{what}: difference not proved zero: {str(e)[:300]}")


def require_equal_arrays(got, want, what: str) -> None:
    """Elementwise ``got == want`` identically (same shape required)."""
    got, want = objects(got), objects(want)
    if got.shape != want.shape:
        raise ProofFailed(f"{what}: shape {got.shape} != {want.shape}")
    for idx in np.ndindex(*got.shape):
        g, w = got[idx], want[idx]
        if g is w or g == w:      # structurally identical: nothing to prove
            continue
        require_zero(sympy.sympify(g) - sympy.sympify(w), f"{what} at {idx}")
