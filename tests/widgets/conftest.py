"""Fixtures of the widget tests: the run folder (built once, from real producers) and
headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``apt-get install chromium``), found at
``$CERTNN_CHROMIUM``, else ``chromium`` on the PATH. Without it the browser tests
are skipped with the reason, unless ``CERTNN_REQUIRE_BROWSER=1`` (CI sets it), in
which case they fail saying the browser is missing."""

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from ._run import run_folder


def chromium_path() -> str | None:
    path = os.environ.get("CERTNN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and Path(path).exists() else None


def _missing(why: str):
    if os.environ.get("CERTNN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (CERTNN_REQUIRE_BROWSER=1) but {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """Built once per test run: pytest-xdist workers share it (under a file lock)."""
    from certnn.io import data_root
    if not (data_root() / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found under {data_root()} (set CERTNN_DATA)")
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "certnn-widgets"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            shutil.rmtree(root / "run", ignore_errors=True)     # a worker that failed half-way
            run_folder(str(root))
            (root / "done").touch()
    return root / "run"


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        _missing("Chromium is not installed (apt-get install chromium, or set CERTNN_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright; no browser download needed)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Loaded:
    """A page opened from an HTML file, with the console errors it logged."""

    def __init__(self, browser, html_path, width=1300, height=900):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(Path(html_path).resolve().as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=20000)


@pytest.fixture
def open_page(browser):
    pages = []

    def opener(path, **kw):
        pages.append(Loaded(browser, path, **kw))
        return pages[-1]
    yield opener
    for p in pages:
        p.page.close()


@pytest.fixture(scope="session")
def shots_dir():
    """Where the browser tests save their screenshots ($CERTNN_WIDGET_SHOTS, default build/widget-screenshots)."""
    d = Path(os.environ.get("CERTNN_WIDGET_SHOTS", "build/widget-screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d
