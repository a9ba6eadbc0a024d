"""Certificates of ReLU-split branch and bound: a split tree over pre-activation
signs plus a leaf certificate with per-row sign constraints and beta multipliers.
Accepted when the proof is right; rejected when a leaf is missing, a sign is
flipped, a beta is negative or too large, a crossed-bounds ("infeasible") leaf
is actually feasible, or the spec is one that dense sampling violates; and one
mnist_fc instance end to end through the CLI."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from certnn.io import benchmarks_root
from certnn.bounds import Region
from certnn.spec.linear import LinearSpec
from certnn import run
from certnn.verify.bab import verify_case
from certnn.verify.bab_certificate import write_bab_certificate
from certnn.verify.bab_checker import check_bab_certificate
from certnn.verify.bab_relu import ReluProof
from certnn.verify.certificate import load_certificate, save_certificate
from certnn.verify.checker import check_certificate

from ._models import mlp_graph

VNN = benchmarks_root() / "vnncomp2022"


def _case(seed, margin):
    """A random 3-16-16-2 net, a box, samples; the claim y0 - y1 > t with t = the
    sampled minimum minus ``margin`` (relative; negative margin: violated by a sample)."""
    g, _ = mlp_graph(100 + seed, (3, 16, 16, 2))
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-1, 0, (1, 3))
    hi = lo + rng.uniform(1.0, 2.0, (1, 3))
    x = np.concatenate([rng.uniform(lo, hi, (20000, 3)),
                        np.array(np.meshgrid(*[[lo[0, i], hi[0, i]] for i in range(3)])).reshape(3, -1).T])
    y = np.asarray(run(g, x, semantics="real"), np.float64).reshape(len(x), -1)
    m = (y[:, 0] - y[:, 1]).min()
    t = m - margin * (abs(m) + 0.1)
    spec = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-t]]), np.array([0]))
    violated = bool(((y[:, 0] - y[:, 1]) - t <= 0).any())
    return g, Region.box(lo, hi), spec, violated


def _prove(g, region, spec):
    v = verify_case(g, region, spec, timeout=30, method_hint="relu", certifiable=True)
    assert v.status == "unsat", v.stats
    assert v.stats.get("mode") == "relu-split" and "lp" not in v.stats, v.stats
    return v.proofs


@pytest.fixture(scope="module")
def relu_cert(tmp_path_factory):
    g, region, spec, violated = _case(6, 0.005)
    assert not violated
    proofs = _prove(g, region, spec)
    assert len(proofs[0].split) >= 10            # really needs ReLU splitting
    folder = tmp_path_factory.mktemp("relucert")
    path = write_bab_certificate(folder / "cert.json", g, [(region, spec)], proofs)
    return path, g, [(region, spec)]


def _copy(relu_cert, tmp_path):
    path, g, cases = relu_cert
    for f in path.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / path.name, g, cases


def _check(path, g, cases):
    return check_bab_certificate(path, g, expected_cases=cases)


def test_relu_split_certificate_is_accepted(relu_cert):
    path, g, cases = relu_cert
    res = _check(*relu_cert)
    assert res.ok, res.reasons
    doc = json.loads(path.read_text())
    assert doc["cases"][0]["kind"] == "relu" and res.leaves == len(load_certificate(
        path.with_name("cert.case0.leaves.json")).claimed)


def test_leaf_certificate_alone_is_not_a_claim_about_the_box(relu_cert):
    path, g, cases = relu_cert
    leaf = path.with_name("cert.case0.leaves.json")
    res = check_certificate(leaf, g)
    assert not res.accepted.any() and "split subdomains" in res.reasons[0]


def _edit_tree(path, fn):
    doc = json.loads(path.read_text())
    fn(doc["cases"][0]["tree"])
    path.write_text(json.dumps(doc))


def _edit_leaves(path, fn):
    leaf_path = path.with_name(json.loads(path.read_text())["cases"][0]["leaves"])
    cert = load_certificate(leaf_path)
    fn(cert)
    save_certificate(cert, leaf_path)


def _first_split(cert):
    """(node, row, neuron) of a constrained neuron."""
    for nid, s in cert.splits.items():
        rows, cols = np.nonzero(s.reshape(s.shape[0], -1))
        if rows.size:
            return nid, int(rows[0]), int(cols[0])
    raise AssertionError("no split in the certificate")


def test_leaf_removed_is_rejected(relu_cert, tmp_path):
    path, g, cases = _copy(relu_cert, tmp_path)
    _edit_tree(path, lambda t: t.pop())
    res = _check(path, g, cases)
    assert not res.ok and "coverage" in res.reasons[0]


def test_leaf_used_twice_is_rejected(relu_cert, tmp_path):
    path, g, cases = _copy(relu_cert, tmp_path)

    def dup(tree):
        leaves = [e for e in tree if e[0] == -1]
        leaves[1][1] = leaves[0][1]
    _edit_tree(path, dup)
    res = _check(path, g, cases)
    assert not res.ok and "coverage" in res.reasons[0]


def test_flipped_constraint_sign_is_rejected(relu_cert, tmp_path):
    path, g, cases = _copy(relu_cert, tmp_path)

    def flip(cert):
        nid, r, j = _first_split(cert)
        cert.splits[nid].reshape(cert.n, -1)[r, j] *= -1
    _edit_leaves(path, flip)
    res = _check(path, g, cases)
    assert not res.ok and "splits" in res.reasons[0]


def test_negative_beta_is_rejected(relu_cert, tmp_path):
    path, g, cases = _copy(relu_cert, tmp_path)

    def neg(cert):
        nid, r, j = _first_split(cert)
        cert.betas[nid].reshape(cert.n, cert.betas[nid].shape[1], -1)[r, :, j] = -0.5
    _edit_leaves(path, neg)
    res = _check(path, g, cases)
    assert not res.ok and "negative split multiplier" in res.reasons[0]


def test_beta_too_large_is_rejected(relu_cert, tmp_path):
    path, g, cases = _copy(relu_cert, tmp_path)

    def big(cert):
        for nid in cert.betas:
            cert.betas[nid] = np.where(cert.splits[nid][:, None] != 0, 1e3, cert.betas[nid])
    _edit_leaves(path, big)
    res = _check(path, g, cases)
    assert not res.ok and "spec" in res.reasons[0]


def test_betas_are_needed_for_some_leaves(relu_cert, tmp_path):
    """The checker really uses the multipliers: without them the deep leaves fail."""
    path, g, cases = _copy(relu_cert, tmp_path)

    def zero(cert):
        for nid in cert.betas:
            cert.betas[nid] = np.zeros_like(cert.betas[nid])
    _edit_leaves(path, zero)
    res = _check(path, g, cases)
    assert not res.ok and "not re-derived" in res.reasons[0]


def test_feasible_leaf_claimed_empty_is_rejected(tmp_path):
    """A producer that claims a leaf infeasible (crossed bounds) on a spec that is
    violated in the box: the checker computes its own bounds and rejects."""
    g, region, spec, violated = _case(1, -0.01)
    assert violated
    from certnn.verify.bab_mlp import extract_chain
    mlp = extract_chain(g)
    K = spec.C.shape[1]
    proof = ReluProof()
    proof.split[0], proof.kids[0], proof.n_nodes = (0, 0), (1, 2), 3
    for node, sign in ((1, 1), (2, -1)):
        sp = [np.zeros(w, np.int8) for w in mlp.widths]
        sp[0][0] = sign
        proof.leaves[node] = len(proof.rows)
        proof.rows.append({"splits": sp, "lower": [np.ones(w) for w in mlp.widths],
                           "upper": [-np.ones(w) for w in mlp.widths],
                           "alphas": [np.zeros((K, w)) for w in mlp.widths],
                           "betas": [np.zeros((K, w)) for w in mlp.widths]})
    path = write_bab_certificate(tmp_path / "c.json", g, [(region, spec)], [proof])
    res = check_bab_certificate(path, g, expected_cases=[(region, spec)])
    assert not res.ok and "not re-derived" in res.reasons[0]


@pytest.mark.parametrize("seed", range(8))
def test_certificates_only_for_specs_sampling_cannot_violate(seed, tmp_path):
    """Prove a near-tight true spec, then present the same proof for a spec a dense
    sample violates: the first is accepted, the second never."""
    g, region, spec, violated = _case(seed, 0.02)
    assert not violated
    proofs = _prove(g, region, spec)
    ok = write_bab_certificate(tmp_path / "ok.json", g, [(region, spec)], proofs)
    assert check_bab_certificate(ok, g, expected_cases=[(region, spec)]).ok
    _, _, bad_spec, bad_violated = _case(seed, -0.005)
    assert bad_violated
    bad = write_bab_certificate(tmp_path / "bad.json", g, [(region, bad_spec)], proofs)
    res = check_bab_certificate(bad, g, expected_cases=[(region, bad_spec)])
    assert not res.ok


# ---------------------------------------------------------------------------- mnist_fc via the CLI

@pytest.mark.skipif(not (VNN / "mnist_fc" / "instances.csv").exists(), reason="no VNN-COMP benchmarks")
def test_mnist_fc_relu_split_certificate_through_the_cli(tmp_path):
    folder = VNN / "mnist_fc"
    onnx, prop = folder / "onnx" / "mnist-net_256x2.onnx", folder / "vnnlib" / "prop_8_0.03.vnnlib"
    cli = [sys.executable, "-m", "certnn"]
    cert = tmp_path / "C.json"
    out = subprocess.run(cli + ["vnncomp", "run", str(onnx), str(prop), "--timeout", "60", "--out",
                                str(tmp_path / "r.txt"), "--cert", str(cert), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    assert stats["status"] == "unsat" and stats["stats"]["per_case"][0]["mode"] == "relu-split", stats
    assert stats["stats"]["per_case"][0]["branches"] > 0 and stats["stats"]["certificate"]["written"], stats
    ok = subprocess.run(cli + ["check", str(cert)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    for f in tmp_path.iterdir():
        if f.is_file():
            shutil.copy(f, bad_dir / f.name)
    doc = json.loads((bad_dir / "C.json").read_text())
    doc["model"] = os.path.relpath(onnx, bad_dir)
    (bad_dir / "C.json").write_text(json.dumps(doc))

    def flip(c):
        nid, r, j = _first_split(c)
        c.splits[nid].reshape(c.n, -1)[r, j] *= -1
    _edit_leaves(bad_dir / "C.json", flip)
    bad = subprocess.run(cli + ["check", str(bad_dir / "C.json")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1, bad.stdout + bad.stderr


def test_split_rows_need_real_semantics(relu_cert):
    path, g, cases = relu_cert
    leaf = load_certificate(path.with_name("cert.case0.leaves.json"))
    expected = {k: v.copy() for k, v in leaf.splits.items()}
    assert check_certificate(leaf, g, expected_splits=expected).ok
    leaf.semantics = "binary32"
    res = check_certificate(leaf, g, expected_splits=expected)
    assert not res.accepted.any() and "real semantics" in res.reasons[0]


def test_empty_subdomain_is_accepted_and_only_it(tmp_path):
    """Split a first-layer neuron that is negative on the whole box: its z >= 0 leaf is
    empty, so the checker accepts it even for a spec a sample violates; the z <= 0
    leaf (the whole box) is rejected for that spec."""
    from certnn.verify.bab_mlp import extract_chain
    g, region, spec, violated = _case(1, -0.01)
    assert violated
    mlp = extract_chain(g)
    lo, hi = region.lo.reshape(-1), region.hi.reshape(-1)
    W, b = mlp.weights[0], mlp.biases[0]
    upper = (hi + lo) / 2 @ W.T + b + (hi - lo) / 2 @ np.abs(W).T
    k = int(np.argmin(upper))
    assert upper[k] < -1e-3                              # a neuron negative on the whole box
    K = spec.C.shape[1]
    proof = ReluProof()
    proof.split[0], proof.kids[0], proof.n_nodes = (0, k), (1, 2), 3
    for node, sign in ((1, 1), (2, -1)):
        sp = [np.zeros(w, np.int8) for w in mlp.widths]
        sp[0][k] = sign
        proof.leaves[node] = len(proof.rows)
        proof.rows.append({"splits": sp, "lower": [np.full(w, -1e9) for w in mlp.widths],
                           "upper": [np.full(w, 1e9) for w in mlp.widths],
                           "alphas": [np.zeros((K, w)) for w in mlp.widths],
                           "betas": [np.zeros((K, w)) for w in mlp.widths]})
    path = write_bab_certificate(tmp_path / "c.json", g, [(region, spec)], [proof])
    leaf = load_certificate(tmp_path / "c.case0.leaves.json")
    res = check_certificate(leaf, g, expected_splits={r: a.copy() for r, a in leaf.splits.items()})
    row_plus = proof.leaves[1]
    assert res.accepted[row_plus] and not res.accepted[1 - row_plus]
    assert not check_bab_certificate(path, g, expected_cases=[(region, spec)]).ok
