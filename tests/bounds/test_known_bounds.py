"""intermediate_bounds(..., known=...): a parent's bounds reused before the first
split and intersected after it; the result holds on every sample of the
subdomain (exact semantics) and is never looser than what it was given."""

import numpy as np

from certnn.bounds.crown import intermediate_bounds
from certnn.bounds.net import analyze
from certnn.bounds.split import batch_region, relu_inputs
from certnn.ir import evaluate
from tests.verify.test_bab_graph import _case


def test_known_bounds_hold_on_subdomains_and_only_tighten():
    g, region, _ = _case(1, 0.6)
    net = analyze(g)
    root, _ = intermediate_bounds(net, region, "crown")
    rng = np.random.default_rng(0)
    k, B = 4000, 4
    pts = rng.uniform(region.lo, region.hi, (k,) + region.shape)
    _, vals, _ = evaluate(net.graph, {net.input: pts})
    zs = list(relu_inputs(net))
    late = zs[-2]                                    # splits on a later relu input: earlier nodes are reused
    splits = {z: np.zeros((B,) + net.shape(z), np.int8) for z in zs}
    for i in range(B):
        l, u = root[late]
        unst = np.flatnonzero(((l < 0) & (u > 0)).reshape(-1))
        pick = rng.choice(unst, min(4, unst.size), replace=False)
        splits[late][i].reshape(-1)[pick] = np.where(np.asarray(vals[late])[i].reshape(-1)[pick] >= 0, 1, -1)
    known = {n: (np.repeat(lo, B, 0), np.repeat(hi, B, 0)) for n, (lo, hi) in root.items() if n != net.input}
    got, _ = intermediate_bounds(net, batch_region(region, B), "crown", splits=splits, known=known)
    fresh, _ = intermediate_bounds(net, batch_region(region, B), "crown", splits=splits)
    before = net.need[:net.need.index(late)]
    tighter = 0
    for n, (lo, hi) in known.items():
        if n in before:
            assert np.array_equal(got[n][0], lo) and np.array_equal(got[n][1], hi)     # reused as they are
        assert np.all(got[n][0] >= lo) and np.all(got[n][1] <= hi)
        assert np.all(got[n][0] >= fresh[n][0] - 1e-12) and np.all(got[n][1] <= fresh[n][1] + 1e-12)
        tighter += int(np.sum(got[n][0] > lo) + np.sum(got[n][1] < hi))
    assert tighter > 0                                # the splits tightened some later node
    for i in range(B):
        inside = np.ones(k, bool)
        for z in zs:
            s = splits[z][i].reshape(-1)
            inside &= np.all((s == 0) | (s * np.asarray(vals[z]).reshape(k, -1) >= 0), axis=1)
        assert inside[i]
        for n, (lo, hi) in got.items():
            if n == net.input:
                continue
            v = np.asarray(vals[n]).reshape(k, -1)[inside]
            assert np.all(v >= lo[i].reshape(-1) - 1e-9) and np.all(v <= hi[i].reshape(-1) + 1e-9)
