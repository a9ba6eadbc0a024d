"""The densities the generative models train with, as certnn ops (so autograd,
tracing and the theorems in :mod:`certnn.generative.theorems` all see the same
formulas).

* Diagonal-Gaussian KL to the standard normal, per example::

      KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

  with ``logvar = log sigma^2`` (theorem ``generative/gaussian-kl-closed-form``:
  equal to the integral definition; ``generative/gaussian-kl-nonnegative``:
  >= 0, = 0 iff mu = 0 and sigma = 1).
* Reparameterisation: z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) drawn
  outside the graph, so dz/dmu and dz/dlogvar flow through ops.
* Bernoulli negative log-likelihood from logits l, per example::

      -log p(x | l) = sum_j softplus(l_j) - x_j l_j

  (= -sum_j x_j log sigmoid(l_j) + (1 - x_j) log(1 - sigmoid(l_j)), the binary
  cross-entropy, also for grey values x in [0, 1] as PyTorch's example uses).
* Gaussian negative log-likelihood with a fixed standard deviation s, per example::

      -log N(x; m, s^2 I) = sum_j (x_j - m_j)^2 / (2 s^2) + d/2 log(2 pi s^2)
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor


def _last_axes(t: Tensor) -> tuple:
    return tuple(range(1, t.ndim))


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per example (sum over all non-batch axes)."""
    return F.sum(mu * mu + F.exp(logvar) - 1.0 - logvar, axis=_last_axes(mu)) * 0.5


def reparameterize(mu: Tensor, logvar: Tensor, eps: np.ndarray) -> Tensor:
    return mu + F.exp(logvar * 0.5) * Tensor(np.asarray(eps, dtype=mu.dtype))


def bernoulli_nll(logits: Tensor, x) -> Tensor:
    """-log p(x | sigmoid(logits)) per example (sum over all non-batch axes)."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=logits.dtype))
    return F.sum(F.softplus(logits) - x * logits, axis=_last_axes(logits))


def gaussian_nll(mean: Tensor, x, std: float) -> Tensor:
    """-log N(x; mean, std^2 I) per example (sum over all non-batch axes)."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=mean.dtype))
    d = int(np.prod(mean.shape[1:]))
    r = mean - x
    return F.sum(r * r, axis=_last_axes(mean)) * (0.5 / std ** 2) + 0.5 * d * float(np.log(2 * np.pi * std ** 2))


def bce_with_logits(logits: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of ``logits`` against the constant label ``target``."""
    return F.mean(F.softplus(logits) - logits * float(target))
