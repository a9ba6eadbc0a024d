"""torch ``nn.Module`` -> certnn graph (``from_torch``).

Why ``torch.fx`` symbolic tracing and not ``torch.export``: fx keeps the
standard layers as leaf calls (``call_module`` on ``nn.Linear``,
``nn.BatchNorm2d``, ...), so every layer maps onto one op of the table with its
state-dict names (``layers.0.weight``) as param ids, the same ids certnn's own
tracer gives, and weights exchange by name. ``torch.export`` lowers to ATen
(``_native_batch_norm_legit_no_training``, ``addmm``, ``view``, ...), takes
seconds per model, and would need a second mapping table for the same
layers. fx's limits: data-dependent Python control flow cannot be traced (a
clear ``InteropError``), and in-place ops are recorded as plain calls (the
import is checked against torch's own output on the example input, which
catches a model whose result depends on aliasing).

Mapping conventions follow ``onnx_import``: one op-table node per layer or
function, parameters (and persistent buffers, e.g. BatchNorm running
statistics, with ``trainable: False``) as ``param`` nodes named by their
qualified names, other tensors and Python scalars as ``const`` nodes in the
dtype of the value they combine with; the input node is named after the
``forward`` argument.

Batch dimension: the model is first imported with a dynamic batch (input
shape ``(None, ...)``; ``x.size(0)`` is then a symbol that ``view``/``reshape``
turns into ONNX's "copy this dim" 0). The result is kept when it reproduces
torch's output on the example input and gives the example stacked twice the
output stacked twice; otherwise (a reshape that pins the batch, arithmetic on
the batch size, ...) the example's shapes are fixed.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

from ..errors import CertnnError
from ..ir.graph import Graph, Node
from ..ops import get_op
from .errors import InteropError
from .torch_export import OWN_IMPLS


class UnsupportedTorchOp(InteropError):
    """An fx node (module, function or method) that certnn cannot import."""

    def __init__(self, model: str, node: str, target: str, detail: str = ""):
        self.node_name, self.target = node, target
        super().__init__(f"{model}: cannot import fx node '{node}' (target {target})"
                         f"{': ' + detail if detail else ''}")


class _Pinned(CertnnError):
    """The dynamic-batch import hit something that fixes the batch size."""


class _BatchDim:
    """``x.size(0)`` of a dynamic-batch value: only usable as a reshape entry."""

    def __repr__(self):
        return "batch"

    def _pinned(self, *_):
        raise _Pinned("arithmetic on the batch size")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _pinned
    __floordiv__ = __rfloordiv__ = __truediv__ = __rtruediv__ = __index__ = __int__ = _pinned


BATCH = _BatchDim()


class _Ref:
    """A tensor value of the graph (by node id), as opposed to a Python value."""

    __slots__ = ("id",)

    def __init__(self, nid: str):
        self.id = nid


def _target_name(node) -> str:
    t = node.target
    if node.op == "call_method":
        return f"Tensor.{t}"
    if node.op == "call_module":
        return f"module '{t}'"
    mod = getattr(t, "__module__", None) or ""
    return f"{mod + '.' if mod else ''}{getattr(t, '__name__', repr(t))}"


def _bind(node, args, kwargs, spec: str) -> dict:
    """Match positional and keyword arguments to ``spec`` ("a, b, c=1, d=None"):
    the Python binding rules, for torch functions that have no signature."""
    names, defaults = [], {}
    for item in spec.split(","):
        name, _, default = item.strip().partition("=")
        names.append(name)
        if default:
            defaults[name] = eval(default, {"inf": math.inf})  # noqa: S307 - literals of this file
    out = dict(defaults)
    if len(args) > len(names):
        raise CertnnError(f"too many positional arguments for ({spec})")
    out.update(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise CertnnError(f"unexpected keyword argument '{k}' for ({spec})")
        out[k] = v
    missing = [n for n in names if n not in out]
    if missing:
        raise CertnnError(f"missing argument(s) {missing} for ({spec})")
    return out


def _pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)


class _Importer:
    def __init__(self, module, fx_module, example: torch.Tensor, batch: bool, model: str):
        self.module, self.fx_root, self.batch, self.model = module, fx_module, batch, model
        self.fx_graph = fx_module.graph
        self.example = example
        self.nodes: list[Node] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.shape: dict[str, tuple] = {}
        self.dtype: dict[str, str] = {}
        self.attr_ids: dict[str, str] = {}   # qualified attribute name -> node id
        self.env: dict[str, object] = {}
        self.fx_node = None

    # ---- helpers ---------------------------------------------------------------------
    def fail(self, detail: str) -> UnsupportedTorchOp:
        n = self.fx_node
        return UnsupportedTorchOp(self.model, n.name, _target_name(n), detail)

    def fresh(self, base: str) -> str:
        nid, k = base, 1
        while nid in self.shape:
            nid, k = f"{base}/{k}", k + 1
        return nid

    def source(self, kind: str, a: np.ndarray, name: str, attrs=None) -> str:
        a = np.ascontiguousarray(a)
        nid = self.fresh(name)
        self.arrays[nid] = a
        self.nodes.append(Node(nid, kind, attrs=dict(attrs or {}), shape=a.shape, dtype=str(a.dtype)))
        self.shape[nid], self.dtype[nid] = a.shape, str(a.dtype)
        return nid

    def attr(self, qualified: str, t, trainable: bool | None) -> str:
        """The node of a module attribute (param or buffer), made once."""
        if qualified not in self.attr_ids:
            a = t.detach().cpu().numpy().copy()
            if trainable is None:
                self.attr_ids[qualified] = self.source("const", a, qualified)
            else:
                self.attr_ids[qualified] = self.source("param", a, qualified, {"trainable": trainable})
        return self.attr_ids[qualified]

    def module_param(self, target: str, name: str, like: str, fill=None) -> str:
        """Param ``target.name`` of a leaf module; ``fill`` (a constant) when the
        module has none (e.g. LayerNorm without affine)."""
        t = getattr(self.module.get_submodule(target), name, None)
        if t is None:
            return self.const(fill, like)
        q = f"{target}.{name}" if target else name
        return self.attr(q, t, isinstance(t, tnn.Parameter))

    def const(self, v, like: str) -> str:
        dtype = np.dtype(self.dtype[like])
        return self.source("const", np.asarray(v, dtype=dtype), "const")

    def tensor(self, v, like: str | None = None) -> str:
        """Node id of a value that an op takes as a tensor input."""
        if isinstance(v, _Ref):
            return v.id
        if isinstance(v, torch.Tensor):
            return self.source("const", v.detach().cpu().numpy().copy(), "const")
        if isinstance(v, bool | int | float) and like is not None:
            return self.const(v, like)
        raise self.fail(f"expected a tensor, got {type(v).__name__} {v!r}")

    def add(self, op: str, inputs, attrs=None) -> _Ref:
        inputs = tuple(inputs)
        base = self.fx_node.name if self.fx_node is not None else op
        try:
            d = get_op(op)
            d.check_arity(len(inputs))
            attrs = d.normalize(dict(attrs or {}))
            shape = tuple(d.shape([self.shape[i] for i in inputs], **attrs))
        except CertnnError as e:
            if self.batch:
                raise _Pinned(str(e)) from None
            raise InteropError(f"{self.model}: fx node '{self.fx_node.name}' ({_target_name(self.fx_node)}) "
                               f"cannot be imported as '{op}': {e}") from None
        dtype = next((self.dtype[i] for i in inputs if np.dtype(self.dtype[i]).kind == "f"),
                     self.dtype[inputs[0]])
        nid = self.fresh(base)
        self.nodes.append(Node(nid, op, inputs, attrs, shape=shape, dtype=dtype))
        self.shape[nid], self.dtype[nid] = shape, dtype
        return _Ref(nid)

    def reshape_to(self, x: str, out: tuple) -> _Ref:
        """Reshape to ``out`` (``None``: copied by 0 at the same position, else inferred)."""
        s = self.shape[x]
        if tuple(out) == tuple(s):
            return _Ref(x)
        target = [0 if d is None and j < len(s) and s[j] is None else (-1 if d is None else d)
                  for j, d in enumerate(out)]
        if target.count(-1) > 1:
            raise _Pinned("a reshape with two dynamic dims")
        return self.add("reshape", [x], {"shape": tuple(target)})

    def sizes(self, x: str) -> tuple:
        return tuple(BATCH if d is None else d for d in self.shape[x])

    # ---- the walk -----------------------------------------------------------------------
    def run(self) -> Graph:
        outputs = None
        for n in self.fx_graph.nodes:
            self.fx_node = n
            if n.op == "placeholder":
                self.env[n.name] = self._placeholder(n)
            elif n.op == "get_attr":
                self.env[n.name] = self._get_attr(n.target)
            elif n.op == "output":
                outputs = n.args[0]
            else:
                args = torch.fx.node.map_arg(n.args, lambda a: self.env[a.name])
                kwargs = torch.fx.node.map_arg(n.kwargs, lambda a: self.env[a.name])
                try:
                    self.env[n.name] = self._call(n, args, kwargs)
                except (InteropError, _Pinned):
                    raise
                except CertnnError as e:
                    raise self.fail(str(e)) from None
        self.fx_node = None
        flat = outputs if isinstance(outputs, tuple | list) else (outputs,)
        outs = []
        for o in flat:
            v = self.env[o.name] if isinstance(o, torch.fx.Node) else o
            if not isinstance(v, _Ref):
                raise InteropError(f"{self.model}: forward() returns {type(v).__name__}, not a tensor")
            outs.append(v.id)
        try:
            return Graph(self.nodes, outs, self.arrays).validate()
        except CertnnError as e:
            raise InteropError(f"{self.model}: imported graph does not validate: {e}") from None

    def _placeholder(self, n):
        if self.example is None:
            if n.args:  # an argument with a default value
                return n.args[0]
            raise InteropError(f"{self.model}: forward() takes more than one tensor argument "
                               f"('{n.target}'); from_torch imports single-input models")
        x, self.example = self.example, None
        shape = tuple(x.shape)
        if self.batch:
            shape = (None,) + shape[1:]
        nid = self.fresh(n.target.lstrip("*"))
        dtype = str(x.detach().numpy().dtype)
        self.nodes.append(Node(nid, "input", shape=shape, dtype=dtype))
        self.shape[nid], self.dtype[nid] = shape, dtype
        return _Ref(nid)

    def _get_attr(self, qualified: str):
        *owner_path, field = qualified.split(".")
        try:
            owner = self.module.get_submodule(".".join(owner_path))
            value = getattr(owner, field)
        except AttributeError:  # a constant fx made while tracing (_tensor_constant0)
            owner, value = self.fx_root, self.fx_root
            for part in qualified.split("."):
                value = getattr(value, part)
        if not isinstance(value, torch.Tensor):
            return value
        if isinstance(value, tnn.Parameter):
            return _Ref(self.attr(qualified, value, True))
        persistent = field in getattr(owner, "_buffers", {}) and \
            field not in getattr(owner, "_non_persistent_buffers_set", set())
        return _Ref(self.attr(qualified, value, False if persistent else None))

    def _call(self, n, args, kwargs):
        if n.op == "call_module":
            mod = self.module.get_submodule(n.target)
            conv = MODULES.get(type(mod))
            if conv is None:
                raise self.fail(f"unsupported module type {type(mod).__module__}.{type(mod).__name__}")
            if kwargs or len(args) != 1:
                raise self.fail("a layer called with more than one argument")
            return conv(self, mod, n.target, self.tensor(args[0]))
        if n.op == "call_method":
            conv = METHODS.get(n.target)
            if conv is None:
                raise self.fail("unsupported tensor method")
            if not isinstance(args[0], _Ref):
                raise self.fail(f"method on a {type(args[0]).__name__}")
            return conv(self, args, kwargs)
        if n.target in OWN_IMPLS:  # a module made by to_torch: the op itself
            return self.add(OWN_IMPLS[n.target], [self.tensor(a) for a in args], kwargs)
        conv = FUNCTIONS.get(n.target)
        if conv is None:
            raise self.fail("unsupported function")
        return conv(self, args, kwargs)


# ---------------------------------------------------------------- leaf modules
# (importer, module, qualified name, input node id) -> value

def m_linear(imp, m, q, x):
    ins = [x, imp.module_param(q, "weight", x)]
    if m.bias is not None:
        ins.append(imp.module_param(q, "bias", x))
    return imp.add("linear", ins)


def _conv_padding(imp, x, padding, kernel, dilation, stride):
    """certnn conv2d pads symmetrically; torch's 'same' may pad one more at the end."""
    if padding == "valid":
        return x, (0, 0)
    if padding != "same":
        return x, _pair(padding)
    if _pair(stride) != (1, 1):
        raise imp.fail("padding='same' with stride > 1")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    lo = [t // 2 for t in totals]
    if all(t % 2 == 0 for t in totals):
        return x, tuple(lo)
    nd = len(imp.shape[x])
    pads = [0] * (2 * nd)
    for j, t in enumerate(totals):
        pads[nd - 2 + j], pads[2 * nd - 2 + j] = lo[j], t - lo[j]
    return imp.add("pad", [x], {"pads": tuple(pads)}).id, (0, 0)


def m_conv2d(imp, m, q, x):
    if m.padding_mode != "zeros":
        raise imp.fail(f"padding_mode='{m.padding_mode}' (only 'zeros')")
    x, pad = _conv_padding(imp, x, m.padding, m.kernel_size, m.dilation, m.stride)
    ins = [x, imp.module_param(q, "weight", x)]
    if m.bias is not None:
        ins.append(imp.module_param(q, "bias", x))
    return imp.add("conv2d", ins, {"stride": _pair(m.stride), "padding": pad,
                                   "dilation": _pair(m.dilation), "groups": int(m.groups)})


def m_batch_norm(imp, m, q, x):
    if not m.track_running_stats or m.running_mean is None:
        raise imp.fail("track_running_stats=False normalises with batch statistics even in eval mode")
    c = m.num_features
    ins = [x, imp.module_param(q, "weight", x, np.ones(c)), imp.module_param(q, "bias", x, np.zeros(c)),
           imp.module_param(q, "running_mean", x), imp.module_param(q, "running_var", x)]
    return imp.add("batch_norm", ins, {"eps": float(m.eps)})


def m_layer_norm(imp, m, q, x):
    s = tuple(m.normalized_shape)
    ins = [x, imp.module_param(q, "weight", x, np.ones(s)), imp.module_param(q, "bias", x, np.zeros(s))]
    return imp.add("layer_norm", ins, {"eps": float(m.eps)})


def _unary(op):
    return lambda imp, m, q, x: imp.add(op, [x])


def m_gelu(imp, m, q, x):
    return _gelu(imp, x, m.approximate)


def _gelu(imp, x, approximate):
    if approximate != "none":
        raise imp.fail(f"approximate='{approximate}' (certnn's gelu is the exact erf form)")
    return imp.add("gelu", [x])


def _softplus(imp, x, beta):
    """softplus(beta x) / beta. certnn's softplus is exact everywhere; torch's
    returns x above ``threshold`` / beta, which differs by < exp(-threshold)."""
    if beta == 1:
        return imp.add("softplus", [x])
    y = imp.add("mul", [x, imp.const(beta, x)])
    y = imp.add("softplus", [y.id])
    return imp.add("div", [y.id, imp.const(beta, x)])


def m_flatten(imp, m, q, x):
    return imp.add("flatten", [x], {"start_dim": m.start_dim, "end_dim": m.end_dim})


def _check_ceil(imp, x, kernel, stride, padding, dilation, ceil_mode):
    if not ceil_mode:
        return
    for n, k, s, d, p in zip(imp.shape[x][2:], kernel, stride, padding, dilation):
        if n is None or (n + 2 * p - d * (k - 1) - 1) % s:
            raise imp.fail("ceil_mode=True with a partial last window")


def _max_pool(imp, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if return_indices:
        raise imp.fail("return_indices=True")
    k = _pair(kernel_size)
    s = k if stride is None or stride == [] or stride == () else _pair(stride)
    p, d = _pair(padding), _pair(dilation)
    _check_ceil(imp, x, k, s, p, d, ceil_mode)
    return imp.add("max_pool2d", [x], {"kernel_size": k, "stride": s, "padding": p, "dilation": d})


def _avg_pool(imp, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if divisor_override is not None:
        raise imp.fail("divisor_override")
    k = _pair(kernel_size)
    s = k if stride is None or stride == [] or stride == () else _pair(stride)
    p = _pair(padding)
    _check_ceil(imp, x, k, s, p, (1, 1), ceil_mode)
    return imp.add("avg_pool2d", [x], {"kernel_size": k, "stride": s, "padding": p,
                                       "count_include_pad": bool(count_include_pad)})


def m_max_pool(imp, m, q, x):
    return _max_pool(imp, x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices)


def m_avg_pool(imp, m, q, x):
    return _avg_pool(imp, x, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                     m.divisor_override)


def m_adaptive_avg_pool(imp, m, q, x):
    if _pair(m.output_size if m.output_size is not None else 1) != (1, 1):
        raise imp.fail(f"output_size={m.output_size} (only (1, 1), a global average)")
    return imp.add("mean", [x], {"axes": (2, 3), "keepdims": True})


def _softmax_dim(imp, dim, dtype=None):
    if dim is None:
        raise imp.fail("softmax without dim (torch's implicit dim is deprecated)")
    if dtype is not None:
        raise imp.fail("softmax with a dtype cast")
    return int(dim)


def m_softmax(op):
    return lambda imp, m, q, x: imp.add(op, [x], {"axis": _softmax_dim(imp, m.dim)})


MODULES = {
    tnn.Linear: m_linear, tnn.Conv2d: m_conv2d,
    tnn.BatchNorm1d: m_batch_norm, tnn.BatchNorm2d: m_batch_norm, tnn.LayerNorm: m_layer_norm,
    tnn.ReLU: _unary("relu"), tnn.Tanh: _unary("tanh"), tnn.Sigmoid: _unary("sigmoid"),
    tnn.GELU: m_gelu, tnn.Softplus: lambda imp, m, q, x: _softplus(imp, x, m.beta),
    tnn.LeakyReLU: lambda imp, m, q, x: imp.add("leaky_relu", [x], {"negative_slope": float(m.negative_slope)}),
    tnn.Flatten: m_flatten, tnn.MaxPool2d: m_max_pool, tnn.AvgPool2d: m_avg_pool,
    tnn.AdaptiveAvgPool2d: m_adaptive_avg_pool,
    tnn.Softmax: m_softmax("softmax"), tnn.LogSoftmax: m_softmax("log_softmax"),
    # eval mode (checked before tracing): dropout is the identity
    tnn.Dropout: lambda imp, m, q, x: _Ref(x), tnn.Dropout1d: lambda imp, m, q, x: _Ref(x),
    tnn.Dropout2d: lambda imp, m, q, x: _Ref(x), tnn.AlphaDropout: lambda imp, m, q, x: _Ref(x),
    tnn.Identity: lambda imp, m, q, x: _Ref(x),
}


# ---------------------------------------------------------------- functions and methods
# (importer, args, kwargs) -> value; for methods args[0] is the tensor.

def _fn(spec, body):
    def conv(imp, args, kwargs):
        return body(imp, **_bind(imp.fx_node, args, kwargs, spec))
    return conv


def f_unary(op, spec="input"):
    return _fn(spec, lambda imp, input, **_: imp.add(op, [imp.tensor(input)]))


def _python(op, a, b):
    """Shape arithmetic on Python numbers (a batch symbol raises _Pinned)."""
    return op(a, b)


def f_binary(op, pyop):
    def body(imp, input, other, alpha=1, rounding_mode=None, **_):
        if not isinstance(input, _Ref) and not isinstance(other, _Ref):
            if isinstance(input, torch.Tensor) or isinstance(other, torch.Tensor):
                raise imp.fail("arithmetic on constant tensors only")
            return _python(pyop, input, other)
        if rounding_mode is not None:
            raise imp.fail(f"rounding_mode='{rounding_mode}'")
        like = input.id if isinstance(input, _Ref) else other.id
        b = imp.tensor(other, like)
        if alpha != 1:
            b = imp.add("mul", [b, imp.const(alpha, like)]).id
        return imp.add(op, [imp.tensor(input, like), b])
    specs = {"add": "input, other, alpha=1", "sub": "input, other, alpha=1",
             "div": "input, other, rounding_mode=None"}
    return _fn(specs.get(op, "input, other"), body)


def _reshape(imp, input, shape):
    x = imp.tensor(input)
    s = imp.shape[x]
    target = []
    for j, d in enumerate(shape):
        if d is BATCH:
            if j >= len(s) or s[j] is not None:
                raise _Pinned("the batch size moved to another dim")
            target.append(0)
        else:
            d = int(d)
            if d == 0:
                raise imp.fail("a 0 in the shape")
            target.append(d)
    return imp.add("reshape", [x], {"shape": tuple(target)})


def _shape_args(args):
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], tuple | list | torch.Size) else tuple(args)


def meth_view(imp, args, kwargs):
    shape = kwargs.get("shape", kwargs.get("size")) if kwargs else _shape_args(args[1:])
    return _reshape(imp, args[0], shape)


def meth_size(imp, args, kwargs):
    b = _bind(imp.fx_node, args, kwargs, "input, dim=None")
    s = imp.sizes(imp.tensor(b["input"]))
    return s if b["dim"] is None else s[b["dim"]]


def f_getattr(imp, args, kwargs):
    obj, name = args[0], args[1]
    if isinstance(obj, _Ref) and name == "shape":
        return imp.sizes(obj.id)
    if isinstance(obj, _Ref) and name == "ndim":
        return len(imp.shape[obj.id])
    if not isinstance(obj, _Ref):
        return getattr(obj, name)
    raise imp.fail(f"attribute '{name}' of a tensor")


def f_getitem(imp, args, kwargs):
    obj, idx = args
    if not isinstance(obj, _Ref):
        return obj[idx]
    x = obj.id
    s = imp.shape[x]
    idx = idx if isinstance(idx, tuple) else (idx,)
    if Ellipsis in idx:
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (len(s) - len(idx) + 1) + idx[k + 1:]
    if len(idx) > len(s):
        raise imp.fail(f"too many indices for a {len(s)}-d tensor")
    starts, ends, axes, steps, keep = [], [], [], [], []
    for ax, i in enumerate(idx):
        if isinstance(i, slice) and i == slice(None):
            keep.append(s[ax])
            continue
        if s[ax] is None:
            raise _Pinned("indexing along the batch dim")
        if isinstance(i, int):
            j = i + s[ax] if i < 0 else i
            if not 0 <= j < s[ax]:
                raise imp.fail(f"index {i} out of range for dim {ax} of size {s[ax]}")
            starts.append(j), ends.append(j + 1), axes.append(ax), steps.append(1)
        elif isinstance(i, slice):
            start, stop, step = i.indices(s[ax])
            if step <= 0:
                raise imp.fail("a negative slice step")
            starts.append(start), ends.append(stop), axes.append(ax), steps.append(step)
            keep.append(len(range(start, stop, step)))
        else:
            raise imp.fail(f"index {i!r} (only ints, slices and ...)")
    keep += list(s[len(idx):])
    y = imp.add("slice", [x], {"starts": tuple(starts), "ends": tuple(ends), "axes": tuple(axes),
                               "steps": tuple(steps)}) if starts else _Ref(x)
    return imp.reshape_to(y.id, tuple(keep))


def _flatten(imp, input, start_dim=0, end_dim=-1):
    return imp.add("flatten", [imp.tensor(input)], {"start_dim": int(start_dim), "end_dim": int(end_dim)})


def _transpose(imp, input, dim0, dim1):
    x = imp.tensor(input)
    nd = len(imp.shape[x])
    perm = list(range(nd))
    a, b = dim0 % nd, dim1 % nd
    perm[a], perm[b] = perm[b], perm[a]
    return imp.add("transpose", [x], {"perm": tuple(perm)})


def meth_permute(imp, args, kwargs):
    dims = kwargs["dims"] if "dims" in kwargs else _shape_args(args[1:])
    return _permute(imp, args[0], dims)


def _permute(imp, input, dims):
    x = imp.tensor(input)
    nd = len(imp.shape[x])
    return imp.add("transpose", [x], {"perm": tuple(int(d) % nd for d in dims)})


def _unsqueeze(imp, input, dim):
    x = imp.tensor(input)
    s = list(imp.shape[x])
    s.insert(dim % (len(s) + 1), 1)
    return imp.reshape_to(x, tuple(s))


def _squeeze(imp, input, dim=None):
    x = imp.tensor(input)
    s = imp.shape[x]
    dims = {i for i, d in enumerate(s) if d == 1} if dim is None else \
        {d % len(s) for d in ((dim,) if isinstance(dim, int) else dim)}
    return imp.reshape_to(x, tuple(d for i, d in enumerate(s) if not (i in dims and d == 1)))


def _cat(imp, tensors, dim=0):
    if not tensors:
        raise imp.fail("cat of no tensors")
    like = next((t.id for t in tensors if isinstance(t, _Ref)), None)
    return imp.add("concat", [imp.tensor(t, like) for t in tensors], {"axis": int(dim)})


def _reduce(op):
    def body(imp, input, dim=None, keepdim=False, dtype=None):
        if dtype is not None:
            raise imp.fail("a reduction with a dtype cast")
        axes = None if dim is None else ((int(dim),) if isinstance(dim, int) else tuple(int(d) for d in dim))
        if op == "max" and axes == ():
            axes = None  # amax's dim=() reduces over every dim
        return imp.add(op, [imp.tensor(input)], {"axes": axes, "keepdims": bool(keepdim)})
    return body


def _dropout(imp, input, p=0.5, training=True, inplace=False):
    if training and p > 0:
        raise imp.fail("F.dropout with training=True draws a random mask (pass training=self.training)")
    return input


def _linear(imp, input, weight, bias=None):
    x = imp.tensor(input)
    ins = [x, imp.tensor(weight)] + ([imp.tensor(bias)] if bias is not None else [])
    return imp.add("linear", ins)


def _conv2d(imp, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    x = imp.tensor(input)
    w = imp.tensor(weight)
    x, pad = _conv_padding(imp, x, padding, imp.shape[w][2:], _pair(dilation), stride)
    ins = [x, w] + ([imp.tensor(bias)] if bias is not None else [])
    return imp.add("conv2d", ins, {"stride": _pair(stride), "padding": pad, "dilation": _pair(dilation),
                                   "groups": int(groups)})


def _layer_norm(imp, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    x = imp.tensor(input)
    s = tuple(normalized_shape)
    w = imp.tensor(weight) if weight is not None else imp.const(np.ones(s), x)
    b = imp.tensor(bias) if bias is not None else imp.const(np.zeros(s), x)
    return imp.add("layer_norm", [x, w, b], {"eps": float(eps)})


def _batch_norm(imp, input, running_mean, running_var, weight=None, bias=None, training=False,
                momentum=0.1, eps=1e-5):
    if training or running_mean is None:
        raise imp.fail("batch norm with batch statistics (training=True)")
    x = imp.tensor(input)
    m, v = imp.tensor(running_mean), imp.tensor(running_var)
    c = imp.shape[m]
    w = imp.tensor(weight) if weight is not None else imp.const(np.ones(c), x)
    b = imp.tensor(bias) if bias is not None else imp.const(np.zeros(c), x)
    return imp.add("batch_norm", [x, w, b, m, v], {"eps": float(eps)})


def _identity(imp, args, kwargs):
    return args[0]


_SOFTMAX_SPEC = "input, dim=None, _stacklevel=3, dtype=None"


def _softmax(op, spec=_SOFTMAX_SPEC):
    return _fn(spec, lambda imp, input, dim=None, dtype=None, **_:
               imp.add(op, [imp.tensor(input)], {"axis": _softmax_dim(imp, dim, dtype)}))


_UNARY = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "exp": "exp", "log": "log",
          "sqrt": "sqrt", "abs": "abs", "neg": "neg"}
_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}

FUNCTIONS = {
    **{getattr(torch, k): f_unary(op) for k, op in _UNARY.items()},
    F.relu: f_unary("relu", "input, inplace=False"), F.tanh: f_unary("tanh"), F.sigmoid: f_unary("sigmoid"),
    operator.neg: f_unary("neg"),
    F.leaky_relu: _fn("input, negative_slope=0.01, inplace=False", lambda imp, input, negative_slope, **_:
                      imp.add("leaky_relu", [imp.tensor(input)], {"negative_slope": float(negative_slope)})),
    F.gelu: _fn("input, approximate='none'", lambda imp, input, approximate:
                _gelu(imp, imp.tensor(input), approximate)),
    F.softplus: _fn("input, beta=1.0, threshold=20.0", lambda imp, input, beta, **_:
                    _softplus(imp, imp.tensor(input), beta)),
    **{getattr(torch, k): f_binary(k, pyop) for k, pyop in _BINARY.items()},
    operator.add: f_binary("add", operator.add), operator.sub: f_binary("sub", operator.sub),
    operator.mul: f_binary("mul", operator.mul), operator.truediv: f_binary("div", operator.truediv),
    operator.floordiv: _fn("input, other", lambda imp, input, other: _python(operator.floordiv, input, other)),
    torch.maximum: f_binary("maximum", max), torch.minimum: f_binary("minimum", min),
    torch.matmul: f_binary("matmul", None), operator.matmul: f_binary("matmul", None),
    torch.flatten: _fn("input, start_dim=0, end_dim=-1", _flatten),
    torch.reshape: _fn("input, shape", _reshape),
    torch.transpose: _fn("input, dim0, dim1", _transpose),
    torch.permute: _fn("input, dims", _permute),
    torch.unsqueeze: _fn("input, dim", _unsqueeze), torch.squeeze: _fn("input, dim=None", _squeeze),
    torch.cat: _fn("tensors, dim=0", _cat), torch.concat: _fn("tensors, dim=0", _cat),
    torch.softmax: _softmax("softmax", "input, dim, dtype=None"),
    torch.log_softmax: _softmax("log_softmax", "input, dim, dtype=None"),
    F.softmax: _softmax("softmax"), F.log_softmax: _softmax("log_softmax"),
    torch.mean: _fn("input, dim=None, keepdim=False, dtype=None", _reduce("mean")),
    torch.sum: _fn("input, dim=None, keepdim=False, dtype=None", _reduce("sum")),
    torch.amax: _fn("input, dim=(), keepdim=False", _reduce("max")),
    F.dropout: _fn("input, p=0.5, training=True, inplace=False", _dropout),
    F.linear: _fn("input, weight, bias=None", _linear),
    F.conv2d: _fn("input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1", _conv2d),
    F.max_pool2d: _fn("input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, "
                      "return_indices=False", lambda imp, input, **a: _max_pool(imp, imp.tensor(input), **a)),
    F.avg_pool2d: _fn("input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
                      "divisor_override=None", lambda imp, input, **a: _avg_pool(imp, imp.tensor(input), **a)),
    F.layer_norm: _fn("input, normalized_shape, weight=None, bias=None, eps=1e-5", _layer_norm),
    F.batch_norm: _fn("input, running_mean, running_var, weight=None, bias=None, training=False, "
                      "momentum=0.1, eps=1e-5", _batch_norm),
    getattr: f_getattr, operator.getitem: f_getitem,
}

METHODS = {
    **{k: f_unary(op) for k, op in _UNARY.items()},
    **{k: f_binary(k, pyop) for k, pyop in _BINARY.items()},
    "matmul": f_binary("matmul", None),
    "view": meth_view, "reshape": meth_view, "size": meth_size,
    "dim": lambda imp, args, kwargs: len(imp.shape[args[0].id]),
    "flatten": _fn("input, start_dim=0, end_dim=-1", _flatten),
    "transpose": _fn("input, dim0, dim1", _transpose), "permute": meth_permute,
    "unsqueeze": _fn("input, dim", _unsqueeze), "squeeze": _fn("input, dim=None", _squeeze),
    "softmax": _softmax("softmax", "input, dim, dtype=None"),
    "log_softmax": _softmax("log_softmax", "input, dim, dtype=None"),
    "mean": _fn("input, dim=None, keepdim=False, dtype=None", _reduce("mean")),
    "sum": _fn("input, dim=None, keepdim=False, dtype=None", _reduce("sum")),
    "amax": _fn("input, dim=(), keepdim=False", _reduce("max")),
    "contiguous": _identity, "clone": _identity,
}


# ---------------------------------------------------------------- entry point

def _trace(module, model: str):
    from torch import fx

    tracer = fx.Tracer(autowrap_functions=tuple(OWN_IMPLS))
    try:
        graph = tracer.trace(module)
    except Exception as e:  # noqa: BLE001 - fx raises TraceError, TypeError, ... on untraceable code
        raise InteropError(f"{model}: torch.fx cannot trace forward() ({type(e).__name__}: {e}); "
                           "data-dependent control flow is not supported") from None
    return fx.GraphModule(tracer.root, graph)


def _agrees(y: np.ndarray, ref: np.ndarray) -> bool:
    if y.shape != ref.shape:
        return False
    tight = y.dtype == np.float64
    scale = max(1.0, float(np.max(np.abs(ref), initial=0.0))) if np.all(np.isfinite(ref)) else 1.0
    return bool(np.allclose(y, ref, rtol=1e-8 if tight else 1e-4, atol=(1e-10 if tight else 1e-5) * scale,
                            equal_nan=True))


def _outputs(g: Graph, x: np.ndarray) -> list[np.ndarray]:
    from ..ir.interpret import evaluate
    with np.errstate(all="ignore"):
        return evaluate(g, {g.inputs[0].id: x})[0]


def from_torch(module, example_input, dynamic_batch: bool = True) -> Graph:
    """Import the eval-mode ``module`` into a validated certnn graph by tracing it
    with ``torch.fx``; ``example_input`` (a tensor or array) fixes the input
    shape and dtype (its first dim is made dynamic when the model is batch-free
    and ``dynamic_batch``). See the module doc for what is supported."""
    if not isinstance(module, tnn.Module):
        raise InteropError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    model = type(module).__name__
    training = [name or "<root>" for name, m in module.named_modules() if m.training]
    if training:
        raise InteropError(f"{model} is in training mode (module(s) {', '.join(training[:5])}"
                           f"{', ...' if len(training) > 5 else ''}); BatchNorm and Dropout compute "
                           "something else there: call module.eval() first")
    x = example_input if isinstance(example_input, torch.Tensor) else torch.from_numpy(np.asarray(example_input))
    if not x.is_floating_point():
        raise InteropError(f"{model}: the example input must be a float tensor, got {x.dtype}")
    x = x.detach().cpu()
    try:
        with torch.no_grad():
            ref = module(x)
    except Exception as e:  # noqa: BLE001 - whatever the model raises on a wrong input
        raise InteropError(f"{model}: the example input of shape {tuple(x.shape)} ({x.dtype}) does not fit "
                           f"the model: {type(e).__name__}: {e}") from None
    refs = [r.numpy() for r in (ref if isinstance(ref, tuple | list) else (ref,))
            if isinstance(r, torch.Tensor)]
    gm = _trace(module, model)
    xn = x.numpy()
    if dynamic_batch and x.ndim >= 1 and x.shape[0] >= 1:
        try:
            g = _Importer(module, gm, x, True, model).run()
            ys, ys2 = _outputs(g, xn), _outputs(g, np.concatenate([xn, xn]))
            if len(ys) == len(refs) and all(_agrees(y, r) for y, r in zip(ys, refs)) and all(
                    y2.shape[:1] == (2 * xn.shape[0],) and _agrees(y2, np.concatenate([y, y]))
                    for y, y2 in zip(ys, ys2)):
                return g
        except (_Pinned, CertnnError):
            pass  # some node fixes the batch size: import with the example's shapes
    g = _Importer(module, gm, x, False, model).run()
    try:
        ys = _outputs(g, xn)
    except CertnnError as e:
        raise InteropError(f"{model}: the imported graph fails on the example input: {e}") from None
    if len(ys) != len(refs) or not all(_agrees(y, r) for y, r in zip(ys, refs)):
        raise InteropError(f"{model}: the imported graph does not reproduce torch's output on the example "
                           "input (an in-place op whose result depends on aliasing?)")
    return g
