"""1-D convolutional networks through verification: an ONNX 1-D CNN (imported
as height-1 conv2d) gets IBP / CROWN / alpha-CROWN bounds that contain sampled
outputs (so do those of every model of tests/interop/test_onnx_conv1d.py),
and a small VNN-COMP category of it (one robust, one non-robust
property, the model gzipped) is decided by the suite runner: the sat's
counterexample agrees with onnxruntime, the unsat is certified and the
independent checker accepts its certificate."""

import gzip

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from certnn import run
from certnn.bounds import compute_bounds
from certnn.interop import load_onnx
from certnn.spec.region import Region

from ..interop.test_onnx_conv1d import CASES as IMPORT_CASES

LENGTH = 16


def cnn1d_model(seed=0):
    """Conv1d(1->4, k3, s2, p1) - BN - ReLU - Conv1d(4->4, k3, p1, groups 2) - ReLU -
    AvgPool1d(2) - Flatten - Gemm(16->3), fixed random weights, batch dim N."""
    r = np.random.default_rng(seed)
    f = lambda *s: r.normal(size=s).astype(np.float32)  # noqa: E731
    inits = {"w1": f(4, 1, 3), "b1": f(4), "s": f(4), "bb": f(4), "m": f(4), "v": np.abs(f(4)) + 0.5,
             "w2": f(4, 2, 3) * 0.5, "W": f(3, 16), "c": f(3)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"], strides=[2], pads=[1, 1]),
             helper.make_node("BatchNormalization", ["a", "s", "bb", "m", "v"], ["bn"]),
             helper.make_node("Relu", ["bn"], ["h"]),
             helper.make_node("Conv", ["h", "w2"], ["c2"], pads=[1, 1], group=2),
             helper.make_node("Relu", ["c2"], ["h2"]),
             helper.make_node("AveragePool", ["h2"], ["p"], kernel_shape=[2], strides=[2]),
             helper.make_node("Flatten", ["p"], ["fl"]),
             helper.make_node("Gemm", ["fl", "W", "c"], ["y"], transB=1)]
    g = helper.make_graph(nodes, "cnn1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, LENGTH])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                          [numpy_helper.from_array(a, k) for k, a in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("cnn1d") / "cnn1d.onnx.gz"
    p.write_bytes(gzip.compress(cnn1d_model().SerializeToString()))
    return p


@pytest.mark.parametrize("method", ["ibp", "crown", "alpha-crown"])
def test_bounds_contain_sampled_outputs(method, model_file):
    g = load_onnx(model_file)
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(1, 1, LENGTH))
    eps = 0.1
    b = compute_bounds(g, Region.box(x0 - eps, x0 + eps), method=method)
    xs = x0 + rng.uniform(-eps, eps, (2000, 1, LENGTH))
    xs[:16] = x0 + eps * np.sign(rng.normal(size=(16, 1, LENGTH)))       # some corners
    ys = np.asarray(run(g, xs), np.float64)
    assert np.all(ys >= b.lb - 1e-9) and np.all(ys <= b.ub + 1e-9)
    assert np.all(b.ub - b.lb < 100)                                     # finite, not vacuous


def _vnnlib(x, label, eps):
    lines = [f"(declare-const X_{i} Real)" for i in range(x.size)] + [f"(declare-const Y_{j} Real)" for j in range(3)]
    for i, v in enumerate(x.reshape(-1)):
        lines += [f"(assert (<= X_{i} {float(v + eps)!r}))", f"(assert (>= X_{i} {float(v - eps)!r}))"]
    others = " ".join(f"(and (>= Y_{j} Y_{label}))" for j in range(3) if j != label)
    return "\n".join(lines + [f"(assert (or {others}))"]) + "\n"


def test_small_category_through_the_suite(model_file, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from certnn.verify.bab_checker import check_bab_certificate
    from certnn.verify.vnncomp import run_instance, run_suite
    g = load_onnx(model_file)
    x0 = np.random.default_rng(2).normal(size=(1, 1, LENGTH))
    label = int(np.argmax(run(g, x0)))
    folder = model_file.parent
    (folder / "robust.vnnlib.gz").write_bytes(gzip.compress(_vnnlib(x0, label, 1e-3).encode()))
    (folder / "fragile.vnnlib").write_text(_vnnlib(x0, label, 3.0))
    csv = tmp_path / "instances.csv"
    csv.write_text(f"{model_file},{folder / 'robust.vnnlib.gz'},20,unsat\n{model_file},{folder / 'fragile.vnnlib'},20,sat\n")
    res = run_suite(csv, cert_dir=tmp_path)
    assert (res["solved"], res["wrong"], res["error"], res["certified"]) == (2, 0, 0, 1), [r.get("error") for r in res["rows"]]
    unsat = next(r for r in res["rows"] if r["status"] == "unsat")
    assert unsat["name"] == "cnn1d:robust"
    assert check_bab_certificate(unsat["certificate"]["written"]).ok
    # the sat's counterexample, as written in the result file, agrees with onnxruntime
    out = tmp_path / "r.txt"
    v = run_instance(model_file, folder / "fragile.vnnlib", 20, result_path=out)
    assert v.status == "sat" and out.read_text().startswith("sat\n")
    vals = dict(t.strip("() ").split() for t in out.read_text().split("\n")[1:] if t.strip())
    x = np.array([float(vals[f"X_{i}"]) for i in range(LENGTH)], np.float32).reshape(1, 1, LENGTH)
    y = np.array([float(vals[f"Y_{j}"]) for j in range(3)])
    sess = ort.InferenceSession(cnn1d_model().SerializeToString(), providers=["CPUExecutionProvider"])
    y_ort = sess.run(None, {"x": x})[0][0]
    np.testing.assert_allclose(y_ort, y, rtol=1e-4, atol=1e-4)
    assert max(np.delete(y_ort, label)) >= y_ort[label]
    assert np.all(np.abs(x - x0) <= 3.0 + 1e-6)


@pytest.mark.parametrize("name", sorted(IMPORT_CASES))
def test_bounds_of_every_new_import_contain_samples(name):
    """IBP and CROWN through the 1-D lift, the strided ConvTranspose and the composed ops are sound."""
    from certnn.interop.onnx_import import from_model
    g = from_model(IMPORT_CASES[name], name)
    shape = g.inputs[0].shape[1:]
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(1,) + shape)
    xs = x0 + rng.uniform(-0.1, 0.1, (300,) + shape)
    ys = np.asarray(run(g, xs), np.float64).reshape(300, -1)
    for method in ("ibp", "crown"):
        b = compute_bounds(g, Region.box(x0 - 0.1, x0 + 0.1), method=method)
        assert np.all(ys >= b.lb - 1e-9) and np.all(ys <= b.ub + 1e-9), method
