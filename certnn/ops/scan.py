"""The selective scan of Mamba (S6): a linear recurrence whose coefficients
depend on the input, ``selective_scan(x, delta, A, B, C)``.

    x, delta: (batch, L, D)     A: (D, N)     B, C: (batch, L, N)
    h_0 = 0,   for t = 1..L (per batch element, channel d and state n):
        a_t = exp(delta_t A)                          (D, N)
        h_t = a_t * h_{t-1} + (delta_t x_t) B_t       (D, N)
        y_t = sum_n h_t C_t                           (D,)

y has x's shape. This is ``selective_scan_ref`` of the Mamba reference code
without the skip term D x and the gate (the model adds them with existing ops).
All five inputs are differentiable; the rules follow the recurrence:

    jvp: da_t = a_t (d(delta_t) A + delta_t dA), dh_t = da_t h_{t-1} + a_t dh_{t-1}
         + d(delta_t x_t) B_t + delta_t x_t dB_t,    dy_t = sum_n dh_t C_t + h_t dC_t
    vjp: the reverse recurrence g_t = ct_t C_t + a_{t+1} g_{t+1} (g_L+1 = 0) on dL/dh_t,
         then every input's cotangent is a sum of products of g_t with the forward
         quantities (vectorised over t once the g_t are known).

binary32 (the loop in this order, h_0 = +0.0): a = exp32(RN(delta A)) correctly
rounded, u = RN(delta x), h = RN(RN(a h) + RN(u B)), y = the sum over n of
RN(h C) in the documented order. The interval and error rules run the same
loop over enclosures; with delta >= 0 and A < 0 (Mamba's parametrisation) a_t
lies in (0, 1] and the enclosures stay bounded. No linear relaxation: bound
propagation uses the interval rule.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import as_f32, b32_exp, ieee, rowsum
from ..floats import error_rules as er
from ..floats import interval as iv
from . import xp
from ._common import fmt
from .registry import OpDef, Sample, register

_M = __name__
_NAMES = ("x", "delta", "A", "B", "C")


def shape(in_shapes):
    x, delta, A, B, C = (tuple(s) for s in in_shapes)
    if len(x) != 3 or any(d is None for d in x[1:]):
        raise ShapeError(f"selective_scan: x must be (batch, L, D) with static L and D, got {fmt(x)}")
    if delta != x:
        raise ShapeError(f"selective_scan: delta {fmt(delta)} must have x's shape {fmt(x)}")
    if len(A) != 2 or A[0] != x[2]:
        raise ShapeError(f"selective_scan: A must be (D, N) = ({x[2]}, N), got {fmt(A)}")
    want = x[:2] + (A[1],)
    for name, s in (("B", B), ("C", C)):
        if len(s) != 3 or s[1:] != want[1:] or not (s[0] == x[0] or None in (s[0], x[0])):
            raise ShapeError(f"selective_scan: {name} must be (batch, L, N) = {fmt(want)}, got {fmt(s)}")
    return x


def _forward(x, delta, A, B, C):
    """(y, H, Ad): outputs and every state h_t and factor a_t, (batch, L, D, N)."""
    shape([x.shape, delta.shape, A.shape, B.shape, C.shape])
    Ad = xp.exp(delta[..., None] * A)
    Bx = (delta * x)[..., None] * B[:, :, None, :]
    H = np.empty_like(Ad)
    h = np.zeros_like(Ad[:, 0])
    for t in range(x.shape[1]):
        h = Ad[:, t] * h + Bx[:, t]
        H[:, t] = h
    return np.einsum("bldn,bln->bld", H, C), H, Ad


def real(x, delta, A, B, C):
    return _forward(x, delta, A, B, C)[0]


def vjp(ct, out, x, delta, A, B, C):
    _, H, Ad = _forward(x, delta, A, B, C)
    G = ct[..., None] * C[:, :, None, :]            # direct contributions to dL/dh_t
    g = np.zeros_like(G[:, 0])
    for t in range(x.shape[1] - 1, -1, -1):
        g = G[:, t] + g
        G[:, t] = g
        g = g * Ad[:, t]                             # to h_{t-1}
    Hprev = np.concatenate([np.zeros_like(H[:, :1]), H[:, :-1]], axis=1)
    gAd = G * Hprev * Ad                             # dL/d(delta A) per element
    GB = np.einsum("bldn,bln->bld", G, B)
    g_delta = np.einsum("bldn,dn->bld", gAd, A) + GB * x
    g_A = np.einsum("bldn,bld->dn", gAd, delta)
    g_x = GB * delta
    g_B = np.einsum("bldn,bld->bln", G, delta * x)
    g_C = np.einsum("bld,bldn->bln", ct, H)
    return g_x, g_delta, g_A, g_B, g_C


def jvp(tangents, out, x, delta, A, B, C):
    tx, td, tA, tB, tC = (np.broadcast_to(t, a.shape) for t, a in zip(tangents, (x, delta, A, B, C)))
    _, H, Ad = _forward(x, delta, A, B, C)
    dAd = Ad * (td[..., None] * A + delta[..., None] * tA)
    dBx = (td * x + delta * tx)[..., None] * B[:, :, None, :] + (delta * x)[..., None] * tB[:, :, None, :]
    dh = np.zeros_like(H[:, 0])
    dy = np.empty_like(x)
    for t in range(x.shape[1]):
        prev = H[:, t - 1] if t else np.zeros_like(dh)
        dh = dAd[:, t] * prev + Ad[:, t] * dh + dBx[:, t]
        dy[:, t] = np.einsum("bdn,bn->bd", dh, C[:, t]) + np.einsum("bdn,bn->bd", H[:, t], tC[:, t])
    return dy


@iv.uses(*iv.LIBM)
def interval(los, his):
    (xl, dl, Al, Bl, Cl), (xh, dh, Ah, Bh, Ch) = iv.inputs("selective_scan", los, his, 5)
    shape([xl.shape, dl.shape, Al.shape, Bl.shape, Cl.shape])
    N = Al.shape[1]
    h = (np.zeros(xl.shape[:1] + Al.shape), np.zeros(xl.shape[:1] + Al.shape))
    ys_lo, ys_hi = np.empty(xl.shape), np.empty(xl.shape)
    for t in range(xl.shape[1]):
        a = iv.exp(*iv.mul(dl[:, t, :, None], dh[:, t, :, None], Al, Ah))
        u = iv.mul(dl[:, t], dh[:, t], xl[:, t], xh[:, t])
        b = iv.mul(u[0][..., None], u[1][..., None], Bl[:, t, None, :], Bh[:, t, None, :])
        h = iv.add(*iv.mul(*a, *h), *b)
        p = iv.mul(*h, Cl[:, t, None, :], Ch[:, t, None, :])
        ys_lo[:, t], ys_hi[:, t] = iv.sum_enclosure(lambda v: v.sum(axis=-1), *p, N)
    return iv.finish("selective_scan", ys_lo, ys_hi)


def error(los, his, errs, out_lo, out_hi, order="sequential"):
    """The binary32 loop step by step over (lo, hi, err) triples (certnn.floats.error_rules)."""
    x, d, A, B, C = ((np.asarray(lo, np.float64), np.asarray(hi, np.float64),
                      np.broadcast_to(np.asarray(e, np.float64), np.shape(lo)))
                     for lo, hi, e in zip(los, his, errs))
    batch, L, D = x[0].shape
    N = A[0].shape[1]
    at = lambda tr, t, idx: tuple(v[(slice(None), t) + idx] for v in tr)  # noqa: E731
    h = er.exact(np.zeros((batch, D, N)))
    out = np.empty((batch, L, D))
    for t in range(L):
        a = er.t_exp(er.t_mul(at(d, t, (slice(None), None)), A))
        u = er.t_mul(at(d, t, ()), at(x, t, ()))
        b = er.t_mul(tuple(v[..., None] for v in u), at(B, t, (None, slice(None))))
        h = er.t_add(er.t_mul(a, h), b)
        p = er.t_mul(h, at(C, t, (None, slice(None))))
        out[:, t] = er.t_sum_rows(tuple(v.reshape(batch * D, N) for v in p), order)[2].reshape(batch, D)
    return er.finish(out)


def b32_selective_scan(x, delta, A, B, C, order=None, backend=None):
    x, delta, A, B, C = (as_f32(v, "selective_scan", n) for v, n in zip((x, delta, A, B, C), _NAMES))
    shape([x.shape, delta.shape, A.shape, B.shape, C.shape])
    batch, L, D = x.shape
    N = A.shape[1]
    h = np.zeros((batch, D, N), np.float32)
    y = np.empty_like(x)
    for t in range(L):
        a = b32_exp(delta[:, t, :, None] * A)
        u = delta[:, t] * x[:, t]
        h = a * h + u[..., None] * B[:, t, None, :]
        y[:, t] = rowsum((h * C[:, t, None, :]).reshape(batch * D, N), order, backend).reshape(batch, D)
    return y


def samples(rng):
    def s(batch, L, D, N, a_lo=-2.0, a_hi=-0.5):
        return Sample((rng.uniform(-1, 1, (batch, L, D)), rng.uniform(0.05, 1.0, (batch, L, D)),
                       rng.uniform(a_lo, a_hi, (D, N)), rng.uniform(-1, 1, (batch, L, N)),
                       rng.uniform(-1, 1, (batch, L, N))))

    return [s(2, 3, 2, 3), s(1, 5, 3, 2), s(2, 2, 1, 1, a_lo=-0.5, a_hi=0.5)]


register(OpDef(
    name="selective_scan", module=_M, arity=(5,), attrs={}, shape=shape, real=real, vjp=vjp, jvp=jvp,
    binary32=ieee(b32_selective_scan), interval=interval, error=error, samples=samples, doc=__doc__))
