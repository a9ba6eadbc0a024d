"""``certnn float error-budget``: the error-budget table for a checkpoint over
boxes around MNIST test images, with the error measured at the images."""

from __future__ import annotations

import json
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from ..interop.models import load_model
from .forward import error_budget


def measure(graph, x: np.ndarray) -> np.ndarray:
    """|binary32 - real| at the points x, with the real semantics evaluated in
    float64 (its own error, about 1e-16 relative, is far below binary32's)."""
    from ..ir.run import run
    y32 = run(graph, x.astype(np.float32), semantics="binary32").astype(np.float64)
    y64 = run(graph, x.astype(np.float64), semantics="real")
    return np.abs(y32 - y64)


def measure_nodes(graph, x: np.ndarray, chunk: int = 500) -> dict:
    """Per computed node, the largest |binary32 - real| at the points x (what
    :func:`measure` does for the outputs, for every node's value)."""
    from ..ir.graph import Graph
    from ..ir.run import run
    ids = [n.id for n in graph.nodes if not n.is_source]
    every = Graph(graph.nodes, ids, graph.arrays)
    worst = dict.fromkeys(ids, 0.0)
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        y32 = run(every, xb.astype(np.float32), semantics="binary32")
        y64 = run(every, xb.astype(np.float64), semantics="real")
        if len(ids) == 1:
            y32, y64 = [y32], [y64]
        for nid, a, b in zip(ids, y32, y64):
            worst[nid] = max(worst[nid], float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0)))
    return worst


def budget_for_images(graph, x: np.ndarray, eps: float = 0.0, order: str = "sequential", chunk: int = 500):
    bounds, measured = [], []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk].astype(np.float64)
        lo, hi = np.clip(xb - eps, 0, 1), np.clip(xb + eps, 0, 1)
        b = error_budget(graph, lo, hi, order=order)
        bounds.append((b.bound, b.nodes))
        measured.append(measure(graph, x[i:i + chunk]))
    bound = np.concatenate([b for b, _ in bounds])
    nodes = [(nid, op, max(rows[k][2] for _, rows in bounds)) for k, (nid, op, _) in enumerate(bounds[0][1])]
    return bound, np.concatenate(measured), nodes


def grad_rows(graph, x, labels, eps=0.0, order="sequential") -> list[dict]:
    """Gradient budget of the mean cross-entropy over the batch x (one box of
    radius eps, clipped to [0, 1]) and the error measured at x, per source."""
    from .gradient import backward_binary32, backward_real, grad_budget
    xb = x.astype(np.float64)
    lo, hi = np.clip(xb - eps, 0, 1), np.clip(xb + eps, 0, 1)
    t = np.asarray(labels, np.int64)
    b = grad_budget(graph, lo, hi, loss="cross_entropy", target=t, order=order)
    kernel_order = "sequential" if order == "sequential" else "pairwise"
    g32 = backward_binary32(graph, x.astype(np.float32), loss="cross_entropy", target=t, order=kernel_order)
    gr = backward_real(graph, x.astype(np.float32), loss="cross_entropy", target=t)
    rows = []
    for k, bound in b.bound.items():
        d = np.abs(g32[k].astype(np.float64) - gr[k])
        rows.append({"source": k, "max_bound": float(bound.max()), "max_measured": float(d.max()),
                     "ratio": float(bound.max() / d.max()) if d.max() > 0 else None,
                     "holds": bool(np.all(d <= bound))})
    return rows


def budget_summary(graph, x: np.ndarray, eps: float = 0.0, order: str = "sequential") -> dict:
    """The error budget over boxes around the images ``x`` and the error measured at
    them, overall and per node: the JSON of ``certnn float error-budget --json`` (and
    of a run folder's error-budget.json)."""
    t0 = time.perf_counter()
    bound, measured, nodes = budget_for_images(graph, x, eps, order)
    seconds = time.perf_counter() - t0
    worst_measured = float(measured.max())
    per_node = measure_nodes(graph, x)
    return {"format": "certnn-error-budget", "version": 1, "images": int(len(x)), "eps": eps, "order": order,
            "max_bound": float(bound.max()), "max_measured_at_images": worst_measured,
            "ratio_max_bound_to_max_measured": float(bound.max() / worst_measured) if worst_measured else None,
            "median_elementwise_ratio": float(np.median(bound[measured > 0] / measured[measured > 0]))
            if np.any(measured > 0) else None,
            "bound_holds_at_images": bool(np.all(measured <= bound)),
            "seconds": seconds, "evidence": "checked",
            "assumptions": ["hardware-float32-elementwise-ieee", "ieee754-binary64-rn"],
            "nodes": [{"node": n, "op": op, "max_bound": b, "max_measured": per_node[n]} for n, op, b in nodes]}


def error_budget_report(checkpoint, eps=0.0, count=100, order="sequential", data=None, as_json=False,
                        grad=False) -> dict:
    from ..data.mnist import mnist_arrays
    graph = load_model(checkpoint)
    x, labels = mnist_arrays(graph.inputs[0].shape[1:], data, "test")
    x, labels = x[:count], labels[:count]
    res = {"checkpoint": str(checkpoint)} | budget_summary(graph, x, eps, order)
    nodes = [(n["node"], n["op"], n["max_bound"]) for n in res["nodes"]]
    worst_measured, seconds = res["max_measured_at_images"], res["seconds"]
    if grad:
        res["gradient"] = grad_rows(graph, x, labels, eps, order)
    if as_json:
        print(json.dumps(res))
        return res
    con = Console()
    t = Table(title=f"binary32 vs real error budget ({len(x)} test images, eps={eps}, order={order})")
    for c in ("node", "op", "max |binary32 - real| bound"):
        t.add_column(c)
    for n, op, b in nodes:
        t.add_row(n, op, f"{b:.3e}")
    con.print(t)
    con.print(f"output: bound {res['max_bound']:.3e}, measured at the images {worst_measured:.3e} "
              f"(ratio {res['ratio_max_bound_to_max_measured'] or float('nan'):.1f}); "
              f"bound holds at every image: {res['bound_holds_at_images']}; {seconds:.2f} s")
    con.print("evidence: checked (sound outward-rounded arithmetic); assumptions: "
              + ", ".join(res["assumptions"]))
    if grad:
        t = Table(title=f"gradient of the mean cross-entropy over the {len(x)} images: binary32 backward vs real")
        for c in ("source", "max bound", "max measured", "ratio", "holds"):
            t.add_column(c)
        for r in res["gradient"]:
            t.add_row(r["source"], f"{r['max_bound']:.3e}", f"{r['max_measured']:.3e}",
                      f"{r['ratio']:.1f}" if r["ratio"] else "-", str(r["holds"]))
        con.print(t)
    return res
