"""IBP with a linear spec folds the rows into the last affine layer (``C W h``
bounded from the box of ``h``), intersected with the rows applied to the output
box: sound, never looser than the latter, tighter where the rows cancel."""

import numpy as np

from certnn.bounds import LinearSpec, Region, compute_bounds
from certnn.bounds.ibp import node_bounds, spec_bounds
from certnn.bounds.net import analyze
from certnn.ir.graph import Graph, Node
from certnn.ir.interpret import evaluate


def _mlp(W1, b1, W2, b2) -> Graph:
    p = {k: np.asarray(v, np.float32) for k, v in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()}
    return Graph([Node("x", "input", shape=(None, W1.shape[1]))] +
                 [Node(k, "param", shape=v.shape) for k, v in p.items()] +
                 [Node("h", "linear", ("x", "W1", "b1")), Node("r", "relu", ("h",)),
                  Node("y", "linear", ("r", "W2", "b2"))], ["y"], p).validate()


def test_rows_that_cancel_inside_the_last_layer_are_exact():
    # two equal outputs: y0 - y1 is 0 everywhere; the output box alone cannot see it
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((6, 3)), rng.standard_normal(6)
    w = rng.standard_normal(6)
    g = _mlp(W1, b1, np.stack([w, w]), np.array([0.5, 0.5]))
    region = Region.ball(rng.standard_normal((2, 3)), 0.3, "inf")
    spec = LinearSpec(np.tile([[[1.0, -1.0]]], (2, 1, 1)), np.zeros((2, 1)), np.zeros(1, int))
    b = compute_bounds(g, region, spec, method="ibp")
    L = node_bounds(analyze(g), region)
    loose_lb, loose_ub = spec_bounds(*L["y"], spec)
    assert np.all(loose_lb < -0.1) and np.all(loose_ub > 0.1)
    assert np.allclose(b.lb, 0.0, atol=1e-12) and np.allclose(b.ub, 0.0, atol=1e-12)


def test_folded_rows_are_sound_and_never_looser():
    rng = np.random.default_rng(1)
    for trial in range(5):
        W1, b1 = rng.standard_normal((12, 4)), rng.standard_normal(12)
        W2, b2 = rng.standard_normal((5, 12)), rng.standard_normal(5)
        g = _mlp(W1, b1, W2, b2)
        x = rng.standard_normal((3, 4))
        region = Region.ball(x, 0.4, "inf")
        spec = LinearSpec(rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4)), np.arange(4))
        b = compute_bounds(g, region, spec, method="ibp")
        L = node_bounds(analyze(g), region)
        loose_lb, loose_ub = spec_bounds(*L["y"], spec)
        assert np.all(b.lb >= loose_lb) and np.all(b.ub <= loose_ub)
        assert np.any(b.lb > loose_lb + 1e-6)          # a random C gains somewhere
        pts = x + rng.uniform(-0.4, 0.4, (400, 3, 4))
        pts[:50] = x + 0.4 * np.sign(rng.standard_normal((50, 3, 4)))   # corners
        ys = evaluate(g, {"x": pts.reshape(-1, 4)})[0][0].reshape(400, 3, 5)
        rows = np.einsum("nko,sno->snk", spec.C, ys) + spec.d
        assert np.all(rows >= b.lb - 1e-9) and np.all(rows <= b.ub + 1e-9)


def test_an_unbounded_hidden_box_keeps_the_output_box_bound():
    # a huge region overflows the hidden box: the folded value is NaN there and
    # the rows applied to the output box stand (infinite, never NaN)
    rng = np.random.default_rng(2)
    g = _mlp(rng.standard_normal((4, 2)), np.zeros(4), rng.standard_normal((3, 4)), np.zeros(3))
    region = Region.ball(np.zeros((1, 2)), 1e308, "inf")
    spec = LinearSpec(np.array([[[1.0, -1.0, 0.0]]]), np.zeros((1, 1)), np.zeros(1, int))
    b = compute_bounds(g, region, spec, method="ibp")
    assert not np.isnan(b.lb).any() and not np.isnan(b.ub).any()
    assert b.lb[0, 0] == -np.inf and b.ub[0, 0] == np.inf
