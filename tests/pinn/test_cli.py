"""certnn pinn train / certify / check on a tiny model: JSON last line, plot, exit codes."""

import json

from tests.cli_run import run_cli


def test_train_certify_check(tmp_path):
    ck = tmp_path / "heat"
    code, out, _ = run_cli("pinn", "train", "heat", "--out", str(ck), "--hidden", "5", "--points", "40",
                        "--boundary", "8", "--adam", "3", "--batch", "20", "--lbfgs", "3", "--rounds", "2",
                        "--add", "4", "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["problem"] == "heat"
    cert, png = tmp_path / "c.json", tmp_path / "p.png"
    code, out, _ = run_cli("pinn", "certify", str(ck), "--problem", "heat", "--inputs", "t,x", "--budget", "1",
                        "--grid", "30", "--cert", str(cert), "--plot", str(png), "--json")
    res = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and {"residual_bound", "grid_max", "boxes", "seconds", "evidence"} <= set(res)
    assert res["evidence"] == "certified" and res["residual_bound"] >= res["grid_max"] and png.stat().st_size > 0
    code, out, _ = run_cli("pinn", "check", str(cert))
    assert code == 0 and out.startswith("accepted")


def test_bad_input_is_one_line_error(tmp_path):
    code, _, err = run_cli("pinn", "train", "navier-stokes", "--out", str(tmp_path / "x"))
    assert code == 1 and err.startswith("error: unknown problem")
    code, _, err = run_cli("pinn", "certify", str(tmp_path / "nope"), "--problem", "heat")
    assert code == 1 and "no such model" in err
    code, _, err = run_cli("pinn", "check", str(tmp_path / "nope.json"))
    assert code == 1 and "no such certificate" in err
