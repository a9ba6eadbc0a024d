"""rfft / irfft: numpy's FFT on every path (DFT matrix product for few modes, FFT
otherwise), inverse of each other, truncation = zeroed high modes; the binary32
rule is the matrix product with correctly rounded coefficients."""

import mpmath
import numpy as np
import pytest
import sympy

from certnn.floats import b32
from certnn.ops import fft, get_op

RFFT, IRFFT = get_op("rfft"), get_op("irfft")


@pytest.mark.parametrize("n, modes", [(8, None), (7, 3), (64, 16), (100, None), (100, 40)])
def test_rfft_equals_numpy(n, modes):
    x = np.random.default_rng(n).normal(size=(3, n, 2))
    z = RFFT.real(x, axis=1, modes=modes)
    want = np.fft.rfft(x, axis=1)[:, :modes or n // 2 + 1]
    np.testing.assert_allclose(z[..., 0] + 1j * z[..., 1], want, atol=1e-12 * n)


@pytest.mark.parametrize("n, m", [(8, 5), (9, 5), (64, 16), (100, 51), (100, 40)])
def test_irfft_equals_numpy_and_inverts_rfft(n, m):
    rng = np.random.default_rng(n + m)
    z = rng.normal(size=(2, m, 2))
    y = IRFFT.real(z, n=n)
    np.testing.assert_allclose(y, np.fft.irfft(z[..., 0] + 1j * z[..., 1], n=n), atol=1e-12)
    x = rng.normal(size=(2, n))
    np.testing.assert_allclose(IRFFT.real(RFFT.real(x), n=n), x, atol=1e-12)


def test_truncated_modes_are_zeroed_high_modes():
    x = np.random.default_rng(3).normal(size=(2, 32))
    z = RFFT.real(x, modes=5)
    full = RFFT.real(x)
    full[:, 5:] = 0
    np.testing.assert_allclose(IRFFT.real(z, n=32), IRFFT.real(full, n=32), atol=1e-13)


def test_matrix_and_fft_paths_agree(monkeypatch):
    rng = np.random.default_rng(4)
    x, z, g = rng.normal(size=(2, 40, 3)), rng.normal(size=(2, 12, 3, 2)), rng.normal(size=(2, 12, 3, 2))
    a = (RFFT.real(x, axis=1, modes=12), IRFFT.real(z, n=40, axis=1), RFFT.vjp(g, None, x, axis=1, modes=12)[0],
         IRFFT.vjp(x, None, z, n=40, axis=1)[0])
    monkeypatch.setattr(fft, "MATMUL_MODES", 0)
    b = (RFFT.real(x, axis=1, modes=12), IRFFT.real(z, n=40, axis=1), RFFT.vjp(g, None, x, axis=1, modes=12)[0],
         IRFFT.vjp(x, None, z, n=40, axis=1)[0])
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, atol=1e-12)


@pytest.mark.parametrize("n", [6, 7, 12])
def test_binary32_coefficients_are_correctly_rounded(n):
    """Against sympy's exact cos / sin (special angles exact) at 60 digits: the
    float64 bounds enclose, the binary32 value is the nearest, the error bound holds."""
    m = n // 2 + 1
    _, w32, lo, hi, err = fft._matrix(n, m, False)
    with mpmath.workdps(60):
        for t in range(n):
            for k in range(m):
                angle = 2 * sympy.pi * sympy.Rational((k * t) % n, n)
                for part, f in ((0, sympy.cos), (1, lambda v: -sympy.sin(v))):
                    exact = mpmath.mpf(sympy.N(f(angle), 60))
                    j = (t, 2 * k + part)
                    assert mpmath.mpf(float(lo[j])) <= exact <= mpmath.mpf(float(hi[j]))
                    v = mpmath.mpf(float(w32[j]))
                    for nb in (np.nextafter(w32[j], np.float32(-2)), np.nextafter(w32[j], np.float32(2))):
                        assert abs(v - exact) <= abs(mpmath.mpf(float(nb)) - exact)    # nearest binary32
                    assert abs(v - exact) <= err[j]


@pytest.mark.parametrize("order", b32.ORDERS)
def test_binary32_is_the_matrix_product(order):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 10)).astype(np.float32)
    _, w32, *_ = fft._matrix(10, 4, False)
    want = b32.matmul2d(x, w32, order).reshape(3, 4, 2)
    assert np.array_equal(RFFT.binary32(x, modes=4, order=order), want)
    z = rng.normal(size=(3, 4, 2)).astype(np.float32)
    _, v32, *_ = fft._matrix(10, 4, True)
    assert np.array_equal(IRFFT.binary32(z, n=10, order=order), b32.matmul2d(z.reshape(3, 8), v32, order))
