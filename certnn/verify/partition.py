"""Box-partition certificates, checker side: the leaves of a split list.

A partition certificate names a root box and the splits that made its leaves
(node 0 is the root; the i-th split (node, dim) cuts leaf ``node`` at
``0.5 lo + 0.5 hi`` of coordinate ``dim`` into nodes 2i + 1 and 2i + 2).
:func:`leaves` rebuilds the leaves from that list alone: the two halves of a
box cover it whatever float the midpoint rounds to, so the leaves cover the
root box by construction; this is the coverage proof the checkers of PINN
residual certificates (:mod:`certnn.pinn.checker`) and approximation
certificates (:mod:`certnn.approx.checker`) rely on. Nothing here imports a
producer.
"""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError


def leaves(lo: np.ndarray, hi: np.ndarray, splits: np.ndarray):
    """Replay the splits from the root box [lo, hi]; returns the leaf boxes in
    increasing node order. Raises CertnnError on a split of a non-leaf, an
    unknown node or coordinate, or a box too small to cut strictly inside."""
    k = len(lo)
    n = 1 + 2 * len(splits)
    blo, bhi = np.empty((n, k)), np.empty((n, k))
    blo[0], bhi[0] = lo, hi
    leaf = np.zeros(n, bool)
    leaf[0] = True
    for i, (node, dim) in enumerate(splits.tolist()):
        if not (0 <= node < 1 + 2 * i and leaf[node] and 0 <= dim < k):
            raise CertnnError(f"split {i}: node {node} is not a leaf so far or coordinate {dim} does not exist")
        a, b = blo[node, dim], bhi[node, dim]
        mid = 0.5 * a + 0.5 * b
        if not a < mid < b:
            raise CertnnError(f"split {i}: box {node} is too small to cut in coordinate {dim}")
        leaf[node] = False
        c1, c2 = 2 * i + 1, 2 * i + 2
        blo[c1], bhi[c1] = blo[node], bhi[node]
        blo[c2], bhi[c2] = blo[node], bhi[node]
        bhi[c1, dim] = mid
        blo[c2, dim] = mid
        leaf[c1] = leaf[c2] = True
    idx = np.flatnonzero(leaf)
    return blo[idx], bhi[idx]
