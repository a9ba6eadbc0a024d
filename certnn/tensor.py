"""Eager tensors with a tape.

A ``Tensor`` wraps a NumPy array. Every op goes through :func:`apply`, which
checks shapes with the op's ``shape`` rule, computes the ``real`` rule and, when
a gradient is needed (or a trace is being recorded), remembers the op, its
inputs and attributes. :meth:`Tensor.backward` walks that tape in reverse
creation order calling each op's ``vjp`` rule; the walk, not the rules, sums
broadcast cotangents back to input shapes and accumulates cotangents of values
used more than once (in a fixed order, so compiled mode can reproduce it bit
for bit).
"""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager

import numpy as np

from .errors import ShapeError
from .ops import get_op
from .ops._common import fmt, unbroadcast

_ids = itertools.count()
_state = threading.local()


def _flag(name: str) -> bool:
    return getattr(_state, name, name == "grad")


@contextmanager
def _set(name: str, value: bool):
    old = _flag(name)
    setattr(_state, name, value)
    try:
        yield
    finally:
        setattr(_state, name, old)


def no_grad():
    """Context manager: ops inside record nothing and produce no gradients."""
    return _set("grad", False)


def recording():
    """Context manager used by tracing: every op is recorded, gradient or not."""
    return _set("record", True)


def is_recording() -> bool:
    return _flag("record")


class TapeNode:
    __slots__ = ("op", "inputs", "attrs")

    def __init__(self, op, inputs, attrs):
        self.op, self.inputs, self.attrs = op, inputs, attrs


class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "node", "id", "__weakref__")
    __array_priority__ = 100  # make ndarray <op> Tensor defer to Tensor

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        arr = np.asarray(data, dtype=dtype)
        if dtype is None and arr.dtype.kind == "f" and arr.dtype != np.float64 and arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.node = None
        self.id = next(_ids)

    # ---- basic properties -------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self):
        return self.data.item()

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        g = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{g})"

    # ---- autograd -----------------------------------------------------------
    def backward(self, grad=None) -> None:
        if grad is None:
            if self.data.size != 1:
                raise ShapeError(f"backward() without a gradient needs a scalar, got shape {fmt(self.shape)}")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=self.data.dtype)
        if grad.shape != self.shape:
            raise ShapeError(f"backward(): gradient shape {fmt(grad.shape)} != tensor shape {fmt(self.shape)}")
        backpropagate([self], [grad])

    # ---- operators (thin wrappers over the functional API) -----------------
    def __add__(self, o): return apply("add", self, o)
    def __radd__(self, o): return apply("add", o, self)
    def __sub__(self, o): return apply("sub", self, o)
    def __rsub__(self, o): return apply("sub", o, self)
    def __mul__(self, o): return apply("mul", self, o)
    def __rmul__(self, o): return apply("mul", o, self)
    def __truediv__(self, o): return apply("div", self, o)
    def __rtruediv__(self, o): return apply("div", o, self)
    def __neg__(self): return apply("neg", self)
    def __matmul__(self, o): return apply("matmul", self, o)
    def __rmatmul__(self, o): return apply("matmul", o, self)

    def __getitem__(self, idx):
        from . import functional as F
        return F.getitem(self, idx)

    def sum(self, axis=None, keepdims=False): return apply("sum", self, axes=_axes(axis), keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return apply("mean", self, axes=_axes(axis), keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return apply("max", self, axes=_axes(axis), keepdims=keepdims)
    def exp(self): return apply("exp", self)
    def log(self): return apply("log", self)
    def sqrt(self): return apply("sqrt", self)
    def abs(self): return apply("abs", self)
    def relu(self): return apply("relu", self)
    def tanh(self): return apply("tanh", self)
    def sigmoid(self): return apply("sigmoid", self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return apply("reshape", self, shape=tuple(int(s) for s in shape))

    def flatten(self, start_dim=0, end_dim=-1):
        return apply("flatten", self, start_dim=start_dim, end_dim=end_dim)

    def transpose(self, *perm):
        if len(perm) == 1 and isinstance(perm[0], tuple | list):
            perm = tuple(perm[0])
        return apply("transpose", self, perm=perm or tuple(reversed(range(self.ndim))))

    @property
    def T(self):
        return self.transpose()


def _axes(axis):
    if axis is None:
        return None
    return (axis,) if isinstance(axis, int) else tuple(axis)


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """Wrap arrays and Python scalars; scalars take the dtype of ``like``."""
    if isinstance(x, Tensor):
        return x
    if like is not None and np.isscalar(x):
        return Tensor(np.asarray(x, dtype=like.dtype))
    return Tensor(x)


def apply(op_name: str, *args, **attrs) -> Tensor:
    """Run one op eagerly: shape rule, real rule, and a tape entry when needed."""
    op = get_op(op_name)
    like = next((a for a in args if isinstance(a, Tensor) and a.dtype.kind == "f"), None)
    xs = [as_tensor(a, like) for a in args]
    op.check_arity(len(xs))
    attrs = op.normalize(attrs)
    op.shape([x.shape for x in xs], **attrs)  # raises ShapeError naming the op and shapes
    out = Tensor(op.real(*[x.data for x in xs], **attrs))
    if _flag("record") or (_flag("grad") and any(x.requires_grad for x in xs)):
        out.node = TapeNode(op, xs, attrs)
        out.requires_grad = _flag("grad") and any(x.requires_grad for x in xs)
    return out


def reachable(outputs: list[Tensor]) -> list[Tensor]:
    """Tensors the outputs depend on through the tape, in creation order."""
    seen: dict[int, Tensor] = {}
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen[id(t)] = t
        if t.node is not None:
            stack.extend(t.node.inputs)
    return sorted(seen.values(), key=lambda t: t.id)


def backpropagate(outputs: list[Tensor], grads: list[np.ndarray], observe=None) -> None:
    """Reverse-mode sweep; leaf tensors with ``requires_grad`` accumulate ``.grad``.
    ``observe(tensor, cotangent)``, when given, sees every tensor's total cotangent
    in sweep order (the autograd tape view uses it)."""
    order = [t for t in reachable(outputs) if t.requires_grad]
    cts: dict[int, np.ndarray] = {}
    for t, g in zip(outputs, grads):
        _accumulate(cts, t, g)
    for t in reversed(order):
        g = cts.pop(id(t), None)
        if g is None:
            continue
        if observe is not None:
            observe(t, g)
        if t.node is None:
            t.grad = g if t.grad is None else t.grad + g
            continue
        node = t.node
        extra = {}
        if getattr(node.op, "vjp_needs", False):  # let expensive rules skip unneeded cotangents
            extra["needs"] = tuple(x.requires_grad and node.op.is_differentiable(i)
                                   for i, x in enumerate(node.inputs))
        in_cts = node.op.vjp(g, t.data, *[x.data for x in node.inputs], **node.attrs, **extra)
        for i, (x, c) in enumerate(zip(node.inputs, in_cts)):
            if c is not None and x.requires_grad and node.op.is_differentiable(i):
                _accumulate(cts, x, unbroadcast(np.asarray(c, dtype=x.dtype), x.shape))


def _accumulate(cts, t, g):
    prev = cts.get(id(t))
    cts[id(t)] = g if prev is None else prev + g
