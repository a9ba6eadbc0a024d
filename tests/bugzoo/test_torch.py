"""The cards about PyTorch's own behaviour judge today's torch with the same
contract (torch is a test oracle only; skipped when it is not installed)."""

import pytest

from certnn.bugzoo import cards

torch = pytest.importorskip("torch")
TORCH_CARDS = [c for c in cards() if c.about_torch]


def test_which_cards_are_about_torch():
    assert {c.name for c in TORCH_CARDS} >= {"attention-mask", "ignored-labels", "autograd-domain",
                                             "batch-invariance"}


@pytest.mark.parametrize("card", TORCH_CARDS, ids=lambda c: c.name)
def test_torch_is_judged_by_the_card_contract(card, results):
    r = results[card.name]
    assert r.passed and r.torch is not None and r.torch["version"] == torch.__version__
    v = r.torch["verdict"]
    # still_shows means: torch fails the contract for one of the documented reasons
    assert r.torch["still_shows"] == any(f in card.documented for f in v["failures"])
    assert v["holds"] == (not v["failures"])


def test_torch_where_division_gradient_is_nan():
    """The autograd-domain card's premise, straight from torch."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor([0.0, 4.0])
    torch.where(y != 0, x / y, torch.zeros_like(x)).sum().backward()
    assert torch.isnan(x.grad[0]) and x.grad[1] == 0.25


def test_a_torch_call_that_fails_is_reported_not_raised(monkeypatch):
    from certnn.bugzoo import get, run_card
    card = get("ignored-labels")

    def gone(*a):
        raise AttributeError("torch.nn.functional.cross_entropy moved")
    monkeypatch.setattr(card.module, "torch_impl", gone)
    r = run_card(card)
    assert r.passed and r.torch["still_shows"] is False
    assert r.torch["verdict"]["failures"] == ["contract-error"]
