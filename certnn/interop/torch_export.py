"""certnn graph -> ``torch.fx.GraphModule`` (``to_torch``).

Every graph node becomes one ``call_function`` node whose target is the torch
implementation of that op in ``TORCH_OPS`` (keyword arguments are the node's
attributes, fused epilogues become their own calls), so the module's code
reads like the graph (``print(module.code)``) and :func:`from_torch` maps each
call straight back onto the op it came from: ``from_torch(to_torch(g))``
computes what ``g`` computes.

Names: a ``param`` node becomes an ``nn.Parameter`` (a buffer when the node
says ``trainable: False``, e.g. BatchNorm running statistics) at the dotted
path given by its id, so ``module.state_dict()`` keys are the graph's param
ids and the state dict of the certnn module the graph was traced from loads
as it is. A ``const`` node becomes a non-persistent buffer. An id that is not
a usable attribute path (an empty dotted part) is escaped: see
``module.certnn_names`` (graph id -> attribute path).

Each implementation keeps certnn's semantics, not torch's defaults, where they
differ: max pooling and ``max`` split the cotangent evenly among tied maxima
(torch's ``max_pool2d`` gives it to one index), softplus never switches to the
identity above a threshold, ``reshape`` reads 0 as "copy this dim" (ONNX),
``cross_entropy`` with every label ignored is 0 (torch: NaN), and batch_norm
differentiates its running statistics too (torch treats them as constants).
"""

from __future__ import annotations

import functools

import numpy as np

import torch
import torch.nn.functional as F

from ..errors import CertnnError
from ..ir.graph import Graph
from .errors import InteropError


# ---------------------------------------------------------------- op implementations
# Each takes the op's inputs positionally and its attributes as keywords
# (exactly the op table's attribute names, so the round trip is attribute-exact).

def _all_dims(x, axes):
    return tuple(range(x.ndim)) if axes is None else tuple(axes)


def certnn_reshape(x, *, shape):
    return torch.reshape(x, [x.shape[j] if d == 0 else d for j, d in enumerate(shape)])


def certnn_flatten(x, *, start_dim=1, end_dim=-1):
    return torch.flatten(x.reshape(1) if x.ndim == 0 else x, start_dim, end_dim)


def certnn_transpose(x, *, perm):
    return x.permute(*perm)


def certnn_concat(*xs, axis=0):
    return torch.cat(xs, dim=axis)


def certnn_slice(x, *, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        index[a % x.ndim] = slice(s, e, st)
    return x[tuple(index)]


def certnn_pad(x, *, pads, value=0.0):
    n = x.ndim
    torch_pads = []
    for a in range(n - 1, -1, -1):  # torch lists the last dim first
        torch_pads += [pads[a], pads[n + a]]
    return F.pad(x, torch_pads, mode="constant", value=float(value))


def certnn_max_pool2d(x, *, kernel_size, stride=None, padding=(0, 0), dilation=(1, 1)):
    """Windows unfolded, then ``amax``: amax splits the cotangent evenly among
    tied maxima, certnn's convention (F.max_pool2d gives it to one index)."""
    stride = kernel_size if stride is None else stride
    ph, pw = padding
    xp = F.pad(x, (pw, pw, ph, ph), value=-float("inf"))
    n, c, h, w = xp.shape
    cols = F.unfold(xp.reshape(n * c, 1, h, w), kernel_size, dilation=dilation, stride=stride)
    ho = (h - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1
    return torch.amax(cols, dim=1).reshape(n, c, ho, wo)


def certnn_avg_pool2d(x, *, kernel_size, stride=None, padding=(0, 0), count_include_pad=True):
    return F.avg_pool2d(x, kernel_size, kernel_size if stride is None else stride, padding,
                        ceil_mode=False, count_include_pad=count_include_pad)


def certnn_batch_norm(x, weight, bias, running_mean, running_var, *, eps=1e-5):
    """The op table's formula, (x - mean) * (1 / sqrt(var + eps)) * weight + bias,
    differentiable in all five inputs."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    r = 1.0 / torch.sqrt(running_var + eps)
    return ((x - running_mean.reshape(shape)) * r.reshape(shape) * weight.reshape(shape)
            + bias.reshape(shape))


def certnn_batch_norm_train(x, weight, bias, *, eps=1e-5):
    return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)


def certnn_layer_norm(x, weight, bias, *, eps=1e-5):
    return F.layer_norm(x, tuple(weight.shape), weight, bias, eps)


def certnn_softplus(x):
    """log(1 + e^x) without torch's linear switch above ``threshold``; logaddexp
    is overflow-free and its derivative is exactly sigmoid(x)."""
    return torch.logaddexp(x, torch.zeros_like(x))


def certnn_leaky_relu(x, *, negative_slope=0.01):
    return F.leaky_relu(x, negative_slope)  # slope at 0, like certnn


def certnn_softmax(x, *, axis=-1):
    return torch.softmax(x, dim=axis)


def certnn_log_softmax(x, *, axis=-1):
    return torch.log_softmax(x, dim=axis)


def certnn_sum(x, *, axes=None, keepdims=False):
    return x if axes == () else torch.sum(x, dim=_all_dims(x, axes), keepdim=keepdims)


def certnn_mean(x, *, axes=None, keepdims=False):
    return x if axes == () else torch.mean(x, dim=_all_dims(x, axes), keepdim=keepdims)


def certnn_max(x, *, axes=None, keepdims=False):
    return x if axes == () else torch.amax(x, dim=_all_dims(x, axes), keepdim=keepdims)


def certnn_conv2d(x, weight, bias=None, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return F.conv2d(x, weight, bias, stride, padding, dilation, groups)


def certnn_linear(x, weight, bias=None):
    return F.linear(x, weight, bias)


def certnn_cross_entropy(logits, target, *, ignore_index=-100, reduction="mean"):
    """torch's loss, except that "mean" over zero kept labels is 0, as in certnn."""
    target = target.long()
    if reduction != "mean":
        return F.cross_entropy(logits, target, ignore_index=ignore_index, reduction=reduction)
    total = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="sum")
    kept = (target != ignore_index).sum().clamp_min(1).to(total.dtype)
    return total / kept


def certnn_mse(pred, target, *, reduction="mean"):
    return F.mse_loss(pred, target, reduction=reduction)


def certnn_embedding(indices, weight):
    return F.embedding(indices.long(), weight)


def certnn_dropout(x, keep, *, p=0.5):
    """The op's fixed-mask semantics: x / (1 - p) where kept, 0 elsewhere."""
    return torch.where(keep, x * (1.0 / (1.0 - p)), torch.zeros((), dtype=x.dtype))


def certnn_rms_norm(x, weight, *, eps=1e-6):
    return F.rms_norm(x, tuple(weight.shape), weight, eps)


def certnn_masked_softmax(x, keep, *, axis=-1):
    """Masked entries and fully masked rows are 0 (torch's softmax of an all -inf row
    is NaN, so such rows are fed zeros before the softmax and zeroed after)."""
    keep = torch.broadcast_to(keep, x.shape)
    live = keep.any(dim=axis, keepdim=True)
    z = torch.where(keep | ~live, x, torch.full((), float("-inf"), dtype=x.dtype))
    z = torch.where(live, z, torch.zeros((), dtype=x.dtype))
    return torch.where(keep, torch.softmax(z, dim=axis), torch.zeros((), dtype=x.dtype))


def certnn_selective_scan(x, delta, A, B, C):
    """Mamba's selective_scan_ref (without D and the gate): a loop over time."""
    h = x.new_zeros(x.shape[0], A.shape[0], A.shape[1])
    ys = []
    for t in range(x.shape[1]):
        h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * x[:, t])[..., None] * B[:, t, None, :]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, t]))
    return torch.stack(ys, dim=1)


def certnn_rfft(x, *, axis=-1, modes=None):
    z = torch.fft.rfft(x, dim=axis)
    if modes is not None:
        z = z.narrow(axis % x.ndim, 0, modes)
    return torch.view_as_real(z)


def certnn_irfft(z, *, n, axis=-1):
    return torch.fft.irfft(torch.view_as_complex(z.contiguous()), n=n, dim=axis % (z.ndim - 1))


def certnn_complex_mul(a, b):
    a, b = torch.broadcast_tensors(a, b)
    return torch.view_as_real(torch.view_as_complex(a.contiguous()) * torch.view_as_complex(b.contiguous()))


def certnn_complex_matmul(a, b):
    return torch.view_as_real(torch.view_as_complex(a.contiguous()) @ torch.view_as_complex(b.contiguous()))


def certnn_derivative(*xs, op, wrt, params=()):
    """d^k op / dx_wrt of an elementwise op, by nested forward mode (``torch.func.jvp``
    with a one-hot tangent per differentiation) over the op's own torch implementation;
    the result stays differentiable, so its vjp is torch's too."""
    def partial(fun, p):
        def d(*a):
            tangents = tuple(torch.ones_like(t) if i == p else torch.zeros_like(t) for i, t in enumerate(a))
            return torch.func.jvp(fun, a, tangents)[1]
        return d
    fun = functools.partial(TORCH_OPS[op], **dict(params))
    for p in wrt:
        fun = partial(fun, p)
    return fun(*xs)


TORCH_OPS = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "neg": torch.neg,
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs,
    "maximum": torch.maximum, "minimum": torch.minimum,  # both split ties evenly, like certnn
    "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "gelu": F.gelu,
    "softplus": certnn_softplus, "leaky_relu": certnn_leaky_relu,
    "matmul": torch.matmul, "linear": certnn_linear, "conv2d": certnn_conv2d,
    "max_pool2d": certnn_max_pool2d, "avg_pool2d": certnn_avg_pool2d,
    "batch_norm": certnn_batch_norm, "batch_norm_train": certnn_batch_norm_train, "layer_norm": certnn_layer_norm,
    "softmax": certnn_softmax, "log_softmax": certnn_log_softmax,
    "reshape": certnn_reshape, "flatten": certnn_flatten, "transpose": certnn_transpose,
    "concat": certnn_concat, "slice": certnn_slice, "pad": certnn_pad,
    "sum": certnn_sum, "mean": certnn_mean, "max": certnn_max,
    "cross_entropy": certnn_cross_entropy, "mse": certnn_mse,
    "embedding": certnn_embedding, "dropout": certnn_dropout, "rms_norm": certnn_rms_norm,
    "masked_softmax": certnn_masked_softmax, "selective_scan": certnn_selective_scan,
    "rfft": certnn_rfft, "irfft": certnn_irfft, "complex_mul": certnn_complex_mul,
    "complex_matmul": certnn_complex_matmul, "where": torch.where, "derivative": certnn_derivative,
}

# The implementations that are certnn's own functions (kept as leaf calls when
# from_torch traces a module made by to_torch); the torch functions in the
# table are traced as themselves anyway.
OWN_IMPLS = {fn: op for op, fn in TORCH_OPS.items() if fn.__module__ == __name__}


# ---------------------------------------------------------------- the module

def _attr_path(nid: str, taken: set[str]) -> str:
    """The id itself when every dotted part is non-empty and no prefix clashes
    with an existing leaf, else an escaped name."""
    parts = nid.split(".")
    ok = all(parts) and not any(".".join(parts[:k]) in taken for k in range(1, len(parts)))
    ok = ok and not any(t.startswith(nid + ".") for t in taken)
    if ok and nid not in taken:
        return nid
    base = "certnn_" + "".join(c if c.isalnum() else "_" for c in nid)
    name, k = base, 1
    while name in taken or any(t.startswith(name + ".") for t in taken):
        name, k = f"{base}_{k}", k + 1
    return name


def _identifier(nid: str, taken: set[str]) -> str:
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in nid) or "x"
    if base[0].isdigit():
        base = "x_" + base
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def to_torch(graph: Graph) -> "torch.fx.GraphModule":
    """A ``torch.fx.GraphModule`` computing ``graph`` with torch ops (see the
    module doc). Its parameters are copies of the graph's arrays; ``forward``
    takes the graph inputs positionally, in graph order, and returns one tensor
    (a tuple when the graph has several outputs)."""
    from torch import fx

    try:
        graph = graph.copy().validate()
    except CertnnError as e:
        raise InteropError(f"to_torch: the graph does not validate: {e}") from None
    missing = sorted(op for op in graph.ops_used() if op not in TORCH_OPS)
    if missing:
        raise InteropError(f"to_torch: no torch implementation for op(s) {', '.join(missing)} "
                           f"(implemented: {', '.join(sorted(TORCH_OPS))})")
    fg = fx.Graph()
    env: dict[str, fx.Node] = {}
    root: dict[str, torch.Tensor] = {}
    names: dict[str, str] = {}
    consts: list[str] = []
    placeholders: set[str] = set()
    for n in graph.nodes:
        if n.op == "input":
            name = _identifier(n.id, placeholders)
            placeholders.add(name)
            env[n.id] = fg.placeholder(name)
            names[n.id] = name
            continue
        if n.is_source:
            path = _attr_path(n.id, set(root))
            t = torch.from_numpy(np.array(graph.arrays[n.id], copy=True))
            trainable = n.op == "param" and n.attrs.get("trainable", True) and t.is_floating_point()
            root[path] = torch.nn.Parameter(t) if trainable else t
            if n.op == "const":
                consts.append(path)
            env[n.id] = fg.get_attr(path)
            names[n.id] = path
            continue
        args = tuple(env[i] for i in n.inputs)
        calls = [(n.op, n.attrs)] + list(n.post)
        for k, (op, attrs) in enumerate(calls):
            # the last call of a node carries its id, so the code reads like the graph
            name = _identifier(n.id if k == len(calls) - 1 else f"{n.id}_{op}", placeholders)
            placeholders.add(name)
            args = (fg.create_node("call_function", TORCH_OPS[op], args, dict(attrs), name=name),)
        env[n.id] = args[0]
    outs = [env[o] for o in graph.outputs]
    fg.output(outs[0] if len(outs) == 1 else tuple(outs))
    gm = fx.GraphModule(root, fg, class_name="CertnnGraph")
    for path in consts:  # constants are part of the model, not of its state dict
        *owner, field = path.split(".")
        m = gm.get_submodule(".".join(owner))
        m._non_persistent_buffers_set.add(field)
    gm.certnn_names = names
    return gm.eval()  # the graph has one meaning: no training-mode behaviour to switch on
