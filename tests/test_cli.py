"""The command line: --help everywhere, JSON output, exit codes on bad input."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from certnn.cli import cli


def _run(*args):
    return subprocess.run([sys.executable, "-m", "certnn", *args], capture_output=True, text=True)


def _commands(group, prefix=()):
    import click
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [()] + list(_commands(cli)), ids=lambda p: " ".join(p) or "certnn")
def test_help_on_every_command(path):
    r = CliRunner().invoke(cli, [*path, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output


def test_train_json_graph_and_show(tmp_path):
    out = tmp_path / "ck"
    r = _run("train", "mnist", "--epochs", "1", "--limit-train", "2000", "--limit-test", "500",
             "--out", str(out), "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"test_accuracy", "epochs", "wall_seconds", "params"} <= set(res) and res["epochs"] == 1
    for fmt, marker in (("text", "graph(%x"), ("json", '"format": "certnn.graph"'), ("dot", "digraph")):
        r = _run("graph", str(out), "--format", fmt)
        assert r.returncode == 0 and marker in r.stdout, r.stderr
    r = _run("show", "mnist", "--index", "0", "--count", "2")
    assert r.returncode == 0 and "@" in r.stdout and "7" in r.stdout  # test image 0 is a 7


def test_errors_exit_nonzero_with_message(tmp_path):
    r = _run("graph", str(tmp_path / "missing"))
    assert r.returncode == 1 and "error:" in r.stderr and "no such model file or folder" in r.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "checkpoint.json").write_text("{trunc")
    r = _run("graph", str(bad))
    assert r.returncode == 1 and "not valid JSON" in r.stderr
    r = _run("train", "mnist", "--data", str(tmp_path), "--epochs", "1")
    assert r.returncode == 1 and "error:" in r.stderr and str(tmp_path) in r.stderr
    r = _run("train", "mnist", "--hidden", "12x")
    assert r.returncode == 2
    r = _run("show", "mnist", "--index", "9999", "--count", "5")
    assert r.returncode == 1 and "runs past" in r.stderr


def test_graph_json_with_unknown_op_or_cycle_fails_cleanly(tmp_path):
    doc = {"format": "certnn.graph", "version": 1, "outputs": ["b"], "arrays": {},
           "nodes": [{"id": "x", "op": "input", "shape": [None, 3], "dtype": "float32"},
                     {"id": "a", "op": "relu", "inputs": ["x"]},
                     {"id": "b", "op": "tanh", "inputs": ["a"]}]}
    p = tmp_path / "g.json"
    p.write_text(json.dumps(doc))
    r = _run("graph", str(p))
    assert r.returncode == 0 and "tanh(relu(%x))" not in r.stdout and "%b = tanh(%a)" in r.stdout
    doc["nodes"][1]["op"] = "frobnicate"
    p.write_text(json.dumps(doc))
    r = _run("graph", str(p))
    assert r.returncode == 1 and "unknown op" in r.stderr and "frobnicate" in r.stderr
    doc["nodes"][1] = {"id": "a", "op": "relu", "inputs": ["b"]}
    p.write_text(json.dumps(doc))
    r = _run("graph", str(p))
    assert r.returncode == 1 and "cycle" in r.stderr
