"""The residual of a network on a problem: point values and sound box bounds.

``Residual(graph, problem, inputs)`` reads a one-output network (any graph of
the op table: a certnn checkpoint or an imported ONNX model, computed in
float64 with its own weights, i.e. the real-number semantics of the network)
whose input columns hold the problem's coordinates in the order ``inputs``.
It builds the jet graph for the derivatives the equation uses and offers:

* ``values(points)``: the residual at points (float64 evaluation, for grids);
* ``bounds(lo, hi)``: for a batch of boxes, a sound upper bound of
  sup |residual| over each box: Taylor models of u and its derivatives
  (:mod:`certnn.bounds.taylor`) put into the equation's sympy expression in
  Taylor-model arithmetic, then ``|c| + sum_j |g_j| h_j + r`` rounded up;
* ``condition_values`` / ``condition_bounds``: the same for u - g on the face
  of an initial/boundary condition.

This module is shared by the producer (:mod:`certnn.pinn.certify`) and the
independent checker (:mod:`certnn.pinn.checker`); both trust only the sound
arithmetic here and below.
"""

from __future__ import annotations

import numpy as np
import sympy

from ..bounds.taylor import taylor_models
from ..errors import CertnnError
from ..floats import taylor as tm
from ..ir.graph import Graph
from ..ir.interpret import evaluate
from .derivatives import jet_graph, jet_values
from .problems import Condition, Problem


def as_float64(graph: Graph) -> Graph:
    """The same network computed in float64 (weights converted exactly)."""
    g = graph.copy()
    for n in g.nodes:
        if np.dtype(n.dtype).kind == "f":
            n.dtype = "float64"
    g.arrays = {k: np.asarray(v, np.float64) if np.asarray(v).dtype.kind == "f" else v for k, v in g.arrays.items()}
    return g.validate()


def input_order(problem: Problem, inputs) -> list[int]:
    """perm[k] = the model input column that holds problem coordinate k."""
    names = list(problem.coords) if inputs is None else [s.strip() for s in
                                                        (inputs.split(",") if isinstance(inputs, str) else inputs)]
    if sorted(names) != sorted(problem.coords):
        raise CertnnError(f"--inputs {','.join(names)}: must name each coordinate of problem "
                          f"{problem.name} ({', '.join(problem.coords)}) once")
    return [names.index(c) for c in problem.coords]


class Residual:
    def __init__(self, graph: Graph, problem: Problem, inputs=None):
        self.problem = problem
        self.graph = as_float64(graph)
        x = self.graph.inputs
        if len(x) != 1 or len(x[0].shape) != 2 or x[0].shape[1] != len(problem.coords):
            raise CertnnError(f"the model must take one input of shape (N, {len(problem.coords)}) "
                              f"(the coordinates {', '.join(problem.coords)}); it takes "
                              f"{[n.shape for n in x]}")
        self.perm = input_order(problem, inputs)
        self.symbols = problem.derivative_symbols()
        needs = {s: tuple(sorted(self.perm[i] for i in m)) for s, m in self.symbols.items()}
        self.needs = needs
        self.jet_graph, self.jet = jet_graph(self.graph, needs.values())
        self.coords = problem.coord_symbols

    # ---- coordinates ---------------------------------------------------------------------------
    def to_model(self, a: np.ndarray) -> np.ndarray:
        """Points or box corners from problem coordinates to model input columns."""
        out = np.empty_like(a, dtype=np.float64)
        out[:, self.perm] = a
        return out

    # ---- point values --------------------------------------------------------------------------
    def values(self, points: np.ndarray, chunk: int = 8192) -> np.ndarray:
        points = np.asarray(points, np.float64)
        out = np.empty(len(points))
        f = sympy.lambdify(list(self.symbols) + list(self.coords), self.problem.equation, "numpy")
        with np.errstate(all="ignore"):
            for a in range(0, len(points), chunk):
                p = points[a:a + chunk]
                d, _ = jet_values(self.jet_graph, self.jet, self.to_model(p))
                out[a:a + chunk] = f(*[d[self.needs[s]] for s in self.symbols], *p.T)
        return out

    def u(self, points: np.ndarray, chunk: int = 8192) -> np.ndarray:
        points = np.asarray(points, np.float64)
        xid = self.graph.inputs[0].id
        return np.concatenate([evaluate(self.graph, {xid: self.to_model(points[a:a + chunk])})[0][0].reshape(-1)
                               for a in range(0, len(points), chunk)])

    def condition_values(self, c: Condition, points: np.ndarray) -> np.ndarray:
        g = sympy.lambdify(self.coords, c.value, "numpy")
        return self.u(points) - np.broadcast_to(np.asarray(g(*points.T), float), (len(points),))

    # ---- sound bounds --------------------------------------------------------------------------
    def _coords(self, x: tm.TM) -> dict:
        return {s: tm.column(x, self.perm[k]) for k, s in enumerate(self.coords)}

    def bounds(self, lo: np.ndarray, hi: np.ndarray):
        """(bound, scores): per box an upper bound of sup |residual|, and per box
        and coordinate how much of it the box's extent in that coordinate causes
        (for choosing where to split)."""
        mlo, mhi = self.to_model(lo), self.to_model(hi)
        B = len(lo)
        eye = np.eye(len(self.coords))
        feeds = {d: np.broadcast_to(eye[i], (B, len(self.coords))) for i, d in self.jet.directions.items()}
        T = taylor_models(self.jet_graph, mlo, mhi, feeds)
        x = T[self.jet.input]
        env = self._coords(x)
        for s, m in self.needs.items():
            env[s] = tm.column(T[self.jet_graph.outputs[self.jet.index[m]]], 0)
        r = tm.sympy_tm(self.problem.equation, env, x.h)
        return r.abs_bound(), self._scores(r)

    def _scores(self, r: tm.TM) -> np.ndarray:
        return tm.split_scores(r)[:, self.perm]              # problem coordinate order

    def interval_bounds(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Upper bounds of sup |residual| by plain interval propagation of the jet
        graph (each node's interval rule on its inputs' intervals; no correlation
        between u, u_x, u_xx): the IBP baseline of the dCROWN paper, for comparison."""
        from ..floats.symbolic_interval import compile_interval
        from ..ops import get_op
        mlo, mhi = self.to_model(lo), self.to_model(hi)
        B, eye = len(lo), np.eye(len(self.coords))
        env = {self.jet.input: (mlo, mhi)}
        env.update({d: (np.broadcast_to(eye[i], (B, len(self.coords))),) * 2 for i, d in self.jet.directions.items()})
        for n in self.jet_graph.nodes:
            if n.id in env:
                continue
            if n.is_source:
                a = np.asarray(self.jet_graph.arrays[n.id], np.float64)
                env[n.id] = (a, a)
                continue
            ins = [env[i] for i in n.inputs]
            env[n.id] = get_op(n.op).interval([a for a, _ in ins], [b for _, b in ins], **n.attrs)
        syms = list(self.symbols) + list(self.coords)
        vals = [env[self.jet_graph.outputs[self.jet.index[m]]] for m in self.needs.values()]
        vals = [(a.reshape(-1), b.reshape(-1)) for a, b in vals] + [(lo[:, k], hi[:, k]) for k in range(len(self.coords))]
        rlo, rhi = compile_interval(self.problem.equation, tuple(syms))([a for a, _ in vals], [b for _, b in vals])
        return np.maximum(np.abs(rlo), np.abs(rhi))

    def condition_bounds(self, c: Condition, lo: np.ndarray, hi: np.ndarray):
        """(bound, scores) of sup |u - g| over boxes of the condition's face."""
        T = taylor_models(self.graph, self.to_model(lo), self.to_model(hi))
        x = T[self.graph.inputs[0].id]
        u = tm.column(T[self.graph.outputs[0]], 0)
        e = tm.add(u, tm.sympy_tm(c.value, self._coords(x), x.h), -1.0)
        return e.abs_bound(), self._scores(e)
