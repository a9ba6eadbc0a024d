"""One sampler, one semantics: the DDPM and DDIM steps are the formulas of
certnn.generative.diffusion's docstring (and docs/generative.md); DDIM with
eta = 0 is deterministic; with the exact noise predictor of a 2-D Gaussian
mixture, both samplers reproduce its mean and covariance.

Monte-Carlo tolerance: with n samples, each coordinate of the sample mean may
differ from the target by at most 4 standard errors sqrt(C_ii / n), and each
covariance entry by 4 sqrt((C_ii C_jj + C_ij^2) / n) (the standard error of a
sample covariance of near-Gaussian data). At T = 200 the discretisation bias
was measured below 2 standard errors for n = 20000.
"""

import numpy as np
import pytest

from certnn.errors import CertnnError
from certnn.generative.diffusion import (Schedule, ddim_step, ddim_timesteps, ddpm_step, predict_x0,
                                         sample_ddim, sample_ddpm)
from certnn.generative.toy import GaussianMixture

GM = GaussianMixture()


def _oracle(sched):
    return lambda x, t: GM.optimal_eps(x, sched.abar[t[0]])


def test_ddim_eta0_is_deterministic():
    sched = Schedule.linear(50)
    x_T = np.random.default_rng(0).standard_normal((100, 2))
    a = sample_ddim(_oracle(sched), sched, (100, 2), np.random.default_rng(1), steps=20, eta=0.0, x_T=x_T)
    b = sample_ddim(_oracle(sched), sched, (100, 2), np.random.default_rng(2), steps=20, eta=0.0, x_T=x_T)
    assert np.array_equal(a, b)
    c = sample_ddim(_oracle(sched), sched, (100, 2), np.random.default_rng(1), steps=20, eta=0.5, x_T=x_T)
    assert not np.allclose(a, c)        # eta > 0 draws noise


def _moments_ok(x):
    n, C = len(x), GM.cov()
    se_mean = np.sqrt(np.diag(C) / n)
    se_cov = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C ** 2) / n)
    assert np.all(np.abs(x.mean(0) - GM.mean()) <= 4 * se_mean), (x.mean(0), GM.mean())
    assert np.all(np.abs(np.cov(x.T) - C) <= 4 * se_cov), (np.cov(x.T), C)


@pytest.mark.parametrize("schedule,seed", [("linear", 7), ("cosine", 8)])
@pytest.mark.parametrize("sampler", ["ddpm", "ddim-eta0"])
def test_samplers_reproduce_the_mixture_moments(sampler, schedule, seed):
    sched, n = Schedule.named(schedule, 200), 6000
    rng = np.random.default_rng(seed)
    if sampler == "ddpm":
        x = sample_ddpm(_oracle(sched), sched, (n, 2), rng, dtype=np.float64)
    else:
        x = sample_ddim(_oracle(sched), sched, (n, 2), rng, steps=200, eta=0.0, dtype=np.float64)
    _moments_ok(x)


def test_ddim_step_is_song_et_al_eq12():
    """An independent transcription of Song et al. (2021) eq. 12 with sigma(eta)."""
    sched = Schedule.linear(100)
    rng = np.random.default_rng(3)
    x, e, z = rng.normal(size=(3, 10, 2))
    for t, s, eta in [(100, 80, 0.0), (37, 12, 0.5), (5, 0, 1.0), (60, 59, 0.3)]:
        a_t, a_s = sched.abar[t], sched.abar[s]
        sigma = eta * np.sqrt((1 - a_s) / (1 - a_t) * (1 - a_t / a_s))
        want = (np.sqrt(a_s) * (x - np.sqrt(1 - a_t) * e) / np.sqrt(a_t)
                + np.sqrt(1 - a_s - sigma ** 2) * e + sigma * z)
        np.testing.assert_allclose(ddim_step(sched, x, e, t, s, eta, z), want, rtol=1e-12, atol=1e-12)


def test_clipping_is_shared_by_both_samplers():
    sched = Schedule.linear(30)
    rng = np.random.default_rng(4)
    x, e, z = rng.normal(scale=3.0, size=(3, 20, 2))
    for t in (30, 10, 2):
        x0, _ = predict_x0(x, e, sched.abar[t], 1.0)
        assert np.abs(x0).max() <= 1.0
        np.testing.assert_allclose(ddpm_step(sched, x, e, t, z, clip=1.0),
                                   ddim_step(sched, x, e, t, t - 1, 1.0, z, clip=1.0), rtol=1e-10, atol=1e-12)
        # clipping changes the step when x0_hat leaves [-1, 1], in both samplers alike
        assert not np.allclose(ddpm_step(sched, x, e, t, z, clip=1.0), ddpm_step(sched, x, e, t, z))


def test_ddim_timesteps_and_bad_input():
    assert ddim_timesteps(1000, 4) == [1000, 667, 334, 1]
    assert ddim_timesteps(10, 10) == list(range(10, 0, -1))
    with pytest.raises(CertnnError, match="DDIM steps"):
        ddim_timesteps(10, 11)
    with pytest.raises(CertnnError, match="T >= 1"):
        Schedule.linear(0)


def test_cosine_schedule_is_nichol_and_dhariwal_closed_form():
    T, s = 1000, 0.008
    sched = Schedule.cosine(T)
    f = lambda t: np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
    t = np.arange(T)                    # abar_0..abar_{T-1}: no beta capped before the last
    np.testing.assert_allclose(sched.abar[t], f(t) / f(0), rtol=1e-10, atol=1e-15)
    assert sched.betas[-1] == 0.999 and np.all(sched.betas[:-1] < 0.999)   # f(T) = 0: the cap
    assert np.all(np.diff(sched.abar) < 0)
    with pytest.raises(CertnnError, match="unknown noise schedule"):
        Schedule.named("quadratic", 10)


def test_min_snr_weights_and_the_weighted_loss_formula():
    from certnn.generative.diffusion import DDPM, q_sample
    sched = Schedule.linear(100)
    w = sched.loss_weights(5.0)
    snr = sched.abar[1:] / (1 - sched.abar[1:])
    np.testing.assert_allclose(w, np.minimum(snr, 5.0) / snr, rtol=1e-12)
    assert w[0] < 0.01 and w[-1] == 1.0 and np.all(sched.loss_weights(None) == 1.0)
    model = DDPM(dim=2, hidden=(16,), emb=8, T=100, pixels=False, min_snr=5.0)
    x0 = np.random.default_rng(0).standard_normal((6, 2)).astype(np.float32)
    got = float(model.loss(x0, np.random.default_rng(1)).data)
    rng = np.random.default_rng(1)                      # the same draws, in the loss's order
    t = rng.integers(1, 101, size=6)
    eps = rng.standard_normal(x0.shape).astype(np.float32)
    err = ((eps - model.eps_model(q_sample(sched, x0, t, eps), t)) ** 2).mean(1)
    assert got == pytest.approx(float((w[t - 1] * err).mean()), rel=1e-5)
    unweighted = float(model.loss(x0, np.random.default_rng(1), weighted=False).data)
    assert unweighted == pytest.approx(float(err.mean()), rel=1e-5) and unweighted != pytest.approx(got)
    with pytest.raises(CertnnError, match="min_snr"):
        DDPM(dim=2, pixels=False, min_snr=0.0)


def test_ddim_eta0_is_deterministic_on_the_cosine_schedule():
    sched = Schedule.cosine(50)
    x_T = np.random.default_rng(0).standard_normal((100, 2))
    a, b = (sample_ddim(_oracle(sched), sched, (100, 2), np.random.default_rng(seed), steps=20, eta=0.0, x_T=x_T)
            for seed in (1, 2))
    assert np.array_equal(a, b) and np.all(np.isfinite(a))
