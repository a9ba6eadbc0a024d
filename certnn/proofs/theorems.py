"""The theorem registry behind ``certnn prove``: the facts certnn proves, next to
the boundaries it assumes (:mod:`certnn.proofs.audit`).

A theorem has a name (``family/detail``, e.g. ``adjoint/conv2d``), a statement in
words, its evidence, the code objects it covers, the domain and shapes it covers
(and says what it does not), and a function that re-runs its proof:

* ``proved``: a symbolic (sympy) or SMT (z3) proof for every input in the stated
  domain and shapes, re-run from scratch by ``certnn prove``;
* ``checked``: a property validated on each run of the code it covers (e.g. the
  translation validator on every compile); re-running it exercises the validator.

Where theorems live. A module declares a module-level list ``THEOREMS`` of
:class:`Theorem` (and, optionally, ``GAPS = {name: reason}``: what a family of
theorems deliberately does not cover). The registry finds every such module by
scanning the package's source files for a top-level ``THEOREMS =`` and imports
only those, so an application package (control, pinn, rl, ...) registers its
theorems by defining ``THEOREMS`` in one of its modules: ``certnn.proofs`` never
names it (the layer contract forbids importing upward).

A result names the theorems it rests on in a ``theorems`` field (names, or a
family pattern such as ``adjoint/*``); :func:`certnn.proofs.audit.theorem_references`
finds those references in the source and the test suite checks they resolve.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..errors import CertnnError

EVIDENCE = ("proved", "checked")
_DECLARES = re.compile(r"^(THEOREMS|GAPS)\s*(:[^=\n]*)?=", re.MULTILINE)


class ProofFailed(Exception):
    """A proof that did not go through; the message says which step and why."""


def z3_unsat(hyps, goal, what: str, timeout_s: float = 60.0, solver=None) -> None:
    """Prove ``hyps => goal`` by z3 answering unsat for ``hyps and not goal``;
    raise :class:`ProofFailed` naming ``what`` with z3's model (a counterexample)
    on sat, or its reason on unknown (a timeout is not a proof)."""
    import z3
    sol = solver if solver is not None else z3.Solver()
    sol.set("timeout", int(timeout_s * 1000))
    sol.add(*hyps, z3.Not(goal))
    r = sol.check()
    if r == z3.sat:
        m = sol.model()
        raise ProofFailed(f"{what}: counterexample " + ", ".join(f"{d} = {m[d]}" for d in m.decls() if d.arity() == 0))
    if r != z3.unsat:
        raise ProofFailed(f"{what}: z3 says {r} ({sol.reason_unknown()})")


@dataclass(frozen=True)
class Theorem:
    name: str
    statement: str
    evidence: str                    # "proved" or "checked"
    covers: tuple[str, ...]          # code objects: "op conv2d (vjp, jvp)", "ir.passes.fold_constants"
    domain: str                      # shapes/inputs covered, and what is not covered
    prove: Callable[[], str] = field(repr=False, compare=False)  # re-runs the proof; returns a detail line
    module: str = ""                 # where it is registered (filled by the registry)
    quick: bool = False              # re-runs in about a second (the test suite runs all quick ones)

    def __post_init__(self):
        if self.evidence not in EVIDENCE:
            raise ValueError(f"theorem {self.name!r}: evidence must be one of {EVIDENCE}, got {self.evidence!r}")
        if "/" not in self.name:
            raise ValueError(f"theorem {self.name!r}: names are 'family/detail'")

    def to_dict(self) -> dict:
        return {"name": self.name, "statement": self.statement, "evidence": self.evidence,
                "covers": list(self.covers), "domain": self.domain, "module": self.module}


@dataclass(frozen=True)
class Gap:
    """Something a family of theorems does not cover, and why (listed, never skipped silently)."""
    name: str
    reason: str
    module: str

    def to_dict(self) -> dict:
        return {"name": self.name, "reason": self.reason, "module": self.module}


@dataclass(frozen=True)
class Outcome:
    name: str
    evidence: str
    passed: bool
    seconds: float
    detail: str

    def to_dict(self) -> dict:
        return {"name": self.name, "evidence": self.evidence, "passed": self.passed,
                "seconds": round(self.seconds, 3), "detail": self.detail}


def declaring_modules(root: Path | None = None, package: str = "certnn") -> list[str]:
    """Modules of ``package`` (at ``root``; default: certnn) that declare
    ``THEOREMS`` or ``GAPS`` at top level, found from the source text without
    importing anything."""
    if root is None:
        import certnn
        root = Path(certnn.__file__).parent
    out = []
    for path in sorted(Path(root).rglob("*.py")):
        if _DECLARES.search(path.read_text(encoding="utf-8")):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out.append(".".join((package,) + parts))
    return out


def collect(module_names) -> tuple[dict, tuple]:
    """Import the modules; return (name -> Theorem, gaps). A theorem name
    registered twice, or a THEOREMS entry that is not a Theorem, is an error."""
    theorems: dict[str, Theorem] = {}
    gaps: list[Gap] = []
    for mod_name in module_names:
        mod = importlib.import_module(mod_name)
        for t in getattr(mod, "THEOREMS", ()):
            if not isinstance(t, Theorem):
                raise ValueError(f"{mod_name}.THEOREMS holds {type(t).__name__}, not a Theorem")
            if t.name in theorems:
                raise ValueError(f"theorem {t.name!r} is registered by both {theorems[t.name].module} "
                                 f"and {mod_name}")
            theorems[t.name] = replace(t, module=mod_name)
        gaps += [Gap(name, reason, mod_name) for name, reason in getattr(mod, "GAPS", {}).items()]
    return dict(sorted(theorems.items())), tuple(sorted(gaps, key=lambda g: g.name))


@lru_cache(maxsize=1)
def _load() -> tuple[dict, tuple]:
    return collect(declaring_modules())


def registered() -> dict[str, Theorem]:
    """name -> Theorem, from every declaring module (a name registered twice is an error)."""
    return dict(_load()[0])


def gaps() -> list[Gap]:
    return list(_load()[1])


def matches(pattern: str, names) -> list[str]:
    """The names a reference stands for: itself, or a glob pattern's matches."""
    return [n for n in names if n == pattern or fnmatch.fnmatchcase(n, pattern)]


def select(patterns) -> list[Theorem]:
    """The theorems named by ``patterns`` (exact names or glob patterns such as
    ``adjoint/*``), in registry order; an unknown name is a CertnnError."""
    table = registered()
    chosen: dict[str, Theorem] = {}
    for p in patterns:
        found = matches(p, table)
        if not found:
            raise CertnnError(f"no theorem named {p!r}; `certnn prove --list` lists them")
        chosen.update((n, table[n]) for n in found)
    return [table[n] for n in table if n in chosen]


def run(theorem: Theorem) -> Outcome:
    """Re-run one proof. Any exception is a failed proof, reported with its message."""
    t0 = time.perf_counter()
    try:
        detail = theorem.prove() or ""
        passed = True
    except Exception as e:  # noqa: BLE001  (a proof that crashes has not gone through)
        detail, passed = f"{type(e).__name__}: {e}", False
    return Outcome(theorem.name, theorem.evidence, passed, time.perf_counter() - t0, detail)
