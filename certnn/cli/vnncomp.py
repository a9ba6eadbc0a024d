"""``certnn vnncomp``: decide VNN-COMP instances (``run``) and whole categories
(``suite``). Registered on the main group in certnn/cli.py.

Exit codes of ``run``: 0 when a verdict (sat, unsat, timeout, unknown) was
written; 1 (``error: ...`` on stderr, no result file) when the model or the
property cannot be used: unreadable, malformed or truncated files, unsupported
ops, X/Y counts that do not match the model."""

from __future__ import annotations

import json
import sys

import click

from ..errors import CertnnError
from .options import POSITIVE, SEED


def _bab_options(ctx, param, pairs):
    if not pairs:
        return None
    from ..verify.bab_graph import GraphBabOptions
    try:
        return GraphBabOptions.from_pairs(pairs)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


BAB_OPTION = click.option(
    "--bab", multiple=True, metavar="KEY=VALUE", callback=_bab_options,
    help="A setting of the ReLU-split search on conv/residual nets (repeatable), e.g. --bab branching=fsb "
         "--bab batch=64; the keys are GraphBabOptions' (docs/bab.md).")


@click.group("vnncomp")
def vnncomp_group():
    """VNN-COMP instances: ONNX model + VNNLIB property -> sat/unsat/timeout/unknown."""


@vnncomp_group.command("run")
@click.argument("onnx_path", metavar="ONNX")
@click.argument("vnnlib_path", metavar="VNNLIB")
@click.option("--timeout", type=POSITIVE, required=True, help="Wall-clock seconds (> 0), import included.")
@click.option("--out", "out", required=True, help="Result file to write (atomically).")
@click.option("--cert", default=None, help="For an unsat (input or ReLU splitting on chain ReLU nets): afterwards write a certificate here, "
              "re-checked by the independent checker (`certnn check CERT`); kept only if accepted.")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON line with the verdict and statistics.")
@BAB_OPTION
def run_cmd(onnx_path, vnnlib_path, timeout, out, cert, seed, as_json, bab):
    """Decide one instance and write RESULT_FILE: `sat` and the counterexample
    ((X_0 v) ... (Y_0 v) ...), or `unsat`, `timeout`, `unknown`."""
    from ..io import output_file
    from ..verify.vnncomp import run_instance
    try:
        output_file(out, "result file (--out)", others=[cert, onnx_path, vnnlib_path])
        if cert is not None:
            output_file(cert, "certificate (--cert)", others=[out, onnx_path, vnnlib_path])
        v = run_instance(onnx_path, vnnlib_path, timeout, result_path=out, cert_path=cert, seed=seed,
                         graph_options=bab)
    except CertnnError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if v.stats.get("empty_input_set"):
        click.echo(f"warning: {vnnlib_path}: the input set is empty ({v.stats['empty_input_set']}): no input "
                   f"satisfies the asserts, so `unsat` holds vacuously", err=True)
    line = f"{v.status} in {v.seconds:.2f} s"
    if v.status == "sat":
        b32 = "yes" if v.binary32_replays else "no"
        line += f" (counterexample replayed in real semantics; binary32 replay: {b32})"
    cinfo = v.stats.get("certificate")
    if cinfo:
        line += f"; certificate: {cinfo.get('written') or 'not written, ' + cinfo.get('reason', '')}"
    click.echo(line, err=as_json)
    if as_json:
        click.echo(json.dumps({"status": v.status, "seconds": round(v.seconds, 3), "evidence": v.evidence,
                               "binary32_replays": v.binary32_replays, "stats": _jsonable(v.stats)}))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


@vnncomp_group.command("suite")
@click.argument("csv_path", metavar="INSTANCES_CSV")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1), help="Local worker processes.")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:port) instead of local workers.")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="Only the first K instances.")
@click.option("--timeout-cap", default=None, type=POSITIVE,
              help="Cap every instance's timeout at this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (counts and per-instance rows) last.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
@BAB_OPTION
def suite_cmd(csv_path, jobs, scheduler, limit, timeout_cap, as_json, no_progress, bab):
    """Run a category (onnx,vnnlib,timeout_s[,expected]) and count solved / wrong /
    timeout / unknown against the `expected` column. Exit 1 when any answer is wrong
    or any instance could not be run (an error)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..verify.vnncomp import read_instances, run_suite
    n = len(read_instances(csv_path)[:limit])
    console = Console(stderr=True)
    show = not no_progress and console.is_terminal
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=console, disable=not show) as bar:
        task = bar.add_task("vnncomp", total=n, last="")
        res = run_suite(csv_path, jobs=jobs, scheduler=scheduler, limit=limit, timeout_cap=timeout_cap,
                        graph_options=bab,
                        progress=lambda row: bar.update(task, advance=1, last=f"{row['name']}: {row['status']}"))
    out = sys.stderr if as_json else sys.stdout
    for r in res["rows"]:
        flag = ""
        if r.get("expected") in ("sat", "unsat") and r["status"] in ("sat", "unsat") and r["status"] != r["expected"]:
            flag = "  WRONG"
        err = f"  ({r['error']})" if r.get("error") else ""
        click.echo(f"{r['name']:<50} {r['status']:<8} {r.get('seconds', 0):8.2f} s  expected "
                   f"{r.get('expected') or '-'}{flag}{err}", file=out)
    click.echo(f"instances {res['instances']}  solved {res['solved']}  wrong {res['wrong']}  timeout "
               f"{res['timeout']}  unknown {res['unknown']}  error {res['error']}  total {res['total_seconds']:.1f} s "
               f"(wall {res['wall_seconds']:.1f} s)", file=out)
    if as_json:
        click.echo(json.dumps(_jsonable(res)))
    sys.exit(1 if res["wrong"] or res["error"] else 0)
