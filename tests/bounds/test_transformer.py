"""CROWN through a transformer: layer norm (tangent planes), softmax (tangent
planes), Q K^T and attention x V (McCormick planes) and GELU (its lines) are all
relaxed, none falls back to its interval; the bounds of a 2-block ViT contain
sampled outputs at small radii, where they are far tighter than IBP's."""

import numpy as np
import pytest

from certnn import zoo
from certnn.bounds import Region, compute_bounds
from certnn.bounds.net import analyze
from certnn.ir.interpret import evaluate
from certnn.ir.trace import trace
from certnn.random import manual_seed


@pytest.fixture(scope="module")
def vit():
    manual_seed(11)
    m = zoo.vit(image_size=14, patch=7, dim=8, depth=2, heads=2, mlp_ratio=2).eval()
    x = np.random.default_rng(0).random((2, 1, 14, 14)).astype(np.float32)
    return trace(m, x)[0], x


def test_every_transformer_op_is_relaxed(vit):
    net = analyze(vit[0])
    kinds = {net.nodes[k].op: v for k, v in net.kind.items()}
    assert kinds["layer_norm"] == kinds["softmax"] == kinds["matmul"] == "planes"
    assert kinds["gelu"] == "relax"
    assert "interval" not in net.kind.values()


@pytest.mark.parametrize("eps", [1e-3, 1e-2])
def test_crown_contains_sampled_outputs_and_beats_ibp(vit, eps):
    g, x = vit
    region = Region.ball(x.astype(np.float64), eps, "inf")
    rng = np.random.default_rng(1)
    u = rng.random((200,) + x.shape)
    pts = region.lo + u * (region.hi - region.lo)
    pts[:100] = np.where(u[:100] < 0.5, region.lo, region.hi)           # corners
    ys = np.asarray(evaluate(g, {g.inputs[0].id: pts.reshape((-1,) + x.shape[1:])})[0][0], np.float64)
    ys = ys.reshape(200, x.shape[0], -1)
    c, i = compute_bounds(g, region, method="crown"), compute_bounds(g, region, method="ibp")
    tol = 1e-9 * (1 + np.abs(ys).max())
    assert np.all(ys >= c.lb[None] - tol) and np.all(ys <= c.ub[None] + tol)
    assert c.interval_nodes == ()
    if eps <= 1e-3:        # at 1e-2 both reach the last layer norm's a-priori bound on this random net
        assert np.mean(c.ub - c.lb) < np.mean(i.ub - i.lb) / 3
