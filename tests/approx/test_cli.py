"""certnn approx: JSON last line with neurons, certified_error, evidence; bad input."""

import json

from tests.cli_run import run_cli


def test_approx_json(tmp_path):
    code, out, _ = run_cli("approx", "sin(x)", "--box", "[0,3.14]", "--delta", "0.05", "--out",
                        str(tmp_path / "n"), "--onnx", str(tmp_path / "n.onnx"), "--budget", "30", "--json")
    res = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and res["evidence"] == "certified" and res["certified_error"] <= 0.05 and res["neurons"] > 0
    assert (tmp_path / "n.onnx").stat().st_size > 0


def test_approx_bad_input():
    code, _, err = run_cli("approx", "import os", "--box", "[0,1]", "--delta", "0.1")
    assert code == 1 and err.startswith("error: expression")
    code, _, err = run_cli("approx", "x", "--box", "[0,1]", "--delta", "-1")
    assert code == 1 and "delta" in err
