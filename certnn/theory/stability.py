r"""Uniform replace-one stability of ridge regression in d dimensions, its
bound, its measurement, and the same in binary32.

Ridge on S = ((x_1, y_1), ..., (x_N, y_N)) in R^d x R with ||x_i||_2 <= X,
|y_i| <= Y and lambda > 0:

    w_S = argmin_w (1/N) sum_i (<w, x_i> - y_i)^2 + lambda ||w||^2 = A^{-1} b,
    A = (1/N) sum_i x_i x_i^T + lambda I,   b = (1/N) sum_i y_i x_i.

Bound (uniform over S, the replaced index i, the replacement z' and the test
point z, all in the bounded set; loss l(w; x, y) = (<w, x> - y)^2):

    |l(w_S; z) - l(w_{S'}; z)| <= beta = 4 X^2 Y^2 (lambda + X^2)^2 / (lambda^3 N).

Derivation. ||w_S|| <= ||b|| / lambda <= XY / lambda (A >= lambda I). With S'
replacing (x_i, y_i) by (x', y'), A (w_S - w_{S'}) = b - b' + (A' - A) w_{S'}
= (1/N) [x_i (y_i - <x_i, w_{S'}>) - x' (y' - <x', w_{S'}>)] (theorem
``stability/ridge-replace-one-identity``), so
||w_S - w_{S'}|| <= (2 / (lambda N)) X (Y + X^2 Y / lambda) = 2 X Y (lambda + X^2) / (lambda^2 N).
And |l(w; z) - l(w'; z)| = |<w - w', x>| |<w + w', x> - 2y|
<= X ||w - w'|| (2 X^2 Y / lambda + 2Y). Multiplying gives beta (theorem
``stability/ridge-stability-bound``). The bound is dimension-free: d enters only
through X = max ||x||_2, and d = 1 is TorchLean's 1-D theorem.

Measured stability. For a replacement, sup_z |l(w; z) - l(w'; z)| over the ball
||x|| <= X, |y| <= Y is max_x |<D, x>| (|<s, x>| + 2Y), D = w - w', s = w + w':
the maximum lies on the sphere, in the plane spanned by D and s, and is found
on a fine grid of that circle (:func:`sup_loss_change`). Random replacements
draw (x', y') from held-out data; adversarial ones search extreme directions
(the smallest-eigenvalue directions of A, the current w, the replaced point)
with y' = +-Y, replacing the points of largest leverage.

binary32. The float pipeline solves A w = b in float32 (LAPACK) and evaluates
the loss with certnn's binary32 semantics (``certnn.run(graph, z, "binary32")``).
For each measured pair the bound becomes

    beta + sum_{T in {S, S'}} L_T ||w~_T - w_T|| + 2 E,

where ||w~_T - w_T|| <= ||A w~_T - b|| / lambda with the residual enclosed in
outward-rounded interval arithmetic (a-posteriori, checked), L_T =
X (X (||w~_T|| + ||w_T||) + 2Y) is the loss's Lipschitz constant in w on the
ball, and E is certnn's error budget of the binary32 loss over the box
[-X, X]^d x [-Y, Y] (which contains the ball), valid for every point in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CertnnError
from ..floats import interval as iv


def bound(X: float, Y: float, lam: float, n: int) -> float:
    """beta = 4 X^2 Y^2 (lambda + X^2)^2 / (lambda^3 N)."""
    if not (X > 0 and Y > 0 and lam > 0 and n >= 1):
        raise CertnnError(f"need X, Y, lambda > 0 and N >= 1, got X={X}, Y={Y}, lambda={lam}, N={n}")
    return 4 * X ** 2 * Y ** 2 * (lam + X ** 2) ** 2 / (lam ** 3 * n)


def ridge(x: np.ndarray, y: np.ndarray, lam: float, dtype=np.float64) -> np.ndarray:
    """w_S in ``dtype`` (float64: the reference; float32: the binary32 pipeline)."""
    x, y = np.asarray(x, dtype), np.asarray(y, dtype)
    n, d = x.shape
    a = x.T @ x / dtype(n) + dtype(lam) * np.eye(d, dtype=dtype)
    return np.linalg.solve(a, x.T @ y / dtype(n))


def sup_loss_change(w: np.ndarray, w2: np.ndarray, X: float, Y: float, grid: int = 4096) -> float:
    """max over ||x|| <= X, |y| <= Y of |l(w; x, y) - l(w2; x, y)| (grid on the circle)."""
    dlt, s = w - w2, w + w2
    if len(w) == 1:                                  # the "circle" is {-X, X}
        pts = np.array([[X], [-X]])
    else:
        q, _ = np.linalg.qr(np.stack([dlt, s], 1))
        th = np.linspace(0, np.pi, grid)
        pts = X * (np.outer(np.cos(th), q[:, 0]) + np.outer(np.sin(th), q[:, 1]))
    return float(np.max(np.abs(pts @ dlt) * (np.abs(pts @ s) + 2 * Y)))


def replace(x, y, i, xn, yn):
    x2, y2 = np.array(x, copy=True), np.array(y, copy=True)
    x2[i], y2[i] = xn, yn
    return x2, y2


def adversarial_candidates(x, y, lam, X, Y, k: int = 4, top: int = 8):
    """(i, x', y') triples: the ``top`` highest-leverage points replaced by extreme
    directions (smallest-eigenvalue directions of A, +-w, -x_i) with y' = +-Y."""
    n, d = x.shape
    w = ridge(x, y, lam)
    evals, evecs = np.linalg.eigh(x.T @ x / n + lam * np.eye(d))
    resid = np.abs(x @ w - y) * np.linalg.norm(x, axis=1)
    dirs = [evecs[:, j] for j in range(min(k, d))] + [w / max(np.linalg.norm(w), 1e-300)]
    for i in np.argsort(-resid)[:top]:
        for v in dirs + [x[i] / max(np.linalg.norm(x[i]), 1e-300)]:
            for sgn in (1.0, -1.0):
                for yn in (Y, -Y):
                    yield int(i), sgn * X * v, yn


THEOREMS_USED = ("stability/ridge-replace-one-identity", "stability/ridge-stability-bound")


@dataclass
class StabilityReport:
    n: int
    d: int
    lam: float
    X: float
    Y: float
    bound: float
    measured_random: float        # max over random replacements of sup_z |l(w_S; z) - l(w_S'; z)|
    measured_adversarial: float
    measured_test_points: float   # the same with z ranging over held-out data only
    replacements: int
    evidence: str = "tested"      # the bound is proved (theorems); the comparison is sampled
    theorems: tuple = THEOREMS_USED


def measure(x, y, x_held, y_held, lam: float, random: int = 50, seed: int = 0) -> StabilityReport:
    """Bound vs measured replace-one stability (float64 reference arithmetic)."""
    n, d = x.shape
    X = float(max(np.linalg.norm(x, axis=1).max(), np.linalg.norm(x_held, axis=1).max()))
    Y = float(max(np.abs(y).max(), np.abs(y_held).max()))
    w = ridge(x, y, lam)
    rng = np.random.default_rng(seed)
    rand = test = 0.0
    for _ in range(random):
        i, j = rng.integers(n), rng.integers(len(x_held))
        w2 = ridge(*replace(x, y, i, x_held[j], y_held[j]), lam)
        rand = max(rand, sup_loss_change(w, w2, X, Y))
        test = max(test, float(np.max(np.abs((x_held @ w - y_held) ** 2 - (x_held @ w2 - y_held) ** 2))))
    adv, count = 0.0, random
    for i, xn, yn in adversarial_candidates(x, y, lam, X, Y):
        adv = max(adv, sup_loss_change(w, ridge(*replace(x, y, i, xn, yn), lam), X, Y))
        count += 1
    return StabilityReport(n, d, lam, X, Y, bound(X, Y, lam, n), rand, adv, test, count)


# ---- binary32 ----------------------------------------------------------------------------------

def solve_error_bound(x: np.ndarray, y: np.ndarray, lam: float, w_approx: np.ndarray) -> float:
    """A sound upper bound on ||w_approx - w_S|| (exact real w_S for the given float
    data): ||A w~ - b|| / lambda with A w~ - b enclosed in outward-rounded intervals."""
    x, y, w = (np.asarray(a, np.float64) for a in (x, y, w_approx))
    n = len(x)
    gl, gh = iv.bilinear(np.matmul, x.T, x.T, x, x, n)                 # X^T X
    al, ah = iv.bilinear(np.matmul, gl, gh, w[:, None], w[:, None], x.shape[1])   # X^T X w
    bl, bh = iv.bilinear(np.matmul, x.T, x.T, y[:, None], y[:, None], n)          # X^T y
    rl, rh = iv.sub(al, ah, bl, bh)
    rl, rh = iv.div_pos(rl, rh, float(n))
    ll, lh = iv.mul(np.full_like(w, lam)[:, None], np.full_like(w, lam)[:, None], w[:, None], w[:, None])
    rl, rh = iv.add(rl, rh, ll, lh)
    sl, sh = iv.sum_enclosure(np.sum, *iv.square(rl, rh), rl.size)
    _, root = iv.sqrt(sl, sh)
    return float(iv.up(root / lam))


def loss_graph(w: np.ndarray):
    """The binary32 loss graph z = (x, y) -> (<w, x> - y)^2 (``linear`` then ``mul``)."""
    from .. import functional as F
    from ..ir.compile import compile as compile_module
    from ..nn import Module, Parameter

    class Loss(Module):
        def __init__(self):
            super().__init__()
            self.v = Parameter(np.concatenate([w, [-1.0]])[None].astype(np.float32))

        def forward(self, z):
            r = F.linear(z, self.v)
            return r * r

    return compile_module(Loss(), np.zeros((1, len(w) + 1), np.float32)).graph


def evaluation_error(w: np.ndarray, X: float, Y: float) -> float:
    """certnn's error budget of the binary32 loss over the box [-X, X]^d x [-Y, Y]."""
    from ..error_budget.forward import error_budget
    d = len(w)
    hi = np.concatenate([np.full(d, X), [Y]])[None]
    return float(np.max(error_budget(loss_graph(w), -hi, hi).bound))


def binary32_loss(w: np.ndarray, z: np.ndarray) -> np.ndarray:
    from ..ir.run import run
    return run(loss_graph(w), np.asarray(z, np.float32), "binary32")[:, 0]


@dataclass
class Binary32StabilityReport:
    n: int
    d: int
    lam: float
    X: float
    Y: float
    bound_real: float             # beta, for the exact ridge on the (binary32) data
    bound: float                  # max over the pairs of beta + L_S e_S + L_S' e_S' + E_S + E_S'
    measured: float               # max over the pairs and held-out z of |l~(w~_S; z) - l~(w~_S'; z)|
    holds: bool                   # every pair's change is within that pair's bound
    solve_error: float            # max e_T: the a-posteriori bound on ||w~_T - w_T||
    evaluation_error: float       # max E_T: the error budget of the binary32 loss on the box
    replacements: int
    evidence: str = "tested"      # each pair's bound is sound; the pairs are a sample
    theorems: tuple = THEOREMS_USED + ("rounding/binary32-*",)   # the error budget's


def measure_binary32(x, y, x_held, y_held, lam: float, random: int = 20, seed: int = 0) -> Binary32StabilityReport:
    """The replace-one change of the binary32 pipeline (float32 solve, loss in
    certnn's binary32 semantics) on held-out points, against the bound of the
    module docstring: for each pair, |l~(w~_S; z) - l~(w~_S'; z)| <= E_S + L_S e_S
    + beta + L_S' e_S' + E_S' (triangle inequality through l(w~_T), l(w_T)).
    The data must be binary32 numbers (the bound is about the ridge on them)."""
    x, y, x_held, y_held = (np.asarray(a, np.float64) for a in (x, y, x_held, y_held))
    if any(not np.array_equal(a, a.astype(np.float32)) for a in (x, y, x_held, y_held)):
        raise CertnnError("measure_binary32: the data must be binary32 numbers (cast to float32 first)")
    n, d = x.shape
    pad = 1 + 1e-12                   # covers the float64 rounding of these few bound computations
    X = float(max(np.linalg.norm(x, axis=1).max(), np.linalg.norm(x_held, axis=1).max())) * pad
    Y = float(max(np.abs(y).max(), np.abs(y_held).max()))
    beta = bound(X, Y, lam, n)
    z = np.concatenate([x_held, y_held[:, None]], 1).astype(np.float32)

    def pipeline(xs, ys):
        w = ridge(xs.astype(np.float32), ys.astype(np.float32), lam, np.float32).astype(np.float64)
        e = solve_error_bound(xs, ys, lam, w)
        lip = X * (X * (2 * np.linalg.norm(w) + e) + 2 * Y) * pad
        return w, e, lip, evaluation_error(w, X, Y), binary32_loss(w, z)

    w, e, lip, E, loss = pipeline(x, y)
    rng = np.random.default_rng(seed)
    worst_bound = measured = 0.0
    holds, solve_err, eval_err = True, e, E
    for _ in range(random):
        i, j = rng.integers(n), rng.integers(len(x_held))
        w2, e2, lip2, E2, loss2 = pipeline(*replace(x, y, i, x_held[j], y_held[j]))
        pair_bound = float((beta + lip * e + lip2 * e2 + E + E2) * pad)
        change = float(np.max(np.abs(loss.astype(np.float64) - loss2.astype(np.float64))))
        holds &= change <= pair_bound
        worst_bound, measured = max(worst_bound, pair_bound), max(measured, change)
        solve_err, eval_err = max(solve_err, e2), max(eval_err, E2)
    return Binary32StabilityReport(n, d, lam, X, Y, beta, worst_bound, measured, bool(holds), solve_err, eval_err,
                                   random)
