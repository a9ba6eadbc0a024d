"""Compiled mode: ``certnn.compile(module, example_input)`` traces the module to
the IR, optimises the graph (passes that never reassociate float operations) and
returns a callable. Its forward runs the graph interpreter; its backward runs the
graph's reverse sweep as one tape entry, so eager and compiled results are equal
bit for bit (float32 and float64).

A module with BatchNorm layers in training mode compiles with
``batch_statistics=True``: the graph holds their ``batch_norm_train`` ops, and
each call then updates the layers' running statistics from that call's batch,
as the eager forward does (same bits). Such a compiled module refuses to run
once the layers are in eval mode (compile the eval-mode module for that)."""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError
from ..tensor import Tensor, TapeNode, _flag
from .graph import Graph
from .interpret import backward, backward_plan, evaluate
from .passes import optimize
from .printer import to_text
from .trace import trace
# Tensor, TapeNode, _flag


class _GraphCall:
    """Tape entry of one compiled call: its vjp is the graph's backward sweep."""

    name = "compiled_graph"

    def __init__(self, graph, values, chains, source_ids, plan):
        self.graph, self.values, self.chains, self.source_ids, self.plan = graph, values, chains, source_ids, plan

    def is_differentiable(self, i: int) -> bool:
        return True

    def vjp(self, ct, out, *inputs):
        grads = backward(self.graph, self.values, self.chains, {self.graph.outputs[0]: ct},
                         set(self.source_ids), self.plan)
        return tuple(grads.get(s) for s in self.source_ids)


class CompiledModule:
    def __init__(self, module, graph: Graph, bindings: dict[str, Tensor], updates=()):
        self.module, self.graph, self.bindings = module, graph, bindings
        self.input_id = graph.inputs[0].id
        self.updates = list(updates)   # (node id, layer): layer.update_running_stats(value of the node)
        self._plans = {}               # source ids -> the backward sweep's plan, resolved once

    def __call__(self, x) -> Tensor:
        xt = x if isinstance(x, Tensor) else Tensor(x)
        arrays = dict(self.graph.arrays)
        for k, t in self.bindings.items():
            if k in arrays:
                arrays[k] = t.data  # live values: training updates are seen
        sources = [(self.input_id, xt)] if xt.requires_grad else []
        sources += [(k, t) for k, t in self.bindings.items() if t.requires_grad and k in arrays]
        grad = _flag("grad") and bool(sources)
        for _, layer in self.updates:
            if not layer.training:
                raise CertnnError("this module was compiled in training mode (batch statistics) and is now in "
                                  "eval mode: compile the eval-mode module to run it")
        outs, values, chains = evaluate(self.graph, {self.input_id: xt.data}, arrays, keep_chains=grad)
        for nid, layer in self.updates:
            layer.update_running_stats(values[nid])
        out = Tensor(outs[0])
        if grad:
            ids = tuple(k for k, _ in sources)
            if ids not in self._plans:
                self._plans[ids] = backward_plan(self.graph, ids)
            out.node = TapeNode(_GraphCall(self.graph, values, chains, ids, self._plans[ids]),
                                [t for _, t in sources], {})
            out.requires_grad = True
        return out

    @property
    def witness(self):
        """The translation validator's record for this graph's passes (None when
        compiled with ``optimize_graph=False``): see :mod:`certnn.ir.validate`."""
        return self.graph.witness

    def text(self) -> str:
        return to_text(self.graph)

    def __repr__(self):
        return f"CompiledModule({type(self.module).__name__}, {len(self.graph.nodes)} nodes)"


def compile(module, example_input, optimize_graph: bool = True, dynamic_batch: bool = True,  # noqa: A001
            batch_statistics: bool = False) -> CompiledModule:
    graph, bindings = trace(module, np.asarray(example_input), dynamic_batch=dynamic_batch,
                            batch_statistics=batch_statistics)
    if optimize_graph:
        graph = optimize(graph)
    return CompiledModule(module, graph, bindings, _running_stats_updates(module, graph, bindings))


def _running_stats_updates(module, graph: Graph, bindings: dict[str, Tensor]):
    """(input node id, layer) of each batch_norm_train node: the layer is the module
    whose weight the node's weight input is bound to."""
    owner = {id(m.weight): m for _, m in module.named_modules() if hasattr(m, "update_running_stats")}
    return [(n.inputs[0], owner[id(bindings[n.inputs[1]])]) for n in graph.nodes if n.op == "batch_norm_train"]
