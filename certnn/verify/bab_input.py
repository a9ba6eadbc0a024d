"""Branch and bound by input splitting, for low-dimensional inputs (ACAS Xu).

Sub-boxes are bounded many at a time (one batched CROWN call of the chain
engine, :mod:`certnn.verify.bab_mlp`, hundreds to thousands of rows). A box
whose spec holds is a verified leaf and is dropped; every other box is split
in two at the midpoint of one dimension, and its centre is evaluated: a centre
in the unsafe set is a candidate counterexample (replayed before it is
believed). Every few rounds PGD runs from the worst boxes. The dimension is
chosen by bounding both halves along every dimension (up to TRY_DIMS of them:
half by ``width * sum_rows |coefficient of x|``, how much that dimension's width
costs the linear bound, half the widest relative to the root) and taking the
best mean, or the widest relative to the root when no split gains MIN_GAIN of
the score; the halves' bounds are kept, so a child is not bounded twice.

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
TRY_DIMS = 8             # how many dimensions each split tries (all of them up to this many)
MIN_GAIN = 0.1           # a tried split gaining less than this share of |parent score| is no signal
SCORE_FLOOR = 1e-5       # ... and |parent score| counts as at least this share of |root score|


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
    K, dims = C.shape[0], lo.size
    # Pending boxes. sg: per box, the sign of every hidden neuron known to be stable
    # (inherited: a child lies inside its parent), so only the open neurons need CROWN
    # rows. lb/lam: the box's CROWN bound when it was already computed while its parent
    # chose a split dimension (NaN: not yet).
    pend = _Pending(dims, K, mlp.widths)
    pend.push(lo[None], hi[None], np.zeros(1, np.int64), [np.zeros((1, w), np.int8) for w in mlp.widths])
    stats = {"branches": 0, "max_depth": 0, "bounded": 0, "rounds": 0, "leaves": 0}
    depth = {0: 0}
    rounds = 0
    while len(pend):
        if time.monotonic() > deadline:
            return InputSplitResult("timeout", tree=None, stats=stats)
        if len(pend) > max_domains:
            return InputSplitResult("unknown", stats=dict(stats, reason="too many domains"))
        # a batch small enough to finish before the deadline (seconds per box measured);
        # depth first: the newest boxes
        B_lo, B_hi, B_id, B_sg, B_lb, B_lam = pend.pop_newest(_batch_size(batch, per_box, deadline))
        n = len(B_id)
        rounds += 1
        t_round = time.monotonic()
        stats["rounds"] = rounds
        Cn, dn = np.broadcast_to(C, (n,) + C.shape), np.broadcast_to(d, (n,) + d.shape)
        spn = LinearSpec(Cn, dn, groups)
        # certifiable: no inherited signs, so each leaf's bound is the from-scratch CROWN
        # bound the checker re-derives (CROWN is not monotone in the box)
        sg0 = [x if not certifiable else np.zeros(x.shape, np.int8) for x in B_sg]
        lb, lam_x, sg = B_lb, B_lam, [x.copy() for x in sg0]
        todo = np.flatnonzero(np.isnan(lb[:, 0]))
        if todo.size:
            stats["bounded"] += todo.size
            t_lb, t_lam, t_sg = _crown(mlp, B_lo[todo], B_hi[todo], [x[todo] for x in sg0], Cn[todo], dn[todo])
            lb[todo], lam_x[todo] = t_lb, t_lam
            for k in range(len(sg)):
                sg[k][todo] = t_sg[k]
        crown_lb = lb.copy()
        if rounds == 1:          # the root box's score sets the scale of a gain that counts
            floor = SCORE_FLOOR * float(np.abs(_group_score(crown_lb, groups)).max())
            floor = floor if np.isfinite(floor) else 0.0
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
        for i in np.flatnonzero(ok):
            tree.add_leaf(int(B_id[i]), B_lo[i], B_hi[i])
        bad = np.flatnonzero(~ok)
        if bad.size == 0:
            per_box = max(per_box * 0.5, (time.monotonic() - t_round) / n)
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
        # split the open boxes; their children inherit the signs known here (certifiable:
        # none, see above)
        child_sg = [x[bad] for x in (sg if not certifiable else sg0)]
        cand = _candidate_dims(B_lo[bad], B_hi[bad], lam_x[bad], hi - lo)
        dim, kid_lb, kid_lam, kid_sg = _tried_dims(mlp, B_lo[bad], B_hi[bad], child_sg, C, d, groups, cand,
                                                   _group_score(crown_lb[bad], groups), hi - lo, floor)
        stats["bounded"] += 2 * cand.shape[1] * bad.size
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
        pend.push(lo_a, hi_a, ids_a, kid_sg[0], kid_lb[0], kid_lam[0])
        pend.push(lo_b, hi_b, ids_b, kid_sg[1], kid_lb[1], kid_lam[1])
        per_box = max(per_box * 0.5, (time.monotonic() - t_round) / n)
    stats["leaves"] = len(tree.leaves)
    return InputSplitResult("unsat", tree=tree, stats=stats)


class _Pending:
    """The open boxes, kept as lists of arrays (pushed in rounds, popped newest first)."""

    def __init__(self, dims, K, widths):
        self.dims, self.K, self.widths = dims, K, widths
        self.parts: list = []

    def __len__(self):
        return sum(len(p[2]) for p in self.parts)

    def push(self, lo, hi, ids, sg, lb=None, lam=None):
        n = len(ids)
        lb = np.full((n, self.K), np.nan) if lb is None else lb
        lam = np.zeros((n, self.K, self.dims)) if lam is None else lam
        self.parts.append((lo, hi, ids, list(sg), lb, lam))

    def pop_newest(self, size):
        lo, hi, ids, lb, lam = (np.concatenate([p[i] for p in self.parts]) for i in (0, 1, 2, 4, 5))
        sg = [np.concatenate([p[3][k] for p in self.parts]) for k in range(len(self.widths))]
        cut = max(0, len(ids) - size)
        self.parts = [(lo[:cut], hi[:cut], ids[:cut], [x[:cut] for x in sg], lb[:cut], lam[:cut])] if cut else []
        return lo[cut:], hi[cut:], ids[cut:], [x[cut:] for x in sg], lb[cut:].copy(), lam[cut:].copy()


def _crown(mlp, lo, hi, sg, C, d):
    """Plain CROWN of the spec rows over boxes: (lb, lam_x, signs after the bound)."""
    bnds, _ = intermediate_bounds(mlp, lo, hi, sg)
    sg = signs(bnds, sg)
    sb = spec_bounds(mlp, lo, hi, C, d, bnds, sg)
    return sb.lb, sb.lam_x, sg


def _tried_dims(mlp, lo, hi, sg, C, d, groups, cand, parent, root_width, floor: float = 0.0):
    """Per box, the dimension (among its candidates ``cand`` (n, m)) whose halving gives
    the best mean bound of the two halves (``parent``: the box's own CROWN score, (n,)):
    both halves along every candidate bounded by CROWN in one batched call (2 m boxes
    per box); a gain under MIN_GAIN of the parent's score (at least ``floor``) falls
    back to the dimension widest relative to ``root_width``. Returns (dim (n,), and for the
    chosen low and high halves: lb (2, n, K), lam_x (2, n, K, d), signs [per half:
    per layer (n, width)]), so the children are not bounded again.

    The cheaper score ``width * |coefficient of x|`` only sees the linear part of
    the bound; when the looseness comes from the hidden neurons' relaxations it keeps
    halving dimensions that do not help (ACAS Xu 2_8 property 1: 60 levels deep,
    no box proved in 116 s, with a quarter of one dimension never split). The best
    worse half is myopic too: on ACAS Xu 1_1 property 1 it halves two narrow
    dimensions 40 levels deep."""
    n, k = lo.shape
    m = cand.shape[1]
    r = np.arange(n)
    kids_lo = np.repeat(lo[:, None], 2 * m, 1)     # (n, 2m, k): [cand 0 low, cand 0 high, cand 1 low, ...]
    kids_hi = np.repeat(hi[:, None], 2 * m, 1)
    for j in range(m):
        c = cand[:, j]
        mid = (lo[r, c] + hi[r, c]) / 2
        kids_hi[r, 2 * j, c] = mid
        kids_lo[r, 2 * j + 1, c] = mid
    t = n * 2 * m
    lb, lam, ksg = _crown(mlp, kids_lo.reshape(t, k), kids_hi.reshape(t, k), [np.repeat(x, 2 * m, 0) for x in sg],
                          np.broadcast_to(C, (t,) + C.shape), np.broadcast_to(d, (t,) + d.shape))
    # a half's score is at least its parent's for this choice (CROWN is not monotone in
    # the box: a half can bound worse, and then a split of a dimension already too
    # narrow to matter wins by default); ties (e.g. both halves proved): the dimension
    # widest relative to the root; a point dimension cannot be split
    score = np.maximum(_group_score(lb, groups).reshape(n, m, 2), parent[:, None, None]).mean(axis=2)
    rel = np.take_along_axis(_relative_width(lo, hi, root_width), cand, 1)
    j = np.argmax(np.where(rel > 0, score + 1e-9 * rel, -np.inf), axis=1)
    # a gain under MIN_GAIN * |parent| is no signal (one level of splitting may not show
    # what two would): then the dimension widest relative to the root. Without this,
    # ACAS Xu 2_1 property 3 (certifiable mode) kept taking gains of 0.5 % on a narrow
    # dimension, 72 levels deep, with two dimensions never split. The floor: a parent
    # score near 0 makes any gain look large; on ACAS Xu 1_1 property 5 the search
    # then halved two dimensions 70 levels deep for gains of 2e-5 on a score of -2e-4,
    # while the dimension that bounded it (psi, its widest) was never split
    weak = score[r, j] - parent <= MIN_GAIN * np.maximum(np.abs(parent), floor)
    j = np.where(weak, np.argmax(rel, axis=1), j)
    pick = [r * 2 * m + 2 * j + h for h in (0, 1)]
    return (cand[r, j], np.stack([lb[p] for p in pick]), np.stack([lam[p] for p in pick]),
            [[x[p] for x in ksg] for p in pick])


def _relative_width(lo, hi, root_width) -> np.ndarray:
    """Each box's widths as shares of the root box's (a point dimension of the root: 0)."""
    return (hi - lo) / np.where(root_width > 0, root_width, 1.0)


def _candidate_dims(lo, hi, lam_x, root_width, most: int = TRY_DIMS) -> np.ndarray:
    """(n, m) dimensions worth trying per box: all of them up to ``most``; otherwise
    the ``(most + 1) // 2`` with the largest ``width * |coefficient|``, then the
    widest relative to the root box (the score's blind spot)."""
    n, k = lo.shape
    if k <= most:
        return np.broadcast_to(np.arange(k), (n, k))
    cheap = np.argsort(-((hi - lo) * np.abs(lam_x).sum(axis=1)), axis=1)
    rel = np.argsort(-_relative_width(lo, hi, root_width), axis=1)
    out = np.empty((n, most), np.int64)
    for i in range(n):
        out[i] = list(dict.fromkeys(list(cheap[i, :(most + 1) // 2]) + list(rel[i, :most])))[:most]
    return out


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
