"""Losses: cross_entropy (fused log-softmax + negative log-likelihood) and mse.

cross_entropy(logits, target; ignore_index=-100, reduction="mean")
    logits (N, C) float, target (N,) integer class indices in [0, C) or
    ``ignore_index``. With m_i = max_c logits_ic (log-sum-exp, so nothing
    overflows):

        l_i = m_i + log sum_c exp(logits_ic - m_i) - logits_{i, target_i}

    and l_i = 0 for ignored rows. reduction "none" gives (l_i) of shape (N,),
    "sum" gives sum_i l_i and "mean" gives sum_i l_i / V, V = the number of
    non-ignored rows, both of shape (). When EVERY label is ignored (V = 0) the
    "mean" loss is 0.0 and its gradient is zero (PyTorch returns NaN there; a
    batch with nothing to learn should not poison training).
    d l_i / d logits_i = softmax(logits_i) - onehot(target_i) (zero for ignored
    rows), scaled by the cotangent (and 1/V for "mean"). The target is not
    differentiable (its cotangent is ``None``). A target value outside [0, C)
    that is not ``ignore_index``, or a non-integer target dtype, is a
    ShapeError naming the bad value.

mse(pred, target; reduction="mean")
    pred and target of the same shape, d = pred - target:
    "none" -> d * d (same shape), "sum" -> sum(d * d), "mean" -> mean(d * d)
    (shape ()). Gradients: 2 d ct (/ size for "mean") for pred and the
    negative of it for target; both inputs are differentiable.

Everything is vectorized over the batch and computed in the logits'/pred's
dtype (float32 stays float32). A dynamic (``None``) size matches any size.

Interval rules. cross_entropy: l_i = -log_softmax(logits_i)[target_i], so the
row bounds are those of log_softmax (tight up to rounding, see
:mod:`certnn.ops.softmax`); ignored rows are exactly 0; "sum"/"mean" use the
rigorous float-sum enclosure (and an outward-rounded division by V). The
target must be exact (lo == hi, integer valued), else ``IntervalError``.
mse: d = pred - target as an interval (each element occurs once: exact range
up to rounding), d^2 by the exact square rule, then the sum enclosure
(divided by the size for "mean"). Both rest on ``libm-float64-within-4ulp``
(cross_entropy) / ``ieee754-binary64-rn``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import F32, as_f32, b32_log, colsum, count32, ieee
from ..floats import error_rules as er
from ..floats import interval as iv
from . import xp
from ._common import fmt
from .softmax import _softmax_parts
from .registry import OpDef, Sample, register
from .softmax import log_softmax_bounds

_M = __name__
_REDUCTIONS = ("mean", "sum", "none")


def _same(a, b) -> bool:
    return a is None or b is None or a == b


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ShapeError(f"{op}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"got {reduction!r}")


# ---- cross_entropy ------------------------------------------------------------------

def cross_entropy_shape(in_shapes, ignore_index=-100, reduction="mean"):
    _check_reduction("cross_entropy", reduction)
    sl, st = tuple(in_shapes[0]), tuple(in_shapes[1])
    if len(sl) != 2 or len(st) != 1 or not _same(sl[0], st[0]):
        raise ShapeError(f"cross_entropy: expected logits (N, C) and target (N,), got logits {fmt(sl)} "
                         f"and target {fmt(st)}")
    if sl[1] == 0:
        raise ShapeError(f"cross_entropy: logits {fmt(sl)} have no classes")
    n = sl[0] if sl[0] is not None else st[0]
    return (n,) if reduction == "none" else ()


def _labels(logits, target, ignore_index):
    """Validate the target; return (row indices, safe class indices, valid mask, V)."""
    if target.dtype.kind not in "iu":
        raise ShapeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype}")
    cross_entropy_shape([logits.shape, target.shape])
    c = logits.shape[1]
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= c))
    if bad.any():
        v = int(target[bad][0])
        raise ShapeError(f"cross_entropy: target value {v} is out of range for {c} classes "
                         f"(expected 0..{c - 1} or ignore_index={ignore_index})")
    nvalid = int(np.count_nonzero(valid))
    cls = target if nvalid == target.shape[0] else np.where(valid, target, 0)
    return np.arange(target.shape[0]), cls, valid, nvalid


def _shifted(logits):
    """(z, lse): z = logits - rowmax and lse = log sum exp z (both keep the dtype)."""
    z = logits - xp.amax(logits, axis=1, keepdims=True)
    lse = xp.log(np.sum(xp.exp(z), axis=1))
    return z, lse


def _reduce(per_row, reduction, nvalid, dtype):
    if reduction == "none":
        return per_row
    total = np.asarray(np.sum(per_row))  # 0-d array: a Python-int divisor keeps its dtype
    if reduction == "mean":
        total = total / max(nvalid, 1)
    return np.asarray(total, dtype=dtype)


def cross_entropy_real(logits, target, ignore_index=-100, reduction="mean"):
    rows, cls, valid, nvalid = _labels(logits, target, ignore_index)
    z, lse = _shifted(logits)
    loss = lse - z[rows, cls]
    if nvalid < loss.shape[0]:
        loss[~valid] = 0
    return _reduce(loss, reduction, nvalid, logits.dtype)


def _row_weights(ct, reduction, valid, nvalid, dtype):
    """Per-row cotangent factor (zero on ignored rows), in ``dtype``."""
    w = np.asarray(ct, dtype=dtype)
    if reduction == "mean":
        w = w / max(nvalid, 1)
    return np.broadcast_to(w, valid.shape) * xp.mask(valid, w)


def cross_entropy_vjp(ct, out, logits, target, ignore_index=-100, reduction="mean"):
    rows, cls, valid, nvalid = _labels(logits, target, ignore_index)
    z, lse = _shifted(logits)
    z -= lse[:, None]
    g = xp.exp(z, out=z)              # softmax, in place
    g[rows, cls] -= 1
    g *= _row_weights(ct, reduction, valid, nvalid, logits.dtype)[:, None]
    return g, None


def cross_entropy_jvp(tangents, out, logits, target, ignore_index=-100, reduction="mean"):
    rows, cls, valid, nvalid = _labels(logits, target, ignore_index)
    t = tangents[0]
    z, lse = _shifted(logits)
    p = xp.exp(z - lse[:, None])
    dl = np.sum(p * t, axis=1) - t[rows, cls]
    dl = dl * xp.mask(valid, dl)
    return _reduce(dl, reduction, nvalid, dl.dtype)


def _reduce_interval(op, lo, hi, reduction, count):
    if reduction == "none":
        return iv.finish(op, lo, hi)
    s = iv.sum_enclosure(np.sum, lo, hi, lo.size)
    if reduction == "mean":
        s = iv.div_pos(*s, max(count, 1))
    return iv.finish(op, *s)


@iv.uses(*iv.LIBM)
def cross_entropy_interval(los, his, ignore_index=-100, reduction="mean"):
    op = "cross_entropy"
    (lo,), (hi,) = iv.inputs(op, los[:1], his[:1], 1)
    target = iv.exact_input(op, los[1], his[1], "the target")
    if target.dtype.kind == "f":
        if not np.array_equal(target, np.round(target)):
            raise iv.IntervalError(f"{op}: the target must hold integer class indices")
        target = target.astype(np.int64)
    rows, cls, valid, nvalid = _labels(lo, target, ignore_index)
    ls_lo, ls_hi = log_softmax_bounds(lo, hi, axis=1)
    row_lo = np.where(valid, -ls_hi[rows, cls], 0.0)
    row_hi = np.where(valid, -ls_lo[rows, cls], 0.0)
    return _reduce_interval(op, row_lo, row_hi, reduction, nvalid)


def _ce_samples(rng):
    def u(*s):
        return rng.uniform(-3.0, 3.0, size=s)
    t = np.array([0, 3, 1, 2, 3, 0], dtype=np.int64)
    ign = np.array([1, -100, 2, -100], dtype=np.int64)
    return [Sample((u(6, 4), t)),
            Sample((u(6, 4), t), {"reduction": "sum"}),
            Sample((u(6, 4), t), {"reduction": "none"}),
            Sample((u(4, 3), ign)),
            Sample((u(4, 3), ign), {"reduction": "none"}),
            Sample((u(3, 5), np.array([4, 7, 0])), {"ignore_index": 7, "reduction": "sum"}),
            Sample((u(2, 3), np.array([-100, -100]))),
            Sample((u(3, 4) + 500.0, np.array([0, 1, 2], dtype=np.int32)))]


# ---- mse ------------------------------------------------------------------------------

def mse_shape(in_shapes, reduction="mean"):
    _check_reduction("mse", reduction)
    sp, st = tuple(in_shapes[0]), tuple(in_shapes[1])
    if len(sp) != len(st) or not all(_same(a, b) for a, b in zip(sp, st)):
        raise ShapeError(f"mse: pred {fmt(sp)} and target {fmt(st)} must have the same shape")
    if reduction != "none":
        return ()
    return tuple(a if a is not None else b for a, b in zip(sp, st))


def mse_real(pred, target, reduction="mean"):
    mse_shape([pred.shape, target.shape], reduction=reduction)
    d = pred - target
    d *= d
    if reduction == "none":
        return d
    return np.asarray(np.mean(d) if reduction == "mean" else np.sum(d), dtype=d.dtype)


def mse_vjp(ct, out, pred, target, reduction="mean"):
    d = pred - target
    scale = 2.0 / d.size if reduction == "mean" else 2.0
    g = d * (np.asarray(ct, dtype=d.dtype) * scale)
    return g, -g


def mse_jvp(tangents, out, pred, target, reduction="mean"):
    d = pred - target
    dl = 2.0 * d * (tangents[0] - tangents[1])
    if reduction == "none":
        return dl
    return np.asarray(np.mean(dl) if reduction == "mean" else np.sum(dl), dtype=dl.dtype)


@iv.uses(*iv.RN)
def mse_interval(los, his, reduction="mean"):
    (pl, tl), (ph, th) = iv.inputs("mse", los, his, 2)
    mse_shape([pl.shape, tl.shape], reduction=reduction)
    lo, hi = iv.square(*iv.sub(pl, ph, tl, th))
    return _reduce_interval("mse", lo, hi, reduction, lo.size)


def _mse_samples(rng):
    def u(*s):
        return rng.uniform(-2.0, 2.0, size=s)
    return [Sample((u(4, 3), u(4, 3))), Sample((u(5,), u(5,)), {"reduction": "sum"}),
            Sample((u(2, 3, 2), u(2, 3, 2)), {"reduction": "none"}), Sample((u(6, 1), u(6, 1)))]



def cross_entropy_error(los, his, errs, out_lo, out_hi, order="sequential", *, ignore_index=-100,
                        reduction="mean"):
    """Per row RN(log32(s) - z[target]) (0 exactly on ignored rows), then the reduction."""
    target = np.asarray(los[1])
    if target.dtype.kind == "f":
        target = target.astype(np.int64)
    lo, hi = np.asarray(los[0], np.float64), np.asarray(his[0], np.float64)
    rows, cls, valid, nvalid = _labels(lo, target, ignore_index)
    z, _, s = er.softmax_steps(lo, hi, np.broadcast_to(errs[0], lo.shape), order)
    l = er.t_sub(er.log_sum(s), tuple(v[rows, cls] for v in z))    # noqa: E741
    l = tuple(np.where(valid, v, 0.0) for v in l)               # noqa: E741
    return er.finish(er.reduce_loss(l, reduction, nvalid, order))


# ---- binary32 rules (the engine: certnn.floats.b32) -------------------------------------

def b32_cross_entropy(logits, target, order=None, backend=None, *, ignore_index=-100, reduction="mean"):
    _check_reduction("cross_entropy", reduction)
    logits = as_f32(logits, "cross_entropy", "logits")
    rows, cls, valid, nvalid = _labels(logits, np.asarray(target), ignore_index)
    z, _, s = _softmax_parts(logits, order, backend)
    lse = b32_log(s)
    loss = lse - z[rows, cls]
    if nvalid < loss.shape[0]:
        loss[~valid] = F32(0)
    if reduction == "none":
        return loss
    total = colsum(loss.reshape(-1, 1), order, backend).reshape(())
    if reduction == "mean":
        total = total / count32(max(nvalid, 1))
    return np.asarray(total, F32)


def b32_mse(pred, target, order=None, backend=None, *, reduction="mean"):
    pred, target = as_f32(pred, "mse", "pred"), as_f32(target, "mse", "target")
    mse_shape([pred.shape, target.shape], reduction=reduction)
    d = pred - target
    d2 = d * d
    if reduction == "none":
        return d2
    total = colsum(d2.reshape(-1, 1), order, backend).reshape(())
    if reduction == "mean":
        with np.errstate(invalid="ignore"):
            total = total / count32(d2.size)
    return np.asarray(total, F32)


register(OpDef(name="cross_entropy", binary32=ieee(b32_cross_entropy), module=_M, arity=(2,),
               attrs={"ignore_index": -100, "reduction": "mean"}, shape=cross_entropy_shape,
               real=cross_entropy_real, vjp=cross_entropy_vjp, jvp=cross_entropy_jvp,
               interval=cross_entropy_interval, error=cross_entropy_error, samples=_ce_samples, differentiable=(True, False),
               doc=__doc__))
register(OpDef(name="mse", binary32=ieee(b32_mse), module=_M, arity=(2,), attrs={"reduction": "mean"}, shape=mse_shape,
               real=mse_real, vjp=mse_vjp, jvp=mse_jvp, interval=mse_interval, error=er.mse_error, samples=_mse_samples,
               doc=__doc__))
