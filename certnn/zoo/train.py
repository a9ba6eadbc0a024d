"""MNIST training: the loop behind ``certnn train mnist`` and ``make run``.

Images are scaled to [0, 1] (no mean/std normalisation, so robustness radii
are in pixel units). The model runs in compiled mode by default (bit-identical
to eager mode, less per-op overhead). A non-finite loss stops training with an
error naming the epoch and step.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import optim
from ..ir.compile import compile as compile_module
from ..data.loader import DataLoader
from ..data.mnist import mnist_arrays
from ..errors import CertnnError, TrainingError
from ..random import manual_seed
from ..tensor import Tensor, no_grad
from . import build, input_shape


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


def make_optimizer(cfg: TrainConfig, params):
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                         weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise CertnnError(f"unknown optimizer '{cfg.optimizer}' (choose sgd, adam or adamw)")


def make_schedule(cfg: TrainConfig, total_steps: int):
    if cfg.schedule == "constant":
        inner = optim.ConstantLR()
    elif cfg.schedule == "cosine":
        inner = optim.CosineLR(total_steps=total_steps)
    elif cfg.schedule == "step":
        inner = optim.StepLR(step_size=max(1, total_steps // 3), gamma=0.1)
    else:
        raise CertnnError(f"unknown schedule '{cfg.schedule}' (choose constant, cosine or step)")
    return optim.Warmup(inner, cfg.warmup_steps) if cfg.warmup_steps > 0 else inner


def accuracy(model, x: np.ndarray, y: np.ndarray, batch: int = 2000) -> float:
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch):
            logits = model(Tensor(x[i:i + batch])).data
            correct += int((logits.argmax(axis=1) == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


def train_mnist(cfg: TrainConfig, data_dir=None, out: str | Path | None = None, progress: bool = True,
                log=print) -> dict:
    from threadpoolctl import threadpool_limits
    # overflow is reported as a non-finite loss with its step, not as NumPy warnings
    with threadpool_limits(limits=cfg.threads, user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
        return _train(cfg, data_dir, out, progress, log)


def _train(cfg, data_dir, out, progress, log) -> dict:
    t0 = time.perf_counter()
    manual_seed(cfg.seed)
    mcfg = cfg.model_config()
    model = build(mcfg)
    xtr, ytr = mnist_arrays(input_shape(mcfg), data_dir, "train")
    xte, yte = mnist_arrays(input_shape(mcfg), data_dir, "test")
    xtr, ytr = xtr[:cfg.limit_train], ytr[:cfg.limit_train]
    xte, yte = xte[:cfg.limit_test], yte[:cfg.limit_test]
    loader = DataLoader((xtr, ytr), batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
    run = compile_module(model, xtr[:cfg.batch_size]) if cfg.compiled else model
    params = model.parameters()
    opt = make_optimizer(cfg, params)
    total = cfg.epochs * len(loader)
    sched = make_schedule(cfg, total)
    history, step = [], 0
    bar = _progress(progress)
    task = bar.add_task("training", total=total) if bar else None
    try:
        for epoch in range(cfg.epochs):
            te = time.perf_counter()
            loss_sum, correct, seen = 0.0, 0, 0
            for i, (xb, yb) in enumerate(loader.batches(epoch)):
                sched.apply(opt, step)
                logits = run(Tensor(xb))
                loss = F.cross_entropy(logits, yb)
                lv = float(loss.data)
                if not math.isfinite(lv):
                    raise TrainingError(f"loss became {lv} at epoch {epoch + 1}, step {i + 1} "
                                        f"(global step {step + 1}); try a smaller --lr")
                opt.zero_grad()
                loss.backward()
                if cfg.clip:
                    optim.clip_grad_norm(params, cfg.clip)
                opt.step()
                loss_sum += lv * len(yb)
                correct += int((logits.data.argmax(axis=1) == yb).sum())
                seen += len(yb)
                step += 1
                if bar:
                    bar.update(task, advance=1, description=f"epoch {epoch + 1}/{cfg.epochs} loss {lv:.3f}")
            train_seconds = time.perf_counter() - te
            model.eval()
            test_acc = accuracy(run, xte, yte)
            model.train()
            rec = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_accuracy": correct / seen,
                   "test_accuracy": test_acc, "train_seconds": train_seconds,
                   "seconds": time.perf_counter() - te}
            history.append(rec)
            log(f"epoch {rec['epoch']}: loss {rec['loss']:.4f}  train acc {rec['train_accuracy']:.4f}  "
                f"test acc {rec['test_accuracy']:.4f}  ({rec['seconds']:.1f} s)")
    finally:
        if bar:
            bar.stop()
    model.eval()
    result = {"arch": cfg.arch, "test_accuracy": history[-1]["test_accuracy"] if history else accuracy(run, xte, yte),
              "train_accuracy": history[-1]["train_accuracy"] if history else None,
              "epochs": cfg.epochs, "params": model.num_parameters(), "history": history,
              "config": asdict(cfg)}
    if out is not None:
        from ..interop.checkpoint import save_checkpoint
        graph = compile_module(model, xte[:1]).graph
        save_checkpoint(out, model, mcfg, graph, info={k: v for k, v in result.items() if k != "history"})
        save_training_log(out, result)
        result["checkpoint"] = str(out)
    result["wall_seconds"] = time.perf_counter() - t0
    return result


TRAINING_LOG = "training.json"


def save_training_log(folder, result: dict) -> Path:
    """``training.json`` next to the checkpoint: the per-epoch history (loss, train and
    test accuracy, seconds) and the run's settings, for ``certnn report``."""
    import json

    from ..io import atomic_write
    path = Path(folder) / TRAINING_LOG
    doc = {"format": "certnn-training-log", "version": 1, "history": result.get("history", []),
           "config": result.get("config", {}), "summary": {k: result.get(k) for k in
                                                            ("arch", "test_accuracy", "train_accuracy", "epochs", "params")}}
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
