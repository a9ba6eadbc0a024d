"""``certnn gen``: train the generative models, draw samples, score them."""

from __future__ import annotations

import json
import sys

import click

MODELS = ["vae", "cvae", "vqvae", "gan", "ddpm", "latent-ddpm"]


@click.group("gen")
def gen_group():
    """Generative models: VAE, conditional VAE, VQ-VAE, GAN, DDPM (DDPM and DDIM samplers), latent DDPM."""


@gen_group.command("train")
@click.argument("model", type=click.Choice(MODELS))
@click.option("--out", required=True, help="Checkpoint folder to write (weights, config, samples.png).")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--data", "dataset", type=click.Choice(["mnist", "toy2d"]), default="mnist", show_default=True,
              help="toy2d: a 2-D Gaussian mixture (gan, ddpm, cvae).")
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=None, type=float, help="Learning rate (default: the model's).")
@click.option("--denoiser", type=click.Choice(["unet", "mlp"]), default=None,
              help="ddpm on mnist: the noise predictor (default: the MLP; unet: the convolutional U-Net recipe).")
@click.option("--limit-train", default=None, type=click.IntRange(min=1), help="Use only the first N training examples.")
@click.option("--limit-test", default=None, type=click.IntRange(min=1), help="Use only the first N test examples.")
@click.option("--data-dir", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--json", "as_json", is_flag=True, help="Print a final JSON line with the results.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
def train_cmd(model, out, epochs, seed, dataset, batch_size, lr, denoiser, limit_train, limit_test, data_dir, as_json,
              no_progress):
    """Train MODEL; the test loss is per example (VAE: negative ELBO in nats)."""
    from ..generative.train import train
    from ..zoo.train import _progress
    from ..errors import CertnnError
    if denoiser and model != "ddpm":
        raise CertnnError(f"--denoiser applies to ddpm, not {model}")
    overrides = {"lr": lr} if lr is not None else {}
    if denoiser == "unet":
        from ..generative.train import UNET_RECIPE
        overrides = UNET_RECIPE | overrides
    log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
    bar = _progress(not no_progress and sys.stderr.isatty())
    try:
        res = train(model, dataset, epochs=epochs, seed=seed, out=out, batch_size=batch_size,
                    overrides=overrides, data_dir=data_dir, limit_train=limit_train,
                    limit_test=limit_test, progress=bar, log=log)
    finally:
        if bar:
            bar.stop()
    if as_json:
        click.echo(json.dumps({k: v for k, v in res.items() if k != "history"} | {"history": res["history"]}))
    else:
        click.echo(f"{model}: test loss {res['test_loss']:.4f} after {epochs} epochs  "
                   f"wall {res['wall_seconds']:.1f} s  checkpoint {out}")


@gen_group.command("sample")
@click.argument("folder")
@click.option("--n", default=64, show_default=True, type=click.IntRange(min=1, max=10000))
@click.option("--out", required=True, help="PNG file to write.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--sampler", type=click.Choice(["ddpm", "ddim"]), default=None, help="DDPM models: the sampler.")
@click.option("--steps", default=None, type=click.IntRange(min=1), help="DDIM steps.")
@click.option("--eta", default=None, type=click.FloatRange(min=0.0), help="DDIM eta (0: deterministic).")
@click.option("--label", default=None, type=click.IntRange(min=0),
              help="Conditional models: draw only this class (default: every class, one row each).")
def sample_cmd(folder, n, out, seed, sampler, steps, eta, label):
    """Draw N samples from the checkpoint FOLDER and save them as a PNG grid."""
    import numpy as np
    from ..errors import CertnnError
    from ..generative.grid import save_samples
    from ..generative.train import load
    model, meta = load(folder)
    kwargs = {k: v for k, v in {"sampler": sampler, "steps": steps, "eta": eta}.items() if v is not None}
    if kwargs and model.arch not in ("ddpm", "latent-ddpm"):
        raise CertnnError(f"--sampler/--steps/--eta apply to ddpm and latent-ddpm checkpoints; {folder} holds a "
                          f"{model.arch}")
    classes, nrow = getattr(model, "classes", 0), None
    if label is not None:
        if not classes:
            raise CertnnError(f"--label applies to conditional checkpoints; {folder} holds a {model.arch}")
        if label >= classes:
            raise CertnnError(f"--label {label}: {folder} has classes 0..{classes - 1}")
        kwargs["labels"] = np.full(n, label)
    elif classes and n % classes == 0:
        nrow = n // classes                                   # one row per class
    samples = model.sample(n, np.random.default_rng(seed), **kwargs)
    save_samples(samples, out, f"{model.arch}, {meta['info'].get('epochs', '?')} epochs", nrow=nrow)
    click.echo(f"{n} samples from {folder} -> {out}")


@gen_group.command("score")
@click.argument("folder")
@click.option("--n", default=2000, show_default=True, type=click.IntRange(min=2))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--feature-net", default="runs/feature_net", show_default=True,
              help="Checkpoint folder of the feature classifier (trained there by the recipe if missing).")
@click.option("--data-dir", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--json", "as_json", is_flag=True)
def score_cmd(folder, n, seed, feature_net, data_dir, as_json):
    """Frechet distance of N samples of an MNIST model to the MNIST test set (fixed certnn features);
    for a conditional model also the classifier's accuracy on samples drawn for each digit."""
    import numpy as np
    from ..data.mnist import mnist_arrays
    from ..generative.frechet import (FEATURE_NET, class_histogram, conditional_accuracy, feature_net as load_net,
                                      features, frechet_distance)
    from ..generative.train import load
    model, _ = load(folder)
    net = load_net(feature_net, data_dir, log=lambda s: click.echo(s, err=True))
    xte, _ = mnist_arrays((784,), data_dir, "test")
    classes = getattr(model, "classes", 0)
    labels = np.arange(n) * classes // n if classes else None
    samples = model.sample(n, np.random.default_rng(seed), **({"labels": labels} if classes else {}))
    fd = frechet_distance(features(net, samples), features(net, xte))
    hist = class_histogram(net, samples)
    res = {"model": model.arch, "frechet_distance": fd, "samples": n, "reference": "MNIST test (10000)",
           "feature_net": FEATURE_NET, "class_histogram": hist}
    if classes:
        acc = conditional_accuracy(net, samples, labels, classes)
        res |= {"classifier_accuracy": acc["accuracy"], "classifier_accuracy_per_class": acc["per_class"]}
    line = f"{model.arch}: Frechet distance {fd:.3f} ({n} samples); classes 0-9: {' '.join(map(str, hist))}"
    if classes:
        line += f"; classifier accuracy on samples drawn per class {res['classifier_accuracy']:.4f}"
    click.echo(json.dumps(res) if as_json else line)
