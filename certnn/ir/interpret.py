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


def backward(graph: Graph, values: dict, chains: dict, seeds: dict[str, np.ndarray],
             sources: set[str]) -> dict[str, np.ndarray]:
    """Reverse sweep. ``seeds`` are output cotangents; returns the cotangents of
    the ``sources`` (graph inputs or params) that received any."""
    need = requires_grad(graph, sources)
    cts: dict[str, np.ndarray] = {}
    for k, g in seeds.items():
        cts[k] = g if k not in cts else cts[k] + g
    grads: dict[str, np.ndarray] = {}
    for n in reversed(graph.nodes):
        if n.id not in need:
            continue
        g = cts.pop(n.id, None)
        if g is None:
            continue
        if n.is_source:
            grads[n.id] = g
            continue
        if n.post:
            chain = chains[n.id]
            for k in range(len(n.post) - 1, -1, -1):
                op, a = n.post[k]
                (g,) = get_op(op).vjp(g, chain[k + 1], chain[k], **a)
                g = np.asarray(g, dtype=chain[k].dtype)
            out = chain[0]
        else:
            out = values[n.id]
        op = get_op(n.op)
        extra = {}
        if op.vjp_needs:  # the same skipping as the eager sweep
            extra["needs"] = tuple(i in need and op.is_differentiable(pos) for pos, i in enumerate(n.inputs))
        in_cts = op.vjp(g, out, *[values[i] for i in n.inputs], **n.attrs, **extra)
        for pos, (i, c) in enumerate(zip(n.inputs, in_cts)):
            if c is not None and i in need and op.is_differentiable(pos):
                x = values[i]
                c = unbroadcast(np.asarray(c, dtype=x.dtype), x.shape)
                cts[i] = c if i not in cts else cts[i] + c
    return grads
