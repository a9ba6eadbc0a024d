"""Elementwise ops: the sympy derivative of the forward formula equals the
partial-derivative code that the vjp/jvp rules run (evaluated on sympy symbols),
on each side of every kink; and the sympy form agrees numerically with the real rule."""

import numpy as np
import pytest
import sympy

from certnn.ops import all_ops

ELEMENTWISE = [op for op in all_ops() if op.elementwise]


def _regions(syms):
    p = sympy.Symbol("p", positive=True)
    if len(syms) == 1:
        (x,) = syms
        return [{x: p}, {x: -p}]
    a, b = syms
    return [{a: b + p}, {a: b - p}]


def _attrs(op):
    return {k: (sympy.Rational(1, 10) if isinstance(v, float) else v) for k, v in op.normalize({}).items()}


@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda o: o.name)
def test_sympy_derivative_equals_vjp_rule(op):
    from certnn.ops.xp import SYM
    n = op.arity[0]
    syms = sympy.symbols(f"x0:{n}", real=True)
    attrs = _attrs(op)
    # the code writes constants as floats (0.5, 2.0): nsimplify turns them back
    # into exact numbers (1/2, sqrt(2)) so the comparison is exact
    f = sympy.nsimplify(op.sympy_form(*syms, **attrs))
    parts = [sympy.nsimplify(g) for g in op.grads(*syms, f, xp=SYM, **attrs)]
    for region in _regions(syms):
        for s, g in zip(syms, parts):
            d_auto = sympy.diff(f, s).subs(region)
            d_rule = sympy.sympify(g).subs(region)
            diff = sympy.simplify(d_auto - d_rule)
            assert diff == 0 or diff.equals(0), (op.name, s, region, d_auto, d_rule)


@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda o: o.name)
def test_sympy_form_matches_real_rule(op):
    for s in op.samples(np.random.default_rng(3)):
        syms = sympy.symbols(f"x0:{len(s.inputs)}", real=True)
        attrs = op.normalize(s.attrs)
        f = sympy.lambdify(syms, op.sympy_form(*syms, **attrs), modules=["scipy", "numpy"])
        xs = np.broadcast_arrays(*s.inputs)
        got = op.real(*s.inputs, **attrs)
        want = np.vectorize(lambda *v: float(f(*v)))(*xs)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=op.name)
