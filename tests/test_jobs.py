"""The main job's complete-verification step (the rest of `make run` is covered
by the train/verify CLI tests)."""

import io

import pytest
from rich.console import Console

from certnn.cli.main_job import _vnncomp_test
from certnn.io import benchmarks_root

TEST_CSV = benchmarks_root() / "vnncomp2022" / "test" / \
    "instances.csv"


@pytest.mark.skipif(not TEST_CSV.exists(), reason="no VNN-COMP benchmarks")
def test_vnncomp_step_solves_and_certifies_the_test_instances(tmp_path):
    buf = io.StringIO()
    res = _vnncomp_test(Console(file=buf, width=100), tmp_path)
    assert res == {"instances": 5, "solved": 5, "wrong": 0, "certified": 4}
    assert len(list((tmp_path / "vnncomp-certificates").glob("cert[0-9].json"))) == 4
    assert "solved 5/5, wrong 0, certified unsat 4" in buf.getvalue()


def test_vnncomp_step_is_skipped_without_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTNN_BENCHMARKS", str(tmp_path / "nowhere"))
    buf = io.StringIO()
    assert _vnncomp_test(Console(file=buf, width=100), tmp_path) is None
    assert "skipped" in buf.getvalue()
