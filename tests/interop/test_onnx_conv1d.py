"""1-D convolutional networks and the ops VNN-COMP models use beyond the 2-D
image nets: each hand-built ONNX model agrees with onnxruntime on random inputs
(batched where the graph allows), survives export -> import exactly, and an
op certnn cannot import is one clear error naming the op, node and file."""

import numpy as np
import onnx
import pytest
from onnx import helper

from certnn import run
from certnn.interop import UnsupportedOnnxOp, load_onnx, save_onnx

from .test_onnx import _f32, _i64, _model, _ort, _session

ort = pytest.importorskip("onnxruntime")
N = "N"


def _conv1d(r, cin, cout, k, groups=1, **kw):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=groups, **kw)]
    return nodes, [("w", _f32(r, cout, cin // groups, k)), ("b", _f32(r, cout))]


def _cases():
    r = np.random.default_rng(11)
    cases = {}
    for name, (cin, cout, k, g, kw) in {
        "conv1d-stride2-pad": (3, 4, 5, 1, dict(strides=[2], pads=[2, 2])),
        "conv1d-asymmetric-pad": (2, 3, 4, 1, dict(pads=[0, 3])),
        "conv1d-dilation-groups": (4, 6, 3, 2, dict(dilations=[2], pads=[2, 2], strides=[3])),
        "conv1d-depthwise": (4, 4, 3, 4, dict(pads=[1, 1])),
        "conv1d-same-upper": (2, 2, 4, 1, dict(auto_pad="SAME_UPPER", strides=[2])),
        "conv1d-same-lower": (2, 2, 4, 1, dict(auto_pad="SAME_LOWER")),
    }.items():
        nodes, inits = _conv1d(r, cin, cout, k, g, **kw)
        cases[name] = _model(nodes, [N, cin, 13], inits=inits)
    cases["conv1d-bn-relu-pools-gap"] = _model(
        [helper.make_node("Conv", ["x", "w"], ["a"], pads=[1, 1]),
         helper.make_node("BatchNormalization", ["a", "s", "bb", "m", "v"], ["b"], epsilon=1e-3),
         helper.make_node("Relu", ["b"], ["c"]),
         helper.make_node("MaxPool", ["c"], ["d"], kernel_shape=[3], strides=[2], pads=[1, 1], dilations=[1]),
         helper.make_node("AveragePool", ["d"], ["e"], kernel_shape=[2], strides=[1], pads=[1, 1],
                          count_include_pad=1),
         helper.make_node("GlobalAveragePool", ["e"], ["f"]),
         helper.make_node("Flatten", ["f"], ["g"]),
         helper.make_node("Gemm", ["g", "W", "c2"], ["y"], transB=1)],
        [N, 2, 16], inits=[("w", _f32(r, 5, 2, 3)), ("s", _f32(r, 5)), ("bb", _f32(r, 5)), ("m", _f32(r, 5)),
                           ("v", np.abs(_f32(r, 5)) + 0.5), ("W", _f32(r, 3, 5)), ("c2", _f32(r, 3))])
    cases["conv1d-maxpool-dilated-flatten-matmul"] = _model(
        [helper.make_node("Conv", ["x", "w"], ["a"], strides=[2]),
         helper.make_node("Relu", ["a"], ["c"]),
         helper.make_node("MaxPool", ["c"], ["d"], kernel_shape=[2], dilations=[2]),
         helper.make_node("Flatten", ["d"], ["f"]), helper.make_node("MatMul", ["f", "W"], ["y"])],
        [N, 1, 20], inits=[("w", _f32(r, 3, 1, 4)), ("W", _f32(r, 3 * 7, 2))])
    cases["conv-transpose1d-stride"] = _model(
        [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[3], pads=[1, 2], output_padding=[1])],
        [N, 2, 5], inits=[("w", _f32(r, 2, 3, 4)), ("b", _f32(r, 3))])
    cases["conv-transpose2d-stride-groups-dilation"] = _model(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 3], pads=[1, 0, 2, 1], group=2,
                          dilations=[2, 1], output_padding=[1, 2])],
        [N, 4, 4, 3], inits=[("w", _f32(r, 4, 3, 3, 2))])
    cases["clip-pow-reduce"] = _model(
        [helper.make_node("Clip", ["x", "lo", "hi"], ["a"]), helper.make_node("Clip", ["x", "z"], ["a2"]),
         helper.make_node("Pow", ["x", "two"], ["p"]), helper.make_node("Add", ["p", "a"], ["q"]),
         helper.make_node("ReduceL2", ["q", "ax"], ["l2"], keepdims=1),
         helper.make_node("ReduceMin", ["a2", "ax"], ["mn"], keepdims=1),
         helper.make_node("ReduceSumSquare", ["x", "ax"], ["ss"], keepdims=1),
         helper.make_node("ReduceL1", ["x", "ax"], ["l1"], keepdims=1),
         helper.make_node("Sum", ["l2", "mn", "ss", "l1"], ["y"])],
        [N, 3, 4], inits=[("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.7, np.float32)),
                          ("z", np.array(0.0, np.float32)), ("two", np.array(2.0, np.float32)), ("ax", _i64(2))],
        opset=18)
    cases["clip-opset6-attrs"] = _model([helper.make_node("Clip", ["x"], ["y"], min=-0.2, max=0.3)], [N, 5], opset=6)
    cases["expand-where-prelu-reciprocal"] = _model(
        [helper.make_node("Expand", ["x", "shp"], ["e"]),
         helper.make_node("Where", ["cond", "e", "zero"], ["w"]),
         helper.make_node("PRelu", ["w", "slope"], ["p"]),
         helper.make_node("Abs", ["p"], ["pa"]), helper.make_node("Add", ["pa", "one"], ["pb"]),
         helper.make_node("Reciprocal", ["pb"], ["y"])],
        [N, 1, 4], inits=[("shp", _i64(1, 3, 4)), ("cond", np.array([True, False, True, True])),
                          ("zero", np.array(0.25, np.float32)), ("slope", _f32(r, 3, 1)),
                          ("one", np.array(1.0, np.float32))])
    cases["prelu-scalar-batched-matmul"] = _model(
        [helper.make_node("PRelu", ["x", "slope"], ["p"]), helper.make_node("MatMul", ["p", "W"], ["y"])],
        [N, 2, 3, 4], inits=[("slope", np.array([0.1], np.float32)), ("W", _f32(r, 2, 4, 5))])
    cases["resize-nearest-asymmetric-floor"] = _model(
        [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest",
                          coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
        [N, 2, 3, 4], inits=[("sc", np.array([1, 1, 2, 3], np.float32))])
    cases["resize-nearest-half-pixel-sizes-1d"] = _model(
        [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest")],
        [1, 2, 5], inits=[("sz", _i64(1, 2, 15))])
    cases["upsample-opset9"] = _model(
        [helper.make_node("Upsample", ["x", "sc"], ["y"], mode="nearest")],
        [N, 1, 2, 3], inits=[("sc", np.array([1, 1, 3, 2], np.float32))], opset=9)
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", CASES)
def test_model_matches_onnxruntime_and_round_trips(name, tmp_path):
    m = CASES[name]
    onnx.checker.check_model(m, full_check=True)
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    g = load_onnx(p)
    if not name.endswith("-1d"):      # (that one's batch of 1 is baked into its sizes)
        assert g.inputs[0].shape[:1] == (None,), "a batch-free model keeps a dynamic batch"
    sess = _session(m)
    rng = np.random.default_rng(5)
    shape = tuple(d if isinstance(d, int) else 3 for d in sess.get_inputs()[0].shape)
    for _ in range(3):
        x = rng.normal(size=shape).astype(np.float32)
        want = np.concatenate([_ort(sess, x[i:i + 1]) for i in range(len(x))])
        y = np.asarray(run(g, x))
        np.testing.assert_allclose(y.reshape(want.shape), want, rtol=1e-5, atol=1e-5)
    q = tmp_path / "r.onnx"
    save_onnx(g, q)
    g2 = load_onnx(q)
    assert np.array_equal(run(g2, x), run(g, x))
    assert np.array_equal(run(g2, x, semantics="binary32"), run(g, x, semantics="binary32"))


def test_conv1d_is_a_height_one_conv2d():
    g = load_onnx_model(CASES["conv1d-dilation-groups"])
    (conv,) = [n for n in g.nodes if n.op == "conv2d"]
    assert conv.attrs["stride"] == (1, 3) and conv.attrs["dilation"] == (1, 2) and conv.attrs["groups"] == 2
    assert g.node(conv.inputs[0]).shape == (None, 4, 1, 13)
    assert g.node(g.outputs[0]).shape == (None, 6, 5)   # (13 + 4 - 2 * 2 - 1) // 3 + 1


@pytest.mark.parametrize("node,shape,inits,op", [
    (helper.make_node("Sign", ["x"], ["y"], name="sgn"), [2, 3], [], "Sign"),
    (helper.make_node("Pow", ["x", "e"], ["y"], name="cube"), [2, 3], [("e", np.array(3.0, np.float32))], "Pow"),
    (helper.make_node("Conv", ["x", "w"], ["y"], name="conv3d"), [1, 1, 3, 3, 3],
     [("w", np.ones((1, 1, 2, 2, 2), np.float32))], "Conv"),
    (helper.make_node("Where", ["c", "x", "x"], ["y"], name="dynwhere"), [2, 3], [], "Where"),
    (helper.make_node("Resize", ["x", "", "sc"], ["y"], name="bilinear", mode="linear"), [1, 1, 2, 2],
     [("sc", np.array([1, 1, 2, 2], np.float32))], "Resize"),
    (helper.make_node("Resize", ["x", "", "sc"], ["y"], name="ceil", coordinate_transformation_mode="asymmetric",
                      nearest_mode="round_prefer_ceil"), [1, 1, 2, 2], [("sc", np.array([1, 1, 2, 2], np.float32))],
     "Resize"),
    (helper.make_node("Resize", ["x", "", "sc"], ["y"], name="frac"), [1, 1, 2, 2],
     [("sc", np.array([1, 1, 1.5, 2], np.float32))], "Resize"),
])
def test_unsupported_forms_are_one_clear_error(node, shape, inits, op, tmp_path):
    nodes = [node]
    if op == "Where":
        nodes = [helper.make_node("Greater", ["x", "z"], ["c"], name="gt"), node]
        inits = [("z", np.array(0.0, np.float32))]
    m = _model(nodes, shape, inits=inits)
    p = tmp_path / "bad.onnx"
    p.write_bytes(m.SerializeToString())
    with pytest.raises(UnsupportedOnnxOp) as e:
        load_onnx(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and f"'{e.value.op_type}'" in msg
    assert e.value.op_type in (op, "Greater")


def load_onnx_model(m):
    from certnn.interop.onnx_import import from_model
    return from_model(m, "test")


def test_gzipped_vnncomp_style_model(tmp_path):
    import gzip
    p = tmp_path / "net.onnx.gz"
    p.write_bytes(gzip.compress(CASES["conv1d-stride2-pad"].SerializeToString()))
    g = load_onnx(p)
    x = np.random.default_rng(0).normal(size=(2, 3, 13)).astype(np.float32)
    want = np.concatenate([_ort(_session(CASES["conv1d-stride2-pad"]), x[i:i + 1]) for i in range(2)])
    np.testing.assert_allclose(run(g, x), want, rtol=1e-5, atol=1e-5)
