"""Every registered identity re-runs (sympy proofs and checks of the running
code), and a check fails when the code it covers is wrong."""

import numpy as np
import pytest

from certnn.generative import theorems as gen
from certnn.theory import theorems as thy

ALL = gen.THEOREMS + thy.THEOREMS


@pytest.mark.parametrize("thm", ALL, ids=lambda t: t.name)
def test_theorem_reruns(thm):
    assert thm.evidence in ("proved", "tested") and "/" in thm.name and thm.covers
    assert isinstance(thm.prove(), str)


def test_names_are_unique():
    assert len({t.name for t in ALL}) == len(ALL)


def test_kl_check_catches_a_wrong_kl(monkeypatch):
    from certnn import functional as F
    from certnn.generative import distributions

    def wrong(mu, logvar):                       # forgets the -1: KL(N(0,1) || N(0,1)) would be 1/2 per dim
        return F.sum(mu * mu + F.exp(logvar) - logvar, axis=1) * 0.5
    monkeypatch.setattr(distributions, "gaussian_kl", wrong)
    with pytest.raises(gen.ProofFailed):
        gen.check_kl_code()


def test_sampler_check_catches_a_wrong_variance(monkeypatch):
    from certnn.generative import diffusion
    real = diffusion.ddim_sigma
    monkeypatch.setattr(diffusion, "ddim_sigma", lambda *a: 1.1 * real(*a))
    with pytest.raises(gen.ProofFailed):
        gen.check_samplers_code()
