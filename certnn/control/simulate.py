"""Point simulation of the sampled-data closed loop, and the spec on trajectories.

Many trajectories run at once: within a control period the controls are fixed,
so the stacked states of all trajectories form one ODE, integrated by SciPy's
``solve_ivp`` (DOP853, rtol 1e-10, atol 1e-12 by default). The network runs in
certnn's ``real`` semantics (float64, ``certnn.run``) or its ``binary32``
semantics (the network input rounded to binary32, binary32 weights, certnn's
bit-exact binary32 execution). A discrete plant is stepped by its map in
float64.

Simulation is evidence ``tested``: it shows behaviour, proves nothing about the
other initial states, and its own error is only estimated (tight tolerances).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ..ir.run import run
from . import expr as ex
from .network import as_float32
from .problem import Problem, Property, Scenario

SEMANTICS = ("real", "binary32")


class NumpyAlgebra:
    """The tape's operations on float64 arrays."""
    const = staticmethod(float)
    add, sub, mul, div, neg = np.add, np.subtract, np.multiply, np.divide, np.negative
    sin, cos, exp, log, sqrt = np.sin, np.cos, np.exp, np.log, np.sqrt


NP = NumpyAlgebra()


@dataclass
class Loop:
    """The compiled pieces of one scenario's closed loop, for point evaluation."""
    problem: Problem
    scenario: Scenario
    f: ex.Tape                 # dynamics over states + controls (+ held disturbances)
    inputs: ex.Tape            # network input over states
    post: ex.Tape              # controls over y[j] and states
    graphs: dict               # semantics -> graph

    @classmethod
    def of(cls, problem: Problem, scenario: Scenario) -> "Loop":
        c = problem.controller_of(scenario)
        return cls(problem, scenario, ex.compile_tape(problem.dynamics), ex.compile_tape(c.inputs),
                   ex.compile_tape(c.outputs), {"real": c.graph})

    def graph(self, semantics: str):
        if semantics not in self.graphs:
            self.graphs[semantics] = as_float32(self.graphs["real"])
        return self.graphs[semantics]

    def env(self, X: np.ndarray) -> dict:
        return {s: X[:, i] for i, s in enumerate(self.problem.states)}

    def controls(self, X: np.ndarray, semantics: str = "real") -> np.ndarray:
        """u_k for states X (T, n): network input, network, post-processing."""
        V = np.stack([np.broadcast_to(v, X.shape[:1]) for v in ex.evaluate(self.inputs, self.env(X), NP)], 1)
        if semantics == "real":
            Y = np.asarray(run(self.graph("real"), V, "real"), np.float64)
        else:
            Y = np.asarray(run(self.graph("binary32"), V.astype(np.float32), "binary32"), np.float64)
        env = self.env(X) | {ex.output_symbol(j).name: Y[:, j] for j in range(Y.shape[1])}
        return np.stack([np.broadcast_to(u, X.shape[:1]) for u in ex.evaluate(self.post, env, NP)], 1)

    def rhs(self, X, U, W=None) -> np.ndarray:
        env = self.env(X) | {c: U[:, j] for j, c in enumerate(self.problem.controls)}
        if W is not None:
            env |= {w: W[:, j] for j, w in enumerate(self.problem.held)}
        return np.stack([np.broadcast_to(v, X.shape[:1]) for v in ex.evaluate(self.f, env, NP)], 1)


@dataclass
class Trajectories:
    times: np.ndarray          # (K,) sample times
    states: np.ndarray         # (T, K, n)
    controls: np.ndarray       # (T, steps, m)
    per_period: int            # samples per control period (times[k * per_period] = t_k)


def simulate(loop: Loop, x0: np.ndarray, semantics: str = "real", per_period: int = 1, rtol: float = 1e-10,
             atol: float = 1e-12, held: np.ndarray | None = None, steps: int | None = None) -> Trajectories:
    """Trajectories from the rows of ``x0`` (T, n). ``held``: (T, steps, d) values of
    zero-order-hold disturbances (default: the box centre)."""
    p = loop.problem
    steps = loop.scenario.steps if steps is None else steps
    per_period = per_period if p.time == "continuous" else 1
    X = np.array(x0, np.float64, ndmin=2)
    T, n = X.shape
    h = float(p.period)
    if p.held and held is None:
        held = np.broadcast_to((p.held_lo + p.held_hi) / 2, (T, steps, len(p.held)))
    out = np.empty((T, steps * per_period + 1, n))
    out[:, 0] = X
    Us = []
    with np.errstate(all="ignore"):
        for k in range(steps):
            U = loop.controls(X, semantics)
            Us.append(U)
            W = None if held is None else held[:, k]
            if p.time == "discrete":
                X = loop.rhs(X, U, W)
                out[:, k + 1] = X
                continue
            ts = np.linspace(0.0, h, per_period + 1)
            sol = solve_ivp(lambda t, y: loop.rhs(y.reshape(T, n), U, W).reshape(-1), (0.0, h), X.reshape(-1),
                            method="DOP853", t_eval=ts, rtol=rtol, atol=atol)
            if not sol.success:
                out[:, k * per_period + 1:] = np.nan
                break
            Y = sol.y.reshape(T, n, -1).transpose(0, 2, 1)
            out[:, k * per_period + 1:(k + 1) * per_period + 1] = Y[:, 1:]
            X = Y[:, -1]
    times = np.arange(steps * per_period + 1) * (h / per_period) if p.time == "continuous" \
        else np.arange(steps + 1) * h
    U = np.stack(Us, 1) if Us else np.zeros((T, 0, len(p.controls)))
    return Trajectories(times, out, U, per_period if p.time == "continuous" else 1)


# ------------------------------------------------------------------ the spec on trajectories

def _hs(polys, X):
    """max_j (a_j . x - b_j) per point and polyhedron: <= 0 means inside."""
    return np.stack([np.max(np.stack([X @ h.a_float - float(h.b) for h in P], -1), -1) for P in polys], -1)


def margins(prop: Property, tr: Trajectories) -> np.ndarray:
    """Per trajectory, the signed margin to the spec (> 0 satisfied, < 0 violated):
    unsafe sets: the least over sample times in the window of the distance-like
    value max_j (a_j x - b_j); target: minus the same value (at the final time,
    or the best sample time in the target window)."""
    t = tr.times
    res = np.full(tr.states.shape[0], np.inf)
    if prop.unsafe:
        w = (t >= float(prop.window[0]) - 1e-12) & (t <= float(prop.window[1]) + 1e-12)
        res = np.minimum(res, np.min(_hs(prop.unsafe, tr.states[:, w]), axis=(1, 2)))
    if prop.target:
        t0, t1 = prop.target_window
        w = (t >= float(t0) - 1e-12) & (t <= float(t1) + 1e-12)
        inside = -_hs((prop.target,), tr.states[:, w])[..., 0]
        res = np.minimum(res, np.max(inside, axis=1))
    return res


def corners_and_samples(lo, hi, k: int, rng) -> np.ndarray:
    """The centre, every corner (up to 2^10 of them) and k uniform points of the box."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    free = np.flatnonzero(hi > lo)
    pts = [(lo + hi) / 2]
    if free.size <= 10:
        for bits in range(2 ** free.size):
            c = (lo + hi) / 2
            for j, d in enumerate(free):
                c[d] = hi[d] if bits >> j & 1 else lo[d]
            pts.append(c)
    pts = np.array(pts)
    if k:
        pts = np.concatenate([pts, lo + rng.uniform(0, 1, (k, lo.size)) * (hi - lo)])
    return pts
