"""Training loops: :func:`fit`, the one loop every zoo recipe runs, and
:func:`train_mnist`, the MNIST MLP/CNN recipe behind ``certnn train mnist`` and
``make run``.

Images are scaled to [0, 1] (no mean/std normalisation, so robustness radii
are in pixel units). A model without training-mode state (dropout, batch
statistics) runs in compiled mode (bit-identical to eager mode, less per-op
overhead). A non-finite loss stops training with an error naming the epoch
and step.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .. import functional as F
from .. import optim
from ..data.loader import DataLoader
from ..data.mnist import mnist_arrays
from ..errors import CertnnError, TrainingError
from ..ir.compile import compile as compile_module
from ..random import manual_seed
from ..tensor import Tensor, no_grad


@dataclass
class TrainConfig:
    arch: str = "mlp"
    hidden: list = field(default_factory=lambda: [128])
    activation: str = "relu"  # MLP hidden activation: relu, tanh, sigmoid or gelu
    width: int = 8
    epochs: int = 5
    batch_size: int = 64
    lr: float = 0.1
    optimizer: str = "sgd"  # with Nesterov momentum 0.9
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    clip: float | None = None
    seed: int = 0
    compiled: bool = True
    threads: int = 1  # BLAS threads; small products run fastest on one, and timings stay stable
    limit_train: int | None = None  # use only the first N training / test images (quick runs, tests)
    limit_test: int | None = None

    def model_config(self) -> dict:
        if self.arch == "mlp":
            cfg = {"arch": "mlp", "in_features": 784, "hidden": list(self.hidden), "num_classes": 10}
            if self.activation != "relu":  # relu checkpoints keep their config (and hash) as before
                cfg["activation"] = self.activation
            return cfg
        if self.arch == "cnn":
            return {"arch": "cnn", "in_channels": 1, "num_classes": 10, "width": self.width, "image_size": 28}
        raise CertnnError(f"unknown architecture '{self.arch}' (choose mlp or cnn)")


def make_optimizer(cfg, params):
    """``cfg`` has optimizer, lr, momentum, weight_decay (any recipe config does)."""
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                         weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise CertnnError(f"unknown optimizer '{cfg.optimizer}' (choose sgd, adam or adamw)")


def make_schedule(cfg, total_steps: int):
    if cfg.schedule == "constant":
        inner = optim.ConstantLR()
    elif cfg.schedule == "cosine":
        inner = optim.CosineLR(total_steps=total_steps)
    elif cfg.schedule == "step":
        inner = optim.StepLR(step_size=max(1, total_steps // 3), gamma=0.1)
    else:
        raise CertnnError(f"unknown schedule '{cfg.schedule}' (choose constant, cosine or step)")
    return optim.Warmup(inner, cfg.warmup_steps) if cfg.warmup_steps > 0 else inner


def accuracy(model, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch):
            logits = model(Tensor(x[i:i + batch])).data
            correct += int((logits.argmax(axis=-1) == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


def has_training_state(model) -> bool:
    """Dropout or batch statistics: training mode computes something else than eval mode."""
    from ..nn.layers import BatchNorm2d, Dropout
    return any(isinstance(m, BatchNorm2d) or (isinstance(m, Dropout) and m.p > 0) for m in model.modules())


def runner(model, example, compiled: bool = True):
    """The callable to train with: the compiled module when the model allows it
    (batch statistics compile, with their running averages; active dropout does
    not: a fresh mask each call)."""
    from ..nn.layers import Dropout
    if not compiled or any(isinstance(m, Dropout) and m.p > 0 for m in model.modules()):
        return model
    return compile_module(model, example, batch_statistics=True)


def fit(model, run, batches: Callable[[int], Iterable], loss_fn: Callable, cfg, steps_per_epoch: int,
        evaluate: Callable[[], dict], progress: bool = True, log=print) -> list[dict]:
    """Train ``model`` for ``cfg.epochs`` epochs of ``steps_per_epoch`` steps.

    ``batches(epoch)`` yields the epoch's batches; ``loss_fn(run, batch)`` returns
    (a scalar loss Tensor, number of examples); ``evaluate()`` runs in eval mode
    after each epoch and returns metrics. The optimizer, schedule and clipping
    come from ``cfg`` (optimizer, lr, momentum, weight_decay, schedule,
    warmup_steps, clip). Returns the per-epoch history: mean training loss,
    ``train_seconds`` (the steps alone), the metrics and the epoch's wall time."""
    params = model.parameters()
    opt = make_optimizer(cfg, params)
    sched = make_schedule(cfg, cfg.epochs * steps_per_epoch)
    history, step = [], 0
    bar = _progress(progress)
    task = bar.add_task("training", total=cfg.epochs * steps_per_epoch) if bar else None
    try:
        for epoch in range(cfg.epochs):
            te = time.perf_counter()
            loss_sum, seen = 0.0, 0
            model.train()
            for i, batch in enumerate(batches(epoch)):
                sched.apply(opt, step)
                loss, count = loss_fn(run, batch)
                lv = float(loss.data)
                if not math.isfinite(lv):
                    raise TrainingError(f"loss became {lv} at epoch {epoch + 1}, step {i + 1} "
                                        f"(global step {step + 1}); try a smaller --lr")
                opt.zero_grad()
                loss.backward()
                if cfg.clip:
                    optim.clip_grad_norm(params, cfg.clip)
                opt.step()
                loss_sum += lv * count
                seen += count
                step += 1
                if bar:
                    bar.update(task, advance=1, description=f"epoch {epoch + 1}/{cfg.epochs} loss {lv:.3f}")
            train_seconds = time.perf_counter() - te
            model.eval()
            rec = {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "train_seconds": train_seconds,
                   **evaluate(), "seconds": time.perf_counter() - te}
            history.append(rec)
            log(f"epoch {rec['epoch']}: " + "  ".join(f"{k} {v:.4f}" for k, v in rec.items()
                                                       if k not in ("epoch", "seconds", "train_seconds")
                                                       and isinstance(v, float)) + f"  ({rec['seconds']:.1f} s)")
    finally:
        if bar:
            bar.stop()
    model.eval()
    return history


def threads_limited(threads: int):
    """BLAS thread limit for a training run; overflow is reported as a non-finite
    loss with its step, not as NumPy warnings."""
    from contextlib import ExitStack

    from threadpoolctl import threadpool_limits
    stack = ExitStack()
    stack.enter_context(threadpool_limits(limits=threads, user_api="blas"))
    stack.enter_context(np.errstate(over="ignore", invalid="ignore"))
    return stack


def save(out, model, model_config: dict, example, result: dict) -> None:
    """A checkpoint in the safe format (certnn.interop.checkpoint) with the traced graph."""
    from ..interop.checkpoint import save_checkpoint
    graph = compile_module(model.eval(), example).graph
    save_checkpoint(out, model, model_config, graph,
                    info={k: v for k, v in result.items() if k not in ("history", "samples")})
    save_training_log(out, {"config": model_config, **result})
    result["checkpoint"] = str(out)


# ---------------------------------------------------------------- MNIST classifiers

@dataclass
class Recipe:
    """A zoo model's training recipe: the model config (``model["arch"]`` picks the
    builder) and the optimisation settings that :func:`fit` reads. ``steps_per_epoch``
    (None: one pass over the training set) and ``data`` serve the recipes that
    sample their batches (language models, the adder, the FNO)."""

    model: dict
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    clip: float | None = None
    seed: int = 0
    compiled: bool = True
    threads: int = 1
    steps_per_epoch: int | None = None
    limit_train: int | None = None
    limit_test: int | None = None
    data: dict = field(default_factory=dict)


def train_classifier(name: str, recipe: Recipe, data_dir=None, out=None, progress: bool = True, log=print) -> dict:
    """Train an MNIST classifier (MLP, CNN, ResNet, ViT, RNN/GRU/LSTM on rows).
    ``recipe.data["shift"]``: translate each training image by up to that many
    pixels (a fresh random shift per step)."""
    from ..data.augment import random_shift
    from . import build, input_shape
    t0 = time.perf_counter()
    with threads_limited(recipe.threads):
        manual_seed(recipe.seed)
        model = build(recipe.model)
        shape = input_shape(recipe.model)
        xtr, ytr = mnist_arrays(shape, data_dir, "train")
        xte, yte = mnist_arrays(shape, data_dir, "test")
        xtr, ytr = xtr[:recipe.limit_train], ytr[:recipe.limit_train]
        xte, yte = xte[:recipe.limit_test], yte[:recipe.limit_test]
        loader = DataLoader((xtr, ytr), batch_size=recipe.batch_size, shuffle=True, seed=recipe.seed)
        run = runner(model, xtr[:recipe.batch_size], recipe.compiled)
        correct = [0, 0]
        shift, shift_rng = int(recipe.data.get("shift", 0)), np.random.default_rng([recipe.seed, 1])

        def loss_fn(run, batch):
            xb, yb = batch
            xb = random_shift(xb, shift, shift_rng)
            logits = run(Tensor(xb))
            correct[0] += int((logits.data.argmax(axis=1) == yb).sum())
            correct[1] += len(yb)
            return F.cross_entropy(logits, yb), len(yb)

        def evaluate():
            train_acc = correct[0] / max(correct[1], 1)
            correct[:] = [0, 0]
            # eval mode has no training state: the compiled graph is exact and faster
            ev = runner(model, xte[:1], recipe.compiled) if run is model or has_training_state(model) else run
            return {"train_accuracy": train_acc, "test_accuracy": accuracy(ev, xte, yte)}

        history = fit(model, run, loader.batches, loss_fn, recipe, len(loader), evaluate, progress, log)
    acc = history[-1]["test_accuracy"]
    result = {"model": name, "metric": "test_accuracy", "value": acc, "test_accuracy": acc,
              "train_accuracy": history[-1]["train_accuracy"], "epochs": recipe.epochs,
              "params": model.num_parameters(), "history": history,
              "train_seconds_per_epoch": min(h["train_seconds"] for h in history)}
    if out is not None:
        save(out, model, recipe.model, xte[:1], result)
    result["wall_seconds"] = time.perf_counter() - t0
    return result


def train_mnist(cfg: TrainConfig, data_dir=None, out: str | Path | None = None, progress: bool = True,
                log=print) -> dict:
    """``certnn train mnist``: the MLP / small CNN recipe of :class:`TrainConfig`."""
    keys = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "schedule", "warmup_steps",
            "clip", "seed", "compiled", "threads", "limit_train", "limit_test")
    recipe = Recipe(model=cfg.model_config(), **{k: getattr(cfg, k) for k in keys})
    res = train_classifier(cfg.arch, recipe, data_dir, out, progress, log)
    res = {"arch": cfg.arch, **{k: v for k, v in res.items() if k not in ("model", "metric", "value")}}
    res["config"] = asdict(cfg)
    if out is not None:
        save_training_log(out, res)          # with the command's own settings
    return res


TRAINING_LOG = "training.json"


def save_training_log(folder, result: dict) -> Path:
    """``training.json`` next to the checkpoint: the per-epoch history (loss, train and
    test accuracy, seconds) and the run's settings, for ``certnn report``."""
    import json

    from ..io import atomic_write
    path = Path(folder) / TRAINING_LOG
    doc = {"format": "certnn-training-log", "version": 1, "history": result.get("history", []),
           "config": result.get("config", {}), "summary": {k: result.get(k) for k in
                                                            ("arch", "model", "metric", "value", "test_accuracy",
                                                             "train_accuracy", "epochs", "params")}}
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), transient=True)
    bar.start()
    return bar
