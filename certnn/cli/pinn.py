"""``certnn pinn``: train physics-informed networks and certify their residuals."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _positive(ctx, param, value):
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be > 0, got {value}")
    return value


def _widths(ctx, param, value):
    if value is None:
        return None
    try:
        w = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated layer widths such as 20,20,20, got {value!r}") from None
    if not w or min(w) < 1:
        raise click.BadParameter(f"layer widths must be positive, got {value!r}")
    return w


@click.group("pinn")
def pinn_group():
    """Physics-informed networks: train, certify residual and error bounds, check certificates."""


@pinn_group.command("problems")
def problems_cmd():
    """List the built-in PDE problems."""
    from ..pinn.problems import PROBLEMS
    for p in PROBLEMS.values():
        box = " x ".join(f"{c} in [{a:g}, {b:g}]" for c, a, b in zip(p.coords, p.lo, p.hi))
        click.echo(f"{p.name}: {p.equation} = 0 on {box}; {p.doc}")


@pinn_group.command("train")
@click.argument("problem")
@click.option("--out", required=True, help="Checkpoint folder to write.")
@click.option("--hidden", callback=_widths, default=None, help="Hidden widths, e.g. 20,20,20 (default: the problem's).")
@click.option("--points", type=click.IntRange(min=1), default=None, help="Collocation points.")
@click.option("--boundary", type=click.IntRange(min=1), default=None, help="Points per initial/boundary condition.")
@click.option("--adam", type=click.IntRange(min=0), default=None, help="Adam steps.")
@click.option("--lbfgs", type=click.IntRange(min=0), default=None, help="L-BFGS iterations.")
@click.option("--lr", type=float, callback=_positive, default=None, help="Adam learning rate.")
@click.option("--batch", type=click.IntRange(min=0), default=None,
              help="Adam mini-batch of collocation points (0: full batch).")
@click.option("--rounds", type=click.IntRange(min=1), default=None,
              help="L-BFGS restarts; before each one after the first, --add points of largest residual join.")
@click.option("--add", type=click.IntRange(min=0), default=None, help="Points added per adaptive refinement round.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--init", default=None, help="Start from this checkpoint's weights (same architecture), e.g. a snapshot.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
@click.option("--no-progress", is_flag=True, help="Do not draw progress bars.")
def train_cmd(problem, out, hidden, points, boundary, adam, lbfgs, lr, batch, rounds, add, seed, init, as_json,
              no_progress):
    """Train a tanh MLP on PROBLEM (burgers, heat, poisson, allen-cahn)."""
    from ..pinn.problems import get_problem
    from ..pinn.train import train
    p = get_problem(problem)
    info = train(p, out, hidden, seed, points, boundary, adam, lbfgs, lr, progress=not (no_progress or as_json),
                 log=None if as_json else click.echo, init=init, batch=batch, rounds=rounds, add=add)
    if as_json:
        click.echo(json.dumps(info))
    else:
        click.echo(f"{p.name}: loss {info['loss']:.3e} (residual {info['loss_parts'][0]:.3e}) after "
                   f"{info['steps']} steps, {info['train_seconds']:.0f} s; checkpoint {out}")


@pinn_group.command("certify")
@click.argument("model")
@click.option("--problem", required=True, help="Built-in problem name (certnn pinn problems).")
@click.option("--inputs", default=None, help="The model's input order as coordinate names, e.g. t,x "
                                             "(default: the problem's order).")
@click.option("--budget", type=float, callback=_positive, default=600.0, show_default=True,
              help="Seconds of branching.")
@click.option("--tol", type=float, callback=_positive, default=0.05, show_default=True,
              help="Stop when the certified bound is within this fraction of the grid maximum.")
@click.option("--grid", type=click.IntRange(min=2), default=1000, show_default=True,
              help="Grid points per coordinate for the grid maximum.")
@click.option("--cert", default=None, help="Write the box-partition certificate here (JSON + .npz) and check it.")
@click.option("--plot", "plot_path", default=None, help="Write heat maps of the residual and the box bounds (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
def certify_cmd(model, problem, inputs, budget, tol, grid, cert, plot_path, as_json, no_progress):
    """Certify sup |residual| of MODEL (a certnn checkpoint or an ONNX file) over
    PROBLEM's domain, and its initial/boundary errors; for heat and Poisson also
    the error to the true solution."""
    from ..interop.models import load_model
    from ..pinn.certify import certify, plot
    from ..pinn.problems import get_problem
    p = get_problem(problem)
    graph = load_model(model)
    cert_path = None
    if cert is not None:
        cert_path = Path(cert)
        if cert_path.suffix != ".json":
            cert_path = cert_path.with_name(cert_path.name + ".json")
    res = certify(graph, p, inputs, budget=budget, grid=grid, tol=tol, cert_path=cert_path,
                  model_path=Path(model).resolve(), progress=not (no_progress or as_json),
                  log=None if as_json else click.echo)
    if plot_path:
        plot(res, p, plot_path)
    s = res.summary
    if as_json:
        click.echo(json.dumps(s))
    else:
        _print(s)
    if "check" in s and not s["check"]["ok"]:
        raise SystemExit(1)


def _print(s: dict) -> None:
    click.echo(f"{s['problem']}: sup |residual| <= {s['residual_bound']:.4g} ({s['evidence']}); "
               f"grid max {s['grid_max']:.4g}, ratio {s['ratio']:.2f}, {s['boxes']} boxes, "
               f"{s['residual_seconds']:.0f} s")
    for name, c in s["conditions"].items():
        click.echo(f"  {name}: sup |u - g| <= {c['bound']:.3g} (grid max {c['grid_max']:.3g}, {c['boxes']} boxes)")
    if "error" in s:
        e = s["error"]
        click.echo(f"  error to the true solution <= {e['bound']:.3g} by {e['theorem']} "
                   f"(measured {e['measured']:.3g}, ratio {e['ratio']:.2f})")
    if "relative_l2" in s:
        click.echo(f"  relative L2 error to the reference {s['relative_l2']:.3g}")
    if "certificate" in s:
        verdict = "accepted" if s["check"]["ok"] else "REJECTED: " + "; ".join(s["check"]["reasons"])
        click.echo(f"  certificate {s['certificate']}: checker {verdict}")
    click.echo(f"  assumptions: {', '.join(s['assumptions'])}")


@pinn_group.command("check")
@click.argument("cert")
@click.option("--model", default=None, help="The model (default: the one the certificate names).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def check_cmd(cert, model, as_json):
    """Re-derive a PINN certificate with the independent checker."""
    from ..interop.models import load_model
    from ..pinn.checker import check_pinn_certificate
    res = check_pinn_certificate(cert, None if model is None else load_model(model))
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        click.echo("accepted (certified)" if res.ok else "rejected: " + "; ".join(res.reasons))
        for name, r in res.regions.items():
            click.echo(f"  {name}: claim {r['claim']:.4g}, {r.get('boxes', 0)} boxes, "
                       f"{'verified' if r['verified'] else 'NOT verified'}")
    if not res.ok:
        raise SystemExit(1)
