"""Category folders as VNN-COMP 2023+ ships them: instances.csv names
``x.onnx`` / ``x.vnnlib`` while only ``x.onnx.gz`` / ``x.vnnlib.gz`` are on
disk; the suite and ``run_instance`` read the compressed files, and rows are
named without extensions."""

import gzip

import pytest

from certnn.io import benchmarks_root
from certnn.verify.vnncomp import read_instances, run_instance, run_suite

TEST = benchmarks_root() / "vnncomp2022" / "test"


@pytest.mark.skipif(not (TEST / "test_sat.onnx").exists(), reason="benchmarks not present")
def test_gzipped_category_named_without_gz(tmp_path):
    for name in ("test_sat.onnx", "test_unsat.onnx", "test_prop.vnnlib"):
        (tmp_path / (name + ".gz")).write_bytes(gzip.compress((TEST / name).read_bytes()))
    csv = tmp_path / "instances.csv"
    csv.write_text("onnx,vnnlib,timeout_s,expected\ntest_sat.onnx,test_prop.vnnlib,20,sat\n"
                   "test_unsat.onnx.gz,test_prop.vnnlib.gz,20,unsat\n")
    rows = read_instances(csv)
    assert [r["name"] for r in rows] == ["test_sat:test_prop", "test_unsat:test_prop"]
    assert rows[0]["onnx"].endswith("test_sat.onnx.gz") and rows[0]["rel"] == ("test_sat.onnx", "test_prop.vnnlib")
    res = run_suite(csv)
    assert (res["solved"], res["wrong"], res["error"]) == (2, 0, 0)
    assert run_instance(tmp_path / "test_unsat.onnx", tmp_path / "test_prop.vnnlib", 20).status == "unsat"
    # neither the file nor its .gz: the error names the file as written
    csv.write_text("missing.onnx,test_prop.vnnlib,20\n")
    res = run_suite(csv)
    assert res["error"] == 1 and "missing.onnx" in res["rows"][0]["error"]
