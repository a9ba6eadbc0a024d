import pytest

from certnn.bugzoo import cards, run_card


@pytest.fixture(scope="session")
def results():
    """Every card run once (judging torch too where it is installed), shared by the tests."""
    return {c.name: run_card(c) for c in cards()}
