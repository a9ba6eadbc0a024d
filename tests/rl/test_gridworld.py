"""GridWorld: one object behind the MDP facts and the Gymnasium environment."""

import warnings
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from certnn.errors import CertnnError
from certnn.rl.boundary import make_env
from certnn.rl.gridworld import GridWorld
from certnn.rl.solve import evaluate_policy_exact, policy_iteration, value_iteration


def test_env_passes_gymnasiums_checker():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("certnn/GridWorld-v0").unwrapped)


def test_mdp_is_built_from_the_same_outcomes_the_env_samples():
    w = GridWorld(slip="0.2")
    m = w.mdp("0.9")
    for s in range(w.n_states):
        for a in range(4):
            for p, t, _, _ in w.outcomes(s, a):
                assert m.exact["P"][a][s][t] >= p > 0
    assert sum(m.exact["P"][1][w.start]) == 1 and m.exact["R"][w.start][1] == -1
    # the environment's empirical transition frequencies from the start match P (same object)
    env = w.env()
    counts = np.zeros(w.n_states)
    env.reset(seed=0)
    for _ in range(3000):
        env.state, env.t = w.start, 0
        _, r, *_ = env.step(1)
        counts[env.state] += 1
        assert r == -1
    assert np.allclose(counts / 3000, [float(x) for x in m.exact["P"][1][w.start]], atol=0.03)


def test_value_of_the_optimal_policy_matches_monte_carlo_returns_of_the_env():
    w = GridWorld(slip="0.1")
    gamma = Fraction(95, 100)
    pi = policy_iteration(w.mdp(gamma))
    env = make_env("certnn/GridWorld-v0", world=w, max_steps=400)     # through the checked boundary
    returns = []
    for seed in range(300):
        obs, _ = env.reset(seed=seed)
        g, disc, done = 0.0, 1.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(int(pi.policy[w.state_of(obs)]))
            g += disc * r
            disc *= float(gamma)
            done = term or trunc
        returns.append(g)
    v_start = float(pi.values[w.start])
    assert abs(np.mean(returns) - v_start) < 4 * np.std(returns) / np.sqrt(len(returns)) + 1e-9


def test_certified_vi_and_policy_suboptimality_on_gridworld():
    m = GridWorld().mdp()
    res = value_iteration(m, eps=1e-4)
    exact = policy_iteration(m)
    assert res.eps_optimal and np.array_equal(res.policy, exact.policy)
    v = evaluate_policy_exact(m, res.policy)
    assert all(a == b for a, b in zip(v, exact.values))


def test_bad_layouts():
    with pytest.raises(CertnnError, match="exactly one start"):
        GridWorld(["..G"])
    with pytest.raises(CertnnError, match="unknown cell kinds"):
        GridWorld(["S.X", "..G"])
    with pytest.raises(CertnnError, match="slip"):
        GridWorld(slip=2)


def test_render_marks_the_agent():
    env = GridWorld().env()
    env.reset(seed=0)
    assert env.render().splitlines()[0][0] == "A"
