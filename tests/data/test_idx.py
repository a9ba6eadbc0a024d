import gzip

import numpy as np
import pytest

from certnn.data.idx import encode_idx, parse_idx, read_idx, write_idx
from certnn.errors import DataError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / f"a-idx3{suffix}", arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_header_bytes_are_big_endian():
    buf = encode_idx(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert buf[:4] == b"\x00\x00\x0b\x02"
    assert buf[4:12] == b"\x00\x00\x00\x02\x00\x00\x00\x03"
    assert buf[12:16] == b"\x00\x00\x00\x01"  # 0, 1 big-endian


def test_gzip_decided_by_magic_not_extension(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    gz_named_raw = write_idx(tmp_path / "raw.gz", arr, compress=False)
    raw_named_gz = write_idx(tmp_path / "gz.idx", arr, compress=True)
    np.testing.assert_array_equal(read_idx(gz_named_raw), arr)
    np.testing.assert_array_equal(read_idx(raw_named_gz), arr)


def test_gzip_output_is_deterministic(tmp_path):
    arr = np.arange(100, dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", arr).read_bytes()
    b = write_idx(tmp_path / "b.gz", arr).read_bytes()
    assert a == b


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    write_idx(tmp_path / "x", np.zeros(3, np.uint8))
    with pytest.raises(ValueError):
        write_idx(tmp_path / "y", np.zeros(3, np.int64))  # unsupported dtype: nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


@pytest.mark.parametrize("arr", [np.zeros(3, np.int64), np.zeros(3, bool), np.float32(1.0)])
def test_write_rejects_unsupported(tmp_path, arr):
    with pytest.raises(ValueError, match="IDX cannot store"):
        write_idx(tmp_path / "bad", arr)


def _write(path, data: bytes, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _err(path) -> str:
    with pytest.raises(DataError) as e:
        read_idx(path, what="pixel data")
    msg = str(e.value)
    assert str(path) in msg
    return msg


@pytest.mark.parametrize("gz", [False, True])
def test_bad_magic(tmp_path, gz):
    good = encode_idx(np.zeros((2, 2), np.uint8))
    msg = _err(_write(tmp_path / "f", b"\x12\x34" + good[2:], gz))
    assert "bad magic 0x1234" in msg


def test_unknown_type_code(tmp_path):
    good = encode_idx(np.zeros((2, 2), np.uint8))
    msg = _err(_write(tmp_path / "f", good[:2] + b"\x07" + good[3:]))
    assert "unknown IDX type code 0x0000" in msg


def test_zero_dims(tmp_path):
    assert "zero dimensions" in _err(_write(tmp_path / "f", b"\x00\x00\x08\x00"))


def test_empty_and_short_files(tmp_path):
    assert "truncated" in _err(_write(tmp_path / "empty", b""))
    assert "truncated header" in _err(_write(tmp_path / "hdr", b"\x00\x00\x08\x03\x00\x00\x00\x05"))


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload(tmp_path, gz):
    good = encode_idx(np.zeros((10, 28, 28), np.uint8))
    msg = _err(_write(tmp_path / "imgs", good[:16 + 1234], gz))
    assert "truncated: expected 7840 bytes of pixel data for shape (10, 28, 28), found 1234" in msg


@pytest.mark.parametrize("gz", [False, True])
def test_trailing_garbage(tmp_path, gz):
    good = encode_idx(np.zeros((4, 3), np.float32))
    msg = _err(_write(tmp_path / "f", good + b"junk", gz))
    assert "trailing garbage: expected 48 bytes" in msg and "found 52 (4 extra" in msg


def test_wrong_dims(tmp_path):
    # header says 3 x 3 but payload holds 2 x 3 uint8s
    buf = b"\x00\x00\x08\x02" + np.array([3, 3], ">u4").tobytes() + bytes(6)
    assert "expected 9 bytes of pixel data for shape (3, 3), found 6" in _err(_write(tmp_path / "f", buf))


def test_corrupt_gzip(tmp_path):
    gz = bytearray(gzip.compress(encode_idx(np.arange(200, dtype=np.uint8))))
    gz[20] ^= 0xFF  # flip bits in the deflate stream
    assert "corrupt or truncated gzip" in _err(_write(tmp_path / "f.gz", bytes(gz)))
    assert "corrupt or truncated gzip" in _err(_write(tmp_path / "g.gz", bytes(gz[: len(gz) // 2])))
    assert "corrupt or truncated gzip" in _err(_write(tmp_path / "h.gz", b"\x1f\x8b\x08garbage"))


def test_gzip_trailing_garbage_is_rejected(tmp_path):
    gz = gzip.compress(encode_idx(np.arange(5, dtype=np.uint8)))
    assert "corrupt or truncated gzip" in _err(_write(tmp_path / "f.gz", gz + b"trailing"))


def test_missing_file(tmp_path):
    assert "no such IDX file" in _err(tmp_path / "nope")


def test_parse_idx_zero_size():
    out = parse_idx(encode_idx(np.zeros((0, 28, 28), np.uint8)))
    assert out.shape == (0, 28, 28)
