"""Normalisation: ``batch_norm`` (eval mode), ``layer_norm`` and ``rms_norm``, PyTorch semantics.

batch_norm(x, weight, bias, running_mean, running_var; eps=1e-5):
    Eval mode, the running statistics being inputs. x is (N, C, *spatial)
    (usually (N, C) or (N, C, H, W); any rank >= 2 is accepted, as in
    ``torch.nn.functional.batch_norm``); the other four inputs are (C,) and
    broadcast along channel axis 1::

        r = 1 / sqrt(running_var + eps)
        y = (x - running_mean) * r * weight + bias

    Domain: running_var + eps > 0. Affine in x for fixed parameters, but not
    jointly linear in its five (all differentiable) inputs. Partial derivatives:
    dy/dx = r w, dy/dweight = (x - m) r, dy/dbias = 1, dy/dmean = -r w,
    dy/dvar = -(x - m) w r^3 / 2; the parameter cotangents are summed over
    every axis but 1, so the vjp returns exactly (C,)-shaped arrays.

layer_norm(x, weight, bias; eps=1e-5):
    Normalises over the trailing k = weight.ndim axes of x (weight and bias
    have the normalized shape x.shape[-k:]), with the biased variance, like
    ``torch.nn.functional.layer_norm``::

        mu = mean(x), var = mean((x - mu)^2)       over the trailing k axes
        xhat = (x - mu) r,  r = 1 / sqrt(var + eps)

    x - mu is computed from shifted data, d - mean(d) with d = x - x_0 (x_0 the
    slice's first element): the same number in exact arithmetic, and exact zeros
    (output = bias) on a constant slice, where a rounded mean is not.
        y = xhat * weight + bias

    All three inputs differentiable. With means over the normalised axes,
    the jvp is dxhat = r (dx - mean(dx) - xhat mean(xhat dx)), dy = dxhat w +
    xhat dw + db; the vjp is the same (self-adjoint) projection applied to
    g = ct w, and dweight, dbias sum ct xhat, ct over the leading axes.

batch_norm_train(x, weight, bias; eps=1e-5):
    Training mode (``torch.nn.functional.batch_norm(..., training=True)``):
    x is (N, C, *spatial), weight and bias (C,); each channel is normalised
    with the statistics of the batch, over every axis but 1, by layer_norm's
    formulas (shifted data, biased variance) with those axes in place of the
    trailing ones, and the affine map is per channel::

        xhat = (x - mu_c) r_c,  r_c = 1 / sqrt(var_c + eps),  y = xhat w_c + b_c

    One op instead of ten primitives (``nn.BatchNorm2d`` in training mode): its
    vjp is layer_norm's projection over the batch axes, dweight and dbias sum
    ct xhat and ct over them. The forward stashes xhat, r and the batch mean and
    variance under x (:mod:`certnn.ops.stash`): the vjp takes xhat and r, the
    layer takes the statistics for its running averages (``batch_moments``).

rms_norm(x, weight; eps=1e-6):
    Root-mean-square normalisation over the trailing k = weight.ndim axes
    (``torch.nn.functional.rms_norm``; no centring, no bias)::

        r = 1 / sqrt(mean(x^2) + eps),   xhat = x r,   y = xhat * weight

    Both inputs differentiable: dxhat = r (dx - xhat mean(xhat dx)) (the
    projection is symmetric, so the vjp applies it to g = ct w), dweight sums
    ct xhat over the leading axes.

Only the batch dimension (axis 0) of x may be dynamic (``None``) in the
shape rules. Computation is in the inputs' dtype (eps a Python float, so
float32 stays float32).

Interval rules (outward rounded, ``ieee754-binary64-rn``):
batch_norm composes interval helpers on (x - mean) * (weight / sqrt(var + eps))
+ bias; every input occurs once, so this is tight up to rounding whether the
parameters are exact or intervals. A box with var + eps reaching 0 or below
(outside the domain) gives the whole line for that channel.
layer_norm is sound but loose for wide boxes (the dependency problem: x
occurs in the centring and in the variance). The centred value is bounded
exactly via x_i - mu = ((k - 1) x_i - sum_{j != i} x_j) / k (each x_j once);
var >= mean of the lower bounds of (x_j - mu)^2 >= 0; and xhat is clipped to
|xhat_i| <= sqrt(k - 1), which always holds (sum xhat = 0 and
sum xhat^2 = k var / (var + eps) <= k give xhat_i^2 <= (k - 1) sum xhat^2 / k).
batch_norm_train uses layer_norm's bounds on xhat with the batch axes as the
normalised ones (k = the number of elements per channel), then the per-channel
affine map.
rms_norm is tight up to rounding: with S_i = sum_{j != i} x_j^2 (exact range
from the squares' bounds, an exclusive sum), xhat_i = x_i / sqrt((x_i^2 + S_i)/k
+ eps) increases in x_i (its derivative is r (1 - xhat_i^2 / k) > 0) and |xhat_i|
decreases in S_i, so its extremes are at x_i = lo_i or hi_i with S_i at the end
that makes |xhat_i| largest (upper bound) or smallest (lower bound).

Relax rule (CROWN): layer_norm with constant weight and bias has tangent planes
at the box centre with a rigorous second-order remainder (``ln_relax``): they
keep the dependency on x that the interval loses, exact to second order in the
box's radius.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import F32, as_f32, count32, ieee, rowsum
from ..floats import error_rules as er
from ..floats import interval as iv
from . import xp
from ._common import fmt
from .registry import OpDef, Sample, register
from .relax import Tangent, multivariate
from .stash import Stash

_PARAMS = ("weight", "bias", "running_mean", "running_var")


def _check_eps(op, eps):
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps >= 0:
        raise ShapeError(f"{op}: eps must be a non-negative number, got {eps!r}")


# ---------------------------------------------------------------- batch_norm

def _channel_shape(op, in_shapes, eps, names):
    """(N, C, ...) input and one (C,) parameter per name: the shape rule of both batch norms."""
    _check_eps(op, eps)
    x = tuple(in_shapes[0])
    if len(x) < 2:
        raise ShapeError(f"{op}: input must have at least 2 dimensions (N, C, ...), got {fmt(x)}")
    if any(d is None for d in x[1:]):
        raise ShapeError(f"{op}: only the batch dimension may be dynamic, got input {fmt(x)}")
    for name, s in zip(names, in_shapes[1:]):
        if tuple(s) != (x[1],):
            raise ShapeError(f"{op}: {name} must have shape ({x[1]},) for input {fmt(x)} "
                             f"with {x[1]} channels (axis 1), got {fmt(s)}")
    return x


def bn_shape(in_shapes, eps):
    return _channel_shape("batch_norm", in_shapes, eps, _PARAMS)


def _bn_parts(x, weight, mean, var, eps):
    bc = (1, -1) + (1,) * (x.ndim - 2)
    r = 1.0 / xp.sqrt(var + eps)
    return bc, r, x - mean.reshape(bc)


def bn_real(x, weight, bias, running_mean, running_var, *, eps):
    bn_shape([x.shape, weight.shape, bias.shape, running_mean.shape, running_var.shape], eps=eps)
    bc, r, xc = _bn_parts(x, weight, running_mean, running_var, eps)
    return xc * (r * weight).reshape(bc) + bias.reshape(bc)


def bn_vjp(ct, out, x, weight, bias, running_mean, running_var, *, eps):
    bc, r, xc = _bn_parts(x, weight, running_mean, running_var, eps)
    axes = (0,) + tuple(range(2, x.ndim))
    s_ct = ct.sum(axis=axes)
    s_ctxc = (ct * xc).sum(axis=axes)
    rw = r * weight
    gx = ct * rw.reshape(bc)
    gw = s_ctxc * r
    gm = -s_ct * rw
    gv = -0.5 * s_ctxc * weight * r * r * r
    return gx, gw, s_ct, gm, gv


def bn_jvp(tangents, out, x, weight, bias, running_mean, running_var, *, eps):
    tx, tw, tb, tm, tv = (np.broadcast_to(t, a.shape) for t, a in
                          zip(tangents, (x, weight, bias, running_mean, running_var)))
    bc, r, xc = _bn_parts(x, weight, running_mean, running_var, eps)
    rw = r * weight
    coef_xc = r * tw - 0.5 * tv * weight * r * r * r      # per channel, multiplies (x - m)
    return (tx * rw.reshape(bc) + xc * coef_xc.reshape(bc)
            + (tb - tm * rw).reshape(bc))


@iv.uses(*iv.RN)
def bn_interval(los, his, *, eps):
    los, his = iv.inputs("batch_norm", los, his, 5)
    bn_shape([lo.shape for lo in los], eps=eps)
    bc = (1, -1) + (1,) * (los[0].ndim - 2)
    (xl, wl, bl, ml, vl), (xh, wh, bh, mh, vh) = los, his
    r = iv.div(1.0, 1.0, *iv.sqrt(*iv.add(vl, vh, eps, eps)))     # 0 in the divisor: whole line
    k = iv.mul(*r, wl, wh)
    xc = iv.sub(xl, xh, ml.reshape(bc), mh.reshape(bc))
    y = iv.mul(*xc, k[0].reshape(bc), k[1].reshape(bc))
    return iv.finish("batch_norm", *iv.add(*y, bl.reshape(bc), bh.reshape(bc)))


def bn_samples(rng):
    def s(xshape, **attrs):
        c = xshape[1]
        return Sample((rng.uniform(-2, 2, xshape), rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c),
                       rng.uniform(-1, 1, c), rng.uniform(0.3, 2.0, c)), attrs)

    return [s((4, 3)), s((2, 3, 4, 5)), s((2, 4, 6), eps=1e-3)]


# ---------------------------------------------------------------- layer_norm

def ln_shape(in_shapes, eps):
    _check_eps("layer_norm", eps)
    x, w, b = (tuple(s) for s in in_shapes)
    k = len(w)
    if k < 1:
        raise ShapeError(f"layer_norm: weight must have at least 1 dimension (the normalized shape), "
                         f"got {fmt(w)}")
    if tuple(b) != w:
        raise ShapeError(f"layer_norm: bias shape {fmt(b)} must equal weight shape {fmt(w)}")
    if len(x) < k or x[len(x) - k:] != w:
        raise ShapeError(f"layer_norm: input {fmt(x)} must end with the normalized shape {fmt(w)} "
                         f"(the weight's shape)")
    if any(d is None for d in x[1:]):
        raise ShapeError(f"layer_norm: only the batch dimension may be dynamic, got input {fmt(x)}")
    return x


def centred(x, axes):
    """x - mean(x) over ``axes`` by shifted data: d = x - s with s the first element of
    each slice, then d - mean(d). Equal in exact arithmetic; in floats a constant
    slice gives exact zeros, which x - mean(x) does not when the mean rounds (1075
    float32 copies of 1e6 have a mean 1e6 + 0.0625, and that noise over sqrt(eps)
    becomes an output of order 1 instead of the bias: BugZoo card 14)."""
    s = x[tuple(slice(0, 1) if i in axes else slice(None) for i in range(x.ndim))]
    d = x - s
    return d - d.mean(axis=axes, keepdims=True)


def _ln_parts(x, weight, eps):
    axes = tuple(range(x.ndim - weight.ndim, x.ndim))
    xc = centred(x, axes)
    r = 1.0 / xp.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
    return axes, r, xc * r


def ln_real(x, weight, bias, *, eps):
    ln_shape([x.shape, weight.shape, bias.shape], eps=eps)
    _, _, xhat = _ln_parts(x, weight, eps)
    return xhat * weight + bias


def _ln_project(g, xhat, r, axes):
    """r (g - mean(g) - xhat mean(xhat g)): the (symmetric) Jacobian of xhat wrt x."""
    return r * (g - g.mean(axis=axes, keepdims=True)
                - xhat * (xhat * g).mean(axis=axes, keepdims=True))


def ln_vjp(ct, out, x, weight, bias, *, eps):
    axes, r, xhat = _ln_parts(x, weight, eps)
    lead = tuple(range(x.ndim - weight.ndim))
    gx = _ln_project(ct * weight, xhat, r, axes)
    return gx, (ct * xhat).sum(axis=lead), ct.sum(axis=lead)


def ln_jvp(tangents, out, x, weight, bias, *, eps):
    tx, tw, tb = (np.broadcast_to(t, a.shape) for t, a in zip(tangents, (x, weight, bias)))
    axes, r, xhat = _ln_parts(x, weight, eps)
    return _ln_project(tx, xhat, r, axes) * weight + xhat * tw + tb


@iv.uses(*iv.RN)
def ln_interval(los, his, *, eps):
    (xl, wl, bl), (xh, wh, bh) = iv.inputs("layer_norm", los, his, 3)
    ln_shape([xl.shape, wl.shape, bl.shape], eps=eps)
    xhat = _xhat_interval(xl, xh, tuple(range(xl.ndim - wl.ndim, xl.ndim)), wl.size, eps)
    return iv.finish("layer_norm", *iv.add(*iv.mul(*xhat, wl, wh), bl, bh))


def _xhat_interval(xl, xh, axes, k, eps):
    """Enclosure of xhat = (x - mu) r over ``axes`` (k elements per slice)."""
    def total(x):
        return np.sum(x, axis=axes, keepdims=True)

    # centring, each x_j once: x_i - mu = ((k - 1) x_i - sum_{j != i} x_j) / k
    s_lo, s_hi = iv.sum_enclosure(total, xl, xh, k)
    others_lo = iv.sub(s_lo, s_lo, xl, xl)[0]          # <= sum_{j != i} lo_j
    others_hi = iv.sub(s_hi, s_hi, xh, xh)[1]          # >= sum_{j != i} hi_j
    c_lo = iv.sub(*iv.mul(xl, xl, k - 1, k - 1), others_hi, others_hi)[0]
    c_hi = iv.sub(*iv.mul(xh, xh, k - 1, k - 1), others_lo, others_lo)[1]
    xc = iv.div_pos(c_lo, c_hi, k)
    var = iv.div_pos(*iv.sum_enclosure(total, *iv.square(*xc), k), k)
    r = iv.div(1.0, 1.0, *iv.sqrt(*iv.add(*var, eps, eps)))
    xhat_lo, xhat_hi = iv.mul(*xc, *r)
    bound = float(iv.up(np.sqrt(float(k - 1))))          # |xhat_i| <= sqrt(k - 1), always
    return np.maximum(xhat_lo, -bound), np.minimum(xhat_hi, bound)


@multivariate
def ln_relax(los, his, var, eps=1e-5, mode=None):
    """Tangent planes of layer_norm in x at the box centre c with a rigorous
    second-order remainder (:class:`certnn.ops.relax.Tangent`); weight and bias must
    be constants. With v = P x the centred vector (P = I - 11^T/k), q = |v|^2/k + eps
    and xhat = v q^(-1/2), along x = c + t d (t in [0, 1], delta = P d):

        xhat_i'' = 2 delta_i s' + v_i s'',   s = q^(-1/2),
        |s'| <= |delta| / (q sqrt k),        |s''| <= 3 q^(-3/2) |delta|^2 / k

    (from q' = 2 v.delta/k, q'' = 2|delta|^2/k and |v|^2 <= k q; the two terms of s''
    have opposite signs), so by Taylor's theorem on the segment

        |xhat_i(x) - xhat_i(c) - J_i d| <= Delta_i D / (q_lo sqrt k)
                                           + 3/2 min(V_i q_lo^(-3/2), sqrt(k-1)/q_lo) D^2 / k

    with D >= |d|_2 >= |delta|, Delta_i >= |delta_i|, V_i >= |v_i| and q_lo <= q on
    the box; |v_i| q^(-1/2) = |xhat_i| <= sqrt(k - 1) always. q_lo uses the larger of
    two lower bounds of the variance: (|P c| - D)_+^2 / k (the box lies in the ball of
    radius D around c, and P does not lengthen vectors) and mean_j (|v_j(c)| -
    Delta_j)_+^2. The output's remainder is |w_i| times xhat's. J(c) = diag(w) M with
    M = s (P - xhat xhat^T / k) symmetric, so J t = w M t and J^T a = M (w a)."""
    if any(var[1:]):
        raise ShapeError("layer_norm: a linear relaxation needs a constant weight and bias")
    (xl, w, b), (xh, _, _) = los, his
    axes = tuple(range(xl.ndim - w.ndim, xl.ndim))
    k = w.size

    def total(a):
        return np.sum(a, axis=axes, keepdims=True)

    c, r = (xl + xh) / 2, (xh - xl) / 2
    v0 = centred(c, axes)
    q0 = total(v0 * v0) / k + eps
    s0 = 1.0 / np.sqrt(q0)
    xhat0 = v0 * s0
    D = np.sqrt(total(r * r)) * (1 + 1e-12)
    delta = r * (1 - 2 / k) + total(r) / k
    var_lo = np.maximum(np.maximum(np.sqrt(total(v0 * v0)) - D, 0.0) ** 2 / k,
                        total(np.maximum(np.abs(v0) - delta, 0.0) ** 2) / k)
    q = (var_lo + eps) * (1 - 1e-9)
    V = np.abs(v0) + delta
    rem = np.abs(w) * (delta * D / (q * np.sqrt(k)) + 1.5 * np.minimum(V * q ** -1.5, np.sqrt(k - 1) / q) * D * D / k)
    ylo, yhi = ln_interval(los, his, eps=eps)
    fc = xhat0 * w + b
    rem = rem * (1 + 1e-9) + 1e-12 * (1 + np.abs(fc))     # float64 evaluation of the planes
    use = 2 * rem < yhi - ylo
    rows = tuple(range(-w.ndim, 0))                         # the normalized axes of (N, K, ...) rows
    se, xe = s0[:, None], xhat0[:, None]

    def M(t):
        t = t - t.mean(axis=rows, keepdims=True)
        return se * (t - xe * (xe * t).mean(axis=rows, keepdims=True))

    return Tangent(c, fc, lambda t: w * M(t), rem, ylo, yhi, use, vjp=lambda a: M(w * a))


def ln_samples(rng):
    def s(xshape, k, **attrs):
        ns = xshape[len(xshape) - k:]
        return Sample((rng.uniform(-2, 2, xshape), rng.uniform(0.5, 1.5, ns), rng.uniform(-1, 1, ns)),
                      attrs)

    return [s((3, 5), 1), s((2, 3, 4), 2), s((2, 3, 6), 1, eps=1e-3), s((4, 3), 2)]



# ---------------------------------------------------------------- batch_norm_train

def bnt_shape(in_shapes, eps):
    return _channel_shape("batch_norm_train", in_shapes, eps, ("weight", "bias"))


# the forward's (xhat, r, mean, var) under x, for the vjp and for the layer's running statistics
_MOMENTS = Stash(128 << 20)


def _bnt_parts(x, eps):
    """(axes, mean, var, r, xhat) of x's channels: layer_norm's arithmetic over the
    batch axes (in place on fresh arrays: the same operations, fewer allocations)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shift = x[(slice(0, 1), slice(None)) + (slice(0, 1),) * (x.ndim - 2)]
    xc = x - shift
    mean_d = xc.mean(axis=axes, keepdims=True)
    xc -= mean_d
    var = (xc * xc).mean(axis=axes, keepdims=True)
    r = 1.0 / xp.sqrt(var + eps)
    if r.dtype == xc.dtype:
        xc *= r                                   # now xhat
        return axes, shift + mean_d, var, r, xc
    return axes, shift + mean_d, var, r, xc * r


def _bnt_stashed(x, eps):
    hit = _MOMENTS.get(x, eps)
    if hit is not None:
        return hit
    _, mean, var, r, xhat = _bnt_parts(x, eps)
    return xhat, r, mean, var


def batch_moments(x: np.ndarray, eps: float):
    """The per-channel batch mean and biased variance, each (C,), that
    ``batch_norm_train(x, ...; eps)`` normalised with (taken from its stash)."""
    _, _, mean, var = _bnt_stashed(x, eps)
    return mean.reshape(-1), var.reshape(-1)


def bnt_real(x, weight, bias, *, eps):
    bnt_shape([x.shape, weight.shape, bias.shape], eps=eps)
    _, mean, var, r, xhat = _bnt_parts(x, eps)
    if x.dtype != object:
        _MOMENTS.put(x, eps, (xhat, r, mean, var))
    bc = (1, -1) + (1,) * (x.ndim - 2)
    return xhat * weight.reshape(bc) + bias.reshape(bc)


def bnt_vjp(ct, out, x, weight, bias, *, eps):
    """gx = w r (ct - mean(ct) - xhat mean(xhat ct)) per channel, the means over the
    M batch positions: layer_norm's projection with the weight taken out of the means
    (they are the bias and weight cotangents over M), so one buffer and two
    reductions serve all three cotangents."""
    xhat, r = _bnt_stashed(x, eps)[:2]
    axes = (0,) + tuple(range(2, x.ndim))
    if x.dtype == object:                          # sympy arrays: the plain formula
        gx = _ln_project(ct * weight.reshape((1, -1) + (1,) * (x.ndim - 2)), xhat, r, axes)
        return gx, (ct * xhat).sum(axis=axes), ct.sum(axis=axes)
    m = x.size // x.shape[1]
    gb = ct.sum(axis=axes, keepdims=True)
    t = ct * xhat
    gw = t.sum(axis=axes, keepdims=True)
    bc = (1, -1) + (1,) * (x.ndim - 2)
    np.multiply(xhat, gw / m, out=t)
    np.subtract(ct, t, out=t)
    t -= gb / m
    t *= weight.reshape(bc) * r
    return t, gw.reshape(-1), gb.reshape(-1)


def bnt_jvp(tangents, out, x, weight, bias, *, eps):
    tx, tw, tb = (np.broadcast_to(t, a.shape) for t, a in zip(tangents, (x, weight, bias)))
    axes, _, _, r, xhat = _bnt_parts(x, eps)
    bc = (1, -1) + (1,) * (x.ndim - 2)
    return _ln_project(tx, xhat, r, axes) * weight.reshape(bc) + xhat * tw.reshape(bc) + tb.reshape(bc)


@iv.uses(*iv.RN)
def bnt_interval(los, his, *, eps):
    (xl, wl, bl), (xh, wh, bh) = iv.inputs("batch_norm_train", los, his, 3)
    bnt_shape([xl.shape, wl.shape, bl.shape], eps=eps)
    bc = (1, -1) + (1,) * (xl.ndim - 2)
    xhat = _xhat_interval(xl, xh, (0,) + tuple(range(2, xl.ndim)), xl.size // xl.shape[1], eps)
    y = iv.mul(*xhat, wl.reshape(bc), wh.reshape(bc))
    return iv.finish("batch_norm_train", *iv.add(*y, bl.reshape(bc), bh.reshape(bc)))


def bnt_samples(rng):
    def s(xshape, **attrs):
        c = xshape[1]
        return Sample((rng.uniform(-2, 2, xshape), rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)), attrs)

    return [s((4, 3)), s((2, 3, 4, 5)), s((3, 2, 6), eps=1e-3)]


# ---------------------------------------------------------------- rms_norm

def rms_shape(in_shapes, eps):
    _check_eps("rms_norm", eps)
    x, w = (tuple(s) for s in in_shapes)
    k = len(w)
    if k < 1:
        raise ShapeError(f"rms_norm: weight must have at least 1 dimension (the normalized shape), got {fmt(w)}")
    if len(x) < k or x[len(x) - k:] != w:
        raise ShapeError(f"rms_norm: input {fmt(x)} must end with the normalized shape {fmt(w)} "
                         f"(the weight's shape)")
    if any(d is None for d in x[1:]):
        raise ShapeError(f"rms_norm: only the batch dimension may be dynamic, got input {fmt(x)}")
    return x


def _rms_parts(x, weight, eps):
    axes = tuple(range(x.ndim - weight.ndim, x.ndim))
    r = 1.0 / xp.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return axes, r, x * r


def rms_real(x, weight, *, eps):
    rms_shape([x.shape, weight.shape], eps=eps)
    return _rms_parts(x, weight, eps)[2] * weight


def _rms_project(g, xhat, r, axes):
    """r (g - xhat mean(xhat g)): the (symmetric) Jacobian of xhat wrt x."""
    return r * (g - xhat * (xhat * g).mean(axis=axes, keepdims=True))


def rms_vjp(ct, out, x, weight, *, eps):
    axes, r, xhat = _rms_parts(x, weight, eps)
    lead = tuple(range(x.ndim - weight.ndim))
    return _rms_project(ct * weight, xhat, r, axes), (ct * xhat).sum(axis=lead)


def rms_jvp(tangents, out, x, weight, *, eps):
    tx, tw = (np.broadcast_to(t, a.shape) for t, a in zip(tangents, (x, weight)))
    axes, r, xhat = _rms_parts(x, weight, eps)
    return _rms_project(tx, xhat, r, axes) * weight + xhat * tw


@iv.uses(*iv.RN)
def rms_interval(los, his, *, eps):
    (xl, wl), (xh, wh) = iv.inputs("rms_norm", los, his, 2)
    rms_shape([xl.shape, wl.shape], eps=eps)
    k = wl.size
    lead = xl.shape[:xl.ndim - wl.ndim]
    sq_lo, sq_hi = (a.reshape(lead + (k,)) for a in iv.square(xl, xh))
    # S_i = sum_{j != i} x_j^2: exclusive sums of nonnegative bounds, outward
    s_lo = iv.nonneg_sum_bounds(iv.exclusive_sum(sq_lo), k)[0].reshape(xl.shape)
    s_hi = iv.nonneg_sum_bounds(iv.exclusive_sum(sq_hi), k)[1].reshape(xl.shape)

    def xhat(x, s):
        """Enclosure of x / sqrt((x^2 + s)/k + eps) at the points x, s."""
        q = iv.add(*iv.div_pos(*iv.add(*iv.square(x, x), s, s), k), eps, eps)
        return iv.div(x, x, *iv.sqrt(*q))

    hi = np.where(xh >= 0, xhat(xh, s_lo)[1], xhat(xh, s_hi)[1])
    lo = np.where(xl >= 0, xhat(xl, s_hi)[0], xhat(xl, s_lo)[0])
    return iv.finish("rms_norm", *iv.mul(lo, hi, wl, wh))


def rms_samples(rng):
    def s(xshape, k, **attrs):
        ns = xshape[len(xshape) - k:]
        return Sample((rng.uniform(-2, 2, xshape), rng.uniform(0.5, 1.5, ns)), attrs)

    return [s((3, 5), 1), s((2, 3, 4), 2), s((2, 3, 6), 1, eps=1e-3), s((4, 1), 1)]


# ---- binary32 rules (the engine: certnn.floats.b32) -------------------------------------

def b32_batch_norm(x, weight, bias, running_mean, running_var, order=None, backend=None, *, eps=1e-5):
    x, weight, bias, mean, var = (as_f32(a, "batch_norm", n) for a, n in zip(
        (x, weight, bias, running_mean, running_var),
        ("input", "weight", "bias", "running_mean", "running_var")))
    bn_shape([x.shape, weight.shape, bias.shape, mean.shape, var.shape], eps=eps)
    bc = (1, -1) + (1,) * (x.ndim - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = F32(1) / np.sqrt(var + F32(eps))
    k = r * weight
    return (x - mean.reshape(bc)) * k.reshape(bc) + bias.reshape(bc)


def _b32_xhat_rows(X2, order, backend, eps):
    """xhat of each row of X2 (rows, n), binary32: shifted data, sums in the order."""
    n32 = count32(X2.shape[1])
    D = X2 - X2[:, :1]                          # shifted data (see centred)
    xc = D - (rowsum(D, order, backend) / n32)[:, None]
    var = rowsum(xc * xc, order, backend) / n32
    with np.errstate(divide="ignore", invalid="ignore"):
        r = F32(1) / np.sqrt(var + F32(eps))
    return xc * r[:, None]


def b32_layer_norm(x, weight, bias, order=None, backend=None, *, eps=1e-5):
    x, weight, bias = as_f32(x, "layer_norm"), as_f32(weight, "layer_norm", "weight"), \
        as_f32(bias, "layer_norm", "bias")
    ln_shape([x.shape, weight.shape, bias.shape], eps=eps)
    xhat = _b32_xhat_rows(x.reshape(-1, weight.size), order, backend, eps)
    y = xhat * weight.reshape(-1) + bias.reshape(-1)
    return y.reshape(x.shape)


def b32_batch_norm_train(x, weight, bias, order=None, backend=None, *, eps=1e-5):
    """A channel's elements are summed in C order over (n, *spatial)."""
    x, weight, bias = as_f32(x, "batch_norm_train"), as_f32(weight, "batch_norm_train", "weight"), \
        as_f32(bias, "batch_norm_train", "bias")
    bnt_shape([x.shape, weight.shape, bias.shape], eps=eps)
    rows = np.moveaxis(x, 1, 0)
    xhat = _b32_xhat_rows(rows.reshape(x.shape[1], -1), order, backend, eps)
    y = xhat * weight[:, None] + bias[:, None]
    return np.ascontiguousarray(np.moveaxis(y.reshape(rows.shape), 0, 1))


def b32_rms_norm(x, weight, order=None, backend=None, *, eps=1e-6):
    x, weight = as_f32(x, "rms_norm"), as_f32(weight, "rms_norm", "weight")
    rms_shape([x.shape, weight.shape], eps=eps)
    n = weight.size
    X2 = x.reshape(-1, n)
    ms = rowsum(X2 * X2, order, backend) / count32(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = F32(1) / np.sqrt(ms + F32(eps))
    return ((X2 * r[:, None]) * weight.reshape(-1)).reshape(x.shape)


register(OpDef(
    name="batch_norm", binary32=ieee(b32_batch_norm), module=__name__, arity=(5,), attrs={"eps": 1e-5},
    shape=bn_shape, real=bn_real, vjp=bn_vjp, jvp=bn_jvp, interval=bn_interval, error=er.batch_norm_error, samples=bn_samples,
    doc=__doc__))

register(OpDef(
    name="layer_norm", binary32=ieee(b32_layer_norm), module=__name__, arity=(3,), attrs={"eps": 1e-5},
    shape=ln_shape, real=ln_real, vjp=ln_vjp, jvp=ln_jvp, interval=ln_interval, error=er.layer_norm_error,
    relax=ln_relax, samples=ln_samples,
    doc=__doc__))

register(OpDef(
    name="batch_norm_train", binary32=ieee(b32_batch_norm_train), module=__name__, arity=(3,), attrs={"eps": 1e-5},
    shape=bnt_shape, real=bnt_real, vjp=bnt_vjp, jvp=bnt_jvp, interval=bnt_interval, error=er.batch_norm_train_error,
    samples=bnt_samples, doc=__doc__))

register(OpDef(
    name="rms_norm", binary32=ieee(b32_rms_norm), module=__name__, arity=(2,), attrs={"eps": 1e-6},
    shape=rms_shape, real=rms_real, vjp=rms_vjp, jvp=rms_jvp, interval=rms_interval, error=er.rms_norm_error,
    samples=rms_samples, doc=__doc__))
