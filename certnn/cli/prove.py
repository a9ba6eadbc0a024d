"""``certnn prove``: list the theorems certnn proves and re-run their proofs."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import click


def _list(as_json: bool) -> None:
    from ..proofs.theorems import gaps, registered
    table, holes = registered(), gaps()
    if as_json:
        click.echo(json.dumps({"theorems": [t.to_dict() for t in table.values()],
                               "gaps": [g.to_dict() for g in holes]}))
        return
    for t in table.values():
        click.echo(f"{t.name}  [{t.evidence}]")
        click.echo(textwrap.fill(t.statement, 100, initial_indent="    ", subsequent_indent="    "))
        click.echo(textwrap.fill("code: " + ", ".join(t.covers), 100, initial_indent="    ",
                                 subsequent_indent="      "))
        click.echo(textwrap.fill("domain: " + t.domain, 100, initial_indent="    ", subsequent_indent="      "))
    _gaps(holes, sys.stdout)
    click.echo(f"{len(table)} theorems ({sum(t.evidence == 'proved' for t in table.values())} proved, "
               f"{sum(t.evidence == 'checked' for t in table.values())} checked), {len(holes)} named gaps")


def _gaps(holes, out) -> None:
    if holes:
        click.echo("not covered (named gaps):", file=out)
        for g in holes:
            click.echo(textwrap.fill(f"{g.name}: {g.reason}", 100, initial_indent="    ",
                                     subsequent_indent="      "), file=out)


@click.command("prove")
@click.argument("names", nargs=-1)
@click.option("--list", "show_list", is_flag=True, help="List the theorems (and the named gaps) without proving.")
@click.option("--all", "run_all", is_flag=True, help="Re-run every proof.")
@click.option("--quick", is_flag=True, help="Only the theorems whose proofs take about a second.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object last (theorems, passed, failed, "
                                                      "seconds, per-theorem results, gaps).")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
def prove_cmd(names, show_list, run_all, quick, as_json, no_progress):
    """Re-run the proofs of the theorems NAMES (exact names or patterns such as
    'adjoint/*'), or of all of them with --all. Exit 1 when a proof fails."""
    if show_list:
        _list(as_json)
        return
    if not names and not run_all and not quick:
        raise click.UsageError("name the theorems to prove, or pass --all (`certnn prove --list` lists them)")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..proofs.theorems import gaps, registered, run, select
    chosen = list(registered().values()) if run_all or not names else select(names)
    if quick:
        chosen = [t for t in chosen if t.quick]
    console = Console(stderr=True)
    out = sys.stderr if as_json else sys.stdout
    outcomes = []
    t0 = time.perf_counter()
    with Progress(TextColumn("[bold]prove"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[now]}"), console=console,
                  disable=no_progress or not console.is_terminal) as bar:
        task = bar.add_task("prove", total=len(chosen), now="")
        for t in chosen:
            bar.update(task, now=t.name)
            o = run(t)
            outcomes.append(o)
            bar.update(task, advance=1)
            click.echo(f"{'PASS' if o.passed else 'FAIL'}  {o.name:<38} {o.evidence:<8} {o.seconds:8.2f} s  "
                       f"{o.detail}", file=out)
    seconds = time.perf_counter() - t0
    holes = gaps()
    _gaps(holes, out)
    passed = sum(o.passed for o in outcomes)
    click.echo(f"{len(outcomes)} theorems: {passed} passed, {len(outcomes) - passed} failed in {seconds:.1f} s",
               file=out)
    if as_json:
        click.echo(json.dumps({"theorems": len(outcomes), "passed": passed, "failed": len(outcomes) - passed,
                               "seconds": round(seconds, 3), "results": [o.to_dict() for o in outcomes],
                               "gaps": [g.to_dict() for g in holes]}))
    if passed < len(outcomes):
        sys.exit(1)
