"""The card protocol and the runner.

A card is a module of :mod:`certnn.bugzoo` about one family of real ML bugs. It
declares, at module level::

    NUMBER, TITLE, FAMILY          # its place, its name, the bug family in a line
    REPORTS                        # where the bug was reported (issue threads, papers)
    CONTRACT                       # the executable specification, in words
    EVIDENCE                       # what a passing contract establishes: proved / certified / checked / tested
    ASSUMPTIONS                    # named boundaries the contract rests on (certnn audit)
    DOCUMENTED                     # the failure codes the reports describe
    WEAKENED                       # keyword arguments that weaken the contract until it accepts buggy()

and three functions: ``buggy(...)``, a minimal implementation that reproduces
the failure and returns its wrong output; ``fixed(...)``, the same computation
through certnn's own ops and modules; ``contract(impl, **strictness)``, which
runs an implementation on the card's cases and returns a :class:`Verdict`. A
card about PyTorch's own behaviour also has ``torch_impl(...)``, the PyTorch
call, judged by the same contract when torch is installed.

A card passes when the contract fails on ``buggy`` (caught), the failure is one
the reports describe (reproduced), and the contract holds on ``fixed``.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from types import ModuleType

from ..errors import CertnnError

EVIDENCE = ("proved", "certified", "checked", "tested")

ASSUMPTIONS = {
    "ml-dtypes-bfloat16-rn":
        "ml_dtypes' bfloat16 arithmetic rounds each NumPy operation's result to the nearest bfloat16 "
        "(computed in float32 and rounded once: for +, -, *, / and sqrt this is the correctly rounded "
        "bfloat16 result)",
    "hypothesis-sampled":
        "a property checked on the examples hypothesis generates (a fixed, derandomized set) holds on "
        "the inputs it was not run on: tested, not proved",
}


class BugZooError(CertnnError):
    """An unknown card, or a card whose contract could not run."""


@dataclass(frozen=True)
class Verdict:
    """What a contract found: the failures (codes naming the violated part of the
    contract, empty when it holds), one line per failure, and the numbers seen."""

    failures: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    numbers: dict = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {"holds": self.holds, "failures": list(self.failures), "details": list(self.details),
                "numbers": self.numbers}


class Findings:
    """Collects a contract's failures while it checks its cases."""

    def __init__(self):
        self.failures: list[str] = []
        self.details: list[str] = []
        self.numbers: dict = {}

    def fail(self, code: str, detail: str) -> None:
        if code not in self.failures:          # one line per kind of failure: the first case seen
            self.failures.append(code)
            self.details.append(f"{code}: {detail}")

    def check(self, ok: bool, code: str, detail) -> bool:
        if not ok:
            self.fail(code, detail() if callable(detail) else detail)
        return ok

    def note(self, **numbers) -> None:
        self.numbers.update({k: _plain(v) for k, v in numbers.items()})

    def verdict(self, passed_detail: str = "") -> Verdict:
        details = tuple(self.details) or ((passed_detail,) if passed_detail else ())
        return Verdict(tuple(self.failures), details, dict(self.numbers))


def _plain(v):
    """A JSON-friendly copy of a number, array or container."""
    import numpy as np
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    return v


def examples(strategy, n: int, seed: int = 0):
    """``n`` examples drawn from a hypothesis ``strategy``, the same on every run
    (seeded): the generated cases of a property contract."""
    from hypothesis import HealthCheck, Phase, given, seed as with_seed, settings
    found = []

    @with_seed(seed)
    @settings(max_examples=n, derandomize=False, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(ex):
        found.append(ex)

    collect()
    return found[:n]


@dataclass(frozen=True)
class Card:
    number: int
    name: str
    title: str
    family: str
    reports: tuple[str, ...]
    contract: str
    evidence: str
    assumptions: tuple[str, ...]
    documented: tuple[str, ...]
    module: ModuleType = field(repr=False, compare=False)

    @classmethod
    def of(cls, module: ModuleType) -> "Card":
        m = module
        if m.EVIDENCE not in EVIDENCE:
            raise ValueError(f"{m.__name__}: EVIDENCE must be one of {EVIDENCE}, got {m.EVIDENCE!r}")
        return cls(m.NUMBER, m.__name__.rsplit(".", 1)[1].replace("_", "-"), m.TITLE, m.FAMILY,
                   tuple(m.REPORTS), m.CONTRACT, m.EVIDENCE, tuple(m.ASSUMPTIONS), tuple(m.DOCUMENTED), m)

    @property
    def about_torch(self) -> bool:
        return hasattr(self.module, "torch_impl")

    def to_dict(self) -> dict:
        return {"card": self.number, "name": self.name, "title": self.title, "family": self.family,
                "reports": list(self.reports), "contract": self.contract, "evidence": self.evidence,
                "assumptions": list(self.assumptions), "documented": list(self.documented)}


@dataclass
class CardResult:
    card: Card
    buggy: Verdict
    fixed_verdict: Verdict
    seconds: float
    torch: dict | None = None
    error: str | None = None

    @property
    def caught(self) -> bool:
        return not self.buggy.holds

    @property
    def reproduced(self) -> bool:
        return any(f in self.card.documented for f in self.buggy.failures)

    @property
    def fixed(self) -> bool:
        return self.error is None and self.fixed_verdict.holds

    @property
    def passed(self) -> bool:
        return self.reproduced and self.caught and self.fixed

    def to_dict(self) -> dict:
        return {"card": self.card.number, "name": self.card.name, "reproduced": self.reproduced,
                "caught": self.caught, "fixed": self.fixed, "passed": self.passed,
                "seconds": round(self.seconds, 3), "evidence": self.card.evidence,
                "buggy": self.buggy.to_dict(), "certnn": self.fixed_verdict.to_dict(), "torch": self.torch,
                "error": self.error}


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def run_card(card: Card, weaken: bool = False, with_torch: bool = True) -> CardResult:
    """Judge ``buggy`` and ``fixed`` (and ``torch_impl`` when torch is installed)
    with the card's contract; ``weaken=True`` uses the contract weakened by the
    card's ``WEAKENED`` settings (the card must then fail: the strictness matters)."""
    m = card.module
    knobs = dict(m.WEAKENED) if weaken else {}
    t0 = time.perf_counter()
    error = None
    try:
        on_buggy = m.contract(m.buggy, **knobs)
        on_fixed = m.contract(m.fixed, **knobs)
    except Exception as exc:               # a contract that cannot run fails its card, with the reason
        error = f"{type(exc).__name__}: {exc}"
        on_buggy = on_fixed = Verdict(("contract-error",), (error,))
    seconds = time.perf_counter() - t0
    torch_report = None
    if with_torch and card.about_torch and torch_available() and error is None:
        import torch
        try:
            v = m.contract(m.torch_impl, **knobs)
        except Exception as exc:           # torch's API moved on: say so, the card itself is unaffected
            v = Verdict(("contract-error",), (f"{type(exc).__name__}: {exc}",))
        torch_report = {"version": torch.__version__, "still_shows": any(f in card.documented for f in v.failures),
                        "verdict": v.to_dict()}
    return CardResult(card, on_buggy, on_fixed, seconds, torch_report, error)
