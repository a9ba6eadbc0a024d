"""Explicit float semantics.

The reference IEEE 754-2019 kernel (:mod:`.kernel`: values as bit patterns,
exact integer arithmetic, one rounding, five rounding modes, five flags, one
NaN policy) over the formats of :mod:`.formats` (binary32, binary16,
bfloat16, e4m3, e5m2, binary64); the per-format error model
(:mod:`.error_model`); ``explain`` (:mod:`.explain`); z3 proofs of the error
model (:mod:`.proofs`). See docs/floats.md. Other modules of this package
(``b32``, ``interval``, ``error_rules``, ...) are imported on their own.
"""

from .error_model import ErrorModel, error_model, eta, gamma, unit_roundoff  # noqa: F401
from .explain import explain  # noqa: F401
from .formats import (BFLOAT16, BINARY16, BINARY32, BINARY64, E4M3, E5M2, FORMATS,  # noqa: F401
                      FloatFormatError, Format, get_format)
from .kernel import (RDN, RNA, RNE, RTZ, RUP, Flags, Rounding, abs_, add, classify,  # noqa: F401
                     convert, copysign, div, elementwise, eq, fma, from_float, from_fraction,
                     from_int, from_string, ge, gt, is_nan, is_signaling, le, lt, maximum,
                     maximum_number, minimum, minimum_number, mul, neg, next_down, next_up, sqrt,
                     sub, to_float, to_fraction, total_order, ulp, unordered)
from .proofs import ProofResult, prove_binade_structure, prove_error_model, prove_rounding_bound  # noqa: F401
