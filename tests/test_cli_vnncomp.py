"""`certnn vnncomp run/suite` and `certnn check` on BaB certificates, end to end."""

import gzip
import json
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from certnn import run
from certnn.verify.vnncomp import format_result, load_instance, score
from certnn.io import benchmarks_root
from tests.cli_run import run_cli

VNN = benchmarks_root() / "vnncomp2022"
TEST = VNN / "test"
ACAS = VNN / "acasxu"
pytestmark = pytest.mark.skipif(not (TEST / "instances.csv").exists(), reason="no VNN-COMP benchmarks")


def _subprocess(*args):
    return subprocess.run([sys.executable, "-m", "certnn", *map(str, args)], capture_output=True, text=True)


def _run(*args):
    """The CLI in-process (tests/cli_run.py): returncode, stdout, stderr."""
    code, out, err = run_cli(*args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def _parse(text):
    """The result file: (status, {name: value})."""
    first, _, rest = text.partition("\n")
    pairs = dict((k, float(v)) for k, v in re.findall(r"\((\w+_\d+) ([^()\s]+)\)", rest))
    return first, pairs


def test_sat_result_file_holds_a_replaying_counterexample(tmp_path):
    out = tmp_path / "res.txt"
    r = _subprocess("vnncomp", "run", TEST / "test_sat.onnx", TEST / "test_prop.vnnlib", "--timeout", 30, "--out", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    status, vals = _parse(text)
    assert status == "sat"
    assert text.startswith("sat\n((X_0 ") and text.rstrip().endswith(")")
    xs = np.array([vals[f"X_{i}"] for i in range(5)])
    ys = np.array([vals[f"Y_{j}"] for j in range(5)])
    assert len(vals) == 10
    graph, _, cases = load_instance(TEST / "test_sat.onnx", TEST / "test_prop.vnnlib")
    region, spec = cases[0]
    x = xs.reshape((1,) + region.shape)
    y = np.asarray(run(graph, x, semantics="real")).reshape(1, -1)
    np.testing.assert_allclose(y[0], ys, rtol=1e-12)          # printed values read back exactly
    assert region.contains(x)[0] and spec.violated(y)[0]
    assert not list(tmp_path.glob(".*tmp"))                   # no temp file left behind


@pytest.mark.parametrize("onnx,prop", [("test_unsat.onnx", "test_prop.vnnlib"),
                                       ("test_small.onnx", "test_small.vnnlib")])
def test_unsat_result_file(tmp_path, onnx, prop):
    out = tmp_path / "res.txt"
    r = _run("vnncomp", "run", TEST / onnx, TEST / prop, "--timeout", 30, "--out", out)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "unsat\n"


def test_gzipped_inputs_are_accepted(tmp_path):
    for name in ("test_unsat.onnx", "test_prop.vnnlib"):
        (tmp_path / (name + ".gz")).write_bytes(gzip.compress((TEST / name).read_bytes()))
    out = tmp_path / "res.txt"
    r = _run("vnncomp", "run", tmp_path / "test_unsat.onnx.gz", tmp_path / "test_prop.vnnlib.gz",
             "--timeout", 30, "--out", out)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "unsat\n"


def _bad_inputs(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07this is not a protobuf model" * 10)
    trunc = tmp_path / "trunc.onnx.gz"
    trunc.write_bytes(gzip.compress((TEST / "test_unsat.onnx").read_bytes())[:200])
    badlib = tmp_path / "bad.vnnlib"
    badlib.write_text((TEST / "test_prop.vnnlib").read_text() + "\n(assert (<= X_0 1.0)")
    truncv = tmp_path / "trunc.vnnlib.gz"
    truncv.write_bytes(gzip.compress((TEST / "test_prop.vnnlib").read_bytes())[:40])
    return {
        "malformed onnx": (garbage, TEST / "test_prop.vnnlib", r"garbage\.onnx.*(not an ONNX|invalid|truncated)"),
        "truncated onnx.gz": (trunc, TEST / "test_prop.vnnlib", r"trunc\.onnx\.gz.*(gzip|truncated)"),
        "malformed vnnlib": (TEST / "test_unsat.onnx", badlib, r"bad\.vnnlib.*unbalanced"),
        "truncated vnnlib.gz": (TEST / "test_unsat.onnx", truncv, r"trunc\.vnnlib\.gz.*(gzip|truncated)"),
        "x/y mismatch": (TEST / "test_small.onnx", TEST / "test_prop.vnnlib", r"5 inputs \(X\).*model 1"),
        "missing file": (tmp_path / "nope.onnx", TEST / "test_prop.vnnlib", r"nope\.onnx"),
    }


@pytest.mark.parametrize("case", ["malformed onnx", "truncated onnx.gz", "malformed vnnlib", "truncated vnnlib.gz",
                                  "x/y mismatch", "missing file"])
def test_bad_input_is_a_clear_error_and_leaves_the_old_result(tmp_path, case):
    onnx, prop, pattern = _bad_inputs(tmp_path)[case]
    out = tmp_path / "res.txt"
    out.write_text("previous\n")
    r = _run("vnncomp", "run", onnx, prop, "--timeout", 10, "--out", out)
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and re.search(pattern, r.stderr), r.stderr
    assert out.read_text() == "previous\n"                   # never a partial or a guessed result
    assert not list(tmp_path.glob(".res.txt.*"))


def test_usage_errors_exit_2(tmp_path):
    r = _run("vnncomp", "run", TEST / "test_unsat.onnx", TEST / "test_prop.vnnlib", "--timeout", -1,
             "--out", tmp_path / "r.txt")
    assert r.returncode == 2 and not (tmp_path / "r.txt").exists()


def test_format_result_for_every_status():
    from certnn.verify.bab import Verdict
    for s in ("unsat", "timeout", "unknown"):
        assert format_result(Verdict(s)) == s + "\n"
    v = Verdict("sat", (np.array([0.1, -2.5]), np.array([3.0])))
    assert format_result(v) == "sat\n((X_0 0.1)\n (X_1 -2.5)\n (Y_0 3.0))\n"


# ---------------------------------------------------------------------------- suite

def _csv(tmp_path, rows):
    p = tmp_path / "instances.csv"
    p.write_text("onnx,vnnlib,timeout_s,expected\n" + "".join(f"{a},{b},{t},{e}\n" for a, b, t, e in rows))
    return p


def test_suite_json_counts_solved_and_wrong(tmp_path):
    rows = [(TEST / "test_sat.onnx", TEST / "test_prop.vnnlib", 30, "sat"),
            (TEST / "test_unsat.onnx", TEST / "test_prop.vnnlib", 30, "unsat"),
            (TEST / "test_nano.onnx", TEST / "test_nano.vnnlib", 30, "sat")]      # deliberately wrong expectation
    r = _run("vnncomp", "suite", _csv(tmp_path, rows), "--json", "--no-progress")
    assert r.returncode == 1, r.stderr                         # a wrong answer fails the suite
    res = json.loads(r.stdout.strip().splitlines()[-1])
    for k in ("instances", "solved", "wrong", "timeout", "unknown", "total_seconds", "rows"):
        assert k in res
    assert (res["instances"], res["solved"], res["wrong"], res["timeout"], res["unknown"]) == (3, 2, 1, 0, 0)
    assert {row["name"]: row["status"] for row in res["rows"]} == {
        "test_sat:test_prop": "sat", "test_unsat:test_prop": "unsat", "test_nano:test_nano": "unsat"}


def test_suite_limit_and_plain_output(tmp_path):
    rows = [(TEST / "test_sat.onnx", TEST / "test_prop.vnnlib", 30, "sat"),
            (TEST / "test_unsat.onnx", TEST / "test_prop.vnnlib", 30, "unsat")]
    r = _run("vnncomp", "suite", _csv(tmp_path, rows), "--limit", 1, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "instances 1  solved 1  wrong 0" in r.stdout


def test_suite_rejects_a_malformed_csv(tmp_path):
    p = tmp_path / "instances.csv"
    p.write_text("onnx,vnnlib,timeout_s\na.onnx,b.vnnlib,soon\n")
    r = _run("vnncomp", "suite", p, "--no-progress")
    assert r.returncode == 1 and "instances.csv" in r.stderr and "not a number" in r.stderr


def test_score_counts_wrong_only_against_sat_unsat():
    rows = [{"status": "sat", "expected": "unsat", "seconds": 1},
            {"status": "unsat", "expected": "unsat", "seconds": 2},
            {"status": "timeout", "expected": "sat", "seconds": 3},
            {"status": "unknown", "expected": None, "seconds": 4}]
    s = score(rows)
    assert (s["solved"], s["wrong"], s["timeout"], s["unknown"], s["total_seconds"]) == (1, 1, 1, 1, 10.0)


# ---------------------------------------------------------------------------- certificates

def test_cert_option_and_check_command(tmp_path):
    out, cert = tmp_path / "res.txt", tmp_path / "proof.json"
    r = _run("vnncomp", "run", ACAS / "onnx" / "ACASXU_run2a_1_1_batch_2000.onnx", ACAS / "vnnlib" / "prop_1.vnnlib",
             "--timeout", 60, "--out", out, "--cert", cert)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "unsat\n" and cert.exists()
    r = _run("check", cert, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True
    doc = json.loads(cert.read_text())
    doc["cases"][0]["tree"].pop()                            # a leaf removed: the tree no longer covers the box
    cert.write_text(json.dumps(doc))
    r = _run("check", cert)
    assert r.returncode == 1 and "coverage" in r.stdout
    cert.write_text("{not json")
    r = _run("check", cert)
    assert r.returncode == 2


def test_suite_certify_mode_counts_certified_unsat(tmp_path):
    from certnn.verify.bab_checker import check_bab_certificate
    from certnn.verify.vnncomp import run_suite
    rows = [(TEST / "test_unsat.onnx", TEST / "test_prop.vnnlib", 30, "unsat"),
            (TEST / "test_sat.onnx", TEST / "test_prop.vnnlib", 30, "sat")]
    res = run_suite(_csv(tmp_path, rows), cert_dir=tmp_path)
    assert (res["solved"], res["certified"]) == (2, 1)
    row = next(r for r in res["rows"] if r["status"] == "unsat")
    assert row["certified"] and check_bab_certificate(row["certificate"]["written"]).ok


def test_unsupported_op_is_a_clear_error(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 2])
    g = helper.make_graph([helper.make_node("Hardmax", ["X"], ["Y"], name="hm")], "g", [x], [y])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, tmp_path / "hm.onnx")
    prop = tmp_path / "p.vnnlib"
    prop.write_text("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
                    "(declare-const Y_1 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (<= X_1 1))\n"
                    "(assert (>= X_1 0))\n(assert (<= Y_0 Y_1))\n")
    r = _run("vnncomp", "run", tmp_path / "hm.onnx", prop, "--timeout", 10, "--out", tmp_path / "r.txt")
    assert r.returncode == 1 and "Hardmax" in r.stderr and "unsupported" in r.stderr, r.stderr
    assert not (tmp_path / "r.txt").exists()


def _suite_statuses(r):
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert (res["instances"], res["solved"], res["wrong"]) == (5, 5, 0)
    return {row["name"]: row["status"] for row in res["rows"]}


def test_suite_on_local_processes_and_a_dask_cluster_gives_the_sequential_answers():
    distributed = pytest.importorskip("distributed")
    csv_path = TEST / "instances.csv"
    seq = _suite_statuses(_subprocess("vnncomp", "suite", csv_path, "--json", "--no-progress"))
    assert _suite_statuses(_subprocess("vnncomp", "suite", csv_path, "--jobs", 2, "--json", "--no-progress")) == seq
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = _subprocess("vnncomp", "suite", csv_path, "--scheduler", cluster.scheduler_address,
                           "--json", "--no-progress")
    assert _suite_statuses(dask) == seq


@pytest.mark.parametrize("address,msg", [("tcp://127.0.0.1:1", "cannot connect"),
                                         ("127.0.0.1:1", "malformed")])
def test_suite_with_a_bad_scheduler_address_is_a_clear_error(address, msg):
    r = _subprocess("vnncomp", "suite", TEST / "instances.csv", "--scheduler", address, "--no-progress")
    assert r.returncode == 1 and msg in r.stderr and address in r.stderr


def test_a_point_on_a_strict_boundary_is_not_reported_sat(tmp_path):
    """y = x on [0, 1] with unsafe set y > 1: the closed set the bounds use is hit
    at x = 1 (found by the falsifier), which the property as written excludes."""
    from certnn.interop import save_onnx
    from certnn.ir.graph import Graph, Node
    g = Graph([Node("x", "input", shape=(None, 1)), Node("W", "param", shape=(1, 1)),
               Node("y", "linear", ("x", "W"))], ["y"], {"W": np.ones((1, 1), np.float32)}).validate()
    save_onnx(g, tmp_path / "id.onnx")
    head = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n"
    (tmp_path / "strict.vnnlib").write_text(head + "(assert (> Y_0 1))\n")
    (tmp_path / "closed.vnnlib").write_text(head + "(assert (>= Y_0 1))\n")
    r = _run("vnncomp", "run", tmp_path / "id.onnx", tmp_path / "closed.vnnlib", "--timeout", 20,
             "--out", tmp_path / "closed.txt")
    assert _parse((tmp_path / "closed.txt").read_text()) == ("sat", {"X_0": 1.0, "Y_0": 1.0}), r.stderr
    r = _run("vnncomp", "run", tmp_path / "id.onnx", tmp_path / "strict.vnnlib", "--timeout", 20,
             "--out", tmp_path / "strict.txt")
    assert (tmp_path / "strict.txt").read_text() == "unknown\n", r.stdout + r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_the_suite_and_its_worker_processes():
    """`kill` of a running suite exits 143 and leaves no worker process behind (before,
    the workers went on running, orphaned)."""
    import os
    import signal
    import time
    p = subprocess.Popen([sys.executable, "-m", "certnn", "vnncomp", "suite", str(ACAS / "instances.csv"),
                          "--jobs", "2", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)

    def session():
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = open(f"/proc/{d}/stat").read()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[3]) == p.pid:     # field 6: the session id
                    out.append(int(d))
        return out

    t0 = time.monotonic()
    while len(session()) < 3 and time.monotonic() - t0 < 60:     # the suite and at least two workers
        time.sleep(0.2)
    assert len(session()) >= 3, "the suite never started its workers"
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=30)     # orphaned workers would hold stderr open
        t0 = time.monotonic()
        while session() and time.monotonic() - t0 < 15:
            time.sleep(0.2)
        left = session()
    finally:
        for pid in session():
            os.kill(pid, signal.SIGKILL)
    assert p.returncode == 143, err[-500:]
    assert "terminated" in err
    assert not left, f"worker processes left running: {left}"


def _conv_instance(tmp_path):
    """A conv/residual net (64 inputs: the graph ReLU-split search) and a robustness
    property around one point that needs branching; the expected answer by sampling."""
    from certnn.interop import save_onnx
    from tests.verify.test_bab_graph import _case
    g, region, spec = _case(0, 0.5)
    save_onnx(g, tmp_path / "res.onnx")
    label = int(np.flatnonzero(spec.C[0, 0] > 0)[0])
    lines = [f"(declare-const X_{i} Real)" for i in range(64)] + [f"(declare-const Y_{j} Real)" for j in range(3)]
    for i, (lo, hi) in enumerate(zip(region.lo.reshape(-1), region.hi.reshape(-1))):
        lines += [f"(assert (>= X_{i} {float(lo)!r}))", f"(assert (<= X_{i} {float(hi)!r}))"]
    others = " ".join(f"(and (>= Y_{j} Y_{label}))" for j in range(3) if j != label)
    (tmp_path / "res.vnnlib").write_text("\n".join(lines + [f"(assert (or {others}))"]) + "\n")
    return tmp_path / "res.onnx", tmp_path / "res.vnnlib"


def test_bab_settings_reach_the_graph_search_and_are_recorded(tmp_path):
    onnx, prop = _conv_instance(tmp_path)
    out = tmp_path / "r.txt"
    r = _run("vnncomp", "run", onnx, prop, "--timeout", 60, "--out", out, "--json",
             "--bab", "branching=fsb", "--bab", "fsb-reduce=min", "--bab", "batch=4")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "unsat\n"
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["stats"]["graph_options"] == {"branching": "fsb", "fsb_reduce": "min", "batch": 4}
    (case,) = res["stats"]["per_case"]
    assert case["engine"] == "graph relu split (fsb)" and case["branches"] > 0
    csv = _csv(tmp_path, [(onnx, prop, 60, "unsat")])
    r = _run("vnncomp", "suite", csv, "--json", "--no-progress", "--bab", "iters=2")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert (res["solved"], res["graph_options"]) == (1, {"iters": 2})


@pytest.mark.parametrize("pair,msg", [("foo=1", "unknown option 'foo'"), ("batch=abc", "batch takes an integer"),
                                      ("batch", "expected KEY=VALUE"), ("topk=0", "topk must be at least 1"),
                                      ("branching=random", "unknown branching 'random'")])
def test_a_bad_bab_setting_is_a_usage_error_that_writes_nothing(tmp_path, pair, msg):
    out = tmp_path / "r.txt"
    r = _run("vnncomp", "run", TEST / "test_unsat.onnx", TEST / "test_prop.vnnlib", "--timeout", 10,
             "--out", out, "--bab", pair)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert not out.exists()
