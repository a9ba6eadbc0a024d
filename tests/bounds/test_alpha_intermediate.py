"""alpha-CROWN intermediate bounds (``intermediate_bounds(..., "alpha-crown")``):
the slopes are optimized only for neurons CROWN leaves unstable, by the
search's optimizer run on an intermediate target (``split_bounds(target=)``)."""

import numpy as np
import pytest

from certnn.bounds.crown import backward, intermediate_bounds
from certnn.bounds.net import analyze
from certnn.bounds.split import relu_inputs, split_bounds
from tests.verify.test_bab_graph import _case, _samples


def test_neurons_crown_proves_stable_keep_crowns_bounds_and_the_rest_only_tighten():
    g, region, _ = _case(0, 0.5)
    net = analyze(g)
    crown, _ = intermediate_bounds(net, region, "crown")
    alpha, _ = intermediate_bounds(net, region, "alpha-crown", 20)
    first = next(iter(relu_inputs(net)))          # the first relu input: the same earlier bounds in both
    lo_c, hi_c = (b.reshape(-1) for b in crown[first])
    lo_a, hi_a = (b.reshape(-1) for b in alpha[first])
    stable = (lo_c >= 0) | (hi_c <= 0)
    assert stable.any() and (~stable).any()
    np.testing.assert_array_equal(lo_a[stable], lo_c[stable])
    np.testing.assert_array_equal(hi_a[stable], hi_c[stable])
    gain = 0.0
    for n in relu_inputs(net):
        assert np.all(alpha[n][0] >= crown[n][0] - 1e-12) and np.all(alpha[n][1] <= crown[n][1] + 1e-12)
        gain += float(np.sum(alpha[n][0] - crown[n][0]) + np.sum(crown[n][1] - alpha[n][1]))
    assert gain > 1e-3
    _, _, vals = _samples(net, region, 6000, np.random.default_rng(2))
    for n in relu_inputs(net):
        v = np.asarray(vals[n]).reshape(6000, -1)
        assert np.all(v >= alpha[n][0].reshape(-1) - 1e-6) and np.all(v <= alpha[n][1].reshape(-1) + 1e-6)


@pytest.mark.parametrize("work", [np.float64, np.float32], ids=["float64", "float32-steps"])
def test_split_bounds_on_an_intermediate_target_is_that_nodes_sweep(work):
    g, region, _ = _case(1, 0.3)
    net = analyze(g)
    bounds, _ = intermediate_bounds(net, region, "crown")
    target = list(relu_inputs(net))[1]
    k = net.size(target)
    rows = np.concatenate([np.eye(k), -np.eye(k)])[None]                   # (1, 2k, k)
    sb = split_bounds(net, region, rows, np.zeros((1, 2 * k)), bounds, {}, iters=5, scores=False,
                      stop_positive=False, work=work, target=target)
    a_in, bias, _ = backward(net, target, rows.reshape((1, 2 * k) + net.shape(target)), bounds, sb.alphas)
    np.testing.assert_allclose(sb.lb, region.concretize_lower(a_in, bias), rtol=1e-12, atol=1e-12)
    crown_lb = -np.concatenate([-bounds[target][0].reshape(1, -1), bounds[target][1].reshape(1, -1)], axis=1)
    assert np.all(sb.lb >= crown_lb - 1e-9)


def test_an_intermediate_target_takes_no_scores():
    g, region, _ = _case(1, 0.3)
    net = analyze(g)
    bounds, _ = intermediate_bounds(net, region, "crown")
    target = list(relu_inputs(net))[0]
    k = net.size(target)
    with pytest.raises(ValueError, match="intermediate target"):
        split_bounds(net, region, np.eye(k)[None], np.zeros((1, k)), bounds, {}, target=target)
