"""Bootstrapped targets: the TD target of DQN and the GAE advantages of PPO.

Termination and truncation differ. ``terminated`` means the episode reached
a terminal state whose value is 0: no bootstrap. ``truncated`` (a time limit)
cut an episode that would have gone on: bootstrap from the value of the final
observation. Both end the GAE accumulation (the next step belongs to another
episode).

    TD target   y_t = r_t + gamma ((1 - term_t) v_next_t)
    GAE         delta_t = (r_t + gamma ((1 - term_t) v_next_t)) - v_t
                A_t = delta_t + (gamma lambda) ((1 - (term_t or trunc_t)) A_{t+1}),  A_T = 0
    returns     R_t = A_t + v_t

``v_next_t`` is the value of the observation that step t returned: with
next-step autoreset that is the final observation of an ending episode, so a
truncated step bootstraps from it. Each formula is evaluated in exactly the
order the parentheses show, in the arrays' dtype: in float32 every step is one
IEEE binary32 operation (the constants gamma and gamma * lambda rounded to
binary32 once), which is what :mod:`certnn.rl.float_bounds` bounds; with
object arrays of Fractions the same code computes exactly.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def _const(x, like: np.ndarray):
    return like.dtype.type(x) if like.dtype.kind == "f" else Fraction(x)


def td_target(reward, next_value, terminated, gamma):
    """r + gamma (1 - terminated) v_next, elementwise."""
    reward = np.asarray(reward)
    keep = 1 - np.asarray(terminated).astype(reward.dtype)
    return reward + _const(gamma, reward) * (keep * np.asarray(next_value, reward.dtype))


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """GAE advantages and returns for arrays of shape (T, ...) (time first)."""
    rewards = np.asarray(rewards)
    values, next_values = np.asarray(values, rewards.dtype), np.asarray(next_values, rewards.dtype)
    term = np.asarray(terminated, bool)
    keep = 1 - term.astype(rewards.dtype)
    go_on = 1 - (term | np.asarray(truncated, bool)).astype(rewards.dtype)
    g = _const(gamma, rewards)
    gl = _const(gamma * lam if rewards.dtype.kind == "f" else Fraction(gamma) * Fraction(lam), rewards)
    adv = np.zeros_like(rewards)
    last = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        delta = (rewards[t] + g * (keep[t] * next_values[t])) - values[t]
        last = delta + gl * (go_on[t] * last)
        adv[t] = last
    return adv, adv + values
