"""Interpreters over the graph that ask each node's op for one rule:
``evaluate`` (the ``real`` rule, in the dtype of the arrays given) and
``backward`` (the ``vjp`` rule). They accumulate cotangents in exactly the
order the eager tape does (reverse node order, inputs left to right), so a
compiled model's forward and backward equal eager mode bit for bit."""

from __future__ import annotations

import numpy as np

from ..errors import GraphError, ShapeError
from ..ops import get_op
from ..ops._common import fmt, unbroadcast
from .graph import Graph


def check_feed(graph: Graph, feeds: dict[str, np.ndarray]) -> None:
    for n in graph.inputs:
        if n.id not in feeds:
            raise GraphError(f"missing graph input '{n.id}'")
        x = feeds[n.id]
        want = n.shape
        if x.ndim != len(want) or any(w is not None and w != d for w, d in zip(want, x.shape)):
            raise ShapeError(f"graph input '{n.id}' expects shape {fmt(want)}, got {fmt(x.shape)}")


def evaluate(graph: Graph, feeds: dict[str, np.ndarray], arrays: dict[str, np.ndarray] | None = None,
             keep_chains: bool = False):
    """Run the graph. Returns ``(outputs, values, chains)``: ``values`` maps node id
    to its value; ``chains`` (when asked) maps a fused node to the values before
    each epilogue op, which ``backward`` needs."""
    check_feed(graph, feeds)
    arrays = graph.arrays if arrays is None else arrays
    values: dict[str, np.ndarray] = {}
    chains: dict[str, list[np.ndarray]] = {}
    for n in graph.nodes:
        if n.op == "input":
            values[n.id] = feeds[n.id]
            continue
        if n.is_source:
            values[n.id] = arrays[n.id]
            continue
        y = get_op(n.op).real(*[values[i] for i in n.inputs], **n.attrs)
        if n.post:
            chain = [y]
            for op, a in n.post:
                y = get_op(op).real(y, **a)
                chain.append(y)
            if keep_chains:
                chains[n.id] = chain
        values[n.id] = y
    return [values[o] for o in graph.outputs], values, chains


def requires_grad(graph: Graph, sources: set[str]) -> set[str]:
    """Node ids whose value depends on one of the differentiable ``sources``."""
    need = set(sources)
    for n in graph.nodes:
        if not n.is_source and any(i in need for i in n.inputs):
            need.add(n.id)
    return need


def backward_plan(graph: Graph, sources) -> list[tuple]:
    """The reverse sweep's steps for these ``sources``, resolved once (a compiled
    module reuses them every call): per node that depends on a source, in reverse
    order, (id, is_source, post, op, inputs, attrs, extra vjp kwargs, and per input
    whether its cotangent is kept)."""
    need = requires_grad(graph, set(sources))
    plan = []
    for n in reversed(graph.nodes):
        if n.id not in need:
            continue
        if n.is_source:
            plan.append((n.id, True, None, None, None, None, None, None))
            continue
        op = get_op(n.op)
        keep = tuple(i in need and op.is_differentiable(pos) for pos, i in enumerate(n.inputs))
        extra = {"needs": keep} if op.vjp_needs else {}       # the same skipping as the eager sweep
        plan.append((n.id, False, [(get_op(o), a) for o, a in n.post], op, n.inputs, n.attrs, extra, keep))
    return plan


def backward(graph: Graph, values: dict, chains: dict, seeds: dict[str, np.ndarray],
             sources: set[str], plan: list | None = None) -> dict[str, np.ndarray]:
    """Reverse sweep. ``seeds`` are output cotangents; returns the cotangents of
    the ``sources`` (graph inputs or params) that received any. ``plan`` is
    :func:`backward_plan` of these sources (computed here when not given)."""
    cts: dict[str, np.ndarray] = {}
    for k, g in seeds.items():
        cts[k] = g if k not in cts else cts[k] + g
    grads: dict[str, np.ndarray] = {}
    for nid, is_source, post, op, inputs, attrs, extra, keep in plan or backward_plan(graph, sources):
        g = cts.pop(nid, None)
        if g is None:
            continue
        if is_source:
            grads[nid] = g
            continue
        if post:
            chain = chains[nid]
            for k in range(len(post) - 1, -1, -1):
                pop, a = post[k]
                (g,) = pop.vjp(g, chain[k + 1], chain[k], **a)
                g = np.asarray(g, dtype=chain[k].dtype)
            out = chain[0]
        else:
            out = values[nid]
        in_cts = op.vjp(g, out, *[values[i] for i in inputs], **attrs, **extra)
        for i, c, k in zip(inputs, in_cts, keep):
            if c is not None and k:
                x = values[i]
                c = unbroadcast(np.asarray(c, dtype=x.dtype), x.shape)
                cts[i] = c if i not in cts else cts[i] + c
    return grads
