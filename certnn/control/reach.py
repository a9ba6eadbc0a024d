"""Closed-loop reachability: decide a scenario, and build its reach tube.

The producer. Per scenario:

1. **Falsification first.** Simulate the centre, the corners and random points
   of the initial box (:mod:`.simulate`); a trajectory that violates the spec by
   more than a small tolerance is replayed on its own with tighter tolerances, in
   the network's real and binary32 semantics, before ``falsified`` is reported.
   A validated tube from a tiny box around that initial point that lies inside
   the unsafe set (or outside the target) makes the evidence ``checked``;
   otherwise it is ``tested``.
2. **Reach tube.** The initial box is split into pieces (only the dimensions of
   positive width are variables). Each piece's states are Taylor models in the
   normalized initial state z. Per control period: the network input's TM gives
   a box, CROWN a linear bound of the network over it
   (:class:`.controller.ControllerBounds`), substituted into the TMs to form the
   control; then one validated step (:func:`.flow.flow_step`, a priori box
   searched here) or the discrete map (:func:`.flow.map_step`); the spec is
   checked on the enclosures of every time sub-interval in the window
   (:mod:`.sets`). A piece that fails (the spec not shown, an enclosure that
   blows up, no a priori box) is split in two along the initial-state variable
   that its failing quantity is most sensitive to and started again, up to
   ``max_depth`` splits and ``max_pieces`` pieces.
3. ``verified`` when every piece's tube satisfies the spec (evidence
   ``checked`` at this stage: sound arithmetic in process; ``certified`` once
   the tube checker accepts the written tube); ``unknown`` otherwise (with a
   last search for counterexamples inside the pieces that could not be shown).
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from ..floats import interval as iv
from .controller import ControllerBounds
from .tube import Claims, Tube
from .flow import flow_step, interval_rhs, map_step, picard_ok
from .problem import Problem, ProblemError, Scenario, load_problem
from .sets import check_times, functional, in_window, target_margin, unsafe_margin
from .simulate import Loop, corners_and_samples, margins, simulate
from .closed_loop import LoopTM
from .taylor import TM, absorb, qiv

BLOWUP = 1e6            # a piece whose enclosure is wider than this (relative to its scale) failed
PAD = 2.0 ** -30        # relative widening of recorded sets and claim boxes: the checker rounds differently


@dataclass
class Settings:
    tm_order: int = 3            # Taylor-model order in the initial-state variables
    time_order: int = 5          # Taylor order in time (Lagrange remainder of this order)
    sub: int = 4                 # time sub-intervals per period where a safety window is checked
    substeps: int = 1            # integration steps per control period
    split: tuple | None = None   # initial split: pieces per free dimension (None: chosen, see ``pieces``)
    pieces: int = 8              # without ``split``: about this many initial pieces, by controller sensitivity
    max_pieces: int = 4096
    max_depth: int = 12
    batch: int = 256
    time_limit: float = 300.0
    method: str = "crown"
    falsify: int = 64            # random falsification samples (plus centre and corners)
    seed: int = 0

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class ReachResult:
    problem: str
    scenario: str
    verdict: str                     # verified | falsified | unknown
    seconds: float
    margin: float | None             # tightest margin (> 0: satisfied; < 0: violation)
    evidence: str | None
    assumptions: tuple
    expected: str | None
    pieces: int = 0
    counterexample: dict | None = None
    tube: Tube | None = None
    stats: dict = field(default_factory=dict)

    @property
    def wrong(self) -> bool:
        return self.expected is not None and self.verdict in ("verified", "falsified") and \
            self.verdict != self.expected

    def to_dict(self) -> dict:
        return {"problem": self.problem, "scenario": self.scenario, "verdict": self.verdict,
                "seconds": round(self.seconds, 3), "margin": self.margin, "evidence": self.evidence,
                "assumptions": list(self.assumptions), "expected": self.expected, "wrong": self.wrong,
                "pieces": self.pieces, "counterexample": self.counterexample, "stats": self.stats}


ASSUME_VERIFIED = ("problem-expressions-parsed", "arb-ball-arithmetic") + iv.BLAS
ASSUME_TESTED = ("problem-expressions-parsed", "simulation-tolerance")
ASSUMPTIONS = {
    "simulation-tolerance":
        "scipy's solve_ivp (DOP853, rtol 1e-10, atol 1e-12) follows the exact trajectory to well within the "
        "reported violation margin; a falsifying point given in binary64 stands for the decimal initial "
        "state next to it (used for 'falsified' with evidence 'tested' only)",
}


# ------------------------------------------------------------------ the closed loop in TM arithmetic

class ClosedLoop(LoopTM):
    """One scenario's loop in TM arithmetic with its controller bounds (CROWN) and
    the search for a priori boxes."""

    def __init__(self, problem: Problem, scenario: Scenario, settings: Settings):
        super().__init__(problem, scenario, settings.tm_order)
        self.cfg = settings
        self.bounds = ControllerBounds(problem.controller_of(scenario).graph, settings.method)

    def apriori(self, X: TM, params: dict, h: Fraction):
        """Search an a priori box: iterate B <- hull(X) + [0, h] f(B), inflated."""
        _, h_hi = qiv(h)
        xl, xh = X.range()
        Bl, Bh = xl.copy(), xh.copy()
        for it in range(12):
            fl, fh = interval_rhs(self.f, self.p.states, Bl, Bh, params)
            cl, ch = iv.add(xl, xh, *iv.mul(fl, fh, 0.0, h_hi))
            w = ch - cl
            grow = 0.1 * w + 1e-12 * (1 + np.abs(cl) + np.abs(ch)) + (it >= 6) * w
            nl, nh = np.minimum(Bl, cl - grow), np.maximum(Bh, ch + grow)
            if not (np.isfinite(nl).all() and np.isfinite(nh).all()):
                break
            Bl, Bh = nl, nh
            if picard_ok(self.f, self.p.states, X, params, h_hi, Bl, Bh).all():
                break
        return Bl, Bh


# ------------------------------------------------------------------ one batch of pieces

def _scale(X: TM) -> np.ndarray:
    lo, hi = X.range()
    return np.max(np.maximum(np.abs(lo), np.abs(hi)), -1)


def run_batch(loop: ClosedLoop, lo: np.ndarray, hi: np.ndarray, deadline: float, progress=None):
    """Tubes of the pieces [lo, hi] (P, n). Returns (alive mask, records, failures)
    where failures maps a failed piece index to (reason, sensitivity weights)."""
    p, s, cfg = loop.p, loop.s, loop.cfg
    prop = s.prop
    P = lo.shape[0]
    X = loop.initial(lo, hi)
    X0_scale = _scale(X) + 1.0
    idx = np.arange(P)                              # original index of each live row
    states, claims, aprioris = [X], [], []
    margin = np.full(P, np.inf)
    tmargin = np.full(P, -np.inf)                   # best target margin over the checked times
    failures = {}
    period = p.period

    def drop(bad, why, weights):
        nonlocal X, idx, states, claims, aprioris, margin, tmargin
        for r in np.flatnonzero(bad):
            failures[int(idx[r])] = (why, weights[r] if weights is not None else None, states[-1][r])
        keep = ~bad
        X, idx = X[keep], idx[keep]
        states = [t[keep] for t in states]
        claims = [_take_claim(c, keep) for c in claims]
        aprioris = [[(a[keep], b[keep]) for a, b in ap] for ap in aprioris]
        margin, tmargin = margin[keep], tmargin[keep]

    def check_unsafe(E: TM):
        """E: enclosures (..., P, n) at checked times."""
        nonlocal margin
        m = unsafe_margin(prop, E)
        margin = np.minimum(margin, m.min(0) if m.ndim > 1 else m)

    def check_target(E: TM):
        nonlocal tmargin
        m = target_margin(prop, E)
        tmargin = np.maximum(tmargin, m.max(0) if m.ndim > 1 else m)

    def discrete_checks(X, t):
        if prop.unsafe and in_window(prop.window, t, t):
            check_unsafe(X)
        if prop.target and in_window(prop.target_window, t, t):
            check_target(X)

    if p.time == "discrete":
        discrete_checks(X, Fraction(0))
    for k in range(s.steps):
        if X.shape[0] == 0 or time.monotonic() > deadline:
            break
        t_k = period * k
        V, Vlo, Vhi = loop.network_input(X)
        finite = np.isfinite(Vlo).all(-1) & np.isfinite(Vhi).all(-1)
        if not finite.all():
            drop(~finite, "blow-up", None)
            if X.shape[0] == 0:
                break
            V, Vlo, Vhi = loop.network_input(X)
        claim = loop.bounds(*_widen(Vlo, Vhi))
        params = loop.controls(X, V, claim.a, claim.r_lo, claim.r_hi)
        if p.time == "continuous":
            h = period / cfg.substeps
            aps, ok_all = [], np.ones(X.shape[0], bool)
            Xn = X
            for j in range(cfg.substeps):
                ta = t_k + h * j
                Bl, Bh = loop.apriori(Xn, params, h)
                tu = check_times(prop.window, ta, h, cfg.sub) if prop.unsafe else []
                tt = check_times(prop.target_window, ta, h, cfg.sub) \
                    if prop.target and prop.target_window[0] < prop.target_window[1] else []
                ok, Xn, pieces = flow_step(loop.f, p.states, Xn, params, h, cfg.time_order, Bl, Bh, tu + tt)
                ok_all &= ok
                aps.append((Bl, Bh))
                if tu:
                    check_unsafe(pieces[:len(tu)])
                if tt:
                    check_target(pieces[len(tu):])
            claims.append(claim)
            aprioris.append(aps)
            X = absorb(Xn, PAD)
            states.append(X)
            bad = ~ok_all
            if bad.any():
                drop(bad, "a priori", None)
        else:
            claims.append(claim)
            X = absorb(map_step(loop.f, p.states, X, params), PAD)
            states.append(X)
            discrete_checks(X, period * (k + 1))
        if X.shape[0] == 0:
            break
        lo_, hi_ = X.range()
        width = np.max(hi_ - lo_, -1)
        blown = ~np.isfinite(width) | (width > BLOWUP * X0_scale[idx])
        if blown.any():
            drop(blown, "blow-up", None)
        if prop.unsafe and X.shape[0]:
            bad = margin <= 0
            if bad.any():
                drop(bad, "spec", _weights(prop, X, "unsafe"))
        if progress is not None:
            progress(k + 1, s.steps)
    if X.shape[0] and time.monotonic() <= deadline and len(states) == s.steps + 1:
        if prop.target and p.time == "continuous" and in_window(prop.target_window, period * s.steps,
                                                                  period * s.steps):
            check_target(X)
        if prop.target:
            margin = np.minimum(margin, tmargin)
            bad = ~(tmargin >= 0)
            if bad.any():
                drop(bad, "spec", _weights(prop, X, "target"))
    complete = X.shape[0] > 0 and len(states) == s.steps + 1
    if not complete:
        for r in range(X.shape[0]):
            failures[int(idx[r])] = ("time limit", None, X[r])
        idx = idx[:0]
    return idx, states, claims, aprioris, margin, failures


def _widen(lo, hi):
    """The box widened by PAD relative to its width and magnitude (outward rounded)."""
    w = PAD * ((hi - lo) + np.abs(lo) + np.abs(hi)) + 2.0 ** -1022
    return iv.down(lo - w), iv.up(hi + w)


def _take_claim(c: Claims, keep) -> Claims:
    return Claims(c.lo[keep], c.hi[keep], c.a[keep], c.r_lo[keep], c.r_hi[keep],
                        {k: (a[keep], b[keep]) for k, (a, b) in c.anchors.items()},
                        {k: (v[keep] if v.shape[0] == keep.size else v) for k, v in c.alphas.items()})


def _weights(prop, X: TM, kind: str):
    """Per piece, weights over the states for the split direction: the spec's coefficients."""
    hs = [h for poly in prop.unsafe for h in poly] if kind == "unsafe" else list(prop.target)
    w = np.zeros(X.shape[-1])
    for h in hs:
        w += np.abs(h.a_float)
    return np.broadcast_to(w, X.shape)


def _split_dim(loop: ClosedLoop, X: TM, weights, lo, hi) -> int:
    """The free dimension to bisect for a failed piece (X: its state TM, shape (n,)):
    the variable with the largest weighted linear coefficient (its sensitivity),
    else the widest."""
    nv = len(loop.free)
    if nv == 0:
        return -1
    lin = np.abs(X.c[:, [loop.b.linear_index(v) for v in range(nv)]])     # (n, nv)
    if weights is None:
        xl, xh = X.range()
        weights = 1.0 / np.maximum(xh - xl, 1e-300)
    sens = np.nan_to_num(np.asarray(weights, np.float64) @ lin, nan=0.0, posinf=0.0)
    if not np.any(sens > 0):
        return loop.free[int(np.argmax((hi - lo)[list(loop.free)]))]
    return loop.free[int(np.argmax(sens))]


# ------------------------------------------------------------------ the whole scenario

def initial_pieces(scenario: Scenario, split) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = scenario.lo, scenario.hi
    if not split:
        return lo[None].copy(), hi[None].copy()
    free = np.flatnonzero(hi > lo)
    counts = np.ones(lo.size, int)
    for j, d in enumerate(free):
        counts[d] = split[j] if j < len(split) else 1
    grids = [np.linspace(lo[i], hi[i], counts[i] + 1) if counts[i] > 1 else np.array([lo[i], hi[i]])
             for i in range(lo.size)]
    cells = np.stack(np.meshgrid(*[np.arange(len(g) - 1) for g in grids], indexing="ij"), -1).reshape(-1, lo.size)
    plo = np.array([[grids[i][c[i]] for i in range(lo.size)] for c in cells])
    phi = np.array([[grids[i][c[i] + 1] for i in range(lo.size)] for c in cells])
    return plo, phi


def sensitive_split(loop: ClosedLoop, count: int) -> tuple:
    """Pieces per free dimension (product about ``count``): double the count of the
    dimension whose share of the first control's variation is largest. The shares
    are the linear coefficients, in the initial-state variables, of the controls'
    Taylor models on the whole box (the network input TM times CROWN's slopes)."""
    nv = len(loop.free)
    if nv == 0 or count <= 1:
        return ()
    s = loop.s
    X = loop.initial(s.lo[None], s.hi[None])
    V, vlo, vhi = loop.network_input(X)
    claim = loop.bounds(*_widen(vlo, vhi))
    params = loop.controls(X, V, claim.a, claim.r_lo, claim.r_hi)
    sens = np.zeros(nv)
    for u in loop.p.controls:
        U = params[u]
        lin = np.abs(np.array([U.c[0, loop.b.linear_index(v)] for v in range(nv)]))
        if lin.sum() > 0:
            sens += lin / lin.sum()
    counts = np.ones(nv, int)
    while counts.prod() * 2 <= count and np.any(sens > 0):
        counts[int(np.argmax(sens / counts))] *= 2
    return tuple(int(c) for c in counts)


def build_tube(loop: ClosedLoop, plo, phi, deadline, progress=None):
    """Pieces queue with splitting. Returns (tube or None, unresolved pieces (lo, hi), stats)."""
    cfg = loop.cfg
    queue = [(plo[i], phi[i], 0) for i in range(plo.shape[0])]
    parts, unresolved = [], []
    root_vol = _volume(loop.s.lo, loop.s.hi, loop.free)
    stats = {"batches": 0, "splits": 0, "pieces_tried": 0}
    done_vol = 0.0
    while queue and not unresolved:
        if time.monotonic() > deadline:
            unresolved += [(a, b) for a, b, _ in queue]
            break
        batch, queue = queue[:cfg.batch], queue[cfg.batch:]
        lo = np.stack([q[0] for q in batch])
        hi = np.stack([q[1] for q in batch])
        depth = np.array([q[2] for q in batch])
        stats["batches"] += 1
        stats["pieces_tried"] += len(batch)
        alive, states, claims, aps, margin, failures = run_batch(loop, lo, hi, deadline)
        if alive.size:
            parts.append((lo[alive], hi[alive], states, claims, aps, margin))
            done_vol += sum(_volume(lo[i], hi[i], loop.free) for i in alive)
            if progress is not None:
                progress(min(done_vol / root_vol, 1.0) if root_vol > 0 else 1.0)
        for i, (why, weights, Xf) in sorted(failures.items()):
            total = sum(len(x[0]) for x in parts) + len(queue) + 2
            if why == "time limit" or depth[i] >= cfg.max_depth or total > cfg.max_pieces:
                unresolved.append((lo[i], hi[i]))
                continue
            d = _split_dim(loop, Xf, weights, lo[i], hi[i])
            if d < 0:
                unresolved.append((lo[i], hi[i]))
                continue
            mid = (lo[i][d] + hi[i][d]) / 2
            a_hi, b_lo = hi[i].copy(), lo[i].copy()
            a_hi[d], b_lo[d] = mid, mid
            queue += [(lo[i], a_hi, depth[i] + 1), (b_lo, hi[i], depth[i] + 1)]
            stats["splits"] += 1
    if unresolved or not parts:
        return None, unresolved, stats
    return _assemble(loop, parts), [], stats


def _volume(lo, hi, free) -> float:
    return float(np.prod([(hi[i] - lo[i]) for i in free])) if free else 1.0


def _assemble(loop: ClosedLoop, parts) -> Tube:
    from .taylor import concat
    plo = np.concatenate([p[0] for p in parts])
    phi = np.concatenate([p[1] for p in parts])
    steps = len(parts[0][2])
    states = [concat([p[2][k] for p in parts]) for k in range(steps)]
    claims = [_cat_claims([p[3][k] for p in parts]) for k in range(len(parts[0][3]))]
    aps = [[(np.concatenate([p[4][k][j][0] for p in parts]), np.concatenate([p[4][k][j][1] for p in parts]))
            for j in range(len(parts[0][4][k]))] for k in range(len(parts[0][4]))]
    margin = np.concatenate([p[5] for p in parts])
    cfg = loop.cfg
    settings = {"tm_order": cfg.tm_order, "time_order": cfg.time_order, "sub": cfg.sub, "substeps": cfg.substeps,
                "method": cfg.method, "semantics": "real"}
    return Tube(loop.p, loop.s, settings, loop.free, plo, phi, states, claims, aps, margin)


def _cat_claims(cs) -> Claims:
    cat = np.concatenate
    anchors = {k: (cat([c.anchors[k][0] for c in cs]), cat([c.anchors[k][1] for c in cs])) for k in cs[0].anchors}
    alphas = {}
    for k in cs[0].alphas:
        vs = [c.alphas[k] for c in cs]
        alphas[k] = cat([np.broadcast_to(v, (c.lo.shape[0],) + v.shape[1:]) for v, c in zip(vs, cs)])
    return Claims(cat([c.lo for c in cs]), cat([c.hi for c in cs]), cat([c.a for c in cs]),
                        cat([c.r_lo for c in cs]), cat([c.r_hi for c in cs]), anchors, alphas)


# ------------------------------------------------------------------ falsification

def falsify(problem: Problem, scenario: Scenario, points: np.ndarray, tol: float = 1e-7):
    """The first point whose trajectory violates the spec by more than ``tol`` (after a
    replay of it alone with tighter tolerances, in real and binary32 semantics), or None."""
    loop = Loop.of(problem, scenario)
    per = 20 if problem.time == "continuous" else 1
    tr = simulate(loop, points, per_period=per)
    m = margins(scenario.prop, tr)
    bad = np.flatnonzero(m < -tol)
    for i in bad[np.argsort(m[bad])][:5]:
        x0 = points[i:i + 1]
        replay = simulate(loop, x0, per_period=per * 2, rtol=1e-12, atol=1e-14)
        mr = float(margins(scenario.prop, replay)[0])
        if mr < -tol:
            b32 = simulate(loop, x0, "binary32", per_period=per * 2, rtol=1e-12, atol=1e-14)
            mb = float(margins(scenario.prop, b32)[0])
            viol = _violation_time(scenario, replay)
            return {"x0": x0[0].tolist(), "margin": mr, "binary32_margin": mb, "binary32_replays": mb < -tol,
                    "time": viol}
    return None


def _violation_time(scenario, tr) -> float | None:
    prop = scenario.prop
    if prop.unsafe:
        from .simulate import _hs
        t = tr.times
        w = (t >= float(prop.window[0]) - 1e-12) & (t <= float(prop.window[1]) + 1e-12)
        v = _hs(prop.unsafe, tr.states[0, w]).min(-1)
        return float(t[w][int(np.argmin(v))])
    return float(tr.times[-1])


def confirm_falsification(problem, scenario, x0, settings: Settings) -> bool:
    """A validated tube from a tiny box around x0 (one binary64 step each side) that
    lies inside an unsafe polyhedron at some checked time, or outside the target: a
    proof that the exact trajectories from that box violate the spec."""
    x0 = np.asarray(x0, np.float64)
    lo, hi = np.minimum(np.maximum(iv.down(x0), scenario.lo), x0), np.maximum(np.minimum(iv.up(x0), scenario.hi), x0)
    if not scenario.contains_exact(lo, hi):
        return False
    s = replace(scenario, lo=lo, hi=hi)
    cfg = replace(settings, split=None)
    loop = ClosedLoop(problem, s, cfg)
    return _tube_violates(loop)


def _tube_violates(loop: ClosedLoop) -> bool:
    """Integrate one piece and look for an enclosure inside an unsafe polyhedron (every
    half-space's max <= 0) at a time in the window, or a final set outside the target."""
    p, s, cfg = loop.p, loop.s, loop.cfg
    prop = s.prop
    X = loop.initial(s.lo[None], s.hi[None])

    def inside_unsafe(E):
        return any(all(bool(np.any(functional(E, h).range()[1] <= 0)) for h in poly) for poly in prop.unsafe)

    for k in range(s.steps):
        t_k = p.period * k
        V, Vlo, Vhi = loop.network_input(X)
        claim = loop.bounds(Vlo, Vhi)
        params = loop.controls(X, V, claim.a, claim.r_lo, claim.r_hi)
        if p.time == "continuous":
            h = p.period
            Bl, Bh = loop.apriori(X, params, h)
            times = check_times(prop.window, t_k, h, 16) if prop.unsafe else []
            ok, X, pieces = flow_step(loop.f, p.states, X, params, h, cfg.time_order, Bl, Bh, times)
            if not ok.all():
                return False
            if any(inside_unsafe(pieces[j]) for j in range(len(times))):
                return True
        else:
            X = map_step(loop.f, p.states, X, params)
            if prop.unsafe and in_window(prop.window, t_k + p.period, t_k + p.period) and inside_unsafe(X):
                return True
        X = absorb(X)
    if prop.target and prop.target_window[0] == prop.target_window[1]:
        return any(functional(X, h).range()[0][0] > 0 for h in prop.target)
    return False


# ------------------------------------------------------------------ entry points

def decide(problem: Problem | str, scenario: str | None = None, settings: Settings | None = None,
           progress=None, want_tube: bool = True, executor=None, workers: int = 1) -> ReachResult:
    """Decide one scenario: verified (sound tube), falsified (replayed trajectory) or
    unknown. With an ``executor`` (:mod:`certnn.executor`) the initial box is cut into
    at least ``workers`` pieces whose tubes are built in parallel."""
    t0 = time.perf_counter()
    if not isinstance(problem, Problem):
        problem = load_problem(problem)
    s = problem.scenario(scenario)
    cfg = settings or default_settings(problem, s)
    deadline = time.monotonic() + cfg.time_limit
    rng = np.random.default_rng(cfg.seed)
    pts = s.inner_points(corners_and_samples(s.lo, s.hi, cfg.falsify, rng))
    cex = falsify(problem, s, pts)
    stats = {}
    if cex is not None:
        return _falsified(problem, s, cfg, cex, t0, stats)
    loop = ClosedLoop(problem, s, cfg)
    plo, phi = initial_pieces(s, cfg.split if cfg.split else sensitive_split(loop, cfg.pieces))
    if executor is not None and workers > 1:
        tube, unresolved, stats = _build_parallel(loop, plo, phi, executor, workers, deadline, progress)
    else:
        tube, unresolved, stats = build_tube(loop, plo, phi, deadline, progress)
    if tube is not None:
        margin = float(np.min(tube.margin)) if tube.margin.size else None
        return ReachResult(problem.name, s.name, "verified", time.perf_counter() - t0, margin, "checked",
                           ASSUME_VERIFIED, s.expected, tube.pieces, None, tube if want_tube else None, stats)
    # a last search for counterexamples inside the pieces that could not be shown
    extra = [corners_and_samples(a, b, 16, rng) for a, b in unresolved[:32]]
    if extra:
        cex = falsify(problem, s, s.inner_points(np.concatenate(extra)))
        if cex is not None:
            return _falsified(problem, s, cfg, cex, t0, stats)
    stats["unresolved"] = len(unresolved)
    return ReachResult(problem.name, s.name, "unknown", time.perf_counter() - t0, None, None, (), s.expected,
                       0, None, None, stats)


def _cut(lo, hi, free, k: int):
    """At least k pieces: bisect the widest free dimension (relative to the root) of the
    largest piece until there are k."""
    root = np.where(hi[0] > lo[0], hi[0] - lo[0], 1.0) if lo.ndim > 1 else hi - lo
    pieces = [(a, b) for a, b in zip(lo, hi)]
    while len(pieces) < k and free:
        i = int(np.argmax([_volume(a, b, free) for a, b in pieces]))
        a, b = pieces.pop(i)
        d = free[int(np.argmax([(b[j] - a[j]) / root[j] for j in free]))]
        m = (a[d] + b[d]) / 2
        a2, b1 = b.copy(), a.copy()
        a2[d], b1[d] = m, m
        pieces += [(a, a2), (b1, b)]
    return np.stack([p[0] for p in pieces]), np.stack([p[1] for p in pieces])


def _tube_job(item):
    """Worker: the tube of some pieces (the problem is read again in the worker)."""
    folder, scenario, cfg, lo, hi, seconds = item
    problem = load_problem(folder)
    loop = ClosedLoop(problem, problem.scenario(scenario), cfg)
    tube, unresolved, stats = build_tube(loop, lo, hi, time.monotonic() + seconds)
    if tube is not None:
        tube.problem = tube.scenario = None          # the parent has them; keep the payload small
    return tube, unresolved, stats


def _build_parallel(loop, plo, phi, executor, workers, deadline, progress):
    lo, hi = _cut(plo, phi, loop.free, workers)
    items = [(str(loop.p.folder), loop.s.name, loop.cfg, lo[i:i + 1], hi[i:i + 1], deadline - time.monotonic())
             for i in range(lo.shape[0])]
    parts, unresolved, stats = [], [], {"batches": 0, "splits": 0, "pieces_tried": 0, "jobs": len(items)}
    done = 0
    for _, (tube, unres, st) in executor.map(_tube_job, items):
        unresolved += unres
        for k in ("batches", "splits", "pieces_tried"):
            stats[k] += st.get(k, 0)
        if tube is not None:
            parts.append(tube)
        done += 1
        if progress is not None:
            progress(done / len(items))
    if unresolved or len(parts) != len(items):
        return None, unresolved, stats
    return _merge(loop, parts), [], stats


def _merge(loop, tubes) -> Tube:
    """One tube from the tubes of disjoint pieces (computed in other processes)."""
    from .taylor import concat
    b = loop.b
    rebase = lambda t: TM(t.c, t.lo, t.hi, b, t.e)  # noqa: E731  (the basis object of this process)
    states = [concat([rebase(t.states[k]) for t in tubes]) for k in range(len(tubes[0].states))]
    claims = [_cat_claims([t.claims[k] for t in tubes]) for k in range(tubes[0].steps)]
    cat = np.concatenate
    aps = [[(cat([t.apriori[k][j][0] for t in tubes]), cat([t.apriori[k][j][1] for t in tubes]))
            for j in range(len(tubes[0].apriori[k]))] for k in range(len(tubes[0].apriori))]
    return Tube(loop.p, loop.s, tubes[0].settings, loop.free, cat([t.piece_lo for t in tubes]),
                cat([t.piece_hi for t in tubes]), states, claims, aps, cat([t.margin for t in tubes]))


def _falsified(problem, s, cfg, cex, t0, stats) -> ReachResult:
    try:
        proved = confirm_falsification(problem, s, cex["x0"], cfg)
    except (ArithmeticError, ValueError, ProblemError):
        proved = False
    cex["validated"] = bool(proved)
    ev = "checked" if proved else "tested"
    assumptions = ASSUME_VERIFIED if proved else ASSUME_TESTED
    return ReachResult(problem.name, s.name, "falsified", time.perf_counter() - t0, cex["margin"], ev,
                       assumptions, s.expected, 0, cex, None, stats)


def default_settings(problem: Problem, scenario: Scenario) -> Settings:
    """Settings that suit the problem's size: lower Taylor-model orders for more variables."""
    nv = int(np.count_nonzero(scenario.hi > scenario.lo))
    order = 3 if nv <= 2 else 2 if nv <= 6 else 1
    return Settings(tm_order=order)


# ------------------------------------------------------------------ suites

def find_problems(folder) -> list:
    """Every folder at or below ``folder`` that holds a spec.json, sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise ProblemError(f"{root}: no such folder")
    return sorted(p.parent for p in root.rglob("spec.json"))


def _suite_job(item):
    folder, scenario, time_limit = item
    t0 = time.perf_counter()
    try:
        problem = load_problem(folder)
        s = problem.scenario(scenario)
        cfg = default_settings(problem, s)
        if time_limit is not None:
            cfg.time_limit = time_limit
        return decide(problem, scenario, cfg, want_tube=False).to_dict()
    except Exception as e:      # one broken problem must not stop the suite
        return {"problem": Path(folder).name, "scenario": scenario or "-", "verdict": "error",
                "seconds": time.perf_counter() - t0, "error": f"{type(e).__name__}: {e}", "wrong": False,
                "expected": None}


def run_suite(folder, jobs: int = 1, scheduler: str | None = None, time_limit: float | None = None,
              progress=None) -> dict:
    """Decide every scenario of every problem below ``folder``. ``problems`` counts the
    scenarios decided (verified + falsified + unknown, errors counted as unknown)."""
    from ..executor import make_executor
    t0 = time.perf_counter()
    items = []
    for f in find_problems(folder):
        try:
            names = [s.name for s in load_problem(f).scenarios]
        except ProblemError:
            names = [None]
        items += [(str(f), n, time_limit) for n in names]
    rows = [None] * len(items)
    with make_executor(jobs, scheduler) as ex:
        for i, row in ex.map(_suite_job, items):
            rows[i] = row
            if progress is not None:
                progress(row, len(items))
    count = lambda v: sum(r["verdict"] == v for r in rows)  # noqa: E731
    return {"problems": len(rows), "verified": count("verified"), "falsified": count("falsified"),
            "unknown": count("unknown") + count("error"), "errors": count("error"),
            "wrong": sum(bool(r.get("wrong")) for r in rows), "total_seconds": round(time.perf_counter() - t0, 3),
            "rows": rows}
