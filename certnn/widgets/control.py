"""Control views: a reach tube over time (the enclosure of every state on every
time sub-interval, as :func:`certnn.control.plot.tube_enclosures` computes it from
the recorded Taylor models), simulated trajectories and the spec's unsafe and
target sets; the phase plane; and a Lyapunov certificate's leaf boxes.

The verdict and margin are the independent checkers' (:func:`check_tube`,
:func:`check_lyapunov`); simulations are samples (tested), drawn to show what
the tube encloses, never as evidence for it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..control.lyapunov_checker import _load as load_lyapunov
from ..control.lyapunov_checker import _rebuild as rebuild_leaves
from ..control.lyapunov_checker import check_lyapunov
from ..control.plot import tube_enclosures
from ..control.problem import load_problem
from ..control.simulate import Loop, corners_and_samples, simulate
from ..control.tube import load_tube
from ..control.tube_checker import check_tube
from ..errors import CertnnError
from ..ir import load as load_graph
from .page import Evidence, View, esc, num, table

MAX_BOXES = 60000      # Lyapunov leaves drawn


def _spec_lines(prop, states):
    """Half-spaces on one state each: (state index, bound, kind, window)."""
    out = []
    for poly in prop.unsafe:
        for h in poly:
            a = h.a_float
            if np.count_nonzero(a) == 1:
                i = int(np.flatnonzero(a)[0])
                out.append({"state": i, "bound": float(h.b) / a[i], "kind": "unsafe",
                            "side": "above" if a[i] < 0 else "below",
                            "window": [float(t) for t in prop.window], "text": h.text(states)})
    for h in prop.target:
        a = h.a_float
        if np.count_nonzero(a) == 1:
            i = int(np.flatnonzero(a)[0])
            out.append({"state": i, "bound": float(h.b) / a[i], "kind": "target",
                        "window": [float(t) for t in prop.target_window], "text": h.text(states)})
    return out


def tube_view(path, trajectories: int = 30, seed: int = 0, title: str | None = None, anchor: str = "") -> View:
    """The view of a reach tube file (``certnn reach ... --cert tube.json``)."""
    path = Path(path)
    tube = load_tube(path)
    doc = tube.meta
    folder = (doc.get("problem") or {}).get("folder")
    if folder is None:
        raise CertnnError(f"{path}: the tube names no problem folder, so it cannot be drawn")
    problem = load_problem(path.parent / folder)
    scenario = problem.scenario(doc.get("scenario") or None)
    result = check_tube(path, problem)
    times, E = tube_enclosures(tube, problem, scenario)
    lo, hi = E.range()
    rng = np.random.default_rng(seed)
    tr = simulate(Loop.of(problem, scenario),
                  scenario.inner_points(corners_and_samples(scenario.lo, scenario.hi, trajectories, rng)),
                  per_period=10 if problem.time == "continuous" else 1)
    states = list(problem.states)
    data = {"states": states, "t0": times[:, 0], "t1": times[:, 1],
            "lo": lo.min(axis=1).T, "hi": hi.max(axis=1).T,            # (n, T): union over pieces
            "sim_t": tr.times, "sim": np.round(tr.states.transpose(2, 0, 1), 6),   # (n, K, steps)
            "spec": _spec_lines(scenario.prop, states), "ok": result.ok}
    verdict = (f'<p class="verdict {"ok" if result.ok else "bad"}" data-ok="{str(result.ok).lower()}">'
               + (f"accepted by the tube checker: every step re-derived, margin {num(result.margin)}" if result.ok
                  else "REJECTED by the tube checker: " + esc("; ".join(result.reasons))) + "</p>")
    claim = (f'<p class="claim"><b>Proved (checker):</b> for every initial state in the scenario\'s box, the '
             f"sampled-data closed loop ({esc(problem.name)}, scenario {esc(scenario.name)}, {scenario.steps} "
             f"control periods, real semantics) satisfies: {esc(scenario.prop.describe(states))}.</p>"
             if result.ok else '<p class="claim-none muted">No claim: the checker did not accept the tube.</p>')
    facts = table(["field", "value"], [["file", str(path)], ["problem", f"{problem.name} ({folder})"],
                                       ["scenario", scenario.name], ["pieces", tube.pieces], ["steps", tube.steps],
                                       ["settings", json.dumps(tube.settings)],
                                       ["assumptions", ", ".join(result.assumptions)]], "tube-facts")
    ev = [Evidence("reach tube", "certified" if result.ok else "none",
                   "re-derived step by step by the tube checker" if result.ok else "rejected: no claim",
                   tuple(result.assumptions)),
          Evidence(f"{len(tr.states)} simulated trajectories", "tested",
                   "samples of the initial box, integrated numerically: they illustrate, they prove nothing")]
    return View(title or f"Reach tube {path.name}", "tube", verdict + claim + facts, data, ev,
                scripts=("control.js",), anchor=anchor or "tube")


def lyapunov_view(path, title: str | None = None, anchor: str = "lyapunov", grid: int = 41) -> View:
    """A Lyapunov certificate: the checker's verdict, the leaf boxes by kind, and V on a grid."""
    path = Path(path)
    result = check_lyapunov(path)
    doc, arrays = load_lyapunov(path)
    lo, hi, kind = rebuild_leaves(arrays, lambda why: CertnnError(f"{path}: {why}"))
    V = load_graph(path.parent / doc["models"]["V"]["path"])
    r_lo, r_hi = arrays["root_lo"].astype(np.float64), arrays["root_hi"].astype(np.float64)
    gx = np.linspace(r_lo[0], r_hi[0], grid)
    gy = np.linspace(r_lo[1], r_hi[1], grid)
    pts = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    from ..ir.run import run
    v = np.asarray(run(V, pts, semantics="real"), np.float64).reshape(grid, grid)[::-1]   # row 0 at the top
    k = min(len(kind), MAX_BOXES)
    data = {"lo": np.round(lo[:k], 6), "hi": np.round(hi[:k], 6), "kind": kind[:k], "root_lo": r_lo,
            "root_hi": r_hi, "radius": float(doc["radius"]), "states": doc["system"]["states"], "V": np.round(v, 5)}
    states = doc["system"]["states"]
    verdict = (f'<p class="verdict {"ok" if result.ok else "bad"}" data-ok="{str(result.ok).lower()}">'
               + (f"accepted by the Lyapunov checker: {result.accepted_leaves}/{result.leaves} leaves re-derived"
                  if result.ok else "not accepted for the whole region: " + esc("; ".join(result.reasons))) + "</p>")
    dynamics = ", ".join(f"{s}' = {e}" for s, e in zip(states, doc["system"]["dynamics"]))
    claim = (f'<p class="claim"><b>Proved (checker):</b> {esc(doc.get("claim", ""))}; system '
             f"{esc(doc['system']['name'])}: {esc(dynamics)}"
             f" with {esc(doc['system']['control'])} = controller(x); radius {esc(doc['radius'])}.</p>"
             if result.ok else '<p class="claim-none muted">No claim for the whole region (the certified leaves '
                               'are drawn green; see the reasons).</p>')
    ev = [Evidence("V > 0 and V' < 0 on the region minus the ball", "certified" if result.ok else "none",
                   "every leaf re-derived by the independent checker" if result.ok else "not for the whole region",
                   tuple(result.assumptions)),
          Evidence("V on a grid (colour map)", "computed", "evaluated at grid points for the picture only")]
    return View(title or f"Lyapunov certificate {path.name}", "lyapunov", verdict + claim, data, ev,
                scripts=("control.js",), anchor=anchor)
