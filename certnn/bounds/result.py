"""What a bound computation returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir.graph import Graph


def no_nan(lo, hi):
    """``(lo, hi)`` with NaN (inf - inf or 0 * inf when float64 overflows on a huge
    region) replaced by the always-sound -inf (lower) and +inf (upper)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    with np.errstate(invalid="ignore"):             # inf - inf in the sums: then the full pass decides
        clean = not np.isnan(np.add.reduce(lo, axis=None) - np.add.reduce(hi, axis=None))   # one reduction each: no NaN anywhere (the common case)
    if clean:
        return lo, hi
    return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)


@dataclass
class Bounds:
    """Bounds on rows ``C y + d`` (or on ``y`` itself when no spec was given).

    ``lb``/``ub`` are (N, K). For CROWN-family methods ``intermediate`` maps each
    pre-activation node id of ``graph`` (the unfused graph the ids refer to) to
    its bounds ``(lo, hi)``, each (N, *node_shape), and ``alphas`` maps
    ``(target, relu node id)`` to the lower-relaxation slopes used, an array
    broadcastable to (N, K_target, *relu_shape); ``target`` is ``"spec"`` for the
    final rows or the id of the pre-activation node being bounded. Together with
    the region and spec this is what a certificate needs to re-derive ``lb``.

    The numbers are float64 computations without rounding control: evidence
    ``computed``. A certificate re-checked by :mod:`certnn.verify.checker` in
    sound arithmetic raises a claim to ``certified``.
    """
    lb: np.ndarray
    ub: np.ndarray | None
    method: str
    graph: Graph
    intermediate: dict = field(default_factory=dict)
    alphas: dict = field(default_factory=dict)
    interval_nodes: tuple = ()      # nodes bounded by the constant (interval) relaxation
    seconds: float = 0.0
    alpha_mode: str | None = None   # alpha-CROWN: "spec" (intermediate bounds fixed) or "full"
    evidence: str = "computed"
    assumptions: tuple = ()
    theorems: tuple = ()            # the theorems (certnn prove) the method rests on
