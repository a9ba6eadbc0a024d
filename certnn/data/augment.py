"""Data augmentation for image batches."""

from __future__ import annotations

import numpy as np


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each image of ``x`` (last two axes: height, width) by its own
    offsets dy, dx drawn uniformly from {-max_shift, ..., max_shift}; pixels
    shifted in are zero (the MNIST background). Returns a new array."""
    if max_shift <= 0:
        return x
    s, (h, w) = max_shift, x.shape[-2:]
    pad = np.zeros(x.shape[:-2] + (h + 2 * s, w + 2 * s), x.dtype)
    pad[..., s:s + h, s:s + w] = x
    offsets = rng.integers(0, 2 * s + 1, (len(x), 2))
    return np.stack([p[..., dy:dy + h, dx:dx + w] for p, (dy, dx) in zip(pad, offsets)])
