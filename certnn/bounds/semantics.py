"""Which execution a bound is about.

* ``real``: the network in exact real arithmetic with its (binary32) weights.
* ``binary32``: the network as certnn executes it in binary32
  (``certnn.run(graph, x, "binary32")``, the documented sequential order), for
  every binary32 input in the region.
* ``binary32-any-order``: binary32 execution with *any* summation order (BLAS,
  onnxruntime, PyTorch CPU/GPU), via the gamma_n bound.

The float modes widen the real bounds of each spec row ``c.y + d`` by
``|c| . eps``, where ``eps`` bounds |y_binary32 - y_real| over the region's box
(:func:`certnn.error_budget.forward.error_budget`, sound interval arithmetic).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import CertnnError
from ..error_budget.forward import error_budget
from ..spec.region import Region
from .result import Bounds, no_nan
from ..spec.linear import LinearSpec

SEMANTICS = ("real", "binary32", "binary32-any-order")
ORDER = {"binary32": "sequential", "binary32-any-order": "any"}
ASSUMPTIONS = {   # what a claim in a float semantics says about the deployed network
    "semantics:binary32":
        "the network runs exactly as certnn.run(graph, x, 'binary32') computes it: every op in "
        "IEEE binary32 round-to-nearest, sums in certnn's documented sequential order, no FMA "
        "contraction (true of certnn's own executor; a claim about another runtime needs "
        "semantics:binary32-any-order)",
    "semantics:binary32-any-order":
        "the network runs every op in IEEE binary32 round-to-nearest with elementwise functions "
        "as certnn's binary32 rules define them, summing each reduction in some order (any order "
        "and association: BLAS, onnxruntime, PyTorch CPU/GPU)",
}


SCOPE = {"binary32": "semantics:binary32", "binary32-any-order": "semantics:binary32-any-order"}


def check_semantics(semantics: str) -> str:
    if semantics not in SEMANTICS:
        raise CertnnError(f"unknown semantics {semantics!r}; use one of {', '.join(SEMANTICS)}")
    return semantics


def float_error(graph, region: Region, semantics: str) -> np.ndarray | None:
    """Per example and output, a bound on |binary32 output - real output| over
    the region (None for real semantics)."""
    if check_semantics(semantics) == "real":
        return None
    eb = error_budget(graph, region.lo, region.hi, order=ORDER[semantics])
    return np.broadcast_to(eb.bound, eb.lo.shape).reshape(region.n, -1)


def widen(bounds: Bounds, graph, region: Region, spec: LinearSpec | None, semantics: str) -> Bounds:
    """The bounds for ``semantics``: real bounds widened by the float error."""
    eps = float_error(graph, region, semantics)
    if eps is None:
        return bounds
    w = eps if spec is None else np.einsum("nko,no->nk", np.abs(spec.C), eps)
    lb, ub = no_nan(bounds.lb - w, np.inf if bounds.ub is None else bounds.ub + w)
    from ..error_budget.forward import ASSUMPTIONS as BUDGET
    return replace(bounds, lb=lb, ub=None if bounds.ub is None else ub,
                   assumptions=tuple(bounds.assumptions) + tuple(BUDGET) + (SCOPE[semantics],))
