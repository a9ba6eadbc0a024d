"""Box-partition certificates in a browser: a PINN residual certificate
(``certnn pinn certify --cert``) and an approximation certificate
(``certnn approx``, sup |N - f| per box).

Both views re-run the independent checker (:func:`check_pinn_certificate`,
:func:`check_approx_certificate`) while the page is built, and show two heat maps
side by side on the same colour scale:

* the **certified-bound map**: the leaves are rebuilt from the split list
  (:func:`certnn.verify.partition.leaves`, the checker's coverage proof) and each
  pixel gets the largest claimed leaf bound among the leaves that meet it (a
  projection onto the first two coordinates takes the maximum over the others),
  so a pixel's colour bounds |residual| (or |N - f|) on all of it. It is labelled
  certified only when the checker accepted the whole certificate;
* the **sampled map**: |residual| (or |N - f|) at the pixel centres, a float64
  evaluation at points (tested, no guarantee between them).

A PINN certificate's initial and boundary faces (one-dimensional for the built-in
problems) are drawn as charts: the leaf bounds of |u - g| as steps over the face,
|u - g| sampled as a line.

In one dimension (an approximation of f(x)) the two are one chart: the leaf
bounds as steps, the sampled error as a line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..verify.partition import leaves
from .page import Evidence, View, esc, num, table

PIXELS = 64           # raster of the heat maps (per axis)
MAX_OUTLINES = 3000   # leaf outlines drawn over the certified map (all leaves are in the raster)


def bound_raster(lo: np.ndarray, hi: np.ndarray, bound: np.ndarray, root_lo, root_hi, n: int = PIXELS):
    """(n, n) raster over the first two coordinates of the root box: pixel (r, c)
    (row 0 at the top, i.e. the largest second coordinate) holds the largest
    ``bound`` of the boxes that meet it. A box touching a pixel's edge counts as
    meeting it (a guard of 1e-9 pixel against rounding), which can only raise a
    pixel's value."""
    L, H = np.asarray(root_lo[:2], float), np.asarray(root_hi[:2], float)
    w = (H - L) / n
    i0 = np.clip(np.floor((lo[:, :2] - L) / w - 1e-9), 0, n - 1).astype(np.int64)
    i1 = np.clip(np.ceil((hi[:, :2] - L) / w + 1e-9), 1, n).astype(np.int64)     # exclusive
    out = np.full((n, n), -np.inf)                       # [coord0 index, coord1 index]
    span = (i1 - i0).max(axis=1)
    small = span <= 2
    for a in range(2):                                   # boxes at most 2 pixels wide: 4 scatter passes
        for b in range(2):
            m = small & (i0[:, 0] + a < i1[:, 0]) & (i0[:, 1] + b < i1[:, 1])
            np.maximum.at(out, (i0[m, 0] + a, i0[m, 1] + b), bound[m])
    for k in np.flatnonzero(~small):                     # large boxes are few (they are disjoint)
        sl = (slice(i0[k, 0], i1[k, 0]), slice(i0[k, 1], i1[k, 1]))
        out[sl] = np.maximum(out[sl], bound[k])
    return out.T[::-1]


def pixel_centres(root_lo, root_hi, n: int = PIXELS, depth: int = 16) -> tuple[np.ndarray, tuple]:
    """Points at the pixel centres of :func:`bound_raster` (coordinates beyond the
    second sampled at ``depth`` points each); returns (points, shape) with shape
    (n, n, depth^(d-2)) in [coord0, coord1, rest] order."""
    L, H = np.asarray(root_lo, float), np.asarray(root_hi, float)
    axes = [L[k] + (np.arange(n) + 0.5) * (H[k] - L[k]) / n for k in range(2)]
    axes += [np.linspace(L[k], H[k], depth) for k in range(2, len(L))]
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([m.ravel() for m in mesh], axis=1)
    return pts, (n, n, -1)


def sampled_raster(values: np.ndarray, shape) -> np.ndarray:
    """|values| at :func:`pixel_centres` as a raster oriented like :func:`bound_raster`."""
    return np.abs(values).reshape(shape).max(axis=2).T[::-1]


def _model(cert, path: Path, what: str):
    """The graph the certificate names; errors name the certificate too."""
    from ..interop.models import load_model
    if cert.model is None:
        raise CertnnError(f"{path}: the certificate names no {what}, so it cannot be checked or drawn")
    try:
        return load_model(cert.model)
    except CertnnError as e:
        raise CertnnError(f"{path}: its {what}: {e}") from None


def _verdict(ok: bool, what: str, reasons: list) -> str:
    return (f'<p class="verdict {"ok" if ok else "bad"}" data-ok="{str(ok).lower()}">'
            + (f"accepted by the {what} checker: every leaf re-derived when this page was built" if ok
               else f"REJECTED by the {what} checker: " + esc("; ".join(reasons))) + "</p>")


def _map_data(region_lo, region_hi, leaf_lo, leaf_hi, bounds, sampled, axes, ok: bool, quantity: str) -> dict:
    raster = bound_raster(leaf_lo, leaf_hi, bounds, region_lo, region_hi)
    outlines = len(leaf_lo) <= MAX_OUTLINES
    return {"axes": list(axes[:2]), "root_lo": region_lo[:2], "root_hi": region_hi[:2], "ok": ok,
            "bound": np.round(raster, 8), "sampled": np.round(sampled, 8), "leaves": len(leaf_lo),
            "quantity": quantity, "extent": [0.0, float(np.max(bounds))],
            "outline_lo": leaf_lo[:, :2] if outlines else [], "outline_hi": leaf_hi[:, :2] if outlines else []}


# ------------------------------------------------------------------------------------------ PINN

def pinn_view(path, title: str | None = None, anchor: str = "pinn") -> View:
    """A PINN box-partition certificate: the checker's verdict, the certified-bound and
    sampled-residual heat maps of the domain, and every region's and the error claim."""
    from ..pinn.certificate import load
    from ..pinn.checker import check_pinn_certificate
    from ..pinn.problems import get_problem
    from ..pinn.residual import Residual
    path = Path(path)
    cert = load(path)
    graph = _model(cert, path, "model")
    result = check_pinn_certificate(cert, graph)
    problem = get_problem(cert.problem)
    (res_region,) = [r for r in cert.regions if r.kind == "residual"]
    leaf_lo, leaf_hi = leaves(res_region.lo, res_region.hi, res_region.splits)
    if len(leaf_lo) != len(res_region.bounds):        # the checker has said so; nothing to draw
        raise CertnnError(f"{path}: {len(res_region.bounds)} leaf bounds for {len(leaf_lo)} leaves")
    residual = Residual(graph, problem, cert.inputs)
    pts, shape = pixel_centres(res_region.lo, res_region.hi)
    sampled = sampled_raster(residual.values(pts), shape)
    data = _map_data(res_region.lo, res_region.hi, leaf_lo, leaf_hi, res_region.bounds, sampled, problem.coords,
                     result.ok, "|residual|")
    data["faces"] = [_face(r, problem, residual, result.ok) for r in cert.regions if r.kind == "condition"
                     and np.count_nonzero(r.hi > r.lo) == 1 and r.name in {c.name for c in problem.conditions}]
    rows = []
    for r in cert.regions:
        chk = result.regions.get(r.name, {})
        what = "sup |residual| on the domain" if r.kind == "residual" else f"sup |u - g| on face {r.name}"
        rows.append([what, num(r.claim), chk.get("boxes", "-"), num(chk["max_sound"]) if "max_sound" in chk else "-",
                     "re-derived" if chk.get("verified") else "not re-derived"])
    if result.error is not None:
        e = result.error
        rows.append([f"sup |u - u*| ({e['theorem']})", num(e["claim"]), "-", num(e["derived"]),
                     "follows" if e["verified"] else "does not follow"])
    facts = table(["claim", "claimed bound", "leaves", "checker's bound", "checker"], rows, "pinn-regions")
    eq = f"{problem.equation} = 0"
    claim = (f'<p class="claim"><b>Proved (checker):</b> on {esc(_box(problem.coords, res_region.lo, res_region.hi))} '
             f"the network {esc(Path(cert.model).name)} has |{esc(eq.replace(' = 0', ''))}| &le; "
             f"{esc(num(res_region.claim))}" + "".join(
                 f"; |u - g| &le; {esc(num(r.claim))} on {esc(r.name)}" for r in cert.regions if r.kind != "residual")
             + (f"; |u - u*| &le; {esc(num(result.error['claim']))} ({esc(result.error['theorem'])})"
                if result.error else "") + " (real semantics of the network).</p>"
             if result.ok else '<p class="claim-none muted">No claim: the checker did not accept the certificate '
                               "(the maps show the producer's numbers, unconfirmed).</p>")
    intro = (f'<p class="muted">Problem <code>{esc(problem.name)}</code>: {esc(eq)}; {len(leaf_lo)} residual leaves, '
             f"checked in {result.seconds:.2f} s.</p>")
    ev = [Evidence("sup |residual| and |u - g| bounds" + (", error bound" if result.error else "")
                   + " (certified-bound map)", "certified" if result.ok else "none",
                   "every leaf re-derived by the independent checker" if result.ok else "rejected: no claim",
                   tuple(result.assumptions)),
          Evidence(f"|residual| at {PIXELS} x {PIXELS} pixel centres (sampled map)", "tested",
                   "float64 evaluation at points: no guarantee between them")]
    return View(title or f"PINN certificate {path.name}", "partition", _verdict(result.ok, "PINN", result.reasons)
                + claim + intro + facts, data, ev, scripts=("partition.js",), anchor=anchor)


def _face(r, problem, residual, ok: bool) -> dict:
    """A one-dimensional face: its leaf bounds of |u - g| as steps, |u - g| sampled at 401 points."""
    (k,) = np.flatnonzero(r.hi > r.lo)
    lo, hi = leaves(r.lo, r.hi, r.splits)
    bounds = r.bounds if len(r.bounds) == len(lo) else np.full(len(lo), np.nan)   # the checker has said why
    pts = np.repeat(r.lo[None], 401, axis=0)
    pts[:, k] = np.linspace(r.lo[k], r.hi[k], 401)
    (c,) = [c for c in problem.conditions if c.name == r.name]
    return {"axes": [problem.coords[k]], "name": r.name, "ok": ok, "x0": lo[:, k], "x1": hi[:, k], "bounds": bounds,
            "x": pts[:, k], "err": np.abs(residual.condition_values(c, pts)), "leaves": len(lo),
            "quantity": f"|u - g| on {r.name}"}


def _box(names, lo, hi) -> str:
    return " x ".join(f"{n} in [{num(a)}, {num(b)}]" for n, a, b in zip(names, lo, hi))


# ----------------------------------------------------------------------------------- approximation

def approx_view(path, title: str | None = None, anchor: str = "approx") -> View:
    """An approximation certificate: the checker's verdict and sup |N - f| per leaf
    box next to |N - f| sampled (a chart in one dimension, heat maps otherwise)."""
    from ..approx.certificate import load
    from ..approx.checker import check_approx_certificate
    from ..approx.target import Target
    from ..ir.interpret import evaluate
    path = Path(path)
    cert = load(path)
    graph = _model(cert, path, "network")
    result = check_approx_certificate(cert, graph)
    target = Target.parse(cert.expression, (cert.lo, cert.hi))
    leaf_lo, leaf_hi = leaves(target.lo, target.hi, cert.splits)
    if len(leaf_lo) != len(cert.bounds):
        raise CertnnError(f"{path}: {len(cert.bounds)} leaf bounds for {len(leaf_lo)} leaves")

    def error_at(p):
        (y,), _, _ = evaluate(graph, {graph.inputs[0].id: p.astype(graph.inputs[0].dtype)})
        return np.asarray(y, float).reshape(-1) - target(p)

    names = [str(s) for s in target.symbols]
    if target.dim == 1:
        x = np.linspace(target.lo[0], target.hi[0], 801)
        data = {"axes": names, "ok": result.ok, "x0": leaf_lo[:, 0], "x1": leaf_hi[:, 0], "bounds": cert.bounds,
                "x": x, "err": np.round(np.abs(error_at(x[:, None])), 10), "leaves": len(leaf_lo),
                "quantity": "|N - f|"}
    else:
        pts, shape = pixel_centres(target.lo, target.hi)
        data = _map_data(target.lo, target.hi, leaf_lo, leaf_hi, cert.bounds,
                         sampled_raster(error_at(pts), shape), names, result.ok, "|N - f|")
    claim = (f'<p class="claim"><b>Proved (checker):</b> |N(x) - f(x)| &le; {esc(num(cert.claim))} &le; delta = '
             f"{esc(num(cert.delta))} for every x in {esc(_box(names, target.lo, target.hi))}, f = "
             f"{esc(cert.expression)}, N = {esc(Path(cert.model).name)} (real semantics).</p>" if result.ok
             else '<p class="claim-none muted">No claim: the checker did not accept the certificate (the leaf '
                  "bounds drawn are the producer's, unconfirmed).</p>")
    facts = table(["field", "value"], [["expression", cert.expression], ["box", _box(names, target.lo, target.hi)],
                                       ["delta", num(cert.delta)], ["claimed sup |N - f|", num(cert.claim)],
                                       ["leaves", len(leaf_lo)], ["checker's largest leaf bound",
                                                                  num(result.max_sound)],
                                       ["checked in", f"{result.seconds:.2f} s"]], "approx-facts")
    sampled = "801 points" if target.dim == 1 else f"{PIXELS} x {PIXELS} pixel centres"
    ev = [Evidence("sup |N - f| per leaf box and overall", "certified" if result.ok else "none",
                   "every leaf re-derived by the independent checker" if result.ok else "rejected: no claim",
                   tuple(result.assumptions)),
          Evidence(f"|N - f| at {sampled} (sampled)", "tested", "float64 evaluation at points: no guarantee between them")]
    return View(title or f"Approximation certificate {path.name}", "partition",
                _verdict(result.ok, "approximation", result.reasons) + claim + facts, data, ev,
                scripts=("partition.js",), anchor=anchor)
