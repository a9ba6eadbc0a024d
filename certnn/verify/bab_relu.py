"""Branch and bound by ReLU splitting, for high-dimensional inputs (mnist_fc).

Why beta-CROWN multipliers rather than the alternatives the design allowed:

* intersecting a split neuron's pre-activation bounds with z >= 0 / z <= 0 only
  fixes that neuron's relaxation; the bound over the input box still lets z
  take its excluded sign, so splits on the last hidden layer gain little;
* an LP with the triangle relaxation uses the split constraints exactly, but on
  784-256-256-10 it has ~1300 variables and a dense 256x784 block, and needs
  one HiGHS solve per row per sub-problem (we estimated 0.1-1 s each without
  measuring it): a few hundred sub-problems per two-core timeout;
* the Lagrangian form (``c.y - beta s z`` with beta >= 0) uses the constraints
  too, costs one extra elementwise term in the backward sweep, and is
  optimized for whole batches of sub-problems at once together with the lower
  slopes (alpha), so hundreds of sub-problems are bounded per second.

Each sub-problem carries its split signs, its (parent's, intersected)
intermediate bounds and warm-started alpha/beta. The neuron to split is the
unstable, unsplit neuron whose upper relaxation line costs the open rows most
(the intercept term of the bound; BaBSR-like). A sub-problem whose bounds
become empty is infeasible and dropped. Verified sub-problems are dropped: the
result is ``computed`` evidence.

``certifiable``: every sub-problem's intermediate bounds are plain CROWN under
its split constraints from scratch (no root alpha-CROWN bounds, no parent
bounds), which the independent checker re-derives, and the split tree plus each
leaf's constraints, bounds, slopes and multipliers are kept (``ReluProof``) so
that :mod:`certnn.verify.bab_certificate` can write a certificate. Fully fixed
sub-problems are then proved by beta-CROWN with more iterations, not by an LP
(an LP optimum is no certificate); if that fails the answer is ``unknown``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..spec.linear import LinearSpec
from .bab_mlp import DT, ChainMLP, SpecBound, intermediate_bounds, open_rows, optimized_spec_bounds


@dataclass
class ReluProof:
    """Node 0 is the root (no constraints). ``split[i] = (layer, neuron)`` for internal
    nodes, whose children are ``kids[i] = (plus, minus)`` (z >= 0, z <= 0); ``leaves``
    maps a proved node to its row in ``rows`` (per row: per layer splits (n_j,),
    lower, upper (n_j,), alphas and betas (K, n_j))."""
    split: dict = field(default_factory=dict)
    kids: dict = field(default_factory=dict)
    leaves: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    n_nodes: int = 1
    inter_alphas: dict = field(default_factory=dict)   # (layer j, layer i) -> (1, 2 n_j, n_i) slopes used

    def add_leaves(self, dom, idx) -> None:
        for i in idx:
            self.leaves[int(dom.node[i])] = len(self.rows)
            self.rows.append({k: [a[i].copy() for a in getattr(dom, k)]
                              for k in ("splits", "lower", "upper", "alphas", "betas")})


@dataclass
class ReluSplitResult:
    status: str
    stats: dict = field(default_factory=dict)
    x: np.ndarray | None = None         # a replayed counterexample (flat), when sat
    proof: ReluProof | None = None      # certifiable mode, unsat


@dataclass
class _Domains:
    splits: list        # per layer (M, n_j) int8
    lower: list         # per layer (M, n_j)
    upper: list
    alphas: list        # per layer (M, K, n_j)
    betas: list         # per layer (M, K, n_j)
    lb: np.ndarray      # (M, K)
    cost: list          # per layer (M, K, n_j), <= 0
    depth: np.ndarray
    node: np.ndarray    # (M,) the sub-problem's node in the ReluProof tree

    def __len__(self):
        return self.lb.shape[0]

    def take(self, idx):
        pick = lambda xs: [x[idx] for x in xs]  # noqa: E731
        return _Domains(pick(self.splits), pick(self.lower), pick(self.upper), pick(self.alphas),
                        pick(self.betas), self.lb[idx], pick(self.cost), self.depth[idx], self.node[idx])

    @staticmethod
    def cat(parts):
        parts = [p for p in parts if p is not None and len(p)]
        if not parts:
            return None
        cat = lambda name: [np.concatenate(xs) for xs in zip(*[getattr(p, name) for p in parts])]  # noqa: E731
        return _Domains(cat("splits"), cat("lower"), cat("upper"), cat("alphas"), cat("betas"),
                        np.concatenate([p.lb for p in parts]), cat("cost"), np.concatenate([p.depth for p in parts]),
                        np.concatenate([p.node for p in parts]))


def _holds(lb: np.ndarray, groups: np.ndarray) -> np.ndarray:
    ok = np.ones(lb.shape[0], bool)
    v = lb
    for g in range(int(groups.max()) + 1):
        ok &= v[:, groups == g].max(axis=1) > 0
    return ok


def relu_split(mlp: ChainMLP, lo, hi, spec: LinearSpec, deadline: float, root_bounds=None, batch: int = 64,
               iters: int = 20, refresh_intermediate: bool = True, max_domains: int = 200_000,
               on_cex=None, certifiable: bool = False, fixed_iters: int = 300,
               inter_alphas: dict | None = None) -> ReluSplitResult:
    """Complete ReLU-split BaB over the box lo/hi (flat (d,)) for a one-example spec.
    ``inter_alphas`` (certifiable mode): {(j, i): (1, 2 n_j, n_i)} lower slopes of
    relu i for the lower then upper rows of layer j (the root's alpha-CROWN
    slopes); every sub-problem's intermediate bounds then use them, and the
    certificate carries them, so the checker re-derives the same bounds.
    ``on_cex(rows) -> index or None`` replays candidate counterexamples: the
    minimizers of the open sub-problems' linear bounds, improved by a few PGD
    steps (a bound-guided attack), and the LP optima of sub-problems whose every
    neuron is fixed (there the network is linear and the LP is exact)."""
    lo = np.asarray(lo, DT).reshape(1, -1)
    hi = np.asarray(hi, DT).reshape(1, -1)
    C = np.asarray(spec.C[:1], DT)
    d = np.asarray(spec.d[:1], DT)
    groups = spec.groups
    K = C.shape[1]
    stats = {"branches": 0, "max_depth": 0, "bounded": 0, "rounds": 0, "infeasible": 0}
    proof = ReluProof() if certifiable else None
    if certifiable:
        root_bounds, refresh_intermediate = None, True
        if inter_alphas is not None and all((j, i) in inter_alphas for j in range(1, mlp.hidden) for i in range(j)):
            proof.inter_alphas = {k: np.asarray(a, DT) for k, a in inter_alphas.items()
                                  if k[0] < mlp.hidden and k[1] < k[0]}
    zero = [np.zeros((1, w), np.int8) for w in mlp.widths]
    if proof is not None and proof.inter_alphas:
        bnds, _ = _rederivable_bounds(mlp, lo, hi, zero, proof.inter_alphas)
    else:
        bnds, _ = intermediate_bounds(mlp, lo, hi, zero, known=root_bounds)
    sb = optimized_spec_bounds(mlp, lo, hi, C, d, bnds, zero, iters=max(iters, 30), deadline=deadline)
    dom = _Domains(zero, [b[0] for b in bnds], [b[1] for b in bnds], sb.alphas,
                   [np.zeros((1, K, w)) for w in mlp.widths], sb.lb,
                   list(sb.cost), np.zeros(1, np.int64), np.zeros(1, np.int64))
    if _holds(sb.lb, groups).all():
        if proof is not None:
            proof.add_leaves(dom, [0])
        return ReluSplitResult("unsat", stats, proof=proof)
    per_dom = 0.0
    while dom is not None and len(dom):
        # worst sub-problems first (lowest best row of their weakest group)
        score = _group_min(dom.lb, groups)
        if time.monotonic() > deadline:
            return ReluSplitResult("timeout", dict(stats, open=len(dom), worst_lb=float(score.min())))
        if len(dom) > max_domains:
            return ReluSplitResult("unknown", dict(stats, reason="too many domains"))
        order = np.argsort(score, kind="stable")
        left = deadline - time.monotonic()
        n = min(batch, len(dom), max(4, int(left / per_dom)) if per_dom > 0 else batch)
        t_round = time.monotonic()
        cur, rest = dom.take(order[:n]), (dom.take(order[n:]) if len(dom) > n else None)
        fixed = _all_fixed(cur)
        if fixed.any() and certifiable:
            # an LP optimum is no certificate: beta-CROWN, whose optimal multipliers on a
            # fully fixed sub-problem approach the LP value, with more iterations
            f = cur.take(np.flatnonzero(fixed))
            m = len(f)
            fb = list(zip(f.lower, f.upper))
            sb = optimized_spec_bounds(mlp, np.broadcast_to(lo, (m, lo.shape[1])), np.broadcast_to(hi, (m, hi.shape[1])),
                                       np.broadcast_to(C, (m,) + C.shape[1:]), np.broadcast_to(d, (m,) + d.shape[1:]),
                                       fb, f.splits, iters=fixed_iters, init_alphas=f.alphas, init_betas=f.betas)
            f.alphas, f.lb = sb.alphas, sb.lb
            f.betas = f.betas if sb.betas is None else sb.betas
            stats["fixed_beta"] = stats.get("fixed_beta", 0) + m
            ok = _holds(sb.lb, groups)
            if not ok.all():
                for i in np.flatnonzero(~ok):     # sat is still worth finding
                    verdict, x = lp_decide(mlp, lo[0], hi[0], [s[i] for s in f.splits], [lw[i] for lw in f.lower],
                                           [up[i] for up in f.upper], spec.C[0], spec.d[0], groups)
                    if verdict == "sat" and on_cex is not None and on_cex(x[None]) is not None:
                        return ReluSplitResult("sat", stats, x)
                why = "a fully fixed sub-problem beta-CROWN could not prove (certifiable mode)"
                return ReluSplitResult("unknown", dict(stats, reason=why))
            proof.add_leaves(f, range(m))
            cur = cur.take(np.flatnonzero(~fixed))
            if not len(cur):
                dom = rest
                continue
        elif fixed.any():
            # linear on these sub-problems: decide each exactly by LP
            for i in np.flatnonzero(fixed):
                verdict, x = lp_decide(mlp, lo[0], hi[0], [s[i] for s in cur.splits],
                                       [lw[i] for lw in cur.lower], [up[i] for up in cur.upper],
                                       spec.C[0], spec.d[0], groups)
                stats["lp"] = stats.get("lp", 0) + 1
                if verdict == "sat" and on_cex is not None and on_cex(x[None]) is not None:
                    return ReluSplitResult("sat", stats, x)
                if verdict != "unsat":
                    why = "an LP on a fixed sub-problem was not decisive"
                    return ReluSplitResult("unknown", dict(stats, reason=why))
            keep = np.flatnonzero(~fixed)
            cur = cur.take(keep)
            if not len(cur):
                dom = rest
                continue
        kids = _branch(cur, groups, proof)
        stats["rounds"] += 1
        stats["branches"] += len(cur)
        stats["bounded"] += len(kids)
        stats["max_depth"] = max(stats["max_depth"], int(kids.depth.max()))
        m = len(kids)
        los, his = np.broadcast_to(lo, (m, lo.shape[1])), np.broadcast_to(hi, (m, hi.shape[1]))
        # certifiable: from scratch under the constraints, as the checker re-derives them
        known = None if certifiable else list(zip(kids.lower, kids.upper))
        if proof is not None and proof.inter_alphas:
            bnds, infeasible = _rederivable_bounds(mlp, los, his, kids.splits, proof.inter_alphas)
        elif refresh_intermediate:
            bnds, infeasible = intermediate_bounds(mlp, los, his, kids.splits, known=known)
        else:
            bnds, infeasible = intermediate_bounds_from_known(known, kids.splits)
        if certifiable:   # a certificate leaf proves every group itself
            sb = optimized_spec_bounds(mlp, los, his, np.broadcast_to(C, (m,) + C.shape[1:]),
                                       np.broadcast_to(d, (m,) + d.shape[1:]), bnds, kids.splits,
                                       iters=iters, init_alphas=kids.alphas, init_betas=kids.betas)
        else:
            sb = _open_row_bounds(mlp, lo, hi, C, d, groups, bnds, kids, iters, deadline)
        kids.lower, kids.upper = [b[0] for b in bnds], [b[1] for b in bnds]
        kids.alphas, kids.betas = sb.alphas, (kids.betas if sb.betas is None else sb.betas)
        kids.lb, kids.cost = sb.lb, list(sb.cost)
        done = _holds(kids.lb, groups) | infeasible
        stats["infeasible"] += int(infeasible.sum())
        if proof is not None:
            proof.add_leaves(kids, np.flatnonzero(done))
        open_ = np.flatnonzero(~done)
        per_dom = (time.monotonic() - t_round) / n
        if on_cex is not None and len(open_):
            x = _guided_attack(mlp, lo, hi, C[0], d[0], groups, sb.lam_x[open_], kids.lb[open_])
            if x is not None:
                j = on_cex(x)
                if j is not None:
                    return ReluSplitResult("sat", stats, x[j])
        dom = _Domains.cat([rest, kids.take(open_) if len(open_) else None])
    return ReluSplitResult("unsat", stats, proof=proof)


def _open_row_bounds(mlp, lo, hi, C, d, groups, bnds, kids: _Domains, iters: int, deadline: float | None = None):
    """alpha-beta-CROWN on the rows of ``kids`` that still need proving, as one batch
    of (sub-problem, row) pairs; a row stops being optimized as soon as its bound is
    positive. A row whose group the parent proved is not bounded again: a
    sub-problem's box and constraints are the parent's plus one split, so the
    parent's bound (inherited in ``kids.lb``) still holds for it. Returns the
    bounds of every (sub-problem, row) as a SpecBound of shape (M, K, ...)."""
    M, K = kids.lb.shape
    proved = np.zeros((M, K), bool)
    for g in range(int(groups.max()) + 1):
        rows = groups == g
        proved[:, rows] = (kids.lb[:, rows] > 0).any(axis=1, keepdims=True)
    dom, row = np.nonzero(~proved)
    lb = kids.lb.copy()
    alphas = [a.copy() for a in kids.alphas]
    betas = [b.copy() for b in kids.betas]
    cost = [c.copy() for c in kids.cost]
    lam_x = np.zeros((M, K, lo.shape[1]))
    if dom.size:
        pick = lambda xs: [x[dom, row][:, None] for x in xs]   # noqa: E731
        sb = optimized_spec_bounds(mlp, lo[np.zeros(dom.size, np.int64)], hi[np.zeros(dom.size, np.int64)],
                                   C[0][row][:, None], d[0][row][:, None], [(lw[dom], up[dom]) for lw, up in bnds],
                                   [s[dom] for s in kids.splits], iters=iters, init_alphas=pick(kids.alphas),
                                   init_betas=pick(kids.betas), drop_proved=True, search_dtype=np.float32,
                                   deadline=deadline)
        lb[dom, row] = sb.lb[:, 0]
        lam_x[dom, row] = sb.lam_x[:, 0]
        for j in range(mlp.hidden):
            alphas[j][dom, row] = sb.alphas[j][:, 0]
            cost[j][dom, row] = sb.cost[j][:, 0]
            if sb.betas is not None:
                betas[j][dom, row] = sb.betas[j][:, 0]
    return SpecBound(lb, lam_x, cost, alphas, betas)


def _rederivable_bounds(mlp, lo, hi, splits, inter_alphas):
    """CROWN bounds of every hidden pre-activation under the split signs, from scratch,
    with the fixed lower slopes ``inter_alphas`` (what the checker computes from the
    certificate's anchors and slopes). Rows only for unsplit neurons (a split
    neuron's relaxation does not depend on its bounds; it gets the half-line its
    sign allows). Returns (bounds, infeasible (N,))."""
    from .bab_mlp import _backward, _concretize
    lo, hi = np.asarray(lo, DT), np.asarray(hi, DT)
    N = lo.shape[0]
    bounds, infeasible = [], np.zeros(N, bool)
    for j in range(mlp.hidden):
        n, sp = mlp.widths[j], np.asarray(splits[j], np.int8)
        if j == 0:
            W, b = mlp.weights[0], mlp.biases[0]
            mid, r = (hi + lo) / 2 @ W.T + b, (hi - lo) / 2 @ np.abs(W).T
            l, u = mid - r, mid + r
        else:
            l, u = np.full((N, n), -np.inf), np.full((N, n), np.inf)
            idx, valid, lam0 = open_rows(sp == 0)
            U = idx.shape[1]
            if U:
                alphas = []
                for i in range(j):
                    a = inter_alphas[(j, i)][0]                     # (2n, n_i): lower rows, upper rows
                    alphas.append(np.concatenate([a[:n][idx], a[n:][idx]], 1))
                lam, bias = _backward(mlp, j, lam0, np.zeros((N, 2 * U)), bounds, splits, alphas=alphas)
                val = _concretize(lam, bias, lo, hi)
                np.put_along_axis(l, idx, np.where(valid, val[:, :U], -np.inf), 1)
                np.put_along_axis(u, idx, np.where(valid, -val[:, U:], np.inf), 1)
        l = np.where(sp > 0, np.maximum(l, 0), l)
        u = np.where(sp < 0, np.minimum(u, 0), u)
        infeasible |= (l > u).any(axis=1)
        bounds.append((l, u))
    return bounds, infeasible


def _all_fixed(dom: _Domains) -> np.ndarray:
    """Sub-problems with no unstable, unsplit neuron."""
    free = np.zeros(len(dom), bool)
    for sp, l, u in zip(dom.splits, dom.lower, dom.upper):
        free |= ((sp == 0) & (l < 0) & (u > 0)).any(axis=1)
    return ~free


def _score(y, C, d, groups):
    """Violation score per row of y: min over groups of the max row (<= 0: unsafe)."""
    return _group_min(y @ C.T + d, groups)


def _guided_attack(mlp, lo, hi, C, d, groups, lam_x, lb, steps: int = 10):
    """Start at each open sub-problem's bound minimizer (the box corner picked by the
    coefficients of its weakest row) and take a few signed gradient steps on the
    violation score. Returns candidate rows that look unsafe, or None."""
    k = np.argmin(lb, axis=1)
    coef = lam_x[np.arange(len(k)), k]
    x = np.where(coef > 0, lo, hi)
    step = (hi - lo) / 8
    for t in range(steps + 1):
        y, on = _forward_masks(mlp, x)
        vals = y @ C.T + d
        s, row = _group_min(vals, groups, with_row=True)
        bad = s <= 0
        if bad.any() or t == steps:
            return x[bad] if bad.any() else None
        # d score / d x: the deciding row of C pulled back through the active ReLUs
        g = C[row] @ mlp.weights[-1]
        for i in range(mlp.hidden - 1, -1, -1):
            g = (g * on[i]) @ mlp.weights[i]
        x = np.minimum(np.maximum(x - step * np.sign(g), lo), hi)
        step = step * 0.7
    return None


def _forward_masks(mlp, x):
    """The outputs of the rows x and, per hidden layer, where the ReLU passes gradient."""
    a, on = x, []
    for i, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        a = a @ w.T + b
        if i < mlp.hidden:
            on.append(a >= 0)
            a = np.maximum(a, 0)
    return a, on


def lp_decide(mlp, lo, hi, splits, lower, upper, C, d, groups):
    """A sub-problem whose every hidden neuron has a known sign (split or stable) is a
    polytope on which the network is linear: decide it exactly with an LP per group,
    min t s.t. rows of the group <= t, the sign constraints, x in the box.
    Returns ("unsat", None), ("sat", x) or ("unknown", None)."""
    from scipy.optimize import linprog
    n_in = lo.size
    A = np.eye(n_in)                   # z = A x + c for the current layer
    c = np.zeros(n_in)
    rows, rhs = [], []
    for j in range(mlp.hidden):
        W, b = mlp.weights[j], mlp.biases[j]
        A, c = W @ A, W @ c + b
        sp, l, u = np.asarray(splits[j]), np.asarray(lower[j]), np.asarray(upper[j])
        on = (sp > 0) | ((sp == 0) & (l >= 0))
        # on: -z <= 0; off: z <= 0
        sign = np.where(on, -1.0, 1.0)
        rows.append(sign[:, None] * A)
        rhs.append(-sign * c)
        A, c = A * on[:, None], c * on
    W, b = mlp.weights[-1], mlp.biases[-1]
    A, c = W @ A, W @ c + b
    G, H = C @ A, C @ c + d                       # spec rows: G x + H
    P, q = np.concatenate(rows), np.concatenate(rhs)
    worst = np.inf
    for g in range(int(groups.max()) + 1):
        Gg, Hg = G[groups == g], H[groups == g]
        # variables (x, t): min t, Gg x - t <= -Hg, P x <= q
        A_ub = np.block([[Gg, -np.ones((len(Gg), 1))], [P, np.zeros((len(P), 1))]])
        b_ub = np.concatenate([-Hg, q])
        bounds = [(float(a), float(b_)) for a, b_ in zip(lo, hi)] + [(None, None)]
        cost = np.zeros(n_in + 1)
        cost[-1] = 1.0
        res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
        if res.status == 2:                        # infeasible: the sub-problem is empty
            return "unsat", None
        if res.status != 0:
            return "unknown", None
        if res.fun <= 0:
            return "sat", np.clip(res.x[:n_in], lo, hi)
        worst = min(worst, res.fun)
    # every group has a row > 0 at the LP optimum: exact up to the LP's tolerance,
    # so only accept a clear margin
    return ("unsat", None) if worst > 1e-6 * (1 + np.abs(H).max()) else ("unknown", None)


def intermediate_bounds_from_known(known, splits):
    bounds, infeasible = [], np.zeros(splits[0].shape[0], bool)
    for (l, u), sp in zip(known, splits):
        l = np.where(sp > 0, np.maximum(l, 0), l)
        u = np.where(sp < 0, np.minimum(u, 0), u)
        infeasible |= (l > u).any(axis=1)
        bounds.append((l, u))
    return bounds, infeasible


def _group_min(vals: np.ndarray, groups: np.ndarray, with_row: bool = False):
    """min over groups of the group's best (max) row; ``with_row``: also the index of
    the row that decides it (the first one on ties)."""
    ng = int(groups.max()) + 1
    per = np.stack([np.where(groups == k, vals, -np.inf).max(axis=1) for k in range(ng)], 1)
    if not with_row:
        return per.min(axis=1)
    g = np.argmin(per, axis=1)
    row = np.argmax(np.where(groups[None] == g[:, None], vals, -np.inf), axis=1)
    return per[np.arange(len(g)), g], row


def _branch(cur: _Domains, groups: np.ndarray, proof: ReluProof | None = None) -> _Domains | None:
    """Two children per sub-problem, split on its highest-scoring unstable neuron."""
    n = len(cur)
    open_rows = (cur.lb <= 0).astype(DT)                      # rows not yet proved
    best_val = np.full(n, -1.0)
    best_layer = np.zeros(n, np.int64)
    best_idx = np.zeros(n, np.int64)
    for j, (sp, l, u, cost) in enumerate(zip(cur.splits, cur.lower, cur.upper, cur.cost)):
        unst = (sp == 0) & (l < 0) & (u > 0)
        s = -(cost * open_rows[..., None]).sum(1)                 # >= 0
        s = s + 1e-6 * np.minimum(-l, u)                         # tie-break: most unstable
        s = np.where(unst, s, -1.0)
        i = np.argmax(s, axis=1)
        v = s[np.arange(n), i]
        take = v > best_val
        best_val = np.where(take, v, best_val)
        best_layer = np.where(take, j, best_layer)
        best_idx = np.where(take, i, best_idx)
    kids = _Domains.cat([cur, cur])
    rows = np.arange(2 * n)
    sign = np.concatenate([np.ones(n, np.int8), -np.ones(n, np.int8)])
    layer, idx = np.tile(best_layer, 2), np.tile(best_idx, 2)
    for j in range(len(kids.splits)):
        m = layer == j
        kids.splits[j][rows[m], idx[m]] = sign[m]
    kids.depth = kids.depth + 1
    if proof is not None:
        kids.node = proof.n_nodes + np.arange(2 * n)
        for i in range(n):
            node = int(cur.node[i])
            proof.split[node] = (int(best_layer[i]), int(best_idx[i]))
            proof.kids[node] = (proof.n_nodes + i, proof.n_nodes + n + i)
        proof.n_nodes += 2 * n
    return kids
