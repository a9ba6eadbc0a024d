"""``certnn zoo``: list the model zoo and train its models with their recipes."""

from __future__ import annotations

import json
import sys

import click



@click.group("zoo")
def zoo_group():
    """The model zoo: models that train for real on this machine."""


@zoo_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the recipes as JSON.")
def list_cmd(as_json):
    """Show every zoo model with its recipe."""
    from dataclasses import asdict

    from ..zoo import ZOO
    if as_json:
        click.echo(json.dumps({n: {"describe": e.describe, "recipe": asdict(e.recipe)} for n, e in ZOO.items()},
                              indent=1))
        return
    for name, e in ZOO.items():
        r = e.recipe
        steps = f"{r.steps_per_epoch} steps" if r.steps_per_epoch else "1 pass"
        click.echo(f"{name:10} {e.describe}  [{r.epochs} x {steps}, batch {r.batch_size}, {r.optimizer} {r.lr:g}]")


def _settings(pairs) -> tuple[dict, dict]:
    """--set model.width=16 / data.n_train=200: into the recipe's model and data dicts."""
    model, data = {}, {}
    for p in pairs:
        key, sep, value = p.partition("=")
        part, dot, field = key.partition(".")
        if not sep or not dot or part not in ("model", "data") or not field:
            raise click.BadParameter(f"--set expects model.KEY=VALUE or data.KEY=VALUE, got '{p}'")
        try:
            v = json.loads(value)
        except json.JSONDecodeError:
            v = value
        (model if part == "model" else data)[field] = v
    return model, data


@zoo_group.command("train")
@click.argument("name")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs (default: the recipe's).")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=None,
              help="Steps per epoch for models trained on sampled batches (chargpt, gpt-adder, mamba).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=float, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="BLAS threads (default 1).")
@click.option("--limit-train", type=click.IntRange(min=1), default=None, help="MNIST models: first N training images.")
@click.option("--limit-test", type=click.IntRange(min=1), default=None, help="MNIST models: first N test images.")
@click.option("--set", "sets", multiple=True, metavar="model.KEY=VALUE|data.KEY=VALUE",
              help="Change the model config or the data settings (JSON values), e.g. --set model.width=16.")
@click.option("--eager", is_flag=True, help="Run eagerly instead of compiled (same results, slower).")
@click.option("--data", "data_dir", default=None,
              help="MNIST folder (default: $CERTNN_DATA, then the user cache); for chargpt and mamba the folder "
              "whose top-level *.py files are the corpus (default: the Python stdlib).")
@click.option("--out", default=None, help="Checkpoint folder to write.")
@click.option("--json", "as_json", is_flag=True, help="Print one final JSON line with the results.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
def train_cmd(name, epochs, steps_per_epoch, batch_size, lr, seed, threads, limit_train, limit_test, sets, eager,
              data_dir, out, as_json, no_progress):
    """Train zoo model NAME (see `certnn zoo list`) and report its metric."""
    from .. import zoo
    zoo.entry(name)
    model, data = _settings(sets)
    given = {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch_size": batch_size, "lr": lr, "seed": seed,
             "threads": threads, "limit_train": limit_train, "limit_test": limit_test}
    overrides = {k: v for k, v in given.items() if v is not None}
    if eager:
        overrides["compiled"] = False
    log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
    res = zoo.train(name, data_dir=data_dir, out=out, progress=not no_progress and sys.stderr.isatty(), log=log,
                    model=model, data=data, **overrides)
    if as_json:
        click.echo(json.dumps({k: v for k, v in res.items() if k != "history"} | {"history": res["history"]}))
        return
    line = f"{name}: {res['metric']} {res['value']:.4f}  params {res['params']}  wall {res['wall_seconds']:.1f} s"
    click.echo(line + (f"  checkpoint {out}" if out else ""))
    if "baselines" in res:
        b = res["baselines"]
        click.echo(f"baselines: unigram {b['unigram_bits_per_char']:.3f}, bigram {b['bigram_bits_per_char']:.3f} "
                   f"bits/char")
    if "sample" in res:
        click.echo("sample:\n" + res["sample"])
    if "rel_l2_at_resolution" in res:
        click.echo("other resolutions: " + ", ".join(f"n={k}: {v:.4f}" for k, v in res["rel_l2_at_resolution"].items()))



