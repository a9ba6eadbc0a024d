"""The compiler: translation validation on every compile, and one proved lemma
per fusion pattern. Together they are certnn's counterpart of TorchLean's
``execGraphOfIR_semantics_eq`` (the compiled graph denotes the traced one).

``compile/translation-validation`` (``checked``): every call of
:func:`certnn.ir.passes.optimize` (so every ``certnn.compile``) runs the
validator of :mod:`certnn.ir.validate` after each pass. Re-running the theorem
compiles models that exercise every pass and checks their witnesses, then runs
three wrong passes (a constant folded to a wrong value, dead-code elimination
that drops a live node, a fusion that reorders its epilogue) and requires the
validator to reject each.

``fusion/<base>+<act>`` (``proved``): the interpreters evaluate a fused node
(``base`` with epilogue ``act``) and differentiate through it exactly as the
unfused pair ``base -> act``: on symbolic inputs, weights and bias, the value and
every gradient of the fused graph equal those of the unfused graph, and the value
equals the composition of the ops' sympy forms. One theorem per elementwise
unary op (the ops the fusion pass may fuse), on each side of 0.
"""

from __future__ import annotations

import numpy as np
import sympy

from ..errors import GraphError
from ..ir import Graph, Node, backward, evaluate
from ..ir.passes import DEFAULT_PASSES, dead_code, fold_constants, fuse_activations, optimize
from ..ir.validate import ValidationError
from ..ops import all_ops, get_op
from . import symbolic as S
from .theorems import ProofFailed, Theorem

# ---- the fusion lemmas -----------------------------------------------------------------

_BASES = {   # base op -> (input shape, weight shape): one output element, so one pre-activation
    "linear": ((1, 2), (1, 2)),
    "conv2d": ((1, 1, 2, 2), (1, 1, 2, 2)),
}


def _chain_graph(base: str, acts: tuple[str, ...]) -> Graph:
    xs, ws = _BASES[base]
    nodes = [Node("x", "input", shape=xs, dtype="float64"), Node("w", "param", shape=ws, dtype="float64"),
             Node("b", "param", shape=(1,), dtype="float64"), Node("h", base, ("x", "w", "b"))]
    prev = "h"
    for k, act in enumerate(acts):
        nodes.append(Node(f"a{k}", act, (prev,), get_op(act).normalize({})))
        prev = f"a{k}"
    return Graph(nodes, [prev], {"w": np.zeros(ws), "b": np.zeros(1)}).validate()


def prove_fusion(base: str, acts: tuple[str, ...]) -> str:
    g = _chain_graph(base, acts)
    fused = fuse_activations(g)
    if len(fused.nodes) != 4 or [op for op, _ in fused.nodes[-1].post] != list(acts):
        raise ProofFailed(f"the fusion pass did not fuse {base} -> {' -> '.join(acts)}")
    xs, ws = _BASES[base]
    x, w = S.symbols("x", xs), S.symbols("w", ws)
    h0 = S.objects(get_op(base).real(x, w, **g.node("h").attrs)).ravel()[0]   # the pre-activation without bias
    for sign in ("positive", "negative"):
        t = sympy.Symbol("t", **{sign: True})       # the pre-activation, of a known sign
        arrays = {"w": w, "b": np.array([t - h0], dtype=object)}
        v = S.symbols("v", g.node(g.outputs[0]).shape)
        results = []
        for graph in (g, fused):
            outs, values, chains = evaluate(graph, {"x": x}, arrays, keep_chains=True)
            grads = backward(graph, values, chains, {graph.outputs[0]: v}, {"x", "w", "b"})
            results.append((outs[0], grads))
        (y, gu), (yf, gf) = results
        where = f"{base} -> {' -> '.join(acts)}, pre-activation {sign}"
        S.require_equal_arrays(yf, y, f"{where}: fused value")
        for k in ("x", "w", "b"):
            S.require_equal_arrays(gf[k], gu[k], f"{where}: fused gradient of {k}")
        composed = t
        for act in acts:
            composed = get_op(act).sympy_form(composed, **get_op(act).normalize({}))
        S.require_zero(S.objects(yf).ravel()[0] - composed, f"{where}: fused value - composed sympy forms")
    return "value and gradients equal, both signs of the pre-activation"


def _fusion_theorem(base: str, acts: tuple[str, ...], quick=True) -> Theorem:
    chain = " -> ".join(acts)
    return Theorem(
        name=f"fusion/{base}+{'+'.join(acts)}",
        statement=(f"a {base} node with fused epilogue {chain} evaluates and back-propagates exactly as the "
                   f"unfused nodes {base} -> {chain} (certnn.ir.interpret.evaluate/backward on symbols), and "
                   f"its value is the composition of the ops' sympy forms"),
        evidence="proved",
        covers=("certnn.ir.passes.fuse_activations", "certnn.ir.interpret.evaluate (epilogues)",
                "certnn.ir.interpret.backward (epilogues)") + tuple(f"op {a} (real, vjp, sympy_form)" for a in acts),
        domain=(f"input {_BASES[base][0]}, weight {_BASES[base][1]}, one output: all real inputs and weights, "
                "the pre-activation > 0 and < 0 (not exactly at a kink); other bases and shapes: the "
                "interpreters treat every base op alike, by the structure of the code"),
        prove=lambda: prove_fusion(base, acts), quick=quick)


_ACTIVATIONS = [op.name for op in all_ops() if op.elementwise and op.arity == (1,) and op.sympy_form is not None]

# ---- translation validation ---------------------------------------------------------------


def folding_graph() -> Graph:
    """x * (c1 + c2) + dead: a constant to fold and a node nobody uses."""
    nodes = [Node("x", "input", shape=(None, 3), dtype="float32"),
             Node("c1", "const", shape=(3,), dtype="float32"), Node("c2", "const", shape=(3,), dtype="float32"),
             Node("s", "add", ("c1", "c2")), Node("y", "mul", ("x", "s")), Node("dead", "exp", ("x",)),
             Node("z", "relu", ("y",))]
    arrays = {"c1": np.array([0.1, 0.2, 0.3], np.float32), "c2": np.array([1.0, -2.0, 0.7], np.float32)}
    return Graph(nodes, ["z"], arrays).validate()


def chain_graph() -> Graph:
    """linear -> tanh -> sigmoid: a two-op epilogue."""
    nodes = [Node("x", "input", shape=(None, 2), dtype="float32"),
             Node("w", "param", shape=(3, 2), dtype="float32"), Node("h", "linear", ("x", "w")),
             Node("t", "tanh", ("h",)), Node("s", "sigmoid", ("t",))]
    return Graph(nodes, ["s"], {"w": np.ones((3, 2), np.float32)}).validate()


def wrong_fold(g: Graph) -> Graph:
    """Constant folding whose first folded constant is off by one ulp."""
    out = fold_constants(g)
    folded = [n.id for n in out.nodes if n.op == "const" and n.id not in g.arrays]
    arrays = dict(out.arrays)
    a = arrays[folded[0]]
    arrays[folded[0]] = np.nextafter(a, np.inf).astype(a.dtype)
    return Graph(out.nodes, out.outputs, arrays)


def drop_live(g: Graph) -> Graph:
    """Dead-code elimination that forgets the first operation feeding an output."""
    out = dead_code(g)
    victim = next(n.id for n in out.nodes if not n.is_source)
    return Graph([n for n in out.nodes if n.id != victim], out.outputs, out.arrays)


def reorder_fusion(g: Graph) -> Graph:
    """Fusion that applies a fused epilogue in the reverse order."""
    out = fuse_activations(g)
    nodes = [Node(n.id, n.op, n.inputs, n.attrs, n.shape, n.dtype, tuple(reversed(n.post))) for n in out.nodes]
    return Graph(nodes, out.outputs, out.arrays)


MUTATIONS = {"a wrong constant fold": (wrong_fold, folding_graph), "a dropped live node": (drop_live, folding_graph),
             "a reordered fusion": (reorder_fusion, chain_graph)}


def prove_translation_validation() -> str:
    import certnn
    from .. import zoo
    seen = {"removed": 0, "folded": 0, "fused": 0}
    graphs = [folding_graph(), chain_graph()]
    for module, x in ((zoo.mlp(6, [5], 3), np.zeros((2, 6), np.float32)),
                      (zoo.cnn(1, 3, width=2, image_size=8), np.zeros((1, 1, 8, 8), np.float32))):
        graphs.append(certnn.compile(module.eval(), x, optimize_graph=False).graph)
    for g in graphs:
        w = optimize(g, DEFAULT_PASSES).witness
        if w is None or [s.pass_name for s in w.steps] != [p.__name__ for p in DEFAULT_PASSES]:
            raise ProofFailed("optimize() returned no witness for every pass")
        for s in w.steps:
            seen["removed"] += len(s.removed)
            seen["folded"] += len(s.folded)
            seen["fused"] += len(s.fused)
    if not all(seen.values()):
        raise ProofFailed(f"the models did not exercise every pass: {seen}")
    for what, (mutated, build) in MUTATIONS.items():
        try:
            optimize(build(), (mutated,))
        except ValidationError:
            continue
        except GraphError as e:
            raise ProofFailed(f"{what}: rejected by the graph check, not the validator: {e}") from None
        raise ProofFailed(f"the validator accepted {what}")
    return (f"{len(graphs)} graphs validated ({seen['removed']} removed, {seen['folded']} folded, "
            f"{seen['fused']} fused); rejected {', '.join(MUTATIONS)}")


THEOREMS = [
    Theorem(
        name="compile/translation-validation",
        statement=("every optimised graph (certnn.compile, certnn.ir.optimize) denotes the same function as the "
                   "traced one: after each pass the validator checks that dead-code elimination removed only "
                   "nodes nothing uses, that each folded constant is the op's real rule re-evaluated on its "
                   "constant inputs (bit for bit), and that each fused node unfuses to exactly the original "
                   "chain in its order; the graph carries the record (graph.witness)"),
        evidence="checked",
        covers=("certnn.ir.validate.check_step", "certnn.ir.passes.optimize", "certnn.ir.passes.dead_code",
                "certnn.ir.passes.fold_constants", "certnn.ir.passes.fuse_activations", "certnn.ir.compile"),
        domain=("checked on every compile, for that graph; re-running it checks the validator on graphs that "
                "exercise every pass and on three wrong passes it must reject. That a fused epilogue computes "
                "the chain is the fusion/* theorems"),
        prove=prove_translation_validation, quick=True),
    *[_fusion_theorem("linear", (act,)) for act in _ACTIVATIONS],
    _fusion_theorem("conv2d", ("relu",)),
    _fusion_theorem("linear", ("tanh", "sigmoid")),
]
