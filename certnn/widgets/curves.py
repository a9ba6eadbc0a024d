"""Training curves: loss and accuracy per epoch from a training log
(``training.json``, :func:`certnn.zoo.train.save_training_log`), and, for any
other log, every list of ``(x, y)`` pairs it holds (return curves, losses over
environment steps) drawn as its own chart."""

from __future__ import annotations

import numbers

from .page import Evidence, View, esc, num, table

SKIP = {"epoch", "seconds", "train_seconds"}


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def charts_of(doc: dict) -> list:
    """Charts ``{title, xlabel, series: [{name, x, y}]}`` found in a log document."""
    charts = []
    history = doc.get("history")
    if isinstance(history, list) and history and all(isinstance(h, dict) for h in history):
        xkey = "epoch" if "epoch" in history[0] else None
        xs = [h.get(xkey, i + 1) if xkey else i + 1 for i, h in enumerate(history)]
        keys = [k for k in history[0] if k not in SKIP and all(_is_number(h.get(k)) for h in history)]
        groups = {"loss": [k for k in keys if "loss" in k], "accuracy": [k for k in keys if "accuracy" in k]}
        groups.update({k: [k] for k in keys if k not in groups["loss"] + groups["accuracy"]})
        for title, ks in groups.items():
            if ks:
                charts.append({"title": title, "xlabel": xkey or "record",
                               "series": [{"name": k, "x": xs, "y": [h[k] for h in history]} for k in ks]})
    for key, v in doc.items():
        if key != "history" and isinstance(v, list) and len(v) >= 1 and all(
                isinstance(p, (list, tuple)) and len(p) == 2 and all(map(_is_number, p)) for p in v):
            charts.append({"title": key.replace("_", " "), "xlabel": "step",
                           "series": [{"name": key, "x": [p[0] for p in v], "y": [p[1] for p in v]}]})
    return charts


def curves_view(doc: dict, title: str = "Training curves", source: str = "", anchor: str = "training") -> View:
    charts = charts_of(doc)
    summary = doc.get("summary") or {}
    rows = [[k, num(v) if isinstance(v, float) else v] for k, v in summary.items() if v is not None]
    body = (f'<p class="muted">{esc(source)}</p>' if source else "") + \
        (table(["quantity", "value"], rows, "training-summary") if rows else "")
    if not charts:
        body += '<p class="muted">This log holds no curves.</p>'
    ev = [Evidence("losses, accuracies and returns", "tested",
                   "measured during training on the data seen (accuracy on the test split is a sample estimate, "
                   "not a guarantee)")]
    return View(title, "curves", body, {"charts": charts}, ev, scripts=("curves.js",), anchor=anchor)
