"""Robustness verification of a classifier on a dataset: clean accuracy, PGD
accuracy (an upper bound on robust accuracy), verified accuracy (bounds), and
certified accuracy (certificates accepted by the independent checker).

Soundness guard: an example that is verified and also has a replayed attack
counterexample (in the same semantics) is a bug in certnn; it raises instead of
being reported.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..bounds import LinearSpec, Region, compute_bounds
from ..bounds.semantics import check_semantics
from ..errors import CertnnError
from ..ir.run import run


CERT_NAME = re.compile(r"cert-\d{6}\.(json|npz)\Z")


def _remove_stale(folder: Path, written: list) -> None:
    """Remove the certificates an earlier run left in ``folder`` (``cert-NNNNNN.*``
    not written now), so the folder holds exactly this run's claims."""
    keep = {p.name for c in written for p in (Path(c), Path(c).with_suffix(".npz"))}
    for p in folder.iterdir():
        if CERT_NAME.match(p.name) and p.name not in keep and p.is_file():
            p.unlink()


class SoundnessError(CertnnError):
    """A verified claim met a counterexample: never expected; report it."""


@dataclass
class RobustnessReport:
    eps: float
    norm: str
    method: str
    semantics: str
    labels: np.ndarray
    clean: np.ndarray           # (N,) correctly classified
    pgd_robust: np.ndarray | None  # (N,) correct and no counterexample found (None: no attack)
    verified: np.ndarray        # (N,) correct and the bound proves the margin positive
    certified: np.ndarray | None = None  # (N,) verified and the checker accepted
    seconds: dict = field(default_factory=dict)
    certificates: list = field(default_factory=list)
    check_failures: list = field(default_factory=list)
    assumptions: tuple = ()
    claims: int = 0             # examples the certificates claim (what the checker re-derives)

    @property
    def n(self) -> int:
        return int(self.labels.size)

    def summary(self) -> dict:
        n = max(self.n, 1)
        out = {"n": self.n, "eps": self.eps, "norm": self.norm, "method": self.method,
               "semantics": self.semantics,
               "clean_accuracy": float(self.clean.sum() / n),
               "pgd_accuracy": None if self.pgd_robust is None else float(self.pgd_robust.sum() / n),
               "verified_accuracy": float(self.verified.sum() / n),
               "certified_accuracy": None if self.certified is None else float(self.certified.sum() / n),
               "ms_per_example": {k: 1000 * v / n for k, v in self.seconds.items()},
               "certificates": [str(c) for c in self.certificates],
               "checker_rejections": len(self.check_failures),
               "checker": self.checker_verdict(),
               "evidence": self.evidence(),
               "assumptions": list(self.assumptions)}
        return out

    def checker_verdict(self) -> str | None:
        """What the checker said, in the words ``certnn check`` uses (None: not checked)."""
        if self.certified is None:
            return None
        if self.check_failures:
            return f"REJECTED: {len(self.check_failures)} of {self.claims} claimed examples not re-derived"
        if self.claims == 0:
            return "nothing certified: the certificates claim no example"
        return f"accepted: {self.claims}/{self.claims} claimed examples re-derived"

    def evidence(self) -> str | None:
        """certified: checked certificates back the certified count; computed: bounds only;
        None: nothing was verified, so there is no claim to back."""
        if not self.verified.any():
            return None
        return "certified" if self.certified is not None and self.certified.any() else "computed"


def verify_robustness(graph, x, labels, eps: float, norm="inf", method: str = "crown",
                      semantics: str = "real", domain=(0.0, 1.0), attack: bool = True,
                      out_dir=None, check: bool = True, batch: int = 100, model_path=None,
                      progress=None, attack_steps: int = 20, attack_restarts: int = 2, seed: int = 0
                      ) -> RobustnessReport:
    check_semantics(semantics)
    x = np.asarray(x)
    labels = np.asarray(labels).reshape(-1)
    if x.shape[0] != labels.size:
        raise CertnnError(f"{x.shape[0]} inputs but {labels.size} labels")
    if not np.all(np.isfinite(x)):
        raise CertnnError("inputs contain NaN or infinite values")
    sem_run = "real" if semantics == "real" else "binary32"
    logits = np.asarray(run(graph, x.astype(np.float32), semantics=sem_run)).reshape(x.shape[0], -1)
    num_classes = logits.shape[1]
    clean = np.argmax(logits, axis=1) == labels
    secs = {"bounds": 0.0, "attack": 0.0, "certificate": 0.0, "check": 0.0}
    verified = np.zeros(labels.size, bool)
    pgd_robust = clean.copy()
    certified = np.zeros(labels.size, bool) if (out_dir is not None and check) else None
    certs, failures, assumptions, claims = [], [], set(), 0
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    for start in range(0, labels.size, batch):
        sl = slice(start, min(start + batch, labels.size))
        region = Region.ball(x[sl].astype(np.float64), eps, norm, domain=domain)
        spec = LinearSpec.robustness(labels[sl], num_classes)
        t0 = time.perf_counter()
        b = compute_bounds(graph, region, spec, method=method, semantics=semantics)
        secs["bounds"] += time.perf_counter() - t0
        assumptions.update(b.assumptions)
        ver = spec.holds(b.lb) & clean[sl]
        verified[sl] = ver
        if attack:
            from .attacks import pgd
            t0 = time.perf_counter()
            res = pgd(graph, region, spec, steps=attack_steps, restarts=attack_restarts, seed=seed + start)
            secs["attack"] += time.perf_counter() - t0
            found = np.asarray(res.found_binary32 if semantics != "real" else res.found_real, bool)
            if np.any(found & ver):
                bad = np.flatnonzero(found & ver) + start
                raise SoundnessError(f"examples {bad.tolist()} are verified ({method}, {semantics}) but an "
                                     f"attack found a replayed counterexample: please report this bug")
            pgd_robust[sl] &= ~found
        if out_dir is not None:
            from .certificate import make_certificate, save_certificate
            t0 = time.perf_counter()
            cert = make_certificate(graph, region, spec, b,
                                    semantics=semantics, model_path=model_path)
            path = save_certificate(cert, Path(out_dir) / f"cert-{start:06d}.json")
            secs["certificate"] += time.perf_counter() - t0
            certs.append(path)
            if check:
                from .checker import check_certificate
                t0 = time.perf_counter()
                cr = check_certificate(path, graph=graph, expected_region=region, expected_spec=spec)
                secs["check"] += time.perf_counter() - t0
                assumptions.update(cr.assumptions)  # certified rests on the checker's arithmetic too
                claims += int(cr.claimed.sum())
                acc = np.asarray(cr.accepted, bool)
                certified[sl] = acc & clean[sl]
                for i in np.flatnonzero(ver & ~acc):
                    failures.append((int(i + start), cr.reasons[i]))
        if progress is not None:
            progress(sl.stop - sl.start)
    if out_dir is not None:
        _remove_stale(Path(out_dir), certs)
    return RobustnessReport(float(eps), str(norm), method, semantics, labels, clean,
                            pgd_robust if attack else None, verified,
                            certified, secs, certs, failures, tuple(sorted(assumptions)), claims)

