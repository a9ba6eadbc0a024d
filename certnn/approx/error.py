"""Sound bounds of sup |N - f| over boxes, shared by the producer
(:mod:`certnn.approx.certify`) and the independent checker
(:mod:`certnn.approx.checker`).

N is bounded by Taylor-model bound propagation through its graph
(:mod:`certnn.bounds.taylor`: exact on boxes where every ReLU is stable, the
interval image where one switches), f by the Taylor model of its sympy
expression (:func:`certnn.floats.taylor.sympy_tm`, outward rounded); their
difference keeps the common linear part, so the bound on a box is
|c| + sum_j |g_j| h_j + r of N - f.
"""

from __future__ import annotations

import numpy as np

from ..bounds.taylor import taylor_models
from ..errors import CertnnError
from ..floats import taylor as tm
from ..ir.graph import Graph
from .target import Target


def check_model(graph: Graph, target: Target) -> None:
    x = graph.inputs
    if len(x) != 1 or tuple(x[0].shape[1:]) != (target.dim,) or len(graph.outputs) != 1:
        raise CertnnError(f"the network must map (N, {target.dim}) inputs to one output; its input shapes are "
                          f"{[n.shape for n in x]}")


def sup_error(graph: Graph, target: Target, lo: np.ndarray, hi: np.ndarray):
    """(bounds, scores): per box an upper bound of sup |N - f| and the split scores."""
    T = taylor_models(graph, lo, hi)
    x = T[graph.inputs[0].id]
    n = tm.column(T[graph.outputs[0]], 0) if T[graph.outputs[0]].c.ndim == 2 else T[graph.outputs[0]]
    env = {s: tm.column(x, i) for i, s in enumerate(target.symbols)}
    e = tm.add(n, tm.sympy_tm(target.expr, env, x.h), -1.0)
    return e.abs_bound(), tm.split_scores(e)


def measured_error(graph: Graph, target: Target, per_axis: int | None = None) -> float:
    """max |N - f| on a grid (tested, not a bound): 200001 points in 1-D, 801^2, 101^3."""
    from ..ir.interpret import evaluate
    n = per_axis or {1: 200001, 2: 801, 3: 101}[target.dim]
    axes = [np.linspace(a, b, n) for a, b in zip(target.lo, target.hi)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, target.dim)
    xid = graph.inputs[0].id
    worst = 0.0
    for a in range(0, len(pts), 100000):
        p = pts[a:a + 100000]
        (y,), _, _ = evaluate(graph, {xid: p.astype(graph.inputs[0].dtype)})
        worst = max(worst, float(np.max(np.abs(np.asarray(y, float).reshape(-1) - target(p)))))
    return worst
