"""``certnn view FILE`` and ``certnn report RUN_DIR``: which view shows which artifact,
and the run report that puts every artifact of a run folder on one page.

The **artifact registry** :data:`ARTIFACTS` maps an artifact's JSON ``format`` field
(every certnn artifact carries one) to the function that builds its views. A new
subsystem adds its artifact with one :func:`register` call; the report then picks
its files up from any run folder, and ``certnn view`` opens them.

The report never raises a result's evidence: a view states what its artifact is
known by (the checker's verdict for certificates, ``tested`` for samples,
``computed`` for unchecked floating-point bounds).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import parse_json, read_text
from .page import Evidence, Raw, View, esc, page, table


class ReportError(CertnnError, ValueError):
    """A file or folder that the widgets cannot show."""


@dataclass(frozen=True)
class Artifact:
    """A kind of artifact: its JSON ``format``, a phrase for listings, and
    ``build(path, context) -> [View]``; ``context`` carries what the report knows
    already (the run's graph, so checkers need not reload it)."""
    format: str
    what: str
    build: Callable


ARTIFACTS: dict[str, Artifact] = {}


def register(artifact: Artifact) -> Artifact:
    ARTIFACTS[artifact.format] = artifact
    return artifact


def format_of(path: Path) -> str | None:
    """The ``format`` field of a JSON artifact (a folder: its checkpoint.json; an ``.npz``
    artifact: its ``meta`` JSON string, as in recorded rollouts), or None."""
    if path.is_dir():
        path = path / "checkpoint.json"
    if path.suffix == ".npz" and path.is_file():
        return _npz_format(path)
    if path.suffix != ".json" or not path.is_file():
        return None
    doc = format_doc(path)
    return _format_field(path, doc) if isinstance(doc, dict) else None


def _format_field(path: Path, doc: dict) -> str | None:
    """``format``, or the one artifact name of the certnn files written before that field
    existed: MDP value certificates name themselves by ``kind``; an RL run's ``log.json``
    is known by the ``config.json`` next to it (naming the algorithm and environment)."""
    if "format" in doc:
        return doc["format"]
    if doc.get("kind") == "certnn-mdp-values":
        return "certnn-mdp-values"
    if path.name == "log.json" and "episode_returns" in doc and (path.parent / "config.json").is_file():
        config = format_doc(path.parent / "config.json")
        if isinstance(config, dict) and {"algo", "env_id"} <= config.keys():
            return "certnn.rl.run-log"
    return None


def _npz_format(path: Path) -> str | None:
    """The ``format`` in an ``.npz`` file's ``meta`` array (read alone, without pickles), or None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"])) if "meta" in z.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    return meta.get("format") if isinstance(meta, dict) and isinstance(meta.get("format"), str) else None


def format_doc(path: Path):
    """A JSON file through certnn's guarded reader (size cap, nesting depth, no NaN tricks), or None."""
    try:
        return parse_json(read_text(path, "artifact", ReportError), path, "artifact", ReportError)
    except ReportError:
        return None


# ------------------------------------------------------------------------------ the builders

def _checkpoint(path: Path, ctx: dict) -> list:
    from ..interop.checkpoint import load_graph
    from .graph import graph_view
    graph = ctx.get("graph") or load_graph(path)
    return [graph_view(graph, title=f"Graph IR of {path.name if path.is_dir() else path.parent.name}",
                       sample=ctx.get("sample"))]


def _graph_file(path: Path, ctx: dict) -> list:
    from ..ir import load as load_graph
    from .graph import graph_view
    return [graph_view(load_graph(path), title=f"Graph IR of {path.name}", anchor=ctx.get("anchor") or "graph")]


def _certificate(path: Path, ctx: dict) -> list:
    from ..verify.certificate import load_certificate
    from .certificates import certificate_view
    cert = load_certificate(path)
    return [certificate_view(cert, graph=_graph_for(cert, ctx), anchor=ctx.get("anchor", ""))]


def _bab(path: Path, ctx: dict) -> list:
    from .certificates import bab_view
    return [bab_view(path, anchor=ctx.get("anchor", ""))]


def _training(path: Path, ctx: dict) -> list:
    from .curves import curves_view
    return [curves_view(json.loads(path.read_text()), source=str(ctx.get("rel", path.name)))]


def _budget(path: Path, ctx: dict) -> list:
    from .floats import budget_view
    return [budget_view(json.loads(path.read_text()))]


def _tube(path: Path, ctx: dict) -> list:
    from .control import tube_view
    return [tube_view(path, anchor=ctx.get("anchor", ""))]


def _lyapunov(path: Path, ctx: dict) -> list:
    from .control import lyapunov_view
    return [lyapunov_view(path, anchor=ctx.get("anchor", "") or "lyapunov")]


def _pinn(path: Path, ctx: dict) -> list:
    from .partition import pinn_view
    return [pinn_view(path, anchor=ctx.get("anchor", "") or "pinn")]


def _approx(path: Path, ctx: dict) -> list:
    from .partition import approx_view
    return [approx_view(path, anchor=ctx.get("anchor", "") or "approx")]


def _mdp_values(path: Path, ctx: dict) -> list:
    from .rl import mdp_certificate_view
    return [mdp_certificate_view(path, anchor=ctx.get("anchor", "") or "mdp")]


def _rl_run(path: Path, ctx: dict) -> list:
    from .rl import run_log_view
    return [run_log_view(path, anchor=ctx.get("anchor", "") or "rl-run")]


def _rollout(path: Path, ctx: dict) -> list:
    from .rl import rollout_view
    return [rollout_view(path, anchor=ctx.get("anchor", "") or "rollout")]


def _graph_for(cert, ctx: dict):
    """The run's graph when ``cert`` is for it (else None: the checker loads the model it names)."""
    g = ctx.get("graph")
    if g is None:
        return None
    from ..ir.serialize import graph_hash
    return g if cert.graph_hash == ctx.setdefault("graph_hash", graph_hash(g)) else None


for _a in (Artifact("certnn.interop.checkpoint", "model checkpoint", _checkpoint),
           Artifact("certnn.graph", "graph IR file", _graph_file),
           Artifact("certnn-certificate", "robustness / linear-spec certificate", _certificate),
           Artifact("certnn-bab-certificate", "branch-and-bound certificate", _bab),
           Artifact("certnn-training-log", "training log", _training),
           Artifact("certnn-error-budget", "binary32 error budget", _budget),
           Artifact("certnn-reach-tube", "reach tube", _tube),
           Artifact("certnn-lyapunov", "Lyapunov certificate", _lyapunov),
           Artifact("certnn.pinn.certificate", "PINN residual certificate (box partition)", _pinn),
           Artifact("certnn.approx.certificate", "approximation certificate (box partition)", _approx),
           Artifact("certnn-mdp-values", "MDP value certificate", _mdp_values),
           Artifact("certnn.rl.run-log", "RL run training log (return curves)", _rl_run),
           Artifact("certnn-rollout", "recorded RL rollout (trajectories)", _rollout)):
    register(_a)


# ------------------------------------------------------------------------------ one file

def views_of(path, ctx: dict | None = None) -> list:
    """The views of one artifact file (or checkpoint folder); a clear error for anything else."""
    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path}: no such file or folder")
    fmt = format_of(path)
    if fmt is None and path.suffix == ".json" and path.is_file():
        doc = parse_json(read_text(path, "artifact", ReportError), path, "artifact", ReportError)  # says why
        fmt = _format_field(path, doc) if isinstance(doc, dict) else None
    if fmt is None:
        raise ReportError(f"{path}: not a certnn artifact (a JSON file with a 'format' field, a recorded rollout "
                          f"or a checkpoint folder); known formats: {', '.join(sorted(ARTIFACTS))}")
    if fmt not in ARTIFACTS:
        raise ReportError(f"{path}: no view for artifact format {fmt!r} yet; known: {', '.join(sorted(ARTIFACTS))}")
    return ARTIFACTS[fmt].build(path, dict(ctx or {}))


def view_page(path) -> str:
    """A self-contained HTML page of one artifact (``certnn view``)."""
    views = views_of(path)
    return page(f"certnn: {Path(path).name}", views, nav=len(views) > 1)


# ------------------------------------------------------------------------------ a run folder

MAX_CERT_VIEWS = 4       # certificate files shown in full; every one is checked and listed


def run_views(run_dir, data=None, tape: bool = True, bounds: bool = True) -> tuple[list, list]:
    """(views, skipped) for a run folder: every artifact it holds, grouped by kind, plus
    the views derived from its checkpoint (bounds on the first certificate's region,
    the autograd tape of one step, the floats of the radii). ``skipped`` lists
    (relative path, reason) for the JSON files it holds but cannot show."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise ReportError(f"{run_dir}: no such folder")
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a folder (certnn report takes a run folder; use certnn view for a file)")
    files = sorted(p for p in run_dir.rglob("*.json") if p.is_file())
    by_format: dict[str, list] = {}
    skipped = []
    for p in sorted(run_dir.rglob("*.npz")):     # arrays (weights, leaves) unless they name an artifact format
        fmt = format_of(p)
        if fmt in ARTIFACTS:
            by_format.setdefault(fmt, []).append(p)
    for p in files:
        fmt = format_of(p)
        if fmt in ARTIFACTS:
            by_format.setdefault(fmt, []).append(p)
        else:
            skipped.append((str(p.relative_to(run_dir)), "no certnn format field" if fmt is None
                            else f"format {fmt!r} has no view yet"))
    if not by_format:
        raise ReportError(f"{run_dir}: holds no certnn artifact (checkpoint, certificates, logs)")
    # a BaB certificate's leaf certificates are part of it (checked with its split tree)
    leaves = {p.parent / case["leaves"] for p in by_format.get("certnn-bab-certificate", [])
              for case in json.loads(p.read_text()).get("cases", []) if isinstance(case, dict) and "leaves" in case}
    if leaves and "certnn-certificate" in by_format:
        by_format["certnn-certificate"] = [p for p in by_format["certnn-certificate"] if p not in leaves]
    ctx: dict = {}
    views: list = []
    if "certnn.interop.checkpoint" in by_format:
        from ..interop.checkpoint import load_graph
        ck = by_format.pop("certnn.interop.checkpoint")[0]
        ctx["graph"], ctx["checkpoint"] = load_graph(ck), ck.parent
        ctx["sample"] = _sample(by_format.get("certnn-certificate", []), ctx["graph"])
        views += _checkpoint(ck, ctx)
    for fmt in ("certnn-training-log", "certnn-error-budget"):
        for p in by_format.pop(fmt, []):
            views += _safely(ARTIFACTS[fmt].build, p, run_dir, ctx | {"rel": p.relative_to(run_dir)})
    certs = by_format.pop("certnn-certificate", [])
    if certs:
        views += _certificates(certs, run_dir, ctx)
    for fmt, paths in by_format.items():
        for k, p in enumerate(paths):
            views += _safely(ARTIFACTS[fmt].build, p, run_dir, ctx | {"anchor": f"{fmt}-{k}"})
    if "graph" in ctx:
        views += _derived(run_dir, ctx, certs, data, tape, bounds)
    return views, skipped


def _sample(certs, graph, k: int = 16):
    """The first ``k`` region centers of the first certificate for ``graph`` (the inputs the
    run certified), as the graph view's sample inputs; None when there is none."""
    from ..verify.certificate import load_certificate
    for p in certs:
        try:
            c = load_certificate(p)
        except CertnnError:
            continue
        if c.region.center is not None and _graph_for(c, {"graph": graph}) is not None:
            return c.region.center[:k].astype(np.float64)
    return None


def _safely(build, path: Path, run_dir: Path, ctx: dict) -> list:
    """The artifact's views, or one view saying why it cannot be shown (a report shows
    the rest of the run rather than stopping at one unreadable file)."""
    try:
        return build(path, ctx)
    except CertnnError as e:
        rel = path.relative_to(run_dir)
        return [View(f"Cannot show {rel}", None, f'<p class="verdict bad" data-ok="false">{esc(e)}</p>', None,
                     [Evidence(str(rel), "none", "the file could not be read or checked: no claim")],
                     anchor=f"error-{abs(hash(str(rel))) % 10**8}")]


def _certificates(paths, run_dir: Path, ctx: dict) -> list:
    """A table of every certificate with the checker's verdict, then the first file of
    each folder in full (at most :data:`MAX_CERT_VIEWS`)."""
    from ..verify.certificate import load_certificate
    from .certificates import certificate_view, check
    rows, full, seen = [], [], set()
    n_acc = n_claim = n_all = 0
    for p in paths:
        rel = str(p.relative_to(run_dir))
        try:
            cert = load_certificate(p)
        except CertnnError as e:
            rows.append([rel, "-", "-", "-", "-", "-", Raw(f'<span class="bad">cannot be read: {esc(e)}</span>')])
            continue
        res, err = check(cert, _graph_for(cert, ctx))
        anchor = ""
        if p.parent not in seen and len(full) < MAX_CERT_VIEWS:
            seen.add(p.parent)
            anchor = f"cert-{len(full)}"
            full.append(certificate_view(cert, res, title=f"Certificate {rel}", anchor=anchor))
            ctx.setdefault("first_cert", (cert, res))
        link = f'<a href="#{anchor}">{esc(rel)}</a>' if anchor else esc(rel)
        if res is None:
            verdict = f'<span class="bad">not checked: {esc(err)}</span>'
        else:
            a, c = int(res.accepted.sum()), int(res.claimed.sum())
            n_acc, n_claim, n_all = n_acc + a, n_claim + c, n_all + cert.n
            verdict = f'<span class="{"ok" if res.ok else "bad"}">{esc(res.summary())}</span>'
        eps = cert.region.eps
        rows.append([Raw(link), cert.semantics, cert.method or "-", "-" if eps is None else f"{eps:g}",
                     cert.region.norm, cert.n, Raw(verdict)])
    body = (f"<p>{len(paths)} certificate file(s), {n_all} examples: the independent checker accepted "
            f"<b>{n_acc}</b> of the {n_claim} claimed.</p>"
            + table(["file", "semantics", "method", "eps", "norm", "examples", "checker"], rows, "cert-index"))
    ev = [Evidence(f"{n_acc} example(s) accepted by the independent checker", "certified" if n_acc else "none",
                   "each file re-checked when this page was built")]
    return [View("Certificates", None, body, None, ev, anchor="certificates")] + full


def _derived(run_dir: Path, ctx: dict, certs, data, tape: bool, bounds: bool) -> list:
    views = []
    first = ctx.get("first_cert")
    if bounds and first is not None and first[1] is not None:
        from .bounds import compare_methods
        cert, res = first
        lower = None if res.lower is None or not res.accepted[0] else res.lower[0]
        views.append(compare_methods(ctx["graph"], cert.region, cert.spec, certified_lower=lower,
                                     title=f"Bounds on example 0 of {first[0].path.relative_to(run_dir)}"))
    if tape:
        views += _tape(ctx["checkpoint"], data)
    from .floats import floats_view
    values = ([f"{first[0].region.eps:g}"] if first and first[0].region.eps is not None else []) + ["0.1"]
    views.append(floats_view(values, note="The radius of the first certificate and 0.1, in every supported "
                                          "format: the value stored is the nearest float, not the decimal."))
    return views


def _tape(folder: Path, data) -> list:
    """One training step of the checkpoint's model on the first 32 MNIST training images
    (when the data is there and the model takes MNIST images; else nothing)."""
    from ..data.mnist import mnist_arrays
    from ..errors import DataError
    from ..zoo import input_shape, load_checkpoint
    from .tape import record_step, tape_view
    model, meta = load_checkpoint(folder)
    if int(np.prod(input_shape(meta["config"]))) != 28 * 28:     # e.g. an RL policy (run/policy/)
        return []
    try:
        x, labels = mnist_arrays(input_shape(meta["config"]), data, "train")
    except DataError:
        return []
    model.train()
    step = record_step(model, x[:32], labels[:32])
    return [tape_view(step)]


def report_page(run_dir, data=None, tape: bool = True, bounds: bool = True) -> str:
    views, skipped = run_views(run_dir, data, tape, bounds)
    intro = (f'<p class="muted">Run folder <code>{esc(Path(run_dir))}</code>: {len(views)} views. Every view '
             "states the evidence of what it shows (legend at the bottom); nothing sampled is presented as "
             "certified.</p>")
    if skipped:
        intro += ("<details><summary>files not shown</summary>"
                  + table(["file", "why"], skipped, "skipped") + "</details>")
    return page(f"certnn report: {Path(run_dir).resolve().name}", views, nav=True, intro=intro)
