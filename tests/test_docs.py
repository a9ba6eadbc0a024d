"""Every code block of docs/*.md runs as written.

Python blocks of one page run in order in one namespace (so a page may build
on its earlier blocks), in a temporary folder. Console blocks (``$ command``
lines, each followed by the output the page shows) run ``certnn`` in-process
and ``cat`` on the files it wrote: a command must succeed unless the page shows
an ``error:`` line (then it must fail with that error), and the first word of
the first output line must be the one shown (timings and digits may differ).
A block that cannot run here (a server, this test suite itself) is preceded by
``<!-- docs-test: skip (the reason) -->``; the reason is required.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from certnn.io import benchmarks_root

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((.+)\)\s*-->")


@dataclass
class Block:
    lang: str
    text: str
    line: int
    skip: str | None


def blocks(path: Path) -> list[Block]:
    out, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        prev = next((ln for ln in reversed(lines[:start - 1]) if ln.strip()), "")
        skip = SKIP.search(prev)
        out.append(Block(m.group(1), "\n".join(body), start + 1, skip.group(1) if skip else None))
        i += 1
    return out


def _kind(b: Block) -> str:
    if b.lang == "python":
        return "python"
    if b.lang in ("console", "sh", "bash", "shell") or b.text.lstrip().startswith("$ "):
        return "console"
    return "text"


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """(command, the output lines the page shows after it)."""
    cmds: list = []
    for ln in text.splitlines():
        if ln.startswith("$ "):
            cmds.append((ln[2:].split("  #")[0].strip(), []))
        elif cmds:
            cmds[-1][1].append(ln)
        elif ln.strip():
            cmds.append((ln.split("  #")[0].strip(), []))
    return cmds


def _run_certnn(argv: list[str]) -> tuple[int, str]:
    from certnn.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
    return code, buf.getvalue()


def _run_console(block: Block, where: str) -> None:
    for cmd, shown in _commands(block.text):
        argv = shlex.split(cmd)
        if argv[0] == "cat":
            got = Path(argv[1]).read_text()
            code = 0
        elif argv[0] == "certnn":
            code, got = _run_certnn(argv[1:])
        else:
            raise AssertionError(f"{where}: cannot run {cmd!r}; mark the block <!-- docs-test: skip (why) -->")
        shown = [ln for ln in shown if ln.strip()]
        if shown and shown[-1].startswith(("error:", "Error:")):     # the page shows a refusal
            last = got.strip().splitlines()[-1] if got.strip() else ""
            assert code in (1, 2) and last.split(":")[0] == shown[-1].split(":")[0], (where, cmd, got)
            continue
        assert code == 0, (where, cmd, got)
        if shown:
            first = got.strip().splitlines()[0] if got.strip() else ""
            assert first.split()[:1] == shown[0].split()[:1], (where, cmd, first, shown[0])


@pytest.mark.parametrize("page", [p.name for p in sorted(DOCS.glob("*.md"))])
def test_docs_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    vnn = benchmarks_root() / "vnncomp2022"
    if vnn.is_dir():                    # the VNN-COMP examples name "test/..." as in the benchmark folder
        (tmp_path / "test").symlink_to(vnn / "test")
    namespace: dict = {"__name__": "__docs__"}
    for b in blocks(DOCS / page):
        where = f"docs/{page}:{b.line}"
        if b.skip is not None or _kind(b) == "text":
            continue
        if _kind(b) == "python":
            exec(compile(b.text, where, "exec"), namespace)
        else:
            if "$ certnn vnncomp" in b.text and not vnn.is_dir():
                pytest.skip("VNN-COMP benchmarks not present")
            _run_console(b, where)


def test_every_skipped_block_says_why():
    for page in DOCS.glob("*.md"):
        text = page.read_text()
        assert len(re.findall(r"docs-test:\s*skip", text)) == len(SKIP.findall(text)), page.name
