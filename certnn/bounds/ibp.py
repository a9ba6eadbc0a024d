"""Interval bound propagation: the op table's ``interval`` rules (outward
rounded, see :mod:`certnn.floats.interval`) walked over the graph.

For an L2/L1 ball, nodes that are affine functions of the input are bounded by
the dual norm of their Jacobian rows (``prefix_bounds``), intersected with the
box result: the ball is much smaller than its bounding box. auto_LiRPA does the
same with the norm of a whole convolution kernel, which ignores that border
outputs see fewer inputs (zero padding); ``lirpa_compat=True`` reproduces that
(per channel, the largest row norm), for comparisons; the default is tighter.
"""

from __future__ import annotations

import time

import numpy as np

from ..ops import get_op
from .net import Net, analyze, check_region, prefix_bounds
from ..spec.region import Region
from .result import Bounds, no_nan
from ..spec.linear import LinearSpec


def node_bounds(net: Net, region: Region, until: str | None = None, known: dict | None = None,
                lirpa_compat: bool = False) -> dict:
    """IBP bounds (lo, hi), each (N, *shape), for every variable node up to ``until``.
    ``known`` bounds (e.g. from CROWN) replace IBP's where given."""
    L = {net.input: (region.lo, region.hi)}
    for nid in net.order[1:]:
        if known and nid in known:
            L[nid] = known[nid]
        else:
            n = net.nodes[nid]
            los = [L[i][0] if i in net.var else net.const(i) for i in n.inputs]
            his = [L[i][1] if i in net.var else net.const(i) for i in n.inputs]
            lo, hi = get_op(n.op).interval(los, his, **n.attrs)
            if region.norm in ("2", "1") and nid in net.prefix:
                plo, phi = prefix_bounds(net, nid, region, channel_max=lirpa_compat)
                lo, hi = np.maximum(lo, plo), np.minimum(hi, phi)
            L[nid] = no_nan(lo, hi)
        if nid == until:
            break
    return L


def spec_bounds(y_lo: np.ndarray, y_hi: np.ndarray, spec: LinearSpec | None):
    """Interval bounds of C y + d from bounds on y (y itself when no spec)."""
    n = y_lo.shape[0]
    y_lo, y_hi = y_lo.reshape(n, -1), y_hi.reshape(n, -1)
    if spec is None:
        return y_lo, y_hi
    cp, cm = np.maximum(spec.C, 0), np.minimum(spec.C, 0)
    lb = np.einsum("nko,no->nk", cp, y_lo) + np.einsum("nko,no->nk", cm, y_hi) + spec.d
    ub = np.einsum("nko,no->nk", cp, y_hi) + np.einsum("nko,no->nk", cm, y_lo) + spec.d
    return lb, ub


def ibp(graph, region: Region, spec: LinearSpec | None = None, lirpa_compat: bool = False) -> Bounds:
    t0 = time.perf_counter()
    net = graph if isinstance(graph, Net) else analyze(graph)
    check_region(net, region)
    L = node_bounds(net, region, lirpa_compat=lirpa_compat)
    lb, ub = no_nan(*spec_bounds(*L[net.output], spec))
    # the interval rules are outward rounded: the node bounds are sound, resting on
    # the named boundaries; the spec step and the L2/L1 prefix norms are plain float64
    assumptions = sorted({a for nid in net.order[1:]
                          for a in getattr(get_op(net.nodes[nid].op).interval, "assumptions", ())})
    return Bounds(lb, ub, "ibp", net.graph, intermediate={k: L[k] for k in net.need},
                  seconds=time.perf_counter() - t0, assumptions=tuple(assumptions))
