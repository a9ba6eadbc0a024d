"""``certnn audit``: the named boundaries (assumptions) results rest on, and the
theorems beside them."""

from __future__ import annotations

import json
import textwrap

import click


@click.command("audit")
@click.option("--all", "show_all", is_flag=True, help="List every place that relies on each boundary.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def audit_cmd(show_all, as_json):
    """List every named boundary (assumption) certnn results can rest on, what it
    states, and where the code relies on it; then the theorems (`certnn prove`)
    and the results that rest on them."""
    from ..proofs.audit import audit, theorem_audit
    found, theorems = audit(), theorem_audit()
    if as_json:
        click.echo(json.dumps({"assumptions": [b.to_dict() for b in found],
                               "theorems": [t.to_dict() for t in theorems]}, indent=1))
        return
    click.echo("Assumptions (named boundaries certnn does not prove)\n")
    for b in found:
        ops = [u.split()[1] for u in b.used_by if u.startswith("op ")]
        code = [u for u in b.used_by if not u.startswith("op ")]
        click.echo(f"{b.name}  (registered in {b.registry})")
        click.echo(textwrap.fill(b.statement, 88, initial_indent="    ", subsequent_indent="    "))
        if ops:
            click.echo(textwrap.fill("op rules: " + ", ".join(sorted(set(ops))), 88,
                                     initial_indent="    ", subsequent_indent="      "))
        if code:
            _where(code, show_all)
        click.echo("")
    click.echo(f"Theorems (re-run by `certnn prove`; {len(theorems)} registered)\n")
    for u in theorems:
        t = u.theorem
        click.echo(f"{t.name}  [{t.evidence}]  (registered in {t.module})")
        click.echo(textwrap.fill(t.statement, 88, initial_indent="    ", subsequent_indent="    "))
        if u.used_by:
            _where(u.used_by, show_all, "results resting on it")


def _where(code, show_all, what="code"):
    files = sorted({u.rsplit(":", 1)[0] for u in code})
    shown = code if show_all else files
    click.echo(textwrap.fill(f"{what} ({len(code)} references): " + ", ".join(shown), 88,
                             initial_indent="    ", subsequent_indent="      "))
