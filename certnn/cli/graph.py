"""``certnn graph`` (print a model's graph) and ``certnn ops`` (the op table's coverage)."""

from __future__ import annotations

import json

import click


# ---- graph -------------------------------------------------------------------------------------
@click.command("graph")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot"]), default="text", show_default=True)
def graph_cmd(path, fmt):
    """Print the graph of a checkpoint (folder or checkpoint.json) or of a graph
    JSON file as text, JSON or Graphviz DOT. The graph is validated first."""
    from ..interop.models import load_model
    from ..ir import graph_hash, to_dot, to_text
    from ..ir.serialize import to_dict
    g = load_model(path)
    if fmt == "text":
        click.echo(to_text(g))
        click.echo(f"# {graph_hash(g)}")
    elif fmt == "json":
        click.echo(json.dumps(to_dict(g), indent=1))
    else:
        click.echo(to_dot(g))




@click.command("ops")
def ops_cmd():
    """Print the op table's coverage: which rules each op has, and why gaps exist."""
    from ..ops.coverage import coverage_table
    click.echo(coverage_table())
