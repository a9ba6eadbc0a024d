"""Two namespaces in which elementwise rules are written once and read twice:
``NP`` evaluates them on NumPy arrays, ``SYM`` on sympy symbols. The symbolic
conformance test differentiates an op's forward formula with sympy and compares
it with the *same code* that autograd runs, evaluated in ``SYM``.

The functions of ``NP`` (and the array functions below it, which the other ops
call in place of np.exp, np.log, np.sqrt and np.max) also accept NumPy object
arrays of sympy expressions, so that certnn.proofs can run the ops' own real,
jvp and vjp code on symbols. On number arrays each one IS the NumPy call (same
arguments, bit-identical results).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np


def is_symbolic(x) -> bool:
    """An object array (of sympy expressions), as opposed to an array of numbers."""
    return getattr(x, "dtype", None) == object


def _sympy_map(name, x, out=None):
    import sympy
    fn = (lambda v: sympy.log(1 + v)) if name == "log1p" else getattr(sympy, name)
    y = np.frompyfunc(fn, 1, 1)(x)
    if out is None:
        return y
    out[...] = y
    return out


def exp(x, out=None):
    return _sympy_map("exp", x, out) if is_symbolic(x) else np.exp(x, out=out)


def log(x, out=None):
    return _sympy_map("log", x, out) if is_symbolic(x) else np.log(x, out=out)


def log1p(x):
    return _sympy_map("log1p", x) if is_symbolic(x) else np.log1p(x)


def tanh(x):
    return _sympy_map("tanh", x) if is_symbolic(x) else np.tanh(x)


def sqrt(x, out=None):
    return _sympy_map("sqrt", x, out) if is_symbolic(x) else np.sqrt(x, out=out)


def _erf(x):
    if is_symbolic(x):
        return _sympy_map("erf", x)
    from scipy.special import erf
    return erf(x)


def _expit(x):
    if is_symbolic(x):
        import sympy
        return np.frompyfunc(lambda v: 1 / (1 + sympy.exp(-v)), 1, 1)(x)
    from scipy.special import expit
    return expit(x)


def _sqrt(x):
    # a Python float stays a (weakly typed) Python float, so float32 arrays stay float32
    return math.sqrt(x) if isinstance(x, float) else sqrt(x)


NP = SimpleNamespace(
    exp=exp, log=log, log1p=log1p, sqrt=_sqrt, tanh=tanh, abs=np.abs,
    where=np.where, maximum=np.maximum, minimum=np.minimum, erf=_erf, expit=_expit, pi=math.pi,
    symbolic=False)


class _Sym:
    """sympy versions of the NP functions, imported on first use (sympy is slow to import)."""

    symbolic = True

    def __getattr__(self, name):
        import sympy
        table = {
            "exp": sympy.exp, "log": sympy.log, "log1p": lambda x: sympy.log(1 + x),
            "sqrt": sympy.sqrt, "tanh": sympy.tanh, "abs": sympy.Abs, "erf": sympy.erf,
            "maximum": sympy.Max, "minimum": sympy.Min, "pi": sympy.pi,
            "expit": lambda x: 1 / (1 + sympy.exp(-x)),
            "where": lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
        }
        if name not in table:
            raise AttributeError(name)
        fn = table[name]
        if not callable(fn):
            return fn
        # exact constants: sqrt(2.0) must stay sqrt(2), not 1.414...
        return lambda *args: fn(*[sympy.nsimplify(a) if isinstance(a, float | sympy.Expr) else a for a in args])


SYM = _Sym()


# ---- array functions for the ops that are not elementwise -----------------------------

def amax(x, axis, keepdims=False):
    """np.max along one axis; on symbols, sympy's ``Max`` of each row (symbols have
    no order, so the maximum stays a symbolic function of the row)."""
    if not is_symbolic(x):
        return np.max(x, axis=axis, keepdims=keepdims)
    import sympy
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    m = np.empty(len(rows), dtype=object)
    m[:] = [sympy.Max(*r, evaluate=False) for r in rows]   # no comparisons: a symbolic row
    m = m.reshape(moved.shape[:-1])
    return np.expand_dims(m, axis) if keepdims else m


def mask(m, like):
    """A boolean mask to multiply ``like`` by: the mask itself for numbers, its
    0/1 integers for symbols (sympy does not multiply by booleans)."""
    return np.asarray(m).astype(np.int64).astype(object) if np.asarray(like).dtype == object else m
