"""The op table: one ``OpDef`` per op, holding every meaning of the op side by side.

Rule signatures (``xs`` are NumPy arrays, ``attrs`` keyword arguments already
normalised by :meth:`OpDef.normalize`):

==========  ================================================  =========================
rule        signature                                         returns
==========  ================================================  =========================
shape       ``shape(in_shapes, **attrs)``                     output shape (tuple; a
                                                              ``None`` entry is a
                                                              dynamic batch dimension)
real        ``real(*xs, **attrs)``                            output array, computed in
                                                              the inputs' float dtype
vjp         ``vjp(ct, out, *xs, [needs=], **attrs)``          tuple, one cotangent per
                                                              input (``None`` for a
                                                              non-differentiable input);
                                                              may have the broadcast
                                                              shape: the walker sums it
                                                              back to the input shape
jvp         ``jvp(tangents, out, *xs, **attrs)``              output tangent; ``tangents``
                                                              has one array per input
                                                              (zeros for none)
sympy_form  ``sympy_form(*symbols, **attrs)``                 a sympy expression of the
                                                              forward (elementwise ops)
binary32    ``binary32(*xs, order=, backend=, **attrs)``      the bit-exact binary32 result
                                                              (kernels in certnn.floats.b32)
interval    ``interval(los, his, **attrs)``                   (lo, hi) enclosing the real
                                                              result over the input box
error       ``error(los, his, errs, out_lo, out_hi,           bound on |binary32 - real|
            order=, **attrs)``                                given input enclosures and
                                                              input error bounds
relax       ``relax(l, u, alpha=, mode=, **attrs)``           lines ``(lw, lb, uw, ub)``
                                                              below/above the op on the
            (or ``AFFINE``: CROWN passes the op exactly      input box ``[l, u]``
            through its vjp)
==========  ================================================  =========================

Beside the rules, an op whose parameter cotangent contracts over the batch
(``linear``, ``conv2d``) may give ``vjp_per_example(ct, out, *xs, index=,
**attrs)``: the cotangent of input ``index`` for each example separately, shape
``(N,) + xs[index].shape``, whose sum over the first axis is the ``vjp`` rule's
cotangent (the per-example gradient walk of :mod:`certnn.optim.per_example`;
elementwise ops need none: their broadcast cotangent already has the batch axis).
``vjp_per_example_factors`` (same arguments) may give that cotangent as factors
``(a, b)``, ``G[n] = a[n]^T b[n]``, so that per-example norms and weighted sums
need not form the ``(N,) + shape`` array (``linear``'s weight: ``ct`` and ``x``).

Beside the rules, ``tangent(ap, ts, xs, y, **attrs)`` is the jvp written with ops
instead of arrays: ``ap(op_name, *args, **attrs)`` applies an op in the
caller's arithmetic (graph nodes, eager tensors, intervals), ``ts`` holds one
tangent per input (``None`` for zero), ``xs`` the primal inputs and ``y`` the
output; it returns
the output tangent (``None`` for zero). Forward-mode derivatives built from it
are ops again, so they can be differentiated, bounded and nested
(:mod:`certnn.ops.derivative` derives it for elementwise and linear ops).

Kink convention (the same in every interpreter): where an op is not
differentiable, its derivative is the element of minimal norm of the Clarke
generalized gradient: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = slope,
max(a, b) at a tie gives 1/2 to each argument, and a max reduction or max pool
splits the cotangent evenly between tied maxima.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import MissingRuleError, ShapeError

RULE_KINDS = ("shape", "real", "vjp", "jvp", "sympy_form", "binary32", "interval", "error", "relax")

_REGISTRY: dict[str, "OpDef"] = {}


@dataclass(frozen=True)
class Sample:
    """One conformance-test point: input arrays and attributes."""

    inputs: tuple
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OpDef:
    name: str
    module: str
    arity: tuple[int, ...]          # allowed input counts; (-1,) means any count >= 1
    attrs: dict[str, Any]           # attribute schema: name -> default (REQUIRED for none)
    shape: Callable
    real: Callable
    vjp: Callable | None = None
    jvp: Callable | None = None
    sympy_form: Callable | None = None
    binary32: Callable | None = None
    interval: Callable | None = None
    error: Callable | None = None    # binary32-vs-real error propagation (error_budget)
    relax: Callable | None = None
    samples: Callable | None = None  # rng -> list[Sample], for the conformance suite
    grads: Callable | None = None    # elementwise ops: partial derivatives over ``xp``
    tangent: Callable | None = None  # jvp written with ops (see the module docstring); derived when None
    elementwise: bool = False
    linear: bool = False            # linear in all differentiable inputs jointly
    differentiable: tuple[bool, ...] | None = None  # per input; None = all
    vjp_needs: bool = False         # vjp takes ``needs=`` (which inputs want a cotangent) to skip work
    vjp_per_example: Callable | None = None  # per-example cotangent of a batch-free input (see above)
    vjp_per_example_factors: Callable | None = None  # the same as factors (a, b), or None for an input
    doc: str = ""

    def rules(self) -> list[str]:
        return [k for k in RULE_KINDS if getattr(self, k) is not None]

    def is_differentiable(self, i: int) -> bool:
        return self.differentiable is None or (i < len(self.differentiable) and self.differentiable[i])

    def check_arity(self, n: int) -> None:
        if self.arity != (-1,) and n not in self.arity:
            want = " or ".join(str(a) for a in self.arity)
            raise ShapeError(f"{self.name}: expected {want} inputs, got {n}")
        if self.arity == (-1,) and n < 1:
            raise ShapeError(f"{self.name}: expected at least one input")

    def normalize(self, attrs: dict) -> dict:
        """Fill defaults, reject unknown attributes, turn lists into tuples (so
        attributes read back from JSON compare and hash equal)."""
        unknown = set(attrs) - set(self.attrs)
        if unknown:
            raise ShapeError(f"{self.name}: unknown attribute(s) {sorted(unknown)}; "
                             f"known: {sorted(self.attrs)}")
        out = {}
        for k, default in self.attrs.items():
            if k in attrs:
                out[k] = _freeze(attrs[k])
            elif default is REQUIRED:
                raise ShapeError(f"{self.name}: missing required attribute '{k}'")
            else:
                out[k] = default
        return out


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()


def _freeze(v):
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:  # numpy scalar
        return v.item()
    return v


def register(op: OpDef) -> OpDef:
    if op.name in _REGISTRY:
        raise ValueError(f"op '{op.name}' registered twice ({_REGISTRY[op.name].module}, {op.module})")
    _REGISTRY[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MissingRuleError(f"unknown op '{name}'; known ops: {', '.join(sorted(_REGISTRY))}") from None


def get_rule(name: str, kind: str) -> Callable:
    op = get_op(name)
    rule = getattr(op, kind, None) if kind in RULE_KINDS else None
    if rule is None:
        raise MissingRuleError(
            f"op '{name}' (defined in {op.module}) has no '{kind}' rule; it has: {', '.join(op.rules())}")
    return rule


def attach(kind: str, table: dict[str, Callable]) -> None:
    """Fill rule ``kind`` of the named ops from ``table`` (used for the binary32
    kernels, which share one accumulation engine in certnn.floats.b32)."""
    from dataclasses import replace
    for name, fn in table.items():
        _REGISTRY[name] = replace(get_op(name), **{kind: fn})


def all_ops() -> list[OpDef]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def missing_rules(ops: Iterable[str], kind: str) -> list[str]:
    """Names of the given ops that lack ``kind``: interpreters report them all at once."""
    return sorted({o for o in ops if getattr(get_op(o), kind, None) is None})
