"""The bounds view: per layer and per neuron, the intervals that IBP, CROWN and
alpha-CROWN give on one input region, drawn against the range of activations
at sampled inputs (how tight each method is), with unstable ReLUs (l < 0 < u)
counted and highlighted, and the spec margin's lower bounds.

The evidence stays apart: bounds from :mod:`certnn.bounds` are ``computed``
(their own ``evidence`` field), the sampled ranges are ``tested`` (an inner
estimate of the true range, never a bound), and only a lower bound that the
independent checker re-derived (passed as ``certified_lower``) is ``certified``.
"""

from __future__ import annotations

import re

import numpy as np

from ..bounds import LinearSpec, Region, compute_bounds
from ..ir.graph import Graph
from ..ir.interpret import evaluate
from .page import Evidence, Raw, View, esc, num, table

MAX_NEURONS = 1024     # neurons drawn per layer (the first ones, in index order)
METHODS = ("ibp", "crown", "alpha-crown")


def base_id(nid: str) -> str:
    """The fused graph's node id of an unfused node (``v2/pre0`` -> ``v2``)."""
    return re.sub(r"/pre\d+$", "", nid)


def relu_inputs(g: Graph) -> set:
    return {n.inputs[0] for n in g.nodes if n.op == "relu"}


def sample_activations(g: Graph, region: Region, nodes, spec: LinearSpec | None, count: int = 1000, seed: int = 0):
    """Per node the (min, max) over sampled inputs of the region's first example (half
    random vertices of the box, half uniform points, and the center), and the
    minimum of each spec row. A sample range is an *inner* estimate of the true range."""
    rng = np.random.default_rng(seed)
    lo, hi = region.lo[0], region.hi[0]
    half = count // 2
    corners = np.where(rng.random((half,) + lo.shape) < 0.5, lo, hi)
    uniform = lo + (hi - lo) * rng.random((count - half - 1,) + lo.shape)
    mid = ((lo + hi) / 2)[None] if region.center is None else region.center[:1]
    xs = np.concatenate([corners, uniform, mid])
    if region.norm in ("2", "1"):          # keep only points inside the ball
        d = (xs - region.center[:1]).reshape(len(xs), -1)
        r = np.linalg.norm(d, ord=2 if region.norm == "2" else 1, axis=1)
        xs = xs[r <= region.eps]
    (y,), values, _ = evaluate(g, {g.inputs[0].id: xs.astype(np.float64)},
                               {k: np.asarray(v, np.float64) for k, v in g.arrays.items()})
    rng_nodes = {nid: (values[nid].reshape(len(xs), -1).min(0), values[nid].reshape(len(xs), -1).max(0))
                 for nid in nodes}
    spec_min = None
    if spec is not None:
        rows = np.einsum("ko,so->sk", spec.C[0], y.reshape(len(xs), -1)) + spec.d[0]
        spec_min = rows.min(0)
    return rng_nodes, spec_min, len(xs)


def compare_methods(graph: Graph, region: Region, spec: LinearSpec | None = None, methods=METHODS,
                    samples: int = 1000, iters: int = 20, certified_lower=None, title: str = "Bounds",
                    anchor: str = "bounds") -> View:
    """Compute each method's bounds on the region's first example and build the view."""
    region = _first(region)
    spec = None if spec is None else LinearSpec(spec.C[:1], spec.d[:1], spec.groups, spec.kind)
    results = {}
    for m in methods:
        kw = {"iters": iters} if m == "alpha-crown" else {}
        results[m] = compute_bounds(graph, region, spec, method=m, **kw)
    g = next(iter(results.values())).graph
    nodes = sorted({k for b in results.values() for k in b.intermediate}, key=[n.id for n in g.nodes].index)
    sampled, spec_min, count = sample_activations(g, region, nodes, spec, samples)
    return bounds_view(results, g, sampled, spec_min, count, spec, certified_lower, region, title, anchor)


def _first(region: Region) -> Region:
    c = None if region.center is None else region.center[:1]
    return Region(region.lo[:1], region.hi[:1], region.norm, c, region.eps, region.domain)


def bounds_view(results: dict, graph: Graph, sampled: dict | None = None, spec_min=None, count: int = 0,
                spec: LinearSpec | None = None, certified_lower=None, region: Region | None = None,
                title: str = "Bounds", anchor: str = "bounds") -> View:
    """The view of bound results (``{method: Bounds}``, first example of each), with
    optional sampled ranges ``{node: (min, max)}`` and spec-row minima."""
    relu_in = relu_inputs(graph)
    order = [n.id for n in graph.nodes]
    nodes = sorted({k for b in results.values() for k in b.intermediate}, key=order.index)
    layers = []
    for nid in nodes:
        layer = {"node": nid, "link": base_id(nid), "relu": nid in relu_in, "methods": {}}
        for m, b in results.items():
            if nid in b.intermediate:
                lo, hi = (np.asarray(a[0], np.float64).reshape(-1)[:MAX_NEURONS] for a in b.intermediate[nid])
                layer["methods"][m] = {"lo": lo, "hi": hi}
        if sampled and nid in sampled:
            layer["sampled"] = {"lo": sampled[nid][0][:MAX_NEURONS], "hi": sampled[nid][1][:MAX_NEURONS]}
        layer["size"] = int(np.asarray(next(iter(results.values())).intermediate[nid][0][0]).size)
        layers.append(layer)
    out = {"node": "spec rows" if spec is not None else "outputs", "relu": False, "methods": {},
           "size": int(np.asarray(next(iter(results.values())).lb).shape[1])}
    for m, b in results.items():
        out["methods"][m] = {"lo": np.asarray(b.lb[0], np.float64),
                             "hi": None if b.ub is None else np.asarray(b.ub[0], np.float64)}
    if spec_min is not None:
        out["sampled"] = {"lo": spec_min, "hi": None}
    if certified_lower is not None:
        out["certified"] = np.asarray(certified_lower, np.float64).reshape(-1)
    data = {"layers": layers + [out], "methods": list(results), "samples": count,
            "spec": spec is not None}
    ev = [Evidence(f"{m} bounds", b.evidence, "float64 without rounding control" if b.evidence == "computed" else "",
                   tuple(b.assumptions)) for m, b in results.items()]
    if sampled:
        ev.append(Evidence(f"activation ranges at {count} sampled inputs", "tested",
                           "an inner estimate of each range: true activations can lie outside it, so it shows "
                           "tightness, never soundness"))
    if certified_lower is not None:
        ev.append(Evidence("spec lower bounds re-derived by the certificate checker", "certified"))
    return View(title, "bounds", _summary(layers, out, results, spec, region), data, ev,
                scripts=("bounds.js",), anchor=anchor)


def _summary(layers, out, results, spec, region) -> str:
    head = ["layer (pre-activation node)", "neurons"] + [f"unstable ({m})" for m in results] + \
        [f"mean width ({m})" for m in results] + ["mean sampled range"]
    rows = []
    for L in layers:
        r = [_link(L), L["size"]]
        r += [int(np.sum((v["lo"] < 0) & (v["hi"] > 0))) if L["relu"] else "-" for v in L["methods"].values()]
        r += [num(float(np.mean(v["hi"] - v["lo"])), 4) for v in L["methods"].values()]
        s = L.get("sampled")
        r.append(num(float(np.mean(s["hi"] - s["lo"])), 4) if s else "-")
        rows.append(r)
    where = ""
    if region is not None:
        where = (f"<p class=\"muted\">Region: {esc(region.norm)} {'box' if region.norm == 'box' else 'ball'}"
                 f"{'' if region.eps is None else f', eps {region.eps}'}, first example; "
                 f"{'spec rows C y + d' if spec is not None else 'network outputs'} in the last panel.</p>")
    margins = ""
    if spec is not None:
        mrows = [[m, num(float(np.min(v["lo"])))] for m, v in out["methods"].items()]
        if "sampled" in out:
            mrows.append(["sampled (tested, an upper estimate of the true minimum)", num(float(np.min(out["sampled"]["lo"])))])
        if "certified" in out:
            mrows.append(["checker (certified)", num(float(np.min(out["certified"])))])
        margins = "<h3>Spec margin: min over rows of the lower bound of C y + d (> 0: property holds)</h3>" + \
            table(["source", "margin"], mrows, "spec-margins")
    return where + table(head, rows, "bounds-summary") + margins


def _link(layer) -> Raw:
    return Raw(f'<a href="#graph" data-goto-node="{esc(layer["link"])}">{esc(layer["node"])}</a>')
