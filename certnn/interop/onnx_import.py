"""ONNX -> certnn graph.

``load_onnx(path)`` reads ``.onnx`` or ``.onnx.gz`` with the ``onnx`` package,
checks it with ``onnx.checker``, and converts node by node onto the op table
(see ``CONVERTERS`` and docs/interop.md). Anything whose inputs are all
constants (shape arithmetic, Constant, Cast, Gather on initializers, ...) is
evaluated at import time by ONNX's own reference evaluator, so constant
subgraphs fold away and only ops on the model input reach the graph.

Batch dimension: an input whose first dim is 1 or symbolic is first imported
with a dynamic batch (``None``); a Reshape whose target pins that dim to 1 then
copies it instead (target entry 0). The result is kept only when every output
has the batch dim and two stacked rows give the two per-row outputs of the
fixed-shape import; otherwise the fixed ONNX shapes are kept (e.g. a 1-D
input of shape [1]). Each input node records ``onnx_name`` and ``onnx_shape``
in its attrs; VNNLIB's X_i is element i of the row-major flattened ONNX input.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import max_bytes, read_bytes
from ..ir.graph import Graph, Node
from ..ops import get_op
from .errors import ImportTimeout, OnnxError, UnsupportedOnnxOp


# ---------------------------------------------------------------- reading

def read_model(path):
    """Parse and check an ONNX file (gzip allowed, within certnn's file-size cap):
    onnx's full check (shape inference in strict mode included) and an opset this
    onnx knows; errors name the file."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    data = read_bytes(path, "ONNX model", OnnxError)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise OnnxError(f"{path}: not an ONNX model, or truncated ({e})") from None
    del data
    if not model.HasField("graph") or not model.graph.node:
        raise OnnxError(f"{path}: not an ONNX model, or truncated (no graph nodes)")
    known = onnx.defs.onnx_opset_version()
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx") and not 1 <= o.version <= known:
            raise OnnxError(f"{path}: opset {o.version} is not a version of the ONNX operator set "
                            f"(this onnx knows 1 to {known})")
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # onnx raises ValidationError, InferenceError and, for some defects, others
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OnnxError(f"{path}: invalid ONNX model, or truncated ({first})") from None
    return model


def load_onnx(path, deadline: float | None = None) -> Graph:
    """Import an ONNX model into a validated certnn graph (see the module doc).
    ``deadline`` (a ``time.monotonic()`` value): raise :class:`ImportTimeout`
    once it has passed (checked node by node)."""
    model = read_model(path)
    return from_model(model, source=str(path), deadline=deadline)


def from_model(model, source: str = "<onnx>", deadline: float | None = None) -> Graph:
    imp = _Importer(model, source, batch=False, deadline=deadline)
    fixed = imp.run()
    if not imp.batch_candidate:
        return fixed
    try:
        batched = _Importer(model, source, batch=True, deadline=deadline).run()
    except ImportTimeout:
        raise
    except CertnnError:
        return fixed  # some node pins the batch size
    _on_time(deadline, source)
    return batched if _batch_free(fixed, batched) else fixed


def _on_time(deadline: float | None, source: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ImportTimeout(f"{source}: the time limit ran out while importing the model")


def _batch_free(fixed: Graph, batched: Graph) -> bool:
    """Two random rows through the batched graph equal each row through the
    fixed one (up to BLAS noise; a baked-in batch size shows as wrong shapes or rows)."""
    from ..ir.interpret import evaluate

    if any(batched.node(o).shape[:1] != (None,) for o in batched.outputs):
        return False
    rng = np.random.default_rng(0)
    feeds = {n.id: rng.uniform(-1, 1, (2,) + tuple(n.shape[1:])).astype(n.dtype) for n in batched.inputs}
    try:
        with np.errstate(all="ignore"):
            ys = evaluate(batched, feeds)[0]
            rows = [evaluate(fixed, {k: v[r:r + 1] for k, v in feeds.items()})[0] for r in range(2)]
    except Exception:  # noqa: BLE001 - any failure (shape, NumPy) means: not batch-free
        return False
    for k, y in enumerate(ys):
        if any(row[k].shape[:1] != (1,) for row in rows):
            return False  # the output's first dim is not the batch of one row
        want = np.concatenate([row[k] for row in rows])
        if y.shape != want.shape or not np.allclose(y, want, rtol=1e-5, atol=1e-6, equal_nan=True):
            return False
    return True


# ---------------------------------------------------------------- the converter

class _Importer:
    def __init__(self, model, source: str, batch: bool, deadline: float | None = None):
        self.model, self.source, self.batch, self.deadline = model, source, batch, deadline
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.nodes: list[Node] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.env: dict[str, object] = {}     # ONNX value name -> np.ndarray (constant) or node id
        self.shape: dict[str, tuple] = {}    # node id -> certnn shape
        self.dtype: dict[str, str] = {}
        self.const_ids: dict[int, tuple] = {}  # id(array) -> (array, const node id made for it)
        self.names: dict[int, tuple] = {}      # id(initializer array) -> (array, its name)
        self.uses: dict[str, int] = {}
        self.nobias: set[str] = set()        # bias-less linear nodes that may take an Add's bias
        self.onnx_node = None
        self.batch_candidate = False         # some input's first dim is 1 or symbolic

    # ---- helpers used by the converters ------------------------------------------------
    def fail(self, detail: str) -> OnnxError:
        n = self.onnx_node
        return UnsupportedOnnxOp(n.op_type, _node_name(n), self.source, detail)

    def invalid(self, detail: str) -> OnnxError:
        """The model breaks ONNX's own rules at the current node (not a gap in certnn)."""
        n = self.onnx_node
        return OnnxError(f"{self.source}: node '{_node_name(n)}' ({n.op_type}) is invalid: {detail}")

    def fresh(self, base: str) -> str:
        nid, k = base, 1
        while nid in self.shape or nid in self.arrays:
            nid, k = f"{base}/{k}", k + 1
        return nid

    def const(self, a: np.ndarray, kind: str = "const") -> str:
        """The id of a const (or param) node holding ``a``, made once."""
        if id(a) in self.const_ids:
            return self.const_ids[id(a)][1]
        keep = a
        name = self.names.get(id(a), (None, "const"))[1]
        a = np.ascontiguousarray(a)
        nid = self.fresh(name)
        self.arrays[nid] = a
        self.nodes.append(Node(nid, kind, shape=a.shape, dtype=str(a.dtype)))
        self.shape[nid], self.dtype[nid] = a.shape, str(a.dtype)
        self.const_ids[id(keep)] = (keep, nid)  # holding the array keeps its id() unique
        return nid

    def ref(self, v, like: str | None = None) -> str:
        """Node id for a value; a constant is cast to the float dtype of ``like``."""
        if isinstance(v, np.ndarray):
            if like is not None and v.dtype != np.dtype(self.dtype[like]):
                v = v.astype(self.dtype[like])
            return self.const(v)
        return v

    def add(self, op: str, inputs, attrs=None, name: str | None = None) -> str:
        """Append a node (shape from the op's shape rule); returns its id."""
        inputs = tuple(inputs)
        nid = self.fresh(name or (self.onnx_node.output[0] if self.onnx_node is not None else op))
        try:
            d = get_op(op)
            d.check_arity(len(inputs))
            attrs = d.normalize(dict(attrs or {}))
            shape = tuple(d.shape([self.shape[i] for i in inputs], **attrs))
        except CertnnError as e:
            n = self.onnx_node
            raise OnnxError(f"{self.source}: node '{_node_name(n)}' ({n.op_type}) cannot be "
                            f"imported as '{op}': {e}") from None
        dtype = next((self.dtype[i] for i in inputs if np.dtype(self.dtype[i]).kind == "f"),
                     self.dtype[inputs[0]])
        size = math.prod(d for d in shape if d is not None) * np.dtype(dtype).itemsize
        if size > max_bytes():     # checked before anything (the batch test below) evaluates it
            n = self.onnx_node
            raise OnnxError(f"{self.source}: node '{_node_name(n)}' ({n.op_type}) would hold {size} bytes "
                            f"per example (shape {shape}), more than the limit of {max_bytes()}")
        self.nodes.append(Node(nid, op, inputs, attrs, shape=shape, dtype=dtype))
        self.shape[nid], self.dtype[nid] = shape, dtype
        return nid

    def concrete(self, v) -> tuple:
        """The static shape with the batch dim at its ONNX size 1 (for Shape)."""
        s = v.shape if isinstance(v, np.ndarray) else self.shape[v]
        return tuple(1 if d is None else d for d in s)

    def sym_shape(self, v) -> tuple:
        return v.shape if isinstance(v, np.ndarray) else self.shape[v]

    def reshape_to(self, v: str, out: tuple) -> str:
        """Reshape node to ``out`` (``None`` dims: copied with 0 when at the same
        position in the input, else the one inferred -1)."""
        s = self.shape[v]
        target = [0 if d is None and j < len(s) and s[j] is None else (-1 if d is None else d)
                  for j, d in enumerate(out)]
        if target.count(-1) > 1:
            raise self.fail(f"cannot express the reshape to {out} with one dynamic dim")
        if tuple(out) == tuple(s):
            return v
        return self.add("reshape", [v], {"shape": tuple(target)})

    # ---- the walk -----------------------------------------------------------------------
    def run(self) -> Graph:
        from onnx import numpy_helper

        g = self.model.graph
        for t in g.initializer:
            a = numpy_helper.to_array(t)
            if a.dtype.kind == "f" and np.isnan(a).any():    # (an infinity may be a mask value)
                raise OnnxError(f"{self.source}: initializer '{t.name}' contains NaN")
            self.names[id(a)] = (a, t.name)
            self.env[t.name] = a
        for n in g.node:
            for i in n.input:
                self.uses[i] = self.uses.get(i, 0) + 1
        for o in g.output:
            self.uses[o.name] = self.uses.get(o.name, 0) + 1
        for vi in g.input:
            if vi.name not in self.env:  # IR < 4 lists initializers as inputs too
                self._input(vi)
        for n in g.node:
            _on_time(self.deadline, self.source)
            self.onnx_node = n
            self._convert(n)
        self.onnx_node = None
        _on_time(self.deadline, self.source)
        outputs = []
        for o in g.output:
            v = self.env.get(o.name)
            if v is None:
                raise OnnxError(f"{self.source}: graph output '{o.name}' is never computed")
            outputs.append(self.const(v) if isinstance(v, np.ndarray) else v)
        graph = Graph(self.nodes, outputs, self.arrays)
        try:
            return graph.validate()
        except CertnnError as e:
            raise OnnxError(f"{self.source}: imported graph does not validate: {e}") from None

    def _input(self, vi) -> None:
        from onnx import helper

        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
            raise OnnxError(f"{self.source}: input '{vi.name}' has no tensor shape")
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
        shape = tuple(d if isinstance(d, int) else 1 for d in dims)
        if any(d < 0 for d in shape):
            raise OnnxError(f"{self.source}: input '{vi.name}' has a negative dimension ({dims})")
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type)).itemsize
        if math.prod(shape) * itemsize > max_bytes():
            raise OnnxError(f"{self.source}: input '{vi.name}' of shape {dims} holds more than "
                            f"{max_bytes()} bytes per example; not a model certnn can run")
        batch = len(dims) >= 1 and (dims[0] == 1 or isinstance(dims[0], str))
        if self.batch and batch:
            shape = (None,) + shape[1:]
        dtype = str(np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type)))
        nid = self.fresh(vi.name)
        self.batch_candidate |= batch
        self.nodes.append(Node(nid, "input", attrs={"onnx_name": vi.name, "onnx_shape": list(dims)},
                               shape=shape, dtype=dtype))
        self.shape[nid], self.dtype[nid] = shape, dtype
        self.env[vi.name] = nid

    def _convert(self, n) -> None:
        if n.domain not in ("", "ai.onnx"):
            raise self.fail(f"custom domain '{n.domain}'")
        ins = [self.env.get(i) if i else None for i in n.input]
        missing = [i for i, v in zip(n.input, ins) if i and v is None]
        if missing:
            raise OnnxError(f"{self.source}: node '{_node_name(n)}' ({n.op_type}) uses undefined "
                            f"value(s) {missing}")
        attrs = _attrs(n)
        if n.op_type == "Shape":
            s = self.concrete(ins[0])
            start, end = attrs.get("start", 0), attrs.get("end", len(s))
            outs = [np.array(s[slice(start, end)], dtype=np.int64)]
        elif all(v is None or isinstance(v, np.ndarray) for v in ins) and n.op_type not in NO_FOLD:
            outs = self._fold(n, ins)
        else:
            conv = CONVERTERS.get(n.op_type)
            if conv is None:
                raise self.fail("no converter (see docs/interop.md for the supported ops)")
            outs = conv(self, ins, attrs)
            if not isinstance(outs, list):
                outs = [outs]
        for name, v in zip(n.output, outs):
            if name:
                self.env[name] = v
        for name in n.output[len(outs):]:
            if name and self.uses.get(name):
                raise self.fail(f"output '{name}' is not supported")

    def _fold(self, n, ins) -> list:
        from onnx.reference import ReferenceEvaluator

        size = _folded_size(n, ins, _attrs(n))
        if size is not None and size > max_bytes():
            raise OnnxError(f"{self.source}: constant node '{_node_name(n)}' ({n.op_type}) would fold to "
                            f"{size} bytes, more than the limit of {max_bytes()}")
        try:
            ev = ReferenceEvaluator(n, opsets={"": self.opset})
            feeds = {name: v for name, v in zip(n.input, ins) if name}
            outs = [np.asarray(v) for v in ev.run(None, feeds)]
        except Exception as e:  # noqa: BLE001 - the reference evaluator raises many kinds
            raise OnnxError(f"{self.source}: cannot fold constant node '{_node_name(n)}' "
                            f"({n.op_type}): {type(e).__name__}: {e}") from None
        if sum(o.nbytes for o in outs) > max_bytes():
            raise OnnxError(f"{self.source}: constant node '{_node_name(n)}' ({n.op_type}) folds to more "
                            f"than the limit of {max_bytes()} bytes")
        if any(o.dtype.kind == "f" and np.isnan(o).any() for o in outs):
            raise OnnxError(f"{self.source}: constant node '{_node_name(n)}' ({n.op_type}) holds NaN")
        return outs


def _folded_size(n, ins, attrs) -> int | None:
    """Bytes a constant node's output would take, for the ops whose output can be
    far larger than their inputs (known before folding); None for the others,
    whose outputs are checked after folding."""
    try:
        if n.op_type == "Expand":
            shape = np.broadcast_shapes(ins[0].shape, _ints(ins[1]))
            return math.prod(shape) * ins[0].itemsize
        if n.op_type == "Tile":
            return math.prod(d * r for d, r in zip(ins[0].shape, _ints(ins[1]))) * ins[0].itemsize
        if n.op_type == "ConstantOfShape":
            return math.prod(_ints(ins[0])) * 8
        if n.op_type == "Range":
            start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in ins[:3])
            return max(0, math.ceil((limit - start) / delta)) * 8 if delta else None
    except (ValueError, TypeError, OverflowError, IndexError):
        return None  # the evaluator names the defect
    return None


NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
           "Bernoulli"}


def _node_name(n) -> str:
    return n.name or (f"<unnamed, output {n.output[0]}>" if n.output else "<unnamed>")


def _attrs(n) -> dict:
    from onnx import helper

    out = {}
    for a in n.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        out[a.name] = v
    return out


def _ints(v) -> tuple:
    return tuple(int(x) for x in np.asarray(v).reshape(-1))


def _axis(imp, axis, nd: int, what: str = "axis", end: bool = False) -> int:
    """``axis`` in [-nd, nd) (``end``: [-nd, nd], as Flatten allows), made nonnegative."""
    top = nd + 1 if end else nd
    if not -nd <= int(axis) < top:
        raise imp.invalid(f"{what} {axis} is out of range for a rank-{nd} input")
    return int(axis) % top if end else int(axis) % max(nd, 1)


def _need_const(imp, v, what: str) -> np.ndarray:
    if not isinstance(v, np.ndarray):
        raise imp.fail(f"{what} must be a constant (it is computed from the model input)")
    return v


# ---------------------------------------------------------------- converters
# Each takes (importer, inputs, attrs): inputs are np.ndarray (constants), node
# ids, or None (an omitted optional input), and returns one value or a list.

def _unary(op, **fixed):
    def conv(imp, ins, attrs):
        return imp.add(op, [ins[0]], fixed)
    return conv


def _binary(op):
    def conv(imp, ins, attrs):
        a, b = ins
        if op == "add" and isinstance(b, np.ndarray) and not isinstance(a, np.ndarray):
            merged = _merge_bias(imp, a, b)
            if merged:
                return merged
        like = a if not isinstance(a, np.ndarray) else b
        return imp.add(op, [imp.ref(a, like), imp.ref(b, like)])
    return conv


def _merge_bias(imp, x: str, b: np.ndarray):
    """Add(linear-without-bias, constant) becomes the linear's bias when the sum
    adds b along the last axis only and nothing else reads the product."""
    if x not in imp.nobias or imp.uses.get(imp.onnx_node.input[0], 0) != 1:
        return None
    out = imp.shape[x][-1]
    if b.size != out or b.ndim > len(imp.shape[x]) or (b.ndim and b.shape[-1] != out):
        return None
    return _set_bias(imp, x, b)


def _set_bias(imp, y: str, b: np.ndarray) -> str:
    """Give the bias-less linear node ``y`` the bias ``b`` (a param placed just
    before it, so the node order stays topological)."""
    imp.nobias.discard(y)
    pos = next(k for k, n in enumerate(imp.nodes) if n.id == y)
    lin = imp.nodes[pos]
    bias = imp.const(np.ascontiguousarray(b.reshape(-1).astype(lin.dtype)), "param")
    imp.nodes.insert(pos, imp.nodes.pop())
    lin.inputs = lin.inputs + (bias,)
    return y


def _variadic(op):
    def conv(imp, ins, attrs):
        vals = [v for v in ins if v is not None]
        like = next(v for v in vals if not isinstance(v, np.ndarray))
        acc = imp.ref(vals[0], like)
        for v in vals[1:]:
            acc = imp.add(op, [acc, imp.ref(v, like)])
        return acc
    return conv


def _linear(imp, x: str, w: np.ndarray, b=None) -> str:
    """linear(x, w[, b]) with w (out, in) a param; a bias-less one may take a later Add."""
    ins = [x, imp.const(np.ascontiguousarray(w.astype(imp.dtype[x])), "param")]
    if b is not None:
        ins.append(imp.const(np.ascontiguousarray(b.reshape(-1).astype(imp.dtype[x])), "param"))
    y = imp.add("linear", ins)
    if b is None:
        imp.nobias.add(y)
    return y


def conv_matmul(imp, ins, attrs):
    a, b = ins
    if isinstance(b, np.ndarray) and b.ndim == 2:
        return _linear(imp, a, b.T)
    if isinstance(a, np.ndarray) and a.ndim == 2 and len(imp.shape[b]) == 1:
        return _linear(imp, b, a)  # matrix times vector: A x = linear(x, A)
    sa, sb = imp.sym_shape(a), imp.sym_shape(b)
    if len(sa) < 2 or len(sb) < 2:
        raise imp.fail(f"MatMul of shapes {sa} and {sb}: a 1-D operand needs a constant 2-D right operand")
    like = a if not isinstance(a, np.ndarray) else b
    return imp.add("matmul", [imp.ref(a, like), imp.ref(b, like)])


def conv_gemm(imp, ins, attrs):
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if isinstance(a, np.ndarray):
        raise imp.fail("a constant first operand (A) with a computed B is not supported")
    if attrs.get("transA", 0):
        a = imp.add("transpose", [a], {"perm": (1, 0)})
    if isinstance(b, np.ndarray):
        w = b if attrs.get("transB", 0) else b.T
        y = _linear(imp, a, w)
    else:
        if attrs.get("transB", 0):
            b = imp.add("transpose", [b], {"perm": (1, 0)})
        y = imp.add("matmul", [a, b])
    if alpha != 1.0:
        y = imp.add("mul", [y, imp.const(np.array(alpha, dtype=imp.dtype[y]))])
    if c is None:
        return y
    if isinstance(c, np.ndarray):
        c = c.astype(imp.dtype[y])
        if beta != 1.0:
            c = (c * np.asarray(beta, c.dtype)).astype(c.dtype)
        if y in imp.nobias and c.size == imp.shape[y][-1] and c.ndim <= 2 and c.shape[-1] == c.size:
            return _set_bias(imp, y, c)
        return imp.add("add", [y, imp.const(c)])
    if beta != 1.0:
        c = imp.add("mul", [c, imp.const(np.array(beta, dtype=imp.dtype[y]))])
    return imp.add("add", [y, c])


def _pads2d(imp, attrs, in_hw, kernel, strides, dilations):
    """(top, left, bottom, right) from pads / auto_pad."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        p = _ints(attrs.get("pads", (0, 0, 0, 0)))
        if len(p) != 4:
            raise imp.fail(f"pads {p}: only 2-D spatial inputs are supported")
        return p
    if auto == "VALID":
        return (0, 0, 0, 0)
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise imp.fail(f"auto_pad '{auto}'")
    if None in in_hw:
        raise imp.fail("auto_pad SAME needs static spatial dims")
    begin, end = [], []
    for n, k, s, d in zip(in_hw, kernel, strides, dilations):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
        begin.append(lo)
        end.append(total - lo)
    return tuple(begin + end)


def _pad_node(imp, x, pads4, value=0.0):
    """Pad the two spatial dims of an NCHW value by (top, left, bottom, right)."""
    t, l, b, r = pads4
    return imp.add("pad", [x], {"pads": (0, 0, t, l, 0, 0, b, r), "value": float(value)})


def conv_conv(imp, ins, attrs):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    ws = imp.sym_shape(w)
    if len(ws) != 4:
        raise imp.fail(f"only 1-D and 2-D convolution are supported (weight shape {ws})")
    strides = _ints(attrs.get("strides", (1, 1)))
    dil = _ints(attrs.get("dilations", (1, 1)))
    pads = _pads2d(imp, attrs, imp.shape[x][2:], ws[2:], strides, dil)
    if pads[:2] != pads[2:]:
        x, pads = _pad_node(imp, x, pads), (0, 0, 0, 0)
    args = [x, imp.ref(w, x) if not isinstance(w, np.ndarray) else imp.const(w.astype(imp.dtype[x]), "param")]
    if b is not None:
        args.append(imp.const(b.astype(imp.dtype[x]), "param") if isinstance(b, np.ndarray) else b)
    return imp.add("conv2d", args, {"stride": strides, "padding": pads[:2], "dilation": dil,
                                    "groups": int(attrs.get("group", 1))})


def conv_conv_transpose(imp, ins, attrs):
    """A transposed convolution is a convolution of the input with zeros inserted
    between its elements (stride - 1 per gap), padded by d (k - 1) - p at the start
    and d (k - 1) - p + output_padding at the end (cropped where negative), with the
    flipped kernel whose in/out channels are swapped within each group."""
    x, w = ins[0], _need_const(imp, ins[1], "the ConvTranspose weight")
    b = ins[2] if len(ins) > 2 else None
    if w.ndim != 4:
        raise imp.fail("only 1-D and 2-D ConvTranspose are supported")
    if "output_shape" in attrs or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "", "VALID"):
        raise imp.fail("output_shape and auto_pad SAME are not supported (give pads and output_padding)")
    g = int(attrs.get("group", 1))
    k = w.shape[2:]
    s = _ints(attrs.get("strides", (1, 1)))
    d = _ints(attrs.get("dilations", (1, 1)))
    op = _ints(attrs.get("output_padding", (0, 0)))
    p = _ints(attrs.get("pads", (0, 0, 0, 0))) if attrs.get("auto_pad", "NOTSET") != "VALID" else (0, 0, 0, 0)
    ci, co_g = w.shape[:2]
    if ci % g or imp.shape[x][1] != ci:
        raise imp.invalid(f"weight {w.shape} does not fit {imp.shape[x][1]} input channels in {g} groups")
    # (g, ci/g, co/g, kh, kw) -> (g, co/g, ci/g, kh, kw), flipped -> (co, ci/g, kh, kw)
    wc = np.flip(w.reshape((g, ci // g, co_g) + k), (3, 4)).transpose(0, 2, 1, 3, 4).reshape((g * co_g, ci // g) + k)
    x = _insert_zeros(imp, x, s)
    begin = [di * (ki - 1) - pi for di, ki, pi in zip(d, k, p[:2])]
    end = [di * (ki - 1) - pi + oi for di, ki, pi, oi in zip(d, k, p[2:], op)]
    if begin != end or min(begin) < 0:
        x = _pad_or_crop(imp, x, begin, end)
        begin = [0, 0]
    args = [x, imp.const(np.ascontiguousarray(wc.astype(imp.dtype[x])), "param")]
    if b is not None:
        args.append(imp.const(_need_const(imp, b, "the bias").astype(imp.dtype[x]), "param"))
    return imp.add("conv2d", args, {"padding": tuple(begin), "dilation": d, "groups": g})


def _insert_zeros(imp, x, strides):
    """(N, C, H, W) -> (N, C, (H - 1) sh + 1, (W - 1) sw + 1) with the input at every
    stride-th position and zeros between: reshape (N, C, H, 1, W, 1), pad the
    unit axes to the strides, reshape back, crop the trailing zeros."""
    sh, sw = strides
    if (sh, sw) == (1, 1):
        return x
    n, c, h, w = imp.shape[x]
    y = imp.reshape_to(x, (n, c, h, 1, w, 1))
    y = imp.add("pad", [y], {"pads": (0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1), "value": 0.0})
    y = imp.reshape_to(y, (n, c, h * sh, w * sw))
    return imp.add("slice", [y], {"starts": (0, 0), "ends": ((h - 1) * sh + 1, (w - 1) * sw + 1), "axes": (2, 3)})


def _pad_or_crop(imp, x, begin, end):
    """Pad the two spatial dims by ``begin``/``end`` (NCHW), cropping where negative."""
    pos = [max(v, 0) for v in begin + end]
    if any(pos):
        x = _pad_node(imp, x, (pos[0], pos[1], pos[2], pos[3]))
    if min(begin + end) < 0:
        hw = imp.shape[x][2:]
        x = imp.add("slice", [x], {"starts": tuple(max(-v, 0) for v in begin),
                                   "ends": tuple(n - max(-v, 0) for n, v in zip(hw, end)), "axes": (2, 3)})
    return x


def _lift_1d(conv2d):
    """The converter for an NCHW op extended to (N, C, L) inputs: L becomes the
    width of a height-1 image (kernel_shape, strides, dilations get a leading 1,
    pads / output_padding a leading 0, a rank-3 weight a unit axis), the 2-D op
    runs, and its output is reshaped back to (N, C', L'). The 2-D op's rules
    (real, binary32, interval, relax, the checker's arithmetic) then serve 1-D
    networks unchanged; the price is a reshape on each side, which every
    interpreter passes through exactly."""
    def conv(imp, ins, attrs):
        x = ins[0]
        s = imp.shape[x]
        if len(s) != 3:
            return conv2d(imp, ins, attrs)
        x4 = imp.reshape_to(x, s[:2] + (1,) + s[2:])
        rest = list(ins[1:])
        if rest and rest[0] is not None:
            w = rest[0]
            ws = imp.sym_shape(w)
            if len(ws) != 3:
                raise imp.invalid(f"a rank-3 input needs a rank-3 weight (shape {ws})")
            rest[0] = w[:, :, None, :] if isinstance(w, np.ndarray) else imp.reshape_to(w, ws[:2] + (1,) + ws[2:])
        a = dict(attrs)
        for key, lead in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("output_padding", 0)):
            if key in a:
                a[key] = (lead,) + _ints(a[key])
        if "pads" in a:
            p = _ints(a["pads"])
            if len(p) != 2:
                raise imp.invalid(f"pads {p} for a 1-D input (expected 2 values)")
            a["pads"] = (0, p[0], 0, p[1])
        if "output_shape" in a:
            a["output_shape"] = (1,) + _ints(a["output_shape"])
        y = conv2d(imp, [x4] + rest, a)
        ys = imp.shape[y]
        return imp.reshape_to(y, ys[:2] + ys[3:])
    return conv


def _pool(op):
    def conv(imp, ins, attrs):
        x = ins[0]
        k = _ints(attrs["kernel_shape"])
        if len(k) != 2 or len(imp.shape[x]) != 4:
            raise imp.fail("only 1-D and 2-D pooling (NCL, NCHW inputs) are supported")
        strides = _ints(attrs.get("strides", (1, 1)))
        dil = _ints(attrs.get("dilations", (1, 1)))
        pads = _pads2d(imp, attrs, imp.shape[x][2:], k, strides, dil)
        if pads[:2] != pads[2:] or pads[0] > k[0] // 2 or pads[1] > k[1] // 2:
            raise imp.fail(f"pads {pads}: only symmetric padding of at most half the kernel")
        if attrs.get("ceil_mode", 0):
            for n, kk, s, d, p in zip(imp.shape[x][2:], k, strides, dil, pads[:2]):
                span = n + 2 * p - d * (kk - 1) - 1
                if span % s:
                    raise imp.fail("ceil_mode=1 with a partial last window")
        a = {"kernel_size": k, "stride": strides, "padding": pads[:2]}
        if op == "max_pool2d":
            a["dilation"] = dil
        else:
            if dil != (1, 1):
                raise imp.fail("dilated average pooling")
            a["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        return imp.add(op, [x], a)
    return conv


def conv_global_pool(op):
    def conv(imp, ins, attrs):
        nd = len(imp.shape[ins[0]])
        return imp.add(op, [ins[0]], {"axes": tuple(range(2, nd)), "keepdims": True})
    return conv


def conv_batch_norm(imp, ins, attrs):
    if attrs.get("training_mode", 0):
        raise imp.fail("training_mode=1")
    x = ins[0]
    ps = [imp.const(_need_const(imp, v, "BatchNormalization parameters").astype(imp.dtype[x]), "param")
          for v in ins[1:5]]
    return imp.add("batch_norm", [x] + ps, {"eps": float(attrs.get("epsilon", 1e-5))})


def conv_layer_norm(imp, ins, attrs):
    x = ins[0]
    nd = len(imp.shape[x])
    axis = _axis(imp, attrs.get("axis", -1), nd)
    scale = _need_const(imp, ins[1], "the LayerNormalization scale")
    bias = ins[2] if len(ins) > 2 and ins[2] is not None else np.zeros_like(scale)
    norm_shape = tuple(imp.shape[x][axis:])
    ws = [imp.const(np.ascontiguousarray(np.broadcast_to(v, norm_shape).astype(imp.dtype[x])), "param")
          for v in (scale, _need_const(imp, bias, "the LayerNormalization bias"))]
    return imp.add("layer_norm", [x] + ws, {"eps": float(attrs.get("epsilon", 1e-5))})


def _softmax(op):
    def conv(imp, ins, attrs):
        x = ins[0]
        s = imp.shape[x]
        nd = len(s)
        default = -1 if imp.opset >= 13 else 1
        axis = _axis(imp, attrs.get("axis", default), nd)
        if imp.opset >= 13 or axis == nd - 1:
            return imp.add(op, [x], {"axis": axis - nd})
        # opset < 13: softmax over all dims from ``axis`` on, as one row
        flat = imp.reshape_to(x, s[:axis] + (None if None in s[axis:] else math.prod(s[axis:]),))
        y = imp.add(op, [flat], {"axis": -1})
        return imp.reshape_to(y, s)
    return conv


def conv_flatten(imp, ins, attrs):
    x = ins[0]
    s = imp.shape[x]
    axis = _axis(imp, attrs.get("axis", 1), len(s), end=True)
    if axis == 1 and len(s) >= 2:
        return imp.add("flatten", [x], {"start_dim": 1})
    a = s[:axis]
    b = s[axis:]
    out = (None if None in a else math.prod(a), None if None in b else math.prod(b))
    return imp.reshape_to(x, out)


def conv_reshape(imp, ins, attrs):
    x = ins[0]
    target = list(_ints(_need_const(imp, ins[1], "the Reshape shape")) if len(ins) > 1
                  else _ints(attrs["shape"]))
    if attrs.get("allowzero", 0) and 0 in target:
        raise imp.fail("allowzero=1 with a 0 in the shape")
    s = imp.shape[x]
    if imp.batch and s[:1] == (None,) and target[:1] == [1]:
        target[0] = 0  # the batch dim, fixed at 1 in the file: copy it instead
    return imp.add("reshape", [x], {"shape": tuple(target)})


def conv_transpose(imp, ins, attrs):
    nd = len(imp.shape[ins[0]])
    return imp.add("transpose", [ins[0]], {"perm": _ints(attrs.get("perm", range(nd - 1, -1, -1)))})


def _axes(imp, ins, attrs, pos=1):
    if len(ins) > pos and ins[pos] is not None:
        return _ints(_need_const(imp, ins[pos], "axes"))
    return _ints(attrs["axes"]) if "axes" in attrs else None


def conv_squeeze(imp, ins, attrs):
    x = ins[0]
    s = imp.shape[x]
    axes = _axes(imp, ins, attrs)
    axes = {_axis(imp, a, len(s), "squeeze axis") for a in axes} if axes else {i for i, d in enumerate(s) if d == 1}
    if any(s[a] != 1 for a in axes):
        raise imp.fail(f"squeeze of a dim that is not 1 (shape {s}, axes {sorted(axes)})")
    return imp.reshape_to(x, tuple(d for i, d in enumerate(s) if i not in axes))


def conv_unsqueeze(imp, ins, attrs):
    x = ins[0]
    s = list(imp.shape[x])
    axes = _axes(imp, ins, attrs)
    n = len(s) + len(axes)
    for a in sorted(_axis(imp, a, n, "unsqueeze axis") for a in axes):
        s.insert(a, 1)
    return imp.reshape_to(x, tuple(s))


def conv_concat(imp, ins, attrs):
    vals = [v for v in ins if v is not None]
    like = next(v for v in vals if not isinstance(v, np.ndarray))
    return imp.add("concat", [imp.ref(v, like) for v in vals], {"axis": int(attrs["axis"])})


def conv_slice(imp, ins, attrs):
    x = ins[0]
    if imp.opset < 10:
        starts, ends = _ints(attrs["starts"]), _ints(attrs["ends"])
        axes = _ints(attrs["axes"]) if "axes" in attrs else None
        steps = None
    else:
        starts, ends = (_ints(_need_const(imp, v, "Slice starts/ends")) for v in ins[1:3])
        axes = _ints(_need_const(imp, ins[3], "Slice axes")) if len(ins) > 3 and ins[3] is not None else None
        steps = _ints(_need_const(imp, ins[4], "Slice steps")) if len(ins) > 4 and ins[4] is not None else None
    if steps and any(st <= 0 for st in steps):
        raise imp.fail(f"negative slice steps {steps}")
    big = 2 ** 62  # ONNX uses INT64_MAX/MIN for "to the end"; Python slices clamp the same way
    clamp = lambda v: tuple(max(min(int(e), big), -big) for e in v)  # noqa: E731
    return imp.add("slice", [x], {"starts": clamp(starts), "ends": clamp(ends), "axes": axes, "steps": steps})


def conv_gather(imp, ins, attrs):
    x = ins[0]
    idx = _need_const(imp, ins[1], "Gather indices on a computed tensor")
    s = imp.shape[x]
    axis = _axis(imp, attrs.get("axis", 0), len(s), "Gather axis")
    if s[axis] is None:
        raise imp.fail("Gather along the dynamic batch dim")
    bad = [int(i) for i in idx.reshape(-1) if not -s[axis] <= int(i) < s[axis]]
    if bad:
        raise imp.invalid(f"index {bad[0]} is out of range for axis {axis} of size {s[axis]}")
    flat = [int(i) % s[axis] for i in idx.reshape(-1)]
    if idx.ndim > 1:
        raise imp.fail("Gather with indices of rank > 1 on a computed tensor")
    steps = {b - a for a, b in zip(flat, flat[1:])}
    if len(steps) <= 1 and (not steps or steps.pop() > 0):
        step = flat[1] - flat[0] if len(flat) > 1 else 1
        y = imp.add("slice", [x], {"starts": (flat[0],), "ends": (flat[-1] + 1,), "axes": (axis,),
                                  "steps": (step,)})
    else:
        parts = [imp.add("slice", [x], {"starts": (i,), "ends": (i + 1,), "axes": (axis,)}) for i in flat]
        y = imp.add("concat", parts, {"axis": axis})
    if idx.ndim == 0:
        y = imp.reshape_to(y, s[:axis] + s[axis + 1:])
    return y


def conv_pad(imp, ins, attrs):
    x = ins[0]
    if attrs.get("mode", "constant") != "constant":
        raise imp.fail(f"mode '{attrs.get('mode')}' (only constant padding)")
    nd = len(imp.shape[x])
    if imp.opset < 11:
        pads, value = _ints(attrs["pads"]), float(attrs.get("value", 0.0))
    else:
        pads = _ints(_need_const(imp, ins[1], "Pad pads"))
        cv = ins[2] if len(ins) > 2 else None
        value = float(_need_const(imp, cv, "Pad constant_value").reshape(-1)[0]) if cv is not None and cv.size else 0.0
        if len(ins) > 3 and ins[3] is not None:  # opset 18 axes
            axes = [_axis(imp, a, nd, "Pad axis") for a in _ints(_need_const(imp, ins[3], "Pad axes"))]
            full = [0] * (2 * nd)
            for j, a in enumerate(axes):
                full[a], full[nd + a] = pads[j], pads[len(axes) + j]
            pads = tuple(full)
    if any(p < 0 for p in pads):
        raise imp.fail(f"negative pads {pads} (cropping)")
    return imp.add("pad", [x], {"pads": pads, "value": value})


def conv_cast(imp, ins, attrs):
    from onnx import helper

    to = np.dtype(helper.tensor_dtype_to_np_dtype(int(attrs["to"])))
    x = ins[0]
    if to == np.dtype(imp.dtype[x]):
        return x
    raise imp.fail(f"Cast of the computed tensor from {imp.dtype[x]} to {to}")


def conv_split(imp, ins, attrs):
    x = ins[0]
    s = imp.shape[x]
    axis = _axis(imp, attrs.get("axis", 0), len(s), "Split axis")
    n_out = len(imp.onnx_node.output)
    if len(ins) > 1 and ins[1] is not None:
        sizes = _ints(_need_const(imp, ins[1], "Split sizes"))
    elif "split" in attrs:
        sizes = _ints(attrs["split"])
    else:
        if s[axis] is None:
            raise imp.fail("Split along the dynamic batch dim")
        k = attrs.get("num_outputs", n_out)
        chunk = -(-s[axis] // k)
        sizes = tuple(min(chunk, s[axis] - i * chunk) for i in range(k))
    outs, start = [], 0
    for j, size in enumerate(sizes):
        outs.append(imp.add("slice", [x], {"starts": (start,), "ends": (start + size,), "axes": (axis,)},
                            name=imp.onnx_node.output[j] if j < n_out else None))
        start += size
    return outs


def _reduce(op):
    def conv(imp, ins, attrs):
        x = ins[0]
        axes = _axes(imp, ins, attrs)
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            axes = None
        return imp.add(op, [x], {"axes": axes, "keepdims": bool(attrs.get("keepdims", 1))})
    return conv


def conv_identity(imp, ins, attrs):
    return ins[0]


def conv_dropout(imp, ins, attrs):
    return [ins[0]]  # inference: the mask output is not supported (checked by the walk)


def conv_gelu(imp, ins, attrs):
    if attrs.get("approximate", "none") != "none":
        raise imp.fail("approximate='tanh'")
    return imp.add("gelu", [ins[0]])


def conv_leaky_relu(imp, ins, attrs):
    return imp.add("leaky_relu", [ins[0]], {"negative_slope": float(attrs.get("alpha", 0.01))})


def conv_clip(imp, ins, attrs):
    """max(x, lo) then min(., hi) with constant bounds (inputs from opset 11, attributes
    before); a lower bound 0 is relu, which bounds propagation relaxes tightly."""
    x = ins[0]
    if imp.opset < 11:
        lo, hi = attrs.get("min"), attrs.get("max")
    else:
        lo, hi = (None if len(ins) <= k or ins[k] is None
                  else float(_need_const(imp, ins[k], "the Clip bound").reshape(-1)[0]) for k in (1, 2))
    if lo is not None and float(lo) == 0.0:
        x = imp.add("relu", [x])
    elif lo is not None and float(lo) > -math.inf:
        x = imp.add("maximum", [x, imp.const(np.array(lo, dtype=imp.dtype[x]))])
    if hi is not None and float(hi) < math.inf:
        x = imp.add("minimum", [x, imp.const(np.array(hi, dtype=imp.dtype[x]))])
    return x


def conv_pow(imp, ins, attrs):
    """x ** p for a constant exponent p in {1, 2, 0.5} (x, x * x, sqrt x)."""
    x = ins[0]
    p = _need_const(imp, ins[1], "the Pow exponent")
    if p.size != 1 or float(p.reshape(-1)[0]) not in (1.0, 2.0, 0.5):
        raise imp.fail(f"exponent {p.reshape(-1)[:4].tolist()} (only a constant 1, 2 or 0.5)")
    e = float(p.reshape(-1)[0])
    return x if e == 1.0 else imp.add("mul", [x, x]) if e == 2.0 else imp.add("sqrt", [x])


def conv_expand(imp, ins, attrs):
    """Broadcast to a constant shape: x * ones (exact for every float, -0 included)."""
    x = ins[0]
    target = _ints(_need_const(imp, ins[1], "the Expand shape"))
    try:
        out = np.broadcast_shapes(imp.concrete(x), target)
    except ValueError:
        raise imp.invalid(f"shape {target} does not broadcast with {imp.shape[x]}") from None
    if out == imp.concrete(x):
        return x
    same_rows = len(out) == len(imp.shape[x]) and out[0] == imp.concrete(x)[0]
    ones = np.ones((1,) + out[1:] if same_rows else out, dtype=imp.dtype[x])  # (1, ...): keeps a batch dim
    return imp.add("mul", [x, imp.const(ones)])


def conv_where(imp, ins, attrs):
    cond, a, b = ins
    cond = _need_const(imp, cond, "the Where condition")
    like = a if not isinstance(a, np.ndarray) else b
    return imp.add("where", [imp.const(cond.astype(bool)), imp.ref(a, like), imp.ref(b, like)])


def conv_prelu(imp, ins, attrs):
    """relu(x) - slope * relu(-x): exact in floating point too (one of the terms is 0)."""
    x = ins[0]
    slope = _need_const(imp, ins[1], "the PRelu slope").astype(imp.dtype[x])
    if slope.size == 1:
        return imp.add("leaky_relu", [x], {"negative_slope": float(slope.reshape(-1)[0])})
    neg = imp.add("mul", [imp.add("relu", [imp.add("neg", [x])]), imp.const(slope)])
    return imp.add("sub", [imp.add("relu", [x]), neg])


def conv_reciprocal(imp, ins, attrs):
    x = ins[0]
    return imp.add("div", [imp.const(np.array(1.0, dtype=imp.dtype[x])), x])


def conv_resize(imp, ins, attrs):
    """Nearest-neighbour upsampling by integer factors (Resize, Upsample): each element
    repeated s times along its axis, i.e. a unit axis inserted after it, ``x * ones``
    broadcast along it, and the pair merged back; exact. Taken where that is the
    op's own index map: coordinate_transformation_mode asymmetric with nearest_mode
    floor (``floor(i / s)``), or half_pixel / pytorch_half_pixel with a rounding
    nearest_mode (``(i + 0.5) / s - 0.5`` lies within 1/2 of ``floor(i / s)``, never on a tie)."""
    x = ins[0]
    s = imp.shape[x]
    if attrs.get("mode", "nearest") != "nearest":
        raise imp.fail(f"mode '{attrs.get('mode')}' (only nearest)")
    if imp.onnx_node.op_type == "Upsample" or imp.opset < 11:
        ctm, nm = "asymmetric", "floor"
    else:
        ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
        nm = attrs.get("nearest_mode", "round_prefer_floor")
    if not ((ctm == "asymmetric" and nm == "floor") or
            (ctm in ("half_pixel", "pytorch_half_pixel") and nm in ("round_prefer_floor", "round_prefer_ceil"))):
        raise imp.fail(f"coordinate_transformation_mode '{ctm}' with nearest_mode '{nm}'")
    axes = [_axis(imp, a, len(s)) for a in attrs["axes"]] if "axes" in attrs else list(range(len(s)))
    if "scales" in attrs:                                   # Upsample-7
        given = np.asarray(attrs["scales"], np.float64)
    else:
        pos = 1 if imp.onnx_node.op_type == "Upsample" or imp.opset < 11 else 2   # (X, [roi,] scales, sizes)
        sc, sz = (ins[k] if len(ins) > k else None for k in (pos, pos + 1))
        if sc is not None and np.asarray(sc).size:
            given = np.asarray(_need_const(imp, sc, "the Resize scales"), np.float64)
        elif pos == 2 and sz is not None:
            sizes = np.asarray(_need_const(imp, sz, "the Resize sizes"), np.float64)
            given = sizes / np.asarray([imp.concrete(x)[a] for a in axes], np.float64)
        else:
            raise imp.invalid("neither scales nor sizes is given")
    if given.size != len(axes):
        raise imp.invalid(f"{given.size} scales for {len(axes)} axes")
    scales = np.ones(len(s))
    scales[axes] = given
    reps = [int(round(f)) for f in scales]
    if len(reps) != len(s) or any(r < 1 or abs(f - r) > 1e-9 for r, f in zip(reps, scales)):
        raise imp.fail(f"scales {scales.tolist()} (only integer upsampling factors)")
    if s[0] is None and reps[0] != 1:
        raise imp.fail("upsampling the batch dim")
    if all(r == 1 for r in reps):
        return x
    spread = sum(((d, 1) if r > 1 else (d,) for d, r in zip(s, reps)), ())
    ones = np.ones(sum(((1, r) if r > 1 else (1,) for r in reps), ()), dtype=imp.dtype[x])
    y = imp.add("mul", [imp.reshape_to(x, spread), imp.const(ones)])
    return imp.reshape_to(y, tuple(None if d is None else d * r for d, r in zip(s, reps)))


def _reduce_composed(kind):
    """ReduceMin = -max(-x), ReduceSumSquare = sum(x * x), ReduceL1 = sum |x|,
    ReduceL2 = sqrt(sum(x * x))."""
    def conv(imp, ins, attrs):
        x = ins[0]
        if kind == "min":
            return imp.add("neg", [_reduce("max")(imp, [imp.add("neg", [x])] + list(ins[1:]), attrs)])
        inner = imp.add("abs", [x]) if kind == "l1" else imp.add("mul", [x, x])
        y = _reduce("sum")(imp, [inner] + list(ins[1:]), attrs)
        return imp.add("sqrt", [y]) if kind == "l2" else y
    return conv


CONVERTERS = {
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"), "Neg": _unary("neg"),
    "Exp": _unary("exp"), "Log": _unary("log"), "Sqrt": _unary("sqrt"), "Abs": _unary("abs"),
    "Softplus": _unary("softplus"), "Gelu": conv_gelu, "LeakyRelu": conv_leaky_relu,
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"), "Div": _binary("div"),
    "Max": _variadic("maximum"), "Min": _variadic("minimum"), "Sum": _variadic("add"),
    "MatMul": conv_matmul, "Gemm": conv_gemm,
    "Conv": _lift_1d(conv_conv), "ConvTranspose": _lift_1d(conv_conv_transpose),
    "MaxPool": _lift_1d(_pool("max_pool2d")), "AveragePool": _lift_1d(_pool("avg_pool2d")),
    "GlobalAveragePool": conv_global_pool("mean"), "GlobalMaxPool": conv_global_pool("max"),
    "BatchNormalization": conv_batch_norm, "LayerNormalization": conv_layer_norm,
    "Softmax": _softmax("softmax"), "LogSoftmax": _softmax("log_softmax"),
    "Flatten": conv_flatten, "Reshape": conv_reshape, "Transpose": conv_transpose,
    "Squeeze": conv_squeeze, "Unsqueeze": conv_unsqueeze, "Concat": conv_concat,
    "Slice": conv_slice, "Gather": conv_gather, "Pad": conv_pad, "Cast": conv_cast,
    "Split": conv_split, "ReduceSum": _reduce("sum"), "ReduceMean": _reduce("mean"),
    "ReduceMax": _reduce("max"), "Identity": conv_identity, "Dropout": conv_dropout,
    "Clip": conv_clip, "Pow": conv_pow, "Expand": conv_expand, "Where": conv_where, "PRelu": conv_prelu,
    "Reciprocal": conv_reciprocal, "ReduceMin": _reduce_composed("min"),
    "ReduceSumSquare": _reduce_composed("sumsq"), "ReduceL1": _reduce_composed("l1"),
    "ReduceL2": _reduce_composed("l2"), "Resize": conv_resize, "Upsample": conv_resize,
}
