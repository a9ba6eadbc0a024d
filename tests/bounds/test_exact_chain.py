"""Nodes whose interval image is their exact range skip CROWN: one affine map of
the input box with reshapes around it (a 1-D convolution's import), and reshapes
of relus of a bounded node (a 1-D net's reshape before max pooling). Their bounds
equal the slow paths' up to rounding, are never looser than CROWN's, and contain
sampled values."""

import numpy as np
import pytest

from certnn.bounds import Region
from certnn.bounds import net as net_mod
from certnn.bounds.crown import _target_rows, backward, intermediate_bounds
from certnn.bounds.net import analyze, exact_chain, prefix_bounds
from certnn.ir.graph import Graph, Node
from certnn.ir.interpret import evaluate


def _conv1d_net(rng, length=40):
    """x (N, 2, L) -> reshape (N, 2, 1, L) -> conv (1x5) -> reshape (N, 6, L-4) -> relu
    -> reshape (N, 6, 1, L-4) -> max pool (1x2) -> flatten -> linear -> relu -> linear."""
    m = length - 4
    p = {"w": rng.normal(size=(6, 2, 1, 5)), "b": rng.normal(size=6),
         "w2": rng.normal(size=(8, 6 * (m // 2))) / 8, "w3": rng.normal(size=(3, 8))}
    pool = {"kernel_size": (1, 2), "stride": (1, 2), "padding": (0, 0), "dilation": (1, 1)}
    nodes = [Node("x", "input", shape=(None, 2, length))] + [Node(k, "param", shape=v.shape) for k, v in p.items()]
    nodes += [Node("x4", "reshape", ("x",), {"shape": (-1, 2, 1, length)}),
              Node("c", "conv2d", ("x4", "w", "b"), {"stride": (1, 1), "padding": (0, 0)}),
              Node("c3", "reshape", ("c",), {"shape": (-1, 6, m)}), Node("r", "relu", ("c3",)),
              Node("r4", "reshape", ("r",), {"shape": (-1, 6, 1, m)}), Node("mp", "max_pool2d", ("r4",), pool),
              Node("f", "flatten", ("mp",)), Node("h", "linear", ("f", "w2")), Node("hr", "relu", ("h",)),
              Node("y", "linear", ("hr", "w3"))]
    return Graph(nodes, ["y"], {k: v.astype(np.float32) for k, v in p.items()}).validate()


def test_chains():
    net = analyze(_conv1d_net(np.random.default_rng(0)))
    assert exact_chain(net, "c3", {"x"}, affine_ops=1) == ["x4", "c", "c3"]
    assert exact_chain(net, "c3", {"x"}) is None                      # the conv is not a rearrangement
    assert exact_chain(net, "r4", {"c3"}) == ["r", "r4"]
    assert exact_chain(net, "h", {"x"}, affine_ops=1) is None          # max pooling on the way


def test_prefix_through_reshapes_equals_the_jacobian_path(monkeypatch):
    rng = np.random.default_rng(1)
    net = analyze(_conv1d_net(rng))
    x = rng.normal(size=(3, 2, 40))
    region = Region.box(x - 0.1, x + 0.1)
    slow = prefix_bounds(net, "c3", region)                          # small: the Jacobian path
    assert "c3" in net._jac
    monkeypatch.setattr(net_mod, "JACOBIAN_MAX", 0)
    net = analyze(_conv1d_net(np.random.default_rng(1)))
    fast = prefix_bounds(net, "c3", region)
    assert not net._jac                                              # the interval path, no Jacobian
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert np.all(fast[0] <= slow[0] + 1e-12) and np.all(fast[1] >= slow[1] - 1e-12)


@pytest.mark.parametrize("method", ["crown", "alpha-crown"])
def test_reshape_of_a_relu_gets_the_exact_range(method):
    rng = np.random.default_rng(2)
    g = _conv1d_net(rng)
    net = analyze(g)
    x = rng.normal(size=(2, 2, 40))
    region = Region.box(x - 0.3, x + 0.3)
    b, _ = intermediate_bounds(net, region, method, iters=3)
    lo, hi = b["r4"]
    zl, zh = b["c3"]
    np.testing.assert_array_equal(lo, np.maximum(zl, 0).reshape(lo.shape))
    np.testing.assert_array_equal(hi, np.maximum(zh, 0).reshape(hi.shape))
    # CROWN's own rows for the node are never tighter than that range
    a_in, bias, _ = backward(net, "r4", _target_rows(net, "r4", region.n), b)
    crown = region.concretize_lower(a_in, bias).reshape(region.n, 2, -1)
    assert np.all(lo.reshape(region.n, -1) >= crown[:, 0] - 1e-9)
    assert np.all(hi.reshape(region.n, -1) <= -crown[:, 1] + 1e-9)
    xs = x[:, None] + rng.uniform(-0.3, 0.3, (2, 500, 2, 40))
    _, values, _ = evaluate(g, {"x": xs.reshape(-1, 2, 40)})
    v = values["r4"].reshape((2, 500) + lo.shape[1:])
    assert np.all(v >= lo[:, None] - 1e-6) and np.all(v <= hi[:, None] + 1e-6)
