"""Relaxation soundness with z3: the real rules are proved, and a wrong rule or
a parameter outside its range is refuted with a counterexample."""

from dataclasses import replace

import numpy as np
import pytest

from certnn.ops import get_op, registry
from certnn.ops.relax import leaky_relu_relax
from certnn.proofs.relaxations import prove_relaxation
from certnn.proofs.theorems import ProofFailed

pytest.importorskip("z3")


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "abs"])
def test_the_relaxations_are_proved(name):
    assert "all unsat" in prove_relaxation(name)


def test_a_slope_above_one_is_refuted():
    with pytest.raises(ProofFailed, match="counterexample.*negative_slope"):
        prove_relaxation("leaky_relu", slope_range=(0, 2))


def test_an_unclipped_alpha_is_refuted(monkeypatch):
    def unclipped(l, u, alpha=None, mode="adaptive", xp=np):
        lw, lb, uw, ub = leaky_relu_relax(l, u, alpha=alpha, mode=mode, negative_slope=0.0, xp=xp)
        return (alpha if alpha is not None else lw), lb, uw, ub
    monkeypatch.setitem(registry._REGISTRY, "relu", replace(get_op("relu"), relax=unclipped))
    with pytest.raises(ProofFailed, match="counterexample"):
        prove_relaxation("relu")


def test_the_numpy_rule_is_unchanged_by_the_namespace():
    rng = np.random.default_rng(0)
    l = rng.uniform(-2, 1, 50)
    u = l + rng.uniform(0, 2, 50)
    lw, lb, uw, ub = leaky_relu_relax(l, u, negative_slope=0.1)
    x = l + (u - l) * rng.uniform(0, 1, 50)
    f = np.where(x > 0, x, 0.1 * x)
    assert np.all(lw * x + lb <= f + 1e-12) and np.all(f <= uw * x + ub + 1e-12)
