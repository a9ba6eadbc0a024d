"""ONNX import/export: every benchmark model agrees with onnxruntime, export ->
import is exact, zoo models run in onnxruntime, hand-built models cover every
converter, and bad files / unsupported ops give clear errors."""

import gzip
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from certnn import zoo
from certnn.errors import CertnnError
from certnn.interop import OnnxError, UnsupportedOnnxOp, load_onnx, save_onnx
from certnn.ir.passes import optimize
from certnn.ir.trace import trace
from certnn import run
from certnn.io import benchmarks_root

ort = pytest.importorskip("onnxruntime")

BENCH = benchmarks_root()
FILES = sorted(p for p in BENCH.rglob("*") if p.name.endswith((".onnx", ".onnx.gz")))
RTOL, ATOL = 1e-5, 1e-6


def _session(path_or_model):
    if isinstance(path_or_model, Path) and path_or_model.name.endswith(".gz"):
        path_or_model = gzip.decompress(path_or_model.read_bytes())
    elif isinstance(path_or_model, onnx.ModelProto):
        path_or_model = path_or_model.SerializeToString()
    else:
        path_or_model = str(path_or_model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path_or_model, so, providers=["CPUExecutionProvider"])


def _ort(sess, x):
    i = sess.get_inputs()[0]
    return sess.run(None, {i.name: x})[0]


def _feed_shape(sess, batch):
    dims = sess.get_inputs()[0].shape
    return tuple(batch if (k == 0 and not isinstance(d, int)) else (d if isinstance(d, int) else 1)
                 for k, d in enumerate(dims))


def _certnn_input(g, x):
    """The ONNX-shaped array in the graph's input shape (batch dim kept or not)."""
    n = g.inputs[0]
    if n.shape[:1] == (None,):
        return x.reshape((x.shape[0],) + tuple(n.shape[1:]))
    return x.reshape(n.shape)


# ---------------------------------------------------------------- benchmark models

@pytest.mark.skipif(not FILES, reason="no ONNX files under $CERTNN_BENCHMARKS")
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BENCH)))
def test_benchmark_model_matches_onnxruntime_and_round_trips(path, tmp_path):
    g = load_onnx(path)
    sess = _session(path)
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-1, 1, _feed_shape(sess, 1)).astype(np.float32) for _ in range(3)]
    want = [_ort(sess, x) for x in xs]
    got = [run(g, _certnn_input(g, x)) for x in xs]
    for y, w in zip(got, want):
        np.testing.assert_allclose(y.reshape(w.shape), w, rtol=RTOL, atol=ATOL)
    # export -> import is exact, and onnxruntime agrees with the exported file
    out = tmp_path / "m.onnx"
    save_onnx(g, out)
    g2 = load_onnx(out)
    sess2 = _session(out)
    for x, y in zip(xs, got):
        xi = _certnn_input(g, x)
        assert np.array_equal(run(g2, _certnn_input(g2, x)).reshape(y.shape), y)
        assert np.array_equal(run(g2, _certnn_input(g2, x), semantics="binary32").reshape(y.shape),
                              run(g, xi, semantics="binary32"))
        np.testing.assert_allclose(_ort(sess2, _certnn_input(g2, x)).reshape(y.shape), y, rtol=RTOL, atol=ATOL)


def test_benchmark_batch_convention():
    mnist = BENCH / "vnncomp2022/mnist_fc/onnx/mnist-net_256x2.onnx"
    nano = BENCH / "vnncomp2022/test/test_nano.onnx"
    if not (mnist.exists() and nano.exists()):
        pytest.skip("benchmarks not present")
    g = load_onnx(mnist)
    (inp,) = g.inputs
    assert inp.shape == (None, 784, 1) and inp.attrs["onnx_shape"] == [1, 784, 1]
    assert inp.attrs["onnx_name"] == "0"
    assert run(g, np.zeros((4, 784, 1), np.float32)).shape == (4, 10)
    # a 1-D input [1] is not batch-polymorphic (MatMul of a vector): fixed shape kept
    assert load_onnx(nano).inputs[0].shape == (1,)


def test_gzipped_model_loads_the_same(tmp_path):
    src = FILES[0] if FILES else None
    if src is None or src.name.endswith(".gz"):
        pytest.skip("no plain ONNX benchmark file")
    gz = tmp_path / (src.name + ".gz")
    gz.write_bytes(gzip.compress(src.read_bytes()))
    a, b = load_onnx(src), load_onnx(gz)
    x = np.random.default_rng(1).uniform(-1, 1, (2,) + tuple(a.inputs[0].shape[1:])).astype(np.float32)
    if a.inputs[0].shape[:1] != (None,):
        x = x[0].reshape(a.inputs[0].shape)
    assert np.array_equal(run(a, x), run(b, x))


# ---------------------------------------------------------------- zoo models

ZOO = {
    "mlp-relu": (lambda: zoo.mlp(784, (32, 16), 10), (784,)),
    "mlp-tanh": (lambda: zoo.mlp(20, (8,), 3, "tanh"), (20,)),
    "mlp-sigmoid": (lambda: zoo.mlp(20, (8,), 3, "sigmoid"), (20,)),
    "mlp-gelu": (lambda: zoo.mlp(20, (8,), 3, "gelu"), (20,)),
    "cnn": (lambda: zoo.cnn(1, 10, 4, 28), (1, 28, 28)),
}


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_exports_to_onnxruntime_and_round_trips(name, tmp_path):
    make, shape = ZOO[name]
    m = make()
    m.eval()
    x = np.random.default_rng(2).normal(size=(3,) + shape).astype(np.float32)
    g = optimize(trace(m, x)[0])          # fused activations are unfused on export
    p = tmp_path / "m.onnx"
    save_onnx(g, p)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temp file
    y = run(g, x)
    np.testing.assert_allclose(_ort(_session(p), x), y, rtol=RTOL, atol=ATOL)
    g2 = load_onnx(p)
    assert g2.inputs[0].shape[:1] == (None,)
    assert np.array_equal(run(g2, x), y)
    assert np.array_equal(run(g2, x, semantics="binary32"), run(g, x, semantics="binary32"))


def test_export_refuses_a_loss():
    from certnn.ir.graph import Graph, Node
    g = Graph([Node("x", "input", shape=(None, 3)), Node("t", "input", shape=(None, 3)),
               Node("l", "mse", ("x", "t"))], ["l"]).validate()
    with pytest.raises(OnnxError, match="mse"):
        save_onnx(g, "/nonexistent/never-written.onnx")


# ---------------------------------------------------------------- hand-built models

def _f32(rng, *shape):
    return rng.normal(size=shape).astype(np.float32)


def _model(nodes, in_shape, out_name="y", inits=(), opset=17, in_name="x", out_shape=None):
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
                          [numpy_helper.from_array(a, k) for k, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)  # fills in the output's type and shape


def _i64(*v):
    return np.array(v, dtype=np.int64)


def _cases():
    r = np.random.default_rng(3)
    N = "N"
    cases = {}
    cases["gemm-all-attrs"] = _model(
        [helper.make_node("Gemm", ["x", "W", "C"], ["y"], transA=1, transB=0, alpha=0.5, beta=2.0)],
        [6, 2], inits=[("W", _f32(r, 6, 4)), ("C", _f32(r, 4))])
    cases["gemm"] = _model(
        [helper.make_node("Gemm", ["x", "W", "C"], ["h"], transB=1, alpha=0.5, beta=2.0),
         helper.make_node("Gemm", ["h", "W2"], ["y"])],
        [N, 6], inits=[("W", _f32(r, 4, 6)), ("C", _f32(r, 4)), ("W2", _f32(r, 4, 3))])
    cases["matmul-add-elementwise"] = _model(
        [helper.make_node("MatMul", ["x", "W"], ["a"]), helper.make_node("Add", ["a", "b"], ["c"]),
         helper.make_node("LeakyRelu", ["c"], ["d"], alpha=0.2), helper.make_node("Sigmoid", ["d"], ["e"]),
         helper.make_node("Tanh", ["c"], ["f"]), helper.make_node("Sub", ["e", "f"], ["g"]),
         helper.make_node("Mul", ["g", "k"], ["h"]), helper.make_node("Div", ["h", "k2"], ["i"]),
         helper.make_node("Neg", ["i"], ["j"]), helper.make_node("Identity", ["j"], ["l"]),
         helper.make_node("Softmax", ["l"], ["y"], axis=-1)],
        [N, 5], inits=[("W", _f32(r, 5, 4)), ("b", _f32(r, 4)), ("k", _f32(r, 4)),
                       ("k2", np.abs(_f32(r, 1)) + 1)])
    cases["conv-bn-pool"] = _model(
        [helper.make_node("Conv", ["x", "w", "cb"], ["a"], pads=[1, 1, 1, 1], strides=[1, 1]),
         helper.make_node("BatchNormalization", ["a", "s", "bb", "m", "v"], ["b"], epsilon=1e-3),
         helper.make_node("Relu", ["b"], ["c"]),
         helper.make_node("MaxPool", ["c"], ["d"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Conv", ["d", "w2"], ["e"], pads=[0, 0, 1, 1], strides=[2, 2]),  # asymmetric
         helper.make_node("AveragePool", ["e"], ["f"], kernel_shape=[2, 2], strides=[1, 1]),
         helper.make_node("GlobalAveragePool", ["f"], ["y"])],
        [N, 2, 8, 8], inits=[("w", _f32(r, 3, 2, 3, 3)), ("cb", _f32(r, 3)), ("s", _f32(r, 3)),
                             ("bb", _f32(r, 3)), ("m", _f32(r, 3)), ("v", np.abs(_f32(r, 3)) + 0.5),
                             ("w2", _f32(r, 4, 3, 2, 2))])
    cases["conv-transpose-pad"] = _model(
        [helper.make_node("ConvTranspose", ["x", "w", "b"], ["a"], pads=[1, 1, 1, 1]),
         helper.make_node("Pad", ["a", "p", "cv"], ["y"], mode="constant")],
        [N, 2, 5, 5], inits=[("w", _f32(r, 2, 3, 3, 3)), ("b", _f32(r, 3)),
                             ("p", _i64(0, 0, 1, 0, 0, 0, 2, 1)), ("cv", np.array(0.5, np.float32))])
    # the PyTorch export of x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    cases["flatten-by-shape-subgraph"] = _model(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
         helper.make_node("Concat", ["n1", "minus1"], ["shp"], axis=0),
         helper.make_node("Cast", ["shp"], ["shp2"], to=TensorProto.INT64),
         helper.make_node("Reshape", ["x", "shp2"], ["f"]),
         helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(_f32(r, 12, 3))),
         helper.make_node("MatMul", ["f", "W"], ["y"])],
        [1, 3, 2, 2], inits=[("zero", np.array(0, np.int64)), ("ax0", _i64(0)), ("minus1", _i64(-1))])
    cases["reshape-fixed-batch-1"] = _model(
        [helper.make_node("Reshape", ["x", "shp"], ["f"]), helper.make_node("Relu", ["f"], ["y"])],
        [1, 2, 3], inits=[("shp", _i64(1, 6))])
    cases["squeeze-unsqueeze-transpose-slice-concat"] = _model(
        [helper.make_node("Unsqueeze", ["x", "a1"], ["u"]),
         helper.make_node("Transpose", ["u"], ["t"], perm=[0, 3, 2, 1]),
         helper.make_node("Squeeze", ["t", "a3"], ["s"]),
         helper.make_node("Slice", ["s", "st", "en", "ax", "sp"], ["sl"]),
         helper.make_node("Concat", ["sl", "s"], ["y"], axis=1)],
        [N, 3, 4], inits=[("a1", _i64(3)), ("a3", _i64(1)), ("st", _i64(1)), ("en", _i64(10 ** 18)),
                          ("ax", _i64(1)), ("sp", _i64(2))])
    cases["gather-split-reduce"] = _model(
        [helper.make_node("Gather", ["x", "i"], ["g"], axis=1),
         helper.make_node("Gather", ["x", "j"], ["h"], axis=2),
         helper.make_node("Split", ["x", "sz"], ["p", "q"], axis=2),
         helper.make_node("ReduceSum", ["p", "rax"], ["rs"], keepdims=1),
         helper.make_node("ReduceMean", ["q"], ["rm"], axes=[1, 2], keepdims=1),
         helper.make_node("Mul", ["g", "rm"], ["gm"]),
         helper.make_node("Add", ["gm", "rs"], ["a"]),
         helper.make_node("ReduceSum", ["h", "rax2"], ["hs"], keepdims=1),
         helper.make_node("Unsqueeze", ["hs", "ax2"], ["hs2"]),
         helper.make_node("Add", ["a", "hs2"], ["y"])],
        [N, 3, 4], inits=[("i", _i64(2, 0)), ("j", np.array(1, np.int64)), ("sz", _i64(1, 3)),
                          ("rax", _i64(1)), ("rax2", _i64(1)), ("ax2", _i64(2))], opset=17)
    cases["softmax-opset11-axis1"] = _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [N, 2, 3], opset=11)
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", CASES)
def test_hand_built_model_matches_onnxruntime(name, tmp_path):
    m = CASES[name]
    onnx.checker.check_model(m)
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    g = load_onnx(p)
    sess = _session(m)
    batch = 3 if g.inputs[0].shape[:1] == (None,) else 1
    x = np.random.default_rng(4).normal(size=_feed_shape(sess, batch)).astype(np.float32)
    want = _ort(sess, x)
    y = run(g, _certnn_input(g, x) if batch == 1 else x)
    np.testing.assert_allclose(np.asarray(y).reshape(want.shape), want, rtol=1e-5, atol=1e-5)
    # the constant shape subgraph folded away: no Shape/Gather/Cast remains in the graph
    assert all(n.op in {"input", "param", "const"} or n.op.islower() for n in g.nodes)
    q = tmp_path / "r.onnx"
    save_onnx(g, q)
    g2 = load_onnx(q)
    xi = _certnn_input(g, x) if batch == 1 else x
    assert np.array_equal(run(g2, xi), run(g, xi))


def test_batch_is_dynamic_when_the_graph_allows_it():
    flat = load_onnx_model(CASES["flatten-by-shape-subgraph"])
    assert flat.inputs[0].shape == (None, 3, 2, 2)
    assert run(flat, np.ones((5, 3, 2, 2), np.float32)).shape == (5, 3)
    fixed1 = load_onnx_model(CASES["reshape-fixed-batch-1"])
    assert fixed1.inputs[0].shape == (None, 2, 3)   # Reshape [1, 6] copies the batch dim
    # a reshape of the whole tensor into one row pins the batch size: fixed shape kept
    m = _model([helper.make_node("Reshape", ["x", "shp"], ["y"])], [1, 2, 3], inits=[("shp", _i64(-1))])
    assert load_onnx_model(m).inputs[0].shape == (1, 2, 3)
    # so does a broadcast that lines a per-row scalar up with the last axis
    m = _model([helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0, noop_with_empty_axes=0),
                helper.make_node("ReduceMean", ["x", "ax"], ["r"], keepdims=0),
                helper.make_node("Mul", ["x", "r"], ["y"])], [1, 2, 1], inits=[("ax", _i64(1, 2))], opset=18)
    assert load_onnx_model(m).inputs[0].shape == (1, 2, 1)


def load_onnx_model(m):
    from certnn.interop.onnx_import import from_model
    return from_model(m, "test")


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("op_type", ["Einsum", "Loop"])
def test_unsupported_op_names_op_and_node(op_type, tmp_path):
    r = np.random.default_rng(5)
    if op_type == "Einsum":
        node = helper.make_node("Einsum", ["x", "W"], ["y"], equation="ij,jk->ik", name="my_einsum")
        m = _model([node], [2, 3], inits=[("W", _f32(r, 3, 4))])
    else:
        body = helper.make_graph(
            [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
            "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                     helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                     helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [2, 3])],
            [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
             helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2, 3])])
        node = helper.make_node("Loop", ["trip", "", "x"], ["y"], body=body, name="my_loop")
        m = _model([node], [2, 3], inits=[("trip", np.array(2, np.int64))], out_shape=[2, 3])
    p = tmp_path / "bad.onnx"
    p.write_bytes(m.SerializeToString())
    with pytest.raises(UnsupportedOnnxOp) as e:
        load_onnx(p)
    msg = str(e.value)
    assert op_type in msg and f"my_{op_type.lower()}" in msg and str(p) in msg
    assert e.value.op_type == op_type and isinstance(e.value, CertnnError)


def test_truncated_or_garbage_files_name_the_file(tmp_path):
    src = BENCH / "vnncomp2022/mnist_fc/onnx/mnist-net_256x2.onnx"
    data = src.read_bytes() if src.exists() else _cases()["gemm"].SerializeToString()
    for k, cut in enumerate([10, len(data) // 3, len(data) // 2, len(data) - 7]):
        p = tmp_path / f"cut{k}.onnx"
        p.write_bytes(data[:cut])
        with pytest.raises(OnnxError, match=str(p).replace(".", r"\.")):
            load_onnx(p)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf \xff\xfe" * 10)
    with pytest.raises(OnnxError, match="junk.onnx"):
        load_onnx(junk)
    gz = tmp_path / "t.onnx.gz"
    gz.write_bytes(gzip.compress(data)[:200])
    with pytest.raises(OnnxError, match="gzip"):
        load_onnx(gz)
    with pytest.raises(OnnxError, match="missing.onnx"):
        load_onnx(tmp_path / "missing.onnx")


def test_computed_operand_where_a_constant_is_needed(tmp_path):
    m = _model([helper.make_node("Reshape", ["x", "x2"], ["y"], name="dyn_reshape"),
                helper.make_node("Cast", ["x"], ["x2"], to=TensorProto.INT64)], [2, 2])
    # nodes out of order are rejected by the ONNX checker: a clear error too
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    with pytest.raises(OnnxError, match=r"m\.onnx"):
        load_onnx(p)
    m = _model([helper.make_node("Cast", ["x"], ["x2"], to=TensorProto.INT64, name="dyn_cast"),
                helper.make_node("Reshape", ["x", "x2"], ["y"], name="dyn_reshape")], [2, 2])
    with pytest.raises(UnsupportedOnnxOp, match="'Cast' at node 'dyn_cast'.*float32 to int64"):
        load_onnx_model(m)
