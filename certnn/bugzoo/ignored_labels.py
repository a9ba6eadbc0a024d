"""Card 6, ignored labels: rows whose label is ``ignore_index`` contribute
exactly zero; when every label is ignored the mean loss is 0 with a zero
gradient, not 0/0 = NaN.

Reports: PyTorch #75181 (``cross_entropy(..., reduction="mean")`` returns NaN
when all targets equal ``ignore_index``; a padded batch with no real token then
poisons training).

``buggy``: NumPy mean over the non-ignored rows, ``sum / count`` with count 0.
``fixed``: certnn's ``cross_entropy`` op, whose "mean" over zero valid rows is 0
with a zero gradient.
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 6
TITLE = "Ignored labels"
FAMILY = "ignore_index: all-ignored batches give NaN loss and gradients"
REPORTS = ("PyTorch #75181 (cross_entropy with every target ignored returns NaN)",)
CONTRACT = ("loss = mean over non-ignored rows of the row losses (|diff| <= 1e-5), ignored rows have "
            "gradient exactly 0, and with every label ignored: loss exactly 0 and gradient exactly 0")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("all-ignored-nan",)
WEAKENED = {"all_ignored": False}

IGNORE = -100


def buggy(z, target):
    valid = target != IGNORE
    with np.errstate(invalid="ignore", divide="ignore"):
        m = z.max(axis=1, keepdims=True)
        logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
        rows = np.arange(len(z))
        t = np.where(valid, target, 0)
        n = valid.sum()
        loss = -(logp[rows, t] * valid).sum() / n
        g = np.exp(logp)
        g[rows, t] -= 1
        g = g * valid[:, None] / n
    return np.float32(loss), g.astype(np.float32)


def fixed(z, target):
    from .. import functional as F
    from ..tensor import Tensor
    logits = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(logits, np.asarray(target), ignore_index=IGNORE)
    loss.backward()
    return loss.data, logits.grad


def torch_impl(z, target):
    import torch
    logits = torch.tensor(z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(target), ignore_index=IGNORE)
    loss.backward()
    return loss.detach().numpy(), logits.grad.numpy()


def contract(impl, all_ignored: bool = True):
    f = Findings()
    rng = np.random.default_rng(6)
    z = rng.standard_normal((4, 5)).astype(np.float32)
    some = np.array([1, IGNORE, 3, IGNORE])
    loss, g = impl(z, some)
    z64 = z.astype(np.float64)
    lse = np.log(np.exp(z64).sum(axis=1))
    keep = some != IGNORE
    L = float(np.mean((lse - z64[np.arange(4), np.where(keep, some, 0)])[keep]))
    f.check(abs(float(loss) - L) <= 1e-5, "wrong-loss", lambda: f"loss {float(loss)} vs {L}")
    f.check(np.all(np.asarray(g)[~keep] == 0), "ignored-row-gradient", "an ignored row has a nonzero gradient")
    f.note(partial_loss=float(loss), expected=L)
    if all_ignored:
        none = np.full(4, IGNORE)
        loss0, g0 = impl(z, none)
        f.check(float(loss0) == 0 and np.all(np.asarray(g0) == 0), "all-ignored-nan",
                lambda: f"every label ignored: loss {float(loss0)}, "
                        f"{int(np.isnan(np.asarray(g0)).sum())} NaN gradient entries")
        f.note(all_ignored_loss=float(loss0))
    return f.verdict("ignored rows contribute 0; all ignored gives loss 0 and gradient 0")
