"""Taylor-model bound propagation: the op table walked in first-order Taylor
models (:mod:`certnn.floats.taylor`) over a batch of input boxes.

Each node gets ``c + g.d + [-r, r]`` (d the offset from the box centre): the
linear part in the input is exact, so a quantity and its derivatives keep
their correlation through a derivative graph (u, u_x and u_xx of the same
neurons), which plain intervals lose; the remainder is second order in the
box size, so it shrinks fast as boxes are split. Per node:

* a node that does not depend on the input: the op's ``interval`` rule;
* an elementwise op whose sympy form is a polynomial (add, sub, neg, mul):
  Taylor-model arithmetic on that form;
* another elementwise op: Taylor's theorem with enclosures from the op table, the
  op's ``interval`` rule at the centre and the ``derivative`` op's interval
  rule for its first partials at the centre and its second partials over the
  range of the inputs (:func:`certnn.floats.taylor.elementwise`); an op with
  kinks (``is_smooth`` false: relu, abs, max) only where its partials are
  constant over the range (it is affine there); across a kink of a one-input
  piecewise-linear op the chord slope plus an enclosed offset (``_chord``),
  else its interval image;
* an op affine in its variable inputs (linear, matmul with a constant,
  reshape, ...; the table of :mod:`certnn.ops.relax`): its ``interval`` rule at
  the centre and its tangent rule (the linear part, written with ops) run in
  interval arithmetic on each coefficient and on the remainder;
* anything else raises :class:`~certnn.errors.UnsupportedOp`.

Every step is outward rounded (evidence ``checked``), resting on the op
table's interval rules and their assumptions.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import GraphError, UnsupportedOp
from ..floats import interval as iv
from ..floats import taylor as tm
from ..floats.taylor import TM
from ..ir.graph import Graph
from ..ir.passes import unfuse
from ..ops import get_op
from ..ops.derivative import NAME as DERIVATIVE, is_smooth, kinks, params_of, partial, symbols, tangent_rule
from .net import _affine_ok


def _iv_apply(op_name: str, /, *args, **attrs):
    """Run an op's interval rule on (lo, hi) pairs (Python numbers are exact)."""
    op = get_op(op_name)
    los = [a[0] if isinstance(a, tuple) else np.float64(a) for a in args]
    his = [a[1] if isinstance(a, tuple) else np.float64(a) for a in args]
    return op.interval(los, his, **op.normalize(attrs))


def _derivative_enclosure(op: str, attrs: dict, wrt: tuple, boxes: list):
    name, attrs_ = op, attrs
    for p in wrt:
        name, w, params = partial(name, attrs_, p)
        name, attrs_ = DERIVATIVE, {"op": name, "wrt": w, "params": params}
    return _iv_apply(DERIVATIVE, *boxes, **attrs_)


def _smooth(node) -> bool:
    """Is the node's function C^2 (Taylor's theorem with a Lagrange remainder holds)?"""
    if node.op == DERIVATIVE:
        a = node.attrs
        return is_smooth(a["op"], tuple(a["params"]), len(a["wrt"]) + 2)
    return is_smooth(node.op, params_of(node.attrs), 2)


@functools.lru_cache(maxsize=None)
def _polynomial_form(op_name: str, params: tuple, n: int):
    """The op's sympy form when it is a polynomial in its inputs (add, sub, neg,
    mul): Taylor-model arithmetic evaluates it exactly, faster and tighter than
    Taylor's theorem with enclosed derivatives."""
    xs = symbols(n)
    f = get_op(op_name).sympy_form(*xs, **dict(params))
    return f if f.is_polynomial(*xs) else None


def _elementwise(node, ins: list) -> TM:
    """Taylor's theorem for a C^2 op. An op with kinks (relu, abs, max) is
    affine on a box where its partials are constant (their enclosure over the
    range box is a point): there the same formula with no curvature is exact;
    elsewhere the node falls back to its interval image (no linear part)."""
    op = get_op(node.op)
    n = len(ins)
    poly = None if node.op == DERIVATIVE else _polynomial_form(node.op, params_of(node.attrs), n)
    if poly is not None:
        h = next(t.h for t in ins if t.h is not None)
        return tm.sympy_tm(poly, dict(zip(symbols(n), ins)), h)
    if not _smooth(node):
        rng = [t.interval() for t in ins]
        slopes = [_derivative_enclosure(node.op, node.attrs, (p,), rng) for p in range(n)]
        flat = np.logical_and.reduce([lo == hi for lo, hi in slopes])
        lin = tm.elementwise(ins, lambda pts: op.interval([p[0] for p in pts], [p[1] for p in pts], **node.attrs),
                             lambda pts: slopes, lambda boxes: [(0.0, 0.0)] * (n * (n + 1) // 2))
        bent = None if node.op == DERIVATIVE else kinks(node.op, params_of(node.attrs))
        if bent is not None:
            other = _chord(node, ins[0], rng[0], bent)
        else:
            m, r = iv.midrad(*op.interval([b[0] for b in rng], [b[1] for b in rng], **node.attrs))
            other = TM(m, None, r, lin.h)
        g = None if lin.g is None and other.g is None else np.where(
            flat, 0.0 if lin.g is None else lin.g, 0.0 if other.g is None else other.g)
        return tm._finite(np.where(flat, lin.c, other.c), g, np.where(flat, lin.r, other.r), lin.h)

    def value(points):
        return op.interval([p[0] for p in points], [p[1] for p in points], **node.attrs)

    def partials(points):
        return [_derivative_enclosure(node.op, node.attrs, (p,), points) for p in range(n)]

    def hessian(boxes):
        pairs = [(p, q) for p in range(n) for q in range(p, n)]
        if op.linear:                      # add, sub, neg: no curvature
            return [(0.0, 0.0)] * len(pairs)
        return [_derivative_enclosure(node.op, node.attrs, pq, boxes) for pq in pairs]
    return tm.elementwise(ins, value, partials, hessian)


def _chord(node, a: TM, rng, bent: list) -> TM:
    """A piecewise-linear op f on a box across a kink: f(x) = s x + [t_lo, t_hi]
    with s the chord slope over the input range [l, u] (any slope is valid) and
    t_lo, t_hi the extremes of f(x) - s x, attained at l, u or a kink inside,
    all enclosed in outward-rounded arithmetic (the zonotope/DeepZ relaxation:
    the linear part, hence the correlation, survives)."""
    op = get_op(node.op)
    l, u = rng
    with np.errstate(all="ignore"):
        fl, fu = op.real(l, **node.attrs), op.real(u, **node.attrs)
        s = np.where(u > l, (fu - fl) / np.where(u > l, u - l, 1.0), 0.0)
        s = np.where(np.isfinite(s), s, 0.0)
    pts = [l, u] + [np.clip(np.float64(k), l, u) for k in bent]
    t_lo, t_hi = None, None
    for p in pts:
        lo, hi = iv.sub(*op.interval([p], [p], **node.attrs), *iv.mul(p, p, s, s))
        t_lo = lo if t_lo is None else np.minimum(t_lo, lo)
        t_hi = hi if t_hi is None else np.maximum(t_hi, hi)
    return tm.add(tm.scale(a, s), TM.const(t_lo, t_hi, h=a.h))


def _affine(node, ins: list, h) -> TM:
    rule = tangent_rule(node.op)
    var = [t.g is not None for t in ins]
    consts = [t.interval() if not v else (t.c, t.c) for t, v in zip(ins, var)]
    centre = _iv_apply(node.op, *consts, **node.attrs)
    c, r = iv.midrad(*centre)
    k = h.shape[0]
    coefs, rem = [], r
    for j in range(k):
        ts = [(t.g[j], t.g[j]) if v else None for t, v in zip(ins, var)]
        lo, hi = rule(_iv_apply, ts, consts, centre, **node.attrs)
        m, rj = iv.midrad(lo, hi)
        coefs.append(m)
        rem = rem + rj * h[j].reshape((-1,) + (1,) * (m.ndim - 1))
    if any(np.any(t.r > 0) for t, v in zip(ins, var) if v):
        ts = [(-t.r * np.ones_like(t.c), t.r * np.ones_like(t.c)) if v else None for t, v in zip(ins, var)]
        lo, hi = rule(_iv_apply, ts, consts, centre, **node.attrs)
        rem = rem + np.maximum(np.abs(lo), np.abs(hi))
    return tm._finite(c, np.stack(coefs), tm._up(rem), h)


def taylor_models(graph: Graph, lo: np.ndarray, hi: np.ndarray, feeds: dict | None = None,
                  input_id: str | None = None) -> dict:
    """Taylor models of every node over the boxes [lo, hi] (B, k) of the input
    ``input_id`` (default: the first input); other graph inputs are exact arrays
    in ``feeds``. Returns node id -> TM."""
    g = unfuse(graph)
    input_id = input_id or g.inputs[0].id
    feeds = feeds or {}
    x = TM.boxes(lo, hi)
    h = x.h
    T: dict[str, TM] = {}
    for n in g.nodes:
        if n.op == "input":
            if n.id == input_id:
                T[n.id] = x
            elif n.id in feeds:
                T[n.id] = TM.const(np.asarray(feeds[n.id], np.float64), h=h)
            else:
                raise GraphError(f"Taylor models: no value for the graph input '{n.id}'")
            continue
        if n.is_source:
            T[n.id] = TM.const(np.asarray(g.arrays[n.id], np.float64), h=h)
            continue
        ins = [T[i] for i in n.inputs]
        var = [p for p, t in enumerate(ins) if t.g is not None]
        op = get_op(n.op)
        if not var:
            T[n.id] = TM.const(*_iv_apply(n.op, *[t.interval() for t in ins], **n.attrs), h=h)
        elif op.elementwise:
            T[n.id] = _elementwise(n, ins)
        elif _affine_ok(n.op, var, len(ins)) and op.interval is not None:
            T[n.id] = _affine(n, ins, h)
        else:
            raise UnsupportedOp(n.op, "taylor", f"node '{n.id}' is neither elementwise nor affine in the input")
    return T
