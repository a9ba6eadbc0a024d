"""The op table. Importing this package registers every op."""

from . import activations, arith, elementary  # noqa: F401  (registration side effects)
from .registry import (RULE_KINDS, OpDef, Sample, all_ops, get_op, get_rule,  # noqa: F401
                       missing_rules, register)
