"""Embedding lookup (a gather of rows): ``embedding(indices, weight)``, PyTorch's
``F.embedding(input, weight)`` argument order.

    indices: integer array of any shape S, every entry in [0, V)
    weight:  (V, D)
    y[s, :] = weight[indices[s], :]                    y has shape S + (D,)

Only ``weight`` is differentiable (indices are discrete), and y is linear in
it (``linear=True``): the jvp gathers the tangent's rows, the vjp scatters the
cotangent back, adding the rows of repeated indices (``np.add.at``):

    dweight[v, :] = sum over s with indices[s] = v of ct[s, :]

Pure data movement: binary32 is exact (the gathered bits), the interval rule
gathers the bounds and the error rule gathers the weights' error bounds.
An index outside [0, V) raises ``ShapeError`` naming the op and the index, in
every rule (NumPy would wrap a negative index around and the vjp's scatter
would silently add into row V + i).
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import as_f32, ieee
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import fmt
from .registry import OpDef, Sample, register

_M = __name__


def shape(in_shapes):
    s_idx, s_w = (tuple(s) for s in in_shapes)
    if len(s_w) != 2 or any(d is None for d in s_w):
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, dim), got {fmt(s_w)}")
    return s_idx + (s_w[1],)


def _check(indices, weight):
    shape([np.shape(indices), np.shape(weight)])
    indices = np.asarray(indices)
    if indices.dtype.kind == "f" and np.all(indices == np.round(indices)):
        indices = indices.astype(np.int64)      # interpreters that carry every value in float64
    if indices.dtype.kind not in "iu":
        raise ShapeError(f"embedding: indices must be integers, got {indices.dtype}")
    V = weight.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= V):
        bad = indices[(indices < 0) | (indices >= V)].reshape(-1)[0]
        raise ShapeError(f"embedding: index {int(bad)} out of range for {V} embeddings")
    return indices


def real(indices, weight):
    return weight[_check(indices, weight)]


def vjp(ct, out, indices, weight):
    g = np.zeros_like(weight, dtype=ct.dtype)
    np.add.at(g, _check(indices, weight).reshape(-1), ct.reshape(-1, weight.shape[1]))
    return None, g


def jvp(tangents, out, indices, weight):
    return np.broadcast_to(tangents[1], weight.shape)[_check(indices, weight)]


@iv.uses(*iv.RN)
def interval(los, his):
    idx = iv.exact_input("embedding", los[0], his[0], "indices")
    (wl,), (wh,) = iv.inputs("embedding", los[1:], his[1:], 1)
    idx = _check(idx, wl)
    return iv.finish("embedding", wl[idx], wh[idx])


def error(los, his, errs, out_lo, out_hi, order="sequential"):
    """A gather is exact: the output error is the gathered weight error."""
    idx = _check(los[0], los[1])
    return er.finish(np.broadcast_to(errs[1], np.shape(los[1]))[idx])


def b32_embedding(indices, weight, order=None, backend=None):
    return as_f32(weight, "embedding", "weight")[_check(indices, weight)]


def samples(rng):
    w = rng.uniform(-2, 2, (5, 3))
    return [Sample((np.array([0, 4, 2, 2]), w)),                       # a repeated index
            Sample((rng.integers(0, 5, (2, 3)), w)),
            Sample((np.array([[1]]), rng.uniform(-2, 2, (2, 4))))]


register(OpDef(
    name="embedding", module=_M, arity=(2,), attrs={}, shape=shape, real=real, vjp=vjp, jvp=jvp,
    binary32=ieee(b32_embedding), interval=interval, error=error, samples=samples, linear=True,
    differentiable=(False, True), doc=__doc__))
