"""``certnn approx``: a ReLU network within delta of a function, certified."""

from __future__ import annotations

import json

import click


@click.command("approx")
@click.argument("expression")
@click.option("--box", required=True, help="The domain, one interval per variable (x, y, z): [0,3.14]x[0,3.14].")
@click.option("--delta", required=True, type=float, help="Tolerance: certify sup |N - f| <= delta.")
@click.option("--construction", type=click.Choice(["interpolation", "explicit-width", "baader"]),
              default="interpolation", show_default=True)
@click.option("--out", default=None, help="Folder for the network (a certnn checkpoint) and its certificate.")
@click.option("--onnx", default=None, help="Also export the network to this ONNX file.")
@click.option("--budget", type=float, default=300.0, show_default=True, help="Seconds of branching.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def approx_cmd(expression, box, delta, construction, out, onnx, budget, as_json):
    """Build a ReLU network N for EXPRESSION (a function of x, y, z) on --box and
    certify sup |N - f| <= --delta (N by Taylor-model bounds of its graph, f by
    outward-rounded interval arithmetic, over an adaptive box partition that
    the independent checker re-derives)."""
    from ..approx.certify import approximate
    from ..approx.target import Target
    res = approximate(Target.parse(expression, box), delta, construction, budget, out, onnx)
    if as_json:
        click.echo(json.dumps(res))
    else:
        verdict = res["evidence"] or "NOT certified"
        click.echo(f"{res['construction']}: {res['neurons']} neurons; sup |N - f| <= {res['certified_error']:.4g} "
                   f"({verdict}, delta {delta:g}; measured {res['measured_error']:.4g}, {res['boxes']} boxes)")
        if "ibp_check" in res:
            c = res["ibp_check"]
            click.echo(f"  interval property on {c['boxes']} random boxes: {c['passed']} pass "
                       f"(worst margin {c['worst_margin']:.3g})")
        for k in ("checkpoint", "certificate", "onnx"):
            if k in res:
                click.echo(f"  {k}: {res[k]}")
    if not res["within_delta"]:
        raise SystemExit(1)
