"""``certnn reach``: closed-loop reachability of neural controllers.

    certnn reach PROBLEM_DIR [--scenario NAME] [--json] [--cert F] [--plot F.png] [--jobs N | --scheduler ADDR]
    certnn reach suite DIR [--jobs N | --scheduler ADDR] [--json]
    certnn reach check TUBE.json [--problem DIR] [--json]

``certnn reach PROBLEM_DIR`` is short for ``certnn reach run PROBLEM_DIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import CertnnError
from .checker_output import load_or_exit_2, report_check


class _DefaultRun(click.Group):
    """A group whose first argument, when it is not one of its commands, goes to ``run``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run"] + list(args)
        return super().parse_args(ctx, args)


def _settings_options(f):
    for opt in reversed([
        click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Seconds per scenario for the tube (default 300)."),
        click.option("--split", default=None, help="Initial split: pieces per free dimension, e.g. 4 or 2,2."),
        click.option("--tm-order", type=click.IntRange(0, 8), default=None,
                     help="Taylor-model order in the initial state (default: by the number of variables)."),
        click.option("--time-order", type=click.IntRange(1, 20), default=None,
                     help="Taylor order in time of the validated integration (default 5)."),
        click.option("--method", type=click.Choice(["crown", "alpha-crown"]), default=None,
                     help="Controller bounds (default crown)."),
    ]):
        f = opt(f)
    return f


def _settings(problem, scenario, time_limit, split, tm_order, time_order, method):
    from ..control.reach import default_settings
    cfg = default_settings(problem, scenario)
    if time_limit is not None:
        cfg.time_limit = time_limit
    if split:
        try:
            cfg.split = tuple(int(x) for x in split.split(","))
        except ValueError:
            raise CertnnError(f"--split: expected integers like 4 or 2,2, got {split!r}") from None
        if min(cfg.split) < 1:
            raise CertnnError("--split: counts must be >= 1")
    if tm_order is not None:
        cfg.tm_order = tm_order
    if time_order is not None:
        cfg.time_order = time_order
    if method is not None:
        cfg.method = method
    return cfg


def _named(path: str | None, scenario: str, several: bool) -> Path | None:
    """``F`` for one scenario; ``F-<scenario>`` (same suffix) when several are run."""
    if path is None:
        return None
    p = Path(path)
    return p.with_name(f"{p.stem}-{scenario}{p.suffix}") if several else p


@click.group("reach", cls=_DefaultRun)
def reach_group():
    """Closed-loop reachability of neural-network controllers (ARCH-COMP AINNCS format).
    `certnn reach PROBLEM_DIR ...` is short for `certnn reach run PROBLEM_DIR ...`."""


@reach_group.command("run")
@click.argument("problem_dir", metavar="PROBLEM_DIR")
@click.option("--scenario", default=None, help="Only this scenario (default: every scenario of the problem).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per scenario.")
@click.option("--cert", default=None, help="Write the reach tube of a verified scenario here (.json + .npz) and "
                                           "re-check it with the independent tube checker.")
@click.option("--plot", default=None, help="Draw the tube, simulated trajectories and the spec (PNG).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1), help="Local worker processes.")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:port) instead of local workers.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
@_settings_options
def run_cmd(problem_dir, scenario, as_json, cert, plot, jobs, scheduler, no_progress, time_limit, split, tm_order,
            time_order, method):
    """Decide a problem's scenarios: verified (a sound reach tube satisfies the spec),
    falsified (a simulated trajectory violates it, replayed) or unknown. Prints the
    verdict, the time and the tightest margin to the spec. Exit 1 on a verdict that
    contradicts the scenario's expected result."""
    from ..control.problem import load_problem
    from ..control.reach import decide
    from ..executor import make_executor
    problem = load_problem(problem_dir)
    scenarios = [problem.scenario(scenario)] if scenario else list(problem.scenarios)
    several = len(scenarios) > 1
    wrong = False
    with make_executor(jobs, scheduler) as ex:
        workers = jobs if not scheduler else max(2, jobs)
        for s in scenarios:
            cfg = _settings(problem, s, time_limit, split, tm_order, time_order, method)
            with _bar(no_progress, f"{problem.name}/{s.name}") as tick:
                r = decide(problem, s.name, cfg, progress=tick, executor=ex if workers > 1 else None,
                           workers=workers)
            out = r.to_dict()
            cpath = _named(cert, s.name, several)
            if cpath is not None and r.tube is not None:
                out["certificate"] = _write_and_check(r, cpath)
                if out["certificate"]["accepted"]:
                    out["evidence"] = "certified"
            ppath = _named(plot, s.name, several)
            if ppath is not None:
                from ..control.plot import plot_result
                plot_result(problem, s, r, ppath)
                out["plot"] = str(ppath)
            wrong |= r.wrong
            if as_json:
                click.echo(json.dumps(out))
            else:
                click.echo(_line(out))
    sys.exit(1 if wrong else 0)


def _write_and_check(r, path: Path) -> dict:
    from ..control.tube import save_tube
    from ..control.tube_checker import check_tube
    written = save_tube(r.tube, path, {"verdict": r.verdict, "margin": r.margin, "producer_seconds": r.seconds})
    res = check_tube(written, r.tube.problem)
    return {"path": str(written), "accepted": res.ok, "checker_seconds": round(res.seconds, 3),
            "checker_margin": res.margin, "reasons": res.reasons, "assumptions": list(res.assumptions)}


def _line(o: dict) -> str:
    margin = "-" if o["margin"] is None else f"{o['margin']:.6g}"
    s = (f"{o['problem']}/{o['scenario']}: {o['verdict']} in {o['seconds']:.2f} s, tightest margin {margin}, "
         f"evidence {o['evidence'] or '-'}")
    if o.get("pieces"):
        s += f", {o['pieces']} piece(s)"
    if o.get("expected"):
        s += f" (expected {o['expected']}{', WRONG' if o['wrong'] else ''})"
    c = o.get("counterexample")
    if c:
        s += f"; counterexample x0 = {c['x0']} violates by {-c['margin']:.4g} at t = {c['time']:g}" \
             f" (binary32 replays: {'yes' if c['binary32_replays'] else 'no'}; validated tube: " \
             f"{'yes' if c.get('validated') else 'no'})"
    cert = o.get("certificate")
    if cert:
        s += (f"; tube {cert['path']} " + (f"accepted by the checker in {cert['checker_seconds']:.2f} s"
                                           if cert["accepted"] else f"REJECTED: {'; '.join(cert['reasons'])}"))
    if o.get("plot"):
        s += f"; plot {o['plot']}"
    return s


class _bar:
    """A rich progress bar over the verified fraction of the initial set."""

    def __init__(self, off: bool, label: str):
        self.off, self.label = off, label

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        console = Console(stderr=True)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 TextColumn("{task.percentage:>5.1f}% of the initial set"), TimeElapsedColumn(),
                                 console=console, disable=self.off or not console.is_terminal)
        self.progress.__enter__()
        self.task = self.progress.add_task(self.label, total=1.0)
        return lambda frac: self.progress.update(self.task, completed=frac)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


@reach_group.command("suite")
@click.argument("folder", metavar="DIR")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1), help="Local worker processes.")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:port) instead of local workers.")
@click.option("--json", "as_json", is_flag=True, help="Also print the per-scenario rows as JSON (stderr).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds per scenario for the tube (default 300).")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
def suite_cmd(folder, jobs, scheduler, as_json, time_limit, no_progress):
    """Run every problem below DIR (folders with a spec.json), every scenario; print a
    table and one JSON line with problems, verified, falsified, unknown, wrong,
    total_seconds. Exit 1 when any verdict contradicts an expected result."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..control.reach import run_suite
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]reach suite"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=console,
                  disable=no_progress or not console.is_terminal) as bar:
        task = bar.add_task("suite", total=None, last="")
        res = run_suite(folder, jobs=jobs, scheduler=scheduler, time_limit=time_limit,
                        progress=lambda row, total: bar.update(task, total=total, advance=1,
                                                               last=f"{row['problem']}/{row['scenario']}: "
                                                                    f"{row['verdict']}"))
    for r in res["rows"]:
        err = f"  ({r['error']})" if r.get("error") else ""
        click.echo(f"{r['problem'] + '/' + r['scenario']:<40} {r['verdict']:<10} {r.get('seconds', 0):8.2f} s  "
                   f"expected {r.get('expected') or '-'}{'  WRONG' if r.get('wrong') else ''}{err}", err=True)
    if as_json:
        click.echo(json.dumps(res["rows"]), err=True)
    click.echo(json.dumps({k: res[k] for k in ("problems", "verified", "falsified", "unknown", "wrong",
                                               "total_seconds")}))
    sys.exit(1 if res["wrong"] else 0)


@reach_group.command("check")
@click.argument("tube_path", metavar="TUBE")
@click.option("--problem", "problem_dir", default=None, help="The problem folder (default: the one the tube names).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def check_cmd(tube_path, problem_dir, as_json):
    """Re-check a reach tube with the independent tube checker. Exit 0 accepted,
    1 rejected (the failing step is printed), 2 when the files cannot be read."""
    from ..control.tube_checker import check_tube
    res = load_or_exit_2(lambda: check_tube(tube_path, problem_dir))
    margin = "-" if res.margin is None else f"{res.margin:.6g}"
    report_check(res, as_json, f"{res.pieces} piece(s), {res.steps} steps re-derived in {res.seconds:.2f} s "
                               f"(controller claims {res.claims_seconds:.2f} s), tightest margin {margin}; "
                               f"assumptions: {', '.join(res.assumptions)}")
