"""Error budget of the backward pass: for a chain network (linear layers with
relu / tanh / sigmoid, flatten, reshape) followed by a loss (cross_entropy or
mse) or by a given output cotangent, and an input box, a sound bound on
|gradient computed in binary32 - real gradient| for every parameter and for the
input, valid at every binary32 input x in the box (targets and seed fixed).

Semantics compared.

* real: the gradient of the real network (binary32 weights, real arithmetic),
  the op table's vjp rules with the kink convention relu'(0) = 0 (certnn's
  minimal-norm Clarke element).
* binary32 (:func:`backward_binary32`, the executor this bound is about): the
  forward pass of ``certnn.run(graph, x, "binary32")`` (its values are kept),
  then, with RN = binary32 round-to-nearest and sums in ``order`` (sequential by
  default, pairwise selectable; see docs/binary32.md):

  - cross_entropy seed: p = b32 softmax(logits); d = p, d[i, target_i] = RN(p - 1);
    ignored rows 0; 'mean': g = RN(d / RN32(V)), 'sum': g = d;
  - mse seed: d = RN(pred - target), g = RN(RN(d + d) / RN32(n)) ('mean') or RN(d + d);
  - relu: g if z^ > 0 else +0 (z^ the binary32 pre-activation: the relu kink
    convention in binary32); tanh: RN(g RN(1 - RN(y^ y^))); sigmoid:
    RN(g RN(y^ RN(1 - y^))) (y^ the binary32 forward output);
  - linear y = x W^T + b: gx = g @ W, gW = g^T @ x (sum over the batch), gb = the
    column sums of g, each a binary32 contraction in the order (b32.matmul2d,
    b32.colsum).

The bound composes, node by node in reverse, an enclosure of the real cotangent
and a bound on its binary32 error (``certnn.floats.error_rules`` building
blocks, whose forward enclosures and errors come from each op's ``interval``
and ``error`` rules). At a relu whose pre-activation may have a different sign
in the two semantics (the enclosure widened by the forward error reaches 0), the
derivatives may differ by 1, so the bound there is max|real cotangent| + its error.
``order="any"`` gives a bound for every summation order. Unsupported ops raise
UnsupportedOp.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import CertnnError, UnsupportedOp
from ..ir.graph import Graph
from ..ops import get_op
from ..floats import b32
from ..floats import error_rules as er
from ..floats import interval as iv
from .forward import ASSUMPTIONS, _float32_error

SUPPORTED = ("linear", "relu", "tanh", "sigmoid", "flatten", "reshape")
LOSSES = ("cross_entropy", "mse")
F32 = np.float32


@dataclass
class GradBudget:
    bound: dict                 # source id (params and the input) -> |binary32 grad - real grad| bound
    lo: dict                    # enclosure of the real gradient
    hi: dict
    order: str = "sequential"
    seconds: float = 0.0
    evidence: str = "checked"
    assumptions: tuple = ASSUMPTIONS + ("float64-libm-relerr", "mpfr-correct-rounding")
    nodes: list = field(default_factory=list)   # (step, op, max cotangent error bound)


# ---------------------------------------------------------------- the chain

def chain(graph: Graph):
    """The graph as a list of steps (op, attrs, param ids, node id) from its single
    input to its single output; a fused epilogue becomes steps of its own."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOp("graph", "grad error", "the gradient budget takes one input and one output")
    prev = graph.inputs[0].id
    steps = []
    for n in graph.nodes:
        if n.is_source:
            continue
        for op in (n.op,) + tuple(p for p, _ in n.post):
            if op not in SUPPORTED:
                raise UnsupportedOp(op, "grad error", f"the gradient budget supports {', '.join(SUPPORTED)}")
        if not n.inputs or n.inputs[0] != prev or any(not graph.node(i).is_source for i in n.inputs[1:]):
            raise UnsupportedOp(n.op, "grad error", f"node '{n.id}' is not part of a simple chain")
        steps.append((n.op, dict(n.attrs), tuple(n.inputs[1:]), n.id))
        steps.extend((op, dict(a), (), n.id) for op, a in n.post)
        prev = n.id
    if prev != graph.outputs[0]:
        raise UnsupportedOp("graph", "grad error", "the output is not the end of the chain")
    return steps


def _check_loss(loss, target, seed):
    if (loss is None) == (seed is None):
        raise CertnnError("gradient budget: give exactly one of loss= (with target=) or seed=")
    if loss is not None and loss not in LOSSES:
        raise CertnnError(f"gradient budget: loss must be one of {LOSSES}, got {loss!r}")
    if loss is not None and target is None:
        raise CertnnError(f"gradient budget: loss {loss!r} needs target=")


# ---------------------------------------------------------------- binary32 executor

def _linear_back32(g, x, w, has_bias, order, backend):
    gx = b32.matmul2d(g, np.ascontiguousarray(w), order, backend)
    gw = b32.matmul2d(np.ascontiguousarray(g.T), np.ascontiguousarray(x), order, backend)
    gb = b32.colsum(g, order, backend) if has_bias else None
    return gx, gw, gb


def _seed32(y, loss, target, reduction, ignore_index, seed):
    if seed is not None:
        return np.asarray(seed, F32)
    if loss == "cross_entropy":
        from ..ops.losses import _labels
        rows, cls, valid, nvalid = _labels(y, np.asarray(target), ignore_index)
        d = get_op("softmax").binary32(y, axis=-1)
        d[rows, cls] = d[rows, cls] - F32(1)
        d[~valid] = F32(0)
        return d / b32.count32(max(nvalid, 1)) if reduction == "mean" else d
    t = np.asarray(target, F32)
    d = y - t
    d = d + d
    return d / b32.count32(d.size) if reduction == "mean" else d


def backward_binary32(graph: Graph, x, *, loss=None, target=None, seed=None, reduction="mean",
                      ignore_index=-100, order="sequential", backend=None) -> dict:
    """The binary32 gradient (see the module docstring): source id -> float32 array."""
    _check_loss(loss, target, seed)
    steps = chain(graph)
    b32.check_float_env()
    vals = [np.asarray(x, F32)]
    for op, attrs, params, _ in steps:
        args = [np.asarray(graph.arrays[p], F32) for p in params]
        vals.append(get_op(op).binary32(vals[-1], *args, order=order, backend=backend, **attrs))
    with np.errstate(all="ignore"):
        g = _seed32(vals[-1], loss, target, reduction, ignore_index, seed)
        grads = {}
        for k in range(len(steps) - 1, -1, -1):
            op, attrs, params, _ = steps[k]
            xin, y = vals[k], vals[k + 1]
            if op == "relu":
                g = np.where(xin > 0, g, F32(0))
            elif op == "tanh":
                g = g * (F32(1) - y * y)
            elif op == "sigmoid":
                g = g * (y * (F32(1) - y))
            elif op in ("flatten", "reshape"):
                g = g.reshape(xin.shape)
            else:  # linear
                w = np.asarray(graph.arrays[params[0]], F32)
                x2, g2 = xin.reshape(-1, xin.shape[-1]), g.reshape(-1, g.shape[-1])
                gx, gw, gb = _linear_back32(g2, x2, w, len(params) > 1, order, backend)
                grads[params[0]] = gw
                if len(params) > 1:
                    grads[params[1]] = gb
                g = gx.reshape(xin.shape)
    grads[graph.inputs[0].id] = g
    return grads


def backward_real(graph: Graph, x, *, loss=None, target=None, seed=None, reduction="mean",
                  ignore_index=-100) -> dict:
    """The real gradient, from the op table's vjp rules in float64 (their own
    error, about 1e-16 relative, stands in for exact arithmetic)."""
    from ..ir.interpret import backward, evaluate
    _check_loss(loss, target, seed)
    chain(graph)
    arrays = {k: np.asarray(v, np.float64) for k, v in graph.arrays.items()}
    inp = graph.inputs[0].id
    outs, values, chains = evaluate(graph, {inp: np.asarray(x, np.float64)}, arrays, keep_chains=True)
    y = outs[0]
    if seed is not None:
        g = np.asarray(seed, np.float64)
    elif loss == "cross_entropy":
        attrs = {"ignore_index": ignore_index, "reduction": reduction}
        out = get_op("cross_entropy").real(y, np.asarray(target), **attrs)
        g = get_op("cross_entropy").vjp(np.float64(1.0), out, y, np.asarray(target), **attrs)[0]
    else:
        t = np.asarray(target, np.float64)
        out = get_op("mse").real(y, t, reduction=reduction)
        g = get_op("mse").vjp(np.float64(1.0), out, y, t, reduction=reduction)[0]
    sources = {inp} | {n.id for n in graph.nodes if n.op == "param"}
    return backward(graph, values, chains, {graph.outputs[0]: g}, sources)


# ---------------------------------------------------------------- the bound

def _seed_triple(out, loss, target, reduction, ignore_index, seed, order):
    lo, hi, e = out
    if seed is not None:
        return er.exact(seed)
    if loss == "cross_entropy":
        from ..ops.losses import _labels
        rows, cls, valid, nvalid = _labels(lo, np.asarray(target), ignore_index)
        sm = get_op("softmax")
        plo, phi = sm.interval([lo], [hi], axis=-1)
        pe = sm.error([lo], [hi], [e], plo, phi, order=order, axis=-1)
        p = [np.array(v, dtype=np.float64) for v in (plo, phi, pe)]
        sub = er.t_sub(tuple(v[rows, cls] for v in p), er.exact(np.ones(len(rows))))
        for v, s in zip(p, sub):
            v[rows, cls] = s
            v[~valid] = 0.0
        d = tuple(p)
        return er.t_div_count(d, max(nvalid, 1)) if reduction == "mean" else d
    d = er.t_sub(out, er.exact(target))
    d = er.t_add(d, d)
    return er.t_div_count(d, int(np.size(lo))) if reduction == "mean" else d


def _relu_back(z, g):
    """Real derivative 1 on z > 0, else 0; the binary32 one uses z^ (|z^ - z| <= e_z)."""
    zl, zh, ze = (np.broadcast_to(v, np.shape(g[0])) for v in z)
    gl, gh, ge = g
    lo = np.where(zl > 0, gl, np.where(zh <= 0, 0.0, np.minimum(gl, 0.0)))
    hi = np.where(zl > 0, gh, np.where(zh <= 0, 0.0, np.maximum(gh, 0.0)))
    same_pos, same_zero = zl - ze > 0, zh + ze <= 0
    e = np.where(same_pos, ge, np.where(same_zero, 0.0, er.mag(gl, gh) + ge))
    return lo, hi, e


def _linear_back(g, x, w, has_bias, order):
    """gx = g @ W, gW = g^T @ x, gb = column sums of g: enclosures and error bounds."""
    mm = get_op("matmul")
    W = (w[0], w[1], w[2])
    gx_lo, gx_hi = mm.interval([g[0], W[0]], [g[1], W[1]])
    gx_e = er.finish(er._dot_general(g, W, order))
    gT = tuple(np.ascontiguousarray(v.T) for v in g)
    gw_lo, gw_hi = mm.interval([gT[0], x[0]], [gT[1], x[1]])
    gw_e = er.finish(er._dot_general(gT, x, order))
    gb = er.t_sum_rows(gT, order) if has_bias else None
    return (gx_lo, gx_hi, gx_e), (gw_lo, gw_hi, gw_e), gb


def grad_budget(graph: Graph, lo, hi, *, loss=None, target=None, seed=None, reduction="mean",
                ignore_index=-100, order="sequential") -> GradBudget:
    """Bound |backward_binary32(graph, x) - backward_real(graph, x)| for every binary32
    x in [lo, hi] (see the module docstring)."""
    if order not in ("sequential", "any"):
        raise CertnnError(f"order must be 'sequential' or 'any', got {order!r}")
    _check_loss(loss, target, seed)
    steps = chain(graph)
    t0 = time.perf_counter()
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    iv.check(lo, hi, "input box")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise iv.IntervalError("input box: infinite bounds; a gradient budget needs a bounded box")
    P = {p: (np.asarray(graph.arrays[p], np.float64),) * 2 + (_float32_error(graph.arrays[p]),)
         for _, _, ps, _ in steps for p in ps}
    vals = [(lo, hi, np.zeros_like(lo))]
    for op_name, attrs, params, _ in steps:          # forward enclosures and errors
        op = get_op(op_name)
        ins = [vals[-1]] + [P[p] for p in params]
        los, his, errs = ([t[i] for t in ins] for i in range(3))
        ol, oh = op.interval(los, his, **attrs)
        e = op.error(los, his, errs, ol, oh, order=order, **attrs)
        vals.append((ol, oh, np.broadcast_to(e, ol.shape)))
    g = _seed_triple(vals[-1], loss, target, reduction, ignore_index, seed, order)
    B, L, H, rows = {}, {}, {}, []

    def put(pid, t):
        L[pid], H[pid], B[pid] = t[0], t[1], er.finish(t[2])

    for k in range(len(steps) - 1, -1, -1):
        op, attrs, params, nid = steps[k]
        xin, y = vals[k], vals[k + 1]
        if op == "relu":
            g = _relu_back(xin, g)
        elif op == "tanh":
            g = er.t_mul(g, er.t_sub(er.exact(1.0), er.t_square(y)))
        elif op == "sigmoid":
            g = er.t_mul(g, er.t_mul(y, er.t_sub(er.exact(1.0), y)))
        elif op in ("flatten", "reshape"):
            g = tuple(np.reshape(v, np.shape(xin[0])) for v in g)
        else:
            shp = np.shape(xin[0])
            x2 = tuple(np.reshape(np.broadcast_to(v, shp), (-1, shp[-1])) for v in xin)
            g2 = tuple(np.reshape(np.broadcast_to(v, np.shape(g[0])), (-1, np.shape(g[0])[-1])) for v in g)
            gx, gw, gb = _linear_back(g2, x2, P[params[0]], len(params) > 1, order)
            put(params[0], gw)
            if gb is not None:
                put(params[1], gb)
            g = tuple(np.reshape(v, shp) for v in gx)
        g = tuple(np.asarray(v, np.float64) for v in g)
        rows.append((nid, op, float(np.max(g[2], initial=0.0))))
    put(graph.inputs[0].id, g)
    return GradBudget(bound=B, lo=L, hi=H, order=order, seconds=time.perf_counter() - t0, nodes=rows)
