"""Card 14, constant slice normalisation: a slice (a BatchNorm channel, a
GroupNorm group, an instance) whose values are all 1e6 normalises to the bias,
with a zero scale gradient. In exact arithmetic x - mean(x) = 0 there; in
floats the computed mean of many copies of 1e6 is off by a residue c (a
fraction of an ulp of 1e6 in float32, up to 1e5 in bfloat16 where the sum
accumulates in bfloat16), every centred value is c, the variance c^2, and the
normalised value c / sqrt(c^2 + eps) is +-1 instead of 0: the output is
bias +- weight and the weight gradient is +-(slice size).

Reports: the TorchLean BugZoo card on constant-slice normalisation
(GroupNorm/InstanceNorm/BatchNorm cancellation on constant inputs: padding
regions, saturated images, constant feature channels). Today's PyTorch fails
the contract (``torch_impl``): batch_norm and group_norm of a constant 1e6
channel in float32 are off the bias by 13.5.

``buggy``: NumPy normalisation with x - mean(x) in the input's dtype.
``fixed``: certnn's ``nn.BatchNorm2d`` (training mode) and ``layer_norm`` op over
(C, H, W) (GroupNorm with one group), which centre by shifted data (d = x - x_0,
then d - mean(d)): a constant slice gives exact zeros.
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 14
TITLE = "Constant slice normalisation"
FAMILY = "cancellation in x - mean(x) on a constant slice (BatchNorm / GroupNorm / InstanceNorm)"
REPORTS = ("TorchLean BugZoo: constant-slice normalisation (GroupNorm/InstanceNorm/BatchNorm cancellation)",)
CONTRACT = ("x of shape (3, 2, 19, 19) equal to 1e6 everywhere, weight 1.5, bias 0.25, upstream gradient 1: "
            "batch normalisation (per channel) and group normalisation (one group) output exactly the bias "
            "and the weight gradient is exactly 0, in float32 and bfloat16")
EVIDENCE = "checked"
ASSUMPTIONS = ("ml-dtypes-bfloat16-rn",)
DOCUMENTED = ("output-not-bias", "nonzero-scale-gradient")
WEAKENED = {"tol": 1e6}

SHAPE, EPS = (3, 2, 19, 19), 1e-5
AXES = {"batch": (0, 2, 3), "group": (1, 2, 3)}


def buggy(x, w, b, kind):
    ax, sh = AXES[kind], (1, -1, 1, 1)
    xc = x - x.mean(axis=ax, keepdims=True)
    r = x.dtype.type(1) / np.sqrt((xc * xc).mean(axis=ax, keepdims=True) + x.dtype.type(EPS))
    xhat = xc * r
    return xhat * w.reshape(sh) + b.reshape(sh), (xhat).sum(axis=(0, 2, 3))


def fixed(x, w, b, kind):
    from .. import functional as F
    from ..nn import BatchNorm2d
    from ..tensor import Tensor
    tx = Tensor(x)
    if kind == "batch":
        bn = BatchNorm2d(x.shape[1], eps=EPS, dtype=x.dtype)
        bn.weight.data[...], bn.bias.data[...] = w, b
        y = bn(tx)
        F.sum(y).backward()
        return y.data, bn.weight.grad
    sh = (-1, 1, 1)
    tw = Tensor(np.broadcast_to(w.reshape(sh), x.shape[1:]).copy(), requires_grad=True)
    tb = Tensor(np.broadcast_to(b.reshape(sh), x.shape[1:]).copy(), requires_grad=True)
    y = F.layer_norm(tx, tw, tb, EPS)
    F.sum(y).backward()
    return y.data, tw.grad.sum(axis=(1, 2))


def torch_impl(x, w, b, kind):
    import torch
    dt = torch.bfloat16 if x.dtype.name == "bfloat16" else torch.float32
    tx = torch.tensor(x.astype(np.float32), dtype=dt)
    tw, tb = (torch.tensor(a.astype(np.float32), dtype=dt, requires_grad=True) for a in (w, b))
    if kind == "batch":
        y = torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True, eps=EPS)
    else:
        y = torch.nn.functional.group_norm(tx, 1, tw, tb, EPS)
    y.sum().backward()
    return y.detach().float().numpy(), tw.grad.float().numpy()


def contract(impl, tol: float = 0.0):
    import ml_dtypes
    f = Findings()
    for name, dt in (("float32", np.float32), ("bfloat16", ml_dtypes.bfloat16)):
        x = np.full(SHAPE, 1e6, dt)
        w, b = np.full(2, 1.5, dt), np.full(2, 0.25, dt)
        for kind in AXES:
            y, dw = (np.asarray(a, np.float64) for a in impl(x, w, b, kind))
            err, gerr = float(np.max(np.abs(y - 0.25))), float(np.max(np.abs(dw)))
            f.check(err <= tol, "output-not-bias",
                    lambda: f"{kind} norm, {name}: output off the bias by up to {err:.3g}")
            f.check(gerr <= tol, "nonzero-scale-gradient",
                    lambda: f"{kind} norm, {name}: weight gradient {gerr:.3g}, expected 0")
            f.note(**{f"{kind} {name}: max |y - bias|": err, f"{kind} {name}: max |dweight|": gerr})
    return f.verdict("a constant slice gives the bias and a zero weight gradient")
