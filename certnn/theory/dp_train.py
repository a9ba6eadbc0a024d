"""DP-SGD on MNIST, trained by :class:`DPSGD`, on one of two inputs (``features``):

* ``"pixels"``: TF Privacy's tutorial CNN (``mnist_dpsgd_tutorial``; Opacus'
  ``SampleConvNet`` is the same with padding 3): conv 16@8x8 stride 2 padding 3,
  relu, max-pool 2 stride 1, conv 32@4x4 stride 2, relu, max-pool 2 stride 1,
  linear 512-32, relu, linear 32-10; pixels in [0, 1]. Recipe: C = 1.0, plain
  SGD with learning rate 0.15 (the tutorial's).
* ``"scatter"``: Tramer & Boneh's ScatterNet + linear: fixed scattering features
  (81 x 7 x 7, :mod:`certnn.theory.scatter`; data-independent, so free of
  privacy cost), per-example group normalisation, one linear layer 3969-10.
  Recipe: C = 0.1 and SGD with momentum 0.9 (the paper's), learning rate 0.25
  (the best of 0.25, 0.5, 1, 2, 4 on a 50k/10k split of the training set).

Both default to q = 256/60000, sigma = 1.1, 60 epochs, delta = 1e-5 (the
tutorial's). Epoch e ends after floor(e/q) Poisson-sampled steps, so the run
makes the floor(E/q) steps the accountant composes (14,062 for 60 epochs). With
``target_epsilon`` the noise multiplier is the smallest whose epsilon under
``accountant`` (PLD by default) after the planned steps is at most the target.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..data.mnist import mnist_arrays
from ..errors import CertnnError
from ..random import manual_seed
from ..tensor import Tensor, no_grad
from .accounting import dpsgd_privacy, noise_for_epsilon, steps_for
from .dpsgd import DPSGD, check_examples_independent
from .scatter import FEATURE_ASSUMPTIONS, GROUPS, cached_scatter_features, group_normalise

# per input: the model's name and the recipe's clipping norm, learning rate, momentum
MODELS = {"pixels": "tf-privacy-cnn", "scatter": "scatternet-linear"}
RECIPES = {"pixels": {"max_grad_norm": 1.0, "lr": 0.15, "momentum": 0.0},
           "scatter": {"max_grad_norm": 0.1, "lr": 0.25, "momentum": 0.9}}


def dp_cnn(dtype=np.float32) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, stride=2, padding=3, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2, 1),
        nn.Conv2d(16, 32, 4, stride=2, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2, 1),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 32, dtype=dtype), nn.ReLU(), nn.Linear(32, 10, dtype=dtype))


@dataclass
class DPConfig:
    epochs: int = 60
    sample_rate: float = 256 / 60000
    noise_multiplier: float = 1.1
    target_epsilon: float | None = None     # set: choose the noise multiplier for it
    accountant: str = "pld"                 # the one target_epsilon is met under
    features: str = "pixels"                # "pixels" (the CNN) or "scatter" (ScatterNet + linear)
    groups: int = GROUPS                    # scatter: group-normalisation groups
    max_grad_norm: float | None = None      # None: the recipe's (RECIPES)
    lr: float | None = None
    momentum: float | None = None
    delta: float = 1e-5
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    validation: int | None = None            # set: score on the last this-many training rows, not the test set

    def __post_init__(self):
        if self.features not in RECIPES:
            raise CertnnError(f"--features must be one of {', '.join(RECIPES)}, got {self.features!r}")
        for f in fields(self):
            if f.name in RECIPES[self.features] and getattr(self, f.name) is None:
                setattr(self, f.name, RECIPES[self.features][f.name])


def accuracy(model, x, y, batch=2000) -> float:
    with no_grad():
        hits = sum(int((model(Tensor(x[i:i + batch])).data.argmax(1) == y[i:i + batch]).sum())
                   for i in range(0, len(x), batch))
    return hits / max(len(x), 1)


def train_dp_mnist(cfg: DPConfig, data_dir=None, progress=None, log=print) -> dict:
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(cfg, data_dir, progress, log)


def scatter_linear(dtype=np.float32) -> nn.Module:
    """The linear classifier on group-normalised scattering features (3969 inputs)."""
    return nn.Linear(3969, 10, dtype=dtype)


def mnist_inputs(cfg: DPConfig, data_dir=None, split="train", limit=None, progress=None):
    """(x, y) of an MNIST split as the model of ``cfg.features`` takes them."""
    if cfg.features == "pixels":
        x, y = mnist_arrays((1, 28, 28), data_dir, split)
        return x[:limit], y[:limit]
    x, y = mnist_arrays((28, 28), data_dir, split)
    return group_normalise(cached_scatter_features(x[:limit], progress), cfg.groups), y[:limit]


def _train(cfg, data_dir, progress, log):
    t0 = time.perf_counter()
    if cfg.features == "scatter":
        log("ScatterNet features (J = 2, L = 8; computed once, then read from the cache)")
    xtr, ytr = mnist_inputs(cfg, data_dir, "train", cfg.limit_train)
    if cfg.validation is None:
        xte, yte = mnist_inputs(cfg, data_dir, "test", cfg.limit_test)
    elif 0 < cfg.validation < len(xtr):       # hyper-parameters are chosen without the test set
        v = len(xtr) - cfg.validation
        xtr, ytr, xte, yte = xtr[:v], ytr[:v], xtr[v:][:cfg.limit_test], ytr[v:][:cfg.limit_test]
    else:
        raise CertnnError(f"--validation must be between 1 and {len(xtr) - 1} training rows, got {cfg.validation}")
    features_seconds = time.perf_counter() - t0
    planned = steps_for(cfg.epochs, cfg.sample_rate)
    sigma = cfg.noise_multiplier
    if cfg.target_epsilon is not None:
        sigma = noise_for_epsilon(cfg.target_epsilon, cfg.sample_rate, planned, cfg.delta, cfg.accountant)
        log(f"noise multiplier {sigma:.4f} for epsilon {cfg.target_epsilon} ({cfg.accountant.upper()}) "
            f"after {planned} steps")
    manual_seed(cfg.seed)
    model = dp_cnn() if cfg.features == "pixels" else scatter_linear()
    check_examples_independent(model, xtr[:4])
    opt = optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    dp = DPSGD(model.parameters(), opt, len(xtr), cfg.sample_rate, sigma, cfg.max_grad_norm, seed=cfg.seed)

    def losses(idx):
        return F.cross_entropy(model(Tensor(xtr[idx])), ytr[idx], reduction="none")

    history = []
    task = progress.add_task("DP-SGD", total=planned) if progress else None
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(cfg.epochs):
            te = time.perf_counter()
            for _ in range(steps_for(epoch + 1, cfg.sample_rate) - dp.steps):     # all floor(E/q) planned
                dp.step(losses)
                if progress:
                    progress.update(task, advance=1, description=f"DP-SGD epoch {epoch + 1}/{cfg.epochs}")
            seconds = time.perf_counter() - te
            acc = accuracy(model, xte, yte)
            history.append({"epoch": epoch + 1, "test_accuracy": acc, "seconds": seconds})
            log(f"epoch {epoch + 1}: test accuracy {acc:.4f} ({seconds:.1f} s)")
    report = dpsgd_privacy(cfg.sample_rate, sigma, dp.steps, cfg.delta)
    if cfg.features == "scatter":
        report.assumptions = report.assumptions + list(FEATURE_ASSUMPTIONS)
    return {"model": MODELS[cfg.features], "test_accuracy": history[-1]["test_accuracy"] if history else None,
            "epochs": cfg.epochs, "steps": dp.steps, "noise_multiplier": sigma,
            "epsilon_rdp": report.epsilon_rdp, "epsilon_pld": report.epsilon_pld, "delta": cfg.delta,
            "scored_on": "test" if cfg.validation is None else f"the last {cfg.validation} training rows",
            "privacy": report.to_dict(), "history": history, "config": asdict(cfg),
            "epoch_seconds": float(np.median([h["seconds"] for h in history])) if history else None,
            "features_seconds": features_seconds, "wall_seconds": time.perf_counter() - t0}
