"""``certnn train`` (train models) and ``certnn show`` (look at data)."""

from __future__ import annotations

import json
import sys

import click

from ..errors import CertnnError
from .options import NONNEGATIVE, POSITIVE, SEED, Real, Widths


# ---- train -------------------------------------------------------------------------------------
@click.group()
def train():
    """Train a model."""


@train.command("mnist")
@click.option("--arch", type=click.Choice(["mlp", "cnn"]), default="mlp", show_default=True)
@click.option("--hidden", default="128", show_default=True, type=Widths(),
              help="MLP hidden widths, comma separated (e.g. 512,512).")
@click.option("--activation", type=click.Choice(["relu", "tanh", "sigmoid", "gelu"]), default="relu",
              show_default=True, help="MLP hidden activation.")
@click.option("--width", default=8, show_default=True, type=click.IntRange(1, 1024), help="CNN base channel count.")
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=0.1, show_default=True, type=POSITIVE)
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default="sgd", show_default=True,
              help="sgd uses Nesterov momentum (--momentum).")
@click.option("--momentum", default=0.9, show_default=True, type=Real(0.0, 1.0, max_open=True))
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="BLAS threads.")
@click.option("--schedule", type=click.Choice(["constant", "cosine", "step"]), default="cosine", show_default=True)
@click.option("--weight-decay", default=0.0, show_default=True, type=NONNEGATIVE)
@click.option("--warmup-steps", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--clip", default=None, type=POSITIVE, help="Clip the global gradient norm to this value.")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--limit-train", default=None, type=click.IntRange(min=1), help="Use only the first N training images.")
@click.option("--limit-test", default=None, type=click.IntRange(min=1), help="Use only the first N test images.")
@click.option("--eager", is_flag=True, help="Run eagerly instead of compiled (same results, slower).")
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--out", default=None, help="Checkpoint folder to write.")
@click.option("--json", "as_json", is_flag=True, help="Print a final JSON line with the results.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
def train_mnist_cmd(arch, hidden, activation, width, epochs, batch_size, lr, optimizer, schedule, weight_decay,
                    warmup_steps, clip, seed, eager, data, out, as_json, no_progress, momentum, threads, limit_train, limit_test):
    """Train on MNIST and report per-epoch loss and accuracy."""
    from ..io import output_folder
    from ..zoo.train import TrainConfig, train_mnist
    widths = hidden
    if activation != "relu" and arch != "mlp":
        raise click.BadParameter("--activation applies to --arch mlp only")
    cfg = TrainConfig(arch=arch, hidden=widths, activation=activation, width=width, epochs=epochs, batch_size=batch_size, lr=lr,
                      optimizer=optimizer, momentum=momentum, threads=threads, schedule=schedule, weight_decay=weight_decay,
                      warmup_steps=warmup_steps, clip=clip, seed=seed, compiled=not eager,
                      limit_train=limit_train, limit_test=limit_test)
    if out is not None:
        output_folder(out, "checkpoint folder (--out)")
    log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
    res = train_mnist(cfg, data_dir=data, out=out, progress=not no_progress and sys.stderr.isatty(), log=log)
    if as_json:
        click.echo(json.dumps({k: v for k, v in res.items() if k != "config"}))
    else:
        click.echo(f"test accuracy {res['test_accuracy']:.4f}  params {res['params']}  "
                   f"wall {res['wall_seconds']:.1f} s" + (f"  checkpoint {out}" if out else ""))


# ---- show --------------------------------------------------------------------------------------
@click.group()
def show():
    """Show data."""


@show.command("mnist")
@click.option("--index", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1, max=100))
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
def show_mnist(index, count, split, data):
    """Render MNIST digits as ASCII art."""
    from ..data.ascii import render_many
    from ..data.mnist import load_mnist
    from ..data.mnist import download_allowed
    images, labels = load_mnist(data, split, download=download_allowed())
    if index + count > len(images):
        raise CertnnError(f"--index {index} --count {count} runs past the {len(images)} {split} images")
    idx = list(range(index, index + count))
    click.echo(render_many(images, labels, idx))
