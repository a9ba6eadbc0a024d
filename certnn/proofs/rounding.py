"""The binary32 rounding lemma behind every float error bound (the model of
:mod:`certnn.floats.error_bounds`: u = 2^-24, eta = 2^-150), machine-checked
with z3 by :mod:`certnn.floats.proofs` (see its docstring for the reduction to
one query per exponent field). Registered here so ``certnn prove`` re-runs it."""

from __future__ import annotations

from ..floats import BINARY32
from ..floats.proofs import prove_binade_structure, prove_rounding_bound
from .theorems import ProofFailed, Theorem


def _run(proof) -> str:
    r = proof()
    if r.evidence != "proved":
        raise ProofFailed(f"{r.claim}: {r.evidence} ({r.detail})")
    return r.detail


def _theorem(kind: str, statement: str, proof, quick: bool = True) -> Theorem:
    return Theorem(
        name=f"rounding/binary32-{kind}",
        statement=statement,
        evidence="proved",
        covers=("certnn.floats.proofs", "certnn.floats.error_bounds (u = 2^-24, eta = 2^-150)",
                "certnn.error_budget"),
        domain=("every finite binary32 value (z3: FP theory for the encodings, linear real/integer "
                "arithmetic for the bounds, one query per exponent field); the link between (a) and (b) is "
                "the argument in certnn.floats.proofs, written out, not machine-checked"),
        prove=lambda: _run(proof), quick=quick)


THEOREMS = [
    _theorem("binade-structure",
             "(a) binade structure: for every finite binary32 s >= 0, value(s) = (hidden + fraction) * ulp, and "
             "its IEEE neighbours lie at s + ulp and s - ulp (ulp/2 at the bottom of a normal binade)",
             lambda: prove_binade_structure(BINARY32, timeout_s=600), quick=False),
    _theorem("sum", "(b) for all finite binary32 a, b whose round-to-nearest-even sum s is finite: "
             "|s - (a + b)| <= 2^-24 |a + b|", lambda: prove_rounding_bound("sum", BINARY32, timeout_s=600), quick=False),
    _theorem("nearest", "(b) for every real x whose round-to-nearest-even binary32 rounding s is finite: "
             "|s - x| <= 2^-24 |x| + 2^-150", lambda: prove_rounding_bound("nearest", BINARY32, timeout_s=600),
             quick=False),
    _theorem("directed", "(b) for every real x and s its binary32 rounding toward -inf, +inf or 0 (finite): "
             "|s - x| <= 2^-23 |x| + 2^-149", lambda: prove_rounding_bound("directed", BINARY32, timeout_s=600),
             quick=False),
]
