"""Adaptive input-domain branching driven by a sound bound function.

A :class:`BoxTree` holds the boxes of one root box: every box gets a sound
upper bound of some quantity over it (``bound_fn(lo, hi) -> (bounds,
scores)``, scores ranking the coordinates by how much their extent costs the
bound); :func:`branch` repeatedly splits the boxes with the largest bounds at
the midpoint of their best coordinate. Node numbering (the certificate
format of :mod:`certnn.verify.partition`): the root is node 0 and the i-th
split creates nodes 2i + 1 (lower half) and 2i + 2; leaves are listed in node
order. Used by the PINN residual certificates and the approximation
certificates.
"""

from __future__ import annotations

import time

import numpy as np

LEAF_PAD = 1e-6      # claimed leaf bounds are the sound bounds times 1 + LEAF_PAD: a re-evaluation in
                     # other batch sizes may round differently inside BLAS (observed: 3e-9 relative on a
                     # 1258-neuron layer), and the claim must hold for the checker's run too


class BoxTree:
    """The boxes of one region: node arrays grown by splitting (see certificate.py)."""

    def __init__(self, lo, hi, bound_fn, chunk: int):
        self.k = len(lo)
        self.lo, self.hi = np.array([lo], float), np.array([hi], float)
        self.bound, self.scores, self.leaf = np.zeros(0), np.zeros((0, self.k)), np.ones(1, bool)
        self.splits: list = []
        self.fn, self.chunk = bound_fn, chunk
        self.bound, self.scores = self._evaluate(self.lo, self.hi)

    def _evaluate(self, lo, hi):
        bs, ss = [], []
        for a in range(0, len(lo), self.chunk):
            b, s = self.fn(lo[a:a + self.chunk], hi[a:a + self.chunk])
            bs.append(b)
            ss.append(s)
        return np.concatenate(bs), np.concatenate(ss)

    @property
    def leaves(self) -> np.ndarray:
        return np.flatnonzero(self.leaf)

    def certified(self) -> float:
        return float(self.bound[self.leaf].max())

    def split(self, nodes: np.ndarray) -> int:
        """Split ``nodes`` (leaves) along their best coordinate; returns how many were split."""
        dims = np.argmax(self.scores[nodes], axis=1)
        lo, hi = self.lo[nodes], self.hi[nodes]
        r = np.arange(len(nodes))
        mid = 0.5 * lo[r, dims] + 0.5 * hi[r, dims]
        ok = (lo[r, dims] < mid) & (mid < hi[r, dims]) & (self.scores[nodes, dims] >= 0)
        nodes, dims, mid, lo, hi = nodes[ok], dims[ok], mid[ok], lo[ok], hi[ok]
        if not len(nodes):
            return 0
        r = np.arange(len(nodes))
        lo1, hi1 = lo.copy(), hi.copy()
        hi1[r, dims] = mid
        lo2, hi2 = lo.copy(), hi.copy()
        lo2[r, dims] = mid
        clo = np.empty((2 * len(nodes), self.k))
        chi = np.empty_like(clo)
        clo[0::2], clo[1::2], chi[0::2], chi[1::2] = lo1, lo2, hi1, hi2
        b, s = self._evaluate(clo, chi)
        self.lo, self.hi = np.concatenate([self.lo, clo]), np.concatenate([self.hi, chi])
        self.bound, self.scores = np.concatenate([self.bound, b]), np.concatenate([self.scores, s])
        self.leaf[nodes] = False
        self.leaf = np.concatenate([self.leaf, np.ones(len(clo), bool)])
        self.splits.extend(zip(nodes.tolist(), dims.tolist()))
        return len(nodes)

    def claims(self) -> tuple[np.ndarray, np.ndarray]:
        """(splits (m, 2) int64, claimed leaf bounds in node order): the certificate's data.
        The claims are the sound bounds padded by LEAF_PAD."""
        return np.array(self.splits, np.int64).reshape(-1, 2), self.bound[self.leaves] * (1.0 + LEAF_PAD)


def branch(tree: BoxTree, target: float, deadline: float, batch: int, max_boxes: int, report=None) -> BoxTree:
    """Split the worst leaves (at most ``batch // 2`` per round, all above
    ``target``) until the certified bound is <= target, the deadline passes or
    the tree would exceed ``max_boxes`` leaves."""
    while True:
        cert = tree.certified()
        if report:
            report(tree)
        leaves = tree.leaves
        if cert <= target or time.perf_counter() >= deadline or len(leaves) + batch // 2 > max_boxes:
            return tree
        above = leaves[tree.bound[leaves] > target]
        worst = above[np.argsort(-tree.bound[above], kind="stable")[:max(1, batch // 2)]]
        if tree.split(np.sort(worst)) == 0:
            return tree                       # boxes at float resolution: nothing left to split
