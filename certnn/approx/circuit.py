"""Writing ReLU networks as formulas.

A :class:`Value` is an affine combination of the units of one level (level 0:
the network inputs; level k: the ReLU neurons of hidden layer k). ``relu(v)``
puts a neuron max(0, v) on the next level; values of an older level reach a
newer one through ``carry`` (one neuron for a value known to be >= 0, else
two: v = relu(v) - relu(-v)). Equal neurons are made once. ``network()``
turns the levels into a certnn MLP (Linear/ReLU, float64) whose output is the
given value: the constructions of :mod:`certnn.approx.constructions` are a
few lines each on top of this.
"""

from __future__ import annotations

import numpy as np

from .. import nn


class Value:
    __slots__ = ("circuit", "level", "coef", "bias", "nonneg")

    def __init__(self, circuit, level: int, coef: dict, bias: float = 0.0, nonneg: bool = False):
        self.circuit, self.level, self.coef, self.bias, self.nonneg = circuit, level, coef, float(bias), nonneg

    def _same(self, other: "Value"):
        if other.level != self.level:
            raise ValueError(f"values of levels {self.level} and {other.level} combined (carry one first)")

    def __add__(self, other):
        if isinstance(other, Value):
            self._same(other)
            coef = dict(self.coef)
            for k, v in other.coef.items():
                coef[k] = coef.get(k, 0.0) + v
            return Value(self.circuit, self.level, coef, self.bias + other.bias, self.nonneg and other.nonneg)
        return Value(self.circuit, self.level, dict(self.coef), self.bias + float(other), self.nonneg and other >= 0)

    __radd__ = __add__

    def __mul__(self, s: float):
        s = float(s)
        return Value(self.circuit, self.level, {k: s * v for k, v in self.coef.items()}, s * self.bias,
                     self.nonneg and s >= 0)

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other


class Circuit:
    def __init__(self, n_in: int):
        self.n_in = n_in
        self.levels: list[list[tuple]] = []       # per hidden level: neurons as (coef items, bias)
        self._index: list[dict] = []

    def inputs(self) -> list[Value]:
        return [Value(self, 0, {i: 1.0}) for i in range(self.n_in)]

    def const(self, c: float, level: int) -> Value:
        return Value(self, level, {}, c, c >= 0)

    def _neuron(self, v: Value) -> Value:
        while len(self.levels) <= v.level:
            self.levels.append([])
            self._index.append({})
        key = (tuple(sorted((k, c) for k, c in v.coef.items() if c != 0.0)), v.bias)
        lvl = self._index[v.level]
        if key not in lvl:
            lvl[key] = len(self.levels[v.level])
            self.levels[v.level].append(key)
        return Value(self, v.level + 1, {lvl[key]: 1.0}, 0.0, True)

    def relu(self, v: Value) -> Value:
        return self._neuron(v)

    def carry(self, v: Value, level: int) -> Value:
        """``v`` on ``level`` >= its own."""
        while v.level < level:
            v = self._neuron(v) if v.nonneg else self._neuron(v) - self._neuron(-v)
        return v

    def neurons(self) -> int:
        return sum(len(lv) for lv in self.levels)

    def network(self, out: Value, dtype=np.float64):
        """The MLP computing ``out`` (a value of the last level)."""
        if out.level != len(self.levels):
            raise ValueError(f"the output is on level {out.level}, the circuit has {len(self.levels)} levels")
        layers, width = [], self.n_in
        for lv in self.levels:
            W = np.zeros((len(lv), width))
            b = np.zeros(len(lv))
            for j, (items, bias) in enumerate(lv):
                for k, c in items:
                    W[j, k] = c
                b[j] = bias
            lin = nn.Linear(width, len(lv), dtype=dtype)
            lin.weight.data[...], lin.bias.data[...] = W, b
            layers += [lin, nn.ReLU()]
            width = len(lv)
        last = nn.Linear(width, 1, dtype=dtype)
        last.weight.data[...] = 0.0
        for k, c in out.coef.items():
            last.weight.data[0, k] = c
        last.bias.data[...] = out.bias
        return nn.Sequential(*layers, last)


def nmin2(c: Circuit, a: Value, b: Value) -> Value:
    """min(a, b) = (R(a+b) - R(-a-b) - R(a-b) - R(b-a)) / 2: one level, no carried
    inputs (Baader et al.'s form; interval analysis of it is what their theorem
    is about)."""
    return 0.5 * (c.relu(a + b) - c.relu(-a - b) - c.relu(a - b) - c.relu(b - a))


def nmin(c: Circuit, values: list) -> Value:
    """The minimum of several values of one level, as a tree of nmin2 (an odd
    one out is carried to the next level)."""
    while len(values) > 1:
        nxt = [nmin2(c, values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]
        if len(values) % 2:
            nxt.append(c.carry(values[-1], values[-1].level + 1))
        values = nxt
    return values[0]
