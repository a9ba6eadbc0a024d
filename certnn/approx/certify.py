"""Build a ReLU network for a target and certify sup |N - f| <= delta.

``approximate`` runs a construction (:mod:`certnn.approx.constructions`),
then adaptive branching over the box (:mod:`certnn.bounds.branching`) with
sound bounds of sup |N - f| per box (:func:`certnn.approx.error.sup_error`)
until every box is within the target (delta, or a little above the measured
grid error when that is lower, so the certified number is close to the
true one) or the time budget is spent. The box partition is written as a
certificate and re-derived by :mod:`certnn.approx.checker`; the result says
``certified`` only when the checker accepts a claim <= delta. For the Baader
construction ``ibp_check`` also tests the interval property on random boxes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..bounds.branching import BoxTree, branch
from ..errors import CertnnError
from ..ir.graph import Graph
from ..ir.serialize import graph_hash
from ..ir.trace import trace
from . import certificate as ac
from .constructions import CONSTRUCTIONS
from .error import check_model, measured_error, sup_error
from .target import Target

ASSUMES = ("ieee754-binary64-rn", "libm-float64-within-4ulp", "blas-float64-dot-gamma-n")


def certify_network(graph: Graph, target: Target, delta: float, budget: float = 120.0, tol: float = 0.05,
                    batch: int = 2048, cert_path=None, model_path=None, progress=None) -> dict:
    """Certify sup over the box of |N - f| for the network ``graph``."""
    check_model(graph, target)
    t0 = time.perf_counter()
    measured = measured_error(graph, target)
    goal = min(delta, (1 + tol) * measured) / (1 + 1e-8)
    tree = BoxTree(target.lo, target.hi, lambda lo, hi: sup_error(graph, target, lo, hi), batch)
    branch(tree, goal, t0 + budget, batch, 5_000_000, progress)
    splits, claims = tree.claims()
    claim = float(claims.max())
    out = {"certified_error": claim, "delta": delta, "measured_error": measured, "boxes": int(tree.leaf.sum()),
           "within_delta": claim <= delta, "evidence": "checked" if claim <= delta else None,
           "assumptions": list(ASSUMES), "certify_seconds": time.perf_counter() - t0}
    if cert_path is not None and claim <= delta:
        cert = ac.ApproxCertificate(str(target.expr), target.lo, target.hi, delta, claim, graph_hash(graph),
                                    splits, claims, None if model_path is None else str(model_path),
                                    {"tool": "certnn approx", "budget": budget})
        path = ac.save(cert, cert_path)
        from .checker import check_approx_certificate
        chk = check_approx_certificate(path, graph)
        out.update(certificate=str(path), check=chk.to_dict())
        if chk.ok:
            out["evidence"] = "certified"
    return out


def ibp_check(graph: Graph, target: Target, delta: float, boxes: int = 200, seed: int = 0) -> dict:
    """Baader et al.'s property on random sub-boxes B: interval bound propagation
    of N over B (certnn.bounds.ibp, outward rounded) lies within delta of f's
    range [l, u] on B at both ends: l - delta <= IBP_lo <= l + delta and
    u - delta <= IBP_hi <= u + delta. l and u are enclosed soundly (interval
    evaluation on a 16^d subdivision of B from outside, 21^d sampled points
    from inside), and each end is checked against the side of the enclosure
    that makes the check conservative."""
    from ..bounds.ibp import ibp
    from ..spec.region import Region
    rng = np.random.default_rng(seed)
    d = target.dim
    a = rng.uniform(target.lo, target.hi, size=(boxes, d))
    b = rng.uniform(target.lo, target.hi, size=(boxes, d))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    small = rng.uniform(size=boxes) < 0.5                    # half of them small boxes
    hi = np.where(small[:, None], lo + (hi - lo) * rng.uniform(0.0, 0.1, size=(boxes, 1)), hi)
    res = ibp(graph, Region.box(lo, hi))
    n_lo, n_hi = res.lb[:, 0], res.ub[:, 0]
    ok = np.zeros(boxes, bool)
    margin = np.zeros(boxes)
    for i in range(boxes):
        sub = Target(target.expr, target.symbols, lo[i], hi[i])
        flo, fhi = sub.interval(*sub.cells(16 if d < 3 else 6))
        l_out, u_out = float(flo.min()), float(fhi.max())            # l >= l_out, u <= u_out
        axes = [np.linspace(p, q, 21) for p, q in zip(lo[i], hi[i])]
        vals = sub(np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d))
        l_in, u_in = float(vals.min()), float(vals.max())              # l <= l_in, u >= u_in
        gaps = [n_lo[i] - (l_in - delta), (l_out + delta) - n_lo[i], n_hi[i] - (u_out - delta),
                (u_in + delta) - n_hi[i]]
        margin[i] = min(gaps)
        ok[i] = margin[i] >= 0
    return {"boxes": boxes, "passed": int(ok.sum()), "worst_margin": float(margin.min()), "evidence": "tested",
            "statement": "l - delta <= IBP_lo <= l + delta and u - delta <= IBP_hi <= u + delta on each box"}


def approximate(target: Target, delta: float, construction: str = "interpolation", budget: float = 120.0,
                out=None, onnx=None, progress=None, ibp_boxes: int = 200) -> dict:
    """Build, certify, save. Returns the result (JSON-able)."""
    if construction not in CONSTRUCTIONS:
        raise CertnnError(f"unknown construction {construction!r}; known: {', '.join(CONSTRUCTIONS)}")
    if not delta > 0:
        raise CertnnError(f"--delta must be > 0, got {delta}")
    t0 = time.perf_counter()
    c = CONSTRUCTIONS[construction](target, delta)
    graph, _ = trace(c.model, np.zeros((1, target.dim)))
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        from ..interop.checkpoint import save_checkpoint
        save_checkpoint(out_dir, c.model, {"arch": "approx", "construction": c.name}, graph,
                        info={"expression": str(target.expr), "lo": target.lo.tolist(), "hi": target.hi.tolist(),
                              "delta": delta})
    res = certify_network(graph, target, delta, budget, cert_path=None if out_dir is None else
                          out_dir / "certificate.json", model_path=out_dir, progress=progress)
    result = {"expression": str(target.expr), "box": [target.lo.tolist(), target.hi.tolist()],
              "construction": c.name, "neurons": c.neurons, "parameters": int(sum(p.data.size for p in
                                                                                  c.model.parameters())),
              **res, "info": c.info, "seconds": time.perf_counter() - t0}
    if construction == "baader":
        result["ibp_check"] = ibp_check(graph, target, delta, ibp_boxes)
    if out_dir is not None:
        result["checkpoint"] = str(out_dir)
    if onnx is not None:
        from ..interop.onnx_export import save_onnx
        save_onnx(graph, onnx)
        result["onnx"] = str(onnx)
    return result
