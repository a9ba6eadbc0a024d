"""The mathematics the generative models rest on: each identity is proved with
sympy and registered in ``THEOREMS`` (evidence ``proved``, re-run by
``certnn prove 'generative/*'``), and checked against the running code by a
``CODE_CHECKS`` entry (evidence ``tested``: sampled points or Monte Carlo with a
stated tolerance; the test suite runs them).

Gaussian expectations are taken from the definition: E[u^k] for u ~ N(0, 1) is
the integral of u^k exp(-u^2/2) / sqrt(2 pi) (sympy), and a Gaussian variable
m + sqrt(v) u is reduced to those moments.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from ..proofs.theorems import ProofFailed, Theorem

_u = sp.Symbol("u", real=True)


@lru_cache(maxsize=None)
def _moment(k: int):
    """E[u^k], u ~ N(0, 1), by integrating the density."""
    return sp.simplify(sp.integrate(_u ** k * sp.exp(-_u ** 2 / 2), (_u, -sp.oo, sp.oo), conds="none")
                       / sp.sqrt(2 * sp.pi))


def _expect(expr, var, mean, variance):
    """E[expr] for var ~ N(mean, variance), expr polynomial in var (after expanding logs)."""
    poly = sp.Poly(sp.expand(expr.subs(var, mean + sp.sqrt(variance) * _u)), _u)
    return sum(c * _moment(m[0]) for m, c in poly.terms())


def _zero(expr, what: str):
    if sp.simplify(expr) != 0:
        raise ProofFailed(f"{what}: residual {sp.simplify(expr)} is not 0")


def _log_normal(x, mean, var):
    return -(x - mean) ** 2 / (2 * var) - sp.log(2 * sp.pi * var) / 2


# ---- KL of diagonal Gaussians ----------------------------------------------------------------

def prove_kl_closed_form() -> str:
    x, mu = sp.symbols("x mu", real=True)
    s2 = sp.Symbol("s2", positive=True)
    log_ratio = _log_normal(x, mu, s2) - _log_normal(x, 0, 1)
    kl = _expect(log_ratio, x, mu, s2)
    _zero(kl - (mu ** 2 + s2 - 1 - sp.log(s2)) / 2, "E_p[log p - log q] vs the closed form")
    return "E_{N(mu,s2)}[log N(x;mu,s2) - log N(x;0,1)] = (mu^2 + s2 - 1 - log s2)/2; dims add (independence)"


def prove_kl_nonnegative() -> str:
    mu = sp.Symbol("mu", real=True)
    s2 = sp.Symbol("s2", positive=True)
    g = s2 - 1 - sp.log(s2)                      # 2 KL = mu^2 + g(s2)
    crit = sp.solve(sp.diff(g, s2), s2)
    if crit != [1] or g.subs(s2, 1) != 0 or sp.diff(g, s2, 2).is_positive is not True:
        raise ProofFailed("g(s) = s - 1 - log s: expected the single critical point s = 1, g(1) = 0, g'' > 0")
    if sp.solve(mu ** 2, mu) != [0]:
        raise ProofFailed("mu^2 = 0 only at mu = 0")
    return ("2 KL = mu^2 + g(s2), g(s) = s - 1 - log s strictly convex on s > 0 with g'(1) = 0, g(1) = 0: "
            "KL >= 0, = 0 iff mu = 0 and s2 = 1 (per dimension, hence for the sum)")


def check_kl_code() -> str:
    from scipy.integrate import quad
    from ..tensor import Tensor
    from .distributions import gaussian_kl
    from .vae import VAE
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(5, 3)), rng.normal(scale=0.7, size=(5, 3))
    got = gaussian_kl(Tensor(mu), Tensor(logvar)).data
    closed = 0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar).sum(1)
    s = np.exp(0.5 * logvar)
    quadrature = np.array([[quad(lambda x: np.exp(-(x - m) ** 2 / (2 * v ** 2)) / (v * np.sqrt(2 * np.pi))
                                 * ((x * x - ((x - m) / v) ** 2) / 2 - np.log(v)), -np.inf, np.inf)[0]
                            for m, v in zip(mr, sr)] for mr, sr in zip(mu, s)]).sum(1)
    if not (np.allclose(got, closed, rtol=1e-12) and np.allclose(got, quadrature, rtol=1e-7)):
        raise ProofFailed(f"gaussian_kl {got} vs closed form {closed} vs quadrature {quadrature}")
    vae = VAE(in_features=6, hidden=5, latent=3).to(np.float64)
    x = rng.random((4, 6))
    m, lv = (t.data for t in vae.encode(Tensor(x)))
    _, kl = vae.terms(x, rng.standard_normal((4, 3)))
    if not np.allclose(kl.data, 0.5 * (m ** 2 + np.exp(lv) - 1 - lv).sum(1), rtol=1e-12):
        raise ProofFailed("the VAE's KL term differs from the closed form of its encoder's output")
    return "gaussian_kl = closed form (rtol 1e-12) = quadrature of the definition (rtol 1e-7); VAE.terms uses it"


# ---- ELBO ------------------------------------------------------------------------------------

def prove_elbo() -> str:
    """Linear-Gaussian instance: p(z) = N(0,1), p(x|z) = N(a z, s), q(z|x) = N(m, v)."""
    x, z, a, m = sp.symbols("x z a m", real=True)
    s, v = sp.symbols("s v", positive=True)
    log_joint = _log_normal(x, a * z, s) + _log_normal(z, 0, 1)
    elbo = _expect(log_joint - _log_normal(z, m, v), z, m, v)
    recon = _expect(_log_normal(x, a * z, s), z, m, v)
    kl_prior = (m ** 2 + v - 1 - sp.log(v)) / 2                     # generative/gaussian-kl-closed-form
    _zero(elbo - (recon - kl_prior), "ELBO vs reconstruction - KL(q || prior)")
    # posterior p(z|x) = N(pm, pv) and evidence p(x) = N(0, a^2 + s)
    pv = 1 / (1 + a ** 2 / s)
    pm = pv * a * x / s
    kl_post = _expect(_log_normal(z, m, v) - _log_normal(z, pm, pv), z, m, v)
    _zero(elbo - (_log_normal(x, 0, a ** 2 + s) - kl_post), "ELBO vs log p(x) - KL(q || posterior)")
    return ("E_q[log p(x,z) - log q(z|x)] = E_q[log p(x|z)] - KL(q || p(z)) = log p(x) - KL(q || p(z|x)) "
            "(symbolic, linear-Gaussian model, all parameters free)")


def check_elbo_code() -> str:
    from .vae import VAE
    from ..tensor import Tensor
    rng = np.random.default_rng(1)
    vae = VAE(in_features=8, hidden=6, latent=2).to(np.float64)
    x = np.repeat(rng.random((1, 8)), 20000, axis=0)
    eps = rng.standard_normal((20000, 2))
    rec, kl = vae.terms(x, eps)
    code = rec.data + kl.data                           # what training minimises (one sample each)
    mu, logvar = (t.data for t in vae.encode(Tensor(x[:1])))
    z = mu + np.exp(0.5 * logvar) * eps
    logits = vae.decode(Tensor(z)).data
    log_px_z = -(np.logaddexp(0, logits) - x * logits).sum(1)
    log_pz = -0.5 * (z ** 2).sum(1) - np.log(2 * np.pi)
    log_q = -0.5 * (eps ** 2).sum(1) - 0.5 * logvar.sum() - np.log(2 * np.pi)
    direct = -(log_px_z + log_pz - log_q)               # -[log p(x,z) - log q(z|x)] at the same z
    se = np.sqrt(code.var() / len(code) + direct.var() / len(direct))
    if abs(code.mean() - direct.mean()) > 5 * se:
        raise ProofFailed(f"negative ELBO: code {code.mean():.5f} vs definition {direct.mean():.5f} (5 se = {5 * se:.5f})")
    if not np.allclose(rec.data, -log_px_z, rtol=1e-12):
        raise ProofFailed("the VAE's reconstruction term is not -log p(x|z)")
    return f"VAE loss mean {code.mean():.4f} = definition {direct.mean():.4f} within 5 standard errors ({5 * se:.4f})"


# ---- diffusion -------------------------------------------------------------------------------

def prove_forward_marginal() -> str:
    """Induction step with characteristic functions: if x_{t-1} | x_0 ~ N(sqrt(ab') x_0,
    (1 - ab') ) and x_t = sqrt(1 - beta) x_{t-1} + sqrt(beta) eps (eps independent), then
    x_t | x_0 ~ N(sqrt(ab) x_0, 1 - ab) with ab = ab' (1 - beta); base case t = 1 is the kernel."""
    w, x0 = sp.symbols("omega x0", real=True)
    ab_prev = sp.Symbol("abar_prev", positive=True)
    beta = sp.Symbol("beta", positive=True)

    def gauss_cf(mean, var):
        return sp.exp(sp.I * w * mean - var * w ** 2 / 2)

    phi_t = gauss_cf(sp.sqrt(ab_prev) * x0, 1 - ab_prev).subs(w, sp.sqrt(1 - beta) * w) * gauss_cf(0, beta)
    ab = ab_prev * (1 - beta)
    _zero(sp.expand(sp.log(phi_t), force=True) - sp.expand(sp.log(gauss_cf(sp.sqrt(ab) * x0, 1 - ab)), force=True),
          "characteristic function of x_t | x_0")
    base = gauss_cf(sp.sqrt(1 - beta) * x0, beta)                   # q(x_1 | x_0) itself, abar_1 = 1 - beta
    _zero(sp.expand(sp.log(base), force=True)
          - sp.expand(sp.log(gauss_cf(sp.sqrt(1 - beta) * x0, 1 - (1 - beta))), force=True), "base case")
    return ("q(x_t|x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), abar_t = prod (1 - beta_s): "
            "characteristic functions compose (per coordinate; coordinates independent)")


def check_forward_marginal_code() -> str:
    from .diffusion import Schedule, q_sample
    sched = Schedule.linear(50)
    if not np.allclose(sched.abar[1:], np.cumprod(1 - sched.betas), rtol=0) or sched.abar[0] != 1:
        raise ProofFailed("Schedule.abar is not the product of (1 - beta)")
    rng = np.random.default_rng(2)
    x0 = np.array([[0.7, -1.3]])
    n = 40000
    for t in (1, 10, 50):
        xt = q_sample(sched, np.repeat(x0, n, 0), np.full(n, t), rng.standard_normal((n, 2)))
        ab = sched.abar[t]
        m_err = np.abs(xt.mean(0) - np.sqrt(ab) * x0[0]).max()
        v_err = np.abs(xt.var(0) - (1 - ab)).max()
        if m_err > 5 * np.sqrt((1 - ab) / n) or v_err > 5 * (1 - ab) * np.sqrt(2 / n):
            raise ProofFailed(f"t={t}: q_sample moments off (mean err {m_err:.2e}, var err {v_err:.2e})")
    # one-step kernels composed by sampling agree with the closed-form marginal
    x = np.repeat(x0, n, 0)
    for t in range(1, 11):
        x = np.sqrt(1 - sched.betas[t - 1]) * x + np.sqrt(sched.betas[t - 1]) * rng.standard_normal((n, 2))
    ab = sched.abar[10]
    if np.abs(x.mean(0) - np.sqrt(ab) * x0[0]).max() > 5 * np.sqrt((1 - ab) / n):
        raise ProofFailed("ten composed one-step kernels disagree with q(x_10 | x_0)")
    return "q_sample and 10 composed kernels match N(sqrt(abar) x0, 1 - abar) within 5 standard errors (n = 40000)"


def _posterior_symbols():
    ab_prev = sp.Symbol("abar_prev", positive=True)
    beta = sp.Symbol("beta", positive=True)
    return ab_prev, beta, 1 - beta, ab_prev * (1 - beta)


def prove_ddpm_posterior() -> str:
    """q(x_{t-1} | x_t, x_0) by completing the square, and Algorithm 2's mean."""
    y, xt, x0, e = sp.symbols("y x_t x_0 eps", real=True)
    ab_prev, beta, alpha, ab = _posterior_symbols()
    log_joint = _log_normal(xt, sp.sqrt(alpha) * y, beta) + _log_normal(y, sp.sqrt(ab_prev) * x0, 1 - ab_prev)
    poly = sp.Poly(sp.expand(log_joint), y)
    precision = -2 * poly.coeff_monomial(y ** 2)
    mean = poly.coeff_monomial(y) / precision
    var_code = (1 - ab_prev) / (1 - ab) * beta
    mean_code = sp.sqrt(ab_prev) * beta / (1 - ab) * x0 + sp.sqrt(alpha) * (1 - ab_prev) / (1 - ab) * xt
    _zero(1 / precision - var_code, "posterior variance")
    _zero(mean - mean_code, "posterior mean")
    # with x0_hat from eps_hat, the mean is Algorithm 2's (x_t - beta / sqrt(1 - ab) eps) / sqrt(alpha)
    x0_hat = (xt - sp.sqrt(1 - ab) * e) / sp.sqrt(ab)
    _zero(mean_code.subs(x0, x0_hat) - (xt - beta / sp.sqrt(1 - ab) * e) / sp.sqrt(alpha), "Algorithm 2 mean")
    return "q(x_{t-1}|x_t,x_0) = N(mu~, beta~) with the sampler's coefficients; = Ho et al. Algorithm 2 mean"


def prove_ddim_eta1() -> str:
    xt, e = sp.symbols("x_t eps", real=True)
    ab_prev, beta, alpha, ab = _posterior_symbols()
    x0 = (xt - sp.sqrt(1 - ab) * e) / sp.sqrt(ab)
    ddpm_mean = sp.sqrt(ab_prev) * beta / (1 - ab) * x0 + sp.sqrt(alpha) * (1 - ab_prev) / (1 - ab) * xt
    ddpm_var = (1 - ab_prev) / (1 - ab) * beta
    sigma2 = (1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)          # eta = 1
    _zero(sigma2 - ddpm_var, "DDIM sigma^2 at eta = 1 vs beta~")
    c_eps = sp.sqrt(1 - ab_prev - sigma2)
    ddim_mean = sp.sqrt(ab_prev) * x0 + c_eps * e
    # both means are linear in (x_t, eps_hat): compare the coefficients
    _zero(sp.diff(ddim_mean, xt) - sp.diff(ddpm_mean, xt), "coefficient of x_t")
    # DDIM's eps coefficient is c_eps - sqrt(1 - abar)/sqrt(alpha) (through x0_hat); DDPM's minus the same
    # x0_hat part must equal c_eps, a square root: compare squares, then the sign
    k = sp.diff(ddpm_mean, e) + sp.sqrt(1 - ab) / sp.sqrt(alpha)
    _zero(k ** 2 - c_eps ** 2, "squared coefficient of eps_hat")
    k_simple = sp.factor(sp.simplify(k))
    if sp.simplify(k_simple - sp.sqrt(alpha) * (1 - ab_prev) / sp.sqrt(1 - ab)) != 0:
        raise ProofFailed(f"DDPM's eps coefficient {k_simple} is not sqrt(alpha)(1 - abar')/sqrt(1 - abar) >= 0")
    return "DDIM with eta = 1 has DDPM's variance beta~_t and mean (same coefficients of x_t and eps_hat)"


def check_samplers_code() -> str:
    from .diffusion import Schedule, ddim_step, ddpm_step, sample_ddim, sample_ddpm
    from .toy import GaussianMixture
    sched, gm, rng = Schedule.linear(20), GaussianMixture(), np.random.default_rng(3)
    x, e, z = rng.normal(size=(3, 50, 2))
    for t in range(1, 21):
        a = ddpm_step(sched, x, e, t, z)
        b = ddim_step(sched, x, e, t, t - 1, 1.0, z)
        ab, alpha = sched.abar[t], sched.alphas[t - 1]
        alg2 = (x - sched.betas[t - 1] / np.sqrt(1 - ab) * e) / np.sqrt(alpha)
        if t > 1:
            alg2 = alg2 + np.sqrt((1 - sched.abar[t - 1]) / (1 - ab) * sched.betas[t - 1]) * z
        if not (np.allclose(a, b, rtol=1e-10, atol=1e-12) and np.allclose(a, alg2, rtol=1e-10, atol=1e-12)):
            raise ProofFailed(f"step {t}: DDPM, DDIM(eta=1) and Algorithm 2 disagree")

    def model(xt, t):
        return gm.optimal_eps(xt, sched.abar[t[0]])

    full = sample_ddim(model, sched, (200, 2), np.random.default_rng(4), steps=20, eta=1.0, dtype=np.float64)
    anc = sample_ddpm(model, sched, (200, 2), np.random.default_rng(4), dtype=np.float64)
    if not np.allclose(full, anc, rtol=1e-9, atol=1e-9):
        raise ProofFailed("sample_ddim(eta=1, all steps) differs from sample_ddpm with the same generator")
    return "ddpm_step = ddim_step(eta=1) = Ho et al. Algorithm 2 at every t; whole samplers equal"


# ---- VQ --------------------------------------------------------------------------------------

def prove_vq_nearest() -> str:
    z = sp.Matrix(sp.symbols("z0:4", real=True))
    e = sp.Matrix(sp.symbols("e0:4", real=True))
    _zero((z - e).dot(z - e) - (z.dot(z) - 2 * z.dot(e) + e.dot(e)), "expansion of ||z - e||^2")
    return ("||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2 (generic symbols, dimension 4), so the code's argmin over "
            "the expanded distances is argmin_k ||z - e_k||^2: the chosen code minimises the quantisation loss "
            "and the codebook/commitment terms at that z")


def check_vq_code() -> str:
    from .. import functional as F
    from ..tensor import Tensor
    from .vqvae import VQVAE, nearest_codes
    rng = np.random.default_rng(5)
    z, book = rng.normal(size=(500, 16)), rng.normal(size=(64, 16))
    brute = ((z[:, None] - book[None]) ** 2).sum(-1)
    got = nearest_codes(z, book)
    if not np.allclose(brute[np.arange(500), got], brute.min(1), rtol=1e-12):
        raise ProofFailed("nearest_codes does not pick a minimiser of ||z - e_k||^2")
    model = VQVAE().to(np.float64)
    x = rng.random((2, 1, 28, 28))
    terms = model.forward_terms(x)
    if not np.isclose(terms["codebook"].data, terms["commitment"].data, rtol=1e-12):
        raise ProofFailed("codebook and commitment terms must have the same value (they differ in gradient only)")
    # straight-through: the encoder receives d recon / d z_q unchanged
    model.zero_grad()
    terms["recon"].backward()
    through = [p.grad.copy() for p in model.encoder.parameters()]
    model.zero_grad()
    z_q = Tensor(terms["z_q"].data, requires_grad=True)
    F.mse(model.decoder(z_q), Tensor(x - 0.5)).backward()
    model.encoder(Tensor(x - 0.5)).backward(z_q.grad)
    if not all(np.allclose(a, p.grad, rtol=1e-10, atol=1e-14) for a, p in zip(through, model.encoder.parameters())):
        raise ProofFailed("the encoder's reconstruction gradient is not the decoder-input gradient passed straight through")
    return ("nearest_codes minimises ||z - e||^2 on 500 x 64 random cases; codebook term = commitment term in "
            "value; the straight-through estimator passes d recon / d z_q to the encoder unchanged")


# ---- GAN -------------------------------------------------------------------------------------

def prove_gan_optimal_d() -> str:
    a, b = sp.symbols("p q", positive=True)
    y = sp.Symbol("y", positive=True)
    f = a * sp.log(y) + b * sp.log(1 - y)
    crit = sp.solve(sp.diff(f, y), y)
    if len(crit) != 1 or sp.simplify(crit[0] - a / (a + b)) != 0:
        raise ProofFailed(f"critical points {crit}")
    if sp.simplify(sp.diff(f, y, 2) + a / y ** 2 + b / (1 - y) ** 2) != 0:
        raise ProofFailed("second derivative")
    return ("for p, q > 0, y -> p log y + q log(1 - y) on (0, 1) is strictly concave (f'' = -p/y^2 - q/(1-y)^2) "
            "with its only critical point y = p/(p+q): D* = p_data/(p_data + p_G) pointwise")


def prove_gan_js() -> str:
    p, q = sp.symbols("p q", positive=True)
    m = (p + q) / 2
    value = p * sp.log(p / (p + q)) + q * sp.log(q / (p + q))                 # integrand of V(D*, G)
    js_terms = (p * sp.log(p / m) + q * sp.log(q / m)) / 2                    # integrand of JS(p || q)
    # integrands differ by -(p + q) log 2; integrating with int p = int q = 1 gives -log 4 + 2 JS
    _zero(sp.expand_log(value - (2 * js_terms - (p + q) * sp.log(2)), force=True), "V(D*) integrand")
    return "V(D*, G) = -log 4 + 2 JS(p_data || p_G); so L_D at D* = log 4 - 2 JS"


def check_gan_code() -> str:
    from scipy.integrate import quad
    from .. import nn, optim
    from ..tensor import Tensor
    from .gan import discriminator_loss
    rng = np.random.default_rng(6)
    n = 2000
    real, fake = rng.normal(0.0, 1.0, n), rng.normal(1.0, 1.0, n)
    feats = lambda v: Tensor(np.stack([v, v * v], 1))                         # noqa: E731
    d = nn.Linear(2, 1, dtype=np.float64)                                      # log D*/(1-D*) is quadratic
    opt = optim.Adam(d.parameters(), lr=0.1)
    for _ in range(150):
        loss = discriminator_loss(d(feats(real)), d(feats(fake)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    grid = np.linspace(-2, 3, 11)
    d_hat = 1 / (1 + np.exp(-d(feats(grid)).data[:, 0]))

    def pdf(x, a):
        return np.exp(-(x - a) ** 2 / 2) / np.sqrt(2 * np.pi)

    d_star = pdf(grid, 0) / (pdf(grid, 0) + pdf(grid, 1))
    js = 0.5 * sum(quad(lambda x, a=a: pdf(x, a) * np.log(2 * pdf(x, a) / (pdf(x, 0) + pdf(x, 1))), -12, 13)[0]
                   for a in (0.0, 1.0))
    if np.abs(d_hat - d_star).max() > 0.05 or abs(float(loss.data) - (np.log(4) - 2 * js)) > 0.03:
        raise ProofFailed(f"trained D off D* by {np.abs(d_hat - d_star).max():.3f}; loss {float(loss.data):.4f} "
                          f"vs log 4 - 2 JS = {np.log(4) - 2 * js:.4f}")
    return (f"discriminator_loss trained on N(0,1) vs N(1,1) (2000 each): max |D - D*| = "
            f"{np.abs(d_hat - d_star).max():.3f}, loss {float(loss.data):.4f} vs log 4 - 2 JS = {np.log(4) - 2 * js:.4f}")


_KL = ("certnn.generative.distributions.gaussian_kl",)
THEOREMS = [
    Theorem("generative/gaussian-kl-closed-form", "KL(N(mu, s2) || N(0, 1)) = (mu^2 + s2 - 1 - log s2)/2, "
            "the integral definition E_p[log p - log q]; dimensions add", "proved", _KL,
            "mu real, s2 > 0; diagonal Gaussians (independent coordinates)", prove_kl_closed_form),
    Theorem("generative/gaussian-kl-nonnegative", "the closed-form KL is >= 0, with equality iff mu = 0 and s2 = 1",
            "proved", _KL, "mu real, s2 > 0", prove_kl_nonnegative, quick=True),
    Theorem("generative/elbo-decomposition", "ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)) = log p(x) - "
            "KL(q(z|x) || p(z|x))", "proved", ("certnn.generative.vae.VAE.terms",),
            "symbolic in a linear-Gaussian model (all parameters free); the general identity is linearity "
            "of expectation over log p(x,z) = log p(x|z) + log p(z)", prove_elbo),
    Theorem("generative/forward-marginal", "q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) for the composed "
            "kernels q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)", "proved",
            ("certnn.generative.diffusion.q_sample", "certnn.generative.diffusion.Schedule"),
            "0 < beta_t < 1, any T (induction on t)", prove_forward_marginal, quick=True),
    Theorem("generative/ddpm-posterior-mean", "q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I) with the sampler's "
            "coefficients, and its mean at x0_hat(eps_hat) is Ho et al.'s Algorithm 2 update", "proved",
            ("certnn.generative.diffusion.ddpm_step",), "0 < beta < 1, 0 < abar_{t-1} <= 1",
            prove_ddpm_posterior, quick=True),
    Theorem("generative/ddim-eta1-is-ddpm", "a DDIM step with eta = 1 between consecutive timesteps is the DDPM "
            "ancestral step (same mean, same variance)", "proved",
            ("certnn.generative.diffusion.ddim_step", "certnn.generative.diffusion.ddpm_step"),
            "0 < beta < 1, 0 < abar_{t-1} <= 1", prove_ddim_eta1, quick=True),
    Theorem("generative/vq-nearest-code", "the nearest code (by the expanded distance the code computes) "
            "minimises the quantisation loss ||z - e_k||^2 over the codebook", "proved",
            ("certnn.generative.vqvae.nearest_codes",), "any dimension (shown for generic symbols in dimension 4)",
            prove_vq_nearest, quick=True),
    Theorem("generative/gan-optimal-discriminator", "for fixed G the discriminator maximising V(D, G) is "
            "D* = p_data / (p_data + p_G)", "proved", ("certnn.generative.gan.discriminator_loss",),
            "pointwise where p_data, p_G > 0", prove_gan_optimal_d, quick=True),
    Theorem("generative/gan-jensen-shannon", "V(D*, G) = -log 4 + 2 JS(p_data || p_G)", "proved",
            ("certnn.generative.gan.discriminator_loss",), "densities with int p = int q = 1, p, q > 0",
            prove_gan_js, quick=True),
]

# Checks of the running code against the identities above: sampled comparisons with a stated
# tolerance (evidence `tested`), so they are tests (tests/), not registry theorems.
# Each is (name, statement, covers, domain, check); check() raises ProofFailed on a mismatch.
CODE_CHECKS = [
    ("generative/gaussian-kl-code", "the KL the VAE trains with equals the closed form and the integral",
     _KL + ("certnn.generative.vae.VAE.terms",), "5 x 3 random (mu, logvar); a float64 VAE",
     check_kl_code),
    ("generative/elbo-code", "the VAE's loss (reconstruction + closed-form KL) is an unbiased estimate of "
     "-E_q[log p(x,z) - log q(z|x)]", ("certnn.generative.vae.VAE.terms",),
     "one random float64 VAE and input, 20000 draws, 5 standard errors", check_elbo_code),
    ("generative/forward-marginal-code", "q_sample and the composed kernels have the closed-form moments",
     ("certnn.generative.diffusion.q_sample",), "T = 50 linear schedule, 40000 draws, 5 se",
     check_forward_marginal_code),
    ("generative/samplers-code", "ddpm_step, ddim_step(eta=1) and Algorithm 2 agree at every step; the "
     "two samplers agree from the same generator",
     ("certnn.generative.diffusion.sample_ddpm", "certnn.generative.diffusion.sample_ddim"),
     "T = 20, 50 random points per step, float64", check_samplers_code),
    ("generative/vq-code", "nearest_codes returns a minimiser; the VQ-VAE's codebook and commitment "
     "terms have equal values",
     ("certnn.generative.vqvae.nearest_codes", "certnn.generative.vqvae.VQVAE.forward_terms"),
     "500 random vectors, 64 codes, dimension 16", check_vq_code),
    ("generative/gan-code", "training the code's discriminator loss reaches D* and log 4 - 2 JS",
     ("certnn.generative.gan.discriminator_loss",),
     "1-D N(0,1) vs N(1,1), 2000 draws each, logistic D on (x, x^2), tolerance 0.05 on D and 0.03 "
     "on the loss",
     check_gan_code),
]
