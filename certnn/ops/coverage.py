"""The op x rule coverage table. Known gaps in the op table: (op, rule) -> reason. The conformance suite fails
on a missing rule that is not listed here, and on a listed gap whose rule now
exists, so this file is always the true coverage table."""

from .registry import RULE_KINDS, all_ops

_ABSENT = {   # rules an op may lack by design, and what the interpreters do instead
    "relax": "no linear relaxation: CROWN-family bounds use the op's interval image there (a constant "
             "relaxation)",
}
# ops with no linear relaxation of their own: CROWN bounds them by their interval rule
_NO_RELAX = {
    "rms_norm": "no linear relaxation: CROWN uses the (tight) interval rule",
    "batch_norm_train": "no linear relaxation: a training-mode op (a traced graph has eval-mode batch_norm); "
                        "CROWN would use the interval rule",
    "selective_scan": "no linear relaxation: CROWN uses the interval rule (the loop over enclosures)",
}
# ops whose binary32-vs-real error rule is not written yet (the error budget
# raises UnsupportedOp on a graph that uses one of them): none left
_NO_ERROR_RULE: set[str] = set()


# partial derivatives of elementwise ops (certnn.ops.derivative) run in float64/float32 only
_FLOAT_ONLY = {
    ("derivative", "binary32"): "higher derivatives are not part of binary32 execution (float64/float32 only)",
    ("derivative", "error"): "higher derivatives are not part of binary32 execution (no error rule)",
}


def _build() -> dict[tuple[str, str], str]:
    gaps = dict(_FLOAT_ONLY)
    for op in all_ops():
        for rule, why in _ABSENT.items():
            if getattr(op, rule) is None:
                gaps[(op.name, rule)] = _NO_RELAX.get(op.name, why) if rule == "relax" else why
        if op.name in _NO_ERROR_RULE:
            gaps[(op.name, "error")] = "error rule not written yet (error budget raises UnsupportedOp)"
        if not op.elementwise:
            gaps[(op.name, "sympy_form")] = "not elementwise: checked numerically, not symbolically"
    return gaps


LIMITATIONS = _build()


def coverage_table() -> str:
    """Markdown table: one row per op, one column per rule (yes / -)."""
    head = "| op | " + " | ".join(RULE_KINDS) + " |"
    lines = [head, "|" + "---|" * (len(RULE_KINDS) + 1)]
    for op in all_ops():
        cells = ["yes" if getattr(op, r) is not None else "-" for r in RULE_KINDS]
        lines.append(f"| {op.name} | " + " | ".join(cells) + " |")
    reasons = sorted({why for why in LIMITATIONS.values()})
    lines.append("")
    lines.extend(f"- `-`: {why}" for why in reasons)
    return "\n".join(lines)
