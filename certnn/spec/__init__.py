"""What a verification question is about: an input region (a box or a norm ball
around points) and a linear output specification. Bound propagation
(``certnn.bounds``), the verifiers and the independent checker (``certnn.verify``)
and the VNNLIB reader all speak these two types; they sit below all of them so
that the checker need not import the producers."""

from .linear import LinearSpec, SpecError  # noqa: F401
from .region import Region, RegionError  # noqa: F401
