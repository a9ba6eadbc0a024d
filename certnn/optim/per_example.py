"""Per-example gradients: one reverse sweep over the eager tape that keeps the
batch axis of every parameter's cotangent instead of summing it away.

Given per-example losses ``l`` of shape (N,) from ONE forward pass over a batch
of N independent examples, :func:`per_example_grads` returns, for each
parameter ``p``, the array ``G`` of shape ``(N,) + p.shape`` with
``G[n] = d l[n] / d p``. The sweep is the ordinary backward walk seeded with
ones (so every activation's cotangent row n is d l[n] / d activation_n, because
example n reaches only row n), except at the nodes that consume a parameter:

* an elementwise op (``add`` of a bias, ``mul`` by a scale, ...) returns its
  cotangent in the broadcast shape, which still has the batch axis; summing the
  other broadcast axes (but not the batch axis) gives the per-example cotangent;
* any other op asks the op table for its ``vjp_per_example`` rule (``linear``:
  the outer products ct_n x_n^T as one batched product; ``conv2d``: the
  im2col product per example). An op without one raises ``MissingRuleError``
  naming the op.

No Python loop over examples and no op names: the walk is an interpretation of
the tape, like :func:`certnn.tensor.backpropagate`.

What it assumes (and checks where it can): the forward pass treats examples
independently (no batch statistics: BatchNorm in training mode mixes examples
and makes per-example gradients meaningless); ``l`` has one entry per example;
the batch is every non-parameter leaf whose first axis has length N; a
parameter is used directly by the op that meets the batch (a parameter passed
through ``reshape`` first is rejected with an error naming the op).
"""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError, MissingRuleError, ShapeError
from ..ops._common import fmt, unbroadcast
from ..tensor import Tensor, reachable


class OuterGrads:
    """Per-example gradients kept as factors: ``G[n] = a[n]^T b[n]`` with ``a`` of
    shape (N, T, O) and ``b`` (N, T, I) (a linear layer's weight: output cotangents
    and inputs). Squared norms come from T x T Gram matrices,
    ||G[n]||^2 = sum((a[n] a[n]^T) * (b[n] b[n]^T)) (for T = 1: ||a[n]||^2 ||b[n]||^2),
    and weighted sums from one product, sum_n f_n G[n] = (f a)^T b, so the
    (N, O, I) array is never formed (Goodfellow 2015; Li et al. 2022's ghost norm)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, dtype):
        self.a, self.b, self.dtype = a.astype(dtype, copy=False), b.astype(dtype, copy=False), np.dtype(dtype)
        self.shape = (a.shape[0], a.shape[2], b.shape[2])

    def sq_norms(self) -> np.ndarray:
        a, b = self.a.astype(np.float64), self.b.astype(np.float64)
        if a.shape[1] == 1:
            return np.einsum("ni,ni->n", a[:, 0], a[:, 0]) * np.einsum("ni,ni->n", b[:, 0], b[:, 0])
        return np.einsum("nst,nst->n", a @ a.transpose(0, 2, 1), b @ b.transpose(0, 2, 1))

    def weighted_sum(self, f: np.ndarray) -> np.ndarray:
        fa = self.a * np.asarray(f, self.dtype)[:, None, None]
        return fa.reshape(-1, self.shape[1]).T @ self.b.reshape(-1, self.shape[2])

    def dense(self) -> np.ndarray:
        return np.matmul(self.a.transpose(0, 2, 1), self.b)


def sq_norms(g) -> np.ndarray:
    """Per-example squared norms ||G[n]||^2 (float64) of a dense (N, ...) array or :class:`OuterGrads`."""
    if isinstance(g, OuterGrads):
        return g.sq_norms()
    flat = g.reshape(g.shape[0], -1)
    return np.einsum("ij,ij->i", flat, flat).astype(np.float64)


def weighted_sum(f: np.ndarray, g) -> np.ndarray:
    """sum_n f[n] G[n] of a dense (N, ...) array or :class:`OuterGrads`."""
    if isinstance(g, OuterGrads):
        return g.weighted_sum(f)
    return np.tensordot(np.asarray(f, g.dtype), g, axes=(0, 0))


def per_example_grads(losses: Tensor, params, factored: bool = False) -> list:
    """``[G_p for p in params]`` with ``G_p[n] = d losses[n] / d p`` (zeros where a
    parameter does not influence the losses). With ``factored``, a parameter whose
    op has a ``vjp_per_example_factors`` rule (and that op only) gets an
    :class:`OuterGrads` instead of the dense array."""
    params = list(params)
    if losses.ndim != 1:
        raise ShapeError(f"per-example gradients need a vector of per-example losses, got shape {fmt(losses.shape)}")
    n = losses.shape[0]
    index = {id(p): k for k, p in enumerate(params)}
    grads = [None] * len(params)                # filled by the first contribution (no zero fill and add)
    tape = reachable([losses])
    batched = _batched(tape, index, n)
    cts = {id(losses): np.ones(n, losses.dtype)}
    for t in reversed([t for t in tape if t.requires_grad]):
        g = cts.pop(id(t), None)
        if g is None or t.node is None:
            continue
        node = t.node
        if not batched[id(t)]:
            raise CertnnError(f"per-example gradients: op '{node.op.name}' combines parameters before they "
                              f"meet the batch; use each parameter directly in the op that takes the batch")
        wants = [x.requires_grad and node.op.is_differentiable(i) for i, x in enumerate(node.inputs)]
        own = [w and id(x) in index for w, x in zip(wants, node.inputs)]
        xs = [x.data for x in node.inputs]
        in_cts = [None] * len(xs)
        if node.op.elementwise or any(w and not o for w, o in zip(wants, own)):
            extra = {"needs": tuple(w and not o for w, o in zip(wants, own))} if node.op.vjp_needs else {}
            in_cts = node.op.vjp(g, t.data, *xs, **node.attrs, **extra)
        for i, x in enumerate(node.inputs):
            if own[i]:
                k = index[id(x)]
                factors = node.op.vjp_per_example_factors if factored and grads[k] is None else None
                ab = factors(g, t.data, *xs, index=i, **node.attrs) if factors else None
                if ab is not None:
                    grads[k] = OuterGrads(*ab, params[k].dtype)
                    continue
                c = np.asarray(_param_cotangent(node, g, t.data, xs, i, in_cts[i], n), dtype=params[k].dtype)
                if isinstance(grads[k], OuterGrads):                     # a second use: fall back to dense
                    grads[k] = grads[k].dense()
                grads[k] = c if grads[k] is None else grads[k] + c      # never in place: c may be shared
            elif wants[i] and in_cts[i] is not None:
                _add(cts, x, unbroadcast(np.asarray(in_cts[i], dtype=x.dtype), x.shape))
    return [np.zeros((n,) + p.shape, p.dtype) if g is None else g if isinstance(g, OuterGrads)
            else np.broadcast_to(g, (n,) + p.shape) for g, p in zip(grads, params)]


def _param_cotangent(node, ct, out, xs, i, broadcast_ct, n) -> np.ndarray:
    """Parameter input ``i``'s cotangent per example: the elementwise op's broadcast
    cotangent with its batch axis kept, or the op's ``vjp_per_example`` rule."""
    op = node.op
    if op.elementwise:
        c = np.asarray(broadcast_ct)
        if c.ndim == 0 or c.shape[0] != n:
            raise CertnnError(f"per-example gradients: op '{op.name}' gave a cotangent of shape {fmt(c.shape)} "
                              f"without the batch axis of length {n}")
        return batch_unbroadcast(c, xs[i].shape)
    if op.vjp_per_example is None:
        raise MissingRuleError(f"op '{op.name}' (defined in {op.module}) has no per-example cotangent rule "
                               f"(vjp_per_example) for its parameter input {i}")
    return op.vjp_per_example(ct, out, *xs, index=i, **node.attrs)


def batch_unbroadcast(c: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast cotangent ``c`` (batch axis first) back to ``(N,) + shape``,
    keeping the batch axis: axes of ``c`` beyond ``shape``'s rank are summed, and so
    are the axes where ``shape`` has size 1."""
    n, k = c.shape[0], len(shape)
    if c.ndim - 1 > k:                          # e.g. a (C,) bias on an (N, H, C) activation
        c = c.sum(axis=tuple(range(1, c.ndim - k)))
    elif c.ndim - 1 < k:                        # a (1, C) parameter on an (N, C) activation
        c = c.reshape((n,) + (1,) * (k + 1 - c.ndim) + c.shape[1:])
    return unbroadcast(c, (n,) + tuple(shape))


def _batched(tape, index, n) -> dict:
    """Which tensors carry the batch: non-parameter leaves with first axis N and
    everything computed from them (parameter-only subgraphs do not)."""
    out = {}
    for t in tape:           # creation order: inputs before the ops that use them
        if t.node is None:
            out[id(t)] = id(t) not in index and t.ndim > 0 and t.shape[0] == n
        else:
            out[id(t)] = any(out.get(id(x), False) for x in t.node.inputs)
    return out


def _add(cts, t, g):
    prev = cts.get(id(t))
    cts[id(t)] = g if prev is None else prev + g
