"""Sample pictures as PNG files (matplotlib, written atomically): a grid of
images, or a scatter plot for 2-D samples."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..io import atomic_write


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (n, 784), (n, 28, 28) or (n, 1, 28, 28) images in [0, 1] into one array."""
    n = len(images)
    side = int(round(math.sqrt(images[0].size)))
    if side * side != images[0].size:
        raise CertnnError(f"cannot tile images of {images[0].size} pixels (not square)")
    imgs = np.clip(np.asarray(images, np.float64).reshape(n, side, side), 0.0, 1.0)
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = int(math.ceil(n / nrow))
    out = np.ones((ncol * (side + pad) + pad, nrow * (side + pad) + pad))
    for k, img in enumerate(imgs):
        r, c = divmod(k, nrow)
        out[pad + r * (side + pad):pad + r * (side + pad) + side, pad + c * (side + pad):pad + c * (side + pad) + side] = img
    return out


def save_samples(samples: np.ndarray, path, title: str = "", nrow: int | None = None) -> Path:
    """Write ``samples`` as a PNG: an image grid (``nrow`` images a row), or a
    scatter plot for (n, 2) points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise CertnnError(f"{path}: sample pictures are written as .png")
    samples = np.asarray(samples)
    if samples.ndim == 2 and samples.shape[1] == 2:
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5)
        ax.set_aspect("equal")
    else:
        grid = image_grid(samples, nrow)
        fig, ax = plt.subplots(figsize=(grid.shape[1] / 40, grid.shape[0] / 40))
        ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return path
