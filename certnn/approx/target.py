"""The function to approximate: a sympy expression on a box in R^d (d <= 3).

``Target.parse("sin(x)*cos(y)", "[0,3.14]x[0,3.14]")`` reads the expression with
a restricted parser (only the names below: no attribute access, no other
Python) and the box. Every number about the target used for a claim comes
from sound interval evaluation (:mod:`certnn.floats.symbolic_interval`) over a
subdivision of the box: its range, its Lipschitz constant and a bound on its
second derivatives (these two only steer the constructions; the certificate
does not rest on them).
"""

from __future__ import annotations

import re
import tokenize
from dataclasses import dataclass
from io import StringIO

import numpy as np
import sympy

from ..errors import CertnnError
from ..floats.symbolic_interval import compile_interval

FUNCTIONS = {"sin": sympy.sin, "cos": sympy.cos, "exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh,
             "sqrt": sympy.sqrt, "erf": sympy.erf, "abs": sympy.Abs, "Abs": sympy.Abs, "pi": sympy.pi,
             "E": sympy.E}
VARIABLES = ("x", "y", "z")


def parse_expression(text: str):
    """A sympy expression of x, y, z from ``text`` using only numbers, + - * / ** ( )
    and the functions in FUNCTIONS."""
    names = {}
    try:
        toks = list(tokenize.generate_tokens(StringIO(text).readline))
    except (tokenize.TokenError, IndentationError) as e:
        raise CertnnError(f"expression {text!r}: {e}") from None
    for t in toks:
        if t.type == tokenize.NAME:
            if t.string in VARIABLES:
                names[t.string] = sympy.Symbol(t.string, real=True)
            elif t.string not in FUNCTIONS:
                raise CertnnError(f"expression {text!r}: unknown name {t.string!r} (use {', '.join(VARIABLES)} and "
                                  f"{', '.join(sorted(FUNCTIONS))})")
        elif t.type == tokenize.OP and t.string not in "+-*/()**.,":
            raise CertnnError(f"expression {text!r}: operator {t.string!r} is not allowed")
        elif t.type not in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.NEWLINE, tokenize.ENDMARKER,
                            tokenize.NL):
            raise CertnnError(f"expression {text!r}: unexpected {t.string!r}")
    from sympy.parsing.sympy_parser import parse_expr
    try:
        e = parse_expr(text, local_dict={**FUNCTIONS, **names}, global_dict={"Integer": sympy.Integer,
                                                                           "Float": sympy.Float,
                                                                           "Rational": sympy.Rational,
                                                                           "Symbol": sympy.Symbol})
    except Exception as err:  # noqa: BLE001  (sympy raises many kinds on bad syntax)
        raise CertnnError(f"expression {text!r} does not parse ({type(err).__name__})") from None
    return sympy.sympify(e)


def parse_box(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``[a,b]x[c,d]`` (one interval per variable, joined by x or *)."""
    parts = re.findall(r"\[\s*([^,\]]+)\s*,\s*([^\]]+)\s*\]", text)
    rest = re.sub(r"\[[^\]]*\]", "", text).replace("x", "").replace("*", "").replace("×", "").strip()
    if not parts or rest:
        raise CertnnError(f"--box {text!r}: expected intervals such as [0,3.14]x[0,3.14]")
    try:
        lo = np.array([float(sympy.sympify(a, locals={"pi": sympy.pi})) for a, _ in parts])
        hi = np.array([float(sympy.sympify(b, locals={"pi": sympy.pi})) for _, b in parts])
    except (sympy.SympifyError, TypeError, ValueError):
        raise CertnnError(f"--box {text!r}: interval ends must be numbers") from None
    if not np.all(lo < hi):
        raise CertnnError(f"--box {text!r}: every interval needs lower < upper")
    return lo, hi


@dataclass(frozen=True)
class Target:
    expr: sympy.Expr
    symbols: tuple          # the variables, in input order
    lo: np.ndarray
    hi: np.ndarray

    @staticmethod
    def parse(expr: str, box: str) -> "Target":
        e = parse_expression(expr) if isinstance(expr, str) else sympy.sympify(expr)
        lo, hi = parse_box(box) if isinstance(box, str) else (np.asarray(box[0], float), np.asarray(box[1], float))
        d = len(lo)
        if not 1 <= d <= 3:
            raise CertnnError(f"the box has {d} dimensions; 1 to 3 are supported")
        syms = tuple(sympy.Symbol(v, real=True) for v in VARIABLES[:d])
        extra = e.free_symbols - set(syms)
        if extra:
            raise CertnnError(f"the expression uses {sorted(map(str, extra))} but the box has {d} dimension(s) "
                              f"({', '.join(map(str, syms))})")
        return Target(e, syms, lo, hi)

    @property
    def dim(self) -> int:
        return len(self.lo)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        f = sympy.lambdify(self.symbols, self.expr, modules=["scipy", "numpy"])
        return np.broadcast_to(np.asarray(f(*np.asarray(points, float).T), float), (len(points),)).copy()

    def interval(self, lo: np.ndarray, hi: np.ndarray, expr=None):
        """Sound enclosure of ``expr`` (default f) over boxes lo, hi (n, d)."""
        fn = compile_interval(self.expr if expr is None else expr, self.symbols)
        return fn(list(np.asarray(lo, float).T), list(np.asarray(hi, float).T))

    def cells(self, n: int):
        """The box cut into n^d equal cells: (lo, hi) arrays (n^d, d)."""
        axes = [np.linspace(a, b, n + 1) for a, b in zip(self.lo, self.hi)]
        idx = np.stack(np.meshgrid(*[np.arange(n)] * self.dim, indexing="ij"), -1).reshape(-1, self.dim)
        lo = np.stack([axes[k][idx[:, k]] for k in range(self.dim)], 1)
        hi = np.stack([axes[k][idx[:, k] + 1] for k in range(self.dim)], 1)
        return lo, hi

    def sup(self, expr, n: int = 64) -> float:
        """A sound upper bound of |expr| over the box (interval evaluation on n^d cells)."""
        lo, hi = self.interval(*self.cells(n), expr=expr)
        return float(np.max(np.maximum(np.abs(lo), np.abs(hi))))

    def range(self, n: int = 64) -> tuple[float, float]:
        lo, hi = self.interval(*self.cells(n))
        return float(lo.min()), float(hi.max())

    def lipschitz(self, n: int = 64) -> float:
        """L with |f(x) - f(y)| <= L max_i |x_i - y_i| (sum of |df/dx_i| bounds)."""
        return float(sum(self.sup(sympy.diff(self.expr, s), n) for s in self.symbols))

    def curvature(self, n: int = 64) -> float:
        """An upper bound of sum_ij |d^2 f / dx_i dx_j| over the box."""
        return float(sum(self.sup(sympy.diff(self.expr, a, b), n) for a in self.symbols for b in self.symbols))
