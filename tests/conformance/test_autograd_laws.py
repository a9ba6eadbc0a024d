"""Autograd laws for every op in the table, on the op's own sample points (float64):

* the shape rule predicts the real rule's output shape;
* the adjoint identity <v, J u> = <J^T v, u> between the jvp and vjp rules
  (relative error below 1e-10);
* the vjp against central differences of the real rule;
* dtype: float32 in gives float32 out, forward and backward.
"""

import numpy as np
import pytest

from certnn.ops import all_ops
from certnn.ops._common import unbroadcast

OPS = [op for op in all_ops()]
IDS = [op.name for op in OPS]


def _samples(op, seed=0):
    rng = np.random.default_rng(seed)
    return op.samples(rng)


def _diff_inputs(op, xs):
    return [i for i, x in enumerate(xs) if op.is_differentiable(i) and np.asarray(x).dtype.kind == "f"]


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_shape_rule_predicts_output(op):
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        y = op.real(*s.inputs, **attrs)
        assert tuple(op.shape([np.shape(x) for x in s.inputs], **attrs)) == np.shape(y), op.name


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_adjoint_identity(op):
    rng = np.random.default_rng(1)
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        xs = s.inputs
        y = op.real(*xs, **attrs)
        idx = _diff_inputs(op, xs)
        us = [rng.standard_normal(np.shape(x)) if i in idx else np.zeros(np.shape(x))
              for i, x in enumerate(xs)]
        v = rng.standard_normal(np.shape(y))
        ju = op.jvp(us, y, *xs, **attrs)
        jtv = op.vjp(v, y, *xs, **attrs)
        lhs = float(np.sum(v * ju))
        rhs = sum(float(np.sum(unbroadcast(np.asarray(jtv[i], dtype=float) * np.ones_like(v)
                                            if np.ndim(jtv[i]) == 0 else np.asarray(jtv[i], dtype=float),
                                            np.shape(xs[i])) * us[i])) for i in idx)
        scale = max(1.0, float(np.sum(np.abs(v) * np.abs(ju))))
        assert abs(lhs - rhs) <= 1e-10 * scale, (op.name, lhs, rhs)


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_vjp_matches_central_differences(op):
    rng = np.random.default_rng(2)
    h = 1e-6
    for s in _samples(op):
        attrs = op.normalize(s.attrs)
        xs = list(s.inputs)
        y = op.real(*xs, **attrs)
        v = rng.standard_normal(np.shape(y))
        cts = op.vjp(v, y, *xs, **attrs)
        for i in _diff_inputs(op, xs):
            u = rng.standard_normal(np.shape(xs[i]))
            plus, minus = list(xs), list(xs)
            plus[i] = xs[i] + h * u
            minus[i] = xs[i] - h * u
            fd = float(np.sum(v * (op.real(*plus, **attrs) - op.real(*minus, **attrs)))) / (2 * h)
            ct = np.broadcast_to(cts[i], np.broadcast_shapes(np.shape(cts[i]), np.shape(y))) \
                if np.ndim(cts[i]) == 0 else cts[i]
            an = float(np.sum(unbroadcast(np.asarray(ct, dtype=float), np.shape(xs[i])) * u))
            assert abs(fd - an) <= 1e-6 * max(1.0, abs(an)), (op.name, i, fd, an)


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_float32_stays_float32(op):
    for s in _samples(op)[:1]:
        attrs = op.normalize(s.attrs)
        xs = [x.astype(np.float32) if np.asarray(x).dtype == np.float64 else x for x in s.inputs]
        y = op.real(*xs, **attrs)
        assert y.dtype == np.float32, op.name
        cts = op.vjp(np.ones_like(y), y, *xs, **attrs)
        for i in _diff_inputs(op, xs):
            assert np.asarray(cts[i]).dtype == np.float32, (op.name, i)
