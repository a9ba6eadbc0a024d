"""An empirical lower bound on the epsilon of a DP-SGD implementation: a canary
membership experiment (Jagielski, Ullman & Oprea 2020; Nasr et al. 2021).

The experiment runs the implementation itself (the :class:`DPSGD` class, or a
subclass under test) many times in two worlds: on a data set D, and on D plus
one crafted canary. The canary is the worst case for clipping: an input that is
zero except in one coordinate j (set to ``canary_scale``, far above the data),
which no data example uses, so the column j of the first weight matrix receives
gradient only from the canary and noise. The test statistic is the movement of
that column along the canary's descent direction u (known from the fixed
initialisation), s = <W_T[:, j] - W_0[:, j], u>: in one step with q = 1 it is
N(0, (lr sigma C / B)^2) without the canary and the same shifted by
lr C / B with it, i.e. the Gaussian mechanism at its sensitivity.

Any (epsilon, delta)-DP mechanism forces, for every threshold test with false
positive rate FPR and false negative rate FNR,

    FPR + e^epsilon FNR >= 1 - delta   and   FNR + e^epsilon FPR >= 1 - delta,

so epsilon >= max(log((1 - delta - FPR) / FNR), log((1 - delta - FNR) / FPR)).
The threshold is chosen on one half of the trials; on the other half FPR and
FNR are bounded above by Clopper-Pearson intervals (each at confidence
1 - alpha/2), so the reported lower bound holds with probability at least
1 - alpha over the experiment's randomness. A correct implementation must give
a lower bound below the accountant's epsilon; an implementation whose lower
bound exceeds it is caught (it is not the mechanism the accountant accounts for).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import beta as beta_dist

from .. import functional as F
from .. import nn, optim
from ..tensor import Tensor
from .accounting import dpsgd_privacy
from .dpsgd import DPSGD


@dataclass
class AuditResult:
    epsilon_lower: float          # the empirical lower bound (holds with the stated confidence)
    epsilon_rdp: float            # the accountant's upper bounds for the audited configuration
    epsilon_pld: float
    delta: float
    trials: int                   # per world
    confidence: float
    threshold: float
    fpr: float                    # on the evaluation half
    fnr: float
    implementation: str
    evidence: str = "tested"
    assumptions: list = field(default_factory=lambda: ["dp-ideal-noise"])

    @property
    def epsilon_upper(self) -> float:
        return min(self.epsilon_rdp, self.epsilon_pld)

    @property
    def caught(self) -> bool:
        """The implementation leaks more than the accountant allows."""
        return self.epsilon_lower > self.epsilon_upper

    def to_dict(self) -> dict:
        return asdict(self) | {"epsilon_upper": self.epsilon_upper, "caught": self.caught}


class NoiseTimesTenth(DPSGD):
    """A deliberately broken DP-SGD: one tenth of the noise the accountant assumes."""

    def noise(self, shape, dtype):
        return 0.1 * super().noise(shape, dtype)


class ClippingSkipped(DPSGD):
    """A deliberately broken DP-SGD: per-example gradients are not clipped."""

    def clip_factors(self, grads):
        return np.ones(grads[0].shape[0])


FAULTS = {"noise-0.1": NoiseTimesTenth, "no-clipping": ClippingSkipped}


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided upper confidence bound (level 1 - alpha) for a binomial rate, k successes in n."""
    return 1.0 if k >= n else float(beta_dist.ppf(1 - alpha, k + 1, n - k))


def epsilon_from_rates(fpr: float, fnr: float, delta: float) -> float:
    vals = [math.log((1 - delta - a) / b) for a, b in ((fpr, fnr), (fnr, fpr)) if b > 0 and 1 - delta - a > 0]
    return max(vals + [0.0])


def _lower_bound(out: np.ndarray, inn: np.ndarray, t: float, delta: float, alpha: float) -> float:
    fpr_u = clopper_pearson_upper(int(np.sum(out >= t)), len(out), alpha / 2)
    fnr_u = clopper_pearson_upper(int(np.sum(inn < t)), len(inn), alpha / 2)
    return epsilon_from_rates(fpr_u, fnr_u, delta)


def _choose_threshold(out: np.ndarray, inn: np.ndarray, delta: float, alpha: float) -> float:
    """The threshold whose lower bound is largest on the selection half."""
    cands = np.unique(np.concatenate([out, inn]))
    return float(max(cands, key=lambda t: _lower_bound(out, inn, t, delta, alpha)))


def audit_dpsgd(dpsgd_cls=DPSGD, trials: int = 600, noise_multiplier: float = 2.0, steps: int = 1,
                sample_rate: float = 1.0, max_grad_norm: float = 1.0, lr: float = 0.5, n_data: int = 32,
                dim: int = 12, classes: int = 4, canary_scale: float = 100.0, delta: float = 1e-5,
                alpha: float = 0.05, seed: int = 0, data: tuple | None = None) -> AuditResult:
    """Audit ``dpsgd_cls`` (``trials`` runs per world) on a linear softmax classifier,
    with random data, or ``data = (x, y)`` (e.g. a model's real input features;
    ``n_data`` and ``dim`` then come from ``x``, and its coordinate 0 is zeroed)."""
    rng = np.random.default_rng([seed, 0])
    if data is None:
        x, y = rng.random((n_data, dim)), rng.integers(0, classes, n_data)
    else:
        x, y = np.array(data[0], dtype=np.float64).reshape(len(data[0]), -1), np.asarray(data[1])
        (n_data, dim), classes = x.shape, max(classes, int(y.max()) + 1)
    x[:, 0] = 0.0                                           # coordinate 0 belongs to the canary
    canary_x = np.zeros((1, dim))
    canary_x[0, 0] = canary_scale
    canary_y = np.array([0])
    w0 = rng.normal(scale=0.1, size=(classes, dim))
    b0 = np.zeros(classes)
    p = np.exp(w0 @ canary_x[0]) / np.exp(w0 @ canary_x[0]).sum()
    u = -(p - np.eye(classes)[0])                          # descent direction of the canary in column 0
    u /= np.linalg.norm(u)

    def run(with_canary: bool, trial: int) -> float:
        model = nn.Linear(dim, classes, dtype=np.float64)
        model.weight.data[...] = w0
        model.bias.data[...] = b0
        xs = np.concatenate([x, canary_x]) if with_canary else x
        ys = np.concatenate([y, canary_y]) if with_canary else y
        dp = dpsgd_cls(model.parameters(), optim.SGD(model.parameters(), lr=lr), len(xs), sample_rate,
                       noise_multiplier, max_grad_norm, seed=[seed, 1 + with_canary, trial])
        for _ in range(steps):
            dp.step(lambda idx: F.cross_entropy(model(Tensor(xs[idx])), ys[idx], reduction="none"))
        return float((model.weight.data[:, 0] - w0[:, 0]) @ u)

    out = np.array([run(False, i) for i in range(trials)])
    inn = np.array([run(True, i) for i in range(trials)])
    half = trials // 2
    t = _choose_threshold(out[:half], inn[:half], delta, alpha)
    o, i = out[half:], inn[half:]
    acct = dpsgd_privacy(sample_rate, noise_multiplier, steps, delta)
    return AuditResult(_lower_bound(o, i, t, delta, alpha), acct.epsilon_rdp, acct.epsilon_pld, delta, trials,
                       1 - alpha, t, float(np.mean(o >= t)), float(np.mean(i < t)), dpsgd_cls.__name__)
