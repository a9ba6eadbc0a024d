"""A-priori rounding-error bounds for binary32 contractions in certnn's
documented order (``docs/binary32.md``), used by the error-budget interpreter.

Model (u = 2**-24, eta = 2**-150 for binary32; IEEE round-to-nearest):
a product rounds with |fl(a*b) - a*b| <= u|a*b| + eta; a sum rounds with
|fl(a+b) - (a+b)| <= u|fl(a+b)| and no absolute term (a sum whose result is
subnormal is exact).

Sequential sum s_k = fl(s_{k-1} + p_k) of rounded products p_k = fl(t_k) of
exact products t_k, against the exact sum T_k = t_1 + ... + t_k. With
D_k = s_k - T_k:

    |D_k| <= |D_{k-1}| + (u|t_k| + eta) + u|s_k|,   |s_k| <= |T_k| + |D_k|

so |D_k| <= (|D_{k-1}| + u|t_k| + eta + u|T_k|) / (1 - u) and

    |D_K| <= (1 - u)^-K * sum_k (u |t_k| + eta + u |T_k|).

This *running* bound uses the partial sums |T_k| instead of the worst case
sum_j |t_j|, so a sum of mixed-sign terms gets a much smaller bound than the
textbook gamma_K * sum |t_k|. Over an input box, t_k and T_k are enclosed by
intervals (partial sums of interval products), and the float64 arithmetic that
evaluates the bound is itself covered by an inflation factor (every term of the
bound is a sum of non-negative float64 numbers, whose relative rounding error is
below gamma_n(2**-53) < 1e-9 for the sizes met here).

``any_order_dot_error`` is the order-free bound gamma_K * sum |t_k| (+ products'
rounding), valid for every summation order (onnxruntime, BLAS, GPUs).
"""

from __future__ import annotations

import numpy as np

U32 = 2.0 ** -24
ETA32 = 2.0 ** -150
_INFLATE = 1.0 + 1e-9  # covers the float64 rounding of the bound's own evaluation


def gamma(n: int, u: float = U32) -> float:
    if n * u >= 1:
        return float("inf")
    return n * u / (1 - n * u)


def sequential_dot_error(w: np.ndarray, xlo: np.ndarray, xhi: np.ndarray,
                         bias: np.ndarray | None = None, block: int = 4) -> np.ndarray:
    """Bound, per batch row b and output r, on |fl_seq(sum_k fl(x_k w_rk)) (+ b_r) -
    (sum_k x_k w_rk + b_r)| for every binary32 vector x in the box [xlo, xhi]
    (float64 arrays of shape (B, K)); ``w`` is (R, K) exact, ``bias`` (R,).

    The addition at step k rounds only when the term can be nonzero: where x_k
    is exactly 0 on the whole box (MNIST's background pixels, inactive relus),
    t_k = +-0 and T_{k-1} + t_k = T_{k-1} exactly, so only the steps with
    z_k = [x_k not identically 0] count: the error is at most
    u (sum_k |t_k| + sum_k z_k |T_k|) (first order; ``growth`` covers the rest).
    The partial sums |T_k| are bounded blockwise, with BLAS products only: for k
    in a block starting at s, |T_k| <= |T_{s-1}| + sum_{s<=j<=k} |t_j|, so
    sum_k z_k |T_k| <= sum_blocks (n_s |T_{s-1}| + sum_j c_j |t_j|), with n_s the
    count of z in the block and c_j that of z_k for k >= j in it. T at block
    starts is enclosed by midpoint-radius products, and the float64 error of
    those products (at most gamma_K sum |t|) is added to them."""
    w = np.asarray(w, np.float64)
    B, K = xlo.shape
    aw = np.abs(w)
    mid, rad = 0.5 * (xlo + xhi), 0.5 * (xhi - xlo)
    rad = np.maximum(rad, np.maximum(mid - xlo, xhi - mid))  # [mid - rad, mid + rad] covers the box
    mag = np.abs(mid) + rad                                   # >= |x| on the box
    tabs_total = mag @ aw.T                                   # sum_k max |t_k|
    starts = list(range(0, K, block))
    nb = len(starts)
    z = np.zeros((B, nb * block))
    z[:, :K] = ~((xlo == 0) & (xhi == 0))                     # steps whose addition may round
    zb = z.reshape(B, nb, block)
    # weight of |t_j| in sum_k z_k |T_k| inside its block: the count of z_k for k >= j
    pos = np.flip(np.cumsum(np.flip(zb, -1), -1), -1).reshape(B, -1)[:, :K]
    inner = (mag * pos) @ aw.T
    count = zb.sum(axis=2)                                    # (B, nb): rounding steps per block
    # |T_{s-1}| at each block start: exclusive prefix sums of block products
    T_abs_sum = np.zeros((B, w.shape[0]))
    c_mid = np.zeros((B, w.shape[0]))
    c_rad = np.zeros((B, w.shape[0]))
    for b, s0 in enumerate(starts[:-1]):
        sl = slice(s0, min(s0 + block, K))
        c_mid += mid[:, sl] @ w[:, sl].T
        c_rad += rad[:, sl] @ aw[:, sl].T
        T_abs_sum += count[:, b + 1:b + 2] * (np.abs(c_mid) + c_rad)
    # float64 evaluation slack of the prefix products: K 2^-52 sum |t| per start, times K starts
    slack = K * (K * 2.0 ** -52) * tabs_total
    part = T_abs_sum + inner + slack
    growth = (1.0 / (1.0 - U32)) ** K
    D = growth * (U32 * (tabs_total + part) + K * ETA32)
    if bias is not None:
        total = np.abs(mid @ w.T + bias) + rad @ aw.T + K * 2.0 ** -52 * tabs_total
        D = D + U32 * (total + D) * (1 + U32)
    return D * _INFLATE


def any_order_dot_error(w: np.ndarray, xlo: np.ndarray, xhi: np.ndarray,
                        bias: np.ndarray | None = None) -> np.ndarray:
    """Order-free bound: gamma_{n+1} * (sum_k |x_k w_rk| + |b_r|) + K eta, valid for any
    summation order and with or without FMA, where n counts the terms that can be
    nonzero (x_k not identically 0 on the box): adding a zero term (or an FMA with
    a zero factor) is exact in any order, so a row has at most n rounded additions
    on any path of the summation tree."""
    w = np.abs(np.asarray(w, np.float64))
    K = xlo.shape[1]
    mag = np.maximum(np.abs(xlo), np.abs(xhi))
    s = mag @ w.T
    if bias is not None:
        s = s + np.abs(bias)
    n = np.count_nonzero(mag, axis=1)
    g = np.array([gamma(int(k) + 1) for k in range(K + 1)])[n][:, None]
    return (g * s + K * ETA32) * (1 + 1e-9 + K * 2.0 ** -52)
