"""The main job behind ``make run``: train the 784-128-10 MNIST MLP, save the
checkpoint, print a summary table. Later stages (verification) extend it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .train import TrainConfig, train_mnist


def main_job(data=None, out="runs/mnist-mlp", epochs: int = 5) -> dict:
    console = Console()
    console.rule("certnn main job: train the MNIST MLP 784-128-10")
    cfg = TrainConfig(arch="mlp", hidden=[128], epochs=epochs)
    res = train_mnist(cfg, data_dir=data, out=out, progress=console.is_terminal, log=console.print)
    table = Table(title="MNIST MLP 784-128-ReLU-10")
    for col in ("metric", "value"):
        table.add_column(col)
    table.add_row("test accuracy", f"{res['test_accuracy'] * 100:.2f} %")
    table.add_row("train accuracy (last epoch)", f"{res['train_accuracy'] * 100:.2f} %")
    table.add_row("epochs", str(res["epochs"]))
    table.add_row("parameters", f"{res['params']:,}")
    table.add_row("wall time", f"{res['wall_seconds']:.1f} s")
    table.add_row("checkpoint", str(out))
    console.print(table)
    return res
