"""One seeded NumPy generator for parameter initialisation and dropout masks,
so the same seed on the same machine gives identical weights."""

import numpy as np

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    global _rng
    _rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    return _rng
