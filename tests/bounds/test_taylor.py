"""Taylor-model bound propagation through graphs: sound on smooth and
piecewise-linear nets (sampled values inside), tight on small boxes, refuses
ops it cannot bound."""

import numpy as np
import pytest

from certnn import nn
from certnn.bounds.taylor import taylor_models
from certnn.errors import UnsupportedOp
from certnn.ir import evaluate, trace
from certnn.ir.graph import Graph, Node


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Softplus, nn.Sigmoid])
def test_sampled_values_lie_inside(act):
    rng = np.random.default_rng(0)
    m = nn.Sequential(nn.Linear(2, 12, dtype=np.float64), act(), nn.Linear(12, 12, dtype=np.float64), act(),
                      nn.Linear(12, 1, dtype=np.float64))
    g, _ = trace(m, np.zeros((1, 2)))
    for w in (1.0, 0.05):
        c = rng.uniform(-1, 1, (100, 2))
        lo, hi = c - w / 2, c + w / 2
        L, H = taylor_models(g, lo, hi)[g.outputs[0]].interval()
        pts = lo[:, None] + (hi - lo)[:, None] * rng.uniform(size=(100, 100, 2))
        v = evaluate(g, {"x": pts.reshape(-1, 2)})[0][0].reshape(100, 100)
        assert np.all(L[:, 0, None] <= v) and np.all(v <= H[:, 0, None])
        if w < 0.1:
            assert np.median((H - L)[:, 0] / (v.max(1) - v.min(1))) < 1.6


def test_unsupported_ops_are_named():
    g = Graph([Node("x", "input", shape=(None, 3), dtype="float64"), Node("s", "softmax", ("x",))], ["s"]).validate()
    with pytest.raises(UnsupportedOp, match="softmax"):
        taylor_models(g, np.zeros((1, 3)), np.ones((1, 3)))
