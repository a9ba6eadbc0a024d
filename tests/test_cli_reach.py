"""`certnn reach` (run, suite, check), end to end in-process."""

import json

from tests.cli_run import run_cli
from tests.control._problems import short_pendulum, toy


def test_run_writes_a_checked_tube_and_a_plot(tmp_path):
    folder = short_pendulum(tmp_path)
    code, out, err = run_cli("reach", folder, "--json", "--cert", tmp_path / "tube.json", "--plot", tmp_path / "p.png",
                          "--no-progress", "--scenario", "verification")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    assert o["verdict"] == "verified" and o["evidence"] == "certified" and o["margin"] > 0
    assert o["certificate"]["accepted"] and (tmp_path / "tube.npz").exists()
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run_cli("reach", "check", tmp_path / "tube.json")
    assert code == 0 and out.startswith("accepted")


def test_run_prints_verdict_time_and_margin(tmp_path):
    code, out, _ = run_cli("reach", "run", toy(tmp_path, steps=4, unsafe_b=-0.7), "--no-progress", "--split", "2")
    assert code == 0 and "verified in" in out and "tightest margin" in out and "2 piece(s)" in out


def test_suite_counts_and_wrong_answers(tmp_path):
    root = tmp_path / "suite"
    toy(root, "safe", unsafe_b=-0.7, steps=5)
    toy(root, "unsafe", unsafe_b=-0.45, steps=5, expected="verified")      # a wrong expectation
    code, out, err = run_cli("reach", "suite", root, "--no-progress")
    line = json.loads(out.strip().splitlines()[-1])
    assert line["problems"] == 2 and line["verified"] == 1 and line["falsified"] == 1 and line["unknown"] == 0
    assert line["wrong"] == 1 and code == 1 and line["total_seconds"] > 0
    assert "WRONG" in err


def test_bad_input_is_one_error_line(tmp_path):
    code, _, err = run_cli("reach", tmp_path / "nothing")
    assert code == 1 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    (tmp_path / "t.json").write_text("{}")
    code, _, err = run_cli("reach", "check", tmp_path / "t.json")
    assert code == 2 and "t.json: the tube is malformed" in err and "'format'" in err
