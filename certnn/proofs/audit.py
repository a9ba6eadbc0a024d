"""``certnn audit``: every named boundary a certnn result can rest on, what it
states, and where the code relies on it, the way Lean's ``#print axioms`` lists
the axioms behind a theorem; and, beside them, the theorems results rest on
(:func:`theorem_audit`, from the registry of :mod:`certnn.proofs.theorems`).

A boundary is a fact certnn assumes and does not prove: NumPy's float64
arithmetic is IEEE round-to-nearest, libm is within 4 ulps, and so on. Each
boundary is registered once, in the module whose arithmetic relies on it:

* ``certnn.floats.interval.ASSUMPTIONS``: sound float64 intervals and Arb's
  rigorous ball arithmetic;
* ``certnn.floats.b32.ASSUMPTIONS``: exact binary32 execution;
* ``certnn.bounds.semantics.ASSUMPTIONS``: what a claim in a float semantics
  says about the runtime that executes the network;
* ``certnn.verify.checker.ASSUMPTIONS``: the certificate checker;
* ``certnn.control.problem``, ``.reach``: the problem reader's expression
  translation, simulation tolerances (Arb's ball arithmetic, which the control
  Taylor models use, is registered in ``certnn.floats.interval``);
* ``certnn.pinn.error.ASSUMPTIONS``: the maximum principles behind PINN error bounds;
* ``certnn.theory.accounting.ASSUMPTIONS``: differential privacy (the accountant, the mechanism, the noise);
* ``certnn.bugzoo.card``: what the BugZoo contracts rest on (sampled
  properties, ml_dtypes' bfloat16 rounding).

Results name the boundaries they rest on in their ``assumptions``. The audit
joins the registries with the places that use them:

* the op table: each op's ``assumes``, the boundaries of its interval rule;
* the source: every reference to a boundary, found by parsing the package with
  ``ast``. A reference is either the boundary's name as a string literal or a
  module-level constant whose value is one or more boundary names (such as
  ``interval.LIBM``). References are resolved through the imported modules, so
  ``iv.LIBM`` and ``from .interval import LIBM`` both count.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

REGISTRIES = ("certnn.floats.interval", "certnn.floats.b32", "certnn.bounds.semantics", "certnn.verify.checker",
              "certnn.control.taylor", "certnn.control.problem", "certnn.control.reach", "certnn.pinn.error",
              "certnn.rl.theorems", "certnn.rl.contract", "certnn.theory.accounting", "certnn.theory.scatter",
              "certnn.bugzoo.card")


@dataclass
class Boundary:
    name: str
    statement: str
    registry: str                                  # the module that registers it
    used_by: list = field(default_factory=list)    # "op tanh (interval)" or "certnn/x.py:12"

    def to_dict(self) -> dict:
        return {"name": self.name, "statement": self.statement, "registry": self.registry,
                "used_by": list(self.used_by)}


def registered() -> dict:
    """name -> Boundary, from every registry (a name registered twice is an error)."""
    out: dict[str, Boundary] = {}
    for mod in REGISTRIES:
        for name, statement in importlib.import_module(mod).ASSUMPTIONS.items():
            if name in out:
                raise ValueError(f"boundary {name!r} is registered by both {out[name].registry} and {mod}")
            out[name] = Boundary(name, statement, mod)
    return out


def audit() -> list[Boundary]:
    """Every registered boundary with the places that rely on it, sorted by name."""
    from ..ops import all_ops
    found = registered()
    for op in all_ops():
        for rule in ("interval", "error", "binary32"):   # rules tagged by interval.uses
            for name in getattr(getattr(op, rule, None), "assumptions", None) or ():
                _use(found, name, f"op {op.name} ({rule} rule)")
    for module, where, tree in _sources():
        for line, names in _references(module, tree, set(found)):
            for name in names:
                _use(found, name, f"{where}:{line}")
    return [found[k] for k in sorted(found)]


def _sources():
    """(module, path relative to the project, parsed source) for every module of the package."""
    import certnn
    root = Path(certnn.__file__).parent
    for info in pkgutil.walk_packages(certnn.__path__, "certnn."):
        if info.name.endswith("__main__"):   # importing it would run the command line
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:        # an optional extra (torch) that is not installed
            continue
        path = Path(getattr(module, "__file__", "") or "")
        if path.suffix == ".py":
            yield module, path.relative_to(root.parent).as_posix(), ast.parse(path.read_text())


def _use(found, name, where):
    if name not in found:
        raise ValueError(f"{where} relies on the unregistered boundary {name!r}")
    if where not in found[name].used_by:
        found[name].used_by.append(where)


def _names_in(value, known) -> tuple:
    """The boundary names a value stands for: a name, or a tuple of names."""
    if isinstance(value, str) and value in known:
        return (value,)
    if isinstance(value, tuple) and value and all(isinstance(v, str) and v in known for v in value):
        return value
    return ()


def _references(module, tree, known: set):
    """(line, names) for each reference to a boundary in one module's source."""
    definitions = {id(k) for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Dict)
                   and any(isinstance(t, ast.Name) and t.id == "ASSUMPTIONS" for t in n.targets)
                   for k in n.value.keys}     # a registry's own keys define, they do not use
    for node in ast.walk(tree):
        names = ()
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in definitions:
            names = _names_in(node.value, known)
        elif isinstance(node, ast.Name):
            names = _names_in(getattr(module, node.id, None), known)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = getattr(module, node.value.id, None)
            if owner is not None and type(owner).__name__ == "module":
                names = _names_in(getattr(owner, node.attr, None), known)
        if names:
            yield node.lineno, names


# ---- theorems: which results rest on which (certnn prove) ------------------------------------

@dataclass
class TheoremUse:
    theorem: object                                # certnn.proofs.theorems.Theorem
    used_by: list = field(default_factory=list)    # "certnn/x.py:12"

    def to_dict(self) -> dict:
        return {**self.theorem.to_dict(), "used_by": list(self.used_by)}


def _is_theorems_name(name: str) -> bool:
    return name == "theorems" or name.endswith("THEOREMS_USED")


def _theorem_values(node) -> list:
    """The value expressions a module gives to a ``theorems`` field: keyword
    arguments ``theorems=``, dict entries ``"theorems": ...``, and assignments to
    ``theorems``, ``x.theorems`` or a constant named ``*THEOREMS_USED``."""
    if isinstance(node, ast.keyword) and node.arg == "theorems":
        return [node.value]
    if isinstance(node, ast.Dict):
        return [v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and k.value == "theorems"]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    for t in targets:
        name = t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else ""
        if _is_theorems_name(name) and node.value is not None:
            return [node.value]
    return []


def _named(module, value) -> list[str]:
    """Theorem names (or patterns) in a value expression: string literals and
    module-level constants holding them."""
    out = []
    for n in ast.walk(value):
        v = None
        if isinstance(n, ast.Constant):
            v = n.value
        elif isinstance(n, ast.Name):
            v = getattr(module, n.id, None)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            owner = getattr(module, n.value.id, None)
            v = getattr(owner, n.attr, None) if type(owner).__name__ == "module" else None
        for s in ((v,) if isinstance(v, str) else v if isinstance(v, tuple) else ()):
            if isinstance(s, str) and "/" in s:
                out.append(s)
    return out


def theorem_references() -> list[tuple[str, str]]:
    """(theorem name or pattern, "file:line") for every place the code says a
    result rests on a theorem. Only modules whose source mentions ``theorems``
    or ``THEOREMS_USED`` are imported and parsed."""
    import certnn
    root = Path(certnn.__file__).parent
    refs = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "theorems" not in source and "THEOREMS_USED" not in source:
            continue
        rel = path.relative_to(root.parent).with_suffix("")
        module = importlib.import_module(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
        where, tree = path.relative_to(root.parent).as_posix(), ast.parse(source)
        for node in ast.walk(tree):
            for value in _theorem_values(node):
                refs += [(name, f"{where}:{value.lineno}") for name in _named(module, value)]
    return refs


def theorem_audit() -> list[TheoremUse]:
    """Every registered theorem with the places whose results rest on it; a
    reference that names no theorem is an error."""
    from .theorems import matches
    from .theorems import registered as theorems
    table = {name: TheoremUse(t) for name, t in theorems().items()}
    for ref, where in theorem_references():
        found = matches(ref, table)
        if not found:
            raise ValueError(f"{where} rests on {ref!r}, which names no registered theorem")
        for name in found:
            if where not in table[name].used_by:
                table[name].used_by.append(where)
    return list(table.values())
