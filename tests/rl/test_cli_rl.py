"""``certnn rl``: train / eval / verify on a tiny run, ``mdp solve`` on forest, errors."""

import json
import subprocess
import sys

import pytest

from certnn.rl.solve import forest


class _Result:
    def __init__(self, code, out, err):
        self.returncode, self.stdout, self.stderr = code, out, err


def _run(*args, capsys=None):
    """In a subprocess, or in-process through certnn.cli.main when ``capsys`` is given (faster)."""
    if capsys is None:
        return subprocess.run([sys.executable, "-m", "certnn", "rl", *args], capture_output=True, text=True)
    from certnn.cli import main
    code = 0
    try:
        main(["rl", *args])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return _Result(code, out.out, out.err)


def test_mdp_solve_json_and_text(tmp_path, capsys):
    p = tmp_path / "forest.json"
    p.write_text(json.dumps(forest().to_json()))
    r = _run("mdp", "solve", str(p), "--eps", "0.01", "--json", "--exact", capsys=capsys)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert {"values", "policy", "bound", "policy_bound", "evidence"} <= set(res)
    assert res["exact"]["distance"] <= res["bound"] < 0.01 and res["policy"] == [0, 0, 0]
    r = _run("mdp", "solve", str(p), "--eps", "0.01", capsys=capsys)
    assert r.returncode == 0 and "certified: ||V - V*||_inf <=" in r.stdout


@pytest.mark.parametrize("doc, message", [
    ({"gamma": 1.0, "transitions": [[[1]]], "rewards": [[0]]}, "gamma must satisfy"),
    ({"gamma": 0.5, "transitions": [[[0.5, 0.4], [0, 1]]], "rewards": [[0], [0]]}, r"transitions\[a=0\]\[s=0\] sums to"),
    ({"gamma": 0.5, "transitions": [[[1]]]}, "'rewards' is a required property"),
])
def test_mdp_solve_bad_files(tmp_path, capsys, doc, message):
    import re
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    r = _run("mdp", "solve", str(p), capsys=capsys)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and re.search(message, r.stderr), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_train_eval_verify_tiny_run(tmp_path, capsys):
    out = tmp_path / "run"
    r = _run("train", "CartPole-v1", "--algo", "ppo", "--steps", "256", "--seed", "3", "--out", str(out),
             "--eval-episodes", "4", "--json", capsys=capsys)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"mean_return", "steps", "wall_seconds"} <= set(res) and res["steps"] == 256 and res["episodes"] == 4
    for f in ("policy/checkpoint.json", "config.json", "log.json", "returns.png", "eval.json", "rollouts/eval.npz"):
        assert (out / f).exists(), f
    r = _run("eval", str(out), "--episodes", "3", capsys=capsys)
    assert r.returncode == 0 and "over 3 episodes" in r.stdout and "re-checked" in r.stdout, r.stderr
    r = _run("verify", str(out), "--boxes", "2", "--json", capsys=capsys)
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    assert v["boxes"] == 16 and v["certified"] <= 16 and (v["certified"] == 0 or v["checker_ok"])
    r = _run("verify", str(out), "--boxes", "1", "--low", "0,0,0,0", "--high", "0.1,0.1,0.1,0.1", "--action", "1",
             capsys=capsys)
    assert r.returncode == 0 and "action 1 certified greedy on" in r.stdout, r.stderr
    r = _run("verify", str(out), "--action", "5", capsys=capsys)
    assert r.returncode == 1 and "not an action" in r.stderr


def test_train_errors(tmp_path, capsys):
    r = _run("train", "NoSuchEnv-v9", "--algo", "dqn", "--steps", "10", "--out", str(tmp_path / "x"), capsys=capsys)
    assert r.returncode == 1 and "NoSuchEnv-v9" in r.stderr
    r = _run("train", "Pendulum-v1", "--algo", "dqn", "--steps", "10", "--out", str(tmp_path / "y"), capsys=capsys)
    assert r.returncode == 1 and "Discrete action space" in r.stderr
    r = _run("eval", str(tmp_path), capsys=capsys)
    assert r.returncode == 1 and "not a certnn rl run folder" in r.stderr


def test_mdp_solve_certificate_and_check(tmp_path, capsys):
    p, cert = tmp_path / "forest.json", tmp_path / "cert.json"
    p.write_text(json.dumps(forest().to_json()))
    assert _run("mdp", "solve", str(p), "--eps", "0.01", "--certificate", str(cert), capsys=capsys).returncode == 0
    r = _run("mdp", "check", str(p), str(cert), "--json", capsys=capsys)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    doc = json.loads(cert.read_text())
    cert.write_text(json.dumps(dict(doc, bound=doc["bound"] / 4)))
    r = _run("mdp", "check", str(p), str(cert), capsys=capsys)
    assert r.returncode == 1 and r.stdout.startswith("REJECTED: bound")
