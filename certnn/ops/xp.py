"""Two namespaces in which elementwise rules are written once and read twice:
``NP`` evaluates them on NumPy arrays, ``SYM`` on sympy symbols. The symbolic
conformance test differentiates an op's forward formula with sympy and compares
it with the *same code* that autograd runs, evaluated in ``SYM``."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np


def _erf(x):
    from scipy.special import erf
    return erf(x)


def _expit(x):
    from scipy.special import expit
    return expit(x)


def _sqrt(x):
    # a Python float stays a (weakly typed) Python float, so float32 arrays stay float32
    return math.sqrt(x) if isinstance(x, float) else np.sqrt(x)


NP = SimpleNamespace(
    exp=np.exp, log=np.log, log1p=np.log1p, sqrt=_sqrt, tanh=np.tanh, abs=np.abs,
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
