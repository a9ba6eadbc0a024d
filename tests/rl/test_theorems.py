"""The theorem registry entries of certnn.rl: every proof re-runs and proves; wrong statements are refuted."""

import pytest

from certnn.proofs.audit import registered
from certnn.rl import theorems as th


def test_the_registry_holds_the_rl_theorems():
    from certnn.proofs.theorems import registered
    table = registered()
    for t in th.THEOREMS:
        assert table[t.name].module == "certnn.rl.theorems" and t.evidence == "proved"


# the quick ones are re-run by tests/proofs/test_theorems.py::test_quick_proofs_pass
@pytest.mark.parametrize("theorem", [t for t in th.THEOREMS if not t.quick], ids=lambda t: t.name)
def test_the_slow_theorems_are_proved(theorem):
    assert "proved" in theorem.prove()


@pytest.mark.parametrize("theorem", th.THEOREMS, ids=lambda t: t.name)
def test_every_theorem_states_its_premises(theorem):
    assert theorem.covers and theorem.domain
    for name in th.PREMISES[theorem.name]:
        assert name in th.ASSUMPTIONS or name in {t.name for t in th.THEOREMS}
        assert name in theorem.domain


def test_results_name_registered_theorems():
    from certnn.rl.solve import forest, value_iteration
    names = {t.name for t in th.THEOREMS}
    assert set(value_iteration(forest(), 0.1).theorems) <= names


def test_a_failed_proof_raises():
    bad = th._detail(lambda: th.ProofResult("a claim", "refuted", 0.0, "x = 1"))
    with pytest.raises(th.ProofFailed, match="a claim: refuted"):
        bad()


def test_a_false_contraction_bound_is_refuted():
    import z3
    rho, m = z3.Reals("rho m")
    p, d = z3.RealVector("p", 2), z3.RealVector("d", 2)
    e = p[0] * d[0] + p[1] * d[1]
    hyps = [x >= 0 for x in p] + [p[0] + p[1] <= rho] + [z3.And(x <= m, -x <= m) for x in d]
    res = th._z3_unsat("half the modulus", hyps, e <= rho * m / 2, True)
    assert res.evidence == "refuted"


def test_assumptions_are_registered_for_the_audit():
    reg = registered()
    for name in th.ASSUMPTIONS:
        assert reg[name].registry == "certnn.rl.theorems"
    from certnn.rl import contract
    assert reg[contract.ENV_TRANSITION].registry == "certnn.rl.contract"
