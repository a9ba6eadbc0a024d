"""The options of the bound methods: one object for all of them, validated once.

=============  ===============================  =====================================
option         methods                          meaning
=============  ===============================  =====================================
iters          alpha-crown                      Adam steps per target (>= 0)
lr             alpha-crown                      Adam step size (finite, > 0)
lirpa_compat   ibp, crown-ibp                   auto_LiRPA's IBP on L2/L1 balls
alpha_mode     alpha-crown                      "spec": optimise the spec rows only,
                                                intermediate bounds fixed (default);
                                                "full": every intermediate bound too
=============  ===============================  =====================================

An option a method does not use is an error (``compute_bounds(g, r,
method="ibp", iters=20)`` says that ``iters`` belongs to alpha-crown), never
silently ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..errors import CertnnError

TAKES = {"ibp": ("lirpa_compat",), "crown": (), "crown-ibp": ("lirpa_compat",), "same-slope": (),
         "alpha-crown": ("iters", "lr", "alpha_mode")}
ALPHA_MODES = ("spec", "full")


class OptionError(CertnnError, ValueError):
    """An option is unknown, has a bad value, or does not apply to the method."""


@dataclass(frozen=True)
class BoundOptions:
    iters: int = 20
    lr: float = 0.1
    lirpa_compat: bool = False
    alpha_mode: str = "spec"

    def check(self, method: str, given=()) -> "BoundOptions":
        """``self`` if its values are valid and every option that is ``given``
        explicitly or differs from its default is one ``method`` takes."""
        if method not in TAKES:
            raise OptionError(f"unknown method {method!r}; use one of {', '.join(TAKES)}")
        if isinstance(self.iters, bool) or not isinstance(self.iters, int) or self.iters < 0:
            raise OptionError(f"option iters must be an integer >= 0, got {self.iters!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not (math.isfinite(self.lr)
                                                                                       and self.lr > 0):
            raise OptionError(f"option lr must be a finite number > 0, got {self.lr!r}")
        if not isinstance(self.lirpa_compat, bool):
            raise OptionError(f"option lirpa_compat must be True or False, got {self.lirpa_compat!r}")
        if self.alpha_mode not in ALPHA_MODES:
            raise OptionError(f"option alpha_mode must be one of {', '.join(ALPHA_MODES)}, got {self.alpha_mode!r}")
        default = BoundOptions()
        for f in fields(self):
            used = f.name in given or getattr(self, f.name) != getattr(default, f.name)
            if used and f.name not in TAKES[method]:
                users = [m for m, names in TAKES.items() if f.name in names]
                takes = ", ".join(TAKES[method]) or "no options"
                raise OptionError(f"option {f.name!r} does not apply to method {method!r} (it is an option of "
                                  f"{', '.join(users)}; {method} takes {takes})")
        return self


def bound_options(method: str, options: BoundOptions | None = None, **kw) -> BoundOptions:
    """The options for ``method``: ``options`` (default: the defaults) updated by the
    keywords ``kw``, validated (see :meth:`BoundOptions.check`)."""
    names = {f.name for f in fields(BoundOptions)}
    unknown = sorted(set(kw) - names)
    if unknown:
        raise OptionError(f"unknown bound option(s) {', '.join(map(repr, unknown))}; the options are "
                          f"{', '.join(sorted(names))}")
    return replace(options or BoundOptions(), **kw).check(method, given=tuple(kw))
