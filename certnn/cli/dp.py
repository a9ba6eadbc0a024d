"""``certnn dp``: privacy accounting, DP-SGD training and its audit."""

from __future__ import annotations

import json
import sys

import click


@click.group("dp")
def dp_group():
    """Differential privacy: DP-SGD with dp-accounting's RDP and PLD accountants, and an audit."""


@dp_group.command("epsilon")
@click.option("--sample-rate", required=True, type=click.FloatRange(min=0.0, max=1.0, min_open=True))
@click.option("--noise-multiplier", required=True, type=click.FloatRange(min=0.0, min_open=True))
@click.option("--epochs", required=True, type=click.FloatRange(min=0.0, min_open=True))
@click.option("--delta", required=True, type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True))
@click.option("--json", "as_json", is_flag=True)
def epsilon_cmd(sample_rate, noise_multiplier, epochs, delta, as_json):
    """Epsilon of DP-SGD (Poisson sampling, Gaussian noise) after EPOCHS (floor(E/Q) steps)."""
    from ..theory.accounting import dpsgd_privacy, steps_for
    r = dpsgd_privacy(sample_rate, noise_multiplier, steps_for(epochs, sample_rate), delta)
    if as_json:
        click.echo(json.dumps(r.to_dict()))
    else:
        click.echo(f"{r.steps} steps, delta {delta:g}: epsilon {r.epsilon_rdp:.4f} (RDP), {r.epsilon_pld:.4f} (PLD)"
                   f"  [upper bounds; assumed: {', '.join(r.assumptions)}]")


@dp_group.group("train")
def train_group():
    """Train with DP-SGD."""


@train_group.command("mnist")
@click.option("--epsilon", "target_epsilon", default=None, type=click.FloatRange(min=0.0, min_open=True),
              help="Target epsilon: the noise multiplier is chosen for it (PLD accountant).")
@click.option("--noise-multiplier", default=1.1, show_default=True, type=click.FloatRange(min=0.0, min_open=True),
              help="Used when --epsilon is not given.")
@click.option("--delta", default=1e-5, show_default=True,
              type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True))
@click.option("--epochs", default=60, show_default=True, type=click.IntRange(min=1))
@click.option("--sample-rate", default=256 / 60000, show_default=True,
              type=click.FloatRange(min=0.0, max=1.0, min_open=True))
@click.option("--features", default="pixels", show_default=True, type=click.Choice(["pixels", "scatter"]),
              help="pixels: TF Privacy's CNN; scatter: Tramer & Boneh's fixed ScatterNet features + a linear layer.")
@click.option("--groups", default=27, show_default=True, type=click.IntRange(min=1),
              help="scatter: groups of the per-example group normalisation (must divide 81).")
@click.option("--accountant", default="pld", show_default=True, type=click.Choice(["pld", "rdp"]),
              help="The accountant under which --epsilon is met (both epsilons are printed).")
@click.option("--clip", "max_grad_norm", default=None, type=click.FloatRange(min=0.0, min_open=True),
              help="Clipping norm C [default: 1.0 for pixels, 0.1 for scatter].")
@click.option("--lr", default=None, type=click.FloatRange(min=0.0, min_open=True),
              help="Learning rate [default: 0.15 for pixels, 0.25 for scatter].")
@click.option("--momentum", default=None, type=click.FloatRange(min=0.0, max=1.0),
              help="SGD momentum [default: 0 for pixels, 0.9 for scatter].")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--limit-train", default=None, type=click.IntRange(min=1))
@click.option("--limit-test", default=None, type=click.IntRange(min=1))
@click.option("--validation", default=None, type=click.IntRange(min=1),
              help="Score on the last N training rows instead of the test set (for choosing hyper-parameters).")
@click.option("--data", "data_dir", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-progress", is_flag=True)
def train_mnist_cmd(target_epsilon, noise_multiplier, delta, epochs, sample_rate, features, groups, accountant,
                    max_grad_norm, lr, momentum, seed, limit_train, limit_test, validation, data_dir, as_json,
                    no_progress):
    """DP-SGD on MNIST (TF Privacy's CNN, or ScatterNet + linear with --features scatter); prints epsilon
    under both accountants and test accuracy."""
    from ..theory.dp_train import DPConfig, train_dp_mnist
    from ..zoo.train import _progress
    cfg = DPConfig(epochs=epochs, sample_rate=sample_rate, noise_multiplier=noise_multiplier,
                   target_epsilon=target_epsilon, accountant=accountant, features=features, groups=groups,
                   max_grad_norm=max_grad_norm, lr=lr, momentum=momentum,
                   delta=delta, seed=seed, limit_train=limit_train, limit_test=limit_test, validation=validation)
    log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
    bar = _progress(not no_progress and sys.stderr.isatty())
    try:
        r = train_dp_mnist(cfg, data_dir, progress=bar, log=log)
    finally:
        if bar:
            bar.stop()
    if as_json:
        click.echo(json.dumps(r))
    else:
        scored = "test accuracy" if validation is None else "validation accuracy"
        click.echo(f"{r['model']}: {scored} {r['test_accuracy']:.4f}  noise multiplier {r['noise_multiplier']:.4f}  "
                   f"{r['steps']} steps  epsilon {r['epsilon_rdp']:.4f} (RDP), {r['epsilon_pld']:.4f} (PLD) "
                   f"at delta {delta:g}")


@dp_group.command("audit")
@click.option("--trials", default=600, show_default=True, type=click.IntRange(min=20),
              help="Training runs per world (with and without the canary).")
@click.option("--noise-multiplier", default=2.0, show_default=True, type=click.FloatRange(min=0.0, min_open=True))
@click.option("--steps", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--sample-rate", default=1.0, show_default=True, type=click.FloatRange(min=0.0, max=1.0, min_open=True))
@click.option("--delta", default=1e-5, show_default=True,
              type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True))
@click.option("--fault", type=click.Choice(["none", "noise-0.1", "no-clipping"]), default="none", show_default=True,
              help="Audit a deliberately broken DP-SGD instead of the real one.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True)
def audit_cmd(trials, noise_multiplier, steps, sample_rate, delta, fault, seed, as_json):
    """Empirical lower bound on DP-SGD's epsilon (canary membership test) against the accountant's."""
    from ..theory.audit import FAULTS, audit_dpsgd
    from ..theory.dpsgd import DPSGD
    r = audit_dpsgd(FAULTS.get(fault, DPSGD), trials=trials, noise_multiplier=noise_multiplier, steps=steps,
                    sample_rate=sample_rate, delta=delta, seed=seed)
    if as_json:
        click.echo(json.dumps(r.to_dict()))
        return
    verdict = "CAUGHT: leaks more than the accountant allows" if r.caught else "consistent with the accountant"
    click.echo(f"{r.implementation}: empirical epsilon >= {r.epsilon_lower:.3f} ({r.confidence:.0%} confidence, "
               f"{trials} runs per world); accountant epsilon <= {r.epsilon_upper:.3f}: {verdict}")
