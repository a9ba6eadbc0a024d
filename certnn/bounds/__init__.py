"""Bound propagation as interpreters of the op table: IBP (``interval`` rules),
CROWN, CROWN-IBP, same-slope CROWN and alpha-CROWN (``relax`` rules plus the
affine ops' own ``vjp``/``real`` rules)."""

import numpy as np

from .crown import alpha_crown, crown  # noqa: F401
from .ibp import ibp  # noqa: F401
from ..spec import Region, RegionError  # noqa: F401
from .options import BoundOptions, OptionError, bound_options  # noqa: F401
from .result import Bounds  # noqa: F401
from ..spec import LinearSpec, SpecError  # noqa: F401

METHODS = ("ibp", "crown", "crown-ibp", "same-slope", "alpha-crown")


def compute_bounds(graph, region, spec=None, method: str = "crown", semantics: str = "real",
                   options: BoundOptions | None = None, **kw) -> Bounds:
    """One entry point for every method and execution semantics (see
    :mod:`certnn.bounds.semantics`). The method's options come as ``options``
    and/or keywords (``iters=30``), validated once (:mod:`certnn.bounds.options`).
    A bound is never NaN: where float64 overflows (huge regions), it is -inf/+inf."""
    from .semantics import check_semantics, widen
    check_semantics(semantics)
    opts = bound_options(method, options, **kw)
    # overflow and inf - inf on huge regions are expected: the results turn NaN into -inf/+inf
    with np.errstate(over="ignore", invalid="ignore"):
        if method == "ibp":
            b = ibp(graph, region, spec, lirpa_compat=opts.lirpa_compat)
        else:
            b = crown(graph, region, spec, method=method, iters=opts.iters, lr=opts.lr,
                      lirpa_compat=opts.lirpa_compat, alpha_mode=opts.alpha_mode)
        return widen(b, graph, region, spec, semantics)
