"""The sampled-data closed loop in Taylor-model arithmetic (sound; shared by the
reach producer and the tube checker).

One control period, for pieces of the initial set whose states at t_k are TMs
X(z) (shape (P, n)):

1. the network input v = g(X) (the problem's ``network_input`` expressions);
2. a controller claim for the box V containing v's range: for every v in V,
   ``y_j(v) - a_j . v in [r_lo_j, r_hi_j]`` (made by CROWN in the producer,
   re-derived by the certificate checker); so y_j is the TM
   ``a_j . v(z) + [r_lo_j, r_hi_j]``, which keeps the control's dependence on
   the initial state;
3. the controls u = post(y, x) (``control_from_network_output``) held over the
   period, with zero-order-hold disturbances as interval constants;
4. one validated integration step, or the discrete map (:mod:`.flow`).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..floats import interval as iv
from . import expr as ex
from .network import io_sizes
from .problem import Problem, Scenario
from .taylor import TM, TMAlgebra, affine, basis, constant, stack, unstack


class LoopTM:
    def __init__(self, problem: Problem, scenario: Scenario, tm_order: int):
        self.p, self.s = problem, scenario
        c = problem.controller_of(scenario)
        self.f = ex.compile_tape(problem.dynamics)
        self.inputs = ex.compile_tape(c.inputs)
        self.post = ex.compile_tape(c.outputs)
        self.n_in, self.n_out = io_sizes(c.graph)
        self.free = tuple(int(i) for i in np.flatnonzero(scenario.hi > scenario.lo))
        self.b = basis(len(self.free), tm_order)

    def initial(self, lo: np.ndarray, hi: np.ndarray) -> TM:
        """x = m + r z over the free dimensions exactly, with [m - r, m + r] containing
        [lo, hi] (``interval.midrad``); the other dimensions are interval constants."""
        m, r = iv.midrad(lo, hi)
        tms = []
        for i in range(lo.shape[1]):
            if i in self.free:
                tms.append(affine(m[:, i], r[:, i], self.free.index(i), self.b))
            else:
                tms.append(constant(lo[:, i], hi[:, i], self.b, (lo.shape[0],)))
        return stack(tms)

    def network_input(self, X: TM):
        """The network input's TMs and their ranges (lo, hi), each (P, n_in)."""
        alg = TMAlgebra(self.b, X.shape[:-1])
        env = dict(zip(self.p.states, unstack(X)))
        V = [alg.lift(v) for v in ex.evaluate(self.inputs, env, alg)]
        ranges = [v.range() for v in V]
        return V, np.stack([r[0] for r in ranges], -1), np.stack([r[1] for r in ranges], -1)

    def controls(self, X: TM, V: list, a, r_lo, r_hi) -> dict:
        """The held inputs' TMs from the claim y_j = a_j . v + [r_lo_j, r_hi_j]
        (a: (P, n_out, n_in); r: (P, n_out)) and the post-processing."""
        alg = TMAlgebra(self.b, X.shape[:-1])
        env = dict(zip(self.p.states, unstack(X)))
        for j in range(self.n_out):
            acc = Fraction(0)
            for i, Vi in enumerate(V):
                aj = a[:, j, i]
                if np.any(aj != 0):
                    acc = alg.add(acc, alg.scale(Vi, aj, aj))
            env[ex.output_symbol(j).name] = alg.add_interval(alg.lift(acc), r_lo[:, j], r_hi[:, j])
        us = ex.evaluate(self.post, env, alg)
        params = {u: alg.lift(v) for u, v in zip(self.p.controls, us)}
        for k, w in enumerate(self.p.held):
            params[w] = constant(self.p.held_lo[k], self.p.held_hi[k], self.b, X.shape[:-1])
        return params
