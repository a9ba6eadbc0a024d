"""The graph IR: an SSA DAG over the op table.

Nodes are kept in topological order; each has an ``id``, an ``op`` (an op-table
name, or one of the source kinds ``input``, ``param``, ``const``), input ids,
normalised attributes, a shape (``None`` marks the dynamic batch dimension) and
a dtype. Values of ``param`` and ``const`` nodes live in ``Graph.arrays``,
apart from the structure. A node may carry a fused epilogue ``post``: a chain
of elementwise unary ops applied to its result (made by the fusion pass; the
rules run are exactly those of the unfused ops).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import CertnnError, GraphError, MissingRuleError
from ..ops import get_op
from ..ops._common import fmt

SOURCES = ("input", "param", "const")


@dataclass
class Node:
    id: str
    op: str
    inputs: tuple[str, ...] = ()
    attrs: dict = field(default_factory=dict)
    shape: tuple = ()
    dtype: str = "float32"
    post: tuple = ()  # ((op, attrs), ...) fused elementwise epilogue

    @property
    def is_source(self) -> bool:
        return self.op in SOURCES


@dataclass
class Graph:
    nodes: list[Node]
    outputs: list[str]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    # set by ir.passes.optimize: the translation validator's record that every pass
    # preserved the denotation (certnn.ir.validate.Witness); not part of the graph
    witness: object = field(default=None, compare=False, repr=False)

    # ---- lookup --------------------------------------------------------------------------
    def node(self, nid: str) -> Node:
        for n in self.nodes:
            if n.id == nid:
                return n
        raise GraphError(f"no node '{nid}'")

    @property
    def inputs(self) -> list[Node]:
        return [n for n in self.nodes if n.op == "input"]

    @property
    def params(self) -> list[Node]:
        return [n for n in self.nodes if n.op == "param"]

    def ops_used(self) -> set[str]:
        used = {n.op for n in self.nodes if not n.is_source}
        return used | {op for n in self.nodes for op, _ in n.post}

    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.id)
        return out

    def copy(self) -> "Graph":
        return Graph([replace(n, attrs=dict(n.attrs)) for n in self.nodes], list(self.outputs), dict(self.arrays))

    # ---- validation and shape inference -----------------------------------------------------
    def validate(self) -> "Graph":
        """Reject a malformed graph before anything runs: duplicate ids, dangling
        or forward references (cycles), unknown ops (all listed at once), bad
        attributes, arrays missing or of the wrong shape, and shapes that the ops'
        shape rules do not reproduce. Normalises attributes in place."""
        unknown = sorted({n.op for n in self.nodes if not n.is_source and not _known(n.op)}
                         | {op for n in self.nodes for op, _ in n.post if not _known(op)})
        if unknown:
            raise GraphError(f"graph uses unknown op(s): {', '.join(unknown)}")
        seen: dict[str, Node] = {}
        ids = {n.id for n in self.nodes}
        for n in self.nodes:
            if n.id in seen:
                raise GraphError(f"duplicate node id '{n.id}'")
            for i in n.inputs:
                if i not in seen:
                    kind = "a cycle or forward reference" if i in ids else "a dangling reference"
                    raise GraphError(f"node '{n.id}' ({n.op}) uses '{i}' before it is defined: {kind}")
            self._check_node(n, [seen[i] for i in n.inputs])
            seen[n.id] = n
        if not self.outputs:
            raise GraphError("graph has no outputs")
        for o in self.outputs:
            if o not in seen:
                raise GraphError(f"output '{o}' is not a node")
        return self

    def _check_node(self, n: Node, ins: list[Node]) -> None:
        n.shape = tuple(n.shape)
        if n.is_source:
            if n.inputs:
                raise GraphError(f"{n.op} node '{n.id}' cannot have inputs")
            if n.op in ("param", "const"):
                if n.id not in self.arrays:
                    raise GraphError(f"{n.op} node '{n.id}' has no array")
                a = self.arrays[n.id]
                if tuple(a.shape) != n.shape or str(a.dtype) != n.dtype:
                    raise GraphError(f"{n.op} node '{n.id}': array is {a.dtype}{fmt(a.shape)}, "
                                     f"node says {n.dtype}{fmt(n.shape)}")
            return
        try:
            op = get_op(n.op)
            op.check_arity(len(ins))
            n.attrs = op.normalize(n.attrs)
            shape = tuple(op.shape([i.shape for i in ins], **n.attrs))
            post = []
            for pop, pattrs in n.post:
                p = get_op(pop)
                if not p.elementwise or p.arity != (1,):
                    raise GraphError(f"node '{n.id}': fused op '{pop}' is not elementwise unary")
                post.append((pop, p.normalize(pattrs)))
            n.post = tuple(post)
        except GraphError:
            raise
        except CertnnError as e:
            raise GraphError(f"node '{n.id}' ({n.op}): {e}") from None
        if n.shape and shape != n.shape:
            raise GraphError(f"node '{n.id}' ({n.op}): declared shape {fmt(n.shape)} but the inputs "
                             f"{', '.join(fmt(i.shape) for i in ins)} give {fmt(shape)}")
        n.shape = shape
        n.dtype = infer_dtype(ins)


def _known(op: str) -> bool:
    try:
        get_op(op)
        return True
    except MissingRuleError:
        return False


def infer_dtype(ins: list[Node]) -> str:
    for i in ins:
        if np.dtype(i.dtype).kind == "f":
            return i.dtype
    return ins[0].dtype if ins else "float32"
