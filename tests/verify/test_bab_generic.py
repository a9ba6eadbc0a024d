"""Generic input splitting on networks the chain engine does not take (tanh,
sigmoid, leaky relu, residual): verdicts agree with a dense grid."""

import time

import numpy as np
import pytest

from certnn import nn
from certnn.bounds import LinearSpec, Region
from certnn.ir import trace
from certnn.ir.passes import optimize
from certnn.random import manual_seed
from certnn import run
from certnn.verify.bab_generic import input_split_generic


def _net(kind, seed):
    manual_seed(seed)
    act = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[kind]
    m = nn.Sequential(nn.Linear(2, 12), act(), nn.Linear(12, 12), act(), nn.Linear(12, 2)).eval()
    g, _ = trace(m, np.zeros((1, 2), np.float32))
    return optimize(g)


def _margin_min(g, lo, hi, n=301):
    a, b = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    y = np.asarray(run(g, np.stack([a.ravel(), b.ravel()], 1))).reshape(-1, 2)
    return float(np.min(y[:, 0] - y[:, 1]))


def _replays(g, spec):
    def on_cex(rows):
        y = np.asarray(run(g, np.asarray(rows))).reshape(len(rows), -1)
        hit = np.flatnonzero(spec.rows(np.zeros(len(rows), int)).violated(y))
        return int(hit[0]) if hit.size else None
    return on_cex


@pytest.mark.parametrize("kind,seed", [("tanh", 0), ("sigmoid", 1), ("tanh", 2)])
def test_verdicts_agree_with_a_dense_grid(kind, seed):
    g = _net(kind, seed)
    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    region = Region.box(lo[None], hi[None])
    m = _margin_min(g, lo, hi)
    span = abs(m) + 1e-3
    for t, want in ((m - 0.02 * span, "unsat"), (m + 0.02 * span, "sat")):
        # claim: y0 - y1 - t > 0 everywhere (violated iff some margin <= t)
        spec = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-t]]), np.array([0]))
        res = input_split_generic(g, region, spec, time.monotonic() + 30, _replays(g, spec))
        assert res.status == want, (kind, seed, t, m, res.stats)
        if want == "sat":
            y = np.asarray(run(g, res.x[None])).reshape(-1)
            assert y[0] - y[1] <= t and np.all(res.x >= lo) and np.all(res.x <= hi)
        else:
            assert res.stats["bounded"] >= 1


def test_timeout_is_reported():
    g = _net("tanh", 0)
    region = Region.box(np.array([[-1.0, -1.0]]), np.array([[1.0, 1.0]]))
    m = _margin_min(g, [-1, -1], [1, 1])
    spec = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-(m - 1e-9)]]), np.array([0]))
    res = input_split_generic(g, region, spec, time.monotonic() - 1, _replays(g, spec))
    assert res.status == "timeout"


def test_verify_case_uses_generic_splitting_for_non_chain_networks():
    from certnn.verify.bab import verify_case
    g = _net("tanh", 0)
    region = Region.box(np.array([[-1.0, -1.0]]), np.array([[1.0, 1.0]]))
    m = _margin_min(g, [-1, -1], [1, 1])
    span = abs(m) + 1e-3
    unsat = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-(m - 0.02 * span)]]), np.array([0]))
    v = verify_case(g, region, unsat, timeout=30)
    assert v.status == "unsat" and v.stats["engine"].startswith("generic input split"), v.stats
    sat = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-(m + 0.02 * span)]]), np.array([0]))
    v = verify_case(g, region, sat, timeout=30)
    assert v.status == "sat"
    x, y = v.counterexample
    y2 = np.asarray(run(g, np.asarray(x).reshape(1, 2))).reshape(-1)
    assert y2[0] - y2[1] <= m + 0.02 * span


@pytest.mark.parametrize("kind,seed", [("tanh", 0), ("sigmoid", 1)])
def test_certifiable_generic_split_writes_a_certificate_the_checker_accepts(tmp_path, kind, seed):
    """The split tree of a tanh/sigmoid net is a certificate: its leaves are plain
    CROWN bounds, which the independent checker re-derives with its own sound lines;
    a moved split value (coverage) or a tightened leaf anchor is rejected."""
    import json

    from certnn.verify.bab import verify_property
    from certnn.verify.bab_certificate import certify
    from certnn.verify.bab_checker import check_bab_certificate
    g = _net(kind, seed)
    region = Region.box(np.array([[-1.0, -1.0]]), np.array([[1.0, 1.0]]))
    m = _margin_min(g, [-1, -1], [1, 1])
    spec = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-(m - 0.002 * (abs(m) + 1e-3))]]), np.array([0]))
    cases = [(region, spec)]
    v = verify_property(g, cases, timeout=60, certifiable=True)
    assert v.status == "unsat" and v.proofs[0] is not None and v.proofs[0].n_nodes > 1, v.stats
    info = certify(v, g, cases, None, tmp_path / "c.json")
    assert info.get("checked"), info
    path = tmp_path / "c.json"
    res = check_bab_certificate(path, g, expected_cases=cases)
    assert res.ok and res.leaves == len(v.proofs[0].leaf_lo)
    doc = json.loads(path.read_text())
    split = next(e for e in doc["cases"][0]["tree"] if e[0] >= 0)
    split[1] = split[1] + 0.25                                    # a gap between two leaves
    (tmp_path / "moved.json").write_text(json.dumps(doc))
    assert not check_bab_certificate(tmp_path / "moved.json", g, expected_cases=cases).ok
    leaves = tmp_path / doc["cases"][0]["leaves"]
    npz = leaves.with_suffix(".npz")
    arrays = dict(np.load(npz))
    key = next(k for k in arrays if k.startswith("anchor.") and k.endswith(".lo"))
    arrays[key] = arrays[key] + 0.5 * (arrays[key.replace(".lo", ".hi")] - arrays[key])
    from certnn.ir.serialize import array_digest
    ldoc = json.loads(leaves.read_text())
    ldoc["arrays"][key]["sha256"] = array_digest(arrays[key])
    np.savez(npz, **arrays)
    leaves.write_text(json.dumps(ldoc))
    assert not check_bab_certificate(path, g, expected_cases=cases).ok
