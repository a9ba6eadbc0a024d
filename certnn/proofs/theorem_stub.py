"""Stand-in for the theorem registry's record types until ``certnn.proofs.theorems``
(branch ``proofs``) is merged: the same fields, so modules that declare
``THEOREMS`` import ``Theorem`` from there when it exists and from here otherwise.
Delete this module when the registry lands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


class ProofFailed(Exception):
    """A proof that did not go through; the message says which step and why."""


@dataclass(frozen=True)
class Theorem:
    name: str
    statement: str
    evidence: str                    # "proved" (sympy/z3), "tested" (sampled checks of running code)
    covers: tuple[str, ...]
    domain: str
    prove: Callable[[], str] = field(repr=False, compare=False)
    module: str = ""
    quick: bool = False
