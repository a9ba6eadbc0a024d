"""The identities of certnn.generative and certnn.theory: the proofs that the
registry's quick run (tests/proofs) does not re-run are re-run here, every check
of the running code passes, and a check fails when the code it covers is wrong."""

import numpy as np
import pytest

from certnn.generative import theorems as gen
from certnn.theory import theorems as thy

from certnn.proofs import theorems as registry

ALL = gen.THEOREMS + thy.THEOREMS
SLOW = [t for t in ALL if not t.quick]            # the quick ones run in tests/proofs/test_theorems.py
CHECKS = gen.CODE_CHECKS + thy.CODE_CHECKS


def test_the_identities_are_registered():
    table = registry.registered()
    assert {t.name for t in ALL} <= set(table)
    assert all(table[t.name].evidence == "proved" and t.covers and t.domain for t in ALL)


@pytest.mark.parametrize("thm", SLOW, ids=lambda t: t.name)
def test_slow_proof_reruns(thm):
    assert isinstance(thm.prove(), str)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c[0])
def test_code_check_passes(check):
    name, statement, covers, domain, run = check
    assert "/" in name and statement and covers and domain
    assert isinstance(run(), str)


def test_names_are_unique():
    names = [t.name for t in ALL] + [c[0] for c in CHECKS]
    assert len(set(names)) == len(names)


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
