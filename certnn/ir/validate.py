"""Translation validation of the graph passes (:mod:`certnn.ir.passes`).

After every pass, :func:`check_step` compares the graph the pass returned with
the graph it was given and either returns a :class:`Step` saying what changed or
raises :class:`ValidationError`. It does not import or trust the passes: it
derives what happened from the two graphs alone. Every node of the new graph
must be one of

* **kept**: a node of the old graph, unchanged (op, inputs, attributes,
  epilogue, shape, dtype, and for a parameter or constant the same array);
* **folded**: a constant replacing a node of the old graph whose inputs are all
  constants; the validator re-evaluates that node's ``real`` rule (and its
  epilogue) on them and requires the very same array, bit for bit;
* **fused**: a node whose epilogue grew; walking back from its id through the
  old graph must give a chain ``base -> act_1 -> ... -> act_k`` of elementwise
  unary ops, each value used only by the next and none an output, whose ops and
  attributes are exactly the new epilogue, in the same order (so the fused node
  unfuses to exactly the original sub-graph).

Besides, the graph interface is unchanged (the same input nodes and outputs),
node ids are unique, and every node only uses nodes defined before it. Every
other old node is **removed**; nothing in the new graph refers to it, so no
output depends on it (dead-code elimination removed only dead nodes).

Why this is the denotation: by induction over the new graph in order, every
node computes the same value as the old node of its id: a kept node applies the
same rule to inputs with the same values; a folded node holds the value the
rule gives on the constants; a fused node applies the rules of the chain in the
chain's order (the interpreters run a fused epilogue through the same ``real``
and ``vjp`` rules as the unfused ops: the ``fusion/*`` theorems prove this per
op). The outputs are the same nodes, so the two graphs denote the same function.
Evidence: ``checked``, on every compile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import GraphError
from ..ops import get_op
from .graph import Graph, Node

THEOREMS_USED = ("compile/translation-validation", "fusion/*")


class ValidationError(GraphError):
    """A pass changed what the graph computes (or the validator cannot tell that it did not)."""


@dataclass(frozen=True)
class Step:
    """What one pass did, as established by the validator."""
    pass_name: str
    kept: int
    removed: tuple[str, ...]                         # node ids no node of the new graph uses
    folded: tuple[str, ...]                          # node ids now constants, each re-evaluated
    fused: tuple[tuple[str, tuple[str, ...]], ...]   # (fused node id, original node ids in order)
    seconds: float

    def to_dict(self) -> dict:
        return {"pass": self.pass_name, "kept": self.kept, "removed": list(self.removed),
                "folded": list(self.folded), "fused": {k: list(v) for k, v in self.fused},
                "seconds": self.seconds}


@dataclass(frozen=True)
class Witness:
    """Every pass of one optimisation, validated: the optimised graph denotes the
    same function as the traced one."""
    steps: tuple[Step, ...]
    evidence: str = "checked"
    theorems: tuple[str, ...] = THEOREMS_USED

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def to_dict(self) -> dict:
        return {"evidence": self.evidence, "theorems": list(self.theorems),
                "steps": [s.to_dict() for s in self.steps]}

    def summary(self) -> str:
        parts = [f"{s.pass_name}: {len(s.removed)} removed, {len(s.folded)} folded, {len(s.fused)} fused"
                 for s in self.steps]
        return "; ".join(parts) + f" (validated in {self.seconds * 1e3:.1f} ms)"


def _same_array(a, b) -> bool:
    if a is b:
        return True
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _same_node(n: Node, m: Node) -> bool:
    return (n.op == m.op and tuple(n.inputs) == tuple(m.inputs) and n.attrs == m.attrs
            and tuple(n.post) == tuple(m.post) and tuple(n.shape) == tuple(m.shape) and n.dtype == m.dtype)


def _consumers(g: Graph) -> dict:
    out: dict = {n.id: [] for n in g.nodes}
    for n in g.nodes:
        for i in n.inputs:
            out.setdefault(i, []).append(n.id)
    return out


def _interface(before: Graph, after: Graph) -> None:
    if list(after.outputs) != list(before.outputs):
        raise ValidationError(f"the outputs changed from {before.outputs} to {after.outputs}")
    old = [(n.id, tuple(n.shape), n.dtype) for n in before.nodes if n.op == "input"]
    new = [(n.id, tuple(n.shape), n.dtype) for n in after.nodes if n.op == "input"]
    if old != new:
        raise ValidationError(f"the graph inputs changed from {old} to {new}")


def _refold(n: Node, old: Node, before: Graph, after: Graph, consts: dict) -> None:
    """``n`` (a constant) replaces ``old``: its array must be ``old``'s rule on constants."""
    missing = [i for i in old.inputs if i not in consts]
    if missing:
        raise ValidationError(f"node '{n.id}' ({old.op}) was folded to a constant, but its input(s) "
                              f"{', '.join(missing)} are not constants")
    y = get_op(old.op).real(*[consts[i] for i in old.inputs], **old.attrs)
    for op, a in old.post:
        y = get_op(op).real(y, **a)
    if n.id not in after.arrays or not _same_array(after.arrays[n.id], y):
        raise ValidationError(f"node '{n.id}' ({old.op}) was folded to a constant that is not what its "
                              f"real rule gives on its constant inputs")


def _unfuse(n: Node, old: dict, consumers: dict, outputs: set) -> tuple[str, ...]:
    """The chain of old nodes that ``n`` fuses, base first; ValidationError unless
    it unfuses to exactly that sub-graph in that order."""
    chain: list[Node] = []
    cur = old.get(n.id)
    while cur is not None and not (cur.op == n.op and tuple(cur.inputs) == tuple(n.inputs)
                                   and cur.attrs == n.attrs and tuple(n.post[:len(cur.post)]) == tuple(cur.post)
                                   and len(cur.post) + len(chain) == len(n.post)):
        op = None if cur.is_source else get_op(cur.op)
        if op is None or not (op.elementwise and op.arity == (1,)) or len(chain) >= len(n.post):
            raise ValidationError(f"node '{n.id}' ({n.op} with epilogue {[p for p, _ in n.post]}) does not "
                                  f"unfuse to its original sub-graph: '{cur.id}' ({cur.op}) is not part of it")
        chain.append(cur)
        cur = old.get(cur.inputs[0])
    if cur is None:
        raise ValidationError(f"node '{n.id}': no original node computes its base {n.op}{tuple(n.inputs)}")
    chain.reverse()
    epilogue = tuple(cur.post) + tuple((c.op, c.attrs) for c in chain)
    if epilogue != tuple(n.post):
        raise ValidationError(f"node '{n.id}': fused epilogue {[p for p, _ in n.post]} is not the original "
                              f"chain {[p for p, _ in epilogue]} in its order")
    last = chain[-1]
    if (tuple(n.shape), n.dtype) != (tuple(last.shape), last.dtype):
        raise ValidationError(f"node '{n.id}': shape/dtype changed by fusion")
    ids = [cur.id] + [c.id for c in chain]
    for a, b in zip(ids, ids[1:]):
        if consumers.get(a) != [b] or a in outputs:
            raise ValidationError(f"node '{n.id}': fused away '{a}', whose value is also used elsewhere "
                                  f"({consumers.get(a)}{', an output' if a in outputs else ''})")
    return tuple(ids)


def check_step(before: Graph, after: Graph, pass_name: str = "pass") -> Step:
    """Validate one pass (see the module docstring); return what it did."""
    t0 = time.perf_counter()
    _interface(before, after)
    old = {n.id: n for n in before.nodes}
    consumers = _consumers(before)
    outputs = set(before.outputs)
    consts = {n.id: before.arrays[n.id] for n in before.nodes if n.op == "const" and n.id in before.arrays}
    defined: set = set()
    kept, folded, fused, absorbed = 0, [], [], set()
    for n in after.nodes:
        if n.id in defined:
            raise ValidationError(f"node id '{n.id}' occurs twice")
        for i in n.inputs:
            if i not in defined:
                why = "which the pass removed" if i in old and i not in {m.id for m in after.nodes} else \
                    "before it is defined"
                raise ValidationError(f"node '{n.id}' ({n.op}) uses '{i}', {why}")
        o = old.get(n.id)
        if o is not None and _same_node(n, o) and (not n.is_source or n.op == "input"
                                                   or _same_array(after.arrays.get(n.id), before.arrays.get(n.id))):
            kept += 1
        elif n.op == "const" and o is not None and not o.is_source:
            _refold(n, o, before, after, consts)
            consts[n.id] = after.arrays[n.id]
            folded.append(n.id)
        elif not n.is_source and len(n.post) > (len(o.post) if o is not None and o.op == n.op else 0):
            ids = _unfuse(n, old, consumers, outputs)
            fused.append((n.id, ids))
            absorbed.update(ids)
        else:
            raise ValidationError(f"node '{n.id}' ({n.op}) differs from the original "
                                  f"({'none' if o is None else o.op}) and is neither a fold nor a fusion")
        defined.add(n.id)
    removed = tuple(n.id for n in before.nodes if n.id not in defined and n.id not in absorbed)
    return Step(pass_name, kept, removed, tuple(folded), tuple(fused), time.perf_counter() - t0)
