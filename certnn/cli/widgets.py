"""``certnn report`` (one HTML page from a run folder) and ``certnn view`` (one
artifact as an HTML page); both pages are self-contained and work offline."""

from __future__ import annotations

from pathlib import Path

import click


def _write(html: str, out) -> Path:
    from ..io import atomic_write
    with atomic_write(out, "w") as f:
        f.write(html)
    return Path(out)


def _open(path: Path) -> None:
    import webbrowser
    webbrowser.open(path.resolve().as_uri())


@click.command("report")
@click.argument("run_dir")
@click.option("--out", default="report.html", show_default=True, help="HTML file to write.")
@click.option("--data", default=None, help="MNIST folder for the autograd-tape view (default: $CERTNN_DATA).")
@click.option("--no-tape", is_flag=True, help="Leave out the autograd tape of one training step.")
@click.option("--no-bounds", is_flag=True, help="Leave out the IBP / CROWN / alpha-CROWN comparison.")
@click.option("--open", "open_", is_flag=True, help="Open the page in the default browser.")
def report_cmd(run_dir, out, data, no_tape, no_bounds, open_):
    """One self-contained HTML page from whatever RUN_DIR holds: the model's graph,
    training curves, error budget, every certificate re-checked by the independent
    checker, BaB split trees, reach tubes, bounds against sampled activations."""
    from ..io import output_file
    from ..widgets.report import report_page
    output_file(out, "report (--out)")
    path = _write(report_page(run_dir, data=data, tape=not no_tape, bounds=not no_bounds), out)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if open_:
        _open(path)


@click.command("view")
@click.argument("artifact")
@click.option("--out", default=None, help="HTML file to write (default: ARTIFACT's name + .html, here).")
@click.option("--open", "open_", is_flag=True, help="Open the page in the default browser.")
def view_cmd(artifact, out, open_):
    """One artifact (checkpoint, graph, certificate, BaB certificate, training log,
    error budget, reach tube, Lyapunov certificate, PINN or approximation
    certificate, MDP value certificate, RL run log, recorded RL rollout) as a
    self-contained HTML page; certificates are re-checked."""
    from ..io import output_file
    from ..widgets.report import view_page
    out = out or Path(artifact).name.removesuffix(".json").removesuffix(".npz") + ".html"
    output_file(out, "page (--out)", others=(artifact,))
    path = _write(view_page(artifact), out)
    click.echo(f"wrote {path}")
    if open_:
        _open(path)
