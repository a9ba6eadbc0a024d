"""Variational autoencoder (Kingma & Welling 2014), as PyTorch's ``examples/vae``.

Encoder q(z | x) = N(mu(x), diag exp(logvar(x))): x (784) -> linear 400 -> relu
-> two heads linear 400 -> 20 (mu and logvar). Decoder p(x | z) = Bernoulli
(sigmoid(logits(z))): z (20) -> linear 400 -> relu -> linear 784. Prior
p(z) = N(0, I). One reparameterised sample z = mu + exp(logvar / 2) eps per
example gives the negative ELBO per example::

    -ELBO(x) = -log p(x | z) + KL(q(z | x) || p(z))    (reconstruction + KL)

(theorem ``generative/elbo-decomposition``: this equals -E_q[log p(x, z) -
log q(z | x)]). Training minimises the sum over the batch with Adam (lr 1e-3,
batch 128), and the test loss is the mean over the test set of the same
one-sample estimate, in nats per example, as the PyTorch example prints it.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..tensor import Tensor, no_grad
from .distributions import bernoulli_nll, gaussian_kl, reparameterize


class VAE(nn.Module):
    arch = "vae"

    def __init__(self, in_features: int = 784, hidden: int = 400, latent: int = 20, lr: float = 1e-3):
        super().__init__()
        self.in_features, self.hidden, self.latent, self.lr = in_features, hidden, latent, lr
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, in_features)

    @property
    def data_shape(self) -> tuple:
        return (self.in_features,)

    def config(self) -> dict:
        return {"arch": self.arch, "in_features": self.in_features, "hidden": self.hidden,
                "latent": self.latent, "lr": self.lr}

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = F.relu(self.fc1(x))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """Decoder logits l(z); the Bernoulli means are sigmoid(l)."""
        return self.fc4(F.relu(self.fc3(z)))

    def terms(self, x: np.ndarray, eps: np.ndarray) -> tuple[Tensor, Tensor]:
        """(reconstruction -log p(x|z), KL(q(z|x) || p(z))), each per example, for z
        reparameterised with the standard-normal draws ``eps``."""
        xt = Tensor(x)
        mu, logvar = self.encode(xt)
        logits = self.decode(reparameterize(mu, logvar, eps))
        return bernoulli_nll(logits, xt), gaussian_kl(mu, logvar)

    def _eps(self, n, rng):
        return rng.standard_normal((n, self.latent)).astype(np.float32)

    def make_optimizers(self):
        self._opt = optim.Adam(self.parameters(), lr=self.lr)

    def train_step(self, x: np.ndarray, rng) -> dict:
        rec, kl = self.terms(x, self._eps(len(x), rng))
        loss = F.sum(rec + kl)
        self._opt.zero_grad()
        loss.backward()
        self._opt.step()
        return {"loss": float(loss.data) / len(x)}

    def evaluate(self, x: np.ndarray, rng, batch: int = 1000) -> dict:
        rec_sum = kl_sum = 0.0
        with no_grad():
            for i in range(0, len(x), batch):
                rec, kl = self.terms(x[i:i + batch], self._eps(len(x[i:i + batch]), rng))
                rec_sum += float(rec.data.sum(dtype=np.float64))
                kl_sum += float(kl.data.sum(dtype=np.float64))
        n = max(len(x), 1)
        return {"test_loss": (rec_sum + kl_sum) / n, "reconstruction": rec_sum / n, "kl": kl_sum / n}

    def sample(self, n: int, rng) -> np.ndarray:
        with no_grad():
            return F.sigmoid(self.decode(Tensor(self._eps(n, rng)))).data
