"""CROWN rows of single neurons on windows equal the dense sweep's, and a prefix
node's box radius from its (sparse) |J| equals the dense product."""

import numpy as np

from certnn.bounds import Region
from certnn.bounds import window
from certnn.bounds.crown import _relaxation, backward, intermediate_bounds
from certnn.bounds.net import analyze, prefix_bounds
from certnn.ir.graph import Graph, Node
from certnn.ops import get_op


def _resnet_like(rng):
    """x -> conv(s2) -> relu -> conv(s1, straight on) + shortcut conv(1x1, s2) of x
    -> conv(4x4, s2) -> relu -> linear: windows cross a conv after a conv, an add,
    a relu and the maps' borders (virtual positions)."""
    s2, s1 = {"stride": (2, 2), "padding": (1, 1)}, {"stride": (1, 1), "padding": (1, 1)}
    p = {"w1": rng.normal(size=(4, 2, 3, 3)), "b1": rng.normal(size=4), "w1b": rng.normal(size=(4, 4, 3, 3)) / 3,
         "ws": rng.normal(size=(4, 2, 1, 1)), "w2": rng.normal(size=(5, 4, 4, 4)) / 4, "b2": rng.normal(size=5),
         "wo": rng.normal(size=(3, 180)) / 10}
    nodes = [Node("x", "input", shape=(None, 2, 24, 24))] + [Node(k, "param", shape=v.shape) for k, v in p.items()]
    nodes += [Node("c1", "conv2d", ("x", "w1", "b1"), s2), Node("r1", "relu", ("c1",)),
              Node("c1b", "conv2d", ("r1", "w1b"), s1),
              Node("sc", "conv2d", ("x", "ws"), {"stride": (2, 2), "padding": (0, 0)}),
              Node("res", "add", ("c1b", "sc")), Node("c2", "conv2d", ("res", "w2", "b2"), s2),
              Node("r2", "relu", ("c2",)), Node("flat", "flatten", ("r2",)), Node("out", "linear", ("flat", "wo"))]
    return Graph(nodes, ["out"], {k: v.astype(np.float32) for k, v in p.items()}).validate()


def _box(rng, n=2):
    x = rng.uniform(0, 1, size=(n, 2, 24, 24))
    return Region.box(x - 0.05, x + 0.05)


def test_window_rows_equal_the_dense_sweep():
    rng = np.random.default_rng(0)
    net, region = analyze(_resnet_like(rng)), _box(rng)
    planned = window.plan(net, "c2")
    assert planned is not None                      # the test is about the window path
    bounds, _ = intermediate_bounds(net, region, "crown")
    k = net.size("c2")
    rows = np.concatenate([np.arange(k), np.arange(k)])
    signs = np.concatenate([np.ones(k), -np.ones(k)])
    got = window.window_lower(net, "c2", rows, signs, bounds, region,
                              lambda r: _relaxation(net, r, bounds, None, "adaptive"), planned)
    eye = np.eye(k).reshape((k,) + net.shape("c2"))
    A0 = np.broadcast_to(np.concatenate([eye, -eye])[None], (region.n, 2 * k) + net.shape("c2"))
    a_in, bias, _ = backward(net, "c2", A0, bounds)
    want = region.concretize_lower(a_in, bias)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_prefix_box_radius_from_sparse_abs_jacobian_is_exact():
    rng = np.random.default_rng(1)
    net, region = analyze(_resnet_like(rng)), _box(rng)
    J = net.jacobian("c1")
    lo, hi = prefix_bounds(net, "c1", region)
    c, r = (region.lo + region.hi) / 2, (region.hi - region.lo) / 2
    n = get_op("conv2d").real(c, net.const("w1"), net.const("b1"), stride=(2, 2), padding=(1, 1),
                              dilation=(1, 1), groups=1).reshape(region.n, -1)
    rad = r.reshape(region.n, -1) @ np.abs(J).T
    np.testing.assert_allclose(lo.reshape(region.n, -1), n - rad, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(hi.reshape(region.n, -1), n + rad, rtol=1e-13, atol=1e-13)
    # and the sparse |J| is what carried it (a conv's Jacobian is mostly zeros)
    assert not isinstance(net._abs_jac["c1"], np.ndarray)
