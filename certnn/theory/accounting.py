"""Privacy accounting for DP-SGD through Google's ``dp-accounting`` library.

The mechanism is ``steps`` compositions of the Poisson-subsampled Gaussian
mechanism: each step includes every example independently with probability
``q`` (the sample rate) and adds N(0, sigma^2 C^2) noise to the sum of
per-example gradients clipped to norm C (sigma is the noise multiplier). Its
``DpEvent`` is ``SelfComposed(PoissonSampled(q, Gaussian(sigma)), steps)``,
given to two accountants of the library:

* RDP (``dp_accounting.rdp.RdpAccountant``): the Renyi DP of the subsampled
  Gaussian at a grid of orders (Mironov, Talwar & Zhang 2019), composed by
  addition, converted to (epsilon, delta) with the conversion of Canonne, Kamath
  & Steinke (2020), minimised over the orders;
* PLD (``dp_accounting.pld.PLDAccountant``): the privacy loss distribution,
  pessimistically discretised (Koskela et al. 2020, Doroshenko et al. 2022), so
  the composed distribution dominates the true one; its epsilon is usually the
  smaller (tighter) of the two.

Both are upper bounds on the epsilon of the mechanism at ``delta`` under the
add/remove-one neighbouring relation, as the library states and its authors
prove; certnn does not re-derive them (named assumption
``dp-accounting-upper-bound``), and the bound is about the mechanism: that the
training code realises it is ``dpsgd-mechanism-as-accounted``.

``steps`` for E epochs at sample rate q is floor(E / q) (one expected pass over
the data per 1/q steps), as TF Privacy's ``compute_dp_sgd_privacy`` counts.
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import asdict, dataclass, field

from ..errors import CertnnError

ASSUMPTIONS = {
    "dp-accounting-upper-bound": (
        "Google's dp-accounting library returns an upper bound on the epsilon of the DpEvent it is given, at the "
        "given delta, for add/remove-one neighbours: the RDP accountant evaluates the Renyi DP of the "
        "Poisson-subsampled Gaussian at a fixed grid of orders (Mironov, Talwar & Zhang 2019) and converts with "
        "a valid RDP-to-(epsilon, delta) conversion (Canonne, Kamath & Steinke 2020); the PLD accountant "
        "discretises the privacy loss distribution pessimistically, so its composition dominates the true one. "
        "The library's own floating-point and truncation errors are assumed not to break the bound."),
    "dpsgd-mechanism-as-accounted": (
        "The DP-SGD code realises the mechanism the accountant composes: every step includes each example "
        "independently with probability q, clips every per-example gradient to L2 norm <= C, adds independent "
        "N(0, sigma^2 C^2) noise to each coordinate of their sum and releases only the parameters, up to the "
        "float32 rounding of the norms, the clipped sum and the update (checked by tests of each part and probed "
        "by the audit, not proved)."),
    "dp-ideal-noise": (
        "NumPy's PCG64 generator and its Laplace and Gaussian samplers are treated as exact draws from the "
        "stated continuous distributions; the rounding of the float samples is ignored (Mironov 2012 shows "
        "that floating-point noise can leak)."),
}

ACCOUNTANTS = ("rdp", "pld")
DPSGD_ASSUMPTIONS = ("dp-accounting-upper-bound", "dpsgd-mechanism-as-accounted", "dp-ideal-noise")


@dataclass
class PrivacyReport:
    """The (epsilon, delta) of a DP-SGD run under both accountants."""
    sample_rate: float
    noise_multiplier: float
    steps: int
    delta: float
    epsilon_rdp: float
    epsilon_pld: float
    evidence: str = "assumed"      # computed by dp-accounting; its soundness is the library's
    assumptions: list = field(default_factory=lambda: list(DPSGD_ASSUMPTIONS))

    @property
    def epsilon(self) -> float:
        """The smaller valid upper bound (both accountants bound the same epsilon)."""
        return min(self.epsilon_rdp, self.epsilon_pld)

    def to_dict(self) -> dict:
        return asdict(self)


def steps_for(epochs: float, sample_rate: float) -> int:
    return int(math.floor(epochs / sample_rate + 1e-9))


def _check(sample_rate, noise_multiplier, steps, delta):
    if not 0 < sample_rate <= 1:
        raise CertnnError(f"sample rate must be in (0, 1], got {sample_rate}")
    if not noise_multiplier > 0:
        raise CertnnError(f"noise multiplier must be positive, got {noise_multiplier}")
    if steps < 1:
        raise CertnnError(f"the number of steps must be at least 1, got {steps}")
    if not 0 < delta < 1:
        raise CertnnError(f"delta must be in (0, 1), got {delta}")


def dpsgd_event(sample_rate: float, noise_multiplier: float, steps: int):
    import dp_accounting as dpa
    return dpa.SelfComposedDpEvent(
        dpa.PoissonSampledDpEvent(sample_rate, dpa.GaussianDpEvent(noise_multiplier)), steps)


def _accountant(kind: str):
    from dp_accounting import pld, rdp
    if kind == "rdp":
        return rdp.RdpAccountant()
    if kind == "pld":
        return pld.PLDAccountant()
    raise CertnnError(f"unknown accountant {kind!r}; choose one of {', '.join(ACCOUNTANTS)}")


def epsilon(event, delta: float, kind: str) -> float:
    acc = _accountant(kind)
    acc.compose(event)
    return float(acc.get_epsilon(delta))


def dpsgd_privacy(sample_rate: float, noise_multiplier: float, steps: int, delta: float) -> PrivacyReport:
    _check(sample_rate, noise_multiplier, steps, delta)
    rdp, pld = _epsilons(float(sample_rate), float(noise_multiplier), int(steps), float(delta))
    return PrivacyReport(sample_rate, noise_multiplier, steps, delta, epsilon_rdp=rdp, epsilon_pld=pld)


@lru_cache(maxsize=64)
def _epsilons(sample_rate, noise_multiplier, steps, delta) -> tuple[float, float]:
    event = dpsgd_event(sample_rate, noise_multiplier, steps)
    return epsilon(event, delta, "rdp"), epsilon(event, delta, "pld")


def noise_for_epsilon(target_epsilon: float, sample_rate: float, steps: int, delta: float,
                      accountant: str = "pld", tol: float = 1e-3) -> float:
    """The smallest noise multiplier (to ``tol``) whose epsilon under ``accountant``
    is at most ``target_epsilon``; the returned value is re-checked, never above target."""
    import dp_accounting as dpa
    _check(sample_rate, 1.0, steps, delta)
    if not target_epsilon > 0:
        raise CertnnError(f"target epsilon must be positive, got {target_epsilon}")
    def calibrate(kind, bracket):
        return dpa.calibrate_dp_mechanism(lambda: _accountant(kind), lambda s: dpsgd_event(sample_rate, s, steps),
                                          target_epsilon, delta, bracket, tol=tol)

    # RDP is cheap at any sigma; PLD at tiny sigma is not (its loss range explodes), so the RDP answer
    # (an upper end: PLD's epsilon is the smaller) brackets the PLD search
    sigma = calibrate("rdp", dpa.LowerEndpointAndGuess(0.3, 1.0))    # DP-SGD never uses sigma < 0.3
    if accountant != "rdp":
        low = sigma / 2
        while epsilon(dpsgd_event(sample_rate, low, steps), delta, accountant) <= target_epsilon:
            low /= 2
        sigma = calibrate(accountant, dpa.ExplicitBracketInterval(low, sigma + tol))
    while epsilon(dpsgd_event(sample_rate, sigma, steps), delta, accountant) > target_epsilon:
        sigma += tol           # Brent's answer is within tol of the optimum, on either side
    return float(sigma)
