"""The claim a person reads is the claim that was checked (issue #11): the
descriptive fields of a certificate (radius, clip, spec kind, labels; a BaB
certificate's property) are bound to the arrays or not printed, and `certnn
check` states the claim it verified. Each edit below recomputes the array hashes,
so the integrity check cannot be what refuses it."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from certnn.cli import cli
from certnn.ir import serialize
from certnn.spec import LinearSpec, Region
from certnn.verify.bab_certificate import write_bab_certificate
from certnn.verify.bab_checker import check_bab_certificate
from certnn.verify.certificate import make_certificate, save_certificate
from certnn.verify.checker import check_certificate

from certnn.io import benchmarks_root

from ._certs import original, rehash
from ._models import mlp_graph, robust_setup

TEST = benchmarks_root() / "vnncomp2022" / "test"
needs_bench = pytest.mark.skipif(not (TEST / "test_prop.vnnlib").exists(), reason="no VNN-COMP benchmarks")


def _robust_cert(folder: Path, eps=0.01, semantics="binary32", norm="inf"):
    """A CROWN robustness certificate (3 examples, eps 0.01, clipped to [0, 1]) naming its model."""
    from certnn.bounds import compute_bounds
    folder.mkdir(parents=True, exist_ok=True)
    g, _ = mlp_graph(seed=5, sizes=(4, 8, 8, 3))
    model, _ = serialize.save(g, folder / "model.json")
    g = serialize.load(model)
    region, spec = robust_setup(g, n=3, eps=eps, seed=2, norm=norm)
    c = make_certificate(g, region, spec, compute_bounds(g, region, spec, semantics=semantics), semantics=semantics,
                         model_path=model)
    assert c.claimed.all()
    return save_certificate(c, folder / "cert.json"), g


def _edit(path: Path, json_edit=None, **arrays):
    """Edit the JSON and/or replace arrays (name -> fn(old) -> new), then rehash."""
    doc = json.loads(path.read_text())
    if json_edit:
        json_edit(doc)
    path.write_text(json.dumps(doc))
    if arrays:
        npz = path.with_suffix(".npz")
        with np.load(npz) as z:
            a = {k: z[k] for k in z.files}
        for name, fn in arrays.items():
            a[name.replace("__", ".")] = fn(a)
        np.savez(npz, **a)
    rehash(path)


def _check_cli(path, *args):
    r = CliRunner().invoke(cli, ["check", str(path), *args])
    return r.exit_code, r.output


@pytest.fixture
def cert(tmp_path):
    return _robust_cert(tmp_path / "c")


# ------------------------------------------------------------------------------ robustness certificates

def test_the_report_states_the_claim_in_words_and_json(cert):
    path, _ = cert
    code, out = _check_cli(path)
    assert code == 0, out
    assert "accepted: 3/3 claimed examples re-derived" in out
    assert ("for each of 3 points x0 (region.center SHA-256" in out and "every binary32 input within L∞ distance "
            "0.01 of x0 (clipped to [0, 1]) is classified as the label of x0" in out), out
    assert "semantics binary32; rests on: " in out and "semantics:binary32" in out
    code, out = _check_cli(path, "--json")
    rep = json.loads(out)
    doc = json.loads(path.read_text())
    assert rep["semantics"] == "binary32" and "semantics:binary32" in rep["assumptions"]
    # the binary32 step subtracts an error budget: the check rests on the rounding lemma, by registered names
    from certnn.error_budget.forward import THEOREMS_USED
    from certnn.proofs.theorems import registered
    assert rep["theorems"] == list(THEOREMS_USED) and set(rep["theorems"]) <= set(registered())
    assert rep["region"] == {"kind": "ball", "norm": "inf", "eps": 0.01, "clip": [0.0, 1.0],
                             "center_sha256": doc["arrays"]["region.center"]["sha256"]}
    labels = np.argmax(np.load(path.with_suffix(".npz"))["spec.C"][:, 0], axis=1).tolist()
    assert rep["spec"] == {"kind": "robustness", "labels": labels} and rep["claim"].startswith("for each of 3")


def test_radius_raised_with_the_arrays_unchanged_is_rejected(cert):
    """Accepted before: eps 0.01 -> 0.05 in the JSON, arrays unchanged, and a reader saw radius 0.05."""
    path, g = cert
    _edit(path, lambda d: d["region"].update(eps=0.05))
    code, out = _check_cli(path)
    assert code == 1 and "region.eps: eps 0.05 with clip [0, 1] does not give the box region.lo" in out, out
    assert "proved" not in out and json.loads(_check_cli(path, "--json")[1])["claim"] is None


def test_offsets_raised_by_1000_are_rejected(cert):
    """Accepted before: every d + 1000 (y_label - y_j + 1000 > 0 holds almost everywhere) kept kind robustness."""
    path, _ = cert
    _edit(path, spec__d=lambda a: a["spec.d"] + 1000)
    code, out = _check_cli(path)
    assert code == 1 and "spec.d: robustness rows have zero offsets; example 0, row 0 has d = 1000.0" in out, out


def test_the_same_offsets_under_kind_linear_are_stated_as_a_linear_spec(cert):
    """Relabelled "linear", the raised offsets are checked as what they are, and nothing says robustness."""
    path, _ = cert
    _edit(path, lambda d: d["spec"].update(kind="linear"), spec__d=lambda a: a["spec.d"] + 1000)
    code, out = _check_cli(path)
    assert code == 0 and "classified" not in out and "outside the unsafe set of a linear spec (2 rows in 2" in out


@pytest.mark.parametrize("name,edit,counts,why", [
    ("box shrunk to the center", dict(region__lo=lambda a: a["region.center"], region__hi=lambda a: a["region.center"]),
     {}, "rejected: region.eps: eps 0.01 with clip [0, 1] does not give the box region.lo (example 0, element 0"),
    ("one face moved in", dict(region__hi=lambda a: a["region.hi"] - 1e-3 * (np.arange(a["region.hi"].size) == 5)
                               .reshape(a["region.hi"].shape)), {}, "box region.hi (example 1, element 1"),
    ("rows C = 0, d = 1", dict(spec__C=lambda a: 0 * a["spec.C"], spec__d=lambda a: 0 * a["spec.d"] + 1), {},
     "rejected: spec.C: example 0: the rows are not y_label - y_j"),
    ("every row in one group", dict(spec__groups=lambda a: 0 * a["spec.groups"]), {"groups_count": 1},
     "rejected: spec.groups: robustness puts every row in a group of its own"),
    ("a row dropped", dict(spec__C=lambda a: a["spec.C"][:, :1], spec__d=lambda a: a["spec.d"][:, :1],
                           spec__groups=lambda a: a["spec.groups"][:1]), {"rows": 1, "groups_count": 1},
     "rejected: spec.C: robustness over 3 classes has 2 rows per example, not 1"),
])
def test_region_and_spec_edits_that_were_accepted_are_rejected(cert, name, edit, counts, why):
    """Finding 2 (box = center, C = 0 with d = 1, one group) and its neighbours; the counts in the JSON
    follow the arrays, as a careful tamperer would make them."""
    path, _ = cert
    _edit(path, lambda d: d["spec"].update(counts), **edit)
    code, out = _check_cli(path)
    assert code == 1 and why in out and out.count("rejected") == 1, (name, out)


def test_nan_radius_is_a_malformed_file(cert):
    path, _ = cert
    path.write_text(path.read_text().replace('"eps": 0.01', '"eps": NaN'))
    code, out = _check_cli(path)
    # refused at the file boundary (certnn.io: NaN literals are not read), naming the file
    assert code == 2 and "cert.json" in out and "NaN" in out


@pytest.mark.parametrize("edit,msg", [
    (lambda d: d["region"].update(clip=[0.0, 0.5]), "region.eps: eps 0.01 with clip \\[0, 0.5\\]"),
    (lambda d: d["region"].update(clip=[1.0, 0.0]), "region.clip must be null or \\[lo, hi\\]"),
    (lambda d: d["region"].update(kind="box"), "region kind 'box' does not fit norm 'inf'"),
    (lambda d: d["region"].update(input_shape=[2, 2]), "region.input_shape"),
    (lambda d: d["spec"].update(groups_count=1), "spec.groups_count is 1"),
])
def test_descriptive_fields_that_disagree_with_the_arrays_are_refused(cert, edit, msg):
    import re
    path, _ = cert
    _edit(path, edit)
    code, out = _check_cli(path)
    assert code in (1, 2) and re.search(msg, out), out


def test_an_l2_box_narrower_than_the_ball_is_rejected(tmp_path):
    """For L2/L1 the box must be the clipped center -+ eps too (else the claim would be about less)."""
    path, _ = _robust_cert(tmp_path, eps=0.05, semantics="real", norm="2")
    assert _check_cli(path)[0] == 0 and "within L2 distance 0.05 of x0" in _check_cli(path)[1]
    _edit(path, region__lo=lambda a: a["region.lo"] + 1e-6)
    code, out = _check_cli(path)
    assert code == 1 and "region.eps" in out


def test_semantics_selects_the_arithmetic_it_names(tmp_path):
    """A real claim whose margin is smaller than the binary32 error budget, relabelled binary32, is rejected;
    a binary32 certificate relabelled real is checked as (and reported as) real."""
    g, _ = mlp_graph(seed=5, sizes=(4, 8, 8, 3))
    region = Region.box(np.full((1, 4), 0.25), np.full((1, 4), 0.25))    # one point: a tight bound
    from certnn import run
    y = np.asarray(run(g, region.lo, semantics="real"), np.float64).reshape(-1)
    spec = LinearSpec(np.array([[[1.0, -1.0, 0.0]]]), np.array([[1e-9 - (y[0] - y[1])]]), np.array([0]))
    from certnn.bounds import compute_bounds
    c = make_certificate(g, region, spec, compute_bounds(g, region, spec))
    path = save_certificate(c, tmp_path / "c.json")
    assert check_certificate(path, graph=g).ok
    _edit(path, lambda d: d.update(semantics="binary32"))
    r = check_certificate(path, graph=g)
    assert not r.ok and "spec" in r.reasons[0]
    files, g2, _, _ = original("binary32")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    _edit(tmp_path / "cert.json", lambda d: d.update(semantics="real"))
    rep = check_certificate(tmp_path / "cert.json", graph=g2).to_dict()
    assert rep["ok"] and rep["semantics"] == "real" and "every float64 input" in rep["claim"]


def test_old_certificates_are_refused_with_a_clear_error(cert):
    path, _ = cert
    _edit(path, lambda d: d.update(version=1))
    code, out = _check_cli(path)
    assert code == 2 and "version 1 is not supported (this certnn reads 2) (version 1 did not bind" in out


# ------------------------------------------------------------------------------ nothing claimed

def test_a_certificate_without_claims_is_nothing_certified_in_both_commands(tmp_path):
    """verify robustness at eps 5 said "checker: all accepted, evidence certified" while check said REJECTED 0/0."""
    from certnn.verify.robustness import verify_robustness
    from ._models import outputs
    g, _ = mlp_graph(seed=0, sizes=(4, 8, 8, 3))
    x = np.random.default_rng(0).uniform(0, 1, (200, 4))
    y = outputs(g, x).argmax(1)
    pick = [int(np.argmax(y == k)) for k in np.unique(y)][:3]
    assert len(pick) >= 2             # two classes in [0, 1]^4: no example is robust at eps 5
    rep = verify_robustness(g, x[pick], y[pick], 5.0, attack=False, out_dir=tmp_path)
    s = rep.summary()
    assert s["verified_accuracy"] == 0 and s["evidence"] is None
    assert s["checker"] == "nothing certified: the certificates claim no example"
    res = check_certificate(rep.certificates[0], graph=g)
    assert not res.ok and res.summary() == f"nothing certified: the certificate claims none of its {len(pick)} examples"
    assert res.to_dict()["claim"] is None


# ------------------------------------------------------------------------------ BaB certificates

def _bab_files(tmp_path, kind="bab-input"):
    files, g, report, _ = original(kind)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path / "cert.json", g, report


def _cases(report):
    """The original property as [(Region, LinearSpec)]."""
    out = []
    for c in report["property"]["cases"]:
        u = c["unsafe"]
        out.append((Region.box(np.array([c["lo"]]), np.array([c["hi"]])),
                    LinearSpec(np.array([u["G"]]), np.array([u["h"]]), np.array(u["groups"]), "unsafe-set")))
    return out


@pytest.mark.parametrize("kind", ["bab-input", "bab-relu"])
def test_a_leaf_spec_with_c_0_d_1_is_rejected(tmp_path, kind):
    path, g, report = _bab_files(tmp_path, kind)
    leaves = tmp_path / "cert.case0.leaves.json"
    _edit(leaves, spec__C=lambda a: 0 * a["spec.C"], spec__d=lambda a: 0 * a["spec.d"] + 1)
    res = check_bab_certificate(path, g)
    assert not res.ok and "the certificate is for another spec" in res.reasons[0]


def test_a_vacuous_property_is_said_to_be_vacuous(tmp_path):
    """Property and leaves both edited to C = 0, d = 1: true and re-derived, and the report says it is vacuous."""
    path, g, report = _bab_files(tmp_path, "bab-relu")

    def vacuous(d):
        u = d["property"]["cases"][0]["unsafe"]
        u["G"], u["h"] = [[0.0] * len(r) for r in u["G"]], [1.0] * len(u["h"])
    _edit(path.with_name("cert.case0.leaves.json"), spec__C=lambda a: 0 * a["spec.C"],
          spec__d=lambda a: 0 * a["spec.d"] + 1)
    doc = json.loads(path.read_text())
    vacuous(doc)
    path.write_text(json.dumps(doc))
    res = check_bab_certificate(path, g)
    assert res.ok and "vacuous" in res.claim() and res.to_dict()["property"]["cases"][0]["vacuous"]
    assert not check_bab_certificate(path, g, expected_cases=_cases(report)).ok


def test_a_root_box_shrunk_to_a_point_states_the_point(tmp_path):
    """A proof about one point of the box (leaf arrays and property consistent) is a claim about that point:
    the report says so, and it is rejected against the real property."""
    files, g, report, _ = original("bab-input")
    (region, spec), = _cases(report)
    point = Region.box(region.lo, region.lo)
    from certnn.verify.bab import verify_case
    v = verify_case(g, point, spec, timeout=10, method_hint="input", certifiable=True)
    assert v.status == "unsat"
    path = write_bab_certificate(tmp_path / "p.json", g, [(point, spec)], v.proofs)
    res = check_bab_certificate(path, g)
    assert res.ok and res.to_dict()["property"]["cases"][0]["lo"] == res.to_dict()["property"]["cases"][0]["hi"]
    lo = float(region.lo[0, 0])
    assert f"X_0 in [{lo!r}, {lo!r}]" in res.claim()
    res = check_bab_certificate(path, g, expected_cases=[(region, spec)])
    assert not res.ok and "input box is not the expected property's" in res.reasons[0]


def test_a_root_box_that_is_not_the_propertys_is_rejected(tmp_path):
    path, g, _ = _bab_files(tmp_path)
    doc = json.loads(path.read_text())
    doc["property"]["cases"][0]["hi"][0] -= 0.01
    path.write_text(json.dumps(doc))
    res = check_bab_certificate(path, g)
    assert not res.ok and res.reasons == ["case 0: the split tree's root box is not the property's input box"]


def test_old_bab_certificates_are_refused_with_a_clear_error(tmp_path):
    path, g, _ = _bab_files(tmp_path)
    doc = json.loads(path.read_text())
    doc["version"] = 1
    path.write_text(json.dumps(doc))
    code, out = _check_cli(path)
    assert code == 2 and "version 1 did not record the property" in out


@needs_bench
def test_a_weakened_property_is_reported_and_rejected_against_the_real_one(tmp_path):
    """Finding 1: each (<= Y_0 Y_j) of test_prop weakened to (<= (+ Y_0 0.5) Y_j) (the original is sat) is
    unsat and certified; `certnn check` says which property it proved, and --property with the original
    rejects it."""
    weak = tmp_path / "weak.vnnlib"
    text = (TEST / "test_prop.vnnlib").read_text()
    weak.write_text(text.replace("(<= Y_0 Y_", "(<= (+ Y_0 0.5) Y_"))
    assert weak.read_text().count("(+ Y_0 0.5)") == 4
    r = CliRunner().invoke(cli, ["vnncomp", "run", str(TEST / "test_sat.onnx"), str(weak), "--timeout", "60",
                                 "--out", str(tmp_path / "r.txt"), "--cert", str(tmp_path / "f.json")])
    assert r.exit_code == 0 and (tmp_path / "r.txt").read_text() == "unsat\n", r.output
    code, out = _check_cli(tmp_path / "f.json")
    assert code == 0 and "from weak.vnnlib" in out and "not checked: pass --property FILE" in out
    assert "(Y_0 - Y_1 + 0.5 <= 0 and Y_0 - Y_2 + 0.5 <= 0 and" in out
    code, out = _check_cli(tmp_path / "f.json", "--property", str(TEST / "test_prop.vnnlib"))
    assert code == 1 and "the certificate's unsafe set is not the expected property's" in out
    code, out = _check_cli(tmp_path / "f.json", "--property", str(weak), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["property"]["vnnlib"]["checked"] == str(weak)
    assert rep["property"]["vnnlib"]["checked_sha256"] == rep["property"]["vnnlib"]["sha256"]
    assert rep["claim"].startswith(f"the property of {weak}")


@needs_bench
@pytest.mark.parametrize("asserts,why", [
    ("(assert (>= X_3 0.5))\n(assert (<= X_3 0.3))", "X_3 >= 0.5 and X_3 <= 0.3 leave no value for X_3"),
    ("(assert (<= 1 0))", "a comparison of constants is false"),
])
def test_a_contradictory_property_is_unsat_with_a_warning_and_no_certificate(tmp_path, asserts, why):
    prop = tmp_path / "empty.vnnlib"
    prop.write_text((TEST / "test_prop.vnnlib").read_text() + asserts + "\n")
    r = CliRunner().invoke(cli, ["vnncomp", "run", str(TEST / "test_sat.onnx"), str(prop), "--timeout", "30",
                                 "--out", str(tmp_path / "r.txt"), "--cert", str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r.txt").read_text() == "unsat\n"
    assert f"the input set is empty ({why})" in r.output and "holds vacuously" in r.output
    assert "not written, the property's input set is empty" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.vnnlib", "r.txt"]
