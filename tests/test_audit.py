"""`certnn audit`: every boundary a result can name is registered once, every
registered boundary is used somewhere, and uses are found through the op table
and the source (string names and constants holding them)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from certnn.proofs import audit as audit_mod
from certnn.proofs.audit import audit, registered
from certnn.bounds import LinearSpec, Region, compute_bounds
from certnn.floats import b32
from certnn.error_budget.forward import error_budget

from .verify._models import mlp_graph, robust_setup


def test_every_assumption_a_result_names_is_registered():
    known = set(registered())
    g, _ = mlp_graph(seed=3, sizes=(6, 12, 12, 4), activation="tanh")
    region, spec = robust_setup(g, n=3, eps=0.05, seed=4)
    from certnn.verify.certificate import make_certificate
    from certnn.verify.checker import check_certificate
    named = set()
    for sem in ("real", "binary32", "binary32-any-order"):
        b = compute_bounds(g, region, spec, method="crown", semantics=sem)
        named |= set(b.assumptions)
        named |= set(check_certificate(make_certificate(g, region, spec, b, semantics=sem), graph=g).assumptions)
    named |= set(error_budget(g, region.lo, region.hi).assumptions)
    named |= {a for _, _, names in b32.SEMANTICS.values() for a in names}
    assert "libm-float64-within-4ulp" in named and "hardware-float32-elementwise-ieee" in named
    assert named <= known, named - known


def test_every_registered_boundary_is_used_and_found_where_expected():
    found = {b.name: b for b in audit()}
    assert all(b.used_by for b in found.values()), [n for n, b in found.items() if not b.used_by]
    libm = found["libm-float64-within-4ulp"].used_by
    assert "op tanh (interval rule)" in libm and "op sigmoid (interval rule)" in libm
    assert any(u.startswith("certnn/verify/sound_lines.py:") for u in libm)   # the checker's lines
    assert "op linear (interval rule)" in found["blas-float64-dot-gamma-n"].used_by
    assert any(u.startswith("certnn/verify/checker.py:") for u in found["op-interval-rules-sound"].used_by)
    assert found["ieee754-binary64-rn"].registry == "certnn.floats.interval"


def test_a_use_of_an_unregistered_boundary_is_an_error(monkeypatch):
    from certnn.floats import interval
    monkeypatch.setattr(interval, "ASSUMPTIONS",
                        {k: v for k, v in interval.ASSUMPTIONS.items() if k != "libm-float64-within-4ulp"})
    with pytest.raises(ValueError, match="unregistered boundary 'libm-float64-within-4ulp'"):
        audit()


def test_a_boundary_registered_twice_is_an_error(monkeypatch):
    monkeypatch.setattr(audit_mod, "REGISTRIES", audit_mod.REGISTRIES + ("certnn.floats.interval",))
    with pytest.raises(ValueError, match="registered by both"):
        registered()


def test_audit_command():
    r = subprocess.run([sys.executable, "-m", "certnn", "audit", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {d["name"] for d in doc["assumptions"]} == set(registered())
    theorems = {d["name"]: d for d in doc["theorems"]}
    assert "backprop/lean-mnist-4-3-3" in theorems and theorems["relax/relu"]["used_by"]
    r = subprocess.run([sys.executable, "-m", "certnn", "audit"], capture_output=True, text=True)
    assert r.returncode == 0 and "libm-float64-within-4ulp  (registered in certnn.proofs" not in r.stdout
    assert "libm-float64-within-4ulp  (registered in certnn.floats.interval)" in r.stdout
    assert "op rules:" in r.stdout and "code (" in r.stdout
    assert "Theorems (re-run by `certnn prove`" in r.stdout and "relax/relu  [proved]" in r.stdout
    assert "results resting on it" in r.stdout
