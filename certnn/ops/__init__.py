"""The op table. Importing this package registers every op."""

from . import (activations, arith, conv, elementary, linalg, losses, norm, pool,  # noqa: F401
               reduce, shape_ops, softmax)
from .registry import (RULE_KINDS, OpDef, Sample, all_ops, get_op, get_rule,  # noqa: F401
                       missing_rules, register)
