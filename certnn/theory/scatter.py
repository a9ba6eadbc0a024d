"""Data-independent image features for DP-SGD: the wavelet scattering transform
(ScatterNet) of Tramer & Boneh, "Differentially Private Learning Needs Better
Features (or Much More Data)", ICLR 2021.

For a 28 x 28 image x, Kymatio's ``Scattering2D(J=2, L=8)`` computes

* order 0: phi_J * x, the low-pass average (a Gaussian window of width ~2^J),
* order 1: |x * psi_{j,l}| * phi_J for scales j < J and L = 8 orientations,
* order 2: ||x * psi_{j1,l1}| * psi_{j2,l2}| * phi_J for j1 < j2 < J,

each subsampled by 2^J: 1 + J L + L^2 J (J - 1) / 2 = 81 channels of 7 x 7. The
filters are fixed Morlet wavelets, so the map is the same whatever the data:
computing it costs no privacy, and DP-SGD trains only what follows.

What follows is :func:`group_normalise`, the per-example group normalisation of
the paper (PyTorch's ``GroupNorm(G, 81, affine=False)``): each example's
channels are split into G groups and every group is shifted and scaled by its
own mean and standard deviation. It reads one example only, so it too is a fixed
per-example map (the paper's other option, normalising by data-set statistics,
would have to be paid for in privacy; it is not offered). Then a linear
classifier on the 3,969 normalised features is trained with DP-SGD.

The features of an MNIST split are computed once and cached in the user cache
(``$XDG_CACHE_HOME/certnn/scatter``), keyed by the SHA-256 of the images and the
transform's settings; never in the repository, and loaded without pickle.

Kymatio 0.3.0's top-level ``kymatio.numpy`` also imports its 3-D transform,
which needs ``scipy.special.sph_harm`` (removed in SciPy 1.15); the 2-D NumPy
frontend is imported directly, which does not.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import atomic_write

ASSUMPTIONS = {
    "dp-fixed-features": (
        "The ScatterNet features and their group normalisation are a fixed map applied to each example alone "
        "(Kymatio builds its Morlet filters from J, L and the image shape only; each example is normalised by its "
        "own mean and deviation), chosen before any data is seen, so DP-SGD on the features has the privacy of "
        "DP-SGD on the images: the same epsilon."),
    "dp-hyperparameters-not-accounted": (
        "Hyper-parameters chosen by looking at the private training data (the scatter recipe's learning rate, "
        "picked on a 50,000/10,000 split of the MNIST training set) are not charged to epsilon, as in the papers "
        "compared with; strictly, such a selection leaks a little (Papernot & Steinke 2022)."),
}
FEATURE_ASSUMPTIONS = tuple(ASSUMPTIONS)

J, L, SHAPE = 2, 8, (28, 28)
CHANNELS = 1 + J * L + L * L * J * (J - 1) // 2          # 81
GROUPS = 27                                             # 3 channels per group


def scattering(shape=SHAPE, j: int = J, orientations: int = L):
    try:
        from kymatio.scattering2d.frontend.numpy_frontend import ScatteringNumPy2D
    except ImportError as e:
        raise CertnnError(f"ScatterNet features need kymatio (pip install 'certnn[dp]'): {e}") from e
    return ScatteringNumPy2D(J=j, shape=shape, L=orientations)


def scatter_features(images: np.ndarray, batch: int = 1000, progress=None) -> np.ndarray:
    """(N, 28, 28) images -> (N, 81, 7, 7) float32 scattering coefficients."""
    images = np.asarray(images, np.float32).reshape((-1,) + SHAPE)
    s = scattering()
    out = np.empty((len(images), CHANNELS, SHAPE[0] >> J, SHAPE[1] >> J), np.float32)
    for i in range(0, len(images), batch):
        out[i:i + batch] = s(images[i:i + batch])
        if progress:
            progress(min(i + batch, len(images)))
    return out


def group_normalise(features: np.ndarray, groups: int = GROUPS, eps: float = 1e-5) -> np.ndarray:
    """Per-example group normalisation: (N, C, H, W) -> (N, C*H*W), each example's
    channels in ``groups`` consecutive groups, every group shifted to mean 0 and
    divided by sqrt(var + eps) (its own statistics, biased variance)."""
    n, c = features.shape[:2]
    if groups < 1 or c % groups:
        raise CertnnError(f"--groups must divide the {c} scattering channels, got {groups}")
    out = np.empty((n, features[0].size), np.float32)
    for i in range(0, n, 4096):                         # in float64, a slice at a time
        g = features[i:i + 4096].reshape(-1, groups, features[0].size // groups).astype(np.float64)
        g = (g - g.mean(axis=2, keepdims=True)) / np.sqrt(g.var(axis=2, keepdims=True) + eps)
        out[i:i + 4096] = g.reshape(len(g), -1)
    return out


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "certnn" / "scatter"


def cached_scatter_features(images: np.ndarray, progress=None) -> np.ndarray:
    """:func:`scatter_features` of ``images``, from the cache when computed before."""
    import kymatio
    images = np.ascontiguousarray(images, np.float32)
    key = hashlib.sha256(images.tobytes() + f"J{J}L{L}kymatio{kymatio.__version__}".encode()).hexdigest()[:24]
    path = cache_dir() / f"{key}.npy"
    if path.exists():
        f = np.load(path, allow_pickle=False)
        if f.shape == (len(images), CHANNELS, SHAPE[0] >> J, SHAPE[1] >> J):
            return f
    f = scatter_features(images, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        np.save(fh, f, allow_pickle=False)
    return f
