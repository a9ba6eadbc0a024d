"""The independent checker of approximation certificates.

Given the certificate and the network: the expression is read back with the
restricted parser and the box checked; the network's graph must hash to the
certificate's; the leaves are rebuilt from the box and the split list
(:func:`certnn.verify.partition.leaves`, the coverage proof); every leaf's
sound bound of sup |N - f| (:func:`certnn.approx.error.sup_error`) must be <=
its claimed bound, every claimed bound <= the claim, and the claim <= delta.
It does not import the producer (:mod:`certnn.approx.certify`) or the
constructions (contract in pyproject.toml).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


from ..ir.graph import Graph
from ..ir.serialize import graph_hash
from ..verify.partition import check_leaf_bounds
from . import certificate as ac
from .error import check_model, sup_error
from .target import Target

ASSUMES = ("ieee754-binary64-rn", "libm-float64-within-4ulp", "blas-float64-dot-gamma-n")
CHUNK = 4096


@dataclass
class ApproxCheckResult:
    ok: bool
    reasons: list
    claim: float
    boxes: int = 0
    max_sound: float | None = None   # None when the leaves could not be rebuilt
    assumptions: tuple = ASSUMES
    seconds: float = 0.0

    @property
    def evidence(self):
        return "certified" if self.ok else None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "evidence": self.evidence, "reasons": self.reasons, "claim": self.claim,
                "boxes": self.boxes, "max_sound": self.max_sound, "assumptions": list(self.assumptions),
                "seconds": self.seconds}


def check_approx_certificate(cert, graph: Graph | None = None) -> ApproxCheckResult:
    t0 = time.perf_counter()
    if not isinstance(cert, ac.ApproxCertificate):
        cert = ac.load(cert)
    if graph is None:
        if cert.model is None:
            raise ac.ApproxCertificateError(f"{cert.path}: names no model; pass the model")
        from ..interop.models import load_model
        graph = load_model(cert.model)
    target = Target.parse(cert.expression, (cert.lo, cert.hi))
    check_model(graph, target)
    reasons = []
    if graph_hash(graph) != cert.graph_hash:
        reasons.append("the network's graph hash differs from the certificate's")
    if not cert.claim <= cert.delta:
        reasons.append(f"the claim {cert.claim!r} exceeds delta {cert.delta!r}")
    if reasons:
        return ApproxCheckResult(False, reasons, cert.claim, seconds=time.perf_counter() - t0)
    why, boxes, max_sound = check_leaf_bounds(target.lo, target.hi, cert.splits, cert.bounds, cert.claim,
                                              lambda lo, hi: sup_error(graph, target, lo, hi), CHUNK)
    reasons = [why] if why else []
    return ApproxCheckResult(not reasons, reasons, cert.claim, boxes, max_sound, ASSUMES, time.perf_counter() - t0)
