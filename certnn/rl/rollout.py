"""Recorded rollouts: every reset and step that crossed a checked boundary, in
one ``.npz`` (no pickles), re-checkable offline by the same contract.

Layout: ``meta`` is a JSON string (format, version, the spaces, the reward
range, ``num_envs``, the environment id); per event ``kind`` (0 reset, 1 step)
and the arrays ``obs``, ``action`` (zeros for resets), ``reward``,
``terminated``, ``truncated``, stacked over events. Spaces are written as
JSON (Box, Discrete, MultiDiscrete, MultiBinary), so a recording is read
without Gymnasium's pickling.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import atomic_write
from .contract import Contract, UnsupportedSpace

FORMAT, VERSION = "certnn-rollout", 1
RESET, STEP = 0, 1


def space_to_json(space) -> dict:
    from gymnasium import spaces
    if isinstance(space, spaces.Box):
        return {"type": "Box", "low": space.low.tolist(), "high": space.high.tolist(),
                "shape": list(space.shape), "dtype": str(space.dtype)}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "start": space.start.tolist()}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": list(space.shape)}
    raise UnsupportedSpace(f"a rollout cannot record a {type(space).__name__} space")


def space_from_json(d: dict):
    from gymnasium import spaces
    kind = d.get("type")
    try:
        if kind == "Box":
            dt = np.dtype(d["dtype"])
            return spaces.Box(np.array(d["low"], dt), np.array(d["high"], dt), tuple(d["shape"]), dt)
        if kind == "Discrete":
            return spaces.Discrete(d["n"], start=d["start"])
        if kind == "MultiDiscrete":
            return spaces.MultiDiscrete(d["nvec"], start=d["start"])
        if kind == "MultiBinary":
            return spaces.MultiBinary(d["n"])
    except (KeyError, TypeError, ValueError) as e:
        raise CertnnError(f"bad {kind} space in a rollout file: {e}") from None
    raise CertnnError(f"unknown space type {kind!r} in a rollout file")


class Recorder:
    """Collects the events of one checked environment (fed by :mod:`certnn.rl.boundary`)."""

    def __init__(self, contract: Contract, env_id: str = ""):
        self.contract, self.env_id = contract, env_id
        self.kind, self.obs, self.action, self.reward, self.terminated, self.truncated = [], [], [], [], [], []
        space = contract.action_space      # a placeholder action for resets (no sample is drawn)
        self._zero_action = np.zeros(contract.batch + tuple(space.shape or ()), space.dtype)

    def reset(self, obs) -> None:
        self._add(RESET, obs, self._zero_action, 0, False, False)

    def step(self, action, obs, reward, terminated, truncated) -> None:
        self._add(STEP, obs, action, reward, terminated, truncated)

    def _add(self, kind, obs, action, reward, terminated, truncated):
        n = self.contract.num_envs
        self.kind.append(kind)
        self.obs.append(np.asarray(obs))
        self.action.append(np.asarray(action))
        fill = (lambda v, dt: np.full(n, v, dt) if n and np.ndim(v) == 0 else np.asarray(v, dt))  # noqa: E731
        self.reward.append(fill(reward, np.float64))
        self.terminated.append(fill(terminated, bool))
        self.truncated.append(fill(truncated, bool))

    def save(self, path) -> Path:
        c = self.contract
        meta = {"format": FORMAT, "version": VERSION, "env_id": self.env_id, "num_envs": c.num_envs,
                "observation_space": space_to_json(c.observation_space),
                "action_space": space_to_json(c.action_space),
                "reward_range": list(c.reward_range) if c.reward_range else None}
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array(json.dumps(meta)), kind=np.array(self.kind, np.int8),
                            obs=np.stack(self.obs), action=np.stack(self.action), reward=np.stack(self.reward),
                            terminated=np.stack(self.terminated), truncated=np.stack(self.truncated))
        with atomic_write(path) as f:
            f.write(buf.getvalue())
        return Path(path)


@dataclass
class Recheck:
    events: int
    steps: int
    episodes: int
    evidence: str = "checked"


def read_rollout(path) -> tuple[dict, dict]:
    """(meta, arrays) of a recorded rollout, its layout and format checked (not yet its values)."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise CertnnError(f"{p}: cannot read a rollout ({e})") from None
    need = {"meta", "kind", "obs", "action", "reward", "terminated", "truncated"}
    if not need <= data.keys():
        raise CertnnError(f"{p}: a rollout needs arrays {sorted(need)}, missing {sorted(need - data.keys())}")
    try:
        meta = json.loads(str(data["meta"]))
    except ValueError:
        raise CertnnError(f"{p}: the rollout's meta is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CertnnError(f"{p}: not a {FORMAT} version {VERSION} file")
    if data["kind"].ndim != 1 or any(data[k].shape[:1] != data["kind"].shape for k in need - {"meta"}):
        raise CertnnError(f"{p}: the rollout's arrays do not hold one entry per event")
    return meta, data


def recheck(path) -> Recheck:
    """Re-run the contract over a recorded rollout; raises ContractViolation at the first bad value."""
    p = Path(path)
    meta, data = read_rollout(p)
    n = meta.get("num_envs")
    c = Contract(space_from_json(meta["observation_space"]), space_from_json(meta["action_space"]),
                 meta.get("reward_range"), n)
    scalar = (lambda a: a) if n else (lambda a: a.item())  # noqa: E731
    for i, kind in enumerate(data["kind"]):
        obs = data["obs"][i]
        if kind == RESET:
            c.on_reset(obs, {})
        elif kind == STEP:
            action = data["action"][i]
            action = action if action.ndim or n else action[()]
            c.on_step(action, obs, scalar(data["reward"][i]), scalar(data["terminated"][i]),
                      scalar(data["truncated"][i]), {})
        else:
            raise CertnnError(f"{p}: event {i} has unknown kind {kind}")
    return Recheck(len(data["kind"]), c.steps, c.episodes)


@dataclass
class Episode:
    """One recorded episode: ``obs`` (T + 1 observations, the reset's first), ``action`` and
    ``reward`` (T steps); how it ended."""
    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: bool
    truncated: bool

    @property
    def total(self) -> float:
        return float(np.sum(self.reward, dtype=np.float64))


def episodes(meta: dict, data: dict) -> list[Episode]:
    """The episodes of a rollout. A vector recording (``num_envs`` set, next-step autoreset) gives
    the first episode of each sub-environment, as :func:`certnn.rl.agent.evaluate` counts them
    (an episode cut off by the end of the recording is left out); a single environment gives
    every episode, each starting at a reset."""
    kind, obs, act, rew = data["kind"], data["obs"], data["action"], data["reward"]
    term, trunc = data["terminated"], data["truncated"]
    if meta.get("num_envs") is None:
        starts = list(np.flatnonzero(kind == RESET)) + [len(kind)]
        out = []
        for a, b in zip(starts, starts[1:]):
            steps = slice(a + 1, b)
            if b > a + 1 and (term[b - 1] or trunc[b - 1]):
                out.append(Episode(obs[a:b], act[steps], rew[steps], bool(term[b - 1]), bool(trunc[b - 1])))
        return out
    if not len(kind) or kind[0] != RESET:
        return []
    resets = np.flatnonzero(kind[1:] == RESET)
    last = int(resets[0]) + 1 if resets.size else len(kind)      # the first reset's events only
    out = []
    for i in range(int(meta["num_envs"])):
        done = np.flatnonzero(term[1:last, i] | trunc[1:last, i])
        if done.size:
            end = int(done[0]) + 1                       # events 1..end are the episode's steps
            steps = slice(1, end + 1)
            out.append(Episode(obs[:end + 1, i], act[steps, i], rew[steps, i], bool(term[end, i]),
                               bool(trunc[end, i])))
    return out
