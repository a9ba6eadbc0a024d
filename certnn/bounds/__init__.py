"""Bound propagation as interpreters of the op table: IBP (``interval`` rules),
CROWN, CROWN-IBP, same-slope CROWN and alpha-CROWN (``relax`` rules plus the
affine ops' own ``vjp``/``real`` rules)."""

from .crown import alpha_crown, crown  # noqa: F401
from .ibp import ibp  # noqa: F401
from .region import Region, RegionError  # noqa: F401
from .result import Bounds  # noqa: F401
from .spec import LinearSpec, SpecError  # noqa: F401

METHODS = ("ibp", "crown", "crown-ibp", "same-slope", "alpha-crown")


def compute_bounds(graph, region, spec=None, method: str = "crown", **kw) -> Bounds:
    """One entry point for every method."""
    if method == "ibp":
        return ibp(graph, region, spec, **kw)
    return crown(graph, region, spec, method=method, **kw)
