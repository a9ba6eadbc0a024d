"""alpha-CROWN's parameter gradients (the reverse of the backward sweep) against
central differences of the bound itself, on a network with every kind of
optimizable relaxation (relu, leaky_relu, abs slopes; tanh, sigmoid tangent
points), and the optimized bounds: sound, never looser than CROWN, and tighter
on an S-shaped network."""

import numpy as np
import pytest

from certnn.bounds import Region, compute_bounds
from certnn.bounds.crown import _optimize, _slope_grads, _target_rows, backward
from certnn.bounds.net import analyze
from certnn.ir.graph import Graph, Node
from certnn.ir.interpret import evaluate
from certnn.ops.relax import ALPHA


def _mlp(acts, widths, seed):
    rng = np.random.default_rng(seed)
    nodes, params, prev, k_prev = [Node("x", "input", shape=(None, widths[0]))], {}, "x", widths[0]
    for i, (act, k) in enumerate(zip(acts + [None], widths[1:])):
        params[f"W{i}"] = (rng.normal(size=(k, k_prev)) / np.sqrt(k_prev) * 1.5).astype(np.float32)
        params[f"b{i}"] = (rng.normal(size=k) * 0.3).astype(np.float32)
        nodes += [Node(f"W{i}", "param", shape=(k, k_prev)), Node(f"b{i}", "param", shape=(k,)),
                  Node(f"h{i}", "linear", (prev, f"W{i}", f"b{i}"))]
        prev = f"h{i}"
        if act:
            nodes.append(Node(f"a{i}", act, (prev,), {"negative_slope": 0.1} if act == "leaky_relu" else {}))
            prev = f"a{i}"
        k_prev = k
    return Graph(nodes, [prev], params).validate()


MIXED = (["tanh", "relu", "sigmoid", "leaky_relu", "abs"], [4, 8, 8, 8, 8, 8, 3])


def test_slope_gradients_match_central_differences():
    g = _mlp(*MIXED, seed=0)
    net = analyze(g)
    rng = np.random.default_rng(1)
    region = Region.ball(rng.normal(size=(2, 4)), 0.4, "inf")
    bounds = compute_bounds(g, region, method="crown").intermediate
    bounds = {**bounds, net.input: (region.lo, region.hi)}
    A0 = _target_rows(net, net.output, 2)
    _, _, saved = backward(net, net.output, A0, bounds, None, "adaptive", keep=True)
    alphas = {}
    for k, v in saved.items():  # random parameters strictly inside their ranges
        n = net.nodes[k]
        l, u = (b[:, None] for b in bounds[n.inputs[0]])
        lo, hi = ALPHA[n.op].bounds(l, u, **n.attrs)
        base = ALPHA[n.op].init(l, u, v[0].shape, "adaptive", **n.attrs)
        lo, hi = np.broadcast_to(lo, base.shape), np.broadcast_to(hi, base.shape)
        alphas[k] = lo + (hi - lo) * rng.uniform(0.2, 0.8, base.shape)
    assert {net.nodes[k].op for k in alphas} == {"tanh", "relu", "sigmoid", "leaky_relu", "abs"}

    def total(al):
        a_in, bias, _ = backward(net, net.output, A0, bounds, al, "adaptive")
        return region.concretize_lower(a_in, bias).sum()

    a_in, bias, saved = backward(net, net.output, A0, bounds, alphas, "adaptive", keep=True)
    grads = _slope_grads(net, net.output, a_in, region, saved, bounds)
    checked = 0
    for k, a in alphas.items():
        flat = a.reshape(-1)
        for j in rng.choice(flat.size, size=min(25, flat.size), replace=False):
            h = 1e-6
            up, dn = {**alphas, k: a.copy()}, {**alphas, k: a.copy()}
            up[k].reshape(-1)[j] += h
            dn[k].reshape(-1)[j] -= h
            fd = (total(up) - total(dn)) / (2 * h)
            assert grads[k].reshape(-1)[j] == pytest.approx(fd, rel=1e-4, abs=1e-6), (net.nodes[k].op, np.unravel_index(j, a.shape))
            checked += abs(fd) > 1e-6
    assert checked > 20  # most sampled parameters matter


@pytest.mark.parametrize("acts", [["tanh", "tanh"], ["sigmoid", "sigmoid"], MIXED[0][:3]])
def test_alpha_crown_is_sound_and_tighter_on_s_shaped_networks(acts):
    widths = [4] + [16] * len(acts) + [3]
    g = _mlp(acts, widths, seed=len(acts))
    rng = np.random.default_rng(2)
    region = Region.ball(rng.normal(size=(3, 4)), 0.3, "inf")
    crown = compute_bounds(g, region, method="crown")
    alpha = compute_bounds(g, region, method="alpha-crown", iters=30)
    assert np.all(alpha.lb >= crown.lb - 1e-12) and np.all(alpha.ub <= crown.ub + 1e-12)
    gain = 1 - (alpha.ub - alpha.lb).mean() / (crown.ub - crown.lb).mean()
    assert gain > 0.02, gain
    pts = region.lo + (region.hi - region.lo) * rng.random((2000,) + region.lo.shape)
    ys = evaluate(g, {"x": pts.reshape(-1, 4)})[0][0].reshape(2000, 3, 3)
    assert np.all(ys >= alpha.lb - 1e-9) and np.all(ys <= alpha.ub + 1e-9)
