"""`certnn gen` (train, sample), end to end in-process."""

import io
import json
from contextlib import redirect_stderr, redirect_stdout

from certnn.cli import main


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def test_train_json_then_sample(tmp_path):
    run = tmp_path / "vae"
    code, out, err = _run("gen", "train", "vae", "--out", run, "--epochs", "1", "--limit-train", "256",
                          "--limit-test", "64", "--json", "--no-progress")
    assert code == 0, err
    o = json.loads(out.strip().splitlines()[-1])
    assert o["model"] == "vae" and o["epochs"] == 1 and 100 < o["test_loss"] < 600 and o["wall_seconds"] > 0
    code, out, err = _run("gen", "sample", run, "--n", "9", "--out", tmp_path / "grid.png")
    assert code == 0, err
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_requests_are_one_line_errors(tmp_path):
    code, _, err = _run("gen", "train", "vae", "--data", "toy2d", "--out", tmp_path / "x", "--no-progress")
    assert code == 1 and err.startswith("error:") and "image model" in err
    code, _, err = _run("gen", "sample", tmp_path / "missing", "--out", tmp_path / "g.png")
    assert code == 1 and err.startswith("error:")
    assert not (tmp_path / "g.png").exists()
