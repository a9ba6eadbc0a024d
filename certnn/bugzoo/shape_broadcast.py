"""Card 8, shape and broadcast: an unintended broadcast, (N,) - (N, 1) -> (N, N)
in a hand-written loss, is refused with the shapes named instead of silently
averaging N^2 wrong terms.

Reports: SFData (ISSTA 2022, a study of shape bugs): 146 shape bugs from real
TensorFlow/PyTorch programs. An unintended broadcast in a loss is a silent one:
the program runs and trains, on the wrong quantity.

``buggy``: NumPy ``((pred - target) ** 2).mean()`` with pred (N,) and target
(N, 1): an (N, N) matrix of differences, averaged. ``fixed``: the same
hand-written loss on certnn tensors inside ``F.strict_broadcast()``, where an
outer broadcast (a result shape none of the operands has) raises ``ShapeError``
naming the op and the shapes, eagerly, while tracing and when a graph is
validated. The check is opt-in: outside the context NumPy's rules apply.
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 8
TITLE = "Shape and broadcast"
FAMILY = "unintended broadcasting: (N,) - (N, 1) -> (N, N) in a loss"
REPORTS = ("SFData (ISSTA 2022): 146 real shape bugs, silent broadcasting among them",)
CONTRACT = ("pred (N,) against target (N, 1): the loss is refused with a CertnnError whose message names "
            "both shapes, or it equals mean((pred_i - target_i)^2) (|diff| <= 1e-12); matched shapes give "
            "that mean")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("silent-broadcast",)
WEAKENED = {"tol": 1e3}


def buggy(pred, target):
    return ((pred - target) ** 2).mean()


def fixed(pred, target):
    from .. import functional as F
    from ..tensor import Tensor
    with F.strict_broadcast():
        d = Tensor(pred) - Tensor(target)
        return F.mean(d * d).data


def contract(impl, tol: float = 1e-12):
    from ..errors import CertnnError
    f = Findings()
    pred = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    target = pred[:, None] + np.array([0.5, -0.5, 0.25, 0.0, 1.0])[:, None]
    right = float(np.mean((pred - target[:, 0]) ** 2))
    same = float(impl(pred, target[:, 0]))
    f.check(abs(same - right) <= 1e-12, "wrong-loss", lambda: f"matched shapes: loss {same} vs {right}")
    try:
        got = float(impl(pred, target))
    except CertnnError as exc:
        msg = str(exc)
        f.check("(5,)" in msg and "(5, 1)" in msg, "unnamed-shapes", f"the refusal does not name the shapes: {msg}")
        f.note(refused=msg)
    else:
        f.check(abs(got - right) <= tol, "silent-broadcast",
                lambda: f"(5,) - (5, 1) silently gave loss {got:.6g}; the elementwise loss is {right:.6g}")
        f.note(loss_seen=got, loss_expected=right)
    return f.verdict("the outer broadcast is refused with both shapes named")
