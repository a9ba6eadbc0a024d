"""Bound propagation as interpreters of the op table: IBP (``interval`` rules),
CROWN, CROWN-IBP, same-slope CROWN and alpha-CROWN (``relax`` rules plus the
affine ops' own ``vjp``/``real`` rules)."""

from .crown import alpha_crown, crown  # noqa: F401
from .ibp import ibp  # noqa: F401
from ..spec import Region, RegionError  # noqa: F401
from .result import Bounds  # noqa: F401
from ..spec import LinearSpec, SpecError  # noqa: F401

METHODS = ("ibp", "crown", "crown-ibp", "same-slope", "alpha-crown")


def compute_bounds(graph, region, spec=None, method: str = "crown", semantics: str = "real", **kw) -> Bounds:
    """One entry point for every method and execution semantics (see
    :mod:`certnn.bounds.semantics`)."""
    from .semantics import check_semantics, widen
    check_semantics(semantics)
    if method == "ibp":
        b = ibp(graph, region, spec, **kw)
    else:
        b = crown(graph, region, spec, method=method, **kw)
    return widen(b, graph, region, spec, semantics)
