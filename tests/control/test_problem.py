"""The problem reader: the shared benchmarks, exact numbers, and bad files (one error naming the field)."""

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest
import sympy

from certnn.control import expr as ex
from certnn.control.network import load_npz, load_polar
from certnn.control.problem import ProblemError, load_problem
from certnn.control.simulate import Loop, margins, simulate
from certnn.ir.run import run

from ._problems import bench, copy_bench, toy


def test_benchmarks_read_with_exact_numbers():
    p = load_problem(bench("InvertedPendulum"))
    assert p.time == "continuous" and p.states == ("theta", "theta_dot") and p.period == Fraction(1, 20)
    theta, tdot, T = (sympy.Symbol(n, real=True) for n in ("theta", "theta_dot", "T"))
    assert p.dynamics[1] == 2 * sympy.sin(theta) + 8 * T
    v = p.scenario("verification")
    assert v.steps == 20 and v.expected == "verified"
    assert v.lo[0] == 1.0 and v.hi[0] >= 1.175 and Fraction(float(v.hi[0])) >= Fraction("1.175")
    assert v.prop.window == (Fraction(1, 2), Fraction(1))
    f = p.scenario("falsification")
    assert f.steps == 11 and f.prop.window == (Fraction(1, 2), Fraction(11, 20)) and len(f.prop.unsafe) == 1
    acc = load_problem(bench("ACC"))
    c = acc.controller_of(acc.scenarios[0])
    assert c.inputs[0] == 30 and c.inputs[1] == sympy.Rational(7, 5)
    mc = load_problem(bench("Mountain_Car"))
    assert mc.time == "discrete" and mc.scenarios[0].prop.target_window == (150, 150)


def test_polar_file_matches_the_npz_network():
    folder = bench("Mountain_Car")
    g1 = load_npz(folder / "controller.npz")
    g2, offset, scale = load_polar(folder / "controller.polar")
    assert (offset, scale) == (0.0, 1.0)
    x = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    assert np.array_equal(run(g1, x), run(g2, x))


@pytest.mark.parametrize("name, low, high", [("InvertedPendulum", 0.0109, 0.0110), ("ACC", 24.2, 24.21)])
def test_simulation_agrees_with_the_authors(name, low, high):
    """The preparer's sanity simulations (README): the least margins of the corners."""
    p = load_problem(bench(name))
    s = p.scenarios[0]
    corners = np.array(list(itertools.product(*zip(s.lo, s.hi))))
    m = margins(s.prop, simulate(Loop.of(p, s), corners, per_period=5))
    assert low <= m.min() <= high


def test_expressions_are_never_evaluated():
    for bad in ("__import__('os').system('true')", "x.__class__", "(lambda: 1)()", "[x][0]", "x if x else 1",
                "open('f')", "x ** x", "sin(x, 2)", "y[-1]"):
        with pytest.raises(ex.ExpressionError) as e:
            ex.parse(bad, ["x"], "dynamics.x", output_name="y")
        assert "dynamics.x" in str(e.value)
    e = ex.parse("2.0*sin(x) + 0.05**2 - x/3 + tan(x)", ["x"], "f")
    tape = ex.compile_tape([e])
    from certnn.control.simulate import NP
    x = np.linspace(-1, 1, 7)
    want = 2 * np.sin(x) + 0.0025 - x / 3 + np.tan(x)
    assert np.allclose(ex.evaluate(tape, {"x": x}, NP)[0], want, rtol=1e-14, atol=1e-14)
    assert ex.parse("0.1", [], "c") == sympy.Rational(1, 10)          # the decimal, exactly


def _edit(tmp_path, change):
    return copy_bench("InvertedPendulum", tmp_path, change)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("dynamics"), "(top level)"),
    (lambda d: d["dynamics"].update(theta="theta_dot + oops"), "dynamics.theta"),
    (lambda d: d["dynamics"].update(theta="eval('1')"), "dynamics.theta"),
    (lambda d: d.update(disturbance_names=["w"], disturbance_set={"lo": [0], "hi": [1]}), "disturbance_names"),
    (lambda d: d.update(controller_switching="advisory"), "controller_switching"),
    (lambda d: d["specification"].update(unsafe_ellipsoid={"q": [1]}), "specification.unsafe_ellipsoid"),
    (lambda d: d["controller"].update(network_input=["theta"]), "controller.network_input"),
    (lambda d: d["controller"]["control_from_network_output"].update(T="y[3]"),
     "controller.control_from_network_output.T"),
    (lambda d: d["scenarios"][0].update(horizon_steps=7), "scenarios[0].horizon_steps"),
    (lambda d: d["initial_set"].update(lo=[2.0, 0.0]), "initial_set"),
    (lambda d: d.update(control_period=-1), "control_period"),
])
def test_bad_problem_files_name_the_field(tmp_path, change, field):
    folder = _edit(tmp_path, change)
    with pytest.raises(ProblemError) as e:
        load_problem(folder)
    msg = str(e.value)
    assert f"field '{field}'" in msg and "\n" not in msg


def test_controller_files_are_checked(tmp_path):
    folder = _edit(tmp_path, None)
    np.savez(folder / "controller.npz", W0=np.zeros((3, 2)), b0=np.zeros(3), activations=np.array(["relu"]))
    with pytest.raises(ProblemError, match="polar_file"):        # differs from the .polar file
        load_problem(folder)
    (folder / "controller.polar").write_text("2\n1\n1\n")
    with pytest.raises(ProblemError, match="truncated"):
        load_problem(folder)


def test_disturbances_with_stated_semantics(tmp_path):
    def add(kind):
        def extra(doc):
            doc["dynamics"]["x1"] += " + w"
            doc.update(disturbance_names=["w"], disturbance_set={"lo": [-0.01], "hi": [0.01]},
                       disturbance_semantics=kind)
        return extra
    const = load_problem(toy(tmp_path, "c", extra=add("constant")))
    assert const.states == ("x0", "x1", "w") and const.scenarios[0].hi[2] == 0.01
    held = load_problem(toy(tmp_path, "h", extra=add("zero-order-hold")))
    assert held.states == ("x0", "x1") and held.held == ("w",)
    doc = json.loads((tmp_path / "h" / "spec.json").read_text())
    assert doc["disturbance_semantics"] == "zero-order-hold"
