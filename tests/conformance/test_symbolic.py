"""Elementwise ops: the sympy derivative of the forward formula equals the
partial-derivative code that the vjp/jvp rules run (evaluated on sympy symbols),
on each side of every kink; and the sympy form agrees numerically with the real rule."""

import numpy as np
import pytest
import sympy

from certnn.ops import all_ops
from certnn.proofs.derivatives import prove_elementwise_derivative

ELEMENTWISE = [op for op in all_ops() if op.elementwise]


@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda o: o.name)
def test_sympy_derivative_equals_vjp_rule(op):
    # the proof is the theorem vjp-derivative/<op> of `certnn prove`
    assert "partial derivatives equal" in prove_elementwise_derivative(op)


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
