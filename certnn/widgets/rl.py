"""Reinforcement-learning views: an MDP value certificate and an RL run's return curves.

**Value certificate** (``certnn rl mdp solve --certificate``): the exact checker
:func:`certnn.rl.mdp_check.check_certificate` is re-run while the page is built,
against the MDP file the certificate names (looked up next to it); the claim
``||values - V*|| <= bound`` and ``||v_policy - V*|| <= policy_bound`` appears
only when it accepts. A GridWorld MDP file (one carrying its ``gridworld``
layout, :meth:`certnn.rl.gridworld.GridWorld.to_json`) is drawn as a heat map of
the values with the policy's arrows, but only when the layout generates exactly
the file's transitions and rewards; any other MDP gets a bar per state.

**Run log** (``certnn rl train``'s ``DIR/log.json``): episode returns, their
moving mean, the periodic greedy evaluations and the losses against environment
steps; sampled episodes, so ``tested``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import parse_json, read_text, validate_json
from ..rl.gridworld import MOVES, GridWorld
from ..rl.mdp import MDP
from ..rl.mdp_check import CERTIFICATE_SCHEMA, check_certificate
from .certificates import _rests_on
from .page import Evidence, View, esc, num, table

MEAN_OF = 20     # episodes in the moving mean of the return curve


def _grid(mdp: MDP, doc: dict) -> GridWorld | None:
    """The GridWorld the MDP file declares, when its layout generates exactly the file's MDP."""
    spec = doc.get("gridworld")
    if not isinstance(spec, dict):
        return None
    try:
        world = GridWorld(spec.get("layout", ()), spec.get("slip", "0"))
        built = world.mdp(mdp.exact_gamma())
    except (CertnnError, TypeError, ValueError):
        return None
    same = built.exact["P"] == mdp.exact_transitions() and built.exact["R"] == mdp.exact_rewards()
    return world if same else None


def _grid_data(world: GridWorld, values, policy) -> dict:
    """Values on the layout (NaN on walls), the policy as arrows (none on goals), S and G marks."""
    rows, cols = len(world.layout), len(world.layout[0])
    grid = np.full((rows, cols), np.nan)
    arrows, marks, names = [], [], [["wall"] * cols for _ in range(rows)]
    for s, (i, j) in enumerate(world.cells):
        grid[i, j] = values[s]
        names[i][j] = f"state {s}"
        if s in world.goals:
            marks.append({"r": i, "c": j, "text": "G"})
        else:
            di, dj = MOVES[int(policy[s])]
            arrows.append({"r": i, "c": j, "dx": dj, "dy": di})
        if s == world.start:
            marks.append({"r": i, "c": j, "text": "S"})
    return {"grid": grid, "arrows": arrows, "marks": marks, "names": names}


def mdp_certificate_view(path, title: str | None = None, anchor: str = "mdp") -> View:
    """The view of an MDP value certificate; the checker runs here, and decides the claim."""
    path = Path(path)
    doc = parse_json(read_text(path, "certificate", CertnnError), path, "certificate", CertnnError)
    validate_json(doc, CERTIFICATE_SCHEMA, path, "certificate", CertnnError)
    mdp_file = path.parent / doc["mdp"]["file"]
    if not mdp_file.is_file():
        raise CertnnError(f"{path}: the MDP file it certifies ({mdp_file.name}) is not next to it, "
                          "so it cannot be checked")
    result = check_certificate(mdp_file, path)       # validates the certificate before anything is drawn
    mdp_doc = json.loads(mdp_file.read_text())
    mdp = MDP.from_json(mdp_file)
    values, policy = doc["values"], doc["policy"]
    ok = result.ok
    verdict = (f'<p class="verdict {"ok" if ok else "bad"}" data-ok="{str(ok).lower()}">'
               + (f"accepted by the exact MDP checker: T(iterate) re-derived in rationals, bounds "
                  f"{num(result.bound)} and {num(result.policy_bound)} re-derived" if ok
                  else "REJECTED by the exact MDP checker: " + esc("; ".join(result.problems))) + "</p>")
    claim = (f'<p class="claim"><b>Certified (checker):</b> for the MDP in {esc(mdp_file.name)} '
             f"({mdp.n_states} states, {mdp.n_actions} actions, gamma {esc(mdp.exact_gamma())}): "
             f"||values - V*||_inf &lt;= {num(doc['bound'])}, and the policy drawn is within "
             f"{num(doc['policy_bound'])} of optimal in every state.</p>"
             + _rests_on(result.assumptions, result.theorems) if ok
             else '<p class="claim-none muted">No claim: the checker did not accept the certificate; the '
                  "values drawn are the certificate's, not evidence.</p>")
    drawable = len(values) == len(policy) == mdp.n_states and max(policy) < len(MOVES)   # (a rejected one may not be)
    world = _grid(mdp, mdp_doc) if drawable else None
    data = {"ok": ok, "values": values, "policy": policy, "bound": doc["bound"]}
    if world is not None:
        data["gridworld"] = _grid_data(world, values, policy)
    facts = table(["field", "value"], [
        ["certificate", str(path)], ["MDP file", f"{mdp_file.name} (SHA-256 {doc['mdp']['sha256'][:16]}...)"],
        ["drawn as", "GridWorld layout (matches the file's MDP exactly)" if world is not None else "a bar per state"],
        ["claimed bound / re-derived", f"{num(doc['bound'])} / {num(result.bound) if ok else '-'}"],
        ["claimed policy bound / re-derived",
         f"{num(doc['policy_bound'])} / {num(result.policy_bound) if ok else '-'}"]], "mdp-facts")
    ev = [Evidence("values within the bound of V*; the policy within policy_bound of optimal",
                   "certified" if ok else "none",
                   "re-derived in exact rational arithmetic by certnn.rl.mdp_check when this page was built"
                   if ok else "rejected: no claim", tuple(result.assumptions))]
    return View(title or f"MDP value certificate {path.name}", "mdp", verdict + claim + facts, data, ev,
                scripts=("rl.js",), anchor=anchor)


def _moving_mean(xs, ys, k: int):
    k = min(k, len(ys))
    return xs[k - 1:], np.convolve(ys, np.ones(k) / k, "valid")


def run_log_view(path, title: str | None = None, anchor: str = "rl-run") -> View:
    """Return curves of an RL run folder (``DIR/log.json`` with its ``config.json`` and ``eval.json``)."""
    path = Path(path)
    log = json.loads(path.read_text())
    config = json.loads((path.parent / "config.json").read_text())
    charts = []
    returns = [{"name": "greedy evaluation", "x": [s for s, _ in log.get("evals", [])],
                "y": [r for _, r in log.get("evals", [])]}]
    if log.get("episode_returns"):
        s, r = np.asarray(log["episode_returns"], np.float64).T
        ms, mr = _moving_mean(s, r, MEAN_OF)
        returns = [{"name": "training episodes", "x": s, "y": r},
                   {"name": f"mean of {min(MEAN_OF, len(r))} episodes", "x": ms, "y": mr}] + returns
    charts.append({"title": "episode return", "xlabel": "environment steps", "series": returns})
    if log.get("losses"):
        charts.append({"title": "loss", "xlabel": "environment steps",
                       "series": [{"name": "loss", "x": [s for s, _ in log["losses"]],
                                   "y": [v for _, v in log["losses"]]}]})
    rows = [["algorithm", config.get("algo")], ["environment", config.get("env_id")],
            ["seed", (config.get("config") or {}).get("seed")], ["updates", log.get("updates")],
            ["episodes in the log", len(log.get("episode_returns", []))]]
    ev_path = path.parent / "eval.json"
    if ev_path.is_file():
        final = json.loads(ev_path.read_text())
        rows.append(["final greedy evaluation", f"{num(final['mean_return'])} +- {num(final['std_return'])} over "
                                                f"{final['episodes']} episodes"])
    ev = [Evidence("episode returns, greedy evaluations and losses", "tested",
                   "sampled episodes of the environment: estimates of the policy's return, no guarantee")]
    return View(title or f"Return curves: {config.get('algo')} on {config.get('env_id')}", "curves",
                table(["quantity", "value"], rows, "rl-run-summary"), {"charts": charts}, ev,
                scripts=("curves.js",), anchor=anchor)
