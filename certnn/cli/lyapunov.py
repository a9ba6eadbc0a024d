"""``certnn lyapunov``: train and certify neural Lyapunov functions; check certificates.

    certnn lyapunov run vanderpol --out runs/vdp [--steps 1500] [--seed 0] [--json]
    certnn lyapunov check runs/vdp/lyapunov.json [--json]
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import click

from ..errors import CertnnError
from .checker_output import load_or_exit_2, report_check


@click.group("lyapunov")
def lyapunov_group():
    """Certified neural Lyapunov functions (Van der Pol, inverted pendulum)."""


@lyapunov_group.command("run")
@click.argument("system_name", metavar="SYSTEM", type=click.Choice(["vanderpol", "pendulum"]))
@click.option("--out", required=True, help="Folder for the networks and the certificate.")
@click.option("--steps", default=1500, show_default=True, type=click.IntRange(min=1), help="Adam steps.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--margin", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Extra margin * ||x||^2 inside both hinges of the loss (0: TorchLean's loss).")
@click.option("--radius", default=None, help="Radius of the excluded ball (default 0.1).")
@click.option("--time-limit", default=600.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-progress", is_flag=True)
def run_cmd(system_name, out, steps, seed, margin, radius, time_limit, as_json, no_progress):
    """Train a controller and a Lyapunov function with certnn's autograd, certify
    V > 0 and V' < 0 on [-1, 1]^2 minus a ball (branch and bound over boxes), write the
    certificate and re-check it with the independent checker."""
    from ..control.lyapunov import certify, save_certificate, system, train
    from ..control.lyapunov_checker import check_lyapunov
    from .reach import _bar
    s = system(system_name)
    if radius is not None:
        try:
            if Fraction(radius) <= 0:
                raise ValueError
        except ValueError:
            raise CertnnError(f"--radius: expected a positive number, got {radius!r}") from None
    tr = train(s, steps=steps, seed=seed, margin=margin)
    with _bar(no_progress, f"certify {s.name}") as tick:
        res = certify(s, tr.V, tr.controller, radius=radius, time_limit=time_limit, progress=tick)
    path = save_certificate(res, tr.V, tr.controller, Path(out) / "lyapunov.json")
    chk = check_lyapunov(path)
    o = {"system": s.name, "train_seconds": round(tr.seconds, 2), "final_loss": tr.history[-1][1],
         "certify_seconds": round(res.seconds, 2), "certified": res.certified, **res.stats,
         "region": [res.lo.tolist(), res.hi.tolist()], "radius": res.radius, "certificate": str(path),
         "checker": chk.to_dict(), "counterexamples": res.counterexamples[:5],
         "evidence": "certified" if chk.ok else None}
    if as_json:
        click.echo(json.dumps(o))
    else:
        region = f"[{res.lo[0]:g}, {res.hi[0]:g}] x [{res.lo[1]:g}, {res.hi[1]:g}] minus the ball of radius {res.radius}"
        click.echo(f"{s.name}: trained in {tr.seconds:.1f} s (loss {tr.history[-1][1]:.3g}); "
                   + (f"certified V > 0, V' < 0 on {region}" if res.certified else
                      f"NOT certified on {region}: {res.stats['failed_leaves']} box(es) left, "
                      f"{len(res.counterexamples)} counterexample box(es)")
                   + f" in {res.seconds:.1f} s ({res.stats['leaves']} leaves); certificate {path} "
                   + ("accepted" if chk.ok else "REJECTED: " + "; ".join(chk.reasons))
                   + f" by the checker in {chk.seconds:.1f} s")
    sys.exit(0 if chk.ok else 1)


@lyapunov_group.command("check")
@click.argument("cert", metavar="CERT")
@click.option("--json", "as_json", is_flag=True)
def check_cmd(cert, as_json):
    """Re-check a Lyapunov certificate. Exit 0 accepted, 1 rejected, 2 unreadable."""
    from ..control.lyapunov_checker import check_lyapunov
    res = load_or_exit_2(lambda: check_lyapunov(cert))
    report_check(res, as_json, f"{res.accepted_leaves}/{res.leaves} leaves re-derived in {res.seconds:.2f} s; "
                               f"assumptions: {', '.join(res.assumptions)}")
