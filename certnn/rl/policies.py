"""Networks, action distributions and losses for DQN and PPO, written with
certnn's own ops (so autograd, tracing and bounds all see them).

* ``huber(x, delta)`` = 0.5 m^2 + delta (|x| - m), m = min(|x|, delta): the
  smooth L1 loss (PyTorch's ``smooth_l1_loss`` with beta = delta, times delta).
* ``pick(values, actions)`` = values[i, a_i], as a sum against one-hot rows.
* ``clamp(x, lo, hi)`` = min(max(x, lo), hi).
* ``Categorical(logits)``: log pi(a|s) from log_softmax, entropy
  -sum pi log pi.
* ``DiagGaussian(mean, log_std)``: log N(a; mean, exp(log_std)^2) summed over
  action dimensions, entropy sum(log_std + 0.5 log(2 pi e)).
Sampling happens in NumPy from a given generator (no gradient flows through
an action).
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from ..zoo import mlp

LOG_2PI = math.log(2 * math.pi)


def network(in_dim: int, hidden, out_dim: int, activation: str = "relu"):
    """An MLP in_dim -> hidden... -> out_dim (certnn.zoo's, so checkpoints rebuild it)."""
    return mlp(in_features=int(in_dim), hidden=tuple(int(h) for h in hidden), num_classes=int(out_dim),
               activation=activation)


def one_hot(actions, n: int, dtype=np.float32) -> np.ndarray:
    return np.eye(n, dtype=dtype)[np.asarray(actions, np.int64)]


def pick(values: Tensor, actions) -> Tensor:
    """values[i, actions[i]] for a batch (N, A)."""
    return (values * one_hot(actions, values.shape[1], values.dtype)).sum(axis=1)


def huber(x: Tensor, delta: float = 1.0) -> Tensor:
    a = F.abs(x)
    m = F.minimum(a, delta)
    return 0.5 * m * m + delta * (a - m)


def clamp(x: Tensor, lo: float, hi: float) -> Tensor:
    return F.minimum(F.maximum(x, lo), hi)


class Categorical:
    def __init__(self, logits: Tensor):
        self.logits = logits
        self.log_probs = F.log_softmax(logits, axis=1)

    def log_prob(self, actions) -> Tensor:
        return pick(self.log_probs, actions)

    def entropy(self) -> Tensor:
        return -(F.exp(self.log_probs) * self.log_probs).sum(axis=1)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        p = np.exp(self.log_probs.data.astype(np.float64))
        u = rng.random((p.shape[0], 1))
        return np.minimum((u >= np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1)

    def mode(self) -> np.ndarray:
        return np.argmax(self.logits.data, axis=1)


class DiagGaussian:
    def __init__(self, mean: Tensor, log_std: Tensor):
        self.mean, self.log_std = mean, log_std

    def log_prob(self, actions) -> Tensor:
        z = (Tensor(np.asarray(actions, self.mean.dtype)) - self.mean) / F.exp(self.log_std)
        per_dim = -0.5 * z * z - self.log_std - 0.5 * LOG_2PI
        return per_dim.sum(axis=1)

    def entropy(self) -> Tensor:
        per_dim = self.log_std + 0.5 * (LOG_2PI + 1.0)
        return per_dim.sum() * np.ones(self.mean.shape[0], self.mean.dtype)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        std = np.exp(self.log_std.data)
        return (self.mean.data + std * rng.standard_normal(self.mean.shape)).astype(self.mean.dtype)

    def mode(self) -> np.ndarray:
        return self.mean.data
