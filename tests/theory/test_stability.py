"""Ridge stability: the bound, its measurement, and the binary32 pieces."""

import numpy as np
import pytest

from certnn.errors import CertnnError
from certnn.theory import stability as st


def _data(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 20, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True).max()
    y = np.clip(x @ rng.normal(size=d) + 0.1 * rng.normal(size=n + 20), -1, 1)
    return x[:n], y[:n], x[n:], y[n:]


def test_bound_is_torchleans_in_one_dimension():
    X, Y, lam, n = 0.7, 2.0, 0.3, 50
    assert st.bound(X, Y, lam, n) == pytest.approx(4 * X**2 * Y**2 * (lam + X**2) ** 2 / (lam**3 * n))
    with pytest.raises(CertnnError, match="lambda"):
        st.bound(1.0, 1.0, 0.0, 10)


def test_measured_stability_is_below_the_bound_and_adversaries_beat_random():
    x, y, xh, yh = _data()
    r = st.measure(x, y, xh, yh, lam=0.05, random=10)
    assert 0 < r.measured_test_points <= r.measured_random <= r.bound
    assert r.measured_adversarial <= r.bound and r.measured_adversarial > r.measured_random


def test_sup_loss_change_is_the_supremum():
    rng = np.random.default_rng(1)
    w, w2 = rng.normal(size=4), rng.normal(size=4)
    sup = st.sup_loss_change(w, w2, 1.0, 0.5)
    x = rng.normal(size=(20000, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = rng.choice([-0.5, 0.5], 20000)
    sampled = np.abs((x @ w - y) ** 2 - (x @ w2 - y) ** 2).max()
    assert sampled <= sup * (1 + 1e-9) and sampled > 0.9 * sup


def test_binary32_solve_and_evaluation_bounds_hold():
    x, y, xh, yh = _data(seed=2)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    w = st.ridge(x32, y32, 0.05)                               # float64 reference on the float32 data
    w32 = st.ridge(x32, y32, 0.05, np.float32)
    err = st.solve_error_bound(x32, y32, 0.05, w32)
    assert np.linalg.norm(w32 - w) <= err < 1e-3
    assert st.solve_error_bound(x32, y32, 0.05, w32 + 1e-3) > 1e-3 * 0.9   # a wrong solution is not hidden
    E = st.evaluation_error(w32.astype(np.float64), 1.0, 1.0)
    z = np.concatenate([xh, yh[:, None]], 1).astype(np.float32)
    exact = (z[:, :-1].astype(np.float64) @ w32.astype(np.float64) - z[:, -1]) ** 2
    assert np.abs(st.binary32_loss(w32.astype(np.float64), z) - exact).max() <= E


def test_binary32_replace_one_changes_stay_within_the_float_bound():
    x, y, xh, yh = (a.astype(np.float32).astype(np.float64) for a in _data(n=40, seed=3))
    r = st.measure_binary32(x, y, xh, yh, lam=0.05, random=2)
    assert r.holds and 0 < r.measured <= r.bound
    assert r.bound_real < r.bound < r.bound_real * (1 + 1e-3)    # the float terms are small but counted
    assert 0 < r.solve_error < 1e-3 and 0 < r.evaluation_error < 1e-3
    with pytest.raises(CertnnError, match="binary32 numbers"):
        st.measure_binary32(x + 1e-9, y, xh, yh, lam=0.05, random=1)
