import gzip
import hashlib
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from certnn.data import mnist
from certnn.data.idx import read_bytes, write_idx
from certnn.data.mnist import (FILES, GZ_SHA256, RAW_SHA256, download_mnist, load_mnist,
                               locate_mnist, normalize)
from certnn.errors import DataError
from certnn.io import data_root

RAW_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


REAL_ROOT = data_root() if data_root().exists() else None
needs_real = pytest.mark.skipif(REAL_ROOT is None, reason="no MNIST copy (set CERTNN_DATA)")


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Tests never download: only file:// URLs may be opened; the user cache is a temp folder."""
    real_urlopen = urllib.request.urlopen

    def guarded(url, *a, **k):
        u = url if isinstance(url, str) else url.full_url
        if not u.startswith("file:"):
            raise AssertionError(f"test tried to open {u}")
        return real_urlopen(url, *a, **k)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("CERTNN_DATA", str(tmp_path / "no-data"))   # not the shared copy


def make_mnist(folder: Path, n_train=12, n_test=5, gz=True, labels=None):
    rng = np.random.default_rng(1)
    sfx = ".gz" if gz else ""
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labs = rng.integers(0, 10, n, dtype=np.uint8) if labels is None else labels
        write_idx(folder / f"{split}-images-idx3-ubyte{sfx}", imgs)
        write_idx(folder / f"{split}-labels-idx1-ubyte{sfx}", labs)
        data[split] = imgs, labs
    return data


# ---- locating --------------------------------------------------------------------

def test_explicit_dir_and_its_mnist_subfolder(tmp_path):
    make_mnist(tmp_path / "a")
    make_mnist(tmp_path / "b" / "mnist")
    assert locate_mnist(tmp_path / "a") == tmp_path / "a"
    assert locate_mnist(tmp_path / "b") == tmp_path / "b" / "mnist"


def test_explicit_dir_does_not_fall_back(tmp_path, monkeypatch):
    make_mnist(tmp_path / "env")
    monkeypatch.setenv("CERTNN_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError, match="MNIST not found") as e:
        locate_mnist(tmp_path / "elsewhere")
    assert str(tmp_path / "elsewhere") in str(e.value)


def test_env_var_then_cache(tmp_path, monkeypatch):
    cache = tmp_path / "xdg-cache" / "certnn" / "mnist"
    make_mnist(cache)
    assert locate_mnist() == cache
    make_mnist(tmp_path / "env" / "mnist")
    monkeypatch.setenv("CERTNN_DATA", str(tmp_path / "env"))
    assert locate_mnist() == tmp_path / "env" / "mnist"
    make_mnist(tmp_path / "env")
    assert locate_mnist() == tmp_path / "env"


def test_cache_defaults_to_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.cache_dir() == tmp_path / "home" / ".cache" / "certnn" / "mnist"


def test_not_found_lists_places_and_missing_files(tmp_path, monkeypatch):
    folder = tmp_path / "partial"
    make_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("CERTNN_DATA", str(folder))
    with pytest.raises(DataError) as e:
        locate_mnist()
    msg = str(e.value)
    assert f"{folder} (missing t10k-labels-idx1-ubyte)" in msg
    assert str(tmp_path / "xdg-cache" / "certnn" / "mnist") in msg
    assert "CERTNN_DATA" in msg


# ---- loading synthetic files ---------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_load_synthetic(tmp_path, gz):
    data = make_mnist(tmp_path, gz=gz)
    for split, key in (("train", "train"), ("test", "t10k")):
        x, y = load_mnist(tmp_path, split)
        assert x.dtype == np.uint8 and y.dtype == np.uint8
        np.testing.assert_array_equal(x, data[key][0])
        np.testing.assert_array_equal(y, data[key][1])


def test_unknown_split(tmp_path):
    make_mnist(tmp_path)
    with pytest.raises(DataError, match="unknown MNIST split 'val'"):
        load_mnist(tmp_path, "val")


def test_count_mismatch(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(DataError, match="12 images .* but 11 labels"):
        load_mnist(tmp_path)


def test_label_out_of_range(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 10, 3, 4], np.uint8))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: label 10 at index 2"):
        load_mnist(tmp_path, "test")


@pytest.mark.parametrize("bad", [np.zeros((12, 27, 28), np.uint8), np.zeros((12, 28 * 28), np.uint8),
                                 np.zeros((12, 28, 28), np.float32)])
def test_bad_image_shape_or_dtype(tmp_path, bad):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", bad)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: expected uint8 images of shape"):
        load_mnist(tmp_path)


def test_truncated_pixels_named(tmp_path):
    make_mnist(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:16 + 1234])
    with pytest.raises(DataError, match=r"truncated: expected 9408 bytes of pixel data .* found 1234") as e:
        load_mnist(tmp_path)
    assert str(p) in str(e.value)


def test_normalize():
    x = np.array([[0, 51, 255]], np.uint8)
    out = normalize(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0, 0.2, 1]], np.float32))
    assert normalize(out).dtype == np.float32
    with pytest.raises(ValueError):
        normalize(np.array([2.0]))
    with pytest.raises(ValueError):
        normalize(np.array([1, 2], np.int64))


# ---- download (never over the network) ------------------------------------------------

def _synthetic_fetch(payloads: dict[str, bytes], log: list):
    def fetch(url, out, progress=None):
        log.append(url)
        data = payloads[url.rsplit("/", 1)[1]]
        out.write(data)
        if progress:
            progress(len(data), len(data))
    return fetch


@pytest.fixture
def digests_for(monkeypatch):
    """Replace the known digests by those of synthetic files."""
    def install(gz_files: dict[str, bytes]):
        monkeypatch.setattr(mnist, "GZ_SHA256", {n[:-3]: hashlib.sha256(b).hexdigest()
                                                 for n, b in gz_files.items()})
        monkeypatch.setattr(mnist, "RAW_SHA256", {n[:-3]: hashlib.sha256(gzip.decompress(b)).hexdigest()
                                                  for n, b in gz_files.items()})
    return install


@pytest.fixture
def synthetic_gz(tmp_path):
    src = tmp_path / "src"
    make_mnist(src)
    return {p.name: p.read_bytes() for p in src.iterdir()}


def test_download_into_cache_with_fallback_mirror(tmp_path, synthetic_gz, digests_for):
    digests_for(synthetic_gz)
    log = []
    good = _synthetic_fetch(synthetic_gz, log)

    def fetch(url, out, progress=None):
        if url.startswith("https://bad"):
            log.append(url)
            out.write(b"<html>not found</html>")
            return
        good(url, out, progress)

    folder = locate_mnist(download=True, mirrors=["https://bad.example/", "https://good.example/mnist"],
                          fetch=fetch, progress=False)
    assert folder == tmp_path / "xdg-cache" / "certnn" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.gz" for n in FILES)  # no temp files
    assert len(log) == 8 and "https://good.example/mnist/train-images-idx3-ubyte.gz" in log
    x, y = load_mnist(split="train")
    assert x.shape == (12, 28, 28)
    # second call finds the files: no more fetching
    locate_mnist(download=True, fetch=None)
    assert len(log) == 8


def test_download_only_missing_files(tmp_path, synthetic_gz, digests_for):
    digests_for(synthetic_gz)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "train-images-idx3-ubyte.gz").write_bytes(synthetic_gz["train-images-idx3-ubyte.gz"])
    log = []
    download_mnist(dest, mirrors=["https://m/"], fetch=_synthetic_fetch(synthetic_gz, log), progress=False)
    assert len(log) == 3 and not any("train-images" in u for u in log)


def test_download_all_mirrors_bad(tmp_path, synthetic_gz, digests_for):
    digests_for(synthetic_gz)
    bad = {k: v[:-10] for k, v in synthetic_gz.items()}  # truncated gzip streams

    def broken(url, out, progress=None):
        raise OSError("connection refused")

    dest = tmp_path / "dest"
    with pytest.raises(DataError) as e:
        download_mnist(dest, mirrors=["https://a/", "https://b/"], progress=False,
                       fetch=lambda u, o, p=None: (broken if "//a/" in u else _synthetic_fetch(bad, []))(u, o, p))
    msg = str(e.value)
    assert "could not download" in msg and "https://a/" in msg and "connection refused" in msg
    assert "https://b/" in msg and "corrupt or truncated gzip" in msg
    assert not dest.exists() or list(dest.iterdir()) == []


def test_digest_mismatch_rejected(tmp_path, synthetic_gz, digests_for):
    digests_for(synthetic_gz)
    other = tmp_path / "other"
    make_mnist(other, n_train=3)  # valid files, wrong content
    payloads = {p.name: p.read_bytes() for p in other.iterdir()}
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        download_mnist(tmp_path / "dest", mirrors=["https://m/"], fetch=_synthetic_fetch(payloads, []),
                       progress=False)


@needs_real
def test_download_real_digests_via_file_url(tmp_path):
    """The hard-coded digests accept the shared copy, and also a differently gzipped one
    (real mirrors compress the same bytes differently)."""
    src = locate_mnist(REAL_ROOT)
    recompressed = tmp_path / "recompressed"
    recompressed.mkdir()
    for n in FILES:
        raw = read_bytes(next(p for p in (src / n, src / f"{n}.gz") if p.exists()))
        (recompressed / f"{n}.gz").write_bytes(gzip.compress(raw, compresslevel=1, mtime=0))
    dest = tmp_path / "dest"
    download_mnist(dest, mirrors=[recompressed.as_uri()], progress=False)  # real fetch_url, file:// only
    for n in FILES:
        assert hashlib.sha256(gzip.decompress((dest / f"{n}.gz").read_bytes())).hexdigest() == RAW_SHA256[n]
    if all((src / f"{n}.gz").exists() for n in FILES):
        for n in FILES:
            assert hashlib.sha256((src / f"{n}.gz").read_bytes()).hexdigest() == GZ_SHA256[n]


# ---- the real data set -------------------------------------------------------------

@needs_real
def test_real_files_md5():
    folder = locate_mnist(REAL_ROOT)
    for n in FILES:
        path = next(p for p in (folder / n, folder / f"{n}.gz") if p.exists())
        assert hashlib.md5(read_bytes(path)).hexdigest() == RAW_MD5[n], n


@needs_real
@pytest.mark.parametrize("split,n", [("train", 60000), ("test", 10000)])
def test_real_mnist(split, n):
    t = time.perf_counter()
    x, y = load_mnist(REAL_ROOT, split)
    elapsed = time.perf_counter() - t
    assert x.shape == (n, 28, 28) and x.dtype == np.uint8
    assert y.shape == (n,) and y.dtype == np.uint8
    assert y.max() == 9 and y.min() == 0 and len(np.unique(y)) == 10
    assert x.max() == 255 and x.min() == 0
    assert elapsed < 5.0  # typically ~0.3 s for the training set
    prefix = "train" if split == "train" else "t10k"
    from certnn.data.idx import encode_idx
    assert hashlib.md5(encode_idx(x)).hexdigest() == RAW_MD5[f"{prefix}-images-idx3-ubyte"]
    assert hashlib.md5(encode_idx(y)).hexdigest() == RAW_MD5[f"{prefix}-labels-idx1-ubyte"]


@needs_real
def test_real_mnist_via_env(monkeypatch):
    monkeypatch.setenv("CERTNN_DATA", str(REAL_ROOT))
    x, y = load_mnist(split="test")
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
