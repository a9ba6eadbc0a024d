"""Complete verification of a (box, LinearSpec) case: falsify, bound, branch.

1. Falsification: PGD with restarts and, for low-dimensional inputs, uniform
   random search. A counterexample is reported only after ``attacks.replay``
   ran it through ``certnn.run`` in real semantics (and separately says whether
   its binary32 rounding is a counterexample in binary32 semantics too).
2. Branch and bound on chain ReLU networks (:mod:`certnn.verify.bab_mlp`):
   input splitting when the input has at most ``INPUT_SPLIT_DIMS`` elements
   (:mod:`certnn.verify.bab_input`, whose root is the whole box; leaves
   re-checkable by the certificate checker); otherwise, after one short PGD
   pass, plain CROWN with alpha on the spec rows (well under a second; it alone
   proves most robust cases), the other attacks, then the graph ReLU split of
   :mod:`certnn.verify.bab_graph` (``GraphBabOptions.chains``; it runs 13-27x
   the branches per second of the chain search on deep MNIST MLPs). The chain
   search, alpha-CROWN intermediate bounds (``ROOT_ALPHA_ITERS`` steps each)
   and ReLU splitting with beta-CROWN multipliers (:mod:`certnn.verify.bab_relu`)
   whose sub-problems keep the root's intermediate bounds (refreshing them per
   sub-problem cost 5-12x the branches on 256x4 nets), runs for certificates,
   with ``chains=False`` and for small inputs split by ReLU on request.
   Certifiable mode bounds the root with alpha-CROWN of :mod:`certnn.bounds`
   instead, whose slopes the checker uses. Both engines run bound-guided
   attacks on their open sub-problems. Other graphs with many inputs get the
   graph ReLU split (conv/residual nets) after a quick CROWN root; with at most
   ``INPUT_SPLIT_DIMS`` inputs, a whole-box alpha-CROWN bound and input
   splitting with batched CROWN of certnn.bounds
   (:mod:`certnn.verify.bab_generic`).

The wall-clock ``timeout`` is checked between batches; a batch is small enough
(well under a second on the benchmark networks) that the overshoot is small.

Evidence: ``sat`` is ``checked`` (a replayed execution); ``unsat`` is
``computed`` (float64 bounds, unrounded), raised to ``certified`` for
input- and ReLU-split proofs by writing a certificate and re-checking it
(:mod:`certnn.verify.bab_certificate`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ..spec.region import Region
from ..spec.linear import LinearSpec
from .attacks import fixed_batch, pgd, random_search, replay
from .bab_mlp import NotAChain, extract_chain

STATUSES = ("sat", "unsat", "timeout", "unknown")
INPUT_SPLIT_DIMS = 16


@dataclass
class Verdict:
    status: str                                   # one of STATUSES
    counterexample: tuple | None = None           # (x, y): x in the model's input shape, y the real output
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    evidence: str | None = None                   # "checked" (sat), "computed" (unsat), None
    binary32_replays: bool | None = None          # the counterexample's binary32 rounding is one in binary32 too
    proofs: list = field(default_factory=list)    # per case: SplitTree (input split), ReluProof (relu split, certifiable) or None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}")


def verify_case(graph, region: Region, spec: LinearSpec, timeout: float, *, seed: int = 0,
                method_hint: str | None = None, mlp=None, deadline: float | None = None,
                certifiable: bool = False, graph_options=None) -> Verdict:
    """Decide whether some x in the one-row box ``region`` has an output in the unsafe
    set of ``spec``. ``graph`` must take a batch (its input's first dim is None).
    ``method_hint``: "input" or "relu" splitting instead of the choice by input size.
    ``certifiable``: input splitting with plain CROWN only, or ReLU splitting with
    intermediate bounds the checker re-derives and no LP-decided leaves, so that an
    unsat can be written as a certificate the independent checker re-derives
    (slower on hard cases). ``graph_options``: the graph ReLU split's settings
    (:class:`certnn.verify.bab_graph.GraphBabOptions`; its defaults when None)."""
    t0 = time.monotonic()
    deadline = t0 + timeout if deadline is None else deadline
    stats: dict = {}

    def done(status, **kw):
        return Verdict(status, seconds=time.monotonic() - t0, stats=stats, **kw)

    # the network as a chain of layers, or else the graph ReLU split (many inputs) or the generic bounds
    not_chain = None
    if mlp is None:
        try:
            mlp = extract_chain(graph)
        except NotAChain as e:
            not_chain = e
    from .bab_graph import GraphBabOptions
    opt = graph_options or GraphBabOptions()
    flat = int(np.prod(region.shape))
    graph_split = not_chain is not None and flat > INPUT_SPLIT_DIMS
    share = opt.falsify_share if graph_split else FALSIFY_SHARE
    chain_relu = not_chain is None and not certifiable and (method_hint or ("input" if flat <= INPUT_SPLIT_DIMS
                                                                           else "relu")) == "relu"
    # 1. falsification; on chains split by ReLU, a quick attack, then the cheap bound
    # (plain CROWN, alpha on the spec rows: well under a second, and it alone proves
    # most robust cases), then the rest of the attacks
    falsify_by = min(deadline, t0 + share * (deadline - t0))
    if chain_relu:
        cex = _falsify(graph, region, spec, seed, stats, falsify_by, phase="quick")
        if cex is None:
            root_bounds = _chain_root(mlp, region, spec, stats)
            if root_bounds is None:
                stats["mode"] = "relu-split"
                return done("unsat", evidence="computed", proofs=[None])
            cex = _falsify(graph, region, spec, seed, stats, falsify_by, phase="rest")
    elif graph_split:
        # the same order on conv/residual nets: plain CROWN and the spec rows' slopes
        # cost a few CROWN passes and prove the easy cases before the long attacks
        # and the alpha-CROWN root (sri_resnet_a: 7 of its 32 unsat at the root, in
        # about 4 s instead of 25 s at a 60 s timeout); a certifiable search records
        # its root proof itself
        cex = _falsify(graph, region, spec, seed, stats, falsify_by, phase="quick")
        if cex is None:
            if not certifiable and _graph_quick_root(graph, region, spec, stats, deadline):
                stats["engine"] = f"generic ({not_chain})"
                return done("unsat", evidence="computed", proofs=[None])
            cex = _falsify(graph, region, spec, seed, stats, falsify_by, phase="rest")
    else:
        cex = _falsify(graph, region, spec, seed, stats, falsify_by)
    if cex is not None:
        return done("sat", counterexample=(cex[0], cex[1]), evidence="checked", binary32_replays=cex[2])
    if time.monotonic() > deadline:
        return done("timeout")
    # 2. the bounds and the search
    if not_chain is not None:
        stats["engine"] = f"generic ({not_chain})"
        if graph_split:
            return _graph_split(graph, region, spec, stats, done, deadline, certifiable, seed, graph_options)
        return _generic(graph, region, spec, stats, done, deadline, certifiable)
    lo, hi = region.lo.reshape(-1), region.hi.reshape(-1)
    on_cex = _replayer(graph, region, spec)
    mode = method_hint or ("input" if flat <= INPUT_SPLIT_DIMS else "relu")
    stats["mode"] = f"{mode}-split"
    if mode == "input":
        from .bab_input import input_split
        res = input_split(mlp, graph, lo, hi, spec, deadline, on_cex=on_cex, certifiable=certifiable)
        return _conclude(res, res.tree, graph, region, spec, stats, done)
    from .bab_relu import relu_split
    if chain_relu and opt.chains and flat > INPUT_SPLIT_DIMS:
        # the chain's quick root did not prove it: the graph search (its own root)
        return _graph_split(graph, region, spec, stats, done, deadline, False, seed,
                            dataclasses.replace(opt, batch=opt.chain_batch))
    if chain_relu:
        known = _chain_alpha_root(mlp, region, root_bounds, deadline, stats)
        if known is None:
            return done("timeout")
        res = relu_split(mlp, lo, hi, spec, deadline, root_bounds=known, on_cex=on_cex, batch=RELU_BATCH,
                         iters=RELU_ITERS, refresh_intermediate=False)
        return _conclude(res, None, graph, region, spec, stats, done)
    from ..bounds import compute_bounds
    known = None
    root = compute_bounds(graph, region, spec, method="alpha-crown", alpha_mode="full")
    stats["alpha_crown_lb"] = float(np.min(root.lb))
    inter_alphas = None
    if certifiable:
        # the root's bounds are not re-derived by the checker, its intermediate slopes are:
        # relu_split recomputes every sub-problem's bounds with them (and the certificate
        # carries them); the whole-box shortcut is left to relu_split's first leaf
        inter_alphas = _root_inter_alphas(graph, mlp, root)
    elif spec.holds(root.lb)[0]:
        return done("unsat", evidence="computed", proofs=[None])
    if not certifiable and all(r in root.intermediate for r in mlp.relu_inputs):
        known = [tuple(np.asarray(a, np.float64).reshape(1, -1) for a in root.intermediate[r])
                 for r in mlp.relu_inputs]
    res = relu_split(mlp, lo, hi, spec, deadline, root_bounds=known, on_cex=on_cex, certifiable=certifiable,
                     inter_alphas=inter_alphas)
    return _conclude(res, res.proof, graph, region, spec, stats, done)


ROOT_ALPHA_ITERS = 5     # alpha-CROWN steps per intermediate bound at a chain's root
RELU_BATCH = 256         # sub-problems per ReLU-split round (64: 0.67x the branches per CPU second on 256x4)
RELU_ITERS = 5           # alpha-beta steps per round, warm-started (20: 256x4 prop_10_0.03 times out, 5 proves it)


def _chain_root(mlp, region, spec, stats):
    """Plain CROWN intermediate bounds and alpha-CROWN on the spec rows of the whole
    box (the chain engine's fast code). None when that proves the case, else the
    intermediate bounds."""
    from .bab_mlp import intermediate_bounds, optimized_spec_bounds
    from .bab_relu import _holds
    lo, hi = region.lo.reshape(1, -1), region.hi.reshape(1, -1)
    zero = [np.zeros((1, w), np.int8) for w in mlp.widths]
    bnds, _ = intermediate_bounds(mlp, lo, hi, zero)
    sb = optimized_spec_bounds(mlp, lo, hi, spec.C[:1], spec.d[:1], bnds, zero, iters=30)
    stats["crown_lb"] = float(np.min(sb.lb))
    return None if _holds(sb.lb, spec.groups).all() else bnds


def _graph_quick_root(graph, region, spec, stats, deadline) -> bool:
    """True when CROWN's intermediate bounds and alpha-CROWN on the spec rows alone
    (the graph engine's own root bound, with its plain CROWN root) prove the case."""
    from ..bounds.net import analyze
    from ..bounds.split import relu_inputs, split_bounds
    from .bab_graph import GraphBabOptions, group_score, root_bounds
    net = analyze(graph)
    if not relu_inputs(net):
        return False
    root = root_bounds(net, region, "crown", deadline=deadline)
    if root is None or time.monotonic() > deadline:
        return False
    sb = split_bounds(net, region, spec.C[:1], spec.d[:1], root, {}, iters=GraphBabOptions.spec_iters,
                      deadline=deadline)
    score = float(group_score(sb.lb, spec.groups)[0])
    stats["crown_lb"] = score
    return score > 0


def _chain_alpha_root(mlp, region, bnds, deadline, stats):
    """The intermediate bounds tightened by ``ROOT_ALPHA_ITERS`` alpha-CROWN steps per
    bound, layer by layer (None when the deadline passes first)."""
    from .bab_mlp import intermediate_bounds
    lo, hi = region.lo.reshape(1, -1), region.hi.reshape(1, -1)
    zero = [np.zeros((1, w), np.int8) for w in mlp.widths]
    out, _ = intermediate_bounds(mlp, lo, hi, zero, known=bnds, alpha_iters=ROOT_ALPHA_ITERS, deadline=deadline)
    if out is None:
        return None
    stats["root_unstable"] = int(sum(((lw < 0) & (up > 0)).sum() for lw, up in out))
    return out


def _root_inter_alphas(graph, mlp, root) -> dict | None:
    """{(j, i): (1, 2 n_j, n_i)} alpha-CROWN lower slopes of relu i for layer j's lower
    then upper rows, from the root bounds; None when any is missing."""
    from ..ir.passes import unfuse
    relu_of = {n.inputs[0]: n.id for n in unfuse(graph).nodes if n.op == "relu"}
    out = {}
    for j in range(1, mlp.hidden):
        n = mlp.widths[j]
        for i in range(j):
            a = root.alphas.get((mlp.relu_inputs[j], relu_of.get(mlp.relu_inputs[i])))
            if a is None:
                return None
            a = np.asarray(a, np.float64)
            if a.ndim != 3 or a.shape[0] != 1 or a.shape[1] != 2 * n or a.shape[2] != mlp.widths[i]:
                return None
            out[(j, i)] = np.clip(a, 0.0, 1.0)
    return out


def _conclude(res, proof, graph, region, spec, stats, done) -> Verdict:
    """The verdict of a branch-and-bound engine's result (status, x, stats):
    sat only after one more replay, unsat with its proof (None: not certifiable)."""
    stats.update(res.stats)
    if res.status == "sat":
        return _sat_from_flat(graph, region, spec, res.x, done)
    if res.status == "unsat":
        return done("unsat", evidence="computed", proofs=[proof])
    return done(res.status)


def _sat_from_flat(graph, region, spec, x, done) -> Verdict:
    """A counterexample found inside BaB, replayed once more as the reported point."""
    x = np.clip(np.asarray(x, np.float64).reshape((1,) + region.shape), region.lo, region.hi)
    f_real, f32, _ = replay(graph, region, spec, x)
    if not f_real[0]:
        return done("unknown")
    return done("sat", counterexample=(x[0], _output(graph, x)), evidence="checked", binary32_replays=bool(f32[0]))


def _generic(graph, region, spec, stats, done, deadline, certifiable=False) -> Verdict:
    """Graphs the chain engine does not take: one alpha-CROWN bound of the box, then
    (few inputs) input splitting with batched CROWN of :mod:`certnn.bounds`, whose
    split tree is the proof. ``certifiable`` with few inputs skips the alpha-CROWN
    shortcut (its tangent points and slopes are not recorded for the checker): the
    split starts from the whole box, bounded by plain CROWN."""
    few = int(np.prod(region.shape)) <= INPUT_SPLIT_DIMS
    if not (certifiable and few):
        from ..bounds import compute_bounds
        b = compute_bounds(graph, region, spec, method="alpha-crown")
        if spec.holds(b.lb)[0]:
            return done("unsat", evidence="computed", proofs=[None])
    if not few:
        return done("unknown")
    from .bab_generic import input_split_generic
    res = input_split_generic(graph, region, spec, deadline, _replayer(graph, region, spec))
    return _conclude(res, res.tree, graph, region, spec, stats, done)


def _graph_split(graph, region, spec, stats, done, deadline, certifiable=False, seed=0, options=None) -> Verdict:
    """Graphs with many inputs that are not chains of dense layers (convolutional,
    residual): ReLU-split BaB on the whole graph (:mod:`certnn.verify.bab_graph`).
    Root: intermediate bounds by ``GraphBabOptions.root`` (alpha-CROWN by
    default), then alpha-CROWN on the spec rows alone (the intermediate bounds
    fixed). Each group of the spec still open after that is
    then searched on its own (a group's rows are all it needs to prove), the
    weakest first. ``certifiable``: the same search, every group searched and its
    proof recorded, the groups proved at the root included (a one-leaf proof); the
    root's alpha-CROWN slopes are recorded too (sparse: the rows it tightened, at
    the neurons unstable at the root), so the checker re-derives the same root
    bounds once for the whole box; a case the CROWN root proves keeps that root
    (no slopes, no alpha root)."""
    from ..bounds.net import analyze
    from ..bounds.split import relu_inputs, split_bounds
    from .bab_graph import PRECISIONS, PROOF_MARGIN, GraphBabOptions, group_score, relu_split_graph, root_bounds
    opt = options or GraphBabOptions()
    net = analyze(graph)
    if not relu_inputs(net):
        return _generic(graph, region, spec, stats, done, deadline, certifiable)
    search = dict(batch=opt.batch, iters=opt.iters, branching=opt.branching, topk=opt.topk, precision=opt.precision,
                  lr_alpha=opt.lr_alpha, lr_beta=opt.lr_beta, lazy=opt.lazy, fsb_reduce=opt.fsb_reduce)
    C, d, groups = spec.C[:1], spec.d[:1], spec.groups
    on_cex = _attack_replayer(graph, region, spec, seed)
    record, root = None, None
    if certifiable:
        search["lazy"] = None
        # what the default's quick check proves (CROWN root, alpha on the spec rows)
        # needs no root slopes: skip the alpha root (11-20 s on sri_resnet_a)
        root = root_bounds(net, region, "crown", deadline=deadline)
        if root is None or time.monotonic() > deadline:
            return done("timeout")
        sb = split_bounds(net, region, C, d, root, {}, iters=opt.spec_iters, deadline=deadline,
                          work=PRECISIONS[opt.precision])
        if opt.root == "alpha-crown" and not group_score(sb.lb, groups)[0] > PROOF_MARGIN:
            root = None
        record = {} if root is None else None     # the checker re-derives the root with these slopes
    if root is None:
        root = root_bounds(net, region, opt.root, opt.root_iters, deadline=deadline,
                           alpha_stop=time.monotonic() + opt.root_share * (deadline - time.monotonic()), record=record)
        if root is None or time.monotonic() > deadline:
            return done("timeout")
        sb = split_bounds(net, region, C, d, root, {}, iters=opt.spec_iters, deadline=deadline,
                          work=PRECISIONS[opt.precision])
    stats["alpha_crown_lb"] = float(group_score(sb.lb, groups)[0])
    per_group = [float(sb.lb[0, groups == g].max()) for g in range(spec.n_groups)]
    totals: dict = {}
    proofs = []
    for g in sorted((g for g in range(spec.n_groups) if per_group[g] <= 0 or certifiable),
                    key=lambda g: per_group[g]):
        rows = groups == g
        res = relu_split_graph(net, region, C[:, rows], d[:, rows], np.zeros(int(rows.sum()), int), root, deadline,
                               on_cex, alphas={k: v[:, rows] for k, v in sb.alphas.items()}, root_iters=0,
                               refresh=opt.refresh and not certifiable, record=certifiable, **search)
        if res.proof is not None:
            res.proof.group = int(g)
            res.proof.root_slopes = record or None
        proofs.append(res.proof)
        for k, v in res.stats.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                totals[k] = v
            elif k in ("root_lb", "worst_lb"):          # the weakest group's
                totals[k] = min(totals.get(k, np.inf), v)
            else:
                totals[k] = max(totals.get(k, 0), v) if k == "max_depth" else totals.get(k, 0) + v
        if res.status != "unsat":
            res.stats = dict(totals, group=int(g))
            return _conclude(res, None, graph, region, spec, stats, done)
    stats.update(totals)
    return done("unsat", evidence="computed", proofs=[proofs if certifiable and all(proofs) else None])


def _attack_replayer(graph, region, spec, seed, steps: int = 5, most: int = 8):
    """on_cex(flat points) for the graph engine: a few PGD steps from the (at most
    ``most``) given points, then the replay; returns a counterexample (flat) or None."""
    def on_cex(points):
        pts = np.asarray(points, np.float64)[:most]
        n = len(pts)
        if n == 0:
            return None
        reg = Region(np.repeat(region.lo, n, 0), np.repeat(region.hi, n, 0), region.norm,
                     None if region.center is None else np.repeat(region.center, n, 0), region.eps)
        sp = LinearSpec(np.repeat(spec.C, n, 0), np.repeat(spec.d, n, 0), spec.groups, spec.kind)
        res = pgd(graph, reg, sp, steps=steps, restarts=1, seed=seed, x0=pts.reshape((n,) + region.shape),
                  binary32="hits")
        hit = np.flatnonzero(res.found_real)
        return res.x[hit[0]].reshape(-1) if hit.size else None
    return on_cex


def _output(graph, x) -> np.ndarray:
    from ..ir.run import run
    return np.asarray(run(graph, np.asarray(x, np.float64), semantics="real"), np.float64).reshape(-1)


def _replayer(graph, region, spec):
    """on_cex(rows) -> index of the first row that replays in real semantics, or None."""
    def on_cex(rows):
        rows = np.asarray(rows, np.float64)
        n = len(rows)
        x = rows.reshape((n,) + region.shape)
        x = np.clip(x, region.lo, region.hi)
        reg = Region(np.repeat(region.lo, n, 0), np.repeat(region.hi, n, 0))
        sp = LinearSpec(np.repeat(spec.C, n, 0), np.repeat(spec.d, n, 0), spec.groups, spec.kind)
        f_real, _, _ = replay(graph, reg, sp, x, binary32="hits")
        hit = np.flatnonzero(f_real)
        return int(hit[0]) if hit.size else None
    return on_cex


FALSIFY_SHARE = 0.25      # of a case's time, at most, for the attacks before any bound


def _falsify(graph, region, spec, seed, stats, deadline=None, phase: str = "all"):
    """(x, y, binary32_replays) of a replayed counterexample, or None. The PGD
    passes stop at ``deadline`` (the search goes on inside branch and bound).
    ``phase``: "quick" (the first, short PGD pass only), "rest" (the others) or "all"."""
    flat = int(np.prod(region.shape))
    G = spec.n_groups
    tries = [("pgd", 1, dict(steps=50, restarts=1)), ("pgd", G * -(-16 // G), dict(steps=100, restarts=3))]
    if flat <= INPUT_SPLIT_DIMS:
        # low-dimensional: many samples (faces and corners included), then small PGD
        # steps from the best of them (ACAS Xu 1_9 property 7: a violation of 4e-4 at a
        # face that PGD from the centre and random starts ends 5e-4 short of)
        many = 40000 if fixed_batch(graph) is None else 2000      # a fixed batch runs one sample at a time
        tries[1:1] = [("random", 1, dict(samples=many, chunk=4096, faces=0.5)),
                      ("refine", 1, dict(steps=150, restarts=1, step_size=0.05))]
    tries = tries[:1] if phase == "quick" else tries[1:] if phase == "rest" else tries
    best = None
    for name, copies, kw in tries:
        # copies of the region: the random restarts of all copies run as one batch
        reg = Region(np.repeat(region.lo, copies, 0), np.repeat(region.hi, copies, 0), region.norm,
                     None if region.center is None else np.repeat(region.center, copies, 0), region.eps)
        sp = LinearSpec(np.repeat(spec.C, copies, 0), _targeted(spec, copies), spec.groups, spec.kind)
        if name == "pgd":
            res = pgd(graph, reg, sp, seed=seed, deadline=deadline, binary32="hits", **kw)
        elif name == "refine":
            res = pgd(graph, reg, sp, seed=seed, deadline=deadline, binary32="hits", x0=best, **kw)
        else:
            res = random_search(graph, reg, sp, seed=seed, **kw)
            best = res.x
        stats[f"{name}_score"] = min(stats.get(f"{name}_score", np.inf), float(res.score.min()))
        hit = np.flatnonzero(res.found_real)
        if hit.size:
            x = res.x[hit[0]]
            return x, _output(graph, x[None]), bool(res.found_binary32[hit[0]])
    return None


def _targeted(spec, copies: int) -> np.ndarray:
    """Offsets for ``copies`` copies of the one-example spec, copy c aimed at group
    c mod G (margin targeting): the other groups' rows are lifted far above 0,
    so the violation score of the copy is its group's and a counterexample it
    finds violates that group of the original spec as written (a single copy
    keeps every group)."""
    d = np.repeat(spec.d[:1], copies, 0)
    if copies == 1 or spec.n_groups == 1:
        return d
    target = np.arange(copies) % spec.n_groups
    return d + np.where(spec.groups[None, :] != target[:, None], TARGET_LIFT, 0.0)


TARGET_LIFT = 1e9


def verify_property(graph, cases, timeout: float, seed: int = 0, certifiable: bool = False,
                    graph_options=None) -> Verdict:
    """A VNNLIB property: ``cases`` [(Region, LinearSpec)]; violated when any case is.
    ``sat`` on the first violated case; ``unsat`` when every case is; otherwise the
    first non-decided status (timeout before unknown)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    mlp = None
    try:
        mlp = extract_chain(graph)
    except NotAChain:
        pass
    verdicts = []
    for region, spec in cases:
        if time.monotonic() > deadline:
            verdicts.append(Verdict("timeout"))
            break
        v = verify_case(graph, region, spec, timeout, seed=seed, mlp=mlp, deadline=deadline, certifiable=certifiable,
                        graph_options=graph_options)
        verdicts.append(v)
        if v.status == "sat":
            break
    stats = {"cases": len(cases), "per_case": [dict(status=v.status, seconds=round(v.seconds, 3), **v.stats)
                                                for v in verdicts]}
    for k in ("branches", "max_depth", "bounded", "leaves"):
        vals = [v.stats.get(k) for v in verdicts if isinstance(v.stats.get(k), int)]
        if vals:
            stats[k] = max(vals) if k == "max_depth" else sum(vals)
    secs = time.monotonic() - t0
    sat = [v for v in verdicts if v.status == "sat"]
    if sat:
        v = sat[0]
        return Verdict("sat", v.counterexample, secs, stats, "checked", v.binary32_replays)
    if len(verdicts) == len(cases) and all(v.status == "unsat" for v in verdicts):
        return Verdict("unsat", None, secs, stats, "computed", proofs=[v.proofs[0] for v in verdicts])
    status = "timeout" if any(v.status == "timeout" for v in verdicts) else "unknown"
    return Verdict(status, None, secs, stats)
