"""The one model loader: a certnn checkpoint (folder or its checkpoint.json), a
certnn graph JSON file, or an ONNX file (.onnx or .onnx.gz). Every command that
takes a model reads it through :func:`load_model`, so they all accept the same
files and give the same errors."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import CertnnError, GraphError
from ..io import max_bytes, parse_json, read_text
from ..ir.graph import Graph


def load_model(path, deadline: float | None = None) -> Graph:
    """``deadline`` (a ``time.monotonic()`` value) bounds an ONNX import (see
    :func:`certnn.interop.onnx_import.load_onnx`)."""
    if str(path) == "":
        raise CertnnError("empty path given for the model")
    p = Path(path)
    if not p.exists():
        raise CertnnError(f"{p}: no such model file or folder")
    name = p.name.lower()
    if name.endswith(".onnx") or name.endswith(".onnx.gz"):
        return load_onnx_model(p, deadline)
    if not p.is_dir() and name.endswith(".json"):
        doc = parse_json(read_text(p, "model file"), p, "model file")
        if isinstance(doc, dict) and doc.get("format") == "certnn.graph":
            from ..ir import load
            return _runnable(load(p), p)
    from .checkpoint import load_graph
    return _runnable(load_graph(p), p)


def _runnable(graph: Graph, path) -> Graph:
    """A model has one input and outputs computed from it (a graph whose output is a
    parameter or a constant is a valid graph, but nothing to run, bound or verify)."""
    if len(graph.inputs) != 1:
        raise GraphError(f"{path}: a model needs exactly one input node, this graph has {len(graph.inputs)}")
    var = {graph.inputs[0].id}
    for n in graph.nodes:
        if any(i in var for i in n.inputs):
            var.add(n.id)
    fixed = [o for o in graph.outputs if o not in var]
    if fixed:
        raise GraphError(f"{path}: the graph output '{fixed[0]}' does not depend on the model input "
                         f"(a parameter or constant): nothing to run or verify")
    for n in graph.nodes:
        size = math.prod(d for d in n.shape if d is not None) * np.dtype(n.dtype).itemsize
        if size > max_bytes():
            raise GraphError(f"{path}: node '{n.id}' would hold {size} bytes per example (shape {n.shape}), "
                             f"more than the limit of {max_bytes()}")
    return graph


def load_onnx_model(path, deadline: float | None = None) -> Graph:
    """An ONNX model with a dynamic batch dimension (see :func:`batched`)."""
    from .onnx_import import load_onnx
    return batched(load_onnx(path, deadline))


def batched(graph):
    """The graph with a dynamic batch dim. A model whose input has no batch dim
    (e.g. shape (1,) used as one example of shape (1,)) gets a None dim put in
    front of every value that depends on the input; the op shape rules must then
    re-derive the same shapes (``validate``), else the model is refused."""
    inp = graph.inputs[0]
    if inp.shape[:1] == (None,):
        return graph
    g = graph.copy()
    var = set()
    nodes = []
    for n in g.nodes:
        if n.op == "input" or any(i in var for i in n.inputs):
            var.add(n.id)
            n = replace(n, shape=(None,) + tuple(n.shape))
        nodes.append(n)
    g.nodes = nodes
    try:
        g.validate()
    except CertnnError as e:
        raise GraphError(f"the model has no batch dimension and adding one fails ({e})") from None
    return g


