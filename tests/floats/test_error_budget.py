"""The error-budget interpreter: its bound holds for binary32 execution against
the real semantics at points of the box, it refuses graphs with ops lacking an
error rule (naming them), and bad boxes are errors."""

import numpy as np
import pytest

from certnn.ir.compile import compile
from certnn.errors import UnsupportedOp
from certnn.error_budget.forward import error_budget
from certnn.floats.interval import IntervalError
from certnn import run

from ..zoo_models import build_all

MODELS = {name: (m, x) for name, m, x in build_all()}


@pytest.mark.parametrize("name", ["mlp", "zoo_mlp", "zoo_cnn", "cnn_no_avg", "cnn", "residual_bn", "mixer",
                                  "dropout_softmax"])
@pytest.mark.parametrize("eps", [0.0, 0.01])
def test_bound_holds_at_points_of_the_box(name, eps):
    from certnn import nn
    if name == "cnn_no_avg":
        m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, groups=1), nn.Tanh(), nn.MaxPool2d(2),
                          nn.Conv2d(3, 4, 3, stride=2), nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(4, 2)).eval()
        x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    else:
        m, x = MODELS[name]
    g = compile(m, x).graph
    lo, hi = x.astype(np.float64) - eps, x.astype(np.float64) + eps
    b = error_budget(g, lo, hi)
    assert b.evidence == "checked" and "hardware-float32-elementwise-ieee" in b.assumptions
    assert b.bound.shape == b.lo.shape and np.all(np.isfinite(b.bound))
    rng = np.random.default_rng(1)
    for t in range(20):
        p = (x if t == 0 else rng.uniform(lo, hi)).astype(np.float32)
        y32 = run(g, p, semantics="binary32").astype(np.float64)
        yr = run(g, p.astype(np.float64), semantics="real")
        assert np.all(np.abs(y32 - yr) <= b.bound + 1e-12 * np.abs(yr))
        assert np.all((b.lo - 1e-12 <= yr) & (yr <= b.hi + 1e-12))
    any_order = error_budget(g, lo, hi, order="any")
    assert np.all(any_order.bound >= b.bound * 0.999)  # the order-free bound is the weaker one


def test_refuses_ops_without_error_rule(monkeypatch):
    """Every op has an error rule today; an op without one (stubbed here) is named."""
    import dataclasses

    import certnn.error_budget.forward as eb
    real_get = eb.get_op
    monkeypatch.setattr(eb, "get_op", lambda name: dataclasses.replace(real_get(name), error=None)
                        if name == "batch_norm" else real_get(name))
    m, x = MODELS["residual_bn"]
    with pytest.raises(UnsupportedOp, match="batch_norm"):
        error_budget(compile(m, x).graph, x, x)


def test_bad_boxes():
    m, x = MODELS["mlp"]
    g = compile(m, x).graph
    bad = x.astype(np.float64).copy()
    bad[0, 0] = np.nan
    with pytest.raises(IntervalError):
        error_budget(g, bad, bad)
    with pytest.raises(IntervalError, match="infinite"):
        error_budget(g, x - np.inf, x + 1)
