"""Sound interval evaluation of sympy expressions: enclosures hold at random
points of random boxes (incl. sin/cos around their extrema and Piecewise
across its branch boundary), degenerate boxes are tight, unsupported
functions are refused."""

import math

import numpy as np
import pytest
import sympy

from certnn.errors import CertnnError
from certnn.floats.symbolic_interval import compile_interval, cos, number, sin

x, y = sympy.symbols("x y", real=True)
EXPRS = [sympy.sin(x) * sympy.cos(y), x ** 3 - 2 * x, sympy.tanh(x) ** 2 * (1 - sympy.tanh(x) ** 2),
         sympy.Piecewise((1 / (1 + sympy.exp(-x)), x >= 0), (sympy.exp(x) / (1 + sympy.exp(x)), True)),
         sympy.sqrt(x ** 2 + 1) ** 3, 1 / (x ** 2 + 1) + y, sympy.Rational(1, 100) / sympy.pi * x,
         sympy.erf(x) * sympy.exp(-x ** 2), sympy.Abs(x - y) + sympy.Max(x, y), x ** -2]


@pytest.mark.parametrize("e", EXPRS, ids=str)
def test_enclosures_hold(e):
    f = compile_interval(e, (x, y))
    g = sympy.lambdify((x, y), e, modules=["scipy", "numpy"])
    rng = np.random.default_rng(0)
    for r in (0.0, 1e-9, 0.1, 1.0, 5.0):
        c = rng.uniform(-4, 4, (2, 300))
        rad = rng.uniform(0, r, (2, 300))
        lo, hi = f([c[0] - rad[0], c[1] - rad[1]], [c[0] + rad[0], c[1] + rad[1]])
        for _ in range(20):
            p = c + rng.uniform(-1, 1, (2, 300)) * rad
            with np.errstate(all="ignore"):
                v = np.broadcast_to(g(p[0], p[1]), lo.shape)
            assert np.all(np.isnan(v) | ((lo <= v) & (v <= hi))), (e, r)


def test_sin_cos_reach_their_extrema_and_are_tight_elsewhere():
    lo, hi = sin(np.array([1.5, 2.0, -1.6]), np.array([1.6, 2.1, -1.5]))
    assert hi[0] == 1.0 and lo[2] == -1.0 and hi[1] < math.sin(2.0) + 1e-15 and lo[1] > math.sin(2.1) - 1e-15
    lo, hi = cos(np.array([-0.1, 3.1, 0.0]), np.array([0.1, 3.2, 100.0]))
    assert hi[0] == 1.0 and lo[1] == -1.0 and (lo[2], hi[2]) == (-1.0, 1.0)


def test_numbers_are_enclosed_exactly_when_possible():
    assert number(sympy.Rational(1, 2)) == (0.5, 0.5) and number(sympy.Integer(3)) == (3.0, 3.0)
    lo, hi = number(sympy.pi)
    assert lo < math.pi < hi or lo <= math.pi <= hi and hi - lo < 1e-15
    lo, hi = number(sympy.Rational(1, 3))
    assert lo < hi and lo <= 1 / 3 <= hi


def test_unsupported_functions_are_refused():
    with pytest.raises(CertnnError, match="atan"):
        compile_interval(sympy.atan(x), (x,))([np.zeros(1)], [np.ones(1)])
    with pytest.raises(CertnnError, match="symbols"):
        compile_interval(x + y, (x,))
