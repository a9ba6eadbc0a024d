"""Every op has every rule, or a listed reason why not; listed gaps must be real."""

import pytest

from certnn.errors import MissingRuleError
from certnn.ops import RULE_KINDS, all_ops, get_rule

from certnn.ops.coverage import LIMITATIONS, coverage_table

REQUIRED_NOW = ("shape", "real", "vjp", "jvp")


@pytest.mark.parametrize("op", all_ops(), ids=lambda o: o.name)
def test_every_rule_present_or_listed(op):
    for rule in RULE_KINDS:
        has = getattr(op, rule) is not None
        listed = (op.name, rule) in LIMITATIONS
        assert has or listed, f"{op.name} lacks '{rule}' and LIMITATIONS does not say why"
        assert not (has and listed), f"{op.name} now has '{rule}': remove it from LIMITATIONS"
    for rule in REQUIRED_NOW:
        assert getattr(op, rule) is not None, f"{op.name} must have '{rule}'"


def test_missing_rule_error_names_op_rule_and_module():
    op = next(o for o in all_ops() if o.relax is None)  # e.g. softmax: relaxed by its interval rule
    with pytest.raises(MissingRuleError) as e:
        get_rule(op.name, "relax")
    msg = str(e.value)
    assert op.name in msg and "relax" in msg and op.module in msg and "vjp" in msg


def test_required_op_set_is_registered():
    names = {o.name for o in all_ops()}
    required = {"matmul", "linear", "add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "relu",
                "leaky_relu", "tanh", "sigmoid", "gelu", "softplus", "abs", "maximum", "minimum",
                "sum", "mean", "max", "reshape", "flatten", "transpose", "concat", "slice", "conv2d",
                "max_pool2d", "avg_pool2d", "batch_norm", "layer_norm", "softmax", "log_softmax",
                "cross_entropy", "mse"}
    assert required <= names, sorted(required - names)


def test_coverage_table_lists_every_op():
    t = coverage_table()
    for op in all_ops():
        assert f"| {op.name} |" in t


def test_docs_ops_table_is_current():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ops.md").read_text()
    assert coverage_table() in doc, "docs/ops.md is stale: regenerate it with `certnn ops`"
