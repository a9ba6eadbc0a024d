"""The Laplace and Gaussian mechanisms: release f(D) + noise.

Laplace (Dwork et al. 2006): noise Lap(b) with b = Delta_1 / epsilon, where
Delta_1 bounds ||f(D) - f(D')||_1 over neighbours; (epsilon, 0)-DP because the
density ratio at any output y is exp((||y - f(D')||_1 - ||y - f(D)||_1) / b)
<= exp(Delta_1 / b) (theorem ``dp/laplace-density-ratio``).

Gaussian: noise N(0, sigma^2 I) with sigma = Delta_2 * s(epsilon, delta), s the
smallest noise multiplier of the analytic Gaussian mechanism (Balle & Wang
2018: the mechanism is (epsilon, delta)-DP iff
Phi(1/(2s) - epsilon s) - e^epsilon Phi(-1/(2s) - epsilon s) <= delta), found by
``dp_accounting.get_sigma_gaussian`` (the code check ``dp/gaussian-sigma``
re-checks its answer against that formula).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import CertnnError


@dataclass
class Release:
    """A mechanism's output and the guarantee it carries."""
    value: np.ndarray
    mechanism: str
    scale: float            # Laplace b or Gaussian sigma
    epsilon: float
    delta: float
    evidence: str
    assumptions: list = field(default_factory=list)
    theorems: tuple = ()


def _check(sensitivity, epsilon, delta=None):
    if not sensitivity > 0:
        raise CertnnError(f"sensitivity must be positive, got {sensitivity}")
    if not epsilon > 0:
        raise CertnnError(f"epsilon must be positive, got {epsilon}")
    if delta is not None and not 0 < delta < 1:
        raise CertnnError(f"delta must be in (0, 1), got {delta}")


def laplace_scale(sensitivity: float, epsilon: float) -> float:
    _check(sensitivity, epsilon)
    return sensitivity / epsilon


def gaussian_sigma(sensitivity: float, epsilon: float, delta: float) -> float:
    import dp_accounting as dpa
    _check(sensitivity, epsilon, delta)
    return sensitivity * float(dpa.get_sigma_gaussian(epsilon, delta))


def laplace_mechanism(value, sensitivity: float, epsilon: float, rng: np.random.Generator) -> Release:
    """(epsilon, 0)-DP release of ``value`` whose L1 sensitivity is ``sensitivity``."""
    b = laplace_scale(sensitivity, epsilon)
    value = np.asarray(value, dtype=np.float64)
    return Release(value + rng.laplace(0.0, b, size=value.shape), "laplace", b, epsilon, 0.0, "proved",
                   ["dp-ideal-noise"], theorems=("dp/laplace-density-ratio",))


def gaussian_mechanism(value, sensitivity: float, epsilon: float, delta: float,
                       rng: np.random.Generator) -> Release:
    """(epsilon, delta)-DP release of ``value`` whose L2 sensitivity is ``sensitivity``."""
    sigma = gaussian_sigma(sensitivity, epsilon, delta)
    value = np.asarray(value, dtype=np.float64)
    return Release(value + rng.normal(0.0, sigma, size=value.shape), "gaussian", sigma, epsilon, delta, "assumed",
                   ["dp-accounting-upper-bound", "dp-ideal-noise"])
