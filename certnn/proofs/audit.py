"""``certnn audit``: every named boundary a certnn result can rest on, what it
states, and where the code relies on it, the way Lean's ``#print axioms`` lists
the axioms behind a theorem.

A boundary is a fact certnn assumes and does not prove: NumPy's float64
arithmetic is IEEE round-to-nearest, libm is within 4 ulps, and so on. Each
boundary is registered once, in the module whose arithmetic relies on it:

* ``certnn.floats.interval.ASSUMPTIONS``: sound float64 intervals;
* ``certnn.floats.b32.ASSUMPTIONS``: exact binary32 execution;
* ``certnn.bounds.semantics.ASSUMPTIONS``: what a claim in a float semantics
  says about the runtime that executes the network;
* ``certnn.verify.checker.ASSUMPTIONS``: the certificate checker;
* ``certnn.theory.accounting.ASSUMPTIONS``: differential privacy (the accountant, the mechanism, the noise).

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
              "certnn.theory.accounting")


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
    import certnn
    from ..ops import all_ops
    found = registered()
    for op in all_ops():
        for rule in ("interval", "error", "binary32"):   # rules tagged by interval.uses
            for name in getattr(getattr(op, rule, None), "assumptions", None) or ():
                _use(found, name, f"op {op.name} ({rule} rule)")
    root = Path(certnn.__file__).parent
    for info in pkgutil.walk_packages(certnn.__path__, "certnn."):
        if info.name.endswith("__main__"):   # importing it would run the command line
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:        # an optional extra (torch) that is not installed
            continue
        path = Path(getattr(module, "__file__", "") or "")
        if path.suffix != ".py":
            continue
        where = path.relative_to(root.parent).as_posix()
        for line, names in _references(module, path.read_text(), set(found)):
            for name in names:
                _use(found, name, f"{where}:{line}")
    return [found[k] for k in sorted(found)]


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


def _references(module, source: str, known: set):
    """(line, names) for each reference to a boundary in one module's source."""
    tree = ast.parse(source)
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
