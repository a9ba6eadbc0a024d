"""Input splitting for any graph :mod:`certnn.bounds` can bound.

The chain-ReLU engines (:mod:`certnn.verify.bab_mlp`) are fast but only take
networks that are affine maps and ReLUs. Everything else with a low-dimensional
input (sigmoid/tanh/leaky-relu controllers, residual or convolutional nets with
a handful of inputs) is decided here: boxes are bounded many at a time by one
batched ``compute_bounds`` call (CROWN by default: the graph is one Region with
a row per box), proved boxes are dropped, the centers of the others are tried as
counterexamples, and each open box is split at the midpoint of its widest
dimension relative to the root box. Complete in the limit for continuous
networks; the wall-clock deadline is checked between batches.

Evidence: ``unsat`` is ``computed`` (float64 bounds), and the split tree it
returns can be written as an input-split certificate that the independent
checker re-derives leaf by leaf when the graph's ops are ones the checker
supports (affine ops, relu, sigmoid, tanh): the leaves are plain CROWN bounds of
the boxes, which the checker recomputes; ``sat`` comes with a point that the
caller replays before reporting it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..bounds import compute_bounds
from ..spec.region import Region
from ..spec.linear import LinearSpec
from .bab_input import SplitTree


@dataclass
class GenericResult:
    status: str                  # "sat", "unsat", "timeout" or "unknown"
    x: np.ndarray | None = None  # flat counterexample candidate (sat)
    stats: dict = field(default_factory=dict)
    tree: SplitTree | None = None  # the proof (unsat): every leaf proved by ``method``


def input_split_generic(graph, region: Region, spec: LinearSpec, deadline: float, on_cex,
                        batch: int = 256, method: str = "crown") -> GenericResult:
    """Decide the one-row box ``region`` for ``spec``. ``on_cex(rows)`` gets flat
    candidate points and returns the index of one that replays, or None."""
    shape = region.shape
    root_w = (region.hi[0] - region.lo[0]).reshape(-1)
    scale = np.where(root_w > 0, 1.0 / np.where(root_w > 0, root_w, 1.0), 0.0)  # never split a fixed input
    los, his, ids = [region.lo[0].reshape(-1)], [region.hi[0].reshape(-1)], [0]
    tree = SplitTree(los[0].copy(), his[0].copy())
    stats = {"engine": f"generic input split ({method})", "bounded": 0, "branches": 0}
    while los:
        if time.monotonic() > deadline:
            return GenericResult("timeout", stats=stats)
        take = min(batch, len(los))
        lo, hi, node = np.stack(los[-take:]), np.stack(his[-take:]), np.array(ids[-take:])
        del los[-take:], his[-take:], ids[-take:]
        reg = Region.box(lo.reshape((take,) + shape), hi.reshape((take,) + shape))
        sp = spec.rows(np.zeros(take, int))
        b = compute_bounds(graph, reg, sp, method=method)
        stats["bounded"] += take
        open_ = ~sp.holds(b.lb)
        for i in np.flatnonzero(~open_):
            tree.add_leaf(int(node[i]), lo[i], hi[i])
        if not open_.any():
            continue
        lo, hi, node = lo[open_], hi[open_], node[open_]
        hit = on_cex((lo + hi) / 2)
        if hit is not None:
            return GenericResult("sat", (lo[hit] + hi[hit]) / 2, stats)
        dim = np.argmax((hi - lo) * scale, axis=1)
        if not np.any((hi - lo)[np.arange(len(dim)), dim] > 0):
            return GenericResult("unknown", stats=stats)  # open boxes that are points: cannot decide
        mid = (lo[np.arange(len(dim)), dim] + hi[np.arange(len(dim)), dim]) / 2
        for i, (d, m) in enumerate(zip(dim, mid)):
            left_hi, right_lo = hi[i].copy(), lo[i].copy()
            left_hi[d], right_lo[d] = m, m
            los += [lo[i], right_lo]
            his += [left_hi, hi[i]]
            ids += list(tree.add_children(int(node[i]), int(d), float(m)))
        stats["branches"] += len(dim)
    stats["leaves"] = len(tree.leaf_lo)
    return GenericResult("unsat", stats=stats, tree=tree)
