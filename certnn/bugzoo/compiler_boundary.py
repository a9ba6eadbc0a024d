"""Card 9, compiler boundary: a compiled graph computes what the IR means. A
wrong optimisation, here a reassociating fusion of two constant additions,
(x + c1) + c2 -> x + (c1 + c2), changes binary32 results silently; certnn's
translation validator (:mod:`certnn.ir.validate`) rejects it.

Reports: NNSmith (Liu et al., ASPLOS 2023): dozens of silent wrong-result bugs
in deep-learning compilers (TVM, TensorRT, ONNX Runtime), many from algebraic
rewrites; arXiv 2604.08720 on silent correctness bugs in the PyTorch compiler
(fusions and reorderings that change floating-point results).

``buggy``: the reassociation followed by certnn's ordinary passes. ``fixed``:
certnn's passes (:data:`certnn.ir.passes.DEFAULT_PASSES`: dead code, constant
folding, activation fusion), none of which reassociates.
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 9
TITLE = "Compiler boundary"
FAMILY = "graph compilers: rewrites that change floating-point results"
REPORTS = ("NNSmith (Liu et al., ASPLOS 2023): silent wrong results in DL compilers",
           "arXiv 2604.08720: silent correctness bugs in the PyTorch compiler")
CONTRACT = ("the optimised graph's binary32 outputs equal the traced graph's bit for bit on the test "
            "inputs, and the translation validator (check_step) accepts the rewrite")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("wrong-output",)
WEAKENED = {"tol": 1e-6, "validate": False}

_TINY = 2.0 ** -24             # half an ulp of 1.0: (1 + t) + t rounds to 1, 1 + (t + t) does not


def graph():
    """relu((x + c1) + c2), x (N, 3)."""
    from ..ir.graph import Graph, Node
    nodes = [Node("x", "input", shape=(None, 3), dtype="float32"),
             Node("c1", "const", shape=(3,), dtype="float32"), Node("c2", "const", shape=(3,), dtype="float32"),
             Node("a", "add", ("x", "c1"), shape=(None, 3)), Node("b", "add", ("a", "c2"), shape=(None, 3)),
             Node("y", "relu", ("b",), shape=(None, 3))]
    arrays = {"c1": np.array([_TINY, 0.1, -3.0], np.float32), "c2": np.array([_TINY, 0.2, 1.0], np.float32)}
    return Graph(nodes, ["y"], arrays).validate()


def _passes(g):
    from ..ir.passes import DEFAULT_PASSES
    for p in DEFAULT_PASSES:
        g = p(g)
    return g


def reassociate(g):
    """add(add(x, c1), c2) with constants c1, c2 -> add(x, c1 + c2): the fast-math rewrite."""
    from ..ir.graph import Graph, Node
    byid = {n.id: n for n in g.nodes}
    nodes, arrays = [], dict(g.arrays)
    for n in g.nodes:
        if n.op == "add" and n.inputs[1] in arrays and byid[n.inputs[0]].op == "add" \
                and byid[n.inputs[0]].inputs[1] in arrays:
            inner = byid[n.inputs[0]]
            cid = f"{n.id}_c"
            arrays[cid] = (arrays[inner.inputs[1]] + arrays[n.inputs[1]]).astype(np.float32)
            nodes.append(Node(cid, "const", shape=arrays[cid].shape, dtype="float32"))
            n = Node(n.id, "add", (inner.inputs[0], cid), n.attrs, n.shape, n.dtype, n.post)
        nodes.append(n)
    return Graph(nodes, list(g.outputs), arrays)


def buggy(g):
    return _passes(reassociate(g))


def fixed(g):
    return _passes(g)


def contract(impl, tol: float = 0.0, validate: bool = True):
    from ..ir.run import run
    from ..ir.validate import ValidationError, check_step
    f = Findings()
    g = graph()
    x = np.array([[1.0, 1.0, 2.5], [-1.0, 3.0, 0.5], [1.0, 1e-8, 2.0]], np.float32)
    out = impl(g)
    y0, y1 = (np.asarray(run(h, x, semantics="binary32")) for h in (g, out))
    diff = float(np.max(np.abs(y1.astype(np.float64) - y0) / np.maximum(np.abs(y0), 1e-30)))
    same = np.array_equal(y0.view(np.uint32), y1.view(np.uint32)) if tol == 0 else diff <= tol
    f.check(same, "wrong-output", lambda: f"the optimised graph computes {y1.ravel()[:3]} where the IR means "
                                          f"{y0.ravel()[:3]} (relative difference {diff:.3g})")
    if validate:
        try:
            step = check_step(g, out, impl.__name__)
            f.note(validator=f"accepted: {len(step.folded)} folded, {len(step.fused)} fused, "
                             f"{len(step.removed)} removed")
        except ValidationError as exc:
            f.fail("validator-rejects", str(exc))
            f.note(validator=f"rejected: {exc}")
    f.note(max_relative_difference=diff)
    return f.verdict("bit-identical outputs; the translation validator accepts the rewrite")
