"""Taylor-model arithmetic: every operation's model contains the true values
at random points of random boxes; the remainder shrinks quadratically."""

import numpy as np
import sympy

from certnn.floats import taylor as tm
from certnn.floats.symbolic_interval import compile_interval


def _boxes(rng, n, w):
    c = rng.uniform(-2, 2, (n, 2))
    return c - w / 2, c + w / 2


def _contains(model, values):
    lo, hi = model.interval()
    return np.all((lo[:, None] <= values) & (values <= hi[:, None]))


def test_operations_contain_the_true_values():
    rng = np.random.default_rng(0)
    for w in (1.0, 0.1, 0.001):
        lo, hi = _boxes(rng, 200, w)
        X = tm.TM.boxes(lo, hi)
        a, b = tm.column(X, 0), tm.column(X, 1)
        pts = lo[:, None] + (hi - lo)[:, None] * rng.uniform(size=(200, 50, 2))
        p0, p1 = pts[..., 0], pts[..., 1]
        s = sympy.Dummy("s")
        th = sympy.tanh(s)
        enc = [compile_interval(e, (s,)) for e in (th, sympy.diff(th, s), sympy.diff(th, s, 2))]
        t = tm.elementwise([a], lambda p: enc[0]([p[0][0]], [p[0][1]]), lambda p: [enc[1]([p[0][0]], [p[0][1]])],
                           lambda q: [enc[2]([q[0][0]], [q[0][1]])])
        cases = [(tm.add(a, b), p0 + p1), (tm.add(a, b, -1.0), p0 - p1), (tm.mul(a, b), p0 * p1),
                 (tm.scale(a, -3.0), -3 * p0), (t, np.tanh(p0)), (tm.mul(t, tm.add(a, b)), np.tanh(p0) * (p0 + p1))]
        for model, vals in cases:
            assert _contains(model, vals), w


def test_remainder_is_second_order():
    rng = np.random.default_rng(1)
    rs = []
    for w in (0.1, 0.01):
        lo, hi = _boxes(rng, 50, w)
        X = tm.TM.boxes(lo, hi)
        rs.append(float(tm.mul(tm.column(X, 0), tm.column(X, 1)).r.max()))
    assert rs[1] < rs[0] / 50


def test_sympy_expressions():
    rng = np.random.default_rng(2)
    x, y = sympy.symbols("x y", real=True)
    e = sympy.sin(sympy.pi * x) * y ** 2 - sympy.exp(-x) / 3
    lo, hi = _boxes(rng, 100, 0.05)
    X = tm.TM.boxes(lo, hi)
    m = tm.sympy_tm(e, {x: tm.column(X, 0), y: tm.column(X, 1)}, X.h)
    pts = lo[:, None] + (hi - lo)[:, None] * rng.uniform(size=(100, 40, 2))
    f = sympy.lambdify((x, y), e)
    assert _contains(m, f(pts[..., 0], pts[..., 1]))
    assert np.all(m.abs_bound() >= np.abs(f(pts[..., 0], pts[..., 1])).max(axis=1))
