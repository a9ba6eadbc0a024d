"""Training and loading the generative models: one loop for all four.

A model class has ``arch``, ``config()`` (JSON-able; ``build(config)``
rebuilds it), ``data_shape``, ``make_optimizers()``, ``train_step(x, rng)``,
``evaluate(x, rng)`` (with ``test_loss``) and ``sample(n, rng)``; a conditional
model (``classes`` > 0) takes ``labels=`` in the last three. :func:`fit`
runs epochs of shuffled mini-batches with a progress bar, evaluates on the
test split after each epoch, writes a checkpoint (``certnn.interop.checkpoint``:
weights with their SHA-256, config, history) and a PNG of samples, and stops
with an error naming the step on a non-finite loss.

Data: ``mnist`` (pixels in [0, 1], labels the digits) or ``toy2d`` (the
Gaussian mixture of :mod:`certnn.generative.toy`, 20000 training and 5000 test
points, labels the mixture components).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..data.loader import DataLoader
from ..data.mnist import mnist_arrays
from ..errors import CertnnError, CheckpointError, TrainingError
from ..random import manual_seed
from .diffusion import DDPM
from .gan import GAN
from .grid import save_samples
from .latent import LatentDDPM
from .toy import GaussianMixture
from .vae import CVAE, VAE
from .vqvae import VQVAE

MODELS = {m.arch: m for m in (VAE, CVAE, VQVAE, GAN, DDPM, LatentDDPM)}
DATASETS = ("mnist", "toy2d")

# per-model defaults for the toy data set (2-D points, no pixels)
TOY = {"vae": None, "vqvae": None, "latent-ddpm": None,
       "cvae": {"in_features": 2, "hidden": 64, "latent": 2, "classes": 3, "likelihood": "gaussian",
                "decoder_std": 0.4, "lr": 1e-2},
       "gan": {"dim": 2, "latent": 8, "g_hidden": [64, 64], "d_hidden": [64, 64], "lr": 1e-3, "pixels": False},
       "ddpm": {"dim": 2, "hidden": [128, 128, 128], "emb": 32, "T": 100, "lr": 1e-3, "pixels": False,
                "sample_steps": 100}}

# the DDPM's U-Net recipe on MNIST (`gen train ddpm --denoiser unet`, benchmarks/generative.py's
# ``ddpm_unet``); not the default: in the 30-minute benchmark the MLP scored the better FD
# x0_hat clipped to the pixel range in both samplers: without it a third of a 30-minute
# U-Net's DDIM samples saturated (Frechet distance 33.1 against 23.0 clipped, same checkpoint)
# min-SNR-5 loss weighting (Hang et al. 2023): see benchmarks/ddpm_recipes.py for the comparison;
# DDIM with eta 1 by default: on both U-Net checkpoints scored it beat eta 0 (the 30-minute one:
# FD 11.8 against 15.5, confident fraction 0.53 against 0.46, 500 samples; ddpm_unet_samplers)
UNET_RECIPE = {"denoiser": "unet", "channels": [16, 32, 64], "lr": 2e-3, "warmup": 100, "ema": 0.995, "clip": 1.0,
               "min_snr": 5.0, "eta": 1.0}


def build(config: dict):
    cfg = dict(config)
    arch = cfg.pop("arch", None)
    if arch not in MODELS:
        raise CheckpointError(f"unknown generative model {arch!r}; known: {', '.join(MODELS)}")
    try:
        return MODELS[arch](**cfg)
    except TypeError as e:
        raise CheckpointError(f"bad config for generative model '{arch}': {e}") from None


def default_config(arch: str, data: str) -> dict:
    if arch not in MODELS:
        raise CertnnError(f"unknown generative model {arch!r}; choose one of {', '.join(MODELS)}")
    if data not in DATASETS:
        raise CertnnError(f"unknown data set {data!r}; choose one of {', '.join(DATASETS)}")
    if data == "toy2d":
        if TOY[arch] is None:
            raise CertnnError(f"{arch} is an image model: train it on mnist")
        return {"arch": arch, **TOY[arch]}
    return {"arch": arch}


def load_data(data: str, shape: tuple, data_dir=None, seed: int = 0, limit_train=None, limit_test=None):
    """((x_train, y_train), (x_test, y_test))."""
    if data == "toy2d":
        rng = np.random.default_rng([seed, 2])
        gm = GaussianMixture()
        (xtr, ytr), (xte, yte) = gm.sample_labelled(20000, rng), gm.sample_labelled(5000, rng)
        xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
    else:
        xtr, ytr = mnist_arrays(shape, data_dir, "train")
        xte, yte = mnist_arrays(shape, data_dir, "test")
    return (xtr[:limit_train], ytr[:limit_train]), (xte[:limit_test], yte[:limit_test])


def fit(model, train: tuple, test: tuple, epochs: int, batch_size: int = 128, seed: int = 0,
        out=None, progress=None, log=print, data: str = "mnist", extra_info: dict | None = None,
        budget_seconds: float | None = None) -> dict:
    """Train ``model`` on ``train`` = (x, labels), evaluate on ``test`` (the labels
    are read only by conditional models); returns the history and the final
    evaluation. With ``budget_seconds``, no epoch after the first starts once that
    much wall time has passed (the result's ``epochs`` counts the epochs run)."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
        return _fit(model, train, test, epochs, batch_size, seed, out, progress, log, data, extra_info or {},
                    budget_seconds)


def _labels(model, y) -> dict:
    return {"labels": y} if getattr(model, "classes", 0) else {}


def _fit(model, train, test, epochs, batch_size, seed, out, progress, log, data, extra_info, budget_seconds):
    t0 = time.perf_counter()
    model.make_optimizers()
    (xtr, ytr), (xte, yte) = train, test
    loader = DataLoader((xtr, ytr), batch_size=batch_size, shuffle=True, seed=seed)
    rng = np.random.default_rng([seed, 1])
    eval_seed = [seed, 3]                         # the same evaluation draws after every epoch
    history = []
    task = progress.add_task(model.arch, total=epochs * len(loader)) if progress else None
    for epoch in range(epochs):
        if epoch and budget_seconds is not None and time.perf_counter() - t0 > budget_seconds:
            break
        te = time.perf_counter()
        sums: dict[str, float] = {}
        for i, (xb, yb) in enumerate(loader.batches(epoch)):
            m = model.train_step(xb, rng, **_labels(model, yb))
            if not math.isfinite(m["loss"]):
                raise TrainingError(f"{model.arch}: loss became {m['loss']} at epoch {epoch + 1}, step {i + 1}")
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v
            if progress:
                progress.update(task, advance=1,
                                description=f"{model.arch} epoch {epoch + 1}/{epochs} loss {m['loss']:.4g}")
        train_seconds = time.perf_counter() - te
        rec = {"epoch": epoch + 1, **{f"train_{k}": v / len(loader) for k, v in sums.items()},
               **model.evaluate(xte, np.random.default_rng(eval_seed), **_labels(model, yte)),
               "train_seconds": train_seconds}
        history.append(rec)
        log(f"epoch {epoch + 1}: " + "  ".join(f"{k} {v:.4f}" for k, v in rec.items()
                                              if k != "epoch" and isinstance(v, float)))
        if out is not None:
            save(model, out, {"data": data, "epochs": epoch + 1, "seed": seed, "history": history, **extra_info})
    result = {"model": model.arch, "data": data, "epochs": len(history),
              "test_loss": history[-1]["test_loss"] if history else
              model.evaluate(xte, np.random.default_rng(eval_seed), **_labels(model, yte))["test_loss"],
              "history": history, "params": model.num_parameters(), "theorems": THEOREMS_USED[model.arch],
              "epoch_seconds": float(np.median([h["train_seconds"] for h in history])) if history else None}
    if out is not None:
        grid = Path(out) / "samples.png"
        classes = getattr(model, "classes", 0)          # conditional: one row of 8 per class
        save_samples(model.sample(8 * classes or 64, np.random.default_rng([seed, 4])), grid,
                     f"{model.arch}, {len(history)} epochs", nrow=8 if classes else None)
        result["checkpoint"], result["samples_png"] = str(out), str(grid)
    result["wall_seconds"] = time.perf_counter() - t0
    return result


# the registered identities each model's loss and sampler rest on (`certnn prove 'generative/*'`)
THEOREMS_USED = {
    "vae": ("generative/gaussian-kl-closed-form", "generative/gaussian-kl-nonnegative",
            "generative/elbo-decomposition"),
    "cvae": ("generative/gaussian-kl-closed-form", "generative/gaussian-kl-nonnegative",
             "generative/elbo-decomposition"),
    "vqvae": ("generative/vq-nearest-code",),
    "gan": ("generative/gan-optimal-discriminator", "generative/gan-jensen-shannon"),
    "ddpm": ("generative/forward-marginal", "generative/ddpm-posterior-mean", "generative/ddim-eta1-is-ddpm"),
    "latent-ddpm": ("generative/gaussian-kl-closed-form", "generative/gaussian-kl-nonnegative",
                    "generative/elbo-decomposition", "generative/forward-marginal",
                    "generative/ddpm-posterior-mean", "generative/ddim-eta1-is-ddpm"),
}


def save(model, folder, info: dict) -> Path:
    from ..interop.checkpoint import save_checkpoint
    return save_checkpoint(folder, model, model.config(), info=info)


def load(folder):
    """(model in eval mode, checkpoint metadata) from a folder written by :func:`fit`."""
    from ..interop.checkpoint import read_meta
    meta, state, _ = read_meta(folder)
    model = build(meta["config"])
    model.load_state_dict(state)
    return model.eval(), meta


def train(arch: str, data: str = "mnist", epochs: int = 1, seed: int = 0, out=None, batch_size: int = 128,
          overrides: dict | None = None, data_dir=None, limit_train=None, limit_test=None, progress=None,
          log=print, budget_seconds: float | None = None) -> dict:
    """Build ``arch`` with its defaults for ``data`` (plus ``overrides``), load the data and :func:`fit`."""
    cfg = {**default_config(arch, data), **(overrides or {})}
    manual_seed(seed)
    model = build(cfg)
    train_set, test_set = load_data(data, model.data_shape, data_dir, seed, limit_train, limit_test)
    return fit(model, train_set, test_set, epochs, batch_size, seed, out, progress, log, data, budget_seconds=budget_seconds)
