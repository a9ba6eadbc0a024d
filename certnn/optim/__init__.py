"""Optimizers (SGD, Adam, AdamW), learning-rate schedules and gradient clipping."""

from .clip import clip_grad_norm  # noqa: F401
from .optimizers import SGD, Adam, AdamW, Optimizer  # noqa: F401
from .schedules import ConstantLR, CosineLR, Schedule, StepLR, Warmup  # noqa: F401
from .per_example import per_example_grads  # noqa: F401
