"""DP-SGD on MNIST: the TF Privacy tutorial's CNN, trained by :class:`DPSGD`.

Model (TF Privacy ``mnist_dpsgd_tutorial``; Opacus' ``SampleConvNet`` is the
same with padding 3): conv 16@8x8 stride 2 padding 3, relu, max-pool 2 stride 1,
conv 32@4x4 stride 2, relu, max-pool 2 stride 1, linear 512-32, relu,
linear 32-10; pixels in [0, 1]. Defaults are the tutorial's: q = 256/60000,
sigma = 1.1, C = 1.0, plain SGD with learning rate 0.15, 60 epochs, delta = 1e-5.
Each epoch is round(1/q) Poisson-sampled steps. With ``target_epsilon`` the
noise multiplier is the smallest whose PLD epsilon after the planned steps is at
most the target.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..data.mnist import mnist_arrays
from ..random import manual_seed
from ..tensor import Tensor, no_grad
from .accounting import dpsgd_privacy, noise_for_epsilon, steps_for
from .dpsgd import DPSGD, check_examples_independent


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
    max_grad_norm: float = 1.0
    lr: float = 0.15
    momentum: float = 0.0
    delta: float = 1e-5
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None


def accuracy(model, x, y, batch=2000) -> float:
    with no_grad():
        hits = sum(int((model(Tensor(x[i:i + batch])).data.argmax(1) == y[i:i + batch]).sum())
                   for i in range(0, len(x), batch))
    return hits / max(len(x), 1)


def train_dp_mnist(cfg: DPConfig, data_dir=None, progress=None, log=print) -> dict:
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(cfg, data_dir, progress, log)


def _train(cfg, data_dir, progress, log):
    t0 = time.perf_counter()
    xtr, ytr = mnist_arrays((1, 28, 28), data_dir, "train")
    xte, yte = mnist_arrays((1, 28, 28), data_dir, "test")
    xtr, ytr, xte, yte = xtr[:cfg.limit_train], ytr[:cfg.limit_train], xte[:cfg.limit_test], yte[:cfg.limit_test]
    steps_per_epoch = max(1, round(1 / cfg.sample_rate))
    planned = steps_for(cfg.epochs, cfg.sample_rate)
    sigma = cfg.noise_multiplier
    if cfg.target_epsilon is not None:
        sigma = noise_for_epsilon(cfg.target_epsilon, cfg.sample_rate, planned, cfg.delta)
        log(f"noise multiplier {sigma:.4f} for epsilon {cfg.target_epsilon} (PLD) after {planned} steps")
    manual_seed(cfg.seed)
    model = dp_cnn()
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
            for _ in range(min(steps_per_epoch, planned - dp.steps)):
                dp.step(losses)
                if progress:
                    progress.update(task, advance=1, description=f"DP-SGD epoch {epoch + 1}/{cfg.epochs}")
            seconds = time.perf_counter() - te
            acc = accuracy(model, xte, yte)
            history.append({"epoch": epoch + 1, "test_accuracy": acc, "seconds": seconds})
            log(f"epoch {epoch + 1}: test accuracy {acc:.4f} ({seconds:.1f} s)")
    report = dpsgd_privacy(cfg.sample_rate, sigma, dp.steps, cfg.delta)
    return {"model": "tf-privacy-cnn", "test_accuracy": history[-1]["test_accuracy"] if history else None,
            "epochs": cfg.epochs, "steps": dp.steps, "noise_multiplier": sigma,
            "epsilon_rdp": report.epsilon_rdp, "epsilon_pld": report.epsilon_pld, "delta": cfg.delta,
            "privacy": report.to_dict(), "history": history, "config": asdict(cfg),
            "epoch_seconds": float(np.median([h["seconds"] for h in history])) if history else None,
            "wall_seconds": time.perf_counter() - t0}
