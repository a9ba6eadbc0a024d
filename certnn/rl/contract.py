"""The transition contract between certnn and a Gymnasium 1.x environment.

Every value crossing the boundary is checked against what the environment
declares and what Gymnasium 1.x defines:

* observation: in the observation space: type, shape, dtype (exactly the
  space's), finite, within the bounds (Box), in range (Discrete,
  MultiDiscrete, MultiBinary), recursively for Tuple and Dict spaces;
* action: in the action space (dtype castable to the space's, as
  ``Box.contains`` asks);
* reward: a real number (not a bool), finite, and within the reward range when
  one is declared;
* terminated / truncated: booleans (Python or NumPy);
* info: a dict;
* protocol: ``reset`` before the first ``step``, and again after an episode ends
  (single environments). Vector environments (``num_envs`` given) reset
  sub-environments themselves with Gymnasium 1.x's next-step autoreset: the
  step after a sub-environment terminated or truncated ignores its action,
  returns its reset observation, reward 0 and terminated = truncated = False.

A violation raises :class:`ContractViolation` naming the step (1-based count of
``step`` calls), the field and the value. :class:`Contract` is a small state
machine fed by the live wrappers (:mod:`certnn.rl.boundary`) and by the
offline re-check of a recorded rollout (:mod:`certnn.rl.rollout`): one contract
for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import CertnnError

ENV_TRANSITION = "gymnasium-env-transition"
ASSUMPTIONS = {
    ENV_TRANSITION:
        "the environment's dynamics are what its Gymnasium implementation computes; certnn checks every "
        "transition against the declared spaces, reward range and Gymnasium 1.x protocol (certnn.rl.contract), "
        "not against a model of the dynamics",
}


class ContractViolation(CertnnError):
    """A value crossing the environment boundary breaks the contract (names step, field and value)."""

    def __init__(self, step: int, field: str, value, problem: str):
        self.step, self.field, self.value, self.problem = step, field, value, problem
        super().__init__(f"step {step}: {field} = {_show(value)}: {problem}")


class UnsupportedSpace(CertnnError):
    """The contract does not know how to check a space of this type."""


def _show(v) -> str:
    if isinstance(v, np.ndarray):
        return np.array2string(v, precision=6, threshold=8) + f" ({v.dtype}, shape {v.shape})"
    if isinstance(v, np.generic):
        return f"{v.item()!r} ({v.dtype})"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def space_problem(space, x, *, batch: tuple = (), exact_dtype: bool = True):
    """None if ``x`` (with leading ``batch`` dims) lies in ``space``, else (sub-field, value, problem)."""
    from gymnasium import spaces
    if isinstance(space, spaces.Box):
        return _box_problem(space, x, batch, exact_dtype)
    if isinstance(space, spaces.Discrete):
        return _int_problem(x, batch, (), space.start, space.start + space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return _int_problem(x, batch, space.shape, space.start, space.start + space.nvec)
    if isinstance(space, spaces.MultiBinary):
        return _int_problem(x, batch, space.shape, 0, 2)
    if isinstance(space, spaces.Tuple):
        if not isinstance(x, tuple) or len(x) != len(space.spaces):
            return "", x, f"not a tuple of {len(space.spaces)} values"
        return _first((f"[{i}]", space_problem(s, v, batch=batch, exact_dtype=exact_dtype))
                      for i, (s, v) in enumerate(zip(space.spaces, x)))
    if isinstance(space, spaces.Dict):
        if not isinstance(x, dict) or set(x) != set(space.spaces):
            return "", x, f"not a dict with keys {sorted(space.spaces)}"
        return _first((f"[{k!r}]", space_problem(s, x[k], batch=batch, exact_dtype=exact_dtype))
                      for k, s in space.spaces.items())
    raise UnsupportedSpace(_unsupported(space))


def check_supported(space) -> None:
    """Raise UnsupportedSpace unless the contract can check every part of ``space`` (draws no sample,
    so the space's random generator is left alone)."""
    from gymnasium import spaces
    if isinstance(space, spaces.Tuple):
        for s in space.spaces:
            check_supported(s)
    elif isinstance(space, spaces.Dict):
        for s in space.spaces.values():
            check_supported(s)
    elif not isinstance(space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary):
        raise UnsupportedSpace(_unsupported(space))


def _unsupported(space) -> str:
    return f"the transition contract cannot check a {type(space).__name__} space ({space})"


def _first(problems):
    """The first problem of the parts, its sub-field prefixed with the part's key."""
    for prefix, p in problems:
        if p is not None:
            return prefix + p[0], p[1], p[2]
    return None


def _first_bad(mask: np.ndarray):
    """Index tuple of the first True in ``mask`` (0-d arrays included), or None."""
    if not np.any(mask):
        return None
    return tuple(int(i) for i in np.argwhere(np.atleast_1d(mask))[0][:mask.ndim])


def _index(idx) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if idx else ""


def _box_problem(space, x, batch, exact_dtype):
    if not isinstance(x, np.ndarray):
        return "", x, f"not a NumPy array (a {type(x).__name__}); the space is {space}"
    want = tuple(batch) + tuple(space.shape)
    if x.shape != want:
        return "", x, f"shape {x.shape}, the space wants {want}"
    ok = x.dtype == space.dtype if exact_dtype else np.can_cast(x.dtype, space.dtype)
    if not ok:
        return "", x, f"dtype {x.dtype}, the space wants {space.dtype}"
    in_box = (x >= space.low) & (x <= space.high)     # False for NaN
    if in_box.all() and (x.dtype.kind != "f" or np.isfinite(x).all()):
        return None                                     # the common case, without locating anything
    if x.dtype.kind == "f":
        i = _first_bad(~np.isfinite(x))
        if i is not None:
            return _index(i), x[i], "not finite"
    low, high = np.broadcast_to(space.low, want), np.broadcast_to(space.high, want)
    i = _first_bad(x < low)
    if i is not None:
        return _index(i), x[i], f"below the lower bound {low[i]}"
    i = _first_bad(x > high)
    if i is not None:
        return _index(i), x[i], f"above the upper bound {high[i]}"
    return None


def _int_problem(x, batch, shape, lo, hi):
    if isinstance(x, int | np.integer) and not isinstance(x, bool) and not batch and not shape:
        return None if lo <= x < hi else ("", x, f"outside [{lo}, {hi - 1}]")   # a Discrete scalar
    a = np.asarray(x) if isinstance(x, np.ndarray | np.integer | int) and not isinstance(x, bool) else None
    if a is None or a.dtype.kind not in "iu":
        return "", x, "not an integer (or integer array)"
    want = tuple(batch) + tuple(shape)
    if a.shape != want:
        return "", x, f"shape {a.shape}, the space wants {want}"
    lo, hi = np.broadcast_to(lo, want), np.broadcast_to(hi, want)
    i = _first_bad((a < lo) | (a >= hi))
    if i is not None:
        return _index(i), a[i], f"outside [{lo[i]}, {hi[i] - 1}]"
    return None


@dataclass
class Contract:
    """The checks and the protocol state for one environment (``num_envs`` None) or a vector of them."""

    observation_space: object
    action_space: object
    reward_range: tuple | None = None
    num_envs: int | None = None
    steps: int = 0
    episodes: int = 0
    _started: bool = False
    ended: np.ndarray | bool = False   # ended at the last step (vector: per sub-environment, next step autoresets)

    def __post_init__(self):
        for sp in (self.observation_space, self.action_space):
            check_supported(sp)
        if self.reward_range is not None:
            lo, hi = (float(v) for v in self.reward_range)
            if not lo <= hi:
                raise CertnnError(f"reward range {self.reward_range} is empty")
            self.reward_range = (lo, hi)

    @property
    def batch(self) -> tuple:
        return () if self.num_envs is None else (self.num_envs,)

    # ---- the two events -------------------------------------------------------------------------
    def on_reset(self, obs, info) -> None:
        self._check_space("observation", self.observation_space, obs, exact=True)
        self._check_info(info)
        self._started = True
        self.ended = np.zeros(self.num_envs, bool) if self.num_envs else False
        self.episodes += self.num_envs or 1

    def check_action(self, action) -> None:
        """Called before the action reaches the environment."""
        step = self.steps + 1
        if not self._started:
            raise ContractViolation(step, "protocol", "step", "step() called before reset()")
        if self.num_envs is None and self.ended:
            raise ContractViolation(step, "protocol", "step", "step() after the episode ended, without reset()")
        self._check_space("action", self.action_space, action, exact=False, step=step)

    def on_step(self, action, obs, reward, terminated, truncated, info) -> None:
        self.check_action(action)
        self.steps += 1
        self._check_space("observation", self.observation_space, obs, exact=True)
        if self.num_envs is None:
            self._check_scalar_step(reward, terminated, truncated)
            self.ended = bool(terminated) or bool(truncated)
        else:
            self._check_vector_step(reward, terminated, truncated)
            restarted = self.ended
            self.episodes += int(restarted.sum())
            self.ended = np.asarray(terminated) | np.asarray(truncated)
            self.ended &= ~restarted
        self._check_info(info)

    # ---- pieces ---------------------------------------------------------------------------------
    def _check_space(self, name, space, x, exact, step=None):
        p = space_problem(space, x, batch=self.batch, exact_dtype=exact)
        if p is not None:
            sub, value, problem = p
            raise ContractViolation(self.steps if step is None else step, name + sub, value, problem)

    def _check_info(self, info):
        if not isinstance(info, dict):
            raise ContractViolation(self.steps, "info", info, f"not a dict (a {type(info).__name__})")

    def _check_reward_value(self, field_name, r):
        if not math.isfinite(r):
            raise ContractViolation(self.steps, field_name, r, "not finite")
        if self.reward_range is not None and not self.reward_range[0] <= r <= self.reward_range[1]:
            raise ContractViolation(self.steps, field_name, r, f"outside the declared reward range {self.reward_range}")

    def _check_scalar_step(self, reward, terminated, truncated):
        if isinstance(reward, bool | np.bool_) or not isinstance(reward, int | float | np.integer | np.floating):
            raise ContractViolation(self.steps, "reward", reward, "not a real number")
        self._check_reward_value("reward", float(reward))
        for name, flag in (("terminated", terminated), ("truncated", truncated)):
            if not isinstance(flag, bool | np.bool_):
                raise ContractViolation(self.steps, name, flag, f"not a bool (a {type(flag).__name__})")

    def _check_vector_step(self, reward, terminated, truncated):
        n = self.num_envs
        if not (isinstance(reward, np.ndarray) and reward.shape == (n,) and reward.dtype.kind in "iuf"):
            raise ContractViolation(self.steps, "reward", reward, f"not a real array of shape ({n},)")
        for name, flag in (("terminated", terminated), ("truncated", truncated)):
            if not (isinstance(flag, np.ndarray) and flag.shape == (n,) and flag.dtype == np.bool_):
                raise ContractViolation(self.steps, name, flag, f"not a bool array of shape ({n},)")
        for i in np.flatnonzero(~self.ended):
            self._check_reward_value(f"reward[{i}]", float(reward[i]))
        for i in np.flatnonzero(self.ended):   # next-step autoreset: these rows are resets
            for name, v, want in (("reward", reward[i], 0), ("terminated", terminated[i], False),
                                  ("truncated", truncated[i], False)):
                if v != want:
                    raise ContractViolation(self.steps, f"{name}[{i}]", v,
                                            f"sub-environment {i} ended at the previous step, so this step is its "
                                            f"next-step autoreset and must give {name} {want}")
