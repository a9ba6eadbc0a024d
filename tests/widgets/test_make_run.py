"""The report of a `make run` output folder in headless Chromium, view by view against
the Python side (opt-in: `make run` takes minutes, so the folder is not built here).

    make run && CERTNN_REPORT_RUN=runs/mnist-mlp python -m pytest tests/widgets/test_make_run.py

Every view renders without a console or render error and states its evidence; the
graph has one box per node; each certificate view shows the independent checker's
verdict on its file; each BaB view the BaB checker's verdict and one box per leaf;
the certificate index counts every file."""

import os
from pathlib import Path

import pytest

from certnn.interop.checkpoint import load_graph
from certnn.verify.bab_checker import check_bab_certificate
from certnn.verify.checker import check_certificate
from certnn.widgets.report import format_of, report_page

from .conftest import Loaded


@pytest.fixture(scope="module")
def make_run_dir():
    run = os.environ.get("CERTNN_REPORT_RUN")
    if not run:
        pytest.skip("set CERTNN_REPORT_RUN to a `make run` output folder (runs/mnist-mlp) to test its report")
    if not (Path(run) / "checkpoint.json").is_file():
        pytest.fail(f"CERTNN_REPORT_RUN={run}: not a `make run` output folder (no checkpoint.json)")
    return Path(run)


def test_every_view_of_the_make_run_report(make_run_dir, browser, tmp_path, shots_dir):
    path = tmp_path / "report.html"
    path.write_text(report_page(make_run_dir))
    report = Loaded(browser, path)
    page = report.page
    sections = page.eval_on_selector_all("section.certnn-view", "ss => ss.map(s => s.id)")
    for sid in sections:
        page.locator(f"section[id='{sid}']").screenshot(path=str(shots_dir / f"make-run-{sid}.png"))
    assert report.errors == [] and page.locator(".render-error").count() == 0
    assert page.locator("section.certnn-view:not(:has(ul.evidence))").count() == 0
    certified = page.eval_on_selector_all("li[data-level='certified']", "ls => ls.map(l => l.textContent)")
    assert not any(w in t for t in certified for w in ("sampled", "simulated", "measured"))

    assert page.locator("#graph .cg-node").count() == len(load_graph(make_run_dir).nodes)
    certs = sorted(p for p in make_run_dir.rglob("cert-*.json") if format_of(p) == "certnn-certificate")
    assert page.locator("#certificates table.cert-index tbody tr").count() == len(certs)
    for sid in (s for s in sections if s.startswith("cert-")):
        rel = page.locator(f"section[id='{sid}'] h2").inner_text().removeprefix("Certificate ")
        res = check_certificate(make_run_dir / rel)
        assert page.locator(f"section[id='{sid}'] .verdict").first.inner_text().strip() == res.summary()
    babs = sorted(p for p in make_run_dir.rglob("*.json") if format_of(p) == "certnn-bab-certificate")
    for k, p in enumerate(babs):
        res, view = check_bab_certificate(p), page.locator(f"section[id='certnn-bab-certificate-{k}']")
        assert view.locator(".verdict").get_attribute("data-ok") == str(res.ok).lower()
        assert view.locator(".bab-leaf").count() == res.leaves
    report.page.close()
