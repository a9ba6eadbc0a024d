"""Converters for ``from_torch``: one function per supported leaf module
(``MODULES``, keyed by exact type), torch function (``FUNCTIONS``) and tensor
method (``METHODS``). Each maps an fx call onto op-table nodes through the
importer in ``torch_import`` (``imp.add``, ``imp.tensor``, ``imp.fail``) and
returns a value: a ``_Ref`` to a graph node, or a Python value (sizes, ints)
for shape arithmetic. Arguments are bound by the torch signature written out
in ``_bind``'s spec strings (many torch functions have no introspectable
signature)."""

from __future__ import annotations

import ast
import operator

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

from ..errors import CertnnError

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


def _bind(args, kwargs, spec: str) -> dict:
    """Match positional and keyword arguments to ``spec`` ("a, b, c=1, d=None"):
    the Python binding rules, for torch functions that have no signature."""
    names, defaults = [], {}
    for item in spec.split(","):
        name, _, default = item.strip().partition("=")
        names.append(name)
        if default:
            defaults[name] = ast.literal_eval(default)
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
        return body(imp, **_bind(args, kwargs, spec))
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
    b = _bind(args, kwargs, "input, dim=None")
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
