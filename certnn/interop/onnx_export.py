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
}
