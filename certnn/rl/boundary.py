"""certnn's side of the Gymnasium boundary: in-process wrappers that put every
reset and step through the transition contract (:mod:`certnn.rl.contract`) and
optionally record it (:mod:`certnn.rl.rollout`).

``make_env(id)`` and ``make_vector_env(id, n)`` build checked environments;
``CheckedEnv`` / ``CheckedVectorEnv`` wrap ones you built. The reward range is
the one passed, else the environment's own ``reward_range`` attribute, else
the documented range of a known environment (``REWARD_RANGES``), else none
(finite is still required). :func:`check_seeding` checks Gymnasium's seeding
rule: ``reset(seed=s)`` twice, then the same actions, gives the same
observations, rewards and flags.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ..errors import CertnnError
from .contract import Contract, ContractViolation
from .rollout import Recorder

# Documented per-step reward ranges (Gymnasium's environment pages).
REWARD_RANGES = {
    "CartPole-v1": (1.0, 1.0),                 # +1 for every step, the terminating one included
    # -(theta^2 + 0.1 theta_dot^2 + 0.001 u^2), |theta| <= pi, |theta_dot| <= 8, |u| <= 2
    "Pendulum-v1": (-(np.pi ** 2 + 6.4 + 0.004) - 1e-6, 0.0),
    "MountainCar-v0": (-1.0, -1.0),
    "Acrobot-v1": (-1.0, 0.0),
}


def _declared_range(env, env_id, reward_range):
    if reward_range is not None:
        return reward_range
    own = getattr(env.unwrapped, "reward_range", None)
    if own is not None and tuple(own) != (-np.inf, np.inf):
        return tuple(own)
    return REWARD_RANGES.get(env_id)


def _env_id(env) -> str:
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(env.unwrapped).__name__


class CheckedEnv(gym.Wrapper):
    """A single environment whose every transition passes the contract."""

    def __init__(self, env: gym.Env, reward_range=None, record: bool = False):
        super().__init__(env)
        self.env_id = _env_id(env)
        self.contract = Contract(env.observation_space, env.action_space,
                                 _declared_range(env, self.env_id, reward_range))
        self.recorder = Recorder(self.contract, self.env_id) if record else None

    def reset(self, *, seed=None, options=None):
        out = self.env.reset(seed=seed, options=options)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ContractViolation(self.contract.steps, "reset()", out, "must return (observation, info)")
        obs, info = out
        self.contract.on_reset(obs, info)
        if self.recorder:
            self.recorder.reset(obs)
        return obs, info

    def step(self, action):
        self.contract.check_action(action)
        out = self.env.step(action)
        if not (isinstance(out, tuple) and len(out) == 5):
            raise ContractViolation(self.contract.steps + 1, "step()", out,
                                    "must return (observation, reward, terminated, truncated, info)")
        obs, reward, terminated, truncated, info = out
        self.contract.on_step(action, obs, reward, terminated, truncated, info)
        if self.recorder:
            self.recorder.step(action, obs, reward, terminated, truncated)
        return obs, reward, terminated, truncated, info


class CheckedVectorEnv(gym.vector.VectorWrapper):
    """A vector environment (next-step autoreset) whose every batched transition passes the contract."""

    def __init__(self, env: gym.vector.VectorEnv, reward_range=None, record: bool = False, env_id: str = ""):
        super().__init__(env)
        mode = env.metadata.get("autoreset_mode")
        if mode is not None and mode != gym.vector.AutoresetMode.NEXT_STEP:
            raise CertnnError(f"the contract checks Gymnasium's next-step autoreset; this vector env uses {mode}")
        self.env_id = env_id or (env.spec.id if env.spec is not None else type(env).__name__)
        self.contract = Contract(env.single_observation_space, env.single_action_space,
                                 reward_range if reward_range is not None else REWARD_RANGES.get(self.env_id),
                                 env.num_envs)
        self.recorder = Recorder(self.contract, self.env_id) if record else None

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.contract.on_reset(obs, info)
        if self.recorder:
            self.recorder.reset(obs)
        return obs, info

    def step(self, actions):
        self.contract.check_action(actions)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self.contract.on_step(actions, obs, reward, terminated, truncated, info)
        if self.recorder:
            self.recorder.step(actions, obs, reward, terminated, truncated)
        return obs, reward, terminated, truncated, info

    @property
    def autoreset_rows(self) -> np.ndarray:
        """Sub-environments whose next step is an autoreset (they ended at the last step)."""
        return np.array(self.contract.ended, bool)


def make_env(env_id: str, reward_range=None, record: bool = False, **kwargs) -> CheckedEnv:
    try:
        env = gym.make(env_id, **kwargs)
    except gym.error.Error as e:
        raise CertnnError(f"cannot make environment {env_id!r}: {e}") from None
    return CheckedEnv(env, reward_range, record)


def make_vector_env(env_id: str, num_envs: int, reward_range=None, record: bool = False, **kwargs) -> CheckedVectorEnv:
    try:
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    except gym.error.Error as e:
        raise CertnnError(f"cannot make environment {env_id!r}: {e}") from None
    return CheckedVectorEnv(env, reward_range, record, env_id)


def check_seeding(make, seed: int = 0, steps: int = 20) -> None:
    """Gymnasium's seeding rule on fresh environments from ``make()``: two runs from ``reset(seed=seed)``
    with the same actions agree exactly; raises CertnnError naming the first difference."""
    runs = []
    for _ in range(2):
        env = make()
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        trace = [("reset", obs)]
        for k in range(steps):
            obs, r, te, tr, _ = env.step(env.action_space.sample())
            trace.append((f"step {k + 1}", (obs, r, te, tr)))
            if np.all(np.logical_or(te, tr)) and not isinstance(env, gym.vector.VectorEnv):
                break
        env.close()
        runs.append(trace)
    for (where, a), (_, b) in zip(*runs):
        if not _same(a, b):
            raise CertnnError(f"seeding: two runs from reset(seed={seed}) differ at {where}: {a!r} vs {b!r}")
    if len(runs[0]) != len(runs[1]):
        raise CertnnError(f"seeding: two runs from reset(seed={seed}) have different lengths")


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))
