"""The graph IR view: every node with its op, shape and dtype, laid out as a
layered DAG (:mod:`.layout`); pan/zoom, search by name or op, and a side panel
with the node's attributes, the statistics of its arrays and its op's entry in
the op table (:mod:`.ops_info`). The page draws the graph it is given; the only
evidence it states is what the op table's conformance suite checks."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ir.interpret import evaluate
from ..ir.serialize import graph_hash
from ..ops._common import fmt
from .layout import NODE_H, NODE_W, layered
from .ops_info import op_info
from .page import Evidence, View, esc, stats


def _shape(shape) -> str:
    return fmt(tuple(shape))


def graph_data(g: Graph, sample=None) -> dict:
    """The JSON the graph renderer reads: nodes (in topological order) with their
    inputs as indices and centre coordinates, array statistics, the statistics of
    each node's value at the ``sample`` inputs (when given), and one op-table entry
    per op used."""
    values = {}
    if sample is not None:
        _, values, _ = evaluate(g, {g.inputs[0].id: np.asarray(sample)})
    index = {n.id: k for k, n in enumerate(g.nodes)}
    ins = [[index[i] for i in n.inputs] for n in g.nodes]
    pos = layered(len(g.nodes), ins, [n.is_source for n in g.nodes], [n.op == "input" for n in g.nodes])
    outputs = set(g.outputs)
    nodes = []
    for k, n in enumerate(g.nodes):
        d = {"id": n.id, "op": n.op, "shape": _shape(n.shape), "dtype": n.dtype, "in": ins[k],
             "x": round(pos[k][0], 1), "y": round(pos[k][1], 1)}
        if n.attrs:
            d["attrs"] = {a: repr(v) for a, v in n.attrs.items()}
        if n.post:
            d["post"] = [op for op, _ in n.post]
        if n.id in g.arrays:
            d["stats"] = stats(g.arrays[n.id])
        elif n.id in values:
            d["values"] = stats(values[n.id])
        if n.id in outputs:
            d["output"] = True
        nodes.append(d)
    ops = sorted(g.ops_used())
    return {"nodes": nodes, "ops": {o: op_info(o) for o in ops}, "hash": graph_hash(g),
            "node_w": NODE_W, "node_h": NODE_H}


def graph_view(g: Graph, title: str = "Graph IR", anchor: str = "graph", sample=None) -> View:
    """The view of ``g``; with ``sample`` (a batch of inputs) each node's panel also shows
    the statistics of its value on that batch (the execution trace, real semantics)."""
    n_ops = sum(1 for n in g.nodes if not n.is_source)
    params = sum(int(g.arrays[n.id].size) for n in g.params)
    intro = (f'<p class="muted">{len(g.nodes)} nodes ({n_ops} ops, {len(g.params)} parameters, '
             f'{params:,} parameter values), outputs {esc(", ".join(g.outputs))}. '
             "Scroll to zoom, drag to pan, click a node for its attributes, arrays and op rules.</p>")
    ev = [Evidence("graph structure, shapes and array statistics", "computed",
                   "read from the graph as given (its SHA-256 names it in certificates)"),
          Evidence("op rules: conformance evidence per rule (side panel)", "tested",
                   "the op table's conformance suite; the panel cites each test, the page does not run them")]
    if sample is not None:
        ev.append(Evidence(f"node values at {len(sample)} sample input(s)", "computed",
                           "one evaluation in real (float64) semantics, for inspection"))
    return View(title, "graph", intro, graph_data(g, sample), ev, scripts=("graph.js",), anchor=anchor)
