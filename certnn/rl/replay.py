"""Replay buffers: uniform and prioritised (Schaul et al. 2016, proportional
variant with a sum tree).

Both are FIFO rings of fixed capacity: once full, each new transition replaces
the oldest one. Sampling draws from the buffer's own seeded generator, so a
seed fixes every sample. A transition is (obs, action, reward, next_obs,
terminated); ``terminated`` (not ``truncated``) is what stops bootstrapping,
so a time-limit cut keeps its next observation's value.

Prioritised sampling: item i is drawn with probability p_i / sum p, p_i =
(|td_i| + eps)^alpha (new items get the largest priority seen), one draw per
equal slice of the total (stratified), with importance weights
w_i = (N P(i))^-beta / max_j w_j over the batch.
"""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError

FIELDS = ("obs", "action", "reward", "next_obs", "terminated")


class ReplayBuffer:
    def __init__(self, capacity: int, obs_shape: tuple, action_shape: tuple = (), action_dtype=np.int64,
                 obs_dtype=np.float32, seed: int = 0):
        if int(capacity) < 1:
            raise CertnnError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        c = self.capacity
        self.data = {"obs": np.zeros((c, *obs_shape), obs_dtype), "action": np.zeros((c, *action_shape), action_dtype),
                     "reward": np.zeros(c, np.float32), "next_obs": np.zeros((c, *obs_shape), obs_dtype),
                     "terminated": np.zeros(c, bool)}
        self.pos = 0          # where the next transition goes (the oldest one once full)
        self.size = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminated) -> int:
        """Store one transition; returns its slot."""
        i = self.pos
        for k, v in zip(FIELDS, (obs, action, reward, next_obs, terminated)):
            self.data[k][i] = v
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return i

    def order(self) -> np.ndarray:
        """Slots from the oldest stored transition to the newest."""
        start = self.pos if self.size == self.capacity else 0
        return (start + np.arange(self.size)) % self.capacity

    def get(self, idx) -> dict:
        return {k: v[idx] for k, v in self.data.items()}

    def sample(self, batch_size: int) -> dict:
        if self.size == 0:
            raise CertnnError("cannot sample from an empty replay buffer")
        idx = self.rng.integers(0, self.size, batch_size)
        out = self.get(idx)
        out["index"], out["weight"] = idx, np.ones(batch_size, np.float32)
        return out


class SumTree:
    """Leaf values (>= 0) with every internal node the sum of its children: O(log n) update and
    prefix-sum search. Parents are recomputed from their children (never by adding deltas), so the
    sums do not drift."""

    def __init__(self, capacity: int):
        self.leaves = 1 << max(0, int(capacity - 1).bit_length())
        self.tree = np.zeros(2 * self.leaves)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def __getitem__(self, idx):
        return self.tree[self.leaves + np.asarray(idx)]

    def update(self, idx, values) -> None:
        idx = np.atleast_1d(np.asarray(idx, np.int64))
        values = np.broadcast_to(np.asarray(values, np.float64), idx.shape)
        if np.any(~np.isfinite(values)) or np.any(values < 0):
            raise CertnnError("sum-tree priorities must be finite and >= 0")
        node = self.leaves + idx
        self.tree[node] = values          # a repeated index keeps its last value
        node = np.unique(node // 2)
        while node[0] >= 1:                # the root is node 1
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]
            node = np.unique(node // 2)

    def find(self, prefix) -> np.ndarray:
        """For each prefix value in [0, total): the leaf whose cumulative range holds it."""
        prefix = np.array(prefix, np.float64)
        node = np.ones(prefix.shape, np.int64)
        while node[0] < self.leaves:
            left = 2 * node
            go_right = prefix >= self.tree[left]
            prefix = np.where(go_right, prefix - self.tree[left], prefix)
            node = np.where(go_right, left + 1, left)
        return node - self.leaves


class PrioritizedReplayBuffer(ReplayBuffer):
    def __init__(self, capacity: int, obs_shape: tuple, alpha: float = 0.6, eps: float = 1e-6, **kw):
        super().__init__(capacity, obs_shape, **kw)
        self.alpha, self.eps = float(alpha), float(eps)
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0

    def add(self, *transition) -> int:
        i = super().add(*transition)
        self.tree.update(i, self.max_priority)    # the evicted item's priority is overwritten too
        return i

    def priorities(self) -> np.ndarray:
        """Stored priorities, oldest transition first."""
        return self.tree[self.order()]

    def sample(self, batch_size: int, beta: float = 0.4) -> dict:
        if self.size == 0:
            raise CertnnError("cannot sample from an empty replay buffer")
        total = self.tree.total
        bounds = np.linspace(0.0, total, batch_size + 1)
        prefix = self.rng.uniform(bounds[:-1], bounds[1:])
        idx = self.tree.find(np.minimum(prefix, np.nextafter(total, 0)))
        idx = np.minimum(idx, self.size - 1)          # guards the float edge; slots >= size hold 0
        p = self.tree[idx] / total
        w = (self.size * p) ** (-beta)
        out = self.get(idx)
        out["index"], out["weight"] = idx, (w / w.max()).astype(np.float32)
        return out

    def update_priorities(self, idx, td_errors) -> None:
        p = (np.abs(np.asarray(td_errors, np.float64)) + self.eps) ** self.alpha
        self.tree.update(idx, p)
        self.max_priority = max(self.max_priority, float(p.max(initial=0.0)))
