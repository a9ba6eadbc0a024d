"""Data for the 1-D Burgers FNO: a pseudo-spectral solver and the exact Cole-Hopf
solution it is validated against.

    u_t + (u^2 / 2)_x = nu u_xx    on the periodic interval [0, 1)

Initial conditions are Gaussian random fields with zero mean, as in the FNO
paper: Fourier coefficients of N(0, 625 (-Delta + 25 I)^-2), i.e. amplitude
25 (4 pi^2 k^2 + 25)^-1 per mode k. The learning task is u(., 0) -> u(., 1).

Solver (``solve``): Fourier collocation on a fine grid, the 2/3 rule against
aliasing, the diffusion integrated exactly (integrating factor) and the
nonlinear term by classical RK4 in time (``IFRK4``), with a time step below
the advective CFL limit. Rows are independent, so a whole data set is one
vectorised solve.

Exact solution (``cole_hopf``): with phi_0 = exp(-U_0 / (2 nu)), U_0 the zero-
mean antiderivative of u_0 (periodic because u_0 has zero mean), phi solves the
heat equation phi_t = nu phi_xx exactly in Fourier space and
u = -2 nu phi_x / phi. On a grid fine enough to resolve phi this is exact to
rounding; the tests compare the solver with it.
"""

from __future__ import annotations

import numpy as np


def random_initial(n_samples: int, resolution: int, rng: np.random.Generator, modes: int | None = None) -> np.ndarray:
    """(n_samples, resolution) zero-mean Gaussian random fields on [0, 1)."""
    modes = modes or resolution // 2
    k = np.arange(1, modes + 1)
    amp = 25.0 / (4 * np.pi ** 2 * k ** 2 + 25.0)
    coef = np.zeros((n_samples, resolution // 2 + 1), complex)
    z = rng.standard_normal((n_samples, modes)) + 1j * rng.standard_normal((n_samples, modes))
    coef[:, 1:modes + 1] = amp * z / np.sqrt(2)
    return np.fft.irfft(coef, n=resolution) * resolution


def _k(n: int) -> np.ndarray:
    return 2j * np.pi * np.fft.rfftfreq(n, d=1.0 / n)


def solve(u0: np.ndarray, nu: float, t_end: float = 1.0, dt: float | None = None) -> np.ndarray:
    """u(., t_end) for initial rows u0 (n_samples, n), pseudo-spectral IFRK4."""
    n = u0.shape[-1]
    ik = _k(n)
    dealias = np.abs(np.fft.rfftfreq(n, d=1.0 / n)) < n / 3
    # advective CFL: the largest kept wavenumber 2 pi n/3 times max |u| times dt stays
    # below 2, inside RK4's stability interval on the imaginary axis (|z| < 2.8)
    dt = dt or min(1e-3, 2.0 / (2 * np.pi * n / 3 * max(np.abs(u0).max(), 1.0)))
    steps = int(np.ceil(t_end / dt))
    dt = t_end / steps
    lin = nu * ik ** 2                                  # -nu (2 pi k)^2
    e_half, e_full = np.exp(lin * dt / 2), np.exp(lin * dt)

    def nonlinear(v):
        u = np.fft.irfft(v * dealias, n=n)
        return -0.5 * ik * np.fft.rfft(u * u)

    v = np.fft.rfft(u0)
    for _ in range(steps):
        a = dt * nonlinear(v)
        b = dt * nonlinear(e_half * (v + a / 2))
        c = dt * nonlinear(e_half * v + b / 2)
        d = dt * nonlinear(e_full * v + e_half * c)
        v = e_full * v + (e_full * a + 2 * e_half * (b + c) + d) / 6
    return np.fft.irfft(v, n=n)


def cole_hopf(u0: np.ndarray, nu: float, t: float) -> np.ndarray:
    """The exact Burgers solution at time t for zero-mean periodic rows u0."""
    n = u0.shape[-1]
    ik = _k(n)
    c = np.fft.rfft(u0)
    if np.max(np.abs(c[..., 0])) > 1e-9 * n * max(np.abs(u0).max(), 1.0):
        raise ValueError("cole_hopf needs zero-mean initial data (periodic antiderivative)")
    U = np.fft.irfft(np.where(ik == 0, 0, c / np.where(ik == 0, 1, ik)), n=n)
    shift = U.max(axis=-1, keepdims=True)               # exp(-(U - max)/(2 nu)) <= 1 before it can overflow
    phi = np.fft.rfft(np.exp(-(U - shift) / (2 * nu)))
    phi_t = phi * np.exp(nu * ik ** 2 * t)
    return -2 * nu * np.fft.irfft(ik * phi_t, n=n) / np.fft.irfft(phi_t, n=n)


def dataset(n_samples: int, resolution: int, nu: float = 0.1, seed: int = 0, fine: int = 512):
    """(u0, u1) pairs at ``resolution``, solved on ``fine`` points and subsampled."""
    rng = np.random.default_rng(seed)
    u0 = random_initial(n_samples, fine, rng)
    u1 = solve(u0, nu)
    step = fine // resolution
    return u0[:, ::step].astype(np.float32), u1[:, ::step].astype(np.float32)
