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

    console.rule("binary32 execution vs real semantics on the 10,000 test images")
    from .checkpoint import load_graph
    from .floats.budget_report import budget_for_images
    from .train import mnist_arrays
    graph = load_graph(out)
    x, _ = mnist_arrays({"arch": "mlp", "in_features": 784}, data, "test")
    bound, measured, _ = budget_for_images(graph, x)
    t2 = Table(title="|f_binary32(x) - f_real(x)| on the logits")
    for col in ("quantity", "value"):
        t2.add_column(col)
    t2.add_row("largest sound bound (error budget)", f"{bound.max():.3e}")
    t2.add_row("largest measured error", f"{measured.max():.3e}")
    t2.add_row("bound / measured", f"{bound.max() / measured.max():.1f}x")
    t2.add_row("bound holds at every image", str(bool((measured <= bound).all())))
    t2.add_row("evidence", "checked; assumes hardware-float32-elementwise-ieee, ieee754-binary64-rn")
    console.print(t2)
    res["error_budget"] = {"max_bound": float(bound.max()), "max_measured": float(measured.max())}
    return res
