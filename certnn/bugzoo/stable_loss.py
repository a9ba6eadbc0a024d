"""Card 5, stable loss: cross-entropy from logits through log-softmax (the
log-sum-exp shift) has no inf/NaN for float32 logits of magnitude 1e4, and its
gradient is softmax(logits) - onehot(target).

Reports: TensorFuzz (Odena et al., ICML 2019): coverage-guided fuzzing found
NaNs in a model computing cross-entropy as ``log(softmax(logits))``; the same
naive formula appears in countless hand-written training loops.

``buggy``: ``-log(exp(z) / sum(exp(z)))`` in float32, gradient ``p - onehot``
from the same overflowing ``p``. ``fixed``: certnn's ``cross_entropy`` op
(log-sum-exp with the max shift) and its vjp, through ``Tensor.backward``.
"""

from __future__ import annotations

import functools

import numpy as np

from .card import Findings, examples

NUMBER = 5
TITLE = "Stable loss"
FAMILY = "cross-entropy overflow: log(softmax(z)) gives inf/NaN for large logits"
REPORTS = ("TensorFuzz (Odena et al., ICML 2019): NaN from log of softmax",)
CONTRACT = ("for float32 logits with |z| up to 1e4 (40 hypothesis examples plus the extremes): loss and "
            "gradient finite, |loss - L| <= 1e-3 (1 + |L|) with L the float64 log-sum-exp value, and "
            "|grad - (softmax - onehot)/N| <= 1e-5 elementwise")
EVIDENCE = "tested"
ASSUMPTIONS = ("hypothesis-sampled",)
DOCUMENTED = ("non-finite",)
WEAKENED = {"scale": 10.0}


def buggy(z, target):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        rows = np.arange(len(z))
        loss = -np.log(p[rows, target]).mean()
        g = p.copy()
        g[rows, target] -= 1
    return np.float32(loss), (g / len(z)).astype(np.float32)


def fixed(z, target):
    from .. import functional as F
    from ..tensor import Tensor
    logits = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(logits, np.asarray(target))
    loss.backward()
    return loss.data, logits.grad


def torch_impl(z, target):
    import torch
    logits = torch.tensor(z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(target))
    loss.backward()
    return loss.detach().numpy(), logits.grad.numpy()


@functools.lru_cache(maxsize=4)
def _cases(scale):
    import hypothesis.strategies as st
    from hypothesis.extra.numpy import arrays
    strat = st.tuples(arrays(np.float32, (3, 5), elements=st.floats(-scale, scale, width=32)),
                      arrays(np.int64, (3,), elements=st.integers(0, 4)))
    extreme = np.array([[scale, -scale, 0, 0, 0], [-scale] * 5, [scale, scale, -scale, 1, 2]], np.float32)
    return [(extreme, np.array([1, 0, 2]))] + examples(strat, 40, seed=5)


def contract(impl, scale: float = 1e4):
    f = Findings()
    worst = 0.0
    for z, t in _cases(scale):
        loss, g = impl(z, t)
        loss, g = float(loss), np.asarray(g, np.float64)
        z64 = z.astype(np.float64)
        m = z64.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z64 - m).sum(axis=1))
        L = float(np.mean(lse - z64[np.arange(len(t)), t]))
        p = np.exp(z64 - lse[:, None])
        ref = p.copy()
        ref[np.arange(len(t)), t] -= 1
        ref /= len(t)
        if not f.check(np.isfinite(loss) and np.isfinite(g).all(), "non-finite",
                       lambda: f"logits max |z| {np.abs(z).max():.3g}: loss {loss}, "
                               f"{int((~np.isfinite(g)).sum())} non-finite gradient entries"):
            continue
        f.check(abs(loss - L) <= 1e-3 * (1 + abs(L)), "wrong-loss", lambda: f"loss {loss} vs {L}")
        err = float(np.abs(g - ref).max())
        worst = max(worst, err)
        f.check(err <= 1e-5, "wrong-gradient", lambda: f"gradient off by {err:.3g}")
    f.note(max_gradient_error=worst)
    return f.verdict("finite loss and gradient = softmax - onehot up to |z| = 1e4")
