"""What the graph view shows about an op: its entry in the op table (module,
docstring, flags, attribute schema), which rules it has and their docstrings,
the named assumptions a rule rests on, the gaps the coverage table lists with
their reasons, the conformance tests that exercise each rule, and the theorems of
the proof layer (:mod:`certnn.proofs.theorems`) that cover it.

The conformance evidence is a map from each rule to the tests of the suite that
check it (file, test function, what it checks, evidence level). The page
cites them; it does not run them. ``tests/widgets/test_ops_info.py`` fails
when a cited test no longer exists, so the citations stay true.
"""

from __future__ import annotations

import inspect
import re
import sys
from functools import lru_cache

from ..errors import CertnnError
from ..ops import RULE_KINDS, get_op
from ..ops.coverage import LIMITATIONS
from ..ops.registry import REQUIRED
from ..proofs.theorems import registered

# rule -> [(test file, test function, parametrized by op name?, what it checks, evidence, which ops)]
# "which ops": "all", "elementwise", or a tuple of op names.
CONFORMANCE = {
    "shape": [("tests/conformance/test_autograd_laws.py", "test_shape_rule_predicts_output", True,
               "the shape rule predicts the real rule's output shape on the op's samples", "tested", "all")],
    "real": [("tests/conformance/test_symbolic.py", "test_sympy_form_matches_real_rule", True,
              "the real rule agrees numerically with the op's sympy form", "tested", "elementwise"),
             ("tests/conformance/test_autograd_laws.py", "test_float32_stays_float32", True,
              "float32 in gives float32 out, forward and backward", "tested", "all")],
    "vjp": [("tests/conformance/test_autograd_laws.py", "test_adjoint_identity", True,
             "<v, J u> = <J^T v, u> between the jvp and vjp rules (relative error < 1e-10)", "tested", "all"),
            ("tests/conformance/test_autograd_laws.py", "test_vjp_matches_central_differences", True,
             "the vjp against central differences of the real rule", "tested", "all"),
            ("tests/conformance/test_symbolic.py", "test_sympy_derivative_equals_vjp_rule", True,
             "the sympy derivative of the forward formula equals the derivative code the vjp runs, on each "
             "side of every kink", "proved", "elementwise")],
    "jvp": [("tests/conformance/test_autograd_laws.py", "test_adjoint_identity", True,
             "<v, J u> = <J^T v, u> between the jvp and vjp rules", "tested", "all")],
    "sympy_form": [("tests/conformance/test_symbolic.py", "test_sympy_form_matches_real_rule", True,
                    "the sympy form agrees numerically with the real rule", "tested", "elementwise")],
    "binary32": [("tests/floats/test_b32.py", "test_every_op_has_a_kernel_and_a_row_in_the_table", False,
                  "every op has a binary32 kernel and a row in the semantics table", "tested", "all"),
                 ("tests/floats/test_b32.py", "test_elementwise_kernels_equal_float32_real_rules", False,
                  "elementwise kernels equal hardware float32", "tested", "elementwise"),
                 ("tests/floats/test_b32.py", "test_transcendental_correctly_rounded", False,
                  "correctly rounded against MPFR", "tested", ("exp", "log", "tanh", "sigmoid", "softplus", "gelu"))],
    "interval": [("tests/conformance/test_interval.py", "test_interval_contains_real_values", True,
                  "the interval contains the real result at random points and box corners", "tested", "all"),
                 ("tests/conformance/test_interval.py", "test_interval_contains_float32_evaluation", True,
                  "the interval contains the float32 evaluation inside the box", "tested", "all"),
                 ("tests/conformance/test_interval.py", "test_infinite_endpoints_stay_sound", True,
                  "infinite endpoints give no NaN", "tested", "all")],
    "error": [("tests/conformance/test_error_rules.py", "test_error_rule_bounds_binary32_minus_real", True,
               "the error rule bounds |binary32 kernel - real| on samples, random points and corners", "tested",
               "all"),
              ("tests/conformance/test_error_rules.py", "test_any_order_bound_holds_for_pairwise_kernel", True,
               "the any-order bound holds for the pairwise kernel", "tested", "all")],
    "relax": [("tests/ops/test_relax.py", "test_lines_enclose_the_function", True,
               "the lines enclose the function on [l, u] for any interval and slope", "tested",
               ("relu", "leaky_relu", "abs", "sigmoid", "tanh")),
              ("tests/bounds/test_soundness.py", "", False,
               "CROWN-family bounds contain sampled and PGD outputs on every zoo model", "tested", "all")],
}


AFFINE_DOC = ("AFFINE: the op is affine in its variable inputs; CROWN passes it exactly through its own vjp "
              "rule, and its constant term is the real rule at 0 (certnn/ops/relax.py)")


def _applies(which, op) -> bool:
    return which == "all" or (which == "elementwise" and op.elementwise) or \
        (isinstance(which, tuple) and op.name in which)


def _doc(fn) -> str:
    if fn is None:
        return ""
    if isinstance(fn, str):            # the AFFINE marker of the relax slot
        return AFFINE_DOC
    doc = inspect.getdoc(fn) or ""
    if not doc and hasattr(fn, "func"):   # functools.partial
        doc = inspect.getdoc(fn.func) or ""
    return doc


def _where(fn) -> str:
    if isinstance(fn, str):
        return "certnn.ops.relax.AFFINE"
    try:
        target = getattr(fn, "func", fn)
        return f"{target.__module__}.{target.__qualname__}"
    except AttributeError:
        return type(fn).__name__


_COVERS_OP = re.compile(r"^op (\S+) \(([^)]*)\)")
# theorem covers name the code by what it does; map those words onto the op table's rule kinds
_RULE_OF = {"grads": "vjp"}


@lru_cache(maxsize=1)
def op_theorems() -> dict:
    """op name -> rule -> [theorem summary] from the theorem registry (``certnn prove --list``),
    read off each theorem's ``covers`` entries of the form ``op NAME (rule, rule, ...)``."""
    out: dict = {}
    for th in registered().values():
        for c in th.covers:
            m = _COVERS_OP.match(c)
            if m:
                for rule in {_RULE_OF.get(r.strip(), r.strip()) for r in m.group(2).split(",")}:
                    out.setdefault(m.group(1), {}).setdefault(rule, []).append(
                        {"name": th.name, "evidence": th.evidence, "statement": th.statement, "domain": th.domain})
    return out


@lru_cache(maxsize=None)
def op_info(name: str) -> dict:
    """Everything the graph view's side panel shows for op ``name`` (the op table does
    not change while a process runs; callers must not modify the dict)."""
    op = get_op(name)
    theorems = op_theorems().get(name, {})
    rules = []
    for kind in RULE_KINDS:
        fn = getattr(op, kind)
        tests = [{"test": f"{path}::{func}" + (f"[{name}]" if param else "") if func else path,
                  "checks": what, "evidence": ev}
                 for path, func, param, what, ev, which in CONFORMANCE.get(kind, []) if _applies(which, op)]
        rules.append({"rule": kind, "present": fn is not None, "where": _where(fn) if fn is not None else None,
                      "doc": _doc(fn), "assumptions": list(getattr(fn, "assumptions", ()) or ()),
                      "gap": LIMITATIONS.get((name, kind)), "tests": tests if fn is not None else [],
                      "theorems": theorems.get(kind, []) if fn is not None else []})
    module_doc = inspect.getdoc(sys.modules.get(op.module)) or ""
    return {"name": op.name, "module": op.module, "doc": op.doc or module_doc, "formula": _formula(op),
            "arity": list(op.arity), "attrs": {k: ("REQUIRED" if v is REQUIRED else repr(v)) for k, v in op.attrs.items()},
            "flags": [f for f in ("elementwise", "linear", "vjp_needs") if getattr(op, f)],
            "rules": rules}


def _formula(op) -> str | None:
    """The forward formula of an elementwise op, from its sympy form (default attributes)."""
    if op.sympy_form is None:
        return None
    import sympy
    try:
        syms = sympy.symbols("x y z")[:op.arity[0]]
        return str(op.sympy_form(*syms, **op.normalize({})))
    except (CertnnError, TypeError, ValueError):   # an attribute without default, or a form that needs more
        return None
