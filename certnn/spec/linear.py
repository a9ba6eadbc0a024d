"""Output specifications, in the one shape VNNLIB properties take.

A spec names an *unsafe set* of outputs: a disjunction of conjunctions of linear
constraints ``G y + h <= 0``. It is stored as rows ``C`` (N, K, out) and
``d`` (N, K) with ``groups`` (K,) saying which disjunct each row belongs to.
The property holds (the unsafe set is unreachable) when every disjunct has a
row that is strictly positive for every input in the region:
``min_x C_k y(x) + d_k > 0`` for some k in the group. Classification
robustness is K-1 one-row groups (margin of the label over class j), an output
box is 2*out one-row groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CertnnError


class SpecError(CertnnError, ValueError):
    """A spec is malformed (shapes, labels out of range, NaN)."""


@dataclass(frozen=True)
class LinearSpec:
    C: np.ndarray        # (N, K, out)
    d: np.ndarray        # (N, K)
    groups: np.ndarray   # (K,) int, disjunct index of each row, 0..G-1
    kind: str = "linear"

    def __post_init__(self):
        C, d, g = self.C, self.d, self.groups
        if C.ndim != 3 or d.shape != C.shape[:2] or g.shape != (C.shape[1],):
            raise SpecError(f"spec shapes do not fit: C {C.shape}, d {d.shape}, groups {g.shape}")
        if not (np.all(np.isfinite(C)) and np.all(np.isfinite(d))):
            raise SpecError("spec contains NaN or infinite coefficients")
        if g.size and (g.min() < 0 or set(np.unique(g)) != set(range(int(g.max()) + 1))):
            raise SpecError("spec groups must number the disjuncts 0..G-1")

    @property
    def n(self) -> int:
        return self.C.shape[0]

    @property
    def n_groups(self) -> int:
        return int(self.groups.max()) + 1 if self.groups.size else 0

    @classmethod
    def robustness(cls, labels, num_classes: int) -> "LinearSpec":
        """Rows y_label - y_j for every j != label (one group each)."""
        labels = np.asarray(labels).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise SpecError(f"labels must lie in 0..{num_classes - 1}")
        n, k = labels.size, num_classes - 1
        C = np.zeros((n, k, num_classes))
        for i, y in enumerate(labels):
            others = [j for j in range(num_classes) if j != y]
            C[i, np.arange(k), y] = 1.0
            C[i, np.arange(k), others] = -1.0
        return cls(C, np.zeros((n, k)), np.arange(k), "robustness")

    @classmethod
    def output_box(cls, lo, hi) -> "LinearSpec":
        """lo < y < hi elementwise: rows y - lo and hi - y."""
        lo, hi = np.atleast_2d(np.asarray(lo, np.float64)), np.atleast_2d(np.asarray(hi, np.float64))
        n, m = lo.shape
        eye = np.eye(m)
        C = np.broadcast_to(np.concatenate([eye, -eye])[None], (n, 2 * m, m)).copy()
        d = np.concatenate([-lo, hi], axis=1)
        return cls(C, d, np.arange(2 * m), "output-box")

    @classmethod
    def unsafe_set(cls, disjuncts, n: int = 1) -> "LinearSpec":
        """From ``[(G_i, h_i), ...]`` meaning OR_i AND_rows (G_i y + h_i <= 0); the
        same for every example (broadcast to ``n``)."""
        Cs, ds, gs = [], [], []
        for i, (G, h) in enumerate(disjuncts):
            G = np.atleast_2d(np.asarray(G, np.float64))
            Cs.append(G)
            ds.append(np.asarray(h, np.float64).reshape(-1))
            gs.append(np.full(G.shape[0], i))
        C, d = np.concatenate(Cs), np.concatenate(ds)
        return cls(np.broadcast_to(C, (n,) + C.shape).copy(), np.broadcast_to(d, (n,) + d.shape).copy(),
                   np.concatenate(gs), "unsafe-set")

    def rows(self, idx) -> "LinearSpec":
        return LinearSpec(self.C[idx], self.d[idx], self.groups, self.kind)

    def holds(self, row_lower: np.ndarray) -> np.ndarray:
        """Per example: does every group have a row with lower bound > 0?
        ``row_lower`` is (N, K)."""
        ok = np.ones(row_lower.shape[0], bool)
        for g in range(self.n_groups):
            ok &= np.max(row_lower[:, self.groups == g], axis=1) > 0
        return ok

    def violated(self, y: np.ndarray) -> np.ndarray:
        """Per example: does the output ``y`` (N, out) lie in the unsafe set?"""
        vals = np.einsum("nko,no->nk", self.C, np.asarray(y, np.float64)) + self.d
        bad = np.zeros(vals.shape[0], bool)
        for g in range(self.n_groups):
            bad |= np.all(vals[:, self.groups == g] <= 0, axis=1)
        return bad
