"""``certnn check``: re-check a certificate with the independent checker."""

from __future__ import annotations

import json
import sys

import click

from .checker_output import load_or_exit_2, report_check


@click.command("check")
@click.argument("cert")
@click.option("--model", default=None, help="Checkpoint, graph JSON or ONNX file (default: the model the certificate names).")
@click.option("--property", "prop", default=None,
              help="BaB certificates: the VNNLIB file the certificate must prove (rejected if it proves another).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the verdicts and the claim.")
def check_cmd(cert, model, prop, as_json):
    """Re-check a certificate with the independent checker and state the claim it
    verified. Exit 0 when every claimed example is re-derived, 1 when any is
    rejected (the failing step is printed) or nothing is claimed, 2 when the
    certificate or the model cannot be read."""
    from ..interop.models import load_model
    from ..verify.bab_checker import check_bab_certificate, is_bab_certificate
    from ..verify.checker import check_certificate
    if is_bab_certificate(cert):  # a branch-and-bound split tree with its leaf certificate
        from rich.console import Console
        from rich.progress import Progress
        with Progress(console=Console(stderr=True), disable=as_json, transient=True) as bar:
            task = bar.add_task("re-deriving leaves", total=None)
            res = load_or_exit_2(lambda: check_bab_certificate(
                cert, graph=load_model(model) if model else None, vnnlib=prop,
                progress=lambda done, total: bar.update(task, completed=done, total=total)))
        summary = (f"split tree covers the input box and {res.leaves} leaves re-derived ({res.cases} case(s)) "
                   f"in {res.seconds:.2f} s" if res.ok else f"{res.cases} case(s), {res.seconds:.2f} s")
        report_check(res, as_json, summary, after=f"proved: {res.claim()}" if res.ok else None)
    if prop is not None:
        click.echo("error: --property applies to BaB certificates (certnn vnncomp run --cert); "
                   f"{cert} is a robustness certificate", err=True)
        sys.exit(2)
    res = load_or_exit_2(lambda: check_certificate(cert, graph=load_model(model) if model else None))
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        if res.claim is None:          # rejected as a whole: one reason for every example
            click.echo(f"rejected: {res.reasons[0]}")
        for i, why in enumerate(res.reasons if res.claim is not None else []):
            if why is not None and res.claimed[i]:
                click.echo(f"example {i}: rejected: {why}")
        click.echo(f"{res.summary()} in {res.seconds * 1e3:.1f} ms")
        if res.ok:
            click.echo(f"proved: {res.claim.words()}")
    sys.exit(0 if res.ok else 1)
