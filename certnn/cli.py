"""The ``certnn`` command line. Every user error (a ``CertnnError``) prints one
``error: ...`` line on stderr and exits with status 1; usage errors exit with 2."""

from __future__ import annotations

import json
import sys
import textwrap

import click

from .errors import CertnnError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certnn")
def cli():
    """certnn: one precise semantics for a network, shared by execution, training and verification."""


# ---- train -------------------------------------------------------------------------------------
@cli.group()
def train():
    """Train a model."""


@train.command("mnist")
@click.option("--arch", type=click.Choice(["mlp", "cnn"]), default="mlp", show_default=True)
@click.option("--hidden", default="128", show_default=True, help="MLP hidden widths, comma separated (e.g. 512,512).")
@click.option("--activation", type=click.Choice(["relu", "tanh", "sigmoid", "gelu"]), default="relu",
              show_default=True, help="MLP hidden activation.")
@click.option("--width", default=8, show_default=True, help="CNN base channel count.")
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=0.1, show_default=True, type=float)
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default="sgd", show_default=True,
              help="sgd uses Nesterov momentum (--momentum).")
@click.option("--momentum", default=0.9, show_default=True, type=float)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="BLAS threads.")
@click.option("--schedule", type=click.Choice(["constant", "cosine", "step"]), default="cosine", show_default=True)
@click.option("--weight-decay", default=0.0, show_default=True, type=float)
@click.option("--warmup-steps", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--clip", default=None, type=float, help="Clip the global gradient norm to this value.")
@click.option("--seed", default=0, show_default=True, type=int)
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
    from .train import TrainConfig, train_mnist
    try:
        widths = [int(h) for h in hidden.split(",") if h.strip()]
    except ValueError:
        raise click.BadParameter(f"--hidden must be comma-separated integers, got '{hidden}'") from None
    if activation != "relu" and arch != "mlp":
        raise click.BadParameter("--activation applies to --arch mlp only")
    cfg = TrainConfig(arch=arch, hidden=widths, activation=activation, width=width, epochs=epochs, batch_size=batch_size, lr=lr,
                      optimizer=optimizer, momentum=momentum, threads=threads, schedule=schedule, weight_decay=weight_decay,
                      warmup_steps=warmup_steps, clip=clip, seed=seed, compiled=not eager,
                      limit_train=limit_train, limit_test=limit_test)
    log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
    res = train_mnist(cfg, data_dir=data, out=out, progress=not no_progress and sys.stderr.isatty(), log=log)
    if as_json:
        click.echo(json.dumps({k: v for k, v in res.items() if k != "config"}))
    else:
        click.echo(f"test accuracy {res['test_accuracy']:.4f}  params {res['params']}  "
                   f"wall {res['wall_seconds']:.1f} s" + (f"  checkpoint {out}" if out else ""))


# ---- show --------------------------------------------------------------------------------------
@cli.group()
def show():
    """Show data."""


@show.command("mnist")
@click.option("--index", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1, max=100))
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
def show_mnist(index, count, split, data):
    """Render MNIST digits as ASCII art."""
    from .data.ascii import render_many
    from .data.mnist import load_mnist
    from .train import download_allowed
    images, labels = load_mnist(data, split, download=download_allowed())
    if index + count > len(images):
        raise CertnnError(f"--index {index} --count {count} runs past the {len(images)} {split} images")
    idx = list(range(index, index + count))
    click.echo(render_many(images, labels, idx))


# ---- graph -------------------------------------------------------------------------------------
@cli.command("graph")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot"]), default="text", show_default=True)
def graph_cmd(path, fmt):
    """Print the graph of a checkpoint (folder or checkpoint.json) or of a graph
    JSON file as text, JSON or Graphviz DOT. The graph is validated first."""
    from .checkpoint import load_graph
    from .ir import graph_hash, load, to_dot, to_text
    from .ir.serialize import FORMAT, to_dict
    g = load(path) if _is_graph_file(path, FORMAT) else load_graph(path)
    if fmt == "text":
        click.echo(to_text(g))
        click.echo(f"# {graph_hash(g)}")
    elif fmt == "json":
        click.echo(json.dumps(to_dict(g), indent=1))
    else:
        click.echo(to_dot(g))


# ---- float -------------------------------------------------------------------------------------
@cli.group("float")
def float_group():
    """Floating-point semantics: explain values, bound binary32-vs-real error."""


@float_group.command("explain")
@click.argument("value")
@click.option("--format", "fmt", default="binary32", show_default=True,
              help="binary32, binary16, bfloat16, e4m3 or e5m2.")
def float_explain(value, fmt):
    """Show the bits, fields, neighbours, ulp and rounding error of VALUE
    (a decimal, inf, nan, or a hex bit pattern such as 0x3f800000)."""
    from .floats.explain import explain
    click.echo(explain(value, fmt))


@float_group.command("error-budget")
@click.argument("checkpoint")
@click.option("--eps", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="L-inf radius of the box around each test image (clipped to [0, 1]).")
@click.option("--n", "count", default=100, show_default=True, type=click.IntRange(min=1),
              help="How many test images.")
@click.option("--order", type=click.Choice(["sequential", "any"]), default="sequential", show_default=True,
              help="sequential: certnn's binary32 order; any: valid for every summation order.")
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--grad", is_flag=True, help="Also bound the gradient of the mean cross-entropy over the "
              "images (binary32 backward vs real), per parameter.")
def float_error_budget(checkpoint, eps, count, order, data, as_json, grad):
    """Bound |binary32 - real| over boxes around MNIST test images, node by node,
    and compare with the error measured at the images themselves."""
    from .floats.budget_report import error_budget_report
    error_budget_report(checkpoint, eps=eps, count=count, order=order, data=data, as_json=as_json, grad=grad)


def _or_exit_2(load):
    """``load()``, or exit 2 with one error line when the input cannot be read."""
    try:
        return load()
    except CertnnError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)


@cli.command("check")
@click.argument("cert")
@click.option("--model", default=None, help="Checkpoint or graph JSON (default: the model the certificate names).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the verdicts.")
def check_cmd(cert, model, as_json):
    """Re-check a certificate with the independent checker. Exit 0 when every claimed
    example is re-derived, 1 when any is rejected (the failing step is printed),
    2 when the certificate or the model cannot be read."""
    from .verify.bab_certificate import check_bab_certificate, is_bab_certificate
    from .verify.checker import check_certificate, load_model_graph
    if is_bab_certificate(cert):  # a branch-and-bound split tree with its leaf certificate
        from .models import load_model
        res = _or_exit_2(lambda: check_bab_certificate(cert, graph=load_model(model) if model else None))
        if as_json:
            click.echo(json.dumps(res.to_dict()))
        else:
            for why in res.reasons:
                click.echo(f"rejected: {why}")
            click.echo(f"accepted: split tree covers the input box and {res.leaves} leaves re-derived "
                       f"({res.cases} case(s)) in {res.seconds:.2f} s" if res.ok
                       else f"REJECTED ({res.cases} case(s), {res.seconds:.2f} s)")
        sys.exit(0 if res.ok else 1)
    res = _or_exit_2(lambda: check_certificate(cert, graph=load_model_graph(model) if model else None))
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        for i, why in enumerate(res.reasons):
            if why is not None and res.claimed[i]:
                click.echo(f"example {i}: rejected: {why}")
        verdict = "accepted" if res.ok else "REJECTED"
        click.echo(f"{verdict}: {int(res.accepted.sum())}/{int(res.claimed.sum())} claimed examples re-derived "
                   f"(of {res.accepted.size}) in {res.seconds * 1e3:.1f} ms; assumptions: "
                   f"{', '.join(res.assumptions) or 'none'}")
    sys.exit(0 if res.ok else 1)


@cli.command("ops")
def ops_cmd():
    """Print the op table's coverage: which rules each op has, and why gaps exist."""
    from .ops.coverage import coverage_table
    click.echo(coverage_table())


@cli.command("audit")
@click.option("--all", "show_all", is_flag=True, help="List every place that relies on each boundary.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def audit_cmd(show_all, as_json):
    """List every named boundary (assumption) certnn results can rest on, what it
    states, and where the code relies on it."""
    from .audit import audit
    found = audit()
    if as_json:
        click.echo(json.dumps([b.to_dict() for b in found], indent=1))
        return
    for b in found:
        ops = [u.split()[1] for u in b.used_by if u.startswith("op ")]
        code = [u for u in b.used_by if not u.startswith("op ")]
        click.echo(f"{b.name}  (registered in {b.registry})")
        click.echo(textwrap.fill(b.statement, 88, initial_indent="    ", subsequent_indent="    "))
        if ops:
            click.echo(textwrap.fill("op rules: " + ", ".join(sorted(set(ops))), 88,
                                     initial_indent="    ", subsequent_indent="      "))
        if code:
            files = sorted({u.rsplit(":", 1)[0] for u in code})
            shown = code if show_all else files
            click.echo(textwrap.fill(f"code ({len(code)} references): " + ", ".join(shown), 88,
                                     initial_indent="    ", subsequent_indent="      "))
        click.echo("")


def _is_graph_file(path, fmt) -> bool:
    from pathlib import Path
    p = Path(path)
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("format") == fmt
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


# ---- main job ----------------------------------------------------------------------------------
@cli.command("main")
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--out", default="runs/mnist-mlp", show_default=True, help="Checkpoint folder.")
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(min=1))
def main_job(data, out, epochs):
    """The main job (`make run`): train the MNIST MLP, save it, print a summary."""
    from .jobs import main_job as run
    run(data=data, out=out, epochs=epochs)


from .cli_verify import bounds_cmd, verify_group  # noqa: E402

cli.add_command(verify_group)
cli.add_command(bounds_cmd)
from .cli_vnncomp import vnncomp_group  # noqa: E402

cli.add_command(vnncomp_group)


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="certnn", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except CertnnError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
