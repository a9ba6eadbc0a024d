"""``certnn float``: explain floating-point values, bound binary32-vs-real error."""

from __future__ import annotations

import click

from .options import NONNEGATIVE


# ---- float -------------------------------------------------------------------------------------
@click.group("float")
def float_group():
    """Floating-point semantics: explain values, bound binary32-vs-real error."""


@float_group.command("explain")
@click.argument("value")
@click.option("--format", "fmt", default="binary32", show_default=True,
              help="binary32, binary16, bfloat16, e4m3 or e5m2.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: format, bits, sign, exponent, "
              "fraction, class, value, ulp, ...")
def float_explain(value, fmt, as_json):
    """Show the bits, fields, neighbours, ulp and rounding error of VALUE
    (a decimal, inf, nan, or a hex bit pattern such as 0x3f800000)."""
    if as_json:
        import json
        from ..floats.explain import explain_fields
        click.echo(json.dumps(explain_fields(value, fmt)))
    else:
        from ..floats.explain import explain
        click.echo(explain(value, fmt))


@float_group.command("error-budget")
@click.argument("checkpoint", metavar="MODEL")
@click.option("--eps", default=0.0, show_default=True, type=NONNEGATIVE,
              help="L-inf radius of the box around each test image (clipped to [0, 1]).")
@click.option("--n", "count", default=100, show_default=True, type=click.IntRange(min=1),
              help="How many test images.")
@click.option("--order", type=click.Choice(["sequential", "any"]), default="sequential", show_default=True,
              help="sequential: certnn's binary32 order; any: valid for every summation order.")
@click.option("--data", default=None, help="MNIST folder (default: $CERTNN_DATA, then the user cache).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--grad", is_flag=True, help="Also bound the gradient of the mean cross-entropy over the "
              "images (binary32 backward vs real), per parameter.")
def float_error_budget(checkpoint, eps, count, order, data, as_json, grad):
    """Bound |binary32 - real| over boxes around MNIST test images, node by node,
    and compare with the error measured at the images themselves. MODEL: a
    checkpoint folder, graph JSON or ONNX file taking MNIST images."""
    from ..error_budget.report import error_budget_report
    error_budget_report(checkpoint, eps=eps, count=count, order=order, data=data, as_json=as_json, grad=grad)
