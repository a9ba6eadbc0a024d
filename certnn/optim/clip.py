"""Gradient clipping by global norm (as ``torch.nn.utils.clip_grad_norm_``)."""

from __future__ import annotations

import math

import numpy as np


def clip_grad_norm(params, max_norm: float, eps: float = 1e-6) -> float:
    """Scale all gradients in place so that their global L2 norm is at most ``max_norm``.

    ``total = sqrt(sum over params of sum(grad**2))`` is computed in float64 over
    every parameter whose grad is not None. Each grad is then multiplied (in
    place, in its own dtype) by ``coef = max_norm / (total + eps)`` when
    ``coef < 1``, exactly when PyTorch's clamped coefficient is below 1.
    Returns ``total`` (before clipping). A non-finite total (NaN or inf) is
    returned as is and the gradients are left untouched: reporting it is the
    caller's job. ``params`` may be a single parameter.
    """
    max_norm = float(max_norm)
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    if hasattr(params, "grad"):
        params = [params]
    grads = [p.grad for p in params if p.grad is not None]
    with np.errstate(over="ignore", invalid="ignore"):
        total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    coef = max_norm / (total + eps) if math.isfinite(total) else 1.0
    if coef < 1:
        for g in grads:
            np.multiply(g, coef, out=g, casting="same_kind")
    return total
