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


def per_example_grads(losses: Tensor, params) -> list[np.ndarray]:
    """``[G_p for p in params]`` with ``G_p[n] = d losses[n] / d p`` (zeros where a
    parameter does not influence the losses)."""
    params = list(params)
    if losses.ndim != 1:
        raise ShapeError(f"per-example gradients need a vector of per-example losses, got shape {fmt(losses.shape)}")
    n = losses.shape[0]
    index = {id(p): k for k, p in enumerate(params)}
    grads = [np.zeros((n,) + p.shape, p.dtype) for p in params]
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
                grads[index[id(x)]] += _param_cotangent(node, g, t.data, xs, i, in_cts[i], n)
            elif wants[i] and in_cts[i] is not None:
                _add(cts, x, unbroadcast(np.asarray(in_cts[i], dtype=x.dtype), x.shape))
    return grads


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
