"""The contraction error bounds hold against exact arithmetic, including
adversarial cancellation, and the running bound beats the gamma_n bound."""

import math

import numpy as np
import pytest

from certnn.floats.b32 import matmul2d
from certnn.floats.error_bounds import any_order_dot_error, gamma, sequential_dot_error


def _exact(x, w, b):
    # float32 * float32 is exact in float64; fsum gives the correctly rounded exact sum
    return np.array([[math.fsum(list(x64 * w64) + ([float(b[r])] if b is not None else []))
                      for r, w64 in enumerate(w.astype(np.float64))]
                     for x64 in x.astype(np.float64)])


@pytest.mark.parametrize("seed", range(6))
def test_sequential_bound_holds_at_points(seed):
    rng = np.random.default_rng(seed)
    K = [7, 64, 300, 784, 33, 1000][seed]
    x = rng.standard_normal((5, K)).astype(np.float32) * np.float32(10.0 ** rng.integers(-3, 3))
    w = rng.standard_normal((4, K)).astype(np.float32)
    if seed % 2:  # adversarial: huge cancelling terms, so partial sums are big and the result small
        x[:, ::2] *= 1e6
        w[:, 1::2] = -w[:, ::2][:, : w[:, 1::2].shape[1]]
        x[:, 1::2] = x[:, ::2][:, : x[:, 1::2].shape[1]]
    b = rng.standard_normal(4).astype(np.float32)
    y = matmul2d(x, w.T, order="sequential", backend="numpy") + b
    exact = _exact(x, w, b)
    x64 = x.astype(np.float64)
    bound = sequential_dot_error(w, x64, x64, b)
    err = np.abs(y.astype(np.float64) - exact)
    assert np.all(err <= bound * (1 + 1e-12) + 1e-300), (err / bound).max()
    assert np.all(err <= any_order_dot_error(w, x64, x64, b))


def test_bound_over_box_covers_all_points():
    rng = np.random.default_rng(9)
    K = 50
    lo = rng.standard_normal((1, K))
    hi = lo + 0.3
    w = rng.standard_normal((3, K)).astype(np.float32)
    bound = sequential_dot_error(w, lo, hi)
    for _ in range(200):
        x = rng.uniform(lo, hi).astype(np.float32)
        y = matmul2d(x, w.T, order="sequential", backend="numpy")
        assert np.all(np.abs(y - _exact(x, w, None)) <= bound)


def test_running_bound_is_tighter_than_gamma_for_mixed_signs():
    rng = np.random.default_rng(1)
    x = rng.random((1, 784))
    w = rng.standard_normal((10, 784)).astype(np.float32)
    run = sequential_dot_error(w, x, x)
    textbook = gamma(784) * (x @ np.abs(w.astype(np.float64)).T)
    assert np.all(run < textbook / 5)


@pytest.mark.parametrize("seed", range(4))
def test_zero_terms_do_not_round_and_the_bounds_hold_on_sparse_inputs(seed):
    """Steps whose term is exactly 0 on the box add nothing and round nothing; the
    bounds count only the others (MNIST background, inactive relus), and still
    hold against exact arithmetic, in the sequential kernel and in other orders."""
    rng = np.random.default_rng(seed)
    K = [784, 128, 300, 50][seed]
    x = rng.random((6, K)).astype(np.float32) * np.float32(4.0)
    x[rng.random((6, K)) < 0.8] = 0.0
    x[0, :] = 0.0                                       # an all-zero row: exact 0
    x[1, :] = 0.0
    x[1, K // 2] = np.float32(3.0)                      # one term: only the product rounds
    if seed % 2:
        x[2:, ::2] *= np.float32(1e5)                   # cancellation among the nonzero terms
    w = rng.standard_normal((5, K)).astype(np.float32)
    x64 = x.astype(np.float64)
    exact = _exact(x, w, None)
    seq = sequential_dot_error(w, x64, x64)
    anyo = any_order_dot_error(w, x64, x64)
    for y in (matmul2d(x, w.T, order="sequential", backend="numpy"),
              matmul2d(x, w.T, order="pairwise", backend="numpy"),
              (x @ w.T)):                              # BLAS: some other order
        err = np.abs(np.asarray(y, np.float64) - exact)
        assert np.all(err <= anyo), (err / anyo).max()
    err = np.abs(matmul2d(x, w.T, order="sequential", backend="numpy").astype(np.float64) - exact)
    assert np.all(err <= seq * (1 + 1e-12) + 1e-300)
    # the same boxes with the zeros widened to [0, 1e-30] (so they may round) give larger bounds
    hi = np.where(x64 == 0, 1e-30, x64)
    assert np.all(sequential_dot_error(w, x64, hi)[2:] > seq[2:])
    assert np.all(any_order_dot_error(w, x64, hi)[2:] > anyo[2:])
    assert np.all(seq[0] <= 784 * 2.0 ** -149 * 2)      # nothing rounds but possible underflow slack
