"""Card 1, attention mask: a masked (future) position must get exactly zero
weight, and a query whose keys are all masked must not become NaN.

Reports: PyTorch #99282 (``nn.MultiheadAttention(..., is_causal=True)`` with
``need_weights=True``: ``is_causal`` is only a hint, the causal mask is not
applied and future positions get weight); PyTorch #160064 (a fully masked row or
head: softmax over all ``-inf`` scores is 0/0 = NaN, and the NaN spreads).

``buggy``: the common NumPy recipe: fill masked scores with -inf, softmax, and
treat ``is_causal`` as a hint that only matters when a mask is given (#99282).
``fixed``: certnn's ``masked_softmax`` op (a row with no allowed key is all
zeros) inside ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 1
TITLE = "Attention mask"
FAMILY = "masked attention: future positions leak, fully masked rows become NaN"
REPORTS = ("PyTorch #99282 (is_causal ignored with need_weights=True)",
           "PyTorch #160064 (fully masked heads give NaN)")
CONTRACT = ("for every query: weights on masked keys are exactly 0; a row with an allowed key sums to 1 "
            "(|sum - 1| <= 1e-6); a row with no allowed key is all zeros; outputs are finite")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("future-weight", "nan-row")
WEAKENED = {"empty_rows": False, "causal": False}


def _cases():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 5, 4)).astype(np.float32) for _ in range(3))
    pad = np.ones((2, 5, 5), bool)
    pad[1, :, :] = False                 # sequence 1: every key is padding (a fully masked head)
    pad[0, :, 3:] = False
    return [("causal, no explicit mask", q, k, v, None, True), ("padding with an empty row", q, k, v, pad, False),
            ("causal and padding", q, k, v, pad, True)]


def _allowed(Tq, Tk, keep, is_causal):
    a = np.ones((Tq, Tk), bool) if keep is None else keep
    return a & np.tril(np.ones((Tq, Tk), bool)) if is_causal else a


def buggy(q, k, v, keep=None, is_causal=False):
    """-inf fill and softmax; ``is_causal`` only used with an explicit mask (the #99282 fast-path hint)."""
    s = q @ np.swapaxes(k, -1, -2) / np.float32(np.sqrt(q.shape[-1]))
    if keep is not None:
        if is_causal:
            keep = keep & np.tril(np.ones(s.shape[-2:], bool))
        s = np.where(keep, s, np.float32(-np.inf))
    with np.errstate(invalid="ignore"):
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


def fixed(q, k, v, keep=None, is_causal=False):
    from .. import functional as F
    from ..tensor import Tensor
    q, k, v = Tensor(q), Tensor(k), Tensor(v)
    out = F.scaled_dot_product_attention(q, k, v, keep, is_causal=is_causal)
    # the weights the same call used: masked_softmax of the scaled scores under the same mask
    allowed = _allowed(q.shape[-2], k.shape[-2], keep, is_causal)
    scores = F.matmul(q, F.transpose(k, (0, 2, 1))) * (1.0 / float(np.sqrt(q.shape[-1])))
    return out.data, F.masked_softmax(scores, allowed).data


def torch_impl(q, k, v, keep=None, is_causal=False):
    """PyTorch's MultiheadAttention with identity projections, need_weights=True."""
    import torch
    B, T, d = q.shape
    mha = torch.nn.MultiheadAttention(d, 1, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(d).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(d))
        mask = None if keep is None else torch.from_numpy(~np.ascontiguousarray(keep))
        if is_causal and mask is None:
            out, w = mha(*(torch.from_numpy(a) for a in (q, k, v)), need_weights=True, is_causal=True,
                         attn_mask=None)
        else:
            if is_causal:
                mask = mask | torch.from_numpy(~np.tril(np.ones((T, T), bool)))
            out, w = mha(*(torch.from_numpy(a) for a in (q, k, v)), need_weights=True, attn_mask=mask)
    return out.numpy(), w.numpy()


def contract(impl, empty_rows: bool = True, causal: bool = True, tol: float = 1e-6) -> "Verdict":  # noqa: F821
    f = Findings()
    for name, q, k, v, keep, is_causal in _cases():
        try:
            out, w = impl(q, k, v, keep, is_causal)
        except Exception as exc:                    # a refused case is a failed case
            f.fail("refused", f"{name}: {type(exc).__name__}: {exc}")
            continue
        w = np.broadcast_to(np.asarray(w, np.float64), (q.shape[0], q.shape[1], k.shape[1]))
        allowed = np.broadcast_to(_allowed(q.shape[1], k.shape[1], keep, is_causal if causal else False), w.shape)
        empty = ~allowed.any(axis=-1)
        leaked = np.where(allowed | empty[..., None], 0.0, np.nan_to_num(np.abs(w), nan=1.0))
        f.check(leaked.max() == 0, "future-weight",
                lambda: f"{name}: weight {leaked.max():.3g} on a masked key")
        rows = w.sum(axis=-1)
        full = ~empty
        f.check(np.all(np.abs(rows[full] - 1) <= tol), "not-normalised",
                lambda: f"{name}: a row sums to {rows[full][np.argmax(np.abs(rows[full] - 1))]}")
        if empty_rows:
            bad = ~np.isfinite(w[empty]).all() or np.abs(np.nan_to_num(w[empty], nan=1.0)).max(initial=0) > 0
            f.check(not bad and np.isfinite(out).all(), "nan-row",
                    lambda: f"{name}: a fully masked row gives weights {w[empty][0]} (should be zeros)")
        f.note(**{f"{name}: max masked weight": float(np.nan_to_num(leaked, nan=1.0).max()),
                  f"{name}: NaN weights": int(np.isnan(w).sum())})
    return f.verdict("masked keys get 0, allowed rows sum to 1, empty rows are zeros")
