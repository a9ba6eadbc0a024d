"""Every BugZoo card: the contract fails on the buggy implementation for a
documented reason, holds on certnn's, and stops catching the bug when it is
weakened (so the strictness of each contract is what catches the bug)."""

import inspect

import pytest

from certnn.bugzoo import MODULES, cards, get
from certnn.bugzoo.card import EVIDENCE, Card, Findings, run_card

CARDS = cards()


@pytest.fixture(scope="module")
def weakened():
    return {c.name: run_card(c, weaken=True, with_torch=False) for c in CARDS}


def test_fifteen_cards_in_order():
    assert [c.number for c in CARDS] == list(range(1, 16))
    assert len({c.name for c in CARDS}) == 15 and len(MODULES) == 15


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.name)
def test_card_metadata(card):
    m = card.module
    assert card.evidence in EVIDENCE and card.reports and card.documented and card.contract
    assert m.__doc__ and "Reports" in m.__doc__ and "``buggy``" in m.__doc__ and "``fixed``" in m.__doc__
    assert m.WEAKENED, "a card must say how its contract is weakened"
    # the weakening knobs are real parameters of the contract
    assert set(m.WEAKENED) <= set(inspect.signature(m.contract).parameters)
    assert inspect.signature(m.buggy).parameters.keys() == inspect.signature(m.fixed).parameters.keys()


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.name)
def test_card_reproduces_catches_and_fixes(card, results):
    r = results[card.name]
    assert r.error is None, r.error
    assert r.caught, f"the contract accepts the buggy implementation: {r.buggy.details}"
    assert r.reproduced, f"the buggy implementation fails for an undocumented reason: {r.buggy.failures}"
    assert r.fixed, f"certnn fails its own contract: {r.fixed_verdict.details}"
    assert r.passed


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.name)
def test_weakened_contract_lets_the_bug_through(card, weakened):
    """Mutating the contract's tolerance or identity (the card's WEAKENED settings)
    makes it accept the buggy output, so the card fails: the strict contract is
    what catches the bug, and certnn still passes the weaker one."""
    r = weakened[card.name]
    assert r.buggy.holds, f"the weakened contract still rejects the buggy output: {r.buggy.details}"
    assert r.fixed and not r.passed


def test_a_contract_that_cannot_run_fails_its_card(monkeypatch):
    card = get("4")

    def broken(impl, **kw):
        raise RuntimeError("no data")
    monkeypatch.setattr(card.module, "contract", broken)
    r = run_card(Card.of(card.module), with_torch=False)
    assert not r.passed and r.error == "RuntimeError: no data"
    assert r.to_dict()["certnn"]["failures"] == ["contract-error"]


def test_get_by_number_and_name():
    assert get("3").name == get("rope-position").name == get("rope_position").name == "rope-position"
    from certnn.errors import CertnnError
    with pytest.raises(CertnnError, match="unknown card '16'"):
        get("16")


def test_findings_keep_one_line_per_failure_kind():
    f = Findings()
    f.check(False, "a", "first")
    f.check(False, "a", "second")
    f.check(True, "b", "never")
    v = f.verdict()
    assert v.failures == ("a",) and v.details == ("a: first",) and not v.holds


def test_camera_enclosure_is_ibp_of_the_projection_graph():
    """Without the domain check, IBP itself gives no finite enclosure across the camera plane."""
    import numpy as np

    from certnn.bounds import compute_bounds
    from certnn.bugzoo import camera_projection as cam
    from certnn.spec import Region
    g = cam._pinhole_graph(cam.CAMERA)
    b = compute_bounds(g, Region.box(np.array([[0.2, 0.1, -0.5]]), np.array([[0.5, 0.4, 1.0]])), method="ibp")
    assert np.isinf(b.lb).all() and np.isinf(b.ub).all()
    ul, uh, vl, vh = cam.fixed((0.1, 0.1, 0.5), (0.2, 0.3, 1.0), cam.CAMERA)
    assert ul <= 800 * 0.1 / 1.0 + 320 and uh >= 800 * 0.2 / 0.5 + 320 and uh - ul < 241
