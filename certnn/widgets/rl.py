"""Reinforcement-learning views: an MDP value certificate, an RL run's return curves and
its recorded rollouts (trajectories).

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

**Rollout** (``DIR/rollouts/eval.npz``, the greedy evaluation that ``certnn rl
train`` / ``eval`` record): the transition contract is re-run on the file while
the page is built (``checked``: every value in its declared space); the
episodes themselves are samples (``tested``). On ``certnn/GridWorld-v0`` the
states visited are drawn on the grid, but only when every recorded step is a
possible outcome of the layout's dynamics (one-hot observations, a next cell of
positive probability, the layout's reward and termination); any other
environment gets its observations, actions and cumulative reward against time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import parse_json, read_text, validate_json
from ..rl.contract import ENV_TRANSITION
from ..rl.gridworld import MOVES, GridWorld
from ..rl.mdp import MDP
from ..rl.mdp_check import CERTIFICATE_SCHEMA, check_certificate
from ..rl.rollout import Episode, episodes, read_rollout, recheck
from .certificates import _rests_on
from .page import Evidence, View, esc, num, table

MEAN_OF = 20     # episodes in the moving mean of the return curve
SHOWN_EPISODES = 5   # episodes of a rollout drawn step by step (every episode's return is charted)
GRIDWORLD = "certnn/GridWorld-v0"
ACTION_NAMES = {GRIDWORLD: ("up", "right", "down", "left"), "CartPole-v1": ("push left", "push right")}
OBS_NAMES = {"CartPole-v1": ("cart position", "cart velocity", "pole angle", "pole angular velocity"),
             "Pendulum-v1": ("cos(theta)", "sin(theta)", "angular velocity")}


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


def _grid_data(world: GridWorld, values, policy=None) -> dict:
    """Values on the layout (NaN on walls), the policy (if given) as arrows (none on goals), S and G marks."""
    rows, cols = len(world.layout), len(world.layout[0])
    grid = np.full((rows, cols), np.nan)
    arrows, marks, names = [], [], [["wall"] * cols for _ in range(rows)]
    for s, (i, j) in enumerate(world.cells):
        grid[i, j] = values[s]
        names[i][j] = f"state {s}"
        if s in world.goals:
            marks.append({"r": i, "c": j, "text": "G"})
        elif policy is not None:
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


def _grid_cells(world: GridWorld, eps: list[Episode]) -> list | None:
    """Each episode's states, when every recorded step is a possible outcome of ``world``'s dynamics
    (else None: the rollout is not drawn on this layout)."""
    paths = []
    for ep in eps:
        obs = ep.obs.reshape(len(ep.obs), -1)
        if obs.shape[1] != world.n_states or not np.array_equal(obs, np.eye(world.n_states)[obs.argmax(1)]):
            return None
        states = [int(k) for k in obs.argmax(1)]
        for t, a in enumerate(ep.action):
            s, nxt = states[t], states[t + 1]
            possible = {(n, r, term) for p, n, r, term in world.outcomes(s, int(a)) if p > 0}
            ended = ep.terminated and t == len(ep.action) - 1
            if (nxt, float(ep.reward[t]), ended) not in possible:
                return None
        paths.append(states)
    return paths


def rollout_view(path, title: str | None = None, anchor: str = "rollout") -> View:
    """The recorded episodes of a rollout file: every episode's return, and the first
    :data:`SHOWN_EPISODES` step by step (on the grid for GridWorld, as time series otherwise)."""
    path = Path(path)
    rc = recheck(path)                         # the contract, over every recorded value (raises if one is bad)
    meta, arrays = read_rollout(path)
    eps = episodes(meta, arrays)
    if not eps:
        raise CertnnError(f"{path}: the rollout holds no complete episode")
    env_id = meta.get("env_id") or "an unnamed environment"
    actions = ACTION_NAMES.get(env_id)
    shown = eps[:SHOWN_EPISODES]
    data = {"env_id": env_id, "returns": [e.total for e in eps], "lengths": [len(e.action) for e in eps],
            "actions": actions, "episodes": []}
    world = GridWorld() if env_id == GRIDWORLD else None      # the layout gym.make(GRIDWORLD) plays
    paths = _grid_cells(world, eps) if world is not None else None
    if paths is not None:
        visits = np.zeros(world.n_states)
        for states in paths:
            np.add.at(visits, states, 1)
        data["gridworld"] = _grid_data(world, visits) | {"cells": world.cells}
    else:
        dims = int(np.prod(shown[0].obs.shape[1:]))
        data["obs_names"] = list(OBS_NAMES.get(env_id, [f"obs[{i}]" for i in range(dims)]))[:dims]
    for k, e in enumerate(shown):
        ep = {"action": e.action.reshape(len(e.action), -1).tolist(), "reward": e.reward.tolist(),
              "terminated": e.terminated, "truncated": e.truncated}
        if paths is not None:
            ep["states"] = paths[k]
        else:
            ep["obs"] = e.obs.reshape(len(e.obs), -1).T.tolist()        # one list per dimension
        data["episodes"].append(ep)
    returns = np.array(data["returns"])
    rows = [["environment", env_id], ["file", str(path)],
            ["episodes (complete) / shown step by step", f"{len(eps)} / {len(shown)}"],
            ["return: mean +- std (min, max)", f"{num(returns.mean())} +- {num(returns.std())} "
                                               f"({num(returns.min())}, {num(returns.max())})"],
            ["events re-checked by the contract", f"{rc.events} (resets and steps"
             + (f" of {meta['num_envs']} environments side by side)" if meta.get("num_envs") else ")")],
            ["drawn as", "the GridWorld layout (every step a possible outcome of its dynamics)" if paths is not None
             else "observations, actions and cumulative reward against time"]]
    ev = [Evidence("the recorded episodes: states visited, actions, rewards, returns", "tested",
                   f"{len(eps)} sampled episode(s) of the policy: what it did from these seeds, no guarantee "
                   "for other seeds or states", (ENV_TRANSITION,)),
          Evidence("every recorded reset and step inside the declared observation and action spaces and "
                   "reward range", "checked", "the transition contract re-run on the file when this page was built")]
    return View(title or f"Rollout: {len(eps)} recorded episode(s) on {env_id}", "rollout",
                table(["quantity", "value"], rows, "rollout-summary"), data, ev, scripts=("rl.js",), anchor=anchor)
