r"""Denoising diffusion (Ho et al. 2020) with epsilon-prediction, its ancestral
sampler and DDIM (Song et al. 2021). This docstring is the specification; the
functions below implement exactly these formulas (the tests check each step
against them, and ``docs/generative.md`` quotes them).

Schedule: betas beta_1..beta_T, alpha_t = 1 - beta_t, abar_t = prod_{s<=t} alpha_s,
abar_0 = 1. Forward process q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I),
whose marginal is q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (theorem
``generative/forward-marginal``), so :func:`q_sample` draws
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps in one step.

Schedules: ``linear`` (Ho et al.: beta_t evenly spaced from 1e-4 to 0.02 for
T = 1000, both ends scaled by 1000/T for other T) or ``cosine`` (Nichol &
Dhariwal 2021): abar_t = f(t) / f(0) with f(t) = cos((t/T + s) / (1 + s) pi/2)^2,
s = 0.008, i.e. beta_t = 1 - abar_t / abar_{t-1}, each beta_t capped at 0.999
(only the last, where f(T) = 0, reaches the cap).

Training: t ~ Uniform{1..T}, eps ~ N(0, I), loss = mean_i w_{t_i} ||eps_i - eps_theta(x_t, t_i)||^2 / d
(the mean over examples i and the d coordinates). The weight is w_t = 1 (Ho et
al.'s simple loss) or, with min-SNR-gamma weighting (Hang et al. 2023, for
eps-prediction), w_t = min(SNR_t, gamma) / SNR_t with SNR_t = abar_t / (1 - abar_t):
the many nearly noise-free timesteps, whose eps is hard to see and whose loss
gradients conflict with the rest, stop dominating the average.

Both samplers read the network through the same two quantities at step t:

    x0_hat  = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)    [then clipped to
              [-c, c] when ``clip=c`` is given; no clipping by default]
    eps_hat <- (x_t - sqrt(abar_t) x0_hat) / sqrt(1 - abar_t)     (unchanged without clipping)

DDPM ancestral step t -> t-1 (Ho et al. Algorithm 2, written with the
posterior q(x_{t-1} | x_t, x_0) = N(mu_t, beta~_t I)):

    mu_t      = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x0_hat
                + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
    beta~_t   = (1 - abar_{t-1}) / (1 - abar_t) beta_t
    x_{t-1}   = mu_t + sqrt(beta~_t) z,   z ~ N(0, I), no noise at t = 1

(without clipping mu_t equals Algorithm 2's (x_t - beta_t / sqrt(1 - abar_t)
eps_hat) / sqrt(alpha_t): theorem ``generative/ddpm-posterior-mean``).

DDIM step t -> s (s < t, on the sub-sequence tau of S timesteps evenly spaced
in 1..T, then s = 0 at the end; Song et al. eq. 12):

    sigma   = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s)
    x_s     = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat + sigma z

with z drawn only when sigma > 0. eta = 0 is deterministic; eta = 1 on the full
sequence is the DDPM ancestral sampler (theorem ``generative/ddim-eta1-is-ddpm``).
Both samplers start from x_T ~ N(0, I) drawn from the same generator first,
and the returned sample is the final x_0 (the last step's mean: no noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..errors import CertnnError
from ..tensor import Tensor, no_grad

EpsModel = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (x_t, t) -> eps_hat


@dataclass(frozen=True)
class Schedule:
    betas: np.ndarray                       # beta_1..beta_T (index t-1)

    @classmethod
    def linear(cls, T: int = 1000, beta_1: float | None = None, beta_T: float | None = None) -> "Schedule":
        """Ho et al.'s linear schedule 1e-4..0.02 for T = 1000, scaled by 1000/T for other T
        (so the total noise stays comparable)."""
        if T < 1:
            raise CertnnError(f"diffusion needs T >= 1 steps, got {T}")
        s = 1000.0 / T
        b1 = 1e-4 * s if beta_1 is None else beta_1
        bT = min(0.02 * s, 0.999) if beta_T is None else beta_T
        return cls(np.linspace(b1, bT, T, dtype=np.float64))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008) -> "Schedule":
        """Nichol & Dhariwal's cosine schedule (the module docstring's formula)."""
        if T < 1:
            raise CertnnError(f"diffusion needs T >= 1 steps, got {T}")
        f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
        return cls(np.minimum(1.0 - f[1:] / f[:-1], 0.999))

    @classmethod
    def named(cls, name: str, T: int) -> "Schedule":
        if name not in SCHEDULES:
            raise CertnnError(f"unknown noise schedule {name!r} (choose {' or '.join(SCHEDULES)})")
        return getattr(cls, name)(T)

    @property
    def snr(self) -> np.ndarray:
        """SNR_t = abar_t / (1 - abar_t) for t = 1..T (index t - 1)."""
        ab = self.abar[1:]
        return ab / (1.0 - ab)

    def loss_weights(self, min_snr: float | None) -> np.ndarray:
        """w_1..w_T (index t - 1): ones, or min(SNR_t, gamma) / SNR_t with gamma = ``min_snr``."""
        if min_snr is None:
            return np.ones(self.T)
        return np.minimum(self.snr, min_snr) / self.snr

    @property
    def T(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> np.ndarray:
        return 1.0 - self.betas

    @property
    def abar(self) -> np.ndarray:
        """abar_0..abar_T (index t; abar_0 = 1)."""
        return np.concatenate([[1.0], np.cumprod(self.alphas)])


SCHEDULES = ("linear", "cosine")


def q_sample(sched: Schedule, x0: np.ndarray, t: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t an int array in 1..T per example."""
    ab = sched.abar[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return (np.sqrt(ab) * x0 + np.sqrt(1.0 - ab) * eps).astype(x0.dtype)


def predict_x0(x_t, eps_hat, abar_t, clip: float | None):
    """(x0_hat, eps_hat) at one step, with the optional clipping of x0_hat shared by both samplers."""
    x0 = (x_t - np.sqrt(1.0 - abar_t) * eps_hat) / np.sqrt(abar_t)
    if clip is None:
        return x0, eps_hat
    x0 = np.clip(x0, -clip, clip)
    return x0, (x_t - np.sqrt(abar_t) * x0) / np.sqrt(1.0 - abar_t)


def ddpm_step(sched: Schedule, x_t, eps_hat, t: int, z, clip: float | None = None):
    """One ancestral step t -> t-1 (``z`` is ignored at t = 1)."""
    ab, ab_prev, beta, alpha = sched.abar[t], sched.abar[t - 1], sched.betas[t - 1], sched.alphas[t - 1]
    x0, _ = predict_x0(x_t, eps_hat, ab, clip)
    mean = np.sqrt(ab_prev) * beta / (1.0 - ab) * x0 + np.sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab) * x_t
    if t == 1:
        return mean
    return mean + np.sqrt((1.0 - ab_prev) / (1.0 - ab) * beta) * z


def ddim_sigma(sched: Schedule, t: int, s: int, eta: float) -> float:
    ab, ab_s = sched.abar[t], sched.abar[s]
    return float(eta * np.sqrt((1.0 - ab_s) / (1.0 - ab)) * np.sqrt(1.0 - ab / ab_s))


def ddim_step(sched: Schedule, x_t, eps_hat, t: int, s: int, eta: float, z, clip: float | None = None):
    """One DDIM step t -> s (``z`` is ignored when sigma = 0)."""
    ab_s = sched.abar[s]
    x0, eps = predict_x0(x_t, eps_hat, sched.abar[t], clip)
    sigma = ddim_sigma(sched, t, s, eta)
    out = np.sqrt(ab_s) * x0 + np.sqrt(max(1.0 - ab_s - sigma ** 2, 0.0)) * eps
    return out + sigma * z if sigma > 0 else out


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """The DDIM sub-sequence: ``steps`` timesteps evenly spaced in 1..T, descending."""
    if not 1 <= steps <= T:
        raise CertnnError(f"DDIM steps must be in 1..{T}, got {steps}")
    return sorted({int(v) for v in np.round(np.linspace(1, T, steps))}, reverse=True)


def sample_ddpm(eps_model: EpsModel, sched: Schedule, shape, rng: np.random.Generator,
                clip: float | None = None, dtype=np.float32) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dtype)
    for t in range(sched.T, 0, -1):
        eps = eps_model(x, np.full(shape[0], t))
        z = rng.standard_normal(shape).astype(dtype) if t > 1 else None
        x = ddpm_step(sched, x, eps, t, z, clip).astype(dtype)
    return x


def sample_ddim(eps_model: EpsModel, sched: Schedule, shape, rng: np.random.Generator, steps: int,
                eta: float = 0.0, clip: float | None = None, dtype=np.float32, x_T=None) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dtype) if x_T is None else np.array(x_T, dtype=dtype)
    ts = ddim_timesteps(sched.T, steps)
    for t, s in zip(ts, ts[1:] + [0]):
        eps = eps_model(x, np.full(shape[0], t))
        z = rng.standard_normal(shape).astype(dtype) if ddim_sigma(sched, t, s, eta) > 0 else None
        x = ddim_step(sched, x, eps, t, s, eta, z, clip).astype(dtype)
    return x


# ---- the noise-prediction network and the trainable model -------------------------------

def time_embedding(t: np.ndarray, dim: int, dtype=np.float32) -> np.ndarray:
    """Sinusoidal embedding [sin(t w_k), cos(t w_k)], w_k = 10000^(-k / (dim/2))."""
    w = np.exp(-np.log(10000.0) * np.arange(dim // 2) / max(dim // 2, 1))
    a = np.asarray(t, np.float64)[:, None] * w[None]
    return np.concatenate([np.sin(a), np.cos(a)], axis=1).astype(dtype)


class TimeMLP(nn.Module):
    """eps_theta(x, t): an MLP whose every layer also reads the time embedding
    (h_{k+1} = relu(W_k [h_k, e(t)] + b_k)); the linear output layer reads
    [h_K, e(t), x], a linear skip initialised to the identity: at large t the
    optimal eps is nearly x_t itself, which a stack of relu layers learns slowly."""

    def __init__(self, dim: int, hidden=(128, 128, 128), emb: int = 32):
        super().__init__()
        self.emb = emb
        widths = [dim, *hidden]
        self.layers = nn.Sequential(*[nn.Linear(w + emb, h) for w, h in zip(widths, hidden)])
        self.out = nn.Linear(widths[-1] + emb + dim, dim)
        self.out.weight.data[:, -dim:] = np.eye(dim, dtype=self.out.weight.data.dtype)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        h = x
        for layer in self.layers:
            h = F.relu(layer(F.concat([h, e], axis=1)))
        return self.out(F.concat([h, e, x], axis=1))


class DDPM(nn.Module):
    """The trainable model: a noise predictor on flattened data (MNIST pixels mapped
    to [-1, 1], or 2-D points), Adam, the loss above. ``denoiser`` picks the network:
    ``mlp`` (:class:`TimeMLP`, any ``dim``) or ``unet`` (:class:`~certnn.generative.unet.UNet`,
    28x28 images; widths ``channels``). With ``ema`` > 0 an exponential moving average
    of the weights, theta_ema <- d theta_ema + (1 - d) theta after each step with
    d = min(ema, (1 + n) / (10 + n)) at step n, is kept (and saved) and the samplers
    read it; ``warmup`` steps ramp the learning rate linearly up to ``lr``. ``schedule``
    names the noise schedule (``linear`` or ``cosine``) and ``min_snr`` = gamma turns on
    min-SNR-gamma loss weighting (both in the module docstring)."""

    arch = "ddpm"

    def __init__(self, dim: int = 784, hidden=(1024, 1024, 1024), emb: int = 64, T: int = 1000,
                 lr: float = 1e-3, sampler: str = "ddim", sample_steps: int = 100, eta: float = 0.0,
                 clip: float | None = None, pixels: bool = True, denoiser: str = "mlp",
                 channels=(16, 32, 64), ema: float = 0.0, warmup: int = 0, schedule: str = "linear",
                 min_snr: float | None = None):
        super().__init__()
        self.dim, self.hidden, self.emb_dim, self.lr = dim, tuple(hidden), emb, lr
        self.sampler, self.sample_steps, self.eta, self.clip, self.pixels = sampler, sample_steps, eta, clip, pixels
        self.denoiser, self.channels, self.ema, self.warmup = denoiser, tuple(channels), float(ema), int(warmup)
        if sampler not in ("ddpm", "ddim"):
            raise CertnnError(f"unknown sampler {sampler!r} (choose ddpm or ddim)")
        if denoiser not in ("mlp", "unet"):
            raise CertnnError(f"unknown denoiser {denoiser!r} (choose mlp or unet)")
        if denoiser == "unet" and dim != 784:
            raise CertnnError(f"the unet denoiser reads 28x28 images (dim 784), got dim {dim}")
        if not 0.0 <= self.ema < 1.0:
            raise CertnnError(f"ema decay must be in [0, 1), got {ema}")
        if min_snr is not None and not min_snr > 0:
            raise CertnnError(f"min_snr (gamma) must be > 0, got {min_snr}")
        self.schedule_name, self.min_snr = schedule, None if min_snr is None else float(min_snr)
        self.schedule = Schedule.named(schedule, T)
        self._loss_weights = self.schedule.loss_weights(self.min_snr).astype(np.float32)
        self.net = self._make_net()
        if self.ema:
            self.ema_net = self._make_net()
            self.ema_net.load_state_dict(self.net.state_dict())
        self._steps = 0

    def _make_net(self):
        if self.denoiser == "unet":
            from .unet import UNet
            return UNet(self.channels, self.emb_dim)
        return TimeMLP(self.dim, self.hidden, self.emb_dim)

    @property
    def data_shape(self) -> tuple:
        return (self.dim,)

    def config(self) -> dict:
        return {"arch": self.arch, "dim": self.dim, "hidden": list(self.hidden), "emb": self.emb_dim,
                "T": self.schedule.T, "lr": self.lr, "sampler": self.sampler, "sample_steps": self.sample_steps,
                "eta": self.eta, "clip": self.clip, "pixels": self.pixels, "denoiser": self.denoiser,
                "channels": list(self.channels), "ema": self.ema, "warmup": self.warmup,
                "schedule": self.schedule_name, "min_snr": self.min_snr}

    def to_model_space(self, x: np.ndarray) -> np.ndarray:
        return (2.0 * x - 1.0).astype(np.float32) if self.pixels else x.astype(np.float32)

    def to_data_space(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x + 1.0) / 2.0, 0.0, 1.0) if self.pixels else x

    def eps_tensor(self, x_t: np.ndarray, t: np.ndarray, net=None) -> Tensor:
        return (self.net if net is None else net)(Tensor(x_t), Tensor(time_embedding(t, self.emb_dim)))

    def eps_model(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The samplers' eps_hat: the averaged weights when ``ema`` is on."""
        with no_grad():
            return self.eps_tensor(x_t, t, self.ema_net if self.ema else self.net).data

    def loss(self, x0: np.ndarray, rng, weighted: bool = True) -> Tensor:
        """The training loss (weighted by w_t when ``min_snr`` is set and ``weighted``)."""
        t = rng.integers(1, self.schedule.T + 1, size=len(x0))
        eps = rng.standard_normal(x0.shape).astype(np.float32)
        eps_hat = self.eps_tensor(q_sample(self.schedule, x0, t, eps), t)
        if self.min_snr is None or not weighted:
            return F.mse(eps_hat, Tensor(eps))
        err = eps_hat - Tensor(eps)
        return F.mean(err * err * Tensor(self._loss_weights[t - 1][:, None]))

    def make_optimizers(self):
        self._opt = optim.Adam(self.net.parameters(), lr=self.lr)
        self._steps = 0

    def train_step(self, x: np.ndarray, rng) -> dict:
        loss = self.loss(self.to_model_space(x), rng)
        self._opt.zero_grad()
        loss.backward()
        if self.warmup:
            self._opt.lr = self.lr * min(1.0, (self._steps + 1) / self.warmup)
        self._opt.step()
        if self.ema:
            d = min(self.ema, (1 + self._steps) / (10 + self._steps))
            for avg, p in zip(self.ema_net.parameters(), self.net.parameters()):
                avg.data *= d
                avg.data += (1.0 - d) * p.data
        self._steps += 1
        return {"loss": float(loss.data)}

    def evaluate(self, x: np.ndarray, rng, batch: int = 1000) -> dict:
        total = 0.0
        with no_grad():
            for i in range(0, len(x), batch):
                xb = self.to_model_space(x[i:i + batch])
                total += float(self.loss(xb, rng, weighted=False).data) * len(xb)
        return {"test_loss": total / max(len(x), 1)}      # the unweighted eps-MSE

    def sample(self, n: int, rng, sampler: str | None = None, steps: int | None = None,
               eta: float | None = None) -> np.ndarray:
        sampler = sampler or self.sampler
        if sampler == "ddpm":
            x = sample_ddpm(self.eps_model, self.schedule, (n, self.dim), rng, self.clip)
        else:
            x = sample_ddim(self.eps_model, self.schedule, (n, self.dim), rng, steps or self.sample_steps,
                            self.eta if eta is None else eta, self.clip)
        return self.to_data_space(x)
