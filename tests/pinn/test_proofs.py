"""The PINN theorems (certnn.pinn.proofs) go through, are registered, and fail
when the code they cover is wrong."""

import pytest

from certnn.ops import derivative as D
from certnn.pinn import certify as C
from certnn.pinn import error as E
from certnn.pinn import proofs as P
from certnn.proofs import theorems as T


def _theorem(name):
    return T.registered()[name]


@pytest.mark.parametrize("name", ["pinn/heat-comparison", "pinn/poisson-comparison", "pinn/jet-tanh-2-3-1"])
def test_quick_theorems_are_registered_and_pass(name):
    out = T.run(_theorem(name))
    assert out.passed, out.detail
    assert out.evidence == "proved"


def test_results_name_registered_theorems():
    names = T.registered()
    for ref in (C.JET_THEOREMS, E.HEAT_COMPARISON, E.POISSON_COMPARISON):
        assert T.matches(ref, names), ref


@pytest.mark.parametrize("name", ["pinn/heat-comparison", "pinn/poisson-comparison"])
def test_an_error_bound_below_the_comparison_fails_its_proof(monkeypatch, name):
    real = E.error_bound

    def low(problem, R, B):
        bound, theorem = real(problem, R, B)
        return B + 0.99 * (bound - B), theorem
    monkeypatch.setattr(E, "error_bound", low)
    out = T.run(_theorem(name))
    assert not out.passed and "error_bound" in out.detail


def test_a_wrong_tanh_tangent_fails_the_jet_proof(monkeypatch):
    monkeypatch.setattr(D, "rational_partial", lambda op, params, p: 1 - D._Y)   # tanh' = 1 - y (wrong)
    out = T.run(_theorem("pinn/jet-tanh-2-3-1"))
    assert not out.passed and "derivative" in out.detail


def test_the_maximum_principle_itself_stays_an_assumption():
    assert E.HEAT in E.ASSUMPTIONS and E.POISSON in E.ASSUMPTIONS
    assert "maximum-principle-heat" in _theorem("pinn/heat-comparison").statement
    assert P.THEOREMS
