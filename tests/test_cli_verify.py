"""`certnn bounds` and `certnn verify robustness` end to end on a small trained MLP."""

import json
import subprocess
import sys

import numpy as np
import pytest

from certnn.interop.checkpoint import load_graph
from certnn import run
from certnn.io import benchmarks_root


def _run(*args):
    return subprocess.run([sys.executable, "-m", "certnn", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck") / "mlp"
    r = _run("train", "mnist", "--hidden", "32", "--epochs", "1", "--limit-train", "3000", "--limit-test", "200",
             "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    return out


def test_bounds_command_writes_enclosing_lb_ub(ckpt, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((4, 784)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "b.npz"
    r = _run("bounds", "--model", str(ckpt), "--input", str(tmp_path / "x.npy"), "--eps", "0.01",
             "--method", "crown", "--domain", "0,1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    z = np.load(out)
    y = np.asarray(run(load_graph(ckpt), x))
    assert z["lb"].shape == (4, 10) and np.all(z["lb"] <= y) and np.all(y <= z["ub"])


@pytest.mark.parametrize("args,msg", [
    (("--eps", "0"), "must be > 0"),
    (("--eps", "-1"), "must be > 0"),
    (("--eps", "0.1", "--norm", "7"), "Invalid value"),
])
def test_bounds_command_rejects_bad_options(ckpt, tmp_path, args, msg):
    np.save(tmp_path / "x.npy", np.zeros((1, 784), np.float32))
    r = _run("bounds", "--model", str(ckpt), "--input", str(tmp_path / "x.npy"), *args, "--out", str(tmp_path / "o.npz"))
    assert r.returncode != 0 and msg in r.stderr
    assert not (tmp_path / "o.npz").exists()


def test_bounds_command_rejects_bad_input_files(ckpt, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 100), np.float32))
    np.save(tmp_path / "nan.npy", np.full((1, 784), np.nan, np.float32))
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    for name, msg in (("wrong", "do not fit"), ("nan", "NaN"), ("junk", "not a NumPy .npy array")):
        r = _run("bounds", "--model", str(ckpt), "--input", str(tmp_path / f"{name}.npy"), "--eps", "0.1",
                 "--out", str(tmp_path / "o.npz"))
        assert r.returncode != 0 and msg in r.stderr, (name, r.stderr)
    assert not (tmp_path / "o.npz").exists()


def test_verify_robustness_json_and_certificates(ckpt, tmp_path):
    certs = tmp_path / "certs"
    r = _run("verify", "robustness", "--model", str(ckpt), "--eps", "0.01", "--n", "40", "--batch", "20",
             "--out", str(certs), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["n"] == 40 and s["checker_rejections"] == 0
    assert s["certified_accuracy"] <= s["verified_accuracy"] <= s["pgd_accuracy"] <= s["clean_accuracy"]
    assert s["verified_accuracy"] > 0.3  # a trained MLP at eps 0.01 is mostly verifiable
    files = sorted(certs.glob("*.json"))
    assert len(files) == 2
    r = _run("check", str(files[0]))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_an_s_shaped_mlp_is_trained_certified_and_checked(tmp_path, activation):
    out = tmp_path / "mlp"
    r = _run("train", "mnist", "--hidden", "32", "--activation", activation, "--epochs", "1",
             "--limit-train", "3000", "--limit-test", "200", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "checkpoint.json").read_text())
    assert activation in json.dumps(cfg)
    from certnn.ir.passes import unfuse
    assert any(n.op == activation for n in unfuse(load_graph(out)).nodes)
    r = _run("verify", "robustness", "--model", str(out), "--eps", "0.005", "--n", "20",
             "--out", str(tmp_path / "certs"), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["checker_rejections"] == 0 and s["certified_accuracy"] > 0.3, s
    assert "libm-float64-within-4ulp" in s["assumptions"]   # the checker's sound tanh/sigmoid lines
    assert _run("check", str(next((tmp_path / "certs").glob("*.json")))).returncode == 0


def test_activation_is_for_mlps_only(tmp_path):
    r = _run("train", "mnist", "--arch", "cnn", "--activation", "tanh", "--epochs", "1", "--limit-train", "10")
    assert r.returncode != 0 and "--activation applies to --arch mlp only" in r.stderr


def test_verify_binary32_semantics_is_never_more_verified(ckpt):
    res = {}
    for sem in ("real", "binary32", "binary32-any-order"):
        r = _run("verify", "robustness", "--model", str(ckpt), "--eps", "0.02", "--n", "30", "--no-attack",
                 "--semantics", sem, "--json")
        assert r.returncode == 0, r.stderr
        res[sem] = json.loads(r.stdout.strip().splitlines()[-1])["verified_accuracy"]
    assert res["binary32-any-order"] <= res["binary32"] <= res["real"]


def test_bounds_accepts_flattened_rows_for_an_onnx_model(tmp_path):
    """mnist-net_256x2.onnx takes (784, 1) per example; rows may come flattened."""
    onnx_path = benchmarks_root() / \
        "vnncomp2022" / "mnist_fc" / "onnx" / "mnist-net_256x2.onnx"
    if not onnx_path.exists():
        pytest.skip("benchmark model not present")
    x = np.random.default_rng(0).uniform(0, 1, (3, 784)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "b.npz"
    r = _run("bounds", "--model", str(onnx_path), "--input", str(tmp_path / "x.npy"), "--eps", "0.01",
             "--method", "ibp", "--out", str(out))
    assert r.returncode == 0, r.stderr
    b = np.load(out)
    assert b["lb"].shape == (3, 10) and np.all(b["lb"] <= b["ub"])
    np.save(tmp_path / "bad.npy", x[:, :783])
    r = _run("bounds", "--model", str(onnx_path), "--input", str(tmp_path / "bad.npy"), "--eps", "0.01",
             "--out", str(tmp_path / "c.npz"))
    assert r.returncode == 1 and "784 values per row" in r.stderr and not (tmp_path / "c.npz").exists()


def test_verify_robustness_refuses_a_model_that_does_not_take_mnist(tmp_path):
    acas = benchmarks_root() / "vnncomp2022" / "acasxu" / \
        "onnx" / "ACASXU_run2a_1_1_batch_2000.onnx"
    if not acas.exists():
        pytest.skip("benchmark model not present")
    r = _run("verify", "robustness", "--model", str(acas), "--eps", "0.01", "--n", "3")
    assert r.returncode == 1 and "784 values" in r.stderr and "Traceback" not in r.stderr


def test_bounds_on_an_onnx_model_without_a_batch_dimension(tmp_path):
    """test_nano.onnx takes a 1-D input of shape (1,): one example per row."""
    nano = benchmarks_root() / "vnncomp2022" / "test" / \
        "test_nano.onnx"
    if not nano.exists():
        pytest.skip("benchmark model not present")
    from certnn.interop.models import load_model
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1))
    np.save(tmp_path / "x.npy", x)
    r = _run("bounds", "--model", str(nano), "--input", str(tmp_path / "x.npy"), "--eps", "0.1",
             "--out", str(tmp_path / "b.npz"))
    assert r.returncode == 0, r.stderr
    b = np.load(tmp_path / "b.npz")
    y = np.asarray(run(load_model(nano), x)).reshape(3, -1)
    assert b["lb"].shape == y.shape and np.all(b["lb"] <= y) and np.all(y <= b["ub"])
