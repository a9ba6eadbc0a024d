"""certnn graph -> ONNX (opset 20).

Every value keeps its node id as its ONNX name; ``param`` and ``const`` nodes
become initializers; a dynamic batch dim becomes the symbolic dim ``batch``.
Fused epilogues are unfused first. Each op maps to the ONNX op with the same
meaning (``EXPORTERS``), so ``load_onnx(save_onnx(g))`` computes exactly what
``g`` computes (the same ops on the same arrays). Losses (``cross_entropy``,
``mse``) have no export.
"""

from __future__ import annotations

import numpy as np

from ..io import atomic_write
from ..ir.graph import Graph
from ..ir.passes import unfuse
from .errors import OnnxError

OPSET = 20


def to_onnx(graph: Graph, opset: int = OPSET):
    """Return an ``onnx.ModelProto`` for ``graph`` (checked by ``onnx.checker``)."""
    import onnx
    from onnx import helper, numpy_helper

    g = unfuse(graph.copy()) if any(n.post for n in graph.nodes) else graph
    ex = _Exporter()
    ex.shapes = {m.id: m.shape for m in g.nodes}
    inputs = []
    for n in g.nodes:
        if n.op == "input":
            inputs.append(helper.make_tensor_value_info(n.id, _elem(n.dtype), _dims(n.shape)))
        elif n.is_source:
            ex.inits.append(numpy_helper.from_array(np.ascontiguousarray(g.arrays[n.id]), n.id))
        else:
            fn = EXPORTERS.get(n.op)
            if fn is None:
                raise OnnxError(f"cannot export node '{n.id}': op '{n.op}' has no ONNX export "
                                f"(exportable: {', '.join(sorted(EXPORTERS))})")
            fn(ex, n)
    outputs = []
    for o in g.outputs:
        name = o
        if g.node(o).is_source:  # a graph output must be produced by a node
            name = f"{o}/out"
            ex.node("Identity", [o], name)
        outputs.append(helper.make_tensor_value_info(name, _elem(g.node(o).dtype), _dims(g.node(o).shape)))
    model = helper.make_model(helper.make_graph(ex.nodes, "certnn", inputs, outputs, ex.inits),
                              opset_imports=[helper.make_opsetid("", opset)], producer_name="certnn")
    model.ir_version = min(model.ir_version, 10)
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001
        raise OnnxError(f"exported model fails the ONNX checker: {e}") from None
    return model


def save_onnx(graph: Graph, path, opset: int = OPSET) -> None:
    """Write ``graph`` as an ONNX file, atomically."""
    data = to_onnx(graph, opset).SerializeToString()
    with atomic_write(path) as f:
        f.write(data)


def _elem(dtype: str) -> int:
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _dims(shape) -> list:
    return ["batch" if d is None else int(d) for d in shape]


class _Exporter:
    def __init__(self):
        self.nodes, self.inits, self.shapes, self.k = [], [], {}, 0

    def node(self, op_type: str, inputs, output: str, **attrs) -> str:
        from onnx import helper
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=output, **attrs))
        return output

    def const(self, a, base: str) -> str:
        from onnx import numpy_helper
        self.k += 1
        name = f"{base}/c{self.k}"
        self.inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def ints(self, v, base: str) -> str:
        return self.const(np.asarray(v, dtype=np.int64).reshape(-1), base)


def _same(op_type):
    return lambda ex, n: ex.node(op_type, n.inputs, n.id)


def _linear(ex, n):
    x, w, *b = n.inputs
    if len(ex.shapes[x]) == 2:
        ex.node("Gemm", n.inputs, n.id, transB=1)
        return
    wt = ex.node("Transpose", [w], f"{n.id}/wT", perm=[1, 0])
    if b:
        y = ex.node("MatMul", [x, wt], f"{n.id}/xw")
        ex.node("Add", [y, b[0]], n.id)
    else:
        ex.node("MatMul", [x, wt], n.id)


def _conv2d(ex, n):
    a = n.attrs
    ph, pw = a["padding"]
    ex.node("Conv", n.inputs, n.id, strides=list(a["stride"]), pads=[ph, pw, ph, pw],
            dilations=list(a["dilation"]), group=int(a["groups"]))


def _pool(op_type):
    def fn(ex, n):
        a = n.attrs
        k = list(a["kernel_size"])
        s = list(a["stride"]) if a["stride"] is not None else k
        ph, pw = a["padding"]
        extra = ({"dilations": list(a["dilation"])} if op_type == "MaxPool"
                 else {"count_include_pad": int(bool(a["count_include_pad"]))})
        ex.node(op_type, n.inputs, n.id, kernel_shape=k, strides=s, pads=[ph, pw, ph, pw], **extra)
    return fn


def _flatten(ex, n):
    from ..ops.shape_ops import _flatten_dims
    s = ex.shapes[n.inputs[0]]
    a, b = _flatten_dims(s, n.attrs["start_dim"], n.attrs["end_dim"])
    if a == 1 and b == len(s) - 1:
        ex.node("Flatten", n.inputs, n.id, axis=1)
        return
    tail = s[b + 1:]
    if None in tail:
        raise OnnxError(f"cannot export flatten node '{n.id}': dynamic dim after the flattened range")
    target = [0] * a + [-1] + list(tail)
    ex.node("Reshape", [n.inputs[0], ex.ints(target, n.id)], n.id)


def _slice(ex, n):
    a = n.attrs
    k = len(a["starts"])
    names = [n.inputs[0], ex.ints(a["starts"], n.id), ex.ints(a["ends"], n.id),
             ex.ints(a["axes"] if a["axes"] is not None else range(k), n.id),
             ex.ints(a["steps"] if a["steps"] is not None else [1] * k, n.id)]
    ex.node("Slice", names, n.id)


def _pad(ex, n):
    value = np.asarray(n.attrs["value"], dtype=n.dtype)
    ex.node("Pad", [n.inputs[0], ex.ints(n.attrs["pads"], n.id), ex.const(value, n.id)], n.id, mode="constant")


def _reduce(op_type):
    def fn(ex, n):
        a = n.attrs
        ins = [n.inputs[0]]
        if a["axes"] is not None:
            ins.append(ex.ints(a["axes"], n.id))
        ex.node(op_type, ins, n.id, keepdims=int(bool(a["keepdims"])))
    return fn


def _layer_norm(ex, n):
    k = len(ex.shapes[n.inputs[1]])
    ex.node("LayerNormalization", n.inputs, n.id, axis=-k, epsilon=float(n.attrs["eps"]))


# ---- the zoo's ops: compositions of standard ONNX ops with the same meaning

def _c(ex, n, v):
    """A constant in the node's float dtype."""
    return ex.const(np.asarray(v, dtype=n.dtype), n.id)


def _target(shape) -> list:
    """A Reshape target: static sizes, -1 for the (one) dynamic dim."""
    return [-1 if d is None else int(d) for d in shape]


def _dropout(ex, n):
    x, keep = n.inputs
    y = ex.node("Mul", [x, _c(ex, n, 1.0 / (1.0 - n.attrs["p"]))], f"{n.id}/scaled")
    ex.node("Where", [keep, y, _c(ex, n, 0.0)], n.id)


def _rms_norm(ex, n):
    x, w = n.inputs
    k = len(ex.shapes[w])
    ms = ex.node("ReduceMean", [ex.node("Mul", [x, x], f"{n.id}/sq"), ex.ints(range(-k, 0), n.id)],
                 f"{n.id}/ms", keepdims=1)
    d = ex.node("Sqrt", [ex.node("Add", [ms, _c(ex, n, n.attrs["eps"])], f"{n.id}/ms_eps")], f"{n.id}/rms")
    ex.node("Mul", [ex.node("Div", [x, d], f"{n.id}/xhat"), w], n.id)


def _masked_softmax(ex, n):
    """kept: exp(x - m) / sum; m the max over kept entries (0 for a fully masked row);
    masked entries 0; a row with sum 0 (nothing kept) divides by 1."""
    x, keep = n.inputs
    ax, nid = int(n.attrs["axis"]), n.id
    xm = ex.node("Where", [keep, x, _c(ex, n, -np.inf)], f"{nid}/xm")
    m = ex.node("ReduceMax", [xm, ex.ints([ax], nid)], f"{nid}/max", keepdims=1)
    m = ex.node("Where", [ex.node("IsInf", [m], f"{nid}/inf"), _c(ex, n, 0.0), m], f"{nid}/shift")
    e = ex.node("Exp", [ex.node("Sub", [xm, m], f"{nid}/z")], f"{nid}/exp")
    s = ex.node("ReduceSum", [e, ex.ints([ax], nid)], f"{nid}/sum", keepdims=1)
    zero = ex.node("Equal", [s, _c(ex, n, 0.0)], f"{nid}/empty")
    ex.node("Div", [e, ex.node("Where", [zero, _c(ex, n, 1.0), s], f"{nid}/den")], nid)


def _dft_const(ex, n, size, m, inverse):
    from ..ops.fft import _dft
    return ex.const(np.ascontiguousarray(_dft(size, m, inverse, np.dtype(n.dtype).str).T), n.id)


def _rfft(ex, n):
    """One MatMul with the DFT matrix (the same linear map as certnn's real rule)."""
    (x,) = n.inputs
    s = ex.shapes[x]
    ax = n.attrs["axis"] % len(s)
    size, out = s[ax], ex.shapes[n.id]
    m, Q = out[ax], int(np.prod(s[ax + 1:], dtype=np.int64))
    rows = ex.node("Reshape", [x, ex.ints([-1, size, Q], n.id)], f"{n.id}/rows")
    y = ex.node("MatMul", [_dft_const(ex, n, size, m, False), rows], f"{n.id}/dft")
    y = ex.node("Reshape", [y, ex.ints([-1, m, 2, Q], n.id)], f"{n.id}/pairs")
    y = ex.node("Transpose", [y], f"{n.id}/last", perm=[0, 1, 3, 2])
    ex.node("Reshape", [y, ex.ints(_target(out), n.id)], n.id)


def _irfft(ex, n):
    (z,) = n.inputs
    s = ex.shapes[z]
    ax = n.attrs["axis"] % (len(s) - 1)
    m, Q, size = s[ax], int(np.prod(s[ax + 1:-1], dtype=np.int64)), n.attrs["n"]
    y = ex.node("Reshape", [z, ex.ints([-1, m, Q, 2], n.id)], f"{n.id}/pairs")
    y = ex.node("Transpose", [y], f"{n.id}/inter", perm=[0, 1, 3, 2])
    y = ex.node("Reshape", [y, ex.ints([-1, 2 * m, Q], n.id)], f"{n.id}/rows")
    y = ex.node("MatMul", [_dft_const(ex, n, size, m, True), y], f"{n.id}/idft")
    ex.node("Reshape", [y, ex.ints(_target(ex.shapes[n.id]), n.id)], n.id)


def _parts(ex, n, v, tag):
    """(re, im) of a (..., 2) value."""
    return tuple(ex.node("Gather", [v, ex.const(np.asarray(i, np.int64), n.id)], f"{n.id}/{tag}{i}", axis=-1)
                 for i in (0, 1))


def _pair(ex, n, re, im, name):
    last = ex.ints([-1], n.id)
    return ex.node("Concat", [ex.node("Unsqueeze", [re, last], f"{n.id}/re1"),
                              ex.node("Unsqueeze", [im, last], f"{n.id}/im1")], name, axis=-1)


def _complex_mul(ex, n):
    (ar, ai), (br, bi) = _parts(ex, n, n.inputs[0], "a"), _parts(ex, n, n.inputs[1], "b")
    mul = lambda p, q, t: ex.node("Mul", [p, q], f"{n.id}/{t}")  # noqa: E731
    re = ex.node("Sub", [mul(ar, br, "rr"), mul(ai, bi, "ii")], f"{n.id}/re")
    im = ex.node("Add", [mul(ar, bi, "ri"), mul(ai, br, "ir")], f"{n.id}/im")
    _pair(ex, n, re, im, n.id)


def _complex_matmul(ex, n):
    """The real block product [a_re a_im] @ [[b_re b_im], [-b_im b_re]]."""
    (ar, ai), (br, bi) = _parts(ex, n, n.inputs[0], "a"), _parts(ex, n, n.inputs[1], "b")
    k = ex.shapes[n.id][-2]
    A = ex.node("Concat", [ar, ai], f"{n.id}/A", axis=-1)
    top = ex.node("Concat", [br, bi], f"{n.id}/Btop", axis=-1)
    bottom = ex.node("Concat", [ex.node("Neg", [bi], f"{n.id}/nbi"), br], f"{n.id}/Bbot", axis=-1)
    y = ex.node("MatMul", [A, ex.node("Concat", [top, bottom], f"{n.id}/B", axis=-2)], f"{n.id}/Y")
    half = lambda a, b, t: ex.node("Slice", [y, ex.ints([a], n.id), ex.ints([b], n.id), ex.ints([-1], n.id)],  # noqa: E731
                                   f"{n.id}/{t}")
    _pair(ex, n, half(0, k, "re"), half(k, 2 * k, "im"), n.id)


def _selective_scan(ex, n):
    """The recurrence unrolled over its L (static) steps."""
    x, delta, A, B, C = n.inputs
    L = ex.shapes[x][1]
    idx = lambda t: ex.const(np.asarray(t, np.int64), n.id)  # noqa: E731
    unsq = lambda v, a, t: ex.node("Unsqueeze", [v, ex.ints([a], n.id)], t)  # noqa: E731
    h, ys = None, []
    for t in range(L):
        p = f"{n.id}/t{t}"
        xt, dt, Bt, Ct = (ex.node("Gather", [v, idx(t)], f"{p}/{k}", axis=1)
                          for v, k in ((x, "x"), (delta, "d"), (B, "B"), (C, "C")))
        a = ex.node("Exp", [ex.node("Mul", [unsq(dt, -1, f"{p}/d1"), A], f"{p}/dA")], f"{p}/a")
        u = ex.node("Mul", [dt, xt], f"{p}/u")
        bx = ex.node("Mul", [unsq(u, -1, f"{p}/u1"), unsq(Bt, 1, f"{p}/B1")], f"{p}/bx")
        h = bx if h is None else ex.node("Add", [ex.node("Mul", [a, h], f"{p}/ah"), bx], f"{p}/h")
        hc = ex.node("Mul", [h, unsq(Ct, 1, f"{p}/C1")], f"{p}/hC")
        ys.append(unsq(ex.node("ReduceSum", [hc, ex.ints([-1], n.id)], f"{p}/y", keepdims=0), 1, f"{p}/y1"))
    ex.node("Concat", ys, n.id, axis=1)


EXPORTERS = {
    "add": _same("Add"), "sub": _same("Sub"), "mul": _same("Mul"), "div": _same("Div"),
    "maximum": _same("Max"), "minimum": _same("Min"), "neg": _same("Neg"), "relu": _same("Relu"),
    "sigmoid": _same("Sigmoid"), "tanh": _same("Tanh"), "exp": _same("Exp"), "log": _same("Log"),
    "sqrt": _same("Sqrt"), "abs": _same("Abs"), "softplus": _same("Softplus"), "gelu": _same("Gelu"),
    "leaky_relu": lambda ex, n: ex.node("LeakyRelu", n.inputs, n.id, alpha=float(n.attrs["negative_slope"])),
    "matmul": _same("MatMul"), "linear": _linear, "conv2d": _conv2d,
    "max_pool2d": _pool("MaxPool"), "avg_pool2d": _pool("AveragePool"),
    "batch_norm": lambda ex, n: ex.node("BatchNormalization", n.inputs, n.id, epsilon=float(n.attrs["eps"])),
    "layer_norm": _layer_norm,
    "softmax": lambda ex, n: ex.node("Softmax", n.inputs, n.id, axis=int(n.attrs["axis"])),
    "log_softmax": lambda ex, n: ex.node("LogSoftmax", n.inputs, n.id, axis=int(n.attrs["axis"])),
    "reshape": lambda ex, n: ex.node("Reshape", [n.inputs[0], ex.ints(n.attrs["shape"], n.id)], n.id),
    "flatten": _flatten,
    "transpose": lambda ex, n: ex.node("Transpose", n.inputs, n.id, perm=list(n.attrs["perm"])),
    "concat": lambda ex, n: ex.node("Concat", n.inputs, n.id, axis=int(n.attrs["axis"])),
    "slice": _slice, "pad": _pad,
    "sum": _reduce("ReduceSum"), "mean": _reduce("ReduceMean"), "max": _reduce("ReduceMax"),
    "embedding": lambda ex, n: ex.node("Gather", [n.inputs[1], n.inputs[0]], n.id, axis=0),
    "dropout": _dropout, "rms_norm": _rms_norm, "masked_softmax": _masked_softmax, "rfft": _rfft,
    "irfft": _irfft, "complex_mul": _complex_mul, "complex_matmul": _complex_matmul,
    "selective_scan": _selective_scan, "where": _same("Where"),
}
