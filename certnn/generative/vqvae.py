"""Vector-quantised VAE (van den Oord et al. 2017), after the Keras example.

Encoder: conv 32@3x3 stride 2 -> relu -> conv 64@3x3 stride 2 -> relu -> conv
D@1x1 (28x28 -> 7x7 grid of D = 16 dim vectors z_e). Quantiser: a codebook of
K = 64 vectors e_k; each z_e is replaced by its nearest code

    k* = argmin_k ||z_e - e_k||^2     (theorem ``generative/vq-nearest-code``)

Decoder: conv 4*32@3x3 -> relu -> pixel shuffle x2 (7x7 -> 14x14) -> conv
16@3x3 -> relu -> conv 4@3x3 -> pixel shuffle x2 (-> 1@28x28). A convolution
followed by a pixel shuffle is the sub-pixel form of a stride-2 transposed
convolution (Keras' example uses Conv2DTranspose 64, 32, 1); every convolution
runs at 14x14 or less. Pixels are x - 0.5 in [-0.5, 0.5].

Loss, with sg the stop-gradient (``detach``) and Var the training data's variance::

    L = ||x - x_hat||^2 / Var + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2     (means, beta = 0.25)

The decoder reads the straight-through estimate z_e + sg[e - z_e]: its value is
the code e, its gradient flows to z_e unchanged. The codebook is trained by the
second term, the encoder by the reconstruction (through the straight-through
path) and the commitment term.

Dead codes: a code that no z_e picks gets no gradient and stays dead (with
Keras' recipe the test set's codes have perplexity 3.5 after one epoch, 7.9
after eight). With ``restart_every`` = n > 0 (default 0: off, Keras' recipe),
every n training steps, starting with the first, each code that no z_e of
those steps picked is moved onto a randomly chosen z_e of the current batch
(the first step thus initialises the codebook from data). Only the codebook's
values change; the loss is the one above. Reported: reconstruction MSE in [0, 1] pixel
units (the Keras example reaches about 0.0042) and codebook usage (distinct codes
used on the test set, and the perplexity exp(H) of their frequencies).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..nn import Parameter
from ..random import default_rng
from ..tensor import Tensor, no_grad


def nearest_codes(z: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """argmin_k ||z_i - e_k||^2 for each row z_i, through the expansion
    ||z||^2 - 2 z.e + ||e||^2 (one matrix product; same minimiser)."""
    d = (z * z).sum(1, keepdims=True) - 2.0 * z @ codebook.T + (codebook * codebook).sum(1)[None]
    return d.argmin(axis=1)


class VQVAE(nn.Module):
    arch = "vqvae"

    def __init__(self, codes: int = 64, code_dim: int = 16, beta: float = 0.25, lr: float = 1e-3,
                 data_variance: float = 0.0949, restart_every: int = 0):
        super().__init__()
        self.codes, self.code_dim, self.beta, self.lr, self.data_variance = codes, code_dim, beta, lr, data_variance
        self.restart_every = restart_every
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, code_dim, 1))
        self.codebook = Parameter(default_rng().uniform(-1.0 / codes, 1.0 / codes, (codes, code_dim))
                                  .astype(np.float32))
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, 4 * 32, 3, padding=1), nn.ReLU(), nn.PixelShuffle(2),
            nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 4, 3, padding=1), nn.PixelShuffle(2))

    @property
    def data_shape(self) -> tuple:
        return (1, 28, 28)

    def config(self) -> dict:
        return {"arch": self.arch, "codes": self.codes, "code_dim": self.code_dim, "beta": self.beta,
                "lr": self.lr, "data_variance": self.data_variance, "restart_every": self.restart_every}

    def quantize(self, z_e: Tensor) -> tuple[Tensor, np.ndarray]:
        """(z_q, codes): the nearest codes of the (N, D, h, w) grid, z_q as (N, D, h, w)
        and differentiable in the codebook (a one-hot product)."""
        n, d, h, w = z_e.shape
        flat = z_e.data.transpose(0, 2, 3, 1).reshape(-1, d)
        idx = nearest_codes(flat, self.codebook.data)
        onehot = np.zeros((len(idx), self.codes), z_e.dtype)
        onehot[np.arange(len(idx)), idx] = 1
        z_q = F.matmul(Tensor(onehot), self.codebook)                      # (N h w, D)
        return F.transpose(F.reshape(z_q, (n, h, w, d)), (0, 3, 1, 2)), idx.reshape(n, h, w)

    def forward_terms(self, x: np.ndarray) -> dict:
        xt = Tensor(x - 0.5)
        z_e = self.encoder(xt)
        z_q, idx = self.quantize(z_e)
        z_st = z_e + (z_q - z_e).detach()                                   # straight-through
        x_hat = self.decoder(z_st)
        return {"x_hat": x_hat, "recon": F.mse(x_hat, xt), "codebook": F.mse(z_q, z_e.detach()),
                "commitment": F.mse(z_e, z_q.detach()), "codes": idx, "z_q": z_q}

    def loss(self, terms: dict) -> Tensor:
        return terms["recon"] * (1.0 / self.data_variance) + terms["codebook"] + terms["commitment"] * self.beta

    def make_optimizers(self):
        self._opt = optim.Adam(self.parameters(), lr=self.lr)
        self._step, self._usage = 0, np.zeros(self.codes)

    def restart_dead_codes(self, x: np.ndarray, rng) -> int:
        """Move the codes unused since the last restart onto random encoder
        outputs of ``x``; returns how many moved."""
        dead = np.flatnonzero(self._usage == 0)
        if len(dead):
            with no_grad():
                z = self.encoder(Tensor(x - 0.5)).data
            z = z.transpose(0, 2, 3, 1).reshape(-1, self.code_dim)
            self.codebook.data[dead] = z[rng.choice(len(z), size=len(dead), replace=len(dead) > len(z))]
        self._usage[:] = 0
        return len(dead)

    def train_step(self, x: np.ndarray, rng) -> dict:
        if self.restart_every and self._step % self.restart_every == 0:
            self.restart_dead_codes(x, rng)
        self._step += 1
        terms = self.forward_terms(x)
        self._usage += np.bincount(terms["codes"].ravel(), minlength=self.codes)
        loss = self.loss(terms)
        self._opt.zero_grad()
        loss.backward()
        self._opt.step()
        return {"loss": float(loss.data), "mse": float(terms["recon"].data)}

    def evaluate(self, x: np.ndarray, rng, batch: int = 500) -> dict:
        mse = 0.0
        counts = np.zeros(self.codes)
        with no_grad():
            for i in range(0, len(x), batch):
                terms = self.forward_terms(x[i:i + batch])
                mse += float(terms["recon"].data) * len(x[i:i + batch])
                counts += np.bincount(terms["codes"].ravel(), minlength=self.codes)
        p = counts / max(counts.sum(), 1)
        nz = p[p > 0]
        mse /= max(len(x), 1)
        return {"test_loss": mse, "reconstruction_mse": mse, "codes_used": int((counts > 0).sum()),
                "perplexity": float(np.exp(-(nz * np.log(nz)).sum()))}

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        with no_grad():
            return self.forward_terms(x)["x_hat"].data + 0.5

    def sample(self, n: int, rng) -> np.ndarray:
        """Decoded grids of codes drawn uniformly at random (VQ-VAE has no learnt
        prior here: samples show the codebook's vocabulary, not digits)."""
        idx = rng.integers(0, self.codes, size=(n, 7, 7))
        z = self.codebook.data[idx].transpose(0, 3, 1, 2)
        with no_grad():
            return np.clip(self.decoder(Tensor(z)).data + 0.5, 0.0, 1.0)
