"""Input regions: the set of inputs a bound or a claim is about, one per example.

Every region has a box enclosure ``lo <= x <= hi`` (arrays ``(N, *input_shape)``,
float64), which IBP uses. An L-p ball (``norm`` "2" or "1") also keeps its
``center`` and ``eps``, so linear bounds can be concretized with the dual norm:
min over the ball of a.x = a.c - eps * ||a||_q. An L-inf ball is stored as its
box (clipped to the domain when one is given). A ball intersected with a domain
box concretizes both ways and keeps the larger lower bound: both are valid.
A ball remembers its clipping ``domain`` (scalar lo, hi), so a certificate can
state it and the checker can verify that ``lo``/``hi`` are exactly the clipped
``center -+ eps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CertnnError

NORMS = ("box", "inf", "2", "1")


class RegionError(CertnnError, ValueError):
    """A region is malformed: NaN/inf, lo > hi, eps <= 0, unknown norm, bad shape."""


def norm_name(norm) -> str:
    """Accept inf / "inf" / "linf" / 2 / "2" / "l2" / 1 / "1" / "l1" / "box"."""
    s = str(norm).lower().removeprefix("l")
    s = {"nf": "inf", "infinity": "inf", "2.0": "2", "1.0": "1", "ox": "box"}.get(s, s)
    if s not in NORMS:
        raise RegionError(f"unknown norm {norm!r}: use one of inf, 2, 1 (or a box)")
    return s


def _finite(a, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise RegionError(f"{what} contains NaN or infinite values")
    return a


@dataclass(frozen=True)
class Region:
    lo: np.ndarray
    hi: np.ndarray
    norm: str = "box"
    center: np.ndarray | None = None
    eps: float | None = None
    domain: tuple | None = None     # (lo, hi) floats a ball was clipped to, or None

    @property
    def n(self) -> int:
        return self.lo.shape[0]

    @property
    def shape(self) -> tuple:
        return self.lo.shape[1:]

    @classmethod
    def box(cls, lo, hi) -> "Region":
        lo, hi = _finite(lo, "region lower bound"), _finite(hi, "region upper bound")
        if lo.shape != hi.shape:
            raise RegionError(f"region bounds have different shapes {lo.shape} and {hi.shape}")
        if lo.ndim < 1:
            raise RegionError("a region needs a leading batch dimension (N, ...)")
        if np.any(lo > hi):
            raise RegionError("region lower bound exceeds upper bound somewhere")
        return cls(lo, hi, "box")

    @classmethod
    def ball(cls, center, eps: float, norm="inf", domain: tuple | None = None) -> "Region":
        """The L-``norm`` ball of radius ``eps`` around each row of ``center``,
        intersected with the box ``domain = (lo, hi)`` when given (e.g. (0, 1)
        for images; two numbers, the same for every element)."""
        norm = norm_name(norm)
        if norm == "box":
            raise RegionError("Region.ball needs a norm (inf, 2 or 1); use Region.box for a box")
        c = _finite(center, "region center")
        if c.ndim < 1:
            raise RegionError("a region needs a leading batch dimension (N, ...)")
        try:
            eps = float(eps)
        except (TypeError, ValueError):
            raise RegionError(f"eps must be a number, got {eps!r}") from None
        if not np.isfinite(eps) or eps <= 0:
            raise RegionError(f"eps must be a positive finite number, got {eps}")
        lo, hi = c - eps, c + eps
        if domain is not None:
            try:
                dlo, dhi = (float(_finite(d, "domain bound")) for d in domain)
            except (TypeError, ValueError):
                raise RegionError(f"domain must be two numbers (lo, hi), got {domain!r}") from None
            domain = (dlo, dhi)
            if dlo > dhi:
                raise RegionError("domain lower bound exceeds upper bound")
            lo, hi = np.maximum(lo, dlo), np.minimum(hi, dhi)
            if np.any(lo > hi):
                raise RegionError("the ball does not meet the domain box (center outside the domain?)")
        return cls(lo, hi, norm, c, eps, domain)

    def rows(self, idx) -> "Region":
        """The sub-region of the examples ``idx`` (a slice or index array)."""
        pick = (lambda a: None if a is None else a[idx])
        return Region(self.lo[idx], self.hi[idx], self.norm, pick(self.center), self.eps, self.domain)

    def concretize_lower(self, a: np.ndarray, c: np.ndarray | float = 0.0) -> np.ndarray:
        """min over the region of a.x + c, for coefficient rows ``a`` of shape
        (N, K, *input_shape) and constants ``c`` (N, K). Float64, unrounded:
        the certificate checker redoes this soundly."""
        a2 = a.reshape(a.shape[0], a.shape[1], -1)
        lo = self.lo.reshape(self.n, 1, -1)
        hi = self.hi.reshape(self.n, 1, -1)
        box = np.einsum("nkd,nd->nk", np.maximum(a2, 0), lo[:, 0]) + np.einsum("nkd,nd->nk", np.minimum(a2, 0), hi[:, 0])
        if self.norm in ("2", "1"):
            q = {"2": 2, "1": np.inf}[self.norm]
            ctr = self.center.reshape(self.n, -1)
            ball = np.einsum("nkd,nd->nk", a2, ctr) - self.eps * np.linalg.norm(a2, ord=q, axis=2)
            box = np.maximum(box, ball)
        return box + c

    def contains(self, x: np.ndarray, tol: float = 0.0) -> np.ndarray:
        """Which rows of ``x`` (N, *input_shape) lie in the region (per example)."""
        x = np.asarray(x, np.float64)
        flat = lambda a: a.reshape(a.shape[0], -1)  # noqa: E731
        ok = np.all((flat(x) >= flat(self.lo) - tol) & (flat(x) <= flat(self.hi) + tol), axis=1)
        if self.norm in ("2", "1"):
            q = {"2": 2, "1": 1}[self.norm]
            ok &= np.linalg.norm(flat(x) - flat(self.center), ord=q, axis=1) <= self.eps * (1 + 1e-12) + tol
        return ok
