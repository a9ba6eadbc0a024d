"""beta-CROWN: bounds of spec rows over many ReLU-split sub-problems at once.

A sub-problem is the region restricted to ``{x : s_j z_j(x) >= 0}`` for its split
neurons j (``s = +1``: the relu input ``z_j`` is nonnegative, ``-1``: nonpositive).
Given intermediate bounds valid on the whole region (computed once, at the root
of a branch and bound), every sub-problem may

* clip a split neuron's bounds to its sign, which makes its relu relaxation
  exact (identity or zero) on the sub-problem;
* add ``-beta_j s_j z_j`` (``beta_j >= 0``) to each spec row: the term is
  ``<= 0`` on the sub-problem, so ``min c.y >= min (c.y - sum_j beta_j s_j z_j)``,
  and the backward sweep of the right-hand side is CROWN's with the extra
  coefficients ``-beta s`` on ``z`` (:func:`certnn.bounds.crown.backward`).

The lower relu slopes (alpha, per row) and the multipliers (beta, per row) are
optimized together by projected Adam with a decaying step, keeping the best
bound seen per row (every iterate is a valid bound: any alpha in its range and
any beta >= 0). The gradient with respect to the extra coefficients on ``z`` is
the value of ``z`` in the reverse (forward) walk of the sweep, so beta costs no
extra pass. All sub-problems are one batch: the region's rows are copies of the
one box, the bounds of unsplit nodes broadcast from the root.

Scores for branching (BaBSR-like, per relu input and neuron): how much the
upper relaxation line's intercept costs the rows still open,
``sum_k -min(A_k, 0) * intercept`` with ``A`` the rows' coefficients on the relu
output. Float64 without rounding control: ``computed`` evidence, like the rest
of :mod:`certnn.bounds`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..ops.relax import ALPHA, ALPHA_OPS
from ..spec.region import Region
from .crown import _concretize_grad, _slope_grads, backward
from .net import Net

# split_bounds: the sub-problems closed (every row positive) leave the steps once
# they are at least this share of the ones still stepped (compacting the batch
# copies every per-sub-problem array: at a tenth it cost more than it saved); in
# sri_resnet_a idx 9101's search about 28 % of the children close at their first
# sweep (warm start), 37 % after 4 steps
DROP_SHARE = 0.25


@dataclass
class SplitBounds:
    lb: np.ndarray                                # (B, K) lower bounds of C y + d per sub-problem
    alphas: dict                                  # relaxed node -> (B, K, *shape) free parameters
    betas: dict                                   # split relu input -> (B, K, *shape), >= 0
    scores: dict = field(default_factory=dict)    # relu input -> (B, *shape) branching score (-1: no candidate)
    x: np.ndarray | None = None                   # (B, K, *in_shape) minimizer of each row's linear bound
    iters_run: int = 0
    exact: np.ndarray | None = None               # (B,) float64 bounds (None: all); see split_bounds' confirm


def relu_inputs(net: Net) -> dict:
    """{relu input id: relu node id} for the relus of the graph (the splittable neurons)."""
    return {net.nodes[r].inputs[0]: r for r in net.order if net.kind.get(r) == "relax" and net.nodes[r].op == "relu"}


def clipped(root: dict, splits: dict) -> dict:
    """Root bounds with each split neuron clipped to its sign (per sub-problem); a
    node with no split in any sub-problem keeps the root's arrays (broadcast)."""
    b = dict(root)
    for z, s in splits.items():
        if not s.any():
            continue
        lo, hi = root[z]
        b[z] = (np.where(s > 0, np.maximum(lo, 0.0), lo), np.where(s < 0, np.minimum(hi, 0.0), hi))
    return b


def batch_region(region: Region, B: int) -> Region:
    """``B`` copies of the one-example ``region`` (broadcast views, no copies); a
    region of B examples as it is."""
    if region.n == B:
        return region
    rep = lambda a: None if a is None else np.broadcast_to(a[:1], (B,) + a.shape[1:])  # noqa: E731
    return Region(rep(region.lo), rep(region.hi), region.norm, rep(region.center), region.eps)


class _Adam:
    """Projected Adam ascent (torch.optim.Adam's defaults) on a dict of arrays."""

    def __init__(self, lr: float):
        self.lr, self.m, self.v, self.k = lr, {}, {}, 0

    def step(self, params: dict, grads: dict, low, high, lr_scale: float, index: dict | None = None) -> None:
        """``index``: per key, the flat positions (over the dims after the first
        two) outside which the gradient is known to be 0; the step runs on those
        alone (Adam leaves a parameter with zero gradients where it is). Their
        ``low``/``high`` must be scalars."""
        self.k += 1
        c1, c2 = 1 - 0.9 ** self.k, 1 - 0.999 ** self.k
        for key, g in grads.items():
            idx = None if index is None else index.get(key)
            if idx is not None:
                flat = params[key].reshape(params[key].shape[:2] + (-1,))      # a view: params are contiguous
                g = g.reshape(flat.shape)[..., idx]
            if key not in self.m:
                self.m[key], self.v[key] = np.zeros_like(g), np.zeros_like(g)
            m, v = self.m[key], self.v[key]
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            lo, hi = low(key), high(key)
            if idx is None:
                p = params[key] + (self.lr * lr_scale / c1) * m / (np.sqrt(v / c2) + 1e-8)
                params[key] = np.clip(p, lo, hi, out=p)
            else:
                p = flat[..., idx] + (self.lr * lr_scale / c1) * m / (np.sqrt(v / c2) + 1e-8)
                flat[..., idx] = np.clip(p, lo, hi, out=p)


def _init_alphas(net: Net, saved: dict, bounds: dict, rows: tuple) -> dict:
    """CROWN's own parameters for every relaxed node the sweep reached, per row."""
    out = {}
    for k in saved:
        n = net.nodes[k]
        if n.op in ALPHA_OPS:
            l, u = (b[:, None] for b in bounds[n.inputs[0]])
            out[k] = np.array(ALPHA[n.op].init(l, u, rows + net.shape(k), "adaptive", **n.attrs), net.dtype)
    return out


def sweep(net: Net, region: Region, C: np.ndarray, d: np.ndarray, root: dict, splits: dict,
          alphas: dict | None = None, betas: dict | None = None, keep: bool = False, bounds: dict | None = None,
          cache: dict | None = None, target: str | None = None):
    """One backward sweep of rows ``C`` (B, K, out) over the B sub-problems:
    (lb (B, K), a_in, bias, saved, bounds, region). ``bounds``: ``clipped(root,
    splits)`` when already known (an optimization loop's later sweeps), with its
    ``cache`` (see :func:`certnn.bounds.crown.backward`)."""
    B, K = C.shape[:2]
    reg = batch_region(region, B)
    bounds = clipped(root, splits) if bounds is None else bounds
    target = net.output if target is None else target
    A0 = C.reshape((B, K) + net.shape(target))
    extra = {z: -betas[z] * s[:, None] for z, s in splits.items() if betas and z in betas}
    a_in, bias, saved = backward(net, target, A0, bounds, alphas, "adaptive", keep=keep, extra=extra,
                                 cache=cache)
    return reg.concretize_lower(a_in, bias) + d, a_in, bias, saved, bounds, reg


def split_bounds(net: Net, region: Region, C: np.ndarray, d: np.ndarray, root: dict, splits: dict,
                 alphas: dict | None = None, betas: dict | None = None, iters: int = 20,
                 lr_alpha: float = 0.1, lr_beta: float = 0.05, lr_decay: float = 0.98,
                 patience: int = 5, scores: bool = True, stop_positive: bool = True,
                 deadline: float | None = None, work=np.float64, confirm: float | None = None,
                 lazy: float | None = None, proved: float = 0.0, target: str | None = None) -> SplitBounds:
    """Optimized lower bounds of ``C y + d`` over B sub-problems of the one-example
    ``region`` (or of a region of B examples): ``C`` (B, K, out), ``d`` (B, K), ``root`` the whole region's bounds of
    every node CROWN needs ((1, *shape) each), ``splits`` {relu input: (B, *shape)
    int8 signs}. ``alphas``/``betas`` warm-start the parameters (a parent's), else
    CROWN's slopes and zero. Stops early when no row improved for ``patience``
    steps, (``stop_positive``) when every row is positive, or at ``deadline``
    (``time.monotonic()``): every iterate is a valid bound.
    ``work``: the dtype of the optimization steps. With float32 they run in single
    precision (conv and GEMM steps 2-3x faster) and only choose the parameters:
    the bounds returned come from one float64 sweep at the best of them (clipped
    to their float64 ranges), so they are float64 bounds either way.
    ``confirm`` (float32 steps only): that float64 sweep runs only for the
    sub-problems with a row whose float32 bound is above ``-confirm``; the others
    keep their float32 bounds, all below ``-confirm``, which prove nothing
    (``exact`` marks the float64 ones). A search only needs float64 bounds where
    they may close a sub-problem; elsewhere a bound only ranks it. Scores and
    minimizers then come from the last float32 sweep.
    With ``stop_positive`` (one-example region), the sub-problems whose rows are
    all positive leave the steps once they are ``DROP_SHARE`` of those left; their
    parameters are the ones that proved them, and with ``confirm`` their scores are
    -1 (no candidate: nothing to split). ``proved``: the bound above which a row
    counts as positive here (a search that records proofs asks for a margin).
    ``lazy``: the parameters of the last step are swept only for the sub-problems
    with a row above ``-lazy``; the others return the best bound seen (the
    starting parameters' when that is the only sweep) with the stepped parameters,
    unevaluated, as their warm start (any slopes in range and multipliers >= 0
    give a valid bound, so a search's children start from them soundly). With one
    step that saves one sweep of every sub-problem far from closing; scores and
    minimizers come from the sweep the step started from.
    ``target``: rows ``C`` on that node instead of the output (an intermediate
    node's alpha-CROWN bounds, :func:`certnn.bounds.crown.intermediate_bounds`;
    ``root`` then needs only the nodes before it)."""
    B, K = C.shape[:2]
    if target is not None and (confirm is not None or scores or lazy is not None):
        raise ValueError("an intermediate target takes no confirm, scores or lazy")
    wnet = net.working(work)
    low = wnet is not net
    cast = lambda x: np.asarray(x, wnet.dtype)  # noqa: E731   (no copy when already in it)
    as_work = lambda ps: None if ps is None else {k: cast(v) for k, v in ps.items()}  # noqa: E731
    wroot = {k: (cast(lo), cast(hi)) for k, (lo, hi) in root.items()}
    Cw, dw = cast(C), cast(d)
    alphas, betas = as_work(alphas), as_work(betas)
    cache: dict = {}
    lb, a_in, bias, saved, bounds, reg = sweep(wnet, region, Cw, dw, wroot, splits, alphas, betas, keep=True,
                                               cache=cache, target=target)
    if alphas is None:
        alphas = _init_alphas(wnet, saved, bounds, (B, K))
        lb, a_in, bias, saved, _, _ = sweep(wnet, region, Cw, dw, wroot, splits, alphas, betas, keep=True,
                                            bounds=bounds, cache=cache, target=target)
    alphas = {k: np.array(v, wnet.dtype) for k, v in alphas.items()}
    betas = {z: (np.zeros((B, K) + s.shape[1:], wnet.dtype) if betas is None or z not in betas
                 else np.array(betas[z], wnet.dtype)) for z, s in splits.items()}
    masks = {z: (s != 0)[:, None] for z, s in splits.items()}
    best = lb.copy()
    best_a = {k: v.copy() for k, v in alphas.items()}
    best_b = {k: v.copy() for k, v in betas.items()}
    boxes = {k: ALPHA[net.nodes[k].op].bounds(*(b[:, None] for b in bounds[net.nodes[k].inputs[0]]),
                                               **net.nodes[k].attrs) for k in alphas}
    opt_a, opt_b = _Adam(lr_alpha), _Adam(lr_beta)
    # the steps touch only what can move: a relu's slopes where some sub-problem has
    # it unstable (the cached lines' index), multipliers where some has it split
    a_index = {k: cache[k][5] for k in alphas if net.nodes[k].op == "relu" and k in cache}
    b_index = {z: np.flatnonzero(np.any(s.reshape(B, -1) != 0, axis=0)) for z, s in splits.items()}
    # closed sub-problems leave the loop (see DROP_SHARE): pos are the ones still
    # stepped, sp/Cl/dl and every array the steps read are theirs alone
    pos, sp, Cl, dl = np.arange(B), splits, Cw, dw
    drop = stop_positive and region.n == 1 and "planes" not in net.kind.values()
    stale, it = 0, 0
    for it in range(1, iters + 1):
        if (stop_positive and np.all(best > proved)) or stale >= patience or \
                (deadline is not None and time.monotonic() > deadline):
            break
        shut = np.all(best[pos] > proved, axis=1)
        if drop and shut.sum() >= max(1.0, DROP_SHARE * len(pos)):
            sel, n = np.flatnonzero(~shut), len(pos)
            pos, sp, Cl, dl, alphas, betas, masks, boxes, bounds, a_in, saved = _rows(
                (pos, sp, Cl, dl, alphas, betas, masks, boxes, bounds, a_in, saved), sel, n)
            cache = {k: _rows(v[:5], sel, n) + v[5:] for k, v in cache.items()}
            for opt in (opt_a, opt_b):
                opt.m, opt.v = _rows(opt.m, sel, n), _rows(opt.v, sel, n)
            reg = batch_region(region, len(pos))
        G = {}
        grads = _slope_grads(wnet, target or wnet.output, a_in, reg, saved, bounds, values=G, cache=cache)
        scale = lr_decay ** (it - 1)
        opt_a.step(alphas, {k: g for k, g in grads.items() if k in alphas}, lambda k: boxes[k][0],
                   lambda k: boxes[k][1], scale, a_index)
        if betas:
            opt_b.step(betas, {z: -G[z] * sp[z][:, None] for z in betas}, lambda z: 0.0, lambda z: np.inf, scale,
                       b_index)
            for z in betas:
                betas[z] *= masks[z]
        if lazy is not None and it == iters:
            # the last step's parameters are swept only where the bound is near 0;
            # elsewhere they become the warm start unevaluated (the bound stays the
            # best seen) and the scores come from the sweep the step started from
            near = np.flatnonzero(np.any(best[pos] > -lazy, axis=1))
            far = np.setdiff1d(np.arange(len(pos)), near)
            for k in alphas:
                best_a[k][pos[far]] = alphas[k][far]
            for z in betas:
                best_b[z][pos[far]] = betas[z][far]
            if len(near):
                n = len(pos)
                sub = lambda x: _rows(x, near, n)  # noqa: E731
                lb = sweep(wnet, region, sub(Cl), sub(dl), wroot, sub(sp), sub(alphas), sub(betas), bounds=sub(bounds),
                           cache={k: sub(v[:5]) + v[5:] for k, v in cache.items()}, target=target)[0]
                _keep_better(best, best_a, best_b, lb, pos[near], sub(alphas), sub(betas))
            break
        lb, a_in, bias, saved, _, _ = sweep(wnet, region, Cl, dl, wroot, sp, alphas, betas, keep=True,
                                            bounds=bounds, cache=cache, target=target)
        bl = best[pos]
        stale = 0 if np.any(lb > bl + 1e-6 * (1 + np.abs(bl))) else stale + 1
        _keep_better(best, best_a, best_b, lb, pos, alphas, betas)
    out = SplitBounds(best, best_a, best_b, iters_run=it)
    dropped = len(pos) < B
    if low and confirm is not None:
        # scores and minimizers: from the last step's float32 sweep (a heuristic and
        # a starting point; one sweep more at the best parameters bought nothing)
        return _confirm(net, region, C, d, root, splits, out, confirm, wnet, Cw, dw, wroot,
                        (pos, a_in, saved, reg) if scores else None, proved)
    if low:
        # the bounds returned: one float64 sweep at the best parameters, each slope
        # clipped to its range on the float64 bounds (any slope in range is sound)
        bounds = clipped(root, splits)
        best_a = {k: np.clip(np.asarray(v, np.float64),
                             *ALPHA[net.nodes[k].op].bounds(*(b[:, None] for b in bounds[net.nodes[k].inputs[0]]),
                                                            **net.nodes[k].attrs)) for k, v in best_a.items()}
        best_b = {z: np.maximum(np.asarray(v, np.float64), 0.0) for z, v in best_b.items()}
        lb, a_in, _, saved, bounds, reg = sweep(net, region, C, d, root, splits, best_a, best_b, keep=scores,
                                                bounds=bounds, target=target)
        out = SplitBounds(lb, best_a, best_b, iters_run=it)
    elif scores:
        # the sweep at the best parameters: scores and the bound minimizers (of the
        # whole batch: the loop's bounds and cache are the last sub-problems' alone)
        lb, a_in, _, saved, bounds, reg = sweep(net, region, C, d, root, splits, best_a, best_b, keep=True,
                                                bounds=None if dropped else bounds, cache=None if dropped else cache,
                                                target=target)
        out.lb = np.maximum(out.lb, lb)
    if scores:
        out.scores = branching_scores(net, saved, bounds, splits, out.lb, proved)
        out.x = _concretize_grad(reg, a_in)
    return out


def _keep_better(best, best_a, best_b, lb, rows, alphas, betas) -> None:
    """Where ``lb`` (of the sub-problems ``rows``) beats ``best``: it and its parameters."""
    r, c = np.nonzero(lb > best[rows])
    best[rows[r], c] = lb[r, c]
    for k in alphas:
        best_a[k][rows[r], c] = alphas[k][r, c]
    for z in betas:
        best_b[z][rows[r], c] = betas[z][r, c]


def _rows(x, sel, n: int):
    """``x`` with only the sub-problems ``sel`` (sorted) of n: arrays whose first axis has
    the n sub-problems are indexed, broadcast ones (first axis 1) kept as they are;
    through dicts and tuples."""
    if len(sel) == n:                       # sel: sorted positions, so all of them
        return x
    if isinstance(x, dict):
        return {k: _rows(v, sel, n) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_rows(v, sel, n) for v in x)
    if isinstance(x, np.ndarray) and x.ndim and x.shape[0] == n:
        return x[sel]
    return x


def _confirm(net, region, C, d, root, splits, out: SplitBounds, margin: float, wnet, Cw, dw, wroot,
             last, proved: float = 0.0) -> SplitBounds:
    """``split_bounds``'s float64 sweep on the sub-problems that may be closed
    (a float32 row above ``-margin``); scores and minimizers (when ``last`` is
    given) from ``last = (pos, a_in, saved, reg)``, the last float32 sweep of the
    sub-problems ``pos`` the loop stepped to the end. The ones that left it closed
    get scores -1 and the region's lower corner, unless the float64 sweep does not
    close them (rounding): then their own float32 sweep's."""
    best_a, best_b = out.alphas, out.betas
    bounds64 = clipped(root, splits)
    best_a = {k: np.clip(np.asarray(v, np.float64),
                         *ALPHA[net.nodes[k].op].bounds(*(b[:, None] for b in bounds64[net.nodes[k].inputs[0]]),
                                                        **net.nodes[k].attrs)) for k, v in best_a.items()}
    best_b = {z: np.maximum(np.asarray(v, np.float64), 0.0) for z, v in best_b.items()}
    lb = np.asarray(out.lb, np.float64).copy()
    B = lb.shape[0]
    # a region of B examples is swept whole (only the one-example region is shared)
    exact = np.any(lb > -margin, axis=1) | (region.n != 1)
    idx = np.flatnonzero(exact)
    if len(idx):
        sub = lambda ps: {k: v[idx] for k, v in ps.items()}  # noqa: E731
        # per-sub-problem root bounds (a search's refreshed ones) are taken along
        sub_root = {k: (lo[idx], hi[idx]) if lo.shape[0] == B else (lo, hi) for k, (lo, hi) in root.items()}
        lb[idx] = sweep(net, region, C[idx], d[idx], sub_root, sub(splits), sub(best_a), sub(best_b))[0]
    res = SplitBounds(lb, best_a, best_b, iters_run=out.iters_run, exact=exact)
    if last is None:
        return res
    pos, a_in, saved, reg = last
    K = lb.shape[1]
    res.scores = {}
    res.x = np.broadcast_to(region.lo[:1, None], (B, K) + region.lo.shape[1:]).copy()

    def fill(rows, a_in, saved, reg):
        for z, v in branching_scores(net, saved, _rows(bounds64, rows, B), _rows(splits, rows, B),
                                     lb[rows], proved).items():
            res.scores.setdefault(z, np.full((B,) + v.shape[1:], -1.0))[rows] = v
        res.x[rows] = _concretize_grad(reg, np.asarray(a_in, np.float64)).reshape((len(rows),) + res.x.shape[1:])

    fill(pos, a_in, saved, reg)
    gone = np.setdiff1d(np.arange(B), pos)
    gone = gone[~np.all(lb[gone] > proved, axis=1)]
    if len(gone):
        _, a_in, _, saved, _, reg = sweep(wnet, region, Cw[gone], dw[gone], _rows(wroot, gone, B),
                                          _rows(splits, gone, B), _rows(out.alphas, gone, B),
                                          _rows(out.betas, gone, B), keep=True)
        fill(gone, a_in, saved, reg)
    return res


def branching_scores(net: Net, saved: dict, bounds: dict, splits: dict, lb: np.ndarray,
                     proved: float = 0.0) -> dict:
    """{relu input: (B, *shape)}: the intercept cost of each unstable, unsplit
    neuron's upper line to the rows that are not yet proved (bound <= ``proved``);
    -1 elsewhere (computed on the neurons that are candidates in some sub-problem alone)."""
    B = lb.shape[0]
    open_rows = (lb <= proved).astype(np.float64)[:, :, None]
    out = {}
    for z, r in relu_inputs(net).items():
        if r not in saved:
            continue
        a, _, _, _, _, ub = saved[r]
        l, u = bounds[z]
        S = a[0, 0].size
        cand = (l < 0) & (u > 0)
        if z in splits:
            cand = cand & (splits[z] == 0)
        cand = np.broadcast_to(cand, (B,) + cand.shape[1:]).reshape(B, S)
        idx = np.flatnonzero(cand.any(axis=0))
        pick = lambda x: x.reshape(x.shape[0], -1)[:, idx]  # noqa: E731
        sc = np.sum(-np.minimum(a.reshape(B, -1, S)[:, :, idx], 0) * ub.reshape(ub.shape[:2] + (S,))[:, :, idx]
                    * open_rows, axis=1)
        sc = sc + 1e-9 * np.minimum(-pick(l), pick(u))            # tie-break: the more unstable neuron
        full = np.full((B, S), -1.0)
        full[:, idx] = np.where(cand[:, idx], np.maximum(sc, 0.0), -1.0)
        out[z] = full.reshape((B,) + a.shape[2:])
    return out
