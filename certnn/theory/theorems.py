"""The mathematics of certnn.theory: differential-privacy mechanisms and ridge
stability, proved (sympy/z3) where it is algebra (``THEOREMS``, re-run by
``certnn prove 'dp/*' 'stability/*'``) and tested against the running code where
it is a claim about the code (``CODE_CHECKS``, run by the test suite)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..proofs.theorems import ProofFailed, Theorem, z3_unsat


def _zero(expr, what):
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    bad = [e for e in (sp.simplify(sp.cancel(e)) for e in entries) if e != 0]
    if bad:
        raise ProofFailed(f"{what}: residual {bad}")


# ---- differential privacy ---------------------------------------------------------------------

def prove_laplace() -> str:
    import z3
    x, a, a2, d = z3.Reals("x a a2 Delta")
    z3_unsat([z3.If(a - a2 >= 0, a - a2, a2 - a) <= d],
             z3.If(x - a2 >= 0, x - a2, a2 - x) - z3.If(x - a >= 0, x - a, a - x) <= d, "Laplace density ratio")
    return ("|f(D) - f(D')| <= Delta implies |y - f(D')| - |y - f(D)| <= Delta for all y (z3, reals), so the "
            "Laplace density ratio is <= exp(Delta / b) = e^epsilon at b = Delta / epsilon (per coordinate; "
            "L1 sensitivity for vectors)")


def check_laplace_code() -> str:
    from scipy.stats import kstest, laplace
    from .mechanisms import laplace_mechanism
    rng = np.random.default_rng(0)
    r = laplace_mechanism(np.zeros(20000), sensitivity=2.0, epsilon=0.5, rng=rng)
    if r.scale != 4.0 or kstest(r.value, laplace(scale=4.0).cdf).pvalue < 1e-4:
        raise ProofFailed(f"Laplace mechanism: scale {r.scale}, noise not Laplace(4)")
    return "laplace_mechanism adds Laplace(Delta/epsilon) noise (KS test, 20000 draws)"


def prove_gaussian_loss() -> str:
    x, d = sp.symbols("x Delta", real=True)
    s = sp.Symbol("sigma", positive=True)
    loss = sp.expand(-(x ** 2) / (2 * s ** 2) + (x - d) ** 2 / (2 * s ** 2))   # log N(x;0,s2) - log N(x;Delta,s2)
    slope = sp.diff(loss, x)
    if sp.diff(loss, x, 2) != 0:
        raise ProofFailed("the privacy loss is not affine in the output")
    mean, var = loss.subs(x, 0), sp.expand(slope ** 2 * s ** 2)               # x ~ N(0, s2)
    _zero(mean - d ** 2 / (2 * s ** 2), "mean")
    _zero(var - d ** 2 / s ** 2, "variance")
    return ("the Gaussian mechanism's privacy loss log p(y)/q(y) is affine in y, distributed N(mu, 2 mu) with "
            "mu = Delta^2 / (2 sigma^2): the PLD that dp-accounting composes")


def check_gaussian_sigma() -> str:
    from scipy.stats import norm
    from .mechanisms import gaussian_sigma
    worst = 0.0
    for eps, delta in [(0.5, 1e-5), (1.0, 1e-6), (3.0, 1e-5), (8.0, 1e-3)]:
        s = gaussian_sigma(1.0, eps, delta)
        dl = norm.cdf(1 / (2 * s) - eps * s) - np.exp(eps) * norm.cdf(-1 / (2 * s) - eps * s)
        dl_less = norm.cdf(1 / (2 * s * 0.99) - eps * s * 0.99) - np.exp(eps) * norm.cdf(-1 / (2 * s * 0.99) - eps * s * 0.99)
        if not (dl <= delta * (1 + 1e-6) and dl_less > delta):
            raise ProofFailed(f"eps={eps}, delta={delta}: sigma={s} gives delta(eps)={dl}, 0.99 sigma {dl_less}")
        worst = max(worst, dl / delta)
    return ("gaussian_sigma meets Balle & Wang's exact delta(epsilon) <= delta, and 0.99 sigma does not "
            f"(4 settings; largest delta(eps)/delta = {worst:.6f})")


def check_clipping_code() -> str:
    from .. import nn, optim
    from .dpsgd import DPSGD
    rng = np.random.default_rng(1)
    lin = nn.Linear(3, 2, dtype=np.float64)
    dp = DPSGD(lin.parameters(), optim.SGD(lin.parameters(), lr=0.1), 10, 1.0, 1.0, max_grad_norm=0.7)
    grads = [rng.normal(scale=sc, size=(6, 2, 3)) for sc in (0.01, 5.0)]
    grads = [np.concatenate([g[:3] * 0.01, g[3:]]) for g in grads]                 # 3 small, 3 large
    f = dp.clip_factors(grads)
    norms = np.sqrt(sum((g.reshape(6, -1) ** 2).sum(1) for g in grads))
    clipped = norms * f
    if not (np.all(clipped <= 0.7 * (1 + 1e-12)) and np.allclose(f[:3], 1.0)
            and np.allclose(clipped[norms > 0.7], 0.7)):
        raise ProofFailed(f"clip factors {f} for norms {norms}")
    return "clip_factors scales exactly the gradients above C to norm C and leaves the others"


# ---- ridge stability --------------------------------------------------------------------------

def prove_ridge_identity() -> str:
    d = 3
    n, lam = sp.symbols("N lambda", positive=True)
    xi = sp.Matrix(sp.symbols(f"xi0:{d}", real=True))
    xn = sp.Matrix(sp.symbols(f"xn0:{d}", real=True))
    yi, yn = sp.symbols("y_i y_new", real=True)
    G = sp.Matrix(d, d, lambda r, c: sp.Symbol(f"G{min(r, c)}{max(r, c)}", real=True))   # sum over the others
    c = sp.Matrix(sp.symbols(f"c0:{d}", real=True))                                     # sum of y_j x_j over the others
    w2 = sp.Matrix(sp.symbols(f"w0:{d}", real=True))
    A = (G + xi * xi.T) / n + lam * sp.eye(d)
    b = (c + yi * xi) / n
    A2 = (G + xn * xn.T) / n + lam * sp.eye(d)
    # w2 = w_{S'}: b' = A' w2 determines c
    c_sol = sp.solve(list((c + yn * xn) / n - A2 * w2), list(c), dict=True)[0]
    lhs = (b - A * w2).subs(c_sol)                                 # = A (w_S - w_{S'}) since A w_S = b
    rhs = (xi * (yi - (xi.T * w2)[0]) - xn * (yn - (xn.T * w2)[0])) / n
    _zero(lhs - rhs, "A (w_S - w_S') identity")
    return "A (w_S - w_S') = (1/N)[x_i (y_i - <x_i, w_S'>) - x' (y' - <x', w_S'>)] (symbolic, d = 3, generic data)"


def prove_ridge_bound() -> str:
    X, Y, lam, n = sp.symbols("X Y lambda N", positive=True)
    w_norm = X * Y / lam                                           # ||b|| / lambda_min(A)
    dw = 2 * X * (Y + X * w_norm) / (lam * n)                      # ||A^{-1}|| ||x_i r_i - x' r'||
    lip = X * (2 * X * w_norm + 2 * Y)                             # |<w - w', x>| factor and |<w + w', x> - 2y|
    _zero(dw - 2 * X * Y * (lam + X ** 2) / (lam ** 2 * n), "||w_S - w_S'|| bound")
    _zero(lip * dw - 4 * X ** 2 * Y ** 2 * (lam + X ** 2) ** 2 / (lam ** 3 * n), "stability bound")
    from .stability import bound
    if not np.isclose(bound(0.8, 1.5, 0.3, 77), float((lip * dw).subs({X: 0.8, Y: 1.5, lam: 0.3, n: 77}))):
        raise ProofFailed("stability.bound does not evaluate the proved formula")
    return ("beta = X ||w - w'|| (2 X ||w|| + 2Y) with ||w|| <= XY/lambda and ||w - w'|| <= 2XY(lambda + X^2)/"
            "(lambda^2 N) equals 4 X^2 Y^2 (lambda + X^2)^2 / (lambda^3 N) (the inequalities used: Cauchy-"
            "Schwarz, lambda_min(A) >= lambda); d = 1 is TorchLean's theorem; stability.bound evaluates it")


def check_ridge_code() -> str:
    from .stability import adversarial_candidates, bound, replace, ridge, sup_loss_change
    rng = np.random.default_rng(2)
    worst = 0.0
    for d in (1, 4):
        x = rng.normal(size=(30, d))
        x /= np.linalg.norm(x, axis=1, keepdims=True).max()
        y = rng.uniform(-1, 1, 30)
        w = ridge(x, y, 0.05)
        beta = bound(1.0, 1.0, 0.05, 30)
        for i, xn, yn in adversarial_candidates(x, y, 0.05, 1.0, 1.0):
            ch = sup_loss_change(w, ridge(*replace(x, y, i, xn, yn), 0.05), 1.0, 1.0)
            if ch > beta:
                raise ProofFailed(f"d={d}: replace-one change {ch} exceeds the bound {beta}")
            worst = max(worst, ch / beta)
    return f"adversarial replacements in d = 1 and d = 4 stay below the bound (largest change / bound = {worst:.3f})"


_DPSGD = ("certnn.theory.dpsgd.DPSGD",)
THEOREMS = [
    Theorem("dp/laplace-density-ratio", "the Laplace mechanism with b = Delta / epsilon is (epsilon, 0)-DP",
            "proved", ("certnn.theory.mechanisms.laplace_mechanism",), "real outputs, L1 sensitivity Delta",
            prove_laplace, quick=True),
    Theorem("dp/gaussian-privacy-loss", "the Gaussian mechanism's privacy loss is N(mu, 2 mu), "
            "mu = Delta^2 / (2 sigma^2)", "proved", ("certnn.theory.accounting.dpsgd_event",),
            "one release, L2 sensitivity Delta along the difference (other coordinates cancel)",
            prove_gaussian_loss, quick=True),
    Theorem("stability/ridge-replace-one-identity", "A (w_S - w_S') = (1/N)[x_i (y_i - <x_i, w_S'>) - "
            "x' (y' - <x', w_S'>)]", "proved", ("certnn.theory.stability.ridge",),
            "symbolic in dimension 3 with generic data (the identity is coordinate-wise linear algebra)",
            prove_ridge_identity, quick=True),
    Theorem("stability/ridge-stability-bound", "ridge regression is uniformly replace-one stable with "
            "beta = 4 X^2 Y^2 (lambda + X^2)^2 / (lambda^3 N) in any dimension", "proved",
            ("certnn.theory.stability.bound",), "||x|| <= X, |y| <= Y, lambda > 0; the algebra of the "
            "inequality chain (Cauchy-Schwarz and A >= lambda I are cited, not re-proved)", prove_ridge_bound,
            quick=True),
]

# Checks of the running code against the identities above: sampled comparisons with a stated
# tolerance (evidence `tested`), so they are tests (tests/), not registry theorems.
# Each is (name, statement, covers, domain, check); check() raises ProofFailed on a mismatch.
CODE_CHECKS = [
    ("dp/laplace-code", "laplace_mechanism draws Laplace(Delta / epsilon) noise",
     ("certnn.theory.mechanisms.laplace_mechanism",), "20000 draws, KS test at p = 1e-4",
     check_laplace_code),
    ("dp/gaussian-sigma", "gaussian_sigma is the analytic Gaussian mechanism's smallest sigma",
     ("certnn.theory.mechanisms.gaussian_sigma",), "4 (epsilon, delta) settings, 1 % tightness",
     check_gaussian_sigma),
    ("dp/clipping-code", "DP-SGD's clipping bounds every per-example gradient's norm by C and leaves "
     "smaller ones unchanged", _DPSGD, "6 random per-example gradients over two parameters",
     check_clipping_code),
    ("stability/ridge-stability-code", "adversarial replacements never exceed the bound",
     ("certnn.theory.stability.ridge", "certnn.theory.stability.sup_loss_change"),
     "N = 30, d in {1, 4}, lambda = 0.05, the adversarial candidate set", check_ridge_code),
]
