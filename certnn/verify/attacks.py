"""Falsification: projected gradient descent (PGD) and random sampling.

Both search a region for an input whose output lies in a spec's unsafe set
(``OR_g AND_{k in g} C_k y + d_k <= 0``). They minimize the *violation score*

    s(y) = min_g max_{k in g} (C_k y + d_k),

which is <= 0 exactly when ``y`` is unsafe (for robustness specs it is the
margin of the label over the strongest other class, the Carlini-Wagner loss).

A counterexample is never taken on the attack's word: every point is replayed
by ``certnn.run`` in real (float64) semantics and, after rounding to binary32
and pulling back inside the region, in exact binary32 semantics. The result
says separately which examples have a replayed counterexample in each.
Evidence level of a counterexample: ``checked`` (one concrete execution).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..spec.region import Region
from ..spec.linear import LinearSpec
from ..errors import CertnnError
from ..ir.interpret import backward, evaluate
from ..ir.run import run


@dataclass
class AttackResult:
    x: np.ndarray               # (N, *shape) float64: best point per example (inside the region)
    score: np.ndarray           # (N,) real-semantics violation score at x (<= 0: unsafe)
    found_real: np.ndarray      # (N,) bool: x replays as a counterexample in real semantics
    x_binary32: np.ndarray      # (N, *shape) float32: x rounded into the region
    found_binary32: np.ndarray  # (N,) bool: x_binary32 replays as a counterexample in binary32

    @property
    def found(self) -> np.ndarray:
        return self.found_real | self.found_binary32


def violation_score(spec: LinearSpec, y: np.ndarray) -> np.ndarray:
    """s(y) per example (see module doc); ``y`` is (N, out)."""
    vals = np.einsum("nko,no->nk", spec.C, np.asarray(y, np.float64).reshape(spec.n, -1)) + spec.d
    per_group = [np.max(vals[:, spec.groups == g], axis=1) for g in range(spec.n_groups)]
    return np.min(np.stack(per_group, axis=1), axis=1)


def _score_grad(graph, x: np.ndarray, spec: LinearSpec):
    """Score and its (sub)gradient with respect to the input, float64."""
    arrays = {k: np.asarray(v, np.float64) if np.asarray(v).dtype.kind == "f" else v
              for k, v in graph.arrays.items()}
    inp = graph.inputs[0].id
    (y,), values, chains = evaluate(graph, {inp: x}, arrays, keep_chains=True)
    y2 = np.asarray(y, np.float64).reshape(spec.n, -1)
    vals = np.einsum("nko,no->nk", spec.C, y2) + spec.d
    n, K = vals.shape
    best_row = np.zeros(n, int)
    best = np.full(n, np.inf)
    for g in range(spec.n_groups):
        rows = np.flatnonzero(spec.groups == g)
        k = rows[np.argmax(vals[:, rows], axis=1)]
        v = vals[np.arange(n), k]
        take = v < best
        best = np.where(take, v, best)
        best_row = np.where(take, k, best_row)
    seed = spec.C[np.arange(n), best_row].reshape(np.shape(y))
    grads = backward(graph, values, chains, {graph.outputs[0]: seed}, {inp})
    return best, grads.get(inp, np.zeros_like(x))


def fixed_batch(graph) -> int | None:
    """The graph input's fixed batch size, or None when any batch is accepted."""
    return graph.inputs[0].shape[0] if graph.inputs[0].shape else None


def _batched(graph, n: int):
    """Example batches the graph accepts (a fixed batch dimension forces one at a time)."""
    b = fixed_batch(graph)
    step = n if b is None else b
    if b is not None and n % b:
        raise CertnnError(f"the model's input has a fixed batch size {b}; cannot attack {n} examples")
    return [slice(i, i + step) for i in range(0, n, step)]


def _project(x, region: Region):
    x = np.clip(x, region.lo, region.hi)
    if region.norm in ("2", "1"):
        n = x.shape[0]
        c = region.center.reshape(n, -1)
        dx = x.reshape(n, -1) - c
        if region.norm == "2":
            nrm = np.linalg.norm(dx, axis=1, keepdims=True)
            dx = dx * np.minimum(1.0, region.eps / np.maximum(nrm, 1e-300))
        else:
            dx = _project_l1(dx, region.eps)
        x = np.clip((c + dx).reshape(x.shape), region.lo, region.hi)
    return x


def _project_l1(v, eps):
    """Euclidean projection of each row onto the L1 ball (Duchi et al. 2008)."""
    out = v.copy()
    a = np.abs(v)
    for i in np.flatnonzero(a.sum(axis=1) > eps):
        u = np.sort(a[i])[::-1]
        css = np.cumsum(u)
        rho = np.nonzero(u * np.arange(1, u.size + 1) > css - eps)[0][-1]
        theta = (css[rho] - eps) / (rho + 1)
        out[i] = np.sign(v[i]) * np.maximum(a[i] - theta, 0)
    return out


def _to_binary32_inside(x, region: Region) -> np.ndarray:
    """Round to float32, then step values that left the region back inside."""
    x32 = _to_binary32_inside_box(x, region)
    if region.norm in ("2", "1"):  # a point on the sphere may round outside: shrink toward the center
        for shrink in (1e-6, 1e-4, 1e-2):
            out = ~region.contains(x32.astype(np.float64))
            if not out.any():
                break
            c = region.center[out]
            x32[out] = _to_binary32_inside_box(c + (x[out] - c) * (1 - shrink), region.rows(out))
    return x32


def _to_binary32_inside_box(x, region: Region) -> np.ndarray:
    x32 = x.astype(np.float32)
    x32 = np.where(x32.astype(np.float64) < region.lo, np.nextafter(x32, np.float32(np.inf)), x32)
    return np.where(x32.astype(np.float64) > region.hi, np.nextafter(x32, np.float32(-np.inf)), x32)


def replay(graph, region: Region, spec: LinearSpec, x: np.ndarray, binary32: str = "all"):
    """Which rows of ``x`` are replayed counterexamples: (real, binary32, x32).
    ``binary32="hits"``: only the rows found in real semantics are run in binary32
    (the others are reported not found there; the binary32 engine is slow on
    convolutions and a search that reports real counterexamples needs no more)."""
    x = np.asarray(x, np.float64)
    x32 = _to_binary32_inside(x, region)
    y = np.concatenate([np.asarray(run(graph, x[sl], semantics="real")).reshape(len(x[sl]), -1)
                        for sl in _batched(graph, spec.n)])
    found_real = region.contains(x) & spec.violated(y)
    rows = np.arange(len(x)) if binary32 == "all" else np.flatnonzero(found_real)
    found_b32 = np.zeros(len(x), bool)
    if rows.size:
        r32, sp32 = region.rows(rows), spec.rows(rows)
        y32 = np.concatenate([np.asarray(run(graph, x32[rows][sl], semantics="binary32")).reshape(len(x32[rows][sl]), -1)
                              for sl in _batched(graph, sp32.n)])
        found_b32[rows] = r32.contains(x32[rows].astype(np.float64)) & sp32.violated(y32.astype(np.float64))
    return found_real, found_b32, x32


def pgd(graph, region: Region, spec: LinearSpec, steps: int = 20, restarts: int = 2,
        seed: int = 0, step_size: float = 2.5, early_stop: bool = True, x0: np.ndarray | None = None,
        deadline: float | None = None, binary32: str = "all") -> AttackResult:
    """Projected (sub)gradient descent on the violation score. Restart 0 starts
    at ``x0`` when given (e.g. the minimizer of a bound) or the region's center
    (the clean input), the others at uniform random points. L-inf balls and boxes take sign steps scaled by each coordinate's
    half-width; L2/L1 balls take normalized gradient steps. ``step_size`` is the
    total travel over ``steps`` in units of the radius. At ``deadline``
    (``time.monotonic()``) the search stops with the best points so far.
    ``binary32``: which points are replayed in binary32 (see :func:`replay`)."""
    if spec.n != region.n:
        raise CertnnError(f"spec has {spec.n} examples but the region {region.n}")
    rng = np.random.default_rng(seed)
    n = region.n
    lo, hi = region.lo.astype(np.float64), region.hi.astype(np.float64)
    mid = region.center if region.center is not None else (lo + hi) / 2
    half = (hi - lo) / 2
    best_x = np.array(mid, np.float64, copy=True)
    best_s = np.full(n, np.inf)
    for sl in _batched(graph, n):
        reg, sp = region.rows(sl), spec.rows(sl)
        for r in range(max(1, restarts)):
            start = mid if x0 is None else np.asarray(x0, np.float64).reshape(mid.shape)
            x = _project(start[sl].copy(), reg) if r == 0 else _project(rng.uniform(lo[sl], hi[sl]), reg)
            for t in range(steps + 1):
                s, g = _score_grad(graph, x, sp)
                better = s < best_s[sl]
                best_s[sl] = np.where(better, s, best_s[sl])
                best_x[sl][better] = x[better]
                if t == steps or (early_stop and np.all(best_s[sl] <= 0)) or \
                        (deadline is not None and time.monotonic() > deadline):
                    break
                g = g.reshape(x.shape)
                if region.norm in ("inf", "box"):
                    d = np.sign(g) * half[sl]
                else:
                    flat = g.reshape(g.shape[0], -1)
                    nrm = np.linalg.norm(flat, axis=1).reshape((-1,) + (1,) * (g.ndim - 1))
                    d = g / np.maximum(nrm, 1e-300) * region.eps
                x = _project(x - step_size / steps * d, reg)
            if early_stop and np.all(best_s[sl] <= 0):
                break
    found_real, found_b32, x32 = replay(graph, region, spec, best_x, binary32)
    return AttackResult(best_x, best_s, found_real, x32, found_b32)


def random_search(graph, region: Region, spec: LinearSpec, samples: int = 1000, seed: int = 0,
                  chunk: int = 256, faces: float = 0.0) -> AttackResult:
    """Uniform sampling of the region (per example), keeping the lowest score.
    Cheap and gradient-free; a first falsification pass for low-dimensional inputs.
    ``faces``: the share of the samples (boxes only) with each coordinate moved to
    its lower or upper bound with probability 1/3 (the faces and corners, where
    uniform samples almost never land and the extremes of a piecewise-linear net
    often lie)."""
    rng = np.random.default_rng(seed)
    n = region.n
    best_x = np.array(region.center if region.center is not None else (region.lo + region.hi) / 2, np.float64)
    best_s = violation_score(spec, np.asarray(run(graph, best_x, semantics="real")).reshape(n, -1))
    fixed = fixed_batch(graph) is not None
    for i in range(n):
        reg, sp = region.rows(slice(i, i + 1)), spec.rows(slice(i, i + 1))
        done = 0
        while done < samples:
            m = min(chunk, samples - done)
            pts = rng.uniform(np.repeat(reg.lo, m, 0), np.repeat(reg.hi, m, 0))
            if faces > 0 and reg.norm not in ("2", "1"):
                snap = rng.random(pts.shape) < 1 / 3
                snap[rng.random(m) >= faces] = False
                side = np.where(rng.random(pts.shape) < 0.5, np.repeat(reg.lo, m, 0), np.repeat(reg.hi, m, 0))
                pts = np.where(snap, side, pts)
            if reg.norm in ("2", "1"):
                pts = _project(pts, Region(pts * 0 + reg.lo, pts * 0 + reg.hi, reg.norm,
                                           np.repeat(reg.center, m, 0), reg.eps))
            if fixed:
                ys = np.concatenate([np.asarray(run(graph, p[None], semantics="real")).reshape(1, -1)
                                     for p in pts])
            else:
                ys = np.asarray(run(graph, pts, semantics="real")).reshape(m, -1)
            spm = LinearSpec(np.repeat(sp.C, m, 0), np.repeat(sp.d, m, 0), sp.groups, sp.kind)
            s = violation_score(spm, ys)
            j = int(np.argmin(s))
            if s[j] < best_s[i]:
                best_s[i], best_x[i] = s[j], pts[j]
            done += m
            if best_s[i] <= 0:
                break
    found_real, found_b32, x32 = replay(graph, region, spec, best_x)
    return AttackResult(best_x, best_s, found_real, x32, found_b32)
