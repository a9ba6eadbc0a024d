"""Graph passes. None of them reassociates floating-point operations, so the
rewritten graph computes bit-identical results: dead-code elimination,
constant folding (evaluates a node whose inputs are all constants with the same
``real`` rule the interpreter would use), and fusion of an elementwise unary
activation into the node producing its only input. :func:`optimize` validates
every pass with :mod:`certnn.ir.validate` (translation validation)."""

from __future__ import annotations

from dataclasses import replace

from ..ops import get_op
from .graph import Graph, Node
from .validate import Witness, check_step


def dead_code(g: Graph) -> Graph:
    live = set(g.outputs)
    for n in reversed(g.nodes):
        if n.id in live:
            live.update(n.inputs)
    nodes = [n for n in g.nodes if n.id in live or n.op == "input"]
    keep = {n.id for n in nodes}
    return Graph(nodes, list(g.outputs), {k: v for k, v in g.arrays.items() if k in keep})


def fold_constants(g: Graph) -> Graph:
    kinds = {n.id: n.op for n in g.nodes}
    arrays = dict(g.arrays)
    nodes = []
    for n in g.nodes:
        if not n.is_source and n.inputs and all(kinds[i] == "const" for i in n.inputs):
            y = get_op(n.op).real(*[arrays[i] for i in n.inputs], **n.attrs)
            for op, a in n.post:
                y = get_op(op).real(y, **a)
            arrays[n.id] = y
            kinds[n.id] = "const"
            n = Node(n.id, "const", shape=y.shape, dtype=str(y.dtype))
        nodes.append(n)
    return dead_code(Graph(nodes, list(g.outputs), arrays))


def fuse_activations(g: Graph) -> Graph:
    """``y = act(f(...))`` with ``f``'s result used only by ``act`` becomes one
    node ``f`` with epilogue ``act``, at ``f``'s position and with ``act``'s id
    (so the backward sweep accumulates cotangents in the same order)."""
    consumers = g.consumers()
    outputs = set(g.outputs)
    at: dict[str, Node] = {n.id: n for n in g.nodes}  # position (original id) -> node there
    where: dict[str, str] = {}                          # fused activation id -> position
    for n in g.nodes:
        if n.is_source:
            continue
        op = get_op(n.op)
        src = n.inputs[0]
        pos = where.get(src, src)
        base = at[pos]
        if (op.elementwise and op.arity == (1,) and not base.is_source
                and consumers[src] == [n.id] and src not in outputs):
            at[pos] = replace(base, id=n.id, post=tuple(base.post) + ((n.op, dict(n.attrs)),),
                              shape=n.shape, dtype=n.dtype)
            where[n.id] = pos
    nodes = [at[n.id] for n in g.nodes if n.id not in where]
    return Graph(nodes, list(g.outputs), dict(g.arrays)).validate()


def unfuse(g: Graph) -> Graph:
    """Undo fusion: every epilogue op becomes a node of its own. The last op of
    a chain keeps the fused node's id (so outputs and consumers are unchanged);
    the values before it get ids ``<id>/pre<k>``. Bound propagation and the
    certificate checker work on this form, where each op is one node."""
    nodes = []
    for n in g.nodes:
        if not n.post:
            nodes.append(n)
            continue
        ids = [f"{n.id}/pre{k}" for k in range(len(n.post))] + [n.id]
        nodes.append(replace(n, id=ids[0], post=(), shape=()))
        for k, (op, a) in enumerate(n.post):
            nodes.append(Node(ids[k + 1], op, (ids[k],), dict(a), shape=(), dtype=n.dtype))
    return Graph(nodes, list(g.outputs), dict(g.arrays)).validate()


DEFAULT_PASSES = (dead_code, fold_constants, fuse_activations)


def optimize(g: Graph, passes=DEFAULT_PASSES) -> Graph:
    """Run the passes in order. After each one the translation validator
    (:mod:`certnn.ir.validate`, which does not trust the passes) checks that the
    denotation is unchanged; the result carries its record as ``graph.witness``."""
    steps = []
    for p in passes:
        new = p(g)
        steps.append(check_step(g, new, getattr(p, "__name__", "pass")))
        g = new
    g.witness = Witness(tuple(steps))
    return g
