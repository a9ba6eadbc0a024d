"""CLI commands of the verification core: ``certnn verify robustness`` and
``certnn bounds`` (registered on the main group in certnn/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ..errors import CertnnError
from .options import POSITIVE

METHOD = click.Choice(["ibp", "crown", "crown-ibp", "same-slope", "alpha-crown"])
SEMANTICS = click.Choice(["real", "binary32", "binary32-any-order"])
NORM = click.Choice(["inf", "2", "1"])


def _mnist_for(graph, count: int, data):
    from ..data.mnist import load_mnist, normalize
    from ..data.mnist import download_allowed
    images, labels = load_mnist(data, "test", download=download_allowed())
    shape = tuple(int(s) for s in graph.inputs[0].shape[1:])
    if int(np.prod(shape)) != 28 * 28:
        raise CertnnError(f"verify robustness runs on MNIST test images (28x28 = 784 values), but the model "
                          f"takes inputs of shape {shape}; use `certnn bounds --input X.npy` for other data")
    x = normalize(images[:count]).reshape((min(count, len(images)),) + shape)
    return x, labels[:count].astype(np.int64)


@click.group("verify")
def verify_group():
    """Verify properties of a model."""


@verify_group.command("robustness")
@click.option("--model", required=True, help="Checkpoint folder, graph JSON or .onnx file.")
@click.option("--eps", required=True, type=POSITIVE, help="Perturbation radius (> 0).")
@click.option("--norm", type=NORM, default="inf", show_default=True)
@click.option("--method", type=METHOD, default="crown", show_default=True)
@click.option("--semantics", type=SEMANTICS, default="real", show_default=True,
              help="Which execution the claim is about (binary32: certnn's exact binary32 kernel; "
                   "binary32-any-order: any summation order).")
@click.option("--n", "count", default=100, show_default=True, type=click.IntRange(min=1),
              help="First N MNIST test images.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--out", default=None, help="Folder for the certificates (checked by the independent checker).")
@click.option("--no-attack", is_flag=True, help="Skip PGD.")
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
def verify_robustness_cmd(model, eps, norm, method, semantics, count, batch, out, no_attack, data, as_json,
                          no_progress):
    """Certify L-inf/L2 robustness of a classifier on the first N MNIST test images:
    clean, PGD, verified and certified accuracy, with one certificate per block of
    examples in OUT (each example's claim is checked on its own)."""
    from ..interop.models import load_model
    from ..io import output_folder
    from ..verify.robustness import verify_robustness
    if out is not None:
        output_folder(out, "certificate folder (--out)")
    graph = load_model(model)
    x, y = _mnist_for(graph, count, data)
    from rich.progress import Progress
    with Progress(disable=no_progress or as_json, transient=True) as bar:
        task = bar.add_task(f"verifying ({method}, eps {eps})", total=len(y))
        rep = verify_robustness(graph, x, y, eps, norm, method, semantics, attack=not no_attack,
                                out_dir=out, batch=batch, model_path=Path(model).resolve(),
                                progress=lambda k: bar.advance(task, k))
    s = rep.summary()
    if not as_json:
        _print_summary(s, rep)
    else:
        click.echo(json.dumps(s))
    if rep.check_failures:
        raise SystemExit(1)


def _print_summary(s: dict, rep) -> None:
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"robustness, {s['norm']}-norm eps {s['eps']}, {s['method']}, {s['semantics']} semantics")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    checked = s["certified_accuracy"] is not None
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    ms = s["ms_per_example"]
    for k, v in (("examples", str(s["n"])), ("clean accuracy", pct(s["clean_accuracy"])),
                 ("PGD accuracy (upper bound)", pct(s["pgd_accuracy"])),
                 ("verified accuracy", pct(s["verified_accuracy"])),
                 ("certified accuracy (checker)", pct(s["certified_accuracy"])),
                 ("checker", s["checker"] or "-"),
                 ("bounds ms/example", f"{ms['bounds']:.3f}"),
                 ("attack ms/example", f"{ms['attack']:.3f}"),
                 ("checker ms/example", f"{ms['check']:.3f}" if checked else "-")):
        t.add_row(k, v)
    Console().print(t)
    if s["certificates"]:
        click.echo(f"certificates: {len(s['certificates'])} file(s) in {Path(s['certificates'][0]).parent}")
    for i, why in rep.check_failures[:10]:
        click.echo(f"  example {i}: checker rejected: {why}")
    if s["evidence"] is None:
        click.echo("evidence: none (no example was verified, so there is no claim to back)")
    else:
        click.echo(f"evidence: {s['evidence']}; assumptions: {', '.join(s['assumptions']) or 'none'}")


def _rows_for(graph, x: np.ndarray, path) -> np.ndarray:
    """One example per row, reshaped to the model's input (rows may come flattened,
    row-major, as VNNLIB numbers them); a single example may omit the row axis."""
    shape = tuple(graph.inputs[0].shape[1:])
    size = int(np.prod(shape, dtype=np.int64))
    if x.size == 0:
        raise CertnnError(f"{path}: the --input array is empty (shape {x.shape}); give at least one row")
    if not np.isfinite(x).all():
        raise CertnnError(f"{path}: the --input array contains NaN or infinite values")
    if tuple(x.shape) == shape or (x.ndim == 1 and x.size == size):
        return x.reshape((1,) + shape)
    if x.ndim >= 2 and int(np.prod(x.shape[1:], dtype=np.int64)) == size:
        return x.reshape((x.shape[0],) + shape)
    raise CertnnError(f"{path}: rows of shape {x.shape[1:]} do not fit the model input {shape} "
                      f"({size} values per row)")


def _domain(domain):
    """--domain LO,HI as two finite floats with LO < HI (None when not given)."""
    if not domain:
        return None
    try:
        lo, hi = (float(v) for v in domain.split(","))
    except ValueError:
        raise click.BadParameter(f"wants LO,HI, got {domain!r}", param_hint="--domain") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise click.BadParameter(f"wants finite LO < HI, got {domain!r}", param_hint="--domain")
    return lo, hi


@click.command("bounds")
@click.option("--model", required=True, help="Checkpoint folder, graph JSON or .onnx file.")
@click.option("--input", "input_path", required=True, help=".npy array of inputs, one row per example.")
@click.option("--eps", required=True, type=POSITIVE)
@click.option("--norm", type=NORM, default="inf", show_default=True)
@click.option("--method", type=METHOD, default="crown", show_default=True)
@click.option("--semantics", type=SEMANTICS, default="real", show_default=True)
@click.option("--domain", default=None, help="Clip the region to a box, e.g. 0,1.")
@click.option("--out", required=True, help="Output .npz with arrays lb and ub (one row per input row).")
def bounds_cmd(model, input_path, eps, norm, method, semantics, domain, out):
    """Bounds on every model output over a ball around each input row."""
    from ..bounds import Region, compute_bounds
    from ..io import atomic_write, output_file, read_npy
    from ..interop.models import load_model
    dom = _domain(domain)
    output_file(out, "bounds file (--out)", others=[input_path, model])
    graph = load_model(model)
    x = _rows_for(graph, read_npy(input_path, "--input array"), input_path)
    region = Region.ball(np.asarray(x, np.float64), eps, norm, domain=dom)
    b = compute_bounds(graph, region, method=method, semantics=semantics)
    with atomic_write(out) as f:
        np.savez(f, lb=b.lb, ub=b.ub)
    click.echo(f"wrote {out}: lb, ub of shape {b.lb.shape} ({method}, {semantics}, {b.seconds * 1000:.1f} ms)")
