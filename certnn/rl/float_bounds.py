"""Float32 with error bounds: the TD target and the GAE recursion as certnn
graphs, executed in exact binary32 semantics (``certnn.run(..., "binary32")``)
and bounded against real arithmetic by the error-budget interpreter
(:mod:`certnn.error_budget`): for every input in a box (or at given points),
|binary32 result - real result| <= the returned bound, elementwise. The bound
is about the arithmetic; the constants (the network's weights, gamma and
gamma * lambda rounded to binary32) are the same in both semantics.

TD target graph, input row [r, 1 - terminated, s' (obs_dim), sel (n_actions)]:

    y = r + gamma ((1 - terminated) sum_a Q_target(s')_a sel_a)

``sel`` is the one-hot of the bootstrapped action (argmax of Q_target for DQN,
of the online network for Double DQN). GAE graph, input row [r (T), v (T),
v_next (T), 1 - terminated (T), 1 - ended (T)] for one environment:
:func:`certnn.rl.returns.gae`'s recursion unrolled over T steps, output the T
advantages. Both graphs perform the operations of ``td_target`` / ``gae`` in
the same order, so the float32 arrays those functions return equal the graphs'
binary32 execution bit for bit (elementwise float32 NumPy operations are IEEE
binary32 operations; the test suite checks the equality). The Q-network
inside the TD target is a matrix product: with ``order="any"`` the bound holds
for every summation order, so also for the BLAS products the trainer runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..error_budget.forward import ASSUMPTIONS as BUDGET_ASSUMPTIONS, error_budget
from ..ir.graph import Graph
from ..ir.trace import trace
from ..nn.module import Module
from ..tensor import Tensor


class _TDTarget(Module):
    def __init__(self, q, obs_dim: int, n_actions: int, gamma: float):
        super().__init__()
        self.q, self.obs_dim, self.n_actions, self.gamma = q, obs_dim, n_actions, np.float32(gamma)

    def forward(self, x):
        d = self.obs_dim
        q = self.q(x[:, 2:2 + d])
        v = (q * x[:, 2 + d:2 + d + self.n_actions]).sum(axis=1)
        return x[:, 0] + self.gamma * (x[:, 1] * v)


class _GAE(Module):
    def __init__(self, T: int, gamma: float, lam: float):
        super().__init__()
        self.T, self.g, self.gl = T, np.float32(gamma), np.float32(gamma * lam)

    def forward(self, x):
        T = self.T
        col = lambda k, t: x[:, k * T + t:k * T + t + 1]  # noqa: E731  (N, 1)
        last = Tensor(np.zeros((1, 1), np.float32))
        adv = [None] * T
        for t in reversed(range(T)):
            delta = (col(0, t) + self.g * (col(3, t) * col(2, t))) - col(1, t)
            last = delta + self.gl * (col(4, t) * last)
            adv[t] = last
        return F.concat(adv, axis=1)


def td_target_graph(q_network, obs_dim: int, n_actions: int, gamma: float) -> Graph:
    example = np.zeros((2, 2 + obs_dim + n_actions), np.float32)
    graph, _ = trace(_TDTarget(q_network.eval(), obs_dim, n_actions, gamma), example)
    return graph


def td_target_inputs(reward, terminated, next_obs, select, n_actions: int) -> np.ndarray:
    """Rows [r, 1 - terminated, s', one-hot(select)] (float32) for :func:`td_target_graph`."""
    next_obs = np.asarray(next_obs, np.float32)
    sel = np.eye(n_actions, dtype=np.float32)[np.asarray(select, np.int64)]
    keep = 1 - np.asarray(terminated, bool).astype(np.float32)
    return np.concatenate([np.asarray(reward, np.float32)[:, None], keep[:, None], next_obs, sel], axis=1)


def gae_graph(T: int, gamma: float, lam: float) -> Graph:
    graph, _ = trace(_GAE(T, gamma, lam), np.zeros((2, 5 * T), np.float32))
    return graph


def gae_inputs(rewards, values, next_values, terminated, truncated) -> np.ndarray:
    """Rows per environment [r, v, v_next, 1 - terminated, 1 - ended] from (T, N) arrays."""
    term = np.asarray(terminated, bool)
    keep = 1 - term.astype(np.float32)
    go_on = 1 - (term | np.asarray(truncated, bool)).astype(np.float32)
    cols = [np.asarray(a, np.float32).T for a in (rewards, values, next_values, keep, go_on)]
    return np.concatenate(cols, axis=1)


@dataclass
class FloatBound:
    bound: np.ndarray          # |binary32 - real| <= bound, per output element
    lo: np.ndarray             # enclosure of the real output
    hi: np.ndarray
    order: str
    evidence: str = "checked"
    assumptions: tuple = BUDGET_ASSUMPTIONS


def bound(graph: Graph, lo, hi=None, order: str = "sequential") -> FloatBound:
    """The error budget of ``graph`` over the box [lo, hi] (a point when ``hi`` is None);
    ``order="any"`` holds for every summation order."""
    lo = np.asarray(lo, np.float64)
    hi = lo if hi is None else np.asarray(hi, np.float64)
    b = error_budget(graph, lo, hi, order=order)
    return FloatBound(np.asarray(b.bound), b.lo, b.hi, order, b.evidence, tuple(b.assumptions))
