"""replay(..., binary32="hits"): the same real verdicts as a full replay, binary32
run only on the real counterexamples (agreeing with the full replay there)."""

import numpy as np

from certnn.ir.run import run
from certnn.spec.linear import LinearSpec
from certnn.spec.region import Region
from certnn.verify.attacks import pgd, replay
from tests.verify.test_bab_graph import res_graph


def test_hits_only_replay_agrees_with_full_replay_on_real_hits():
    g = res_graph(0)
    rng = np.random.default_rng(0)
    n = 40
    x = rng.uniform(0, 1, (n, 1, 8, 8))
    region = Region.box(np.zeros((n, 1, 8, 8)), np.ones((n, 1, 8, 8)))
    # the unsafe set y1 - y0 <= t, t the median over the points: half of them are in it
    y = np.asarray(run(g, x, semantics="real")).reshape(n, -1)
    C = np.zeros((n, 1, 3))
    C[:, 0, 1], C[:, 0, 0] = 1.0, -1.0
    spec = LinearSpec(C, np.full((n, 1), -np.median(y[:, 1] - y[:, 0])), np.zeros(1, int))
    real, b32, x32 = replay(g, region, spec, x)
    real_h, b32_h, x32_h = replay(g, region, spec, x, binary32="hits")
    assert 0 < real.sum() < n
    np.testing.assert_array_equal(real, real_h)
    np.testing.assert_array_equal(x32, x32_h)
    np.testing.assert_array_equal(b32_h[real], b32[real])
    assert not b32_h[~real].any()
    res = pgd(g, region, spec, steps=5, restarts=1, x0=x, binary32="hits")
    assert res.found_real.any() and np.all(res.found_binary32 <= res.found_real)
