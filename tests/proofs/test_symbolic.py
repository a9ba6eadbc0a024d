"""The zero test behind every symbolic proof: it proves true identities of the
shapes the op rules produce, and never proves a false one."""

import numpy as np
import pytest
import sympy

from certnn.proofs import symbolic as S
from certnn.proofs.theorems import ProofFailed

x, y, z, m = sympy.symbols("x y z m", real=True)


@pytest.mark.parametrize("e", [
    (x + y) ** 2 - x ** 2 - 2 * x * y - y ** 2,
    sympy.exp(x - m) / (sympy.exp(x - m) + sympy.exp(y - m)) - sympy.exp(x) / (sympy.exp(x) + sympy.exp(y)),
    x - sympy.Max(x, y) - sympy.log(sympy.exp(x - sympy.Max(x, y)) + sympy.exp(y - sympy.Max(x, y)))
    - (x - sympy.log(sympy.exp(x) + sympy.exp(y))),                          # stable log-softmax
    (x ** 2 + 1) ** sympy.Rational(-3, 2) * y - y / sympy.sqrt(x ** 2 + 1) ** 3,
    0.5 * x - x / 2,                                                         # floats read exactly
    sympy.tanh(x) ** 2 * y - y * sympy.tanh(x) * sympy.tanh(x),
])
def test_true_identities_are_proved(e):
    assert S.is_zero(e)


@pytest.mark.parametrize("e", [
    x - y,
    (x + y) ** 2 - x ** 2 - y ** 2,
    x - x + sympy.Rational(1, 10 ** 30),
    sympy.exp(x) / (sympy.exp(x) + sympy.exp(y)) - sympy.exp(y) / (sympy.exp(x) + sympy.exp(y)),
    sympy.Max(x, y) - x,                       # the shift is not arbitrary here
    sympy.log(sympy.exp(x) + sympy.exp(y)) - x,
])
def test_false_identities_are_not(e):
    assert not S.is_zero(e)


def test_require_helpers_name_the_failure():
    with pytest.raises(ProofFailed, match="the thing"):
        S.require_zero(x - y, "the thing")
    a = S.symbols("a", (2,))
    S.require_equal_arrays(a + a, 2 * a, "doubling")
    with pytest.raises(ProofFailed, match="shape"):
        S.require_equal_arrays(a, a[:1], "shapes")
    with pytest.raises(ProofFailed, match=r"at \(1,\)"):
        S.require_equal_arrays(a, np.array([a[0], a[0]]), "entries")


def test_shift_free_proves_independence_of_the_shift():
    mx = sympy.Max(x, y, evaluate=False)
    e = sympy.exp(x - mx) / (sympy.exp(x - mx) + sympy.exp(y - mx))
    assert mx not in S.shift_free(e).atoms(sympy.Max)
    with pytest.raises(ProofFailed, match="depends on the max shift"):
        S.shift_free(x - mx)
