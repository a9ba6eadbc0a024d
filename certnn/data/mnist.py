"""MNIST: find, (optionally) download, decode and check the four IDX files.

Where the files are looked for, in order (the first folder holding all four,
each raw or ``.gz``, wins):

1. ``data_dir`` when given (the folder itself, then ``data_dir/mnist``);
   nothing else is searched then;
2. ``$CERTNN_DATA`` and ``$CERTNN_DATA/mnist``;
3. the user cache, ``$XDG_CACHE_HOME/certnn/mnist`` (default ``~/.cache/certnn/mnist``).

With ``download=True`` the missing files are fetched from :data:`MIRRORS` into
``data_dir`` (when given) or the user cache, each checked against a known
SHA-256 before it is (atomically) put in place. Nothing is cached as pickle.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError
from ..io import GZIP_MAGIC, atomic_write, data_root, gunzip
from .idx import read_idx

SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILES = tuple(name for pair in SPLITS.values() for name in pair)

#: SHA-256 of the four ``.gz`` files (as in the shared copy's SHA256SUMS).
GZ_SHA256 = {
    "train-images-idx3-ubyte": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "train-labels-idx1-ubyte": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "t10k-images-idx3-ubyte": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "t10k-labels-idx1-ubyte": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
}
#: SHA-256 of the decompressed files. A mirror may gzip the same bytes
#: differently (the original LeCun ``.gz`` files differ from the shared copy's),
#: so a download is accepted when either digest matches.
RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def cache_dir() -> Path:
    """The user cache folder for MNIST, honouring ``XDG_CACHE_HOME``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "certnn" / "mnist"


def _candidates(data_dir) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir), Path(data_dir) / "mnist"]
    root = data_root()
    return [root, root / "mnist", cache_dir()]


def _find(folder: Path, name: str) -> Path | None:
    """The raw file when present, else the ``.gz`` one, else None. Anything by that
    name counts as present (a folder or a device too): reading it then says what is
    wrong with it, rather than a download replacing it silently."""
    for p in (folder / name, folder / f"{name}.gz"):
        if p.exists() or p.is_symlink():
            return p
    return None


def _missing(folder: Path) -> list[str]:
    return [n for n in FILES if _find(folder, n) is None]


def locate_mnist(data_dir=None, download: bool = False, *, mirrors=MIRRORS,
                 fetch: Callable | None = None, progress: bool = True) -> Path:
    """The folder holding all four MNIST files (see the module doc for the search order).

    When none has them and ``download`` is true, the missing files are downloaded
    (``mirrors``, ``fetch`` and ``progress`` are passed to :func:`download_mnist`).
    Raises :class:`DataError` listing where it looked otherwise.
    """
    candidates = _candidates(data_dir)
    for folder in candidates:
        if not _missing(folder):
            return folder
    if download:
        target = Path(data_dir) if data_dir is not None else cache_dir()
        partial = next((c for c in candidates if c.is_dir() and len(_missing(c)) < len(FILES)), None)
        try:
            download_mnist(target, mirrors=mirrors, fetch=fetch, progress=progress)
        except DataError as e:
            if partial is None:
                raise
            raise DataError(f"{partial}: MNIST folder lacks {', '.join(_missing(partial))} (raw or .gz), and "
                            f"downloading failed: {e}") from None
        return target
    looked = "; ".join(f"{c} (missing {', '.join(_missing(c))})" if c.is_dir() else f"{c} (no such folder)"
                       for c in candidates)
    raise DataError(f"MNIST not found. Looked in: {looked}. Pass a data folder, set CERTNN_DATA, "
                    f"or download it (download=True).")


# ---- download ------------------------------------------------------------------

def fetch_url(url: str, out, progress: Callable[[int, int | None], None] | None = None,
              timeout: float = 60.0) -> None:
    """Copy ``url`` (http(s) or file://) into the binary file ``out``.

    ``progress(done_bytes, total_bytes_or_None)`` is called after each chunk.
    """
    with urllib.request.urlopen(url, timeout=timeout) as r:
        total = r.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        done = 0
        while chunk := r.read(1 << 16):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)


def _verify(data: bytes, name: str) -> str | None:
    """None when ``data`` are the known bytes of ``name``(.gz), else what is wrong."""
    digest = hashlib.sha256(data).hexdigest()
    if digest == GZ_SHA256[name]:
        return None
    try:
        if hashlib.sha256(gunzip(data, f"{name}.gz", "download", DataError)).hexdigest() == RAW_SHA256[name]:
            return None
    except DataError as e:
        return str(e)
    return f"SHA-256 mismatch: got {digest}, expected {GZ_SHA256[name]} (or decompressed {RAW_SHA256[name]})"


def download_mnist(dest, *, mirrors=MIRRORS, fetch: Callable | None = None,
                   progress: bool = True) -> Path:
    """Download the MNIST files missing from ``dest`` as ``<name>.gz``, verifying each.

    Each file is tried on every mirror in turn and written (atomically) only once
    its SHA-256 is right, of the ``.gz`` file or of its decompressed content.
    ``fetch(url, out, progress)`` defaults to :func:`fetch_url` (tests pass their
    own). Raises :class:`DataError` listing each mirror's failure when none works.
    """
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TransferSpeedColumn)

    dest = Path(dest)
    fetch = fetch or fetch_url
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), console=Console(stderr=True), disable=not progress)
    with bar:
        for name in _missing(dest):
            errors = []
            for mirror in mirrors:
                url = f"{mirror.rstrip('/')}/{name}.gz"
                task = bar.add_task(f"{name}.gz", total=None)
                buf = io.BytesIO()
                try:
                    fetch(url, buf, lambda done, total, t=task: bar.update(t, completed=done, total=total))
                    problem = _verify(buf.getvalue(), name)
                except Exception as e:  # noqa: BLE001  (any failure: try the next mirror)
                    problem = f"{type(e).__name__}: {e}"
                if problem is None:
                    data = buf.getvalue()  # a mirror serving it uncompressed is fine too
                    target = dest / (f"{name}.gz" if data[:2] == GZIP_MAGIC else name)
                    with atomic_write(target, "wb") as out:
                        out.write(data)
                    break
                bar.remove_task(task)
                errors.append(f"{url}: {problem}")
            else:
                raise DataError(f"could not download {name}.gz into {dest}: "
                                + ("; ".join(errors) or "no mirrors given"))
    return dest


# ---- loading -------------------------------------------------------------------

def load_mnist(data_dir=None, split: str = "train", download: bool = False):
    """``(images, labels)`` of one split: uint8 arrays of shapes (N, 28, 28) and (N,).

    Checks that the counts agree, the images are 28x28 and every label is < 10.
    """
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}; expected one of {sorted(SPLITS)}")
    folder = locate_mnist(data_dir, download=download)
    img_name, lab_name = SPLITS[split]
    img_path, lab_path = _find(folder, img_name), _find(folder, lab_name)
    images = read_idx(img_path, what="pixel data")
    labels = read_idx(lab_path, what="label data")
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: expected uint8 images of shape (N, 28, 28), "
                        f"found {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{lab_path}: expected uint8 labels of shape (N,), found {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{folder}: {split} split has {len(images)} images ({img_path.name}) "
                        f"but {len(labels)} labels ({lab_path.name})")
    if len(images) == 0:
        raise DataError(f"{img_path}: the {split} split holds no images")
    if labels.size and labels.max() >= 10:
        bad = int(np.argmax(labels >= 10))
        raise DataError(f"{lab_path}: label {int(labels[bad])} at index {bad} is not a digit (must be < 10)")
    return images, labels


def normalize(images) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1] (``x / 255``); float input in [0, 1] is returned as float32."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255)
    if x.dtype.kind == "f":
        if x.size and not (np.all(np.isfinite(x)) and x.min() >= 0 and x.max() <= 1):
            raise ValueError("normalize: float images must lie in [0, 1]")
        return x.astype(np.float32, copy=False)
    raise ValueError(f"normalize: expected uint8 or float images, got {x.dtype}")


def download_allowed() -> bool:
    """Missing MNIST files are downloaded (checksums verified) unless CERTNN_OFFLINE=1
    (the test suite sets it: tests never download)."""
    return os.environ.get("CERTNN_OFFLINE", "") not in ("1", "true", "yes")


def mnist_arrays(input_shape=(784,), data_dir=None, split: str = "train"):
    """(x, labels): images scaled to [0, 1] in the given per-example shape
    ((784,) for an MLP, (1, 28, 28) for a CNN) and int64 labels."""
    if math.prod(input_shape) != 28 * 28:
        raise DataError(f"the model takes inputs of shape {tuple(input_shape)}, but MNIST images have "
                        f"28 x 28 = 784 values")
    images, labels = load_mnist(data_dir, split, download=download_allowed())
    x = normalize(images).reshape((len(images),) + tuple(input_shape))
    return x, labels.astype(np.int64)
