"""DP-SGD: accounting numbers, each part of a step, and the audit that must pass
the correct implementation and catch broken ones."""

import numpy as np
import pytest

from certnn import functional as F
from certnn import nn, optim
from certnn.errors import CertnnError
from certnn.tensor import Tensor
from certnn.theory.accounting import dpsgd_privacy, noise_for_epsilon, steps_for
from certnn.theory.audit import FAULTS, audit_dpsgd, clopper_pearson_upper, epsilon_from_rates
from certnn.theory.dpsgd import DPSGD, check_examples_independent
from certnn.theory.mechanisms import gaussian_mechanism, laplace_mechanism


def test_accountants_give_the_published_epsilons():
    r = dpsgd_privacy(256 / 60000, 1.1, steps_for(60, 256 / 60000), 1e-5)
    assert r.steps == 14062
    assert round(r.epsilon_rdp, 3) == 2.597 and round(r.epsilon_pld, 3) == 2.382
    assert r.epsilon == r.epsilon_pld and "dp-accounting-upper-bound" in r.assumptions


def test_noise_calibration_meets_the_target():
    sigma = noise_for_epsilon(2.0, 1.0, 10, 1e-5, accountant="rdp", tol=1e-2)   # PLD: see the benchmark
    assert dpsgd_privacy(1.0, sigma, 10, 1e-5).epsilon_rdp <= 2.0
    assert dpsgd_privacy(1.0, sigma - 0.05, 10, 1e-5).epsilon_rdp > 2.0
    with pytest.raises(CertnnError, match="sample rate"):
        dpsgd_privacy(1.5, 1.0, 10, 1e-5)


def _setup(n=40, q=0.5, sigma=0.0, clip=1.0, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 3)), rng.integers(0, 2, n)
    lin = nn.Linear(3, 2, dtype=np.float64)
    opt = optim.SGD(lin.parameters(), lr=1.0)
    dp = DPSGD(lin.parameters(), opt, n, q, sigma, clip, seed=seed)
    return lin, dp, x, y


def test_step_matches_the_definition():
    lin, dp, x, y = _setup(sigma=0.0, clip=0.05)
    w0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    idx = np.arange(10)
    ref = nn.Linear(3, 2, dtype=np.float64)
    total = np.zeros(w0.size + b0.size)
    for n in idx:                                           # the definition: one example at a time
        ref.weight.data[...], ref.bias.data[...] = w0, b0
        ref.zero_grad()
        F.cross_entropy(ref(Tensor(x[n:n + 1])), y[n:n + 1]).backward()
        g = np.concatenate([ref.weight.grad.ravel(), ref.bias.grad])
        total += g / max(1.0, np.linalg.norm(g) / 0.05)
    dp.step(lambda i: F.cross_entropy(lin(Tensor(x[i])), y[i], reduction="none"), idx)
    step = np.concatenate([(w0 - lin.weight.data).ravel(), b0 - lin.bias.data])
    np.testing.assert_allclose(step, total / (0.5 * 40), rtol=1e-10)


def test_poisson_sampling_and_noise_scale():
    lin, dp, x, y = _setup(n=1000, q=0.03, sigma=2.0, clip=0.5)
    sizes = [len(dp.sample()) for _ in range(400)]
    assert abs(np.mean(sizes) - 30) < 4 * np.sqrt(30 * 0.97 / 400)
    noise = dp.noise((20000,), np.float64)
    assert abs(noise.std() - 1.0) < 0.03                    # sigma * C = 1
    empty = dp.step(lambda i: None, np.array([], dtype=int))   # an empty batch still adds noise
    assert empty == 0 and dp.steps == 1


def test_mixing_model_is_rejected():
    bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with pytest.raises(CertnnError, match="mixes the examples"):
        check_examples_independent(bn, np.random.default_rng(0).random((3, 1, 5, 5)).astype(np.float32))
    check_examples_independent(nn.Sequential(nn.Linear(4, 2)), np.ones((3, 4), np.float32))


def test_mechanisms():
    rng = np.random.default_rng(0)
    lap = laplace_mechanism(np.zeros(3), 1.0, 0.5, rng)
    gau = gaussian_mechanism(np.zeros(3), 1.0, 1.0, 1e-5, rng)
    assert lap.scale == 2.0 and lap.delta == 0 and lap.evidence == "proved"
    assert 3.5 < gau.scale < 4.5 and gau.assumptions
    with pytest.raises(CertnnError, match="epsilon"):
        laplace_mechanism(np.zeros(1), 1.0, 0.0, rng)


def test_audit_rates_and_bound_formula():
    assert clopper_pearson_upper(0, 100, 0.025) == pytest.approx(1 - 0.025 ** (1 / 100))
    assert epsilon_from_rates(0.5, 0.5, 0.0) == 0.0
    assert epsilon_from_rates(0.01, 0.5, 0.0) == pytest.approx(np.log(0.5 / 0.01))   # the larger of the two


def test_audit_passes_the_correct_implementation():
    r = audit_dpsgd(DPSGD, trials=300)
    assert not r.caught and r.epsilon_lower < r.epsilon_upper < 2.1


@pytest.mark.parametrize("broken", list(FAULTS.values()), ids=list(FAULTS))
def test_audit_catches_a_broken_implementation(broken):
    r = audit_dpsgd(broken, trials=200)
    assert r.caught and r.epsilon_lower > r.epsilon_upper, r


def test_training_makes_exactly_the_accounted_steps():
    # 1/q = 20.4 steps per epoch: rounding each epoch to 20 would make 60 steps, the accountant composes 61
    from certnn.theory.dp_train import DPConfig, train_dp_mnist
    q = 1 / 20.4
    r = train_dp_mnist(DPConfig(epochs=3, sample_rate=q, noise_multiplier=2.0, limit_train=100, limit_test=20),
                       log=lambda s: None)
    assert r["steps"] == steps_for(3, q) == 61 == r["privacy"]["steps"]
    assert r["epsilon_pld"] == dpsgd_privacy(q, 2.0, 61, 1e-5).epsilon_pld
