"""Run folders: what ``certnn rl train`` writes and ``eval`` / ``verify`` read.

    DIR/policy/            the policy network as a certnn checkpoint (weights, config, traced graph)
    DIR/config.json        algorithm, environment, every hyperparameter, seed
    DIR/log.json           episode returns, periodic greedy evaluations, losses, update timings
    DIR/returns.png        the return curves
    DIR/eval.json          the final greedy evaluation (episodes, mean, std, seeds)
    DIR/rollouts/eval.npz  that evaluation's rollout, re-checked offline by the transition contract
    DIR/verify/            certificates of ``certnn rl verify`` and their reports

Known hyperparameters per (algorithm, environment) are in :data:`CONFIGS`;
other environments get the algorithm's defaults with their id.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..interop.models import load_model
from ..io import atomic_write
from .agent import Agent, evaluate
from .dqn import DQNConfig, train_dqn
from .ppo import PPOConfig, pendulum_config, train_ppo
from .rollout import recheck
from .verified_policy import STATE_RECTANGLES, grid, verify_policy

ALGOS = ("dqn", "ppo")
CONFIGS = {("ppo", "Pendulum-v1"): pendulum_config}
FINAL_EVAL_SEED = 100_000


def make_config(algo: str, env_id: str, steps: int | None, seed: int, **overrides):
    if algo not in ALGOS:
        raise CertnnError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGOS)}")
    build = CONFIGS.get((algo, env_id)) or (DQNConfig if algo == "dqn" else PPOConfig)
    kw = dict(env_id=env_id, seed=seed, **overrides)
    if steps is not None:
        kw["total_steps"] = steps
    return build(**kw)


def train_run(algo: str, env_id: str, out, steps: int | None = None, seed: int = 0, eval_episodes: int = 100,
              progress=None, **overrides) -> dict:
    """Train, save the run folder, evaluate the result greedily; returns the summary."""
    import gymnasium as gym
    from . import gridworld  # noqa: F401  (registers certnn/GridWorld-v0)
    t0 = time.perf_counter()
    out = Path(out)
    cfg = make_config(algo, env_id, steps, seed, **overrides)
    if env_id not in gym.registry:
        raise CertnnError(f"unknown environment {env_id!r} (a Gymnasium id such as CartPole-v1)")
    agent, log = (train_dqn if algo == "dqn" else train_ppo)(cfg, progress)
    agent.save(out)
    with atomic_write(out / "config.json", "w") as f:
        json.dump({"algo": algo, "env_id": env_id, "config": dataclasses.asdict(cfg)}, f, indent=1, default=repr)
    with atomic_write(out / "log.json", "w") as f:
        json.dump(log.to_dict(), f)
    plot_returns(log, out / "returns.png", f"{algo} on {env_id}, seed {seed}")
    ev = evaluate_run(out, eval_episodes)
    return {"env_id": env_id, "algo": algo, "seed": seed, "steps": cfg.total_steps, "mean_return": ev["mean_return"],
            "std_return": ev["std_return"], "episodes": ev["episodes"], "wall_seconds": time.perf_counter() - t0,
            "train_seconds": log.seconds, "updates": log.updates,
            "ms_per_update": 1000 * log.update_seconds / max(1, log.updates), "out": str(out),
            "evidence": ev["evidence"], "assumptions": ev["assumptions"]}


def evaluate_run(folder, episodes: int = 100, seed: int = FINAL_EVAL_SEED) -> dict:
    """Greedy episodes of a run folder's policy, recorded and re-checked; writes DIR/eval.json."""
    folder = Path(folder)
    agent = Agent.load(folder)
    rollout = folder / "rollouts" / "eval.npz"
    ev = evaluate(agent, episodes, seed, record=rollout)
    rc = recheck(rollout)
    res = dict(ev.to_dict(), env_id=agent.env_id, kind=agent.kind,
               recheck={"events": rc.events, "steps": rc.steps, "evidence": rc.evidence})
    with atomic_write(folder / "eval.json", "w") as f:
        json.dump(res, f, indent=1)
    return res


def state_rectangle(agent: Agent, low=None, high=None):
    if low is not None and high is not None:
        return np.asarray(low, np.float64), np.asarray(high, np.float64)
    if agent.env_id in STATE_RECTANGLES:
        return STATE_RECTANGLES[agent.env_id]
    import gymnasium as gym
    space = gym.make(agent.env_id).observation_space
    if np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        return space.low.astype(np.float64), space.high.astype(np.float64)
    raise CertnnError(f"no state rectangle known for {agent.env_id} and its observation space is unbounded; "
                      f"give --low and --high")


def verify_run(folder, boxes: int, method: str = "crown", low=None, high=None, action: int | None = None,
               name: str | None = None) -> dict:
    """Certify the greedy action on the boxes of a grid over the state rectangle (boxes per dimension);
    with ``action``, certify that this action is the greedy one on every box (a stated property)."""
    folder = Path(folder)
    agent = Agent.load(folder)
    if agent.kind == "ppo-gaussian" and agent.config["num_classes"] != 1:
        raise CertnnError("verify supports discrete policies and one-dimensional Gaussian policies")
    lo_state, hi_state = state_rectangle(agent, low, high)
    lo, hi = grid(lo_state, hi_state, boxes)
    graph = load_model(agent.graph_path(folder))
    actions, name = None, name or "policy-boxes"
    if action is not None:
        n_out = agent.config["num_classes"]
        if not 0 <= action < max(n_out, 2):
            raise CertnnError(f"action {action} is not an action of this policy (0..{max(n_out, 2) - 1})")
        actions, name = np.full(len(lo), action), name or f"action-{action}-boxes"
    res = verify_policy(graph, lo, hi, folder / "verify", actions, method, agent.graph_path(folder), name)
    return dict(res.to_dict(), env_id=agent.env_id, kind=agent.kind, per_dimension=boxes,
                state_low=lo_state.tolist(), state_high=hi_state.tolist(), method=method, action=action)


def plot_returns(log, path, title: str) -> None:
    """Episode returns (and their moving mean) and the periodic greedy evaluations against env steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    if log.episode_returns:
        s, r = np.array(log.episode_returns).T
        ax.plot(s, r, ".", ms=2, alpha=0.3, label="training episodes")
        k = min(20, len(r))
        ax.plot(s[k - 1:], np.convolve(r, np.ones(k) / k, "valid"), label=f"mean of {k}")
    if log.evals:
        s, r = np.array(log.evals).T
        ax.plot(s, r, "o-", label="greedy evaluation")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
