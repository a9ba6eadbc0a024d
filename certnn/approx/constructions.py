"""Three ReLU networks that approximate a target within delta.

* ``explicit_width`` (d = 1; TorchLean's universal approximation theorem): an
  L-Lipschitz f on [a, b] is within eps of the piecewise-linear interpolant at
  n = ceil(2 L (b - a) / eps) + 1 equally spaced knots (its error is at most
  L h / 2 with h = (b - a)/(n - 1) <= eps / (2L)), written as one hidden layer
  f(x_0) + sum_k (s_k - s_(k-1)) relu(x - x_k) of width n (s_k the slopes).
* ``interpolation``: the same interpolant with knots placed by curvature. In
  1-D the error on [x_k, x_(k+1)] is at most h^2/8 sup |f''| there, so knots
  are chosen greedily with h^2/8 sup|f''| <= theta delta (sup by sound interval
  evaluation): for smooth f far fewer neurons. In d >= 2, interpolation on the
  Kuhn (Freudenthal) triangulation of a grid: u = sum_p f(p) phi_p with the hat
  phi_p(x) = relu(1 - max(0, a) + min(0, a)), a = (x - p)/h, seven neurons a
  node in 2-D (max(0, a1, a2) = relu(a1 + relu(a2 - a1))).
* ``baader`` (d = 2; Baader, Mirman & Vechev, ICLR 2020): slices
  xi_k = f_min + k delta'/2 of f's range; for each slice a sum of local bumps
  over grid-aligned rectangles where f >= xi_k + delta'/2, each bump
  relu(nmin(min(1, y_1), ..., min(1, y_4))) of four ramps y that are >= 1 on
  its rectangle and <= 0 a distance 1/(8M) outside, nmin built from
  (relu(a + b) - relu(-a - b) - relu(a - b) - relu(b - a))/2; the network is
  f_min + sum_k delta'/2 min(1, sum of the slice's bumps). Its point of the
  construction: interval analysis of it is within delta of f's range on every
  box (checked on random boxes by ``certify.ibp_check``).

The knot placement and grid sizes use sound bounds of f's derivatives, but no
claim rests on them: :mod:`certnn.approx.certify` certifies sup |N - f|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy

from ..errors import CertnnError
from .circuit import Circuit, nmin
from .target import Target


@dataclass
class Construction:
    name: str
    model: object              # certnn nn.Sequential (float64)
    neurons: int
    info: dict


def _pl_1d(target: Target, knots: np.ndarray, name: str, info: dict, extra_last: bool = False) -> Construction:
    """f(x_0) + sum_k (s_k - s_(k-1)) relu(x - x_k): the interpolant at ``knots``."""
    vals = target(knots[:, None])
    slopes = np.diff(vals) / np.diff(knots)
    c = Circuit(1)
    (x,) = c.inputs()
    out = c.const(float(vals[0]), 1)
    prev = 0.0
    n = len(knots) if extra_last else len(knots) - 1
    for k in range(n):
        s = slopes[k] if k < len(slopes) else prev
        out = out + (s - prev) * c.relu(x - float(knots[k]))
        prev = s
    return Construction(name, c.network(out), c.neurons(), {**info, "knots": len(knots)})


def explicit_width(target: Target, eps: float) -> Construction:
    """TorchLean's width ceil(2 L (b - a)/eps) + 1, L a sound Lipschitz bound."""
    if target.dim != 1:
        raise CertnnError("the explicit-width construction is one-dimensional")
    L = target.lipschitz()
    a, b = float(target.lo[0]), float(target.hi[0])
    n = math.ceil(2 * L * (b - a) / eps) + 1
    knots = np.linspace(a, b, n)
    return _pl_1d(target, knots, "explicit-width", {"lipschitz": L, "width": n}, extra_last=True)


def _knots_1d(target: Target, delta: float, theta: float) -> np.ndarray:
    (s,) = target.symbols
    d2 = sympy.diff(target.expr, s, 2)
    a, b = float(target.lo[0]), float(target.hi[0])
    knots, x, h = [a], a, (b - a) / 8
    while x < b:
        h = min(2 * h, b - x)
        while True:
            lo, hi = target.interval(np.array([[x]]), np.array([[x + h]]), d2)
            m = float(max(abs(lo[0]), abs(hi[0])))
            if h * h / 8 * m <= theta * delta or h < 1e-9 * (b - a):
                break
            h *= 0.7
        x = b if b - (x + h) < 1e-12 * (b - a) else x + h
        knots.append(x)
    return np.array(knots)


def interpolation(target: Target, delta: float, theta: float = 0.5) -> Construction:
    """Piecewise-linear interpolation (adaptive knots in 1-D, a Kuhn-triangulated grid in 2-D/3-D)
    aiming at error theta * delta."""
    if target.dim == 1:
        return _pl_1d(target, _knots_1d(target, delta, theta), "interpolation", {"theta": theta})
    # the interpolation error scales like h^2: measure it on a coarse grid, scale, re-measure
    n, tries = 4, 0
    while True:
        c = kuhn_grid(target, [n] * target.dim, {"theta": theta})
        e = _sampled_error(c, target)
        if e <= theta * delta or tries == 4:
            c.info["sampled_error"] = e
            return c
        n = max(n + 1, math.ceil(n * math.sqrt(e / (theta * delta)) * (1.05 if tries else 1.0)))
        tries += 1


def _sampled_error(c: "Construction", target: Target, per_axis: int = 61) -> float:
    from ..tensor import Tensor, no_grad
    axes = [np.linspace(a, b, per_axis) for a, b in zip(target.lo, target.hi)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, target.dim)
    with no_grad():
        y = c.model(Tensor(pts)).data.reshape(-1)
    return float(np.max(np.abs(y - target(pts))))


def _vmax(c: Circuit, values: list):
    """max of values via max(u, v) = u + relu(v - u) (u carried)."""
    m = values[0]
    for v in values[1:]:
        v = c.carry(v, m.level)
        m = c.carry(m, m.level + 1) + c.relu(v - m)
    return m


def kuhn_grid(target: Target, n: list, info: dict | None = None) -> Construction:
    """The interpolant on the Kuhn triangulation of an n_1 x ... x n_d grid."""
    axes = [np.linspace(a, b, k + 1) for a, b, k in zip(target.lo, target.hi, n)]
    steps = [(b - a) / k for a, b, k in zip(target.lo, target.hi, n)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, target.dim)
    vals = target(nodes)
    c = Circuit(target.dim)
    xs = c.inputs()
    hats = []
    for p in nodes:
        a = [(xs[i] - float(p[i])) * (1.0 / steps[i]) for i in range(target.dim)]
        pos = c.relu(_vmax(c, a))
        neg = c.relu(_vmax(c, [-v for v in a]))
        pos, neg = c.carry(pos, max(pos.level, neg.level)), c.carry(neg, max(pos.level, neg.level))
        hats.append(c.relu(1.0 - pos - neg))
    level = max(h.level for h in hats)
    out = c.const(0.0, level)
    for v, hat in zip(vals, hats):
        out = out + float(v) * c.carry(hat, level)
    return Construction("interpolation", c.network(out), c.neurons(), {**(info or {}), "grid": list(n),
                                                                          "nodes": len(nodes)})


def maximal_rectangles(mask: np.ndarray) -> list:
    """All maximal all-True rectangles (i0, j0, i1, j1), half-open, of a 2-D mask:
    every all-True rectangle lies inside one of them. For each top row and each
    bottom row the columns True on all rows between form runs; a run is kept
    when the rectangle cannot grow a row up or down."""
    m, n = mask.shape
    out = []
    for i0 in range(m):
        cols = np.ones(n, bool)
        for i1 in range(i0, m):
            cols &= mask[i1]
            if not cols.any():
                break
            edges = np.flatnonzero(np.diff(np.concatenate([[0], cols.astype(int), [0]])))
            for j0, j1 in zip(edges[0::2], edges[1::2]):
                up = i0 > 0 and mask[i0 - 1, j0:j1].all()
                down = i1 + 1 < m and mask[i1 + 1, j0:j1].all()
                if not (up or down):
                    out.append((i0, int(j0), i1 + 1, int(j1)))
    return out


def baader(target: Target, delta: float, margin: int = 8) -> Construction:
    """Baader et al.'s interval-approximating network (d = 2)."""
    if target.dim != 2:
        raise CertnnError("the Baader construction is implemented for d = 2")
    w = target.hi - target.lo
    L = float(sum(target.sup(sympy.diff(target.expr, s)) * w[k] for k, s in enumerate(target.symbols)))
    M = max(1, math.ceil(2 * L / delta))
    dlt = 2 * L / M if L > 0 else delta                  # delta' <= delta
    fmin, fmax = target.range()
    K = max(1, math.ceil(2 * (fmax - fmin) / dlt))
    centres = (np.stack(np.meshgrid(np.arange(M), np.arange(M), indexing="ij"), -1).reshape(-1, 2) + 0.5) / M
    fc = target(target.lo + centres * w).reshape(M, M)
    c = Circuit(2)
    xs = c.inputs()
    u = [(xs[i] - float(target.lo[i])) * (1.0 / float(w[i])) for i in range(2)]   # normalised coordinates
    slices, bumps = [], 0
    for k in range(K):
        xi = fmin + k * dlt / 2
        rects = maximal_rectangles(fc >= xi + dlt / 2)
        if not rects:
            continue
        total = None
        for i0, j0, i1, j1 in rects:
            ys = [M * margin * (u[0] - i0 / M) + 1, M * margin * (i1 / M - u[0]) + 1,
                  M * margin * (u[1] - j0 / M) + 1, M * margin * (j1 / M - u[1]) + 1]
            r1 = [1.0 - c.relu(1.0 - y) for y in ys]
            bump = c.relu(nmin(c, r1))
            total = bump if total is None else total + bump
            bumps += 1
        slices.append(total)
    level = max(s.level for s in slices) + 1 if slices else 1
    out = c.const(fmin, level)
    for s in slices:
        out = out + (dlt / 2) * (1.0 - c.relu(1.0 - c.carry(s, level - 1)))
    return Construction("baader", c.network(out), c.neurons(),
                        {"M": M, "slices": K, "bumps": bumps, "delta_prime": dlt, "lipschitz": L})


CONSTRUCTIONS = {"interpolation": interpolation, "explicit-width": explicit_width, "baader": baader}
