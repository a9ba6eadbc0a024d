"""Translation validation (certnn.ir.validate): every compile carries a witness
that each pass preserved the denotation; a wrong constant fold, a dropped live
node and a reordered fusion are each rejected, and so are other rewrites that
are neither a fold nor a fusion."""

import numpy as np
import pytest

from certnn.ir import Graph, Node, optimize
from certnn.ir.compile import compile
from certnn.ir.passes import DEFAULT_PASSES, dead_code, fold_constants, fuse_activations
from certnn.ir.validate import ValidationError, Witness, check_step
from certnn.proofs.compiler import MUTATIONS, chain_graph, drop_live, folding_graph, reorder_fusion, wrong_fold

from ..zoo_models import build_all


def test_every_compile_carries_a_witness_of_every_pass():
    for name, module, x in build_all():
        w = compile(module, x).witness
        assert isinstance(w, Witness) and w.evidence == "checked", name
        assert [s.pass_name for s in w.steps] == [p.__name__ for p in DEFAULT_PASSES], name
        assert "compile/translation-validation" in w.theorems
    assert compile(build_all()[0][1], build_all()[0][2], optimize_graph=False).witness is None


def test_the_witness_says_what_each_pass_did():
    w = optimize(folding_graph()).witness
    dce, fold, fuse = w.steps
    assert dce.removed == ("dead",) and not dce.folded
    assert fold.folded == ("s",) and set(fold.removed) == {"c1", "c2"}      # the inputs of the fold
    assert fuse.fused == (("z", ("y", "z")),)
    assert "validated in" in w.summary() and w.to_dict()["steps"][1]["folded"] == ["s"]
    w = optimize(chain_graph()).witness
    assert w.steps[2].fused == (("s", ("h", "t", "s")),)                   # base first, in order


@pytest.mark.parametrize("what", list(MUTATIONS))
def test_a_mutated_pass_is_rejected(what):
    mutated, build = MUTATIONS[what]
    with pytest.raises(ValidationError):
        optimize(build(), (mutated,))


def test_the_rejections_name_the_problem():
    g = folding_graph()
    with pytest.raises(ValidationError, match="'s' \\(add\\) was folded to a constant that is not what its real"):
        check_step(g, wrong_fold(g))
    with pytest.raises(ValidationError, match="uses 's', which the pass removed"):
        check_step(g, drop_live(g))
    g = chain_graph()
    with pytest.raises(ValidationError, match="not the original chain"):
        check_step(g, reorder_fusion(g))


def _rewired(g):
    """Drop the relu and let the output read its input: a live node dropped by rewiring."""
    nodes = [n for n in g.nodes if n.op != "relu"]
    return Graph(nodes, [nodes[-1].id], g.arrays)


@pytest.mark.parametrize("rewrite,match", [
    (lambda g: Graph(g.nodes, ["y"], g.arrays), "outputs changed"),
    (lambda g: Graph([Node("x", "input", shape=(None, 4), dtype="float32")] + g.nodes[1:], g.outputs, g.arrays),
     "inputs changed"),
    (lambda g: Graph([n if n.id != "y" else Node("y", "sub", n.inputs, {}, n.shape, n.dtype) for n in g.nodes],
                     g.outputs, g.arrays), "'y' \\(sub\\) differs from the original"),
    (lambda g: Graph(g.nodes, g.outputs, {**g.arrays, "c1": g.arrays["c1"] * 2}), "'c1' \\(const\\) differs"),
    (lambda g: Graph([n for n in g.nodes if n.id != "z"], ["y"], g.arrays), "outputs changed"),
])
def test_other_changes_are_rejected(rewrite, match):
    g = folding_graph()
    with pytest.raises(ValidationError, match=match):
        check_step(g, rewrite(g))


def test_fusing_a_value_used_twice_is_rejected():
    g = Graph([Node("x", "input", shape=(None, 2), dtype="float32"), Node("w", "param", shape=(2, 2), dtype="float32"),
               Node("h", "linear", ("x", "w")), Node("r", "relu", ("h",)), Node("o", "add", ("r", "h"))],
              ["o"], {"w": np.eye(2, dtype=np.float32)}).validate()
    fused = Graph([g.nodes[0], g.nodes[1], Node("r", "linear", ("x", "w"), {}, (None, 2), "float32", (("relu", {}),)),
                   Node("o", "add", ("r", "h"), {}, (None, 2), "float32")], ["o"], g.arrays)
    with pytest.raises(ValidationError):
        check_step(g, fused)
    assert check_step(g, fuse_activations(g)).fused == ()        # the real pass leaves it alone


def test_the_real_passes_are_accepted_one_by_one():
    for p in (dead_code, fold_constants, fuse_activations):
        g = folding_graph()
        check_step(g, p(g), p.__name__)
