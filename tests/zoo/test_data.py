"""The zoo's generated and offline data: the Burgers solver against the exact
Cole-Hopf solution, the stdlib corpus (deterministic, split by file, baselines
ordered), the addition task's encoding."""

import numpy as np
import pytest

from certnn.zoo import adder, burgers, text


def test_burgers_solver_matches_cole_hopf():
    rng = np.random.default_rng(0)
    u0 = burgers.random_initial(4, 256, rng)
    assert np.allclose(u0.mean(axis=1), 0, atol=1e-12)
    for nu in (0.1, 0.02):
        exact = burgers.cole_hopf(u0, nu, 1.0)
        got = burgers.solve(u0, nu)
        assert np.max(np.abs(got - exact)) <= 1e-7 * np.max(np.abs(exact)), nu
    # and at an intermediate time the steepening is real: nonlinearity matters at nu = 0.02
    heat = np.fft.irfft(np.fft.rfft(u0) * np.exp(-0.02 * (2 * np.pi * np.fft.rfftfreq(256, 1 / 256)) ** 2),
                        n=256)
    assert np.max(np.abs(burgers.cole_hopf(u0, 0.02, 1.0) - heat)) > 0.05 * np.max(np.abs(heat))


def test_cole_hopf_refuses_nonzero_mean():
    with pytest.raises(ValueError, match="zero-mean"):
        burgers.cole_hopf(np.ones((1, 16)), 0.1, 1.0)


def test_dataset_subsamples_one_fine_solution():
    u0, u1 = burgers.dataset(3, 64, seed=1, fine=128)
    assert u0.shape == u1.shape == (3, 64) and u0.dtype == np.float32
    v0, _ = burgers.dataset(3, 128, seed=1, fine=128)
    assert np.array_equal(u0, v0[:, ::2])


def test_corpus_is_deterministic_and_split_by_file():
    a, b = text.stdlib_corpus(), text.stdlib_corpus()
    assert a.sha256 == b.sha256 and np.array_equal(a.val, b.val) and a.files > 50
    assert a.train.size > 5 * a.val.size > 0
    assert a.decode(a.encode("def f(x):\n    return x")) == "def f(x):\n    return x"
    assert a.decode(a.encode("é")) == "?"
    uni = text.ngram_bits_per_char(a, 1, limit=50_000)
    bi = text.ngram_bits_per_char(a, 2, limit=50_000)
    assert 3.0 < bi < uni < np.log2(a.vocab_size)


def test_random_windows_are_next_token_pairs():
    tokens = np.arange(100)
    x, y = text.random_windows(tokens, 4, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8) and np.array_equal(y, x + 1)


def test_addition_sequences():
    rows = adder.encode_pairs(np.array([12, 99, 0]), np.array([34, 99, 5]))
    assert rows.tolist() == [[1, 2, 3, 4, 6, 4, 0], [9, 9, 9, 9, 8, 9, 1], [0, 0, 0, 5, 5, 0, 0]]
    x, y = adder.inputs_targets(rows)
    assert (y[:, :3] == -100).all() and np.array_equal(y[:, 3:], rows[:, 4:])
