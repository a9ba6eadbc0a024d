"""Certified residual bounds by adaptive input-domain branching.

For the residual over the domain and for |u - g| over each condition's face:
start from the whole box, bound every box soundly (:class:`Residual`: Taylor
models of the jet graph, outward rounded), and repeatedly split the boxes with
the largest bounds at the midpoint of the coordinate that contributes most to
their bound, until the certified bound (the largest leaf bound) is within
``tol`` of the grid maximum or the time budget is spent. The leaves and the
split order are written as a certificate that :mod:`certnn.pinn.checker`
re-derives; the result reports the certified bound beside the maximum over a
1000 x 1000 grid (1000 points on a face), their ratio, the number of boxes and
the time. For heat and Poisson the maximum principle (:mod:`certnn.pinn.error`)
turns the bounds into a certified bound on the error to the true solution,
reported beside the measured error on the grid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bounds.branching import BoxTree, branch
from ..errors import CertnnError
from ..ir.graph import Graph
from ..ir.serialize import graph_hash
from . import certificate as pc
from .error import HEAT, HEAT_COMPARISON, POISSON_COMPARISON, error_bound
from .problems import Problem
from .residual import Residual

# the derivatives the bounds propagate (proved for tanh MLPs; other graphs rest on the tests)
JET_THEOREMS = "pinn/jet-tanh-*"


def _region(tree: BoxTree, kind: str, name: str, lo, hi) -> pc.RegionCert:
    splits, claims = tree.claims()
    return pc.RegionCert(kind, name, np.asarray(lo, float), np.asarray(hi, float), float(claims.max()),
                         splits, claims)


def grid_max(values: np.ndarray) -> float:
    return float(np.max(np.abs(values)))


def face_points(problem: Problem, c, n: int) -> np.ndarray:
    flo, fhi = problem.face(c)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return flo + t * (fhi - flo)


@dataclass
class Certified:
    summary: dict                 # the JSON-able result (see docs/pinn.md)
    tree: BoxTree                 # the residual's leaf boxes and bounds
    grid_values: np.ndarray       # the residual on the grid (problem.grid(grid) order)


def certify(graph: Graph, problem: Problem, inputs=None, budget: float = 600.0, grid: int = 1000,
            tol: float = 0.05, batch: int = 2048, max_boxes: int = 2_000_000, cert_path=None,
            model_path=None, progress: bool = True, log=None) -> Certified:
    """Certify sup |residual| and the condition errors of ``graph`` on ``problem``
    within ``budget`` seconds of branching; write the certificate to
    ``cert_path`` when given and have the independent checker re-derive it
    (evidence ``certified`` when it accepts, else ``checked``: the bounds are
    sound in-process either way)."""
    t0 = time.perf_counter()
    res = Residual(graph, problem, inputs)
    names = [problem.coords[i] for i in np.argsort(res.perm)]
    pts, shape = problem.grid(grid)
    gvals = res.values(pts)
    if not np.all(np.isfinite(gvals)):
        raise CertnnError("the residual is not finite on the grid (the model overflows)")
    gmax = grid_max(gvals)
    bar = _Bar(progress, budget)
    regions, out_cond = [], {}
    face_budget = min(0.1 * budget, 60.0) / max(1, len(problem.conditions))
    for c in problem.conditions:
        flo, fhi = problem.face(c)
        fmax = grid_max(res.condition_values(c, face_points(problem, c, grid)))
        tree = BoxTree(flo, fhi, lambda lo, hi, c=c: res.condition_bounds(c, lo, hi), batch)
        start = time.perf_counter()
        branch(tree, (1 + tol) * fmax, start + face_budget, batch, max_boxes,
               bar.reporter(f"{c.name}: |u - g|", fmax))
        regions.append(_region(tree, "condition", c.name, flo, fhi))
        out_cond[c.name] = {"bound": regions[-1].claim, "grid_max": fmax, "boxes": int(tree.leaf.sum()),
                            "seconds": time.perf_counter() - start}
    start = time.perf_counter()
    tree = BoxTree(np.array(problem.lo, float), np.array(problem.hi, float), res.bounds, batch)
    remaining = max(1.0, budget - (start - t0))
    branch(tree, (1 + tol) * gmax, start + remaining, batch, max_boxes, bar.reporter("residual", gmax))
    bar.stop()
    residual_region = _region(tree, "residual", "residual", problem.lo, problem.hi)
    regions.insert(0, residual_region)
    R = residual_region.claim
    result = {"problem": problem.name, "inputs": names, "residual_bound": R, "grid_max": gmax,
              "ratio": R / gmax if gmax > 0 else float("inf"), "boxes": int(tree.leaf.sum()),
              "residual_seconds": time.perf_counter() - start, "conditions": out_cond,
              "grid": [int(s) for s in shape], "evidence": "checked",
              "assumptions": sorted(ASSUMES), "theorems": [JET_THEOREMS]}
    if problem.error_theorem is not None:
        B = max(v["bound"] for v in out_cond.values())
        bound, theorem = error_bound(problem, R, B)
        measured = float(np.max(np.abs(res.u(pts) - problem.exact(pts))))
        result["error"] = {"bound": bound, "measured": measured, "ratio": bound / measured if measured else
                           float("inf"), "theorem": theorem, "boundary_bound": B}
        result["assumptions"] = sorted(set(result["assumptions"]) | {theorem})
        result["theorems"] = [JET_THEOREMS, HEAT_COMPARISON if theorem == HEAT else POISSON_COMPARISON]
    elif problem.has_reference:
        u, ref = res.u(pts), problem.exact(pts)
        result["relative_l2"] = float(np.linalg.norm(u - ref) / np.linalg.norm(ref))
    result["seconds"] = time.perf_counter() - t0
    if cert_path is not None:
        cert = pc.PinnCertificate(problem.name, pc.problem_hash(problem), graph_hash(graph), names, regions,
                                  {"bound": result["error"]["bound"], "theorem": result["error"]["theorem"]}
                                  if "error" in result else None, model_path,
                                  {"tool": "certnn pinn certify", "budget": budget, "tol": tol})
        path = pc.save(cert, cert_path)
        from .checker import check_pinn_certificate
        chk = check_pinn_certificate(path, graph)
        result["certificate"] = str(path)
        result["check"] = chk.to_dict()
        if chk.ok:
            result["evidence"] = "certified"
        elif log:
            log(f"the checker rejected the certificate: {chk.reasons}")
    return Certified(result, tree, gvals)


ASSUMES = ("ieee754-binary64-rn", "libm-float64-within-4ulp", "blas-float64-dot-gamma-n")


class _Bar:
    """A rich progress bar over the time budget showing the current certified bound."""

    def __init__(self, enabled: bool, budget: float):
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("certifying", total=budget)
            self.t0 = time.perf_counter()

    def reporter(self, what: str, gmax: float):
        if self.bar is None:
            return None

        def report(tree: BoxTree):
            cert = tree.certified()
            self.bar.update(self.task, completed=time.perf_counter() - self.t0,
                            description=f"{what} <= {cert:.4g} (grid max {gmax:.4g}, x{cert / max(gmax, 1e-300):.2f}), "
                                        f"{int(tree.leaf.sum())} boxes")
        return report

    def stop(self):
        if self.bar is not None:
            self.bar.stop()


def plot(cert: Certified, problem: Problem, path) -> Path:
    """Heat maps: |residual| on the grid, and the certified bound of each leaf box."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm
    tree, result = cert.tree, cert.summary
    shape = tuple(result["grid"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    vals = np.abs(cert.grid_values).reshape(shape)
    ext = [problem.lo[1], problem.hi[1], problem.lo[0], problem.hi[0]]
    vmax = max(float(tree.bound[tree.leaf].max()), float(vals.max()))
    norm = LogNorm(vmin=vmax * 1e-3, vmax=vmax)
    im = axes[0].imshow(vals, origin="lower", aspect="auto", extent=ext, norm=norm, cmap="viridis")
    axes[0].set_title(f"|residual| on a {shape[0]}x{shape[1]} grid (max {result['grid_max']:.3g})")
    leaves = tree.leaves
    lo, hi = tree.lo[leaves], tree.hi[leaves]
    polys = [[(a[1], a[0]), (b[1], a[0]), (b[1], b[0]), (a[1], b[0])] for a, b in zip(lo, hi)]
    pc_ = PolyCollection(polys, array=np.maximum(tree.bound[leaves], norm.vmin), cmap="viridis", norm=norm,
                         edgecolors="k", linewidths=0.05)
    axes[1].add_collection(pc_)
    axes[1].set_xlim(ext[0], ext[1])
    axes[1].set_ylim(ext[2], ext[3])
    axes[1].set_title(f"certified bound per box ({len(leaves)} boxes, sup <= {result['residual_bound']:.3g})")
    for ax in axes:
        ax.set_xlabel(problem.coords[1])
        ax.set_ylabel(problem.coords[0])
    fig.colorbar(im, ax=axes, shrink=0.9)
    fig.suptitle(f"{problem.name}: certified / grid max = {result['ratio']:.2f}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
