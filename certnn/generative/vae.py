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

Conditional VAE (:class:`CVAE`, Sohn et al. 2015): with ``classes`` = C > 0
both q(z | x, y) and p(x | z, y) read the label y: its one-hot vector goes
through a bias-free linear layer added to the first hidden layer's
pre-activation of the encoder and of the decoder (the same as concatenating
the one-hot label to their inputs). The prior stays p(z) = N(0, I), so the
loss is the ELBO above with every density conditioned on y; a sample of class
y decodes z ~ N(0, I) together with y.

``likelihood="gaussian"`` replaces the Bernoulli decoder by
N(x; m(z), decoder_std^2 I) with a fixed standard deviation (for real-valued
data such as the 2-D toy mixture); samples are then the decoder means m(z),
as Bernoulli samples are the means sigmoid(l(z)).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..tensor import Tensor, no_grad
from ..errors import CertnnError
from .distributions import bernoulli_nll, gaussian_kl, gaussian_nll, reparameterize

LIKELIHOODS = ("bernoulli", "gaussian")


class VAE(nn.Module):
    arch = "vae"

    def __init__(self, in_features: int = 784, hidden: int = 400, latent: int = 20, lr: float = 1e-3,
                 classes: int = 0, likelihood: str = "bernoulli", decoder_std: float = 1.0):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise CertnnError(f"unknown VAE likelihood {likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")
        self.in_features, self.hidden, self.latent, self.lr = in_features, hidden, latent, lr
        self.classes, self.likelihood, self.decoder_std = classes, likelihood, decoder_std
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, in_features)
        if classes:                                   # the one-hot label's weights in fc1 and fc3
            self.label_enc = nn.Linear(classes, hidden, bias=False)
            self.label_dec = nn.Linear(classes, hidden, bias=False)

    @property
    def data_shape(self) -> tuple:
        return (self.in_features,)

    def config(self) -> dict:
        return {"arch": self.arch, "in_features": self.in_features, "hidden": self.hidden,
                "latent": self.latent, "lr": self.lr, "classes": self.classes, "likelihood": self.likelihood,
                "decoder_std": self.decoder_std}

    def _onehot(self, labels) -> Tensor:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) and (labels.min() < 0 or labels.max() >= self.classes):
            raise CertnnError(f"{self.arch}: labels must be class numbers in 0..{self.classes - 1}")
        return Tensor(np.eye(self.classes, dtype=np.float32)[labels])

    def _hidden(self, layer, label_layer, v: Tensor, labels) -> Tensor:
        pre = layer(v)
        if self.classes:
            if labels is None:
                raise CertnnError(f"{self.arch} is conditional on {self.classes} classes: give the labels")
            pre = pre + label_layer(self._onehot(labels))
        return F.relu(pre)

    def encode(self, x: Tensor, labels=None) -> tuple[Tensor, Tensor]:
        h = self._hidden(self.fc1, getattr(self, "label_enc", None), x, labels)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: Tensor, labels=None) -> Tensor:
        """Decoder output: logits l(z) (Bernoulli means sigmoid(l)) or Gaussian means m(z)."""
        return self.fc4(self._hidden(self.fc3, getattr(self, "label_dec", None), z, labels))

    def terms(self, x: np.ndarray, eps: np.ndarray, labels=None) -> tuple[Tensor, Tensor]:
        """(reconstruction -log p(x|z), KL(q(z|x) || p(z))), each per example, for z
        reparameterised with the standard-normal draws ``eps`` (given y for a CVAE)."""
        xt = Tensor(x)
        mu, logvar = self.encode(xt, labels)
        out = self.decode(reparameterize(mu, logvar, eps), labels)
        rec = bernoulli_nll(out, xt) if self.likelihood == "bernoulli" else gaussian_nll(out, xt, self.decoder_std)
        return rec, gaussian_kl(mu, logvar)

    def _eps(self, n, rng):
        return rng.standard_normal((n, self.latent)).astype(np.float32)

    def make_optimizers(self):
        self._opt = optim.Adam(self.parameters(), lr=self.lr)

    def train_step(self, x: np.ndarray, rng, labels=None) -> dict:
        rec, kl = self.terms(x, self._eps(len(x), rng), labels)
        loss = F.sum(rec + kl)
        self._opt.zero_grad()
        loss.backward()
        self._opt.step()
        return {"loss": float(loss.data) / len(x)}

    def evaluate(self, x: np.ndarray, rng, batch: int = 1000, labels=None) -> dict:
        rec_sum = kl_sum = 0.0
        with no_grad():
            for i in range(0, len(x), batch):
                rec, kl = self.terms(x[i:i + batch], self._eps(len(x[i:i + batch]), rng),
                                     None if labels is None else labels[i:i + batch])
                rec_sum += float(rec.data.sum(dtype=np.float64))
                kl_sum += float(kl.data.sum(dtype=np.float64))
        n = max(len(x), 1)
        return {"test_loss": (rec_sum + kl_sum) / n, "reconstruction": rec_sum / n, "kl": kl_sum / n}

    def sample(self, n: int, rng, labels=None) -> np.ndarray:
        """n decoded draws z ~ N(0, I); a CVAE decodes them with ``labels`` (default:
        equal blocks of the classes in order, so a grid with n / C columns has one
        class per row)."""
        if self.classes and labels is None:
            labels = np.arange(n) * self.classes // n
        with no_grad():
            out = self.decode(Tensor(self._eps(n, rng)), labels)
            return (F.sigmoid(out) if self.likelihood == "bernoulli" else out).data


class CVAE(VAE):
    """The conditional VAE: the VAE above with the label as an input of the encoder
    and decoder (10 MNIST classes by default)."""
    arch = "cvae"

    def __init__(self, classes: int = 10, **kwargs):
        if classes < 1:
            raise CertnnError(f"a conditional VAE needs classes >= 1, got {classes}")
        super().__init__(classes=classes, **kwargs)
