"""certnn.io, the file boundary, function by function (the commands' use of it
is tested by tests/test_bad_input.py)."""

import gzip
import io
import json
import os
import stat

import numpy as np
import pytest

from certnn import io as cio
from certnn.io import FileError


def test_read_bytes_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "dir").mkdir()
    for name, word in (("fifo", "FIFO"), ("zero", "device"), ("dir", "folder"), ("nope", "no such")):
        with pytest.raises(FileError, match=word):
            cio.read_bytes(tmp_path / name)
    with pytest.raises(FileError, match="empty path"):
        cio.read_bytes("")


def test_size_cap_and_capped_gunzip(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTNN_MAX_FILE_BYTES", "2000")
    (tmp_path / "big").write_bytes(bytes(2001))
    with pytest.raises(FileError, match="more than the limit"):
        cio.read_bytes(tmp_path / "big")
    bomb = gzip.compress(bytes(10**6), mtime=0)          # 1 KB that inflates to 1 MB
    (tmp_path / "bomb.gz").write_bytes(bomb)
    with pytest.raises(FileError, match="decompress to more than the limit"):
        cio.read_bytes(tmp_path / "bomb.gz")
    assert len(cio.gunzip(bomb, limit=10, partial=True)) == 11     # stops one byte past the cap
    two = gzip.compress(b"ab", mtime=0) + gzip.compress(b"cd", mtime=0)
    assert cio.gunzip(two) == b"abcd"                    # several members, as gzip allows
    with pytest.raises(FileError, match="corrupt or truncated gzip"):
        cio.gunzip(bomb[:20])
    monkeypatch.setenv("CERTNN_MAX_FILE_BYTES", "lots")
    with pytest.raises(FileError, match="CERTNN_MAX_FILE_BYTES"):
        cio.max_bytes()


def test_read_text_drops_a_bom_and_names_a_bad_byte(tmp_path):
    (tmp_path / "a").write_bytes(b"\xef\xbb\xbfhello")
    assert cio.read_text(tmp_path / "a") == "hello"
    (tmp_path / "b").write_bytes(b"ok\xff")
    with pytest.raises(FileError, match="bad byte 0xff at offset 2"):
        cio.read_text(tmp_path / "b")


@pytest.mark.parametrize("text,words", [
    ('{"a": NaN}', "NaN"), ('{"a": -Infinity}', "Infinity"), ('{"a": 1e999}', "overflows"),
    ('{"a": ' + "1" * 5000 + "}", "5000 digits"), ("[" * 100_000 + "]" * 100_000, "deeper"),
    ("[" * 150 + "]" * 150, "deeper"), ('{"a": ', "not valid JSON"),
])
def test_parse_json_limits(text, words):
    with pytest.raises(FileError, match=words):
        cio.parse_json(text, "doc.json")


def test_validate_json_names_the_field():
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "boolean"}},
                                               "b": {"enum": ["x", "y"]}}}
    cio.validate_json({"a": [True]}, schema, "doc.json")
    with pytest.raises(FileError, match=r"doc.json: .* field 'a\[1\]' must be boolean, not an integer"):
        cio.validate_json({"a": [True, 0]}, schema, "doc.json")
    with pytest.raises(FileError, match="field 'b' must be one of"):
        cio.validate_json({"b": "z"}, schema, "doc.json")


def test_confined(tmp_path):
    assert cio.confined(tmp_path, "w.npz", "f", "doc") == tmp_path / "w.npz"
    assert cio.confined(tmp_path, "sub/w.npz", "f", "doc") == tmp_path / "sub" / "w.npz"
    for bad in ("../w.npz", "/etc/hostname", "a/../../b", "~/x", "", 5):
        with pytest.raises(FileError, match="field 'f'"):
            cio.confined(tmp_path, bad, "f", "doc")


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_read_npy_checks_the_header_before_reading(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    (tmp_path / "a.npy").write_bytes(_npy(a))
    np.testing.assert_array_equal(cio.read_npy(tmp_path / "a.npy"), a)
    (tmp_path / "f.npy").write_bytes(_npy(np.asfortranarray(a)))
    np.testing.assert_array_equal(cio.read_npy(tmp_path / "f.npy"), a)
    (tmp_path / "t.npy").write_bytes(_npy(a)[:-4])
    with pytest.raises(FileError, match="declares shape"):
        cio.read_npy(tmp_path / "t.npy")
    for bad, word in ((np.zeros(2, np.complex64), "complex"), (np.array(["x"]), "<U1"),
                      (np.array([{}], object), "object")):
        (tmp_path / "b.npy").write_bytes(_npy(bad) if bad.dtype != object else
                                         _npy_object())
        with pytest.raises(FileError, match=word):
            cio.read_npy(tmp_path / "b.npy")


def _npy_object() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{}], object), allow_pickle=True)
    return buf.getvalue()


def test_read_npz_against_a_manifest(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, w=np.ones((2, 3), np.float32), b=np.zeros(3, np.float32))
    man = {"w": {"dtype": "float32", "shape": [2, 3]}, "b": {"dtype": "<f4", "shape": [3]}}
    assert set(cio.read_npz(p, manifest=man)) == {"w", "b"}
    with pytest.raises(FileError, match="records float32 \\(3, 2\\)"):
        cio.read_npz(p, manifest=dict(man, w={"dtype": "float32", "shape": [3, 2]}))
    with pytest.raises(FileError, match="'c' is missing"):
        cio.read_npz(p, manifest=dict(man, c={"dtype": "float32", "shape": [1]}))
    with pytest.raises(FileError, match="does not list: \\['b'\\]"):
        cio.read_npz(p, manifest={"w": man["w"]})
    assert set(cio.read_npz(p, manifest={"w": man["w"]}, partial=True)) == {"w", "b"}
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(FileError, match="not a valid .npz"):
        cio.read_npz(tmp_path / "junk.npz")


def test_sha256_file_streams(tmp_path):
    import hashlib
    data = os.urandom(3 << 20)
    (tmp_path / "d").write_bytes(data)
    assert cio.sha256_file(tmp_path / "d") == (hashlib.sha256(data).hexdigest(), len(data))


def test_atomic_write_through_a_link_with_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        with cio.atomic_write(tmp_path / "new.txt", "w") as f:
            f.write("x")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
        (tmp_path / "kept.txt").write_text("old")
        (tmp_path / "kept.txt").chmod(0o604)
        (tmp_path / "link").symlink_to(tmp_path / "kept.txt")
        with cio.atomic_write(tmp_path / "link", "w") as f:
            f.write("new")
        assert (tmp_path / "link").is_symlink() and (tmp_path / "kept.txt").read_text() == "new"
        assert stat.S_IMODE((tmp_path / "kept.txt").stat().st_mode) == 0o604
    finally:
        os.umask(old)
    with pytest.raises(FileError, match="is a folder"):
        with cio.atomic_write(tmp_path, "w") as f:
            f.write("x")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(FileError, match="cannot write"):
        with cio.atomic_write(tmp_path / "plain" / "child", "w") as f:
            f.write("x")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_output_checks(tmp_path):
    (tmp_path / "file").write_text("x")
    assert cio.output_file(tmp_path / "new" / "r.txt") == tmp_path / "new" / "r.txt"
    assert not (tmp_path / "new").exists()          # checking creates nothing
    for bad, word in (("", "empty path"), (tmp_path, "is a folder"), (tmp_path / "file" / "x", "not a folder")):
        with pytest.raises(FileError, match=word):
            cio.output_file(bad)
    (tmp_path / "link").symlink_to(tmp_path / "file")
    with pytest.raises(FileError, match="same file"):
        cio.output_file(tmp_path / "link", others=[tmp_path / "file"])
    with pytest.raises(FileError, match="is not a folder"):
        cio.output_folder(tmp_path / "file")
    assert cio.output_folder(tmp_path / "d" / "e") == tmp_path / "d" / "e" and not (tmp_path / "d").exists()


def test_roots_and_portable_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTNN_BENCHMARKS", str(tmp_path / "bench"))
    monkeypatch.setenv("CERTNN_DATA", str(tmp_path / "data"))
    assert cio.benchmarks_root() == tmp_path / "bench" and cio.data_root() == tmp_path / "data"
    assert cio.relative_to_roots(tmp_path / "bench" / "v" / "a.onnx") == "$CERTNN_BENCHMARKS/v/a.onnx"
    assert cio.relative_to_roots(cio.project_root() / "runs" / "m") == "runs/m"
    assert cio.relative_to_roots("/elsewhere/x.json") == "x.json"
    doc = {"csv": str(tmp_path / "bench" / "c.csv"), "rows": [{"error": f"{tmp_path}/data/m: no such file"}],
           "n": 3, "name": "a/b"}
    assert cio.portable(doc) == {"csv": "$CERTNN_BENCHMARKS/c.csv", "rows": [{"error": "$CERTNN_DATA/m: no such file"}],
                                 "n": 3, "name": "a/b"}
    monkeypatch.delenv("CERTNN_BENCHMARKS")
    assert cio.benchmarks_root() == cio.project_root().parent / "shared" / "benchmarks"


def test_committed_results_and_tests_name_no_machine_paths():
    root = cio.project_root()

    def strings(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)
        elif isinstance(v, str):
            yield v
    for p in (root / "benchmarks" / "results").glob("*.json"):
        bad = [s for s in strings(json.loads(p.read_text())) if s.startswith(("/", "~")) or "/work/" in s]
        assert not bad, (p.name, bad[:3])
    for p in list((root / "tests").rglob("*.py")) + list((root / "benchmarks").glob("*.py")):
        assert "/work/" + "shared" not in p.read_text(), p
