"""Matrix products: matmul (NumPy semantics, operands at least 2-D) and linear.

matmul(a, b): a (..., m, k), b (..., k, n) -> (..., m, n); the batch dims
(everything before the last two) broadcast as in NumPy. 1-D operands are
rejected (no implicit vector promotion: it hides shape bugs).

    d/da <ct, a @ b> = ct @ b^T        d/db <ct, a @ b> = a^T @ ct

and the cotangents are summed back over broadcast batch dims here, so both
come back in the input shapes.

linear(x, w[, b]): x (..., in), w (out, in), b (out,) -> (..., out),
y = x @ w^T + b, computed as ONE 2-D BLAS product over the flattened leading
dims plus a bias add (the MLP hot path). Cotangents: gx = ct @ w,
gw = ct^T @ x and gb = sum of ct over the leading dims, each a single BLAS
call or reduction over the flattened batch.

Both ops are bilinear, not linear, in their inputs jointly (``linear=False``).
Everything is computed in the inputs' dtype (float32 stays float32). A
dynamic (``None``) size matches any size in the contraction check; batch
dims follow :func:`broadcast_shapes`.

Interval rules: midpoint-radius products with a rigorous float64 rounding term
(``interval.bilinear``): two BLAS products when one operand is exact (a weight
with lo == hi), three when both are intervals; the bias is an interval add.
They rest on ``blas-float64-dot-gamma-n``. Outputs whose bound overflows (or
that meet an infinite input endpoint) are the whole line.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..floats.b32 import F32, as_f32, ieee, matmul2d
from ..floats import error_rules as er
from ..floats import interval as iv
from ._common import broadcast_shapes, fmt, rand_samples, unbroadcast
from .registry import OpDef, Sample, register

_M = __name__


def _same(a, b) -> bool:
    return a is None or b is None or a == b


# ---- matmul -------------------------------------------------------------------

def matmul_shape(in_shapes, **_):
    sa, sb = (tuple(s) for s in in_shapes)
    if len(sa) < 2 or len(sb) < 2:
        raise ShapeError(f"matmul: both operands must be at least 2-D, got {fmt(sa)} and {fmt(sb)} "
                         f"(use reshape to add a unit dimension)")
    if not _same(sa[-1], sb[-2]):
        raise ShapeError(f"matmul: contraction dims differ: {fmt(sa)} @ {fmt(sb)} "
                         f"(last dim of the first, {sa[-1]}, must equal second-to-last of the second, {sb[-2]})")
    batch = broadcast_shapes("matmul", sa[:-2], sb[:-2]) if (sa[:-2] or sb[:-2]) else ()
    return tuple(batch) + (sa[-2], sb[-1])


def matmul_real(a, b):
    return np.matmul(a, b)


def matmul_vjp(ct, out, a, b):
    ga = np.matmul(ct, np.swapaxes(b, -1, -2))
    if b.ndim == 2:
        # sum over the batch inside one BLAS product: (k, B*m) @ (B*m, n)
        gb = a.reshape(-1, a.shape[-1]).T @ ct.reshape(-1, ct.shape[-1]) if a.ndim > 2 \
            else a.T @ ct
    else:
        gb = np.matmul(np.swapaxes(a, -1, -2), ct)
    return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


def matmul_jvp(tangents, out, a, b):
    ta, tb = tangents
    return np.matmul(ta, b) + np.matmul(a, tb)


# ---- linear -------------------------------------------------------------------

def linear_shape(in_shapes, **_):
    sx, sw = tuple(in_shapes[0]), tuple(in_shapes[1])
    if len(sw) != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got {fmt(sw)}")
    if len(sx) < 1:
        raise ShapeError(f"linear: input must be at least 1-D (..., in_features), got {fmt(sx)}")
    if not _same(sx[-1], sw[1]):
        raise ShapeError(f"linear: input has {sx[-1]} features but weight expects {sw[1]} "
                         f"(input {fmt(sx)}, weight {fmt(sw)})")
    if len(in_shapes) == 3:
        sb = tuple(in_shapes[2])
        if len(sb) != 1 or not _same(sb[0], sw[0]):
            raise ShapeError(f"linear: bias must have shape ({sw[0]},) to match weight {fmt(sw)}, "
                             f"got {fmt(sb)}")
    return sx[:-1] + (sw[0],)


def linear_real(x, w, b=None):
    if x.ndim == 2:
        y = x @ w.T
    else:
        y = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
    if b is not None:
        y += b
    return y


def linear_vjp(ct, out, x, w, b=None, needs=None):
    """``needs`` (from the autograd walk) skips the products nobody asked for,
    e.g. the input cotangent of a network's first layer."""
    ct2 = ct.reshape(-1, ct.shape[-1])
    gx = (ct2 @ w).reshape(x.shape) if needs is None or needs[0] else None
    gw = ct2.T @ x.reshape(-1, x.shape[-1]) if needs is None or needs[1] else None
    if b is None:
        return gx, gw
    return gx, gw, ct2.sum(axis=0) if needs is None or needs[2] else None


def linear_vjp_per_example(ct, out, x, w, b=None, *, index):
    """Per-example cotangents of the weight (index 1: ct_n^T x_n, summed over any
    middle dims) or the bias (index 2: ct_n summed over middle dims): one batched
    product over the examples, the outer-product form of ``gw = ct^T x``."""
    n = x.shape[0]
    ct3 = ct.reshape(n, -1, ct.shape[-1])
    if index == 2:
        return ct3.sum(axis=1)
    if index != 1:
        raise ValueError(f"linear: per-example cotangents are for the weight and bias, not input {index}")
    x3 = x.reshape(n, -1, x.shape[-1])
    if ct3.shape[1] == 1:                       # (N, out) x (N, in): a broadcast outer product
        return ct3[:, 0, :, None] * x3[:, 0, None, :]
    return np.matmul(ct3.transpose(0, 2, 1), x3)


def linear_vjp_per_example_factors(ct, out, x, w, b=None, *, index):
    """The weight's per-example cotangent as factors (a, b) with G[n] = a[n]^T b[n]:
    a = ct as (N, T, out), b = x as (N, T, in) (T = 1 for a plain batch); None for
    the bias (its per-example cotangent is already small)."""
    if index != 1:
        return None
    n = x.shape[0]
    return ct.reshape(n, -1, ct.shape[-1]), x.reshape(n, -1, x.shape[-1])


def linear_jvp(tangents, out, x, w, b=None):
    y = linear_real(tangents[0], w) + linear_real(x, tangents[1])
    if b is not None:
        y += tangents[2]
    return y


def _sum_terms(ap, terms):
    terms = [t for t in terms if t is not None]
    out = terms[0] if terms else None
    for t in terms[1:]:
        out = ap("add", out, t)
    return out


def matmul_tangent(ap, ts, xs, y):
    """d(a @ b) = da @ b + a @ db, written with matmul itself (so it nests)."""
    (ta, tb), (a, b) = ts, xs
    return _sum_terms(ap, [None if ta is None else ap("matmul", ta, b),
                           None if tb is None else ap("matmul", a, tb)])


def linear_tangent(ap, ts, xs, y):
    """d linear(x, w, b) = linear(dx, w) + linear(x, dw) + db."""
    tx, tw = ts[0], ts[1]
    tb = ts[2] if len(ts) > 2 else None
    return _sum_terms(ap, [None if tx is None else ap("linear", tx, xs[1]),
                           None if tw is None else ap("linear", xs[0], tw), tb])


# ---- interval rules -----------------------------------------------------------

@iv.uses(*iv.BLAS)
def matmul_interval(los, his):
    (al, bl), (ah, bh) = iv.inputs("matmul", los, his, 2)
    matmul_shape([al.shape, bl.shape])
    return iv.finish("matmul", *iv.bilinear(np.matmul, al, ah, bl, bh, al.shape[-1]))


def _linear_rows(x, w):
    """``x @ w.T`` computed as ``(w @ x.T).T`` for a few rows of x: OpenBLAS runs that
    shape about 15 % faster (20 x 784 by 784 x 256: 188 against 226 us); the interval
    rule's error bound holds for any summation order."""
    if x.ndim != 2:
        return linear_real(x, w)
    return np.ascontiguousarray((w @ x.T).T)


@iv.uses(*iv.BLAS)
def linear_interval(los, his):
    los, his = iv.inputs("linear", los, his)
    linear_shape([lo.shape for lo in los])
    exact_bias = len(los) == 3 and iv.is_point(los[2], his[2])
    lo, hi = iv.bilinear(_linear_rows, los[0], his[0], los[1], his[1], los[0].shape[-1],
                         shift=los[2] if exact_bias else None)
    if len(los) == 3 and not exact_bias:
        lo, hi = iv.add(lo, hi, los[2], his[2])
    return iv.finish("linear", lo, hi)


# ---- samples ------------------------------------------------------------------

def _matmul_samples(rng):
    return rand_samples([((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 5)),
                         ((2, 1, 3, 4), (3, 4, 2)), ((1, 2, 3), (4, 3, 2))])(rng)


def _linear_samples(rng):
    u = lambda *s: rng.uniform(-2.0, 2.0, size=s)  # noqa: E731
    return [Sample((u(5, 4), u(3, 4), u(3))), Sample((u(5, 4), u(3, 4))),
            Sample((u(2, 3, 4), u(6, 4), u(6))), Sample((u(4,), u(2, 4), u(2)))]


def linear_error(los, his, errs, out_lo, out_hi, order="sequential"):
    """binary32 linear sums the rounded products x_k w_rk in the documented order and
    adds the bias last. Input error propagates as |W| e; weight error (only when the
    graph holds non-binary32 weights) as |x^| e_W; then the contraction's rounding
    (certnn.floats.error_bounds)."""
    x_lo, x_hi, x_e = los[0], his[0], np.broadcast_to(errs[0], los[0].shape)
    w, w_e = los[1], errs[1]
    b = los[2] if len(los) > 2 else None
    K = x_lo.shape[-1]
    xl, xh, xe = (a.reshape(-1, K) for a in (x_lo, x_hi, x_e))
    e = er.contraction_error(w, xl, xh, xe, b, order=order)
    if np.any(w_e):
        e = e + er.mag(xl, xh, xe) @ np.broadcast_to(w_e, w.shape).T
    if len(errs) > 2 and np.any(errs[2]):
        e = e + errs[2]
    return er.finish(e.reshape(out_lo.shape))


# ---- binary32 rules (the engine: certnn.floats.b32) -------------------------------------

def b32_matmul(a, b, order=None, backend=None):
    a, b = as_f32(a, "matmul"), as_f32(b, "matmul")
    matmul_shape([a.shape, b.shape])
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if a.ndim == 2 and b.ndim == 2:
        return matmul2d(a, b, order, backend)
    if b.ndim == 2:
        return matmul2d(a.reshape(-1, k), b, order, backend).reshape(a.shape[:-1] + (n,))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    A = np.broadcast_to(a, batch + (m, k))
    B = np.broadcast_to(b, batch + (k, n))
    out = np.empty(batch + (m, n), F32)
    for idx in np.ndindex(*batch):
        out[idx] = matmul2d(A[idx], B[idx], order, backend)
    return out


def b32_linear(x, w, b=None, order=None, backend=None):
    x, w = as_f32(x, "linear"), as_f32(w, "linear", "weight")
    linear_shape([x.shape, w.shape] + ([] if b is None else [b.shape]))
    x2 = x.reshape(-1, x.shape[-1])
    y = matmul2d(x2, np.ascontiguousarray(w.T), order, backend)
    if b is not None:
        y = np.add(y, as_f32(b, "linear", "bias"))      # bias last
    return y.reshape(x.shape[:-1] + (w.shape[0],))


register(OpDef(
    name="matmul", binary32=ieee(b32_matmul), module=_M, arity=(2,), attrs={}, shape=matmul_shape, real=matmul_real,
    vjp=matmul_vjp, jvp=matmul_jvp, tangent=matmul_tangent, interval=matmul_interval, error=er.matmul_error, samples=_matmul_samples, doc=__doc__))

register(OpDef(
    name="linear", binary32=ieee(b32_linear), module=_M, arity=(2, 3), attrs={}, shape=linear_shape, real=linear_real,
    vjp=linear_vjp, vjp_needs=True, vjp_per_example=linear_vjp_per_example,
    vjp_per_example_factors=linear_vjp_per_example_factors, jvp=linear_jvp, tangent=linear_tangent,
    interval=linear_interval, error=linear_error, samples=_linear_samples, doc=__doc__))
