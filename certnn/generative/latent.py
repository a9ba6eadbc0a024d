"""Latent diffusion (Rombach et al. 2022): the DDPM of :mod:`.diffusion` run on the
latent codes of the VAE of :mod:`.vae` instead of on pixels.

The model has the two parts side by side and trains them in two phases of one
training loop (each step is one mini-batch):

1. steps 1..``vae_steps``: the VAE alone, on its negative ELBO (as
   :class:`~certnn.generative.vae.VAE` trains);
2. every later step: the DDPM alone, on codes z = mu(x) + exp(logvar(x) / 2) e,
   e ~ N(0, I), drawn from the (now fixed) encoder q(z | x) of the batch; its
   loss and samplers are the DDPM's own (epsilon-prediction, the same ancestral
   and DDIM code, the module docstring of :mod:`.diffusion` is their spec).

A sample is z_0 from the DDPM's sampler, decoded to the Bernoulli means
sigmoid(l(z_0)) of the VAE's decoder, the same map the VAE's own samples go
through (from z ~ N(0, I) there). The diffusion so learns the aggregate posterior
of the codes, which the VAE's prior N(0, I) only approximates: that is where its
samples improve on the VAE's. No code scaling is needed: the KL term keeps the
codes at about unit scale, the scale the DDPM's schedule is made for.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from ..errors import CertnnError
from ..tensor import Tensor, no_grad
from .diffusion import DDPM
from .vae import VAE


class LatentDDPM(nn.Module):
    arch = "latent-ddpm"

    def __init__(self, in_features: int = 784, hidden: int = 400, latent: int = 20, vae_lr: float = 1e-3,
                 vae_steps: int = 4690, ddpm_hidden=(512, 512, 512), emb: int = 64, T: int = 1000,
                 lr: float = 1e-3, sampler: str = "ddim", sample_steps: int = 100, eta: float = 0.0,
                 ema: float = 0.999, warmup: int = 100):
        super().__init__()
        if vae_steps < 1:
            raise CertnnError(f"latent-ddpm: vae_steps must be >= 1, got {vae_steps}")
        self.vae = VAE(in_features, hidden, latent, vae_lr)
        self.ddpm = DDPM(dim=latent, hidden=ddpm_hidden, emb=emb, T=T, lr=lr, sampler=sampler,
                         sample_steps=sample_steps, eta=eta, pixels=False, ema=ema, warmup=warmup)
        self.vae_steps = int(vae_steps)
        self._steps = 0

    @property
    def data_shape(self) -> tuple:
        return self.vae.data_shape

    def config(self) -> dict:
        v, d = self.vae.config(), self.ddpm.config()
        return {"arch": self.arch, "in_features": v["in_features"], "hidden": v["hidden"], "latent": v["latent"],
                "vae_lr": v["lr"], "vae_steps": self.vae_steps, "ddpm_hidden": d["hidden"], "emb": d["emb"],
                "T": d["T"], "lr": d["lr"], "sampler": d["sampler"], "sample_steps": d["sample_steps"],
                "eta": d["eta"], "ema": d["ema"], "warmup": d["warmup"]}

    @property
    def net(self):
        """The noise predictor (the DDPM's), as :class:`DDPM` exposes it."""
        return self.ddpm.net

    denoiser = "mlp on the VAE's codes"

    @property
    def phase(self) -> str:
        return "vae" if self._steps < self.vae_steps else "ddpm"

    def codes(self, x: np.ndarray, rng) -> np.ndarray:
        """One draw z ~ q(z | x) per example (the encoder's reparameterised sample)."""
        with no_grad():
            mu, logvar = self.vae.encode(Tensor(np.asarray(x, np.float32)))
        e = rng.standard_normal(mu.shape).astype(np.float32)
        return (mu.data + np.exp(0.5 * logvar.data) * e).astype(np.float32)

    def make_optimizers(self):
        self.vae.make_optimizers()
        self.ddpm.make_optimizers()
        self._steps = 0

    def train_step(self, x: np.ndarray, rng) -> dict:
        part = self.vae if self.phase == "vae" else self.ddpm
        m = part.train_step(x if part is self.vae else self.codes(x, rng), rng)
        self._steps += 1
        return {"loss": m["loss"]}

    def evaluate(self, x: np.ndarray, rng, batch: int = 1000) -> dict:
        """The VAE's test negative ELBO and the DDPM's epsilon-MSE on test codes; the
        test loss is the one of the part being trained."""
        vae = self.vae.evaluate(x, rng, batch)
        ddpm = self.ddpm.evaluate(np.concatenate([self.codes(x[i:i + batch], rng)
                                                  for i in range(0, len(x), batch)]), rng, batch)
        return {"test_loss": vae["test_loss"] if self.phase == "vae" else ddpm["test_loss"],
                "vae_test_loss": vae["test_loss"], "eps_mse": ddpm["test_loss"]}

    def sample(self, n: int, rng, sampler: str | None = None, steps: int | None = None,
               eta: float | None = None) -> np.ndarray:
        z = self.ddpm.sample(n, rng, sampler=sampler, steps=steps, eta=eta)
        with no_grad():
            return F.sigmoid(self.vae.decode(Tensor(np.asarray(z, np.float32)))).data
