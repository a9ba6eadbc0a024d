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
            # every interval rule returns through interval.finish, which raises on NaN
            # (tests/conformance/test_interval.py): no NaN pass here
            lo, hi = get_op(n.op).interval(los, his, **n.attrs)
            if region.norm in ("2", "1") and nid in net.prefix:
                plo, phi = prefix_bounds(net, nid, region, channel_max=lirpa_compat)
                lo, hi = no_nan(np.maximum(lo, plo), np.minimum(hi, phi))
            L[nid] = lo, hi
        if nid == until:
            break
    return L


def spec_bounds(y_lo: np.ndarray, y_hi: np.ndarray, spec: LinearSpec | None):
    """Interval bounds of C y + d from bounds on y (y itself when no spec)."""
    n = y_lo.shape[0]
    y_lo, y_hi = y_lo.reshape(n, -1), y_hi.reshape(n, -1)
    if spec is None:
        return y_lo, y_hi
    return _box_rows(spec.C, y_lo, y_hi, spec.d)


def _box_rows(C, lo, hi, d):
    """Bounds of ``C x + d`` over the box [lo, hi]: C (N, K, H), lo/hi (N, H), d (N, K);
    as centre and radius, two batched products (NaN where the box is unbounded)."""
    with np.errstate(invalid="ignore"):
        mid = np.matmul(C, (0.5 * lo + 0.5 * hi)[:, :, None])[:, :, 0]
        rad = np.matmul(np.abs(C), (0.5 * hi - 0.5 * lo)[:, :, None])[:, :, 0]
    return mid - rad + d, mid + rad + d


def folded_spec_bounds(net: Net, L: dict, spec: LinearSpec | None):
    """Bounds of C y + d with the spec folded into the output node when it is affine
    (``y = f(h)``: ``C y + d = (C J_f) h + C f(0) + d``, bounded from the box of
    ``h``), intersected with the spec applied to the output box. Tighter than the
    latter alone: the rows' cancellations inside f are kept (auto_LiRPA does the same)."""
    lb, ub = spec_bounds(*L[net.output], spec)
    out = net.output
    if spec is None or net.kind.get(out) != "affine":
        return lb, ub
    N, K = spec.d.shape
    A = spec.C.reshape((N * K,) + net.shape(out))
    red = tuple(range(1, A.ndim))
    const = np.sum(A * net.f0(out), axis=red).reshape(N, K) + spec.d
    flo, fhi = const, const
    ins = [net.nodes[out].inputs[p] for p in net.var_inputs(out)]
    for i, c in zip(ins, net.transpose(out, A)):
        lo, hi = (b.reshape(N, -1) for b in L[i])
        dlo, dhi = _box_rows(c.reshape(N, K, -1), lo, hi, 0.0)
        flo, fhi = flo + dlo, fhi + dhi
    # fmax/fmin: where an unbounded box made the folded value NaN, the unfolded bound stands
    return np.fmax(lb, flo), np.fmin(ub, fhi)


def ibp(graph, region: Region, spec: LinearSpec | None = None, lirpa_compat: bool = False) -> Bounds:
    t0 = time.perf_counter()
    net = graph if isinstance(graph, Net) else analyze(graph)
    check_region(net, region)
    L = node_bounds(net, region, lirpa_compat=lirpa_compat)
    lb, ub = no_nan(*folded_spec_bounds(net, L, spec))
    # the interval rules are outward rounded: the node bounds are sound, resting on
    # the named boundaries; the (folded) spec step and the L2/L1 prefix norms are plain float64
    assumptions = sorted({a for nid in net.order[1:]
                          for a in getattr(get_op(net.nodes[nid].op).interval, "assumptions", ())})
    return Bounds(lb, ub, "ibp", net.graph, intermediate={k: L[k] for k in net.need},
                  seconds=time.perf_counter() - t0, assumptions=tuple(assumptions))
