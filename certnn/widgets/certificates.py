"""Certificate views: what a certificate claims, in the words of the independent
checker, with its verdict per example, the assumptions and theorems it rests on,
and (for branch and bound) the split tree.

The claim shown is the checker's :meth:`Claim.words` (only for an accepted
certificate); the per-example verdicts and evidence are the checker's. The page
runs the checker when it is not handed a result, and shows a certificate it
could not check as exactly that: no claim.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import CertnnError
from ..proofs.theorems import registered
from ..verify.bab_checker import (
    BabCheckResult,
    check_bab_certificate,
    load_bab_document,
)
from ..verify.certificate import Certificate, load_certificate
from ..verify.checker import CheckResult, check_certificate
from .page import Evidence, Raw, View, badge, esc, num, table

MAX_ROWS = 400          # per-example rows shown in full; the rest are summarised
MAX_TREE = 3000         # split-tree entries drawn


def _verdict(ok: bool, text: str) -> str:
    return f'<p class="verdict {"ok" if ok else "bad"}" data-ok="{str(bool(ok)).lower()}">{esc(text)}</p>'


def _claim(words: str | None) -> str:
    if not words:
        return ('<p class="claim-none muted">No claim: the checker did not accept this certificate, so the '
                'page states nothing as certified.</p>')
    return f'<p class="claim"><b>Proved (checker):</b> {esc(words)}</p>'


def _rests_on(assumptions, theorems) -> str:
    a = ", ".join(f"<code>{esc(x)}</code>" for x in assumptions) or "nothing beyond exact arithmetic"
    known = registered()
    t = ", ".join(f'<code title="{esc(known[x].statement) if x in known else "not in the theorem registry"}">'
                  f"{esc(x)}</code>" for x in theorems) or "none named by the checker"
    return f"<p><b>Assumptions:</b> {a}<br><b>Theorems:</b> {t}</p>"


def check(path, graph=None):
    """The checker's result for a certificate file, or the one-line reason it could not be checked."""
    try:
        return check_certificate(path, graph=graph), None
    except CertnnError as e:
        return None, str(e)


def certificate_view(cert, result: CheckResult | None = None, graph=None, title: str | None = None,
                     anchor: str = "") -> View:
    """The view of a robustness (or any linear-spec) certificate: ``cert`` is a path or a
    :class:`Certificate`; ``result`` the checker's, computed here when not given."""
    if not isinstance(cert, Certificate):
        cert = load_certificate(cert)
    error = None
    if result is None:
        result, error = check(cert, graph)
    name = cert.path.name if cert.path else "certificate"
    r, s = cert.region, cert.spec
    facts = [("file", str(cert.path or "-")), ("graph", cert.graph_hash), ("model", cert.model or "-"),
             ("semantics", cert.semantics), ("method (producer)", cert.method or "-"), ("examples", cert.n),
             ("region", f"{r.norm} {'box' if r.norm == 'box' else 'ball'}, eps {r.eps}, clip {r.domain}, "
                        f"input shape {tuple(r.shape)}"),
             ("spec", f"{s.kind}: {s.C.shape[1]} rows over {s.C.shape[2]} outputs, {s.n_groups} groups"),
             ("producer", json.dumps(cert.producer))]
    body = [table(["field", "value (as recorded; the claim above binds them to the arrays)"], facts, "cert-facts")]
    if result is None:
        verdict = _verdict(False, f"not checked: {error}")
        claim, ev = _claim(None), [Evidence("this certificate", "none", f"the checker could not run: {error}")]
        rows_html = ""
    else:
        verdict = _verdict(result.ok, result.summary())
        words = result.claim.words() if result.ok and result.claim else None
        claim = _claim(words) + _rests_on(result.assumptions, result.to_dict()["theorems"])
        n_ok = int(result.accepted.sum())
        ev = [Evidence(f"{n_ok} example(s) accepted by the checker", "certified" if n_ok else "none",
                       "re-derived in sound arithmetic from the graph, the region, the spec and the producer's "
                       "anchors and slopes", tuple(result.assumptions))]
        if int((~result.accepted).sum()):
            ev.append(Evidence(f"{int((~result.accepted).sum())} example(s) not accepted", "none",
                               "no claim is made for them (reason per example below)"))
        rows_html = _example_rows(cert, result)
    anchors = "".join(f'<li><a href="#graph" data-goto-node="{esc(n)}">{esc(n)}</a> '
                      f'<span class="muted">{lo.shape[1:]} per example</span></li>'
                      for n, (lo, _) in cert.anchors.items())
    body.append(f"<details><summary>producer's anchors (intermediate bounds the checker re-derives from; "
                f"{len(cert.anchors)} nodes) and slopes ({len(cert.alphas)} arrays)</summary><ul>{anchors}</ul>"
                f"</details>")
    html = verdict + claim + rows_html + "".join(body)
    data = _thumbnails(cert)
    return View(title or f"Certificate {name}", "certificate", html, data, ev, scripts=("certificates.js",), anchor=anchor)


def _example_rows(cert: Certificate, res: CheckResult) -> str:
    labels = None
    if cert.spec.kind == "robustness":
        labels = np.argmax(cert.spec.C[:, 0, :], axis=1)
    lower = None if res.lower is None else np.min(res.lower, axis=1)
    rows = []
    for i in range(min(cert.n, MAX_ROWS)):
        acc = bool(res.accepted[i])
        margin = "-" if lower is None else num(lower[i])
        cells = [f"<td>{i}</td>", f"<td>{'' if labels is None else int(labels[i])}</td>",
                 f"<td>{'yes' if res.claimed[i] else 'no'}</td>",
                 f"<td>{'accepted' if acc else 'rejected'}</td>", f"<td>{badge(res.evidence[i])}</td>",
                 f'<td class="num">{esc(margin)}</td>', f"<td>{esc(res.reasons[i] or '')}</td>"]
        rows.append(f'<tr class="{"accepted" if acc else "rejected"}" data-example="{i}">{"".join(cells)}</tr>')
    more = f'<p class="muted">{cert.n - MAX_ROWS} more examples not listed.</p>' if cert.n > MAX_ROWS else ""
    head = "".join(f"<th>{h}</th>" for h in ("example", "label", "claimed", "checker", "evidence",
                                             "sound lower bound of the spec margin", "reason"))
    return (f'<h3>Per-example verdicts</h3><table class="cert-examples"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{more}')


def _thumbnails(cert: Certificate, k: int = 12) -> dict:
    """Region centers that are 28x28 images, for the thumbnails (first ``k``)."""
    c = cert.region.center
    if c is None or int(np.prod(cert.region.shape)) != 784:
        return {"images": []}
    return {"images": [np.round(img.reshape(28, 28), 3) for img in c[:k]]}


# ------------------------------------------------------------------------------ branch and bound

def bab_view(path, result: BabCheckResult | None = None, graph=None, vnnlib=None, title: str | None = None,
             anchor: str = "") -> View:
    """A branch-and-bound certificate: the checker's verdict and claim, the property,
    and every case's split tree (leaves name the rows of the leaf certificate)."""
    path = Path(path)
    doc = load_bab_document(path)
    error = None
    if result is None:
        try:
            result = check_bab_certificate(path, graph=graph, vnnlib=vnnlib)
        except CertnnError as e:
            error = str(e)
    if result is None:
        verdict, claim = _verdict(False, f"not checked: {error}"), _claim(None)
        ev = [Evidence("this BaB certificate", "none", f"the checker could not run: {error}")]
    else:
        text = (f"accepted: split tree covers the input box and {result.leaves} leaves re-derived "
                f"({result.cases} case(s))" if result.ok else f"REJECTED ({result.cases} case(s)): "
                + "; ".join(result.reasons))
        verdict = _verdict(result.ok, text)
        claim = _claim(result.claim()) + _rests_on(result.assumptions, result.to_dict()["theorems"])
        ev = [Evidence("the property (unsat)", "certified" if result.ok else "none",
                       "coverage of the split tree rebuilt and every leaf re-derived by the independent checker"
                       if result.ok else "rejected: no claim", tuple(result.assumptions))]
    cases = []
    for k, case in enumerate(doc["cases"]):
        # a case proved group by group on the root's bounds: one tree per group
        trees = [(p["tree"], f"{case['arrays']}, group {p['group']} ({p['rows']} leaves)")
                 for p in case["parts"]] if "parts" in case else [(case["tree"], case["leaves"])]
        for full, leaves in trees:
            cases.append({"kind": case.get("kind", "input"), "tree": full[:MAX_TREE],
                          "truncated": len(full) > MAX_TREE, "size": len(full),
                          "split_nodes": case.get("split_nodes", []),
                          "root_lo": case["root_lo"] if len(case["root_lo"]) <= 16 else None,
                          "root_hi": case["root_hi"] if len(case["root_hi"]) <= 16 else None,
                          "leaves_file": leaves})
    facts = [("file", str(path)), ("graph", doc["graph_hash"]), ("model", doc.get("model") or "-"),
             ("VNNLIB", f"{doc['property']['vnnlib']} (SHA-256 {doc['property'].get('vnnlib_sha256')})"
              if doc["property"].get("vnnlib") else "- (the property is recorded in the certificate)"),
             ("cases", len(doc["cases"])), ("semantics", doc["semantics"])]
    html = verdict + claim + table(["field", "value"], facts, "cert-facts") + \
        '<h3>Split trees</h3><p class="muted">Preorder as recorded; a split\'s first child is the low side ' \
        '(input splits: x_d &le; value; ReLU splits: z &ge; 0), a leaf names its row of the leaf certificate.</p>'
    return View(title or f"BaB certificate {path.name}", "bab", Raw(html), {"cases": cases}, ev,
                scripts=("certificates.js",), anchor=anchor)
