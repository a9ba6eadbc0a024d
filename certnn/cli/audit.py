"""``certnn audit``: the named boundaries (assumptions) results rest on."""

from __future__ import annotations

import json
import textwrap

import click


@click.command("audit")
@click.option("--all", "show_all", is_flag=True, help="List every place that relies on each boundary.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def audit_cmd(show_all, as_json):
    """List every named boundary (assumption) certnn results can rest on, what it
    states, and where the code relies on it."""
    from ..proofs.audit import audit
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
