"""Interval value and gradient of a network (the op table's interval and derivative
rules over intervals) contain the real value and gradient at every sampled point."""

import numpy as np
import pytest

from certnn import nn
from certnn.control import expr as ex
from certnn.control.derivatives import inside_open_ball, lie_bounds, value_and_gradient
from certnn.ir import evaluate
from certnn.ir.trace import trace
from certnn.random import manual_seed


def _net(act):
    manual_seed(1)
    layers = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}[act]
    m = nn.Sequential(nn.Linear(2, 12, dtype=np.float64), layers(), nn.Linear(12, 6, dtype=np.float64), layers(),
                      nn.Linear(6, 1, dtype=np.float64)).eval()
    return trace(m, np.zeros((1, 2)))[0]


def _grad_fd(g, x, h=1e-6):
    f = lambda z: evaluate(g, {g.inputs[0].id: z})[0][0][:, 0]  # noqa: E731
    return np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(2)], 0)


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_value_and_gradient_enclose_samples(act):
    g = _net(act)
    rng = np.random.default_rng(0)
    c = rng.uniform(-1, 1, (30, 2))
    w = rng.uniform(0.01, 0.3, (30, 2))
    lo, hi = c - w, c + w
    (vl, vh), (gl, gh) = value_and_gradient(g, lo, hi)
    for s in range(20):
        x = lo + rng.uniform(0, 1, lo.shape) * (hi - lo)
        y = evaluate(g, {g.inputs[0].id: x})[0][0][:, 0]
        assert np.all(y >= vl[:, 0]) and np.all(y <= vh[:, 0])
        d = _grad_fd(g, x)
        assert np.all(d >= gl[..., 0] - 1e-6) and np.all(d <= gh[..., 0] + 1e-6)
    # on points the enclosure is tight
    (pl, ph), (ql, qh) = value_and_gradient(g, c, c)
    assert np.max(ph - pl) < 1e-12 and (act == "relu" or np.max(qh - ql) < 1e-12)


def test_lie_derivative_and_ball():
    g = _net("tanh")
    manual_seed(2)
    u = trace(nn.Sequential(nn.Linear(2, 1, dtype=np.float64)).eval(), np.zeros((1, 2)))[0]
    tape = ex.compile_tape([ex.parse(e, ["a", "b", "u"], "f") for e in ("b", "sin(a) - b + u")])
    lo, hi = np.array([[0.2, -0.3]]), np.array([[0.3, -0.1]])
    (vl, vh), (dl, dh) = lie_bounds(g, u, tape, ["a", "b"], "u", lo, hi)
    rng = np.random.default_rng(3)
    for x in lo + rng.uniform(0, 1, (50, 2)) * (hi - lo):
        grad = _grad_fd(g, x[None])[:, 0]
        uu = evaluate(u, {u.inputs[0].id: x[None]})[0][0][0, 0]
        vdot = grad @ np.array([x[1], np.sin(x[0]) - x[1] + uu])
        assert dl[0] - 1e-6 <= vdot <= dh[0] + 1e-6
    assert inside_open_ball(np.array([[0.01, 0.02]]), np.array([[0.05, 0.06]]), 0.1).all()
    assert not inside_open_ball(np.array([[0.0, 0.0]]), np.array([[0.08, 0.08]]), 0.1).any()   # corner at 0.113
