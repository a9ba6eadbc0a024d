"""Known gaps in the op table: (op, rule) -> reason. The conformance suite fails
on a missing rule that is not listed here, and on a listed gap whose rule now
exists, so this file is always the true coverage table."""

from certnn.ops import all_ops

_LATER = {
    "binary32": "bit-exact binary32 kernels come with the float-semantics issue (#3)",
    "interval": "outward-rounded interval rules come with the float-semantics issue (#3)",
    "relax": "linear relaxations come with the verification-core issue (#4)",
}


def _build() -> dict[tuple[str, str], str]:
    gaps = {}
    for op in all_ops():
        for rule, why in _LATER.items():
            gaps[(op.name, rule)] = why
        if not op.elementwise:
            gaps[(op.name, "sympy_form")] = "not elementwise: checked numerically, not symbolically"
    return gaps


LIMITATIONS = _build()
