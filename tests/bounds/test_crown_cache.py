"""The relu lines cached across the sweeps of one optimization are the relu
rule's own, and a cached sweep gives the uncached sweep's bound."""

import numpy as np
import pytest

from certnn.bounds.crown import _cached_relu
from certnn.bounds.net import analyze
from certnn.bounds.split import relu_inputs, sweep
from certnn.ops import get_op
from certnn.verify.bab_graph import root_bounds
from tests.verify.test_bab_graph import _case


def test_cached_relu_lines_are_the_rule_s_lines():
    rng = np.random.default_rng(0)
    l = rng.standard_normal((3, 50))
    u = l + np.abs(rng.standard_normal((3, 50)))
    l[0, :5], u[0, :5] = 0.0, 0.0                        # degenerate and edge cases
    l[1, :5], u[1, :5] = -1.0, 0.0
    l[2, :5], u[2, :5] = 0.0, 2.0
    alpha = rng.uniform(-0.5, 1.5, (3, 4, 50))          # out of range too: the rule clips
    op = get_op("relu")
    cache = {}
    for _ in range(2):                                   # computed, then from the cache
        got = _cached_relu(cache, "r", op, l, u, alpha)
        want = op.relax(l[:, None], u[:, None], alpha=alpha, mode="adaptive")
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.broadcast_to(g, np.broadcast_shapes(g.shape, w.shape)),
                                          np.broadcast_to(w, np.broadcast_shapes(g.shape, w.shape)))
    got = _cached_relu(cache, "r", op, l, u, None)
    for g, w in zip(got, op.relax(l, u, mode="adaptive")):
        np.testing.assert_array_equal(g, w[:, None])


@pytest.mark.parametrize("seed", [0, 2])
def test_a_cached_sweep_is_the_uncached_sweep(seed):
    g, region, spec = _case(seed, 0.6)
    net = analyze(g)
    root = root_bounds(net, region)
    zs = list(relu_inputs(net))
    B = 3
    splits = {z: np.zeros((B,) + net.shape(z), np.int8) for z in zs}
    splits[zs[0]][1].reshape(-1)[0] = 1
    rng = np.random.default_rng(seed)
    C, d = np.repeat(spec.C, B, 0), np.repeat(spec.d, B, 0)
    lb0, _, _, saved, bounds, _ = sweep(net, region, C, d, root, splits, keep=True)
    alphas = {k: rng.uniform(0, 1, (B, C.shape[1]) + net.shape(k)) for k in saved}
    cache = {}
    for _ in range(2):
        a, *_ = sweep(net, region, C, d, root, splits, alphas, bounds=bounds, cache=cache)
        b, *_ = sweep(net, region, C, d, root, splits, alphas, bounds=bounds)
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    assert set(cache) == set(alphas)
    assert not np.allclose(a, lb0)                       # the slopes mattered


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_reverse_walk_through_cached_relus_is_the_uncached_one(dtype):
    """``_slope_grads`` with the sweep's cache works by sign only on the open
    neurons; its values and slope gradients are the full walk's, in the net's
    precision (the cached lines are cast to it: float32 steps stay float32)."""
    from certnn.bounds.crown import _slope_grads
    from certnn.bounds.split import batch_region
    g, region, spec = _case(0, 0.6)
    net = analyze(g).working(dtype)
    root = {k: (np.asarray(lo, dtype), np.asarray(hi, dtype)) for k, (lo, hi) in root_bounds(analyze(g), region).items()}
    zs = list(relu_inputs(net))
    B = 3
    splits = {z: np.zeros((B,) + net.shape(z), np.int8) for z in zs}
    splits[zs[0]][1].reshape(-1)[0] = 1
    rng = np.random.default_rng(1)
    C, d = np.repeat(spec.C, B, 0).astype(dtype), np.repeat(spec.d, B, 0).astype(dtype)
    _, _, _, saved, bounds, _ = sweep(net, region, C, d, root, splits, keep=True)
    alphas = {k: rng.uniform(0, 1, (B, C.shape[1]) + net.shape(k)).astype(dtype) for k in saved}
    cache = {}
    _, a_in, _, saved, _, _ = sweep(net, region, C, d, root, splits, alphas, keep=True, bounds=bounds, cache=cache)
    reg = batch_region(region, B)
    G1, G2 = {}, {}
    g1 = _slope_grads(net, net.output, a_in, reg, saved, bounds, values=G1)
    g2 = _slope_grads(net, net.output, a_in, reg, saved, bounds, values=G2, cache=cache)
    assert set(g1) == set(g2) == set(alphas) and set(G1) == set(G2)
    for k in G1:
        np.testing.assert_array_equal(G2[k], G1[k])
        assert G2[k].dtype == dtype
    for k in g1:
        np.testing.assert_array_equal(g2[k], g1[k])
        assert np.any(g1[k] != 0)
