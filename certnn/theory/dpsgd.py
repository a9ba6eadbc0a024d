"""DP-SGD (Abadi et al. 2016) on certnn's autograd.

One step, for data of size N, sample rate q, clipping norm C, noise multiplier
sigma and any certnn optimizer:

1. Poisson sampling: each example is in the batch B independently with
   probability q (the batch size varies; it may be empty);
2. per-example gradients g_i of the per-example losses, all at once
   (:func:`certnn.optim.per_example_grads`: one reverse sweep, no loop over
   examples; a linear layer's weight gradients stay factored as
   ct_i x_i^T, so their norms and clipped sum never form the N gradients);
3. clipping: g_i <- g_i / max(1, ||g_i||_2 / C), the norm taken over all
   parameters together (summed as sum_i factor_i g_i, one product per parameter);
4. noise: G = sum_i g_i + N(0, sigma^2 C^2 I);
5. the optimizer steps with gradient G / (q N) (the expected batch size, a
   constant, so the normalisation is post-processing).

Only the parameters leave a step, so the run is the composition that
:mod:`certnn.theory.accounting` accounts for. Steps 3 and 4 are methods
(:meth:`DPSGD.clip_factors`, :meth:`DPSGD.noise`) so that the audit's tests can build a
deliberately broken variant and show that the audit catches it.
"""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError
from ..optim.per_example import per_example_grads, sq_norms, weighted_sum
from ..tensor import Tensor


class DPSGD:
    def __init__(self, params, optimizer, num_examples: int, sample_rate: float, noise_multiplier: float,
                 max_grad_norm: float, seed: int = 0):
        if not 0 < sample_rate <= 1:
            raise CertnnError(f"sample rate must be in (0, 1], got {sample_rate}")
        if noise_multiplier < 0 or not max_grad_norm > 0:
            raise CertnnError(f"need noise multiplier >= 0 and clipping norm > 0, got {noise_multiplier}, "
                              f"{max_grad_norm}")
        self.params = list(params)
        self.optimizer = optimizer
        self.num_examples = int(num_examples)
        self.sample_rate = float(sample_rate)
        self.noise_multiplier = float(noise_multiplier)
        self.max_grad_norm = float(max_grad_norm)
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    @property
    def expected_batch_size(self) -> float:
        return self.sample_rate * self.num_examples

    def sample(self) -> np.ndarray:
        """Poisson sampling: the indices of the examples in this step's batch."""
        return np.flatnonzero(self.rng.random(self.num_examples) < self.sample_rate)

    def clip_factors(self, grads: list) -> np.ndarray:
        """Per-example factors 1 / max(1, ||g_n|| / C), the norm over all parameters
        together: scaling example n's gradient by its factor clips it to norm <= C."""
        sq = sum(sq_norms(g) for g in grads)
        return 1.0 / np.maximum(1.0, np.sqrt(sq) / self.max_grad_norm)

    def noise(self, shape, dtype) -> np.ndarray:
        return (self.rng.standard_normal(shape) * (self.noise_multiplier * self.max_grad_norm)).astype(dtype)

    def step(self, loss_fn, indices: np.ndarray | None = None) -> int:
        """One DP-SGD step. ``loss_fn(indices)`` returns the per-example losses (a
        Tensor of shape (len(indices),)) of those examples. Returns the batch size."""
        idx = self.sample() if indices is None else indices
        if len(idx):
            losses = loss_fn(idx)
            if not isinstance(losses, Tensor) or losses.shape != (len(idx),):
                raise CertnnError(f"loss_fn must return one loss per example, shape ({len(idx)},), "
                                  f"got {getattr(losses, 'shape', type(losses).__name__)}")
            grads = per_example_grads(losses, self.params, factored=True)
            factors = self.clip_factors(grads)
            summed = [weighted_sum(factors, g) for g in grads]
        else:
            summed = [np.zeros(p.shape, p.dtype) for p in self.params]
        for p, s in zip(self.params, summed):
            p.grad = (s + self.noise(p.shape, p.dtype)) / np.asarray(self.expected_batch_size, p.dtype)
        self.optimizer.step()
        self.steps += 1
        return len(idx)


def check_examples_independent(model, x: np.ndarray) -> None:
    """Per-example gradients assume example n's output depends on input n only:
    changing row 0 of a batch must leave the other rows' outputs unchanged
    (fails for BatchNorm in training mode, which mixes the batch)."""
    if len(x) < 2:
        return
    changed = np.array(x, copy=True)
    changed[0] = changed[1]
    a, b = model(Tensor(x)).data, model(Tensor(changed)).data
    if not np.array_equal(a[1:], b[1:]):
        raise CertnnError("DP-SGD: the model mixes the examples of a batch (e.g. BatchNorm in training mode); "
                          "per-example gradients and the privacy accounting do not apply")
