"""The independent reach-tube checker.

It re-derives a tube's claim, trusting none of the producer's conclusions: for
every initial state x0 of the scenario, the sampled-data closed loop's
trajectory stays out of the unsafe set on the time window and reaches the
target, in the network's real semantics with the problem's exact dynamics.

1. **Same problem.** The tube names the problem's SHA-256 (spec.json and the
   controller files); the checker reads the problem itself
   (:mod:`.problem`) and compares.
2. **Coverage.** The pieces lie in the initial box and cover it: their free
   extents have pairwise disjoint interiors and volumes summing exactly to the
   box's (exact rationals; closed boxes of full measure cover), the other
   dimensions equal the box's. Each piece's first state TM contains
   x = m + r z (the piece's affine parametrization, :meth:`.LoopTM.initial`).
3. **Every step k** (all steps are independent, so they are checked in one
   batch): from the *recorded* state TM X_k, the network input's range must lie
   in the claim's box; the control is ``a . v(X_k) + [r_lo, r_hi]`` post-processed;
   one validated integration step (the recorded a priori boxes must pass the
   Picard test) or the discrete map gives X'; X' must be contained in the
   recorded X_{k+1} pointwise (:func:`.taylor.contains`); and the spec holds on
   the enclosures of every checked time (:mod:`.sets`).
4. **The controller claims**, all steps and pieces at once, are re-derived by
   the certificate checker :mod:`certnn.verify.checker` on the augmented graph
   ``v -> [NN(v); v]`` (sound CROWN from the recorded anchors and slopes).

Induction over k then gives the claim. The trusted base: the problem reader
and its expression translation, the Taylor-model arithmetic and the validated
step (:mod:`.taylor`, :mod:`.flow`, :mod:`.closed_loop`, :mod:`.sets`), the
certificate checker and the interval arithmetic below them. This module does
not import the producer (:mod:`.reach`, :mod:`.controller`, :mod:`certnn.bounds`);
``pyproject.toml`` has the import-linter contract.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..floats import interval as iv
from ..ir.serialize import graph_hash
from ..spec.region import Region
from ..verify.certificate import Certificate
from ..verify.checker import check_certificate
from .closed_loop import LoopTM
from .flow import flow_step, map_step
from .network import augmented
from .problem import Problem, ProblemError, load_problem
from .sets import check_times, in_window, target_margin, unsafe_margin
from .taylor import TM, concat, contains
from .tube import Tube, TubeError, claim_spec, load_tube

ASSUMES = ("problem-expressions-parsed", "arb-ball-arithmetic") + iv.BLAS


@dataclass
class TubeCheck:
    ok: bool
    reasons: list
    seconds: float
    margin: float | None = None
    pieces: int = 0
    steps: int = 0
    assumptions: tuple = ()
    claims_seconds: float = 0.0
    stats: dict = field(default_factory=dict)

    @property
    def evidence(self) -> str | None:
        return "certified" if self.ok else None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "reasons": self.reasons, "seconds": round(self.seconds, 3), "margin": self.margin,
                "pieces": self.pieces, "steps": self.steps, "evidence": self.evidence,
                "assumptions": list(self.assumptions), "claims_seconds": round(self.claims_seconds, 3)}


class _Reject(Exception):
    pass


def check_tube(tube, problem: Problem | str | None = None) -> TubeCheck:
    """Check a tube (a path, or a Tube as loaded) against its problem (a Problem or
    folder; default: the folder the tube names, relative to the tube file)."""
    t0 = time.perf_counter()
    path = None
    if not isinstance(tube, Tube):
        path = Path(tube)
        tube = load_tube(path)
    doc = tube.meta or {}
    if problem is None:
        folder = (doc.get("problem") or {}).get("folder")
        if folder is None or path is None:
            raise TubeError("the tube names no problem folder; pass the problem")
        problem = path.parent / folder
    if not isinstance(problem, Problem):
        problem = load_problem(problem)
    reasons = []
    try:
        if doc and doc["problem"]["digest"] != problem.digest:
            raise _Reject("problem: the tube is about another problem (its spec.json or controller differs)")
        try:
            scenario = problem.scenario(doc.get("scenario") or None)
        except ProblemError as e:
            raise _Reject(f"scenario: {e}") from None
        margin, claims_s = _check(tube, problem, scenario, reasons)
    except _Reject as e:
        reasons.append(str(e))
        margin, claims_s = None, 0.0
    return TubeCheck(not reasons, reasons, time.perf_counter() - t0, margin, tube.pieces, tube.steps, ASSUMES,
                     claims_s)


def _check(tube: Tube, problem: Problem, scenario, reasons: list):
    cfg = tube.settings
    if cfg.get("semantics", "real") != "real":
        raise _Reject(f"semantics: {cfg['semantics']!r} tubes are not supported by this checker")
    if tube.steps != scenario.steps:
        raise _Reject(f"steps: the tube has {tube.steps} steps, the scenario {scenario.steps}")
    loop = LoopTM(problem, scenario, int(cfg["tm_order"]))
    b = tube.states[0].b
    if tuple(tube.free) != loop.free or (b.nvars, b.order) != (loop.b.nvars, loop.b.order):
        raise _Reject("basis: the tube's variables or Taylor-model order do not fit the scenario")
    _coverage(tube, scenario, loop)
    N, P = tube.steps, tube.pieces
    if not np.all(contains(tube.states[0], loop.initial(tube.piece_lo, tube.piece_hi))):
        raise _Reject("step 0: a recorded initial state set does not contain its piece")
    # all steps at once: rows k * P + p
    X = concat([tube.states[k] for k in range(N)])
    Xnext = concat([tube.states[k + 1] for k in range(N)])
    q_old = np.repeat([tube.states[k].q for k in range(N)], P)
    cl = tube.claims
    cat = lambda f: np.concatenate([f(c) for c in cl])  # noqa: E731
    box_lo, box_hi = cat(lambda c: c.lo), cat(lambda c: c.hi)
    a, r_lo, r_hi = cat(lambda c: c.a), cat(lambda c: c.r_lo), cat(lambda c: c.r_hi)
    V, vlo, vhi = loop.network_input(X)
    inside = np.all((vlo >= box_lo) & (vhi <= box_hi), axis=-1)
    _fail(reasons, ~inside, P, "the network input's range leaves the claim's box")
    params = loop.controls(X, V, a, r_lo, r_hi)
    prop = scenario.prop
    margin = np.full(N * P, np.inf)
    tmargin = np.full(N * P, -np.inf)
    period = problem.period
    if problem.time == "continuous":
        S = int(cfg["substeps"])
        if len(tube.apriori) != N or any(len(ap) != S for ap in tube.apriori):
            raise _Reject(f"a priori boxes: expected {S} per step")
        h = period / S
        Y = X
        for j in range(S):
            Bl = np.concatenate([tube.apriori[k][j][0] for k in range(N)])
            Bh = np.concatenate([tube.apriori[k][j][1] for k in range(N)])
            # steps with the same checked times go together
            groups = {}
            for k in range(N):
                ta = period * k + h * j
                tu = tuple(check_times(prop.window, ta, h, int(cfg["sub"]))) if prop.unsafe else ()
                tt = tuple(check_times(prop.target_window, ta, h, int(cfg["sub"]))) \
                    if prop.target and prop.target_window[0] < prop.target_window[1] else ()
                groups.setdefault((tu, tt), []).append(k)
            Ynext = None
            for (tu, tt), ks in groups.items():
                rows = np.concatenate([np.arange(k * P, (k + 1) * P) for k in ks])
                sub = {n: v[rows] for n, v in params.items()}
                ok, Yr, pieces = flow_step(loop.f, problem.states, Y[rows], sub, h, int(cfg["time_order"]),
                                           Bl[rows], Bh[rows], list(tu + tt))
                _fail(reasons, ~ok, P, "a recorded a priori box fails the Picard test", rows)
                if tu:
                    margin[rows] = np.minimum(margin[rows], unsafe_margin(prop, pieces[:len(tu)]).min(0))
                if tt:
                    tmargin[rows] = np.maximum(tmargin[rows], target_margin(prop, pieces[len(tu):]).max(0))
                Ynext = _scatter(Ynext, Yr, rows, N * P)
            Y = Ynext
        Xcomp = Y
    else:
        Xcomp = map_step(loop.f, problem.states, X, params)
    # the recorded next state must contain the computed one (new noise symbols allowed)
    held = _contains_rows(Xnext, Xcomp, q_old)
    _fail(reasons, ~held, P, "the recorded next state set does not contain the computed one")
    # the spec on the recorded sets at the sampling times (discrete) and at the end
    R = Xnext
    for k in range(N):
        t = period * (k + 1)
        rows = np.arange(k * P, (k + 1) * P)
        if problem.time == "discrete" and prop.unsafe and in_window(prop.window, t, t):
            margin[rows] = np.minimum(margin[rows], unsafe_margin(prop, R[rows]))
        if prop.target and in_window(prop.target_window, t, t) and \
                (problem.time == "discrete" or k == N - 1):
            tmargin[rows] = np.maximum(tmargin[rows], target_margin(prop, R[rows]))
    piece_margin = margin.reshape(N, P).min(0)
    if problem.time == "discrete" and prop.unsafe and in_window(prop.window, Fraction(0), Fraction(0)):
        piece_margin = np.minimum(piece_margin, unsafe_margin(prop, tube.states[0]))
    if prop.unsafe:
        _fail(reasons, ~(piece_margin > 0), 1, "the unsafe set is not shown to be avoided", per="piece")
    if prop.target:
        best = tmargin.reshape(N, P).max(0)
        _fail(reasons, ~(best >= 0), 1, "the target is not shown to be reached", per="piece")
        piece_margin = np.minimum(piece_margin, best)
    # the controller claims, re-derived by the certificate checker
    t1 = time.perf_counter()
    graph = augmented(problem.controller_of(scenario).graph)
    anchors = {nid: (np.concatenate([c.anchors[nid][0] for c in cl]), np.concatenate([c.anchors[nid][1] for c in cl]))
               for nid in cl[0].anchors}
    alphas = {key: np.concatenate([c.alphas[key] for c in cl]) for key in cl[0].alphas}
    try:
        region = Region.box(box_lo, box_hi)
        cert = Certificate(graph_hash(graph), region, claim_spec(a, r_lo, r_hi), "real", "tube", anchors, alphas)
    except Exception as e:      # malformed claim arrays (NaN, crossed bounds)
        raise _Reject(f"controller claims: {e}") from None
    res = check_certificate(cert, graph)
    bad = ~res.accepted
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        reasons.append(f"controller claim of step {i // P}, piece {i % P} rejected: {res.reasons[i]}")
    return float(np.min(piece_margin)), time.perf_counter() - t1


def _scatter(acc, part: TM, rows, total) -> TM:
    """Put the rows of ``part`` at ``rows`` of a TM with ``total`` rows."""
    if acc is None:
        shp = lambda a: (total,) + a.shape[1:]  # noqa: E731
        acc = TM(np.zeros(shp(part.c)), np.zeros(shp(part.lo)), np.zeros(shp(part.hi)), part.b, np.zeros(shp(part.e)))
    if part.q > acc.q:
        acc = TM(acc.c, acc.lo, acc.hi, acc.b, np.concatenate([acc.e, np.zeros(acc.e.shape[:-1] + (part.q - acc.q,))], -1))
    acc.c[rows], acc.lo[rows], acc.hi[rows] = part.c, part.lo, part.hi
    acc.e[rows, ..., :part.q] = part.e
    return acc


def _contains_rows(outer: TM, inner: TM, q_old) -> np.ndarray:
    """:func:`contains` per row, where row i's old symbols are its first q_old[i]
    (the producer's step added symbols after them)."""
    out = np.zeros(outer.shape[0], bool)
    for q in np.unique(q_old):
        rows = np.flatnonzero(q_old == q)
        inn = inner[rows]
        inn = TM(inn.c, inn.lo, inn.hi, inn.b, inn.e[..., :q]) if not np.any(inn.e[..., q:]) else inn
        out[rows] = contains(outer[rows], inn)
    return out


def _fail(reasons, bad, P, why, rows=None, per="row"):
    bad = np.asarray(bad)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    if rows is not None:
        i = int(rows[i])
    where = f"piece {i}" if per == "piece" else f"step {i // P}, piece {i % P}"
    reasons.append(f"{where}: {why} ({int(bad.sum())} case(s))")


def _coverage(tube: Tube, scenario, loop: LoopTM) -> None:
    lo, hi = tube.piece_lo, tube.piece_hi
    if lo.shape != (tube.pieces, scenario.lo.size) or np.any(lo > hi):
        raise _Reject("pieces: malformed piece boxes")
    if np.any(lo < scenario.lo) or np.any(hi > scenario.hi):
        raise _Reject("pieces: a piece leaves the initial box")
    fixed = [i for i in range(lo.shape[1]) if i not in loop.free]
    if fixed and not (np.all(lo[:, fixed] == scenario.lo[fixed]) and np.all(hi[:, fixed] == scenario.hi[fixed])):
        raise _Reject("pieces: a piece does not span the initial box in a fixed dimension")
    F = list(loop.free)
    if not F:
        return
    vol = lambda a, b: np.prod([Fraction(float(b[i])) - Fraction(float(a[i])) for i in F])  # noqa: E731
    if sum(vol(lo[p], hi[p]) for p in range(tube.pieces)) != vol(scenario.lo, scenario.hi):
        raise _Reject("pieces: their volumes do not add up to the initial box's (gaps or overlaps)")
    L, H = lo[:, F], hi[:, F]
    for p in range(tube.pieces - 1):     # interiors pairwise disjoint: some dimension separates
        overlap = np.all((L[p] < H[p + 1:]) & (L[p + 1:] < H[p]), axis=1)
        if overlap.any():
            raise _Reject(f"pieces: pieces {p} and {p + 1 + int(np.argmax(overlap))} overlap")


__all__ = ["TubeCheck", "check_tube"]
