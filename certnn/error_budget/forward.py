"""The ``error_budget`` interpreter: for a graph and an input box, a sound
bound eps (per output element) with |f_binary32(x) - f_real(x)| <= eps for
every x in the box, composed node by node from each op's ``interval`` rule
(an enclosure of the real values) and ``error`` rule (how the op's binary32
kernel, in certnn's documented order, adds to and propagates the error).

Semantics compared: ``f_real`` is the network in exact real arithmetic with the
graph's (binary32) weights; ``f_binary32`` is ``certnn.run(graph, x,
"binary32")``. With ``inputs_binary32=True`` (default) the inputs are taken to
be binary32 numbers fed to both (as images scaled to float32 are); otherwise
the rounding of the real input to binary32 is charged too.

``order="any"`` gives a bound valid for every summation order (BLAS,
onnxruntime, GPUs): the gamma_n bound instead of the running bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import CertnnError, UnsupportedOp
from ..ir.graph import Graph
from ..ops import get_op
from ..floats import interval as iv
from ..floats.error_bounds import ETA32, U32

ASSUMPTIONS = ("hardware-float32-elementwise-ieee", "ieee754-binary64-rn")
# the rounding lemma behind u = 2^-24, eta = 2^-150 (certnn prove rounding/*)
THEOREMS_USED = ("rounding/binary32-binade-structure", "rounding/binary32-sum", "rounding/binary32-nearest")


@dataclass
class ErrorBudget:
    bound: np.ndarray          # per output element: |binary32 - real| <= bound
    lo: np.ndarray             # enclosure of the real output
    hi: np.ndarray
    nodes: list = field(default_factory=list)  # (node id, op, max error bound at that node)
    order: str = "sequential"
    seconds: float = 0.0
    evidence: str = "checked"  # sound arithmetic in-process, resting on the assumptions below
    assumptions: tuple = ASSUMPTIONS
    theorems: tuple = THEOREMS_USED


def _float32_error(a: np.ndarray) -> np.ndarray:
    """|fl32(a) - a| for float64 data (0 where a is already binary32)."""
    a = np.asarray(a, np.float64)
    return np.abs(a.astype(np.float32).astype(np.float64) - a)


def missing(graph: Graph) -> list[str]:
    ops = graph.ops_used()
    return sorted(o for o in ops if get_op(o).interval is None or get_op(o).error is None)


def error_budget(graph: Graph, lo, hi, order: str = "sequential", inputs_binary32: bool = True) -> ErrorBudget:
    if order not in ("sequential", "any"):
        raise CertnnError(f"order must be 'sequential' or 'any', got {order!r}")
    gaps = missing(graph)
    if gaps:
        raise UnsupportedOp(", ".join(gaps), "interval/error",
                            "the error budget needs both rules for every op in the graph")
    t0 = time.perf_counter()
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    iv.check(lo, hi, "input box")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise iv.IntervalError("input box: infinite bounds; an error budget needs a bounded box")
    L, H, E = {}, {}, {}
    rows = []
    for n in graph.nodes:
        if n.op == "input":
            L[n.id], H[n.id] = lo, hi
            E[n.id] = np.zeros_like(lo) if inputs_binary32 else U32 * np.maximum(np.abs(lo), np.abs(hi)) + ETA32
            continue
        if n.is_source:
            a = np.asarray(graph.arrays[n.id], np.float64)
            L[n.id] = H[n.id] = a
            E[n.id] = _float32_error(a)
            continue
        los, his, errs = [L[i] for i in n.inputs], [H[i] for i in n.inputs], [E[i] for i in n.inputs]
        for op_name, attrs in ((n.op, n.attrs),) + tuple(n.post):
            op = get_op(op_name)
            ol, oh = op.interval(los, his, **attrs)
            # an earlier infinite bound may meet a zero here (inf * 0): the rules' finish()
            # turns the NaN into inf, which is always sound
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                e = op.error(los, his, errs, ol, oh, order=order, **attrs)
            los, his, errs = [ol], [oh], [np.broadcast_to(e, ol.shape)]
        L[n.id], H[n.id], E[n.id] = los[0], his[0], errs[0]
        rows.append((n.id, " + ".join([n.op] + [p for p, _ in n.post]), float(np.max(errs[0], initial=0.0))))
    out = graph.outputs[0]
    return ErrorBudget(bound=np.asarray(E[out]), lo=L[out], hi=H[out], nodes=rows, order=order,
                       seconds=time.perf_counter() - t0)
