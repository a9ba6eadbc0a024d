"""Certificates of the graph ReLU split on the root's intermediate bounds: one
part per spec group, per leaf only its spec slopes and split multipliers. The
checker re-derives the root's bounds once and every leaf under its constraints;
accepted proofs hold on dense samples of the exact network, tampering is
rejected, and a proof that outgrows its memory cap is dropped, not written."""

import copy
import json

import numpy as np
import pytest

from certnn.bounds.net import analyze
from certnn.bounds.split import relu_inputs
from certnn.io import read_npz, write_npz
from certnn.ir.passes import unfuse
from certnn.verify import bab_graph
from certnn.verify.bab import verify_case
from certnn.verify.bab_certificate import certify, write_bab_certificate
from certnn.verify.bab_checker import check_bab_certificate
from certnn.verify.certificate import Certificate, CertificateError, array_manifest
from certnn.verify.checker import root_intermediate

from .test_bab_graph import _case, _samples

CASES = ((2, 0.5), (0, 0.5), (1, 0.5), (3, 0.6))


@pytest.fixture(scope="module")
def proved():
    """Certifiable verdicts of small residual nets; at least one needs branching."""
    out = []
    for seed, eps in CASES:
        g, region, spec = _case(seed, eps)
        v = verify_case(g, region, spec, 30, certifiable=True)
        assert v.status == "unsat", (seed, eps, v.status)
        out.append((g, region, spec, v))
    assert any(v.stats.get("branches", 0) > 0 for *_, v in out)
    return out


def test_each_group_gets_a_part_and_the_checker_accepts_it(proved, tmp_path):
    for k, (g, region, spec, v) in enumerate(proved):
        parts = v.proofs[0]
        assert isinstance(parts, list) and sorted(p.group for p in parts) == list(range(spec.n_groups))
        assert all(p.keep is not None for p in parts)
        summary = certify(v, g, [(region, spec)], None, tmp_path / str(k) / "cert.json")
        assert summary.get("checked"), summary
        assert summary["leaves"] == sum(len(p.rows) for p in parts)
        doc = json.loads((tmp_path / str(k) / "cert.json").read_text())
        assert doc["cases"][0]["intermediate"] == "root"
        # what the checker accepted holds on dense samples of the exact network
        _, y, _ = _samples(analyze(g), region, 6000, np.random.default_rng(k))
        assert not spec.violated(np.asarray(y).reshape(len(y), -1)).any()


def test_the_checkers_root_bounds_enclose_every_sampled_relu_input(proved):
    g, region, spec, _ = proved[0]
    root = root_intermediate(Certificate("", region, spec), g)
    net = analyze(g)
    assert set(relu_inputs(net)) <= set(root)
    ours = bab_graph.root_bounds(net, region)
    _, _, vals = _samples(net, region, 6000, np.random.default_rng(9))
    for z in relu_inputs(net):
        lo, hi = root[z]
        v = np.asarray(vals[z])                   # binary32 samples: their rounding
        assert np.all(v >= lo - 1e-6) and np.all(v <= hi + 1e-6), z
        # CROWN as the producer's (up to outward rounding), also intersected with the
        # forward box, so never looser: the producer's leaves stay proved
        assert np.all(lo >= ours[z][0] - 1e-9) and np.all(hi <= ours[z][1] + 1e-9), z


def _branched(proved):
    for g, region, spec, v in proved:
        if any(p.split for p in v.proofs[0]):
            return g, region, spec, v
    raise AssertionError("no proof with a split")


def _write(proved, folder):
    g, region, spec, v = _branched(proved)
    folder.mkdir(parents=True, exist_ok=True)
    path = write_bab_certificate(folder / "c.json", g, [(region, spec)], [copy.deepcopy(v.proofs[0])])
    return g, region, spec, path


def _edit(path, edit_doc=None, edit_arrays=None):
    """Apply the edits, then restore the array hashes (so the checker's arithmetic,
    not a checksum, has to catch them)."""
    doc = json.loads(path.read_text())
    case = doc["cases"][0]
    npz = path.with_name(case["arrays"])
    arrays = read_npz(npz)
    if edit_doc is not None:
        edit_doc(case)
    if edit_arrays is not None:
        edit_arrays(case, arrays)
        write_npz(npz, arrays)
        case["manifest"] = array_manifest(arrays)
    path.write_text(json.dumps(doc))


def _split_part(case):
    return next(p for p in case["parts"] if any(e[0] >= 0 for e in p["tree"]))


def test_tampering_is_rejected(proved, tmp_path):
    def move_split(case):                   # the root splits another neuron than the leaves were proved for
        tree = _split_part(case)["tree"]
        j = next(i for i, e in enumerate(tree) if e[0] >= 0)
        tree[j] = [tree[j][0], tree[j][1] + 1]

    def drop_group(case):                   # a group no part proves
        case["parts"] = case["parts"][1:]

    def relabel(case):                      # two parts claim one group, the other group is left out
        case["parts"][1]["group"] = case["parts"][0]["group"]

    def other_box(case):
        case["root_hi"][0] += 0.01

    def negative_beta(case, arrays):
        e = _split_part(case)["betas"][0]
        arrays[e["values"]] = -np.abs(arrays[e["values"]]) - 1.0

    def steep_alpha(case, arrays):
        e = _split_part(case)["alphas"][0]
        arrays[e["values"]] = arrays[e["values"]] + 2.0

    def zero_slopes(case, arrays):          # in range, but not the slopes that proved the leaves
        for p in case["parts"]:
            for e in p["alphas"] + p["betas"]:
                arrays[e["values"]] = np.zeros_like(arrays[e["values"]])

    edits = [(move_split, None), (drop_group, None), (relabel, None), (other_box, None),
             (None, negative_beta), (None, steep_alpha), (None, zero_slopes)]
    for k, (doc_edit, array_edit) in enumerate(edits):
        g, region, spec, path = _write(proved, tmp_path / str(k))
        _edit(path, doc_edit, array_edit)
        res = check_bab_certificate(path, g, expected_cases=[(region, spec)])
        assert not res.ok, (doc_edit or array_edit).__name__


def test_bad_indices_and_changed_arrays_are_named(proved, tmp_path):
    def out_of_range(case, arrays):
        e = _split_part(case)["alphas"][0]
        arrays[e["index"]] = arrays[e["index"]] + 10 ** 6

    g, region, spec, path = _write(proved, tmp_path / "index")
    _edit(path, edit_arrays=out_of_range)
    res = check_bab_certificate(path, g, expected_cases=[(region, spec)])
    assert not res.ok and "index is not distinct neurons" in res.reasons[0]

    g, region, spec, path = _write(proved, tmp_path / "hash")
    case = json.loads(path.read_text())["cases"][0]
    npz = path.with_name(case["arrays"])
    arrays = read_npz(npz)
    name = next(iter(arrays))
    arrays[name] = arrays[name] * 0.5
    write_npz(npz, arrays)                  # the manifest still has the old SHA-256
    with pytest.raises(CertificateError, match="does not match its recorded SHA-256"):
        check_bab_certificate(path, g, expected_cases=[(region, spec)])


def test_a_proof_past_its_memory_cap_is_dropped_and_not_certified(monkeypatch, tmp_path):
    monkeypatch.setattr(bab_graph, "PROOF_BYTES", 1)
    g, region, spec = _case(2, 0.5)
    v = verify_case(g, region, spec, 30, certifiable=True)
    assert v.status == "unsat"                       # the search itself goes on
    assert v.proofs == [None] and v.stats["proof"].startswith("dropped")
    summary = certify(v, g, [(region, spec)], None, tmp_path / "cert.json")
    assert summary["written"] is None and not list(tmp_path.iterdir())


def test_recorded_leaves_close_only_above_the_proof_margin(monkeypatch):
    """A leaf is recorded only when its bound clears PROOF_MARGIN (the checker's sound
    arithmetic comes out a little lower): with a margin no bound reaches, nothing
    closes; without recording, the same search proves the case."""
    g, region, spec = _case(1, 0.5)
    assert verify_case(g, region, spec, 30, certifiable=True).status == "unsat"
    monkeypatch.setattr(bab_graph, "PROOF_MARGIN", 1e9)
    v = verify_case(g, region, spec, 3, certifiable=True)
    assert v.status in ("timeout", "unknown") and v.proofs == []
    assert verify_case(g, region, spec, 30).status == "unsat"


def test_a_proof_larger_than_the_checker_reads_is_not_written(proved, monkeypatch, tmp_path):
    g, region, spec, v = _branched(proved)
    monkeypatch.setenv("CERTNN_MAX_FILE_BYTES", "64")
    summary = certify(v, g, [(region, spec)], None, tmp_path / "cert.json")
    assert summary["written"] is None and "more than the checker reads" in summary["reason"]
    assert not list(tmp_path.iterdir())


def test_the_checker_reports_progress_and_the_command_states_the_claim(proved, tmp_path, capsys):
    from certnn.cli import main
    from certnn.ir.serialize import save
    g, region, spec, v = _branched(proved)
    save(g, tmp_path / "net.json")
    path = write_bab_certificate(tmp_path / "c.json", g, [(region, spec)], [copy.deepcopy(v.proofs[0])],
                                 model_path=tmp_path / "net.json")
    seen = []
    res = check_bab_certificate(path, g, progress=lambda done, total: seen.append((done, total)))
    assert res.ok and seen and seen[-1] == (res.leaves, res.leaves)
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:]))
    capsys.readouterr()
    with pytest.raises(SystemExit) as ex:
        main(["check", str(path)])
    out = capsys.readouterr().out
    assert ex.value.code == 0, out
    assert f"{res.leaves} leaves re-derived" in out and "avoids the unsafe set" in out


def test_a_fully_split_leaf_below_the_margin_is_left_to_the_checker(monkeypatch, tmp_path):
    """With a margin no bound reaches, the search splits every unstable neuron; the
    fully split leaves with a positive bound close (the checker decides them), so
    each group's tree has 2^(unstable neurons) leaves, and the checker accepts."""
    g, region, spec = _case(1, 0.01)
    net = analyze(g)
    root = bab_graph.root_bounds(net, region)
    n = sum(int(((root[z][0] < 0) & (root[z][1] > 0)).sum()) for z in relu_inputs(net))
    assert 1 <= n <= 4
    monkeypatch.setattr(bab_graph, "PROOF_MARGIN", 1e9)
    v = verify_case(g, region, spec, 30, certifiable=True)
    assert v.status == "unsat" and [len(p.rows) for p in v.proofs[0]] == [2 ** n] * spec.n_groups
    assert certify(v, g, [(region, spec)], None, tmp_path / "c.json").get("checked")


def _checker_slopes(record):
    """The producer's sparse root slopes in the checker's form (as the certificate carries them)."""
    out = {}
    for t, rec in record.items():
        for r, (idx, lower, upper) in rec["slopes"].items():
            out[(t, r, "lower")] = (rec["lower"], idx, lower[0])
            out[(t, r, "upper")] = (rec["upper"], idx, upper[0])
    return out


def test_the_checker_re_derives_the_alpha_root_from_its_sparse_slopes(proved):
    gain = 0.0
    for k, (g, region, spec, _) in enumerate(proved):
        net = analyze(g)
        record = {}
        ours = bab_graph.root_bounds(net, region, "alpha-crown", 20, record=record)
        plain = root_intermediate(Certificate("", region, spec), g)
        got = root_intermediate(Certificate("", region, spec), g, _checker_slopes(record))
        _, _, vals = _samples(net, region, 6000, np.random.default_rng(k))
        for z in relu_inputs(net):
            lo, hi = got[z]
            v = np.asarray(vals[z])
            assert np.all(v >= lo - 1e-6) and np.all(v <= hi + 1e-6), z
            # the producer's alpha-CROWN root up to outward rounding: its leaves stay proved
            assert np.all(lo >= ours[z][0] - 1e-9) and np.all(hi <= ours[z][1] + 1e-9), z
            gain += float(np.sum(lo - plain[z][0]) + np.sum(plain[z][1] - hi))
        # only the rows alpha-CROWN tightened carry slopes, only at unstable neurons
        for t, rec in record.items():
            for r, (idx, lower, upper) in rec["slopes"].items():
                l, u = ours[net.nodes[r].inputs[0]]
                assert np.all(((l < 0) & (u > 0)).reshape(-1)[idx])
                assert lower.shape == (1, rec["lower"].size, idx.size) and np.all((lower >= 0) & (lower <= 1))
    assert gain > 0          # the slopes are used: tighter than plain CROWN somewhere


def test_tampered_root_slopes_are_rejected_with_a_reason(proved, tmp_path):
    def steep(case, arrays):
        e = case["root_alphas"][0]
        arrays[e["values"]] = arrays[e["values"]] + 2.0

    relu_of = {n.inputs[0]: n.id for n in unfuse(_branched(proved)[0]).nodes if n.op == "relu"}

    def after_target(case, arrays):         # the bounded node's own relu comes after it
        e = case["root_alphas"][0]
        e["relu"] = relu_of[e["target"]]

    def not_a_relu(case, arrays):
        case["root_alphas"][0]["relu"] = case["split_nodes"][0]

    def twice(case, arrays):
        case["root_alphas"].append(dict(case["root_alphas"][0]))

    def rows_out_of_range(case, arrays):
        e = case["root_alphas"][0]
        arrays[e["rows"]] = arrays[e["rows"]] + 10 ** 6

    def wrong_shape(case, arrays):
        e = case["root_alphas"][0]
        arrays[e["values"]] = arrays[e["values"]][:, :0]

    for k, edit in enumerate((steep, after_target, not_a_relu, twice, rows_out_of_range, wrong_shape)):
        g, region, spec, path = _write(proved, tmp_path / str(k))
        assert json.loads(path.read_text())["cases"][0]["root_alphas"], "the proof carries no root slopes"
        _edit(path, edit_arrays=edit)
        res = check_bab_certificate(path, g, expected_cases=[(region, spec)])
        assert not res.ok and "root slopes" in res.reasons[0], (edit.__name__, res.reasons)


def test_only_a_case_the_crown_root_cannot_prove_runs_and_carries_the_alpha_root(proved):
    from certnn.bounds.split import split_bounds
    kinds = set()
    for g, region, spec, v in proved:
        net = analyze(g)
        sb = split_bounds(net, region, spec.C[:1], spec.d[:1], bab_graph.root_bounds(net, region), {},
                          iters=bab_graph.GraphBabOptions.spec_iters, work=np.float32)
        by_crown = bool(bab_graph.group_score(sb.lb, spec.groups)[0] > bab_graph.PROOF_MARGIN)
        assert all((p.root_slopes is None) == by_crown for p in v.proofs[0])
        kinds.add(by_crown)
    assert kinds == {True, False}


def test_a_certifiable_root_past_the_deadline_is_a_timeout(monkeypatch):
    import time
    g, region, spec = _case(3, 0.6)
    real = bab_graph.root_bounds

    def slow(*a, **k):              # the CROWN root returns after the case's deadline
        out = real(*a, **k)
        time.sleep(1.5)
        return out
    monkeypatch.setattr(bab_graph, "root_bounds", slow)
    v = verify_case(g, region, spec, 1.0, certifiable=True)
    assert v.status == "timeout" and not any(v.proofs)
