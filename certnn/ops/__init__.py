"""The op table. Importing this package registers every op."""

from . import (activations, arith, conv, elementary, linalg, losses, norm, pool,  # noqa: F401
               reduce, shape_ops, softmax)
from .registry import (RULE_KINDS, OpDef, Sample, all_ops, attach, get_op, get_rule,  # noqa: F401
                       missing_rules, register)

# The binary32 kernels live together in certnn.floats.b32 (they share the
# documented accumulation engine and its numba fast path); attach them here.
from ..floats.b32 import KERNELS as _B32  # noqa: E402

attach("binary32", _B32)

# Ops affine in their variable inputs share one generic relaxation (their own
# vjp and real rules; see certnn.ops.relax); attach the marker from one table.
from .relax import AFFINE as _AFFINE, AFFINE_OPS as _AFFINE_OPS  # noqa: E402

attach("relax", {name: _AFFINE for name in _AFFINE_OPS if name in {o.name for o in all_ops()}})
