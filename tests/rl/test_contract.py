"""The checked Gymnasium boundary: every field of a transition, the protocol, vector autoreset,
recorded rollouts re-checked offline (tampering caught)."""

import io
import json

import gymnasium as gym
import numpy as np
import pytest

from certnn.errors import CertnnError
from certnn.rl.boundary import CheckedEnv, check_seeding, make_env, make_vector_env
from certnn.rl.contract import Contract, ContractViolation, UnsupportedSpace
from certnn.rl.rollout import episodes, read_rollout, recheck


class Faulty(gym.Env):
    """A one-dimensional env that misbehaves in a chosen way at step 3."""

    def __init__(self, fault=None):
        self.fault = fault
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        obs, reward, term, trunc, info = np.full(2, 0.1 * self.t, np.float32), 1.0, self.t >= 5, False, {}
        if self.t == 3:
            if self.fault == "obs-bounds":
                obs = np.array([0.3, 1.5], np.float32)
            elif self.fault == "obs-nan":
                obs = np.array([np.nan, 0.0], np.float32)
            elif self.fault == "obs-dtype":
                obs = obs.astype(np.float64)
            elif self.fault == "obs-shape":
                obs = np.zeros(3, np.float32)
            elif self.fault == "reward-inf":
                reward = float("inf")
            elif self.fault == "reward-range":
                reward = 7.0
            elif self.fault == "reward-type":
                reward = "1"
            elif self.fault == "flag":
                term = 0
            elif self.fault == "info":
                info = None
        return obs, reward, term, trunc, info


@pytest.mark.parametrize("fault, field, value", [
    ("obs-bounds", r"observation\[1\]", "1.5"), ("obs-nan", r"observation\[0\]", "nan"),
    ("obs-dtype", "observation", "float64"), ("obs-shape", "observation", r"shape \(3,\)"),
    ("reward-inf", "reward", "inf"), ("reward-range", "reward", "7.0"), ("reward-type", "reward", "'1'"),
    ("flag", "terminated", "0"), ("info", "info", "None")])
def test_each_violation_names_step_field_and_value(fault, field, value):
    env = CheckedEnv(Faulty(fault), reward_range=(0, 1))
    env.reset(seed=0)
    env.step(0)
    env.step(1)
    with pytest.raises(ContractViolation, match=rf"^step 3: {field} = .*{value}") as e:
        env.step(0)
    assert e.value.step == 3


def test_actions_and_protocol():
    env = CheckedEnv(Faulty())
    with pytest.raises(ContractViolation, match=r"step 1: protocol .* before reset"):
        env.step(0)
    env.reset()
    with pytest.raises(ContractViolation, match=r"step 1: action = 2: outside \[0, 1\]"):
        env.step(2)
    with pytest.raises(ContractViolation, match="step 1: action = 0.0: not an integer"):
        env.step(0.0)
    for _ in range(5):
        env.step(1)
    with pytest.raises(ContractViolation, match="after the episode ended"):
        env.step(1)
    env.reset()
    env.step(np.int64(1))


def test_continuous_actions_and_reward_range_of_pendulum():
    env = make_env("Pendulum-v1")
    env.reset(seed=0)
    env.step(np.array([2.0], np.float32))
    with pytest.raises(ContractViolation, match=r"action\[0\] = .*2.5.*above the upper bound 2.0"):
        env.step(np.array([2.5], np.float32))
    with pytest.raises(ContractViolation, match="action = .*shape"):
        env.step(np.array([0.5, 0.5], np.float32))
    assert env.contract.reward_range[0] < -16.27 and env.contract.reward_range[1] == 0


def test_vector_env_next_step_autoreset_is_checked():
    env = make_vector_env("CartPole-v1", 3)
    env.reset(seed=0)
    ended, was = False, np.zeros(3, bool)
    for _ in range(200):
        _, r, te, tr, _ = env.step(np.zeros(3, np.int64))
        if ended:
            assert np.all(r[was] == 0) and not np.any(te[was] | tr[was])
            break
        was = te | tr
        ended = was.any()
    assert ended
    # a vector env whose autoreset step reports a reward breaks the contract
    c = Contract(env.single_observation_space, env.single_action_space, None, 2)
    obs = np.zeros((2, 4), np.float32)
    c.on_reset(obs, {})
    c.on_step(np.zeros(2, np.int64), obs, np.ones(2), np.array([True, False]), np.zeros(2, bool), {})
    with pytest.raises(ContractViolation, match=r"step 2: reward\[0\] = 1.0 \(float64\): .*autoreset"):
        c.on_step(np.zeros(2, np.int64), obs, np.ones(2), np.zeros(2, bool), np.zeros(2, bool), {})


def test_unsupported_space_is_refused_up_front():
    with pytest.raises(UnsupportedSpace, match="Text"):
        Contract(gym.spaces.Text(5), gym.spaces.Discrete(2))


def test_seeding_rule():
    check_seeding(lambda: make_env("CartPole-v1"), seed=3)
    check_seeding(lambda: make_vector_env("CartPole-v1", 2), seed=3)

    class Unseeded(Faulty):
        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.random.uniform(-1, 1, 2).astype(np.float32), {}
    with pytest.raises(CertnnError, match="differ at reset"):
        check_seeding(lambda: CheckedEnv(Unseeded()), seed=0)


def _rollout(tmp_path, vector):
    path = tmp_path / "r.npz"
    if vector:
        env = make_vector_env("CartPole-v1", 2, record=True)
        env.reset(seed=0)
        for _ in range(40):
            env.step(np.array([0, 1]))
    else:
        env = make_env("CartPole-v1", record=True)
        env.reset(seed=0)
        for _ in range(40):
            _, _, te, tr, _ = env.step(0)
            if te or tr:
                env.reset()
    env.recorder.save(path)
    return path


@pytest.mark.parametrize("vector", [False, True])
def test_recorded_rollout_rechecks_and_tampering_is_caught(tmp_path, vector):
    path = _rollout(tmp_path, vector)
    rc = recheck(path)
    assert rc.steps == 40 and rc.evidence == "checked"
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    data["obs"][7].flat[2] = 5.0                       # pole angle far outside the space
    buf = io.BytesIO()
    np.savez(buf, **data)
    path.write_bytes(buf.getvalue())
    field = r"observation\[2\]" if not vector else r"observation\[0, 2\]"
    with pytest.raises(ContractViolation, match=rf"step \d+: {field} = 5.0 \(float32\): above the upper bound"):
        recheck(path)


def _replay(seed: int, action: int, n: int) -> list:
    """The observations of the first ``n`` CartPole episodes from reset(seed=seed), always ``action``."""
    env, out = gym.make("CartPole-v1"), []
    obs, _ = env.reset(seed=seed)
    while len(out) < n:
        seen, done = [obs], False
        while not done:
            obs, _, te, tr, _ = env.step(action)
            seen.append(obs)
            done = te or tr
        out.append(np.array(seen))
        obs, _ = env.reset()
    return out


@pytest.mark.parametrize("vector", [False, True])
def test_episodes_of_a_recording_are_the_episodes_played(tmp_path, vector):
    """Replayed in a plain Gymnasium env with the same seeds and actions, each episode matches exactly
    (vector: each sub-environment's first episode; single: every complete one)."""
    eps = episodes(*read_rollout(_rollout(tmp_path, vector)))
    want = [_replay(0, 0, 1)[0], _replay(1, 1, 1)[0]] if vector else _replay(0, 0, len(eps))
    assert len(eps) == len(want) >= 2
    for ep, obs in zip(eps, want):
        assert np.array_equal(ep.obs, obs) and ep.terminated and ep.total == len(ep.action) == len(obs) - 1


def test_rollout_file_errors(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"junk")
    with pytest.raises(CertnnError, match="cannot read a rollout"):
        recheck(p)
    np.savez(p, meta=np.array(json.dumps({"format": "other"})))
    with pytest.raises(CertnnError, match="missing"):
        recheck(p)


def test_composite_spaces_name_the_sub_field():
    from certnn.rl.contract import space_problem
    sp = gym.spaces.Dict({"pos": gym.spaces.Box(0, 1, (2,), np.float32), "mode": gym.spaces.MultiDiscrete([2, 3])})
    ok = {"pos": np.array([0.5, 1.0], np.float32), "mode": np.array([1, 2])}
    assert space_problem(sp, ok) is None
    bad = dict(ok, mode=np.array([1, 3]))
    assert space_problem(sp, bad)[:2] == ("['mode'][1]", 3)
    assert space_problem(gym.spaces.Tuple([gym.spaces.Discrete(2), gym.spaces.MultiBinary(2)]),
                         (1, np.array([0, 2])))[0] == "[1][1]"
    assert "not a dict" in space_problem(sp, [1, 2])[2]
