"""The independent checker of PINN box-partition certificates.

Given a certificate (:mod:`certnn.pinn.certificate`) and the model, re-derive
every claim, trusting none of the producer's numbers:

1. the problem is the built-in problem of that name and its canonical
   description hashes to the certificate's ``problem_hash``; the model's graph
   hashes to ``graph_hash``;
2. there is one region for the residual, whose root box is the problem's
   domain, and one per condition of the problem, whose root box is that
   condition's face (compared exactly);
3. per region, the leaves are rebuilt here from the root box and the split
   list (each split cuts a leaf in two at 0.5 lo + 0.5 hi of one coordinate,
   strictly inside): the two halves of a box cover it, so the leaves cover the
   root box. This is the coverage proof;
4. per leaf, the sound bound (:class:`certnn.pinn.residual.Residual`: Taylor
   models of the jet graph through the op table's outward-rounded interval
   rules) must be <= the leaf's claimed bound, and every claimed leaf bound
   <= the region's claim; a region passes when all leaves do;
5. an error claim (heat, Poisson) must be >= B + T R or B + R (b - a)^2 / 8
   recomputed here from the region claims, the theorem's conditions checked
   on the problem (:mod:`certnn.pinn.error`).

The checker does not import the producer (:mod:`certnn.pinn.certify`, the
branching) or training; the contract is in pyproject.toml. It shares with the
producer only the sound arithmetic (Taylor models, interval rules), the jet
graph construction and the problem registry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..ir.graph import Graph
from ..ir.serialize import graph_hash
from ..verify.partition import check_leaf_bounds
from . import certificate as pc
from .error import error_bound
from .problems import get_problem
from .residual import Residual

ASSUMES = ("ieee754-binary64-rn", "libm-float64-within-4ulp", "blas-float64-dot-gamma-n")
CHUNK = 2048


@dataclass
class PinnCheckResult:
    ok: bool
    reasons: list                      # one line per failed check
    regions: dict = field(default_factory=dict)   # name -> {"claim", "verified", "boxes", "max_sound"}
    error: dict | None = None
    assumptions: tuple = ()
    seconds: float = 0.0

    @property
    def evidence(self) -> str | None:
        return "certified" if self.ok else None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "evidence": self.evidence, "reasons": self.reasons, "regions": self.regions,
                "error": self.error, "assumptions": list(self.assumptions), "seconds": self.seconds}


def _check_region(r: pc.RegionCert, bound_fn, reasons: list) -> dict:
    why, boxes, max_sound = check_leaf_bounds(r.lo, r.hi, r.splits, r.bounds, r.claim, bound_fn, CHUNK)
    if why:
        reasons.append(f"region {r.name}: {why}")
    out = {"claim": r.claim, "verified": why is None, "boxes": boxes}
    return out if max_sound is None else {**out, "max_sound": max_sound}


def check_pinn_certificate(cert, graph: Graph | None = None) -> PinnCheckResult:
    """Check ``cert`` (a PinnCertificate or a path) against ``graph`` (default: the
    model the certificate names). Malformed files raise PinnCertificateError; a
    claim that does not follow gives ``ok`` False with reasons."""
    t0 = time.perf_counter()
    if not isinstance(cert, pc.PinnCertificate):
        cert = pc.load(cert)
    if graph is None:
        if cert.model is None:
            raise pc.PinnCertificateError(f"{cert.path}: names no model; pass the model")
        from ..interop.models import load_model
        graph = load_model(cert.model)
    reasons: list = []
    problem = get_problem(cert.problem)
    if pc.problem_hash(problem) != cert.problem_hash:
        reasons.append(f"the certificate is about another version of problem {problem.name} (problem hash differs)")
    if graph_hash(graph) != cert.graph_hash:
        reasons.append("the model's graph hash differs from the certificate's")
    if reasons:
        return PinnCheckResult(False, reasons, seconds=time.perf_counter() - t0)
    res = Residual(graph, problem, cert.inputs)
    want = {"residual": (np.array(problem.lo, float), np.array(problem.hi, float), res.bounds)}
    for c in problem.conditions:
        want[c.name] = (*problem.face(c), lambda lo, hi, c=c: res.condition_bounds(c, lo, hi))
    got = {r.name: r for r in cert.regions}
    if sorted(got) != sorted(want) or len(got) != len(cert.regions) or \
            any((r.kind == "residual") != (r.name == "residual") for r in cert.regions):
        reasons.append(f"regions {sorted(got)} do not match the problem's ({sorted(want)})")
        return PinnCheckResult(False, reasons, seconds=time.perf_counter() - t0)
    regions = {}
    for name, (lo, hi, fn) in want.items():
        r = got[name]
        if r.lo.shape != lo.shape or not (np.array_equal(r.lo, lo) and np.array_equal(r.hi, hi)):
            reasons.append(f"region {name}: root box [{r.lo.tolist()}, {r.hi.tolist()}] is not "
                           f"[{lo.tolist()}, {hi.tolist()}]")
            regions[name] = {"claim": r.claim, "verified": False}
            continue
        regions[name] = _check_region(r, fn, reasons)
    assumptions = set(ASSUMES)
    error = None
    if cert.error is not None or problem.error_theorem is not None:
        if cert.error is None:
            reasons.append("the certificate has no error claim")
        else:
            B = max(got[c.name].claim for c in problem.conditions)
            bound, theorem = error_bound(problem, got["residual"].claim, B)
            ok = cert.error["theorem"] == theorem and cert.error["bound"] >= bound
            if not ok:
                reasons.append(f"error claim {cert.error} does not follow: {theorem} gives {bound!r}")
            error = {"claim": cert.error["bound"], "derived": bound, "theorem": theorem, "verified": ok}
            assumptions.add(theorem)
    return PinnCheckResult(not reasons, reasons, regions, error, tuple(sorted(assumptions)),
                           time.perf_counter() - t0)
