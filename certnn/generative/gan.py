"""Generative adversarial network (Goodfellow et al. 2014) with the
non-saturating generator loss.

Discriminator D(x) = sigmoid(d(x)) with logits d; generator G(z), z ~ N(0, I).
Each step trains D on a real batch and a fresh generated batch, then G on
another generated batch through the updated D::

    L_D = -mean log D(x) - mean log(1 - D(G(z)))   = mean softplus(-d(x)) + mean softplus(d(G(z)))
    L_G = -mean log D(G(z))                        = mean softplus(-d(G(z)))   (non-saturating)

For fixed G the minimiser of L_D is D* = p_data / (p_data + p_G), where
L_D = log 4 - 2 JS(p_data || p_G) (theorems ``generative/gan-optimal-discriminator``
and ``generative/gan-jensen-shannon``).

Networks (MNIST, pixels in [0, 1]): G: z (64) -> 256 -> 512 -> 784 with batch
normalisation and leaky-relu(0.2) after each hidden layer and a sigmoid output;
D: 784 -> 512 -> 256 -> 1 with leaky-relu(0.2). Adam, lr 2e-4, betas (0.5, 0.999)
for both, one D step per G step. One-sided label smoothing: D is trained
towards ``real_label`` = 0.9 on real data (0 on generated data), whose pointwise
minimiser is 0.9 p_data / (p_data + p_G); :meth:`GAN.evaluate` reports the
unsmoothed L_D.

Without batch normalisation in G (``batchnorm=False``) the MNIST run collapsed:
at the default initialisation G's output hardly depends on z (per-pixel standard
deviation over z 0.02, against 0.09 with batch normalisation), D separates real
from generated within 100 steps, and G follows D's gradient to one image (every
sample labelled 8 by the feature classifier; the same networks and recipe in
PyTorch did the same). Normalising G's hidden layers over the batch keeps z's
influence at unit scale.

Minibatch standard deviation (``minibatch_std=True``; Karras et al. 2018): D's
last layer also reads one feature shared by the batch, the mean over D's last
hidden features h_j of their standard deviation over the batch,
s = mean_j sqrt(Var_batch(h_j) + 1e-8), so D can tell a batch of too-similar
generated samples from a real batch (a counter to the under-produced classes).
D's output then depends on the whole batch; D always sees real and generated
data in separate batches.

``d_steps`` = k > 1 trains D k times per G step (each on the step's real batch
and a fresh generated batch), another counter to a generator that outruns D.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..tensor import Tensor, no_grad
from .distributions import bce_with_logits


def mlp(widths, slope: float = 0.2, batchnorm: bool = False) -> nn.Sequential:
    """Linear layers with leaky-relu between them (after batch normalisation
    when ``batchnorm``); the last layer is linear."""
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers += ([nn.BatchNorm1d(b)] if batchnorm else []) + [nn.LeakyReLU(slope)]
    return nn.Sequential(*layers)


class MinibatchStd(nn.Module):
    """Append to each row h_i the batch statistic s = mean_j sqrt(Var_i(h_ij) + 1e-8)."""

    def forward(self, h: Tensor) -> Tensor:
        c = h - F.mean(h, axis=0, keepdims=True)
        s = F.mean(F.sqrt(F.mean(c * c, axis=0) + 1e-8))
        return F.concat([h, Tensor(np.ones((h.shape[0], 1), h.dtype)) * s], axis=1)


def discriminator_net(widths, minibatch_std: bool = False) -> nn.Sequential:
    """:func:`mlp` of ``widths``; with ``minibatch_std`` the last linear layer also
    reads :class:`MinibatchStd`'s feature."""
    layers = list(mlp(widths))
    if minibatch_std:
        layers[-1:] = [MinibatchStd(), nn.Linear(widths[-2] + 1, widths[-1])]
    return nn.Sequential(*layers)


def discriminator_loss(d_real: Tensor, d_fake: Tensor, real_label: float = 1.0) -> Tensor:
    """L_D from the discriminator's logits on real and generated data (real data
    labelled ``real_label``: 1, or less for one-sided label smoothing)."""
    return bce_with_logits(d_real, real_label) + bce_with_logits(d_fake, 0.0)


def generator_loss(d_fake: Tensor) -> Tensor:
    """The non-saturating L_G = -mean log D(G(z))."""
    return bce_with_logits(d_fake, 1.0)


class GAN(nn.Module):
    arch = "gan"

    def __init__(self, dim: int = 784, latent: int = 64, g_hidden=(256, 512), d_hidden=(512, 256),
                 lr: float = 2e-4, pixels: bool = True, batchnorm: bool = True, real_label: float = 0.9,
                 minibatch_std: bool = False, d_steps: int = 1):
        super().__init__()
        self.dim, self.latent, self.g_hidden, self.d_hidden = dim, latent, tuple(g_hidden), tuple(d_hidden)
        self.lr, self.pixels, self.batchnorm, self.real_label = lr, pixels, batchnorm, real_label
        self.minibatch_std, self.d_steps = minibatch_std, d_steps
        self.generator = mlp([latent, *self.g_hidden, dim], batchnorm=batchnorm)
        self.discriminator = discriminator_net([dim, *self.d_hidden, 1], minibatch_std)

    @property
    def data_shape(self) -> tuple:
        return (self.dim,)

    def config(self) -> dict:
        return {"arch": self.arch, "dim": self.dim, "latent": self.latent, "g_hidden": list(self.g_hidden),
                "d_hidden": list(self.d_hidden), "lr": self.lr, "pixels": self.pixels, "batchnorm": self.batchnorm,
                "real_label": self.real_label, "minibatch_std": self.minibatch_std,
                "d_steps": self.d_steps}

    def generate(self, z: np.ndarray) -> Tensor:
        out = self.generator(Tensor(z))
        return F.sigmoid(out) if self.pixels else out

    def _z(self, n, rng):
        return rng.standard_normal((n, self.latent)).astype(np.float32)

    def make_optimizers(self):
        self._opt_d = optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.999))
        self._opt_g = optim.Adam(self.generator.parameters(), lr=self.lr, betas=(0.5, 0.999))

    def train_step(self, x: np.ndarray, rng) -> dict:
        n = len(x)
        for _ in range(self.d_steps):
            with no_grad():
                fake = self.generate(self._z(n, rng)).data
            d_loss = discriminator_loss(self.discriminator(Tensor(x)), self.discriminator(Tensor(fake)),
                                        self.real_label)
            self._opt_d.zero_grad()
            d_loss.backward()
            self._opt_d.step()
        g_loss = generator_loss(self.discriminator(self.generate(self._z(n, rng))))
        self._opt_g.zero_grad()
        self._opt_d.zero_grad()
        g_loss.backward()
        self._opt_g.step()
        return {"loss": float(d_loss.data) + float(g_loss.data), "d_loss": float(d_loss.data),
                "g_loss": float(g_loss.data)}

    def evaluate(self, x: np.ndarray, rng, batch: int = 1000) -> dict:
        """On held-out data: L_D (the test loss; log 4 at the equilibrium), L_G and
        how often D tells real from generated."""
        d_sum = g_sum = hits = 0.0
        with no_grad():
            for i in range(0, len(x), batch):
                xb = x[i:i + batch]
                dr = self.discriminator(Tensor(xb))
                df = self.discriminator(self.generate(self._z(len(xb), rng)))
                d_sum += float(discriminator_loss(dr, df).data) * len(xb)
                g_sum += float(generator_loss(df).data) * len(xb)
                hits += float((dr.data > 0).sum() + (df.data <= 0).sum()) / 2
        n = max(len(x), 1)
        return {"test_loss": d_sum / n, "g_loss": g_sum / n, "d_accuracy": hits / n}

    def sample(self, n: int, rng) -> np.ndarray:
        with no_grad():
            return self.generate(self._z(n, rng)).data
