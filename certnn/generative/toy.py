"""A 2-D Gaussian mixture: the toy distribution of the fast tests, with its
exact mean and covariance and its exact noise predictor.

p(x) = sum_k w_k N(x; m_k, s^2 I). Its mean is sum_k w_k m_k and its covariance
s^2 I + sum_k w_k (m_k - mean)(m_k - mean)^T. Under the forward process
x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps the marginal is again a mixture,
sum_k w_k N(sqrt(abar) m_k, (abar s^2 + 1 - abar) I), so the minimum-MSE noise
predictor E[eps | x_t] is known in closed form (:meth:`optimal_eps`); it lets
the sampler tests run the samplers on an exact model, separating sampler
semantics from training error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import softmax


@dataclass(frozen=True)
class GaussianMixture:
    means: np.ndarray = field(default_factory=lambda: np.array([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5]]))
    weights: np.ndarray = field(default_factory=lambda: np.array([0.5, 0.3, 0.2]))
    std: float = 0.4

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.sample_labelled(n, rng)[0]

    def sample_labelled(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(points, component of each point): the labels of the conditional models' toy data."""
        k = rng.choice(len(self.weights), size=n, p=self.weights)
        return self.means[k] + self.std * rng.standard_normal((n, self.means.shape[1])), k

    def nearest_mode(self, x: np.ndarray) -> np.ndarray:
        """The component whose mean is nearest to each point."""
        return ((x[:, None, :] - self.means[None]) ** 2).sum(-1).argmin(1)

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def cov(self) -> np.ndarray:
        d = self.means - self.mean()
        return self.std ** 2 * np.eye(self.means.shape[1]) + (self.weights[:, None] * d).T @ d

    def optimal_eps(self, x_t: np.ndarray, abar: float) -> np.ndarray:
        """E[eps | x_t] for x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps, x_0 ~ p."""
        a, var = np.sqrt(abar), abar * self.std ** 2 + (1.0 - abar)
        diff = x_t[:, None, :] - a * self.means[None]                        # (n, K, d)
        logits = np.log(self.weights)[None] - 0.5 * (diff ** 2).sum(-1) / var
        r = softmax(logits, axis=1)                                           # posterior over components
        # E[eps | x_t, k] = sqrt(1 - abar) (x_t - a m_k) / var
        return np.sqrt(1.0 - abar) * np.einsum("nk,nkd->nd", r, diff) / var
