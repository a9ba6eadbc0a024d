"""Mini-batches over arrays that share their first dimension."""

from __future__ import annotations

import math

import numpy as np


class DataLoader:
    """Iterate over ``arrays`` (e.g. ``(images, labels)``) in mini-batches.

    Each iteration is one epoch and yields tuples ``(a[idx], b[idx], ...)`` with
    ``len(idx) == batch_size`` (the last batch may be smaller unless
    ``drop_last``). With ``shuffle``, epoch ``e`` visits the rows in the order
    ``np.random.default_rng([seed, e]).permutation(N)``: a fresh order each
    epoch, fixed by ``(seed, e)`` alone, so a resumed run can rebuild it with
    :meth:`set_epoch`. Without ``shuffle`` batches are in-order slices (views).
    A single array may be passed instead of a tuple; batches are still tuples.
    """

    def __init__(self, arrays, batch_size: int, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False):
        if isinstance(arrays, np.ndarray):
            arrays = (arrays,)
        arrays = tuple(np.asarray(a) for a in arrays)
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("DataLoader arrays must have a first (batch) dimension; got a scalar")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError("DataLoader arrays must have equal first dimensions; got shapes "
                             + ", ".join(str(a.shape) for a in arrays))
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0  # the epoch the next iteration runs

    @property
    def num_samples(self) -> int:
        return len(self.arrays[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration run epoch ``epoch`` (e.g. when resuming)."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray | None:
        """Row order of ``epoch`` (None: natural order)."""
        if not self.shuffle:
            return None
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)

    def batches(self, epoch: int):
        """The batches of ``epoch``, without touching :attr:`epoch`."""
        perm = self.order(epoch)
        for i in range(len(self)):
            sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
            idx = sl if perm is None else perm[sl]
            yield tuple(a[idx] for a in self.arrays)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        return self.batches(epoch)
