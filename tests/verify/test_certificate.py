"""Certificates: schema round trip, atomic writes, padding, and clear errors on bad files."""

import json

import numpy as np
import pytest

from certnn.bounds.result import Bounds
from certnn.errors import CertnnError
from certnn.ir import graph_hash
from certnn.ir.serialize import array_digest
from certnn.verify.certificate import (FORMAT, REQUIRED, VERSION, Certificate, CertificateError, load_certificate,
                                       make_certificate, pad_outward, save_certificate)

from ._models import toy_graph, toy_region, toy_spec


def toy_bounds(g):
    """Hand-made producer output for the toy: exact z = W1 x bounds, one slope array."""
    inter = {"v2/pre0": (np.array([[-2.0, -3.0]]), np.array([[4.0, 6.0]]))}
    return Bounds(np.array([[1e-4]]), None, "crown", g, inter, {("spec", "v2"): np.array([[[1.0, 1.0]]])})


@pytest.fixture
def cert(tmp_path):
    g = toy_graph()
    c = make_certificate(g, toy_region(), toy_spec(3.0001), toy_bounds(g), model_path=tmp_path / "model")
    return c, save_certificate(c, tmp_path / "c.json")


def test_round_trip_keeps_every_field(cert, tmp_path):
    c, path = cert
    assert path.exists() and path.with_suffix(".npz").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]   # atomic: no temp files left
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT and doc["version"] == VERSION and doc["model"] == "model"
    assert doc["graph_hash"] == graph_hash(toy_graph()) and doc["semantics"] == "real"
    assert doc["region"]["kind"] == "box" and doc["spec"]["rows"] == 1
    assert doc["producer"]["certnn"] and doc["producer"]["time"]
    d = load_certificate(path)
    assert d.graph_hash == c.graph_hash and d.method == "crown" and d.claimed.tolist() == [True]
    assert d.model == str((tmp_path / "model").resolve())
    np.testing.assert_array_equal(d.region.lo, c.region.lo)
    np.testing.assert_array_equal(d.spec.C, c.spec.C)
    np.testing.assert_array_equal(d.spec.d, c.spec.d)
    for k in c.anchors:
        np.testing.assert_array_equal(d.anchors[k][0], c.anchors[k][0])
    assert set(d.alphas) == {("spec", "v2", "both")}


def test_ball_region_round_trip(tmp_path):
    from certnn.spec.region import Region
    g = toy_graph()
    r = Region.ball(np.array([[0.5, -0.5]]), 0.25, "2", domain=(-1.0, 1.0))
    c = make_certificate(g, r, toy_spec(10.0), toy_bounds(g), semantics="binary32")
    d = load_certificate(save_certificate(c, tmp_path / "b"))
    assert d.region.norm == "2" and d.region.eps == 0.25 and d.semantics == "binary32"
    np.testing.assert_array_equal(d.region.center, r.center)
    assert d.model is None


def test_padding_is_outward_and_symmetric():
    lo = np.array([[-2.0, 0.0, 1e-300, -5.0]])
    hi = np.array([[4.0, 0.0, 1e-300, 5.0]])
    pl, ph = pad_outward(lo, hi)
    assert np.all(pl < lo) and np.all(ph > hi)
    assert np.all(ph - hi <= 1e-8) and np.all(lo - pl <= 1e-8)
    assert pl[0, 3] == -ph[0, 3]          # symmetric: the default slope choice (u > -l) is kept


def test_make_rejects_unknown_nodes_and_semantics():
    g = toy_graph()
    b = toy_bounds(g)
    b.intermediate["nope"] = b.intermediate["v2/pre0"]
    with pytest.raises(CertificateError, match="nope"):
        make_certificate(g, toy_region(), toy_spec(3.0), b)
    with pytest.raises(CertificateError, match="semantics"):
        make_certificate(g, toy_region(), toy_spec(3.0), toy_bounds(g), semantics="float16")


def test_claimed_follows_the_producer_lower_bounds():
    g = toy_graph()
    b = toy_bounds(g)
    b.lb = np.array([[-1.0]])
    assert make_certificate(g, toy_region(), toy_spec(3.0), b).claimed.tolist() == [False]


# ---------------------------------------------------------------- bad files

def _rewrite(path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _rewrite_arrays(path, edit):
    """Change the npz and recompute the manifest (a deliberate, consistent edit)."""
    npz = path.with_suffix(".npz")
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    np.savez(npz, **arrays)
    _rewrite(path, lambda d: d["arrays"].update(
        {k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_digest(a)} for k, a in arrays.items()}))


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(CertificateError, match="no such certificate"):
        load_certificate(tmp_path / "absent.json")
    p = tmp_path / "x.json"
    p.write_text('{"format": "certnn-certif')
    with pytest.raises(CertificateError, match="not valid JSON"):
        load_certificate(p)


@pytest.mark.parametrize("edit,msg", [
    (lambda d: d.update(format="certnn.graph"), "not a certnn certificate"),
    (lambda d: d.update(version=3), "version 3 is not supported"),
    (lambda d: d.update(version=1), "version 1 is not supported .*re-create"),
    (lambda d: d.update(semantics="float16"), "unknown semantics"),
    (lambda d: d["region"].update(norm="3"), "norm"),
    (lambda d: d["region"].update(lo="region.nope"), "region.nope"),
])
def test_wrong_format_version_fields(cert, edit, msg):
    _, path = cert
    _rewrite(path, edit)
    with pytest.raises(CertificateError, match=msg):
        load_certificate(path)


@pytest.mark.parametrize("field", REQUIRED)
def test_every_required_field_is_checked(cert, field):
    _, path = cert
    _rewrite(path, lambda d: d.pop(field))
    with pytest.raises(CertificateError, match=f"missing field.*{field}"):
        load_certificate(path)


def test_truncated_or_corrupt_array_file(cert):
    _, path = cert
    npz = path.with_suffix(".npz")
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2])
    with pytest.raises(CertificateError, match="truncated or corrupt"):
        load_certificate(path)
    npz.unlink()
    with pytest.raises(CertificateError, match="missing"):
        load_certificate(path)


def test_changed_array_without_manifest_update_is_caught(cert):
    _, path = cert
    npz = path.with_suffix(".npz")
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["spec.d"] = arrays["spec.d"] + 1.0
    np.savez(npz, **arrays)
    with pytest.raises(CertificateError, match="SHA-256"):
        load_certificate(path)


@pytest.mark.parametrize("edit,msg", [
    (lambda a: a.update({"anchor.0.lo": np.full((1, 2), np.nan)}), "NaN"),
    (lambda a: a.update({"alpha.0": np.full((1, 1, 2), np.nan)}), "NaN"),
    (lambda a: a.update({"anchor.0.lo": np.zeros((2, 2))}), "anchor"),
    (lambda a: a.update({"spec.d": np.zeros((1, 3))}), "spec"),
    (lambda a: a.update({"region.lo": np.array([[3.0, -2.0]])}), "exceeds"),
    (lambda a: a.update({"region.hi": np.array([[np.inf, 1.0]])}), "finite"),
    (lambda a: a.update({"alpha.0": np.zeros((3, 1, 2))}), "alpha"),
    (lambda a: a.update({"extra": np.zeros(1)}), None),
])
def test_inconsistent_arrays(cert, edit, msg):
    _, path = cert
    _rewrite_arrays(path, edit)
    if msg is None:       # an array the manifest lists but the certificate does not use is harmless
        load_certificate(path)
        return
    with pytest.raises(CertificateError, match=msg):
        load_certificate(path)


def test_errors_are_certnn_errors():
    assert issubclass(CertificateError, CertnnError)
    assert Certificate.__dataclass_fields__.keys() >= {"graph_hash", "region", "spec", "anchors", "alphas"}
