"""certnn: one precise semantics for a neural network, shared by execution,
training and verification."""

from . import ops  # noqa: F401  (registers the op table)
from .errors import (CertnnError, CheckpointError, DataError, GraphError,  # noqa: F401
                     MissingRuleError, ShapeError, TrainingError, UnsupportedOp)
from .tensor import Tensor, apply, no_grad  # noqa: F401
from . import functional, nn, optim  # noqa: F401,E402
from .ir.compile import compile  # noqa: F401,A004
from .ir.run import run  # noqa: F401
from .random import manual_seed  # noqa: F401

__version__ = "0.1.0"
