"""VNN-COMP instances: load (ONNX, VNNLIB), decide, write the result file; run a
category (``instances.csv``) and count solved / wrong / timeout / unknown.

Result file (the VNN-COMP format): one line ``sat``, ``unsat``, ``timeout`` or
``unknown``; after ``sat`` the counterexample as one s-expression, inputs then
outputs, flattened row-major, values printed as the shortest decimal that reads
back as the same float64::

    sat
    ((X_0 0.1)
     (X_1 -0.25)
     (Y_0 3.5))

The file is written atomically (temp file, then rename): a reader never sees a
partial file, in particular never an ``unsat`` that was not finished.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import atomic_write, read_text


class InstanceError(CertnnError):
    """An instance file (CSV, ONNX, VNNLIB) cannot be used."""


def load_instance(onnx_path, vnnlib_path, deadline: float | None = None):
    """(graph, property, [(Region, LinearSpec)]) with the X/Y counts checked (a
    missing ``x.onnx`` / ``x.vnnlib`` is read from ``x.onnx.gz`` / ``x.vnnlib.gz``).
    ``deadline`` (``time.monotonic()``): the model import raises ImportTimeout past it."""
    from ..interop import load_vnnlib
    from ..interop.models import load_onnx_model
    from ..interop.vnnlib import check_against
    onnx_path, vnnlib_path = _on_disk(Path(onnx_path)), _on_disk(Path(vnnlib_path))
    prop = load_vnnlib(vnnlib_path)          # first: its errors are not hidden by an import timeout
    graph = load_onnx_model(onnx_path, deadline)
    check_against(prop, graph)
    shape = tuple(graph.inputs[0].shape[1:])
    cases = [(box.region(shape), spec) for box, spec in prop.cases]
    return graph, prop, cases


def format_result(verdict) -> str:
    if verdict.status != "sat":
        return verdict.status + "\n"
    x, y = verdict.counterexample
    xs = np.asarray(x, np.float64).reshape(-1)
    ys = np.asarray(y, np.float64).reshape(-1)
    items = [f"(X_{i} {float(v)!r})" for i, v in enumerate(xs)] + [f"(Y_{j} {float(v)!r})" for j, v in enumerate(ys)]
    return "sat\n(" + "\n ".join(items) + ")\n"


def write_result(path, text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)


def run_instance(onnx_path, vnnlib_path, timeout: float, result_path=None, cert_path=None, seed: int = 0,
                 graph_options=None):
    """Decide one instance; write ``result_path`` when given (as soon as the verdict
    is known, so within the timeout) and then, for a split-tree ``unsat``, a
    certificate at ``cert_path``, re-checked by the independent checker (which
    takes extra time, about 13 ms per leaf on ACAS Xu). Returns the Verdict
    (``stats['certificate']`` says what happened to the certificate). A property
    whose asserts admit no input is ``unsat`` with ``stats['empty_input_set']``
    saying why, and no certificate. ``graph_options``: the graph search's
    settings (:class:`certnn.verify.bab_graph.GraphBabOptions`); the ones that
    differ from the defaults are recorded in ``stats['graph_options']``."""
    from ..interop.errors import ImportTimeout
    from .bab import Verdict, verify_property
    t0 = time.monotonic()
    onnx_path, vnnlib_path = _on_disk(Path(onnx_path)), _on_disk(Path(vnnlib_path))
    try:
        graph, prop, cases = load_instance(onnx_path, vnnlib_path, deadline=t0 + timeout)
    except ImportTimeout as e:      # the timeout bounds the whole run, import included
        v = Verdict("timeout", seconds=time.monotonic() - t0, stats={"timeout_in": str(e)})
        if result_path is not None:
            write_result(result_path, format_result(v))
        return v
    left = max(0.0, timeout - (time.monotonic() - t0))
    if prop.empty:     # no input satisfies the asserts: no counterexample, whatever the network
        v = Verdict("unsat", evidence="checked", stats={"empty_input_set": prop.empty})
    else:
        v = verify_property(graph, cases, left, seed=seed, certifiable=cert_path is not None,
                            graph_options=graph_options)
    overrides = graph_options.overrides() if graph_options is not None else {}
    if overrides:
        v.stats["graph_options"] = overrides
    if v.status == "sat" and not prop.is_counterexample(*v.counterexample):
        # found in the closed sets the bounds use, but on the boundary of a strict
        # comparison as written: not a counterexample (it never is one otherwise)
        v = Verdict("unknown", stats={**v.stats, "rejected_counterexample": "on the boundary of a strict "
                                      "comparison of the property"})
    v.seconds = time.monotonic() - t0
    if result_path is not None:
        write_result(result_path, format_result(v))
    if cert_path is not None and v.status == "unsat":
        from .bab_certificate import certify
        v.stats["certificate"] = certify(v, graph, cases, onnx_path, cert_path, vnnlib_path)
    return v


# ------------------------------------------------------------------------------ suites

def read_instances(csv_path) -> list[dict]:
    """Rows of an instances.csv (``onnx,vnnlib,timeout_s[,expected]``; a header line is
    optional; ``expected`` may be empty or ``-`` when not known), paths resolved
    against the CSV's folder (a missing file named without ``.gz`` is read from
    its ``.gz`` when that exists, as VNN-COMP 2023+ ships them)."""
    p = Path(csv_path)
    text = read_text(p, "instances file", InstanceError)
    try:
        rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    except csv.Error as e:
        raise InstanceError(f"{p}: not a CSV file ({e})") from None
    if rows and rows[0][0].strip().lower() == "onnx":
        rows = rows[1:]
    out = []
    for k, r in enumerate(rows, 1):
        r = [c.strip() for c in r]
        if len(r) < 3:
            raise InstanceError(f"{p}: row {k} has {len(r)} columns, expected onnx,vnnlib,timeout_s[,expected]")
        try:
            t = float(r[2])
        except ValueError:
            raise InstanceError(f"{p}: row {k}: timeout {r[2][:40]!r} is not a number") from None
        if not (math.isfinite(t) and t > 0):
            raise InstanceError(f"{p}: row {k}: timeout {r[2][:40]!r} must be a finite number of seconds > 0")
        exp = r[3].lower() if len(r) > 3 and r[3] not in ("", "-") else None    # "-": not known
        if exp is not None and exp not in ("sat", "unsat", "timeout", "unknown"):
            raise InstanceError(f"{p}: row {k}: expected {r[3][:40]!r} is not sat, unsat, timeout, unknown "
                                f"or - (not known)")
        out.append({"onnx": _on_disk(p.parent / r[0]), "vnnlib": _on_disk(p.parent / r[1]), "timeout_s": t,
                    "expected": exp, "name": f"{_stem(r[0])}:{_stem(r[1])}",
                    "rel": (r[0], r[1])})
    return out


def _on_disk(path: Path) -> str:
    """``path``, or ``path.gz`` when only that exists: VNN-COMP 2023+ repositories
    ship ``x.onnx.gz`` / ``x.vnnlib.gz`` while instances.csv names ``x.onnx``."""
    gz = path.with_name(path.name + ".gz")
    return str(gz if not path.exists() and gz.is_file() else path)


def _stem(name: str) -> str:
    """The file name without its extension(s): ``a/net.onnx.gz`` -> ``net``."""
    n = Path(name).name
    for ext in (".gz", ".onnx", ".vnnlib"):
        n = n[:-len(ext)] if n.endswith(ext) and len(n) > len(ext) else n
    return n


_PREPARED = False


def prepare_process() -> None:
    """Once per worker process, before its first instance's clock starts (VNN-COMP's
    untimed prepare step): import the ONNX reader and load the compiled binary32
    kernels that every counterexample replay uses. On a loaded 2-core machine
    ``import onnx`` alone takes seconds, which would otherwise be charged to the
    first instance of each worker (a 4 s cap timed out on a net decided in 0.3 s)."""
    global _PREPARED
    if _PREPARED:
        return
    import onnx.reference  # noqa: F401
    from ..ir.graph import Graph, Node
    from ..ir.run import run
    g = Graph([Node("x", "input", shape=(None, 2)), Node("w", "param", shape=(2, 2)),
               Node("y", "linear", ("x", "w"))], ["y"], {"w": np.eye(2, dtype=np.float32)}).validate()
    run(g, np.ones((1, 2), np.float32), semantics="binary32")
    _PREPARED = True


def suite_task(item: dict) -> dict:
    """One suite instance (a picklable top-level function for the executor)."""
    prepare_process()
    t0 = time.monotonic()
    # recorded relative to the category folder (the CSV's), never as this machine's paths
    onnx, vnnlib = item.get("rel", (item["onnx"], item["vnnlib"]))
    row = {"name": item["name"], "onnx": onnx, "vnnlib": vnnlib, "expected": item["expected"],
           "timeout_s": item["timeout_s"]}
    try:
        from threadpoolctl import threadpool_limits
        # the bound engine's matrices are small: one BLAS thread per instance, the
        # executor's workers share the cores
        with threadpool_limits(limits=1, user_api="blas"):
            v = run_instance(item["onnx"], item["vnnlib"], item["timeout_s"], cert_path=item.get("cert_path"),
                             graph_options=item.get("graph_options"))
        row.update(status=v.status, seconds=round(v.seconds, 3), binary32_replays=v.binary32_replays,
                   branches=v.stats.get("branches"), max_depth=v.stats.get("max_depth"))
        if item.get("cert_path") is not None and v.status == "unsat":
            cert = v.stats.get("certificate") or {}
            row.update(certified=bool(cert.get("written")), certificate=cert)
    except CertnnError as e:
        row.update(status="error", error=str(e), seconds=round(time.monotonic() - t0, 3))
    return row


def score(rows: list[dict]) -> dict:
    """Counts over result rows. wrong: sat where unsat was expected or vice versa."""
    def wrong(r):
        decided = ("sat", "unsat")
        return r.get("expected") in decided and r["status"] in decided and r["status"] != r["expected"]
    secs = [r.get("seconds", 0.0) for r in rows]
    return {"instances": len(rows),
            "solved": sum(r["status"] in ("sat", "unsat") and not wrong(r) for r in rows),
            "wrong": sum(wrong(r) for r in rows),
            "sat": sum(r["status"] == "sat" for r in rows),
            "unsat": sum(r["status"] == "unsat" for r in rows),
            "timeout": sum(r["status"] == "timeout" for r in rows),
            "unknown": sum(r["status"] == "unknown" for r in rows),
            "error": sum(r["status"] == "error" for r in rows),
            "total_seconds": round(float(sum(secs)), 3),
            "median_seconds": round(float(np.median(secs)), 3) if secs else 0.0}


def run_suite(csv_path, jobs: int = 1, scheduler=None, limit: int | None = None, timeout_cap: float | None = None,
              progress=None, cert_dir=None, only: list | None = None, graph_options=None) -> dict:
    """Run every instance of a category (or the rows ``only``); ``progress(row)`` is called as each completes.
    ``cert_dir``: run in certifiable mode and write each split-tree unsat's
    certificate there (rows get ``certified``; the count is ``certified``).
    ``graph_options``: the graph search's settings for every instance (the ones
    that differ from the defaults are recorded as ``graph_options``)."""
    from ..executor import TaskError, make_executor
    items = read_instances(csv_path)
    if only is not None:
        items = [items[i] for i in only]
    items = items[:limit]
    if timeout_cap is not None:
        items = [dict(it, timeout_s=min(it["timeout_s"], timeout_cap)) for it in items]
    if cert_dir is not None:
        items = [dict(it, cert_path=str(Path(cert_dir) / f"cert{k}.json")) for k, it in enumerate(items)]
    overrides = graph_options.overrides() if graph_options is not None else {}
    if overrides:
        items = [dict(it, graph_options=graph_options) for it in items]
    rows: list = [None] * len(items)
    t0 = time.monotonic()
    with make_executor(jobs=jobs, scheduler=scheduler) as ex:
        for i, res in ex.map(suite_task, items, return_exceptions=True):
            if isinstance(res, TaskError):
                res = {"name": items[i]["name"], "expected": items[i]["expected"], "status": "error",
                       "error": str(res), "seconds": 0.0}
            rows[i] = res
            if progress is not None:
                progress(res)
    out = score(rows)
    if cert_dir is not None:
        out["certified"] = sum(bool(r.get("certified")) for r in rows)
    if overrides:
        out["graph_options"] = overrides
    out["wall_seconds"] = round(time.monotonic() - t0, 3)
    out["csv"] = str(csv_path)
    out["rows"] = rows
    return out
