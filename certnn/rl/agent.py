"""A trained agent: the policy network the facts are about, how it acts, and
its run folder format.

Kinds: ``dqn`` (a Q-network; greedy action argmax_a Q(s, a)), ``ppo-discrete``
(an actor giving logits; deterministic action argmax), ``ppo-gaussian`` (an
actor giving the mean of a diagonal Gaussian with a state-independent log
std; deterministic action the mean clipped to the action box). The network is
saved as a certnn checkpoint (``DIR/policy``: weights, config and the traced
graph that ``certnn.bounds`` and the certificate checker read); the kind, the
environment id and the Gaussian's log std go in the checkpoint's info.

``evaluate`` plays greedy episodes through the checked boundary, one seed per
episode, and can record them for the offline re-check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..interop.checkpoint import read_meta, save_checkpoint
from ..ir.trace import trace
from ..tensor import Tensor, no_grad
from ..zoo import load_checkpoint
from .boundary import make_vector_env

KINDS = ("dqn", "ppo-discrete", "ppo-gaussian")
POLICY = "policy"


@dataclass
class Agent:
    kind: str
    net: object                       # certnn Module: Q-values, logits or Gaussian mean
    env_id: str
    config: dict                      # the zoo mlp config that rebuilds ``net``
    log_std: np.ndarray | None = None
    action_low: np.ndarray | None = None
    action_high: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise CertnnError(f"unknown agent kind {self.kind!r}; known: {', '.join(KINDS)}")

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions for a batch of observations."""
        with no_grad():
            out = self.net(Tensor(np.asarray(obs, np.float32))).data
        if self.kind == "ppo-gaussian":
            return np.clip(out, self.action_low, self.action_high).astype(np.float32)
        return np.argmax(out, axis=1)

    # ---- files ----------------------------------------------------------------------------------
    def save(self, folder) -> Path:
        folder = Path(folder)
        self.net.eval()
        graph, _ = trace(self.net, np.zeros((1, self.config["in_features"]), np.float32))
        info = {"kind": self.kind, "env_id": self.env_id, **self.info}
        if self.kind == "ppo-gaussian":
            info.update(log_std=self.log_std.tolist(), action_low=self.action_low.tolist(),
                        action_high=self.action_high.tolist())
        save_checkpoint(folder / POLICY, self.net, self.config, graph, info)
        return folder

    @classmethod
    def load(cls, folder) -> "Agent":
        path = Path(folder) / POLICY
        if not path.exists():
            raise CertnnError(f"{folder}: not a certnn rl run folder (no {POLICY}/ checkpoint)")
        net, meta = load_checkpoint(path)
        info = dict(meta.get("info") or {})
        kind, env_id = info.pop("kind", None), info.pop("env_id", None)
        arr = lambda k: None if k not in info else np.asarray(info.pop(k), np.float32)  # noqa: E731
        return cls(kind, net, env_id, meta["config"], arr("log_std"), arr("action_low"), arr("action_high"), info)

    def graph_path(self, folder) -> Path:
        return Path(folder) / POLICY


@dataclass
class Evaluation:
    returns: list
    seconds: float
    seeds: list
    rollout: str | None = None
    evidence: str = "tested"          # sampled episodes
    assumptions: tuple = ("gymnasium-env-transition",)

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    def to_dict(self) -> dict:
        return {"episodes": len(self.returns), "mean_return": self.mean, "std_return": self.std,
                "min_return": float(np.min(self.returns)), "max_return": float(np.max(self.returns)),
                "seeds": [self.seeds[0], self.seeds[-1]], "seconds": self.seconds, "rollout": self.rollout,
                "evidence": self.evidence, "assumptions": list(self.assumptions)}


def evaluate(agent: Agent, episodes: int = 100, seed: int = 100_000, record=None, env_id: str | None = None,
             **env_kwargs) -> Evaluation:
    """``episodes`` greedy episodes, played side by side in a checked vector environment whose
    sub-environment i is reset with seed ``seed + i`` and counted for its first episode only.
    ``record`` is a path for the rollout (.npz)."""
    t0 = time.perf_counter()
    env = make_vector_env(env_id or agent.env_id, episodes, record=record is not None, **env_kwargs)
    obs, _ = env.reset(seed=seed)
    totals, done = np.zeros(episodes), np.zeros(episodes, bool)
    while not done.all():
        obs, r, term, trunc, _ = env.step(agent.act(obs))
        totals += np.where(done, 0.0, r)
        done |= term | trunc
    env.close()
    if record is not None:
        env.recorder.save(record)
    return Evaluation(totals.tolist(), time.perf_counter() - t0, list(range(seed, seed + episodes)),
                      None if record is None else str(record))


def run_info(folder) -> dict:
    """The checkpoint info of a run folder's policy (kind, env id, ...)."""
    meta, _, _ = read_meta(Path(folder) / POLICY)
    return dict(meta.get("info") or {})
