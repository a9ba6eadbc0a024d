"""`certnn prove`: --list, named and pattern runs, --json's last line, errors."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.cli_run import run_cli


def test_list():
    code, out, _ = run_cli("prove", "--list")
    assert code == 0
    assert "backprop/lean-mnist-4-3-3  [proved]" in out and "not covered (named gaps):" in out
    assert "adjoint/max_pool2d: piecewise" in out
    doc = json.loads(run_cli("prove", "--list", "--json")[1])
    assert len(doc["theorems"]) >= 60 and {g["name"] for g in doc["gaps"]} >= {"adjoint/max"}


def test_run_by_name_and_pattern_with_json():
    code, out, err = run_cli("prove", "relax/*", "compile/translation-validation", "--json", "--no-progress")
    assert code == 0, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["theorems"] == 6 and last["passed"] == 6 and last["failed"] == 0 and last["seconds"] > 0
    assert {x["name"] for x in last["results"]} >= {"relax/relu", "relax/tanh", "compile/translation-validation"}
    assert "PASS  relax/relu" in err and "6 theorems: 6 passed, 0 failed" in err
    code, out, _ = run_cli("prove", "relax/relu")
    assert code == 0 and "PASS  relax/relu" in out


def test_a_failed_proof_exits_1(monkeypatch):
    from certnn.proofs import theorems
    table = theorems.registered()
    def fails():
        raise theorems.ProofFailed("no")
    bad = replace(table["relax/relu"], prove=fails)
    monkeypatch.setattr(theorems, "registered", lambda: {**table, "relax/relu": bad})
    code, out, _ = run_cli("prove", "relax/relu", "--json")
    assert code == 1 and json.loads(out.strip().splitlines()[-1])["failed"] == 1


def test_errors():
    code, _, err = run_cli("prove", "adjoint/frobnicate")
    assert code == 1 and err.startswith("error: no theorem named 'adjoint/frobnicate'")
    code, _, err = run_cli("prove")
    assert code == 2 and "--all" in err


@pytest.mark.parametrize("args", [["prove", "--help"]])
def test_the_command_is_registered(args):
    r = subprocess.run([sys.executable, "-m", "certnn", *args], capture_output=True, text=True)
    assert r.returncode == 0 and "--all" in r.stdout
