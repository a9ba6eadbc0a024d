"""``certnn bugzoo``: the BugZoo cards (issue #17): real ML bugs, each reproduced,
fixed in certnn and caught by an executable contract."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import click


@click.group("bugzoo")
def bugzoo_group():
    """BugZoo: real ML bugs, each reproduced, fixed in certnn and caught by a contract."""


@bugzoo_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the cards as one JSON document.")
def list_cmd(as_json):
    """A table of the cards: number, name, bug family, reports, evidence."""
    from ..bugzoo import cards
    cs = cards()
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in cs], indent=1))
        return
    from rich.console import Console
    from rich.table import Table
    t = Table("#", "card", "bug family", "reports", "evidence")
    for c in cs:
        t.add_row(str(c.number), c.name, c.family, "; ".join(c.reports), c.evidence)
    Console(width=160).print(t)


def _status(r) -> str:
    torch = ""
    if r.torch is not None:
        torch = f"  torch {r.torch['version']}: {'still shows the bug' if r.torch['still_shows'] else 'does not'}"
    flags = "  ".join(f"{k} {'yes' if v else 'NO'}" for k, v in
                      (("reproduced", r.reproduced), ("caught", r.caught), ("fixed", r.fixed)))
    return f"{r.card.number:2} {r.card.name:22} {flags}  {r.seconds:6.2f} s{torch}"


@bugzoo_group.command("run")
@click.argument("card", required=False)
@click.option("--all", "run_all", is_flag=True, help="Run every card.")
@click.option("--json", "as_json", is_flag=True,
              help="End with one JSON line: cards, reproduced, caught, fixed, passed, seconds, results.")
@click.option("--no-torch", is_flag=True, help="Do not judge PyTorch's own behaviour even if torch is installed.")
def run_cmd(card, run_all, as_json, no_torch):
    """Run CARD (a number or a name) or --all: each card's contract on the buggy
    implementation (it must fail, for a documented reason) and on certnn's."""
    from ..bugzoo import cards, get, run_card
    if run_all == (card is not None):
        raise click.UsageError("give one CARD or --all")
    chosen = cards() if run_all else [get(card)]
    t0 = time.perf_counter()
    results = []
    for c in chosen:
        r = run_card(c, with_torch=not no_torch)
        results.append(r)
        click.echo(_status(r))
        for line in r.buggy.details:
            click.echo(f"     buggy: {line}")
        if r.error:
            click.echo(f"     error: {r.error}")
    n = len(results)
    summary = {"cards": n, "reproduced": sum(r.reproduced for r in results), "caught": sum(r.caught for r in results),
               "fixed": sum(r.fixed for r in results), "passed": sum(r.passed for r in results),
               "seconds": round(time.perf_counter() - t0, 2)}
    click.echo(f"{summary['passed']}/{n} cards pass (reproduced {summary['reproduced']}, caught {summary['caught']}, "
               f"fixed {summary['fixed']}) in {summary['seconds']} s")
    if as_json:
        click.echo(json.dumps({**summary, "results": [r.to_dict() for r in results]}))
    if summary["passed"] < n:
        sys.exit(1)


@bugzoo_group.command("show")
@click.argument("card")
@click.option("--no-torch", is_flag=True, help="Do not judge PyTorch's own behaviour.")
def show_cmd(card, no_torch):
    """One card: the bug, its reports, the contract in words, and the numbers
    its contract saw on the buggy implementation, on certnn (and on torch)."""
    from ..bugzoo import get, run_card
    c = get(card)
    r = run_card(c, with_torch=not no_torch)
    wrap = lambda s: textwrap.fill(s, 100, initial_indent="    ", subsequent_indent="    ")  # noqa: E731
    click.echo(f"Card {c.number}: {c.title} ({c.name})\n  family: {c.family}\n  reports:")
    for rep in c.reports:
        click.echo(wrap(rep))
    click.echo(f"  contract ({c.evidence}):\n{wrap(c.contract)}")
    if c.assumptions:
        click.echo(f"  assumptions: {', '.join(c.assumptions)}")
    click.echo(f"  documented failure: {', '.join(c.documented)}")
    verdicts = [("buggy", r.buggy), ("certnn", r.fixed_verdict)]
    if r.torch is not None:
        from ..bugzoo.card import Verdict
        v = r.torch["verdict"]
        verdicts.append((f"torch {r.torch['version']}", Verdict(tuple(v["failures"]), tuple(v["details"]),
                                                                v["numbers"])))
    for who, v in verdicts:
        click.echo(f"  {who}: {'holds' if v.holds else 'FAILS'}")
        for line in v.details:
            click.echo(wrap(line))
        for k, val in v.numbers.items():
            click.echo(wrap(f"{k}: {val}"))
    click.echo(_status(r))
