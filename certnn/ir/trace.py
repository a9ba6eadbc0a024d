"""Trace a module to the IR by running it once with tape recording switched on
and reading the tape back: the example input becomes an ``input`` node,
parameters and buffers become ``param`` nodes named by their state-dict key,
any other leaf becomes a ``const``. Node order is tape (creation) order."""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError, GraphError
from ..tensor import Tensor, no_grad, reachable, recording
from .graph import Graph, Node


def _check_traceable(module, batch_statistics: bool) -> None:
    from ..nn.layers import BatchNorm2d, Dropout
    for name, m in module.named_modules():
        if m.training and isinstance(m, Dropout) and m.p > 0:
            raise CertnnError(f"cannot trace '{name or type(m).__name__}': Dropout in training mode draws "
                              "a fresh random mask each call; call module.eval() first")
        if m.training and isinstance(m, BatchNorm2d) and not batch_statistics:
            raise CertnnError(f"cannot trace '{name or type(m).__name__}': {type(m).__name__} in training mode "
                              "updates running statistics as a side effect; call module.eval() first")


def trace(module, example_input, dynamic_batch: bool = True, input_name: str = "x",
          batch_statistics: bool = False):
    """Return ``(graph, bindings)``; ``bindings`` maps each param node id to the
    live tensor (Parameter or buffer) it stands for. ``batch_statistics`` lets
    BatchNorm layers in training mode be traced (their ``batch_norm_train`` op;
    the running-statistics update is the caller's: see ``certnn.compile``); the
    tracing call itself leaves the buffers as they were."""
    _check_traceable(module, batch_statistics)
    x = Tensor(np.asarray(example_input))
    saved = [(t, t.data.copy()) for _, t in module.named_buffers()]
    with recording(), no_grad():
        out = module(x)
    for t, data in saved:
        t.data[...] = data
    if not isinstance(out, Tensor):
        raise CertnnError(f"tracing needs forward() to return one Tensor, got {type(out).__name__}")
    named = {id(t): k for k, t in module.named_parameters()}
    named.update({id(t): k for k, t in module.named_buffers()})
    from ..nn.module import Parameter
    if dynamic_batch and x.ndim >= 1 and x.shape[0] >= 1:
        try:
            g, bindings = _build(out, x, named, input_name, batch=x.shape[0], Parameter=Parameter)
            if _batch_free(g, x.data, out.data):
                return g, bindings
        except GraphError:
            pass
        # some op pins the batch size (e.g. a reshape of the whole tensor): keep it static
    return _build(out, x, named, input_name, batch=None, Parameter=Parameter)


def _batch_free(g: Graph, x: np.ndarray, y: np.ndarray) -> bool:
    """Check that the graph really is batch-size free: on the traced batch it
    reproduces the trace, and on the batch stacked twice it gives the output
    stacked twice (rows of an eval-mode network are independent). The second
    comparison allows rounding noise: BLAS may pick other kernels for another
    batch size; a baked-in batch size shows up as a wrong shape or wrong rows."""
    from .interpret import evaluate
    try:
        (y1,), _, _ = evaluate(g, {g.inputs[0].id: x})
        (y2,), _, _ = evaluate(g, {g.inputs[0].id: np.concatenate([x, x])})
    except CertnnError:
        return False
    return (np.array_equal(y1, y, equal_nan=True) and y2.shape[:1] == (2 * x.shape[0],)
            and np.allclose(y2, np.concatenate([y, y]), rtol=1e-3, atol=1e-5, equal_nan=True))


def _build(out: Tensor, x: Tensor, named: dict, input_name: str, batch, Parameter):
    nodes, arrays, bindings, ids = [], {}, {}, {}
    n_const = n_val = 0
    for t in reachable([out]):
        if t is x:
            nid = input_name
            shape = ((None,) + x.shape[1:]) if batch is not None else x.shape
            nodes.append(Node(nid, "input", shape=shape, dtype=str(x.dtype)))
        elif t.node is None and id(t) in named:
            nid = named[id(t)]
            nodes.append(Node(nid, "param", attrs={"trainable": isinstance(t, Parameter)},
                              shape=t.shape, dtype=str(t.dtype)))
            arrays[nid], bindings[nid] = t.data, t
        elif t.node is None:
            n_const += 1
            nid = f"c{n_const}"
            nodes.append(Node(nid, "const", shape=t.shape, dtype=str(t.dtype)))
            arrays[nid] = t.data
        else:
            n_val += 1
            nid = f"v{n_val}"
            attrs = dict(t.node.attrs)
            src = t.node.inputs[0]
            if (batch is not None and t.node.op.name == "reshape" and src.shape[:1] == (batch,)
                    and attrs["shape"][:1] == (batch,)):
                attrs["shape"] = (0,) + tuple(attrs["shape"][1:])  # ONNX: 0 copies the batch dim
            nodes.append(Node(nid, t.node.op.name, tuple(ids[id(i)] for i in t.node.inputs), attrs))
        ids[id(t)] = nid
    if id(x) not in ids:
        raise CertnnError("the traced output does not depend on the input")
    g = Graph(nodes, [ids[id(out)]], arrays).validate()
    return g, bindings
