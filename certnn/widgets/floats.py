"""Float views: a number in every supported format (its bits as sign / exponent /
fraction fields, exact value, neighbours, ulp, and the rounding of a decimal
input), from :mod:`certnn.floats.explain`; and the error-budget report per node,
the sound bound against the error measured at the images."""

from __future__ import annotations

from ..floats.explain import explain, explain_fields
from ..floats.formats import FORMATS, FloatFormatError
from .page import Evidence, Raw, View, esc, num, table

FORMAT_ORDER = ("binary64", "binary32", "binary16", "bfloat16", "e4m3", "e5m2")


def float_data(values, formats=FORMAT_ORDER) -> dict:
    """Per value, per format: the fields (bits for the bit boxes) and the explain report."""
    out = []
    for v in values:
        per = []
        for name in formats:
            fmt = FORMATS[name]
            try:
                f = explain_fields(str(v), name)
                text = explain(str(v), name)
            except FloatFormatError as e:   # a bit pattern of another width: say so for this format
                per.append({"format": name, "error": str(e)})
                continue
            bits = format(int(f["bits"], 16), f"0{fmt.width}b")
            per.append({"format": name, "bits": bits, "ebits": fmt.ebits, "fbits": fmt.fbits, "bias": fmt.bias,
                        "fields": f, "report": text})
        out.append({"input": str(v), "formats": per})
    return {"values": out}


def floats_view(values, title: str = "Floats", anchor: str = "floats", note: str = "") -> View:
    """The bits of each value in each supported format (``values``: decimal strings,
    "inf", "nan" or bit patterns such as "0x3f800000")."""
    data = float_data(values)
    rows = []
    for v in data["values"]:
        for f in v["formats"]:
            if "error" in f:
                continue
            fl = f["fields"]
            rows.append([v["input"], f["format"], fl["bits"], fl["class"], fl["shortest"], fl["ulp_pow2"] or "-",
                         ", ".join(fl["flags"] or []) or "exact"])
    body = (f'<p class="muted">{esc(note)}</p>' if note else "") + \
        table(["input", "format", "bits", "class", "shortest decimal that reads back", "ulp", "rounding flags"],
              rows, "float-summary")
    ev = [Evidence("bits, exact values, neighbours, ulp and rounding errors", "checked",
                   "exact rational arithmetic in certnn.floats.kernel (tested bit for bit against NumPy float32, "
                   "MPFR and ml_dtypes; the binary32 rounding lemma is proved with z3: certnn float explain)")]
    return View(title, "floats", body, data, ev, scripts=("floats.js",), anchor=anchor)


def budget_view(report: dict, title: str = "binary32 error budget", anchor: str = "error-budget") -> View:
    """The error-budget report (``certnn float error-budget --json``, or the run folder's
    error-budget.json): per node the sound bound on |binary32 - real| against the
    largest error measured at the images."""
    nodes = report.get("nodes", [])
    rows = []
    for n in nodes:
        b, m = n.get("max_bound"), n.get("max_measured")
        ratio = "-" if not m else num(b / m, 3)
        rows.append([Raw(f'<a href="#graph" data-goto-node="{esc(n["node"])}">{esc(n["node"])}</a>'), n["op"],
                     num(b, 4), "-" if m is None else num(m, 4), ratio,
                     "-" if m is None else ("yes" if m <= b else "NO")])
    holds = report.get("bound_holds_at_images")
    head = (f"<p>Over {report.get('images')} test images (box radius eps = {report.get('eps')}, order "
            f"{esc(report.get('order'))}): largest bound {num(report.get('max_bound', float('nan')), 4)}, largest "
            f"measured error {num(report.get('max_measured_at_images', report.get('max_measured', float('nan'))), 4)}; "
            f"bound holds at every image: <b>{esc(holds)}</b>.</p>")
    body = head + table(["node", "op", "sound bound (max)", "measured at the images (max)", "bound / measured",
                         "bound holds"], rows, "budget-nodes")
    ev = [Evidence("error bounds per node", report.get("evidence", "checked"),
                   "sound outward-rounded arithmetic over the whole input box", tuple(report.get("assumptions", ()))),
          Evidence("measured errors", "tested", "|binary32 - real| at the images themselves (a lower estimate of "
                   "the worst case)")]
    data = {"nodes": [{"node": n["node"], "bound": n.get("max_bound"), "measured": n.get("max_measured")}
                      for n in nodes]}
    return View(title, "budget", body, data, ev, scripts=("floats.js",), anchor=anchor)
