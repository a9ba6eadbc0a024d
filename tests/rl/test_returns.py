"""TD targets and GAE: termination vs truncation, the lambda = 1 identity in exact arithmetic,
and the float32 error bounds of both computations."""

from fractions import Fraction as Q

import numpy as np
import pytest

from certnn import run
from certnn.rl.float_bounds import bound, gae_graph, gae_inputs, td_target_graph, td_target_inputs
from certnn.rl.policies import network
from certnn.rl.returns import gae, td_target
from certnn.tensor import Tensor, no_grad


def test_td_target_bootstraps_truncation_not_termination():
    r = np.array([1.0, 1.0, 1.0], np.float32)
    v_next = np.array([10.0, 10.0, 10.0], np.float32)
    # step 0 terminated (no bootstrap), step 1 truncated by a time limit (stored as not terminated), step 2 neither
    y = td_target(r, v_next, np.array([True, False, False]), 0.5)
    assert y.tolist() == [1.0, 6.0, 6.0] and y.dtype == np.float32


def test_gae_termination_and_truncation_by_hand():
    # one environment, 4 steps: episode A ends by termination at t=1, episode B is cut by truncation at t=3
    r = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    v = np.array([[0.5], [0.25], [1.0], [2.0]], np.float32)
    v_next = np.array([[0.25], [99.0], [2.0], [8.0]], np.float32)    # 99: the terminal observation's value
    term = np.array([[False], [True], [False], [False]])
    trunc = np.array([[False], [False], [False], [True]])
    g, lam = 0.5, 0.5
    adv, ret = gae(r, v, v_next, term, trunc, g, lam)
    d3 = 4 + g * 8 - 2          # truncated: bootstraps from the final observation's value 8
    d2 = 3 + g * 2 - 1
    d1 = 2 - 0.25               # terminated: no bootstrap, and the 99 is never used
    d0 = 1 + g * 0.25 - 0.5
    want = [d0 + g * lam * d1, d1, d2 + g * lam * d3, d3]   # no accumulation across the episode boundary
    assert np.allclose(adv[:, 0], want, rtol=1e-6)
    assert np.allclose(ret, adv + v)


def test_gae_lambda_one_is_discounted_return_minus_value_exactly():
    rng = np.random.default_rng(1)
    for T in (1, 5, 17):
        r = np.array([Q(int(x), 3) for x in rng.integers(-9, 9, T)], dtype=object)
        v = np.array([Q(int(x), 7) for x in rng.integers(-9, 9, T + 1)], dtype=object)
        g = Q(97, 100)
        adv, ret = gae(r, v[:-1], v[1:], np.zeros(T, bool), np.zeros(T, bool), g, Q(1))
        for t in range(T):
            G = sum(g ** k * r[t + k] for k in range(T - t)) + g ** (T - t) * v[T]
            assert adv[t] == G - v[t] and ret[t] == G
    # lambda < 1 breaks the identity (the test can fail)
    adv, _ = gae(r, v[:-1], v[1:], np.zeros(T, bool), np.zeros(T, bool), g, Q(1, 2))
    assert adv[0] != sum(g ** k * r[k] for k in range(T)) + g ** T * v[T] - v[0]


def test_gae_float32_equals_its_graph_in_binary32_and_is_within_the_bound():
    rng = np.random.default_rng(0)
    T, N = 12, 4
    r, v, vn = (rng.normal(size=(T, N)).astype(np.float32) for _ in range(3))
    te, tr = rng.random((T, N)) < 0.15, rng.random((T, N)) < 0.15
    adv, _ = gae(r, v, vn, te, tr, 0.99, 0.95)
    g = gae_graph(T, 0.99, 0.95)
    x = gae_inputs(r, v, vn, te, tr)
    b32 = run(g, x, "binary32")
    assert np.array_equal(b32, adv.T)              # the trainer's float32 GAE is the bounded computation
    real = run(g, x.astype(np.float64), "real")
    fb = bound(g, x)
    assert fb.evidence == "checked" and np.all(np.abs(b32 - real) <= fb.bound)
    assert fb.bound.max() < 1e-4
    # a box of inputs: rewards within +-1 of the batch; the bound covers every rollout in it
    lo, hi = x.copy(), x.copy()
    lo[:, :T] -= 1
    hi[:, :T] += 1
    box = bound(g, lo, hi)
    assert np.all(box.bound >= fb.bound) and np.all(box.lo <= real) and np.all(real <= box.hi)


@pytest.mark.parametrize("double", [False, True])
def test_td_target_error_bound_covers_blas_and_binary32(double):
    rng = np.random.default_rng(0)
    q, q_online = network(4, (32, 32), 2), network(4, (32, 32), 2)
    s, r = rng.normal(size=(64, 4)).astype(np.float32), rng.normal(size=64).astype(np.float32)
    term = rng.random(64) < 0.3
    with no_grad():
        qn = q(Tensor(s)).data
        a = np.argmax(q_online(Tensor(s)).data if double else qn, axis=1)
    y = td_target(r, qn[np.arange(64), a], term, 0.99)           # what the trainer computes (BLAS)
    g = td_target_graph(q, 4, 2, 0.99)
    x = td_target_inputs(r, term, s, a, 2)
    real = run(g, x.astype(np.float64), "real")
    b32 = run(g, x, "binary32")
    any_order, seq = bound(g, x, order="any"), bound(g, x)
    assert np.all(np.abs(y - real) <= any_order.bound)
    assert np.all(np.abs(b32 - real) <= seq.bound)
    assert np.all(seq.bound <= any_order.bound)
    # terminated rows are exactly the reward; their bound is at most one rounding of it
    assert np.array_equal(b32[term], r[term]) and np.all(seq.bound[term] <= 2.0 ** -23 * np.abs(r[term]))
