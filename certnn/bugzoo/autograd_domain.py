"""Card 11, autograd domain: ``where(mask, x / y, 0)`` with y = 0 where the mask
is False. The value is fine, but reverse mode multiplies the zero cotangent of
the branch not taken by the partial derivative 1/y = inf: 0 * inf = NaN, and
the NaN reaches x's and y's gradients.

Reports: PyTorch's autograd notes (division by zero in autograd: a masked
``where(y != 0, x / y, 0)`` still has NaN gradients; the advice there is to mask
the input instead, ``x / where(y != 0, y, 1)``).

``buggy``: NumPy reverse mode as PyTorch does it (the division's vjp ``ct / y``,
``-ct x / y^2`` evaluated everywhere). ``fixed``: certnn's ``where`` op and the
elementwise vjp's strong zero (a zero cotangent contributes exactly 0 whatever
the partial derivative).
"""

from __future__ import annotations

import functools

import numpy as np

from .card import Findings, examples

NUMBER = 11
TITLE = "Autograd domain"
FAMILY = "NaN gradients through where(mask, x / y, 0)"
REPORTS = ("PyTorch autograd notes: division by zero in autograd (NaN gradient of the branch not taken)",)
CONTRACT = ("for L = sum(where(y != 0, x / y, 0)): dL/dx and dL/dy are finite and equal the gradients of "
            "the safe formulation where(y != 0, x / where(y != 0, y, 1), 0) (rtol 1e-12), on 30 hypothesis "
            "examples with zeros in y")
EVIDENCE = "tested"
ASSUMPTIONS = ("hypothesis-sampled",)
DOCUMENTED = ("nan-gradient",)
WEAKENED = {"masked_entries": False}


def buggy(x, y):
    mask = y != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ct = np.where(mask, 1.0, 0.0)                 # the cotangent where() sends to x / y
        return ct / y, -ct * x / (y * y)


def fixed(x, y):
    from .. import functional as F
    from ..tensor import Tensor
    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):     # x / 0 = inf in the branch not taken
        F.sum(F.where(y != 0, tx / ty, Tensor(np.zeros_like(x)))).backward()
    return tx.grad, ty.grad


def torch_impl(x, y):
    import torch
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch.where(ty != 0, tx / ty, torch.zeros_like(tx)).sum().backward()
    return tx.grad.numpy(), ty.grad.numpy()


@functools.lru_cache(maxsize=1)
def _cases():
    import hypothesis.strategies as st
    from hypothesis.extra.numpy import arrays
    vals = st.one_of(st.just(0.0), st.floats(-4, 4).filter(lambda v: abs(v) > 1e-3))
    return [(np.array([1.0, 2.0, -3.0]), np.array([0.0, 4.0, 0.0]))] + examples(
        st.tuples(arrays(np.float64, 6, elements=st.floats(-4, 4)), arrays(np.float64, 6, elements=vals)), 30, 11)


def contract(impl, masked_entries: bool = True, rtol: float = 1e-12):
    f = Findings()
    nan_seen = 0
    for x, y in _cases():
        gx, gy = (np.asarray(g, np.float64) for g in impl(x, y))
        m = y != 0
        safe = np.where(m, y, 1.0)
        rx, ry = np.where(m, 1 / safe, 0.0), np.where(m, -x / safe ** 2, 0.0)
        look = np.ones_like(m) if masked_entries else m     # the weakened contract looks only where y != 0
        nan_seen += int((~np.isfinite(gx[look])).sum() + (~np.isfinite(gy[look])).sum())
        if not f.check(np.isfinite(gx[look]).all() and np.isfinite(gy[look]).all(), "nan-gradient",
                       lambda: f"y = {y.tolist()}: gradients {gx.tolist()}, {gy.tolist()}"):
            continue
        # atol: a subnormal x makes -x / y^2 round differently in the two formulations
        ok = np.allclose(gx[look], rx[look], rtol=rtol, atol=1e-300) and \
            np.allclose(gy[look], ry[look], rtol=rtol, atol=1e-300)
        f.check(ok, "wrong-gradient", lambda: f"y = {y.tolist()}: gradients differ from the safe formulation")
    f.note(non_finite_gradient_entries=nan_seen)
    return f.verdict("finite gradients equal to the safe formulation's")
