"""Problem descriptions, the reference solution, the error theorems' conditions."""

import dataclasses

import numpy as np
import pytest
import sympy

from certnn.errors import CertnnError
from certnn.pinn.error import check_theorem, error_bound
from certnn.pinn.problems import PROBLEMS, get_problem, u_t, u_x, u_xx
from certnn.pinn.reference import burgers_cole_hopf


@pytest.mark.parametrize("name", [n for n, p in PROBLEMS.items() if p.solution is not None])
def test_closed_forms_solve_their_problems(name):
    assert all(e == 0 for e in PROBLEMS[name].check_solution())


def test_derivative_symbols_parse_to_multi_indices():
    p = get_problem("burgers")
    assert {s.name: m for s, m in p.derivative_symbols().items()} == {"u": (), "u_t": (0,), "u_x": (1,),
                                                                     "u_xx": (1, 1)}
    bad = dataclasses.replace(p, equation=p.equation + sympy.Symbol("u_z", real=True))
    with pytest.raises(CertnnError, match="u_z"):
        bad.derivative_symbols()


def test_unknown_problem_names_the_known_ones():
    with pytest.raises(CertnnError, match="burgers"):
        get_problem("navier-stokes")


def test_cole_hopf_reference():
    x = np.linspace(-1, 1, 41)
    np.testing.assert_allclose(burgers_cole_hopf(np.zeros_like(x), x), -np.sin(np.pi * x), atol=1e-14)
    t = np.full_like(x, 0.6)
    assert np.abs(burgers_cole_hopf(t, x, nodes=200) - burgers_cole_hopf(t, x, nodes=400)).max() < 1e-12
    # the reference satisfies Burgers' equation (central differences at a smooth point)
    nu, h, t0, x0 = 0.01 / np.pi, 1e-4, 0.3, 0.5
    f = lambda t, x: burgers_cole_hopf(np.array([t]), np.array([x]))[0]  # noqa: E731
    ut = (f(t0 + h, x0) - f(t0 - h, x0)) / (2 * h)
    ux = (f(t0, x0 + h) - f(t0, x0 - h)) / (2 * h)
    uxx = (f(t0, x0 + h) - 2 * f(t0, x0) + f(t0, x0 - h)) / h ** 2
    assert abs(ut + f(t0, x0) * ux - nu * uxx) < 1e-5


def test_error_theorems_check_their_conditions():
    heat, poisson = get_problem("heat"), get_problem("poisson")
    assert check_theorem(heat) == "maximum-principle-heat"
    assert check_theorem(poisson) == "maximum-principle-poisson"
    # heat: k = 1 on [0, 1] x [0, 1]: min(T, 1/(8k)) = 1/8; Poisson on the unit square: 1/8
    assert 0.3125 <= error_bound(heat, 0.5, 0.25)[0] <= 0.3125 * (1 + 1e-12)
    assert 0.1 <= error_bound(poisson, 0.8, 0.0)[0] <= 0.1 * (1 + 1e-12)
    slow = dataclasses.replace(heat, equation=u_t - u_xx / 100)        # k = 1/100: the time horizon T wins
    assert 0.75 <= error_bound(slow, 0.5, 0.25)[0] <= 0.75 * (1 + 1e-12)
    with pytest.raises(CertnnError, match="k > 0"):      # backward heat equation: no maximum principle
        check_theorem(dataclasses.replace(heat, equation=u_t + u_xx))
    with pytest.raises(CertnnError, match="prescribed"):   # a boundary face left free
        check_theorem(dataclasses.replace(heat, conditions=heat.conditions[:2]))
    with pytest.raises(CertnnError, match="linear"):
        check_theorem(dataclasses.replace(heat, equation=u_t - u_xx + sympy.Symbol("u", real=True) * u_x))
    with pytest.raises(CertnnError, match="no error theorem"):
        check_theorem(get_problem("burgers"))
