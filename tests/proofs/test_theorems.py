"""The theorem registry behind `certnn prove`: discovery (application packages
register by declaring THEOREMS), coverage of the op table, every theorem a
result or the docs name resolves, and the quick proofs re-run and pass."""

import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from certnn.ops import all_ops
from certnn.ops.relax import AFFINE_OPS
from certnn.proofs import audit as audit_mod
from certnn.proofs import theorems as T
from certnn.proofs.audit import theorem_audit

ROOT = Path(__file__).resolve().parents[2]
TABLE = T.registered()


def test_the_registry_holds_every_family_and_at_least_60_theorems():
    assert len(TABLE) >= 60
    families = {n.split("/")[0] for n in TABLE}
    assert {"vjp-derivative", "adjoint", "backprop", "softmax", "compile", "fusion", "relax", "rounding"} <= families
    assert {"backprop/lean-mnist-4-3-3", "backprop/lean-mnist-5-4-3"} <= set(TABLE)
    assert all(t.evidence in ("proved", "checked") and t.statement and t.domain and t.covers for t in TABLE.values())
    assert {t.name for t in TABLE.values() if t.evidence == "checked"} == {
        "compile/translation-validation", "relax/sigmoid", "relax/tanh"}


def test_every_op_is_covered_or_a_named_gap():
    gaps = {g.name for g in T.gaps()}
    for op in all_ops():
        linear = op.linear or op.name in AFFINE_OPS or not op.elementwise
        if linear:
            assert f"adjoint/{op.name}" in TABLE or f"adjoint/{op.name}" in gaps, op.name
        if op.elementwise:
            assert f"vjp-derivative/{op.name}" in TABLE or f"vjp-derivative/{op.name}" in gaps, op.name
    assert {"adjoint/max", "adjoint/max_pool2d"} <= gaps
    assert all(g.reason for g in T.gaps())


@pytest.fixture(autouse=True)
def _forget_fakeapp():
    yield
    for name in [m for m in sys.modules if m == "fakeapp" or m.startswith("fakeapp.")]:
        del sys.modules[name]


def _fake_package(tmp_path, body):
    pkg = tmp_path / "fakeapp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "lemmas.py").write_text(body)
    (pkg / "other.py").write_text("X = 1  # declares nothing\n")
    return pkg


_BODY = '''
from certnn.proofs.theorems import Theorem
THEOREMS = [Theorem("app/lemma", "1 + 1 = 2", "proved", ("fakeapp.lemmas",), "the integers",
                    lambda: "by arithmetic")]
GAPS = {"app/other": "not yet"}
'''


def test_an_application_module_registers_by_declaring_theorems(tmp_path, monkeypatch):
    pkg = _fake_package(tmp_path, _BODY)
    monkeypatch.syspath_prepend(str(tmp_path))
    names = T.declaring_modules(pkg, "fakeapp")
    assert names == ["fakeapp.lemmas"]
    theorems, gaps = T.collect(names)
    assert theorems["app/lemma"].module == "fakeapp.lemmas" and T.run(theorems["app/lemma"]).passed
    assert [g.name for g in gaps] == ["app/other"]
    with pytest.raises(ValueError, match="registered by both"):
        T.collect(names + ["certnn.proofs.relaxations", "certnn.proofs.relaxations"])


def test_the_registry_rejects_malformed_entries(tmp_path, monkeypatch):
    _fake_package(tmp_path, "THEOREMS = ['not a theorem']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="not a Theorem"):
        T.collect(["fakeapp.lemmas"])
    with pytest.raises(ValueError, match="evidence"):
        T.Theorem("a/b", "s", "tested", (), "d", lambda: "")
    with pytest.raises(ValueError, match="family/detail"):
        T.Theorem("nofamily", "s", "proved", (), "d", lambda: "")


def test_selection_by_name_and_pattern():
    assert [t.name for t in T.select(["relax/relu"])] == ["relax/relu"]
    assert {t.name for t in T.select(["relax/*"])} == {n for n in TABLE if n.startswith("relax/")}
    with pytest.raises(T.CertnnError, match="no theorem named 'relax/nope'"):
        T.select(["relax/nope"])


def test_a_failing_proof_is_reported_not_raised():
    def bad():
        raise T.ProofFailed("step 3 does not hold")
    o = T.run(replace(TABLE["relax/relu"], prove=bad))
    assert not o.passed and "step 3 does not hold" in o.detail and o.to_dict()["passed"] is False


def test_every_theorem_a_result_names_resolves():
    uses = {u.theorem.name: u.used_by for u in theorem_audit()}
    assert any(w.startswith("certnn/bounds/crown.py:") for w in uses["relax/relu"])
    assert any(w.startswith("certnn/bounds/crown.py:") for w in uses["adjoint/conv2d"])
    assert any(w.startswith("certnn/ir/validate.py:") for w in uses["compile/translation-validation"])
    assert any(w.startswith("certnn/error_budget/") for w in uses["rounding/binary32-nearest"])


def test_a_reference_to_an_unknown_theorem_is_an_error(monkeypatch):
    monkeypatch.setattr(audit_mod, "theorem_references", lambda: [("adjoint/frobnicate", "certnn/x.py:3")])
    with pytest.raises(ValueError, match="certnn/x.py:3 rests on 'adjoint/frobnicate'"):
        theorem_audit()


def test_the_docs_name_only_registered_theorems_and_every_family():
    text = (ROOT / "docs" / "proofs.md").read_text()
    families = {n.split("/")[0] for n in TABLE}
    named = [m for m in re.findall(r"`([a-z0-9-]+/[^`\s]+)`", text) if m.split("/")[0] in families]
    assert named
    known = list(TABLE) + [g.name for g in T.gaps()]
    for ref in named:
        ref = re.sub(r"<[^>]+>", "*", ref)           # `adjoint/<op>` names the family
        assert T.matches(ref, known), ref
    assert all(f"`{f}/" in text for f in families), families


QUICK = [t for t in TABLE.values() if t.quick]


@pytest.mark.parametrize("theorem", QUICK, ids=[t.name for t in QUICK])
def test_quick_proofs_pass(theorem):
    o = T.run(theorem)
    assert o.passed, o.detail
