"""Symbolic execution of the op table: NumPy object arrays of sympy symbols, and
a decision procedure for ``expression == 0`` that is fast on what the op rules
produce.

The ops' own ``real``/``jvp``/``vjp`` code runs on object arrays unchanged: NumPy
applies ``+ - * /`` and ``@`` elementwise to the sympy objects, and the few
calls that need a function (``exp``, ``log``, ``sqrt``, ``max``) go through
:mod:`certnn.ops.xp`, which maps them to sympy on object arrays.

``is_zero(e)`` proves ``e == 0`` identically, in four steps, each sound:

1. every float constant becomes the simplest rational that rounds to it
   (``sympy.nsimplify``): the code's ``0.5``, ``1e-5`` and ``2.0 / n`` stand for
   1/2, 1/100000 and 2/n. The laws are about the real-number rules the code
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
   reduced numerator is the zero polynomial (sympy's sparse field arithmetic).

Steps 2-4 can only lose information, so they may fail to prove a true identity
(then ``sympy.simplify`` gets a last try) but never prove a false one.
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


def exact(e):
    """Floats -> the simplest rationals that round to them (see the module docstring)."""
    e = sympy.sympify(e)
    floats = e.atoms(sympy.Float)
    return e.xreplace({f: sympy.nsimplify(f, rational=True) for f in floats}) if floats else e


def generic_shifts(e):
    """Each distinct ``Max(...)`` -> a fresh real symbol (see the module docstring)."""
    maxima = e.atoms(sympy.Max)
    return e.xreplace({m: sympy.Dummy("shift", real=True) for m in maxima}) if maxima else e


def _split_exps(e):
    atoms: dict = {}

    def split(arg):
        out = sympy.S.One
        for term in sympy.Add.make_args(sympy.expand(arg)):
            c, mono = term.as_coeff_Mul()
            if isinstance(mono, sympy.log) and c.is_integer:
                out *= mono.args[0] ** c
            elif c.is_integer:
                out *= atoms.setdefault(mono, sympy.Dummy("E")) ** c
            else:
                out *= atoms.setdefault(term, sympy.Dummy("E"))
        return out

    if not e.has(sympy.exp):
        return e
    return e.replace(lambda n: isinstance(n, sympy.exp), lambda n: split(n.args[0]))


def _generators(e, out: dict) -> bool:
    """Collect in ``out`` the atoms of ``e`` as a rational function: symbols,
    ``b**(1/q)`` for each fractional power ``b**(p/q)``, and every other
    non-arithmetic subterm. Returns True when ``e`` is a polynomial in them."""
    if e.is_Number:
        return True
    if e.is_Add or e.is_Mul:
        return all([_generators(a, out) for a in e.args])
    if e.is_Pow and e.exp.is_Integer:
        return _generators(e.base, out) and e.exp > 0
    if e.is_Pow and e.exp.is_Rational:
        out.setdefault(e.base ** sympy.Rational(1, e.exp.q), None)
        return e.exp > 0
    out.setdefault(e, None)
    return True


def _rational_zero(e) -> bool:
    """``e`` is zero as a polynomial (or rational function) over Q in its generators."""
    from sympy.polys.domains import QQ
    from sympy.polys.fields import field
    from sympy.polys.rings import ring
    gens: dict = {}
    polynomial = _generators(e, gens)
    if not gens:
        return e == 0
    algebra = ring if polynomial else field   # polynomial arithmetic is much faster
    return algebra(list(gens), QQ)[0].from_expr(e) == 0


def is_zero(e) -> bool:
    """True when ``e`` is identically zero (proved; see the module docstring)."""
    e = generic_shifts(exact(e))
    if e == 0:
        return True
    try:
        if _rational_zero(_split_exps(e)):
            return True
    except (ValueError, sympy.polys.polyerrors.PolynomialError, sympy.polys.polyerrors.CoercionFailed):
        pass
    return sympy.simplify(e) == 0


def require_zero(e, what: str) -> None:
    """Raise ``ProofFailed`` naming ``what`` when ``e`` is not proved to be zero."""
    if not is_zero(e):
        residual = str(sympy.simplify(generic_shifts(exact(e))))
        raise ProofFailed(f"{what}: difference does not vanish: {residual[:300]}")


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
