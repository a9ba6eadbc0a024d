"""Card 13, LayerNorm degenerate axis: with normalized_shape = (1,) every slice
is constant, so at x = 1e6 the output is exactly the bias, the input and scale
gradients are 0 and the bias gradient is 1, in float32 and in bfloat16.

Reports: the TorchLean BugZoo card on degenerate LayerNorm axes. The buggy
implementation here is the hand-written LayerNorm that takes the variance with
the unbiased estimator (``Tensor.var``'s default correction of 1): on a
one-element axis it divides 0 by n - 1 = 0, NaN in the output and in every
gradient; on longer axes it silently rescales the output by sqrt((n-1)/n).
Today's PyTorch fails the same contract for another reason (``torch_impl``; run
``certnn bugzoo show 13``): its layer_norm at x = 1e6 returns a weight gradient
of 7.2 in float32 and the output 6.25 instead of 0.25 in bfloat16.

``buggy``: that LayerNorm in NumPy, with its hand-derived backward.
``fixed``: certnn's ``layer_norm`` op (``F.layer_norm``) and its vjp, on float32
and on ml_dtypes bfloat16 arrays (each NumPy operation rounded to bfloat16).
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 13
TITLE = "LayerNorm degenerate axis"
FAMILY = "layer normalisation over a one-element axis: 0/0 variance"
REPORTS = ("TorchLean BugZoo: LayerNorm over a degenerate axis",
           "hand-written LayerNorm with the unbiased variance (Tensor.var's default correction=1)")
CONTRACT = ("normalized_shape (1,), x = 1e6, weight 1.5, bias 0.25, upstream gradient 1: output bits = bias "
            "bits, dx = 0, dweight = 0, dbias = 1 exactly, in float32 and bfloat16")
EVIDENCE = "checked"
ASSUMPTIONS = ("ml-dtypes-bfloat16-rn",)
DOCUMENTED = ("output-not-bias", "nonzero-gradient")
WEAKENED = {"dtypes": ()}


def buggy(x, w, b, eps=1e-5):
    n = x.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = (xc * xc).sum(axis=-1, keepdims=True) / x.dtype.type(n - 1)      # the unbiased estimator
        r = x.dtype.type(1) / np.sqrt(var + x.dtype.type(eps))
        xhat = xc * r
        y = xhat * w + b
        g = np.ones_like(y)
        gx = g * w
        dx = r * (gx - gx.mean(axis=-1, keepdims=True) - xhat * (gx * xhat).mean(axis=-1, keepdims=True))
    return y, dx, (g * xhat).sum(axis=0), g.sum(axis=0)


def fixed(x, w, b, eps=1e-5):
    from .. import functional as F
    from ..tensor import Tensor
    tx, tw, tb = (Tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.layer_norm(tx, tw, tb, eps)
    F.sum(y).backward()
    return y.data, tx.grad, tw.grad, tb.grad


def torch_impl(x, w, b, eps=1e-5):
    import torch
    dt = torch.bfloat16 if x.dtype.name == "bfloat16" else torch.float32
    tx, tw, tb = (torch.tensor(a.astype(np.float32), dtype=dt, requires_grad=True) for a in (x, w, b))
    y = torch.nn.functional.layer_norm(tx, (1,), tw, tb, eps)
    y.sum().backward()
    return tuple(t.detach().float().numpy() for t in (y, tx.grad, tw.grad, tb.grad))


def contract(impl, dtypes=("float32", "bfloat16")):
    import ml_dtypes
    f = Findings()
    for name in dtypes:
        dt = np.float32 if name == "float32" else ml_dtypes.bfloat16
        x, w, b = np.full((1, 1), 1e6, dt), np.array([1.5], dt), np.array([0.25], dt)
        y, dx, dw, db = (np.asarray(a, np.float64) for a in impl(x, w, b))
        f.check(np.array_equal(y, b.astype(np.float64)[None]), "output-not-bias",
                lambda: f"{name}: output {y.ravel().tolist()}, expected the bias 0.25")
        f.check(np.array_equal(dx, [[0.0]]) and np.array_equal(dw, [0.0]), "nonzero-gradient",
                lambda: f"{name}: dx {dx.ravel().tolist()}, dweight {dw.ravel().tolist()} (expected 0, 0)")
        f.check(np.array_equal(db, [1.0]), "bias-gradient", lambda: f"{name}: dbias {db.ravel().tolist()}, expected 1")
        f.note(**{f"{name} output": y.ravel(), f"{name} dx": dx.ravel(), f"{name} dweight": dw, f"{name} dbias": db})
    return f.verdict("output = bias, dx = dweight = 0, dbias = 1 in float32 and bfloat16")
