"""The op table. Importing this package registers every op."""

from . import (activations, arith, attention, complex, conv, dropout, elementary, embedding,  # noqa: F401
               fft, linalg, losses, norm, pool, reduce, scan, select, shape_ops, softmax)
from . import derivative  # noqa: F401,E402  (after the ops it differentiates)
from .registry import (RULE_KINDS, OpDef, Sample, all_ops, attach, get_op, get_rule,  # noqa: F401
                       missing_rules, register)

# The elementwise binary32 kernels (IEEE arithmetic and the correctly rounded
# transcendentals) sit in certnn.floats.b32 beside the engine they share; the
# other ops define their binary32 rule in their own module.
from ..floats.b32 import KERNELS as _B32  # noqa: E402

attach("binary32", _B32)

# Ops affine in their variable inputs share one generic relaxation (their own
# vjp and real rules; see certnn.ops.relax); attach the marker from one table.
from .relax import AFFINE as _AFFINE, AFFINE_OPS as _AFFINE_OPS  # noqa: E402

attach("relax", {name: _AFFINE for name in _AFFINE_OPS if name in {o.name for o in all_ops()}})
