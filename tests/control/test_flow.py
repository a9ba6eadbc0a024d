"""Validated integration: the enclosures contain the solutions computed by SciPy,
and a priori boxes that do not pass the Picard test are rejected."""

from fractions import Fraction

import numpy as np
from scipy.integrate import solve_ivp

from certnn.control import expr as ex
from certnn.control.flow import flow_step, map_step, picard_ok
from certnn.control.taylor import affine, basis, constant, stack

F = ["x1", "-2*sin(x0) - 0.3*x1 + u"]
TAPE = ex.compile_tape([ex.parse(e, ["x0", "x1", "u"], "f") for e in F])


def _rhs(t, y, u):
    return [y[1], -2 * np.sin(y[0]) - 0.3 * y[1] + u]


def test_step_encloses_the_solutions():
    b = basis(2, 3)
    c, r = np.array([[0.5, -0.2]]), np.array([[0.05, 0.1]])
    X = stack([affine(c[:, 0], r[:, 0], 0, b), affine(c[:, 1], r[:, 1], 1, b)])
    U = constant(0.9, 1.1, b, (1,))
    h = Fraction(1, 5)
    B_lo, B_hi = np.array([[0.2, -0.6]]), np.array([[0.8, 0.4]])
    times = [(Fraction(0), Fraction(1, 10)), (Fraction(1, 10), Fraction(1, 5))]
    ok, Xh, pieces = flow_step(TAPE, ["x0", "x1"], X, {"u": U}, h, 5, B_lo, B_hi, times)
    assert ok.all()
    lo, hi = Xh.range()
    plo, phi = pieces.range()
    rng = np.random.default_rng(0)
    z = np.concatenate([[[-1, -1], [-1, 1], [1, -1], [1, 1]], rng.uniform(-1, 1, (40, 2))])
    for zz in z:
        for u in (0.9, 1.0, 1.1):
            x0 = c[0] + r[0] * zz
            sol = solve_ivp(_rhs, (0, 0.2), x0, args=(u,), rtol=1e-12, atol=1e-12, dense_output=True)
            end = sol.y[:, -1]
            # pointwise in z: the polynomial at z plus the remainder
            mono = np.prod(zz[None, :] ** b.exps, -1)
            at = Xh.c[0] @ mono
            assert np.all(end >= at + Xh.lo[0] - 1e-12) and np.all(end <= at + Xh.hi[0] + 1e-12)
            assert np.all(end >= lo[0]) and np.all(end <= hi[0])
            for j, (ta, tb) in enumerate(times):
                for t in np.linspace(float(ta), float(tb), 5):
                    x = sol.sol(t)
                    assert np.all(x >= plo[j, 0] - 1e-12) and np.all(x <= phi[j, 0] + 1e-12)
    # the enclosure is tight: within a few times the spread of the solutions
    assert np.all(hi - lo < 0.5)


def test_picard_rejects_a_box_that_is_too_small():
    b = basis(2, 2)
    X = stack([affine(np.array([0.5]), np.array([0.05]), 0, b), affine(np.array([1.0]), np.array([0.1]), 1, b)])
    U = constant(1.0, 1.0, b, (1,))
    small = (np.array([[0.44, 0.89]]), np.array([[0.56, 1.11]]))        # x0 moves by ~0.2 in 0.2 s
    assert not picard_ok(TAPE, ["x0", "x1"], X, {"u": U}, 0.2, *small).any()
    ok, _, _ = flow_step(TAPE, ["x0", "x1"], X, {"u": U}, Fraction(1, 5), 4, *small)
    assert not ok.any()
    big = (np.array([[0.3, 0.3]]), np.array([[0.9, 1.6]]))
    assert picard_ok(TAPE, ["x0", "x1"], X, {"u": U}, 0.2, *big).all()


def test_discrete_map_is_exact_up_to_rounding():
    b = basis(1, 2)
    tape = ex.compile_tape([ex.parse("x + 0.5*x**2", ["x"], "f")])
    X = stack([affine(np.array([0.25]), np.array([0.25]), 0, b)])
    Y = map_step(tape, ["x"], X, {})
    # x = 0.25 + 0.25 z  ->  0.28125 + 0.3125 z + 0.03125 z^2 exactly
    assert np.allclose(Y.c[0, 0], [0.28125, 0.3125, 0.03125]) and np.max(Y.hi - Y.lo) < 1e-15
