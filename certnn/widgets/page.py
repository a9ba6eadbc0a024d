"""One view = one self-contained HTML page: inline CSS, the vendored JavaScript of
``certnn/widgets/static/`` and the view's data as embedded JSON. No network: the
page carries a Content-Security-Policy that forbids every fetch, so a page that
tried to load anything from outside would fail visibly (and the browser tests
would see the console error).

A :class:`View` holds its title, its kind (which JavaScript renderer mounts it),
the server-rendered HTML around it, the data its renderer reads, and the
**evidence** of everything it shows. Several views compose into one page (the
run report); each keeps its own section, data and evidence banner.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import atomic_write

STATIC = Path(__file__).with_name("static")

#: Evidence levels, strongest first (DESIGN.md section 4); "computed" is a plain floating-point
#: computation without rounding control (bounds before the checker has seen them, a training step).
LEVELS = {
    "proved": "symbolic or SMT proof for all inputs in the stated domain",
    "certified": "artifact re-checked by an independent checker in sound arithmetic",
    "checked": "sound (outward-rounded) arithmetic, in-process",
    "tested": "sampled points, finite differences or differential tests: no guarantee",
    "computed": "a floating-point computation without rounding control: not a guarantee",
    "assumed": "a named boundary taken on trust",
    "none": "no claim: rejected, not checked, or nothing to back",
}

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")


@dataclass
class Evidence:
    """What a view shows and how it is known."""
    what: str
    level: str
    note: str = ""
    assumptions: tuple = ()

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"unknown evidence level {self.level!r}; known: {', '.join(LEVELS)}")


@dataclass
class View:
    """A renderable view. ``kind`` names the JavaScript renderer (``certnn.mount[kind]``;
    None for a static view), ``body`` is server-rendered HTML, ``data`` what the
    renderer reads, ``scripts`` the static files it needs besides core.js."""
    title: str
    kind: str | None
    body: str = ""
    data: dict | None = None
    evidence: list = field(default_factory=list)
    scripts: tuple = ()
    anchor: str = ""

    def section(self, anchor: str | None = None) -> str:
        """The view as a ``<section>`` of a page."""
        aid = anchor or self.anchor or slug(self.title)
        data = "" if self.data is None else \
            f'<script type="application/json" class="certnn-data">{to_json(self.data)}</script>'
        kind = f' data-kind="{esc(self.kind)}"' if self.kind else ""
        return (f'<section class="certnn-view" id="{esc(aid)}"{kind}>'
                f'<h2>{esc(self.title)}</h2>{evidence_banner(self.evidence)}{self.body}{data}</section>')

    def html(self) -> str:
        return page(self.title, [self])

    def save(self, path) -> Path:
        path = Path(path)
        with atomic_write(path, "w") as f:
            f.write(self.html())
        return path

    def _repr_html_(self) -> str:
        return iframe(self.html())


def page(title: str, views: list, nav: bool = False, intro: str = "") -> str:
    """A complete HTML document holding ``views`` (each a section)."""
    scripts = ["core.js"] + sorted({s for v in views for s in v.scripts})
    js = "\n".join(f"/* {s} */\n" + (STATIC / s).read_text() for s in scripts)
    css = (STATIC / "core.css").read_text()
    anchors = [v.anchor or slug(v.title) for v in views]
    links = ""
    if nav:
        links = '<nav class="certnn-nav">' + "".join(
            f'<a href="#{esc(a)}">{esc(v.title)}</a>' for a, v in zip(anchors, views)) + "</nav>"
    sections = "\n".join(v.section(a) for a, v in zip(anchors, views))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{css}</style></head>"
            f'<body><header class="certnn-header"><h1>{esc(title)}</h1>{intro}{links}</header>'
            f"<main>{sections}</main>{legend()}<script>{js}</script></body></html>\n")


def legend() -> str:
    rows = "".join(f"<li>{badge(k)} {esc(v)}</li>" for k, v in LEVELS.items())
    return f'<footer class="certnn-legend"><h3>Evidence levels</h3><ul>{rows}</ul></footer>'


def badge(level: str | None) -> str:
    level = level or "none"
    return f'<span class="ev ev-{esc(level)}" title="{esc(LEVELS.get(level, ""))}">{esc(level)}</span>'


def evidence_banner(items: list) -> str:
    if not items:
        return ""
    rows = []
    for e in items:
        assume = (f' <span class="assume">rests on: {esc(", ".join(dict.fromkeys(e.assumptions)))}</span>'
                  if e.assumptions else "")
        note = f' <span class="note">{esc(e.note)}</span>' if e.note else ""
        rows.append(f'<li data-level="{esc(e.level)}">{badge(e.level)} <b>{esc(e.what)}</b>{note}{assume}</li>')
    return f'<ul class="evidence">{"".join(rows)}</ul>'


def iframe(doc: str, height: int = 560) -> str:
    """A page inline in a notebook: the document in an ``<iframe srcdoc>``, so its
    scripts and styles stay apart from the notebook's."""
    return (f'<iframe srcdoc="{html.escape(doc, quote=True)}" sandbox="allow-scripts" '
            f'style="width:100%;height:{height}px;border:1px solid #ccc"></iframe>')


# ---------------------------------------------------------------------- small helpers

def esc(s) -> str:
    return html.escape(str(s), quote=True)


def slug(s: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in s)
    return "-".join(p for p in out.split("-") if p) or "view"


def table(head: list, rows: list, cls: str = "") -> str:
    """An HTML table; cells are escaped unless given as ``Raw``."""
    th = "".join(f"<th>{cell(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


class Raw(str):
    """HTML that :func:`table` and :func:`cell` insert as it is."""


def cell(c) -> str:
    if isinstance(c, Raw):
        return c
    if isinstance(c, float):
        return esc(num(c))
    return esc("" if c is None else c)


def num(v: float, digits: int = 6) -> str:
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}"


def jsonable(v):
    """Plain JSON data: arrays to lists, non-finite floats to the strings "inf",
    "-inf", "nan" (the JavaScript side reads them back with ``certnn.num``)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def to_json(data) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can appear)."""
    text = json.dumps(jsonable(data), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def stats(a) -> dict:
    """Summary statistics of an array (float64), as the graph and tape views show them."""
    a = np.asarray(a)
    x = a.astype(np.float64).reshape(-1) if a.dtype.kind in "biuf" else np.zeros(0)
    fin = x[np.isfinite(x)]
    out = {"shape": list(a.shape), "dtype": str(a.dtype), "size": int(a.size)}
    if fin.size:
        out |= {"min": float(fin.min()), "max": float(fin.max()), "mean": float(fin.mean()),
                "std": float(fin.std()), "l2": float(np.sqrt(np.sum(fin * fin))),
                "zeros": int(np.count_nonzero(fin == 0)), "nonfinite": int(x.size - fin.size)}
    return out
