"""z3 proofs of the error model (see certnn.floats.proofs for the reduction):
binade structure in z3's FP theory, then the bounds in linear arithmetic; a
too-small constant must be refuted with a counterexample."""

from fractions import Fraction

import pytest

from certnn.floats import BINARY16, BINARY32 as B32, E4M3, FloatFormatError
from certnn.floats.proofs import ProofResult, prove_binade_structure, prove_error_model, prove_rounding_bound

pytest.importorskip("z3")


@pytest.mark.parametrize("chunk", range(4))
def test_binary32_binade_structure(chunk):
    es = range(64 * chunk, min(255, 64 * chunk + 64))
    r = prove_binade_structure(B32, es, timeout_s=120)
    assert r.evidence == "proved", r
    assert isinstance(r, ProofResult) and r and r.seconds < 120


@pytest.mark.parametrize("kind,claim", [
    ("sum", "for all finite binary32 a, b whose RNE sum s is finite: |s - (a+b)| <= 2^-24 |a+b|"),
    ("nearest", "|s - x| <= 2^-24 |x| + 2^-150"),
    ("directed", "|s - x| <= 2^-23 |x| + 2^-149"),
])
def test_binary32_bounds(kind, claim):
    r = prove_rounding_bound(kind, B32)
    assert r.evidence == "proved" and claim in r.claim, r


def test_too_small_constants_are_refuted():
    r = prove_rounding_bound("sum", B32, u=Fraction(1, 2 ** 25))
    assert r.evidence == "refuted" and "x =" in r.detail
    r = prove_rounding_bound("nearest", B32, eta=0)            # the subnormal range needs eta
    assert r.evidence == "refuted"
    r = prove_rounding_bound("directed", B32, u=Fraction(1, 2 ** 24))
    assert r.evidence == "refuted"


@pytest.mark.parametrize("fmt", [BINARY16], ids=lambda f: f.name)
def test_other_formats(fmt):
    rs = prove_error_model(fmt)
    assert [r.evidence for r in rs] == ["proved"] * 4, rs


def test_bad_requests():
    with pytest.raises(FloatFormatError, match="IEEE-style"):
        prove_rounding_bound("sum", E4M3)
    with pytest.raises(FloatFormatError, match="unknown claim"):
        prove_rounding_bound("maybe", B32)
