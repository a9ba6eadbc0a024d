"""Branch and bound by input splitting, for low-dimensional inputs (ACAS Xu).

Sub-boxes are bounded many at a time (one batched CROWN call of the chain
engine, :mod:`certnn.verify.bab_mlp`, hundreds to thousands of rows). A box
whose spec holds is a verified leaf and is dropped; every other box is split
in two at the midpoint of the dimension with the largest
``width * sum_rows |coefficient of x|`` (how much that dimension's width costs
the linear bound), and its centre is evaluated: a centre in the unsafe set is a
candidate counterexample (replayed before it is believed). Every few rounds PGD
runs from the worst boxes.

The leaves use plain CROWN with the adaptive slopes and no bounds carried over
from parents, so the independent checker (which runs the same relaxation in
sound arithmetic from its own bounds) re-derives them: the split tree is
recorded for an input-split certificate (:mod:`certnn.verify.bab_certificate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..spec.region import Region
from ..spec.linear import LinearSpec
from .bab_mlp import ChainMLP, intermediate_bounds, optimized_spec_bounds, signs, spec_bounds

ALPHA_MIN_GAIN = 0.3     # alpha costs ~10x CROWN per box; keep it while it proves this share


@dataclass
class SplitTree:
    """Node 0 is the root box. ``split[i] = (dim, value)`` for internal nodes, whose
    children are ``kids[i] = (low, high)``: [lo, value] and [value, hi] along dim.
    ``leaves`` maps a verified node to its row in ``leaf_lo``/``leaf_hi``."""
    root_lo: np.ndarray
    root_hi: np.ndarray
    split: dict = field(default_factory=dict)
    kids: dict = field(default_factory=dict)
    leaves: dict = field(default_factory=dict)
    leaf_lo: list = field(default_factory=list)
    leaf_hi: list = field(default_factory=list)
    n_nodes: int = 1

    def add_children(self, node: int, dim: int, value: float) -> tuple[int, int]:
        a, b = self.n_nodes, self.n_nodes + 1
        self.n_nodes += 2
        self.split[node] = (int(dim), float(value))
        self.kids[node] = (a, b)
        return a, b

    def add_leaf(self, node: int, lo: np.ndarray, hi: np.ndarray) -> None:
        self.leaves[node] = len(self.leaf_lo)
        self.leaf_lo.append(lo)
        self.leaf_hi.append(hi)


@dataclass
class InputSplitResult:
    status: str                     # "unsat", "sat", "timeout", "unknown"
    x: np.ndarray | None = None     # a replayed counterexample (flat), when sat
    tree: SplitTree | None = None
    stats: dict = field(default_factory=dict)


def input_split(mlp: ChainMLP, graph, lo, hi, spec: LinearSpec, deadline: float, batch: int = 1024,
                attack_every: int = 8, max_domains: int = 2_000_000, on_cex=None,
                certifiable: bool = False, alpha_iters: int = 8) -> InputSplitResult:
    """Complete input-split BaB of one box (``lo``/``hi`` flat, (d,)) against a one-example
    ``spec``. ``on_cex(x_rows) -> index or None`` replays candidate counterexamples.

    Every box is bounded by plain CROWN first. ``certifiable``: nothing else, which
    the certificate checker re-derives leaf by leaf. Otherwise the boxes CROWN
    cannot prove also get alpha-CROWN (``alpha_iters`` Adam steps per layer, twice
    that for the spec rows): several times the work per box, and far fewer boxes
    on deep networks (ACAS Xu property 1 on the 2_x networks); when it proves
    under ALPHA_MIN_GAIN of them it pauses for 4 rounds."""
    if certifiable:
        alpha_iters = 0
    alpha_retry = 0
    per_box, alpha_per_box = 0.0, 0.0
    lo, hi = np.asarray(lo, np.float64).reshape(-1), np.asarray(hi, np.float64).reshape(-1)
    tree = SplitTree(lo.copy(), hi.copy())
    C, d, groups = spec.C[0], spec.d[0], spec.groups
    # per box, the sign of every hidden neuron known to be stable (inherited: a child
    # lies inside its parent), so only the open neurons need CROWN rows
    pend_lo, pend_hi, pend_id = [lo[None]], [hi[None]], [np.zeros(1, np.int64)]
    pend_sg = [[np.zeros((1, w), np.int8) for w in mlp.widths]]
    stats = {"branches": 0, "max_depth": 0, "bounded": 0, "rounds": 0, "leaves": 0}
    depth = {0: 0}
    rounds = 0
    while pend_id:
        if time.monotonic() > deadline:
            return InputSplitResult("timeout", tree=None, stats=stats)
        P_lo, P_hi, P_id = np.concatenate(pend_lo), np.concatenate(pend_hi), np.concatenate(pend_id)
        P_sg = [np.concatenate(x) for x in zip(*pend_sg)]
        if len(P_id) > max_domains:
            return InputSplitResult("unknown", stats=dict(stats, reason="too many domains"))
        # a batch small enough to finish before the deadline (seconds per box measured)
        size = _batch_size(batch, per_box, deadline)
        take = slice(max(0, len(P_id) - size), len(P_id))       # depth first: newest boxes
        B_lo, B_hi, B_id = P_lo[take], P_hi[take], P_id[take]
        B_sg = [x[take] for x in P_sg]
        keep = slice(0, take.start)
        pend_lo, pend_hi, pend_id = [P_lo[keep]], [P_hi[keep]], [P_id[keep]]
        pend_sg = [[x[keep] for x in P_sg]]
        if take.start == 0:
            pend_lo, pend_hi, pend_id, pend_sg = [], [], [], []
        n = len(B_id)
        rounds += 1
        t_round = time.monotonic()
        stats["rounds"] = rounds
        stats["bounded"] += n
        Cn, dn = np.broadcast_to(C, (n,) + C.shape), np.broadcast_to(d, (n,) + d.shape)
        spn = LinearSpec(Cn, dn, groups)
        # certifiable: no inherited signs, so each leaf's bound is the from-scratch CROWN
        # bound the checker re-derives (CROWN is not monotone in the box)
        sg0 = [x if not certifiable else np.zeros(x.shape, np.int8) for x in B_sg]
        bnds, _ = intermediate_bounds(mlp, B_lo, B_hi, sg0)
        sg = signs(bnds, sg0)
        sb = spec_bounds(mlp, B_lo, B_hi, Cn, dn, bnds, sg)
        lb = sb.lb
        lam_x = sb.lam_x
        ok = spn.holds(lb)
        fail = np.flatnonzero(~ok)
        crown_s = time.monotonic() - t_round
        if alpha_iters and fail.size and rounds >= alpha_retry:
            # alpha-CROWN on the boxes plain CROWN could not prove, closest to proved first,
            # as many as fit in about a second; kept on while it pays
            cap = int(max(16, 1.0 / alpha_per_box)) if alpha_per_box > 0 else 64
            fail = fail[np.argsort(-_group_score(lb[fail], groups))[:cap]]
        if alpha_iters and fail.size and rounds >= alpha_retry and \
                time.monotonic() + alpha_per_box * fail.size < deadline:
            a_lo, a_hi = B_lo[fail], B_hi[fail]
            a_sg = [x[fail] for x in sg0]
            abnds, _ = intermediate_bounds(mlp, a_lo, a_hi, a_sg, alpha_iters=alpha_iters)
            a_sg = signs(abnds, a_sg)
            asb = optimized_spec_bounds(mlp, a_lo, a_hi, Cn[fail], dn[fail], abnds, a_sg,
                                        iters=2 * alpha_iters, use_beta=False)
            alb = asb.lb
            alpha_per_box = max(alpha_per_box * 0.5, (time.monotonic() - t_round - crown_s) / fail.size)
            lb[fail] = np.maximum(lb[fail], alb)
            lam_x[fail] = asb.lam_x
            for k in range(len(sg)):
                sg[k][fail] = a_sg[k]
            gained = spn.rows(fail).holds(alb)
            ok[fail] |= gained
            stats["alpha_boxes"] = stats.get("alpha_boxes", 0) + fail.size
            if gained.mean() < ALPHA_MIN_GAIN:      # not paying: plain CROWN for a while
                alpha_retry = rounds + 4
        per_box = max(per_box * 0.5, (time.monotonic() - t_round) / n)
        for i in np.flatnonzero(ok):
            tree.add_leaf(int(B_id[i]), B_lo[i], B_hi[i])
        bad = np.flatnonzero(~ok)
        if bad.size == 0:
            continue
        # candidate counterexamples: the centres of the open boxes, and now and then PGD
        ctr = (B_lo[bad] + B_hi[bad]) / 2
        y = mlp.forward(ctr)
        sp = LinearSpec(np.broadcast_to(C, (bad.size,) + C.shape), np.broadcast_to(d, (bad.size,) + d.shape), groups)
        cand = ctr[sp.violated(y)]
        if cand.size and on_cex is not None:
            j = on_cex(cand)
            if j is not None:
                return InputSplitResult("sat", cand[j], stats=stats)
        if on_cex is not None:   # bound-guided: from each worst box's minimizing corner
            from .bab_relu import _guided_attack
            worst = bad[np.argsort(_group_score(lb[bad], groups))[:256]]
            x = _guided_attack(mlp, B_lo[worst], B_hi[worst], np.asarray(C, np.float64),
                               np.asarray(d, np.float64), groups, lam_x[worst], lb[worst])
            if x is not None:
                j = on_cex(x)
                if j is not None:
                    return InputSplitResult("sat", x[j], stats=stats)
        if on_cex is not None and attack_every and rounds % attack_every == 0:
            worst = bad[np.argsort(_group_score(lb[bad], groups))[:8]]
            x = _pgd_boxes(graph, mlp, B_lo[worst], B_hi[worst], C, d, groups)
            if x is not None:
                j = on_cex(x)
                if j is not None:
                    return InputSplitResult("sat", x[j], stats=stats)
        # split the open boxes
        width = B_hi[bad] - B_lo[bad]
        coef = np.abs(lam_x[bad]).sum(axis=1)
        dim = np.argmax(width * coef + 1e-12 * width, axis=1)
        mid = (B_lo[bad, dim] + B_hi[bad, dim]) / 2
        lo_a, hi_a = B_lo[bad].copy(), B_hi[bad].copy()
        lo_b, hi_b = B_lo[bad].copy(), B_hi[bad].copy()
        r = np.arange(bad.size)
        hi_a[r, dim] = mid
        lo_b[r, dim] = mid
        ids_a, ids_b = np.empty(bad.size, np.int64), np.empty(bad.size, np.int64)
        for k, i in enumerate(bad):
            node = int(B_id[i])
            a, b = tree.add_children(node, int(dim[k]), float(mid[k]))
            ids_a[k], ids_b[k] = a, b
            depth[a] = depth[b] = depth.pop(node, 0) + 1
            stats["max_depth"] = max(stats["max_depth"], depth[a])
        stats["branches"] += bad.size
        pend_lo += [lo_a, lo_b]
        pend_hi += [hi_a, hi_b]
        pend_id += [ids_a, ids_b]
        child_sg = [x[bad] for x in sg]
        pend_sg += [child_sg, child_sg]
    stats["leaves"] = len(tree.leaves)
    return InputSplitResult("unsat", tree=tree, stats=stats)


def _batch_size(batch: int, per_box: float, deadline: float, slice_s: float = 1.0) -> int:
    """At most ``batch``; with a measured cost per box, no more than fits in
    ``slice_s`` seconds or in the time left (at least 16 boxes)."""
    if per_box <= 0:
        return batch
    left = max(0.0, deadline - time.monotonic())
    return int(max(16, min(batch, min(slice_s, left) / per_box)))


def _group_score(lb: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """min over groups of the best row: > 0 means verified; lower is worse."""
    return np.min(np.stack([lb[:, groups == g].max(axis=1) for g in range(int(groups.max()) + 1)], 1), axis=1)


def _pgd_boxes(graph, mlp, lo, hi, C, d, groups):
    from .attacks import pgd
    n = len(lo)
    shape = mlp.in_shape
    reg = Region.box(lo.reshape((n,) + shape), hi.reshape((n,) + shape))
    sp = LinearSpec(np.broadcast_to(C, (n,) + C.shape).copy(), np.broadcast_to(d, (n,) + d.shape).copy(), groups)
    res = pgd(graph, reg, sp, steps=20, restarts=2, seed=len(lo))
    if res.found_real.any():
        return res.x[res.found_real].reshape(int(res.found_real.sum()), -1)
    return None
