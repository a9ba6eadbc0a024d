"""Opt-in strict broadcasting (BugZoo card 8): an outer broadcast such as
(N,) - (N, 1) -> (N, N) is refused with the shapes named, eagerly, while
tracing and when a graph is validated; ordinary broadcasts are allowed."""

import numpy as np
import pytest

import certnn.functional as F
from certnn import nn
from certnn.errors import CertnnError, ShapeError
from certnn.ir import trace
from certnn.tensor import Tensor

PRED, TARGET = Tensor(np.ones(5)), Tensor(np.ones((5, 1)))


def test_outer_broadcast_refused_with_the_shapes_named():
    with F.strict_broadcast(), pytest.raises(ShapeError, match=r"sub: operands \(5,\), \(5, 1\) broadcast to \(5, 5\)"):
        PRED - TARGET


def test_outside_the_context_numpy_rules_apply():
    assert (PRED - TARGET).shape == (5, 5)
    with F.strict_broadcast():
        pass
    assert (PRED - TARGET).shape == (5, 5)      # the flag is restored


def test_broadcasts_that_keep_an_operand_shape_are_allowed():
    with F.strict_broadcast():
        assert (Tensor(np.ones((4, 3))) + Tensor(np.ones(3))).shape == (4, 3)
        assert (Tensor(np.ones((4, 3))) * 2.0).shape == (4, 3)


def test_refused_while_tracing():
    class Outer(nn.Module):
        def forward(self, x):
            return x - Tensor(np.ones((3, 1), np.float32))
    with F.strict_broadcast(), pytest.raises(ShapeError, match=r"\(3, 1\)"):
        trace(Outer(), np.ones((1, 3), np.float32), dynamic_batch=False)


def test_refused_when_a_graph_is_validated():
    from certnn.ir.graph import Graph, Node
    nodes = [Node("p", "input", shape=(None,), dtype="float32"), Node("t", "const", shape=(4, 1), dtype="float32"),
             Node("d", "sub", ("p", "t"))]
    g = Graph(nodes, ["d"], {"t": np.ones((4, 1), np.float32)})
    g.validate()                                            # NumPy rules: (N,) - (4, 1) -> (4, N)
    with F.strict_broadcast(), pytest.raises(CertnnError, match=r"node 'd' \(sub\).*\(N,\), \(4, 1\)"):
        g.validate()
