"""torch ``nn.Module`` -> certnn graph (``from_torch``; the per-module,
per-function converters are in ``torch_convert``).

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

import numpy as np
import torch
import torch.nn as tnn

from ..errors import CertnnError
from ..ir.graph import Graph, Node
from ..ops import get_op
from .errors import InteropError
from .torch_convert import BATCH, FUNCTIONS, METHODS, MODULES, _Pinned, _Ref
from .torch_export import OWN_IMPLS


class UnsupportedTorchOp(InteropError):
    """An fx node (module, function or method) that certnn cannot import."""

    def __init__(self, model: str, node: str, target: str, detail: str = ""):
        self.node_name, self.target = node, target
        super().__init__(f"{model}: cannot import fx node '{node}' (target {target})"
                         f"{': ' + detail if detail else ''}")


def _target_name(node) -> str:
    t = node.target
    if node.op == "call_method":
        return f"Tensor.{t}"
    if node.op == "call_module":
        return f"module '{t}'"
    mod = getattr(t, "__module__", None) or ""
    return f"{mod + '.' if mod else ''}{getattr(t, '__name__', repr(t))}"


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
            ref = module(x.clone())  # an in-place op must not change the example
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
        except Exception:  # noqa: BLE001 - _Pinned, a shape error, NumPy on a wrong batch: not batch-free
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
