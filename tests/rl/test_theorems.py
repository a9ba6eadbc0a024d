"""The theorem registry entries of certnn.rl: every proof re-runs and proves; wrong statements are refuted."""

import pytest

from certnn.proofs.audit import registered
from certnn.rl import theorems as th


@pytest.mark.parametrize("theorem", th.THEOREMS, ids=lambda t: t.name)
def test_every_theorem_is_proved(theorem):
    res = theorem.proof()
    assert theorem.evidence == "proved" and res.evidence == "proved", res.detail
    for name in theorem.assumptions:
        assert name in th.ASSUMPTIONS or name in {t.name for t in th.THEOREMS}


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
